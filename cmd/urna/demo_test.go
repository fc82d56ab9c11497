package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
)

// demoCmd is `urna demo args` with its temporary directories in tmp.
func demoCmd(t *testing.T, ctx context.Context, tmp string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, urnaBinary(t), append([]string{"demo"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	return cmd
}

// The whole demo at a small size, as a newcomer runs it: it must verify,
// the verified counts must equal the plain choices', every invalid
// transaction must be refused for its rule, and nothing may be left behind.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := demoCmd(t, ctx, tmp, "--voters", "20", "--seed", "3", "--json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("urna demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var doc demoJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("urna demo --json printed no JSON document: %v\n%s", err, out)
	}
	if !doc.Verified || len(doc.Problems) > 0 {
		t.Fatalf("not verified: %v", doc.Problems)
	}
	if doc.Tally == nil || !doc.Tally.Verified || !doc.Tally.Tallied || doc.Tally.Fingerprint != doc.Fingerprint {
		t.Fatalf("urna tally's report in the document: %+v", doc.Tally)
	}
	if doc.Counted != 20 || doc.Voters != 20 || doc.Stations != 4 || doc.Challenged < 1 || len(doc.Fingerprint) != 64 {
		t.Fatalf("document: %+v", doc)
	}
	// The expected counts are the seed's plain choices (recomputed here),
	// and the verified counts equal them.
	g := mayor(t)
	want := expectedCounts(g, plannedBallots(g, 20, 3))
	for ci, c := range g.Contests() {
		for j, cand := range c.Candidates {
			if doc.Expected[c.ID][cand.ID] != want[ci][j] || doc.Counts[c.ID][cand.ID] != want[ci][j] {
				t.Errorf("%s/%s: expected %d, verified %d, the seed's choices %d", c.ID, cand.ID, doc.Expected[c.ID][cand.ID], doc.Counts[c.ID][cand.ID], want[ci][j])
			}
		}
	}
	var rules []string
	for _, r := range doc.Refused {
		rules = append(rules, r.Rule)
	}
	for _, want := range []string{"already-voted", "ineligible", "bad-ballot", "ballot-challenged", "not-official", "not-canonical", "wrong-phase"} {
		if !slices.Contains(rules, want) {
			t.Errorf("no transaction refused for rule %s (refused: %v)", want, rules)
		}
	}
	if doc.Dir != "" || doc.Record != "" {
		t.Errorf("paths in the document without --keep: %q %q", doc.Dir, doc.Record)
	}
	for _, pid := range demoPIDs(t, stderr.String()) {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("station process %d still runs after the demo", pid)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the demo left %v in the temporary directory", left)
	}
}

// Ctrl-C in the middle of the key ceremony: the demo stops every station
// it started and removes its directory.
func TestDemoInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := demoCmd(t, ctx, tmp, "--voters", "20", "--json")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "key ceremony") {
			break
		}
	}
	cmd.Process.Signal(os.Interrupt)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("interrupted demo: %v, want exit status 1\n%s", err, seen.String())
	}
	pids := demoPIDs(t, seen.String())
	if len(pids) != 4 {
		t.Fatalf("%d station pids in the progress, want 4:\n%s", len(pids), seen.String())
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("station process %d still runs after the interrupted demo", pid)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the interrupted demo left %v in the temporary directory", left)
	}
}

// demoPIDs reads the stations' process ids off the demo's progress lines.
func demoPIDs(t *testing.T, progress string) []int {
	t.Helper()
	var pids []int
	for _, m := range regexp.MustCompile(`urna node pid (\d+)`).FindAllStringSubmatch(progress, -1) {
		pid, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// mayor is a genesis of the mayor sample.
func mayor(t *testing.T) *genesis.Genesis {
	t.Helper()
	return chaintest.NewElection(t, "mayor", 3, 1, nil).Genesis
}

// The demo's stations: cut or extended to any count, with unique ids and
// a threshold the genesis accepts.
func TestResizeStations(t *testing.T) {
	for n := 2; n <= 10; n++ {
		cfg, _, err := genesis.LoadConfig(chaintest.ConfigPath("general"))
		if err != nil {
			t.Fatal(err)
		}
		resizeStations(cfg, n)
		if len(cfg.Stations) != n {
			t.Fatalf("%d stations, want %d", len(cfg.Stations), n)
		}
		for i := range cfg.Stations {
			cfg.Stations[i].Address = "127.0.0.1:" + strconv.Itoa(7000+i)
		}
		if _, err := genesis.Generate(cfg, 2, nil); err != nil {
			t.Errorf("%d stations: %v", n, err)
		}
	}
}

// The ballot of the person at the keyboard is the difference between the
// verified counts and the simulated voters': one valid ballot, or an error.
func TestHumanBallot(t *testing.T) {
	g := mayor(t)
	expected := [][]uint64{{3, 1, 0, 2}}
	for _, tc := range []struct {
		counts [][]uint64
		want   [][]int
		ok     bool
	}{
		{[][]uint64{{3, 2, 0, 2}}, [][]int{{1}}, true},
		{[][]uint64{{3, 1, 0, 2}}, [][]int{nil}, true}, // a blank ballot
		{[][]uint64{{4, 2, 0, 2}}, nil, false},         // two marks in a plurality contest
		{[][]uint64{{3, 3, 0, 2}}, nil, false},         // two ballots
		{[][]uint64{{2, 1, 0, 2}}, nil, false},         // a simulated ballot lost
	} {
		got, err := humanBallot(g, expected, tc.counts)
		if (err == nil) != tc.ok || (tc.ok && !slices.EqualFunc(got, tc.want, slices.Equal)) {
			t.Errorf("counts %v: %v, %v; want %v (ok %v)", tc.counts, got, err, tc.want, tc.ok)
		}
	}
}

// The seed decides every choice, each within its contest's limit, and a
// few voters challenge.
func TestPlannedBallots(t *testing.T) {
	cfg, _, err := genesis.LoadConfig(chaintest.ConfigPath("general"))
	if err != nil {
		t.Fatal(err)
	}
	resizeStations(cfg, 4)
	for i := range cfg.Stations {
		cfg.Stations[i].Address = "127.0.0.1:" + strconv.Itoa(7000+i)
	}
	s, err := genesis.Generate(cfg, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := s.Genesis
	a, b, c := plannedBallots(g, 200, 9), plannedBallots(g, 200, 9), plannedBallots(g, 200, 10)
	same := func(x, y []demoBallot) bool {
		return slices.EqualFunc(x, y, func(p, q demoBallot) bool {
			return p.challenge == q.challenge && slices.EqualFunc(p.choices, q.choices, slices.Equal)
		})
	}
	if !same(a, b) || same(a, c) {
		t.Fatal("the same seed must give the same ballots, another seed others")
	}
	if n := countChallenges(a); n != 5 {
		t.Errorf("%d of 200 voters challenge, want 5", n)
	}
	blank := 0
	for _, x := range a {
		for ci, ct := range g.Contests() {
			marks := 0
			for _, on := range x.choices[ci] {
				if on {
					marks++
				}
			}
			if marks > ct.Limit {
				t.Fatalf("contest %s: %d marks, limit %d", ct.ID, marks, ct.Limit)
			}
			if marks == 0 {
				blank++
			}
		}
	}
	if blank == 0 {
		t.Error("no blank contest in 200 ballots")
	}
}

// The demo says NOT verified, and fails, when the verified counts are not
// the plain choices' or when urna tally finds the record bad.
func TestDemoReportMismatch(t *testing.T) {
	g := mayor(t)
	ballots := plannedBallots(g, 20, 3)
	right := expectedCounts(g, ballots)
	wrong := [][]uint64{slices.Clone(right[0])}
	wrong[0][0]++
	wrong[0][1]--
	for _, tc := range []struct {
		name string
		ver  verified
		ok   bool
	}{
		{"equal", verified{result: right, counted: 20}, true},
		{"a vote moved", verified{result: wrong, counted: 20}, false},
		{"a ballot lost", verified{result: right, counted: 19}, false},
		{"the record does not verify", verified{result: right, counted: 20, problems: []string{"urna tally: bad certificate"}}, false},
	} {
		var out strings.Builder
		d := &demo{genesis: g, ballots: ballots, voters: 20, json: true, stdout: &out}
		err := d.report(&tc.ver, nil, nil, 0, "r")
		var doc demoJSON
		if jerr := json.Unmarshal([]byte(out.String()), &doc); jerr != nil {
			t.Fatalf("%s: %v", tc.name, jerr)
		}
		if (err == nil) != tc.ok || doc.Verified != tc.ok || (len(doc.Problems) == 0) != tc.ok {
			t.Errorf("%s: error %v, verified %v, problems %v; want ok %v", tc.name, err, doc.Verified, doc.Problems, tc.ok)
		}
	}
}

// Flags the demo refuses before it starts anything.
func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--vote", "--json"}, "--vote needs the screen"},
		{[]string{"--vote"}, "--vote needs a terminal"}, // go test's stdin is none
		{[]string{"--voters", "0"}, "--voters 0"},
		{[]string{"--stations", "65"}, "--stations 65"},
		{[]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
	} {
		var out, errb strings.Builder
		code := run(context.Background(), append([]string{"demo"}, tc.args...), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("urna demo %v: exit %d, stderr %q; want exit 1 saying %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
