package egress

import (
	"slices"
	"testing"
)

func TestServiceAgentCheck(t *testing.T) {
	hostSubnet := "projects/net-host/regions/" + region + "/subnetworks/shared"
	agent := "serviceAccount:service-1@serverless-robot-prod.iam.gserviceaccount.com"
	shared := func(sa *ServiceAgentFacts) Facts {
		f := baseFacts()
		f.Target = VPC{Subnet: hostSubnet}
		f.Network = &NetworkFacts{Name: "projects/net-host/global/networks/vpc", Exists: true}
		f.Subnet = &SubnetFacts{Name: hostSubnet, Region: region, Network: "projects/net-host/global/networks/vpc", CIDR: "10.8.0.0/24", Exists: true}
		f.ServiceAgent = sa
		return f
	}

	// The workload's own project: no check (the agent's default role covers it).
	if slices.Contains(names(RunPreflight(baseFacts())), CheckServiceAgent) {
		t.Error("service-agent ran for a subnetwork of the workload's own project")
	}
	// Another project, not read: skip.
	expect(t, run(t, shared(nil), CheckServiceAgent), StatusSkip, "were not read")

	ok := &ServiceAgentFacts{WorkloadProject: proj, Agent: agent, Target: hostSubnet, TargetProject: "net-host", SharedVPCHost: "net-host"}
	expect(t, run(t, shared(ok), CheckServiceAgent), StatusPass, "may use subnetwork shared in net-host")

	lacking := *ok
	lacking.Missing = []string{"compute.subnetworks.use on " + hostSubnet}
	lacking.Grants = []RoleGrant{{Resource: hostSubnet, Role: "roles/compute.networkUser", Member: agent, Gives: []string{"compute.subnetworks.use"}}}
	c := run(t, shared(&lacking), CheckServiceAgent)
	expect(t, c, StatusFail, "lacks compute.subnetworks.use on "+hostSubnet, "hint:grant it:\n  <grant-role>")
	if !Forceable(CheckServiceAgent) {
		t.Error("service-agent cannot be forced: custom roles are not expanded, so it must be")
	}
	if fixed := ServiceAgentFixed(c); fixed.Status != StatusWarn {
		t.Errorf("fixed = %+v", fixed)
	}

	// Dual-stack and all-traffic say what else they need.
	dual := *ok
	dual.StackType, dual.Ipv6AccessType = "IPV4_IPV6", "EXTERNAL"
	f := shared(&dual)
	f.Target.Egress = EgressAllTraffic
	expect(t, run(t, f, CheckServiceAgent), StatusPass, "external IPv6", "egress all-traffic")

	// A project not attached to the host: the attachment first, no grant helps.
	lone := *ok
	lone.SharedVPCHost, lone.NotAttached = "", true
	c = run(t, shared(&lone), CheckServiceAgent)
	expect(t, c, StatusFail, "is not attached to Shared VPC host net-host", "hint:attaches the project first:\n  <attach-service-project my-project>")

	// attach's target checks run it too.
	if c := find(t, RunTargetChecks(shared(&lacking)), CheckServiceAgent); c.Status != StatusFail {
		t.Errorf("target checks: %+v", c)
	}
}
