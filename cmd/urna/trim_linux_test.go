//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rssFile is this process's file-backed resident bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func mapFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	return m
}

// Trimming drops the store files' pages from the resident set, leaves
// other files mapped, and the data reads back unchanged.
func TestTrimMappedFiles(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	sst := mapFile(t, filepath.Join(dir, "000001.sst"), size)
	old := mapFile(t, filepath.Join(dir, "000001.vlog"), size)
	mem := mapFile(t, filepath.Join(dir, "00003.mem"), size)
	other := mapFile(t, filepath.Join(dir, "KEYREGISTRY"), size)
	for _, m := range [][]byte{sst, old, mem, other} {
		for i := 0; i < size; i += 4096 {
			trimSink += int(m[i])
		}
	}
	before := rssFile(t)
	// A relative name of the directory finds the same maps.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := trimMappedFiles(rel)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3*size {
		t.Fatalf("advised %d bytes, want %d (the .sst, .vlog and .mem)", n, 3*size)
	}
	after := rssFile(t)
	t.Logf("RssFile %d → %d", before, after)
	if drop := before - after; drop < 3*size*9/10 {
		t.Fatalf("RssFile %d → %d: dropped %d bytes, want ≈ %d", before, after, drop, 3*size)
	}
	if after < size {
		t.Fatalf("RssFile %d after trimming: the other file should still be resident", after)
	}
	for i := 0; i < size; i += 4096 {
		if sst[i] != byte(i) || old[i] != byte(i) || mem[i] != byte(i) {
			t.Fatalf("byte %d reads back %d after trimming", i, sst[i])
		}
	}
}

var trimSink int
