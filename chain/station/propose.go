package station

import (
	"errors"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
)

// hasWork reports whether the chain should make a block now: transactions
// are waiting, the key generation needs heights to pass its deadline, or the
// heartbeat is due.
func (e *Engine) hasWork() bool {
	if n, _ := e.mempool.Len(); n > 0 {
		return true
	}
	st := e.ledger.State()
	if st.Phase == chain.PhaseSetup && st.Height < uint64(e.params.DKGDeadlineHeight) && st.Height > 0 {
		return true // a silent station must not stall the key generation: heights reach the deadline
	}
	// The last block's time is the proposer's clock, which every station
	// also judged timely.
	return e.cfg.Clock.Now().UnixMilli()-st.Time >= e.cfg.Heartbeat.Milliseconds()
}

// signalWork wakes the loop to look for work (non-blocking).
func (e *Engine) signalWork() {
	select {
	case e.work <- struct{}{}:
	default:
	}
}

// onWork tells the core there is work at this height, and proposes if we
// are waiting to.
func (e *Engine) onWork() error {
	if !e.hasWork() {
		return nil
	}
	h := e.core.Height()
	if e.workSent != h {
		e.workSent = h
		if err := e.step(bft.WorkReady{Height: h}); err != nil {
			return err
		}
	}
	return e.maybePropose()
}

// maybePropose answers a pending proposal request when there is work.
func (e *Engine) maybePropose() error {
	req := e.pendingProp
	if req == nil || e.drv.Err() != nil {
		return nil
	}
	if req.Height != e.core.Height() {
		e.pendingProp = nil
		return nil
	}
	if req.Round == 0 && !e.hasWork() {
		return nil // idle: wait for transactions or the heartbeat
	}
	e.pendingProp = nil
	block, err := e.buildBlock(req.Height)
	if err != nil {
		return err
	}
	return e.step(bft.ProposalValue{Height: req.Height, Round: req.Round, Block: block})
}

// buildBlock makes the next block from the mempool. Transactions that no
// longer apply (the state moved on since they were admitted) are dropped
// from the mempool, and their clients told why.
func (e *Engine) buildBlock(height uint64) ([]byte, error) {
	st := e.ledger.State()
	raws, hashes := e.mempool.Reap(e.params.MaxBlockTxs, e.params.MaxBlockBytes)
	b := &chain.Block{Header: chain.Header{
		Election:  e.fp,
		Height:    height,
		PrevHash:  st.BlockHash,
		Proposer:  uint32(e.index),
		Time:      max(e.cfg.Clock.Now().UnixMilli(), st.Time+1),
		StateHash: st.StateHash,
	}}
	if height > 1 {
		c, err := e.ledger.Certificate(height - 1)
		if err != nil {
			return nil, err
		}
		b.LastCommit = c
	}
	for attempt := 0; ; attempt++ {
		b.Txs = raws
		data := b.Encode()
		err := e.ledger.Validate(data)
		if err == nil {
			return data, nil
		}
		var te *chain.TxError
		if !errors.As(err, &te) || te.Index >= len(raws) || attempt > len(hashes) {
			// Not a transaction's fault: propose an empty block rather than
			// nothing, and say so.
			e.log.Error("cannot build a block from the mempool", "err", err)
			b.Txs = nil
			return b.Encode(), nil
		}
		bad := hashes[te.Index]
		e.mempool.Remove(bad)
		e.waiters.rejected(bad, te.Err)
		e.stats.rejected.Add(1)
		raws = append(raws[:te.Index:te.Index], raws[te.Index+1:]...)
		hashes = append(hashes[:te.Index:te.Index], hashes[te.Index+1:]...)
	}
}
