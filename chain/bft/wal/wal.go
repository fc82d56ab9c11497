// Package wal is the consensus write-ahead log: an append-only log of opaque records
// (the consensus core's inputs), grouped by consensus height, that survives crashes.
//
// # Intended use
//
// The node loop owns one Log per directory and calls it in this order:
//
//	l, rec, err := wal.Open(dir)          // repairs a torn tail; rec says what was cut
//	err = l.Replay(committed+1, feedCore) // inputs of the height in progress, in order
//	err = l.StartHeight(core.Height())    // no-op if that segment is already current
//	for each input {
//		l.Append(input, ready's messages...) // one group, buffered, cheap
//		if the core's Ready has messages {
//			l.Sync()                      // flush + fsync BEFORE any signed message leaves
//		}
//		if the Ready has a commit {
//			apply and store the block     // the store, not the WAL, says what is committed
//			l.StartHeight(core.Height())  // syncs and closes the old segment, starts the next
//			l.TruncateBefore(h)           // optional: drop segments older than h
//		}
//	}
//	l.Close()
//
// Records appended but not yet synced may be lost in a crash; they are never
// corrupted into something else, and nothing after a lost record survives it.
// After any I/O error the Log is unusable (every call returns that error): a failed
// write or fsync leaves the file in an unknown state, and only a fresh Open, which
// reads and checks what is really on disk, may go on.
//
// # Format
//
// A log is a directory of segment files, one per consensus height, named by the
// height as 20 decimal digits: 00000000000000000042.wal. All integers are big-endian.
// A segment file is a header followed by records:
//
//	header (32 bytes):
//	  0  8  magic "URNA-WAL"
//	  8  4  version, 1
//	  12 8  sequence number: 1 for the first segment of a log, +1 for each next one
//	  20 8  height (must equal the height in the file name)
//	  28 4  CRC-32C (Castagnoli) of bytes 0..28
//	record (8 + n bytes), repeated to the end of the file:
//	  0  4  n, the payload length, at most MaxRecordSize
//	  4  4  CRC-32C of the 4 length bytes followed by the payload
//	  8  n  payload
//
// A new segment is written to NAME.wal.tmp with its header, fsynced, renamed to
// NAME.wal, and the directory fsynced; so a segment file either does not exist or
// has a complete header. Open removes leftover .wal.tmp files. Other files in the
// directory are ignored; a *.wal file whose name is not in the exact form above is
// an error.
//
// # Damage
//
// Open reads and checks every segment. A bad frame (short, too long, past the end of
// the file, or failing its checksum) at the end of the last segment, with no valid
// frame starting at any later offset, is a torn write: Open truncates it (and fsyncs)
// and reports the bytes dropped in Recovery. Anything else is a loud error: a
// *CorruptionError naming the file and offset, wrapping ErrCorruptRecord (a bad
// record followed by valid data, or a bad record in any segment but the last, since
// those were fsynced before the next segment was created), ErrBadHeader, or
// ErrMissingSegment (a gap in the sequence numbers). No record is ever skipped.
//
// The log cannot tell lost oldest segments from segments removed by TruncateBefore;
// Replay refuses a starting height older than the oldest segment, which catches a
// store that went backwards.
package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// fsync makes a file's or directory's content durable. Tests replace it to record
// what is fsynced, and in which order.
var fsync = (*os.File).Sync

// flushThreshold bounds the bytes Append keeps in memory before writing them to
// the file (without fsync).
const flushThreshold = 1 << 20

// Recovery tells what Open had to repair.
type Recovery struct {
	// TruncatedBytes is the size of the torn tail cut from the last segment; 0 if
	// the log was clean.
	TruncatedBytes int64
	// File and Offset locate the cut (the file's new length); empty and 0 if none.
	File   string
	Offset int64
}

// segment is a segment file present in the directory.
type segment struct {
	height uint64
	seq    uint64
}

// Log is an open write-ahead log. Its methods are safe for concurrent use, though the
// intended caller is a single event loop.
type Log struct {
	mu     sync.Mutex
	dir    string
	segs   []segment // ascending height; the last one is open for appending
	f      *os.File  // the last segment, or nil if there is none
	buf    []byte    // framed records not yet written to f
	dirty  bool      // bytes written to f since its last fsync
	err    error     // sticky: set by the first I/O failure
	closed bool
}

// Open opens the log in dir, creating the directory if needed. It checks every
// segment, truncates a torn tail of the last one (reported in Recovery), and fails
// with a *CorruptionError on any other damage.
func Open(dir string) (*Log, Recovery, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, Recovery{}, fmt.Errorf("wal: create %s: %w", dir, err)
		}
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, Recovery{}, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var segs []segment
	removedTemp := false
	for _, e := range entries { // ReadDir sorts by name, and names sort by height
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tempSuffix):
			// A segment whose creation crashed before its rename: never part of the log.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, Recovery{}, fmt.Errorf("wal: remove leftover %s: %w", name, err)
			}
			removedTemp = true
		case strings.HasSuffix(name, segmentSuffix):
			h, ok := parseSegmentName(name)
			if !ok {
				return nil, Recovery{}, &CorruptionError{Path: filepath.Join(dir, name), Err: ErrBadHeader,
					Reason: fmt.Sprintf("file name is not a height of %d digits followed by %s", nameDigits, segmentSuffix)}
			}
			segs = append(segs, segment{height: h})
		}
	}
	if removedTemp {
		if err := syncDir(dir); err != nil {
			return nil, Recovery{}, err
		}
	}

	var rec Recovery
	for i := range segs {
		path := filepath.Join(dir, segmentName(segs[i].height))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, Recovery{}, fmt.Errorf("wal: read %s: %w", path, err)
		}
		last := i == len(segs)-1
		p, err := readSegment(path, data, last)
		if err != nil {
			return nil, Recovery{}, err
		}
		if p.header.height != segs[i].height {
			return nil, Recovery{}, &CorruptionError{Path: path, Offset: 20, Err: ErrBadHeader,
				Reason: fmt.Sprintf("header says height %d, file name says %d", p.header.height, segs[i].height)}
		}
		segs[i].seq = p.header.seq
		if i > 0 && segs[i].seq != segs[i-1].seq+1 {
			return nil, Recovery{}, &CorruptionError{Path: path, Offset: 12, Err: ErrMissingSegment,
				Reason: fmt.Sprintf("sequence number %d follows %d in %s: a segment between them is missing",
					segs[i].seq, segs[i-1].seq, segmentName(segs[i-1].height))}
		}
		if last && p.end < len(data) {
			if err := truncateFile(path, int64(p.end)); err != nil {
				return nil, Recovery{}, err
			}
			rec = Recovery{TruncatedBytes: int64(len(data) - p.end), File: path, Offset: int64(p.end)}
		}
	}

	l := &Log{dir: dir, segs: segs}
	if len(segs) > 0 {
		path := filepath.Join(dir, segmentName(segs[len(segs)-1].height))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, Recovery{}, fmt.Errorf("wal: open %s for append: %w", path, err)
		}
		// What a crashed process wrote without fsync survived in the page cache and
		// will be replayed, and the messages it holds may be sent again: make it
		// durable first.
		if err := fsync(f); err != nil {
			f.Close()
			return nil, Recovery{}, fmt.Errorf("wal: fsync %s: %w", path, err)
		}
		l.f = f
	}
	return l, rec, nil
}

// Height returns the height of the current segment (the one Append writes to), and
// false if there is none yet.
func (l *Log) Height() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return 0, false
	}
	return l.segs[len(l.segs)-1].height, true
}

// Heights returns the heights of all segments in the log, ascending.
func (l *Log) Heights() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	hs := make([]uint64, len(l.segs))
	for i, s := range l.segs {
		hs[i] = s.height
	}
	return hs
}

// Append adds records, in order, to the current segment as one group. It is
// buffered: the records are durable only after the next Sync (or StartHeight or
// Close). A group is never split by a flush: when the buffer grows past its
// threshold it is written out after the whole group, so a crashed process leaves
// either all of a group in the file or none of it. (The caller logs an input with
// the messages it produced as one group: the input must not become durable
// without them. A power cut can still keep a prefix of what was not synced; nothing
// of it has left the node.) Either every record is appended or, if one is too
// large, none.
func (l *Log) Append(records ...[]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	for _, r := range records {
		if len(r) > MaxRecordSize {
			return fmt.Errorf("%w: %d bytes, the maximum is %d", ErrRecordTooLarge, len(r), MaxRecordSize)
		}
	}
	if l.f == nil {
		return ErrNoSegment
	}
	for _, r := range records {
		l.buf = appendFrame(l.buf, r)
	}
	if len(l.buf) >= flushThreshold {
		return l.flush()
	}
	return nil
}

// Sync writes buffered records and fsyncs the current segment. Call it before any
// message signed in response to the appended inputs leaves the node.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	return l.sync()
}

// StartHeight makes height's segment the current one. If it already is, it does
// nothing (so calling it after every Open and every commit is always right). Else
// it syncs and closes the current segment and durably creates the new one. height
// must not be lower than the current segment's (ErrHeightRegress); it may skip
// heights (after block sync).
func (l *Log) StartHeight(height uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	seq := uint64(1)
	if n := len(l.segs); n > 0 {
		cur := l.segs[n-1]
		if height == cur.height {
			return nil
		}
		if height < cur.height {
			return fmt.Errorf("%w: start height %d, current segment is height %d", ErrHeightRegress, height, cur.height)
		}
		// The old segment is complete and fsynced before the next exists: damage in
		// any segment but the last can then never be a torn write.
		if err := l.sync(); err != nil {
			return err
		}
		if err := l.f.Close(); err != nil {
			return l.fail(fmt.Errorf("wal: close segment %d: %w", cur.height, err))
		}
		l.f = nil
		seq = cur.seq + 1
	}
	f, err := l.createSegment(segmentHeader{seq: seq, height: height})
	if err != nil {
		return l.fail(err)
	}
	l.f = f
	l.segs = append(l.segs, segment{height: height, seq: seq})
	return nil
}

// createSegment writes a new segment file durably (temp file, fsync, rename, fsync
// directory) and returns it open for appending.
func (l *Log) createSegment(h segmentHeader) (*os.File, error) {
	final := filepath.Join(l.dir, segmentName(h.height))
	tmp := final + ".tmp"
	if err := writeFileSync(tmp, encodeHeader(h)); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("wal: rename %s: %w", tmp, err)
	}
	if err := syncDir(l.dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(final, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", final, err)
	}
	return f, nil
}

// TruncateBefore removes every segment with a height lower than height, except the
// current one. Segments are removed oldest first, each removal made durable before
// the next, so a crash in the middle leaves a log without gaps.
func (l *Log) TruncateBefore(height uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	for len(l.segs) > 1 && l.segs[0].height < height {
		path := filepath.Join(l.dir, segmentName(l.segs[0].height))
		if err := os.Remove(path); err != nil {
			return l.fail(fmt.Errorf("wal: remove %s: %w", path, err))
		}
		if err := syncDir(l.dir); err != nil {
			return l.fail(err)
		}
		l.segs = l.segs[1:]
	}
	return nil
}

// Replay calls fn, in log order, for every record of every segment whose height is at
// least from, passing the segment's height. Each record slice is fn's to keep. It
// re-reads the files (after writing any buffered records) and checks every record
// again; any damage is an error, and an error from fn stops the replay and is
// returned wrapped. from older than the oldest segment is ErrMissingSegment. fn must
// not call the Log.
func (l *Log) Replay(from uint64, fn func(height uint64, record []byte) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.flush(); err != nil {
		return err
	}
	if len(l.segs) > 0 && from < l.segs[0].height {
		return &CorruptionError{Path: filepath.Join(l.dir, segmentName(l.segs[0].height)), Err: ErrMissingSegment,
			Reason: fmt.Sprintf("replay from height %d, but the oldest segment is height %d", from, l.segs[0].height)}
	}
	for _, s := range l.segs {
		if s.height < from {
			continue
		}
		path := filepath.Join(l.dir, segmentName(s.height))
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("wal: read %s: %w", path, err)
		}
		// Open cut any torn tail, and since then only whole frames were written.
		p, err := readSegment(path, data, false)
		if err != nil {
			return err
		}
		if p.header.seq != s.seq || p.header.height != s.height {
			return &CorruptionError{Path: path, Err: ErrBadHeader,
				Reason: fmt.Sprintf("header changed since open: seq %d height %d", p.header.seq, p.header.height)}
		}
		for i, r := range p.records {
			if err := fn(s.height, r); err != nil {
				return fmt.Errorf("wal: replay %s record %d: %w", path, i, err)
			}
		}
	}
	return nil
}

// Close syncs and closes the log. Further calls return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	if l.f == nil {
		return l.err
	}
	err := l.err
	if err == nil {
		err = l.sync()
	}
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("wal: close: %w", cerr)
	}
	l.f = nil
	return err
}

// Abandon closes the log as a crash would: records appended since the last
// Sync are dropped, not written. It exists for crash tests of the code that
// drives the log; a running node calls Close.
func (l *Log) Abandon() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// fail records the first I/O error; the Log refuses all work after it.
func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = err
	}
	return err
}

// flush writes the buffer to the current segment without fsync.
func (l *Log) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.f.Write(l.buf); err != nil {
		return l.fail(fmt.Errorf("wal: write segment: %w", err))
	}
	l.buf = l.buf[:0]
	l.dirty = true
	return nil
}

// sync flushes and fsyncs the current segment, skipping the fsync if nothing was
// written since the last one.
func (l *Log) sync() error {
	if l.f == nil {
		return nil
	}
	if err := l.flush(); err != nil {
		return err
	}
	if !l.dirty {
		return nil
	}
	if err := fsync(l.f); err != nil {
		return l.fail(fmt.Errorf("wal: fsync segment: %w", err))
	}
	l.dirty = false
	return nil
}

// writeFileSync creates (or replaces) path with data and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: write %s: %w", path, err)
	}
	return nil
}

// truncateFile cuts path to size and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: open %s to cut torn tail: %w", path, err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = fsync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: cut torn tail of %s at %d: %w", path, size, err)
	}
	return nil
}

// syncDir fsyncs a directory so that file creations, renames and removals in it
// survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: open directory %s: %w", dir, err)
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: fsync directory %s: %w", dir, err)
	}
	return nil
}
