package bft_test

import (
	"fmt"
	"maps"
	"slices"

	"github.com/urna-vote/urna/chain/bft"
)

// lockChecker checks Tendermint's locking rules on every honest node at every step of
// a simulation, from the outside: from what each node was fed, what it logged and what
// it sent, not from the core's own bookkeeping. A node's lock at a height, as its peers
// see it, is its highest-round precommit for a block that left it.
//
//   - prevote: an honest node prevotes a block v in round r only for a proposal of
//     round r with value v that is valid and either has no POL round (and the node is
//     not locked, or locked on v) or has POL round vr < r with 2f+1 prevotes for v in
//     vr that the node received, and the node's lock round is ≤ vr or its lock is v;
//   - precommit: it precommits v in round r only with 2f+1 prevotes for v in r received;
//   - rounds: it moves to a higher round of a height only on its precommit timeout (to
//     the next round), on f+1 validators seen at that round or above, or on its own
//     vote of that round read back from its WAL;
//   - the core's lock round never goes down within a life, and a core that was fed (or
//     produced) its own precommit for a block in round r is locked at round r or later;
//   - after a restart (the WAL replayed), the core holds at least the lock it had sent.
//
// A node whose WAL was wiped forgets its lock legitimately (the simulator counts it
// among the f faulty): its earlier precommits no longer count as its lock.
type lockChecker struct {
	c        *checker
	vals     *bft.ValidatorSet
	f, q     int
	verified map[string]bool // sign bytes + signature → verifies
	nodes    []*nodeLocks
}

type nodeLocks struct {
	know    knowledge
	sent    map[uint64]map[uint32]bft.Hash // height → round → block of a precommit sent
	checked map[string]bool                // own messages already checked at send
	// This life of the node (since its last boot).
	lifeHeight uint64
	lifeLock   int64 // the core's lock round after the last call
	lifeOwnPC  int64 // highest round of own precommits for a block the core processed
	lifeRound  uint32
}

// knowledge is what a node has received or produced: every validly signed vote and
// proposal fed to it or made by it, kept across its restarts (more than its core may
// hold after a restart, which only makes the checks more lenient).
type knowledge struct {
	prevotes  map[voteKey]map[uint32]*bft.Vote // (h, r, block) → validator → its prevote
	proposals map[[2]uint64][]*bft.Proposal    // (h, r) → proposals
	maxRound  map[uint64][]int64               // h → validator → highest round seen
}

type voteKey struct {
	height uint64
	round  uint32
	hash   bft.Hash
}

func newLockChecker(c *checker, vals *bft.ValidatorSet, n int) *lockChecker {
	lc := &lockChecker{c: c, vals: vals, f: vals.F(), q: vals.Quorum(), verified: make(map[string]bool)}
	for range n {
		lc.nodes = append(lc.nodes, &nodeLocks{
			know: knowledge{prevotes: map[voteKey]map[uint32]*bft.Vote{}, proposals: map[[2]uint64][]*bft.Proposal{},
				maxRound: map[uint64][]int64{}},
			sent: map[uint64]map[uint32]bft.Hash{}, checked: map[string]bool{},
		})
	}
	return lc
}

func (lc *lockChecker) know(node int) *knowledge { return &lc.nodes[node].know }

// valid reports whether a message's signature verifies (cached: each distinct message
// is verified once per run).
func (lc *lockChecker) valid(m bft.Message) bool {
	var key string
	var verify func() error
	switch {
	case m.Vote != nil:
		key = "v" + string(m.Vote.SignBytes(testChainID)) + string(m.Vote.Signature)
		verify = func() error { return m.Vote.Verify(testChainID, lc.vals) }
	case m.Proposal != nil:
		key = fmt.Sprintf("p%d/%x/%x", m.Proposal.Proposer, m.Proposal.SignBytes(testChainID), m.Proposal.Signature)
		verify = func() error { return m.Proposal.Verify(testChainID, lc.vals) }
	default:
		return false
	}
	ok, done := lc.verified[key]
	if !done {
		ok = verify() == nil
		lc.verified[key] = ok
	}
	return ok
}

// learn records a message node received (trusted false: its signature is checked) or
// produced itself (trusted).
func (lc *lockChecker) learn(node int, m bft.Message, trusted bool) {
	if (m.Vote == nil && m.Proposal == nil) || (!trusted && !lc.valid(m)) {
		return
	}
	k := &lc.nodes[node].know
	var h uint64
	var r uint32
	var validator uint32
	switch {
	case m.Vote != nil:
		v := m.Vote
		h, r, validator = v.Height, v.Round, v.Validator
		if v.Type == bft.Prevote {
			key := voteKey{v.Height, v.Round, v.BlockHash}
			if k.prevotes[key] == nil {
				k.prevotes[key] = map[uint32]*bft.Vote{}
			}
			k.prevotes[key][v.Validator] = v
		}
	case m.Proposal != nil:
		p := m.Proposal
		h, r, validator = p.Height, p.Round, p.Proposer
		key := [2]uint64{p.Height, uint64(p.Round)}
		if !slices.ContainsFunc(k.proposals[key], func(q *bft.Proposal) bool {
			return q.POLRound == p.POLRound && string(q.Block) == string(p.Block)
		}) {
			k.proposals[key] = append(k.proposals[key], p)
		}
	}
	rounds := k.maxRound[h]
	if rounds == nil {
		rounds = make([]int64, len(lc.nodes))
		for i := range rounds {
			rounds[i] = -1
		}
		k.maxRound[h] = rounds
	}
	if int(validator) < len(rounds) && int64(r) > rounds[validator] {
		rounds[validator] = int64(r)
	}
}

func (k *knowledge) prevoteCount(h uint64, r uint32, hash bft.Hash) int {
	return len(k.prevotes[voteKey{h, r, hash}])
}

// oldestPolka returns the lowest round below r in which the node saw a quorum of
// prevotes for a block whose proposal it has, with the block and those prevotes (for
// a Byzantine proposer re-proposing a stale polka).
func (k *knowledge) oldestPolka(h uint64, r uint32, q int) (uint32, []byte, []*bft.Vote, bool) {
	for vr := uint32(0); vr < r; vr++ {
		for _, p := range k.proposals[[2]uint64{h, uint64(vr)}] {
			votes := k.prevotes[voteKey{h, vr, p.BlockHash()}]
			if len(votes) < q {
				continue
			}
			ids := slices.Sorted(maps.Keys(votes))
			out := make([]*bft.Vote, len(ids))
			for i, id := range ids {
				out[i] = votes[id]
			}
			return vr, p.Block, out, true
		}
	}
	return 0, nil, nil, false
}

// lockBelow is the node's lock as its peers see it, from precommits sent in rounds
// below r: the round (-1 if none) and the block.
func (nl *nodeLocks) lockBelow(h uint64, r uint32) (int64, bft.Hash) {
	lr, lh := int64(-1), bft.Hash{}
	for round, hash := range nl.sent[h] {
		if round < r && int64(round) > lr {
			lr, lh = int64(round), hash
		}
	}
	return lr, lh
}

// sent checks one of node's own messages as it leaves.
func (lc *lockChecker) sent(node int, m bft.Message) {
	if m.Vote == nil || int(m.Vote.Validator) != node {
		return
	}
	nl := lc.nodes[node]
	v := m.Vote
	key := string(v.SignBytes(testChainID))
	if nl.checked[key] {
		return // a re-send of a message already checked
	}
	nl.checked[key] = true
	if v.BlockHash.IsZero() {
		return
	}
	k := &nl.know
	switch v.Type {
	case bft.Prevote:
		lr, lh := nl.lockBelow(v.Height, v.Round)
		ok := false
		for _, p := range k.proposals[[2]uint64{v.Height, uint64(v.Round)}] {
			if p.BlockHash() != v.BlockHash || testValidate(v.Height, p.Block) != nil {
				continue
			}
			if p.POLRound < 0 {
				ok = ok || lr < 0 || lh == v.BlockHash
				continue
			}
			vr := uint32(p.POLRound)
			if vr < v.Round && k.prevoteCount(v.Height, vr, v.BlockHash) >= lc.q && (lr <= int64(vr) || lh == v.BlockHash) {
				ok = true
			}
		}
		if !ok {
			lc.c.fail("locking: honest v%d prevoted %s at h%d r%d, locked on %s since round %d, without a proposal that justifies it (proposals it had: %s)",
				node, v.BlockHash, v.Height, v.Round, lh, lr, describeProposals(k, v.Height, v.Round, lc.q))
		}
	case bft.Precommit:
		if n := k.prevoteCount(v.Height, v.Round, v.BlockHash); n < lc.q {
			lc.c.fail("locking: honest v%d precommitted %s at h%d r%d with %d prevotes for it, fewer than 2f+1 = %d",
				node, v.BlockHash, v.Height, v.Round, n, lc.q)
		}
		if nl.sent[v.Height] == nil {
			nl.sent[v.Height] = map[uint32]bft.Hash{}
		}
		nl.sent[v.Height][v.Round] = v.BlockHash
	}
}

func describeProposals(k *knowledge, h uint64, r uint32, q int) string {
	out := ""
	for _, p := range k.proposals[[2]uint64{h, uint64(r)}] {
		pol := ""
		if p.POLRound >= 0 {
			pol = fmt.Sprintf(" %d POL prevotes", k.prevoteCount(h, uint32(p.POLRound), p.BlockHash()))
		}
		out += "[" + p.String() + pol + "]"
	}
	if out == "" {
		return "none"
	}
	return out
}

// newLife starts a node's new life (a boot).
func (lc *lockChecker) newLife(node int) {
	nl := lc.nodes[node]
	nl.lifeHeight, nl.lifeLock, nl.lifeOwnPC, nl.lifeRound = 0, -1, -1, 0
}

// wiped records that node lost its whole WAL: what it sent before no longer binds it.
func (lc *lockChecker) wiped(node int) {
	clear(lc.nodes[node].sent)
}

// afterCall checks the core of node after each call the driver made of it.
func (lc *lockChecker) afterCall(node int, core *bft.Core, in bft.Input, rd bft.Ready, replaying bool) {
	nl := lc.nodes[node]
	st := core.State()
	if st.Height != nl.lifeHeight {
		nl.lifeHeight, nl.lifeLock, nl.lifeOwnPC, nl.lifeRound = st.Height, -1, -1, 0
	}
	own := func(m bft.Message) {
		if v := m.Vote; v != nil && int(v.Validator) == node && v.Type == bft.Precommit && !v.BlockHash.IsZero() && v.Height == st.Height {
			nl.lifeOwnPC = max(nl.lifeOwnPC, int64(v.Round))
			if st.LockedRound == int64(v.Round) && st.LockedHash != v.BlockHash {
				lc.c.fail("locking: v%d at h%d is locked on %s in round %d, but its own precommit of that round is for %s",
					node, st.Height, st.LockedHash, st.LockedRound, v.BlockHash)
			}
		}
	}
	if m, ok := in.(bft.Message); ok {
		own(m)
	}
	for _, m := range rd.Messages {
		own(m)
	}
	if st.LockedRound < nl.lifeLock {
		lc.c.fail("locking: v%d's lock went back from round %d to round %d at h%d", node, nl.lifeLock, st.LockedRound, st.Height)
	}
	if st.LockedRound < nl.lifeOwnPC {
		lc.c.fail("locking: v%d processed its own precommit for a block in round %d at h%d but is locked only at round %d",
			node, nl.lifeOwnPC, st.Height, st.LockedRound)
	}
	if st.Round > nl.lifeRound && rd.Commit == nil {
		lc.checkRoundMove(node, st.Height, nl.lifeRound, st.Round, in)
	}
	nl.lifeLock, nl.lifeRound = st.LockedRound, st.Round
}

// checkRoundMove checks why a node went from round from to round to at height h.
func (lc *lockChecker) checkRoundMove(node int, h uint64, from, to uint32, in bft.Input) {
	if t, ok := in.(bft.Timeout); ok && t.Step == bft.StepPrecommit && t.Height == h && t.Round == from && to == from+1 {
		return
	}
	if m, ok := in.(bft.Message); ok && m.Vote != nil && int(m.Vote.Validator) == node && m.Vote.Round == to {
		return // its own vote of that round, read back
	}
	at := 0
	for _, r := range lc.nodes[node].know.maxRound[h] {
		if r >= int64(to) {
			at++
		}
	}
	if at < lc.f+1 {
		lc.c.fail("rounds: v%d moved from round %d to round %d at h%d on %T with only %d validators seen at round %d or above (f+1 = %d)",
			node, from, to, h, in, at, to, lc.f+1)
	}
}

// booted checks a node whose WAL was just replayed: it holds the lock it had sent.
func (lc *lockChecker) booted(node int, core *bft.Core) {
	nl := lc.nodes[node]
	st := core.State()
	lr, lh := nl.lockBelow(st.Height, ^uint32(0))
	if lr < 0 {
		return
	}
	if st.LockedRound < lr || (st.LockedRound == lr && st.LockedHash != lh) {
		lc.c.fail("locking: v%d restarted at h%d locked on %s in round %d, but before the crash it had sent a precommit for %s in round %d",
			node, st.Height, st.LockedHash, st.LockedRound, lh, lr)
	}
}
