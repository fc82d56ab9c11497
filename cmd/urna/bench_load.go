package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/net/api"
)

// The load side of `urna bench`: ballots made before the measurement, and
// terminals (client connections) that cast them.

// readCodes reads voters/codes.csv as `urna init` writes it.
func readCodes(path string) ([]ballot.VotingCode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var codes []ballot.VotingCode
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for line := 2; sc.Scan(); line++ {
		_, code, ok := strings.Cut(sc.Text(), ",")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want voter,code", path, line)
		}
		c, err := ballot.ParseVotingCode(code)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		codes = append(codes, c)
	}
	return codes, sc.Err()
}

// makeBallots makes one ballot per voting code, voter k casting at station
// k mod n with a random choice (one candidate, or blank), on every core.
// It returns each station's ballots as transactions. progress is told the
// running count.
func makeBallots(ctx context.Context, g *genesis.Genesis, el *ballot.Election, codes []ballot.VotingCode, progress func(done int)) ([][][]byte, error) {
	n := g.N()
	out := make([][][]byte, n)
	for s := range out {
		out[s] = make([][]byte, (len(codes)-s+n-1)/n)
	}
	candidates := len(g.Contests()[0].Candidates)
	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for w := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 13))
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(codes) {
					return
				}
				choices := make(ballot.Choices, len(g.Contests()))
				for ci, c := range g.Contests() {
					choices[ci] = make([]bool, len(c.Candidates))
				}
				if pick := rng.IntN(candidates + 1); pick < candidates {
					choices[0][pick] = true
				}
				s := k % n
				cred := ballot.DeriveCredential(g.ElectionID(), codes[k])
				b, _, err := el.NewBallot(cred, g.Stations()[s].ID, choices, nil)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("making voter %d's ballot: %w", k+1, err) })
					return
				}
				out[s][k/n] = chain.NewBallotTx(b).Encode()
				if d := done.Add(1); progress != nil && d%1000 == 0 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, ctx.Err()
}

// benchOpenPolls signs the approvals of the first open-quorum officials (keys
// in officialsDir/ID.key), each through another station, and waits until
// each is committed.
func benchOpenPolls(ctx context.Context, g *genesis.Genesis, officialsDir string, clients []*api.Client) error {
	for i := range g.OpenQuorum() {
		o := g.Officials()[i]
		seed, err := readKey(filepath.Join(officialsDir, o.ID+".key"))
		if err != nil {
			return fmt.Errorf("opening the polls: %w", err)
		}
		tx := chain.NewApprovalTx(g.Fingerprint(), chain.ActionOpen, ed25519.NewKeyFromSeed(seed)).Encode()
		if _, err := submitRetry(ctx, clients[i%len(clients)], tx); err != nil {
			return fmt.Errorf("official %s's approval to open the polls: %w", o.ID, err)
		}
	}
	return nil
}

// submitRetry submits and waits for the commit, retrying while the
// station is busy.
func submitRetry(ctx context.Context, c *api.Client, tx []byte) (api.Receipt, error) {
	for {
		rc, err := c.SubmitAndWait(ctx, tx, nil)
		if !errors.Is(err, api.ErrBusy) {
			return rc, err
		}
		select {
		case <-ctx.Done():
			return rc, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// loadResult is what the terminals saw.
type loadResult struct {
	mu        sync.Mutex
	latencies []time.Duration // cast → commit, of ballots committed within the window
	commitsIn int             // commits within the window
	commits   int             // all commits, drain included
	rejected  map[string]int  // by rule (or error)
	submitted atomic.Int64
	busy      atomic.Int64
	unsent    atomic.Int64 // due at a set rate while every terminal of the station was busy
	exhausted atomic.Bool  // a station ran out of ballots
	window    atomic.Int64 // commits within the window, for the progress display
	inflight  atomic.Int64 // casts waiting for their commit now
}

func newLoadResult() *loadResult { return &loadResult{rejected: map[string]int{}} }

func (r *loadResult) fail(err error) {
	rule := "error: " + err.Error()
	var rej *api.RejectedError
	if errors.As(err, &rej) {
		rule = rej.Rule
	} else if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		rule = "not committed before the drain ended"
	}
	r.mu.Lock()
	r.rejected[rule]++
	r.mu.Unlock()
}

// drive casts the ballots through the terminals: at rate per second in all
// (round robin over the stations), or, with rate 0, as fast as the
// terminals' answers allow, until the window ends; then it waits (at most
// drain) for what is in flight. terms[s] are station s's terminals, each
// with inflight concurrent casts.
func drive(ctx context.Context, res *loadResult, terms [][]*api.Client, inflight int, ballots [][][]byte, rate float64, start time.Time, window, drain time.Duration) {
	n := len(terms)
	end := start.Add(window)
	castCtx, cancel := context.WithDeadline(ctx, end.Add(drain))
	defer cancel()
	jobs := make([]chan []byte, n)
	for s := range jobs {
		jobs[s] = make(chan []byte, max(1, len(terms[s])*inflight))
	}
	var wg sync.WaitGroup
	for s := range terms {
		for _, c := range terms[s] {
			for range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for tx := range jobs[s] {
						res.submitted.Add(1)
						res.inflight.Add(1)
						t0 := time.Now()
						var err error
						for {
							_, err = c.SubmitAndWait(castCtx, tx, nil)
							if !errors.Is(err, api.ErrBusy) || castCtx.Err() != nil {
								break
							}
							res.busy.Add(1)
							time.Sleep(20 * time.Millisecond)
						}
						now := time.Now()
						res.inflight.Add(-1)
						if err != nil {
							res.fail(err)
							continue
						}
						res.mu.Lock()
						res.commits++
						if !now.After(end) {
							res.commitsIn++
							res.latencies = append(res.latencies, now.Sub(t0))
							res.window.Add(1)
						}
						res.mu.Unlock()
					}
				}()
			}
		}
	}
	// The dispatcher.
	next := make([]int, n)
	give := func(s int, block bool) bool {
		if next[s] >= len(ballots[s]) {
			res.exhausted.Store(true)
			return false
		}
		if block {
			select {
			case jobs[s] <- ballots[s][next[s]]:
			case <-castCtx.Done():
				return false
			}
		} else {
			select {
			case jobs[s] <- ballots[s][next[s]]:
			default:
				res.unsent.Add(1)
				return true
			}
		}
		next[s]++
		return true
	}
	if rate > 0 {
		interval := time.Duration(float64(time.Second) / rate)
		for k := 0; ; k++ {
			due := start.Add(time.Duration(k) * interval)
			if !due.Before(end) {
				break
			}
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			if !give(k%n, false) {
				break
			}
		}
	} else {
		// Every station's queue kept full until the window ends.
		var dw sync.WaitGroup
		for s := range n {
			dw.Add(1)
			go func() {
				defer dw.Done()
				for time.Now().Before(end) && give(s, true) {
				}
			}()
		}
		dw.Wait()
	}
	for s := range jobs {
		close(jobs[s])
	}
	wg.Wait()
}

// percentile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

// progressf writes a progress line.
func progressf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "bench: "+format+"\n", args...)
}
