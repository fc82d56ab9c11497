package chain_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
)

// makeBallots makes one ballot per voter, on every core.
func makeBallots(t *testing.T, c *chaintest.Chain, voters []int, choices []ballot.Choices) ([]*ballot.Ballot, []ballot.Nonces) {
	t.Helper()
	out := make([]*ballot.Ballot, len(voters))
	nonces := make([]ballot.Nonces, len(voters))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(voters); i += workers {
				out[i], nonces[i] = c.Ballot(t, voters[i], voters[i]%c.E.N(), choices[i])
			}
		}()
	}
	wg.Wait()
	return out, nonces
}

// TestWholeElectionOnChain runs an election through the state machine alone:
// DKG transactions, the open quorum, 2,000 counted ballots (with challenged
// ballots, second ballots of a credential and invalid ballots that must be
// refused), the close quorum, decryption shares and the result, which must
// equal the plain choices of the counted ballots.
func TestWholeElectionOnChain(t *testing.T) {
	voters := 2000
	if testing.Short() {
		voters = 200
	}
	e := chaintest.NewElection(t, "general", voters+100, 1, nil)
	c := e.NewChain()
	keys := c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	if c.State.Phase != chain.PhaseOpen {
		t.Fatalf("phase %s after the open quorum", c.State.Phase)
	}
	election, _ := e.Machine.Election(c.State)
	r := rand.New(rand.NewPCG(7, 7))
	manifest := e.Genesis.Manifest()

	want := make([][]uint64, len(manifest.Contests))
	for ci, ct := range manifest.Contests {
		want[ci] = make([]uint64, len(ct.Candidates))
	}
	ids := make([]int, voters)
	choices := make([]ballot.Choices, voters)
	for v := range ids {
		ids[v] = v
		choices[v] = chaintest.RandomChoices(&manifest, r)
	}
	ballots, nonces := makeBallots(t, c, ids, choices)

	const perBlock = 250
	counted := 0
	for start := 0; start < voters; start += perBlock {
		end := min(start+perBlock, voters)
		var txs []*chain.Tx
		for v := start; v < end; v++ {
			// One voter in 20 first challenges a ballot, then casts a new one.
			if v%20 == 3 {
				sp, err := election.Spoil(ballots[v], choices[v], nonces[v])
				if err != nil {
					t.Fatal(err)
				}
				txs = append(txs, chain.NewSpoiledTx(sp))
				fresh, _ := c.Ballot(t, v, v%e.N(), choices[v])
				txs = append(txs, chain.NewBallotTx(fresh))
				continue
			}
			txs = append(txs, chain.NewBallotTx(ballots[v]))
		}
		// Bad transactions slipped into the block make it invalid as a
		// whole, with an error naming the transaction and the rule.
		bad := []struct {
			tx   *chain.Tx
			want error
		}{
			{chain.NewBallotTx(ballots[start]), chain.ErrDuplicate},                                 // the same ballot twice
			{chain.NewBallotTx(secondBallot(t, c, start, choices[start+1])), chain.ErrAlreadyVoted}, // another ballot, same credential
			{chain.NewBallotTx(tampered(t, c, voters+(start/perBlock), &manifest, r)), chain.ErrBadBallot},
		}
		for _, b := range bad {
			pos := r.IntN(len(txs) + 1)
			withBad := append(append(append([]*chain.Tx(nil), txs[:pos]...), b.tx), txs[pos:]...)
			if b.want == chain.ErrDuplicate || b.want == chain.ErrAlreadyVoted {
				// A repeat is only caught after its original.
				withBad = append(append([]*chain.Tx(nil), txs...), b.tx)
				pos = len(txs)
			}
			_, err := c.Apply(c.Build(withBad...))
			var te *chain.TxError
			if !errors.Is(err, b.want) || !errors.As(err, &te) || te.Index != pos {
				t.Fatalf("block with a bad tx at %d: got %v, want %v at that index", pos, err, b.want)
			}
		}
		c.Commit(t, txs...)
		for v := start; v < end; v++ {
			counted++
			for ci := range choices[v] {
				for si, m := range choices[v][ci] {
					if m {
						want[ci][si]++
					}
				}
			}
		}
	}
	if c.State.Counted != uint64(counted) || c.State.Spoiled != uint64((voters+16)/20) {
		t.Fatalf("counted %d spoiled %d, want %d and %d", c.State.Counted, c.State.Spoiled, counted, (voters+16)/20)
	}
	var turnout uint64
	for _, n := range c.State.Turnout {
		turnout += n
	}
	if turnout != c.State.Counted {
		t.Fatalf("turnout %v adds to %d, counted %d", c.State.Turnout, turnout, c.State.Counted)
	}
	c.Approve(t, chain.ActionClose)
	if c.State.Phase != chain.PhaseClosed {
		t.Fatalf("phase %s after the close quorum", c.State.Phase)
	}
	// Stations post their shares; t of them tally.
	th := e.Genesis.Threshold()
	for i, k := range keys[:th] {
		ts, err := election.MakeTallyShares(k, c.State.Aggregates, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit(t, chain.NewSignedTx(chain.TxTallyShares, e.Fingerprint(), ts.Encode(), e.StationKey(i)))
	}
	if c.State.Phase != chain.PhaseTallied || c.State.TallyError != "" {
		t.Fatalf("phase %s, tally error %q", c.State.Phase, c.State.TallyError)
	}
	for ci := range want {
		for si := range want[ci] {
			if c.State.Result[ci][si] != want[ci][si] {
				t.Fatalf("contest %s candidate %s: result %d, cast %d", manifest.Contests[ci].ID, manifest.Contests[ci].Candidates[si], c.State.Result[ci][si], want[ci][si])
			}
		}
	}
}

// secondBallot is another ballot of voter v's credential.
func secondBallot(t *testing.T, c *chaintest.Chain, v int, ch ballot.Choices) *ballot.Ballot {
	b, _ := c.Ballot(t, v, 0, ch)
	return b
}

// tampered is a ballot of an eligible, unused credential whose first
// selection proof is broken and then re-signed: only the proof catches it.
func tampered(t *testing.T, c *chaintest.Chain, v int, m *ballot.Manifest, r *rand.Rand) *ballot.Ballot {
	b, _ := c.Ballot(t, v, 0, chaintest.RandomChoices(m, r))
	br := &b.Contests[0].Selections[0].Proof.Branches[0]
	br.A, br.B = br.B, br.A
	copy(b.Signature[:], c.E.Credential(v).Sign(b.SigningBytes()))
	return b
}
