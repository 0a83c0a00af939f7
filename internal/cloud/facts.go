package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// This file gathers what the preflight checks need (egress.Facts) about switching one
// workload, with every independent lookup made concurrently.

// FactsRequest says what to gather for switching one workload.
type FactsRequest struct {
	// Workload is the workload as read.
	Workload *Workload
	// Target is the VPC access to switch to, canonical.
	Target egress.VPC
	// CreateSubnet, when set, is the subnetwork the migration creates first (Target.Subnet
	// names it): it is reported as to be created, with its range.
	CreateSubnet *egress.SubnetSpec
	// Workloads are the workloads of the workload's project and region when the caller has
	// listed them already; nil lists them.
	Workloads []*Workload
	// Moving are other workloads about to move into the target subnetwork (a fleet); they
	// count as sharing it.
	Moving []egress.SubnetUser
	// Verify is set when the migration runs a job execution to verify it (another
	// permission is needed).
	Verify bool
	// Subnet, if set, is the target subnetwork as the caller read it already (GetSubnet):
	// it is not read again. Ignored unless it is Target.Subnet.
	Subnet *Subnet
	// Ranges, with CreateSubnet, are the ranges in use in the network the subnetwork is
	// created in (RangeFacts of NetworkRanges), for the subnet-range-free check.
	Ranges *egress.RangeFacts
	// ServingUsers counts as users of the workload's current connector (ConnectorUsers)
	// the other workloads whose serving revisions, tags or running executions use it, not
	// only their templates: it costs a revision read for each revision that serves with
	// other settings than its template. Set when the plan may delete the connector.
	ServingUsers bool
}

// GatheredFacts is what GatherFacts found.
type GatheredFacts struct {
	egress.Facts
	// Notes say what could not be looked up or checked, and why.
	Notes []string
	// Workloads are the workloads of the workload's project and region.
	Workloads []*Workload
	// ConnectorUsers are the other workloads that use the workload's current connector: their
	// template, and with ServingUsers their serving revisions and running executions (for
	// the plan's cleanup step).
	ConnectorUsers []egress.WorkloadRef

	computeMissing   []string // Compute permissions found missing
	subnetServerless int64    // addresses of Cloud Run's reservations in the target subnet
}

// MigratePermissions are the Cloud Run permissions a migration of a workload of kind k needs
// on the workload itself (verify: a job execution is run too). They are what
// testIamPermissions can check; see UncheckedPermissions for the rest.
func MigratePermissions(k egress.Kind, verify bool) []string {
	switch k {
	case egress.KindJob:
		p := []string{"run.jobs.get", "run.jobs.update"}
		if verify {
			p = append(p, "run.jobs.run")
		}
		return p
	case egress.KindWorkerPool:
		return []string{"run.workerpools.get", "run.workerpools.update"}
	}
	return []string{"run.services.get", "run.services.update"}
}

// UncheckedPermissions are the other permissions a switch to target needs, which no
// testIamPermissions call covers (the runtime service account's actAs, a connector's use).
func UncheckedPermissions(target egress.VPC) []string {
	out := []string{"iam.serviceAccounts.actAs (on the workload's service account)"}
	if target.Mode() == egress.ModeConnector {
		out = append(out, "vpcaccess.connectors.use (on "+egress.ShortName(target.Connector)+")")
	}
	return out
}

// tasks runs functions concurrently.
type tasks struct{ wg sync.WaitGroup }

func (t *tasks) go_(fn func()) { t.wg.Go(fn) }
func (t *tasks) wait()         { t.wg.Wait() }

// GatherFacts looks up everything the preflight checks of switching req.Workload to
// req.Target need, concurrently: the target subnetwork (with its utilization) and network,
// the current subnetwork or connector, the target connector, the Cloud Routers and NATs of
// the target region, the firewall rules of the current network, the workloads sharing the
// target subnetwork, and the caller's permissions on the workload. A lookup that finds
// nothing is a fact (the resource does not exist); one that fails otherwise leaves its fact
// unset (its checks report skip) with a note. Only a cancelled context is an error.
func (c *Clients) GatherFacts(ctx context.Context, req FactsRequest) (*GatheredFacts, error) {
	if req.Workload == nil {
		return nil, errors.New("gather facts: no workload")
	}
	w := req.Workload
	ref := w.Ref
	out := &GatheredFacts{Facts: egress.Facts{Workload: w.Workload, Target: req.Target}}
	if req.CreateSubnet != nil {
		out.Ranges = req.Ranges
	}
	cur, curErr := w.VPC.Canonical(ref.Project, ref.Region)
	if curErr != nil {
		cur = egress.VPC{}
	}
	to := req.Target

	var mu sync.Mutex
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		out.Notes = append(out.Notes, fmt.Sprintf(format, args...))
	}
	var t tasks

	// Workloads of the region: who shares the target subnet, who uses the current connector.
	workloads := req.Workloads
	if workloads == nil {
		t.go_(func() {
			ws, err := c.ListWorkloads(ctx, ref.Project, ref.Region)
			if err != nil {
				note("the workloads sharing the subnetwork were not listed: %v", err)
				return
			}
			workloads = ws
		})
	}

	// Target: subnetwork and network (Direct VPC). A subnetwork that exists shows that its
	// network exists: the network is read only when it is another one, or when the
	// subnetwork did not answer; a subnetwork named without a network is in its own.
	if to.Mode() == egress.ModeDirect {
		sref, _ := egress.ParseSubnetRef(to.Subnet, ref.Project, ref.Region)
		network := to.Network
		if cs := req.CreateSubnet; cs != nil {
			out.Subnet = &egress.SubnetFacts{Name: sref.Path(), Region: sref.Region, Network: cs.Network, CIDR: cs.CIDR, WillCreate: true}
			if network == "" {
				network = cs.Network
			}
			if network != "" {
				t.go_(func() { out.Network = c.networkFacts(ctx, network, sref.Project, note) })
			}
		} else {
			t.go_(func() {
				s := req.Subnet
				var err error
				if s == nil || s.Path != sref.Path() {
					s, err = c.GetSubnet(ctx, sref)
				}
				switch {
				case err == nil:
					f := s.Facts()
					out.Subnet = &f
					out.subnetServerless = s.ServerlessIPs
					if network == "" || sameNetwork(network, s.NetworkPath, sref.Project) {
						if s.NetworkPath != "" {
							out.Network = shownNetwork(s.NetworkPath, sref.Project)
						}
						return
					}
				case IsNotFound(err):
					out.Subnet = &egress.SubnetFacts{Name: sref.Path(), Region: sref.Region}
				default:
					note("subnetwork %s not read: %v", sref.Name, err)
				}
				if network != "" {
					out.Network = c.networkFacts(ctx, network, sref.Project, note)
				}
			})
			t.go_(func() {
				ok, err := c.testSubnetUse(ctx, sref)
				if err != nil {
					note("permission compute.subnetworks.use on %s not checked (%s)", sref.Name, shortErr(err))
					return
				}
				if !ok {
					mu.Lock()
					defer mu.Unlock()
					out.computeMissing = append(out.computeMissing, "compute.subnetworks.use")
				}
			})
		}
	}

	// Current side: the subnetwork or the connector (firewall and cleanup facts), then the
	// firewall policies of its network when both sides use a VPC.
	// The target's network, when the request names it, is read at once (no dependent round
	// trip); otherwise today's, once the current side's read says which it is.
	policiesEarly := to.Mode() != egress.ModeNone && cur.Mode() != egress.ModeNone && to.Network != ""
	policies := func(network, project string) {
		if to.Mode() == egress.ModeNone || network == "" {
			return
		}
		fp, err := c.FirewallPolicies(ctx, network, project, ref.Region)
		if err != nil {
			note("firewall policies not read: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		out.FirewallPolicies = fp
	}
	if policiesEarly {
		t.go_(func() { policies(to.Network, ref.Project) })
	}
	switch cur.Mode() {
	case egress.ModeDirect:
		t.go_(func() {
			sref, _ := egress.ParseSubnetRef(cur.Subnet, ref.Project, ref.Region)
			network := cur.Network
			if s, err := c.GetSubnet(ctx, sref); err == nil {
				f := s.Facts()
				out.CurrentSubnet = &f
				if network == "" {
					network = s.NetworkPath
				}
			} else if !IsNotFound(err) {
				note("current subnetwork %s not read: %v", sref.Name, err)
			}
			if !policiesEarly {
				policies(network, sref.Project)
			}
		})
	case egress.ModeConnector:
		t.go_(func() {
			out.CurrentConnector = c.connectorFacts(ctx, cur.Connector, ref, note)
			if fc := out.CurrentConnector; fc != nil && fc.Exists && !policiesEarly {
				cref, _ := egress.ParseConnectorRef(cur.Connector, ref.Project, ref.Region)
				policies(fc.Network, cref.Project)
			}
		})
	}
	if to.Mode() == egress.ModeConnector {
		t.go_(func() { out.TargetConnector = c.connectorFacts(ctx, to.Connector, ref, note) })
	}

	// Cloud NAT in the target region (egress all-traffic; Direct VPC egress for the NAT
	// ports and Private Google Access), and on today's path (egress all-traffic: the
	// addresses the internet sees today); one list when both are in the same project.
	natProject := func(v egress.VPC) string {
		switch v.Mode() {
		case egress.ModeDirect:
			if s, err := egress.ParseSubnetRef(v.Subnet, ref.Project, ref.Region); err == nil {
				return s.Project
			}
		case egress.ModeConnector:
			if cr, err := egress.ParseConnectorRef(v.Connector, ref.Project, ref.Region); err == nil {
				return cr.Project
			}
		}
		return ref.Project
	}
	routers := func(project string, dst **egress.NATFacts, also ...**egress.NATFacts) {
		t.go_(func() {
			rs, err := c.ListRouters(ctx, project, ref.Region)
			if err != nil {
				note("Cloud Routers not listed in project %s: %v", project, err)
				return
			}
			nf := &egress.NATFacts{Routers: rs}
			mu.Lock()
			defer mu.Unlock()
			*dst = nf
			for _, a := range also {
				*a = nf
			}
		})
	}
	wantNew := to.Mode() == egress.ModeDirect || (to.Mode() != egress.ModeNone && to.Egress.IsAllTraffic())
	wantCur := cur.Mode() != egress.ModeNone && cur.Egress.IsAllTraffic()
	switch {
	case wantNew && wantCur && natProject(to) == natProject(cur):
		routers(natProject(to), &out.NAT, &out.CurrentNAT)
	default:
		if wantNew {
			routers(natProject(to), &out.NAT)
		}
		if wantCur {
			routers(natProject(cur), &out.CurrentNAT)
		}
	}

	// The Direct VPC egress instance quota of the workload's project and region.
	if to.Mode() == egress.ModeDirect {
		t.go_(func() {
			q, err := c.DirectVPCQuota(ctx, ref.Project, ref.Region)
			if err != nil {
				note("the Direct VPC egress quota was not read (%s): the default of %d instances is assumed", shortErr(err), egress.DefaultDirectVPCInstanceQuota)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			out.Quota = q
		})
	}

	// Firewall rules of the current network's project (both sides use a VPC).
	if cur.Mode() != egress.ModeNone && to.Mode() != egress.ModeNone {
		project := ref.Project
		switch cur.Mode() {
		case egress.ModeDirect:
			if s, err := egress.ParseSubnetRef(cur.Subnet, ref.Project, ref.Region); err == nil {
				project = s.Project
			}
			if cur.Network != "" {
				if n, err := egress.ParseNetworkRef(cur.Network, ref.Project); err == nil {
					project = n.Project
				}
			}
		case egress.ModeConnector:
			if cr, err := egress.ParseConnectorRef(cur.Connector, ref.Project, ref.Region); err == nil {
				project = cr.Project
			}
		}
		t.go_(func() {
			rules, err := c.ListFirewalls(ctx, project, "")
			if err != nil {
				note("firewall rules not listed: %v", err)
				return
			}
			out.Firewall = &egress.FirewallFacts{Rules: rules}
		})
	}

	// Cloud Run's service agent on a target in another project (facts_serviceagent.go).
	c.gatherServiceAgent(ctx, &t, ref, to, out, note)

	// The caller's permissions on the workload.
	perms := MigratePermissions(ref.Kind, req.Verify)
	t.go_(func() {
		granted, err := c.TestWorkloadPermissions(ctx, ref, perms)
		if err != nil {
			note("permissions not checked (%s)", shortErr(err))
			return
		}
		pf := &egress.PermissionFacts{Checked: perms}
		for _, p := range perms {
			if !slices.Contains(granted, p) {
				pf.Missing = append(pf.Missing, p)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		out.Permissions = pf
	})

	t.wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if out.Permissions != nil && len(out.computeMissing) > 0 {
		out.Permissions.Checked = append(out.Permissions.Checked, out.computeMissing...)
		out.Permissions.Missing = append(out.Permissions.Missing, out.computeMissing...)
	} else if out.Permissions != nil && to.Mode() == egress.ModeDirect && req.CreateSubnet == nil && !slices.ContainsFunc(out.Notes, func(n string) bool {
		return strings.HasPrefix(n, "permission compute.subnetworks.use")
	}) {
		out.Permissions.Checked = append(out.Permissions.Checked, "compute.subnetworks.use")
	}
	out.Workloads = workloads
	out.sharing(req, cur)
	out.connectorUsers(cur)
	if req.ServingUsers && cur.Mode() == egress.ModeConnector && workloads != nil {
		if err := c.servingConnectorUsers(ctx, out, cur); err != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("the revisions that serve the other workloads were not read (%s); the connector is checked again before it is deleted", shortErr(err)))
		}
	}
	slices.Sort(out.Notes)
	return out, nil
}

// sharing fills Facts.Sharing and Subnet.SharedReservedIPs.
func (g *GatheredFacts) sharing(req FactsRequest, cur egress.VPC) {
	to := req.Target
	if to.Mode() != egress.ModeDirect {
		return
	}
	ref := req.Workload.Ref
	self := ref.FullName()
	seen := map[string]bool{self: true}
	blocks := 0
	for _, w := range g.Workloads {
		if seen[w.Ref.FullName()] || w.VPC.Mode() != egress.ModeDirect {
			continue
		}
		v, err := w.VPC.Canonical(w.Ref.Project, w.Ref.Region)
		if err != nil || v.Subnet != to.Subnet {
			continue
		}
		seen[w.Ref.FullName()] = true
		g.Sharing = append(g.Sharing, egress.SubnetUser{Ref: w.Ref, MaxInstances: w.MaxInstances, AllTraffic: v.Egress.IsAllTraffic()})
		blocks += ipam.BlocksForInstances(w.EffectiveMaxInstances())
	}
	for _, u := range req.Moving {
		if seen[u.Ref.FullName()] {
			continue
		}
		seen[u.Ref.FullName()] = true
		g.Sharing = append(g.Sharing, u)
	}
	if cur.Mode() == egress.ModeDirect && cur.Subnet == to.Subnet {
		blocks += ipam.BlocksForInstances(req.Workload.EffectiveMaxInstances())
	}
	// Cloud Run's reservations in the subnet are held by the workloads that use it; those are
	// counted at their maximum scale, so their reservations (up to that) are not counted again.
	if s := g.Subnet; s != nil && s.Exists && blocks > 0 && g.subnetServerless > 0 {
		s.SharedReservedIPs = min(g.subnetServerless, int64(blocks*ipam.DirectVPCBlockSize))
	}
}

// connectorUsers fills ConnectorUsers: the other workloads whose template uses the current
// connector.
func (g *GatheredFacts) connectorUsers(cur egress.VPC) {
	if cur.Mode() != egress.ModeConnector {
		return
	}
	conn, err := egress.ParseConnectorRef(cur.Connector, "", "")
	if err != nil {
		return
	}
	for _, w := range g.Workloads {
		if w.Ref != g.Workload.Ref && w.UsesConnector(conn) {
			g.ConnectorUsers = append(g.ConnectorUsers, w.Ref)
		}
	}
}

// servingConnectorUsers adds to ConnectorUsers the other workloads that use the connector
// through what serves them (revisions, tags, running executions).
func (c *Clients) servingConnectorUsers(ctx context.Context, g *GatheredFacts, cur egress.VPC) error {
	conn, err := egress.ParseConnectorRef(cur.Connector, "", "")
	if err != nil {
		return nil
	}
	var others []*Workload
	for _, w := range g.Workloads {
		if w.Ref != g.Workload.Ref && !slices.Contains(g.ConnectorUsers, w.Ref) {
			others = append(others, w)
		}
	}
	states, err := c.ServingStates(ctx, others)
	if err != nil {
		return err
	}
	for i, s := range states {
		if s.UsesConnector(conn) {
			g.ConnectorUsers = append(g.ConnectorUsers, others[i].Ref)
		}
	}
	return nil
}

// sameNetwork reports whether two network names (names or paths; short names in project)
// are the same network.
func sameNetwork(a, b, project string) bool {
	ra, err := egress.ParseNetworkRef(a, project)
	if err != nil {
		return false
	}
	rb, err := egress.ParseNetworkRef(b, project)
	return err == nil && ra.Path() == rb.Path()
}

// shownNetwork is the network of a subnetwork that exists (its path as the subnetwork
// shows it): it exists too, with no need to read it.
func shownNetwork(path, project string) *egress.NetworkFacts {
	nref, err := egress.ParseNetworkRef(path, project)
	if err != nil {
		return nil
	}
	return &egress.NetworkFacts{Name: nref.Path(), Exists: true}
}

// networkFacts reads a network (name or path; short names in project).
func (c *Clients) networkFacts(ctx context.Context, name, project string, note func(string, ...any)) *egress.NetworkFacts {
	nref, err := egress.ParseNetworkRef(name, project)
	if err != nil {
		return nil
	}
	_, err = c.GetNetwork(ctx, nref)
	switch {
	case err == nil:
		return &egress.NetworkFacts{Name: nref.Path(), Exists: true}
	case IsNotFound(err):
		return &egress.NetworkFacts{Name: nref.Path()}
	}
	note("network %s not read: %v", nref.Name, err)
	return nil
}

// connectorFacts reads a connector (and the range and network of its subnetwork, when it was
// made in one).
func (c *Clients) connectorFacts(ctx context.Context, name string, ref egress.WorkloadRef, note func(string, ...any)) *egress.ConnectorFacts {
	cref, err := egress.ParseConnectorRef(name, ref.Project, ref.Region)
	if err != nil {
		return nil
	}
	conn, err := c.GetConnector(ctx, cref)
	switch {
	case IsNotFound(err):
		return &egress.ConnectorFacts{Name: cref.FullName(), Region: cref.Region}
	case err != nil:
		note("connector %s not read: %v", cref.Name, err)
		return nil
	}
	f := conn.Facts("")
	if p := conn.SubnetPath(); p != "" {
		if sref, err := egress.ParseSubnetRef(p, conn.Project, conn.Region); err == nil {
			if cidr, network, pga, err := c.subnetRange(ctx, sref); err == nil {
				f.SubnetCIDR, f.SubnetPrivateGoogleAccess = cidr, pga
				if f.Network == "" {
					f.Network = network
				}
			}
		}
	}
	return &f
}

// TestWorkloadPermissions returns which of perms the caller holds on a workload
// (testIamPermissions on the service, job or worker pool).
func (c *Clients) TestWorkloadPermissions(ctx context.Context, ref egress.WorkloadRef, perms []string) ([]string, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	req := &iampb.TestIamPermissionsRequest{Resource: ref.FullName(), Permissions: perms}
	var resp *iampb.TestIamPermissionsResponse
	err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		switch ref.Kind {
		case egress.KindJob:
			cl, cerr := c.Jobs()
			if cerr != nil {
				return cerr
			}
			resp, err = cl.TestIamPermissions(ctx, req, noGaxRetry)
		case egress.KindWorkerPool:
			cl, cerr := c.WorkerPools()
			if cerr != nil {
				return cerr
			}
			resp, err = cl.TestIamPermissions(ctx, req, noGaxRetry)
		default:
			cl, cerr := c.Services()
			if cerr != nil {
				return cerr
			}
			resp, err = cl.TestIamPermissions(ctx, req, noGaxRetry)
		}
		return err
	})
	if err != nil {
		return nil, apiErr("test permissions on "+describeRef(ref), err)
	}
	return resp.GetPermissions(), nil
}

// subnetRange reads a subnetwork's primary range, network (its path) and Private Google
// Access alone: no utilization view, no list of the region's addresses (GetSubnet has both).
func (c *Clients) subnetRange(ctx context.Context, ref egress.SubnetRef) (cidr, network string, pga bool, err error) {
	if err := checkNames(ref); err != nil {
		return "", "", false, err
	}
	cs, err := c.Compute()
	if err != nil {
		return "", "", false, err
	}
	sn, err := computeRead(ctx, func(ctx context.Context) (*compute.Subnetwork, error) {
		return cs.Subnetworks.Get(ref.Project, ref.Region, ref.Name).Fields("ipCidrRange", "network", "privateIpGoogleAccess").Context(ctx).Do()
	})
	if err != nil {
		return "", "", false, computeErr(fmt.Sprintf("read subnet %q", ref.Name), err)
	}
	return sn.IpCidrRange, trimComputeURL(sn.Network), sn.PrivateIpGoogleAccess, nil
}

// testSubnetUse asks Compute whether the caller may use a subnetwork
// (subnetworks.testIamPermissions for compute.subnetworks.use).
func (c *Clients) testSubnetUse(ctx context.Context, ref egress.SubnetRef) (bool, error) {
	if err := checkNames(ref); err != nil {
		return false, err
	}
	cs, err := c.Compute()
	if err != nil {
		return false, err
	}
	resp, err := computeRead(ctx, func(ctx context.Context) (*compute.TestPermissionsResponse, error) {
		return cs.Subnetworks.TestIamPermissions(ref.Project, ref.Region, ref.Name,
			&compute.TestPermissionsRequest{Permissions: []string{"compute.subnetworks.use"}}).Context(ctx).Do()
	})
	if err != nil {
		return false, err
	}
	return slices.Contains(resp.Permissions, "compute.subnetworks.use"), nil
}

// shortErr is an API error in a few words, for notes.
func shortErr(err error) string {
	if ge, ok := googleAPIError(err); ok {
		if len(ge.Errors) > 0 && ge.Errors[0].Reason != "" {
			return fmt.Sprintf("HTTP %d, %s", ge.Code, ge.Errors[0].Reason)
		}
		return fmt.Sprintf("HTTP %d", ge.Code)
	}
	if s, ok := status.FromError(statusErrOf(err)); ok {
		return fmt.Sprintf("%s: %s", rpcCodeName(s.Code()), s.Message())
	}
	return err.Error()
}

// TargetFacts looks up what egress.RunTargetChecks needs to know about switching w to
// target (canonical): the target subnetwork (one read: its range, network, region and
// purpose) or the target connector (one read), concurrently with nothing else. A target that
// does not exist is a fact; any other failed read is an error, so that a change is never made
// on settings that could not be checked.
func (c *Clients) TargetFacts(ctx context.Context, w *Workload, target egress.VPC) (*egress.Facts, error) {
	ref := w.Ref
	f := &egress.Facts{Workload: w.Workload, Target: target}
	// Cloud Run's service agent on a target in another project, alongside the read of the
	// target; a failed read leaves the check out.
	agent := make(chan *egress.ServiceAgentFacts, 1)
	go func() {
		sa, _ := c.ServiceAgentFacts(ctx, ref, target)
		agent <- sa
	}()
	defer func() {
		if f != nil {
			f.ServiceAgent = <-agent
		}
	}()
	switch target.Mode() {
	case egress.ModeDirect:
		sref, err := egress.ParseSubnetRef(target.Subnet, ref.Project, ref.Region)
		if err != nil {
			return f, nil // RunTargetChecks reports the bad name
		}
		s, err := c.subnetFacts(ctx, sref)
		switch {
		case err == nil:
			f.Subnet = s
			if s.Network != "" {
				f.Network = shownNetwork(s.Network, sref.Project)
			}
		case IsNotFound(err):
			f.Subnet = &egress.SubnetFacts{Name: sref.Path(), Region: sref.Region}
		default:
			return nil, err
		}
	case egress.ModeConnector:
		cref, err := egress.ParseConnectorRef(target.Connector, ref.Project, ref.Region)
		if err != nil {
			return f, nil
		}
		conn, err := c.GetConnector(ctx, cref)
		switch {
		case err == nil:
			cf := conn.Facts("")
			f.TargetConnector = &cf
		case IsNotFound(err):
			f.TargetConnector = &egress.ConnectorFacts{Name: cref.FullName(), Region: cref.Region}
		default:
			return nil, err
		}
	}
	return f, nil
}

// subnetFacts reads what the target checks need of a subnetwork, in one call: its range,
// network, region, purpose and utilization (the addresses reserved in it).
func (c *Clients) subnetFacts(ctx context.Context, ref egress.SubnetRef) (*egress.SubnetFacts, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	sn, err := computeRead(ctx, func(ctx context.Context) (*compute.Subnetwork, error) {
		return cs.Subnetworks.Get(ref.Project, ref.Region, ref.Name).Views(ViewWithUtilization).
			Fields("name", "region", "network", "ipCidrRange", "purpose", "utilizationDetails").Context(ctx).Do()
	})
	if err != nil {
		return nil, computeErr(fmt.Sprintf("read subnet %q", ref.Name), err)
	}
	if sn.Region == "" {
		sn.Region = ref.Region
	}
	if sn.Name == "" {
		sn.Name = ref.Name
	}
	s := subnetFromCompute(ref.Project, sn, nil)
	fs := s.Facts()
	fs.ReservedKnown = s.ReservedSource == ReservedFromUtilization
	return &fs, nil
}
