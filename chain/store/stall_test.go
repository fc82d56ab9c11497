package store_test

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/store"
)

// TestCommitLatencyAtScale commits the state of URNA_STORE_STALLTEST_BALLOTS
// (default 1,000,000) ballots in blocks of 200, as a station does: each
// ballot writes seven random state keys (credential, tracking code, five
// ciphertexts) and one index key, and each block's bytes go to the value
// log. It logs the commit latencies every 100,000 ballots. An LSM tree can
// hold commits up while it compacts a large level (a write stall), which a
// voter would see as a cast that takes seconds to commit; this measures
// whether the store's Badger does. It writes about 3 GB, so it runs only with
// URNA_STORE_STALLTEST=1:
//
//	URNA_STORE_STALLTEST=1 go test -run TestCommitLatencyAtScale -v -timeout 60m ./chain/store
//
// It fails if a commit takes longer than 5 s. Measured (docs/BENCHMARKS.md):
// 600,000 ballots in 47 s, commit p50 12 ms, max 119 ms, no stall.
func TestCommitLatencyAtScale(t *testing.T) {
	if os.Getenv("URNA_STORE_STALLTEST") == "" {
		t.Skip("set URNA_STORE_STALLTEST=1 to run (writes ~3 GB)")
	}
	ballots := envInt(t, "URNA_STORE_STALLTEST_BALLOTS", 1_000_000)
	const (
		perBlock    = 200
		ballotBytes = 2150
		stateKeys   = 7
	)
	rng := rand.NewChaCha8([32]byte{7, 8})
	dir := t.TempDir()
	s := openStore(t, dir, store.Options{})
	defer s.Close()
	block := randomBytes(rng, perBlock*ballotBytes)
	value := randomBytes(rng, 32)
	var band []time.Duration
	start := time.Now()
	var worst time.Duration
	for h := uint64(1); int(h)*perBlock <= ballots; h++ {
		c := &store.Commit{Height: h, Block: block, Certificate: make([]byte, 700), State: make([]byte, 2048)}
		binary.BigEndian.PutUint64(c.BlockHash[:], h)
		binary.BigEndian.PutUint64(block, h) // every block its own bytes
		c.Writes = make([]store.KV, 0, perBlock*stateKeys)
		c.Index = make([]store.KV, 0, perBlock)
		for range perBlock {
			for range stateKeys {
				c.Writes = append(c.Writes, store.KV{Key: randomBytes(rng, 37), Value: value})
			}
			c.Index = append(c.Index, store.KV{Key: randomBytes(rng, 35), Value: value[:20]})
		}
		sortKVs(c.Writes)
		sortKVs(c.Index)
		t0 := time.Now()
		if err := s.Commit(c); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		band = append(band, d)
		worst = max(worst, d)
		if int(h)*perBlock%100_000 == 0 {
			slices.Sort(band)
			slow := 0
			for _, x := range band {
				if x > 500*time.Millisecond {
					slow++
				}
			}
			t.Logf("%7d ballots (%s): commit p50 %s, p99 %s, max %s, %d of %d over 500 ms; %s",
				int(h)*perBlock, time.Since(start).Round(time.Second), band[len(band)/2].Round(time.Millisecond),
				band[len(band)*99/100].Round(time.Millisecond), band[len(band)-1].Round(time.Millisecond), slow, len(band), memStatus())
			band = band[:0]
		}
	}
	t.Logf("disk %d MB", dirSize(t, dir)>>20)
	if worst > 5*time.Second {
		t.Errorf("a commit took %s: Badger held commits up", worst.Round(time.Millisecond))
	}
}
