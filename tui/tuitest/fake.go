// Package tuitest provides an in-memory station for the tests of the
// terminals: a Fake that implements tui.Node with the election rules a
// terminal can meet (phases, the voter roll, one ballot per credential,
// real ballot and challenge verification, officials' quorums) and knobs to
// make it fail the ways a real station can.
package tuitest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// Fake is an in-memory station. Its exported fields are knobs a test sets
// under Lock/Unlock (or before the program starts).
type Fake struct {
	*ledger
	station int

	// Hold makes WaitCommitted wait for Commit; otherwise a wait commits
	// the pending transactions at once.
	Hold bool
	// Down makes every call fail as an unreachable station would.
	Down bool
	// KeyErr makes ElectionKey fail with it.
	KeyErr error
	// Reject refuses the next Submit with it (then clears itself).
	Reject *tui.Rejection
	// Drop fails the next WaitCommitted with it (then clears itself).
	Drop error
	// Submitted holds every transaction accepted, in order.
	Submitted [][]byte
	// NoEvents makes Events fail, as a station without the stream would.
	NoEvents bool
	// Closed is set by Close.
	Closed bool
}

// ledger is the chain every Fake of one election shares: what one station
// accepts, another one knows about once it is committed.
type ledger struct {
	mu sync.Mutex

	g        *genesis.Genesis
	key      []byte
	election *ballot.Election
	roll     *ballot.Roll
	st       tui.Status
	clock    time.Time

	used      map[[32]byte]bool // credentials with a counted ballot
	tracking  map[string]tui.Tracking
	committed map[[32]byte]uint64
	pending   [][]byte
	waiters   map[[32]byte][]chan error
	subs      []chan tui.Event
	results   *tui.Results
}

// New returns a station of genesis g at index station, in phase OPEN when
// key (the election key) is given and SETUP otherwise. A nil roll makes
// every credential eligible.
func New(g *genesis.Genesis, station int, key []byte, roll *ballot.Roll) (*Fake, error) {
	f := &Fake{station: station, ledger: &ledger{
		g:         g,
		roll:      roll,
		clock:     time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		used:      map[[32]byte]bool{},
		tracking:  map[string]tui.Tracking{},
		committed: map[[32]byte]uint64{},
		waiters:   map[[32]byte][]chan error{},
	}}
	f.st = tui.Status{Station: station, Phase: chain.PhaseSetup, Turnout: make([]uint64, g.N())}
	for i := range g.N() {
		if i != station {
			f.st.Peers = append(f.st.Peers, i)
		}
	}
	if key != nil {
		e, err := ballot.NewElection(g.Manifest(), key)
		if err != nil {
			return nil, fmt.Errorf("tuitest: %w", err)
		}
		f.key, f.election = key, e
		f.st.Phase, f.st.KeyReady = chain.PhaseOpen, true
	}
	return f, nil
}

// At returns station i of the same election: another connection to the
// same chain, with its own knobs (a test makes one station Down and the
// terminal retry at another).
func (f *Fake) At(i int) *Fake { return &Fake{ledger: f.ledger, station: i} }

// Lock and Unlock guard the knobs while a program runs.
func (f *Fake) Lock()   { f.mu.Lock() }
func (f *Fake) Unlock() { f.mu.Unlock() }

// SetPhase moves the election to phase p.
func (f *Fake) SetPhase(p chain.Phase) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Phase = p
}

// SetPeers sets the stations this one is connected to.
func (f *Fake) SetPeers(peers ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Peers = peers
}

// SetMempool sets the mempool size reported.
func (f *Fake) SetMempool(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Mempool = n
}

// AddTurnout counts n ballots cast at station i (without ballots).
func (f *Fake) AddTurnout(i int, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Turnout[i] += n
	f.st.Counted += n
}

// SetResults publishes a tally and moves to TALLIED.
func (f *Fake) SetResults(counts [][]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Phase = chain.PhaseTallied
	f.results = &tui.Results{Height: f.st.Height, Counts: counts}
}

// Clock is the time of the last block the Fake made.
func (f *Fake) Clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// Tracked returns what the chain holds for a tracking code.
func (f *Fake) Tracked(code string) tui.Tracking {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tracking[code]
}

func (f *Fake) down() error {
	if f.Down {
		return fmt.Errorf("tuitest: %w", tui.ErrUnreachable)
	}
	return nil
}

// Status implements tui.Node.
func (f *Fake) Status(ctx context.Context) (tui.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return tui.Status{}, err
	}
	st := f.st
	st.Station = f.station
	st.Peers = slices.Clone(f.st.Peers)
	st.Turnout = slices.Clone(f.st.Turnout)
	st.OpenApprovals = slices.Clone(f.st.OpenApprovals)
	st.CloseApprovals = slices.Clone(f.st.CloseApprovals)
	return st, nil
}

// ElectionKey implements tui.Node.
func (f *Fake) ElectionKey(ctx context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.Down:
		return nil, f.down()
	case f.KeyErr != nil:
		return nil, f.KeyErr
	case f.key == nil:
		return nil, tui.ErrKeyNotReady
	}
	return slices.Clone(f.key), nil
}

func reject(rule tui.Rule, format string, args ...any) error {
	return &tui.Rejection{Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// Submit implements tui.Node with the rules a terminal can break.
func (f *Fake) Submit(ctx context.Context, raw []byte) (tui.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return tui.Receipt{}, err
	}
	if r := f.Reject; r != nil {
		f.Reject = nil
		return tui.Receipt{}, r
	}
	tx, err := chain.DecodeTx(raw)
	if err != nil {
		return tui.Receipt{}, reject(tui.RuleOf(chain.ErrTxEncoding), "%v", err)
	}
	r := tui.Receipt{Hash: tx.Hash()}
	if h, ok := f.committed[r.Hash]; ok {
		r.Committed, r.Height = true, h
		return r, nil
	}
	for _, p := range f.pending {
		if string(p) == string(raw) {
			return r, nil
		}
	}
	if err := f.check(tx); err != nil {
		return tui.Receipt{}, err
	}
	f.pending = append(f.pending, slices.Clone(raw))
	f.Submitted = append(f.Submitted, slices.Clone(raw))
	return r, nil
}

// check applies the election's rules to a transaction against the
// committed state and the pending ones.
func (f *Fake) check(tx *chain.Tx) error {
	switch tx.Kind {
	case chain.TxBallot:
		if f.st.Phase != chain.PhaseOpen {
			return reject(tui.RuleWrongPhase, "%s", f.st.Phase)
		}
		b, err := ballot.DecodeBallot(tx.Payload)
		if err != nil {
			return reject(tui.RuleOf(chain.ErrBadPayload), "%v", err)
		}
		if err := f.election.VerifyBallot(b); err != nil {
			return reject(tui.RuleBadBallot, "%v", err)
		}
		if f.roll != nil && !f.roll.Contains(b.Credential[:]) {
			return reject(tui.RuleIneligible, "credential is not on the roll")
		}
		if f.used[b.Credential] {
			return reject(tui.RuleAlreadyVoted, "credential has voted")
		}
		if t, ok := f.tracking[b.TrackingCode()]; ok && t.Status == chain.StatusChallenged {
			return reject(tui.RuleBallotChallenged, "%s", b.TrackingCode())
		}
		for _, p := range f.pending {
			if ptx, _ := chain.DecodeTx(p); ptx != nil && ptx.Kind == chain.TxBallot {
				if pb, _ := ballot.DecodeBallot(ptx.Payload); pb != nil && pb.Credential == b.Credential {
					return reject(tui.RulePendingVoter, "another ballot of this credential is waiting")
				}
			}
		}
	case chain.TxSpoiled:
		if f.st.Phase != chain.PhaseOpen {
			return reject(tui.RuleWrongPhase, "%s", f.st.Phase)
		}
		sp, err := ballot.DecodeSpoiledBallot(tx.Payload)
		if err != nil {
			return reject(tui.RuleOf(chain.ErrBadPayload), "%v", err)
		}
		if _, err := f.election.VerifySpoiled(sp); err != nil {
			return reject(tui.RuleBadBallot, "%v", err)
		}
		if t, ok := f.tracking[sp.Ballot.TrackingCode()]; ok && t.Status == chain.StatusCast {
			return reject(tui.RuleBallotCast, "%s", sp.Ballot.TrackingCode())
		}
	case chain.TxApproval:
		off, ok := f.g.OfficialByKey(tx.Signer)
		if !ok {
			return reject(tui.RuleNotOfficial, "signer is not an official")
		}
		if !ed25519.Verify(tx.Signer, tx.SigningBytes(), tx.Signature) {
			return reject(tui.RuleBadSignature, "approval signature")
		}
		a, err := chain.DecodeApproval(tx.Payload)
		if err != nil {
			return reject(tui.RuleOf(chain.ErrBadPayload), "%v", err)
		}
		list, want := &f.st.OpenApprovals, chain.PhaseReady
		if a.Action == chain.ActionClose {
			list, want = &f.st.CloseApprovals, chain.PhaseOpen
		}
		if f.st.Phase != want {
			return reject(tui.RuleWrongPhase, "%s, needs %s", f.st.Phase, want)
		}
		if slices.Contains(*list, off) {
			return reject(tui.RuleDuplicate, "official %d has approved %s", off, a.Action)
		}
	default:
		return reject(tui.RuleOf(chain.ErrUnknownKind), "kind %s", tx.Kind)
	}
	return nil
}

// Commit writes the pending transactions in a new block.
func (f *Fake) Commit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commitLocked()
}

func (f *Fake) commitLocked() {
	f.st.Height++
	f.clock = f.clock.Add(time.Second)
	f.st.LastBlock = f.clock
	h := f.st.Height
	for _, raw := range f.pending {
		tx, _ := chain.DecodeTx(raw)
		hash := tx.Hash()
		f.committed[hash] = h
		switch tx.Kind {
		case chain.TxBallot:
			b, _ := ballot.DecodeBallot(tx.Payload)
			f.used[b.Credential] = true
			f.tracking[b.TrackingCode()] = tui.Tracking{Status: chain.StatusCast, Height: h}
			f.st.Counted++
			if i, ok := f.g.StationIndex(b.Station); ok {
				f.st.Turnout[i]++
			}
		case chain.TxSpoiled:
			sp, _ := ballot.DecodeSpoiledBallot(tx.Payload)
			f.tracking[sp.Ballot.TrackingCode()] = tui.Tracking{Status: chain.StatusChallenged, Height: h}
			f.st.Spoiled++
		case chain.TxApproval:
			off, _ := f.g.OfficialByKey(tx.Signer)
			a, _ := chain.DecodeApproval(tx.Payload)
			if a.Action == chain.ActionOpen {
				f.st.OpenApprovals = append(f.st.OpenApprovals, off)
				if len(f.st.OpenApprovals) >= f.g.OpenQuorum() {
					f.st.Phase = chain.PhaseOpen
				}
			} else {
				f.st.CloseApprovals = append(f.st.CloseApprovals, off)
				if len(f.st.CloseApprovals) >= f.g.CloseQuorum() {
					f.st.Phase = chain.PhaseClosed
				}
			}
		}
		for _, w := range f.waiters[hash] {
			w <- nil
		}
		delete(f.waiters, hash)
	}
	n := len(f.pending)
	f.pending = nil
	ev := tui.Event{Height: h, Phase: f.st.Phase, Txs: n, Counted: f.st.Counted}
	for _, s := range f.subs {
		select {
		case s <- ev:
		default: // a slow reader misses events, as on a real connection
		}
	}
}

// WaitCommitted implements tui.Node.
func (f *Fake) WaitCommitted(ctx context.Context, hash [32]byte) (uint64, error) {
	f.mu.Lock()
	if err := f.down(); err != nil {
		f.mu.Unlock()
		return 0, err
	}
	if err := f.Drop; err != nil {
		f.Drop = nil
		f.pending = nil
		f.mu.Unlock()
		return 0, err
	}
	if !f.Hold {
		if _, ok := f.committed[hash]; !ok {
			f.commitLocked()
		}
	}
	if h, ok := f.committed[hash]; ok {
		f.mu.Unlock()
		return h, nil
	}
	w := make(chan error, 1)
	f.waiters[hash] = append(f.waiters[hash], w)
	f.mu.Unlock()
	select {
	case err := <-w:
		if err != nil {
			return 0, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.committed[hash], nil
	case <-ctx.Done():
		return 0, fmt.Errorf("tuitest: waiting for a block: %w: %w", tui.ErrUnreachable, ctx.Err())
	}
}

// Tracking implements tui.Node.
func (f *Fake) Tracking(ctx context.Context, code string) (tui.Tracking, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return tui.Tracking{}, err
	}
	return f.tracking[code], nil
}

// Events implements tui.Node.
func (f *Fake) Events(ctx context.Context) (<-chan tui.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return nil, err
	}
	if f.NoEvents {
		return nil, fmt.Errorf("tuitest: %w: no event stream", tui.ErrUnreachable)
	}
	ch := make(chan tui.Event, 16)
	f.subs = append(f.subs, ch)
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.subs = slices.DeleteFunc(f.subs, func(c chan tui.Event) bool { return c == ch })
		close(ch)
	}()
	return ch, nil
}

// Results implements tui.Node.
func (f *Fake) Results(ctx context.Context) (tui.Results, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return tui.Results{}, err
	}
	if f.results == nil {
		return tui.Results{}, tui.ErrNotTallied
	}
	return *f.results, nil
}

// Close implements tui.Node.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Closed = true
	return nil
}

var _ tui.Node = (*Fake)(nil)
