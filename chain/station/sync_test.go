package station

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

// TestBlockSyncCatchUp keeps a station down while the others commit many
// blocks, then restarts it: it must catch up by block sync (the others serve
// it decisions) and end with the same chain.
func TestBlockSyncCatchUp(t *testing.T) {
	c := newCluster(t, "mayor", 80, 9)
	c.startAll()
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	ctx := context.Background()
	c.approve(ctx, chain.ActionOpen)
	c.stop(3)
	before := c.engine(0).Ledger().Height()
	v := c.voter()
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 12 {
		b, _, err := v.election.NewBallot(c.e.Credential(i), "north", randomChoices(&v.manifest, r), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.submit(ctx, i%3, chain.NewBallotTx(b)); err != nil {
			t.Fatal(err)
		}
	}
	if h := c.engine(0).Ledger().Height(); h < before+5 {
		t.Fatalf("only %d blocks while station 3 was down", h-before)
	}
	c.start(3)
	head := c.engine(0).Ledger().Height()
	c.waitFor("station 3 to catch up", 60*time.Second, func(s Status) bool { return s.Height >= head })
	served := uint64(0)
	for i := range 3 {
		served += c.engine(i).stats.decisionsServed.Load()
	}
	if served == 0 {
		t.Fatal("station 3 caught up without block sync")
	}
	c.checkConverged()
	c.votes.check(t)
}

// TestManySeeds runs short elections with random faults (crashes at random
// points, partitions, loss and delay), one per seed. It is the long variant:
// URNA_STATION_SEEDS=50 go test ./chain/station -run TestManySeeds -timeout 2h
// (URNA_STATION_SEED=k runs seed k alone).
func TestManySeeds(t *testing.T) {
	first, seeds := 1, 0
	seeds, _ = strconv.Atoi(os.Getenv("URNA_STATION_SEEDS"))
	if one, _ := strconv.Atoi(os.Getenv("URNA_STATION_SEED")); one > 0 {
		first, seeds = one, one
	}
	if seeds == 0 {
		t.Skip("set URNA_STATION_SEEDS (or URNA_STATION_SEED for one) to run")
	}
	points := []string{"after-wal-append", "after-signer", "after-wal-sync", "before-store-commit", "after-store-commit", "before-notify"}
	for seed := first; seed <= seeds; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		config := []string{"mayor", "mayor", "general"}[r.IntN(3)]
		crashPoint := points[r.IntN(len(points))]
		victim := 1 + r.IntN(2)
		isolated := (victim + 1 + r.IntN(3)) % 4 // never the crashed one
		loss := r.IntN(80)
		ok := t.Run(strconv.Itoa(seed), func(t *testing.T) {
			t.Logf("seed %d: %s, station %d crashes at %s, station %d partitioned, loss %d‰ (replay: URNA_STATION_SEED=%d go test ./chain/station -run TestManySeeds)", seed, config, victim, crashPoint, isolated, loss, seed)
			var armed bool
			runElectionWith(t, scenario{config: config, ballots: 40, seed: uint64(seed) * 1000, during: func(c *cluster) {
				armed = true
				c.net.setFaults(loss, 40*time.Millisecond)
				c.net.partition([]int{isolated}, others(c, isolated))
				time.AfterFunc(2*time.Second, func() { c.net.heal(); c.net.setFaults(0, 0) })
			}}, func(c *cluster) {
				fired := false
				c.crash[victim] = func(p string) bool {
					if armed && !fired && p == crashPoint {
						fired = true
						return true
					}
					return false
				}
			})
		})
		if !ok {
			t.Fatalf("seed %d failed", seed)
		}
	}
}

func FuzzDecodeSync(f *testing.F) {
	f.Add(ballot.Marshal(&SyncMessage{Kind: syncRequest, From: 3, To: 9}))
	f.Add(ballot.Marshal(&SyncMessage{Kind: syncStatus, Height: 12}))
	f.Add([]byte{syncDecision, 0x82, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeSync(data)
		if err != nil {
			return
		}
		if !bytes.Equal(ballot.Marshal(m), data) {
			t.Fatal("accepted a non-canonical sync message")
		}
	})
}
