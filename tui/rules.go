package tui

import "github.com/urna-vote/urna/chain"

// Rule names the rule a station refused a transaction for: the names the
// client protocol carries (chain.RuleName for the election's rules, and the
// station's own admission limits). The screens map them to words (see each
// program's words.go); a name they do not single out gets general words.
type Rule string

// The rules the screens single out.
const (
	RuleAlreadyVoted     Rule = "already-voted"     // chain.ErrAlreadyVoted
	RuleIneligible       Rule = "ineligible"        // chain.ErrIneligible
	RuleWrongPhase       Rule = "wrong-phase"       // chain.ErrWrongPhase
	RuleKeyNotReady      Rule = "key-not-ready"     // chain.ErrUnknownElection
	RuleBadBallot        Rule = "bad-ballot"        // chain.ErrBadBallot
	RuleBallotChallenged Rule = "ballot-challenged" // chain.ErrBallotChallenged
	RuleBallotCast       Rule = "ballot-cast"       // chain.ErrBallotCast
	RuleTrackingClash    Rule = "tracking-clash"    // chain.ErrTrackingClash
	RuleDuplicate        Rule = "duplicate"         // chain.ErrDuplicate
	RuleNotOfficial      Rule = "not-official"      // chain.ErrNotOfficial
	RuleBadSignature     Rule = "bad-signature"     // chain.ErrBadTxSignature
	RulePendingVoter     Rule = "pending-voter"     // station: another ballot of this credential is waiting
	RuleMempoolFull      Rule = "mempool-full"      // station: too busy, try again shortly
	RuleTooLarge         Rule = "too-large"         // station: larger than a block can hold
	RuleOther            Rule = "other"             // anything else a station refuses
)

// RuleOf names the chain rule err breaks (chain.RuleName), or RuleOther.
func RuleOf(err error) Rule {
	if n := chain.RuleName(err); n != "" {
		return Rule(n)
	}
	return RuleOther
}

// Rules lists every rule name a terminal can be told, for tests that check
// each has words: the chain's rules for ballots and approvals and the
// station's admission limits.
func Rules() []Rule {
	return []Rule{
		RuleAlreadyVoted, RuleIneligible, RuleWrongPhase, RuleKeyNotReady, RuleBadBallot,
		RuleBallotChallenged, RuleBallotCast, RuleTrackingClash, RuleDuplicate, RuleNotOfficial,
		RuleBadSignature, "wrong-election", "unknown-station", "unsigned", "needless-signer",
		"bad-approval", "unknown-kind", "bad-payload", "not-canonical",
		RulePendingVoter, RuleMempoolFull, RuleTooLarge, RuleOther,
	}
}
