package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Defaults for Options. The package doc comment explains the choice; in short
// they keep a station's store at about 50 MB of live heap while one commit
// can still hold about 12,600 ballots.
const (
	// DefaultMemTableSize: 16 MiB. Badger caps one transaction at 15% of it
	// (2,516,517 bytes as Badger counts them, 26,212 keys); see Limits.
	DefaultMemTableSize = 16 << 20
	// DefaultNumMemtables: 1. Badger keeps the memtable taking writes, up to
	// this many full ones queued for flushing, and the one being flushed: at
	// most 3 × ~21 MB of arenas with the defaults. More only helps a write
	// burst that outruns flushing, which a station's load never does.
	DefaultNumMemtables = 1
	// DefaultValueThreshold: 64 KiB. Values this large or larger (blocks of
	// more than a dozen ballots) go to the value log and cost a transaction only
	// a 12-byte pointer; smaller ones stay in the LSM tree.
	DefaultValueThreshold = 64 << 10
	// DefaultValueLogFileSize: 64 MiB. Also the largest single value (block,
	// certificate, state, meta value) the store accepts.
	DefaultValueLogFileSize = 64 << 20
	// DefaultBlockCacheSize: 0, no block cache. Values are not compressed
	// (ballots are ciphertexts), so Badger reads tables straight from its
	// memory-mapped files and the kernel's page cache does the caching.
	DefaultBlockCacheSize = 0
	// DefaultNumCompactors: 2, Badger's minimum when compaction runs (a
	// station has few cores and compaction is not its job's hot path).
	DefaultNumCompactors = 2
	// DefaultTrimEvery: 32 MiB. After the store has committed or read this
	// many bytes it pages out its memory-mapped files (Linux only), so that
	// the pages Badger touched leave the node's resident set: its share of
	// RSS stays near this figure plus the memtables' files instead of
	// growing with the chain. A trim costs a read of /proc/self/maps and one
	// madvise per mapped file, every ~8,000 ballots at this size.
	DefaultTrimEvery = 32 << 20
	// DefaultTrimInterval: 1 s. While the store's files change, it also
	// trims this often, whatever the byte count. Badger's look-ups and
	// compactions read tables through its maps, bytes TrimEvery does not
	// count: under full load a station's table pages came back into its
	// resident set at 12-20 MB/s (each fault maps 64 KiB around the page
	// touched), most of them Bloom filters and indexes of tables that stay in
	// the page cache, so bringing them back is a minor fault
	// (docs/BENCHMARKS.md).
	DefaultTrimInterval = time.Second

	// MaxKeySize is the largest state, index or meta key accepted.
	MaxKeySize = 4096
)

// Options configures Open. The zero value gives the defaults above; every
// memory knob Badger has that matters at a station's scale is here, so an
// operator can size the store without reading Badger's code.
type Options struct {
	// Logger receives Badger's warnings and errors (its info and debug chatter
	// is dropped) and the store's own recovery messages. Nil means slog.Default().
	Logger *slog.Logger

	// MemTableSize is the size of one memtable in bytes. It bounds the largest
	// commit: Badger refuses a transaction of 15% of it or more (see Limits).
	// Each memtable costs about 1.3 times this in memory (arena plus slack),
	// and its write-ahead file is memory-mapped. Default DefaultMemTableSize.
	MemTableSize int64
	// NumMemtables is how many memtables may be in memory at once (the one
	// being written plus those waiting to be flushed). Default DefaultNumMemtables.
	NumMemtables int
	// ValueThreshold: values of at least this many bytes are stored in the value
	// log instead of the LSM tree. At most 1 MiB and below 15% of MemTableSize.
	// Default DefaultValueThreshold.
	ValueThreshold int64
	// ValueLogFileSize is the size of one value log file, and so the largest
	// value. Between 1 MiB and 2 GiB. Default DefaultValueLogFileSize.
	ValueLogFileSize int64
	// BlockCacheSize is Badger's block cache in bytes; 0 (the default) means
	// none. Badger's index cache is not offered: it is used only with
	// encryption, which the store does not enable.
	BlockCacheSize int64
	// NumCompactors is the number of compaction goroutines, at least 2.
	// Default DefaultNumCompactors.
	NumCompactors int
	// TrimEvery: after this many bytes committed or read (a point read
	// counting at least 4 KiB) the store pages out the mappings of its files
	// with madvise(MADV_PAGEOUT), in a background goroutine, so that the
	// pages Badger's memory maps touched do not accumulate in the process's
	// resident set (see the package doc, "Memory"). Linux only; elsewhere,
	// and on a kernel that refuses MADV_PAGEOUT (older than 5.4, logged
	// once), nothing is trimmed. Default DefaultTrimEvery; negative disables
	// trimming.
	TrimEvery int64
	// TrimInterval: while the store's files change (bytes committed or read,
	// or Badger's MANIFEST changed by a flush or a compaction), it also trims
	// this often, so that the tables compaction writes, which TrimEvery does
	// not count, leave the resident set within about this time. An idle
	// store does not trim. Default DefaultTrimInterval; negative: trim by
	// bytes only.
	TrimInterval time.Duration
}

// resolved returns the options with defaults filled in, or an error naming the
// field that is out of range.
func (o Options) resolved() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.NumMemtables == 0 {
		o.NumMemtables = DefaultNumMemtables
	}
	if o.ValueThreshold == 0 {
		o.ValueThreshold = DefaultValueThreshold
	}
	if o.ValueLogFileSize == 0 {
		o.ValueLogFileSize = DefaultValueLogFileSize
	}
	if o.NumCompactors == 0 {
		o.NumCompactors = DefaultNumCompactors
	}
	if o.TrimEvery == 0 {
		o.TrimEvery = DefaultTrimEvery
	}
	if o.TrimInterval == 0 {
		o.TrimInterval = DefaultTrimInterval
	}
	switch {
	case o.MemTableSize < 1<<20:
		return o, fmt.Errorf("%w: MemTableSize %d is below 1 MiB", ErrBadOptions, o.MemTableSize)
	case o.NumMemtables < 1:
		return o, fmt.Errorf("%w: NumMemtables %d is below 1", ErrBadOptions, o.NumMemtables)
	case o.ValueThreshold < 1 || o.ValueThreshold > 1<<20:
		return o, fmt.Errorf("%w: ValueThreshold %d is not in 1..1 MiB", ErrBadOptions, o.ValueThreshold)
	case o.ValueThreshold >= maxBatchSize(o.MemTableSize):
		return o, fmt.Errorf("%w: ValueThreshold %d is not below 15%% of MemTableSize (%d)",
			ErrBadOptions, o.ValueThreshold, maxBatchSize(o.MemTableSize))
	case o.ValueLogFileSize < 1<<20 || o.ValueLogFileSize >= 2<<30:
		return o, fmt.Errorf("%w: ValueLogFileSize %d is not in 1 MiB..2 GiB", ErrBadOptions, o.ValueLogFileSize)
	case o.BlockCacheSize < 0:
		return o, fmt.Errorf("%w: BlockCacheSize %d is negative", ErrBadOptions, o.BlockCacheSize)
	case o.NumCompactors < 2:
		return o, fmt.Errorf("%w: NumCompactors %d is below 2", ErrBadOptions, o.NumCompactors)
	}
	return o, nil
}

// badgerOptions turns resolved options into Badger's.
func (o Options) badgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{o.Logger}).
		// Every commit is on disk when Commit returns: the chain tells voters
		// their ballot is final only after that.
		WithSyncWrites(true).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(o.NumMemtables).
		WithValueThreshold(o.ValueThreshold).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(0).
		WithNumCompactors(o.NumCompactors).
		// Ballots are ElGamal ciphertexts and signatures: compression would
		// cost CPU for nothing (and would force a block cache).
		WithCompression(options.None).
		// Check table block checksums and value log checksums on every read,
		// so a damaged disk shows up as an error instead of wrong bytes.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true).
		// One writer at a time (the store serialises commits), so Badger's
		// conflict tracking is only overhead.
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		// Nearly every state look-up is of a key that is not there (a new
		// ballot's credential, tracking code, ciphertexts), and such a miss
		// consults a Bloom filter per table of level 0 and per level below;
		// a false positive reads an index and a block. At Badger's 1 % the
		// false positives were most of a look-up's cost once the chain held
		// a few hundred thousand ballots; at 0.1 % a miss costs 4.5 µs
		// instead of 5.0-5.9 µs (BenchmarkLookupMiss, 2.1 M keys) for 1.8
		// bytes more of filter per key (docs/BENCHMARKS.md).
		WithBloomFalsePositive(0.001).
		WithMetricsEnabled(false)
}

// maxBatchSize is Badger's transaction size cap for a memtable size: the
// same formula as Badger's checkAndSetOptions.
func maxBatchSize(memTableSize int64) int64 { return 15 * memTableSize / 100 }

// badgerLogger passes Badger's warnings and errors to slog. Info and debug
// messages (dozens at every open) are dropped without formatting them.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(format string, args ...any) { b.log(slog.LevelError, format, args) }
func (b badgerLogger) Warningf(format string, args ...any) {
	b.log(slog.LevelWarn, format, args)
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	if !b.l.Enabled(context.Background(), level) {
		return
	}
	b.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)),
		"component", "badger")
}
