package cli

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
)

func TestStatusArgs(t *testing.T) {
	var got *StatusOptions
	mk := func(f *Factory) *cobra.Command {
		return NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { got = o; return nil })
	}
	r := runStubbed(t, "status", mk, "status", "run-service", "job/nightly-export", "run-service", "projects/p-123456/locations/us-east1/workerPools/q")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
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
	if r.Code != 0 || got.project != tProject || got.region != tRegion || len(got.refs) != 0 {
		t.Errorf("no args: exit %d, %+v", r.Code, got)
	}

	for _, args := range [][]string{{"status", "UPPER"}, {"status", "job/"}, {"status", "a/b/c"}} {
		got = nil
		r := runStubbed(t, "status", mk, args...)
		if r.Code != exitcode.Usage || got != nil || !strings.HasPrefix(r.Stderr, "Error: WORKLOAD: invalid workload") {
			t.Errorf("%q: exit %d, stderr %q", args, r.Code, r.Stderr)
		}
	}
}

// Without a project or region, short names are a usage error that says how to set them; full
// names need neither.
func TestStatusProjectAndRegion(t *testing.T) {
	run := func(env []string, args ...string) (result, *StatusOptions) {
		var got *StatusOptions
		streams, _, out, errOut := iostreams.Test()
		f := NewFactory(streams, harness.Hermetic(t, env...))
		root := NewRootCmd(f)
		for _, c := range root.Commands() {
			if c.Name() == "status" {
				root.RemoveCommand(c)
			}
		}
		root.AddCommand(NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { got = o; return nil }))
		code := execute(context.Background(), f, root, args)
		return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}, got
	}
	r, _ := run(nil, "status", "run-service")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "no project: pass --project") {
		t.Errorf("no project: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r, _ = run([]string{"CLOUDSDK_CORE_PROJECT", tProject}, "status")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "region") {
		t.Errorf("no region: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r, got := run(nil, "status", "projects/demo-project/locations/asia-northeast1/jobs/nightly-export")
	if r.Code != 0 || len(got.refs) != 1 || got.refs[0].Kind != egress.KindJob {
		t.Errorf("full name: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r, got = run(nil, "status", "--project", tProject, "--region", "us-central1", "job/x")
	if r.Code != 0 || got.refs[0].Region != "us-central1" {
		t.Errorf("flags: exit %d, stderr %q", r.Code, r.Stderr)
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
			s := NewWorkloadStatus(&tt.w, nil)
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
		"condition", "maxInstances", "template", "templateDiffers", "trafficPinned", "serving", "migration"}
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "x"}
	plain, err := json.Marshal(NewWorkloadStatus(&cloud.Workload{Workload: egress.Workload{Ref: ref}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), `"migration"`) {
		t.Errorf("migration shown without a journal: %s", plain)
	}
	b, err := json.Marshal(NewWorkloadStatus(journaled(t, ref, testJournal(ref, time.Now(), time.Hour)), nil))
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		Migration map[string]json.RawMessage `json:"migration"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"who", "pid", "started", "updated", "expires", "phase", "step", "steps", "stepKind", "toMode", "stale", "resume"} {
		if _, ok := obj.Migration[k]; !ok {
			t.Errorf("migration has no %q: %s", k, b)
		}
		if !strings.Contains(statusLong, k) {
			t.Errorf("migration field %s is not documented in status's help", k)
		}
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

// testJournal is a journal of a migration of ref to Direct VPC egress at its third of six
// steps, started an hour before now, with the given lease left.
func testJournal(ref egress.WorkloadRef, now time.Time, left time.Duration) *egress.Journal {
	steps := []egress.JournalStep{
		{Kind: egress.StepCreateSubnet, Resource: "projects/demo-project/regions/asia-northeast1/subnetworks/s", Status: egress.StepDone},
		{Kind: egress.StepDeployRevision, Tag: "runnet-direct", Status: egress.StepDone},
		{Kind: egress.StepVerify, Status: egress.StepPending},
		{Kind: egress.StepShiftTraffic, Percent: 10, Status: egress.StepPending},
		{Kind: egress.StepShiftTraffic, Percent: 100, Status: egress.StepPending},
		{Kind: egress.StepDeleteConnector, Resource: "projects/demo-project/locations/asia-northeast1/connectors/c", Status: egress.StepPending},
	}
	return &egress.Journal{Version: egress.JournalVersion, ID: "run-1", Who: "alice@host", PID: 0,
		Started: now.Add(-time.Hour), Updated: now.Add(-time.Minute), Expires: now.Add(left), Phase: egress.PhaseMigrating, Step: 2,
		Summary: "migrate", Workload: ref, Original: egress.Original{VPC: egress.VPC{Connector: "c"}},
		To: egress.VPC{Network: "n", Subnet: "s"}, Steps: steps}
}

// journaled is a workload ref that carries j as its journal annotation (a raw journal value
// when j is a string).
func journaled(t *testing.T, ref egress.WorkloadRef, j any) *cloud.Workload {
	t.Helper()
	v, ok := j.(string)
	if !ok {
		var err error
		if v, err = j.(*egress.Journal).Encode(); err != nil {
			t.Fatal(err)
		}
	}
	var raw proto.Message
	ann := map[string]string{egress.JournalAnnotation: v}
	switch ref.Kind {
	case egress.KindJob:
		raw = &runpb.Job{Annotations: ann}
	default:
		raw = &runpb.Service{Annotations: ann}
	}
	return &cloud.Workload{Workload: egress.Workload{Ref: ref, VPC: egress.VPC{Connector: "c"}, LatestReady: "r1", LatestCreated: "r1"},
		Raw: raw, Terminal: cloud.Condition{Type: "Ready", State: cloud.ConditionSucceeded}}
}

// A migration in progress shows in the STATUS column and as the migration object: live,
// stale (with the command that takes it over), rolling back, and unreadable.
func TestWorkloadStatusMigration(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	svc := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "run-service"}
	job := egress.WorkloadRef{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: "nightly"}
	rollingBack := testJournal(job, now, -time.Minute)
	rollingBack.Phase = egress.PhaseRollingBack
	rollingBack.Step = 5
	tests := []struct {
		name   string
		w      *cloud.Workload
		status string
		stale  bool
		resume string
	}{
		{"live", journaled(t, svc, testJournal(svc, now, 10*time.Minute)), "migrating (step 3/6, by alice@host)", false, ""},
		{"stale", journaled(t, svc, testJournal(svc, now, -time.Second)),
			"migrating (step 3/6, by alice@host), stale: run 'runnet migrate --resume run-service'", true, "runnet migrate --resume run-service"},
		{"rolling back, stale job", journaled(t, job, rollingBack),
			"rolling back (step 6/6, by alice@host), stale: run 'runnet migrate --resume job/nightly'", true, "runnet migrate --resume job/nightly"},
		{"unreadable", journaled(t, svc, "{not json"),
			"locked by an unreadable migration journal; run 'runnet migrate --resume run-service --break-lock'", true, "runnet migrate --resume run-service --break-lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newWorkloadStatusAt(tt.w, nil, now)
			_, rows := s.Table()
			if got := rows[0][7]; got != tt.status {
				t.Errorf("STATUS = %q, want %q", got, tt.status)
			}
			m := s.Migration
			if m == nil || m.Stale != tt.stale || m.Resume != tt.resume {
				t.Fatalf("migration = %+v", m)
			}
			if tt.name == "unreadable" {
				if !strings.Contains(m.Error, "unreadable migration journal") || m.Who != "" {
					t.Errorf("migration = %+v", m)
				}
				return
			}
			if m.Who != "alice@host" || !m.Started.Equal(now.Add(-time.Hour)) || m.Steps != 6 || m.ToMode != "direct" || m.Error != "" {
				t.Errorf("migration = %+v", m)
			}
		})
	}
	s := newWorkloadStatusAt(journaled(t, svc, testJournal(svc, now, time.Minute)), nil, now)
	if s.Migration.Step != 3 || s.Migration.StepKind != "verify" || s.Migration.Phase != "migrating" {
		t.Errorf("migration = %+v", s.Migration)
	}
}

// status --format json through the emulator: a journal written on run-service (as another
// runnet would) shows as its migration; the job, without one, has none.
func TestStatusMigrationEmulator(t *testing.T) {
	er := newEmu(t)
	j := putJournal(t, er, -time.Minute)
	r := er.Run(t, false, "", "status", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var got []WorkloadStatus
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	byName := map[string]WorkloadStatus{}
	for _, s := range got {
		byName[s.Name] = s
	}
	m := byName["run-service"].Migration
	if m == nil || m.Who != "bob@laptop" || !m.Started.Equal(j.Started) || m.Step != 1 || m.Steps != 3 || m.StepKind != "deploy-revision" ||
		m.ToMode != "direct" || m.Phase != "migrating" || !m.Stale || m.Resume != "runnet migrate --resume run-service" {
		t.Errorf("run-service migration = %+v\n%s", m, r.Stdout)
	}
	if byName["nightly-export"].Migration != nil || strings.Count(r.Stdout, `"migration"`) != 1 {
		t.Errorf("nightly-export shows a migration:\n%s", r.Stdout)
	}
	r = er.Run(t, false, "", "status", "run-service", "--format", "table")
	if r.Code != 0 || !strings.Contains(r.Stdout, "migrating (step 1/3, by bob@laptop), stale: run 'runnet migrate --resume run-service'") {
		t.Errorf("table: exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
