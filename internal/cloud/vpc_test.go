package cloud

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
)

func TestVPCFromProto(t *testing.T) {
	const conn = "projects/p-123456/locations/asia-northeast1/connectors/c1"
	tests := []struct {
		name string
		in   *runpb.VpcAccess
		want egress.VPC
	}{
		{"nil", nil, egress.VPC{}},
		{"empty", &runpb.VpcAccess{}, egress.VPC{}},
		{"connector, egress unspecified", &runpb.VpcAccess{Connector: conn}, egress.VPC{Connector: conn}},
		{"connector, all traffic", &runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_ALL_TRAFFIC},
			egress.VPC{Connector: conn, Egress: egress.EgressAllTraffic}},
		{"direct", &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY, NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{
			{Network: "run-vpc", Subnetwork: "projects/host-proj/regions/asia-northeast1/subnetworks/s", Tags: []string{"b", "a"}},
		}}, egress.VPC{Network: "run-vpc", Subnet: "projects/host-proj/regions/asia-northeast1/subnetworks/s", Tags: []string{"b", "a"}, Egress: egress.EgressPrivateRangesOnly}},
		{"subnet only, no tags", &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: "s"}}},
			egress.VPC{Subnet: "s"}},
		{"only the first interface is read", &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "a"}, {Network: "b"}}},
			egress.VPC{Network: "a"}},
		{"egress only", &runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC}, egress.VPC{Egress: egress.EgressAllTraffic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VPCFromProto(tt.in)
			if got.String() != tt.want.String() || got.Mode() != tt.want.Mode() {
				t.Errorf("VPCFromProto = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVPCToProto(t *testing.T) {
	const conn = "projects/p-123456/locations/asia-northeast1/connectors/c1"
	tests := []struct {
		name string
		in   egress.VPC
		want *runpb.VpcAccess
	}{
		{"none", egress.VPC{}, nil},
		{"none drops egress", egress.VPC{Egress: egress.EgressAllTraffic}, nil},
		{"connector", egress.VPC{Connector: conn, Egress: egress.EgressPrivateRangesOnly},
			&runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}},
		{"connector, egress unset", egress.VPC{Connector: conn}, &runpb.VpcAccess{Connector: conn}},
		{"direct", egress.VPC{Network: "n", Subnet: "s", Tags: []string{"t"}, Egress: egress.EgressAllTraffic},
			&runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC, NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "n", Subnetwork: "s", Tags: []string{"t"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VPCToProto(tt.in)
			if !proto.Equal(got, tt.want) {
				t.Errorf("VPCToProto = %v, want %v", prototext.Format(got), prototext.Format(tt.want))
			}
		})
	}
}

// Converting to the API and back gives the same settings, and the tags slice is not shared.
func TestVPCRoundTrip(t *testing.T) {
	for _, v := range []egress.VPC{
		{},
		{Connector: "projects/p-123456/locations/r-east1/connectors/c", Egress: egress.EgressAllTraffic},
		{Network: "projects/p-123456/global/networks/n", Subnet: "projects/p-123456/regions/r-east1/subnetworks/s", Tags: []string{"x", "y"}, Egress: egress.EgressPrivateRangesOnly},
	} {
		pb := VPCToProto(v)
		got := VPCFromProto(pb)
		if got.String() != v.String() {
			t.Errorf("round trip of %v gave %v", v, got)
		}
		if len(v.Tags) > 0 {
			pb.NetworkInterfaces[0].Tags[0] = "changed"
			if v.Tags[0] == "changed" || got.Tags[0] == "changed" {
				t.Errorf("tags share memory with the proto")
			}
		}
	}
}
