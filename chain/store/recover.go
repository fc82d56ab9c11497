package store

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// perHeight are the namespaces with one key per block, and the names used for
// them in errors and logs.
var perHeight = []struct {
	ns   byte
	name string
}{
	{nsBlock, "block"},
	{nsHash, "block hash"},
	{nsCert, "certificate"},
}

// recover checks the store on Open. One Badger transaction per commit means an
// interrupted commit leaves nothing behind, so anything found here is either
// one block's records above the head (which only a bug or a hand-made store
// can leave, and which no caller was ever told is committed: they are rolled
// back) or damage, which is refused with ErrCorrupt and a description.
func (s *Store) recover() error {
	var leftovers []uint64 // namespaces (by index in perHeight) with a record at head+1
	var head uint64
	err := s.db.View(func(txn *badger.Txn) error {
		rec, ok, err := readHeadRecord(txn)
		if err != nil {
			return err
		}
		if ok {
			head = rec.Height
		}
		for i, p := range perHeight {
			n, err := scanHeights(txn, p.ns, p.name)
			if err != nil {
				return err
			}
			switch {
			case n < head:
				return fmt.Errorf("%w: head is at %d but %s %d is missing", ErrCorrupt, head, p.name, n+1)
			case n == head+1:
				leftovers = append(leftovers, uint64(i))
			case n > head+1:
				return fmt.Errorf("%w: head is at %d but there are %s records up to %d: "+
					"more than one interrupted commit can leave", ErrCorrupt, head, p.name, n)
			}
		}
		if !ok {
			return checkNoState(txn)
		}
		return checkHead(txn, rec)
	})
	if err != nil {
		return err
	}
	if len(leftovers) > 0 {
		return s.rollBack(head+1, leftovers)
	}
	return nil
}

// scanHeights checks that namespace ns holds exactly the heights 1..n, and
// returns n. It reads keys only, so it never touches the value log.
func scanHeights(txn *badger.Txn, ns byte, name string) (uint64, error) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{ns}
	it := txn.NewIterator(opts)
	defer it.Close()
	var n uint64
	for it.Rewind(); it.Valid(); it.Next() {
		h, ok := parseHeightKey(ns, it.Item().Key())
		if !ok {
			return 0, fmt.Errorf("%w: malformed %s key %x", ErrCorrupt, name, it.Item().Key())
		}
		if h != n+1 {
			return 0, fmt.Errorf("%w: %s %d is missing (next one is %d)", ErrCorrupt, name, n+1, h)
		}
		n = h
	}
	return n, nil
}

// checkNoState refuses a store with no head but with state, index or root
// state records: they can only come from commits, so the head was lost.
func checkNoState(txn *badger.Txn) error {
	for _, p := range []struct {
		ns   byte
		name string
	}{{nsRoot, "root state"}, {nsState, "state"}, {nsIndex, "index"}} {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{p.ns}
		it := txn.NewIterator(opts)
		it.Rewind()
		found := it.Valid()
		it.Close()
		if found {
			return fmt.Errorf("%w: no head record, but %s records exist", ErrCorrupt, p.name)
		}
	}
	return nil
}

// checkHead reads the head block's records and compares them with the head
// record's hash and digests.
func checkHead(txn *badger.Txn, rec headRecord) error {
	h := rec.Height
	missing := func(what string, err error) error {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: head is at %d but its %s is missing", ErrCorrupt, h, what)
		}
		return fmt.Errorf("checking head %d: %w", h, err)
	}
	hash, err := readBlockHash(txn, h)
	if err != nil {
		return missing("block hash", err)
	}
	if hash != rec.BlockHash {
		return fmt.Errorf("%w: head %d: head record says block hash %x, block record says %x",
			ErrCorrupt, h, rec.BlockHash, hash)
	}
	for _, c := range []struct {
		what string
		key  []byte
		want [32]byte
	}{
		{"block", heightKey(nsBlock, h), rec.BlockDigest},
		{"certificate", heightKey(nsCert, h), rec.CertDigest},
		{"root state", rootKey, rec.StateDigest},
	} {
		v, err := getValue(txn, c.key, func() string { return c.what })
		if err != nil {
			return missing(c.what, err)
		}
		if got := digest(v); got != c.want {
			return fmt.Errorf("%w: head %d: %s has SHA-256 %x, head record says %x",
				ErrCorrupt, h, c.what, got, c.want)
		}
	}
	return nil
}

// rollBack deletes the records of block h (which is above the head) in one
// synchronous transaction and logs what it removed.
func (s *Store) rollBack(h uint64, which []uint64) error {
	names := make([]string, 0, len(which))
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, i := range which {
			p := perHeight[i]
			names = append(names, p.name)
			if err := txn.Delete(heightKey(p.ns, h)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rolling back records of block %d above the head: %w", h, err)
	}
	s.log.Warn("store: rolled back an interrupted commit: removed records above the head",
		"height", h, "head", h-1, "records", names)
	return nil
}
