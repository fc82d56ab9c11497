package mesh

import (
	"errors"
	"fmt"
)

// helloVersion is the mesh protocol version a hello carries.
const helloVersion = 1

// helloSize is the size of a hello frame's payload: version (1 byte) and
// network id (32 bytes).
const helloSize = 1 + 32

// ErrBadHello reports a control stream whose hello is malformed.
var ErrBadHello = errors.New("malformed mesh hello")

// hello is the first and only frame of a connection's control stream: the
// protocol version and the network (election) the sender belongs to.
type hello struct {
	Version uint8
	Network [32]byte
}

func (h hello) encode() []byte {
	b := make([]byte, 0, helloSize)
	b = append(b, h.Version)
	return append(b, h.Network[:]...)
}

func decodeHello(b []byte) (hello, error) {
	if len(b) != helloSize {
		return hello{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadHello, len(b), helloSize)
	}
	h := hello{Version: b[0], Network: [32]byte(b[1:])}
	if h.Version != helloVersion {
		return hello{}, fmt.Errorf("%w: version %d, this node speaks %d", ErrBadHello, h.Version, helloVersion)
	}
	return h, nil
}
