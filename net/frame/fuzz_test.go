package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader: no input panics the reader, every frame it returns is within
// the limit, and what it returns re-encodes to a prefix of the input.
func FuzzReader(f *testing.F) {
	f.Add(Append(Append(nil, []byte("a")), []byte("bc")), 16)
	f.Add([]byte{0, 0, 0, 3, 1}, 16)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 16)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		limit = limit & 0xffff
		r := NewReader(bytes.NewReader(in), limit)
		var again []byte
		for {
			p, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(p) > limit {
				t.Fatalf("frame of %d bytes above limit %d", len(p), limit)
			}
			again = Append(again, p)
		}
		if !bytes.HasPrefix(in, again) {
			t.Fatal("frames read do not re-encode to the input")
		}
	})
}
