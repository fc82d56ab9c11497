package bft

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Protocol limits. They bound what a peer can make a node store or decode.
const (
	// MaxValidators is the largest validator set the protocol accepts.
	MaxValidators = 1000
	// MaxBlockBytes is the largest block value the protocol carries. Config.MaxBlockBytes
	// may lower it for a network.
	MaxBlockBytes = 8 << 20
	// MaxMessageBytes is the largest encoded Message or Input DecodeMessage and
	// DecodeInput accept: a largest block plus a largest certificate and framing.
	MaxMessageBytes = MaxBlockBytes + 128<<10
	// MaxRound is the highest round number: rounds fit Proposal.POLRound (an int32).
	// Timeouts make reaching it take far longer than any election.
	MaxRound = 1<<31 - 1
	// MaxCertificateBytes is the largest encoded Certificate DecodeCertificate accepts.
	MaxCertificateBytes = 128 << 10
)

// Hash identifies a block value: SHA-256 of the value's bytes. The zero Hash stands
// for "nil" (no block) in votes.
type Hash [32]byte

// HashValue returns the Hash of a block value.
func HashValue(value []byte) Hash { return sha256.Sum256(value) }

// IsZero reports whether h is the nil hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns the first 8 hex digits, or "nil" for the zero hash.
func (h Hash) String() string {
	if h.IsZero() {
		return "nil"
	}
	return hex.EncodeToString(h[:4])
}

func (h Hash) less(o Hash) bool { return bytes.Compare(h[:], o[:]) < 0 }

// ValidatorSet is the fixed set of validators, all with equal voting power. The index
// of a key in Keys is that validator's ID.
type ValidatorSet struct {
	Keys []ed25519.PublicKey
}

// NewValidatorSet checks keys (not empty, at most MaxValidators, each
// ed25519.PublicKeySize bytes, no duplicates) and returns a set holding a copy of them.
func NewValidatorSet(keys []ed25519.PublicKey) (*ValidatorSet, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidValidatorSet)
	}
	if len(keys) > MaxValidators {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrInvalidValidatorSet, len(keys), MaxValidators)
	}
	seen := make(map[string]int, len(keys))
	out := make([]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: key %d has %d bytes, want %d", ErrInvalidValidatorSet, i, len(k), ed25519.PublicKeySize)
		}
		if j, dup := seen[string(k)]; dup {
			return nil, fmt.Errorf("%w: key %d duplicates key %d", ErrInvalidValidatorSet, i, j)
		}
		seen[string(k)] = i
		out[i] = bytes.Clone(k)
	}
	return &ValidatorSet{Keys: out}, nil
}

// N is the number of validators.
func (v *ValidatorSet) N() int { return len(v.Keys) }

// F is the number of Byzantine validators tolerated: (N-1)/3.
func (v *ValidatorSet) F() int { return (len(v.Keys) - 1) / 3 }

// Quorum is the number of votes that decides: 2N/3+1 (= 2f+1 when N = 3f+1). Any two
// quorums intersect in more than N/3 validators, so in at least one honest one.
func (v *ValidatorSet) Quorum() int { return 2*len(v.Keys)/3 + 1 }

// Proposer is the validator that proposes at (height, round): round robin over both, so
// the first proposer of each height rotates and a failed round moves to the next one.
func (v *ValidatorSet) Proposer(height uint64, round uint32) uint32 {
	n := uint64(len(v.Keys))
	return uint32((height%n + uint64(round)%n) % n)
}

// Index returns the ID of the validator with the given key.
func (v *ValidatorSet) Index(key ed25519.PublicKey) (uint32, bool) {
	for i, k := range v.Keys {
		if bytes.Equal(k, key) {
			return uint32(i), true
		}
	}
	return 0, false
}

func (v *ValidatorSet) key(id uint32) (ed25519.PublicKey, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: nil validator set", ErrInvalidValidatorSet)
	}
	if int64(id) >= int64(len(v.Keys)) {
		return nil, fmt.Errorf("%w: validator %d (set has %d)", ErrUnknownValidator, id, len(v.Keys))
	}
	if k := v.Keys[id]; len(k) == ed25519.PublicKeySize {
		return k, nil
	}
	// Only a set built without NewValidatorSet can get here; ed25519.Verify would panic.
	return nil, fmt.Errorf("%w: key of validator %d has %d bytes", ErrInvalidValidatorSet, id, len(v.Keys[id]))
}

// VoteType is the kind of a vote.
type VoteType uint8

// The two vote types of the algorithm.
const (
	Prevote   VoteType = 1
	Precommit VoteType = 2
)

func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("VoteType(%d)", uint8(t))
}

// Step returns the round step in which a vote of this type is cast (the step number the
// double-sign guard orders signatures by).
func (t VoteType) Step() RoundStep {
	if t == Precommit {
		return StepPrecommit
	}
	return StepPrevote
}

// RoundStep is the step of a round. Its numeric value orders signatures within a round
// for the double-sign guard: a proposal (StepPropose) is signed before the prevote,
// the prevote before the precommit.
type RoundStep uint8

// The three steps of a round.
const (
	StepPropose   RoundStep = 1
	StepPrevote   RoundStep = 2
	StepPrecommit RoundStep = 3
)

func (s RoundStep) String() string {
	switch s {
	case StepPropose:
		return "propose"
	case StepPrevote:
		return "prevote"
	case StepPrecommit:
		return "precommit"
	}
	return fmt.Sprintf("RoundStep(%d)", uint8(s))
}

// Vote is a signed prevote or precommit. Encoded as a CBOR array in field order.
type Vote struct {
	_         struct{} `cbor:",toarray"`
	Type      VoteType
	Height    uint64
	Round     uint32
	BlockHash Hash // zero Hash: a vote for nil
	Validator uint32
	Signature []byte // ed25519 over SignBytes
}

func (v *Vote) String() string {
	return fmt.Sprintf("%s h%d r%d %s by v%d", v.Type, v.Height, v.Round, v.BlockHash, v.Validator)
}

// Proposal is a signed block proposal for (Height, Round). Encoded as a CBOR array in
// field order.
type Proposal struct {
	_         struct{} `cbor:",toarray"`
	Height    uint64
	Round     uint32
	POLRound  int32  // -1, or the earlier round in which the proposer saw a polka for Block (validRound)
	Block     []byte // the proposed value, opaque to bft
	Proposer  uint32
	Signature []byte // ed25519 over SignBytes
}

// BlockHash is HashValue(p.Block).
func (p *Proposal) BlockHash() Hash { return HashValue(p.Block) }

func (p *Proposal) String() string {
	return fmt.Sprintf("proposal h%d r%d pol%d %s by v%d", p.Height, p.Round, p.POLRound, p.BlockHash(), p.Proposer)
}

// CommitSig is one validator's precommit signature inside a Certificate.
type CommitSig struct {
	_         struct{} `cbor:",toarray"`
	Validator uint32
	Signature []byte
}

// Certificate proves a block was decided: Quorum precommits of distinct validators for
// one (Height, Round, BlockHash). Signatures are sorted by Validator, strictly
// increasing. Encoded as a CBOR array in field order.
type Certificate struct {
	_          struct{} `cbor:",toarray"`
	Height     uint64
	Round      uint32
	BlockHash  Hash
	Signatures []CommitSig
}

// Decision is a decided block with its certificate. It is what Ready.Commit hands to
// the caller, and what a node sends a lagging peer (block sync).
type Decision struct {
	_           struct{} `cbor:",toarray"`
	Height      uint64
	Block       []byte
	Certificate Certificate
}

// Evidence of equivocation: two validly signed votes of one validator for the same
// height, round and type but different block hashes. A is the one with the smaller
// BlockHash, so two nodes that saw the same pair produce identical evidence.
type Evidence struct {
	_ struct{} `cbor:",toarray"`
	A Vote
	B Vote
}

func newEvidence(a, b *Vote) Evidence {
	x, y := *a, *b
	if y.BlockHash.less(x.BlockHash) {
		x, y = y, x
	}
	return Evidence{A: x, B: y}
}
