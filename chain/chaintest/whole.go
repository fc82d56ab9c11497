package chaintest

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/record"
)

// Whole runs a whole election on a new chain: the key generation among
// all stations, the polls opened, ballots of voters 0..ballots−1 with
// random choices cast at the stations in turn, perBlock to a block (made
// on every core), the polls closed, and the shares of the first t stations.
// It returns the chain, at TALLIED, and the plain choices' counts
// [contest][candidate], which the result must equal.
func (e *Election) Whole(t testing.TB, ballots, perBlock int, seed uint64) (*Chain, [][]uint64) {
	t.Helper()
	c := e.NewChain()
	keys := c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	m := e.Genesis.Manifest()
	want := make([][]uint64, len(m.Contests))
	for ci := range m.Contests {
		want[ci] = make([]uint64, len(m.Contests[ci].Candidates))
	}
	for start := 0; start < ballots; start += perBlock {
		n := min(perBlock, ballots-start)
		txs := make([]*chain.Tx, n)
		choices := make([]ballot.Choices, n)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(start+w)))
				for k := w; k < n; k += workers {
					v := start + k
					choices[k] = RandomChoices(&m, r)
					b, _ := c.Ballot(t, v, v%e.N(), choices[k])
					txs[k] = chain.NewBallotTx(b)
				}
			}()
		}
		wg.Wait()
		for _, ch := range choices {
			for ci := range ch {
				for si, mark := range ch[ci] {
					if mark {
						want[ci][si]++
					}
				}
			}
		}
		c.Commit(t, txs...)
	}
	c.Approve(t, chain.ActionClose)
	el, err := e.Machine.Election(c.State)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys[:e.Genesis.Threshold()] {
		ts, err := el.MakeTallyShares(k, c.State.Aggregates, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit(t, chain.NewSignedTx(chain.TxTallyShares, e.Fingerprint(), ts.Encode(), e.StationKey(i)))
	}
	if c.State.Phase != chain.PhaseTallied {
		t.Fatalf("the election ends in %s", c.State.Phase)
	}
	return c, want
}

// Record is the chain as an election record (chain/record's format).
func (c *Chain) Record(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	w.Frame(record.KindGenesis, c.E.Genesis.Encode())
	w.Frame(record.KindRoll, c.E.Roll.Encode())
	for h := range c.Blocks {
		w.Frame(record.KindBlock, c.Blocks[h])
		w.Frame(record.KindCertificate, bft.EncodeCertificate(c.Certs[h]))
	}
	if err := w.End(uint64(len(c.Blocks))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
