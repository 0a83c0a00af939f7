package computeapi

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

var firewallPolicyMethodIDs = func() []string {
	var out []string
	for _, coll := range []string{"firewallPolicies", "networkFirewallPolicies", "regionNetworkFirewallPolicies"} {
		for _, m := range []string{"insert", "list", "get", "delete", "addRule", "getRule", "patchRule", "removeRule", "addAssociation", "getAssociation", "removeAssociation"} {
			out = append(out, "compute."+coll+"."+m)
		}
	}
	return append(out, "compute.networkFirewallPolicies.aggregatedList", "compute.firewallPolicies.listAssociations", "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls",
		"compute.globalOrganizationOperations.get", "compute.networks.getEffectiveFirewalls",
		"compute.routes.insert", "compute.routes.delete", "compute.routers.getRouterStatus",
		"compute.vpnTunnels.insert", "compute.vpnTunnels.get", "compute.vpnTunnels.list", "compute.vpnTunnels.delete")
}()

// orgOK waits for an organization-scope operation (locations/global/operations) by polling
// globalOrganizationOperations.get, which has no wait method.
func (e *env) orgOK(t *testing.T) func(*compute.Operation, error) *compute.Operation {
	return func(op *compute.Operation, err error) *compute.Operation {
		t.Helper()
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		for op.Status != "DONE" {
			time.Sleep(5 * time.Millisecond)
			if op, err = e.svc.GlobalOrganizationOperations.Get(op.Name).Do(); err != nil {
				t.Fatalf("get org operation: %v", err)
			}
		}
		if op.Error != nil {
			t.Fatalf("operation failed: %v", op.Error.Errors[0].Message)
		}
		return op
	}
}

func tcpRule(prio int64, action, dir string, ranges ...string) *compute.FirewallPolicyRule {
	m := &compute.FirewallPolicyRuleMatcher{Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{"5432"}}}}
	if dir == "EGRESS" {
		m.DestIpRanges = ranges
	} else {
		m.SrcIpRanges = ranges
	}
	return &compute.FirewallPolicyRule{Priority: prio, Action: action, Direction: dir, Match: m, ForceSendFields: []string{"Priority"}}
}

// Network firewall policies through the real client: rules by priority, associations, and
// the effective firewalls of the network.
func TestNetworkFirewallPolicyLifecycle(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	nfp := e.svc.NetworkFirewallPolicies
	e.ok(t)(nfp.Insert(testProject, &compute.FirewallPolicy{Name: "pol", Description: "d"}).Do())
	pol, err := nfp.Get(testProject, "pol").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Rules) != 4 || pol.RuleTupleCount != 8 || pol.Rules[3].Priority != 2147483647 || pol.Rules[3].Action != "goto_next" {
		t.Errorf("new policy = %d rules, %d tuples; want the 4 default goto_next rules, 8 tuples", len(pol.Rules), pol.RuleTupleCount)
	}
	if !strings.HasSuffix(pol.SelfLink, "projects/"+testProject+"/global/firewallPolicies/pol") {
		t.Errorf("selfLink = %s", pol.SelfLink)
	}
	e.ok(t)(nfp.AddRule(testProject, "pol", tcpRule(1000, "deny", "EGRESS", "192.168.0.0/16")).Do())
	_, err = nfp.AddRule(testProject, "pol", tcpRule(1000, "allow", "EGRESS", "10.0.0.0/8")).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = nfp.AddRule(testProject, "pol", tcpRule(2147483646, "allow", "EGRESS", "10.0.0.0/8")).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = nfp.AddRule(testProject, "pol", &compute.FirewallPolicyRule{Priority: 5, Action: "allow", Direction: "INGRESS",
		Match: &compute.FirewallPolicyRuleMatcher{Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp"}}}}).Do()
	wantErr(t, err, 400, "invalid", "") // an ingress rule needs a source
	r, err := nfp.GetRule(testProject, "pol").Priority(1000).Do()
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != "deny" || r.RuleTupleCount != 2 || r.Kind != "compute#firewallPolicyRule" {
		t.Errorf("rule = %+v", r)
	}
	e.ok(t)(nfp.PatchRule(testProject, "pol", &compute.FirewallPolicyRule{Action: "allow"}).Priority(1000).Do())
	if r, _ = nfp.GetRule(testProject, "pol").Priority(1000).Do(); r.Action != "allow" || r.Match.DestIpRanges[0] != "192.168.0.0/16" {
		t.Errorf("patched rule = %+v", r)
	}
	_, err = nfp.GetRule(testProject, "pol").Priority(7).Do()
	wantErr2(t, err, 400, "Invalid value for field 'priority': '7'. The firewall policy does not contain a rule at priority 7.")

	network := linkBase + networkPath(testProject, "vpc")
	e.ok(t)(nfp.AddAssociation(testProject, "pol", &compute.FirewallPolicyAssociation{Name: "vpc-assoc", AttachmentTarget: network}).Do())
	a, err := nfp.GetAssociation(testProject, "pol").Name("vpc-assoc").Do()
	if err != nil || a.AttachmentTarget != network {
		t.Fatalf("association = %+v, %v", a, err)
	}
	e.ok(t)(nfp.Insert(testProject, &compute.FirewallPolicy{Name: "other"}).Do())
	_, err = nfp.AddAssociation(testProject, "other", &compute.FirewallPolicyAssociation{AttachmentTarget: network}).Do()
	wantErr(t, err, 400, "invalid", "") // the network has a global policy already
	_, err = nfp.Delete(testProject, "pol").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource", "")

	eff, err := e.svc.Networks.GetEffectiveFirewalls(testProject, "vpc").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.FirewallPolicys) != 1 || eff.FirewallPolicys[0].Type != "NETWORK" || eff.FirewallPolicys[0].Name != "pol" || len(eff.FirewallPolicys[0].Rules) != 5 {
		t.Errorf("effective policies = %+v", eff.FirewallPolicys)
	}
	e.ok(t)(nfp.RemoveAssociation(testProject, "pol").Name("vpc-assoc").Do())
	e.ok(t)(nfp.RemoveRule(testProject, "pol").Priority(1000).Do())
	e.ok(t)(nfp.Delete(testProject, "pol").Do())
	if list, err := nfp.List(testProject).Do(); err != nil || len(list.Items) != 1 || list.Items[0].Name != "other" {
		t.Errorf("list = %+v, %v", list, err)
	}
}

// wantErr2 checks a status and exact message, whatever the errors[] list holds.
func wantErr2(t *testing.T, err error, status int, msg string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), fmt.Sprintf("Error %d", status)) {
		t.Errorf("error = %v, want %d %q", err, status, msg)
	}
}

// The evaluation order the network's enforcement order sets: with AFTER_CLASSIC_FIREWALL a VPC
// firewall rule that allows decides before a network policy that denies; with
// BEFORE_CLASSIC_FIREWALL the policy decides first. A hierarchical policy of the project's
// organization decides before both, and goto_next passes on.
func TestFirewallEvaluationOrder(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.ok(t)(e.svc.Firewalls.Insert(testProject, &compute.Firewall{
		Name: "allow-db", Network: "global/networks/vpc", Direction: "EGRESS", DestinationRanges: []string{"192.168.0.0/16"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"5432"}}},
	}).Do())
	nfp := e.svc.NetworkFirewallPolicies
	e.ok(t)(nfp.Insert(testProject, &compute.FirewallPolicy{Name: "pol"}).Do())
	e.ok(t)(nfp.AddRule(testProject, "pol", tcpRule(100, "deny", "EGRESS", "192.168.10.0/24")).Do())
	e.ok(t)(nfp.AddAssociation(testProject, "pol", &compute.FirewallPolicyAssociation{Name: "a", AttachmentTarget: "projects/" + testProject + "/global/networks/vpc"}).Do())

	verdict := func() world.Verdict {
		e.w.Lock()
		defer e.w.Unlock()
		return e.w.EvaluateFirewallLocked(testProject, "vpc", testRegion, "EGRESS",
			world.Packet{Src: netip.MustParsePrefix("10.8.0.0/24"), Dst: netip.MustParseAddr("192.168.10.5"), Port: 5432, Direct: true}, world.Target{Direct: true})
	}
	if v := verdict(); !v.Allowed || !strings.Contains(v.By, "allow-db") {
		t.Errorf("AFTER_CLASSIC_FIREWALL: %+v, want allowed by the VPC rule allow-db", v)
	}
	e.ok(t)(e.svc.Networks.Patch(testProject, "vpc", &compute.Network{NetworkFirewallPolicyEnforcementOrder: "BEFORE_CLASSIC_FIREWALL"}).Do())
	if v := verdict(); v.Allowed || !strings.Contains(v.By, "network firewall policy pol rule 100") {
		t.Errorf("BEFORE_CLASSIC_FIREWALL: %+v, want denied by the network policy", v)
	}

	// A hierarchical policy on the organization: goto_next passes, deny decides.
	fp := e.svc.FirewallPolicies
	op := e.orgOK(t)(fp.Insert(&compute.FirewallPolicy{ShortName: "org-pol"}).ParentId("organizations/42").Do())
	id := op.TargetLink[strings.LastIndex(op.TargetLink, "/")+1:]
	e.orgOK(t)(fp.AddRule(id, tcpRule(10, "goto_next", "EGRESS", "192.168.0.0/16")).Do())
	e.orgOK(t)(fp.AddAssociation(id, &compute.FirewallPolicyAssociation{AttachmentTarget: "organizations/42"}).Do())
	e.ok(t)(e.svc.Networks.Patch(testProject, "vpc", &compute.Network{NetworkFirewallPolicyEnforcementOrder: "AFTER_CLASSIC_FIREWALL"}).Do())
	e.w.Lock()
	_, err1 := e.w.PutOrganizationLocked(world.Organization{ID: "42"})
	_, err2 := e.w.PutProjectLocked(world.Project{ID: testProject, Parent: "organizations/42"})
	e.w.Unlock()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if v := verdict(); !v.Allowed {
		t.Errorf("goto_next in the org policy: %+v, want the VPC rule to decide (allowed)", v)
	}
	e.orgOK(t)(fp.PatchRule(id, &compute.FirewallPolicyRule{Action: "deny"}).Priority(10).Do())
	if v := verdict(); v.Allowed || !strings.Contains(v.By, "hierarchical firewall policy org-pol") {
		t.Errorf("deny in the org policy: %+v, want denied there", v)
	}
	// A folder's policy comes after the organization's: it decides only when the organization
	// passes on.
	fop := e.orgOK(t)(fp.Insert(&compute.FirewallPolicy{ShortName: "folder-pol"}).ParentId("folders/7").Do())
	fid := fop.TargetLink[strings.LastIndex(fop.TargetLink, "/")+1:]
	e.orgOK(t)(fp.AddRule(fid, tcpRule(1, "allow", "EGRESS", "0.0.0.0/0")).Do())
	e.orgOK(t)(fp.AddAssociation(fid, &compute.FirewallPolicyAssociation{AttachmentTarget: "folders/7"}).Do())
	e.w.Lock()
	_, err1 = e.w.PutFolderLocked(world.Folder{ID: "7", Parent: "organizations/42"})
	_, err2 = e.w.PutProjectLocked(world.Project{ID: testProject, Parent: "folders/7"})
	e.w.Unlock()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if v := verdict(); v.Allowed || !strings.Contains(v.By, "org-pol") {
		t.Errorf("org deny before folder allow: %+v", v)
	}
	e.orgOK(t)(fp.PatchRule(id, &compute.FirewallPolicyRule{Action: "goto_next"}).Priority(10).Do())
	if v := verdict(); !v.Allowed || !strings.Contains(v.By, "folder-pol") {
		t.Errorf("org goto_next, folder allow: %+v", v)
	}
	eff, err := e.svc.Networks.GetEffectiveFirewalls(testProject, "vpc").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.FirewallPolicys) != 3 || eff.FirewallPolicys[0].Name != id || eff.FirewallPolicys[1].Name != fid || eff.FirewallPolicys[2].Type != "NETWORK" || len(eff.Firewalls) != 1 {
		t.Errorf("effective = %d policies (%+v), %d firewalls", len(eff.FirewallPolicys), eff.FirewallPolicys, len(eff.Firewalls))
	}
	pols, err := fp.List().ParentId("organizations/42").Do()
	if err != nil || len(pols.Items) != 1 || pols.Items[0].DisplayName != "org-pol" || pols.Items[0].Parent != "organizations/42" {
		t.Errorf("org policies = %+v, %v", pols, err)
	}
	assocs, err := fp.ListAssociations().TargetResource("organizations/42").Do()
	if err != nil || len(assocs.Associations) != 1 || assocs.Associations[0].ShortName != "org-pol" {
		t.Errorf("associations = %+v, %v", assocs, err)
	}
}

// Regional network firewall policies apply in their region, and regionNetworkFirewallPolicies
// .getEffectiveFirewalls shows them with the rest.
func TestRegionalNetworkFirewallPolicy(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	rfp := e.svc.RegionNetworkFirewallPolicies
	e.ok(t)(rfp.Insert(testProject, testRegion, &compute.FirewallPolicy{Name: "rpol"}).Do())
	e.ok(t)(rfp.AddRule(testProject, testRegion, "rpol", tcpRule(100, "deny", "EGRESS", "192.168.10.0/24")).Do())
	e.ok(t)(rfp.AddAssociation(testProject, testRegion, "rpol", &compute.FirewallPolicyAssociation{Name: "a", AttachmentTarget: "global/networks/vpc"}).Do())
	eval := func(region string) world.Verdict {
		e.w.Lock()
		defer e.w.Unlock()
		return e.w.EvaluateFirewallLocked(testProject, "vpc", region, "EGRESS",
			world.Packet{Src: netip.MustParsePrefix("10.8.0.0/24"), Dst: netip.MustParseAddr("192.168.10.5"), Port: 5432}, world.Target{})
	}
	if v := eval(testRegion); v.Allowed {
		t.Errorf("in %s: %+v, want denied by the regional policy", testRegion, v)
	}
	if v := eval("us-central1"); !v.Allowed {
		t.Errorf("in us-central1: %+v, want the implied allow", v)
	}
	eff, err := rfp.GetEffectiveFirewalls(testProject, testRegion, "global/networks/vpc").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.FirewallPolicys) != 1 || eff.FirewallPolicys[0].Type != "NETWORK_REGIONAL" {
		t.Errorf("effective = %+v", eff.FirewallPolicys)
	}
}

// networkFirewallPolicies.aggregatedList is what `gcloud compute network-firewall-policies
// list` calls without --global or --regions: the project's global policies under "global",
// its regional ones under their region, other projects' not at all.
func TestNetworkFirewallPoliciesAggregatedList(t *testing.T) {
	e := newEnv(t)
	e.ok(t)(e.svc.NetworkFirewallPolicies.Insert(testProject, &compute.FirewallPolicy{Name: "global-pol"}).Do())
	e.ok(t)(e.svc.RegionNetworkFirewallPolicies.Insert(testProject, testRegion, &compute.FirewallPolicy{Name: "regional-pol"}).Do())
	e.ok(t)(e.svc.NetworkFirewallPolicies.Insert("other-project", &compute.FirewallPolicy{Name: "elsewhere"}).Do())
	l, err := e.svc.NetworkFirewallPolicies.AggregatedList(testProject).Do()
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "compute#networkFirewallPolicyAggregatedList" {
		t.Errorf("kind = %q", l.Kind)
	}
	got := map[string][]string{}
	for scope, sl := range l.Items {
		for _, pol := range sl.FirewallPolicies {
			got[scope] = append(got[scope], pol.Name)
		}
		if len(sl.FirewallPolicies) == 0 && (sl.Warning == nil || sl.Warning.Code != "NO_RESULTS_ON_PAGE") {
			t.Errorf("empty scope %s without the NO_RESULTS_ON_PAGE warning: %+v", scope, sl)
		}
	}
	if len(got) != 2 || fmt.Sprint(got["global"]) != "[global-pol]" || fmt.Sprint(got["regions/"+testRegion]) != "[regional-pol]" {
		t.Errorf("policies by scope = %v", got)
	}
}
