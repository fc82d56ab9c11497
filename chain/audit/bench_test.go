package audit_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/record"
)

// BenchmarkVerifyRecord audits the record of a whole election of
// URNA_AUDIT_BENCH_BALLOTS (default 100,000) ballots of one contest of five
// candidates, 1,000 to a block, and reports the time per ballot and the
// time extrapolated to 1,000,000 ballots (wall and CPU). Making the ballots
// costs minutes of CPU, so the record is built once and kept in the
// temporary directory (urna-audit-bench-N.record) for later runs.
//
//	go test -run XXX -bench VerifyRecord -benchtime 1x ./chain/audit
func BenchmarkVerifyRecord(b *testing.B) {
	n := 100_000
	if s := os.Getenv("URNA_AUDIT_BENCH_BALLOTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("URNA_AUDIT_BENCH_BALLOTS=%q", s)
		}
	}
	rec := benchRecord(b, n)
	rd, err := record.NewReader(bytes.NewReader(rec))
	if err != nil {
		b.Fatal(err)
	}
	gb, err := rd.Next(record.KindGenesis)
	if err != nil {
		b.Fatal(err)
	}
	fp := sha256.Sum256(gb)
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		r, err := audit.VerifyRecord(bytes.NewReader(rec), &fp, nil)
		if err != nil || r.Counted != uint64(n) || !r.Tallied {
			b.Fatalf("audit: %v, %d counted", err, r.Counted)
		}
	}
	wall := b.Elapsed() / time.Duration(b.N)
	cpuPer := (cpuTime() - cpu) / time.Duration(b.N)
	b.ReportMetric(float64(wall.Microseconds())/float64(n), "µs/ballot")
	b.ReportMetric(wall.Seconds()*1e6/float64(n), "s/1M-ballots")
	b.ReportMetric(cpuPer.Seconds()*1e6/float64(n), "cpu-s/1M-ballots")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/(1<<20), "peak-GiB") // Linux: KiB
	}
}

// benchRecord returns the record of an election of n 1 × 5 ballots, built
// (about a millisecond of CPU per ballot) or read from the cache.
func benchRecord(b *testing.B, n int) []byte {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("urna-audit-bench-%d.record", n))
	if rec, err := os.ReadFile(path); err == nil {
		return rec
	}
	start := time.Now()
	e := chaintest.NewElection(b, "mayor", n, 9, func(c *genesis.Config) {
		c.Contests[0].Candidates = append(c.Contests[0].Candidates, genesis.Candidate{ID: "erin-fox", Name: "Erin Fox"})
	})
	c, _ := e.Whole(b, n, 1000, 1)
	rec := c.Record(b)
	if err := os.WriteFile(path+".tmp", rec, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s (%d bytes, %d blocks) in %v", path, len(rec), len(c.Blocks), time.Since(start).Round(time.Second))
	return rec
}

// cpuTime is the CPU time this process has used (user + system): on a
// shared machine it varies much less with the neighbours' load than wall
// time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
