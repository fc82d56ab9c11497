package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A short `urna bench` of four real node processes: the report must say
// that ballots were committed and hold every figure (nothing about speed:
// the machine may be loaded).
func TestBenchShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	bin := urnaBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "--stations", "4", "--voters", "120", "--rate", "30",
		"--duration", "4s", "--terminals", "8", "--inflight", "4", "--json")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("urna bench: %v\nstderr:\n%s", err, errb.String())
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if !strings.Contains(errb.String(), "committed") {
		t.Errorf("no progress display on stderr:\n%s", errb.String())
	}
	if rep.Stations != 4 || rep.Prepared != 120 || rep.Terminals != 8 {
		t.Errorf("stations %d, prepared %d, terminals %d; want 4, 120, 8", rep.Stations, rep.Prepared, rep.Terminals)
	}
	if rep.Committed <= 0 || rep.CommittedPerSec <= 0 || rep.Submitted < int64(rep.Committed) {
		t.Errorf("committed %d (%.1f/s) of %d submitted", rep.Committed, rep.CommittedPerSec, rep.Submitted)
	}
	if rep.CommittedAll != int(rep.Submitted) || len(rep.Rejected) != 0 {
		t.Errorf("%d of %d submitted committed after the drain; refused %v", rep.CommittedAll, rep.Submitted, rep.Rejected)
	}
	if uint64(rep.CommittedAll) > rep.ChainBallots {
		t.Errorf("terminals saw %d committed, the chain counts %d", rep.CommittedAll, rep.ChainBallots)
	}
	l := rep.LatencyMs
	if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	if rep.Blocks == 0 || rep.BlocksPerSec <= 0 || rep.BallotsPerBlock <= 0 {
		t.Errorf("blocks %d, %.2f/s, %.1f ballots per block", rep.Blocks, rep.BlocksPerSec, rep.BallotsPerBlock)
	}
	if rep.Date == "" || rep.Machine == "" || rep.LoadAvg == "" {
		t.Errorf("date %q, machine %q, load %q", rep.Date, rep.Machine, rep.LoadAvg)
	}
	if len(rep.PerStation) != 4 {
		t.Fatalf("%d stations in the report, want 4", len(rep.PerStation))
	}
	for _, s := range rep.PerStation {
		if s.ID == "" || s.CPUSecs <= 0 || s.CPUPerBallotMs <= 0 || s.RSS <= 0 || s.PeakRSS < s.RSS || s.Disk <= 0 || s.DiskPerBallot <= 0 {
			t.Errorf("station report incomplete: %+v", s)
		}
	}
}

// Flags that cannot work are refused with the usage (exit 2) before
// anything starts.
func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--stations", "1"},
		{"--duration", "0s"},
		{"--rate", "-5"},
		{"--node", "127.0.0.1:1"}, // without --genesis
	} {
		var out, errb strings.Builder
		code := run(context.Background(), append([]string{"bench"}, args...), &out, &errb)
		if code != 2 {
			t.Errorf("urna bench %v: exit %d, want 2\n%s", args, code, errb.String())
		}
	}
}

// The bench reads a process's CPU time and memory from /proc.
func TestReadProc(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer cmd.Process.Kill()
	s, err := readProc(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !s.ok || s.rss <= 0 || s.peakRSS < s.rss || s.cpu < 0 {
		t.Fatalf("sample %+v", s)
	}
	if _, err := readProc(1 << 30); err == nil {
		t.Fatal("no error for a pid that does not exist")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	sortDurations(d)
	for _, c := range []struct{ p, want float64 }{{50, 50}, {95, 95}, {99, 99}, {100, 100}, {0, 1}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%.0f = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}
