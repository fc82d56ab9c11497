package ballot

import (
	"crypto/subtle"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// fixedBase multiplies one point by secret scalars in constant time, from a
// table of its multiples: table[i][j] = (j+1)·16^i·P. A terminal multiplies
// the election key H by a fresh secret for every ciphertext and every proof
// branch; with the table that costs 64 table look-ups and additions instead
// of a full scalar multiplication, about a third of the time.
type fixedBase struct {
	table [64][8]niels
}

// newFixedBase builds the table of p (public: it is the election key).
func newFixedBase(p *edwards25519.Point) *fixedBase {
	fb := &fixedBase{}
	pts := make([]extPoint, 0, 64*8)
	base := extFrom(p)
	for range 64 {
		cur := base
		for j := range 8 {
			if j > 0 {
				cur.addTo(&base)
			}
			pts = append(pts, cur)
		}
		// base = 16·base
		var c completed
		for range 3 {
			base.fromCompletedNoT(c.double(&base))
		}
		base.fromCompleted(c.double(&base))
	}
	// Make every point affine with one inversion (Montgomery's trick).
	prefix := make([]field.Element, len(pts))
	acc := *feOne
	for i := range pts {
		prefix[i] = acc
		acc.Multiply(&acc, &pts[i].Z)
	}
	var inv field.Element
	inv.Invert(&acc)
	for i := len(pts) - 1; i >= 0; i-- {
		var zInv field.Element
		zInv.Multiply(&inv, &prefix[i])
		inv.Multiply(&inv, &pts[i].Z)
		pt := &pts[i]
		var a extPoint
		a.X.Multiply(&pt.X, &zInv)
		a.Y.Multiply(&pt.Y, &zInv)
		a.Z.One()
		a.T.Multiply(&a.X, &a.Y)
		a.toNiels(&fb.table[i/8][i%8])
	}
	return fb
}

// signedRadix16 writes a reduced scalar as 64 digits in [−8, 8), least
// significant first, without branching on it.
func signedRadix16(s *[32]byte) [64]int8 {
	var d [64]int8
	for i := range 32 {
		d[2*i] = int8(s[i] & 15)
		d[2*i+1] = int8(s[i] >> 4)
	}
	for i := range 63 {
		carry := (d[i] + 8) >> 4
		d[i] -= carry << 4
		d[i+1] += carry
	}
	return d
}

// mul returns s·P in time independent of s.
func (fb *fixedBase) mul(s *edwards25519.Scalar) *edwards25519.Point {
	digits := signedRadix16((*[32]byte)(s.Bytes()))
	var acc extPoint
	acc.setIdentity()
	var sel niels
	var c completed
	for i := range 64 {
		d := digits[i]
		neg := int((uint8(d) >> 7) & 1)
		abs := uint8(d) ^ uint8(-neg)
		abs += uint8(neg)
		// sel = |d|·16^i·P, the identity (1, 1, 0) when d = 0
		sel.ypx.One()
		sel.ymx.One()
		sel.t2d.Zero()
		for j := range 8 {
			eq := subtle.ConstantTimeByteEq(abs, uint8(j+1))
			sel.ypx.Select(&fb.table[i][j].ypx, &sel.ypx, eq)
			sel.ymx.Select(&fb.table[i][j].ymx, &sel.ymx, eq)
			sel.t2d.Select(&fb.table[i][j].t2d, &sel.t2d, eq)
		}
		// −(x, y) = (−x, y): swap y+x and y−x, negate 2dxy
		sel.ypx.Swap(&sel.ymx, neg)
		var nt field.Element
		nt.Negate(&sel.t2d)
		sel.t2d.Select(&nt, &sel.t2d, neg)
		acc.fromCompleted(c.addNiels(&acc, &sel))
	}
	return acc.point()
}
