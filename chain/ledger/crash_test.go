package ledger_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
)

// TestCrashConsistency kills a process that commits real election blocks
// through a ledger at random moments (SIGKILL, no clean-up), reopens the
// store each time, and checks that it is exactly at some block it had
// finished or the next one, with the state of that height, and that every
// block (and so every ballot) the process had reported committed is there.
func TestCrashConsistency(t *testing.T) {
	if os.Getenv("URNA_LEDGER_CHILD") != "" {
		crashChild(t)
		return
	}
	c := smallElection(t, 3)
	dir := t.TempDir()
	blocksFile := filepath.Join(dir, "blocks")
	writeBlocks(t, blocksFile, c)
	storeDir := filepath.Join(dir, "store")
	r := rand.New(rand.NewPCG(11, 11))
	acked := uint64(0)
	for round := 0; acked < uint64(len(c.Blocks)); round++ {
		if round > 60 {
			t.Fatal("child makes no progress")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashConsistency$")
		cmd.Env = append(os.Environ(), "URNA_LEDGER_CHILD="+storeDir+","+blocksFile)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		killAfter := 1 + r.IntN(4)
		seen := 0
		killed := false
		// Read every line the child printed, also after the kill: lines already in
		// the pipe when it died are acknowledgements too (the child kept committing
		// while the parent decided to kill it). Only at EOF is acked exact.
		for lines.Scan() {
			h, ok := strings.CutPrefix(lines.Text(), "committed ")
			if !ok {
				continue
			}
			n, _ := strconv.ParseUint(h, 10, 64)
			acked = max(acked, n)
			seen++
			if seen == killAfter && !killed {
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		// The child may have committed (and reported) more blocks while the
		// kill was on its way: count what it wrote before it died.
		for lines.Scan() {
			if h, ok := strings.CutPrefix(lines.Text(), "committed "); ok {
				n, _ := strconv.ParseUint(h, 10, 64)
				acked = max(acked, n)
			}
		}
		cmd.Wait()
		l := openLedger(t, storeDir, c.E.Machine)
		head := l.Height()
		if head < acked {
			t.Fatalf("round %d: head %d, but block %d was reported committed", round, head, acked)
		}
		// The child prints after each commit returns, so at most the one block it was
		// committing when it died can be there unreported.
		if head > uint64(len(c.Blocks)) || head > acked+1 {
			t.Fatalf("round %d: head %d beyond what the child could have committed (acked %d)", round, head, acked)
		}
		if head > 0 && l.State().StateHash != stateHashAt(t, c, int(head)) {
			t.Fatalf("round %d: state at height %d differs from a replay", round, head)
		}
		for h := uint64(1); h <= head; h++ {
			raw, err := l.Block(h)
			if err != nil || !bytes.Equal(raw, c.Blocks[h-1]) {
				t.Fatalf("round %d: block %d missing or changed: %v", round, h, err)
			}
			b, _ := chain.DecodeBlock(raw, 1<<22)
			for _, txb := range b.Txs {
				tx, _ := chain.DecodeTx(txb)
				if _, found, err := l.TxLocation(tx.Hash()); !found || err != nil {
					t.Fatalf("round %d: transaction of block %d lost", round, h)
				}
			}
		}
		acked = head
		l.Store().Close()
	}
}

// writeBlocks stores the blocks and certificates for the child.
func writeBlocks(t *testing.T, path string, c *chaintest.Chain) {
	var buf bytes.Buffer
	for h, b := range c.Blocks {
		fmt.Fprintf(&buf, "%x %x\n", b, bft.EncodeCertificate(c.Certs[h]))
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func crashChild(t *testing.T) {
	storeDir, blocksFile, _ := strings.Cut(os.Getenv("URNA_LEDGER_CHILD"), ",")
	c := smallElection(t, 3) // the same election: same seed
	l := openLedger(t, storeDir, c.E.Machine)
	data, err := os.ReadFile(blocksFile)
	if err != nil {
		t.Fatal(err)
	}
	for h, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if uint64(h) < l.Height() {
			continue
		}
		var block, certBytes []byte
		fmt.Sscanf(line, "%x %x", &block, &certBytes)
		cert, err := bft.DecodeCertificate(certBytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Commit(block, &cert); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("committed %d\n", h+1)
	}
}
