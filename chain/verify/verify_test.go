package verify_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/verify"
)

// election builds a chain: the DKG, the polls opened, two ballots.
func election(t *testing.T) (*chaintest.Election, *chaintest.Chain, [][]byte) {
	e := chaintest.NewElection(t, "mayor", 5, 7, nil)
	c := e.NewChain()
	c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	b1, _ := c.Ballot(t, 0, 0, [][]bool{{true, false, false, false}})
	b2, _ := c.Ballot(t, 1, 1, [][]bool{{false, false, true, false}})
	c.Commit(t, chain.NewBallotTx(b1), chain.NewBallotTx(b2))
	certs := make([][]byte, len(c.Certs))
	for i, ct := range c.Certs {
		certs[i] = bft.EncodeCertificate(ct)
	}
	return e, c, certs
}

// source serves a chain in batches of two.
func source(c *chaintest.Chain, certs [][]byte) verify.Source {
	return func(_ context.Context, from uint64) ([]verify.Block, uint64, error) {
		var out []verify.Block
		for h := from; h <= uint64(len(c.Blocks)) && len(out) < 2; h++ {
			out = append(out, verify.Block{Height: h, Block: c.Blocks[h-1], Certificate: certs[h-1]})
		}
		return out, uint64(len(c.Blocks)), nil
	}
}

func TestFollowerReplaysToTheSameState(t *testing.T) {
	e, c, certs := election(t)
	f, err := verify.NewFollower(e.Genesis, e.Roll.Encode())
	if err != nil {
		t.Fatal(err)
	}
	stopped, err := f.Follow(context.Background(), source(c, certs), nil)
	if err != nil || stopped {
		t.Fatalf("follow: %v %v", stopped, err)
	}
	if f.State().StateHash != c.State.StateHash || f.State().Counted != 2 {
		t.Fatal("the follower's state differs from the chain's")
	}
}

// The election key comes from the replayed setup blocks, and the follower
// stops at the block that made it final.
func TestElectionKeyFromSetupBlocks(t *testing.T) {
	e, c, certs := election(t)
	el, f, err := verify.ElectionKey(context.Background(), e.Genesis, e.Roll.Encode(), source(c, certs))
	if err != nil {
		t.Fatal(err)
	}
	if kb, _ := el.Key.MarshalBinary(); !bytes.Equal(kb, c.State.Key.Key[:]) {
		t.Fatal("the election key differs from the chain's")
	}
	if f.State().Phase != chain.PhaseReady || f.Height() >= c.State.Height {
		t.Fatalf("stopped at height %d, phase %v", f.Height(), f.State().Phase)
	}
	// A chain without the key yet.
	short := &chaintest.Chain{Blocks: c.Blocks[:1]}
	if _, _, err := verify.ElectionKey(context.Background(), e.Genesis, e.Roll.Encode(), source(short, certs)); !errors.Is(err, verify.ErrKeyNotReady) {
		t.Fatalf("no key yet: %v", err)
	}
}

func TestTamperingIsCaught(t *testing.T) {
	e, c, certs := election(t)
	other := chaintest.NewElection(t, "mayor", 5, 8, nil)
	cases := []struct {
		name  string
		edit  func(blocks, certs [][]byte)
		roll  []byte
		want  error
		label string
	}{
		{"a flipped byte in a block", func(b, _ [][]byte) { b[1] = flip(b[1], len(b[1])/2) }, nil, verify.ErrBlock, ""},
		{"a flipped byte in a certificate's signature", func(_, cs [][]byte) { cs[2] = flip(cs[2], len(cs[2])-3) }, nil, verify.ErrCertificate, ""},
		{"the certificate of another block", func(_, cs [][]byte) { cs[2] = cs[1] }, nil, verify.ErrCertificate, ""},
		{"a certificate of too few stations", func(_, cs [][]byte) {
			a, _ := chain.DecodeBlock(c.Blocks[0], 1<<22)
			cs[0] = bft.EncodeCertificate(e.Certify(1, a.Hash(), 0, 1))
		}, nil, verify.ErrCertificate, ""},
		{"blocks swapped", func(b, cs [][]byte) { b[1], b[2] = b[2], b[1]; cs[1], cs[2] = cs[2], cs[1] }, nil, verify.ErrBlock, ""},
		{"another election's roll", nil, other.Roll.Encode(), verify.ErrRoll, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blocks := append([][]byte(nil), c.Blocks...)
			cs := append([][]byte(nil), certs...)
			if tc.edit != nil {
				tc.edit(blocks, cs)
			}
			roll := e.Roll.Encode()
			if tc.roll != nil {
				roll = tc.roll
			}
			f, err := verify.NewFollower(e.Genesis, roll)
			if err == nil {
				_, err = f.Follow(context.Background(), source(&chaintest.Chain{Blocks: blocks}, cs), nil)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCertifiedChecksOneBlock(t *testing.T) {
	e, c, certs := election(t)
	vals := e.Machine.Validators()
	if _, err := verify.Certified(e.Genesis, vals, 2, c.Blocks[1], certs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Certified(e.Genesis, vals, 3, c.Blocks[1], certs[1]); !errors.Is(err, verify.ErrBlock) {
		t.Fatalf("wrong height: %v", err)
	}
	if _, err := verify.Certified(e.Genesis, vals, 2, c.Blocks[1], certs[2]); !errors.Is(err, verify.ErrCertificate) {
		t.Fatalf("another block's certificate: %v", err)
	}
}

// A source that skips a height, or claims a head it does not serve, is
// caught.
func TestMisbehavingSource(t *testing.T) {
	e, c, certs := election(t)
	f, _ := verify.NewFollower(e.Genesis, e.Roll.Encode())
	skip := func(_ context.Context, from uint64) ([]verify.Block, uint64, error) {
		return []verify.Block{{Height: from + 1, Block: c.Blocks[from], Certificate: certs[from]}}, 9, nil
	}
	if _, err := f.Follow(context.Background(), skip, nil); !errors.Is(err, verify.ErrSource) {
		t.Fatalf("skipping source: %v", err)
	}
	empty := func(context.Context, uint64) ([]verify.Block, uint64, error) { return nil, 9, nil }
	if _, err := f.Follow(context.Background(), empty, nil); !errors.Is(err, verify.ErrSource) {
		t.Fatalf("source with a head and no blocks: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}
