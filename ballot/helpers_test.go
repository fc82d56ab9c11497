package ballot

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"

	"go.dedis.ch/kyber/v3"
)

// testRand returns a deterministic randomness source for reproducible tests.
func testRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// mayorManifest is one contest, four candidates, pick one.
func mayorManifest() Manifest {
	return Manifest{
		ElectionID:  "mayor-2026",
		Fingerprint: sha256.Sum256([]byte("mayor-2026 genesis")),
		Contests: []Contest{
			{ID: "mayor", Candidates: []string{"alice", "bob", "carol", "dave"}, Limit: 1},
		},
	}
}

// generalManifest is several contests of several kinds.
func generalManifest() Manifest {
	return Manifest{
		ElectionID:  "general-2026",
		Fingerprint: sha256.Sum256([]byte("general-2026 genesis")),
		Contests: []Contest{
			{ID: "president", Candidates: []string{"p1", "p2", "p3", "p4", "p5"}, Limit: 1},
			{ID: "council", Candidates: []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7"}, Limit: 3},
			{ID: "referendum", Candidates: []string{"yes", "no"}, Limit: 1},
		},
	}
}

// testElection makes an election with a single-party key (x, x·G).
func testElection(t testing.TB, m Manifest, seed uint64) (*Election, kyber.Scalar) {
	t.Helper()
	x, err := randomScalar(testRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	key := EncodePoint(suite.Point().Mul(x, nil))
	e, err := NewElection(m, key[:])
	if err != nil {
		t.Fatal(err)
	}
	return e, x
}

// randomChoices marks each contest at random within its limit.
func randomChoices(m *Manifest, r *rand.Rand) Choices {
	ch := make(Choices, len(m.Contests))
	for ci, c := range m.Contests {
		ch[ci] = make([]bool, len(c.Candidates))
		k := r.IntN(c.Limit + 1)
		for _, i := range r.Perm(len(c.Candidates))[:k] {
			ch[ci][i] = true
		}
	}
	return ch
}

func testCredential(i int) *Credential {
	code, err := NewVotingCode(testRand(uint64(1000 + i)))
	if err != nil {
		panic(err)
	}
	return DeriveCredential("test", code)
}
