package station

import (
	"errors"
	"fmt"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/store"
)

// metaKeyShare is the store meta key of the station's secret key share.
const metaKeyShare = "dkg/key-share"

// duties are the station's own contributions to the election: its part in
// the key generation, run from the DKG messages on the chain, and its
// decryption shares once the polls are closed. They look at each committed
// block and submit what the chain still needs from this station; a
// transaction that gets lost is submitted again after a later block.
type duties struct {
	e   *Engine
	dkg *ballot.DKG
	// own is our deal bundle (recreated identically after a restart).
	own *ballot.DealBundle
	// responses to dealers, made when their deals were processed, until the
	// chain has them.
	responses map[uint32]ballot.DealResponse
	// justifications we owe (complaints against our deal).
	justifications map[uint32]ballot.Justification
	timedOut       bool
	share          *ballot.KeyShare
	tallyTx        *chain.Tx // made once: its proofs are randomised
	failed         error     // the DKG cannot complete here (logged once)
}

func newDuties(e *Engine) (*duties, error) {
	d := &duties{e: e, responses: map[uint32]ballot.DealResponse{}, justifications: map[uint32]ballot.Justification{}}
	raw, err := e.store.GetMeta(metaKeyShare)
	switch {
	case err == nil:
		k, err := ballot.DecodeKeyShare(raw, e.vals.N(), e.cfg.Genesis.Threshold())
		if err != nil {
			return nil, fmt.Errorf("station: stored key share: %w", err)
		}
		d.share = k
		return d, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	st := e.ledger.State()
	if st.Phase != chain.PhaseSetup {
		// The key was made without us (or our share was lost): we hold no
		// share and will post no decryption shares.
		return d, nil
	}
	d.dkg, err = ballot.NewDKG(e.fp, e.cfg.Seed, e.cfg.Genesis.StationKeys(), e.cfg.Genesis.Threshold())
	if err != nil {
		return nil, err
	}
	if d.own, err = d.dkg.Deals(); err != nil {
		return nil, err
	}
	// Rebuild the DKG from the chain so far.
	for h := uint64(1); h <= st.Height; h++ {
		raw, err := e.ledger.Block(h)
		if err != nil {
			return nil, err
		}
		b, err := chain.DecodeBlock(raw, e.params.MaxBlockBytes)
		if err != nil {
			return nil, err
		}
		for _, txb := range b.Txs {
			tx, err := chain.DecodeTx(txb)
			if err != nil {
				return nil, err
			}
			d.process(tx)
		}
		if h == uint64(e.params.DKGDeadlineHeight) {
			d.timeout()
		}
	}
	return d, nil
}

// process feeds one committed DKG transaction to the station's DKG.
func (d *duties) process(tx *chain.Tx) {
	if d.dkg == nil {
		return
	}
	me := uint32(d.e.index)
	switch tx.Kind {
	case chain.TxDKGDeal:
		b, err := ballot.DecodeDealBundle(tx.Payload)
		if err != nil || b.Dealer == me {
			return
		}
		r, err := d.dkg.ProcessDeals(b)
		if err != nil {
			d.e.log.Warn("DKG: cannot use a deal", "dealer", b.Dealer, "err", err)
			return
		}
		if r != nil {
			d.responses[b.Dealer] = *r
		}
	case chain.TxDKGResponse:
		b, err := ballot.DecodeResponseBundle(tx.Payload)
		if err != nil || b.Responder == me {
			return
		}
		j, err := d.dkg.ProcessResponses(b)
		if err != nil {
			d.e.log.Warn("DKG: responses refused", "responder", b.Responder, "err", err)
		}
		if j != nil {
			d.justifications[j.Recipient] = *j
		}
	case chain.TxDKGJustification:
		b, err := ballot.DecodeJustificationBundle(tx.Payload)
		if err != nil || b.Dealer == me {
			return
		}
		if err := d.dkg.ProcessJustifications(b); err != nil {
			d.e.log.Warn("DKG: justifications refused", "dealer", b.Dealer, "err", err)
		}
	}
}

func (d *duties) timeout() {
	if d.dkg != nil && !d.timedOut {
		d.timedOut = true
		d.dkg.Timeout()
	}
}

// afterBlock processes a committed block (nil: just look at the state) and
// submits what the chain needs from this station.
func (d *duties) afterBlock(a *chain.Applied) {
	e := d.e
	st := e.ledger.State()
	if a != nil {
		for _, tx := range a.Txs {
			d.process(tx)
		}
		if a.State.Height >= uint64(e.params.DKGDeadlineHeight) {
			d.timeout()
		}
	}
	me := uint32(e.index)
	switch st.Phase {
	case chain.PhaseSetup:
		d.setup(st, me)
	case chain.PhaseClosed:
		d.tally(st, me)
	}
}

func (d *duties) setup(st *chain.State, me uint32) {
	e := d.e
	if d.dkg == nil {
		return
	}
	dkgOpen := st.Height < uint64(e.params.DKGDeadlineHeight)
	if dkgOpen && st.Dealt&(1<<me) == 0 {
		e.submitOwn(chain.NewSignedTx(chain.TxDKGDeal, e.fp, d.own.Encode(), e.key))
	}
	if dkgOpen {
		rb := &ballot.ResponseBundle{Responder: me}
		for dealer := range uint32(e.vals.N()) {
			if r, ok := d.responses[dealer]; ok && st.Responded[me]&(1<<dealer) == 0 {
				rb.Responses = append(rb.Responses, r)
			}
		}
		if len(rb.Responses) > 0 {
			e.submitOwn(chain.NewSignedTx(chain.TxDKGResponse, e.fp, rb.Encode(), e.key))
		}
		jb := &ballot.JustificationBundle{Dealer: me}
		for r := range uint32(e.vals.N()) {
			if j, ok := d.justifications[r]; ok && st.Justified[me]&(1<<r) == 0 {
				jb.Justifications = append(jb.Justifications, j)
			}
		}
		if len(jb.Justifications) > 0 {
			e.submitOwn(chain.NewSignedTx(chain.TxDKGJustification, e.fp, jb.Encode(), e.key))
		}
	}
	if st.Announced&(1<<me) != 0 {
		return
	}
	if d.share == nil && d.failed == nil && (d.dkg.Certified() || d.timedOut) {
		k, err := d.dkg.Finish()
		if err != nil {
			d.failed = err
			e.log.Error("DKG: this station cannot finish the key generation", "err", err)
			return
		}
		if err := e.store.PutMeta(metaKeyShare, k.Encode()); err != nil {
			e.log.Error("DKG: cannot store the key share", "err", err)
			return
		}
		d.share = k
		e.log.Info("DKG: key share made", "qualified", k.Result.Qualified)
	}
	if d.share != nil {
		e.submitOwn(chain.NewSignedTx(chain.TxKeyAnnouncement, e.fp, d.share.Result.Encode(), e.key))
	}
}

// keyReady reports whether the station holds a share of the chain's key.
func (d *duties) keyReady(st *chain.State) bool {
	return d.share != nil && st.Key != nil && d.share.MatchesResult(st.Key)
}

func (d *duties) tally(st *chain.State, me uint32) {
	e := d.e
	if st.Shared&(1<<me) != 0 || d.share == nil {
		return
	}
	if d.tallyTx != nil {
		e.submitOwn(d.tallyTx)
		return
	}
	if !d.keyReady(st) {
		e.log.Error("tally: this station's key share does not match the election key; it posts no decryption shares")
		return
	}
	el, err := e.machine.Election(st)
	if err != nil {
		e.log.Error("tally", "err", err)
		return
	}
	ts, err := el.MakeTallyShares(d.share, st.Aggregates, nil)
	if err != nil {
		e.log.Error("tally: making decryption shares", "err", err)
		return
	}
	d.tallyTx = chain.NewSignedTx(chain.TxTallyShares, e.fp, ts.Encode(), e.key)
	e.submitOwn(d.tallyTx)
}
