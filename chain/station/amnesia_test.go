package station

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
)

// scripted is one real station engine (station 0) whose three peers are played by the
// test with their keys, so a test can set up an exact consensus history.
type scripted struct {
	t       *testing.T
	e       *chaintest.Election
	net     *memNet
	dir     string
	chainID bft.Hash
	crash   atomic.Value // func(point string) bool

	mu   sync.Mutex
	sent []bft.Message // consensus messages station 0 sent

	eng  *Engine
	stop context.CancelFunc
	done chan error
}

func newScripted(t *testing.T, seed uint64) *scripted {
	e := chaintest.NewElection(t, "mayor", 10, seed, nil)
	s := &scripted{t: t, e: e, net: newMemNet(e.N(), seed), dir: filepath.Join(t.TempDir(), "station-0"),
		chainID: bft.Hash(e.Fingerprint())}
	s.crash.Store(func(string) bool { return false })
	s.net.onSend = func(from, to int, ch Channel, data []byte) {
		if from != 0 || to != 1 || ch != ChannelConsensus { // one copy of each broadcast
			return
		}
		if m, err := bft.DecodeMessage(data); err == nil {
			s.mu.Lock()
			s.sent = append(s.sent, m)
			s.mu.Unlock()
		}
	}
	t.Cleanup(s.halt)
	return s
}

// open opens station 0 from its directory (recovering from its WAL) without running it.
func (s *scripted) open() {
	s.t.Helper()
	eng, err := Open(Config{
		Genesis: s.e.Genesis, Roll: s.e.Roll, Seed: s.e.StationSeeds[0], Dir: s.dir,
		Transport: s.net.attach(0), Timeouts: testTimeouts(), Tick: 100 * time.Millisecond,
		crash: func(p string) bool { return s.crash.Load().(func(string) bool)(p) },
	})
	if err != nil {
		s.t.Fatalf("open station 0: %v", err)
	}
	s.eng = eng
}

func (s *scripted) run() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan error, 1)
	eng := s.eng
	go func() { s.done <- eng.Run(ctx) }()
}

// crashAt makes station 0 die at the next crash point named point ("" for any).
func (s *scripted) crashAt(point string) {
	var once atomic.Bool
	s.crash.Store(func(p string) bool {
		return (point == "" || p == point) && once.CompareAndSwap(false, true)
	})
}

// waitCrash waits until the running station died at its crash point.
func (s *scripted) waitCrash() {
	s.t.Helper()
	select {
	case err := <-s.done:
		if !errors.Is(err, errCrashed) {
			s.t.Fatalf("station 0 stopped with %v, want a crash", err)
		}
	case <-time.After(20 * time.Second):
		s.t.Fatal("station 0 did not crash")
	}
	s.crash.Store(func(string) bool { return false })
	s.eng, s.stop = nil, nil
}

func (s *scripted) halt() {
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
	s.eng.Close()
	s.stop = nil
}

// deliver hands station 0 a message from peer from.
func (s *scripted) deliver(from int, m bft.Message) {
	b, err := bft.EncodeMessage(m)
	if err != nil {
		s.t.Fatal(err)
	}
	s.net.send(from, 0, ChannelConsensus, b)
}

func (s *scripted) propose(from int, h uint64, r uint32, block []byte) {
	p := &bft.Proposal{Height: h, Round: r, POLRound: -1, Block: block, Proposer: uint32(from)}
	p.Signature = ed25519.Sign(s.e.StationKey(from), p.SignBytes(s.chainID))
	s.deliver(from, bft.Message{Proposal: p})
}

func (s *scripted) vote(from int, t bft.VoteType, h uint64, r uint32, hash bft.Hash) {
	v := &bft.Vote{Type: t, Height: h, Round: r, BlockHash: hash, Validator: uint32(from)}
	v.Signature = ed25519.Sign(s.e.StationKey(from), v.SignBytes(s.chainID))
	s.deliver(from, bft.Message{Vote: v})
}

// waitVote waits until station 0 has sent its vote of type t at (h, r) and returns it.
func (s *scripted) waitVote(t bft.VoteType, h uint64, r uint32) *bft.Vote {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, m := range s.sent {
			if v := m.Vote; v != nil && v.Validator == 0 && v.Type == t && v.Height == h && v.Round == r {
				s.mu.Unlock()
				return v
			}
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("station 0 sent no %s at h%d r%d", t, h, r)
	return nil
}

// TestEngineKeepsItsLockThroughTwoCrashes is the lock-amnesia pattern, on the station
// engine itself: station 0 crashes after its precommit completed the quorum of height
// 1 but before the store commit, with the proposal and prevotes of height 2 already
// received. Its restart replays the WAL, commits height 1, takes up the height-2
// messages and prevotes and precommits (locks) block B at height 2, and sends those
// votes. It crashes again, restarts again, and is then offered another block at round
// 1: it must still be locked on B and prevote nil, never the other block. (Before the
// driver logged what a replay signs, the second restart had no trace of its height-2
// precommit and prevoted the other block.)
func TestEngineKeepsItsLockThroughTwoCrashes(t *testing.T) {
	s := newScripted(t, 81)
	ch := s.e.NewChain()
	b1 := ch.Build()
	if _, err := ch.Apply(b1); err != nil {
		t.Fatal(err)
	}
	b2 := ch.Build()
	other := s.e.NewChain() // another valid block for height 2
	if _, err := other.Apply(b1); err != nil {
		t.Fatal(err)
	}
	other.State.Time += 7 // a different time: a different block
	b2x := other.Build()
	h1, h2, h2x := bft.HashValue(b1), bft.HashValue(b2), bft.HashValue(b2x)

	s.open()
	s.run()
	// Height 1, round 0: station 1 proposes; everyone prevotes; station 0 locks.
	s.propose(1, 1, 0, b1)
	if v := s.waitVote(bft.Prevote, 1, 0); v.BlockHash != h1 {
		t.Fatalf("station 0 prevoted %s for height 1, want the proposal", v.BlockHash)
	}
	// The others' precommits arrive before their prevotes (the network reorders).
	s.vote(1, bft.Precommit, 1, 0, h1)
	s.vote(2, bft.Precommit, 1, 0, h1)
	// The others have moved on: height 2's proposal and prevotes arrive early (the core
	// buffers them and logs them in height 1's WAL segment).
	s.propose(2, 2, 0, b2)
	for _, v := range []int{1, 2, 3} {
		s.vote(v, bft.Prevote, 2, 0, h2)
	}
	// The prevotes of height 1: station 0 precommits, its precommit completes the
	// quorum, it decides and dies before the store commit.
	s.crashAt("before-store-commit")
	s.vote(1, bft.Prevote, 1, 0, h1)
	s.vote(2, bft.Prevote, 1, 0, h1)
	s.waitCrash()

	// First restart: the replay commits height 1 and locks B at height 2.
	s.open()
	if st := s.eng.core.State(); st.Height != 2 || st.LockedRound != 0 || st.LockedHash != h2 {
		t.Errorf("after the first restart: %+v, want locked on %s in round 0 of height 2", st, h2)
	}
	s.run()
	if v := s.waitVote(bft.Precommit, 2, 0); v.BlockHash != h2 {
		t.Fatalf("station 0 precommitted %s at height 2, want %s", v.BlockHash, h2)
	}
	// Its precommit for B is out. Crash again, at the next crash point.
	s.crashAt("")
	s.vote(3, bft.Precommit, 2, 0, bft.Hash{})
	s.waitCrash()

	// Second restart: the lock must come back from the WAL.
	s.open()
	if st := s.eng.core.State(); st.Height != 2 || st.LockedRound != 0 || st.LockedHash != h2 {
		t.Errorf("after the second restart: %+v, want still locked on %s in round 0", st, h2)
	}
	s.run()
	// Round 0 ends without a decision; station 3 proposes the other block in round 1.
	for _, v := range []int{1, 2, 3} {
		s.vote(v, bft.Precommit, 2, 0, bft.Hash{})
	}
	s.propose(3, 2, 1, b2x)
	switch v := s.waitVote(bft.Prevote, 2, 1); v.BlockHash {
	case bft.Hash{}:
		// Locked on B: nil, as Algorithm 1 says.
	case h2x:
		t.Fatalf("station 0 prevoted the other block %s at height 2 round 1 while it had sent a precommit for %s: lock amnesia", h2x, h2)
	default:
		t.Fatalf("station 0 prevoted %s at height 2 round 1", v.BlockHash)
	}
}
