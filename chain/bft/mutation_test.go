package bft_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMutants is the mutation run: each patch in testdata/mutants is a classic bug in
// the consensus core or the driver. For each, the package (chain/bft with its
// sub-packages, and go.mod) is copied to a scratch directory, the patch applied there
// (git apply), and the simulator alone run on it: TestSimulation with its default
// seed count, the one CI runs, stopping at the first failing seed. Every mutant must
// be killed, i.e. some seed must report a violated invariant; a patch that no longer
// applies or does not compile fails the run too (update the patch with the code).
//
// It is slow-ish (about a minute on 2 cores: one compile and simulation per mutant,
// run in parallel), so -short skips it; the plain `go test ./...` of .ci/run runs it:
//
//	go test ./chain/bft -run TestMutants -v
//
// URNA_MUTANT=name runs the patches whose file name contains name; URNA_MUTANT_SEEDS
// changes the seed count; URNA_MUTANT_SURVEY=1 runs every seed on every mutant and
// counts the seeds that kill it (for the table in docs/consensus.md).
func TestMutants(t *testing.T) {
	if testing.Short() && os.Getenv("URNA_MUTANT") == "" {
		t.Skip("the mutation run is skipped with -short: go test ./chain/bft -run TestMutants -v")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the mutation run applies its patches with git apply: %v", err)
	}
	patches, err := filepath.Glob(filepath.Join("testdata", "mutants", "*.patch"))
	if err != nil || len(patches) == 0 {
		t.Fatalf("no patches in testdata/mutants (%v)", err)
	}
	if one := os.Getenv("URNA_MUTANT"); one != "" {
		patches = slicesFilter(patches, func(p string) bool { return strings.Contains(filepath.Base(p), one) })
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	seeds := envUint(t, "URNA_MUTANT_SEEDS", mutantSeeds)
	survey := os.Getenv("URNA_MUTANT_SURVEY") != ""
	results := make([]mutantResult, len(patches))
	parallel := max(1, runtime.GOMAXPROCS(0))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	start := time.Now()
	for i, p := range patches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runMutant(t, root, p, seeds, survey)
		}()
	}
	wg.Wait()
	var table strings.Builder
	fmt.Fprintf(&table, "\n| mutant | killed | seed | violation |\n|---|---|---|---|\n")
	for _, r := range results {
		killed := "NO"
		if r.killed {
			killed = "yes"
			if survey {
				killed = fmt.Sprintf("%s of %d seeds", r.kills, seeds)
			}
		}
		fmt.Fprintf(&table, "| %s | %s | %s | %s |\n", r.name, killed, r.seed, r.why)
	}
	t.Logf("%d mutants, %d seeds each, in %v (%d at a time):%s", len(results), seeds, time.Since(start).Round(time.Second), parallel, table.String())
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
		} else if !r.killed {
			t.Errorf("%s survived: the simulator did not notice this bug (%s)", r.name, r.why)
		}
	}
}

type mutantResult struct {
	name   string
	killed bool
	seed   string // the first seed reported failing
	why    string // its first line
	kills  string // survey: how many seeds failed
	err    error  // the run itself broke
}

var (
	failedSeed = regexp.MustCompile(`seed (\d+) FAILED: (.*)`)
	seedsKill  = regexp.MustCompile(`(\d+) seeds failed: \[(\d+)`)
	seedsRun   = regexp.MustCompile(`(\d+) seeds from \d+ in`)
)

// mutantSeeds is the simulator's seed count in the mutation run that CI does: enough to
// kill every mutant in testdata/mutants (see the survey in docs/consensus.md), few
// enough to keep CI fast. Each mutant stops at its first failing seed.
const mutantSeeds = defaultSimSeeds

func runMutant(t *testing.T, root, patch string, seeds uint64, survey bool) mutantResult {
	name := strings.TrimSuffix(filepath.Base(patch), ".patch")
	r := mutantResult{name: name}
	dir := t.TempDir()
	if err := copyModulePart(root, dir); err != nil {
		r.err = err
		return r
	}
	abs, err := filepath.Abs(patch)
	if err != nil {
		r.err = err
		return r
	}
	apply := exec.Command("git", "apply", "--whitespace=nowarn", abs)
	apply.Dir = dir
	if out, err := apply.CombinedOutput(); err != nil {
		r.err = fmt.Errorf("the patch does not apply: %v\n%s", err, out)
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "./chain/bft", "-run", "^TestSimulation$", "-count=1", "-v")
	cmd.Dir = dir
	cmd.Env = append(slicesFilter(os.Environ(), func(kv string) bool {
		return !strings.HasPrefix(kv, "URNA_SIM_") && !strings.HasPrefix(kv, "URNA_MUTANT")
	}), fmt.Sprintf("URNA_SIM_SEEDS=%d", seeds))
	if survey {
		cmd.Env = append(cmd.Env, "URNA_SIM_MAXFAIL=1000000")
	} else {
		cmd.Env = append(cmd.Env, "URNA_SIM_FAILFAST=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if m := failedSeed.FindStringSubmatch(out.String()); m != nil {
		r.killed, r.seed, r.why = true, m[1], shorten(m[2], 150)
		if k := seedsKill.FindStringSubmatch(out.String()); k != nil {
			r.kills, r.seed = k[1], k[2] // the lowest failing seed
		}
		return r
	}
	if runErr == nil {
		r.why = "every seed passed"
		if m := seedsRun.FindStringSubmatch(out.String()); m != nil {
			r.why = m[1] + " seeds passed"
		}
		return r
	}
	r.err = fmt.Errorf("the simulator did not run: %v\n%s", runErr, shorten(out.String(), 3000))
	return r
}

// copyModulePart copies go.mod, go.sum and chain/bft (the core, its sub-packages and
// tests; it imports nothing else of the module) from root to dir.
func copyModulePart(root, dir string) error {
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			return err
		}
	}
	src := filepath.Join(root, "chain", "bft")
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
}

func slicesFilter(xs []string, keep func(string) bool) []string {
	var out []string
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
