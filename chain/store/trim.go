package store

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// pageSize is what a point read is counted as at least (see trimmer.addRead):
// looking up one small value still brings a whole page of a table or value
// log file into the resident set.
const pageSize = 4096

// trimmer gives the pages of the store's memory-mapped files back to the
// kernel (pageOutMaps, see trim_linux.go) in one background goroutine: once
// the store has written or read TrimEvery bytes since the last trim, and
// every TrimInterval while its files change.
//
// Why a byte count: the pages Badger leaves resident come from the bytes
// that go through its maps (commits written to the value log and the
// memtable's file, values read back), so counting bytes bounds that share of
// the resident set by about TrimEvery whatever the load, where a timer alone
// bounds it only by the interval times a rate nothing limits (a lagging peer
// fetching the whole chain reads as fast as the disk goes).
//
// Why a timer as well: Badger's flushes and compactions read and write
// tables through the same maps, in its own goroutines, out of the store's
// sight; and a look-up, counted as the bytes it returns (or 4 KiB), maps in
// 64 KiB of a table's Bloom filter, index and blocks (the kernel's
// fault-around). Under full load a station's table pages came back at 12-20
// MB/s, far more than the bytes counted. The timer trims when bytes were
// counted since the last trim or Badger's MANIFEST (which records every
// flush and compaction) changed, so an idle store is not trimmed, and what
// the tables add to the resident set stays near TrimInterval times that
// rate.
//
// A nil *trimmer (trimming disabled or not supported) does nothing.
type trimmer struct {
	dir      string // the store's directory: absolute, symlinks resolved, as /proc/self/maps names it
	every    int64
	interval time.Duration // <= 0: no timer
	log      *slog.Logger
	madvise  madviseFunc // sysMadvise, or a test's

	pending atomic.Int64  // bytes written or read since the last trim started
	off     atomic.Bool   // set when trimming failed: no more kicks
	kick    chan struct{} // capacity 1: a trim is due
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when run has returned

	manifest manifestStamp // the MANIFEST as the last trim found it (run's goroutine only)

	trims atomic.Int64 // trims done (tests)
	paged atomic.Int64 // bytes of mappings advised, summed over trims (tests)
}

// startTrimmer starts the trimmer of the store in dir, or returns nil if
// every is negative or the platform cannot trim.
func startTrimmer(dir string, every int64, interval time.Duration, log *slog.Logger) *trimmer {
	if every < 0 || !canTrim {
		return nil
	}
	t := &trimmer{
		dir:      mapsDir(dir),
		every:    every,
		interval: interval,
		log:      log,
		madvise:  sysMadvise,
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	// Open has read the tables and replayed the memtable's log through the
	// maps: the first trim follows it.
	t.kick <- struct{}{}
	go t.run()
	return t
}

// manifestStamp is what changes in Badger's MANIFEST file when a flush or a
// compaction is recorded: it only grows, or is rewritten.
type manifestStamp struct {
	size  int64
	mtime int64 // nanoseconds since 1970
}

// manifestNow stamps the MANIFEST in dir; the zero stamp if it cannot be
// read (then the next readable one counts as a change).
func manifestNow(dir string) manifestStamp {
	fi, err := os.Stat(filepath.Join(dir, badgerManifest))
	if err != nil {
		return manifestStamp{}
	}
	return manifestStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// badgerManifest is the name of Badger's manifest file in its directory.
const badgerManifest = "MANIFEST"

// due reports whether the timer should trim: bytes were counted since the
// last trim, or Badger has flushed or compacted since.
func (t *trimmer) due() bool {
	return t.pending.Load() > 0 || manifestNow(t.dir) != t.manifest
}

// madviseFunc is the madvise system call's signature.
type madviseFunc func(addr, length uintptr, advice int) error

// mapsDir is dir as /proc/self/maps names the files in it: absolute, with
// symlinks resolved (the kernel names a mapped file by its real path).
func mapsDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}

// add counts n bytes committed or read, and asks for a trim when enough
// have gone by. It never blocks.
func (t *trimmer) add(n int64) {
	if t == nil || t.off.Load() {
		return
	}
	if t.pending.Add(n) >= t.every {
		select {
		case t.kick <- struct{}{}:
		default: // a trim is already due
		}
	}
}

// addRead counts a point read of n bytes (key and value) as at least one
// page.
func (t *trimmer) addRead(n int) { t.add(int64(max(n, pageSize))) }

// run trims when kicked until close. A failure (the kernel refusing
// MADV_PAGEOUT, /proc not mounted) is logged once and ends trimming: the
// store works as before, with a larger resident set.
func (t *trimmer) run() {
	defer close(t.done)
	var tick <-chan time.Time
	if t.interval > 0 {
		ticker := time.NewTicker(t.interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-t.stop:
			return
		case <-t.kick:
		case <-tick:
			if !t.due() {
				continue
			}
		}
		// Reset before the trim, so that what is written during it counts
		// towards the next one; likewise the MANIFEST.
		t.pending.Store(0)
		t.manifest = manifestNow(t.dir)
		n, err := pageOutMaps(t.dir, t.madvise)
		if err != nil {
			t.off.Store(true)
			t.log.Warn("store: cannot page out the store's mapped files; "+
				"the resident set will grow with the data the store touches (page cache, reclaimable)",
				"dir", t.dir, "err", err)
			return
		}
		t.trims.Add(1)
		t.paged.Add(n)
		t.log.Debug("store: paged out the store's mapped files", "dir", t.dir, "mapped_bytes", n)
	}
}

// close stops the goroutine and waits for a trim in progress to end.
func (t *trimmer) close() {
	if t == nil {
		return
	}
	close(t.stop)
	<-t.done
}
