package station

import (
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/bft"
)

// onTick runs the periodic duties: gossip (our Have, and to each peer what
// its Have shows it lacks: relay.go), tell peers our height, retry block
// sync while behind, and look for work (the heartbeat).
func (e *Engine) onTick(n int) error {
	e.ticks = n
	if e.cfg.noGossip {
		for _, m := range e.core.LatestVotes() {
			e.broadcastMsg(m)
		}
		if n%5 == 0 {
			for _, m := range e.core.CatchUpVotes() {
				e.broadcastMsg(m)
			}
		}
	} else {
		e.gossipTick()
	}
	e.sendStatus()
	e.relayDue()
	if req, behind := e.core.Behind(); behind {
		e.askSync(req.From, req.To)
	}
	e.publishStatus()
	return e.onWork()
}

func (e *Engine) sendStatus() {
	m := SyncMessage{Kind: syncStatus, Height: e.ledger.Height()}
	e.cfg.Transport.Broadcast(ChannelSync, ballot.Marshal(&m))
}

// askSync asks the peers for the decisions of heights from..to-1, at most
// once per tick.
func (e *Engine) askSync(from, to uint64) {
	now := e.cfg.Clock.Now()
	if now.Sub(e.lastSyncAsk) < e.cfg.Tick/2 {
		return
	}
	e.lastSyncAsk = now
	m := SyncMessage{Kind: syncRequest, From: from, To: to}
	e.cfg.Transport.Broadcast(ChannelSync, ballot.Marshal(&m))
}

// onSync handles the sync channel: a peer's height, a request for
// decisions, or a decision.
func (e *Engine) onSync(p Packet) error {
	if len(p.Data) > 0 && p.Data[0] == syncDecision {
		m, err := bft.DecodeMessage(p.Data[1:])
		if err != nil || m.Decision == nil {
			e.stats.dropped.Add(1)
			return nil
		}
		if m.Decision.Height < e.core.Height() {
			return nil // already have it
		}
		return e.step(m)
	}
	m, err := decodeSync(p.Data)
	if err != nil {
		e.stats.dropped.Add(1)
		return nil
	}
	switch m.Kind {
	case syncStatus:
		if m.Height+1 > e.core.Height() {
			// A hint for block sync; the core believes f+1 of them.
			return e.step(bft.PeerHeight{Validator: uint32(p.From), Height: m.Height + 1})
		}
		if m.Height+1 < e.core.Height() {
			// The peer is behind: offer what it lacks.
			e.serveDecisions(p.From, m.Height+1, e.core.Height())
		}
	case syncRequest:
		e.serveDecisions(p.From, m.From, m.To)
	}
	return nil
}

// serveDecisions sends a peer the decisions of heights from..to-1 that we
// have, at most maxSyncBatch of them.
func (e *Engine) serveDecisions(to int, from, until uint64) {
	// A lagging peer asks (and tells us its height) every tick: serve it at
	// most once per half tick, so a slow link is not buried in blocks.
	now := e.cfg.Clock.Now()
	if e.lastServed == nil {
		e.lastServed = make([]time.Time, e.vals.N())
	}
	if now.Sub(e.lastServed[to]) < e.cfg.Tick/2 {
		return
	}
	e.lastServed[to] = now
	head := e.ledger.Height()
	if from == 0 {
		from = 1
	}
	for h := from; h < until && h <= head && h < from+maxSyncBatch; h++ {
		d, err := e.decision(h)
		if err != nil {
			e.log.Warn("cannot serve a decision", "height", h, "err", err)
			return
		}
		b, err := bft.EncodeMessage(bft.Message{Decision: d})
		if err != nil {
			return
		}
		e.cfg.Transport.Send(to, ChannelSync, append([]byte{syncDecision}, b...))
		e.stats.decisionsServed.Add(1)
	}
}
