package wal

import "testing"

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
