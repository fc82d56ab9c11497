package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/tui"
)

// Exit codes of urna tally (docs/verification.md): 0 every check passed,
// 1 a check failed, 2 bad usage, 3 the audit could not be completed (a
// file that cannot be read, no station reachable, interrupted).
const (
	exitFailed     = 1
	exitIncomplete = 3
)

// exitError carries an exit code other than 1 up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

func incomplete(err error) error { return &exitError{code: exitIncomplete, err: err} }

// runTally verifies an election from the genesis and the chain alone: a
// record file, or the chain as one or several stations serve it, once or
// following it block by block until the result is on the chain.
func runTally(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tally", "urna tally --genesis /tmp/mayor/genesis.json --record mayor.record\n  urna tally --genesis /tmp/mayor/genesis.json --node 127.0.0.1:7101,127.0.0.1:7102 --follow", stderr)
	genesisFile := fs.String("genesis", "", "the election's genesis.json, whose fingerprint was published before the election")
	recordFile := fs.String("record", "", "an election record file (urna export)")
	nodes := fs.String("node", "", "HOST:PORT[,HOST:PORT…] of stations to fetch the chain from (all of them are compared)")
	asJSON := fs.Bool("json", false, "print one JSON document (docs/verification.md) instead of the report")
	follow := fs.Bool("follow", false, "with --node: verify each block as it is committed until the result is on the chain")
	timeout := fs.Duration("timeout", 10*time.Second, "with --node: how long to wait for a station to answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *genesisFile == "" || (*recordFile == "") == (*nodes == "") || (*follow && *nodes == "") {
		fmt.Fprintln(stderr, "urna tally: give --genesis and either --record or --node (--follow needs --node)")
		fs.Usage()
		return errUsage
	}
	g, err := genesis.Load(*genesisFile)
	if err != nil {
		return incomplete(fmt.Errorf("reading the genesis: %w", err))
	}
	var r *talliedReport
	if *recordFile != "" {
		var bar io.Writer
		if !*asJSON && isTerminal(stderr) {
			bar = stderr
		}
		r, err = tallyRecordFile(ctx, g, *recordFile, bar)
	} else {
		var live io.Writer
		if !*asJSON {
			live = stderr
		}
		r, err = tallyNodes(ctx, g, strings.Split(*nodes, ","), *follow, *timeout, live)
	}
	if err != nil {
		return err
	}
	if err := printReport(stdout, r, *asJSON); err != nil {
		return incomplete(err)
	}
	if !r.Verified {
		return &exitError{code: exitFailed, err: r.FirstFailure}
	}
	return nil
}

// tallyRecord verifies an election record against a genesis file and
// prints the report (or its JSON) to stdout, without a progress bar: what
// urna demo calls. The error is nil only if every check passed; a failed
// check is an error that errors.Is audit.ErrVerification.
func tallyRecord(ctx context.Context, genesisPath, recordPath string, stdout io.Writer, asJSON bool) (*audit.Report, error) {
	g, err := genesis.Load(genesisPath)
	if err != nil {
		return nil, incomplete(fmt.Errorf("reading the genesis: %w", err))
	}
	r, err := tallyRecordFile(ctx, g, recordPath, nil)
	if err != nil {
		return nil, err
	}
	if err := printReport(stdout, r, asJSON); err != nil {
		return r.Report, incomplete(err)
	}
	if !r.Verified {
		return r.Report, &exitError{code: exitFailed, err: r.FirstFailure}
	}
	return r.Report, nil
}

// talliedReport is the audit's report with where the chain came from.
type talliedReport struct {
	*audit.Report
	Source   string       `json:"source"` // "record" or "nodes"
	Stations []sourceView `json:"stations,omitempty"`
}

// sourceView is one station urna tally fetched from.
type sourceView struct {
	Station string `json:"station"`
	Address string `json:"address"`
	Height  uint64 `json:"height"` // blocks it served
	Agrees  bool   `json:"agrees"` // every block it served is the verified chain's
	Error   string `json:"error,omitempty"`
}

// ctxReader stops a long read when the context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	mu  sync.Mutex
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func tallyRecordFile(ctx context.Context, g *genesis.Genesis, path string, bar io.Writer) (*talliedReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, incomplete(fmt.Errorf("reading the record: %w", err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, incomplete(err)
	}
	fp := g.Fingerprint()
	var progress func(audit.Progress)
	if bar != nil {
		start := time.Now()
		progress = func(p audit.Progress) {
			drawProgress(bar, float64(p.Bytes)/float64(max(info.Size(), 1)),
				fmt.Sprintf("block %d, %d ballots verified, %s", p.Height, p.Counted, time.Since(start).Round(time.Second)))
		}
	}
	rep, _ := audit.VerifyRecord(&ctxReader{ctx: ctx, r: f}, &fp, progress)
	if bar != nil {
		fmt.Fprint(bar, "\r\x1b[K")
	}
	if err := ctx.Err(); err != nil {
		return nil, incomplete(fmt.Errorf("interrupted at block %d: %w", rep.Height, err))
	}
	return &talliedReport{Report: without(rep, audit.CheckSources), Source: "record"}, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// drawProgress redraws a one-line progress bar.
func drawProgress(w io.Writer, frac float64, text string) {
	const width = 30
	frac = min(max(frac, 0), 1)
	full := int(frac * width)
	bar := tui.Bar.Render(strings.Repeat(tui.BarFull, full)) + tui.Subtle.Render(strings.Repeat(tui.BarEmpty, width-full))
	fmt.Fprintf(w, "\r\x1b[Kverifying [%s] %3.0f%%  %s", bar, frac*100, text)
}

// nodeSource is one station the chain is fetched from.
type nodeSource struct {
	addr, id string
	c        *api.Client
	served   uint64
	dialed   time.Time
	dialing  chan dialed // a dial in the background, if any
	err      error       // unreachable, or broke off
	diverged string
}

func (s *nodeSource) live() bool { return s.c != nil && s.err == nil && s.diverged == "" }

// errNoStation: none of the stations answers (any more).
var errNoStation = errors.New("no station answers")

// redial connects to a station that has not answered (not yet, or no
// more: a restarted station, a network glitch), at most every 5 s; a
// station that served another chain is not asked again.
func (s *nodeSource) redial(ctx context.Context, g *genesis.Genesis, timeout time.Duration) {
	if s.err == nil || s.diverged != "" || time.Since(s.dialed) < 5*time.Second {
		return
	}
	s.dialed = time.Now()
	s.connected(dial(ctx, g, s.addr, timeout))
}

// redialLater is redial in the background, so that following the other
// stations does not wait for a dead one's handshake: the connection is
// taken up by a later call once it is made.
func (s *nodeSource) redialLater(ctx context.Context, g *genesis.Genesis, timeout time.Duration) {
	if s.dialing != nil {
		select {
		case r := <-s.dialing:
			s.dialing = nil
			s.connected(r)
		default:
		}
		return
	}
	if s.err == nil || s.diverged != "" || time.Since(s.dialed) < 5*time.Second {
		return
	}
	s.dialed = time.Now()
	ch := make(chan dialed, 1)
	s.dialing = ch
	go func() { ch <- dial(ctx, g, s.addr, timeout) }()
}

// dialed is the outcome of a dial.
type dialed struct {
	c   *api.Client
	id  string
	err error
}

func dial(ctx context.Context, g *genesis.Genesis, addr string, timeout time.Duration) dialed {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, idx, err := dialStation(dctx, g, addr, "")
	if err != nil {
		return dialed{err: err}
	}
	return dialed{c: c, id: g.Stations()[idx].ID}
}

// connected takes up a dial's outcome.
func (s *nodeSource) connected(r dialed) {
	if r.err != nil {
		s.err = r.err
		return
	}
	if s.c != nil {
		s.c.Close()
	}
	s.c, s.id, s.err = r.c, r.id, nil
}

// tallyNodes audits the chain as the stations at addrs serve it. Each
// height's block is fetched from every station; when they differ, the one
// a quorum certified is audited and the others' stations are named. With
// follow it waits for new blocks until the result is on the chain.
func tallyNodes(ctx context.Context, g *genesis.Genesis, addrs []string, follow bool, timeout time.Duration, live io.Writer) (*talliedReport, error) {
	var srcs []*nodeSource
	for _, addr := range addrs {
		addr = strings.TrimSpace(addr)
		if addr == "" {
			continue
		}
		srcs = append(srcs, &nodeSource{addr: addr, err: errors.New("not connected")})
	}
	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.redial(ctx, g, timeout) // each source only here: no race
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range srcs {
			if s.dialing != nil {
				s.connected(<-s.dialing) // bounded by the dial's timeout
			}
			if s.c != nil {
				s.c.Close()
			}
		}
	}()
	roll, err := fetchRoll(ctx, g, srcs, timeout)
	if err != nil {
		return nil, incomplete(err)
	}
	fp := g.Fingerprint()
	a, _ := audit.New(g.Encode(), roll, &fp)
	view := newLiveView(live, g, srcs)
	var wake <-chan struct{}
	if follow {
		wake = subscribe(ctx, srcs)
	}
	var silent time.Time // since when no station answers
	for a.Err() == nil {
		if follow {
			for _, s := range srcs {
				s.redialLater(ctx, g, timeout)
			}
		}
		n, err := fetchRound(ctx, g, a, srcs, timeout)
		switch {
		case errors.Is(err, errNoStation) && follow && (silent.IsZero() || time.Since(silent) < max(6*timeout, time.Minute)):
			// Following, wait a while for a station to come back.
			if silent.IsZero() {
				silent = time.Now()
			}
		case err != nil:
			view.clear()
			return nil, incomplete(err)
		default:
			silent = time.Time{}
		}
		view.draw(a.Report())
		if n > 0 {
			continue
		}
		if !follow || a.Tallied() {
			break
		}
		select {
		case <-ctx.Done():
			view.clear()
			return nil, incomplete(fmt.Errorf("interrupted at block %d: %w", a.Height(), ctx.Err()))
		case <-wake:
		case <-time.After(2 * time.Second): // events may be missed; ask anyway
		}
	}
	view.clear()
	// The stations that broke off or served another chain, and the results
	// they publish.
	var views []sourceView
	for _, s := range srcs {
		v := sourceView{Station: s.id, Address: s.addr, Height: s.served, Agrees: s.c != nil && s.diverged == ""}
		if s.err != nil {
			v.Error = s.err.Error()
		}
		if s.diverged != "" {
			v.Error = s.diverged
			a.Fail(&audit.Failure{Check: audit.CheckSources, Rule: "different-chain", Tx: -1, Detail: fmt.Sprintf("station %s (%s) %s", s.id, s.addr, s.diverged)})
		}
		if s.live() && a.Tallied() {
			sctx, cancel := context.WithTimeout(ctx, timeout)
			st, err := s.c.Status(sctx)
			cancel()
			if err == nil {
				if st.Election != fp {
					a.Fail(&audit.Failure{Check: audit.CheckSources, Rule: "other-election", Tx: -1, Detail: fmt.Sprintf("station %s (%s) says it serves election %x…", s.id, s.addr, st.Election[:6])})
				} else if chain.Phase(st.Phase) == chain.PhaseTallied {
					a.CheckPublished("station "+s.id, st.Result)
				}
			}
		}
		views = append(views, v)
	}
	return &talliedReport{Report: without(a.Report(), audit.CheckRecord), Source: "nodes", Stations: views}, nil
}

// without drops a check that does not apply to where the chain came from
// (the record's framing when fetched from stations, the stations'
// agreement when read from a record).
func without(r *audit.Report, check string) *audit.Report {
	r.Checks = slices.DeleteFunc(r.Checks, func(c audit.Check) bool { return c.Name == check })
	return r
}

// fetchRoll gets the voter roll from the first station whose roll is the
// genesis's; if none has it, the first one's (which the audit then refuses).
func fetchRoll(ctx context.Context, g *genesis.Genesis, srcs []*nodeSource, timeout time.Duration) ([]byte, error) {
	var first []byte
	var lastErr error
	for _, s := range srcs {
		if !s.live() {
			lastErr = s.err
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 10*timeout)
		roll, err := s.c.Roll(rctx)
		cancel()
		if err != nil {
			s.err, lastErr = fmt.Errorf("fetching the roll: %w", err), err
			continue
		}
		if _, err := verify.Roll(g, roll); err == nil {
			return roll, nil
		}
		if first == nil {
			first = roll
		}
	}
	if first != nil {
		return first, nil
	}
	return nil, fmt.Errorf("no station could be reached: %w", lastErr)
}

// subscribe merges the stations' committed-block events into one wake-up
// channel.
func subscribe(ctx context.Context, srcs []*nodeSource) <-chan struct{} {
	wake := make(chan struct{}, 1)
	for _, s := range srcs {
		if !s.live() {
			continue
		}
		ev, err := s.c.Events(ctx)
		if err != nil {
			continue
		}
		go func() {
			for range ev {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}()
	}
	return wake
}

// fetchRound fetches the next batch of blocks from every live station,
// picks each height's block, and audits them. It returns how many blocks
// it audited.
func fetchRound(ctx context.Context, g *genesis.Genesis, a *audit.Auditor, srcs []*nodeSource, timeout time.Duration) (int, error) {
	from := a.Height() + 1
	batches := make([][]api.Block, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		if !s.live() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bctx, cancel := context.WithTimeout(ctx, 3*timeout)
			defer cancel()
			bs, _, err := s.c.Blocks(bctx, from, 0)
			if err != nil {
				s.err = fmt.Errorf("fetching blocks from %d: %w", from, err)
				return
			}
			batches[i] = bs
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	alive := false
	n := 0
	for i, s := range srcs {
		if s.live() {
			alive = true
			n = max(n, len(batches[i]))
		}
	}
	if !alive {
		return 0, errNoStation
	}
	vals, err := bft.NewValidatorSet(g.StationKeys())
	if err != nil {
		return 0, err
	}
	var chosen []api.Block
	var conflict *audit.Failure
	for k := 0; k < n && conflict == nil; k++ {
		h := from + uint64(k)
		type group struct {
			hash [32]byte
			b    api.Block
			srcs []*nodeSource
		}
		var groups []*group
		for i, s := range srcs {
			if !s.live() || k >= len(batches[i]) {
				continue
			}
			b := batches[i][k]
			hash := sha256.Sum256(b.Block)
			var gr *group
			for _, x := range groups {
				if x.hash == hash {
					gr = x
				}
			}
			if gr == nil {
				gr = &group{hash: hash, b: b}
				groups = append(groups, gr)
			}
			gr.srcs = append(gr.srcs, s)
			s.served = h
		}
		supplied := 0
		for _, gr := range groups {
			supplied += len(gr.srcs)
		}
		a.Count(audit.CheckSources, uint64(supplied))
		pick := groups[0]
		if len(groups) > 1 {
			// The stations disagree: audit the block a quorum certified
			// (two certified blocks at one height would be a safety
			// failure, which the audit of either shows).
			var certified []*group
			for _, gr := range groups {
				if _, err := verify.Certified(g, vals, h, gr.b.Block, gr.b.Certificate); err == nil {
					certified = append(certified, gr)
				}
			}
			if len(certified) > 1 {
				var names []string
				for _, gr := range certified {
					names = append(names, stationNames(gr.srcs))
				}
				conflict = &audit.Failure{Check: audit.CheckSources, Rule: "conflicting-certificates", Height: h, Tx: -1,
					Detail: "two different blocks carry valid certificates at this height: " + strings.Join(names, " and ")}
				break
			}
			if len(certified) == 1 {
				pick = certified[0]
			}
			for _, gr := range groups {
				if gr != pick {
					for _, s := range gr.srcs {
						s.diverged = fmt.Sprintf("serves a different block at height %d (%x…), not the certified one", h, gr.hash[:6])
					}
				}
			}
		}
		if conflict == nil {
			chosen = append(chosen, pick.b)
		}
	}
	audited, err := auditBlocks(a, chosen)
	if err == nil && conflict != nil {
		a.Fail(conflict) // after the blocks below it
	}
	return audited, nil
}

// auditBlocks audits blocks in batches that the verified-ballot cache
// holds, and returns how many verified.
func auditBlocks(a *audit.Auditor, chosen []api.Block) (int, error) {
	done := 0
	// Audit in batches the verified-ballot cache holds.
	for len(chosen) > 0 {
		k, size := 0, 0
		for k < len(chosen) && k < 64 && size < 16<<20 {
			size += len(chosen[k].Block)
			k++
		}
		blocks := make([][]byte, k)
		for i := range k {
			blocks[i] = chosen[i].Block
		}
		a.Preverify(blocks)
		for i := range k {
			if err := a.Block(chosen[i].Block, chosen[i].Certificate); err != nil {
				return done, err
			}
			done++
		}
		chosen = chosen[k:]
	}
	return done, nil
}
