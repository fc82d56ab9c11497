package wal

import (
	"errors"
	"testing"
)

func TestAbandonDropsUnsyncedRecords(t *testing.T) {
	dir := t.TempDir()
	l, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StartHeight(1); err != nil {
		t.Fatal(err)
	}
	l.Append([]byte("synced"))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.Append([]byte("lost"))
	l.Abandon()
	if err := l.Append([]byte("x")); err == nil {
		t.Fatal("append after Abandon accepted")
	}
	l2, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	var got []string
	if err := l2.Replay(1, func(h uint64, rec []byte) error { got = append(got, string(rec)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "synced" {
		t.Fatalf("after a crash the log holds %q, want only the synced record", got)
	}
}

// TestGroupIsNeverSplitByAFlush: a large input logged with the message it
// produced, as one group, survives a crash whole or not at all. (Before groups,
// the size-based flush inside Append wrote the large input out alone, and a crash
// kept the input without the message logged with it.)
func TestGroupIsNeverSplitByAFlush(t *testing.T) {
	for _, before := range []int{0, flushThreshold / 2, flushThreshold - 10} {
		dir := t.TempDir()
		l, _, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.StartHeight(1); err != nil {
			t.Fatal(err)
		}
		if before > 0 {
			if err := l.Append(make([]byte, before)); err != nil {
				t.Fatal(err)
			}
		}
		input := make([]byte, flushThreshold+100) // alone, past the flush threshold
		input[0] = 'I'
		if err := l.Append(input, []byte("our vote")); err != nil {
			t.Fatal(err)
		}
		l.Abandon()
		l2, _, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		if err := l2.Replay(1, func(_ uint64, rec []byte) error { got = append(got, rec); return nil }); err != nil {
			t.Fatal(err)
		}
		l2.Close()
		var sawInput, sawVote bool
		for _, r := range got {
			sawInput = sawInput || (len(r) == len(input) && r[0] == 'I')
			sawVote = sawVote || string(r) == "our vote"
		}
		if sawInput != sawVote {
			t.Fatalf("%d bytes buffered before: after a crash the log holds the input %v and its vote %v", before, sawInput, sawVote)
		}
	}
}

// TestAppendRefusesAGroupWithATooLargeRecord: nothing of such a group is
// appended.
func TestAppendRefusesAGroupWithATooLargeRecord(t *testing.T) {
	l, _, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.StartHeight(1); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("ok"), make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("got %v, want ErrRecordTooLarge", err)
	}
	var n int
	if err := l.Replay(1, func(uint64, []byte) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("replay: %d records, %v; want none", n, err)
	}
}
