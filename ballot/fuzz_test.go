package ballot

import (
	"bytes"
	"testing"

	"filippo.io/edwards25519"
)

// Fuzz targets for every decoder of outside input. Each checks that nothing
// panics and that whatever decodes is canonical (re-encodes to the input).
// Run one with, e.g.:  go test ./ballot -run XXX -fuzz FuzzDecodeBallot -fuzztime 1m

func fuzzElection(f *testing.F) *Election {
	e, _ := testElection(f, mayorManifest(), 1)
	return e
}

func FuzzDecodeBallot(f *testing.F) {
	e := fuzzElection(f)
	for i := range 3 {
		b, _, err := e.NewBallot(testCredential(i), "st1", Choices{{i == 1, false, i == 2, false}}, testRand(uint64(i)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{0x85, 0x58, 0x20})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBallot(data)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Encode(), data) {
			t.Fatal("decoded ballot is not canonical")
		}
		_ = e.VerifyBallot(b) // must not panic on any decoded ballot
		_ = b.TrackingCode()
	})
}

func FuzzDecodeSpoiledBallot(f *testing.F) {
	e := fuzzElection(f)
	ch := Choices{{false, true, false, false}}
	b, nonces, _ := e.NewBallot(testCredential(1), "st1", ch, testRand(1))
	sp, _ := e.Spoil(b, ch, nonces)
	f.Add(sp.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		sp, err := DecodeSpoiledBallot(data)
		if err != nil {
			return
		}
		if !bytes.Equal(sp.Encode(), data) {
			t.Fatal("not canonical")
		}
		_, _ = e.VerifySpoiled(sp)
	})
}

func FuzzDecodeTallyShares(f *testing.F) {
	e, x := testElection(f, mayorManifest(), 1)
	keys := dealtShares(&testing.T{}, x, 4, 2)
	aggs := [][]Ciphertext{make([]Ciphertext, 4)}
	for i := range aggs[0] {
		aggs[0][i], _, _ = e.Encrypt(int64(i), testRand(uint64(i)))
	}
	ts, _ := e.MakeTallyShares(keys[0], aggs, testRand(9))
	f.Add(ts.Encode())
	pub := keys[0].Result.PublicShares[0]
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := DecodeTallyShares(data)
		if err != nil {
			return
		}
		if !bytes.Equal(ts.Encode(), data) {
			t.Fatal("not canonical")
		}
		_, _ = e.VerifyTallyShares(ts, pub, aggs)
	})
}

// dkgSeeds returns encoded messages of a real DKG run for the corpus.
func dkgSeeds(f testing.TB) (deals, responses [][]byte, ann []byte, key []byte) {
	seeds, keys := stationSeeds(4, "fuzz")
	st := make([]*DKG, 4)
	var bundles []*DealBundle
	for i := range st {
		st[i], _ = NewDKG([32]byte{7}, seeds[i], keys, 3)
		b, err := st[i].Deals()
		if err != nil {
			f.Fatal(err)
		}
		bundles = append(bundles, b)
		deals = append(deals, b.Encode())
	}
	var rbs []*ResponseBundle
	for i := range st {
		rb := &ResponseBundle{Responder: uint32(i)}
		for _, b := range bundles {
			if r, _ := st[i].ProcessDeals(b); r != nil {
				rb.Responses = append(rb.Responses, *r)
			}
		}
		rbs = append(rbs, rb)
		responses = append(responses, rb.Encode())
	}
	for i := range st {
		for _, rb := range rbs {
			st[i].ProcessResponses(rb)
		}
	}
	k, err := st[0].Finish()
	if err != nil {
		f.Fatal(err)
	}
	return deals, responses, k.Result.Encode(), k.Encode()
}

func FuzzDecodeDKGMessages(f *testing.F) {
	deals, responses, ann, key := dkgSeeds(f)
	for _, d := range deals {
		f.Add(uint8(0), d)
	}
	for _, r := range responses {
		f.Add(uint8(1), r)
	}
	just := &JustificationBundle{Dealer: 1, Justifications: []Justification{{Recipient: 2, SessionID: make([]byte, 32), Threshold: 3, Commitments: make([][PointSize]byte, 3), DealSession: make([]byte, 32), Signature: make([]byte, 64)}}}
	f.Add(uint8(2), just.Encode())
	f.Add(uint8(3), ann)
	f.Add(uint8(4), key)
	seeds, keys := stationSeeds(4, "fuzz")
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		var enc []byte
		switch kind % 5 {
		case 0:
			m, err := DecodeDealBundle(data)
			if err != nil {
				return
			}
			enc = m.Encode()
			if m.Check(4) == nil {
				d, _ := NewDKG([32]byte{7}, seeds[0], keys, 3)
				d.Deals()
				_, _ = d.ProcessDeals(m)
			}
		case 1:
			m, err := DecodeResponseBundle(data)
			if err != nil {
				return
			}
			enc = m.Encode()
			if m.Check(4) == nil {
				d, _ := NewDKG([32]byte{7}, seeds[0], keys, 3)
				d.Deals()
				_, _ = d.ProcessResponses(m)
			}
		case 2:
			m, err := DecodeJustificationBundle(data)
			if err != nil {
				return
			}
			enc = m.Encode()
			if m.Check(4, 3) == nil {
				d, _ := NewDKG([32]byte{7}, seeds[0], keys, 3)
				d.Deals()
				_ = d.ProcessJustifications(m)
			}
		case 3:
			m, err := DecodeKeyAnnouncement(data)
			if err != nil {
				return
			}
			enc = m.Encode()
			_ = m.Check(4, 3)
		case 4:
			m, err := DecodeKeyShare(data, 4, 3)
			if err != nil {
				return
			}
			enc = m.Encode()
		}
		if !bytes.Equal(enc, data) {
			t.Fatal("not canonical")
		}
	})
}

func FuzzDecodeRoll(f *testing.F) {
	_, roll, _ := GenerateCodes("fuzz", 3, testRand(1))
	f.Add(roll.Encode())
	f.Add([]byte("urna voter roll v1\nelection x\nvoters 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRoll(data)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Encode(), data) {
			t.Fatal("not canonical")
		}
	})
}

func FuzzParseCodes(f *testing.F) {
	c, _ := NewVotingCode(testRand(1))
	f.Add(string(c))
	f.Add("3F2A-9KQD-XB7M-0T4C")
	f.Add("3F2A-9KQD-XB7M-0T4C-8HJN-R5WE-KM2P")
	f.Fuzz(func(t *testing.T, s string) {
		if code, err := ParseVotingCode(s); err == nil {
			if again, err := ParseVotingCode(string(code)); err != nil || again != code {
				t.Fatal("parsed code does not parse to itself")
			}
		}
		if code, err := ParseTrackingCode(s); err == nil {
			if again, err := ParseTrackingCode(code); err != nil || again != code {
				t.Fatal("parsed tracking code does not parse to itself")
			}
			k, err := TrackingKey(s)
			var h [32]byte
			copy(h[:], k[:])
			if err != nil || TrackingCodeOf(h) != code || !MatchesTrackingCode(s, h) {
				t.Fatal("tracking key does not stand for the code")
			}
		}
	})
}

func FuzzDecodePoint(f *testing.F) {
	for _, h := range smallOrderEncodings {
		f.Add(mustHex(h))
	}
	p := otherPoint(1)
	f.Add(p[:])
	for _, h := range nonCanonicalEncodings {
		f.Add(mustHex(h))
	}
	f.Add(notAPoint[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		strict, strictErr := DecodePoint(data)
		if strictErr == nil {
			if EncodePoint(strict) != [PointSize]byte(data) {
				t.Fatal("accepted a non-canonical point")
			}
		}
		// The ballot-point decoder accepts a superset of the strict one
		// (points with a torsion component), all canonical, none of small order.
		if len(data) == PointSize {
			b := [PointSize]byte(data)
			p, err := decodeBallotPoint(&b)
			if strictErr == nil && err != nil {
				t.Fatalf("strict decoder accepts, ballot decoder refuses: %v", err)
			}
			if err == nil {
				if p.bytes() != b {
					t.Fatal("ballot decoder accepted a non-canonical point")
				}
				q := p
				q.mulByCofactor()
				if q.isIdentity() {
					t.Fatal("ballot decoder accepted a point of small order")
				}
				if strictErr == nil && p.point().Equal(strictPoint(t, data)) != 1 {
					t.Fatal("the two decoders disagree on the point")
				}
			}
		}
		if s, err := DecodeScalar(data); err == nil {
			if EncodeScalar(s) != [ScalarSize]byte(data) {
				t.Fatal("accepted a non-canonical scalar")
			}
		}
	})
}

func strictPoint(t *testing.T, data []byte) *edwards25519.Point {
	p, err := decodeStrict(data, false)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzVerifyBallots runs decoded ballots through the batch verifier next to
// valid ones: no panic, the valid ones still pass, and the verdict on the
// fuzzed ballot is the one-by-one verdict.
func FuzzVerifyBallots(f *testing.F) {
	e := fuzzElection(f)
	var good []*Ballot
	for i := range 3 {
		b, _, err := e.NewBallot(testCredential(i), "st1", Choices{{i == 1, false, i == 2, false}}, testRand(uint64(i)))
		if err != nil {
			f.Fatal(err)
		}
		good = append(good, b)
		f.Add(b.Encode())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBallot(data)
		if err != nil {
			return
		}
		errs := e.VerifyBallots(append(append([]*Ballot(nil), good...), b))
		for i := range good {
			if errs[i] != nil {
				t.Fatalf("valid ballot %d refused next to a fuzzed one: %v", i, errs[i])
			}
		}
		single := e.VerifyBallot(b)
		if (single == nil) != (errs[3] == nil) || (single != nil && single.Error() != errs[3].Error()) {
			t.Fatalf("batch %v, one by one %v", errs[3], single)
		}
	})
}
