package wal_test

import "testing"

// BenchmarkAppendSync200 measures the durable path of one typical consensus input
// (a ~200-byte vote): Append then Sync, one fsync per operation.
func BenchmarkAppendSync200(b *testing.B) {
	l, _ := mustOpen(b, b.TempDir())
	defer l.Close()
	if err := l.StartHeight(1); err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 200)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend200 is the buffered path alone, for comparison.
func BenchmarkAppend200(b *testing.B) {
	l, _ := mustOpen(b, b.TempDir())
	defer l.Close()
	if err := l.StartHeight(1); err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 200)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}
