package store

import (
	"os"
	"path/filepath"
	"testing"
)

// The timer's trigger: bytes counted since the last trim, or a MANIFEST that
// changed (Badger recorded a flush or a compaction), and nothing else.
func TestTrimDue(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, badgerManifest)
	if err := os.WriteFile(manifest, []byte("one change"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := &trimmer{dir: dir, manifest: manifestNow(dir)}
	if tr.due() {
		t.Fatal("due with nothing counted and the MANIFEST as stamped")
	}
	tr.pending.Store(1)
	if !tr.due() {
		t.Fatal("not due with a byte counted")
	}
	tr.pending.Store(0)
	f, err := os.OpenFile(manifest, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(", and a compaction")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !tr.due() {
		t.Fatal("not due after the MANIFEST grew")
	}
	tr.manifest = manifestNow(dir)
	if tr.due() {
		t.Fatal("due after re-stamping the MANIFEST")
	}
	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	if !tr.due() {
		t.Fatal("not due after the MANIFEST went away (a stamp that cannot be read counts as a change)")
	}
}
