// Package limit holds the rate limiter that guards every connection of a
// node: a token bucket that, beyond dropping what exceeds the rate, tells
// the caller when a sender keeps exceeding it so much that it should be cut
// off.
package limit

import (
	"sync"
	"time"
)

// Verdict is what a Bucket says about one message.
type Verdict int

// The verdicts.
const (
	// Allow: within the rate.
	Allow Verdict = iota
	// Drop: over the rate; drop the message, the sender may slow down.
	Drop
	// Cut: the sender has gone on sending far over the rate (its debt
	// exceeds a second burst): close the connection.
	Cut
)

func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case Drop:
		return "drop"
	case Cut:
		return "cut"
	}
	return "verdict(?)"
}

// Bucket is a token bucket that may go into debt. It holds at most burst
// tokens and gains rate tokens per second. A message takes its cost in
// tokens; when the bucket is short, the message is dropped but its cost is
// still taken, so a sender that does not slow down sinks into debt, and
// when the debt passes burst it is cut off. A sender over the rate for a
// moment loses messages; one that floods is disconnected. Safe for
// concurrent use.
type Bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

// New returns a full bucket. now is the clock (nil: time.Now).
func New(rate, burst float64, now func() time.Time) *Bucket {
	if now == nil {
		now = time.Now
	}
	return &Bucket{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

// Take charges cost tokens and says what to do with the message.
func (b *Bucket) Take(cost float64) Verdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
	}
	b.last = now
	b.tokens -= cost
	switch {
	case b.tokens >= 0:
		return Allow
	case b.tokens >= -b.burst:
		return Drop
	}
	return Cut
}
