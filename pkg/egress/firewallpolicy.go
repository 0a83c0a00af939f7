package egress

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/pkg/ipam"
)

// This file evaluates firewall policies and VPC firewall rules together, in the order Cloud
// NGFW applies them (Firewall docs, "Evaluation order for firewall policies and rules"):
// hierarchical policies (organization, then folders top down), then, with the network's
// networkFirewallPolicyEnforcementOrder AFTER_CLASSIC_FIREWALL (the default), the VPC firewall
// rules, then global and regional network firewall policies (BEFORE_CLASSIC_FIREWALL puts the
// network policies first), then the implied rules (allow egress, deny ingress). In a policy
// the rule with the lowest priority number that matches decides: allow or deny end the
// evaluation, goto_next passes to the next level. Among VPC firewall rules the matching rule
// with the lowest priority number decides, a deny winning over an allow of the same priority.

// Firewall policy types, as networks.getEffectiveFirewalls and
// regionNetworkFirewallPolicies.getEffectiveFirewalls report them.
const (
	PolicyHierarchy       = "HIERARCHY"
	PolicyNetwork         = "NETWORK"
	PolicyNetworkRegional = "NETWORK_REGIONAL"
)

// Firewall policy rule actions (Compute's FirewallPolicyRule.action).
const (
	PolicyActionAllow    = "allow"
	PolicyActionDeny     = "deny"
	PolicyActionGotoNext = "goto_next"
	PolicyActionProfile  = "apply_security_profile_group"
)

// EnforceBeforeClassic is the networkFirewallPolicyEnforcementOrder that evaluates network
// firewall policies before the VPC firewall rules.
const EnforceBeforeClassic = "BEFORE_CLASSIC_FIREWALL"

// FirewallPolicyFacts is everything that decides the traffic of a network in a region: the
// firewall policies that apply to it, in evaluation order, and its VPC firewall rules.
type FirewallPolicyFacts struct {
	// Network is the network, in any form ParseNetworkRef accepts.
	Network string `json:"network,omitempty"`
	// EnforcementOrder is the network's networkFirewallPolicyEnforcementOrder
	// (AFTER_CLASSIC_FIREWALL when empty).
	EnforcementOrder string `json:"enforcementOrder,omitempty"`
	// Policies are the policies in evaluation order: hierarchical ones (organization first,
	// then folders top down), then global, then regional network policies.
	Policies []FirewallPolicy `json:"policies,omitempty"`
	// Rules are the network's VPC firewall rules.
	Rules []FirewallRule `json:"rules,omitempty"`
}

// FirewallPolicy is a firewall policy with its rules.
type FirewallPolicy struct {
	// Name is the policy's name (a number for a hierarchical policy), ShortName its short
	// name when it has one.
	Name      string `json:"name"`
	ShortName string `json:"shortName,omitempty"`
	// Type is PolicyHierarchy, PolicyNetwork or PolicyNetworkRegional.
	Type  string       `json:"type"`
	Rules []PolicyRule `json:"rules,omitempty"`
}

// PolicyRule is a firewall policy rule, with the fields that decide traffic.
type PolicyRule struct {
	Priority  int    `json:"priority"`
	Direction string `json:"direction"`
	// Action is allow, deny, goto_next or apply_security_profile_group.
	Action   string `json:"action"`
	Disabled bool   `json:"disabled,omitempty"`
	// SrcRanges and DestRanges are the match's srcIpRanges and destIpRanges.
	SrcRanges  []string `json:"srcIpRanges,omitempty"`
	DestRanges []string `json:"destIpRanges,omitempty"`
	// SrcSecureTags is set when the rule matches sources by secure tag.
	SrcSecureTags bool `json:"srcSecureTags,omitempty"`
	// Layer4 are the protocols and ports matched; empty matches all.
	Layer4 []FirewallPermission `json:"layer4Configs,omitempty"`
	// Targets are the rule's target secure tags and service accounts; empty applies to every
	// instance of the network.
	Targets []string `json:"targets,omitempty"`
}

func (p FirewallPolicy) label() string {
	kind := "network firewall policy"
	switch p.Type {
	case PolicyHierarchy:
		kind = "hierarchical firewall policy"
	case PolicyNetworkRegional:
		kind = "regional network firewall policy"
	}
	name := p.ShortName
	if name == "" {
		name = p.Name
	}
	return kind + " " + name
}

// fwProbe is a connection the evaluation judges: a direction, a destination (invalid: any),
// a TCP port (0: any) and the destination's targets (ingress) it is about.
type fwProbe struct {
	dir     string
	dst     netip.Addr
	port    int
	targets []string
	// dstRange is the range dst was taken from, as the rule names it (messages).
	dstRange string
}

func (p fwProbe) describe() string {
	var parts []string
	if p.dir == "EGRESS" {
		parts = append(parts, "egress")
	} else {
		parts = append(parts, "ingress")
	}
	to := "any destination"
	switch {
	case p.dstRange != "":
		to = p.dstRange
	case p.dst.IsValid():
		to = p.dst.String()
	}
	if p.port > 0 {
		to += ":" + strconv.Itoa(p.port)
	}
	parts = append(parts, "to "+to)
	if len(p.targets) > 0 {
		parts = append(parts, "("+strings.Join(p.targets, ",")+")")
	}
	return strings.Join(parts, " ")
}

// fwVerdict is the evaluation's decision and what made it; policy is set when a firewall
// policy rule decided.
type fwVerdict struct {
	allowed bool
	by      string
	policy  bool
}

// evaluate judges probe p for traffic of identity id.
func (f *FirewallPolicyFacts) evaluate(p fwProbe, id identity, direct bool) fwVerdict {
	for _, pol := range f.Policies {
		if pol.Type != PolicyHierarchy {
			continue
		}
		if v, final := evalPolicy(pol, p, id); final {
			return v
		}
	}
	network := func() (fwVerdict, bool) {
		for _, typ := range []string{PolicyNetwork, PolicyNetworkRegional} {
			for _, pol := range f.Policies {
				if pol.Type != typ {
					continue
				}
				if v, final := evalPolicy(pol, p, id); final {
					return v, true
				}
			}
		}
		return fwVerdict{}, false
	}
	classic := func() (fwVerdict, bool) { return evalClassic(f.Rules, p, id, direct) }
	steps := []func() (fwVerdict, bool){classic, network}
	if f.EnforcementOrder == EnforceBeforeClassic {
		steps[0], steps[1] = network, classic
	}
	for _, s := range steps {
		if v, final := s(); final {
			return v
		}
	}
	if p.dir == "EGRESS" {
		return fwVerdict{allowed: true, by: "the implied allow egress rule"}
	}
	return fwVerdict{by: "the implied deny ingress rule"}
}

func evalPolicy(pol FirewallPolicy, p fwProbe, id identity) (fwVerdict, bool) {
	rules := slices.Clone(pol.Rules)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	for _, r := range rules {
		if !policyRuleMatches(r, p, id) {
			continue
		}
		by := fmt.Sprintf("%s rule %d (%s)", pol.label(), r.Priority, r.Action)
		switch r.Action {
		case PolicyActionAllow, PolicyActionProfile:
			return fwVerdict{allowed: true, by: by, policy: true}, true
		case PolicyActionDeny:
			return fwVerdict{by: by, policy: true}, true
		}
		return fwVerdict{}, false // goto_next
	}
	return fwVerdict{}, false
}

func policyRuleMatches(r PolicyRule, p fwProbe, id identity) bool {
	if r.Disabled || !strings.EqualFold(dirOf(r.Direction), p.dir) {
		return false
	}
	if !l4Match(r.Layer4, p.port) || !dstMatch(r.DestRanges, p.dst) {
		return false
	}
	deny := r.Action == PolicyActionDeny
	if p.dir == "EGRESS" {
		// Cloud Run instances and connector VMs carry no secure tags or service accounts
		// that firewall rules can target.
		if len(r.Targets) > 0 {
			return false
		}
		return len(r.SrcRanges) == 0 || srcMatch(r.SrcRanges, id.ranges, deny)
	}
	if !targetsMatch(r.Targets, p.targets) {
		return false
	}
	if len(r.SrcRanges) == 0 {
		return !r.SrcSecureTags
	}
	return srcMatch(r.SrcRanges, id.ranges, deny)
}

func evalClassic(rules []FirewallRule, p fwProbe, id identity, direct bool) (fwVerdict, bool) {
	var best *FirewallRule
	for i := range rules {
		r := &rules[i]
		if !classicMatches(*r, p, id, direct) {
			continue
		}
		if best == nil || r.Priority < best.Priority || (r.Priority == best.Priority && r.IsDeny() && !best.IsDeny()) {
			best = r
		}
	}
	if best == nil {
		return fwVerdict{}, false
	}
	return fwVerdict{allowed: !best.IsDeny(), by: "VPC firewall rule " + best.describe()}, true
}

func classicMatches(r FirewallRule, p fwProbe, id identity, direct bool) bool {
	dir := "INGRESS"
	if !r.IsIngress() {
		dir = "EGRESS"
	}
	if r.Disabled || dir != p.dir {
		return false
	}
	perms := r.Allowed
	if r.IsDeny() {
		perms = r.Denied
	}
	if !l4Match(perms, p.port) {
		return false
	}
	if p.dir == "EGRESS" {
		if len(r.TargetTags) > 0 && !intersects(r.TargetTags, id.tags) {
			return false
		}
		dst := r.DestinationRanges
		if len(dst) == 0 {
			dst = []string{"0.0.0.0/0"}
		}
		if !dstMatch(dst, p.dst) {
			return false
		}
		return len(r.SourceRanges) == 0 || srcMatch(r.SourceRanges, id.ranges, r.IsDeny())
	}
	if !targetsMatch(r.TargetTags, p.targets) || !dstMatch(r.DestinationRanges, p.dst) {
		return false
	}
	if len(r.SourceRanges) == 0 && len(r.SourceTags) == 0 {
		return true
	}
	if len(r.SourceRanges) > 0 && srcMatch(r.SourceRanges, id.ranges, r.IsDeny()) {
		return true
	}
	// Direct VPC egress traffic cannot be matched by source network tags (Cloud Run docs,
	// "Direct VPC egress": limitations); a connector's VMs can.
	return len(r.SourceTags) > 0 && !direct && intersects(r.SourceTags, id.tags)
}

func dirOf(d string) string {
	if strings.EqualFold(d, "EGRESS") {
		return "EGRESS"
	}
	return "INGRESS"
}

// l4Match reports whether protocols and ports cover a TCP connection to port (0: some TCP
// connection).
func l4Match(perms []FirewallPermission, port int) bool {
	if len(perms) == 0 {
		return true
	}
	for _, pm := range perms {
		switch strings.ToLower(pm.Protocol) {
		case "all":
			return true
		case "tcp", "6":
		default:
			continue
		}
		if len(pm.Ports) == 0 || port == 0 {
			return true
		}
		for _, pr := range pm.Ports {
			lo, hi, ok := strings.Cut(pr, "-")
			l, err1 := strconv.Atoi(lo)
			h, err2 := l, error(nil)
			if ok {
				h, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil && port >= l && port <= h {
				return true
			}
		}
	}
	return false
}

// dstMatch reports whether ranges (none: any) hold dst (invalid: any destination).
func dstMatch(ranges []string, dst netip.Addr) bool {
	if len(ranges) == 0 || !dst.IsValid() {
		return true
	}
	for _, r := range ranges {
		if p, err := parseRangeOrAddr(r); err == nil && p.Contains(dst) {
			return true
		}
	}
	return false
}

// srcMatch reports whether ranges cover the source: contain all of every range of it (an
// allow rule admits every instance), or overlap one (a deny rule denies some instance).
func srcMatch(ranges []string, src []netip.Prefix, deny bool) bool {
	if len(src) == 0 {
		return false
	}
	all := true
	for _, s := range src {
		hit := false
		for _, r := range ranges {
			p, err := parseRangeOrAddr(r)
			if err != nil || p.Addr().Is4() != s.Addr().Is4() {
				continue
			}
			if deny && ipam.Overlaps(p, s) {
				return true
			}
			if ipam.Contains(p, s) {
				hit = true
			}
		}
		all = all && hit
	}
	return !deny && all
}

// targetsMatch reports whether a rule with targets applies to the probe's targets: a rule
// without targets applies to every instance; one with targets only to a probe that names
// one of them.
func targetsMatch(rule, probe []string) bool {
	return len(rule) == 0 || intersects(rule, probe)
}

func parseRangeOrAddr(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// probes returns the connections worth comparing: one per rule that singles out traffic by
// source range (or, for VPC rules, tags), at the destination, port and targets it names.
func (f *FirewallPolicyFacts) probes() []fwProbe {
	var out []fwProbe
	seen := map[string]bool{}
	add := func(p fwProbe) {
		k := p.describe()
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	probeOf := func(dir string, dst []string, perms []FirewallPermission, targets []string) fwProbe {
		p := fwProbe{dir: dir, targets: slices.Clone(targets)}
		if dir == "EGRESS" {
			p.targets = nil
		}
		for _, d := range dst {
			if q, err := parseRangeOrAddr(d); err == nil && q.Bits() > 0 {
				p.dst = q.Addr()
				if q.Bits() < q.Addr().BitLen() {
					p.dstRange = q.String() // a range, not the address of its first host
				}
				break
			}
		}
		for _, pm := range perms {
			if pr := strings.ToLower(pm.Protocol); pr == "tcp" || pr == "6" {
				if len(pm.Ports) > 0 {
					lo, _, _ := strings.Cut(pm.Ports[0], "-")
					p.port, _ = strconv.Atoi(lo)
				}
				break
			}
		}
		return p
	}
	for _, pol := range f.Policies {
		for _, r := range pol.Rules {
			if r.Disabled || !slices.ContainsFunc(r.SrcRanges, func(s string) bool {
				p, err := parseRangeOrAddr(s)
				return err == nil && p.Bits() > 0
			}) {
				continue // no source range singles out traffic
			}
			add(probeOf(dirOf(r.Direction), r.DestRanges, r.Layer4, r.Targets))
		}
	}
	for _, r := range f.Rules {
		if r.Disabled || !specific(r) {
			continue
		}
		perms := r.Allowed
		if r.IsDeny() {
			perms = r.Denied
		}
		dir := "INGRESS"
		if !r.IsIngress() {
			dir = "EGRESS"
		}
		add(probeOf(dir, r.DestinationRanges, perms, r.TargetTags))
	}
	return out
}
