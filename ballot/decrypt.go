package ballot

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
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
	ErrShareProof      = errors.New("decryption share proof does not verify")
	ErrShareShape      = errors.New("decryption shares do not match the election's contests")
	ErrTooFewShares    = errors.New("fewer valid decryption shares than the threshold")
	ErrNoDiscreteLog   = errors.New("decrypted value is outside the bound")
	ErrShareUnverified = errors.New("decryption shares were not verified against these aggregates")
	ErrShareDuplicate  = errors.New("two sets of decryption shares come from the same station")
	ErrShareSlot       = errors.New("decryption shares are in the slot of another station")
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

// decryptable is the statement of the tally: the prime-order part of every
// aggregate (see primePart), decoded and encoded.
type decryptable struct {
	alpha, beta           [][]*edwards25519.Point
	alphaBytes, betaBytes [][][PointSize]byte
	digest                [32]byte // names the election and these aggregates
}

// prepareAggregates checks the shape of the aggregates and takes the
// prime-order part of each.
func (e *Election) prepareAggregates(aggregates [][]Ciphertext) (*decryptable, error) {
	if err := e.checkAggregateShape(aggregates); err != nil {
		return nil, err
	}
	d := &decryptable{}
	h := sha256.New()
	h.Write([]byte("urna/v2/aggregates"))
	h.Write(e.Manifest.Fingerprint[:])
	h.Write(e.KeyBytes[:])
	for ci, c := range e.Manifest.Contests {
		d.alpha = append(d.alpha, make([]*edwards25519.Point, len(c.Candidates)))
		d.beta = append(d.beta, make([]*edwards25519.Point, len(c.Candidates)))
		d.alphaBytes = append(d.alphaBytes, make([][PointSize]byte, len(c.Candidates)))
		d.betaBytes = append(d.betaBytes, make([][PointSize]byte, len(c.Candidates)))
		for si, cand := range c.Candidates {
			ct := &aggregates[ci][si]
			var err error
			if d.alpha[ci][si], err = primePart(&ct.Alpha); err != nil {
				return nil, fmt.Errorf("aggregate %q/%q: alpha: %w", c.ID, cand, err)
			}
			if d.beta[ci][si], err = primePart(&ct.Beta); err != nil {
				return nil, fmt.Errorf("aggregate %q/%q: beta: %w", c.ID, cand, err)
			}
			d.alphaBytes[ci][si] = [PointSize]byte(d.alpha[ci][si].Bytes())
			d.betaBytes[ci][si] = [PointSize]byte(d.beta[ci][si].Bytes())
			h.Write(ct.Alpha[:])
			h.Write(ct.Beta[:])
		}
	}
	h.Sum(d.digest[:0])
	return d, nil
}

// invEight is 8^−1 mod ℓ.
var invEight = edwards25519.NewScalar().Invert(scalarFromUint(8))

// primePart decodes a canonical point P and returns its component in the
// prime-order subgroup, [8^−1 mod ℓ]·[8]·P: P itself when P has no torsion
// component. Ballot ciphertexts are verified with cofactored equations,
// which see only this component, so the tally decrypts only it.
func primePart(b *[PointSize]byte) (*edwards25519.Point, error) {
	p, err := decodeExt(b)
	if err != nil {
		return nil, err
	}
	p.mulByCofactor()
	return new(edwards25519.Point).VarTimeDoubleScalarBaseMult(invEight, p.point(), fZero), nil
}

// MakeTallyShares decrypts every aggregate (aggregates[c][s], in manifest
// order) with the station's key share.
func (e *Election) MakeTallyShares(k *KeyShare, aggregates [][]Ciphertext, rnd io.Reader) (*TallyShares, error) {
	d, err := e.prepareAggregates(aggregates)
	if err != nil {
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
			alpha := kyberPoint(d.alphaBytes[ci][si][:])
			dp := EncodePoint(suite.Point().Mul(x, alpha))
			proof, err := proveDLEQ(e.shareContext(k.Index, c.ID, cand), x, pub, alpha, d.alphaBytes[ci][si], dp, rnd)
			if err != nil {
				return nil, err
			}
			ts.Shares[ci][si] = DecryptionShare{D: dp, Proof: proof}
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

// VerifiedShares are a station's decryption shares that VerifyTallyShares
// accepted for one election and one set of aggregates. Decrypt takes only
// these, and only for the aggregates they were verified against.
type VerifiedShares struct {
	station uint32
	digest  [32]byte // of the election and the aggregates; zero if not made by VerifyTallyShares
	d       [][]*edwards25519.Point
}

// Station is the index of the station whose shares these are.
func (v *VerifiedShares) Station() uint32 { return v.station }

// VerifyTallyShares checks a station's shares against the aggregates and
// the station's public share. The error is a *ShareError naming the first
// bad share.
func (e *Election) VerifyTallyShares(ts *TallyShares, publicShare [PointSize]byte, aggregates [][]Ciphertext) (*VerifiedShares, error) {
	d, err := e.prepareAggregates(aggregates)
	if err != nil {
		return nil, err
	}
	if err := e.checkAggregateShape(sharesShape(ts.Shares)); err != nil {
		return nil, &ShareError{Station: ts.Station, Selection: -1, Err: err}
	}
	pub, err := decodeStrict(publicShare[:], false)
	if err != nil {
		return nil, fmt.Errorf("public share of station %d: %w", ts.Station, err)
	}
	v := &VerifiedShares{station: ts.Station, digest: d.digest, d: make([][]*edwards25519.Point, len(ts.Shares))}
	for ci, c := range e.Manifest.Contests {
		v.d[ci] = make([]*edwards25519.Point, len(c.Candidates))
		for si, cand := range c.Candidates {
			sh := &ts.Shares[ci][si]
			dp, err := verifyShare(e.shareContext(ts.Station, c.ID, cand), pub, publicShare, d.alpha[ci][si], d.alphaBytes[ci][si], sh)
			if err != nil {
				return nil, &ShareError{Station: ts.Station, Contest: c.ID, Selection: si, Err: err}
			}
			v.d[ci][si] = dp
		}
	}
	return v, nil
}

// sharesShape gives shares the shape of ciphertexts so one check covers both.
func sharesShape(s [][]DecryptionShare) [][]Ciphertext {
	out := make([][]Ciphertext, len(s))
	for i := range s {
		out[i] = make([]Ciphertext, len(s[i]))
	}
	return out
}

func verifyShare(sc *shareContext, pub *edwards25519.Point, pubBytes [PointSize]byte, alpha *edwards25519.Point, alphaBytes [PointSize]byte, sh *DecryptionShare) (*edwards25519.Point, error) {
	// D may be the identity only when α is (an election with no counted
	// ballot has α = identity); the DLEQ equations settle every other case.
	d, err := decodeStrict(sh.D[:], true)
	if err != nil {
		return nil, fmt.Errorf("%w: share point: %w", ErrProofEncoding, err)
	}
	if err := verifyDLEQ(sc, pub, pubBytes, alpha, alphaBytes, d, sh.D, &sh.Proof); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrShareProof, err)
	}
	return d, nil
}

// checkShareSlots checks what Decrypt is given: shares[i] must be nil or
// station i's shares, verified against exactly these aggregates, and no
// station may appear twice.
func checkShareSlots(d *decryptable, shares []*VerifiedShares) error {
	seen := map[uint32]int{}
	for i, s := range shares {
		if s == nil {
			continue
		}
		if s.digest == ([32]byte{}) || s.digest != d.digest {
			return fmt.Errorf("%w: slot %d (station %d)", ErrShareUnverified, i, s.station)
		}
		if j, dup := seen[s.station]; dup {
			return fmt.Errorf("%w: station %d in slots %d and %d", ErrShareDuplicate, s.station, j, i)
		}
		seen[s.station] = i
	}
	for i, s := range shares {
		if s != nil && s.station != uint32(i) {
			return fmt.Errorf("%w: station %d in slot %d", ErrShareSlot, s.station, i)
		}
	}
	return nil
}

// combineShares recovers m·G for one aggregate from the shares of the t
// lowest-indexed stations that have them: Lagrange interpolation at 0 of
// x·α from the points (i+1, D_i), then β − x·α.
func combineShares(beta *edwards25519.Point, ds []*edwards25519.Point, t int) (*edwards25519.Point, error) {
	var idx []int
	for i, d := range ds {
		if d != nil && len(idx) < t {
			idx = append(idx, i)
		}
	}
	if len(idx) < t {
		return nil, fmt.Errorf("%w: %d of %d", ErrTooFewShares, len(idx), t)
	}
	scalars := make([]*edwards25519.Scalar, t)
	points := make([]*edwards25519.Point, t)
	for k, i := range idx {
		// λ_i = Π_{j≠i} (j+1) / ((j+1) − (i+1))
		num, den := scalarFromUint(1), scalarFromUint(1)
		for _, j := range idx {
			if j == i {
				continue
			}
			num.Multiply(num, scalarFromUint(uint64(j+1)))
			den.Multiply(den, edwards25519.NewScalar().Subtract(scalarFromUint(uint64(j+1)), scalarFromUint(uint64(i+1))))
		}
		scalars[k] = num.Multiply(num, den.Invert(den))
		points[k] = ds[i]
	}
	xAlpha := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	return new(edwards25519.Point).Subtract(beta, xAlpha), nil
}

// DiscreteLog solves m·G = P for 0 ≤ m ≤ max by baby-step giant-step:
// O(√max) time and memory, and an error (never an endless search) when m is
// not in range. Build one per tally and reuse it for every selection.
type DiscreteLog struct {
	max   uint64
	step  uint64
	baby  map[[PointSize]byte]uint64 // j·G ↦ j for 0 ≤ j < step
	giant *edwards25519.Point        // −step·G
}

// NewDiscreteLog prepares the baby-step table for values up to max.
func NewDiscreteLog(max uint64) *DiscreteLog {
	step := uint64(1)
	for step*step <= max {
		step++
	}
	dl := &DiscreteLog{max: max, step: step, baby: make(map[[PointSize]byte]uint64, step)}
	p := edwards25519.NewIdentityPoint()
	for j := uint64(0); j < step; j++ {
		dl.baby[[PointSize]byte(p.Bytes())] = j
		p.Add(p, fBase)
	}
	var s [ScalarSize]byte
	binary.LittleEndian.PutUint64(s[:], step)
	st, _ := edwards25519.NewScalar().SetCanonicalBytes(s[:])
	dl.giant = new(edwards25519.Point).ScalarBaseMult(st)
	dl.giant.Negate(dl.giant)
	return dl
}

// Solve returns m with m·G = p, or ErrNoDiscreteLog when no m ≤ max fits.
func (dl *DiscreteLog) Solve(p kyber.Point) (uint64, error) {
	b := EncodePoint(p)
	q, err := new(edwards25519.Point).SetBytes(b[:])
	if err != nil {
		return 0, fmt.Errorf("%w: not a point", ErrNoDiscreteLog)
	}
	return dl.solve(q)
}

func (dl *DiscreteLog) solve(p *edwards25519.Point) (uint64, error) {
	cur := new(edwards25519.Point).Set(p)
	for i := uint64(0); i*dl.step <= dl.max; i++ {
		if j, ok := dl.baby[[PointSize]byte(cur.Bytes())]; ok {
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
// is station i's shares as VerifyTallyShares returned them for these
// aggregates, or nil; it refuses shares verified against other aggregates
// (ErrShareUnverified), a station given twice (ErrShareDuplicate) and
// shares in the slot of another station (ErrShareSlot). The t stations of
// lowest index among those given decrypt, so every verifier computes the
// same thing. maxVotes bounds every total (the number of counted ballots).
func (e *Election) Decrypt(aggregates [][]Ciphertext, shares []*VerifiedShares, t int, maxVotes uint64) ([][]uint64, error) {
	d, err := e.prepareAggregates(aggregates)
	if err != nil {
		return nil, err
	}
	if err := checkShareSlots(d, shares); err != nil {
		return nil, err
	}
	dl := NewDiscreteLog(maxVotes)
	out := make([][]uint64, len(aggregates))
	for ci, c := range e.Manifest.Contests {
		out[ci] = make([]uint64, len(c.Candidates))
		for si, cand := range c.Candidates {
			ds := make([]*edwards25519.Point, len(shares))
			for i, s := range shares {
				if s != nil {
					ds[i] = s.d[ci][si]
				}
			}
			gm, err := combineShares(d.beta[ci][si], ds, t)
			if err != nil {
				return nil, fmt.Errorf("contest %q: candidate %q: %w", c.ID, cand, err)
			}
			m, err := dl.solve(gm)
			if err != nil {
				return nil, fmt.Errorf("contest %q: candidate %q: %w", c.ID, cand, err)
			}
			out[ci][si] = m
		}
	}
	return out, nil
}
