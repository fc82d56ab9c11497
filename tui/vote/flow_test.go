package vote

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
	"github.com/urna-vote/urna/tui/tuitest"
)

// setup is a terminal at station 0 of the general election (3 contests:
// governor limit 1, council limit 3, a referendum) with 5 voters.
func setup(t *testing.T) (*tuitest.Election, *tuitest.Fake, *driver) {
	t.Helper()
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	return e, f, newDriver(t, testConfig(e, f))
}

// enterCode goes from the welcome screen to the first contest.
func (d *driver) enterCode(code ballot.VotingCode) {
	d.t.Helper()
	d.at(scrWelcome)
	d.key(tea.KeyEnter)
	d.at(scrCode)
	d.typ(string(code))
	d.key(tea.KeyEnter)
	d.at(scrContest)
}

// mark marks the candidates at the given positions of the contest on
// screen (from the top), then goes on (confirming an undervote).
func (d *driver) mark(positions ...int) {
	d.t.Helper()
	for _, p := range positions {
		for d.m.cursor != p {
			d.key(tea.KeyDown)
		}
		d.space()
	}
	c := d.m.contest
	d.key(tea.KeyEnter)
	if d.m.screen == scrContest && d.m.contest == c {
		d.key(tea.KeyEnter) // past the undervote warning
	}
}

// ballotFor marks governor 1, council 0 and 2, referendum 0 and reaches the
// review with the ballot sealed.
func (d *driver) ballotFor(code ballot.VotingCode) {
	d.t.Helper()
	d.enterCode(code)
	d.mark(1)
	d.mark(0, 2)
	d.mark(0)
	d.at(scrReview)
	if d.m.sealed == nil {
		d.t.Fatalf("ballot not sealed: %v", d.m.sealErr)
	}
}

func TestCastIsCommittedAndForgotten(t *testing.T) {
	_, f, d := setup(t)
	code := tuitest.NewElection(t, "general", 5, 1).Codes[0]
	d.ballotFor(code)
	d.see("Ivan Petrov", "Maria Santos, Olga Ivanova", "Yes, approve the levy", "Sealed.")
	tracking := d.m.sealed.tracking
	d.typ("c")
	d.at(scrConfirm)
	d.see("Cast this ballot?", "cannot be changed or taken back")
	d.typ("y")
	d.at(scrCast)
	d.see("Your vote is cast. It is recorded in block 1", "Your tracking code:", "check a tracking code")
	if got := f.Tracked(tracking); got.Status != chain.StatusCast || got.Height != 1 {
		t.Fatalf("the chain holds %+v for %s", got, tracking)
	}
	if len(f.Submitted) != 1 {
		t.Fatalf("%d transactions sent, want 1", len(f.Submitted))
	}
	// The tracking code is shown whole, spaced group by group.
	for _, g := range strings.Split(tracking, "-") {
		d.see(tui.Spaced(g))
	}
	// Secrets are gone as soon as the ballot is committed.
	if d.m.voting != "" || d.m.code.len() != 0 || d.m.choices != nil || d.m.sealed != nil || d.m.pendingTx != nil {
		t.Fatal("the terminal still holds the code, the choices or the sealed ballot after the cast")
	}
	d.key(tea.KeyEnter)
	d.at(scrWelcome)
	if d.m.tracking != "" {
		t.Fatal("the tracking code is still shown after finishing")
	}
}

func TestWaitingForBlockIsShownThenCommitted(t *testing.T) {
	_, f, d := setup(t)
	f.Lock()
	f.Hold = true
	f.Unlock()
	d.ballotFor(tuitest.NewElection(t, "general", 5, 1).Codes[1])
	d.typ("c")
	d.waitingForBlock()
	d.at(scrSending)
	d.see("Accepted by Harbour School.", "Waiting for it to be written in a block")
	d.notSee("Your vote is cast")
	f.Commit()
	d.settle()
	d.at(scrCast)
	d.see("recorded in block 1")
}

func TestCodeIsMaskedGroupedAndRevealed(t *testing.T) {
	e, _, d := setup(t)
	code := string(e.Codes[0])
	d.key(tea.KeyEnter)
	d.typ(strings.ToLower(strings.ReplaceAll(code, "-", ""))[:6])
	d.see("****-**__-____-____-____-____", "6 of 24 symbols typed", "(hidden: tab shows it)")
	d.notSee(code[:4])
	d.key(tea.KeyTab)
	d.see(code[:4]+"-"+code[5:7]+"__-", "(shown: tab hides it)")
	d.key(tea.KeyTab)
	d.notSee(code[:4])
	d.key(tea.KeyBackspace)
	d.see("5 of 24")
}

func TestTypoIsCaughtBeforeAnythingIsSent(t *testing.T) {
	e, f, d := setup(t)
	code := []byte(strings.ReplaceAll(string(e.Codes[0]), "-", ""))
	// One symbol changed: the check symbol catches it.
	if code[3] == '7' {
		code[3] = '8'
	} else {
		code[3] = '7'
	}
	d.key(tea.KeyEnter)
	d.typ(string(code))
	d.see("does not check out: one symbol is probably mistyped")
	d.key(tea.KeyEnter)
	d.at(scrCode)
	d.see("mistyped", "Nothing was sent")
	if len(f.Submitted) != 0 || d.m.voting != "" {
		t.Fatal("a mistyped code went further than the code screen")
	}

	// A symbol no code contains is refused as it is typed.
	for range 24 {
		d.key(tea.KeyBackspace)
	}
	d.typ("U")
	d.see(`"U" is not used in voting codes`, "0 of 24")
	// Too short, too long.
	d.typ("ABC")
	d.key(tea.KeyEnter)
	d.see("A voting code has 24 symbols; 3 typed so far.")
	d.typ(strings.Repeat("A", 30))
	d.see("has only 24 symbols", "****-****-****-****-****-****")
}

func TestLimitIsRefusedWithAMessage(t *testing.T) {
	e, _, d := setup(t)
	d.enterCode(e.Codes[0])
	// Governor: limit 1.
	d.space()
	d.key(tea.KeyDown)
	d.space()
	d.see("You can choose only 1 here")
	if got := d.m.marked(0); got != 1 {
		t.Fatalf("%d marked in a contest of limit 1", got)
	}
	d.see("> [ ] Ivan Petrov", "  [x] Harriet Osei  (chosen)")
	// Unmarking makes room.
	d.key(tea.KeyUp)
	d.space()
	d.key(tea.KeyDown)
	d.space()
	d.see("  [ ] Harriet Osei", "> [x] Ivan Petrov  (chosen)")
	d.notSee("You can choose only")
	d.key(tea.KeyEnter)
	// Council: limit 3.
	for range 4 {
		d.space()
		d.key(tea.KeyDown)
	}
	d.see("You can choose at most 3 here", "Chosen: 3 of 3.")
	if got := d.m.marked(1); got != 3 {
		t.Fatalf("%d marked in a contest of limit 3", got)
	}
}

func TestUndervoteIsAllowedAfterAWarning(t *testing.T) {
	e, _, d := setup(t)
	d.enterCode(e.Codes[0])
	d.key(tea.KeyEnter) // governor left blank
	d.at(scrContest)
	d.see("You have not chosen anyone here; this contest will be left blank.")
	if d.m.contest != 0 {
		t.Fatal("an undervote went on without a warning")
	}
	d.key(tea.KeyEnter)
	if d.m.contest != 1 {
		t.Fatal("an undervote was not allowed after the warning")
	}
	d.space() // council: 1 of 3
	d.key(tea.KeyEnter)
	d.see("You chose 1 of up to 3.")
	d.space() // a change of marks clears the warning: the next Enter warns again
	d.key(tea.KeyEnter)
	d.see("You have not chosen anyone here")
	if d.m.contest != 1 {
		t.Fatal("the warning survived a change of marks")
	}
	d.key(tea.KeyEnter)
	d.mark(1)
	d.at(scrReview)
	d.see("(blank: nobody chosen)", "No, reject the levy")
}

func TestChallengeIsNotCountedShowsChoicesAndVotesAgain(t *testing.T) {
	e, f, d := setup(t)
	d.ballotFor(e.Codes[2])
	first := d.m.sealed.tracking
	d.typ("h")
	d.at(scrConfirm)
	d.see("Challenge this ballot?", "NEVER counted")
	d.typ("y")
	d.at(scrChallenged)
	d.see("This ballot will NOT be counted", "block 1", "Ivan Petrov", "Maria Santos, Olga Ivanova", "Yes, approve the levy", first, "challenged")
	if got := f.Tracked(first); got.Status != chain.StatusChallenged {
		t.Fatalf("challenged ballot is %+v on the chain", got)
	}
	st, _ := f.Status(context.Background())
	if st.Counted != 0 || st.Spoiled != 1 {
		t.Fatalf("after a challenge: %d counted, %d spoiled", st.Counted, st.Spoiled)
	}
	// The revealed choices come from the opened ballot, not the terminal's
	// memory: they equal what was marked.
	want := ballot.Choices{{false, true, false, false, false}, {true, false, true, false, false, false, false}, {true, false}}
	if !sameChoices(d.m.revealed, want) {
		t.Fatalf("revealed %v, want %v", d.m.revealed, want)
	}
	// Vote again: choices kept, a new ballot with a new code.
	d.key(tea.KeyEnter)
	d.at(scrContest)
	d.see("> [ ] Harriet Osei", "[x] Ivan Petrov")
	d.key(tea.KeyEnter)
	d.key(tea.KeyEnter)
	d.key(tea.KeyEnter)
	d.at(scrReview)
	second := d.m.sealed.tracking
	if second == first {
		t.Fatal("the ballot after a challenge has the challenged ballot's tracking code")
	}
	d.typ("c")
	d.typ("y")
	d.at(scrCast)
	if got := f.Tracked(second); got.Status != chain.StatusCast {
		t.Fatalf("cast after challenge: %+v", got)
	}
}

func sameChoices(a, b ballot.Choices) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// TestRejectionsAreToldInWords checks the words and the next step of every
// refusal a voter can meet, through the screens.
func TestRejectionsAreToldInWords(t *testing.T) {
	cases := []struct {
		rule  tui.Rule
		phase chain.Phase
		title string
		enter screen // where Enter leads
	}{
		{tui.RuleAlreadyVoted, chain.PhaseOpen, "already been used to cast a ballot", scrWelcome},
		{tui.RulePendingVoter, chain.PhaseOpen, "already being recorded", scrWelcome},
		{tui.RuleIneligible, chain.PhaseOpen, "not on the voter list", scrCode},
		{tui.RuleWrongPhase, chain.PhaseReady, "The polls are not open yet.", scrWelcome},
		{tui.RuleWrongPhase, chain.PhaseClosed, "The polls are closed.", scrWelcome},
		{tui.RuleMempoolFull, chain.PhaseOpen, "very busy", scrCast},
		{tui.RuleBallotChallenged, chain.PhaseOpen, "cannot be used any more", scrReview},
		{tui.RuleTrackingClash, chain.PhaseOpen, "cannot be used any more", scrReview},
		{tui.RuleBadBallot, chain.PhaseOpen, "refused the ballot this terminal made", scrWelcome},
		{"bad-payload", chain.PhaseOpen, "refused the ballot this terminal made", scrWelcome},
	}
	for _, c := range cases {
		t.Run(string(c.rule)+"/"+c.phase.String(), func(t *testing.T) {
			e, f, d := setup(t)
			d.ballotFor(e.Codes[0])
			d.typ("c")
			f.Lock()
			f.Reject = &tui.Rejection{Rule: c.rule, Message: "station words"}
			f.Unlock()
			d.m.status.Phase = c.phase // as the last status said
			d.typ("y")
			d.at(scrProblem)
			d.see(tui.BadMark+" ", c.title)
			d.notSee("station words") // the station's own text is for the log, not the voter
			d.key(tea.KeyEnter)
			d.at(c.enter)
		})
	}
}

func TestEveryRuleHasWords(t *testing.T) {
	generic := explain(&tui.Rejection{Rule: tui.RuleOther}, chain.PhaseOpen, false).title
	voterRules := map[tui.Rule]bool{
		tui.RuleAlreadyVoted: true, tui.RulePendingVoter: true, tui.RuleIneligible: true, tui.RuleWrongPhase: true,
		tui.RuleMempoolFull: true, tui.RuleBallotChallenged: true, tui.RuleBallotCast: true, tui.RuleTrackingClash: true,
		tui.RuleKeyNotReady: true,
	}
	for _, r := range tui.Rules() {
		for _, ch := range []bool{false, true} {
			p := explain(&tui.Rejection{Rule: r}, chain.PhaseOpen, ch)
			if p.title == "" || p.say == "" || p.next == "" {
				t.Errorf("rule %s: incomplete words %+v", r, p)
			}
			if voterRules[r] == (p.title == generic) {
				t.Errorf("rule %s: title %q", r, p.title)
			}
		}
	}
	if p := explain(errors.New("connection reset"), chain.PhaseOpen, false); p.then != nextOtherStation {
		t.Errorf("a broken connection leads to %v", p.then)
	}
	if p := explain(tui.ErrUntrusted, chain.PhaseOpen, false); !strings.Contains(p.title, "does not match") {
		t.Errorf("untrusted answer: %q", p.title)
	}
}

func TestAlreadyVotedByTheRealRule(t *testing.T) {
	e, f, d := setup(t)
	d.ballotFor(e.Codes[3])
	d.typ("c")
	d.typ("y")
	d.at(scrCast)
	d.key(tea.KeyEnter)
	d.ballotFor(e.Codes[3])
	d.typ("c")
	d.typ("y")
	d.at(scrProblem)
	d.see("This voting code has already been used to cast a ballot.")
	if st, _ := f.Status(context.Background()); st.Counted != 1 {
		t.Fatalf("%d ballots counted for one code", st.Counted)
	}
}

func TestIneligibleCodeIsTypedAgainKeepingChoices(t *testing.T) {
	e, f, d := setup(t)
	stranger, err := ballot.NewVotingCode(nil)
	if err != nil {
		t.Fatal(err)
	}
	d.ballotFor(stranger)
	d.typ("c")
	d.typ("y")
	d.see("not on the voter list of this election", "Your choices are kept")
	d.key(tea.KeyEnter)
	d.at(scrCode)
	d.see("0 of 24")
	d.typ(string(e.Codes[4]))
	d.key(tea.KeyEnter)
	d.at(scrReview) // straight back, choices kept, sealed with the new code
	d.see("Ivan Petrov", "Maria Santos, Olga Ivanova")
	if d.m.sealed == nil {
		t.Fatal("not sealed again")
	}
	d.typ("c")
	d.typ("y")
	d.at(scrCast)
	if st, _ := f.Status(context.Background()); st.Counted != 1 {
		t.Fatalf("counted %d", st.Counted)
	}
}

func TestPollsNotOpen(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	f.SetPhase(chain.PhaseReady)
	d := newDriver(t, testConfig(e, f))
	d.see(tui.BadMark + " The polls are not open yet: waiting for the officials to open them.")
	d.key(tea.KeyEnter)
	d.at(scrWelcome)
	d.see("waiting for the officials")
	f.SetPhase(chain.PhaseClosed)
	d.fire(isRefresh)
	d.see("The polls are CLOSED.")
}

func isRefresh(m tea.Msg) bool { _, ok := m.(refreshMsg); return ok }

func TestUntrustedKeyRefusesVoting(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	f.KeyErr = tui.ErrUntrusted
	d := newDriver(t, testConfig(e, f))
	d.see("election key does not check out. Do not vote here")
	d.key(tea.KeyEnter)
	d.at(scrWelcome)
}

func TestUnreachableStationRetriesAnotherWithTheSameBallot(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	other := f.At(1)
	var dialed []string
	cfg := testConfig(e, f)
	cfg.Dial = func(ctx context.Context, st genesis.Station) (tui.Node, error) {
		dialed = append(dialed, st.ID)
		if st.ID == "st-02" {
			return nil, errors.New("no route")
		}
		return other, nil
	}
	d := newDriver(t, cfg)
	d.ballotFor(e.Codes[0])
	tracking := d.m.sealed.tracking
	d.typ("c")
	f.Lock()
	f.Down = true
	f.Unlock()
	d.typ("y")
	d.at(scrProblem)
	d.see(tui.BadMark+" This station cannot be reached.", "safe", "> Old Town Hall", "Mill Lane Library")
	d.notSee("> Harbour School")
	d.key(tea.KeyEnter) // Old Town Hall: unreachable too
	d.see("Old Town Hall cannot be reached either")
	d.at(scrProblem)
	d.key(tea.KeyDown)
	d.key(tea.KeyEnter) // Mill Lane Library
	d.at(scrCast)
	d.see("(via Mill Lane Library)")
	if strings.Join(dialed, ",") != "st-02,st-03" {
		t.Fatalf("dialed %v", dialed)
	}
	if !f.Closed {
		t.Fatal("the unreachable station's connection was not closed")
	}
	got := f.Tracked(tracking)
	if got.Status != chain.StatusCast {
		t.Fatalf("the sealed ballot sent elsewhere is %+v", got)
	}
	// The ballot names the terminal's station, not the one it went through.
	st, _ := other.Status(context.Background())
	if st.Turnout[0] != 1 || st.Turnout[2] != 0 {
		t.Fatalf("turnout %v", st.Turnout)
	}
}

func TestIdleTimeoutWarnsThenClearsEverything(t *testing.T) {
	e, _, d := setup(t)
	d.enterCode(e.Codes[0])
	d.space()
	d.fireIdle(true)
	d.see("Are you still there?")
	d.key(tea.KeyDown) // a key press cancels the pending clear
	d.notSee("Are you still there?")
	stale := idleMsg{gen: d.m.idleGen - 1}
	d.send(stale)
	d.at(scrContest)
	d.fireIdle(true)
	d.fireIdle(false)
	d.at(scrWelcome)
	if d.m.voting != "" || d.m.choices != nil || d.m.code.len() != 0 {
		t.Fatal("idle timeout left the code or choices in memory")
	}
}

func TestIdleClearsTheTrackingCodeScreen(t *testing.T) {
	e, _, d := setup(t)
	d.ballotFor(e.Codes[0])
	d.typ("c")
	d.typ("y")
	d.at(scrCast)
	d.fireIdle(true)
	d.fireIdle(false)
	d.at(scrWelcome)
}

func TestCheckATrackingCode(t *testing.T) {
	e, f, d := setup(t)
	d.ballotFor(e.Codes[0])
	cast := d.m.sealed.tracking
	d.typ("c")
	d.typ("y")
	d.key(tea.KeyEnter)
	d.typ("t")
	d.at(scrTrack)
	d.typ(strings.ToLower(cast))
	d.key(tea.KeyEnter)
	d.see(tui.GoodMark+" Found: "+cast+" was CAST.", "block 1")

	for range len(cast) {
		d.key(tea.KeyBackspace)
	}
	missing := strings.Repeat("0", len(strings.ReplaceAll(cast, "-", "")))
	d.typ(missing)
	d.key(tea.KeyEnter)
	d.see("Not found: no ballot with code")
	d.typ("7")
	d.key(tea.KeyEnter)
	d.see("not a complete tracking code")

	f.Lock()
	f.Down = true
	f.Unlock()
	d.key(tea.KeyBackspace)
	d.key(tea.KeyEnter)
	d.see("could not be asked right now")
	d.key(tea.KeyEsc)
	d.at(scrWelcome)
}

func TestLogsHoldNoCodeOrChoice(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	var logs bytes.Buffer
	cfg := testConfig(e, f)
	cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := newDriver(t, cfg)
	d.ballotFor(e.Codes[0])
	d.typ("c")
	d.typ("y")
	d.at(scrCast)
	out := logs.String()
	if !strings.Contains(out, "submit") {
		t.Fatalf("nothing logged: %q", out)
	}
	code := string(e.Codes[0])
	for _, secret := range []string{code, strings.ReplaceAll(code, "-", ""), code[:9], "Ivan Petrov", "ivan-petrov", "Maria Santos"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}

func TestQuitForgets(t *testing.T) {
	e, _, d := setup(t)
	d.enterCode(e.Codes[0])
	d.key(tea.KeyCtrlC)
	if !d.Quit || d.m.voting != "" || d.m.choices != nil {
		t.Fatal("ctrl+c did not quit and forget")
	}
}
