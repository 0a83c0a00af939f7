package egress

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRunTargetChecks(t *testing.T) {
	net := "projects/demo-project/global/networks/run-vpc"
	subnet := func(cidr string, reserved int64) *SubnetFacts {
		return &SubnetFacts{Name: sSubnet, Region: sRegion, Network: net, CIDR: cidr, Exists: true, ReservedIPs: reserved, ReservedKnown: true}
	}
	tests := []struct {
		name   string
		f      Facts
		failed string // the one check that fails, or ""
		msg    string
	}{
		{"direct, fits", Facts{Target: dirVPC, Subnet: subnet("10.8.0.0/24", 16)}, "", ""},
		{"missing subnet", Facts{Target: dirVPC, Subnet: &SubnetFacts{Name: sSubnet, Region: sRegion}}, CheckSubnet, "does not exist"},
		{"a /28", Facts{Target: dirVPC, Subnet: subnet("10.15.0.0/28", 0)}, CheckSubnetSize, "/26"},
		{"full", Facts{Target: dirVPC, Subnet: subnet("10.9.0.0/26", 60)}, CheckFreeIPs, "has 0 /28 blocks free"},
		{"other network", Facts{Target: VPC{Network: "projects/demo-project/global/networks/other", Subnet: sSubnet}, Subnet: subnet("10.8.0.0/24", 0)}, CheckSubnet, "belongs to network"},
		{"connector missing", Facts{Target: connVPC, TargetConnector: &ConnectorFacts{Name: sConn}}, CheckConnectorReady, "does not exist"},
		{"connector in error", Facts{Target: connVPC, TargetConnector: &ConnectorFacts{Name: sConn, Exists: true, State: "ERROR"}}, CheckConnectorReady, "is ERROR, not READY"},
		{"connector ready", Facts{Target: connVPC, TargetConnector: &ConnectorFacts{Name: sConn, Exists: true, State: "READY"}}, "", ""},
		{"malformed", Facts{Target: VPC{Connector: sConn, Subnet: sSubnet}}, CheckVPCSettings, "one and only one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Workload = Workload{Ref: servRef}
			failed := Failed(RunTargetChecks(tt.f))
			switch {
			case tt.failed == "" && len(failed) > 0:
				t.Errorf("failed: %+v", failed)
			case tt.failed != "" && (len(failed) != 1 || failed[0].Name != tt.failed || !strings.Contains(failed[0].Message, tt.msg)):
				t.Errorf("failed: %+v, want %s (%q)", failed, tt.failed, tt.msg)
			}
		})
	}
	// A workload already on the subnet holds blocks there: no start check.
	f := Facts{Workload: Workload{Ref: servRef, VPC: dirVPC}, Target: VPC{Subnet: sSubnet, Tags: []string{"a"}}, Subnet: subnet("10.9.0.0/26", 60)}
	if failed := Failed(RunTargetChecks(f)); len(failed) != 0 {
		t.Errorf("tags only: %+v", failed)
	}
}

func TestSubnetRangeCheck(t *testing.T) {
	ranges := &RangeFacts{Used: []UsedRange{
		{CIDR: "10.8.0.0/24", Kind: "subnet", Name: "run-direct-vpc-egress", Region: sRegion},
		{CIDR: "10.0.0.0/28", Kind: "connector", Name: "c", Region: "us-central1"},
	}}
	for _, tc := range []struct {
		cidr, name string
		status     CheckStatus
		msg        string
	}{
		{"10.8.0.0/25", "s1", StatusFail, "overlaps subnet run-direct-vpc-egress (10.8.0.0/24, region asia-northeast1)"},
		{"10.0.0.0/26", "s1", StatusFail, "overlaps connector c (10.0.0.0/28, region us-central1)"},
		{"10.9.0.0/26", "s1", StatusPass, "overlaps none of the 2 ranges"},
		{"10.8.0.0/24", "run-direct-vpc-egress", StatusPass, ""}, // itself, created again
	} {
		to := VPC{Subnet: "projects/demo-project/regions/asia-northeast1/subnetworks/" + tc.name}
		f := Facts{Workload: Workload{Ref: servRef}, Target: to, Ranges: ranges,
			Subnet: &SubnetFacts{Name: to.Subnet, Region: sRegion, CIDR: tc.cidr, WillCreate: true}}
		var got Check
		for _, c := range RunPreflight(f) {
			if c.Name == CheckSubnetRange {
				got = c
			}
		}
		if got.Status != tc.status || !strings.Contains(got.Message, tc.msg) {
			t.Errorf("%s %s: %s %q", tc.name, tc.cidr, got.Status, got.Message)
		}
		if tc.status == StatusFail && !strings.Contains(got.Hint, "10.") {
			t.Errorf("hint %q names no free range", got.Hint)
		}
	}
	if p, ok := ranges.FirstFree(24); !ok || p != netip.MustParsePrefix("10.0.1.0/24") {
		t.Errorf("FirstFree(24) = %v", p)
	}
}
