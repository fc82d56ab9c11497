package station

import (
	"testing"
)

// TestMessagesPerBlock measures the traffic between stations of a whole election
// without faults and with 30% loss, with gossip off (re-broadcast of each station's
// latest votes every tick: the engine before gossip) and on: messages the stations sent
// per committed block, per channel (a test-only counter in memNet). It fails on a
// message storm: gossip must stay within a bound well above what it needs (a small
// multiple of the n² votes and Haves a height takes).
func TestMessagesPerBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("four elections")
	}
	for _, gossip := range []bool{false, true} {
		for _, loss := range []int{0, 300} {
			var c *cluster
			runElectionWith(t, scenario{config: "mayor", ballots: 60, seed: 90}, func(cl *cluster) {
				c = cl
				cl.noGossip = !gossip
				cl.net.setFaults(loss, 0)
			})
			blocks := c.checkConverged()
			perBlock := func(ch Channel) float64 { return float64(c.net.sentOn(ch)) / float64(blocks) }
			t.Logf("gossip %v, loss %d‰: %d blocks (%d decided after round 0); per block: %.0f consensus, %.0f state (Haves), %.0f sync, %.0f transactions",
				gossip, loss, blocks, c.laterRounds(blocks), perBlock(ChannelConsensus), perBlock(ChannelState), perBlock(ChannelSync), perBlock(ChannelGossip))
			if !gossip {
				continue
			}
			// n = 4: a height is 1 proposal, 8 votes and a few Haves per station and
			// peer, and the Haves of every tick (10 a second) of an idle chain.
			limit := 400.0
			if loss > 0 {
				limit = 800
			}
			if got := perBlock(ChannelConsensus) + perBlock(ChannelState); got > limit {
				t.Errorf("gossip %v, loss %d‰: %.0f consensus and state messages per block, bound %.0f", gossip, loss, got, limit)
			}
		}
	}
}

// laterRounds counts the heights up to h that a running station's chain decided in a
// round after 0 (a wasted round each, at least).
func (c *cluster) laterRounds(h uint64) int {
	c.t.Helper()
	for i := range c.engines {
		eng := c.engine(i)
		if eng == nil {
			continue
		}
		n := 0
		for k := uint64(1); k <= h; k++ {
			cert, err := eng.Ledger().Certificate(k)
			if err != nil {
				c.t.Fatal(err)
			}
			if cert.Round > 0 {
				n++
			}
		}
		return n
	}
	return 0
}
