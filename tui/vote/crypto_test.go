package vote

import (
	"math/rand/v2"
	"testing"

	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/tui/tuitest"
)

// The time a voter waits on the review screen (seal) and after a
// challenge (open), for the general election (3 contests, 14 candidates).

func BenchmarkSeal(b *testing.B) {
	e := tuitest.NewElection(b, "general", 5, 1)
	el, err := newElection(e.Genesis, e.Key)
	if err != nil {
		b.Fatal(err)
	}
	m := e.Genesis.Manifest()
	ch := chaintest.RandomChoices(&m, rand.New(rand.NewPCG(1, 2)))
	b.ResetTimer()
	for range b.N {
		if _, err := seal(el, e.Codes[0], "st-01", ch, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	e := tuitest.NewElection(b, "general", 5, 1)
	el, err := newElection(e.Genesis, e.Key)
	if err != nil {
		b.Fatal(err)
	}
	m := e.Genesis.Manifest()
	s, err := seal(el, e.Codes[0], "st-01", chaintest.RandomChoices(&m, rand.New(rand.NewPCG(1, 2))), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := open(el, s); err != nil {
			b.Fatal(err)
		}
	}
}
