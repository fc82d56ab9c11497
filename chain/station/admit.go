package station

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
)

func numWorkers() int { return runtime.GOMAXPROCS(0) }

// Receipt says what became of a submitted transaction.
type Receipt struct {
	Hash      [32]byte
	Committed bool   // already in a block
	Height    uint64 // the block, when Committed
}

// ErrRejected wraps the rule a submitted transaction breaks.
var ErrRejected = errors.New("transaction rejected")

// Submit checks a transaction (its canonical bytes) and, if it is valid,
// puts it in the mempool and sends it to the other stations. It returns
// once the transaction is accepted (or was already committed), or an error
// wrapping ErrRejected and the rule it breaks. Safe to call from any
// goroutine; the cryptography is checked on the caller's goroutine.
func (e *Engine) Submit(ctx context.Context, raw []byte) (Receipt, error) {
	select {
	case <-e.done:
		return Receipt{}, ErrStopped
	default:
	}
	a := decodeAdmission(raw)
	if a.ballot != nil && !e.mempool.Has(a.hash) {
		e.preverify(ctx, [][]byte{a.tx.Payload}, []*ballot.Ballot{a.ballot})
	}
	r, added, err := e.admit1(a)
	if added {
		e.cfg.Transport.Broadcast(ChannelGossip, raw)
		e.signalWork()
	}
	return r, err
}

// admission is a transaction being admitted, decoded once.
type admission struct {
	raw    []byte
	tx     *chain.Tx      // nil if the bytes are not a transaction
	err    error          // why tx is nil
	hash   [32]byte       // of raw, when tx is not nil
	ballot *ballot.Ballot // a ballot transaction's ballot, if it decodes
	berr   error          // why a ballot transaction's ballot does not decode
}

func decodeAdmission(raw []byte) *admission {
	return decodeAdmissionHashed(raw, sha256.Sum256(raw))
}

// decodeAdmissionHashed is decodeAdmission with the hash of raw known.
// (DecodeTx accepts only the canonical encoding, so the hash of the bytes
// is the transaction's hash: no re-encoding needed.)
func decodeAdmissionHashed(raw []byte, hash [32]byte) *admission {
	a := &admission{raw: raw}
	if a.tx, a.err = chain.DecodeTx(raw); a.err != nil {
		return a
	}
	a.hash = hash
	if a.tx.Kind == chain.TxBallot {
		a.ballot, a.berr = ballot.DecodeBallot(a.tx.Payload)
	}
	return a
}

// admitTx runs the admission checks and adds the transaction to the
// mempool. added is true only if this call added it: only then is it
// passed on to the other stations (a transaction already in the mempool
// was passed on when it was added; a committed one must not travel again,
// or stations would echo it to each other forever).
func (e *Engine) admitTx(raw []byte) (r Receipt, added bool, err error) {
	return e.admit1(decodeAdmission(raw))
}

func (e *Engine) admit1(a *admission) (r Receipt, added bool, err error) {
	r, err = e.admitCheck(a)
	if err != nil || r.Committed {
		return r, false, err
	}
	var cred *[32]byte
	if a.ballot != nil {
		cred = &a.ballot.Credential
	}
	if err := e.mempool.Add(r.Hash, a.raw, cred); err != nil {
		if errors.Is(err, ErrInMempool) {
			return r, false, nil
		}
		return r, false, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	e.stats.accepted.Add(1)
	return r, true, nil
}

// admitCheck runs the admission checks: the transaction is well formed and
// either committed already (r.Committed) or valid on the committed state.
// A transaction already in the mempool passes without being checked again.
func (e *Engine) admitCheck(a *admission) (Receipt, error) {
	if a.err != nil {
		return Receipt{}, fmt.Errorf("%w: %w", ErrRejected, a.err)
	}
	hash, raw := a.hash, a.raw
	r := Receipt{Hash: hash}
	if loc, found, err := e.ledger.TxLocation(hash); err != nil {
		return r, err
	} else if found {
		r.Committed, r.Height = true, loc.Height
		return r, nil
	}
	if e.mempool.Has(hash) {
		return r, nil
	}
	if a.berr != nil {
		return r, fmt.Errorf("%w: %w", ErrRejected, a.berr)
	}
	// CheckTx verifies a ballot's proofs once and leaves the verdict in the
	// machine's cache, which spares the block's validation the work.
	st := e.ledger.State()
	if _, err := e.machine.CheckDecodedTx(st, e.ledger.Reader(), raw, a.tx, a.ballot, a.berr); err != nil {
		if errors.Is(err, chain.ErrStateRead) {
			return r, err // the station's trouble, not the transaction's
		}
		// The transaction may have been committed between the look-up above
		// and the check: then it is no error of the client's.
		if loc, found, lerr := e.ledger.TxLocation(hash); lerr == nil && found {
			r.Committed, r.Height = true, loc.Height
			return r, nil
		}
		e.stats.rejected.Add(1)
		return r, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return r, nil
}

// submitOwn puts one of the station's own transactions (DKG messages, tally
// shares, evidence) in the mempool and gossips it. Errors are logged: the
// duties try again after the next block if the chain still needs it.
func (e *Engine) submitOwn(tx *chain.Tx) {
	raw := tx.Encode()
	_, added, err := e.admitTx(raw)
	if err != nil {
		e.log.Warn("own transaction refused", "kind", tx.Kind, "err", err)
		return
	}
	if added {
		e.cfg.Transport.Broadcast(ChannelGossip, raw)
		e.signalWork()
	}
}

// admissionWorker checks transactions gossiped by peers, off the loop: the
// packets waiting are taken together, so that their ballots are verified
// in one batch (preverify.go).
func (e *Engine) admissionWorker(ctx context.Context) {
	var batch []*admission
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case p := <-e.admit:
			batch = e.appendGossip(batch, p)
		}
	gather:
		for len(batch) < maxVerifyBatch {
			select {
			case p := <-e.admit:
				batch = e.appendGossip(batch, p)
			default:
				break gather
			}
		}
		var payloads [][]byte
		var ballots []*ballot.Ballot
		for _, a := range batch {
			if a.ballot != nil {
				payloads = append(payloads, a.tx.Payload)
				ballots = append(ballots, a.ballot)
			}
		}
		e.preverify(ctx, payloads, ballots)
		relayAt := e.cfg.Clock.Now().Add(e.relayDelay())
		for _, a := range batch {
			if _, added, err := e.admit1(a); err == nil && added {
				e.mempool.RelayLater(a.hash, relayAt)
				e.signalWork()
			}
		}
		clear(batch)
	}
}

// relayDelay is how long a transaction gossiped by a peer waits before
// this station passes it on. The station that admitted it from its client
// sends it to every station it is connected to; passing it on at once as
// well would send every transaction over every link again, for nothing
// while the stations are all connected. So a station passes on only what is
// still waiting after two ticks: then it may be that the origin cannot reach
// some station (a partial partition), and the copy reaches it through us.
func (e *Engine) relayDelay() time.Duration { return 2 * e.cfg.Tick }

// relayDue passes on the gossiped transactions whose relay delay is over
// and which are still waiting (called at each tick).
func (e *Engine) relayDue() {
	for _, raw := range e.mempool.DueRelays(e.cfg.Clock.Now()) {
		e.cfg.Transport.Broadcast(ChannelGossip, raw)
	}
}

// appendGossip decodes a gossiped transaction and adds it to batch, unless
// it is waiting in the mempool or in the batch already (every station
// passes a new transaction on, so most arrive more than once: they are
// recognised by their hash, before anything is decoded), or malformed
// (counted as dropped).
func (e *Engine) appendGossip(batch []*admission, p Packet) []*admission {
	h := sha256.Sum256(p.Data)
	if e.mempool.Has(h) {
		return batch
	}
	for _, a := range batch {
		if a.hash == h {
			return batch
		}
	}
	a := decodeAdmissionHashed(p.Data, h)
	if a.err != nil {
		e.stats.dropped.Add(1)
		return batch
	}
	return append(batch, a)
}

// WaitCommitted waits until the transaction is in a committed block and
// returns the height; or until it is dropped from the mempool (the error
// says why), ctx is done or the engine stops.
func (e *Engine) WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error) {
	ch := e.waiters.add(hash)
	defer e.waiters.remove(hash, ch)
	if loc, found, err := e.ledger.TxLocation(hash); err != nil {
		return 0, err
	} else if found {
		return loc.Height, nil
	}
	select {
	case r := <-ch:
		if r.err != nil {
			// Dropped from the mempool as a duplicate of what a block just
			// committed? Then it is committed, which is what the client asks.
			if loc, found, err := e.ledger.TxLocation(hash); err == nil && found {
				return loc.Height, nil
			}
		}
		return r.height, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

type waitResult struct {
	height uint64
	err    error
}

// waiters are the clients waiting for their transactions.
type waiters struct {
	mu   sync.Mutex
	byTx map[[32]byte][]chan waitResult
	err  error
}

func (w *waiters) init() { w.byTx = map[[32]byte][]chan waitResult{} }

func (w *waiters) add(hash [32]byte) chan waitResult {
	ch := make(chan waitResult, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		ch <- waitResult{err: w.err}
		return ch
	}
	w.byTx[hash] = append(w.byTx[hash], ch)
	return ch
}

func (w *waiters) remove(hash [32]byte, ch chan waitResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.byTx[hash]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.byTx, hash)
	} else {
		w.byTx[hash] = list
	}
}

func (w *waiters) notify(hash [32]byte, r waitResult) {
	for _, ch := range w.byTx[hash] {
		select {
		case ch <- r:
		default:
		}
	}
	delete(w.byTx, hash)
}

func (w *waiters) committed(hashes [][32]byte, height uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range hashes {
		w.notify(h, waitResult{height: height})
	}
}

func (w *waiters) rejected(hash [32]byte, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.notify(hash, waitResult{err: fmt.Errorf("%w: %w", ErrRejected, err)})
}

func (w *waiters) stop(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
	for h := range w.byTx {
		w.notify(h, waitResult{err: err})
	}
}
