package cloud

import (
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// VPCFromProto converts a Run Admin API v2 vpc_access (of a service's, a job's or a worker
// pool's template) into egress.VPC, names kept as the API holds them. nil is no VPC access.
// The API allows one network interface; only the first is read.
func VPCFromProto(va *runpb.VpcAccess) egress.VPC {
	if va == nil {
		return egress.VPC{}
	}
	v := egress.VPC{Connector: va.GetConnector(), Egress: egressFromProto(va.GetEgress())}
	if nis := va.GetNetworkInterfaces(); len(nis) > 0 {
		ni := nis[0]
		v.Network, v.Subnet = ni.GetNetwork(), ni.GetSubnetwork()
		if len(ni.GetTags()) > 0 {
			v.Tags = append([]string(nil), ni.GetTags()...)
		}
	}
	return v
}

// VPCToProto converts v into a vpc_access: the connector, or one network interface
// (network, subnetwork, tags), and the egress setting. No VPC access (ModeNone) is nil, which
// clears vpc_access: the egress setting means nothing without a connector or an interface.
// Names are sent as v holds them; callers canonicalise first (egress.VPC.Canonical).
func VPCToProto(v egress.VPC) *runpb.VpcAccess {
	switch v.Mode() {
	case egress.ModeConnector:
		return &runpb.VpcAccess{Connector: v.Connector, Egress: egressToProto(v.Egress)}
	case egress.ModeDirect:
		ni := &runpb.VpcAccess_NetworkInterface{Network: v.Network, Subnetwork: v.Subnet}
		if len(v.Tags) > 0 {
			ni.Tags = append([]string(nil), v.Tags...)
		}
		return &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{ni}, Egress: egressToProto(v.Egress)}
	}
	return nil
}

func egressFromProto(e runpb.VpcAccess_VpcEgress) egress.Egress {
	switch e {
	case runpb.VpcAccess_ALL_TRAFFIC:
		return egress.EgressAllTraffic
	case runpb.VpcAccess_PRIVATE_RANGES_ONLY:
		return egress.EgressPrivateRangesOnly
	}
	return egress.EgressUnset
}

func egressToProto(e egress.Egress) runpb.VpcAccess_VpcEgress {
	switch e {
	case egress.EgressAllTraffic:
		return runpb.VpcAccess_ALL_TRAFFIC
	case egress.EgressPrivateRangesOnly:
		return runpb.VpcAccess_PRIVATE_RANGES_ONLY
	}
	return runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED
}
