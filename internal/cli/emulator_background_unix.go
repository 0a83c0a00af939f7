//go:build unix

package cli

import "syscall"

// detachedProcess puts the background server in a session of its own: the terminal's Ctrl-C
// and hang-up do not reach it.
func detachedProcess() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
