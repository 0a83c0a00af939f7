package cli

import (
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// A migration to Direct VPC egress with --subnet reads that subnet once (its read, started
// with the workload's, serves the preflight too), the connector's subnet for its range only
// (no list of addresses), and not the network the subnet shows (docs/performance.md,
// Findings).
func TestMigrateSubnetReadOnce(t *testing.T) {
	er := newEmu(t)
	er.E.ResetCalls()
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != exitcode.OK {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	calls := er.E.Calls()
	for method, want := range map[string]int{
		"compute.subnetworks.get": 2, // --subnet, the connector's
		"compute.addresses.list":  1, // --subnet's reservations
		"compute.networks.get":    0,
	} {
		if calls[method] != want {
			t.Errorf("%s: %d calls, want %d (all: %v)", method, calls[method], want, calls)
		}
	}
	if after := er.Read(t, "run-service"); after.VPC.Subnet != tSubnet {
		t.Errorf("after: %+v", after.VPC)
	}
}
