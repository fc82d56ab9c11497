package bft_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/urna-vote/urna/chain/bft"
)

// The WAL contract, tested from the core's side: what the caller logs (every input, and
// every message of every Ready) is enough to rebuild the core.

// recordedRun runs a simulation seed with one honest node's calls recorded and returns
// that node's call log and id.
func recordedRun(t *testing.T, seed uint64) (*callLog, int, simConfig) {
	t.Helper()
	cfg := randomSimConfig(seed)
	cfg.Unguarded = false
	s := newSim(cfg)
	id := -1
	for i, k := range cfg.Byz {
		if k == 0 && !cfg.Wipers[i] {
			id = i
			break
		}
	}
	s.nodes[id].rec = &callLog{}
	if err := s.run(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return s.nodes[id].rec, id, cfg
}

func newReplayCore(t *testing.T, cfg simConfig, id int, signer *guardSigner) *bft.Core {
	t.Helper()
	privs, vals := testKeys("sim", cfg.N)
	_ = privs
	c, err := bft.New(bft.Config{ChainID: testChainID, Validators: vals, Self: id, Height: 1,
		Timeouts: testTimeouts(), Signer: signer.Signer(), Validate: testValidate, WaitForWork: cfg.WaitForWork})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Byz[id]&byzAmnesia != 0 {
		bft.SetIgnoreLock(c, true)
	}
	return c
}

// readyString is a canonical rendering of a Ready for comparison.
func readyString(t *testing.T, r bft.Ready) string {
	var b bytes.Buffer
	for _, m := range r.Buffered {
		data, err := bft.EncodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "buffered %x\n", data)
	}
	for _, m := range r.Messages {
		data, err := bft.EncodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "msg %x\n", data)
	}
	for _, tm := range r.Timers {
		fmt.Fprintf(&b, "timer %+v\n", tm)
	}
	if r.NeedProposal != nil {
		fmt.Fprintf(&b, "need %+v\n", *r.NeedProposal)
	}
	if r.Commit != nil {
		data, err := bft.EncodeMessage(bft.Message{Decision: r.Commit})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "commit %x\n", data)
	}
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "evidence %x\n", bft.EncodeEvidence(&e))
	}
	if r.Sync != nil {
		fmt.Fprintf(&b, "sync %+v\n", *r.Sync)
	}
	for _, d := range r.Dropped {
		fmt.Fprintf(&b, "drop %s\n", d)
	}
	return b.String()
}

// TestReplaySameInputsSameOutputs: the inputs a node logged, replayed into a fresh core
// whose signer starts in the same state, give exactly the same Readys, call by call.
func TestReplaySameInputsSameOutputs(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		log, id, cfg := recordedRun(t, seed)
		signer := &guardSigner{priv: mustPriv(cfg.N, id), state: &signerState{}, guarded: true}
		c := newReplayCore(t, cfg, id, signer)
		steps := 0
		for i, cl := range log.calls {
			var got bft.Ready
			switch cl.kind {
			case callStart:
				got = c.Start()
			case callStep:
				// Through the WAL codec, as a real replay reads it back.
				data, err := bft.EncodeInput(cl.in)
				if err != nil {
					t.Fatal(err)
				}
				in, err := bft.DecodeInput(data)
				if err != nil {
					t.Fatal(err)
				}
				got = c.Step(in)
				steps++
			case callAdvance:
				got = c.Advance()
			}
			if g, w := readyString(t, got), readyString(t, cl.out); g != w {
				t.Fatalf("seed %d node v%d call %d (%T): replay differs\n got: %s\nwant: %s", seed, id, i, cl.in, g, w)
			}
		}
		if c.State() != log.calls[len(log.calls)-1].state {
			t.Fatalf("seed %d: final state differs", seed)
		}
		t.Logf("seed %d: v%d, %d calls (%d inputs) replayed identically, ended at h%d", seed, id, len(log.calls), steps, c.Height())
	}
}

// TestRecoveryRebuildsState: after a crash at any point, a fresh core fed the WAL (inputs
// and our own logged messages) reaches the same state (height, round, step, lock, valid
// value) and the same latest votes, although its signer is the durable one, ahead of the
// replay, and refuses to sign most of it again.
func TestRecoveryRebuildsState(t *testing.T) {
	for seed := uint64(20); seed <= 27; seed++ {
		log, id, cfg := recordedRun(t, seed)
		refusedTotal := 0
		points := 0
		for k := 0; k < len(log.calls); k += 1 + k/8 {
			if log.calls[k].out.Commit != nil {
				continue // crash points are between Readys handled in full
			}
			points++
			signer := &guardSigner{priv: mustPriv(cfg.N, id), state: new(signerState), guarded: true}
			*signer.state = log.calls[k].signer
			c := newReplayCore(t, cfg, id, signer)
			var wal []bft.Input
			for _, cl := range log.calls[:k+1] {
				if cl.kind == callStep {
					wal = append(wal, cl.in)
				}
				for _, m := range cl.out.Buffered {
					wal = append(wal, m)
				}
				for _, m := range cl.out.Messages {
					wal = append(wal, m)
				}
			}
			handle := func(rd bft.Ready) {
				for rd.Commit != nil {
					rd = c.Advance()
				}
			}
			handle(c.Start())
			for _, in := range wal {
				rd := c.Step(in)
				for _, d := range rd.Dropped {
					if d.Reason == bft.DropSignerRefused {
						refusedTotal++
					}
				}
				handle(rd)
			}
			want := log.calls[k]
			if c.State() != want.state {
				t.Fatalf("seed %d v%d crash after call %d: recovered %+v, was %+v", seed, id, k, c.State(), want.state)
			}
			if g, w := readyString(t, bft.Ready{Messages: c.LatestVotes()}), readyString(t, bft.Ready{Messages: want.latest}); g != w {
				t.Fatalf("seed %d v%d crash after call %d: latest votes differ\n got %s\nwant %s", seed, id, k, g, w)
			}
		}
		t.Logf("seed %d: v%d recovered identically at %d crash points (%d signatures refused by the guard on the way)", seed, id, points, refusedTotal)
	}
}

func mustPriv(n, id int) []byte {
	privs, _ := testKeys("sim", n)
	return privs[id]
}

// TestRecoveryFromHeightSegment: the WAL of chain/bft/wal keeps the records logged while
// the core was at each height, and a restart replays only the heights above the store's.
// Messages that arrived for height h+1 while the core was still at h are therefore not
// replayed; our own logged messages must still give back every lock we had.
func TestRecoveryFromHeightSegment(t *testing.T) {
	for seed := uint64(30); seed <= 37; seed++ {
		log, id, cfg := recordedRun(t, seed)
		points := 0
		for k := 0; k < len(log.calls); k++ {
			want := log.calls[k]
			if want.out.Commit != nil || want.state.Height == 1 {
				continue
			}
			h := want.state.Height
			// The decision of h-1, and the records logged while the core was at h.
			var prev *bft.Decision
			var wal []bft.Input
			height := uint64(1)
			for _, cl := range log.calls[:k+1] {
				if cl.kind == callStep && height == h {
					wal = append(wal, cl.in)
				}
				if height == h {
					for _, m := range cl.out.Buffered {
						wal = append(wal, m)
					}
					for _, m := range cl.out.Messages {
						wal = append(wal, m)
					}
				}
				if cl.out.Commit != nil {
					if cl.out.Commit.Height == h-1 {
						prev = cl.out.Commit
					}
					height = cl.out.Commit.Height + 1
				}
			}
			if prev == nil {
				continue
			}
			points++
			signer := &guardSigner{priv: mustPriv(cfg.N, id), state: new(signerState), guarded: true}
			*signer.state = want.signer
			_, vals := testKeys("sim", cfg.N)
			c, err := bft.New(bft.Config{ChainID: testChainID, Validators: vals, Self: id, Height: h,
				Timeouts: testTimeouts(), Signer: signer.Signer(), Validate: testValidate, WaitForWork: cfg.WaitForWork})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.SyncTo(*prev); err != nil {
				t.Fatal(err)
			}
			for _, in := range wal {
				if rd := c.Step(in); rd.Commit != nil {
					t.Fatalf("seed %d: replay of h%d decided", seed, h)
				}
			}
			got := c.State()
			if got.Height != want.state.Height || got.LockedRound != want.state.LockedRound || got.LockedHash != want.state.LockedHash ||
				got.ValidRound < got.LockedRound {
				t.Fatalf("seed %d v%d crash after call %d: recovered %+v, was %+v", seed, id, k, got, want.state)
			}
		}
		t.Logf("seed %d: v%d kept its lock at %d crash points replaying one height's log", seed, id, points)
	}
}
