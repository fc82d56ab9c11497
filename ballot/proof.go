package ballot

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
)

// Domain tags: the first item of every proof's transcript, so that a proof of
// one kind never verifies as another.
const (
	tagSelectionProof = "urna/v2/proof/selection"     // selection encrypts 0 or 1
	tagContestProof   = "urna/v2/proof/contest-limit" // contest sum is in 0..limit
	tagShareProof     = "urna/v2/proof/decryption-share"
)

// Errors of proof verification.
var (
	ErrProofShape     = errors.New("proof has the wrong number of branches")
	ErrProofChallenge = errors.New("proof challenges do not sum to the Fiat–Shamir challenge")
	ErrProofEquation  = errors.New("proof equation does not hold")
	ErrProofEncoding  = errors.New("proof contains an invalid point or scalar")
	ErrCannotProve    = errors.New("statement is false, no proof can be made")
)

// RangeProof proves that a ciphertext (α, β) under key H encrypts some m in
// 0..L, without saying which: a disjunctive Chaum–Pedersen proof (Cramer,
// Damgård, Schoenmakers 1994) with one branch per value j, each proving
// log_g α = log_H (β / g^j). The real branch is proved, the others simulated;
// the branch challenges must sum to the Fiat–Shamir challenge.
//
// A selection's proof has L = 1 (0 or 1); a contest's proof on the sum of its
// selections has L = the contest's limit.
//
// The proof carries its commitments (A_j, B_j) rather than only challenges,
// so that the verification equations
//
//	V_j·G = A_j + C_j·α        V_j·H = B_j + C_j·(β − j·G)
//
// of many proofs can be checked together in one multi-scalar multiplication
// (batch.go). Both are checked multiplied by the cofactor 8.
type RangeProof struct {
	_        struct{} `cbor:",toarray"`
	Branches []ProofBranch
}

// ProofBranch is one value j of a RangeProof.
type ProofBranch struct {
	_ struct{}         `cbor:",toarray"`
	A [PointSize]byte  // commitment w·G (or simulated)
	B [PointSize]byte  // commitment w·H (or simulated)
	C [ScalarSize]byte // this branch's share of the challenge
	V [ScalarSize]byte // response
}

// ballotContext is what binds a ballot proof to its place: the election,
// its key, the voter's credential, and the contest and selection it is
// about. Binding the credential is what stops a voter from casting a copy of
// another voter's encrypted choices (and learning them from the tally): the
// copy's proofs name the other credential.
type ballotContext struct {
	fingerprint [32]byte
	key         [PointSize]byte
	credential  [32]byte
	contest     string
	selection   string // candidate id; empty for a contest proof
}

func (bc *ballotContext) transcript(tag string) *transcript {
	t := newTranscript(tag)
	t.bytes(bc.fingerprint[:])
	t.point(bc.key)
	t.bytes(bc.credential[:])
	t.str(bc.contest)
	t.str(bc.selection)
	return t
}

// rangeChallenge hashes the full statement and all commitments.
func rangeChallenge(tag string, bc *ballotContext, limit int, ct *Ciphertext, branches []ProofBranch) *edwards25519.Scalar {
	t := bc.transcript(tag)
	t.point(baseBytes)
	t.u32(uint32(limit))
	t.point(ct.Alpha)
	t.point(ct.Beta)
	for i := range branches {
		t.point(branches[i].A)
		t.point(branches[i].B)
	}
	return t.challenge()
}

// proveRange proves that ct = (r·G, m·G + r·H) with 0 ≤ m ≤ limit. It runs
// in time independent of m: every branch is computed by the same formulas,
//
//	A_j = t_j·G        B_j = t_j·H + c_j·(j − m)·G
//
// with t_j, c_j random. For j ≠ m this is the simulation of the branch with
// challenge c_j and response V_j = t_j + c_j·r; for j = m the second term
// vanishes, (A_m, B_m) = (t_m·G, t_m·H) is the honest commitment, and c_m is
// replaced by the challenge left over. Either way V_j = t_j + C_j·r.
func proveRange(tag string, bc *ballotContext, key *fixedBase, limit int, ct *Ciphertext, m int, r *edwards25519.Scalar, rnd io.Reader) (RangeProof, error) {
	if m < 0 || m > limit {
		return RangeProof{}, fmt.Errorf("%w: value %d is outside 0..%d", ErrCannotProve, m, limit)
	}
	n := limit + 1
	branches := make([]ProofBranch, n)
	ts := make([]*edwards25519.Scalar, n)
	cs := make([]*edwards25519.Scalar, n)
	mScalar := scalarFromUint(uint64(m))
	for j := range n {
		var err error
		if ts[j], err = randomFScalar(rnd); err != nil {
			return RangeProof{}, err
		}
		if cs[j], err = randomFScalar(rnd); err != nil {
			return RangeProof{}, err
		}
		s := edwards25519.NewScalar().Subtract(scalarFromUint(uint64(j)), mScalar)
		s.Multiply(s, cs[j])
		branches[j].A = [PointSize]byte(new(edwards25519.Point).ScalarBaseMult(ts[j]).Bytes())
		b := key.mul(ts[j])
		b.Add(b, new(edwards25519.Point).ScalarBaseMult(s))
		branches[j].B = [PointSize]byte(b.Bytes())
	}
	c := rangeChallenge(tag, bc, limit, ct, branches)
	// C_m = c − Σ_{j≠m} c_j, selecting branch m by arithmetic, not by branching.
	eq := make([]*edwards25519.Scalar, n)
	others := edwards25519.NewScalar()
	for j := range n {
		eq[j] = scalarFromUint(uint64(subtle.ConstantTimeEq(int32(j), int32(m))))
		notEq := edwards25519.NewScalar().Subtract(scalarFromUint(1), eq[j])
		others.Add(others, edwards25519.NewScalar().Multiply(notEq, cs[j]))
	}
	cm := edwards25519.NewScalar().Subtract(c, others)
	for j := range n {
		// C_j = c_j + eq_j·(C_m − c_j)
		d := edwards25519.NewScalar().Subtract(cm, cs[j])
		cj := edwards25519.NewScalar().MultiplyAdd(eq[j], d, cs[j])
		v := edwards25519.NewScalar().MultiplyAdd(cj, r, ts[j])
		branches[j].C = [ScalarSize]byte(cj.Bytes())
		branches[j].V = [ScalarSize]byte(v.Bytes())
	}
	return RangeProof{Branches: branches}, nil
}

// decodedRange is a RangeProof whose points and scalars decoded.
type decodedRange struct {
	a, b []extPoint
	c, v []*edwards25519.Scalar
}

// decodeRange checks a proof's shape and encodings.
func decodeRange(limit int, p *RangeProof) (*decodedRange, error) {
	if len(p.Branches) != limit+1 {
		return nil, fmt.Errorf("%w: %d, want %d", ErrProofShape, len(p.Branches), limit+1)
	}
	n := len(p.Branches)
	d := &decodedRange{a: make([]extPoint, n), b: make([]extPoint, n), c: make([]*edwards25519.Scalar, n), v: make([]*edwards25519.Scalar, n)}
	for j := range p.Branches {
		br := &p.Branches[j]
		var err error
		if d.a[j], err = decodeBallotPoint(&br.A); err != nil {
			return nil, fmt.Errorf("%w: branch %d commitment A: %w", ErrProofEncoding, j, err)
		}
		if d.b[j], err = decodeBallotPoint(&br.B); err != nil {
			return nil, fmt.Errorf("%w: branch %d commitment B: %w", ErrProofEncoding, j, err)
		}
		if d.c[j], err = decodeScalarStrict(br.C[:]); err != nil {
			return nil, fmt.Errorf("%w: branch %d challenge: %w", ErrProofEncoding, j, err)
		}
		if d.v[j], err = decodeScalarStrict(br.V[:]); err != nil {
			return nil, fmt.Errorf("%w: branch %d response: %w", ErrProofEncoding, j, err)
		}
	}
	return d, nil
}

// challengeHolds reports whether the branch challenges sum to c.
func (d *decodedRange) challengeHolds(c *edwards25519.Scalar) bool {
	sum := edwards25519.NewScalar()
	for _, cj := range d.c {
		sum.Add(sum, cj)
	}
	return sum.Equal(c) == 1
}

// cofactorIdentity reports whether [8]p is the identity: the test applied to
// every proof and signature equation of a ballot.
func cofactorIdentity(p *edwards25519.Point) bool {
	return new(edwards25519.Point).MultByCofactor(p).Equal(fIdentity) == 1
}

// checkRange is the reference check of a RangeProof, one equation at a
// time: for every branch j,
//
//	[8](V_j·G − C_j·α − A_j) = 0        [8](V_j·H − C_j·β + C_j·j·G − B_j) = 0
//
// then Σ C_j = c. The batch verifier checks a random linear combination of
// exactly these equations; this path names the one that fails.
//
// d is the proof as decodeRange decoded it.
func checkRange(tag string, bc *ballotContext, key *edwards25519.Point, limit int, ct *Ciphertext, alpha, beta *edwards25519.Point, p *RangeProof, d *decodedRange) error {
	for j := range p.Branches {
		c, v := d.c[j], d.v[j]
		negC := edwards25519.NewScalar().Negate(c)
		e1 := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negC, alpha, v)
		e1.Subtract(e1, d.a[j].point())
		if !cofactorIdentity(e1) {
			return fmt.Errorf("%w: branch %d (g)", ErrProofEquation, j)
		}
		cj := edwards25519.NewScalar().Multiply(c, scalarFromUint(uint64(j)))
		e2 := new(edwards25519.Point).VarTimeMultiScalarMult(
			[]*edwards25519.Scalar{v, negC, cj},
			[]*edwards25519.Point{key, beta, fBase})
		e2.Subtract(e2, d.b[j].point())
		if !cofactorIdentity(e2) {
			return fmt.Errorf("%w: branch %d (h)", ErrProofEquation, j)
		}
	}
	if !d.challengeHolds(rangeChallenge(tag, bc, limit, ct, p.Branches)) {
		return ErrProofChallenge
	}
	return nil
}

// DLEQProof proves that a decryption share D = x·α was made with the same
// secret x as the station's public share X = x·G (Chaum–Pedersen), without
// revealing x. Commitments A = w·G, B = w·α; response V = w + c·x; checks
//
//	V·G = A + c·X        V·α = B + c·D
//
// with c the Fiat–Shamir challenge over the whole statement. Every point of
// a share is checked strictly (prime-order subgroup), so these equations are
// checked as they are.
type DLEQProof struct {
	_ struct{} `cbor:",toarray"`
	A [PointSize]byte
	B [PointSize]byte
	V [ScalarSize]byte
}

// shareContext names a decryption share's place: the election, its key,
// the station, the contest and the selection.
type shareContext struct {
	fingerprint [32]byte
	key         [PointSize]byte
	contest     string
	selection   string
	station     uint32
}

func dleqChallenge(sc *shareContext, pubShare [PointSize]byte, alpha [PointSize]byte, d [PointSize]byte, a, b [PointSize]byte) *edwards25519.Scalar {
	t := newTranscript(tagShareProof)
	t.bytes(sc.fingerprint[:])
	t.point(sc.key)
	t.str(sc.contest)
	t.str(sc.selection)
	t.u32(sc.station)
	t.point(baseBytes)
	t.point(pubShare)
	t.point(alpha)
	t.point(d)
	t.point(a)
	t.point(b)
	return t.challenge()
}

func proveDLEQ(sc *shareContext, x kyber.Scalar, pubShare [PointSize]byte, alpha kyber.Point, alphaBytes, d [PointSize]byte, rnd io.Reader) (DLEQProof, error) {
	w, err := randomScalar(rnd)
	if err != nil {
		return DLEQProof{}, err
	}
	a := EncodePoint(suite.Point().Mul(w, nil))
	b := EncodePoint(suite.Point().Mul(w, alpha))
	c := kyberScalar(dleqChallenge(sc, pubShare, alphaBytes, d, a, b))
	v := suite.Scalar().Add(w, suite.Scalar().Mul(c, x))
	return DLEQProof{A: a, B: b, V: EncodeScalar(v)}, nil
}

// verifyDLEQ checks a decryption share's proof. pub (the station's public
// share), alpha and d were already decoded strictly.
func verifyDLEQ(sc *shareContext, pub *edwards25519.Point, pubBytes [PointSize]byte, alpha *edwards25519.Point, alphaBytes [PointSize]byte, d *edwards25519.Point, dBytes [PointSize]byte, p *DLEQProof) error {
	a, err := decodeStrict(p.A[:], false)
	if err != nil {
		return fmt.Errorf("%w: commitment A: %w", ErrProofEncoding, err)
	}
	// B = w·α is the identity exactly when α is (an election with no
	// ballots); the second equation rejects it in every other case.
	b, err := decodeStrict(p.B[:], true)
	if err != nil {
		return fmt.Errorf("%w: commitment B: %w", ErrProofEncoding, err)
	}
	v, err := decodeScalarStrict(p.V[:])
	if err != nil {
		return fmt.Errorf("%w: response: %w", ErrProofEncoding, err)
	}
	negC := edwards25519.NewScalar().Negate(dleqChallenge(sc, pubBytes, alphaBytes, dBytes, p.A, p.B))
	// V·G − c·X == A
	if new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negC, pub, v).Equal(a) != 1 {
		return fmt.Errorf("%w: (g)", ErrProofEquation)
	}
	// V·α − c·D == B
	lhs := new(edwards25519.Point).VarTimeMultiScalarMult(
		[]*edwards25519.Scalar{v, negC},
		[]*edwards25519.Point{alpha, d})
	if lhs.Equal(b) != 1 {
		return fmt.Errorf("%w: (alpha)", ErrProofEquation)
	}
	return nil
}
