package station

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
)

// A transaction that is already committed and arrives again by gossip (a
// late copy, or a peer that was behind) is not passed on: otherwise every
// committed transaction would bounce between the stations for ever (found
// by the election across real processes, where it made a million gossip
// frames of 500 ballots).
func TestCommittedTxIsNotRegossiped(t *testing.T) {
	c := newCluster(t, "mayor", 4, 3)
	c.startAll()
	c.waitPhase(chain.PhaseReady, 60*time.Second)
	tx := chain.NewApprovalTx(c.e.Fingerprint(), chain.ActionOpen, c.e.OfficialKey(0))
	raw := tx.Encode()
	if _, err := c.submit(context.Background(), 0, tx); err != nil {
		t.Fatal(err)
	}
	c.waitFor("the approval at every station", 10*time.Second, func(s Status) bool {
		return s.Height > 0 && c.engine(s.Station).Ledger().State().OpenApprovals != 0
	})
	var mu sync.Mutex
	copies := 0
	observe := c.net.onSend
	c.net.mu.Lock()
	c.net.onSend = func(from, to int, ch Channel, data []byte) {
		observe(from, to, ch, data)
		if ch == ChannelGossip && bytes.Equal(data, raw) {
			mu.Lock()
			copies++
			mu.Unlock()
		}
	}
	c.net.mu.Unlock()
	// A late copy reaches station 0 (sent here by station 1).
	c.net.send(1, 0, ChannelGossip, raw)
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if copies != 1 {
		t.Fatalf("the committed transaction was sent %d times by gossip, want 1 (the injected copy)", copies)
	}
}
