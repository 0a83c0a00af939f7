package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

func runDemoWith(t *testing.T, tune func(o *DemoOptions), args ...string) result {
	t.Helper()
	return runStubbedCtx(t, "demo", func(f *Factory) *cobra.Command {
		return NewCmdDemo(f, func(ctx context.Context, o *DemoOptions) error {
			if tune != nil {
				tune(o)
			}
			return o.run(ctx)
		})
	}, append([]string{"demo"}, args...)...)
}

// runStubbedCtx is runStubbed with a time limit and an environment that points elsewhere:
// the demo must use neither.
func runStubbedCtx(t *testing.T, name string, mk func(*Factory) *cobra.Command, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, "127.0.0.1:1", "CLOUDSDK_CORE_PROJECT", "my-real-project", "CLOUDSDK_RUN_REGION", "us-east1"))
	root := NewRootCmd(f)
	for _, c := range root.Commands() {
		if c.Name() == name {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(mk(f))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := execute(ctx, f, root, args)
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

func fast(o *DemoOptions) { o.lroDuration, o.revisionReady = 20*time.Millisecond, 40*time.Millisecond }

// The demo as a user runs it (the real timings): every step as the story expects, each
// command printed before its output, and the world left as the story leaves it.
func TestDemo(t *testing.T) {
	var world struct {
		service                        *cloud.Workload
		subnets                        map[string]string
		connectors                     []string
		inspected                      bool
		serviceErr, subnetErr, connErr error
	}
	start := time.Now()
	r := runDemoWith(t, func(o *DemoOptions) {
		o.inspect = func(e *emulator.Emulator) {
			ctx := context.Background()
			c := cloud.New(ctx, cloud.Config{EmulatorHost: e.Addr()})
			defer c.Close()
			world.inspected = true
			world.service, world.serviceErr = c.GetWorkload(ctx, egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "run-service"})
			subs, err := c.ListSubnets(ctx, tProject, tRegion)
			world.subnetErr = err
			world.subnets = map[string]string{}
			for _, s := range subs {
				world.subnets[s.Name] = s.IPCIDRRange
			}
			conns, err := c.ListConnectors(ctx, tProject, tRegion)
			world.connErr = err
			for _, cn := range conns {
				world.connectors = append(world.connectors, cn.Name)
			}
		}
	})
	took := time.Since(start)
	t.Logf("runnet demo took %s (exit %d)", took.Round(time.Millisecond), r.Code)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if took > time.Minute {
		t.Errorf("the demo took %s, more than the minute it promises", took)
	}
	// Each command, printed before its output, in order.
	pos := 0
	for i, s := range demoStory(defaultStepWait) {
		line := "$ runnet " + shellJoin(s.args) + "\n"
		j := strings.Index(r.Stdout[pos:], line)
		if j < 0 {
			t.Fatalf("step %d: %q not found after offset %d in:\n%s", i+1, line, pos, r.Stdout)
		}
		pos += j + len(line)
	}
	for _, want := range []string{
		"\n── 1/14 ── The article starts here",
		"service   run-service   none   -     -        run-service-00001-",            // status at the start
		"Connector run-connector is READY.",                                           // connector create
		"Error: connector run-connector is used by 1 workload: run-service (service)", // the refused delete
		"(in the emulator) Traffic grows: the connector scales out to its 3 instances",
		"Old connector run-connector: deleted: nothing used it any more", // recycle
		"Cost: 21.39 USD a month before (3 instances), 14.26 USD after (2): saves 7.13 USD a month.",
		"run-service: traffic: run-service-00003-",           // the canary, step by step
		"(in the emulator) A partner's database on-premises", // the trap
		"answered 100.0% of its requests with 5xx",           // caught by the gate
		"Outcome: rolled back",
		"10% (tag runnet-direct)",
		"50% (tag runnet-direct)",
		"Outcome: migrated in ",
		"DIRECT VPC SUBNETS (1)", // inventory
		"Deleted connector run-connector-2.",
		"The story took ",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !strings.Contains(r.Stdout, "7     runnet connector delete run-connector --yes") || !strings.Contains(r.Stdout, "ok (exit 3, as expected)") {
		t.Errorf("summary:\n%s", r.Stdout[strings.LastIndex(r.Stdout, "STEP"):])
	}
	if r.Stderr != "" {
		t.Errorf("stderr = %q, want nothing (the narration goes to stdout)", r.Stderr)
	}

	// The world as the story leaves it.
	if !world.inspected || world.serviceErr != nil || world.subnetErr != nil || world.connErr != nil {
		t.Fatalf("inspect: %+v", world)
	}
	if w := world.service; w.VPC.Mode() != egress.ModeNone || w.LatestReady != w.LatestCreated || !strings.HasPrefix(w.LatestReady, "run-service-00007-") {
		t.Errorf("run-service: %+v, latest ready %s", w.VPC, w.LatestReady)
	}
	wantSubnets := map[string]string{"run-subnet": "10.5.0.0/24", "run-connector-subnet": "10.15.0.0/28", "run-connector-2-subnet": "10.15.0.16/28", "run-direct-vpc-egress": "10.8.0.0/24"}
	if len(world.subnets) != len(wantSubnets) {
		t.Errorf("subnets %v, want %v", world.subnets, wantSubnets)
	}
	for n, cidr := range wantSubnets {
		if world.subnets[n] != cidr {
			t.Errorf("subnet %s: %q, want %s", n, world.subnets[n], cidr)
		}
	}
	if len(world.connectors) != 0 {
		t.Errorf("connectors left: %v", world.connectors)
	}
}

func TestDemoQuietAndJSON(t *testing.T) {
	r := runDemoWith(t, fast, "--quiet", "--step-wait", "10ms")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.HasPrefix(r.Stdout, "STEP  COMMAND") || strings.Contains(r.Stdout, "$ runnet") || r.Stderr != "" {
		t.Errorf("--quiet: stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "\n9     runnet migrate run-service --to direct --network run-vpc --subnet run...  ok ") {
		t.Errorf("--quiet: stdout %q", r.Stdout)
	}

	r = runDemoWith(t, fast, "--format", "json", "--step-wait", "10ms")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var rep DemoReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.Stdout)
	}
	if !rep.OK || rep.FailedStep != 0 || len(rep.Steps) != 14 || rep.Project != "demo-project" || rep.Region != "asia-northeast1" {
		t.Errorf("report %+v", rep)
	}
	// The gated canary watches at least a second, whatever --step-wait says: the trap is
	// caught (rolled back, exit 6), then the same command goes through.
	const migrate = "runnet migrate run-service --to direct --network run-vpc --subnet run-direct-vpc-egress --canary 10,50,100 --step-wait 1s --yes"
	s := rep.Steps[8]
	if s.Step != 9 || s.Command != migrate || s.Status != "ok" || s.ExitCode != exitcode.RolledBack || s.ExpectedExitCode != exitcode.RolledBack ||
		!strings.Contains(s.Output, "metrics gate: revision run-service-") || !strings.Contains(s.Output, "Outcome: rolled back") || !strings.HasPrefix(s.Output, "\n── 9/14 ── ") {
		t.Errorf("step 9 = %+v", s)
	}
	s = rep.Steps[9]
	if s.Step != 10 || s.Command != migrate || s.Status != "ok" || s.ExitCode != 0 || !strings.Contains(s.Output, "Outcome: migrated") || !strings.Contains(s.Output, "metrics gate: no worse") {
		t.Errorf("step 10 = %+v", s)
	}
	if s := rep.Steps[6]; s.ExpectedExitCode != exitcode.Preflight || s.ExitCode != exitcode.Preflight || s.Status != "ok" {
		t.Errorf("step 7 = %+v", s)
	}
	if !strings.Contains(r.Stderr, "$ runnet inventory\n") {
		t.Errorf("the narration should go to stderr with --format json: %q", r.Stderr)
	}
}

// A step that does not do what the story expects stops the demo, naming it (exit 1); the
// steps after it are not run.
func TestDemoFailureNamesStep(t *testing.T) {
	r := runDemoWith(t, func(o *DemoOptions) {
		fast(o)
		o.setup = func(e *emulator.Emulator) {
			f, err := emulator.ParseFault("google.cloud.run.v2.Services/UpdateService=PERMISSION_DENIED:1")
			if err != nil {
				panic(err)
			}
			e.InjectFault(f)
		}
	}, "--step-wait", "0s")
	if r.Code != exitcode.Failure {
		t.Fatalf("exit %d, want 1\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "Error: the demo stopped at step 5: 'runnet attach run-service --connector run-connector' exited with status 4, expected 0") {
		t.Errorf("stderr %q", r.Stderr)
	}
	for _, want := range []string{"5     runnet attach run-service --connector run-connector", "FAILED (exit 4, expected 0)", "6     runnet connector users run-connector", "not-run", "The story stopped at step 5"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "$ runnet connector users") {
		t.Errorf("ran a step after the failed one:\n%s", r.Stdout)
	}
}

func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--step-wait", "-1s"}, "--step-wait: -1s is out of range"},
		{[]string{"--step-wait", "1m"}, "--step-wait: 1m0s is out of range"},
		{[]string{"--project", "p-123456"}, "--project and --region do not apply"},
		{[]string{"--region", "us-east1"}, "--project and --region do not apply"},
		{[]string{"extra"}, `unknown command "extra"`},
	} {
		ran := false
		r := runStubbed(t, "demo", func(f *Factory) *cobra.Command {
			return NewCmdDemo(f, func(context.Context, *DemoOptions) error { ran = true; return nil })
		}, append([]string{"demo"}, tc.args...)...)
		if r.Code != exitcode.Usage || ran || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d (ran %v), stderr %q, want 2 and %q", tc.args, r.Code, ran, r.Stderr, tc.want)
		}
	}
}

func TestShellJoinAndWrap(t *testing.T) {
	if got := shellJoin([]string{"a", "b c", "it's", "", "10,50"}); got != `a 'b c' 'it'\''s' '' 10,50` {
		t.Errorf("shellJoin = %s", got)
	}
	if got := wrap("one two three four", 9, "  "); got != "one two\n  three\n  four" {
		t.Errorf("wrap = %q", got)
	}
}

// `runnet emulator start --seed story` serves the demo's starting world.
func TestEmulatorStartSeeds(t *testing.T) {
	for _, tc := range []struct {
		seed string
		code int
		want string
	}{
		{"story", 0, ""}, {"demo", 0, ""}, {"empty", 0, ""},
		{"nope", exitcode.Usage, `--seed: "nope" is not a seed; valid values are empty, demo, story`},
	} {
		var got *EmulatorStartOptions
		r := runStubbed(t, "start", func(f *Factory) *cobra.Command {
			return NewCmdEmulatorStart(f, func(_ context.Context, o *EmulatorStartOptions) error { got = o; return nil })
		}, "start", "--seed", tc.seed)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) || (tc.code == 0) != (got != nil && got.Seed == tc.seed) {
			t.Errorf("--seed %s: exit %d, stderr %q", tc.seed, r.Code, r.Stderr)
		}
	}
}

// --fault takes every method the emulator injects faults into: the Monitoring and Cloud
// Asset gRPC methods and the Billing Catalog, VPC Access PATCH and Service Usage (the Direct
// VPC quota) REST ones too.
func TestEmulatorFaultMethodsBeyondRunAndCompute(t *testing.T) {
	for _, spec := range []string{
		"serviceusage.services.consumerQuotaMetrics.list=PERMISSION_DENIED:5",
		"cloudbilling.services.skus.list=7:100",
		"vpcaccess.projects.locations.connectors.patch=14",
		"google.monitoring.v3.MetricService/ListTimeSeries=7",
		"google.cloud.asset.v1.AssetService/SearchAllResources=7",
	} {
		var got *EmulatorStartOptions
		r := runStubbed(t, "start", func(f *Factory) *cobra.Command {
			return NewCmdEmulatorStart(f, func(_ context.Context, o *EmulatorStartOptions) error { got = o; return nil })
		}, "start", "--fault", spec)
		if r.Code != 0 || got == nil || len(got.faults) != 1 {
			t.Errorf("--fault %s: exit %d, stderr %q", spec, r.Code, r.Stderr)
		}
	}
}
