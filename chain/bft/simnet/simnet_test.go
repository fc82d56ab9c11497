package simnet

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestClockOrder(t *testing.T) {
	c := NewClock()
	var got []int
	c.After(2*time.Second, func() { got = append(got, 3) })
	c.After(time.Second, func() {
		got = append(got, 1)
		c.After(0, func() { got = append(got, 2) }) // same time, runs after already queued ones
	})
	stopped := c.After(time.Second, func() { got = append(got, 99) })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once")
	}
	if err := c.RunUntil(10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("order %v", got)
	}
	if c.Now() != 10*time.Second {
		t.Fatalf("now %v", c.Now())
	}
}

// run sends 200 messages 0 -> 1 with the given faults and returns what arrived.
func run(seed uint64, f Faults, setup func(*Network[int])) ([]int, Stats) {
	c := NewClock()
	var got []int
	net := New(c, rand.New(rand.NewPCG(seed, 1)), 3, func(from, to int, m int) { got = append(got, m) })
	net.SetFaults(f)
	if setup != nil {
		setup(net)
	}
	for i := range 200 {
		net.Send(0, 1, i)
	}
	_ = c.RunUntil(time.Minute, nil)
	return got, net.Stats()
}

func TestNetworkDeterministic(t *testing.T) {
	f := Faults{LossPerMille: 100, DupPerMille: 100, ReplayPerMille: 50, MinDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}
	a, sa := run(7, f, nil)
	b, sb := run(7, f, nil)
	if !slices.Equal(a, b) || sa != sb {
		t.Fatal("same seed, different runs")
	}
	c, _ := run(8, f, nil)
	if slices.Equal(a, c) {
		t.Fatal("different seeds, identical runs")
	}
	if sa.Lost == 0 || sa.Duplicated == 0 || sa.Replayed == 0 {
		t.Fatalf("faults not applied: %+v", sa)
	}
	if slices.IsSorted(a) {
		t.Fatal("random delays should reorder")
	}
}

func TestNetworkPartitionAndDown(t *testing.T) {
	got, st := run(1, Faults{}, func(n *Network[int]) { n.Partition([]int{0, 2}, []int{1}) })
	if len(got) != 0 || st.Blocked != 200 {
		t.Fatalf("partition leaked %d messages (%+v)", len(got), st)
	}
	got, _ = run(1, Faults{}, func(n *Network[int]) { n.Block(1, 0) }) // the other direction is cut
	if len(got) != 200 {
		t.Fatalf("asymmetric block cut the wrong direction: %d delivered", len(got))
	}
	got, st = run(1, Faults{}, func(n *Network[int]) { n.SetDown(1, true) })
	if len(got) != 0 || st.ToDown != 200 {
		t.Fatalf("down node received %d", len(got))
	}
	got, _ = run(1, Faults{}, func(n *Network[int]) { n.Partition([]int{1}); n.Heal() })
	if len(got) != 200 {
		t.Fatalf("heal: %d delivered", len(got))
	}
}
