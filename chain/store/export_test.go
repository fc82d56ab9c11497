package store

import (
	"log/slog"

	badger "github.com/dgraph-io/badger/v4"
)

// Test-only access to the store's internals: the failure hook, raw Badger
// writes (to make the inconsistent stores Open must detect), key names and the
// head record codec.

// SetFailAt installs the failure hook: f is called with each write step's name
// ("block", "hash", "certificate", "state", "write N", "index N", "head",
// "commit", "committed", or "meta") and an error from it aborts there.
func SetFailAt(s *Store, f func(step string) error) { s.failAt = f }

// RawSet writes key=value straight into Badger, bypassing every check.
func RawSet(s *Store, key, value []byte) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) })
}

// RawDelete deletes key straight from Badger.
func RawDelete(s *Store, key []byte) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key) })
}

// RawGet reads key straight from Badger (nil, false if absent).
func RawGet(s *Store, key []byte) ([]byte, bool) {
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, err == nil
}

// RawHeights lists the heights that have a record in a per-height namespace
// ('b' blocks, 'h' hashes, 'c' certificates), in order.
func RawHeights(s *Store, ns byte) []uint64 {
	var out []uint64
	_ = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{ns}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			h, _ := parseHeightKey(ns, it.Item().Key())
			out = append(out, h)
		}
		return nil
	})
	return out
}

// Namespaces and keys, for tests that write raw records.
const (
	NsBlock = nsBlock
	NsHash  = nsHash
	NsCert  = nsCert
)

func BlockKey(h uint64) []byte { return heightKey(nsBlock, h) }
func HashKey(h uint64) []byte  { return heightKey(nsHash, h) }
func CertKey(h uint64) []byte  { return heightKey(nsCert, h) }
func StateKey(k []byte) []byte { return prefixed(nsState, k) }
func IndexKey(k []byte) []byte { return prefixed(nsIndex, k) }

var (
	HeadKey = headKey
	RootKey = rootKey
)

// HeadRecord mirrors headRecord for tests.
type HeadRecord = headRecord

var DecodeHead = decodeHead

func EncodeHead(r HeadRecord) []byte { return r.encode() }

const HeadRecordLen = headRecordLen

// BadgerLogger returns the adapter Open gives Badger.
func BadgerLogger(l *slog.Logger) interface {
	Errorf(string, ...any)
	Warningf(string, ...any)
	Infof(string, ...any)
	Debugf(string, ...any)
} {
	return badgerLogger{l}
}

// OpenUnchecked opens the Badger database of a store without Open's checks,
// to look at a store Open refuses.
func OpenUnchecked(dir string, opts Options) (*Store, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	db, err := badger.Open(o.badgerOptions(dir))
	if err != nil {
		return nil, err
	}
	return &Store{db: db, log: o.Logger, opts: o, limits: limitsFor(o), snaps: map[*Snapshot]struct{}{}}, nil
}

// BadgerOptions returns the Badger options Open would use.
func BadgerOptions(dir string, opts Options) (badger.Options, error) {
	o, err := opts.resolved()
	if err != nil {
		return badger.Options{}, err
	}
	return o.badgerOptions(dir), nil
}

// TrimStats returns how many trims the store's trimmer has done and the bytes
// of mappings they advised; zeros when trimming is off.
func TrimStats(s *Store) (trims, paged int64) {
	if s.trim == nil {
		return 0, 0
	}
	return s.trim.trims.Load(), s.trim.paged.Load()
}

// Trimming reports whether the store has a trimmer that has not given up.
func Trimming(s *Store) bool { return s.trim != nil && !s.trim.off.Load() }

// MapsDir is the store directory as /proc/self/maps names its files.
var MapsDir = mapsDir
