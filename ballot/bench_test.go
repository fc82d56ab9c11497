package ballot

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
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
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := e.NewBallot(cred, "st1", ch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5, "ns/selection")
}

func BenchmarkVerifyBallot1x5(b *testing.B) {
	e, _ := testElection(b, fiveCandidates(), 1)
	ballot, _, err := e.NewBallot(testCredential(1), "st1", Choices{{false, true, false, false, false}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := e.VerifyBallot(ballot); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5, "ns/selection")
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
		if err := e.VerifyTallyShares(ts, pub, aggs); err != nil {
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
