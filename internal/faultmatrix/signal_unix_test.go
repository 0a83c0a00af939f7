//go:build unix

package faultmatrix

import "syscall"

var syscallSIGTERM = syscall.SIGTERM
