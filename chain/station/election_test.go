package station

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

// scenario is what happens to the stations while the polls are open.
type scenario struct {
	config  string
	ballots int
	seed    uint64
	// during runs while ballots are being cast (after the first third of
	// them); it may crash, restart, partition or heal stations.
	during func(c *cluster)
	// byzantine stations are excluded from the honesty checks.
	byzantine []int
	// skip stations never started.
	skip []int
}

func ballotCount(n int) int {
	if s := os.Getenv("URNA_STATION_BALLOTS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil {
			return v
		}
	}
	if testing.Short() {
		return min(n, 60)
	}
	return n
}

// runElection runs a whole election on a cluster: the key generation, the
// open quorum, ballots submitted to random stations (with invalid ones,
// second ballots of a credential and challenged ballots among them), the
// close quorum, decryption shares and the result. It checks that the result
// equals the plain choices of the committed ballots, that every ballot a
// client was told is committed is in the final chain, that the stations
// hold the same chain, and that no honest station signed conflicting votes.
func runElection(t *testing.T, sc scenario) *cluster { return runElectionWith(t, sc, nil) }

// runElectionWith is runElection with a hook that prepares the cluster
// (its network) before the stations start.
func runElectionWith(t *testing.T, sc scenario, prepare func(c *cluster)) *cluster {
	n := ballotCount(sc.ballots)
	c := newCluster(t, sc.config, n+20, sc.seed)
	if prepare != nil {
		prepare(c)
	}
	for _, b := range sc.byzantine {
		c.votes.honest[b] = false
	}
	skip := map[int]bool{}
	for _, s := range sc.skip {
		skip[s] = true
		c.votes.honest[s] = false
	}
	for i := range c.engines {
		if !skip[i] {
			c.start(i)
		}
	}
	c.waitPhase(chain.PhaseReady, 90*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c.approve(ctx, chain.ActionOpen)
	c.waitPhase(chain.PhaseOpen, 30*time.Second)

	v := c.voter()
	r := rand.New(rand.NewPCG(sc.seed, 7))
	ids := make([]int, n)
	choices := make([]ballot.Choices, n)
	for i := range ids {
		ids[i] = i
		choices[i] = randomChoices(&v.manifest, r)
	}
	ballots, nonces := v.ballots(t, ids, choices)

	var mu sync.Mutex
	committed := map[[32]byte]uint64{} // ballot tx hash → height, as clients were told
	counted := make([]ballot.Choices, 0, n)
	var wg sync.WaitGroup
	work := make(chan int)
	submitErr := make(chan error, 1)
	fail := func(err error) {
		select {
		case submitErr <- err:
		default:
		}
	}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				station := (i * 7) % len(c.engines)
				// One voter in 25 challenges a ballot first.
				if i%25 == 4 {
					sp, err := v.election.Spoil(ballots[i], choices[i], nonces[i])
					if err != nil {
						fail(err)
						return
					}
					if _, err := c.submit(ctx, station, chain.NewSpoiledTx(sp)); err != nil {
						fail(err)
						return
					}
					fresh, _, err := v.election.NewBallot(c.e.Credential(i), ballots[i].Station, choices[i], nil)
					if err != nil {
						fail(err)
						return
					}
					ballots[i] = fresh
				}
				tx := chain.NewBallotTx(ballots[i])
				h, err := c.submit(ctx, station, tx)
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				committed[tx.Hash()] = h
				counted = append(counted, choices[i])
				mu.Unlock()
				// One voter in 20 tries to vote again: refused.
				if i%20 == 9 {
					again, _, _ := v.election.NewBallot(c.e.Credential(i), ballots[i].Station, choices[(i+1)%n], nil)
					if _, err := c.submit(ctx, station+1, chain.NewBallotTx(again)); !errors.Is(err, ErrRejected) {
						fail(errors.New("a second ballot of a credential was not refused: " + errString(err)))
						return
					}
				}
				// One in 30 sends a forged ballot (an unused credential): refused.
				if i%30 == 11 {
					forged, _, _ := v.election.NewBallot(c.e.Credential(n+i%20), ballots[i].Station, choices[i], nil)
					forged.Contests[0].Proof.Branches[0].V = forged.Contests[0].Proof.Branches[1].V
					copy(forged.Signature[:], c.e.Credential(n+i%20).Sign(forged.SigningBytes()))
					if _, err := c.submit(ctx, station, chain.NewBallotTx(forged)); !errors.Is(err, chain.ErrBadBallot) {
						fail(errors.New("a forged ballot was not refused as such: " + errString(err)))
						return
					}
				}
			}
		}()
	}
	for i := range n {
		if i == n/3 && sc.during != nil {
			sc.during(c)
		}
		select {
		case work <- i:
		case err := <-submitErr:
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-submitErr:
		t.Fatal(err)
	default:
	}
	// Every station that is down comes back before the close.
	for i := range c.engines {
		if !skip[i] {
			c.bringUp(i)
		}
	}
	c.approve(ctx, chain.ActionClose)
	c.waitFor("TALLIED", 120*time.Second, func(s Status) bool { return s.Phase == chain.PhaseTallied })

	// The result is the plain choices of the committed ballots.
	st := c.engine(firstUp(c)).Ledger().State()
	if st.TallyError != "" {
		t.Fatalf("tally error: %s", st.TallyError)
	}
	if st.Counted != uint64(len(counted)) {
		t.Fatalf("chain counted %d ballots, clients were told %d were committed", st.Counted, len(counted))
	}
	for ci, ct := range v.manifest.Contests {
		for si := range ct.Candidates {
			var want uint64
			for _, ch := range counted {
				if ch[ci][si] {
					want++
				}
			}
			if st.Result[ci][si] != want {
				t.Fatalf("contest %s candidate %s: result %d, cast %d", ct.ID, ct.Candidates[si], st.Result[ci][si], want)
			}
		}
	}
	// Every acknowledged ballot is in every station's chain, where it was said to be.
	for i := range c.engines {
		eng := c.engine(i)
		if eng == nil {
			continue
		}
		for hash, h := range committed {
			loc, found, err := eng.Ledger().TxLocation(hash)
			if err != nil || !found || loc.Height != h {
				t.Fatalf("station %d: acknowledged ballot %x… (height %d) not found: %v %v", i, hash[:4], h, loc, err)
			}
		}
	}
	c.waitFor("the same height", 30*time.Second, func(s Status) bool { return s.Height >= st.Height })
	c.checkConverged()
	c.votes.check(t)
	return c
}

func firstUp(c *cluster) int {
	for i := range c.engines {
		if c.engine(i) != nil {
			return i
		}
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

// crashAndPartition crashes station 1 (at whatever step of its loop it is:
// nothing unsynced survives, nothing is closed cleanly), which the cluster
// restarts from its disk a moment later, and partitions station 2 from the
// others for a while.
func crashAndPartition(c *cluster) {
	c.kill[1].Store(true)
	c.net.partition([]int{2}, others(c, 2))
	time.AfterFunc(3*time.Second, func() { c.net.heal() })
}

func others(c *cluster, not int) []int {
	var out []int
	for i := range c.engines {
		if i != not {
			out = append(out, i)
		}
	}
	return out
}

func TestWholeElection4Stations(t *testing.T) {
	c := runElection(t, scenario{config: "mayor", ballots: 1000, seed: 1, during: crashAndPartition})
	if c.crashCount() != 1 {
		t.Fatalf("%d crashes, want 1", c.crashCount())
	}
}

func TestWholeElection7Stations(t *testing.T) {
	if testing.Short() {
		t.Skip("the 4-station election covers the short run")
	}
	c := runElection(t, scenario{config: "general", ballots: 1000, seed: 2, during: crashAndPartition})
	if c.crashCount() != 1 {
		t.Fatalf("%d crashes, want 1", c.crashCount())
	}
}
