package store_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urna-vote/urna/chain/store"
)

// storeRSS sums the resident bytes (Rss in /proc/self/smaps) of this
// process's mappings of files under dir: the store's share of RssFile.
func storeRSS(t testing.TB, dir string) int64 {
	t.Helper()
	prefix := store.MapsDir(dir) + "/"
	return mappedRSS(t, func(path string) bool { return strings.HasPrefix(path, prefix) })
}

// mappedRSS sums the resident bytes of the mappings whose path matches.
func mappedRSS(t testing.TB, match func(path string) bool) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in bool
	var kb int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if _, _, path, ok := store.ParseMapsLine(line); ok {
			in = match(path)
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb << 10
}

// skipOnTmpfs skips a test that measures paging out on a tmpfs, whose pages
// are swap-backed and, without swap, stay resident whatever madvise says.
func skipOnTmpfs(t *testing.T, dir string) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs: its pages cannot be paged out without swap", dir)
	}
}

// bigCommit is block h of size bytes (fixed by h, see blockBytes), with one
// state write.
func bigCommit(h uint64, size int) *store.Commit {
	block := blockBytes(h, size)
	return &store.Commit{
		Height:      h,
		BlockHash:   sha256.Sum256(block),
		Block:       block,
		Certificate: certBytes(h),
		State:       stateBytes(h),
		Writes:      []store.KV{{Key: fmt.Appendf(nil, "k/%08d", h), Value: fmt.Appendf(nil, "v%d", h)}},
	}
}

// The store's share of the resident set stays bounded with trimming on,
// and grows with the data written with it off (which is what shows that the
// bound means something on this machine).
func TestTrimBoundsStoreRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2 × 256 MB")
	}
	skipOnTmpfs(t, t.TempDir())
	const (
		every     = 16 << 20
		blockSize = 4 << 20 // ~1,000 ballots
		blocks    = 64      // 256 MB
	)
	// Between two trims the store writes up to TrimEvery, plus what it
	// writes while a trim is due but the trimmer has not run yet (commits do
	// not wait for it): one more TrimEvery allows for that. The memtable's
	// write-ahead file is the rest.
	bound := int64(3*every + 2*store.DefaultMemTableSize)
	run := func(t *testing.T, trimEvery int64) (peak int64) {
		dir := t.TempDir()
		s := openStore(t, dir, store.Options{TrimEvery: trimEvery})
		defer s.Close()
		for h := uint64(1); h <= blocks; h++ {
			if err := s.Commit(bigCommit(h, blockSize)); err != nil {
				t.Fatal(err)
			}
			peak = max(peak, storeRSS(t, dir))
		}
		trims, paged := store.TrimStats(s)
		t.Logf("TrimEvery %d MiB: %d MB committed, store's mapped RSS peak %s, now %s; %d trims advised %s of mappings; process: %s",
			trimEvery>>20, blocks*blockSize>>20, mb(peak), mb(storeRSS(t, dir)), trims, mb(paged), memStatus())
		return peak
	}
	t.Run("off", func(t *testing.T) {
		if peak := run(t, -1); peak <= bound {
			t.Errorf("without trimming the store's mapped RSS peaked at %s, within the %s bound: "+
				"the kernel drops the pages by itself here, so the bound shows nothing", mb(peak), mb(bound))
		}
	})
	t.Run("on", func(t *testing.T) {
		if peak := run(t, every); peak > bound {
			t.Errorf("with TrimEvery %d MiB the store's mapped RSS peaked at %s, over the %s bound",
				every>>20, mb(peak), mb(bound))
		}
	})
}

// Trimming often, while commits and reads go on, loses nothing: every block
// reads back as written, before and after reopening.
func TestTrimKeepsData(t *testing.T) {
	dir := t.TempDir()
	const blocks = 120
	size := func(h uint64) int { return 100<<10 + int(h%4)*100<<10 } // 100–400 KiB: all in the value log
	opts := store.Options{TrimEvery: 256 << 10}
	s := openStore(t, dir, opts)

	// Readers check random committed blocks, through the store and through
	// snapshots, while trims page the maps out under them.
	stop := make(chan struct{})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 0))
			for {
				select {
				case <-stop:
					return
				default:
				}
				head, err := s.Head()
				if err != nil || head.Height == 0 {
					continue
				}
				h := 1 + rng.Uint64N(head.Height)
				var got []byte
				if r == 0 {
					got, err = s.Block(h)
				} else {
					snap, err2 := s.View()
					if err2 != nil {
						errs <- err2
						return
					}
					got, err = snap.Block(h)
					snap.Discard()
				}
				if err != nil {
					errs <- fmt.Errorf("reading block %d: %w", h, err)
					return
				}
				if !bytes.Equal(got, blockBytes(h, size(h))) {
					errs <- fmt.Errorf("block %d reads back wrong while trimming", h)
					return
				}
			}
		})
	}
	for h := uint64(1); h <= blocks; h++ {
		if err := s.Commit(bigCommit(h, size(h))); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	check := func(s *store.Store) {
		t.Helper()
		for h := uint64(1); h <= blocks; h++ {
			got, err := s.Block(h)
			if err != nil {
				t.Fatalf("Block(%d): %v", h, err)
			}
			if !bytes.Equal(got, blockBytes(h, size(h))) {
				t.Fatalf("block %d reads back wrong after trimming", h)
			}
			v, err := s.Get(fmt.Appendf(nil, "k/%08d", h))
			if err != nil || string(v) != fmt.Sprint("v", h) {
				t.Fatalf("state k/%08d = %q, %v after trimming", h, v, err)
			}
		}
	}
	check(s)
	trims, paged := store.TrimStats(s)
	t.Logf("%d trims advised %s of mappings", trims, mb(paged))
	if trims < 10 || paged == 0 {
		t.Fatalf("%d trims advising %d bytes: the test did not trim while writing %d blocks", trims, paged, blocks)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, opts)
	defer s.Close()
	check(s)
	if h, err := s.Head(); err != nil || h.Height != blocks {
		t.Fatalf("head after reopening: %d, %v; want %d", h.Height, err, blocks)
	}
}

// mapFile creates path with size bytes and maps it shared, read-write.
func mapFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(m) })
	return m
}

func pattern(seed byte, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i/4096) ^ seed
	}
	return b
}

// PageOutMaps pages out the maps of files under the directory, found through
// a relative path and a symlink, dirty pages included, leaves other files'
// maps alone, and every byte reads back, through the map and from the file.
func TestPageOutMaps(t *testing.T) {
	root := t.TempDir()
	skipOnTmpfs(t, root)
	dir := filepath.Join(root, "store")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	clean := mapFile(t, filepath.Join(dir, "000001.vlog"), size)
	dirty := mapFile(t, filepath.Join(dir, "00002 with space.mem"), size)
	other := mapFile(t, filepath.Join(root, "storeother.vlog"), size) // same prefix, not in dir
	copy(clean, pattern(1, size))
	if err := unix.Msync(clean, unix.MS_SYNC); err != nil {
		t.Fatal(err)
	}
	copy(dirty, pattern(2, size)) // not synced: dirty pages
	copy(other, pattern(3, size))

	link := filepath.Join(root, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, link)
	if err != nil {
		t.Fatal(err)
	}
	otherPath := store.MapsDir(filepath.Join(root, "storeother.vlog"))
	otherRSS := func() int64 { return mappedRSS(t, func(path string) bool { return path == otherPath }) }
	before, beforeOther := storeRSS(t, dir), otherRSS()
	n, err := store.PageOutMaps(rel)
	if err != nil {
		t.Fatal(err)
	}
	after, afterOther := storeRSS(t, dir), otherRSS()
	t.Logf("advised %s; RSS of the dir's maps %s → %s, of the other file %s → %s",
		mb(n), mb(before), mb(after), mb(beforeOther), mb(afterOther))
	if n != 2*size {
		t.Errorf("advised %d bytes, want %d (the two files in the directory)", n, 2*size)
	}
	if before < 2*size*9/10 || after > before/10 {
		t.Errorf("RSS of the directory's maps %d → %d: not paged out", before, after)
	}
	if beforeOther < size*9/10 || afterOther < beforeOther*9/10 {
		t.Errorf("RSS of a file outside the directory %d → %d: paged out too", beforeOther, afterOther)
	}
	for i, c := range []struct {
		m    []byte
		seed byte
		path string
	}{{clean, 1, filepath.Join(dir, "000001.vlog")}, {dirty, 2, filepath.Join(dir, "00002 with space.mem")}} {
		want := pattern(c.seed, size)
		if !bytes.Equal(c.m, want) {
			t.Errorf("map %d reads back wrong after paging out", i)
		}
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("file %s reads back wrong after paging out", c.path)
		}
	}
}

// The race a trim cannot avoid: the Go heap mapped where a store file was
// when the trim read /proc/self/maps. MADV_PAGEOUT on it must keep every byte
// (MADV_DONTNEED would zero it).
func TestPageOutKeepsAnonymousMemory(t *testing.T) {
	const size = 8 << 20
	b := pattern(7, size)
	n, err := store.PageOut(b)
	if err != nil {
		t.Fatal(err)
	}
	if n < size-2*os.Getpagesize() {
		t.Fatalf("advised %d bytes of %d", n, size)
	}
	if !bytes.Equal(b, pattern(7, size)) {
		t.Fatal("Go heap memory changed under the advice a trim gives (MADV_DONTNEED zeroes it; MADV_PAGEOUT must not)")
	}
}

// A kernel that refuses MADV_PAGEOUT (older than 5.4: EINVAL) costs one
// warning and trimming, never a commit.
func TestTrimGivesUpOnEINVAL(t *testing.T) {
	var calls sync.Mutex
	n := 0
	restore := store.SetMadvise(func(uintptr, uintptr, int) error {
		calls.Lock()
		n++
		calls.Unlock()
		return unix.EINVAL
	})
	defer restore()
	rec := &recordingHandler{}
	dir := t.TempDir()
	s := openStore(t, dir, store.Options{Logger: slog.New(rec), TrimEvery: 1})
	defer s.Close()
	commitN(t, s, 1, 5)
	for deadline := time.Now().Add(10 * time.Second); store.Trimming(s); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the trimmer did not give up after madvise failed with EINVAL")
		}
	}
	commitN(t, s, 6, 20)
	checkAt(t, s, 20)
	warnings := 0
	rec.mu.Lock()
	for _, r := range rec.records {
		if r.Level == slog.LevelWarn && strings.Contains(r.Message, "cannot page out") {
			warnings++
		}
	}
	rec.mu.Unlock()
	calls.Lock()
	defer calls.Unlock()
	if warnings != 1 || n != 1 {
		t.Fatalf("%d warnings after %d failed madvise calls; want 1 and 1", warnings, n)
	}
}

// TrimEvery < 0 turns trimming off; 0 is the default.
func TestTrimEveryOption(t *testing.T) {
	s := openStore(t, t.TempDir(), store.Options{TrimEvery: -1})
	if store.Trimming(s) {
		t.Error("TrimEvery -1: trimming")
	}
	s.Close()
	s = openStore(t, t.TempDir(), store.Options{})
	if !store.Trimming(s) {
		t.Error("default options: not trimming")
	}
	s.Close()
}

// waitTrims waits up to a few seconds for the store to have done at least n
// trims, and returns how many it has done.
func waitTrims(t *testing.T, s *store.Store, n int64) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		trims, _ := store.TrimStats(s)
		if trims >= n || time.Now().After(deadline) {
			return trims
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The timer trims a store whose files changed since the last trim, however
// few bytes that was, and leaves an idle store alone; TrimInterval < 0 turns
// the timer off.
func TestTrimIntervalTrimsAfterActivityOnly(t *testing.T) {
	const interval = 20 * time.Millisecond
	s := openStore(t, t.TempDir(), store.Options{TrimEvery: 1 << 40, TrimInterval: interval})
	defer s.Close()
	if n := waitTrims(t, s, 1); n < 1 {
		t.Fatal("no trim after Open")
	}
	time.Sleep(4 * interval) // let the first trim's MANIFEST stamp settle
	idle, _ := store.TrimStats(s)
	time.Sleep(15 * interval)
	if n, _ := store.TrimStats(s); n != idle {
		t.Fatalf("idle store: %d trims over 15 intervals; want none", n-idle)
	}
	if err := s.Commit(bigCommit(1, 1000)); err != nil {
		t.Fatal(err)
	}
	if n := waitTrims(t, s, idle+1); n <= idle {
		t.Fatal("no trim within 5 s of a commit of 1,000 bytes with TrimInterval 20 ms")
	}

	off := openStore(t, t.TempDir(), store.Options{TrimEvery: 1 << 40, TrimInterval: -1})
	defer off.Close()
	if n := waitTrims(t, off, 1); n < 1 {
		t.Fatal("TrimInterval -1: no trim after Open")
	}
	if err := off.Commit(bigCommit(1, 1000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(15 * interval)
	if n, _ := store.TrimStats(off); n != 1 {
		t.Fatalf("TrimInterval -1: %d trims after a small commit; want only Open's", n)
	}
}

func TestParseMapsLine(t *testing.T) {
	for _, c := range []struct {
		line       string
		start, end uintptr
		path       string
		ok         bool
	}{
		{"7f1c2a000000-7f1c2e000000 r--s 00000000 fd:00 1234567                    /data/store/000001.vlog",
			0x7f1c2a000000, 0x7f1c2e000000, "/data/store/000001.vlog", true},
		{"7f1c2a000000-7f1c2a001000 rw-s 00000000 fd:00 42   /data/my store/000002.sst (deleted)",
			0x7f1c2a000000, 0x7f1c2a001000, "/data/my store/000002.sst (deleted)", true},
		{"c000000000-c004000000 rw-p 00000000 00:00 0 ", 0xc000000000, 0xc004000000, "", true},
		{"c000000000-c004000000 rw-p 00000000 00:00 0", 0, 0, "", false},
		{"Rss:                 123 kB", 0, 0, "", false},
		{"VmFlags: rd wr sh mr mw me ms sd", 0, 0, "", false},
	} {
		start, end, path, ok := store.ParseMapsLine(c.line)
		if start != c.start || end != c.end || path != c.path || ok != c.ok {
			t.Errorf("ParseMapsLine(%q) = %x, %x, %q, %v; want %x, %x, %q, %v",
				c.line, start, end, path, ok, c.start, c.end, c.path, c.ok)
		}
	}
}
