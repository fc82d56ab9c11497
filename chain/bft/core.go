package bft

import (
	"errors"
	"fmt"
	"slices"
)

// Bounds on what peers can make the core hold.
const (
	// futureRoundsPerValidator is how many rounds above the current one a validator's
	// messages may occupy. More would let one Byzantine validator fill memory with
	// rounds; fewer is enough because honest validators move one round at a time and
	// re-broadcast their latest votes.
	futureRoundsPerValidator = 2
	// nextBufferPerValidator bounds a validator's messages for the next height kept
	// until we decide the current one, of which at most nextProposalsPerValidator
	// proposals.
	nextBufferPerValidator    = 8
	nextProposalsPerValidator = 2
	// keepProposalRounds is how many rounds below the current one keep their proposal
	// (block) in memory; older ones keep only their votes. A decision in an older round
	// whose value is gone is completed by block sync.
	keepProposalRounds   = 4
	defaultKeepDecisions = 16
)

// Core is the consensus state machine of one node: Algorithm 1 of Buchman, Kwon and
// Milosevic for one height after another. It is not safe for concurrent use; one event
// loop owns it.
//
// Determinism and replay: the outputs of Start, Step, Advance and SyncTo depend only
// on the Config, the sequence of calls and the Signer's answers. Feeding the same
// inputs to a fresh core with a Signer in the same state gives the same Readys. After a
// crash, the caller starts a fresh core at the store's height + 1 and replays the WAL
// (inputs and our own logged messages) into it; our own messages come back as inputs,
// so the core regains its votes and locks even where the durable Signer, being ahead
// of the log, refuses to sign them again.
type Core struct {
	cfg      Config
	vals     *ValidatorSet
	n, f, q  int
	self     int
	maxBlock int

	started     bool
	needAdvance bool // a decision was returned; the new height starts on Advance

	height  uint64
	round   uint32
	step    RoundStep
	waiting bool   // WaitForWork: round 0 has not started its propose timer
	workFor uint64 // highest height WorkReady announced

	lockedRound, validRound int64 // -1: none
	lockedHash, validHash   Hash
	lockedValue, validValue []byte

	rounds       map[uint32]*roundState
	propRounds   []uint32 // rounds holding a proposal, ascending (for pruning)
	values       map[Hash]*value
	quorumRounds []uint32   // rounds with a precommit quorum for a block
	toCheck      []uint32   // rounds whose decision rule must be re-evaluated
	maxRound     []int64    // per validator: highest round of its verified messages at this height
	roundsDirty  bool       // maxRound changed above the current round
	futureRounds [][]uint32 // per validator: rounds above the current one holding its messages
	evidence     map[evidenceKey]bool
	ownLatest    [2]*Vote // our latest prevote and precommit of this height
	pending      *ProposalRequest
	missingValue bool // a quorum precommitted a block we do not have

	next          []Message // verified messages for bufferHeight()
	nextCount     []int
	nextProposals []int

	maxHeight  []uint64 // per validator: highest height it was seen at
	syncTarget uint64   // the network has decided heights below this
	syncSent   uint64   // the To of the last SyncRequest emitted
	missSent   bool     // a SyncRequest for a missing value was emitted at this height

	decisions []Decision  // recent decisions, ascending height
	last      *lastHeight // the votes of the height decided last, for gossip and evidence
	drops     [numDropReasons]uint64
	out       Ready

	signerOK   bool // our Signer produced one signature that verifies under our key
	ignoreLock bool // test hook: Byzantine "amnesia" and the checker's self-test
}

// New returns a core for cfg. Call Start (or Step) to begin.
func New(cfg Config) (*Core, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	vals := cfg.Validators
	n := vals.N()
	c := &Core{
		cfg:           cfg,
		vals:          vals,
		n:             n,
		f:             vals.F(),
		q:             vals.Quorum(),
		self:          cfg.Self,
		maxBlock:      cfg.MaxBlockBytes,
		maxHeight:     make([]uint64, n),
		nextCount:     make([]int, n),
		nextProposals: make([]int, n),
	}
	if c.maxBlock == 0 {
		c.maxBlock = MaxBlockBytes
	}
	if c.cfg.KeepDecisions == 0 {
		c.cfg.KeepDecisions = defaultKeepDecisions
	}
	c.resetHeight(cfg.Height)
	c.syncTarget = cfg.Height
	return c, nil
}

// resetHeight clears all per-height state for height h (round 0 not yet started).
func (c *Core) resetHeight(h uint64) {
	c.height = h
	c.round = 0
	c.step = StepPropose
	c.waiting = false
	c.lockedRound, c.validRound = -1, -1
	c.lockedHash, c.validHash = Hash{}, Hash{}
	c.lockedValue, c.validValue = nil, nil
	c.rounds = make(map[uint32]*roundState)
	c.propRounds = nil
	c.values = make(map[Hash]*value)
	c.quorumRounds = nil
	c.toCheck = nil
	c.maxRound = make([]int64, c.n)
	for i := range c.maxRound {
		c.maxRound[i] = -1
	}
	c.roundsDirty = false
	c.futureRounds = make([][]uint32, c.n)
	c.evidence = make(map[evidenceKey]bool)
	c.ownLatest = [2]*Vote{}
	c.pending = nil
	c.missingValue = false
	c.missSent = false
}

// Height is the height being decided (after a Commit: the next one).
func (c *Core) Height() uint64 { return c.height }

// Round is the current round.
func (c *Core) Round() uint32 { return c.round }

// RoundStep is the current step.
func (c *Core) RoundStep() RoundStep { return c.step }

// State is a snapshot of the core's position and locks, for status displays and tests.
type State struct {
	Height      uint64
	Round       uint32
	Step        RoundStep
	LockedRound int64 // -1 if not locked
	LockedHash  Hash
	ValidRound  int64 // -1 if no valid value
	ValidHash   Hash
	Waiting     bool // round 0 waits for work (Config.WaitForWork)
}

// State returns a snapshot of the core's state.
func (c *Core) State() State {
	return State{
		Height: c.height, Round: c.round, Step: c.step,
		LockedRound: c.lockedRound, LockedHash: c.lockedHash,
		ValidRound: c.validRound, ValidHash: c.validHash,
		Waiting: c.waiting,
	}
}

// DropCount is how many inputs were dropped for reason since New.
func (c *Core) DropCount(reason DropReason) uint64 {
	if reason >= numDropReasons {
		return 0
	}
	return c.drops[reason]
}

// PendingProposal reports the proposal request the core is waiting for, if any. After a
// WAL replay, answer this rather than the NeedProposal seen during the replay.
func (c *Core) PendingProposal() (ProposalRequest, bool) {
	if c.pending == nil {
		return ProposalRequest{}, false
	}
	return *c.pending, true
}

// Behind reports whether the node is behind: the network has decided heights From..To-1
// that this node lacks (two or more heights, or the current height's decided value is
// missing). Callers retry fetching on their own schedule while it reports true.
func (c *Core) Behind() (SyncRequest, bool) {
	if c.syncTarget >= c.height+2 || c.missingValue {
		return SyncRequest{From: c.height, To: max(c.syncTarget, c.height+1)}, true
	}
	return SyncRequest{}, false
}

// LatestVotes returns our latest signed prevote and precommit of the current height,
// for periodic re-broadcast: a peer that lost them can still complete its quorums and
// follow us into our round.
func (c *Core) LatestVotes() []Message {
	if c.needAdvance {
		return nil
	}
	var out []Message
	for _, v := range c.ownLatest {
		if v != nil {
			out = append(out, Message{Vote: v})
		}
	}
	return out
}

// CatchUpVotes returns the votes that justify our round, for an occasional
// re-broadcast: the precommits of the previous round (a quorum of them is why we left
// it) and all votes we hold for the current round. A peer left behind in an earlier
// round, because messages were lost or a validator restarted without its log and
// cannot re-send its old votes, follows us with them (lines 47 and 55). They are
// others' signed votes, relayed unchanged.
func (c *Core) CatchUpVotes() []Message {
	if c.needAdvance {
		return nil
	}
	var out []Message
	add := func(r uint32, t VoteType) {
		if rs := c.rounds[r]; rs != nil {
			for _, v := range rs.set(t).byValidator {
				if v != nil {
					out = append(out, Message{Vote: v})
				}
			}
		}
	}
	if c.round > 0 {
		add(c.round-1, Precommit)
	}
	add(c.round, Prevote)
	add(c.round, Precommit)
	return out
}

// Decision returns a recent decision (the core keeps Config.KeepDecisions of them) to
// serve a peer that is behind.
func (c *Core) Decision(height uint64) (Decision, bool) {
	for i := range c.decisions {
		if c.decisions[i].Height == height {
			return c.decisions[i], true
		}
	}
	return Decision{}, false
}

// Start begins round 0 of the configured height. Step calls it if needed.
func (c *Core) Start() Ready {
	c.start()
	return c.flush()
}

func (c *Core) start() {
	if c.started {
		return
	}
	c.started = true
	c.startRound(0)
	c.settle()
}

// Advance starts the next height after a Ready with a Commit, once the caller has
// applied the decided block (Config.Validate of the next height's blocks depends on
// it). Messages for the new height received earlier were buffered and take effect
// now; they come back in Ready.Buffered for the caller to log in the new height's WAL
// segment. Without a pending Commit it does nothing.
func (c *Core) Advance() Ready {
	if !c.needAdvance {
		return c.flush()
	}
	c.needAdvance = false
	c.startRound(0)
	c.settle()
	buf := c.next
	c.clearNext()
	for _, m := range buf {
		if c.needAdvance || m.Height() != c.height {
			continue // decided again, or left over from an older height
		}
		c.out.Buffered = append(c.out.Buffered, m)
		c.onMessage(m, true)
	}
	c.maybeSync()
	return c.flush()
}

// SyncTo moves the core past d.Height when the caller has applied blocks up to and
// including d by other means (block sync it verified itself, or its store at start).
// It verifies d's certificate and keeps d to serve peers.
func (c *Core) SyncTo(d Decision) (Ready, error) {
	if d.Height+1 < c.height {
		return c.flush(), fmt.Errorf("%w: decision h%d, core at h%d", ErrStaleSync, d.Height, c.height)
	}
	if err := d.Verify(c.cfg.ChainID, c.vals); err != nil {
		return c.flush(), err
	}
	c.remember(d)
	if d.Height+1 == c.height {
		// Already there: this only hands us the decision to serve.
		if c.needAdvance {
			return c.Advance(), nil
		}
		return c.Start(), nil
	}
	if d.Height+1 != c.bufferHeight() {
		c.clearNext()
	}
	c.last = nil // the votes of the heights skipped are not ours to gossip
	c.resetHeight(d.Height + 1)
	c.started = true
	c.needAdvance = true
	return c.Advance(), nil
}

// Step feeds one input to the core and returns what to do.
func (c *Core) Step(in Input) Ready {
	c.start()
	switch x := in.(type) {
	case Message:
		if err := checkInput(x); err != nil {
			c.dropMalformed(x, err)
			break
		}
		c.onMessage(x, false)
	case Timeout:
		c.onTimeout(x)
	case ProposalValue:
		c.onProposalValue(x)
	case WorkReady:
		c.onWorkReady(x)
	case PeerHeight:
		c.noteHeight(x.Validator, x.Height)
		c.maybeSync()
	default:
		c.drop(DropMalformed, 0, -1, 0, 0, fmt.Errorf("%w: input type %T", ErrInvalidField, in))
	}
	return c.flush()
}

func (c *Core) flush() Ready {
	r := c.out
	c.out = Ready{}
	return r
}

func (c *Core) drop(reason DropReason, kind Kind, validator int64, height uint64, round uint32, err error) {
	c.drops[reason]++
	c.out.Dropped = append(c.out.Dropped, Drop{Reason: reason, Kind: kind, Validator: validator, Height: height, Round: round, Err: err})
}

func (c *Core) dropMsg(reason DropReason, m Message, err error) {
	var validator int64 = -1
	var round uint32
	switch {
	case m.Vote != nil:
		validator, round = int64(m.Vote.Validator), m.Vote.Round
	case m.Proposal != nil:
		validator, round = int64(m.Proposal.Proposer), m.Proposal.Round
	case m.Decision != nil:
		round = m.Decision.Certificate.Round
	}
	c.drop(reason, m.Kind(), validator, m.Height(), round, err)
}

func (c *Core) dropMalformed(m Message, err error) {
	reason := DropMalformed
	if errors.Is(err, ErrTooLarge) {
		reason = DropOversized
	}
	c.dropMsg(reason, m, err)
}

// dropVerifyError maps a Verify error to its drop reason.
func (c *Core) dropVerifyError(m Message, err error) {
	reason := DropBadSignature
	switch {
	case errors.Is(err, ErrUnknownValidator):
		reason = DropUnknownValidator
	case errors.Is(err, ErrWrongProposer):
		reason = DropWrongProposer
	case errors.Is(err, ErrTooLarge):
		reason = DropOversized
	case errors.Is(err, ErrInvalidField):
		reason = DropMalformed
	case errors.Is(err, ErrBadSignature):
	default:
		reason = DropBadCertificate
	}
	c.dropMsg(reason, m, err)
}

// bufferHeight is the one height whose messages are held for later: the next height,
// or, between a Commit and Advance, the new current height.
func (c *Core) bufferHeight() uint64 {
	if c.needAdvance {
		return c.height
	}
	return c.height + 1
}

func (c *Core) clearNext() {
	c.next = nil
	clear(c.nextCount)
	clear(c.nextProposals)
}

// onMessage handles a proposal, vote or decision. verified is true for messages taken
// from the next-height buffer (checked when buffered).
func (c *Core) onMessage(m Message, verified bool) {
	switch {
	case m.Decision != nil:
		c.onDecision(m)
	case m.Proposal != nil:
		c.onProposal(m, verified)
	default:
		c.onVote(m, verified)
	}
}

// admitOther handles a message that is not for the current, started height: it returns
// true if the caller should go on processing it now.
func (c *Core) admitOther(m Message, validator uint32, verified bool, verify func() error) bool {
	h := m.Height()
	if h < c.height {
		if m.Vote != nil && c.PastConflict(m.Vote) && verify() == nil {
			c.pastEquivocation(m.Vote)
		}
		c.dropMsg(DropPastHeight, m, nil)
		return false
	}
	if h == c.height && !c.needAdvance {
		return true
	}
	if h == c.bufferHeight() && c.buffered(m) {
		c.dropMsg(DropDuplicate, m, nil) // re-broadcasts must not eat the sender's quota
		return false
	}
	if !verified {
		if err := verify(); err != nil {
			c.dropVerifyError(m, err)
			return false
		}
	}
	c.noteHeight(validator, h)
	if h == c.bufferHeight() {
		c.buffer(m, validator)
	} else {
		c.dropMsg(DropFarFuture, m, nil)
	}
	c.maybeSync()
	return false
}

// buffered reports whether the next-height buffer holds the same vote or proposal.
func (c *Core) buffered(m Message) bool {
	for _, b := range c.next {
		switch {
		case m.Vote != nil && b.Vote != nil:
			x, y := m.Vote, b.Vote
			if x.Validator == y.Validator && x.Type == y.Type && x.Round == y.Round && x.BlockHash == y.BlockHash {
				return true
			}
		case m.Proposal != nil && b.Proposal != nil:
			x, y := m.Proposal, b.Proposal
			if x.Round == y.Round && x.POLRound == y.POLRound && x.Proposer == y.Proposer && string(x.Block) == string(y.Block) {
				return true
			}
		}
	}
	return false
}

func (c *Core) buffer(m Message, validator uint32) {
	if c.nextCount[validator] >= nextBufferPerValidator ||
		(m.Proposal != nil && c.nextProposals[validator] >= nextProposalsPerValidator) {
		c.dropMsg(DropFutureBufferFull, m, nil)
		return
	}
	c.nextCount[validator]++
	if m.Proposal != nil {
		c.nextProposals[validator]++
	}
	c.next = append(c.next, m)
}

func (c *Core) onVote(m Message, verified bool) {
	v := m.Vote
	verify := func() error { return v.Verify(c.cfg.ChainID, c.vals) }
	if int64(v.Validator) >= int64(c.n) {
		c.dropMsg(DropUnknownValidator, m, fmt.Errorf("%w: validator %d", ErrUnknownValidator, v.Validator))
		return
	}
	if !c.admitOther(m, v.Validator, verified, verify) {
		return
	}
	if !verified {
		// Cheap checks first: an exact duplicate needs no signature check.
		if rs := c.rounds[v.Round]; rs != nil && rs.set(v.Type).find(v.Validator, v.BlockHash) != nil {
			c.dropMsg(DropDuplicate, m, nil)
			return
		}
		if err := verify(); err != nil {
			c.dropVerifyError(m, err)
			return
		}
	}
	if rs := c.rounds[v.Round]; rs != nil {
		set := rs.set(v.Type)
		if set.find(v.Validator, v.BlockHash) != nil {
			c.dropMsg(DropDuplicate, m, nil)
			return
		}
		if first := set.byValidator[v.Validator]; first != nil {
			c.equivocation(first, v)
			// Count it for its value too, as Algorithm 1 does, so that every honest
			// node can see the polka an equivocator took part in. Keep at most
			// maxExtraVotes such votes per validator; when full, a vote for nil or a
			// block we know replaces one for a block we do not know.
			if len(set.extra[v.Validator]) >= maxExtraVotes && !c.evictExtra(set, v) {
				c.dropMsg(DropEquivocation, m, nil)
				return
			}
		}
	}
	c.seen(v.Validator, v.Round)
	if !c.reserveRound(v.Validator, v.Round) {
		c.dropMsg(DropFutureRoundLimit, m, nil)
		c.settle()
		return
	}
	c.addVote(v)
	if int(v.Validator) == c.self {
		c.restoreOwn(v)
	}
	c.settle()
}

// restoreOwn brings the core up to a vote we signed earlier and now receive as input:
// from our WAL during a replay, or echoed by a peer. Having signed it, we were in its
// round at its step; a precommit for a block means we locked that block in that round
// (line 36 is the only rule that precommits a block). A replay may lack inputs the
// original run had (messages buffered for the next height live in the previous
// height's log), so the own message, not the replayed inputs, is the authority on
// what we committed to.
func (c *Core) restoreOwn(v *Vote) {
	if v.Round > c.round {
		c.startRound(v.Round)
	}
	if v.Round == c.round && c.step < v.Type.Step() {
		c.step = v.Type.Step()
	}
	if v.Type == Precommit && !v.BlockHash.IsZero() && int64(v.Round) > c.lockedRound {
		var block []byte
		if val := c.values[v.BlockHash]; val != nil {
			block = val.block
		}
		c.setLock(int64(v.Round), v.BlockHash, block)
		if block != nil && int64(v.Round) > c.validRound {
			c.setValid(int64(v.Round), v.BlockHash, block)
		}
	}
}

// evictExtra makes room among validator v.Validator's extra votes for v, if v is for nil
// or a known block and an extra vote is for a block we do not know.
func (c *Core) evictExtra(set *voteSet, v *Vote) bool {
	if _, known := c.values[v.BlockHash]; !known && !v.BlockHash.IsZero() {
		return false
	}
	extra := set.extra[v.Validator]
	for i, old := range extra {
		if _, known := c.values[old.BlockHash]; !known && !old.BlockHash.IsZero() {
			set.counts[old.BlockHash]--
			set.extra[v.Validator] = slices.Delete(extra, i, i+1)
			return true
		}
	}
	return false
}

// addVote stores a verified vote that is the first of its validator for its round and type.
func (c *Core) addVote(v *Vote) {
	rs := c.roundState(v.Round)
	set := rs.set(v.Type)
	if set.add(v, c.q) && v.Type == Precommit {
		c.quorumRounds = append(c.quorumRounds, v.Round)
	}
	if v.Type == Precommit {
		c.toCheck = append(c.toCheck, v.Round)
	}
	if int(v.Validator) == c.self {
		if latest := c.ownLatest[v.Type-1]; latest == nil || v.Round > latest.Round {
			c.ownLatest[v.Type-1] = v
		}
	}
}

func (c *Core) equivocation(a, b *Vote) {
	key := evidenceKey{validator: a.Validator, round: a.Round, typ: a.Type}
	if c.evidence[key] {
		return
	}
	c.evidence[key] = true
	c.out.Evidence = append(c.out.Evidence, newEvidence(a, b))
}

func (c *Core) onProposal(m Message, verified bool) {
	p := m.Proposal
	if len(p.Block) > c.maxBlock {
		c.dropMsg(DropOversized, m, fmt.Errorf("%w: block of %d bytes, limit %d", ErrTooLarge, len(p.Block), c.maxBlock))
		return
	}
	if int64(p.Proposer) >= int64(c.n) {
		c.dropMsg(DropUnknownValidator, m, fmt.Errorf("%w: validator %d", ErrUnknownValidator, p.Proposer))
		return
	}
	verify := func() error { return p.Verify(c.cfg.ChainID, c.vals) }
	if !c.admitOther(m, p.Proposer, verified, verify) {
		return
	}
	hash := p.BlockHash()
	if rs := c.rounds[p.Round]; rs != nil && rs.proposal != nil {
		if rs.propHash == hash && rs.proposal.POLRound == p.POLRound {
			c.dropMsg(DropDuplicate, m, nil)
		} else {
			c.dropMsg(DropConflictingProposal, m, nil)
		}
		return
	}
	if !verified {
		if err := verify(); err != nil {
			c.dropVerifyError(m, err)
			return
		}
	}
	c.seen(p.Proposer, p.Round)
	if uint64(p.Round)+keepProposalRounds < uint64(c.round) {
		// Too old to keep the block; its round's votes are still counted.
		c.dropMsg(DropStaleInput, m, nil)
		c.settle()
		return
	}
	if !c.reserveRound(p.Proposer, p.Round) {
		c.dropMsg(DropFutureRoundLimit, m, nil)
		c.settle()
		return
	}
	c.storeProposal(p, hash)
	c.settle()
}

func (c *Core) storeProposal(p *Proposal, hash Hash) {
	rs := c.roundState(p.Round)
	rs.proposal, rs.propHash = p, hash
	i, _ := slices.BinarySearch(c.propRounds, p.Round)
	c.propRounds = slices.Insert(c.propRounds, i, p.Round)
	val := c.values[hash]
	if val == nil {
		val = &value{block: p.Block}
		c.values[hash] = val
		// A quorum may already have precommitted this block in some round.
		c.toCheck = append(c.toCheck, c.quorumRounds...)
	}
	val.refs++
	c.toCheck = append(c.toCheck, p.Round)
}

// pruneProposals drops the blocks of rounds more than keepProposalRounds below the
// current one (their votes stay).
func (c *Core) pruneProposals() {
	for len(c.propRounds) > 0 && uint64(c.propRounds[0])+keepProposalRounds < uint64(c.round) {
		r := c.propRounds[0]
		c.propRounds = c.propRounds[1:]
		rs := c.rounds[r]
		hash := rs.propHash
		rs.proposal = nil
		if val := c.values[hash]; val != nil {
			val.refs--
			c.release(hash)
		}
	}
}

// release forgets a value no longer referenced by a kept proposal, the lock or the
// valid value.
func (c *Core) release(hash Hash) {
	val := c.values[hash]
	if val == nil || val.refs > 0 {
		return
	}
	if (c.lockedRound >= 0 && hash == c.lockedHash) || (c.validRound >= 0 && hash == c.validHash) {
		return
	}
	delete(c.values, hash)
}

func (c *Core) roundState(r uint32) *roundState {
	rs := c.rounds[r]
	if rs == nil {
		rs = newRoundState(c.n)
		c.rounds[r] = rs
	}
	return rs
}

// seen notes a verified message of validator in round r at the current height: it feeds
// the f+1 round skip and ends a WaitForWork wait.
func (c *Core) seen(validator uint32, r uint32) {
	if int64(r) > c.maxRound[validator] {
		c.maxRound[validator] = int64(r)
		if r > c.round {
			c.roundsDirty = true
		}
	}
	if int(validator) != c.self {
		c.stopWaiting()
	}
}

// reserveRound admits a message of validator for round r, allowing each validator
// messages in at most futureRoundsPerValidator rounds above the current one.
func (c *Core) reserveRound(validator uint32, r uint32) bool {
	if r <= c.round {
		return true
	}
	fr := c.futureRounds[validator]
	if slices.Contains(fr, r) {
		return true
	}
	fr = slices.DeleteFunc(fr, func(x uint32) bool { return x <= c.round })
	if len(fr) >= futureRoundsPerValidator {
		c.futureRounds[validator] = fr
		return false
	}
	c.futureRounds[validator] = append(fr, r)
	return true
}

// noteHeight records that validator was seen at height h and raises the sync target
// to the highest height that f+1 validators (so at least one honest) have reached.
func (c *Core) noteHeight(validator uint32, h uint64) {
	if int64(validator) >= int64(c.n) || h <= c.maxHeight[validator] {
		return
	}
	c.maxHeight[validator] = h
	hs := slices.Clone(c.maxHeight)
	slices.SortFunc(hs, func(a, b uint64) int { return cmpDesc(a, b) })
	c.raiseTarget(hs[c.f])
}

func cmpDesc(a, b uint64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func (c *Core) raiseTarget(t uint64) {
	if t > c.syncTarget {
		c.syncTarget = t
	}
}

// maybeSync emits a SyncRequest when the node newly finds itself behind.
func (c *Core) maybeSync() {
	req, behind := c.Behind()
	if !behind {
		return
	}
	if req.To > c.syncSent || (c.missingValue && !c.missSent) {
		c.syncSent = max(c.syncSent, req.To)
		c.missSent = c.missSent || c.missingValue
		c.out.Sync = &req
	}
}

func (c *Core) onDecision(m Message) {
	d := m.Decision
	if d.Height < c.height {
		c.dropMsg(DropStaleInput, m, nil)
		return
	}
	if len(d.Block) > c.maxBlock {
		c.dropMsg(DropOversized, m, fmt.Errorf("%w: block of %d bytes, limit %d", ErrTooLarge, len(d.Block), c.maxBlock))
		return
	}
	if err := d.Verify(c.cfg.ChainID, c.vals); err != nil {
		c.dropMsg(DropBadCertificate, m, err)
		return
	}
	if d.Height > c.height || c.needAdvance {
		// Not usable yet (we must decide the heights before it first), but it proves the
		// network is at d.Height+1: block sync fetches what lies between.
		c.raiseTarget(d.Height + 1)
		c.dropMsg(DropFarFuture, m, nil)
		c.maybeSync()
		return
	}
	hash := d.Certificate.BlockHash
	if err := c.validate(hash, d.Block); err != nil {
		c.dropMsg(DropInvalidBlock, m, err)
		return
	}
	c.decide(*d)
}

// validate returns Config.Validate's verdict on block (hash), cached per height.
func (c *Core) validate(hash Hash, block []byte) error {
	val := c.values[hash]
	if val == nil {
		val = &value{block: block}
		c.values[hash] = val
	}
	if !val.checked {
		val.checked = true
		if err := c.cfg.Validate(c.height, val.block); err != nil {
			val.err = fmt.Errorf("block %s at h%d: %w", hash, c.height, err)
		}
	}
	return val.err
}

func (c *Core) valid(hash Hash) bool {
	val := c.values[hash]
	return val != nil && c.validate(hash, val.block) == nil
}

func (c *Core) onTimeout(t Timeout) {
	if c.needAdvance || t.Height != c.height || t.Round != c.round {
		return // stale: the round it guarded is over
	}
	switch t.Step {
	case StepPropose: // OnTimeoutPropose, line 57
		if c.step == StepPropose {
			c.castVote(Prevote, Hash{})
			c.step = StepPrevote
		}
	case StepPrevote: // OnTimeoutPrevote, line 61
		if c.step == StepPrevote {
			c.castVote(Precommit, Hash{})
			c.step = StepPrecommit
		}
	case StepPrecommit: // OnTimeoutPrecommit, line 65
		if c.round < MaxRound {
			c.startRound(c.round + 1)
		}
	}
	c.settle()
}

func (c *Core) onProposalValue(x ProposalValue) {
	if c.pending == nil || c.needAdvance || x.Height != c.height || x.Round != c.round || c.step != StepPropose {
		c.drop(DropStaleInput, KindProposalValue, int64(c.self), x.Height, x.Round, nil)
		return
	}
	if len(x.Block) > c.maxBlock {
		c.drop(DropOversized, KindProposalValue, int64(c.self), x.Height, x.Round,
			fmt.Errorf("%w: block of %d bytes, limit %d", ErrTooLarge, len(x.Block), c.maxBlock))
		return
	}
	c.pending = nil
	c.stopWaiting()
	c.propose(x.Block, -1)
	c.settle()
}

func (c *Core) onWorkReady(x WorkReady) {
	if x.Height < c.height {
		c.drop(DropStaleInput, KindWorkReady, -1, x.Height, 0, nil)
		return
	}
	c.workFor = max(c.workFor, x.Height)
	if !c.needAdvance {
		c.stopWaiting()
	}
}

func (c *Core) stopWaiting() {
	if !c.waiting || c.needAdvance {
		return
	}
	c.waiting = false
	if c.round == 0 && c.step == StepPropose {
		c.schedule(StepPropose)
	}
}

func (c *Core) schedule(step RoundStep) {
	c.out.Timers = append(c.out.Timers, Timeout{Height: c.height, Round: c.round, Step: step, Duration: c.cfg.Timeouts.Duration(step, c.round)})
}

// startRound is StartRound of Algorithm 1 (line 11).
func (c *Core) startRound(r uint32) {
	c.round = r
	c.step = StepPropose
	c.pending = nil
	c.roundsDirty = false
	for v, fr := range c.futureRounds {
		c.futureRounds[v] = slices.DeleteFunc(fr, func(x uint32) bool { return x <= r })
	}
	c.pruneProposals()
	if c.self >= 0 && int(c.vals.Proposer(c.height, r)) == c.self {
		if c.validRound >= 0 {
			c.propose(c.validValue, int32(c.validRound))
		} else {
			c.pending = &ProposalRequest{Height: c.height, Round: r}
			req := *c.pending
			c.out.NeedProposal = &req
		}
	}
	if r == 0 && c.cfg.WaitForWork && c.workFor < c.height {
		c.waiting = true
		return
	}
	c.waiting = false
	// Unlike the paper, the proposer also runs the propose timer: its block is built
	// outside the core and may never come.
	c.schedule(StepPropose)
}

// propose signs and broadcasts our proposal of block for the current round. With a POL
// round it also relays the prevotes that justify it, so that peers who missed them can
// accept the re-proposal (line 28 needs them).
func (c *Core) propose(block []byte, polRound int32) {
	hash := HashValue(block)
	rs := c.roundState(c.round)
	if rs.proposal != nil {
		// Already proposed in this round (our own proposal came back from the WAL).
		if rs.propHash == hash && rs.proposal.POLRound == polRound {
			c.emit(Message{Proposal: rs.proposal})
		} else {
			c.drop(DropOwnConflict, KindProposal, int64(c.self), c.height, c.round, nil)
		}
		return
	}
	p := &Proposal{Height: c.height, Round: c.round, POLRound: polRound, Block: block, Proposer: uint32(c.self)}
	if err := c.cfg.Signer.SignProposal(c.cfg.ChainID, p); err != nil {
		c.drop(DropSignerRefused, KindProposal, int64(c.self), c.height, c.round, err)
		return
	}
	if err := c.checkSigner(func() error { return p.Verify(c.cfg.ChainID, c.vals) }); err != nil {
		c.drop(DropSignerRefused, KindProposal, int64(c.self), c.height, c.round, err)
		return
	}
	c.storeProposal(p, hash)
	c.emit(Message{Proposal: p})
	if polRound >= 0 {
		if pr := c.rounds[uint32(polRound)]; pr != nil {
			for _, v := range pr.set(Prevote).votesFor(hash) {
				c.emit(Message{Vote: v}) // our own old prevote too: peers may lack it
			}
		}
	}
}

// castVote signs and broadcasts our vote of type t for hash in the current round. It
// never signs a second, different vote for a (round, type) it already voted in.
func (c *Core) castVote(t VoteType, hash Hash) {
	if c.self < 0 {
		return
	}
	rs := c.roundState(c.round)
	if old := rs.set(t).byValidator[c.self]; old != nil {
		if old.BlockHash == hash {
			c.emit(Message{Vote: old})
		} else {
			c.drop(DropOwnConflict, KindVote, int64(c.self), c.height, c.round,
				fmt.Errorf("%s r%d: already voted %s, not signing %s", t, c.round, old.BlockHash, hash))
		}
		return
	}
	v := &Vote{Type: t, Height: c.height, Round: c.round, BlockHash: hash, Validator: uint32(c.self)}
	if err := c.cfg.Signer.SignVote(c.cfg.ChainID, v); err != nil {
		c.drop(DropSignerRefused, KindVote, int64(c.self), c.height, c.round, err)
		return
	}
	if err := c.checkSigner(func() error { return v.Verify(c.cfg.ChainID, c.vals) }); err != nil {
		c.drop(DropSignerRefused, KindVote, int64(c.self), c.height, c.round, err)
		return
	}
	c.addVote(v)
	c.emit(Message{Vote: v})
}

// checkSigner verifies our first signature: a Signer holding another validator's key
// (a misconfigured station) shows up at once as DropSignerRefused and sends nothing.
// Later signatures come from the same key and are not re-verified.
func (c *Core) checkSigner(verify func() error) error {
	if c.signerOK {
		return nil
	}
	if err := verify(); err != nil {
		return fmt.Errorf("our signer's signature does not verify as validator %d: %w", c.self, err)
	}
	c.signerOK = true
	return nil
}

func (c *Core) emit(m Message) { c.out.Messages = append(c.out.Messages, m) }

// settle applies the rules of Algorithm 1 until none fires: decisions (line 49) for any
// round touched, the f+1 round skip (line 55), then the rules of the current round.
func (c *Core) settle() {
	for !c.needAdvance {
		if c.checkDecisions() {
			continue
		}
		if c.trySkip() {
			continue
		}
		if !c.progress() {
			return
		}
	}
}

// checkDecisions evaluates line 49 for every round queued in toCheck.
func (c *Core) checkDecisions() bool {
	for len(c.toCheck) > 0 && !c.needAdvance {
		r := c.toCheck[0]
		c.toCheck = c.toCheck[1:]
		if c.tryDecide(r) {
			return true
		}
	}
	return false
}

// tryDecide is line 49: a quorum of precommits for a block in round r, and the block
// (from any proposal: its hash binds it), decides it.
func (c *Core) tryDecide(r uint32) bool {
	rs := c.rounds[r]
	if rs == nil || !rs.votes[1].quorumSeen {
		return false
	}
	hash := rs.votes[1].quorumHash
	val := c.values[hash]
	if val == nil {
		if !c.missingValue {
			c.missingValue = true
			c.maybeSync()
		}
		return false
	}
	if !c.valid(hash) {
		// A quorum precommitted a block we find invalid: Validate is not deterministic
		// or more than f validators are faulty. Never decide it; say so.
		c.drop(DropInvalidBlock, KindVote, -1, c.height, r, val.err)
		return false
	}
	cert := Certificate{Height: c.height, Round: r, BlockHash: hash}
	for _, v := range rs.votes[1].votesFor(hash) {
		cert.Signatures = append(cert.Signatures, CommitSig{Validator: v.Validator, Signature: v.Signature})
	}
	c.decide(Decision{Height: c.height, Block: val.block, Certificate: cert})
	return true
}

func (c *Core) decide(d Decision) {
	c.keepLast(d.Certificate.Round)
	c.remember(d)
	c.out.Commit = &d
	c.resetHeight(d.Height + 1)
	c.needAdvance = true
	c.maybeSync()
}

func (c *Core) remember(d Decision) {
	if n := len(c.decisions); n > 0 && c.decisions[n-1].Height >= d.Height {
		return
	}
	c.decisions = append(c.decisions, d)
	if extra := len(c.decisions) - c.cfg.KeepDecisions; extra > 0 {
		c.decisions = slices.Delete(c.decisions, 0, extra)
	}
}

// trySkip is line 55: f+1 validators in a higher round mean at least one honest one is
// there, so we go there too. We use each validator's highest round, so the skip lands
// on the highest round that f+1 validators have reached.
func (c *Core) trySkip() bool {
	if !c.roundsDirty {
		return false
	}
	c.roundsDirty = false
	rs := slices.Clone(c.maxRound)
	slices.SortFunc(rs, func(a, b int64) int { return cmpDesc(uint64(a+1), uint64(b+1)) })
	target := rs[c.f]
	if target > int64(c.round) {
		c.startRound(uint32(target))
		return true
	}
	return false
}

// progress applies one rule of the current round (lines 22, 28, 34, 36, 44, 47) and
// reports whether the state changed.
func (c *Core) progress() bool {
	rs := c.roundState(c.round)
	prop := rs.proposal
	hash := rs.propHash
	prevotes, precommits := &rs.votes[0], &rs.votes[1]
	switch c.step {
	case StepPropose:
		if prop == nil {
			break
		}
		if prop.POLRound == -1 { // line 22
			if c.valid(hash) && (c.lockedRound == -1 || c.lockedHash == hash || c.ignoreLock) {
				c.castVote(Prevote, hash)
			} else {
				c.castVote(Prevote, Hash{})
			}
			c.step = StepPrevote
			return true
		}
		vr := uint32(prop.POLRound)
		if pol := c.rounds[vr]; pol != nil && pol.votes[0].counts[hash] >= c.q { // line 28
			if c.valid(hash) && (c.lockedRound <= int64(vr) || c.lockedHash == hash || c.ignoreLock) {
				c.castVote(Prevote, hash)
			} else {
				c.castVote(Prevote, Hash{})
			}
			c.step = StepPrevote
			return true
		}
	case StepPrevote:
		if !rs.prevoteTimerSet && prevotes.total >= c.q { // line 34
			rs.prevoteTimerSet = true
			c.schedule(StepPrevote)
		}
		if prevotes.counts[Hash{}] >= c.q { // line 44
			c.castVote(Precommit, Hash{})
			c.step = StepPrecommit
			return true
		}
	}
	// line 36
	if c.step >= StepPrevote && !rs.polkaDone && prop != nil && prevotes.counts[hash] >= c.q && c.valid(hash) {
		rs.polkaDone = true
		if c.step == StepPrevote {
			c.setLock(int64(c.round), hash, prop.Block)
			c.castVote(Precommit, hash)
			c.step = StepPrecommit
		}
		c.setValid(int64(c.round), hash, prop.Block)
		return true
	}
	if !rs.precommitTimerSet && precommits.total >= c.q { // line 47
		rs.precommitTimerSet = true
		c.schedule(StepPrecommit)
	}
	return false
}

func (c *Core) setLock(r int64, hash Hash, block []byte) {
	old := c.lockedHash
	c.lockedRound, c.lockedHash, c.lockedValue = r, hash, block
	if old != hash {
		c.release(old)
	}
}

func (c *Core) setValid(r int64, hash Hash, block []byte) {
	old := c.validHash
	c.validRound, c.validHash, c.validValue = r, hash, block
	if old != hash {
		c.release(old)
	}
}
