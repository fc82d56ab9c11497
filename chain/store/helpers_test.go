package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/urna-vote/urna/chain/store"
)

// quietLogger drops everything: Badger warns about nothing in normal tests,
// and tests that care about logs use a recordingHandler.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t testing.TB, dir string, opts store.Options) *store.Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := store.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// fixture is a deterministic chain: block h's content depends only on h, so a
// test (or the crash test's parent) can recompute what any height must hold.
func blockBytes(h uint64, size int) []byte {
	b := make([]byte, size)
	var seed [32]byte
	copy(seed[:], fmt.Sprintf("block %d", h))
	rand.NewChaCha8(seed).Read(b)
	return b
}

func certBytes(h uint64) []byte  { return []byte(fmt.Sprintf("certificate of block %d", h)) }
func stateBytes(h uint64) []byte { return []byte(fmt.Sprintf("root state after block %d", h)) }

// sampleCommit: block h with state writes setting "k/<h>" and "last", deleting
// "k/<h-1>", and an index entry "t/<h>".
func sampleCommit(h uint64) *store.Commit {
	block := blockBytes(h, 1000+int(h%7)*100)
	writes := []store.KV{}
	if h > 1 {
		writes = append(writes, store.KV{Key: fmt.Appendf(nil, "k/%08d", h-1), Value: nil})
	}
	writes = append(writes,
		store.KV{Key: fmt.Appendf(nil, "k/%08d", h), Value: fmt.Appendf(nil, "v%d", h)},
		store.KV{Key: []byte("last"), Value: fmt.Appendf(nil, "%d", h)},
	)
	return &store.Commit{
		Height:      h,
		BlockHash:   sha256.Sum256(block),
		Block:       block,
		Certificate: certBytes(h),
		State:       stateBytes(h),
		Writes:      writes,
		Index:       []store.KV{{Key: fmt.Appendf(nil, "t/%08d", h), Value: fmt.Appendf(nil, "at %d", h)}},
	}
}

// commitN commits sampleCommit(from..to).
func commitN(t testing.TB, s *store.Store, from, to uint64) {
	t.Helper()
	for h := from; h <= to; h++ {
		if err := s.Commit(sampleCommit(h)); err != nil {
			t.Fatalf("Commit(%d): %v", h, err)
		}
	}
}

// checkAt asserts that s holds exactly sampleCommit(1..head): head record,
// blocks, certificates, hashes, the state and index they wrote, and nothing
// of block head+1.
func checkAt(t testing.TB, s *store.Store, head uint64) {
	t.Helper()
	hd, err := s.Head()
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if hd.Height != head {
		t.Fatalf("head at %d, want %d", hd.Height, head)
	}
	if head > 0 {
		want := sampleCommit(head)
		if hd.BlockHash != want.BlockHash || !bytes.Equal(hd.State, want.State) {
			t.Fatalf("head %d: hash or state differ from the commit", head)
		}
	}
	for h := uint64(1); h <= head; h++ {
		want := sampleCommit(h)
		if b, err := s.Block(h); err != nil || !bytes.Equal(b, want.Block) {
			t.Fatalf("Block(%d): err %v, equal %v", h, err, bytes.Equal(b, want.Block))
		}
		if c, err := s.Certificate(h); err != nil || !bytes.Equal(c, want.Certificate) {
			t.Fatalf("Certificate(%d): %q, %v", h, c, err)
		}
		if bh, err := s.BlockHash(h); err != nil || bh != want.BlockHash {
			t.Fatalf("BlockHash(%d): %x, %v", h, bh, err)
		}
		if v, err := s.GetIndex(fmt.Appendf(nil, "t/%08d", h)); err != nil || string(v) != fmt.Sprintf("at %d", h) {
			t.Fatalf("GetIndex(t/%d): %q, %v", h, v, err)
		}
	}
	next := head + 1
	if _, err := s.Block(next); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Block(%d) above head: err %v, want ErrNotFound", next, err)
	}
	if _, err := s.Certificate(next); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Certificate(%d) above head: err %v, want ErrNotFound", next, err)
	}
	if _, err := s.GetIndex(fmt.Appendf(nil, "t/%08d", next)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIndex(t/%d) above head: err %v, want ErrNotFound", next, err)
	}
	if _, err := s.Get(fmt.Appendf(nil, "k/%08d", next)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(k/%d) above head: err %v, want ErrNotFound", next, err)
	}
	if head == 0 {
		return
	}
	if v, err := s.Get(fmt.Appendf(nil, "k/%08d", head)); err != nil || string(v) != fmt.Sprintf("v%d", head) {
		t.Fatalf("Get(k/%d): %q, %v", head, v, err)
	}
	if head > 1 {
		if _, err := s.Get(fmt.Appendf(nil, "k/%08d", head-1)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(k/%d) deleted by block %d: err %v, want ErrNotFound", head-1, head, err)
		}
	}
	if v, err := s.Get([]byte("last")); err != nil || string(v) != fmt.Sprint(head) {
		t.Fatalf("Get(last): %q, %v", v, err)
	}
	for _, ns := range []byte{store.NsBlock, store.NsHash, store.NsCert} {
		hs := store.RawHeights(s, ns)
		if uint64(len(hs)) != head || (head > 0 && hs[len(hs)-1] != head) {
			t.Fatalf("namespace %q holds heights %v, want 1..%d", ns, hs, head)
		}
	}
}

// recordingHandler keeps log records for tests that check what was logged.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// find returns the first record at level with attribute key equal to value.
func (h *recordingHandler) find(level slog.Level, key string, value slog.Value) (slog.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Level != level {
			continue
		}
		found := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key && a.Value.Equal(value) {
				found = true
				return false
			}
			return true
		})
		if found {
			return r, true
		}
	}
	return slog.Record{}, false
}

// randomBytes returns n bytes from r: keys and values of the scale tests,
// random as credentials, tracking codes and ciphertexts are.
func randomBytes(r *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

// sortKVs puts writes in key order, as a commit's writes come.
func sortKVs(kvs []store.KV) {
	slices.SortFunc(kvs, func(x, y store.KV) int { return bytes.Compare(x.Key, y.Key) })
}
