package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// segmentBytes builds a well-formed segment file.
func segmentBytes(seq, height uint64, recs ...[]byte) []byte {
	b := encodeHeader(segmentHeader{seq: seq, height: height})
	for _, r := range recs {
		b = appendFrame(b, r)
	}
	return b
}

func TestFrameLengthLimit(t *testing.T) {
	max := make([]byte, MaxRecordSize)
	data := segmentBytes(1, 1, max)
	p, err := readSegment("seg", data, false)
	if err != nil || len(p.records) != 1 || len(p.records[0]) != MaxRecordSize {
		t.Fatalf("a MaxRecordSize record does not read back: %v", err)
	}
	// A frame claiming MaxRecordSize+1 bytes is damage even when the bytes are there
	// and the checksum is right.
	over := appendFrame(encodeHeader(segmentHeader{seq: 1, height: 1}), append(max, 0))
	if _, err := readSegment("seg", over, false); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("oversized frame: %v, want ErrCorruptRecord", err)
	}
}

func TestSegmentNames(t *testing.T) {
	for _, h := range []uint64{0, 1, 42, 1<<64 - 1} {
		got, ok := parseSegmentName(segmentName(h))
		if !ok || got != h {
			t.Fatalf("name of %d does not parse back: %d %v", h, got, ok)
		}
	}
	for _, name := range []string{"", ".wal", "42.wal", "0000000000000000004a.wal", "+0000000000000000042.wal",
		"00000000000000000042.wal.tmp", "00000000000000000042.WAL", "99999999999999999999.wal"} {
		if _, ok := parseSegmentName(name); ok {
			t.Fatalf("parseSegmentName(%q) accepted", name)
		}
	}
}

// TestIOErrorIsSticky: after a failed write the file's content is unknown, so the
// Log must refuse everything (a later write could put valid records after garbage,
// turning a torn tail into middle damage).
func TestIOErrorIsSticky(t *testing.T) {
	l, _, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StartHeight(1); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("x")); err != nil {
		t.Fatal(err)
	}
	l.f.Close() // the next write fails
	first := l.Sync()
	if first == nil {
		t.Fatal("Sync on a closed file succeeded")
	}
	for name, op := range map[string]func() error{
		"Append":         func() error { return l.Append([]byte("y")) },
		"Sync":           l.Sync,
		"StartHeight":    func() error { return l.StartHeight(2) },
		"TruncateBefore": func() error { return l.TruncateBefore(2) },
		"Replay":         func() error { return l.Replay(1, func(uint64, []byte) error { return nil }) },
	} {
		if err := op(); err != first {
			t.Errorf("%s after I/O error = %v, want the first error %v", name, err, first)
		}
	}
}

// FuzzReadSegment feeds arbitrary bytes to the segment reader: it must never panic,
// every error must be a located *CorruptionError, and what it accepts must be exactly
// a header and whole frames that re-encode to the accepted prefix.
func FuzzReadSegment(f *testing.F) {
	good := segmentBytes(3, 7, []byte("alpha"), nil, bytes.Repeat([]byte{0xff}, 100))
	f.Add(good)
	f.Add(good[:len(good)-1])                   // torn
	f.Add(append(good, 0, 0, 0, 0, 0, 0, 0, 0)) // zero tail
	f.Add(good[:headerSize])                    // header only
	f.Add(good[:10])                            // short header
	f.Add([]byte{})
	mid := bytes.Clone(good)
	mid[headerSize+9] ^= 1 // damage the first record, valid ones follow
	f.Add(mid)
	huge := bytes.Clone(good)
	huge[headerSize] = 0xff // absurd length
	f.Add(huge)

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, allowTorn := range []bool{false, true} {
			p, err := readSegment("fuzz", data, allowTorn)
			if err != nil {
				var ce *CorruptionError
				if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > int64(len(data)) {
					t.Fatalf("error %v is not a located CorruptionError", err)
				}
				if !errors.Is(err, ErrCorruptRecord) && !errors.Is(err, ErrBadHeader) {
					t.Fatalf("error %v wraps no expected sentinel", err)
				}
				continue
			}
			if !allowTorn && p.end != len(data) {
				t.Fatalf("strict read accepted %d of %d bytes", p.end, len(data))
			}
			again := segmentBytes(p.header.seq, p.header.height, p.records...)
			if !bytes.Equal(again, data[:p.end]) {
				t.Fatalf("accepted prefix does not re-encode to itself")
			}
		}
	})
}

// TestFsyncPoints records every fsync: each durable step syncs the right file or
// directory, in the right order, and Sync does not fsync when nothing is new.
func TestFsyncPoints(t *testing.T) {
	var got []string
	orig := fsync
	fsync = func(f *os.File) error {
		got = append(got, f.Name())
		return orig(f)
	}
	defer func() { fsync = orig }()
	dir := filepath.Join(t.TempDir(), "wal")
	seg := func(h uint64) string { return filepath.Join(dir, segmentName(h)) }
	step := func(what string, want []string, op func() error) {
		t.Helper()
		got = nil
		if err := op(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s fsynced %q, want %q", what, got, want)
		}
	}
	var l *Log
	step("Open creating the directory", []string{filepath.Dir(dir)}, func() (err error) { l, _, err = Open(dir); return err })
	step("StartHeight(1)", []string{seg(1) + ".tmp", dir}, func() error { return l.StartHeight(1) })
	step("Append", nil, func() error { return l.Append([]byte("a")) })
	step("Sync", []string{seg(1)}, l.Sync)
	step("Sync with nothing new", nil, l.Sync)
	step("Append", nil, func() error { return l.Append([]byte("b")) })
	step("StartHeight(2)", []string{seg(1), seg(2) + ".tmp", dir}, func() error { return l.StartHeight(2) })
	step("StartHeight(3)", []string{seg(3) + ".tmp", dir}, func() error { return l.StartHeight(3) })
	step("TruncateBefore(3)", []string{dir, dir}, func() error { return l.TruncateBefore(3) })
	step("Append", nil, func() error { return l.Append([]byte("c")) })
	step("Close", []string{seg(3)}, l.Close)

	f, err := os.OpenFile(seg(3), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 9, 1}) // a torn frame
	f.Close()
	// The cut, then the last segment as a whole: what a crashed process wrote without
	// fsync is made durable before it is replayed.
	step("Open with torn tail", []string{seg(3), seg(3)}, func() (err error) { l, _, err = Open(dir); return err })
	step("Close", nil, l.Close)
	step("Open clean", []string{seg(3)}, func() (err error) { l, _, err = Open(dir); return err })
	l.Close()
}
