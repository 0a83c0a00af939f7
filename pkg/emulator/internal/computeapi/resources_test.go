package computeapi

import (
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func TestFirewallLifecycle(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	_, err := e.svc.Firewalls.Get(testProject, "fw").Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/global/firewalls/fw' was not found")

	op, err := e.svc.Firewalls.Insert(testProject, &compute.Firewall{
		Name: "fw", Network: "projects/test-project/global/networks/vpc",
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "1000-2000"}}, {IPProtocol: "udp", Ports: []string{"1184", "2"}}},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op.OperationType != "insert" || op.Region != "" || op.TargetLink != linkBase+"projects/test-project/global/firewalls/fw" {
		t.Errorf("insert op = %+v", op)
	}
	e.wait(t, op)
	fw, err := e.svc.Firewalls.Get(testProject, "fw").Do()
	if err != nil {
		t.Fatal(err)
	}
	if fw.Kind != "compute#firewall" || fw.Id != op.TargetId || fw.Direction != "INGRESS" || fw.Priority != 1000 || fw.Disabled ||
		fw.LogConfig == nil || fw.LogConfig.Enable || fw.Network != linkBase+"projects/test-project/global/networks/vpc" ||
		fw.SelfLink != linkBase+"projects/test-project/global/firewalls/fw" || len(fw.Allowed) != 2 || fw.Allowed[0].Ports[1] != "1000-2000" ||
		len(fw.SourceRanges) != 0 || !tsRE.MatchString(fw.CreationTimestamp) {
		t.Errorf("firewall = %+v", fw)
	}
	if _, b := e.raw(t, "GET", "projects/test-project/global/firewalls/fw"); !strings.Contains(string(b), `"disabled":false`) ||
		!strings.Contains(string(b), `"logConfig":{"enable":false}`) {
		t.Errorf("firewall body = %s", b)
	}

	op = e.ok(t)(e.svc.Firewalls.Patch(testProject, "fw", &compute.Firewall{
		Name: "fw", Network: "projects/test-project/global/networks/vpc", Disabled: true,
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}},
	}).Do())
	if op.OperationType != "compute.firewalls.patch" {
		t.Errorf("patch operationType = %q", op.OperationType)
	}
	fw, _ = e.svc.Firewalls.Get(testProject, "fw").Do()
	if !fw.Disabled || len(fw.Allowed) != 1 || fw.Allowed[0].IPProtocol != "tcp" || len(fw.Allowed[0].Ports) != 0 || fw.Priority != 1000 {
		t.Errorf("patched firewall = %+v", fw)
	}
	// Priority 0 is a priority, when sent.
	e.ok(t)(e.svc.Firewalls.Patch(testProject, "fw", &compute.Firewall{Priority: 0, ForceSendFields: []string{"Priority"}, SourceRanges: []string{"10.0.0.0/8"}}).Do())
	fw, _ = e.svc.Firewalls.Get(testProject, "fw").Do()
	if fw.Priority != 0 || len(fw.SourceRanges) != 1 {
		t.Errorf("firewall after priority 0 = %+v", fw)
	}
	_, err = e.svc.Firewalls.Patch(testProject, "fw", &compute.Firewall{Denied: []*compute.FirewallDenied{{IPProtocol: "all"}}}).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = e.svc.Firewalls.Patch(testProject, "fw", &compute.Firewall{Network: "global/networks/other"}).Do()
	wantErr(t, err, 400, "invalid", "")

	list, err := e.svc.Firewalls.List(testProject).Do()
	if err != nil || len(list.Items) != 1 || list.Kind != "compute#firewallList" {
		t.Errorf("list = %+v, %v", list, err)
	}
	_, err = e.svc.Networks.Delete(testProject, "vpc").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The network resource 'projects/test-project/global/networks/vpc' is already being used by 'projects/test-project/global/firewalls/fw'")
	op = e.ok(t)(e.svc.Firewalls.Delete(testProject, "fw").Do())
	if op.OperationType != "delete" {
		t.Errorf("delete op = %+v", op)
	}
	e.ok(t)(e.svc.Networks.Delete(testProject, "vpc").Do())
}

func TestFirewallValidation(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	allow := []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"22"}}}
	e.ok(t)(e.svc.Firewalls.Insert(testProject, &compute.Firewall{Name: "taken", Network: "global/networks/vpc", Allowed: allow}).Do())
	for _, tc := range []struct {
		name   string
		fw     compute.Firewall
		status int
		reason string
		msg    string
	}{
		{"bad name", compute.Firewall{Name: "-x", Network: "global/networks/vpc", Allowed: allow}, 400, "invalid", ""},
		{"network missing", compute.Firewall{Name: "x", Network: "global/networks/nope", Allowed: allow}, 404, "notFound",
			"The resource 'projects/test-project/global/networks/nope' was not found"},
		{"default network missing", compute.Firewall{Name: "x", Allowed: allow}, 404, "notFound",
			"The resource 'projects/test-project/global/networks/default' was not found"},
		{"no rules", compute.Firewall{Name: "x", Network: "global/networks/vpc"}, 400, "invalid", ""},
		{"both rules", compute.Firewall{Name: "x", Network: "global/networks/vpc", Allowed: allow, Denied: []*compute.FirewallDenied{{IPProtocol: "udp"}}}, 400, "invalid", ""},
		{"bad protocol", compute.Firewall{Name: "x", Network: "global/networks/vpc", Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcpp"}}}, 400, "invalid", ""},
		{"bad port", compute.Firewall{Name: "x", Network: "global/networks/vpc", Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"70000"}}}}, 400, "invalid", ""},
		{"bad range", compute.Firewall{Name: "x", Network: "global/networks/vpc", Allowed: allow, SourceRanges: []string{"10.0.0/8"}}, 400, "invalid", ""},
		{"bad direction", compute.Firewall{Name: "x", Network: "global/networks/vpc", Allowed: allow, Direction: "SIDEWAYS"}, 400, "invalid", ""},
		{"bad priority", compute.Firewall{Name: "x", Network: "global/networks/vpc", Allowed: allow, Priority: 70000}, 400, "invalid", ""},
		{"taken", compute.Firewall{Name: "taken", Network: "global/networks/vpc", Allowed: allow}, 409, "alreadyExists",
			"The resource 'projects/test-project/global/firewalls/taken' already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw := tc.fw
			_, err := e.svc.Firewalls.Insert(testProject, &fw).Do()
			wantErr(t, err, tc.status, tc.reason, tc.msg)
		})
	}
	// Egress with denied rules, explicit priority and logging.
	e.ok(t)(e.svc.Firewalls.Insert(testProject, &compute.Firewall{
		Name: "deny-egress", Network: "global/networks/vpc", Direction: "EGRESS", Priority: 65534,
		Denied: []*compute.FirewallDenied{{IPProtocol: "all"}}, DestinationRanges: []string{"0.0.0.0/0"},
		LogConfig: &compute.FirewallLogConfig{Enable: true},
	}).Do())
	fw, _ := e.svc.Firewalls.Get(testProject, "deny-egress").Do()
	if fw.Direction != "EGRESS" || fw.Priority != 65534 || !fw.LogConfig.Enable || fw.LogConfig.Metadata != "INCLUDE_ALL_METADATA" {
		t.Errorf("egress firewall = %+v log %+v", fw, fw.LogConfig)
	}
}

func TestRouterNatLifecycle(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	const region = "us-west1"
	_, err := e.svc.Routers.Get(testProject, region, "r").Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/regions/us-west1/routers/r' was not found")
	op := e.ok(t)(e.svc.Routers.Insert(testProject, region, &compute.Router{
		Name: "r", Description: "example router description", Network: "projects/test-project/global/networks/vpc",
		Region: "projects/test-project/global/regions/us-west1",
	}).Do())
	if op.OperationType != "insert" || op.Region != regionLink(testProject, region) {
		t.Errorf("insert op = %+v", op)
	}
	rt, err := e.svc.Routers.Get(testProject, region, "r").Do()
	if err != nil {
		t.Fatal(err)
	}
	if rt.Kind != "compute#router" || rt.Network != linkBase+"projects/test-project/global/networks/vpc" ||
		rt.Region != regionLink(testProject, region) || rt.EncryptedInterconnectRouter || len(rt.Nats) != 0 || rt.Bgp != nil {
		t.Errorf("router = %+v", rt)
	}
	if _, b := e.raw(t, "GET", "projects/test-project/regions/us-west1/routers/r"); !strings.Contains(string(b), `"encryptedInterconnectRouter":false`) {
		t.Errorf("router body = %s", b)
	}

	// Add a NAT.
	nat := &compute.RouterNat{Name: "nat", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"}
	op = e.ok(t)(e.svc.Routers.Patch(testProject, region, "r", &compute.Router{Nats: []*compute.RouterNat{nat}}).Do())
	if op.OperationType != "patch" {
		t.Errorf("patch operationType = %q", op.OperationType)
	}
	rt, _ = e.svc.Routers.Get(testProject, region, "r").Do()
	if len(rt.Nats) != 1 {
		t.Fatalf("nats = %+v", rt.Nats)
	}
	n := rt.Nats[0]
	if n.AutoNetworkTier != "PREMIUM" || n.EffectiveTcpTimeWaitTimeoutSec != 120 || len(n.EndpointTypes) != 1 || n.EndpointTypes[0] != "ENDPOINT_TYPE_VM" ||
		n.Type != "PUBLIC" || n.NatIpAllocateOption != "AUTO_ONLY" || n.SourceSubnetworkIpRangesToNat != "ALL_SUBNETWORKS_ALL_IP_RANGES" || n.IcmpIdleTimeoutSec != 0 {
		t.Errorf("nat = %+v", n)
	}
	// Update it.
	nat.IcmpIdleTimeoutSec = 40
	e.ok(t)(e.svc.Routers.Patch(testProject, region, "r", &compute.Router{Nats: []*compute.RouterNat{nat}}).Do())
	rt, _ = e.svc.Routers.Get(testProject, region, "r").Do()
	if len(rt.Nats) != 1 || rt.Nats[0].IcmpIdleTimeoutSec != 40 {
		t.Errorf("nats after update = %+v", rt.Nats)
	}
	// A patch without nats leaves them.
	e.ok(t)(e.svc.Routers.Patch(testProject, region, "r", &compute.Router{}).Do())
	rt, _ = e.svc.Routers.Get(testProject, region, "r").Do()
	if len(rt.Nats) != 1 {
		t.Errorf("nats after an empty patch = %+v", rt.Nats)
	}
	// Remove it.
	e.ok(t)(e.svc.Routers.Patch(testProject, region, "r", &compute.Router{Nats: []*compute.RouterNat{}, ForceSendFields: []string{"Nats"}}).Do())
	rt, _ = e.svc.Routers.Get(testProject, region, "r").Do()
	if len(rt.Nats) != 0 {
		t.Errorf("nats after removal = %+v", rt.Nats)
	}

	// Invalid NATs.
	e.subnet(t, testProject, region, "s", "vpc", "10.0.0.0/24")
	for _, bad := range []*compute.RouterNat{
		{Name: "n", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"},
		{Name: "n", NatIpAllocateOption: "SOMETIMES", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"},
		{Name: "n", NatIpAllocateOption: "AUTO_ONLY"},
		{Name: "n", NatIpAllocateOption: "MANUAL_ONLY", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"},
		{Name: "n", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS"},
		{Name: "n", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
			Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "missing"}}},
		{Name: "N", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"},
	} {
		_, err := e.svc.Routers.Patch(testProject, region, "r", &compute.Router{Nats: []*compute.RouterNat{bad}}).Do()
		if err == nil {
			t.Errorf("nat %+v accepted", bad)
		}
	}
	e.ok(t)(e.svc.Routers.Patch(testProject, region, "r", &compute.Router{Nats: []*compute.RouterNat{{
		Name: "listed", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
		Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "s", SourceIpRangesToNat: []string{"ALL_IP_RANGES"}}},
	}}}).Do())
	rt, _ = e.svc.Routers.Get(testProject, region, "r").Do()
	if len(rt.Nats) != 1 || rt.Nats[0].Subnetworks[0].Name != linkBase+"projects/test-project/regions/us-west1/subnetworks/s" {
		t.Errorf("listed nat = %+v", rt.Nats)
	}

	// Insert validation.
	_, err = e.svc.Routers.Insert(testProject, region, &compute.Router{Name: "r", Network: "global/networks/vpc"}).Do()
	wantErr(t, err, 409, "alreadyExists", "The resource 'projects/test-project/regions/us-west1/routers/r' already exists")
	_, err = e.svc.Routers.Insert(testProject, region, &compute.Router{Name: "r2", Network: "global/networks/nope"}).Do()
	wantErr(t, err, 404, "notFound", "")
	_, err = e.svc.Routers.Insert(testProject, region, &compute.Router{Name: "r2"}).Do()
	wantErr(t, err, 400, "required", "Required field 'resource.network' not specified")

	// Lists.
	list, err := e.svc.Routers.List(testProject, region).Do()
	if err != nil || len(list.Items) != 1 || list.Kind != "compute#routerList" {
		t.Errorf("list = %+v, %v", list, err)
	}
	agg, err := e.svc.Routers.AggregatedList(testProject).Do()
	if err != nil || agg.Kind != "compute#routerAggregatedList" || len(agg.Items["regions/us-west1"].Routers) != 1 ||
		agg.Items["regions/us-east1"].Warning == nil || len(agg.Items) != len(world.Regions) {
		t.Errorf("aggregated list = %+v, %v", agg, err)
	}

	// The router keeps the network; deleting it frees it.
	e.ok(t)(e.svc.Subnetworks.Delete(testProject, region, "s").Do())
	_, err = e.svc.Networks.Delete(testProject, "vpc").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The network resource 'projects/test-project/global/networks/vpc' is already being used by 'projects/test-project/regions/us-west1/routers/r'")
	op = e.ok(t)(e.svc.Routers.Delete(testProject, region, "r").Do())
	if op.OperationType != "delete" {
		t.Errorf("delete op = %+v", op)
	}
	e.ok(t)(e.svc.Networks.Delete(testProject, "vpc").Do())
}

func TestAddresses(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, testRegion, "s", "vpc", "10.8.0.0/26")
	const owner = "projects/test-project/locations/asia-northeast1/services/svc/revisions/svc-00001-abc"
	e.w.Lock()
	if err := e.w.SetHeldBlocksLocked(testProject, testRegion, "s", owner, 2); err != nil {
		t.Fatal(err)
	}
	res := e.w.ReservationsLocked(world.RegionalKey(testProject, testRegion, "s"))
	e.w.Unlock()

	// Internal addresses are allocated past Google's reserved ones.
	e.ok(t)(e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "a1", AddressType: "INTERNAL", Subnetwork: "regions/asia-northeast1/subnetworks/s"}).Do())
	a1, err := e.svc.Addresses.Get(testProject, testRegion, "a1").Do()
	if err != nil {
		t.Fatal(err)
	}
	if a1.Address != "10.8.0.2" || a1.Kind != "compute#address" || a1.Status != "RESERVED" || a1.Purpose != "GCE_ENDPOINT" ||
		a1.AddressType != "INTERNAL" || a1.Subnetwork != linkBase+"projects/test-project/regions/asia-northeast1/subnetworks/s" ||
		a1.Region != regionLink(testProject, testRegion) || a1.LabelFingerprint != emptyLabelFingerprint {
		t.Errorf("address = %+v", a1)
	}
	// An explicit address must be free, inside the range and not reserved.
	for _, tc := range []struct{ addr, reason string }{
		{"10.8.0.2", "ipInUseByAnotherResource"},
		{"10.8.0.1", "invalid"},
		{"10.9.0.5", "invalid"},
		{res[0].Range[:strings.Index(res[0].Range, "/")], "ipInUseByAnotherResource"},
	} {
		_, err := e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "a2", AddressType: "INTERNAL", Subnetwork: "regions/asia-northeast1/subnetworks/s", Address: tc.addr}).Do()
		wantErr(t, err, 400, tc.reason, "")
	}
	e.ok(t)(e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "ext"}).Do())
	ext, _ := e.svc.Addresses.Get(testProject, testRegion, "ext").Do()
	if ext.AddressType != "EXTERNAL" || ext.Address == "" || ext.NetworkTier != "PREMIUM" || ext.Subnetwork != "" {
		t.Errorf("external address = %+v", ext)
	}
	_, err = e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "a1"}).Do()
	wantErr(t, err, 409, "alreadyExists", "The resource 'projects/test-project/regions/asia-northeast1/addresses/a1' already exists")
	_, err = e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: res[0].Name}).Do()
	wantErr(t, err, 409, "alreadyExists", "")
	_, err = e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "sl", AddressType: "INTERNAL", Purpose: "SERVERLESS", Subnetwork: "regions/asia-northeast1/subnetworks/s"}).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "nosub", AddressType: "INTERNAL", Subnetwork: "regions/asia-northeast1/subnetworks/none"}).Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/regions/asia-northeast1/subnetworks/none' was not found")

	// The list shows Cloud Run's SERVERLESS addresses among the others.
	list, err := e.svc.Addresses.List(testProject, testRegion).Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var serverless []*compute.Address
	for _, a := range list.Items {
		names = append(names, a.Name)
		if a.Purpose == "SERVERLESS" {
			serverless = append(serverless, a)
		}
	}
	if len(list.Items) != 4 || len(serverless) != 2 || list.Kind != "compute#addressList" {
		t.Fatalf("addresses = %v", names)
	}
	for i, a := range serverless {
		if a.Name != res[i].Name || a.AddressType != "INTERNAL" || a.Status != "IN_USE" || a.PrefixLength != 28 ||
			a.Address+"/28" != res[i].Range || a.Network != linkBase+"projects/test-project/global/networks/vpc" ||
			a.Subnetwork != linkBase+"projects/test-project/regions/asia-northeast1/subnetworks/s" || a.Region != regionLink(testProject, testRegion) ||
			a.Id == 0 || !tsRE.MatchString(a.CreationTimestamp) {
			t.Errorf("serverless address = %+v", a)
		}
	}
	got, err := e.svc.Addresses.Get(testProject, testRegion, res[1].Name).Do()
	if err != nil || got.Purpose != "SERVERLESS" || got.CreationTimestamp != serverless[1].CreationTimestamp {
		t.Errorf("get serverless address = %+v, %v", got, err)
	}
	filtered, _ := e.svc.Addresses.List(testProject, testRegion).Filter(`purpose eq SERVERLESS`).Do()
	if len(filtered.Items) != 2 {
		t.Errorf("filtered list has %d items", len(filtered.Items))
	}
	agg, err := e.svc.Addresses.AggregatedList(testProject).Do()
	if err != nil || agg.Kind != "compute#addressAggregatedList" || len(agg.Items["regions/"+testRegion].Addresses) != 4 {
		t.Errorf("aggregated = %+v, %v", agg, err)
	}

	// Serverless addresses belong to Cloud Run.
	_, err = e.svc.Addresses.Delete(testProject, testRegion, res[0].Name).Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The address resource 'projects/test-project/regions/asia-northeast1/addresses/"+res[0].Name+"' is already being used by '"+owner+"'")
	// A reserved internal address keeps the subnet.
	e.w.Lock()
	e.w.ReleaseOwnerLocked(owner)
	e.w.ExpireReservationsLocked()
	e.w.Unlock()
	_, err = e.svc.Subnetworks.Delete(testProject, testRegion, "s").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The subnetwork resource 'projects/test-project/regions/asia-northeast1/subnetworks/s' is already being used by 'projects/test-project/regions/asia-northeast1/addresses/a1'")
	op := e.ok(t)(e.svc.Addresses.Delete(testProject, testRegion, "a1").Do())
	if op.OperationType != "delete" {
		t.Errorf("delete op = %+v", op)
	}
	_, err = e.svc.Addresses.Get(testProject, testRegion, "a1").Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/regions/asia-northeast1/addresses/a1' was not found")
	e.ok(t)(e.svc.Subnetworks.Delete(testProject, testRegion, "s").Do())
}

func TestAddressSpaceExhausted(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, testRegion, "tiny", "vpc", "10.8.0.0/29")
	// A /29 has 8 addresses, 4 of them Google's.
	for i := range 4 {
		e.ok(t)(e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "a" + string(rune('0'+i)), AddressType: "INTERNAL", Subnetwork: "tiny"}).Do())
	}
	_, err := e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "more", AddressType: "INTERNAL", Subnetwork: "tiny"}).Do()
	wantErr(t, err, 400, "ipSpaceExhausted", "IP space of 'projects/test-project/regions/asia-northeast1/subnetworks/tiny' is exhausted.")
}

func TestRoutes(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "test-nw-abc", false)
	e.network(t, testProject, "test-nw-abcd", false)
	e.subnet(t, testProject, "us-central1", "s", "test-nw-abc", "10.0.0.0/24")
	list, err := e.svc.Routes.List(testProject).Filter(`network eq ".*\btest\-nw\-abc\b.*"`).MaxResults(500).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Kind != "compute#routeList" {
		t.Fatalf("routes = %+v", list.Items)
	}
	var def, local *compute.Route
	for _, r := range list.Items {
		if r.DestRange == "0.0.0.0/0" {
			def = r
		} else {
			local = r
		}
	}
	if def == nil || local == nil {
		t.Fatalf("routes = %+v", list.Items)
	}
	net := linkBase + "projects/test-project/global/networks/test-nw-abc"
	if def.Kind != "compute#route" || def.Description != "Default route to the Internet." || def.Priority != 1000 || def.Network != net ||
		def.NextHopGateway != linkBase+"projects/test-project/global/gateways/default-internet-gateway" ||
		!strings.HasPrefix(def.Name, "default-route-") || len(def.Name) != len("default-route-")+16 {
		t.Errorf("default route = %+v", def)
	}
	if local.DestRange != "10.0.0.0/24" || local.Priority != 0 || local.NextHopNetwork != net || local.Description != "Default local route to the subnetwork 10.0.0.0/24." {
		t.Errorf("local route = %+v", local)
	}
	got, err := e.svc.Routes.Get(testProject, def.Name).Do()
	if err != nil || got.DestRange != "0.0.0.0/0" {
		t.Errorf("get route = %+v, %v", got, err)
	}
	again, _ := e.svc.Routes.List(testProject).Do()
	if len(again.Items) != 3 {
		t.Errorf("unfiltered routes: %d, want 3", len(again.Items))
	}
	_, err = e.svc.Routes.Get(testProject, "nope").Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/global/routes/nope' was not found")
}

func TestListPagingAndOrder(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"c", "a", "b"} {
		e.network(t, testProject, n, false)
	}
	var got []string
	tok := ""
	for {
		l, err := e.svc.Networks.List(testProject).MaxResults(2).PageToken(tok).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range l.Items {
			got = append(got, n.Name)
		}
		if tok = l.NextPageToken; tok == "" {
			break
		}
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("paged names = %v", got)
	}
	l, err := e.svc.Networks.List(testProject).OrderBy("creationTimestamp desc").Do()
	if err != nil || len(l.Items) != 3 || l.Items[0].Name != "b" {
		// b was created last.
		t.Errorf("newest first = %+v, %v", l, err)
	}
	_, err = e.svc.Networks.List(testProject).OrderBy("id").Do()
	wantErr(t, err, 400, "invalid", "")
	// Another project's resources are not listed.
	l, _ = e.svc.Networks.List("other").Do()
	if len(l.Items) != 0 {
		t.Errorf("other project lists %d networks", len(l.Items))
	}
}
