package limit

import (
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBucket(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := New(10, 5, c.now)
	for i := range 5 {
		if v := b.Take(1); v != Allow {
			t.Fatalf("message %d of the burst: %v", i, v)
		}
	}
	// Over the rate: dropped, and in debt.
	for i := range 5 {
		if v := b.Take(1); v != Drop {
			t.Fatalf("message %d over the burst: %v, want drop", i, v)
		}
	}
	if v := b.Take(1); v != Cut {
		t.Fatalf("message past a second burst of debt: %v, want cut", v)
	}
	// Time pays the debt back: after a second the bucket is full again.
	c.t = c.t.Add(2 * time.Second)
	if v := b.Take(1); v != Allow {
		t.Fatalf("after the refill: %v", v)
	}
	// A sender at exactly the rate is never dropped.
	b = New(10, 5, c.now)
	for range 1000 {
		c.t = c.t.Add(100 * time.Millisecond)
		if v := b.Take(1); v != Allow {
			t.Fatalf("a sender at the rate: %v", v)
		}
	}
	// A sender at twice the rate is dropped, then cut.
	b = New(10, 5, c.now)
	var drops int
	for i := range 1000 {
		c.t = c.t.Add(50 * time.Millisecond)
		v := b.Take(1)
		if v == Drop {
			drops++
		}
		if v == Cut {
			if drops == 0 {
				t.Fatal("cut without dropping first")
			}
			return
		}
		if i == 999 {
			t.Fatal("a sender at twice the rate is never cut")
		}
	}
}
