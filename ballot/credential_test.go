package ballot

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestVotingCodeForm(t *testing.T) {
	r := testRand(1)
	seen := map[VotingCode]bool{}
	for range 200 {
		c, err := NewVotingCode(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 29 || strings.Count(string(c), "-") != 5 {
			t.Fatalf("code %q: want six groups of four", c)
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice", c)
		}
		seen[c] = true
		back, err := ParseVotingCode(string(c))
		if err != nil || back != c {
			t.Fatalf("ParseVotingCode(%q) = %q, %v", c, back, err)
		}
	}
}

// TestVotingCodeEntropy: all 115 random bits reach the code (a bug that
// drops bits would make many codes share symbols).
func TestVotingCodeUsesAllBits(t *testing.T) {
	var buf [15]byte
	base, _ := NewVotingCode(bytes.NewReader(buf[:]))
	for bit := 0; bit < 115; bit++ {
		b := buf
		b[bit/8] |= 0x80 >> (bit % 8)
		c, _ := NewVotingCode(bytes.NewReader(b[:]))
		if c == base {
			t.Fatalf("bit %d of the randomness does not change the code", bit)
		}
	}
}

func TestVotingCodeCatchesTypos(t *testing.T) {
	c, _ := NewVotingCode(testRand(3))
	vals := []byte(strings.ReplaceAll(string(c), "-", ""))
	// Every single substitution is caught.
	for i := range vals {
		for _, sub := range []byte(crockford) {
			if sub == vals[i] {
				continue
			}
			typed := append([]byte(nil), vals...)
			typed[i] = sub
			if _, err := ParseVotingCode(string(typed)); !errors.Is(err, ErrCodeMistyped) {
				t.Fatalf("substitution at %d (%c→%c) not caught: %v", i, vals[i], sub, err)
			}
		}
	}
	// Every adjacent swap of different symbols is caught, except 0↔Z.
	for i := 0; i+1 < len(vals); i++ {
		for _, a := range []byte(crockford) {
			for _, b := range []byte(crockford) {
				if a == b || (a == '0' && b == 'Z') || (a == 'Z' && b == '0') {
					continue
				}
				data := append([]byte(nil), vals[:codeDataSymbols]...)
				if i+1 >= codeDataSymbols {
					continue
				}
				data[i], data[i+1] = symbolIndex(a), symbolIndex(b)
				for k := range data {
					if k != i && k != i+1 {
						data[k] = symbolIndex(vals[k])
					}
				}
				good := append(append([]byte(nil), data...), luhnCheck(data))
				swapped := append([]byte(nil), good...)
				swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
				if luhnCheck(swapped[:codeDataSymbols]) == swapped[codeDataSymbols] {
					t.Fatalf("swap of %c%c at %d not caught", a, b, i)
				}
			}
		}
	}
}

func symbolIndex(c byte) byte { return byte(strings.IndexByte(crockford, c)) }

func TestParseVotingCodeNormalises(t *testing.T) {
	c, _ := NewVotingCode(testRand(4))
	lower := strings.ToLower(string(c))
	spaced := strings.ReplaceAll(string(c), "-", " ")
	for _, typed := range []string{lower, spaced, strings.ReplaceAll(string(c), "-", "")} {
		if got, err := ParseVotingCode(typed); err != nil || got != c {
			t.Errorf("ParseVotingCode(%q) = %q, %v", typed, got, err)
		}
	}
	// I, L read as 1 and O as 0.
	code := VotingCode("1000-0000-0000-0000-0000-000")
	vals := make([]byte, codeDataSymbols)
	vals[0] = 1
	code = formatCode(append(vals, luhnCheck(vals)))
	if got, err := ParseVotingCode(strings.Replace(strings.ReplaceAll(string(code), "0", "o"), "1", "l", 1)); err != nil || got != code {
		t.Errorf("confusable letters: got %q, %v; want %q", got, err, code)
	}
	if _, err := ParseVotingCode(string(c) + "X"); !errors.Is(err, ErrCodeLength) {
		t.Errorf("too long: %v", err)
	}
	if _, err := ParseVotingCode(string(c)[:20]); !errors.Is(err, ErrCodeLength) {
		t.Errorf("too short: %v", err)
	}
	if _, err := ParseVotingCode("U" + string(c)[1:]); !errors.Is(err, ErrCodeSymbol) {
		t.Errorf("U: %v", err)
	}
}

func TestCredentialDerivation(t *testing.T) {
	c, _ := NewVotingCode(testRand(5))
	a := DeriveCredential("e1", c)
	b := DeriveCredential("e1", c)
	if !bytes.Equal(a.Public, b.Public) {
		t.Fatal("derivation is not deterministic")
	}
	if bytes.Equal(a.Public, DeriveCredential("e2", c).Public) {
		t.Fatal("the same code gives the same credential in another election")
	}
	c2, _ := NewVotingCode(testRand(6))
	if bytes.Equal(a.Public, DeriveCredential("e1", c2).Public) {
		t.Fatal("two codes give one credential")
	}
	msg := []byte("ballot")
	if !ed25519.Verify(a.Public, msg, a.Sign(msg)) {
		t.Fatal("credential signature does not verify")
	}
}

// Hash streams the encoding through SHA-256 in chunks: it must hash exactly
// the bytes Encode returns, across chunk boundaries (1,000 lines each).
func TestRollHashIsTheHashOfTheFile(t *testing.T) {
	rnd := testRand(3)
	for _, n := range []int{0, 1, 999, 1000, 1001, 2500} {
		keys := make([]ed25519.PublicKey, n)
		for i := range keys {
			keys[i] = make(ed25519.PublicKey, ed25519.PublicKeySize)
			rnd.Read(keys[i])
		}
		roll, err := NewRoll("mayor-2026", keys)
		if err != nil {
			t.Fatal(err)
		}
		enc := roll.Encode()
		if len(enc) != len("urna voter roll v1\nelection mayor-2026\nvoters \n")+len(strconv.Itoa(n))+65*n {
			t.Fatalf("%d voters: %d bytes encoded", n, len(enc))
		}
		if roll.Hash() != sha256.Sum256(enc) {
			t.Fatalf("%d voters: Hash is not the SHA-256 of Encode", n)
		}
	}
}

func TestRoll(t *testing.T) {
	codes, roll, err := GenerateCodes("mayor-2026", 50, testRand(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 50 || roll.Len() != 50 {
		t.Fatalf("%d codes, %d keys", len(codes), roll.Len())
	}
	for _, c := range codes {
		if !roll.Contains(DeriveCredential("mayor-2026", c).Public) {
			t.Fatalf("roll misses the credential of %q", c)
		}
	}
	if roll.Contains(testCredential(1).Public) {
		t.Fatal("roll contains a stranger")
	}
	enc := roll.Encode()
	back, err := DecodeRoll(enc)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != roll.Hash() || back.ElectionID != "mayor-2026" {
		t.Fatal("roll round trip changed it")
	}
	lines := strings.Split(string(enc), "\n")
	swap := append([]string(nil), lines...)
	swap[3], swap[4] = swap[4], swap[3]
	dup := append([]string(nil), lines...)
	dup[4] = dup[3]
	bad := map[string]string{
		"header":         strings.Replace(string(enc), "urna voter roll v1", "urna voter roll v2", 1),
		"count":          strings.Replace(string(enc), "voters 50", "voters 49", 1),
		"count padded":   strings.Replace(string(enc), "voters 50", "voters 050", 1),
		"unsorted":       strings.Join(swap, "\n"),
		"duplicate":      strings.Join(dup, "\n"),
		"uppercase":      strings.Replace(string(enc), lines[3], strings.ToUpper(lines[3]), 1),
		"no final \\n":   strings.TrimSuffix(string(enc), "\n"),
		"trailing bytes": string(enc) + "x",
		"short key":      strings.Replace(string(enc), lines[3], lines[3][:62]+"\n", 1),
		"long key":       strings.Replace(string(enc), lines[3]+"\n", lines[3]+"00", 1),
		"not hex":        strings.Replace(string(enc), lines[3], "zz"+lines[3][2:], 1),
	}
	for name, data := range bad {
		if _, err := DecodeRoll([]byte(data)); !errors.Is(err, ErrBadRoll) {
			t.Errorf("%s: got %v, want ErrBadRoll", name, err)
		}
	}
	// Key(i) is the i-th line's key; NewRoll sorts and checks sizes.
	var keys []ed25519.PublicKey
	for i := range back.Len() {
		if hex.EncodeToString(back.Key(i)) != lines[3+i] {
			t.Fatalf("Key(%d) is not line %d", i, 4+i)
		}
		keys = append(keys, back.Key(50-1-i))
	}
	again, err := NewRoll("mayor-2026", keys)
	if err != nil || again.Hash() != roll.Hash() {
		t.Fatalf("NewRoll of the keys in reverse: %v, or another roll", err)
	}
	if _, err := NewRoll("mayor-2026", append(keys, ed25519.PublicKey{1, 2, 3})); !errors.Is(err, ErrBadRoll) {
		t.Fatalf("NewRoll with a 3-byte key: %v, want ErrBadRoll", err)
	}
	if _, err := NewRoll("mayor-2026", append(keys, keys[7])); !errors.Is(err, ErrBadRoll) {
		t.Fatalf("NewRoll with a duplicate: %v, want ErrBadRoll", err)
	}
}
