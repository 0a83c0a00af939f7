package migration

import (
	"context"
	"fmt"
	"time"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// ResumeRequest is an interrupted migration to finish or undo.
type ResumeRequest struct {
	// Workload is the workload whose migration was interrupted: it carries the journal.
	Workload egress.WorkloadRef
	// Rollback undoes the migration instead of finishing it.
	Rollback bool
	// BreakLock takes over a journal that is not stale yet (its process is gone), or
	// removes one that cannot be read.
	BreakLock bool
}

// Confirm asks the user a question before a change; false (without an error) cancels.
type Confirm func(question string) (bool, error)

// Resume finishes (or, with Rollback, undoes) the migration recorded in the journal the
// workload carries, after confirm agrees. A workload without a journal is a no-op; a
// journal that cannot be read is removed with BreakLock (exit status 5 without); a journal
// whose run still looks alive is taken over with BreakLock only (exit status 5 without).
func (e *Engine) Resume(ctx context.Context, req ResumeRequest, confirm Confirm) (*Migration, error) {
	ref := req.Workload
	w, err := e.Read.GetWorkload(ctx, ref)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s %s", kindNoun(ref.Kind), ref.Name)
	v := w.Journal()
	if v == "" {
		e.info(egress.Plain(fmt.Sprintf("Nothing to resume: %s carries no migration journal (annotation %s).", what, egress.JournalAnnotation)))
		return &Migration{Ref: ref, Workload: w, Target: w.VPC, Result: &egress.Result{Workload: ref, Outcome: egress.OutcomeNoOp,
			Notes: []egress.Message{egress.Plain("no interrupted migration: the workload carries no migration journal")}}}, nil
	}
	j, derr := egress.DecodeJournal(v)
	if derr != nil {
		if !req.BreakLock {
			return nil, exitcode.Wrap(exitcode.Conflict, egress.WithAdvice(derr,
				egress.Say("; --break-lock removes it (it changes nothing else; check the workload with '", egress.Action{Kind: egress.ActionStatus, Workload: ref}, "' first)")))
		}
		if ok, err := confirm(fmt.Sprintf("Remove the unreadable migration journal from %s?", what)); err != nil {
			return nil, err
		} else if !ok {
			return nil, exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
		}
		empty := ""
		if _, err := e.Platform.Update(ctx, cloud.Snapshot(w), egress.Update{Journal: &empty}); err != nil {
			return nil, fmt.Errorf("remove the migration journal: %w", err)
		}
		e.info(egress.Plain(fmt.Sprintf("Removed the unreadable migration journal from %s; nothing else was changed.", what)))
		return &Migration{Ref: ref, Workload: w, Target: w.VPC, Result: &egress.Result{Workload: ref, Outcome: egress.OutcomeNoOp,
			Notes: []egress.Message{egress.Plain("removed an unreadable migration journal: " + derr.Error())}}}, nil
	}
	if j.Workload != ref {
		return nil, fmt.Errorf("the migration journal on %s names another workload (%s): not resuming; remove it with --break-lock", ref, j.Workload)
	}
	now := time.Now()
	if !e.Stale(j, now) && !req.BreakLock {
		return nil, exitcode.Wrap(exitcode.Conflict, &egress.LockedError{Ref: ref, Journal: j, Now: now})
	}
	verb := "Finish"
	if req.Rollback {
		verb = "Undo"
	}
	if j.Phase == egress.PhaseRollingBack && !req.Rollback {
		verb = "Finish rolling back"
	}
	if ok, err := confirm(fmt.Sprintf("%s the interrupted migration of %s (%s)?", verb, what, j.Describe(now))); err != nil {
		return nil, err
	} else if !ok {
		return nil, exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
	}
	e.info(egress.Plain(fmt.Sprintf("Resuming %s.", j.Describe(now))))
	res := e.executor().Resume(ctx, egress.ResumeRequest{Journal: j, Workload: cloud.Snapshot(w), Rollback: req.Rollback})
	m := &Migration{Ref: ref, Workload: w, Target: j.To, Plan: j.Plan(), Result: res, RollbackRequested: req.Rollback}
	m.Plan.Checks = []egress.Check{}
	m.Notes = append(m.Notes, egress.Plain(fmt.Sprintf("resumed the migration started %s by %s", j.Started.UTC().Format(time.RFC3339), j.Who)))
	// The report describes the workload as the interrupted run found it.
	m.Workload.LatestReady = j.Original.LatestReady
	m.Workload.Traffic = j.Original.Traffic
	return m, nil
}

// kindNoun is how messages name a kind of workload: service, job, worker pool.
func kindNoun(k egress.Kind) string {
	if k == egress.KindWorkerPool {
		return "worker pool"
	}
	return string(k)
}
