package chain_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
)

// copyOf is the ballot attack of Cortier and Smyth: a voter takes another
// voter's encrypted contests from the chain and casts them under its own
// credential, as they are (the original signature left in place) or
// re-signed with its own key. Counted, k copies would shift the tally by k
// times the victim's choices and so reveal them.
func copyOf(victim *ballot.Ballot, copier *ballot.Credential, resign bool) *ballot.Ballot {
	cp := *victim
	copy(cp.Credential[:], copier.Public)
	if resign {
		copy(cp.Signature[:], copier.Sign(cp.SigningBytes()))
	}
	return &cp
}

// expectRefused checks a transaction against the rule at admission
// (CheckTx) and in block validation, with the verified-ballot cache warm
// and cold (a block sync or a replay verifies from scratch).
func expectRefused(t *testing.T, p *phases, want error, tx *chain.Tx) {
	t.Helper()
	_, err := p.e.Machine.CheckTx(p.c.State, p.c.KV, tx.Encode())
	var te *chain.TxError
	if !errors.Is(err, want) || !errors.As(err, &te) {
		t.Fatalf("admission: got %v, want %v", err, want)
	}
	// The same through the entry point of a mempool that decoded it.
	raw := tx.Encode()
	dtx, derr := chain.DecodeTx(raw)
	if derr != nil {
		t.Fatal(derr)
	}
	var b *ballot.Ballot
	var berr error
	if dtx.Kind == chain.TxBallot {
		b, berr = ballot.DecodeBallot(dtx.Payload)
	}
	if _, err := p.e.Machine.CheckDecodedTx(p.c.State, p.c.KV, raw, dtx, b, berr); !errors.Is(err, want) || !errors.As(err, &te) {
		t.Fatalf("admission of the decoded transaction: got %v, want %v", err, want)
	}
	expectTxError(t, p.c, 0, want, tx)
	p.e.Machine.Cache().Reset()
	expectTxError(t, p.c, 0, want, tx)
}

func TestCopyAttackRefused(t *testing.T) {
	p := openChain(t, 3)
	c, e := p.c, p.e
	victim := p.ballot(t, 1)
	c.Commit(t, chain.NewBallotTx(victim))

	t.Run("copy as is", func(t *testing.T) {
		expectRefused(t, p, chain.ErrCiphertextReused, chain.NewBallotTx(copyOf(victim, e.Credential(2), false)))
	})
	t.Run("copy re-signed", func(t *testing.T) {
		tx := chain.NewBallotTx(copyOf(victim, e.Credential(2), true))
		expectRefused(t, p, chain.ErrCiphertextReused, tx)
		// The rule names the ballot copied from.
		_, err := e.Machine.CheckTx(c.State, c.KV, tx.Encode())
		if !strings.Contains(err.Error(), victim.TrackingCode()) {
			t.Fatalf("error does not name the original ballot %s: %v", victim.TrackingCode(), err)
		}
	})
	t.Run("one selection copied into an honest ballot", func(t *testing.T) {
		own := p.ballot(t, 3)
		own.Contests[0].Selections[2] = victim.Contests[0].Selections[2]
		copy(own.Signature[:], e.Credential(3).Sign(own.SigningBytes()))
		expectRefused(t, p, chain.ErrCiphertextReused, chain.NewBallotTx(own))
	})
	t.Run("copy in the same block as the original", func(t *testing.T) {
		orig := p.ballot(t, 4)
		expectTxError(t, c, 1, chain.ErrCiphertextReused, chain.NewBallotTx(orig), chain.NewBallotTx(copyOf(orig, e.Credential(5), true)))
	})
	t.Run("copy ahead of the original", func(t *testing.T) {
		// Before the original is on the chain the copy is refused by its
		// proofs, which name the victim's credential: a copier cannot
		// front-run a voter and have the voter's ballot refused.
		orig := p.ballot(t, 6)
		cp := chain.NewBallotTx(copyOf(orig, e.Credential(7), true))
		_, err := e.Machine.CheckTx(c.State, c.KV, cp.Encode())
		if !errors.Is(err, chain.ErrBadBallot) || !errors.Is(err, ballot.ErrSelectionProof) {
			t.Fatalf("admission of a copy ahead of the original: %v", err)
		}
		expectTxError(t, c, 0, ballot.ErrSelectionProof, cp, chain.NewBallotTx(orig))
		c.Commit(t, chain.NewBallotTx(orig))
		expectRefused(t, p, chain.ErrCiphertextReused, cp)
	})
	t.Run("copy of a challenged ballot", func(t *testing.T) {
		ch := ballot.Choices{{true, false, false, false}}
		b, nonces, err := p.elect.NewBallot(e.Credential(8), "north", ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := p.elect.Spoil(b, ch, nonces)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit(t, chain.NewSpoiledTx(sp))
		expectRefused(t, p, chain.ErrCiphertextReused, chain.NewBallotTx(copyOf(b, e.Credential(9), true)))
	})
	t.Run("cast ciphertexts published again as challenged", func(t *testing.T) {
		ch := ballot.Choices{{false, false, false, true}}
		b, nonces, err := p.elect.NewBallot(e.Credential(10), "north", ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit(t, chain.NewBallotTx(b))
		sp, err := p.elect.Spoil(copyOf(b, e.Credential(11), true), ch, nonces)
		if err != nil {
			t.Fatal(err)
		}
		expectRefused(t, p, chain.ErrCiphertextReused, chain.NewSpoiledTx(sp))
	})
	// Nothing of all this was counted.
	if c.State.Counted != 3 {
		t.Fatalf("counted %d ballots, want 3", c.State.Counted)
	}
}

// TestTrackingLookupUsesAllBits: the chain finds a ballot by its tracking
// code, and no code that differs from it in any symbol.
func TestTrackingLookupUsesAllBits(t *testing.T) {
	p := openChain(t, 4)
	b := p.ballot(t, 1)
	p.c.Commit(t, chain.NewBallotTx(b))
	code := b.TrackingCode()
	k, err := chain.TrackingKey(strings.ToLower(code))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok, err := p.c.KV.Get(k)
	if err != nil || !ok {
		t.Fatalf("tracking code %s not found: %v", code, err)
	}
	entry, err := chain.DecodeTrackingEntry(raw)
	if err != nil || entry.BallotHash != b.Hash() || entry.Status != chain.StatusCast {
		t.Fatalf("entry %+v, %v", entry, err)
	}
	if !ballot.MatchesTrackingCode(code, entry.BallotHash) {
		t.Fatal("the entry's ballot does not match the code")
	}
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i := range len(code) {
		if code[i] == '-' {
			continue
		}
		other := []byte(code)
		other[i] = alphabet[(strings.IndexByte(alphabet, code[i])+1)%32]
		k2, err := chain.TrackingKey(string(other))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := p.c.KV.Get(k2); ok {
			t.Fatalf("code %s (symbol %d changed) finds the ballot of %s", other, i, code)
		}
	}
}

// TestPreverifyBlocks: a replay that checks the ballots of many blocks in
// one batch first applies them without verifying them again, and still
// refuses a block with a bad ballot with its rule.
func TestPreverifyBlocks(t *testing.T) {
	p := openChainN(t, 5, 60)
	m := p.e.Genesis.Manifest()
	r := rand.New(rand.NewPCG(5, 5))
	for blk := range 4 {
		var txs []*chain.Tx
		for v := range 10 {
			b, _ := p.c.Ballot(t, blk*10+v, v%4, chaintest.RandomChoices(&m, r))
			txs = append(txs, chain.NewBallotTx(b))
		}
		p.c.Commit(t, txs...)
	}
	// Replay on a fresh machine, whose cache knows nothing.
	fresh, err := chain.NewMachine(p.e.Genesis, p.e.Roll)
	if err != nil {
		t.Fatal(err)
	}
	kv := chain.NewMemKV()
	st := fresh.InitialState()
	open := int(p.c.State.Height) - 4 // the ballot blocks are the last four
	for _, data := range p.c.Blocks[:open] {
		a, err := fresh.Apply(st, kv, data)
		if err != nil {
			t.Fatal(err)
		}
		kv.Write(a.Writes)
		st = a.State
	}
	if n, bad := fresh.PreverifyBlocks(st, p.c.Blocks[open:]); n != 40 || bad != 0 {
		t.Fatalf("preverified %d ballots, %d bad; want 40, 0", n, bad)
	}
	if n, _ := fresh.PreverifyBlocks(st, p.c.Blocks[open:]); n != 0 {
		t.Fatalf("ballots already verified were checked again: %d", n)
	}
	for _, data := range p.c.Blocks[open:] {
		a, err := fresh.Apply(st, kv, data)
		if err != nil {
			t.Fatal(err)
		}
		kv.Write(a.Writes)
		st = a.State
	}
	if st.StateHash != p.c.State.StateHash {
		t.Fatal("replay after preverification reached another state")
	}
	// A block with a bad ballot: preverification counts it, Apply names it.
	b := p.ballot(t, 50)
	b.Contests[0].Selections[1].Proof.Branches[0].V[0] ^= 1
	copy(b.Signature[:], p.e.Credential(50).Sign(b.SigningBytes()))
	data := p.c.Build(chain.NewBallotTx(p.ballot(t, 51)), chain.NewBallotTx(b))
	if n, bad := p.e.Machine.PreverifyBlocks(p.c.State, [][]byte{data}); n != 2 || bad != 1 {
		t.Fatalf("preverified %d ballots, %d bad; want 2, 1", n, bad)
	}
	expectTxError(t, p.c, 1, ballot.ErrSelectionProof, chain.NewBallotTx(p.ballot(t, 51)), chain.NewBallotTx(b))
}
