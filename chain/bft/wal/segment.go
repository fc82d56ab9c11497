package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// Sizes and constants of the on-disk format (see the package comment).
const (
	// MaxRecordSize is the largest payload one record may carry. A frame whose length
	// field is larger is damage, never a record. It bounds the biggest consensus input
	// (a proposal carrying a whole block), so block size limits must stay below it.
	MaxRecordSize = 32 << 20

	// Version is the segment format version this package writes and reads.
	Version = 1

	headerSize      = 32 // magic(8) version(4) seq(8) height(8) crc(4)
	frameHeaderSize = 8  // length(4) crc(4)
	segmentSuffix   = ".wal"
	tempSuffix      = ".wal.tmp"
	nameDigits      = 20 // decimal digits of a segment's height in its file name
)

// magic opens every segment file.
var magic = [8]byte{'U', 'R', 'N', 'A', '-', 'W', 'A', 'L'}

// castagnoli is the CRC-32C table (hardware accelerated on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors, matched with errors.Is. Errors about damage on disk are
// *CorruptionError values that wrap one of ErrCorruptRecord, ErrBadHeader or
// ErrMissingSegment and name the file and offset.
var (
	// ErrCorruptRecord: a record fails its framing or checksum and it is not a torn
	// tail: valid data follows it, or it is in a segment other than the last.
	ErrCorruptRecord = errors.New("wal: corrupt record")
	// ErrBadHeader: a segment file's header is short, has a wrong magic, version or
	// checksum, or disagrees with the file's name; or a segment file name is malformed.
	ErrBadHeader = errors.New("wal: bad segment header")
	// ErrMissingSegment: the segment sequence has a gap, or Replay was asked for a
	// height older than the oldest segment.
	ErrMissingSegment = errors.New("wal: missing segment")
	// ErrRecordTooLarge: Append was given more than MaxRecordSize bytes.
	ErrRecordTooLarge = errors.New("wal: record too large")
	// ErrNoSegment: Append before the first StartHeight.
	ErrNoSegment = errors.New("wal: no segment started")
	// ErrHeightRegress: StartHeight with a height lower than the current segment's.
	ErrHeightRegress = errors.New("wal: height goes backwards")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("wal: log closed")
)

// CorruptionError locates damage found on disk. Err is one of the sentinels above,
// so errors.Is(err, ErrCorruptRecord) works through it.
type CorruptionError struct {
	Path   string // the segment file
	Offset int64  // byte offset in the file where the damage starts
	Reason string // what is wrong, for a human
	Err    error  // the sentinel
}

// Error names the sentinel, the file, the offset and the reason.
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d: %s", e.Err, e.Path, e.Offset, e.Reason)
}

// Unwrap returns the sentinel.
func (e *CorruptionError) Unwrap() error { return e.Err }

// segmentHeader is the fixed header of a segment file.
type segmentHeader struct {
	seq    uint64 // 1 for the first segment of a log, +1 for each later one
	height uint64 // the consensus height whose inputs this segment holds
}

func encodeHeader(h segmentHeader) []byte {
	b := make([]byte, headerSize)
	copy(b[0:8], magic[:])
	binary.BigEndian.PutUint32(b[8:12], Version)
	binary.BigEndian.PutUint64(b[12:20], h.seq)
	binary.BigEndian.PutUint64(b[20:28], h.height)
	binary.BigEndian.PutUint32(b[28:32], crc32.Checksum(b[0:28], castagnoli))
	return b
}

func decodeHeader(path string, data []byte) (segmentHeader, error) {
	bad := func(reason string) error {
		return &CorruptionError{Path: path, Offset: 0, Reason: reason, Err: ErrBadHeader}
	}
	if len(data) < headerSize {
		return segmentHeader{}, bad(fmt.Sprintf("file is %d bytes, shorter than the %d-byte header", len(data), headerSize))
	}
	if [8]byte(data[0:8]) != magic {
		return segmentHeader{}, bad(fmt.Sprintf("magic is %q, want %q", data[0:8], magic[:]))
	}
	if got, want := binary.BigEndian.Uint32(data[28:32]), crc32.Checksum(data[0:28], castagnoli); got != want {
		return segmentHeader{}, bad(fmt.Sprintf("header checksum is %08x, computed %08x", got, want))
	}
	if v := binary.BigEndian.Uint32(data[8:12]); v != Version {
		return segmentHeader{}, bad(fmt.Sprintf("version %d, this build reads version %d", v, Version))
	}
	h := segmentHeader{seq: binary.BigEndian.Uint64(data[12:20]), height: binary.BigEndian.Uint64(data[20:28])}
	if h.seq == 0 {
		return segmentHeader{}, bad("sequence number 0")
	}
	return h, nil
}

// appendFrame appends rec to dst as one framed record.
func appendFrame(dst, rec []byte) []byte {
	var hdr [frameHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(rec)))
	crc := crc32.Update(crc32.Checksum(hdr[0:4], castagnoli), castagnoli, rec)
	binary.BigEndian.PutUint32(hdr[4:8], crc)
	dst = append(dst, hdr[:]...)
	return append(dst, rec...)
}

// frameAt checks the frame starting at off. It returns the payload and the offset
// just past the frame, or a reason why there is no valid frame there.
func frameAt(data []byte, off int) (payload []byte, next int, reason string) {
	rest := len(data) - off
	if rest < frameHeaderSize {
		return nil, 0, fmt.Sprintf("incomplete frame header: %d of %d bytes", rest, frameHeaderSize)
	}
	n := binary.BigEndian.Uint32(data[off : off+4])
	if n > MaxRecordSize {
		return nil, 0, fmt.Sprintf("length %d exceeds the maximum %d", n, MaxRecordSize)
	}
	if int64(n) > int64(rest-frameHeaderSize) {
		return nil, 0, fmt.Sprintf("length %d runs past the end of the file (%d bytes left)", n, rest-frameHeaderSize)
	}
	end := off + frameHeaderSize + int(n)
	want := binary.BigEndian.Uint32(data[off+4 : off+8])
	got := crc32.Update(crc32.Checksum(data[off:off+4], castagnoli), castagnoli, data[off+frameHeaderSize:end])
	if got != want {
		return nil, 0, fmt.Sprintf("record checksum is %08x, computed %08x", want, got)
	}
	return data[off+frameHeaderSize : end : end], end, ""
}

// parsedSegment is the result of reading one segment file.
type parsedSegment struct {
	header  segmentHeader
	records [][]byte // payloads, sub-slices of the file's bytes, in order
	end     int      // offset just past the last valid record
}

// readSegment parses a whole segment file. If allowTorn is set (the last segment of
// the log), a bad frame with no valid frame anywhere after it is a torn tail: the
// result stops before it and end < len(data). Any other bad frame is an error.
//
// Finding "no valid frame after" tries every later offset. That is linear in the
// tail's size for ordinary damage (garbage lengths are almost always implausible, and
// zero-filled tails fail cheaply) and only slow for a file crafted to defeat it.
func readSegment(path string, data []byte, allowTorn bool) (parsedSegment, error) {
	h, err := decodeHeader(path, data)
	if err != nil {
		return parsedSegment{}, err
	}
	p := parsedSegment{header: h}
	off := headerSize
	for off < len(data) {
		payload, next, reason := frameAt(data, off)
		if reason == "" {
			p.records = append(p.records, payload)
			off = next
			continue
		}
		if !allowTorn {
			return parsedSegment{}, &CorruptionError{Path: path, Offset: int64(off), Err: ErrCorruptRecord,
				Reason: reason + " (not the last segment, so this is not a torn write)"}
		}
		for q := off + 1; q+frameHeaderSize <= len(data); q++ {
			if _, _, r := frameAt(data, q); r == "" {
				return parsedSegment{}, &CorruptionError{Path: path, Offset: int64(off), Err: ErrCorruptRecord,
					Reason: fmt.Sprintf("%s, but a valid record follows at offset %d", reason, q)}
			}
		}
		break // torn tail
	}
	p.end = off
	return p, nil
}

// segmentName is the file name of the segment for height.
func segmentName(height uint64) string {
	return fmt.Sprintf("%0*d%s", nameDigits, height, segmentSuffix)
}

// parseSegmentName returns the height named by a segment file name, accepting only
// the exact form segmentName writes.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != nameDigits {
		return 0, false
	}
	h, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || segmentName(h) != name {
		return 0, false
	}
	return h, true
}
