package wal_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urna-vote/urna/chain/bft/wal"
)

// entry is one replayed record with the height of its segment.
type entry struct {
	height uint64
	rec    []byte
}

func (e entry) String() string { return fmt.Sprintf("h%d:%x", e.height, e.rec) }

// heightRecs are the records to write at one height.
type heightRecs struct {
	height uint64
	recs   [][]byte
}

// randRecords returns n deterministic pseudo-random records of 1..maxLen bytes.
func randRecords(seed uint64, n, maxLen int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, 1+r.IntN(maxLen))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		out[i] = b
	}
	return out
}

func mustOpen(t testing.TB, dir string) (*wal.Log, wal.Recovery) {
	t.Helper()
	l, rec, err := wal.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l, rec
}

// writeLog writes the given heights to a fresh log in dir, syncs and closes it.
func writeLog(t testing.TB, dir string, hs []heightRecs) {
	t.Helper()
	l, _ := mustOpen(t, dir)
	for _, h := range hs {
		if err := l.StartHeight(h.height); err != nil {
			t.Fatalf("StartHeight(%d): %v", h.height, err)
		}
		for _, r := range h.recs {
			if err := l.Append(r); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func replayAll(t testing.TB, l *wal.Log, from uint64) []entry {
	t.Helper()
	var got []entry
	err := l.Replay(from, func(h uint64, r []byte) error {
		got = append(got, entry{h, r})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d): %v", from, err)
	}
	return got
}

func flatten(hs []heightRecs, from uint64) []entry {
	var out []entry
	for _, h := range hs {
		if h.height < from {
			continue
		}
		for _, r := range h.recs {
			out = append(out, entry{h.height, r})
		}
	}
	return out
}

func checkEntries(t testing.TB, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].height != want[i].height || !bytes.Equal(got[i].rec, want[i].rec) {
			t.Fatalf("record %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func segPath(dir string, h uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.wal", h))
}

// frameStarts returns the offset of every record frame in a well-formed segment file.
func frameStarts(t testing.TB, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 32; off < len(data); {
		offs = append(offs, off)
		n := int(data[off])<<24 | int(data[off+1])<<16 | int(data[off+2])<<8 | int(data[off+3])
		off += 8 + n
		if off > len(data) {
			t.Fatalf("frameStarts: file is not well formed")
		}
	}
	return offs
}

// standardLog is three heights with a handful of small records each, small so that
// the byte-by-byte sweeps stay fast.
func standardLog() []heightRecs {
	return []heightRecs{
		{1, append(randRecords(1, 4, 64), []byte{})}, // an empty record is a record too
		{2, randRecords(2, 5, 64)},
		{3, randRecords(3, 4, 64)},
	}
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	hs := standardLog()
	writeLog(t, dir, hs)

	l, rec := mustOpen(t, dir)
	defer l.Close()
	if rec != (wal.Recovery{}) {
		t.Fatalf("clean log reported recovery %+v", rec)
	}
	if got := l.Heights(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("Heights = %v", got)
	}
	if h, ok := l.Height(); !ok || h != 3 {
		t.Fatalf("Height = %d, %v; want 3, true", h, ok)
	}
	for from := uint64(1); from <= 4; from++ {
		checkEntries(t, replayAll(t, l, from), flatten(hs, from))
	}

	// Appending after reopen continues the last segment.
	more := randRecords(9, 3, 50)
	for _, r := range more {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	hs[2].recs = append(hs[2].recs, more...)
	l2, rec := mustOpen(t, dir)
	defer l2.Close()
	if rec != (wal.Recovery{}) {
		t.Fatalf("recovery %+v", rec)
	}
	checkEntries(t, replayAll(t, l2, 1), flatten(hs, 1))
}

func TestMaxRecordSize(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir)
	if err := l.StartHeight(1); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(make([]byte, wal.MaxRecordSize+1)); !errors.Is(err, wal.ErrRecordTooLarge) {
		t.Fatalf("Append(MaxRecordSize+1) = %v, want ErrRecordTooLarge", err)
	}
	big := bytes.Repeat([]byte{0xA5}, wal.MaxRecordSize)
	if err := l.Append(big); err != nil {
		t.Fatalf("Append(MaxRecordSize) = %v", err)
	}
	if err := l.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = mustOpen(t, dir)
	defer l.Close()
	checkEntries(t, replayAll(t, l, 1), []entry{{1, big}, {1, []byte("after")}})
}

func TestCallOrderErrors(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir)
	if _, ok := l.Height(); ok {
		t.Fatal("empty log has a current height")
	}
	if err := l.Append([]byte("x")); !errors.Is(err, wal.ErrNoSegment) {
		t.Fatalf("Append before StartHeight = %v, want ErrNoSegment", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync with no segment = %v", err)
	}
	if err := l.StartHeight(5); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := l.StartHeight(5); err != nil { // same height: no-op, keeps the record
		t.Fatalf("StartHeight(current) = %v", err)
	}
	if err := l.StartHeight(4); !errors.Is(err, wal.ErrHeightRegress) {
		t.Fatalf("StartHeight(4) after 5 = %v, want ErrHeightRegress", err)
	}
	if err := l.StartHeight(9); err != nil { // heights may skip (block sync)
		t.Fatal(err)
	}
	if err := l.Append([]byte("b")); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, replayAll(t, l, 5), []entry{{5, []byte("a")}, {9, []byte("b")}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"Append":         func() error { return l.Append([]byte("x")) },
		"Sync":           l.Sync,
		"StartHeight":    func() error { return l.StartHeight(10) },
		"TruncateBefore": func() error { return l.TruncateBefore(10) },
		"Replay":         func() error { return l.Replay(0, func(uint64, []byte) error { return nil }) },
		"Close":          l.Close,
	} {
		if err := op(); !errors.Is(err, wal.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestReplaySeesUnsyncedAppendsAndWrapsCallbackError(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir())
	defer l.Close()
	if err := l.StartHeight(1); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"one", "two", "three"} {
		if err := l.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	checkEntries(t, replayAll(t, l, 1), []entry{{1, []byte("one")}, {1, []byte("two")}, {1, []byte("three")}})

	stop := errors.New("stop here")
	calls := 0
	err := l.Replay(1, func(uint64, []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("Replay with failing callback = %v after %d calls, want the callback's error after 2", err, calls)
	}
}

func TestTruncateBefore(t *testing.T) {
	dir := t.TempDir()
	hs := []heightRecs{
		{1, randRecords(1, 2, 40)}, {2, randRecords(2, 2, 40)}, {3, randRecords(3, 2, 40)},
		{5, randRecords(5, 2, 40)}, {6, randRecords(6, 2, 40)},
	}
	writeLog(t, dir, hs)
	l, _ := mustOpen(t, dir)
	if err := l.TruncateBefore(4); err != nil {
		t.Fatal(err)
	}
	if got := l.Heights(); !slices.Equal(got, []uint64{5, 6}) {
		t.Fatalf("Heights after TruncateBefore(4) = %v, want [5 6]", got)
	}
	for _, h := range []uint64{1, 2, 3} {
		if _, err := os.Stat(segPath(dir, h)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("segment %d still on disk: %v", h, err)
		}
	}
	// The current segment is never removed, whatever height is asked.
	if err := l.TruncateBefore(100); err != nil {
		t.Fatal(err)
	}
	if got := l.Heights(); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("Heights after TruncateBefore(100) = %v, want [6]", got)
	}
	if err := l.Append([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, _ = mustOpen(t, dir) // the first remaining segment has seq 5: no gap is reported
	defer l.Close()
	want := append(flatten(hs, 6), entry{6, []byte("tail")})
	checkEntries(t, replayAll(t, l, 6), want)

	err := l.Replay(5, func(uint64, []byte) error { return nil })
	if !errors.Is(err, wal.ErrMissingSegment) {
		t.Fatalf("Replay from before the oldest segment = %v, want ErrMissingSegment", err)
	}
}

// TestTornTailEveryCut cuts the last segment at every byte inside its last record:
// Open drops exactly the partial record, keeps every earlier one, and the log is
// usable afterwards (a new record lands after the cut, not after garbage).
func TestTornTailEveryCut(t *testing.T) {
	base := t.TempDir()
	hs := standardLog()
	writeLog(t, base, hs)
	data, err := os.ReadFile(segPath(base, 3))
	if err != nil {
		t.Fatal(err)
	}
	offs := frameStarts(t, data)
	lastStart := offs[len(offs)-1]
	wantKept := flatten(hs, 1)
	wantKept = wantKept[:len(wantKept)-1]

	for cut := lastStart; cut < len(data); cut++ {
		dir := copyDir(t, base)
		if err := os.WriteFile(segPath(dir, 3), data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		l, rec, err := wal.Open(dir)
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		wantRec := wal.Recovery{}
		if cut > lastStart {
			wantRec = wal.Recovery{TruncatedBytes: int64(cut - lastStart), File: segPath(dir, 3), Offset: int64(lastStart)}
		}
		if rec != wantRec {
			t.Fatalf("cut at %d: recovery %+v, want %+v", cut, rec, wantRec)
		}
		if fi, err := os.Stat(segPath(dir, 3)); err != nil || fi.Size() != int64(lastStart) {
			t.Fatalf("cut at %d: file not truncated to %d: %v %v", cut, lastStart, fi.Size(), err)
		}
		checkEntries(t, replayAll(t, l, 1), wantKept)

		if err := l.Append([]byte("new")); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, rec = mustOpen(t, dir)
		if rec != (wal.Recovery{}) {
			t.Fatalf("cut at %d: second open recovered %+v", cut, rec)
		}
		checkEntries(t, replayAll(t, l, 1), append(slices.Clone(wantKept), entry{3, []byte("new")}))
		l.Close()
	}
}

// TestTornTailFlippedBit flips one bit in every byte of the last record of the last
// segment: with nothing after it, it is a torn write, dropped whole.
func TestTornTailFlippedBit(t *testing.T) {
	base := t.TempDir()
	hs := standardLog()
	writeLog(t, base, hs)
	data, err := os.ReadFile(segPath(base, 3))
	if err != nil {
		t.Fatal(err)
	}
	offs := frameStarts(t, data)
	lastStart := offs[len(offs)-1]
	wantKept := flatten(hs, 1)
	wantKept = wantKept[:len(wantKept)-1]

	for i := lastStart; i < len(data); i++ {
		bit := byte(1) << (i % 8)
		dir := copyDir(t, base)
		bad := slices.Clone(data)
		bad[i] ^= bit
		if err := os.WriteFile(segPath(dir, 3), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		l, rec, err := wal.Open(dir)
		if err != nil {
			t.Fatalf("flip byte %d: Open: %v", i, err)
		}
		if rec.TruncatedBytes != int64(len(data)-lastStart) || rec.Offset != int64(lastStart) {
			t.Fatalf("flip byte %d: recovery %+v, want %d bytes at %d", i, rec, len(data)-lastStart, lastStart)
		}
		checkEntries(t, replayAll(t, l, 1), wantKept)
		l.Close()
	}
}

// TestMiddleDamageIsLoud flips one bit in every byte of a record followed by valid
// data, and of the last record of a segment that is not the last: Open fails with
// ErrCorruptRecord naming the file and the record's offset, and changes nothing.
func TestMiddleDamageIsLoud(t *testing.T) {
	base := t.TempDir()
	writeLog(t, base, standardLog())

	cases := []struct {
		name   string
		height uint64
		record func(offs []int) int // which record to damage
	}{
		{"middle record of last segment", 3, func(offs []int) int { return 1 }},
		{"first record of last segment", 3, func(offs []int) int { return 0 }},
		{"middle record of older segment", 2, func(offs []int) int { return 2 }},
		{"last record of older segment", 2, func(offs []int) int { return len(offs) - 1 }},
		{"empty record of first segment", 1, func(offs []int) int { return len(offs) - 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(segPath(base, tc.height))
			if err != nil {
				t.Fatal(err)
			}
			offs := frameStarts(t, data)
			k := tc.record(offs)
			start, end := offs[k], len(data)
			if k+1 < len(offs) {
				end = offs[k+1]
			}
			for i := start; i < end; i++ {
				dir := copyDir(t, base)
				bad := slices.Clone(data)
				bad[i] ^= byte(1) << (i % 8)
				path := segPath(dir, tc.height)
				if err := os.WriteFile(path, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				_, _, err := wal.Open(dir)
				if !errors.Is(err, wal.ErrCorruptRecord) {
					t.Fatalf("flip byte %d: Open = %v, want ErrCorruptRecord", i, err)
				}
				var ce *wal.CorruptionError
				if !errors.As(err, &ce) || ce.Path != path || ce.Offset != int64(start) {
					t.Fatalf("flip byte %d: error %v does not locate %s offset %d", i, err, path, start)
				}
				if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("offset %d", start)) {
					t.Fatalf("flip byte %d: message %q does not name file and offset", i, msg)
				}
				after, _ := os.ReadFile(path)
				if !bytes.Equal(after, bad) {
					t.Fatalf("flip byte %d: Open modified a damaged file", i)
				}
			}
		})
	}
}

func TestBadHeaderIsLoud(t *testing.T) {
	base := t.TempDir()
	writeLog(t, base, standardLog())
	for _, h := range []uint64{1, 3} { // an older segment and the last one
		data, err := os.ReadFile(segPath(base, h))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 32; i++ {
			dir := copyDir(t, base)
			bad := slices.Clone(data)
			bad[i] ^= 0x10
			if err := os.WriteFile(segPath(dir, h), bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := wal.Open(dir)
			if !errors.Is(err, wal.ErrBadHeader) {
				t.Fatalf("segment %d, flip header byte %d: Open = %v, want ErrBadHeader", h, i, err)
			}
		}
		for _, n := range []int{0, 1, 31} { // a header cut short
			dir := copyDir(t, base)
			if err := os.WriteFile(segPath(dir, h), data[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := wal.Open(dir); !errors.Is(err, wal.ErrBadHeader) {
				t.Fatalf("segment %d cut to %d bytes: Open = %v, want ErrBadHeader", h, n, err)
			}
		}
	}

	t.Run("header height differs from name", func(t *testing.T) {
		dir := copyDir(t, base)
		if err := os.Rename(segPath(dir, 3), segPath(dir, 7)); err != nil {
			t.Fatal(err)
		}
		_, _, err := wal.Open(dir)
		var ce *wal.CorruptionError
		if !errors.Is(err, wal.ErrBadHeader) || !errors.As(err, &ce) || ce.Path != segPath(dir, 7) {
			t.Fatalf("Open = %v, want ErrBadHeader for %s", err, segPath(dir, 7))
		}
	})
	t.Run("malformed segment name", func(t *testing.T) {
		dir := copyDir(t, base)
		if err := os.WriteFile(filepath.Join(dir, "4.wal"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := wal.Open(dir); !errors.Is(err, wal.ErrBadHeader) {
			t.Fatalf("Open = %v, want ErrBadHeader", err)
		}
	})
}

func TestMissingSegmentIsLoud(t *testing.T) {
	base := t.TempDir()
	writeLog(t, base, standardLog())
	dir := copyDir(t, base)
	if err := os.Remove(segPath(dir, 2)); err != nil {
		t.Fatal(err)
	}
	_, _, err := wal.Open(dir)
	var ce *wal.CorruptionError
	if !errors.Is(err, wal.ErrMissingSegment) || !errors.As(err, &ce) || ce.Path != segPath(dir, 3) {
		t.Fatalf("Open with segment 2 gone = %v, want ErrMissingSegment at %s", err, segPath(dir, 3))
	}
	// Losing the newest segment cannot be told from never having started it, but
	// losing a middle one always can.
	dir = copyDir(t, base)
	if err := os.Remove(segPath(dir, 1)); err != nil {
		t.Fatal(err)
	}
	l, _ := mustOpen(t, dir)
	defer l.Close()
	if err := l.Replay(1, func(uint64, []byte) error { return nil }); !errors.Is(err, wal.ErrMissingSegment) {
		t.Fatalf("Replay(1) with segment 1 gone = %v, want ErrMissingSegment", err)
	}
}

func TestLeftoverTempSegmentIsRemoved(t *testing.T) {
	dir := t.TempDir()
	hs := standardLog()
	writeLog(t, dir, hs)
	// A crash inside StartHeight(4) before the rename leaves a temp file, maybe partial.
	tmp := segPath(dir, 4) + ".tmp"
	if err := os.WriteFile(tmp, []byte("URNA-W"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, rec := mustOpen(t, dir)
	defer l.Close()
	if rec != (wal.Recovery{}) {
		t.Fatalf("recovery %+v", rec)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp segment not removed: %v", err)
	}
	if h, _ := l.Height(); h != 3 {
		t.Fatalf("Height = %d, want 3", h)
	}
	checkEntries(t, replayAll(t, l, 1), flatten(hs, 1))
}

// TestUnsyncedTailLostNeverCorrupted models a crash after records were written but
// before their fsync: the file may hold any prefix of the unsynced bytes, followed by
// nothing, by zeros (a filesystem that grew the file but lost the data), or by
// garbage. For every such prefix, Open succeeds and Replay returns every synced
// record and then a prefix of the unsynced ones, each intact.
func TestUnsyncedTailLostNeverCorrupted(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir)
	if err := l.StartHeight(1); err != nil {
		t.Fatal(err)
	}
	synced := randRecords(11, 3, 80)
	unsynced := randRecords(12, 4, 60)
	for _, r := range synced {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(segPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	syncedLen := int(fi.Size())
	for _, r := range unsynced {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil { // the bytes a crash might have half-written
		t.Fatal(err)
	}
	full, err := os.ReadFile(segPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, len(full))
	r := rand.New(rand.NewPCG(13, 13))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}

	for cut := syncedLen; cut <= len(full); cut++ {
		// How many unsynced records are whole in the first cut bytes.
		whole := 0
		for off := syncedLen; whole < len(unsynced) && off+8+len(unsynced[whole]) <= cut; whole++ {
			off += 8 + len(unsynced[whole])
		}
		want := []entry{}
		for _, r := range append(slices.Clone(synced), unsynced[:whole]...) {
			want = append(want, entry{1, r})
		}
		for _, fill := range []struct {
			name string
			tail []byte
		}{
			{"cut", nil},
			{"zeros", make([]byte, len(full)-cut)},
			{"garbage", garbage[:len(full)-cut]},
		} {
			d := t.TempDir()
			content := append(slices.Clone(full[:cut]), fill.tail...)
			if err := os.WriteFile(segPath(d, 1), content, 0o600); err != nil {
				t.Fatal(err)
			}
			l, rec, err := wal.Open(d)
			if err != nil {
				t.Fatalf("cut %d + %s: Open: %v", cut, fill.name, err)
			}
			got := replayAll(t, l, 1)
			if len(got) < len(synced) {
				t.Fatalf("cut %d + %s: lost synced records (%d of %d)", cut, fill.name, len(got), len(synced))
			}
			checkEntries(t, got, want)
			if rec.Offset != 0 && int(rec.Offset)+int(rec.TruncatedBytes) != len(content) {
				t.Fatalf("cut %d + %s: recovery %+v does not cover the tail", cut, fill.name, rec)
			}
			l.Close()
		}
	}
}
