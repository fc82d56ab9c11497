// Package store is an urna node's block store: the committed blocks, their
// commit certificates, the state they produce and a secondary index, kept in
// one Badger v4 database so that a block and everything it changes become
// durable together or not at all.
//
// The store knows nothing of elections. The chain's state machine (package
// chain) hands it bytes: canonical block bytes, a certificate, an encoded root
// state, and the state and index key/value writes a block makes. The store
// checks only what it can check without the rules: heights follow each other,
// keys are sorted and unique, nothing required is empty, and the commit fits in
// one Badger transaction.
//
// # Key namespaces
//
// The first byte of every Badger key says what the record is. Heights are 8
// bytes big-endian, so Badger's key order is height order.
//
//	key                      value
//	"H"                      head record: height, block hash, SHA-256 of the head's block,
//	                         certificate and root state (152 bytes, see headRecord)
//	'b' height               canonical block bytes
//	'h' height               the block's hash (32 bytes, as the chain computed it)
//	'c' height               the block's commit certificate
//	"r"                      encoded root state after the head block
//	's' key                  state value of key
//	'i' key                  secondary-index value of key (tracking codes, ...)
//	'm' key                  node-local meta record (genesis bytes, the station's key share, ...),
//	                         not part of the chain
//
// The consensus write-ahead log and the signer state are not here: they live in
// their own files (packages chain/bft/wal and chain/bft/signer), which must be
// fsynced before messages leave, on a path that does not wait for Badger.
//
// # Commit
//
// Commit writes block, hash, certificate, root state, every state write, every
// index write and, last, the head record, in one Badger transaction with
// SyncWrites on: when Commit returns nil, Badger has msynced its value log and
// its memtable's write-ahead file. Atomicity comes from the transaction, not
// from the order: Badger marks every entry of a transaction and on replay drops
// a transaction whose end marker did not reach the disk. Writing the head last
// only keeps the code honest if that ever changes. (One gap is Badger's: it
// logs, rather than returns, a failed msync of the value log; that message
// reaches Options.Logger at error level.)
//
// Everything that can be checked is checked before the transaction starts, so
// a refused commit writes nothing: the height must be the head's + 1
// (ErrNotNext), block, certificate and state must not be empty (ErrEmpty), the
// keys of Writes and of Index must be strictly increasing (ErrKeyOrder), keys
// must be 1..MaxKeySize bytes, and the commit must fit in one transaction.
// Badger caps a transaction at 15% of MemTableSize, counting for every key its
// length + 12 and either the value (if smaller than ValueThreshold) or a 12-byte
// pointer (if the value goes to the value log), and caps the number of keys
// at that size / 96. The store computes the same estimate (Store.CommitSize,
// Store.Limits) and refuses a commit over it with a *CommitTooLargeError naming
// the size and the limit, rather than splitting it: a Badger WriteBatch is not
// atomic.
//
// With the default options one commit may hold 2,516,517 bytes and 26,212
// keys. A ballot costs about 199 bytes and 2 keys of that (its ~4 KiB in the
// block goes to the value log as part of one value; a 100-byte state write
// under a 34-byte key; a 13-byte index entry under a 26-byte key), so a commit
// holds about 12,600 ballots, a block of ~50 MB (the value log file size, 64
// MiB, caps any single value). MemTableSize scales the limit linearly: size it
// for the largest block the consensus may propose.
//
// # Open
//
// Open checks the store before handing it out:
//
//   - the head record decodes, and the block, block hash, certificate and root
//     state it names are present and match its hash and digests;
//   - the blocks, hashes and certificates are exactly heights 1..head (read
//     from the keys alone, without touching the value log);
//   - with no head, there are no state, index or root state records.
//
// Any failure is ErrCorrupt with what is wrong, and Open changes nothing. With
// one transaction per commit nothing of an interrupted commit can remain, but
// if the records of exactly one block are found above the head (height
// head+1), they are removed in one synchronous transaction and a warning is
// logged ("rolled back"): no caller was ever told that block was committed,
// because Commit had not returned. Records two or more heights above the head
// cannot come from one interrupted commit and are ErrCorrupt.
//
// Open also works around a Badger v4 bug (dgraph-io/badger#2207): a crash
// between Badger creating a .mem or .vlog file and sizing it leaves a 0-byte
// file on which badger.Open fails. Such a file holds no data; Open removes it
// under Badger's directory lock and logs it.
//
// If Badger fails while committing, what reached the disk is unknown (after a
// failed fsync Linux may have dropped the dirty pages), so the store refuses
// every later write with ErrFailed until it is closed and opened again, which
// reads and checks what is really there.
//
// # Memory
//
// The defaults keep a station's store small while it holds an election's
// ballots; every knob is an Options field:
//
//	MemTableSize      16 MiB  one commit up to 2.4 MiB of LSM bytes (~12,600 ballots);
//	                          each memtable's arena is ~21 MiB of Go heap
//	NumMemtables      1       at most 3 memtables in memory: the one taking writes,
//	                          one queued and one being flushed (Badger's default is 5)
//	ValueThreshold    64 KiB  blocks of 16 ballots or more go to the value log and
//	                          cost a commit 12 bytes; state values stay in the LSM tree
//	ValueLogFileSize  64 MiB  smaller files and mappings than Badger's 1 GiB; also the
//	                          largest value
//	BlockCacheSize    0       values are not compressed (ballots are ciphertexts), so
//	                          tables are read from their memory-mapped files and the
//	                          kernel's page cache does the caching (Badger's default
//	                          is a 256 MiB cache)
//	NumCompactors     2       Badger's minimum; a station has few cores
//	TrimEvery         32 MiB  after this many bytes committed or read, page out the
//	                          store's memory-mapped files (Linux; negative: never)
//	TrimInterval      1 s     and this often while the files change (commits, reads,
//	                          Badger's flushes and compactions; negative: bytes only)
//
// Not offered: compression (pointless on ciphertexts) and the index cache
// (Badger uses it only with encryption, which the store does not enable).
//
// Fixed, not offered: Bloom filters at 0.1 % false positives instead of
// Badger's 1 %. Nearly every state look-up is of a key that is not there (a
// new ballot's credential, tracking code and ciphertexts), and at 1 % the
// table blocks that false positives read were most of a miss's cost once the
// chain held a few hundred thousand ballots (BenchmarkLookupMiss); the
// filters grow by 1.8 bytes per key.
//
// Measured with 300 blocks of 1,000 ballots (300,000 ballots, 1.2 GB on disk,
// TestMemoryFootprint): the live Go heap stays at ~53 MB, nearly all memtable
// arenas; the anonymous resident memory peaks at ~150 MB with Go's default
// GOGC and at ~75 MB with GOMEMLIMIT=100MiB, which a node should set.
//
// Badger reads and writes its value log, tables and memtable log through
// shared memory maps, and the kernel leaves every page touched in the
// process's resident set while it has memory to spare, so the file-backed part
// of RSS would grow with the data written or read (419 MB after 100 blocks of
// 1,000 ballots). On Linux the store therefore pages out the mappings of the
// files in its directory (madvise MADV_PAGEOUT over what /proc/self/maps lists)
// after every Options.TrimEvery bytes committed or read, every
// Options.TrimInterval while its files change (Badger's compactions read and
// write tables through the same maps, and its look-ups fault in 64 KiB of a
// table at a time: far more than the bytes the store counts), and
// once after Open,
// in a background goroutine that never holds up a commit and that Close waits
// for: that part of RSS stays near TrimEvery (19-26 MB in the same run). The
// pages stay on disk and, if dirty, in the page cache until written back; a
// later read maps them in again. PAGEOUT rather than DONTNEED because a file
// may be unmapped, and Go heap mapped in its place, between reading the maps
// and the madvise: PAGEOUT never loses data, DONTNEED would zero that heap
// (trim_linux.go). A kernel that refuses PAGEOUT (before 5.4) is logged once
// and trimming stops; commits are never affected.
//
// A Store is safe for concurrent use; writes are serialised. Snapshots (View)
// give consistent reads at one point in time.
package store
