package chain

import (
	"sync"

	"github.com/urna-vote/urna/ballot"
)

// VerifiedCache remembers ballots whose cryptography verified, so that a
// ballot checked when it entered the mempool is not checked again when its
// block is validated and applied. It only ever saves work: a ballot it does
// not know is verified in full, so what it holds never changes a validity
// decision. Entries are keyed by election key and ballot hash, and the
// oldest are forgotten past the capacity. Safe for concurrent use.
type VerifiedCache struct {
	mu    sync.Mutex
	cap   int
	set   map[cacheKey]struct{}
	order []cacheKey
	next  int
}

type cacheKey struct {
	election [ballot.PointSize]byte
	ballot   [32]byte
}

// NewVerifiedCache returns a cache of at most capacity ballots.
func NewVerifiedCache(capacity int) *VerifiedCache {
	return &VerifiedCache{cap: capacity, set: make(map[cacheKey]struct{}, capacity)}
}

// Contains reports whether the ballot with this hash verified under e.
func (c *VerifiedCache) Contains(e *ballot.Election, hash [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.set[cacheKey{e.KeyBytes, hash}]
	return ok
}

// Add records that the ballot with this hash verified under e.
func (c *VerifiedCache) Add(e *ballot.Election, hash [32]byte) {
	k := cacheKey{e.KeyBytes, hash}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[k]; ok || c.cap == 0 {
		return
	}
	if len(c.order) < c.cap {
		c.order = append(c.order, k)
	} else {
		delete(c.set, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % c.cap
	}
	c.set[k] = struct{}{}
}

// Capacity is the most ballots the cache remembers.
func (c *VerifiedCache) Capacity() int { return c.cap }

// Reset forgets every entry.
func (c *VerifiedCache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.set)
	c.order = c.order[:0]
	c.next = 0
}
