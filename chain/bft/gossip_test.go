package bft_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/urna-vote/urna/chain/bft"
)

// gossipInventory is a hand-built inventory of 4 validators at height 5: round 0 with
// a proposal and every prevote and precommit for it, round 1 (ours) with a
// re-proposal of it (POL round 0) and v1's prevote.
func gossipInventory() (*bft.Inventory, bft.Hash) {
	privs, _ := testKeys("gossip", 4)
	block := testBlock(5, "A")
	h := bft.HashValue(block)
	inv := &bft.Inventory{Height: 5, Round: 1, N: 4, Quorum: 3,
		Proposals: []*bft.Proposal{signProposal(privs[1], 5, 0, -1, block, 1), signProposal(privs[2], 5, 1, 0, block, 2)}}
	for _, t := range []bft.VoteType{bft.Prevote, bft.Precommit} {
		for i := range 4 {
			inv.Votes = append(inv.Votes, signVote(privs[i], t, 5, 0, h, uint32(i)))
		}
	}
	inv.Votes = append(inv.Votes, signVote(privs[1], bft.Prevote, 5, 1, h, 1))
	return inv, h
}

func keys(ms []bft.Message) []bft.ItemKey {
	var out []bft.ItemKey
	for _, m := range ms {
		out = append(out, bft.KeyOf(m))
	}
	return out
}

var noLimit = bft.PlanLimits{Bytes: 1 << 30, Messages: 1000}

// A peer whose Have shows everything is sent nothing; one that shows nothing is sent
// everything, in the documented order; one that holds part gets the rest.
func TestPlanSendsWhatThePeerLacks(t *testing.T) {
	inv, _ := gossipInventory()
	all := inv.Have()
	if got := bft.Plan(inv, &all, nil, noLimit); len(got) != 0 {
		t.Fatalf("a peer holding everything was sent %d messages: %v", len(got), keys(got))
	}
	// A peer in round 0 that holds nothing.
	empty := bft.Have{Height: 5, Round: 0}
	got := bft.Plan(inv, &empty, nil, noLimit)
	if len(got) != 2+9 {
		t.Fatalf("a peer holding nothing was sent %d messages, want 11: %v", len(got), keys(got))
	}
	if got[0].Proposal == nil || got[0].Proposal.Round != 0 {
		t.Fatalf("first message %s, want the proposal of the peer's round", got[0])
	}
	for i := 1; i <= 4; i++ {
		if v := got[i].Vote; v == nil || v.Round != 0 || v.Type != bft.Prevote {
			t.Fatalf("message %d is %s, want the prevotes of round 0 next", i, got[i])
		}
	}
	if p := got[9].Proposal; p == nil || p.Round != 1 {
		t.Fatalf("message 9 is %s, want our round's proposal after the peer's round", got[9])
	}
	// A peer that lacks only v2's precommit of round 0 gets only that.
	part := *inv
	part.Votes = nil
	for _, v := range inv.Votes {
		if !(v.Type == bft.Precommit && v.Validator == 2) {
			part.Votes = append(part.Votes, v)
		}
	}
	have := part.Have()
	got = bft.Plan(inv, &have, nil, noLimit)
	if len(got) != 1 || got[0].Vote == nil || got[0].Vote.Validator != 2 || got[0].Vote.Type != bft.Precommit {
		t.Fatalf("a peer lacking one precommit got %v", keys(got))
	}
	// The peer's next Have shows it: nothing more.
	if again := bft.Plan(inv, &all, nil, noLimit); len(again) != 0 {
		t.Fatal("sent again after the peer showed it")
	}
}

// A re-proposal comes with the prevotes of its POL round, which the peer needs to
// accept it (line 28).
func TestPlanSendsThePOLWithAReproposal(t *testing.T) {
	inv, h := gossipInventory()
	// The peer is in round 1 and holds round 0's precommits but none of its prevotes.
	peer := bft.Have{Height: 5, Round: 1, Rounds: []bft.HaveRound{{Round: 0, Proposal: true,
		Precommits: []bft.HaveVotes{{Hash: h, Bits: []byte{0x0f}}}}}}
	got := bft.Plan(inv, &peer, nil, noLimit)
	if len(got) < 5 || got[0].Proposal == nil || got[0].Proposal.Round != 1 {
		t.Fatalf("got %v, want the round 1 proposal first", keys(got))
	}
	for i := 1; i <= 4; i++ {
		if v := got[i].Vote; v == nil || v.Round != 0 || v.Type != bft.Prevote || v.BlockHash != h {
			t.Fatalf("message %d is %s, want a POL prevote of round 0", i, got[i])
		}
	}
}

// A vote that conflicts with the one the peer holds of the same validator goes first,
// so that the peer can prove the equivocation; on a decided height it is all that is
// sent.
func TestPlanRelaysConflictingVotesFirst(t *testing.T) {
	inv, h := gossipInventory()
	other := bft.Hash{9}
	peerHave := inv.Have()
	// The peer holds v3's round 0 prevote for another block, not ours.
	r0 := &peerHave.Rounds[0]
	r0.Prevotes = []bft.HaveVotes{{Hash: other, Bits: []byte{0x08}}, {Hash: h, Bits: []byte{0x07}}}
	if bytes.Compare(other[:], h[:]) > 0 {
		r0.Prevotes[0], r0.Prevotes[1] = r0.Prevotes[1], r0.Prevotes[0]
	}
	got := bft.Plan(inv, &peerHave, nil, noLimit)
	if len(got) != 1 || got[0].Vote == nil || got[0].Vote.Validator != 3 || got[0].Vote.BlockHash != h {
		t.Fatalf("got %v, want v3's conflicting prevote only", keys(got))
	}
	dec := *inv
	dec.Decided = true
	peerHave.Round = 0
	peerHave.Rounds[0].Precommits = nil // it lacks the deciding precommits
	peerHave.Rounds = peerHave.Rounds[:1]
	dec.Proposals = dec.Proposals[:1] // a decided inventory keeps the deciding round's proposal
	got = bft.Plan(&dec, &peerHave, nil, noLimit)
	if len(got) != 5 || got[0].Vote.Validator != 3 || got[0].Vote.Type != bft.Prevote {
		t.Fatalf("decided height: got %v, want the conflicting vote, then the 4 deciding precommits", keys(got))
	}
	for _, m := range got[1:] {
		if m.Vote == nil || m.Vote.Type != bft.Precommit || m.Vote.Round != 0 {
			t.Fatalf("decided height: sent %s, want only the deciding precommits after the conflict", m)
		}
	}
	// A peer that lacks the block too gets the deciding proposal; nothing of round 1
	// (a decided height's other rounds are no use to it).
	peerHave.Rounds[0].Proposal = false
	got = bft.Plan(&dec, &peerHave, nil, noLimit)
	if len(got) != 6 || got[1].Proposal == nil || got[1].Proposal.Round != 0 {
		t.Fatalf("decided height, block missing: got %v", keys(got))
	}
}

// Plan never exceeds its limits (but sends at least one message), skips what the
// caller sent lately, and sends nothing to a peer at another height.
func TestPlanLimits(t *testing.T) {
	inv, _ := gossipInventory()
	empty := bft.Have{Height: 5}
	if got := bft.Plan(inv, &empty, nil, bft.PlanLimits{Bytes: 1 << 20, Messages: 3}); len(got) != 3 {
		t.Fatalf("message limit 3: got %d", len(got))
	}
	if got := bft.Plan(inv, &empty, nil, bft.PlanLimits{Bytes: 1, Messages: 100}); len(got) != 1 {
		t.Fatalf("a byte limit below one message: got %d messages, want 1", len(got))
	}
	if got := bft.Plan(inv, &empty, nil, bft.PlanLimits{Bytes: 500, Messages: 100}); len(got) != 4 {
		t.Fatalf("500 bytes: got %d messages, want 4", len(got))
	}
	skip := func(k bft.ItemKey) bool { return k.Kind == bft.KindVote }
	got := bft.Plan(inv, &empty, skip, noLimit)
	if len(got) != 2 || got[0].Proposal == nil || got[1].Proposal == nil {
		t.Fatalf("skipping votes: got %v", keys(got))
	}
	for _, h := range []uint64{4, 6} {
		other := bft.Have{Height: h}
		if got := bft.Plan(inv, &other, nil, noLimit); len(got) != 0 {
			t.Fatalf("peer at height %d was sent %d messages", h, len(got))
		}
	}
}

func TestHaveRoundTripAndLimits(t *testing.T) {
	inv, _ := gossipInventory()
	h := inv.Have()
	if len(h.Rounds) != 2 || !h.Rounds[0].Proposal || len(h.Rounds[0].Prevotes) != 1 || h.Rounds[0].Prevotes[0].Bits[0] != 0x0f {
		t.Fatalf("unexpected summary %+v", h)
	}
	b, err := bft.EncodeHave(&h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := bft.DecodeHave(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := bft.EncodeHave(&back); !bytes.Equal(again, b) {
		t.Fatal("round trip changed the bytes")
	}
	bad := []struct {
		name string
		edit func(h *bft.Have)
		want error
	}{
		{"rounds out of order", func(h *bft.Have) { h.Rounds[0].Round = 5 }, bft.ErrInvalidField},
		{"too many rounds", func(h *bft.Have) {
			h.Rounds = nil
			for r := range bft.MaxHaveRounds + 1 {
				h.Rounds = append(h.Rounds, bft.HaveRound{Round: uint32(r)})
			}
		}, bft.ErrTooLarge},
		{"hashes out of order", func(h *bft.Have) {
			h.Rounds[0].Prevotes = []bft.HaveVotes{{Hash: bft.Hash{2}}, {Hash: bft.Hash{1}}}
		}, bft.ErrInvalidField},
		{"bitmap too long", func(h *bft.Have) { h.Rounds[0].Prevotes[0].Bits = make([]byte, 126) }, bft.ErrTooLarge},
		{"round too high", func(h *bft.Have) { h.Round = bft.MaxRound + 1 }, bft.ErrInvalidField},
	}
	for _, tc := range bad {
		x, _ := bft.DecodeHave(b)
		tc.edit(&x)
		if _, err := bft.EncodeHave(&x); !errors.Is(err, tc.want) {
			t.Errorf("%s: EncodeHave: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := bft.DecodeHave(append(b, 0)); !errors.Is(err, bft.ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
	if _, err := bft.DecodeHave(make([]byte, bft.MaxHaveBytes+1)); !errors.Is(err, bft.ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
}

// Relay proves an equivocation: two cores each hold a different prevote of validator 3
// for the same round. Each one's Have makes the other send its copy, which yields
// Evidence; after the height is decided, a late conflicting vote still does.
func TestGossipRelayProvesEquivocation(t *testing.T) {
	a, privs, _ := newTestCore(t, 2, nil)
	b, _, _ := newTestCore(t, 2, func(c *bft.Config) {
		c.Self = 1
		c.Signer = (&guardSigner{priv: privs[1], state: &signerState{}}).Signer()
	})
	x, y := bft.HashValue(testBlock(2, "X")), bft.HashValue(testBlock(2, "Y"))
	a.Step(bft.Message{Vote: signVote(privs[3], bft.Prevote, 2, 0, x, 3)})
	b.Step(bft.Message{Vote: signVote(privs[3], bft.Prevote, 2, 0, y, 3)})
	ainv, binv := a.Inventory(), b.Inventory()
	bh := binv.Have()
	toB := bft.Plan(&ainv, &bh, nil, noLimit)
	if len(toB) != 1 || toB[0].Vote.BlockHash != x {
		t.Fatalf("a plans %v for b, want v3's prevote for X", keys(toB))
	}
	rd := b.Step(toB[0])
	if len(rd.Evidence) != 1 || rd.Evidence[0].A.Validator != 3 {
		t.Fatalf("b made no evidence of the relayed equivocation: %+v", rd.Evidence)
	}
	// A third core decides height 2 holding v3's vote for Y, then gets X late.
	c, _, _ := newTestCore(t, 2, func(c *bft.Config) {
		c.Self = 2
		c.Signer = (&guardSigner{priv: privs[2], state: &signerState{}}).Signer()
	})
	block := testBlock(2, "Y")
	c.Step(bft.Message{Proposal: signProposal(privs[2], 2, 0, -1, block, 2)})
	c.Step(bft.Message{Vote: signVote(privs[3], bft.Prevote, 2, 0, y, 3)})
	var decided bool
	for i := range 4 {
		if rd := c.Step(bft.Message{Vote: signVote(privs[i], bft.Precommit, 2, 0, y, uint32(i))}); rd.Commit != nil {
			decided = true
			c.Advance()
		}
	}
	if !decided || c.Height() != 3 {
		t.Fatalf("c did not decide height 2 (at %d)", c.Height())
	}
	last, ok := c.LastInventory()
	if !ok || !last.Decided || last.Height != 2 || len(last.Proposals) != 1 || len(last.Votes) != 5 {
		t.Fatalf("no inventory of the decided height: %+v", last)
	}
	late := bft.Message{Vote: signVote(privs[3], bft.Prevote, 2, 0, x, 3)}
	if !c.PastConflict(late.Vote) {
		t.Fatal("PastConflict misses the late conflicting vote")
	}
	rd = c.Step(late)
	if len(rd.Evidence) != 1 {
		t.Fatalf("a late conflicting vote of the decided height made no evidence: %+v", rd)
	}
	if c.PastConflict(late.Vote) || len(c.Step(late).Evidence) != 0 {
		t.Fatal("the same equivocation was proven twice")
	}
	// A forged late vote (bad signature) proves nothing.
	forged := signVote(privs[0], bft.Prevote, 2, 0, bft.Hash{7}, 2) // claims to be v2's
	if !c.PastConflict(forged) {
		t.Fatal("PastConflict misses a conflict with our own prevote")
	}
	if rd := c.Step(bft.Message{Vote: forged}); len(rd.Evidence) != 0 {
		t.Fatal("evidence from a forged vote")
	}
}

func FuzzDecodeHave(f *testing.F) {
	inv, _ := gossipInventory()
	h := inv.Have()
	b, _ := bft.EncodeHave(&h)
	f.Add(b)
	f.Add(b[:len(b)/2])
	empty, _ := bft.EncodeHave(&bft.Have{Height: 1})
	f.Add(empty)
	f.Add([]byte{0x83, 0x01, 0x00, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := bft.DecodeHave(data)
		if err != nil {
			return
		}
		again, err := bft.EncodeHave(&h)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded Have does not re-encode to its bytes: %v", err)
		}
		// Whatever a peer claims, planning against it is safe.
		bft.Plan(inv, &h, nil, noLimit)
	})
}
