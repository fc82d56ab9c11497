package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/station"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/net/endpoint"
	"github.com/urna-vote/urna/net/mesh"
)

// runNode runs one station until ctx is done (SIGINT, SIGTERM).
func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("node", "urna node --home /tmp/mayor/station-north", stderr)
	homeDir := fs.String("home", "", "the station's home directory (made by urna init)")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	logLevel := fs.String("log-level", "info", "least severe level logged: debug, info, warn or error")
	var tamper func(station.Transport, *home, *slog.Logger) (station.Transport, error)
	if testOnlyNodeFlags != nil {
		tamper = testOnlyNodeFlags(fs)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *homeDir == "" {
		fs.Usage()
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(stderr, opts)
	if *logJSON {
		handler = slog.NewJSONHandler(stderr, opts)
	}
	h, err := openHome(*homeDir)
	if err != nil {
		return err
	}
	cfg, err := loadNodeConfig(h)
	if err != nil {
		return err
	}
	idx, _ := h.genesis.StationByKey(h.publicKey())
	me := h.genesis.Stations()[idx]
	log := slog.New(handler).With("node", me.ID)
	cfg.tamper = tamper
	return runStation(ctx, h, cfg, log)
}

// testOnlyNodeFlags is nil in a released binary. A test-only build (build
// tag urnabyzantine, byzantine.go) sets it to add flags to `urna node` that
// make the station misbehave; it returns what rewrites the station's
// traffic (nil when no such flag is given).
var testOnlyNodeFlags func(fs *flag.FlagSet) func(station.Transport, *home, *slog.Logger) (station.Transport, error)

// runStation wires a station: the QUIC endpoint, the mesh, the engine, the
// client protocol and the metrics; runs it; and stops it in order: the
// engine finishes what it is doing (a commit in flight completes), clients
// and peers are disconnected, and the store is closed.
func runStation(ctx context.Context, h *home, cfg *nodeConfig, log *slog.Logger) (err error) {
	g := h.genesis
	// The configured limit, or the default unless GOMEMLIMIT says otherwise.
	if lim, _ := cfg.memoryLimit(); lim > 0 && (cfg.MemoryLimit != "" || os.Getenv("GOMEMLIMIT") == "") {
		debug.SetMemoryLimit(lim)
	}
	key := ed25519.NewKeyFromSeed(h.seed)
	idx, _ := g.StationByKey(h.publicKey())
	ep, err := endpoint.Listen(endpoint.Config{Listen: cfg.Listen, Key: key, Logger: log})
	if err != nil {
		return fmt.Errorf("%w (is another node running on this address? see listen in %s)", err, homeConfig)
	}
	defer ep.Close()
	var peers []mesh.Peer
	for _, st := range g.Stations() {
		peers = append(peers, mesh.Peer{Key: st.PublicKey, Addr: st.Address})
	}
	m, err := mesh.New(ep, mesh.Config{Self: idx, Peers: peers, Network: g.Fingerprint(), Channels: meshChannels(g.Params()), Logger: log.With("part", "mesh")})
	if err != nil {
		return err
	}
	defer m.Close()
	mt := newMeshTransport(m)
	defer mt.close()
	guard := newDiskGuard(h.dataDir(), cfg.minFreeMB())
	if err := guard.check(); err != nil {
		return err
	}
	var tr station.Transport = mt
	if cfg.tamper != nil {
		if tr, err = cfg.tamper(mt, h, log); err != nil {
			return err
		}
	}
	// The mempool holds a few blocks' worth: enough to keep blocks full
	// under a rush, bounded so that a flood costs a known amount of memory
	// (docs/BENCHMARKS.md measures a station's RSS).
	p := g.Params()
	eng, err := station.Open(station.Config{Genesis: g, Roll: h.roll, Seed: h.seed, Dir: h.dataDir(), Transport: tr, Logger: log,
		MempoolTxs: max(10_000, 2*p.MaxBlockTxs), MempoolBytes: max(32<<20, 2*p.MaxBlockBytes)})
	if err != nil {
		err = fmt.Errorf("opening the station's data in %s: %w", h.dataDir(), err)
		if advice := diskAdvice(err, h.dataDir()); advice != "" {
			err = fmt.Errorf("%w\n%s", err, advice)
		}
		return err
	}
	defer func() {
		if cerr := eng.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the station's data: %w", cerr)
		}
		log.Info("station stopped", "height", eng.Ledger().Height())
	}()
	// Opening the home read and decoded the voter roll file (65 MB for a
	// million voters, garbage now) and opening the station replayed its
	// chain: hand the memory that left free back to the kernel at once,
	// instead of when the runtime's scavenger gets to it, so that the node
	// serves from a resident set of what it holds.
	debug.FreeOSMemory()
	metrics := newNodeMetrics()
	// The roll file was checked against the genesis when the home was
	// opened (not hashed again here: that would read every page of it into
	// memory); clients check what they are sent against the genesis too.
	roll, err := mapRoll(filepath.Join(h.dir, homeRoll))
	if err != nil {
		roll = h.roll.Encode()
	}
	be := &backend{e: eng, g: g, roll: roll, metrics: metrics}
	srv, err := api.NewServer(ep, api.ServerConfig{
		Backend: be,
		Limits:  api.Limits{MaxRequest: chain.MaxTxSize + 4<<10},
		Logger:  log.With("part", "clients"),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	metrics.watch(eng, m, srv)
	events, stopEvents := eng.Subscribe()
	defer stopEvents()
	go metrics.observeBlocks(events)
	if cfg.Metrics != "" {
		stop, err := serveMetrics(cfg.Metrics, metrics.reg, log)
		if err != nil {
			return fmt.Errorf("metrics on %s: %w (change metrics in %s)", cfg.Metrics, err, homeConfig)
		}
		defer stop()
	}
	if cfg.Pprof != "" {
		stop, err := servePprof(cfg.Pprof, log)
		if err != nil {
			return fmt.Errorf("pprof on %s: %w (change pprof in %s)", cfg.Pprof, err, homeConfig)
		}
		defer stop()
	}
	if err := ep.Start(); err != nil {
		return err
	}
	m.Start()
	var others []string
	for i, p := range peers {
		if i != idx {
			others = append(others, p.Addr)
		}
	}
	log.Info("station started", "index", idx, "listen", ep.Addr().String(), "metrics", cfg.Metrics,
		"height", eng.Ledger().Height(), "election", g.ElectionID(), "peers", strings.Join(others, ","))
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go guard.watch(ctx, diskCheckEvery, cancel)
	runErr := eng.Run(ctx)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		if advice := diskAdvice(runErr, h.dataDir()); advice != "" {
			log.Error("station failed: disk", "err", runErr, "what_to_do", advice)
			return fmt.Errorf("%w\n%s", runErr, advice)
		}
		log.Error("station failed", "err", runErr)
		return runErr
	}
	if cause := context.Cause(ctx); errors.Is(cause, errDiskLow) {
		log.Error("station stopped: disk space low", "err", cause)
		return cause
	}
	log.Info("stopping", "uptime", time.Since(start).Round(time.Second).String())
	return nil
}
