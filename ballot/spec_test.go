package ballot

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The wire shapes are the ones docs/crypto.md gives: this test reads the
// `cddl` block of the document, decodes real messages with a generic CBOR
// decoder (into []any, []byte, string, uint64, bool: nothing of this
// package), and checks every value against the documented shape. A change
// of encoding that the document does not follow fails here.

type specRule struct {
	fields []specField
}

type specField struct{ name, typ string }

// readSpec parses the cddl block of docs/crypto.md.
func readSpec(t *testing.T) map[string]specRule {
	t.Helper()
	doc, err := os.ReadFile("../docs/crypto.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```cddl\n")
	if !ok {
		t.Fatal("docs/crypto.md has no cddl block")
	}
	block, _, _ := strings.Cut(rest, "```")
	var defs []string
	for _, line := range strings.Split(block, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == ' ' && len(defs) > 0 {
			defs[len(defs)-1] += " " + strings.TrimSpace(line)
			continue
		}
		defs = append(defs, strings.TrimSpace(line))
	}
	rules := map[string]specRule{}
	for _, d := range defs {
		name, body, ok := strings.Cut(d, "=")
		body = strings.TrimSpace(body)
		if !ok || !strings.HasPrefix(body, "[") || !strings.HasSuffix(body, "]") {
			t.Fatalf("cannot parse %q", d)
		}
		var r specRule
		for _, f := range splitTop(body[1 : len(body)-1]) {
			fname, ftyp, ok := strings.Cut(f, ":")
			if !ok {
				t.Fatalf("field %q of %s has no type", f, name)
			}
			r.fields = append(r.fields, specField{strings.TrimSpace(fname), strings.TrimSpace(ftyp)})
		}
		rules[strings.TrimSpace(name)] = r
	}
	return rules
}

// splitTop splits at commas outside brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// match checks a generically decoded value against a documented type.
func match(rules map[string]specRule, v any, typ, path string) error {
	switch {
	case typ == "uint":
		if _, ok := v.(uint64); !ok {
			return fmt.Errorf("%s: %T, want uint", path, v)
		}
	case typ == "bool":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want bool", path, v)
		}
	case typ == "tstr":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T, want tstr", path, v)
		}
	case strings.HasPrefix(typ, "bstr"):
		b, ok := v.([]byte)
		if !ok {
			return fmt.Errorf("%s: %T, want %s", path, v, typ)
		}
		if n := strings.TrimPrefix(typ, "bstr"); n != "" {
			if want, _ := strconv.Atoi(n); len(b) != want {
				return fmt.Errorf("%s: %d bytes, want %s", path, len(b), typ)
			}
		}
	case strings.HasPrefix(typ, "[*") && strings.HasSuffix(typ, "]"):
		elem := strings.TrimSpace(typ[2 : len(typ)-1])
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want %s", path, v, typ)
		}
		for i, x := range list {
			if err := match(rules, x, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		r, ok := rules[typ]
		if !ok {
			return fmt.Errorf("%s: type %q is not defined in the document", path, typ)
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want the array %s", path, v, typ)
		}
		if len(list) != len(r.fields) {
			return fmt.Errorf("%s: %d fields, %s has %d", path, len(list), typ, len(r.fields))
		}
		for i, f := range r.fields {
			if err := match(rules, list[i], f.typ, path+"."+f.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkWire decodes data generically, checks it against the documented
// type and checks that a generic core-deterministic encoder gives back the
// same bytes. It returns the generic value.
func checkWire(t *testing.T, rules map[string]specRule, typ string, data []byte) []any {
	t.Helper()
	var v any
	if err := cbor.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: a generic decoder refuses it: %v", typ, err)
	}
	if err := match(rules, v, typ, typ); err != nil {
		t.Fatalf("wire encoding differs from docs/crypto.md: %v", err)
	}
	em, _ := cbor.CoreDetEncOptions().EncMode()
	back, err := em.Marshal(v)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("%s: not in core deterministic encoding", typ)
	}
	return v.([]any)
}

func TestWireFormatIsTheDocumentedOne(t *testing.T) {
	rules := readSpec(t)
	e, x := testElection(t, generalManifest(), 1)
	ch := Choices{{false, true, false, false, false}, {true, false, true, false, false, false, true}, {false, false}}
	b, nonces, err := e.NewBallot(testCredential(1), "station-7", ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Ballot.
	v := checkWire(t, rules, "Ballot", b.Encode())
	if sha256.Sum256(b.Encode()) != b.Hash() || !MatchesTrackingCode(b.TrackingCode(), sha256.Sum256(b.Encode())) {
		t.Fatal("ballot hash or tracking code is not SHA-256 of the bytes")
	}
	if v[1].(string) != "station-7" || len(v[3].([]any)) != 3 {
		t.Fatal("ballot fields are not in the documented order")
	}
	// What the credential signs.
	sb := checkWire(t, rules, "SignedBody", b.SigningBytes())
	if sb[0].(string) != "urna/v2/ballot" || !bytes.Equal(sb[3].([]byte), b.Credential[:]) {
		t.Fatalf("signed body starts %q", sb[0])
	}
	// Spoiled ballot: marks as byte strings of 0/1, nonces as scalars.
	sp, err := e.Spoil(b, ch, nonces)
	if err != nil {
		t.Fatal(err)
	}
	sv := checkWire(t, rules, "SpoiledBallot", sp.Encode())
	for ci, m := range sv[1].([]any) {
		marks := m.([]byte)
		for si, mark := range marks {
			if (mark == 1) != ch[ci][si] || mark > 1 {
				t.Fatalf("mark %d/%d is %d", ci, si, mark)
			}
		}
	}
	// Decryption shares.
	keys := dealtShares(t, x, 4, 2)
	aggs := aggregates(t, e, [][]int64{{1, 2, 3, 4, 5}, {1, 1, 1, 1, 1, 1, 1}, {9, 8}})
	ts, err := e.MakeTallyShares(keys[2], aggs, nil)
	if err != nil {
		t.Fatal(err)
	}
	tv := checkWire(t, rules, "TallyShares", ts.Encode())
	if tv[0].(uint64) != 2 {
		t.Fatal("tally shares do not start with the station index")
	}
	// DKG messages of a real run, and a justification.
	deals, responses, ann, _ := dkgSeeds(t)
	for _, d := range deals {
		checkWire(t, rules, "DealBundle", d)
	}
	for _, r := range responses {
		checkWire(t, rules, "ResponseBundle", r)
	}
	checkWire(t, rules, "KeyAnnouncement", ann)
	j := &JustificationBundle{Dealer: 1, Justifications: []Justification{{
		Recipient: 2, SessionID: make([]byte, 32), Share: EncodeScalar(suite.Scalar().One()), Threshold: 2,
		Commitments: [][PointSize]byte{otherPoint(1), otherPoint(2)}, DealSession: make([]byte, 32), Signature: make([]byte, 64),
	}}}
	if err := j.Check(4, 2); err != nil {
		t.Fatal(err)
	}
	checkWire(t, rules, "JustificationBundle", j.Encode())
}
