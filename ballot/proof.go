package ballot

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"go.dedis.ch/kyber/v3"
)

// Domain tags: the first item of every proof's transcript, so that a proof of
// one kind never verifies as another.
const (
	tagSelectionProof = "urna/v1/proof/selection"     // selection encrypts 0 or 1
	tagContestProof   = "urna/v1/proof/contest-limit" // contest sum is in 0..limit
	tagShareProof     = "urna/v1/proof/decryption-share"
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
// of many proofs can later be checked together in one multi-scalar
// multiplication.
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

// proofContext is what binds a proof to its place: the election, its key,
// and the contest and selection it is about.
type proofContext struct {
	fingerprint [32]byte
	key         [PointSize]byte
	contest     string
	selection   string // candidate id; empty for a contest proof
}

func (pc *proofContext) transcript(tag string) *transcript {
	t := newTranscript(tag)
	t.bytes(pc.fingerprint[:])
	t.point(pc.key)
	t.str(pc.contest)
	t.str(pc.selection)
	return t
}

// rangeChallenge hashes the full statement and all commitments.
func rangeChallenge(tag string, pc *proofContext, limit int, ct *Ciphertext, branches []ProofBranch) *edwards25519.Scalar {
	t := pc.transcript(tag)
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

// proveRange proves that ct = encrypt(key, m, r) with 0 ≤ m ≤ limit.
func proveRange(tag string, pc *proofContext, key kyber.Point, limit int, ct *Ciphertext, dec elgamal, m int, r kyber.Scalar, rnd io.Reader) (RangeProof, error) {
	if m < 0 || m > limit {
		return RangeProof{}, fmt.Errorf("%w: value %d is outside 0..%d", ErrCannotProve, m, limit)
	}
	branches := make([]ProofBranch, limit+1)
	cs := make([]kyber.Scalar, limit+1)
	vs := make([]kyber.Scalar, limit+1)
	var w kyber.Scalar
	for j := 0; j <= limit; j++ {
		if j == m {
			var err error
			if w, err = randomScalar(rnd); err != nil {
				return RangeProof{}, err
			}
			branches[j].A = EncodePoint(suite.Point().Mul(w, nil))
			branches[j].B = EncodePoint(suite.Point().Mul(w, key))
			continue
		}
		// Simulated branch: pick C_j, V_j, solve for the commitments.
		c, err := randomScalar(rnd)
		if err != nil {
			return RangeProof{}, err
		}
		v, err := randomScalar(rnd)
		if err != nil {
			return RangeProof{}, err
		}
		cs[j], vs[j] = c, v
		a := suite.Point().Sub(suite.Point().Mul(v, nil), suite.Point().Mul(c, dec.alpha))
		shifted := suite.Point().Sub(dec.beta, suite.Point().Mul(smallScalar(int64(j)), nil))
		b := suite.Point().Sub(suite.Point().Mul(v, key), suite.Point().Mul(c, shifted))
		branches[j].A = EncodePoint(a)
		branches[j].B = EncodePoint(b)
	}
	cm := kyberScalar(rangeChallenge(tag, pc, limit, ct, branches))
	for j := 0; j <= limit; j++ {
		if j != m {
			cm.Sub(cm, cs[j])
		}
	}
	cs[m] = cm
	vs[m] = suite.Scalar().Add(w, suite.Scalar().Mul(cm, r))
	for j := 0; j <= limit; j++ {
		branches[j].C = EncodeScalar(cs[j])
		branches[j].V = EncodeScalar(vs[j])
	}
	return RangeProof{Branches: branches}, nil
}

// verifyRange checks a RangeProof for the ciphertext ct (encoded) whose
// components alpha, beta were already decoded strictly, under key.
func verifyRange(tag string, pc *proofContext, key *edwards25519.Point, limit int, ct *Ciphertext, alpha, beta *edwards25519.Point, p *RangeProof) error {
	if len(p.Branches) != limit+1 {
		return fmt.Errorf("%w: %d, want %d", ErrProofShape, len(p.Branches), limit+1)
	}
	sum := edwards25519.NewScalar()
	var jScalar [ScalarSize]byte
	for j := range p.Branches {
		br := &p.Branches[j]
		a, err := decodeStrict(br.A[:], false)
		if err != nil {
			return fmt.Errorf("%w: branch %d commitment A: %w", ErrProofEncoding, j, err)
		}
		b, err := decodeStrict(br.B[:], false)
		if err != nil {
			return fmt.Errorf("%w: branch %d commitment B: %w", ErrProofEncoding, j, err)
		}
		c, err := decodeScalarStrict(br.C[:])
		if err != nil {
			return fmt.Errorf("%w: branch %d challenge: %w", ErrProofEncoding, j, err)
		}
		v, err := decodeScalarStrict(br.V[:])
		if err != nil {
			return fmt.Errorf("%w: branch %d response: %w", ErrProofEncoding, j, err)
		}
		sum.Add(sum, c)
		negC := edwards25519.NewScalar().Negate(c)
		// V·G − C·α == A
		if new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negC, alpha, v).Equal(a) != 1 {
			return fmt.Errorf("%w: branch %d (g)", ErrProofEquation, j)
		}
		// V·H − C·β + (C·j)·G == B, i.e. V·H == B + C·(β − j·G)
		jScalar[0], jScalar[1] = byte(j), byte(j>>8)
		cj, _ := edwards25519.NewScalar().SetCanonicalBytes(jScalar[:])
		cj.Multiply(cj, c)
		lhs := new(edwards25519.Point).VarTimeMultiScalarMult(
			[]*edwards25519.Scalar{v, negC, cj},
			[]*edwards25519.Point{key, beta, fBase})
		if lhs.Equal(b) != 1 {
			return fmt.Errorf("%w: branch %d (h)", ErrProofEquation, j)
		}
	}
	if rangeChallenge(tag, pc, limit, ct, p.Branches).Equal(sum) != 1 {
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
// with c the Fiat–Shamir challenge over the whole statement.
type DLEQProof struct {
	_ struct{} `cbor:",toarray"`
	A [PointSize]byte
	B [PointSize]byte
	V [ScalarSize]byte
}

// shareContext names a decryption share's place: which station, which
// contest and selection.
type shareContext struct {
	proofContext
	station uint32
}

func dleqChallenge(sc *shareContext, pubShare [PointSize]byte, alpha [PointSize]byte, d [PointSize]byte, a, b [PointSize]byte) *edwards25519.Scalar {
	t := sc.transcript(tagShareProof)
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
