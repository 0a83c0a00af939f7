package migration

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// Locks: while a workload migrates it carries the run's journal (egress.JournalAnnotation),
// which is its lock. A journal's run is alive while its lease runs, unless its process is
// known to be gone; a run that looks dead can be resumed or undone at once.

// Lock is the error of a workload that carries a migration journal, nil when it carries none:
// another run holds it, or died holding it (*egress.LockedError), or its journal cannot be
// read (*egress.UnreadableJournalError). Both match egress.ErrConflict (exit status 5).
func (e *Engine) Lock(w *cloud.Workload) error {
	v := w.Journal()
	if v == "" {
		return nil
	}
	j, err := egress.DecodeJournal(v)
	if err != nil {
		return &egress.UnreadableJournalError{Ref: w.Ref, Err: err}
	}
	return &egress.LockedError{Ref: w.Ref, Journal: j, Now: time.Now(), Gone: e.gone(j)}
}

// Stale reports whether the run of journal j looks dead: its lease ran out, or its process
// is known to be gone.
func (e *Engine) Stale(j *egress.Journal, now time.Time) bool { return j.Stale(now) || e.gone(j) }

func (e *Engine) gone(j *egress.Journal) bool {
	if e.LockGone != nil {
		return e.LockGone(j)
	}
	return ProcessGone(j)
}

// ProcessGone reports whether a journal's run is known to be dead: it ran on this host, as
// this user, and its pid is not running (a SIGKILL, a crash). Its lock can be taken over at
// once. From another host nothing is known: the lease decides.
func ProcessGone(j *egress.Journal) bool {
	if runtime.GOOS == "windows" || j.PID <= 0 || j.PID == os.Getpid() {
		return false
	}
	host, err := os.Hostname()
	if err != nil || !strings.HasSuffix(j.Who, "@"+host) {
		return false
	}
	p, err := os.FindProcess(j.PID)
	if err != nil {
		return true
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// JournalFor is the journal configuration of a run of this process by user (the journals
// say who runs them: user@host, and the pid).
func JournalFor(user string) *egress.JournalConfig {
	if user == "" {
		user = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return &egress.JournalConfig{Who: user + "@" + host, PID: os.Getpid()}
}
