//go:build !linux

package main

import "syscall"

// nodeProcAttr: only Linux can tie a child's life to its parent's; the
// demo stops its stations itself when it ends.
func nodeProcAttr() *syscall.SysProcAttr { return nil }
