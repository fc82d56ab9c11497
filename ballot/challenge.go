package ballot

import (
	"errors"
	"fmt"
)

// SpoiledBallot is a challenged ballot (Benaloh's cast-or-challenge): the
// voter asked the terminal to prove what it had encrypted, so the terminal
// revealed every nonce and the marks it claims the ballot holds. It is
// published on the chain and never counted. Anyone can check it: every
// ciphertext must be exactly the encryption of the revealed mark with the
// revealed nonce, which catches a terminal that encrypted something other
// than what it showed the voter.
type SpoiledBallot struct {
	_      struct{} `cbor:",toarray"`
	Ballot Ballot
	// Marks[c][s] is the revealed mark (0 or 1) of selection s of contest c.
	Marks [][]uint8
	// Nonces[c][s] is the revealed encryption nonce of that selection.
	Nonces [][][ScalarSize]byte
}

// Errors of spoiled-ballot checks.
var (
	ErrRevealShape    = errors.New("revealed marks or nonces do not match the ballot's shape")
	ErrRevealMark     = errors.New("revealed mark is not 0 or 1")
	ErrRevealNonce    = errors.New("revealed nonce is not a canonical scalar")
	ErrRevealMismatch = errors.New("ciphertext is not the encryption of the revealed mark with the revealed nonce")
)

// Spoil reveals a ballot made by NewBallot, with the choices and nonces the
// terminal kept.
func (e *Election) Spoil(b *Ballot, choices Choices, nonces Nonces) (*SpoiledBallot, error) {
	if err := e.checkChoices(choices); err != nil {
		return nil, err
	}
	if len(nonces) != len(choices) {
		return nil, ErrRevealShape
	}
	sp := &SpoiledBallot{Ballot: *b, Marks: make([][]uint8, len(choices)), Nonces: make([][][ScalarSize]byte, len(choices))}
	for ci := range choices {
		if len(nonces[ci]) != len(choices[ci]) {
			return nil, ErrRevealShape
		}
		sp.Marks[ci] = make([]uint8, len(choices[ci]))
		sp.Nonces[ci] = make([][ScalarSize]byte, len(choices[ci]))
		for si, marked := range choices[ci] {
			if marked {
				sp.Marks[ci][si] = 1
			}
			sp.Nonces[ci][si] = EncodeScalar(nonces[ci][si])
		}
	}
	return sp, nil
}

// Encode returns the canonical bytes of the spoiled ballot.
func (sp *SpoiledBallot) Encode() []byte { return marshal(sp) }

// DecodeSpoiledBallot decodes a spoiled ballot strictly (encoding only).
func DecodeSpoiledBallot(data []byte) (*SpoiledBallot, error) {
	return decodeAs[SpoiledBallot](data, "spoiled ballot", 2*MaxBallotSize)
}

// VerifySpoiled checks a spoiled ballot: the ballot itself verifies, and
// every ciphertext is the encryption of the revealed mark under the revealed
// nonce. It returns the revealed choices, which an auditor compares with
// what the terminal showed the voter.
func (e *Election) VerifySpoiled(sp *SpoiledBallot) (Choices, error) {
	if err := e.VerifyBallot(&sp.Ballot); err != nil {
		return nil, err
	}
	code := sp.Ballot.TrackingCode()
	fail := func(contest string, sel int, cand string, err error) (Choices, error) {
		return nil, &BallotError{Ballot: code, Contest: contest, Selection: sel, Candidate: cand, Err: err}
	}
	n := len(e.Manifest.Contests)
	if len(sp.Marks) != n || len(sp.Nonces) != n {
		return fail("", -1, "", ErrRevealShape)
	}
	choices := make(Choices, n)
	for ci, c := range e.Manifest.Contests {
		if len(sp.Marks[ci]) != len(c.Candidates) || len(sp.Nonces[ci]) != len(c.Candidates) {
			return fail(c.ID, -1, "", ErrRevealShape)
		}
		choices[ci] = make([]bool, len(c.Candidates))
		for si, cand := range c.Candidates {
			m := sp.Marks[ci][si]
			if m > 1 {
				return fail(c.ID, si, cand, ErrRevealMark)
			}
			r, err := decodeScalarStrict(sp.Nonces[ci][si][:])
			if err != nil {
				return fail(c.ID, si, cand, fmt.Errorf("%w: nonce: %w", ErrRevealNonce, err))
			}
			if encrypt(e.keyBase(), int(m), r) != sp.Ballot.Contests[ci].Selections[si].Ciphertext {
				return fail(c.ID, si, cand, ErrRevealMismatch)
			}
			choices[ci][si] = m == 1
		}
	}
	return choices, nil
}
