package official

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui"
	"github.com/urna-vote/urna/tui/tuitest"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

type fixture struct {
	e *tuitest.Election
	f *tuitest.Fake
	d *tuitest.Driver
	m *Model
}

// console starts a console on station 0 of the general election (7
// stations, open and close quorums of 3), signed in as official (or
// read-only when official < 0), with the election in phase p.
func console(t *testing.T, official int, p chain.Phase, prepare func(*tuitest.Fake)) *fixture {
	t.Helper()
	e := tuitest.NewElection(t, "general", 200, 1)
	f := e.Station(t, 0)
	f.NoEvents = true
	f.SetPhase(p)
	if prepare != nil {
		prepare(f)
	}
	d := tuitest.NewDriver(t)
	cfg := Config{
		Genesis:   e.Genesis,
		Node:      f,
		Connected: e.Genesis.Stations()[0],
		After:     d.After,
		Now:       func() time.Time { return f.Clock().Add(3 * time.Second) },
	}
	if official >= 0 {
		cfg.Key = e.OfficialKey(official)
	}
	m := New(cfg)
	d.Start(m, 80, 24)
	return &fixture{e, f, d, m}
}

func isRefresh(m tea.Msg) bool { _, ok := m.(refreshMsg); return ok }

func TestDashboardShowsTheElection(t *testing.T) {
	x := console(t, 0, chain.PhaseOpen, func(f *tuitest.Fake) {
		f.SetPeers(1, 2, 3, 4, 5)
		f.AddTurnout(0, 40)
		f.AddTurnout(1, 20)
		f.AddTurnout(3, 7)
		f.SetMempool(4)
		f.Commit()
	})
	x.d.See(
		tui.GoodMark+" Phase     OPEN: the polls are open",
		tui.WarnMark+" Stations  6 of 7 online; OFFLINE: Eastfield Depot",
		"Chain     height 1, round 0, last block 3s ago",
		"Ballots   67 cast, 0 challenged; turnout 67 of 200 voters (33.5%)",
		"Mempool   4 waiting for a block",
		tui.GoodMark+" Key       election key verified from certified blocks; this station holds a matching share",
		"Opening   0 of 3 approvals needed",
		"Signed in as",
	)
	lines := strings.Split(x.d.View(), "\n")
	bars := map[string]string{}
	for _, l := range lines {
		for _, st := range x.e.Genesis.Stations() {
			if strings.HasPrefix(strings.TrimSpace(l), st.Name+" ") {
				bars[st.Name] = l
			}
		}
	}
	if n := strings.Count(bars["Harbour School"], "#"); n == 0 || strings.Count(bars["Old Town Hall"], "#") != n/2 {
		t.Errorf("bars are not to scale:\n%s\n%s", bars["Harbour School"], bars["Old Town Hall"])
	}
	if !strings.HasSuffix(bars["Eastfield Depot"], "OFFLINE") || !strings.HasSuffix(bars["Harbour School"], "online") {
		t.Errorf("online state is not said in words:\n%s\n%s", bars["Eastfield Depot"], bars["Harbour School"])
	}
	golden.RequireEqual(t, []byte(x.d.View()+"\n"))
}

func TestTooManyStationsDownIsAProblem(t *testing.T) {
	x := console(t, -1, chain.PhaseOpen, func(f *tuitest.Fake) { f.SetPeers(1, 2) })
	x.d.See(tui.BadMark+" Stations  3 of 7 online", "(more than 2 down: no blocks can be made)")
}

func TestApproveOpeningWithConfirmationAndQuorum(t *testing.T) {
	x := console(t, 0, chain.PhaseReady, nil)
	x.d.Type("o")
	x.d.See(tui.WarnMark+" Approve OPENING the polls?", "cannot be taken back", "once 3 of the 5 officials have approved. Approved so far: 0.")
	x.d.Type("n")
	x.d.NotSee("Approve OPENING")
	if len(x.f.Submitted) != 0 {
		t.Fatal("declining sent an approval")
	}
	x.d.Type("o")
	x.d.Type("y")
	x.d.See(tui.GoodMark + " Your approval of opening the polls is on the chain in block 1.")
	officials := x.e.Genesis.Officials()
	x.d.See("Opening   1 of 3 approvals needed (" + officials[0].Name + ")")

	x.d.Type("o")
	x.d.See(tui.WarnMark + " You have already approved opening the polls.")

	// Two more officials approve elsewhere: the quorum is reached.
	for i := 1; i <= 2; i++ {
		tx := chain.NewApprovalTx(x.e.Genesis.Fingerprint(), chain.ActionOpen, x.e.OfficialKey(i)).Encode()
		if _, err := x.f.Submit(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
	x.f.Commit()
	x.d.Fire(isRefresh)
	x.d.See(tui.GoodMark+" Phase     OPEN", tui.GoodMark+" Opening   3 of 3 approvals needed", "quorum reached")

	x.d.Type("c")
	x.d.See("Approve CLOSING the polls?", "no more ballots are taken")
	x.d.Type("y")
	x.d.See("Your approval of closing the polls is on the chain in block 3.", "Closing   1 of 3 approvals needed")
}

func TestApprovalRefusals(t *testing.T) {
	x := console(t, -1, chain.PhaseReady, nil)
	x.d.Type("o")
	x.d.See(tui.BadMark + " This console is read-only")
	x.d.NotSee("o approve opening") // help shows only what works

	x = console(t, 1, chain.PhaseOpen, nil)
	x.d.Type("o")
	x.d.See(tui.BadMark + " Opening the polls can be approved only when the phase is READY; it is OPEN.")

	for rule, words := range map[tui.Rule]string{
		tui.RuleNotOfficial:  "This key is not an official of this election.",
		tui.RuleDuplicate:    "You have already approved opening the polls",
		tui.RuleWrongPhase:   "Opening the polls cannot be approved in this phase.",
		tui.RuleBadSignature: "signature does not verify",
	} {
		x = console(t, 1, chain.PhaseReady, func(f *tuitest.Fake) { f.Reject = &tui.Rejection{Rule: rule} })
		x.d.Type("o")
		x.d.Type("y")
		x.d.See(tui.BadMark+" ", words)
	}

	x = console(t, 1, chain.PhaseReady, nil)
	x.f.Lock()
	x.f.Down = true
	x.f.Unlock()
	x.d.Type("o")
	x.d.Type("y")
	x.d.See("cannot be reached", "a second approval is refused, never counted twice")
}

func TestUnreachableStation(t *testing.T) {
	x := console(t, -1, chain.PhaseOpen, nil)
	x.f.Lock()
	x.f.Down = true
	x.f.Unlock()
	x.d.Fire(isRefresh)
	x.d.See(tui.BadMark+" Station   cannot be reached now; the figures below are from", tui.GoodMark+" Phase     OPEN")
}

func TestKeyStatus(t *testing.T) {
	x := console(t, -1, chain.PhaseSetup, nil)
	x.d.See(tui.WarnMark + " Key       key ceremony in progress")
	x = console(t, -1, chain.PhaseReady, func(f *tuitest.Fake) { f.KeyErr = tui.ErrUntrusted })
	x.d.See(tui.BadMark + " Key       the station's election key does NOT verify against the genesis")
}

func TestVerifiedResults(t *testing.T) {
	x := console(t, -1, chain.PhaseOpen, nil)
	x.d.Type("r")
	x.d.See("No results yet: the tally is done after the polls close (the phase is OPEN).")
	x.d.Key(tea.KeyEsc)
	x.f.SetResults([][]uint64{{12, 30, 5, 0, 1}, {20, 25, 3, 9, 30, 0, 2}, {31, 17}})
	x.d.Fire(isRefresh)
	x.d.Type("r")
	x.d.See(tui.GoodMark+" Verified results", "not taken from the station's word", "Governor", "Ivan Petrov", "30  (most votes)", "Sami Haddad", "Yes, approve the levy")
	golden.RequireEqual(t, []byte(x.d.View()+"\n"))
}

func TestEventsRefreshTheDashboard(t *testing.T) {
	e := tuitest.NewElection(t, "general", 20, 1)
	f := e.Station(t, 0)
	d := tuitest.NewDriver(t)
	m := New(Config{Genesis: e.Genesis, Node: f, Connected: e.Genesis.Stations()[0], After: d.After})
	d.Attach(m)
	d.Handle(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.Handle(tea.BatchMsg{m.Init()})
	d.SettleUntil(func() bool { return m.events != nil && d.Running() == 1 })
	d.See("height 0")
	f.AddTurnout(2, 5)
	f.Commit() // an event, no timer fired
	d.SettleUntil(func() bool { return m.status.Height == 1 && d.Running() == 1 })
	d.See("height 1", "Ballots   5 cast")
	m.stop()
	d.SettleUntil(func() bool { return m.events == nil && d.Running() == 0 })
}

func TestConsoleFitsEverySize(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 20}, {132, 43}, {44, 16}} {
		x := console(t, 0, chain.PhaseOpen, func(f *tuitest.Fake) { f.AddTurnout(2, 1234) })
		x.d.Send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, k := range []string{"", "c", "n", "r"} {
			if k != "" {
				x.d.Type(k)
			}
			lines := strings.Split(x.d.View(), "\n")
			if len(lines) != size[1] {
				t.Errorf("%v after %q: %d lines", size, k, len(lines))
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > size[0] {
					t.Errorf("%v after %q: line %d is %d wide: %q", size, k, i, w, l)
				}
			}
		}
	}
}

func TestProgramApproves(t *testing.T) {
	e := tuitest.NewElection(t, "general", 20, 1)
	f := e.Station(t, 0)
	f.SetPhase(chain.PhaseReady)
	tm := teatest.NewTestModel(t, New(Config{Genesis: e.Genesis, Node: f, Connected: e.Genesis.Stations()[0], Key: e.OfficialKey(2)}),
		teatest.WithInitialTermSize(80, 24))
	wait := func(s string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
			teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("READY: the key is known")
	tm.Type("o")
	wait("Approve OPENING the polls?")
	tm.Type("y")
	wait("is on the chain in block 1")
	tm.Type("q")
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if got := m.status.OpenApprovals; len(got) != 1 || got[0] != 2 {
		t.Fatalf("open approvals %v", got)
	}
}

func TestAccessibleConsole(t *testing.T) {
	e := tuitest.NewElection(t, "general", 20, 1)
	f := e.Station(t, 0)
	f.SetPhase(chain.PhaseReady)
	var out bytes.Buffer
	in := strings.NewReader("1\n2\ny\n2\n3\n4\nq\n")
	cfg := Config{Genesis: e.Genesis, Node: f, Connected: e.Genesis.Stations()[0], Key: e.OfficialKey(0)}
	if err := RunAccessible(context.Background(), cfg, in, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, "\x1b") {
		t.Fatal("escape sequences in line mode")
	}
	for _, want := range []string{
		"Phase (attention): READY: the key is known; the polls are not open yet.",
		"Stations (good): 7 of 7 online.",
		"Ballots cast per station: Harbour School 0 (online);",
		"Approve opening the polls? Your approval is signed",
		"Your approval of opening the polls is on the chain in block 1.",
		"Opening: 1 of 3 approvals needed (",
		"You have already approved opening the polls.",
		"Closing the polls can be approved only when the phase is OPEN; it is READY.",
		"No results yet",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("line mode did not say %q:\n%s", want, s)
		}
	}
}
