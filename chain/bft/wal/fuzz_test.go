package wal_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/urna-vote/urna/chain/bft/wal"
)

// FuzzOpen writes arbitrary bytes as the only segment of a log and opens it: Open
// must not panic; on success Replay must work, the file must have been cut to the
// reported length, and a second Open must find nothing left to repair.
func FuzzOpen(f *testing.F) {
	seed := f.TempDir()
	writeLog(f, seed, []heightRecs{{5, [][]byte{[]byte("vote"), {}, bytes.Repeat([]byte{7}, 200)}}})
	good, err := os.ReadFile(segPath(seed, 5))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), make([]byte, 50)...))
	f.Add(good[:20])
	f.Add([]byte("URNA-WAL"))
	bad := bytes.Clone(good)
	bad[40] ^= 0x80
	f.Add(bad)

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := segPath(dir, 5)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, rec, err := wal.Open(dir)
		if err != nil {
			var ce *wal.CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("Open error %v is not a CorruptionError", err)
			}
			return
		}
		if err := l.Replay(5, func(uint64, []byte) error { return nil }); err != nil {
			t.Fatalf("Replay after a successful Open: %v", err)
		}
		l.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(data)) - rec.TruncatedBytes; fi.Size() != want {
			t.Fatalf("file is %d bytes, want %d after recovery %+v", fi.Size(), want, rec)
		}
		l, rec, err = wal.Open(dir)
		if err != nil || rec.TruncatedBytes != 0 {
			t.Fatalf("second Open: %v, %+v", err, rec)
		}
		l.Close()
	})
}
