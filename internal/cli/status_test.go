package cli

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
)

func TestStatusArgs(t *testing.T) {
	var got *StatusOptions
	mk := func(f *Factory) *cobra.Command {
		return NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { got = o; return nil })
	}
	r := runStubbed(t, "status", mk, "status", "run-service", "job/nightly-export", "run-service", "projects/p-123456/locations/us-east1/workerPools/q")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var refs []string
	for _, ref := range got.refs {
		refs = append(refs, ref.FullName())
	}
	want := []string{
		"projects/demo-project/locations/asia-northeast1/services/run-service",
		"projects/demo-project/locations/asia-northeast1/jobs/nightly-export",
		"projects/p-123456/locations/us-east1/workerPools/q",
	}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("refs = %q, want %q (duplicates dropped, order kept)", refs, want)
	}

	got = nil
	r = runStubbed(t, "status", mk, "status")
	if r.code != 0 || got.project != tProject || got.region != tRegion || len(got.refs) != 0 {
		t.Errorf("no args: exit %d, %+v", r.code, got)
	}

	for _, args := range [][]string{{"status", "UPPER"}, {"status", "job/"}, {"status", "a/b/c"}} {
		got = nil
		r := runStubbed(t, "status", mk, args...)
		if r.code != exitcode.Usage || got != nil || !strings.HasPrefix(r.stderr, "Error: WORKLOAD: invalid workload") {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// Without a project or region, short names are a usage error that says how to set them; full
// names need neither.
func TestStatusProjectAndRegion(t *testing.T) {
	run := func(env []string, args ...string) (result, *StatusOptions) {
		var got *StatusOptions
		streams, _, out, errOut := iostreams.Test()
		f := NewFactory(streams, testEnv(t, env...))
		root := NewRootCmd(f)
		for _, c := range root.Commands() {
			if c.Name() == "status" {
				root.RemoveCommand(c)
			}
		}
		root.AddCommand(NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { got = o; return nil }))
		code := execute(context.Background(), f, root, args)
		return result{code, out.String(), errOut.String(), f}, got
	}
	r, _ := run(nil, "status", "run-service")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "no project: pass --project") {
		t.Errorf("no project: exit %d, stderr %q", r.code, r.stderr)
	}
	r, _ = run([]string{"CLOUDSDK_CORE_PROJECT", tProject}, "status")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "region") {
		t.Errorf("no region: exit %d, stderr %q", r.code, r.stderr)
	}
	r, got := run(nil, "status", "projects/demo-project/locations/asia-northeast1/jobs/nightly-export")
	if r.code != 0 || len(got.refs) != 1 || got.refs[0].Kind != egress.KindJob {
		t.Errorf("full name: exit %d, stderr %q", r.code, r.stderr)
	}
	r, got = run(nil, "status", "--project", tProject, "--region", "us-central1", "job/x")
	if r.code != 0 || got.refs[0].Region != "us-central1" {
		t.Errorf("flags: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestWorkloadStatus(t *testing.T) {
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "run-service"}
	tests := []struct {
		name   string
		w      cloud.Workload
		row    []string
		mode   string
		egress string
	}{
		{"connector, ready",
			cloud.Workload{Workload: egress.Workload{Ref: ref, VPC: egress.VPC{Connector: "run-connector"}, MaxInstances: 10, LatestReady: "r1", LatestCreated: "r1"},
				Terminal: cloud.Condition{Type: "Ready", State: cloud.ConditionSucceeded}},
			[]string{"service", "run-service", "connector", "run-connector", "private-ranges-only", "r1", "10", "ready"}, "connector", "private-ranges-only"},
		{"direct with tags, rolling out",
			cloud.Workload{Workload: egress.Workload{Ref: ref, VPC: egress.VPC{Network: "run-vpc", Subnet: "s", Tags: []string{"b", "a"}, Egress: egress.EgressAllTraffic},
				LatestReady: "r1", LatestCreated: "r2", Reconciling: true}, Terminal: cloud.Condition{Type: "Ready", State: cloud.ConditionPending}},
			[]string{"service", "run-service", "direct", "run-vpc/s tags:a,b", "all-traffic", "r1 (latest created: r2)", "-", "rolling out r2"}, "direct", "all-traffic"},
		{"none, failed",
			cloud.Workload{Workload: egress.Workload{Ref: ref, LatestReady: "r1", LatestCreated: "r2"},
				Terminal: cloud.Condition{Type: "Ready", State: cloud.ConditionFailed, Message: "Revision 'r2' is not ready"}},
			[]string{"service", "run-service", "none", "-", "-", "r1 (latest created: r2)", "-", "failed: Revision 'r2' is not ready"}, "none", ""},
		{"job updating",
			cloud.Workload{Workload: egress.Workload{Ref: egress.WorkloadRef{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: "j"}, Reconciling: true, MaxInstances: 3}},
			[]string{"job", "j", "none", "-", "-", "-", "3", "updating"}, "none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewWorkloadStatus(&tt.w)
			_, rows := s.Table()
			if len(rows) != 1 || !reflect.DeepEqual(rows[0], tt.row) {
				t.Errorf("row = %q, want %q", rows, tt.row)
			}
			if s.Mode != tt.mode || s.Egress != tt.egress || s.NetworkTags == nil {
				t.Errorf("status = %+v", s)
			}
		})
	}
	headers, rows := WorkloadStatus{}.Table()
	if len(headers) != 8 || rows != nil {
		t.Errorf("zero value: %q, %q", headers, rows)
	}
}

// The JSON field names are a documented contract: exactly these, in this order, and each
// documented in the command's help.
func TestWorkloadStatusJSONContract(t *testing.T) {
	want := []string{"kind", "name", "project", "region", "mode", "connector", "network", "subnet", "networkTags",
		"egress", "latestReadyRevision", "latestCreatedRevision", "revisionsDiffer", "reconciling", "rollout",
		"condition", "maxInstances"}
	b, err := json.Marshal(NewWorkloadStatus(&cloud.Workload{Workload: egress.Workload{Ref: egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "x"}}}))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 && dec.More() {
				keys = append(keys, v)
				// skip the value
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("JSON keys = %q, want %q", keys, want)
	}
	for _, k := range want {
		if !strings.Contains(statusLong, "  "+k) && !strings.Contains(statusLong, k+",") && !strings.Contains(statusLong, ", "+k) {
			t.Errorf("field %s is not documented in status's help", k)
		}
	}
}
