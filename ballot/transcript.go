package ballot

import (
	"crypto/sha512"
	"encoding/binary"
	"hash"

	"filippo.io/edwards25519"
)

// transcript builds the strong Fiat–Shamir challenge of a proof. It hashes,
// with SHA-512, a sequence of length-prefixed items:
//
//	u32be(len(item)) || item   for every item, in order
//
// starting with the proof's domain tag, then the election fingerprint and
// key, the ids of what is being proved (contest, selection, station), the
// whole statement (every input and output point) and every commitment. The
// digest is reduced mod ℓ. Hashing the statement is what makes the proof
// bound to it: a proof made for one ciphertext cannot be replayed for
// another (the flaw of weak Fiat–Shamir found in Helios).
//
// docs/crypto.md lists the items of every proof, so that a verifier can be
// written in another language.
type transcript struct {
	h hash.Hash
}

func newTranscript(tag string) *transcript {
	t := &transcript{h: sha512.New()}
	t.bytes([]byte(tag))
	return t
}

func (t *transcript) bytes(b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	t.h.Write(n[:])
	t.h.Write(b)
}

func (t *transcript) str(s string) { t.bytes([]byte(s)) }

func (t *transcript) u32(v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	t.bytes(b[:])
}

// point hashes an encoded point. Verifiers pass the bytes they received, so
// no point is re-encoded on the verification path.
func (t *transcript) point(b [PointSize]byte) { t.bytes(b[:]) }

func (t *transcript) challenge() *edwards25519.Scalar {
	var d [sha512.Size]byte
	t.h.Sum(d[:0])
	c, err := edwards25519.NewScalar().SetUniformBytes(d[:])
	if err != nil {
		panic(err) // 64 bytes always fit
	}
	return c
}
