package migration

import (
	"context"
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

// TargetRequest says what to migrate and where to, as the user gave it: the workloads, and
// the target settings, some of which may be left for the engine to infer.
type TargetRequest struct {
	// Workloads are the workloads to migrate. With FromConnector, they are instead every
	// workload of its project and region that uses that connector (its template, a revision
	// that receives traffic or carries a tag, or a running job execution).
	Workloads     []egress.WorkloadRef
	FromConnector *egress.ConnectorRef
	// Scope, with FromConnector, names the projects to look for its users in; nil: the
	// connector's project and every project that may use it (connected projects, and the
	// Shared VPC service projects of a host).
	Scope *cloud.Scope
	// Project and Region are the workloads': short names of the target are looked up there.
	Project, Region string

	// Mode is the target mode.
	Mode egress.Mode
	// Connector is the target connector (ModeConnector).
	Connector egress.ConnectorRef
	// Network and Subnet are the Direct VPC egress network and subnetwork, as canonical
	// paths; "" leaves them to infer: the network is the subnet's, else the one the
	// workloads reach today (their connector's or their subnet's); the subnet is the only
	// one of that network and region that fits.
	Network, Subnet string
	// CreateSubnet creates the subnetwork first: named SubnetName (default NETWORK-direct),
	// in Range or, when Range is not valid, in the first free range of Prefix length (0: the
	// smallest that holds the workloads at their maximum scale).
	CreateSubnet bool
	SubnetName   string
	Range        netip.Prefix
	Prefix       int
	// Keep says which current settings each workload keeps (egress, network tags).
	Keep Keep
}

// Single reports whether the request is one named workload (its report, its plan with the
// subnet creation and the cleanup in it).
func (r TargetRequest) Single() bool { return r.FromConnector == nil && len(r.Workloads) == 1 }

// Keep says which of a workload's current settings its new VPC access keeps: the egress
// setting, unless Egress is set (a workload without VPC access gets private-ranges-only);
// and, for Direct VPC egress, the network tags it has when it uses Direct VPC egress
// already, unless TagsSet (then Tags) or ClearTags (none). It is the one place of that rule,
// for attach and migrate alike.
type Keep struct {
	Egress    egress.Egress
	Tags      []string
	TagsSet   bool
	ClearTags bool
}

// Apply is target with the egress and network tags kept from cur, the settings the
// workload has now (canonical when they parse). A target without VPC access stays none.
func (k Keep) Apply(target, cur egress.VPC) egress.VPC {
	if target.Mode() == egress.ModeNone {
		return egress.VPC{}
	}
	v := target
	switch {
	case k.Egress != egress.EgressUnset:
		v.Egress = k.Egress
	case cur.Mode() != egress.ModeNone:
		v.Egress = cur.Egress.Normalize()
	default:
		v.Egress = egress.EgressPrivateRangesOnly
	}
	v.Tags = slices.Clone(v.Tags)
	if v.Mode() == egress.ModeDirect {
		switch {
		case k.TagsSet:
			v.Tags = slices.Clone(k.Tags)
		case k.ClearTags:
			v.Tags = nil
		case cur.Mode() == egress.ModeDirect:
			v.Tags = slices.Clone(cur.Tags)
		}
	}
	return v
}

// resolvedTarget is the target shared by every workload, and how each gets its own.
type resolvedTarget struct {
	req    TargetRequest
	base   egress.VPC         // connector, or network and subnet, canonical
	create *egress.SubnetSpec // the subnet to create first, if any
	note   string             // how the target was inferred, if it was
	subnet *cloud.Subnet      // the Subnet as read, if it was (the preflight reuses it)
	ranges *egress.RangeFacts // the ranges in use in the network of the subnet to create
}

// subnetRead is the read of the Subnet started by startSubnetRead.
type subnetRead struct {
	done   chan struct{}
	subnet *cloud.Subnet
	err    error
}

// startSubnetRead starts reading the Subnet of a migration to Direct VPC egress (not one
// CreateSubnet makes): it depends on the request alone, so it runs while the workloads are
// read. nil when there is nothing to read.
func (e *Engine) startSubnetRead(ctx context.Context, req TargetRequest) *subnetRead {
	if req.Mode != egress.ModeDirect || req.Subnet == "" || req.CreateSubnet {
		return nil
	}
	sref, err := egress.ParseSubnetRef(req.Subnet, req.Project, req.Region)
	if err != nil {
		return nil
	}
	r := &subnetRead{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.subnet, r.err = e.Read.GetSubnet(ctx, sref)
	}()
	return r
}

// wait waits for the read to end (nil: no read).
func (r *subnetRead) wait() {
	if r != nil {
		<-r.done
	}
}

// servingVPC is the VPC access that serves w (the template's when that is not known),
// canonical when it parses.
func servingVPC(w *cloud.Workload) egress.VPC {
	v := w.VPC
	if w.Serving != nil {
		v = w.Serving.VPC()
	}
	if c, err := v.Canonical(w.Ref.Project, w.Ref.Region); err == nil {
		return c
	}
	return v
}

// forWorkload is a workload's own target: the shared one with its egress and network tags
// kept from what serves it (Keep).
func (t *resolvedTarget) forWorkload(w *cloud.Workload) egress.VPC {
	v := t.req.Keep.Apply(t.base, servingVPC(w))
	if v.Mode() == egress.ModeDirect {
		if c, err := v.Canonical(w.Ref.Project, w.Ref.Region); err == nil {
			v = c
		}
	}
	return v
}

// resolveTarget works out the shared target: the connector; or the Direct VPC network (the
// request's, the subnet's, or the one the workloads use now) and subnet (the request's, one
// to create, or the only suitable one).
func (e *Engine) resolveTarget(ctx context.Context, req TargetRequest, ws []*cloud.Workload, sub *subnetRead) (*resolvedTarget, error) {
	t := &resolvedTarget{req: req}
	switch req.Mode {
	case egress.ModeNone:
		return t, nil
	case egress.ModeConnector:
		t.base = egress.VPC{Connector: req.Connector.FullName()}
		return t, nil
	}
	network, subnet := req.Network, req.Subnet
	var notes []string

	// The network (the subnet's, read by startSubnetRead).
	if sub != nil {
		sub.wait()
		switch {
		case sub.err == nil:
			t.subnet = sub.subnet
			if network == "" {
				network = sub.subnet.NetworkPath
			}
		case network == "" && !cloud.IsNotFound(sub.err):
			return nil, sub.err
		}
		// A subnet that does not exist: leave the network out; the preflight says so. One
		// that could not be read while the request names the network: the preflight reads
		// it again.
	}
	if network == "" && subnet == "" || network == "" && req.CreateSubnet {
		n, how, err := e.inferNetwork(ctx, ws)
		if err != nil {
			return nil, err
		}
		network = n
		if how != "" {
			notes = append(notes, how)
		}
	}

	// The subnet.
	need := 0
	for _, w := range ws {
		need += ipam.BlocksForInstances(w.EffectiveMaxInstances()) * egress.RolloutOverlapFactor
	}
	switch {
	case req.CreateSubnet:
		spec, how, err := e.subnetToCreate(ctx, req, network, need)
		if err != nil {
			return nil, err
		}
		subnet = spec.Name
		if how != "" {
			notes = append(notes, how)
		}
		if !spec.exists {
			t.create = &egress.SubnetSpec{Name: spec.Name, Network: network, CIDR: spec.CIDR, AutoPrefix: spec.auto}
			t.ranges = spec.ranges
		}
	case subnet == "":
		s, how, err := e.inferSubnet(ctx, req, network, need)
		if err != nil {
			return nil, err
		}
		subnet = s
		notes = append(notes, how)
	}
	t.base = egress.VPC{Network: network, Subnet: subnet}
	t.note = strings.Join(notes, "; ")
	return t, nil
}

// inferNetwork finds the network the workloads reach today: their connector's, or their
// Direct VPC subnet's. They must all use the same one.
func (e *Engine) inferNetwork(ctx context.Context, ws []*cloud.Workload) (string, string, error) {
	type source struct{ network, from string }
	found := map[string][]string{}
	var none []string
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	results := make([]source, len(ws))
	for i, w := range ws {
		cur := servingVPC(w) // the network the workload reaches today
		switch cur.Mode() {
		case egress.ModeDirect:
			if cur.Network != "" {
				results[i] = source{cur.Network, "its subnet"}
				continue
			}
			wg.Go(func() {
				sref, _ := egress.ParseSubnetRef(cur.Subnet, w.Ref.Project, w.Ref.Region)
				s, err := e.Read.GetSubnet(ctx, sref)
				if err == nil {
					results[i] = source{s.NetworkPath, "its subnet " + s.Name}
				}
			})
		case egress.ModeConnector:
			wg.Go(func() {
				cref, _ := egress.ParseConnectorRef(cur.Connector, w.Ref.Project, w.Ref.Region)
				conn, err := e.Read.GetConnector(ctx, cref)
				if err != nil {
					mu.Lock()
					if firstErr == nil && !cloud.IsNotFound(err) {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				n := NetworkPath(conn.Network, conn.Project)
				if n == "" {
					if p := conn.SubnetPath(); p != "" {
						sref, _ := egress.ParseSubnetRef(p, conn.Project, conn.Region)
						if s, err := e.Read.GetSubnet(ctx, sref); err == nil {
							n = s.NetworkPath
						}
					}
				}
				if n != "" {
					results[i] = source{n, "its connector " + conn.Name}
				}
			})
		}
	}
	wg.Wait()
	if firstErr != nil {
		return "", "", firstErr
	}
	for i, w := range ws {
		if results[i].network == "" {
			none = append(none, w.Ref.String())
			continue
		}
		found[results[i].network] = append(found[results[i].network], w.Ref.String())
	}
	switch {
	case len(found) == 0:
		return "", "", exitcode.Usagef("--network is needed: %s has no connector or Direct VPC subnet to take the network from", strings.Join(none, ", "))
	case len(found) > 1:
		var parts []string
		for n, who := range found {
			parts = append(parts, fmt.Sprintf("%s (%s)", egress.ShortName(n), strings.Join(who, ", ")))
		}
		sort.Strings(parts)
		return "", "", exitcode.Usagef("--network is needed: the workloads reach different networks: %s", strings.Join(parts, ", "))
	}
	for n := range found {
		how := fmt.Sprintf("network %s: the one %s reaches today", egress.ShortName(n), strings.Join(found[n], ", "))
		if len(ws) == 1 {
			how = fmt.Sprintf("network %s: the one %s reaches today (%s)", egress.ShortName(n), ws[0].Ref, results[0].from)
		}
		return n, how, nil
	}
	return "", "", nil
}

// NetworkPath is the canonical path of network n (a name, path or URL; a short name in
// project), or "" when it does not parse.
func NetworkPath(n, project string) string {
	if n == "" {
		return ""
	}
	if r, err := egress.ParseNetworkRef(n, project); err == nil {
		return r.Path()
	}
	return ""
}

// inferSubnet picks the only subnet of network in the region that can take need /28 blocks.
func (e *Engine) inferSubnet(ctx context.Context, req TargetRequest, network string, need int) (string, string, error) {
	nref, err := egress.ParseNetworkRef(network, req.Project)
	if err != nil {
		return "", "", exitcode.Usagef("--network: %v", err)
	}
	subs, err := e.Read.ListSubnets(ctx, nref.Project, req.Region)
	if err != nil {
		return "", "", err
	}
	var fit, small []string
	for _, s := range subs {
		if s.NetworkPath != nref.Path() || (s.Purpose != "" && s.Purpose != "PRIVATE") || !s.DirectVPCEligible {
			continue
		}
		if s.FreeBlocks < need {
			small = append(small, fmt.Sprintf("%s (%s, %d free /28 blocks)", s.Name, s.IPCIDRRange, s.FreeBlocks))
			continue
		}
		fit = append(fit, s.Path)
	}
	switch len(fit) {
	case 1:
		return fit[0], fmt.Sprintf("subnet %s: the only subnet of network %s in %s with the %d free /28 blocks needed", egress.ShortName(fit[0]), nref.Name, req.Region, need), nil
	case 0:
		msg := fmt.Sprintf("--subnet is needed: network %s has no subnet in %s that fits (/%d or larger with %d free /28 blocks)", nref.Name, req.Region, ipam.DirectVPCMinPrefix, need)
		if len(small) > 0 {
			msg += "; too full: " + strings.Join(small, ", ")
		}
		return "", "", exitcode.Errorf(exitcode.Preflight, "%s; create one with --create-subnet", msg)
	}
	names := make([]string, 0, len(fit))
	for _, f := range fit {
		names = append(names, egress.ShortName(f))
	}
	return "", "", exitcode.Usagef("--subnet is needed: network %s has %d subnets in %s that fit: %s; name one", nref.Name, len(fit), req.Region, strings.Join(names, ", "))
}

type subnetChoice struct {
	Name   string // path
	CIDR   string
	exists bool
	// auto is the prefix length of a range picked free (0 for a range given).
	auto int
	// ranges are the ranges in use in the network, for the subnet-range-free check.
	ranges *egress.RangeFacts
}

// DefaultSubnetName is the name of the subnet a migration creates in network when none is
// given: NETWORK-direct.
func DefaultSubnetName(network string) string {
	n := egress.ShortName(network)
	const suffix = "-direct"
	if len(n)+len(suffix) > egress.MaxComputeNameLength {
		n = strings.TrimRight(n[:egress.MaxComputeNameLength-len(suffix)], "-")
	}
	return n + suffix
}

// AutoRangeSpace is where a free range for a subnet is looked for, in order: RFC 1918.
var AutoRangeSpace = ipam.RFC1918

// subnetToCreate names and sizes the subnet the migration creates; a subnet of that name in
// the same network is used as it is (a repeated command).
func (e *Engine) subnetToCreate(ctx context.Context, req TargetRequest, network string, need int) (subnetChoice, string, error) {
	nref, err := egress.ParseNetworkRef(network, req.Project)
	if err != nil {
		return subnetChoice{}, "", exitcode.Usagef("--network: %v", err)
	}
	name := req.SubnetName
	if name == "" {
		name = DefaultSubnetName(network)
	}
	sref := egress.SubnetRef{Project: nref.Project, Region: req.Region, Name: name}
	if req.Subnet != "" {
		sref, _ = egress.ParseSubnetRef(req.Subnet, nref.Project, req.Region)
	}
	cur, err := e.Read.GetSubnet(ctx, sref)
	switch {
	case err == nil:
		if cur.NetworkPath != nref.Path() {
			return subnetChoice{}, "", exitcode.Errorf(exitcode.Conflict, "--create-subnet: subnet %s already exists in network %s, not %s; pick another --subnet name", name, cur.Network, nref.Name)
		}
		if req.Range.IsValid() && cur.IPCIDRRange != req.Range.String() {
			return subnetChoice{}, "", exitcode.Errorf(exitcode.Conflict, "--create-subnet: subnet %s already exists with range %s, not %s", name, cur.IPCIDRRange, req.Range)
		}
		return subnetChoice{Name: sref.Path(), CIDR: cur.IPCIDRRange, exists: true},
			fmt.Sprintf("subnet %s already exists in network %s (%s): using it", name, nref.Name, cur.IPCIDRRange), nil
	case !cloud.IsNotFound(err):
		return subnetChoice{}, "", err
	}
	// Every range in use in the network, VPC-wide: a free range is picked around them, and
	// the preflight checks that a given range overlaps none of them (subnet-range-free).
	used, warnings, err := e.Read.NetworkRanges(ctx, nref.Project, nref.Path())
	if err != nil {
		return subnetChoice{}, "", err
	}
	for _, w := range warnings {
		e.warn(egress.Plain(w))
	}
	ranges := cloud.RangeFacts(used, AutoRangeSpace)
	if req.Range.IsValid() {
		return subnetChoice{Name: sref.Path(), CIDR: req.Range.String(), ranges: ranges}, "", nil
	}
	prefix := req.Prefix
	if prefix == 0 {
		prefix = smallestPrefixFor(need)
	}
	prefixes := make([]netip.Prefix, 0, len(used))
	for _, u := range used {
		prefixes = append(prefixes, u.Prefix)
	}
	chosen, ok := ipam.FindFree(AutoRangeSpace, prefixes, prefix)
	if !ok {
		return subnetChoice{}, "", exitcode.Errorf(exitcode.Preflight, "--create-subnet: no free /%d range left in RFC 1918 space in network %s; give --range CIDR", prefix, nref.Name)
	}
	how := fmt.Sprintf("subnet %s will be created in range %s: the first free /%d in network %s", name, chosen, prefix, nref.Name)
	if req.Prefix == 0 {
		how += fmt.Sprintf(" (the smallest that holds the %d /28 blocks needed)", need)
	}
	return subnetChoice{Name: sref.Path(), CIDR: chosen.String(), auto: prefix, ranges: ranges}, how, nil
}

// smallestPrefixFor is the longest prefix, /26 or shorter, whose subnet holds need blocks.
func smallestPrefixFor(need int) int {
	for b := ipam.DirectVPCMinPrefix; b > ipam.MinSubnetPrefix; b-- {
		if ipam.Blocks(netip.PrefixFrom(netip.IPv4Unspecified(), b)) >= need {
			return b
		}
	}
	return ipam.MinSubnetPrefix
}
