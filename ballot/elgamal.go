package ballot

import (
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
)

// Ciphertext is an exponential ElGamal encryption (α, β) = (g^r, g^m · H^r)
// of a small integer m under the election key H, as it travels and is stored.
// Points are kept encoded; Decode checks them strictly.
type Ciphertext struct {
	_     struct{} `cbor:",toarray"`
	Alpha [PointSize]byte
	Beta  [PointSize]byte
}

// elgamal is a decoded ciphertext.
type elgamal struct {
	alpha, beta kyber.Point
}

func (e elgamal) encode() Ciphertext {
	return Ciphertext{Alpha: EncodePoint(e.alpha), Beta: EncodePoint(e.beta)}
}

// encrypt returns the encryption of m under key with nonce r.
func encrypt(key kyber.Point, m int64, r kyber.Scalar) elgamal {
	alpha := suite.Point().Mul(r, nil)
	beta := suite.Point().Mul(r, key)
	if m != 0 {
		beta.Add(beta, suite.Point().Mul(smallScalar(m), nil))
	}
	return elgamal{alpha, beta}
}

// add returns the homomorphic sum: the encryption of m1+m2.
func (e elgamal) add(o elgamal) elgamal {
	return elgamal{
		alpha: suite.Point().Add(e.alpha, o.alpha),
		beta:  suite.Point().Add(e.beta, o.beta),
	}
}

// zeroCiphertext is the (identity, identity) encryption of 0 with nonce 0,
// the neutral element of add.
func zeroCiphertext() elgamal {
	return elgamal{suite.Point().Null(), suite.Point().Null()}
}

// Encrypt encrypts m under the election key with a fresh nonce from rnd
// (crypto/rand when nil) and returns the ciphertext and its nonce.
func (e *Election) Encrypt(m int64, rnd io.Reader) (Ciphertext, kyber.Scalar, error) {
	r, err := randomScalar(rnd)
	if err != nil {
		return Ciphertext{}, nil, err
	}
	return encrypt(e.Key, m, r).encode(), r, nil
}

// Accumulator adds ciphertexts that were already verified (ballots on the
// chain) without checking them again: the chain keeps one per selection and
// adds each counted ballot as it is applied. It works on
// filippo.io/edwards25519 points, whose decoding and addition are the
// cheapest available: applying a block is dominated by these additions.
type Accumulator struct {
	alpha, beta *edwards25519.Point
}

// NewAccumulator starts a sum at the encryption of 0 (the identity pair).
func NewAccumulator() *Accumulator {
	return &Accumulator{alpha: edwards25519.NewIdentityPoint(), beta: edwards25519.NewIdentityPoint()}
}

// AccumulatorFrom restarts a sum from a stored total, which may be the
// identity pair (no ballots yet). The total is decoded strictly.
func AccumulatorFrom(c Ciphertext) (*Accumulator, error) {
	a, err := decodeStrict(c.Alpha[:], true)
	if err != nil {
		return nil, fmt.Errorf("alpha: %w", err)
	}
	b, err := decodeStrict(c.Beta[:], true)
	if err != nil {
		return nil, fmt.Errorf("beta: %w", err)
	}
	return &Accumulator{alpha: a, beta: b}, nil
}

// Add adds one ciphertext that was already verified (its ballot passed
// VerifyBallot). It skips the subgroup checks that verification did, which
// are most of the cost of decoding; it still refuses bytes that are not a
// curve point.
func (a *Accumulator) Add(c Ciphertext) error {
	var alpha, beta edwards25519.Point
	if _, err := alpha.SetBytes(c.Alpha[:]); err != nil {
		return ErrPointEncoding
	}
	if _, err := beta.SetBytes(c.Beta[:]); err != nil {
		return ErrPointEncoding
	}
	a.alpha.Add(a.alpha, &alpha)
	a.beta.Add(a.beta, &beta)
	return nil
}

// Total is the current sum.
func (a *Accumulator) Total() Ciphertext {
	return Ciphertext{Alpha: [PointSize]byte(a.alpha.Bytes()), Beta: [PointSize]byte(a.beta.Bytes())}
}
