package ballot

import "errors"

// A tracking code is the first 80 bits of a ballot's hash written as 16
// Crockford base-32 symbols in four groups (e.g. "3F2A-9KQD-XB7M-0T4C"):
// short enough to copy by hand, long enough that no two ballots of an
// election share one by chance (the birthday bound for 10^7 ballots is
// below 10^-9). Anyone can look a code up on the chain.
const (
	trackingBytes   = 10
	trackingSymbols = trackingBytes * 8 / 5
)

// ErrBadTrackingCode reports a string that is not a tracking code.
var ErrBadTrackingCode = errors.New("not a tracking code")

// TrackingCodeOf formats the tracking code of a ballot hash.
func TrackingCodeOf(hash [32]byte) string {
	vals := make([]byte, trackingSymbols)
	for i := range vals {
		vals[i] = fiveBits(hash[:trackingBytes], i)
	}
	return formatSymbols(vals)
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

// TrackingPrefix parses a typed tracking code and returns the 10 bytes of the
// ballot hash it stands for: the key by which the chain indexes ballots.
func TrackingPrefix(typed string) ([]byte, error) {
	vals, err := parseSymbols(typed, trackingSymbols, ErrBadTrackingCode, ErrBadTrackingCode)
	if err != nil {
		return nil, err
	}
	out := make([]byte, trackingBytes)
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
