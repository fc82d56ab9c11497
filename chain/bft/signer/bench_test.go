package signer_test

import (
	"testing"

	"github.com/urna-vote/urna/chain/bft/signer"
)

// BenchmarkSign measures one new signature with its durable state write (temp
// file fsync, rename, directory fsync): the cost a station pays per vote.
func BenchmarkSign(b *testing.B) {
	s, err := signer.Init(b.TempDir(), testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 120)
	h := uint64(0)
	for b.Loop() {
		h++
		if _, err := s.Sign(h, 0, signer.StepPrevote, msg); err != nil {
			b.Fatal(err)
		}
	}
}
