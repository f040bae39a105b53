package emulators

import "syscall"

// sysProcAttr puts the emulator in its own process group (so Stop can signal java and anything
// it spawned) and kills it if the Go process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
