package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// The helpers of the end-to-end tests: a urna binary built once, elections
// made by it, and voters that cast ballots through the client protocol.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// urnaBinary builds cmd/urna once per test run: a static binary
// (CGO_ENABLED=0), so the Docker test can put it in an image as it is.
func urnaBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "urna-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "urna")
		cmd := exec.Command("go", "build", "-trimpath", "-o", builtBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// runBin runs the binary to completion and returns its output.
func runBin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, urnaBinary(t), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("urna %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// testElection is an election made by `urna init`.
type testElection struct {
	dir     string
	genesis *genesis.Genesis
	roll    []byte
	codes   []ballot.VotingCode
}

func loadTestElection(t *testing.T, dir string) *testElection {
	g, err := genesis.Load(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	roll, err := os.ReadFile(filepath.Join(dir, homeRoll))
	if err != nil {
		t.Fatal(err)
	}
	e := &testElection{dir: dir, genesis: g, roll: roll}
	f, err := os.Open(filepath.Join(dir, "voters", "codes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		_, code, _ := strings.Cut(sc.Text(), ",")
		c, err := ballot.ParseVotingCode(code)
		if err != nil {
			t.Fatal(err)
		}
		e.codes = append(e.codes, c)
	}
	return e
}

func (e *testElection) home(i int) string {
	return filepath.Join(e.dir, "station-"+e.genesis.Stations()[i].ID)
}

// dial connects to station i at addr (its genesis address by default).
func (e *testElection) dial(t *testing.T, i int, addr string) *api.Client {
	t.Helper()
	if addr == "" {
		addr = e.genesis.Stations()[i].Address
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := api.Dial(ctx, addr, []ed25519.PublicKey{e.genesis.Stations()[i].PublicKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialRetry connects to station i, retrying while its node starts.
func (e *testElection) dialRetry(t *testing.T, i int, addr string, timeout time.Duration) *api.Client {
	t.Helper()
	if addr == "" {
		addr = e.genesis.Stations()[i].Address
	}
	var c *api.Client
	waitFor(t, timeout, "station "+e.genesis.Stations()[i].ID+" to answer", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		c, err = api.Dial(ctx, addr, []ed25519.PublicKey{e.genesis.Stations()[i].PublicKey}, nil)
		if err == nil {
			_, err = c.Status(ctx)
		}
		return err == nil, err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// electionKey waits for the election key and checks it the way a voter
// terminal does: by replaying the certified setup blocks.
func (e *testElection) electionKey(t *testing.T, c *api.Client) *ballot.Election {
	t.Helper()
	var el *ballot.Election
	waitFor(t, 90*time.Second, "the election key", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		el, _, err = verify.ElectionKey(ctx, e.genesis, e.roll, blockSource(c))
		return err == nil, err
	})
	return el
}

// waitPhase waits until a station says the election reached a phase.
func waitPhase(t *testing.T, c *api.Client, p chain.Phase, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, "phase "+p.String(), func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := c.Status(ctx)
		return err == nil && chain.Phase(st.Phase) >= p, err
	})
}

// cast is a ballot a client was told is committed.
type cast struct {
	hash   [32]byte
	height uint64
	code   string // tracking code
}

// voters casts ballots for voters [from, to) through the clients, several
// at a time, and returns what was committed and the plain counts of the
// choices (contest 0). onCommit is told each commit's running total.
type voters struct {
	e        *testElection
	el       *ballot.Election
	mu       sync.Mutex
	casts    []cast
	counts   []uint64
	failures []error
}

func newVoters(e *testElection, el *ballot.Election) *voters {
	return &voters{e: e, el: el, counts: make([]uint64, len(e.genesis.Contests()[0].Candidates))}
}

func (v *voters) committed() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.casts)
}

// vote casts voter k's ballot at the station a client is connected to.
func (v *voters) vote(ctx context.Context, c *api.Client, stationID string, k int, rng *rand.Rand) error {
	choices := ballot.Choices{make([]bool, len(v.counts))}
	pick := rng.IntN(len(v.counts) + 1) // one candidate, or a blank ballot
	if pick < len(v.counts) {
		choices[0][pick] = true
	}
	cred := ballot.DeriveCredential(v.e.genesis.ElectionID(), v.e.codes[k])
	b, _, err := v.el.NewBallot(cred, stationID, choices, nil)
	if err != nil {
		return err
	}
	tx := chain.NewBallotTx(b).Encode()
	var rc api.Receipt
	for attempt := 0; ; attempt++ {
		rc, err = c.SubmitAndWait(ctx, tx, nil)
		if !errors.Is(err, api.ErrBusy) || attempt > 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("voter %d at %s: %w", k, stationID, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.casts = append(v.casts, cast{hash: rc.Hash, height: rc.Height, code: b.TrackingCode()})
	if pick < len(v.counts) {
		v.counts[pick]++
	}
	return nil
}
