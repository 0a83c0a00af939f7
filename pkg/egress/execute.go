package egress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// This file is the executor: it carries out a Plan against a Platform (the cloud adapters
// implement it with the real clients; tests with a fake), step by step, and on any failure or
// cancellation restores the workload's previous VPC access and traffic and says exactly what
// was done and undone.
//
// Everything the executor knows about a run is in its Result, which is plain data: the
// original settings and traffic, the revisions involved and the status of every step. Rollback
// works from that record and a fresh read of the workload, not from in-memory state, so that
// a process that died half-way can be finished or undone later from a journal of the Result.
//
// The executor is the one part of this package that reads a clock (to wait between canary
// steps and to time a run); the clock is injectable (Executor.Clock).

// ConditionState is the state of a Cloud Run condition, simplified.
type ConditionState string

// The condition states.
const (
	ConditionSucceeded   ConditionState = "succeeded"
	ConditionFailed      ConditionState = "failed"
	ConditionPending     ConditionState = "pending"
	ConditionReconciling ConditionState = "reconciling"
)

// Condition is a revision's or a workload's Ready condition.
type Condition struct {
	// State is the condition's state; "" when not known.
	State ConditionState `json:"state"`
	// Reason is the API's reason, if any.
	Reason string `json:"reason,omitempty"`
	// Message is the API's human message, if any.
	Message string `json:"message,omitempty"`
}

// Snapshot is a workload as the executor sees it: the domain snapshot, where traffic actually
// goes, its terminal condition, and the platform's own handle on the resource as read (which
// updates start from, so that fields the executor does not change are sent back as read).
type Snapshot struct {
	Workload
	// TrafficStatus is where a service's traffic (a worker pool's instances) actually goes.
	TrafficStatus []TrafficTarget `json:"trafficStatus,omitempty"`
	// Condition is the workload's terminal (Ready) condition.
	Condition Condition `json:"condition"`
	// Journal is the value of the workload's journal annotation (JournalAnnotation), "" when
	// it has none: another run's lock, or this run's own journal.
	Journal string `json:"-"`
	// Handle is the platform's resource as read; opaque to this package.
	Handle any `json:"-"`
}

// Update is one change the executor asks the platform to make to a workload, starting from a
// snapshot: only the template's VPC access and the traffic (a worker pool's instance splits)
// may change, and the update carries the snapshot's etag.
type Update struct {
	// VPC, when not nil, replaces the template's VPC access. A nil VPC leaves the template
	// alone (a traffic-only update makes no new revision).
	VPC *VPC
	// AsIs sends VPC's names exactly as they are (restoring settings as they were read);
	// otherwise they are canonicalised first.
	AsIs bool
	// Traffic, when not nil, replaces the traffic (instance splits; tags are ignored there).
	// Jobs have none.
	Traffic []TrafficTarget
	// ValidateOnly asks the API to check the change without making it.
	ValidateOnly bool
	// Journal, when not nil, sets the workload's journal annotation (JournalAnnotation) to
	// *Journal in the same request, or removes it when *Journal is "". With neither VPC nor
	// Traffic, the update changes the workload's metadata only: no revision is made.
	Journal *string
	// NoWait returns as soon as the API accepted the change, with the workload as accepted
	// (used for journal-only updates, which change nothing that serves).
	NoWait bool
	// ForceNewRevision makes a service or worker pool deploy a new revision even though the
	// template does not change (force_new_revision): to retry settings whose revision failed.
	ForceNewRevision bool
	// Revision, with VPC, names the new revision (template.revision), so that Traffic can give
	// it a share in the same update; empty lets Cloud Run name it.
	Revision string
}

// Execution is a job execution run to verify a job.
type Execution struct {
	// Name is the execution's short name.
	Name string `json:"name"`
}

// ConnectorUser is a workload that uses a connector: through its template (Revision and
// Execution empty: its next revision or execution), through a revision that receives traffic
// or carries a tag (Revision), or through a job execution that is still running (Execution).
type ConnectorUser struct {
	Workload WorkloadRef `json:"workload"`
	Revision string      `json:"revision,omitempty"`
	// Percent is the revision's share of the traffic (instances).
	Percent int `json:"percent,omitempty"`
	// Tags are the revision's traffic tags.
	Tags      []string `json:"tags,omitempty"`
	Execution string   `json:"execution,omitempty"`
}

// String names the user for messages: "run-service" (its template), "run-service (revision
// X, 100% of traffic)", "run-service (revision X, tag old)" or "job/j (execution X, running)".
func (u ConnectorUser) String() string {
	if u.Revision == "" && u.Execution == "" {
		return u.Workload.String()
	}
	return u.Workload.String() + " (" + u.Via() + ")"
}

// Via says how the workload uses the connector: "template", "revision X, 100% of traffic",
// "revision X, tag T" or "execution X, running".
func (u ConnectorUser) Via() string {
	switch {
	case u.Execution != "":
		return "execution " + u.Execution + ", running"
	case u.Revision == "":
		return "template"
	}
	var what []string
	if u.Percent > 0 {
		what = append(what, fmt.Sprintf("%d%% of %s", u.Percent, u.Workload.Kind.ShareNoun()))
	}
	for _, t := range u.Tags {
		what = append(what, "tag "+t)
	}
	if len(what) == 0 {
		return "revision " + u.Revision
	}
	return "revision " + u.Revision + ", " + strings.Join(what, ", ")
}

// ShareNoun is what a revision's share is of: traffic, or a worker pool's instances.
func (k Kind) ShareNoun() string {
	if k == KindWorkerPool {
		return "instances"
	}
	return "traffic"
}

// SplitNoun is what is split between revisions: the traffic, or a worker pool's instance
// split.
func (k Kind) SplitNoun() string {
	if k == KindWorkerPool {
		return "instance split"
	}
	return "traffic"
}

// ErrNotApplied is wrapped by a Platform error for a write that certainly changed nothing: the
// API refused the request before accepting it (a stale etag, an invalid request, a missing
// permission). Any other error of a write may or may not have been applied.
var ErrNotApplied = errors.New("the change was not applied")

// ErrConflict is wrapped by the error of a change refused because someone else changed the
// workload since it was read (its etag no longer matches), or holds it (another run's
// journal). Exit status 5.
var ErrConflict = errors.New("the workload was changed by someone else")

// ConflictError is an update the API refused because the workload changed since it was read
// (a stale etag). The platform re-reads the workload to say what changed.
type ConflictError struct {
	// Ref names the workload.
	Ref WorkloadRef
	// Fields are the API field paths that differ between the workload as the update started
	// from it and as it is now (output-only fields and runnet's journal left out), such as
	// "labels" or "template.vpc_access".
	Fields []string
	// TouchesMigration is set when the change touched what a migration changes: the
	// template's VPC access, or the traffic (a worker pool's instance splits).
	TouchesMigration bool
	// Journal is the migration journal the workload now carries, if any (another run's
	// lock, when its ID is not this run's).
	Journal *Journal
	// Current is the workload as it is now, when it could be read.
	Current *Snapshot
	// Err is the API's error.
	Err error
}

func (e *ConflictError) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("the API refused the change of %s %s as conflicting (stale etag, ABORTED) several times, though nothing visible changed", e.Ref.Kind.Noun(), e.Ref.Name)
	}
	return fmt.Sprintf("%s %s was changed by someone else since it was read (changed: %s)", e.Ref.Kind.Noun(), e.Ref.Name, strings.Join(e.Fields, ", "))
}

// Unwrap makes a ConflictError match ErrConflict and ErrNotApplied, and keeps the API's error
// (and so its code) in the chain.
func (e *ConflictError) Unwrap() []error {
	out := []error{ErrConflict, ErrNotApplied}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// LockedError is a migration refused because another run holds the workload: its journal
// (JournalAnnotation) is on it.
type LockedError struct {
	Ref     WorkloadRef
	Journal *Journal
	// Now is when the journal was found (for its age).
	Now time.Time
	// Gone is set when the run's process is known to be gone (it ran on this host and its
	// pid is not running).
	Gone bool
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("%s %s is being migrated by another runnet: %s", e.Ref.Kind.Noun(), e.Ref.Name, e.Journal.Describe(e.Now))
	if e.Gone {
		msg += " (that process is no longer running on this host)"
	}
	return msg
}

// Dead reports whether the run that holds the workload looks dead: its journal is stale, or
// its process is gone.
func (e *LockedError) Dead() bool { return e.Journal.Stale(e.Now) || e.Gone }

// Advice says how to finish: resume or undo a run that looks dead; otherwise wait, or take
// the journal over.
func (e *LockedError) Advice() Message {
	if e.Dead() {
		return Say("; that run looks dead: finish it with '", Action{Kind: ActionResume, Workload: e.Ref},
			"' or undo it with '", Action{Kind: ActionResumeRollback, Workload: e.Ref}, "'")
	}
	return Say("; wait for it to finish, or, if that process is gone, take over with '", Action{Kind: ActionBreakLock, Workload: e.Ref}, "' (add --rollback to undo it)")
}

// JournalLeftError is a migration that is complete but whose journal could not be removed:
// the workload stays locked until it is.
type JournalLeftError struct {
	Ref WorkloadRef
	Err error
}

func (e *JournalLeftError) Error() string {
	return fmt.Sprintf("the migration is complete, but its journal (annotation %s) could not be removed: %v", JournalAnnotation, e.Err)
}

func (e *JournalLeftError) Unwrap() error { return e.Err }

// Advice says what removes the journal.
func (e *JournalLeftError) Advice() Message {
	return Say("; '", Action{Kind: ActionResume, Workload: e.Ref}, "' removes it")
}

// Unwrap makes a LockedError match ErrConflict and ErrNotApplied.
func (e *LockedError) Unwrap() []error { return []error{ErrConflict, ErrNotApplied} }

// UnreadableJournalError is a workload that carries a migration journal that cannot be read:
// some run holds it, or held it, and nothing is known of that run.
type UnreadableJournalError struct {
	Ref WorkloadRef
	// Err says what is wrong with the journal (it wraps ErrBadJournal).
	Err error
}

func (e *UnreadableJournalError) Error() string {
	return fmt.Sprintf("%s %s carries a migration journal that cannot be read (%v)", e.Ref.Kind.Noun(), e.Ref.Name, e.Err)
}

// Unwrap makes an UnreadableJournalError match ErrConflict and ErrNotApplied, and keeps the
// journal's error in the chain.
func (e *UnreadableJournalError) Unwrap() []error { return []error{ErrConflict, ErrNotApplied, e.Err} }

// Advice says how to take the workload over.
func (e *UnreadableJournalError) Advice() Message {
	return Say("; take it over with '", Action{Kind: ActionBreakLock, Workload: e.Ref}, "'")
}

// Platform is what the executor needs from Cloud Run, VPC Access and Compute. Every write
// waits until it is done; a write that Cloud Run accepted but could not put in force (a
// revision that does not become Ready, a job update that fails) is an error.
type Platform interface {
	// GetWorkload reads a workload.
	GetWorkload(ctx context.Context, ref WorkloadRef) (*Snapshot, error)
	// Update changes cur's VPC access and/or traffic as u says, with cur's etag, waits until
	// the change is in force, and returns the workload as it then is. When the workload
	// changed since cur was read (a stale etag), a change that left its VPC access and
	// traffic alone is absorbed (u is sent again from a fresh read); otherwise the error is a
	// *ConflictError that says what changed, with Journal set when another run's journal is
	// on the workload.
	Update(ctx context.Context, cur *Snapshot, u Update) (*Snapshot, error)
	// RevisionCondition reads the Ready condition of a service's or worker pool's revision.
	RevisionCondition(ctx context.Context, ref WorkloadRef, revision string) (Condition, error)
	// RunExecution runs one execution of a job and waits for it; it is an error if the
	// execution does not succeed.
	RunExecution(ctx context.Context, ref WorkloadRef) (Execution, error)
	// CreateSubnet creates a subnetwork and waits for it; one that exists with the same
	// network and range counts as created. It returns the range it has: spec.CIDR, or with
	// spec.AutoPrefix the next free range when that one was taken meanwhile.
	CreateSubnet(ctx context.Context, spec SubnetSpec) (string, error)
	// ConnectorUsers lists the workloads that use a connector, through their templates or
	// through revisions that serve traffic or carry a tag.
	ConnectorUsers(ctx context.Context, c ConnectorRef) ([]ConnectorUser, error)
	// DeleteConnector deletes a connector and waits until it is gone; one that is gone
	// already counts as deleted.
	DeleteConnector(ctx context.Context, c ConnectorRef) error
}

// Clock is the executor's time source.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx ends.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EventKind says what an Event reports.
type EventKind string

// The event kinds.
const (
	// EventStepStarted: a step (Event.Step) is about to run.
	EventStepStarted EventKind = "step-started"
	// EventStepFinished: a step finished; Event.Step.Status says how.
	EventStepFinished EventKind = "step-finished"
	// EventTraffic: the traffic changed; Event.Traffic is the new split.
	EventTraffic EventKind = "traffic"
	// EventHealth: the new revision was checked while watching it between canary steps.
	EventHealth EventKind = "health"
	// EventProbe: a probe of the new revision ran before traffic moved; Event.Message says
	// how it went (probe.go).
	EventProbe EventKind = "probe"
	// EventGate: the canary's metrics gate judged a step; Event.Step.Gate has the figures
	// and Event.Message the verdict (gate.go).
	EventGate EventKind = "gate"
	// EventRollbackStarted: a step failed (or the run was interrupted) and the executor
	// starts restoring the previous state; Event.Message says why.
	EventRollbackStarted EventKind = "rollback-started"
	// EventRollbackFinished: the rollback ended; Event.Message says how.
	EventRollbackFinished EventKind = "rollback-finished"
	// EventFinished: the run ended; Event.Result is final.
	EventFinished EventKind = "finished"
)

// Event is reported to the Observer at every step boundary. It is the one source of progress
// output, of the report of what was done and undone, and of a journal.
type Event struct {
	Kind EventKind `json:"kind"`
	// Workload names the workload.
	Workload WorkloadRef `json:"workload"`
	// Index is the step's index in Result.Steps, for step events.
	Index int `json:"index"`
	// Step is the step, for step events.
	Step StepResult `json:"step"`
	// Traffic is the traffic split now asked for, for traffic events.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
	// Message is a human summary.
	Message string `json:"message,omitempty"`
	// Snapshot is the workload after the step, when known.
	Snapshot *Snapshot `json:"-"`
	// Result is the run's record so far (final for EventFinished). Observers must not
	// change it.
	Result *Result `json:"-"`
}

// Observer receives events. An error returned for a forward step's event fails the run (and
// so rolls it back), which lets a journal that cannot be written stop a migration; errors
// during rollback are ignored.
type Observer func(ctx context.Context, ev Event) error

// Observers returns an Observer that calls each of obs in turn, stopping at the first error.
func Observers(obs ...Observer) Observer {
	return func(ctx context.Context, ev Event) error {
		for _, o := range obs {
			if o == nil {
				continue
			}
			if err := o(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}
}

// StepStatus is the status of a step in a Result.
type StepStatus string

// The step statuses. A final Result has no pending step.
const (
	StepPending StepStatus = "pending"
	// StepDone: the step ran and its effect is in force.
	StepDone StepStatus = "done"
	// StepUndone: the step ran and the rollback reverted it.
	StepUndone StepStatus = "undone"
	// StepSkipped: the step did not run (not reached, or nothing to do; see Note).
	StepSkipped StepStatus = "skipped"
	// StepFailed: the step failed (see Error).
	StepFailed StepStatus = "failed"
)

// Rollback step kinds (added to Result.Steps when a rollback runs).
const (
	// StepRestoreTemplate puts the previous VPC access back in the template (and, for
	// services and worker pools, routes traffic to the previous revision meanwhile).
	StepRestoreTemplate StepKind = "restore-template"
	// StepRestoreTraffic puts the previous traffic split back.
	StepRestoreTraffic StepKind = "restore-traffic"
)

// StepResult is one step of a run and what became of it.
type StepResult struct {
	Kind        StepKind   `json:"kind"`
	Description string     `json:"description"`
	Status      StepStatus `json:"status"`
	// Resource is the full name of what the step changes.
	Resource string `json:"resource,omitempty"`
	// Revision is the revision the step created or routed traffic to.
	Revision string `json:"revision,omitempty"`
	// Execution is the job execution the step ran.
	Execution string `json:"execution,omitempty"`
	// Percent is, after a shift-traffic step, the new revision's share of the traffic the
	// previous revision served (see Step.Percent).
	Percent int `json:"percent,omitempty"`
	// Note says more: why a step was skipped, what was kept. With NoteActions it is a format
	// with one %s per action (see Message).
	Note        string   `json:"note,omitempty"`
	NoteActions []Action `json:"-"`
	// Error is the step's error, for a failed step; Err is the error itself.
	Error string `json:"error,omitempty"`
	Err   error  `json:"-"`
	// Gate is what the canary's metrics gate saw after this traffic step, and decided.
	Gate *GateReport `json:"gate,omitempty"`
	// Probes are the probes of the new revision run before this (first) traffic step.
	Probes []ProbeResult `json:"probes,omitempty"`
}

// Outcome is how a run ended.
type Outcome string

// The outcomes.
const (
	// OutcomeMigrated: every step is done; the workload uses the target settings.
	OutcomeMigrated Outcome = "migrated"
	// OutcomeNoOp: the workload already used the target settings; nothing was sent.
	OutcomeNoOp Outcome = "no-op"
	// OutcomePlanned: a dry run; the change was checked (server-side when possible) and
	// nothing was changed.
	OutcomePlanned Outcome = "planned"
	// OutcomeBlocked: a preflight check failed; nothing was changed.
	OutcomeBlocked Outcome = "blocked"
	// OutcomeRolledBack: a step failed or the run was interrupted, and the previous settings
	// and traffic were restored.
	OutcomeRolledBack Outcome = "rolled-back"
	// OutcomeFailed: the run failed and either changed nothing or could not be rolled back
	// (State and Recovery then say where the workload stands and how to finish).
	OutcomeFailed Outcome = "failed"
	// OutcomeSkipped: the run was not attempted.
	OutcomeSkipped Outcome = "skipped"
)

// Original is what a workload was before a run: what the rollback restores.
type Original struct {
	// VPC is the template's VPC access, as read.
	VPC VPC `json:"vpc"`
	// Traffic is the traffic split (a worker pool's instance splits), as read.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
	// LatestReady is the latest ready revision, which keeps serving until the end.
	LatestReady string `json:"latestReadyRevision,omitempty"`
	// LatestCreated is the latest created revision.
	LatestCreated string `json:"latestCreatedRevision,omitempty"`
	// Etag is the etag the workload was read with.
	Etag string `json:"etag,omitempty"`
}

// Result is the record of a run: plain data, JSON-able, complete enough to report what was
// done and undone and to finish or undo the run later.
type Result struct {
	Workload WorkloadRef `json:"workload"`
	Outcome  Outcome     `json:"outcome"`
	// Original is the workload before the run.
	Original Original `json:"original"`
	// PreviousRevision is the revision serving before the run with the settings it leaves
	// (services, worker pools): the one with the largest share of those whose traffic moves.
	PreviousRevision string `json:"previousRevision,omitempty"`
	// NewRevision is the revision created with the target settings, if any.
	NewRevision string `json:"newRevision,omitempty"`
	// RestoredRevision is the revision a rollback created with the previous settings.
	RestoredRevision string `json:"restoredRevision,omitempty"`
	// Tag is the temporary tag of the new revision while traffic moved.
	Tag string `json:"tag,omitempty"`
	// Steps are the plan's steps, then the rollback's, with their status.
	Steps []StepResult `json:"steps"`
	// Traffic is the traffic split at the end (services, worker pools), when known.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
	// Error is what went wrong, if anything.
	Error string `json:"error,omitempty"`
	// Err is Error as an error value (for exit codes); not serialised.
	Err error `json:"-"`
	// RollbackError is why the rollback failed, when it did; RollbackErr is the error itself.
	RollbackError string `json:"rollbackError,omitempty"`
	RollbackErr   error  `json:"-"`
	// State describes where the workload stands when a rollback failed.
	State string `json:"state,omitempty"`
	// Unchanged is set when a run failed before any write took effect: the workload serves
	// as it did.
	Unchanged bool `json:"unchanged,omitempty"`
	// Recovery lists the commands that finish the job by hand when a rollback failed (or a
	// run stopped on a concurrent change), each with what it does.
	Recovery []Message `json:"recovery,omitempty"`
	// Notes say what else the user should know.
	Notes []Message `json:"notes,omitempty"`
	// DurationSeconds is how long the run took.
	DurationSeconds float64 `json:"durationSeconds"`
}

// Request is what Execute runs.
type Request struct {
	// Plan is the plan to carry out (from BuildPlan).
	Plan Plan
	// Workload is the workload as read when the plan was made; its etag guards the first
	// change, so a change made since is detected, not overwritten.
	Workload *Snapshot
	// CreateSubnet is the subnetwork a create-subnet step creates.
	CreateSubnet *SubnetSpec
}

// Executor carries out plans. Its zero value is not usable: Platform is required.
type Executor struct {
	Platform Platform
	// Observer, if not nil, receives every event.
	Observer Observer
	// Clock defaults to SystemClock.
	Clock Clock
	// HealthInterval is how often the new revision's health is checked while waiting between
	// canary steps; default DefaultHealthInterval.
	HealthInterval time.Duration
	// RollbackTimeout bounds a rollback; default DefaultRollbackTimeout.
	RollbackTimeout time.Duration
	// RollbackContext, if not nil, returns the context a rollback runs in. The default is a
	// context that outlives ctx's cancellation (the run may have been interrupted) bounded
	// by RollbackTimeout; a caller can cancel it too (a second interrupt).
	RollbackContext func(ctx context.Context) (context.Context, context.CancelFunc)
	// Prober runs a plan's Probes of the new revision before traffic moves.
	Prober Prober
	// Metrics, if not nil, reads the request metrics a plan's Gate judges canary steps by;
	// without it the gate is not applied.
	Metrics MetricsReader
	// Journal, if not nil, keeps a journal of the run on the workload (JournalAnnotation):
	// written with the etag before the first change (the lock), at every step boundary and
	// when a rollback starts, and removed by the run's last change. See journal.go.
	Journal *JournalConfig
}

// Executor defaults.
const (
	DefaultHealthInterval  = time.Second
	DefaultRollbackTimeout = 30 * time.Minute
)

// Execute runs req.Plan and returns its record; it never panics on a failed step and always
// returns a final Result (no step pending). A no-op plan changes nothing and a blocked plan
// (a failed preflight check) is refused before any change.
func (e *Executor) Execute(ctx context.Context, req Request) *Result {
	clock := e.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	start := clock.Now()
	r := e.newRun(clock, req.Plan, req.Workload, req.CreateSubnet)
	if req.Workload != nil {
		w := req.Workload
		r.res.Original = Original{VPC: w.VPC, Traffic: slices.Clone(w.Traffic), LatestReady: w.LatestReady, LatestCreated: w.LatestCreated, Etag: w.Etag}
		r.res.PreviousRevision = w.LatestReady
		if from := req.Plan.moveFrom(r.res.Original); len(from) > 0 {
			r.res.PreviousRevision = from[0] // the one with the largest share
		}
		r.res.Traffic = slices.Clone(w.Traffic)
	}
	r.execute(ctx)
	return r.finish(ctx, start)
}

// newRun starts the record of a run of plan.
func (e *Executor) newRun(clock Clock, plan Plan, cur *Snapshot, subnet *SubnetSpec) *runState {
	r := &runState{e: e, clock: clock, plan: plan, cur: cur, subnet: subnet}
	r.res = &Result{Workload: plan.Workload, Steps: make([]StepResult, 0, len(plan.Steps))}
	for _, s := range plan.Steps {
		r.res.Steps = append(r.res.Steps, StepResult{
			Kind: s.Kind, Description: s.Description, Status: StepPending, Resource: s.Resource, Percent: s.Percent,
		})
	}
	if e.Journal != nil {
		r.jid = e.Journal.ID
		if r.jid == "" {
			r.jid = newRunID()
		}
		r.started = clock.Now()
	}
	return r
}

// finish marks the steps not reached and reports the end of the run.
func (r *runState) finish(ctx context.Context, start time.Time) *Result {
	for i := range r.res.Steps {
		if r.res.Steps[i].Status == StepPending {
			r.res.Steps[i].Status = StepSkipped
			if r.res.Steps[i].Note == "" && r.res.Outcome != OutcomeMigrated {
				r.res.Steps[i].Note = "not reached"
			}
		}
	}
	r.res.DurationSeconds = r.clock.Now().Sub(start).Seconds()
	r.observe(ctx, Event{Kind: EventFinished, Message: string(r.res.Outcome)})
	return r.res
}

// runState is one Execute call.
type runState struct {
	e      *Executor
	clock  Clock
	plan   Plan
	cur    *Snapshot
	subnet *SubnetSpec
	res    *Result

	// touched is set once a write that may have changed the workload was sent.
	touched bool
	// share is the previous revision's share of traffic, the part that moves (services).
	share int
	// healthy is set when the new revision's health was checked and nothing changed since.
	healthy bool
	// probed is set once the plan's probes ran (probe.go).
	probed bool

	// Journal (Executor.Journal): this run's id, when it started, whether it holds the
	// workload's journal, the journal state last written, whether the workload may carry it.
	jid       string
	started   time.Time
	held      bool
	phase     JournalPhase
	step      int
	jWritten  string
	jOnServer bool
	// resumed is set for a run that continues a journal (Resume).
	resumed bool
	// reason is why the run rolls back, for the journal.
	reason string
}

func (r *runState) ref() WorkloadRef { return r.plan.Workload }

func (r *runState) observe(ctx context.Context, ev Event) error {
	if r.e.Observer == nil {
		return nil
	}
	ev.Workload = r.ref()
	ev.Result = r.res
	if ev.Snapshot == nil {
		ev.Snapshot = r.cur
	}
	return r.e.Observer(ctx, ev)
}

func (r *runState) stepEvent(ctx context.Context, kind EventKind, i int) error {
	return r.observe(ctx, Event{Kind: kind, Index: i, Step: r.res.Steps[i]})
}

func (r *runState) fail(err error) {
	r.res.Err = err
	r.res.Error = err.Error()
}

// lastForward is the index of the last step that changes the workload: once it is done the
// migration is complete, and what follows (cleanup) is not rolled back.
func (r *runState) lastForward() int {
	last := -1
	for i, s := range r.plan.Steps {
		if s.Kind != StepDeleteConnector {
			last = i
		}
	}
	return last
}

func (r *runState) execute(ctx context.Context) {
	p := r.plan
	switch {
	case p.NoOp:
		r.res.Outcome = OutcomeNoOp
		r.res.Notes = append(r.res.Notes, p.Notes...)
		return
	case p.Blocked:
		r.res.Outcome = OutcomeBlocked
		var names []string
		for _, c := range Failed(p.Checks) {
			names = append(names, c.Name)
		}
		r.fail(fmt.Errorf("preflight failed (%s): nothing was changed", strings.Join(names, ", ")))
		for i := range r.res.Steps {
			r.res.Steps[i].Note = "blocked by preflight"
		}
		return
	case r.cur == nil:
		r.res.Outcome = OutcomeFailed
		r.fail(errors.New("no workload snapshot to start from"))
		return
	}
	if err := r.checkStart(); err != nil {
		r.res.Outcome = OutcomeFailed
		r.fail(err)
		return
	}
	if p.Into != "" {
		// No revision to deploy: the traffic moves to one that has the target settings.
		r.res.NewRevision = p.Into
	}
	if err := r.acquire(ctx); err != nil {
		r.res.Outcome = OutcomeFailed
		r.fail(err)
		r.unchanged()
		r.releaseAfter(ctx)
		return
	}
	r.run(ctx, 0)
}

// run runs the plan's steps from index from on, and on a failure rolls back (or stops).
func (r *runState) run(ctx context.Context, from int) {
	p := r.plan
	last := r.lastForward()
	for i := from; i < len(p.Steps); i++ {
		err := ctx.Err()
		if err != nil {
			err = interrupted(err, fmt.Sprintf("interrupted before step %d (%s)", i+1, p.Steps[i].Kind))
		} else if err = r.beginStep(ctx, i); err != nil && ctx.Err() != nil {
			err = interrupted(errors.Join(ctx.Err(), err), fmt.Sprintf("interrupted before step %d (%s)", i+1, p.Steps[i].Kind))
		}
		if err == nil {
			err = r.do(ctx, i)
			switch {
			case err == nil || ctx.Err() == nil:
			case errors.Is(err, ctx.Err()):
				err = interrupted(err, fmt.Sprintf("interrupted during step %d (%s)", i+1, p.Steps[i].Kind))
			default:
				err = interrupted(errors.Join(ctx.Err(), err), fmt.Sprintf("interrupted during step %d (%s): %s", i+1, p.Steps[i].Kind, err))
			}
			if err != nil {
				r.res.Steps[i].Status = StepFailed
				r.res.Steps[i].Error, r.res.Steps[i].Err = err.Error(), err
				_ = r.stepEvent(ctx, EventStepFinished, i)
			} else {
				if r.res.Steps[i].Status == StepPending {
					r.res.Steps[i].Status = StepDone
				}
				err = r.stepEvent(ctx, EventStepFinished, i)
			}
		}
		if err == nil {
			if i == last {
				// The migration is complete: the journal goes (unless the last change
				// took it along).
				rctx, cancel := r.rollbackContext(ctx) // an interrupt now must not leave it
				rerr := r.release(rctx)
				cancel()
				if rerr != nil {
					// Complete, but the lock stays: say so with the exit status too.
					r.fail(&JournalLeftError{Ref: r.ref(), Err: rerr})
				}
			}
			continue
		}
		r.fail(err)
		switch {
		case i > last:
			// The migration itself is complete; only the cleanup failed.
			r.res.Outcome = OutcomeMigrated
			r.res.Notes = append(r.res.Notes, Plain("the migration is complete, but the cleanup failed: "+err.Error()))
		case errors.Is(err, ErrConflict) && r.touched:
			r.stopOnConflict(ctx, err)
		case !r.touched:
			r.res.Outcome = OutcomeFailed
			r.unchanged()
			r.releaseAfter(ctx)
		default:
			r.rollback(ctx, err)
		}
		r.keptNotes()
		return
	}
	if last < 0 {
		_ = r.release(ctx)
	}
	r.res.Outcome = OutcomeMigrated
	if r.res.Err == nil {
		r.res.Error = ""
	}
	if r.cur != nil {
		r.res.Traffic = slices.Clone(r.cur.Traffic)
	}
}

// beginStep records that step i starts: in the journal (by a journal-only write for a step
// that does not change the workload itself; a step that does carries the journal in its own
// change) and to the observer.
func (r *runState) beginStep(ctx context.Context, i int) error {
	r.step = i
	if r.held {
		switch r.plan.Steps[i].Kind {
		case StepVerify, StepRunExecution, StepCreateSubnet:
			if err := r.journalOnly(ctx, false, false); err != nil {
				return fmt.Errorf("write the migration journal: %w", err)
			}
		}
	}
	return r.stepEvent(ctx, EventStepStarted, i)
}

// stopOnConflict ends a run that met a concurrent change of what it changes (VPC access,
// traffic) or another run's lock after it had changed the workload: it stops without undoing
// anything, since undoing would overwrite the other change, and says how to finish.
func (r *runState) stopOnConflict(ctx context.Context, err error) {
	r.res.Outcome = OutcomeFailed
	var le *LockedError
	if errors.As(err, &le) {
		// Someone took the workload over: its journal is theirs now.
		r.held, r.jOnServer = false, false
	}
	rctx, cancel := r.rollbackContext(ctx)
	defer cancel()
	r.describeStuck(rctx)
	r.res.Notes = append(r.res.Notes, Plain("stopped without undoing anything: undoing now would overwrite the other change"))
}

// checkStart refuses to start on a workload that is being changed, or a service without a
// ready revision to keep serving.
func (r *runState) checkStart() error {
	w := r.cur
	if w.Ref.Kind == KindJob {
		return nil
	}
	settling := w.Reconciling || w.Condition.State == ConditionPending || w.Condition.State == ConditionReconciling
	// A change that makes no revision and moves no traffic (labels, annotations: runnet's own
	// journal) settles without affecting what serves: only a revision starting or traffic
	// moving is a rollout in progress.
	metadataOnly := w.LatestCreated == w.LatestReady && len(w.TrafficStatus) > 0 && sameTraffic(w.Traffic, w.TrafficStatus)
	if settling && !metadataOnly {
		return WithAdvice(fmt.Errorf("%s %s is being changed (a rollout is in progress)", w.Ref.Kind.Noun(), w.Ref.Name),
			Say("; run again when it is done (", Action{Kind: ActionStatus, Workload: w.Ref}, ")"))
	}
	if w.LatestReady == "" {
		return WithAdvice(fmt.Errorf("%s %s has no ready revision to keep serving while it migrates", w.Ref.Kind.Noun(), w.Ref.Name),
			Say("; fix it first, or use ", Action{Kind: ActionAttach}))
	}
	return nil
}

// keptNotes notes, after a failure, what a rollback does not remove.
func (r *runState) keptNotes() {
	for i, s := range r.res.Steps {
		switch {
		case s.Kind == StepCreateSubnet && s.Status == StepDone:
			r.res.Steps[i].Note = "kept: the subnetwork is left in place for the next attempt (%s removes it)"
			r.res.Steps[i].NoteActions = []Action{{Kind: ActionDeleteSubnet}}
		case s.Kind == StepRunExecution && s.Status != StepPending && s.Status != StepSkipped:
			if r.res.Steps[i].Note == "" {
				r.res.Steps[i].Note = "the execution stays in the job's history"
			}
		}
	}
}

// write records that a write is about to be sent, and returns a function that undoes the
// record when the write certainly changed nothing.
func (r *runState) write() func(error) {
	prev := r.touched
	r.touched = true
	return func(err error) {
		if err != nil && errors.Is(err, ErrNotApplied) {
			r.touched = prev
		}
	}
}

// update changes the workload as u says, carrying the journal when the run holds it.
func (r *runState) update(ctx context.Context, u Update) error {
	return r.change(ctx, u, false)
}

// updateLast is update for the run's last change of the workload: it removes the journal.
func (r *runState) updateLast(ctx context.Context, u Update) error {
	return r.change(ctx, u, true)
}

func (r *runState) change(ctx context.Context, u Update, last bool) error {
	if r.held {
		if last {
			empty := ""
			u.Journal = &empty
		} else {
			v, err := r.encodeJournal()
			if err != nil {
				return err
			}
			u.Journal = &v
		}
	}
	done := r.write()
	r.healthy = false
	err := r.send(ctx, u)
	done(err)
	return err
}

// send sends u from the workload as last seen. The platform absorbs a concurrent change that
// left the VPC access and the traffic alone (it sends u again from a fresh read: see
// Platform.Update); a change of them is its *ConflictError, which stops the run (exit 5), and
// another run's journal on the workload becomes a *LockedError.
func (r *runState) send(ctx context.Context, u Update) error {
	next, err := r.e.Platform.Update(ctx, r.cur, u)
	if err == nil {
		r.cur = next
		r.journalSent(u.Journal)
		return nil
	}
	if u.Journal != nil && *u.Journal != "" && !errors.Is(err, ErrNotApplied) {
		r.jOnServer = true // it may have landed
	}
	var ce *ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Journal != nil && ce.Journal.ID != r.jid {
		return &LockedError{Ref: r.ref(), Journal: ce.Journal, Now: r.clock.Now()}
	}
	if ce.TouchesMigration {
		return WithAdvice(fmt.Errorf("%w; that change touched what the migration changes, so the migration stopped", ce),
			Say(" (check it with '", Action{Kind: ActionStatus, Workload: r.ref()}, "')"))
	}
	return err
}

// journalSent records a journal value the workload now carries.
func (r *runState) journalSent(v *string) {
	if v == nil {
		return
	}
	if *v == "" {
		r.held, r.jOnServer, r.jWritten = false, false, ""
		return
	}
	r.jOnServer = true
	r.jWritten = r.journalKey()
}

func (r *runState) do(ctx context.Context, i int) error {
	step := r.plan.Steps[i]
	out := &r.res.Steps[i]
	ref := r.ref()
	switch step.Kind {
	case StepCreateSubnet:
		if r.subnet == nil {
			return errors.New("the plan creates a subnetwork but no subnetwork spec was given")
		}
		cidr, err := r.e.Platform.CreateSubnet(ctx, *r.subnet)
		if err == nil && cidr != "" && cidr != r.subnet.CIDR {
			out.Note = fmt.Sprintf("range %s was taken meanwhile; created in %s, the next free one", r.subnet.CIDR, cidr)
			r.res.Notes = append(r.res.Notes, Plain(out.Note))
		}
		return err

	case StepDeployRevision:
		orig := r.res.Original
		if r.resumed {
			if done, err := r.resumedTemplate(ctx, out); done || err != nil {
				return err
			}
		}
		r.res.Tag = uniqueTag(step.Tag, orig.Traffic)
		to := r.plan.To
		tr := deployTraffic(orig.Traffic, orig.LatestReady, r.res.Tag)
		if err := r.update(ctx, Update{VPC: &to, Traffic: tr, ForceNewRevision: step.Force}); err != nil {
			return err
		}
		if err := r.noteNewRevision(out); err != nil {
			return err
		}
		if r.res.Tag != "" {
			out.Note = "tagged " + r.res.Tag
		}
		return r.observe(ctx, Event{Kind: EventTraffic, Traffic: slices.Clone(r.cur.Traffic),
			Message: fmt.Sprintf("revision %s deployed with no traffic; %s keeps serving", r.res.NewRevision, orig.LatestReady)})

	case StepUpdateTemplate:
		if r.resumed {
			if done, err := r.resumedTemplate(ctx, out); done || err != nil {
				return err
			}
		}
		to := r.plan.To
		update := r.update
		if i == r.lastForward() {
			update = r.updateLast
		}
		if err := update(ctx, Update{VPC: &to, ForceNewRevision: step.Force && ref.Kind != KindJob}); err != nil {
			return err
		}
		if ref.Kind == KindWorkerPool {
			return r.noteNewRevision(out)
		}
		return nil

	case StepVerify:
		if r.res.NewRevision == "" {
			return errors.New("no new revision to verify")
		}
		out.Revision = r.res.NewRevision
		if r.resumed {
			if err := r.settle(ctx); err != nil {
				return err
			}
		}
		if err := r.checkHealth(ctx); err != nil {
			return err
		}
		r.healthy = true
		return nil

	case StepShiftTraffic:
		return r.shift(ctx, i)

	case StepDeployAndShift:
		return r.deployAndShift(ctx, i)

	case StepRunExecution:
		ex, err := r.e.Platform.RunExecution(ctx, ref)
		out.Execution = ex.Name
		return err

	case StepDeleteConnector:
		return r.deleteConnector(ctx, i)
	}
	return fmt.Errorf("unknown step kind %q", step.Kind)
}

// noteNewRevision records the revision an update created.
func (r *runState) noteNewRevision(out *StepResult) error {
	rev := r.cur.LatestCreated
	if rev == "" || rev == r.res.Original.LatestCreated {
		return fmt.Errorf("no new revision of %s was created", r.ref())
	}
	r.res.NewRevision = rev
	out.Revision = rev
	return nil
}

// checkHealth checks that the new revision is Ready and the workload is not failed.
func (r *runState) checkHealth(ctx context.Context) error {
	ref, rev := r.ref(), r.res.NewRevision
	var (
		cond    Condition
		w       *Snapshot
		errRev  error
		errWork error
		wg      sync.WaitGroup
	)
	wg.Go(func() { cond, errRev = r.e.Platform.RevisionCondition(ctx, ref, rev) })
	wg.Go(func() { w, errWork = r.e.Platform.GetWorkload(ctx, ref) })
	wg.Wait()
	if errRev != nil {
		return fmt.Errorf("check revision %s: %w", rev, errRev)
	}
	if errWork != nil {
		return fmt.Errorf("check %s: %w", ref, errWork)
	}
	if cond.State != ConditionSucceeded {
		msg := cond.Message
		if msg == "" {
			msg = "its Ready condition is " + string(orUnknown(cond.State))
		}
		return fmt.Errorf("revision %s is not healthy: %s", rev, msg)
	}
	if w.Condition.State == ConditionFailed {
		return fmt.Errorf("%s %s is failing: %s", ref.Kind.Noun(), ref.Name, w.Condition.Message)
	}
	return nil
}

func orUnknown(s ConditionState) ConditionState {
	if s == "" {
		return "unknown"
	}
	return s
}

func (r *runState) shift(ctx context.Context, i int) error {
	step := r.plan.Steps[i]
	out := &r.res.Steps[i]
	orig := r.res.Original
	from, r1 := r.plan.moveFrom(orig), r.res.NewRevision
	if r1 == "" {
		return errors.New("no new revision to send traffic to")
	}
	out.Revision = r1
	final := step.Percent >= 100 || i == r.lastShift()
	base := PinLatest(orig.Traffic, orig.LatestReady)
	r.share = 0
	for _, f := range from {
		r.share += shareOf(base, f)
	}
	if !r.healthy { // checked just before (verify, or the end of a watch): not again
		if err := r.checkHealth(ctx); err != nil {
			return err
		}
	}
	if err := r.probe(ctx, i); err != nil {
		return err
	}
	var tr []TrafficTarget
	if final {
		tr = finalTraffic(orig.Traffic, from, r1)
	} else {
		tr = canaryTraffic(base, from, r1, step.Percent, r.res.Tag)
	}
	r0 := strings.Join(from, ", ")
	if r0 == "" {
		r0 = "the previous revisions"
	}
	if r.share == 0 {
		out.Note = fmt.Sprintf("%s served no traffic, so none moves; the new settings apply to revision %s", r0, r1)
	}
	if sameTraffic(tr, r.cur.Traffic) {
		if out.Note == "" {
			out.Note = "traffic already split this way"
		}
	} else {
		update := r.update
		if final && i == r.lastForward() {
			update = r.updateLast
		}
		if err := update(ctx, Update{Traffic: tr}); err != nil {
			return err
		}
	}
	msg := fmt.Sprintf("%d%% of the %s that went to %s now goes to %s", step.Percent, r.ref().Kind.ShareNoun(), r0, r1)
	if final {
		msg = fmt.Sprintf("%s moved from %s to %s", r.ref().Kind.ShareNoun(), r0, r1)
	}
	if err := r.observe(ctx, Event{Kind: EventTraffic, Index: i, Step: *out, Traffic: slices.Clone(r.cur.Traffic), Message: msg}); err != nil {
		return err
	}
	if final || step.WaitSeconds <= 0 {
		return nil
	}
	moved := r.clock.Now()
	if err := r.watch(ctx, i, time.Duration(step.WaitSeconds*float64(time.Second))); err != nil {
		return err
	}
	return r.gate(ctx, i, moved)
}

// lastShift is the index of the last shift-traffic step.
func (r *runState) lastShift() int {
	last := -1
	for i, s := range r.plan.Steps {
		if s.Kind == StepShiftTraffic {
			last = i
		}
	}
	return last
}

// watch waits d after a canary step, checking the new revision's health every
// HealthInterval.
func (r *runState) watch(ctx context.Context, i int, d time.Duration) error {
	interval := r.e.HealthInterval
	if interval <= 0 {
		interval = DefaultHealthInterval
	}
	deadline := r.clock.Now().Add(d)
	for {
		left := deadline.Sub(r.clock.Now())
		if left <= 0 {
			return nil
		}
		if err := r.clock.Sleep(ctx, min(interval, left)); err != nil {
			return err
		}
		if err := r.checkHealth(ctx); err != nil {
			return err
		}
		r.healthy = true
		if err := r.observe(ctx, Event{Kind: EventHealth, Index: i, Step: r.res.Steps[i],
			Message: fmt.Sprintf("revision %s is healthy", r.res.NewRevision)}); err != nil {
			return err
		}
	}
}

func (r *runState) deleteConnector(ctx context.Context, i int) error {
	out := &r.res.Steps[i]
	conn, err := ParseConnectorRef(r.plan.Steps[i].Resource, r.ref().Project, r.ref().Region)
	if err != nil {
		return err
	}
	users, err := r.e.Platform.ConnectorUsers(ctx, conn)
	if err != nil {
		return fmt.Errorf("check who uses connector %s: %w", conn.Name, err)
	}
	if len(users) > 0 {
		names := make([]string, 0, len(users))
		for _, u := range users {
			names = append(names, u.String())
		}
		out.Status = StepSkipped
		out.Note = fmt.Sprintf("connector %s is kept: still used by %s", conn.Name, strings.Join(names, ", "))
		r.res.Notes = append(r.res.Notes, Plain(out.Note))
		return nil
	}
	return r.e.Platform.DeleteConnector(ctx, conn)
}

// rollback restores the previous VPC access and traffic after cause, in a context of its own
// (ctx may have been cancelled).
func (r *runState) rollback(ctx context.Context, cause error) {
	rctx, cancel := r.rollbackContext(ctx)
	defer cancel()
	_ = r.observe(rctx, Event{Kind: EventRollbackStarted, Message: "rolling back: " + cause.Error()})
	if r.held {
		// The journal says so first (and why): a process that dies now is resumed as a
		// rollback, for this reason.
		r.phase = PhaseRollingBack
		if r.reason == "" {
			r.reason = truncateReason(cause.Error())
		}
		_ = r.journalOnly(rctx, false, false)
	}

	err := r.restore(rctx)
	if err == nil {
		if rerr := r.release(rctx); rerr != nil {
			r.res.Notes = append(r.res.Notes, r.journalLeft(rerr))
		}
	}
	if err != nil {
		r.res.Outcome = OutcomeFailed
		if ctx.Err() != nil && rctx.Err() != nil {
			err = &interruptedError{msg: "interrupted again: stopped waiting for the rollback, which was interrupted too (" + err.Error() + ")", err: err}
		}
		r.res.RollbackErr, r.res.RollbackError = err, err.Error()
		r.describeStuck(rctx)
		_ = r.observe(rctx, Event{Kind: EventRollbackFinished, Message: "rollback failed: " + err.Error()})
		return
	}
	r.res.Outcome = OutcomeRolledBack
	changed := len(r.res.Steps) > len(r.plan.Steps) || r.resumed // restore steps ran
	for i, s := range r.res.Steps[:len(r.plan.Steps)] {
		if s.Status != StepDone {
			continue
		}
		switch s.Kind {
		case StepDeployRevision, StepUpdateTemplate, StepShiftTraffic, StepDeployAndShift:
			r.res.Steps[i].Status = StepUndone
			changed = true
		}
	}
	if !changed {
		// The failed write never took effect: there was nothing to undo.
		r.res.Outcome = OutcomeFailed
		r.unchanged()
	}
	if r.cur != nil {
		r.res.Traffic = slices.Clone(r.cur.Traffic)
	}
	_ = r.observe(rctx, Event{Kind: EventRollbackFinished, Message: "restored the previous settings and traffic"})
}

// interruptedError is a run stopped by the cancellation of its context (Ctrl-C, SIGTERM): its
// message says so in words, and the context's error stays in the chain.
type interruptedError struct {
	msg string
	err error
}

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return e.err }

func interrupted(err error, msg string) error { return &interruptedError{msg: msg, err: err} }

// maxReasonBytes bounds the reason a journal keeps (annotations are small).
const maxReasonBytes = 1024

func truncateReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	return strings.ToValidUTF8(s[:maxReasonBytes-3], "") + "..."
}

func (r *runState) rollbackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.e.RollbackContext != nil {
		return r.e.RollbackContext(ctx)
	}
	timeout := r.e.RollbackTimeout
	if timeout <= 0 {
		timeout = DefaultRollbackTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}

// addStep appends a rollback step and reports it started.
func (r *runState) addStep(ctx context.Context, s StepResult) int {
	s.Status = StepPending
	r.res.Steps = append(r.res.Steps, s)
	i := len(r.res.Steps) - 1
	_ = r.stepEvent(ctx, EventStepStarted, i)
	return i
}

func (r *runState) endStep(ctx context.Context, i int, err error) error {
	if err != nil {
		r.res.Steps[i].Status = StepFailed
		r.res.Steps[i].Error, r.res.Steps[i].Err = err.Error(), err
	} else {
		r.res.Steps[i].Status = StepDone
	}
	_ = r.stepEvent(ctx, EventStepFinished, i)
	return err
}

// restore converges the workload back to Original from a fresh read: the template's VPC
// access first (services and worker pools route traffic to the previous, still ready,
// revision meanwhile, in the same update), then the traffic split as it was.
func (r *runState) restore(ctx context.Context) error {
	ref, orig := r.ref(), r.res.Original
	cur, err := r.e.Platform.GetWorkload(ctx, ref)
	if err != nil {
		return fmt.Errorf("read %s to roll it back: %w", ref, err)
	}
	r.cur = cur
	if r.res.NewRevision == "" && ref.Kind != KindJob && cur.LatestCreated != orig.LatestCreated {
		// The step that deployed it failed (the revision did not become ready): name it.
		r.res.NewRevision = cur.LatestCreated
		for i, s := range r.res.Steps {
			if (s.Kind == StepDeployRevision || s.Kind == StepUpdateTemplate || s.Kind == StepDeployAndShift) && s.Status == StepFailed && s.Revision == "" {
				r.res.Steps[i].Revision = cur.LatestCreated
			}
		}
	}
	if !sameVPC(cur.VPC, orig.VPC, ref) {
		u := Update{VPC: &orig.VPC, AsIs: true}
		desc := fmt.Sprintf("put back %s in the template", describeVPCShort(orig.VPC))
		if ref.Kind != KindJob && orig.LatestReady != "" {
			u.Traffic = PinLatest(orig.Traffic, orig.LatestReady)
			desc += fmt.Sprintf(", with traffic on revision %s meanwhile", orig.LatestReady)
		}
		i := r.addStep(ctx, StepResult{Kind: StepRestoreTemplate, Description: desc, Resource: ref.FullName()})
		update := r.update
		if ref.Kind == KindJob || u.Traffic == nil || sameTraffic(u.Traffic, orig.Traffic) {
			update = r.updateLast // no traffic to put back after it
		}
		err := update(ctx, u)
		if err == nil && ref.Kind != KindJob && r.cur.LatestCreated != cur.LatestCreated {
			r.res.RestoredRevision = r.cur.LatestCreated
			r.res.Steps[i].Revision = r.cur.LatestCreated
		}
		if err := r.endStep(ctx, i, err); err != nil {
			return err
		}
	}
	if ref.Kind != KindJob && !sameTraffic(r.cur.Traffic, orig.Traffic) {
		i := r.addStep(ctx, StepResult{Kind: StepRestoreTraffic, Description: "put back the traffic split: " + DescribeTraffic(orig.Traffic), Resource: ref.FullName()})
		err := r.updateLast(ctx, Update{Traffic: slices.Clone(orig.Traffic)})
		if err := r.endStep(ctx, i, err); err != nil {
			return err
		}
		_ = r.observe(ctx, Event{Kind: EventTraffic, Traffic: slices.Clone(r.cur.Traffic), Message: "traffic split restored"})
	}
	return nil
}

// describeTimeout bounds the fresh read that says where a workload stands after a failed
// rollback: it runs even when the rollback's own context has ended (a second interrupt), well
// within the grace the process has then to report and exit.
const describeTimeout = 5 * time.Second

// describeStuck says where the workload stands after a failed rollback and how to finish. The
// state comes from a fresh read in a context of its own (ctx may have ended: a second
// interrupt); when even that fails, it is the last state seen, and says so.
func (r *runState) describeStuck(ctx context.Context) {
	ref, orig := r.ref(), r.res.Original
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), describeTimeout)
	cur, err := r.e.Platform.GetWorkload(rctx, ref)
	cancel()
	stale := ""
	if err != nil {
		cur = r.cur
		stale = fmt.Sprintf(" (as last seen: it could not be read again: %v)", err)
	}
	if cur != nil {
		state := fmt.Sprintf("template: %s", describeVPCShort(cur.VPC))
		if ref.Kind != KindJob {
			serving := cur.TrafficStatus
			if len(serving) == 0 {
				serving = cur.Traffic
			}
			state += fmt.Sprintf("; traffic: %s; latest ready revision %s", DescribeTraffic(serving), orUnset(cur.LatestReady))
		}
		r.res.State = state + stale
		r.res.Traffic = slices.Clone(cur.Traffic)
	}
	r.res.Recovery = recoveryCommands(ref, orig)
	if r.jOnServer {
		r.res.Recovery = append([]Message{
			Say(Action{Kind: ActionResumeRollback, Workload: ref, Where: true}, "   (undo it from the journal kept on the "+ref.Kind.Noun()+")"),
			Say(Action{Kind: ActionResume, Workload: ref, Where: true}, "   (or finish the migration instead)"),
		}, r.res.Recovery...)
	}
}

// journalLeft is the note of a journal that could not be removed after a rollback.
func (r *runState) journalLeft(err error) Message {
	return Say(fmt.Sprintf("the migration journal (annotation %s) could not be removed: %v; '", JournalAnnotation, err),
		Action{Kind: ActionResumeRollback, Workload: r.ref()}, "' removes it")
}

func orUnset(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// recoveryCommands are the commands that put a workload back as it was by hand: its VPC
// settings and, for a service, its traffic split exactly as it was.
func recoveryCommands(ref WorkloadRef, orig Original) []Message {
	out := []Message{Say(Action{Kind: ActionRestoreVPC, Workload: ref, VPC: orig.VPC, Where: true})}
	if ref.Kind == KindService {
		out = append(out, Say(Action{Kind: ActionRestoreTraffic, Workload: ref, Traffic: orig.Traffic, Where: true}))
	}
	return out
}

// describeVPCShort describes VPC settings in a few words.
func describeVPCShort(v VPC) string {
	if v.Mode() == ModeNone {
		return "no VPC access"
	}
	return v.Short()
}

// sameVPC reports whether two VPC settings are the same (equivalent when both parse).
func sameVPC(a, b VPC, ref WorkloadRef) bool {
	if ok, err := a.Equivalent(b, ref.Project, ref.Region); err == nil {
		return ok
	}
	return a.String() == b.String()
}

// ---- Traffic arithmetic.

// PinLatest returns ts with every entry that follows the latest ready revision pinned to
// revision by name, keeping its percent and tag, so that deploying a new revision moves
// nothing. Untagged entries that end up naming the same revision are merged.
func PinLatest(ts []TrafficTarget, revision string) []TrafficTarget {
	out := make([]TrafficTarget, 0, len(ts))
	for _, t := range ts {
		if t.Latest {
			t.Latest, t.Revision = false, revision
		}
		out = append(out, t)
	}
	return mergeUntagged(out)
}

// mergeUntagged merges untagged entries that name the same revision (in the place of the
// first) and drops untagged entries with no traffic.
func mergeUntagged(ts []TrafficTarget) []TrafficTarget {
	out := make([]TrafficTarget, 0, len(ts))
	at := map[string]int{}
	for _, t := range ts {
		if t.Tag == "" && !t.Latest {
			if t.Percent == 0 {
				continue
			}
			if i, ok := at[t.Revision]; ok {
				out[i].Percent += t.Percent
				continue
			}
			at[t.Revision] = len(out)
		}
		out = append(out, t)
	}
	return out
}

// shareOf is the traffic a pinned split gives revision.
func shareOf(ts []TrafficTarget, revision string) int {
	n := 0
	for _, t := range ts {
		if !t.Latest && t.Revision == revision {
			n += t.Percent
		}
	}
	return n
}

// deployTraffic is the split sent with the new template: the previous split with the latest
// revision pinned to r0, plus a 0% entry tagging the latest revision (the new one, once it is
// ready).
func deployTraffic(orig []TrafficTarget, r0, tag string) []TrafficTarget {
	out := PinLatest(orig, r0)
	if tag != "" {
		out = append(out, TrafficTarget{Latest: true, Percent: 0, Tag: tag})
	}
	return out
}

// canaryTraffic moves pct percent of the share the revisions from have in the pinned split
// base to r1 (rounded, at least 1 when they have any), taking it from their untagged entries
// first, in the order of from. r1's entry carries tag.
func canaryTraffic(base []TrafficTarget, from []string, r1 string, pct int, tag string) []TrafficTarget {
	out := slices.Clone(base)
	s0 := 0
	for _, f := range from {
		s0 += shareOf(out, f)
	}
	moved := (s0*pct + 50) / 100
	if pct >= 100 {
		moved = s0
	}
	if moved == 0 && s0 > 0 && pct > 0 {
		moved = 1
	}
	left := moved
	for _, tagged := range []bool{false, true} {
		for _, f := range from {
			for i := range out {
				if left == 0 {
					break
				}
				if out[i].Latest || out[i].Revision != f || (out[i].Tag != "") != tagged {
					continue
				}
				d := min(out[i].Percent, left)
				out[i].Percent -= d
				left -= d
			}
		}
	}
	out = mergeUntagged(out)
	if moved > 0 || tag != "" {
		out = append(out, TrafficTarget{Revision: r1, Percent: moved, Tag: tag})
	}
	return mergeUntagged(out)
}

// finalTraffic is the split at the end: the original split with the share of the revisions
// from given to r1, in their place (entries following the latest revision keep following
// it: r1 is the latest now, or already was; entries naming one of from with traffic name r1
// and keep their tags; entries naming one only for a tag, and every other revision's
// entries, are kept as they were). Untagged entries that end up naming r1 are merged.
func finalTraffic(orig []TrafficTarget, from []string, r1 string) []TrafficTarget {
	out := slices.Clone(orig)
	moved := false
	for i := range out {
		if !out[i].Latest && slices.Contains(from, out[i].Revision) && out[i].Percent > 0 {
			out[i].Revision = r1
			moved = true
		}
	}
	if !moved {
		return out
	}
	return mergeUntagged(out)
}

// sameTraffic reports whether two splits are the same, entry by entry.
func sameTraffic(a, b []TrafficTarget) bool {
	norm := func(ts []TrafficTarget) []TrafficTarget {
		out := make([]TrafficTarget, 0, len(ts))
		for _, t := range ts {
			if t.Latest {
				t.Revision = ""
			}
			out = append(out, t)
		}
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// uniqueTag returns tag, or a variant of it that no entry of ts uses ("" when none is free).
func uniqueTag(tag string, ts []TrafficTarget) string {
	if tag == "" {
		return ""
	}
	used := func(t string) bool {
		return slices.ContainsFunc(ts, func(x TrafficTarget) bool { return x.Tag == t })
	}
	if !used(tag) {
		return tag
	}
	for n := 2; n <= 9; n++ {
		if t := fmt.Sprintf("%s-%d", tag, n); !used(t) {
			return t
		}
	}
	return ""
}

// DescribeTraffic renders a split for humans, such as "latest 100%" or
// "run-service-00001-abc 90%, run-service-00002-xyz 10% (tag runnet-direct)".
func DescribeTraffic(ts []TrafficTarget) string {
	if len(ts) == 0 {
		return "latest 100%"
	}
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		name := t.Revision
		if t.Latest {
			name = "latest"
			if t.Revision != "" {
				name += " (" + t.Revision + ")"
			}
		}
		s := fmt.Sprintf("%s %d%%", name, t.Percent)
		if t.Tag != "" {
			s += " (tag " + t.Tag + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Validate asks the platform to check, without making it (validate_only), the first change
// req.Plan would make: the new template (with the traffic a service's new revision is
// deployed with). It changes nothing. A no-op or blocked plan is not sent; it returns nil.
func (e *Executor) Validate(ctx context.Context, req Request) error {
	p, w := req.Plan, req.Workload
	if p.NoOp || p.Blocked {
		return nil
	}
	if w == nil {
		return errors.New("no workload snapshot to validate against")
	}
	to := p.To
	u := Update{VPC: &to, ValidateOnly: true}
	changesTemplate := false
	for _, s := range p.Steps {
		switch s.Kind {
		case StepDeployRevision:
			u.Traffic = deployTraffic(w.Traffic, w.LatestReady, uniqueTag(s.Tag, w.Traffic))
			u.ForceNewRevision, changesTemplate = s.Force, true
		case StepUpdateTemplate:
			u.ForceNewRevision, changesTemplate = s.Force && w.Ref.Kind != KindJob, true
		case StepDeployAndShift:
			u.ForceNewRevision, changesTemplate = s.Force, true
			from := p.moveFrom(Original{LatestReady: w.LatestReady})
			if final := finalTraffic(w.Traffic, from, "\x00"); !sameTraffic(final, w.Traffic) {
				u.Revision = PlannedRevisionName(w.Ref.Name)
				u.Traffic = finalTraffic(w.Traffic, from, u.Revision)
			}
		}
	}
	if !changesTemplate {
		// The template has the target already: the first change is the traffic's.
		if p.Into == "" {
			return nil
		}
		u = Update{Traffic: finalTraffic(w.Traffic, p.moveFrom(Original{LatestReady: w.LatestReady}), p.Into), ValidateOnly: true}
	}
	_, err := e.Platform.Update(ctx, w, u)
	return err
}

// unchanged records that the run failed before any write took effect.
func (r *runState) unchanged() {
	r.res.Unchanged = true
	r.res.Notes = append(r.res.Notes, Plain(fmt.Sprintf("nothing was changed on %s", r.ref())))
}
