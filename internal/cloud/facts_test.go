package cloud

import (
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// GatherFacts reads no more than it needs: a target subnet the caller read already is not
// read again, its network is not read when the subnet shows it, and the connector's subnet
// is read for its range alone. A --network other than the subnet's is still read.
func TestGatherFactsReuse(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	w, err := c.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if err != nil {
		t.Fatal(err)
	}
	const subnet = "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress"
	sref, _ := egress.ParseSubnetRef(subnet, "", "")
	s, err := c.GetSubnet(ctx, sref)
	if err != nil {
		t.Fatal(err)
	}

	e.ResetCalls()
	g, err := c.GatherFacts(ctx, FactsRequest{Workload: w, Target: egress.VPC{Subnet: subnet}, Subnet: s})
	if err != nil {
		t.Fatal(err)
	}
	if g.Subnet == nil || !g.Subnet.Exists || g.Subnet.CIDR != "10.8.0.0/24" {
		t.Errorf("subnet %+v", g.Subnet)
	}
	if g.Network == nil || !g.Network.Exists || g.Network.Name != "projects/demo-project/global/networks/run-vpc" {
		t.Errorf("network %+v", g.Network)
	}
	if cc := g.CurrentConnector; cc == nil || cc.SubnetCIDR != "10.15.0.0/28" || cc.Network != "projects/demo-project/global/networks/run-vpc" {
		t.Errorf("current connector %+v", cc)
	}
	calls := e.Calls()
	for method, want := range map[string]int{"compute.subnetworks.get": 1, "compute.addresses.list": 0, "compute.networks.get": 0} {
		if calls[method] != want {
			t.Errorf("%s: %d calls, want %d (%v)", method, calls[method], want, calls)
		}
	}

	// A network that is not the subnet's: read (it does not exist), the subnet too (the one
	// handed over is another).
	other, _ := egress.ParseSubnetRef("projects/demo-project/regions/asia-northeast1/subnetworks/nope", "", "")
	e.ResetCalls()
	g, err = c.GatherFacts(ctx, FactsRequest{Workload: w, Target: egress.VPC{Network: "projects/demo-project/global/networks/elsewhere", Subnet: subnet},
		Subnet: &Subnet{Path: other.Path()}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Subnet == nil || !g.Subnet.Exists || g.Network == nil || g.Network.Exists || g.Network.Name != "projects/demo-project/global/networks/elsewhere" {
		t.Errorf("subnet %+v, network %+v", g.Subnet, g.Network)
	}
	if calls := e.Calls(); calls["compute.networks.get"] != 1 || calls["compute.addresses.list"] != 1 {
		t.Errorf("calls %v", calls)
	}
}
