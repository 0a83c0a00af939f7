package egress

import (
	"strings"
	"testing"
)

// Firewall policies are evaluated in Cloud NGFW's order with the VPC firewall rules: the
// first deciding rule wins, by level and then by priority.
func TestFirewallPoliciesByPriority(t *testing.T) {
	redis := []FirewallPermission{{Protocol: "tcp", Ports: []string{"6379"}}}
	allowConn := PolicyRule{Priority: 100, Direction: "INGRESS", Action: PolicyActionAllow, SrcRanges: []string{"10.15.0.0/28"}, Layer4: redis}
	allowBoth := PolicyRule{Priority: 100, Direction: "INGRESS", Action: PolicyActionAllow, SrcRanges: []string{"10.15.0.0/28", "10.8.0.0/24"}, Layer4: redis}
	denyAll := PolicyRule{Priority: 50, Direction: "INGRESS", Action: PolicyActionDeny, SrcRanges: []string{"10.0.0.0/8"}, Layer4: redis}
	gotoNext := PolicyRule{Priority: 10, Direction: "INGRESS", Action: PolicyActionGotoNext, SrcRanges: []string{"10.8.0.0/24"}, Layer4: redis}
	vpcAllowNew := FirewallRule{Name: "allow-new", Priority: 1000, SourceRanges: []string{"10.8.0.0/24"}, Allowed: redis}
	tests := []struct {
		name   string
		facts  FirewallPolicyFacts
		status CheckStatus
		want   string
	}{
		{"no policy", FirewallPolicyFacts{}, StatusPass, "no firewall policy"},
		{"network policy admits the connector only", FirewallPolicyFacts{Policies: []FirewallPolicy{{Name: "p", Type: PolicyNetwork, Rules: []PolicyRule{allowConn}}}},
			StatusFail, "allowed today by network firewall policy p rule 100 (allow), denied for the new traffic by the implied deny ingress rule"},
		{"network policy admits both", FirewallPolicyFacts{Policies: []FirewallPolicy{{Name: "p", Type: PolicyNetwork, Rules: []PolicyRule{allowBoth}}}},
			StatusPass, "treat today's and the new traffic alike"},
		{"a VPC rule admits the new range first (after classic: VPC rules come first)",
			FirewallPolicyFacts{Policies: []FirewallPolicy{{Name: "p", Type: PolicyNetwork, Rules: []PolicyRule{allowConn}}}, Rules: []FirewallRule{vpcAllowNew}},
			StatusPass, "alike"},
		{"a higher-priority deny in the same policy decides for both",
			FirewallPolicyFacts{Policies: []FirewallPolicy{{Name: "p", Type: PolicyNetwork, Rules: []PolicyRule{allowConn, denyAll}}}},
			StatusPass, "alike"},
		{"hierarchical goto_next hands the new range down; the organization's allow decides today's",
			FirewallPolicyFacts{Policies: []FirewallPolicy{{Name: "org", Type: PolicyHierarchy, Rules: []PolicyRule{gotoNext, allowConn}}}},
			StatusFail, "hierarchical firewall policy org rule 100"},
		{"an egress deny of a range names the range, not its first address",
			FirewallPolicyFacts{Policies: []FirewallPolicy{{Name: "p", Type: PolicyNetwork, Rules: []PolicyRule{{Priority: 100, Direction: "EGRESS", Action: PolicyActionDeny,
				SrcRanges: []string{"10.8.0.0/24"}, DestRanges: []string{"192.168.0.0/16"}, Layer4: []FirewallPermission{{Protocol: "tcp", Ports: []string{"5432"}}}}}}}},
			StatusFail, "egress to 192.168.0.0/16:5432: allowed today by the implied allow egress rule"},
		{"before classic: the network policy's allow wins over nothing",
			FirewallPolicyFacts{EnforcementOrder: EnforceBeforeClassic, Policies: []FirewallPolicy{{Name: "p", Type: PolicyNetwork, Rules: []PolicyRule{allowBoth}}}, Rules: []FirewallRule{vpcAllowNew}},
			StatusPass, "alike"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.FirewallPolicies = &tt.facts
			c := run(t, f, CheckFirewallPolicies)
			if c.Status != tt.status || !strings.Contains(c.Message, tt.want) {
				t.Errorf("%s %q; want %s with %q", c.Status, c.Message, tt.status, tt.want)
			}
		})
	}
}

func TestNATChecks(t *testing.T) {
	router := func(nats ...NAT) *NATFacts {
		return &NATFacts{Routers: []Router{{Name: "r", Network: "run-vpc", Region: region, NATs: nats}}}
	}
	all := func(name string, ips ...string) NAT {
		return NAT{Name: name, SourceSubnetworkIPRangesToNat: NATAllSubnetworksAllRanges, NATIPs: ips}
	}
	list := func(name, subnet string, ips ...string) NAT {
		return NAT{Name: name, SourceSubnetworkIPRangesToNat: NATListOfSubnetworks, Subnetworks: []string{subnet}, NATIPs: ips}
	}
	allTraffic := func() Facts {
		f := baseFacts()
		f.Workload.VPC.Egress, f.Target.Egress = EgressAllTraffic, EgressAllTraffic
		return f
	}
	tests := []struct {
		name   string
		facts  func() Facts
		check  string
		status CheckStatus
		want   string
	}{
		{"same gateway, manual addresses", func() Facts {
			f := allTraffic()
			f.NAT, f.CurrentNAT = router(all("n", "ip-a")), router(all("n", "ip-a"))
			return f
		}, CheckNATEgressIP, StatusPass, "same Cloud NAT n"},
		{"same gateway, automatic addresses", func() Facts {
			f := allTraffic()
			f.NAT, f.CurrentNAT = router(all("n")), router(all("n"))
			return f
		}, CheckNATEgressIP, StatusWarn, "allocated automatically"},
		{"other addresses, kept", func() Facts {
			f := allTraffic()
			nf := router(list("old", "run-connector-subnet", "ip-a"), list("new", "run-direct-vpc-egress", "ip-a", "ip-b"))
			f.NAT, f.CurrentNAT, f.KeepEgressIP = nf, nf, true
			return f
		}, CheckNATEgressIP, StatusFail, "(address ip-a)"},
		{"no address to keep", baseFacts, CheckNATEgressIP, StatusPass, "source range 10.8.0.0/24 instead of 10.15.0.0/28"},
		{"ports: 10 × 64 within one address", func() Facts {
			f := allTraffic()
			f.NAT = router(all("n", "ip-a"))
			return f
		}, CheckNATPorts, StatusPass, "10 instances × 64 ports = 640 NAT ports"},
		{"ports: 200 × 1024 over two addresses", func() Facts {
			f := allTraffic()
			n := all("n", "ip-a", "ip-b")
			n.MinPortsPerVM = 1024
			f.NAT, f.Workload.MaxInstances = router(n), 200
			return f
		}, CheckNATPorts, StatusFail, "instances beyond 126 get no ports"},
		{"ports: dynamic allocation's default", func() Facts {
			f := allTraffic()
			n := all("n")
			n.DynamicPortAllocation = true
			f.NAT = router(n)
			return f
		}, CheckNATPorts, StatusPass, "10 instances × 32 ports"},
		{"PGA: all-traffic, no PGA, no NAT", func() Facts { f := allTraffic(); return f }, CheckPrivateGoogleAccess, StatusWarn, "become unreachable"},
		{"PGA: on", func() Facts { f := allTraffic(); f.Subnet.PrivateGoogleAccess = true; return f }, CheckPrivateGoogleAccess, StatusPass, "has Private Google Access"},
		{"PGA: turned on by the flag", func() Facts { f := allTraffic(); f.EnablePrivateGoogleAccess = true; return f }, CheckPrivateGoogleAccess, StatusPass, "turned on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(t, tt.facts(), tt.check)
			if c.Status != tt.status || !strings.Contains(c.Message, tt.want) {
				t.Errorf("%s: %s %q; want %s with %q", tt.check, c.Status, c.Message, tt.status, tt.want)
			}
		})
	}
	// Today's static address is IN_USE by today's gateway and no other can take it: the way
	// to keep it is to serve the new subnetwork from that gateway, not to give it to the new
	// one.
	f := allTraffic()
	nf := router(list("old", "run-connector-subnet", "ip-a"), list("new", "run-direct-vpc-egress", "ip-b"))
	f.NAT, f.CurrentNAT = nf, nf
	c := run(t, f, CheckNATEgressIP)
	if c.Status != StatusWarn || !strings.Contains(c.Hint, "serve subnetwork run-direct-vpc-egress from today's Cloud NAT old on router r") ||
		!strings.Contains(c.Hint, "once Cloud NAT new no longer serves it") {
		t.Errorf("other addresses: %s, hint %q: want to serve the new subnetwork from today's gateway", c.Status, c.Hint)
	}
	// On a Shared VPC the gateway is the host project's: the command says so.
	f = allTraffic()
	const hostNet = "projects/net-host/global/networks/run-vpc"
	f.Target = VPC{Network: hostNet, Subnet: "projects/net-host/regions/" + region + "/subnetworks/run-direct-vpc-egress", Egress: EgressAllTraffic}
	f.Workload.VPC.Connector = "projects/net-host/locations/" + region + "/connectors/run-connector"
	f.Network.Name, f.Subnet.Network, f.CurrentConnector.Network = hostNet, hostNet, hostNet
	f.CurrentConnector.Subnet = "projects/net-host/regions/" + region + "/subnetworks/run-connector-subnet"
	f.CurrentNAT = &NATFacts{Routers: []Router{{Name: "r", Network: hostNet, Region: region, NATs: []NAT{list("old", "projects/net-host/regions/"+region+"/subnetworks/run-connector-subnet", "ip-a")}}}}
	f.NAT = f.CurrentNAT
	c = run(t, f, CheckNATEgressIP)
	if !strings.Contains(c.Hint, "gcloud compute routers nats update old --router r --region "+region+" --project net-host") {
		t.Errorf("Shared VPC: %s %q, hint %q: want the host project in the command", c.Status, c.Message, c.Hint)
	}
}

// Going to no VPC access with today's traffic behind Cloud NAT: the hint cannot be to keep
// an egress setting that --to none does not have.
func TestNATEgressIPToNoneHint(t *testing.T) {
	f := baseFacts()
	f.Workload.VPC.Egress = EgressAllTraffic
	f.Target = VPC{}
	f.CurrentNAT = &NATFacts{Routers: []Router{{Name: "r", Network: "run-vpc", Region: region,
		NATs: []NAT{{Name: "n", SourceSubnetworkIPRangesToNat: NATAllSubnetworksAllRanges, NATIPs: []string{"ip-a"}}}}}}
	f.KeepEgressIP = true
	c := run(t, f, CheckNATEgressIP)
	if c.Status != StatusFail || strings.Contains(c.Hint, "--keep-egress") || !strings.Contains(c.Hint, "--to direct") {
		t.Errorf("%s %q, hint %q: want a failure whose hint is to stay on a VPC path", c.Status, c.Message, c.Hint)
	}
}

func TestStartupProbeAndMachineType(t *testing.T) {
	for probe, want := range map[ProbeKind]CheckStatus{"": StatusSkip, ProbeNone: StatusWarn, ProbeTCP: StatusWarn, ProbeHTTP: StatusPass, ProbeGRPC: StatusPass} {
		f := baseFacts()
		f.Workload.StartupProbe = probe
		if c := run(t, f, CheckStartupProbe); c.Status != want {
			t.Errorf("probe %q: %s %q, want %s", probe, c.Status, c.Message, want)
		}
	}
	for mt, want := range map[string]CheckStatus{"": StatusWarn, "e2-micro": StatusWarn, "f1-micro": StatusWarn, "e2-standard-4": StatusPass} {
		if c := ConnectorMachineTypeCheck("c", mt); c.Status != want {
			t.Errorf("machine type %q: %s, want %s", mt, c.Status, want)
		}
	}
}

// The machine-type hint's command names a connector of the workload's project by its short
// name, and a Shared VPC host's by its full name (its short name would be looked up in the
// workload's project).
func TestMachineTypeHintNamesHostConnector(t *testing.T) {
	for target, want := range map[string]string{
		"run-connector": "(connector update run-connector --machine-type",
		"projects/net-host/locations/" + region + "/connectors/shared-conn": "(connector update projects/net-host/locations/" + region + "/connectors/shared-conn --machine-type",
	} {
		f := baseFacts()
		f.Workload.VPC = VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}
		f.Target = VPC{Connector: target}
		f.TargetConnector = &ConnectorFacts{Name: ShortName(target), Exists: true, Region: region, Network: "run-vpc", State: "READY", MachineType: "e2-micro"}
		c := run(t, f, CheckConnectorMachineType)
		if c.Status != StatusWarn || !strings.Contains(c.Hint, want) || !strings.Contains(c.Message, "connector "+ShortName(target)+" runs on e2-micro") {
			t.Errorf("%s: %+v; want a hint with %q", target, c, want)
		}
	}
}
