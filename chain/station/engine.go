package station

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/bft/signer"
	"github.com/urna-vote/urna/chain/bft/wal"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/store"
)

// Config configures a station engine.
type Config struct {
	Genesis *genesis.Genesis
	Roll    *ballot.Roll
	// Seed is this station's Ed25519 seed: its consensus key, transaction
	// key and DKG long-term key.
	Seed []byte
	// Dir holds the station's data: store/, wal/ and signer/.
	Dir       string
	Transport Transport
	Logger    *slog.Logger
	// Timeouts of the consensus steps (zero: bft.DefaultTimeouts()).
	Timeouts bft.TimeoutConfig
	// Tick is how often the station re-broadcasts its latest votes, tells
	// peers its height and retries block sync (zero: 1 s).
	Tick time.Duration
	// Heartbeat is how long an idle chain waits before an empty block (zero:
	// the genesis's heartbeat).
	Heartbeat time.Duration
	// Mempool bounds (zero: 20,000 transactions, 64 MiB).
	MempoolTxs, MempoolBytes int
	// Store options.
	Store store.Options
	// Clock (nil: the system clock).
	Clock Clock

	// crash, if set (tests only), is asked at each step of the commit path
	// whether the station should crash there.
	crash func(point string) bool
	// noGossip (tests only) turns gossip off: no Haves, no relaying; every
	// tick re-broadcasts our latest votes and, every fifth, the votes that
	// justify our round, as the engine did before gossip. Tests compare.
	noGossip bool
	// ioFault, if set (tests only), is asked before each write to the disk
	// ("wal-append", "wal-sync", "store-commit", "signer") for the error
	// that write should fail with, as a failing disk would.
	ioFault func(op string) error
}

// Errors of the engine.
var (
	ErrNotStation = errors.New("this key is not a station of the election")
	ErrStopped    = errors.New("station engine stopped")
	ErrNoSigner   = errors.New("double-sign guard state is missing but the station has data: refusing to start (restore signer/ or start from an empty directory)")
	errCrashed    = errors.New("simulated crash")
)

// Engine is one station's node.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	index   int
	key     ed25519.PrivateKey
	fp      [32]byte
	vals    *bft.ValidatorSet
	params  genesis.Params
	machine *chain.Machine
	store   *store.Store
	ledger  *ledger.Ledger
	wal     *wal.Log
	signer  *signer.Signer
	core    *bft.Core   // driven only through drv; read for queries
	drv     *bft.Driver // the persist → send → apply order, shared with the simulator
	mempool *Mempool
	duties  *duties
	stats   stats

	// Loop-owned state.
	pendingProp *bft.ProposalRequest
	workSent    uint64 // height for which WorkReady was fed
	lastSyncAsk time.Time
	lastServed  []time.Time  // per peer: when we last served it decisions
	peers       []peerGossip // per station: its latest Have, what we sent it (relay.go)
	ticks       int          // ticks so far
	stepAt      [2]uint64    // height and round after the last step

	// Channels into the loop.
	timers chan bft.Timeout
	work   chan struct{}
	admit  chan Packet // gossip packets waiting for admission workers

	verifyq   chan *verifyJob // ballots waiting for the batch verifier (preverify.go)
	verifying atomic.Bool     // the batch verifier runs

	waiters waiters
	events  events
	status  atomic.Pointer[Status]
	done    chan struct{}
	runErr  error
	closeMu sync.Mutex
	closed  bool
}

// Open opens (or creates) a station's data and recovers: the store gives the
// last committed height, the WAL is replayed through a fresh consensus core
// without sending anything, and the station's DKG duties are rebuilt from
// the chain. Run then starts the loop.
func Open(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Timeouts == (bft.TimeoutConfig{}) {
		cfg.Timeouts = bft.DefaultTimeouts()
	}
	params := cfg.Genesis.Params()
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Duration(params.HeartbeatMillis) * time.Millisecond
	}
	if cfg.MempoolTxs == 0 {
		cfg.MempoolTxs = 20_000
	}
	if cfg.MempoolBytes == 0 {
		cfg.MempoolBytes = 64 << 20
	}
	if len(cfg.Seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("station: seed is %d bytes, want %d", len(cfg.Seed), ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(cfg.Seed)
	index, ok := cfg.Genesis.StationByKey(key.Public().(ed25519.PublicKey))
	if !ok {
		return nil, ErrNotStation
	}
	m, err := chain.NewMachine(cfg.Genesis, cfg.Roll)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg: cfg, log: cfg.Logger.With("station", index), index: index, key: key,
		fp: cfg.Genesis.Fingerprint(), vals: m.Validators(), params: params, machine: m,
		mempool: NewMempool(cfg.MempoolTxs, cfg.MempoolBytes),
		timers:  make(chan bft.Timeout, 256),
		work:    make(chan struct{}, 1),
		admit:   make(chan Packet, 4096),
		verifyq: make(chan *verifyJob, 1024),
		done:    make(chan struct{}),
	}
	e.waiters.init()
	e.initGossip()
	if err := e.openDisk(); err != nil {
		e.closeDisk()
		return nil, err
	}
	if err := e.recoverFromDisk(); err != nil {
		if errors.Is(err, errCrashed) { // a test's crash point inside the replay
			e.crash()
			return nil, err
		}
		e.closeDisk()
		return nil, err
	}
	return e, nil
}

func (e *Engine) openDisk() error {
	if err := os.MkdirAll(e.cfg.Dir, 0o700); err != nil {
		return err
	}
	var err error
	if e.store, err = store.Open(filepath.Join(e.cfg.Dir, "store"), e.cfg.Store); err != nil {
		return err
	}
	if e.ledger, err = ledger.Open(e.store, e.machine); err != nil {
		return err
	}
	var rec wal.Recovery
	if e.wal, rec, err = wal.Open(filepath.Join(e.cfg.Dir, "wal")); err != nil {
		return err
	}
	if rec.TruncatedBytes > 0 {
		e.log.Warn("consensus WAL had a torn tail; cut it", "file", rec.File, "offset", rec.Offset, "bytes", rec.TruncatedBytes)
	}
	signerDir := filepath.Join(e.cfg.Dir, "signer")
	e.signer, err = signer.Open(signerDir, e.key)
	if errors.Is(err, signer.ErrNoState) {
		_, walUsed := e.wal.Height()
		if e.ledger.Height() > 0 || walUsed {
			return ErrNoSigner
		}
		e.signer, err = signer.Init(signerDir, e.key)
	}
	return err
}

func (e *Engine) closeDisk() {
	if e.wal != nil {
		e.wal.Close()
	}
	if e.store != nil {
		e.store.Close()
	}
}

// sign is the core's Signer: the durable double-sign guard, with a crash
// point right after it released a signature (the driver then carries out
// nothing of the Ready being made).
func (e *Engine) sign(height uint64, round uint32, step bft.RoundStep, msg []byte) ([]byte, error) {
	if err := e.ioFaultAt("signer"); err != nil {
		return nil, e.signerFailed(fmt.Errorf("%w: %w", signer.ErrFailed, err))
	}
	sig, err := e.signer.Sign(height, round, uint8(step), msg)
	if err == nil && !e.drv.Replaying() && e.crashAt("after-signer") {
		e.drv.Abort(errCrashed)
	}
	if errors.Is(err, signer.ErrFailed) {
		return nil, e.signerFailed(err)
	}
	return sig, err
}

// signerFailed stops the station when its double-sign guard could not
// write its state: the guard refuses everything from then on, and a station
// that can never vote again must stop and say why, not run on in silence
// (the core only counts the refusal as a drop).
func (e *Engine) signerFailed(err error) error {
	e.drv.Abort(fmt.Errorf("station: the double-sign guard could not write its state: %w", err))
	return err
}

// ioFaultAt is the test hook's error for a disk write, if any.
func (e *Engine) ioFaultAt(op string) error {
	if e.cfg.ioFault == nil || e.drv.Replaying() {
		return nil
	}
	return e.cfg.ioFault(op)
}

// validate is the core's validity check of a block at a height: the state
// machine on top of the committed chain.
func (e *Engine) validate(height uint64, block []byte) error {
	if h := e.ledger.Height(); height != h+1 {
		return fmt.Errorf("station: block for height %d, chain is at %d", height, h)
	}
	err := e.ledger.Validate(block)
	if errors.Is(err, chain.ErrStateRead) {
		// The disk failed, not the block: stop rather than vote it down.
		e.drv.Abort(err)
	}
	return err
}

// recoverFromDisk rebuilds the core from the store and the WAL: a fresh
// core at the store's height + 1, then the WAL segments from there replayed
// through the driver (which logs what the replay signs anew, and sends
// nothing until startup).
func (e *Engine) recoverFromDisk() error {
	h := e.ledger.Height()
	core, err := bft.New(bft.Config{
		ChainID:       bft.Hash(e.fp),
		Validators:    e.vals,
		Self:          e.index,
		Height:        h + 1,
		Timeouts:      e.cfg.Timeouts,
		Signer:        bft.SignFunc(e.sign),
		Validate:      e.validate,
		MaxBlockBytes: e.params.MaxBlockBytes + 64<<10,
		WaitForWork:   true,
	})
	if err != nil {
		return err
	}
	e.core = core
	e.drv = bft.NewDriver(core, engineHost{e}, func(point string) error {
		if e.crashAt(point) {
			return errCrashed
		}
		return nil
	})
	var last *bft.Decision
	if h > 0 {
		if last, err = e.decision(h); err != nil {
			return err
		}
	}
	var records []bft.WALRecord
	if top, ok := e.wal.Height(); ok && top >= h+1 {
		err := e.wal.Replay(h+1, func(segment uint64, rec []byte) error {
			records = append(records, bft.WALRecord{Segment: segment, Data: rec})
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := e.drv.Recover(last, records); err != nil {
		return fmt.Errorf("station: recovering from the WAL: %w", err)
	}
	e.log.Info("station recovered", "height", e.ledger.Height(), "round", core.Round(), "wal_records", len(records))
	if e.duties, err = newDuties(e); err != nil {
		return err
	}
	e.publishStatus()
	return nil
}

// decision rebuilds the Decision of a committed height from the store.
func (e *Engine) decision(h uint64) (*bft.Decision, error) {
	if d, ok := e.core.Decision(h); ok {
		return &d, nil
	}
	b, err := e.ledger.Block(h)
	if err != nil {
		return nil, err
	}
	c, err := e.ledger.Certificate(h)
	if err != nil {
		return nil, err
	}
	return &bft.Decision{Height: h, Block: b, Certificate: *c}, nil
}

// Run runs the station until ctx is done (nil) or a fatal error (which it
// returns: the station must stop rather than go on in an unknown state).
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range max(2, numWorkers()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.admissionWorker(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.verifier(ctx)
	}()
	e.verifying.Store(true)
	err := e.loop(ctx)
	cancel()
	wg.Wait()
	e.runErr = err
	close(e.done)
	e.waiters.stop(ErrStopped)
	e.events.close()
	return err
}

// startup does what a replay held back: tell peers our votes (durable
// since Recover synced the WAL) and height, answer a pending proposal
// request, and look for work.
func (e *Engine) startup() error {
	if err := e.drv.Resume(); err != nil {
		return err
	}
	if req, ok := e.core.PendingProposal(); ok {
		e.pendingProp = &req
	}
	e.sendStatus()
	e.broadcastHave()
	e.duties.afterBlock(nil)
	e.signalWork()
	return nil
}

func (e *Engine) loop(ctx context.Context) error {
	err := e.loopUntilError(ctx)
	if errors.Is(err, errCrashed) {
		return e.crash()
	}
	return err
}

func (e *Engine) loopUntilError(ctx context.Context) error {
	if err := e.startup(); err != nil {
		return err
	}
	tick := make(chan struct{}, 1)
	var arm func()
	arm = func() {
		e.cfg.Clock.AfterFunc(e.cfg.Tick, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
			select {
			case <-e.done:
			case <-ctx.Done():
			default:
				arm()
			}
		})
	}
	arm()
	recv := e.cfg.Transport.Receive()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case p, ok := <-recv:
			if !ok {
				return fmt.Errorf("station: transport closed")
			}
			if err := e.onPacket(p); err != nil {
				return err
			}
		case t := <-e.timers:
			if err := e.step(t); err != nil {
				return err
			}
		case <-e.work:
			if err := e.onWork(); err != nil {
				return err
			}
		case <-tick:
			ticks++
			if err := e.onTick(ticks); err != nil {
				return err
			}
		}
	}
}

// step feeds one input through the driver: logged, stepped, and its Ready
// carried out in the safe order (persist, send, apply; see bft.Driver).
func (e *Engine) step(in bft.Input) error {
	err := e.drv.Step(in)
	if err == nil {
		e.afterStep()
	}
	return err
}

// engineHost is the station's side of bft.Host: its WAL, store and network.
type engineHost struct{ e *Engine }

func (h engineHost) AppendWAL(records [][]byte) error {
	if err := h.e.ioFaultAt("wal-append"); err != nil {
		return err
	}
	return h.e.wal.Append(records...)
}

func (h engineHost) SyncWAL() error {
	if err := h.e.ioFaultAt("wal-sync"); err != nil {
		return err
	}
	return h.e.wal.Sync()
}

func (h engineHost) Send(m bft.Message)         { h.e.broadcastMsg(m) }
func (h engineHost) Apply(d bft.Decision) error { return h.e.commit(&d) }

// StartSegment starts the WAL segment of height and drops the segments no
// restart can need (the store holds their heights).
func (h engineHost) StartSegment(height uint64) error {
	if err := h.e.wal.StartHeight(height); err != nil {
		return err
	}
	if height > 3 {
		return h.e.wal.TruncateBefore(height - 2)
	}
	return nil
}

// Rest carries out the rest of a Ready: drops are counted, evidence becomes
// our own transaction, a sync request goes to the peers, timers are armed,
// and a proposal request is answered when there is work. During a replay
// only the timers and counts: the rest waits for startup.
func (h engineHost) Rest(rd bft.Ready) error {
	e := h.e
	for _, d := range rd.Dropped {
		e.onDrop(d)
	}
	for _, t := range rd.Timers {
		e.schedule(t)
	}
	if e.drv.Replaying() {
		return nil
	}
	for _, ev := range rd.Evidence {
		e.submitOwn(&chain.Tx{Kind: chain.TxEvidence, Election: e.fp, Payload: bft.EncodeEvidence(&ev)})
	}
	if rd.Sync != nil {
		e.askSync(rd.Sync.From, rd.Sync.To)
	}
	if rd.Commit != nil {
		e.broadcastLastHave()
	}
	if rd.NeedProposal != nil {
		req := *rd.NeedProposal
		e.pendingProp = &req
		return e.maybePropose()
	}
	return nil
}

// commit applies a decided block and stores it, then tells clients. (The
// driver starts the next WAL segment.)
func (e *Engine) commit(d *bft.Decision) error {
	if err := e.ioFaultAt("store-commit"); err != nil {
		return fmt.Errorf("station: committing decided block %d: %w", d.Height, err)
	}
	a, err := e.ledger.Commit(d.Block, &d.Certificate)
	if err != nil {
		// A block a quorum decided does not apply here: a bug or a broken
		// disk. Stop loudly rather than diverge.
		return fmt.Errorf("station: committing decided block %d: %w", d.Height, err)
	}
	e.workSent = 0
	e.pendingProp = nil
	e.stats.blocks.Add(1)
	hashes := make([][32]byte, len(a.Txs))
	for i := range a.Txs {
		hashes[i] = bft.HashValue(a.Block.Txs[i])
	}
	e.mempool.Remove(hashes...)
	if !e.drv.Replaying() && e.crashAt("before-notify") {
		return errCrashed
	}
	e.waiters.committed(hashes, d.Height)
	e.publishStatus()
	e.events.publish(Event{Height: d.Height, Phase: a.State.Phase, Txs: len(a.Txs), Counted: a.State.Counted})
	e.log.Debug("committed", "height", d.Height, "txs", len(a.Txs), "phase", a.State.Phase)
	if !e.drv.Replaying() {
		e.duties.afterBlock(a)
	}
	return nil
}

// schedule arms a timer that feeds t back into the loop.
func (e *Engine) schedule(t bft.Timeout) {
	e.cfg.Clock.AfterFunc(t.Duration, func() {
		select {
		case e.timers <- t:
		case <-e.done:
		}
	})
}

func (e *Engine) broadcastMsg(m bft.Message) {
	b, err := bft.EncodeMessage(m)
	if err != nil {
		return
	}
	e.cfg.Transport.Broadcast(ChannelConsensus, b)
}

// onPacket dispatches a packet from a peer.
func (e *Engine) onPacket(p Packet) error {
	if p.From < 0 || p.From >= e.vals.N() || p.From == e.index {
		e.stats.dropped.Add(1)
		return nil
	}
	switch p.Channel {
	case ChannelConsensus:
		m, err := bft.DecodeMessage(p.Data)
		if err != nil || m.Decision != nil {
			e.stats.dropped.Add(1)
			return nil
		}
		if h := m.Height(); h < e.core.Height() {
			if m.Vote != nil && e.core.PastConflict(m.Vote) {
				// A relayed vote that conflicts with one we hold of the
				// height we decided last: the core proves the equivocation.
				return e.step(m)
			}
			// The sender is behind: answer it (the authenticated sender, not
			// whoever the message claims to be from) with that height's
			// decision. A message of a decided height changes nothing here,
			// so it is not logged.
			e.stats.dropped.Add(1)
			e.serveDecisions(p.From, h, h+1)
			return nil
		}
		if m.Proposal != nil && !e.timely(m.Proposal) {
			e.stats.dropped.Add(1)
			return nil
		}
		err = e.drv.StepDecoded(m, p.Data)
		if err == nil {
			e.afterStep()
		}
		return err
	case ChannelGossip:
		select {
		case e.admit <- p:
		default:
			e.stats.dropped.Add(1) // admission is saturated: the sender will re-send
		}
		return nil
	case ChannelSync:
		return e.onSync(p)
	case ChannelState:
		e.onHave(p)
		return nil
	}
	e.stats.dropped.Add(1)
	return nil
}

// timely checks a fresh proposal's block time against our clock: a block
// more than max_clock_skew_ms in our future is not prevoted for. The check
// happens here, before the proposal is logged, so that a WAL replay sees
// the same inputs whatever the clock says then; it covers every proposal the
// core is given, for the current height and for the next (which the core
// buffers and takes up after the commit: judged now, against a clock that
// only moves forward, so never more leniently). Nothing is lost: if the
// others decide that block anyway, this station fetches it by block sync,
// where no clock is consulted. Re-proposals of a value that already had a
// quorum (POLRound ≥ 0; the core checks the 2f+1 prevotes) are not
// checked: at least f+1 honest stations found its time acceptable.
func (e *Engine) timely(p *bft.Proposal) bool {
	if h := e.core.Height(); p.POLRound >= 0 || p.Height < h || p.Height > h+1 {
		return true // past heights are answered before; far-future ones the core drops
	}
	b, err := chain.DecodeBlock(p.Block, e.params.MaxBlockBytes)
	if err != nil {
		return true // Validate will refuse it, with the reason
	}
	ahead := b.Header.Time - e.cfg.Clock.Now().UnixMilli()
	if ahead > int64(e.params.MaxClockSkewMillis) {
		e.log.Warn("proposal's block time is ahead of this station's clock; not voting for it (check the clocks)",
			"proposer", p.Proposer, "height", p.Height, "ahead_ms", ahead)
		return false
	}
	return true
}

// onDrop counts the inputs the core dropped.
func (e *Engine) onDrop(bft.Drop) { e.stats.dropped.Add(1) }

// crash stops the loop the way a killed process would: nothing buffered is
// written, nothing is closed cleanly beyond what the operating system does.
func (e *Engine) crash() error {
	e.wal.Abandon()
	e.store.Close()
	return errCrashed
}

func (e *Engine) crashAt(point string) bool {
	return e.cfg.crash != nil && e.cfg.crash(point)
}

// Close releases the station's files after Run has returned.
func (e *Engine) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if errors.Is(e.runErr, errCrashed) {
		return nil
	}
	var errs []error
	if e.wal != nil {
		errs = append(errs, e.wal.Close())
	}
	if e.store != nil {
		errs = append(errs, e.store.Close())
	}
	return errors.Join(errs...)
}

// Index is this station's index in the genesis.
func (e *Engine) Index() int { return e.index }

// Ledger gives read access to the committed chain.
func (e *Engine) Ledger() *ledger.Ledger { return e.ledger }
