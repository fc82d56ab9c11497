package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A station's disk fills up, for real: its WAL and its store live on two
// small tmpfs file systems (mounted by the test, so it needs root) while
// the election runs.
//
//  1. The WAL's file system fills, with the free-space guard off: the WAL's
//     own write fails with ENOSPC. The node must stop (exit 1) saying the
//     disk is full and what to do, the others must go on committing, and
//     the node must not start again while the disk is still full (the
//     guard, now on, refuses with its message).
//  2. Space is freed: the node starts, replays its WAL (a torn tail from
//     the failed write is cut) and catches up.
//  3. The store's file system nearly fills: the guard stops the node
//     cleanly ("station stopped", exit 1, the message) before Badger writes
//     into a mapped page the file system cannot back (which would kill it
//     with SIGBUS). Space is freed, and it resumes again.
//
// At the end the polls are closed and closeAndVerify checks that every
// station holds the same chain (so the failed station kept no half-written
// block), every ballot a client was told is committed is in it, and the
// station's double-sign guard never went back.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	probe := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "urna-e2e-probe", probe).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: mounting a tmpfs failed (it needs root: uid %d): %v %s; the full-disk test did NOT run", os.Getuid(), err, out)
	}
	exec.Command("umount", probe).Run()
	urnaBinary(t)
	start := time.Now()

	var walFS, storeFS string
	f, nodes := loopbackElection(t, "disk", 400, func(e *testElection) {
		data := filepath.Join(e.home(3), homeData)
		if err := os.MkdirAll(data, 0o700); err != nil {
			t.Fatal(err)
		}
		walFS, storeFS = mountTmpfs(t, "8m"), mountTmpfs(t, "64m")
		for _, d := range []struct{ fs, name string }{{walFS, "wal"}, {storeFS, "store"}} {
			if err := os.Mkdir(filepath.Join(d.fs, d.name), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(d.fs, d.name), filepath.Join(data, d.name)); err != nil {
				t.Fatal(err)
			}
		}
		setMinFree(t, e.home(3), 0)
	})
	e := f.e
	mon := newMonitor(t, e, f.addr)
	el := e.electionKey(t, e.dial(t, 0, ""))
	openPolls(t, f)
	load := startLoad(t, f, el, 400)
	load.waitCommitted(t, 10, 2*time.Minute, "the first ballots")

	// 1. The WAL's disk is full.
	filler := fill(t, walFS, 0)
	exit := nodes[3].exited(t, 2*time.Minute, "station 3 to stop on its full WAL disk")
	log3 := nodes[3].logTail()
	if exit == nil || !strings.Contains(log3, "no space left on device") || !strings.Contains(log3, "is full") || !strings.Contains(log3, "start the node again") {
		t.Fatalf("station 3 exited with %v; its log does not say the disk is full and what to do:\n%s", exit, log3)
	}
	wantExit1(t, exit)
	t.Logf("station 3 stopped on ENOSPC in its WAL after %v (%d ballots committed)", time.Since(start).Round(time.Millisecond), load.committed())
	load.progress(t, "ballots committed while station 3's disk is full")
	setMinFree(t, e.home(3), 4)
	nodes[3] = startNode(t, e.home(3))
	exit = nodes[3].exited(t, time.Minute, "station 3 to refuse to start on a full disk")
	if log3 := nodes[3].logTail(); exit == nil || !strings.Contains(log3, errDiskLow.Error()) {
		t.Fatalf("station 3 started on a full disk (exit %v):\n%s", exit, log3)
	}

	// 2. Space is freed: it resumes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	nodes[3] = startNode(t, e.home(3))
	mon.catchUp(t, 3)
	t.Logf("station 3 resumed after the WAL disk was freed, %v", time.Since(start).Round(time.Millisecond))
	load.progress(t, "ballots committed after station 3 resumed")

	// 3. The store's disk nearly fills: the guard stops it cleanly.
	filler = fill(t, storeFS, 2<<20)
	exit = nodes[3].exited(t, time.Minute, "the guard to stop station 3")
	log3 = nodes[3].logTail()
	if exit == nil || !strings.Contains(log3, "stops cleanly (or does not start) before its disk fills up") || !strings.Contains(log3, "station stopped") {
		t.Fatalf("station 3 exited with %v; its log does not show the guard's clean stop:\n%s", exit, log3)
	}
	wantExit1(t, exit)
	t.Logf("station 3 stopped by the free-space guard, %v", time.Since(start).Round(time.Millisecond))
	load.progress(t, "ballots committed while station 3's store disk is low")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	nodes[3] = startNode(t, e.home(3))
	mon.catchUp(t, 3)
	load.progress(t, "ballots committed after station 3 resumed again")
	load.finish(t)

	end := closeAndVerify(t, f, mon, load)
	t.Logf("disk faults: %d ballots committed, %d counted, head %d (%x…), same chain on 4 stations; %v",
		end.told, end.counted, end.head, end.headHash[:6], time.Since(start).Round(time.Millisecond))
}

// wantExit1 fails unless the node exited with status 1: urna's exit on an
// error, not a signal (SIGBUS) or a panic (status 2).
func wantExit1(t *testing.T, exit error) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(exit, &ee) {
		t.Fatalf("station ended with %v, want exit status 1", exit)
	}
	if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() || ws.ExitStatus() != 1 {
		t.Fatalf("station ended with %v, want exit status 1 (a clean stop, not a signal or a panic)", exit)
	}
}

// mountTmpfs mounts a tmpfs of the given size on a fresh directory, and
// unmounts it when the test ends (after the nodes using it are killed).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "urna-e2e", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file on the file system of dir until only leave bytes are
// free (0: until the file system refuses a write), and returns its path.
func fill(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		free, err := freeBytes(dir)
		if err != nil {
			t.Fatal(err)
		}
		if free <= leave {
			return path
		}
		n := min(uint64(len(buf)), free-leave)
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// setMinFree sets min_free_mb in a station's config.yaml.
func setMinFree(t *testing.T, home string, mb uint64) {
	t.Helper()
	cfg, err := loadNodeConfig(mustHome(t, home))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MinFreeMB = &mb
	if err := writeNodeConfig(filepath.Join(home, homeConfig), cfg); err != nil {
		t.Fatal(err)
	}
}

// exited waits until the process ends by itself and returns how it ended.
func (p *nodeProc) exited(t *testing.T, timeout time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("timed out after %v waiting for %s; log:\n%s", timeout, what, p.logTail())
		return nil
	}
}
