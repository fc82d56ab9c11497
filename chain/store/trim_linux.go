//go:build linux

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// canTrim: Linux has /proc/self/maps and MADV_PAGEOUT (since 5.4).
const canTrim = true

// trimAdvice is the advice a trim gives; see pageOutMaps for why it must
// not be MADV_DONTNEED.
const trimAdvice = unix.MADV_PAGEOUT

// sysMadvise is the system call. A trimmer takes it when it starts; tests
// replace it to play an old kernel.
var sysMadvise madviseFunc = func(addr, length uintptr, advice int) error {
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, addr, length, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}

// pageOutMaps asks the kernel to reclaim the resident pages of every mapping
// of a file under dir (Badger's .vlog, .sst and .mem files, and its DISCARD
// file), as listed in /proc/self/maps, with madvise (the system call but for
// tests), and returns the bytes of mappings advised.
//
// Badger reads and writes these files through shared memory maps, and every
// page it touches stays in the process's resident set (RssFile) for as long
// as the machine has free memory, so a station's RSS would grow with its
// chain. The pages are the page cache's, not the process's own memory: paged
// out, they leave the resident set (a dirty one keeps its contents in the
// page cache until written back; with SyncWrites Badger has msynced nearly
// all of them already), and a later access maps them in again.
//
// Why MADV_PAGEOUT and not MADV_DONTNEED: the list of maps is read before the
// madvise calls, and in between Badger may unmap a file (a table compacted
// away, a memtable flushed) and the Go runtime may map its heap at the same
// address. MADV_DONTNEED on that anonymous memory would zero live Go objects.
// MADV_PAGEOUT never loses contents: an anonymous page is swapped out (read
// back on its next use) or, without swap, left where it is; a file page is
// written back if dirty and dropped. So the race costs at worst a
// page fault on someone else's page, never data. (The kernel also skips pages
// another process maps, and file pages of files this process could not open
// for writing.)
func pageOutMaps(dir string, madvise madviseFunc) (int64, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var total int64
	for line := range strings.Lines(string(maps)) {
		start, end, path, ok := parseMapsLine(strings.TrimSuffix(line, "\n"))
		if !ok || !strings.HasPrefix(path, prefix) {
			continue
		}
		err := madvise(start, end-start, trimAdvice)
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOMEM):
			// Part of the range is no longer mapped: Badger unmapped the
			// file after the maps were read. Nothing to page out there.
		case errors.Is(err, unix.EINVAL):
			return total, fmt.Errorf("madvise(MADV_PAGEOUT) on %s: %w (it needs Linux 5.4 or later)", path, err)
		default:
			return total, fmt.Errorf("madvise(MADV_PAGEOUT) on %s: %w", path, err)
		}
		total += int64(end - start)
	}
	return total, nil
}

// parseMapsLine splits a line of /proc/PID/maps,
//
//	7f1c2a000000-7f1c2e000000 r--s 00000000 fd:00 1234567    /data/store/000001.vlog
//
// into the mapping's addresses and the path (which may contain spaces, and
// ends in " (deleted)" if the file has been removed); ok is false for a line
// that does not parse.
func parseMapsLine(line string) (start, end uintptr, path string, ok bool) {
	rest := line
	var f [5]string // address range, perms, offset, device, inode
	for i := range f {
		rest = strings.TrimLeft(rest, " ")
		j := strings.IndexByte(rest, ' ')
		if j < 0 {
			return 0, 0, "", false
		}
		f[i], rest = rest[:j], rest[j:]
	}
	lo, hi, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, "", false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, "", false
	}
	return uintptr(s), uintptr(e), strings.TrimLeft(rest, " "), true
}
