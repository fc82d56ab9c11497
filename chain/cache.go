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
//
// For the most recent ballots it also keeps their ciphertexts as the
// verification decoded them (AddDecoded), so that counting the ballot when
// its block is applied does not decompress its points a second time.
type VerifiedCache struct {
	mu    sync.Mutex
	cap   int
	set   map[cacheKey]struct{}
	order []cacheKey
	next  int

	decoded      map[[32]byte]decodedBallot
	decodedOrder [][32]byte
	decodedNext  int
}

// decodedBallot is a verified ballot as admission decoded it.
type decodedBallot struct {
	b   *ballot.Ballot
	cts [][]ballot.DecodedCiphertext
}

// DecodedCapacity is how many decoded ballots the cache keeps: about 4 KB
// each for a 1 × 5 ballot with its decoded ciphertexts, so 16 MB in all. It covers the
// ballots admitted in the seconds before their block, at any rate a
// station sustains; a ballot no longer held is decoded again, which costs
// time, never a different result.
const DecodedCapacity = 4096

type cacheKey struct {
	election [ballot.PointSize]byte
	ballot   [32]byte
}

// NewVerifiedCache returns a cache of at most capacity ballots.
func NewVerifiedCache(capacity int) *VerifiedCache {
	return &VerifiedCache{cap: capacity, set: make(map[cacheKey]struct{}, capacity),
		decoded: make(map[[32]byte]decodedBallot, min(capacity, DecodedCapacity))}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(e, hash)
}

func (c *VerifiedCache) addLocked(e *ballot.Election, hash [32]byte) {
	k := cacheKey{e.KeyBytes, hash}
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

// AddDecoded records that the ballot b with this hash verified under e,
// with its ciphertexts decoded (ballot.Election.VerifyAndDecodeBallots);
// nil cts records the verdict alone. b must not be changed afterwards.
func (c *VerifiedCache) AddDecoded(e *ballot.Election, hash [32]byte, b *ballot.Ballot, cts [][]ballot.DecodedCiphertext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(e, hash)
	if b == nil || cts == nil {
		return
	}
	limit := min(c.cap, DecodedCapacity)
	if _, ok := c.decoded[hash]; ok || limit == 0 {
		return
	}
	if len(c.decodedOrder) < limit {
		c.decodedOrder = append(c.decodedOrder, hash)
	} else {
		delete(c.decoded, c.decodedOrder[c.decodedNext])
		c.decodedOrder[c.decodedNext] = hash
		c.decodedNext = (c.decodedNext + 1) % limit
	}
	c.decoded[hash] = decodedBallot{b, cts}
}

// Decoded returns the ballot with this hash and its ciphertexts as
// admission decoded them, if the cache still holds them (for
// ballot.DecodeBallotsKnown). The same bytes decode to the same ballot and
// points whatever the election, so the hash alone is the key.
func (c *VerifiedCache) Decoded(hash [32]byte) (*ballot.Ballot, [][]ballot.DecodedCiphertext, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.decoded[hash]
	return d.b, d.cts, ok
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
	clear(c.decoded)
	c.decodedOrder = c.decodedOrder[:0]
	c.decodedNext = 0
}
