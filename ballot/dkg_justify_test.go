package ballot

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/group/edwards25519"
	dkg "go.dedis.ch/kyber/v3/share/dkg/pedersen"
	vss "go.dedis.ch/kyber/v3/share/vss/pedersen"
	"go.dedis.ch/kyber/v3/sign/schnorr"
)

// A dealer (station 3 of 4, t = 2) deals station 0 a share that is not on
// its polynomial; station 0 complains; the dealer answers with a
// justification. The honest stations' DKGs must agree on the outcome, and
// every station that finishes must hold a share matching its public share.
func TestDKGComplaintJustified(t *testing.T) {
	const n, th, byz, victim = 4, 2, 3, 0
	cases := []struct {
		name string
		// reveal returns the deal the justification reveals.
		reveal    func(d *vss.Dealer, other *vss.Dealer) *vss.Deal
		qualified []uint32
		refusal   string // in every honest station's ProcessJustifications error
	}{
		{"right share", func(d, _ *vss.Dealer) *vss.Deal {
			pd, _ := d.PlaintextDeal(victim)
			good := *pd
			good.SecShare = d.PrivatePoly().Eval(victim)
			return &good
		}, []uint32{0, 1, 2, 3}, ""},
		{"the wrong share", func(d, _ *vss.Dealer) *vss.Deal {
			pd, _ := d.PlaintextDeal(victim)
			return pd
		}, []uint32{0, 1, 2}, "share does not verify"},
		{"a share on another polynomial", func(d, other *vss.Dealer) *vss.Deal {
			pd, _ := d.PlaintextDeal(victim)
			od, _ := other.PlaintextDeal(victim)
			fake := *od
			fake.SessionID = pd.SessionID
			return &fake
		}, []uint32{0, 1, 2}, "commitments are not those of the deal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var fp [32]byte
			seeds, keys := stationSeeds(n, "justify")
			suite := edwards25519.NewBlakeSHA256Ed25519()
			long, err := StationScalar(seeds[byz])
			if err != nil {
				t.Fatal(err)
			}
			var points []kyber.Point
			for _, k := range keys {
				p, _ := DecodePoint(k)
				points = append(points, p)
			}
			newDealer := func() *vss.Dealer {
				d, err := vss.NewDealer(suite, long, suite.Scalar().Pick(suite.RandomStream()), points, th)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			dealer, other := newDealer(), newDealer()
			pd, _ := dealer.PlaintextDeal(victim)
			pd.SecShare.V = suite.Scalar().Pick(suite.RandomStream())
			byzDeals := &DealBundle{Dealer: byz}
			for i := range n - 1 {
				ed, err := dealer.EncryptedDeal(i)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := (&dkg.Deal{Index: byz, Deal: ed}).MarshalBinary()
				sig, err := schnorr.Sign(suite, long, msg)
				if err != nil {
					t.Fatal(err)
				}
				out := EncryptedDeal{Recipient: uint32(i), DHSig: ed.Signature, Nonce: ed.Nonce, Cipher: ed.Cipher, Signature: sig}
				copy(out.DHKey[:], ed.DHKey)
				byzDeals.Deals = append(byzDeals.Deals, out)
			}

			honest := make([]*DKG, n-1)
			deals := []*DealBundle{}
			for i := range honest {
				if honest[i], err = NewDKG(fp, seeds[i], keys, th); err != nil {
					t.Fatal(err)
				}
				b, err := honest[i].Deals()
				if err != nil {
					t.Fatal(err)
				}
				deals = append(deals, b)
			}
			deals = append(deals, byzDeals)
			var responses []*ResponseBundle
			for i, d := range honest {
				rb := &ResponseBundle{Responder: uint32(i)}
				for _, b := range deals {
					r, err := d.ProcessDeals(b)
					if err != nil {
						t.Fatal(err)
					}
					if r != nil {
						rb.Responses = append(rb.Responses, *r)
						if complaint := b.Dealer == byz && i == victim; r.Approved == complaint {
							t.Fatalf("station %d's answer to dealer %d: approved %v", i, b.Dealer, r.Approved)
						}
					}
				}
				responses = append(responses, rb)
			}
			for _, d := range honest {
				for _, rb := range responses {
					if _, err := d.ProcessResponses(rb); err != nil {
						t.Fatal(err)
					}
				}
			}

			rev := tc.reveal(dealer, other)
			vj := &vss.Justification{SessionID: dealer.SessionID(), Index: victim, Deal: rev}
			if vj.Signature, err = schnorr.Sign(suite, long, vj.Hash(suite)); err != nil {
				t.Fatal(err)
			}
			j := Justification{Recipient: victim, SessionID: vj.SessionID, Share: EncodeScalar(rev.SecShare.V),
				Threshold: rev.T, DealSession: rev.SessionID, Signature: vj.Signature}
			for _, c := range rev.Commitments {
				j.Commitments = append(j.Commitments, EncodePoint(c))
			}
			jb := &JustificationBundle{Dealer: byz, Justifications: []Justification{j}}
			if err := jb.Check(n, th); err != nil {
				t.Fatal(err)
			}
			var shares []*KeyShare
			for i, d := range honest {
				err := d.ProcessJustifications(jb)
				switch {
				case tc.refusal == "" && err != nil:
					t.Fatalf("station %d refused the justification: %v", i, err)
				case tc.refusal != "" && (!errors.Is(err, ErrDKGMessage) || !strings.Contains(err.Error(), tc.refusal)):
					t.Fatalf("station %d: %v, want %v (%s)", i, err, ErrDKGMessage, tc.refusal)
				}
				d.Timeout() // the dealer's own responses never come
				k, err := d.Finish()
				if err != nil {
					t.Fatalf("station %d cannot finish: %v", i, err)
				}
				if !slices.Equal(k.Result.Qualified, tc.qualified) {
					t.Fatalf("station %d: qualified %v, want %v", i, k.Result.Qualified, tc.qualified)
				}
				shares = append(shares, k)
			}
			checkSameResult(t, shares, len(tc.qualified))
		})
	}
}
