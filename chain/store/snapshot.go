package store

import (
	"fmt"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// Snapshot is a consistent read view of the store: every read sees the store
// as it was when View was called, whatever is committed afterwards. It is safe
// for concurrent use. Discard it when done: an open snapshot keeps Badger from
// dropping old versions of the keys written since. Close discards the
// snapshots still open.
type Snapshot struct {
	s    *Store
	mu   sync.Mutex
	txn  *badger.Txn
	done bool
}

// View opens a snapshot at the current head.
func (s *Store) View() (*Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("store: view: %w", ErrClosed)
	}
	snap := &Snapshot{s: s, txn: s.db.NewTransaction(false)}
	s.snapMu.Lock()
	s.snaps[snap] = struct{}{}
	s.snapMu.Unlock()
	return snap, nil
}

// Discard releases the snapshot. Later reads return ErrClosed. Calling it
// again does nothing.
func (v *Snapshot) Discard() {
	if v.discard() {
		v.s.snapMu.Lock()
		delete(v.s.snaps, v) // no-op if Close already dropped the set
		v.s.snapMu.Unlock()
	}
}

// Close is Discard, for use with defer and io.Closer; it always returns nil.
func (v *Snapshot) Close() error {
	v.Discard()
	return nil
}

// discard ends the transaction; it reports whether it was still open.
func (v *Snapshot) discard() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return false
	}
	v.txn.Discard()
	v.done = true
	return true
}

func (v *Snapshot) read(fn func(txn *badger.Txn) error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return fmt.Errorf("store: snapshot: %w", ErrClosed)
	}
	return fn(v.txn)
}

func (v *Snapshot) get(key []byte, what func() string) ([]byte, error) {
	var out []byte
	err := v.read(func(txn *badger.Txn) (err error) { out, err = getValue(txn, key, what); return err })
	v.s.trim.addRead(len(key) + len(out))
	return out, err
}

// Head returns the head as of the snapshot.
func (v *Snapshot) Head() (Head, error) {
	var h Head
	err := v.read(func(txn *badger.Txn) (err error) { h, err = readHead(txn); return err })
	v.s.trim.addRead(len(h.State))
	return h, err
}

// Block returns the block at height h as of the snapshot, or ErrNotFound.
func (v *Snapshot) Block(h uint64) ([]byte, error) {
	return v.get(heightKey(nsBlock, h), func() string { return fmt.Sprintf("block %d", h) })
}

// BlockHash returns the hash recorded with block h as of the snapshot, or ErrNotFound.
func (v *Snapshot) BlockHash(h uint64) ([32]byte, error) {
	var out [32]byte
	err := v.read(func(txn *badger.Txn) (err error) { out, err = readBlockHash(txn, h); return err })
	v.s.trim.addRead(len(out))
	return out, err
}

// Certificate returns the certificate of block h as of the snapshot, or ErrNotFound.
func (v *Snapshot) Certificate(h uint64) ([]byte, error) {
	return v.get(heightKey(nsCert, h), func() string { return fmt.Sprintf("certificate %d", h) })
}

// Get returns the state value of key as of the snapshot, or ErrNotFound.
func (v *Snapshot) Get(key []byte) ([]byte, error) {
	return v.get(prefixed(nsState, key), func() string { return "state key " + showKey(key) })
}

// GetIndex returns the index value of key as of the snapshot, or ErrNotFound.
func (v *Snapshot) GetIndex(key []byte) ([]byte, error) {
	return v.get(prefixed(nsIndex, key), func() string { return "index key " + showKey(key) })
}

// Scan calls fn for every state key starting with prefix, in key order, as of
// the snapshot, and stops at fn's first error (which it returns). key and value
// are valid only during the call. fn must not call the snapshot's methods (the
// snapshot is locked while it runs).
func (v *Snapshot) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return v.scan(nsState, prefix, fn)
}

// ScanIndex is Scan for the secondary index.
func (v *Snapshot) ScanIndex(prefix []byte, fn func(key, value []byte) error) error {
	return v.scan(nsIndex, prefix, fn)
}

func (v *Snapshot) scan(ns byte, prefix []byte, fn func(key, value []byte) error) error {
	return v.read(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixed(ns, prefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			err := item.Value(func(val []byte) error {
				// A scan reads on through the same pages: bytes, not pages.
				v.s.trim.add(int64(len(item.Key()) + len(val)))
				return fn(item.Key()[1:], val)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}
