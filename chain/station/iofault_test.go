package station

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// errInjectedIO is the disk error the tests inject: an EIO, as a failing
// disk returns it.
var errInjectedIO = fmt.Errorf("injected disk fault: %w", syscall.EIO)

// TestDiskFaults makes a station's disk fail (EIO) at each kind of write
// while ballots are being cast: appending to the WAL, syncing it, storing a
// decided block, and the double-sign guard writing its state. Each time the
// station must stop: Run returns the error (wrapping EIO, so the node can
// say what to do), and the station sends no consensus message from the
// failed write until it is restarted: a vote it could not persist never
// leaves. Restarted from its disk, it rejoins, and the election runs to its
// end with nothing lost, no conflicting signatures and the same chain
// everywhere (runElection checks all of it).
//
// The guard's case matters most: the core treats a refused signature as a
// dropped message, so without the engine stopping on a failed guard write
// the station would run on, never voting again, and say nothing.
func TestDiskFaults(t *testing.T) {
	for k, op := range []string{"wal-append", "wal-sync", "store-commit", "signer"} {
		t.Run(op, func(t *testing.T) {
			var armed, fired atomic.Bool
			var mu sync.Mutex
			failed := false // station 1's disk failed, and it has not restarted yet
			var leaks []string
			var c *cluster
			runElectionWith(t, scenario{config: "mayor", ballots: 120, seed: 90 + uint64(k), during: func(cl *cluster) {
				armed.Store(true)
			}}, func(cl *cluster) {
				c = cl
				c.ioFault = make([]func(string) error, len(c.dirs))
				c.ioFault[1] = func(o string) error {
					if o == op && armed.Load() && fired.CompareAndSwap(false, true) {
						mu.Lock()
						failed = true
						mu.Unlock()
						return errInjectedIO
					}
					return nil
				}
				c.started = func(i int) {
					if i == 1 {
						mu.Lock()
						failed = false
						mu.Unlock()
					}
				}
				observe := c.net.onSend
				c.net.onSend = func(from, to int, ch Channel, data []byte) {
					if from == 1 && ch == ChannelConsensus {
						mu.Lock()
						if failed {
							leaks = append(leaks, fmt.Sprintf("to %d: %x…", to, data[:min(8, len(data))]))
						}
						mu.Unlock()
					}
					observe(from, to, ch, data)
				}
			})
			if !fired.Load() {
				t.Fatalf("station 1 never wrote %s while armed", op)
			}
			c.mu.Lock()
			faults := c.faults
			c.mu.Unlock()
			if faults != 1 {
				t.Fatalf("station 1 stopped %d times on the injected fault at %s, want once", faults, op)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(leaks) > 0 {
				t.Fatalf("station 1 sent %d consensus messages after its disk failed at %s: %s", len(leaks), op, strings.Join(leaks, ", "))
			}
		})
	}
}
