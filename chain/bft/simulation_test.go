package bft_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Seeds: URNA_SIM_SEED=S replays one seed verbosely; URNA_SIM_SEEDS=K runs K seeds
// (default 500) starting at URNA_SIM_BASE (default 1). URNA_SIM_FAILFAST=1 stops at the
// first failing seed (the mutation run uses it); URNA_SIM_MAXFAIL=K stops after K
// failing seeds (default 5).
const defaultSimSeeds = 500

func envUint(t *testing.T, name string, def uint64) uint64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

func replayCommand(seed uint64) string {
	return fmt.Sprintf("URNA_SIM_SEED=%d go test ./chain/bft -run 'TestSimulation$' -v", seed)
}

// runSeed runs one seed and returns a failure report, or "".
func runSeed(seed uint64) (string, simStats) {
	cfg := randomSimConfig(seed)
	s := newSim(cfg)
	err := s.run()
	if err == nil {
		return "", s.stats
	}
	return fmt.Sprintf("seed %d FAILED: %v\n  config: %s\n  replay: %s\n  last events:\n    %s",
		seed, err, cfg, replayCommand(seed), strings.Join(s.trace, "\n    ")), s.stats
}

// TestSimulation runs many seeded simulations (see randomSimConfig for what each seed
// chooses) and checks safety after every step and liveness after healing.
func TestSimulation(t *testing.T) {
	if v := os.Getenv("URNA_SIM_SEED"); v != "" {
		seed := envUint(t, "URNA_SIM_SEED", 0)
		t.Logf("config: %s", randomSimConfig(seed))
		report, st := runSeed(seed)
		t.Logf("stats: %+v", st)
		if report != "" {
			t.Fatal(report)
		}
		return
	}
	seeds := envUint(t, "URNA_SIM_SEEDS", defaultSimSeeds)
	base := envUint(t, "URNA_SIM_BASE", 1)
	if testing.Short() {
		seeds = min(seeds, 50)
	}
	workers := runtime.GOMAXPROCS(0)
	maxFailures := int(envUint(t, "URNA_SIM_MAXFAIL", 5))
	if os.Getenv("URNA_SIM_FAILFAST") != "" {
		maxFailures = 1
	}
	var (
		mu       sync.Mutex
		failures []string
		failed   []uint64
		total    simStats
		wg       sync.WaitGroup
		next     = base
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= base+seeds || len(failures) >= maxFailures {
					mu.Unlock()
					return
				}
				seed := next
				next++
				mu.Unlock()
				report, st := runSeed(seed)
				mu.Lock()
				if report != "" {
					failures = append(failures, report)
					failed = append(failed, seed)
				}
				total.Commits += st.Commits
				total.Crashes += st.Crashes
				total.Wipes += st.Wipes
				total.Torn += st.Torn
				total.MidCrashes += st.MidCrashes
				total.Syncs += st.Syncs
				total.Evidence += st.Evidence
				total.Garbage += st.Garbage
				total.Heights += st.Heights
				total.SimTime += st.SimTime
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds from %d in %v: %+v", seeds, base, time.Since(start).Round(time.Millisecond), total)
	if len(failed) > 0 {
		slices.Sort(failed)
		t.Errorf("%d seeds failed: %v", len(failed), failed)
	}
	for _, f := range failures[:min(len(failures), 5)] {
		t.Error(f)
	}
}
