package bft_test

import (
	"testing"

	"github.com/urna-vote/urna/chain/bft"
)

// TestPerfectNetwork runs 4 cores delivering every message at once, in order, and
// expects them to decide 5 heights in round 0.
func TestPerfectNetwork(t *testing.T) {
	privs, vals := testKeys("smoke", 4)
	cores := make([]*bft.Core, 4)
	for i := range cores {
		g := &guardSigner{priv: privs[i], state: &signerState{}, guarded: true}
		c, err := bft.New(bft.Config{ChainID: testChainID, Validators: vals, Self: i, Height: 1,
			Timeouts: testTimeouts(), Signer: g.Signer(), Validate: testValidate})
		if err != nil {
			t.Fatal(err)
		}
		cores[i] = c
	}
	type env struct {
		to int
		in bft.Input
	}
	var queue []env
	committed := make([][]string, 4)
	var handle func(i int, rd bft.Ready)
	handle = func(i int, rd bft.Ready) {
		for _, d := range rd.Dropped {
			if d.Reason != bft.DropDuplicate && d.Reason != bft.DropPastHeight {
				t.Errorf("node %d dropped: %v", i, d)
			}
		}
		for _, m := range rd.Messages {
			for j := range cores {
				if j != i {
					queue = append(queue, env{j, m})
				}
			}
		}
		if rd.NeedProposal != nil {
			queue = append(queue, env{i, bft.ProposalValue{Height: rd.NeedProposal.Height, Round: rd.NeedProposal.Round, Block: testBlock(rd.NeedProposal.Height, "x")}})
		}
		if rd.Commit != nil {
			if err := rd.Commit.Verify(testChainID, vals); err != nil {
				t.Fatalf("node %d: commit does not verify: %v", i, err)
			}
			committed[i] = append(committed[i], string(rd.Commit.Block))
			if rd.Commit.Height < 5 {
				handle(i, cores[i].Advance())
			}
		}
	}
	for i, c := range cores {
		handle(i, c.Start())
	}
	for steps := 0; len(queue) > 0 && steps < 10000; steps++ {
		e := queue[0]
		queue = queue[1:]
		handle(e.to, cores[e.to].Step(e.in))
	}
	for i := range cores {
		if len(committed[i]) != 5 {
			t.Fatalf("node %d committed %d heights: %q", i, len(committed[i]), committed[i])
		}
		for h := range committed[i] {
			if committed[i][h] != committed[0][h] {
				t.Fatalf("node %d height %d: %q vs %q", i, h+1, committed[i][h], committed[0][h])
			}
		}
		if cores[i].Round() != 0 {
			t.Errorf("node %d in round %d", i, cores[i].Round())
		}
	}
}
