package station

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
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
	// Let the last announcements land, and the stale DKG messages some
	// mempools still hold (their blocks drop them) be cleared: until then
	// the chain is not idle.
	for range 20 {
		before := c.engine(0).Ledger().Height()
		settle()
		quiet := c.engine(0).Ledger().Height() == before
		for i := range c.engines {
			if n, _ := c.engine(i).mempool.Len(); n > 0 {
				quiet = false
			}
		}
		if quiet {
			break
		}
	}
	// waitHeight waits until every station holds height target, moving the
	// clock only until the first one does: the others commit by votes, and a
	// clock moving on while a loaded machine catches up would eat into the
	// idle window measured next.
	waitHeight := func(target uint64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			all, some := true, false
			for i := range c.engines {
				if c.engine(i).Ledger().Height() >= target {
					some = true
				} else {
					all = false
				}
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for height %d", target)
			}
			if !some {
				clock.advance(100 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// heartbeat moves the clock to when the heartbeat is due (10 s after the
	// last block's time) and waits for the block it makes.
	heartbeat := func(h uint64, last int64) {
		t.Helper()
		if d := last + 10_000 - clock.Now().UnixMilli(); d > 0 {
			clock.advance(time.Duration(d) * time.Millisecond)
		}
		waitHeight(h + 1)
	}
	h := c.engine(0).Ledger().Height()
	last := c.engine(0).Ledger().State().Time
	// The idle window runs from now until just before the heartbeat is due.
	// Finding the chain quiet took virtual time (more on a loaded machine,
	// where the chain settles in more rounds of settle): if less than 6 s of
	// the window are left, let a heartbeat block come first and measure
	// from it.
	if last+10_000-clock.Now().UnixMilli() < 6_000+200 {
		heartbeat(h, last)
		h++
		last = c.engine(0).Ledger().State().Time
	}
	start := clock.Now()
	for clock.Now().UnixMilli()+100 < last+10_000-100 {
		clock.advance(100 * time.Millisecond)
		time.Sleep(15 * time.Millisecond)
	}
	if idle := clock.Now().Sub(start); idle < 6*time.Second {
		t.Fatalf("the idle window is %v, want at least 6 s", idle)
	}
	if got := c.engine(0).Ledger().Height(); got != h {
		t.Fatalf("an idle chain made %d blocks in %v before its heartbeat was due (heartbeat 10 s)", got-h, clock.Now().Sub(start))
	}
	// Past the heartbeat: one block, and then quiet again.
	heartbeat(h, last)
	settle()
	if got := c.engine(0).Ledger().Height(); got != h+1 {
		t.Fatalf("after one heartbeat the chain grew by %d blocks", got-h)
	}
}

// A station whose clock is an hour behind does not vote for the others'
// proposals (their block times are an hour in its future), and the
// election goes on without its prevotes; it follows the chain.
func TestProposalFromTheFutureIsNotVotedFor(t *testing.T) {
	c := newCluster(t, "mayor", 10, 6)
	c.clocks = map[int]Clock{0: skewedClock{offset: -time.Hour}}
	c.startAll()
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	eng := c.engine(0)
	p := &bft.Proposal{Height: eng.core.Height(), POLRound: -1, Block: c.buildFutureBlock(t, time.Now().Add(time.Minute))}
	if eng.timely(p) {
		t.Fatal("a block a minute in the future (skew limit 10 s) was judged timely")
	}
	// A proposal for the next height, which the core would buffer until it commits
	// this one, is judged too.
	next := &bft.Proposal{Height: eng.core.Height() + 1, POLRound: -1, Block: c.buildFutureBlock(t, time.Now().Add(time.Minute))}
	if eng.timely(next) {
		t.Fatal("a next-height block a minute in the future was judged timely")
	}
	if on := (&bft.Proposal{Height: eng.core.Height() + 1, POLRound: -1, Block: c.buildFutureBlock(t, time.Now().Add(-time.Hour))}); !eng.timely(on) {
		t.Fatal("a next-height block on time was judged untimely")
	}
	p.POLRound = 0
	if !eng.timely(p) {
		t.Fatal("a re-proposal was judged on its time")
	}
}

type skewedClock struct{ offset time.Duration }

func (s skewedClock) Now() time.Time                      { return time.Now().Add(s.offset) }
func (s skewedClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

func (c *cluster) buildFutureBlock(t *testing.T, at time.Time) []byte {
	st := c.engine(1).Ledger().State()
	b := &chain.Block{Header: chain.Header{Election: c.e.Fingerprint(), Height: st.Height + 1, PrevHash: st.BlockHash, Time: at.UnixMilli(), StateHash: st.StateHash}}
	cert, err := c.engine(1).Ledger().Certificate(st.Height)
	if err != nil {
		t.Fatal(err)
	}
	b.LastCommit = cert
	return b.Encode()
}
