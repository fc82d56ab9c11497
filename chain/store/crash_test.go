package store_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/store"
)

// The real crash test: the test binary runs itself as a child process
// (TestCrashChild) that commits blocks in a loop and prints each height after
// Commit returns; the parent kills it with SIGKILL at random moments, reopens
// the store and checks it. A SIGKILL loses everything in the process but
// nothing the kernel already has, so this tests the store's and Badger's
// recovery from a crash at any instant of a commit, flush or compaction; it
// does not simulate a power cut (that rests on the fsyncs SyncWrites does).
//
// URNA_STORE_CRASH_KILLS (default 20) and URNA_STORE_CRASH_SEED (default 1)
// make longer or different runs.
const crashDirEnv = "URNA_STORE_CRASH_CHILD_DIR"

// crashOptions are small so a short run crosses memtable flushes, value log
// file rotations and compactions.
func crashOptions(l *slog.Logger) store.Options {
	return store.Options{Logger: l, MemTableSize: 2 << 20, ValueLogFileSize: 2 << 20}
}

// crashCommit is block h of the crash test's chain: its content depends only
// on h. Block sizes vary so some blocks stay in the LSM tree and some go to
// the value log; every third root state is also large.
func crashCommit(h uint64) *store.Commit {
	sizes := []int{300, 5000, 70_000, 200_000, 20_000}
	block := blockBytes(h, sizes[h%uint64(len(sizes))])
	state := fmt.Appendf(nil, "state %d", h)
	if h%3 == 0 {
		state = append(state, blockBytes(h+1<<40, 70_000)...)
	}
	a, b := h%40, (h*7+3)%40
	if a > b {
		a, b = b, a
	}
	writes := []store.KV{{Key: fmt.Appendf(nil, "c/%02d", a), Value: fmt.Appendf(nil, "h=%d", h)}}
	if b != a {
		writes = append(writes, store.KV{Key: fmt.Appendf(nil, "c/%02d", b), Value: fmt.Appendf(nil, "h=%d", h)})
	}
	if h%10 == 0 { // delete one key (after the sets, "d/" sorts after "c/")
		writes = append(writes, store.KV{Key: fmt.Appendf(nil, "d/%02d", (h/10)%5), Value: nil})
	} else {
		writes = append(writes, store.KV{Key: fmt.Appendf(nil, "d/%02d", h%5), Value: fmt.Appendf(nil, "h=%d", h)})
	}
	return &store.Commit{
		Height:      h,
		BlockHash:   sha256.Sum256(block),
		Block:       block,
		Certificate: certBytes(h),
		State:       state,
		Writes:      writes,
		Index:       []store.KV{{Key: fmt.Appendf(nil, "t/%08d", h), Value: fmt.Appendf(nil, "%d", h)}},
	}
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKill")
	}
	parent := os.Getppid()
	l := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := store.Open(dir, crashOptions(l))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stdout, "open")
	head, err := s.Head()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: head:", err)
		os.Exit(3)
	}
	// Bounded in case the parent dies without killing us.
	for h := head.Height + 1; h < head.Height+20000 && os.Getppid() == parent; h++ {
		if err := s.Commit(crashCommit(h)); err != nil {
			fmt.Fprintf(os.Stderr, "child: commit %d: %v\n", h, err)
			os.Exit(4)
		}
		fmt.Fprintln(os.Stdout, h) // acknowledged: Commit returned
	}
	os.Exit(5)
}

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	kills := envInt(t, "URNA_STORE_CRASH_KILLS", 20)
	seed := envInt(t, "URNA_STORE_CRASH_SEED", 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	dir := t.TempDir()
	var acked uint64 // highest height any child reported committed
	var heads []uint64
	for i := 0; i < kills; i++ {
		// Every fourth kill lands anywhere from process start (maybe during
		// Open's recovery); the others after Open, while committing.
		early := i%4 == 3
		delay := time.Duration(rng.IntN(150_000)) * time.Microsecond
		if early {
			delay = time.Duration(rng.IntN(300_000)) * time.Microsecond
		}
		got := runAndKill(t, dir, early, delay)
		acked = max(acked, got)

		s, err := store.Open(dir, crashOptions(quietLogger()))
		if err != nil {
			t.Fatalf("kill %d (seed %d): reopen: %v", i, seed, err)
		}
		head := verifyCrashStore(t, s, acked)
		heads = append(heads, head)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if acked == 0 {
		t.Fatalf("no child ever acknowledged a commit in %d runs: the test tested nothing", kills)
	}
	t.Logf("seed %d: %d kills, heads after each: %v", seed, kills, heads)
}

// runAndKill starts a child on dir, SIGKILLs it after delay (counted from the
// child's "open" line unless early), and returns the highest height it
// acknowledged.
func runAndKill(t *testing.T, dir string, early bool, delay time.Duration) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	done := make(chan struct{})
	var mu sync.Mutex
	var acked uint64
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		seenOpen := false
		for sc.Scan() {
			if sc.Text() == "open" && !seenOpen {
				seenOpen = true
				close(opened)
				continue
			}
			if h, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
				mu.Lock()
				acked = max(acked, h)
				mu.Unlock()
			}
		}
	}()
	if !early {
		select {
		case <-opened:
		case <-done:
			cmd.Wait()
			t.Fatalf("child exited before opening the store: %s", stderr.String())
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("child did not open the store: %s", stderr.String())
		}
	}
	select {
	case <-time.After(delay):
	case <-done:
		cmd.Wait()
		t.Fatalf("child exited by itself: %s", stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("child did not die of the kill (%v): %s", err, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return acked
}

// verifyCrashStore checks a reopened store: the head is at or above every
// acknowledged height, every block up to it is there with its certificate and
// hash, nothing is above it, and the state and index are exactly what blocks
// 1..head wrote. It returns the head.
func verifyCrashStore(t *testing.T, s *store.Store, acked uint64) uint64 {
	t.Helper()
	head, err := s.Head()
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head.Height < acked {
		t.Fatalf("head %d is below acknowledged height %d: a committed block was lost", head.Height, acked)
	}
	state := map[string]string{}
	for h := uint64(1); h <= head.Height; h++ {
		c := crashCommit(h)
		if b, err := s.Block(h); err != nil || !bytes.Equal(b, c.Block) {
			t.Fatalf("Block(%d) of head %d: %v (equal %v)", h, head.Height, err, bytes.Equal(b, c.Block))
		}
		if cert, err := s.Certificate(h); err != nil || !bytes.Equal(cert, c.Certificate) {
			t.Fatalf("Certificate(%d): %q, %v", h, cert, err)
		}
		if bh, err := s.BlockHash(h); err != nil || bh != c.BlockHash {
			t.Fatalf("BlockHash(%d): %v", h, err)
		}
		if v, err := s.GetIndex(c.Index[0].Key); err != nil || !bytes.Equal(v, c.Index[0].Value) {
			t.Fatalf("GetIndex(%s): %q, %v", c.Index[0].Key, v, err)
		}
		for _, w := range c.Writes {
			if w.Value == nil {
				delete(state, string(w.Key))
			} else {
				state[string(w.Key)] = string(w.Value)
			}
		}
	}
	if head.Height > 0 {
		c := crashCommit(head.Height)
		if head.BlockHash != c.BlockHash || !bytes.Equal(head.State, c.State) {
			t.Fatalf("head %d: hash or root state differ from block %d's", head.Height, head.Height)
		}
	}
	for _, prefix := range []string{"c/%02d", "d/%02d"} {
		for j := 0; j < 40; j++ {
			k := fmt.Sprintf(prefix, j)
			v, err := s.Get([]byte(k))
			want, ok := state[k]
			switch {
			case ok && (err != nil || string(v) != want):
				t.Fatalf("head %d: Get(%s) = %q, %v; want %q", head.Height, k, v, err, want)
			case !ok && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("head %d: Get(%s) = %q, %v; want ErrNotFound", head.Height, k, v, err)
			}
		}
	}
	next := head.Height + 1
	if _, err := s.GetIndex(fmt.Appendf(nil, "t/%08d", next)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index entry of block %d above head %d: %v", next, head.Height, err)
	}
	for _, ns := range []byte{store.NsBlock, store.NsHash, store.NsCert} {
		if hs := store.RawHeights(s, ns); uint64(len(hs)) != head.Height {
			t.Fatalf("namespace %q has %d records, head is %d", ns, len(hs), head.Height)
		}
	}
	return head.Height
}
