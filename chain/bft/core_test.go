package bft_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/bft"
)

// newTestCore returns validator 0 of a 4-validator set at height, started.
func newTestCore(t *testing.T, height uint64, edit func(*bft.Config)) (*bft.Core, []ed25519.PrivateKey, *bft.ValidatorSet) {
	t.Helper()
	privs, vals := testKeys("core", 4)
	g := &guardSigner{priv: privs[0], state: &signerState{}, guarded: true}
	cfg := bft.Config{ChainID: testChainID, Validators: vals, Self: 0, Height: height,
		Timeouts: testTimeouts(), Signer: g.Signer(), Validate: testValidate}
	if edit != nil {
		edit(&cfg)
	}
	c, err := bft.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	return c, privs, vals
}

func TestValidatorSet(t *testing.T) {
	_, vals := testKeys("vs", 4)
	for _, tc := range []struct {
		name string
		keys []ed25519.PublicKey
	}{
		{"empty", nil},
		{"short key", []ed25519.PublicKey{vals.Keys[0], vals.Keys[1][:31]}},
		{"duplicate", []ed25519.PublicKey{vals.Keys[0], vals.Keys[1], vals.Keys[0]}},
	} {
		if _, err := bft.NewValidatorSet(tc.keys); !errors.Is(err, bft.ErrInvalidValidatorSet) {
			t.Errorf("%s: got %v, want ErrInvalidValidatorSet", tc.name, err)
		}
	}
	for n, want := range map[int][2]int{1: {0, 1}, 3: {0, 3}, 4: {1, 3}, 5: {1, 4}, 6: {1, 5}, 7: {2, 5}, 10: {3, 7}, 100: {33, 67}} {
		_, v := testKeys("vs", n)
		if v.F() != want[0] || v.Quorum() != want[1] {
			t.Errorf("n=%d: f=%d quorum=%d, want %v", n, v.F(), v.Quorum(), want)
		}
		if 2*v.Quorum() <= n || v.Quorum() > n-v.F() {
			t.Errorf("n=%d: quorum %d does not intersect safely or is not reachable without f", n, v.Quorum())
		}
	}
	seen := map[uint32]bool{}
	for r := range uint32(4) {
		seen[vals.Proposer(9, r)] = true
	}
	if len(seen) != 4 || vals.Proposer(1, 0) == vals.Proposer(2, 0) {
		t.Error("proposer does not rotate over rounds and heights")
	}
	if id, ok := vals.Index(vals.Keys[2]); !ok || id != 2 {
		t.Error("Index")
	}
}

func TestTimeoutsGrowAndCap(t *testing.T) {
	to := testTimeouts()
	if to.Duration(bft.StepPropose, 0) != time.Second || to.Duration(bft.StepPropose, 2) != 2*time.Second {
		t.Error("propose timeout does not grow by its delta")
	}
	if to.Duration(bft.StepPrevote, 1000) != to.Max || to.Duration(bft.StepPrecommit, ^uint32(0)) != to.Max {
		t.Error("timeouts not capped")
	}
	bad := to
	bad.Prevote = 0
	_, vals := testKeys("core", 4)
	if _, err := bft.New(bft.Config{Validators: vals, Self: -1, Height: 1, Timeouts: bad, Validate: testValidate}); !errors.Is(err, bft.ErrInvalidConfig) {
		t.Errorf("zero timeout accepted: %v", err)
	}
	if _, err := bft.New(bft.Config{Validators: vals, Self: 0, Height: 1, Timeouts: to, Validate: testValidate}); !errors.Is(err, bft.ErrInvalidConfig) {
		t.Errorf("validator without signer accepted: %v", err)
	}
}

// makeCert returns a certificate for block at (height, round) signed by the given validators.
func makeCert(privs []ed25519.PrivateKey, height uint64, round uint32, block []byte, signers ...int) bft.Certificate {
	h := bft.HashValue(block)
	c := bft.Certificate{Height: height, Round: round, BlockHash: h}
	for _, i := range signers {
		c.Signatures = append(c.Signatures, bft.CommitSig{Validator: uint32(i), Signature: signVote(privs[i], bft.Precommit, height, round, h, uint32(i)).Signature})
	}
	return c
}

func TestCertificateVerify(t *testing.T) {
	privs, vals := testKeys("core", 4)
	block := testBlock(5, "A")
	good := makeCert(privs, 5, 1, block, 0, 2, 3)
	if err := good.Verify(testChainID, vals); err != nil {
		t.Fatal(err)
	}
	d := bft.Decision{Height: 5, Block: block, Certificate: good}
	if err := d.Verify(testChainID, vals); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *bft.Certificate)
		want error
	}{
		{"nil block", func(c *bft.Certificate) { c.BlockHash = bft.Hash{} }, bft.ErrNilBlock},
		{"too few", func(c *bft.Certificate) { c.Signatures = c.Signatures[:2] }, bft.ErrTooFewSigners},
		{"duplicate", func(c *bft.Certificate) { c.Signatures[1] = c.Signatures[0] }, bft.ErrDuplicateSigner},
		{"unsorted", func(c *bft.Certificate) { c.Signatures[0], c.Signatures[1] = c.Signatures[1], c.Signatures[0] }, bft.ErrUnsortedSigners},
		{"unknown validator", func(c *bft.Certificate) { c.Signatures[2].Validator = 9 }, bft.ErrUnknownValidator},
		{"bad signature", func(c *bft.Certificate) { c.Signatures[1].Signature[5] ^= 1 }, bft.ErrBadSignature},
		{"other round", func(c *bft.Certificate) { c.Round = 2 }, bft.ErrBadSignature},
		{"other chain", nil, bft.ErrBadSignature},
		{"short signature", func(c *bft.Certificate) { c.Signatures[0].Signature = c.Signatures[0].Signature[:10] }, bft.ErrInvalidField},
	} {
		c := makeCert(privs, 5, 1, block, 0, 2, 3)
		chain := testChainID
		if tc.edit != nil {
			tc.edit(&c)
		} else {
			chain[0] ^= 1
		}
		if err := c.Verify(chain, vals); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	d.Block = testBlock(5, "B")
	if err := d.Verify(testChainID, vals); !errors.Is(err, bft.ErrHashMismatch) {
		t.Errorf("decision with another block: %v", err)
	}
	d = bft.Decision{Height: 6, Block: block, Certificate: good}
	if err := d.Verify(testChainID, vals); !errors.Is(err, bft.ErrHeightMismatch) {
		t.Errorf("decision with another height: %v", err)
	}
}

func TestVerifyVotesProposalsEvidence(t *testing.T) {
	privs, vals := testKeys("core", 4)
	v := signVote(privs[1], bft.Prevote, 3, 0, bft.Hash{7}, 1)
	if err := v.Verify(testChainID, vals); err != nil {
		t.Fatal(err)
	}
	forged := signVote(privs[2], bft.Prevote, 3, 0, bft.Hash{7}, 1)
	if err := forged.Verify(testChainID, vals); !errors.Is(err, bft.ErrBadSignature) {
		t.Errorf("vote signed by another key: %v", err)
	}
	stranger := signVote(privs[1], bft.Prevote, 3, 0, bft.Hash{7}, 4)
	if err := stranger.Verify(testChainID, vals); !errors.Is(err, bft.ErrUnknownValidator) {
		t.Errorf("vote of validator 4: %v", err)
	}
	p := signProposal(privs[3], 2, 1, -1, testBlock(2, "A"), 3) // proposer of h2 r1 is (2+1)%4 = 3
	if err := p.Verify(testChainID, vals); err != nil {
		t.Fatal(err)
	}
	wrong := signProposal(privs[2], 2, 1, -1, testBlock(2, "A"), 2)
	if err := wrong.Verify(testChainID, vals); !errors.Is(err, bft.ErrWrongProposer) {
		t.Errorf("proposal by a non-proposer: %v", err)
	}
	p.Block = testBlock(2, "B")
	if err := p.Verify(testChainID, vals); !errors.Is(err, bft.ErrBadSignature) {
		t.Errorf("proposal with a swapped block: %v", err)
	}
	badPOL := signProposal(privs[3], 2, 1, 1, testBlock(2, "A"), 3)
	if err := badPOL.Verify(testChainID, vals); !errors.Is(err, bft.ErrInvalidField) {
		t.Errorf("POL round = round: %v", err)
	}

	a := signVote(privs[1], bft.Precommit, 3, 2, bft.Hash{1}, 1)
	b := signVote(privs[1], bft.Precommit, 3, 2, bft.Hash{}, 1)
	e := bft.Evidence{A: *b, B: *a}
	if err := e.Verify(testChainID, vals); err != nil {
		t.Fatal(err)
	}
	same := bft.Evidence{A: *a, B: *a}
	if err := same.Verify(testChainID, vals); !errors.Is(err, bft.ErrNotEquivocation) {
		t.Errorf("same vote twice: %v", err)
	}
	other := signVote(privs[1], bft.Precommit, 3, 3, bft.Hash{}, 1)
	if e := (bft.Evidence{A: *a, B: *other}); !errors.Is(e.Verify(testChainID, vals), bft.ErrNotEquivocation) {
		t.Error("votes of different rounds accepted as evidence")
	}
	tampered := *b
	tampered.Signature = append([]byte(nil), b.Signature...)
	tampered.Signature[0] ^= 1
	if e := (bft.Evidence{A: tampered, B: *a}); !errors.Is(e.Verify(testChainID, vals), bft.ErrBadSignature) {
		t.Error("evidence with a bad signature accepted")
	}
}

// TestCoreDropsBadInput checks that each kind of bad input is dropped with the right
// reason, counted, and changes nothing.
func TestCoreDropsBadInput(t *testing.T) {
	privs, vals := testKeys("core", 4)
	const h = 3 // proposers of height 3: r0 v3, r1 v0 (us), r2 v1
	A := testBlock(h, "A")
	goodProp := signProposal(privs[3], h, 0, -1, A, 3)
	badSig := signVote(privs[2], bft.Prevote, h, 0, bft.Hash{}, 1)
	typo := signVote(privs[1], bft.Prevote, h, 0, bft.Hash{}, 1)
	typo.Type = 7
	cases := []struct {
		name  string
		prep  []bft.Input
		in    bft.Input
		want  bft.DropReason
		tweak func(*bft.Config)
	}{
		{name: "unknown validator", in: bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{}, 7)}, want: bft.DropUnknownValidator},
		{name: "bad signature", in: bft.Message{Vote: badSig}, want: bft.DropBadSignature},
		{name: "bad vote type", in: bft.Message{Vote: typo}, want: bft.DropMalformed},
		{name: "empty message", in: bft.Message{}, want: bft.DropMalformed},
		{name: "two fields", in: bft.Message{Vote: badSig, Proposal: goodProp}, want: bft.DropMalformed},
		{name: "wrong proposer", in: bft.Message{Proposal: signProposal(privs[2], h, 0, -1, A, 2)}, want: bft.DropWrongProposer},
		{name: "oversized block", in: bft.Message{Proposal: signProposal(privs[3], h, 0, -1, append(testBlock(h, "A"), make([]byte, 200)...), 3)},
			want: bft.DropOversized, tweak: func(c *bft.Config) { c.MaxBlockBytes = 100 }},
		{name: "past height", in: bft.Message{Vote: signVote(privs[1], bft.Prevote, h-1, 0, bft.Hash{}, 1)}, want: bft.DropPastHeight},
		{name: "far future", in: bft.Message{Vote: signVote(privs[1], bft.Prevote, h+2, 0, bft.Hash{}, 1)}, want: bft.DropFarFuture},
		{name: "far future forged", in: bft.Message{Vote: signVote(privs[2], bft.Prevote, h+9, 0, bft.Hash{}, 1)}, want: bft.DropBadSignature},
		{name: "duplicate", prep: []bft.Input{bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{}, 1)}},
			in: bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{}, 1)}, want: bft.DropDuplicate},
		{name: "equivocation beyond the kept extras", prep: []bft.Input{
			bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{}, 1)},
			bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{1}, 1)},
			bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{2}, 1)},
			bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{3}, 1)},
			bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{4}, 1)}},
			in: bft.Message{Vote: signVote(privs[1], bft.Prevote, h, 0, bft.Hash{5}, 1)}, want: bft.DropEquivocation},
		{name: "conflicting proposal", prep: []bft.Input{bft.Message{Proposal: goodProp}},
			in: bft.Message{Proposal: signProposal(privs[3], h, 0, -1, testBlock(h, "B"), 3)}, want: bft.DropConflictingProposal},
		{name: "future round quota", prep: []bft.Input{
			bft.Message{Vote: signVote(privs[2], bft.Prevote, h, 5, bft.Hash{}, 2)},
			bft.Message{Vote: signVote(privs[2], bft.Prevote, h, 6, bft.Hash{}, 2)}},
			in: bft.Message{Vote: signVote(privs[2], bft.Prevote, h, 7, bft.Hash{}, 2)}, want: bft.DropFutureRoundLimit},
		{name: "stale proposal value", in: bft.ProposalValue{Height: h, Round: 0, Block: A}, want: bft.DropStaleInput},
		{name: "bad certificate", in: bft.Message{Decision: &bft.Decision{Height: h, Block: A, Certificate: makeCert(privs, h, 0, A, 1, 2)}}, want: bft.DropBadCertificate},
		{name: "decided invalid block", in: bft.Message{Decision: &bft.Decision{Height: h, Block: testBlock(h, "INVALID"), Certificate: makeCert(privs, h, 0, testBlock(h, "INVALID"), 1, 2, 3)}}, want: bft.DropInvalidBlock},
		{name: "signer refuses", in: bft.Timeout{Height: h, Round: 0, Step: bft.StepPropose}, want: bft.DropSignerRefused,
			tweak: func(c *bft.Config) {
				c.Signer = bft.SignFunc(func(uint64, uint32, bft.RoundStep, []byte) ([]byte, error) { return nil, errRefused })
			}},
		{name: "signer with the wrong key", in: bft.Timeout{Height: h, Round: 0, Step: bft.StepPropose}, want: bft.DropSignerRefused,
			tweak: func(c *bft.Config) {
				g := &guardSigner{priv: privs[1], state: &signerState{}}
				c.Signer = g.Signer()
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newTestCore(t, h, tc.tweak)
			for _, in := range tc.prep {
				c.Step(in)
			}
			before := c.State()
			rd := c.Step(tc.in)
			if len(rd.Dropped) == 0 || rd.Dropped[len(rd.Dropped)-1].Reason != tc.want {
				t.Fatalf("dropped %v, want %v", rd.Dropped, tc.want)
			}
			if c.DropCount(tc.want) == 0 {
				t.Errorf("drop not counted")
			}
			if len(rd.Messages) != 0 || rd.Commit != nil {
				t.Errorf("bad input had effects: %+v", rd)
			}
			if tc.want != bft.DropSignerRefused && c.State() != before {
				t.Errorf("state changed: %+v -> %+v", before, c.State())
			}
		})
	}
	_ = vals
}

// TestCoreBounds feeds a Byzantine flood and checks that the core keeps only bounded
// amounts: future rounds per validator and next-height messages per validator.
func TestCoreBounds(t *testing.T) {
	c, privs, _ := newTestCore(t, 1, nil)
	var limited, full uint64
	for r := uint32(1); r <= 2000; r++ {
		c.Step(bft.Message{Vote: signVote(privs[2], bft.Precommit, 1, r, bft.Hash{}, 2)})
	}
	limited = c.DropCount(bft.DropFutureRoundLimit)
	if limited != 1998 {
		t.Errorf("future rounds admitted: %d of 2000 dropped, want 1998", limited)
	}
	if c.Round() != 0 {
		t.Errorf("one validator moved us to round %d", c.Round())
	}
	for r := uint32(0); r < 100; r++ {
		c.Step(bft.Message{Vote: signVote(privs[3], bft.Prevote, 2, r, bft.Hash{}, 3)})
	}
	full = c.DropCount(bft.DropFutureBufferFull)
	if full != 92 {
		t.Errorf("next-height buffer: %d of 100 dropped, want 92", full)
	}
}

func TestCommitFromDecisionAndSync(t *testing.T) {
	c, privs, _ := newTestCore(t, 1, nil)
	// f+1 = 2 validators seen at height 4: we are behind by 3.
	rd := c.Step(bft.Message{Vote: signVote(privs[1], bft.Prevote, 4, 0, bft.Hash{}, 1)})
	if rd.Sync != nil {
		t.Fatalf("one validator (f) made us sync: %+v", rd.Sync)
	}
	rd = c.Step(bft.Message{Vote: signVote(privs[2], bft.Prevote, 4, 0, bft.Hash{}, 2)})
	if rd.Sync == nil || *rd.Sync != (bft.SyncRequest{From: 1, To: 4}) {
		t.Fatalf("sync request %+v, want 1..4", rd.Sync)
	}
	if _, behind := c.Behind(); !behind {
		t.Fatal("not behind")
	}
	for h := uint64(1); h <= 3; h++ {
		b := testBlock(h, "S")
		d := bft.Decision{Height: h, Block: b, Certificate: makeCert(privs, h, 2, b, 1, 2, 3)}
		rd = c.Step(bft.Message{Decision: &d})
		if rd.Commit == nil || rd.Commit.Height != h {
			t.Fatalf("decision h%d not committed: %+v", h, rd)
		}
		c.Advance()
		if got, ok := c.Decision(h); !ok || string(got.Block) != string(b) {
			t.Fatalf("decision h%d not kept for serving", h)
		}
	}
	if _, behind := c.Behind(); behind || c.Height() != 4 {
		t.Fatalf("still behind at height %d", c.Height())
	}
	// A decision two heights ahead raises the target by itself (its certificate proves it).
	b := testBlock(6, "S")
	d := bft.Decision{Height: 6, Block: b, Certificate: makeCert(privs, 6, 0, b, 0, 1, 3)}
	if rd = c.Step(bft.Message{Decision: &d}); rd.Sync == nil || rd.Sync.To != 7 {
		t.Fatalf("decision for h6 at h4: sync %+v", rd.Sync)
	}
	// SyncTo jumps after the caller applied blocks itself.
	rd, err := c.SyncTo(d)
	if err != nil || c.Height() != 7 {
		t.Fatalf("SyncTo: %v, height %d", err, c.Height())
	}
	if _, err := c.SyncTo(d); err != nil {
		t.Fatalf("SyncTo the same decision again: %v", err)
	}
	old := bft.Decision{Height: 2, Block: testBlock(2, "S"), Certificate: makeCert(privs, 2, 2, testBlock(2, "S"), 1, 2, 3)}
	if _, err := c.SyncTo(old); !errors.Is(err, bft.ErrStaleSync) {
		t.Fatalf("SyncTo backwards: %v", err)
	}
}

func TestLatestVotesAndOwnConflict(t *testing.T) {
	c, privs, _ := newTestCore(t, 1, nil)
	if len(c.LatestVotes()) != 0 {
		t.Fatal("votes before voting")
	}
	rd := c.Step(bft.Timeout{Height: 1, Round: 0, Step: bft.StepPropose})
	if len(rd.Messages) != 1 {
		t.Fatalf("messages %v", rd.Messages)
	}
	lv := c.LatestVotes()
	if len(lv) != 1 || lv[0].Vote.Type != bft.Prevote || !lv[0].Vote.BlockHash.IsZero() {
		t.Fatalf("latest votes %v", lv)
	}

	// Our own signed vote replayed from the WAL: the core must never sign a different
	// one for that round, whatever it receives next.
	c2, _, _ := newTestCore(t, 1, nil)
	own := signVote(privs[0], bft.Prevote, 1, 0, bft.Hash{}, 0)
	c2.Step(bft.Message{Vote: own})
	if st := c2.State(); st.Step != bft.StepPrevote {
		t.Fatalf("own prevote did not restore the step: %+v", st)
	}
	rd = c2.Step(bft.Message{Proposal: signProposal(privs[1], 1, 0, -1, testBlock(1, "A"), 1)})
	if len(rd.Messages) != 0 {
		t.Fatalf("signed a second prevote: %+v", rd)
	}

	// Our own precommit for a block, replayed without the inputs that led to it (they
	// were in the previous height's log), restores the lock it implies.
	c3, _, _ := newTestCore(t, 1, nil)
	a := bft.HashValue(testBlock(1, "A"))
	c3.Step(bft.Message{Vote: signVote(privs[0], bft.Precommit, 1, 2, a, 0)})
	if st := c3.State(); st.Round != 2 || st.Step != bft.StepPrecommit || st.LockedRound != 2 || st.LockedHash != a {
		t.Fatalf("own precommit did not restore round, step and lock: %+v", st)
	}
	// Locked on A (value unknown): a fresh proposal of B in round 3 gets a nil prevote.
	c3.Step(bft.Timeout{Height: 1, Round: 2, Step: bft.StepPrecommit})
	rd = c3.Step(bft.Message{Proposal: signProposal(privs[0], 1, 3, -1, testBlock(1, "B"), 0)})
	_ = rd
	rd = c3.Step(bft.Timeout{Height: 1, Round: 3, Step: bft.StepPropose})
	for _, m := range rd.Messages {
		if m.Vote != nil && m.Vote.Round == 3 && m.Vote.Type == bft.Prevote && !m.Vote.BlockHash.IsZero() {
			t.Fatalf("restored lock ignored: %s", m.Vote)
		}
	}
}

func TestWaitForWork(t *testing.T) {
	c, privs, _ := newTestCore(t, 1, func(c *bft.Config) { c.WaitForWork = true })
	if !c.State().Waiting {
		t.Fatal("not waiting")
	}
	rd := c.Step(bft.WorkReady{Height: 1})
	if len(rd.Timers) != 1 || rd.Timers[0].Step != bft.StepPropose || c.State().Waiting {
		t.Fatalf("work did not start the propose timer: %+v", rd)
	}
	c2, _, _ := newTestCore(t, 1, func(c *bft.Config) { c.WaitForWork = true })
	rd = c2.Step(bft.Message{Vote: signVote(privs[2], bft.Prevote, 1, 0, bft.Hash{}, 2)})
	if len(rd.Timers) != 1 || c2.State().Waiting {
		t.Fatalf("a peer's vote did not end the wait: %+v", rd)
	}
}
