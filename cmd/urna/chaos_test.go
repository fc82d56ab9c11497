package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/bft/signer"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// The chaos run: four `urna node` processes under steady ballot load from
// concurrent clients, while a seeded schedule kills (-9) one station at a
// time and restarts it, and now and then freezes one (SIGSTOP) for longer
// than the consensus timeouts before thawing it (SIGCONT). Never more than
// f = 1 station is down or frozen at once, and the others must go on
// committing while it is. At the end the polls are closed and the election
// tallied, and:
//
//   - every ballot a client was told is committed is in every station's
//     chain, at the height it was told;
//   - every station holds the same chain, byte for byte (so the same head);
//   - no station signed two conflicting votes: there is no evidence on the
//     chain, and each station's double-sign guard state is at or past every
//     precommit of its that the chain's certificates hold (a guard state
//     that went backwards across a kill would let it sign again);
//   - the result equals the plain count of the ballots on the chain, and the
//     record exported by `urna export` and the four stations' chains pass
//     `urna tally` (every check, no evidence, the same result).
//
// By default a few kills and one freeze (about a minute); URNA_CHAOS_KILLS=N
// runs N kills with a freeze every 10, URNA_CHAOS_SEED picks the schedule.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes and kills them; skipped in -short")
	}
	kills, pauses := 3, 1
	if s := os.Getenv("URNA_CHAOS_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("URNA_CHAOS_KILLS=%q: want a positive number", s)
		}
		kills, pauses = n, max(1, n/10)
	}
	seed := uint64(1)
	if s := os.Getenv("URNA_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("URNA_CHAOS_SEED=%q: want a number", s)
		}
		seed = n
	}
	t.Logf("chaos: %d kills, %d freezes, seed %d (URNA_CHAOS_KILLS, URNA_CHAOS_SEED)", kills, pauses, seed)
	urnaBinary(t)
	start := time.Now()
	voters := 150 + 60*kills // more than the load can use in the run

	f, nodes := loopbackElection(t, "chaos", voters, nil)
	e := f.e
	mon := newMonitor(t, e, f.addr)
	el := e.electionKey(t, e.dial(t, 0, ""))
	openPolls(t, f)
	t.Logf("polls open after %v", time.Since(start).Round(time.Millisecond))

	// The load: workers that each cast a ballot, wait until told it is
	// committed (moving to another station when theirs dies or hangs), and
	// pause a little before the next.
	load := startLoad(t, f, el, voters)
	load.waitCommitted(t, 10, 2*time.Minute, "the first ballots")

	progress := func(what string) { load.progress(t, what) }
	catchUp := func(i int) { mon.catchUp(t, i) }
	rng := mrand.New(mrand.NewPCG(seed, 0x63686f73))
	sleep := func(lo, hi time.Duration) { time.Sleep(lo + time.Duration(rng.Int64N(int64(hi-lo)))) }
	pauseEvery := kills / pauses
	freezes := 0
	for k := 1; k <= kills; k++ {
		sleep(300*time.Millisecond, 2*time.Second)
		i := rng.IntN(4)
		nodes[i].kill()
		mon.drop(i)
		sleep(500*time.Millisecond, 3*time.Second)
		progress(fmt.Sprintf("ballots committed while station %d is killed (kill %d)", i, k))
		nodes[i] = startNode(t, e.home(i))
		catchUp(i)
		if k%10 == 0 || k == kills {
			t.Logf("kill %d of %d (station %d): %d ballots committed, %v", k, kills, i, load.committed(), time.Since(start).Round(time.Millisecond))
		}
		if k%pauseEvery == 0 && freezes < pauses {
			freezes++
			j := rng.IntN(4)
			// Longer than the propose timeout (3 s) and the prevote and
			// precommit timeouts after it: the others must move rounds on.
			if err := nodes[j].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			progress(fmt.Sprintf("ballots committed while station %d is frozen", j))
			if err := nodes[j].cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			catchUp(j)
			t.Logf("station %d frozen (SIGSTOP) for more than the timeouts and thawed: %d ballots committed, %v", j, load.committed(), time.Since(start).Round(time.Millisecond))
		}
	}
	load.finish(t)
	t.Logf("chaos over: %d kills, %d freezes, %d ballots committed (%d resubmitted after a failure), %v",
		kills, freezes, load.committed(), load.retried.Load(), time.Since(start).Round(time.Millisecond))

	end := closeAndVerify(t, f, mon, load)
	t.Logf("chaos run: %d kills, %d freezes, %d ballots committed, %d counted, head %d (%x…), same chain on 4 stations, result %v, urna tally verifies; %v",
		kills, freezes, end.told, end.counted, end.head, end.headHash[:6], end.result, time.Since(start).Round(time.Millisecond))
}

// openPolls opens the polls with two officials' approvals through
// stations 0 and 1.
func openPolls(t *testing.T, f *fleet) {
	t.Helper()
	e := f.e
	gen := filepath.Join(e.dir, "genesis.json")
	for i, o := range []string{"clerk", "deputy-clerk"} {
		if _, err := runBin(t, "polls", "open", "--key", filepath.Join(e.dir, "officials", o+".key"), "--node", f.addr(i), "--station", e.genesis.Stations()[i].ID, "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, e.dial(t, 0, f.addr(0)), chain.PhaseOpen, 60*time.Second)
}

// fleet is how a test reaches and stops the stations of a run, processes
// on loopback or containers.
type fleet struct {
	e    *testElection
	addr func(i int) string // where to dial station i now
	stop func(i int) error  // stop station i cleanly
}

// startLoad starts six workers casting ballots (see chaosLoad.worker).
func startLoad(t *testing.T, f *fleet, el *ballot.Election, voters int) *chaosLoad {
	l := newChaosLoad(f.e, f.addr, el, voters)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for w := range 6 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.worker(ctx, w)
		}()
	}
	t.Cleanup(func() { cancel(); l.wg.Wait() })
	return l
}

// finish stops the workers once their ballots in flight are committed,
// and fails the test if one failed.
func (l *chaosLoad) finish(t *testing.T) {
	t.Helper()
	l.stop()
	l.wg.Wait()
	if err := l.err(); err != nil {
		t.Fatal(err)
	}
}

// verifiedEnd is what closeAndVerify established.
type verifiedEnd struct {
	told, counted uint64
	head          uint64
	headHash      [32]byte
	result        []uint64
	lastSigned    []position // per station: its last precommit in a certificate
}

// closeAndVerify closes the polls, waits for the tally on every station
// and checks the end of a run: the same chain on every station, every
// ballot a client was told is committed in it where it was told, no
// evidence, the result the plain count of the ballots on the chain, the
// exported record replays, and each station's double-sign guard state is
// at or past its last precommit on the chain. It stops the nodes.
func closeAndVerify(t *testing.T, f *fleet, mon *monitor, load *chaosLoad) verifiedEnd {
	t.Helper()
	e := f.e
	dir, g := e.dir, e.genesis
	gen := filepath.Join(dir, "genesis.json")
	// Close the polls and wait for the tally on every station.
	for i, o := range []string{"clerk", "observer"} {
		if _, err := runBin(t, "polls", "close", "--key", filepath.Join(dir, "officials", o+".key"), "--node", f.addr(2+i), "--station", g.Stations()[2+i].ID, "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	var head uint64
	waitFor(t, 3*time.Minute, "every station tallied, at the same height", func() (bool, error) {
		head = 0
		var hs [4]uint64
		for i := range 4 {
			st, err := mon.status(i)
			if err != nil {
				return false, err
			}
			if chain.Phase(st.Phase) != chain.PhaseTallied {
				return false, fmt.Errorf("station %d in phase %v", i, chain.Phase(st.Phase))
			}
			hs[i] = st.Height
			head = max(head, st.Height)
		}
		return hs[0] == hs[1] && hs[1] == hs[2] && hs[2] == hs[3], nil
	})

	// The same chain everywhere, and it verifies.
	chains := make([][]verify.Block, 4)
	for i := range 4 {
		chains[i] = fetchAll(t, mon.client(t, i), head)
	}
	for i := 1; i < 4; i++ {
		for h := range chains[0] {
			if !bytes.Equal(chains[i][h].Block, chains[0][h].Block) {
				t.Fatalf("station %d's block %d differs from station 0's", i, h+1)
			}
		}
	}
	headHash := bft.HashValue(chains[0][head-1].Block)
	fl, err := verify.NewFollower(g, e.roll)
	if err != nil {
		t.Fatal(err)
	}
	where := map[[32]byte]uint64{}
	signed := make([]position, 4) // per station: its last precommit in a certificate
	plain := make([]uint64, len(g.Contests()[0].Candidates))
	for _, b := range chains[0] {
		a, err := fl.Apply(b.Block, b.Certificate)
		if err != nil {
			t.Fatalf("block %d: %v", b.Height, err)
		}
		for _, raw := range a.Block.Txs {
			h := sha256.Sum256(raw)
			where[h] = b.Height
			tx, err := chain.DecodeTx(raw)
			if err != nil {
				t.Fatal(err)
			}
			if tx.Kind == chain.TxEvidence {
				t.Errorf("block %d holds equivocation evidence: a station signed two conflicting votes", b.Height)
			}
			if pick, ok := load.pick(h); ok && pick < len(plain) {
				plain[pick]++
			}
		}
		cert, err := bft.DecodeCertificate(b.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range cert.Signatures {
			p := position{cert.Height, cert.Round}
			if signed[s.Validator].less(p) {
				signed[s.Validator] = p
			}
		}
	}
	st := fl.State()
	if st.Phase != chain.PhaseTallied || st.Evidence != 0 {
		t.Fatalf("verified chain: phase %v, %d evidence", st.Phase, st.Evidence)
	}
	if !slices.Equal(st.Result[0], plain) {
		t.Fatalf("result %v, the plain choices of the ballots on the chain %v", st.Result[0], plain)
	}
	casts := load.told()
	if st.Counted < uint64(len(casts)) {
		t.Fatalf("%d ballots counted, %d told committed", st.Counted, len(casts))
	}
	for _, c := range casts {
		if where[c.hash] != c.height {
			t.Fatalf("ballot %x told committed at %d is at %d of the chain", c.hash[:6], c.height, where[c.hash])
		}
	}

	// The record an operator exports, and the four stations' chains, pass
	// `urna tally`: every check, no evidence, the same result.
	recFile := filepath.Join(dir, "election.record")
	if _, err := runBin(t, "export", "--node", f.addr(1), "--station", g.Stations()[1].ID, "--genesis", gen, "--out", recFile); err != nil {
		t.Fatal(err)
	}
	var all []string
	for i := range 4 {
		all = append(all, f.addr(i))
	}
	for _, src := range [][]string{{"--record", recFile}, {"--node", strings.Join(all, ",")}} {
		out, err := runBin(t, append([]string{"tally", "--genesis", gen, "--json"}, src...)...)
		if err != nil {
			t.Fatalf("urna tally %s: %v", src[0], err)
		}
		var rep struct {
			Verified bool   `json:"verified"`
			Tallied  bool   `json:"tallied"`
			Counted  uint64 `json:"ballots_counted"`
			Results  []struct {
				Candidates []struct {
					Votes uint64 `json:"votes"`
				} `json:"candidates"`
			} `json:"results"`
			Evidence []json.RawMessage `json:"evidence"`
			Stations []struct {
				Station string `json:"station"`
				Agrees  bool   `json:"agrees"`
			} `json:"stations"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("urna tally %s --json: %v\n%s", src[0], err, out)
		}
		var votes []uint64
		if len(rep.Results) > 0 {
			for _, c := range rep.Results[0].Candidates {
				votes = append(votes, c.Votes)
			}
		}
		if !rep.Verified || !rep.Tallied || rep.Counted != st.Counted || !slices.Equal(votes, plain) || len(rep.Evidence) != 0 {
			t.Fatalf("urna tally %s: verified %v, tallied %v, %d counted, result %v, %d evidence; want %d counted, %v, none",
				src[0], rep.Verified, rep.Tallied, rep.Counted, votes, len(rep.Evidence), st.Counted, plain)
		}
		for _, sv := range rep.Stations {
			if !sv.Agrees {
				t.Fatalf("urna tally --node: station %s does not agree with the verified chain", sv.Station)
			}
		}
	}

	// Each station's double-sign guard remembers at least its last
	// precommit on the chain: its state never went back across the kills.
	for i := range 4 {
		if err := f.stop(i); err != nil {
			t.Fatalf("station %d: %v", i, err)
		}
		h := mustHome(t, e.home(i))
		sg, err := signer.Open(filepath.Join(h.dataDir(), "signer"), ed25519.NewKeyFromSeed(h.seed))
		if err != nil {
			t.Fatalf("station %d's signer state: %v", i, err)
		}
		lh, lr, ls := sg.Last()
		last := position{lh, lr}
		if last.less(signed[i]) || (last == signed[i] && ls < signer.StepPrecommit) {
			t.Fatalf("station %d's signer state is at height %d round %d step %d, behind its precommit at height %d round %d on the chain",
				i, lh, lr, ls, signed[i].height, signed[i].round)
		}
	}
	return verifiedEnd{told: uint64(len(casts)), counted: st.Counted, head: head, headHash: headHash, result: st.Result[0], lastSigned: signed}
}

// loopbackElection makes an election of four stations on loopback with
// `urna init` and starts their nodes; prepare, if not nil, runs before they
// start (to change a station's home). On failure the nodes' log tails are
// printed.
func loopbackElection(t *testing.T, name string, voters int, prepare func(e *testElection)) (*fleet, []*nodeProc) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "e")
	if keep := os.Getenv("URNA_E2E_KEEP"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("%s-%d", name, time.Now().Unix()))
		t.Logf("keeping the election and the nodes' logs in %s", dir)
	}
	var addrs []string
	for range 4 {
		p, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if _, err := runBin(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir,
		"--voters", strconv.Itoa(voters), "--addresses", strings.Join(addrs, ","), "--metrics", "off"); err != nil {
		t.Fatal(err)
	}
	e := loadTestElection(t, dir)
	if prepare != nil {
		prepare(e)
	}
	nodes := make([]*nodeProc, 4)
	for i := range nodes {
		nodes[i] = startNode(t, e.home(i))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("station %d log tail:\n%s", i, n.logTail())
			}
		}
	})
	f := &fleet{
		e:    e,
		addr: func(i int) string { return addrs[i] },
		stop: func(i int) error {
			if err := nodes[i].stop(); err != nil {
				return err
			}
			if !strings.Contains(nodes[i].logTail(), "station stopped") {
				return fmt.Errorf("station %d's log does not end with its stop", i)
			}
			return nil
		},
	}
	return f, nodes
}

// position is a (height, round) of consensus.
type position struct {
	height uint64
	round  uint32
}

func (p position) less(q position) bool {
	return p.height < q.height || (p.height == q.height && p.round < q.round)
}

// monitor keeps one status connection per station, redialled when the
// station restarts.
type monitor struct {
	e    *testElection
	addr func(i int) string
	mu   sync.Mutex
	cs   [4]*api.Client
}

func newMonitor(t *testing.T, e *testElection, addr func(i int) string) *monitor {
	m := &monitor{e: e, addr: addr}
	t.Cleanup(func() {
		for i := range m.cs {
			m.drop(i)
		}
	})
	return m
}

func (m *monitor) drop(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cs[i] != nil {
		m.cs[i].Close()
		m.cs[i] = nil
	}
}

func (m *monitor) get(i int) (*api.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cs[i] != nil {
		return m.cs[i], nil
	}
	st := m.e.genesis.Stations()[i]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := api.Dial(ctx, m.addr(i), []ed25519.PublicKey{st.PublicKey}, nil)
	if err != nil {
		return nil, err
	}
	m.cs[i] = c
	return c, nil
}

func (m *monitor) client(t *testing.T, i int) *api.Client {
	t.Helper()
	c, err := m.get(i)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (m *monitor) status(i int) (*api.Status, error) {
	c, err := m.get(i)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		m.drop(i)
		return nil, fmt.Errorf("station %d: %w", i, err)
	}
	return st, nil
}

func (m *monitor) height(i int) (uint64, error) {
	st, err := m.status(i)
	if err != nil {
		return 0, err
	}
	return st.Height, nil
}

// maxHeight is the highest height among the stations other than i that
// answer.
func (m *monitor) maxHeight(i int) uint64 {
	var h uint64
	for j := range 4 {
		if j != i {
			if hj, err := m.height(j); err == nil {
				h = max(h, hj)
			}
		}
	}
	return h
}

// castAt casts voter k's ballot (a vote for the first candidate) at
// station i and waits, at most timeout, until it is committed there; the
// ballot counts as the load's own.
func (l *chaosLoad) castAt(i, k int, timeout time.Duration) error {
	st := l.e.genesis.Stations()[i]
	b, _, err := l.el.NewBallot(ballot.DeriveCredential(l.e.genesis.ElectionID(), l.e.codes[k]), st.ID, ballot.Choices{{true, false, false, false}}, nil)
	if err != nil {
		return err
	}
	tx := chain.NewBallotTx(b).Encode()
	l.mu.Lock()
	l.picks[sha256.Sum256(tx)] = 0
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := api.Dial(ctx, l.addr(i), []ed25519.PublicKey{st.PublicKey}, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	rc, err := c.SubmitAndWait(ctx, tx, nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.casts = append(l.casts, cast{hash: rc.Hash, height: rc.Height, code: b.TrackingCode()})
	l.mu.Unlock()
	return nil
}

// catchUp waits until station i is at least as high as the others were.
func (m *monitor) catchUp(t *testing.T, i int) {
	t.Helper()
	target := m.maxHeight(i)
	waitFor(t, 3*time.Minute, fmt.Sprintf("station %d to catch up to height %d", i, target), func() (bool, error) {
		h, err := m.height(i)
		return err == nil && h >= target, err
	})
}

// progress waits until more ballots are committed than when it was
// called: the cluster is live with whatever station is down.
func (l *chaosLoad) progress(t *testing.T, what string) {
	t.Helper()
	l.waitCommitted(t, l.committed()+3, 3*time.Minute, what)
}

// waitCommitted waits until n ballots are committed, and fails at once
// if the load failed.
func (l *chaosLoad) waitCommitted(t *testing.T, n int, timeout time.Duration, what string) {
	t.Helper()
	waitFor(t, timeout, what, func() (bool, error) {
		if err := l.err(); err != nil {
			t.Fatalf("waiting for %s: the load failed: %v", what, err)
		}
		return l.committed() >= n, nil
	})
}

// chaosLoad is the ballot load of the chaos run.
type chaosLoad struct {
	e       *testElection
	addr    func(i int) string
	el      *ballot.Election
	voters  int
	next    atomic.Int64
	done    chan struct{}
	once    sync.Once
	retried atomic.Int64
	wg      sync.WaitGroup
	cancel  context.CancelFunc

	mu     sync.Mutex
	casts  []cast
	picks  map[[32]byte]int // every ballot submitted: its choice in contest 0
	failed error
}

func newChaosLoad(e *testElection, addr func(i int) string, el *ballot.Election, voters int) *chaosLoad {
	return &chaosLoad{e: e, addr: addr, el: el, voters: voters, done: make(chan struct{}), picks: map[[32]byte]int{}}
}

func (l *chaosLoad) stop() { l.once.Do(func() { close(l.done) }) }

func (l *chaosLoad) committed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.casts)
}

func (l *chaosLoad) told() []cast {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.casts)
}

func (l *chaosLoad) pick(h [32]byte) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.picks[h]
	return p, ok
}

func (l *chaosLoad) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

func (l *chaosLoad) fail(err error) {
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	l.mu.Unlock()
	l.stop()
}

// worker casts ballots until stopped or out of voters. A ballot whose
// station dies, hangs or refuses service is submitted again, the very same
// bytes, at another station, until one says it is committed: a station must
// then answer "committed" for a ballot it already has on its chain.
func (l *chaosLoad) worker(ctx context.Context, w int) {
	rng := mrand.New(mrand.NewPCG(uint64(w), 3))
	n := len(l.e.genesis.Contests()[0].Candidates)
	station := w % 4
	var c *api.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-l.done:
			return
		case <-time.After(time.Duration(100+rng.IntN(300)) * time.Millisecond):
		}
		k := int(l.next.Add(1)) - 1
		if k >= l.voters {
			return
		}
		choices := ballot.Choices{make([]bool, n)}
		pick := rng.IntN(n + 1) // n: blank
		if pick < n {
			choices[0][pick] = true
		}
		st := l.e.genesis.Stations()[station]
		b, _, err := l.el.NewBallot(ballot.DeriveCredential(l.e.genesis.ElectionID(), l.e.codes[k]), st.ID, choices, nil)
		if err != nil {
			l.fail(err)
			return
		}
		tx := chain.NewBallotTx(b).Encode()
		hash := sha256.Sum256(tx)
		l.mu.Lock()
		l.picks[hash] = pick
		l.mu.Unlock()
		deadline := time.Now().Add(4 * time.Minute)
		for attempt := 0; ; attempt++ {
			if time.Now().After(deadline) {
				l.fail(fmt.Errorf("voter %d: no station committed the ballot within 4 minutes", k))
				return
			}
			if c == nil {
				st := l.e.genesis.Stations()[station]
				dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				c, err = api.Dial(dctx, l.addr(station), []ed25519.PublicKey{st.PublicKey}, nil)
				cancel()
				if err != nil {
					c = nil
					station = (station + 1) % 4
					time.Sleep(200 * time.Millisecond)
					continue
				}
			}
			if attempt > 0 {
				l.retried.Add(1)
			}
			// Longer than a round with a dead proposer; a frozen station
			// holds the call until this runs out.
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			rc, err := c.SubmitAndWait(sctx, tx, nil)
			cancel()
			if err == nil {
				l.mu.Lock()
				l.casts = append(l.casts, cast{hash: rc.Hash, height: rc.Height, code: b.TrackingCode()})
				l.mu.Unlock()
				break
			}
			var rej *api.RejectedError
			if errors.As(err, &rej) && chain.RuleError(rej.Rule) == chain.ErrWrongPhase {
				// A station still catching up (a restart, a healed
				// partition) may not have seen the polls open: another.
				c.Close()
				c = nil
				station = (station + 1) % 4
				time.Sleep(500 * time.Millisecond)
				continue
			}
			if errors.As(err, &rej) {
				l.fail(fmt.Errorf("voter %d at station %d (attempt %d): %w", k, station, attempt+1, err))
				return
			}
			if errors.Is(err, api.ErrBusy) {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			// The station died, hangs or cannot answer: another one.
			c.Close()
			c = nil
			station = (station + 1) % 4
		}
	}
}
