//go:build !unix

package local

import (
	"os"
	"syscall"
)

// sysProcAttr: no process groups here; only the shell itself is killed.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	_ = p.Kill()
	return nil
}
