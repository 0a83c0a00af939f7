package emulator_test

// gcloud against the emulator, configured as docs/emulator.md says: a throw-away configuration
// directory with api_endpoint_overrides for compute and vpcaccess and credentials disabled.
// Skipped where gcloud is not installed.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// gcloudConfig writes a gcloud configuration directory pointing at the emulator on addr, with
// extra properties ("section/name = value") if any.
func gcloudConfig(t *testing.T, addr string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	sections := map[string][]string{
		"core":                   {"project = " + emulator.DemoProject, "disable_usage_reporting = true"},
		"auth":                   {"disable_credentials = true"},
		"component_manager":      {"disable_update_check = true"},
		"api_endpoint_overrides": {"compute = http://" + addr + "/compute/v1/", "vpcaccess = http://" + addr + "/"},
	}
	for _, e := range extra {
		section, prop, _ := strings.Cut(e, "/")
		sections[section] = append(sections[section], prop)
	}
	var b strings.Builder
	for _, name := range []string{"core", "auth", "component_manager", "api_endpoint_overrides", "proxy"} {
		if len(sections[name]) > 0 {
			b.WriteString("[" + name + "]\n" + strings.Join(sections[name], "\n") + "\n")
		}
	}
	props := b.String()
	if err := os.MkdirAll(filepath.Join(dir, "configurations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "configurations", "config_default"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "active_config"), []byte("default"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type gcloudRunner struct {
	t      *testing.T
	config string
}

// run runs gcloud with args and returns its standard output; it fails the test if gcloud fails.
func (g gcloudRunner) run(args ...string) []byte {
	g.t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, "gcloud", args...)
	cmd.Env = append(os.Environ(), "CLOUDSDK_CONFIG="+g.config, "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		g.t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func (g gcloudRunner) json(into any, args ...string) {
	g.t.Helper()
	out := g.run(append(args, "--format=json")...)
	if err := json.Unmarshal(out, into); err != nil {
		g.t.Fatalf("gcloud %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestGcloud(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed: the gcloud compatibility test needs the Google Cloud SDK on PATH")
	}
	if testing.Short() {
		t.Skip("gcloud is slow to start; skipped with -short")
	}
	e := start(t, emulator.Options{Seed: emulator.SeedDemo, LRODuration: 100 * time.Millisecond})
	g := gcloudRunner{t: t, config: gcloudConfig(t, e.Addr())}
	// gcloud takes seconds per command, many more on a loaded machine: the Go calls between
	// them share a generous deadline.
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	region := "--region=" + emulator.DemoRegion

	t.Run("vpc-access connectors", func(t *testing.T) {
		g := gcloudRunner{t: t, config: g.config}
		var list []map[string]any
		g.json(&list, "compute", "networks", "vpc-access", "connectors", "list", region)
		if len(list) != 1 || list[0]["name"] != loc+"/connectors/"+emulator.DemoConnector {
			t.Fatalf("connectors list = %v", list)
		}
		var desc map[string]any
		g.json(&desc, "compute", "networks", "vpc-access", "connectors", "describe", emulator.DemoConnector, region)
		if desc["state"] != "READY" || desc["machineType"] != "f1-micro" {
			t.Errorf("connectors describe = %v", desc)
		}
		g.run("compute", "networks", "vpc-access", "connectors", "create", "gc1", region,
			"--network="+emulator.DemoNetwork, "--range=10.9.0.0/28", "--min-instances=2", "--max-instances=3")
		vc, err := vpcaccess.NewClient(c, e.ClientOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		defer vc.Close()
		got, err := vc.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: loc + "/connectors/gc1"})
		if err != nil || got.GetState() != vpcaccesspb.Connector_READY || got.GetIpCidrRange() != "10.9.0.0/28" || got.GetMaxInstances() != 3 {
			t.Fatalf("connector created by gcloud = %v, %v", got, err)
		}
		g.run("compute", "networks", "vpc-access", "connectors", "delete", "gc1", region, "--quiet")
		if _, err := vc.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: loc + "/connectors/gc1"}); status.Code(err) != codes.NotFound {
			t.Errorf("connector after gcloud delete: %v", err)
		}
	})

	t.Run("subnets delete of two names (batch)", func(t *testing.T) {
		g := gcloudRunner{t: t, config: g.config}
		cs, err := compute.NewService(c, e.ComputeClientOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"ga", "gb"} {
			op, err := cs.Subnetworks.Insert(emulator.DemoProject, emulator.DemoRegion, &compute.Subnetwork{
				Name: name, Network: "global/networks/" + emulator.DemoNetwork, IpCidrRange: []string{"10.30.0.0/24", "10.31.0.0/24"}[i],
			}).Do()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cs.RegionOperations.Wait(emulator.DemoProject, emulator.DemoRegion, op.Name).Do(); err != nil {
				t.Fatal(err)
			}
		}
		before := e.Calls()["compute.subnetworks.delete"]
		g.run("compute", "networks", "subnets", "delete", "ga", "gb", region, "--quiet")
		l, err := cs.Subnetworks.List(emulator.DemoProject, emulator.DemoRegion).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Items {
			if s.Name == "ga" || s.Name == "gb" {
				t.Errorf("subnetwork %s still exists after gcloud deleted it", s.Name)
			}
		}
		if n := e.Calls()["compute.subnetworks.delete"] - before; n != 2 {
			t.Errorf("gcloud made %d subnetworks.delete calls, want 2", n)
		}
		var ops []map[string]any
		g.json(&ops, "compute", "operations", "list")
		deletes := 0
		for _, op := range ops {
			if op["operationType"] == "delete" && strings.Contains(op["targetLink"].(string), "/subnetworks/g") {
				deletes++
			}
		}
		if deletes != 2 {
			t.Errorf("operations list shows %d subnetwork deletes, want 2: %v", deletes, ops)
		}
	})

	// gcloud run speaks the Knative-style API on a host it makes by prefixing the region to
	// the run override's (asia-northeast1-127.0.0.1:PORT): an HTTP proxy setting sends those
	// requests to the emulator too.
	t.Run("run services", func(t *testing.T) {
		_, port, _ := strings.Cut(e.Addr(), ":")
		g := gcloudRunner{t: t, config: gcloudConfig(t, e.Addr(),
			"api_endpoint_overrides/run = http://"+e.Addr()+"/",
			"proxy/type = http", "proxy/address = 127.0.0.1", "proxy/port = "+port)}
		var list []map[string]any
		g.json(&list, "run", "services", "list")
		if len(list) != 1 || at(list[0], "metadata", "name") != emulator.DemoService {
			t.Fatalf("run services list = %v", list)
		}
		var desc map[string]any
		g.json(&desc, "run", "services", "describe", emulator.DemoService, region)
		if got := at(desc, "spec", "template", "metadata", "annotations", "run.googleapis.com/vpc-access-connector"); got != loc+"/connectors/"+emulator.DemoConnector {
			t.Errorf("describe: connector annotation = %v", got)
		}
		// gcloud refuses to drop a connector with all-traffic egress, so the switch to Direct VPC
		// keeps private-ranges-only and a second update widens the egress.
		g.run("run", "services", "update", emulator.DemoService, region, "--clear-vpc-connector",
			"--network="+emulator.DemoNetwork, "--subnet="+emulator.DemoDirectSubnet, "--vpc-egress=private-ranges-only")
		g.run("run", "services", "update", emulator.DemoService, region, "--vpc-egress=all-traffic")
		sc, err := run.NewServicesClient(c, e.ClientOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		s, err := sc.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService})
		if err != nil {
			t.Fatal(err)
		}
		va := s.GetTemplate().GetVpcAccess()
		if va.GetConnector() != "" || len(va.GetNetworkInterfaces()) != 1 || va.GetNetworkInterfaces()[0].GetSubnetwork() != emulator.DemoDirectSubnet ||
			va.GetEgress() != runpb.VpcAccess_ALL_TRAFFIC || s.GetGeneration() != 3 || s.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED {
			t.Errorf("service after gcloud run services update: generation %d, %v, vpcAccess %v", s.GetGeneration(), s.GetTerminalCondition().GetState(), va)
		}
	})

	t.Run("regions list", func(t *testing.T) {
		g := gcloudRunner{t: t, config: g.config}
		var regions []map[string]any
		g.json(&regions, "compute", "regions", "list")
		found := false
		for _, r := range regions {
			found = found || r["name"] == emulator.DemoRegion
		}
		if len(regions) < 30 || !found {
			t.Errorf("regions list has %d regions (with %s: %v)", len(regions), emulator.DemoRegion, found)
		}
	})
}

// at reads the value at a path of keys in a JSON document.
func at(doc any, keys ...string) any {
	cur := doc
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// gcloud against the Shared VPC world on the REST APIs runnet's Shared VPC, NAT, firewall
// policy and connector-update paths use: what gcloud asks is what those APIs answer at
// Google, so an emulator path or field gcloud cannot read is a deviation.
func TestGcloudSharedVPC(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed: the gcloud compatibility test needs the Google Cloud SDK on PATH")
	}
	if testing.Short() {
		t.Skip("gcloud is slow to start; skipped with -short")
	}
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC, LRODuration: 50 * time.Millisecond})
	g := gcloudRunner{t: t, config: gcloudConfig(t, e.Addr(), "api_endpoint_overrides/cloudasset = http://"+e.Addr()+"/")}
	host, region := "--project="+emulator.SharedVPCHost, "--region="+emulator.SharedVPCRegion
	subnet := "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet

	var project map[string]any
	g.json(&project, "compute", "shared-vpc", "get-host-project", "team-a")
	if project["name"] != emulator.SharedVPCHost || project["xpnProjectStatus"] != "HOST" {
		t.Errorf("get-host-project = %v", project)
	}
	var assoc []map[string]any
	g.json(&assoc, "compute", "shared-vpc", "associated-projects", "list", emulator.SharedVPCHost)
	if len(assoc) != 3 || assoc[0]["id"] != "team-a" || assoc[0]["type"] != "PROJECT" {
		t.Errorf("associated-projects list = %v", assoc)
	}

	var usable []map[string]any
	g.json(&usable, "compute", "networks", "subnets", "list-usable", "--project=team-a")
	if len(usable) != 3 || usable[0]["subnetwork"] != "https://www.googleapis.com/compute/v1/projects/"+emulator.SharedVPCHost+"/regions/"+emulator.SharedVPCRegion+"/subnetworks/"+emulator.SharedVPCConnectorNet {
		t.Errorf("list-usable from a service project = %v", usable)
	}

	g.run("compute", "networks", "subnets", "add-iam-policy-binding", emulator.SharedVPCDirectSubnet, host, region,
		"--member=user:gcloud@example.com", "--role=roles/compute.networkUser")
	if !e.IAMPolicy(subnet).Has("roles/compute.networkUser", "user:gcloud@example.com") {
		t.Error("gcloud's add-iam-policy-binding did not reach the subnet's policy")
	}
	var policy map[string]any
	g.json(&policy, "compute", "networks", "subnets", "get-iam-policy", emulator.SharedVPCDirectSubnet, host, region)
	if policy["etag"] == nil || !strings.Contains(fmt.Sprint(policy["bindings"]), "user:gcloud@example.com") {
		t.Errorf("get-iam-policy = %v", policy)
	}
	g.run("compute", "networks", "subnets", "update", emulator.SharedVPCDirectSubnet, host, region, "--enable-private-ip-google-access")
	var sn map[string]any
	g.json(&sn, "compute", "networks", "subnets", "describe", emulator.SharedVPCDirectSubnet, host, region)
	if sn["privateIpGoogleAccess"] != true {
		t.Errorf("privateIpGoogleAccess after gcloud's update = %v", sn["privateIpGoogleAccess"])
	}
	// A patch: gcloud sends the fingerprint back in URL-safe base64.
	g.run("compute", "networks", "subnets", "update", emulator.SharedVPCDirectSubnet, host, region, "--stack-type=IPV4_IPV6", "--ipv6-access-type=INTERNAL")
	g.json(&sn, "compute", "networks", "subnets", "describe", emulator.SharedVPCDirectSubnet, host, region)
	if sn["stackType"] != "IPV4_IPV6" {
		t.Errorf("stackType after gcloud's update = %v", sn["stackType"])
	}

	// --nat-custom-subnet-ip-ranges=SUBNET sends the subnet's primary range as
	// PRIMARY_IP_RANGE.
	g.run("compute", "routers", "create", "gr", host, region, "--network="+emulator.SharedVPCNetwork)
	g.run("compute", "routers", "nats", "create", "gnat", "--router=gr", host, region, "--auto-allocate-nat-external-ips",
		"--nat-custom-subnet-ip-ranges="+emulator.SharedVPCDirectSubnet)
	var nat map[string]any
	g.json(&nat, "compute", "routers", "nats", "describe", "gnat", "--router=gr", host, region)
	if got := fmt.Sprint(nat["subnetworks"]); nat["natIpAllocateOption"] != "AUTO_ONLY" || !strings.Contains(got, "PRIMARY_IP_RANGE]") || !strings.Contains(got, emulator.SharedVPCDirectSubnet) {
		t.Errorf("nats describe = %v", nat)
	}

	// Without --global or --regions, gcloud lists through networkFirewallPolicies.aggregatedList.
	g.run("compute", "network-firewall-policies", "create", "gpol", "--global", host)
	var pols []map[string]any
	g.json(&pols, "compute", "network-firewall-policies", "list", host)
	if len(pols) != 1 || pols[0]["name"] != "gpol" {
		t.Errorf("network-firewall-policies list = %v", pols)
	}

	// gcloud patches a connector over REST with an update mask.
	g.run("compute", "networks", "vpc-access", "connectors", "update", emulator.SharedVPCConnector, host, region, "--max-instances=9")
	var conn map[string]any
	g.json(&conn, "compute", "networks", "vpc-access", "connectors", "describe", emulator.SharedVPCConnector, host, region)
	if conn["maxInstances"] != float64(9) {
		t.Errorf("connector after gcloud's update: maxInstances %v", conn["maxInstances"])
	}

	// Resource Manager: v1 projects and v2 folders, as gcloud reads them.
	g = gcloudRunner{t: t, config: gcloudConfig(t, e.Addr(), "api_endpoint_overrides/cloudasset = http://"+e.Addr()+"/",
		"api_endpoint_overrides/cloudresourcemanager = http://"+e.Addr()+"/")}
	var projects []map[string]any
	g.json(&projects, "projects", "list", "--filter=parent.id="+emulator.SharedVPCFolderApps)
	if len(projects) != 3 || projects[0]["projectId"] != "team-a" {
		t.Errorf("projects list in the apps folder = %v", projects)
	}
	var folders []map[string]any
	g.json(&folders, "resource-manager", "folders", "list", "--organization="+emulator.SharedVPCOrg)
	if len(folders) != 2 {
		t.Errorf("folders list = %v", folders)
	}
	var orgs []map[string]any
	g.json(&orgs, "organizations", "list")
	if len(orgs) != 1 || orgs[0]["name"] != "organizations/"+emulator.SharedVPCOrg {
		t.Errorf("organizations list = %v", orgs)
	}

	var found []map[string]any
	g.json(&found, "asset", "search-all-resources", "--scope=folders/"+emulator.SharedVPCFolderApps, "--asset-types=run.googleapis.com/Service")
	if len(found) != 6 {
		t.Errorf("search-all-resources found %d services, want 6: %v", len(found), found)
	}
}
