package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// A station must stop before its disk is full, not when it is: Badger (the
// store) writes its value log and tables through memory-mapped files, and a
// write to a mapped page the file system cannot back kills the process with
// SIGBUS instead of returning an error. That is a crash, which the store and
// the WAL survive, but not a clean stop with a message. So the node watches
// the free space of its data directories and stops cleanly, saying what to
// do, when it falls below a reserve (min_free_mb in config.yaml); it also
// refuses to start below it. The reserve must hold what the store may write
// between two checks: a block, a memtable flush (16 MiB) and a compaction.

// defaultMinFreeMB is the default reserve, in MiB.
const defaultMinFreeMB = 256

// diskCheckEvery is how often a running node checks its free space.
const diskCheckEvery = time.Second

// errDiskLow: the free space of a data directory is below the reserve.
var errDiskLow = errors.New("disk space below the station's reserve")

// diskLowError says which directory is short, and what to do.
type diskLowError struct {
	Dir        string
	Free, Need uint64 // bytes
}

func (e *diskLowError) Error() string {
	return fmt.Sprintf("%v: %d MiB free on the file system of %s, the station keeps at least %d MiB (min_free_mb in %s). "+
		"The station stops cleanly (or does not start) before its disk fills up; nothing it committed or signed is lost. "+
		"Free space on that file system (or move the station's home to a larger one) and start the node again: "+
		"it resumes from its data and catches up with the other stations",
		errDiskLow, e.Free>>20, e.Dir, e.Need>>20, homeConfig)
}

func (e *diskLowError) Unwrap() error { return errDiskLow }

// diskGuard checks the free space of a station's data directories.
type diskGuard struct {
	dirs []string
	need uint64 // bytes; 0 turns the guard off
}

func newDiskGuard(dataDir string, minFreeMB uint64) *diskGuard {
	return &diskGuard{
		// store/, wal/ and signer/ may be separate mounts; a directory not
		// made yet is checked through its nearest parent.
		dirs: []string{dataDir, filepath.Join(dataDir, "store"), filepath.Join(dataDir, "wal"), filepath.Join(dataDir, "signer")},
		need: minFreeMB << 20,
	}
}

// check returns a *diskLowError for the first directory below the reserve.
func (g *diskGuard) check() error {
	if g.need == 0 {
		return nil
	}
	for _, d := range g.dirs {
		free, err := freeBytes(existing(d))
		if err != nil {
			return fmt.Errorf("checking the free space of %s: %w", d, err)
		}
		if free < g.need {
			return &diskLowError{Dir: d, Free: free, Need: g.need}
		}
	}
	return nil
}

// watch checks every interval until ctx is done, and cancels it with the
// error when a directory is below the reserve.
func (g *diskGuard) watch(ctx context.Context, every time.Duration, cancel context.CancelCauseFunc) {
	if g.need == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.check(); errors.Is(err, errDiskLow) {
				cancel(err)
				return
			}
		}
	}
}

// existing returns dir, or its nearest parent that exists.
func existing(dir string) string {
	for {
		var st syscall.Stat_t
		if syscall.Stat(dir, &st) == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// freeBytes is the space an unprivileged process may still write on the
// file system of dir.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// diskAdvice explains an error of the station's disk: what the operator
// should do. Empty for other errors.
func diskAdvice(err error, dataDir string) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Sprintf("the file system holding %s is full (or over quota). The station stopped; what it had made durable is kept, "+
			"and it never sends a vote it has not written. Free space there and start the node again: it resumes from its data and catches up", dataDir)
	case errors.Is(err, syscall.EROFS):
		return fmt.Sprintf("the file system holding %s is read-only (the kernel does this after disk errors). The station stopped. "+
			"Check the disk (dmesg, SMART); once it is writable again, start the node: it checks its data on start and catches up", dataDir)
	case errors.Is(err, syscall.EIO):
		return fmt.Sprintf("an I/O error on the disk holding %s. The station stopped; it never sends a vote it has not written. "+
			"Check the disk (dmesg, SMART) and start the node again once it is healthy: it checks its store and WAL on start and "+
			"refuses damaged data loudly; if it does, see docs/durability.md (never delete data/signer: it keeps the station from signing twice)", dataDir)
	}
	return ""
}
