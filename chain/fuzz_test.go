package chain_test

import (
	"bytes"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

// Fuzz targets for the chain's decoders and for Apply on arbitrary block
// bytes. Run one with: go test ./chain -run XXX -fuzz FuzzApply

func FuzzDecodeTx(f *testing.F) {
	p := openChain(f, 2)
	f.Add(chain.NewBallotTx(p.ballot(f, 1)).Encode())
	f.Add(chain.NewApprovalTx(p.e.Fingerprint(), chain.ActionClose, p.e.OfficialKey(0)).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := chain.DecodeTx(data)
		if err != nil {
			return
		}
		if !bytes.Equal(tx.Encode(), data) {
			t.Fatal("decoded transaction is not canonical")
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	p := openChain(f, 2)
	f.Add(p.c.State.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := chain.DecodeState(data)
		if err != nil {
			return
		}
		if !bytes.Equal(st.Encode(), data) {
			t.Fatal("decoded state is not canonical")
		}
	})
}

// FuzzApply feeds arbitrary block bytes to the state machine of an open
// election: it must refuse or accept, never panic, and never accept a block
// that does not re-encode to its own bytes.
func FuzzApply(f *testing.F) {
	p := openChain(f, 2)
	c := p.c
	f.Add(c.Build())
	f.Add(c.Build(chain.NewBallotTx(p.ballot(f, 1))))
	f.Add(c.Build(chain.NewApprovalTx(p.e.Fingerprint(), chain.ActionClose, p.e.OfficialKey(1))))
	f.Add(c.Build(&chain.Tx{Kind: chain.TxEvidence, Election: p.e.Fingerprint(), Payload: []byte{0x82, 0x80, 0x80}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := p.e.Machine.Apply(c.State, c.KV, data)
		if err != nil {
			return
		}
		if !bytes.Equal(a.Block.Encode(), data) {
			t.Fatal("accepted a non-canonical block")
		}
	})
}

func FuzzTrackingKey(f *testing.F) {
	f.Add("3F2A-9KQD-XB7M-0T4C-8HJN-R5WE-KM2P")
	f.Add("3f2a9kqdxb7m0t4c8hjnr5wekm2p")
	f.Add("3F2A-9KQD-XB7M-0T4C")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := chain.TrackingKey(s)
		if err != nil {
			return
		}
		canon, _ := ballot.ParseTrackingCode(s)
		k2, _ := chain.TrackingKey(canon)
		if !bytes.Equal(k, k2) {
			t.Fatal("a code and its canonical form give different keys")
		}
		// The key is the code's 140 bits: the code it names is the code typed.
		var h [32]byte
		copy(h[:], k[len(k)-ballot.TrackingKeySize:])
		if ballot.TrackingCodeOf(h) != canon || !ballot.MatchesTrackingCode(s, h) {
			t.Fatalf("key %x does not stand for %s", k, canon)
		}
	})
}
