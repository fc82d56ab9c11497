package station

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

func TestSmokeElection(t *testing.T) {
	c := newCluster(t, "mayor", 20, 1)
	c.startAll()
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	ctx := context.Background()
	c.approve(ctx, chain.ActionOpen)
	c.waitPhase(chain.PhaseOpen, 20*time.Second)
	v := c.voter()
	r := rand.New(rand.NewPCG(1, 1))
	ids := []int{0, 1, 2, 3, 4, 5}
	var choices []ballot.Choices
	for range ids {
		choices = append(choices, randomChoices(&v.manifest, r))
	}
	bs, _ := v.ballots(t, ids, choices)
	want := make([]uint64, 4)
	for i, b := range bs {
		if _, err := c.submit(ctx, i, chain.NewBallotTx(b)); err != nil {
			t.Fatalf("ballot %d: %v", i, err)
		}
		for s, m := range choices[i][0] {
			if m {
				want[s]++
			}
		}
	}
	c.approve(ctx, chain.ActionClose)
	c.waitPhase(chain.PhaseTallied, 30*time.Second)
	st := c.engine(0).Ledger().State()
	for s := range want {
		if st.Result[0][s] != want[s] {
			t.Fatalf("result %v, want %v", st.Result[0], want)
		}
	}
	c.checkConverged()
	c.votes.check(t)
}
