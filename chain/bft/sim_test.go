package bft_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/bft/simnet"
)

// The consensus simulator: n validators, each a bft.Core driven exactly as a station
// drives it (WAL, durable signer state, store, the persist -> apply -> send order),
// connected by a simnet.Network with faults, plus Byzantine validators. One seed decides
// everything. An invariant checker watches every commit, every signature and every
// message sent.

// byzKind is a Byzantine behaviour; a Byzantine node may combine several.
type byzKind uint16

const (
	byzSilent             byzKind = 1 << iota // never sends anything
	byzEquivocateProposal                     // as proposer, sends different blocks to different peers
	byzDoubleVote                             // signs a conflicting second vote for every vote, split among peers
	byzFuture                                 // sends signed votes for future rounds and heights
	byzInvalidBlock                           // proposes blocks that Validate rejects
	byzAmnesia                                // ignores its lock
	byzGarbage                                // sends undecodable and forged messages
)

var byzNames = []struct {
	k    byzKind
	name string
}{
	{byzSilent, "silent"}, {byzEquivocateProposal, "equivocating-proposer"}, {byzDoubleVote, "double-vote"},
	{byzFuture, "future-votes"}, {byzInvalidBlock, "invalid-blocks"}, {byzAmnesia, "amnesia"}, {byzGarbage, "garbage"},
}

func (k byzKind) String() string {
	if k == 0 {
		return "honest"
	}
	var parts []string
	for _, b := range byzNames {
		if k&b.k != 0 {
			parts = append(parts, b.name)
		}
	}
	return strings.Join(parts, "+")
}

// Partition modes.
const (
	partNone = iota
	partSymmetric
	partAsymmetric
	partRotating
	partMixed
)

var partNames = []string{"none", "symmetric", "asymmetric", "rotating", "mixed"}

// simConfig is one simulation run, derived from its seed.
type simConfig struct {
	Seed        uint64
	N           int
	Byz         []byzKind // per node; 0 is honest
	Wipers      []bool    // honest nodes whose WAL may be wiped when they crash
	Crashes     bool      // honest nodes crash and restart from their WAL
	Torn        bool      // a crash may lose the WAL's unflushed tail
	MidCrash    bool      // crashes may hit between signing and flushing, or between flushing and sending
	Unguarded   bool      // honest signers have no double-sign guard: the core and WAL alone must be safe
	WaitForWork bool
	Partitions  int
	Faults      simnet.Faults
	FaultPhase  time.Duration // faults, partitions and crashes run this long
	LiveHeights int           // after healing, every honest node must commit this many more heights...
	LiveBound   time.Duration // ...within this much simulated time

	brokenLock bool // honest cores ignore their lock: the checker's self-test
	brokenWAL  bool // nodes never flush their WAL before sending: the checker's self-test
}

func (c simConfig) String() string {
	var byz []string
	for i, k := range c.Byz {
		if k != 0 {
			byz = append(byz, fmt.Sprintf("v%d:%s", i, k))
		}
	}
	var wipers []string
	for i, w := range c.Wipers {
		if w {
			wipers = append(wipers, fmt.Sprintf("v%d", i))
		}
	}
	return fmt.Sprintf("seed=%d n=%d byzantine=[%s] crashes=%v torn=%v mid=%v wipe=[%s] unguarded=%v wait=%v partitions=%s loss=%d‰ dup=%d‰ replay=%d‰ delay=%v-%v",
		c.Seed, c.N, strings.Join(byz, " "), c.Crashes, c.Torn, c.MidCrash, strings.Join(wipers, " "), c.Unguarded, c.WaitForWork,
		partNames[c.Partitions], c.Faults.LossPerMille, c.Faults.DupPerMille, c.Faults.ReplayPerMille, c.Faults.MinDelay, c.Faults.MaxDelay)
}

// randomSimConfig derives a run from a seed: the size, the faults and the Byzantine
// mix. Faulty validators (Byzantine, or honest ones whose WAL may be wiped, who forget
// their locks) never exceed f.
func randomSimConfig(seed uint64) simConfig {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	sizes := []int{4, 4, 4, 7, 7, 10}
	n := sizes[rng.IntN(len(sizes))]
	f := (n - 1) / 3
	cfg := simConfig{
		Seed: seed, N: n, Byz: make([]byzKind, n), Wipers: make([]bool, n),
		FaultPhase: time.Duration(4+rng.IntN(9)) * time.Second, LiveHeights: 2, LiveBound: 90 * time.Second,
	}
	faulty := rng.IntN(f + 1)
	if rng.IntN(4) == 0 {
		faulty = f
	}
	perm := rng.Perm(n)
	for _, id := range perm[:faulty] {
		if rng.IntN(5) == 0 {
			cfg.Wipers[id] = true // honest, but may lose its WAL
			continue
		}
		kinds := []byzKind{byzSilent, byzEquivocateProposal, byzDoubleVote, byzFuture, byzInvalidBlock, byzAmnesia, byzGarbage}
		switch rng.IntN(3) {
		case 0: // everything but silence
			cfg.Byz[id] = byzEquivocateProposal | byzDoubleVote | byzFuture | byzInvalidBlock | byzAmnesia | byzGarbage
		default:
			cfg.Byz[id] = kinds[rng.IntN(len(kinds))]
			if rng.IntN(2) == 0 {
				cfg.Byz[id] |= kinds[rng.IntN(len(kinds))] &^ byzSilent
			}
		}
	}
	cfg.Crashes = rng.IntN(3) > 0
	cfg.Torn = rng.IntN(2) == 0
	cfg.MidCrash = rng.IntN(2) == 0
	cfg.Unguarded = !slices.Contains(cfg.Wipers, true) && rng.IntN(6) == 0
	cfg.WaitForWork = rng.IntN(4) == 0
	cfg.Partitions = rng.IntN(len(partNames))
	cfg.Faults = simnet.Faults{
		LossPerMille:   []int{0, 20, 100, 250}[rng.IntN(4)],
		DupPerMille:    []int{0, 50, 200}[rng.IntN(3)],
		ReplayPerMille: []int{0, 20, 100}[rng.IntN(3)],
		MinDelay:       time.Millisecond,
		MaxDelay:       []time.Duration{20 * time.Millisecond, 200 * time.Millisecond, 1500 * time.Millisecond}[rng.IntN(3)],
	}
	return cfg
}

// packet is what the simulated network carries: an encoded bft.Message, or a block-sync
// request (data nil) for decisions syncFrom..syncTo-1.
type packet struct {
	data             []byte
	syncFrom, syncTo uint64
}

// walRecord is one record of a node's in-memory write-ahead log. Like chain/bft/wal,
// the log is divided by the core's height at the time of logging (segment), not by the
// height a message is about: a restart replays the segments above the store's height.
type walRecord struct {
	data    []byte // bft.EncodeInput
	segment uint64
	flushed bool
}

type sim struct {
	cfg     simConfig
	rng     *rand.Rand
	clock   *simnet.Clock
	net     *simnet.Network[packet]
	privs   []ed25519.PrivateKey
	vals    *bft.ValidatorSet
	nodes   []*simNode
	check   *checker
	healed  bool
	trace   []string // the last events, printed when a run fails
	stats   simStats
	stopped bool
}

type simStats struct {
	Commits, Crashes, Wipes, Torn, MidCrashes, Syncs, Evidence, Garbage int
	Heights                                                             uint64
	SimTime                                                             time.Duration
}

func newSim(cfg simConfig) *sim {
	s := &sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0xb1f7)), clock: simnet.NewClock()}
	privs, vals := testKeys("sim", cfg.N)
	s.vals, s.privs = vals, privs
	s.check = newChecker(vals)
	s.net = simnet.New(s.clock, s.rng, cfg.N, s.deliver)
	s.net.SetFaults(cfg.Faults)
	for i := range cfg.N {
		n := &simNode{s: s, id: i, byz: cfg.Byz[i], served: make(map[[2]uint64]time.Duration),
			altHash: make(map[[2]uint64]bft.Hash), sides: make(map[[2]uint64][]bool)}
		n.honest = n.byz == 0
		n.signer = &guardSigner{priv: privs[i], state: &signerState{}, guarded: n.honest && !cfg.Unguarded}
		if n.honest && !cfg.Unguarded {
			id := uint32(i)
			n.signer.onSign = func(h uint64, r uint32, st bft.RoundStep, b, _ []byte) { s.check.signed(id, h, r, st, b) }
		}
		s.nodes = append(s.nodes, n)
	}
	return s
}

func (s *sim) tracef(format string, args ...any) {
	line := fmt.Sprintf("%9v ", s.clock.Now()) + fmt.Sprintf(format, args...)
	if len(s.trace) >= 60 {
		s.trace = s.trace[1:]
	}
	s.trace = append(s.trace, line)
}

// errLive ends a run early once the liveness goal is met.
var errLive = errors.New("liveness goal met")

// run executes the whole simulation and returns the first violation, or nil.
func (s *sim) run() error {
	for _, n := range s.nodes {
		if n.byz&byzSilent != 0 {
			continue
		}
		n.boot()
		n.scheduleTick()
	}
	s.scheduleFaults()
	check := func() error { return s.check.err }
	if err := s.clock.RunUntil(s.cfg.FaultPhase, check); err != nil {
		return err
	}
	s.heal()
	base := uint64(0)
	for _, n := range s.nodes {
		if n.honest {
			base = max(base, uint64(len(n.store)))
		}
	}
	goal := base + uint64(s.cfg.LiveHeights)
	deadline := s.cfg.FaultPhase + s.cfg.LiveBound
	err := s.clock.RunUntil(deadline, func() error {
		if s.check.err != nil {
			return s.check.err
		}
		for _, n := range s.nodes {
			if n.honest && uint64(len(n.store)) < goal {
				return nil
			}
		}
		return errLive
	})
	s.stats.SimTime = s.clock.Now()
	s.stopped = true
	for _, n := range s.nodes {
		if n.honest {
			s.stats.Heights = max(s.stats.Heights, uint64(len(n.store)))
		}
	}
	switch {
	case errors.Is(err, errLive):
		return nil
	case err != nil:
		return err
	}
	var lag []string
	for _, n := range s.nodes {
		if n.honest && uint64(len(n.store)) < goal {
			st := "down"
			if n.core != nil {
				st = fmt.Sprintf("%+v", n.core.State())
			}
			lag = append(lag, fmt.Sprintf("v%d at %d (%s)", n.id, len(n.store), st))
		}
	}
	return fmt.Errorf("liveness: %v after healing not every honest node reached height %d (started from %d): %s",
		s.cfg.LiveBound, goal, base, strings.Join(lag, "; "))
}

// scheduleFaults plans the fault phase: partitions and crashes.
func (s *sim) scheduleFaults() {
	cfg := s.cfg
	if cfg.Partitions != partNone {
		mode := cfg.Partitions
		var change func(k int)
		change = func(k int) {
			if s.healed {
				return
			}
			m := mode
			if m == partMixed {
				m = 1 + s.rng.IntN(3)
			}
			s.net.Heal()
			switch m {
			case partSymmetric:
				perm := s.rng.Perm(cfg.N)
				cut := 1 + s.rng.IntN(cfg.N-1)
				s.net.Partition(perm[:cut], perm[cut:])
				s.tracef("partition %v | %v", perm[:cut], perm[cut:])
			case partAsymmetric:
				for a := range cfg.N {
					for b := range cfg.N {
						if a != b && s.rng.IntN(5) == 0 {
							s.net.Block(a, b)
						}
					}
				}
				s.tracef("asymmetric partition")
			case partRotating:
				alone := k % cfg.N
				var rest []int
				for i := range cfg.N {
					if i != alone {
						rest = append(rest, i)
					}
				}
				s.net.Partition([]int{alone}, rest)
				s.tracef("isolate v%d", alone)
			}
			s.clock.After(time.Duration(500+s.rng.IntN(3000))*time.Millisecond, func() {
				if s.rng.IntN(3) == 0 && !s.healed {
					s.net.Heal()
					s.tracef("partition healed for a while")
					s.clock.After(time.Duration(200+s.rng.IntN(1500))*time.Millisecond, func() { change(k + 1) })
					return
				}
				change(k + 1)
			})
		}
		s.clock.After(time.Duration(s.rng.IntN(2000))*time.Millisecond, func() { change(0) })
	}
	if cfg.Crashes {
		var honest []int
		for i, k := range cfg.Byz {
			if k == 0 {
				honest = append(honest, i)
			}
		}
		crashes := 1 + s.rng.IntN(4)
		for range crashes {
			at := time.Duration(s.rng.Int64N(int64(cfg.FaultPhase)))
			id := honest[s.rng.IntN(len(honest))]
			down := time.Duration(200+s.rng.IntN(4000)) * time.Millisecond
			s.clock.At(at, func() {
				n := s.nodes[id]
				if !n.up {
					return
				}
				n.crash(false)
				s.clock.After(down, func() {
					if !n.up && !s.healed {
						n.boot()
					}
				})
			})
		}
	}
}

// heal ends the fault phase: every link back, mild network faults, every crashed honest
// node restarted.
func (s *sim) heal() {
	s.healed = true
	s.net.Heal()
	s.net.SetFaults(simnet.Faults{DupPerMille: s.cfg.Faults.DupPerMille / 4, MinDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond})
	s.tracef("heal")
	for _, n := range s.nodes {
		if n.honest && !n.up {
			n.boot()
		}
	}
}

func (s *sim) deliver(from, to int, p packet) {
	n := s.nodes[to]
	if !n.up || n.byz&byzSilent != 0 {
		return
	}
	if p.data == nil {
		n.serveSync(from, p.syncFrom, p.syncTo)
		return
	}
	m, err := bft.DecodeMessage(p.data)
	if err != nil {
		s.stats.Garbage++
		return
	}
	n.sender = from
	n.input(m)
	n.sender = -1
}

type simNode struct {
	s      *sim
	id     int
	byz    byzKind
	honest bool
	core   *bft.Core
	signer *guardSigner
	wal    []walRecord
	store  []bft.Decision // committed decisions: durable
	up     bool
	inc    int // incarnation: timers of an earlier life are ignored
	sender int // the peer whose message is being processed, -1 if none
	served map[[2]uint64]time.Duration

	// rec, if set, records every call of the node's first core (until it crashes).
	rec *callLog

	// Byzantine bookkeeping, by (height, round).
	altHash map[[2]uint64]bft.Hash
	sides   map[[2]uint64][]bool
}

// boot starts (or restarts) the node: a fresh core at the store's height + 1, then the
// WAL replayed into it.
func (n *simNode) boot() {
	s := n.s
	n.up = true
	n.inc++
	n.sender = -1
	s.net.SetDown(n.id, false)
	core, err := bft.New(bft.Config{
		ChainID: testChainID, Validators: s.vals, Self: n.id, Height: uint64(len(n.store)) + 1,
		Timeouts: testTimeouts(), Signer: n.signer.Signer(), Validate: testValidate, WaitForWork: s.cfg.WaitForWork,
	})
	if err != nil {
		s.check.fail("v%d: New: %v", n.id, err)
		return
	}
	if n.byz&byzAmnesia != 0 || (n.honest && s.cfg.brokenLock) {
		bft.SetIgnoreLock(core, true)
	}
	n.core = core
	if len(n.store) > 0 {
		rd, err := core.SyncTo(n.store[len(n.store)-1])
		if err != nil {
			s.check.fail("v%d: SyncTo its own last decision: %v", n.id, err)
			return
		}
		n.handle(rd, true, core.Height())
	} else {
		seg := core.Height()
		rd := core.Start()
		n.record(callStart, nil, rd)
		n.handle(rd, true, seg)
	}
	records := slices.Clone(n.wal)
	for _, rec := range records {
		if rec.segment <= uint64(len(n.store)) {
			continue
		}
		in, err := bft.DecodeInput(rec.data)
		if err != nil {
			s.check.fail("v%d: WAL record does not decode: %v", n.id, err)
			return
		}
		seg := n.core.Height()
		rd := n.core.Step(in)
		n.record(callStep, in, rd)
		n.handle(rd, true, seg)
		if !n.up {
			return
		}
	}
	n.flushWAL()
	s.tracef("v%d boot at h%d (replayed %d records) %+v", n.id, n.core.Height(), len(records), n.core.State())
	for _, m := range n.core.LatestVotes() {
		n.send(m)
	}
	if req, ok := n.core.PendingProposal(); ok {
		n.scheduleProposal(req)
	}
	if req, ok := n.core.Behind(); ok {
		n.requestSync(req)
	}
	n.scheduleWork()
}

// crash stops the node. Its store and signer state survive; its WAL survives except,
// with a torn tail, some unflushed records at the end, or entirely if wiped.
func (n *simNode) crash(mid bool) {
	s := n.s
	if n.rec != nil {
		n.rec.done = true
	}
	n.up = false
	n.inc++
	n.core = nil
	s.net.SetDown(n.id, true)
	s.stats.Crashes++
	how := "clean"
	switch {
	case s.cfg.Wipers[n.id] && s.rng.IntN(2) == 0:
		n.wal = nil
		s.stats.Wipes++
		how = "WAL wiped"
	case s.cfg.Torn && s.rng.IntN(2) == 0:
		first := len(n.wal)
		for i, r := range n.wal {
			if !r.flushed {
				first = i
				break
			}
		}
		cut := first + s.rng.IntN(len(n.wal)-first+1)
		how = fmt.Sprintf("torn tail (%d of %d unflushed records lost)", len(n.wal)-cut, len(n.wal)-first)
		n.wal = n.wal[:cut]
		s.stats.Torn++
	}
	if mid {
		how += ", mid-Ready"
		s.stats.MidCrashes++
	}
	s.tracef("v%d crash: %s", n.id, how)
}

// input logs an input to the WAL, steps the core and carries out the Ready.
func (n *simNode) input(in bft.Input) {
	if !n.up {
		return
	}
	seg := n.core.Height()
	n.appendWAL(in, seg)
	rd := n.core.Step(in)
	n.record(callStep, in, rd)
	n.handle(rd, false, seg)
}

func (n *simNode) appendWAL(in bft.Input, segment uint64) {
	if !n.honest {
		return
	}
	data, err := bft.EncodeInput(in)
	if err != nil {
		n.s.check.fail("v%d: EncodeInput(%T): %v", n.id, in, err)
		return
	}
	n.wal = append(n.wal, walRecord{data: data, segment: segment})
}

func (n *simNode) flushWAL() {
	if n.s.cfg.brokenWAL {
		return
	}
	for i := len(n.wal) - 1; i >= 0 && !n.wal[i].flushed; i-- {
		n.wal[i].flushed = true
	}
}

// midCrash decides whether the node crashes at this point of handling a Ready.
func (n *simNode) midCrash() bool {
	s := n.s
	if !n.honest || !s.cfg.MidCrash || !s.cfg.Crashes || s.healed || s.rng.IntN(400) != 0 {
		return false
	}
	n.crash(true)
	down := time.Duration(200+s.rng.IntN(3000)) * time.Millisecond
	s.clock.After(down, func() {
		if !n.up && !s.healed {
			n.boot()
		}
	})
	return true
}

// handle carries out a Ready in the station's order: log our messages, flush before any
// leaves, apply the commit, then send, schedule and ask. During a WAL replay nothing is
// sent: the node re-broadcasts its latest votes once the replay is done.
// segment is the core's height when the Ready was produced.
func (n *simNode) handle(rd bft.Ready, replay bool, segment uint64) {
	s := n.s
	for _, m := range rd.Buffered {
		n.appendWAL(m, segment)
	}
	for _, m := range rd.Messages {
		n.appendWAL(m, segment)
	}
	if len(rd.Messages) > 0 {
		if !replay && n.midCrash() { // signed, not yet durable in the WAL
			return
		}
		n.flushWAL()
		if !replay && n.midCrash() { // durable, not applied or sent
			return
		}
	}
	if rd.Commit != nil {
		n.commit(*rd.Commit)
	}
	if !replay {
		for _, m := range rd.Messages {
			n.send(m)
		}
	}
	for _, e := range rd.Evidence {
		if err := e.Verify(testChainID, s.vals); err != nil {
			s.check.fail("v%d produced evidence that does not verify: %v", n.id, err)
		}
		if n.honest && s.cfg.Byz[e.A.Validator] == 0 {
			s.check.fail("v%d produced evidence against honest v%d: %s / %s", n.id, e.A.Validator, &e.A, &e.B)
		}
		s.stats.Evidence++
	}
	for _, t := range rd.Timers {
		inc := n.inc
		s.clock.After(t.Duration, func() {
			if n.up && n.inc == inc {
				n.input(t)
			}
		})
	}
	if !replay {
		if rd.NeedProposal != nil {
			n.scheduleProposal(*rd.NeedProposal)
		}
		if rd.Sync != nil {
			n.requestSync(*rd.Sync)
		}
		for _, d := range rd.Dropped {
			if d.Reason == bft.DropPastHeight && n.sender >= 0 {
				n.serve(n.sender, d.Height)
			}
		}
	}
	if rd.Commit != nil && n.up {
		seg := n.core.Height()
		rd := n.core.Advance()
		n.record(callAdvance, nil, rd)
		n.handle(rd, replay, seg)
		if !replay {
			n.scheduleWork()
		}
	}
}

func (n *simNode) commit(d bft.Decision) {
	s := n.s
	h := d.Height
	if h <= uint64(len(n.store)) {
		if old := n.store[h-1]; old.Certificate.BlockHash != d.Certificate.BlockHash {
			s.check.fail("v%d decided h%d again with a different block: %s then %s", n.id, h, old.Certificate.BlockHash, d.Certificate.BlockHash)
		}
		return
	}
	if h != uint64(len(n.store))+1 {
		s.check.fail("v%d decided h%d with only %d heights stored", n.id, h, len(n.store))
		return
	}
	if n.honest {
		s.check.committed(n.id, d)
		s.stats.Commits++
	}
	n.store = append(n.store, d)
	s.tracef("v%d commit h%d %s r%d", n.id, h, d.Certificate.BlockHash, d.Certificate.Round)
	// The store holds height h now: the WAL segments up to h are not needed.
	n.wal = slices.DeleteFunc(n.wal, func(r walRecord) bool { return r.segment <= h })
}

// send broadcasts one of our messages, with the Byzantine twists if any.
func (n *simNode) send(m bft.Message) {
	s := n.s
	if n.honest {
		s.check.sent(n.id, m)
		n.broadcast(m)
		return
	}
	switch {
	case n.byz&byzEquivocateProposal != 0 && m.Proposal != nil && int(m.Proposal.Proposer) == n.id:
		p := m.Proposal
		altBlock := testBlock(p.Height, fmt.Sprintf("equivocation-%d", s.rng.Uint32()))
		alt := signProposal(s.privs[n.id], p.Height, p.Round, -1, altBlock, p.Proposer)
		n.altHash[[2]uint64{p.Height, uint64(p.Round)}] = bft.HashValue(altBlock)
		n.split(p.Height, p.Round, m, bft.Message{Proposal: alt})
	case n.byz&byzDoubleVote != 0 && m.Vote != nil && int(m.Vote.Validator) == n.id:
		// Vote for the block each side was shown when we equivocated as proposer,
		// otherwise for a made-up block or nil: each half sees a consistent story.
		v := m.Vote
		other, ok := n.altHash[[2]uint64{v.Height, uint64(v.Round)}]
		if !ok || other == v.BlockHash {
			other = bft.Hash{}
			if v.BlockHash.IsZero() {
				other = bft.HashValue(testBlock(v.Height, fmt.Sprintf("double-%d", s.rng.Uint32())))
			}
		}
		alt := signVote(s.privs[n.id], v.Type, v.Height, v.Round, other, v.Validator)
		n.split(v.Height, v.Round, m, bft.Message{Vote: alt})
	default:
		n.broadcast(m)
	}
}

// split sends a to one side of the peers and b to the other; the sides are drawn once
// per height and round.
func (n *simNode) split(h uint64, r uint32, a, b bft.Message) {
	key := [2]uint64{h, uint64(r)}
	side, ok := n.sides[key]
	if !ok {
		side = make([]bool, n.s.cfg.N)
		for i := range side {
			side[i] = n.s.rng.IntN(2) == 0
		}
		n.sides[key] = side
	}
	da, err1 := bft.EncodeMessage(a)
	db, err2 := bft.EncodeMessage(b)
	if err1 != nil || err2 != nil {
		n.s.check.fail("v%d: encode: %v %v", n.id, err1, err2)
		return
	}
	for to := range n.s.cfg.N {
		if to == n.id {
			continue
		}
		if side[to] {
			n.s.net.Send(n.id, to, packet{data: da})
		} else {
			n.s.net.Send(n.id, to, packet{data: db})
		}
	}
}

func (n *simNode) broadcast(m bft.Message) {
	data, err := bft.EncodeMessage(m)
	if err != nil {
		n.s.check.fail("v%d: EncodeMessage(%s): %v", n.id, m, err)
		return
	}
	n.s.net.Broadcast(n.id, packet{data: data})
}

func (n *simNode) scheduleProposal(req bft.ProposalRequest) {
	s := n.s
	inc := n.inc
	tag := fmt.Sprintf("v%d-r%d-%08x", n.id, req.Round, s.rng.Uint32())
	if n.byz&byzInvalidBlock != 0 {
		tag = "INVALID-" + tag
	}
	block := testBlock(req.Height, tag)
	s.clock.After(time.Duration(s.rng.IntN(50))*time.Millisecond, func() {
		if n.up && n.inc == inc {
			n.input(bft.ProposalValue{Height: req.Height, Round: req.Round, Block: block})
		}
	})
}

// scheduleWork tells a WaitForWork core, a little later, that transactions are waiting.
func (n *simNode) scheduleWork() {
	s := n.s
	if !s.cfg.WaitForWork || n.core == nil {
		return
	}
	inc, h := n.inc, n.core.Height()
	s.clock.After(time.Duration(s.rng.IntN(400))*time.Millisecond, func() {
		if n.up && n.inc == inc && n.core.Height() == h {
			n.input(bft.WorkReady{Height: h})
		}
	})
}

// scheduleTick runs the node's periodic duties: re-broadcast its latest votes and, less
// often, the votes that justify its round and its last decision; retry block sync
// while behind; Byzantine extras.
func (n *simNode) scheduleTick() {
	s := n.s
	period := time.Duration(800+s.rng.IntN(400)) * time.Millisecond
	var tick func(k int)
	tick = func(k int) {
		if s.stopped {
			return
		}
		if n.up && n.core != nil {
			for _, m := range n.core.LatestVotes() {
				n.send(m)
			}
			if req, ok := n.core.Behind(); ok {
				n.requestSync(req)
			}
			if k%3 == 0 && len(n.store) > 0 {
				n.broadcast(bft.Message{Decision: &n.store[len(n.store)-1]})
			}
			if k%3 == 1 {
				for _, m := range n.core.CatchUpVotes() {
					n.send(m)
				}
			}
			n.byzantineTick()
		}
		s.clock.After(period, func() { tick(k + 1) })
	}
	s.clock.After(period, func() { tick(1) })
}

func (n *simNode) byzantineTick() {
	s := n.s
	h, r := n.core.Height(), n.core.Round()
	priv := s.privs[n.id]
	if n.byz&byzFuture != 0 {
		t := bft.Prevote
		if s.rng.IntN(2) == 0 {
			t = bft.Precommit
		}
		fr := signVote(priv, t, h, r+1+uint32(s.rng.IntN(1000)), bft.Hash{}, uint32(n.id))
		fh := signVote(priv, t, h+1+uint64(s.rng.IntN(50)), uint32(s.rng.IntN(3)), bft.HashValue(testBlock(h, "future")), uint32(n.id))
		n.broadcast(bft.Message{Vote: fr})
		n.broadcast(bft.Message{Vote: fh})
	}
	if n.byz&byzGarbage != 0 {
		junk := make([]byte, s.rng.IntN(64))
		for i := range junk {
			junk[i] = byte(s.rng.Uint32())
		}
		s.net.Broadcast(n.id, packet{data: junk})
		// A well-formed vote claiming to be from another validator: a bad signature.
		forged := signVote(priv, bft.Prevote, h, r, bft.HashValue(testBlock(h, "forged")), uint32((n.id+1)%s.cfg.N))
		n.broadcast(bft.Message{Vote: forged})
		// A proposal from a non-proposer, and an oversized one.
		n.broadcast(bft.Message{Proposal: signProposal(priv, h, r, -1, testBlock(h, "usurper"), uint32(n.id))})
	}
}

func (n *simNode) requestSync(req bft.SyncRequest) {
	n.s.stats.Syncs++
	n.s.net.Broadcast(n.id, packet{syncFrom: req.From, syncTo: req.To})
}

// serveSync answers a block-sync request with up to 8 stored decisions.
func (n *simNode) serveSync(peer int, from, to uint64) {
	for h := max(from, 1); h < to && h <= uint64(len(n.store)) && h < from+8; h++ {
		n.sendDecision(peer, h)
	}
}

// serve sends a peer that is behind the decision of its height, at most every 500ms.
func (n *simNode) serve(peer int, height uint64) {
	if height == 0 || height > uint64(len(n.store)) {
		return
	}
	key := [2]uint64{uint64(peer), height}
	if last, ok := n.served[key]; ok && n.s.clock.Now()-last < 500*time.Millisecond {
		return
	}
	n.served[key] = n.s.clock.Now()
	n.sendDecision(peer, height)
}

func (n *simNode) sendDecision(peer int, h uint64) {
	data, err := bft.EncodeMessage(bft.Message{Decision: &n.store[h-1]})
	if err != nil {
		n.s.check.fail("v%d: encode decision: %v", n.id, err)
		return
	}
	n.s.net.Send(n.id, peer, packet{data: data})
}

// checker holds the invariants. Any violation is recorded once, with what broke.
type checker struct {
	vals      *bft.ValidatorSet
	decided   map[uint64]decidedBy
	signs     map[signKey][]byte // sign bytes released by honest guarded signers
	sends     map[signKey][]byte // sign bytes of messages honest nodes sent
	err       error
	decisions int
}

type decidedBy struct {
	hash bft.Hash
	node int
}

type signKey struct {
	validator uint32
	height    uint64
	round     uint32
	step      bft.RoundStep
}

func newChecker(vals *bft.ValidatorSet) *checker {
	return &checker{vals: vals, decided: make(map[uint64]decidedBy), signs: make(map[signKey][]byte), sends: make(map[signKey][]byte)}
}

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("invariant violated: "+format, args...)
	}
}

// committed checks agreement, certificate validity and block validity of one honest commit.
func (c *checker) committed(node int, d bft.Decision) {
	c.decisions++
	if err := d.Verify(testChainID, c.vals); err != nil {
		c.fail("v%d committed h%d without a valid certificate: %v", node, d.Height, err)
	}
	if err := testValidate(d.Height, d.Block); err != nil {
		c.fail("v%d committed an invalid block at h%d: %v", node, d.Height, err)
	}
	hash := bft.HashValue(d.Block)
	if prev, ok := c.decided[d.Height]; ok && prev.hash != hash {
		c.fail("agreement: v%d committed %s at h%d, v%d committed %s", node, hash, d.Height, prev.node, prev.hash)
		return
	}
	c.decided[d.Height] = decidedBy{hash: hash, node: node}
}

// signed checks that an honest guarded signer never releases two signatures over
// different bytes for one (height, round, step).
func (c *checker) signed(validator uint32, h uint64, r uint32, st bft.RoundStep, b []byte) {
	key := signKey{validator, h, r, st}
	if prev, ok := c.signs[key]; ok && string(prev) != string(b) {
		c.fail("double sign: honest v%d signed two different %s messages at h%d r%d", validator, st, h, r)
		return
	}
	c.signs[key] = b
}

// sent checks that an honest node never sends two conflicting signed messages of its own.
func (c *checker) sent(node int, m bft.Message) {
	var key signKey
	var b []byte
	switch {
	case m.Vote != nil && int(m.Vote.Validator) == node:
		v := m.Vote
		key, b = signKey{v.Validator, v.Height, v.Round, v.Type.Step()}, v.SignBytes(testChainID)
	case m.Proposal != nil && int(m.Proposal.Proposer) == node:
		p := m.Proposal
		key, b = signKey{p.Proposer, p.Height, p.Round, bft.StepPropose}, p.SignBytes(testChainID)
	default:
		return
	}
	if prev, ok := c.sends[key]; ok && string(prev) != string(b) {
		c.fail("conflicting messages: honest v%d sent two different %s messages at h%d r%d", node, key.step, key.height, key.round)
		return
	}
	c.sends[key] = b
}

// callLog records the calls made to one core and what they returned, with the signer
// state and WAL as they were at each call, for the replay tests.
type callLog struct {
	calls []call
	done  bool
}

type callKind uint8

const (
	callStart callKind = iota + 1
	callStep
	callAdvance
)

type call struct {
	kind   callKind
	in     bft.Input
	out    bft.Ready
	signer signerState // after the call
	state  bft.State   // after the call
	latest []bft.Message
}

func (n *simNode) record(kind callKind, in bft.Input, rd bft.Ready) {
	if n.rec == nil || n.rec.done {
		return
	}
	n.rec.calls = append(n.rec.calls, call{kind: kind, in: in, out: rd, signer: *n.signer.state, state: n.core.State(), latest: n.core.LatestVotes()})
}
