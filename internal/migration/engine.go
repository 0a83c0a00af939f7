// Package migration is runnet's migration engine: what `runnet migrate`, `runnet connector
// recycle` and `runnet attach`/`detach` do, behind their flags and their printing.
//
// It reads what a change depends on through narrow interfaces (Reader: workloads, subnets,
// connectors, preflight facts; *cloud.Clients implements them), resolves and infers targets
// (TargetRequest), runs the preflight checks and builds the plans (Fleet.Prepare, over
// egress.BuildPlan), carries them out through the executor (egress.Executor over an
// egress.Platform: the one write path), creates the subnet a fleet moves into, cleans up the
// connectors it leaves, tells live locks from stale ones, and classifies the outcomes
// (Verdict). It reports progress as Events and executor events (Observer); it prints nothing
// and knows no flag map or Factory: internal/cli renders what it reports.
package migration

import (
	"context"
	"sync"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// WorkloadReader reads Cloud Run workloads and what serves them.
type WorkloadReader interface {
	GetWorkload(ctx context.Context, ref egress.WorkloadRef) (*cloud.Workload, error)
	ListWorkloads(ctx context.Context, project, region string) ([]*cloud.Workload, error)
	ServingState(ctx context.Context, w *cloud.Workload) (*egress.ServingState, error)
	ServingStates(ctx context.Context, ws []*cloud.Workload) ([]*egress.ServingState, error)
}

// SubnetReader reads subnetworks and the ranges in use in a network.
type SubnetReader interface {
	GetSubnet(ctx context.Context, ref egress.SubnetRef) (*cloud.Subnet, error)
	ListSubnets(ctx context.Context, project, region string) ([]*cloud.Subnet, error)
	NetworkRanges(ctx context.Context, project, network string) ([]cloud.UsedRange, []string, error)
}

// ConnectorReader reads Serverless VPC Access connectors.
type ConnectorReader interface {
	GetConnector(ctx context.Context, ref egress.ConnectorRef) (*cloud.Connector, error)
	ListConnectors(ctx context.Context, project, region string) ([]*cloud.Connector, error)
}

// FactsReader gathers what the preflight checks need (egress.Facts).
type FactsReader interface {
	// GatherFacts gathers the facts of every check of a migration.
	GatherFacts(ctx context.Context, req cloud.FactsRequest) (*cloud.GatheredFacts, error)
	// TargetFacts gathers the facts of the target checks (one read of the target).
	TargetFacts(ctx context.Context, w *cloud.Workload, target egress.VPC) (*egress.Facts, error)
}

// Reader is every read the engine makes. *cloud.Clients implements it over the projects its
// credentials reach; each call names its project (the workload's, the network's: a Shared
// VPC host), so a reader that spans several projects (per-project credentials, a cache) can
// be swapped in.
type Reader interface {
	WorkloadReader
	SubnetReader
	ConnectorReader
	FactsReader
}

// Provisioner makes what a connector recycle creates. *cloud.Clients implements it.
type Provisioner interface {
	CreateSubnet(ctx context.Context, spec cloud.SubnetSpec, opts cloud.WaitOptions) (*cloud.Subnet, error)
	CreateConnector(ctx context.Context, spec cloud.ConnectorSpec, opts cloud.WaitOptions) (*cloud.Connector, error)
}

// Granter makes IAM grants: what --fix grants Cloud Run's service agent. *cloud.Clients
// implements it.
type Granter interface {
	GrantRoles(ctx context.Context, grants []egress.RoleGrant) error
}

// EventKind says what an Event reports.
type EventKind string

// The event kinds.
const (
	// EventProgress: a line of progress about what the engine is doing (a terminal shows
	// it; a pipe does not need it). Workload, when set, is what it is about.
	EventProgress EventKind = "progress"
	// EventInfo: something to tell the user (unless they asked for quiet).
	EventInfo EventKind = "info"
	// EventWarning: something the user must hear, even when quiet.
	EventWarning EventKind = "warning"
	// EventChecks: a workload's preflight checks ran (Checks).
	EventChecks EventKind = "checks"
)

// Event is what the engine reports as it works, besides the executor's own events (Engine.Observer).
type Event struct {
	Kind EventKind
	// Workload is the workload the event is about, if any.
	Workload egress.WorkloadRef
	// Message says what happened.
	Message egress.Message
	// Checks are the checks of EventChecks.
	Checks []egress.Check
}

// Engine is the migration engine: its dependencies. Its zero value is not usable: Read and
// Platform are required.
type Engine struct {
	// Read reads workloads, subnets, connectors and facts.
	Read Reader
	// Platform is the write path (and the executor's reads).
	Platform egress.Platform
	// Provision creates connectors and subnets (connector recycle).
	Provision Provisioner
	// Grant makes the grants of --fix (migrate); nil refuses them.
	Grant Granter
	// Net changes subnetworks' settings (Private Google Access); nil: never needed.
	Net NetworkChanger
	// Metrics reads the request metrics a canary's gate judges its steps by (Cloud
	// Monitoring); nil: plans are not gated.
	Metrics egress.MetricsReader
	// Prober probes a new revision before traffic moves (plans with Probes).
	Prober egress.Prober
	// Events, if set, receives the engine's progress.
	Events func(Event)
	// Busy, if set, says that a long wait starts (what is awaited) and returns the function
	// that says it ended (a spinner, on a terminal).
	Busy func(what string) (done func())
	// WaitOptions, if set, are the options of the engine's waits for Compute and VPC Access
	// operations (their progress messages).
	WaitOptions func() cloud.WaitOptions
	// Observer, if set, receives every executor event of every workload: the progress of
	// the steps (the command renders it) and the hook of tests.
	Observer egress.Observer
	// Journal keeps the migration journal (the lock and record on each workload while it
	// migrates; see egress.JournalConfig); nil runs without one.
	Journal *egress.JournalConfig
	// RollbackContext, if set, is the context a rollback runs in (see
	// egress.Executor.RollbackContext): the command's, which a second interrupt ends.
	RollbackContext func(ctx context.Context) (context.Context, context.CancelFunc)
	// ExitCode is the exit status an error gives (cloud.ExitCode knows Google's API errors);
	// exitcode.FromError when nil.
	ExitCode func(error) int
	// LockGone reports whether the run a journal names is known to be gone (its process is
	// no longer running on this host), so that its lock can be taken over at once; nil: not
	// known (the lease decides).
	LockGone func(j *egress.Journal) bool
}

func (e *Engine) emit(ev Event) {
	if e.Events != nil {
		e.Events(ev)
	}
}

func (e *Engine) progress(ref egress.WorkloadRef, m egress.Message) {
	e.emit(Event{Kind: EventProgress, Workload: ref, Message: m})
}

func (e *Engine) warn(m egress.Message) { e.emit(Event{Kind: EventWarning, Message: m}) }

func (e *Engine) info(m egress.Message) { e.emit(Event{Kind: EventInfo, Message: m}) }

func (e *Engine) busy(what string) func() {
	if e.Busy == nil {
		return func() {}
	}
	return e.Busy(what)
}

func (e *Engine) waitOptions() cloud.WaitOptions {
	if e.WaitOptions == nil {
		return cloud.WaitOptions{}
	}
	return e.WaitOptions()
}

func (e *Engine) exitCode(err error) int {
	if e.ExitCode != nil {
		return e.ExitCode(err)
	}
	return exitcode.FromError(err)
}

// executor is an executor of the engine's platform, observer, journal and rollback context.
func (e *Engine) executor() *egress.Executor {
	x := &egress.Executor{Platform: e.Platform, Observer: e.Observer, Journal: e.Journal, RollbackContext: e.RollbackContext, Metrics: e.Metrics, Prober: e.Prober}
	return x
}

// forEach runs fn(i) for i in [0, n) with at most limit at once, starting them in order (so
// that with a limit of 1 they run one after the other, in order). It returns when all have
// returned.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int)) {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(ctx, i)
		})
	}
	wg.Wait()
}
