//go:build !unix && !windows

package cli

import "os"

// tryLockFile: no file locks on this platform; concurrent --emulator commands are not
// serialised.
func tryLockFile(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) error { return nil }
