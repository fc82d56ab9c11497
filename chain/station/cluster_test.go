package station

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
)

// cluster runs every station of a generated election as an engine in this
// process, each with its own store, WAL and signer state in a temporary
// directory, connected by a memNet.
type cluster struct {
	t       *testing.T
	e       *chaintest.Election
	net     *memNet
	dirs    []string
	mu      sync.Mutex
	engines []*Engine
	stops   []context.CancelFunc
	dones   []chan error
	votes   *voteMonitor
	crash   []func(string) bool
	crashes int // stations restarted after a simulated crash
	// ioFault[i], if set, is station i's disk-fault hook (Config.ioFault); a
	// station whose Run fails with errInjectedIO is closed the way a node
	// closes after an error, and restarted from its disk.
	ioFault []func(op string) error
	faults  int           // stations restarted after an injected disk fault
	started func(int)     // if set, called before each start of a station
	kill    []atomic.Bool // kill[i]: crash station i at its next crash point
	clock   Clock
	clocks  map[int]Clock // per-station clocks, overriding clock
	tick    time.Duration
	beat    time.Duration
	// noGossip starts the stations with gossip off (Config.noGossip).
	noGossip bool
	// restarting[i]: station i is down and a restart of it is scheduled.
	restarting []atomic.Bool
}

func testTimeouts() bft.TimeoutConfig {
	return bft.TimeoutConfig{
		Propose: 400 * time.Millisecond, ProposeDelta: 200 * time.Millisecond,
		Prevote: 200 * time.Millisecond, PrevoteDelta: 100 * time.Millisecond,
		Precommit: 200 * time.Millisecond, PrecommitDelta: 100 * time.Millisecond,
		Max: 2 * time.Second,
	}
}

func newCluster(t *testing.T, config string, voters int, seed uint64) *cluster {
	return newClusterDeadline(t, config, voters, seed, 8)
}

// newClusterDeadline is newCluster with another DKG deadline height.
func newClusterDeadline(t *testing.T, config string, voters int, seed uint64, deadline int) *cluster {
	e := chaintest.NewElection(t, config, voters, seed, func(c *genesis.Config) {
		c.Params.DKGDeadlineHeight = deadline
	})
	n := e.N()
	c := &cluster{t: t, e: e, net: newMemNet(n, seed), votes: newVoteMonitor(e), crash: make([]func(string) bool, n), kill: make([]atomic.Bool, n)}
	c.net.onSend = c.votes.observe
	base := t.TempDir()
	for i := range n {
		c.dirs = append(c.dirs, filepath.Join(base, fmt.Sprintf("station-%d", i)))
	}
	c.engines = make([]*Engine, n)
	c.restarting = make([]atomic.Bool, n)
	c.stops = make([]context.CancelFunc, n)
	c.dones = make([]chan error, n)
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) start(i int) {
	c.t.Helper()
	tick, beat := c.tick, c.beat
	if tick == 0 {
		tick, beat = 100*time.Millisecond, time.Second
	}
	clock := c.clock
	if sc, ok := c.clocks[i]; ok {
		clock = sc
	}
	if c.started != nil {
		c.started(i)
	}
	var ioFault func(string) error
	if c.ioFault != nil {
		ioFault = c.ioFault[i]
	}
	hook := c.crash[i]
	crash := func(point string) bool {
		if c.kill[i].CompareAndSwap(true, false) {
			return true
		}
		return hook != nil && hook(point)
	}
	eng, err := Open(Config{
		Genesis: c.e.Genesis, Roll: c.e.Roll, Seed: c.e.StationSeeds[i], Dir: c.dirs[i],
		Transport: c.net.attach(i), Timeouts: testTimeouts(), Tick: tick,
		Heartbeat: beat, Clock: clock, crash: crash, ioFault: ioFault, noGossip: c.noGossip,
	})
	if errors.Is(err, errCrashed) {
		// A simulated crash inside the WAL replay: restart again later.
		c.mu.Lock()
		c.crashes++
		c.mu.Unlock()
		c.net.setDown(i, true)
		c.restartLater(i)
		return
	}
	if err != nil {
		c.t.Fatalf("station %d: %v", i, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := eng.Run(ctx)
		if errors.Is(err, errInjectedIO) {
			// The disk failed under the station: it stops, closing what it
			// can as a node does, and an operator restarts it once the
			// disk is fixed.
			eng.Close()
			done <- nil
			c.restarting[i].Store(true) // before it looks down: bringUp must wait
			c.mu.Lock()
			if c.engines[i] == eng {
				c.engines[i] = nil
				c.faults++
			}
			c.mu.Unlock()
			c.net.setDown(i, true)
			c.restartLater(i)
			return
		}
		if !errors.Is(err, errCrashed) {
			done <- err
			return
		}
		// A simulated crash: the station is gone until it restarts from
		// its disk, as an operator (or systemd) would restart it.
		done <- nil
		c.restarting[i].Store(true) // before it looks down: bringUp must wait
		c.mu.Lock()
		if c.engines[i] == eng {
			c.engines[i] = nil
			c.crashes++
		}
		c.mu.Unlock()
		c.net.setDown(i, true)
		c.restartLater(i)
	}()
	c.mu.Lock()
	c.engines[i], c.stops[i], c.dones[i] = eng, cancel, done
	c.restarting[i].Store(false)
	c.mu.Unlock()
}

// restartLater restarts station i from its disk in a moment, as an operator
// (or systemd) would after it died.
func (c *cluster) restartLater(i int) {
	c.restarting[i].Store(true) // until start has it running again
	time.AfterFunc(300*time.Millisecond, func() { c.start(i) })
}

// bringUp makes sure station i runs: it starts it, or, if a restart is
// already scheduled, waits for that one (two engines must never open one
// station's directory: the store refuses the second).
func (c *cluster) bringUp(i int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for c.engine(i) == nil {
		if !c.restarting[i].Load() {
			c.start(i)
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("station %d did not restart", i)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) startAll() {
	for i := range c.engines {
		c.start(i)
	}
}

// stop stops station i cleanly and waits for it.
func (c *cluster) stop(i int) {
	c.mu.Lock()
	eng, cancel, done := c.engines[i], c.stops[i], c.dones[i]
	c.engines[i] = nil
	c.mu.Unlock()
	if eng == nil {
		return
	}
	c.net.setDown(i, true)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, errCrashed) {
		c.t.Errorf("station %d stopped with %v", i, err)
	}
	if err := eng.Close(); err != nil {
		c.t.Errorf("station %d close: %v", i, err)
	}
}

func (c *cluster) stopAll() {
	for i := range c.engines {
		c.stop(i)
	}
}

// crashCount is how many simulated crashes the cluster restarted from.
func (c *cluster) crashCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashes
}

// engine returns station i's engine (nil while it is down).
func (c *cluster) engine(i int) *Engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.engines[i]
}

// waitFor polls cond on every running station until all satisfy it.
func (c *cluster) waitFor(what string, timeout time.Duration, cond func(s Status) bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		var last Status
		for i := range c.engines {
			eng := c.engine(i)
			if eng == nil {
				continue
			}
			if last = eng.Status(); !cond(last) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s (a station is at height %d, %s); each station's chain:\n%s",
				what, last.Height, last.Phase, c.dkgReport())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dkgReport is, for each running station, its height and phase and the key
// generation as its chain records it (bit d of a mask: station or dealer d),
// so that a wait that timed out in SETUP says which DKG step is missing.
func (c *cluster) dkgReport() string {
	var b strings.Builder
	for i := range c.engines {
		eng := c.engine(i)
		if eng == nil {
			fmt.Fprintf(&b, "  station %d: not running\n", i)
			continue
		}
		st := eng.Ledger().State()
		fmt.Fprintf(&b, "  station %d: height %d, %s; dealt %b, responded %b, justified %b, announced %b\n",
			i, st.Height, st.Phase, st.Dealt, st.Responded, st.Justified, st.Announced)
	}
	return b.String()
}

func (c *cluster) waitPhase(p chain.Phase, timeout time.Duration) {
	c.t.Helper()
	c.waitFor(p.String(), timeout, func(s Status) bool { return s.Phase >= p })
}

// submit sends a transaction to a running station (trying others if it is
// down) and waits until it is committed. It returns the height, or the
// rejection.
func (c *cluster) submit(ctx context.Context, prefer int, tx *chain.Tx) (uint64, error) {
	raw := tx.Encode()
	for try := 0; ; try++ {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		eng := c.engine((prefer + try) % len(c.engines))
		if eng == nil {
			continue
		}
		r, err := eng.Submit(ctx, raw)
		if errors.Is(err, ErrRejected) {
			return 0, err
		}
		if err != nil {
			continue
		}
		if r.Committed {
			return r.Height, nil
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		h, err := eng.WaitCommitted(wctx, r.Hash)
		cancel()
		if err == nil || errors.Is(err, ErrRejected) {
			return h, err
		}
		// The station stopped or the wait timed out: submit again (the
		// transaction may be committed already; Submit says so).
		time.Sleep(50 * time.Millisecond)
	}
}

// approve has the first quorum officials approve an action.
func (c *cluster) approve(ctx context.Context, action chain.Action) {
	c.t.Helper()
	q := c.e.Genesis.OpenQuorum()
	if action == chain.ActionClose {
		q = c.e.Genesis.CloseQuorum()
	}
	for i := range q {
		if _, err := c.submit(ctx, i, chain.NewApprovalTx(c.e.Fingerprint(), action, c.e.OfficialKey(i))); err != nil {
			c.t.Fatalf("official %d approving %s: %v", i, action, err)
		}
	}
}

// checkConverged checks that every running station holds the same chain up
// to the lowest head: same block hashes and the same state at that height.
func (c *cluster) checkConverged() uint64 {
	c.t.Helper()
	low := ^uint64(0)
	for i := range c.engines {
		if eng := c.engine(i); eng != nil {
			low = min(low, eng.Ledger().Height())
		}
	}
	var ref [][32]byte
	for i := range c.engines {
		eng := c.engine(i)
		if eng == nil {
			continue
		}
		var hashes [][32]byte
		for h := uint64(1); h <= low; h++ {
			hash, err := eng.store.BlockHash(h)
			if err != nil {
				c.t.Fatalf("station %d block %d: %v", i, h, err)
			}
			hashes = append(hashes, hash)
		}
		if ref == nil {
			ref = hashes
			continue
		}
		for h := range ref {
			if ref[h] != hashes[h] {
				c.t.Fatalf("station %d has another block %d", i, h+1)
			}
		}
	}
	return low
}

// voteMonitor watches every consensus message on the network and records
// any station that signs two different votes (or proposals) for one height,
// round and step.
type voteMonitor struct {
	mu        sync.Mutex
	fp        bft.Hash
	seen      map[[3]uint64]bft.Hash // (validator, height, round<<8|type) → hash
	conflicts []string
	honest    []bool
}

func newVoteMonitor(e *chaintest.Election) *voteMonitor {
	h := make([]bool, e.N())
	for i := range h {
		h[i] = true
	}
	return &voteMonitor{fp: bft.Hash(e.Fingerprint()), seen: map[[3]uint64]bft.Hash{}, honest: h}
}

func (v *voteMonitor) observe(from, to int, ch Channel, data []byte) {
	if ch != ChannelConsensus {
		return
	}
	m, err := bft.DecodeMessage(data)
	if err != nil {
		return
	}
	var k [3]uint64
	var h bft.Hash
	switch {
	case m.Vote != nil:
		k = [3]uint64{uint64(m.Vote.Validator), m.Vote.Height, uint64(m.Vote.Round)<<8 | uint64(m.Vote.Type)}
		h = m.Vote.BlockHash
	case m.Proposal != nil:
		k = [3]uint64{uint64(m.Proposal.Proposer), m.Proposal.Height, uint64(m.Proposal.Round) << 8}
		h = m.Proposal.BlockHash()
	default:
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if prev, ok := v.seen[k]; ok && prev != h && v.honest[k[0]] {
		v.conflicts = append(v.conflicts, fmt.Sprintf("station %d signed two values at height %d round %d step %d", k[0], k[1], k[2]>>8, k[2]&0xff))
	}
	v.seen[k] = h
}

func (v *voteMonitor) check(t *testing.T) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.conflicts {
		t.Error(c)
	}
}

// voter makes ballots for a cluster's election.
type voter struct {
	c        *cluster
	election *ballot.Election
	manifest ballot.Manifest
}

func (c *cluster) voter() *voter {
	st := c.engine(0).Ledger().State()
	el, err := c.e.Machine.Election(st)
	if err != nil {
		c.t.Fatal(err)
	}
	return &voter{c: c, election: el, manifest: c.e.Genesis.Manifest()}
}

// ballots makes one ballot per voter index, on every core.
func (v *voter) ballots(t *testing.T, voters []int, choices []ballot.Choices) ([]*ballot.Ballot, []ballot.Nonces) {
	out := make([]*ballot.Ballot, len(voters))
	nonces := make([]ballot.Nonces, len(voters))
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(voters); i += w {
				b, n, err := v.election.NewBallot(v.c.e.Credential(voters[i]), v.c.e.Config.Stations[voters[i]%v.c.e.N()].ID, choices[i], nil)
				if err != nil {
					t.Error(err)
					return
				}
				out[i], nonces[i] = b, n
			}
		}()
	}
	wg.Wait()
	return out, nonces
}

func randomChoices(m *ballot.Manifest, r *rand.Rand) ballot.Choices {
	return chaintest.RandomChoices(m, r)
}
