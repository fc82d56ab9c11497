package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The free-space guard: a reserve larger than any disk trips it, naming the
// directory and the setting; a reserve of 0 never does.
func TestDiskGuard(t *testing.T) {
	dir := t.TempDir()
	g := newDiskGuard(dir, 1<<40) // 1 EiB
	err := g.check()
	var low *diskLowError
	if !errors.Is(err, errDiskLow) || !errors.As(err, &low) || low.Dir != dir || low.Need != 1<<60 {
		t.Fatalf("check with a 1 EiB reserve: %v", err)
	}
	if !strings.Contains(err.Error(), "min_free_mb") || !strings.Contains(err.Error(), "start the node again") {
		t.Fatalf("the message does not say what to do: %v", err)
	}
	// store/, wal/ and signer/ do not exist yet: checked through data/.
	if err := newDiskGuard(dir, 1).check(); err != nil {
		t.Fatalf("check with a 1 MiB reserve: %v", err)
	}
	if err := newDiskGuard(dir, 0).check(); err != nil {
		t.Fatalf("check with the guard off: %v", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go g.watch(ctx, 10*time.Millisecond, cancel)
	select {
	case <-ctx.Done():
		if !errors.Is(context.Cause(ctx), errDiskLow) {
			t.Fatalf("watch cancelled with %v", context.Cause(ctx))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop the node")
	}
}

// diskAdvice recognises the disk's errors however deeply they are wrapped,
// and nothing else.
func TestDiskAdvice(t *testing.T) {
	wrap := func(errno syscall.Errno) error {
		return fmt.Errorf("station: committing decided block 7: %w",
			&os.PathError{Op: "write", Path: "/d/wal/7.wal", Err: errno})
	}
	for errno, want := range map[syscall.Errno]string{
		syscall.ENOSPC: "is full", syscall.EDQUOT: "is full", syscall.EROFS: "read-only", syscall.EIO: "I/O error",
	} {
		if a := diskAdvice(wrap(errno), "/d"); !strings.Contains(a, want) || !strings.Contains(a, "/d") {
			t.Errorf("%v: advice %q, want it to say %q", errno, a, want)
		}
	}
	if a := diskAdvice(errors.New("station: transport closed"), "/d"); a != "" {
		t.Errorf("advice for a non-disk error: %q", a)
	}
}
