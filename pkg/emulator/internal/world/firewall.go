package world

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// Firewall evaluation, as Cloud NGFW does it (Firewall docs, "Evaluation order for firewall
// policies and rules"):
//
//   - Hierarchical firewall policies first: the one associated with the organization, then
//     those of the folders from the top down to the project's folder. In each policy the rules
//     are evaluated by priority (lowest number first); the first rule that matches decides:
//     allow or deny end the evaluation, goto_next passes to the next policy level.
//   - Then, with the network's networkFirewallPolicyEnforcementOrder AFTER_CLASSIC_FIREWALL
//     (the default): VPC firewall rules, then global network firewall policies, then regional
//     network firewall policies; with BEFORE_CLASSIC_FIREWALL the two kinds of network policy
//     come before the VPC firewall rules.
//   - VPC firewall rules: the matching rule with the lowest priority number applies, a deny
//     winning over an allow of the same priority (VPC docs, "VPC firewall rules": priority).
//   - Then the implied rules: allow egress, deny ingress.
//
// What matches (kept to what decides traffic): direction, disabled, the protocol and port
// (TCP here), source and destination ranges, and targets: network tags for VPC firewall rules,
// service accounts and secure tags. Two Cloud Run limits shape targets (Cloud Run docs,
// "Direct VPC egress", unsupported items): ingress rules cannot match Direct VPC traffic by
// network tag or service identity, and firewall rules cannot use Resource Manager (secure)
// tags attached to Cloud Run workloads. A source range matches an allow rule only when the
// rule's ranges contain all of it (every instance's address is admitted), and a deny rule when
// they overlap it (some instance's address is denied).

// Packet is a new TCP connection the firewall judges.
type Packet struct {
	Src  netip.Prefix // the source's range (all the addresses its instances may use)
	Dst  netip.Addr
	Port int
	// SrcTags are the source instances' network tags (for ingress sourceTags).
	SrcTags []string
	// Direct says the source is Direct VPC egress (its tags do not match ingress rules).
	Direct bool
}

// Target is what a rule applies to: the source for egress rules, the destination for ingress.
type Target struct {
	Tags           []string
	ServiceAccount string
	SecureTags     []string
	// Direct says the target is Direct VPC egress: only network tags target it.
	Direct bool
}

// Verdict is the firewall's decision and what made it.
type Verdict struct {
	Allowed bool
	By      string
}

// EvaluateFirewallLocked judges a packet in the project's network, in direction dir ("EGRESS"
// at the source, "INGRESS" at the destination) for target, in region (for regional policies).
func (w *World) EvaluateFirewallLocked(project, network, region, dir string, p Packet, t Target) Verdict {
	for _, pol := range w.HierarchicalPoliciesLocked(project) {
		if v, final := evalPolicy(pol, "hierarchical firewall policy", network, dir, p, t); final {
			return v
		}
	}
	order := "AFTER_CLASSIC_FIREWALL"
	if n, ok := w.S.Networks[GlobalKey(project, network)]; ok && n.NetworkFirewallPolicyEnforcementOrder != "" {
		order = n.NetworkFirewallPolicyEnforcementOrder
	}
	steps := []func() (Verdict, bool){
		func() (Verdict, bool) { return w.evalVPCRules(project, network, dir, p, t) },
		func() (Verdict, bool) {
			for _, pol := range w.NetworkPoliciesLocked(project, network, "") {
				if v, final := evalPolicy(pol, "network firewall policy", network, dir, p, t); final {
					return v, true
				}
			}
			for _, pol := range w.NetworkPoliciesLocked(project, network, region) {
				if v, final := evalPolicy(pol, "regional network firewall policy", network, dir, p, t); final {
					return v, true
				}
			}
			return Verdict{}, false
		},
	}
	if order == "BEFORE_CLASSIC_FIREWALL" {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, step := range steps {
		if v, final := step(); final {
			return v
		}
	}
	if dir == "EGRESS" {
		return Verdict{Allowed: true, By: "the implied allow egress rule"}
	}
	return Verdict{Allowed: false, By: "the implied deny ingress rule"}
}

// HierarchicalPoliciesLocked returns the hierarchical policies that apply to the project's
// networks, in evaluation order (organization first, then folders top down).
func (w *World) HierarchicalPoliciesLocked(project string) []*compute.FirewallPolicy {
	// The project's place in the resource hierarchy (directory.go), top down.
	folders, org := w.ProjectAncestryLocked(project)
	var nodes []string
	if org != "" {
		nodes = append(nodes, org)
	}
	for i := len(folders) - 1; i >= 0; i-- {
		nodes = append(nodes, folders[i])
	}
	var out []*compute.FirewallPolicy
	for _, node := range nodes {
		for _, k := range SortedKeys(w.S.Net.FirewallPolicies) {
			pol := w.S.Net.FirewallPolicies[k]
			for _, a := range pol.Associations {
				if strings.TrimPrefix(a.AttachmentTarget, "https://www.googleapis.com/compute/v1/") == node {
					out = append(out, pol)
					break
				}
			}
		}
	}
	return out
}

// NetworkPoliciesLocked returns the global (region "") or regional network firewall policies
// associated with the network.
func (w *World) NetworkPoliciesLocked(project, network, region string) []*compute.FirewallPolicy {
	all, prefix := w.S.Net.NetworkFirewallPolicies, project+"/"
	if region != "" {
		all, prefix = w.S.Net.RegionNetworkFirewallPolicies, project+"/"+region+"/"
	}
	var out []*compute.FirewallPolicy
	for _, k := range SortedKeys(all) {
		if !strings.HasPrefix(k, prefix) || (region == "" && strings.Count(k, "/") != 1) {
			continue
		}
		pol := all[k]
		for _, a := range pol.Associations {
			if m := netPathRE.FindStringSubmatch(strings.TrimPrefix(a.AttachmentTarget, "https://www.googleapis.com/compute/v1/")); m != nil && m[1] == project && m[2] == network {
				out = append(out, pol)
				break
			}
		}
	}
	return out
}

// evalPolicy evaluates a policy's rules by priority; final says whether a rule decided
// (allow or deny) rather than passing on (goto_next, or no rule matched).
func evalPolicy(pol *compute.FirewallPolicy, kind, network, dir string, p Packet, t Target) (Verdict, bool) {
	rules := append([]*compute.FirewallPolicyRule(nil), pol.Rules...)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	name := pol.ShortName
	if name == "" {
		name = pol.Name
	}
	for _, r := range rules {
		if !policyRuleMatches(r, network, dir, p, t) {
			continue
		}
		by := fmt.Sprintf("%s %s rule %d (%s)", kind, name, r.Priority, r.Action)
		switch r.Action {
		case "allow", "apply_security_profile_group":
			return Verdict{Allowed: true, By: by}, true
		case "deny":
			return Verdict{Allowed: false, By: by}, true
		default: // goto_next
			return Verdict{}, false
		}
	}
	return Verdict{}, false
}

func policyRuleMatches(r *compute.FirewallPolicyRule, network, dir string, p Packet, t Target) bool {
	if r.Disabled || r.Direction != dir || r.Match == nil {
		return false
	}
	m := r.Match
	if !l4Matches(m.Layer4Configs, p.Port) {
		return false
	}
	deny := r.Action == "deny"
	if len(m.DestIpRanges) > 0 && !addrIn(m.DestIpRanges, p.Dst) {
		return false
	}
	if dir == "INGRESS" {
		if len(m.SrcIpRanges) == 0 && len(m.SrcSecureTags) > 0 {
			return false // Cloud Run and connector sources carry no secure tags
		}
	}
	if len(m.SrcIpRanges) > 0 && !srcIn(m.SrcIpRanges, p.Src, deny) {
		return false
	}
	if len(r.TargetResources) > 0 {
		ok := false
		for _, tr := range r.TargetResources {
			if NetworkName(tr) == network {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.TargetSecureTags) > 0 {
		if t.Direct || len(t.SecureTags) == 0 {
			return false
		}
		ok := false
		for _, st := range r.TargetSecureTags {
			for _, have := range t.SecureTags {
				if st.Name == have {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.TargetServiceAccounts) > 0 && (t.Direct || t.ServiceAccount == "" || !intersects(r.TargetServiceAccounts, []string{t.ServiceAccount})) {
		return false
	}
	return true
}

// evalVPCRules applies the network's VPC firewall rules: the matching rule with the lowest
// priority number decides, deny first at equal priority.
func (w *World) evalVPCRules(project, network, dir string, p Packet, t Target) (Verdict, bool) {
	var best *compute.Firewall
	bestDeny := false
	for _, k := range SortedKeys(w.S.Firewalls) {
		f := w.S.Firewalls[k]
		if !strings.HasPrefix(k, project+"/") || NetworkName(f.Network) != network || f.Disabled {
			continue
		}
		fdir := f.Direction
		if fdir == "" {
			fdir = "INGRESS"
		}
		if fdir != dir {
			continue
		}
		deny := len(f.Denied) > 0
		if !vpcRuleMatches(f, dir, deny, p, t) {
			continue
		}
		if best == nil || f.Priority < best.Priority || (f.Priority == best.Priority && deny && !bestDeny) {
			best, bestDeny = f, deny
		}
	}
	if best == nil {
		return Verdict{}, false
	}
	action := "allow"
	if bestDeny {
		action = "deny"
	}
	return Verdict{Allowed: !bestDeny, By: fmt.Sprintf("VPC firewall rule %s (priority %d, %s)", best.Name, best.Priority, action)}, true
}

func vpcRuleMatches(f *compute.Firewall, dir string, deny bool, p Packet, t Target) bool {
	var protoOK bool
	if deny {
		for _, d := range f.Denied {
			protoOK = protoOK || protoPortMatches(d.IPProtocol, d.Ports, p.Port)
		}
	} else {
		for _, a := range f.Allowed {
			protoOK = protoOK || protoPortMatches(a.IPProtocol, a.Ports, p.Port)
		}
	}
	if !protoOK {
		return false
	}
	// Targets: none means every instance of the network.
	if len(f.TargetTags) > 0 && !intersects(f.TargetTags, t.Tags) {
		return false
	}
	if len(f.TargetServiceAccounts) > 0 && (t.Direct || t.ServiceAccount == "" || !intersects(f.TargetServiceAccounts, []string{t.ServiceAccount})) {
		return false
	}
	if dir == "EGRESS" {
		dst := f.DestinationRanges
		if len(dst) == 0 {
			dst = []string{"0.0.0.0/0"}
		}
		if !addrIn(dst, p.Dst) {
			return false
		}
		return len(f.SourceRanges) == 0 || srcIn(f.SourceRanges, p.Src, deny)
	}
	if len(f.DestinationRanges) > 0 && !addrIn(f.DestinationRanges, p.Dst) {
		return false
	}
	// Ingress sources: ranges, or the source instances' tags or service accounts. With none
	// given the source is 0.0.0.0/0 (VPC docs, "VPC firewall rules": sources for ingress rules).
	if len(f.SourceRanges) == 0 && len(f.SourceTags) == 0 && len(f.SourceServiceAccounts) == 0 {
		return true
	}
	if len(f.SourceRanges) > 0 && srcIn(f.SourceRanges, p.Src, deny) {
		return true
	}
	if len(f.SourceTags) > 0 && !p.Direct && intersects(f.SourceTags, p.SrcTags) {
		return true
	}
	return false
}

func l4Matches(cfgs []*compute.FirewallPolicyRuleMatcherLayer4Config, port int) bool {
	if len(cfgs) == 0 {
		return true
	}
	for _, c := range cfgs {
		if protoPortMatches(c.IpProtocol, c.Ports, port) {
			return true
		}
	}
	return false
}

// protoPortMatches reports whether a protocol and port list covers a TCP connection to port.
func protoPortMatches(proto string, ports []string, port int) bool {
	switch strings.ToLower(proto) {
	case "tcp", "6", "all":
	default:
		return false
	}
	if len(ports) == 0 || strings.ToLower(proto) == "all" {
		return true
	}
	for _, pr := range ports {
		lo, hi, ok := strings.Cut(pr, "-")
		l, err1 := strconv.Atoi(lo)
		h := l
		var err2 error
		if ok {
			h, err2 = strconv.Atoi(hi)
		}
		if err1 == nil && err2 == nil && port >= l && port <= h {
			return true
		}
	}
	return false
}

func addrIn(ranges []string, a netip.Addr) bool {
	for _, r := range ranges {
		if p, err := parseRangeOrAddr(r); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

// srcIn reports whether ranges cover the source: contain all of it (for allow rules), or
// overlap it (for deny rules).
func srcIn(ranges []string, src netip.Prefix, deny bool) bool {
	for _, r := range ranges {
		p, err := parseRangeOrAddr(r)
		if err != nil || p.Addr().Is4() != src.Addr().Is4() {
			continue
		}
		if deny && p.Overlaps(src) {
			return true
		}
		if !deny && p.Bits() <= src.Bits() && p.Contains(src.Addr()) {
			return true
		}
	}
	return false
}
