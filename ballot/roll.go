package ballot

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Roll is the public voter roll: the credential public keys of every
// eligible voter, sorted, with no names attached. Its hash is in the genesis,
// so every station and every auditor checks eligibility against the same list.
//
// The file form is plain text, so that anyone can read and diff it:
//
//	urna voter roll v1
//	election <election id>
//	voters <N>
//	<64 lowercase hex digits of one credential key>   (N lines, ascending)
//
// Every line ends in "\n". The encoding is canonical: DecodeRoll accepts
// exactly the bytes Encode produces, so the hash names one roll.
type Roll struct {
	ElectionID string
	// keys holds the credential keys back to back, 32 bytes each, in
	// ascending byte order without duplicates: one allocation without
	// pointers, so a roll of millions of voters costs the garbage collector
	// nothing to scan (a slice per key cost a station a fifth of its CPU in
	// collections once its heap neared the memory limit).
	keys []byte
}

// Len is the number of voters on the roll.
func (r *Roll) Len() int { return len(r.keys) / ed25519.PublicKeySize }

// Key returns voter i's credential key (0 ≤ i < Len), in roll order. It
// shares the roll's memory: do not modify it.
func (r *Roll) Key(i int) ed25519.PublicKey {
	return r.keys[i*ed25519.PublicKeySize : (i+1)*ed25519.PublicKeySize : (i+1)*ed25519.PublicKeySize]
}

// MaxRollVoters bounds a roll file, so a hostile file cannot exhaust memory.
const MaxRollVoters = 10_000_000

const rollHeader = "urna voter roll v1"

// ErrBadRoll reports a voter roll file that is not in the canonical form.
var ErrBadRoll = errors.New("invalid voter roll")

// NewRoll builds a roll from credential keys in any order.
func NewRoll(electionID string, keys []ed25519.PublicKey) (*Roll, error) {
	if len(keys) > MaxRollVoters {
		return nil, fmt.Errorf("%w: %d voters (at most %d)", ErrBadRoll, len(keys), MaxRollVoters)
	}
	sorted := make([]ed25519.PublicKey, len(keys))
	copy(sorted, keys)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	r := &Roll{ElectionID: electionID, keys: make([]byte, 0, len(keys)*ed25519.PublicKeySize)}
	for i, k := range sorted {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: a key of %d bytes (voter %d in ascending order), want %d", ErrBadRoll, len(k), i, ed25519.PublicKeySize)
		}
		r.keys = append(r.keys, k...)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Roll) check() error {
	if r.ElectionID == "" || len(r.ElectionID) > MaxIDLength || strings.ContainsAny(r.ElectionID, " \n\r\t") {
		return fmt.Errorf("%w: election id %q must be 1..%d bytes without spaces", ErrBadRoll, r.ElectionID, MaxIDLength)
	}
	if r.Len() > MaxRollVoters {
		return fmt.Errorf("%w: %d voters (at most %d)", ErrBadRoll, r.Len(), MaxRollVoters)
	}
	for i := range r.Len() {
		k := r.Key(i)
		if i > 0 {
			switch bytes.Compare(r.Key(i-1), k) {
			case 0:
				return fmt.Errorf("%w: voter %d: duplicate credential key %x", ErrBadRoll, i, k)
			case 1:
				return fmt.Errorf("%w: voter %d: keys are not in ascending order", ErrBadRoll, i)
			}
		}
	}
	return nil
}

// Encode returns the canonical file bytes of the roll.
func (r *Roll) Encode() []byte {
	var b bytes.Buffer
	b.Grow(64 + r.Len()*65)
	r.writeTo(&b)
	return b.Bytes()
}

// Hash is the SHA-256 of the canonical file bytes; the genesis names the
// roll by it. It streams the encoding through the hash rather than building
// it: a million-voter roll encodes to 65 MB, which a station would otherwise
// allocate at start only to hash it.
func (r *Roll) Hash() [32]byte {
	h := sha256.New()
	r.writeTo(h)
	return [32]byte(h.Sum(nil))
}

// writeTo writes the canonical file bytes to w, whose writes cannot fail
// (a bytes.Buffer, a hash), in chunks of about 64 KB.
func (r *Roll) writeTo(w io.Writer) {
	const line = 2*ed25519.PublicKeySize + 1
	buf := make([]byte, 0, 1000*line)
	buf = fmt.Appendf(buf, "%s\nelection %s\nvoters %d\n", rollHeader, r.ElectionID, r.Len())
	for i := range r.Len() {
		if len(buf)+line > cap(buf) {
			w.Write(buf)
			buf = buf[:0]
		}
		buf = hex.AppendEncode(buf, r.Key(i))
		buf = append(buf, '\n')
	}
	w.Write(buf)
}

// Contains reports whether key is an eligible credential.
func (r *Roll) Contains(key ed25519.PublicKey) bool {
	n := r.Len()
	i := sort.Search(n, func(i int) bool { return bytes.Compare(r.Key(i), key) >= 0 })
	return i < n && bytes.Equal(r.Key(i), key)
}

// DecodeRoll parses a roll file strictly: anything but the canonical form is
// rejected with the line at fault.
func DecodeRoll(data []byte) (*Roll, error) {
	rest := data
	next := func() (string, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		line := string(rest[:i])
		rest = rest[i+1:]
		return line, true
	}
	line, ok := next()
	if !ok || line != rollHeader {
		return nil, fmt.Errorf("%w: line 1: want %q", ErrBadRoll, rollHeader)
	}
	line, ok = next()
	id, found := strings.CutPrefix(line, "election ")
	if !ok || !found {
		return nil, fmt.Errorf("%w: line 2: want \"election <id>\"", ErrBadRoll)
	}
	line, ok = next()
	countText, found := strings.CutPrefix(line, "voters ")
	if !ok || !found {
		return nil, fmt.Errorf("%w: line 3: want \"voters <N>\"", ErrBadRoll)
	}
	count, err := strconv.Atoi(countText)
	if err != nil || count < 0 || count > MaxRollVoters || strconv.Itoa(count) != countText {
		return nil, fmt.Errorf("%w: line 3: voter count %q is not a number in 0..%d", ErrBadRoll, countText, MaxRollVoters)
	}
	if want := count * (2*ed25519.PublicKeySize + 1); len(rest) != want {
		return nil, fmt.Errorf("%w: %d voters need %d bytes of keys, file has %d", ErrBadRoll, count, want, len(rest))
	}
	r := &Roll{ElectionID: id, keys: make([]byte, count*ed25519.PublicKeySize)}
	// The key lines are read in place, without a string per line: a
	// station decodes a roll of millions at start.
	for i := range count {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 { // cannot happen: the length check above counted the bytes
			return nil, fmt.Errorf("%w: line %d: no end of line", ErrBadRoll, i+4)
		}
		hexKey := rest[:j]
		rest = rest[j+1:]
		if bytes.ContainsFunc(hexKey, unicode.IsUpper) {
			return nil, fmt.Errorf("%w: line %d: key must be lowercase hex", ErrBadRoll, i+4)
		}
		if len(hexKey) != 2*ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: line %d: not %d hex-encoded bytes", ErrBadRoll, i+4, ed25519.PublicKeySize)
		}
		if _, err := hex.Decode(r.keys[i*ed25519.PublicKeySize:(i+1)*ed25519.PublicKeySize], hexKey); err != nil {
			return nil, fmt.Errorf("%w: line %d: not %d hex-encoded bytes", ErrBadRoll, i+4, ed25519.PublicKeySize)
		}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}
