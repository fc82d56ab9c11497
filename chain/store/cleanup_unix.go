//go:build unix

package store

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// removeCrashedEmptyFiles works around a Badger v4 bug (dgraph-io/badger
// issue #2207): Badger creates a memtable (.mem) or value log (.vlog) file and
// only then sizes it, so a crash between the two leaves a 0-byte file, and the
// next badger.Open fails on it ("Create a new file"). Badger never leaves such
// a file otherwise (it sizes every file it creates, and shrinks a value log
// file no lower than its 20-byte header), and one holds no data, so removing it
// loses nothing. The crash test found this within twenty SIGKILLs.
//
// It holds Badger's own directory lock (flock on the directory) while it
// looks, so it cannot touch a file a running Badger is creating; if the lock
// is taken it reports ErrLocked.
func removeCrashedEmptyFiles(dir string, log *slog.Logger) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrLocked, dir, err)
	}
	// Closing d releases the lock.
	entries, err := d.ReadDir(-1)
	if err != nil {
		return err
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
		removed = append(removed, name)
	}
	if len(removed) == 0 {
		return nil
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s after removing empty files: %w", dir, err)
	}
	log.Warn("store: removed empty Badger files left by a crash during file creation",
		"dir", dir, "files", removed)
	return nil
}
