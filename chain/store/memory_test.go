package store_test

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/store"
)

// TestMemoryFootprint commits URNA_STORE_MEMTEST_BLOCKS (default 300) blocks
// of 1,000 ballots with the default options and reports the process's peak
// and current resident memory, then reopens the store and reads it all back.
// It writes about 1.3 GB per 300 blocks, so it runs only with
// URNA_STORE_MEMTEST=1:
//
//	URNA_STORE_MEMTEST=1 go test -run TestMemoryFootprint -v -timeout 30m ./chain/store
//
// It fails if the peak anonymous RSS (the memory the kernel cannot take back)
// exceeds 200 MB, the figure the defaults are sized for. The file-backed part
// of RSS (Badger memory-maps its files) stays near Options.TrimEvery because
// the store pages its maps out; with URNA_STORE_MEMTEST_TRIMEVERY=-1 it grows
// with the data written or read (see docs/durability.md, "Memory").
func TestMemoryFootprint(t *testing.T) {
	if os.Getenv("URNA_STORE_MEMTEST") == "" {
		t.Skip("set URNA_STORE_MEMTEST=1 to run (writes ~1.3 GB)")
	}
	blocks := uint64(envInt(t, "URNA_STORE_MEMTEST_BLOCKS", 300))
	dir := t.TempDir()
	bb := newBallotBlock(1000)
	// Other sizes can be tried without editing the test.
	opts := store.Options{
		MemTableSize: int64(envInt(t, "URNA_STORE_MEMTEST_MEMTABLE", 0)),
		NumMemtables: envInt(t, "URNA_STORE_MEMTEST_NUMMEMTABLES", 0),
		TrimEvery:    int64(envInt(t, "URNA_STORE_MEMTEST_TRIMEVERY", 0)), // -1: no trimming
	}
	s := openStore(t, dir, opts)
	start := time.Now()
	var peakAnon int64
	for h := uint64(1); h <= blocks; h++ {
		if err := s.Commit(bb.commit(h)); err != nil {
			t.Fatal(err)
		}
		peakAnon = max(peakAnon, procStatus()["RssAnon"])
		if h%50 == 0 {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			t.Logf("after %d blocks (%d ballots, %s): %s, live heap %s", h, h*1000,
				time.Since(start).Round(time.Second), memStatus(), mb(int64(m.HeapAlloc)))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("peak anonymous RSS while committing: %s", mb(peakAnon<<10))
	if peakAnon > 200<<10 {
		t.Errorf("peak anonymous RSS %s exceeds the 200 MB the defaults are sized for", mb(peakAnon<<10))
	}
	t.Logf("closed: %s; disk %d MB", memStatus(), dirSize(t, dir)>>20)

	start = time.Now()
	s = openStore(t, dir, opts)
	defer s.Close()
	t.Logf("reopened in %s: %s", time.Since(start).Round(time.Millisecond), memStatus())
	for h := uint64(1); h <= blocks; h++ {
		if _, err := s.Block(h); err != nil {
			t.Fatal(err)
		}
		c := bb.commit(h)
		for i := 0; i < len(c.Writes); i += 50 {
			if _, err := s.Get(c.Writes[i].Key); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetIndex(c.Index[i].Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("read everything back: %s", memStatus())
	runtime.GC()
	t.Logf("after a GC: %s", memStatus())
}

// procStatus returns the kB figures of /proc/self/status.
func procStatus() map[string]int64 { return kbFile("/proc/self/status") }

func kbFile(path string) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		var n int64
		for _, c := range fields[0] {
			n = n*10 + int64(c-'0')
		}
		out[name] = n
	}
	return out
}

// smapsRollup returns the kB figures of /proc/self/smaps_rollup: how much of
// the resident memory is clean file pages (which the kernel can drop at any
// time) and how much is anonymous or dirty (which it cannot).
func smapsRollup() map[string]int64 { return kbFile("/proc/self/smaps_rollup") }

func memStatus() string {
	p := procStatus()
	r := smapsRollup()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return strings.Join([]string{
		"RSS " + mb(p["VmRSS"]<<10),
		"peak " + mb(p["VmHWM"]<<10),
		"anon " + mb(p["RssAnon"]<<10),
		"file " + mb(p["RssFile"]<<10),
		"clean file " + mb((r["Shared_Clean"]+r["Private_Clean"])<<10),
		"dirty " + mb((r["Shared_Dirty"]+r["Private_Dirty"])<<10),
		"Go heap in use " + mb(int64(m.HeapInuse)),
		"Go sys " + mb(int64(m.Sys)),
	}, ", ")
}

func mb(n int64) string {
	return strings.TrimRight(strings.TrimRight(
		strconvFormat(float64(n)/(1<<20)), "0"), ".") + " MB"
}

func strconvFormat(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}
