package chain_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

// TestCountingTakesTheAdmittedCiphertexts: a block applied after its
// ballots were verified at admission (with their ciphertexts kept) gives
// the same state as a block applied cold, and the counting really takes
// the kept ciphertexts: a different decoding under a ballot's hash shows
// up in the aggregates.
func TestCountingTakesTheAdmittedCiphertexts(t *testing.T) {
	p := openChain(t, 11)
	var txs []*chain.Tx
	var bs []*ballot.Ballot
	for v := range 6 {
		b := p.ballot(t, v)
		bs = append(bs, b)
		txs = append(txs, chain.NewBallotTx(b))
	}
	block := p.c.Build(txs...)
	cache := p.e.Machine.Cache()

	cache.Reset()
	cold, err := p.e.Machine.Apply(p.c.State, p.c.KV, block)
	if err != nil {
		t.Fatal(err)
	}

	cache.Reset()
	errs, decoded := p.elect.VerifyAndDecodeBallots(bs)
	for i, b := range bs {
		if errs[i] != nil || decoded[i] == nil {
			t.Fatalf("ballot %d: %v, decoded %v", i, errs[i], decoded[i] != nil)
		}
		cache.AddDecoded(p.elect, sha256.Sum256(b.Encode()), b, decoded[i])
	}
	warm, err := p.e.Machine.Apply(p.c.State, p.c.KV, block)
	if err != nil {
		t.Fatal(err)
	}
	if warm.State.StateHash != cold.State.StateHash {
		t.Fatal("applying with the admitted ciphertexts gives another state than applying cold")
	}

	// Ballot 0's hash now holds ballot 1's decoding: the aggregates move.
	cache.Reset()
	for i, b := range bs {
		d := decoded[i]
		if i == 0 {
			d = decoded[1]
		}
		cache.AddDecoded(p.elect, sha256.Sum256(b.Encode()), b, d)
	}
	swapped, err := p.e.Machine.Apply(p.c.State, p.c.KV, block)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(swapped.State.Aggregates) == fmt.Sprint(cold.State.Aggregates) &&
		fmt.Sprint(bs[0].Contests) != fmt.Sprint(bs[1].Contests) {
		t.Fatal("the counting decoded the points again instead of taking the admitted ones")
	}
	cache.Reset()
}

// TestDecodedCiphertextsAreBounded: the cache keeps the decodings of the
// DecodedCapacity most recent ballots, forgets older ones first, and Reset
// forgets all; the verdicts themselves are kept as before.
func TestDecodedCiphertextsAreBounded(t *testing.T) {
	p := openChain(t, 12)
	c := chain.NewVerifiedCache(1 << 16)
	cts := [][]ballot.DecodedCiphertext{{}}
	b := p.ballot(t, 0)
	hash := func(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "ballot %d", i)) }
	for i := range chain.DecodedCapacity + 10 {
		c.AddDecoded(p.elect, hash(i), b, cts)
	}
	for i := range 10 {
		if _, _, ok := c.Decoded(hash(i)); ok {
			t.Fatalf("ballot %d's decoding is still held past the capacity", i)
		}
		if !c.Contains(p.elect, hash(i)) {
			t.Fatalf("ballot %d's verdict was forgotten with its decoding", i)
		}
	}
	for i := 10; i < chain.DecodedCapacity+10; i++ {
		if _, _, ok := c.Decoded(hash(i)); !ok {
			t.Fatalf("ballot %d's decoding was forgotten within the capacity", i)
		}
	}
	c.AddDecoded(p.elect, hash(-1), b, nil)
	if _, _, ok := c.Decoded(hash(-1)); ok || !c.Contains(p.elect, hash(-1)) {
		t.Fatal("a verdict without a decoding: want the verdict and no decoding")
	}
	c.Reset()
	if _, _, ok := c.Decoded(hash(20)); ok || c.Contains(p.elect, hash(20)) {
		t.Fatal("Reset kept something")
	}
}
