package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file is `runnet migrate --resume WORKLOAD [--rollback] [--break-lock]` and the lock that
// a running migration keeps on its workload (egress.JournalAnnotation).

// journalConfig says who runs this runnet, for the journals it writes.
func journalConfig(f *Factory) *egress.JournalConfig {
	name := f.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return &egress.JournalConfig{Who: name + "@" + host, PID: os.Getpid()}
}

// lockedBy returns the error of a workload that carries a migration journal: another run holds
// it, or died holding it (exit 5).
func lockedBy(w *cloud.Workload) error {
	v := w.Journal()
	if v == "" {
		return nil
	}
	j, err := egress.DecodeJournal(v)
	if err != nil {
		return &egress.UnreadableJournalError{Ref: w.Ref, Err: err}
	}
	return &egress.LockedError{Ref: w.Ref, Journal: j, Now: time.Now(), Gone: processGone(j)}
}

// processGone reports whether a journal's run is known to be dead: it ran on this host, as
// this user, and its pid is not running (a SIGKILL, a crash). Its lock can be taken over at
// once. From another host nothing is known: the lease decides.
func processGone(j *egress.Journal) bool {
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

// blockedCode is the exit status of a migration a failed preflight check blocked: 4 when the
// caller lacks permissions, else 3.
func blockedCode(p egress.Plan) int {
	for _, c := range egress.Failed(p.Checks) {
		if c.Name == egress.CheckPermissions {
			return exitcode.Permission
		}
	}
	return exitcode.Preflight
}

// completeResume checks the flags of --resume: one WORKLOAD, and nothing that describes a
// migration (the journal holds the plan).
func (o *MigrateOptions) completeResume() error {
	if o.All || len(o.Workloads) != 1 {
		return exitcode.Usagef("--resume takes one WORKLOAD: the workload whose migration was interrupted")
	}
	for _, n := range []string{"to", "connector", "network", "subnet", "network-tags", "clear-network-tags", "egress", "keep-egress",
		"create-subnet", "range", "prefix", "canary", "step-wait", "verify", "cleanup", "dry-run", "force", "from-connector", "concurrency"} {
		if o.set[n] {
			return exitcode.Usagef("--%s cannot be used with --resume: the migration's journal holds its plan", n)
		}
	}
	ref, err := parseWorkloadArg(o.f, o.Workloads[0])
	if err != nil {
		return err
	}
	o.refs, o.single = []egress.WorkloadRef{ref}, true
	o.project, o.region = ref.Project, ref.Region
	if !o.f.Options.Yes && !o.f.IOStreams.CanPrompt() {
		return exitcode.Usagef("resuming needs confirmation and cannot ask without a terminal; pass --yes to proceed")
	}
	return nil
}

// runResume finishes or undoes the migration recorded in the workload's journal.
func (o *MigrateOptions) runResume(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	ref := o.refs[0]
	w, err := c.GetWorkload(ctx, ref)
	if err != nil {
		return err
	}
	fl := o.fleet(c)
	v := w.Journal()
	if v == "" {
		o.infof("Nothing to resume: %s %s carries no migration journal (annotation %s).", noun(ref.Kind), ref.Name, egress.JournalAnnotation)
		m := &Migration{Ref: ref, Workload: w, Target: w.VPC, Result: &egress.Result{Workload: ref, Outcome: egress.OutcomeNoOp,
			Notes: []egress.Message{egress.Plain("no interrupted migration: the workload carries no migration journal")}}}
		return o.finish(p, fl, []*Migration{m}, nil, nil, start)
	}
	j, derr := egress.DecodeJournal(v)
	if derr != nil {
		if !o.BreakLock {
			return exitcode.Errorf(exitcode.Conflict, "%v; --break-lock removes it (it changes nothing else; check the workload with 'runnet status %s' first)", derr, ref)
		}
		if ok, err := o.f.Confirm(fmt.Sprintf("Remove the unreadable migration journal from %s %s?", noun(ref.Kind), ref.Name)); err != nil {
			return err
		} else if !ok {
			return exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
		}
		empty := ""
		pl := &cloud.Platform{C: c}
		if _, err := pl.Update(ctx, cloud.Snapshot(w), egress.Update{Journal: &empty}); err != nil {
			return fmt.Errorf("remove the migration journal: %w", err)
		}
		o.infof("Removed the unreadable migration journal from %s %s; nothing else was changed.", noun(ref.Kind), ref.Name)
		m := &Migration{Ref: ref, Workload: w, Target: w.VPC, Result: &egress.Result{Workload: ref, Outcome: egress.OutcomeNoOp,
			Notes: []egress.Message{egress.Plain("removed an unreadable migration journal: " + derr.Error())}}}
		return o.finish(p, fl, []*Migration{m}, nil, nil, start)
	}
	if j.Workload != ref {
		return fmt.Errorf("the migration journal on %s names another workload (%s): not resuming; remove it with --break-lock", ref, j.Workload)
	}
	now := time.Now()
	if gone := processGone(j); !j.Stale(now) && !gone && !o.BreakLock {
		return exitcode.Wrap(exitcode.Conflict, &egress.LockedError{Ref: ref, Journal: j, Now: now})
	}
	verb := "Finish"
	if o.Rollback {
		verb = "Undo"
	}
	if j.Phase == egress.PhaseRollingBack && !o.Rollback {
		verb = "Finish rolling back"
	}
	q := fmt.Sprintf("%s the interrupted migration of %s %s (%s)?", verb, noun(ref.Kind), ref.Name, j.Describe(now))
	if ok, err := o.f.Confirm(q); err != nil {
		return err
	} else if !ok {
		return exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
	}
	o.infof("Resuming %s.", j.Describe(now))
	res := fl.executor().Resume(ctx, egress.ResumeRequest{Journal: j, Workload: cloud.Snapshot(w), Rollback: o.Rollback})
	m := &Migration{Ref: ref, Workload: w, Target: j.To, Plan: j.Plan(), Result: res, RollbackRequested: o.Rollback}
	m.Plan.Checks = []egress.Check{}
	m.Notes = append(m.Notes, egress.Plain(fmt.Sprintf("resumed the migration started %s by %s", j.Started.UTC().Format(time.RFC3339), j.Who)))
	// The report describes the workload as the interrupted run found it.
	m.Workload.LatestReady = j.Original.LatestReady
	m.Workload.Traffic = j.Original.Traffic
	return o.finish(p, fl, []*Migration{m}, nil, nil, start)
}
