package tuitest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
)

// Driver runs a Bubble Tea model the way a tea.Program does, but one step
// at a time so a test can check every screen: each command runs in a
// goroutine and its message is fed back to Update. Timers never fire by
// themselves: a model built with After as its timer hook hands them to the
// driver, and the test fires them with Fire.
type Driver struct {
	t       testing.TB
	m       tea.Model
	msgs    chan tea.Msg
	running int
	timers  []tea.Msg
	// Quit is set once the model asked to quit.
	Quit bool
}

type timerMsg struct{ msg tea.Msg }

// NewDriver returns a driver; build the model with d.After as its timer
// hook, then Start it.
func NewDriver(t testing.TB) *Driver {
	return &Driver{t: t, msgs: make(chan tea.Msg, 64)}
}

// After is the timer hook to give the model: the message is kept for Fire.
func (d *Driver) After(_ time.Duration, msg tea.Msg) tea.Cmd {
	return func() tea.Msg { return timerMsg{msg} }
}

// Start sends the window size, runs Init and settles.
func (d *Driver) Start(m tea.Model, width, height int) {
	d.t.Helper()
	d.m = m
	d.Send(tea.WindowSizeMsg{Width: width, Height: height})
	d.run(m.Init())
	d.Settle()
}

// Attach sets the model without starting it, for a test that starts it
// with Handle and SettleUntil (its Init leaves a command blocked).
func (d *Driver) Attach(m tea.Model) { d.m = m }

func (d *Driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.running++
	go func() { d.msgs <- cmd() }()
}

// Running is the number of commands that have not answered yet.
func (d *Driver) Running() int { return d.running }

// Settle feeds messages back until every command has answered.
func (d *Driver) Settle() {
	d.t.Helper()
	d.SettleUntil(func() bool { return d.running == 0 })
}

// SettleUntil feeds messages back until done holds (for a test whose
// command is meant to stay blocked, e.g. on a held block).
func (d *Driver) SettleUntil(done func() bool) {
	d.t.Helper()
	for !done() {
		select {
		case msg := <-d.msgs:
			d.running--
			d.Handle(msg)
		case <-time.After(20 * time.Second):
			d.t.Fatalf("%d commands did not answer", d.running)
		}
	}
}

// Handle delivers one message without settling.
func (d *Driver) Handle(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	case timerMsg:
		d.timers = append(d.timers, msg.msg)
	case spinner.TickMsg:
		// The spinner animates on a timer; its frames are not checked.
	case tea.QuitMsg:
		d.Quit = true
	default:
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

// Send delivers one message and settles.
func (d *Driver) Send(msg tea.Msg) {
	d.t.Helper()
	d.Handle(msg)
	d.Settle()
}

// Key presses a special key.
func (d *Driver) Key(k tea.KeyType) {
	d.t.Helper()
	if k == tea.KeySpace {
		d.Send(tea.KeyMsg{Type: k, Runes: []rune{' '}})
		return
	}
	d.Send(tea.KeyMsg{Type: k})
}

// Type types text (as one burst of runes, as a paste or a fast typist).
func (d *Driver) Type(s string) {
	d.t.Helper()
	d.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)})
}

// Fire delivers the newest pending timer message that match accepts.
func (d *Driver) Fire(match func(tea.Msg) bool) {
	d.t.Helper()
	for i := len(d.timers) - 1; i >= 0; i-- {
		if match(d.timers[i]) {
			msg := d.timers[i]
			d.timers = append(d.timers[:i], d.timers[i+1:]...)
			d.Send(msg)
			return
		}
	}
	d.t.Fatal("no such timer pending")
}

// View is the model's view.
func (d *Driver) View() string { return d.m.View() }

// Flat collapses runs of white space, so a sentence is found whatever line
// breaks wrapping put into it.
func Flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// See fails unless the view shows every one of texts.
func (d *Driver) See(texts ...string) {
	d.t.Helper()
	v := d.View()
	for _, s := range texts {
		if !strings.Contains(v, s) && !strings.Contains(Flat(v), Flat(s)) {
			d.t.Fatalf("screen does not show %q:\n%s", s, v)
		}
	}
}

// NotSee fails if the view shows any of texts.
func (d *Driver) NotSee(texts ...string) {
	d.t.Helper()
	v := d.View()
	for _, s := range texts {
		if strings.Contains(v, s) || strings.Contains(Flat(v), Flat(s)) {
			d.t.Fatalf("screen shows %q:\n%s", s, v)
		}
	}
}

// SyncBuffer is a bytes.Buffer safe for one writer and one reader
// goroutine.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
