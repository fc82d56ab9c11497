package ballot

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func newTestBallot(t *testing.T, e *Election, seed uint64) (*Ballot, *Credential, Choices, Nonces) {
	t.Helper()
	cred := testCredential(int(seed))
	ch := randomChoices(&e.Manifest, rand.New(rand.NewPCG(seed, 1)))
	b, nonces, err := e.NewBallot(cred, "st1", ch, testRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return b, cred, ch, nonces
}

func TestBallotRoundTrip(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	b, _, _, _ := newTestBallot(t, e, 7)
	if err := e.VerifyBallot(b); err != nil {
		t.Fatalf("valid ballot rejected: %v", err)
	}
	enc := b.Encode()
	back, err := DecodeBallot(enc)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !bytes.Equal(back.Encode(), enc) {
		t.Fatal("re-encoding differs")
	}
	if err := e.VerifyBallot(back); err != nil {
		t.Fatalf("decoded ballot rejected: %v", err)
	}
	if back.TrackingCode() != b.TrackingCode() || len(b.TrackingCode()) != 34 {
		t.Fatalf("tracking code %q / %q", back.TrackingCode(), b.TrackingCode())
	}
}

// point returns the encoding of a fresh valid point.
func otherPoint(seed uint64) [PointSize]byte {
	x, _ := randomScalar(testRand(seed))
	return EncodePoint(suite.Point().Mul(x, nil))
}

func addOne(s [ScalarSize]byte) [ScalarSize]byte {
	v, err := DecodeScalar(s[:])
	if err != nil {
		panic(err)
	}
	return EncodeScalar(v.Add(v, suite.Scalar().One()))
}

// notAPoint is 32 bytes that decode to no curve point: the first y ≥ 2
// for which (y² − 1)/(d·y² + 1) is not a square.
var notAPoint = func() [PointSize]byte {
	for y := byte(2); ; y++ {
		p := [PointSize]byte{y}
		if _, err := decodeExt(&p); err != nil {
			return p
		}
	}
}()

// withTorsion adds the point of order 2 to an encoded point.
func withTorsion(p [PointSize]byte) [PointSize]byte {
	e, err := decodeExt(&p)
	if err != nil {
		panic(err)
	}
	t, _ := decodeExt(&smallOrder[4])
	e.addTo(&t)
	return e.bytes()
}

var smallOrderPoint = func() [PointSize]byte {
	var p [PointSize]byte
	copy(p[:], mustHex(smallOrderEncodings[3]))
	return p
}()

// mutation changes one field of a ballot of the general manifest; want is
// the error once the ballot is re-signed (by a voter, or a terminal, that
// signs a bad ballot), and contest/selection where it must be found.
type mutation struct {
	name      string
	mutate    func(b *Ballot)
	want      error
	contest   string
	selection int
}

// ballotMutations are the tamperings every verifier path must refuse.
func ballotMutations() []mutation {
	sel := func(b *Ballot, c, s int) *EncryptedSelection { return &b.Contests[c].Selections[s] }
	return []mutation{
		{"alpha replaced", func(b *Ballot) { sel(b, 0, 1).Ciphertext.Alpha = otherPoint(1) }, ErrSelectionProof, "president", 1},
		{"beta replaced", func(b *Ballot) { sel(b, 1, 6).Ciphertext.Beta = otherPoint(2) }, ErrSelectionProof, "council", 6},
		{"alpha small order", func(b *Ballot) { sel(b, 0, 0).Ciphertext.Alpha = smallOrderPoint }, ErrBadCiphertext, "president", 0},
		{"beta not a point", func(b *Ballot) { sel(b, 2, 0).Ciphertext.Beta = notAPoint }, ErrBadCiphertext, "referendum", 0},
		{"beta non-canonical", func(b *Ballot) { sel(b, 2, 1).Ciphertext.Beta = [PointSize]byte(mustHex(nonCanonicalEncodings[0])) }, ErrBadCiphertext, "referendum", 1},
		{"beta with a torsion component", func(b *Ballot) { sel(b, 1, 2).Ciphertext.Beta = withTorsion(sel(b, 1, 2).Ciphertext.Beta) }, ErrSelectionProof, "council", 2},
		{"alpha with a torsion component", func(b *Ballot) { sel(b, 1, 5).Ciphertext.Alpha = withTorsion(sel(b, 1, 5).Ciphertext.Alpha) }, ErrSelectionProof, "council", 5},
		{"branch 0 A", func(b *Ballot) { sel(b, 0, 2).Proof.Branches[0].A = otherPoint(3) }, ErrSelectionProof, "president", 2},
		{"branch 1 B", func(b *Ballot) { sel(b, 0, 2).Proof.Branches[1].B = otherPoint(4) }, ErrSelectionProof, "president", 2},
		{"branch 0 C", func(b *Ballot) { p := &sel(b, 1, 0).Proof.Branches[0]; p.C = addOne(p.C) }, ErrSelectionProof, "council", 0},
		{"branch 1 V", func(b *Ballot) { p := &sel(b, 1, 3).Proof.Branches[1]; p.V = addOne(p.V) }, ErrSelectionProof, "council", 3},
		{"challenge moved between branches", func(b *Ballot) {
			p := sel(b, 1, 4).Proof.Branches
			c0, _ := DecodeScalar(p[0].C[:])
			c1, _ := DecodeScalar(p[1].C[:])
			one := suite.Scalar().One()
			p[0].C = EncodeScalar(c0.Add(c0, one))
			p[1].C = EncodeScalar(c1.Sub(c1, one))
		}, ErrSelectionProof, "council", 4},
		{"unreduced response", func(b *Ballot) { copy(sel(b, 0, 0).Proof.Branches[0].V[:], orderBytes) }, ErrProofEncoding, "president", 0},
		{"branch dropped", func(b *Ballot) { p := &sel(b, 0, 0).Proof; p.Branches = p.Branches[:1] }, ErrProofShape, "president", 0},
		{"contest proof A", func(b *Ballot) { b.Contests[1].Proof.Branches[2].A = otherPoint(5) }, ErrContestProof, "council", -1},
		{"contest proof V", func(b *Ballot) { p := &b.Contests[2].Proof.Branches[0]; p.V = addOne(p.V) }, ErrContestProof, "referendum", -1},
		{"contest proof small-order B", func(b *Ballot) { b.Contests[0].Proof.Branches[1].B = smallOrderPoint }, ErrProofEncoding, "president", -1},
		{"selections swapped", func(b *Ballot) {
			s := b.Contests[1].Selections
			s[0], s[1] = s[1], s[0]
		}, ErrSelectionProof, "council", 0},
		{"selection dropped", func(b *Ballot) { b.Contests[1].Selections = b.Contests[1].Selections[1:] }, ErrBallotShape, "council", -1},
		{"contest renamed", func(b *Ballot) { b.Contests[2].Contest = "other" }, ErrBallotShape, "referendum", -1},
		{"contest dropped", func(b *Ballot) { b.Contests = b.Contests[:2] }, ErrBallotShape, "", -1},
		{"fingerprint", func(b *Ballot) { b.Election[0] ^= 1 }, ErrWrongElection, "", -1},
		{"station emptied", func(b *Ballot) { b.Station = "" }, ErrBadStation, "", -1},
	}
}

// TestBallotTamperedFieldsRejected changes every field of a valid ballot,
// one at a time. A change the voter's signature covers is caught by the
// signature; the same change re-signed must be caught by the proof that
// covers the field, with an error that names the contest and selection.
func TestBallotTamperedFieldsRejected(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	orig, cred, _, _ := newTestBallot(t, e, 3)
	sel := func(b *Ballot, c, s int) *EncryptedSelection { return &b.Contests[c].Selections[s] }
	muts := ballotMutations()
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			b, err := DecodeBallot(orig.Encode()) // deep copy
			if err != nil {
				t.Fatal(err)
			}
			m.mutate(b)
			// Without re-signing: the signature or an earlier check fails.
			err = e.VerifyBallot(b)
			if err == nil {
				t.Fatal("tampered ballot accepted")
			}
			copy(b.Signature[:], cred.Sign(b.SigningBytes()))
			err = e.VerifyBallot(b)
			if !errors.Is(err, m.want) {
				t.Fatalf("re-signed: got %v, want %v", err, m.want)
			}
			var be *BallotError
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not a *BallotError", err)
			}
			if be.Contest != m.contest || be.Selection != m.selection {
				t.Fatalf("error names contest %q selection %d, want %q %d: %v", be.Contest, be.Selection, m.contest, m.selection, err)
			}
			if be.Ballot != b.TrackingCode() {
				t.Fatalf("error names ballot %q, want %q", be.Ballot, b.TrackingCode())
			}
		})
	}

	// Fields the signature alone protects.
	for name, mutate := range map[string]func(b *Ballot){
		"signature":         func(b *Ballot) { b.Signature[5] ^= 1 },
		"station changed":   func(b *Ballot) { b.Station = "st2" },
		"other credential":  func(b *Ballot) { copy(b.Credential[:], testCredential(99).Public) },
		"ciphertext change": func(b *Ballot) { sel(b, 0, 0).Ciphertext.Alpha = otherPoint(9) },
	} {
		b, _ := DecodeBallot(orig.Encode())
		mutate(b)
		if err := e.VerifyBallot(b); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
	b, _ := DecodeBallot(orig.Encode())
	b.Credential = smallOrderPoint
	if err := e.VerifyBallot(b); !errors.Is(err, ErrBadCredential) {
		t.Errorf("small-order credential: got %v, want ErrBadCredential", err)
	}
}

// TestBallotReplayRejected: a ballot made for one election or contest does
// not verify in another, even when whoever replays it re-signs it.
func TestBallotReplayRejected(t *testing.T) {
	e1, _ := testElection(t, mayorManifest(), 1)
	b, cred, _, _ := newTestBallot(t, e1, 5)

	// Same key and contests, other fingerprint.
	m2 := mayorManifest()
	m2.Fingerprint[0] ^= 0xff
	e2, err := NewElection(m2, e1.KeyBytes[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.VerifyBallot(b); !errors.Is(err, ErrWrongElection) {
		t.Fatalf("other election: got %v, want ErrWrongElection", err)
	}
	b.Election = m2.Fingerprint
	copy(b.Signature[:], cred.Sign(b.SigningBytes()))
	if err := e2.VerifyBallot(b); !errors.Is(err, ErrSelectionProof) {
		t.Fatalf("relabelled for other election: got %v, want ErrSelectionProof", err)
	}

	// Two contests of identical shape: the marks of one moved into the
	// other are caught because the contest id is in every proof.
	m := Manifest{ElectionID: "twin", Fingerprint: [32]byte{1}, Contests: []Contest{
		{ID: "a", Candidates: []string{"x", "y", "z"}, Limit: 1},
		{ID: "b", Candidates: []string{"x", "y", "z"}, Limit: 1},
	}}
	e3, _ := testElection(t, m, 2)
	b3, cred3, _, _ := newTestBallot(t, e3, 6)
	b3.Contests[0].Selections, b3.Contests[1].Selections = b3.Contests[1].Selections, b3.Contests[0].Selections
	b3.Contests[0].Proof, b3.Contests[1].Proof = b3.Contests[1].Proof, b3.Contests[0].Proof
	copy(b3.Signature[:], cred3.Sign(b3.SigningBytes()))
	if err := e3.VerifyBallot(b3); !errors.Is(err, ErrSelectionProof) {
		t.Fatalf("contests swapped: got %v, want ErrSelectionProof", err)
	}
}

func TestOverLimitCannotBeProved(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	ch := randomChoices(&e.Manifest, rand.New(rand.NewPCG(1, 2)))
	ch[0] = []bool{true, true, false, false, false} // two marks, limit 1
	if _, _, err := e.NewBallot(testCredential(1), "st1", ch, nil); !errors.Is(err, ErrOverLimit) {
		t.Fatalf("over-limit ballot: got %v, want ErrOverLimit", err)
	}
	// The proof itself refuses a false statement.
	ct := encrypt(e.keyBase(), 2, scalarFromUint(1))
	if _, err := proveRange(tagSelectionProof, e.ballotContext([32]byte{}, "president", "p1"), e.keyBase(), 1, &ct, 2, scalarFromUint(1), nil); !errors.Is(err, ErrCannotProve) {
		t.Fatalf("proving 2 ∈ {0,1}: got %v, want ErrCannotProve", err)
	}
	// A ballot proved under a looser limit does not verify under the real one.
	loose := generalManifest()
	loose.Contests[0].Limit = 2
	eLoose, err := NewElection(loose, e.KeyBytes[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := eLoose.NewBallot(testCredential(1), "st1", ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.VerifyBallot(b); !errors.Is(err, ErrContestProof) {
		t.Fatalf("two marks proved under limit 2, checked under limit 1: got %v, want ErrContestProof", err)
	}
	// A selection that encrypts 2 with a forged 0/1 proof (simulated both branches) fails.
	b2, nonces, err := e.NewBallot(testCredential(2), "st1", randomChoices(&e.Manifest, rand.New(rand.NewPCG(3, 3))), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = nonces
	two := encrypt(e.keyBase(), 2, scalarFromUint(1))
	b2.Contests[0].Selections[0].Ciphertext = two
	copy(b2.Signature[:], testCredential(2).Sign(b2.SigningBytes()))
	if err := e.VerifyBallot(b2); !errors.Is(err, ErrSelectionProof) {
		t.Fatalf("selection encrypting 2: got %v, want ErrSelectionProof", err)
	}
}

func TestDecodeBallotRejectsNonCanonical(t *testing.T) {
	e, _ := testElection(t, mayorManifest(), 1)
	b, _, _, _ := newTestBallot(t, e, 2)
	enc := b.Encode()
	cases := map[string][]byte{
		"trailing byte": append(append([]byte(nil), enc...), 0),
		"truncated":     enc[:len(enc)-1],
		"empty":         nil,
		"indefinite":    append([]byte{0x9f}, append(append([]byte(nil), enc[1:]...), 0xff)...),
	}
	// A 32-byte field written as a 33-byte string.
	long := append([]byte(nil), enc...)
	i := bytes.Index(long, append([]byte{0x58, 0x20}, b.Election[:]...))
	if i < 0 {
		t.Fatal("fingerprint not found in encoding")
	}
	long = append(long[:i], append([]byte{0x58, 0x21}, append(append([]byte(nil), b.Election[:]...), append([]byte{0}, long[i+34:]...)...)...)...)
	cases["33-byte fingerprint"] = long
	for name, data := range cases {
		if _, err := DecodeBallot(data); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: got %v, want ErrEncoding", name, err)
		}
	}
	if _, err := DecodeBallot(make([]byte, MaxBallotSize+1)); !errors.Is(err, ErrEncoding) {
		t.Errorf("oversized: got %v", err)
	}
}

func TestVerifyBallotsReportsEachBallot(t *testing.T) {
	e, _ := testElection(t, mayorManifest(), 1)
	var bs []*Ballot
	for i := range 4 {
		b, _, _, _ := newTestBallot(t, e, uint64(10+i))
		bs = append(bs, b)
	}
	bs[2].Signature[0] ^= 1
	errs := e.VerifyBallots(bs)
	for i, err := range errs {
		if (err != nil) != (i == 2) {
			t.Errorf("ballot %d: err = %v", i, err)
		}
	}
}

func TestTrackingCode(t *testing.T) {
	var h [32]byte
	for i := range h {
		h[i] = byte(i * 37)
	}
	code := TrackingCodeOf(h)
	if len(code) != 34 || strings.Count(code, "-") != 6 {
		t.Fatalf("tracking code %q has the wrong form (seven groups of four)", code)
	}
	for i := 4; i < len(code); i += 5 {
		if code[i] != '-' {
			t.Fatalf("tracking code %q: no dash at %d", code, i)
		}
	}
	for _, typed := range []string{code, toLowerNoDash(code), " " + code + " "} {
		got, err := ParseTrackingCode(typed)
		if err != nil || got != code {
			t.Errorf("ParseTrackingCode(%q) = %q, %v", typed, got, err)
		}
		if !MatchesTrackingCode(typed, h) {
			t.Errorf("MatchesTrackingCode(%q) is false for its own hash", typed)
		}
	}
	// Every one of the 140 bits shows in the code and in the look-up key;
	// bit 141 and beyond do not.
	for bit := range 256 {
		h2 := h
		h2[bit/8] ^= 0x80 >> (bit % 8)
		differs := TrackingCodeOf(h2) != code
		if differs != (bit < TrackingBits) {
			t.Fatalf("flipping hash bit %d: code changes = %v", bit, differs)
		}
		if (TrackingKeyOf(h2) != TrackingKeyOf(h)) != (bit < TrackingBits) {
			t.Fatalf("flipping hash bit %d: key changes wrongly", bit)
		}
		if MatchesTrackingCode(code, h2) == (bit < TrackingBits) {
			t.Fatalf("flipping hash bit %d: match = %v", bit, !(bit < TrackingBits))
		}
	}
	for _, bad := range []string{"", code[:33], code + "A", strings.Repeat("UUUU-", 6) + "UUUU", code[:19]} {
		if _, err := ParseTrackingCode(bad); !errors.Is(err, ErrBadTrackingCode) {
			t.Errorf("ParseTrackingCode(%q): got %v", bad, err)
		}
		if MatchesTrackingCode(bad, h) {
			t.Errorf("MatchesTrackingCode(%q) is true", bad)
		}
	}
}

func toLowerNoDash(s string) string {
	out := []byte{}
	for _, c := range []byte(s) {
		if c == '-' {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}

// A list may not be written as CBOR null: one value, one encoding.
func TestDecodeRejectsNullForList(t *testing.T) {
	var empty RangeProof
	enc := marshal(&empty)
	if !bytes.Equal(enc, []byte{0x81, 0x80}) {
		t.Fatalf("empty proof encodes as %x, want 8180", enc)
	}
	var back RangeProof
	if err := unmarshalStrict([]byte{0x81, 0xf6}, &back, 100); !errors.Is(err, ErrEncoding) {
		t.Fatalf("null list: got %v, want ErrEncoding", err)
	}
}

func TestTrackingKeyInvertsTrackingCode(t *testing.T) {
	r := testRand(5)
	for range 50 {
		var h [32]byte
		r.Read(h[:])
		k, err := TrackingKey(toLowerNoDash(TrackingCodeOf(h)))
		if err != nil || k != TrackingKeyOf(h) {
			t.Fatalf("TrackingKey = %x, %v; want %x", k, err, TrackingKeyOf(h))
		}
		if k[TrackingKeySize-1]&0x0f != 0 || [17]byte(k[:17]) != [17]byte(h[:17]) || k[17] != h[17]&0xf0 {
			t.Fatalf("key %x is not the first 140 bits of %x", k, h)
		}
	}
}

// TestDecodeBallots: the parallel decoder gives, per payload, the ballot,
// its hash and its decoded ciphertexts, which add up as the ciphertexts do.
func TestDecodeBallots(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	var payloads [][]byte
	var made []*Ballot
	for i := range 40 {
		b, _, _, _ := newTestBallot(t, e, uint64(50+i))
		made = append(made, b)
		payloads = append(payloads, b.Encode())
	}
	notPoint, _ := DecodeBallot(made[0].Encode())
	notPoint.Contests[1].Selections[3].Ciphertext.Beta = notAPoint
	payloads = append(payloads, []byte{0x80}, notPoint.Encode())
	got := DecodeBallots(payloads)
	for i, b := range made {
		d := got[i]
		if d.Err != nil || d.Hash != b.Hash() || !bytes.Equal(d.Ballot.Encode(), payloads[i]) || d.Ciphertexts == nil {
			t.Fatalf("ballot %d: %+v", i, d.Err)
		}
		acc, dacc := NewAccumulator(), NewAccumulator()
		for si := range b.Contests[1].Selections {
			if err := acc.Add(b.Contests[1].Selections[si].Ciphertext); err != nil {
				t.Fatal(err)
			}
			dacc.AddDecoded(&d.Ciphertexts[1][si])
		}
		if acc.Total() != dacc.Total() {
			t.Fatalf("ballot %d: decoded ciphertexts add up differently", i)
		}
	}
	if !errors.Is(got[40].Err, ErrEncoding) {
		t.Fatalf("garbage: %v", got[40].Err)
	}
	if got[41].Err != nil || got[41].Ciphertexts != nil {
		t.Fatalf("ballot with a non-point: err %v, ciphertexts %v", got[41].Err, got[41].Ciphertexts != nil)
	}
}
