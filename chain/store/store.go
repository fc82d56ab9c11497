package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// Store is a node's block store: blocks, their commit certificates, the
// state key/value pairs and root state they produce, a secondary index, and
// node-local meta records, in one Badger database. It is safe for concurrent
// use; writes are serialised.
type Store struct {
	db     *badger.DB
	log    *slog.Logger
	opts   Options
	limits Limits

	// mu is held for reading by every operation and for writing by Close, so
	// Close waits for operations in flight and later ones see closed.
	mu     sync.RWMutex
	closed bool

	// writeMu serialises Commit, SetCertificate and the meta writes, so the
	// head read inside a commit's transaction cannot change under it.
	writeMu sync.Mutex
	failed  error // guarded by writeMu: the Badger error that poisoned the store

	snapMu sync.Mutex
	snaps  map[*Snapshot]struct{} // open snapshots, discarded by Close

	// trim pages out Badger's mapped files every Options.TrimEvery bytes
	// (trim.go); nil when trimming is off.
	trim *trimmer

	// failAt, if set (tests only, see export_test.go), is called before each
	// write step of a commit with the step's name; an error aborts the commit
	// as a failing write would.
	failAt func(step string) error
}

// KV is one key/value write. A nil Value deletes the key; an empty non-nil
// Value stores an empty value.
type KV struct{ Key, Value []byte }

// Commit is everything one block changes, written in one Badger transaction.
type Commit struct {
	Height      uint64   // must be the head's height + 1 (1 on an empty store)
	BlockHash   [32]byte // the chain's hash of the block; recorded, not computed
	Block       []byte   // canonical block bytes (opaque here), not empty
	Certificate []byte   // commit certificate of this block (opaque), not empty
	State       []byte   // encoded root state after the block (opaque), not empty
	Writes      []KV     // state key/value writes, keys strictly increasing
	Index       []KV     // secondary-index writes (tracking codes etc.), keys strictly increasing
}

// Head is the last committed block and the root state after it.
type Head struct {
	Height    uint64 // 0 on an empty store
	BlockHash [32]byte
	State     []byte // nil on an empty store
}

// Limits are the sizes a single commit (or meta write) must stay within. They
// follow from Options; see the package doc for the defaults in ballots.
type Limits struct {
	// MaxBytes is the largest transaction size that fits, as Badger estimates
	// it: for every key written, len(key)+1 (namespace byte) + 12, plus
	// len(value) if the value is smaller than ValueThreshold, or 12 (a value
	// pointer) if not. It is 15% of MemTableSize minus a small overhead.
	MaxBytes int64
	// MaxEntries is the largest number of keys one transaction may write:
	// 4 per commit (block, hash, certificate, head) + root state + writes + index.
	MaxEntries int64
	// ValueThreshold: values at least this large go to the value log.
	ValueThreshold int64
	// MaxValueSize is the largest single value (block, certificate, state,
	// written value): the value log file size.
	MaxValueSize int64
}

// Badger's per-transaction accounting, mirrored so the store can refuse a
// commit up front with the figures instead of failing half-way in Badger.
const (
	entryOverhead = 12 // 2 meta bytes + 10 for the version Badger appends to keys
	valuePointer  = 12 // size of a value log pointer kept in the LSM instead of the value
	finOverhead   = 64 // Badger's end-of-transaction marker ("!badger!txn"+ts, ts as decimal)
	nodeSize      = 96 // skl.MaxNodeSize on 64-bit platforms: Badger's count cap is maxBatchSize/96
)

func limitsFor(o Options) Limits {
	mb := maxBatchSize(o.MemTableSize)
	return Limits{
		MaxBytes:       mb - finOverhead - 1,
		MaxEntries:     mb/nodeSize - 2,
		ValueThreshold: o.ValueThreshold,
		MaxValueSize:   o.ValueLogFileSize,
	}
}

// Open opens the store in dir, creating it if missing, and checks it (see
// the package doc): a head record that does not decode, a head whose block,
// certificate or state is missing or does not match, or gaps in the blocks
// fail with ErrCorrupt; the records of one block above the head (left by an
// interrupted commit) are removed and logged.
func Open(dir string, opts Options) (*Store, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := removeCrashedEmptyFiles(dir, o.Logger); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	db, err := badger.Open(o.badgerOptions(dir))
	if err != nil {
		return nil, fmt.Errorf("store: open badger in %s: %w", dir, err)
	}
	s := &Store{
		db:     db,
		log:    o.Logger,
		opts:   o,
		limits: limitsFor(o),
		snaps:  make(map[*Snapshot]struct{}),
	}
	if err := s.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	s.trim = startTrimmer(dir, o.TrimEvery, o.TrimInterval, o.Logger)
	return s, nil
}

// Close discards open snapshots and closes the database. Later calls return
// ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	s.snapMu.Lock()
	snaps := s.snaps
	s.snaps = nil
	s.snapMu.Unlock()
	for snap := range snaps {
		snap.discard()
	}
	// Before Badger unmaps its files: a trim racing with that would be
	// harmless (see pageOutMaps) but pointless.
	s.trim.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Limits returns the size limits of one commit with this store's options.
func (s *Store) Limits() Limits { return s.limits }

// op is one key written by a commit; step names it for failure injection.
type op struct {
	step  string
	key   []byte
	value []byte
	del   bool
}

// sizeOf is Badger's estimate of one entry's share of a transaction.
func (l Limits) sizeOf(o op) int64 {
	n := int64(len(o.key)) + entryOverhead
	if int64(len(o.value)) < l.ValueThreshold {
		return n + int64(len(o.value))
	}
	return n + valuePointer
}

// check refuses ops that Badger could not take in one transaction.
func (l Limits) check(height uint64, ops []op) error {
	var size int64
	for _, o := range ops {
		if int64(len(o.value)) > l.MaxValueSize {
			return &CommitTooLargeError{Height: height, Field: o.step,
				ValueSize: int64(len(o.value)), MaxValueSize: l.MaxValueSize}
		}
		size += l.sizeOf(o)
	}
	if size > l.MaxBytes || int64(len(ops)) > l.MaxEntries {
		return &CommitTooLargeError{Height: height, Bytes: size, MaxBytes: l.MaxBytes,
			Entries: int64(len(ops)), MaxEntries: l.MaxEntries}
	}
	return nil
}

// CommitSize returns Badger's estimate of the transaction c needs and how many
// keys it writes, to compare with Limits (a block builder can use it to stay
// under the limit). It does not validate c.
func (s *Store) CommitSize(c *Commit) (bytes, entries int64) {
	ops := commitOps(c, make([]byte, headRecordLen))
	for _, o := range ops {
		bytes += s.limits.sizeOf(o)
	}
	return bytes, int64(len(ops))
}

// commitOps lists the keys a commit writes, head record last.
func commitOps(c *Commit, head []byte) []op {
	ops := make([]op, 0, 5+len(c.Writes)+len(c.Index))
	ops = append(ops,
		op{step: "block", key: heightKey(nsBlock, c.Height), value: c.Block},
		op{step: "hash", key: heightKey(nsHash, c.Height), value: c.BlockHash[:]},
		op{step: "certificate", key: heightKey(nsCert, c.Height), value: c.Certificate},
		op{step: "state", key: rootKey, value: c.State},
	)
	for i, kv := range c.Writes {
		ops = append(ops, op{step: fmt.Sprintf("write %d", i), key: prefixed(nsState, kv.Key),
			value: kv.Value, del: kv.Value == nil})
	}
	for i, kv := range c.Index {
		ops = append(ops, op{step: fmt.Sprintf("index %d", i), key: prefixed(nsIndex, kv.Key),
			value: kv.Value, del: kv.Value == nil})
	}
	return append(ops, op{step: "head", key: headKey, value: head})
}

// validate checks a commit's fields (everything but the height, which needs
// the head).
func validate(c *Commit) error {
	switch {
	case len(c.Block) == 0:
		return fmt.Errorf("block: %w", ErrEmpty)
	case len(c.Certificate) == 0:
		return fmt.Errorf("certificate: %w", ErrEmpty)
	case len(c.State) == 0:
		return fmt.Errorf("state: %w", ErrEmpty)
	}
	if err := checkKeys("writes", c.Writes); err != nil {
		return err
	}
	return checkKeys("index", c.Index)
}

func checkKeys(field string, kvs []KV) error {
	for i, kv := range kvs {
		if err := checkKey(kv.Key); err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		if i > 0 && bytes.Compare(kvs[i-1].Key, kv.Key) >= 0 {
			return fmt.Errorf("%s[%d]: key %s is not after key %s of %s[%d]: %w",
				field, i, showKey(kv.Key), showKey(kvs[i-1].Key), field, i-1, ErrKeyOrder)
		}
	}
	return nil
}

func checkKey(k []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("key: %w", ErrEmpty)
	}
	if len(k) > MaxKeySize {
		return fmt.Errorf("key of %d bytes: %w (limit %d)", len(k), ErrKeyTooLarge, MaxKeySize)
	}
	return nil
}

// showKey renders a key for an error message: hex, cut after 32 bytes.
func showKey(k []byte) string {
	if len(k) > 32 {
		return fmt.Sprintf("%x…", k[:32])
	}
	return fmt.Sprintf("%x", k)
}

// Commit writes a block, its certificate, its root state, its state writes
// and index writes, and makes it the head, in one synchronous Badger
// transaction: when Commit returns nil all of it is on disk; when it returns an
// error none of it is, unless the error is ErrFailed (Badger's own commit
// failed, and what reached the disk is unknown until the store is reopened).
//
// The height must be the head's + 1 (ErrNotNext); empty block, certificate or
// state (ErrEmpty), unsorted or repeated keys (ErrKeyOrder), empty or
// oversized keys (ErrEmpty, ErrKeyTooLarge) and a commit too large for one
// transaction (*CommitTooLargeError) are refused before anything is written.
// Commit does not keep c or its slices after it returns.
//
// After ErrFailed the store refuses all writes until it is closed and reopened.
func (s *Store) Commit(c *Commit) error {
	if c == nil {
		return fmt.Errorf("store: commit: %w: nil commit", ErrEmpty)
	}
	if err := validate(c); err != nil {
		return fmt.Errorf("store: commit height %d: %w", c.Height, err)
	}
	rec := headRecord{
		Height:      c.Height,
		BlockHash:   c.BlockHash,
		BlockDigest: digest(c.Block),
		CertDigest:  digest(c.Certificate),
		StateDigest: digest(c.State),
	}
	ops := commitOps(c, rec.encode())
	if err := s.limits.check(c.Height, ops); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return s.update(fmt.Sprintf("commit height %d", c.Height), opsBytes(ops), func(txn *badger.Txn) error {
		head, ok, err := readHeadRecord(txn)
		if err != nil {
			return err
		}
		var want uint64 = 1
		if ok {
			want = head.Height + 1
		}
		if c.Height != want {
			return fmt.Errorf("%w: head is at %d, want %d", ErrNotNext, want-1, want)
		}
		return s.apply(txn, ops)
	})
}

// opsBytes is the bytes ops write: keys and values.
func opsBytes(ops []op) int64 {
	var n int64
	for _, o := range ops {
		n += int64(len(o.key) + len(o.value))
	}
	return n
}

// apply adds ops to txn in order, calling the failure hook before each.
func (s *Store) apply(txn *badger.Txn, ops []op) error {
	for _, o := range ops {
		if err := s.fail(o.step); err != nil {
			return err
		}
		var err error
		if o.del {
			err = txn.Delete(o.key)
		} else {
			err = txn.Set(o.key, o.value)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.step, err)
		}
	}
	return nil
}

func (s *Store) fail(step string) error {
	if s.failAt == nil {
		return nil
	}
	if err := s.failAt(step); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}

// update runs fn in a read-write transaction and commits it, serialised with
// other writers. Errors from fn leave nothing written; an error from Badger's
// commit poisons the store (ErrFailed). size is the bytes fn writes, counted
// towards the next trim once they are committed.
func (s *Store) update(what string, size int64, fn func(txn *badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("store: %s: %w", what, ErrClosed)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("store: %s: %w: %v", what, ErrFailed, s.failed)
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	if err := fn(txn); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			err = fmt.Errorf("%w (Badger's own check: %v)", ErrCommitTooLarge, err)
		}
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := s.fail("commit"); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := txn.Commit(); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			return fmt.Errorf("store: %s: %w (Badger's own check: %v)", what, ErrCommitTooLarge, err)
		}
		s.failed = err
		return fmt.Errorf("store: %s: %w: %w", what, ErrFailed, err)
	}
	s.trim.add(size)
	// "committed" lets tests make a commit that reached the disk report an
	// error, as a crash right after the commit would look to the caller.
	if err := s.fail("committed"); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// view runs fn in a read-only transaction.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("store: %w", ErrClosed)
	}
	return s.db.View(fn)
}

// SetCertificate replaces the commit certificate of the head block at height h
// (a node may learn a certificate with more signatures after committing). It
// refuses any other height with ErrNotHead and an empty certificate with ErrEmpty.
func (s *Store) SetCertificate(h uint64, cert []byte) error {
	what := fmt.Sprintf("set certificate of block %d", h)
	if len(cert) == 0 {
		return fmt.Errorf("store: %s: certificate: %w", what, ErrEmpty)
	}
	ops := []op{{step: "certificate", key: heightKey(nsCert, h), value: cert},
		{step: "head", key: headKey, value: make([]byte, headRecordLen)}}
	if err := s.limits.check(h, ops); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return s.update(what, opsBytes(ops), func(txn *badger.Txn) error {
		head, ok, err := readHeadRecord(txn)
		if err != nil {
			return err
		}
		if !ok || head.Height != h {
			return fmt.Errorf("%w: head is at %d", ErrNotHead, head.Height)
		}
		head.CertDigest = digest(cert)
		ops[1].value = head.encode()
		return s.apply(txn, ops)
	})
}

// PutMeta stores a node-local record (not part of the chain: genesis bytes,
// the station's key share, ...) under key, synchronously. A nil v stores an
// empty value; use DeleteMeta to remove a record.
func (s *Store) PutMeta(key string, v []byte) error {
	if v == nil {
		v = []byte{}
	}
	return s.writeMeta(key, v, false)
}

// DeleteMeta removes a meta record (no error if it does not exist).
func (s *Store) DeleteMeta(key string) error { return s.writeMeta(key, nil, true) }

func (s *Store) writeMeta(key string, v []byte, del bool) error {
	what := fmt.Sprintf("meta %q", key)
	if err := checkKey([]byte(key)); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	ops := []op{{step: "meta", key: prefixed(nsMeta, []byte(key)), value: v, del: del}}
	if err := s.limits.check(0, ops); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return s.update(what, opsBytes(ops), func(txn *badger.Txn) error { return s.apply(txn, ops) })
}

// Head returns the head: height, block hash and root state. On an empty
// store it returns a zero Head and no error.
func (s *Store) Head() (Head, error) {
	var h Head
	err := s.view(func(txn *badger.Txn) (err error) { h, err = readHead(txn); return err })
	s.trim.addRead(len(h.State))
	return h, err
}

// Block returns the bytes of the block at height h, or ErrNotFound.
func (s *Store) Block(h uint64) ([]byte, error) {
	return s.get(heightKey(nsBlock, h), func() string { return fmt.Sprintf("block %d", h) })
}

// BlockHash returns the hash recorded with the block at height h, or ErrNotFound.
func (s *Store) BlockHash(h uint64) ([32]byte, error) {
	var out [32]byte
	err := s.view(func(txn *badger.Txn) (err error) { out, err = readBlockHash(txn, h); return err })
	s.trim.addRead(len(out))
	return out, err
}

// Certificate returns the commit certificate of the block at height h, or ErrNotFound.
func (s *Store) Certificate(h uint64) ([]byte, error) {
	return s.get(heightKey(nsCert, h), func() string { return fmt.Sprintf("certificate %d", h) })
}

// Get returns the state value of key, or ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	return s.get(prefixed(nsState, key), func() string { return "state key " + showKey(key) })
}

// Lookup is Get for a caller that expects misses (the state machine asks
// for credentials and ciphertexts that are mostly not there): a missing key
// is (nil, false, nil), without an error built for it.
func (s *Store) Lookup(key []byte) ([]byte, bool, error) {
	var v []byte
	var found bool
	err := s.view(func(txn *badger.Txn) (err error) {
		v, found, err = readValue(txn, prefixed(nsState, key))
		if err != nil {
			return fmt.Errorf("store: state key %s: %w", showKey(key), err)
		}
		return nil
	})
	// Counted at their size, not as a page each like Get's: the state
	// machine's look-ups come with the commits of the blocks they check,
	// and hit the same few pages (the memtable, the tables' indexes and
	// filters) again and again. Counting each as a page would trim the
	// store every few hundred ballots and fault those pages straight back.
	s.trim.add(int64(len(key) + len(v)))
	if err != nil || !found {
		return nil, false, err
	}
	return v, true, nil
}

// GetIndex returns the secondary-index value of key, or ErrNotFound.
func (s *Store) GetIndex(key []byte) ([]byte, error) {
	return s.get(prefixed(nsIndex, key), func() string { return "index key " + showKey(key) })
}

// GetMeta returns the meta record under key, or ErrNotFound.
func (s *Store) GetMeta(key string) ([]byte, error) {
	return s.get(prefixed(nsMeta, []byte(key)), func() string { return fmt.Sprintf("meta %q", key) })
}

func (s *Store) get(key []byte, what func() string) ([]byte, error) {
	var v []byte
	err := s.view(func(txn *badger.Txn) (err error) { v, err = getValue(txn, key, what); return err })
	s.trim.addRead(len(key) + len(v))
	return v, err
}

// getValue reads one key in txn, copying the value out of Badger's buffers.
// A present but empty value comes back as an empty non-nil slice.
func getValue(txn *badger.Txn, key []byte, what func() string) ([]byte, error) {
	v, found, err := readValue(txn, key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("store: %s: %w", what(), err)
	case !found:
		return nil, fmt.Errorf("store: %s: %w", what(), ErrNotFound)
	}
	return v, nil
}

// readValue reads one key in txn, copying the value out of Badger's
// buffers; found is false if the key is not there. A present but empty
// value comes back as an empty non-nil slice.
func readValue(txn *badger.Txn, key []byte) (v []byte, found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if v, err = item.ValueCopy(nil); err != nil {
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// readHeadRecord reads and decodes the head record; ok is false on an empty store.
func readHeadRecord(txn *badger.Txn) (rec headRecord, ok bool, err error) {
	v, err := getValue(txn, headKey, func() string { return "head record" })
	if errors.Is(err, ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	rec, err = decodeHead(v)
	if err != nil {
		return rec, false, fmt.Errorf("store: %w", err)
	}
	return rec, true, nil
}

func readHead(txn *badger.Txn) (Head, error) {
	rec, ok, err := readHeadRecord(txn)
	if err != nil || !ok {
		return Head{}, err
	}
	state, err := getValue(txn, rootKey, func() string { return "root state" })
	if err != nil {
		return Head{}, err
	}
	return Head{Height: rec.Height, BlockHash: rec.BlockHash, State: state}, nil
}

func readBlockHash(txn *badger.Txn, h uint64) ([32]byte, error) {
	var out [32]byte
	v, err := getValue(txn, heightKey(nsHash, h), func() string { return fmt.Sprintf("block hash %d", h) })
	if err != nil {
		return out, err
	}
	if len(v) != len(out) {
		return out, fmt.Errorf("store: block hash %d: %w: %d bytes", h, ErrCorrupt, len(v))
	}
	copy(out[:], v)
	return out, nil
}
