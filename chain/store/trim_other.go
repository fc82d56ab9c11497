//go:build !linux

package store

import "errors"

// canTrim: elsewhere there is no MADV_PAGEOUT (nor /proc/self/maps), so the
// store does not trim; see trim_linux.go.
const canTrim = false

// sysMadvise is not needed without trimming.
var sysMadvise madviseFunc

func pageOutMaps(string, madviseFunc) (int64, error) {
	return 0, errors.New("paging out mapped files is supported on Linux only")
}
