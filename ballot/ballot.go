package ballot

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
)

// Ballot is an encrypted, signed ballot as it travels and as it is stored on
// the chain. Contests and selections are in manifest order; every selection
// is one ciphertext (1 = marked) with a proof that it encrypts 0 or 1, and
// every contest has a proof that its marks add up to at most its limit.
type Ballot struct {
	_          struct{} `cbor:",toarray"`
	Election   [32]byte // the election fingerprint
	Station    string   // id of the station where it was cast (for turnout)
	Credential [ed25519.PublicKeySize]byte
	Contests   []ContestBallot
	Signature  [ed25519.SignatureSize]byte // by Credential over SigningBytes
}

// ContestBallot is one contest of a Ballot.
type ContestBallot struct {
	_          struct{} `cbor:",toarray"`
	Contest    string
	Selections []EncryptedSelection
	Proof      RangeProof // the sum of the selections is in 0..limit
}

// EncryptedSelection is one candidate of a contest: encrypted mark and proof.
type EncryptedSelection struct {
	_          struct{} `cbor:",toarray"`
	Ciphertext Ciphertext
	Proof      RangeProof // the mark is 0 or 1
}

// ballotBody is what the credential signs: the ballot without its signature.
type ballotBody struct {
	_          struct{} `cbor:",toarray"`
	Domain     string
	Election   [32]byte
	Station    string
	Credential [ed25519.PublicKeySize]byte
	Contests   []ContestBallot
}

const ballotDomain = "urna/v2/ballot"

// MaxBallotSize bounds an encoded ballot (a generous multiple of the largest
// ballot the manifest limits allow in practice).
const MaxBallotSize = 1 << 20

// Errors of ballot verification. A *BallotError wraps one of them (and the
// underlying proof or point error), so errors.Is finds both.
var (
	ErrWrongElection  = errors.New("ballot is for another election")
	ErrBallotShape    = errors.New("ballot does not match the election's contests")
	ErrBadStation     = errors.New("ballot station id is empty or too long")
	ErrBadCredential  = errors.New("ballot credential is not a valid public key")
	ErrBadSignature   = errors.New("ballot signature does not verify")
	ErrBadCiphertext  = errors.New("selection ciphertext is invalid")
	ErrSelectionProof = errors.New("selection 0/1 proof does not verify")
	ErrContestProof   = errors.New("contest limit proof does not verify")
	ErrOverLimit      = errors.New("more selections marked than the contest allows")
)

// BallotError says which ballot failed and where.
type BallotError struct {
	Ballot    string // tracking code of the ballot
	Contest   string // contest id, or "" if the failure is not in a contest
	Selection int    // selection index, or -1
	Candidate string // candidate id of the selection, or ""
	Err       error
}

func (e *BallotError) Error() string {
	s := "ballot " + e.Ballot
	if e.Contest != "" {
		s += fmt.Sprintf(": contest %q", e.Contest)
	}
	if e.Selection >= 0 {
		s += fmt.Sprintf(": selection %d (%q)", e.Selection, e.Candidate)
	}
	return s + ": " + e.Err.Error()
}

func (e *BallotError) Unwrap() error { return e.Err }

// Encode returns the canonical bytes of the ballot.
func (b *Ballot) Encode() []byte { return marshal(b) }

// DecodeBallot decodes a ballot strictly. It checks the encoding only; call
// VerifyBallot for the cryptography.
func DecodeBallot(data []byte) (*Ballot, error) {
	return decodeAs[Ballot](data, "ballot", MaxBallotSize)
}

// DecodedBallot is a ballot decoded for counting: DecodeBallots' result.
type DecodedBallot struct {
	Ballot      *Ballot
	Hash        [32]byte              // SHA-256 of the bytes, which are canonical
	Ciphertexts [][]DecodedCiphertext // [contest][selection], for Accumulator.AddDecoded; nil if a point is not a curve point (the ballot does not verify)
	Err         error                 // the bytes are not a canonical ballot
}

// DecodeBallots decodes many encoded ballots on every core: each one
// strictly (DecodeBallot), its hash, and its ciphertexts' points. A block's
// ballots are decoded this way before they are checked and counted one by
// one. It checks no proof.
func DecodeBallots(payloads [][]byte) []DecodedBallot { return DecodeBallotsKnown(payloads, nil) }

// DecodeBallotsKnown is DecodeBallots for a caller that may already hold
// some ballots decoded, with their ciphertexts (VerifyAndDecodeBallots gave
// them when the ballots were admitted): known, if not nil, is asked for
// each ballot by its hash, from several goroutines at once, and what it
// returns is used instead of decoding the bytes and decompressing the
// points again. It must return the decoding of the bytes with that hash
// (the same bytes decode to the same ballot and points), or false.
func DecodeBallotsKnown(payloads [][]byte, known func(hash [32]byte) (*Ballot, [][]DecodedCiphertext, bool)) []DecodedBallot {
	out := make([]DecodedBallot, len(payloads))
	parallel(len(payloads), 16, func(from, to int) {
		for i := from; i < to; i++ {
			d := &out[i]
			h := sha256.Sum256(payloads[i])
			if known != nil {
				if b, cts, ok := known(h); ok && b != nil && sameShape(cts, b) {
					d.Ballot, d.Hash, d.Ciphertexts = b, h, cts
					continue
				}
			}
			if d.Ballot, d.Err = DecodeBallot(payloads[i]); d.Err != nil {
				continue
			}
			d.Hash = h
			d.Ciphertexts = decodeCiphertexts(d.Ballot)
		}
	})
	return out
}

// decodeCiphertexts decodes every ciphertext of a ballot, or returns nil if
// one point is not a curve point.
func decodeCiphertexts(b *Ballot) [][]DecodedCiphertext {
	cts := make([][]DecodedCiphertext, len(b.Contests))
	for ci := range b.Contests {
		sels := b.Contests[ci].Selections
		cts[ci] = make([]DecodedCiphertext, len(sels))
		for si := range sels {
			var err error
			if cts[ci][si], err = DecodeCiphertext(&sels[si].Ciphertext); err != nil {
				return nil
			}
		}
	}
	return cts
}

// sameShape reports whether decoded ciphertexts have one entry per
// selection of b: a guard against a caller's mix-up, which would
// otherwise count the wrong number of selections.
func sameShape(cts [][]DecodedCiphertext, b *Ballot) bool {
	if len(cts) != len(b.Contests) {
		return false
	}
	for ci := range cts {
		if len(cts[ci]) != len(b.Contests[ci].Selections) {
			return false
		}
	}
	return true
}

// Hash is SHA-256 of the canonical ballot bytes.
func (b *Ballot) Hash() [32]byte { return sha256.Sum256(b.Encode()) }

// TrackingCode is the short, readable form of the ballot's hash that the
// voter takes home.
func (b *Ballot) TrackingCode() string { return TrackingCodeOf(b.Hash()) }

// SigningBytes is what the credential signs.
func (b *Ballot) SigningBytes() []byte {
	return marshal(&ballotBody{
		Domain:     ballotDomain,
		Election:   b.Election,
		Station:    b.Station,
		Credential: b.Credential,
		Contests:   b.Contests,
	})
}

// Choices are a voter's plain marks: Choices[c][s] is true when candidate s
// of contest c (manifest order) is marked.
type Choices [][]bool

// checkChoices verifies the shape and limits of plain choices.
func (e *Election) checkChoices(ch Choices) error {
	if len(ch) != len(e.Manifest.Contests) {
		return fmt.Errorf("%w: %d contests marked, election has %d", ErrBallotShape, len(ch), len(e.Manifest.Contests))
	}
	for i, c := range e.Manifest.Contests {
		if len(ch[i]) != len(c.Candidates) {
			return fmt.Errorf("%w: contest %q: %d marks for %d candidates", ErrBallotShape, c.ID, len(ch[i]), len(c.Candidates))
		}
		if n := countMarks(ch[i]); n > c.Limit {
			return fmt.Errorf("%w: contest %q: %d marked, limit %d", ErrOverLimit, c.ID, n, c.Limit)
		}
	}
	return nil
}

func countMarks(marks []bool) int {
	n := 0
	for _, m := range marks {
		if m {
			n++
		}
	}
	return n
}

// Nonces are the encryption nonces of a ballot, [contest][selection]. They
// are secret: whoever holds them can read the ballot. A terminal keeps them
// only until the voter casts (then forgets them) or challenges (then
// publishes them).
type Nonces [][]kyber.Scalar

// LogValue keeps nonces out of logs.
func (Nonces) LogValue() slog.Value { return slog.StringValue("[redacted nonces]") }

// NewBallot encrypts a voter's choices, proves them and signs the ballot
// with the credential. rnd supplies randomness (crypto/rand when nil). It
// refuses choices over a contest's limit: such a ballot cannot be proved.
// The encryption and the proofs run in time independent of the choices.
func (e *Election) NewBallot(cred *Credential, station string, choices Choices, rnd io.Reader) (*Ballot, Nonces, error) {
	if err := e.checkChoices(choices); err != nil {
		return nil, nil, err
	}
	if station == "" || len(station) > MaxIDLength {
		return nil, nil, ErrBadStation
	}
	b := &Ballot{Election: e.Manifest.Fingerprint, Station: station}
	copy(b.Credential[:], cred.Public)
	nonces := make(Nonces, len(e.Manifest.Contests))
	b.Contests = make([]ContestBallot, len(e.Manifest.Contests))
	for ci, c := range e.Manifest.Contests {
		cb := ContestBallot{Contest: c.ID, Selections: make([]EncryptedSelection, len(c.Candidates))}
		nonces[ci] = make([]kyber.Scalar, len(c.Candidates))
		sumAlpha := edwards25519.NewIdentityPoint()
		sumBeta := edwards25519.NewIdentityPoint()
		sumNonce := edwards25519.NewScalar()
		for si, cand := range c.Candidates {
			m := 0
			if choices[ci][si] {
				m = 1
			}
			r, err := randomFScalar(rnd)
			if err != nil {
				return nil, nil, err
			}
			ct := encrypt(e.keyBase(), m, r)
			proof, err := proveRange(tagSelectionProof, e.ballotContext(b.Credential, c.ID, cand), e.keyBase(), 1, &ct, m, r, rnd)
			if err != nil {
				return nil, nil, err
			}
			cb.Selections[si] = EncryptedSelection{Ciphertext: ct, Proof: proof}
			nonces[ci][si] = kyberScalar(r)
			alpha, _ := new(edwards25519.Point).SetBytes(ct.Alpha[:])
			beta, _ := new(edwards25519.Point).SetBytes(ct.Beta[:])
			sumAlpha.Add(sumAlpha, alpha)
			sumBeta.Add(sumBeta, beta)
			sumNonce.Add(sumNonce, r)
		}
		sumCt := Ciphertext{Alpha: [PointSize]byte(sumAlpha.Bytes()), Beta: [PointSize]byte(sumBeta.Bytes())}
		proof, err := proveRange(tagContestProof, e.ballotContext(b.Credential, c.ID, ""), e.keyBase(), c.Limit, &sumCt, countMarks(choices[ci]), sumNonce, rnd)
		if err != nil {
			return nil, nil, err
		}
		cb.Proof = proof
		b.Contests[ci] = cb
	}
	copy(b.Signature[:], cred.Sign(b.SigningBytes()))
	return b, nonces, nil
}

// checkStructure checks what needs no cryptography: the election, the
// station id, and the contests and selections against the manifest.
func (e *Election) checkStructure(b *Ballot) error {
	fail := func(contest string, err error) error {
		return &BallotError{Ballot: b.TrackingCode(), Contest: contest, Selection: -1, Err: err}
	}
	if b.Election != e.Manifest.Fingerprint {
		return fail("", fmt.Errorf("%w: fingerprint %x…, want %x…", ErrWrongElection, b.Election[:4], e.Manifest.Fingerprint[:4]))
	}
	if b.Station == "" || len(b.Station) > MaxIDLength {
		return fail("", ErrBadStation)
	}
	if len(b.Contests) != len(e.Manifest.Contests) {
		return fail("", fmt.Errorf("%w: %d contests, want %d", ErrBallotShape, len(b.Contests), len(e.Manifest.Contests)))
	}
	for ci, c := range e.Manifest.Contests {
		cb := &b.Contests[ci]
		if cb.Contest != c.ID {
			return fail(c.ID, fmt.Errorf("%w: contest %d is %q, want %q", ErrBallotShape, ci, cb.Contest, c.ID))
		}
		if len(cb.Selections) != len(c.Candidates) {
			return fail(c.ID, fmt.Errorf("%w: %d selections, want %d", ErrBallotShape, len(cb.Selections), len(c.Candidates)))
		}
	}
	return nil
}

// checkBallot is the reference verification of a ballot: every check in
// the order docs/crypto.md gives, every equation evaluated on its own. The
// batch verifier accepts exactly the ballots this accepts (up to a 2^−128
// chance per batch); this path is the one that says what is wrong.
func (e *Election) checkBallot(b *Ballot) error {
	if err := e.checkStructure(b); err != nil {
		return err
	}
	fail := func(contest string, sel int, cand string, err error) error {
		return &BallotError{Ballot: b.TrackingCode(), Contest: contest, Selection: sel, Candidate: cand, Err: err}
	}
	credExt, err := decodeBallotPoint(&b.Credential)
	if err != nil {
		return fail("", -1, "", fmt.Errorf("%w: %w", ErrBadCredential, err))
	}
	sig, err := decodeSignature(&b.Signature)
	if err != nil {
		return fail("", -1, "", fmt.Errorf("%w: %w", ErrBadSignature, err))
	}
	// Every point and scalar, in order, before any equation.
	alphas := make([][]*edwards25519.Point, len(e.Manifest.Contests))
	betas := make([][]*edwards25519.Point, len(e.Manifest.Contests))
	sels := make([][]*decodedRange, len(e.Manifest.Contests))
	contests := make([]*decodedRange, len(e.Manifest.Contests))
	for ci, c := range e.Manifest.Contests {
		for si, cand := range c.Candidates {
			sel := &b.Contests[ci].Selections[si]
			a, err := decodeBallotPoint(&sel.Ciphertext.Alpha)
			if err != nil {
				return fail(c.ID, si, cand, fmt.Errorf("%w: alpha: %w", ErrBadCiphertext, err))
			}
			bb, err := decodeBallotPoint(&sel.Ciphertext.Beta)
			if err != nil {
				return fail(c.ID, si, cand, fmt.Errorf("%w: beta: %w", ErrBadCiphertext, err))
			}
			d, err := decodeRange(1, &sel.Proof)
			if err != nil {
				return fail(c.ID, si, cand, fmt.Errorf("%w: %w", ErrSelectionProof, err))
			}
			alphas[ci] = append(alphas[ci], a.point())
			betas[ci] = append(betas[ci], bb.point())
			sels[ci] = append(sels[ci], d)
		}
		if contests[ci], err = decodeRange(c.Limit, &b.Contests[ci].Proof); err != nil {
			return fail(c.ID, -1, "", fmt.Errorf("%w: %w", ErrContestProof, err))
		}
	}
	// [8](S·B − k·A − R) = 0
	k := signatureChallenge(b)
	s := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(edwards25519.NewScalar().Negate(k), credExt.point(), sig.s)
	s.Subtract(s, sig.r.point())
	if !cofactorIdentity(s) {
		return fail("", -1, "", ErrBadSignature)
	}
	for ci, c := range e.Manifest.Contests {
		cb := &b.Contests[ci]
		sumAlpha := edwards25519.NewIdentityPoint()
		sumBeta := edwards25519.NewIdentityPoint()
		for si, cand := range c.Candidates {
			sel := &cb.Selections[si]
			if err := checkRange(tagSelectionProof, e.ballotContext(b.Credential, c.ID, cand), e.key, 1, &sel.Ciphertext, alphas[ci][si], betas[ci][si], &sel.Proof, sels[ci][si]); err != nil {
				return fail(c.ID, si, cand, fmt.Errorf("%w: %w", ErrSelectionProof, err))
			}
			sumAlpha.Add(sumAlpha, alphas[ci][si])
			sumBeta.Add(sumBeta, betas[ci][si])
		}
		sumCt := Ciphertext{Alpha: [PointSize]byte(sumAlpha.Bytes()), Beta: [PointSize]byte(sumBeta.Bytes())}
		if err := checkRange(tagContestProof, e.ballotContext(b.Credential, c.ID, ""), e.key, c.Limit, &sumCt, sumAlpha, sumBeta, &cb.Proof, contests[ci]); err != nil {
			return fail(c.ID, -1, "", fmt.Errorf("%w: %w", ErrContestProof, err))
		}
	}
	return nil
}
