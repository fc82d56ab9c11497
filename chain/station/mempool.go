package station

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of the mempool.
var (
	ErrInMempool    = errors.New("transaction is already waiting in the mempool")
	ErrMempoolFull  = errors.New("mempool is full; try again shortly")
	ErrPendingVoter = errors.New("another ballot of this credential is waiting to be committed")
	ErrTooLarge     = errors.New("transaction is larger than a block can hold")
)

// Mempool holds valid transactions waiting for a block, in arrival order,
// deduplicated by hash and bounded in count and bytes. It also remembers the
// credentials of pending ballots, so that a second ballot of a credential is
// refused on arrival rather than when its block fails. Safe for concurrent
// use.
type Mempool struct {
	mu       sync.Mutex
	maxTxs   int
	maxBytes int
	bytes    int
	seq      uint64
	byHash   map[[32]byte]*poolEntry
	byCred   map[[32]byte][32]byte // credential → hash of its pending ballot
	order    []*poolEntry          // arrival order; removed entries are skipped and compacted
	removed  int
}

type poolEntry struct {
	hash    [32]byte
	raw     []byte
	cred    *[32]byte
	seq     uint64
	removed bool
	relayAt time.Time // when to pass it on if it is still waiting (zero: not to)
}

// NewMempool returns an empty mempool of at most maxTxs transactions and
// maxBytes bytes.
func NewMempool(maxTxs, maxBytes int) *Mempool {
	return &Mempool{maxTxs: maxTxs, maxBytes: maxBytes, byHash: map[[32]byte]*poolEntry{}, byCred: map[[32]byte][32]byte{}}
}

// Add admits a transaction that passed its checks. cred is the credential
// of a ballot (nil for other kinds).
func (m *Mempool) Add(hash [32]byte, raw []byte, cred *[32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byHash[hash]; ok {
		return ErrInMempool
	}
	if cred != nil {
		if other, ok := m.byCred[*cred]; ok {
			return fmt.Errorf("%w (%x…)", ErrPendingVoter, other[:4])
		}
	}
	if len(raw) > m.maxBytes {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw))
	}
	if len(m.byHash) >= m.maxTxs || m.bytes+len(raw) > m.maxBytes {
		return fmt.Errorf("%w: %d transactions, %d bytes", ErrMempoolFull, len(m.byHash), m.bytes)
	}
	m.seq++
	e := &poolEntry{hash: hash, raw: raw, cred: cred, seq: m.seq}
	m.byHash[hash] = e
	if cred != nil {
		m.byCred[*cred] = hash
	}
	m.order = append(m.order, e)
	m.bytes += len(raw)
	return nil
}

// Has reports whether a transaction is waiting.
func (m *Mempool) Has(hash [32]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byHash[hash]
	return ok
}

// Remove drops transactions (committed, or found invalid).
func (m *Mempool) Remove(hashes ...[32]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range hashes {
		e, ok := m.byHash[h]
		if !ok {
			continue
		}
		delete(m.byHash, h)
		if e.cred != nil {
			delete(m.byCred, *e.cred)
		}
		e.removed = true
		m.removed++
		m.bytes -= len(e.raw)
	}
	if m.removed > len(m.order)/2 {
		kept := m.order[:0]
		for _, e := range m.order {
			if !e.removed {
				kept = append(kept, e)
			}
		}
		clear(m.order[len(kept):])
		m.order = kept
		m.removed = 0
	}
}

// Reap returns the oldest waiting transactions that fit in maxTxs and
// maxBytes, in arrival order, without removing them.
func (m *Mempool) Reap(maxTxs, maxBytes int) (raws [][]byte, hashes [][32]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	size := 0
	for _, e := range m.order {
		if e.removed {
			continue
		}
		if len(raws) == maxTxs || size+len(e.raw) > maxBytes {
			break
		}
		raws = append(raws, e.raw)
		hashes = append(hashes, e.hash)
		size += len(e.raw)
	}
	return raws, hashes
}

// Len is the number of waiting transactions and their bytes.
func (m *Mempool) Len() (txs, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byHash), m.bytes
}

// RelayLater marks a waiting transaction to be passed on at time at, if it
// is still waiting then (see DueRelays).
func (m *Mempool) RelayLater(hash [32]byte, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byHash[hash]; ok {
		e.relayAt = at
	}
}

// DueRelays returns, in arrival order, the waiting transactions marked by
// RelayLater whose time has come by now, and unmarks them: each is
// returned once.
func (m *Mempool) DueRelays(now time.Time) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, e := range m.order {
		if !e.removed && !e.relayAt.IsZero() && !e.relayAt.After(now) {
			out = append(out, e.raw)
			e.relayAt = time.Time{}
		}
	}
	return out
}
