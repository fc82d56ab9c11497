package official

import (
	"errors"
	"strconv"
	"strings"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
)

func actionNoun(a chain.Action) string {
	if a == chain.ActionClose {
		return "closing the polls"
	}
	return "opening the polls"
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// refusalWords says why an approval did not make it, and what to do.
func refusalWords(err error, a chain.Action) string {
	var rej *tui.Rejection
	if !errors.As(err, &rej) {
		return "The station cannot be reached, or the block did not come in time: your approval may not be on the chain. Watch the quorum line; approve again if it does not count you (a second approval is refused, never counted twice)."
	}
	switch rej.Rule {
	case tui.RuleDuplicate:
		return "You have already approved " + actionNoun(a) + "; the chain counts each official once."
	case tui.RuleWrongPhase:
		return capital(actionNoun(a)) + " cannot be approved in this phase."
	case tui.RuleNotOfficial:
		return "This key is not an official of this election."
	case tui.RuleBadSignature:
		return "The station says the approval's signature does not verify: check the key file."
	case tui.RuleMempoolFull:
		return "The station is too busy right now; try again in a moment."
	}
	return "The station refused the approval (" + string(rej.Rule) + ")."
}
