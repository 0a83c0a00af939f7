package cloud

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

const testSubnetPath = "projects/p-123456/regions/asia-northeast1/subnetworks/direct"

func serverlessAddr(name string, prefix int64) *Address {
	return &Address{Name: name, Project: "p-123456", Region: "asia-northeast1", AddressType: "INTERNAL",
		Purpose: PurposeServerless, Subnetwork: testSubnetPath, PrefixLength: prefix}
}

func TestSubnetFromCompute(t *testing.T) {
	sn := &compute.Subnetwork{
		Name:        "direct",
		Region:      "https://www.googleapis.com/compute/v1/projects/p-123456/regions/asia-northeast1",
		Network:     "https://www.googleapis.com/compute/v1/projects/p-123456/global/networks/run-vpc",
		IpCidrRange: "10.8.0.0/24", Purpose: "PRIVATE", GatewayAddress: "10.8.0.1",
		SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "pods", IpCidrRange: "10.100.0.0/20"}},
		LogConfig: &compute.SubnetworkLogConfig{Enable: true, AggregationInterval: FlowLogsInterval10Min, FlowSampling: 0.5,
			Metadata: FlowLogsIncludeAllMetadata},
		UtilizationDetails: &compute.SubnetworkUtilizationDetails{Ipv4Utilizations: []*compute.SubnetworkUtilizationDetailsIPV4Utilization{
			{RangeName: "pods", TotalAllocatedIp: 999},
			{TotalAllocatedIp: 37, TotalFreeIp: 215},
		}},
	}
	addrs := []*Address{
		serverlessAddr("serverless-ipv4-2", 28),
		serverlessAddr("serverless-ipv4-1", 28),
		{Name: "vm-ip", Subnetwork: testSubnetPath, AddressType: "INTERNAL", Purpose: "GCE_ENDPOINT"},
		{Name: "elsewhere", Subnetwork: "projects/p-123456/regions/asia-northeast1/subnetworks/other", Purpose: PurposeServerless, PrefixLength: 28},
	}
	s := subnetFromCompute("p-123456", sn, addrs)
	want := Subnet{
		Name: "direct", Project: "p-123456", Region: "asia-northeast1", Path: testSubnetPath,
		Network: "run-vpc", NetworkPath: "projects/p-123456/global/networks/run-vpc",
		IPCIDRRange: "10.8.0.0/24", PrefixLength: 24, Purpose: "PRIVATE", Gateway: "10.8.0.1",
		Size: 256, UsableIPs: 252, ReservedIPs: 37, ReservedSource: ReservedFromUtilization,
		ServerlessIPs: 32, FreeIPs: 215, Blocks: 15, FreeBlocks: 13, DirectVPCEligible: true,
		StackType: StackIPv4Only, // the API's default when the field is absent
	}
	got := *s
	got.SecondaryRanges, got.FlowLogs, got.ServerlessAddresses = nil, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("subnet:\n got %+v\nwant %+v", got, want)
	}
	if strings.Join(s.ServerlessAddresses, ",") != "serverless-ipv4-1,serverless-ipv4-2" {
		t.Errorf("serverless addresses = %v", s.ServerlessAddresses)
	}
	if len(s.SecondaryRanges) != 1 || s.SecondaryRanges[0] != (SecondaryRange{"pods", "10.100.0.0/20"}) {
		t.Errorf("secondary ranges = %+v", s.SecondaryRanges)
	}
	if s.FlowLogs == nil || *s.FlowLogs != (FlowLogs{true, FlowLogsInterval10Min, 0.5, FlowLogsIncludeAllMetadata}) {
		t.Errorf("flow logs = %+v", s.FlowLogs)
	}
	f := s.Facts()
	if f.Name != testSubnetPath || f.CIDR != "10.8.0.0/24" || !f.Exists || f.ReservedIPs != 37 || f.Network != "projects/p-123456/global/networks/run-vpc" {
		t.Errorf("facts = %+v", f)
	}
}

func TestSubnetFromComputeWithoutUtilization(t *testing.T) {
	sn := &compute.Subnetwork{Name: "direct", Region: "regions/asia-northeast1", Network: "projects/p-123456/global/networks/n",
		IpCidrRange: "10.8.0.0/26", LogConfig: &compute.SubnetworkLogConfig{Enable: false}}
	s := subnetFromCompute("p-123456", sn, []*Address{serverlessAddr("serverless-ipv4-1", 28), {Name: "one", Subnetwork: testSubnetPath}})
	if s.ReservedSource != ReservedFromAddresses || s.ReservedIPs != 17 || s.ServerlessIPs != 16 {
		t.Errorf("reserved %d from %s, serverless %d; want 17 from addresses, 16", s.ReservedIPs, s.ReservedSource, s.ServerlessIPs)
	}
	if s.Gateway != "10.8.0.1" || s.FlowLogs != nil || s.Blocks != 3 || s.FreeIPs != 60-17 || s.FreeBlocks != 2 || !s.DirectVPCEligible {
		t.Errorf("subnet = %+v", s)
	}

	// Utilization below what Cloud Run visibly holds: the larger wins. Full subnets: no
	// negative counts.
	sn.IpCidrRange = "10.8.0.0/28"
	sn.UtilizationDetails = &compute.SubnetworkUtilizationDetails{Ipv4Utilizations: []*compute.SubnetworkUtilizationDetailsIPV4Utilization{{TotalAllocatedIp: 3}}}
	s = subnetFromCompute("p-123456", sn, []*Address{serverlessAddr("serverless-ipv4-1", 28)})
	if s.ReservedIPs != 16 || s.FreeIPs != 0 || s.FreeBlocks != 0 || s.Blocks != 0 || s.DirectVPCEligible {
		t.Errorf("full /28 = %+v", s)
	}

	// A range that does not parse leaves the numbers at zero.
	sn.IpCidrRange = "bogus"
	s = subnetFromCompute("p-123456", sn, nil)
	if s.Size != 0 || s.PrefixLength != 0 || s.Gateway != "" {
		t.Errorf("bogus range = %+v", s)
	}
}

func TestAddress(t *testing.T) {
	for _, tt := range []struct {
		a          Address
		ips        int64
		serverless bool
	}{
		{Address{Name: "x"}, 1, false},
		{Address{Name: "x", PrefixLength: 28}, 16, false},
		{Address{Name: "x", PrefixLength: 32}, 1, false},
		{Address{Name: "x", PrefixLength: 40}, 1, false},
		{Address{Name: "x", Purpose: PurposeServerless}, 1, true},
		{Address{Name: "serverless-ipv4-12"}, 1, true},
	} {
		if got := tt.a.IPs(); got != tt.ips {
			t.Errorf("%+v.IPs() = %d, want %d", tt.a, got, tt.ips)
		}
		if got := tt.a.Serverless(); got != tt.serverless {
			t.Errorf("%+v.Serverless() = %v", tt.a, got)
		}
	}
	a := addressFromCompute("p", &compute.Address{Name: "a", Region: "https://www.googleapis.com/compute/v1/projects/p/regions/r1",
		Subnetwork: "https://www.googleapis.com/compute/v1/projects/p/regions/r1/subnetworks/s", Users: []string{"u"}})
	if a.Region != "r1" || a.Subnetwork != "projects/p/regions/r1/subnetworks/s" || a.Users[0] != "u" {
		t.Errorf("address = %+v", a)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewRequestID()
		if !uuidV4.MatchString(id) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q repeated", id)
		}
		seen[id] = true
	}
}

func TestSubnetSpecCompute(t *testing.T) {
	spec := SubnetSpec{
		Ref:     egress.SubnetRef{Project: "p-123456", Region: "asia-northeast1", Name: "s"},
		Network: "run-vpc", IPCIDRRange: "10.0.0.0/26",
		FlowLogs: &FlowLogs{Enabled: true, FlowSampling: 0},
	}
	sn := spec.compute()
	if sn.Network != "https://www.googleapis.com/compute/v1/projects/p-123456/global/networks/run-vpc" {
		t.Errorf("network = %s", sn.Network)
	}
	b, err := sn.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// A sampling of 0 must be sent, not dropped as a zero value (the API default is 0.5).
	if !strings.Contains(string(b), `"flowSampling":0`) || !strings.Contains(string(b), `"enable":true`) {
		t.Errorf("body %s lacks flowSampling 0 or enable", b)
	}
	spec.FlowLogs = nil
	if sn := spec.compute(); sn.LogConfig != nil {
		t.Errorf("log config without flow logs: %+v", sn.LogConfig)
	}
}

func inUseAPIError(user string) error {
	msg := "The subnetwork resource '" + testSubnetPath + "' is already being used by '" + user + "'"
	return &googleapi.Error{Code: http.StatusBadRequest, Message: msg,
		Errors: []googleapi.ErrorItem{{Reason: reasonInUse, Message: msg}}}
}

func TestInUseUser(t *testing.T) {
	const user = "projects/p-123456/regions/asia-northeast1/addresses/serverless-ipv4-77"
	for _, tt := range []struct {
		name string
		err  error
		user string
		ok   bool
	}{
		{"http", fmt.Errorf("wrapped: %w", inUseAPIError(user)), user, true},
		{"operation", &ComputeOperationError{Operation: "op", HTTPStatus: 400, Errors: []*compute.OperationErrorErrors{
			{Code: opCodeInUse, Message: "The subnetwork resource 'x' is already being used by 'projects/p/zones/z/instances/vm'"}}},
			"projects/p/zones/z/instances/vm", true},
		{"other http", &googleapi.Error{Code: 400, Message: "bad", Errors: []googleapi.ErrorItem{{Reason: "invalid"}}}, "", false},
		{"plain", errors.New("boom"), "", false},
	} {
		user, ok := inUseUser(tt.err)
		if user != tt.user || ok != tt.ok {
			t.Errorf("%s: inUseUser = %q, %v; want %q, %v", tt.name, user, ok, tt.user, tt.ok)
		}
	}
}

func TestSubnetInUseError(t *testing.T) {
	ref := egress.SubnetRef{Project: "p-123456", Region: "asia-northeast1", Name: "direct"}
	e := &SubnetInUseError{Ref: ref, User: "projects/p-123456/regions/asia-northeast1/addresses/serverless-ipv4-77",
		Serverless: []string{"serverless-ipv4-77", "serverless-ipv4-78"}, ServerlessIPs: 32,
		Err: inUseAPIError("projects/p-123456/regions/asia-northeast1/addresses/serverless-ipv4-77")}
	want := `delete subnet "direct": Cloud Run still holds 32 addresses (serverless-ipv4-…, 2 reservations) for up to 1–2 hours after the last workload left; try again later. Compute: The subnetwork resource '` +
		testSubnetPath + `' is already being used by 'projects/p-123456/regions/asia-northeast1/addresses/serverless-ipv4-77'`
	if e.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", e.Error(), want)
	}
	if !e.HeldByCloudRun() || ExitCode(e) != exitcode.Failure {
		t.Errorf("held %v, exit code %d", e.HeldByCloudRun(), ExitCode(e))
	}
	other := &SubnetInUseError{Ref: ref, User: "projects/p/zones/z/instances/vm", Err: inUseAPIError("projects/p/zones/z/instances/vm")}
	if other.HeldByCloudRun() || !strings.Contains(other.Error(), "it is used by projects/p/zones/z/instances/vm") {
		t.Errorf("other user: %v", other)
	}
}

func TestComputeError(t *testing.T) {
	ge := &googleapi.Error{Code: 400, Message: "Invalid value for field 'resource.ipCidrRange'.", Errors: []googleapi.ErrorItem{{Reason: "invalid"}}}
	err := computeErr(`create subnet "s"`, ge)
	if got := err.Error(); got != `create subnet "s": Invalid value for field 'resource.ipCidrRange'. (HTTP 400, invalid)` {
		t.Errorf("message = %s", got)
	}
	var target *googleapi.Error
	if !errors.As(err, &target) {
		t.Error("googleapi.Error not in the chain")
	}
	if ExitCode(computeErr("x", &googleapi.Error{Code: 403, Message: "Required 'compute.subnetworks.use' permission"})) != exitcode.Permission {
		t.Error("403 is not a permission error")
	}
	if !IsComputeNotFound(computeErr("x", &googleapi.Error{Code: 404})) || IsComputeNotFound(ge) {
		t.Error("IsComputeNotFound")
	}
	op := computeErr("delete", &ComputeOperationError{Operation: "operation-1", HTTPStatus: 400,
		Errors: []*compute.OperationErrorErrors{{Code: "X", Message: "one"}, {Message: "two"}}})
	if op.Error() != "delete: one; two (operation operation-1)" {
		t.Errorf("operation error = %s", op)
	}
	if computeErr("x", nil) != nil {
		t.Error("computeErr(nil) != nil")
	}
}

func TestFirewallAndRouterFromCompute(t *testing.T) {
	fw := firewallFromCompute(&compute.Firewall{
		Name: "allow-redis", Network: "https://www.googleapis.com/compute/v1/projects/p/global/networks/run-vpc",
		Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"10.8.0.0/28"}, TargetTags: []string{"redis"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}},
		Denied:  []*compute.FirewallDenied{{IPProtocol: "udp"}}, LogConfig: &compute.FirewallLogConfig{Enable: true},
	})
	if fw.Network != "projects/p/global/networks/run-vpc" || fw.Priority != 1000 || fw.Allowed[0].Ports[0] != "6379" ||
		fw.Denied[0].Protocol != "udp" || !fw.Logging || fw.SourceRanges[0] != "10.8.0.0/28" || fw.TargetTags[0] != "redis" {
		t.Errorf("firewall = %+v", fw)
	}
	rt := routerFromCompute(&compute.Router{
		Name: "nat-router", Network: "https://www.googleapis.com/compute/v1/projects/p/global/networks/run-vpc",
		Region: "https://www.googleapis.com/compute/v1/projects/p/regions/asia-northeast1",
		Nats: []*compute.RouterNat{{Name: "nat", SourceSubnetworkIpRangesToNat: egress.NATListOfSubnetworks,
			Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "https://www.googleapis.com/compute/v1/" + testSubnetPath}}}},
	})
	if rt.Region != "asia-northeast1" || rt.Network != "projects/p/global/networks/run-vpc" || len(rt.NATs) != 1 ||
		rt.NATs[0].Subnetworks[0] != testSubnetPath || rt.NATs[0].SourceSubnetworkIPRangesToNat != egress.NATListOfSubnetworks {
		t.Errorf("router = %+v", rt)
	}
}

func TestNetworkFromCompute(t *testing.T) {
	n := networkFromCompute("p-123456", &compute.Network{Name: "run-vpc", Mtu: 1460,
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"},
		Subnetworks:   []string{"https://www.googleapis.com/compute/v1/" + testSubnetPath}})
	if n.Path != "projects/p-123456/global/networks/run-vpc" || n.RoutingMode != "REGIONAL" || n.MTU != 1460 || n.Subnetworks[0] != testSubnetPath {
		t.Errorf("network = %+v", n)
	}
}

// ---- Against the emulator.

func demoSubnetRef(name string) egress.SubnetRef {
	return egress.SubnetRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: name}
}

func TestSubnetsEmulator(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)

	subnets, err := c.ListSubnets(ctx, emulator.DemoProject, emulator.DemoRegion)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range subnets {
		names = append(names, s.Name)
		if s.ReservedSource != ReservedFromUtilization || s.FlowLogs == nil || s.FlowLogs.AggregationInterval != FlowLogsInterval10Min {
			t.Errorf("%s: %+v", s.Name, s)
		}
	}
	if strings.Join(names, ",") != "run-connector-subnet,run-direct-vpc-egress,run-subnet" {
		t.Errorf("subnets = %v", names)
	}

	spec := SubnetSpec{Ref: demoSubnetRef("made"), Network: emulator.DemoNetwork, IPCIDRRange: "10.9.0.0/26",
		FlowLogs: &FlowLogs{Enabled: true, AggregationInterval: FlowLogsInterval1Min, FlowSampling: 0.25, Metadata: FlowLogsExcludeAllMetadata}}
	// The first insert is applied but its response is lost: the retry carries the same
	// requestId, so Compute answers with the same operation and makes one subnet.
	e.InjectFault(emulator.Fault{Method: "compute.subnetworks.insert", Code: codes.Unavailable, Count: 1, AfterCommit: true})
	s, err := c.CreateSubnet(ctx, spec, WaitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Calls()["compute.subnetworks.insert"]; n != 2 {
		t.Errorf("insert called %d times, want 2", n)
	}
	if s.IPCIDRRange != "10.9.0.0/26" || s.Blocks != 3 || s.FreeBlocks != 3 || s.FlowLogs == nil ||
		*s.FlowLogs != (FlowLogs{true, FlowLogsInterval1Min, 0.25, FlowLogsExcludeAllMetadata}) {
		t.Errorf("created = %+v (flow logs %+v)", s, s.FlowLogs)
	}
	// Same again: success; another range: a conflict.
	if _, err := c.CreateSubnet(ctx, spec, WaitOptions{}); err != nil {
		t.Errorf("repeated create: %v", err)
	}
	spec2 := spec
	spec2.IPCIDRRange = "10.9.1.0/26"
	_, err = c.CreateSubnet(ctx, spec2, WaitOptions{})
	var se *SubnetExistsError
	if !errors.As(err, &se) || ExitCode(err) != exitcode.Conflict {
		t.Errorf("different create: %v (exit %d)", err, ExitCode(err))
	}
	// Overlap: Compute's own message, exit 1.
	_, err = c.CreateSubnet(ctx, SubnetSpec{Ref: demoSubnetRef("overlap"), Network: emulator.DemoNetwork, IPCIDRRange: "10.8.0.0/25"}, WaitOptions{})
	if err == nil || !strings.Contains(err.Error(), "conflicts with existing subnetwork 'run-direct-vpc-egress'") || ExitCode(err) != exitcode.Failure {
		t.Errorf("overlap: %v", err)
	}

	if err := c.DeleteSubnet(ctx, demoSubnetRef("made"), WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSubnet(ctx, demoSubnetRef("made")); !IsNotFound(err) || !IsComputeNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
}

func TestNetworkRangesEmulator(t *testing.T) {
	_, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	if _, err := c.CreateConnector(ctx, ConnectorSpec{Ref: demoConnRef("r1"), Network: emulator.DemoNetwork, IPCIDRRange: "10.0.0.0/28"}, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSubnet(ctx, SubnetSpec{Ref: egress.SubnetRef{Project: emulator.DemoProject, Region: "us-central1", Name: "far"},
		Network: emulator.DemoNetwork, IPCIDRRange: "10.0.0.64/26"}, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	ranges, warnings, err := c.NetworkRanges(ctx, emulator.DemoProject, emulator.DemoNetwork)
	if err != nil || len(warnings) > 0 {
		t.Fatal(err, warnings)
	}
	var got []string
	for _, r := range ranges {
		got = append(got, r.Prefix.String()+" "+r.Kind+" "+r.Name+" "+r.Region)
	}
	want := []string{
		"10.0.0.0/28 connector r1 asia-northeast1",
		"10.0.0.64/26 subnet far us-central1",
		"10.5.0.0/24 subnet run-subnet asia-northeast1",
		"10.8.0.0/24 subnet run-direct-vpc-egress asia-northeast1",
		"10.15.0.0/28 subnet run-connector-subnet asia-northeast1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ranges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	all, err := c.ListSubnetsAllRegions(ctx, emulator.DemoProject)
	if err != nil || len(all) != 4 || all[0].Region != "asia-northeast1" || all[3].Region != "us-central1" {
		t.Errorf("all regions: %d subnets, %v", len(all), err)
	}
	other, _, err := c.NetworkRanges(ctx, emulator.DemoProject, "projects/"+emulator.DemoProject+"/global/networks/other")
	if err != nil || len(other) != 0 {
		t.Errorf("other network: %v, %v", other, err)
	}
}

func TestNetworksFirewallsRoutersEmulator(t *testing.T) {
	_, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	nets, err := c.ListNetworks(ctx, emulator.DemoProject)
	if err != nil || len(nets) != 1 || nets[0].Name != emulator.DemoNetwork || nets[0].AutoCreateSubnetworks || len(nets[0].Subnetworks) != 3 {
		t.Fatalf("networks = %+v, %v", nets, err)
	}
	n, err := c.GetNetwork(ctx, egress.NetworkRef{Project: emulator.DemoProject, Name: emulator.DemoNetwork})
	if err != nil || n.Path != "projects/demo-project/global/networks/run-vpc" {
		t.Fatalf("network = %+v, %v", n, err)
	}
	if _, err := c.GetNetwork(ctx, egress.NetworkRef{Project: emulator.DemoProject, Name: "nope"}); !IsNotFound(err) {
		t.Errorf("missing network: %v", err)
	}

	cs, err := c.Compute()
	if err != nil {
		t.Fatal(err)
	}
	netURL := "https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/run-vpc"
	op, err := cs.Firewalls.Insert(emulator.DemoProject, &compute.Firewall{Name: "allow-redis", Network: netURL, Priority: 900,
		SourceRanges: []string{"10.15.0.0/28"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}}}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitCompute(ctx, cs, emulator.DemoProject, op); err != nil {
		t.Fatal(err)
	}
	op, err = cs.Routers.Insert(emulator.DemoProject, emulator.DemoRegion, &compute.Router{Name: "nat-router", Network: netURL,
		Nats: []*compute.RouterNat{{Name: "nat", SourceSubnetworkIpRangesToNat: egress.NATAllSubnetworksAllRanges, NatIpAllocateOption: "AUTO_ONLY"}}}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitCompute(ctx, cs, emulator.DemoProject, op); err != nil {
		t.Fatal(err)
	}
	fws, err := c.ListFirewalls(ctx, emulator.DemoProject, emulator.DemoNetwork)
	if err != nil || len(fws) != 1 || fws[0].Name != "allow-redis" || fws[0].Priority != 900 || fws[0].Allowed[0].Ports[0] != "6379" {
		t.Errorf("firewalls = %+v, %v", fws, err)
	}
	if fws, err := c.ListFirewalls(ctx, emulator.DemoProject, "other"); err != nil || len(fws) != 0 {
		t.Errorf("firewalls of another network = %+v, %v", fws, err)
	}
	rts, err := c.ListRouters(ctx, emulator.DemoProject, emulator.DemoRegion)
	if err != nil || len(rts) != 1 || rts[0].Name != "nat-router" || len(rts[0].NATs) != 1 || rts[0].NATs[0].SourceSubnetworkIPRangesToNat != egress.NATAllSubnetworksAllRanges {
		t.Errorf("routers = %+v, %v", rts, err)
	}
	addrs, err := c.ListAddresses(ctx, emulator.DemoProject, emulator.DemoRegion)
	if err != nil || len(addrs) != 0 {
		t.Errorf("addresses = %+v, %v", addrs, err)
	}
}
