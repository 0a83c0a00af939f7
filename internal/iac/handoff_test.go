package iac

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The hand-offs the golden files hold: the article's world after a migration (a subnet and a
// connector runnet created, the old connector deleted), a connector in a Shared VPC subnet, a
// dual-stack subnet with secondary ranges, and a hand-off with nothing to import or remove.
var handOffs = []struct {
	name string
	h    HandOff
}{
	{"migrated", HandOff{
		Subject: "everything runnet inventory found in project demo-project (asia-northeast1)",
		Workloads: []Workload{
			{Ref: ref(egress.KindService, "run-service"), VPC: egress.VPC{
				Network: "projects/demo-project/global/networks/run-vpc",
				Subnet:  "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-2",
				Egress:  egress.EgressPrivateRangesOnly,
			}},
			{Ref: ref(egress.KindJob, "nightly-export"), VPC: egress.VPC{
				Connector: "projects/demo-project/locations/asia-northeast1/connectors/run-connector-2",
				Egress:    egress.EgressAllTraffic,
			}},
			{Ref: ref(egress.KindWorkerPool, "queue-worker")},
		},
		Connectors: []Connector{{
			Project: project, Region: region, Name: "run-connector-2", Network: "run-vpc", IPCIDRRange: "10.9.0.0/28",
			MachineType: "e2-standard-4", MinInstances: 2, MaxInstances: 4, Import: true,
		}},
		Subnets: []Subnet{{
			Project: project, Region: region, Name: "run-direct-2", Network: "projects/demo-project/global/networks/run-vpc",
			IPCIDRRange: "10.20.0.0/24", Description: "Direct VPC egress subnet created by runnet migrate", Import: true,
			FlowLogs: &FlowLogs{AggregationInterval: "INTERVAL_10_MIN", FlowSampling: 0.5, Metadata: "INCLUDE_ALL_METADATA"},
		}},
		Removed: []Removed{{Kind: KindConnector, Project: project, Region: region, Name: "run-connector", Why: "deleted by runnet migrate --cleanup"}},
	}},
	{"shared-vpc", HandOff{
		Subject:   "connector run-connector and its users",
		Workloads: []Workload{{Ref: ref(egress.KindService, "run-service"), VPC: connectorVPC}},
		Connectors: []Connector{{
			Project: project, Region: region, Name: "run-connector",
			Subnet:      &ConnectorSubnet{Name: "run-connector-subnet", ProjectID: "host-project"},
			MachineType: "f1-micro", MinInstances: 2, MaxInstances: 3,
		}},
		Notes: []string{"subnet projects/host-project/regions/asia-northeast1/subnetworks/run-connector-subnet, which connector run-connector lives in, is in project host-project (Shared VPC): it is managed there and not declared here."},
	}},
	{"description-unknown", HandOff{
		Subject:   "service run-service",
		Workloads: []Workload{{Ref: ref(egress.KindService, "run-service"), VPC: egress.VPC{Subnet: "projects/demo-project/regions/asia-northeast1/subnetworks/run-vpc-direct"}}},
		Subnets: []Subnet{{
			Project: project, Region: region, Name: "run-vpc-direct", Network: "projects/demo-project/global/networks/run-vpc",
			IPCIDRRange: "10.0.0.0/25", DescriptionUnknown: true, Import: true,
		}},
	}},
	{"dual-stack", HandOff{
		Subject:   "service api",
		Workloads: []Workload{{Ref: ref(egress.KindService, "api"), VPC: egress.VPC{Subnet: "projects/demo-project/regions/asia-northeast1/subnetworks/api", Tags: []string{"api"}, Egress: egress.EgressAllTraffic}}},
		Subnets: []Subnet{{
			Project: project, Region: region, Name: "api", Network: "projects/demo-project/global/networks/run-vpc",
			IPCIDRRange: "10.30.0.0/26", PrivateIPGoogleAccess: true, StackType: "IPV4_IPV6", IPv6AccessType: "INTERNAL",
			SecondaryRanges: []SecondaryRange{{RangeName: "pods", IPCIDRRange: "10.31.0.0/20"}, {RangeName: "svc", IPCIDRRange: "10.32.0.0/24"}},
		}},
	}},
	{"deleted-subnet", HandOff{
		Subject:   "service run-service",
		Workloads: []Workload{{Ref: ref(egress.KindService, "run-service")}},
		Removed: []Removed{
			{Kind: KindSubnet, Project: project, Region: region, Name: "run-direct-vpc-egress"},
			{Kind: KindConnector, Project: project, Region: region, Name: "run-connector"},
		},
	}},
}

// TestHandOffGolden renders every hand-off in every format and compares with
// testdata/handoff/NAME.EXT.golden (go test ./internal/iac -update rewrites them).
func TestHandOffGolden(t *testing.T) {
	for _, c := range handOffs {
		for _, f := range Formats {
			t.Run(c.name+"/"+string(f), func(t *testing.T) {
				got, entries, err := RenderHandOff(f, c.h)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", "handoff", c.name+extension[f]+".golden"), got)
				if want := len(c.h.Workloads) + len(c.h.Connectors) + len(c.h.Subnets) + len(c.h.Removed); len(entries) != want {
					t.Errorf("%d entries, want %d: %+v", len(entries), want, entries)
				}
			})
		}
	}
}

// TestHandOffEntries checks what the JSON output lists: addresses that match the code, import
// IDs in the providers' documented long form, and the actions.
func TestHandOffEntries(t *testing.T) {
	h := handOffs[0].h
	_, tf, err := RenderHandOff(Terraform, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Kind: KindSubnet, Path: "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-2", Type: "google_compute_subnetwork", Address: "google_compute_subnetwork.run_direct_2", Action: ActionImport, ImportID: "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-2"},
		{Kind: KindConnector, Path: "projects/demo-project/locations/asia-northeast1/connectors/run-connector-2", Type: "google_vpc_access_connector", Address: "google_vpc_access_connector.run_connector_2", Action: ActionImport, ImportID: "projects/demo-project/locations/asia-northeast1/connectors/run-connector-2"},
		{Kind: KindWorkload, Path: "projects/demo-project/locations/asia-northeast1/jobs/nightly-export", Type: "google_cloud_run_v2_job", Address: "google_cloud_run_v2_job.nightly_export", Action: ActionDeclare},
		{Kind: KindWorkload, Path: "projects/demo-project/locations/asia-northeast1/services/run-service", Type: "google_cloud_run_v2_service", Address: "google_cloud_run_v2_service.run_service", Action: ActionDeclare},
		{Kind: KindWorkload, Path: "projects/demo-project/locations/asia-northeast1/workerPools/queue-worker", Type: "google_cloud_run_v2_worker_pool", Address: "google_cloud_run_v2_worker_pool.queue_worker", Action: ActionDeclare},
		{Kind: KindConnector, Path: "projects/demo-project/locations/asia-northeast1/connectors/run-connector", Type: "google_vpc_access_connector", Address: "google_vpc_access_connector.run_connector", Action: ActionRemove},
	}
	if !slices.Equal(tf, want) {
		t.Errorf("terraform entries:\n got %+v\nwant %+v", tf, want)
	}
	_, pu, err := RenderHandOff(PulumiYAML, h)
	if err != nil {
		t.Fatal(err)
	}
	if pu[0].Address != "run-direct-2" || pu[0].Type != "gcp:compute:Subnetwork" || pu[1].Type != "gcp:vpcaccess:Connector" || pu[0].Action != ActionImport {
		t.Errorf("pulumi entries: %+v", pu)
	}
	_, gc, err := RenderHandOff(Gcloud, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range gc {
		if e.Address != "" || e.Action == ActionImport {
			t.Errorf("gcloud entry %+v: gcloud has no addresses and imports nothing", e)
		}
	}
}

// Names stay unique where the format needs it: Terraform labels per resource type, Pulumi
// logical names across the program. A workload keeps its own name.
func TestHandOffNames(t *testing.T) {
	h := HandOff{
		Workloads: []Workload{
			{Ref: ref(egress.KindService, "edge")},
			{Ref: ref(egress.KindJob, "edge")},
			{Ref: egress.WorkloadRef{Kind: egress.KindService, Project: project, Region: "us-central1", Name: "edge"}},
		},
		Subnets: []Subnet{
			{Project: project, Region: region, Name: "edge", Network: "projects/demo-project/global/networks/run-vpc", IPCIDRRange: "10.0.0.0/26"},
			{Project: project, Region: "us-central1", Name: "edge", Network: "projects/demo-project/global/networks/run-vpc", IPCIDRRange: "10.0.1.0/26"},
		},
		Connectors: []Connector{{Project: project, Region: region, Name: "edge", Network: "run-vpc", IPCIDRRange: "10.9.0.0/28"}},
	}
	for _, f := range []Format{Terraform, PulumiYAML} {
		_, entries, err := RenderHandOff(f, h)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if seen[e.Address] {
				t.Errorf("%s: address %q given twice: %+v", f, e.Address, entries)
			}
			seen[e.Address] = true
		}
		if f == Terraform && !seen["google_cloud_run_v2_service.edge"] || f == PulumiYAML && !seen["edge"] {
			t.Errorf("%s: the first workload lost its own name: %+v", f, entries)
		}
	}
}

func TestHandOffErrors(t *testing.T) {
	net := "projects/demo-project/global/networks/run-vpc"
	for _, c := range []struct {
		name string
		h    HandOff
		want string
	}{
		{"worker pool with connector", HandOff{Workloads: []Workload{{Ref: ref(egress.KindWorkerPool, "w"), VPC: connectorVPC}}}, ErrWorkerPoolConnector.Error()},
		{"connector with network and subnet", HandOff{Connectors: []Connector{{Project: project, Region: region, Name: "c", Network: "n", Subnet: &ConnectorSubnet{Name: "s"}}}}, "one and only one of a network and a subnet"},
		{"connector with neither", HandOff{Connectors: []Connector{{Project: project, Region: region, Name: "c"}}}, "one and only one of a network and a subnet"},
		{"subnet twice", HandOff{Subnets: []Subnet{{Project: project, Region: region, Name: "s", Network: net}, {Project: project, Region: region, Name: "s", Network: net}}}, "given twice"},
		{"declared and removed", HandOff{Subnets: []Subnet{{Project: project, Region: region, Name: "s", Network: net}}, Removed: []Removed{{Kind: KindSubnet, Project: project, Region: region, Name: "s"}}}, "both declared and removed"},
		{"removed workload", HandOff{Removed: []Removed{{Kind: KindWorkload, Project: project, Region: region, Name: "s"}}}, "only connectors and subnets"},
	} {
		for _, f := range Formats {
			if _, _, err := RenderHandOff(f, c.h); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: err = %v, want %q", c.name, f, err, c.want)
			}
		}
	}
	if _, _, err := RenderHandOff("cdk", HandOff{}); err == nil {
		t.Error("unknown format: no error")
	}
	var wp error
	_, _, wp = RenderHandOff(Terraform, HandOff{Workloads: []Workload{{Ref: ref(egress.KindWorkerPool, "w"), VPC: connectorVPC}}})
	if !errors.Is(wp, ErrWorkerPoolConnector) {
		t.Errorf("worker pool with connector: %v is not ErrWorkerPoolConnector", wp)
	}
}

// The Pulumi program parses; each resource has the documented type, the import option where
// runnet created it, and its properties where the gcp provider reads them.
func TestHandOffPulumiStructure(t *testing.T) {
	out, _, err := RenderHandOff(PulumiYAML, handOffs[0].h)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string         `yaml:"type"`
			Properties map[string]any `yaml:"properties"`
			Options    map[string]any `yaml:"options"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, out)
	}
	sub, conn := doc.Resources["run-direct-2"], doc.Resources["run-connector-2"]
	if sub.Type != "gcp:compute:Subnetwork" || sub.Options["import"] != "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-2" {
		t.Errorf("subnet = %+v", sub)
	}
	if lc, _ := sub.Properties["logConfig"].(map[string]any); lc["flowSampling"] != 0.5 || lc["aggregationInterval"] != "INTERVAL_10_MIN" {
		t.Errorf("subnet logConfig = %v", sub.Properties["logConfig"])
	}
	if conn.Type != "gcp:vpcaccess:Connector" || conn.Options["import"] != "projects/demo-project/locations/asia-northeast1/connectors/run-connector-2" ||
		conn.Properties["maxInstances"] != 4 || conn.Properties["machineType"] != "e2-standard-4" {
		t.Errorf("connector = %+v", conn)
	}
	if _, ok := doc.Resources["run-connector"]; ok {
		t.Error("the deleted connector is declared")
	}
	if len(doc.Resources) != 5 {
		t.Errorf("%d resources, want 5: %v", len(doc.Resources), doc.Resources)
	}
	if !strings.Contains(out, "pulumi state delete 'urn:pulumi:STACK::PROJECT::gcp:vpcaccess/connector:Connector::run-connector'") {
		t.Errorf("no way to forget the deleted connector in\n%s", out)
	}
}

func TestGcloudEnum(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"INTERVAL_10_MIN", ""}:               "interval-10-min",
		{"INTERVAL_5_SEC", ""}:                "interval-5-sec",
		{"INCLUDE_ALL_METADATA", "_METADATA"}: "include-all",
		{"EXCLUDE_ALL_METADATA", "_METADATA"}: "exclude-all",
		{"CUSTOM_METADATA", "_METADATA"}:      "custom",
	} {
		if got := gcloudEnum(in[0], in[1]); got != want {
			t.Errorf("gcloudEnum(%q) = %q, want %q", in[0], got, want)
		}
	}
}

// A resource's comment names its users in the hand-off and then those it leaves out, so that
// one workload's export does not present a shared connector as that workload's alone.
func TestUsedBy(t *testing.T) {
	for _, tt := range []struct {
		users, others []string
		want          string
	}{
		{nil, nil, "."},
		{[]string{"run-service"}, nil, ", used by run-service."},
		{[]string{"run-service"}, []string{"job/nightly-export", "api (project svc-b)"}, ", used by run-service and by job/nightly-export, api (project svc-b), not exported here."},
		{nil, []string{"job/nightly-export"}, ", used by job/nightly-export, not exported here."},
	} {
		if got := usedBy(tt.users, tt.others); got != tt.want {
			t.Errorf("usedBy(%q, %q) = %q, want %q", tt.users, tt.others, got, tt.want)
		}
	}
	c := Connector{Project: "demo-project", Region: "asia-northeast1", Name: "conn", Network: "run-vpc", OtherUsers: []string{"job/nightly-export"}}
	h := HandOff{Subject: "service run-service", Workloads: []Workload{{Ref: egress.WorkloadRef{Kind: egress.KindService, Project: c.Project, Region: c.Region, Name: "run-service"},
		VPC: egress.VPC{Connector: c.Path()}}}, Connectors: []Connector{c}}
	for _, f := range Formats {
		text, _, err := RenderHandOff(f, h)
		if err != nil {
			t.Fatal(err)
		}
		// The comment as one line, without the comment marks its wrapping adds.
		flat := strings.Join(slices.DeleteFunc(strings.Fields(text), func(w string) bool { return w == "#" }), " ")
		if !strings.Contains(flat, "connector conn (project demo-project, region asia-northeast1), used by run-service and by job/nightly-export, not exported here.") {
			t.Errorf("%s:\n%s", f, text)
		}
	}
}
