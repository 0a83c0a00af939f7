package migration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// FleetOptions are the choices of a migration beyond its target.
type FleetOptions struct {
	// Concurrency bounds how many workloads are read, planned or migrated at once.
	Concurrency int
	// Canary, StepWait and VerifyJob are the plans' (egress.PlanOptions).
	Canary    []int
	StepWait  time.Duration
	VerifyJob bool
	// Cleanup deletes the connector the workloads leave once nothing uses it.
	Cleanup bool
	// Force names the failed preflight checks to proceed past.
	Force []string
	// Fix grants Cloud Run's service agent what a failed service-agent check says it lacks,
	// before the workloads move.
	Fix bool
	// PerProject bounds how many workloads of one project migrate at once (0: none beyond
	// Concurrency).
	PerProject int
	// Network are the network choices the checks weigh (network.go).
	Network NetworkOptions
	// Gate, if set, judges each intermediate canary step of a service by its request
	// metrics; the engine needs Metrics for it.
	Gate *egress.GatePolicy
	// Probes, if set, probe each service's new revision before traffic moves; the engine
	// needs a Prober for it.
	Probes *egress.ProbeSpec
}

// Batch is a migration of one workload or several, planned (Plan) and then validated (a dry
// run: Validate) or applied (Apply).
type Batch struct {
	Request TargetRequest
	// Migrations are the workloads' migrations, in the order read.
	Migrations []*Migration
	// Create is the subnetwork the migration creates first, when it creates one: in the
	// workload's plan for one workload, by the fleet before the workloads for several.
	Create *egress.SubnetSpec
	// Empty is set when FromConnector is used by no workload (there is nothing to migrate).
	Empty bool
	// Unread are the projects that may use FromConnector whose workloads could not be read.
	Unread []ProjectError

	// Subnet is what became of Create for several workloads (planned in a dry run).
	Subnet *SubnetCreation
	// Cleanup is what became of the connectors the workloads left (several workloads).
	Cleanup []ConnectorCleanup

	fleet *Fleet
}

// Plan reads the workloads req names (with what serves them), resolves the target (a single
// one for all, and each workload's own: egress and tags kept), and prepares each workload's
// migration: the preflight facts and checks, and the plan. It changes nothing. Its errors
// carry their exit status: bad input (2), a target that cannot be inferred, a
// FromConnector that does not exist.
func (e *Engine) Plan(ctx context.Context, req TargetRequest, opts FleetOptions) (*Batch, error) {
	single := req.Single()
	b := &Batch{Request: req, fleet: &Fleet{E: e, Concurrency: opts.Concurrency, Force: opts.Force,
		PlanOptions:  egress.PlanOptions{Canary: opts.Canary, StepWait: opts.StepWait, Cleanup: opts.Cleanup && single, VerifyJob: opts.VerifyJob, Gate: e.gatePolicy(opts.Gate), Probes: opts.Probes},
		SubnetInPlan: single, CleanupAtEnd: opts.Cleanup && !single, Fix: opts.Fix, PerProject: opts.PerProject, Network: opts.Network}}

	// The workloads, as read; the Subnet, which depends on the request alone, at the same
	// time.
	sub := e.startSubnetRead(ctx, req)
	defer sub.wait()
	var ws []*cloud.Workload
	var err error
	if req.FromConnector != nil {
		ws, b.Unread, err = e.connectorUsersAcross(ctx, *req.FromConnector, req.Scope)
		for _, pe := range b.Unread {
			e.warn(egress.Plain(fmt.Sprintf("project %s was not read, so its users of connector %s are not migrated: %s", pe.Project, req.FromConnector.Name, pe.Error)))
		}
	} else {
		ws, err = e.readWorkloads(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if req.FromConnector != nil && len(ws) == 0 && len(b.Unread) == 0 {
		// Nothing uses it: fine if it exists (or with cleanup, which wants it gone anyway),
		// but a connector that does not exist is a typo that must not pass for "done".
		fc := *req.FromConnector
		if _, err := e.Read.GetConnector(ctx, fc); err != nil {
			if !cloud.IsNotFound(err) {
				return nil, fmt.Errorf("read --from-connector %s: %w", fc.Name, err)
			}
			if !opts.Cleanup {
				return nil, e.noSuchConnector(ctx, fc)
			}
		}
		b.Empty = true
		return b, nil
	}

	// One target for all, then each workload's own (egress and tags kept).
	target, err := e.resolveTarget(ctx, req, ws, sub)
	if err != nil {
		return nil, err
	}
	b.fleet.TargetSubnet, b.fleet.Ranges = target.subnet, target.ranges
	b.Create = target.create
	b.Migrations = b.fleet.Prepare(ctx, ws, target.forWorkload, target.create)
	if target.note != "" {
		for _, m := range b.Migrations {
			m.Notes = append(m.Notes, egress.Plain(target.note))
		}
	}
	if ctx.Err() != nil {
		return nil, exitcode.Errorf(exitcode.Failure, "interrupted during the preflight checks: nothing was changed")
	}
	return b, nil
}

// Runnable are the migrations ready to apply.
func (b *Batch) Runnable() []*Migration {
	var out []*Migration
	for _, m := range b.Migrations {
		if m.Runnable() {
			out = append(out, m)
		}
	}
	return out
}

// Validate is a dry run: the API checks the first change of every runnable workload
// (validate_only); the subnet to create, for several workloads, is planned (or blocked,
// when no workload would move into it); with the cleanup, each connector the workloads
// would leave is planned for deletion, or kept with the users that would still use it.
func (e *Engine) Validate(ctx context.Context, b *Batch) {
	b.fleet.Validate(ctx, b.Migrations)
	if b.fleet.CleanupAtEnd {
		var also []string
		if b.Request.FromConnector != nil {
			also = append(also, b.Request.FromConnector.FullName())
		}
		b.Cleanup = b.fleet.PlanCleanup(ctx, b.Migrations, also)
	}
	if !b.Request.Single() && b.Create != nil {
		c := b.Create
		b.Subnet = &SubnetCreation{Name: c.Name, Network: c.Network, CIDR: c.CIDR, Status: "planned"}
		if !slices.ContainsFunc(b.Migrations, func(m *Migration) bool { return m.Runnable() || m.Validated }) {
			b.Subnet.Status = string(egress.OutcomeBlocked) // no workload would move into it
		}
	}
}

// Apply carries the batch out: the subnet to create first (several workloads), every
// runnable workload, Concurrency at a time (one's failure does not stop the others), and the
// cleanup of the connectors they left (several workloads; with FromConnector, that one too).
func (e *Engine) Apply(ctx context.Context, b *Batch) {
	fl := b.fleet
	single := b.Request.Single()
	fl.GrantFixes(ctx, b.Migrations)
	if !single && b.Create != nil && len(b.Runnable()) > 0 {
		b.Subnet = fl.CreateSubnet(ctx, *b.Create)
		if b.Subnet.Error != "" {
			for _, m := range b.Runnable() {
				m.Skip("the subnet it needs could not be created: " + b.Subnet.Error)
			}
		}
	}
	if len(b.Migrations) > 0 {
		fl.Apply(ctx, b.Migrations)
	}
	if fl.CleanupAtEnd {
		var also []string
		if b.Request.FromConnector != nil {
			also = append(also, b.Request.FromConnector.FullName())
		}
		b.Cleanup = fl.Cleanup(ctx, b.Migrations, also)
	}
}

// BatchVerdict is the batch's exit status and what to say about it (FleetVerdict).
func (e *Engine) BatchVerdict(b *Batch) (int, egress.Message) {
	code, msg := e.FleetVerdict(b.Migrations, b.Cleanup)
	if len(b.Unread) == 0 {
		return code, msg
	}
	var ps []string
	for _, pe := range b.Unread {
		ps = append(ps, pe.Project+" ("+pe.Error+")")
	}
	unread := egress.Plain(fmt.Sprintf("%s not read, so their users of the connector were not migrated: %s", plural(len(b.Unread), "project"), strings.Join(ps, "; ")))
	if code == exitcode.OK {
		return exitcode.Failure, unread
	}
	return code, egress.Concat(msg, egress.Plain("; "), unread)
}

// noSuchConnector is the error of a FromConnector that does not exist: bad input (exit 2)
// naming the connectors that do.
func (e *Engine) noSuchConnector(ctx context.Context, fc egress.ConnectorRef) error {
	msg := fmt.Sprintf("--from-connector: connector %s does not exist in project %s, region %s (NOT_FOUND)", fc.Name, fc.Project, fc.Region)
	if conns, err := e.Read.ListConnectors(ctx, fc.Project, fc.Region); err == nil {
		var names []string
		for _, cn := range conns {
			names = append(names, cn.Name)
		}
		if len(names) == 0 {
			msg += "; there are no connectors there"
		} else {
			msg += "; connectors there: " + strings.Join(names, ", ")
		}
	}
	return exitcode.Usagef("%s", msg)
}

// readWorkloads reads the workloads to migrate, each with what serves it (Serving): one
// with GetWorkload; several with one list of each project and region. (FromConnector's are
// read by connectorUsersAcross: in every project that may use it, those whose template, a
// revision that receives traffic or carries a tag, or a running job execution uses it.)
func (e *Engine) readWorkloads(ctx context.Context, req TargetRequest) ([]*cloud.Workload, error) {
	if req.Single() {
		w, err := e.Read.GetWorkload(ctx, req.Workloads[0])
		if err != nil {
			return nil, err
		}
		if err := e.readServing(ctx, []*cloud.Workload{w}); err != nil {
			return nil, err
		}
		return []*cloud.Workload{w}, nil
	}
	byRef := map[egress.WorkloadRef]*cloud.Workload{}
	listed := map[place]bool{}
	for _, r := range req.Workloads {
		p := place{r.Project, r.Region}
		if listed[p] {
			continue
		}
		listed[p] = true
		all, err := e.Read.ListWorkloads(ctx, p.project, p.region)
		if err != nil {
			return nil, err
		}
		for _, w := range all {
			byRef[w.Ref] = w
		}
	}
	var out []*cloud.Workload
	var missing []string
	for _, r := range req.Workloads {
		if w, ok := byRef[r]; ok {
			out = append(out, w)
		} else {
			missing = append(missing, r.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not found in project %s, region %s: %s (see runnet status)", req.Project, req.Region, strings.Join(missing, ", "))
	}
	if err := e.readServing(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// gatePolicy is the policy plans are gated by: none without a metrics reader.
func (e *Engine) gatePolicy(g *egress.GatePolicy) *egress.GatePolicy {
	if e.Metrics == nil {
		return nil
	}
	return g
}
