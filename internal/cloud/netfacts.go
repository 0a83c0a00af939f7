package cloud

import (
	"context"
	"fmt"
	"slices"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Reads and the one change behind the network checks: the firewall policies in force on a
// network, and Private Google Access on a subnetwork.

// FirewallPolicies returns what decides the traffic of network (a path or a name in project)
// in region: the hierarchical, global and regional network firewall policies that apply, in
// evaluation order, with their rules, the network's VPC firewall rules (one
// regionNetworkFirewallPolicies.getEffectiveFirewalls call) and its policy enforcement order
// (networks.get, when network policies apply).
func (c *Clients) FirewallPolicies(ctx context.Context, network, project, region string) (*egress.FirewallPolicyFacts, error) {
	nref, err := egress.ParseNetworkRef(network, project)
	if err != nil {
		return nil, err
	}
	if err := checkNames(nref, regionName(region)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	eff, err := computeRead(ctx, func(ctx context.Context) (*compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponse, error) {
		return cs.RegionNetworkFirewallPolicies.GetEffectiveFirewalls(nref.Project, region, nref.Path()).Context(ctx).Do()
	})
	if err != nil {
		return nil, computeErr(fmt.Sprintf("read the firewall policies of network %q in %s", nref.Name, region), err)
	}
	// The enforcement order matters only when network firewall policies apply.
	order := ""
	if slices.ContainsFunc(eff.FirewallPolicys, func(p *compute.RegionNetworkFirewallPoliciesGetEffectiveFirewallsResponseEffectiveFirewallPolicy) bool {
		return p.Type == egress.PolicyNetwork || p.Type == egress.PolicyNetworkRegional
	}) {
		n, err := computeRead(ctx, func(ctx context.Context) (*compute.Network, error) {
			return cs.Networks.Get(nref.Project, nref.Name).Fields("networkFirewallPolicyEnforcementOrder").Context(ctx).Do()
		})
		if err != nil {
			return nil, computeErr(fmt.Sprintf("read network %q", nref.Name), err)
		}
		order = n.NetworkFirewallPolicyEnforcementOrder
	}
	out := &egress.FirewallPolicyFacts{Network: nref.Path(), EnforcementOrder: order}
	for _, fw := range eff.Firewalls {
		out.Rules = append(out.Rules, firewallFromCompute(fw))
	}
	for _, p := range eff.FirewallPolicys {
		if p.Type != egress.PolicyHierarchy && p.Type != egress.PolicyNetwork && p.Type != egress.PolicyNetworkRegional {
			continue // SYSTEM policies and the like hold no rules of the user's
		}
		pol := egress.FirewallPolicy{Name: p.Name, ShortName: p.DisplayName, Type: p.Type}
		for _, r := range p.Rules {
			pol.Rules = append(pol.Rules, policyRuleFromCompute(r))
		}
		out.Policies = append(out.Policies, pol)
	}
	return out, nil
}

func policyRuleFromCompute(r *compute.FirewallPolicyRule) egress.PolicyRule {
	pr := egress.PolicyRule{Priority: int(r.Priority), Direction: r.Direction, Action: r.Action, Disabled: r.Disabled,
		Targets: slices.Clone(r.TargetServiceAccounts)}
	for _, t := range r.TargetSecureTags {
		pr.Targets = append(pr.Targets, t.Name)
	}
	if m := r.Match; m != nil {
		pr.SrcRanges, pr.DestRanges = slices.Clone(m.SrcIpRanges), slices.Clone(m.DestIpRanges)
		pr.SrcSecureTags = len(m.SrcSecureTags) > 0
		for _, l := range m.Layer4Configs {
			pr.Layer4 = append(pr.Layer4, egress.FirewallPermission{Protocol: l.IpProtocol, Ports: slices.Clone(l.Ports)})
		}
	}
	return pr
}

// SetPrivateGoogleAccess turns Private Google Access on (or off) on a subnetwork
// (subnetworks.setPrivateIpGoogleAccess) and waits for the operation unless opts.Async.
func (c *Clients) SetPrivateGoogleAccess(ctx context.Context, ref egress.SubnetRef, on bool, opts WaitOptions) error {
	if err := checkNames(ref); err != nil {
		return err
	}
	cs, err := c.Compute()
	if err != nil {
		return err
	}
	body := &compute.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: on, ForceSendFields: []string{"PrivateIpGoogleAccess"}}
	op, err := computeWrite(ctx, func(ctx context.Context, id string) (*compute.Operation, error) {
		return cs.Subnetworks.SetPrivateIpGoogleAccess(ref.Project, ref.Region, ref.Name, body).RequestId(id).Context(ctx).Do()
	})
	if err == nil && !opts.Async {
		opts.progress("Turning Private Google Access on for subnet %s (operation %s)...", ref.Name, op.Name)
		_, err = waitCompute(ctx, cs, ref.Project, op)
	}
	if err != nil {
		return computeErr(fmt.Sprintf("set Private Google Access on subnet %q", ref.Name), err)
	}
	return nil
}
