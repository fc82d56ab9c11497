package bft_test

import (
	"strings"
	"testing"

	"github.com/urna-vote/urna/chain/bft"
)

// The invariant checks must be able to fail. These tests break things on purpose.

// TestCheckerCatchesBrokenLocking drives four cores through the classic scenario that
// the locking rule exists for, with validator v3 Byzantine (it votes for both sides).
// Round 0: v0 and v1 see a polka for A and lock it; v0 decides A. v2 saw neither the
// proposal nor the polka. Round 1: v2 proposes B. A correct v1 is locked on A and
// prevotes nil, so B never gets a polka. With locking disabled (the unexported test hook),
// v1 prevotes B, B is decided by v1 and v2, and the checker must report the
// disagreement.
func TestCheckerCatchesBrokenLocking(t *testing.T) {
	for _, broken := range []bool{false, true} {
		t.Run(map[bool]string{false: "correct", true: "broken"}[broken], func(t *testing.T) {
			err := lockingScenario(t, broken)
			if !broken && err != nil {
				t.Fatalf("correct core: %v", err)
			}
			if broken && (err == nil || !strings.Contains(err.Error(), "agreement")) {
				t.Fatalf("broken locking not caught: %v", err)
			}
			t.Logf("checker: %v", err)
		})
	}
}

func lockingScenario(t *testing.T, broken bool) error {
	privs, vals := testKeys("checker", 4)
	check := newChecker(vals)
	cores := make([]*bft.Core, 3)
	for i := range cores {
		g := &guardSigner{priv: privs[i], state: &signerState{}, guarded: true}
		c, err := bft.New(bft.Config{ChainID: testChainID, Validators: vals, Self: i, Height: 1,
			Timeouts: testTimeouts(), Signer: g.Signer(), Validate: testValidate})
		if err != nil {
			t.Fatal(err)
		}
		bft.SetIgnoreLock(c, broken)
		c.Start()
		cores[i] = c
	}
	// out[i] collects what core i broadcast; step feeds an input and records commits.
	out := make([][]bft.Message, 3)
	var step func(i int, in bft.Input)
	step = func(i int, in bft.Input) {
		rd := cores[i].Step(in)
		out[i] = append(out[i], rd.Messages...)
		if rd.Commit != nil {
			check.committed(i, *rd.Commit)
			cores[i].Advance()
		}
		if rd.NeedProposal != nil {
			step(i, bft.ProposalValue{Height: 1, Round: rd.NeedProposal.Round, Block: testBlock(1, "B")})
		}
	}
	// take returns core i's last broadcast message of the given kind and type.
	take := func(i int, kind bft.Kind, t bft.VoteType, round uint32) bft.Message {
		for j := len(out[i]) - 1; j >= 0; j-- {
			m := out[i][j]
			if m.Kind() == kind && (m.Vote == nil || (m.Vote.Type == t && m.Vote.Round == round)) &&
				(m.Proposal == nil || m.Proposal.Round == round) {
				return m
			}
		}
		t0 := t
		panic("core " + string(rune('0'+i)) + " sent no " + kind.String() + " " + t0.String())
	}
	byz := func(typ bft.VoteType, r uint32, block string) bft.Message {
		var h bft.Hash
		if block != "" {
			h = bft.HashValue(testBlock(1, block))
		}
		return bft.Message{Vote: signVote(privs[3], typ, 1, r, h, 3)}
	}
	A := testBlock(1, "A")

	// Round 0: proposer v1 proposes A to v0 (v1 has it as its own).
	step(1, bft.ProposalValue{Height: 1, Round: 0, Block: A}) // v1 answers its NeedProposal... if it asked
	propA := bft.Message{Proposal: signProposal(privs[1], 1, 0, -1, A, 1)}
	if len(out[1]) > 0 && out[1][0].Proposal != nil {
		propA = out[1][0]
	}
	step(0, propA)
	// Prevotes for A: v0, v1 and the Byzantine v3, seen by v0 and v1.
	step(0, take(1, bft.KindVote, bft.Prevote, 0))
	step(1, take(0, bft.KindVote, bft.Prevote, 0))
	step(0, byz(bft.Prevote, 0, "A"))
	step(1, byz(bft.Prevote, 0, "A"))
	// v0 decides A with v1's and v3's precommits.
	step(0, take(1, bft.KindVote, bft.Precommit, 0))
	step(0, byz(bft.Precommit, 0, "A"))
	if cores[0].Height() != 2 {
		t.Fatalf("v0 did not decide in round 0: %+v", cores[0].State())
	}
	// v2 missed the proposal: it prevotes nil on timeout, sees v1's prevote and a nil
	// prevote from v3, precommits nil on the prevote timeout.
	step(2, bft.Timeout{Height: 1, Round: 0, Step: bft.StepPropose})
	step(2, take(1, bft.KindVote, bft.Prevote, 0))
	step(2, byz(bft.Prevote, 0, ""))
	step(2, bft.Timeout{Height: 1, Round: 0, Step: bft.StepPrevote})
	// Round 0 ends for v1 and v2 without a decision.
	step(1, take(2, bft.KindVote, bft.Precommit, 0))
	step(1, byz(bft.Precommit, 0, ""))
	step(1, bft.Timeout{Height: 1, Round: 0, Step: bft.StepPrecommit})
	step(2, take(1, bft.KindVote, bft.Precommit, 0))
	step(2, byz(bft.Precommit, 0, ""))
	step(2, bft.Timeout{Height: 1, Round: 0, Step: bft.StepPrecommit})
	// Round 1: v2 proposes B (it has no valid value).
	propB := take(2, bft.KindProposal, 0, 1)
	step(1, propB)
	step(1, take(2, bft.KindVote, bft.Prevote, 1))
	step(1, byz(bft.Prevote, 1, "B"))
	step(2, byz(bft.Prevote, 1, "B"))
	if v := take(1, bft.KindVote, bft.Prevote, 1).Vote; v.BlockHash.IsZero() {
		// Correct: v1 is locked on A and prevoted nil. B has no polka; nothing more happens.
		return check.err
	}
	step(2, take(1, bft.KindVote, bft.Prevote, 1))
	step(1, take(2, bft.KindVote, bft.Precommit, 1))
	step(1, byz(bft.Precommit, 1, "B"))
	step(2, take(1, bft.KindVote, bft.Precommit, 1))
	step(2, byz(bft.Precommit, 1, "B"))
	return check.err
}

// TestCheckerCatchesForgedCommits feeds the checker decisions and signatures a broken
// node could produce.
func TestCheckerCatchesForgedCommits(t *testing.T) {
	privs, vals := testKeys("checker", 4)
	good := func(block string) bft.Decision {
		b := testBlock(1, block)
		h := bft.HashValue(b)
		c := bft.Certificate{Height: 1, Round: 0, BlockHash: h}
		for i := range 3 {
			c.Signatures = append(c.Signatures, bft.CommitSig{Validator: uint32(i), Signature: signVote(privs[i], bft.Precommit, 1, 0, h, uint32(i)).Signature})
		}
		return bft.Decision{Height: 1, Block: b, Certificate: c}
	}
	cases := []struct {
		name string
		feed func(c *checker)
		want string
	}{
		{"conflicting commit", func(c *checker) { c.committed(0, good("A")); c.committed(1, good("B")) }, "agreement"},
		{"forged certificate", func(c *checker) {
			d := good("A")
			d.Certificate.Signatures[1].Signature[0] ^= 1
			c.committed(0, d)
		}, "without a valid certificate"},
		{"certificate of another block", func(c *checker) {
			d := good("A")
			d.Block = testBlock(1, "B")
			c.committed(0, d)
		}, "without a valid certificate"},
		{"invalid block", func(c *checker) { c.committed(0, good("INVALID")) }, "invalid block"},
		{"double sign", func(c *checker) {
			c.signed(2, 1, 0, bft.StepPrevote, []byte("a"))
			c.signed(2, 1, 0, bft.StepPrevote, []byte("b"))
		}, "double sign"},
		{"conflicting votes sent", func(c *checker) {
			c.sent(1, bft.Message{Vote: signVote(privs[1], bft.Precommit, 1, 2, bft.Hash{}, 1)})
			c.sent(1, bft.Message{Vote: signVote(privs[1], bft.Precommit, 1, 2, bft.Hash{1}, 1)})
		}, "conflicting messages"},
		{"conflicting proposals sent", func(c *checker) {
			c.sent(1, bft.Message{Proposal: signProposal(privs[1], 1, 0, -1, testBlock(1, "A"), 1)})
			c.sent(1, bft.Message{Proposal: signProposal(privs[1], 1, 0, -1, testBlock(1, "B"), 1)})
		}, "conflicting messages"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(vals)
			tc.feed(c)
			if c.err == nil || !strings.Contains(c.err.Error(), tc.want) {
				t.Fatalf("got %v, want a violation mentioning %q", c.err, tc.want)
			}
		})
	}
	// And the same honest traffic is fine.
	c := newChecker(vals)
	c.committed(0, good("A"))
	c.committed(1, good("A"))
	c.signed(2, 1, 0, bft.StepPrevote, []byte("a"))
	c.signed(2, 1, 0, bft.StepPrevote, []byte("a"))
	if c.err != nil {
		t.Fatal(c.err)
	}
}

// TestSimulationCatchesUnflushedWAL breaks the caller's rule "flush the WAL before a
// message leaves" in the simulator, with no double-sign guard: crashes with a torn WAL
// tail then make honest nodes forget votes they sent and sign conflicting ones, and the
// checker must say so.
func TestSimulationCatchesUnflushedWAL(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		cfg := randomSimConfig(seed)
		cfg.brokenWAL, cfg.Unguarded, cfg.Crashes, cfg.Torn, cfg.MidCrash = true, true, true, true, true
		cfg.noDurableCheck = true // see what it leads to, not only that it happened
		cfg.Wipers = make([]bool, cfg.N)
		err := newSim(cfg).run()
		if err != nil && strings.Contains(err.Error(), "conflicting messages") {
			t.Logf("seed %d: %v", seed, err)
			// The control: the same run with the flush in place is safe.
			cfg.brokenWAL = false
			if err := newSim(cfg).run(); err != nil {
				t.Fatalf("seed %d with the WAL flushed: %v", seed, err)
			}
			return
		}
	}
	t.Fatal("sending before the WAL flush went unnoticed in 100 seeds")
}
