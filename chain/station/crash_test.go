package station

import (
	"sync/atomic"
	"testing"
)

// TestCrashPoints kills a station at each step of its commit path while
// ballots are being cast, restarts it from its own disk, and runs the
// election to its end: nothing a client was told is committed is lost,
// nothing is signed twice, and every station ends with the same chain and
// the right result (runElection checks all of it).
func TestCrashPoints(t *testing.T) {
	points := []string{"after-wal-append", "after-signer", "after-wal-sync", "before-store-commit", "after-store-commit", "before-notify"}
	for k, point := range points {
		t.Run(point, func(t *testing.T) {
			var armed, fired atomic.Bool
			var c *cluster
			runElectionWith(t, scenario{config: "mayor", ballots: 120, seed: 70 + uint64(k), during: func(cl *cluster) {
				armed.Store(true)
			}}, func(cl *cluster) {
				c = cl
				cl.crash[1] = func(p string) bool {
					if p == point && armed.Load() && !fired.Load() {
						fired.Store(true)
						return true
					}
					return false
				}
			})
			if !fired.Load() || c.crashCount() != 1 {
				t.Fatalf("the station did not crash at %s (fired %v, restarts %d)", point, fired.Load(), c.crashCount())
			}
		})
	}
}
