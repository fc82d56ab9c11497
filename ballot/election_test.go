package ballot

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// TestWholeElection runs an election in one process: the DKG among the
// stations, 1,000 random ballots made and verified, homomorphic tallying,
// decryption shares from every station, and the decrypted totals compared
// with the plain choices.
func TestWholeElection(t *testing.T) {
	cases := []struct {
		name     string
		manifest Manifest
		n, t     int
	}{
		{"4 stations mayor", mayorManifest(), 4, 2},
		{"7 stations general", generalManifest(), 7, 3},
	}
	ballots := 1000
	if testing.Short() {
		ballots = 100
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.manifest.Fingerprint = sha256.Sum256([]byte(c.name))
			keys := runDKG(t, c.manifest.Fingerprint, c.n, c.t, nil)
			e, err := NewElection(c.manifest, keys[0].Result.Key[:])
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(42, uint64(c.n)))
			want := make([][]uint64, len(c.manifest.Contests))
			acc := make([][]*Accumulator, len(c.manifest.Contests))
			for ci, ct := range c.manifest.Contests {
				want[ci] = make([]uint64, len(ct.Candidates))
				acc[ci] = make([]*Accumulator, len(ct.Candidates))
				for si := range acc[ci] {
					acc[ci][si] = NewAccumulator()
				}
			}
			// Choices are drawn in order (so the run is reproducible); the
			// ballots are made on every core, as terminals would.
			choices := make([]Choices, ballots)
			for v := range choices {
				choices[v] = randomChoices(&e.Manifest, r)
				for ci := range choices[v] {
					for si, m := range choices[v][ci] {
						if m {
							want[ci][si]++
						}
					}
				}
			}
			made := make([]*Ballot, ballots)
			var wg sync.WaitGroup
			workers := runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for v := w; v < ballots; v += workers {
						b, _, err := e.NewBallot(testCredential(v), fmt.Sprintf("st%d", v%c.n), choices[v], nil)
						if err != nil {
							t.Error(err)
							return
						}
						made[v], err = DecodeBallot(b.Encode())
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			for i, err := range e.VerifyBallots(made) {
				if err != nil {
					t.Fatalf("ballot %d rejected: %v", i, err)
				}
				for ci := range made[i].Contests {
					for si, sel := range made[i].Contests[ci].Selections {
						if err := acc[ci][si].Add(sel.Ciphertext); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			aggs := make([][]Ciphertext, len(acc))
			for ci := range acc {
				for _, a := range acc[ci] {
					aggs[ci] = append(aggs[ci], a.Total())
				}
			}
			shares := make([]*VerifiedShares, c.n)
			for _, k := range keys {
				ts, err := e.MakeTallyShares(k, aggs, nil)
				if err != nil {
					t.Fatal(err)
				}
				v, err := e.VerifyTallyShares(ts, keys[0].Result.PublicShares[k.Index], aggs)
				if err != nil {
					t.Fatalf("station %d shares rejected: %v", k.Index, err)
				}
				shares[k.Index] = v
			}
			// Decrypt with the last t stations only, to show any t suffice.
			subset := make([]*VerifiedShares, c.n)
			copy(subset[c.n-c.t:], shares[c.n-c.t:])
			got, err := e.Decrypt(aggs, subset, c.t, uint64(ballots))
			if err != nil {
				t.Fatal(err)
			}
			for ci := range want {
				for si := range want[ci] {
					if got[ci][si] != want[ci][si] {
						t.Fatalf("contest %s candidate %s: decrypted %d, cast %d", c.manifest.Contests[ci].ID, c.manifest.Contests[ci].Candidates[si], got[ci][si], want[ci][si])
					}
				}
			}
		})
	}
}
