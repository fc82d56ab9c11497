package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/urna-vote/urna/chain/store"
)

func TestEmptyStore(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{})
	defer s.Close()
	checkAt(t, s, 0)
	h, err := s.Head()
	if err != nil || h.Height != 0 || h.State != nil || h.BlockHash != [32]byte{} {
		t.Fatalf("Head on empty store: %+v, %v", h, err)
	}
	if _, err := s.Block(0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Block(0): %v, want ErrNotFound", err)
	}
	if _, err := s.Get([]byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
	if err := s.SetCertificate(0, []byte("c")); !errors.Is(err, store.ErrNotHead) {
		t.Fatalf("SetCertificate on empty store: %v, want ErrNotHead", err)
	}
}

func TestCommitReadReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, store.Options{})
	commitN(t, s, 1, 5)
	checkAt(t, s, 5)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, store.Options{})
	defer s.Close()
	checkAt(t, s, 5)
	commitN(t, s, 6, 7)
	checkAt(t, s, 7)
}

func TestEmptyValueIsNotDelete(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{})
	defer s.Close()
	c := sampleCommit(1)
	c.Writes = []store.KV{{Key: []byte("a"), Value: []byte{}}, {Key: []byte("b"), Value: []byte("x")}}
	if err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get([]byte("a"))
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(a) stored empty: %q (nil %v), %v", v, v == nil, err)
	}
	c = sampleCommit(2)
	c.Writes = []store.KV{{Key: []byte("a"), Value: nil}}
	if err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get([]byte("a")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(a) after delete: %v, want ErrNotFound", err)
	}
	if v, err := s.Get([]byte("b")); err != nil || string(v) != "x" {
		t.Fatalf("Get(b) untouched by block 2: %q, %v", v, err)
	}
	// Lookup says the same without an error for the miss.
	if v, ok, err := s.Lookup([]byte("a")); err != nil || ok || v != nil {
		t.Fatalf("Lookup(a) after delete: %q, %v, %v; want a miss", v, ok, err)
	}
	if v, ok, err := s.Lookup([]byte("b")); err != nil || !ok || string(v) != "x" {
		t.Fatalf("Lookup(b): %q, %v, %v", v, ok, err)
	}
	c = sampleCommit(3)
	c.Writes = []store.KV{{Key: []byte("e"), Value: []byte{}}}
	if err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Lookup([]byte("e")); err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("Lookup(e) stored empty: %q (nil %v), %v, %v", v, v == nil, ok, err)
	}
}

func TestCommitWrongHeight(t *testing.T) {
	for _, tc := range []struct {
		head, height uint64
	}{
		{0, 0}, {0, 2}, {3, 0}, {3, 1}, {3, 3}, {3, 5}, {3, 1 << 63},
	} {
		t.Run(fmt.Sprintf("head%d_commit%d", tc.head, tc.height), func(t *testing.T) {
			s := openStore(t, t.TempDir(), store.Options{})
			defer s.Close()
			commitN(t, s, 1, tc.head)
			c := sampleCommit(tc.height)
			c.Writes = append(c.Writes, store.KV{Key: []byte("zz-wrong-height"), Value: []byte("x")})
			err := s.Commit(c)
			if !errors.Is(err, store.ErrNotNext) {
				t.Fatalf("Commit(%d) on head %d: %v, want ErrNotNext", tc.height, tc.head, err)
			}
			checkAt(t, s, tc.head)
			if _, err := s.Get([]byte("zz-wrong-height")); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("write of refused commit is visible: %v", err)
			}
		})
	}
}

func TestCommitBadInput(t *testing.T) {
	kv := func(k string) store.KV { return store.KV{Key: []byte(k), Value: []byte("v")} }
	for _, tc := range []struct {
		name   string
		change func(c *store.Commit)
		want   error
	}{
		{"nil block", func(c *store.Commit) { c.Block = nil }, store.ErrEmpty},
		{"empty block", func(c *store.Commit) { c.Block = []byte{} }, store.ErrEmpty},
		{"empty certificate", func(c *store.Commit) { c.Certificate = nil }, store.ErrEmpty},
		{"empty state", func(c *store.Commit) { c.State = []byte{} }, store.ErrEmpty},
		{"unsorted writes", func(c *store.Commit) { c.Writes = []store.KV{kv("b"), kv("a")} }, store.ErrKeyOrder},
		{"duplicate write", func(c *store.Commit) { c.Writes = []store.KV{kv("a"), kv("b"), kv("b")} }, store.ErrKeyOrder},
		{"prefix after longer key", func(c *store.Commit) { c.Writes = []store.KV{kv("ab"), kv("a")} }, store.ErrKeyOrder},
		{"unsorted index", func(c *store.Commit) { c.Index = []store.KV{kv("t2"), kv("t1")} }, store.ErrKeyOrder},
		{"duplicate index", func(c *store.Commit) { c.Index = []store.KV{kv("t1"), kv("t1")} }, store.ErrKeyOrder},
		{"empty write key", func(c *store.Commit) { c.Writes = []store.KV{{Key: nil, Value: []byte("v")}} }, store.ErrEmpty},
		{"empty index key", func(c *store.Commit) { c.Index = []store.KV{kv("t1"), {Key: []byte{}, Value: nil}} }, store.ErrEmpty},
		{"oversized key", func(c *store.Commit) {
			c.Writes = []store.KV{{Key: bytes.Repeat([]byte("k"), store.MaxKeySize+1), Value: []byte("v")}}
		}, store.ErrKeyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), store.Options{})
			defer s.Close()
			commitN(t, s, 1, 2)
			c := sampleCommit(3)
			tc.change(c)
			err := s.Commit(c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Commit: %v, want %v", err, tc.want)
			}
			checkAt(t, s, 2)
			for _, k := range []string{"a", "b", "ab"} {
				if _, err := s.Get([]byte(k)); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("write %q of refused commit is visible: %v", k, err)
				}
			}
			if err := s.Commit(sampleCommit(3)); err != nil {
				t.Fatalf("good commit after refused one: %v", err)
			}
		})
	}
	t.Run("nil commit", func(t *testing.T) {
		s := openStore(t, t.TempDir(), store.Options{})
		defer s.Close()
		if err := s.Commit(nil); !errors.Is(err, store.ErrEmpty) {
			t.Fatalf("Commit(nil): %v, want ErrEmpty", err)
		}
	})
}

// TestCommitSizeLimit: a commit of exactly Limits.MaxBytes (and one of
// MaxEntries keys) goes through Badger; one byte or one key more is refused
// with the figures, and nothing is written.
func TestCommitSizeLimit(t *testing.T) {
	opts := store.Options{MemTableSize: 1 << 20}
	s := openStore(t, t.TempDir(), opts)
	defer s.Close()
	lim := s.Limits()
	if lim.MaxBytes != 15*(1<<20)/100-65 || lim.MaxEntries != 15*(1<<20)/100/96-2 {
		t.Fatalf("Limits %+v do not follow Badger's 15%% of MemTableSize", lim)
	}

	// bySize builds commit h whose size is exactly target bytes.
	bySize := func(h uint64, target int64) *store.Commit {
		c := sampleCommit(h)
		c.Writes, c.Index = nil, nil
		for i := 0; ; i++ {
			c.Writes = append(c.Writes, store.KV{Key: fmt.Appendf(nil, "w%06d", i), Value: make([]byte, 1000)})
			if size, _ := s.CommitSize(c); size+1100 > target {
				last := &c.Writes[len(c.Writes)-1]
				last.Value = make([]byte, 1000+target-size)
				break
			}
		}
		if size, _ := s.CommitSize(c); size != target {
			t.Fatalf("built a commit of %d bytes, want %d", size, target)
		}
		return c
	}
	var tooLarge *store.CommitTooLargeError
	err := s.Commit(bySize(1, lim.MaxBytes+1))
	if !errors.Is(err, store.ErrCommitTooLarge) || !errors.As(err, &tooLarge) {
		t.Fatalf("commit of MaxBytes+1: %v, want CommitTooLargeError", err)
	}
	if tooLarge.Bytes != lim.MaxBytes+1 || tooLarge.MaxBytes != lim.MaxBytes || tooLarge.Height != 1 {
		t.Fatalf("error figures %+v, want %d of %d bytes", tooLarge, lim.MaxBytes+1, lim.MaxBytes)
	}
	checkAt(t, s, 0)
	if err := s.Commit(bySize(1, lim.MaxBytes)); err != nil {
		t.Fatalf("commit of exactly MaxBytes: %v", err)
	}

	// byCount builds commit h writing exactly n keys.
	byCount := func(h uint64, n int64) *store.Commit {
		c := sampleCommit(h)
		c.Writes, c.Index = nil, nil
		_, base := s.CommitSize(c)
		for i := int64(0); i < n-base; i++ {
			c.Index = append(c.Index, store.KV{Key: fmt.Appendf(nil, "%06d", i), Value: []byte{1}})
		}
		return c
	}
	err = s.Commit(byCount(2, lim.MaxEntries+1))
	if !errors.As(err, &tooLarge) || tooLarge.Entries != lim.MaxEntries+1 || tooLarge.MaxEntries != lim.MaxEntries {
		t.Fatalf("commit of MaxEntries+1 keys: %v, want CommitTooLargeError with the counts", err)
	}
	if err := s.Commit(byCount(2, lim.MaxEntries)); err != nil {
		t.Fatalf("commit of exactly MaxEntries keys: %v", err)
	}

	// A value larger than a value log file cannot be stored at all.
	c := sampleCommit(3)
	c.Block = make([]byte, lim.MaxValueSize+1)
	err = s.Commit(c)
	if !errors.As(err, &tooLarge) || tooLarge.Field != "block" || tooLarge.ValueSize != lim.MaxValueSize+1 {
		t.Fatalf("commit with a block of MaxValueSize+1: %v, want CommitTooLargeError naming the block", err)
	}
	if _, err := s.Block(3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused block is visible: %v", err)
	}
	// A large block costs the transaction only a value pointer.
	c.Block = make([]byte, lim.MaxValueSize)
	if err := s.Commit(c); err != nil {
		t.Fatalf("commit with a block of MaxValueSize: %v", err)
	}
}

func TestSetCertificate(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, store.Options{})
	commitN(t, s, 1, 3)
	for _, h := range []uint64{0, 1, 2, 4} {
		if err := s.SetCertificate(h, []byte("fuller")); !errors.Is(err, store.ErrNotHead) {
			t.Fatalf("SetCertificate(%d) with head 3: %v, want ErrNotHead", h, err)
		}
	}
	if err := s.SetCertificate(3, nil); !errors.Is(err, store.ErrEmpty) {
		t.Fatalf("SetCertificate(3, nil): %v, want ErrEmpty", err)
	}
	if err := s.SetCertificate(3, []byte("fuller certificate")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening checks the head's certificate digest: it must follow the new one.
	s = openStore(t, dir, store.Options{})
	defer s.Close()
	if c, err := s.Certificate(3); err != nil || string(c) != "fuller certificate" {
		t.Fatalf("Certificate(3): %q, %v", c, err)
	}
	if c, err := s.Certificate(2); err != nil || !bytes.Equal(c, certBytes(2)) {
		t.Fatalf("Certificate(2) changed: %q, %v", c, err)
	}
	commitN(t, s, 4, 4)
}

func TestSnapshotIsConsistent(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{})
	defer s.Close()
	commitN(t, s, 1, 2)
	v, err := s.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Discard()
	commitN(t, s, 3, 3)
	if err := s.SetCertificate(3, []byte("later")); err != nil {
		t.Fatal(err)
	}

	h, err := v.Head()
	if err != nil || h.Height != 2 || !bytes.Equal(h.State, stateBytes(2)) || h.BlockHash != sampleCommit(2).BlockHash {
		t.Fatalf("snapshot head: %d %q, %v; want 2", h.Height, h.State, err)
	}
	if _, err := v.Block(3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snapshot sees block 3: %v", err)
	}
	if _, err := v.Certificate(3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snapshot sees certificate 3: %v", err)
	}
	if b, err := v.Block(2); err != nil || !bytes.Equal(b, sampleCommit(2).Block) {
		t.Fatalf("snapshot Block(2): %v", err)
	}
	if bh, err := v.BlockHash(2); err != nil || bh != sampleCommit(2).BlockHash {
		t.Fatalf("snapshot BlockHash(2): %v", err)
	}
	if val, err := v.Get([]byte("last")); err != nil || string(val) != "2" {
		t.Fatalf("snapshot Get(last): %q, %v; want 2", val, err)
	}
	if val, err := v.Get([]byte("k/00000002")); err != nil || string(val) != "v2" {
		t.Fatalf("snapshot Get(k/2), deleted later: %q, %v", val, err)
	}
	if _, err := v.GetIndex([]byte("t/00000003")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snapshot sees index of block 3: %v", err)
	}
	var keys []string
	err = v.ScanIndex([]byte("t/"), func(k, val []byte) error {
		keys = append(keys, string(k)+"="+string(val))
		return nil
	})
	if err != nil || strings.Join(keys, ",") != "t/00000001=at 1,t/00000002=at 2" {
		t.Fatalf("snapshot ScanIndex: %v, %v", keys, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := v.Scan(nil, func(k, val []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Scan did not stop at fn's error: %v after %d calls", err, n)
	}

	// The store itself is at 3 with the new certificate.
	if h, err := s.Head(); err != nil || h.Height != 3 {
		t.Fatalf("store head: %d, %v; want 3", h.Height, err)
	}
	if c, err := s.Certificate(3); err != nil || string(c) != "later" {
		t.Fatalf("Certificate(3): %q, %v", c, err)
	}
	v.Discard()
	v.Discard() // twice is fine
	if _, err := v.Head(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Head on discarded snapshot: %v, want ErrClosed", err)
	}
}

func TestMeta(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, store.Options{})
	if _, err := s.GetMeta("genesis"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetMeta on empty store: %v", err)
	}
	big := blockBytes(99, 200<<10) // > ValueThreshold: goes to the value log
	for k, v := range map[string][]byte{"genesis": big, "dkg-share": []byte("secret"), "empty": nil} {
		if err := s.PutMeta(k, v); err != nil {
			t.Fatalf("PutMeta(%s): %v", k, err)
		}
	}
	if err := s.PutMeta("", []byte("x")); !errors.Is(err, store.ErrEmpty) {
		t.Fatalf("PutMeta with empty key: %v, want ErrEmpty", err)
	}
	if err := s.PutMeta(strings.Repeat("k", store.MaxKeySize+1), []byte("x")); !errors.Is(err, store.ErrKeyTooLarge) {
		t.Fatalf("PutMeta with long key: %v, want ErrKeyTooLarge", err)
	}
	if err := s.DeleteMeta("dkg-share"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir, store.Options{})
	defer s.Close()
	if v, err := s.GetMeta("genesis"); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("GetMeta(genesis) after reopen: %v", err)
	}
	if v, err := s.GetMeta("empty"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("GetMeta(empty): %q, %v", v, err)
	}
	if _, err := s.GetMeta("dkg-share"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted meta: %v, want ErrNotFound", err)
	}
	// Meta is not chain state: an empty chain with meta records opens fine.
	checkAt(t, s, 0)
}

func TestClosed(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{})
	commitN(t, s, 1, 1)
	v, err := s.View()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := v.Block(1); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("snapshot read after Close: %v, want ErrClosed", err)
	}
	v.Discard()
	checks := map[string]error{
		"Commit":         s.Commit(sampleCommit(2)),
		"SetCertificate": s.SetCertificate(1, []byte("c")),
		"PutMeta":        s.PutMeta("k", []byte("v")),
	}
	_, checks["Head"] = s.Head()
	_, checks["Block"] = s.Block(1)
	_, checks["Get"] = s.Get([]byte("last"))
	_, _, checks["Lookup"] = s.Lookup([]byte("last"))
	_, checks["GetMeta"] = s.GetMeta("k")
	_, checks["View"] = s.View()
	for name, err := range checks {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []store.Options{
		{MemTableSize: 1 << 10},
		{NumMemtables: -1},
		{ValueThreshold: 2 << 20},
		{MemTableSize: 1 << 20, ValueThreshold: 1 << 20},
		{ValueLogFileSize: 1 << 10},
		{ValueLogFileSize: 2 << 30},
		{BlockCacheSize: -1},
		{NumCompactors: 1},
	} {
		if _, err := store.Open(t.TempDir(), o); !errors.Is(err, store.ErrBadOptions) {
			t.Errorf("Open with %+v: %v, want ErrBadOptions", o, err)
		}
	}
}

// TestConcurrentUse: readers, snapshots and a writer at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{})
	defer s.Close()
	commitN(t, s, 1, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				v, err := s.View()
				if err != nil {
					errs <- err
					return
				}
				h, err := v.Head()
				if err == nil {
					var b []byte
					b, err = v.Block(h.Height)
					if err == nil && !bytes.Equal(b, sampleCommit(h.Height).Block) {
						err = fmt.Errorf("snapshot at %d: head block differs", h.Height)
					}
				}
				v.Discard()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	commitN(t, s, 2, 30)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBadgerWarningsReachTheLogger(t *testing.T) {
	rec := &recordingHandler{}
	l := store.BadgerLogger(slog.New(rec))
	l.Infof("opened %d tables", 3)
	l.Debugf("noise")
	l.Warningf("disk is %s\n", "slow")
	l.Errorf("oops %d", 1)
	if len(rec.records) != 2 {
		t.Fatalf("logged %d records, want 2 (warning and error only)", len(rec.records))
	}
	if r := rec.records[0]; r.Level != slog.LevelWarn || r.Message != "disk is slow" {
		t.Fatalf("warning logged as %v %q", r.Level, r.Message)
	}
	if r := rec.records[1]; r.Level != slog.LevelError || r.Message != "oops 1" {
		t.Fatalf("error logged as %v %q", r.Level, r.Message)
	}
}

// TestBadgerOptions pins the settings durability and memory depend on.
func TestBadgerOptions(t *testing.T) {
	bo, err := store.BadgerOptions("x", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bo.SyncWrites {
		t.Error("SyncWrites is off: Commit would return before the block is on disk")
	}
	if bo.MemTableSize != store.DefaultMemTableSize || bo.NumMemtables != store.DefaultNumMemtables ||
		bo.ValueThreshold != store.DefaultValueThreshold || bo.ValueLogFileSize != store.DefaultValueLogFileSize ||
		bo.BlockCacheSize != store.DefaultBlockCacheSize || bo.NumCompactors != store.DefaultNumCompactors {
		t.Errorf("defaults not applied: %+v", bo)
	}
	if bo.BloomFalsePositive != 0.001 {
		t.Errorf("BloomFalsePositive %v: look-ups of new keys would read table blocks ten times as often", bo.BloomFalsePositive)
	}
	bo, err = store.BadgerOptions("x", store.Options{MemTableSize: 64 << 20, ValueThreshold: 1 << 20})
	if err != nil || bo.MemTableSize != 64<<20 || bo.ValueThreshold != 1<<20 {
		t.Errorf("options not passed on: %+v, %v", bo, err)
	}
}
