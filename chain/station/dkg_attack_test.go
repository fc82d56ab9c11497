package station

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/group/edwards25519"
	"go.dedis.ch/kyber/v3/share"
	dkg "go.dedis.ch/kyber/v3/share/dkg/pedersen"
	vss "go.dedis.ch/kyber/v3/share/vss/pedersen"
	"go.dedis.ch/kyber/v3/sign/schnorr"
)

// A Byzantine station attacks the key generation. Its DKG messages are
// made here with kyber, signed with its keys (the Schnorr key of its DKG
// and the Ed25519 key of its transactions), and submitted through the
// honest stations as any relayed transaction would be; the station takes
// no other part (its engine is not running: three of four stations keep
// the chain going). Each attack checks the rule or complaint that catches
// it, that the election key completes among the honest stations with the
// blame where it belongs, and that the tally decrypts with the honest
// stations' shares.

const byzStation = 3

// byzDealer is the Byzantine station's dealer: kyber's VSS dealer with
// the station's long-term key, so its deals are signed as the honest
// stations expect, but with a polynomial and deals the test controls.
type byzDealer struct {
	t      *testing.T
	e      *chaintest.Election
	suite  *edwards25519.SuiteEd25519
	long   kyber.Scalar
	dealer *vss.Dealer
}

func newByzDealer(t *testing.T, e *chaintest.Election) *byzDealer {
	suite := edwards25519.NewBlakeSHA256Ed25519()
	long, err := ballot.StationScalar(e.StationSeeds[byzStation])
	if err != nil {
		t.Fatal(err)
	}
	var points []kyber.Point
	for _, k := range e.Genesis.StationKeys() {
		p, err := ballot.DecodePoint(k)
		if err != nil {
			t.Fatal(err)
		}
		points = append(points, p)
	}
	secret := suite.Scalar().Pick(suite.RandomStream())
	d, err := vss.NewDealer(suite, long, secret, points, e.Genesis.Threshold())
	if err != nil {
		t.Fatal(err)
	}
	return &byzDealer{t: t, e: e, suite: suite, long: long, dealer: d}
}

// corruptShare gives station r a share that is not on the dealer's
// committed polynomial.
func (d *byzDealer) corruptShare(r int) {
	pd, err := d.dealer.PlaintextDeal(r)
	if err != nil {
		d.t.Fatal(err)
	}
	pd.SecShare.V = d.suite.Scalar().Pick(d.suite.RandomStream())
}

// tx is the dealer's deal bundle; garble, if set, rewrites each deal's
// ciphertext before the dealer signs it.
func (d *byzDealer) tx(garble func([]byte) []byte) *chain.Tx {
	b := &ballot.DealBundle{Dealer: byzStation}
	for i := range d.e.N() {
		if i == byzStation {
			continue
		}
		ed, err := d.dealer.EncryptedDeal(i)
		if err != nil {
			d.t.Fatal(err)
		}
		if garble != nil {
			ed.Cipher = garble(ed.Cipher)
		}
		dd := &dkg.Deal{Index: byzStation, Deal: ed}
		msg, err := dd.MarshalBinary()
		if err != nil {
			d.t.Fatal(err)
		}
		sig, err := schnorr.Sign(d.suite, d.long, msg)
		if err != nil {
			d.t.Fatal(err)
		}
		out := ballot.EncryptedDeal{Recipient: uint32(i), DHSig: ed.Signature, Nonce: ed.Nonce, Cipher: ed.Cipher, Signature: sig}
		copy(out.DHKey[:], ed.DHKey)
		b.Deals = append(b.Deals, out)
	}
	if err := b.Check(d.e.N()); err != nil {
		d.t.Fatalf("the Byzantine deal bundle is malformed (the chain would refuse it as such): %v", err)
	}
	return chain.NewSignedTx(chain.TxDKGDeal, d.e.Fingerprint(), b.Encode(), d.e.StationKey(byzStation))
}

// justification answers station r's complaint by revealing the deal r got
// or, if correct, the deal r should have got (its share on the committed
// polynomial).
func (d *byzDealer) justification(r int, correct bool) *chain.Tx {
	pd, err := d.dealer.PlaintextDeal(r)
	if err != nil {
		d.t.Fatal(err)
	}
	if correct {
		good := *pd
		good.SecShare = d.dealer.PrivatePoly().Eval(r)
		pd = &good
	}
	return d.justify(r, pd)
}

// justificationOther answers station r's complaint with a share that
// verifies against another polynomial's commitments, under this deal's
// session.
func (d *byzDealer) justificationOther(r int) *chain.Tx {
	other := newByzDealer(d.t, d.e)
	od, err := other.dealer.PlaintextDeal(r)
	if err != nil {
		d.t.Fatal(err)
	}
	pd, err := d.dealer.PlaintextDeal(r)
	if err != nil {
		d.t.Fatal(err)
	}
	fake := *od
	fake.SessionID = pd.SessionID
	return d.justify(r, &fake)
}

func (d *byzDealer) justify(r int, pd *vss.Deal) *chain.Tx {
	var err error
	vj := &vss.Justification{SessionID: d.dealer.SessionID(), Index: uint32(r), Deal: pd}
	if vj.Signature, err = schnorr.Sign(d.suite, d.long, vj.Hash(d.suite)); err != nil {
		d.t.Fatal(err)
	}
	j := ballot.Justification{Recipient: uint32(r), SessionID: vj.SessionID, Share: ballot.EncodeScalar(pd.SecShare.V),
		Threshold: pd.T, DealSession: pd.SessionID, Signature: vj.Signature}
	for _, c := range pd.Commitments {
		j.Commitments = append(j.Commitments, ballot.EncodePoint(c))
	}
	jb := &ballot.JustificationBundle{Dealer: byzStation, Justifications: []ballot.Justification{j}}
	return chain.NewSignedTx(chain.TxDKGJustification, d.e.Fingerprint(), jb.Encode(), d.e.StationKey(byzStation))
}

// otherResult is a well-formed key announcement (n public shares on one
// polynomial of degree t−1 whose value at 0 is the key) of a key nobody
// holds.
func otherResult(t *testing.T, e *chaintest.Election) *chain.Tx {
	suite := edwards25519.NewBlakeSHA256Ed25519()
	poly := share.NewPriPoly(suite, e.Genesis.Threshold(), nil, suite.RandomStream())
	pub := poly.Commit(nil)
	ann := &ballot.KeyAnnouncement{Station: byzStation, Qualified: []uint32{0, 1, 2, 3}, Key: ballot.EncodePoint(pub.Commit())}
	for i := range e.N() {
		ann.PublicShares = append(ann.PublicShares, ballot.EncodePoint(pub.Eval(i).V))
	}
	if err := ann.Check(e.N(), e.Genesis.Threshold()); err != nil {
		t.Fatalf("the Byzantine announcement is malformed (the chain would refuse it as such): %v", err)
	}
	return chain.NewSignedTx(chain.TxKeyAnnouncement, e.Fingerprint(), ann.Encode(), e.StationKey(byzStation))
}

func TestByzantineKeyGeneration(t *testing.T) {
	if testing.Short() {
		t.Skip("five elections; the full pass runs them")
	}
	const victim = 0 // the station the wrong share is dealt to
	cases := []struct {
		name   string
		attack func(t *testing.T, c *cluster, ctx context.Context)
		// qualified is the dealers the key must be made of.
		qualified []uint32
		check     func(t *testing.T, c *cluster)
		// afterTally runs after the tally (optional).
		afterTally func(t *testing.T, c *cluster)
	}{
		{
			// The victim complains on the chain; the dealer never answers,
			// so at the deadline every honest station disqualifies it.
			name: "wrong-share",
			attack: func(t *testing.T, c *cluster, ctx context.Context) {
				d := newByzDealer(t, c.e)
				d.corruptShare(victim)
				mustSubmit(t, c, ctx, d.tx(nil))
			},
			qualified: []uint32{0, 1, 2},
			check: func(t *testing.T, c *cluster) {
				if !complained(t, c, victim, byzStation) {
					t.Fatalf("no complaint of station %d against dealer %d on the chain", victim, byzStation)
				}
				// The victim's DKG, replayed from the chain, complains.
				d := replayDKG(t, c, victim)
				r, err := d.ProcessDeals(byzDeal(t, c))
				if err != nil || r == nil || r.Approved {
					t.Fatalf("the victim's answer to the wrong share: %+v, %v; want a complaint", r, err)
				}
			},
		},
		{
			// The dealer answers the complaint by revealing the wrong share:
			// every station sees it does not match the commitments and
			// disqualifies the dealer at once.
			name: "bad-justification",
			attack: func(t *testing.T, c *cluster, ctx context.Context) {
				d := newByzDealer(t, c.e)
				d.corruptShare(victim)
				mustSubmit(t, c, ctx, d.tx(nil))
				c.waitFor("the complaint on the chain", 60*time.Second, func(Status) bool {
					return c.engine(1).Ledger().State().Responded[victim]&(1<<byzStation) != 0
				})
				mustSubmit(t, c, ctx, d.justification(victim, false))
			},
			qualified: []uint32{0, 1, 2},
			check: func(t *testing.T, c *cluster) {
				if !complained(t, c, victim, byzStation) {
					t.Fatalf("no complaint of station %d against dealer %d on the chain", victim, byzStation)
				}
				if st := c.engine(1).Ledger().State(); st.Justified[byzStation]&(1<<victim) == 0 {
					t.Fatalf("the justification is not on the chain")
				}
				// Station 1's DKG, replayed from the chain, refuses it.
				d := replayDKG(t, c, 1)
				if r, err := d.ProcessDeals(byzDeal(t, c)); err != nil || !r.Approved {
					t.Fatalf("station 1's answer to its (good) share: %+v, %v", r, err)
				}
				for _, tx := range chainTxs(t, c, chain.TxDKGResponse) {
					rb, err := ballot.DecodeResponseBundle(tx.Payload)
					if err != nil {
						t.Fatal(err)
					}
					d.ProcessResponses(rb) // its own and others' answers
				}
				jtx := chainTxs(t, c, chain.TxDKGJustification)
				if len(jtx) != 1 {
					t.Fatalf("%d justifications on the chain, want 1", len(jtx))
				}
				jb, err := ballot.DecodeJustificationBundle(jtx[0].Payload)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.ProcessJustifications(jb); !errors.Is(err, ballot.ErrDKGMessage) || !strings.Contains(err.Error(), "share does not verify") {
					t.Fatalf("the bad justification: %v, want %v (share does not verify)", err, ballot.ErrDKGMessage)
				}
			},
		},
		{
			// The dealer answers the complaint with the share it should have
			// dealt: the deal is sound after all and the dealer qualifies;
			// the victim must use the revealed share, not the one it got, or
			// its key share would not match its public share.
			name: "wrong-share-justified",
			attack: func(t *testing.T, c *cluster, ctx context.Context) {
				d := newByzDealer(t, c.e)
				d.corruptShare(victim)
				mustSubmit(t, c, ctx, d.tx(nil))
				c.waitFor("the complaint on the chain", 60*time.Second, func(Status) bool {
					return c.engine(1).Ledger().State().Responded[victim]&(1<<byzStation) != 0
				})
				mustSubmit(t, c, ctx, d.justification(victim, true))
			},
			qualified: []uint32{0, 1, 2, 3},
			check: func(t *testing.T, c *cluster) {
				if !complained(t, c, victim, byzStation) {
					t.Fatalf("no complaint of station %d against dealer %d on the chain", victim, byzStation)
				}
			},
		},
		{
			// The dealer answers the complaint with a share on another
			// polynomial (its commitments in the justification): the share
			// matches those commitments, but they are not the deal's; the
			// justification is refused, the complaint stands, the dealer is
			// disqualified.
			name: "justification-other-polynomial",
			attack: func(t *testing.T, c *cluster, ctx context.Context) {
				d := newByzDealer(t, c.e)
				d.corruptShare(victim)
				mustSubmit(t, c, ctx, d.tx(nil))
				c.waitFor("the complaint on the chain", 60*time.Second, func(Status) bool {
					return c.engine(1).Ledger().State().Responded[victim]&(1<<byzStation) != 0
				})
				mustSubmit(t, c, ctx, d.justificationOther(victim))
			},
			qualified: []uint32{0, 1, 2},
			check:     func(*testing.T, *cluster) {},
		},
		{
			// Deals that decrypt for nobody: no station can answer them, so
			// the dealer gathers no approval and is left out at the deadline.
			name: "undecryptable-deal",
			attack: func(t *testing.T, c *cluster, ctx context.Context) {
				d := newByzDealer(t, c.e)
				mustSubmit(t, c, ctx, d.tx(func(cipher []byte) []byte {
					junk := make([]byte, len(cipher))
					rand.Read(junk)
					return junk
				}))
			},
			qualified: []uint32{0, 1, 2},
			check: func(t *testing.T, c *cluster) {
				st := c.engine(1).Ledger().State()
				if st.Dealt&(1<<byzStation) == 0 {
					t.Fatalf("the undecryptable deal is not on the chain")
				}
				for r := range 3 {
					if st.Responded[r]&(1<<byzStation) != 0 {
						t.Fatalf("station %d answered a deal it cannot decrypt", r)
					}
				}
				if _, err := replayDKG(t, c, 1).ProcessDeals(byzDeal(t, c)); !errors.Is(err, ballot.ErrDKGMessage) || !strings.Contains(err.Error(), "authentication failed") {
					t.Fatalf("the undecryptable deal: %v, want %v (authentication failed)", err, ballot.ErrDKGMessage)
				}
			},
		},
		{
			// An announcement of another key, well-formed, first on the
			// chain: it is recorded, but the chain takes the key a quorum of
			// stations announced.
			name: "other-announcement",
			attack: func(t *testing.T, c *cluster, ctx context.Context) {
				mustSubmit(t, c, ctx, otherResult(t, c.e))
			},
			qualified: []uint32{0, 1, 2},
			check: func(t *testing.T, c *cluster) {
				st := c.engine(1).Ledger().State()
				if st.Announced&(1<<byzStation) == 0 {
					t.Fatalf("the Byzantine announcement is not on the chain")
				}
				for _, tx := range chainTxs(t, c, chain.TxKeyAnnouncement) {
					ann, err := ballot.DecodeKeyAnnouncement(tx.Payload)
					if err != nil {
						t.Fatal(err)
					}
					if (ann.Station == byzStation) == ann.SameResult(st.Key) {
						t.Fatalf("station %d's announcement: same as the chain's key %v", ann.Station, ann.SameResult(st.Key))
					}
				}
			},
		},
		{
			// Decryption shares whose proofs are for another station's
			// public share: refused by the rule that checks them, against
			// the chain as it was when the polls closed; the tally is made
			// of the honest stations' shares.
			name:      "bad-decryption-share",
			attack:    func(*testing.T, *cluster, context.Context) {},
			qualified: []uint32{0, 1, 2},
			check:     func(*testing.T, *cluster) {},
			afterTally: func(t *testing.T, c *cluster) {
				ch := c.e.NewChain()
				l := c.engine(0).Ledger()
				for h := uint64(1); ch.State.Phase != chain.PhaseClosed; h++ {
					raw, err := l.Block(h)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := ch.Apply(raw); err != nil {
						t.Fatalf("replaying block %d: %v", h, err)
					}
				}
				honest := chainTxs(t, c, chain.TxTallyShares)[0]
				ts, err := ballot.DecodeTallyShares(honest.Payload)
				if err != nil {
					t.Fatal(err)
				}
				ts.Station = byzStation
				bad := chain.NewSignedTx(chain.TxTallyShares, c.e.Fingerprint(), ts.Encode(), c.e.StationKey(byzStation))
				if _, err := c.e.Machine.CheckTx(ch.State, ch.KV, bad.Encode()); !errors.Is(err, chain.ErrBadShares) {
					t.Fatalf("bad decryption shares: %v, want %v", err, chain.ErrBadShares)
				}
				// In a block, they make it invalid.
				if _, err := ch.Apply(ch.Build(bad)); !errors.Is(err, chain.ErrBadShares) {
					t.Fatalf("a block with bad decryption shares: %v, want %v", err, chain.ErrBadShares)
				}
			},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClusterDeadline(t, "mayor", 30, 60+uint64(i), 12)
			c.votes.honest[byzStation] = false
			for s := range 3 {
				c.start(s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			tc.attack(t, c, ctx)
			c.waitPhase(chain.PhaseReady, 90*time.Second)
			st := c.engine(0).Ledger().State()
			if !slices.Equal(st.Key.Qualified, tc.qualified) {
				t.Fatalf("the key is made of dealers %v, want %v", st.Key.Qualified, tc.qualified)
			}
			tc.check(t, c)
			// Every honest station holds a share of the key.
			c.waitFor("every honest station's key share", 30*time.Second, func(s Status) bool { return s.KeyReady })
			tally(t, c, ctx, 6)
			if tc.afterTally != nil {
				tc.afterTally(t, c)
			}
		})
	}
}

func mustSubmit(t *testing.T, c *cluster, ctx context.Context, tx *chain.Tx) {
	t.Helper()
	if _, err := c.submit(ctx, 1, tx); err != nil {
		t.Fatalf("%s of the Byzantine station refused: %v", tx.Kind, err)
	}
}

// chainTxs returns the transactions of a kind on station 1's chain.
func chainTxs(t *testing.T, c *cluster, kind chain.TxKind) []*chain.Tx {
	t.Helper()
	l := c.engine(1).Ledger()
	var out []*chain.Tx
	for h := uint64(1); h <= l.Height(); h++ {
		raw, err := l.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		b, err := chain.DecodeBlock(raw, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, txb := range b.Txs {
			if tx, err := chain.DecodeTx(txb); err == nil && tx.Kind == kind {
				out = append(out, tx)
			}
		}
	}
	return out
}

// replayDKG is station i's DKG as it was before the dealer's deal was
// processed: made again from its seed (its deals are reproducible), with
// every DKG message of the honest stations on the chain processed.
func replayDKG(t *testing.T, c *cluster, i int) *ballot.DKG {
	t.Helper()
	d, err := ballot.NewDKG(c.e.Fingerprint(), c.e.StationSeeds[i], c.e.Genesis.StationKeys(), c.e.Genesis.Threshold())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deals(); err != nil {
		t.Fatal(err)
	}
	for _, tx := range chainTxs(t, c, chain.TxDKGDeal) {
		b, err := ballot.DecodeDealBundle(tx.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if b.Dealer != byzStation {
			if _, err := d.ProcessDeals(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return d
}

// byzDeal is the Byzantine dealer's bundle on the chain.
func byzDeal(t *testing.T, c *cluster) *ballot.DealBundle {
	t.Helper()
	for _, tx := range chainTxs(t, c, chain.TxDKGDeal) {
		b, err := ballot.DecodeDealBundle(tx.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if b.Dealer == byzStation {
			return b
		}
	}
	t.Fatal("the Byzantine deal is not on the chain")
	return nil
}

// complained reports whether station r's complaint against dealer d is on
// the chain.
func complained(t *testing.T, c *cluster, r, d int) bool {
	t.Helper()
	for _, tx := range chainTxs(t, c, chain.TxDKGResponse) {
		rb, err := ballot.DecodeResponseBundle(tx.Payload)
		if err != nil || rb.Responder != uint32(r) {
			continue
		}
		for _, resp := range rb.Responses {
			if resp.Dealer == uint32(d) && !resp.Approved {
				return true
			}
		}
	}
	return false
}

// tally opens the polls, casts a few ballots, closes them and checks that
// the result, decrypted with the honest stations' shares, is the plain
// choices.
func tally(t *testing.T, c *cluster, ctx context.Context, n int) {
	t.Helper()
	c.approve(ctx, chain.ActionOpen)
	c.waitPhase(chain.PhaseOpen, 30*time.Second)
	v := c.voter()
	want := make([]uint64, len(v.manifest.Contests[0].Candidates))
	for k := range n {
		choices := make(ballot.Choices, len(v.manifest.Contests))
		for ci, ct := range v.manifest.Contests {
			choices[ci] = make([]bool, len(ct.Candidates))
		}
		choices[0][k%len(want)] = true
		want[k%len(want)]++
		b, _, err := v.election.NewBallot(c.e.Credential(k), c.e.Config.Stations[0].ID, choices, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.submit(ctx, k%3, chain.NewBallotTx(b)); err != nil {
			t.Fatal(err)
		}
	}
	c.approve(ctx, chain.ActionClose)
	c.waitFor("TALLIED", 60*time.Second, func(s Status) bool { return s.Phase == chain.PhaseTallied })
	st := c.engine(0).Ledger().State()
	if st.TallyError != "" || !slices.Equal(st.Result[0], want) {
		t.Fatalf("result %v (tally error %q), the plain choices %v", st.Result[0], st.TallyError, want)
	}
	if st.Shared&(1<<byzStation) != 0 {
		t.Fatalf("the Byzantine station's shares are on the chain")
	}
}
