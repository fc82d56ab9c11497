//go:build !unix

package store

import "log/slog"

// removeCrashedEmptyFiles is a no-op where there is no flock to make it safe;
// see cleanup_unix.go.
func removeCrashedEmptyFiles(string, *slog.Logger) error { return nil }
