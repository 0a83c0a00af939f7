package egress

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var svcRef = WorkloadRef{KindService, proj, region, "run-service"}

// baseFacts is the article's story: run-service uses connector
// run-connector (subnet run-connector-subnet, 10.15.0.0/28) and moves to
// Direct VPC egress in run-direct-vpc-egress (10.8.0.0/24) of run-vpc.
func baseFacts() Facts {
	return Facts{
		Workload: Workload{Ref: svcRef, VPC: VPC{Connector: "run-connector"}, MaxInstances: 10},
		Target:   VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"},
		Network:  &NetworkFacts{Name: "run-vpc", Exists: true},
		Subnet: &SubnetFacts{
			Name: "run-direct-vpc-egress", Region: region, Network: "run-vpc",
			CIDR: "10.8.0.0/24", Exists: true,
		},
		CurrentConnector: &ConnectorFacts{
			Name: "run-connector", Exists: true, Region: region, Network: "run-vpc", State: "READY",
			Subnet: "run-connector-subnet", SubnetCIDR: "10.15.0.0/28",
		},
		NAT:         &NATFacts{},
		Firewall:    &FirewallFacts{},
		Permissions: &PermissionFacts{Checked: []string{"run.services.update", "compute.subnetworks.use"}},
	}
}

func find(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %v", name, names(checks))
	return Check{}
}

func names(checks []Check) []string {
	var out []string
	for _, c := range checks {
		out = append(out, c.Name)
	}
	return out
}

// expect checks a check's status and that its message and hint contain the
// fragments given ("hint:" prefixes a hint fragment).
func expect(t *testing.T, c Check, status CheckStatus, fragments ...string) {
	t.Helper()
	if c.Status != status {
		t.Errorf("%s: status %s, want %s (message %q)", c.Name, c.Status, status, c.Message)
	}
	for _, f := range fragments {
		if h, ok := strings.CutPrefix(f, "hint:"); ok {
			if !strings.Contains(c.Hint, h) {
				t.Errorf("%s: hint %q lacks %q", c.Name, c.Hint, h)
			}
			continue
		}
		if !strings.Contains(c.Message, f) {
			t.Errorf("%s: message %q lacks %q", c.Name, c.Message, f)
		}
	}
}

func run(t *testing.T, f Facts, name string) Check {
	t.Helper()
	c := find(t, RunPreflight(f), name)
	if len(c.HintActions) > 0 {
		c.Hint = render(Message{Text: c.Hint, Actions: c.HintActions})
	}
	return c
}

func TestRunPreflightApplies(t *testing.T) {
	none := VPC{}
	conn := VPC{Connector: "run-connector"}
	connAll := VPC{Connector: "run-connector", Egress: EgressAllTraffic}
	conn2 := VPC{Connector: "other-connector"}
	direct := VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}
	directAll := VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress", Egress: EgressAllTraffic}
	directTags := VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress", Tags: []string{"web"}}

	directChecks := []string{CheckRegion, CheckNetwork, CheckSubnet, CheckSubnetSize, CheckFreeIPs, CheckQuota}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	tests := []struct {
		name     string
		kind     Kind
		from, to VPC
		want     []string
	}{
		{"none to none", KindService, none, none, []string{CheckVPCSettings, CheckPermissions}},
		{"none to connector", KindService, none, conn, []string{CheckVPCSettings, CheckRegion, CheckConnectorReady, CheckConnectorMachineType, CheckEgressKept, CheckNATEgressIP, CheckPermissions}},
		{"none to direct", KindService, none, direct, cat([]string{CheckVPCSettings}, directChecks, []string{CheckEgressKept, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckStartupProbe, CheckPermissions})},
		{"none to direct all-traffic", KindJob, none, directAll, cat([]string{CheckVPCSettings}, directChecks, []string{CheckEgressKept, CheckNAT, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckPermissions})},
		{"connector to none", KindService, conn, none, []string{CheckVPCSettings, CheckEgressKept, CheckNATEgressIP, CheckPermissions}},
		{"connector to direct", KindService, conn, direct, cat([]string{CheckVPCSettings}, directChecks, []string{CheckEgressKept, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckFirewall, CheckFirewallPolicies, CheckStartupProbe, CheckPermissions})},
		{"connector all-traffic to direct all-traffic", KindService, connAll, directAll, cat([]string{CheckVPCSettings}, directChecks, []string{CheckEgressKept, CheckNAT, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckFirewall, CheckFirewallPolicies, CheckStartupProbe, CheckPermissions})},
		{"connector to connector", KindJob, conn, conn2, []string{CheckVPCSettings, CheckRegion, CheckConnectorReady, CheckConnectorMachineType, CheckEgressKept, CheckNATEgressIP, CheckFirewall, CheckFirewallPolicies, CheckPermissions}},
		{"direct to connector", KindService, direct, connAll, []string{CheckVPCSettings, CheckRegion, CheckConnectorReady, CheckConnectorMachineType, CheckEgressKept, CheckNAT, CheckNATEgressIP, CheckFirewall, CheckFirewallPolicies, CheckPermissions}},
		{"direct to direct", KindService, direct, directTags, cat([]string{CheckVPCSettings}, directChecks, []string{CheckEgressKept, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckFirewall, CheckFirewallPolicies, CheckStartupProbe, CheckPermissions})},
		{"direct to none", KindJob, direct, none, []string{CheckVPCSettings, CheckEgressKept, CheckNATEgressIP, CheckPermissions}},
		{"worker pool to connector", KindWorkerPool, none, conn, []string{CheckVPCSettings, CheckWorkerPoolConnector, CheckRegion, CheckConnectorReady, CheckConnectorMachineType, CheckEgressKept, CheckNATEgressIP, CheckPermissions}},
		{"worker pool to direct", KindWorkerPool, none, direct, cat([]string{CheckVPCSettings, CheckWorkerPoolConnector}, directChecks, []string{CheckEgressKept, CheckNATEgressIP, CheckNATPorts, CheckPrivateGoogleAccess, CheckPermissions})},
		{"worker pool to none", KindWorkerPool, direct, none, []string{CheckVPCSettings, CheckWorkerPoolConnector, CheckEgressKept, CheckNATEgressIP, CheckPermissions}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Facts{Workload: Workload{Ref: WorkloadRef{tt.kind, proj, region, "wl"}, VPC: tt.from}, Target: tt.to}
			checks := RunPreflight(f)
			if got := names(checks); !slices.Equal(got, tt.want) {
				t.Errorf("checks = %v\nwant     %v", got, tt.want)
			}
			// Always in CheckNames order.
			last := -1
			for _, c := range checks {
				i := slices.Index(CheckNames, c.Name)
				if i <= last {
					t.Errorf("check %s out of order", c.Name)
				}
				last = i
				if c.Status == "" || c.Message == "" {
					t.Errorf("check %s has no status or message: %+v", c.Name, c)
				}
			}
		})
	}
}

func TestVPCSettingsCheck(t *testing.T) {
	f := baseFacts()
	f.Target = VPC{Connector: "c1", Subnet: "s1"}
	checks := RunPreflight(f)
	if len(checks) != 1 {
		t.Fatalf("checks = %v, want only vpc-settings", names(checks))
	}
	expect(t, checks[0], StatusFail, "one and only one of connector and network interface", "hint:--connector")

	f = baseFacts()
	f.Target = VPC{Egress: EgressAllTraffic}
	expect(t, RunPreflight(f)[0], StatusFail, "egress setting needs a connector")

	f = baseFacts()
	expect(t, run(t, f, CheckVPCSettings), StatusPass, "target is valid: direct: network run-vpc, subnet run-direct-vpc-egress")

	// Current settings that do not parse: warn and skip the comparisons.
	f.Workload.VPC = VPC{Connector: "Bad_Connector"}
	checks = RunPreflight(f)
	expect(t, find(t, checks, CheckVPCSettings), StatusWarn, "current settings could not be read")
	expect(t, find(t, checks, CheckFirewall), StatusSkip, "unreadable")
	expect(t, find(t, checks, CheckEgressKept), StatusPass, "kept")
}

func TestRegionCheck(t *testing.T) {
	f := baseFacts()
	expect(t, run(t, f, CheckRegion), StatusPass, "subnetwork run-direct-vpc-egress is in asia-northeast1, like the service")

	f.Target.Subnet = "projects/my-project/regions/us-central1/subnetworks/other"
	f.Subnet = nil
	expect(t, run(t, f, CheckRegion), StatusFail, "subnetwork other is in us-central1 but the service runs in asia-northeast1", "hint:use a subnetwork in asia-northeast1")

	// The facts' region wins over the name.
	f = baseFacts()
	f.Subnet.Region = "https://www.googleapis.com/compute/v1/projects/my-project/regions/us-east1"
	expect(t, run(t, f, CheckRegion), StatusFail, "is in us-east1")

	f = baseFacts()
	f.Workload.Ref.Kind = KindJob
	f.Target = VPC{Connector: "projects/my-project/locations/europe-west1/connectors/c1"}
	expect(t, run(t, f, CheckRegion), StatusFail, "connector c1 is in europe-west1 but the job runs in asia-northeast1", "hint:use a connector in asia-northeast1")
	f.Target = VPC{Connector: "c1"}
	expect(t, run(t, f, CheckRegion), StatusPass, "connector c1 is in asia-northeast1")
	f.TargetConnector = &ConnectorFacts{Name: "c1", Exists: true, Region: "us-west1"}
	expect(t, run(t, f, CheckRegion), StatusFail, "is in us-west1")
}

func TestNetworkCheck(t *testing.T) {
	f := baseFacts()
	expect(t, run(t, f, CheckNetwork), StatusPass, "network projects/my-project/global/networks/run-vpc exists")
	f.Network.Exists = false
	expect(t, run(t, f, CheckNetwork), StatusFail, "does not exist", "hint:Shared VPC")
	f.Network = nil
	expect(t, run(t, f, CheckNetwork), StatusSkip, "not looked up")
}

func TestSubnetCheck(t *testing.T) {
	f := baseFacts()
	expect(t, run(t, f, CheckSubnet), StatusPass, "subnetwork projects/my-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress exists in network projects/my-project/global/networks/run-vpc")

	f.Subnet = nil
	expect(t, run(t, f, CheckSubnet), StatusSkip)

	f = baseFacts()
	f.Subnet.Exists = false
	expect(t, run(t, f, CheckSubnet), StatusFail, "does not exist", "hint:--create-subnet")

	f.Subnet.WillCreate = true
	expect(t, run(t, f, CheckSubnet), StatusPass, "will be created with range 10.8.0.0/24")

	f = baseFacts()
	f.Subnet.Purpose = "REGIONAL_MANAGED_PROXY"
	expect(t, run(t, f, CheckSubnet), StatusFail, "has purpose REGIONAL_MANAGED_PROXY")
	f.Subnet.Purpose = "PRIVATE"
	expect(t, run(t, f, CheckSubnet), StatusPass)

	f = baseFacts()
	f.Subnet.Network = "https://www.googleapis.com/compute/v1/projects/my-project/global/networks/other-vpc"
	expect(t, run(t, f, CheckSubnet), StatusFail, "belongs to network projects/my-project/global/networks/other-vpc, not projects/my-project/global/networks/run-vpc")

	// Without --network the subnet's own network is used.
	f.Target.Network = ""
	expect(t, run(t, f, CheckSubnet), StatusPass, "in network projects/my-project/global/networks/other-vpc")
}

func TestSubnetSizeCheck(t *testing.T) {
	tests := []struct {
		cidr    string
		status  CheckStatus
		msg     string
		numbers map[string]int64
	}{
		{"10.8.0.0/24", StatusPass, "10.8.0.0/24 is /24 (Direct VPC egress needs /26 or larger) with 252 usable addresses",
			map[string]int64{"prefixLength": 24, "addresses": 256, "usable": 252}},
		{"10.8.0.0/26", StatusPass, "is /26", nil},
		{"100.64.0.0/20", StatusPass, "is /20", nil},
		{"240.0.0.0/24", StatusPass, "is /24", nil},
		{"10.8.0.0/27", StatusFail, "10.8.0.0/27 is too small for Direct VPC egress: the subnet must be /26 or larger", nil},
		{"8.8.8.0/24", StatusFail, "is not allowed for Direct VPC egress", nil},
		{"10.8.0.1/24", StatusFail, "is not a network address (did you mean 10.8.0.0/24?)", nil},
	}
	for _, tt := range tests {
		f := baseFacts()
		f.Subnet.CIDR = tt.cidr
		c := run(t, f, CheckSubnetSize)
		expect(t, c, tt.status, tt.msg)
		if tt.numbers != nil && !maps.Equal(c.Numbers, tt.numbers) {
			t.Errorf("%s: numbers %v, want %v", tt.cidr, c.Numbers, tt.numbers)
		}
		if tt.status == StatusFail && tt.cidr != "10.8.0.1/24" && !strings.Contains(c.Hint, "/26 or larger") {
			t.Errorf("%s: hint %q", tt.cidr, c.Hint)
		}
	}
	f := baseFacts()
	f.Subnet.CIDR = ""
	expect(t, run(t, f, CheckSubnetSize), StatusSkip, "range unknown")
	f.Subnet = &SubnetFacts{Name: "x", CIDR: "10.0.0.0/24"} // not found: range meaningless
	expect(t, run(t, f, CheckSubnetSize), StatusSkip)
}

func TestFreeIPsCheck(t *testing.T) {
	user := func(name string, max int) SubnetUser {
		return SubnetUser{Ref: WorkloadRef{KindService, proj, region, name}, MaxInstances: max}
	}
	tests := []struct {
		name           string
		max            int
		cidr           string
		reserved       int64
		sharedReserved int64
		willCreate     bool
		sharing        []SubnetUser
		status         CheckStatus
		msg            []string
		numbers        map[string]int64
	}{
		{
			name: "article: 100 instances in a /24 fit only at steady state", max: 100, cidr: "10.8.0.0/24", status: StatusWarn,
			msg: []string{
				"needs 26 /28 blocks (2 IPs × 100 instances = 200 IPs → 13 blocks, ×2 for rollout overlap), subnet 10.8.0.0/24 has 15 blocks, 0 reserved",
				"15 free is enough at steady state (13) but not while old and new revisions both hold addresses",
				"hint:use a /23 or larger subnetwork (31 blocks; see <plan-subnet max 100>)",
				"hint:or lower the maximum instances to 56",
			},
			numbers: map[string]int64{
				"maxInstances": 100, "ipsPerInstance": 2, "ipsNeeded": 200, "blocksPerRevision": 13, "blocksNeeded": 26,
				"blocksSteadyState": 13, "sharedBlocks": 0, "sharingWorkloads": 0, "subnetBlocks": 15, "reservedBlocks": 0, "freeBlocks": 15,
			},
		},
		{
			name: "100 instances in a /23", max: 100, cidr: "10.8.0.0/22", status: StatusPass,
			msg: []string{"subnet 10.8.0.0/22 has 63 blocks, 0 reserved: 63 free"},
		},
		{
			name: "default max instances", max: 0, cidr: "10.8.0.0/23", status: StatusPass,
			msg: []string{"2 IPs × 100 instances", "31 free"},
		},
		{
			name: "reserved addresses leave too little even at steady state", max: 100, cidr: "10.8.0.0/24", reserved: 40, status: StatusFail,
			msg: []string{"15 blocks, 3 reserved: 12 free is not enough even at steady state (13)", "hint:/23"},
		},
		{
			name: "a small workload in a /26", max: 10, cidr: "10.8.0.0/26", status: StatusWarn,
			msg: []string{"needs 4 /28 blocks (2 IPs × 10 instances = 20 IPs → 2 blocks, ×2 for rollout overlap), subnet 10.8.0.0/26 has 3 blocks, 0 reserved", "hint:/25", "hint:lower the maximum instances to 8"},
		},
		{
			name: "one instance", max: 1, cidr: "10.8.0.0/26", status: StatusPass,
			msg: []string{"needs 2 /28 blocks (2 IPs × 1 instances = 2 IPs → 1 block, ×2 for rollout overlap)"},
		},
		{
			name: "sharing workloads count at max scale", max: 100, cidr: "10.8.0.0/23",
			sharing: []SubnetUser{user("a", 10), user("b", 0), user("a", 10), user("run-service", 1000)},
			// a: 2 blocks, b: default 100 → 13 blocks; duplicates and the workload itself ignored.
			status: StatusWarn,
			msg:    []string{"needs 41 /28 blocks", "; + 15 blocks for 2 other workloads sharing the subnet at max scale", "31 free is enough at steady state (28)", "hint:/22"},
			numbers: map[string]int64{
				"maxInstances": 100, "ipsPerInstance": 2, "ipsNeeded": 200, "blocksPerRevision": 13, "blocksNeeded": 41,
				"blocksSteadyState": 28, "sharedBlocks": 15, "sharingWorkloads": 2, "subnetBlocks": 31, "reservedBlocks": 0, "freeBlocks": 31,
			},
		},
		{
			name: "shared reservations are not counted twice", max: 10, cidr: "10.8.0.0/25", reserved: 64, sharedReserved: 48,
			sharing: []SubnetUser{user("a", 10)},
			// 7 blocks; other reserved 16 IPs = 1 block; need 4+2 = 6 ≤ 6 free.
			status: StatusPass, msg: []string{"needs 6 /28 blocks", "+ 2 blocks for 1 other workload", "7 blocks, 1 reserved: 6 free"},
		},
		{
			name: "reservations of a subnet to be created are ignored", max: 10, cidr: "10.8.0.0/26", reserved: 1000, willCreate: true,
			status: StatusWarn, msg: []string{"0 reserved"},
		},
		{
			name: "fully reserved", max: 1, cidr: "10.8.0.0/26", reserved: 10000, status: StatusFail,
			msg: []string{"3 blocks, 625 reserved: 0 free"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.Workload.MaxInstances = tt.max
			f.Subnet.CIDR = tt.cidr
			f.Subnet.ReservedIPs = tt.reserved
			f.Subnet.SharedReservedIPs = tt.sharedReserved
			f.Subnet.WillCreate = tt.willCreate
			f.Sharing = tt.sharing
			c := run(t, f, CheckFreeIPs)
			expect(t, c, tt.status, tt.msg...)
			if tt.numbers != nil && !maps.Equal(c.Numbers, tt.numbers) {
				t.Errorf("numbers %v\nwant    %v", c.Numbers, tt.numbers)
			}
			if tt.status == StatusPass && c.Hint != "" {
				t.Errorf("hint on pass: %q", c.Hint)
			}
		})
	}
	f := baseFacts()
	f.Subnet.CIDR = "bad"
	expect(t, run(t, f, CheckFreeIPs), StatusSkip)
}

func TestQuotaCheck(t *testing.T) {
	tests := []struct {
		kind   Kind
		max    int
		quota  *QuotaFacts
		status CheckStatus
		msg    string
	}{
		{KindService, 100, nil, StatusPass, "max 100 instances is within the Direct VPC egress quota of 100 per revision (the default, assumed: the quota could not be read)"},
		{KindService, 150, nil, StatusWarn, "max 150 instances exceeds the default Direct VPC egress quota of 100 per revision (some regions allow 200"},
		{KindService, 150, &QuotaFacts{Instances: 200}, StatusPass, "quota of 200 per revision"},
		{KindService, 150, &QuotaFacts{Instances: 100}, StatusFail, "max 150 instances exceeds the Direct VPC egress quota of 100 per revision in asia-northeast1"},
		{KindJob, 300, &QuotaFacts{Instances: 200}, StatusFail, "quota of 200 per job execution"},
		{KindService, 150, &QuotaFacts{Instances: 0}, StatusWarn, "default"},
	}
	for _, tt := range tests {
		f := baseFacts()
		f.Workload.Ref.Kind = tt.kind
		f.Workload.MaxInstances = tt.max
		f.Quota = tt.quota
		c := run(t, f, CheckQuota)
		expect(t, c, tt.status, tt.msg)
		if c.Numbers["maxInstances"] != int64(tt.max) {
			t.Errorf("numbers %v", c.Numbers)
		}
		if tt.status != StatusPass && !strings.Contains(c.Hint, "request a quota increase") {
			t.Errorf("hint %q", c.Hint)
		}
	}
}

func TestConnectorReadyCheck(t *testing.T) {
	f := baseFacts()
	f.Workload.VPC = VPC{}
	f.Target = VPC{Connector: "c1"}
	expect(t, run(t, f, CheckConnectorReady), StatusSkip, "not looked up")

	f.TargetConnector = &ConnectorFacts{Name: "c1"}
	expect(t, run(t, f, CheckConnectorReady), StatusFail, "connector projects/my-project/locations/asia-northeast1/connectors/c1 does not exist",
		"hint:create it: <create-connector c1 asia-northeast1>")

	f.TargetConnector = &ConnectorFacts{Name: "c1", Exists: true, State: "CREATING"}
	expect(t, run(t, f, CheckConnectorReady), StatusFail, "is CREATING, not READY", "hint:wait until it is READY")

	f.TargetConnector.State = "ERROR"
	expect(t, run(t, f, CheckConnectorReady), StatusFail, "is ERROR", "hint:delete and recreate it (<recycle-connector c1>)")

	f.TargetConnector.State = "DELETING"
	expect(t, run(t, f, CheckConnectorReady), StatusFail, "is DELETING", "hint:pick another connector")

	f.TargetConnector.State = ""
	expect(t, run(t, f, CheckConnectorReady), StatusFail, "is in an unknown state")

	f.TargetConnector.State = "READY"
	f.TargetConnector.Network = "projects/my-project/global/networks/run-vpc"
	expect(t, run(t, f, CheckConnectorReady), StatusPass, "is READY in network run-vpc")
}

func TestWorkerPoolConnectorCheck(t *testing.T) {
	f := baseFacts()
	f.Workload.Ref.Kind = KindWorkerPool
	f.Workload.VPC = VPC{}
	f.Target = VPC{Connector: "c1"}
	expect(t, run(t, f, CheckWorkerPoolConnector), StatusFail, "worker pools cannot use Serverless VPC Access connectors", "hint:Direct VPC egress")
	f.Target = VPC{Subnet: "s1"}
	expect(t, run(t, f, CheckWorkerPoolConnector), StatusPass)
}

func TestEgressKeptCheck(t *testing.T) {
	conn := func(e Egress) VPC { return VPC{Connector: "run-connector", Egress: e} }
	direct := func(e Egress) VPC { return VPC{Subnet: "run-direct-vpc-egress", Egress: e} }
	tests := []struct {
		name     string
		from, to VPC
		status   CheckStatus
		msg      string
		hint     string
	}{
		{"kept private (unset = private)", conn(EgressUnset), direct(EgressPrivateRangesOnly), StatusPass, "egress private-ranges-only kept", ""},
		{"kept all", conn(EgressAllTraffic), direct(EgressAllTraffic), StatusPass, "egress all-traffic kept", ""},
		{"all to private", conn(EgressAllTraffic), direct(EgressUnset), StatusWarn, "changes from all-traffic to private-ranges-only", "--egress all-traffic"},
		{"private to all", direct(EgressUnset), conn(EgressAllTraffic), StatusWarn, "changes from private-ranges-only to all-traffic", "--egress private-ranges-only"},
		{"attach private", VPC{}, direct(EgressUnset), StatusPass, "only traffic to private ranges", ""},
		{"attach all", VPC{}, conn(EgressAllTraffic), StatusWarn, "internet traffic, which went out directly, will go through the VPC", "--egress private-ranges-only"},
		{"detach all", conn(EgressAllTraffic), VPC{}, StatusWarn, "egress all-traffic ends", "confirm"},
		{"detach private", direct(EgressUnset), VPC{}, StatusPass, "VPC access ends", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.Workload.VPC = tt.from
			f.Target = tt.to
			c := run(t, f, CheckEgressKept)
			expect(t, c, tt.status, tt.msg)
			if !strings.Contains(c.Hint, tt.hint) {
				t.Errorf("hint %q lacks %q", c.Hint, tt.hint)
			}
		})
	}
}

func TestNATCheck(t *testing.T) {
	subnetPath := "projects/my-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress"
	router := func(network, region string, nats ...NAT) Router {
		return Router{Name: "nat-router", Network: network, Region: region, NATs: nats}
	}
	all := NAT{Name: "nat-all", SourceSubnetworkIPRangesToNat: NATAllSubnetworksAllRanges}
	primary := NAT{Name: "nat-primary", SourceSubnetworkIPRangesToNat: NATAllSubnetworksAllPrimaryRanges}
	listed := NAT{Name: "nat-list", SourceSubnetworkIPRangesToNat: NATListOfSubnetworks,
		Subnetworks: []string{"https://www.googleapis.com/compute/v1/" + subnetPath}}
	otherList := NAT{Name: "nat-other", SourceSubnetworkIPRangesToNat: NATListOfSubnetworks, Subnetworks: []string{"other"}}
	private := NAT{Name: "nat-private", SourceSubnetworkIPRangesToNat: NATAllSubnetworksAllRanges, Type: "PRIVATE"}
	regionURL := "https://www.googleapis.com/compute/v1/projects/my-project/regions/asia-northeast1"

	tests := []struct {
		name    string
		routers []Router
		status  CheckStatus
		msg     string
	}{
		{"no routers", nil, StatusFail, "no Cloud NAT in run-vpc/asia-northeast1 covers subnetwork run-direct-vpc-egress: the service would lose internet access"},
		{"all subnetworks", []Router{router("run-vpc", region, all)}, StatusPass, "Cloud NAT nat-all on router nat-router covers subnetwork run-direct-vpc-egress (with Cloud NAT, Direct VPC egress cold starts can take 30 s or more longer)"},
		{"primary ranges, URLs", []Router{router("https://www.googleapis.com/compute/v1/projects/my-project/global/networks/run-vpc", regionURL, primary)}, StatusPass, "nat-primary"},
		{"listed subnetwork", []Router{router("run-vpc", region, otherList, listed)}, StatusPass, "nat-list"},
		{"other subnetwork listed", []Router{router("run-vpc", region, otherList)}, StatusFail, "no Cloud NAT"},
		{"private NAT", []Router{router("run-vpc", region, private)}, StatusFail, "no Cloud NAT"},
		{"other region", []Router{router("run-vpc", "us-central1", all)}, StatusFail, "no Cloud NAT"},
		{"other network", []Router{router("other-vpc", region, all)}, StatusFail, "no Cloud NAT"},
		{"router without NAT", []Router{router("run-vpc", region)}, StatusFail, "no Cloud NAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			f.Target.Egress = EgressAllTraffic
			f.NAT = &NATFacts{Routers: tt.routers}
			c := run(t, f, CheckNAT)
			expect(t, c, tt.status, tt.msg)
			if tt.status == StatusFail && !strings.Contains(c.Hint, "--egress private-ranges-only") {
				t.Errorf("hint %q", c.Hint)
			}
		})
	}

	f := baseFacts()
	f.Target.Egress = EgressAllTraffic
	f.NAT = nil
	expect(t, run(t, f, CheckNAT), StatusSkip, "not looked up")

	// Connectors: a NAT for all subnetworks covers a connector's hidden
	// subnetwork; a list only covers a connector created with a subnetwork.
	f = baseFacts()
	f.Workload.VPC = VPC{}
	f.Target = VPC{Connector: "c1", Egress: EgressAllTraffic}
	f.TargetConnector = &ConnectorFacts{Name: "c1", Exists: true, State: "READY", Network: "run-vpc", IPCIDRRange: "10.9.0.0/28"}
	f.NAT = &NATFacts{Routers: []Router{router("run-vpc", region, all)}}
	expect(t, run(t, f, CheckNAT), StatusPass, "covers connector c1")
	if strings.Contains(run(t, f, CheckNAT).Message, "cold starts") {
		t.Error("cold-start note on a connector")
	}
	f.NAT = &NATFacts{Routers: []Router{router("run-vpc", region, listed)}}
	expect(t, run(t, f, CheckNAT), StatusFail, "no Cloud NAT in run-vpc/asia-northeast1 covers connector c1")
	f.TargetConnector = &ConnectorFacts{Name: "c1", Exists: true, State: "READY", Network: "run-vpc", Subnet: "run-direct-vpc-egress"}
	expect(t, run(t, f, CheckNAT), StatusPass, "nat-list")
	// Connector network unknown: any router in the region counts.
	f.TargetConnector = nil
	f.NAT = &NATFacts{Routers: []Router{router("some-vpc", region, all)}}
	expect(t, run(t, f, CheckNAT), StatusPass)
}

func TestFirewallCheck(t *testing.T) {
	allowRedis := func(mod func(*FirewallRule)) FirewallRule {
		r := FirewallRule{
			Name: "allow-redis", Network: "run-vpc", Priority: 1000, SourceTags: []string{"vpc-connector"},
			Allowed: []FirewallPermission{{Protocol: "tcp", Ports: []string{"6379"}}},
		}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	tests := []struct {
		name    string
		mod     func(*Facts)
		rules   []FirewallRule
		status  CheckStatus
		msg     []string
		numbers map[string]int64
	}{
		{
			name: "no rules", status: StatusPass,
			msg: []string{"no firewall rule singles out today's connector run-connector (range 10.15.0.0/28, tags vpc-connector,vpc-connector-asia-northeast1-run-connector)"},
		},
		{
			name: "universal connector tag lost", rules: []FirewallRule{allowRedis(nil)}, status: StatusFail,
			msg: []string{
				"rule allow-redis (INGRESS allow tcp:6379, priority 1000) matches today's connector run-connector",
				"but not the new Direct VPC egress from subnetwork run-direct-vpc-egress (range 10.8.0.0/24, no network tags): traffic allowed today would be blocked",
				"hint:pass --network-tags TAG and add TAG to the source tags of allow-redis, or add 10.8.0.0/24 to their source ranges",
			},
			numbers: map[string]int64{"rules": 1, "matchedToday": 1, "lostAllow": 1, "lostOther": 0, "gainedDeny": 0, "unknown": 0},
		},
		{
			name: "per-connector tag and an app tag: suggest the app tag",
			rules: []FirewallRule{allowRedis(func(r *FirewallRule) {
				r.SourceTags = []string{"vpc-connector-asia-northeast1-run-connector", "app"}
			})},
			status: StatusFail, msg: []string{"hint:pass --network-tags app (tags the rules already use)"},
		},
		{
			name:   "the new tags match",
			mod:    func(f *Facts) { f.Target.Tags = []string{"app"} },
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceTags = []string{"vpc-connector", "app"} })},
			status: StatusPass,
			msg:    []string{"1 rule matching today's traffic also match the new Direct VPC egress from subnetwork run-direct-vpc-egress (range 10.8.0.0/24, tags app)"},
		},
		{
			name: "two rules lost",
			rules: []FirewallRule{
				allowRedis(nil),
				allowRedis(func(r *FirewallRule) { r.Name = "allow-pg"; r.Allowed[0].Ports = []string{"5432"} }),
			},
			status: StatusFail,
			msg: []string{
				"rules allow-redis (INGRESS allow tcp:6379, priority 1000), allow-pg (INGRESS allow tcp:5432, priority 1000) match today's",
				"hint:source tags of allow-redis, allow-pg",
			},
		},
		{
			name:   "connector range lost",
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceTags = nil; r.SourceRanges = []string{"10.15.0.0/28"} })},
			status: StatusFail, msg: []string{"allow-redis", "hint:add 10.8.0.0/24"},
		},
		{
			name:   "broad range covers both",
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceTags = nil; r.SourceRanges = []string{"10.0.0.0/8"} })},
			status: StatusPass, msg: []string{"1 rule matching today's traffic also match"},
		},
		{
			name:   "partial cover of the new subnet does not count",
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceTags = nil; r.SourceRanges = []string{"10.15.0.0/28", "10.8.0.0/25"} })},
			status: StatusFail,
		},
		{
			name: "rules that single out nothing are ignored",
			rules: []FirewallRule{
				allowRedis(func(r *FirewallRule) { r.SourceTags = nil; r.SourceRanges = []string{"0.0.0.0/0"} }),
				allowRedis(func(r *FirewallRule) { r.SourceTags = nil }),
				{Name: "egress-all", Direction: "EGRESS", Denied: []FirewallPermission{{Protocol: "all"}}},
			},
			status:  StatusPass,
			numbers: map[string]int64{"rules": 0, "matchedToday": 0, "lostAllow": 0, "lostOther": 0, "gainedDeny": 0, "unknown": 0},
		},
		{
			name:   "disabled and other-network rules are ignored",
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.Disabled = true }), allowRedis(func(r *FirewallRule) { r.Network = "other-vpc" })},
			status: StatusPass,
		},
		{
			name: "egress deny on the connector is lost",
			rules: []FirewallRule{{Name: "deny-egress", Direction: "EGRESS", Priority: 900, TargetTags: []string{"vpc-connector"},
				DestinationRanges: []string{"10.20.0.0/16"}, Denied: []FirewallPermission{{Protocol: "all"}}}},
			status: StatusWarn,
			msg:    []string{"rule deny-egress (EGRESS deny all, priority 900) matches today's traffic but not the new traffic", "hint:target tags (egress)"},
		},
		{
			name: "deny for the new subnet is gained",
			rules: []FirewallRule{{Name: "deny-new", Priority: 100, SourceRanges: []string{"10.8.0.0/16"},
				Denied: []FirewallPermission{{Protocol: "tcp", Ports: []string{"22", "3389"}}}}},
			status: StatusWarn,
			msg:    []string{"rule deny-new (INGRESS deny tcp:22,tcp:3389, priority 100) would deny the new traffic but not today's"},
		},
		{
			name:   "logging does not see Direct VPC egress",
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceRanges = []string{"10.0.0.0/8"}; r.Logging = true })},
			status: StatusWarn,
			msg:    []string{"firewall rule logging does not record Direct VPC egress traffic (rule allow-redis"},
		},
		{
			name:   "new range unknown",
			mod:    func(f *Facts) { f.Subnet = nil },
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceTags = nil; r.SourceRanges = []string{"10.0.0.0/8"} })},
			status: StatusWarn,
			msg:    []string{"the new traffic's range is unknown"},
		},
		{
			name: "direct to direct: a tag dropped",
			mod: func(f *Facts) {
				f.Workload.VPC = VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress", Tags: []string{"app", "db"}}
				f.CurrentSubnet = f.Subnet
				f.Target.Tags = []string{"app"}
			},
			rules:  []FirewallRule{allowRedis(func(r *FirewallRule) { r.SourceTags = []string{"db"} })},
			status: StatusFail,
			msg:    []string{"matches today's Direct VPC egress from subnetwork run-direct-vpc-egress (range 10.8.0.0/24, tags app,db)", "hint:--network-tags db"},
		},
		{
			name: "connector to connector",
			mod: func(f *Facts) {
				f.Target = VPC{Connector: "new-connector"}
				f.TargetConnector = &ConnectorFacts{Name: "new-connector", Exists: true, State: "READY", Network: "run-vpc", IPCIDRRange: "10.16.0.0/28"}
			},
			rules: []FirewallRule{
				allowRedis(func(r *FirewallRule) { r.SourceTags = []string{"vpc-connector-asia-northeast1-run-connector"} }),
				allowRedis(func(r *FirewallRule) { r.Name = "universal" }),
			},
			status: StatusFail,
			msg:    []string{"rule allow-redis", "hint:add the new connector's tag vpc-connector-asia-northeast1-new-connector (or its range) to allow-redis"},
		},
		{
			name:   "current range unknown, tags still identify the connector",
			mod:    func(f *Facts) { f.CurrentConnector = nil },
			rules:  []FirewallRule{allowRedis(nil)},
			status: StatusFail,
		},
		{
			name: "nothing identifies today's traffic",
			mod: func(f *Facts) {
				f.Workload.VPC = VPC{Subnet: "old-subnet"}
				f.CurrentSubnet = nil
			},
			status: StatusSkip, msg: []string{"no network tags"},
		},
		{
			name: "not looked up", mod: func(f *Facts) { f.Firewall = nil },
			status: StatusSkip, msg: []string{"not looked up"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFacts()
			if tt.mod != nil {
				tt.mod(&f)
			}
			if f.Firewall != nil {
				f.Firewall.Rules = tt.rules
			}
			c := run(t, f, CheckFirewall)
			expect(t, c, tt.status, tt.msg...)
			if tt.numbers != nil && !maps.Equal(c.Numbers, tt.numbers) {
				t.Errorf("numbers %v\nwant    %v", c.Numbers, tt.numbers)
			}
		})
	}
}

func TestPermissionsCheck(t *testing.T) {
	f := baseFacts()
	c := run(t, f, CheckPermissions)
	expect(t, c, StatusPass, "the caller has all 2 permissions checked")
	f.Permissions.Missing = []string{"compute.subnetworks.use"}
	c = run(t, f, CheckPermissions)
	expect(t, c, StatusFail, "the caller lacks compute.subnetworks.use on subnetwork projects/"+proj+"/regions/"+region+"/subnetworks/run-direct-vpc-egress", "hint:roles/compute.networkUser")
	f.Permissions.Missing = []string{"run.services.update", "compute.subnetworks.use"}
	c = run(t, f, CheckPermissions)
	expect(t, c, StatusFail, "the caller lacks run.services.update on service run-service; compute.subnetworks.use on subnetwork projects/")
	f.Permissions.Missing = []string{"compute.subnetworks.use"}
	c = run(t, f, CheckPermissions)
	if !maps.Equal(c.Numbers, map[string]int64{"checked": 2, "missing": 1}) {
		t.Errorf("numbers %v", c.Numbers)
	}
	f.Permissions = nil
	expect(t, run(t, f, CheckPermissions), StatusSkip)
}

func TestApplyForce(t *testing.T) {
	checks := []Check{
		{Name: CheckFreeIPs, Status: StatusFail, Message: "needs more"},
		{Name: CheckNAT, Status: StatusFail, Message: "no NAT"},
		{Name: CheckQuota, Status: StatusPass, Message: "ok"},
		{Name: CheckRegion, Status: StatusFail, Message: "wrong region"},
	}
	orig := slices.Clone(checks)
	got, err := ApplyForce(checks, []string{CheckFreeIPs, CheckQuota})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(checks, orig) {
		t.Error("ApplyForce modified its input")
	}
	if got[0].Status != StatusWarn || !got[0].Forced || got[0].Message != "needs more [failure overridden with --force]" {
		t.Errorf("forced check = %+v", got[0])
	}
	if !reflect.DeepEqual(got[1:], orig[1:]) {
		t.Errorf("other checks changed: %+v", got)
	}
	if f := Failed(got); len(f) != 2 || f[0].Name != CheckNAT || f[1].Name != CheckRegion {
		t.Errorf("Failed = %v", names(f))
	}

	_, err = ApplyForce(checks, []string{"free-ip"})
	wantErr(t, err, `invalid --force "free-ip": unknown check`, "valid checks: free-ips, direct-vpc-quota, connector-machine-type, egress-kept, cloud-nat, nat-egress-ip, nat-ports, private-google-access, firewall-rules, firewall-policies, startup-probe, metric-gate, permissions, service-agent")
	_, err = ApplyForce(checks, []string{CheckRegion})
	wantErr(t, err, "check region-match cannot be forced")
	if got, err := ApplyForce(nil, nil); err != nil || len(got) != 0 {
		t.Errorf("ApplyForce(nil, nil) = %v, %v", got, err)
	}
}

func TestForceable(t *testing.T) {
	for name, want := range map[string]bool{
		CheckFreeIPs: true, CheckQuota: true, CheckNAT: true, CheckFirewall: true, CheckPermissions: true, CheckEgressKept: true,
		CheckRegion: false, CheckWorkerPoolConnector: false, CheckSubnet: false, CheckSubnetSize: false,
		CheckNetwork: false, CheckConnectorReady: false, CheckVPCSettings: false, "nope": false,
	} {
		if got := Forceable(name); got != want {
			t.Errorf("Forceable(%q) = %v, want %v", name, got, want)
		}
	}
}
