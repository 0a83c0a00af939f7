package computeapi

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func TestSubnetworkInsertAndOutputFields(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	op, err := e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{
		Name: "run-direct-vpc-egress", Network: "https://www.googleapis.com/compute/v1/projects/test-project/global/networks/vpc",
		IpCidrRange: "10.8.0.0/24", Description: "Direct VPC",
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op.OperationType != "insert" || op.Status != "RUNNING" || op.Region != regionLink(testProject, testRegion) ||
		op.TargetLink != linkBase+"projects/test-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress" {
		t.Errorf("insert op = %+v", op)
	}
	e.wait(t, op)
	sn, err := e.svc.Subnetworks.Get(testProject, testRegion, "run-direct-vpc-egress").Do()
	if err != nil {
		t.Fatal(err)
	}
	fp, err := base64.StdEncoding.DecodeString(sn.Fingerprint)
	if err != nil || len(fp) != 8 {
		t.Errorf("fingerprint %q is not 8 bytes of base64", sn.Fingerprint)
	}
	if sn.Kind != "compute#subnetwork" || sn.Id != op.TargetId || !tsRE.MatchString(sn.CreationTimestamp) ||
		sn.GatewayAddress != "10.8.0.1" || sn.IpCidrRange != "10.8.0.0/24" || sn.Purpose != "PRIVATE" ||
		sn.StackType != "IPV4_ONLY" || sn.State != "READY" || sn.PrivateIpGoogleAccess ||
		sn.PrivateIpv6GoogleAccess != "DISABLE_GOOGLE_ACCESS" || sn.LogConfig != nil || sn.Description != "Direct VPC" ||
		sn.Network != linkBase+"projects/test-project/global/networks/vpc" ||
		sn.Region != linkBase+"projects/test-project/regions/asia-northeast1" ||
		sn.SelfLink != linkBase+"projects/test-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress" ||
		sn.UtilizationDetails != nil {
		t.Errorf("subnetwork = %+v", sn)
	}
	if _, b := e.raw(t, "GET", "projects/test-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress"); !strings.Contains(string(b), `"privateIpGoogleAccess":false`) {
		t.Errorf("body lacks privateIpGoogleAccess:false: %s", b)
	}
	// The gateway is the range's first host, whatever the range.
	if sn := e.subnet(t, testProject, "us-central1", "odd", "vpc", "172.16.32.0/20"); sn.GatewayAddress != "172.16.32.1" {
		t.Errorf("gateway of 172.16.32.0/20 = %s", sn.GatewayAddress)
	}
	// The network lists its subnetworks.
	n, _ := e.svc.Networks.Get(testProject, "vpc").Do()
	if len(n.Subnetworks) != 2 || n.Subnetworks[0] != sn.SelfLink {
		t.Errorf("network subnetworks = %v", n.Subnetworks)
	}
	list, err := e.svc.Subnetworks.List(testProject, testRegion).Do()
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "run-direct-vpc-egress" || list.Kind != "compute#subnetworkList" ||
		list.SelfLink != linkBase+"projects/test-project/regions/asia-northeast1/subnetworks" {
		t.Errorf("list = %+v, %v", list, err)
	}
}

func TestSubnetworkLogConfig(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	for _, tc := range []struct {
		name string
		in   *compute.SubnetworkLogConfig
		want compute.SubnetworkLogConfig
	}{
		{"defaults", &compute.SubnetworkLogConfig{Enable: true}, compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "INTERVAL_5_SEC", FlowSampling: 0.5, Metadata: "INCLUDE_ALL_METADATA"}},
		{"given", &compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "INTERVAL_10_MIN", FlowSampling: 0.25, Metadata: "EXCLUDE_ALL_METADATA"},
			compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "INTERVAL_10_MIN", FlowSampling: 0.25, Metadata: "EXCLUDE_ALL_METADATA"}},
		{"disabled", &compute.SubnetworkLogConfig{Enable: false, ForceSendFields: []string{"Enable"}}, compute.SubnetworkLogConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "s-" + tc.name
			e.ok(t)(e.svc.Subnetworks.Insert(testProject, "us-east1", &compute.Subnetwork{
				Name: name, Network: "global/networks/vpc", IpCidrRange: "10." + map[string]string{"defaults": "1", "given": "2", "disabled": "3"}[tc.name] + ".0.0/24",
				LogConfig: tc.in,
			}).Do())
			sn, err := e.svc.Subnetworks.Get(testProject, "us-east1", name).Do()
			if err != nil {
				t.Fatal(err)
			}
			lc := sn.LogConfig
			if lc == nil || lc.Enable != tc.want.Enable || lc.AggregationInterval != tc.want.AggregationInterval ||
				lc.FlowSampling != tc.want.FlowSampling || lc.Metadata != tc.want.Metadata {
				t.Errorf("logConfig = %+v, want %+v", lc, tc.want)
			}
		})
	}
	_, err := e.svc.Subnetworks.Insert(testProject, "us-east1", &compute.Subnetwork{
		Name: "bad-log", Network: "global/networks/vpc", IpCidrRange: "10.9.0.0/24",
		LogConfig: &compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "INTERVAL_2_MIN"},
	}).Do()
	wantErr(t, err, 400, "invalid", "")
}

func TestSubnetworkInsertValidation(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, "asia-northeast1", "run-direct-vpc-egress", "vpc", "10.8.0.0/24")
	e.ok(t)(e.svc.Subnetworks.Insert(testProject, "us-west1", &compute.Subnetwork{
		Name: "with-secondary", Network: "global/networks/vpc", IpCidrRange: "10.20.0.0/24",
		SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "pods", IpCidrRange: "10.96.0.0/16"}},
	}).Do())
	// A connector's range (its hidden subnet) is part of the network too.
	e.w.Lock()
	e.w.S.Connectors["projects/test-project/locations/europe-west1/connectors/conn"] = &vpcaccesspb.Connector{
		Name: "projects/test-project/locations/europe-west1/connectors/conn", Network: "vpc", IpCidrRange: "10.30.0.0/28",
	}
	e.w.Unlock()

	const reName = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)"
	for _, tc := range []struct {
		name, region string
		sn           compute.Subnetwork
		status       int
		reason, msg  string
	}{
		{"bad name", testRegion, compute.Subnetwork{Name: "Subnet_1", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24"},
			400, "invalid", "Invalid value for field 'resource.name': 'Subnet_1'. Must be a match of regex '" + reName + "'"},
		{"name too long", testRegion, compute.Subnetwork{Name: "a" + strings.Repeat("b", 63), Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24"},
			400, "invalid", ""},
		{"unknown region", "moon-base1", compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24"},
			400, "invalid", "Invalid value for field 'region': 'moon-base1'. Unknown region."},
		{"network missing", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/nope", IpCidrRange: "10.1.0.0/24"},
			404, "notFound", "The resource 'projects/test-project/global/networks/nope' was not found"},
		{"network not given", testRegion, compute.Subnetwork{Name: "s", IpCidrRange: "10.1.0.0/24"},
			400, "required", "Required field 'resource.network' not specified"},
		{"host bits set", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.0.1.0/23"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.0.1.0/23'. Must be a CIDR address range."},
		{"not a CIDR", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.0.0.0'. Must be a CIDR address range."},
		{"IPv6", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "fd00::/64"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': 'fd00::/64'. Must be a CIDR address range."},
		{"prefix too long", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/30"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.1.0.0/30'. Invalid IPCidrRange: 10.1.0.0/30. The prefix length must be between /8 and /29."},
		{"prefix too short", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/7"},
			400, "invalid", ""},
		{"loopback", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "127.0.0.0/24"}, 400, "invalid", ""},
		{"this network", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "0.0.0.0/24"}, 400, "invalid", ""},
		{"multicast", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "224.1.0.0/24"}, 400, "invalid", ""},
		{"link-local", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "169.254.0.0/24"}, 400, "invalid", ""},
		{"overlap in another region", "us-central1", compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.8.0.0/25"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.8.0.0/25'. Invalid IPCidrRange: 10.8.0.0/25 conflicts with existing subnetwork 'run-direct-vpc-egress' in region 'asia-northeast1'."},
		{"overlap containing", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.8.0.0/16"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.8.0.0/16'. Invalid IPCidrRange: 10.8.0.0/16 conflicts with existing subnetwork 'run-direct-vpc-egress' in region 'asia-northeast1'."},
		{"overlap with a secondary range", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.96.4.0/24"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.96.4.0/24'. Invalid IPCidrRange: 10.96.4.0/24 conflicts with existing subnetwork 'with-secondary' in region 'us-west1'."},
		{"overlap with a connector range", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.30.0.0/24"},
			400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.30.0.0/24'. Invalid IPCidrRange: 10.30.0.0/24 conflicts with existing subnetwork 'conn' in region 'europe-west1'."},
		{"secondary overlaps the network", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24",
			SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "r", IpCidrRange: "10.8.0.128/25"}}},
			400, "invalid", "Invalid value for field 'resource.secondaryIpRanges[0].ipCidrRange': '10.8.0.128/25'. Invalid IPCidrRange: 10.8.0.128/25 conflicts with existing subnetwork 'run-direct-vpc-egress' in region 'asia-northeast1'."},
		{"secondary overlaps the primary", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24",
			SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "r", IpCidrRange: "10.1.0.0/25"}}}, 400, "invalid", ""},
		{"secondary bad CIDR", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24",
			SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "r", IpCidrRange: "10.2.0.1/24"}}},
			400, "invalid", "Invalid value for field 'resource.secondaryIpRanges[0].ipCidrRange': '10.2.0.1/24'. Must be a CIDR address range."},
		{"name taken", testRegion, compute.Subnetwork{Name: "run-direct-vpc-egress", Network: "global/networks/vpc", IpCidrRange: "10.8.0.0/24"},
			409, "alreadyExists", "The resource 'projects/test-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress' already exists"},
		{"region mismatch", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24", Region: "regions/us-east1"},
			400, "invalid", ""},
		{"cross-project network", testRegion, compute.Subnetwork{Name: "s", Network: "projects/other/global/networks/vpc", IpCidrRange: "10.1.0.0/24"},
			400, "invalid", ""},
		{"dual stack without an IPv6 access type", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24", StackType: "IPV4_IPV6"},
			400, "required", ""},
		{"internal IPv6 on a network without ULA", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24", StackType: "IPV4_IPV6", Ipv6AccessType: "INTERNAL"},
			400, "invalid", ""},
		{"IPv6-only stack", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24", StackType: "IPV6_ONLY"},
			400, "invalid", ""},
		{"IPv6 access type on an IPv4-only subnet", testRegion, compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24", Ipv6AccessType: "INTERNAL"},
			400, "invalid", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sn := tc.sn
			_, err := e.svc.Subnetworks.Insert(testProject, tc.region, &sn).Do()
			wantErr(t, err, tc.status, tc.reason, tc.msg)
		})
	}
	// Ranges in other networks do not conflict; touching ranges do not overlap.
	e.network(t, testProject, "other", false)
	e.subnet(t, testProject, testRegion, "same-range", "other", "10.8.0.0/24")
	e.subnet(t, testProject, testRegion, "adjacent", "vpc", "10.8.1.0/24")
	// Accepted beyond RFC 1918: RFC 6598, class E, privately used public ranges.
	e.subnet(t, testProject, testRegion, "cgnat", "vpc", "100.64.0.0/26")
	e.subnet(t, testProject, testRegion, "class-e", "vpc", "240.0.0.0/24")
	e.subnet(t, testProject, testRegion, "public", "vpc", "35.1.0.0/29")
	// The region may come in the body as Config Connector writes it.
	e.ok(t)(e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{
		Name: "kcc", Network: "projects/test-project/global/networks/vpc", IpCidrRange: "10.2.0.0/16",
		Region: "projects/test-project/global/regions/" + testRegion,
	}).Do())
}

// Two inserts of overlapping ranges: the second is refused while the first is still running.
func TestSubnetworkPendingRangesCount(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.w.SetConfig(world.Config{LRODuration: time.Hour, IPRelease: time.Minute})
	_, err := e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{Name: "a", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/24"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Subnetworks.Insert(testProject, "us-east1", &compute.Subnetwork{Name: "b", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/25"}).Do()
	wantErr(t, err, 400, "invalid", "Invalid value for field 'resource.ipCidrRange': '10.0.0.0/25'. Invalid IPCidrRange: 10.0.0.0/25 conflicts with existing subnetwork 'a' in region 'asia-northeast1'.")
	_, err = e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{Name: "a", Network: "global/networks/vpc", IpCidrRange: "10.1.0.0/24"}).Do()
	wantErr(t, err, 409, "alreadyExists", "")
	// The network cannot go while the subnetwork is being created.
	_, err = e.svc.Networks.Delete(testProject, "vpc").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The network resource 'projects/test-project/global/networks/vpc' is already being used by 'projects/test-project/regions/asia-northeast1/subnetworks/a'")
}

func TestSubnetworkPatch(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	sn := e.subnet(t, testProject, testRegion, "s", "vpc", "10.8.0.0/24")

	_, err := e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{Description: "d"}).Do()
	wantErr(t, err, 412, "conditionNotMet", "Supplied fingerprint does not match current metadata fingerprint.")
	_, err = e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{Description: "d", Fingerprint: "AAAAAAAAAAA="}).Do()
	wantErr(t, err, 412, "conditionNotMet", "Supplied fingerprint does not match current metadata fingerprint.")

	op := e.ok(t)(e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{
		Fingerprint: sn.Fingerprint, Description: "patched", PrivateIpGoogleAccess: true,
		LogConfig:         &compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "INTERVAL_10_MIN"},
		SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "extra", IpCidrRange: "10.200.0.0/20"}},
		IpCidrRange:       "10.8.0.0/23",
	}).Do())
	if op.OperationType != "patch" || op.TargetId != sn.Id {
		t.Errorf("patch op = %+v", op)
	}
	got, _ := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do()
	if got.Fingerprint == sn.Fingerprint || got.Description != "patched" || !got.PrivateIpGoogleAccess ||
		got.LogConfig == nil || !got.LogConfig.Enable || got.LogConfig.AggregationInterval != "INTERVAL_10_MIN" || got.LogConfig.FlowSampling != 0.5 ||
		len(got.SecondaryIpRanges) != 1 || got.SecondaryIpRanges[0].RangeName != "extra" ||
		got.IpCidrRange != "10.8.0.0/23" || got.GatewayAddress != "10.8.0.1" || got.Id != sn.Id {
		t.Errorf("patched subnetwork = %+v", got)
	}
	// Turning a flag off needs it on the wire (ForceSendFields); the old fingerprint no longer works.
	_, err = e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{Fingerprint: sn.Fingerprint, Description: "x"}).Do()
	wantErr(t, err, 412, "conditionNotMet", "")
	e.ok(t)(e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{
		Fingerprint: got.Fingerprint, PrivateIpGoogleAccess: false, ForceSendFields: []string{"PrivateIpGoogleAccess"},
		LogConfig: &compute.SubnetworkLogConfig{Enable: false, ForceSendFields: []string{"Enable"}},
	}).Do())
	got2, _ := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do()
	if got2.PrivateIpGoogleAccess || got2.LogConfig == nil || got2.LogConfig.Enable || got2.Description != "patched" {
		t.Errorf("subnetwork after second patch = %+v (log %+v)", got2, got2.LogConfig)
	}

	// Rejected changes.
	e.subnet(t, testProject, "us-east1", "neighbour", "vpc", "10.8.2.0/24")
	for _, tc := range []struct {
		name  string
		patch compute.Subnetwork
		msg   string
	}{
		{"shrink", compute.Subnetwork{IpCidrRange: "10.8.0.0/24"}, ""},
		{"move", compute.Subnetwork{IpCidrRange: "10.9.0.0/22"}, ""},
		{"expand into a neighbour", compute.Subnetwork{IpCidrRange: "10.8.0.0/22"},
			"Invalid value for field 'resource.ipCidrRange': '10.8.0.0/22'. Invalid IPCidrRange: 10.8.0.0/22 conflicts with existing subnetwork 'neighbour' in region 'us-east1'."},
		{"secondary overlaps", compute.Subnetwork{SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "r", IpCidrRange: "10.8.2.0/24"}}}, ""},
		{"rename", compute.Subnetwork{Name: "t"}, ""},
		{"change network", compute.Subnetwork{Network: "global/networks/other"}, ""},
		{"bad log interval", compute.Subnetwork{LogConfig: &compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "HOURLY"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.patch
			p.Fingerprint = got2.Fingerprint
			_, err := e.svc.Subnetworks.Patch(testProject, testRegion, "s", &p).Do()
			wantErr(t, err, 400, "invalid", tc.msg)
		})
	}

	// A second change while one runs: not ready.
	e.w.SetConfig(world.Config{LRODuration: time.Hour, IPRelease: time.Minute})
	if _, err := e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{Fingerprint: got2.Fingerprint, Description: "slow"}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Subnetworks.SetPrivateIpGoogleAccess(testProject, testRegion, "s", &compute.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: true}).Do()
	wantErr(t, err, 400, "resourceNotReady", "The resource 'projects/test-project/regions/asia-northeast1/subnetworks/s' is not ready")
	_, err = e.svc.Subnetworks.Delete(testProject, testRegion, "s").Do()
	wantErr(t, err, 400, "resourceNotReady", "")
	// Until it completes, the subnetwork reads as before.
	if cur, _ := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do(); cur.Description != "patched" {
		t.Errorf("description during the patch = %q", cur.Description)
	}
}

func TestSetPrivateIPGoogleAccessAndExpand(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	sn := e.subnet(t, testProject, testRegion, "s", "vpc", "10.8.0.0/26")
	op := e.ok(t)(e.svc.Subnetworks.SetPrivateIpGoogleAccess(testProject, testRegion, "s",
		&compute.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: true}).Do())
	if op.OperationType != "setPrivateIpGoogleAccess" {
		t.Errorf("operationType = %q", op.OperationType)
	}
	got, _ := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do()
	if !got.PrivateIpGoogleAccess || got.Fingerprint == sn.Fingerprint {
		t.Errorf("after setPrivateIpGoogleAccess: %+v", got)
	}
	op = e.ok(t)(e.svc.Subnetworks.ExpandIpCidrRange(testProject, testRegion, "s",
		&compute.SubnetworksExpandIpCidrRangeRequest{IpCidrRange: "10.8.0.0/24"}).Do())
	if op.OperationType != "expandIpCidrRange" {
		t.Errorf("operationType = %q", op.OperationType)
	}
	got, _ = e.svc.Subnetworks.Get(testProject, testRegion, "s").Do()
	if got.IpCidrRange != "10.8.0.0/24" {
		t.Errorf("range after expansion = %s", got.IpCidrRange)
	}
	_, err := e.svc.Subnetworks.ExpandIpCidrRange(testProject, testRegion, "s", &compute.SubnetworksExpandIpCidrRangeRequest{IpCidrRange: "10.8.0.0/25"}).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = e.svc.Subnetworks.ExpandIpCidrRange(testProject, testRegion, "nope", &compute.SubnetworksExpandIpCidrRangeRequest{IpCidrRange: "10.8.0.0/16"}).Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/regions/asia-northeast1/subnetworks/nope' was not found")
}

func TestSubnetworkDeleteBlockedByReservations(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, testRegion, "run-direct-vpc-egress", "vpc", "10.8.0.0/24")
	const owner = "projects/test-project/locations/asia-northeast1/services/svc/revisions/svc-00001-abc"
	e.w.Lock()
	if err := e.w.SetHeldBlocksLocked(testProject, testRegion, "run-direct-vpc-egress", owner, 3); err != nil {
		t.Fatal(err)
	}
	res := e.w.ReservationsLocked(world.RegionalKey(testProject, testRegion, "run-direct-vpc-egress"))
	e.w.Unlock()
	if len(res) != 3 {
		t.Fatalf("%d reservations", len(res))
	}

	_, err := e.svc.Subnetworks.Delete(testProject, testRegion, "run-direct-vpc-egress").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The subnetwork resource 'projects/test-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress' is already being used by 'projects/test-project/regions/asia-northeast1/addresses/"+res[0].Name+"'")
	if !strings.HasPrefix(res[0].Name, "serverless-ipv4-") {
		t.Errorf("reservation name %s", res[0].Name)
	}
	// The network cannot go either, because the subnetwork stays.
	_, err = e.svc.Networks.Delete(testProject, "vpc").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The network resource 'projects/test-project/global/networks/vpc' is already being used by 'projects/test-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress'")

	// Utilization counts 16 addresses per block.
	got, err := e.svc.Subnetworks.Get(testProject, testRegion, "run-direct-vpc-egress").Views("WITH_UTILIZATION").Do()
	if err != nil {
		t.Fatal(err)
	}
	u := got.UtilizationDetails
	if u == nil || len(u.Ipv4Utilizations) != 1 || u.Ipv4Utilizations[0].TotalAllocatedIp != 48 || u.Ipv4Utilizations[0].TotalFreeIp != 252-48 {
		t.Errorf("utilization = %+v", u)
	}

	// Released blocks still hold the subnet until the release delay passes.
	e.w.Lock()
	e.w.ReleaseOwnerLocked(owner)
	e.w.Unlock()
	_, err = e.svc.Subnetworks.Delete(testProject, testRegion, "run-direct-vpc-egress").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource", "")
	e.w.Advance(time.Minute)
	e.ok(t)(e.svc.Subnetworks.Delete(testProject, testRegion, "run-direct-vpc-egress").Do())
}

// A reservation made while the delete runs makes the operation fail.
func TestSubnetworkDeleteRace(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, testRegion, "s", "vpc", "10.8.0.0/24")
	e.w.SetConfig(world.Config{LRODuration: time.Hour, IPRelease: time.Minute})
	op, err := e.svc.Subnetworks.Delete(testProject, testRegion, "s").Do()
	if err != nil {
		t.Fatal(err)
	}
	e.w.Lock()
	if err := e.w.SetHeldBlocksLocked(testProject, testRegion, "s", "rev", 1); err != nil {
		t.Fatal(err)
	}
	e.w.Unlock()
	e.w.Advance(time.Hour)
	op = e.wait(t, op)
	if op.Error == nil || len(op.Error.Errors) != 1 || op.Error.Errors[0].Code != "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE" ||
		op.HttpErrorStatusCode != 400 || op.HttpErrorMessage != "BAD REQUEST" ||
		!strings.HasPrefix(op.Error.Errors[0].Message, "The subnetwork resource 'projects/test-project/regions/asia-northeast1/subnetworks/s' is already being used by 'projects/test-project/regions/asia-northeast1/addresses/serverless-ipv4-") {
		t.Errorf("operation = %+v error %+v", op, op.Error)
	}
	if _, err := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do(); err != nil {
		t.Errorf("subnetwork gone despite the failed delete: %v", err)
	}
}

func TestSubnetworkDeleteBlockedByConnector(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, testRegion, "conn-subnet", "vpc", "10.15.0.0/28")
	e.w.Lock()
	e.w.S.Connectors["projects/test-project/locations/asia-northeast1/connectors/run-connector"] = &vpcaccesspb.Connector{
		Name:   "projects/test-project/locations/asia-northeast1/connectors/run-connector",
		Subnet: &vpcaccesspb.Connector_Subnet{Name: "conn-subnet", ProjectId: testProject},
	}
	e.w.Unlock()
	_, err := e.svc.Subnetworks.Delete(testProject, testRegion, "conn-subnet").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource", "")
	if !strings.Contains(err.Error(), "is already being used by 'projects/test-project/zones/asia-northeast1-b/instances/aet-asianortheast1-run-connector-") {
		t.Errorf("error = %v", err)
	}
}

func TestSubnetworkUtilization(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.ok(t)(e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{
		Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.8.0.0/26",
		SecondaryIpRanges: []*compute.SubnetworkSecondaryRange{{RangeName: "pods", IpCidrRange: "10.100.0.0/24"}},
	}).Do())
	check := func(wantAlloc, wantFree int64) {
		t.Helper()
		got, err := e.svc.Subnetworks.Get(testProject, testRegion, "s").Views("WITH_UTILIZATION").Do()
		if err != nil {
			t.Fatal(err)
		}
		u := got.UtilizationDetails.Ipv4Utilizations
		if len(u) != 2 || u[0].RangeName != "" || u[0].TotalAllocatedIp != wantAlloc || u[0].TotalFreeIp != wantFree ||
			u[1].RangeName != "pods" || u[1].TotalFreeIp != 256 {
			t.Errorf("utilization = %+v %+v, want allocated %d free %d", u[0], u[1], wantAlloc, wantFree)
		}
	}
	check(0, 60) // a /26 has 64 addresses, 4 reserved
	if _, b := e.raw(t, "GET", "projects/test-project/regions/asia-northeast1/subnetworks/s?views=WITH_UTILIZATION"); !strings.Contains(string(b), `"totalAllocatedIp":"0"`) {
		t.Errorf("zero allocation not on the wire: %s", b)
	}
	e.w.Lock()
	if err := e.w.SetHeldBlocksLocked(testProject, testRegion, "s", "rev", 2); err != nil {
		t.Fatal(err)
	}
	e.w.Unlock()
	check(32, 28)
	// An internal address reserved in the subnet counts as one.
	e.ok(t)(e.svc.Addresses.Insert(testProject, testRegion, &compute.Address{Name: "a", AddressType: "INTERNAL", Subnetwork: "regions/asia-northeast1/subnetworks/s"}).Do())
	check(33, 27)
	// The list view carries it too.
	list, err := e.svc.Subnetworks.List(testProject, testRegion).Views("WITH_UTILIZATION").Do()
	if err != nil || len(list.Items) != 1 || list.Items[0].UtilizationDetails == nil {
		t.Errorf("list with utilization = %+v, %v", list, err)
	}
}

func TestSubnetworkAggregatedList(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "test-nw-abc", false)
	e.network(t, testProject, "test-nw-abcd", false)
	e.subnet(t, testProject, "us-central1", "one", "test-nw-abc", "10.0.0.0/24")
	e.subnet(t, testProject, "us-central1", "two", "test-nw-abcd", "10.1.0.0/24")
	e.subnet(t, testProject, testRegion, "three", "test-nw-abc", "10.2.0.0/24")

	agg, err := e.svc.Subnetworks.AggregatedList(testProject).IncludeAllScopes(true).MaxResults(500).Do()
	if err != nil {
		t.Fatal(err)
	}
	if agg.Kind != "compute#subnetworkAggregatedList" || agg.SelfLink != linkBase+"projects/test-project/aggregated/subnetworks" || agg.NextPageToken != "" {
		t.Errorf("aggregated list header = %+v", agg)
	}
	if len(agg.Items) != len(world.Regions)+1 {
		t.Errorf("%d scopes, want every region and global (%d)", len(agg.Items), len(world.Regions)+1)
	}
	for _, r := range world.RegionNames() {
		if _, ok := agg.Items["regions/"+r]; !ok {
			t.Errorf("scope regions/%s missing", r)
		}
	}
	uc := agg.Items["regions/us-central1"]
	if len(uc.Subnetworks) != 2 || uc.Subnetworks[0].Name != "one" || uc.Warning != nil {
		t.Errorf("us-central1 scope = %+v", uc)
	}
	empty := agg.Items["regions/europe-west1"]
	if w := empty.Warning; len(empty.Subnetworks) != 0 || w == nil || w.Code != "NO_RESULTS_ON_PAGE" ||
		len(w.Data) != 1 || w.Data[0].Key != "scope" || w.Data[0].Value != "regions/europe-west1" ||
		w.Message != "No results for the scope 'regions/europe-west1'." {
		t.Errorf("empty scope = %+v (warning %+v)", empty, empty.Warning)
	}
	if g := agg.Items["global"]; g.Warning == nil || g.Warning.Message != "No results for the scope 'global'." {
		t.Errorf("global scope = %+v", g)
	}
	// Without includeAllScopes there is no global scope.
	agg, _ = e.svc.Subnetworks.AggregatedList(testProject).Do()
	if _, ok := agg.Items["global"]; ok || len(agg.Items) != len(world.Regions) {
		t.Errorf("%d scopes without includeAllScopes", len(agg.Items))
	}

	// Server-side filters, as gcloud sends them.
	names := func(agg *compute.SubnetworkAggregatedList) []string {
		var out []string
		for _, k := range world.SortedKeys(agg.Items) {
			for _, sn := range agg.Items[k].Subnetworks {
				out = append(out, sn.Name)
			}
		}
		return out
	}
	for _, tc := range []struct {
		filter string
		want   string
	}{
		{`network eq ".*\btest\-nw\-abc\b.*"`, "three,one"},
		{`name eq one`, "one"},
		{`name eq "t.*"`, "three,two"},
		{`name ne one`, "three,two"},
		{`(name eq "one|two") (ipCidrRange eq 10\.1\..*)`, "two"},
		{`name = "three"`, "three"},
		{`name != "three" AND network : abcd`, "two"},
		{`privateIpGoogleAccess eq false`, "three,one,two"},
	} {
		agg, err := e.svc.Subnetworks.AggregatedList(testProject).Filter(tc.filter).Do()
		if err != nil {
			t.Errorf("filter %s: %v", tc.filter, err)
			continue
		}
		if got := strings.Join(names(agg), ","); got != tc.want {
			t.Errorf("filter %s: %s, want %s", tc.filter, got, tc.want)
		}
		if w := agg.Items["regions/us-west1"].Warning; w == nil || w.Code != "NO_RESULTS_ON_PAGE" {
			t.Errorf("filter %s: empty scope without warning", tc.filter)
		}
	}
	_, err = e.svc.Subnetworks.AggregatedList(testProject).Filter(`name eq "unterminated`).Do()
	wantErr(t, err, 400, "invalid", "")

	// Paging: one item per page, across scopes.
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		agg, err := e.svc.Subnetworks.AggregatedList(testProject).MaxResults(1).PageToken(tok).Do()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, names(agg)...)
		if tok = agg.NextPageToken; tok == "" {
			break
		}
	}
	if strings.Join(got, ",") != "three,one,two" {
		t.Errorf("paged names = %v", got)
	}
	_, err = e.svc.Subnetworks.AggregatedList(testProject).MaxResults(501).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = e.svc.Subnetworks.AggregatedList(testProject).PageToken("garbage").Do()
	wantErr(t, err, 400, "invalid", "")
}

func TestPutHelpers(t *testing.T) {
	e := newEnv(t)
	e.w.Lock()
	n, err := PutNetworkLocked(e.w, "demo-project", &compute.Network{Name: "run-vpc", ForceSendFields: []string{"AutoCreateSubnetworks"}})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := PutSubnetworkLocked(e.w, "demo-project", testRegion, &compute.Subnetwork{
		Name: "run-direct-vpc-egress", Network: n.SelfLink, IpCidrRange: "10.8.0.0/24",
		LogConfig: &compute.SubnetworkLogConfig{Enable: true, AggregationInterval: "INTERVAL_10_MIN", FlowSampling: 0.5, Metadata: "INCLUDE_ALL_METADATA"},
	})
	if err != nil {
		t.Fatal(err)
	}
	fw, err := PutFirewallLocked(e.w, "demo-project", &compute.Firewall{Name: "allow-redis", Network: n.SelfLink,
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}}, SourceRanges: []string{"10.8.0.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := PutRouterLocked(e.w, "demo-project", testRegion, &compute.Router{Name: "nat-router", Network: "run-vpc",
		Nats: []*compute.RouterNat{{Name: "nat", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, dupErr := PutSubnetworkLocked(e.w, "demo-project", testRegion, &compute.Subnetwork{Name: "x", Network: n.SelfLink, IpCidrRange: "10.8.0.0/25"})
	_, regionErr := PutSubnetworkLocked(e.w, "demo-project", "nowhere1", &compute.Subnetwork{Name: "x", Network: n.SelfLink, IpCidrRange: "10.9.0.0/25"})
	_, fwErr := PutFirewallLocked(e.w, "demo-project", &compute.Firewall{Name: "bad", Network: n.SelfLink})
	_, rtErr := PutRouterLocked(e.w, "demo-project", testRegion, &compute.Router{Name: "r", Network: "missing"})
	_, netErr := PutNetworkLocked(e.w, "demo-project", &compute.Network{Name: "run-vpc"})
	e.w.Unlock()

	if n.Id == 0 || n.Kind != "compute#network" || n.RoutingConfig.RoutingMode != "REGIONAL" || n.NetworkFirewallPolicyEnforcementOrder != "AFTER_CLASSIC_FIREWALL" {
		t.Errorf("network = %+v", n)
	}
	if sn.Id == 0 || sn.GatewayAddress != "10.8.0.1" || sn.Fingerprint == "" || sn.State != "READY" || sn.LogConfig.AggregationInterval != "INTERVAL_10_MIN" ||
		sn.Region != regionLink("demo-project", testRegion) {
		t.Errorf("subnetwork = %+v", sn)
	}
	if fw.Priority != 1000 || fw.Direction != "INGRESS" || fw.Network != n.SelfLink || fw.LogConfig == nil {
		t.Errorf("firewall = %+v", fw)
	}
	if len(rt.Nats) != 1 || rt.Nats[0].Type != "PUBLIC" || rt.Network != n.SelfLink {
		t.Errorf("router = %+v", rt)
	}
	for name, err := range map[string]error{"overlap": dupErr, "region": regionErr, "firewall": fwErr, "router": rtErr, "network": netErr} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if dupErr != nil && !strings.Contains(dupErr.Error(), "conflicts with existing subnetwork 'run-direct-vpc-egress'") {
		t.Errorf("overlap error = %v", dupErr)
	}
	// What the helpers stored is what the API serves, at once.
	got, err := e.svc.Subnetworks.Get("demo-project", testRegion, "run-direct-vpc-egress").Do()
	if err != nil || got.Fingerprint != sn.Fingerprint || got.Id != sn.Id {
		t.Errorf("served subnetwork = %+v, %v", got, err)
	}
	e.w.Lock()
	ops := len(e.w.S.ComputeOps)
	e.w.Unlock()
	if ops != 0 {
		t.Errorf("put helpers made %d operations", ops)
	}
}

// gcloud sends a subnet's fingerprint back in URL-safe base64 ('_' for '/', '-' for '+'),
// the way apitools encodes "format": "byte" fields, and Google takes it: the same bytes are
// the same fingerprint, whichever alphabet spells them.
func TestSubnetworkPatchFingerprintURLSafe(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	sn := e.subnet(t, testProject, testRegion, "s", "vpc", "10.8.0.0/24")
	// Rotate the fingerprint until it has a character the two alphabets spell apart.
	for i := 0; !strings.ContainsAny(sn.Fingerprint, "+/"); i++ {
		if i == 200 {
			t.Fatal("no fingerprint with '+' or '/' in 200 patches")
		}
		e.ok(t)(e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{Fingerprint: sn.Fingerprint, Description: fmt.Sprint(i)}).Do())
		var err error
		if sn, err = e.svc.Subnetworks.Get(testProject, testRegion, "s").Do(); err != nil {
			t.Fatal(err)
		}
	}
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(sn.Fingerprint)
	e.ok(t)(e.svc.Subnetworks.Patch(testProject, testRegion, "s", &compute.Subnetwork{Fingerprint: urlSafe, Description: "gcloud"}).Do())
	if got, _ := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do(); got == nil || got.Description != "gcloud" {
		t.Errorf("patch with the URL-safe fingerprint %q (of %q) did not apply: %+v", urlSafe, sn.Fingerprint, got)
	}
}
