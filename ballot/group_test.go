package ballot

import (
	"encoding/hex"
	"errors"
	"testing"
)

// The eight points of small order, as encoded by every Ed25519 library,
// and a few non-canonical encodings of them.
var smallOrderEncodings = []string{
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

func TestDecodePointRejectsSmallOrder(t *testing.T) {
	for _, h := range smallOrderEncodings {
		b, _ := hex.DecodeString(h)
		_, err := DecodePoint(b)
		if !errors.Is(err, ErrPointSmall) && !errors.Is(err, ErrPointEncoding) {
			t.Errorf("%s: got %v, want small-order or encoding error", h, err)
		}
		if err == nil {
			t.Errorf("%s: small-order point accepted", h)
		}
	}
	// The canonical small-order points must be named as such.
	for _, h := range []string{smallOrderEncodings[0], smallOrderEncodings[2], smallOrderEncodings[3], smallOrderEncodings[5]} {
		b, _ := hex.DecodeString(h)
		if _, err := DecodePoint(b); !errors.Is(err, ErrPointSmall) {
			t.Errorf("%s: got %v, want ErrPointSmall", h, err)
		}
	}
}

func TestDecodePointRejectsIdentity(t *testing.T) {
	id := "0100000000000000000000000000000000000000000000000000000000000000"
	b, _ := hex.DecodeString(id)
	if _, err := DecodePoint(b); !errors.Is(err, ErrPointIdentity) {
		t.Fatalf("identity: got %v, want ErrPointIdentity", err)
	}
	if _, err := DecodePointOrIdentity(b); err != nil {
		t.Fatalf("DecodePointOrIdentity(identity): %v", err)
	}
}

// Non-canonical encodings of valid points (and y = p).
var nonCanonicalEncodings = []string{
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1 (identity, unreduced)
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // same with the sign bit
	"0100000000000000000000000000000000000000000000000000000000000080", // identity with x sign bit ("-0")
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 2 point (y = −1) with x sign bit ("-0")
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p
}

func TestDecodePointRejectsNonCanonical(t *testing.T) {
	for _, h := range nonCanonicalEncodings {
		b, _ := hex.DecodeString(h)
		if _, err := DecodePointOrIdentity(b); !errors.Is(err, ErrPointEncoding) {
			t.Errorf("%s: got %v, want ErrPointEncoding", h, err)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := DecodePoint(make([]byte, n)); !errors.Is(err, ErrPointEncoding) {
			t.Errorf("%d bytes: got %v, want ErrPointEncoding", n, err)
		}
	}
}

func TestDecodePointRejectsTorsionComponent(t *testing.T) {
	r := testRand(1)
	for _, h := range smallOrderEncodings {
		tb, _ := hex.DecodeString(h)
		torsion := suite.Point()
		if err := torsion.UnmarshalBinary(tb); err != nil {
			t.Fatal(err)
		}
		x, _ := randomScalar(r)
		p := suite.Point().Mul(x, nil)
		p.Add(p, torsion)
		enc := EncodePoint(p)
		if _, err := DecodePoint(enc[:]); !errors.Is(err, ErrPointSubgroup) {
			t.Errorf("P + torsion(%s): got %v, want ErrPointSubgroup", h[:8], err)
		}
	}
}

func TestDecodePointAcceptsSubgroupPoints(t *testing.T) {
	r := testRand(2)
	for range 20 {
		x, _ := randomScalar(r)
		p := suite.Point().Mul(x, nil)
		enc := EncodePoint(p)
		q, err := DecodePoint(enc[:])
		if err != nil {
			t.Fatalf("valid point rejected: %v", err)
		}
		if !q.Equal(p) {
			t.Fatal("round trip changed the point")
		}
	}
}

func TestDecodeScalar(t *testing.T) {
	l := append([]byte(nil), orderBytes...)
	lPlus1 := append([]byte(nil), orderBytes...)
	lPlus1[0]++
	lMinus1 := append([]byte(nil), orderBytes...)
	lMinus1[0]--
	top := make([]byte, 32)
	for i := range top {
		top[i] = 0xff
	}
	for name, b := range map[string][]byte{"ℓ": l, "ℓ+1": lPlus1, "2^256-1": top, "short": make([]byte, 31), "long": make([]byte, 33)} {
		if _, err := DecodeScalar(b); !errors.Is(err, ErrScalarEncoding) {
			t.Errorf("%s: got %v, want ErrScalarEncoding", name, err)
		}
	}
	s, err := DecodeScalar(lMinus1)
	if err != nil {
		t.Fatalf("ℓ−1 rejected: %v", err)
	}
	if EncodeScalar(s) != [32]byte(lMinus1) {
		t.Fatal("ℓ−1 did not round-trip")
	}
	if _, err := DecodeScalar(make([]byte, 32)); err != nil {
		t.Fatalf("zero rejected: %v", err)
	}
}
