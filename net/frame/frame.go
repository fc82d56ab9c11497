// Package frame reads and writes the length-prefixed frames that every
// stream of urna's network protocols carries:
//
//	frame = length (u32, big-endian) | payload (length bytes)
//
// A reader is given a hard limit: a frame that declares more is refused
// before any of its payload is read, and the payload's memory grows only as
// its bytes arrive, so a peer cannot make a node allocate what it does not
// send.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderSize is the size of a frame's length prefix.
const HeaderSize = 4

// MaxLimit is the largest limit a Reader accepts (and the largest frame the
// format can carry is 4 GiB − 1; no urna channel comes near either).
const MaxLimit = 1 << 30

// Errors of reading.
var (
	// ErrTooLarge: the frame declares more bytes than the reader's limit.
	ErrTooLarge = errors.New("frame is larger than the limit")
	// ErrTruncated: the stream ended inside a frame.
	ErrTruncated = errors.New("stream ended inside a frame")
)

// Append appends the frame of payload to dst.
func Append(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// Write writes one frame in a single Write call.
func Write(w io.Writer, payload []byte) error {
	if len(payload) > MaxLimit {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(payload))
	}
	_, err := w.Write(Append(make([]byte, 0, HeaderSize+len(payload)), payload))
	return err
}

// growStep is how much payload memory a Reader allocates ahead of the bytes
// that arrived.
const growStep = 64 << 10

// Reader reads frames of at most a limit.
type Reader struct {
	r     io.Reader
	limit int
	hdr   [HeaderSize]byte
}

// NewReader returns a Reader of frames of at most limit bytes (clamped to
// MaxLimit).
func NewReader(r io.Reader, limit int) *Reader {
	return &Reader{r: r, limit: min(max(limit, 0), MaxLimit)}
}

// Next reads the next frame and returns its payload, a new slice the caller
// owns. At a clean end of stream between frames it returns io.EOF; a
// stream that ends inside a frame is ErrTruncated; a frame above the limit
// is ErrTooLarge (nothing of its payload is read: the stream cannot be used
// further). Other errors are the underlying reader's.
func (r *Reader) Next() ([]byte, error) {
	n, err := io.ReadFull(r.r, r.hdr[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, n, HeaderSize)
		}
		return nil, err
	}
	size := binary.BigEndian.Uint32(r.hdr[:])
	if uint64(size) > uint64(r.limit) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, r.limit)
	}
	// Read in steps, so memory follows what actually arrives.
	buf := make([]byte, 0, min(int(size), growStep))
	for len(buf) < int(size) {
		step := min(int(size)-len(buf), growStep)
		if cap(buf)-len(buf) < step {
			nb := make([]byte, len(buf), min(int(size), 2*cap(buf)+step))
			copy(nb, buf)
			buf = nb
		}
		got, err := io.ReadFull(r.r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+got]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: %d of %d payload bytes", ErrTruncated, len(buf), size)
			}
			return nil, err
		}
	}
	return buf, nil
}
