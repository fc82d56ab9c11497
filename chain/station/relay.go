package station

import (
	"github.com/urna-vote/urna/chain/bft"
)

// Gossip of the current height (see bft.Plan for the policy). Each station
// broadcasts a bft.Have on ChannelState: every tick, when its round changes,
// and, for the height it just decided, right after a commit. When a peer's
// Have arrives, and every tick, the station sends that peer the proposals
// and votes the Have does not show, its own and other stations' alike,
// within a budget per peer and tick, and not the same message again for
// gossipResendTicks: a message the peer still does not show after that is
// sent again. A peer whose Have has not arrived for a while (the link from it
// is down) is treated as holding nothing of our height: it is sent what we
// hold, on the same schedule.

// Bounds of the gossip schedule.
const (
	// gossipResendTicks: a message sent to a peer is not sent to it again for
	// this many ticks, whatever its Haves say (they may have crossed it).
	gossipResendTicks = 2
	// gossipBytesPerTick and gossipMsgsPerTick bound what gossip sends one
	// peer per tick (a single larger proposal still goes).
	gossipBytesPerTick = 4 << 20
	gossipMsgsPerTick  = 256
	// gossipSilentTicks: a peer whose latest Have is older than this many
	// ticks is assumed to hold nothing of our height.
	gossipSilentTicks = 3
)

// peerGossip is what the loop knows of one peer for gossip.
type peerGossip struct {
	have  bft.Have
	known bool                // have holds a Have from this peer, or an assumed one
	guess bool                // have is assumed: we do not hear from the peer
	heard int                 // tick of its latest Have
	sent  map[bft.ItemKey]int // tick each message was last sent to it
	bytes int                 // sent to it this tick
	msgs  int
}

func (e *Engine) initGossip() {
	e.peers = make([]peerGossip, e.vals.N())
	for i := range e.peers {
		e.peers[i].sent = make(map[bft.ItemKey]int)
	}
}

// onHave records a peer's Have and sends it what it lacks.
func (e *Engine) onHave(p Packet) {
	h, err := bft.DecodeHave(p.Data)
	if err != nil || e.cfg.noGossip {
		e.stats.dropped.Add(1)
		return
	}
	pg := &e.peers[p.From]
	if pg.known && !pg.guess && h.Height < pg.have.Height {
		return // an older one, overtaken
	}
	pg.have, pg.known, pg.guess, pg.heard = h, true, false, e.ticks
	e.gossipTo(p.From)
}

// gossipTo sends peer i what its latest Have does not show, within the
// budget left for this tick.
func (e *Engine) gossipTo(i int) {
	pg := &e.peers[i]
	if !pg.known || i == e.index {
		return
	}
	var inv bft.Inventory
	switch h := e.core.Height(); {
	case pg.have.Height == h:
		inv = e.core.Inventory()
	case pg.have.Height+1 == h:
		var ok bool
		if inv, ok = e.core.LastInventory(); !ok {
			return
		}
	default:
		return
	}
	lim := bft.PlanLimits{Bytes: gossipBytesPerTick - pg.bytes, Messages: gossipMsgsPerTick - pg.msgs}
	if lim.Bytes <= 0 || lim.Messages <= 0 {
		return
	}
	skip := func(k bft.ItemKey) bool {
		t, ok := pg.sent[k]
		return ok && e.ticks-t < gossipResendTicks
	}
	for _, m := range bft.Plan(&inv, &pg.have, skip, lim) {
		b, err := bft.EncodeMessage(m)
		if err != nil {
			continue
		}
		e.cfg.Transport.Send(i, ChannelConsensus, b)
		pg.sent[bft.KeyOf(m)] = e.ticks
		pg.bytes += len(b)
		pg.msgs++
		e.stats.gossiped.Add(1)
	}
}

// broadcastHave tells the peers what we hold at our height.
func (e *Engine) broadcastHave() {
	inv := e.core.Inventory()
	e.sendHave(&inv)
}

// broadcastLastHave tells the peers what we held of the height we just
// decided: a peer that holds a conflicting vote of it sends it to us.
func (e *Engine) broadcastLastHave() {
	if inv, ok := e.core.LastInventory(); ok {
		e.sendHave(&inv)
	}
}

func (e *Engine) sendHave(inv *bft.Inventory) {
	if e.cfg.noGossip {
		return
	}
	h := inv.Have()
	b, err := bft.EncodeHave(&h)
	if err != nil {
		return
	}
	e.cfg.Transport.Broadcast(ChannelState, b)
}

// afterStep broadcasts our Have when a step moved us to another round of
// the same height (peers in the old round learn where we are and what we
// hold there).
func (e *Engine) afterStep() {
	if e.drv.Replaying() {
		return
	}
	at := [2]uint64{e.core.Height(), uint64(e.core.Round())}
	if at[0] == e.stepAt[0] && at[1] != e.stepAt[1] {
		e.broadcastHave()
	}
	e.stepAt = at
}

// gossipTick is the periodic part: our Have, then each peer's missing
// messages with a fresh budget; a peer we do not hear from is assumed to
// hold nothing of our height.
func (e *Engine) gossipTick() {
	e.broadcastHave()
	h, r := e.core.Height(), e.core.Round()
	for i := range e.peers {
		if i == e.index {
			continue
		}
		pg := &e.peers[i]
		pg.bytes, pg.msgs = 0, 0
		for k, t := range pg.sent {
			if k.Height+1 < h || e.ticks-t >= gossipResendTicks {
				delete(pg.sent, k)
			}
		}
		if !pg.known || e.ticks-pg.heard > gossipSilentTicks {
			// We do not hear from it (the link from it may be down): assume
			// it holds nothing of our height and is in our round or the one
			// before.
			pg.have, pg.known, pg.guess = bft.Have{Height: h, Round: max(r, 1) - 1}, true, true
		}
		e.gossipTo(i)
	}
}
