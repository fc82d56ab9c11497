package frame

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	payloads := [][]byte{{}, []byte("vote"), bytes.Repeat([]byte{7}, 3*growStep+5)}
	for _, p := range payloads {
		if err := Write(&buf, p); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf, 1<<20)
	for i, want := range payloads {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		limit int
		want  error
	}{
		{"over the limit", Append(nil, make([]byte, 11)), 10, ErrTooLarge},
		{"declares 4 GiB", []byte{0xff, 0xff, 0xff, 0xff}, MaxLimit, ErrTooLarge},
		{"truncated header", []byte{0, 0}, 10, ErrTruncated},
		{"truncated payload", []byte{0, 0, 0, 5, 1, 2}, 10, ErrTruncated},
		{"truncated large payload", append([]byte{0, 2, 0, 0}, make([]byte, growStep+1)...), 1 << 20, ErrTruncated},
	}
	for _, c := range cases {
		_, err := NewReader(bytes.NewReader(c.in), c.limit).Next()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// A frame that declares a large size but sends little costs the reader
// memory in proportion to what arrived, not to what was declared.
func TestReaderMemoryFollowsArrival(t *testing.T) {
	in := append([]byte{0x10, 0, 0, 0}, make([]byte, 100)...) // declares 256 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewReader(bytes.NewReader(in), MaxLimit).Next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("a frame that declared 256 MiB and sent 100 bytes cost %d bytes", grew)
	}
}
