//go:build !unix

package local

import (
	"os"
	"syscall"
)

// sysProcAttr: no process groups here; only the shell itself is stopped.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// terminateGroup cannot ask politely here: it kills the shell.
func terminateGroup(pid int) error { return killGroup(pid) }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	_ = p.Kill()
	return nil
}
