package bft

// Per-round bookkeeping. Everything is indexed by validator ID or looked up by key;
// nothing that reaches an output depends on map iteration order.

// voteSet holds the votes of one (height, round, type). Algorithm 1 counts, for each
// value, the distinct validators that voted for it. An equivocating validator can
// therefore count for two values, as in the paper; that is safe (two quorums for
// different values would need more than f equivocators) and needed for liveness (every
// honest node must be able to see the same polka). To bound memory, at most
// maxExtraVotes votes beyond its first are kept per validator.
type voteSet struct {
	byValidator []*Vote      // first vote of each validator
	extra       [][]*Vote    // further, conflicting votes of equivocating validators
	total       int          // validators that voted
	counts      map[Hash]int // validators per block hash (the zero hash counts nil votes)
	quorumHash  Hash         // the first non-nil hash to reach a quorum, if quorumSeen
	quorumSeen  bool
}

// maxExtraVotes bounds the conflicting votes kept per validator, round and type.
const maxExtraVotes = 4

func newVoteSet(n int) voteSet {
	return voteSet{byValidator: make([]*Vote, n), extra: make([][]*Vote, n), counts: make(map[Hash]int, 2)}
}

// find returns validator's vote for hash, if any.
func (s *voteSet) find(validator uint32, hash Hash) *Vote {
	if v := s.byValidator[validator]; v != nil && v.BlockHash == hash {
		return v
	}
	for _, v := range s.extra[validator] {
		if v.BlockHash == hash {
			return v
		}
	}
	return nil
}

// add records v, a vote of a validator not yet counted for v.BlockHash, and reports
// whether its hash just reached quorum q.
func (s *voteSet) add(v *Vote, q int) bool {
	if s.byValidator[v.Validator] == nil {
		s.byValidator[v.Validator] = v
		s.total++
	} else {
		s.extra[v.Validator] = append(s.extra[v.Validator], v)
	}
	s.counts[v.BlockHash]++
	if s.counts[v.BlockHash] == q && !v.BlockHash.IsZero() && !s.quorumSeen {
		s.quorumHash, s.quorumSeen = v.BlockHash, true
		return true
	}
	return false
}

// votesFor returns the votes for hash, one per validator, in validator order.
func (s *voteSet) votesFor(hash Hash) []*Vote {
	var out []*Vote
	for i := range s.byValidator {
		if v := s.find(uint32(i), hash); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// roundState is what the core knows about one round of the current height.
type roundState struct {
	proposal *Proposal // the first valid proposal from the round's proposer
	propHash Hash
	votes    [2]voteSet // [0] prevotes, [1] precommits

	// "for the first time" flags of Algorithm 1.
	prevoteTimerSet   bool // line 34
	precommitTimerSet bool // line 47
	polkaDone         bool // line 36
}

func newRoundState(n int) *roundState {
	return &roundState{votes: [2]voteSet{newVoteSet(n), newVoteSet(n)}}
}

func (rs *roundState) set(t VoteType) *voteSet { return &rs.votes[t-1] }

// value is a block value known at the current height, with its cached validity.
type value struct {
	block   []byte
	refs    int // stored proposals that carry it
	checked bool
	err     error
}

// evidenceKey identifies one (validator, round, type) of the current height: at most
// one Evidence is emitted for it.
type evidenceKey struct {
	validator uint32
	round     uint32
	typ       VoteType
}
