package station

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
)

// byzantine turns station b's traffic into one of the consensus
// simulator's Byzantine behaviours. The station runs the real engine (so it
// takes part in the key generation); what leaves it is rewritten, with its
// own key, on the way out.
func byzantine(c *cluster, b int, mode string) {
	key := c.e.StationKey(b)
	chainID := bft.Hash(c.e.Fingerprint())
	r := rand.New(rand.NewPCG(uint64(b), 3))
	c.net.tamper[b] = func(to int, ch Channel, data []byte) [][]byte {
		if mode == "garbage" {
			junk := make([]byte, r.IntN(300))
			for i := range junk {
				junk[i] = byte(r.Uint32())
			}
			return [][]byte{data, junk, append([]byte{data[0]}, junk...)}
		}
		if ch != ChannelConsensus {
			return [][]byte{data}
		}
		m, err := bft.DecodeMessage(data)
		if err != nil {
			return [][]byte{data}
		}
		switch {
		case m.Vote != nil && (mode == "equivocate" || mode == "split"):
			// Odd stations get another vote too (for a block nobody has, or
			// nil): with "split" instead of the real one, so each half sees a
			// consistent story; with "equivocate" as well as the real one,
			// so they can prove the equivocation.
			if to%2 == 1 {
				v := *m.Vote
				if v.BlockHash.IsZero() {
					v.BlockHash = bft.Hash{byte(r.Uint32()), 1}
				} else {
					v.BlockHash = bft.Hash{}
				}
				v.Signature = ed25519.Sign(key, v.SignBytes(chainID))
				out, _ := bft.EncodeMessage(bft.Message{Vote: &v})
				if mode == "split" {
					return [][]byte{out}
				}
				return [][]byte{out, data}
			}
		case m.Proposal != nil && (mode == "equivocate" || mode == "split" || mode == "invalid-blocks"):
			blk, err := chain.DecodeBlock(m.Proposal.Block, 64<<20)
			if err != nil {
				return [][]byte{data}
			}
			if mode != "invalid-blocks" && to%2 == 0 {
				return [][]byte{data}
			}
			if mode != "invalid-blocks" {
				blk.Header.Time++ // another valid block
			} else {
				blk.Txs = append(blk.Txs, (&chain.Tx{Kind: chain.TxApproval, Election: c.e.Fingerprint(), Payload: []byte{0x81, 0x01}}).Encode())
			}
			p := *m.Proposal
			p.Block = blk.Encode()
			p.Signature = ed25519.Sign(key, p.SignBytes(chainID))
			out, _ := bft.EncodeMessage(bft.Message{Proposal: &p})
			return [][]byte{out}
		}
		return [][]byte{data}
	}
}

func TestByzantineStation(t *testing.T) {
	for _, mode := range []string{"equivocate", "split", "invalid-blocks", "garbage", "silent"} {
		t.Run(mode, func(t *testing.T) {
			sc := scenario{config: "mayor", ballots: 150, seed: 40 + uint64(len(mode)), byzantine: []int{3}}
			if mode == "silent" {
				sc.skip = []int{3}
			}
			c := runElectionWith(t, sc, func(c *cluster) {
				if mode != "silent" {
					byzantine(c, 3, mode)
				}
			})
			if mode == "equivocate" {
				// Evidence is an ordinary transaction: it may still be on its
				// way into a block when the tally is done.
				c.waitFor("evidence of the equivocation on the chain", 30*time.Second, func(s Status) bool {
					return c.engine(0).Ledger().State().Evidence > 0
				})
			}
		})
	}
}
