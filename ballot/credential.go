package ballot

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// A voting code is a voter's secret credential: 23 random symbols of the
// Crockford base-32 alphabet (115 bits) and one check symbol, printed in six
// groups of four:
//
//	7K3M-Q9XD-2RTW-HB4N-8FJC-05VZ
//
// The alphabet leaves out I, L, O and U; when a code is typed, lowercase is
// accepted, I and L read as 1, O reads as 0, and dashes and spaces are
// ignored. The check symbol (Luhn mod 32) catches every single mistyped
// symbol, and every swap of two adjacent symbols except 0 with Z (the one
// blind spot of Luhn mod 32).
type VotingCode string

const (
	crockford        = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeDataSymbols  = 23
	codeSymbols      = codeDataSymbols + 1
	codeGroup        = 4
	credentialDomain = "urna/v1/credential"
)

// Errors of voting codes.
var (
	ErrCodeLength   = errors.New("voting code has the wrong number of symbols")
	ErrCodeSymbol   = errors.New("voting code contains a symbol that is not in the alphabet")
	ErrCodeMistyped = errors.New("voting code check symbol does not match: a symbol is mistyped")
)

// NewVotingCode draws a fresh code from rnd (crypto/rand when nil).
func NewVotingCode(rnd io.Reader) (VotingCode, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	// 23 symbols × 5 bits = 115 bits, taken from 15 random bytes.
	var buf [15]byte
	if _, err := io.ReadFull(rnd, buf[:]); err != nil {
		return "", fmt.Errorf("ballot: reading randomness: %w", err)
	}
	vals := make([]byte, codeDataSymbols, codeSymbols)
	for i := range vals {
		vals[i] = fiveBits(buf[:], i)
	}
	vals = append(vals, luhnCheck(vals))
	return formatCode(vals), nil
}

func formatCode(vals []byte) VotingCode { return VotingCode(formatSymbols(vals)) }

// formatSymbols writes symbol values in groups of four.
func formatSymbols(vals []byte) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 && i%codeGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[v])
	}
	return b.String()
}

// luhnCheck computes the Luhn mod 32 check value of data symbols.
func luhnCheck(vals []byte) byte {
	const n = 32
	factor, sum := 2, 0
	for i := len(vals) - 1; i >= 0; i-- {
		addend := factor * int(vals[i])
		factor = 3 - factor
		sum += addend/n + addend%n
	}
	return byte((n - sum%n) % n)
}

// symbolValue maps a typed character to its value, folding the usual
// confusions.
func symbolValue(c rune) (byte, bool) {
	switch c {
	case 'i', 'I', 'l', 'L':
		c = '1'
	case 'o', 'O':
		c = '0'
	}
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	if i := strings.IndexRune(crockford, c); i >= 0 {
		return byte(i), true
	}
	return 0, false
}

// ParseVotingCode normalises what a voter typed and checks it. The error
// says whether a symbol is not in the alphabet (and which), the length is
// wrong, or the check symbol does not match.
func ParseVotingCode(typed string) (VotingCode, error) {
	vals, err := parseSymbols(typed, codeSymbols, ErrCodeSymbol, ErrCodeLength)
	if err != nil {
		return "", err
	}
	if luhnCheck(vals[:codeDataSymbols]) != vals[codeDataSymbols] {
		return "", ErrCodeMistyped
	}
	return formatCode(vals), nil
}

// parseSymbols reads exactly n Crockford symbols from what someone typed,
// skipping dashes and spaces and folding case and the I/L/O confusions.
func parseSymbols(typed string, n int, badSymbol, badLength error) ([]byte, error) {
	vals := make([]byte, 0, n)
	for pos, c := range typed {
		if c == '-' || c == ' ' {
			continue
		}
		v, ok := symbolValue(c)
		if !ok {
			return nil, fmt.Errorf("%w: %q at position %d", badSymbol, c, pos+1)
		}
		if len(vals) == n {
			return nil, fmt.Errorf("%w: more than %d symbols", badLength, n)
		}
		vals = append(vals, v)
	}
	if len(vals) != n {
		return nil, fmt.Errorf("%w: %d symbols, want %d", badLength, len(vals), n)
	}
	return vals, nil
}

// LogValue keeps voting codes out of logs.
func (VotingCode) LogValue() slog.Value { return slog.StringValue("[redacted voting code]") }

// Credential is the signing key derived from a voting code. Its public half
// is the voter's entry in the roll; a ballot is signed with it.
type Credential struct {
	private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// DeriveCredential derives the credential of a code for an election: the
// Ed25519 seed is SHA-256(len-prefixed "urna/v1/credential", election id,
// canonical code). The election id (not the fingerprint, which depends on
// the roll) keeps one code from being a credential in another election.
// A code of 115 random bits needs no slow key derivation.
func DeriveCredential(electionID string, code VotingCode) *Credential {
	t := sha256.New()
	for _, item := range []string{credentialDomain, electionID, string(code)} {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(item)>>24), byte(len(item)>>16), byte(len(item)>>8), byte(len(item))
		t.Write(n[:])
		t.Write([]byte(item))
	}
	priv := ed25519.NewKeyFromSeed(t.Sum(nil))
	return &Credential{private: priv, Public: priv.Public().(ed25519.PublicKey)}
}

// Sign signs msg with the credential.
func (c *Credential) Sign(msg []byte) []byte { return ed25519.Sign(c.private, msg) }

// LogValue keeps the private key out of logs.
func (c *Credential) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("credential %x [private key redacted]", c.Public[:4]))
}

// GenerateCodes makes n fresh voting codes for an election and the public
// roll of their credentials. The codes are secret: they go to the voters and
// nowhere else.
func GenerateCodes(electionID string, n int, rnd io.Reader) ([]VotingCode, *Roll, error) {
	if n < 0 || n > MaxRollVoters {
		return nil, nil, fmt.Errorf("ballot: %d voters (want 0..%d)", n, MaxRollVoters)
	}
	codes := make([]VotingCode, n)
	keys := make([]ed25519.PublicKey, n)
	for i := range codes {
		c, err := NewVotingCode(rnd)
		if err != nil {
			return nil, nil, err
		}
		codes[i] = c
		keys[i] = DeriveCredential(electionID, c).Public
	}
	roll, err := NewRoll(electionID, keys)
	if err != nil {
		return nil, nil, err
	}
	return codes, roll, nil
}
