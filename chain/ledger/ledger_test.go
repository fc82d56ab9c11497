package ledger_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/store"
)

// smallElection runs a short mayor election in memory and returns the chain.
func smallElection(t testing.TB, seed uint64) *chaintest.Chain {
	e := chaintest.NewElection(t, "mayor", 30, seed, nil)
	c := e.NewChain()
	c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	m := e.Genesis.Manifest()
	r := rand.New(rand.NewPCG(seed, 1))
	for v := range 12 {
		b, _ := c.Ballot(t, v, v%4, chaintest.RandomChoices(&m, r))
		c.Commit(t, chain.NewBallotTx(b))
	}
	return c
}

func openLedger(t testing.TB, dir string, m *chain.Machine) *ledger.Ledger {
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l, err := ledger.Open(s, m)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Committing the same blocks in two fresh stores gives the same state hash
// at every height, and a reopened store resumes at its head.
func TestLedgerDeterminismAndReopen(t *testing.T) {
	c := smallElection(t, 1)
	var hashes [2][][32]byte
	dirs := []string{t.TempDir(), t.TempDir()}
	for i, dir := range dirs {
		l := openLedger(t, dir, c.E.Machine)
		for h, b := range c.Blocks {
			a, err := l.Commit(b, c.Certs[h])
			if err != nil {
				t.Fatalf("store %d, block %d: %v", i, h+1, err)
			}
			hashes[i] = append(hashes[i], a.State.StateHash)
		}
		l.Store().Close()
	}
	for h := range hashes[0] {
		if hashes[0][h] != hashes[1][h] || hashes[0][h] != stateHashAt(t, c, h+1) {
			t.Fatalf("height %d: state hashes differ", h+1)
		}
	}
	l := openLedger(t, dirs[0], c.E.Machine)
	if l.Height() != uint64(len(c.Blocks)) || l.State().StateHash != c.State.StateHash {
		t.Fatalf("reopened at %d, want %d with the same state", l.Height(), len(c.Blocks))
	}
	// Every counted ballot is found by its tracking code.
	for h, raw := range c.Blocks {
		b, _ := chain.DecodeBlock(raw, 1<<22)
		for i, txb := range b.Txs {
			tx, _ := chain.DecodeTx(txb)
			loc, found, err := l.TxLocation(tx.Hash())
			if err != nil || !found || loc.Height != uint64(h+1) || loc.Position != uint32(i) {
				t.Fatalf("tx %d of block %d: location %+v, %v, %v", i, h+1, loc, found, err)
			}
		}
	}
	// A store of one election refuses another.
	other := chaintest.NewElection(t, "mayor", 30, 99, nil)
	if _, err := ledger.Open(l.Store(), other.Machine); !errors.Is(err, ledger.ErrOtherElection) {
		t.Fatalf("another election's store: %v", err)
	}
}

func stateHashAt(t testing.TB, c *chaintest.Chain, h int) [32]byte {
	st := c.E.Machine.InitialState()
	kv := chain.NewMemKV()
	for _, b := range c.Blocks[:h] {
		a, err := c.E.Machine.Apply(st, kv, b)
		if err != nil {
			t.Fatal(err)
		}
		kv.Write(a.Writes)
		st = a.State
	}
	return st.StateHash
}

func TestLedgerRefusesBadCommits(t *testing.T) {
	c := smallElection(t, 2)
	l := openLedger(t, t.TempDir(), c.E.Machine)
	if _, err := l.Commit(c.Blocks[0], c.Certs[1]); !errors.Is(err, ledger.ErrCertificate) {
		t.Fatalf("block 1 with the certificate of block 2: %v", err)
	}
	if _, err := l.Commit(c.Blocks[1], c.Certs[1]); !errors.Is(err, chain.ErrBadHeight) {
		t.Fatalf("block 2 first: %v", err)
	}
	if l.Height() != 0 {
		t.Fatal("a refused commit moved the head")
	}
}
