package migration

import (
	"slices"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Keep is the one rule of what a new VPC access keeps: the egress unless one is given (none
// yet: private-ranges-only), and Direct VPC network tags only from Direct VPC egress, unless
// tags are given or cleared.
func TestKeepApply(t *testing.T) {
	const conn = "projects/p/locations/r/connectors/c"
	direct := egress.VPC{Network: "projects/p/global/networks/n", Subnet: "projects/p/regions/r/subnetworks/s"}
	withTags := func(v egress.VPC, e egress.Egress, tags ...string) egress.VPC { v.Egress, v.Tags = e, tags; return v }
	all, pro := egress.EgressAllTraffic, egress.EgressPrivateRangesOnly
	for _, tc := range []struct {
		name        string
		keep        Keep
		target, cur egress.VPC
		want        egress.VPC
	}{
		{"egress kept from a connector", Keep{}, direct, egress.VPC{Connector: conn, Egress: all}, withTags(direct, all)},
		{"no VPC access yet: private ranges", Keep{}, egress.VPC{Connector: conn}, egress.VPC{}, egress.VPC{Connector: conn, Egress: pro}},
		{"egress given", Keep{Egress: all}, egress.VPC{Connector: conn}, egress.VPC{Connector: conn, Egress: pro}, egress.VPC{Connector: conn, Egress: all}},
		{"tags kept within Direct VPC", Keep{}, direct, withTags(direct, all, "a"), withTags(direct, all, "a")},
		{"tags not taken from a connector", Keep{}, withTags(direct, egress.EgressUnset, "t"), egress.VPC{Connector: conn, Egress: pro}, withTags(direct, pro, "t")},
		{"tags given", Keep{Tags: []string{"b"}, TagsSet: true}, direct, withTags(direct, all, "a"), withTags(direct, all, "b")},
		{"tags cleared", Keep{ClearTags: true}, direct, withTags(direct, all, "a"), withTags(direct, all)},
		{"no VPC access stays none", Keep{Egress: all}, egress.VPC{}, withTags(direct, all, "a"), egress.VPC{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.keep.Apply(tc.target, tc.cur)
			if got.Connector != tc.want.Connector || got.Network != tc.want.Network || got.Subnet != tc.want.Subnet ||
				got.Egress != tc.want.Egress || !slices.Equal(got.Tags, tc.want.Tags) {
				t.Errorf("Apply = %+v, want %+v", got, tc.want)
			}
		})
	}
	// The result does not share the caller's tags.
	tags := []string{"x"}
	got := Keep{Tags: tags, TagsSet: true}.Apply(direct, egress.VPC{})
	got.Tags[0] = "changed"
	if tags[0] != "x" {
		t.Error("Apply returned the caller's slice")
	}
}

func TestDefaultSubnetName(t *testing.T) {
	if got := DefaultSubnetName("projects/p/global/networks/run-vpc"); got != "run-vpc-direct" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("a", egress.MaxComputeNameLength)
	got := DefaultSubnetName(long)
	if len(got) > egress.MaxComputeNameLength || !strings.HasSuffix(got, "-direct") {
		t.Errorf("DefaultSubnetName(%d chars) = %q (%d chars)", len(long), got, len(got))
	}
}
