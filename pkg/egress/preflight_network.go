package egress

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The checks of the network underneath a switch: the addresses the internet sees (Cloud
// NAT), NAT ports at maximum scale, Private Google Access, firewall policies, the Direct VPC
// start-up delay, and the connector machine type.

// The network check names (see CheckNames).
const (
	// CheckNATEgressIP: the internet keeps seeing the same source addresses: the manual NAT
	// addresses of the gateway on today's path and of the one on the new path. Fails
	// instead of warning with Facts.KeepEgressIP.
	CheckNATEgressIP = "nat-egress-ip"
	// CheckNATPorts: the NAT gateway on the new subnetwork has the ports its instances need
	// at maximum scale; warns on a gateway that serves a subnetwork whose workloads send it
	// no internet traffic.
	CheckNATPorts = "nat-ports"
	// CheckPrivateGoogleAccess: Google APIs stay reachable: Private Google Access on the new
	// subnetwork when the egress is all-traffic.
	CheckPrivateGoogleAccess = "private-google-access"
	// CheckFirewallPolicies: hierarchical and network firewall policies, evaluated with the
	// VPC firewall rules by priority, decide today's and the new traffic alike.
	CheckFirewallPolicies = "firewall-policies"
	// CheckStartupProbe: a service moving to Direct VPC egress has an HTTP startup probe, so
	// its instances take requests only once their egress connects.
	CheckStartupProbe = "startup-probe"
	// CheckConnectorMachineType: the connector's machine type holds production packet rates.
	CheckConnectorMachineType = "connector-machine-type"
)

// Cloud NAT port arithmetic. Cloud NAT docs, "Ports and addresses": each NAT IP address
// offers 64,512 source ports (65,536 less the 1,024 well-known ones) per protocol; each VM (a
// Cloud Run instance with Direct VPC egress, a connector VM) is given minPortsPerVm, 64 by
// default with static port allocation and 32 with dynamic port allocation.
const (
	NATPortsPerIP             = 64512
	NATDefaultMinPortsPerVM   = 64
	NATDefaultMinPortsDynamic = 32
)

// Compute's values of NAT.NATIPAllocateOption.
const (
	NATAutoOnly   = "AUTO_ONLY"
	NATManualOnly = "MANUAL_ONLY"
)

// Manual reports whether the gateway uses addresses it was given (natIps) rather than
// addresses Google allocates and may change.
func (n NAT) Manual() bool { return n.NATIPAllocateOption == NATManualOnly || len(n.NATIPs) > 0 }

// PortsPerVM is the ports the gateway gives each VM: minPortsPerVm rounded up to a power of
// two, as Cloud NAT allocates them (Compute API reference, RouterNat.minPortsPerVm: "This is
// rounded up to the nearest power of 2. For example, if the value of this field is 50, at
// least 64 ports are allocated to a VM").
func (n NAT) PortsPerVM() int64 {
	switch {
	case n.MinPortsPerVM > 0:
		p := int64(1)
		for p < n.MinPortsPerVM {
			p <<= 1
		}
		return p
	case n.DynamicPortAllocation:
		return NATDefaultMinPortsDynamic
	}
	return NATDefaultMinPortsPerVM
}

// addresses describes the gateway's addresses for messages.
func (n NAT) addresses() string {
	if !n.Manual() {
		return "automatically allocated addresses"
	}
	var names []string
	for _, ip := range n.NATIPs {
		names = append(names, ShortName(ip))
	}
	slices.Sort(names)
	return "address" + map[bool]string{true: "", false: "es"}[len(names) == 1] + " " + strings.Join(names, ", ")
}

// ProbeKind is the kind of a container's startup probe.
type ProbeKind string

// The startup probe kinds.
const (
	ProbeNone ProbeKind = "none"
	ProbeHTTP ProbeKind = "http"
	ProbeTCP  ProbeKind = "tcp"
	ProbeGRPC ProbeKind = "grpc"
)

// SlowConnectorMachineTypes are the connector machine types that can time out at high packet
// rates. VPC docs, "Serverless VPC Access" (limitations): "f1-micro and e2-micro machine types
// ... can time out at high packet rates"; e2-standard-4 is recommended for production.
var SlowConnectorMachineTypes = []string{"f1-micro", "e2-micro"}

// ConnectorMachineTypeCheck is the connector-machine-type check of a connector (short or
// full name) with its machine type ("" is the API's default, e2-micro). Messages give its
// short name; the hint's command names it as given (a full name reaches a connector of
// another project).
func ConnectorMachineTypeCheck(connector, machineType string) Check {
	c := Check{Name: CheckConnectorMachineType}
	mt := machineType
	if mt == "" {
		mt = "e2-micro"
	}
	if slices.Contains(SlowConnectorMachineTypes, mt) {
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("connector %s runs on %s, which can time out at high packet rates", ShortName(connector), mt)
		c.Hint = fmt.Sprintf("use e2-standard-4 for production traffic: --machine-type e2-standard-4 at creation, or in place on an existing connector (connector update %s --machine-type e2-standard-4; its instances are replaced, the connector and its users stay)", connector)
		return c
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("connector %s runs on %s", ShortName(connector), mt)
	return c
}

func (t transition) connectorMachineType() Check {
	fc := t.f.TargetConnector
	if fc == nil || !fc.Exists {
		return Check{Name: CheckConnectorMachineType, Status: StatusSkip, Message: "connector not looked up"}
	}
	name := ShortName(t.to.Connector) // in the workload's project, where commands default to
	if t.crossProject() {
		name = t.to.Connector // a Shared VPC host's: its full name
	}
	return ConnectorMachineTypeCheck(name, fc.MachineType)
}

// natPath is where a side's traffic enters the VPC, for Cloud NAT: the network, region and
// subnetwork (canonical paths; "" when unknown), and words for messages.
type natPath struct {
	network, region, subnet, source string
}

func (t transition) natPathOf(v VPC, conn *ConnectorFacts, subnet *SubnetFacts) natPath {
	var p natPath
	switch v.Mode() {
	case ModeDirect:
		sn, _ := ParseSubnetRef(v.Subnet, t.ref.Project, t.ref.Region)
		p.region, p.subnet, p.source = sn.Region, sn.Path(), "subnetwork "+sn.Name
		p.network = v.Network
		if p.network == "" && subnet != nil && subnet.Network != "" {
			if n, err := ParseNetworkRef(subnet.Network, sn.Project); err == nil {
				p.network = n.Path()
			}
		}
	case ModeConnector:
		ref, _ := ParseConnectorRef(v.Connector, t.ref.Project, t.ref.Region)
		p.region, p.source = ref.Region, "connector "+ref.Name
		if conn != nil {
			if conn.Network != "" {
				if n, err := ParseNetworkRef(conn.Network, ref.Project); err == nil {
					p.network = n.Path()
				}
			}
			if conn.Subnet != "" {
				if s, err := ParseSubnetRef(conn.Subnet, projectOf(p.network, ref.Project), p.region); err == nil {
					p.subnet = s.Path()
				}
			}
		}
	}
	return p
}

// gateway returns the first public NAT gateway among routers that serves the path.
func (t transition) gateway(routers *NATFacts, p natPath) (Router, NAT, bool) {
	if routers == nil {
		return Router{}, NAT{}, false
	}
	project := projectOf(p.network, t.ref.Project)
	for _, r := range routers.Routers {
		if ShortName(r.Region) != p.region {
			continue
		}
		if p.network != "" && r.Network != "" {
			n, err := ParseNetworkRef(r.Network, project)
			if err != nil || n.Path() != p.network {
				continue
			}
		}
		for _, n := range r.NATs {
			if natCovers(n, p.subnet, project, p.region) {
				return r, n, true
			}
		}
	}
	return Router{}, NAT{}, false
}

func (t transition) natEgressIP() Check {
	c := Check{Name: CheckNATEgressIP}
	fromMode, toMode := t.from.Mode(), t.to.Mode()
	oldAll := fromMode != ModeNone && t.from.Egress.IsAllTraffic()
	newAll := toMode != ModeNone && t.to.Egress.IsAllTraffic()
	oldPath := t.natPathOf(t.from, t.f.CurrentConnector, t.f.CurrentSubnet)
	newPath := t.natPathOf(t.to, t.f.TargetConnector, t.f.Subnet)
	fail := func(msg, hint string) Check {
		c.Status, c.Message, c.Hint = StatusWarn, msg, hint
		if t.f.KeepEgressIP {
			c.Status = StatusFail
			c.Message += " (--keep-egress-ip)"
		}
		return c
	}
	// keepHint is how to keep today's addresses: a static address belongs to one gateway
	// only, so the new subnetwork must be served by today's gateway (possible in the same
	// network and region), or partners must allow-list the new addresses.
	keepHint := func(oldR Router, oldN NAT, newN *NAT) string {
		if !oldN.Manual() {
			return "today's addresses are allocated automatically and cannot be kept: have partners allow-list the new path's addresses first (reserve static ones for its gateway: gcloud compute routers nats update --nat-external-ip-pool)"
		}
		if newPath.subnet != "" && newPath.network != "" && newPath.network == oldPath.network && newPath.region == oldPath.region {
			off := ""
			if newN != nil {
				off = fmt.Sprintf(", once Cloud NAT %s no longer serves it", newN.Name)
			}
			project := ""
			if p := projectOf(oldPath.network, t.ref.Project); p != t.ref.Project {
				project = " --project " + p // a Shared VPC host's router
			}
			return fmt.Sprintf("a static address belongs to one gateway only: serve %s from today's Cloud NAT %s on router %s (gcloud compute routers nats update %s --router %s --region %s%s --nat-custom-subnet-ip-ranges=..., adding %s%s), or have partners allow-list the new addresses first",
				newPath.source, oldN.Name, oldR.Name, oldN.Name, oldR.Name, oldPath.region, project, ShortName(newPath.subnet), off)
		}
		return "the new path is in another network or region than today's Cloud NAT, whose static addresses no other gateway can take: have partners allow-list the new addresses first"
	}
	if !oldAll {
		c.Status = StatusPass
		switch {
		case !newAll:
			c.Message = "internet traffic leaves through Cloud Run's own addresses before and after the switch (egress is not all-traffic)"
		default:
			c.Message = "internet traffic, which left through Cloud Run's own changing addresses, will leave through the VPC"
			if t.f.NAT != nil {
				if r, n, ok := t.gateway(t.f.NAT, newPath); ok {
					c.Message += fmt.Sprintf(" and Cloud NAT %s on router %s (%s)", n.Name, r.Name, n.addresses())
				}
			}
		}
		if fromMode != ModeNone && toMode != ModeNone {
			old := t.identity(t.from, t.f.CurrentConnector, t.f.CurrentSubnet)
			nw := t.identity(t.to, t.f.TargetConnector, t.f.Subnet)
			if len(old.ranges) > 0 && len(nw.ranges) > 0 && !slices.Equal(old.ranges, nw.ranges) {
				c.Message += fmt.Sprintf("; destinations in the VPC and on-premises will see source range %s instead of %s, so their own allow-lists must admit it", nw.ranges[0], old.ranges[0])
			}
		}
		return c
	}
	if t.f.CurrentNAT == nil {
		c.Status, c.Message = StatusSkip, "Cloud NAT on today's path not looked up"
		return c
	}
	oldR, oldN, oldOK := t.gateway(t.f.CurrentNAT, oldPath)
	if !oldOK {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("no Cloud NAT serves today's %s: its internet traffic has no address to keep", oldPath.source)
		return c
	}
	c.Numbers = map[string]int64{"currentNatIps": int64(len(oldN.NATIPs))}
	today := fmt.Sprintf("today internet destinations see Cloud NAT %s on router %s (%s)", oldN.Name, oldR.Name, oldN.addresses())
	if !newAll {
		hint := "keep egress all-traffic (--keep-egress) so that internet traffic still goes through Cloud NAT"
		if toMode == ModeNone {
			// Without VPC access there is no egress setting to keep.
			hint = "stay on a VPC path with egress all-traffic (--to direct or --to connector) through a Cloud NAT with these addresses, or have partners stop relying on them first"
		}
		return fail(today+"; after the switch internet traffic leaves through Cloud Run's own addresses, which change and cannot be allow-listed", hint)
	}
	if t.f.NAT == nil {
		c.Status, c.Message = StatusSkip, "Cloud NAT on the new path not looked up"
		return c
	}
	newR, newN, newOK := t.gateway(t.f.NAT, newPath)
	if !newOK {
		return fail(today+fmt.Sprintf("; no Cloud NAT serves the new %s", newPath.source), keepHint(oldR, oldN, nil))
	}
	c.Numbers["newNatIps"] = int64(len(newN.NATIPs))
	sameGateway := newR.Name == oldR.Name && ShortName(newR.Region) == ShortName(oldR.Region) && newN.Name == oldN.Name &&
		projectOf(newPath.network, t.ref.Project) == projectOf(oldPath.network, t.ref.Project)
	switch {
	case sameGateway && !newN.Manual():
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("the new %s uses the same Cloud NAT %s, but its addresses are allocated automatically: they can change as the gateway scales, so a partner's allow-list of them can break", newPath.source, newN.Name)
		c.Hint = "reserve static addresses and set them on the gateway (--nat-external-ip-pool) if partners allow-list them"
		return c
	case sameGateway:
		c.Status = StatusPass
		c.Message = fmt.Sprintf("the new %s goes out through the same Cloud NAT %s (%s)", newPath.source, newN.Name, newN.addresses())
		return c
	case !newN.Manual():
		return fail(today+fmt.Sprintf("; the new %s's Cloud NAT %s on router %s allocates its addresses automatically", newPath.source, newN.Name, newR.Name), keepHint(oldR, oldN, &newN))
	case !oldN.Manual():
		return fail(today+fmt.Sprintf("; the new %s goes out through Cloud NAT %s on router %s (%s)", newPath.source, newN.Name, newR.Name, newN.addresses()), keepHint(oldR, oldN, &newN))
	}
	oldIPs, newIPs := shortNames(oldN.NATIPs), shortNames(newN.NATIPs)
	same := 0
	for _, ip := range newIPs {
		if slices.Contains(oldIPs, ip) {
			same++
		}
	}
	c.Numbers["sameNatIps"] = int64(same)
	if same == len(oldIPs) && same == len(newIPs) {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("the new %s's Cloud NAT %s uses the same %s as today's", newPath.source, newN.Name, newN.addresses())
		return c
	}
	return fail(today+fmt.Sprintf("; the new %s goes out through Cloud NAT %s on router %s (%s)", newPath.source, newN.Name, newR.Name, newN.addresses()), keepHint(oldR, oldN, &newN))
}

func shortNames(refs []string) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, ShortName(r))
	}
	slices.Sort(out)
	return out
}

// subnetInstances is the most instances of Cloud Run that use the target subnetwork at once:
// the workload's and every sharing workload's maximum.
func (t transition) subnetInstances() (instances int, allPrivate bool) {
	instances = t.f.Workload.EffectiveMaxInstances()
	allPrivate = !t.to.Egress.IsAllTraffic()
	for _, u := range t.f.Sharing {
		if u.Ref == t.ref {
			continue
		}
		instances += effectiveMax(u.Ref.Kind, u.MaxInstances)
		allPrivate = allPrivate && !u.AllTraffic
	}
	return instances, allPrivate
}

func (t transition) natPorts() Check {
	c := Check{Name: CheckNATPorts}
	if t.f.NAT == nil {
		c.Status, c.Message = StatusSkip, "Cloud NAT not looked up"
		return c
	}
	p := t.natPathOf(t.to, t.f.TargetConnector, t.f.Subnet)
	r, n, ok := t.gateway(t.f.NAT, p)
	instances, allPrivate := t.subnetInstances()
	if !ok {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("no Cloud NAT serves %s: no NAT ports are used", p.source)
		return c
	}
	perVM := n.PortsPerVM()
	need := int64(instances) * perVM
	c.Numbers = map[string]int64{"maxInstances": int64(instances), "minPortsPerVm": perVM, "portsNeeded": need}
	if allPrivate {
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("Cloud NAT %s on router %s serves %s, but its Cloud Run workloads send only private ranges into the VPC (egress private-ranges-only): the gateway carries none of their traffic, yet reserves %d ports for each of up to %d instances and bills each as a VM it serves",
			n.Name, r.Name, p.source, perVM, instances)
		c.Hint = "leave the subnetwork out of the gateway (--nat-custom-subnet-ip-ranges) if nothing else on it needs the internet"
		return c
	}
	if !n.Manual() {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("at maximum scale %d instances × %d ports = %d NAT ports; Cloud NAT %s allocates addresses as needed (about %d)",
			instances, perVM, need, n.Name, max(1, int(math.Ceil(float64(need)/NATPortsPerIP))))
		return c
	}
	have := int64(len(n.NATIPs)) * NATPortsPerIP
	c.Numbers["natIps"] = int64(len(n.NATIPs))
	c.Numbers["portsAvailable"] = have
	if need <= have {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("at maximum scale %d instances × %d ports = %d NAT ports, within the %d of Cloud NAT %s's %s",
			instances, perVM, need, have, n.Name, plural(len(n.NATIPs), "address"))
		return c
	}
	c.Status = StatusFail
	c.Message = fmt.Sprintf("at maximum scale %d instances × %d ports = %d NAT ports, more than the %d of Cloud NAT %s's %s: instances beyond %d get no ports and cannot reach the internet",
		instances, perVM, need, have, n.Name, plural(len(n.NATIPs), "address"), have/perVM)
	c.Hint = fmt.Sprintf("give Cloud NAT %s %d addresses, lower its minimum ports per VM, or lower the maximum instances", n.Name, int(math.Ceil(float64(need)/NATPortsPerIP)))
	return c
}

// oldPrivateGoogleAccess reports whether today's path reached Google APIs privately: its
// subnetwork's Private Google Access (a connector built on a range of its own runs on a
// Google-managed subnetwork, counted as having it).
func (t transition) oldPrivateGoogleAccess() bool {
	switch t.from.Mode() {
	case ModeDirect:
		return t.f.CurrentSubnet != nil && t.f.CurrentSubnet.PrivateGoogleAccess
	case ModeConnector:
		if fc := t.f.CurrentConnector; fc != nil {
			return fc.Subnet == "" || fc.SubnetPrivateGoogleAccess
		}
	}
	return false
}

func (t transition) privateGoogleAccess() Check {
	c := Check{Name: CheckPrivateGoogleAccess}
	fs := t.f.Subnet
	if fs == nil || (!fs.Exists && !fs.WillCreate) {
		c.Status, c.Message = StatusSkip, "subnetwork not looked up"
		return c
	}
	name := ShortName(fs.Name)
	pga := fs.PrivateGoogleAccess
	c.Numbers = map[string]int64{"privateGoogleAccess": b2i(pga)}
	if !t.to.Egress.IsAllTraffic() {
		c.Status = StatusPass
		c.Message = "egress private-ranges-only: Google APIs are reached through Cloud Run's own egress, not the VPC"
		return c
	}
	if pga {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("subnetwork %s has Private Google Access: Google APIs stay reachable with egress all-traffic", name)
		return c
	}
	if t.f.EnablePrivateGoogleAccess && fs.Exists {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("Private Google Access is turned on on subnetwork %s before the switch (--enable-private-google-access)", name)
		return c
	}
	_, n, natOK := t.gateway(t.f.NAT, t.natPathOf(t.to, t.f.TargetConnector, fs))
	c.Numbers["natCovers"] = b2i(natOK)
	hint := "pass --enable-private-google-access to turn it on before the switch (subnetworks.setPrivateIpGoogleAccess)"
	switch {
	case !natOK && t.f.NAT != nil:
		// cloud-nat fails already (no internet at all); this says what it means for Google
		// APIs and how to keep them.
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("subnetwork %s has no Private Google Access and no Cloud NAT serves it: with egress all-traffic, Google APIs (Cloud Storage, Pub/Sub, ...) become unreachable", name)
		c.Hint = hint
	case !natOK:
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("subnetwork %s has no Private Google Access; with egress all-traffic Google APIs are reachable only through Cloud NAT, which was not looked up", name)
		c.Hint = hint
	case t.oldPrivateGoogleAccess():
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("today's path reaches Google APIs privately, but subnetwork %s has no Private Google Access: Google API traffic will go through Cloud NAT %s (its ports and data processing charges)", name, n.Name)
		c.Hint = hint
	default:
		c.Status = StatusPass
		c.Message = fmt.Sprintf("Google APIs are reached through Cloud NAT %s, as today (subnetwork %s has no Private Google Access)", n.Name, name)
	}
	return c
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (t transition) startupProbe() Check {
	c := Check{Name: CheckStartupProbe}
	switch t.f.Workload.StartupProbe {
	case "":
		c.Status, c.Message = StatusSkip, "startup probe not read"
	case ProbeHTTP:
		c.Status = StatusPass
		c.Message = "the container has an HTTP startup probe: make it test an egress destination the application needs, so instances take requests only once Direct VPC egress connects"
	case ProbeGRPC:
		c.Status = StatusPass
		c.Message = "the container has a gRPC startup probe: make it test an egress destination the application needs"
	default:
		c.Status = StatusWarn
		what := "no startup probe"
		if t.f.Workload.StartupProbe == ProbeTCP {
			what = "only a TCP startup probe, which passes before egress works"
		}
		c.Message = fmt.Sprintf("the container has %s: with Direct VPC egress, connections can take a minute or more to establish at instance start-up, so new instances may fail requests that need the VPC", what)
		c.Hint = "add an HTTP startup probe that connects to a destination the application needs (gcloud run services update --startup-probe httpGet.path=...)"
	}
	return c
}

func (t transition) firewallPolicies() Check {
	c := Check{Name: CheckFirewallPolicies}
	fp := t.f.FirewallPolicies
	if fp == nil {
		c.Status, c.Message = StatusSkip, "firewall policies not looked up"
		return c
	}
	if !t.fromOK {
		c.Status, c.Message = StatusSkip, "current VPC settings unreadable"
		return c
	}
	rules := 0
	for _, p := range fp.Policies {
		rules += len(p.Rules)
	}
	c.Numbers = map[string]int64{"policies": int64(len(fp.Policies)), "policyRules": int64(rules)}
	if len(fp.Policies) == 0 {
		c.Status = StatusPass
		c.Message = "no firewall policy applies to the network"
		return c
	}
	old := t.identity(t.from, t.f.CurrentConnector, t.f.CurrentSubnet)
	nw := t.identity(t.to, t.f.TargetConnector, t.f.Subnet)
	if len(old.ranges) == 0 || len(nw.ranges) == 0 {
		c.Status, c.Message = StatusSkip, "the source range of today's or the new traffic is unknown"
		return c
	}
	oldDirect, newDirect := t.from.Mode() == ModeDirect, t.to.Mode() == ModeDirect
	var blocked, opened []string
	// Why the new traffic is blocked: a policy deny rule matches it, or nothing admits it
	// as a policy rule admits today's (the fixes differ).
	deniedByRule, notAdmitted := false, false
	probes := fp.probes()
	for _, p := range probes {
		vo := fp.evaluate(p, old, oldDirect)
		vn := fp.evaluate(p, nw, newDirect)
		if vo.allowed == vn.allowed || (!vo.policy && !vn.policy) {
			continue // the same, or VPC firewall rules alone decide (firewall-rules)
		}
		if vo.allowed {
			blocked = append(blocked, fmt.Sprintf("%s: allowed today by %s, denied for the new traffic by %s", p.describe(), vo.by, vn.by))
			if vn.policy {
				deniedByRule = true
			} else {
				notAdmitted = true
			}
		} else {
			opened = append(opened, fmt.Sprintf("%s: denied today by %s, allowed for the new traffic by %s", p.describe(), vo.by, vn.by))
		}
	}
	c.Numbers["compared"] = int64(len(probes))
	c.Numbers["blocked"] = int64(len(blocked))
	c.Numbers["opened"] = int64(len(opened))
	switch {
	case len(blocked) > 0:
		c.Status = StatusFail
		c.Message = fmt.Sprintf("firewall policies evaluated with the VPC firewall rules treat the new %s unlike today's %s: %s", nw.describe(), old.describe(), strings.Join(append(blocked, opened...), "; "))
		var fixes []string
		if notAdmitted {
			fixes = append(fixes, fmt.Sprintf("add %s to the source ranges of the policy rules that admit %s today", joinRanges(nw), joinRanges(old)))
		}
		if deniedByRule {
			fixes = append(fixes, fmt.Sprintf("take %s out of the policy rules named above that deny it, or admit it by a rule of higher priority (a lower number)", joinRanges(nw)))
		}
		c.Hint = strings.Join(fixes, "; ") + " (gcloud compute network-firewall-policies rules update, or firewall-policies rules update for hierarchical ones)"
	case len(opened) > 0:
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("firewall policies would allow the new %s what they deny today's: %s", nw.describe(), strings.Join(opened, "; "))
		c.Hint = "check that the policy rules deny the new source range where they must"
	default:
		c.Status = StatusPass
		c.Message = fmt.Sprintf("%s with %s, evaluated by priority with the VPC firewall rules, treat today's and the new traffic alike (%s compared)",
			policies(len(fp.Policies)), plural(rules, "rule"), plural(len(probes), "connection"))
	}
	return c
}

func policies(n int) string {
	if n == 1 {
		return "1 firewall policy"
	}
	return itoa(n) + " firewall policies"
}

func joinRanges(id identity) string {
	var rs []string
	for _, r := range id.ranges {
		rs = append(rs, r.String())
	}
	return strings.Join(rs, ",")
}

// quotaIncreaseURL is the console page where the Direct VPC egress quota is raised.
func quotaIncreaseURL(project string) string {
	return "https://console.cloud.google.com/iam-admin/quotas?project=" + project + "&service=run.googleapis.com"
}
