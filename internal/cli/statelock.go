package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The embedded emulator (--emulator) keeps its world in one state file that each command
// loads when it starts and saves when it ends. Two commands at once would each save their own
// copy and the last would win: a migrate would silently undo a concurrent detach. So a command
// holds an exclusive lock on STATE.lock (flock on Unix, LockFileEx on Windows) from loading
// the state to saving it; a second command waits its turn (saying so on stderr), then sees the
// first one's changes: two concurrent `migrate run-service` make one migration, and the
// second finds nothing to do.

// stateLockPoll is how often a waiting command tries the lock again.
const stateLockPoll = 50 * time.Millisecond

// stateLock is a held lock on an embedded emulator's state.
type stateLock struct {
	f *os.File
}

// lockState takes the lock beside the state file at path, waiting while another command holds
// it, until ctx ends. waiting is called once if it has to wait.
func lockState(ctx context.Context, path string, waiting func(holder string)) (*stateLock, error) {
	lockPath := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return nil, fmt.Errorf("lock the embedded emulator's state: %w", err)
	}
	fh, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the embedded emulator's state: %w", err)
	}
	told := false
	for {
		ok, err := tryLockFile(fh)
		if err != nil {
			_ = fh.Close()
			return nil, fmt.Errorf("lock the embedded emulator's state (%s): %w", lockPath, err)
		}
		if ok {
			break
		}
		if !told && waiting != nil {
			b := make([]byte, 64)
			n, _ := fh.ReadAt(b, 0)
			waiting(strings.TrimSpace(string(b[:n])))
			told = true
		}
		select {
		case <-ctx.Done():
			_ = fh.Close()
			return nil, fmt.Errorf("interrupted while waiting for another runnet --emulator command to finish (lock %s): %w", lockPath, ctx.Err())
		case <-time.After(stateLockPoll):
		}
	}
	// Say who holds it, for a command that has to wait.
	if err := fh.Truncate(0); err == nil {
		_, _ = fh.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &stateLock{f: fh}, nil
}

// unlock releases the lock.
func (l *stateLock) unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := errors.Join(unlockFile(l.f), l.f.Close())
	l.f = nil
	return err
}
