//go:build unix

package main

import (
	"os"
	"syscall"
)

// mapRoll maps the home's roll file read-only, so that the bytes a node
// serves to clients are the file's pages, shared with the page cache and
// given back under memory pressure, instead of a copy on the heap (65 MB
// for a million voters). The file was checked against the genesis when the
// home was opened; clients check what they get against it too.
func mapRoll(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}
