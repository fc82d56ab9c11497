package ballot

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
	kybered "go.dedis.ch/kyber/v3/group/edwards25519"
)

// suite is the prime-order group of Ed25519 (order ℓ = 2^252 + 27742317777372353535851937790883648493)
// as kyber implements it. All voting math happens here.
var suite = kybered.NewBlakeSHA256Ed25519()

// Suite returns the kyber suite urna uses, for packages (the DKG, tests)
// that must hand it to kyber.
func Suite() *kybered.SuiteEd25519 { return suite }

// PointSize and ScalarSize are the encoded sizes of a group element and a scalar.
const (
	PointSize  = 32
	ScalarSize = 32
)

// Errors of point and scalar decoding. Every point and scalar that comes
// from outside goes through one of two decoders, never through kyber's own,
// which accept non-canonical encodings, points outside the prime-order
// subgroup and unreduced scalars: DecodePoint (strict: keys, shares, DKG
// messages) or, for the points inside a ballot, decodeBallotPoint
// (canonical, not of small order; the equations about them are checked with
// the cofactor, see docs/crypto.md §4). Scalars go through DecodeScalar.
var (
	ErrPointEncoding  = errors.New("point is not a canonical curve point encoding")
	ErrPointSmall     = errors.New("point has small order")
	ErrPointSubgroup  = errors.New("point is not in the prime-order subgroup")
	ErrPointIdentity  = errors.New("point is the identity")
	ErrScalarEncoding = errors.New("scalar is not a canonical (reduced) encoding")
)

// order is ℓ, little-endian, as kyber's scalar bytes.
var orderBytes = mustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// DecodePoint decodes a group element strictly: the encoding is canonical
// (it re-encodes to the same bytes), the point is not of small order and it
// lies in the prime-order subgroup. The identity is rejected too: no point
// that urna receives (keys, ciphertext components, shares, commitments) is
// legitimately the identity except with negligible probability. Callers that
// must accept the identity use DecodePointOrIdentity.
func DecodePoint(b []byte) (kyber.Point, error) {
	if _, err := decodeStrict(b, false); err != nil {
		return nil, err
	}
	return kyberPoint(b), nil
}

// DecodePointOrIdentity is DecodePoint without the identity check, for the
// rare values that may honestly be the identity (an aggregate of zero
// ballots, g^0 in a tally).
func DecodePointOrIdentity(b []byte) (kyber.Point, error) {
	if _, err := decodeStrict(b, true); err != nil {
		return nil, err
	}
	return kyberPoint(b), nil
}

// kyberPoint converts bytes that decodeStrict accepted.
func kyberPoint(b []byte) kyber.Point {
	p := suite.Point()
	if err := p.UnmarshalBinary(b); err != nil {
		panic("ballot: kyber refuses a point that passed strict decoding: " + err.Error())
	}
	return p
}

// The checks run on filippo.io/edwards25519, the implementation behind Go's
// crypto/ed25519: same curve, same encoding as kyber's, and several times
// faster. It also makes ballots (in constant time); kyber does the DKG and
// a station's decryption shares.
var (
	fIdentity = edwards25519.NewIdentityPoint()
	fBase     = edwards25519.NewGeneratorPoint()
	fZero     = edwards25519.NewScalar()
	// ℓ−1 as a (reduced) scalar: [ℓ−1]P = −P exactly when [ℓ]P is the identity.
	orderMinusOne = func() *edwards25519.Scalar {
		b := append([]byte(nil), orderBytes...)
		b[0]--
		s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
		if err != nil {
			panic(err)
		}
		return s
	}()
)

// decodeStrict is the one strict point decoder.
func decodeStrict(b []byte, allowIdentity bool) (*edwards25519.Point, error) {
	if len(b) != PointSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrPointEncoding, len(b), PointSize)
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return nil, ErrPointEncoding
	}
	// SetBytes accepts a y at or above the field prime and an x sign bit on
	// x = 0; a canonical encoding is the only one that re-encodes to itself.
	if string(p.Bytes()) != string(b) {
		return nil, ErrPointEncoding
	}
	if p.Equal(fIdentity) == 1 {
		if allowIdentity {
			return p, nil
		}
		return nil, ErrPointIdentity
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(fIdentity) == 1 {
		return nil, ErrPointSmall
	}
	q := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(orderMinusOne, p, fZero)
	if q.Equal(new(edwards25519.Point).Negate(p)) != 1 {
		return nil, ErrPointSubgroup
	}
	return p, nil
}

// decodeScalarStrict is the one strict scalar decoder.
func decodeScalarStrict(b []byte) (*edwards25519.Scalar, error) {
	if len(b) != ScalarSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrScalarEncoding, len(b), ScalarSize)
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		return nil, ErrScalarEncoding
	}
	return s, nil
}

// DecodeScalar decodes a scalar strictly: 32 bytes, little-endian, value
// below the group order ℓ.
func DecodeScalar(b []byte) (kyber.Scalar, error) {
	if _, err := decodeScalarStrict(b); err != nil {
		return nil, err
	}
	s := suite.Scalar()
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, ErrScalarEncoding
	}
	return s, nil
}

// EncodePoint returns the 32-byte encoding of p.
func EncodePoint(p kyber.Point) [PointSize]byte {
	var out [PointSize]byte
	b, err := p.MarshalBinary()
	if err != nil {
		panic("ballot: cannot encode a point: " + err.Error())
	}
	copy(out[:], b)
	return out
}

// EncodeScalar returns the canonical 32-byte encoding of s.
func EncodeScalar(s kyber.Scalar) [ScalarSize]byte {
	var out [ScalarSize]byte
	b, err := s.MarshalBinary()
	if err != nil {
		panic("ballot: cannot encode a scalar: " + err.Error())
	}
	copy(out[:], b)
	return out
}

// randomScalar draws a uniform scalar: 64 random bytes reduced mod ℓ (the
// bias is below 2^-250).
func randomScalar(r io.Reader) (kyber.Scalar, error) {
	if r == nil {
		r = rand.Reader
	}
	var buf [64]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return nil, fmt.Errorf("ballot: reading randomness: %w", err)
	}
	return suite.Scalar().SetBytes(buf[:]), nil
}

// randomFScalar is randomScalar for filippo.io/edwards25519's arithmetic.
func randomFScalar(r io.Reader) (*edwards25519.Scalar, error) {
	if r == nil {
		r = rand.Reader
	}
	var buf [64]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return nil, fmt.Errorf("ballot: reading randomness: %w", err)
	}
	s, err := edwards25519.NewScalar().SetUniformBytes(buf[:])
	if err != nil {
		panic(err) // 64 bytes always fit
	}
	return s, nil
}

// kyberScalar converts a (reduced) filippo scalar for kyber's arithmetic.
func kyberScalar(s *edwards25519.Scalar) kyber.Scalar {
	k := suite.Scalar()
	if err := k.UnmarshalBinary(s.Bytes()); err != nil {
		panic(err)
	}
	return k
}

// base is the standard generator G.
var base = suite.Point().Base()

// baseBytes is G's encoding, hashed into every proof as part of the statement.
var baseBytes = EncodePoint(base)

// scalarFromUint returns v as a scalar.
func scalarFromUint(v uint64) *edwards25519.Scalar {
	var b [ScalarSize]byte
	binary.LittleEndian.PutUint64(b[:], v)
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}
