package vote

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
)

// next is what the voter can do after a problem.
type next int

const (
	nextStartOver    next = iota // forget everything, back to the welcome screen
	nextOtherStation             // pick another station of the genesis and send again
	nextRetry                    // send the same sealed ballot again to this station
	nextReenterCode              // type the voting code again; the choices are kept
	nextReseal                   // seal the same choices again (a new ballot)
)

// problem is a refusal or failure told in a voter's words: what happened
// and what to do next. Nothing in it is a developer's error string.
type problem struct {
	title string // one line: what happened
	say   string // why, and what it means for the voter's ballot
	next  string // what to do now
	then  next   // what Enter does
}

// explain turns an error from a station into words. phase is the last known
// phase (to tell "not open yet" from "closed"); challenging says whether
// the ballot was being challenged rather than cast.
func explain(err error, phase chain.Phase, challenging bool) problem {
	what := "cast"
	if challenging {
		what = "challenged"
	}
	var rej *tui.Rejection
	if !errors.As(err, &rej) {
		if errors.Is(err, tui.ErrUntrusted) {
			return problem{
				title: "This station's answer does not match the election's records.",
				say:   "The terminal checks every station against the election it was set up with, and this one failed the check. Nothing was " + what + ".",
				next:  "Do not vote through this station. Tell a poll worker, or choose another station below.",
				then:  nextOtherStation,
			}
		}
		return problem{
			title: "This station cannot be reached.",
			say:   "Your sealed ballot is still on this terminal, and nothing has been counted twice: sending it again, here or to another station, is safe.",
			next:  "Choose another station below to send it there, or tell a poll worker.",
			then:  nextOtherStation,
		}
	}
	switch rej.Rule {
	case tui.RuleAlreadyVoted:
		return problem{
			title: "This voting code has already been used to cast a ballot.",
			say:   "Each voting code casts one ballot. Nothing was " + what + " this time.",
			next:  "If you did not vote before, ask a poll worker for help.",
			then:  nextStartOver,
		}
	case tui.RulePendingVoter:
		return problem{
			title: "A ballot with this voting code is already being recorded.",
			say:   "Another ballot made with this code is waiting to be written in a block. Nothing was " + what + " this time.",
			next:  "If you did not just vote, ask a poll worker for help.",
			then:  nextStartOver,
		}
	case tui.RuleIneligible:
		return problem{
			title: "This voting code is not on the voter list of this election.",
			say:   "Nothing was " + what + ". Your choices are kept on this terminal.",
			next:  "Check that you typed the code from your own code sheet for this election, and type it again. Ask a poll worker if it still fails.",
			then:  nextReenterCode,
		}
	case tui.RuleWrongPhase, tui.RuleKeyNotReady:
		if phase >= chain.PhaseClosed {
			return problem{
				title: "The polls are closed.",
				say:   "No more ballots can be cast or challenged. Nothing was " + what + ".",
				next:  "Ask a poll worker if you think this is wrong.",
				then:  nextStartOver,
			}
		}
		return problem{
			title: "The polls are not open yet.",
			say:   "Ballots are taken only while the polls are open. Nothing was " + what + ".",
			next:  "Please wait until the officials open the polls, then start again.",
			then:  nextStartOver,
		}
	case tui.RuleMempoolFull:
		return problem{
			title: "The station is very busy right now.",
			say:   "Your sealed ballot is still on this terminal. Nothing was " + what + " yet.",
			next:  "Press Enter to send it again in a moment.",
			then:  nextRetry,
		}
	case tui.RuleBallotChallenged, tui.RuleTrackingClash:
		return problem{
			title: "This sealed ballot cannot be used any more.",
			say:   "Nothing was " + what + ". Your choices are kept on this terminal.",
			next:  "Press Enter to seal your choices again; you will get a new tracking code.",
			then:  nextReseal,
		}
	case tui.RuleBallotCast:
		return problem{
			title: "This ballot was already cast, so it cannot be challenged.",
			say:   "It is on the chain and will be counted.",
			next:  "Check its tracking code later to see it. Ask a poll worker if you did not cast it.",
			then:  nextStartOver,
		}
	}
	return problem{
		title: "The station refused the ballot this terminal made.",
		say:   fmt.Sprintf("Nothing was %s (the station's reason: %s).", what, rej.Rule),
		next:  "Please tell a poll worker: this terminal may be faulty.",
		then:  nextStartOver,
	}
}

// phaseWords says where the election stands, as the welcome screen tells
// it. The bool is whether voting is possible.
func phaseWords(p chain.Phase) (string, bool) {
	switch p {
	case chain.PhaseSetup:
		return "The polls are not open yet: the election is still being set up.", false
	case chain.PhaseReady:
		return "The polls are not open yet: waiting for the officials to open them.", false
	case chain.PhaseOpen:
		return "The polls are OPEN.", true
	case chain.PhaseClosed:
		return "The polls are CLOSED. Counting is under way.", false
	case chain.PhaseTallied:
		return "The polls are CLOSED. The results are published.", false
	}
	return "The state of the polls is not known yet.", false
}

func isKeyNotReady(err error) bool { return errors.Is(err, tui.ErrKeyNotReady) }

func codeLengthWords(n, want int) string {
	return fmt.Sprintf("A voting code has %d symbols; %d typed so far.", want, n)
}

func tooLongWords(want int) string {
	return fmt.Sprintf("%s A voting code has only %d symbols. Delete with backspace if one is wrong.", tui.BadMark, want)
}

func badSymbolWords(r rune) string {
	if unicode.IsPrint(r) {
		return fmt.Sprintf("%s \"%c\" is not used in voting codes. Check this symbol on your code sheet.", tui.BadMark, r)
	}
	return tui.BadMark + " That key is not a symbol of a voting code."
}

func codeWords(p codeProblem) string {
	switch p {
	case codeMistyped:
		return "This code does not check out: one symbol is probably mistyped. Nothing was sent. Compare it with your sheet, group by group."
	case codeBadSymbol:
		return "This code contains a symbol that voting codes never use. Check it against your sheet."
	}
	return "This is not a complete voting code."
}

func limitWords(limit int) string {
	if limit == 1 {
		return "You can choose only 1 here. Unmark your choice first (space) to choose another."
	}
	return fmt.Sprintf("You can choose at most %d here. Unmark a choice first (space) to choose another.", limit)
}

// sentence ends a title with a full stop unless it has its own.
func sentence(s string) string {
	if strings.HasSuffix(s, "?") || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}

func undervoteWords(n, limit int) string {
	if n == 0 {
		return "You have not chosen anyone here; this contest will be left blank. Press Enter again to leave it blank, or choose (space)."
	}
	return fmt.Sprintf("You chose %d of up to %d. Press Enter again to go on with %d, or choose more (space).", n, limit, n)
}
