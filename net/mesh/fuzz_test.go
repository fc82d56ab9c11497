package mesh

import (
	"bytes"
	"testing"
)

// FuzzHello: no input panics the hello decoder, and what it accepts
// re-encodes to the same bytes.
func FuzzHello(f *testing.F) {
	f.Add(hello{Version: helloVersion, Network: testNetwork}.encode())
	f.Add([]byte{2})
	f.Add(make([]byte, helloSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHello(b)
		if err != nil {
			return
		}
		if !bytes.Equal(h.encode(), b) {
			t.Fatalf("hello %x re-encodes to %x", b, h.encode())
		}
	})
}
