package computeapi

import (
	"testing"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
)

// Manual NAT IPs: static external addresses of the region, written as URLs, shown IN_USE by
// the router and kept from deletion; the router status reports them with the VMs served and
// the addresses still missing for minPortsPerVm.
func TestNatManualIPsAndRouterStatus(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, testRegion, "s", "vpc", "10.8.0.0/24")
	e.subnet(t, testProject, testRegion, "other", "vpc", "10.9.0.0/24")
	e.ok(t)(e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "nat-ip", AddressType: "EXTERNAL"}).Do())
	e.ok(t)(e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "internal", AddressType: "INTERNAL", Subnetwork: "regions/" + testRegion + "/subnetworks/s"}).Do())
	e.ok(t)(e.svc.Routers.Insert(testProject, testRegion, &compute.Router{Name: "r", Network: "global/networks/vpc"}).Do())

	patch := func(n *compute.RouterNat) error {
		op, err := e.svc.Routers.Patch(testProject, testRegion, "r", &compute.Router{Nats: []*compute.RouterNat{n}}).Do()
		if err == nil {
			e.wait(t, op)
		}
		return err
	}
	listed := []*compute.RouterNatSubnetworkToNat{{Name: "s", SourceIpRangesToNat: []string{"ALL_IP_RANGES"}}}
	for name, bad := range map[string]*compute.RouterNat{
		"missing address":  {NatIps: []string{"nope"}},
		"internal address": {NatIps: []string{"internal"}},
		"min ports range":  {NatIps: []string{"nat-ip"}, MinPortsPerVm: 1},
		"max without DPA":  {NatIps: []string{"nat-ip"}, MaxPortsPerVm: 128},
		"DPA min ports":    {NatIps: []string{"nat-ip"}, EnableDynamicPortAllocation: true, MinPortsPerVm: 48},
		"DPA with EIM":     {NatIps: []string{"nat-ip"}, EnableDynamicPortAllocation: true, EnableEndpointIndependentMapping: true},
		"bad range option": {NatIps: []string{"nat-ip"}, Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "s", SourceIpRangesToNat: []string{"SOME"}}}},
	} {
		bad.Name, bad.NatIpAllocateOption, bad.SourceSubnetworkIpRangesToNat = "nat", "MANUAL_ONLY", "LIST_OF_SUBNETWORKS"
		if bad.Subnetworks == nil {
			bad.Subnetworks = listed
		}
		if err := patch(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := patch(&compute.RouterNat{Name: "nat", NatIpAllocateOption: "MANUAL_ONLY", NatIps: []string{"nat-ip"}, MinPortsPerVm: 4096,
		SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS", Subnetworks: listed}); err != nil {
		t.Fatal(err)
	}
	rt, err := e.svc.Routers.Get(testProject, testRegion, "r").Do()
	if err != nil {
		t.Fatal(err)
	}
	ipURL := linkBase + addressPath(testProject, testRegion, "nat-ip")
	if n := rt.Nats[0]; len(n.NatIps) != 1 || n.NatIps[0] != ipURL || n.MinPortsPerVm != 4096 {
		t.Errorf("nat = %+v", n)
	}
	a, err := e.svc.Addresses.Get(testProject, testRegion, "nat-ip").Do()
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != "IN_USE" || len(a.Users) != 1 || a.Users[0] != linkBase+routerPath(testProject, testRegion, "r") {
		t.Errorf("NAT address = %s users %v", a.Status, a.Users)
	}
	_, err = e.svc.Addresses.Delete(testProject, testRegion, "nat-ip").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource", "")

	// Another gateway for every subnet of the region would serve s twice.
	e.ok(t)(e.svc.Routers.Insert(testProject, testRegion, &compute.Router{Name: "r2", Network: "global/networks/vpc"}).Do())
	_, err = e.svc.Routers.Patch(testProject, testRegion, "r2", &compute.Router{Nats: []*compute.RouterNat{{
		Name: "all", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"}}}).Do()
	wantErr(t, err, 400, "invalid", "")
	// One for the other subnet is fine. A subnet's primary range is PRIMARY_IP_RANGE
	// (compute v1 RouterNatSubnetworkToNat.sourceIpRangesToNat, what gcloud's
	// --nat-custom-subnet-ip-ranges=SUBNET sends); PRIMARY_IP_RANGES is no value of it.
	otherNat := func(rng string) *compute.Router {
		return &compute.Router{Nats: []*compute.RouterNat{{
			Name: "other", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
			Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "other", SourceIpRangesToNat: []string{rng}}}}}}
	}
	_, err = e.svc.Routers.Patch(testProject, testRegion, "r2", otherNat("PRIMARY_IP_RANGES")).Do()
	wantErr2(t, err, 400, "Invalid value for field 'resource.nats[0].subnetworks[0].sourceIpRangesToNat[0]': 'PRIMARY_IP_RANGES'. Must be one of [ALL_IP_RANGES, LIST_OF_SECONDARY_IP_RANGES, PRIMARY_IP_RANGE].")
	e.ok(t)(e.svc.Routers.Patch(testProject, testRegion, "r2", otherNat("PRIMARY_IP_RANGE")).Do())

	// 20 connector VMs in s at 4096 ports each need 81,920 ports: two addresses, one more than
	// the gateway has.
	conn := "projects/" + testProject + "/locations/" + testRegion + "/connectors/c"
	e.w.Lock()
	e.w.S.Connectors[conn] = &vpcaccesspb.Connector{Name: conn, Subnet: &vpcaccesspb.Connector_Subnet{Name: "s"}, State: vpcaccesspb.Connector_READY, MinInstances: 2, MaxInstances: 20}
	e.w.S.ConnectorInstances[conn] = 20
	e.w.Unlock()
	st, err := e.svc.Routers.GetRouterStatus(testProject, testRegion, "r").Do()
	if err != nil {
		t.Fatal(err)
	}
	ns := st.Result.NatStatus
	if len(ns) != 1 || len(ns[0].UserAllocatedNatIps) != 1 || ns[0].UserAllocatedNatIps[0] != a.Address ||
		ns[0].NumVmEndpointsWithNatMappings != 20 || ns[0].MinExtraNatIpsNeeded != 1 || len(ns[0].AutoAllocatedNatIps) != 0 {
		t.Errorf("nat status = %+v", ns[0])
	}
	st2, err := e.svc.Routers.GetRouterStatus(testProject, testRegion, "r2").Do()
	if err != nil {
		t.Fatal(err)
	}
	if ns := st2.Result.NatStatus; len(ns) != 1 || len(ns[0].AutoAllocatedNatIps) != 1 || ns[0].NumVmEndpointsWithNatMappings != 0 {
		t.Errorf("auto nat status = %+v", ns)
	}
}
