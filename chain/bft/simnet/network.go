package simnet

import (
	"math/rand/v2"
	"time"
)

// Faults are the network's misbehaviours, drawn per message from the network's seeded
// source. Rates are in parts per thousand.
type Faults struct {
	// LossPerMille of messages are never delivered.
	LossPerMille int
	// DupPerMille of messages are delivered twice, each copy with its own delay.
	DupPerMille int
	// ReplayPerMille of sends also re-deliver an old message (one of the last
	// HistorySize sent), as a network or an attacker replaying traffic would.
	ReplayPerMille int
	// Each delivery is delayed uniformly in [MinDelay, MaxDelay]; different delays
	// reorder messages.
	MinDelay, MaxDelay time.Duration
}

// HistorySize is how many sent messages the network remembers for replays.
const HistorySize = 256

// Stats counts what the network did.
type Stats struct {
	Sent, Delivered, Lost, Blocked, Duplicated, Replayed, ToDown int
}

type sent[M any] struct {
	from, to int
	msg      M
}

// Network delivers messages of type M among nodes 0..n-1 through a Clock, applying
// Faults, blocked links (partitions) and down nodes. All randomness comes from the
// *rand.Rand it is given, in a fixed order, so a seed replays exactly.
type Network[M any] struct {
	clock   *Clock
	rng     *rand.Rand
	n       int
	deliver func(from, to int, msg M)
	faults  Faults
	blocked [][]bool // blocked[from][to]
	down    []bool
	history []sent[M]
	histPos int
	stats   Stats
}

// New returns a network of n nodes that calls deliver(from, to, msg) on the clock when a
// message arrives at a node that is up.
func New[M any](clock *Clock, rng *rand.Rand, n int, deliver func(from, to int, msg M)) *Network[M] {
	net := &Network[M]{clock: clock, rng: rng, n: n, deliver: deliver, down: make([]bool, n)}
	net.blocked = make([][]bool, n)
	for i := range net.blocked {
		net.blocked[i] = make([]bool, n)
	}
	return net
}

// N is the number of nodes.
func (net *Network[M]) N() int { return net.n }

// SetFaults replaces the fault settings.
func (net *Network[M]) SetFaults(f Faults) { net.faults = f }

// Faults returns the fault settings.
func (net *Network[M]) Faults() Faults { return net.faults }

// Stats returns the counters.
func (net *Network[M]) Stats() Stats { return net.stats }

// SetDown marks a node crashed (messages to it are lost) or back up.
func (net *Network[M]) SetDown(node int, down bool) { net.down[node] = down }

// IsDown reports whether node is marked down.
func (net *Network[M]) IsDown(node int) bool { return net.down[node] }

// Block cuts the directed link from -> to (an asymmetric partition when only one
// direction is cut).
func (net *Network[M]) Block(from, to int) { net.blocked[from][to] = true }

// Unblock restores the directed link from -> to.
func (net *Network[M]) Unblock(from, to int) { net.blocked[from][to] = false }

// Blocked reports whether the directed link from -> to is cut.
func (net *Network[M]) Blocked(from, to int) bool { return net.blocked[from][to] }

// Partition cuts every link between nodes of different groups, in both directions.
// Nodes in no group are cut off from everyone. Links inside a group are restored.
func (net *Network[M]) Partition(groups ...[]int) {
	group := make([]int, net.n)
	for i := range group {
		group[i] = -1 - i // alone
	}
	for g, nodes := range groups {
		for _, x := range nodes {
			group[x] = g
		}
	}
	for a := range net.n {
		for b := range net.n {
			net.blocked[a][b] = a != b && group[a] != group[b]
		}
	}
}

// Heal restores every link (down nodes stay down).
func (net *Network[M]) Heal() {
	for a := range net.blocked {
		clear(net.blocked[a])
	}
}

// Broadcast sends msg from one node to every other node.
func (net *Network[M]) Broadcast(from int, msg M) {
	for to := range net.n {
		if to != from {
			net.Send(from, to, msg)
		}
	}
}

// Send sends msg over the link from -> to, subject to the faults.
func (net *Network[M]) Send(from, to int, msg M) {
	net.stats.Sent++
	f := net.faults
	if net.chance(f.ReplayPerMille) && len(net.history) > 0 {
		old := net.history[net.rng.IntN(len(net.history))]
		net.stats.Replayed++
		net.transmit(old.from, old.to, old.msg)
	}
	net.remember(from, to, msg)
	if net.chance(f.DupPerMille) {
		net.stats.Duplicated++
		net.transmit(from, to, msg)
	}
	net.transmit(from, to, msg)
}

func (net *Network[M]) remember(from, to int, msg M) {
	if len(net.history) < HistorySize {
		net.history = append(net.history, sent[M]{from, to, msg})
		return
	}
	net.history[net.histPos] = sent[M]{from, to, msg}
	net.histPos = (net.histPos + 1) % HistorySize
}

func (net *Network[M]) transmit(from, to int, msg M) {
	if net.blocked[from][to] {
		net.stats.Blocked++
		return
	}
	if net.chance(net.faults.LossPerMille) {
		net.stats.Lost++
		return
	}
	net.clock.After(net.delay(), func() {
		if net.down[to] {
			net.stats.ToDown++
			return
		}
		net.stats.Delivered++
		net.deliver(from, to, msg)
	})
}

func (net *Network[M]) delay() time.Duration {
	lo, hi := net.faults.MinDelay, net.faults.MaxDelay
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(net.rng.Int64N(int64(hi-lo)+1))
}

func (net *Network[M]) chance(perMille int) bool {
	return perMille > 0 && net.rng.IntN(1000) < perMille
}
