package station

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
)

// manualClock is a Clock that moves only when the test says so.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
}

type manualTimer struct {
	at time.Time
	f  func()
}

func newManualClock() *manualClock { return &manualClock{now: time.UnixMilli(1_900_000_000_000)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = append(c.timers, manualTimer{at: c.now.Add(d), f: f})
}

// advance moves the clock by d, firing the timers that come due, in order.
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	var due []manualTimer
	for len(c.timers) > 0 && !c.timers[0].at.After(c.now) {
		due = append(due, c.timers[0])
		c.timers = c.timers[1:]
	}
	c.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
}

// TestIdleChainMakesOnlyHeartbeatBlocks: with nothing to do, an election
// makes no blocks until the heartbeat is due, then one.
func TestIdleChainMakesOnlyHeartbeatBlocks(t *testing.T) {
	c := newCluster(t, "mayor", 10, 5)
	clock := newManualClock()
	c.clock, c.tick, c.beat = clock, 100*time.Millisecond, 10*time.Second
	c.startAll()
	// The key generation needs no timer when every station takes part.
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	settle := func() {
		for range 20 {
			clock.advance(100 * time.Millisecond)
			time.Sleep(15 * time.Millisecond)
		}
	}
	settle() // let the last announcements land
	h := c.engine(0).Ledger().Height()
	last := c.engine(0).Ledger().State().Time
	for range 3 {
		settle() // two idle seconds each
	}
	if got := c.engine(0).Ledger().Height(); got != h {
		t.Fatalf("an idle chain made %d blocks in 6 s (heartbeat 10 s)", got-h)
	}
	// Past the heartbeat: one block, and then quiet again.
	now := clock.Now().UnixMilli()
	clock.advance(time.Duration(last+10_000-now) * time.Millisecond)
	c.waitFor("the heartbeat block", 20*time.Second, func(s Status) bool {
		clock.advance(100 * time.Millisecond)
		return s.Height >= h+1
	})
	settle()
	if got := c.engine(0).Ledger().Height(); got != h+1 {
		t.Fatalf("after one heartbeat the chain grew by %d blocks", got-h)
	}
}
