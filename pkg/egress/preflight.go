package egress

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/pkg/ipam"
)

// CheckStatus is the outcome of one preflight check.
type CheckStatus string

// The check outcomes.
const (
	// StatusPass: the check found nothing wrong.
	StatusPass CheckStatus = "pass"
	// StatusWarn: something deserves attention but does not stop the
	// switch.
	StatusWarn CheckStatus = "warn"
	// StatusFail: the switch would break the workload or be rejected; it
	// stops the switch unless forced (see ApplyForce).
	StatusFail CheckStatus = "fail"
	// StatusSkip: the check applies but its facts were not gathered.
	StatusSkip CheckStatus = "skip"
)

// Check is the result of one preflight check.
type Check struct {
	// Name is one of the Check* constants.
	Name string `json:"name"`
	// Status is the outcome.
	Status CheckStatus `json:"status"`
	// Message says what was found, with the numbers behind it.
	Message string `json:"message"`
	// Numbers holds the check's figures under lowerCamelCase keys, for
	// machines.
	Numbers map[string]int64 `json:"numbers,omitempty"`
	// Hint says how to fix a warning or failure. With HintActions it is a format with one %s
	// per action (see Message), which the presentation renders.
	Hint        string   `json:"hint,omitempty"`
	HintActions []Action `json:"-"`
	// Forced is set when a failure was downgraded to a warning by
	// ApplyForce.
	Forced bool `json:"forced,omitempty"`
}

// The preflight check names. They are stable: scripts match on them and
// --force takes them.
const (
	// CheckVPCSettings: the target VPC settings are well formed (one and
	// only one of connector and network interface; valid names). Cannot be
	// forced.
	CheckVPCSettings = "vpc-settings"
	// CheckWorkerPoolConnector: worker pools cannot use connectors. Cannot
	// be forced.
	CheckWorkerPoolConnector = "workerpool-connector"
	// CheckRegion: the connector or subnetwork is in the workload's region.
	// Cannot be forced.
	CheckRegion = "region-match"
	// CheckNetwork: the target network exists. Cannot be forced.
	CheckNetwork = "network-exists"
	// CheckSubnet: the target subnetwork exists (or will be created), in
	// the target network, and is an ordinary subnetwork. Cannot be forced.
	CheckSubnet = "subnet-exists"
	// CheckSubnetRange: the range of a subnetwork the migration creates
	// overlaps no range in use in its network (any region): subnetworks'
	// primary and secondary ranges, connectors' ranges. Cannot be forced.
	CheckSubnetRange = "subnet-range-free"
	// CheckSubnetSize: the subnetwork is /26 or larger and in a range Direct
	// VPC egress allows. Cannot be forced.
	CheckSubnetSize = "subnet-size"
	// CheckFreeIPs: the subnetwork has enough free /28 blocks for every
	// workload that uses it at maximum scale, plus the rollout overlap.
	CheckFreeIPs = "free-ips"
	// CheckQuota: the workload's maximum instances fit the Direct VPC
	// egress quota per revision.
	CheckQuota = "direct-vpc-quota"
	// CheckConnectorReady: the target connector exists and is READY. Cannot
	// be forced.
	CheckConnectorReady = "connector-ready"
	// CheckEgressKept: the egress setting stays what it was (see
	// RunPreflight for the exact rules).
	CheckEgressKept = "egress-kept"
	// CheckNAT: with egress all-traffic, a Cloud NAT covers the traffic's
	// source in the target network and region.
	CheckNAT = "cloud-nat"
	// CheckFirewall: firewall rules that match today's traffic (the
	// connector's network tags or range, or the current subnetwork and
	// tags) also match the new traffic.
	CheckFirewall = "firewall-rules"
	// CheckPermissions: the caller holds the permissions the switch needs.
	CheckPermissions = "permissions"
)

// CheckNames lists every check name in the order RunPreflight reports them.
var CheckNames = []string{
	CheckVPCSettings, CheckWorkerPoolConnector, CheckRegion, CheckNetwork, CheckSubnet, CheckSubnetRange,
	CheckSubnetSize, CheckFreeIPs, CheckQuota, CheckConnectorReady, CheckConnectorMachineType, CheckEgressKept,
	CheckNAT, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckFirewall, CheckFirewallPolicies,
	CheckStartupProbe, CheckMetricGate, CheckPermissions, CheckServiceAgent,
}

// unforceable maps the checks whose failure the API or the platform would
// turn into a failed deploy anyway, with the reason.
var unforceable = map[string]string{
	CheckVPCSettings:         "the API rejects these VPC settings",
	CheckWorkerPoolConnector: "worker pools cannot use connectors",
	CheckRegion:              "Cloud Run only uses a connector or subnetwork in the workload's region",
	CheckNetwork:             "the network does not exist",
	CheckSubnet:              "the subnetwork cannot be used",
	CheckSubnetRange:         "Compute refuses a range that overlaps another in the network",
	CheckSubnetSize:          "Cloud Run rejects this subnetwork range",
	CheckConnectorReady:      "the connector cannot carry traffic",
}

// Forceable reports whether a failure of the named check may be downgraded
// with ApplyForce.
func Forceable(name string) bool {
	_, no := unforceable[name]
	return slices.Contains(CheckNames, name) && !no
}

// advise sets the check's hint.
func (c *Check) advise(m Message) { c.Hint, c.HintActions = m.Text, m.Actions }

// Failed returns the checks with StatusFail, in order.
func Failed(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if c.Status == StatusFail {
			out = append(out, c)
		}
	}
	return out
}

// ApplyForce returns a copy of checks in which every failed check named in
// names is downgraded to StatusWarn, marked Forced, with a note appended to
// its message. Named checks that did not fail are left alone. It returns a
// *ParseError for an unknown name or one that cannot be forced (see
// Forceable); checks is never modified.
func ApplyForce(checks []Check, names []string) ([]Check, error) {
	valid := "valid checks: " + strings.Join(forceableNames(), ", ")
	for _, n := range names {
		if !slices.Contains(CheckNames, n) {
			return nil, parseErr("--force", n, valid, "unknown check")
		}
		if why, no := unforceable[n]; no {
			return nil, parseErr("--force", n, valid, "check %s cannot be forced: %s", n, why)
		}
	}
	out := slices.Clone(checks)
	for i := range out {
		if out[i].Status == StatusFail && slices.Contains(names, out[i].Name) {
			out[i].Status = StatusWarn
			out[i].Forced = true
			out[i].Message += " [failure overridden with --force]"
		}
	}
	return out, nil
}

func forceableNames() []string {
	var out []string
	for _, n := range CheckNames {
		if Forceable(n) {
			out = append(out, n)
		}
	}
	return out
}

// transition is the canonical form of a switch, shared by the checks.
type transition struct {
	f        Facts
	ref      WorkloadRef
	from, to VPC
	fromOK   bool // from parsed; checks comparing with it are skipped otherwise
}

// RunPreflight runs every check that applies to switching f.Workload from
// its current VPC access to f.Target, and returns them in the order of
// CheckNames. Which checks apply:
//
//   - vpc-settings and permissions: always.
//   - service-agent: a target connector or subnetwork in another project (Shared VPC);
//     see preflight_serviceagent.go.
//   - workerpool-connector: worker pools.
//   - region-match: target connector or Direct VPC.
//   - network-exists, subnet-exists, subnet-size, free-ips,
//     direct-vpc-quota: target Direct VPC.
//   - connector-ready: target connector.
//   - egress-kept: unless both sides have no VPC access. Moving between
//     two VPC modes passes when the normalised egress is unchanged and
//     warns when it changes. Attaching (from none) passes for
//     private-ranges-only and warns for all-traffic (internet traffic then
//     enters the VPC). Detaching (to none) warns when the egress was
//     all-traffic (internet traffic stops using the VPC and its NAT
//     addresses) and passes otherwise. It never fails: changing egress is
//     the user's explicit choice, and detaching from all-traffic is
//     confirmed by the command, not by preflight.
//   - cloud-nat: target connector or Direct VPC with egress all-traffic.
//     No NAT covering the traffic is a (forceable) failure: without one
//     the workload loses internet access.
//   - firewall-rules: both sides have VPC access.
//   - metric-gate: a service whose canary is gated on request metrics (f.Metrics set).
//
// free-ips counts /28 blocks: the migrating workload needs
// ipam.BlocksForInstances(max instances) blocks twice over
// (RolloutOverlapFactor), every other workload in f.Sharing its blocks at
// maximum scale, against the subnetwork's blocks less those reserved by
// anything else. It passes when everything fits, warns when it fits only
// at steady state (without the overlap) and fails when not even that fits.
//
// firewall-rules looks at VPC firewall rules only (not hierarchical or
// network firewall policies) and does not weigh rule priorities: it reports
// rules that single out today's traffic (by the connector's network tags or
// range, or the current subnetwork's range and tags) and would not match
// the new traffic, and deny rules that would newly match it. A lost ingress
// allow rule fails (traffic allowed today would be blocked); lost deny or
// egress rules, newly matching deny rules, rules that cannot be judged
// because the new range is unknown, and rules with logging (which does not
// record Direct VPC egress traffic) warn.
//
// Facts left nil make the checks that need them report StatusSkip. If the
// target settings are malformed only vpc-settings is reported.
func RunPreflight(f Facts) []Check {
	ref := f.Workload.Ref
	to, err := f.Target.canonical(ref.Project, ref.Region, true)
	if err != nil {
		return []Check{{
			Name: CheckVPCSettings, Status: StatusFail, Message: err.Error(),
			Hint: "set either --connector, or --network and/or --subnet (with optional --network-tags)",
		}}
	}
	from, ferr := f.Workload.VPC.Canonical(ref.Project, ref.Region)
	if ferr != nil {
		// Keep the raw settings so that the mode and egress are still known.
		from = f.Workload.VPC
		from.Egress = from.Egress.Normalize()
	}
	t := transition{f: f, ref: ref, from: from, to: to, fromOK: ferr == nil}
	fromMode, toMode := from.Mode(), to.Mode()

	checks := []Check{t.vpcSettings(ferr)}
	if ref.Kind == KindWorkerPool {
		checks = append(checks, t.workerPoolConnector())
	}
	if toMode != ModeNone {
		checks = append(checks, t.regionMatch())
	}
	if toMode == ModeDirect {
		checks = append(checks, t.networkExists(), t.subnetExists())
		if fs := f.Subnet; fs != nil && fs.WillCreate {
			checks = append(checks, t.subnetRange())
		}
		checks = append(checks, t.subnetSize(), t.freeIPs(), t.quota())
	}
	if toMode == ModeConnector {
		checks = append(checks, t.connectorReady(), t.connectorMachineType())
	}
	if fromMode != ModeNone || toMode != ModeNone {
		checks = append(checks, t.egressKept())
	}
	if toMode != ModeNone && to.Egress.IsAllTraffic() {
		checks = append(checks, t.cloudNAT())
	}
	if fromMode != ModeNone || toMode != ModeNone {
		checks = append(checks, t.natEgressIP())
	}
	if toMode == ModeDirect {
		checks = append(checks, t.natPorts(), t.privateGoogleAccess())
	}
	if fromMode != ModeNone && toMode != ModeNone {
		checks = append(checks, t.firewall(), t.firewallPolicies())
	}
	if toMode == ModeDirect && ref.Kind == KindService {
		checks = append(checks, t.startupProbe())
	}
	if f.Metrics != nil && ref.Kind == KindService {
		checks = append(checks, t.metricGate())
	}
	checks = append(checks, t.permissions())
	if t.crossProject() {
		checks = append(checks, t.serviceAgent())
	}
	return checks
}

// RunTargetChecks runs the checks of RunPreflight that look at the target alone, each
// answered by one read of the target (its subnetwork, or its connector), and none of which
// can be forced: the settings are well formed, a worker pool does not get a connector, the
// connector or subnetwork is in the workload's region, the network exists and the
// subnetwork belongs to it, the subnetwork exists and is /26 or larger, the connector exists
// and is READY. A change that fails one of them cannot serve: commands that change a
// template run them first (attach). Checks whose facts are nil are left out.
func RunTargetChecks(f Facts) []Check {
	ref := f.Workload.Ref
	to, err := f.Target.canonical(ref.Project, ref.Region, true)
	if err != nil {
		return []Check{{
			Name: CheckVPCSettings, Status: StatusFail, Message: err.Error(),
			Hint: "set either --connector, or --network and/or --subnet (with optional --network-tags)",
		}}
	}
	t := transition{f: f, ref: ref, to: to, fromOK: true}
	checks := []Check{t.vpcSettings(nil)}
	if ref.Kind == KindWorkerPool {
		checks = append(checks, t.workerPoolConnector())
	}
	add := func(c Check) {
		if c.Status != StatusSkip {
			checks = append(checks, c)
		}
	}
	switch to.Mode() {
	case ModeDirect:
		add(t.regionMatch())
		add(t.networkExists())
		add(t.subnetExists())
		add(t.subnetSize())
		add(t.startIPs())
	case ModeConnector:
		add(t.regionMatch())
		add(t.connectorReady())
	}
	if t.crossProject() {
		add(t.serviceAgent())
	}
	return checks
}

func (t transition) vpcSettings(fromErr error) Check {
	c := Check{Name: CheckVPCSettings, Status: StatusPass, Message: "target is valid: " + t.to.Short()}
	if fromErr != nil {
		c.Status = StatusWarn
		c.Message += "; the current settings could not be read (" + fromErr.Error() + "), so checks comparing with them are skipped"
	}
	return c
}

func (t transition) workerPoolConnector() Check {
	if t.to.Mode() == ModeConnector {
		return Check{
			Name: CheckWorkerPoolConnector, Status: StatusFail,
			Message: "worker pools cannot use Serverless VPC Access connectors",
			Hint:    "use Direct VPC egress instead: --network NETWORK --subnet SUBNET",
		}
	}
	return Check{Name: CheckWorkerPoolConnector, Status: StatusPass, Message: "worker pool does not use a connector"}
}

func (t transition) regionMatch() Check {
	c := Check{Name: CheckRegion}
	var what, name, region string
	switch t.to.Mode() {
	case ModeConnector:
		ref, _ := ParseConnectorRef(t.to.Connector, t.ref.Project, t.ref.Region)
		what, name, region = "connector", ref.Name, ref.Region
		if fc := t.f.TargetConnector; fc != nil && fc.Exists && fc.Region != "" {
			region = ShortName(fc.Region)
		}
	default:
		ref, _ := ParseSubnetRef(t.to.Subnet, t.ref.Project, t.ref.Region)
		what, name, region = "subnetwork", ref.Name, ref.Region
		if fs := t.f.Subnet; fs != nil && fs.Exists && fs.Region != "" {
			region = ShortName(fs.Region)
		}
	}
	if region != t.ref.Region {
		c.Status = StatusFail
		c.Message = fmt.Sprintf("%s %s is in %s but the %s runs in %s", what, name, region, t.ref.Kind.Noun(), t.ref.Region)
		c.Hint = fmt.Sprintf("use a %s in %s", what, t.ref.Region)
		return c
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("%s %s is in %s, like the %s", what, name, region, t.ref.Kind.Noun())
	return c
}

// targetNetwork returns the canonical path of the target network: the one
// given, else the subnetwork's network from the facts, else "".
func (t transition) targetNetwork() string {
	if t.to.Network != "" {
		return t.to.Network
	}
	if fs := t.f.Subnet; fs != nil && fs.Network != "" {
		if n, err := ParseNetworkRef(fs.Network, t.subnetRef().Project); err == nil {
			return n.Path()
		}
	}
	return ""
}

func (t transition) subnetRef() SubnetRef {
	s, _ := ParseSubnetRef(t.to.Subnet, t.ref.Project, t.ref.Region)
	return s
}

func (t transition) networkExists() Check {
	c := Check{Name: CheckNetwork}
	fn := t.f.Network
	if fn == nil {
		c.Status, c.Message = StatusSkip, "network not looked up"
		return c
	}
	name := fn.Name
	if n, err := ParseNetworkRef(fn.Name, t.ref.Project); err == nil {
		name = n.Path()
	}
	if !fn.Exists {
		c.Status = StatusFail
		c.Message = fmt.Sprintf("network %s does not exist", name)
		c.Hint = "check --network; a Shared VPC network is named projects/HOST_PROJECT/global/networks/NAME"
		return c
	}
	c.Status, c.Message = StatusPass, fmt.Sprintf("network %s exists", name)
	return c
}

func (t transition) subnetExists() Check {
	c := Check{Name: CheckSubnet}
	fs := t.f.Subnet
	path := t.to.Subnet
	if fs == nil {
		c.Status, c.Message = StatusSkip, "subnetwork not looked up"
		return c
	}
	switch {
	case fs.WillCreate:
		c.Status = StatusPass
		c.Message = fmt.Sprintf("subnetwork %s will be created", path)
		if fs.CIDR != "" {
			c.Message += " with range " + fs.CIDR
		}
		return c
	case !fs.Exists:
		c.Status = StatusFail
		c.Message = fmt.Sprintf("subnetwork %s does not exist", path)
		c.advise(Say("create it first (", Action{Kind: ActionCreateSubnet}, ") or let the migration create it (--create-subnet)"))
		return c
	case fs.Purpose != "" && !strings.EqualFold(fs.Purpose, "PRIVATE"):
		c.Status = StatusFail
		c.Message = fmt.Sprintf("subnetwork %s has purpose %s; Direct VPC egress needs an ordinary (PRIVATE) subnetwork", path, fs.Purpose)
		c.Hint = "pick another subnetwork"
		return c
	}
	if t.to.Network != "" && fs.Network != "" {
		sn := t.subnetRef()
		if n, err := ParseNetworkRef(fs.Network, sn.Project); err == nil && n.Path() != t.to.Network {
			c.Status = StatusFail
			c.Message = fmt.Sprintf("subnetwork %s belongs to network %s, not %s", path, n.Path(), t.to.Network)
			c.Hint = "pass the subnetwork's own network, or leave --network out"
			return c
		}
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("subnetwork %s exists", path)
	if n := t.targetNetwork(); n != "" {
		c.Message += " in network " + n
	}
	return c
}

// subnetRange checks that the range of a subnetwork to create overlaps nothing in use in its
// network.
func (t transition) subnetRange() Check {
	c := Check{Name: CheckSubnetRange}
	fs := t.f.Subnet
	if t.f.Ranges == nil {
		c.Status, c.Message = StatusSkip, "the ranges in use in the network were not looked up"
		return c
	}
	p, err := ipam.ParsePrefix(fs.CIDR)
	if err != nil {
		c.Status, c.Message = StatusFail, err.Error()
		return c
	}
	if u, ok := t.f.Ranges.Overlap(p, t.subnetRef().Name, t.subnetRef().Region); ok {
		c.Status = StatusFail
		c.Message = fmt.Sprintf("range %s of the subnetwork to create overlaps %s", p, u.Describe())
		c.Hint = "pick a free range (--range auto finds one) or another network"
		if free, ok := t.f.Ranges.FirstFree(p.Bits()); ok {
			c.Hint = fmt.Sprintf("pick a free range, such as %s (--range auto finds one)", free)
		}
		return c
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("range %s overlaps none of the %d ranges in use in the network", p, len(t.f.Ranges.Used))
	return c
}

// subnetPrefix parses the target subnetwork's range from the facts.
func (t transition) subnetPrefix() (netip.Prefix, bool, error) {
	fs := t.f.Subnet
	if fs == nil || fs.CIDR == "" || (!fs.Exists && !fs.WillCreate) {
		return netip.Prefix{}, false, nil
	}
	p, err := ipam.ParsePrefix(fs.CIDR)
	return p, true, err
}

func (t transition) subnetSize() Check {
	c := Check{Name: CheckSubnetSize}
	p, ok, err := t.subnetPrefix()
	switch {
	case !ok:
		c.Status, c.Message = StatusSkip, "subnetwork range unknown"
		return c
	case err != nil:
		c.Status, c.Message = StatusFail, err.Error()
		return c
	}
	c.Numbers = map[string]int64{
		"prefixLength": int64(p.Bits()),
		"addresses":    int64(ipam.Size(p)),
		"usable":       int64(ipam.Usable(p)),
	}
	if err := ipam.ValidateDirectVPCSubnet(p); err != nil {
		c.Status = StatusFail
		c.Message = err.Error()
		c.Hint = fmt.Sprintf("use a /%d or larger subnetwork within RFC 1918, %s or %s", ipam.DirectVPCMinPrefix, ipam.RFC6598, ipam.ClassE)
		return c
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("%s is /%d (Direct VPC egress needs /%d or larger) with %d usable addresses", p, p.Bits(), ipam.DirectVPCMinPrefix, ipam.Usable(p))
	return c
}

func (t transition) freeIPs() Check {
	c := Check{Name: CheckFreeIPs}
	p, ok, err := t.subnetPrefix()
	if !ok || err != nil {
		c.Status, c.Message = StatusSkip, "subnetwork range unknown"
		return c
	}
	fs := t.f.Subnet
	maxInst := t.f.Workload.EffectiveMaxInstances()
	perRevision := ipam.BlocksForInstances(maxInst)
	migrating := perRevision * RolloutOverlapFactor

	self := t.ref.FullName()
	seen := map[string]bool{self: true}
	var shared, users int
	for _, u := range t.f.Sharing {
		name := u.Ref.FullName()
		if seen[name] {
			continue
		}
		seen[name] = true
		users++
		shared += ipam.BlocksForInstances(effectiveMax(u.Ref.Kind, u.MaxInstances))
	}
	need := migrating + shared
	steady := perRevision + shared

	total := ipam.Blocks(p)
	var otherIPs int64
	if !fs.WillCreate {
		otherIPs = max(0, fs.ReservedIPs-max(0, fs.SharedReservedIPs))
	}
	reserved := blocksForIPs64(otherIPs)
	free := max(0, total-reserved)

	ips := ipam.DirectVPCIPsPerInstance * maxInst
	arith := fmt.Sprintf("%d IPs × %d instances = %d IPs → %s, ×%d for rollout overlap",
		ipam.DirectVPCIPsPerInstance, maxInst, ips, plural(perRevision, "block"), RolloutOverlapFactor)
	if users > 0 {
		arith += fmt.Sprintf("; + %s for %s sharing the subnet at max scale", plural(shared, "block"), plural(users, "other workload"))
	}
	c.Message = fmt.Sprintf("needs %d /28 blocks (%s), subnet %s has %s, %d reserved", need, arith, p, plural(total, "block"), reserved)
	c.Numbers = map[string]int64{
		"maxInstances":      int64(maxInst),
		"ipsPerInstance":    ipam.DirectVPCIPsPerInstance,
		"ipsNeeded":         int64(ips),
		"blocksPerRevision": int64(perRevision),
		"blocksNeeded":      int64(need),
		"blocksSteadyState": int64(steady),
		"sharedBlocks":      int64(shared),
		"sharingWorkloads":  int64(users),
		"subnetBlocks":      int64(total),
		"reservedBlocks":    int64(reserved),
		"freeBlocks":        int64(free),
	}
	switch {
	case need <= free:
		c.Status = StatusPass
		c.Message += fmt.Sprintf(": %d free", free)
		return c
	case steady <= free:
		c.Status = StatusWarn
		c.Message += fmt.Sprintf(": %d free is enough at steady state (%d) but not while old and new revisions both hold addresses", free, steady)
	default:
		c.Status = StatusFail
		c.Message += fmt.Sprintf(": %d free is not enough even at steady state (%d)", free, steady)
	}
	c.advise(freeIPsHint(need, reserved, shared, free, maxInst))
	return c
}

// startIPs is free-ips as RunTargetChecks makes it, from the subnetwork's one read: a
// workload moving into the subnetwork needs the /28 blocks of the instances its new revision
// starts with (its minimum, at least one); fewer free blocks than that and the revision
// cannot start. Skipped when the workload is in the subnetwork already (it holds blocks
// there) or when the utilization was not read.
func (t transition) startIPs() Check {
	c := Check{Name: CheckFreeIPs}
	fs := t.f.Subnet
	p, ok, err := t.subnetPrefix()
	cur, cerr := t.f.Workload.VPC.Canonical(t.ref.Project, t.ref.Region)
	if !ok || err != nil || fs == nil || !fs.ReservedKnown || ipam.ValidateDirectVPCSubnet(p) != nil ||
		(cerr == nil && cur.Mode() == ModeDirect && cur.Subnet == t.to.Subnet) {
		c.Status, c.Message = StatusSkip, "free addresses not checked"
		return c
	}
	n := max(1, t.f.Workload.MinInstances)
	need := ipam.BlocksForInstances(n)
	free := max(0, ipam.Blocks(p)-blocksForIPs64(fs.ReservedIPs))
	c.Numbers = map[string]int64{"blocksNeeded": int64(need), "freeBlocks": int64(free), "startInstances": int64(n)}
	if free < need {
		c.Status = StatusFail
		c.Message = fmt.Sprintf("subnetwork %s (%s) has %s free; the new revision needs %s to start %s (Cloud Run: \"insufficient free IP addresses in the subnetwork\")",
			ShortName(t.to.Subnet), p, plural(free, "/28 block"), plural(need, "block"), plural(n, "instance"))
		c.advise(Say("use a larger subnetwork, or free addresses in this one ('", Action{Kind: ActionDescribeSubnet}, "' shows who holds them)"))
		return c
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("subnetwork %s has %s free; the new revision needs %d to start", ShortName(t.to.Subnet), plural(free, "/28 block"), need)
	return c
}

// freeIPsHint suggests a subnet size that fits need blocks plus what is
// reserved, and the maximum instance count that fits the current subnet.
func freeIPsHint(need, reserved, shared, free, maxInst int) Message {
	var hints []Message
	for b := ipam.DirectVPCMinPrefix; b >= ipam.MinSubnetPrefix; b-- {
		n := ipam.Blocks(netip.PrefixFrom(netip.IPv4Unspecified(), b))
		if n >= need+reserved {
			hints = append(hints, Say(fmt.Sprintf("use a /%d or larger subnetwork (%s; see ", b, plural(n, "block")), Action{Kind: ActionPlanSubnet, MaxInstances: maxInst}, ")"))
			break
		}
	}
	// Largest maximum instance count whose doubled blocks fit what is
	// free after the other workloads.
	if room := (free - shared) / RolloutOverlapFactor; room > 0 {
		fit := room * ipam.DirectVPCBlockSize / ipam.DirectVPCIPsPerInstance
		if fit < maxInst {
			hints = append(hints, Plain(fmt.Sprintf("or lower the maximum instances to %d", fit)))
		}
	}
	var out []Message
	for i, h := range hints {
		if i > 0 {
			out = append(out, Plain(" "))
		}
		out = append(out, h)
	}
	return Concat(out...)
}

func blocksForIPs64(ips int64) int {
	if ips <= 0 {
		return 0
	}
	return int((ips + ipam.DirectVPCBlockSize - 1) / ipam.DirectVPCBlockSize)
}

func (t transition) quota() Check {
	c := Check{Name: CheckQuota}
	maxInst := t.f.Workload.EffectiveMaxInstances()
	quota, known := DefaultDirectVPCInstanceQuota, false
	if q := t.f.Quota; q != nil && q.Instances > 0 {
		quota, known = q.Instances, true
	}
	per := "revision"
	if t.ref.Kind == KindJob {
		per = "job execution"
	}
	c.Numbers = map[string]int64{"maxInstances": int64(maxInst), "quota": int64(quota), "quotaRead": b2i(known)}
	if maxInst <= quota {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("max %d instances is within the Direct VPC egress quota of %d per %s", maxInst, quota, per)
		if !known {
			c.Message += " (the default, assumed: the quota could not be read)"
		} else {
			c.Message += " in " + t.ref.Region
		}
		return c
	}
	c.Hint = fmt.Sprintf("lower the maximum instances to %d or request a quota increase for Direct VPC egress in %s: %s", quota, t.ref.Region, quotaIncreaseURL(t.ref.Project))
	if !known {
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("max %d instances exceeds the default Direct VPC egress quota of %d per %s (some regions allow 200; yours could not be read)", maxInst, quota, per)
		return c
	}
	c.Status = StatusFail
	c.Message = fmt.Sprintf("max %d instances exceeds the Direct VPC egress quota of %d per %s in %s", maxInst, quota, per, t.ref.Region)
	return c
}

func (t transition) connectorReady() Check {
	c := Check{Name: CheckConnectorReady}
	fc := t.f.TargetConnector
	if fc == nil {
		c.Status, c.Message = StatusSkip, "connector not looked up"
		return c
	}
	name := t.to.Connector
	ref, _ := ParseConnectorRef(name, t.ref.Project, t.ref.Region)
	switch {
	case !fc.Exists:
		c.Status = StatusFail
		c.Message = fmt.Sprintf("connector %s does not exist", name)
		c.advise(Say("create it: ", Action{Kind: ActionCreateConnector, Name: ref.Name, Region: ref.Region}))
	case fc.State != ConnectorStateReady:
		c.Status = StatusFail
		state := fc.State
		if state == "" {
			state = "in an unknown state"
		}
		c.Message = fmt.Sprintf("connector %s is %s, not %s", name, state, ConnectorStateReady)
		switch fc.State {
		case "CREATING", "UPDATING":
			c.advise(Say("wait until it is READY (", Action{Kind: ActionDescribeConnector, Name: ref.Name}, ")"))
		case "ERROR":
			c.advise(Say("delete and recreate it (", Action{Kind: ActionRecycleConnector, Name: ref.Name}, "), or pick another connector"))
		default:
			c.Hint = "pick another connector"
		}
	default:
		c.Status = StatusPass
		c.Message = fmt.Sprintf("connector %s is READY", name)
		if fc.Network != "" {
			c.Message += " in network " + ShortName(fc.Network)
		}
	}
	return c
}

func (t transition) egressKept() Check {
	c := Check{Name: CheckEgressKept}
	fromMode, toMode := t.from.Mode(), t.to.Mode()
	fe, te := t.from.Egress, t.to.Egress
	switch {
	case toMode == ModeNone:
		if fe.IsAllTraffic() {
			c.Status = StatusWarn
			c.Message = "egress all-traffic ends: without VPC access, internet traffic leaves through Cloud Run's shared addresses instead of the VPC and its Cloud NAT addresses"
			c.Hint = "confirm the detach; keep VPC access if the internet destinations allow-list your NAT addresses"
			return c
		}
		c.Status = StatusPass
		c.Message = "VPC access ends; egress was private-ranges-only, so internet traffic is unchanged"
	case fromMode == ModeNone:
		if te.IsAllTraffic() {
			c.Status = StatusWarn
			c.Message = "egress all-traffic: internet traffic, which went out directly, will go through the VPC"
			c.Hint = "use --egress private-ranges-only to send only private ranges to the VPC"
			return c
		}
		c.Status = StatusPass
		c.Message = "egress private-ranges-only: only traffic to private ranges goes through the VPC; internet traffic is unchanged"
	case fe == te:
		c.Status = StatusPass
		c.Message = "egress " + string(te) + " kept"
	default:
		c.Status = StatusWarn
		if te.IsAllTraffic() {
			c.Message = "egress changes from private-ranges-only to all-traffic: internet traffic will go through the VPC"
		} else {
			c.Message = "egress changes from all-traffic to private-ranges-only: internet traffic will no longer go through the VPC or its Cloud NAT addresses"
		}
		c.Hint = "pass --egress " + string(fe) + " (or --keep-egress) to keep it"
	}
	return c
}

func (t transition) cloudNAT() Check {
	c := Check{Name: CheckNAT}
	if t.f.NAT == nil {
		c.Status, c.Message = StatusSkip, "Cloud NAT not looked up"
		return c
	}
	// Where the traffic enters the VPC: network, region and subnetwork.
	var network, region, subnet, source string
	switch t.to.Mode() {
	case ModeDirect:
		sn := t.subnetRef()
		network, region, subnet = t.targetNetwork(), sn.Region, sn.Path()
		source = "subnetwork " + sn.Name
	case ModeConnector:
		ref, _ := ParseConnectorRef(t.to.Connector, t.ref.Project, t.ref.Region)
		region = ref.Region
		source = "connector " + ref.Name
		if fc := t.f.TargetConnector; fc != nil {
			if fc.Network != "" {
				if n, err := ParseNetworkRef(fc.Network, ref.Project); err == nil {
					network = n.Path()
				}
			}
			if fc.Subnet != "" {
				if s, err := ParseSubnetRef(fc.Subnet, projectOf(network, ref.Project), region); err == nil {
					subnet = s.Path()
				}
			}
		}
	}
	var routers, nats int
	for _, r := range t.f.NAT.Routers {
		if ShortName(r.Region) != region {
			continue
		}
		if network != "" && r.Network != "" {
			n, err := ParseNetworkRef(r.Network, projectOf(network, t.ref.Project))
			if err != nil || n.Path() != network {
				continue
			}
		}
		routers++
		for _, n := range r.NATs {
			nats++
			if natCovers(n, subnet, projectOf(network, t.ref.Project), region) {
				c.Status = StatusPass
				c.Message = fmt.Sprintf("egress all-traffic: Cloud NAT %s on router %s covers %s", n.Name, r.Name, source)
				if t.to.Mode() == ModeDirect {
					c.Message += " (with Cloud NAT, Direct VPC egress cold starts can take 30 s or more longer)"
				}
				c.Numbers = map[string]int64{"routers": int64(routers), "nats": int64(nats)}
				return c
			}
		}
	}
	where := region
	if network != "" {
		where = ShortName(network) + "/" + region
	}
	c.Status = StatusFail
	c.Numbers = map[string]int64{"routers": int64(routers), "nats": int64(nats)}
	c.Message = fmt.Sprintf("egress all-traffic sends internet traffic into the VPC, but no Cloud NAT in %s covers %s: the %s would lose internet access", where, source, t.ref.Kind.Noun())
	c.Hint = fmt.Sprintf("add a Cloud NAT on a Cloud Router in %s (gcloud compute routers nats create), or use --egress private-ranges-only", where)
	return c
}

// projectOf returns the project of a canonical network path, or def.
func projectOf(networkPath, def string) string {
	if rest, ok := strings.CutPrefix(networkPath, "projects/"); ok {
		if p, _, ok := strings.Cut(rest, "/"); ok {
			return p
		}
	}
	return def
}

// natCovers reports whether a public NAT translates traffic from subnet
// (a canonical path, or "" when unknown, as for a connector's hidden
// subnetwork).
func natCovers(n NAT, subnet, project, region string) bool {
	if n.Type != "" && !strings.EqualFold(n.Type, "PUBLIC") {
		return false
	}
	switch n.SourceSubnetworkIPRangesToNat {
	case NATAllSubnetworksAllRanges, NATAllSubnetworksAllPrimaryRanges:
		return true
	case NATListOfSubnetworks:
		if subnet == "" {
			return false
		}
		for _, s := range n.Subnetworks {
			if r, err := ParseSubnetRef(s, project, region); err == nil && r.Path() == subnet {
				return true
			}
		}
	}
	return false
}

// identity is what firewall rules can match traffic by: network tags and
// source ranges.
type identity struct {
	desc    string
	network string // canonical path, or ""
	tags    []string
	ranges  []netip.Prefix
}

func (t transition) identity(v VPC, conn *ConnectorFacts, subnet *SubnetFacts) identity {
	var id identity
	switch v.Mode() {
	case ModeConnector:
		ref, _ := ParseConnectorRef(v.Connector, t.ref.Project, t.ref.Region)
		id.tags = ref.NetworkTags()
		id.desc = "connector " + ref.Name
		if conn != nil {
			if p, err := ipam.ParsePrefix(conn.SourceRange()); err == nil {
				id.ranges = append(id.ranges, p)
			}
			if conn.Network != "" {
				if n, err := ParseNetworkRef(conn.Network, ref.Project); err == nil {
					id.network = n.Path()
				}
			}
		}
	case ModeDirect:
		sn, _ := ParseSubnetRef(v.Subnet, t.ref.Project, t.ref.Region)
		id.tags = v.Tags
		id.desc = "Direct VPC egress from subnetwork " + sn.Name
		id.network = v.Network
		if subnet != nil {
			if p, err := ipam.ParsePrefix(subnet.CIDR); err == nil {
				id.ranges = append(id.ranges, p)
			}
			if id.network == "" && subnet.Network != "" {
				if n, err := ParseNetworkRef(subnet.Network, sn.Project); err == nil {
					id.network = n.Path()
				}
			}
		}
	}
	return id
}

func (id identity) describe() string {
	var parts []string
	if len(id.ranges) > 0 {
		var rs []string
		for _, r := range id.ranges {
			rs = append(rs, r.String())
		}
		parts = append(parts, "range "+strings.Join(rs, ","))
	}
	if len(id.tags) > 0 {
		parts = append(parts, "tags "+strings.Join(id.tags, ","))
	} else {
		parts = append(parts, "no network tags")
	}
	return id.desc + " (" + strings.Join(parts, ", ") + ")"
}

// ruleMatch says whether rule r applies to traffic with identity id. With
// whole set, a source range must contain every range of id (a rule that
// covers only part of a subnetwork does not reliably match its traffic);
// otherwise any overlap counts.
func ruleMatch(r FirewallRule, id identity, whole bool) bool {
	if r.Disabled {
		return false
	}
	if !r.IsIngress() {
		// Egress rules select the instances they apply to by target tags;
		// rules without target tags apply to everything alike.
		if len(r.TargetTags) == 0 {
			return true
		}
		return intersects(r.TargetTags, id.tags)
	}
	if len(r.SourceRanges) == 0 && len(r.SourceTags) == 0 {
		return true // source defaults to 0.0.0.0/0
	}
	if intersects(r.SourceTags, id.tags) {
		return true
	}
	if len(id.ranges) == 0 {
		return false
	}
	for _, s := range r.SourceRanges {
		sp, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		sp = sp.Masked()
		all, anyHit := true, false
		for _, idr := range id.ranges {
			if ipam.Contains(sp, idr) {
				anyHit = true
				continue
			}
			all = false
			if ipam.Overlaps(sp, idr) {
				anyHit = true
			}
		}
		if (whole && all) || (!whole && anyHit) {
			return true
		}
	}
	return false
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// specific reports whether rule r singles out traffic by tag or range,
// rather than applying to all traffic alike.
func specific(r FirewallRule) bool {
	if r.IsIngress() {
		if len(r.SourceTags) > 0 {
			return true
		}
		for _, s := range r.SourceRanges {
			if p, err := netip.ParsePrefix(s); err == nil && p.Bits() > 0 {
				return true
			}
		}
		return false
	}
	return len(r.TargetTags) > 0
}

func (t transition) firewall() Check {
	c := Check{Name: CheckFirewall}
	if t.f.Firewall == nil {
		c.Status, c.Message = StatusSkip, "firewall rules not looked up"
		return c
	}
	if !t.fromOK {
		c.Status, c.Message = StatusSkip, "current VPC settings unreadable"
		return c
	}
	old := t.identity(t.from, t.f.CurrentConnector, t.f.CurrentSubnet)
	nw := t.identity(t.to, t.f.TargetConnector, t.f.Subnet)
	if len(old.tags) == 0 && len(old.ranges) == 0 {
		c.Status, c.Message = StatusSkip, "today's traffic has no network tags and its source range is unknown"
		return c
	}

	var considered, matched int
	var lostAllow, lostOther, gainedDeny, unknown, logged []FirewallRule
	for _, r := range t.f.Firewall.Rules {
		if r.Disabled || !specific(r) {
			continue
		}
		if r.Network != "" && old.network != "" {
			if n, err := ParseNetworkRef(r.Network, projectOf(old.network, t.ref.Project)); err != nil || n.Path() != old.network {
				continue
			}
		}
		considered++
		mOld := ruleMatch(r, old, false)
		mNew := ruleMatch(r, nw, true)
		if mOld {
			matched++
		}
		switch {
		case mOld && !mNew && len(nw.ranges) == 0 && r.IsIngress() && len(r.SourceRanges) > 0:
			// The new traffic's range is unknown: the rule may match it.
			unknown = append(unknown, r)
		case mOld && !mNew && r.IsIngress() && !r.IsDeny():
			lostAllow = append(lostAllow, r)
		case mOld && !mNew:
			lostOther = append(lostOther, r)
		case !mOld && mNew && r.IsDeny():
			gainedDeny = append(gainedDeny, r)
		}
		if mNew && r.Logging && t.to.Mode() == ModeDirect {
			logged = append(logged, r)
		}
	}
	c.Numbers = map[string]int64{
		"rules":        int64(considered),
		"matchedToday": int64(matched),
		"lostAllow":    int64(len(lostAllow)),
		"lostOther":    int64(len(lostOther)),
		"gainedDeny":   int64(len(gainedDeny)),
		"unknown":      int64(len(unknown)),
	}
	var msgs []string
	if len(lostAllow) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s today's %s but not the new %s: traffic allowed today would be blocked",
			subject(lostAllow, "matches", "match"), old.describe(), nw.describe()))
	}
	if len(lostOther) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s today's traffic but not the new traffic: what is denied or restricted today would change", subject(lostOther, "matches", "match")))
	}
	if len(gainedDeny) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s the new traffic but not today's", subject(gainedDeny, "would deny", "would deny")))
	}
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s today's traffic by source range; the new traffic's range is unknown, so whether they still match is not known", subject(unknown, "matches", "match")))
	}
	if len(logged) > 0 {
		msgs = append(msgs, fmt.Sprintf("firewall rule logging does not record Direct VPC egress traffic (%s)", rulesPhrase(logged)))
	}
	switch {
	case len(lostAllow) > 0:
		c.Status = StatusFail
	case len(msgs) > 0:
		c.Status = StatusWarn
	default:
		c.Status = StatusPass
		if matched == 0 {
			c.Message = fmt.Sprintf("no firewall rule singles out today's %s", old.describe())
		} else {
			c.Message = fmt.Sprintf("%s matching today's traffic also match the new %s", plural(matched, "rule"), nw.describe())
		}
		return c
	}
	c.Message = strings.Join(msgs, "; ")
	c.Hint = firewallHint(t.to, nw, append(lostAllow, lostOther...))
	return c
}

// rulesPhrase lists rules for messages.
func rulesPhrase(rules []FirewallRule) string {
	var ds []string
	for _, r := range rules {
		ds = append(ds, r.describe())
	}
	if len(rules) == 1 {
		return "rule " + ds[0]
	}
	return "rules " + strings.Join(ds, ", ")
}

// subject is rulesPhrase followed by the verb agreeing with it.
func subject(rules []FirewallRule, one, many string) string {
	if len(rules) == 1 {
		return rulesPhrase(rules) + " " + one
	}
	return rulesPhrase(rules) + " " + many
}

// firewallHint suggests how to make lost rules match the new traffic.
func firewallHint(to VPC, nw identity, lost []FirewallRule) string {
	if len(lost) == 0 {
		return ""
	}
	var names []string
	var tags []string
	for _, r := range lost {
		names = append(names, r.Name)
		list := r.SourceTags
		if !r.IsIngress() {
			list = r.TargetTags
		}
		for _, tag := range list {
			if tag == ConnectorUniversalTag || strings.HasPrefix(tag, ConnectorUniversalTag+"-") {
				continue
			}
			if !slices.Contains(tags, tag) {
				tags = append(tags, tag)
			}
		}
	}
	rules := strings.Join(names, ", ")
	tagField := "source tags"
	if slices.ContainsFunc(lost, func(r FirewallRule) bool { return !r.IsIngress() }) {
		tagField = "source tags (ingress) or target tags (egress)"
	}
	switch to.Mode() {
	case ModeDirect:
		var ranges []string
		for _, r := range nw.ranges {
			ranges = append(ranges, r.String())
		}
		rangeText := "the subnetwork's range"
		if len(ranges) > 0 {
			rangeText = strings.Join(ranges, ",")
		}
		if len(tags) > 0 {
			return fmt.Sprintf("pass --network-tags %s (tags the rules already use), or add %s to the source ranges of %s", strings.Join(tags, ","), rangeText, rules)
		}
		return fmt.Sprintf("pass --network-tags TAG and add TAG to the %s of %s, or add %s to their source ranges", tagField, rules, rangeText)
	case ModeConnector:
		return fmt.Sprintf("add the new connector's tag %s (or its range) to %s", lastTag(nw.tags), rules)
	}
	return ""
}

func lastTag(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return tags[len(tags)-1]
}

func (t transition) permissions() Check {
	c := Check{Name: CheckPermissions}
	fp := t.f.Permissions
	if fp == nil {
		c.Status, c.Message = StatusSkip, "permissions not checked"
		return c
	}
	c.Numbers = map[string]int64{"checked": int64(len(fp.Checked)), "missing": int64(len(fp.Missing))}
	if len(fp.Missing) == 0 {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("the caller has all %s checked", plural(len(fp.Checked), "permission"))
		return c
	}
	c.Status = StatusFail
	// Each permission with what it is tested on: a Shared VPC host's subnetwork is not where
	// the caller would look first.
	var onWorkload, onSubnet, other []string
	for _, p := range fp.Missing {
		switch {
		case strings.HasPrefix(p, "run."):
			onWorkload = append(onWorkload, p)
		case strings.HasPrefix(p, "compute.subnetworks.") && t.to.Subnet != "":
			onSubnet = append(onSubnet, p)
		default:
			other = append(other, p)
		}
	}
	var lacks []string
	if len(onWorkload) > 0 {
		lacks = append(lacks, strings.Join(onWorkload, ", ")+" on "+t.ref.Kind.String()+" "+t.ref.Name)
	}
	if len(onSubnet) > 0 {
		lacks = append(lacks, strings.Join(onSubnet, ", ")+" on subnetwork "+t.to.Subnet)
	}
	lacks = append(lacks, other...)
	c.Message = "the caller lacks " + strings.Join(lacks, "; ")
	c.Hint = "ask for roles/run.developer on the workload, roles/iam.serviceAccountUser on its service account and, for Direct VPC egress, roles/compute.networkUser on the subnetwork (in the host project for Shared VPC)"
	return c
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func itoa(n int) string { return strconv.Itoa(n) }
