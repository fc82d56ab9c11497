package ballot

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/share"
)

// Threshold decryption of the tally. After the polls close, every station
// that holds a key share posts, for each aggregated ciphertext (α, β) of the
// election (one per candidate), a decryption share D_i = x_i·α with a DLEQ
// proof that it used the same x_i as its public share X_i = x_i·G. Any t
// valid shares give x·α by Lagrange interpolation in the exponent, hence
// g^m = β − x·α, and m by a bounded discrete log.

// DecryptionShare is one station's partial decryption of one ciphertext.
type DecryptionShare struct {
	_     struct{} `cbor:",toarray"`
	D     [PointSize]byte
	Proof DLEQProof
}

// TallyShares is one station's decryption shares for a whole election:
// Shares[c][s] decrypts the aggregate of selection s of contest c.
type TallyShares struct {
	_       struct{} `cbor:",toarray"`
	Station uint32
	Shares  [][]DecryptionShare
}

// MaxTallySharesSize bounds an encoded TallyShares.
const MaxTallySharesSize = 1 << 20

// Encode returns the canonical bytes.
func (ts *TallyShares) Encode() []byte { return marshal(ts) }

// DecodeTallyShares decodes strictly (encoding only; see VerifyTallyShares).
func DecodeTallyShares(b []byte) (*TallyShares, error) {
	return decodeAs[TallyShares](b, "tally shares", MaxTallySharesSize)
}

// Errors of decryption.
var (
	ErrShareProof    = errors.New("decryption share proof does not verify")
	ErrShareShape    = errors.New("decryption shares do not match the election's contests")
	ErrTooFewShares  = errors.New("fewer valid decryption shares than the threshold")
	ErrNoDiscreteLog = errors.New("decrypted value is outside the bound")
)

// ShareError says which share failed.
type ShareError struct {
	Station   uint32
	Contest   string
	Selection int
	Err       error
}

func (e *ShareError) Error() string {
	return fmt.Sprintf("decryption share of station %d: contest %q: selection %d: %v", e.Station, e.Contest, e.Selection, e.Err)
}

func (e *ShareError) Unwrap() error { return e.Err }

func (e *Election) shareContext(station uint32, contest, selection string) *shareContext {
	return &shareContext{proofContext: *e.proofContext(contest, selection), station: station}
}

// MakeTallyShares decrypts every aggregate (aggregates[c][s], in manifest
// order) with the station's key share.
func (e *Election) MakeTallyShares(k *KeyShare, aggregates [][]Ciphertext, rnd io.Reader) (*TallyShares, error) {
	if err := e.checkAggregateShape(aggregates); err != nil {
		return nil, err
	}
	x, err := k.SecretScalar()
	if err != nil {
		return nil, err
	}
	pub := k.Result.PublicShares[k.Index]
	ts := &TallyShares{Station: k.Index, Shares: make([][]DecryptionShare, len(aggregates))}
	for ci, c := range e.Manifest.Contests {
		ts.Shares[ci] = make([]DecryptionShare, len(c.Candidates))
		for si, cand := range c.Candidates {
			ct := &aggregates[ci][si]
			alpha, err := DecodePointOrIdentity(ct.Alpha[:])
			if err != nil {
				return nil, fmt.Errorf("aggregate %q/%q: %w", c.ID, cand, err)
			}
			d := EncodePoint(suite.Point().Mul(x, alpha))
			proof, err := proveDLEQ(e.shareContext(k.Index, c.ID, cand), x, pub, alpha, ct.Alpha, d, rnd)
			if err != nil {
				return nil, err
			}
			ts.Shares[ci][si] = DecryptionShare{D: d, Proof: proof}
		}
	}
	return ts, nil
}

func (e *Election) checkAggregateShape(aggregates [][]Ciphertext) error {
	if len(aggregates) != len(e.Manifest.Contests) {
		return fmt.Errorf("%w: %d contests, want %d", ErrShareShape, len(aggregates), len(e.Manifest.Contests))
	}
	for ci, c := range e.Manifest.Contests {
		if len(aggregates[ci]) != len(c.Candidates) {
			return fmt.Errorf("%w: contest %q: %d selections, want %d", ErrShareShape, c.ID, len(aggregates[ci]), len(c.Candidates))
		}
	}
	return nil
}

// VerifyTallyShares checks a station's shares against the aggregates and the
// station's public share. The error is a *ShareError naming the first bad
// share.
func (e *Election) VerifyTallyShares(ts *TallyShares, publicShare [PointSize]byte, aggregates [][]Ciphertext) error {
	if err := e.checkAggregateShape(aggregates); err != nil {
		return err
	}
	if err := e.checkAggregateShape(sharesShape(ts.Shares)); err != nil {
		return &ShareError{Station: ts.Station, Selection: -1, Err: err}
	}
	pub, err := decodeStrict(publicShare[:], false)
	if err != nil {
		return fmt.Errorf("public share of station %d: %w", ts.Station, err)
	}
	for ci, c := range e.Manifest.Contests {
		for si, cand := range c.Candidates {
			ct := &aggregates[ci][si]
			sh := &ts.Shares[ci][si]
			alpha, err := decodeStrict(ct.Alpha[:], true)
			if err != nil {
				return fmt.Errorf("aggregate %q/%q: %w", c.ID, cand, err)
			}
			if err := verifyShare(e.shareContext(ts.Station, c.ID, cand), pub, publicShare, alpha, ct.Alpha, sh); err != nil {
				return &ShareError{Station: ts.Station, Contest: c.ID, Selection: si, Err: err}
			}
		}
	}
	return nil
}

// sharesShape gives shares the shape of ciphertexts so one check covers both.
func sharesShape(s [][]DecryptionShare) [][]Ciphertext {
	out := make([][]Ciphertext, len(s))
	for i := range s {
		out[i] = make([]Ciphertext, len(s[i]))
	}
	return out
}

func verifyShare(sc *shareContext, pub *edwards25519.Point, pubBytes [PointSize]byte, alpha *edwards25519.Point, alphaBytes [PointSize]byte, sh *DecryptionShare) error {
	// D may be the identity only when α is (a selection no ballot touched
	// cannot occur, but an empty election has α = identity); the DLEQ
	// equations settle every other case.
	d, err := decodeStrict(sh.D[:], true)
	if err != nil {
		return fmt.Errorf("%w: share point: %w", ErrProofEncoding, err)
	}
	if err := verifyDLEQ(sc, pub, pubBytes, alpha, alphaBytes, d, sh.D, &sh.Proof); err != nil {
		return fmt.Errorf("%w: %w", ErrShareProof, err)
	}
	return nil
}

// CombineShares recovers g^m for one ciphertext from decryption shares that
// were already verified: shares[i] is station i's D (nil when absent). It
// needs at least t of them and uses the first t by station index, so every
// verifier computes the same thing.
func CombineShares(ct Ciphertext, shares []*[PointSize]byte, t int) (kyber.Point, error) {
	n := len(shares)
	pub := make([]*share.PubShare, 0, t)
	for i, s := range shares {
		if s == nil || len(pub) == t {
			continue
		}
		d, err := DecodePointOrIdentity(s[:])
		if err != nil {
			return nil, fmt.Errorf("share of station %d: %w", i, err)
		}
		pub = append(pub, &share.PubShare{I: i, V: d})
	}
	if len(pub) < t {
		return nil, fmt.Errorf("%w: %d of %d", ErrTooFewShares, len(pub), t)
	}
	xAlpha, err := share.RecoverCommit(suite, pub, t, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTooFewShares, err)
	}
	beta, err := DecodePointOrIdentity(ct.Beta[:])
	if err != nil {
		return nil, fmt.Errorf("aggregate beta: %w", err)
	}
	return suite.Point().Sub(beta, xAlpha), nil
}

// DiscreteLog solves g^m = P for 0 ≤ m ≤ max by baby-step giant-step:
// O(√max) time and memory, and an error (never an endless search) when m is
// not in range. Build one per tally and reuse it for every selection.
type DiscreteLog struct {
	max   uint64
	step  uint64
	baby  map[[PointSize]byte]uint64 // j·G ↦ j for 0 ≤ j < step
	giant kyber.Point                // −step·G
}

// NewDiscreteLog prepares the baby-step table for values up to max.
func NewDiscreteLog(max uint64) *DiscreteLog {
	step := uint64(1)
	for step*step <= max {
		step++
	}
	dl := &DiscreteLog{max: max, step: step, baby: make(map[[PointSize]byte]uint64, step)}
	p := newPublicPoint().Null()
	for j := uint64(0); j < step; j++ {
		dl.baby[EncodePoint(p)] = j
		p.Add(p, base)
	}
	dl.giant = suite.Point().Neg(suite.Point().Mul(suite.Scalar().SetInt64(int64(step)), nil))
	return dl
}

// Solve returns m with m·G = p, or ErrNoDiscreteLog when no m ≤ max fits.
func (dl *DiscreteLog) Solve(p kyber.Point) (uint64, error) {
	cur := newPublicPoint().Set(p)
	for i := uint64(0); i*dl.step <= dl.max; i++ {
		if j, ok := dl.baby[EncodePoint(cur)]; ok {
			if m := i*dl.step + j; m <= dl.max {
				return m, nil
			}
			break
		}
		cur.Add(cur, dl.giant)
	}
	return 0, fmt.Errorf("%w: not in 0..%d", ErrNoDiscreteLog, dl.max)
}

// Decrypt combines verified shares for every aggregate and solves the
// discrete logs: the per-candidate totals, [contest][selection]. shares[i]
// is station i's verified TallyShares, or nil. maxVotes bounds every total
// (the number of counted ballots).
func (e *Election) Decrypt(aggregates [][]Ciphertext, shares []*TallyShares, t int, maxVotes uint64) ([][]uint64, error) {
	if err := e.checkAggregateShape(aggregates); err != nil {
		return nil, err
	}
	dl := NewDiscreteLog(maxVotes)
	out := make([][]uint64, len(aggregates))
	for ci, c := range e.Manifest.Contests {
		out[ci] = make([]uint64, len(c.Candidates))
		for si, cand := range c.Candidates {
			ds := make([]*[PointSize]byte, len(shares))
			for i, ts := range shares {
				if ts != nil {
					ds[i] = &ts.Shares[ci][si].D
				}
			}
			gm, err := CombineShares(aggregates[ci][si], ds, t)
			if err != nil {
				return nil, fmt.Errorf("contest %q: candidate %q: %w", c.ID, cand, err)
			}
			m, err := dl.Solve(gm)
			if err != nil {
				return nil, fmt.Errorf("contest %q: candidate %q: %w", c.ID, cand, err)
			}
			out[ci][si] = m
		}
	}
	return out, nil
}
