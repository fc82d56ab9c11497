package ballot

import (
	"errors"
	"testing"

	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/share"
)

// dealtShares splits the election secret x among n stations with threshold
// t (a trusted dealer: the DKG tests cover the real key generation) and
// returns each station's KeyShare.
func dealtShares(t *testing.T, x kyber.Scalar, n, th int) []*KeyShare {
	t.Helper()
	poly := share.NewPriPoly(suite, th, x, suite.RandomStream())
	pub := poly.Commit(nil)
	ann := KeyAnnouncement{Key: EncodePoint(pub.Commit())}
	for i := range n {
		ann.Qualified = append(ann.Qualified, uint32(i))
		ann.PublicShares = append(ann.PublicShares, EncodePoint(pub.Eval(i).V))
	}
	out := make([]*KeyShare, n)
	for i := range n {
		a := ann
		a.Station = uint32(i)
		out[i] = &KeyShare{Index: uint32(i), Secret: EncodeScalar(poly.Eval(i).V), Result: a}
		if err := out[i].check(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// aggregates encrypts known totals directly: totals[c][s] with fresh nonces.
func aggregates(t *testing.T, e *Election, totals [][]int64) [][]Ciphertext {
	out := make([][]Ciphertext, len(totals))
	for ci := range totals {
		for _, m := range totals[ci] {
			ct, _, err := e.Encrypt(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			out[ci] = append(out[ci], ct)
		}
	}
	return out
}

func TestThresholdDecryption(t *testing.T) {
	e, x := testElection(t, mayorManifest(), 1)
	const n, th = 4, 3
	keys := dealtShares(t, x, n, th)
	totals := [][]int64{{17, 0, 250, 3}}
	aggs := aggregates(t, e, totals)
	all := make([]*VerifiedShares, n)
	for i, k := range keys {
		ts, err := e.MakeTallyShares(k, aggs, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTallyShares(ts.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if all[i], err = e.VerifyTallyShares(back, k.Result.PublicShares[i], aggs); err != nil {
			t.Fatalf("station %d: valid shares rejected: %v", i, err)
		}
	}
	// Every t-subset gives the same, right result.
	for mask := 0; mask < 1<<n; mask++ {
		subset := make([]*VerifiedShares, n)
		count := 0
		for i := range n {
			if mask&(1<<i) != 0 {
				subset[i] = all[i]
				count++
			}
		}
		got, err := e.Decrypt(aggs, subset, th, 300)
		if count < th {
			if !errors.Is(err, ErrTooFewShares) {
				t.Fatalf("subset %04b (%d shares): got %v, want ErrTooFewShares", mask, count, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("subset %04b: %v", mask, err)
		}
		for si := range totals[0] {
			if int64(got[0][si]) != totals[0][si] {
				t.Fatalf("subset %04b: candidate %d = %d, want %d", mask, si, got[0][si], totals[0][si])
			}
		}
	}
}

func TestDecryptionShareTamperingRejected(t *testing.T) {
	e, x := testElection(t, generalManifest(), 2)
	keys := dealtShares(t, x, 4, 2)
	aggs := aggregates(t, e, [][]int64{{1, 2, 3, 4, 5}, {1, 1, 1, 1, 1, 1, 1}, {9, 8}})
	ts, err := e.MakeTallyShares(keys[1], aggs, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := keys[1].Result.PublicShares[1]
	cases := []struct {
		name   string
		mutate func(ts *TallyShares)
		want   error
		sel    int
	}{
		{"share point", func(ts *TallyShares) { ts.Shares[1][2].D = otherPoint(1) }, ErrShareProof, 2},
		{"commitment A", func(ts *TallyShares) { ts.Shares[0][4].Proof.A = otherPoint(2) }, ErrShareProof, 4},
		{"commitment B", func(ts *TallyShares) { ts.Shares[2][1].Proof.B = otherPoint(3) }, ErrShareProof, 1},
		{"response", func(ts *TallyShares) { ts.Shares[0][0].Proof.V = addOne(ts.Shares[0][0].Proof.V) }, ErrShareProof, 0},
		{"unreduced response", func(ts *TallyShares) { copy(ts.Shares[0][0].Proof.V[:], orderBytes) }, ErrProofEncoding, 0},
		{"small-order share", func(ts *TallyShares) { ts.Shares[0][3].D = smallOrderPoint }, ErrPointSmall, 3},
		{"shares swapped", func(ts *TallyShares) { ts.Shares[0][0], ts.Shares[0][1] = ts.Shares[0][1], ts.Shares[0][0] }, ErrShareProof, 0},
		{"other station", func(ts *TallyShares) { ts.Station = 2 }, ErrShareProof, 0},
		{"missing contest", func(ts *TallyShares) { ts.Shares = ts.Shares[:2] }, ErrShareShape, -1},
	}
	for _, c := range cases {
		bad, _ := DecodeTallyShares(ts.Encode())
		c.mutate(bad)
		_, err := e.VerifyTallyShares(bad, pub, aggs)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		var se *ShareError
		if !errors.As(err, &se) || se.Selection != c.sel {
			t.Errorf("%s: error does not name selection %d: %v", c.name, c.sel, err)
		}
	}
	// A share for another aggregate (the ciphertext is in the proof).
	other := aggregates(t, e, [][]int64{{1, 2, 3, 4, 5}, {1, 1, 1, 1, 1, 1, 1}, {9, 8}})
	if _, err := e.VerifyTallyShares(ts, pub, other); !errors.Is(err, ErrShareProof) {
		t.Errorf("shares checked against other aggregates: got %v", err)
	}
	// Against another station's public share.
	if _, err := e.VerifyTallyShares(ts, keys[2].Result.PublicShares[2], aggs); !errors.Is(err, ErrShareProof) {
		t.Errorf("shares checked against another public share: got %v", err)
	}
}

func TestDiscreteLogBounds(t *testing.T) {
	dl := NewDiscreteLog(1000)
	for _, m := range []int64{0, 1, 31, 32, 999, 1000} {
		got, err := dl.Solve(suite.Point().Mul(suite.Scalar().SetInt64(m), nil))
		if err != nil || int64(got) != m {
			t.Errorf("Solve(%d·G) = %d, %v", m, got, err)
		}
	}
	for _, m := range []int64{1001, 5000, -1} {
		if _, err := dl.Solve(suite.Point().Mul(suite.Scalar().SetInt64(m), nil)); !errors.Is(err, ErrNoDiscreteLog) {
			t.Errorf("Solve(%d·G): got %v, want ErrNoDiscreteLog", m, err)
		}
	}
	if _, err := NewDiscreteLog(0).Solve(suite.Point().Null()); err != nil {
		t.Errorf("max 0, m 0: %v", err)
	}
}

// An election in which no ballot was counted decrypts to zeros.
func TestDecryptEmptyElection(t *testing.T) {
	e, x := testElection(t, mayorManifest(), 3)
	keys := dealtShares(t, x, 4, 2)
	empty := NewAccumulator().Total()
	aggs := [][]Ciphertext{{empty, empty, empty, empty}}
	shares := make([]*VerifiedShares, 4)
	for i, k := range keys[:2] {
		ts, err := e.MakeTallyShares(k, aggs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if shares[i], err = e.VerifyTallyShares(ts, k.Result.PublicShares[i], aggs); err != nil {
			t.Fatalf("share of empty aggregate rejected: %v", err)
		}
	}
	got, err := e.Decrypt(aggs, shares, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got[0] {
		if v != 0 {
			t.Fatalf("empty election decrypts to %v", got)
		}
	}
}

// TestDecryptRefusesMisplacedShares: Decrypt takes shares only in their
// station's slot, once per station, and only as verified against the very
// aggregates it decrypts; each mistake has its own error.
func TestDecryptRefusesMisplacedShares(t *testing.T) {
	e, x := testElection(t, mayorManifest(), 4)
	keys := dealtShares(t, x, 4, 2)
	aggs := aggregates(t, e, [][]int64{{3, 1, 4, 1}})
	verified := make([]*VerifiedShares, 4)
	for i, k := range keys {
		ts, err := e.MakeTallyShares(k, aggs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if verified[i], err = e.VerifyTallyShares(ts, k.Result.PublicShares[i], aggs); err != nil {
			t.Fatal(err)
		}
		if verified[i].Station() != uint32(i) {
			t.Fatalf("verified shares of station %d say station %d", i, verified[i].Station())
		}
	}
	// The same stations' shares verified against other aggregates.
	otherAggs := aggregates(t, e, [][]int64{{3, 1, 4, 1}})
	ts0, _ := e.MakeTallyShares(keys[0], otherAggs, nil)
	stale, err := e.VerifyTallyShares(ts0, keys[0].Result.PublicShares[0], otherAggs)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		shares []*VerifiedShares
		want   error
	}{
		{"wrong slot", []*VerifiedShares{nil, verified[0], verified[2], nil}, ErrShareSlot},
		{"swapped slots", []*VerifiedShares{verified[1], verified[0], nil, nil}, ErrShareSlot},
		{"duplicate station", []*VerifiedShares{verified[0], verified[0], nil, nil}, ErrShareDuplicate},
		{"duplicate station, t distinct others", []*VerifiedShares{verified[0], verified[1], verified[1], nil}, ErrShareDuplicate},
		{"never verified", []*VerifiedShares{{}, verified[1], nil, nil}, ErrShareUnverified},
		{"verified against other aggregates", []*VerifiedShares{stale, verified[1], nil, nil}, ErrShareUnverified},
	}
	for _, c := range cases {
		if _, err := e.Decrypt(aggs, c.shares, 2, 10); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// Shares verified against other aggregates are refused even in their slot.
	if _, err := e.Decrypt(otherAggs, []*VerifiedShares{nil, verified[1], verified[2], nil}, 2, 10); !errors.Is(err, ErrShareUnverified) {
		t.Errorf("shares used for other aggregates: got %v", err)
	}
	got, err := e.Decrypt(aggs, []*VerifiedShares{nil, verified[1], nil, verified[3]}, 2, 10)
	if err != nil || got[0][0] != 3 || got[0][2] != 4 {
		t.Fatalf("well-placed shares: %v, %v", got, err)
	}
}
