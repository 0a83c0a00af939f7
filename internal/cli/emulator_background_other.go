//go:build !unix

package cli

import "syscall"

// detachedProcess: the platform's defaults.
func detachedProcess() *syscall.SysProcAttr { return nil }
