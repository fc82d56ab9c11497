package chain_test

import (
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
)

// expectTxError applies a block of txs and checks it is refused for the
// transaction at index with the wanted rule, leaving the chain unchanged.
func expectTxError(t *testing.T, c *chaintest.Chain, index int, want error, txs ...*chain.Tx) {
	t.Helper()
	before := c.State.StateHash
	_, err := c.Apply(c.Build(txs...))
	var te *chain.TxError
	if !errors.Is(err, want) || !errors.As(err, &te) || te.Index != index {
		t.Fatalf("got %v, want %v at tx %d", err, want, index)
	}
	if c.State.StateHash != before {
		t.Fatal("a refused block changed the state")
	}
}

type phases struct {
	e     *chaintest.Election
	c     *chaintest.Chain
	keys  []*ballot.KeyShare
	elect *ballot.Election
}

// openChain returns a mayor election with the polls open.
func openChain(t testing.TB, seed uint64) *phases { return openChainN(t, seed, 40) }

// openChainN is openChain with a roll of the given size.
func openChainN(t testing.TB, seed uint64, voters int) *phases {
	e := chaintest.NewElection(t, "mayor", voters, seed, func(cfg *genesis.Config) { cfg.Params.DKGDeadlineHeight = 6 })
	c := e.NewChain()
	keys := c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	el, err := e.Machine.Election(c.State)
	if err != nil {
		t.Fatal(err)
	}
	return &phases{e: e, c: c, keys: keys, elect: el}
}

func (p *phases) ballot(t testing.TB, voter int) *ballot.Ballot {
	b, _ := p.c.Ballot(t, voter, 0, ballot.Choices{{false, true, false, false}})
	return b
}

func (p *phases) shares(t *testing.T, station int, aggs [][]ballot.Ciphertext) *chain.Tx {
	ts, err := p.elect.MakeTallyShares(p.keys[station], aggs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return chain.NewSignedTx(chain.TxTallyShares, p.e.Fingerprint(), ts.Encode(), p.e.StationKey(station))
}

func TestBallotRules(t *testing.T) {
	p := openChain(t, 2)
	c, e := p.c, p.e
	t.Run("ineligible credential", func(t *testing.T) {
		stranger := ballot.DeriveCredential(e.Genesis.ElectionID(), "0000-0000-0000-0000-0000-0000")
		b, _, err := p.elect.NewBallot(stranger, "north", ballot.Choices{{true, false, false, false}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		expectTxError(t, c, 0, chain.ErrIneligible, chain.NewBallotTx(b))
	})
	t.Run("second ballot of a credential in one block", func(t *testing.T) {
		expectTxError(t, c, 1, chain.ErrAlreadyVoted, chain.NewBallotTx(p.ballot(t, 1)), chain.NewBallotTx(p.ballot(t, 1)))
	})
	t.Run("second ballot of a credential in a later block", func(t *testing.T) {
		c.Commit(t, chain.NewBallotTx(p.ballot(t, 2)))
		expectTxError(t, c, 0, chain.ErrAlreadyVoted, chain.NewBallotTx(p.ballot(t, 2)))
	})
	t.Run("bad proof", func(t *testing.T) {
		b := p.ballot(t, 3)
		b.Contests[0].Proof.Branches[0].V, b.Contests[0].Proof.Branches[1].V = b.Contests[0].Proof.Branches[1].V, b.Contests[0].Proof.Branches[0].V
		copy(b.Signature[:], e.Credential(3).Sign(b.SigningBytes()))
		expectTxError(t, c, 0, ballot.ErrContestProof, chain.NewBallotTx(b))
	})
	t.Run("bad signature", func(t *testing.T) {
		b := p.ballot(t, 4)
		b.Signature[10] ^= 1
		expectTxError(t, c, 0, ballot.ErrBadSignature, chain.NewBallotTx(b))
	})
	t.Run("ballot from another election", func(t *testing.T) {
		other := openChain(t, 99) // same config, other keys: another fingerprint
		b := other.ballot(t, 5)
		expectTxError(t, c, 0, chain.ErrWrongElection, chain.NewBallotTx(b))
		// Relabelled with this election's fingerprint, its credential is not on this roll.
		b.Election = e.Fingerprint()
		expectTxError(t, c, 0, chain.ErrIneligible, chain.NewBallotTx(b))
	})
	t.Run("unknown station", func(t *testing.T) {
		b, _, _ := p.elect.NewBallot(e.Credential(6), "atlantis", ballot.Choices{{true, false, false, false}}, nil)
		expectTxError(t, c, 0, chain.ErrUnknownStation, chain.NewBallotTx(b))
	})
	t.Run("challenged then cast, cast then challenged", func(t *testing.T) {
		ch := ballot.Choices{{false, false, true, false}}
		b, nonces, _ := p.elect.NewBallot(e.Credential(7), "east", ch, nil)
		sp, _ := p.elect.Spoil(b, ch, nonces)
		c.Commit(t, chain.NewSpoiledTx(sp))
		expectTxError(t, c, 0, chain.ErrBallotChallenged, chain.NewBallotTx(b))
		expectTxError(t, c, 0, chain.ErrDuplicate, chain.NewSpoiledTx(sp))

		b2, nonces2, _ := p.elect.NewBallot(e.Credential(8), "east", ch, nil)
		c.Commit(t, chain.NewBallotTx(b2))
		sp2, _ := p.elect.Spoil(b2, ch, nonces2)
		expectTxError(t, c, 0, chain.ErrBallotCast, chain.NewSpoiledTx(sp2))
	})
	t.Run("lying reveal", func(t *testing.T) {
		b, nonces, _ := p.elect.NewBallot(e.Credential(9), "east", ballot.Choices{{true, false, false, false}}, nil)
		sp, _ := p.elect.Spoil(b, ballot.Choices{{false, true, false, false}}, nonces)
		expectTxError(t, c, 0, ballot.ErrRevealMismatch, chain.NewSpoiledTx(sp))
	})
	t.Run("envelope signature on a ballot", func(t *testing.T) {
		tx := chain.NewBallotTx(p.ballot(t, 10))
		tx.Signer = e.StationKey(0).Public().(ed25519.PublicKey)
		tx.Signature = ed25519.Sign(e.StationKey(0), tx.SigningBytes())
		expectTxError(t, c, 0, chain.ErrNeedlessSigner, tx)
	})
	t.Run("garbage payload", func(t *testing.T) {
		tx := &chain.Tx{Kind: chain.TxBallot, Election: e.Fingerprint(), Payload: []byte{0x80}}
		expectTxError(t, c, 0, chain.ErrBadPayload, tx)
	})
	t.Run("unknown kind", func(t *testing.T) {
		tx := &chain.Tx{Kind: 99, Election: e.Fingerprint()}
		expectTxError(t, c, 0, chain.ErrUnknownKind, tx)
	})
}

func TestApprovalRules(t *testing.T) {
	e := chaintest.NewElection(t, "mayor", 10, 3, nil)
	c := e.NewChain()
	fp := e.Fingerprint()
	// Before READY nobody may open.
	expectTxError(t, c, 0, chain.ErrWrongPhase, chain.NewApprovalTx(fp, chain.ActionOpen, e.OfficialKey(0)))
	c.RunDKG(t)
	t.Run("non-official", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrNotOfficial, chain.NewApprovalTx(fp, chain.ActionOpen, e.StationKey(0)))
	})
	t.Run("bad signature", func(t *testing.T) {
		tx := chain.NewApprovalTx(fp, chain.ActionOpen, e.OfficialKey(0))
		tx.Signature[0] ^= 1
		expectTxError(t, c, 0, chain.ErrBadTxSignature, tx)
	})
	t.Run("unsigned", func(t *testing.T) {
		tx := chain.NewApprovalTx(fp, chain.ActionOpen, e.OfficialKey(0))
		tx.Signature = nil
		expectTxError(t, c, 0, chain.ErrUnsignedTx, tx)
	})
	t.Run("another election", func(t *testing.T) {
		other := [32]byte{1}
		expectTxError(t, c, 0, chain.ErrWrongElection, chain.NewApprovalTx(other, chain.ActionOpen, e.OfficialKey(0)))
	})
	t.Run("close before open", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrWrongPhase, chain.NewApprovalTx(fp, chain.ActionClose, e.OfficialKey(0)))
	})
	t.Run("unknown action", func(t *testing.T) {
		tx := chain.NewSignedTx(chain.TxApproval, fp, ballot.Marshal(&chain.Approval{Action: 7}), e.OfficialKey(0))
		expectTxError(t, c, 0, chain.ErrBadApproval, tx)
	})
	// One approval is short of the quorum of 2; the same official again is refused.
	c.Commit(t, chain.NewApprovalTx(fp, chain.ActionOpen, e.OfficialKey(0)))
	if c.State.Phase != chain.PhaseReady {
		t.Fatalf("one approval of a quorum of 2 moved the phase to %s", c.State.Phase)
	}
	expectTxError(t, c, 0, chain.ErrDuplicate, chain.NewApprovalTx(fp, chain.ActionOpen, e.OfficialKey(0)))
	c.Commit(t, chain.NewApprovalTx(fp, chain.ActionOpen, e.OfficialKey(2)))
	if c.State.Phase != chain.PhaseOpen || c.State.OpenHeight != c.State.Height {
		t.Fatalf("quorum reached, phase %s opened at %d", c.State.Phase, c.State.OpenHeight)
	}
}

func TestDKGRules(t *testing.T) {
	e := chaintest.NewElection(t, "mayor", 10, 4, func(cfg *genesis.Config) { cfg.Params.DKGDeadlineHeight = 4 })
	c := e.NewChain()
	fp := e.Fingerprint()
	d1, _ := ballot.NewDKG(fp, e.StationSeeds[1], e.Genesis.StationKeys(), e.Genesis.Threshold())
	deals1, _ := d1.Deals()
	d2, _ := ballot.NewDKG(fp, e.StationSeeds[2], e.Genesis.StationKeys(), e.Genesis.Threshold())
	deals2, _ := d2.Deals()
	dealTx := chain.NewSignedTx(chain.TxDKGDeal, fp, deals1.Encode(), e.StationKey(1))

	t.Run("deal signed by another station", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrNotStation, chain.NewSignedTx(chain.TxDKGDeal, fp, deals1.Encode(), e.StationKey(2)))
	})
	t.Run("deal signed by an official", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrNotStation, chain.NewSignedTx(chain.TxDKGDeal, fp, deals1.Encode(), e.OfficialKey(0)))
	})
	t.Run("malformed deal", func(t *testing.T) {
		bad, _ := ballot.DecodeDealBundle(deals1.Encode())
		bad.Deals = bad.Deals[:1]
		expectTxError(t, c, 0, chain.ErrBadDKGMessage, chain.NewSignedTx(chain.TxDKGDeal, fp, bad.Encode(), e.StationKey(1)))
	})
	t.Run("response before the deal", func(t *testing.T) {
		rb := &ballot.ResponseBundle{Responder: 2, Responses: []ballot.DealResponse{{Dealer: 1, SessionID: make([]byte, 32), Approved: true, Signature: make([]byte, 64)}}}
		expectTxError(t, c, 0, chain.ErrNoDeal, chain.NewSignedTx(chain.TxDKGResponse, fp, rb.Encode(), e.StationKey(2)))
	})
	c.Commit(t, dealTx)
	t.Run("deal twice", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrDuplicate, dealTx)
	})
	r, err := d2.ProcessDeals(deals1)
	if err != nil {
		t.Fatal(err)
	}
	resp := chain.NewSignedTx(chain.TxDKGResponse, fp, (&ballot.ResponseBundle{Responder: 2, Responses: []ballot.DealResponse{*r}}).Encode(), e.StationKey(2))
	c.Commit(t, resp)
	t.Run("response twice", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrDuplicate, resp)
	})
	t.Run("justification without complaint", func(t *testing.T) {
		jb := &ballot.JustificationBundle{Dealer: 1, Justifications: []ballot.Justification{{Recipient: 2, SessionID: make([]byte, 32), Threshold: 2, Commitments: [][32]byte{ballot.EncodePoint(ballot.Suite().Point().Base()), ballot.EncodePoint(ballot.Suite().Point().Base())}, DealSession: make([]byte, 32), Signature: make([]byte, 64)}}}
		expectTxError(t, c, 0, chain.ErrNoComplaint, chain.NewSignedTx(chain.TxDKGJustification, fp, jb.Encode(), e.StationKey(1)))
	})
	t.Run("ballot in SETUP", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrWrongPhase, &chain.Tx{Kind: chain.TxBallot, Election: fp, Payload: (&ballot.Ballot{Election: fp}).Encode()})
	})
	for c.State.Height < 4 {
		c.Commit(t)
	}
	t.Run("deal after the deadline", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrDKGClosed, chain.NewSignedTx(chain.TxDKGDeal, fp, deals2.Encode(), e.StationKey(2)))
	})
	t.Run("announcement that does not check", func(t *testing.T) {
		ann := &ballot.KeyAnnouncement{Station: 1, Qualified: []uint32{0, 1}, Key: ballot.EncodePoint(ballot.Suite().Point().Base())}
		expectTxError(t, c, 0, chain.ErrBadDKGMessage, chain.NewSignedTx(chain.TxKeyAnnouncement, fp, ann.Encode(), e.StationKey(1)))
	})
}

// A DKG in which one station stays silent completes after the deadline.
func TestDKGWithSilentStationOnChain(t *testing.T) {
	e := chaintest.NewElection(t, "mayor", 10, 5, func(cfg *genesis.Config) { cfg.Params.DKGDeadlineHeight = 5 })
	c := e.NewChain()
	keys := c.RunDKG(t, 0, 1, 2)
	if len(c.State.Key.Qualified) != 3 || len(keys) != 3 {
		t.Fatalf("qualified %v", c.State.Key.Qualified)
	}
}

func TestTallySharesRules(t *testing.T) {
	p := openChain(t, 2)
	c, e := p.c, p.e
	c.Commit(t, chain.NewBallotTx(p.ballot(t, 1)), chain.NewBallotTx(p.ballot(t, 2)))
	t.Run("before close", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrWrongPhase, p.shares(t, 0, c.State.Aggregates))
	})
	c.Approve(t, chain.ActionClose)
	t.Run("not the aggregates", func(t *testing.T) {
		other := make([][]ballot.Ciphertext, len(c.State.Aggregates))
		for ci := range other {
			for range c.State.Aggregates[ci] {
				ct, _, _ := p.elect.Encrypt(1, nil)
				other[ci] = append(other[ci], ct)
			}
		}
		expectTxError(t, c, 0, ballot.ErrShareProof, p.shares(t, 0, other))
	})
	t.Run("from a non-station", func(t *testing.T) {
		ts, _ := p.elect.MakeTallyShares(p.keys[0], c.State.Aggregates, nil)
		expectTxError(t, c, 0, chain.ErrNotStation, chain.NewSignedTx(chain.TxTallyShares, e.Fingerprint(), ts.Encode(), e.OfficialKey(0)))
	})
	t.Run("bad proof", func(t *testing.T) {
		ts, _ := p.elect.MakeTallyShares(p.keys[1], c.State.Aggregates, nil)
		ts.Shares[0][2].Proof.V, ts.Shares[0][3].Proof.V = ts.Shares[0][3].Proof.V, ts.Shares[0][2].Proof.V
		expectTxError(t, c, 0, chain.ErrBadShares, chain.NewSignedTx(chain.TxTallyShares, e.Fingerprint(), ts.Encode(), e.StationKey(1)))
	})
	t.Run("station claims another's index", func(t *testing.T) {
		ts, _ := p.elect.MakeTallyShares(p.keys[1], c.State.Aggregates, nil)
		expectTxError(t, c, 0, chain.ErrNotStation, chain.NewSignedTx(chain.TxTallyShares, e.Fingerprint(), ts.Encode(), e.StationKey(2)))
	})
	first := p.shares(t, 0, c.State.Aggregates)
	c.Commit(t, first)
	t.Run("twice", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrDuplicate, first)
	})
	if c.State.Phase != chain.PhaseClosed {
		t.Fatalf("one share of t=2 tallied: %s", c.State.Phase)
	}
	c.Commit(t, p.shares(t, 3, c.State.Aggregates))
	if c.State.Phase != chain.PhaseTallied || c.State.Result[0][1] != 2 {
		t.Fatalf("phase %s result %v", c.State.Phase, c.State.Result)
	}
	t.Run("after the tally", func(t *testing.T) {
		expectTxError(t, c, 0, chain.ErrWrongPhase, p.shares(t, 1, c.State.Aggregates))
	})
}

func TestBlockRules(t *testing.T) {
	e := chaintest.NewElection(t, "mayor", 10, 6, nil)
	c := e.NewChain()
	c.Commit(t)
	c.Commit(t)
	m := e.Machine
	edit := func(f func(b *chain.Block)) []byte {
		b, err := chain.DecodeBlock(c.Build(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		f(b)
		return b.Encode()
	}
	cert := func(f func(cert *bft.Certificate)) []byte {
		return edit(func(b *chain.Block) {
			cp := *b.LastCommit
			cp.Signatures = append([]bft.CommitSig(nil), cp.Signatures...)
			f(&cp)
			b.LastCommit = &cp
		})
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"skips a height", edit(func(b *chain.Block) { b.Header.Height++ }), chain.ErrBadHeight},
		{"wrong previous hash", edit(func(b *chain.Block) { b.Header.PrevHash[0] ^= 1 }), chain.ErrBadPrevHash},
		{"wrong state hash", edit(func(b *chain.Block) { b.Header.StateHash[0] ^= 1 }), chain.ErrBadStateHash},
		{"another election", edit(func(b *chain.Block) { b.Header.Election[0] ^= 1 }), chain.ErrWrongChain},
		{"time goes back", edit(func(b *chain.Block) { b.Header.Time = c.State.Time }), chain.ErrBadTime},
		{"proposer out of range", edit(func(b *chain.Block) { b.Header.Proposer = 4 }), chain.ErrBadProposer},
		{"no certificate", edit(func(b *chain.Block) { b.LastCommit = nil }), chain.ErrBadLastCommit},
		{"certificate of another block", edit(func(b *chain.Block) { b.LastCommit = e.Certify(c.State.Height, [32]byte{9}) }), chain.ErrBadLastCommit},
		{"too few signers", cert(func(x *bft.Certificate) { x.Signatures = x.Signatures[:2] }), bft.ErrTooFewSigners},
		{"duplicate signer", cert(func(x *bft.Certificate) { x.Signatures[1] = x.Signatures[0] }), bft.ErrDuplicateSigner},
		{"non-validator", cert(func(x *bft.Certificate) { x.Signatures[3].Validator = 7 }), bft.ErrUnknownValidator},
		{"bad signature", cert(func(x *bft.Certificate) {
			x.Signatures[2].Signature = append([]byte(nil), x.Signatures[2].Signature...)
			x.Signatures[2].Signature[0] ^= 1
		}), bft.ErrBadSignature},
		{"too many transactions", edit(func(b *chain.Block) {
			for range e.Genesis.Params().MaxBlockTxs + 1 {
				b.Txs = append(b.Txs, []byte{0x80})
			}
		}), chain.ErrBlockTooLarge},
	}
	for _, tc := range cases {
		if _, err := m.Apply(c.State, c.KV, tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := m.Apply(c.State, c.KV, append(c.Build(), 0)); !errors.Is(err, chain.ErrBlockEncoding) {
		t.Errorf("trailing byte: %v", err)
	}
	// Block 1 must not carry a certificate.
	fresh := e.NewChain()
	b1, _ := chain.DecodeBlock(fresh.Build(), 1<<20)
	b1.LastCommit = e.Certify(0, [32]byte{1})
	if _, err := m.Apply(fresh.State, fresh.KV, b1.Encode()); !errors.Is(err, chain.ErrBadLastCommit) {
		t.Errorf("certificate in block 1: %v", err)
	}
}

func TestEvidenceRules(t *testing.T) {
	e := chaintest.NewElection(t, "mayor", 10, 7, nil)
	c := e.NewChain()
	fp := bft.Hash(e.Fingerprint())
	vote := func(hash byte) bft.Vote {
		v := bft.Vote{Type: bft.Prevote, Height: 3, Round: 1, BlockHash: bft.Hash{hash}, Validator: 2}
		v.Signature = ed25519.Sign(e.StationKey(2), v.SignBytes(fp))
		return v
	}
	ev := &bft.Evidence{A: vote(1), B: vote(2)}
	tx := &chain.Tx{Kind: chain.TxEvidence, Election: e.Fingerprint(), Payload: bft.EncodeEvidence(ev)}
	c.Commit(t, tx)
	if c.State.Evidence != 1 {
		t.Fatal("evidence not recorded")
	}
	expectTxError(t, c, 0, chain.ErrDuplicate, tx)
	same := &bft.Evidence{A: vote(1), B: vote(1)}
	expectTxError(t, c, 0, chain.ErrBadEvidence, &chain.Tx{Kind: chain.TxEvidence, Election: e.Fingerprint(), Payload: bft.EncodeEvidence(same)})
	forged := &bft.Evidence{A: vote(3), B: vote(4)}
	forged.B.Signature = append([]byte(nil), forged.B.Signature...)
	forged.B.Signature[0] ^= 1
	expectTxError(t, c, 0, chain.ErrBadEvidence, &chain.Tx{Kind: chain.TxEvidence, Election: e.Fingerprint(), Payload: bft.EncodeEvidence(forged)})
}

// Applying the same blocks to two fresh states gives the same state hash
// at every height; and the hash covers the data (a different block gives a
// different hash).
func TestDeterminism(t *testing.T) {
	p := openChain(t, 2)
	r := rand.New(rand.NewPCG(1, 2))
	manifest := p.e.Genesis.Manifest()
	for v := range 10 {
		b, _ := p.c.Ballot(t, v, v%4, chaintest.RandomChoices(&manifest, r))
		p.c.Commit(t, chain.NewBallotTx(b))
	}
	for range 2 {
		fresh := chain.NewMemKV()
		st := p.e.Machine.InitialState()
		for h, data := range p.c.Blocks {
			a, err := p.e.Machine.Apply(st, fresh, data)
			if err != nil {
				t.Fatalf("replaying block %d: %v", h+1, err)
			}
			fresh.Write(a.Writes)
			st = a.State
		}
		if st.StateHash != p.c.State.StateHash || string(st.Encode()) != string(p.c.State.Encode()) {
			t.Fatal("replaying the same blocks gave another state")
		}
		if fresh.Len() != p.c.KV.Len() {
			t.Fatalf("replay wrote %d keys, original %d", fresh.Len(), p.c.KV.Len())
		}
	}
}

func TestCheckTx(t *testing.T) {
	p := openChain(t, 2)
	c, m := p.c, p.e.Machine
	good := chain.NewBallotTx(p.ballot(t, 1)).Encode()
	if _, err := m.CheckTx(c.State, c.KV, good); err != nil {
		t.Fatalf("valid ballot: %v", err)
	}
	c.Commit(t, chain.NewBallotTx(p.ballot(t, 2)))
	if _, err := m.CheckTx(c.State, c.KV, chain.NewBallotTx(p.ballot(t, 2)).Encode()); !errors.Is(err, chain.ErrAlreadyVoted) {
		t.Fatalf("second ballot of a credential: %v", err)
	}
	if _, err := m.CheckTx(c.State, c.KV, chain.NewApprovalTx(p.e.Fingerprint(), chain.ActionOpen, p.e.OfficialKey(0)).Encode()); !errors.Is(err, chain.ErrWrongPhase) {
		t.Fatalf("open approval while OPEN: %v", err)
	}
	if _, err := m.CheckTx(c.State, c.KV, []byte{1, 2, 3}); !errors.Is(err, chain.ErrTxEncoding) {
		t.Fatalf("garbage: %v", err)
	}
}
