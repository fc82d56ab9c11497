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
	byzBadPOL                                 // as proposer, re-proposes old polkas with their stale round, or forges POL rounds
	byzLockSplit                              // shows its vote for a block to one peer only (nil or nothing to the rest)
)

var byzNames = []struct {
	k    byzKind
	name string
}{
	{byzSilent, "silent"}, {byzEquivocateProposal, "equivocating-proposer"}, {byzDoubleVote, "double-vote"},
	{byzFuture, "future-votes"}, {byzInvalidBlock, "invalid-blocks"}, {byzAmnesia, "amnesia"}, {byzGarbage, "garbage"},
	{byzBadPOL, "bad-pol"}, {byzLockSplit, "lock-split"},
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
	MidCrash    bool      // crashes may hit at the driver's crash points (after the WAL sync, after sending, around applying)
	DoubleCrash bool      // crashes may hit during a WAL replay, and soon after a restart again
	LockCrash   bool      // an honest node may crash right after sending a precommit for a block
	Unguarded   bool      // honest signers have no double-sign guard: the core and WAL alone must be safe
	Gossip      bool      // honest nodes gossip (Haves, bft.Plan) instead of re-broadcasting their latest votes
	WaitForWork bool
	Partitions  int
	Faults      simnet.Faults
	FaultPhase  time.Duration // faults, partitions and crashes run this long
	LiveHeights int           // after healing, every honest node must commit this many more heights...
	LiveBound   time.Duration // ...within this much simulated time

	brokenLock bool // honest cores ignore their lock: the checker's self-test
	brokenWAL  bool // nodes never flush their WAL before sending: the checker's self-test
	// noDurableCheck turns off the check that a node's own message is durable in its WAL
	// when it first leaves, so that a self-test sees what a broken WAL leads to.
	noDurableCheck bool
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
	return fmt.Sprintf("seed=%d n=%d byzantine=[%s] crashes=%v torn=%v mid=%v double=%v lock=%v wipe=[%s] unguarded=%v wait=%v gossip=%v partitions=%s loss=%d‰ dup=%d‰ replay=%d‰ delay=%v-%v",
		c.Seed, c.N, strings.Join(byz, " "), c.Crashes, c.Torn, c.MidCrash, c.DoubleCrash, c.LockCrash, strings.Join(wipers, " "), c.Unguarded, c.WaitForWork, c.Gossip,
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
		kinds := []byzKind{byzSilent, byzEquivocateProposal, byzDoubleVote, byzFuture, byzInvalidBlock, byzAmnesia, byzGarbage, byzBadPOL, byzLockSplit}
		switch rng.IntN(4) {
		case 0: // everything but silence
			cfg.Byz[id] = byzEquivocateProposal | byzDoubleVote | byzFuture | byzInvalidBlock | byzAmnesia | byzGarbage | byzBadPOL | byzLockSplit
		case 1: // the attacks on locking
			cfg.Byz[id] = byzBadPOL | byzLockSplit | byzAmnesia
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
	cfg.DoubleCrash = rng.IntN(2) == 0
	cfg.LockCrash = rng.IntN(2) == 0
	cfg.Unguarded = !slices.Contains(cfg.Wipers, true) && rng.IntN(6) == 0
	cfg.WaitForWork = rng.IntN(4) == 0
	// Drawn from its own source, so that the other choices of a seed are the same as
	// before gossip existed: three seeds in four gossip, as stations do (half of the
	// attacks on locking, below: relaying thwarts the split views they need, and the
	// seeds without it keep finding the bugs those views expose).
	gossip := rand.New(rand.NewPCG(seed, 0x90551b)).IntN(4)
	cfg.Gossip = gossip > 0
	cfg.Partitions = rng.IntN(len(partNames))
	cfg.Faults = simnet.Faults{
		LossPerMille:   []int{0, 20, 100, 250}[rng.IntN(4)],
		DupPerMille:    []int{0, 50, 200}[rng.IntN(3)],
		ReplayPerMille: []int{0, 20, 100}[rng.IntN(3)],
		MinDelay:       time.Millisecond,
		MaxDelay:       []time.Duration{20 * time.Millisecond, 200 * time.Millisecond, 1500 * time.Millisecond}[rng.IntN(3)],
	}
	switch rng.IntN(8) {
	case 0, 1:
		// An attack on locking: f validators split their votes so that honest nodes
		// lock on different values in different rounds, then propose stale or forged
		// POL rounds; a network that delivers most messages lets the pattern form.
		clear(cfg.Byz)
		clear(cfg.Wipers)
		cfg.Gossip = gossip >= 2
		for _, id := range perm[:f] {
			cfg.Byz[id] = byzBadPOL | byzLockSplit
			if rng.IntN(2) == 0 {
				cfg.Byz[id] |= byzAmnesia
			}
		}
		cfg.Partitions = []int{partNone, partNone, partAsymmetric}[rng.IntN(3)]
		cfg.Faults.LossPerMille = []int{0, 20, 50}[rng.IntN(3)]
		cfg.Faults.MaxDelay = []time.Duration{20 * time.Millisecond, 200 * time.Millisecond}[rng.IntN(2)]
	case 2:
		// Honest nodes that lose their WAL right after locking, and peers that echo
		// their votes back: the lock must come back from their own precommit.
		clear(cfg.Byz)
		clear(cfg.Wipers)
		for _, id := range perm[:f] {
			cfg.Wipers[id] = true
		}
		cfg.Crashes, cfg.LockCrash, cfg.Unguarded = true, true, false
		cfg.Partitions = []int{partAsymmetric, partRotating, partMixed}[rng.IntN(3)]
	}
	return cfg
}

// packet is what the simulated network carries: an encoded bft.Message, an encoded
// bft.Have (have), or a block-sync request (both nil) for decisions syncFrom..syncTo-1.
type packet struct {
	data             []byte
	have             []byte
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
	cfg   simConfig
	rng   *rand.Rand
	clock *simnet.Clock
	net   *simnet.Network[packet]
	privs []ed25519.PrivateKey
	vals  *bft.ValidatorSet
	nodes []*simNode
	check *checker
	locks *lockChecker
	// splitTarget: the node the Byzantine validators show their vote for a value to.
	splitTarget map[voteKey]int
	healed      bool
	trace       []string // the last events, printed when a run fails
	stats       simStats
	stopped     bool
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
	s.locks = newLockChecker(s.check, vals, cfg.N)
	s.splitTarget = make(map[voteKey]int)
	s.net = simnet.New(s.clock, s.rng, cfg.N, s.deliver)
	s.net.SetFaults(cfg.Faults)
	for i := range cfg.N {
		n := &simNode{s: s, id: i, byz: cfg.Byz[i], served: make(map[[2]uint64]time.Duration),
			durable: make(map[string]bool), sentOwn: make(map[string]bool),
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
	if p.have != nil {
		n.onHave(from, p.have)
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
	s       *sim
	id      int
	byz     byzKind
	honest  bool
	core    *bft.Core
	drv     *bft.Driver
	signer  *guardSigner
	wal     []walRecord
	durable map[string]bool // the records of wal that are flushed
	sentOwn map[string]bool // own messages that have left the node (any life)
	// signedNow: the core call being carried out produced messages of ours.
	signedNow bool
	segment   uint64         // the WAL segment records are appended to
	store     []bft.Decision // committed decisions: durable
	up        bool
	inc       int // incarnation: timers of an earlier life are ignored
	sender    int // the peer whose message is being processed, -1 if none
	served    map[[2]uint64]time.Duration

	// rec, if set, records every call of the node's first core (until it crashes).
	rec *callLog

	// Byzantine bookkeeping, by (height, round).
	altHash map[[2]uint64]bft.Hash
	sides   map[[2]uint64][]bool

	// Gossip (simConfig.Gossip): what the node knows of each peer, reset at boot.
	peers []simPeer
	ticks int
}

// errSimCrash stops a node's driver at a crash point.
var errSimCrash = errors.New("simulated crash")

// boot starts (or restarts) the node: a fresh core at the store's height + 1, then the
// WAL replayed into it by the driver, exactly as the station engine does.
func (n *simNode) boot() {
	s := n.s
	n.up = true
	n.inc++
	n.sender = -1
	s.net.SetDown(n.id, false)
	n.peers = make([]simPeer, s.cfg.N)
	for i := range n.peers {
		n.peers[i].sent = make(map[bft.ItemKey]int)
	}
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
	n.drv = bft.NewDriver(core, simHost{n}, n.crashPoint)
	s.locks.newLife(n.id)
	bft.ObserveDriver(n.drv, n.observe)
	var last *bft.Decision
	if len(n.store) > 0 {
		last = &n.store[len(n.store)-1]
	}
	var records []bft.WALRecord
	for _, rec := range n.wal {
		if rec.segment > uint64(len(n.store)) {
			records = append(records, bft.WALRecord{Segment: rec.segment, Data: rec.data})
		}
	}
	if err := n.drv.Recover(last, records); err != nil {
		if !errors.Is(err, errSimCrash) {
			s.check.fail("v%d: recovery: %v", n.id, err)
		}
		return
	}
	s.locks.booted(n.id, n.core)
	s.tracef("v%d boot at h%d (replayed %d records) %+v", n.id, n.core.Height(), len(records), n.core.State())
	n.drv.Resume()
	if req, ok := n.core.PendingProposal(); ok {
		n.scheduleProposal(req)
	}
	if req, ok := n.core.Behind(); ok {
		n.requestSync(req)
	}
	n.scheduleWork()
	if s.cfg.DoubleCrash && !s.healed && s.rng.IntN(3) == 0 {
		// Crash again soon: before or after the replay's votes are sent and new ones
		// logged.
		inc := n.inc
		s.clock.After(time.Duration(s.rng.IntN(800))*time.Millisecond, func() {
			if n.up && n.inc == inc && !s.healed {
				n.crashAndReboot(true)
			}
		})
	}
}

// observe runs after every call the driver makes of the node's core.
func (n *simNode) observe(call string, in bft.Input, rd bft.Ready) {
	kind := map[string]callKind{"start": callStart, "syncto": callSync, "step": callStep, "advance": callAdvance}[call]
	n.record(kind, in, rd)
	n.signedNow = len(rd.Messages) > 0
	for _, m := range rd.Messages {
		n.s.locks.learn(n.id, m, true) // what it produced, it knows
	}
	if n.honest {
		n.s.locks.afterCall(n.id, n.core, in, rd, n.drv.Replaying())
	}
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
		clear(n.durable)
		s.stats.Wipes++
		s.locks.wiped(n.id)
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

// crashAndReboot crashes the node now and restarts it a little later (during the fault
// phase; heal restarts every node still down).
func (n *simNode) crashAndReboot(mid bool) {
	s := n.s
	n.crash(mid)
	down := time.Duration(200+s.rng.IntN(3000)) * time.Millisecond
	s.clock.After(down, func() {
		if !n.up && !s.healed {
			n.boot()
		}
	})
}

// input feeds one input to the node through its driver.
func (n *simNode) input(in bft.Input) {
	if !n.up {
		return
	}
	if m, ok := in.(bft.Message); ok {
		n.s.locks.learn(n.id, m, false)
	}
	h, r := n.core.Height(), n.core.Round()
	if err := n.drv.Step(in); err != nil && !errors.Is(err, errSimCrash) {
		n.s.check.fail("v%d: %v", n.id, err)
	}
	// A gossiping node tells its peers when it moves to another round of its height,
	// as a station does.
	if n.s.cfg.Gossip && n.honest && n.up && n.core != nil && n.core.Height() == h && n.core.Round() != r {
		inv := n.core.Inventory()
		n.broadcastHave(&inv)
	}
}

func (n *simNode) flushWAL() {
	if n.s.cfg.brokenWAL {
		return
	}
	for i := len(n.wal) - 1; i >= 0 && !n.wal[i].flushed; i-- {
		n.wal[i].flushed = true
		n.durable[string(n.wal[i].data)] = true
	}
}

// crashPoint is the driver's crash hook: an honest node may die at any crash point
// during the fault phase (rarely where every input passes, more often at the rarer
// points).
func (n *simNode) crashPoint(point string) error {
	s := n.s
	if !n.honest || !s.cfg.Crashes || s.healed {
		return nil
	}
	odds := 0
	switch point {
	case bft.PointAppended:
		odds = 3000
		if n.signedNow && s.cfg.MidCrash {
			odds = 150 // our messages are in the WAL's unsynced tail
		}
	case bft.PointSynced, bft.PointSent:
		if s.cfg.MidCrash {
			odds = 400
		}
	case bft.PointBeforeApply, bft.PointApplied:
		if s.cfg.MidCrash {
			odds = 15
		}
	case bft.PointReplay:
		if s.cfg.DoubleCrash {
			odds = 150
		}
	case bft.PointReplayed:
		if s.cfg.DoubleCrash {
			odds = 8
		}
	}
	if odds == 0 || s.rng.IntN(odds) != 0 {
		return nil
	}
	s.tracef("v%d crash point %s", n.id, point)
	n.crashAndReboot(true)
	return errSimCrash
}

// simHost is a node's bft.Host: its in-memory WAL and store, and the simulated network.
type simHost struct{ n *simNode }

func (h simHost) AppendWAL(records [][]byte) error {
	n := h.n
	if !n.honest {
		return nil
	}
	for _, r := range records {
		n.wal = append(n.wal, walRecord{data: r, segment: n.segment})
	}
	return nil
}

func (h simHost) SyncWAL() error { h.n.flushWAL(); return nil }

func (h simHost) StartSegment(height uint64) error {
	if height < h.n.segment {
		return fmt.Errorf("WAL segment %d started after segment %d", height, h.n.segment)
	}
	h.n.segment = height
	return nil
}

func (h simHost) Apply(d bft.Decision) error { h.n.commit(d); return nil }

func (h simHost) Send(m bft.Message) { h.n.send(m) }

// Rest carries out the rest of a Ready, as the station does: evidence (checked here),
// timers, proposal requests, sync requests, and decisions for peers that are behind.
func (h simHost) Rest(rd bft.Ready) error {
	n := h.n
	s := n.s
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
	if n.drv.Replaying() {
		return nil
	}
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
	if rd.Commit != nil {
		n.scheduleWork()
		if s.cfg.Gossip && n.honest {
			if inv, ok := n.core.LastInventory(); ok {
				n.broadcastHave(&inv)
			}
		}
	}
	return nil
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
	n.wal = slices.DeleteFunc(n.wal, func(r walRecord) bool {
		if r.segment <= h {
			delete(n.durable, string(r.data))
			return true
		}
		return false
	})
}

// send broadcasts one of our messages, with the Byzantine twists if any.
func (n *simNode) send(m bft.Message) {
	s := n.s
	if n.honest {
		n.checkDurable(m)
		s.check.sent(n.id, m)
		s.locks.sent(n.id, m)
		n.broadcast(m)
		n.maybeCrashAfterLock(m)
		return
	}
	switch {
	case n.byz&byzBadPOL != 0 && m.Proposal != nil && int(m.Proposal.Proposer) == n.id && m.Proposal.Round > 0 && s.rng.IntN(3) > 0:
		n.badPOL(m.Proposal)
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
	case n.byz&byzLockSplit != 0 && m.Vote != nil && int(m.Vote.Validator) == n.id && !m.Vote.BlockHash.IsZero():
		n.lockSplit(m.Vote)
	case n.byz&byzLockSplit != 0 && m.Proposal != nil && int(m.Proposal.Proposer) == n.id:
		n.withhold(m)
	default:
		n.broadcast(m)
	}
}

// checkDurable checks the rule the driver exists for: a message of ours leaves the node
// for the first time only once it is durable in the WAL.
func (n *simNode) checkDurable(m bft.Message) {
	own := (m.Vote != nil && int(m.Vote.Validator) == n.id) || (m.Proposal != nil && int(m.Proposal.Proposer) == n.id)
	if !own || n.s.cfg.noDurableCheck {
		return
	}
	rec, err := bft.EncodeInput(m)
	if err != nil || n.sentOwn[string(rec)] {
		return
	}
	n.sentOwn[string(rec)] = true
	if !n.durable[string(rec)] {
		n.s.check.fail("durability: v%d sent %s before it was durable in its WAL", n.id, m)
	}
}

// maybeCrashAfterLock crashes an honest node, now and then, right after it sent a
// precommit for a block: the moment its lock matters most across a restart.
func (n *simNode) maybeCrashAfterLock(m bft.Message) {
	s := n.s
	odds := 12
	if s.cfg.Wipers[n.id] {
		odds = 3 // the case where its lock must come back from its own precommit
	}
	if !s.cfg.LockCrash || s.healed || m.Vote == nil || m.Vote.Type != bft.Precommit || m.Vote.BlockHash.IsZero() || s.rng.IntN(odds) != 0 {
		return
	}
	inc := n.inc
	s.clock.After(time.Duration(s.rng.IntN(40))*time.Millisecond, func() {
		if n.up && n.inc == inc && !s.healed {
			n.crashAndReboot(false)
		}
	})
}

// badPOL replaces our proposal p with one whose POL round is stale or forged: the value
// of the oldest polka we know of with its real (but old) round, so that nodes locked
// later must refuse it; or a fresh value with a POL round no quorum prevoted in.
func (n *simNode) badPOL(p *bft.Proposal) {
	s := n.s
	priv := s.privs[n.id]
	k := s.locks.know(n.id)
	if vr, block, votes, ok := k.oldestPolka(p.Height, p.Round, s.vals.Quorum()); ok && s.rng.IntN(2) == 0 {
		n.broadcast(bft.Message{Proposal: signProposal(priv, p.Height, p.Round, int32(vr), block, p.Proposer)})
		for _, v := range votes {
			n.broadcast(bft.Message{Vote: v})
		}
		s.tracef("v%d proposes a stale POL r%d at h%d r%d", n.id, vr, p.Height, p.Round)
		return
	}
	vr := int32(s.rng.IntN(int(p.Round)))
	block := testBlock(p.Height, fmt.Sprintf("forged-pol-%d", s.rng.Uint32()))
	n.broadcast(bft.Message{Proposal: signProposal(priv, p.Height, p.Round, vr, block, p.Proposer)})
	// Relay a prevote for it, ours, as if it were the start of a polka.
	n.broadcast(bft.Message{Vote: signVote(priv, bft.Prevote, p.Height, uint32(vr), bft.HashValue(block), p.Proposer)})
	s.tracef("v%d proposes a forged POL r%d at h%d r%d", n.id, vr, p.Height, p.Round)
}

// lockSplit shows our vote for a block to one peer only; the others get nothing or a
// vote for nil. A polka that needs our vote then forms at one honest node only, so
// honest nodes end up locked on different values in different rounds.
func (n *simNode) lockSplit(v *bft.Vote) {
	s := n.s
	// Best: an honest node that prevoted this value (it is not locked on another).
	var cands []int
	for id := range s.locks.know(n.id).prevotes[voteKey{v.Height, v.Round, v.BlockHash}] {
		if int(id) != n.id && s.cfg.Byz[id] == 0 {
			cands = append(cands, int(id))
		}
	}
	slices.Sort(cands)
	key := voteKey{v.Height, v.Round, v.BlockHash}
	lucky, agreed := s.splitTarget[key] // the Byzantine validators collude on one target
	if !agreed {
		lucky = s.rng.IntN(s.cfg.N - 1)
		if lucky >= n.id {
			lucky++
		}
		if len(cands) > 0 {
			lucky = cands[s.rng.IntN(len(cands))]
		}
		s.splitTarget[key] = lucky
	}
	real, err := bft.EncodeMessage(bft.Message{Vote: v})
	if err != nil {
		s.check.fail("v%d: encode: %v", n.id, err)
		return
	}
	nilVote := signVote(s.privs[n.id], v.Type, v.Height, v.Round, bft.Hash{}, v.Validator)
	alt, _ := bft.EncodeMessage(bft.Message{Vote: nilVote})
	for to := range s.cfg.N {
		switch {
		case to == n.id:
		case to == lucky:
			s.net.Send(n.id, to, packet{data: real})
		case s.rng.IntN(2) == 0:
			s.net.Send(n.id, to, packet{data: alt})
		}
	}
}

// withhold shows our proposal to f+1 honest nodes only: with the Byzantine votes shown
// to one of them (lockSplit), exactly one honest node sees the polka and locks.
func (n *simNode) withhold(m bft.Message) {
	s := n.s
	data, err := bft.EncodeMessage(m)
	if err != nil {
		s.check.fail("v%d: encode: %v", n.id, err)
		return
	}
	var honest []int
	for id, k := range s.cfg.Byz {
		if k == 0 {
			honest = append(honest, id)
		}
	}
	s.rng.Shuffle(len(honest), func(i, j int) { honest[i], honest[j] = honest[j], honest[i] })
	for _, to := range honest[:min(len(honest), s.vals.F()+1)] {
		s.net.Send(n.id, to, packet{data: data})
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
			n.ticks = k
			if s.cfg.Gossip && n.honest {
				n.gossipTick()
			} else {
				for _, m := range n.core.LatestVotes() {
					n.send(m)
				}
			}
			if req, ok := n.core.Behind(); ok {
				n.requestSync(req)
			}
			if k%3 == 0 && len(n.store) > 0 {
				n.broadcast(bft.Message{Decision: &n.store[len(n.store)-1]})
			}
			if k%3 == 1 && !(s.cfg.Gossip && n.honest) {
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
		if s.cfg.Gossip {
			// An undecodable Have, and one that claims to hold nothing, so honest
			// nodes spend their budget on us.
			s.net.Broadcast(n.id, packet{have: append([]byte{0x83}, junk...)})
			n.broadcastHave(&bft.Inventory{Height: h, Round: r, N: s.cfg.N})
		}
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
	certOK    map[string]string  // encoded certificate → the block it was verified with
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
	return &checker{vals: vals, decided: make(map[uint64]decidedBy), signs: make(map[signKey][]byte), sends: make(map[signKey][]byte),
		certOK: make(map[string]string)}
}

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("invariant violated: "+format, args...)
	}
}

// committed checks agreement, certificate validity and block validity of one honest commit.
func (c *checker) committed(node int, d bft.Decision) {
	c.decisions++
	cert := string(bft.EncodeCertificate(&d.Certificate))
	if blk, ok := c.certOK[cert]; !ok || blk != string(d.Block) { // each distinct decision is verified once
		if err := d.Verify(testChainID, c.vals); err != nil {
			c.fail("v%d committed h%d without a valid certificate: %v", node, d.Height, err)
		} else {
			c.certOK[cert] = string(d.Block)
		}
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
	callSync
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
	if n.rec == nil || n.rec.done || kind == callSync {
		return
	}
	n.rec.calls = append(n.rec.calls, call{kind: kind, in: in, out: rd, signer: *n.signer.state, state: n.core.State(), latest: n.core.LatestVotes()})
}

// simPeer is what a gossiping node knows of one peer, as the station engine keeps it
// (chain/station/relay.go): its latest Have, whether that is assumed (the peer is not
// heard from), and what was sent it lately.
type simPeer struct {
	have         bft.Have
	known, guess bool
	heard        int
	sent         map[bft.ItemKey]int
	msgs         int
}

// The station's gossip schedule, in ticks.
const (
	simResendTicks = 2
	simSilentTicks = 3
	simGossipMsgs  = 64
)

func (n *simNode) broadcastHave(inv *bft.Inventory) {
	h := inv.Have()
	b, err := bft.EncodeHave(&h)
	if err != nil {
		n.s.check.fail("v%d: EncodeHave: %v", n.id, err)
		return
	}
	n.s.net.Broadcast(n.id, packet{have: b})
}

// onHave records a peer's Have and sends it what it lacks (honest gossiping nodes).
func (n *simNode) onHave(from int, data []byte) {
	h, err := bft.DecodeHave(data)
	if err != nil {
		n.s.stats.Garbage++
		return
	}
	if !n.s.cfg.Gossip || !n.honest || n.core == nil {
		return
	}
	p := &n.peers[from]
	if p.known && !p.guess && h.Height < p.have.Height {
		return
	}
	p.have, p.known, p.guess, p.heard = h, true, false, n.ticks
	n.gossipTo(from)
}

// gossipTo sends peer what its Have does not show (bft.Plan), within the tick's budget.
func (n *simNode) gossipTo(peer int) {
	p := &n.peers[peer]
	if !p.known || peer == n.id || n.core == nil {
		return
	}
	var inv bft.Inventory
	switch h := n.core.Height(); {
	case p.have.Height == h:
		inv = n.core.Inventory()
	case p.have.Height+1 == h:
		var ok bool
		if inv, ok = n.core.LastInventory(); !ok {
			return
		}
	default:
		return
	}
	lim := bft.PlanLimits{Bytes: 1 << 20, Messages: simGossipMsgs - p.msgs}
	if lim.Messages <= 0 {
		return
	}
	skip := func(k bft.ItemKey) bool {
		t, ok := p.sent[k]
		return ok && n.ticks-t < simResendTicks
	}
	for _, m := range bft.Plan(&inv, &p.have, skip, lim) {
		n.sendTo(peer, m)
		p.sent[bft.KeyOf(m)] = n.ticks
		p.msgs++
	}
}

// sendTo sends one message to one peer; our own messages pass the checks every send
// of ours does (durable first, never conflicting, justified by the locking rules).
func (n *simNode) sendTo(peer int, m bft.Message) {
	s := n.s
	own := (m.Vote != nil && int(m.Vote.Validator) == n.id) || (m.Proposal != nil && int(m.Proposal.Proposer) == n.id)
	if own {
		n.checkDurable(m)
		s.check.sent(n.id, m)
		s.locks.sent(n.id, m)
	}
	data, err := bft.EncodeMessage(m)
	if err != nil {
		s.check.fail("v%d: EncodeMessage(%s): %v", n.id, m, err)
		return
	}
	s.net.Send(n.id, peer, packet{data: data})
}

// gossipTick: our Have, then each peer what it lacks with a fresh budget; a peer not
// heard from lately is assumed to hold nothing of our height.
func (n *simNode) gossipTick() {
	inv := n.core.Inventory()
	n.broadcastHave(&inv)
	h, r := n.core.Height(), n.core.Round()
	for i := range n.peers {
		if i == n.id {
			continue
		}
		p := &n.peers[i]
		p.msgs = 0
		for k, t := range p.sent {
			if k.Height+1 < h || n.ticks-t >= simResendTicks {
				delete(p.sent, k)
			}
		}
		if !p.known || n.ticks-p.heard > simSilentTicks {
			p.have, p.known, p.guess = bft.Have{Height: h, Round: max(r, 1) - 1}, true, true
		}
		n.gossipTo(i)
	}
}
