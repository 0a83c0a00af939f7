package iac

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The providers' documented schemas, as far as runnet writes them, typed in from the
// documentation (the sources are listed in terraform.go), not from the renderer: a misspelt
// name in the renderer fails TestTerraformSchema or TestPulumiSchema. A path is the chain of
// nested block (or object) names down to the attribute; the values are the documented enums,
// nil where any value goes.
var tfSchema = map[string]map[string][]string{
	"google_vpc_access_connector": {
		"name": nil, "project": nil, "region": nil, "network": nil, "ip_cidr_range": nil,
		"machine_type":  {"e2-micro", "f1-micro", "e2-standard-4"},
		"min_instances": nil, "max_instances": nil,
		"subnet.name": nil, "subnet.project_id": nil,
	},
	"google_compute_subnetwork": {
		"name": nil, "project": nil, "region": nil, "network": nil, "ip_cidr_range": nil, "description": nil,
		"private_ip_google_access":        {"true", "false"},
		"stack_type":                      {"IPV4_ONLY", "IPV4_IPV6"},
		"ipv6_access_type":                {"EXTERNAL", "INTERNAL"},
		"log_config.aggregation_interval": {"INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"},
		"log_config.flow_sampling":        nil,
		"log_config.metadata":             {"EXCLUDE_ALL_METADATA", "INCLUDE_ALL_METADATA", "CUSTOM_METADATA"},
		"secondary_ip_range.range_name":   nil, "secondary_ip_range.ip_cidr_range": nil,
	},
	"google_cloud_run_v2_service":     runV2Schema("template.vpc_access", true),
	"google_cloud_run_v2_worker_pool": runV2Schema("template.vpc_access", false),
	"google_cloud_run_v2_job":         runV2Schema("template.template.vpc_access", true),
	"import":                          {"to": nil, "id": nil},
	"removed":                         {"from": nil, "lifecycle.destroy": {"true", "false"}},
}

// tfDeprecated are documented attributes runnet must not write: the connector's throughput
// fields are discouraged in favour of the instance counts.
var tfDeprecated = map[string][]string{
	"google_vpc_access_connector": {"min_throughput", "max_throughput"},
}

// runV2Schema is the part of a google_cloud_run_v2_* resource runnet writes; worker pools
// cannot use connectors, so runnet never writes one for them.
func runV2Schema(vpc string, connector bool) map[string][]string {
	m := map[string][]string{
		"name": nil, "location": nil, "project": nil,
		vpc + ".egress":                        {"ALL_TRAFFIC", "PRIVATE_RANGES_ONLY"},
		vpc + ".network_interfaces.network":    nil,
		vpc + ".network_interfaces.subnetwork": nil,
		vpc + ".network_interfaces.tags":       nil,
	}
	if connector {
		m[vpc+".connector"] = nil
	}
	return m
}

// The Pulumi gcp provider's property names (camelCase; secondary ranges are a list named
// secondaryIpRanges), and the import resource option of Pulumi YAML.
var pulumiSchema = map[string]map[string][]string{
	"gcp:vpcaccess:Connector": {
		"name": nil, "project": nil, "region": nil, "network": nil, "ipCidrRange": nil,
		"machineType":  {"e2-micro", "f1-micro", "e2-standard-4"},
		"minInstances": nil, "maxInstances": nil,
		"subnet.name": nil, "subnet.projectId": nil,
	},
	"gcp:compute:Subnetwork": {
		"name": nil, "project": nil, "region": nil, "network": nil, "ipCidrRange": nil, "description": nil,
		"privateIpGoogleAccess": nil, "stackType": {"IPV4_ONLY", "IPV4_IPV6"}, "ipv6AccessType": {"EXTERNAL", "INTERNAL"},
		"logConfig.aggregationInterval": {"INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"},
		"logConfig.flowSampling":        nil,
		"logConfig.metadata":            {"EXCLUDE_ALL_METADATA", "INCLUDE_ALL_METADATA", "CUSTOM_METADATA"},
		"secondaryIpRanges.rangeName":   nil, "secondaryIpRanges.ipCidrRange": nil,
	},
	"gcp:cloudrunv2:Service":    pulumiRunSchema("template.vpcAccess", true),
	"gcp:cloudrunv2:WorkerPool": pulumiRunSchema("template.vpcAccess", false),
	"gcp:cloudrunv2:Job":        pulumiRunSchema("template.template.vpcAccess", true),
}

func pulumiRunSchema(vpc string, connector bool) map[string][]string {
	m := map[string][]string{
		"name": nil, "location": nil, "project": nil,
		vpc + ".egress":                       {"ALL_TRAFFIC", "PRIVATE_RANGES_ONLY"},
		vpc + ".networkInterfaces.network":    nil,
		vpc + ".networkInterfaces.subnetwork": nil,
		vpc + ".networkInterfaces.tags":       nil,
	}
	if connector {
		m[vpc+".connector"] = nil
	}
	return m
}

// The flags of the gcloud commands runnet writes, as their --help documents them (Google Cloud
// SDK 528; worker pools from `gcloud alpha run worker-pools update --help`).
var gcloudFlags = map[string][]string{
	"gcloud compute networks subnets create": {
		"--project", "--region", "--network", "--range", "--description", "--enable-private-ip-google-access",
		"--stack-type", "--ipv6-access-type", "--enable-flow-logs", "--logging-aggregation-interval",
		"--logging-flow-sampling", "--logging-metadata", "--secondary-range",
	},
	"gcloud compute networks vpc-access connectors create": {
		"--project", "--region", "--network", "--range", "--subnet", "--subnet-project", "--machine-type",
		"--min-instances", "--max-instances",
	},
	"gcloud run services update":     runUpdateFlags(true),
	"gcloud run jobs update":         runUpdateFlags(true),
	"gcloud run worker-pools update": runUpdateFlags(false),
}

func runUpdateFlags(connector bool) []string {
	f := []string{"--project", "--region", "--network", "--subnet", "--network-tags", "--clear-network-tags", "--vpc-egress", "--clear-network"}
	if connector {
		f = append(f, "--vpc-connector", "--clear-vpc-connector")
	}
	return f
}

// allTerraform is every Terraform text the package writes in its tests: the hand-offs and the
// workload snippets.
func allTerraform(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range handOffs {
		s, _, err := RenderHandOff(Terraform, c.h)
		if err != nil {
			t.Fatal(err)
		}
		out["handoff/"+c.name] = s
	}
	for _, w := range workloads {
		for _, v := range vpcs {
			s, err := Render(Terraform, ref(w.kind, w.name), v.vpc)
			if err == nil {
				out[string(w.kind)+"-"+v.name] = s
			}
		}
	}
	for name, text := range cliGoldens(t, "terraform") {
		out[name] = text
	}
	return out
}

// cliGoldens are the golden files of `runnet export --as FORMAT` against the emulator
// (internal/cli/testdata/export), which this package's renderer wrote.
func cliGoldens(t *testing.T, format string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "cli", "testdata", "export", "*."+format))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files of runnet export --as %s: %v", format, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	return out
}

// hclAttr is an attribute found in HCL: the resource type (or block kind, for import and
// removed), the path of blocks inside it, the name and the value as written.
type hclAttr struct {
	typ, path, value string
	line             int
}

var (
	hclResource = regexp.MustCompile(`^resource "([a-z0-9_]+)" "([A-Za-z_][A-Za-z0-9_-]*)" \{$`)
	hclBlock    = regexp.MustCompile(`^([a-z][a-z0-9_]*) \{$`)
	hclAttrLine = regexp.MustCompile(`^([a-z][a-z0-9_]*)\s+= (.+)$`)
)

// hclAttrs reads the attributes of HCL as runnet writes it (one attribute or block opening a
// line; `terraform fmt -check` checks the syntax itself). An unexpected line is an error.
func hclAttrs(text string) ([]hclAttr, error) {
	var out []hclAttr
	var stack []string // resource type (or top block), then nested blocks
	for i, raw := range strings.Split(text, "\n") {
		l := strings.TrimSpace(raw)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case l == "}":
			if len(stack) == 0 {
				return nil, fmt.Errorf("line %d: unbalanced }", i+1)
			}
			stack = stack[:len(stack)-1]
		case hclResource.MatchString(l) && len(stack) == 0:
			stack = append(stack, hclResource.FindStringSubmatch(l)[1])
		case hclBlock.MatchString(l):
			stack = append(stack, hclBlock.FindStringSubmatch(l)[1])
		case hclAttrLine.MatchString(l) && len(stack) > 0:
			m := hclAttrLine.FindStringSubmatch(l)
			out = append(out, hclAttr{typ: stack[0], path: strings.Join(append(slices.Clone(stack[1:]), m[1]), "."), value: m[2], line: i + 1})
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", i+1, l)
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%d blocks left open", len(stack))
	}
	return out, nil
}

// TestTerraformSchema checks every attribute the Terraform output writes against the
// documented schema: the name at its nesting, and the value where the documentation lists
// the allowed ones.
func TestTerraformSchema(t *testing.T) {
	seen := map[string]bool{}
	for name, text := range allTerraform(t) {
		attrs, err := hclAttrs(text)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		for _, a := range attrs {
			schema, ok := tfSchema[a.typ]
			if !ok {
				t.Errorf("%s line %d: resource type %q is not in the documented schema", name, a.line, a.typ)
				continue
			}
			values, ok := schema[a.path]
			if !ok {
				t.Errorf("%s line %d: %s has no documented argument %q", name, a.line, a.typ, a.path)
				continue
			}
			if slices.Contains(tfDeprecated[a.typ], a.path) {
				t.Errorf("%s line %d: %s.%s is deprecated", name, a.line, a.typ, a.path)
			}
			seen[a.typ+" "+a.path] = true
			if values == nil {
				continue
			}
			v := a.value
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			if !slices.Contains(values, v) {
				t.Errorf("%s line %d: %s.%s = %s; documented values: %s", name, a.line, a.typ, a.path, a.value, strings.Join(values, ", "))
			}
		}
	}
	// Every documented argument the renderer can write is exercised by the test data, so that
	// the check above covers it.
	for typ, schema := range tfSchema {
		for path := range schema {
			if !seen[typ+" "+path] {
				t.Errorf("%s.%s is never written by the test data", typ, path)
			}
		}
	}
}

// The checker itself: a misspelt attribute, a wrong nesting, a bad enum value and a
// deprecated field are each caught.
func TestTerraformSchemaCatches(t *testing.T) {
	for _, bad := range []string{
		"resource \"google_vpc_access_connector\" \"c\" {\n  min_instance = 2\n}\n",
		"resource \"google_vpc_access_connector\" \"c\" {\n  max_throughput = 300\n}\n",
		"resource \"google_cloud_run_v2_job\" \"j\" {\n  template {\n    vpc_access {\n      egress = \"ALL_TRAFFIC\"\n    }\n  }\n}\n",
		"resource \"google_cloud_run_v2_service\" \"s\" {\n  template {\n    vpc_access {\n      egress = \"ALL\"\n    }\n  }\n}\n",
		"resource \"google_compute_subnetwork\" \"s\" {\n  secondary_ip_ranges {\n    range_name = \"a\"\n  }\n}\n",
	} {
		attrs, err := hclAttrs(bad)
		if err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, a := range attrs {
			values, known := tfSchema[a.typ][a.path]
			v, _ := strconv.Unquote(a.value)
			if !known || slices.Contains(tfDeprecated[a.typ], a.path) || (values != nil && !slices.Contains(values, v)) {
				ok = false
			}
		}
		if ok {
			t.Errorf("not caught:\n%s", bad)
		}
	}
}

// TestPulumiSchema checks every property the Pulumi YAML output writes against the gcp
// provider's documented names, and the resource options against Pulumi YAML's.
func TestPulumiSchema(t *testing.T) {
	texts := map[string]string{}
	for _, c := range handOffs {
		s, _, err := RenderHandOff(PulumiYAML, c.h)
		if err != nil {
			t.Fatal(err)
		}
		texts["handoff/"+c.name] = s
	}
	for _, w := range workloads {
		for _, v := range vpcs {
			if s, err := Render(PulumiYAML, ref(w.kind, w.name), v.vpc); err == nil {
				texts[string(w.kind)+"-"+v.name] = s
			}
		}
	}
	for name, text := range cliGoldens(t, "pulumi-yaml") {
		texts[name] = text
	}
	seen := map[string]bool{}
	for name, text := range texts {
		var doc map[string]map[string]map[string]any
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatalf("%s: not YAML: %v", name, err)
		}
		for key, r := range doc["resources"] {
			typ, _ := r["type"].(string)
			schema, ok := pulumiSchema[typ]
			if !ok {
				t.Errorf("%s: %s: type %q is not in the documented schema", name, key, typ)
				continue
			}
			for k := range r {
				if k != "type" && k != "properties" && k != "options" {
					t.Errorf("%s: %s: unknown key %q", name, key, k)
				}
			}
			if opts, ok := r["options"].(map[string]any); ok {
				for k, v := range opts {
					if s, _ := v.(string); k != "import" || s == "" {
						t.Errorf("%s: %s: option %s = %v; runnet writes only import: ID", name, key, k, v)
					}
				}
			}
			props, _ := r["properties"].(map[string]any)
			walkYAML("", props, func(path string, v any) {
				values, ok := schema[path]
				if !ok && v == nil && isPrefix(path, schema) {
					return // an empty object on the way to a documented property (no VPC access)
				}
				if !ok {
					t.Errorf("%s: %s (%s) has no documented property %q", name, key, typ, path)
					return
				}
				seen[typ+" "+path] = true
				if values != nil && !slices.Contains(values, fmt.Sprint(v)) {
					t.Errorf("%s: %s.%s = %v; documented values: %s", name, key, path, v, strings.Join(values, ", "))
				}
			})
		}
	}
	for typ, schema := range pulumiSchema {
		for path := range schema {
			if !seen[typ+" "+path] {
				t.Errorf("%s %s is never written by the test data", typ, path)
			}
		}
	}
}

func isPrefix(path string, schema map[string][]string) bool {
	for p := range schema {
		if strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// walkYAML calls leaf for each scalar (or list of scalars) under m, with its dotted path; list
// items of objects add no path element.
func walkYAML(prefix string, m map[string]any, leaf func(path string, v any)) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]any:
			walkYAML(path, x, leaf)
		case []any:
			if len(x) > 0 {
				if _, ok := x[0].(map[string]any); ok {
					for _, it := range x {
						walkYAML(path, it.(map[string]any), leaf)
					}
					continue
				}
			}
			leaf(path, nil)
		default:
			leaf(path, v)
		}
	}
}

// gcloudCommands splits gcloud text into commands: the command (up to its positional
// argument) and its flag names.
func gcloudCommands(text string) map[string][][]string {
	out := map[string][][]string{}
	joined := strings.ReplaceAll(text, "\\\n", " ")
	for _, l := range strings.Split(joined, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "gcloud ") {
			continue
		}
		fields := strings.Fields(l)
		var cmd []string
		var flags []string
		for _, f := range fields {
			if strings.HasPrefix(f, "--") {
				flags = append(flags, strings.SplitN(f, "=", 2)[0])
			} else if len(flags) == 0 {
				cmd = append(cmd, f)
			}
		}
		name := strings.Join(cmd[:len(cmd)-1], " ") // less the resource name
		out[name] = append(out[name], flags)
	}
	return out
}

// TestGcloudSchema checks every flag the gcloud output writes against the flags --help
// documents.
func TestGcloudSchema(t *testing.T) {
	var texts []string
	for _, c := range handOffs {
		s, _, err := RenderHandOff(Gcloud, c.h)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, s)
	}
	for _, text := range cliGoldens(t, "gcloud") {
		texts = append(texts, text)
	}
	seen := map[string]bool{}
	for _, text := range texts {
		for cmd, runs := range gcloudCommands(text) {
			known, ok := gcloudFlags[cmd]
			if !ok {
				t.Errorf("unknown command %q", cmd)
				continue
			}
			for _, flags := range runs {
				for _, f := range flags {
					if !slices.Contains(known, f) {
						t.Errorf("%s has no flag %s", cmd, f)
					}
					seen[cmd] = true
				}
			}
		}
	}
	for _, cmd := range []string{"gcloud compute networks subnets create", "gcloud compute networks vpc-access connectors create"} {
		if !seen[cmd] {
			t.Errorf("%s is never written by the test data", cmd)
		}
	}
}

// TestGcloudFlagsDocumented checks the flag table above against the installed gcloud's help,
// where gcloud is installed. Worker pools are left out: the SDK this was checked with has
// their update command in alpha only.
func TestGcloudFlagsDocumented(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: gcloud --help takes seconds")
	}
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed: the flag table is checked against the documentation only")
	}
	for cmd, flags := range gcloudFlags {
		if strings.Contains(cmd, "worker-pools") {
			continue
		}
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := exec.CommandContext(ctx, gcloud, append(strings.Fields(strings.TrimPrefix(cmd, "gcloud ")), "--help")...)
			c.Env = append(os.Environ(), "PAGER=cat", "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
			out, err := c.Output()
			if err != nil {
				t.Fatalf("%s --help: %v", cmd, err)
			}
			help := regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAll(out, nil)
			for _, f := range flags {
				if f == "--project" {
					continue // gcloud-wide: not in each command's help
				}
				if !regexp.MustCompile(regexp.QuoteMeta(f) + `\b`).Match(help) {
					t.Errorf("gcloud's help does not document %s", f)
				}
			}
		})
	}
}

// TestTerraformFmt runs `terraform fmt -check` on every Terraform text the package writes
// (the golden files and the rendered text), where terraform is installed.
func TestTerraformFmt(t *testing.T) {
	texts := allTerraform(t)
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*", "*.tf.golden"))
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		texts[g] = string(b)
	}
	if err := terraformFmt(texts); errors.Is(err, errNoTerraform) {
		t.Skip("terraform is not installed: `terraform fmt -check` not run (the schema tests still ran)")
	} else if err != nil {
		t.Error(err)
	}
}

var errNoTerraform = errors.New("terraform is not installed")

// terraformFmt runs `terraform fmt -check` on each text (named by its key), in one run over
// the files of a temporary directory; errNoTerraform where terraform is not installed.
func terraformFmt(texts map[string]string) error {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		return errNoTerraform
	}
	dir, err := os.MkdirTemp("", "runnet-tf-fmt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{}
	i := 0
	for name, text := range texts {
		i++
		f := fmt.Sprintf("t%03d.tf", i)
		files[f] = name
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf, "fmt", "-check", "-diff", "-no-color", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		report := string(out) + stderr.String()
		for f, name := range files {
			report = strings.ReplaceAll(report, filepath.Join(dir, f), name)
			report = strings.ReplaceAll(report, f, name)
		}
		return fmt.Errorf("terraform fmt -check: %w\n%s", err, report)
	case err != nil:
		return fmt.Errorf("terraform fmt: %w", err)
	}
	return nil
}

// The checker fails on text terraform fmt would change and on broken HCL.
func TestTerraformFmtCatches(t *testing.T) {
	for _, bad := range []string{"a = 1\nbb = 2\n", "resource \"x\" \"y\" {\n"} {
		err := terraformFmt(map[string]string{"good": "a = 1\n", "bad": bad})
		if errors.Is(err, errNoTerraform) {
			t.Skip("terraform is not installed")
		}
		if err == nil {
			t.Errorf("terraform fmt -check accepted %q", bad)
		}
	}
}
