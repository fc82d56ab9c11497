package ballot

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

func stationSeeds(n int, tag string) ([][]byte, []ed25519.PublicKey) {
	seeds := make([][]byte, n)
	keys := make([]ed25519.PublicKey, n)
	for i := range n {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s station %d", tag, i)))
		seeds[i] = s[:]
		keys[i] = ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey)
	}
	return seeds, keys
}

// runDKG runs the DKG among n stations the way the chain does: every message
// is "published" (encoded, decoded, checked) and processed by everyone in
// one global order. Stations in silent never send anything. It returns the
// key shares of the stations that finished.
func runDKG(t *testing.T, fp [32]byte, n, th int, silent map[int]bool) []*KeyShare {
	t.Helper()
	seeds, keys := stationSeeds(n, "dkg")
	st := make([]*DKG, n)
	for i := range n {
		d, err := NewDKG(fp, seeds[i], keys, th)
		if err != nil {
			t.Fatal(err)
		}
		if d.Index() != uint32(i) {
			t.Fatalf("station %d got index %d", i, d.Index())
		}
		st[i] = d
	}
	var deals []*DealBundle
	for i := range n {
		b, err := st[i].Deals()
		if err != nil {
			t.Fatal(err)
		}
		if silent[i] {
			continue
		}
		pub, err := DecodeDealBundle(b.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Check(n); err != nil {
			t.Fatalf("honest deal bundle fails Check: %v", err)
		}
		deals = append(deals, pub)
	}
	var responses []*ResponseBundle
	for i := range n {
		rb := &ResponseBundle{Responder: uint32(i)}
		for _, b := range deals {
			r, err := st[i].ProcessDeals(b)
			if err != nil {
				t.Fatalf("station %d, deals of %d: %v", i, b.Dealer, err)
			}
			if r != nil {
				rb.Responses = append(rb.Responses, *r)
			}
		}
		if silent[i] {
			continue
		}
		pub, _ := DecodeResponseBundle(rb.Encode())
		if err := pub.Check(n); err != nil {
			t.Fatalf("honest response bundle fails Check: %v", err)
		}
		responses = append(responses, pub)
	}
	for i := range n {
		for _, rb := range responses {
			j, err := st[i].ProcessResponses(rb)
			if err != nil {
				t.Fatalf("station %d, responses of %d: %v", i, rb.Responder, err)
			}
			if j != nil {
				t.Fatalf("station %d: unexpected justification", i)
			}
		}
	}
	var out []*KeyShare
	for i := range n {
		if silent[i] {
			continue
		}
		if len(silent) == 0 && !st[i].Certified() {
			t.Fatalf("station %d not certified with everyone present", i)
		}
		if len(silent) > 0 {
			if _, err := st[i].Finish(); !errors.Is(err, ErrDKGState) {
				t.Fatalf("station %d finished before the deadline with a silent station: %v", i, err)
			}
			st[i].Timeout()
		}
		k, err := st[i].Finish()
		if err != nil {
			t.Fatalf("station %d: %v", i, err)
		}
		back, err := DecodeKeyShare(k.Encode(), n, th)
		if err != nil {
			t.Fatalf("station %d key share round trip: %v", i, err)
		}
		out = append(out, back)
	}
	return out
}

func checkSameResult(t *testing.T, shares []*KeyShare, wantQual int) {
	t.Helper()
	for _, k := range shares {
		if !k.Result.SameResult(&shares[0].Result) {
			t.Fatalf("station %d has another result than station %d", k.Index, shares[0].Index)
		}
		if len(k.Result.Qualified) != wantQual {
			t.Fatalf("station %d: %d qualified, want %d", k.Index, len(k.Result.Qualified), wantQual)
		}
		if !k.MatchesResult(&shares[0].Result) {
			t.Fatalf("station %d share does not match the result", k.Index)
		}
	}
}

func TestDKG(t *testing.T) {
	for _, c := range []struct{ n, t int }{{4, 2}, {4, 3}, {7, 3}, {7, 5}} {
		t.Run(fmt.Sprintf("n=%d,t=%d", c.n, c.t), func(t *testing.T) {
			shares := runDKG(t, [32]byte{byte(c.n)}, c.n, c.t, nil)
			if len(shares) != c.n {
				t.Fatalf("%d of %d finished", len(shares), c.n)
			}
			checkSameResult(t, shares, c.n)
		})
	}
}

func TestDKGWithSilentStation(t *testing.T) {
	for _, c := range []struct{ n, t, silent int }{{4, 3, 3}, {4, 2, 0}, {7, 3, 5}} {
		t.Run(fmt.Sprintf("n=%d,t=%d,silent=%d", c.n, c.t, c.silent), func(t *testing.T) {
			shares := runDKG(t, [32]byte{1}, c.n, c.t, map[int]bool{c.silent: true})
			if len(shares) != c.n-1 {
				t.Fatalf("%d finished, want %d", len(shares), c.n-1)
			}
			checkSameResult(t, shares, c.n-1)
			for _, q := range shares[0].Result.Qualified {
				if int(q) == c.silent {
					t.Fatal("silent station qualified")
				}
			}
		})
	}
}

// A restarted station recreates exactly the deals it already published.
func TestDKGDealsAreReproducible(t *testing.T) {
	seeds, keys := stationSeeds(4, "dkg")
	fp := [32]byte{9}
	a, _ := NewDKG(fp, seeds[1], keys, 3)
	b, _ := NewDKG(fp, seeds[1], keys, 3)
	da, err := a.Deals()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := b.Deals()
	if string(da.Encode()) != string(db.Encode()) {
		t.Fatal("same seed and election gave different deals")
	}
	if _, err := a.Deals(); !errors.Is(err, ErrDKGState) {
		t.Fatalf("second Deals call: %v", err)
	}
	c, _ := NewDKG([32]byte{10}, seeds[1], keys, 3)
	dc, _ := c.Deals()
	if string(da.Encode()) == string(dc.Encode()) {
		t.Fatal("another election gave the same deals")
	}
}

func TestDKGRejectsBadInput(t *testing.T) {
	seeds, keys := stationSeeds(4, "dkg")
	if _, err := NewDKG([32]byte{}, seeds[0], keys, 1); !errors.Is(err, ErrBadThreshold) {
		t.Errorf("t=1: %v", err)
	}
	if _, err := NewDKG([32]byte{}, seeds[0], keys, 4); !errors.Is(err, ErrBadThreshold) {
		t.Errorf("t=4 > n-f: %v", err)
	}
	stranger := sha256.Sum256([]byte("stranger"))
	if _, err := NewDKG([32]byte{}, stranger[:], keys, 2); err == nil {
		t.Error("a station outside the election started a DKG")
	}
	d0, _ := NewDKG([32]byte{}, seeds[0], keys, 2)
	d1, _ := NewDKG([32]byte{}, seeds[1], keys, 2)
	d0.Deals()
	b, _ := d1.Deals()

	// Structural checks the chain runs.
	for name, mutate := range map[string]func(b *DealBundle){
		"dealer out of range": func(b *DealBundle) { b.Dealer = 9 },
		"missing deal":        func(b *DealBundle) { b.Deals = b.Deals[:2] },
		"wrong recipient":     func(b *DealBundle) { b.Deals[0].Recipient = 1 },
		"small-order DH key":  func(b *DealBundle) { b.Deals[1].DHKey = smallOrderPoint },
		"short signature":     func(b *DealBundle) { b.Deals[2].Signature = b.Deals[2].Signature[:10] },
	} {
		bad, _ := DecodeDealBundle(b.Encode())
		mutate(bad)
		if err := bad.Check(4); !errors.Is(err, ErrDKGMessage) {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
	// A deal that fails decryption is refused with an error, not a panic.
	bad, _ := DecodeDealBundle(b.Encode())
	bad.Deals[0].Cipher[3] ^= 1
	if _, err := d0.ProcessDeals(bad); !errors.Is(err, ErrDKGMessage) {
		t.Errorf("corrupted deal: %v", err)
	}
	// Garbage responses are reported, not fatal.
	rb := &ResponseBundle{Responder: 2, Responses: []DealResponse{{Dealer: 1, SessionID: make([]byte, 32), Approved: true, Signature: make([]byte, 64)}}}
	if _, err := d0.ProcessResponses(rb); !errors.Is(err, ErrDKGMessage) {
		t.Errorf("garbage response: %v", err)
	}
}

func TestKeyAnnouncementCheck(t *testing.T) {
	shares := runDKG(t, [32]byte{3}, 4, 3, nil)
	good := shares[0].Result
	if err := good.Check(4, 3); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(a *KeyAnnouncement){
		"key replaced":       func(a *KeyAnnouncement) { a.Key = otherPoint(1) },
		"share off the poly": func(a *KeyAnnouncement) { a.PublicShares[3] = otherPoint(2) },
		"early share":        func(a *KeyAnnouncement) { a.PublicShares[0] = otherPoint(3) },
		"small-order share":  func(a *KeyAnnouncement) { a.PublicShares[1] = smallOrderPoint },
		"missing share":      func(a *KeyAnnouncement) { a.PublicShares = a.PublicShares[:3] },
		"too few qualified":  func(a *KeyAnnouncement) { a.Qualified = a.Qualified[:2] },
		"unsorted qualified": func(a *KeyAnnouncement) { a.Qualified[0], a.Qualified[1] = a.Qualified[1], a.Qualified[0] },
		"station range":      func(a *KeyAnnouncement) { a.Station = 4 },
	} {
		a, _ := DecodeKeyAnnouncement(good.Encode())
		mutate(a)
		if err := a.Check(4, 3); !errors.Is(err, ErrDKGMessage) {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
	// A stored key share whose secret does not match is refused.
	k := *shares[1]
	k.Secret = addOne(k.Secret)
	if _, err := DecodeKeyShare(k.Encode(), 4, 3); !errors.Is(err, ErrShareMismatch) {
		t.Errorf("wrong secret: %v", err)
	}
}
