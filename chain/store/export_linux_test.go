package store

import (
	"os"
	"unsafe"
)

// SetMadvise makes stores opened from now on call f instead of madvise(2);
// the returned function restores the system call.
func SetMadvise(f func(addr, length uintptr, advice int) error) (restore func()) {
	old := sysMadvise
	sysMadvise = f
	return func() { sysMadvise = old }
}

// PageOutMaps pages out the mappings of the files under dir, as a trim does.
func PageOutMaps(dir string) (int64, error) { return pageOutMaps(mapsDir(dir), sysMadvise) }

// PageOut gives the advice of a trim to the whole pages inside b, as a trim would if
// b's memory had been mapped where a store file was when the trim read
// /proc/self/maps. It returns the bytes advised.
func PageOut(b []byte) (int, error) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	end := start + uintptr(len(b))
	start = (start + page - 1) &^ (page - 1)
	end &^= page - 1
	if end <= start {
		return 0, nil
	}
	return int(end - start), sysMadvise(start, end-start, trimAdvice)
}

// ParseMapsLine is parseMapsLine.
var ParseMapsLine = parseMapsLine
