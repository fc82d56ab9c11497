// Package ledger joins the election state machine to its store: it applies
// a decided block and commits the block, its certificate, the new state and
// its writes in one storage transaction, and answers reads (state, blocks,
// tracking codes, transaction locations) from what is committed. A station
// engine, the record importer and the tools use it; the state machine and
// the store stay ignorant of each other.
package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/store"
)

// Meta keys of the node-local records a ledger keeps in its store.
const (
	metaGenesis = "genesis" // the genesis bytes this store belongs to
)

// Errors of the ledger.
var (
	ErrOtherElection = errors.New("store belongs to another election")
	ErrCertificate   = errors.New("certificate does not certify the block")
)

// Ledger is a state machine over a store. Reads and commits are safe for
// concurrent use; commits are serialised.
type Ledger struct {
	m *chain.Machine
	s *store.Store

	mu    sync.RWMutex
	state *chain.State
	// pending holds the result of validating a proposal, so that committing
	// the same block does not apply it a second time.
	pending map[[32]byte]*chain.Applied
}

// Open opens the ledger of a machine's election on a store: an empty store is
// bound to the genesis; a used one must belong to the same genesis, and its
// head state is loaded.
func Open(s *store.Store, m *chain.Machine) (*Ledger, error) {
	g := m.Genesis().Encode()
	stored, err := s.GetMeta(metaGenesis)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := s.PutMeta(metaGenesis, g); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case !bytes.Equal(stored, g):
		return nil, fmt.Errorf("%w: its genesis differs from %x…", ErrOtherElection, m.Genesis().Fingerprint())
	}
	head, err := s.Head()
	if err != nil {
		return nil, err
	}
	l := &Ledger{m: m, s: s, pending: map[[32]byte]*chain.Applied{}}
	if head.Height == 0 {
		l.state = m.InitialState()
		return l, nil
	}
	st, err := chain.DecodeState(head.State)
	if err != nil {
		return nil, fmt.Errorf("ledger: head state: %w", err)
	}
	if st.Height != head.Height || st.BlockHash != head.BlockHash {
		return nil, fmt.Errorf("%w: head state is for height %d, head is %d", store.ErrCorrupt, st.Height, head.Height)
	}
	l.state = st
	return l, nil
}

// Machine is the state machine.
func (l *Ledger) Machine() *chain.Machine { return l.m }

// Store is the store.
func (l *Ledger) Store() *store.Store { return l.s }

// State is the committed state (do not modify it).
func (l *Ledger) State() *chain.State {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.state
}

// Height is the committed height.
func (l *Ledger) Height() uint64 { return l.State().Height }

// reader adapts the store to the state machine's Reader.
type reader struct{ s *store.Store }

func (r reader) Get(k []byte) ([]byte, bool, error) { return r.s.Lookup(k) }

// Validate checks a proposed next block against the committed state and
// remembers the outcome for Commit.
func (l *Ledger) Validate(block []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.applyLocked(block)
	return err
}

func (l *Ledger) applyLocked(block []byte) (*chain.Applied, error) {
	h := bft.HashValue(block)
	if a, ok := l.pending[h]; ok && a.State.Height == l.state.Height+1 {
		return a, nil
	}
	a, err := l.m.Apply(l.state, reader{l.s}, block)
	if err != nil {
		return nil, err
	}
	if len(l.pending) > 16 { // proposals of many rounds: keep it bounded
		clear(l.pending)
	}
	l.pending[h] = a
	return a, nil
}

// Commit applies the next block and stores it with its certificate, the new
// state and its writes in one transaction. The certificate must certify this
// block at this height; the caller (consensus or block sync) has verified
// its signatures.
func (l *Ledger) Commit(block []byte, cert *bft.Certificate) (*chain.Applied, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, err := l.applyLocked(block)
	if err != nil {
		return nil, err
	}
	return a, l.commitLocked(a, block, cert)
}

// CommitApplied stores a block that the caller has already applied to the
// ledger's state (an importer that verifies as it goes).
func (l *Ledger) CommitApplied(a *chain.Applied, block []byte, cert *bft.Certificate) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.State.Height != l.state.Height+1 || a.Block.Header.PrevHash != l.state.BlockHash {
		return fmt.Errorf("ledger: applied block %d does not follow the head %d", a.State.Height, l.state.Height)
	}
	return l.commitLocked(a, block, cert)
}

func (l *Ledger) commitLocked(a *chain.Applied, block []byte, cert *bft.Certificate) error {
	if cert.Height != a.State.Height || [32]byte(cert.BlockHash) != a.Hash {
		return fmt.Errorf("%w: certificate for height %d %x…, block %d %x…", ErrCertificate, cert.Height, cert.BlockHash[:4], a.State.Height, a.Hash[:4])
	}
	c := &store.Commit{
		Height:      a.State.Height,
		BlockHash:   a.Hash,
		Block:       block,
		Certificate: bft.EncodeCertificate(cert),
		State:       a.State.Encode(),
		Writes:      toStore(a.Writes),
		Index:       toStore(a.Index),
	}
	if err := l.s.Commit(c); err != nil {
		return err
	}
	l.state = a.State
	clear(l.pending)
	return nil
}

// Reader is the committed state's key/value data, for the state machine.
func (l *Ledger) Reader() chain.Reader { return reader{l.s} }

func toStore(kvs []chain.KV) []store.KV {
	out := make([]store.KV, len(kvs))
	for i, kv := range kvs {
		out[i] = store.KV{Key: kv.Key, Value: kv.Value}
	}
	return out
}

// Block returns the canonical bytes of block h.
func (l *Ledger) Block(h uint64) ([]byte, error) { return l.s.Block(h) }

// Certificate returns the stored certificate of block h.
func (l *Ledger) Certificate(h uint64) (*bft.Certificate, error) {
	b, err := l.s.Certificate(h)
	if err != nil {
		return nil, err
	}
	c, err := bft.DecodeCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate of block %d: %w", store.ErrCorrupt, h, err)
	}
	return &c, nil
}

// Tracking looks up a tracking code; found is false when the chain does not
// know it.
func (l *Ledger) Tracking(code string) (entry *chain.TrackingEntry, found bool, err error) {
	k, err := chain.TrackingKey(code)
	if err != nil {
		return nil, false, err
	}
	v, err := l.s.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	e, err := chain.DecodeTrackingEntry(v)
	return e, err == nil, err
}

// TxLocation says where a transaction was committed; found is false when it
// was not (yet).
func (l *Ledger) TxLocation(hash [32]byte) (loc *chain.TxLocation, found bool, err error) {
	v, err := l.s.GetIndex(chain.TxIndexKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	loc, err = chain.DecodeTxLocation(v)
	return loc, err == nil, err
}

// Genesis is the genesis of the ledger's election.
func (l *Ledger) Genesis() *genesis.Genesis { return l.m.Genesis() }
