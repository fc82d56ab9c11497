// Package simnet is a deterministic simulated clock and network for testing
// distributed code: one seed decides every delay, loss, duplication, replay and
// partition, so a failing run replays exactly. It knows nothing of consensus; the
// consensus simulator of chain/bft and the station tests drive it with their own
// message types.
package simnet

import (
	"container/heap"
	"time"
)

// Clock is simulated time: a queue of events run in order of (time, scheduling order).
// Nothing runs concurrently; an event's function may schedule more events.
type Clock struct {
	now    time.Duration
	seq    uint64
	events eventQueue
}

// Timer is a scheduled event; Stop cancels it if it has not run.
type Timer struct {
	at      time.Duration
	seq     uint64
	fn      func()
	stopped bool
}

// Stop cancels the event. It reports whether the event had not run or been stopped yet.
func (t *Timer) Stop() bool {
	if t.stopped || t.fn == nil {
		return false
	}
	t.stopped = true
	return true
}

// NewClock returns a clock at time 0 with no events.
func NewClock() *Clock { return &Clock{} }

// Now is the current simulated time since the start.
func (c *Clock) Now() time.Duration { return c.now }

// After schedules fn to run d from now (d < 0 counts as 0).
func (c *Clock) After(d time.Duration, fn func()) *Timer {
	return c.At(c.now+max(d, 0), fn)
}

// At schedules fn at time t (a time in the past runs next, at the current time).
func (c *Clock) At(t time.Duration, fn func()) *Timer {
	c.seq++
	tm := &Timer{at: max(t, c.now), seq: c.seq, fn: fn}
	heap.Push(&c.events, tm)
	return tm
}

// Pending is the number of scheduled events, stopped ones included.
func (c *Clock) Pending() int { return len(c.events) }

// Next is the time of the next event, if any.
func (c *Clock) Next() (time.Duration, bool) {
	if len(c.events) == 0 {
		return 0, false
	}
	return c.events[0].at, true
}

// Step runs the next event that was not stopped and reports whether there was one.
func (c *Clock) Step() bool {
	for len(c.events) > 0 {
		tm := heap.Pop(&c.events).(*Timer)
		if tm.stopped {
			continue
		}
		c.now = tm.at
		fn := tm.fn
		tm.fn = nil
		fn()
		return true
	}
	return false
}

// RunUntil runs every event scheduled up to and including time t, calling check after
// each one; it stops at the first error check returns. Time is t afterwards (unless
// stopped by an error).
func (c *Clock) RunUntil(t time.Duration, check func() error) error {
	for len(c.events) > 0 && c.events[0].at <= t {
		if !c.Step() {
			break
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
	}
	if c.now < t {
		c.now = t
	}
	return nil
}

type eventQueue []*Timer

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*Timer)) }
func (q *eventQueue) Pop() any {
	old := *q
	tm := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return tm
}
