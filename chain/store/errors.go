package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the store returns wraps one of these (or an
// error from Badger or the operating system), so callers match with errors.Is
// and never by text; the text says which height, field or key was at fault.
var (
	// ErrNotFound: no such block, certificate, key or meta record.
	ErrNotFound = errors.New("not found")
	// ErrNotNext: a commit's height is not the head's height + 1 (1 on an empty store).
	ErrNotNext = errors.New("height is not the next after the head")
	// ErrNotHead: SetCertificate for a block that is not the head block.
	ErrNotHead = errors.New("not the head block")
	// ErrEmpty: a required field (block, certificate, state, key) is empty.
	ErrEmpty = errors.New("empty")
	// ErrKeyOrder: keys in Writes or Index are not strictly increasing
	// (unsorted, or the same key twice).
	ErrKeyOrder = errors.New("keys not strictly increasing")
	// ErrKeyTooLarge: a key is longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("key too large")
	// ErrCommitTooLarge: a commit does not fit into one Badger transaction
	// (see CommitTooLargeError for the figures).
	ErrCommitTooLarge = errors.New("commit too large for one transaction")
	// ErrCorrupt: the store on disk is inconsistent (a head record that does
	// not decode, a head whose block, certificate or state is missing or does
	// not match the head's digests, gaps in the block sequence, or records above
	// the head that an interrupted commit cannot explain). Open refuses such a
	// store: it means a failing disk, a file system that lost synced data, a bug,
	// or tampering, and a station must stop rather than guess.
	ErrCorrupt = errors.New("store corrupt")
	// ErrLocked: another process has the store open (Badger locks its
	// directory).
	ErrLocked = errors.New("store directory in use by another process")
	// ErrBadOptions: an Options field is out of range.
	ErrBadOptions = errors.New("bad store options")
	// ErrClosed: the store or snapshot was closed.
	ErrClosed = errors.New("store closed")
	// ErrFailed: an earlier write to Badger failed in a way that leaves it
	// unknown what reached the disk; the store refuses writes until it is
	// closed and opened again (Open reads and checks what is really on disk).
	ErrFailed = errors.New("store failed earlier; reopen it")
)

// CommitTooLargeError reports a commit (or meta write) that does not fit in one
// Badger transaction. It wraps ErrCommitTooLarge.
//
// Bytes is Badger's own estimate of the transaction's size (keys, values kept
// in the LSM tree, value pointers for values moved to the value log, and
// per-entry overhead, see Limits); Entries counts keys written.
type CommitTooLargeError struct {
	Height     uint64 // height of the commit; 0 for a meta write
	Bytes      int64  // estimated transaction size
	MaxBytes   int64  // largest size that fits (Limits.MaxBytes)
	Entries    int64  // number of keys written
	MaxEntries int64  // largest number of keys that fits (Limits.MaxEntries)
	// Field, ValueSize and MaxValueSize are set instead when a single value is
	// larger than a value log file (Limits.MaxValueSize), which Badger cannot
	// store at all.
	Field        string
	ValueSize    int64
	MaxValueSize int64
}

func (e *CommitTooLargeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%v: height %d: %s is %d bytes, more than the largest value %d "+
			"(raise Options.ValueLogFileSize)",
			ErrCommitTooLarge, e.Height, e.Field, e.ValueSize, e.MaxValueSize)
	}
	return fmt.Sprintf("%v: height %d: %d bytes in %d entries; limit %d bytes and %d entries "+
		"(raise Options.MemTableSize: the limit is 15%% of it)",
		ErrCommitTooLarge, e.Height, e.Bytes, e.Entries, e.MaxBytes, e.MaxEntries)
}

// Unwrap makes errors.Is(err, ErrCommitTooLarge) true.
func (e *CommitTooLargeError) Unwrap() error { return ErrCommitTooLarge }
