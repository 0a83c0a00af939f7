package cli

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"
	"google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iac"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/export")

func TestExportFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantAs    iac.Format
		wantScope string
		wantRef   string // the workload, or the connector's full name
		wantErr   string // a usage error matching this, when set
	}{
		{name: "terraform", args: []string{"run-service", "--as", "terraform"}, wantAs: iac.Terraform, wantScope: scopeWorkload, wantRef: "run-service"},
		{name: "alias", args: []string{"job/nightly-export", "--as", "TF"}, wantAs: iac.Terraform, wantScope: scopeWorkload, wantRef: "job/nightly-export"},
		{name: "pulumi", args: []string{"workerpool/queue-worker", "--as", "pulumi-yaml"}, wantAs: iac.PulumiYAML, wantScope: scopeWorkload, wantRef: "workerpool/queue-worker"},
		{name: "full name", args: []string{"projects/other-project/locations/us-central1/jobs/j", "--as", "gcloud"}, wantAs: iac.Gcloud, wantScope: scopeWorkload, wantRef: "job/j"},
		{name: "connector", args: []string{"--connector", "run-connector", "--as", "terraform"}, wantAs: iac.Terraform, wantScope: scopeConnector, wantRef: "projects/demo-project/locations/asia-northeast1/connectors/run-connector"},
		{name: "all", args: []string{"--all", "--as", "gcloud"}, wantAs: iac.Gcloud, wantScope: scopeAll},
		{name: "all regions", args: []string{"--all", "--regions", "us-central1,asia-northeast1", "--as", "gcloud", "--created", "connector/projects/demo-project/locations/us-central1/connectors/cc"}, wantAs: iac.Gcloud, wantScope: scopeAll},
		{name: "created and deleted", args: []string{"--all", "--as", "terraform", "--created", "subnet/run-direct-2,connector/c2", "--deleted", "connector/run-connector"}, wantAs: iac.Terraform, wantScope: scopeAll},
		{name: "no --as", args: []string{"run-service"}, wantErr: "--as is required: terraform, pulumi-yaml, gcloud"},
		{name: "bad --as", args: []string{"run-service", "--as", "cdk"}, wantErr: `--as: unknown format "cdk" (valid: terraform, pulumi-yaml, gcloud)`},
		{name: "empty --as", args: []string{"run-service", "--as", ""}, wantErr: "--as: empty format"},
		{name: "nothing to export", args: []string{"--as", "terraform"}, wantErr: "WORKLOAD is required: NAME (a service), job/NAME or workerpool/NAME; or --connector NAME, or --all"},
		{name: "two workloads", args: []string{"a", "b", "--as", "terraform"}, wantErr: "one WORKLOAD at a time"},
		{name: "workload and --all", args: []string{"run-service", "--all", "--as", "terraform"}, wantErr: "export one of: a WORKLOAD, --connector NAME or --all"},
		{name: "--connector and --all", args: []string{"--connector", "c", "--all", "--as", "terraform"}, wantErr: "export one of"},
		{name: "--regions without --all", args: []string{"run-service", "--regions", "us-central1", "--as", "terraform"}, wantErr: "--regions: only with --all"},
		{name: "--regions and --region", args: []string{"--all", "--regions", "us-central1", "--region", "us-central1", "--as", "terraform"}, wantErr: "--regions: give the regions to read with --regions only"},
		{name: "bad --regions", args: []string{"--all", "--regions", "Nowhere", "--as", "terraform"}, wantErr: "--regions:"},
		{name: "bad workload", args: []string{"Bad_Name", "--as", "terraform"}, wantErr: `WORKLOAD: invalid workload "Bad_Name"`},
		{name: "bad kind", args: []string{"cronjob/x", "--as", "terraform"}, wantErr: `unknown kind "cronjob"`},
		{name: "bad connector", args: []string{"--connector", "Bad_Name", "--as", "terraform"}, wantErr: "connector"},
		{name: "bad --created kind", args: []string{"run-service", "--as", "terraform", "--created", "network/run-vpc"}, wantErr: `--created: "network/run-vpc" is not connector/NAME or subnet/NAME`},
		{name: "bare --created name", args: []string{"run-service", "--as", "terraform", "--created", "run-vpc"}, wantErr: `--created: "run-vpc" is not connector/NAME or subnet/NAME`},
		{name: "bad --deleted name", args: []string{"run-service", "--as", "terraform", "--deleted", "connector/Bad_Name"}, wantErr: "--deleted:"},
		{name: "created and deleted alike", args: []string{"run-service", "--as", "terraform", "--created", "connector/cc", "--deleted", "connector/projects/demo-project/locations/asia-northeast1/connectors/cc"}, wantErr: "--created and --deleted both name connector projects/demo-project/locations/asia-northeast1/connectors/cc"},
		{name: "short name, several regions", args: []string{"--all", "--regions", "us-central1,asia-northeast1", "--as", "terraform", "--deleted", "connector/cc"}, wantErr: "with several regions, give the full name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ExportOptions
			r := runStubbed(t, "export", func(f *Factory) *cobra.Command {
				return NewCmdExport(f, func(_ context.Context, o *ExportOptions) error { got = o; return nil })
			}, append([]string{"export"}, tt.args...)...)
			if tt.wantErr != "" {
				if r.Code != exitcode.Usage || got != nil {
					t.Fatalf("exit %d (ran: %v), want 2 without running; stderr %q", r.Code, got != nil, r.Stderr)
				}
				if !strings.Contains(r.Stderr, tt.wantErr) {
					t.Errorf("stderr %q does not contain %q", r.Stderr, tt.wantErr)
				}
				return
			}
			if r.Code != 0 || got == nil {
				t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
			}
			ref := ""
			switch got.scope {
			case scopeWorkload:
				ref = got.ref.String()
			case scopeConnector:
				ref = got.connRef.FullName()
			}
			if got.format != tt.wantAs || got.scope != tt.wantScope || ref != tt.wantRef {
				t.Errorf("format %q scope %q ref %q, want %q %q %q", got.format, got.scope, ref, tt.wantAs, tt.wantScope, tt.wantRef)
			}
		})
	}
}

// The values of --created and --deleted resolve to full names: short ones in the exported
// workload's (or connector's) project and region.
func TestExportCreatedDeletedNames(t *testing.T) {
	var got *ExportOptions
	r := runStubbed(t, "export", func(f *Factory) *cobra.Command {
		return NewCmdExport(f, func(_ context.Context, o *ExportOptions) error { got = o; return nil })
	}, "export", "projects/project-one/locations/us-east1/services/s", "--as", "terraform",
		"--created", "subnet/s1,connector/c1", "--created", "subnet/projects/host-project/regions/us-east1/subnetworks/shared",
		"--deleted", "connector/old", "--deleted", "connector/old")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var created, deleted []string
	for _, c := range got.created {
		created = append(created, c.String())
	}
	for _, d := range got.deleted {
		deleted = append(deleted, d.String())
	}
	wantCreated := []string{
		"subnet projects/project-one/regions/us-east1/subnetworks/s1",
		"connector projects/project-one/locations/us-east1/connectors/c1",
		"subnet projects/host-project/regions/us-east1/subnetworks/shared",
	}
	if !slices.Equal(created, wantCreated) || !slices.Equal(deleted, []string{"connector projects/project-one/locations/us-east1/connectors/old"}) {
		t.Errorf("created %q, deleted %q", created, deleted)
	}
}

// TestExportGolden exports every format for a service, a job and a worker pool in each mode
// they can have, against the emulator, and compares with testdata/export/KIND-MODE.FORMAT
// (go test ./internal/cli -run TestExportGolden -update rewrites them). A worker pool cannot
// use a connector, so it has no connector files.
func TestExportGolden(t *testing.T) {
	er := newEmu(t)
	createWorkerPool(t, er, "queue-worker")
	direct := []string{"--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--network-tags", "run-egress,redis-client", "--egress", "all-traffic", "--yes"}
	terraform := map[string]string{}
	defer func() { exportTerraformFmt(t, terraform) }()
	check := func(workload, kind, mode string) {
		t.Helper()
		for _, f := range iac.Formats {
			r := er.Run(t, false, "", "export", workload, "--as", string(f))
			if r.Code != 0 {
				t.Fatalf("export %s --as %s: exit %d: %s", workload, f, r.Code, r.Stderr)
			}
			if r.Stderr != "" {
				t.Errorf("export %s --as %s: stderr %q", workload, f, r.Stderr)
			}
			exportGolden(t, filepath.Join("testdata", "export", kind+"-"+mode+"."+string(f)), r.Stdout)
			if f == iac.Terraform {
				terraform[kind+"-"+mode] = r.Stdout
			}
		}
	}
	for _, w := range []struct{ workload, kind string }{
		{"run-service", "service"}, {"job/nightly-export", "job"}, {"workerpool/queue-worker", "workerpool"},
	} {
		if w.kind != "workerpool" {
			check(w.workload, w.kind, "connector")
		} else {
			check(w.workload, w.kind, "none")
		}
		if r := er.Run(t, false, "", append([]string{"attach", w.workload}, direct...)...); r.Code != 0 {
			t.Fatalf("attach %s: exit %d: %s", w.workload, r.Code, r.Stderr)
		}
		check(w.workload, w.kind, "direct")
		if w.kind != "workerpool" {
			if r := er.Run(t, false, "", "detach", w.workload, "--yes"); r.Code != 0 {
				t.Fatalf("detach %s: exit %d: %s", w.workload, r.Code, r.Stderr)
			}
			check(w.workload, w.kind, "none")
		}
	}
}

func exportGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -run TestExportGolden -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/cli -run TestExportGolden -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// createWorkerPool creates a worker pool with no VPC access (the demo world has none).
func createWorkerPool(t *testing.T, er *emuRun, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for er.E.Addr() == "" && ctx.Err() == nil { // Serve runs in the background
		time.Sleep(time.Millisecond)
	}
	c, err := run.NewWorkerPoolsClient(ctx, er.E.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, err := c.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{
		Parent: "projects/" + tProject + "/locations/" + tRegion, WorkerPoolId: name,
		WorkerPool: &runpb.WorkerPool{Template: &runpb.WorkerPoolRevisionTemplate{
			Containers: []*runpb.Container{{Image: "us-docker.pkg.dev/cloudrun/container/worker-pool"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExportJSONAndFailedRollout(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "export", "run-service", "--as", "pulumi-yaml", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.Stdout)
	}
	want := map[string]any{
		"as": "pulumi-yaml", "scope": "workload", "project": tProject,
		"kind": "service", "name": "run-service", "region": tRegion, "mode": "connector", "resource": "gcp:cloudrunv2:Service",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if s, _ := got["snippet"].(string); !strings.Contains(s, "vpcAccess:\n          connector: "+tConn) {
		t.Errorf("snippet = %q", s)
	}
	// The resources, in the order of the code: the connector's subnet, the connector, the
	// service; all declared (nothing named as created or deleted).
	var res struct {
		Resources []iac.Entry `json:"resources"`
		Notes     []string    `json:"notes"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatal(err)
	}
	wantRes := []iac.Entry{
		{Kind: iac.KindSubnet, Path: "projects/demo-project/regions/asia-northeast1/subnetworks/run-connector-subnet", Type: "gcp:compute:Subnetwork", Address: "run-connector-subnet", Action: iac.ActionDeclare},
		{Kind: iac.KindConnector, Path: tConn, Type: "gcp:vpcaccess:Connector", Address: "run-connector", Action: iac.ActionDeclare},
		{Kind: iac.KindWorkload, Path: "projects/demo-project/locations/asia-northeast1/services/run-service", Type: "gcp:cloudrunv2:Service", Address: "run-service", Action: iac.ActionDeclare},
	}
	if !slices.Equal(res.Resources, wantRes) || res.Notes == nil || len(res.Notes) != 0 {
		t.Errorf("resources = %+v, notes = %#v; want %+v and []", res.Resources, res.Notes, wantRes)
	}
	if len(got) != len(want)+3 {
		t.Errorf("fields = %v, want exactly %v, resources, notes and snippet", got, want)
	}

	// A change that failed (made through the API: runnet attach checks the connector first):
	// the template asks for a missing connector. The export says what the template holds, and
	// warns that traffic is elsewhere.
	failRollout(t, er, &runpb.VpcAccess{Connector: "projects/demo-project/locations/asia-northeast1/connectors/no-such-connector"})
	r = er.Run(t, false, "", "export", "run-service", "--as", "gcloud")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "--vpc-connector=projects/demo-project/locations/asia-northeast1/connectors/no-such-connector") {
		t.Errorf("stdout = %q", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "Warning: the latest change of service run-service failed (") || !strings.Contains(r.Stderr, "traffic is still served by revision run-service-00001-") {
		t.Errorf("stderr = %q", r.Stderr)
	}

	// A workload that does not exist: exit 1, the API's message.
	r = er.Run(t, false, "", "export", "job/gone", "--as", "terraform")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, `job "gone"`) || r.Stdout != "" {
		t.Errorf("missing job: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestExportConnector exports a connector and its users in every format: the demo's
// run-connector, its /28 subnet, run-service and nightly-export.
func TestExportConnector(t *testing.T) {
	er := newEmu(t)
	terraform := map[string]string{}
	for _, f := range iac.Formats {
		r := er.Run(t, false, "", "export", "--connector", "run-connector", "--as", string(f))
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("export --connector --as %s: exit %d: %s", f, r.Code, r.Stderr)
		}
		exportGolden(t, filepath.Join("testdata", "export", "connector-run-connector."+string(f)), r.Stdout)
		if f == iac.Terraform {
			terraform["connector"] = r.Stdout
		}
	}
	exportTerraformFmt(t, terraform)

	r := er.Run(t, false, "", "export", "--connector", "run-connector", "--as", "terraform", "--format", "json")
	var got ExportResult
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("exit %d: %v: %s", r.Code, err, r.Stdout)
	}
	var addrs []string
	for _, e := range got.Resources {
		addrs = append(addrs, e.Address)
	}
	want := []string{"google_compute_subnetwork.run_connector_subnet", "google_vpc_access_connector.run_connector", "google_cloud_run_v2_job.nightly_export", "google_cloud_run_v2_service.run_service"}
	if got.Scope != scopeConnector || got.Connector != tConn || got.Kind != "" || !slices.Equal(addrs, want) {
		t.Errorf("scope %q connector %q kind %q addresses %q; want connector, %s, no kind, %q", got.Scope, got.Connector, got.Kind, addrs, tConn, want)
	}

	// A connector nothing uses: the connector alone.
	if r := er.Run(t, false, "", "connector", "create", "spare", "--network", "run-vpc", "--range", "10.16.0.0/28"); r.Code != 0 {
		t.Fatalf("connector create: %s", r.Stderr)
	}
	r = er.Run(t, false, "", "export", "--connector", "spare", "--as", "terraform", "--format", "json")
	got = ExportResult{}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("exit %d: %v: %s", r.Code, err, r.Stdout)
	}
	if len(got.Resources) != 1 || got.Resources[0].Address != "google_vpc_access_connector.spare" ||
		!strings.Contains(got.Snippet, "the VPC side of connector spare in project demo-project\n# (asia-northeast1), which no workload uses,") {
		t.Errorf("unused connector: %+v\n%s", got.Resources, got.Snippet)
	}

	// A connector that does not exist: the API's error, exit 1, nothing printed.
	r = er.Run(t, false, "", "export", "--connector", "no-such-conn", "--as", "terraform")
	if r.Code != exitcode.Failure || r.Stdout != "" || !strings.Contains(r.Stderr, "no-such-conn") {
		t.Errorf("missing connector: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// TestExportAllAfterMigration is the hand-off after the article's migration, made with
// runnet: a new subnet and a new connector, the job moved to the new connector, the service
// moved to Direct VPC egress on the new subnet with --cleanup, which deletes the old connector.
// `export --all` then declares both new resources with import blocks (named by --created),
// forgets the old connector with a removed block (--deleted), and passes terraform fmt -check.
func TestExportAllAfterMigration(t *testing.T) {
	er := newEmu(t)
	for _, args := range [][]string{
		{"subnet", "create", "run-direct-2", "--network", "run-vpc", "--range", "10.20.0.0/24", "--flow-logs"},
		{"connector", "create", "run-connector-2", "--network", "run-vpc", "--range", "10.9.0.0/28", "--machine-type", "e2-standard-4", "--max-instances", "4"},
		{"migrate", "job/nightly-export", "--to", "connector", "--connector", "run-connector-2", "--yes"},
		{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-2", "--cleanup", "--yes"},
	} {
		if r := er.Run(t, false, "", args...); r.Code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
	if r := er.Run(t, false, "", "connector", "describe", "run-connector"); r.Code == 0 {
		t.Fatalf("migrate --cleanup left run-connector: %s", r.Stdout)
	}

	handOff := []string{"export", "--all", "--created", "subnet/run-direct-2,connector/run-connector-2", "--deleted", "connector/run-connector"}
	terraform := map[string]string{}
	for _, f := range iac.Formats {
		r := er.Run(t, false, "", append(handOff, "--as", string(f))...)
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("export --all --as %s: exit %d: %s", f, r.Code, r.Stderr)
		}
		exportGolden(t, filepath.Join("testdata", "export", "all-migrated."+string(f)), r.Stdout)
		if f == iac.Terraform {
			terraform["all"] = r.Stdout
		}
	}
	exportTerraformFmt(t, terraform)
	tf := terraform["all"]
	for _, want := range []string{
		"import {\n  to = google_compute_subnetwork.run_direct_2\n  id = \"projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-2\"\n}\n",
		"import {\n  to = google_vpc_access_connector.run_connector_2\n  id = \"projects/demo-project/locations/asia-northeast1/connectors/run-connector-2\"\n}\n",
		"removed {\n  from = google_vpc_access_connector.run_connector\n\n  lifecycle {\n    destroy = false\n  }\n}\n",
	} {
		if !strings.Contains(tf, want) {
			t.Errorf("the hand-off lacks\n%s", want)
		}
	}
	if strings.Contains(tf, `resource "google_vpc_access_connector" "run_connector"`) {
		t.Error("the deleted connector is declared")
	}

	r := er.Run(t, false, "", append(handOff, "--as", "terraform", "--format", "json")...)
	var got ExportResult
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("exit %d: %v: %s", r.Code, err, r.Stdout)
	}
	actions := map[string]iac.Action{}
	for _, e := range got.Resources {
		actions[e.Path] = e.Action
	}
	for path, want := range map[string]iac.Action{
		"projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-2":     iac.ActionImport,
		"projects/demo-project/locations/asia-northeast1/connectors/run-connector-2": iac.ActionImport,
		tConn: iac.ActionRemove,
		"projects/demo-project/regions/asia-northeast1/subnetworks/run-connector-subnet": "", // no user left: not in the inventory
		"projects/demo-project/locations/asia-northeast1/services/run-service":           iac.ActionDeclare,
		"projects/demo-project/locations/asia-northeast1/jobs/nightly-export":            iac.ActionDeclare,
	} {
		if actions[path] != want {
			t.Errorf("%s: action %q, want %q", path, actions[path], want)
		}
	}
	if got.Scope != scopeAll || !slices.Equal(got.Regions, []string{tRegion}) {
		t.Errorf("scope %q regions %q", got.Scope, got.Regions)
	}

	// Without --created and --deleted, the same resources are declared, nothing imported or
	// removed: runnet cannot tell on its own what it created or deleted.
	r = er.Run(t, false, "", "export", "--all", "--as", "terraform")
	if r.Code != 0 || strings.Contains(r.Stdout, "import {") || strings.Contains(r.Stdout, "removed {") || !strings.Contains(r.Stdout, `resource "google_compute_subnetwork" "run_direct_2"`) {
		t.Errorf("plain --all: exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// --created must name a resource that exists, --deleted one that does not: bad input (exit
// 2) otherwise, and nothing printed.
func TestExportCreatedDeletedChecked(t *testing.T) {
	er := newEmu(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--created", "connector/ghost"}, "--created connector/ghost: connector does not exist in project demo-project, region asia-northeast1"},
		{[]string{"--created", "subnet/ghost"}, "--created subnet/ghost: subnet does not exist"},
		{[]string{"--deleted", "connector/run-connector"}, "--deleted connector/run-connector: " + tConn + " exists; --deleted is for a connector that runnet deleted"},
		{[]string{"--deleted", "subnet/run-direct-vpc-egress"}, "--deleted subnet/run-direct-vpc-egress: projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress exists"},
	} {
		r := er.Run(t, false, "", append([]string{"export", "run-service", "--as", "terraform"}, c.args...)...)
		if r.Code != exitcode.Usage || r.Stdout != "" || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, r.Code, r.Stdout, r.Stderr, c.want)
		}
	}
	// An unused connector named by --created joins the export, with its import block.
	if r := er.Run(t, false, "", "connector", "create", "spare", "--network", "run-vpc", "--range", "10.16.0.0/28"); r.Code != 0 {
		t.Fatalf("connector create: %s", r.Stderr)
	}
	r := er.Run(t, false, "", "export", "run-service", "--as", "terraform", "--created", "connector/spare", "--deleted", "subnet/gone")
	if r.Code != 0 || !strings.Contains(r.Stdout, `resource "google_vpc_access_connector" "spare"`) || !strings.Contains(r.Stdout, "to = google_vpc_access_connector.spare") ||
		!strings.Contains(r.Stdout, "from = google_compute_subnetwork.gone") {
		t.Errorf("exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// What a hand-off cannot declare is said in a comment and in notes: a connector that
// workloads name but that is gone.
func TestExportMissingConnector(t *testing.T) {
	er := newEmu(t)
	if r := er.Run(t, false, "", "connector", "delete", "run-connector", "--force", "--yes"); r.Code != 0 {
		t.Fatalf("connector delete: exit %d: %s", r.Code, r.Stderr)
	}
	r := er.Run(t, false, "", "export", "run-service", "--as", "terraform", "--format", "json")
	var got ExportResult
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("exit %d: %v: %s %s", r.Code, err, r.Stdout, r.Stderr)
	}
	want := "connector " + tConn + ", used by run-service, does not exist: it is not declared (the next deploy of its users fails until they move)."
	if !slices.Equal(got.Notes, []string{want}) || !strings.Contains(got.Snippet, "\n# - connector "+tConn+", used by\n#   run-service, does not exist") {
		t.Errorf("notes %q; snippet:\n%s", got.Notes, got.Snippet)
	}
	if len(got.Resources) != 1 || got.Resources[0].Kind != iac.KindWorkload {
		t.Errorf("resources %+v, want the service alone", got.Resources)
	}
}

// An inventory that cannot be read completely exports nothing (exit 1).
func TestExportAllIncomplete(t *testing.T) {
	er := newEmu(t)
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.vpcaccess.v1.VpcAccessService/ListConnectors", Code: codes.PermissionDenied})
	r := er.Run(t, false, "", "export", "--all", "--as", "terraform")
	if r.Code != exitcode.Failure || r.Stdout != "" || !strings.Contains(r.Stderr, "the inventory is incomplete, so nothing is exported: asia-northeast1: connectors (PERMISSION_DENIED)") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
}

// docs/permissions.md's row for export names what export --connector and --all call too
// (TestPermissionsDocumented runs export WORKLOAD).
func TestExportPermissionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/permissions.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `runnet export`") {
			row = line
		}
	}
	er := newEmu(t)
	for _, args := range [][]string{
		{"export", "run-service", "--as", "terraform", "--created", "connector/run-connector", "--deleted", "subnet/gone"},
		{"export", "--connector", "run-connector", "--as", "terraform"},
		{"export", "--all", "--regions", "all", "--as", "terraform"},
	} {
		er.E.ResetCalls()
		if r := er.Run(t, false, "", args...); r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
		for m := range er.E.Calls() {
			p, ok := methodPermissions[m]
			if !ok {
				t.Errorf("%v calls %s, which methodPermissions does not know", args, m)
				continue
			}
			if p == "" {
				continue
			}
			if !slices.ContainsFunc(strings.Split(p, "|"), func(p string) bool { return strings.Contains(row, "`"+p+"`") }) {
				t.Errorf("docs/permissions.md: the row of runnet export lacks %s (called by %v)", p, args)
			}
		}
	}
}

// describedSubnet is a subnet with the methods export looks for.
type describedSubnet struct{ description, stack, ipv6 string }

func (d describedSubnet) GetDescription() string    { return d.description }
func (d describedSubnet) GetStackType() string      { return d.stack }
func (d describedSubnet) GetIPv6AccessType() string { return d.ipv6 }

// A subnet whose description the cloud layer reads gets it in the code; one without a
// GetDescription method is unknown, and the code says so.
func TestExportSubnetDescription(t *testing.T) {
	if d, unknown := subnetDescription(describedSubnet{description: "made by runnet"}); d != "made by runnet" || unknown {
		t.Errorf("subnetDescription = %q, %v", d, unknown)
	}
	if d, unknown := subnetDescription(describedSubnet{}); d != "" || unknown {
		t.Errorf("empty description: %q, unknown %v; want known to be empty", d, unknown)
	}
	if d, unknown := subnetDescription(&cloud.Subnet{Description: "d"}); d != "d" || unknown {
		t.Errorf("cloud.Subnet: %q, unknown %v; want its description, known", d, unknown)
	}
	if _, unknown := subnetDescription(struct{}{}); !unknown {
		t.Error("a subnet without GetDescription is known")
	}
	if st, v6 := subnetStack(describedSubnet{stack: "IPV4_IPV6", ipv6: "INTERNAL"}); st != "IPV4_IPV6" || v6 != "INTERNAL" {
		t.Errorf("subnetStack = %q, %q", st, v6)
	}
}

// A subnet made outside runnet with a description (say, by the user's Terraform) is exported
// with it in every format: the description can only be set at creation, so code that leaves it
// out would make the provider replace the subnet the workloads run in.
func TestExportSubnetDescriptionEndToEnd(t *testing.T) {
	er := newEmu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := compute.NewService(ctx, emulator.ComputeClientOptions(er.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	const desc = `Direct VPC egress for "run-service"`
	op, err := cs.Subnetworks.Insert(tProject, tRegion, &compute.Subnetwork{
		Name: "described", Network: "projects/" + tProject + "/global/networks/run-vpc", IpCidrRange: "10.30.0.0/24", Description: desc,
	}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RegionOperations.Wait(tProject, tRegion, op.Name).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if r := er.Run(t, false, "", "attach", "run-service", "--network", "run-vpc", "--subnet", "described", "--yes"); r.Code != 0 {
		t.Fatalf("attach: exit %d: %s", r.Code, r.Stderr)
	}
	for f, want := range map[iac.Format]string{
		iac.Terraform:  `  description              = "Direct VPC egress for \"run-service\""` + "\n",
		iac.PulumiYAML: `description: "Direct VPC egress for \"run-service\""` + "\n",
		iac.Gcloud:     `--description='Direct VPC egress for "run-service"'`,
	} {
		r := er.Run(t, false, "", "export", "run-service", "--as", string(f), "--created", "subnet/described")
		if r.Code != 0 {
			t.Fatalf("export --as %s: exit %d: %s", f, r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stdout, want) || strings.Contains(r.Stdout, "could not read its description") {
			t.Errorf("export --as %s: want %q and no unknown description:\n%s", f, want, r.Stdout)
		}
		if f == iac.Terraform {
			exportTerraformFmt(t, map[string]string{"described": r.Stdout})
		}
	}
}

// exportTerraformFmt runs `terraform fmt -check` on each text, where terraform is installed.
func exportTerraformFmt(t *testing.T, texts map[string]string) {
	t.Helper()
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Log("terraform is not installed: terraform fmt -check not run")
		return
	}
	for name, text := range texts {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, tf, "fmt", "-check", "-diff", "-no-color", "-")
		cmd.Stdin = strings.NewReader(text)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s: terraform fmt -check: %v\n%s", name, err, out)
		}
	}
}

// attach and detach end with one line saying how to carry the change into IaC; --quiet drops it.
func TestAttachPrintsIaCHint(t *testing.T) {
	er := newEmu(t)
	const hint = "Update your infrastructure code to match: runnet export run-service --as terraform (or --as pulumi-yaml, gcloud).\n"
	r := er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress")
	if r.Code != 0 || !strings.HasSuffix(r.Stderr, hint) {
		t.Errorf("attach: exit %d, stderr %q; want it to end with %q", r.Code, r.Stderr, hint)
	}
	// No change: no hint.
	r = er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress")
	if r.Code != 0 || strings.Contains(r.Stderr, "infrastructure code") {
		t.Errorf("no-op attach: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "detach", "run-service", "--yes", "--quiet")
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("detach --quiet: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "attach", "job/nightly-export", "--subnet", "run-direct-vpc-egress", "--async", "--project", tProject)
	if want := "runnet export projects/demo-project/locations/asia-northeast1/jobs/nightly-export --as terraform"; r.Code != 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("attach --async --project: exit %d, stderr %q; want %q", r.Code, r.Stderr, want)
	}
}

func TestIaCHint(t *testing.T) {
	ref := egress.WorkloadRef{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: "nightly-export"}
	mk := func(opts GlobalOptions, env ...string) *Factory {
		streams, _, _, _ := iostreams.Test()
		f := NewFactory(streams, harness.Hermetic(t, env...))
		f.Options = opts
		return f
	}
	for _, c := range []struct {
		name string
		f    *Factory
		want string
	}{
		{"defaults from the environment", mk(GlobalOptions{}, "CLOUDSDK_CORE_PROJECT", tProject, "CLOUDSDK_RUN_REGION", tRegion), "runnet export job/nightly-export --as terraform"},
		{"other default region", mk(GlobalOptions{}, "CLOUDSDK_CORE_PROJECT", tProject, "CLOUDSDK_RUN_REGION", "us-central1"), "runnet export projects/demo-project/locations/asia-northeast1/jobs/nightly-export --as terraform"},
		{"no defaults", mk(GlobalOptions{}), "runnet export projects/demo-project/locations/asia-northeast1/jobs/nightly-export --as terraform"},
		{"--region flag", mk(GlobalOptions{Region: tRegion}, "CLOUDSDK_CORE_PROJECT", tProject), "runnet export projects/demo-project/locations/asia-northeast1/jobs/nightly-export --as terraform"},
		{"embedded emulator", mk(GlobalOptions{Emulator: true}), "runnet --emulator export job/nightly-export --as terraform"},
	} {
		if got := IaCHint(c.f, ref); got != c.want {
			t.Errorf("%s: IaCHint = %q, want %q", c.name, got, c.want)
		}
	}
}

// With several regions a short --created or --deleted name is refused and the error asks for
// the full name: the full name on its own is taken, its kind read from its path.
func TestExportAllRegionsFullNames(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "export", "--all", "--regions", "all", "--as", "terraform", "--created", "subnet/run-direct-vpc-egress")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "give the full name (projects/P/locations/R/connectors/NAME or projects/P/regions/R/subnetworks/NAME)") {
		t.Fatalf("short name: exit %d: %s", r.Code, r.Stderr)
	}
	subnet := "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress"
	r = er.Run(t, false, "", "export", "--all", "--regions", "all", "--as", "terraform",
		"--created", subnet, "--deleted", "projects/demo-project/locations/asia-northeast1/connectors/gone")
	if r.Code != 0 || !strings.Contains(r.Stdout, "to = google_compute_subnetwork.run_direct_vpc_egress\n  id = \""+subnet+"\"") ||
		!strings.Contains(r.Stdout, "from = google_vpc_access_connector.gone") {
		t.Fatalf("full names: exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = er.Run(t, false, "", "export", "run-service", "--as", "terraform", "--created", "projects/demo-project/global/networks/run-vpc")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "is not connector/NAME or subnet/NAME") {
		t.Errorf("a network: exit %d: %s", r.Code, r.Stderr)
	}
}
