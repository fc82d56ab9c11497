// Package record writes and reads the election record: the whole chain of an
// election as one streamable file, which is what an auditor verifies.
//
// Layout. A header line, then frames until an end frame:
//
//	"urna election record v1\n"
//	frame = kind (1 byte) | length (u32, big-endian) | payload (length bytes)
//
// Kinds, in the order they must appear:
//
//	'G' genesis      the canonical genesis.json bytes (its SHA-256 is the fingerprint)
//	'R' voter roll   the roll file bytes (its SHA-256 is in the genesis)
//	'B' block        canonical block bytes, heights 1, 2, 3, … in order, each followed by
//	'C' certificate  the commit certificate of the block just before it
//	'E' end          u64 big-endian: the height of the last block
//
// Every byte of a record is covered by a hash or a signature that Replay
// checks: the genesis by the fingerprint the verifier expects, the roll by
// the genesis, each block by the hash chain and by its certificate's
// signatures (and the next block's), each certificate by the stations'
// signatures. The framing itself is checked strictly: a wrong kind, an
// oversized or truncated frame, or a missing end is an error.
package record

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Header starts every record.
const Header = "urna election record v1\n"

// Frame kinds.
const (
	KindGenesis     byte = 'G'
	KindRoll        byte = 'R'
	KindBlock       byte = 'B'
	KindCertificate byte = 'C'
	KindEnd         byte = 'E'
)

// MaxFrame bounds one frame's payload (a roll of ten million voters is about
// 650 MB; blocks are far smaller).
const MaxFrame = 1 << 30

// ErrFormat reports a record that is not well-formed.
var ErrFormat = errors.New("malformed election record")

// Writer writes a record.
type Writer struct {
	w   *bufio.Writer
	err error
}

// NewWriter writes the header and returns a Writer.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 1<<20)
	_, err := bw.WriteString(Header)
	return &Writer{w: bw, err: err}
}

// Frame writes one frame.
func (w *Writer) Frame(kind byte, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	if len(payload) > MaxFrame {
		w.err = fmt.Errorf("record: %c frame of %d bytes exceeds %d", kind, len(payload), MaxFrame)
		return w.err
	}
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.w.Write(hdr[:]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(payload); err != nil {
		w.err = err
	}
	return w.err
}

// End writes the end frame and flushes.
func (w *Writer) End(height uint64) error {
	if err := w.Frame(KindEnd, binary.BigEndian.AppendUint64(nil, height)); err != nil {
		return err
	}
	return w.w.Flush()
}

// Reader reads a record's frames.
type Reader struct {
	r      *bufio.Reader
	offset int64
}

// NewReader checks the header and returns a Reader.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	hdr := make([]byte, len(Header))
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr) != Header {
		return nil, fmt.Errorf("%w: does not start with %q", ErrFormat, Header[:len(Header)-1])
	}
	return &Reader{r: br, offset: int64(len(Header))}, nil
}

// Next reads the next frame, which must be of the expected kind.
func (r *Reader) Next(want byte) ([]byte, error) {
	kind, payload, err := r.next()
	if err != nil {
		return nil, err
	}
	if kind != want {
		return nil, fmt.Errorf("%w: at byte %d: %q frame, want %q", ErrFormat, r.offset, kind, want)
	}
	return payload, nil
}

// Peek returns the kind of the next frame without reading it.
func (r *Reader) Peek() (byte, error) {
	b, err := r.r.Peek(1)
	if err != nil {
		return 0, fmt.Errorf("%w: at byte %d: record ends without an end frame", ErrFormat, r.offset)
	}
	return b[0], nil
}

func (r *Reader) next() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: at byte %d: record ends without an end frame", ErrFormat, r.offset)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: at byte %d: %q frame of %d bytes exceeds %d", ErrFormat, r.offset, hdr[0], n, MaxFrame)
	}
	payload := make([]byte, 0, min(int(n), 1<<20))
	buf := make([]byte, 1<<16)
	for remaining := int(n); remaining > 0; {
		k, err := io.ReadFull(r.r, buf[:min(remaining, len(buf))])
		payload = append(payload, buf[:k]...)
		remaining -= k
		if err != nil {
			return 0, nil, fmt.Errorf("%w: at byte %d: %q frame truncated", ErrFormat, r.offset, hdr[0])
		}
	}
	r.offset += 5 + int64(n)
	return hdr[0], payload, nil
}

// Offset is the number of bytes read so far.
func (r *Reader) Offset() int64 { return r.offset }

// AtEOF reports whether nothing follows.
func (r *Reader) AtEOF() bool {
	_, err := r.r.Peek(1)
	return err == io.EOF
}
