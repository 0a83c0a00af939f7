package emulator_test

import (
	"strings"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// deployVPC gives the demo service a new revision with va, serving all the traffic, and
// returns its name.
func deployVPC(t *testing.T, e *emulator.Emulator, va *runpb.VpcAccess) string {
	t.Helper()
	c := ctx(t)
	svc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: demoService})
	if err != nil {
		t.Fatal(err)
	}
	s.Template.Revision = ""
	s.Template.VpcAccess = va
	s.Traffic = nil
	op, err := svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	s, err = op.Wait(c)
	if err != nil {
		t.Fatal(err)
	}
	return s.GetLatestReadyRevision()
}

func connectorAccess(egress runpb.VpcAccess_VpcEgress) *runpb.VpcAccess {
	return &runpb.VpcAccess{Connector: loc + "/connectors/" + emulator.DemoConnector, Egress: egress}
}

func directAccess(egress runpb.VpcAccess_VpcEgress, tags ...string) *runpb.VpcAccess {
	return &runpb.VpcAccess{
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: emulator.DemoDirectSubnet, Tags: tags}},
		Egress:            egress,
	}
}

func reach(t *testing.T, e *emulator.Emulator, rev, dest string) emulator.Reach {
	t.Helper()
	r, err := e.Reach(rev, dest)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The nat-egress-ip trap: a partner on the internet admits only the NAT IP of the connector
// path. All-traffic egress through the connector leaves from that static IP; private-ranges-
// only egress leaves from Cloud Run's own addresses; the Direct VPC subnet has no NAT at first,
// then a NAT with automatic addresses the partner does not know; with the same static IP on
// its gateway it passes.
func TestNatEgressIPTrap(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	cs, err := compute.NewService(ctx(t), e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	p, r := emulator.DemoProject, emulator.DemoRegion
	computeOK(t, cs)(cs.Addresses.Insert(p, r, &compute.Address{Name: "partner-nat-ip", AddressType: "EXTERNAL"}).Do())
	ip, err := cs.Addresses.Get(p, r, "partner-nat-ip").Do()
	if err != nil {
		t.Fatal(err)
	}
	computeOK(t, cs)(cs.Routers.Insert(p, r, &compute.Router{Name: "nat-router", Network: "global/networks/" + emulator.DemoNetwork, Nats: []*compute.RouterNat{{
		Name: "connector-nat", NatIpAllocateOption: "MANUAL_ONLY", NatIps: []string{"partner-nat-ip"},
		SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
		Subnetworks:                   []*compute.RouterNatSubnetworkToNat{{Name: emulator.DemoConnectorSubnet, SourceIpRangesToNat: []string{"ALL_IP_RANGES"}}},
	}}}).Do())
	if err := e.SetDestination(emulator.Destination{Name: "partner-api", IP: "198.51.100.7", Port: 443, Allow: []string{ip.Address + "/32"}}); err != nil {
		t.Fatal(err)
	}

	rev := deployVPC(t, e, connectorAccess(runpb.VpcAccess_PRIVATE_RANGES_ONLY))
	if got := reach(t, e, rev, "partner-api"); got.OK || got.Via != "cloud-run-egress" {
		t.Errorf("private-ranges-only: %+v, want refused: Cloud Run's own egress has dynamic addresses", got)
	}
	rev = deployVPC(t, e, connectorAccess(runpb.VpcAccess_ALL_TRAFFIC))
	if got := reach(t, e, rev, "partner-api"); !got.OK || got.Via != "nat" || got.Sources[0] != ip.Address {
		t.Errorf("connector all-traffic: %+v, want OK through the NAT from %s", got, ip.Address)
	}
	rev = deployVPC(t, e, directAccess(runpb.VpcAccess_ALL_TRAFFIC))
	if got := reach(t, e, rev, "partner-api"); got.OK || !strings.Contains(got.Reason, "no Cloud NAT") {
		t.Errorf("Direct VPC all-traffic without NAT: %+v", got)
	}
	rt, err := cs.Routers.Get(p, r, "nat-router").Do()
	if err != nil {
		t.Fatal(err)
	}
	rt.Nats = append(rt.Nats, &compute.RouterNat{Name: "direct-nat", NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
		Subnetworks: []*compute.RouterNatSubnetworkToNat{{Name: emulator.DemoDirectSubnet, SourceIpRangesToNat: []string{"ALL_IP_RANGES"}}}})
	computeOK(t, cs)(cs.Routers.Patch(p, r, "nat-router", &compute.Router{Nats: rt.Nats}).Do())
	got := reach(t, e, rev, "partner-api")
	if got.OK || got.Via != "nat" || got.Sources[0] == ip.Address {
		t.Errorf("Direct VPC behind an AUTO_ONLY NAT: %+v, want refused: the partner sees another address", got)
	}
	st, err := cs.Routers.GetRouterStatus(p, r, "nat-router").Do()
	if err != nil {
		t.Fatal(err)
	}
	if st.Result.NatStatus[1].AutoAllocatedNatIps[0] != got.Sources[0] {
		t.Errorf("router status auto IPs %v, the partner sees %v", st.Result.NatStatus[1].AutoAllocatedNatIps, got.Sources)
	}
}

// Private Google Access: with all-traffic egress, Google APIs need PGA on the Direct VPC subnet
// (or NAT); with private-ranges-only they go out directly.
func TestPrivateGoogleAccessDecidesGoogleAPIs(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.SetDestination(emulator.Destination{Name: "storage", IP: "199.36.153.8", Port: 443, GoogleAPIs: true}); err != nil {
		t.Fatal(err)
	}
	rev := deployVPC(t, e, directAccess(runpb.VpcAccess_PRIVATE_RANGES_ONLY))
	if got := reach(t, e, rev, "storage"); !got.OK || got.Via != "cloud-run-egress" {
		t.Errorf("private-ranges-only: %+v", got)
	}
	rev = deployVPC(t, e, directAccess(runpb.VpcAccess_ALL_TRAFFIC))
	if got := reach(t, e, rev, "storage"); got.OK || !strings.Contains(got.Reason, "Private Google Access") {
		t.Errorf("all-traffic without PGA: %+v", got)
	}
	cs, err := compute.NewService(ctx(t), e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	computeOK(t, cs)(cs.Subnetworks.SetPrivateIpGoogleAccess(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet,
		&compute.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: true}).Do())
	if got := reach(t, e, rev, "storage"); !got.OK || got.Via != "private-google-access" {
		t.Errorf("all-traffic with PGA: %+v", got)
	}
}

// Firewalls in the data plane: an egress deny in a network firewall policy stops Direct VPC
// traffic to a VM in the VPC; the VM's own ingress needs an allow for the source range
// (ingress rules cannot match Direct VPC traffic by network tag).
func TestFirewallsInTheDataPlane(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	cs, err := compute.NewService(ctx(t), e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	p := emulator.DemoProject
	if err := e.SetDestination(emulator.Destination{Name: "redis", IP: "10.5.0.3", Port: 6379, Project: p, Network: emulator.DemoNetwork, Tags: []string{"redis"}}); err != nil {
		t.Fatal(err)
	}
	rev := deployVPC(t, e, directAccess(runpb.VpcAccess_PRIVATE_RANGES_ONLY, "run-egress"))
	if got := reach(t, e, rev, "redis"); got.OK || !strings.Contains(got.Reason, "implied deny ingress") {
		t.Errorf("no ingress rule: %+v", got)
	}
	computeOK(t, cs)(cs.Firewalls.Insert(p, &compute.Firewall{
		Name: "redis-from-tag", Network: "global/networks/" + emulator.DemoNetwork, SourceTags: []string{"run-egress"}, TargetTags: []string{"redis"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}},
	}).Do())
	if got := reach(t, e, rev, "redis"); got.OK {
		t.Errorf("ingress by source tag: %+v, want refused (Direct VPC traffic does not carry tags for ingress rules)", got)
	}
	computeOK(t, cs)(cs.Firewalls.Insert(p, &compute.Firewall{
		Name: "redis-from-subnet", Network: "global/networks/" + emulator.DemoNetwork, SourceRanges: []string{"10.8.0.0/24"}, TargetTags: []string{"redis"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}},
	}).Do())
	if got := reach(t, e, rev, "redis"); !got.OK || got.Via != "vpc" {
		t.Errorf("ingress by source range: %+v", got)
	}
	nfp := cs.NetworkFirewallPolicies
	computeOK(t, cs)(nfp.Insert(p, &compute.FirewallPolicy{Name: "lockdown"}).Do())
	computeOK(t, cs)(nfp.AddRule(p, "lockdown", &compute.FirewallPolicyRule{Priority: 100, Action: "deny", Direction: "EGRESS",
		Match: &compute.FirewallPolicyRuleMatcher{DestIpRanges: []string{"10.5.0.0/24"}, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "all"}}}}).Do())
	computeOK(t, cs)(nfp.AddAssociation(p, "lockdown", &compute.FirewallPolicyAssociation{Name: "vpc", AttachmentTarget: "global/networks/" + emulator.DemoNetwork}).Do())
	if got := reach(t, e, rev, "redis"); got.OK || !strings.Contains(got.Reason, "network firewall policy lockdown rule 100") {
		t.Errorf("egress deny in a network policy: %+v", got)
	}
	h, err := e.RevisionHealth(rev)
	if err != nil {
		t.Fatal(err)
	}
	if h.Egress.Kind != "direct" || h.Egress.Source != "10.8.0.0/24" {
		t.Errorf("egress = %+v", h.Egress)
	}
}

// AddVPNRoute places an on-premises range behind a VPN tunnel in one call; the route and the
// tunnel show through Compute like ones the API made.
func TestAddVPNRoute(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.AddVPNRoute(emulator.DemoProject, emulator.DemoRegion, emulator.DemoNetwork, "onprem", "192.168.0.0/16"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddVPNRoute(emulator.DemoProject, emulator.DemoRegion, emulator.DemoNetwork, "onprem", "192.168.0.0/16"); err == nil {
		t.Error("a second route of the same name was accepted")
	}
	cs, err := compute.NewService(ctx(t), e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := cs.Routes.Get(emulator.DemoProject, "onprem").Do()
	if err != nil {
		t.Fatal(err)
	}
	if rt.RouteType != "STATIC" || rt.Priority != 1000 || !strings.HasSuffix(rt.NextHopVpnTunnel, "/vpnTunnels/onprem-tunnel") {
		t.Errorf("route = %+v", rt)
	}
	_, err = cs.VpnTunnels.Delete(emulator.DemoProject, emulator.DemoRegion, "onprem-tunnel").Do()
	if err == nil || !strings.Contains(err.Error(), "resourceInUseByAnotherResource") {
		t.Errorf("deleting the tunnel a route uses: %v", err)
	}
	if err := e.SetDestination(emulator.Destination{Name: "mainframe", IP: "192.168.1.1", Port: 23, Project: emulator.DemoProject, Network: emulator.DemoNetwork}); err != nil {
		t.Fatal(err)
	}
	h, err := e.RevisionHealth(loc + "/services/" + emulator.DemoService + "/revisions/x")
	if err == nil {
		t.Errorf("health of a missing revision: %+v", h)
	}
	rev := deployVPC(t, e, connectorAccess(runpb.VpcAccess_PRIVATE_RANGES_ONLY))
	if got := reach(t, e, rev, "mainframe"); !got.OK || got.Via != "vpn" || got.Sources[0] != "10.15.0.0/28" {
		t.Errorf("reach = %+v", got)
	}
}

// A TCP probe job (RUNNET_PROBE_TCP) fails while its execution's egress cannot reach a target,
// and succeeds once it can.
func TestProbeJobExecution(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.AddVPNRoute(emulator.DemoProject, emulator.DemoRegion, emulator.DemoNetwork, "onprem", "192.168.10.0/24"); err != nil {
		t.Fatal(err)
	}
	dest := emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: emulator.DemoProject, Network: emulator.DemoNetwork, Allow: []string{"10.15.0.0/28"}}
	if err := e.SetDestination(dest); err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	jobs, err := run.NewJobsClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer jobs.Close()
	op, err := jobs.CreateJob(c, &runpb.CreateJobRequest{Parent: loc, JobId: "egress-probe", Job: &runpb.Job{
		Template: &runpb.ExecutionTemplate{Template: &runpb.TaskTemplate{
			Containers: []*runpb.Container{{Image: "busybox", Env: []*runpb.EnvVar{{Name: "RUNNET_PROBE_TCP", Values: &runpb.EnvVar_Value{Value: "partner-db:5432, 192.168.10.5:5432"}}}}},
			VpcAccess:  directAccess(runpb.VpcAccess_PRIVATE_RANGES_ONLY),
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(c); err != nil {
		t.Fatal(err)
	}
	runOnce := func() (*runpb.Execution, error) {
		op, err := jobs.RunJob(c, &runpb.RunJobRequest{Name: loc + "/jobs/egress-probe"})
		if err != nil {
			t.Fatal(err)
		}
		return op.Wait(c)
	}
	if _, err := runOnce(); err == nil || !strings.Contains(err.Error(), "connect to partner-db:5432") || !strings.Contains(err.Error(), "10.8.0.0/24") {
		t.Errorf("probe from 10.8.0.0/24: %v, want the connection failure", err)
	}
	dest.Allow = append(dest.Allow, "10.8.0.0/24")
	if err := e.SetDestination(dest); err != nil {
		t.Fatal(err)
	}
	x, err := runOnce()
	if err != nil {
		t.Fatalf("probe after the allowlist change: %v", err)
	}
	if x.GetSucceededCount() != x.GetTaskCount() {
		t.Errorf("execution = %d/%d tasks succeeded", x.GetSucceededCount(), x.GetTaskCount())
	}
}
