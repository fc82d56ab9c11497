package station

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

// openCluster starts a 4-station mayor election and opens the polls.
func openCluster(t *testing.T, voters int, seed uint64) *cluster {
	t.Helper()
	return openClusterTick(t, voters, seed, 0)
}

// openClusterTick is openCluster with the stations' tick (0: the default).
func openClusterTick(t *testing.T, voters int, seed uint64, tick time.Duration) *cluster {
	t.Helper()
	c := newCluster(t, "mayor", voters, seed)
	if tick != 0 {
		c.tick, c.beat = tick, time.Second
	}
	c.startAll()
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	c.approve(context.Background(), chain.ActionOpen)
	c.waitPhase(chain.PhaseOpen, 20*time.Second)
	return c
}

// makeBallots makes ballots for voters [0, n), the one at bad with a wrong
// signature (its station changed after signing).
func makeBallots(t *testing.T, c *cluster, n, bad int) []*ballot.Ballot {
	t.Helper()
	v := c.voter()
	r := rand.New(rand.NewPCG(7, 7))
	ids := make([]int, n)
	choices := make([]ballot.Choices, n)
	for i := range ids {
		ids[i] = i
		choices[i] = randomChoices(&v.manifest, r)
	}
	bs, _ := v.ballots(t, ids, choices)
	if bad >= 0 {
		bs[bad].Station = c.e.Config.Stations[(bad+1)%c.e.N()].ID
	}
	return bs
}

// One call of preverify is one batch: the ballots that verify land in the
// machine's cache, the one that does not stays out (so CheckTx checks it
// and names the fault), and the counters say one batch of n.
func TestPreverifyBatch(t *testing.T) {
	c := openCluster(t, 12, 41)
	bs := makeBallots(t, c, 10, 3)
	eng := c.engine(0)
	before := eng.Status()
	payloads := make([][]byte, len(bs))
	for i, b := range bs {
		payloads[i] = b.Encode()
	}
	eng.preverify(context.Background(), payloads, bs)
	after := eng.Status()
	if got := after.VerifyBatches - before.VerifyBatches; got != 1 {
		t.Fatalf("%d batches for one preverify call, want 1", got)
	}
	if got := after.VerifyBallots - before.VerifyBallots; got != 10 {
		t.Fatalf("%d ballots verified, want 10", got)
	}
	el, err := eng.machine.Election(eng.ledger.State())
	if err != nil {
		t.Fatal(err)
	}
	for i := range bs {
		in := eng.machine.Cache().Contains(el, sha256.Sum256(payloads[i]))
		if in != (i != 3) {
			t.Fatalf("ballot %d: in the verified cache %v, want %v", i, in, i != 3)
		}
	}
	// Known ones are not verified again.
	eng.preverify(context.Background(), payloads[:3], bs[:3])
	if got := eng.Status().VerifyBallots - after.VerifyBallots; got != 0 {
		t.Fatalf("%d cached ballots verified again", got)
	}
	// The bad ballot is refused at admission with the rule it breaks.
	_, err = eng.Submit(context.Background(), chain.NewBallotTx(bs[3]).Encode())
	if !errors.Is(err, ErrRejected) || !errors.Is(err, chain.ErrBadBallot) {
		t.Fatalf("bad ballot: %v, want ErrRejected wrapping chain.ErrBadBallot", err)
	}
}

// Ballots submitted at once to every station, one of them bad: every good
// one is committed, the bad one is refused as a bad ballot, each station
// verified each ballot once at most in its batches (none twice), and the
// chains agree.
func TestConcurrentAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("an election of 40 ballots")
	}
	const n, bad = 40, 17
	c := openCluster(t, n, 43)
	bs := makeBallots(t, c, n, bad)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.submit(ctx, i%c.e.N(), chain.NewBallotTx(b))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == bad {
			if !errors.Is(err, chain.ErrBadBallot) {
				t.Fatalf("bad ballot %d: %v, want chain.ErrBadBallot", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ballot %d: %v", i, err)
		}
	}
	c.waitFor("every ballot counted", 30*time.Second, func(s Status) bool { return s.Counted == n-1 })
	for i := range c.engines {
		s := c.engine(i).Status()
		// Each good ballot once, the bad one at most once per arrival.
		if s.VerifyBallots > n+uint64(c.e.N()) {
			t.Errorf("station %d verified %d ballots in batches for %d ballots", i, s.VerifyBallots, n)
		}
	}
	c.checkConverged()
}

// gossipCopies counts the gossip frames carrying raw, per receiving station.
func gossipCopies(c *cluster, raw []byte) func() []int {
	var mu sync.Mutex
	copies := make([]int, c.e.N())
	observe := c.net.onSend
	c.net.mu.Lock()
	c.net.onSend = func(from, to int, ch Channel, data []byte) {
		observe(from, to, ch, data)
		if ch == ChannelGossip && bytes.Equal(data, raw) {
			mu.Lock()
			copies[to]++
			mu.Unlock()
		}
	}
	c.net.mu.Unlock()
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(copies)
	}
}

// With every link up, a ballot travels once to each other station (from
// the station its client gave it to) and is not echoed by the others. (A
// long tick, so that the relay delay is long: a loaded machine may take
// seconds to commit.)
func TestGossipNotEchoed(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole election; skipped in -short")
	}
	c := openClusterTick(t, 4, 47, 4*time.Second)
	b := makeBallots(t, c, 1, -1)[0]
	tx := chain.NewBallotTx(b)
	copies := gossipCopies(c, tx.Encode())
	start := time.Now()
	if _, err := c.submit(context.Background(), 0, tx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= c.engine(0).relayDelay() {
		t.Skipf("the ballot took %v to be committed, longer than the relay delay: the machine is too busy for this test", d)
	}
	time.Sleep(200 * time.Millisecond) // copies in flight arrive
	if got, want := copies(), []int{0, 1, 1, 1}; !slices.Equal(got, want) {
		t.Fatalf("gossip copies received per station %v, want %v", got, want)
	}
}

// A ballot still waiting after the relay delay is passed on: station 2,
// which station 0 (where the ballot is cast) cannot reach, gets it from the
// others. (Consensus messages are dropped meanwhile, so that the ballot
// keeps waiting: a committed one is not passed on.)
func TestGossipRelayedWhenStillWaiting(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole election; skipped in -short")
	}
	c := openCluster(t, 4, 53)
	b := makeBallots(t, c, 1, -1)[0]
	raw := chain.NewBallotTx(b).Encode()
	c.net.mu.Lock()
	if c.net.tamper == nil {
		c.net.tamper = map[int]func(int, Channel, []byte) [][]byte{}
	}
	for from := range c.e.N() {
		c.net.tamper[from] = func(to int, ch Channel, data []byte) [][]byte {
			if ch == ChannelConsensus || ch == ChannelSync || (from == 0 && to == 2) {
				return nil
			}
			return [][]byte{data}
		}
	}
	c.net.mu.Unlock()
	copies := gossipCopies(c, raw)
	r, err := c.engine(0).Submit(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !c.engine(2).mempool.Has(r.Hash) {
		if time.Now().After(deadline) {
			t.Fatalf("station 2 never got the ballot; gossip copies per station %v", copies())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, found, _ := c.engine(2).Ledger().TxLocation(r.Hash); found {
		t.Fatal("the ballot was committed, though consensus messages are dropped")
	}
}

// TestSmallBatchWaitsForCompany: a batch of fewer than efficientBatch
// ballots is not verified at once but waits (here for a long time) for
// more, and the ballots that come in the meantime join it: one batch.
func TestSmallBatchWaitsForCompany(t *testing.T) {
	saved := verifyLinger
	verifyLinger = time.Minute
	defer func() { verifyLinger = saved }()
	c := openCluster(t, 40, 44)
	bs := makeBallots(t, c, efficientBatch, -1)
	payloads := make([][]byte, len(bs))
	for i, b := range bs {
		payloads[i] = b.Encode()
	}
	eng := c.engine(0)
	before := eng.Status()
	k := efficientBatch - 5
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.preverify(context.Background(), payloads[:k], bs[:k])
	}()
	time.Sleep(100 * time.Millisecond) // the verifier takes the first job and waits
	if got := eng.Status().VerifyBatches - before.VerifyBatches; got != 0 {
		t.Fatalf("a batch of %d ballots was verified at once (%d batches), want it to wait", k, got)
	}
	eng.preverify(context.Background(), payloads[k:], bs[k:])
	<-done
	after := eng.Status()
	if got := after.VerifyBatches - before.VerifyBatches; got != 1 {
		t.Fatalf("%d batches, want the two calls in one", got)
	}
	if got := after.VerifyBallots - before.VerifyBallots; got != efficientBatch {
		t.Fatalf("%d ballots verified, want %d", got, efficientBatch)
	}
}
