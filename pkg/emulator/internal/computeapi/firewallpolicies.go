package computeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Firewall policies: hierarchical ones (firewallPolicies, under locations/global, owned by an
// organization or a folder, named by a numeric id), global network firewall policies
// (networkFirewallPolicies, projects/P/global/firewallPolicies) and regional ones
// (regionNetworkFirewallPolicies, projects/P/regions/R/firewallPolicies): insert, get, list,
// delete, addRule, getRule, patchRule, removeRule, addAssociation, getAssociation,
// removeAssociation (and listAssociations for hierarchical ones). Rules keep the fields that
// decide traffic; world/firewall.go evaluates them.
//
// From the recorded exchange (realapi/compute/firewallpolicyrule-getRule-400.http.log): a new
// policy holds four default goto_next rules at priorities 2147483644 to 2147483647 (egress and
// ingress, IPv6 and IPv4), each counting 2 rule tuples; a hierarchical policy's name is its id
// and its displayName its shortName; the create operation shows no target until it is DONE;
// operation types createFirewallPolicy, addFirewallRuleToFirewallPolicy,
// patchFirewallRuleInFirewallPolicy, removeFirewallRuleFromFirewallPolicy and
// deleteFirewallPolicy; getRule at a priority without a rule answers 400 "Invalid value for
// field 'priority': 'N'. The firewall policy does not contain a rule at priority N." with no
// errors[] list. The operation types of network policies and of associations are not recorded:
// the emulator uses the same names for network policies, and addAssociationToFirewallPolicy /
// removeAssociationFromFirewallPolicy for associations.

const (
	// firstDefaultRulePriority is the lowest priority the default rules take; user rules
	// must be below it (Compute docs, FirewallPolicyRule.priority: "the priority must be a
	// positive value between 0 and 2147483647", the last four being the default rules').
	firstDefaultRulePriority = 2147483644
)

var (
	policyActions = []string{"allow", "deny", "goto_next", "apply_security_profile_group"}
	parentRE      = regexp.MustCompile(`^(organizations|folders)/[0-9]+$`)
)

// defaultPolicyRules are the rules every new policy starts with (recorded).
func defaultPolicyRules() []*compute.FirewallPolicyRule {
	mk := func(prio int64, dir, desc, rng string) *compute.FirewallPolicyRule {
		m := &compute.FirewallPolicyRuleMatcher{Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}
		if dir == "EGRESS" {
			m.DestIpRanges = []string{rng}
		} else {
			m.SrcIpRanges = []string{rng}
		}
		return &compute.FirewallPolicyRule{Action: "goto_next", Description: desc, Direction: dir, Kind: "compute#firewallPolicyRule",
			Match: m, Priority: prio, RuleTupleCount: 2}
	}
	return []*compute.FirewallPolicyRule{
		mk(2147483644, "EGRESS", "default egress rule ipv6", "::/0"),
		mk(2147483645, "INGRESS", "default ingress rule ipv6", "::/0"),
		mk(2147483646, "EGRESS", "default egress rule", "0.0.0.0/0"),
		mk(2147483647, "INGRESS", "default ingress rule", "0.0.0.0/0"),
	}
}

// ruleTuples counts a rule's tuples as the recordings show (one range and one layer-4 config
// make 2).
func ruleTuples(r *compute.FirewallPolicyRule) int64 {
	n := len(r.TargetServiceAccounts) + len(r.TargetSecureTags) + len(r.TargetResources)
	if m := r.Match; m != nil {
		n += len(m.SrcIpRanges) + len(m.DestIpRanges) + len(m.Layer4Configs) + len(m.SrcSecureTags) + len(m.SrcFqdns) + len(m.DestFqdns) + len(m.SrcRegionCodes) + len(m.DestRegionCodes)
	}
	return int64(n)
}

func policyTuples(p *compute.FirewallPolicy) int64 {
	var n int64
	for _, r := range p.Rules {
		n += r.RuleTupleCount
	}
	return n
}

// validateRule checks a rule of a policy (addRule, and the result of patchRule).
func validateRule(r *compute.FirewallPolicyRule) *apiError {
	if r.Priority < 0 || r.Priority >= firstDefaultRulePriority {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.priority': '%d'. The priority must be between 0 and %d; %d to 2147483647 are the default rules'.", r.Priority, firstDefaultRulePriority-1, firstDefaultRulePriority))
	}
	if r.Action == "" {
		return errRequired("resource.action")
	}
	if !contains(policyActions, r.Action) {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.action': '%s'. Must be one of [%s].", r.Action, strings.Join(policyActions, ", ")))
	}
	if aerr := checkEnum("resource.direction", r.Direction, "INGRESS", "EGRESS"); aerr != nil {
		return aerr
	}
	m := r.Match
	if m == nil {
		return errRequired("resource.match")
	}
	if len(m.Layer4Configs) == 0 {
		return errRequired("resource.match.layer4Configs")
	}
	var protos []string
	var ports [][]string
	for i, l := range m.Layer4Configs {
		if l == nil || l.IpProtocol == "" {
			return errRequired(fmt.Sprintf("resource.match.layer4Configs[%d].ipProtocol", i))
		}
		protos, ports = append(protos, l.IpProtocol), append(ports, l.Ports)
	}
	if aerr := checkRules("resource.match.layer4Configs", protos, ports); aerr != nil {
		return aerr
	}
	if aerr := checkRanges("resource.match.srcIpRanges", m.SrcIpRanges); aerr != nil {
		return aerr
	}
	if aerr := checkRanges("resource.match.destIpRanges", m.DestIpRanges); aerr != nil {
		return aerr
	}
	if r.Direction != "EGRESS" && len(m.SrcIpRanges)+len(m.SrcSecureTags)+len(m.SrcFqdns)+len(m.SrcRegionCodes)+len(m.SrcAddressGroups)+len(m.SrcThreatIntelligences) == 0 {
		return errInvalid("Invalid value for field 'resource.match': ''. An ingress rule must specify at least one source (srcIpRanges, srcSecureTags, srcFqdns, srcRegionCodes, srcAddressGroups or srcThreatIntelligences).")
	}
	if r.Direction == "EGRESS" && len(m.DestIpRanges)+len(m.DestFqdns)+len(m.DestRegionCodes)+len(m.DestAddressGroups)+len(m.DestThreatIntelligences) == 0 {
		return errInvalid("Invalid value for field 'resource.match': ''. An egress rule must specify at least one destination (destIpRanges, destFqdns, destRegionCodes, destAddressGroups or destThreatIntelligences).")
	}
	return nil
}

func normalizeRule(in *compute.FirewallPolicyRule) *compute.FirewallPolicyRule {
	r := clone(in)
	r.Kind = "compute#firewallPolicyRule"
	if r.Direction == "" {
		r.Direction = "INGRESS"
	}
	r.RuleTupleCount = ruleTuples(r)
	return r
}

func renderRule(r *compute.FirewallPolicyRule) *compute.FirewallPolicyRule {
	c := clone(r)
	c.ForceSendFields = []string{"Description", "Priority"}
	if c.Priority >= firstDefaultRulePriority {
		c.ForceSendFields = append(c.ForceSendFields, "EnableLogging")
	}
	return c
}

func renderPolicy(p *compute.FirewallPolicy) *compute.FirewallPolicy {
	c := clone(p)
	sort.SliceStable(c.Rules, func(i, j int) bool { return c.Rules[i].Priority < c.Rules[j].Priority })
	for i, r := range c.Rules {
		c.Rules[i] = renderRule(r)
		c.Rules[i].ForceSendFields = []string{"Priority", "EnableLogging"}
	}
	c.RuleTupleCount = policyTuples(p)
	return c
}

func ruleAt(p *compute.FirewallPolicy, prio int64) (int, *compute.FirewallPolicyRule) {
	for i, r := range p.Rules {
		if r.Priority == prio {
			return i, r
		}
	}
	return -1, nil
}

// errNoRule is the recorded answer for a priority the policy has no rule at: 400 with no
// errors[] list.
func errNoRule(prio string) *apiError {
	e := errInvalid(fmt.Sprintf("Invalid value for field 'priority': '%s'. The firewall policy does not contain a rule at priority %s.", prio, prio))
	e.Bare = true
	return e
}

func priorityParam(r *http.Request) (int64, string, *apiError) {
	s := r.URL.Query().Get("priority")
	if s == "" {
		return 0, "", errRequired("priority")
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < 0 {
		return 0, s, errInvalid(fmt.Sprintf("Invalid value for field 'priority': '%s'. Must be a number between 0 and 2147483647.", s))
	}
	return v, s, nil
}

// policyStore abstracts the three kinds of policy: where they are kept, their paths, and the
// scope of their operations.
type policyStore struct {
	kind  string // "hierarchical", "network", "regional"
	items func(*world.State) map[string]*compute.FirewallPolicy
}

var (
	hierarchicalPolicies = &policyStore{"hierarchical", func(s *world.State) map[string]*compute.FirewallPolicy { return s.Net.FirewallPolicies }}
	networkPolicies      = &policyStore{"network", func(s *world.State) map[string]*compute.FirewallPolicy { return s.Net.NetworkFirewallPolicies }}
	regionalPolicies     = &policyStore{"regional", func(s *world.State) map[string]*compute.FirewallPolicy { return s.Net.RegionNetworkFirewallPolicies }}
)

func (ps *policyStore) key(p params, name string) string {
	switch ps.kind {
	case "hierarchical":
		return name
	case "network":
		return world.GlobalKey(p["project"], name)
	}
	return world.RegionalKey(p["project"], p["region"], name)
}

func (ps *policyStore) path(p params, name string) string {
	switch ps.kind {
	case "hierarchical":
		return "locations/global/firewallPolicies/" + name
	case "network":
		return globalPath(p["project"], "firewallPolicies", name)
	}
	return regionalPath(p["project"], p["region"], "firewallPolicies", name)
}

func (ps *policyStore) flightKey(p params, name string) string {
	return flightKey("firewallPolicies/"+ps.kind, ps.key(p, name))
}

// getLocked returns the policy named (or, for network policies, numbered) name.
func (ps *policyStore) getLocked(w *world.World, p params, name string) (*compute.FirewallPolicy, string, *apiError) {
	all := ps.items(w.S)
	if pol, ok := all[ps.key(p, name)]; ok {
		return pol, pol.Name, nil
	}
	if id, err := strconv.ParseUint(name, 10, 64); err == nil {
		prefix := ps.key(p, "")
		for k, pol := range all {
			if strings.HasPrefix(k, prefix) && pol.Id == id {
				return pol, pol.Name, nil
			}
		}
	}
	return nil, "", errNotFound(ps.path(p, name))
}

func (ps *policyStore) currentLocked(w *world.World, p params, name string) (*compute.FirewallPolicy, string, *apiError) {
	pol, n, aerr := ps.getLocked(w, p, name)
	if aerr != nil {
		return nil, "", aerr
	}
	if flightLocked(w, ps.flightKey(p, n)) != nil {
		return nil, "", errNotReady(ps.path(p, n))
	}
	return pol, n, nil
}

// startLocked starts an operation on a policy; apply runs when it completes.
func (ps *policyStore) startLocked(w *world.World, p params, name, opType, rid string, id uint64, insert bool, apply func() *apiError) *compute.Operation {
	spec := opSpec{project: p["project"], region: p["region"], opType: opType, target: ps.path(p, name), targetID: id, requestID: rid,
		flightKey: ps.flightKey(p, name), fl: flight{insert: insert}, apply: apply}
	if ps.kind == "hierarchical" {
		// Organization-scope operations (locations/global/operations); a create shows its
		// target only when DONE (recorded).
		spec.org, spec.hideTarget = true, insert
	}
	return startOpLocked(w, spec)
}

// opsGetOrg serves globalOrganizationOperations.get.
func (s *server) opsGetOrg(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	op, ok := s.w.S.ComputeOps[opKey(orgScope, "", p["name"])]
	if !ok {
		return nil, errNotFound("locations/global/operations/" + p["name"])
	}
	return renderOp(op), nil
}

// Insert.

func policyInsert(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		var in compute.FirewallPolicy
		return s.mutate(r, p, &in, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
			pol := clone(&in)
			pol.Id = s.w.NextIDLocked()
			switch ps.kind {
			case "hierarchical":
				parent := r.URL.Query().Get("parentId")
				if parent == "" {
					parent = in.Parent
				}
				if !parentRE.MatchString(parent) {
					return nil, errInvalid(fmt.Sprintf("Invalid value for field 'parentId': '%s'. Must be organizations/ORGANIZATION_ID or folders/FOLDER_ID.", parent))
				}
				if in.ShortName == "" && in.DisplayName == "" {
					return nil, errRequired("resource.shortName")
				}
				if in.ShortName == "" {
					pol.ShortName = in.DisplayName
				}
				if aerr := checkName("resource.shortName", pol.ShortName); aerr != nil {
					return nil, aerr
				}
				for _, other := range s.w.S.Net.FirewallPolicies {
					if other.Parent == parent && other.ShortName == pol.ShortName {
						return nil, errAlreadyExists("locations/global/firewallPolicies/" + other.Name)
					}
				}
				pol.Name, pol.Parent, pol.DisplayName = strconv.FormatUint(pol.Id, 10), parent, pol.ShortName
			default:
				if aerr := checkName("resource.name", in.Name); aerr != nil {
					return nil, aerr
				}
				if ps.kind == "regional" {
					pol.Region = regionLink(p["project"], p["region"])
				}
				if _, ok := ps.items(s.w.S)[ps.key(p, in.Name)]; ok || flightLocked(s.w, ps.flightKey(p, in.Name)) != nil {
					return nil, errAlreadyExists(ps.path(p, in.Name))
				}
			}
			pol.Kind = "compute#firewallPolicy"
			pol.CreationTimestamp = timestamp(s.w.Now())
			pol.Fingerprint = randomFingerprint()
			pol.SelfLink = linkBase + ps.path(p, pol.Name)
			pol.SelfLinkWithId = linkBase + ps.path(p, strconv.FormatUint(pol.Id, 10))
			pol.Rules = defaultPolicyRules()
			pol.Associations = nil
			pol.RuleTupleCount = policyTuples(pol)
			key := ps.key(p, pol.Name)
			return ps.startLocked(s.w, p, pol.Name, "createFirewallPolicy", rid, pol.Id, true, func() *apiError {
				if _, ok := ps.items(s.w.S)[key]; ok {
					return errAlreadyExists(ps.path(p, pol.Name))
				}
				ps.items(s.w.S)[key] = pol
				return nil
			}), nil
		})
	}
}

// Get, list, delete.

func policyGet(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		s.w.Lock()
		defer s.w.Unlock()
		pol, _, aerr := ps.getLocked(s.w, p, p["name"])
		if aerr != nil {
			return nil, aerr
		}
		return renderPolicy(pol), nil
	}
}

func policyList(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		lp, aerr := parseListParams(r)
		if aerr != nil {
			return nil, aerr
		}
		parent := r.URL.Query().Get("parentId")
		if ps.kind == "hierarchical" && !parentRE.MatchString(parent) {
			return nil, errInvalid(fmt.Sprintf("Invalid value for field 'parentId': '%s'. Must be organizations/ORGANIZATION_ID or folders/FOLDER_ID.", parent))
		}
		s.w.Lock()
		items := ps.listLocked(s.w, p, parent)
		s.w.Unlock()
		self := "locations/global/firewallPolicies"
		if ps.kind != "hierarchical" {
			self = scopePath(p["project"], p["region"]) + "/firewallPolicies"
		}
		return lp.list("compute#firewallPolicyList", self, items)
	}
}

// listLocked lists the policies of one scope: a parent's hierarchical policies, a project's
// global or a project's regional (p["region"]) network policies.
func (ps *policyStore) listLocked(w *world.World, p params, parent string) []listItem {
	all := ps.items(w.S)
	var items []listItem
	prefix := ps.key(p, "")
	for _, k := range world.SortedKeys(all) {
		pol := all[k]
		if ps.kind == "hierarchical" && pol.Parent != parent || ps.kind != "hierarchical" && (!strings.HasPrefix(k, prefix) || strings.Contains(k[len(prefix):], "/")) {
			continue
		}
		items = append(items, toItem(renderPolicy(pol), pol.Name, pol.CreationTimestamp))
	}
	return items
}

// networkPoliciesAggregated answers networkFirewallPolicies.aggregatedList, what
// `gcloud compute network-firewall-policies list` calls without --global or --regions: the
// project's global policies under the "global" scope, its regional ones under
// "regions/REGION", in a compute#networkFirewallPolicyAggregatedList.
func (s *server) networkPoliciesAggregated(r *http.Request, p params) (any, *apiError) {
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	project := p["project"]
	s.w.Lock()
	scopes := []scopeItems{{scope: "global", items: networkPolicies.listLocked(s.w, params{"project": project}, "")}}
	for _, region := range world.RegionNames() {
		scopes = append(scopes, scopeItems{scope: "regions/" + region,
			items: regionalPolicies.listLocked(s.w, params{"project": project, "region": region}, "")})
	}
	s.w.Unlock()
	return lp.aggregated("compute#networkFirewallPolicyAggregatedList", "projects/"+project+"/aggregated/firewallPolicies", "firewallPolicies", scopes)
}

func policyDelete(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
			pol, name, aerr := ps.currentLocked(s.w, p, p["name"])
			if aerr != nil {
				return nil, aerr
			}
			if len(pol.Associations) > 0 {
				return nil, errInUse("firewallPolicy", ps.path(p, name), strings.TrimPrefix(pol.Associations[0].AttachmentTarget, linkBase))
			}
			key := ps.key(p, name)
			return ps.startLocked(s.w, p, name, "deleteFirewallPolicy", rid, pol.Id, false, func() *apiError {
				delete(ps.items(s.w.S), key)
				return nil
			}), nil
		})
	}
}

// Rules.

func policyAddRule(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		var in compute.FirewallPolicyRule
		return s.mutate(r, p, &in, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
			pol, name, aerr := ps.currentLocked(s.w, p, p["name"])
			if aerr != nil {
				return nil, aerr
			}
			if _, ok := present["priority"]; !ok {
				return nil, errRequired("resource.priority")
			}
			if aerr := validateRule(&in); aerr != nil {
				return nil, aerr
			}
			if _, cur := ruleAt(pol, in.Priority); cur != nil {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.priority': '%d'. The firewall policy already has a rule at priority %d.", in.Priority, in.Priority))
			}
			rule := normalizeRule(&in)
			return ps.changeLocked(s.w, p, name, "addFirewallRuleToFirewallPolicy", rid, pol, func(u *compute.FirewallPolicy) {
				u.Rules = append(u.Rules, rule)
			}), nil
		})
	}
}

// changeLocked starts a change of a policy: edit makes the new version from a copy, stored
// when the operation completes with a new fingerprint.
func (ps *policyStore) changeLocked(w *world.World, p params, name, opType, rid string, cur *compute.FirewallPolicy, edit func(*compute.FirewallPolicy)) *compute.Operation {
	u := clone(cur)
	edit(u)
	u.Fingerprint = randomFingerprint()
	u.RuleTupleCount = policyTuples(u)
	key := ps.key(p, name)
	return ps.startLocked(w, p, name, opType, rid, cur.Id, false, func() *apiError {
		if _, ok := ps.items(w.S)[key]; !ok {
			return errNotFound(ps.path(p, name))
		}
		ps.items(w.S)[key] = u
		return nil
	})
}

func policyGetRule(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		prio, raw, aerr := priorityParam(r)
		if aerr != nil {
			return nil, aerr
		}
		s.w.Lock()
		defer s.w.Unlock()
		pol, _, aerr := ps.getLocked(s.w, p, p["name"])
		if aerr != nil {
			return nil, aerr
		}
		_, rule := ruleAt(pol, prio)
		if rule == nil {
			return nil, errNoRule(raw)
		}
		out := renderRule(rule)
		if out.Priority < firstDefaultRulePriority {
			out.EnableLogging = false
		}
		return out, nil
	}
}

// policyPatchRule applies a JSON merge patch to the rule at ?priority=; a priority in the
// body moves the rule.
func policyPatchRule(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		var patch compute.FirewallPolicyRule
		return s.mutate(r, p, &patch, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
			prio, raw, aerr := priorityParam(r)
			if aerr != nil {
				return nil, aerr
			}
			pol, name, aerr := ps.currentLocked(s.w, p, p["name"])
			if aerr != nil {
				return nil, aerr
			}
			i, cur := ruleAt(pol, prio)
			if cur == nil {
				return nil, errNoRule(raw)
			}
			u := clone(cur)
			for k := range present {
				switch k {
				case "action":
					u.Action = patch.Action
				case "description":
					u.Description = patch.Description
				case "direction":
					u.Direction = patch.Direction
				case "disabled":
					u.Disabled = patch.Disabled
				case "enableLogging":
					u.EnableLogging = patch.EnableLogging
				case "match":
					u.Match = patch.Match
				case "priority":
					u.Priority = patch.Priority
				case "targetResources":
					u.TargetResources = patch.TargetResources
				case "targetSecureTags":
					u.TargetSecureTags = patch.TargetSecureTags
				case "targetServiceAccounts":
					u.TargetServiceAccounts = patch.TargetServiceAccounts
				case "ruleName":
					u.RuleName = patch.RuleName
				}
			}
			if aerr := validateRule(u); aerr != nil {
				return nil, aerr
			}
			if u.Priority != prio {
				if _, other := ruleAt(pol, u.Priority); other != nil {
					return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.priority': '%d'. The firewall policy already has a rule at priority %d.", u.Priority, u.Priority))
				}
			}
			rule := normalizeRule(u)
			return ps.changeLocked(s.w, p, name, "patchFirewallRuleInFirewallPolicy", rid, pol, func(np *compute.FirewallPolicy) {
				np.Rules[i] = rule
			}), nil
		})
	}
}

func policyRemoveRule(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
			prio, raw, aerr := priorityParam(r)
			if aerr != nil {
				return nil, aerr
			}
			pol, name, aerr := ps.currentLocked(s.w, p, p["name"])
			if aerr != nil {
				return nil, aerr
			}
			i, cur := ruleAt(pol, prio)
			if cur == nil {
				return nil, errNoRule(raw)
			}
			if prio >= firstDefaultRulePriority {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'priority': '%s'. The default rules of a firewall policy cannot be removed.", raw))
			}
			return ps.changeLocked(s.w, p, name, "removeFirewallRuleFromFirewallPolicy", rid, pol, func(np *compute.FirewallPolicy) {
				np.Rules = append(np.Rules[:i], np.Rules[i+1:]...)
			}), nil
		})
	}
}

// Associations: a network policy is associated with VPC networks of its project (a network
// takes one global and, per region, one regional network policy); a hierarchical one with an
// organization or a folder (one policy per node). Firewall docs, "Hierarchical firewall
// policies" and "Global network firewall policies": associations.

func policyAddAssociation(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		var in compute.FirewallPolicyAssociation
		return s.mutate(r, p, &in, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
			pol, name, aerr := ps.currentLocked(s.w, p, p["name"])
			if aerr != nil {
				return nil, aerr
			}
			replace := r.URL.Query().Get("replaceExistingAssociation") == "true"
			a := &compute.FirewallPolicyAssociation{Name: in.Name, FirewallPolicyId: strconv.FormatUint(pol.Id, 10)}
			if in.AttachmentTarget == "" {
				return nil, errRequired("resource.attachmentTarget")
			}
			var target string
			switch ps.kind {
			case "hierarchical":
				target = strings.TrimPrefix(in.AttachmentTarget, linkBase)
				if !parentRE.MatchString(target) {
					return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.attachmentTarget': '%s'. Must be organizations/ORGANIZATION_ID or folders/FOLDER_ID.", in.AttachmentTarget))
				}
				a.AttachmentTarget, a.ShortName, a.DisplayName = target, pol.ShortName, pol.ShortName
				if a.Name == "" {
					a.Name = target
				}
			default:
				network, aerr := networkRefLocked(s.w, p["project"], in.AttachmentTarget, "resource.attachmentTarget")
				if aerr != nil {
					return nil, aerr
				}
				target = linkBase + networkPath(p["project"], network)
				a.AttachmentTarget = target
				if a.Name == "" {
					a.Name = "network-" + network
				}
			}
			if aerr := checkName("resource.name", strings.ReplaceAll(a.Name, "/", "-")); aerr != nil {
				return nil, aerr
			}
			for _, have := range pol.Associations {
				if have.Name == a.Name {
					return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.name': '%s'. An association with that name already exists.", a.Name))
				}
			}
			// Another policy of the same kind (and region) on the same target.
			var other *compute.FirewallPolicy
			var otherKey string
			for k, op := range ps.items(s.w.S) {
				if op.Id == pol.Id || (ps.kind == "regional" && op.Region != pol.Region) {
					continue
				}
				for _, oa := range op.Associations {
					if oa.AttachmentTarget == a.AttachmentTarget {
						other, otherKey = op, k
					}
				}
			}
			if other != nil && !replace {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.attachmentTarget': '%s'. The target already has the firewall policy '%s' associated; set replaceExistingAssociation to replace it.", in.AttachmentTarget, other.Name))
			}
			return ps.changeLocked(s.w, p, name, "addAssociationToFirewallPolicy", rid, pol, func(np *compute.FirewallPolicy) {
				np.Associations = append(np.Associations, a)
				if other != nil {
					o := clone(other)
					var keep []*compute.FirewallPolicyAssociation
					for _, oa := range o.Associations {
						if oa.AttachmentTarget != a.AttachmentTarget {
							keep = append(keep, oa)
						}
					}
					o.Associations = keep
					ps.items(s.w.S)[otherKey] = o
				}
			}), nil
		})
	}
}

func policyGetAssociation(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		s.w.Lock()
		defer s.w.Unlock()
		pol, _, aerr := ps.getLocked(s.w, p, p["name"])
		if aerr != nil {
			return nil, aerr
		}
		name := r.URL.Query().Get("name")
		for _, a := range pol.Associations {
			if a.Name == name {
				return clone(a), nil
			}
		}
		return nil, errInvalid(fmt.Sprintf("Invalid value for field 'name': '%s'. The firewall policy has no association with that name.", name))
	}
}

func policyRemoveAssociation(ps *policyStore) handlerFunc {
	return func(s *server, r *http.Request, p params) (any, *apiError) {
		return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
			pol, name, aerr := ps.currentLocked(s.w, p, p["name"])
			if aerr != nil {
				return nil, aerr
			}
			an := r.URL.Query().Get("name")
			idx := -1
			for i, a := range pol.Associations {
				if a.Name == an {
					idx = i
				}
			}
			if idx < 0 {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'name': '%s'. The firewall policy has no association with that name.", an))
			}
			return ps.changeLocked(s.w, p, name, "removeAssociationFromFirewallPolicy", rid, pol, func(np *compute.FirewallPolicy) {
				np.Associations = append(np.Associations[:idx], np.Associations[idx+1:]...)
			}), nil
		})
	}
}

// listAssociations lists the hierarchical policies' associations with a target resource
// (organizations/ID or folders/ID).
func (s *server) policyListAssociations(r *http.Request, p params) (any, *apiError) {
	target := r.URL.Query().Get("targetResource")
	s.w.Lock()
	defer s.w.Unlock()
	out := &compute.FirewallPoliciesListAssociationsResponse{Kind: "compute#firewallPoliciesListAssociationsResponse"}
	for _, k := range world.SortedKeys(s.w.S.Net.FirewallPolicies) {
		for _, a := range s.w.S.Net.FirewallPolicies[k].Associations {
			if target == "" || a.AttachmentTarget == target {
				out.Associations = append(out.Associations, clone(a))
			}
		}
	}
	return out, nil
}

// Effective firewalls.

// networksGetEffectiveFirewalls returns, for a network, its VPC firewall rules and the
// hierarchical (type HIERARCHY, in evaluation order) and global network (type NETWORK)
// firewall policies that apply to it, with their rules: everything the global part of the
// evaluation uses, in one call. The network's networkFirewallPolicyEnforcementOrder (on the
// network) says where the network policies come.
func (s *server) networksGetEffectiveFirewalls(r *http.Request, p params) (any, *apiError) {
	project, network := p["project"], p["name"]
	s.w.Lock()
	defer s.w.Unlock()
	if _, aerr := networks.getLocked(s.w, target{project: project, name: network}); aerr != nil {
		return nil, aerr
	}
	out := &compute.NetworksGetEffectiveFirewallsResponse{Firewalls: effectiveVPCRulesLocked(s.w, project, network)}
	for _, pol := range s.w.HierarchicalPoliciesLocked(project) {
		out.FirewallPolicys = append(out.FirewallPolicys, &compute.NetworksGetEffectiveFirewallsResponseEffectiveFirewallPolicy{
			Name: pol.Name, ShortName: pol.ShortName, DisplayName: pol.DisplayName, Type: "HIERARCHY", Rules: renderPolicy(pol).Rules,
		})
	}
	for _, pol := range s.w.NetworkPoliciesLocked(project, network, "") {
		out.FirewallPolicys = append(out.FirewallPolicys, &compute.NetworksGetEffectiveFirewallsResponseEffectiveFirewallPolicy{
			Name: pol.Name, ShortName: pol.Name, DisplayName: pol.Name, Type: "NETWORK", Rules: renderPolicy(pol).Rules,
		})
	}
	return out, nil
}

func effectiveVPCRulesLocked(w *world.World, project, network string) []*compute.Firewall {
	var out []*compute.Firewall
	for _, k := range world.SortedKeys(w.S.Firewalls) {
		if f := w.S.Firewalls[k]; strings.HasPrefix(k, project+"/") && world.NetworkName(f.Network) == network {
			out = append(out, renderFirewall(f))
		}
	}
	return out
}

// regionGetEffectiveFirewalls is regionNetworkFirewallPolicies.getEffectiveFirewalls: for the
// network given by ?network=, the VPC firewall rules and the hierarchical (HIERARCHY), global
// (NETWORK) and regional (NETWORK_REGIONAL) network policies that apply in the region.
func (s *server) regionGetEffectiveFirewalls(r *http.Request, p params) (any, *apiError) {
	project, region := p["project"], p["region"]
	ref := r.URL.Query().Get("network")
	s.w.Lock()
	defer s.w.Unlock()
	network, aerr := networkRefLocked(s.w, project, ref, "network")
	if aerr != nil {
		return nil, aerr
	}
	out := &compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse{Firewalls: effectiveVPCRulesLocked(s.w, project, network)}
	add := func(pols []*compute.FirewallPolicy, typ string) {
		for _, pol := range pols {
			name := pol.ShortName
			if name == "" {
				name = pol.Name
			}
			out.FirewallPolicys = append(out.FirewallPolicys, &compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponseEffectiveFirewallPolicy{
				Name: pol.Name, DisplayName: name, Type: typ, Rules: renderPolicy(pol).Rules,
			})
		}
	}
	add(s.w.HierarchicalPoliciesLocked(project), "HIERARCHY")
	add(s.w.NetworkPoliciesLocked(project, network, ""), "NETWORK")
	add(s.w.NetworkPoliciesLocked(project, network, region), "NETWORK_REGIONAL")
	return out, nil
}

func init() {
	var add []route
	for _, k := range []struct {
		ps     *policyStore
		base   string
		prefix string
	}{
		{hierarchicalPolicies, "locations/global/firewallPolicies", "compute.firewallPolicies."},
		{networkPolicies, "projects/{project}/global/firewallPolicies", "compute.networkFirewallPolicies."},
		{regionalPolicies, "projects/{project}/regions/{region}/firewallPolicies", "compute.regionNetworkFirewallPolicies."},
	} {
		ps, b, id := k.ps, k.base, k.prefix
		if ps == hierarchicalPolicies {
			add = append(add, route{"GET", b + "/listAssociations", id + "listAssociations", (*server).policyListAssociations})
		}
		if ps == regionalPolicies {
			add = append(add, route{"GET", b + "/getEffectiveFirewalls", id + "getEffectiveFirewalls", (*server).regionGetEffectiveFirewalls})
		}
		add = append(add,
			route{"POST", b, id + "insert", policyInsert(ps)},
			route{"GET", b, id + "list", policyList(ps)},
			route{"GET", b + "/{name}", id + "get", policyGet(ps)},
			route{"DELETE", b + "/{name}", id + "delete", policyDelete(ps)},
			route{"POST", b + "/{name}/addRule", id + "addRule", policyAddRule(ps)},
			route{"GET", b + "/{name}/getRule", id + "getRule", policyGetRule(ps)},
			route{"POST", b + "/{name}/patchRule", id + "patchRule", policyPatchRule(ps)},
			route{"POST", b + "/{name}/removeRule", id + "removeRule", policyRemoveRule(ps)},
			route{"POST", b + "/{name}/addAssociation", id + "addAssociation", policyAddAssociation(ps)},
			route{"GET", b + "/{name}/getAssociation", id + "getAssociation", policyGetAssociation(ps)},
			route{"POST", b + "/{name}/removeAssociation", id + "removeAssociation", policyRemoveAssociation(ps)},
		)
	}
	add = append(add,
		route{"GET", "locations/global/operations/{name}", "compute.globalOrganizationOperations.get", (*server).opsGetOrg},
		route{"GET", "projects/{project}/aggregated/firewallPolicies", "compute.networkFirewallPolicies.aggregatedList", (*server).networkPoliciesAggregated},
		route{"GET", "projects/{project}/global/networks/{name}/getEffectiveFirewalls", "compute.networks.getEffectiveFirewalls", (*server).networksGetEffectiveFirewalls},
	)
	routes = append(routes, add...)
}
