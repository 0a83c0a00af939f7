package migration

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// The fleet machinery: plan and migrate workloads with bounded concurrency. A migration of one
// workload or many uses it; a connector recycle moves the connector's users with it.

// Fleet plans and migrates a set of workloads.
type Fleet struct {
	E *Engine
	// Concurrency bounds how many workloads are read, planned or migrated at once.
	Concurrency int
	// PlanOptions apply to every workload (Tag and CreateSubnet are set per workload).
	PlanOptions egress.PlanOptions
	// Force names the failed preflight checks to proceed past.
	Force []string
	// SubnetInPlan puts the creation of a subnet in the workload's plan (one workload);
	// otherwise the caller creates it once (CreateSubnet) before Apply.
	SubnetInPlan bool
	// CleanupAtEnd says the caller deletes the connectors the workloads leave once they
	// are all done (Cleanup), rather than each workload's plan.
	CleanupAtEnd bool
	// TargetSubnet, if set, is the target subnetwork as read already: the preflight of a
	// workload that moves into it does not read it again.
	TargetSubnet *cloud.Subnet
	// Ranges are the ranges in use in the network of the subnet the migration creates.
	Ranges *egress.RangeFacts
	// Fix makes the grants a failed service-agent check names, before the workloads move
	// (GrantFixes): the check then warns instead of failing.
	Fix bool
	// PerProject bounds how many workloads of one project migrate at once (0: no bound
	// beyond Concurrency).
	PerProject int
	// Network are the network choices the checks weigh (network.go).
	Network NetworkOptions
}

// Migration is one workload of a fleet: as read, its target, the facts and the checks, its
// plan and, once run, its result.
type Migration struct {
	Ref          egress.WorkloadRef
	Workload     *cloud.Workload
	Target       egress.VPC
	CreateSubnet *egress.SubnetSpec
	Facts        *cloud.GatheredFacts
	Plan         egress.Plan
	// Validated is set when a dry run's validate_only request was accepted.
	Validated bool
	// Result is the executor's record; for a workload that did not run, Prepare, Skip and
	// Validate fill it.
	Result *egress.Result
	// Notes say what else the user should know about this workload.
	Notes []egress.Message
	// RollbackRequested is set when the migration was resumed to be undone: rolled back is
	// then success.
	RollbackRequested bool
	// Grants are what --fix grants Cloud Run's service agent before the migration.
	Grants []egress.RoleGrant
}

// Runnable reports whether the migration is ready to apply: planned, not a no-op, not
// blocked, not already finished.
func (m *Migration) Runnable() bool {
	return m.Result == nil && !m.Plan.NoOp && !m.Plan.Blocked
}

// Skip marks a migration that will not run.
func (m *Migration) Skip(why string) {
	m.Result = &egress.Result{Workload: m.Ref, Outcome: egress.OutcomeSkipped, Error: why, Err: errors.New(why)}
}

func (m *Migration) failed(err error) {
	m.Result = &egress.Result{Workload: m.Ref, Outcome: egress.OutcomeFailed, Error: err.Error(), Err: err}
}

// TargetFunc returns the target of one workload, as read.
type TargetFunc func(w *cloud.Workload) egress.VPC

// readServing reads what serves each of ws that does not know yet (Workload.Serving).
func (e *Engine) readServing(ctx context.Context, ws []*cloud.Workload) error {
	var missing []*cloud.Workload
	for _, w := range ws {
		if w.Serving == nil {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	states, err := e.Read.ServingStates(ctx, missing)
	if err != nil {
		return fmt.Errorf("read what serves the workloads: %w", err)
	}
	for i, w := range missing {
		w.Serving = states[i]
	}
	return nil
}

// place is a project and region.
type place struct{ project, region string }

// Prepare checks and plans each workload: its target (from target), whether it already has
// it (no-op: nothing more is read), the preflight facts (gathered concurrently, counting the
// other workloads moving into the same subnet), the checks (with Force applied) and the
// plan. create is a subnet the migration creates first (nil if none).
func (fl *Fleet) Prepare(ctx context.Context, ws []*cloud.Workload, target TargetFunc, create *egress.SubnetSpec) []*Migration {
	e := fl.E
	ms := make([]*Migration, len(ws))
	servingErr := e.readServing(ctx, ws)
	for i, w := range ws {
		ms[i] = &Migration{Ref: w.Ref, Workload: w, Target: target(w), CreateSubnet: create}
		if err := e.Lock(w); err != nil {
			// Another run holds it (or died holding it): what it carries is no basis for a
			// plan, not even a no-op.
			ms[i].failed(err)
			continue
		}
		if w.Serving == nil {
			// What serves decides whether there is anything to do: without it, no plan.
			ms[i].failed(servingErr)
		}
	}
	// One list of each project and region serves the facts of all its workloads.
	listed := map[place][]*cloud.Workload{}
	if len(ws) > 1 {
		for _, w := range ws {
			p := place{w.Ref.Project, w.Ref.Region}
			if _, ok := listed[p]; ok {
				continue
			}
			l, err := e.Read.ListWorkloads(ctx, p.project, p.region)
			if err != nil {
				l = nil // each workload lists its own then
			}
			listed[p] = l
		}
	}
	// Who moves into which subnet, for the free-ips check.
	moving := map[string][]egress.SubnetUser{}
	for _, m := range ms {
		if m.Result != nil || m.noOp() {
			continue
		}
		if m.Target.Mode() == egress.ModeDirect {
			moving[m.Target.Subnet] = append(moving[m.Target.Subnet], egress.SubnetUser{Ref: m.Ref, MaxInstances: m.Workload.MaxInstances})
		}
	}
	forEach(ctx, len(ms), max(fl.Concurrency, 8), func(ctx context.Context, i int) {
		m := ms[i]
		if m.Result != nil {
			return
		}
		opts := fl.PlanOptions
		if m.Ref.Kind == egress.KindService {
			opts.Tag = egress.DefaultRevisionTag(m.Ref.Name, m.Target.Mode())
		}
		if fl.SubnetInPlan {
			opts.CreateSubnet = m.CreateSubnet
		}
		if m.noOp() {
			m.Plan = planFor(opts, m.Workload.Workload, m.Target, nil)
			if m.Workload.Rollout() == cloud.RolloutFailed {
				m.Notes = append(m.Notes, egress.Say(fmt.Sprintf("its latest revision %s failed with these settings; retry it with '", m.Workload.LatestCreated), egress.Action{Kind: egress.ActionAttach}, "'"))
			}
			return
		}
		req := cloud.FactsRequest{Workload: m.Workload, Target: m.Target, CreateSubnet: m.CreateSubnet,
			Workloads: listed[place{m.Ref.Project, m.Ref.Region}], Verify: fl.PlanOptions.VerifyJob && m.Ref.Kind == egress.KindJob,
			Subnet: fl.TargetSubnet, Ranges: fl.Ranges, ServingUsers: fl.PlanOptions.Cleanup && !fl.CleanupAtEnd}
		if m.Target.Mode() == egress.ModeDirect {
			for _, u := range moving[m.Target.Subnet] {
				if u.Ref != m.Ref {
					req.Moving = append(req.Moving, u)
				}
			}
		}
		// The gate's metrics are read alongside the other facts, not after them.
		metrics := make(chan *egress.MetricsFacts, 1)
		go func() { metrics <- e.metricsFacts(ctx, m, opts) }()
		facts, err := e.Read.GatherFacts(ctx, req)
		mf := <-metrics
		if err != nil {
			m.failed(fmt.Errorf("preflight of %s: %w", m.Ref, err))
			return
		}
		m.Facts = facts
		fl.Network.applyTo(&facts.Facts)
		facts.Metrics = mf
		for _, n := range facts.Notes {
			m.Notes = append(m.Notes, egress.Plain(n))
		}
		if ref, ok := fl.Network.needsPrivateGoogleAccess(m); ok {
			m.Notes = append(m.Notes, egress.Plain(fmt.Sprintf("Private Google Access is turned on for subnet %s before the switch (--enable-private-google-access)", ref.Name)))
		}
		checks, err := egress.ApplyForce(egress.RunPreflight(facts.Facts), fl.Force)
		if err != nil {
			m.failed(exitcode.Wrap(exitcode.Usage, err))
			return
		}
		if fl.Fix {
			checks = m.fixable(checks)
		}
		opts.ConnectorUsers = facts.ConnectorUsers
		if fl.CleanupAtEnd {
			// Other workloads of the fleet leave the connector too: it is deleted once
			// they all have (Fleet.Cleanup), not by each workload's plan.
			opts.Cleanup = false
		}
		m.Plan = planFor(opts, m.Workload.Workload, m.Target, checks)
		if fl.CleanupAtEnd && m.Plan.FromMode == egress.ModeConnector && m.Plan.From.Connector != m.Plan.To.Connector {
			notes := m.Plan.Notes[:0]
			for _, n := range m.Plan.Notes {
				if n.Kind != egress.MessageConnectorKept {
					notes = append(notes, n)
				}
			}
			m.Plan.Notes = append(notes, egress.Plain(fmt.Sprintf("connector %s is deleted at the end if nothing uses it then", egress.ShortName(m.Plan.From.Connector))))
		}
		e.emit(Event{Kind: EventChecks, Workload: m.Ref, Checks: m.Plan.Checks})
	})
	return ms
}

// fixable turns a failed service-agent check whose grants --fix makes into a warning, and
// records the grants. A project not attached to the Shared VPC host is not fixed: that is a
// Shared VPC admin's decision.
func (m *Migration) fixable(checks []egress.Check) []egress.Check {
	sa := m.Facts.ServiceAgent
	if sa == nil || sa.NotAttached || len(sa.Grants) == 0 {
		return checks
	}
	for i, c := range checks {
		if c.Name == egress.CheckServiceAgent && c.Status == egress.StatusFail {
			checks[i] = egress.ServiceAgentFixed(c)
			m.Grants = sa.Grants
		}
	}
	return checks
}

// planFor builds a workload's plan. It is where the engine chooses how a workload moves:
// today always the canary path of egress.BuildPlan (a new revision at 0%, then the traffic in
// steps); a one-operation path (VPC access and traffic in a single update, when no canary
// is asked for) would be chosen here, from opts and the workload, and built by its own
// builder in pkg/egress, leaving the executor as it is.
func planFor(opts egress.PlanOptions, w egress.Workload, target egress.VPC, checks []egress.Check) egress.Plan {
	return egress.BuildPlan(opts, w, target, checks)
}

// noOp reports whether the target is in force: the template has it, its latest revision did
// not fail, and every revision that receives traffic (instances) has it.
func (m *Migration) noOp() bool {
	if m.Workload.Serving != nil {
		return m.Workload.Serving.Serves(m.Target)
	}
	same, err := m.Workload.VPC.Equivalent(m.Target, m.Ref.Project, m.Ref.Region)
	return err == nil && same
}

// Validate runs a dry run's server-side check (validate_only) of every runnable workload.
func (fl *Fleet) Validate(ctx context.Context, ms []*Migration) {
	x := fl.E.executor()
	forEach(ctx, len(ms), fl.Concurrency, func(ctx context.Context, i int) {
		m := ms[i]
		if !m.Runnable() {
			return
		}
		err := x.Validate(ctx, egress.Request{Plan: m.Plan, Workload: cloud.Snapshot(m.Workload), CreateSubnet: m.CreateSubnet})
		if err != nil {
			m.failed(fmt.Errorf("the API rejected the change (validate_only): %w", err))
			return
		}
		m.Validated = true
		if m.CreateSubnet != nil {
			m.Notes = append(m.Notes, egress.Plain("the subnet does not exist yet: the API checked the request, not the subnet"))
		}
	})
}

// Apply migrates every runnable workload, Concurrency at a time. A workload's failure does
// not stop the others; once ctx is cancelled, workloads not yet started are skipped (the
// ones running roll back).
func (fl *Fleet) Apply(ctx context.Context, ms []*Migration) {
	s := "s"
	if len(ms) == 1 {
		s = ""
	}
	done := fl.E.busy(fmt.Sprintf("Migrating %d workload%s", len(ms), s))
	defer done()
	pga := fl.enablePrivateGoogleAccess(ctx, ms)
	defer notePrivateGoogleAccessKept(ms, pga)
	x := fl.E.executor()
	order := interleave(ms)
	var slots *projectSlots
	if fl.PerProject > 0 {
		slots = newProjectSlots(fl.PerProject)
	}
	forEach(ctx, len(ms), fl.Concurrency, func(ctx context.Context, k int) {
		m := ms[order[k]]
		if m.Result != nil {
			return
		}
		if !m.Runnable() {
			m.Result = x.Execute(ctx, egress.Request{Plan: m.Plan, Workload: cloud.Snapshot(m.Workload), CreateSubnet: m.CreateSubnet})
			return
		}
		release := slots.acquire(ctx, m.Ref.Project, func() {
			fl.E.progress(m.Ref, egress.Plain(fmt.Sprintf("Waiting: %s of project %s migrating already (at most %d at once per project)...",
				plural(fl.PerProject, "workload"), m.Ref.Project, fl.PerProject)))
		})
		if release == nil || ctx.Err() != nil {
			m.Skip("interrupted before it started: nothing was changed")
			if release != nil {
				release()
			}
			return
		}
		defer release()
		m.Result = x.Execute(ctx, egress.Request{Plan: m.Plan, Workload: cloud.Snapshot(m.Workload), CreateSubnet: m.CreateSubnet})
	})
}

// GrantFixes makes, once each, the grants the runnable migrations need (--fix: what Cloud
// Run's service agent lacks on a Shared VPC target), before any of them moves. A migration
// whose grant is refused fails (a permission denied exits 4) and nothing of it is changed.
func (fl *Fleet) GrantFixes(ctx context.Context, ms []*Migration) {
	type key struct{ resource, role, member string }
	done := map[key]error{}
	for _, m := range ms {
		if !m.Runnable() || len(m.Grants) == 0 {
			continue
		}
		for _, g := range m.Grants {
			k := key{g.Resource, g.Role, g.Member}
			err, seen := done[k]
			if !seen {
				fl.E.progress(m.Ref, egress.Plain(fmt.Sprintf("Granting %s to %s on %s (--fix)...", g.Role, g.Member, g.Resource)))
				if fl.E.Grant == nil {
					err = errors.New("no IAM client to grant with")
				} else {
					err = fl.E.Grant.GrantRoles(ctx, []egress.RoleGrant{g})
				}
				done[k] = err
				if err == nil {
					fl.E.info(egress.Plain(fmt.Sprintf("Granted %s to %s on %s.", g.Role, g.Member, g.Resource)))
				}
			}
			if err != nil {
				m.failed(egress.WithAdvice(fmt.Errorf("--fix could not grant Cloud Run's service agent what it needs, so %s was not changed: %w", m.Ref, err),
					egress.Say("; someone who may set the IAM policy of "+g.Resource+" runs '", g.Action(), "'")))
				break
			}
		}
	}
}

// SubnetCreation is the subnet a fleet created before migrating. JSON field names are a
// stable contract.
type SubnetCreation struct {
	Name    string `json:"name"`
	Network string `json:"network"`
	CIDR    string `json:"cidr"`
	Status  string `json:"status"` // done, failed, planned (a dry run), or blocked (a dry run no workload passes)
	Error   string `json:"error,omitempty"`
}

// CreateSubnet creates the subnet the fleet's workloads move into.
func (fl *Fleet) CreateSubnet(ctx context.Context, spec egress.SubnetSpec) *SubnetCreation {
	out := &SubnetCreation{Name: spec.Name, Network: spec.Network, CIDR: spec.CIDR, Status: string(egress.StepDone)}
	fl.E.progress(egress.WorkloadRef{}, egress.Plain(fmt.Sprintf("Creating subnet %s (%s)...", egress.ShortName(spec.Name), spec.CIDR)))
	cidr, err := fl.E.Platform.CreateSubnet(ctx, spec)
	switch {
	case err != nil:
		out.Status, out.Error = string(egress.StepFailed), err.Error()
	case cidr != "" && cidr != spec.CIDR:
		fl.E.warn(egress.Plain(fmt.Sprintf("range %s was taken meanwhile; subnet %s was created in %s, the next free one", spec.CIDR, egress.ShortName(spec.Name), cidr)))
		out.CIDR = cidr
	}
	return out
}

// ConnectorCleanup is what a fleet's cleanup did with a connector its workloads left. JSON
// field names are a stable contract.
type ConnectorCleanup struct {
	Connector string   `json:"connector"`
	Status    string   `json:"status"` // done (deleted), skipped (still used), failed, or planned (a dry run: would be deleted)
	Users     []string `json:"users,omitempty"`
	Error     string   `json:"error,omitempty"`

	// Err is Error as an error value, for the exit status.
	Err error `json:"-"`
}

func (cl *ConnectorCleanup) fail(err error) {
	cl.Status, cl.Error, cl.Err = string(egress.StepFailed), err.Error(), err
}

// Cleanup deletes, once every workload is done, each connector the migrated workloads left
// (and each of also, full names) if nothing uses it any more (templates, and revisions still
// serving traffic or tagged), checked at that moment.
func (fl *Fleet) Cleanup(ctx context.Context, ms []*Migration, also []string) []ConnectorCleanup {
	return fl.cleanup(ctx, ms, also, func(m *Migration) bool {
		return m.Result != nil && m.Result.Outcome == egress.OutcomeMigrated
	}, false)
}

// PlanCleanup is Cleanup for a dry run: each connector the validated workloads would leave
// (and each of also) is "planned" for deletion when nothing but those workloads uses it, or
// "skipped" with the users that would keep it; nothing is deleted.
func (fl *Fleet) PlanCleanup(ctx context.Context, ms []*Migration, also []string) []ConnectorCleanup {
	return fl.cleanup(ctx, ms, also, func(m *Migration) bool { return m.Validated }, true)
}

func (fl *Fleet) cleanup(ctx context.Context, ms []*Migration, also []string, moved func(*Migration) bool, dryRun bool) []ConnectorCleanup {
	conns := slices.Clone(also)
	var moving []egress.WorkloadRef
	for _, m := range ms {
		if !moved(m) {
			continue
		}
		moving = append(moving, m.Ref)
		if m.Plan.FromMode == egress.ModeConnector && m.Plan.From.Connector != m.Plan.To.Connector && !slices.Contains(conns, m.Plan.From.Connector) {
			conns = append(conns, m.Plan.From.Connector)
		}
	}
	p := fl.E.Platform
	out := make([]ConnectorCleanup, len(conns))
	for i, name := range conns {
		cref, err := egress.ParseConnectorRef(name, "", "")
		out[i] = ConnectorCleanup{Connector: name}
		if err != nil {
			out[i].fail(err)
			continue
		}
		users, err := p.ConnectorUsers(ctx, cref)
		if err != nil {
			out[i].fail(fmt.Errorf("check who uses connector %s: %w", cref.Name, err))
			continue
		}
		if dryRun { // the workloads that would move leave it
			users = slices.DeleteFunc(users, func(u egress.ConnectorUser) bool { return slices.Contains(moving, u.Workload) })
		}
		if len(users) > 0 {
			out[i].Status = string(egress.StepSkipped)
			for _, u := range users {
				name := u.String()
				if u.Workload.Project != cref.Project {
					name = u.Workload.Project + "/" + name // a Shared VPC service project's
				}
				out[i].Users = append(out[i].Users, name)
			}
			continue
		}
		if dryRun {
			out[i].Status = string(egress.OutcomePlanned)
			continue
		}
		fl.E.progress(egress.WorkloadRef{}, egress.Plain(fmt.Sprintf("Deleting connector %s, which nothing uses any more...", cref.Name)))
		if err := p.DeleteConnector(ctx, cref); err != nil {
			out[i].fail(err)
			continue
		}
		out[i].Status = string(egress.StepDone)
	}
	return out
}
