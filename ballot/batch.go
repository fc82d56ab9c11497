package ballot

import (
	crand "crypto/rand"
	"crypto/sha512"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"filippo.io/edwards25519"
)

// Batch verification of ballots.
//
// Every equation a ballot must satisfy (its signature's, and two per branch
// of every range proof) has the form [8]·E_k = 0 with E_k a sum of scalar
// multiples of points. Instead of evaluating each E_k, the verifier draws an
// independent 128-bit z_k for every equation, from a generator seeded by
// crypto/rand that no ballot can influence, and checks
//
//	[8]·Σ_k z_k·E_k = 0
//
// in one multi-scalar multiplication (msm.go). If every [8]·E_k is zero the
// sum is zero; if one is not, the sum is zero with probability at most 2^−128
// (the prime-order parts have order ℓ > 2^252, and z_k takes 2^128 values). In
// the sum the generator G and the election key H, which every equation of
// every ballot uses, collapse to one term each; the commitments carry only
// their 128-bit z (half the work of a full scalar).
//
// When a batch fails, it is split in halves until the failing ballots are
// isolated (or found to be many), and those are run through the reference
// check (checkBallot), which evaluates the same equations one at a time and
// names the one that fails.
// Ballots are spread over all cores.

// batchItem is one ballot of a batch.
type batchItem struct {
	b           *Ballot
	pre         [][]DecodedCiphertext // the ciphertexts, already decoded, or nil
	short, long [2]int                // its terms in batch.short and batch.long
	g, h        edwards25519.Scalar
	err         error // a failure found without the equations: final
	reference   bool  // must go through the reference check
	// decoded receives the ballot's ciphertexts as prepare decodes them,
	// when the caller keeps them (VerifyAndDecodeBallots)
	decoded [][]DecodedCiphertext
}

// batch collects the weighted equations of the ballots one worker verifies.
type batch struct {
	e           *Election
	rng         *rand.ChaCha8
	short, long []msmTerm
	items       []batchItem
	keep        bool // keep every prepared ballot's decoded ciphertexts
}

func newBatch(e *Election, size int) *batch {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic("ballot: crypto/rand failed: " + err.Error())
	}
	return &batch{
		e: e, rng: rand.NewChaCha8(seed),
		items: make([]batchItem, 0, size),
		short: make([]msmTerm, 0, size*26),
		long:  make([]msmTerm, 0, size*12),
	}
}

// weight draws a random 128-bit z.
func (bt *batch) weight() *edwards25519.Scalar {
	var b [ScalarSize]byte
	bt.rng.Read(b[:16])
	s, _ := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	return s
}

// addShort adds z·(−P) for a 128-bit z.
func (bt *batch) addShort(z *edwards25519.Scalar, p *extPoint) {
	bt.short = append(bt.short, msmTerm{s: [32]byte(z.Bytes())})
	t := &bt.short[len(bt.short)-1]
	p.toNiels(&t.p)
	t.p.neg(&t.p)
}

func (bt *batch) addLong(s *edwards25519.Scalar, p *extPoint) {
	bt.long = append(bt.long, msmTerm{s: [32]byte(s.Bytes())})
	p.toNiels(&bt.long[len(bt.long)-1].p)
}

// ciphertextDec is one selection's decoded ciphertext and the coefficients
// its two points collect from every equation they appear in.
type ciphertextDec struct {
	alpha, beta extPoint
	ca, cb      edwards25519.Scalar
}

// add prepares one ballot: structure and encodings are checked at once,
// then its equations are added to the batch with fresh weights.
func (bt *batch) add(b *Ballot, pre [][]DecodedCiphertext) {
	bt.items = append(bt.items, batchItem{b: b, pre: pre})
	it := &bt.items[len(bt.items)-1]
	it.short[0], it.long[0] = len(bt.short), len(bt.long)
	if b == nil {
		it.err = fmt.Errorf("%w: no ballot", ErrBallotShape)
	} else if err := bt.prepare(it); err != nil {
		it.err = err
	}
	if it.err != nil || it.reference {
		bt.short, bt.long = bt.short[:it.short[0]], bt.long[:it.long[0]]
		it.g.Set(fZero)
		it.h.Set(fZero)
	}
	it.short[1], it.long[1] = len(bt.short), len(bt.long)
}

func (bt *batch) prepare(it *batchItem) error {
	e, b := bt.e, it.b
	if err := e.checkStructure(b); err != nil {
		return err
	}
	fail := func(contest string, sel int, cand string, err error) error {
		return &BallotError{Ballot: b.TrackingCode(), Contest: contest, Selection: sel, Candidate: cand, Err: err}
	}
	cred, err := decodeBallotPoint(&b.Credential)
	if err != nil {
		return fail("", -1, "", fmt.Errorf("%w: %w", ErrBadCredential, err))
	}
	sig, err := decodeSignature(&b.Signature)
	if err != nil {
		return fail("", -1, "", fmt.Errorf("%w: %w", ErrBadSignature, err))
	}
	// Decode every ciphertext and proof.
	cts := make([][]ciphertextDec, len(e.Manifest.Contests))
	sels := make([][]*decodedRange, len(e.Manifest.Contests))
	contests := make([]*decodedRange, len(e.Manifest.Contests))
	for ci, c := range e.Manifest.Contests {
		cb := &b.Contests[ci]
		cts[ci] = make([]ciphertextDec, len(c.Candidates))
		sels[ci] = make([]*decodedRange, len(c.Candidates))
		for si, cand := range c.Candidates {
			sel := &cb.Selections[si]
			d := &cts[ci][si]
			if it.pre != nil {
				// Decoded already (DecodeBallots): only the order is left to check.
				d.alpha, d.beta = it.pre[ci][si].alpha, it.pre[ci][si].beta
				if isSmallOrder(&sel.Ciphertext.Alpha) {
					return fail(c.ID, si, cand, fmt.Errorf("%w: alpha: %w", ErrBadCiphertext, ErrPointSmall))
				}
				if isSmallOrder(&sel.Ciphertext.Beta) {
					return fail(c.ID, si, cand, fmt.Errorf("%w: beta: %w", ErrBadCiphertext, ErrPointSmall))
				}
			} else {
				if d.alpha, err = decodeBallotPoint(&sel.Ciphertext.Alpha); err != nil {
					return fail(c.ID, si, cand, fmt.Errorf("%w: alpha: %w", ErrBadCiphertext, err))
				}
				if d.beta, err = decodeBallotPoint(&sel.Ciphertext.Beta); err != nil {
					return fail(c.ID, si, cand, fmt.Errorf("%w: beta: %w", ErrBadCiphertext, err))
				}
			}
			if sels[ci][si], err = decodeRange(1, &sel.Proof); err != nil {
				return fail(c.ID, si, cand, fmt.Errorf("%w: %w", ErrSelectionProof, err))
			}
		}
		if contests[ci], err = decodeRange(c.Limit, &cb.Proof); err != nil {
			return fail(c.ID, -1, "", fmt.Errorf("%w: %w", ErrContestProof, err))
		}
	}
	// Fiat–Shamir challenges: a proof whose challenges do not add up cannot
	// pass; leave naming it to the reference check.
	contestCts := make([]Ciphertext, len(e.Manifest.Contests))
	for ci, c := range e.Manifest.Contests {
		cb := &b.Contests[ci]
		var sumA, sumB extPoint
		sumA.setIdentity()
		sumB.setIdentity()
		for si, cand := range c.Candidates {
			sel := &cb.Selections[si]
			ch := rangeChallenge(tagSelectionProof, e.ballotContext(b.Credential, c.ID, cand), 1, &sel.Ciphertext, sel.Proof.Branches)
			if !sels[ci][si].challengeHolds(ch) {
				it.reference = true
				return nil
			}
			sumA.addTo(&cts[ci][si].alpha)
			sumB.addTo(&cts[ci][si].beta)
		}
		contestCts[ci] = Ciphertext{Alpha: sumA.bytes(), Beta: sumB.bytes()}
		ch := rangeChallenge(tagContestProof, e.ballotContext(b.Credential, c.ID, ""), c.Limit, &contestCts[ci], cb.Proof.Branches)
		if !contests[ci].challengeHolds(ch) {
			it.reference = true
			return nil
		}
	}
	// The signature: z·[S·B − R − k·A].
	z := bt.weight()
	k := signatureChallenge(b)
	it.g.Multiply(z, sig.s)
	bt.addShort(z, &sig.r)
	bt.addLong(new(edwards25519.Scalar).Negate(new(edwards25519.Scalar).Multiply(z, k)), &cred)
	// Every branch of every proof.
	for ci, c := range e.Manifest.Contests {
		for si := range c.Candidates {
			bt.addRange(it, sels[ci][si], cts[ci][si:si+1])
		}
		bt.addRange(it, contests[ci], cts[ci])
	}
	for ci := range cts {
		for si := range cts[ci] {
			d := &cts[ci][si]
			bt.addLong(&d.ca, &d.alpha)
			bt.addLong(&d.cb, &d.beta)
		}
	}
	if bt.keep {
		it.decoded = make([][]DecodedCiphertext, len(cts))
		for ci := range cts {
			it.decoded[ci] = make([]DecodedCiphertext, len(cts[ci]))
			for si := range cts[ci] {
				it.decoded[ci][si] = DecodedCiphertext{alpha: cts[ci][si].alpha, beta: cts[ci][si].beta}
			}
		}
	}
	return nil
}

// addRange adds, for every branch j of a range proof over the sum (α, β) of
// the ciphertexts cts, the equations
//
//	z1·[V_j·G − C_j·α − A_j]        z2·[V_j·H − C_j·β + C_j·j·G − B_j]
func (bt *batch) addRange(it *batchItem, d *decodedRange, cts []ciphertextDec) {
	var t, zc edwards25519.Scalar
	for j := range d.c {
		z1, z2 := bt.weight(), bt.weight()
		c, v := d.c[j], d.v[j]
		// G: z1·V + z2·C·j;  H: z2·V
		it.g.Add(&it.g, t.Multiply(z1, v))
		zc.Multiply(z2, c)
		if j != 0 {
			it.g.Add(&it.g, t.Multiply(&zc, scalarFromUint(uint64(j))))
		}
		it.h.Add(&it.h, t.Multiply(z2, v))
		bt.addShort(z1, &d.a[j])
		bt.addShort(z2, &d.b[j])
		// α: −z1·C;  β: −z2·C, for every ciphertext of the sum
		t.Multiply(z1, c)
		for i := range cts {
			cts[i].ca.Subtract(&cts[i].ca, &t)
			cts[i].cb.Subtract(&cts[i].cb, &zc)
		}
	}
}

// holds evaluates the weighted sum of the equations of items[from:to].
func (bt *batch) holds(live []int) bool {
	first, last := &bt.items[live[0]], &bt.items[live[len(live)-1]]
	var g, h edwards25519.Scalar
	for _, i := range live {
		g.Add(&g, &bt.items[i].g)
		h.Add(&h, &bt.items[i].h)
	}
	shared := []msmTerm{{s: [32]byte(g.Bytes()), p: baseNiels}, {s: [32]byte(h.Bytes()), p: bt.e.keyNiels}}
	p := msm(128, bt.short[first.short[0]:last.short[1]])
	q := msm(253, bt.long[first.long[0]:last.long[1]], shared)
	p.addTo(&q)
	p.mulByCofactor()
	return p.isIdentity()
}

// settle finds the items of live (contiguous in the term arrays) whose
// equations fail, by halving; knownBad says the whole range is known to
// fail. The ballots it cannot clear go to the reference check.
func (bt *batch) settle(live []int, knownBad bool) {
	if len(live) == 0 {
		return
	}
	if !knownBad && bt.holds(live) {
		return
	}
	if len(live) <= 4 {
		bt.toReference(live)
		return
	}
	left, right := live[:len(live)/2], live[len(live)/2:]
	if bt.holds(left) {
		bt.settle(right, true) // the left half holds, so the right one fails
		return
	}
	rightHolds := bt.holds(right)
	if !rightHolds && len(live) <= denseRange {
		// Bad ballots on both sides of a small range: there are many, and
		// checking each costs less than halving further.
		bt.toReference(live)
		return
	}
	bt.settle(left, true)
	if !rightHolds {
		bt.settle(right, true)
	}
}

// denseRange is the size below which a range with bad ballots in both
// halves is checked ballot by ballot.
const denseRange = 64

func (bt *batch) toReference(live []int) {
	for _, i := range live {
		bt.items[i].reference = true
	}
}

// run verifies the batch and returns one error per item.
func (bt *batch) run(errs []error) {
	live := make([]int, 0, len(bt.items))
	for i := range bt.items {
		if bt.items[i].err == nil && !bt.items[i].reference {
			live = append(live, i)
		}
	}
	bt.settle(live, false)
	for i := range bt.items {
		it := &bt.items[i]
		switch {
		case it.err != nil:
			errs[i] = it.err
		case it.reference:
			// The reference check evaluates each of the equations the batch
			// combined: its verdict is the verdict.
			errs[i] = bt.e.checkBallot(it.b)
		}
	}
}

// baseNiels is G prepared for the batch.
var baseNiels = func() niels {
	var n niels
	p, err := decodeExt(&baseBytes)
	if err != nil {
		panic(err)
	}
	p.toNiels(&n)
	return n
}()

// minPerWorker is the smallest share of a batch worth a goroutine. A
// share's multi-scalar multiplication costs less per ballot the more
// ballots it has (BenchmarkVerifyBallots1x5, one core: 0.36 ms for 16,
// 0.33 ms for 32, 0.32 ms for 64), so a batch is split only into shares
// of 32 or more: a busy station (whose other cores are busy too) wastes
// less, and an idle one waits a few milliseconds longer for a small batch.
const minPerWorker = 32

// VerifyBallots verifies many ballots at once and returns one error per
// ballot: errs[i] is nil exactly when ballots[i] is valid, and otherwise the
// same *BallotError that VerifyBallot gives for it. The ballots are split
// among GOMAXPROCS workers; each checks its share with one random linear
// combination of all their equations (see batch.go) and, if that fails,
// finds the bad ballots by halving. This is the entry point for every bulk
// check: a block's ballots, a sync, a replay, an audit of a whole record.
func (e *Election) VerifyBallots(ballots []*Ballot) []error {
	errs := make([]error, len(ballots))
	parallel(len(ballots), minPerWorker, func(from, to int) {
		e.verifyChunk(ballots[from:to], nil, errs[from:to], nil)
	})
	return errs
}

// VerifyAndDecodeBallots is VerifyBallots that also returns the decoded
// ciphertexts of the valid ballots (nil for an invalid one, and for the
// rare valid one that the batch had to check on its own), ready for
// Accumulator.AddDecoded: the verification decompresses those points
// anyway, and decompressing them again to count the ballot would cost a
// square root per point. A station keeps them from admission until the
// ballot's block is applied.
func (e *Election) VerifyAndDecodeBallots(ballots []*Ballot) ([]error, [][][]DecodedCiphertext) {
	errs := make([]error, len(ballots))
	decoded := make([][][]DecodedCiphertext, len(ballots))
	parallel(len(ballots), minPerWorker, func(from, to int) {
		e.verifyChunk(ballots[from:to], nil, errs[from:to], decoded[from:to])
	})
	for i, err := range errs {
		if err != nil {
			decoded[i] = nil
		}
	}
	return errs, decoded
}

// VerifyDecodedBallots is VerifyBallots for ballots that DecodeBallots
// decoded: the same verdicts, without decoding their ciphertexts again. A
// ballot whose bytes did not decode gets its decoding error.
func (e *Election) VerifyDecodedBallots(ballots []*DecodedBallot) []error {
	errs := make([]error, len(ballots))
	bs := make([]*Ballot, len(ballots))
	pre := make([][][]DecodedCiphertext, len(ballots))
	for i, d := range ballots {
		bs[i], pre[i] = d.Ballot, d.Ciphertexts
	}
	parallel(len(ballots), minPerWorker, func(from, to int) {
		e.verifyChunk(bs[from:to], pre[from:to], errs[from:to], nil)
	})
	for i, d := range ballots {
		if d.Err != nil {
			errs[i] = d.Err
		}
	}
	return errs
}

// parallel splits 0..n into one contiguous range per core (each at least
// minPer long) and runs work on them, on the caller's goroutine when there
// is only one. Each range writes only its own results, so the outcome does
// not depend on scheduling.
func parallel(n, minPer int, work func(from, to int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+minPer-1)/minPer)
	if workers <= 1 {
		work(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for from := 0; from < n; from += per {
		to := min(from+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(from, to)
		}()
	}
	wg.Wait()
}

// maxBatch bounds the ballots of one combination: beyond a thousand the
// multi-scalar multiplication gains little, and the memory of the terms
// (about 6 KB per 1 × 5 ballot) stays bounded however many ballots a caller
// passes.
const maxBatch = 1024

// verifyChunk verifies ballots on the caller's goroutine; pre, if not nil,
// holds their decoded ciphertexts (nil for a ballot to decode); keep, if
// not nil, receives the ciphertexts the batch decoded (the caller drops
// those of invalid ballots).
func (e *Election) verifyChunk(ballots []*Ballot, pre [][][]DecodedCiphertext, errs []error, keep [][][]DecodedCiphertext) {
	for len(ballots) > 0 {
		n := min(len(ballots), maxBatch)
		bt := newBatch(e, n)
		bt.keep = keep != nil
		for i, b := range ballots[:n] {
			var p [][]DecodedCiphertext
			if pre != nil {
				p = pre[i]
			}
			bt.add(b, p)
		}
		bt.run(errs[:n])
		if keep != nil {
			for i := range bt.items[:n] {
				keep[i] = bt.items[i].decoded
			}
			keep = keep[n:]
		}
		ballots, errs = ballots[n:], errs[n:]
		if pre != nil {
			pre = pre[n:]
		}
	}
}

// VerifyBallot checks everything about a ballot that needs only the
// election: fingerprint, shape, every encoding, the credential's signature
// and every proof (a batch of one; see VerifyBallots). Eligibility of the
// credential (the roll), one ballot per credential and the uniqueness of
// ciphertexts are the chain's rules. The error is a *BallotError.
func (e *Election) VerifyBallot(b *Ballot) error {
	var errs [1]error
	e.verifyChunk([]*Ballot{b}, nil, errs[:], nil)
	return errs[0]
}

// signatureParts is a decoded Ed25519 signature (R, S).
type signatureParts struct {
	r extPoint
	s *edwards25519.Scalar
}

func decodeSignature(sig *[64]byte) (*signatureParts, error) {
	r, err := decodeBallotPoint((*[PointSize]byte)(sig[:32]))
	if err != nil {
		return nil, fmt.Errorf("point R: %w", err)
	}
	s, err := decodeScalarStrict(sig[32:])
	if err != nil {
		return nil, fmt.Errorf("scalar S: %w", err)
	}
	return &signatureParts{r: r, s: s}, nil
}

// signatureChallenge is Ed25519's k = SHA-512(R ‖ A ‖ M) mod ℓ, with M the
// ballot's signing bytes.
func signatureChallenge(b *Ballot) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(b.Signature[:32])
	h.Write(b.Credential[:])
	h.Write(b.SigningBytes())
	var d [sha512.Size]byte
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(d[:0]))
	if err != nil {
		panic(err)
	}
	return k
}
