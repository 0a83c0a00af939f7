package egress

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// This file is the executor's side of the journal (journal.go): taking it, keeping it current,
// removing it, and resuming a run from it.

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// journal builds the journal of the run as it stands.
func (r *runState) journal() *Journal {
	cfg := r.e.Journal
	now := r.clock.Now()
	lease := cfg.Lease
	if lease <= 0 {
		lease = DefaultJournalLease
	}
	if r.step >= 0 && r.step < len(r.plan.Steps) {
		// While a run watches a canary step, it writes nothing.
		lease += time.Duration(r.plan.Steps[r.step].WaitSeconds * float64(time.Second))
	}
	j := &Journal{
		Version: JournalVersion, ID: r.jid, Who: cfg.Who, PID: cfg.PID,
		Started: r.started.UTC().Truncate(time.Second), Updated: now.UTC().Truncate(time.Second), Expires: now.Add(lease).UTC().Truncate(time.Second),
		Phase: r.phase, Step: r.step, Summary: r.summary(), Workload: r.ref(), Reason: r.reason,
		Original: r.res.Original, To: r.plan.To, NewRevision: r.res.NewRevision, Tag: r.res.Tag, Subnet: r.subnet,
		Into: r.plan.Into, Gate: r.plan.Gate, Probes: r.plan.Probes,
	}
	if r.plan.MoveFrom != nil {
		from := slices.Clone(r.plan.MoveFrom)
		j.MoveFrom = &from
	}
	j.Original.Traffic = slices.Clone(j.Original.Traffic)
	for i, s := range r.plan.Steps {
		st := StepPending
		if i < len(r.res.Steps) {
			st = r.res.Steps[i].Status
		}
		j.Steps = append(j.Steps, JournalStep{Kind: s.Kind, Resource: s.Resource, Percent: s.Percent, Tag: s.Tag, WaitSeconds: s.WaitSeconds, Force: s.Force, Status: st})
	}
	if j.Step < 0 || j.Step >= len(j.Steps) {
		j.Step = 0
	}
	return j
}

func (r *runState) summary() string {
	p := r.plan
	return fmt.Sprintf("migrate %s from %s to %s in %s", p.Workload, p.FromMode, p.ToMode, plural(len(p.Steps), "step"))
}

func (r *runState) encodeJournal() (string, error) {
	v, err := r.journal().Encode()
	if err != nil {
		return "", fmt.Errorf("write the migration journal: %w", err)
	}
	return v, nil
}

// journalKey identifies what a journal write records (not when), so that a state already
// written is not written again.
func (r *runState) journalKey() string {
	return fmt.Sprintf("%s/%d/%s", r.phase, r.step, r.res.NewRevision)
}

// journalOnly writes the journal (or, with remove, removes it) by a change of the workload's
// metadata only, which makes no revision and moves no traffic. Unless wait, it returns as soon
// as the API accepted it.
func (r *runState) journalOnly(ctx context.Context, remove, wait bool) error {
	u := Update{NoWait: !wait}
	if remove {
		empty := ""
		u.Journal = &empty
	} else {
		if r.jOnServer && r.jWritten == r.journalKey() {
			return nil
		}
		v, err := r.encodeJournal()
		if err != nil {
			return err
		}
		u.Journal = &v
	}
	return r.send(ctx, u)
}

// acquire takes the workload's journal before the first change: the lock. A workload that
// carries another run's journal is refused (exit 5). The journal is first written by the
// first step (with the step's own change, when it changes the workload): with the etag the
// workload was read with, so that of two runs that read it alike, one finds its change refused
// and the other's journal in its place.
func (r *runState) acquire(context.Context) error {
	if r.cur.Journal != "" {
		j, err := DecodeJournal(r.cur.Journal)
		if err != nil {
			return &UnreadableJournalError{Ref: r.ref(), Err: err}
		}
		if j.ID != r.jid {
			return &LockedError{Ref: r.ref(), Journal: j, Now: r.clock.Now()}
		}
	}
	if r.e.Journal == nil {
		return nil
	}
	r.held, r.phase, r.step = true, PhaseMigrating, 0
	return nil
}

// release removes the journal if the workload may still carry it, and waits for that.
func (r *runState) release(ctx context.Context) error {
	if !r.jOnServer {
		r.held = false
		return nil
	}
	err := r.journalOnly(ctx, true, true)
	if err == nil {
		r.held = false
	}
	return err
}

// releaseAfter removes the journal after a run that failed or was interrupted (ctx may be
// done): in a context of its own.
func (r *runState) releaseAfter(ctx context.Context) {
	if !r.jOnServer {
		r.held = false
		return
	}
	rctx, cancel := r.rollbackContext(ctx)
	defer cancel()
	if err := r.release(rctx); err != nil {
		r.res.Notes = append(r.res.Notes, r.journalLeft(err))
	}
}

// ResumeRequest is a run to finish or undo from its journal.
type ResumeRequest struct {
	// Journal is the journal the workload carries.
	Journal *Journal
	// Workload is the workload as read now.
	Workload *Snapshot
	// Rollback undoes the run instead of finishing it.
	Rollback bool
}

// Resume finishes (or, with Rollback, undoes) a run whose process died, from its journal and
// the workload as it is now. It takes the journal over (with the etag), then: rolling back,
// restores the settings and traffic the journal recorded, as a rollback does; finishing, it
// continues from the step the journal reached, taking each step that is already in force
// (the new template, a traffic split) as done and waiting for a revision that is still
// starting. A run that was rolling back when it died is rolled back. The journal is removed at
// the end, as by the run itself.
func (e *Executor) Resume(ctx context.Context, req ResumeRequest) *Result {
	clock := e.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	start := clock.Now()
	j := req.Journal
	r := e.newRun(clock, j.Plan(), req.Workload, j.Subnet)
	r.resumed, r.touched = true, true
	if !j.Started.IsZero() {
		r.started = j.Started
	}
	r.res.Original = j.Original
	r.res.PreviousRevision = j.Original.LatestReady
	r.res.NewRevision, r.res.Tag = j.NewRevision, j.Tag
	if r.res.NewRevision == "" {
		r.res.NewRevision = j.Into
	}
	for i, st := range j.Steps {
		if i < j.Step && (st.Status == StepDone || st.Status == StepSkipped) {
			r.res.Steps[i].Status = st.Status
			if st.Kind == StepShiftTraffic && st.Status == StepDone {
				r.probed = true // traffic moved: the probes had passed
			}
			switch st.Kind {
			case StepDeployRevision, StepUpdateTemplate, StepVerify, StepShiftTraffic, StepDeployAndShift:
				r.res.Steps[i].Revision = j.NewRevision
			}
		}
	}
	r.step, r.phase = j.Step, j.Phase
	if req.Workload == nil {
		r.res.Outcome = OutcomeFailed
		r.fail(errors.New("no workload snapshot to resume from"))
		return r.finish(ctx, start)
	}
	r.res.Traffic = slices.Clone(req.Workload.Traffic)

	// Take the journal over: from now on it is this run's.
	r.held, r.jOnServer = true, true
	if e.Journal != nil {
		r.cur.Journal = ""
		if err := r.journalOnly(ctx, false, false); err != nil {
			r.res.Outcome = OutcomeFailed
			r.fail(fmt.Errorf("take over the migration journal: %w", err))
			r.unchanged()
			return r.finish(ctx, start)
		}
	}
	if req.Rollback || j.Phase == PhaseRollingBack {
		// A run that was rolling back when it died had failed: its journal says why.
		reason := ""
		if j.Phase == PhaseRollingBack {
			reason = j.Reason
			if reason == "" {
				reason = "the interrupted run was rolling back (its journal does not say why)"
			}
			r.reason = reason
		}
		cause := errors.New("resumed with --rollback")
		if !req.Rollback {
			cause = errors.New(reason)
		}
		r.rollback(ctx, cause)
		switch {
		case r.res.Outcome == OutcomeRolledBack && req.Rollback:
			// Undone, as asked: success. What the interrupted run had met is a note.
			r.res.Err, r.res.Error = nil, ""
			if reason != "" {
				r.res.Notes = append(r.res.Notes, Plain("the interrupted run was rolling back: "+reason))
			}
		case r.res.Error == "":
			// Finishing a rollback ends as that run would have: rolled back, for its reason.
			r.fail(cause)
		}
		r.keptNotes()
		return r.finish(ctx, start)
	}
	r.run(ctx, j.Step)
	return r.finish(ctx, start)
}

// resumedTemplate handles a deploy-revision or update-template step of a resumed run: when the
// template already has the target settings (the change landed before the process died), the
// step is done once the workload has settled.
func (r *runState) resumedTemplate(ctx context.Context, out *StepResult) (bool, error) {
	ref := r.ref()
	if r.plan.Steps[r.step].Force && ref.Kind != KindJob && r.cur.LatestCreated == r.res.Original.LatestCreated {
		// A deploy of the same template again: it did not land.
		return false, nil
	}
	if !sameVPC(r.cur.VPC, r.plan.To, ref) {
		if !sameVPC(r.cur.VPC, r.res.Original.VPC, ref) {
			return false, WithAdvice(fmt.Errorf("%w: the VPC access of %s is %s, neither what it was (%s) nor the target (%s): someone else changed it",
				ErrConflict, ref, describeVPCShort(r.cur.VPC), describeVPCShort(r.res.Original.VPC), describeVPCShort(r.plan.To)),
				Say("; check it with '", Action{Kind: ActionStatus, Workload: ref}, "'"))
		}
		return false, nil
	}
	if err := r.settle(ctx); err != nil {
		return true, err
	}
	out.Note = "already in force"
	if ref.Kind == KindJob {
		if r.cur.Condition.State == ConditionFailed {
			return true, fmt.Errorf("job %s is failing: %s", ref.Name, r.cur.Condition.Message)
		}
		return true, nil
	}
	if err := r.noteNewRevision(out); err != nil {
		return true, err
	}
	if r.cur.LatestReady != r.cur.LatestCreated {
		cond, err := r.e.Platform.RevisionCondition(ctx, ref, r.cur.LatestCreated)
		msg := cond.Message
		if err != nil || msg == "" {
			msg = "it is not ready"
		}
		return true, fmt.Errorf("revision %s did not become ready: %s", r.cur.LatestCreated, msg)
	}
	return true, nil
}

// DefaultSettleTimeout bounds how long a resumed run waits for a change that was in progress
// when the previous process died.
const DefaultSettleTimeout = 20 * time.Minute

// settle waits until the workload is no longer reconciling (a change sent by the process that
// died may still be in progress), polling with a growing interval.
func (r *runState) settle(ctx context.Context) error {
	start := r.clock.Now()
	for {
		w := r.cur
		if !w.Reconciling && w.Condition.State != ConditionPending && w.Condition.State != ConditionReconciling {
			return nil
		}
		elapsed := r.clock.Now().Sub(start)
		if elapsed > DefaultSettleTimeout {
			return fmt.Errorf("%s is still being changed after %s", r.ref(), elapsed.Round(time.Second))
		}
		d := min(max(elapsed/10, 20*time.Millisecond), 5*time.Second)
		if err := r.clock.Sleep(ctx, d); err != nil {
			return err
		}
		next, err := r.e.Platform.GetWorkload(ctx, r.ref())
		if err != nil {
			return fmt.Errorf("read %s: %w", r.ref(), err)
		}
		r.cur = next
	}
}
