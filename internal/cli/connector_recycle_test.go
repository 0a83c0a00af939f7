package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

func TestDefaultRecycleName(t *testing.T) {
	for _, tc := range []struct{ old, want string }{
		{"run-connector", "run-connector-2"},
		{"run-connector-2", "run-connector-3"},
		{"conn-9", "conn-10"},
		{"conn-09", "conn-09-2"}, // not a counter runnet would have made
		{"c-0", "c-0-2"},
		{"ab", "ab-2"},
		{"a-1", "a-2"},
		{"abcdefghijklmnopqrstuvwxy", "abcdefghijklmnopqrstuvw-2"}, // 25 characters
		{"abcdefghijklmnopqrstuv-wx", "abcdefghijklmnopqrstuv-2"},  // trailing "-" trimmed
		{"abcdefghijklmnopqrstu-999", "abcdefghijklmnopqrst-1000"}, // the counter goes on
	} {
		got := defaultRecycleName(tc.old)
		if got != tc.want {
			t.Errorf("defaultRecycleName(%q) = %q, want %q", tc.old, got, tc.want)
		}
		if err := egress.ValidateConnectorName(got); err != nil {
			t.Errorf("defaultRecycleName(%q) = %q: %v", tc.old, got, err)
		}
	}
}

// Every input that can be checked without the API is, naming the flag (exit 2); valid
// flags parse as expected.
func TestConnectorRecycleFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(t *testing.T, o *ConnectorRecycleOptions)
	}{
		{args: []string{}, wantErr: "accepts 1 arg"},
		{args: []string{"Bad_Name", "--yes"}, wantErr: "invalid connector"},
		{args: []string{"run-connector", "--new-name", "run-connector", "--yes"}, wantErr: "--new-name: run-connector is the connector being recycled"},
		{args: []string{"run-connector", "--new-name", "X", "--yes"}, wantErr: "--new-name: invalid connector"},
		{args: []string{"run-connector", "--new-name", "this-name-is-far-too-long-for-a-connector", "--yes"}, wantErr: "--new-name:"},
		{args: []string{"run-connector", "--new-name", "projects/p/locations/r/connectors/c", "--yes"}, wantErr: "--new-name: give the new connector's NAME only"},
		{args: []string{"run-connector", "--range", "10.8.1.0/27", "--yes"}, wantErr: "--range:"},
		{args: []string{"run-connector", "--range", "10.8.1.1/28", "--yes"}, wantErr: "--range:"},
		{args: []string{"run-connector", "--range", "8.8.8.0/28", "--yes"}, wantErr: "--range:"},
		{args: []string{"run-connector", "--subnet", "Bad", "--yes"}, wantErr: "--subnet: invalid subnetwork"},
		{args: []string{"run-connector", "--subnet", "projects/other-project/regions/us-east1/subnetworks/s", "--yes"}, wantErr: "--subnet: projects/other-project/regions/us-east1/subnetworks/s is in region us-east1"},
		{args: []string{"run-connector", "--subnet", "s", "--range", "10.8.1.0/28", "--yes"}, wantErr: "add --create-subnet"},
		{args: []string{"run-connector", "--min-instances", "1", "--yes"}, wantErr: "--min-instances: 1 is out of range"},
		{args: []string{"run-connector", "--min-instances", "10", "--yes"}, wantErr: "--min-instances: 10 is out of range"},
		{args: []string{"run-connector", "--max-instances", "2", "--yes"}, wantErr: "--max-instances: 2 is out of range"},
		{args: []string{"run-connector", "--max-instances", "11", "--yes"}, wantErr: "--max-instances: 11 is out of range"},
		{args: []string{"run-connector", "--min-instances", "5", "--max-instances", "5", "--yes"}, wantErr: "--max-instances: 5 must be greater than --min-instances (5)"},
		{args: []string{"run-connector", "--machine-type", "n1-standard-1", "--yes"}, wantErr: `--machine-type: "n1-standard-1" is not a connector machine type`},
		{args: []string{"run-connector", "--concurrency", "0", "--yes"}, wantErr: "--concurrency: 0 is out of range"},
		{args: []string{"run-connector", "--force", "nope", "--yes"}, wantErr: `--force "nope": unknown check`},
		{args: []string{"run-connector"}, wantErr: "pass --yes"},
		{args: []string{"run-connector", "--async", "--yes"}, wantErr: "unknown flag: --async"},
		// Valid.
		{args: []string{"run-connector", "--dry-run"}, check: func(t *testing.T, o *ConnectorRecycleOptions) {
			if o.old.FullName() != tConn || o.newRef.Name != "run-connector-2" || o.rangeCIDR.IsValid() || o.subnetName != "" {
				t.Errorf("parsed %+v", o)
			}
		}},
		{args: []string{"run-connector", "--new-name", "fresh", "--range", "10.8.1.0/28", "--max-instances", "3", "--machine-type", "f1-micro", "--yes"},
			check: func(t *testing.T, o *ConnectorRecycleOptions) {
				if o.newRef.FullName() != "projects/demo-project/locations/asia-northeast1/connectors/fresh" || o.rangeCIDR.String() != "10.8.1.0/28" ||
					!o.set["max-instances"] || o.set["min-instances"] || o.MaxInstances != 3 || o.MachineType != "f1-micro" {
					t.Errorf("parsed %+v", o)
				}
			}},
		{args: []string{"projects/demo-project/locations/asia-northeast1/connectors/c-7", "--create-subnet", "--subnet", "projects/host-project/regions/asia-northeast1/subnetworks/c8", "--range", "auto", "--yes"},
			check: func(t *testing.T, o *ConnectorRecycleOptions) {
				if o.newRef.Name != "c-8" || !o.CreateSubnet || o.subnetName != "c8" || o.subnetProj != "host-project" || o.rangeCIDR.IsValid() {
					t.Errorf("parsed %+v", o)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *ConnectorRecycleOptions
			r := runStubbed(t, "recycle", func(f *Factory) *cobra.Command {
				return NewCmdConnectorRecycle(f, func(_ context.Context, o *ConnectorRecycleOptions) error { got = o; return nil })
			}, append([]string{"recycle"}, tc.args...)...)
			if tc.wantErr == "" {
				if r.Code != 0 || got == nil {
					t.Fatalf("exit %d: %s", r.Code, r.Stderr)
				}
				tc.check(t, got)
				return
			}
			if r.Code != exitcode.Usage || got != nil {
				t.Fatalf("exit %d (ran: %v), want 2; stderr %q", r.Code, got != nil, r.Stderr)
			}
			if !strings.Contains(r.Stderr, tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", r.Stderr, tc.wantErr)
			}
		})
	}
}

func TestConnectorRecycleHelpDocumentsContract(t *testing.T) {
	cmd := NewCmdConnectorRecycle(NewFactory(nil, nil), nil)
	for _, field := range []string{"old, new", "subnet", "workloads[]", "summary", "dryRun, notes[], durationSeconds", "created, reused, planned", "deleted, kept, planned, gone"} {
		if !strings.Contains(cmd.Long, field) {
			t.Errorf("help does not document %q", field)
		}
	}
}

// runRecycle runs `runnet connector recycle ARGS` in process, with obs receiving every
// executor event.
func runRecycle(t *testing.T, er *emuRun, obs egress.Observer, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, er.Addr))
	root := NewRootCmd(f)
	for _, c := range root.Commands() {
		if c.Name() != "connector" {
			continue
		}
		for _, sub := range c.Commands() {
			if sub.Name() == "recycle" {
				c.RemoveCommand(sub)
			}
		}
		c.AddCommand(NewCmdConnectorRecycle(f, func(ctx context.Context, o *ConnectorRecycleOptions) error {
			o.observer = obs
			return o.run(ctx)
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := execute(ctx, f, root, append([]string{"connector", "recycle"}, args...))
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

func decodeRecycle(t *testing.T, r result) RecycleReport {
	t.Helper()
	var rep RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode report: %v\nstdout: %s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	return rep
}

// trafficWatch samples, until stopped, where a service's traffic goes and whether each
// revision serving it is Ready, straight from the Run API.
type trafficWatch struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples int
	bad     []string
}

func watchTraffic(t *testing.T, c *cloud.Clients, service string) *trafficWatch {
	t.Helper()
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	revs, err := c.Revisions()
	if err != nil {
		t.Fatal(err)
	}
	w := &trafficWatch{stop: make(chan struct{}), done: make(chan struct{})}
	name := "projects/" + tProject + "/locations/" + tRegion + "/services/" + service
	go func() {
		defer close(w.done)
		ctx := context.Background()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			s, err := svcs.GetService(ctx, &runpb.GetServiceRequest{Name: name})
			if err != nil {
				w.note("read service: %v", err)
				continue
			}
			total := 0
			for _, ts := range s.GetTrafficStatuses() {
				if ts.GetPercent() == 0 {
					continue
				}
				total += int(ts.GetPercent())
				rev := ts.GetRevision()
				if ts.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
					rev = s.GetLatestReadyRevision()
				}
				if !strings.Contains(rev, "/") {
					rev = name + "/revisions/" + rev
				}
				r, err := revs.GetRevision(ctx, &runpb.GetRevisionRequest{Name: rev})
				if err != nil {
					w.note("revision %s serving %d%%: %v", rev, ts.GetPercent(), err)
					continue
				}
				ready := false
				for _, cond := range r.GetConditions() {
					if cond.GetType() == "Ready" && cond.GetState() == runpb.Condition_CONDITION_SUCCEEDED {
						ready = true
					}
				}
				if !ready {
					w.note("revision %s serves %d%% but is not Ready", rev, ts.GetPercent())
				}
			}
			if total != 100 {
				w.note("traffic adds up to %d%%", total)
			}
			w.mu.Lock()
			w.samples++
			w.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

func (w *trafficWatch) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bad = append(w.bad, fmt.Sprintf(format, args...))
}

func (w *trafficWatch) finish() (int, []string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.samples, w.bad
}

// The scenario: a service and a job on a connector allowed 10 instances that scaled
// out to 7; recycling it with --max-instances 3 makes a fresh connector next to it, moves
// both (the service's traffic always on a Ready revision), and deletes the old one.
func TestConnectorRecycleEndToEnd(t *testing.T) {
	er := newEmu(t)
	c := er.Clients(t)
	if r := er.Run(t, false, "", "connector", "create", "wide", "--network", "run-vpc", "--range", "10.8.1.0/28", "--max-instances", "10"); r.Code != 0 {
		t.Fatalf("create: exit %d: %s", r.Code, r.Stderr)
	}
	if r := er.Run(t, false, "", "migrate", "run-service", "job/nightly-export", "--to", "connector", "--connector", "wide", "--yes"); r.Code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.Code, r.Stderr)
	}
	wide := "projects/demo-project/locations/asia-northeast1/connectors/wide"
	if err := er.E.ScaleConnector(wide, 7); err != nil {
		t.Fatal(err)
	}
	svcBefore, jobBefore := er.Read(t, "run-service"), er.Read(t, "job/nightly-export")

	var mu sync.Mutex
	var events []string
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind == egress.EventStepFinished {
			mu.Lock()
			events = append(events, ev.Workload.String()+":"+string(ev.Step.Kind)+":"+string(ev.Step.Status))
			mu.Unlock()
		}
		return nil
	}
	watch := watchTraffic(t, c, "run-service")
	start := time.Now()
	r := runRecycle(t, er, obs, "wide", "--max-instances", "3", "--yes", "--format", "json")
	samples, bad := watch.finish()
	t.Logf("recycle took %s; %d traffic samples", time.Since(start).Round(time.Millisecond), samples)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if samples < 5 || len(bad) > 0 {
		t.Errorf("%d samples; traffic not on a Ready revision: %q", samples, bad)
	}
	rep := decodeRecycle(t, r)
	wide2 := "projects/demo-project/locations/asia-northeast1/connectors/wide-2"
	if rep.New.FullName != wide2 || rep.New.Status != "created" || rep.New.IPCIDRRange != "10.8.1.16/28" || rep.New.Network != tNet ||
		rep.New.MinInstances != 2 || rep.New.MaxInstances != 3 || rep.New.MachineType != "e2-micro" || rep.New.State != "READY" {
		t.Errorf("new = %+v", rep.New)
	}
	if rep.Old.FullName != wide || rep.Old.Status != "deleted" || rep.Old.MaxInstances != 10 || rep.Old.IPCIDRRange != "10.8.1.0/28" {
		t.Errorf("old = %+v", rep.Old)
	}
	if rep.Summary.Total != 2 || rep.Summary.Migrated != 2 || rep.DryRun || rep.Subnet != nil {
		t.Errorf("summary %+v, dryRun %v, subnet %+v", rep.Summary, rep.DryRun, rep.Subnet)
	}
	for _, w := range rep.Workloads {
		if w.Outcome != egress.OutcomeMigrated || w.From.VPC.Connector != wide || w.To.VPC.Connector != wide2 {
			t.Errorf("%s: outcome %s, %s -> %s", w.Workload, w.Outcome, w.From.VPC.Connector, w.To.VPC.Connector)
		}
	}
	if !strings.Contains(strings.Join(events, " "), "run-service:deploy-and-shift:done") {
		t.Errorf("events %q", events)
	}

	// The API: both moved, every other field as it was, the old connector gone.
	svc, job := er.Read(t, "run-service"), er.Read(t, "job/nightly-export")
	if svc.VPC.Connector != wide2 || job.VPC.Connector != wide2 || svc.VPC.Egress != egress.EgressPrivateRangesOnly {
		t.Errorf("service %+v, job %+v", svc.VPC, job.VPC)
	}
	if svc.LatestReady == svcBefore.LatestReady {
		t.Errorf("service still on %s", svc.LatestReady)
	}
	if shares := servingShares(t, er, "run-service"); shares[svc.LatestReady] != 100 {
		t.Errorf("serving %v", shares)
	}
	assertPreserved(t, jobBefore.Raw, job.Raw)
	assertPreserved(t, svcBefore.Raw, svc.Raw)
	ctx := context.Background()
	if _, err := c.GetConnector(ctx, egress.ConnectorRef{Project: tProject, Region: tRegion, Name: "wide"}); !cloud.IsNotFound(err) {
		t.Errorf("old connector: %v, want NOT_FOUND", err)
	}
	conn, err := c.GetConnector(ctx, egress.ConnectorRef{Project: tProject, Region: tRegion, Name: "wide-2"})
	if err != nil || conn.MaxInstances != 3 || conn.State != "READY" {
		t.Errorf("new connector %+v, %v", conn, err)
	}
	if !strings.Contains(r.Stderr, "Update your infrastructure code to match: connector wide-2 replaces wide") {
		t.Errorf("stderr %q", r.Stderr)
	}

	// Again: wide is gone, wide-2 exists with those settings: nothing to do.
	er.E.ResetCalls()
	r = runRecycle(t, er, nil, "wide", "--max-instances", "3", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("rerun: exit %d: %s", r.Code, r.Stderr)
	}
	rep = decodeRecycle(t, r)
	if rep.Old.Status != "gone" || rep.New.Status != "reused" || len(rep.Workloads) != 0 {
		t.Errorf("rerun: old %+v, new %+v, %d workloads", rep.Old, rep.New, len(rep.Workloads))
	}
	for _, m := range []string{"google.cloud.vpcaccess.v1.VpcAccessService/CreateConnector", "google.cloud.vpcaccess.v1.VpcAccessService/DeleteConnector",
		"google.cloud.run.v2.Services/UpdateService", "google.cloud.run.v2.Jobs/UpdateJob"} {
		if n := er.E.Calls()[m]; n != 0 {
			t.Errorf("rerun called %s %d times", m, n)
		}
	}
}

// A run interrupted after the new connector was made (here: the first service update fails
// and rolls back) is finished by running it again: the connector is reused, not recreated.
func TestConnectorRecycleResumes(t *testing.T) {
	er := newEmu(t)
	f, err := emulator.ParseFault("google.cloud.run.v2.Services/UpdateService=INTERNAL:1")
	if err != nil {
		t.Fatal(err)
	}
	er.E.InjectFault(f)
	r := runRecycle(t, er, nil, "run-connector", "--create-subnet", "--yes", "--format", "json")
	if r.Code != exitcode.Failure && r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 1 or 6\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	rep := decodeRecycle(t, r)
	if rep.Old.Status != "kept" || !strings.Contains(rep.Old.Reason, "1 of 2 workloads did not move: run-service") || rep.New.Status != "created" {
		t.Errorf("old %+v, new %+v", rep.Old, rep.New)
	}
	if got := er.Read(t, "run-service").VPC.Connector; got != tConn {
		t.Errorf("service on %s, want the old connector", got)
	}
	er.E.ResetCalls()
	r = runRecycle(t, er, nil, "run-connector", "--create-subnet", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("rerun: exit %d: %s", r.Code, r.Stderr)
	}
	rep = decodeRecycle(t, r)
	if rep.New.Status != "reused" || rep.Old.Status != "deleted" || rep.Summary.Total != 1 || rep.Summary.Migrated != 1 || rep.Subnet != nil {
		t.Errorf("rerun: new %+v, old %+v, summary %+v, subnet %+v", rep.New, rep.Old, rep.Summary, rep.Subnet)
	}
	if n := er.E.Calls()["google.cloud.vpcaccess.v1.VpcAccessService/CreateConnector"]; n != 0 {
		t.Errorf("rerun created a connector %d times", n)
	}
	if n := er.E.Calls()["compute.subnetworks.insert"]; n != 0 {
		t.Errorf("rerun created a subnet %d times", n)
	}
}

// Something recycle does not move (a revision pinned in a traffic split, made with the old
// connector) keeps the old connector: the workloads still move, the exit status is 0, and a
// warning says why the connector is still there.
func TestConnectorRecycleKeepsConnectorStillServing(t *testing.T) {
	er := newEmu(t)
	c := er.Clients(t)
	ctx := context.Background()
	er.CreateService(t, "pinned", harness.SimpleService(&runpb.VpcAccess{Connector: tConn}, 3))
	w := er.Read(t, "pinned")
	s := w.Raw.(*runpb.Service)
	s.Template.VpcAccess = nil
	s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: w.LatestReady, Percent: 100}}
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	op, err := svcs.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	r := runRecycle(t, er, nil, "run-connector", "--create-subnet", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := decodeRecycle(t, r)
	if rep.Summary.Migrated != 2 || rep.Old.Status != "kept" || !strings.Contains(rep.Old.Reason, "still used by pinned (revision "+w.LatestReady+", 100% of traffic)") {
		t.Errorf("summary %+v, old %+v", rep.Summary, rep.Old)
	}
	if !strings.Contains(r.Stderr, "Warning: connector run-connector was kept: still used by pinned") {
		t.Errorf("stderr %q", r.Stderr)
	}
	if _, err := c.GetConnector(ctx, egress.ConnectorRef{Project: tProject, Region: tRegion, Name: "run-connector"}); err != nil {
		t.Errorf("old connector: %v", err)
	}
}

// On a terminal recycle asks first; "no" changes nothing.
func TestConnectorRecycleConfirmation(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, true, "n\n", "connector", "recycle", "run-connector", "--create-subnet", "--format", "json")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "Recycle connector run-connector: create connector run-connector-2 (subnet run-connector-2-subnet (10.15.0.16/28), network run-vpc, f1-micro, 2 to 3 instances), move run-service, job/nightly-export to it, then delete run-connector if nothing uses it? [y/N]") ||
		!strings.Contains(r.Stderr, "cancelled: nothing was changed") {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	for _, m := range []string{"google.cloud.vpcaccess.v1.VpcAccessService/CreateConnector", "compute.subnetworks.insert"} {
		if n := er.E.Calls()[m]; n != 0 {
			t.Errorf("%s called %d times after a no", m, n)
		}
	}
	r = er.Run(t, true, "y\n", "connector", "recycle", "run-connector", "--create-subnet", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("yes: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if rep := decodeRecycle(t, r); rep.Old.Status != "deleted" || rep.Summary.Migrated != 2 {
		t.Errorf("old %+v, summary %+v", rep.Old, rep.Summary)
	}
}
