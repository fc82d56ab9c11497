//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Badger reads and writes its tables and value log through shared
// memory maps, so every page of the store a node has touched stays in the
// node's resident set (RSS) until the kernel needs the memory back: the RSS
// grows with the chain, by about the store's size, though none of it is the
// node's own memory. trimMappedFiles tells the kernel that the node no
// longer needs the pages of the files under dir mapped (MADV_DONTNEED): for
// a shared file mapping the data stays in the page cache and on disk, and a
// later read maps it again. What the node holds of its own (heap, stacks:
// RssAnon) is bounded by its memory limit instead (memory_limit).
//
// Every file Badger maps is trimmed: its tables (.sst), value log (.vlog)
// and memtable log (.mem). The ones being appended to lose nothing either:
// appends go to new pages, and a page written before is read back from
// the page cache if it is ever read. It returns the bytes of mappings
// advised.
func trimMappedFiles(dir string) (int64, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	// The maps name files by absolute path.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	dir = abs + string(filepath.Separator)
	type region struct{ start, end uintptr }
	var regions []region
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.HasPrefix(f[5], dir) {
			continue
		}
		path := f[5]
		if !strings.HasSuffix(path, ".sst") && !strings.HasSuffix(path, ".vlog") && !strings.HasSuffix(path, ".mem") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		regions = append(regions, region{uintptr(start), uintptr(end)})
	}
	var total int64
	for _, r := range regions {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, r.start, r.end-r.start, syscall.MADV_DONTNEED); e != 0 {
			return total, e
		}
		total += int64(r.end - r.start)
	}
	return total, nil
}
