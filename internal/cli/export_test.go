package cli

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iac"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/export")

func TestExportFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantAs  iac.Format
		wantRef string
		wantErr string // a usage error matching this, when set
	}{
		{name: "terraform", args: []string{"run-service", "--as", "terraform"}, wantAs: iac.Terraform, wantRef: "run-service"},
		{name: "alias", args: []string{"job/nightly-export", "--as", "TF"}, wantAs: iac.Terraform, wantRef: "job/nightly-export"},
		{name: "pulumi", args: []string{"workerpool/queue-worker", "--as", "pulumi-yaml"}, wantAs: iac.PulumiYAML, wantRef: "workerpool/queue-worker"},
		{name: "full name", args: []string{"projects/other-project/locations/us-central1/jobs/j", "--as", "gcloud"}, wantAs: iac.Gcloud, wantRef: "job/j"},
		{name: "no --as", args: []string{"run-service"}, wantErr: "--as is required: terraform, pulumi-yaml, gcloud"},
		{name: "bad --as", args: []string{"run-service", "--as", "cdk"}, wantErr: `--as: unknown format "cdk" (valid: terraform, pulumi-yaml, gcloud)`},
		{name: "empty --as", args: []string{"run-service", "--as", ""}, wantErr: "--as: empty format"},
		{name: "no workload", args: []string{"--as", "terraform"}, wantErr: "WORKLOAD is required"},
		{name: "two workloads", args: []string{"a", "b", "--as", "terraform"}, wantErr: "one WORKLOAD at a time"},
		{name: "bad workload", args: []string{"Bad_Name", "--as", "terraform"}, wantErr: `WORKLOAD: invalid workload "Bad_Name"`},
		{name: "bad kind", args: []string{"cronjob/x", "--as", "terraform"}, wantErr: `unknown kind "cronjob"`},
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
			if got.format != tt.wantAs || got.ref.String() != tt.wantRef {
				t.Errorf("format %q ref %q, want %q %q", got.format, got.ref, tt.wantAs, tt.wantRef)
			}
		})
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
		"kind": "service", "name": "run-service", "project": tProject, "region": tRegion,
		"mode": "connector", "as": "pulumi-yaml", "resource": "gcp:cloudrunv2:Service",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if s, _ := got["snippet"].(string); !strings.Contains(s, "vpcAccess:\n          connector: "+tConn) {
		t.Errorf("snippet = %q", s)
	}
	if len(got) != len(want)+1 {
		t.Errorf("fields = %v, want exactly %v and snippet", got, want)
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
