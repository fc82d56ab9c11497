package ballot

import (
	"errors"
	"fmt"
	"strings"
)

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
	var b strings.Builder
	for i := range trackingSymbols {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[fiveBits(hash[:trackingBytes], i)])
	}
	return b.String()
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
	vals := make([]byte, 0, trackingSymbols)
	for pos, c := range typed {
		if c == '-' || c == ' ' {
			continue
		}
		v, ok := symbolValue(c)
		if !ok {
			return "", fmt.Errorf("%w: %q at position %d", ErrBadTrackingCode, c, pos+1)
		}
		if len(vals) == trackingSymbols {
			return "", fmt.Errorf("%w: more than %d symbols", ErrBadTrackingCode, trackingSymbols)
		}
		vals = append(vals, v)
	}
	if len(vals) != trackingSymbols {
		return "", fmt.Errorf("%w: %d symbols, want %d", ErrBadTrackingCode, len(vals), trackingSymbols)
	}
	var b strings.Builder
	for i, v := range vals {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[v])
	}
	return b.String(), nil
}

// TrackingPrefix parses a typed tracking code and returns the 10 bytes of the
// ballot hash it stands for: the key by which the chain indexes ballots.
func TrackingPrefix(typed string) ([]byte, error) {
	canon, err := ParseTrackingCode(typed)
	if err != nil {
		return nil, err
	}
	out := make([]byte, trackingBytes)
	bit := 0
	for _, c := range canon {
		if c == '-' {
			continue
		}
		v, _ := symbolValue(c)
		for b := 4; b >= 0; b-- {
			if v&(1<<b) != 0 {
				out[bit/8] |= 0x80 >> (bit % 8)
			}
			bit++
		}
	}
	return out, nil
}
