package station

import (
	"sync"
	"sync/atomic"

	"github.com/urna-vote/urna/chain"
)

// Status is a snapshot of the station for clients and operators.
type Status struct {
	Station   int
	Height    uint64
	Round     uint32
	Phase     chain.Phase
	Counted   uint64
	Spoiled   uint64
	Turnout   []uint64
	Peers     []int
	Mempool   int
	Result    [][]uint64
	KeyReady  bool // the station holds a key share matching the election key
	Accepted  uint64
	Rejected  uint64
	Dropped   uint64
	Committed uint64 // blocks committed since start
	Gossiped  uint64 // proposals and votes sent to peers by gossip (re-sent or relayed) since start
	// VerifyBatches and VerifyBallots count the batches of admission's
	// ballot verification and the ballots in them (preverify.go).
	VerifyBatches, VerifyBallots uint64
}

type stats struct {
	accepted, rejected, dropped, blocks, decisionsServed, gossiped atomic.Uint64
	verifyBatches, verifyBallots                                   atomic.Uint64
}

// Status returns the latest snapshot.
func (e *Engine) Status() Status {
	s := *e.status.Load()
	s.Peers = e.cfg.Transport.Peers()
	s.Mempool, _ = e.mempool.Len()
	s.Accepted, s.Rejected, s.Dropped = e.stats.accepted.Load(), e.stats.rejected.Load(), e.stats.dropped.Load()
	s.VerifyBatches, s.VerifyBallots = e.stats.verifyBatches.Load(), e.stats.verifyBallots.Load()
	s.Gossiped = e.stats.gossiped.Load()
	return s
}

// publishStatus updates the snapshot (loop only).
func (e *Engine) publishStatus() {
	st := e.ledger.State()
	s := &Status{
		Station: e.index, Height: st.Height, Round: e.core.Round(), Phase: st.Phase,
		Counted: st.Counted, Spoiled: st.Spoiled, Turnout: append([]uint64(nil), st.Turnout...),
		Result: st.Result, Committed: e.stats.blocks.Load(),
	}
	if e.duties != nil {
		s.KeyReady = e.duties.keyReady(st)
	}
	e.status.Store(s)
}

// Tracking looks up a tracking code on the committed chain.
func (e *Engine) Tracking(code string) (*chain.TrackingEntry, bool, error) {
	return e.ledger.Tracking(code)
}

// Event tells subscribers that a block was committed.
type Event struct {
	Height  uint64
	Phase   chain.Phase
	Txs     int
	Counted uint64
}

// events fans committed-block events out to subscribers; a slow subscriber
// misses events rather than slowing the station.
type events struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

// Subscribe returns a channel of events and a function to stop them.
func (e *Engine) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	if e.events.closed {
		close(ch)
		return ch, func() {}
	}
	if e.events.subs == nil {
		e.events.subs = map[chan Event]struct{}{}
	}
	e.events.subs[ch] = struct{}{}
	return ch, func() {
		e.events.mu.Lock()
		defer e.events.mu.Unlock()
		if _, ok := e.events.subs[ch]; ok {
			delete(e.events.subs, ch)
			close(ch)
		}
	}
}

func (ev *events) publish(x Event) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for ch := range ev.subs {
		select {
		case ch <- x:
		default:
		}
	}
}

func (ev *events) close() {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.closed = true
	for ch := range ev.subs {
		close(ch)
	}
	ev.subs = nil
}
