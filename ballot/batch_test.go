package ballot

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// sameVerdict checks that the batch's verdict on a ballot is the one-by-one
// verdict, and the reference check's: all accept, or all refuse with the
// same error (same sentinel, same contest and selection).
func sameVerdict(t *testing.T, e *Election, what string, b *Ballot, batchErr error) {
	t.Helper()
	single := e.VerifyBallot(b)
	ref := e.checkBallot(b)
	if (batchErr == nil) != (single == nil) || (single == nil) != (ref == nil) {
		t.Fatalf("%s: batch %v, one by one %v, reference %v", what, batchErr, single, ref)
	}
	if batchErr != nil && (batchErr.Error() != single.Error() || single.Error() != ref.Error()) {
		t.Fatalf("%s: errors differ:\nbatch       %v\none by one  %v\nreference   %v", what, batchErr, single, ref)
	}
}

// TestBatchAgreesWithOneByOne runs a corpus of valid ballots and every
// tampering of the tamper tests (re-signed and not) through the batch
// verifier in one shuffled batch, and through VerifyBallot one at a time.
func TestBatchAgreesWithOneByOne(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	orig, cred, _, _ := newTestBallot(t, e, 3)
	type entry struct {
		name string
		b    *Ballot
		bad  bool
	}
	var corpus []entry
	for i := range 6 {
		b, _, _, _ := newTestBallot(t, e, uint64(20+i))
		corpus = append(corpus, entry{fmt.Sprintf("valid %d", i), b, false})
	}
	for _, m := range ballotMutations() {
		b, _ := DecodeBallot(orig.Encode())
		m.mutate(b)
		corpus = append(corpus, entry{m.name, b, true})
		rs, _ := DecodeBallot(b.Encode())
		copy(rs.Signature[:], cred.Sign(rs.SigningBytes()))
		corpus = append(corpus, entry{m.name + " (re-signed)", rs, true})
	}
	for name, mutate := range signatureMutations() {
		b, _ := DecodeBallot(orig.Encode())
		mutate(b)
		corpus = append(corpus, entry{name, b, true})
	}
	r := rand.New(rand.NewPCG(7, 7))
	r.Shuffle(len(corpus), func(i, j int) { corpus[i], corpus[j] = corpus[j], corpus[i] })
	bs := make([]*Ballot, len(corpus))
	for i := range corpus {
		bs[i] = corpus[i].b
	}
	errs := e.VerifyBallots(bs)
	for i, c := range corpus {
		if (errs[i] != nil) != c.bad {
			t.Fatalf("%s: batch verdict %v", c.name, errs[i])
		}
		sameVerdict(t, e, c.name, c.b, errs[i])
	}
}

// signatureMutations are changes that only the voter's signature covers.
func signatureMutations() map[string]func(b *Ballot) {
	return map[string]func(b *Ballot){
		"signature S":   func(b *Ballot) { b.Signature[40] ^= 1 },
		"signature R":   func(b *Ballot) { b.Signature[5] ^= 1 },
		"S unreduced":   func(b *Ballot) { copy(b.Signature[32:], orderBytes) },
		"R small order": func(b *Ballot) { copy(b.Signature[:32], smallOrderPoint[:]) },
		"R with torsion": func(b *Ballot) {
			copy(b.Signature[:32], func() []byte { p := withTorsion([32]byte(b.Signature[:32])); return p[:] }())
		},
		"station changed":   func(b *Ballot) { b.Station = "st2" },
		"other credential":  func(b *Ballot) { copy(b.Credential[:], testCredential(99).Public) },
		"ciphertext change": func(b *Ballot) { b.Contests[0].Selections[0].Ciphertext.Alpha = otherPoint(9) },
		"credential small":  func(b *Ballot) { b.Credential = smallOrderPoint },
	}
}

// mayorMutations are re-signed tamperings of a ballot of the mayor
// manifest, for the large batches.
func mayorMutations(cred *Credential) []func(b *Ballot) {
	resign := func(f func(b *Ballot)) func(b *Ballot) {
		return func(b *Ballot) {
			f(b)
			copy(b.Signature[:], cred.Sign(b.SigningBytes()))
		}
	}
	return []func(b *Ballot){
		func(b *Ballot) { b.Signature[40] ^= 1 },
		resign(func(b *Ballot) { p := &b.Contests[0].Selections[2].Proof.Branches[1]; p.V = addOne(p.V) }),
		resign(func(b *Ballot) {
			b.Contests[0].Selections[3].Ciphertext.Beta = withTorsion(b.Contests[0].Selections[3].Ciphertext.Beta)
		}),
		resign(func(b *Ballot) { b.Contests[0].Proof.Branches[0].A = otherPoint(11) }),
		resign(func(b *Ballot) { b.Contests[0].Selections[1].Ciphertext.Alpha = otherPoint(12) }),
		resign(func(b *Ballot) {
			s := b.Contests[0].Selections
			s[0], s[1] = s[1], s[0]
		}),
	}
}

// mayorBatch makes n valid ballots (a pool of distinct ones, repeated: a
// batch does not care) and the credentials that signed them.
func mayorBatch(t *testing.T, e *Election, n int) ([]*Ballot, []*Credential) {
	const pool = 100
	made := make([]*Ballot, pool)
	creds := make([]*Credential, pool)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range made {
		creds[i] = testCredential(i)
		var err error
		if made[i], _, err = e.NewBallot(creds[i], "st1", randomChoices(&e.Manifest, r), testRand(uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	bs := make([]*Ballot, n)
	cs := make([]*Credential, n)
	for i := range bs {
		bs[i], cs[i] = made[i%pool], creds[i%pool]
	}
	return bs, cs
}

// TestBatchFindsHiddenBadBallot hides one bad ballot at a random position
// in a batch of 1,000: exactly that ballot is refused, with the error
// VerifyBallot gives it.
func TestBatchFindsHiddenBadBallot(t *testing.T) {
	e, _ := testElection(t, mayorManifest(), 1)
	n := 1000
	if testing.Short() {
		n = 200
	}
	bs, creds := mayorBatch(t, e, n)
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	for round := range len(mayorMutations(creds[0])) {
		pos := r.IntN(n)
		bad, _ := DecodeBallot(bs[pos].Encode())
		mayorMutations(creds[pos])[round](bad)
		batch := append([]*Ballot(nil), bs...)
		batch[pos] = bad
		errs := e.VerifyBallots(batch)
		for i, err := range errs {
			if (err != nil) != (i == pos) {
				t.Fatalf("seed %d, mutation %d at %d: ballot %d: %v", seed, round, pos, i, err)
			}
		}
		sameVerdict(t, e, fmt.Sprintf("mutation %d", round), bad, errs[pos])
	}
}

// TestBatchAllBad: a batch in which every ballot is bad, in one of several
// ways; every verdict is the one-by-one verdict.
func TestBatchAllBad(t *testing.T) {
	e, _ := testElection(t, mayorManifest(), 1)
	bs, creds := mayorBatch(t, e, 120)
	bad := make([]*Ballot, len(bs))
	for i := range bs {
		bad[i], _ = DecodeBallot(bs[i].Encode())
		muts := mayorMutations(creds[i])
		muts[i%len(muts)](bad[i])
	}
	for i, err := range e.VerifyBallots(bad) {
		if err == nil {
			t.Fatalf("bad ballot %d accepted", i)
		}
		sameVerdict(t, e, fmt.Sprintf("ballot %d", i), bad[i], err)
	}
}

// reprove remakes every proof and the signature of a ballot whose
// ciphertexts were changed, from the choices and nonces it was made with.
func reprove(t *testing.T, e *Election, b *Ballot, cred *Credential, ch Choices, nonces Nonces) {
	t.Helper()
	for ci, c := range e.Manifest.Contests {
		cb := &b.Contests[ci]
		sumA, sumB := edwards25519.NewIdentityPoint(), edwards25519.NewIdentityPoint()
		sumR := edwards25519.NewScalar()
		for si, cand := range c.Candidates {
			m := 0
			if ch[ci][si] {
				m = 1
			}
			r, _ := decodeScalarStrict(func() []byte { s := EncodeScalar(nonces[ci][si]); return s[:] }())
			sel := &cb.Selections[si]
			p, err := proveRange(tagSelectionProof, e.ballotContext(b.Credential, c.ID, cand), e.keyBase(), 1, &sel.Ciphertext, m, r, nil)
			if err != nil {
				t.Fatal(err)
			}
			sel.Proof = p
			a, _ := decodeExt(&sel.Ciphertext.Alpha)
			bb, _ := decodeExt(&sel.Ciphertext.Beta)
			sumA.Add(sumA, a.point())
			sumB.Add(sumB, bb.point())
			sumR.Add(sumR, r)
		}
		sum := Ciphertext{Alpha: [32]byte(sumA.Bytes()), Beta: [32]byte(sumB.Bytes())}
		p, err := proveRange(tagContestProof, e.ballotContext(b.Credential, c.ID, ""), e.keyBase(), c.Limit, &sum, countMarks(ch[ci]), sumR, nil)
		if err != nil {
			t.Fatal(err)
		}
		cb.Proof = p
	}
	copy(b.Signature[:], cred.Sign(b.SigningBytes()))
}

// TestTorsionIsIgnoredTheSameEverywhere: a ballot whose ciphertexts carry a
// torsion component, with proofs of their prime-order parts, is accepted by
// every verifier path alike, and the tally counts its prime-order part.
func TestTorsionIsIgnoredTheSameEverywhere(t *testing.T) {
	e, x := testElection(t, mayorManifest(), 5)
	cred := testCredential(1)
	ch := Choices{{false, false, true, false}}
	b, nonces, err := e.NewBallot(cred, "st1", ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel := &b.Contests[0].Selections[2]
	sel.Ciphertext.Alpha = withTorsion(sel.Ciphertext.Alpha)
	sel.Ciphertext.Beta = withTorsion(sel.Ciphertext.Beta)
	reprove(t, e, b, cred, ch, nonces)
	if err := e.VerifyBallot(b); err != nil {
		t.Fatalf("one by one: %v", err)
	}
	if err := e.checkBallot(b); err != nil {
		t.Fatalf("reference: %v", err)
	}
	others, _ := mayorBatch(t, e, 20)
	for i, err := range e.VerifyBallots(append(others, b)) {
		if err != nil {
			t.Fatalf("batch, ballot %d: %v", i, err)
		}
	}
	// Its ciphertexts differ from the honest encryption only by torsion, so
	// a spoiled ballot of it does not re-encrypt to the same bytes.
	if sp, err := e.Spoil(b, ch, nonces); err != nil {
		t.Fatal(err)
	} else if _, err := e.VerifySpoiled(sp); !errors.Is(err, ErrRevealMismatch) {
		t.Fatalf("spoiled torsion ballot: got %v, want ErrRevealMismatch", err)
	}
	// Tally: the aggregates carry the torsion, the decryption does not.
	acc := make([]*Accumulator, 4)
	for si := range acc {
		acc[si] = NewAccumulator()
		if err := acc[si].Add(b.Contests[0].Selections[si].Ciphertext); err != nil {
			t.Fatal(err)
		}
	}
	aggs := [][]Ciphertext{{acc[0].Total(), acc[1].Total(), acc[2].Total(), acc[3].Total()}}
	if _, err := DecodePointOrIdentity(aggs[0][2].Alpha[:]); !errors.Is(err, ErrPointSubgroup) {
		t.Fatalf("the aggregate should carry the torsion component: %v", err)
	}
	keys := dealtShares(t, x, 3, 2)
	shares := make([]*VerifiedShares, 3)
	for i, k := range keys[:2] {
		ts, err := e.MakeTallyShares(k, aggs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if shares[i], err = e.VerifyTallyShares(ts, k.Result.PublicShares[i], aggs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.Decrypt(aggs, shares, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[[0 0 1 0]]" {
		t.Fatalf("tally %v, want [[0 0 1 0]]", got)
	}
}

// TestSignatureRuleIsCofactored pins the Ed25519 rule: R and A canonical
// and not of small order, S < ℓ, and [8](S·B − R − k·A) = 0. A signature
// whose R carries a torsion component satisfies it (crypto/ed25519, which
// checks without the cofactor, refuses it), and both verifier paths
// accept it alike.
func TestSignatureRuleIsCofactored(t *testing.T) {
	e, _ := testElection(t, mayorManifest(), 1)
	cred := testCredential(4)
	b, _, err := e.NewBallot(cred, "st1", Choices{{true, false, false, false}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Sign by hand with R = r·B + T, T of order 2.
	h := sha512.Sum512(cred.private.Seed())
	a, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	rr, _ := randomFScalar(nil)
	R := new(edwards25519.Point).ScalarBaseMult(rr)
	tp, _ := new(edwards25519.Point).SetBytes(smallOrder[4][:])
	R.Add(R, tp)
	copy(b.Signature[:32], R.Bytes())
	k := signatureChallenge(b)
	S := edwards25519.NewScalar().MultiplyAdd(k, a, rr)
	copy(b.Signature[32:], S.Bytes())
	if ed25519.Verify(cred.Public, b.SigningBytes(), b.Signature[:]) {
		t.Fatal("crypto/ed25519 accepts a torsioned R: the test does not test what it says")
	}
	if err := e.VerifyBallot(b); err != nil {
		t.Fatalf("cofactored rule refuses a torsioned R: %v", err)
	}
	others, _ := mayorBatch(t, e, 16)
	for i, err := range e.VerifyBallots(append(others, b)) {
		if err != nil {
			t.Fatalf("batch, ballot %d: %v", i, err)
		}
	}
	// And every standard signature is accepted: NewBallot's are.
	for name, mutate := range signatureMutations() {
		bad, _ := DecodeBallot(b.Encode())
		mutate(bad)
		if name == "R with torsion" {
			continue // R's torsion changes k: it fails, but not as "torsion"
		}
		if err := e.VerifyBallot(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCopiedContestsDoNotVerify: another voter's encrypted choices, signed
// with one's own credential, do not verify, because every proof names the
// credential it was made for.
func TestCopiedContestsDoNotVerify(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	victim, _, _, _ := newTestBallot(t, e, 1)
	copier := testCredential(2)
	cp, _ := DecodeBallot(victim.Encode())
	copy(cp.Credential[:], copier.Public)
	copy(cp.Signature[:], copier.Sign(cp.SigningBytes()))
	err := e.VerifyBallot(cp)
	var be *BallotError
	if !errors.Is(err, ErrSelectionProof) || !errors.As(err, &be) || be.Contest != "president" || be.Selection != 0 {
		t.Fatalf("copied contests: got %v, want ErrSelectionProof at president/0", err)
	}
	// One contest copied into an otherwise honest ballot.
	own, _, _, _ := newTestBallot(t, e, 3)
	own.Contests[1] = victim.Contests[1]
	copy(own.Signature[:], testCredential(3).Sign(own.SigningBytes()))
	if err := e.VerifyBallot(own); !errors.Is(err, ErrSelectionProof) || !errors.As(err, &be) || be.Contest != "council" {
		t.Fatalf("one copied contest: got %v", err)
	}
	for i, err := range e.VerifyBallots([]*Ballot{victim, cp, own}) {
		if (err == nil) != (i == 0) {
			t.Fatalf("batch, ballot %d: %v", i, err)
		}
	}
}

// TestBatchLargerThanOneCombination: more ballots than one combination
// takes (and a nil among them) are checked in several, with the same
// verdicts.
func TestBatchLargerThanOneCombination(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 ballots")
	}
	e, _ := testElection(t, mayorManifest(), 1)
	bs, creds := mayorBatch(t, e, 2*maxBatch+5)
	bad, _ := DecodeBallot(bs[maxBatch+3].Encode())
	mayorMutations(creds[maxBatch+3])[1](bad)
	bs[maxBatch+3] = bad
	bs[7] = nil
	for i, err := range e.VerifyBallots(bs) {
		switch i {
		case 7:
			if !errors.Is(err, ErrBallotShape) {
				t.Fatalf("nil ballot: %v", err)
			}
		case maxBatch + 3:
			sameVerdict(t, e, "bad ballot", bad, err)
			if err == nil {
				t.Fatal("bad ballot accepted")
			}
		default:
			if err != nil {
				t.Fatalf("ballot %d: %v", i, err)
			}
		}
	}
}

// TestVerifyDecodedBallotsAgrees: ballots decoded by DecodeBallots get the
// verdicts VerifyBallots gives, tampered or not, and undecodable bytes
// their decoding error.
func TestVerifyDecodedBallotsAgrees(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	orig, cred, _, _ := newTestBallot(t, e, 3)
	var payloads [][]byte
	for i := range 5 {
		b, _, _, _ := newTestBallot(t, e, uint64(30+i))
		payloads = append(payloads, b.Encode())
	}
	for _, m := range ballotMutations() {
		b, _ := DecodeBallot(orig.Encode())
		m.mutate(b)
		copy(b.Signature[:], cred.Sign(b.SigningBytes()))
		payloads = append(payloads, b.Encode())
	}
	payloads = append(payloads, []byte{0x85})
	decoded := DecodeBallots(payloads)
	ptrs := make([]*DecodedBallot, len(decoded))
	for i := range decoded {
		ptrs[i] = &decoded[i]
	}
	errs := e.VerifyDecodedBallots(ptrs)
	for i, d := range decoded {
		if d.Err != nil {
			if !errors.Is(errs[i], ErrEncoding) {
				t.Fatalf("payload %d: %v", i, errs[i])
			}
			continue
		}
		sameVerdict(t, e, fmt.Sprintf("payload %d", i), d.Ballot, errs[i])
		if (errs[i] == nil) != (i < 5) {
			t.Fatalf("payload %d: %v", i, errs[i])
		}
	}
}

// ciphertextBytes encodes decoded ciphertexts back, to compare them.
func ciphertextBytes(cts [][]DecodedCiphertext) [][]Ciphertext {
	out := make([][]Ciphertext, len(cts))
	for ci := range cts {
		for si := range cts[ci] {
			out[ci] = append(out[ci], Ciphertext{Alpha: cts[ci][si].alpha.bytes(), Beta: cts[ci][si].beta.bytes()})
		}
	}
	return out
}

func selectionsOf(b *Ballot) [][]Ciphertext {
	out := make([][]Ciphertext, len(b.Contests))
	for ci := range b.Contests {
		for _, sel := range b.Contests[ci].Selections {
			out[ci] = append(out[ci], sel.Ciphertext)
		}
	}
	return out
}

// TestVerifyAndDecodeBallots: the verdicts are VerifyBallots', and every
// valid ballot comes with exactly its own ciphertexts decoded (what the
// chain counts), an invalid one with none.
func TestVerifyAndDecodeBallots(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	orig, _, _, _ := newTestBallot(t, e, 3)
	var bs []*Ballot
	for i := range 6 {
		b, _, _, _ := newTestBallot(t, e, uint64(40+i))
		bs = append(bs, b)
	}
	for _, m := range ballotMutations()[:4] {
		b, _ := DecodeBallot(orig.Encode())
		m.mutate(b)
		bs = append(bs, b)
	}
	bs = append(bs, nil)
	want := e.VerifyBallots(bs)
	errs, dec := e.VerifyAndDecodeBallots(bs)
	for i, b := range bs {
		if (errs[i] == nil) != (want[i] == nil) {
			t.Fatalf("ballot %d: verdict %v, VerifyBallots says %v", i, errs[i], want[i])
		}
		switch {
		case errs[i] != nil && dec[i] != nil:
			t.Fatalf("ballot %d is invalid (%v) but came with decoded ciphertexts", i, errs[i])
		case errs[i] == nil && dec[i] == nil:
			t.Fatalf("valid ballot %d came without its ciphertexts", i)
		case errs[i] == nil && fmt.Sprint(ciphertextBytes(dec[i])) != fmt.Sprint(selectionsOf(b)):
			t.Fatalf("ballot %d: decoded ciphertexts are not its own", i)
		}
	}
	if want[0] != nil || want[6] == nil {
		t.Fatal("the corpus is not what the test means: valid ballots first, then bad ones")
	}
}

// TestDecodeBallotsKnown: what the caller already holds is used (and
// nothing else is decompressed for that ballot); a holding of the wrong
// shape is ignored; without a holding the points are decoded.
func TestDecodeBallotsKnown(t *testing.T) {
	e, _ := testElection(t, generalManifest(), 1)
	b0, _, _, _ := newTestBallot(t, e, 50)
	b1, _, _, _ := newTestBallot(t, e, 51)
	payloads := [][]byte{b0.Encode(), b1.Encode()}
	plain := DecodeBallots(payloads)
	h0 := plain[0].Hash
	// A holding for ballot 0 that is really ballot 1's: it must show up.
	got := DecodeBallotsKnown(payloads, func(h [32]byte) (*Ballot, [][]DecodedCiphertext, bool) {
		if h == h0 {
			return b1, plain[1].Ciphertexts, true
		}
		return nil, nil, false
	})
	if fmt.Sprint(ciphertextBytes(got[0].Ciphertexts)) != fmt.Sprint(selectionsOf(b1)) || got[0].Ballot != b1 || got[0].Hash != h0 {
		t.Fatal("the caller's decoded ballot and ciphertexts were not used")
	}
	if fmt.Sprint(ciphertextBytes(got[1].Ciphertexts)) != fmt.Sprint(selectionsOf(b1)) {
		t.Fatal("a ballot the caller does not hold was not decoded")
	}
	// A holding of the wrong shape is not used.
	got = DecodeBallotsKnown(payloads, func([32]byte) (*Ballot, [][]DecodedCiphertext, bool) {
		return b0, plain[0].Ciphertexts[:1], true
	})
	for i, b := range []*Ballot{b0, b1} {
		if fmt.Sprint(ciphertextBytes(got[i].Ciphertexts)) != fmt.Sprint(selectionsOf(b)) || got[i].Ballot == b0 {
			t.Fatalf("ballot %d: a holding of the wrong shape was used", i)
		}
	}
	// Bytes that do not decode, not held: the decoding error as before.
	got = DecodeBallotsKnown([][]byte{{0xff}}, func([32]byte) (*Ballot, [][]DecodedCiphertext, bool) { return nil, nil, false })
	if got[0].Err == nil {
		t.Fatal("undecodable bytes decoded")
	}
}
