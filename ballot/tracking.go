package ballot

import "errors"

// A tracking code is the first 140 bits of a ballot's hash written as 28
// Crockford base-32 symbols in seven groups of four, most significant bit
// first (e.g. "3F2A-9KQD-XB7M-0T4C-8HJN-R5WE-KM2P"). Anyone can look a code
// up on the chain, and every comparison uses all 140 bits.
//
// Why so long: a dishonest terminal that holds the voter's credential can
// make many ballots for the voter and look for two, one encrypting the
// voter's choices and one not, with the same code. It then shows the code;
// if the voter challenges it publishes the honest one, if the voter casts it
// publishes the other. Finding such a pair among 2^(k/2) ballots for a k-bit
// code (the birthday bound) is 2^40 work at 80 bits, an afternoon on rented
// machines, and 2^70 at 140 bits, beyond reach.
const (
	TrackingBits    = 140
	trackingSymbols = TrackingBits / 5
	// TrackingKeySize is the length of TrackingKeyOf: 140 bits padded with
	// four zero bits.
	TrackingKeySize = (TrackingBits + 7) / 8
	trackingGroup   = 4
)

// ErrBadTrackingCode reports a string that is not a tracking code.
var ErrBadTrackingCode = errors.New("not a tracking code")

// TrackingCodeOf formats the tracking code of a ballot hash.
func TrackingCodeOf(hash [32]byte) string {
	vals := make([]byte, trackingSymbols)
	for i := range vals {
		vals[i] = fiveBits(hash[:], i)
	}
	return formatSymbols(vals)
}

// TrackingKeyOf is the 140 bits of a ballot hash that its tracking code
// shows, as 18 bytes whose last four bits are zero: the key under which the
// chain indexes the ballot.
func TrackingKeyOf(hash [32]byte) [TrackingKeySize]byte {
	var k [TrackingKeySize]byte
	copy(k[:], hash[:TrackingKeySize])
	k[TrackingKeySize-1] &^= 0x0f
	return k
}

func fiveBits(data []byte, i int) byte {
	bit := i * 5
	w := uint16(data[bit/8]) << 8
	if bit/8+1 < len(data) {
		w |= uint16(data[bit/8+1])
	}
	return byte(w>>(11-bit%8)) & 31
}

// ParseTrackingCode normalises a typed tracking code (case, dashes, spaces,
// I/L/O confusions) to its canonical form.
func ParseTrackingCode(typed string) (string, error) {
	vals, err := parseSymbols(typed, trackingSymbols, ErrBadTrackingCode, ErrBadTrackingCode)
	if err != nil {
		return "", err
	}
	return formatSymbols(vals), nil
}

// TrackingKey parses a typed tracking code and returns the bits it stands
// for, in the form of TrackingKeyOf: the chain's look-up key.
func TrackingKey(typed string) ([TrackingKeySize]byte, error) {
	var out [TrackingKeySize]byte
	vals, err := parseSymbols(typed, trackingSymbols, ErrBadTrackingCode, ErrBadTrackingCode)
	if err != nil {
		return out, err
	}
	for i, v := range vals {
		for b := 4; b >= 0; b-- {
			if v&(1<<b) != 0 {
				bit := i*5 + 4 - b
				out[bit/8] |= 0x80 >> (bit % 8)
			}
		}
	}
	return out, nil
}

// MatchesTrackingCode reports whether a typed tracking code is the code of
// the ballot with this hash, comparing all 140 bits. A string that is not a
// tracking code matches nothing.
func MatchesTrackingCode(typed string, hash [32]byte) bool {
	k, err := TrackingKey(typed)
	return err == nil && k == TrackingKeyOf(hash)
}
