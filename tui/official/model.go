// Package official is the officials' console: a live dashboard of the
// election as one station sees it (phase, stations online, height and the
// age of the last block, ballots, turnout per station, mempool, the
// election key), the officials' approvals to open and close the polls with
// a confirmation step and the quorum's progress, and the verified results
// once the tally is done. RunAccessible is its line-by-line form.
package official

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// Config is what the console needs.
type Config struct {
	Genesis *genesis.Genesis
	Node    tui.Node
	// Connected is the station Node reaches.
	Connected genesis.Station
	// Key is the official's signing key; nil makes a read-only console.
	Key ed25519.PrivateKey
	// Log receives what happened. nil discards.
	Log *slog.Logger
	// Refresh is how often the status is read besides block events
	// (default 2 s); RequestTimeout bounds one call (default 10 s),
	// CommitTimeout the wait for an approval's block (default 1 minute).
	Refresh, RequestTimeout, CommitTimeout time.Duration
	// After makes a command delivering msg after d (nil: tea.Tick); model
	// tests replace it.
	After func(d time.Duration, msg tea.Msg) tea.Cmd
	// Now is the clock that dates a status (for the last block's age);
	// nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Refresh <= 0 {
		c.Refresh = 2 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = func(d time.Duration, msg tea.Msg) tea.Cmd {
			return tea.Tick(d, func(time.Time) tea.Msg { return msg })
		}
	}
}

type screen int

const (
	scrDashboard screen = iota
	scrConfirm          // approve opening/closing?
	scrSending          // the approval is on its way
	scrResults
)

// Model is the console. Use New; it implements tea.Model.
type Model struct {
	cfg      Config
	keys     keys
	help     help.Model
	size     tui.Size
	official int // index of the official holding Key, or -1
	ctx      context.Context
	stop     context.CancelFunc

	view
	screen          screen
	action          chain.Action
	notice          string
	fetchingKey     bool
	fetchingResults bool
	events          <-chan tui.Event
	openingEvents   bool
}

// New returns the console's model. An official key that is not one of the
// genesis's officials is the caller's error to report; here it makes the
// console read-only.
func New(cfg Config) *Model {
	cfg.defaults()
	m := &Model{cfg: cfg, keys: newKeys(), help: help.New(), official: -1}
	m.view.g = cfg.Genesis
	m.ctx, m.stop = context.WithCancel(context.Background())
	if cfg.Key != nil {
		if i, ok := cfg.Genesis.OfficialByKey(cfg.Key.Public().(ed25519.PublicKey)); ok {
			m.official = i
		}
	}
	return m
}

// Init reads the status and subscribes to block events.
func (m *Model) Init() tea.Cmd {
	m.openingEvents = true
	return tea.Batch(statusCmd(m.cfg.Node, m.cfg.RequestTimeout, m.cfg.Now, m.cfg.Log), eventsCmd(m.ctx, m.cfg.Node, m.cfg.Log))
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.size = tui.Size{Width: msg.Width, Height: msg.Height}
		m.help.Width = m.size.W()
	case tea.KeyMsg:
		return m, m.onKey(msg)
	case refreshMsg:
		return m, statusCmd(m.cfg.Node, m.cfg.RequestTimeout, m.cfg.Now, m.cfg.Log)
	case statusMsg:
		return m, m.onStatus(msg)
	case keyMsg:
		m.fetchingKey = false
		m.keyOK, m.keyErr = msg.err == nil, msg.err
	case eventsMsg:
		m.openingEvents = false
		if msg.err == nil {
			m.events = msg.events
			return m, nextEventCmd(m.events)
		}
	case eventMsg:
		if !msg.ok {
			m.events = nil
			return m, nil
		}
		return m, tea.Batch(nextEventCmd(m.events), statusCmd(m.cfg.Node, m.cfg.RequestTimeout, m.cfg.Now, m.cfg.Log))
	case resultsMsg:
		m.fetchingResults = false
		m.resultsErr = msg.err
		if msg.err == nil {
			r := msg.results
			m.results = &r
		}
	case approvedMsg:
		return m, m.onApproved(msg)
	}
	return m, nil
}

func (m *Model) onStatus(msg statusMsg) tea.Cmd {
	cmds := []tea.Cmd{m.cfg.After(m.cfg.Refresh, refreshMsg{})}
	m.statusErr = msg.err
	if msg.err != nil {
		return tea.Batch(cmds...)
	}
	m.status, m.at, m.have = msg.status, msg.at, true
	if !m.keyOK && !m.fetchingKey && m.status.Phase >= chain.PhaseReady {
		m.fetchingKey = true
		cmds = append(cmds, keyCmd(m.cfg.Node, m.cfg.RequestTimeout, m.cfg.Log))
	}
	if m.results == nil && !m.fetchingResults && m.status.Phase == chain.PhaseTallied {
		m.fetchingResults = true
		cmds = append(cmds, resultsCmd(m.cfg.Node, m.cfg.RequestTimeout, m.cfg.Log))
	}
	if m.events == nil && !m.openingEvents {
		m.openingEvents = true
		cmds = append(cmds, eventsCmd(m.ctx, m.cfg.Node, m.cfg.Log))
	}
	return tea.Batch(cmds...)
}

func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Quit) && m.screen != scrSending {
		m.stop()
		return tea.Quit
	}
	if key.Matches(msg, m.keys.Help) {
		m.help.ShowAll = !m.help.ShowAll
		return nil
	}
	switch m.screen {
	case scrDashboard:
		switch {
		case key.Matches(msg, m.keys.Open):
			m.ask(chain.ActionOpen)
		case key.Matches(msg, m.keys.Close):
			m.ask(chain.ActionClose)
		case key.Matches(msg, m.keys.Results):
			m.screen, m.notice = scrResults, ""
		}
	case scrResults:
		if key.Matches(msg, m.keys.Dashboard) {
			m.screen = scrDashboard
		}
	case scrConfirm:
		switch {
		case key.Matches(msg, m.keys.Yes):
			m.screen = scrSending
			return approveCmd(m.cfg.Node, m.cfg.Genesis.Fingerprint(), m.action, m.cfg.Key, m.cfg.RequestTimeout, m.cfg.CommitTimeout, m.cfg.Log)
		case key.Matches(msg, m.keys.No):
			m.screen, m.notice = scrDashboard, ""
		}
	}
	return nil
}

// ask checks that an approval makes sense now and asks for confirmation;
// otherwise it says why not.
func (m *Model) ask(a chain.Action) {
	want, list := chain.PhaseReady, m.status.OpenApprovals
	if a == chain.ActionClose {
		want, list = chain.PhaseOpen, m.status.CloseApprovals
	}
	switch {
	case m.official < 0:
		m.notice = tui.BadMark + " This console is read-only: start it with --key FILE (an official's key) to approve."
	case !m.have:
		m.notice = tui.BadMark + " The station has not answered yet."
	case slices.Contains(list, m.official):
		m.notice = tui.WarnMark + " You have already approved " + actionNoun(a) + "."
	case m.status.Phase != want:
		m.notice = tui.BadMark + " " + capital(actionNoun(a)) + " can be approved only when the phase is " + want.String() + "; it is " + m.status.Phase.String() + "."
	default:
		m.action, m.screen, m.notice = a, scrConfirm, ""
	}
}

func (m *Model) onApproved(msg approvedMsg) tea.Cmd {
	m.screen = scrDashboard
	if msg.err != nil {
		m.notice = tui.BadMark + " " + refusalWords(msg.err, m.action)
		return nil
	}
	m.notice = tui.GoodMark + " Your approval of " + actionNoun(m.action) + " is on the chain in block " + itoa(msg.height) + "."
	return statusCmd(m.cfg.Node, m.cfg.RequestTimeout, m.cfg.Now, m.cfg.Log)
}
