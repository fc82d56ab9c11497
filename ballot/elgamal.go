package ballot

import (
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
)

// Ciphertext is an exponential ElGamal encryption (α, β) = (g^r, g^m · H^r)
// of a small integer m under the election key H, as it travels and is stored.
// Points are kept encoded; verification decodes them (docs/crypto.md §1).
type Ciphertext struct {
	_     struct{} `cbor:",toarray"`
	Alpha [PointSize]byte
	Beta  [PointSize]byte
}

// encrypt returns (r·G, m·G + r·H) for key H, in time independent of m and r.
func encrypt(key *fixedBase, m int, r *edwards25519.Scalar) Ciphertext {
	alpha := new(edwards25519.Point).ScalarBaseMult(r)
	beta := key.mul(r)
	beta.Add(beta, new(edwards25519.Point).ScalarBaseMult(scalarFromUint(uint64(m))))
	return Ciphertext{Alpha: [PointSize]byte(alpha.Bytes()), Beta: [PointSize]byte(beta.Bytes())}
}

// Encrypt encrypts m (a small non-negative integer) under the election key
// with a fresh nonce from rnd (crypto/rand when nil) and returns the
// ciphertext and its nonce.
func (e *Election) Encrypt(m int64, rnd io.Reader) (Ciphertext, kyber.Scalar, error) {
	if m < 0 {
		return Ciphertext{}, nil, fmt.Errorf("%w: cannot encrypt %d", ErrCannotProve, m)
	}
	r, err := randomFScalar(rnd)
	if err != nil {
		return Ciphertext{}, nil, err
	}
	return encrypt(e.keyBase(), int(m), r), kyberScalar(r), nil
}

// Accumulator adds ciphertexts that were already verified (ballots on the
// chain) without checking them again: the chain keeps one per selection and
// adds each counted ballot as it is applied. Applying a block is dominated by
// these additions, so they run on the package's own variable-time point
// arithmetic: a decoding and an addition per point.
//
// A ciphertext of a verified ballot may carry a torsion component (its
// proofs are checked with the cofactor, see docs/crypto.md), so a sum may
// too; the tally removes it before decrypting.
type Accumulator struct {
	alpha, beta extPoint
}

// NewAccumulator starts a sum at the encryption of 0 (the identity pair).
func NewAccumulator() *Accumulator {
	a := &Accumulator{}
	a.alpha.setIdentity()
	a.beta.setIdentity()
	return a
}

// AccumulatorFrom restarts a sum from a stored total, which may be the
// identity pair (no ballots yet). The total must be canonical encodings of
// curve points.
func AccumulatorFrom(c Ciphertext) (*Accumulator, error) {
	a, err := decodeExt(&c.Alpha)
	if err != nil {
		return nil, fmt.Errorf("alpha: %w", err)
	}
	b, err := decodeExt(&c.Beta)
	if err != nil {
		return nil, fmt.Errorf("beta: %w", err)
	}
	return &Accumulator{alpha: a, beta: b}, nil
}

// Add adds one ciphertext that was already verified (its ballot passed
// VerifyBallot). It still refuses bytes that are not a canonical curve point.
func (a *Accumulator) Add(c Ciphertext) error {
	alpha, err := decodeExt(&c.Alpha)
	if err != nil {
		return err
	}
	beta, err := decodeExt(&c.Beta)
	if err != nil {
		return err
	}
	a.alpha.addTo(&alpha)
	a.beta.addTo(&beta)
	return nil
}

// AddDecoded adds a ciphertext decoded beforehand (DecodeBallots does it
// for every ballot of a block, on every core).
func (a *Accumulator) AddDecoded(c *DecodedCiphertext) {
	a.alpha.addTo(&c.alpha)
	a.beta.addTo(&c.beta)
}

// DecodedCiphertext is a ciphertext whose points are decoded (canonical
// curve points; a verified ballot's are also not of small order).
type DecodedCiphertext struct {
	alpha, beta extPoint
}

// DecodeCiphertext decodes both points of c.
func DecodeCiphertext(c *Ciphertext) (DecodedCiphertext, error) {
	var d DecodedCiphertext
	var err error
	if d.alpha, err = decodeExt(&c.Alpha); err != nil {
		return d, fmt.Errorf("alpha: %w", err)
	}
	if d.beta, err = decodeExt(&c.Beta); err != nil {
		return d, fmt.Errorf("beta: %w", err)
	}
	return d, nil
}

// Total is the current sum.
func (a *Accumulator) Total() Ciphertext {
	return Ciphertext{Alpha: a.alpha.bytes(), Beta: a.beta.bytes()}
}
