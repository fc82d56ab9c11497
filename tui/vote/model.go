// Package vote is the voter terminal: a Bubble Tea program that takes a
// voter from the welcome screen through the voting code, one screen per
// contest and a review, to casting (or challenging) a ballot sealed on this
// terminal, and a line-by-line mode (RunAccessible) for screen readers.
//
// The station never sees a choice: the ballot is encrypted, proved and
// signed here (crypto.go) and only the sealed ballot is sent. The terminal
// keeps the voting code, the choices and the encryption nonces in memory
// only, writes none of them anywhere, and forgets them after a cast, when
// the voter stops, and after an idle timeout.
package vote

import (
	"io"
	"log/slog"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// Config is what a voter terminal needs.
type Config struct {
	Genesis *genesis.Genesis
	// Station is the polling station this terminal stands in: ballots name
	// it (for turnout), whichever station they are sent through.
	Station genesis.Station
	// Node is the connection to Station's node (or another one).
	Node tui.Node
	// Connected is the station Node reaches; the zero value means Station.
	Connected genesis.Station
	// Dial reaches another station when this one cannot be reached; nil
	// turns retrying elsewhere off.
	Dial tui.Dialer
	// Log receives what happened, never a code or a choice. nil discards.
	Log *slog.Logger
	// IdleTimeout clears everything after this long without a key press
	// (default 2 minutes); the last IdleWarning of it shows a warning
	// (default 30 seconds).
	IdleTimeout, IdleWarning time.Duration
	// RequestTimeout bounds one call to a station (default 10 s);
	// CommitTimeout bounds the wait for a block (default 2 minutes).
	RequestTimeout, CommitTimeout time.Duration
	// Refresh is how often the station's status is read (default 5 s).
	Refresh time.Duration
	// Rand is the randomness for encryption; nil means crypto/rand. Tests
	// only set it.
	Rand io.Reader
	// After makes a command that delivers msg after d: the program's only
	// clock (idle timeout, status refresh). nil means tea.Tick; model tests
	// replace it to fire timers themselves.
	After func(d time.Duration, msg tea.Msg) tea.Cmd
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.IdleWarning <= 0 || c.IdleWarning >= c.IdleTimeout {
		c.IdleWarning = min(30*time.Second, c.IdleTimeout/2)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = 2 * time.Minute
	}
	if c.Refresh <= 0 {
		c.Refresh = 5 * time.Second
	}
	if c.After == nil {
		c.After = func(d time.Duration, msg tea.Msg) tea.Cmd {
			return tea.Tick(d, func(time.Time) tea.Msg { return msg })
		}
	}
	if c.Connected.ID == "" {
		c.Connected = c.Station
	}
}

// screen is which screen is showing.
type screen int

const (
	scrWelcome    screen = iota
	scrCode              // typing the voting code
	scrContest           // marking one contest
	scrReview            // all choices, sealed, cast or challenge
	scrConfirm           // "are you sure?" before a cast or a challenge
	scrSending           // sealing/sending/waiting for a block
	scrCast              // committed: the tracking code
	scrChallenged        // challenged: the revealed choices
	scrTrack             // checking a tracking code
	scrProblem           // a refusal or failure, and what to do next
)

// stage is how far a cast or a challenge has got.
type stage int

const (
	stageOpening stage = iota // revealing the nonces (challenge only)
	stageSending              // the transaction is on its way to the station
	stageWaiting              // accepted, waiting for a block
)

// Model is the voter terminal. Use New; it implements tea.Model.
type Model struct {
	cfg      Config
	contests []genesis.Contest
	keys     keys
	help     help.Model
	spin     spinner.Model
	size     tui.Size

	node      tui.Node
	connected genesis.Station
	screen    screen
	notice    string // a one-line message under the screen's body

	// What the station says, refreshed on a timer.
	status      tui.Status
	statusErr   error
	haveStatus  bool
	election    *ballot.Election
	keyErr      error
	fetchingKey bool

	// The voter's session: all of it is forgotten by forget().
	code        codeInput
	voting      ballot.VotingCode
	reenter     bool // the code is typed again after a refusal: go back to review
	choices     ballot.Choices
	contest     int    // the contest on screen
	cursor      int    // the candidate under the cursor
	warned      []bool // the undervote warning was shown for contest i
	sealGen     int
	sealed      *sealed
	sealErr     error
	challenging bool // the action being confirmed or sent is a challenge
	stage       stage
	challenge   *challenge
	pendingTx   []byte   // the transaction being sent, kept to resend elsewhere
	pendingHash [32]byte // its hash
	tracking    string   // the cast or challenged ballot's tracking code
	height      uint64   // the block it is in
	revealed    ballot.Choices
	problem     problem
	stations    []genesis.Station // where to retry
	pick        int               // the station under the cursor
	dialing     bool
	back        screen // where the tracking screen returns to

	track       []rune // the tracking code being typed
	trackResult *trackingMsg
	looking     bool

	idleGen  int
	idleWarn bool
}

// New returns the terminal's model.
func New(cfg Config) *Model {
	cfg.defaults()
	h := help.New()
	sp := spinner.New(spinner.WithSpinner(spinner.Line))
	m := &Model{
		cfg:       cfg,
		contests:  cfg.Genesis.Contests(),
		keys:      newKeys(),
		help:      h,
		spin:      sp,
		node:      cfg.Node,
		connected: cfg.Connected,
		code:      newCodeInput(codeShape()),
	}
	return m
}

// Init asks the station for its status.
func (m *Model) Init() tea.Cmd {
	return statusCmd(m.node, m.cfg.RequestTimeout, m.cfg.Log)
}

// Update routes a message to the screen showing.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.size = tui.Size{Width: msg.Width, Height: msg.Height}
		m.help.Width = m.size.W()
		return m, nil
	case tea.KeyMsg:
		if key.Matches(msg, m.keys.Quit) {
			m.forget()
			return m, tea.Quit
		}
		arm := m.arm()
		if key.Matches(msg, m.keys.Help) {
			m.help.ShowAll = !m.help.ShowAll
			return m, arm
		}
		return m, tea.Batch(arm, m.updateKey(msg))
	case idleMsg:
		return m, m.idle(msg)
	case spinner.TickMsg:
		if m.screen != scrSending && !m.looking && !m.dialing {
			return m, nil // let the spinner stop
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case refreshMsg:
		return m, statusCmd(m.node, m.cfg.RequestTimeout, m.cfg.Log)
	case statusMsg:
		return m, m.onStatus(msg)
	case electionMsg:
		m.fetchingKey = false
		m.election, m.keyErr = msg.election, msg.err
		return m, nil
	case sealedMsg:
		if msg.gen == m.sealGen && m.screen == scrReview {
			m.sealed, m.sealErr = msg.sealed, msg.err
		}
		return m, nil
	case openedMsg:
		return m, m.onOpened(msg)
	case submittedMsg:
		return m, m.onSubmitted(msg)
	case committedMsg:
		return m, m.onCommitted(msg)
	case trackingMsg:
		if m.screen == scrTrack && m.looking {
			m.looking = false
			m.trackResult = &msg
		}
		return m, nil
	case dialedMsg:
		return m, m.onDialed(msg)
	}
	return m, nil
}

// arm starts (again) the idle timer: a key was pressed or a result shown.
func (m *Model) arm() tea.Cmd {
	m.idleGen++
	m.idleWarn = false
	return m.cfg.After(m.cfg.IdleTimeout-m.cfg.IdleWarning, idleMsg{gen: m.idleGen, warn: true})
}

// idle handles the idle timer: a warning first, then everything is cleared.
// A ballot on its way to a block is never abandoned: its outcome screen
// arms the timer again.
func (m *Model) idle(msg idleMsg) tea.Cmd {
	if msg.gen != m.idleGen || m.screen == scrWelcome || m.screen == scrSending || m.dialing {
		return nil
	}
	if msg.warn {
		m.idleWarn = true
		return m.cfg.After(m.cfg.IdleWarning, idleMsg{gen: m.idleGen})
	}
	m.forget()
	return nil
}

// forget drops everything the voter entered or the terminal made from it
// and returns to the welcome screen.
func (m *Model) forget() {
	m.code.reset()
	m.voting = ""
	m.reenter = false
	m.choices = nil
	m.contest, m.cursor = 0, 0
	m.warned = nil
	m.sealGen++
	m.sealed, m.sealErr = nil, nil
	m.challenging = false
	m.challenge = nil
	m.pendingTx, m.pendingHash = nil, [32]byte{}
	m.tracking, m.height, m.revealed = "", 0, nil
	m.problem = problem{}
	m.track, m.trackResult, m.looking = nil, nil, false
	m.idleWarn = false
	m.notice = ""
	m.screen = scrWelcome
}

// forgetSecrets drops the code, the choices and the nonces after a cast,
// keeping only the public tracking code and block to show.
func (m *Model) forgetSecrets() {
	m.code.reset()
	m.voting = ""
	m.choices = nil
	m.warned = nil
	m.sealGen++
	m.sealed = nil
	m.pendingTx = nil
}

func (m *Model) onStatus(msg statusMsg) tea.Cmd {
	cmds := []tea.Cmd{m.cfg.After(m.cfg.Refresh, refreshMsg{})}
	m.statusErr = msg.err
	if msg.err == nil {
		m.status, m.haveStatus = msg.status, true
		if m.election == nil && !m.fetchingKey && msg.status.Phase >= chain.PhaseReady {
			m.fetchingKey = true
			cmds = append(cmds, electionCmd(m.node, m.cfg.Genesis, m.cfg.RequestTimeout, m.cfg.Log))
		}
	}
	return tea.Batch(cmds...)
}

// canVote says whether a voter may start, and if not, why.
func (m *Model) canVote() (bool, string) {
	switch {
	case m.statusErr != nil || !m.haveStatus:
		return false, "This station cannot be reached yet. Press s to use another station, or ask a poll worker."
	case m.keyErr != nil && !isKeyNotReady(m.keyErr):
		return false, "This station's election key does not check out. Do not vote here: press s to use another station and tell a poll worker."
	}
	words, open := phaseWords(m.status.Phase)
	if !open {
		return false, words
	}
	if m.election == nil {
		return false, "The terminal is still checking the election key. Please wait a moment."
	}
	return true, ""
}

func (m *Model) updateKey(msg tea.KeyMsg) tea.Cmd {
	switch m.screen {
	case scrWelcome:
		return m.keyWelcome(msg)
	case scrCode:
		return m.keyCode(msg)
	case scrContest:
		return m.keyContest(msg)
	case scrReview:
		return m.keyReview(msg)
	case scrConfirm:
		return m.keyConfirm(msg)
	case scrCast:
		if key.Matches(msg, m.keys.Finish) {
			m.forget()
		}
	case scrChallenged:
		return m.keyChallenged(msg)
	case scrTrack:
		return m.keyTrack(msg)
	case scrProblem:
		return m.keyProblem(msg)
	}
	return nil
}

func (m *Model) keyWelcome(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Vote):
		ok, why := m.canVote()
		if !ok {
			m.notice = why
			return nil
		}
		m.notice = ""
		m.code.reset()
		m.screen = scrCode
	case key.Matches(msg, m.keys.Track):
		m.startTrack(scrWelcome)
	case key.Matches(msg, m.keys.OtherStation) && m.cfg.Dial != nil:
		m.showProblem(problem{
			title: "Use another station.",
			say:   "The terminal can send ballots through any station of this election; they are counted the same.",
			next:  "Choose a station below.",
			then:  nextOtherStation,
		})
	}
	return nil
}

func (m *Model) keyCode(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Reveal):
		m.code.reveal = !m.code.reveal
	case key.Matches(msg, m.keys.Back):
		m.forget()
	case key.Matches(msg, m.keys.Delete):
		m.code.backspace()
		m.notice = ""
	case key.Matches(msg, m.keys.Continue):
		return m.submitCode()
	case msg.Type == tea.KeyRunes:
		m.notice = m.code.typeRunes(msg.Runes)
	}
	return nil
}

// submitCode checks the typed code locally; nothing is sent anywhere.
func (m *Model) submitCode() tea.Cmd {
	if n, want := m.code.len(), m.code.total(); n < want {
		m.notice = tui.BadMark + " " + codeLengthWords(n, want)
		return nil
	}
	code, p := checkCode(m.code.value())
	if p != codeOK {
		m.notice = tui.BadMark + " Nothing was sent. Fix the code first: press tab to show it."
		return nil
	}
	m.voting, m.notice = code, ""
	if m.choices == nil {
		m.choices = blankChoices(m.cfg.Genesis)
		m.warned = make([]bool, len(m.contests))
	}
	if m.reenter {
		m.reenter = false
		return m.toReview()
	}
	m.toContest(0)
	return nil
}

func (m *Model) toContest(i int) {
	m.screen = scrContest
	m.contest, m.cursor = i, 0
	m.notice = ""
}

func (m *Model) marked(c int) int {
	n := 0
	for _, x := range m.choices[c] {
		if x {
			n++
		}
	}
	return n
}

func (m *Model) keyContest(msg tea.KeyMsg) tea.Cmd {
	c := m.contests[m.contest]
	switch {
	case key.Matches(msg, m.keys.Up):
		m.cursor = (m.cursor + len(c.Candidates) - 1) % len(c.Candidates)
	case key.Matches(msg, m.keys.Down):
		m.cursor = (m.cursor + 1) % len(c.Candidates)
	case key.Matches(msg, m.keys.Mark):
		sel := m.choices[m.contest]
		switch {
		case sel[m.cursor]:
			sel[m.cursor] = false
			m.notice = ""
		case m.marked(m.contest) >= c.Limit:
			m.notice = tui.BadMark + " " + limitWords(c.Limit)
		default:
			sel[m.cursor] = true
			m.notice = ""
		}
		m.warned[m.contest] = false
	case key.Matches(msg, m.keys.Next):
		if n := m.marked(m.contest); n < c.Limit && !m.warned[m.contest] {
			m.warned[m.contest] = true
			m.notice = tui.WarnMark + " " + undervoteWords(n, c.Limit)
			return nil
		}
		if m.contest+1 < len(m.contests) {
			m.toContest(m.contest + 1)
			return nil
		}
		return m.toReview()
	case key.Matches(msg, m.keys.Prev):
		if m.contest > 0 {
			m.toContest(m.contest - 1)
		} else {
			m.screen, m.notice = scrCode, ""
		}
	}
	return nil
}

// toReview shows the review and seals the choices in the background: the
// ballot (and its tracking code) is fixed before the voter decides to cast
// or challenge it, which is what makes a challenge a real test of the
// terminal.
func (m *Model) toReview() tea.Cmd {
	m.screen, m.notice = scrReview, ""
	m.sealGen++
	m.sealed, m.sealErr = nil, nil
	ch := make(ballot.Choices, len(m.choices))
	for i := range m.choices {
		ch[i] = append([]bool(nil), m.choices[i]...)
	}
	return sealCmd(m.sealGen, m.election, m.voting, m.cfg.Station.ID, ch, m.cfg.Rand, m.cfg.Log)
}

func (m *Model) keyReview(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Cast), key.Matches(msg, m.keys.Challenge):
		if m.sealed == nil {
			if m.sealErr != nil {
				m.notice = tui.BadMark + " This terminal could not seal the ballot. Please tell a poll worker."
			} else {
				m.notice = "Please wait a moment: your ballot is still being sealed."
			}
			return nil
		}
		m.challenging = key.Matches(msg, m.keys.Challenge)
		m.screen, m.notice = scrConfirm, ""
	case key.Matches(msg, m.keys.Change):
		m.toContest(len(m.contests) - 1)
	case key.Matches(msg, m.keys.Jump):
		if i := int(msg.Runes[0] - '1'); i < len(m.contests) {
			m.toContest(i)
		}
	}
	return nil
}

func (m *Model) keyConfirm(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Yes):
		m.screen = scrSending
		if m.challenging {
			m.stage = stageOpening
			return tea.Batch(m.spin.Tick, openCmd(m.election, m.sealed, m.cfg.Log))
		}
		m.stage = stageSending
		m.pendingTx, m.pendingHash = m.sealed.tx, m.sealed.hash
		m.tracking = m.sealed.tracking
		return tea.Batch(m.spin.Tick, m.send())
	case key.Matches(msg, m.keys.No):
		m.screen = scrReview
	}
	return nil
}

func (m *Model) send() tea.Cmd {
	m.stage = stageSending
	return submitCmd(m.node, m.pendingTx, m.cfg.RequestTimeout, m.cfg.Log)
}

func (m *Model) onOpened(msg openedMsg) tea.Cmd {
	if m.screen != scrSending {
		return nil
	}
	if msg.err != nil {
		m.showProblem(problem{
			title: "This terminal could not open the ballot for the challenge.",
			say:   "Nothing was sent. This may mean the terminal is faulty.",
			next:  "Please tell a poll worker.",
			then:  nextStartOver,
		})
		return m.arm()
	}
	m.challenge = msg.challenge
	m.pendingTx, m.pendingHash = msg.challenge.tx, msg.challenge.hash
	m.tracking = msg.challenge.tracking
	return m.send()
}

func (m *Model) onSubmitted(msg submittedMsg) tea.Cmd {
	if m.screen != scrSending || m.pendingTx == nil {
		return nil
	}
	if msg.err != nil {
		return m.fail(msg.err)
	}
	if msg.receipt.Committed {
		return m.onCommitted(committedMsg{height: msg.receipt.Height})
	}
	m.stage = stageWaiting
	return waitCmd(m.node, m.pendingHash, m.cfg.CommitTimeout, m.cfg.Log)
}

func (m *Model) onCommitted(msg committedMsg) tea.Cmd {
	if m.screen != scrSending || m.pendingTx == nil {
		return nil
	}
	if msg.err != nil {
		return m.fail(msg.err)
	}
	m.height = msg.height
	if m.challenging {
		m.revealed = m.challenge.revealed
		m.challenge, m.sealed, m.pendingTx = nil, nil, nil
		m.screen = scrChallenged
	} else {
		m.forgetSecrets()
		m.screen = scrCast
	}
	return m.arm()
}

// fail shows a station's refusal or a lost connection in words.
func (m *Model) fail(err error) tea.Cmd {
	m.showProblem(explain(err, m.status.Phase, m.challenging))
	return m.arm()
}

func (m *Model) showProblem(p problem) {
	m.problem = p
	m.screen, m.notice = scrProblem, ""
	m.stations, m.pick = nil, 0
	if p.then == nextOtherStation && m.cfg.Dial != nil {
		for _, st := range m.cfg.Genesis.Stations() {
			if st.ID != m.connected.ID {
				m.stations = append(m.stations, st)
			}
		}
	}
}

func (m *Model) keyProblem(msg tea.KeyMsg) tea.Cmd {
	if m.dialing {
		return nil
	}
	switch {
	case m.problem.then == nextOtherStation && len(m.stations) > 0 && key.Matches(msg, m.keys.Up):
		m.pick = (m.pick + len(m.stations) - 1) % len(m.stations)
	case m.problem.then == nextOtherStation && len(m.stations) > 0 && key.Matches(msg, m.keys.Down):
		m.pick = (m.pick + 1) % len(m.stations)
	case key.Matches(msg, m.keys.Continue):
		switch m.problem.then {
		case nextOtherStation:
			if len(m.stations) == 0 {
				m.forget()
				return nil
			}
			m.dialing = true
			m.notice = ""
			return tea.Batch(m.spin.Tick, dialCmd(m.cfg.Dial, m.stations[m.pick], m.cfg.RequestTimeout, m.cfg.Log))
		case nextRetry:
			if m.pendingTx != nil {
				m.screen = scrSending
				return tea.Batch(m.spin.Tick, m.send())
			}
			m.forget()
		case nextReenterCode:
			m.code.reset()
			m.voting, m.reenter = "", true
			m.screen = scrCode
		case nextReseal:
			return m.toReview()
		default:
			m.forget()
		}
	case key.Matches(msg, m.keys.StartOver):
		m.forget()
	}
	return nil
}

func (m *Model) onDialed(msg dialedMsg) tea.Cmd {
	if !m.dialing {
		if msg.node != nil {
			return closeCmd(msg.node, m.cfg.Log)
		}
		return nil
	}
	m.dialing = false
	if msg.err != nil {
		m.notice = tui.BadMark + " " + msg.station.Name + " cannot be reached either. Choose another station, or ask a poll worker."
		return nil
	}
	old := m.node
	m.node, m.connected = msg.node, msg.station
	cmds := []tea.Cmd{closeCmd(old, m.cfg.Log), statusCmd(m.node, m.cfg.RequestTimeout, m.cfg.Log)}
	if m.election == nil {
		m.fetchingKey = true
		cmds = append(cmds, electionCmd(m.node, m.cfg.Genesis, m.cfg.RequestTimeout, m.cfg.Log))
	}
	if m.pendingTx != nil {
		// Send the very same sealed transaction again: a station answers a
		// transaction it already has with its receipt, so nothing is counted
		// twice.
		m.screen = scrSending
		cmds = append(cmds, m.spin.Tick, m.send())
	} else {
		m.screen, m.notice = scrWelcome, ""
	}
	return tea.Batch(cmds...)
}

func (m *Model) keyChallenged(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Again):
		// The code and the choices are kept; the voter may change them and
		// gets a new ballot, sealed afresh.
		m.revealed, m.tracking, m.height = nil, "", 0
		m.challenging = false
		m.toContest(0)
	case key.Matches(msg, m.keys.Stop):
		m.forget()
	}
	return nil
}

func (m *Model) startTrack(back screen) {
	m.back = back
	m.screen, m.notice = scrTrack, ""
	m.track, m.trackResult, m.looking = nil, nil, false
}

func (m *Model) keyTrack(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Back):
		if m.back == scrWelcome {
			m.forget()
		} else {
			m.screen = m.back
		}
	case key.Matches(msg, m.keys.Delete):
		if len(m.track) > 0 {
			m.track = m.track[:len(m.track)-1]
		}
		m.trackResult, m.notice = nil, ""
	case key.Matches(msg, m.keys.LookUp):
		if m.looking {
			return nil
		}
		code, ok := parseTracking(string(m.track))
		if !ok {
			m.notice = tui.BadMark + " That is not a complete tracking code. Check each group against what you wrote down."
			return nil
		}
		m.notice, m.looking, m.trackResult = "", true, nil
		return tea.Batch(m.spin.Tick, trackCmd(m.node, code, m.cfg.RequestTimeout, m.cfg.Log))
	case msg.Type == tea.KeyRunes:
		for _, r := range msg.Runes {
			if len(m.track) < 80 && (r == '-' || r == ' ' || isAlnum(r)) {
				m.track = append(m.track, r)
			}
		}
		m.trackResult, m.notice = nil, ""
	}
	return nil
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}
