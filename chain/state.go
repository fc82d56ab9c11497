package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/urna-vote/urna/ballot"
)

// Phase is where the election stands.
type Phase uint8

// The phases, in order. The state machine only ever moves forward.
const (
	PhaseSetup   Phase = 1 // stations run the DKG on the chain
	PhaseReady   Phase = 2 // the election key is known; officials may open the polls
	PhaseOpen    Phase = 3 // ballots are counted
	PhaseClosed  Phase = 4 // stations post decryption shares
	PhaseTallied Phase = 5 // the result is on the chain
)

func (p Phase) String() string {
	switch p {
	case PhaseSetup:
		return "SETUP"
	case PhaseReady:
		return "READY"
	case PhaseOpen:
		return "OPEN"
	case PhaseClosed:
		return "CLOSED"
	case PhaseTallied:
		return "TALLIED"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// State is the root state of the election after a block: everything small
// enough to keep whole. Larger sets (used credentials, tracking codes,
// announcements, decryption shares, evidence) live in the key/value data
// (see keys.go). Bit sets are indexed by station or official index (at most
// 64 of each).
type State struct {
	_         struct{} `cbor:",toarray"`
	Height    uint64   // last applied block; 0 before the first
	BlockHash [32]byte // hash of that block; the fingerprint before the first
	Time      int64    // that block's time (Unix ms)
	StateHash [32]byte // hash of this state and of every write that led to it
	Phase     Phase

	// DKG progress: who dealt; who responded to / complained about whose
	// deal (Responded[r] bit d: station r answered dealer d); whom each dealer
	// justified; who announced a result.
	Dealt      uint64
	Responded  []uint64
	Complained []uint64
	Justified  []uint64
	Announced  uint64

	// The quorum's DKG result, once READY.
	Key *ballot.KeyAnnouncement

	// Heights at which each phase began (0 if not yet).
	ReadyHeight, OpenHeight, CloseHeight, TallyHeight uint64

	OpenApprovals, CloseApprovals uint64 // bit sets of officials

	Counted    uint64                // ballots counted
	Spoiled    uint64                // ballots challenged
	Turnout    []uint64              // ballots counted per station (where cast)
	Aggregates [][]ballot.Ciphertext // per contest, per candidate: sum of the counted selections
	Evidence   uint64                // equivocation evidence recorded

	Shared     uint64       // stations whose decryption shares are on the chain
	Result     [][]uint64   // per contest, per candidate, once TALLIED
	TallyError TallyFailure // set if t valid shares failed to decrypt (should never happen)
}

// TallyFailure says why t valid decryption shares gave no result. It is a stable code
// from the list below, never an error's text: the state is hashed, and two builds (or
// an independent verifier) must compute the same hash.
type TallyFailure string

// The tally failure codes; the empty string is no failure.
const (
	TallyShareShape    TallyFailure = "share-shape"     // the shares do not match the contests
	TallyTooFewShares  TallyFailure = "too-few-shares"  // the t shares do not combine (fewer than t usable)
	TallyNoDiscreteLog TallyFailure = "no-discrete-log" // a total is not between 0 and the ballots counted
	TallyOther         TallyFailure = "other"           // any other failure of the combination
)

// tallyFailure maps a decryption error to its code.
func tallyFailure(err error) TallyFailure {
	switch {
	case errors.Is(err, ballot.ErrShareShape):
		return TallyShareShape
	case errors.Is(err, ballot.ErrTooFewShares):
		return TallyTooFewShares
	case errors.Is(err, ballot.ErrNoDiscreteLog):
		return TallyNoDiscreteLog
	}
	return TallyOther
}

// initialState is the state before block 1.
func initialState(fp [32]byte, n int, m *ballot.Manifest) *State {
	st := &State{
		BlockHash:  fp,
		Phase:      PhaseSetup,
		Responded:  make([]uint64, n),
		Complained: make([]uint64, n),
		Justified:  make([]uint64, n),
		Turnout:    make([]uint64, n),
		Aggregates: make([][]ballot.Ciphertext, len(m.Contests)),
	}
	zero := ballot.NewAccumulator().Total()
	for ci, c := range m.Contests {
		st.Aggregates[ci] = make([]ballot.Ciphertext, len(c.Candidates))
		for si := range st.Aggregates[ci] {
			st.Aggregates[ci][si] = zero
		}
	}
	st.StateHash = sha256.Sum256(append([]byte("urna/v1/initial-state"), fp[:]...))
	return st
}

// Encode returns the canonical bytes.
func (st *State) Encode() []byte { return ballot.Marshal(st) }

// MaxStateSize bounds an encoded root state.
const MaxStateSize = 16 << 20

// DecodeState decodes a stored root state strictly.
func DecodeState(data []byte) (*State, error) {
	var st State
	if err := ballot.Unmarshal(data, &st, MaxStateSize); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &st, nil
}

// clone deep-copies the state so Apply never changes its input. It copies
// field by field (every slice, the key announcement) rather than through
// the encoding: the mempool clones the state for every transaction it
// checks. TestCloneIsADeepCopy keeps it in step with the fields.
func (st *State) clone() *State {
	c := *st
	c.Responded = slices.Clone(st.Responded)
	c.Complained = slices.Clone(st.Complained)
	c.Justified = slices.Clone(st.Justified)
	if st.Key != nil {
		k := *st.Key
		k.Qualified = slices.Clone(st.Key.Qualified)
		k.PublicShares = slices.Clone(st.Key.PublicShares)
		c.Key = &k
	}
	c.Turnout = slices.Clone(st.Turnout)
	if st.Aggregates != nil {
		c.Aggregates = make([][]ballot.Ciphertext, len(st.Aggregates))
		for i := range st.Aggregates {
			c.Aggregates[i] = slices.Clone(st.Aggregates[i])
		}
	}
	if st.Result != nil {
		c.Result = make([][]uint64, len(st.Result))
		for i := range st.Result {
			c.Result[i] = slices.Clone(st.Result[i])
		}
	}
	return &c
}

// nextStateHash chains the state hash: it covers the previous hash, this
// state (with its own hash field zero) and every key/value write of the
// block, so two stations with the same hash hold the same data.
func nextStateHash(prev [32]byte, st *State, writes []KV) [32]byte {
	saved := st.StateHash
	st.StateHash = [32]byte{}
	root := sha256.Sum256(st.Encode())
	st.StateHash = saved
	w := sha256.New()
	var n [4]byte
	for _, kv := range writes {
		binary.BigEndian.PutUint32(n[:], uint32(len(kv.Key)))
		w.Write(n[:])
		w.Write(kv.Key)
		binary.BigEndian.PutUint32(n[:], uint32(len(kv.Value)))
		w.Write(n[:])
		w.Write(kv.Value)
	}
	h := sha256.New()
	h.Write([]byte("urna/v1/state"))
	h.Write(prev[:])
	h.Write(root[:])
	h.Write(w.Sum(nil))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// KV is one key/value write of the state machine. Keys are unique and
// sorted in a block's write set.
type KV struct {
	Key, Value []byte
}

// Reader is a read-only view of the state's key/value data as of the state
// being validated against.
type Reader interface {
	// Get returns the value of key, and whether it exists.
	Get(key []byte) ([]byte, bool, error)
}

// MemKV is an in-memory Reader for tests and the offline verifier; Apply
// results can be written into it.
type MemKV struct{ m map[string][]byte }

// NewMemKV returns an empty MemKV.
func NewMemKV() *MemKV { return &MemKV{m: map[string][]byte{}} }

// Get implements Reader.
func (kv *MemKV) Get(key []byte) ([]byte, bool, error) {
	v, ok := kv.m[string(key)]
	return v, ok, nil
}

// Write applies writes (a nil Value deletes).
func (kv *MemKV) Write(writes []KV) {
	for _, w := range writes {
		if w.Value == nil {
			delete(kv.m, string(w.Key))
			continue
		}
		kv.m[string(w.Key)] = bytes.Clone(w.Value)
	}
}

// Len is the number of keys.
func (kv *MemKV) Len() int { return len(kv.m) }
