package station

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
)

// cutOneWay cuts the links from → to only: to stops hearing from, from still
// hears to.
func (m *memNet) cutOneWay(links ...[2]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range links {
		m.cut[l[0]][l[1]] = true
	}
}

// countRelayed counts the consensus messages signed by validator that
// reach station to from a station other than their signer: relayed votes
// and proposals. It wraps the network's observer.
func countRelayed(c *cluster, validator, to int) *atomic.Int64 {
	var n atomic.Int64
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	observe := c.net.onSend
	c.net.onSend = func(from, dst int, ch Channel, data []byte) {
		observe(from, dst, ch, data)
		if ch != ChannelConsensus || dst != to || from == validator {
			return
		}
		m, err := bft.DecodeMessage(data)
		if err != nil {
			return
		}
		if (m.Vote != nil && int(m.Vote.Validator) == validator) || (m.Proposal != nil && int(m.Proposal.Proposer) == validator) {
			n.Add(1)
		}
	}
	return &n
}

// progressUnder starts a 4-station election, lets the key generation finish
// on a sound network, then applies faults and checks that the election goes
// on: the officials open the polls (transactions that must be committed at
// every station), every station commits heights more, and the chains agree.
func progressUnder(t *testing.T, seed uint64, faults func(c *cluster)) *cluster {
	t.Helper()
	c := newCluster(t, "mayor", 10, seed)
	c.startAll()
	c.waitPhase(chain.PhaseReady, 90*time.Second)
	faults(c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c.approve(ctx, chain.ActionOpen)
	c.waitPhase(chain.PhaseOpen, 90*time.Second)
	var top uint64
	for i := range c.engines {
		top = max(top, c.engine(i).Ledger().Height())
	}
	// Heartbeat blocks (one a second) from now on.
	c.waitFor("three more heights at every station", 90*time.Second, func(s Status) bool { return s.Height >= top+3 })
	c.checkConverged()
	c.votes.check(t)
	return c
}

// One link cut in one direction: station 1 does not hear station 0 (0 still
// hears 1). Station 1 gets station 0's proposals and votes relayed by the
// others (at least when it is a height behind: the deciding proposal and
// precommits), and the election goes on.
func TestProgressWithOneWayCut(t *testing.T) {
	var relayed *atomic.Int64
	progressUnder(t, 61, func(c *cluster) {
		relayed = countRelayed(c, 0, 1)
		c.net.cutOneWay([2]int{0, 1})
	})
	t.Logf("%d messages of station 0 relayed to station 1", relayed.Load())
	if relayed.Load() == 0 {
		t.Fatal("no message of station 0 was relayed to station 1, which does not hear it")
	}
}

// Several one-way cuts that leave a connected majority: station 1 hears only
// station 3 (not 0 or 2), and station 0 does not hear station 2. Without
// relay station 1 never holds a quorum of votes by itself; with it, it
// takes part in every height.
func TestProgressWithSeveralOneWayCuts(t *testing.T) {
	var from0, from2 *atomic.Int64
	progressUnder(t, 62, func(c *cluster) {
		from0, from2 = countRelayed(c, 0, 1), countRelayed(c, 2, 1)
		c.net.cutOneWay([2]int{0, 1}, [2]int{2, 1}, [2]int{2, 0})
	})
	t.Logf("relayed to station 1: %d messages of station 0, %d of station 2", from0.Load(), from2.Load())
	if from0.Load() == 0 || from2.Load() == 0 {
		t.Fatal("station 1 hears neither station 0 nor station 2: the messages of both must be relayed to it")
	}
}

// 30% of all messages (every channel, every direction) lost: the election
// goes on, and gossip re-sent what was lost.
func TestProgressUnderMessageLoss(t *testing.T) {
	c := progressUnder(t, 63, func(c *cluster) { c.net.setFaults(300, 0) })
	var gossiped uint64
	for i := range c.engines {
		gossiped += c.engine(i).Status().Gossiped
	}
	if gossiped == 0 {
		t.Fatal("30% of the messages were lost and gossip re-sent none")
	}
	t.Logf("%d proposals and votes sent by gossip", gossiped)
}

// A station that shows different votes to two halves of the network (each
// half a consistent story: no honest station receives both from it) has its
// equivocation proven on the chain: the honest stations relay each other the
// votes their Haves show the other lacks (or holds another of), one holds
// both and submits the evidence. (bft's TestGossipRelayProvesEquivocation
// shows the mechanism step by step.)
func TestEquivocationToTwoHalvesIsProven(t *testing.T) {
	c := newCluster(t, "mayor", 10, 64)
	c.votes.honest[3] = false
	c.startAll()
	c.waitPhase(chain.PhaseReady, 90*time.Second)
	c.net.mu.Lock()
	byzantine(c, 3, "split")
	c.net.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c.approve(ctx, chain.ActionOpen)
	c.waitPhase(chain.PhaseOpen, 90*time.Second)
	top := c.engine(0).Ledger().Height()
	deadline := time.Now().Add(120 * time.Second)
	for {
		done := true
		for i := range c.engines {
			if c.engine(i).Ledger().State().Evidence == 0 {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			// What the stations saw: did the Byzantine station's votes take part?
			for i := range 3 {
				st := c.engine(i).Status()
				t.Logf("station %d: height %d (from %d), %d evidence, %d sent by gossip", i, st.Height, top, c.engine(i).Ledger().State().Evidence, st.Gossiped)
			}
			t.Fatal("no evidence of the equivocation on the chain after 120 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.checkConverged()
}
