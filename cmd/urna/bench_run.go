package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// startCluster makes an election with `urna init` (in this process: the
// same code) and starts one `urna node` process per station.
func (b *bench) startCluster(ctx context.Context) error {
	bin := b.f.bin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this binary to run the nodes: %w", err)
		}
	}
	voters := b.f.voters
	if voters == 0 {
		perSec := b.f.rate
		if perSec == 0 {
			perSec = 1000
		}
		voters = int(perSec*b.f.duration.Seconds()*1.1) + 100
	}
	b.ballots = voters
	if b.f.roll > voters {
		voters = b.f.roll
	}
	if b.f.keep != "" {
		if _, err := os.Stat(b.f.keep); err == nil {
			return fmt.Errorf("--keep %s %w", b.f.keep, errExists)
		}
		b.dir = b.f.keep
	} else {
		tmp, err := os.MkdirTemp("", "urna-bench-")
		if err != nil {
			return err
		}
		b.dir = filepath.Join(tmp, "election")
	}
	addrs, err := freeLoopbackPorts(b.f.stations)
	if err != nil {
		return err
	}
	tmpl := filepath.Join(filepath.Dir(b.dir), fmt.Sprintf("bench-%d.yaml", os.Getpid()))
	if err := os.MkdirAll(filepath.Dir(b.dir), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tmpl, []byte(benchTemplate(b.f.stations, voters)), 0o644); err != nil {
		return err
	}
	defer os.Remove(tmpl)
	b.progress("making an election of %d stations and %d voters in %s…", b.f.stations, voters, b.dir)
	var initOut strings.Builder
	if err := runInit(ctx, []string{"--config", tmpl, "--out", b.dir, "--voters", fmt.Sprint(voters),
		"--addresses", strings.Join(addrs, ",")}, &initOut, b.errw); err != nil {
		return fmt.Errorf("urna init: %w", err)
	}
	if err := b.load(); err != nil {
		return err
	}
	for i, st := range b.g.Stations() {
		home := filepath.Join(b.dir, "station-"+st.ID)
		if err := b.extraNodeConfig(home, st.ID); err != nil {
			return err
		}
		n, err := startBenchNode(bin, home, st.Address, b.f.logLevel)
		if err != nil {
			return fmt.Errorf("starting station %s: %w", st.ID, err)
		}
		b.nodes = append(b.nodes, n)
		_ = i
	}
	return nil
}

// extraNodeConfig adds the bench's node settings (pprof, memory limit) to
// a home's config.yaml, only when asked: a node of another build may not
// know them.
func (b *bench) extraNodeConfig(home, id string) error {
	var extra strings.Builder
	if b.f.pprof {
		port, err := freePort("tcp")
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		fmt.Fprintf(&extra, "pprof: %q\n", addr)
		b.progress("station %s: pprof on http://%s/debug/pprof/", id, addr)
	}
	if b.f.memLimit != "" {
		fmt.Fprintf(&extra, "memory_limit: %q\n", b.f.memLimit)
	}
	if extra.Len() == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(home, homeConfig), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(extra.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// attach benches running nodes of an election made by urna init.
func (b *bench) attach() error {
	b.dir = filepath.Dir(b.f.genesisFile)
	if err := b.load(); err != nil {
		return err
	}
	addrs := strings.Split(b.f.nodes, ",")
	if len(addrs) != b.g.N() {
		return fmt.Errorf("--node has %d addresses, the election %d stations (one each, in genesis order)", len(addrs), b.g.N())
	}
	split := func(list string) []string {
		if list == "" {
			return make([]string, len(addrs))
		}
		return strings.Split(list, ",")
	}
	metrics, homes := split(b.f.metrics), split(b.f.homes)
	if len(metrics) != len(addrs) || len(homes) != len(addrs) {
		return errors.New("--metrics and --homes need one entry per --node")
	}
	for i, a := range addrs {
		b.nodes = append(b.nodes, &benchNode{addr: strings.TrimSpace(a), metrics: strings.TrimSpace(metrics[i]), home: strings.TrimSpace(homes[i])})
	}
	return nil
}

func (b *bench) load() error {
	var err error
	if b.g, err = genesis.Load(filepath.Join(b.dir, homeGenesis)); err != nil {
		return err
	}
	if b.roll, err = os.ReadFile(filepath.Join(b.dir, homeRoll)); err != nil {
		return err
	}
	if len(b.g.Contests()) == 0 {
		return errors.New("the election has no contest")
	}
	return nil
}

// cleanup stops the nodes we started and removes a temporary election.
func (b *bench) cleanup(err *error) {
	for _, c := range b.clients {
		if c != nil {
			c.Close()
		}
	}
	for i, n := range b.nodes {
		if n.cmd == nil {
			continue
		}
		if serr := n.stop(30 * time.Second); serr != nil && *err == nil {
			*err = fmt.Errorf("station %d: %v\n%s", i, serr, n.logTail())
		}
	}
	if b.f.nodes == "" && b.f.keep == "" && b.dir != "" {
		os.RemoveAll(filepath.Dir(b.dir))
	}
}

// dial connects to station s, retrying while its node starts.
func (b *bench) dial(ctx context.Context, s int) (*api.Client, error) {
	key := []ed25519.PublicKey{b.g.Stations()[s].PublicKey}
	var last error
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := api.Dial(dctx, b.nodes[s].addr, key, nil)
		if err == nil {
			_, err = c.Status(dctx)
			if err != nil {
				c.Close()
			}
		}
		cancel()
		if err == nil {
			return c, nil
		}
		last = err
		if err := b.checkNodes(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("station %s at %s: %w", b.g.Stations()[s].ID, b.nodes[s].addr, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (b *bench) dialAll(ctx context.Context) error {
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	for s := range b.nodes {
		c, err := b.dial(ctx, s)
		if err != nil {
			return err
		}
		b.clients = append(b.clients, c)
	}
	return nil
}

// electionKey waits for the key ceremony and checks the key as a terminal
// does: by replaying the certified setup blocks.
func (b *bench) electionKey(ctx context.Context) (*ballot.Election, error) {
	for {
		el, _, err := verify.ElectionKey(ctx, b.g, b.roll, blockSource(b.clients[0]))
		if err == nil {
			return el, nil
		}
		if !errors.Is(err, verify.ErrKeyNotReady) {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no election key within --setup-timeout: %w", err)
			}
		}
		if err := b.checkNodes(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no election key within --setup-timeout: %w", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitOpen waits until every station says the polls are open.
func (b *bench) waitOpen(ctx context.Context) error {
	for s, c := range b.clients {
		for {
			st, err := c.Status(ctx)
			if err == nil && chain.Phase(st.Phase) >= chain.PhaseOpen {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("station %s: the polls did not open within --setup-timeout", b.g.Stations()[s].ID)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// checkNodes fails when a node of ours has exited.
func (b *bench) checkNodes() error {
	for i, n := range b.nodes {
		if gone, err := n.exited(); gone {
			return fmt.Errorf("station %s's node exited (%v); its log ends:\n%s", b.g.Stations()[i].ID, err, n.logTail())
		}
	}
	return nil
}

func (b *bench) sampleAll(ctx context.Context) []procSample {
	out := make([]procSample, len(b.nodes))
	for i, n := range b.nodes {
		out[i] = n.sample(ctx)
	}
	return out
}

// finish computes the report, stops the nodes (so that the stores are
// flushed before their size is taken) and prints.
func (b *bench) finish(ctx context.Context, rep *benchReport, res *loadResult, before, after []procSample, peak []int64, stA, stB *api.Status, selfCPU0 float64) error {
	w := b.f.duration.Seconds()
	rep.Submitted = res.submitted.Load()
	rep.Committed = res.commitsIn
	rep.CommittedAll = res.commits
	rep.CommittedPerSec = float64(res.commitsIn) / w
	rep.Rejected = res.rejected
	rep.Busy = res.busy.Load()
	rep.Unsent = res.unsent.Load()
	rep.RanOut = res.exhausted.Load()
	sortDurations(res.latencies)
	rep.LatencyMs.P50 = percentile(res.latencies, 50)
	rep.LatencyMs.P95 = percentile(res.latencies, 95)
	rep.LatencyMs.P99 = percentile(res.latencies, 99)
	rep.LatencyMs.Max = percentile(res.latencies, 100)
	rep.Blocks = stB.Height - stA.Height
	rep.BlocksPerSec = float64(rep.Blocks) / w
	if rep.Blocks > 0 {
		rep.BallotsPerBlock = float64(stB.Counted-stA.Counted) / float64(rep.Blocks)
	}
	rep.BenchCPU = selfCPU() - selfCPU0
	if rep.RanOut {
		rep.Notes = append(rep.Notes, "the stations ran out of prepared ballots before the window ended: raise --voters")
	}
	if rep.Unsent > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d ballots were due while all of a station's terminals were busy: raise --terminals or --inflight", rep.Unsent))
	}
	// The chain's count after the drain, then the nodes stopped so that
	// Badger has flushed what it holds in memory.
	// The stations commit a block at slightly different times: wait (a
	// little) until every one counts what the terminals saw committed.
	counted, err := b.chainCount(ctx, uint64(res.commits))
	if err != nil {
		return err
	}
	rep.ChainBallots = counted
	final := b.sampleAll(ctx)
	var stopErr error
	for i, n := range b.nodes {
		if n.cmd != nil {
			if err := n.stop(60 * time.Second); err != nil {
				stopErr = errors.Join(stopErr, fmt.Errorf("station %s: %v", b.g.Stations()[i].ID, err))
			}
			n.cmd = nil // stopped: cleanup leaves it
		}
	}
	for i, st := range b.g.Stations() {
		r := stationReport{ID: st.ID}
		if before[i].ok && after[i].ok {
			r.CPUSecs = after[i].cpu - before[i].cpu
			if rep.Committed > 0 {
				r.CPUPerBallotMs = r.CPUSecs * 1000 / float64(rep.Committed)
			}
		}
		r.RSS, r.RSSAnon = final[i].rss, final[i].anon
		r.PeakRSS = max(peak[i], final[i].peakRSS, final[i].rss)
		if h := b.nodes[i].home; h != "" {
			// The station's data directory (store, WAL, signer): the home's
			// other files are the election's public files and the key.
			if d, err := diskUsage(filepath.Join(h, homeData)); err == nil {
				r.Disk = d
				if counted > 0 {
					r.DiskPerBallot = float64(d) / float64(counted)
				}
			}
		}
		rep.PerStation = append(rep.PerStation, r)
	}
	rep.LoadEnd = loadAvg()
	if rep.Committed == 0 {
		rep.Notes = append(rep.Notes, "no ballot was committed within the window")
	}
	if b.f.jsonOut {
		enc := json.NewEncoder(b.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printBenchReport(b.out, rep)
	}
	if stopErr != nil {
		return fmt.Errorf("stopping the nodes: %w", stopErr)
	}
	if rep.Committed == 0 {
		return errors.New("no ballot was committed within the window")
	}
	return nil
}

// printBenchReport writes the bench report for people.
func printBenchReport(w io.Writer, rep *benchReport) {
	fmt.Fprintf(w, "urna bench, %s, %s\n", rep.Date, rep.Machine)
	fmt.Fprintf(w, "load average at start %s, at end %s\n", rep.LoadAvg, rep.LoadEnd)
	fmt.Fprintf(w, "%d stations, %d terminals × %d in flight, offered %s for %.0f s (%d ballots made ahead in %.1f s)\n\n",
		rep.Stations, rep.Terminals, rep.Inflight, rateText(rep.OfferedRate), rep.Window, rep.Prepared, rep.PrepareSecs)
	fmt.Fprintf(w, "committed        %d ballots in the window, %.1f ballots/s (%d submitted; %d committed with the drain)\n",
		rep.Committed, rep.CommittedPerSec, rep.Submitted, rep.CommittedAll)
	fmt.Fprintf(w, "cast → commit    p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms\n", rep.LatencyMs.P50, rep.LatencyMs.P95, rep.LatencyMs.P99, rep.LatencyMs.Max)
	fmt.Fprintf(w, "blocks           %d, %.2f blocks/s, %.1f ballots per block\n", rep.Blocks, rep.BlocksPerSec, rep.BallotsPerBlock)
	fmt.Fprintf(w, "chain            %d ballots counted\n", rep.ChainBallots)
	if len(rep.Rejected) > 0 || rep.Busy > 0 {
		fmt.Fprintf(w, "refused          %v; busy retries %d\n", rep.Rejected, rep.Busy)
	}
	fmt.Fprintf(w, "bench's own CPU  %.1f s\n\n", rep.BenchCPU)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "station\tCPU s\tCPU ms/ballot\tRSS MiB\tof which anon\tpeak RSS MiB\tdisk MiB\tdisk B/ballot\t")
	for _, s := range rep.PerStation {
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t\n", s.ID, s.CPUSecs, s.CPUPerBallotMs,
			float64(s.RSS)/(1<<20), float64(s.RSSAnon)/(1<<20), float64(s.PeakRSS)/(1<<20), float64(s.Disk)/(1<<20), s.DiskPerBallot)
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if rep.Dir != "" {
		fmt.Fprintf(w, "election and the nodes' logs kept in %s\n", rep.Dir)
	}
}

// chainCount is the ballots counted on the chain: the least count of the
// stations once each has reached want (or after 15 s, whatever they say).
func (b *bench) chainCount(ctx context.Context, want uint64) (uint64, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		least := ^uint64(0)
		for s, c := range b.clients {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := c.Status(sctx)
			cancel()
			if err != nil {
				return 0, fmt.Errorf("station %s: %w", b.g.Stations()[s].ID, err)
			}
			least = min(least, st.Counted)
		}
		if least >= want || time.Now().After(deadline) {
			return least, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rateText(r float64) string {
	if r == 0 {
		return "full speed"
	}
	return fmt.Sprintf("%.0f ballots/s", r)
}

func numCPU() int { return runtime.GOMAXPROCS(0) }

// selfCPU is this process's CPU time so far (user + system), in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// loadAvg is /proc/loadavg's three averages ("" when unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// machine says what the bench ran on: cores and CPU model.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	s := fmt.Sprintf("%d cores %s/%s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	if model != "" {
		s += ", " + model
	}
	return s
}
