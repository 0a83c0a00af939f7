package iac

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/runnet-dev/runnet/pkg/egress"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	project = "demo-project"
	region  = "asia-northeast1"
)

func ref(k egress.Kind, name string) egress.WorkloadRef {
	return egress.WorkloadRef{Kind: k, Project: project, Region: region, Name: name}
}

var (
	connectorVPC = egress.VPC{
		Connector: "projects/demo-project/locations/asia-northeast1/connectors/run-connector",
		Egress:    egress.EgressPrivateRangesOnly,
	}
	directVPC = egress.VPC{
		Network: "projects/demo-project/global/networks/run-vpc",
		Subnet:  "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress",
		Tags:    []string{"redis-client", "run-egress"},
		Egress:  egress.EgressAllTraffic,
	}
	noneVPC = egress.VPC{}
)

var workloads = []struct {
	kind egress.Kind
	name string
}{
	{egress.KindService, "run-service"},
	{egress.KindJob, "nightly-export"},
	{egress.KindWorkerPool, "queue-worker"},
}

var vpcs = []struct {
	name string
	vpc  egress.VPC
}{
	{"connector", connectorVPC},
	{"direct", directVPC},
	{"none", noneVPC},
}

var extension = map[Format]string{Terraform: ".tf", PulumiYAML: ".yaml", Gcloud: ".sh"}

// TestGolden renders every format for every kind of workload and every mode, and compares with
// testdata/FORMAT/KIND-MODE.golden (go test ./internal/iac -update rewrites them).
func TestGolden(t *testing.T) {
	for _, f := range Formats {
		for _, w := range workloads {
			for _, v := range vpcs {
				name := string(f) + "/" + string(w.kind) + "-" + v.name
				t.Run(name, func(t *testing.T) {
					got, err := Render(f, ref(w.kind, w.name), v.vpc)
					if w.kind == egress.KindWorkerPool && v.name == "connector" {
						if !errors.Is(err, ErrWorkerPoolConnector) {
							t.Fatalf("Render = %q, %v; want ErrWorkerPoolConnector", got, err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					golden(t, filepath.Join("testdata", string(f), string(w.kind)+"-"+v.name+extension[f]+".golden"), got)
				})
			}
		}
	}
}

// Less common shapes: a Shared VPC subnetwork given alone (no network), no tags, egress unset
// (rendered as the API default), and short names as the API may hold them.
func TestGoldenVariants(t *testing.T) {
	shared := egress.VPC{Subnet: "projects/host-project/regions/asia-northeast1/subnetworks/shared-run"}
	short := egress.VPC{Network: "default"}
	for _, f := range Formats {
		for _, c := range []struct {
			name string
			vpc  egress.VPC
		}{{"shared-subnet", shared}, {"network-only", short}} {
			t.Run(string(f)+"/"+c.name, func(t *testing.T) {
				got, err := Render(f, ref(egress.KindService, "api"), c.vpc)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", string(f), "service-"+c.name+extension[f]+".golden"), got)
			})
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/iac -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/iac -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// The Pulumi YAML parses, and holds the settings at the path the gcp provider reads them from.
func TestPulumiYAMLStructure(t *testing.T) {
	for _, w := range workloads {
		for _, v := range vpcs {
			if w.kind == egress.KindWorkerPool && v.name == "connector" {
				continue
			}
			t.Run(string(w.kind)+"-"+v.name, func(t *testing.T) {
				out, err := Render(PulumiYAML, ref(w.kind, w.name), v.vpc)
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					Resources map[string]struct {
						Type       string         `yaml:"type"`
						Properties map[string]any `yaml:"properties"`
					} `yaml:"resources"`
				}
				if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
					t.Fatalf("not YAML: %v\n%s", err, out)
				}
				r, ok := doc.Resources[w.name]
				if !ok {
					t.Fatalf("no resource %q in\n%s", w.name, out)
				}
				if r.Type != Resource(PulumiYAML, w.kind) {
					t.Errorf("type = %q", r.Type)
				}
				if r.Properties["name"] != w.name || r.Properties["location"] != region || r.Properties["project"] != project {
					t.Errorf("identifying properties = %v", r.Properties)
				}
				tmpl, _ := r.Properties["template"].(map[string]any)
				if w.kind == egress.KindJob {
					tmpl, _ = tmpl["template"].(map[string]any)
				}
				va, _ := tmpl["vpcAccess"].(map[string]any)
				switch v.name {
				case "none":
					if va != nil {
						t.Errorf("vpcAccess = %v, want none", va)
					}
				case "connector":
					if va["connector"] != v.vpc.Connector || va["egress"] != "PRIVATE_RANGES_ONLY" {
						t.Errorf("vpcAccess = %v", va)
					}
				case "direct":
					nis, _ := va["networkInterfaces"].([]any)
					if len(nis) != 1 || va["egress"] != "ALL_TRAFFIC" {
						t.Fatalf("vpcAccess = %v", va)
					}
					ni := nis[0].(map[string]any)
					tags, _ := ni["tags"].([]any)
					if ni["network"] != v.vpc.Network || ni["subnetwork"] != v.vpc.Subnet || len(tags) != 2 || tags[0] != "redis-client" {
						t.Errorf("networkInterfaces[0] = %v", ni)
					}
				}
			})
		}
	}
}

// The Terraform has balanced braces and quotes, and names the vpc_access settings.
func TestTerraformShape(t *testing.T) {
	for _, w := range workloads {
		out, err := Render(Terraform, ref(w.kind, w.name), directVPC)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "{") != strings.Count(out, "}") || strings.Count(out, `"`)%2 != 0 {
			t.Errorf("%s: unbalanced:\n%s", w.kind, out)
		}
		for _, want := range []string{`resource "` + Resource(Terraform, w.kind) + `"`, `network_interfaces {`, `tags       = ["redis-client", "run-egress"]`, `egress = "ALL_TRAFFIC"`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: missing %q in\n%s", w.kind, want, out)
			}
		}
		nested := strings.Contains(out, "template {\n    template {")
		if nested != (w.kind == egress.KindJob) {
			t.Errorf("%s: template nesting wrong:\n%s", w.kind, out)
		}
	}
}

// The gcloud command sets one mode and clears the other, so it works from any starting state.
func TestGcloudFlags(t *testing.T) {
	cases := []struct {
		kind      egress.Kind
		vpc       egress.VPC
		want, not []string
	}{
		{egress.KindService, connectorVPC, []string{"gcloud run services update run-service", "--vpc-connector=projects/", "--vpc-egress=private-ranges-only", "--clear-network"}, []string{"--network=", "--clear-vpc-connector"}},
		{egress.KindJob, directVPC, []string{"gcloud run jobs update run-service", "--network=projects/demo-project/global/networks/run-vpc", "--subnet=", "--network-tags=redis-client,run-egress", "--vpc-egress=all-traffic", "--clear-vpc-connector"}, []string{"--clear-network \\", "--clear-network-tags"}},
		{egress.KindService, egress.VPC{Subnet: "s"}, []string{"--subnet=s", "--clear-network-tags", "--vpc-egress=private-ranges-only"}, []string{"--network="}},
		{egress.KindService, noneVPC, []string{"--clear-vpc-connector", "--clear-network"}, []string{"--vpc-egress"}},
		{egress.KindWorkerPool, noneVPC, []string{"gcloud run worker-pools update", "--clear-network"}, []string{"vpc-connector"}},
		{egress.KindWorkerPool, directVPC, []string{"--network-tags="}, []string{"vpc-connector"}},
	}
	for _, c := range cases {
		out, err := Render(Gcloud, ref(c.kind, "run-service"), c.vpc)
		if err != nil {
			t.Fatal(err)
		}
		cmd := out[strings.Index(out, "gcloud run"):]
		for _, w := range c.want {
			if !strings.Contains(cmd, w) {
				t.Errorf("%s %s: missing %q in\n%s", c.kind, c.vpc.Mode(), w, cmd)
			}
		}
		for _, n := range c.not {
			if strings.Contains(cmd, n) {
				t.Errorf("%s %s: unexpected %q in\n%s", c.kind, c.vpc.Mode(), n, cmd)
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	both := egress.VPC{Connector: "c", Subnet: "s"}
	for _, f := range Formats {
		if _, err := Render(f, ref(egress.KindService, "s"), both); !errors.Is(err, ErrConnectorAndInterface) {
			t.Errorf("%s: both connector and subnet: err = %v", f, err)
		}
		if _, err := Render(f, ref(egress.KindWorkerPool, "w"), connectorVPC); !errors.Is(err, ErrWorkerPoolConnector) {
			t.Errorf("%s: worker pool with connector: err = %v", f, err)
		}
		if _, err := Render(f, egress.WorkloadRef{Kind: "cronjob", Name: "x"}, noneVPC); err == nil {
			t.Errorf("%s: unknown kind: no error", f)
		}
	}
	if _, err := Render("cdk", ref(egress.KindService, "s"), noneVPC); err == nil || !strings.Contains(err.Error(), "terraform, pulumi-yaml, gcloud") {
		t.Errorf("unknown format: err = %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"terraform": Terraform, "TF": Terraform, "hcl": Terraform, "pulumi-yaml": PulumiYAML, "pulumi": PulumiYAML, "gcloud": Gcloud} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "cdk", "terraform-json"} {
		if _, err := ParseFormat(in); err == nil || !strings.Contains(err.Error(), "valid: terraform, pulumi-yaml, gcloud") {
			t.Errorf("ParseFormat(%q): err = %v", in, err)
		}
	}
}

func TestQuoting(t *testing.T) {
	if got := hclString(`a"b${c}\`); got != `"a\"b$${c}\\"` {
		t.Errorf("hclString = %s", got)
	}
	for in, want := range map[string]string{"run-vpc": "run-vpc", "yes": `"yes"`, "on": `"on"`, "123": `"123"`, "1e3": `"1e3"`, "a b": `"a b"`, "projects/p/x": "projects/p/x"} {
		if got := yamlScalar(in); got != want {
			t.Errorf("yamlScalar(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"run-vpc": "run-vpc", "a b": "'a b'", "it's": `'it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
