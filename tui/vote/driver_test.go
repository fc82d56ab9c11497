package vote

import (
	"math/rand/v2"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/urna-vote/urna/tui/tuitest"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

// driver is a tuitest.Driver that knows the voter terminal's model.
type driver struct {
	*tuitest.Driver
	t *testing.T
	m *Model
}

// testConfig is a terminal at station 0 of e, talking to f.
func testConfig(e *tuitest.Election, f *tuitest.Fake) Config {
	return Config{
		Genesis: e.Genesis,
		Station: e.Genesis.Stations()[0],
		Node:    f,
		Rand:    rand.NewChaCha8([32]byte{7}),
	}
}

func newDriver(t *testing.T, cfg Config) *driver {
	t.Helper()
	d := &driver{Driver: tuitest.NewDriver(t), t: t}
	cfg.After = d.After
	d.m = New(cfg)
	d.Start(d.m, 80, 24)
	return d
}

func (d *driver) send(msg tea.Msg)    { d.t.Helper(); d.Send(msg) }
func (d *driver) settle()             { d.t.Helper(); d.Settle() }
func (d *driver) key(k tea.KeyType)   { d.t.Helper(); d.Key(k) }
func (d *driver) typ(s string)        { d.t.Helper(); d.Type(s) }
func (d *driver) space()              { d.t.Helper(); d.Key(tea.KeySpace) }
func (d *driver) view() string        { return d.View() }
func (d *driver) see(texts ...string) { d.t.Helper(); d.See(texts...) }
func (d *driver) notSee(t ...string)  { d.t.Helper(); d.NotSee(t...) }
func (d *driver) fire(match func(tea.Msg) bool) {
	d.t.Helper()
	d.Fire(match)
}

func (d *driver) at(s screen) {
	d.t.Helper()
	if d.m.screen != s {
		d.t.Fatalf("screen is %d, want %d:\n%s", d.m.screen, s, d.view())
	}
}

// waitingForBlock presses y to confirm a cast to a station that holds its
// blocks, and returns when the terminal waits for the block.
func (d *driver) waitingForBlock() {
	d.t.Helper()
	d.Handle(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	d.SettleUntil(func() bool { return d.m.stage == stageWaiting && d.Running() == 1 })
}

// fireIdle fires the idle timer armed last (its warning stage or its
// clearing stage); timers armed before it are stale and ignored by the
// model, and they may have reached the driver in any order.
func (d *driver) fireIdle(warn bool) {
	d.t.Helper()
	gen := d.m.idleGen
	d.fire(func(m tea.Msg) bool { i, ok := m.(idleMsg); return ok && i.gen == gen && i.warn == warn })
}
