package station

import (
	"errors"
	"testing"
	"time"
)

func h(b byte) [32]byte { return [32]byte{b} }

func TestMempool(t *testing.T) {
	m := NewMempool(3, 100)
	c1 := [32]byte{9}
	if err := m.Add(h(1), make([]byte, 10), &c1); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(h(1), make([]byte, 10), nil); !errors.Is(err, ErrInMempool) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := m.Add(h(2), make([]byte, 10), &c1); !errors.Is(err, ErrPendingVoter) {
		t.Fatalf("second ballot of a credential: %v", err)
	}
	if err := m.Add(h(3), make([]byte, 101), nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	m.Add(h(4), make([]byte, 50), nil)
	if err := m.Add(h(5), make([]byte, 50), nil); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("over the byte bound: %v", err)
	}
	m.Add(h(6), make([]byte, 5), nil)
	if err := m.Add(h(7), make([]byte, 1), nil); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("over the count bound: %v", err)
	}
	raws, hashes := m.Reap(2, 100)
	if len(raws) != 2 || hashes[0] != h(1) || hashes[1] != h(4) {
		t.Fatalf("reap: %v", hashes)
	}
	if _, hs := m.Reap(10, 59); len(hs) != 1 {
		t.Fatalf("reap respects bytes: %v", hs)
	}
	m.Remove(h(1), h(4))
	if n, b := m.Len(); n != 1 || b != 5 {
		t.Fatalf("after remove: %d txs %d bytes", n, b)
	}
	// The credential is free again.
	if err := m.Add(h(2), make([]byte, 10), &c1); err != nil {
		t.Fatalf("credential after its ballot left: %v", err)
	}
	if _, hs := m.Reap(10, 100); len(hs) != 2 || hs[0] != h(6) || hs[1] != h(2) {
		t.Fatalf("order after compaction: %v", hs)
	}
}

func TestMempoolRelays(t *testing.T) {
	m := NewMempool(10, 1000)
	t0 := time.Unix(1000, 0)
	for i := byte(1); i <= 4; i++ {
		if err := m.Add(h(i), []byte{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	m.RelayLater(h(1), t0.Add(time.Second))
	m.RelayLater(h(2), t0.Add(3*time.Second))
	m.RelayLater(h(3), t0.Add(time.Second))
	m.RelayLater(h(9), t0) // not waiting: nothing to mark
	m.Remove(h(3))         // committed before its time: not relayed
	if got := m.DueRelays(t0); len(got) != 0 {
		t.Fatalf("due before their time: %v", got)
	}
	if got := m.DueRelays(t0.Add(time.Second)); len(got) != 1 || got[0][0] != 1 {
		t.Fatalf("due at +1 s: %v, want [1]", got)
	}
	if got := m.DueRelays(t0.Add(2 * time.Second)); len(got) != 0 {
		t.Fatalf("relayed twice or early: %v", got)
	}
	if got := m.DueRelays(t0.Add(time.Hour)); len(got) != 1 || got[0][0] != 2 {
		t.Fatalf("due at +1 h: %v, want [2]", got)
	}
}
