package migration

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Connector recycle: replace a connector by a fresh one (connectors scale out but never in),
// move its users to it with the fleet machinery, and delete it once nothing uses it.

// ConnectorRangeSpace is where a connector's range must lie: internal addresses "as defined
// by RFC 1918 and RFC 6598". Source: VPC docs, "Serverless VPC Access" (create a connector).
var ConnectorRangeSpace = []netip.Prefix{ipam.RFC1918[0], ipam.RFC1918[1], ipam.RFC1918[2], ipam.RFC6598}

// RecycleSubnetSuffix names the subnet a recycle creates without a name: NEW-NAME-subnet.
const RecycleSubnetSuffix = "-subnet"

// RecycleRequest is a connector to replace, as the user asked.
type RecycleRequest struct {
	// Old is the connector to replace; New the one that replaces it (same project and
	// region).
	Old, New egress.ConnectorRef
	// Range is the new connector's /28 (or, with CreateSubnet, its subnet's); not valid:
	// a free one. RangeGiven says the user named a range (or "auto") at all.
	Range      netip.Prefix
	RangeGiven bool
	// SubnetName, when set, is the subnet the new connector goes in (with CreateSubnet, the
	// one to create), in SubnetProject when given as a path.
	SubnetName    string
	SubnetProject string
	CreateSubnet  bool
	// MachineType, MinInstances and MaxInstances, when set, are the new connector's;
	// otherwise the old one's.
	MachineType  string
	MinInstances int
	MaxInstances int
	// ValidateSize checks a connector's instance counts and machine type together (the
	// command's own rule, whose errors name its flags).
	ValidateSize func(minInstances, maxInstances int, machineType string) error
	// Concurrency and Force are the fleet's (FleetOptions).
	Concurrency int
	Force       []string
	// Space, when set, is where a free range is looked for instead of ConnectorRangeSpace.
	Space []netip.Prefix
}

// Recycle is a connector recycle as prepared (PrepareRecycle), then run (RunRecycle).
type Recycle struct {
	Request RecycleRequest
	// Old is the old connector, nil when it no longer exists; OldSubnet its subnet when it
	// was made in one; OldNetwork the network it reaches (a path), when known.
	Old        *cloud.Connector
	OldSubnet  *cloud.Subnet
	OldNetwork string
	// Existing is the new connector when it exists already (an earlier run).
	Existing *cloud.Connector
	// Spec is the new connector; Network its network (a path); SubnetRange the range of its
	// subnet; CreateSubnet the subnet to create for it, if any.
	Spec         cloud.ConnectorSpec
	Network      string
	SubnetRange  string
	CreateSubnet *cloud.SubnetSpec
	// Workloads are the workloads whose template uses the old connector.
	Workloads []*cloud.Workload
	// OtherUsers are the workloads of other projects that used the old connector when the
	// recycle was prepared (OtherProjectUsers: Shared VPC service projects, connected
	// projects), which a recycle does not move: the old connector is kept for them.
	// OtherWarnings say which projects could not be read.
	OtherUsers    []User
	OtherWarnings []string
	// Notes say how the new connector was placed, what is reused.
	Notes []egress.Message

	// What the run did.
	SubnetErr      error        // the subnet's creation failed
	ConnectorErr   error        // the new connector's creation failed
	ConnectorState string       // the new connector's state once created
	Migrations     []*Migration // the workloads' migrations
	// OldKept says why the old connector was kept ("" when it was deleted, or not reached);
	// OldUsers are what still uses it then. OldDeleted and OldErr say how its deletion went.
	OldKept    string
	OldUsers   []string
	OldDeleted bool
	OldErr     error
	Cleanup    []ConnectorCleanup

	fleet *Fleet
}

// PrepareRecycle reads what the recycle depends on and works out the new connector, changing
// nothing. Errors carry their exit status: 2 for settings that clash, 3 for a subnet or
// range that does not fit, 5 for a new connector that exists and differs.
func (e *Engine) PrepareRecycle(ctx context.Context, req RecycleRequest) (*Recycle, error) {
	rc := &Recycle{Request: req}
	rc.fleet = &Fleet{E: e, Concurrency: req.Concurrency, Force: req.Force, CleanupAtEnd: true}
	var oldErr, newErr, wsErr error
	var all []*cloud.Workload
	var wg sync.WaitGroup
	wg.Go(func() { rc.Old, oldErr = e.Read.GetConnector(ctx, req.Old) })
	wg.Go(func() { rc.Existing, newErr = e.Read.GetConnector(ctx, req.New) })
	wg.Go(func() { all, wsErr = e.Read.ListWorkloads(ctx, req.Old.Project, req.Old.Region) })
	wg.Go(func() {
		var err error
		rc.OtherUsers, rc.OtherWarnings, err = e.OtherProjectUsers(ctx, req.Old)
		if err != nil {
			rc.OtherWarnings = append(rc.OtherWarnings, "the other projects that may use connector "+req.Old.Name+" could not be read: "+err.Error())
		}
	})
	wg.Wait()
	if newErr != nil {
		if !cloud.IsNotFound(newErr) {
			return nil, newErr
		}
		rc.Existing = nil
	}
	if oldErr != nil {
		if !cloud.IsNotFound(oldErr) {
			return nil, oldErr
		}
		rc.Old = nil
		if rc.Existing == nil {
			return nil, fmt.Errorf("connector %s does not exist in project %s, region %s, and neither does %s: nothing to recycle (see 'runnet connector list'): %w",
				req.Old.Name, req.Old.Project, req.Old.Region, req.New.Name, oldErr)
		}
		rc.note("connector %s no longer exists (an earlier run deleted it?); %s does: the workloads that still name %s move to it", req.Old.Name, req.New.Name, req.Old.Name)
	}
	if wsErr != nil {
		return nil, wsErr
	}
	for _, w := range all {
		if w.UsesConnector(req.Old) {
			rc.Workloads = append(rc.Workloads, w)
		}
	}

	// The old connector's network (and subnet).
	if rc.Old != nil {
		if path := rc.Old.SubnetPath(); path != "" {
			sref, err := egress.ParseSubnetRef(path, "", "")
			if err != nil {
				return nil, fmt.Errorf("connector %s's subnet %s: %w", req.Old.Name, path, err)
			}
			s, err := e.Read.GetSubnet(ctx, sref)
			if err != nil {
				return nil, fmt.Errorf("read subnet %s of connector %s: %w", sref.Name, req.Old.Name, err)
			}
			rc.OldSubnet, rc.OldNetwork = s, s.NetworkPath
		} else {
			rc.OldNetwork = NetworkPath(rc.Old.Network, rc.Old.Project)
		}
	}

	// Settings: the request's, else the old connector's (or, when it is gone, the new one's).
	base := rc.Old
	if base == nil {
		base = rc.Existing
	}
	mt, lo, hi := base.MachineType, base.MinInstances, base.MaxInstances
	if mt == "" {
		mt = cloud.DefaultConnectorMachineType
	}
	if req.MachineType != "" {
		mt = req.MachineType
	}
	if req.MinInstances != 0 {
		lo = req.MinInstances
	}
	if req.MaxInstances != 0 {
		hi = req.MaxInstances
	}
	if req.ValidateSize != nil {
		if err := req.ValidateSize(lo, hi, mt); err != nil {
			return nil, exitcode.Usagef("%v (settings not given are connector %s's: machine type %s, %d to %d instances)", errors.Unwrap(err), base.Name, base.MachineType, base.MinInstances, base.MaxInstances)
		}
	}
	rc.Spec = cloud.ConnectorSpec{Ref: req.New, MachineType: mt, MinInstances: lo, MaxInstances: hi}

	if rc.Existing != nil {
		return rc, e.reuse(ctx, rc)
	}
	return rc, e.place(ctx, rc)
}

func (rc *Recycle) note(format string, args ...any) {
	rc.Notes = append(rc.Notes, egress.Plain(fmt.Sprintf(format, args...)))
}

// reuse checks that the new connector, which exists already (an earlier run), is the one
// asked for, and takes its placement.
func (e *Engine) reuse(ctx context.Context, rc *Recycle) error {
	req, cur := rc.Request, rc.Existing
	if cur.IPCIDRRange != "" {
		rc.Spec.IPCIDRRange, rc.Spec.Network = cur.IPCIDRRange, cur.Network
		rc.Network = NetworkPath(cur.Network, cur.Project)
	} else if cur.Subnet != nil {
		s := *cur.Subnet
		rc.Spec.Subnet = &s
		sref, err := egress.ParseSubnetRef(cur.SubnetPath(), "", "")
		if err == nil {
			if sn, err := e.Read.GetSubnet(ctx, sref); err == nil {
				rc.Network, rc.SubnetRange = sn.NetworkPath, sn.IPCIDRRange
			}
		}
	}
	var d []string
	if req.Range.IsValid() && !req.CreateSubnet && cur.IPCIDRRange != req.Range.String() {
		d = append(d, fmt.Sprintf("its range is %s, not %s", noneIfEmpty(cur.IPCIDRRange), req.Range))
	}
	if req.SubnetName != "" && (cur.Subnet == nil || cur.Subnet.Name != req.SubnetName) {
		d = append(d, fmt.Sprintf("its subnet is %s, not %s", noneIfEmpty(cur.SubnetPath()), req.SubnetName))
	}
	if rc.OldNetwork != "" && rc.Network != "" && rc.Network != rc.OldNetwork {
		d = append(d, fmt.Sprintf("it is in network %s, not %s (connector %s's)", egress.ShortName(rc.Network), egress.ShortName(rc.OldNetwork), req.Old.Name))
	}
	d = append(d, rc.Spec.Differences(cur)...)
	if len(d) > 0 {
		return exitcode.Errorf(exitcode.Conflict, "connector %s already exists and is not the one this recycle would create: %s; pick another --new-name, or delete it first; nothing was changed",
			req.New.Name, strings.Join(d, "; "))
	}
	switch cur.State {
	case cloud.ConnectorError, cloud.ConnectorDeleting:
		return exitcode.Errorf(exitcode.Conflict, "connector %s already exists in state %s; delete it (runnet connector delete %s) or pick another --new-name; nothing was changed", req.New.Name, cur.State, req.New.Name)
	}
	rc.note("connector %s already exists with these settings (an earlier run?): it is reused", req.New.Name)
	return nil
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// place works out where a new connector goes: a range of the old one's network, or a
// subnet (existing, or to create).
func (e *Engine) place(ctx context.Context, rc *Recycle) error {
	req, old := rc.Request, rc.Old
	if old == nil { // cannot happen: a missing new connector with a missing old one stopped earlier
		return fmt.Errorf("connector %s does not exist", req.Old.Name)
	}
	if rc.OldNetwork == "" {
		return fmt.Errorf("cannot tell which network connector %s reaches (network %q); nothing was changed", old.Name, old.Network)
	}
	if req.SubnetName == "" && !req.CreateSubnet {
		if rc.OldSubnet != nil {
			what := "--subnet is needed"
			if req.RangeGiven {
				what = "--range: a range alone is not enough"
			}
			return exitcode.Usagef("%s: connector %s was made in subnet %s (a /28 nothing else uses), and both connectors exist at once, so the new one needs another: --subnet NAME of an unused /28 subnet, or --create-subnet [--subnet NAME] [--range CIDR|auto] to create one",
				what, old.Name, rc.OldSubnet.Name)
		}
		return e.placeRange(ctx, rc)
	}
	return e.placeSubnet(ctx, rc)
}

// placeRange picks the new connector's ip_cidr_range in the old one's network.
func (e *Engine) placeRange(ctx context.Context, rc *Recycle) error {
	nref, err := egress.ParseNetworkRef(rc.OldNetwork, rc.Request.Old.Project)
	if err != nil {
		return err
	}
	chosen, how, err := e.pickRange(ctx, rc.Request, nref, rc.Old.IPCIDRRange)
	if err != nil {
		return err
	}
	rc.Spec.IPCIDRRange, rc.Spec.Network, rc.Network = chosen.String(), nref.Name, nref.Path()
	if how != "" {
		rc.note("%s", how)
	}
	return nil
}

// placeSubnet puts the new connector in the request's subnet, checked, or in a subnet to
// create.
func (e *Engine) placeSubnet(ctx context.Context, rc *Recycle) error {
	req := rc.Request
	project := req.Old.Project
	if rc.OldSubnet != nil {
		project = rc.OldSubnet.Project
	}
	if req.SubnetProject != "" {
		project = req.SubnetProject
	}
	name := req.SubnetName
	if name == "" {
		name = req.New.Name + RecycleSubnetSuffix
	}
	sref := egress.SubnetRef{Project: project, Region: req.Old.Region, Name: name}
	s, err := e.Read.GetSubnet(ctx, sref)
	switch {
	case err == nil:
		if s.PrefixLength != ipam.ConnectorPrefix {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s is a /%d (%s); a connector needs a /%d subnet; nothing was changed", name, s.PrefixLength, s.IPCIDRRange, ipam.ConnectorPrefix)
		}
		if s.NetworkPath != rc.OldNetwork {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s is in network %s, but connector %s reaches %s: the new connector must reach the same network; nothing was changed", name, s.Network, req.Old.Name, egress.ShortName(rc.OldNetwork))
		}
		if req.CreateSubnet && req.Range.IsValid() && s.IPCIDRRange != req.Range.String() {
			return exitcode.Errorf(exitcode.Conflict, "--create-subnet: subnet %s already exists with range %s, not %s; nothing was changed", name, s.IPCIDRRange, req.Range)
		}
		if by, err := SubnetConnectors(ctx, e.Read, req.Old.Project, sref); err != nil {
			return err
		} else if len(by) > 0 {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s is already used by connector %s; a connector needs a /28 subnet of its own; nothing was changed", name, strings.Join(by, ", "))
		}
		if req.CreateSubnet {
			rc.note("subnet %s already exists in network %s (%s): using it", name, s.Network, s.IPCIDRRange)
		}
		rc.SubnetRange = s.IPCIDRRange
	case cloud.IsNotFound(err):
		if !req.CreateSubnet {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s does not exist in project %s, region %s; add --create-subnet to create it; nothing was changed", name, project, req.Old.Region)
		}
		nref, err := egress.ParseNetworkRef(rc.OldNetwork, project)
		if err != nil {
			return err
		}
		if nref.Project != project {
			return exitcode.Usagef("--subnet: connector %s's network %s is in project %s, so its subnet must be too, not in %s", req.Old.Name, nref.Name, nref.Project, project)
		}
		near := rc.Old.IPCIDRRange
		if rc.OldSubnet != nil {
			near = rc.OldSubnet.IPCIDRRange
		}
		chosen, how, err := e.pickRange(ctx, req, nref, near)
		if err != nil {
			return err
		}
		spec := &cloud.SubnetSpec{Ref: sref, Network: nref.Path(), IPCIDRRange: chosen.String(),
			Description: "Serverless VPC Access connector subnet for " + req.New.Name + ", created by runnet connector recycle"}
		if rc.OldSubnet != nil {
			spec.PrivateIPGoogleAccess = rc.OldSubnet.PrivateIPGoogleAccess
			if fl := rc.OldSubnet.FlowLogs; fl != nil && fl.Enabled {
				cp := *fl
				spec.FlowLogs = &cp
			}
		}
		rc.CreateSubnet, rc.SubnetRange = spec, chosen.String()
		if how != "" {
			rc.note("subnet %s: %s", name, how)
		}
	default:
		return err
	}
	rc.Spec.Subnet = &cloud.ConnectorSubnet{Name: name, ProjectID: project}
	rc.Network = rc.OldNetwork
	return nil
}

// SubnetConnectors names the connectors of project that were made in subnet ref (none: an
// empty list).
func SubnetConnectors(ctx context.Context, r ConnectorReader, project string, ref egress.SubnetRef) ([]string, error) {
	conns, err := r.ListConnectors(ctx, project, ref.Region)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, cn := range conns {
		if cn.SubnetPath() == ref.Path() {
			out = append(out, cn.Name)
		}
	}
	return out, nil
}

// pickRange returns the request's range, checked against the network's ranges, or the first
// free /28 near near (its /24, then its /16), else in connector space.
func (e *Engine) pickRange(ctx context.Context, req RecycleRequest, nref egress.NetworkRef, near string) (netip.Prefix, string, error) {
	used, warnings, err := e.Read.NetworkRanges(ctx, nref.Project, nref.Path())
	if err != nil {
		return netip.Prefix{}, "", err
	}
	for _, w := range warnings {
		e.warn(egress.Plain(w))
	}
	if req.Range.IsValid() {
		for _, u := range used {
			if ipam.Overlaps(u.Prefix, req.Range) {
				return netip.Prefix{}, "", exitcode.Errorf(exitcode.Preflight, "--range: %s overlaps %s %s (%s) in network %s; nothing was changed", req.Range, u.Kind, u.Name, u.Prefix, nref.Name)
			}
		}
		return req.Range, "", nil
	}
	prefixes := make([]netip.Prefix, 0, len(used))
	for _, u := range used {
		prefixes = append(prefixes, u.Prefix)
	}
	connSpace := ConnectorRangeSpace
	if req.Space != nil {
		connSpace = req.Space
	}
	var space, nearby []netip.Prefix
	if p, err := netip.ParsePrefix(near); err == nil && p.Addr().Is4() {
		for _, bits := range []int{24, 16} {
			if p.Bits() < bits {
				continue
			}
			cand := netip.PrefixFrom(p.Addr(), bits).Masked()
			if slices.ContainsFunc(connSpace, func(s netip.Prefix) bool { return ipam.Contains(s, cand) }) {
				space = append(space, cand)
				nearby = append(nearby, cand)
			}
		}
	}
	space = append(space, connSpace...)
	chosen, ok := ipam.FindFree(space, prefixes, ipam.ConnectorPrefix)
	if !ok {
		return netip.Prefix{}, "", exitcode.Errorf(exitcode.Preflight, "no free /%d left in network %s; give --range CIDR", ipam.ConnectorPrefix, nref.Name)
	}
	how := fmt.Sprintf("range %s: the first free /%d", chosen, ipam.ConnectorPrefix)
	if slices.ContainsFunc(nearby, func(n netip.Prefix) bool { return ipam.Contains(n, chosen) }) {
		how += " next to " + near
	} else {
		how += " in " + strings.Join(ipam.DescribeSpace(connSpace), ", ")
		if len(nearby) > 0 {
			how += fmt.Sprintf(" (none free next to %s)", near)
		}
	}
	how += fmt.Sprintf(" in network %s (overlapping none of its %d ranges)", nref.Name, len(used))
	return chosen, how, nil
}

// target is each workload's target: the new connector, its egress kept.
func (rc *Recycle) target(w *cloud.Workload) egress.VPC {
	return Keep{}.Apply(egress.VPC{Connector: rc.Request.New.FullName()}, w.VPC)
}

// DryRun plans the workloads' moves without changing anything: checked by the preflight when
// the new connector is READY already (and validated by the API); plain plans otherwise,
// whose checks run once the connector exists (Checked false).
func (e *Engine) DryRun(ctx context.Context, rc *Recycle) (ms []*Migration, checked bool) {
	if rc.Existing != nil && rc.Existing.State == cloud.ConnectorReady {
		ms := rc.fleet.Prepare(ctx, rc.Workloads, rc.target, nil)
		rc.fleet.Validate(ctx, ms)
		return ms, true
	}
	for _, w := range rc.Workloads {
		t := rc.target(w)
		m := &Migration{Ref: w.Ref, Workload: w, Target: t}
		opts := egress.PlanOptions{}
		if w.Ref.Kind == egress.KindService {
			opts.Tag = egress.DefaultRevisionTag(w.Ref.Name, egress.ModeConnector)
		}
		m.Plan = planFor(opts, w.Workload, t, nil)
		ms = append(ms, m)
	}
	return ms, false
}

// RunRecycle carries the recycle out: 1. the new connector (and its subnet), created and
// READY (ProvideConnector); 2. the workloads moved to it and 3. the old connector deleted if
// nothing uses it any more (MoveUsers). It stops after 1 when the new connector cannot be
// had (SubnetErr, ConnectorErr: the error it returns).
func (e *Engine) RunRecycle(ctx context.Context, rc *Recycle) error {
	if err := e.ProvideConnector(ctx, rc); err != nil {
		return err
	}
	e.MoveUsers(ctx, rc)
	return nil
}

// ProvideConnector creates the new connector (and first its subnet, if the recycle creates
// one) and waits until it is READY; a new connector that is READY already is used as it is.
// A failure is recorded (SubnetErr, ConnectorErr) and returned.
func (e *Engine) ProvideConnector(ctx context.Context, rc *Recycle) error {
	req := rc.Request
	if rc.CreateSubnet != nil {
		done := e.busy("Creating subnet " + rc.CreateSubnet.Ref.Name)
		_, err := e.Provision.CreateSubnet(ctx, *rc.CreateSubnet, e.waitOptions())
		done()
		if err != nil {
			rc.SubnetErr = err
			return fmt.Errorf("create subnet %s for connector %s: %w", rc.CreateSubnet.Ref.Name, req.New.Name, err)
		}
		e.info(egress.Plain(fmt.Sprintf("Created subnet %s (%s) for connector %s.", rc.CreateSubnet.Ref.Name, rc.CreateSubnet.IPCIDRRange, req.New.Name)))
	}
	if rc.Existing == nil || rc.Existing.State != cloud.ConnectorReady {
		done := e.busy("Creating connector " + rc.Spec.Ref.Name)
		conn, err := e.Provision.CreateConnector(ctx, rc.Spec, e.waitOptions())
		done()
		if err != nil {
			rc.ConnectorErr = err
			return err
		}
		rc.ConnectorState = conn.State
	}
	return nil
}

// MoveUsers moves the workloads to the new connector (which must be READY:
// ProvideConnector), with the fleet machinery, and then deletes the old connector if every
// workload moved and nothing uses it any more (OldDeleted; otherwise OldKept says why).
func (e *Engine) MoveUsers(ctx context.Context, rc *Recycle) {
	rc.Migrations = rc.fleet.Prepare(ctx, rc.Workloads, rc.target, nil)
	if ctx.Err() == nil {
		rc.fleet.Apply(ctx, rc.Migrations)
	} else {
		for _, m := range rc.Migrations {
			if m.Runnable() {
				m.Skip("interrupted before it started: nothing was changed")
			}
		}
	}
	if rc.Old != nil {
		e.retire(ctx, rc)
	}
}

// retire deletes the old connector if every workload moved and nothing uses it any more,
// and records why it was kept otherwise.
func (e *Engine) retire(ctx context.Context, rc *Recycle) {
	req := rc.Request
	var notMoved []string
	for _, m := range rc.Migrations {
		if code, _ := e.Verdict(m); code != exitcode.OK {
			notMoved = append(notMoved, m.Ref.String())
		}
	}
	keep := func(reason string, users []string) { rc.OldKept, rc.OldUsers = reason, users }
	switch {
	case len(notMoved) > 0:
		keep(fmt.Sprintf("%d of %d workloads did not move: %s", len(notMoved), len(rc.Migrations), strings.Join(notMoved, ", ")), notMoved)
		return
	case ctx.Err() != nil:
		keep("interrupted", nil)
		return
	}
	// Workloads of other projects (the connected projects, the Shared VPC service projects
	// of a host's connector), read now from what serves them: a recycle does not move them.
	users, warnings, err := e.OtherProjectUsers(ctx, req.Old)
	switch {
	case err != nil:
		keep("its users in other projects could not be checked: "+err.Error(), nil)
		return
	case len(users) > 0:
		keep(OtherProjectsKeepReason(users, req.Old, req.New))
		return
	case len(warnings) > 0:
		keep("its users in other projects could not be checked: "+strings.Join(warnings, "; "), nil)
		return
	}
	rc.Cleanup = rc.fleet.Cleanup(ctx, rc.Migrations, []string{req.Old.FullName()})
	for _, cl := range rc.Cleanup {
		if cl.Connector != req.Old.FullName() {
			continue
		}
		switch cl.Status {
		case string(egress.StepDone):
			rc.OldDeleted = true
			e.info(egress.Plain(fmt.Sprintf("Deleted connector %s.", req.Old.Name)))
		case string(egress.StepSkipped):
			keep("still used by "+strings.Join(cl.Users, ", ")+" (runnet moves templates; a revision that still serves traffic or carries a tag keeps the connector in use)", cl.Users)
		default:
			rc.OldErr = cl.Err
		}
	}
}

// RecycleVerdict is the recycle's exit status and what to say about it: that of its workloads'
// migrations and of the old connector's deletion (FleetVerdict).
func (e *Engine) RecycleVerdict(rc *Recycle) (int, egress.Message) {
	return e.FleetVerdict(rc.Migrations, rc.Cleanup)
}

// OtherProjectsKeepReason says why a recycle keeps connector old: the workloads of other
// projects that use it, project by project and how, which recycle does not move; and the
// command that moves them to new. It returns the reason and the users (PROJECT/WORKLOAD).
func OtherProjectsKeepReason(users []User, old, new egress.ConnectorRef) (string, []string) {
	desc, names := DescribeProjectUsers(users)
	projects := map[string]bool{}
	for _, u := range users {
		projects[u.Workload.Ref.Project] = true
	}
	n := len(projects)
	return fmt.Sprintf("still used by %s of %s, which recycle does not move: %s (move them with 'runnet migrate --all --from-connector %s --to connector --connector %s', then delete %s)",
		plural(len(users), "workload"), plural(n, "other project"), desc, old.FullName(), new.FullName(), old.Name), names
}

// OtherProjects are the projects other than project that the API reports as connected to
// connector conn (Shared VPC service projects), sorted.
func OtherProjects(conn *cloud.Connector, project string) []string {
	var out []string
	for _, p := range conn.ConnectedProjects {
		if p != project {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// User is a workload that uses a resource, and how (Via: "template", "revision X, 100% of
// traffic", ...).
type User struct {
	Workload *cloud.Workload
	Via      []string
}

// FindUsers lists the workloads of region in each project, reads what serves each, and keeps
// those match says use the resource (match returns how, nil when they do not), listing the
// projects concurrently. With strict, a failure to list is an error; otherwise it is
// returned as a warning and the project is skipped.
func (e *Engine) FindUsers(ctx context.Context, projects []string, region string, strict bool, match func(*egress.ServingState) []string) ([]User, []string, error) {
	return FindUsers(ctx, e.Read, projects, region, strict, match)
}

// FindUsers is Engine.FindUsers over the reader r.
func FindUsers(ctx context.Context, r WorkloadReader, projects []string, region string, strict bool, match func(*egress.ServingState) []string) ([]User, []string, error) {
	results := make([][]*cloud.Workload, len(projects))
	states := make([][]*egress.ServingState, len(projects))
	errs := make([]error, len(projects))
	var wg sync.WaitGroup
	for i, p := range projects {
		wg.Go(func() {
			results[i], errs[i] = r.ListWorkloads(ctx, p, region)
			if errs[i] == nil {
				states[i], errs[i] = r.ServingStates(ctx, results[i])
			}
		})
	}
	wg.Wait()
	var warnings []string
	users := []User{}
	for i := range projects {
		if errs[i] != nil {
			if strict {
				return nil, nil, errs[i]
			}
			warnings = append(warnings, fmt.Sprintf("workloads of project %s not checked: %v", projects[i], errs[i]))
			continue
		}
		for j, w := range results[i] {
			if via := match(states[i][j]); len(via) > 0 {
				users = append(users, User{Workload: w, Via: via})
			}
		}
	}
	return users, warnings, nil
}

// ConnectorVia says how a workload uses a connector ("template", "revision X, 100% of
// traffic", "execution X, running"); nil when it does not.
func ConnectorVia(s *egress.ServingState, ref egress.ConnectorRef) []string {
	var out []string
	for _, u := range s.ConnectorUsers(ref) {
		out = append(out, u.Via())
	}
	return out
}
