package tui

import (
	"fmt"
	"testing"

	"github.com/urna-vote/urna/chain"
)

// TestRuleNamesAreTheChains keeps the screens' rule names equal to the
// names the chain gives its refusals (and so the client protocol carries).
func TestRuleNamesAreTheChains(t *testing.T) {
	for err, want := range map[error]Rule{
		chain.ErrAlreadyVoted: RuleAlreadyVoted, chain.ErrIneligible: RuleIneligible,
		chain.ErrWrongPhase: RuleWrongPhase, chain.ErrUnknownElection: RuleKeyNotReady,
		chain.ErrBadBallot: RuleBadBallot, chain.ErrBallotChallenged: RuleBallotChallenged,
		chain.ErrBallotCast: RuleBallotCast, chain.ErrTrackingClash: RuleTrackingClash,
		chain.ErrDuplicate: RuleDuplicate, chain.ErrNotOfficial: RuleNotOfficial,
		chain.ErrBadTxSignature: RuleBadSignature,
	} {
		if got := RuleOf(fmt.Errorf("tx 3: %w", err)); got != want {
			t.Errorf("RuleOf(%v) = %q, want %q", err, got, want)
		}
		if chain.RuleError(string(want)) != err {
			t.Errorf("chain does not know rule %q", want)
		}
	}
	if got := RuleOf(fmt.Errorf("disk on fire")); got != RuleOther {
		t.Errorf("an unknown error is rule %q", got)
	}
	for _, r := range Rules() {
		if e := chain.RuleError(string(r)); e == nil && r != RulePendingVoter && r != RuleMempoolFull && r != RuleTooLarge && r != RuleOther {
			t.Errorf("rule %q is neither the chain's nor a station's", r)
		}
	}
}
