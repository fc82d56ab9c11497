package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// dockerLabel marks every container, network and image the Docker test
// makes, so that .ci/run can remove what a killed test left behind.
const dockerLabel = "urna.e2e"

// docker runs the docker command line and returns its trimmed output.
func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(bytes.TrimSpace(out)), nil
}

// dockerStation is one station's container.
type dockerStation struct {
	id, name string
}

// The same election as TestElectionAcrossProcesses, across four containers
// on a private Docker network: one station is cut off the network by
// `docker network disconnect` while ballots flow (the others go on
// committing) and catches up once reconnected; another is killed with
// `docker kill` and restarted. It runs when a Docker daemon answers, and
// removes every container, network and image it made, even on failure.
func TestElectionAcrossContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts four containers; skipped in -short")
	}
	dockerOrSkip(t)
	start := time.Now()
	const ballots = 120
	c := newDockerCluster(t, ballots, nil)
	e, run, stations := c.e, c.run, c.stations
	g, dir := e.genesis, e.dir
	// The test reaches the containers at their addresses on the network.
	addr := func(i int) string { return c.ip(i) + ":7100" }
	clients := make([]*api.Client, 4)
	for i := range clients {
		clients[i] = e.dialRetry(t, i, addr(i), 30*time.Second)
	}
	el := e.electionKey(t, clients[0])
	t.Logf("election key verified after %v", time.Since(start).Round(time.Millisecond))
	gen := filepath.Join(dir, "genesis.json")
	for _, o := range []string{"clerk", "deputy-clerk"} {
		// The address is not the station's in the genesis: --station says
		// which key to pin.
		if _, err := runBin(t, "polls", "open", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addr(0), "--station", "north", "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseOpen, 30*time.Second)

	// Ballots through north and south, from 6 concurrent voters.
	v := newVoters(e, el)
	next := make(chan int)
	go func() {
		for k := range ballots {
			next <- k
		}
		close(next)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := []int{0, 2}[w%2]
			rng := mrand.New(mrand.NewPCG(uint64(w), 2))
			for k := range next {
				if err := v.vote(ctx, clients[i], g.Stations()[i].ID, k, rng); err != nil {
					v.mu.Lock()
					v.failures = append(v.failures, err)
					v.mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	height := func(i int) uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := clients[i].Status(ctx)
		if err != nil {
			return 0
		}
		return st.Height
	}

	// West is cut off the network while ballots flow: the others go on.
	waitFor(t, 3*time.Minute, "20 ballots", func() (bool, error) { return v.committed() >= 20, nil })
	if _, err := docker("network", "disconnect", run, stations[3].name); err != nil {
		t.Fatal(err)
	}
	cutAt, cutHeight := v.committed(), height(0)
	t.Logf("west disconnected at %d ballots, height %d, %v", cutAt, cutHeight, time.Since(start).Round(time.Millisecond))
	waitFor(t, 3*time.Minute, "ballots committed without west", func() (bool, error) { return v.committed() >= cutAt+30, nil })
	if h := height(0); h <= cutHeight+2 {
		t.Fatalf("north went from height %d to %d while west was cut off", cutHeight, h)
	}
	if _, err := docker("network", "connect", "--alias", "west", run, stations[3].name); err != nil {
		t.Fatal(err)
	}
	clients[3] = e.dialRetry(t, 3, addr(3), 30*time.Second) // a new address on the network
	waitFor(t, 2*time.Minute, "west to catch up", func() (bool, error) { return height(3) >= height(0), nil })
	t.Logf("west reconnected and caught up at %d ballots, %v", v.committed(), time.Since(start).Round(time.Millisecond))

	// East is killed and restarted.
	if _, err := docker("kill", stations[1].name); err != nil {
		t.Fatal(err)
	}
	killAt := v.committed()
	// Twenty more, or all there are (a fast run may be near the end).
	waitFor(t, 3*time.Minute, "ballots committed without east", func() (bool, error) {
		return v.committed() >= min(killAt+20, ballots), nil
	})
	if _, err := docker("start", stations[1].name); err != nil {
		t.Fatal(err)
	}
	clients[1] = e.dialRetry(t, 1, addr(1), 30*time.Second)
	t.Logf("east killed at %d ballots and restarted at %d, %v", killAt, v.committed(), time.Since(start).Round(time.Millisecond))
	wg.Wait()
	if len(v.failures) > 0 {
		t.Fatalf("%d ballots failed; first: %v", len(v.failures), v.failures[0])
	}
	for _, o := range []string{"clerk", "observer"} {
		if _, err := runBin(t, "polls", "close", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addr(2), "--station", "south", "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseTallied, 90*time.Second)
	var head uint64
	waitFor(t, 2*time.Minute, "every station at the same height", func() (bool, error) {
		head = height(0)
		for i := range 4 {
			if height(i) < head {
				return false, nil
			}
		}
		return true, nil
	})
	chains := make([][]verify.Block, 4)
	for i := range clients {
		chains[i] = fetchAll(t, clients[i], head)
	}
	f, err := verify.NewFollower(g, e.roll)
	if err != nil {
		t.Fatal(err)
	}
	where := map[[32]byte]uint64{}
	for h, b := range chains[0] {
		for i := 1; i < 4; i++ {
			if !bytes.Equal(chains[i][h].Block, b.Block) {
				t.Fatalf("%s's block %d differs from north's", stations[i].id, h+1)
			}
		}
		a, err := f.Apply(b.Block, b.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range a.Block.Txs {
			where[sha256.Sum256(tx)] = b.Height
		}
	}
	if st := f.State(); st.Counted != ballots || !slices.Equal(st.Result[0], v.counts) {
		t.Fatalf("verified chain: %d counted, result %v, the plain choices %v", st.Counted, st.Result[0], v.counts)
	}
	for _, c := range v.casts {
		if where[c.hash] != c.height {
			t.Fatalf("ballot %x told committed at %d is at %d", c.hash[:6], c.height, where[c.hash])
		}
	}
	t.Logf("result %v verified; election across containers took %v", f.State().Result[0], time.Since(start).Round(time.Millisecond))
}
