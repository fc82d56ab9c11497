package ballot

import (
	"encoding/binary"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Variable-time point arithmetic for batch verification, written on the
// field arithmetic of filippo.io/edwards25519 (the package does not export
// its point internals). Only public values go through here: verification
// never touches a secret.
//
// Formulas: twisted Edwards a = −1, extended coordinates (X:Y:Z:T) with
// x = X/Z, y = Y/Z, xy = T/Z (Hisil–Wong–Carter–Dawson 2008, "add-2008-hwcd-3"
// and "dbl-2008-hwcd"), the same as filippo.io/edwards25519 uses inside.

// extPoint is a point in extended coordinates.
type extPoint struct{ X, Y, Z, T field.Element }

// completed is the intermediate ("P1xP1") result of an addition or doubling.
type completed struct{ X, Y, Z, T field.Element }

// niels is an affine point ready for mixed addition: (y+x, y−x, 2d·x·y).
type niels struct{ ypx, ymx, t2d field.Element }

var (
	feOne = new(field.Element).One()
	// feD is the curve constant d = −121665/121666.
	feD, _ = new(field.Element).SetBytes([]byte{
		0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75,
		0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
		0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c,
		0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52})
	feD2   = new(field.Element).Add(feD, feD)
	feInv2 = new(field.Element).Invert(new(field.Element).Add(feOne, feOne))
)

func (p *extPoint) setIdentity() *extPoint {
	p.X.Zero()
	p.Y.One()
	p.Z.One()
	p.T.Zero()
	return p
}

func (p *extPoint) fromCompleted(c *completed) *extPoint {
	p.X.Multiply(&c.X, &c.T)
	p.Y.Multiply(&c.Y, &c.Z)
	p.Z.Multiply(&c.Z, &c.T)
	p.T.Multiply(&c.X, &c.Y)
	return p
}

// fromCompletedNoT skips T, for a point that is only going to be doubled.
func (p *extPoint) fromCompletedNoT(c *completed) *extPoint {
	p.X.Multiply(&c.X, &c.T)
	p.Y.Multiply(&c.Y, &c.Z)
	p.Z.Multiply(&c.Z, &c.T)
	return p
}

// addNiels sets c = p + q (q affine).
func (c *completed) addNiels(p *extPoint, q *niels) *completed {
	var ypx, ymx, pp, mm, tt2d, zz2 field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	pp.Multiply(&ypx, &q.ypx)
	mm.Multiply(&ymx, &q.ymx)
	tt2d.Multiply(&p.T, &q.t2d)
	zz2.Add(&p.Z, &p.Z)
	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Add(&zz2, &tt2d)
	c.T.Subtract(&zz2, &tt2d)
	return c
}

// add sets c = p + q.
func (c *completed) add(p, q *extPoint) *completed {
	var ypx, ymx, qpx, qmx, pp, mm, tt2d, zz2 field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	qpx.Add(&q.Y, &q.X)
	qmx.Subtract(&q.Y, &q.X)
	pp.Multiply(&ypx, &qpx)
	mm.Multiply(&ymx, &qmx)
	tt2d.Multiply(&p.T, &q.T)
	tt2d.Multiply(&tt2d, feD2)
	zz2.Multiply(&p.Z, &q.Z)
	zz2.Add(&zz2, &zz2)
	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Add(&zz2, &tt2d)
	c.T.Subtract(&zz2, &tt2d)
	return c
}

// double sets c = 2p (T of p is not used).
func (c *completed) double(p *extPoint) *completed {
	var xx, yy, zz2, xpy field.Element
	xx.Square(&p.X)
	yy.Square(&p.Y)
	zz2.Square(&p.Z)
	zz2.Add(&zz2, &zz2)
	xpy.Add(&p.X, &p.Y)
	xpy.Square(&xpy)
	c.Y.Add(&yy, &xx)
	c.Z.Subtract(&yy, &xx)
	c.X.Subtract(&xpy, &c.Y)
	c.T.Subtract(&zz2, &c.Z)
	return c
}

func (p *extPoint) addTo(q *extPoint) {
	var c completed
	p.fromCompleted(c.add(p, q))
}

// mulByCofactor sets p = 8p.
func (p *extPoint) mulByCofactor() {
	var c completed
	p.fromCompletedNoT(c.double(p))
	p.fromCompletedNoT(c.double(p))
	p.fromCompleted(c.double(p))
}

// isIdentity reports whether p is the neutral element (X = 0, Y = Z).
func (p *extPoint) isIdentity() bool {
	var zero field.Element
	return p.X.Equal(&zero) == 1 && p.Y.Equal(&p.Z) == 1
}

// fromNiels recovers the extended point of an affine niels point:
// X = 2x, Y = 2y, Z = 2, T = 2xy.
func (p *extPoint) fromNiels(n *niels) *extPoint {
	p.X.Subtract(&n.ypx, &n.ymx)
	p.Y.Add(&n.ypx, &n.ymx)
	p.Z.Add(feOne, feOne)
	p.T.Multiply(&p.X, &p.Y)
	p.T.Multiply(&p.T, feInv2)
	return p
}

// toNiels prepares p for mixed addition; p must be affine (Z = 1), as
// decoded points are.
func (p *extPoint) toNiels(n *niels) {
	n.ypx.Add(&p.Y, &p.X)
	n.ymx.Subtract(&p.Y, &p.X)
	n.t2d.Multiply(&p.T, feD2)
}

// neg sets n = −q.
func (n *niels) neg(q *niels) *niels {
	ypx := q.ypx
	n.ypx.Set(&q.ymx)
	n.ymx.Set(&ypx)
	n.t2d.Negate(&q.t2d)
	return n
}

// point converts to a filippo.io/edwards25519 point.
func (p *extPoint) point() *edwards25519.Point {
	q, err := new(edwards25519.Point).SetExtendedCoordinates(&p.X, &p.Y, &p.Z, &p.T)
	if err != nil {
		panic("ballot: point arithmetic left the curve")
	}
	return q
}

func extFrom(q *edwards25519.Point) extPoint {
	X, Y, Z, T := q.ExtendedCoordinates()
	return extPoint{*X, *Y, *Z, *T}
}

// bytes encodes p (RFC 8032): y with the sign of x in the top bit.
func (p *extPoint) bytes() [PointSize]byte {
	var zInv, x, y field.Element
	zInv.Invert(&p.Z)
	x.Multiply(&p.X, &zInv)
	y.Multiply(&p.Y, &zInv)
	var out [PointSize]byte
	copy(out[:], y.Bytes())
	out[31] |= byte(x.IsNegative() << 7)
	return out
}

// fieldPrime is p = 2^255 − 19, little-endian.
var fieldPrime = [32]byte{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}

// canonicalY reports whether the 255-bit y of an encoding is below p.
func canonicalY(b *[PointSize]byte) bool {
	for i := 31; i >= 0; i-- {
		v := b[i]
		if i == 31 {
			v &= 0x7f
		}
		if v != fieldPrime[i] {
			return v < fieldPrime[i]
		}
	}
	return false // y = p
}

// decodeExt decodes a point given by its canonical encoding, in affine
// extended coordinates (Z = 1). It refuses encodings with y ≥ p and the
// encodings of x = 0 with the sign bit set, so that every point has exactly
// one accepted encoding; it does not look at the point's order.
func decodeExt(b *[PointSize]byte) (extPoint, error) {
	var p extPoint
	if !canonicalY(b) {
		return p, ErrPointEncoding
	}
	if _, err := p.Y.SetBytes(b[:]); err != nil {
		return p, ErrPointEncoding
	}
	// x² = (y² − 1) / (d·y² + 1)
	var y2, u, v field.Element
	y2.Square(&p.Y)
	u.Subtract(&y2, feOne)
	v.Multiply(&y2, feD)
	v.Add(&v, feOne)
	if _, wasSquare := p.X.SqrtRatio(&u, &v); wasSquare == 0 {
		return p, ErrPointEncoding
	}
	var zero field.Element
	sign := int(b[31] >> 7)
	if sign == 1 && p.X.Equal(&zero) == 1 {
		return p, ErrPointEncoding // "−0": a second encoding of x = 0
	}
	var neg field.Element
	neg.Negate(&p.X)
	p.X.Select(&neg, &p.X, sign)
	p.Z.One()
	p.T.Multiply(&p.X, &p.Y)
	return p, nil
}

// smallOrder lists the encodings of the eight points of order dividing 8.
// After canonical decoding, a point has small order exactly when its
// encoding is one of them.
var smallOrder = func() [8][PointSize]byte {
	// A point of order 8 generates the torsion subgroup.
	t8 := mustHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
	p, err := new(edwards25519.Point).SetBytes(t8)
	if err != nil {
		panic(err)
	}
	var out [8][PointSize]byte
	q := edwards25519.NewIdentityPoint()
	for i := range out {
		out[i] = [PointSize]byte(q.Bytes())
		q.Add(q, p)
	}
	if q.Equal(edwards25519.NewIdentityPoint()) != 1 {
		panic("ballot: the torsion generator does not have order 8")
	}
	return out
}()

func isSmallOrder(b *[PointSize]byte) bool {
	for i := range smallOrder {
		if *b == smallOrder[i] {
			return true
		}
	}
	return false
}

// decodeBallotPoint is the decoder of every point inside a ballot
// (credential, signature R, ciphertexts, proof commitments): canonical
// encoding, not of small order. A torsion component is allowed: every
// equation about these points is checked multiplied by the cofactor, which
// sees only their prime-order part (docs/crypto.md, "Subgroup checks").
func decodeBallotPoint(b *[PointSize]byte) (extPoint, error) {
	p, err := decodeExt(b)
	if err != nil {
		return p, err
	}
	if isSmallOrder(b) {
		return p, ErrPointSmall
	}
	return p, nil
}

// msmTerm is one s·P of a multi-scalar multiplication, with s as 32
// little-endian bytes (at most 253 bits).
type msmTerm struct {
	s [32]byte
	p niels
}

// msm returns Σ s_i·P_i over the terms of all parts by Pippenger's bucket
// method with signed digits, where every scalar is below 2^nbits. Cost, in
// field multiplications: about ⌈nbits/c⌉·(7n + 18·2^(c−1)) for the window c
// chosen to minimise it.
func msm(nbits int, parts ...[]msmTerm) extPoint {
	var acc extPoint
	acc.setIdentity()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return acc
	}
	terms := make([]*msmTerm, 0, n)
	for _, p := range parts {
		for i := range p {
			terms = append(terms, &p[i])
		}
	}
	c := msmWindow(n, nbits)
	windows := (nbits+c-1)/c + 1 // one more for the last carry
	half := 1 << (c - 1)
	// Signed digits, window-major: digits[w*n+i] in [−2^(c−1), 2^(c−1)).
	digits := make([]int32, windows*n)
	mask := uint64(1)<<c - 1
	for i, t := range terms {
		var buf [40]byte
		copy(buf[:], t.s[:])
		carry := uint64(0)
		for w := range windows {
			pos := w * c
			word := binary.LittleEndian.Uint64(buf[pos/8:])
			d := (word>>(pos%8))&mask + carry
			if d >= uint64(half) {
				digits[w*n+i] = int32(d) - int32(1<<c)
				carry = 1
			} else {
				digits[w*n+i] = int32(d)
				carry = 0
			}
		}
	}
	buckets := make([]extPoint, half+1)
	used := make([]bool, half+1)
	var cp completed
	var neg niels
	for w := windows - 1; w >= 0; w-- {
		if w != windows-1 {
			for range c - 1 {
				acc.fromCompletedNoT(cp.double(&acc))
			}
			acc.fromCompleted(cp.double(&acc))
		}
		clear(used)
		row := digits[w*n : (w+1)*n]
		for i, d := range row {
			if d == 0 {
				continue
			}
			q := &terms[i].p
			if d < 0 {
				q = neg.neg(q)
				d = -d
			}
			if !used[d] {
				buckets[d].fromNiels(q)
				used[d] = true
				continue
			}
			buckets[d].fromCompleted(cp.addNiels(&buckets[d], q))
		}
		// Σ k·bucket[k] as the sum of running sums, from the top.
		var running, total extPoint
		haveRunning, haveTotal := false, false
		for k := half; k >= 1; k-- {
			if used[k] {
				if haveRunning {
					running.addTo(&buckets[k])
				} else {
					running, haveRunning = buckets[k], true
				}
			}
			if haveRunning {
				if haveTotal {
					total.addTo(&running)
				} else {
					total, haveTotal = running, true
				}
			}
		}
		if haveTotal {
			acc.addTo(&total)
		}
	}
	return acc
}

// msmWindow picks Pippenger's window for n scalars of nbits bits.
func msmWindow(n, nbits int) int {
	best, bestCost := 1, -1
	for c := 1; c <= 16; c++ {
		windows := (nbits+c-1)/c + 1
		cost := windows * (7*n + 18*(1<<(c-1)) + 8*c)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}
