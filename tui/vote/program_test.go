package vote

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/tui/tuitest"
)

// These run the whole program (a real tea.Program with its renderer and
// real timers) through teatest.

func waitText(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(text)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

func TestProgramCastsABallot(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	tm := teatest.NewTestModel(t, New(testConfig(e, f)), teatest.WithInitialTermSize(80, 24))
	enter := tea.KeyMsg{Type: tea.KeyEnter}
	space := tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	waitText(t, tm, "The polls are OPEN.")
	tm.Send(enter)
	waitText(t, tm, "Your voting code")
	tm.Type(string(e.Codes[0]))
	waitText(t, tm, "The code checks out.")
	tm.Send(enter)
	waitText(t, tm, "Governor")
	tm.Send(space)
	tm.Send(enter)
	waitText(t, tm, "County council")
	tm.Send(space)
	tm.Send(enter)
	tm.Send(enter)
	waitText(t, tm, "Shall the county levy")
	tm.Send(space)
	tm.Send(enter)
	waitText(t, tm, "Sealed.")
	tm.Type("c")
	waitText(t, tm, "Cast this ballot?")
	tm.Type("y")
	waitText(t, tm, "Your vote is cast.")
	tm.Send(enter)
	waitText(t, tm, "Welcome.")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if m.screen != scrWelcome || m.voting != "" || m.choices != nil {
		t.Fatal("the program did not end on a clean welcome screen")
	}
	st, _ := f.Status(context.Background())
	if st.Counted != 1 || st.Turnout[0] != 1 {
		t.Fatalf("counted %d, turnout %v", st.Counted, st.Turnout)
	}
}

func TestProgramIdleTimeoutClears(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	cfg := testConfig(e, f)
	cfg.IdleTimeout, cfg.IdleWarning = 600*time.Millisecond, 300*time.Millisecond
	tm := teatest.NewTestModel(t, New(cfg), teatest.WithInitialTermSize(80, 24))
	waitText(t, tm, "The polls are OPEN.")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	tm.Type(string(e.Codes[0])[:7])
	waitText(t, tm, "6 of 24 symbols typed.")
	waitText(t, tm, "Are you still there?")
	waitText(t, tm, "Welcome.")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if m.screen != scrWelcome || m.code.len() != 0 {
		t.Fatalf("after the idle timeout: screen %d, %d code symbols kept", m.screen, m.code.len())
	}
}

func TestProgramShowsPollsClosing(t *testing.T) {
	e := tuitest.NewElection(t, "general", 5, 1)
	f := e.Station(t, 0)
	cfg := testConfig(e, f)
	cfg.Refresh = 50 * time.Millisecond
	tm := teatest.NewTestModel(t, New(cfg), teatest.WithInitialTermSize(80, 24))
	waitText(t, tm, "The polls are OPEN.")
	f.SetPhase(chain.PhaseClosed)
	waitText(t, tm, "The polls are CLOSED.")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}
