package main

import "syscall"

// nodeProcAttr makes the kernel stop a demo's station (SIGTERM) if the
// demo itself dies without stopping it (kill -9): no station outlives it.
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
