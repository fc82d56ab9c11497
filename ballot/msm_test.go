package ballot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

func randScalarFrom(r *rand.ChaCha8) *edwards25519.Scalar {
	var b [64]byte
	r.Read(b[:])
	s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
	return s
}

// TestMSMMatchesReference compares Pippenger's result with
// filippo.io/edwards25519's own multi-scalar multiplication, for sizes and
// scalar lengths around every window choice, negated points and edge
// scalars.
func TestMSMMatchesReference(t *testing.T) {
	r := testRand(1)
	edge := []*edwards25519.Scalar{
		edwards25519.NewScalar(),
		scalarFromUint(1),
		edwards25519.NewScalar().Negate(scalarFromUint(1)), // ℓ − 1
		scalarFromBytes(func() []byte { b := make([]byte, 32); b[15], b[16] = 0xff, 0; return fill(b, 0, 16, 0xff) }()),
	}
	for _, n := range []int{0, 1, 2, 3, 7, 31, 64, 200, 1000} {
		for _, nbits := range []int{128, 253} {
			scalars := make([]*edwards25519.Scalar, n)
			points := make([]*edwards25519.Point, n)
			terms := make([]msmTerm, n)
			for i := range n {
				s := randScalarFrom(r)
				if nbits == 128 {
					b := s.Bytes()
					clear(b[16:])
					s = scalarFromBytes(b)
				}
				if i < len(edge) && (nbits == 253 || i != 2) {
					s = edge[i]
				}
				p := new(edwards25519.Point).ScalarBaseMult(randScalarFrom(r))
				// Some points with a torsion component, as a ballot may carry.
				if i%5 == 1 {
					tp, _ := new(edwards25519.Point).SetBytes(smallOrder[i%8][:])
					p.Add(p, tp)
				}
				enc := [PointSize]byte(p.Bytes())
				ep, err := decodeExt(&enc)
				if err != nil {
					t.Fatal(err)
				}
				ep.toNiels(&terms[i].p)
				if i%3 == 2 { // a negated term
					terms[i].p.neg(&terms[i].p)
					p.Negate(p)
				}
				terms[i].s = [32]byte(s.Bytes())
				scalars[i], points[i] = s, p
			}
			got := msm(nbits, terms[:n/2], terms[n/2:])
			want := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
			if got.point().Equal(want) != 1 {
				t.Fatalf("n=%d bits=%d: Pippenger differs from the reference", n, nbits)
			}
		}
	}
}

func fill(b []byte, from, to int, v byte) []byte {
	for i := from; i < to; i++ {
		b[i] = v
	}
	return b
}

func scalarFromBytes(b []byte) *edwards25519.Scalar {
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		panic(err)
	}
	return s
}

func TestPointArithmeticMatchesReference(t *testing.T) {
	r := testRand(2)
	for range 20 {
		p := new(edwards25519.Point).ScalarBaseMult(randScalarFrom(r))
		q := new(edwards25519.Point).ScalarBaseMult(randScalarFrom(r))
		ep, eq := extFrom(p), extFrom(q)
		sum := ep
		sum.addTo(&eq)
		if sum.point().Equal(new(edwards25519.Point).Add(p, q)) != 1 {
			t.Fatal("add differs")
		}
		if sum.bytes() != [PointSize]byte(new(edwards25519.Point).Add(p, q).Bytes()) {
			t.Fatal("encoding differs")
		}
		eight := ep
		eight.mulByCofactor()
		if eight.point().Equal(new(edwards25519.Point).MultByCofactor(p)) != 1 {
			t.Fatal("cofactor multiplication differs")
		}
		var n niels
		enc := [PointSize]byte(q.Bytes())
		aq, _ := decodeExt(&enc)
		aq.toNiels(&n)
		var back extPoint
		back.fromNiels(&n)
		if back.point().Equal(q) != 1 {
			t.Fatal("niels round trip differs")
		}
	}
	var id extPoint
	if !id.setIdentity().isIdentity() {
		t.Fatal("identity is not the identity")
	}
}

// TestDecodeExtIsCanonical: decodeExt accepts exactly the encodings that
// the strict decoder accepts, minus the subgroup check.
func TestDecodeExtIsCanonical(t *testing.T) {
	// Every canonical encoding of a valid point decodes to that point.
	r := testRand(3)
	for range 50 {
		p := new(edwards25519.Point).ScalarBaseMult(randScalarFrom(r))
		enc := [PointSize]byte(p.Bytes())
		e, err := decodeExt(&enc)
		if err != nil || e.point().Equal(p) != 1 {
			t.Fatalf("valid point: %v", err)
		}
	}
	for _, h := range nonCanonicalEncodings {
		enc := [PointSize]byte(mustHex(h))
		if _, err := decodeExt(&enc); !errors.Is(err, ErrPointEncoding) {
			t.Errorf("%s: got %v, want ErrPointEncoding", h, err)
		}
	}
	for i := range smallOrder {
		if _, err := decodeBallotPoint(&smallOrder[i]); !errors.Is(err, ErrPointSmall) {
			t.Errorf("small-order point %d: got %v", i, err)
		}
	}
	for _, h := range smallOrderEncodings {
		enc := [PointSize]byte(mustHex(h))
		if _, err := decodeBallotPoint(&enc); err == nil {
			t.Errorf("small-order encoding %s accepted", h)
		}
	}
}

func BenchmarkMSM(b *testing.B) {
	r := testRand(9)
	for _, n := range []int{36, 2400, 36000} {
		for _, nbits := range []int{128, 253} {
			terms := make([]msmTerm, n)
			for i := range terms {
				s := randScalarFrom(r).Bytes()
				if nbits == 128 {
					clear(s[16:])
				}
				terms[i].s = [32]byte(s)
				p := [PointSize]byte(new(edwards25519.Point).ScalarBaseMult(randScalarFrom(r)).Bytes())
				e, _ := decodeExt(&p)
				e.toNiels(&terms[i].p)
			}
			b.Run(fmt.Sprintf("n=%d/bits=%d", n, nbits), func(b *testing.B) {
				for b.Loop() {
					msm(nbits, terms)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/point")
			})
		}
	}
}

func BenchmarkDecodeExt(b *testing.B) {
	p := otherPoint(1)
	for b.Loop() {
		if _, err := decodeBallotPoint(&p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFixedBaseMatchesScalarMult(t *testing.T) {
	r := testRand(4)
	p := new(edwards25519.Point).ScalarBaseMult(randScalarFrom(r))
	fb := newFixedBase(p)
	scalars := []*edwards25519.Scalar{edwards25519.NewScalar(), scalarFromUint(1), scalarFromUint(8), scalarFromUint(16),
		edwards25519.NewScalar().Negate(scalarFromUint(1))}
	for range 30 {
		scalars = append(scalars, randScalarFrom(r))
	}
	for i, s := range scalars {
		if fb.mul(s).Equal(new(edwards25519.Point).ScalarMult(s, p)) != 1 {
			t.Fatalf("scalar %d: fixed-base product differs", i)
		}
	}
}
