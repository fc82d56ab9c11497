package bft_test

import (
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/bft/simnet"
)

// BenchmarkVoteVerify: the signature check every received vote costs.
func BenchmarkVoteVerify(b *testing.B) {
	privs, vals := testKeys("bench", 4)
	v := signVote(privs[2], bft.Precommit, 9, 0, bft.Hash{1}, 2)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(testChainID, vals); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeVote: strict decoding of a vote from the wire.
func BenchmarkDecodeVote(b *testing.B) {
	privs, _ := testKeys("bench", 4)
	data, err := bft.EncodeMessage(bft.Message{Vote: signVote(privs[2], bft.Precommit, 9, 0, bft.Hash{1}, 2)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bft.DecodeMessage(data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCertificate(b *testing.B, n int) {
	privs, vals := testKeys("bench", n)
	block := testBlock(3, "A")
	var signers []int
	for i := range vals.Quorum() {
		signers = append(signers, i)
	}
	c := makeCert(privs, 3, 0, block, signers...)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Verify(testChainID, vals); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCertificateVerify: what block sync pays per height.
func BenchmarkCertificateVerify4(b *testing.B)  { benchCertificate(b, 4) }
func BenchmarkCertificateVerify10(b *testing.B) { benchCertificate(b, 10) }

// BenchmarkCoreHeight: one core decides one height from a proposal and the votes of
// three peers (7 signature checks, 2 signatures, the state machine).
func BenchmarkCoreHeight(b *testing.B) {
	privs, vals := testKeys("bench", 4)
	block := testBlock(1, "A")
	h := bft.HashValue(block)
	inputs := []bft.Input{bft.Message{Proposal: signProposal(privs[1], 1, 0, -1, block, 1)}}
	for _, t := range []bft.VoteType{bft.Prevote, bft.Precommit} {
		for i := 1; i < 4; i++ {
			inputs = append(inputs, bft.Message{Vote: signVote(privs[i], t, 1, 0, h, uint32(i))})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		g := &guardSigner{priv: privs[0], state: &signerState{}, guarded: true}
		c, err := bft.New(bft.Config{ChainID: testChainID, Validators: vals, Self: 0, Height: 1,
			Timeouts: testTimeouts(), Signer: g.Signer(), Validate: testValidate})
		if err != nil {
			b.Fatal(err)
		}
		c.Start()
		var commit *bft.Decision
		for _, in := range inputs {
			if rd := c.Step(in); rd.Commit != nil {
				commit = rd.Commit
			}
		}
		if commit == nil {
			b.Fatal("no decision")
		}
	}
}

// BenchmarkSimHeight4: one height among 4 validators in the simulator (WAL, codec,
// network, four cores), on a network without faults.
func BenchmarkSimHeight4(b *testing.B) {
	cfg := simConfig{
		Seed: 1, N: 4, Byz: make([]byzKind, 4), Wipers: make([]bool, 4),
		Faults:     simnet.Faults{MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		FaultPhase: 0, LiveHeights: b.N, LiveBound: time.Duration(b.N+10) * time.Minute,
	}
	s := newSim(cfg)
	b.ResetTimer()
	if err := s.run(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.clock.Now().Milliseconds())/float64(b.N), "sim-ms/height")
}
