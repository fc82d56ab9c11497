package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/bits"
	"sort"
	"sync"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
)

// Machine is the election's state machine for one genesis. It holds only
// what the genesis fixes (stations, officials, roll, rules) and caches; the
// state itself is passed in and returned, never kept.
type Machine struct {
	g        *genesis.Genesis
	fp       [32]byte
	n, t     int
	stations []ed25519.PublicKey
	vals     *bft.ValidatorSet
	roll     *ballot.Roll
	manifest ballot.Manifest
	params   genesis.Params

	cache *VerifiedCache

	mu        sync.Mutex // guards elections: the mempool asks concurrently
	elections map[[ballot.PointSize]byte]*ballot.Election
}

// NewMachine builds the state machine of an election from its genesis and
// its voter roll (which must match the genesis: genesis.LoadRoll checks it).
func NewMachine(g *genesis.Genesis, roll *ballot.Roll) (*Machine, error) {
	if roll.Hash() != g.RollHash() || roll.ElectionID != g.ElectionID() {
		return nil, fmt.Errorf("%w: the voter roll does not match the genesis", ErrMachineConfig)
	}
	stations := g.StationKeys()
	vals, err := bft.NewValidatorSet(stations)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMachineConfig, err)
	}
	if len(stations) > 64 || len(g.Officials()) > 64 {
		return nil, fmt.Errorf("%w: at most 64 stations and 64 officials", ErrMachineConfig)
	}
	if err := ballot.CheckThreshold(len(stations), g.Threshold()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMachineConfig, err)
	}
	m := &Machine{
		g: g, fp: g.Fingerprint(), n: len(stations), t: g.Threshold(),
		stations: stations, vals: vals, roll: roll,
		manifest: g.Manifest(), params: g.Params(),
		cache:     NewVerifiedCache(1 << 16),
		elections: map[[ballot.PointSize]byte]*ballot.Election{},
	}
	if err := m.manifest.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMachineConfig, err)
	}
	return m, nil
}

// Genesis is the genesis the machine was built from.
func (m *Machine) Genesis() *genesis.Genesis { return m.g }

// Validators is the consensus validator set: the stations in genesis order.
func (m *Machine) Validators() *bft.ValidatorSet { return m.vals }

// Roll is the voter roll.
func (m *Machine) Roll() *ballot.Roll { return m.roll }

// Cache is the cache of verified ballots, which the mempool fills so that a
// block's validation does not verify a ballot again.
func (m *Machine) Cache() *VerifiedCache { return m.cache }

// InitialState is the state before block 1.
func (m *Machine) InitialState() *State { return initialState(m.fp, m.n, &m.manifest) }

// Election returns the ballot-level election once the state has a key.
func (m *Machine) Election(st *State) (*ballot.Election, error) {
	if st.Key == nil {
		return nil, ErrUnknownElection
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.elections[st.Key.Key]; ok {
		return e, nil
	}
	e, err := ballot.NewElection(m.manifest, st.Key.Key[:])
	if err != nil {
		return nil, err
	}
	m.elections[st.Key.Key] = e
	return e, nil
}

// Applied is the outcome of applying a block.
type Applied struct {
	State  *State
	Writes []KV // state key/value writes, sorted by key
	Index  []KV // secondary index writes (transaction locations), sorted by key
	Hash   [32]byte
	Block  *Block
	Txs    []*Tx // the decoded transactions, in block order
}

// Validate checks a block against a state without changing anything. It is
// Apply with the result thrown away; callers that go on to commit the block
// should call Apply once instead.
func (m *Machine) Validate(st *State, kv Reader, data []byte) error {
	_, err := m.Apply(st, kv, data)
	return err
}

// Apply checks a block (its canonical bytes) against a state and returns the
// state after it. A block with one invalid transaction is invalid as a
// whole: the error names the transaction and the rule (a *TxError).
func (m *Machine) Apply(st *State, kv Reader, data []byte) (*Applied, error) {
	b, err := DecodeBlock(data, m.params.MaxBlockBytes)
	if err != nil {
		return nil, err
	}
	hash := bft.HashValue(data)
	if err := m.checkHeader(st, b); err != nil {
		return nil, fmt.Errorf("block %d: %w", b.Header.Height, err)
	}
	a := &applier{m: m, st: st.clone(), kv: kv, overlay: map[string][]byte{}, block: b}
	a.st.Height = b.Header.Height
	a.st.BlockHash = hash
	a.st.Time = b.Header.Time
	if err := a.run(); err != nil {
		return nil, fmt.Errorf("block %d: %w", b.Header.Height, err)
	}
	writes := a.sortedWrites()
	a.st.StateHash = nextStateHash(st.StateHash, a.st, writes)
	return &Applied{State: a.st, Writes: writes, Index: a.index, Hash: hash, Block: b, Txs: a.txs}, nil
}

// CheckTx checks one transaction (its canonical bytes) against a state as if
// it were the only transaction of the next block: what a mempool runs when a
// transaction arrives. It returns the decoded transaction, or the rule it
// breaks (a *TxError).
func (m *Machine) CheckTx(st *State, kv Reader, raw []byte) (*Tx, error) {
	tx, err := DecodeTx(raw)
	if err != nil {
		return nil, &TxError{Index: 0, Hash: bft.HashValue(raw), Err: err}
	}
	var b *ballot.Ballot
	var berr error
	if tx.Kind == TxBallot {
		b, berr = ballot.DecodeBallot(tx.Payload)
	}
	return m.CheckDecodedTx(st, kv, raw, tx, b, berr)
}

// CheckDecodedTx is CheckTx for a caller that has decoded the transaction
// already: tx must be DecodeTx(raw) and, for a ballot, b and berr what
// ballot.DecodeBallot(tx.Payload) returned. A mempool decodes each arrival
// once to find its hash and credential; this spares it a second decoding.
func (m *Machine) CheckDecodedTx(st *State, kv Reader, raw []byte, tx *Tx, b *ballot.Ballot, berr error) (*Tx, error) {
	a := &applier{m: m, st: st.clone(), kv: kv, overlay: map[string][]byte{}, block: &Block{Txs: [][]byte{raw}}, checkOnly: true}
	a.st.Height = st.Height + 1
	a.txs = []*Tx{tx}
	if tx.Kind == TxBallot {
		// The ciphertexts' points are not decoded: a check does not count
		// the ballot, and its verification decodes them (and refuses the
		// ballot if one is not a point).
		d := &ballot.DecodedBallot{Ballot: b, Err: berr}
		if berr == nil {
			d.Hash = sha256.Sum256(tx.Payload)
		}
		a.ballots = map[int]*ballot.DecodedBallot{0: d}
	}
	if err := a.apply(0, tx); err != nil {
		return tx, &TxError{Index: 0, Hash: bft.HashValue(raw), Kind: tx.Kind, Err: err}
	}
	return tx, nil
}

func (m *Machine) checkHeader(st *State, b *Block) error {
	h := &b.Header
	switch {
	case h.Election != m.fp:
		return fmt.Errorf("%w: fingerprint %x…", ErrWrongChain, h.Election[:4])
	case h.Height != st.Height+1:
		return fmt.Errorf("%w: %d after %d", ErrBadHeight, h.Height, st.Height)
	case h.PrevHash != st.BlockHash:
		return fmt.Errorf("%w: previous %x…, head %x…", ErrBadPrevHash, h.PrevHash[:4], st.BlockHash[:4])
	case h.StateHash != st.StateHash:
		return fmt.Errorf("%w: %x…, state %x…", ErrBadStateHash, h.StateHash[:4], st.StateHash[:4])
	case int(h.Proposer) >= m.n:
		return fmt.Errorf("%w: %d", ErrBadProposer, h.Proposer)
	case h.Time <= st.Time:
		return fmt.Errorf("%w: %d after %d", ErrBadTime, h.Time, st.Time)
	case len(b.Txs) > m.params.MaxBlockTxs:
		return fmt.Errorf("%w: %d transactions, at most %d", ErrBlockTooLarge, len(b.Txs), m.params.MaxBlockTxs)
	}
	size := 0
	for _, tx := range b.Txs {
		size += len(tx)
	}
	if size > m.params.MaxBlockBytes {
		return fmt.Errorf("%w: %d bytes of transactions, at most %d", ErrBlockTooLarge, size, m.params.MaxBlockBytes)
	}
	if h.Height == 1 {
		if b.LastCommit != nil {
			return fmt.Errorf("%w: block 1 has no previous block", ErrBadLastCommit)
		}
		return nil
	}
	c := b.LastCommit
	if c == nil {
		return fmt.Errorf("%w: missing", ErrBadLastCommit)
	}
	if c.Height != st.Height || [32]byte(c.BlockHash) != st.BlockHash {
		return fmt.Errorf("%w: certifies height %d %x…, want %d %x…", ErrBadLastCommit, c.Height, c.BlockHash[:4], st.Height, st.BlockHash[:4])
	}
	if err := c.Verify(bft.Hash(m.fp), m.vals); err != nil {
		return fmt.Errorf("%w: %w", ErrBadLastCommit, err)
	}
	return nil
}

// applier carries one block's application: the state being built and the
// writes made so far, which later transactions of the block see.
type applier struct {
	m       *Machine
	st      *State
	kv      Reader
	overlay map[string][]byte
	index   []KV
	block   *Block
	txs     []*Tx
	// ballots[i] is transaction i decoded as a ballot, with its hash
	ballots map[int]*ballot.DecodedBallot
	// verified holds the outcome of the batch check of this block's ballots
	verified map[[32]byte]error
	// acc holds the aggregates while ballots are added; flushAggregates
	// writes them back to the state
	acc [][]*ballot.Accumulator
	// checkOnly: a mempool's check of one transaction (CheckTx), whose
	// state is thrown away: ballots are judged but not counted
	checkOnly bool
}

func (a *applier) get(k []byte) ([]byte, bool, error) {
	if v, ok := a.overlay[string(k)]; ok {
		return v, v != nil, nil
	}
	v, ok, err := a.kv.Get(k)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrStateRead, err)
	}
	return v, ok, nil
}

func (a *applier) put(k, v []byte) { a.overlay[string(k)] = v }

func (a *applier) sortedWrites() []KV {
	keys := make([]string, 0, len(a.overlay))
	for k := range a.overlay {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]KV, len(keys))
	for i, k := range keys {
		out[i] = KV{Key: []byte(k), Value: a.overlay[k]}
	}
	return out
}

// decodeTxs decodes every transaction envelope of the block, and every
// ballot once (on every core: ballot.DecodeBallotsKnown), taking the
// ballots and ciphertexts that admission decoded from the cache.
func (a *applier) decodeTxs() error {
	a.txs = make([]*Tx, len(a.block.Txs))
	var payloads [][]byte
	var at []int
	for i, raw := range a.block.Txs {
		tx, err := DecodeTx(raw)
		if err != nil {
			return &TxError{Index: i, Hash: bft.HashValue(raw), Err: err}
		}
		a.txs[i] = tx
		if tx.Kind == TxBallot {
			payloads = append(payloads, tx.Payload)
			at = append(at, i)
		}
	}
	if len(payloads) > 0 {
		a.ballots = make(map[int]*ballot.DecodedBallot, len(payloads))
		decoded := ballot.DecodeBallotsKnown(payloads, a.m.cache.Decoded)
		for k, i := range at {
			a.ballots[i] = &decoded[k]
		}
	}
	return nil
}

func (a *applier) run() error {
	if err := a.decodeTxs(); err != nil {
		return err
	}
	a.batchVerify()
	for i, tx := range a.txs {
		hash := bft.HashValue(a.block.Txs[i])
		if err := a.apply(i, tx); err != nil {
			return &TxError{Index: i, Hash: hash, Kind: tx.Kind, Err: err}
		}
		a.index = append(a.index, KV{Key: TxIndexKey(hash), Value: ballot.Marshal(&TxLocation{Height: a.st.Height, Position: uint32(i)})})
	}
	a.flushAggregates()
	sort.Slice(a.index, func(i, j int) bool { return bytes.Compare(a.index[i].Key, a.index[j].Key) < 0 })
	for i := 1; i < len(a.index); i++ {
		if bytes.Equal(a.index[i].Key, a.index[i-1].Key) {
			return fmt.Errorf("%w: the same transaction twice in one block", ErrDuplicate)
		}
	}
	return nil
}

// batchVerify checks the cryptography of every ballot in the block that the
// cache does not vouch for, in one batch over every core
// (ballot.Election.VerifyDecodedBallots), when the election key is already
// known. The verdicts wait in a.verified for the rules, which apply them in
// block order.
func (a *applier) batchVerify() {
	e, err := a.m.Election(a.st)
	if err != nil {
		return
	}
	var todo []*ballot.DecodedBallot
	for i := range a.txs {
		d, ok := a.ballots[i]
		if !ok || d.Err != nil || a.m.cache.Contains(e, d.Hash) {
			continue // not a ballot, malformed (the rules report it), or known good
		}
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		return
	}
	a.verified = make(map[[32]byte]error, len(todo))
	for i, err := range e.VerifyDecodedBallots(todo) {
		a.verified[todo[i].Hash] = err
		if err == nil {
			a.m.cache.Add(e, todo[i].Hash)
		}
	}
}

// PreverifyBlocks checks, in one batch spread over every core, the
// cryptography of all the ballots in blocks that are about to be applied in
// order after st: a block sync, a replay, an audit of a whole record
// (ballot.Election.VerifyBallots). The ballots that verify are remembered in
// the machine's cache, so that applying the blocks does not verify them
// again. It decides nothing: a block is valid only if Apply says so, and a
// ballot that fails here is verified again, and reported with its rule, by
// Apply. Blocks that do not decode are skipped, and so is everything while
// the election key is not known in st (no ballot can precede it). Keep the
// blocks' ballots within the cache's capacity (Cache().Capacity()), or the
// first ones are forgotten before they are applied. It returns how many
// ballots it checked and how many of them failed.
func (m *Machine) PreverifyBlocks(st *State, blocks [][]byte) (checked, failed int) {
	e, err := m.Election(st)
	if err != nil {
		return 0, 0
	}
	var todo []*ballot.Ballot
	var hashes [][32]byte
	for _, data := range blocks {
		b, err := DecodeBlock(data, m.params.MaxBlockBytes)
		if err != nil {
			continue
		}
		for _, raw := range b.Txs {
			tx, err := DecodeTx(raw)
			if err != nil || tx.Kind != TxBallot {
				continue
			}
			h := sha256.Sum256(tx.Payload) // the ballot hash, if the payload decodes
			if m.cache.Contains(e, h) {
				continue
			}
			bl, err := ballot.DecodeBallot(tx.Payload)
			if err != nil {
				continue
			}
			todo = append(todo, bl)
			hashes = append(hashes, h)
		}
	}
	for i, err := range e.VerifyBallots(todo) {
		if err != nil {
			failed++
			continue
		}
		m.cache.Add(e, hashes[i])
	}
	return len(todo), failed
}

func (a *applier) apply(i int, tx *Tx) error {
	if tx.Election != a.m.fp {
		return fmt.Errorf("%w: fingerprint %x…", ErrWrongElection, tx.Election[:4])
	}
	if err := a.checkEnvelope(tx); err != nil {
		return err
	}
	switch tx.Kind {
	case TxDKGDeal:
		return a.dkgDeal(tx)
	case TxDKGResponse:
		return a.dkgResponse(tx)
	case TxDKGJustification:
		return a.dkgJustification(tx)
	case TxKeyAnnouncement:
		return a.keyAnnouncement(tx)
	case TxApproval:
		return a.approval(tx)
	case TxBallot:
		return a.castBallot(i, tx)
	case TxSpoiled:
		return a.spoiledBallot(i, tx)
	case TxTallyShares:
		return a.tallyShares(tx)
	case TxEvidence:
		return a.evidence(tx)
	}
	return fmt.Errorf("%w: %d", ErrUnknownKind, tx.Kind)
}

// checkEnvelope verifies who signed the envelope, for the kinds that are
// signed by a station or an official.
func (a *applier) checkEnvelope(tx *Tx) error {
	if tx.Kind < TxDKGDeal || tx.Kind > TxEvidence {
		return fmt.Errorf("%w: %d", ErrUnknownKind, tx.Kind)
	}
	if tx.Kind.signedBy() == roleNone {
		if len(tx.Signer) != 0 || len(tx.Signature) != 0 {
			return ErrNeedlessSigner
		}
		return nil
	}
	if len(tx.Signer) != ed25519.PublicKeySize || len(tx.Signature) != ed25519.SignatureSize {
		return ErrUnsignedTx
	}
	if !ed25519.Verify(tx.Signer, tx.SigningBytes(), tx.Signature) {
		return ErrBadTxSignature
	}
	return nil
}

// requireStation checks that the envelope's signer is station idx.
func (a *applier) requireStation(tx *Tx, idx uint32) error {
	if int(idx) >= a.m.n {
		return fmt.Errorf("%w: station %d does not exist", ErrNotStation, idx)
	}
	if !bytes.Equal(tx.Signer, a.m.stations[idx]) {
		return fmt.Errorf("%w: signed by %x…, station %d is %x…", ErrNotStation, tx.Signer[:4], idx, a.m.stations[idx][:4])
	}
	return nil
}

func (a *applier) requirePhase(want Phase) error {
	if a.st.Phase != want {
		return fmt.Errorf("%w: %s, needs %s", ErrWrongPhase, a.st.Phase, want)
	}
	return nil
}

func (a *applier) requireDKGOpen() error {
	if err := a.requirePhase(PhaseSetup); err != nil {
		return err
	}
	if a.st.Height > uint64(a.m.params.DKGDeadlineHeight) {
		return fmt.Errorf("%w: height %d, deadline %d", ErrDKGClosed, a.st.Height, a.m.params.DKGDeadlineHeight)
	}
	return nil
}

func bit(set uint64, i uint32) bool { return set&(1<<i) != 0 }

func (a *applier) dkgDeal(tx *Tx) error {
	if err := a.requireDKGOpen(); err != nil {
		return err
	}
	m, err := ballot.DecodeDealBundle(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if err := a.requireStation(tx, m.Dealer); err != nil {
		return err
	}
	if bit(a.st.Dealt, m.Dealer) {
		return fmt.Errorf("%w: station %d has dealt", ErrDuplicate, m.Dealer)
	}
	if err := m.Check(a.m.n); err != nil {
		return fmt.Errorf("%w: %w", ErrBadDKGMessage, err)
	}
	a.st.Dealt |= 1 << m.Dealer
	return nil
}

func (a *applier) dkgResponse(tx *Tx) error {
	if err := a.requireDKGOpen(); err != nil {
		return err
	}
	m, err := ballot.DecodeResponseBundle(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if err := a.requireStation(tx, m.Responder); err != nil {
		return err
	}
	if err := m.Check(a.m.n); err != nil {
		return fmt.Errorf("%w: %w", ErrBadDKGMessage, err)
	}
	r := m.Responder
	for _, resp := range m.Responses {
		d := resp.Dealer
		if !bit(a.st.Dealt, d) {
			return fmt.Errorf("%w: station %d answers dealer %d", ErrNoDeal, r, d)
		}
		if bit(a.st.Responded[r], d) {
			return fmt.Errorf("%w: station %d has answered dealer %d", ErrDuplicate, r, d)
		}
		a.st.Responded[r] |= 1 << d
		if !resp.Approved {
			a.st.Complained[r] |= 1 << d
		}
	}
	return nil
}

func (a *applier) dkgJustification(tx *Tx) error {
	if err := a.requireDKGOpen(); err != nil {
		return err
	}
	m, err := ballot.DecodeJustificationBundle(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if err := a.requireStation(tx, m.Dealer); err != nil {
		return err
	}
	if err := m.Check(a.m.n, a.m.t); err != nil {
		return fmt.Errorf("%w: %w", ErrBadDKGMessage, err)
	}
	d := m.Dealer
	for _, j := range m.Justifications {
		if !bit(a.st.Complained[j.Recipient], d) {
			return fmt.Errorf("%w: station %d did not complain about dealer %d", ErrNoComplaint, j.Recipient, d)
		}
		if bit(a.st.Justified[d], j.Recipient) {
			return fmt.Errorf("%w: dealer %d has justified station %d", ErrDuplicate, d, j.Recipient)
		}
		a.st.Justified[d] |= 1 << j.Recipient
	}
	return nil
}

func (a *applier) keyAnnouncement(tx *Tx) error {
	// Announcements that come after the quorum (READY) are still recorded:
	// they show auditors how many stations agree on the key.
	if a.st.Phase != PhaseSetup && a.st.Phase != PhaseReady {
		return fmt.Errorf("%w: %s, needs SETUP or READY", ErrWrongPhase, a.st.Phase)
	}
	m, err := ballot.DecodeKeyAnnouncement(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if err := a.requireStation(tx, m.Station); err != nil {
		return err
	}
	if bit(a.st.Announced, m.Station) {
		return fmt.Errorf("%w: station %d has announced", ErrDuplicate, m.Station)
	}
	if err := m.Check(a.m.n, a.m.t); err != nil {
		return fmt.Errorf("%w: %w", ErrBadDKGMessage, err)
	}
	a.put(key(prefixAnnouncement, u32(m.Station)), tx.Payload)
	a.st.Announced |= 1 << m.Station
	// Count the stations that announced the same result.
	same := 0
	for s := range uint32(a.m.n) {
		if !bit(a.st.Announced, s) {
			continue
		}
		raw, ok, err := a.get(key(prefixAnnouncement, u32(s)))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("chain: announcement of station %d missing from the state", s)
		}
		other, err := ballot.DecodeKeyAnnouncement(raw)
		if err != nil {
			return fmt.Errorf("chain: stored announcement of station %d: %w", s, err)
		}
		if other.SameResult(m) {
			same++
		}
	}
	if a.st.Phase == PhaseSetup && same >= a.m.vals.Quorum() {
		a.st.Key = m
		a.st.Phase = PhaseReady
		a.st.ReadyHeight = a.st.Height
	}
	return nil
}

func (a *applier) approval(tx *Tx) error {
	off, ok := a.m.g.OfficialByKey(tx.Signer)
	if !ok {
		return fmt.Errorf("%w: %x…", ErrNotOfficial, tx.Signer[:4])
	}
	ap, err := DecodeApproval(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	var set *uint64
	var quorum int
	var next Phase
	var at *uint64
	switch ap.Action {
	case ActionOpen:
		if err := a.requirePhase(PhaseReady); err != nil {
			return err
		}
		set, quorum, next, at = &a.st.OpenApprovals, a.m.g.OpenQuorum(), PhaseOpen, &a.st.OpenHeight
	case ActionClose:
		if err := a.requirePhase(PhaseOpen); err != nil {
			return err
		}
		set, quorum, next, at = &a.st.CloseApprovals, a.m.g.CloseQuorum(), PhaseClosed, &a.st.CloseHeight
	default:
		return fmt.Errorf("%w: %d", ErrBadApproval, ap.Action)
	}
	if bit(*set, uint32(off)) {
		return fmt.Errorf("%w: official %d has approved %s", ErrDuplicate, off, ap.Action)
	}
	*set |= 1 << uint(off)
	if bits.OnesCount64(*set) >= quorum {
		a.st.Phase = next
		*at = a.st.Height
	}
	return nil
}

// ballotChecks are the rules a cast and a challenged ballot share: phase,
// station, eligibility, and the ballot's place in the tracking index. It
// returns the tracking key and the existing entry, if any.
func (a *applier) ballotChecks(b *ballot.Ballot, h [32]byte, txElection [32]byte) ([]byte, *TrackingEntry, error) {
	if err := a.requirePhase(PhaseOpen); err != nil {
		return nil, nil, err
	}
	if b.Election != txElection {
		return nil, nil, fmt.Errorf("%w: the ballot names another election than its envelope", ErrWrongElection)
	}
	if _, ok := a.m.g.StationIndex(b.Station); !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownStation, b.Station)
	}
	if !a.m.roll.Contains(b.Credential[:]) {
		return nil, nil, fmt.Errorf("%w: %x…", ErrIneligible, b.Credential[:4])
	}
	tk := trackingKeyOf(h)
	raw, ok, err := a.get(tk)
	if err != nil || !ok {
		return tk, nil, err
	}
	entry, err := DecodeTrackingEntry(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("chain: stored tracking entry: %w", err)
	}
	if entry.BallotHash != h {
		return nil, nil, fmt.Errorf("%w: %s", ErrTrackingClash, b.TrackingCode())
	}
	return tk, entry, nil
}

func (a *applier) castBallot(i int, tx *Tx) error {
	d := a.ballots[i]
	if d.Err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, d.Err)
	}
	b, h := d.Ballot, d.Hash
	tk, entry, err := a.ballotChecks(b, h, tx.Election)
	if err != nil {
		return err
	}
	if entry != nil {
		if entry.Status == StatusChallenged {
			return fmt.Errorf("%w: %s", ErrBallotChallenged, b.TrackingCode())
		}
		return fmt.Errorf("%w: ballot %s", ErrDuplicate, b.TrackingCode())
	}
	ck := key(prefixCredential, b.Credential[:])
	prev, used, err := a.get(ck)
	if err != nil {
		return err
	}
	if used {
		return fmt.Errorf("%w: earlier ballot %s", ErrAlreadyVoted, ballot.TrackingCodeOf([32]byte(prev)))
	}
	if err := a.claimCiphertexts(b, h); err != nil {
		return err
	}
	e, err := a.m.Election(a.st)
	if err != nil {
		return err
	}
	if err := a.verifyBallot(e, b, h); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBallot, err)
	}
	if a.checkOnly {
		return nil // judged; counting it is the block's business
	}
	// Count it.
	if err := a.loadAggregates(); err != nil {
		return err
	}
	if d.Ciphertexts == nil {
		return fmt.Errorf("%w: a ciphertext is not a curve point", ErrBadBallot) // a verified ballot's always are
	}
	for ci := range d.Ciphertexts {
		for si := range d.Ciphertexts[ci] {
			a.acc[ci][si].AddDecoded(&d.Ciphertexts[ci][si])
		}
	}
	station, _ := a.m.g.StationIndex(b.Station)
	a.st.Counted++
	a.st.Turnout[station]++
	a.put(ck, h[:])
	a.put(tk, ballot.Marshal(&TrackingEntry{BallotHash: h, Height: a.st.Height, Position: uint32(i), Status: StatusCast}))
	return nil
}

// claimCiphertexts records every ciphertext of a ballot (by its α = r·G) as
// taken by that ballot, and refuses the ballot if one already is: no
// ciphertext is on the chain twice. A voter cannot cast a copy of another
// voter's encrypted choices (whose proofs, bound to the other credential,
// would not verify anyway) nor publish a cast ballot's ciphertexts again in
// a challenged one. The writes vanish with the transaction if it fails.
func (a *applier) claimCiphertexts(b *ballot.Ballot, h [32]byte) error {
	for ci := range b.Contests {
		for si := range b.Contests[ci].Selections {
			ck := key(prefixCiphertext, b.Contests[ci].Selections[si].Ciphertext.Alpha[:])
			prev, taken, err := a.get(ck)
			if err != nil {
				return err
			}
			if taken {
				if len(prev) != 32 {
					return fmt.Errorf("chain: stored ciphertext entry has %d bytes", len(prev))
				}
				return fmt.Errorf("%w: contest %q selection %d is in ballot %s", ErrCiphertextReused, b.Contests[ci].Contest, si, ballot.TrackingCodeOf([32]byte(prev)))
			}
			a.put(ck, h[:])
		}
	}
	return nil
}

// loadAggregates decodes the state's aggregates once per block.
func (a *applier) loadAggregates() error {
	if a.acc != nil {
		return nil
	}
	a.acc = make([][]*ballot.Accumulator, len(a.st.Aggregates))
	for ci := range a.st.Aggregates {
		a.acc[ci] = make([]*ballot.Accumulator, len(a.st.Aggregates[ci]))
		for si, ct := range a.st.Aggregates[ci] {
			acc, err := ballot.AccumulatorFrom(ct)
			if err != nil {
				return fmt.Errorf("chain: stored aggregate %d/%d: %w", ci, si, err)
			}
			a.acc[ci][si] = acc
		}
	}
	return nil
}

// flushAggregates writes the block's running sums back into the state.
func (a *applier) flushAggregates() {
	if a.acc == nil {
		return
	}
	for ci := range a.acc {
		for si, acc := range a.acc[ci] {
			a.st.Aggregates[ci][si] = acc.Total()
		}
	}
	a.acc = nil
}

func (a *applier) verifyBallot(e *ballot.Election, b *ballot.Ballot, h [32]byte) error {
	if err, ok := a.verified[h]; ok {
		return err
	}
	if a.m.cache.Contains(e, h) {
		return nil
	}
	if err := e.VerifyBallot(b); err != nil {
		return err
	}
	a.m.cache.Add(e, h)
	return nil
}

func (a *applier) spoiledBallot(i int, tx *Tx) error {
	sp, err := ballot.DecodeSpoiledBallot(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	tk, entry, err := a.ballotChecks(&sp.Ballot, sp.Ballot.Hash(), tx.Election)
	if err != nil {
		return err
	}
	if entry != nil {
		if entry.Status == StatusCast {
			return fmt.Errorf("%w: %s", ErrBallotCast, sp.Ballot.TrackingCode())
		}
		return fmt.Errorf("%w: challenged ballot %s", ErrDuplicate, sp.Ballot.TrackingCode())
	}
	if err := a.claimCiphertexts(&sp.Ballot, sp.Ballot.Hash()); err != nil {
		return err
	}
	e, err := a.m.Election(a.st)
	if err != nil {
		return err
	}
	if _, err := e.VerifySpoiled(sp); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBallot, err)
	}
	h := sp.Ballot.Hash()
	a.st.Spoiled++
	a.put(tk, ballot.Marshal(&TrackingEntry{BallotHash: h, Height: a.st.Height, Position: uint32(i), Status: StatusChallenged}))
	return nil
}

func (a *applier) tallyShares(tx *Tx) error {
	if err := a.requirePhase(PhaseClosed); err != nil {
		return err
	}
	a.flushAggregates() // ballots earlier in this block are part of the aggregates
	ts, err := ballot.DecodeTallyShares(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if err := a.requireStation(tx, ts.Station); err != nil {
		return err
	}
	if bit(a.st.Shared, ts.Station) {
		return fmt.Errorf("%w: station %d has posted its shares", ErrDuplicate, ts.Station)
	}
	e, err := a.m.Election(a.st)
	if err != nil {
		return err
	}
	verified, err := e.VerifyTallyShares(ts, a.st.Key.PublicShares[ts.Station], a.st.Aggregates)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadShares, err)
	}
	a.put(key(prefixShares, u32(ts.Station)), tx.Payload)
	a.st.Shared |= 1 << ts.Station
	if bits.OnesCount64(a.st.Shared) < a.m.t {
		return nil
	}
	// Exactly t stations have valid shares now: decrypt with them.
	// The earlier stations' shares were verified when they were applied;
	// Decrypt wants them verified against these very aggregates, which have
	// not changed since the polls closed, so check them again.
	shares := make([]*ballot.VerifiedShares, a.m.n)
	for s := range uint32(a.m.n) {
		if !bit(a.st.Shared, s) {
			continue
		}
		if s == ts.Station {
			shares[s] = verified
			continue
		}
		raw, ok, err := a.get(key(prefixShares, u32(s)))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("chain: shares of station %d missing from the state", s)
		}
		stored, err := ballot.DecodeTallyShares(raw)
		if err != nil {
			return fmt.Errorf("chain: stored shares of station %d: %w", s, err)
		}
		if shares[s], err = e.VerifyTallyShares(stored, a.st.Key.PublicShares[s], a.st.Aggregates); err != nil {
			return fmt.Errorf("chain: stored shares of station %d: %w", s, err)
		}
	}
	result, err := e.Decrypt(a.st.Aggregates, shares, a.m.t, a.st.Counted)
	a.st.Phase = PhaseTallied
	a.st.TallyHeight = a.st.Height
	if err != nil {
		a.st.TallyError = tallyFailure(err)
		return nil
	}
	a.st.Result = result
	return nil
}

func (a *applier) evidence(tx *Tx) error {
	ev, err := bft.DecodeEvidence(tx.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	if err := ev.Verify(bft.Hash(a.m.fp), a.m.vals); err != nil {
		return fmt.Errorf("%w: %w", ErrBadEvidence, err)
	}
	v := ev.A
	k := key(prefixEvidence, u32(v.Validator), u64(v.Height), u32(v.Round), []byte{byte(v.Type)})
	if _, ok, err := a.get(k); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: evidence against station %d at height %d round %d", ErrDuplicate, v.Validator, v.Height, v.Round)
	}
	h := tx.Hash()
	a.put(k, h[:])
	a.st.Evidence++
	return nil
}
