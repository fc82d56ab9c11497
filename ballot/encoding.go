package ballot

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Everything in ballot that is hashed, signed or sent is encoded as
// deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding) with
// structs as arrays in field order. Decoding is strict, and on top of the
// library's checks the input must re-encode to exactly the same bytes, so
// that one value has one encoding and one hash.

// ErrEncoding reports bytes that are not the canonical encoding of the
// expected message.
var ErrEncoding = errors.New("not a canonical encoding")

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	// A nil and an empty list (or byte string) must not have two encodings:
	// both encode as the empty one, and a CBOR null where a list belongs is
	// refused by the re-encoding check.
	eo.NilContainers = cbor.NilContainerAsEmpty
	var err error
	encMode, err = eo.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   16,
		MaxArrayElements:  1 << 20,
		MaxMapPairs:       1 << 10,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// marshal encodes v canonically. Values of this package always encode.
func marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ballot: encoding %T: %v", v, err))
	}
	return b
}

// unmarshalStrict decodes data into v and checks that data is exactly the
// canonical encoding of the result (which also rejects trailing bytes and
// byte strings of the wrong length for fixed-size fields).
func unmarshalStrict(data []byte, v any, maxSize int) error {
	if len(data) > maxSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrEncoding, len(data), maxSize)
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	back, err := encMode.Marshal(v)
	if err != nil || !bytes.Equal(back, data) {
		return fmt.Errorf("%w: bytes differ from the canonical re-encoding", ErrEncoding)
	}
	return nil
}

// decodeAs decodes a message of type T strictly, naming it in the error.
func decodeAs[T any](data []byte, what string, maxSize int) (*T, error) {
	var v T
	if err := unmarshalStrict(data, &v, maxSize); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &v, nil
}

// Marshal and Unmarshal are the canonical CBOR codec of this package, for the
// chain's own types that embed ballot values: one encoding everywhere.
func Marshal(v any) []byte { return marshal(v) }

// Unmarshal decodes data strictly into v (see unmarshalStrict); data longer
// than maxSize is rejected before decoding.
func Unmarshal(data []byte, v any, maxSize int) error { return unmarshalStrict(data, v, maxSize) }
