package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/net/api"
)

// benchReport is what `urna bench` measured; --json prints it as is.
type benchReport struct {
	Date     string `json:"date"`
	Machine  string `json:"machine"`
	LoadAvg  string `json:"load_average_start"`
	LoadEnd  string `json:"load_average_end"`
	Stations int    `json:"stations"`
	// OfferedRate is the rate asked for, ballots/s in all; 0: as fast as
	// the stations accept.
	OfferedRate float64 `json:"offered_per_s"`
	Window      float64 `json:"window_s"`
	Terminals   int     `json:"terminals"`
	Inflight    int     `json:"inflight_per_terminal"`
	Prepared    int     `json:"ballots_prepared"`
	PrepareSecs float64 `json:"prepare_s"`
	Submitted   int64   `json:"ballots_submitted"`
	// Committed are the ballots the terminals saw committed within the
	// window; CommittedAll includes those committed while draining.
	Committed       int            `json:"ballots_committed"`
	CommittedAll    int            `json:"ballots_committed_with_drain"`
	CommittedPerSec float64        `json:"committed_per_s"`
	Rejected        map[string]int `json:"rejected"`
	Busy            int64          `json:"busy_retries"`
	Unsent          int64          `json:"unsent_all_terminals_busy"`
	RanOut          bool           `json:"ran_out_of_ballots"`
	LatencyMs       struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	Blocks          uint64          `json:"blocks"`
	BlocksPerSec    float64         `json:"blocks_per_s"`
	BallotsPerBlock float64         `json:"ballots_per_block"`
	ChainBallots    uint64          `json:"chain_ballots_counted"`
	BenchCPU        float64         `json:"bench_cpu_s"`
	PerStation      []stationReport `json:"per_station"`
	RSSTimeline     []rssSample     `json:"rss_timeline,omitempty"`
	Notes           []string        `json:"notes,omitempty"`
	Dir             string          `json:"dir,omitempty"`
}

// stationReport is one station's resources.
type stationReport struct {
	ID string `json:"id"`
	// CPUSecs is the process's CPU time (user + system) during the window;
	// CPUPerBallotMs divides it by the ballots committed in the window.
	CPUSecs        float64 `json:"cpu_s"`
	CPUPerBallotMs float64 `json:"cpu_per_ballot_ms"`
	RSS            int64   `json:"rss_bytes"`
	RSSAnon        int64   `json:"rss_anon_bytes"` // heap and stacks: RSS less the file pages mapped (Badger's tables, the roll)
	PeakRSS        int64   `json:"peak_rss_bytes"`
	Disk           int64   `json:"disk_bytes"` // of the data directory (HOME/data), after the nodes stopped
	DiskPerBallot  float64 `json:"disk_bytes_per_ballot"`
}

// rssSample is every station's RSS at a time since the window started.
type rssSample struct {
	T       float64 `json:"t_s"`
	Ballots uint64  `json:"chain_ballots"`
	RSS     []int64 `json:"rss_bytes"`
	Anon    []int64 `json:"rss_anon_bytes"`
}

type benchFlags struct {
	stations, voters, terminals, inflight int
	roll                                  int
	rate                                  float64
	duration, drain, setupTimeout         time.Duration
	jsonOut, pprof                        bool
	keep, bin, memLimit, logLevel         string
	nodes, genesisFile, metrics, homes    string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "urna bench --stations 4 --rate 400 --duration 60s"
	fs := newFlags("bench", example, stderr)
	var f benchFlags
	fs.IntVar(&f.stations, "stations", 4, "stations of the local cluster (each a `urna node` process)")
	fs.IntVar(&f.voters, "voters", 0, "ballots to make ahead of time, one voter each (default: enough for the rate and duration)")
	fs.Float64Var(&f.rate, "rate", 0, "ballots per second offered in all; 0: as fast as the stations accept")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "how long the ballots are cast (the measured window)")
	fs.DurationVar(&f.drain, "drain", 60*time.Second, "how long to wait after the window for ballots in flight")
	fs.IntVar(&f.terminals, "terminals", 0, "simulated terminals (client connections) in all, spread over the stations (default 16 per station)")
	fs.IntVar(&f.inflight, "inflight", 8, "ballots each terminal casts at once, each waiting for its commit (at most 14: a node's streams per connection)")
	fs.IntVar(&f.roll, "roll", 0, "voters on the roll of the local election (default: --voters); more than --voters to measure a large roll's memory")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON on stdout (progress stays on stderr)")
	fs.StringVar(&f.keep, "keep", "", "make the election in this directory (must not exist) and keep it, with the nodes' logs")
	fs.StringVar(&f.bin, "urna", "", "the urna binary the nodes run (default: this one); to measure another build")
	fs.StringVar(&f.logLevel, "log-level", "warn", "the nodes' --log-level (their logs are kept with --keep)")
	fs.BoolVar(&f.pprof, "pprof", false, "give each node a pprof endpoint on a free loopback port (printed)")
	fs.StringVar(&f.memLimit, "memory-limit", "", "each node's memory_limit setting (e.g. 200MiB)")
	fs.StringVar(&f.nodes, "node", "", "HOST:PORT of running nodes, comma-separated, one per station in genesis order: bench them instead of a local cluster")
	fs.StringVar(&f.genesisFile, "genesis", "", "with --node: the genesis.json of an election made by urna init (its directory holds officials/ and voters/codes.csv)")
	fs.StringVar(&f.metrics, "metrics", "", "with --node: the nodes' metrics addresses, comma-separated, for their CPU and memory")
	fs.StringVar(&f.homes, "homes", "", "with --node: the stations' home directories, comma-separated, for bytes on disk")
	fs.DurationVar(&f.setupTimeout, "setup-timeout", 5*time.Minute, "how long the key ceremony may take, and then the opening of the polls (each)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.duration <= 0 || f.inflight < 1 || f.inflight > 14 || f.rate < 0 || f.terminals < 0 || f.voters < 0 || f.roll < 0 {
		fmt.Fprintln(stderr, "urna bench: --duration must be positive, --inflight 1..14; --rate, --terminals, --voters, --roll not negative")
		return errUsage
	}
	if f.nodes == "" && f.stations < 2 {
		fmt.Fprintln(stderr, "urna bench: --stations must be at least 2 (the key ceremony needs a threshold of 2)")
		return errUsage
	}
	if f.nodes != "" && f.genesisFile == "" {
		fmt.Fprintln(stderr, "urna bench: --node needs --genesis")
		return errUsage
	}
	return (&bench{f: f, out: stdout, errw: stderr}).run(ctx)
}

type bench struct {
	f       benchFlags
	out     io.Writer
	errw    io.Writer
	dir     string // the election directory
	g       *genesis.Genesis
	roll    []byte
	nodes   []*benchNode
	clients []*api.Client
	ballots int // ballots to make (0: one per voting code)
}

func (b *bench) progress(format string, args ...any) { progressf(b.errw, format, args...) }

func (b *bench) run(ctx context.Context) (err error) {
	rep := &benchReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), LoadAvg: loadAvg(),
		OfferedRate: b.f.rate, Window: b.f.duration.Seconds(), Inflight: b.f.inflight}
	defer b.cleanup(&err)
	if b.f.nodes == "" {
		if err := b.startCluster(ctx); err != nil {
			return err
		}
	} else if err := b.attach(); err != nil {
		return err
	}
	g := b.g
	n := g.N()
	rep.Stations = n
	if b.f.keep != "" {
		rep.Dir = b.dir
	}
	setup, cancel := context.WithTimeout(ctx, b.f.setupTimeout)
	defer cancel()
	if err := b.dialAll(setup); err != nil {
		return err
	}
	b.progress("waiting for the election key (the stations' key ceremony)…")
	el, err := b.electionKey(setup)
	if err != nil {
		return err
	}
	codes, err := readCodes(filepath.Join(b.dir, "voters", "codes.csv"))
	if err != nil {
		return err
	}
	want := b.ballots // the ballots the local election was made for
	if b.f.voters > 0 {
		want = b.f.voters
	}
	if want == 0 {
		want = len(codes)
	}
	if want > len(codes) {
		return fmt.Errorf("--voters %d: the election has only %d voting codes", want, len(codes))
	}
	codes = codes[:want]
	b.progress("making %d ballots ahead of time on %d cores…", len(codes), numCPU())
	t0 := time.Now()
	lastShown := time.Now()
	ballots, err := makeBallots(ctx, g, el, codes, func(d int) {
		if time.Since(lastShown) > 5*time.Second {
			lastShown = time.Now()
			b.progress("  %d of %d ballots made", d, len(codes))
		}
	})
	if err != nil {
		return err
	}
	rep.Prepared = len(codes)
	rep.PrepareSecs = time.Since(t0).Seconds()
	b.progress("%d ballots made in %.1f s", len(codes), rep.PrepareSecs)

	// Making a million ballots takes longer than the ceremony: opening the
	// polls gets a --setup-timeout of its own.
	opening, cancelOpening := context.WithTimeout(ctx, b.f.setupTimeout)
	defer cancelOpening()
	st0, err := b.clients[0].Status(opening)
	if err != nil {
		return fmt.Errorf("station %s's status before opening the polls: %w", g.Stations()[0].ID, err)
	}
	if chain.Phase(st0.Phase) < chain.PhaseOpen {
		b.progress("opening the polls (approvals of %d officials)…", g.OpenQuorum())
		if err := benchOpenPolls(opening, g, filepath.Join(b.dir, "officials"), b.clients); err != nil {
			return fmt.Errorf("opening the polls: %w", err)
		}
	}
	if err := b.waitOpen(opening); err != nil {
		return err
	}

	// The terminals.
	terminals := b.f.terminals
	if terminals == 0 {
		terminals = 16 * n
	}
	terminals = max(terminals, n)
	rep.Terminals = terminals
	terms := make([][]*api.Client, n)
	for k := range terminals {
		s := k % n
		c, err := b.dial(opening, s)
		if err != nil {
			return fmt.Errorf("terminal %d: %w", k, err)
		}
		defer c.Close()
		terms[s] = append(terms[s], c)
	}

	// The window.
	before := b.sampleAll(ctx)
	stA, err := b.clients[0].Status(ctx)
	if err != nil {
		return err
	}
	selfCPU0 := selfCPU()
	start := time.Now()
	b.progress("casting for %v at %s through %d terminals × %d…", b.f.duration, rateText(b.f.rate), terminals, b.f.inflight)
	end := start.Add(b.f.duration)
	res := newLoadResult()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	done := make(chan struct{})
	go func() {
		defer close(done)
		drive(loadCtx, res, terms, b.f.inflight, ballots, b.f.rate, start, b.f.duration, b.f.drain)
	}()
	peak := make([]int64, n)
	var stB *api.Status
	var after []procSample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastCount, lastT := int64(0), start
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
		}
		now := time.Now()
		if after == nil && (!now.Before(end) || !running) {
			after = b.sampleAll(ctx)
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			stB, err = b.clients[0].Status(sctx)
			scancel()
			if err != nil {
				stopLoad()
				<-done
				return fmt.Errorf("status at the end of the window: %w", err)
			}
		}
		samples := b.sampleAll(ctx)
		var rss, anon []int64
		for i, s := range samples {
			peak[i] = max(peak[i], s.rss, s.peakRSS)
			rss = append(rss, s.rss)
			anon = append(anon, s.anon)
		}
		if err := b.checkNodes(); err != nil {
			stopLoad()
			<-done
			return err
		}
		if !running {
			break
		}
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		st, _ := b.clients[0].Status(sctx)
		scancel()
		elapsed := now.Sub(start).Seconds()
		if st != nil && int(elapsed+0.5)%5 == 0 {
			rep.RSSTimeline = append(rep.RSSTimeline, rssSample{T: elapsed, Ballots: st.Counted, RSS: rss, Anon: anon})
		}
		if c := res.window.Load(); int(elapsed+0.5)%2 == 0 {
			rate := float64(c-lastCount) / now.Sub(lastT).Seconds()
			lastCount, lastT = c, now
			line := fmt.Sprintf("%5.0fs  committed %7d  (%5.0f/s)  in flight %4d", elapsed, c, rate, res.inflight.Load())
			if st != nil {
				line += fmt.Sprintf("  height %6d  mempool %5d", st.Height, st.Mempool)
			}
			line += "  rss MiB"
			for _, r := range rss {
				line += fmt.Sprintf(" %d", r>>20)
			}
			if now.After(end) {
				line += "  (draining)"
			}
			b.progress("%s", line)
		}
	}
	return b.finish(ctx, rep, res, before, after, peak, stA, stB, selfCPU0)
}
