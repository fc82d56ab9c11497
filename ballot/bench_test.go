package ballot

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the hot paths. Figures go to docs/BENCHMARKS.md; nothing
// here asserts a time.

func fiveCandidates() Manifest {
	return Manifest{
		ElectionID:  "bench",
		Fingerprint: sha256.Sum256([]byte("bench")),
		Contests:    []Contest{{ID: "c", Candidates: []string{"a", "b", "c", "d", "e"}, Limit: 1}},
	}
}

func BenchmarkNewBallot1x5(b *testing.B) {
	e, _ := testElection(b, fiveCandidates(), 1)
	cred := testCredential(1)
	ch := Choices{{false, false, true, false, false}}
	cpu := startCPU(b)
	for b.Loop() {
		if _, _, err := e.NewBallot(cred, "st1", ch, nil); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, 1, "ballot")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5, "ns/selection")
}

func BenchmarkVerifyBallot1x5(b *testing.B) {
	e, _ := testElection(b, fiveCandidates(), 1)
	ballot, _, err := e.NewBallot(testCredential(1), "st1", Choices{{false, true, false, false, false}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cpu := startCPU(b)
	for b.Loop() {
		if err := e.VerifyBallot(ballot); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, 1, "ballot")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5, "ns/selection")
}

// BenchmarkVerifyBallots1x5 verifies batches of 1 × 5 ballots with all
// GOMAXPROCS workers. core-µs/ballot is the CPU time per ballot (wall time
// × GOMAXPROCS / ballots): run with -cpu 1,2 to see the scaling.
func BenchmarkVerifyBallots1x5(b *testing.B) {
	e, _ := testElection(b, fiveCandidates(), 1)
	for _, n := range []int{16, 64, 1000} {
		bs := benchBallots(b, e, n)
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			cpu := startCPU(b)
			for b.Loop() {
				for i, err := range e.VerifyBallots(bs) {
					if err != nil {
						b.Fatalf("ballot %d: %v", i, err)
					}
				}
			}
			reportPerBallot(b, n)
			cpu.report(b, n, "ballot")
		})
	}
}

// BenchmarkVerifyBallotsWithBad: the same with one bad ballot hidden in the
// batch, and with every ballot bad (the fallback's cost).
func BenchmarkVerifyBallotsWithBad(b *testing.B) {
	e, _ := testElection(b, fiveCandidates(), 1)
	const n = 1000
	good := benchBallots(b, e, n)
	for _, bad := range []int{1, n} {
		bs := make([]*Ballot, n)
		for i := range bs {
			c := *good[i]
			bs[i] = &c
			if i < bad || (bad == 1 && i == 0) {
				bs[(i*7919)%n] = &c
			}
		}
		tampered := 0
		for i := range bad {
			j := (i*7919 + 500) % n
			c := *bs[j]
			c.Signature[40] ^= 1
			bs[j] = &c
			tampered++
		}
		b.Run(fmt.Sprintf("bad=%d", tampered), func(b *testing.B) {
			cpu := startCPU(b)
			for b.Loop() {
				failed := 0
				for _, err := range e.VerifyBallots(bs) {
					if err != nil {
						failed++
					}
				}
				if failed != tampered {
					b.Fatalf("%d ballots failed, want %d", failed, tampered)
				}
			}
			reportPerBallot(b, n)
			cpu.report(b, n, "ballot")
		})
	}
}

func reportPerBallot(b *testing.B, n int) {
	perBallot := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(perBallot/1e3, "µs/ballot")
	b.ReportMetric(perBallot*float64(runtime.GOMAXPROCS(0))/1e3, "core-µs/ballot")
}

// cpuTime is the CPU time this process has used (user + system). The
// machine the figures come from is shared, so wall-clock times vary with
// the neighbours' load; CPU time per operation does much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports CPU time per unit of work next to the wall time.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{start: cpuTime()}
}

func (m *cpuMeter) report(b *testing.B, units int, unit string) {
	b.ReportMetric(float64((cpuTime()-m.start).Nanoseconds())/float64(b.N)/float64(units)/1e3, "cpu-µs/"+unit)
}

func benchBallots(b *testing.B, e *Election, n int) []*Ballot {
	bs := make([]*Ballot, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range bs {
		var err error
		if bs[i], _, err = e.NewBallot(testCredential(i%50), "st1", randomChoices(&e.Manifest, r), nil); err != nil {
			b.Fatal(err)
		}
	}
	return bs
}

func BenchmarkBallotSize1x5(b *testing.B) {
	e, _ := testElection(b, fiveCandidates(), 1)
	bl, _, _ := e.NewBallot(testCredential(1), "station-01", Choices{{false, true, false, false, false}}, nil)
	for b.Loop() {
		_ = bl.Encode()
	}
	b.ReportMetric(float64(len(bl.Encode())), "bytes/ballot")
}

func BenchmarkDecodePoint(b *testing.B) {
	p := otherPoint(1)
	for b.Loop() {
		if _, err := DecodePoint(p[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchShares(b *testing.B) (*Election, *KeyShare, [][]Ciphertext) {
	e, x := testElection(b, Manifest{ElectionID: "s", Fingerprint: [32]byte{1}, Contests: []Contest{{ID: "c", Candidates: []string{"a"}, Limit: 1}}}, 1)
	keys := dealtShares(&testing.T{}, x, 4, 2)
	ct, _, _ := e.Encrypt(5, nil)
	return e, keys[0], [][]Ciphertext{{ct}}
}

func BenchmarkDecryptionShareMake(b *testing.B) {
	e, k, aggs := benchShares(b)
	for b.Loop() {
		if _, err := e.MakeTallyShares(k, aggs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptionShareVerify(b *testing.B) {
	e, k, aggs := benchShares(b)
	ts, _ := e.MakeTallyShares(k, aggs, nil)
	pub := k.Result.PublicShares[k.Index]
	for b.Loop() {
		if _, err := e.VerifyTallyShares(ts, pub, aggs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDKG(b *testing.B) {
	for _, c := range []struct{ n, t int }{{4, 2}, {7, 3}} {
		b.Run(fmt.Sprintf("stations=%d", c.n), func(b *testing.B) {
			for b.Loop() {
				runDKG(&testing.T{}, [32]byte{1}, c.n, c.t, nil)
			}
		})
	}
}

func BenchmarkDiscreteLog(b *testing.B) {
	for _, max := range []uint64{1e6, 1e8} {
		b.Run(fmt.Sprintf("max=%.0e", float64(max)), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			for b.Loop() {
				dl := NewDiscreteLog(max)
				m := r.Uint64N(max + 1)
				got, err := dl.Solve(suite.Point().Mul(suite.Scalar().SetInt64(int64(m)), nil))
				if err != nil || got != m {
					b.Fatalf("Solve: %d, %v; want %d", got, err, m)
				}
			}
		})
	}
}
