package cli

import (
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The checks of the network underneath a switch, end to end: each world is built through the
// Compute API (addresses, routers with Cloud NAT, firewall policies), and the check's verdict
// is read from `migrate --dry-run --format json`.

// computeWait waits for a Compute operation a test started.
func computeWait(t *testing.T, cs *compute.Service, op *compute.Operation) {
	t.Helper()
	var err error
	switch {
	case op.Region != "":
		_, err = cs.RegionOperations.Wait(tProject, egress.ShortName(op.Region), op.Name).Do()
	default:
		_, err = cs.GlobalOperations.Wait(tProject, op.Name).Do()
	}
	if err != nil {
		t.Fatalf("wait for %s: %v", op.Name, err)
	}
}

func computeOf(t *testing.T, er *emuRun) *compute.Service {
	t.Helper()
	cs, err := er.Clients(t).Compute()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// addAddresses reserves external addresses in the test region.
func addAddresses(t *testing.T, er *emuRun, names ...string) {
	t.Helper()
	cs := computeOf(t, er)
	for _, n := range names {
		op, err := cs.Addresses.Insert(tProject, tRegion, &compute.Address{Name: n, AddressType: "EXTERNAL"}).Do()
		if err != nil {
			t.Fatalf("insert address %s: %v", n, err)
		}
		computeWait(t, cs, op)
	}
}

// addRouter creates a Cloud Router on run-vpc with the given NAT gateways.
func addRouter(t *testing.T, er *emuRun, name string, nats ...*compute.RouterNat) {
	t.Helper()
	cs := computeOf(t, er)
	op, err := cs.Routers.Insert(tProject, tRegion, &compute.Router{Name: name, Network: egress.ComputeURLPrefix + tNet, Nats: nats}).Do()
	if err != nil {
		t.Fatalf("insert router %s: %v", name, err)
	}
	computeWait(t, cs, op)
}

func addressURL(name string) string {
	return egress.ComputeURLPrefix + "projects/" + tProject + "/regions/" + tRegion + "/addresses/" + name
}

// natFor is a NAT gateway serving the listed subnetworks (all of the region's when none), with
// manual addresses when ips are given.
func natFor(name string, ips []string, subnets ...string) *compute.RouterNat {
	n := &compute.RouterNat{Name: name, NatIpAllocateOption: "AUTO_ONLY", SourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES"}
	if len(ips) > 0 {
		n.NatIpAllocateOption = "MANUAL_ONLY"
		for _, ip := range ips {
			n.NatIps = append(n.NatIps, addressURL(ip))
		}
	}
	if len(subnets) > 0 {
		n.SourceSubnetworkIpRangesToNat = "LIST_OF_SUBNETWORKS"
		for _, s := range subnets {
			n.Subnetworks = append(n.Subnetworks, &compute.RouterNatSubnetworkToNat{
				Name: egress.ComputeURLPrefix + "projects/" + tProject + "/regions/" + tRegion + "/subnetworks/" + s, SourceIpRangesToNat: []string{"ALL_IP_RANGES"}})
		}
	}
	return n
}

// allTraffic sets run-service's egress to all-traffic (its connector is kept).
func allTraffic(t *testing.T, er *emuRun) {
	t.Helper()
	er.ChangeService(t, emulator.DemoService, func(s *runpb.Service) {
		s.Template.VpcAccess.Egress = runpb.VpcAccess_ALL_TRAFFIC
	})
}

// dryRun runs migrate run-service --to direct --subnet run-direct-vpc-egress --dry-run with
// extra flags, and returns the exit status and the named check.
func dryRun(t *testing.T, er *emuRun, check string, extra ...string) (int, egress.Check, MigrationReport) {
	t.Helper()
	args := append([]string{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--dry-run", "--format", "json"}, extra...)
	r := er.Run(t, false, "", args...)
	if r.Code != exitcode.OK && r.Code != exitcode.Preflight {
		t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	rep := report(t, r)
	i := slices.IndexFunc(rep.Checks, func(c egress.Check) bool { return c.Name == check })
	if i < 0 {
		t.Fatalf("no %s check in %+v", check, rep.Checks)
	}
	return r.Code, rep.Checks[i], rep
}

// The connector's traffic leaves through a NAT with a static address partners allow-list; the
// new subnet's NAT has another: a warning, and a failure with --keep-egress-ip. One gateway
// with that address for both passes.
func TestMigrateNATEgressIP(t *testing.T) {
	er := newEmu(t)
	allTraffic(t, er)
	addAddresses(t, er, "partner-ip", "other-ip")
	addRouter(t, er, "nat-router",
		natFor("connector-nat", []string{"partner-ip"}, emulator.DemoConnectorSubnet),
		natFor("direct-nat", []string{"other-ip"}, emulator.DemoDirectSubnet))

	code, c, _ := dryRun(t, er, egress.CheckNATEgressIP)
	if code != exitcode.OK || c.Status != egress.StatusWarn || !strings.Contains(c.Message, "partner-ip") || !strings.Contains(c.Message, "other-ip") {
		t.Fatalf("exit %d, nat-egress-ip %+v: want a warning naming both addresses", code, c)
	}
	code, c, _ = dryRun(t, er, egress.CheckNATEgressIP, "--keep-egress-ip")
	if code != exitcode.Preflight || c.Status != egress.StatusFail {
		t.Fatalf("--keep-egress-ip: exit %d, nat-egress-ip %+v: want a failure (exit 3)", code, c)
	}

	// One gateway with the partner's address serves both subnets: nothing changes.
	er2 := newEmu(t)
	allTraffic(t, er2)
	addAddresses(t, er2, "partner-ip")
	addRouter(t, er2, "nat-router", natFor("shared-nat", []string{"partner-ip"}))
	code, c, _ = dryRun(t, er2, egress.CheckNATEgressIP, "--keep-egress-ip")
	if code != exitcode.OK || c.Status != egress.StatusPass || !strings.Contains(c.Message, "same Cloud NAT shared-nat") {
		t.Fatalf("one gateway: exit %d, nat-egress-ip %+v: want a pass", code, c)
	}
	// Moving to private-ranges-only drops the NAT address: internet traffic leaves through
	// Cloud Run's own addresses.
	code, c, _ = dryRun(t, er2, egress.CheckNATEgressIP, "--egress", "private-ranges-only", "--keep-egress-ip")
	if code != exitcode.Preflight || c.Status != egress.StatusFail || !strings.Contains(c.Message, "Cloud Run's own addresses") {
		t.Fatalf("to private-ranges-only: exit %d, nat-egress-ip %+v: want a failure", code, c)
	}
}

// A NAT with one address and 8192 ports per VM cannot serve 10 instances (81,920 ports > 64,512):
// nat-ports fails and can be forced; with two addresses it passes. A NAT on a subnet whose
// workloads are private-ranges-only only costs: a warning.
func TestMigrateNATPorts(t *testing.T) {
	er := newEmu(t)
	allTraffic(t, er)
	addAddresses(t, er, "nat-ip-1", "nat-ip-2")
	n := natFor("direct-nat", []string{"nat-ip-1"}, emulator.DemoDirectSubnet)
	n.MinPortsPerVm = 8192
	addRouter(t, er, "nat-router", n)
	code, c, _ := dryRun(t, er, egress.CheckNATPorts)
	if code != exitcode.Preflight || c.Status != egress.StatusFail || c.Numbers["portsNeeded"] != 81920 || c.Numbers["portsAvailable"] != 64512 {
		t.Fatalf("exit %d, nat-ports %+v: want a failure, 81920 ports needed of 64512", code, c)
	}
	if code, c, _ = dryRun(t, er, egress.CheckNATPorts, "--force", egress.CheckNATPorts); code != exitcode.OK || !c.Forced {
		t.Fatalf("--force nat-ports: exit %d, %+v", code, c)
	}

	er2 := newEmu(t)
	allTraffic(t, er2)
	addAddresses(t, er2, "nat-ip-1", "nat-ip-2")
	n = natFor("direct-nat", []string{"nat-ip-1", "nat-ip-2"}, emulator.DemoDirectSubnet)
	n.MinPortsPerVm = 8192
	addRouter(t, er2, "nat-router", n)
	if code, c, _ = dryRun(t, er2, egress.CheckNATPorts); code != exitcode.OK || c.Status != egress.StatusPass || c.Numbers["portsAvailable"] != 2*64512 {
		t.Fatalf("two addresses: exit %d, nat-ports %+v: want a pass", code, c)
	}

	// Cloud NAT rounds minPortsPerVm up to a power of two: 6000 gives each VM 8192 ports, so
	// 10 instances need 81,920, more than one address has (60,000 would fit).
	er4 := newEmu(t)
	allTraffic(t, er4)
	addAddresses(t, er4, "nat-ip-1")
	n = natFor("direct-nat", []string{"nat-ip-1"}, emulator.DemoDirectSubnet)
	n.MinPortsPerVm = 6000
	addRouter(t, er4, "nat-router", n)
	if code, c, _ = dryRun(t, er4, egress.CheckNATPorts); code != exitcode.Preflight || c.Status != egress.StatusFail ||
		c.Numbers["minPortsPerVm"] != 8192 || c.Numbers["portsNeeded"] != 81920 {
		t.Fatalf("minPortsPerVm 6000: exit %d, nat-ports %+v: want a failure, 8192 ports per VM", code, c)
	}

	er3 := newEmu(t) // private-ranges-only, with a NAT on the subnet
	addRouter(t, er3, "nat-router", natFor("idle-nat", nil, emulator.DemoDirectSubnet))
	if code, c, _ = dryRun(t, er3, egress.CheckNATPorts); code != exitcode.OK || c.Status != egress.StatusWarn || !strings.Contains(c.Message, "private ranges") {
		t.Fatalf("private-ranges-only: exit %d, nat-ports %+v: want a warning", code, c)
	}
}

// The connector's subnet reaches Google APIs privately; the new subnet has no Private Google
// Access, so with all-traffic Google API calls would go through Cloud NAT: a warning.
// --enable-private-google-access turns it on before the switch, and the migrated revision
// then reaches Google APIs privately.
func TestMigratePrivateGoogleAccess(t *testing.T) {
	er := newEmu(t)
	allTraffic(t, er)
	cs := computeOf(t, er)
	op, err := cs.Subnetworks.SetPrivateIpGoogleAccess(tProject, tRegion, emulator.DemoConnectorSubnet,
		&compute.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: true}).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)
	addRouter(t, er, "nat-router", natFor("nat", nil))

	code, c, _ := dryRun(t, er, egress.CheckPrivateGoogleAccess)
	if code != exitcode.OK || c.Status != egress.StatusWarn || !strings.Contains(c.Hint, "--enable-private-google-access") {
		t.Fatalf("exit %d, private-google-access %+v: want a warning with the flag as the fix", code, c)
	}
	code, c, rep := dryRun(t, er, egress.CheckPrivateGoogleAccess, "--enable-private-google-access")
	if code != exitcode.OK || c.Status != egress.StatusPass || !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "Private Google Access is turned on") }) {
		t.Fatalf("with the flag: exit %d, %+v, notes %v", code, c, rep.Notes)
	}
	if sn, err := cs.Subnetworks.Get(tProject, tRegion, emulator.DemoDirectSubnet).Do(); err != nil || sn.PrivateIpGoogleAccess {
		t.Fatalf("after a dry run: %+v, %v; want Private Google Access still off", sn, err)
	}
	if err := er.E.SetDestination(emulator.Destination{Name: "storage", IP: "199.36.153.8", Port: 443, GoogleAPIs: true}); err != nil {
		t.Fatal(err)
	}
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--enable-private-google-access", "--yes", "--format", "json")
	if r.Code != exitcode.OK {
		t.Fatalf("migrate: exit %d: %s", r.Code, r.Stderr)
	}
	if sn, _ := cs.Subnetworks.Get(tProject, tRegion, emulator.DemoDirectSubnet).Do(); !sn.PrivateIpGoogleAccess {
		t.Fatal("Private Google Access is still off on the new subnet")
	}
	w := er.Read(t, "run-service")
	reach, err := er.E.Reach(w.Ref.FullName()+"/revisions/"+w.LatestReady, "storage")
	if err != nil || !reach.OK || reach.Via != "private-google-access" {
		t.Errorf("the new revision reaches Google APIs %+v (%v), want through Private Google Access", reach, err)
	}
}

// A network firewall policy admits Redis from the connector's /28 only, and the implied deny
// refuses the rest: the VPC firewall rules say nothing, but firewall-policies fails; once the
// rule admits the Direct VPC subnet too, it passes.
func TestMigrateFirewallPolicies(t *testing.T) {
	er := newEmu(t)
	cs := computeOf(t, er)
	rule := func(ranges ...string) *compute.FirewallPolicyRule {
		return &compute.FirewallPolicyRule{Priority: 100, Direction: "INGRESS", Action: "allow",
			Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: ranges, Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{"6379"}}}}}
	}
	op, err := cs.NetworkFirewallPolicies.Insert(tProject, &compute.FirewallPolicy{Name: "redis-policy"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)
	op, err = cs.NetworkFirewallPolicies.AddRule(tProject, "redis-policy", rule("10.15.0.0/28")).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)
	op, err = cs.NetworkFirewallPolicies.AddAssociation(tProject, "redis-policy", &compute.FirewallPolicyAssociation{Name: "run-vpc", AttachmentTarget: egress.ComputeURLPrefix + tNet}).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)

	code, c, _ := dryRun(t, er, egress.CheckFirewallPolicies)
	if code != exitcode.Preflight || c.Status != egress.StatusFail || c.Numbers["blocked"] != 1 || !strings.Contains(c.Message, "redis-policy rule 100") {
		t.Fatalf("exit %d, firewall-policies %+v: want a failure naming the policy rule", code, c)
	}
	if _, fw, _ := dryRun(t, er, egress.CheckFirewall); fw.Status != egress.StatusPass {
		t.Fatalf("firewall-rules %+v: the VPC firewall rules alone see nothing", fw)
	}
	op, err = cs.NetworkFirewallPolicies.PatchRule(tProject, "redis-policy", rule("10.15.0.0/28", "10.8.0.0/24")).Priority(100).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)
	if code, c, _ = dryRun(t, er, egress.CheckFirewallPolicies); code != exitcode.OK || c.Status != egress.StatusPass {
		t.Fatalf("after the rule admits the subnet: exit %d, firewall-policies %+v", code, c)
	}
}

// A network firewall policy denies the Direct VPC subnet's egress to Redis: firewall-policies
// fails, and its hint is to take the subnet out of the deny rule (no policy rule admits the
// connector's traffic that the subnet should be added to).
func TestMigrateFirewallPolicyDenyHint(t *testing.T) {
	er := newEmu(t)
	cs := computeOf(t, er)
	op, err := cs.NetworkFirewallPolicies.Insert(tProject, &compute.FirewallPolicy{Name: "egress-policy"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)
	op, err = cs.NetworkFirewallPolicies.AddRule(tProject, "egress-policy", &compute.FirewallPolicyRule{Priority: 200, Direction: "EGRESS", Action: "deny",
		Match: &compute.FirewallPolicyRuleMatcher{SrcIpRanges: []string{"10.8.0.0/24"}, DestIpRanges: []string{"10.5.0.0/24"},
			Layer4Configs: []*compute.FirewallPolicyRuleMatcherLayer4Config{{IpProtocol: "tcp", Ports: []string{"6379"}}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)
	op, err = cs.NetworkFirewallPolicies.AddAssociation(tProject, "egress-policy", &compute.FirewallPolicyAssociation{Name: "run-vpc", AttachmentTarget: egress.ComputeURLPrefix + tNet}).Do()
	if err != nil {
		t.Fatal(err)
	}
	computeWait(t, cs, op)

	code, c, _ := dryRun(t, er, egress.CheckFirewallPolicies)
	if code != exitcode.Preflight || c.Status != egress.StatusFail || !strings.Contains(c.Message, "egress-policy rule 200 (deny)") {
		t.Fatalf("exit %d, firewall-policies %+v: want a failure naming the deny rule", code, c)
	}
	if !strings.Contains(c.Hint, "take 10.8.0.0/24 out of the policy rules named above that deny it") || strings.Contains(c.Hint, "add 10.8.0.0/24 to the source ranges") {
		t.Errorf("hint %q: want the deny rule changed, not an allow rule widened", c.Hint)
	}
}

// The demo service has only a TCP startup probe: a warning for Direct VPC egress; an HTTP
// startup probe passes.
func TestMigrateStartupProbe(t *testing.T) {
	er := newEmu(t)
	if _, c, _ := dryRun(t, er, egress.CheckStartupProbe); c.Status != egress.StatusWarn || !strings.Contains(c.Message, "TCP") {
		t.Fatalf("startup-probe %+v: want a warning about the TCP probe", c)
	}
	er.ChangeService(t, emulator.DemoService, func(s *runpb.Service) {
		s.Template.Containers[0].StartupProbe = &runpb.Probe{ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/ready"}}}
	})
	if _, c, _ := dryRun(t, er, egress.CheckStartupProbe); c.Status != egress.StatusPass {
		t.Fatalf("startup-probe %+v: want a pass with an HTTP probe", c)
	}
}

// The Direct VPC quota is read from Service Usage: a quota of 5 fails a service of 10
// instances; when the quota cannot be read, the default is assumed and the report says so.
func TestMigrateDirectVPCQuota(t *testing.T) {
	er := newEmu(t)
	if err := er.E.SetDirectVPCQuota(tProject, tRegion, 5); err != nil {
		t.Fatal(err)
	}
	code, c, _ := dryRun(t, er, egress.CheckQuota)
	if code != exitcode.Preflight || c.Status != egress.StatusFail || c.Numbers["quota"] != 5 || c.Numbers["quotaRead"] != 1 ||
		!strings.Contains(c.Hint, "console.cloud.google.com/iam-admin/quotas") {
		t.Fatalf("exit %d, direct-vpc-quota %+v: want a failure against the quota read, with the increase link", code, c)
	}
	er.E.InjectFault(emulator.Fault{Method: "serviceusage.services.consumerQuotaMetrics.list", Code: codes.PermissionDenied})
	code, c, rep := dryRun(t, er, egress.CheckQuota)
	if code != exitcode.OK || c.Status != egress.StatusPass || c.Numbers["quotaRead"] != 0 || !strings.Contains(c.Message, "could not be read") ||
		!slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "Direct VPC egress quota was not read") }) {
		t.Fatalf("unreadable: exit %d, direct-vpc-quota %+v, notes %v", code, c, rep.Notes)
	}
}

// connector create warns about e2-micro and f1-micro; inventory reports a connector in use on
// one of them.
func TestConnectorMachineTypeWarning(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "connector", "create", "small", "--range", "10.16.0.0/28", "--network", "run-vpc", "--machine-type", "f1-micro", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Warning: connector-machine-type: connector small runs on f1-micro") {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "connector", "create", "big", "--range", "10.17.0.0/28", "--network", "run-vpc", "--machine-type", "e2-standard-4", "--yes")
	if r.Code != 0 || strings.Contains(r.Stderr, "connector-machine-type") {
		t.Fatalf("e2-standard-4: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "inventory", "--format", "json")
	if r.Code != 0 || !strings.Contains(r.Stdout, `"kind": "connector-machine-type"`) || !strings.Contains(r.Stdout, "run-connector runs on f1-micro") {
		t.Fatalf("inventory: exit %d: %s", r.Code, r.Stdout)
	}
	// A connector moved to a slow machine type, or recycled into one (the old connector's, or
	// chosen), is warned about as one created on it.
	r = er.Run(t, false, "", "connector", "update", "big", "--machine-type", "e2-micro", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Warning: connector-machine-type: connector big runs on e2-micro") {
		t.Fatalf("update: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "connector", "recycle", "run-connector", "--create-subnet", "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Warning: connector-machine-type: connector run-connector-2 runs on f1-micro") || !strings.Contains(r.Stderr, "--machine-type e2-standard-4") {
		t.Fatalf("recycle: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "connector", "recycle", "run-connector", "--create-subnet", "--machine-type", "e2-standard-4", "--dry-run")
	if r.Code != 0 || strings.Contains(r.Stderr, "connector-machine-type") {
		t.Fatalf("recycle to e2-standard-4: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// A migration that turned Private Google Access on and then rolled back leaves it on (the
// workload is restored, the subnet's setting is not) and says so, with the command that
// turns it off.
func TestMigratePrivateGoogleAccessKeptAfterRollback(t *testing.T) {
	er := newEmu(t)
	allTraffic(t, er)
	addRouter(t, er, "nat-router", natFor("nat", nil))
	onPremTrap(t, er, "10.15.0.0/28")
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--enable-private-google-access",
		"--canary", "10,100", "--step-wait", "1500ms", "--min-requests", "50", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6 (rolled back): %s", r.Code, r.Stderr)
	}
	if sn, err := computeOf(t, er).Subnetworks.Get(tProject, tRegion, emulator.DemoDirectSubnet).Do(); err != nil || !sn.PrivateIpGoogleAccess {
		t.Fatalf("subnet after the rollback: %+v, %v; want Private Google Access on", sn, err)
	}
	rep := report(t, r)
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "stays on") && strings.Contains(n, "--no-enable-private-ip-google-access")
	}) {
		t.Errorf("notes %v: want Private Google Access said to stay on, with the command that turns it off", rep.Notes)
	}
}
