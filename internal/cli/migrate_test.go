package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// ---- Flags: every bad input is a usage error naming the flag, before any API call.

func TestMigrateFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // "" when the flags are valid
		check   func(t *testing.T, o *MigrateOptions)
	}{
		{args: []string{"run-service"}, wantErr: "--to is required"},
		{args: []string{"run-service", "--to", "vpc"}, wantErr: `--to: invalid mode "vpc"`},
		{args: []string{"--to", "direct"}, wantErr: "WORKLOAD is required"},
		{args: []string{"run-service", "--all", "--from-connector", "c", "--to", "none"}, wantErr: "not both"},
		{args: []string{"--all", "--to", "none"}, wantErr: "--all needs --from-connector"},
		{args: []string{"run-service", "--from-connector", "c", "--to", "none"}, wantErr: "--from-connector is used with --all"},
		{args: []string{"run-service", "--to", "none", "--per-project-concurrency", "2"}, wantErr: "--per-project-concurrency is used with --all --from-connector C"},
		{args: []string{"run-service", "web", "--to", "none", "--per-project-concurrency", "1"}, wantErr: "--per-project-concurrency is used with --all --from-connector C"},
		{args: []string{"run-service", "--to", "none", "--egress", "all-traffic"}, wantErr: "--egress cannot be used with --to none"},
		{args: []string{"run-service", "--to", "none", "--subnet", "s"}, wantErr: "--subnet cannot be used with --to none"},
		{args: []string{"run-service", "--to", "connector"}, wantErr: "--to connector needs --connector"},
		{args: []string{"run-service", "--to", "connector", "--connector", "c", "--network-tags", "a"}, wantErr: "--network-tags cannot be used with --to connector"},
		{args: []string{"run-service", "--to", "direct", "--connector", "c"}, wantErr: "--connector cannot be used with --to direct"},
		{args: []string{"run-service", "--to", "connector", "--connector", "Bad_Name"}, wantErr: "--connector: invalid connector"},
		{args: []string{"run-service", "--to", "direct", "--network", "a/b/c"}, wantErr: "--network: invalid network"},
		{args: []string{"run-service", "--to", "direct", "--subnet", "UPPER"}, wantErr: "--subnet: invalid subnetwork"},
		{args: []string{"run-service", "--to", "direct", "--network-tags", "Bad Tag"}, wantErr: "--network-tags:"},
		{args: []string{"run-service", "--to", "direct", "--network-tags", "a", "--clear-network-tags"}, wantErr: "cannot be used together"},
		{args: []string{"run-service", "--to", "direct", "--egress", "some"}, wantErr: `--egress: invalid egress "some"`},
		{args: []string{"run-service", "--to", "direct", "--egress", "all-traffic", "--keep-egress"}, wantErr: "--keep-egress and --egress"},
		{args: []string{"run-service", "--to", "direct", "--keep-egress=false"}, wantErr: "--keep-egress=false needs --egress"},
		{args: []string{"run-service", "--to", "direct", "--range", "10.0.0.0/24"}, wantErr: "add --create-subnet"},
		{args: []string{"run-service", "--to", "direct", "--create-subnet", "--range", "10.0.0.1/24"}, wantErr: "--range:"},
		{args: []string{"run-service", "--to", "direct", "--create-subnet", "--range", "10.0.0.0/27"}, wantErr: "--range:"},
		{args: []string{"run-service", "--to", "direct", "--create-subnet", "--prefix", "27"}, wantErr: "--prefix: 27 is out of range"},
		{args: []string{"run-service", "--to", "direct", "--create-subnet", "--range", "10.0.0.0/24", "--prefix", "24"}, wantErr: "--prefix chooses the size of --range auto"},
		{args: []string{"run-service", "--to", "direct", "--create-subnet", "--subnet", "projects/host-project/regions/us-east1/subnetworks/s"}, wantErr: "--create-subnet makes the subnet in the workloads' region"},
		{args: []string{"run-service", "--to", "direct", "--canary", "10,5,100"}, wantErr: "--canary"},
		{args: []string{"run-service", "--to", "direct", "--canary", "10,50"}, wantErr: "not 100"},
		{args: []string{"run-service", "--to", "direct", "--step-wait", "1m"}, wantErr: "add --canary"},
		{args: []string{"run-service", "--to", "direct", "--canary", "50,100", "--step-wait", "-1s"}, wantErr: "--step-wait: -1s is negative; valid: 0 or more"},
		{args: []string{"run-service", "--to", "direct", "--canary", "100", "--step-wait", "1m"}, wantErr: "--step-wait sets the wait after each --canary step but the last, and --canary 100 has none"},
		{args: []string{"run-service", "--to", "direct", "--force", "nope"}, wantErr: `--force "nope": unknown check`},
		{args: []string{"run-service", "--to", "direct", "--force", "subnet-size"}, wantErr: "cannot be forced"},
		{args: []string{"run-service", "--to", "direct", "--concurrency", "0"}, wantErr: "--concurrency: 0 is out of range"},
		{args: []string{"run-service", "--to", "direct", "--verify"}, wantErr: "--verify runs an execution of a job"},
		{args: []string{"run-service", "--to", "none", "--enable-private-google-access"}, wantErr: "--enable-private-google-access turns Private Google Access on on the Direct VPC egress subnet; it is used with --to direct, not --to none"},
		{args: []string{"run-service", "--to", "connector", "--connector", "c", "--enable-private-google-access"}, wantErr: "used with --to direct, not --to connector"},
		{args: []string{"workerpool/q", "--to", "connector", "--connector", "c"}, wantErr: "worker pools cannot use Serverless VPC Access connectors"},
		{args: []string{"run-service", "projects/other-proj/locations/asia-northeast1/services/x", "--to", "none"}, wantErr: "one project and region at a time"},
		{args: []string{"run-service", "--to", "none"}, wantErr: "pass --yes"},
		{args: []string{"bad name", "--to", "none", "--yes"}, wantErr: "WORKLOAD: invalid workload"},
		// Valid.
		{args: []string{"run-service", "--to", "direct", "--dry-run"}, check: func(t *testing.T, o *MigrateOptions) {
			if !o.single || o.mode != egress.ModeDirect || o.network != "" || o.subnet != "" {
				t.Errorf("parsed %+v", o)
			}
		}},
		{args: []string{"job/a", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "s", "--canary", "10%,100", "--step-wait", "30s", "--verify", "--force", "free-ips,cloud-nat", "--yes", "--vpc-egress", "all"},
			check: func(t *testing.T, o *MigrateOptions) {
				if o.single || len(o.refs) != 2 || o.network != tNet || o.subnet != "projects/demo-project/regions/asia-northeast1/subnetworks/s" ||
					!slices.Equal(o.canary, []int{10, 100}) || o.egress != egress.EgressAllTraffic || !slices.Equal(o.Force, []string{"free-ips", "cloud-nat"}) {
					t.Errorf("parsed %+v", o)
				}
			}},
		{args: []string{"--all", "--from-connector", "run-connector", "--to", "none", "--yes", "--concurrency", "8"}, check: func(t *testing.T, o *MigrateOptions) {
			if !o.All || o.fromConn.FullName() != tConn || o.Concurrency != 8 {
				t.Errorf("parsed %+v", o)
			}
		}},
		{args: []string{"run-service", "--to", "direct", "--create-subnet", "--subnet", "new-sub", "--range", "10.20.0.0/24", "--yes"}, check: func(t *testing.T, o *MigrateOptions) {
			if !o.CreateSubnet || o.subnetName != "new-sub" || o.rangeCIDR.String() != "10.20.0.0/24" {
				t.Errorf("parsed %+v", o)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *MigrateOptions
			r := runStubbed(t, "migrate", func(f *Factory) *cobra.Command {
				return NewCmdMigrate(f, func(_ context.Context, o *MigrateOptions) error { got = o; return nil })
			}, append([]string{"migrate"}, tc.args...)...)
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

func TestMigrateHelpDocumentsContract(t *testing.T) {
	for _, want := range []string{"--canary", "restore-template", "previousRevision", "status is 1", "validate_only", "NETWORK-direct"} {
		if !strings.Contains(migrateLong, want) {
			t.Errorf("the long help does not mention %q", want)
		}
	}
}

// ---- End to end, in process, against an emulator through the real client libraries.

// runObserved runs `runnet ARGS` with obs receiving every executor event.
func runObserved(t *testing.T, er *emuRun, ctx context.Context, obs egress.Observer, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, er.Addr))
	root := NewRootCmd(f)
	for _, c := range root.Commands() {
		if c.Name() == "migrate" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(NewCmdMigrate(f, func(ctx context.Context, o *MigrateOptions) error {
		o.observer = obs
		return o.run(ctx)
	}))
	code := execute(ctx, f, root, args)
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// report decodes a single-workload JSON report.
func report(t *testing.T, r result) MigrationReport {
	t.Helper()
	var rep MigrationReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode report: %v\nstdout: %s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	return rep
}

func stepLine(rep MigrationReport) string {
	var parts []string
	for _, s := range rep.Steps {
		parts = append(parts, string(s.Kind)+":"+string(s.Status))
	}
	return strings.Join(parts, " ")
}

// servingShares reads where a service's traffic goes now (traffic statuses, latest resolved).
func servingShares(t *testing.T, er *emuRun, name string) map[string]int {
	w := er.Read(t, name)
	out := map[string]int{}
	for _, ts := range w.TrafficStatus {
		rev := ts.Revision
		if ts.Latest {
			rev = w.LatestReady
		}
		if ts.Percent > 0 {
			out[rev] += ts.Percent
		}
	}
	return out
}

func TestMigrateCanaryTrafficObserved(t *testing.T) {
	er := newEmu(t)
	var mu sync.Mutex
	var seen []string
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind != egress.EventTraffic {
			return nil
		}
		// What Cloud Run serves at this step boundary, read from the API.
		shares := servingShares(t, er, "run-service")
		var parts []string
		for rev, pct := range shares {
			label := "old"
			if rev == ev.Result.NewRevision {
				label = "new"
			}
			parts = append(parts, fmt.Sprintf("%s=%d", label, pct))
		}
		slices.Sort(parts)
		mu.Lock()
		seen = append(seen, strings.Join(parts, ","))
		mu.Unlock()
		return nil
	}
	r := runObserved(t, er, context.Background(), obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress",
		"--canary", "10,50,100", "--step-wait", "50ms", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	want := []string{"old=100", "new=10,old=90", "new=50,old=50", "new=100"}
	if !slices.Equal(seen, want) {
		t.Errorf("traffic at the step boundaries = %q, want %q", seen, want)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeMigrated || stepLine(rep) != "deploy-revision:done verify:done shift-traffic:done shift-traffic:done shift-traffic:done" {
		t.Errorf("outcome %s, steps %s", rep.Outcome, stepLine(rep))
	}
	w := er.Read(t, "run-service")
	if w.LatestReady != rep.NewRevision || len(w.Traffic) != 1 || !w.Traffic[0].Latest || w.Traffic[0].Tag != "" {
		t.Errorf("final: latest ready %s (new %s), traffic %+v", w.LatestReady, rep.NewRevision, w.Traffic)
	}
}

// A revision that fails after it was created (its subnet filled up between the preflight and
// the deploy): the migration rolls back, the previous settings serve 100% all along, exit 6.
func TestMigrateRevisionFailsAfterCreation(t *testing.T) {
	er := newEmu(t)
	er.CreateService(t, "filler", harness.SimpleService(&runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: tNet, Subnetwork: tSubnet}}}, 1))
	before := er.Read(t, "run-service")
	r0 := before.LatestReady
	var violations []string
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind == egress.EventStepStarted && ev.Step.Kind == egress.StepDeployAndShift {
			if err := harness.ScaleLatest(er.E, "filler", 15*8); err != nil { // every block of the /24
				return err
			}
		}
		if ev.Kind == egress.EventTraffic || ev.Kind == egress.EventStepFinished {
			for rev, pct := range servingShares(t, er, "run-service") {
				if ev.Result.NewRevision != "" && rev == ev.Result.NewRevision {
					violations = append(violations, fmt.Sprintf("%d%% on the new revision %s", pct, rev))
				}
			}
		}
		return nil
	}
	r := runObserved(t, er, context.Background(), obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if got := stepLine(rep); got != "deploy-and-shift:failed restore-template:done restore-traffic:done" {
		t.Errorf("steps %s", got)
	}
	if !strings.Contains(rep.Error, "insufficient free IP addresses in the subnetwork") || !strings.Contains(r.Stderr, "rolled back") {
		t.Errorf("error %q; stderr %q", rep.Error, r.Stderr)
	}
	if len(violations) > 0 {
		t.Errorf("traffic reached the failed revision: %v", violations)
	}
	after := er.Read(t, "run-service")
	if after.VPC.Connector != tConn || after.Rollout() != cloud.RolloutDone {
		t.Errorf("after: vpc %+v, rollout %s", after.VPC, after.Rollout())
	}
	if shares := servingShares(t, er, "run-service"); shares[after.LatestReady] != 100 || after.LatestReady != rep.RestoredRevision {
		t.Errorf("serving %v, latest ready %s, restored %s", shares, after.LatestReady, rep.RestoredRevision)
	}
	if rep.PreviousRevision != r0 || rep.NewRevision == "" {
		t.Errorf("previous %s (want %s), new %s", rep.PreviousRevision, r0, rep.NewRevision)
	}
	assertPreserved(t, before.Raw, after.Raw)
}

func assertPreserved(t *testing.T, before, after proto.Message) {
	t.Helper()
	if !proto.Equal(withoutVPC(before), withoutVPC(after)) {
		t.Errorf("fields other than vpc_access changed:\nbefore:\n%s\nafter:\n%s", prototext.Format(withoutVPC(before)), prototext.Format(withoutVPC(after)))
	}
}

// Ctrl-C after the new revision is deployed: the previous state is restored, exit 6.
func TestMigrateInterruptedRestores(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind == egress.EventStepFinished && ev.Step.Kind == egress.StepDeployRevision {
			cancel()
		}
		return nil
	}
	r := runObserved(t, er, ctx, obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,100", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if !strings.Contains(rep.Error, "interrupted before step 2 (verify)") ||
		stepLine(rep) != "deploy-revision:undone verify:skipped shift-traffic:skipped shift-traffic:skipped restore-template:done restore-traffic:done" {
		t.Errorf("error %q, steps %s", rep.Error, stepLine(rep))
	}
	after := er.Read(t, "run-service")
	if after.VPC.Connector != tConn || len(after.Traffic) != 1 || !after.Traffic[0].Latest || after.Traffic[0].Percent != 100 {
		t.Errorf("not restored: vpc %+v traffic %+v", after.VPC, after.Traffic)
	}
	assertPreserved(t, before.Raw, after.Raw)
}

// A canary step the API refuses: everything done so far is undone.
func TestMigrateCanaryStepFailureRollsBack(t *testing.T) {
	er := newEmu(t)
	// Updates: the deploy (with the journal), the journal at the verify step, the 10% shift;
	// the 50% shift fails.
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Internal, Skip: 3, Count: 1})
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,50,100", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if got := stepLine(rep); got != "deploy-revision:undone verify:done shift-traffic:undone shift-traffic:failed shift-traffic:skipped restore-template:done restore-traffic:done" {
		t.Errorf("steps %s", got)
	}
	if w := er.Read(t, "run-service"); w.VPC.Connector != tConn || !w.Traffic[0].Latest {
		t.Errorf("not restored: %+v %+v", w.VPC, w.Traffic)
	}
}

// Every preflight failure stops the migration before anything changes (exit 3), naming the
// check and its numbers; the forceable ones proceed with --force.
func TestMigratePreflightFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, er *emuRun)
		args  []string
		check string // the failed check
		force bool   // --force CHECK lets it through
	}{
		{name: "subnet /27", setup: func(t *testing.T, er *emuRun) { insertSubnet(t, er, "small", "10.9.0.0/27", tRegion) },
			args: []string{"--to", "direct", "--subnet", "small"}, check: egress.CheckSubnetSize},
		{name: "too few free IPs", setup: func(t *testing.T, er *emuRun) { er.FillSubnet(t, tSubnet, 14) },
			args: []string{"--to", "direct", "--subnet", "run-direct-vpc-egress"}, check: egress.CheckFreeIPs, force: true},
		{name: "region mismatch", setup: func(t *testing.T, er *emuRun) { insertSubnet(t, er, "us-sub", "10.30.0.0/24", "us-central1") },
			args: []string{"--to", "direct", "--network", "run-vpc", "--subnet", "projects/demo-project/regions/us-central1/subnetworks/us-sub"}, check: egress.CheckRegion},
		{name: "missing network", args: []string{"--to", "direct", "--network", "nope", "--subnet", "run-direct-vpc-egress"}, check: egress.CheckNetwork},
		{name: "missing subnet", args: []string{"--to", "direct", "--network", "run-vpc", "--subnet", "nope"}, check: egress.CheckSubnet},
		{name: "all-traffic without NAT", args: []string{"--to", "direct", "--subnet", "run-direct-vpc-egress", "--egress", "all-traffic"}, check: egress.CheckNAT, force: true},
		{name: "firewall rule on the connector's tag", setup: func(t *testing.T, er *emuRun) {
			er.InsertFirewall(t, &compute.Firewall{Name: "allow-redis", Network: tNet, Direction: "INGRESS", Priority: 1000,
				SourceTags: []string{"vpc-connector-asia-northeast1-run-connector"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}}})
		}, args: []string{"--to", "direct", "--subnet", "run-direct-vpc-egress"}, check: egress.CheckFirewall, force: true},
		{name: "firewall rule on the connector's range", setup: func(t *testing.T, er *emuRun) {
			er.InsertFirewall(t, &compute.Firewall{Name: "allow-redis-range", Network: tNet, Direction: "INGRESS", Priority: 1000,
				SourceRanges: []string{"10.15.0.0/28"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}}})
		}, args: []string{"--to", "direct", "--subnet", "run-direct-vpc-egress"}, check: egress.CheckFirewall, force: true},
		{name: "connector missing", setup: func(t *testing.T, er *emuRun) {
			if r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes"); r.Code != 0 {
				t.Fatalf("setup: %s", r.Stderr)
			}
		}, args: []string{"--to", "connector", "--connector", "nope"}, check: egress.CheckConnectorReady},
		{name: "connector in ERROR", setup: func(t *testing.T, er *emuRun) {
			if r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes"); r.Code != 0 {
				t.Fatalf("setup: %s", r.Stderr)
			}
			// A range that overlaps a subnet: the API leaves the connector in ERROR.
			if r := er.Run(t, false, "", "connector", "create", "broken", "--range", "10.8.0.0/28", "--network", "run-vpc"); r.Code == 0 {
				t.Fatalf("setup: the overlapping connector was created: %s", r.Stdout)
			}
		}, args: []string{"--to", "connector", "--connector", "broken"}, check: egress.CheckConnectorReady},
		{name: "connector in another region", args: []string{"--to", "connector", "--connector", "projects/demo-project/locations/us-central1/connectors/run-connector"}, check: egress.CheckRegion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			er := newEmu(t)
			if tc.setup != nil {
				tc.setup(t, er)
			}
			before := er.Read(t, "run-service")
			er.E.ResetCalls()
			args := append([]string{"migrate", "run-service", "--yes", "--format", "json"}, tc.args...)
			r := er.Run(t, false, "", args...)
			if r.Code != exitcode.Preflight {
				t.Fatalf("exit %d, want 3: %s", r.Code, r.Stderr)
			}
			rep := report(t, r)
			var failed []string
			for _, c := range rep.Checks {
				if c.Status == egress.StatusFail {
					failed = append(failed, c.Name)
				}
			}
			if rep.Outcome != egress.OutcomeBlocked || !slices.Contains(failed, tc.check) {
				t.Fatalf("outcome %s, failed checks %v, want %s", rep.Outcome, failed, tc.check)
			}
			if !strings.Contains(r.Stderr, tc.check+": ") || !strings.Contains(r.Stderr, "nothing was changed") {
				t.Errorf("stderr %q", r.Stderr)
			}
			for m, n := range er.E.Calls() {
				if strings.HasSuffix(m, "/UpdateService") || strings.HasSuffix(m, "/CreateService") || strings.HasSuffix(m, ".insert") {
					t.Errorf("%d calls of %s", n, m)
				}
			}
			if after := er.Read(t, "run-service"); after.Etag != before.Etag {
				t.Errorf("the service changed")
			}
			if !tc.force {
				return
			}
			// Forced, the failed check becomes a warning and the migration runs (it may
			// still fail later, but not in preflight).
			r = er.Run(t, false, "", append(args, "--force", tc.check, "--dry-run")...)
			if r.Code != 0 {
				t.Fatalf("--force %s --dry-run: exit %d: %s", tc.check, r.Code, r.Stderr)
			}
			rep = report(t, r)
			for _, c := range rep.Checks {
				if c.Name == tc.check && (c.Status != egress.StatusWarn || !c.Forced) {
					t.Errorf("forced check %+v", c)
				}
			}
			if rep.Outcome != egress.OutcomePlanned || !rep.Validated {
				t.Errorf("outcome %s, validated %v", rep.Outcome, rep.Validated)
			}
		})
	}
	_ = ctx
}

func insertSubnet(t *testing.T, er *emuRun, name, cidr, region string) {
	t.Helper()
	r := er.Run(t, false, "", "subnet", "create", name, "--network", "run-vpc", "--range", cidr, "--region", region)
	if r.Code != 0 {
		t.Fatalf("subnet create %s: %s", name, r.Stderr)
	}
}

// Firewall rules that already match the new traffic pass; tags suggested by the hint fix it.
func TestMigrateFirewallHintAndTags(t *testing.T) {
	er := newEmu(t)
	er.InsertFirewall(t, &compute.Firewall{Name: "allow-redis", Network: tNet, Direction: "INGRESS", Priority: 1000,
		SourceTags: []string{"vpc-connector-asia-northeast1-run-connector", "redis-client"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}}})
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--dry-run", "--format", "json")
	if r.Code != exitcode.Preflight {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	i := slices.IndexFunc(rep.Checks, func(c egress.Check) bool { return c.Name == egress.CheckFirewall })
	if i < 0 || !strings.Contains(rep.Checks[i].Hint, "--network-tags redis-client") || rep.Checks[i].Numbers["lostAllow"] != 1 {
		t.Fatalf("firewall check %+v", rep.Checks[i])
	}
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--network-tags", "redis-client", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("with the tag: exit %d: %s", r.Code, r.Stderr)
	}
	if w := er.Read(t, "run-service"); !slices.Equal(w.VPC.Tags, []string{"redis-client"}) {
		t.Errorf("tags %v", w.VPC.Tags)
	}
}

// connector -> direct -> connector -> none -> direct (with a new subnet) for a service with
// labels, annotations, a secret, a tagged traffic split and another revision's share, and for
// a job: every field but vpc_access stays as it was; re-runs change nothing.
func TestMigrateFieldPreservation(t *testing.T) {
	er := newEmu(t)
	c := er.Clients(t)
	ctx := context.Background()
	svcs, _ := c.Services()
	s := proto.Clone(er.Read(t, "run-service").Raw).(*runpb.Service)
	s.Labels = map[string]string{"team": "web"}
	s.Annotations = map[string]string{"example.com/owner": "alice"}
	s.Template.Labels = map[string]string{"rev-label": "x"}
	s.Template.Containers[0].Env = append(s.Template.Containers[0].Env, &runpb.EnvVar{Name: "DB_PASSWORD",
		Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: "db", Version: "latest"}}}})
	op, err := svcs.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// Revision 1 keeps 20% under a tag; the latest revision (2) serves 80%, tagged live.
	s = proto.Clone(er.Read(t, "run-service").Raw).(*runpb.Service)
	s.Traffic = []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: er.Read(t, "run-service").LatestReady, Percent: 0, Tag: "pinned"},
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100, Tag: "live"},
	}
	op, err = svcs.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	er.ChangeJob(t, "nightly-export", func(j *runpb.Job) {
		j.Labels = map[string]string{"schedule": "nightly"}
		j.Template.Parallelism = 2
	})

	for _, w := range []string{"run-service", "job/nightly-export"} {
		t.Run(w, func(t *testing.T) {
			steps := [][]string{
				{"--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "25,100", "--network-tags", "redis-client"},
				{"--to", "connector", "--connector", "run-connector", "--egress", "all-traffic"},
				{"--to", "none"},
				{"--to", "direct", "--network", "run-vpc", "--create-subnet", "--subnet", "fresh-" + strings.TrimPrefix(w, "job/")},
			}
			for _, args := range steps {
				if strings.HasPrefix(w, "job/") && slices.Contains(args, "--canary") {
					// A job has no traffic to move in steps: --canary is refused for it.
					i := slices.Index(args, "--canary")
					args = slices.Delete(slices.Clone(args), i, i+2)
				}
				before := er.Read(t, w)
				full := append([]string{"migrate", w, "--yes", "--format", "json", "--force", "cloud-nat"}, args...)
				r := er.Run(t, false, "", full...)
				if r.Code != 0 {
					t.Fatalf("%q: exit %d: %s", args, r.Code, r.Stderr)
				}
				if rep := report(t, r); rep.Outcome != egress.OutcomeMigrated {
					t.Fatalf("%q: outcome %s", args, rep.Outcome)
				}
				after := er.Read(t, w)
				assertPreserved(t, before.Raw, after.Raw)
				// Again: nothing to do, nothing sent.
				er.E.ResetCalls()
				r = er.Run(t, false, "", full...)
				if r.Code != 0 || report(t, r).Outcome != egress.OutcomeNoOp {
					t.Fatalf("%q again: exit %d: %s", args, r.Code, r.Stdout)
				}
				for m, n := range er.E.Calls() {
					if strings.Contains(m, "/Update") || strings.HasSuffix(m, ".insert") {
						t.Errorf("%q again: %d calls of %s", args, n, m)
					}
				}
			}
		})
	}
}

func TestMigrateJobVerify(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "migrate", "job/nightly-export", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--verify", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if stepLine(rep) != "update-template:done run-execution:done" || !strings.HasPrefix(rep.Steps[1].Execution, "nightly-export-") {
		t.Errorf("steps %s (%+v)", stepLine(rep), rep.Steps)
	}
	// A verification that fails puts the previous template back.
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Jobs/RunJob", Code: codes.FailedPrecondition, Count: 1})
	r = er.Run(t, false, "", "migrate", "job/nightly-export", "--to", "connector", "--connector", "run-connector", "--verify", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	rep = report(t, r)
	if stepLine(rep) != "update-template:undone run-execution:failed restore-template:done" {
		t.Errorf("steps %s", stepLine(rep))
	}
	if w := er.Read(t, "job/nightly-export"); w.VPC.Mode() != egress.ModeDirect {
		t.Errorf("job VPC %+v, want Direct VPC egress again", w.VPC)
	}
}

func TestMigrateWorkerPool(t *testing.T) {
	er := newEmu(t)
	c := er.Clients(t)
	wps, _ := c.WorkerPools()
	n := int32(2)
	ctx := context.Background()
	op, err := wps.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: "projects/demo-project/locations/asia-northeast1", WorkerPoolId: "queue",
		WorkerPool: &runpb.WorkerPool{
			Labels:   map[string]string{"app": "queue"},
			Template: &runpb.WorkerPoolRevisionTemplate{Containers: []*runpb.Container{{Image: emulator.DemoImage}}},
			Scaling:  &runpb.WorkerPoolScaling{ManualInstanceCount: &n},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	masked := func(m proto.Message) proto.Message {
		p := proto.Clone(m).(*runpb.WorkerPool)
		p.Template.VpcAccess = nil
		for _, f := range []*string{&p.Etag, &p.LatestReadyRevision, &p.LatestCreatedRevision, &p.Uid} {
			*f = ""
		}
		p.Generation, p.ObservedGeneration, p.UpdateTime, p.CreateTime, p.TerminalCondition, p.Conditions, p.InstanceSplitStatuses, p.Reconciling = 0, 0, nil, nil, nil, nil, nil, false
		return p
	}
	for _, to := range [][]string{{"--to", "direct", "--subnet", "run-direct-vpc-egress"}, {"--to", "none"}} {
		before := er.Read(t, "workerpool/queue")
		r := er.Run(t, false, "", append([]string{"migrate", "workerpool/queue", "--yes", "--format", "json"}, to...)...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", to, r.Code, r.Stderr)
		}
		rep := report(t, r)
		if stepLine(rep) != "update-template:done verify:done" || rep.NewRevision == "" {
			t.Errorf("%v: steps %s, new %q", to, stepLine(rep), rep.NewRevision)
		}
		after := er.Read(t, "workerpool/queue")
		if !proto.Equal(masked(before.Raw), masked(after.Raw)) {
			t.Errorf("%v changed more than vpc_access:\n%s\n%s", to, prototext.Format(masked(before.Raw)), prototext.Format(masked(after.Raw)))
		}
	}
	// Worker pools cannot use connectors: refused before any call.
	er.E.ResetCalls()
	r := er.Run(t, false, "", "migrate", "workerpool/queue", "--to", "connector", "--connector", "run-connector", "--yes")
	if r.Code != exitcode.Usage || len(er.E.Calls()) != 0 {
		t.Errorf("exit %d, calls %v: %s", r.Code, er.E.Calls(), r.Stderr)
	}
}

// A fleet with one failing member: the others migrate, the failed one is restored, exit 6;
// the connector is kept while it is still used; running again converges.
func TestMigrateFleetOneFails(t *testing.T) {
	er := newEmu(t)
	c := er.Clients(t)
	for _, id := range []string{"svc-a", "svc-b"} {
		er.CreateService(t, id, harness.SimpleService(&runpb.VpcAccess{Connector: tConn, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}, 3))
	}
	fail := func(_ context.Context, ev egress.Event) error {
		if ev.Workload.Name == "svc-b" && ev.Kind == egress.EventStepFinished && ev.Step.Kind == egress.StepDeployAndShift {
			return fmt.Errorf("simulated health probe failure")
		}
		return nil
	}
	args := []string{"migrate", "--all", "--from-connector", "run-connector", "--to", "direct", "--subnet", "run-direct-vpc-egress",
		"--concurrency", "2", "--cleanup", "--yes", "--format", "json"}
	r := runObserved(t, er, context.Background(), fail, args...)
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	var fr FleetReport
	if err := json.Unmarshal([]byte(r.Stdout), &fr); err != nil {
		t.Fatal(err)
	}
	got := map[string]egress.Outcome{}
	for _, w := range fr.Workloads {
		got[w.Workload] = w.Outcome
	}
	want := map[string]egress.Outcome{"run-service": "migrated", "svc-a": "migrated", "svc-b": "rolled-back", "job/nightly-export": "migrated"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s (all: %v)", k, got[k], v, got)
		}
	}
	if fr.Summary.Migrated != 3 || fr.Summary.RolledBack != 1 || len(fr.Cleanup) != 1 || fr.Cleanup[0].Status != "skipped" || !slices.Contains(fr.Cleanup[0].Users, "svc-b") {
		t.Errorf("summary %+v, cleanup %+v", fr.Summary, fr.Cleanup)
	}
	if w := er.Read(t, "svc-b"); w.VPC.Connector != tConn || !w.Traffic[0].Latest {
		t.Errorf("svc-b not restored: %+v", w.VPC)
	}
	if !strings.Contains(r.Stderr, "1 of 4 workloads not migrated: svc-b (svc-b: rolled back: simulated health probe failure)") {
		t.Errorf("stderr %q", r.Stderr)
	}

	// Again, without the failure: svc-b migrates, nothing else is touched, the connector goes.
	er.E.ResetCalls()
	r = er.Run(t, false, "", args...)
	if r.Code != 0 {
		t.Fatalf("again: exit %d: %s", r.Code, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &fr); err != nil {
		t.Fatal(err)
	}
	if len(fr.Workloads) != 1 || fr.Workloads[0].Workload != "svc-b" || fr.Workloads[0].Outcome != egress.OutcomeMigrated ||
		len(fr.Cleanup) != 1 || fr.Cleanup[0].Status != "done" {
		t.Errorf("again: %+v", fr)
	}
	if n := er.E.Calls()["google.cloud.run.v2.Jobs/UpdateJob"]; n != 0 {
		t.Errorf("again: %d job updates", n)
	}
	if _, err := c.GetConnector(context.Background(), egress.ConnectorRef{Project: tProject, Region: tRegion, Name: "run-connector"}); !cloud.IsNotFound(err) {
		t.Errorf("connector still there: %v", err)
	}
	// And a third time: nothing uses the connector, nothing to do.
	r = er.Run(t, false, "", args...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "nothing to migrate") {
		t.Errorf("third: exit %d: %s", r.Code, r.Stderr)
	}
}

func TestMigrateConfirmation(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	r := er.Run(t, true, "n\n", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "Migrate service run-service from connector to direct (1 step)? [y/N]") ||
		!strings.Contains(r.Stderr, "Steps:") || !strings.Contains(r.Stderr, "cancelled: nothing was changed") {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	if er.Read(t, "run-service").Etag != before.Etag {
		t.Fatal("declined, yet the service changed")
	}
	r = er.Run(t, true, "y\n", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--format", "table")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Outcome: migrated") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	// Progress on the terminal: the checks, each step, the traffic.
	for _, want := range []string{"run-service: preflight: 14 passed, 1 warning, 0 failed", "run-service: [1/1] deploy a revision", "Waiting for revision run-service-00002-", "run-service: traffic: latest 100%"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
}

// Inference: the network comes from the connector; the subnet must be the only fit.
func TestMigrateInference(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--dry-run")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "network run-vpc has 2 subnets in asia-northeast1 that fit: run-direct-vpc-egress, run-subnet") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	// Fill run-subnet: run-direct-vpc-egress is then the only fit.
	er.FillSubnet(t, "projects/demo-project/regions/asia-northeast1/subnetworks/run-subnet", 15)
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--dry-run", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.To.VPC.Subnet != tSubnet || rep.To.VPC.Network != tNet {
		t.Errorf("to %+v", rep.To)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "network run-vpc: the one run-service reaches today (its connector run-connector)") &&
			strings.Contains(n, "subnet run-direct-vpc-egress: the only subnet of network run-vpc")
	}) {
		t.Errorf("notes %q", rep.Notes)
	}
	// No VPC to infer from: --network is needed.
	if r := er.Run(t, false, "", "migrate", "run-service", "--to", "none", "--yes"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--dry-run")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "--network is needed: run-service has no connector or Direct VPC subnet") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
}

// --create-subnet sizes and places the subnet, and a second run reuses it (no-op).
func TestMigrateCreateSubnet(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--create-subnet", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if stepLine(rep) != "create-subnet:done deploy-and-shift:done" ||
		rep.To.VPC.Subnet != "projects/demo-project/regions/asia-northeast1/subnetworks/run-vpc-direct" {
		t.Fatalf("steps %s, to %+v", stepLine(rep), rep.To)
	}
	sub, err := er.Clients(t).GetSubnet(context.Background(), egress.SubnetRef{Project: tProject, Region: tRegion, Name: "run-vpc-direct"})
	if err != nil || sub.PrefixLength != 25 || sub.NetworkPath != tNet {
		t.Fatalf("subnet %+v, %v (4 blocks needed: a /25)", sub, err)
	}
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--create-subnet", "--yes", "--format", "json")
	if r.Code != 0 || report(t, r).Outcome != egress.OutcomeNoOp {
		t.Fatalf("again: exit %d: %s", r.Code, r.Stdout)
	}
}

// A migration whose first write fails changed nothing, and its error says so, alone and in a
// fleet, where the table gives no notes; the report has "unchanged".
func TestMigrateFailedFirstWriteSaysUnchanged(t *testing.T) {
	er := newEmu(t)
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: 9, Count: 1})
	r := er.Run(t, false, "", "migrate", "--all", "--from-connector", emulator.DemoConnector, "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "run-service (update service") || !strings.Contains(r.Stderr, "FAILED_PRECONDITION); nothing was changed)") {
		t.Errorf("fleet: exit %d: %s", r.Code, r.Stderr)
	}
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
		t.Errorf("run-service uses %s", w.VPC.Mode())
	}
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: 9, Count: 1})
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != exitcode.Failure || !strings.HasSuffix(strings.TrimSpace(r.Stderr), "; nothing was changed") {
		t.Errorf("one workload: exit %d: %s", r.Code, r.Stderr)
	}
	if rep := report(t, r); !rep.Unchanged {
		t.Errorf("report: %+v, want unchanged", rep)
	}
}
