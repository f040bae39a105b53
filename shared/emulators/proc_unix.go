//go:build unix && !linux

package emulators

import "syscall"

// sysProcAttr puts the emulator in its own process group so Stop can signal java and anything
// it spawned.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
