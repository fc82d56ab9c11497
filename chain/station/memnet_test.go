package station

import (
	"math/rand/v2"
	"sync"
	"time"
)

// memNet is an in-memory network between stations with the faults of the
// consensus simulator: loss, delay (and so reordering), directed link cuts,
// partitions, and stations that are down. Fault decisions come from a
// seeded generator; delivery happens on timers, so a test's schedule is not
// exactly reproducible, but its faults are.
type memNet struct {
	mu       sync.Mutex
	n        int
	inbox    []chan Packet
	down     []bool
	cut      [][]bool
	loss     int // per mille
	maxDelay time.Duration
	rng      *rand.Rand
	onSend   func(from, to int, ch Channel, data []byte)
	tamper   map[int]func(to int, ch Channel, data []byte) [][]byte
	sent     [8]int // test-only counter: messages stations sent, per channel
}

// sentOn returns how many messages were sent on ch so far.
func (m *memNet) sentOn(ch Channel) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent[ch]
}

func newMemNet(n int, seed uint64) *memNet {
	m := &memNet{n: n, rng: rand.New(rand.NewPCG(seed, 99)), tamper: map[int]func(int, Channel, []byte) [][]byte{}}
	m.inbox = make([]chan Packet, n)
	m.down = make([]bool, n)
	m.cut = make([][]bool, n)
	for i := range n {
		m.inbox[i] = make(chan Packet, 1<<14)
		m.cut[i] = make([]bool, n)
	}
	return m
}

// endpoint is station i's Transport.
type endpoint struct {
	net   *memNet
	i     int
	inbox chan Packet
}

// attach gives station i a fresh inbox (a restarted station does not see
// what was queued for its previous life) and returns its transport.
func (m *memNet) attach(i int) *endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inbox[i] = make(chan Packet, 1<<14)
	m.down[i] = false
	return &endpoint{net: m, i: i, inbox: m.inbox[i]}
}

func (m *memNet) setDown(i int, down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down[i] = down
}

// partition cuts every link between the groups (stations in no group keep
// their links).
func (m *memNet) partition(groups ...[]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	group := make([]int, m.n)
	for i := range group {
		group[i] = -1
	}
	for g, members := range groups {
		for _, i := range members {
			group[i] = g
		}
	}
	for a := range m.n {
		for b := range m.n {
			m.cut[a][b] = group[a] >= 0 && group[b] >= 0 && group[a] != group[b]
		}
	}
}

func (m *memNet) heal() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a := range m.n {
		clear(m.cut[a])
	}
}

func (m *memNet) setFaults(lossPerMille int, maxDelay time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loss, m.maxDelay = lossPerMille, maxDelay
}

func (m *memNet) send(from, to int, ch Channel, data []byte) {
	m.mu.Lock()
	if int(ch) < len(m.sent) {
		m.sent[ch]++
	}
	if m.onSend != nil {
		m.onSend(from, to, ch, data)
	}
	payloads := [][]byte{data}
	if t := m.tamper[from]; t != nil {
		payloads = t(to, ch, data)
	}
	if m.down[from] || m.down[to] || m.cut[from][to] {
		m.mu.Unlock()
		return
	}
	for _, p := range payloads {
		if m.loss > 0 && m.rng.IntN(1000) < m.loss {
			continue
		}
		var delay time.Duration
		if m.maxDelay > 0 {
			delay = time.Duration(m.rng.Int64N(int64(m.maxDelay)))
		}
		inbox := m.inbox[to]
		pk := Packet{From: from, Channel: ch, Data: p}
		deliver := func() {
			select {
			case inbox <- pk:
			default: // a full inbox drops, as a congested link would
			}
		}
		if delay == 0 {
			deliver()
		} else {
			time.AfterFunc(delay, deliver)
		}
	}
	m.mu.Unlock()
}

func (e *endpoint) Send(to int, ch Channel, data []byte) { e.net.send(e.i, to, ch, data) }

func (e *endpoint) Broadcast(ch Channel, data []byte) {
	for to := range e.net.n {
		if to != e.i {
			e.net.send(e.i, to, ch, data)
		}
	}
}

func (e *endpoint) Receive() <-chan Packet { return e.inbox }

func (e *endpoint) Peers() []int {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	var out []int
	for j := range e.net.n {
		if j != e.i && !e.net.down[j] && !e.net.cut[e.i][j] {
			out = append(out, j)
		}
	}
	return out
}
