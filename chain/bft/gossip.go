package bft

import (
	"bytes"
	"fmt"
	"slices"
)

// Gossip: what a node tells its peers it holds, and what it re-sends them.
//
// Broadcasting each message once is not enough on real links: a lost proposal costs a
// round, and a link that works in one direction only (A hears B, B does not hear A)
// leaves B without A's votes. So each node sends its peers a Have, a compact summary of
// the proposals and votes it holds at its height, and re-sends each peer the messages
// of that height the peer's latest Have does not show: its own and other validators'
// (relayed unchanged; signatures make relaying safe), until a Have shows them. Because
// a Have lists votes per block hash, a node that holds one vote of a validator and sees
// a peer holding another for the same round and type sends it its copy: an
// equivocation shown to two halves of the network reaches a node that holds both, which
// emits the Evidence.
//
// Everything here is a pure function of its arguments: Core.Inventory and
// Core.LastInventory take a snapshot, Inventory.Have summarises it, Plan decides what
// one peer is sent. The caller (the station engine, the simulator) keeps each peer's
// latest Have, what it sent lately, and the schedule.

// Bounds of a Have: they bound what a peer can make a node decode and keep.
const (
	// MaxHaveRounds is the most rounds a Have lists.
	MaxHaveRounds = 8
	// MaxHaveHashes is the most block hashes a Have lists per round and vote type.
	MaxHaveHashes = 8
	// MaxHaveBytes is the largest encoded Have DecodeHave accepts.
	MaxHaveBytes   = 32 << 10
	maxBitmapBytes = (MaxValidators + 7) / 8
)

// Have summarises what a node holds at one height: for some rounds, whether it has the
// round's proposal, and for each vote type the validators whose vote it holds, per
// block hash. A round it does not list it holds nothing of. Encoded as a CBOR array in
// field order.
type Have struct {
	_      struct{} `cbor:",toarray"`
	Height uint64
	Round  uint32 // the node's round at Height (for a decided height: the last it was in)
	Rounds []HaveRound
}

// HaveRound is what a node holds of one round. Prevotes and Precommits are sorted by
// hash, strictly increasing.
type HaveRound struct {
	_          struct{} `cbor:",toarray"`
	Round      uint32
	Proposal   bool
	Prevotes   []HaveVotes
	Precommits []HaveVotes
}

// HaveVotes is a bitmap of the validators whose vote for Hash (zero: nil) a node holds:
// validator i is bit i%8 of byte i/8.
type HaveVotes struct {
	_    struct{} `cbor:",toarray"`
	Hash Hash
	Bits []byte
}

func (r *HaveRound) votes(t VoteType) []HaveVotes {
	if t == Precommit {
		return r.Precommits
	}
	return r.Prevotes
}

// round returns the listed round r, if any.
func (h *Have) round(r uint32) *HaveRound {
	i, ok := slices.BinarySearchFunc(h.Rounds, r, func(x HaveRound, r uint32) int { return cmpU32(x.Round, r) })
	if !ok {
		return nil
	}
	return &h.Rounds[i]
}

// HasProposal reports whether the Have shows the proposal of round r.
func (h *Have) HasProposal(r uint32) bool {
	hr := h.round(r)
	return hr != nil && hr.Proposal
}

// HasVote reports whether the Have shows validator's vote of type t in round r for
// hash (same), and whether it shows one of that validator's for another hash (other).
func (h *Have) HasVote(r uint32, t VoteType, validator uint32, hash Hash) (same, other bool) {
	hr := h.round(r)
	if hr == nil {
		return false, false
	}
	for _, hv := range hr.votes(t) {
		if !bitSet(hv.Bits, validator) {
			continue
		}
		if hv.Hash == hash {
			same = true
		} else {
			other = true
		}
	}
	return same, other
}

func bitSet(bits []byte, i uint32) bool {
	return int64(i/8) < int64(len(bits)) && bits[i/8]&(1<<(i%8)) != 0
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// EncodeHave returns the canonical bytes of h. It fails if h breaks the limits
// DecodeHave checks.
func EncodeHave(h *Have) ([]byte, error) {
	if err := checkHave(h); err != nil {
		return nil, err
	}
	b, err := encMode.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("%w: have: %v", ErrInvalidField, err)
	}
	if len(b) > MaxHaveBytes {
		return nil, fmt.Errorf("%w: have of %d bytes, limit %d", ErrTooLarge, len(b), MaxHaveBytes)
	}
	return b, nil
}

// DecodeHave strictly decodes a Have received from a peer: canonical CBOR, at most
// MaxHaveBytes, MaxHaveRounds rounds in increasing order, MaxHaveHashes hashes per
// round and type in increasing order, bitmaps of at most MaxValidators bits.
func DecodeHave(b []byte) (Have, error) {
	var h Have
	if len(b) > MaxHaveBytes {
		return h, fmt.Errorf("%w: have of %d bytes, limit %d", ErrTooLarge, len(b), MaxHaveBytes)
	}
	if err := decMode.Unmarshal(b, &h); err != nil {
		return Have{}, fmt.Errorf("%w: have: %v", ErrMalformed, err)
	}
	if err := checkHave(&h); err != nil {
		return Have{}, err
	}
	if again, err := encMode.Marshal(&h); err != nil || !bytes.Equal(again, b) {
		return Have{}, fmt.Errorf("%w: have: not the canonical encoding", ErrMalformed)
	}
	return h, nil
}

func checkHave(h *Have) error {
	if h.Round > MaxRound {
		return fmt.Errorf("%w: have h%d: round %d above %d", ErrInvalidField, h.Height, h.Round, MaxRound)
	}
	if len(h.Rounds) > MaxHaveRounds {
		return fmt.Errorf("%w: have h%d: %d rounds, at most %d", ErrTooLarge, h.Height, len(h.Rounds), MaxHaveRounds)
	}
	for i := range h.Rounds {
		r := &h.Rounds[i]
		if r.Round > MaxRound {
			return fmt.Errorf("%w: have h%d: round %d above %d", ErrInvalidField, h.Height, r.Round, MaxRound)
		}
		if i > 0 && r.Round <= h.Rounds[i-1].Round {
			return fmt.Errorf("%w: have h%d: rounds not strictly increasing (%d after %d)", ErrInvalidField, h.Height, r.Round, h.Rounds[i-1].Round)
		}
		for _, t := range []VoteType{Prevote, Precommit} {
			vs := r.votes(t)
			if len(vs) > MaxHaveHashes {
				return fmt.Errorf("%w: have h%d r%d: %d %s hashes, at most %d", ErrTooLarge, h.Height, r.Round, len(vs), t, MaxHaveHashes)
			}
			for j := range vs {
				if len(vs[j].Bits) > maxBitmapBytes {
					return fmt.Errorf("%w: have h%d r%d: %s bitmap of %d bytes, at most %d", ErrTooLarge, h.Height, r.Round, t, len(vs[j].Bits), maxBitmapBytes)
				}
				if j > 0 && !vs[j-1].Hash.less(vs[j].Hash) {
					return fmt.Errorf("%w: have h%d r%d: %s hashes not strictly increasing", ErrInvalidField, h.Height, r.Round, t)
				}
			}
		}
	}
	return nil
}

// Inventory is what a node holds at one height, for gossip: a snapshot taken by
// Core.Inventory (the current height) or Core.LastInventory (the height it decided
// last). The messages are shared with the core: do not modify them.
type Inventory struct {
	Height uint64
	Round  uint32 // the node's round at Height
	N      int    // validators
	Quorum int
	// Proposals, at most one per round, by increasing round.
	Proposals []*Proposal
	// Votes by increasing round, then type (prevotes first), then validator; an
	// equivocator's votes for one round and type in the order the node got them.
	Votes []*Vote
	// Decided: Height is decided here (LastInventory); Plan sends only the votes that
	// conflict with a peer's and what the peer needs to decide.
	Decided bool
}

// Have summarises the inventory. It lists at most MaxHaveRounds rounds: the node's
// round, the one before, those above it, the POL rounds of the proposals it holds, then
// the highest others; and at most MaxHaveHashes hashes per round and type, those with
// the most votes first.
func (inv *Inventory) Have() Have {
	h := Have{Height: inv.Height, Round: inv.Round}
	var held []uint32 // rounds holding anything, increasing
	note := func(r uint32) {
		if i, ok := slices.BinarySearch(held, r); !ok {
			held = slices.Insert(held, i, r)
		}
	}
	for _, p := range inv.Proposals {
		note(p.Round)
	}
	for _, v := range inv.Votes {
		note(v.Round)
	}
	var pick []uint32
	want := func(r uint32) {
		if len(pick) < MaxHaveRounds && !slices.Contains(pick, r) {
			if _, ok := slices.BinarySearch(held, r); ok {
				pick = append(pick, r)
			}
		}
	}
	want(inv.Round)
	if inv.Round > 0 {
		want(inv.Round - 1)
	}
	for _, r := range held {
		if r > inv.Round {
			want(r)
		}
	}
	for _, p := range inv.Proposals {
		if p.POLRound >= 0 {
			want(uint32(p.POLRound))
		}
	}
	for i := len(held) - 1; i >= 0; i-- {
		want(held[i])
	}
	slices.Sort(pick)
	nbytes := (inv.N + 7) / 8
	for _, r := range pick {
		hr := HaveRound{Round: r}
		for _, p := range inv.Proposals {
			if p.Round == r {
				hr.Proposal = true
			}
		}
		for _, t := range []VoteType{Prevote, Precommit} {
			var vs []HaveVotes
			for _, v := range inv.Votes {
				if v.Round != r || v.Type != t || int64(v.Validator) >= int64(inv.N) {
					continue
				}
				i := slices.IndexFunc(vs, func(x HaveVotes) bool { return x.Hash == v.BlockHash })
				if i < 0 {
					vs = append(vs, HaveVotes{Hash: v.BlockHash, Bits: make([]byte, nbytes)})
					i = len(vs) - 1
				}
				vs[i].Bits[v.Validator/8] |= 1 << (v.Validator % 8)
			}
			if len(vs) > MaxHaveHashes {
				slices.SortStableFunc(vs, func(a, b HaveVotes) int { return popcount(b.Bits) - popcount(a.Bits) })
				vs = vs[:MaxHaveHashes]
			}
			slices.SortFunc(vs, func(a, b HaveVotes) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
			if t == Prevote {
				hr.Prevotes = vs
			} else {
				hr.Precommits = vs
			}
		}
		h.Rounds = append(h.Rounds, hr)
	}
	return h
}

func popcount(b []byte) int {
	n := 0
	for _, x := range b {
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

// ItemKey identifies a proposal or vote for the caller's record of what it sent a peer
// lately (a vote by validator, round, type and hash; a proposal by its round and hash).
type ItemKey struct {
	Kind      Kind
	Height    uint64
	Round     uint32
	Type      VoteType
	Validator uint32
	Hash      Hash
}

// KeyOf returns m's ItemKey (the zero key for a Decision or an empty message).
func KeyOf(m Message) ItemKey {
	switch {
	case m.Vote != nil:
		v := m.Vote
		return ItemKey{Kind: KindVote, Height: v.Height, Round: v.Round, Type: v.Type, Validator: v.Validator, Hash: v.BlockHash}
	case m.Proposal != nil:
		p := m.Proposal
		return ItemKey{Kind: KindProposal, Height: p.Height, Round: p.Round, Validator: p.Proposer, Hash: p.BlockHash()}
	}
	return ItemKey{}
}

// PlanLimits bound what Plan returns for one peer.
type PlanLimits struct {
	// Bytes: the messages' encoded sizes (approximately) add up to at most this, except
	// that a single message larger than Bytes is returned alone.
	Bytes int
	// Messages: at most this many (at least 1).
	Messages int
}

// messageSize approximates the encoded size of a proposal or vote.
func messageSize(m Message) int {
	if m.Proposal != nil {
		return len(m.Proposal.Block) + 120
	}
	return 120
}

// Plan decides what to send one peer: the messages of inv that the peer's Have does
// not show, skipping those skip reports (sent lately; nil skips nothing), most useful
// first, within limits. It is a pure function.
//
// If the peer is at inv's height, in round P (our round R), the order is: votes that
// conflict with one the peer holds (the equivocation becomes evidence there); the
// proposal of round P and, if it has a POL round, the prevotes of that round for its
// block (line 28 of the algorithm needs them); the prevotes and precommits of round P;
// if R > P, the proposal and votes of round R and the precommits of round R-1 (they
// take the peer to our round); then the precommits of any round where inv holds a
// quorum of precommits for one block, with that block's proposal (the peer can decide
// with them). For a height inv has decided (Core.LastInventory, a peer one height
// behind) only the conflicting votes and the deciding precommits and proposal are
// sent: a node keeps its last decided height's votes so that an equivocation seen by
// two nodes that both moved on is still proven, and so that a peer that lost the last
// precommits decides without block sync.
func Plan(inv *Inventory, peer *Have, skip func(ItemKey) bool, lim PlanLimits) []Message {
	if inv == nil || peer == nil || peer.Height != inv.Height || len(inv.Votes)+len(inv.Proposals) == 0 {
		return nil
	}
	var out []Message
	planned := make(map[ItemKey]bool)
	size := 0
	full := false
	add := func(m Message) {
		if full {
			return
		}
		k := KeyOf(m)
		if planned[k] || (skip != nil && skip(k)) {
			return
		}
		s := messageSize(m)
		if len(out) > 0 && (size+s > lim.Bytes || len(out) >= max(lim.Messages, 1)) {
			full = true
			return
		}
		planned[k] = true
		size += s
		out = append(out, m)
	}
	vote := func(v *Vote) {
		if same, _ := peer.HasVote(v.Round, v.Type, v.Validator, v.BlockHash); !same {
			add(Message{Vote: v})
		}
	}
	votesOf := func(r uint32, t VoteType, hash *Hash) {
		for _, v := range inv.Votes {
			if v.Round == r && v.Type == t && (hash == nil || v.BlockHash == *hash) {
				vote(v)
			}
		}
	}
	proposal := func(r uint32) *Proposal {
		for _, p := range inv.Proposals {
			if p.Round == r {
				return p
			}
		}
		return nil
	}
	sendProposal := func(r uint32) {
		p := proposal(r)
		if p == nil {
			return
		}
		if !peer.HasProposal(r) {
			add(Message{Proposal: p})
		}
		if p.POLRound >= 0 {
			h := p.BlockHash()
			votesOf(uint32(p.POLRound), Prevote, &h)
		}
	}
	// 1. Conflicts.
	for _, v := range inv.Votes {
		if same, other := peer.HasVote(v.Round, v.Type, v.Validator, v.BlockHash); other && !same {
			add(Message{Vote: v})
		}
	}
	if !inv.Decided {
		P, R := peer.Round, inv.Round
		// 2-3. The peer's round.
		sendProposal(P)
		votesOf(P, Prevote, nil)
		votesOf(P, Precommit, nil)
		// 4. Ours, if ahead.
		if R > P {
			sendProposal(R)
			votesOf(R, Prevote, nil)
			votesOf(R, Precommit, nil)
			if R-1 > P {
				votesOf(R-1, Precommit, nil)
			}
		}
	}
	// 5. Precommit quorums of any round.
	var rounds []uint32
	for _, v := range inv.Votes {
		if v.Type == Precommit && !v.BlockHash.IsZero() && (len(rounds) == 0 || rounds[len(rounds)-1] != v.Round) {
			rounds = append(rounds, v.Round)
		}
	}
	for _, r := range rounds {
		counts := make(map[Hash]int)
		var quorum *Hash
		for _, v := range inv.Votes {
			if v.Round == r && v.Type == Precommit && !v.BlockHash.IsZero() {
				counts[v.BlockHash]++
				if counts[v.BlockHash] >= inv.Quorum && quorum == nil {
					h := v.BlockHash
					quorum = &h
				}
			}
		}
		if quorum != nil {
			if p := proposal(r); p != nil && p.BlockHash() == *quorum && !peer.HasProposal(r) {
				add(Message{Proposal: p})
			}
			votesOf(r, Precommit, quorum)
		}
	}
	return out
}

// lastHeight is what the core keeps of the height it decided last: its votes and the
// proposal of the deciding round (other blocks are dropped), so that gossip can bring
// a peer one height behind what it needs to decide, and relay a vote that proves an
// equivocation after both sides moved on; a conflicting vote arriving late still
// becomes Evidence. Kept until the next decision.
type lastHeight struct {
	height   uint64
	round    uint32
	rounds   map[uint32]*roundState
	evidence map[evidenceKey]bool
}

// keepLast saves the current height's votes as the last height's, before a decision
// resets them.
func (c *Core) keepLast(decided uint32) {
	for r, rs := range c.rounds {
		if r != decided {
			rs.proposal = nil
		}
	}
	c.last = &lastHeight{height: c.height, round: c.round, rounds: c.rounds, evidence: c.evidence}
}

// Inventory returns what the core holds at its current height (nothing between a
// Commit and Advance).
func (c *Core) Inventory() Inventory {
	inv := Inventory{Height: c.height, Round: c.round, N: c.n, Quorum: c.q}
	if c.needAdvance {
		return inv
	}
	inv.Proposals, inv.Votes = collect(c.rounds)
	return inv
}

// LastInventory returns the votes (and the deciding round's proposal) the core holds of
// the height it decided last, if it decided one since it was started (a core moved on
// by SyncTo keeps none).
func (c *Core) LastInventory() (Inventory, bool) {
	if c.last == nil {
		return Inventory{}, false
	}
	inv := Inventory{Height: c.last.height, Round: c.last.round, N: c.n, Quorum: c.q, Decided: true}
	inv.Proposals, inv.Votes = collect(c.last.rounds)
	return inv, true
}

// collect lists the proposals and votes of rounds in the order Inventory documents.
func collect(rounds map[uint32]*roundState) ([]*Proposal, []*Vote) {
	keys := make([]uint32, 0, len(rounds))
	for r := range rounds {
		keys = append(keys, r)
	}
	slices.Sort(keys)
	var props []*Proposal
	var votes []*Vote
	for _, r := range keys {
		rs := rounds[r]
		if rs.proposal != nil {
			props = append(props, rs.proposal)
		}
		for t := range rs.votes {
			set := &rs.votes[t]
			for i, v := range set.byValidator {
				if v != nil {
					votes = append(votes, v)
					votes = append(votes, set.extra[i]...)
				}
			}
		}
	}
	return props, votes
}

// PastConflict reports whether v, a vote of the height decided last, conflicts with a
// vote the core holds of the same validator, round and type, and is not proven yet:
// Step then verifies it and emits Evidence. (Other messages of past heights change
// nothing, and a caller need not log or step them.) It does not check the signature.
func (c *Core) PastConflict(v *Vote) bool {
	l := c.last
	if l == nil || v.Height != l.height || int64(v.Validator) >= int64(c.n) || (v.Type != Prevote && v.Type != Precommit) {
		return false
	}
	rs := l.rounds[v.Round]
	if rs == nil {
		return false
	}
	first := rs.set(v.Type).byValidator[v.Validator]
	return first != nil && first.BlockHash != v.BlockHash && !l.evidence[evidenceKey{validator: v.Validator, round: v.Round, typ: v.Type}]
}

// pastEquivocation emits the Evidence of a verified vote PastConflict reported.
func (c *Core) pastEquivocation(v *Vote) {
	l := c.last
	first := l.rounds[v.Round].set(v.Type).byValidator[v.Validator]
	l.evidence[evidenceKey{validator: v.Validator, round: v.Round, typ: v.Type}] = true
	c.out.Evidence = append(c.out.Evidence, newEvidence(first, v))
}
