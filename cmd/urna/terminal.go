package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/tui"
	"github.com/urna-vote/urna/tui/official"
	"github.com/urna-vote/urna/tui/remote"
	"github.com/urna-vote/urna/tui/vote"
)

// connectTerminal is where a terminal gets its station connection: the
// client protocol (tui/remote), with the key of the station at --node
// pinned from the genesis. It returns the connection and which station of
// the genesis answered.
var connectTerminal = func(ctx context.Context, g *genesis.Genesis, addr, stationID string) (tui.Node, genesis.Station, error) {
	c, idx, err := dialStation(ctx, g, addr, stationID)
	if err != nil {
		return nil, genesis.Station{}, err
	}
	return remote.New(g, c), g.Stations()[idx], nil
}

// terminalFlags are the flags urna vote and urna official share.
type terminalFlags struct {
	node, genesis, station, logFile *string
	accessible                      *bool
	timeout                         *time.Duration
}

func addTerminalFlags(fs interface {
	String(name, value, usage string) *string
	Bool(name string, value bool, usage string) *bool
	Duration(name string, value time.Duration, usage string) *time.Duration
}, name string) terminalFlags {
	return terminalFlags{
		node:       fs.String("node", "", "HOST:PORT of a station's node"),
		genesis:    fs.String("genesis", "", "the election's genesis.json"),
		station:    fs.String("station", "", "the station's id, when --node is not its address in the genesis (a port mapping)"),
		logFile:    fs.String("log", filepath.Join(os.TempDir(), "urna-"+name+".log"), "file to append the log to (never the screen)"),
		accessible: fs.Bool("accessible", os.Getenv("ACCESSIBLE") != "", "line-by-line prompts for screen readers instead of the full screen (also ACCESSIBLE=1)"),
		timeout:    fs.Duration("timeout", 10*time.Second, "how long to wait for a station's answer"),
	}
}

// open loads the genesis, opens the log file and connects to the station.
// The log file takes the standard logger too (quic-go warns through it),
// so nothing but the program ever writes to the screen.
func (f terminalFlags) open(ctx context.Context, allowOffline bool) (*genesis.Genesis, tui.Node, genesis.Station, *slog.Logger, func(), error) {
	g, err := genesis.Load(*f.genesis)
	if err != nil {
		return nil, nil, genesis.Station{}, nil, nil, err
	}
	lf, err := os.OpenFile(*f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, genesis.Station{}, nil, nil, fmt.Errorf("opening the log file (choose another with --log): %w", err)
	}
	log.SetOutput(lf)
	if os.Getenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING") == "" {
		os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	}
	logger := slog.New(slog.NewTextHandler(lf, nil))
	dctx, cancel := context.WithTimeout(ctx, *f.timeout)
	defer cancel()
	n, st, err := connectTerminal(dctx, g, *f.node, *f.station)
	if err != nil {
		// A voter terminal whose station is down must still offer the
		// others of the genesis: it starts with a connection that answers
		// "cannot be reached", and the voter (or a poll worker) picks
		// another station on the first screen. That needs to know which
		// station this terminal stands in; an address the genesis does
		// not name, without --station, stays an error.
		idx, known := stationAt(g, *f.node, *f.station)
		if !allowOffline || !known || !errors.Is(err, api.ErrUnreachable) {
			lf.Close()
			return nil, nil, genesis.Station{}, nil, nil, err
		}
		logger.Warn("station unreachable at start; offering the others", "station", g.Stations()[idx].ID, "err", err)
		n, st = offlineNode{err: err}, g.Stations()[idx]
	} else {
		logger.Info("connected", "station", st.ID, "election", g.ElectionID())
	}
	return g, n, st, logger, func() { n.Close(); lf.Close() }, nil
}

// stationAt is the station of g that a terminal started with --node addr
// (and --station id, when given) stands in.
func stationAt(g *genesis.Genesis, addr, id string) (int, bool) {
	if id != "" {
		return g.StationIndex(id)
	}
	for i, st := range g.Stations() {
		if st.Address == addr {
			return i, true
		}
	}
	return 0, false
}

// offlineNode is the connection of a terminal whose station could not be
// reached when it started: every call fails as unreachable, so the screens
// say so and offer another station of the genesis.
type offlineNode struct{ err error }

var _ tui.Node = offlineNode{}

func (o offlineNode) fail() error { return fmt.Errorf("%w: %w", tui.ErrUnreachable, o.err) }

func (o offlineNode) Status(context.Context) (tui.Status, error)  { return tui.Status{}, o.fail() }
func (o offlineNode) ElectionKey(context.Context) ([]byte, error) { return nil, o.fail() }
func (o offlineNode) Submit(context.Context, []byte) (tui.Receipt, error) {
	return tui.Receipt{}, o.fail()
}
func (o offlineNode) WaitCommitted(context.Context, [32]byte) (uint64, error) { return 0, o.fail() }
func (o offlineNode) Tracking(context.Context, string) (tui.Tracking, error) {
	return tui.Tracking{}, o.fail()
}
func (o offlineNode) Events(context.Context) (<-chan tui.Event, error) { return nil, o.fail() }
func (o offlineNode) Results(context.Context) (tui.Results, error)     { return tui.Results{}, o.fail() }
func (o offlineNode) Close() error                                     { return nil }

// runVote is the voter terminal.
func runVote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("vote", "urna vote --node 127.0.0.1:7101 --genesis /tmp/mayor/genesis.json", stderr)
	tf := addTerminalFlags(fs, "vote")
	idle := fs.Duration("idle", 2*time.Minute, "clear everything after this long without a key press")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *tf.node == "" || *tf.genesis == "" {
		fs.Usage()
		return errUsage
	}
	g, n, st, logger, done, err := tf.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	cfg := vote.Config{
		Genesis: g, Station: st, Node: n, Dial: remote.Dialer(g), Log: logger,
		IdleTimeout: *idle, RequestTimeout: *tf.timeout,
	}
	if *tf.accessible {
		return vote.RunAccessible(ctx, cfg, os.Stdin, stdout)
	}
	return runProgram(ctx, vote.New(cfg), stdout)
}

// runOfficial is the officials' console.
func runOfficial(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("official", "urna official --node 127.0.0.1:7101 --genesis /tmp/mayor/genesis.json --key /tmp/mayor/officials/clerk.key", stderr)
	tf := addTerminalFlags(fs, "official")
	keyFile := fs.String("key", "", "an official's key file (DIR/officials/ID.key), to approve opening and closing; without it the console is read-only")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *tf.node == "" || *tf.genesis == "" {
		fs.Usage()
		return errUsage
	}
	var key ed25519.PrivateKey
	if *keyFile != "" {
		seed, err := readKey(*keyFile)
		if err != nil {
			return err
		}
		key = ed25519.NewKeyFromSeed(seed)
	}
	g, n, st, logger, done, err := tf.open(ctx, false)
	if err != nil {
		return err
	}
	defer done()
	if key != nil {
		if _, ok := g.OfficialByKey(key.Public().(ed25519.PublicKey)); !ok {
			return fmt.Errorf("--key %s is not an official of election %s: check --key and --genesis", *keyFile, g.ElectionID())
		}
	}
	cfg := official.Config{Genesis: g, Node: n, Connected: st, Key: key, Log: logger, RequestTimeout: *tf.timeout}
	if *tf.accessible {
		return official.RunAccessible(ctx, cfg, os.Stdin, stdout)
	}
	return runProgram(ctx, official.New(cfg), stdout)
}

// runProgram runs a full-screen program until it quits or ctx is done.
func runProgram(ctx context.Context, m tea.Model, stdout io.Writer) error {
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithOutput(stdout))
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // SIGINT or SIGTERM
	}
	return err
}
