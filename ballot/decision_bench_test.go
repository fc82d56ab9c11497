package ballot

import (
	"testing"

	"github.com/gtank/ristretto255"
)

// BenchmarkPointDecoding measures the three ways of taking a point of a
// ballot that docs/crypto.md §4 weighs: strict (canonical and in the
// prime-order subgroup), a ballot point (canonical, not of small order; the
// equations are then checked with the cofactor), and a ristretto255
// element (no subgroup check exists). A 1 × 5 ballot has 36 points.
func BenchmarkPointDecoding(b *testing.B) {
	p := otherPoint(1)
	b.Run("strict", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeStrict(p[:], false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ballot-point", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeBallotPoint(&p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ristretto255", func(b *testing.B) {
		var uniform [64]byte
		copy(uniform[:], p[:])
		enc := ristretto255.NewElement().FromUniformBytes(uniform[:]).Encode(nil)
		for b.Loop() {
			if err := ristretto255.NewElement().Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
