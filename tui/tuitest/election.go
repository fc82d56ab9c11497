package tuitest

import (
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
)

// Election is a generated election (from a sample config) with an election
// key made directly rather than by a DKG: the terminals only encrypt to it.
type Election struct {
	*genesis.Setup
	Key []byte
}

// NewElection generates election name (a file of election-configs/) with
// voters voting codes, deterministically from seed.
func NewElection(t testing.TB, name string, voters int, seed uint64) *Election {
	t.Helper()
	e := chaintest.NewElection(t, name, voters, seed, nil)
	s := ballot.Suite()
	x := s.Scalar().SetInt64(int64(seed) + 1000003)
	key := ballot.EncodePoint(s.Point().Mul(x, nil))
	return &Election{Setup: e.Setup, Key: key[:]}
}

// Station returns a Fake for station i, in phase OPEN, checking the roll.
func (e *Election) Station(t testing.TB, i int) *Fake {
	t.Helper()
	f, err := New(e.Genesis, i, e.Key, e.Roll)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
