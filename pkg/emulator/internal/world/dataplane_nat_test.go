package world

import (
	"testing"

	compute "google.golang.org/api/compute/v1"
)

// A LIST_OF_SUBNETWORKS gateway serves a listed subnet whose primary range it translates,
// PRIMARY_IP_RANGE as the Compute API names it (RouterNatSubnetworkToNat), and not one
// listed for its secondary ranges only.
func TestNatCoversListedSubnetPrimaryRange(t *testing.T) {
	nat := func(ranges ...string) *compute.RouterNat {
		return &compute.RouterNat{Name: "n", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
			Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: "projects/p/regions/r/subnetworks/s", SourceIpRangesToNat: ranges}}}
	}
	for _, tc := range []struct {
		ranges []string
		want   bool
	}{
		{[]string{"PRIMARY_IP_RANGE"}, true},
		{[]string{"ALL_IP_RANGES"}, true},
		{nil, true},
		{[]string{"LIST_OF_SECONDARY_IP_RANGES"}, false},
	} {
		if got := NatCovers(nat(tc.ranges...), "p/r/s"); got != tc.want {
			t.Errorf("ranges %v: covers %v, want %v", tc.ranges, got, tc.want)
		}
	}
}
