package station

import (
	"strings"
	"sync/atomic"
	"testing"
)

// TestCrashPoints kills a station at each step of its commit path while
// ballots are being cast, restarts it from its own disk, and runs the
// election to its end: nothing a client was told is committed is lost,
// nothing is signed twice, and every station ends with the same chain and
// the right result (runElection checks all of it).
//
// The points are the driver's (bft.Point*: after the WAL append, after the
// sync, after the send — which a driver that sent before syncing would hit
// before the sync —, around the store commit, and inside a WAL replay) and
// the engine's own (after the signer released a signature, before clients
// are told). "replay" crashes three times in a row: at the sync, then inside
// the replay of the restart, then after that replay's sync, before it sends.
func TestCrashPoints(t *testing.T) {
	cases := [][]string{
		{"after-wal-append"}, {"after-signer"}, {"after-wal-sync"}, {"after-send"},
		{"before-store-commit"}, {"after-store-commit"}, {"before-notify"},
		{"after-wal-sync", "in-replay", "after-replay"},
	}
	for k, points := range cases {
		name := points[0]
		if len(points) > 1 {
			name = "replay"
		}
		t.Run(name, func(t *testing.T) {
			var armed atomic.Bool
			var next atomic.Int32 // index in points of the next crash
			var c *cluster
			runElectionWith(t, scenario{config: "mayor", ballots: 120, seed: 70 + uint64(k), during: func(cl *cluster) {
				armed.Store(true)
			}}, func(cl *cluster) {
				c = cl
				cl.crash[1] = func(p string) bool {
					i := next.Load()
					if armed.Load() && int(i) < len(points) && p == points[i] && next.CompareAndSwap(i, i+1) {
						return true
					}
					return false
				}
			})
			if int(next.Load()) != len(points) || c.crashCount() != len(points) {
				t.Fatalf("the station did not crash at %s (crashed at %d of them, restarts %d)",
					strings.Join(points, ", "), next.Load(), c.crashCount())
			}
		})
	}
}
