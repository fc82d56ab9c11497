//go:build !unix

package main

import "os"

// mapRoll reads the roll file (no memory mapping on this platform).
func mapRoll(path string) ([]byte, error) { return os.ReadFile(path) }
