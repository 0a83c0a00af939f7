package cli

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// onPremTrap declares the trap no static check sees: a database on-premises, reached through
// a VPN route, whose own allowlist admits only the connector's /28; run-service calls it for
// every request and receives load.
func onPremTrap(t *testing.T, er *emuRun, allow ...string) {
	t.Helper()
	if err := er.E.AddVPNRoute(tProject, tRegion, emulator.DemoNetwork, "to-onprem", "192.168.10.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := er.E.SetDestination(emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: tProject,
		Network: emulator.DemoNetwork, Allow: allow}); err != nil {
		t.Fatal(err)
	}
	svc := "projects/" + tProject + "/locations/" + tRegion + "/services/" + emulator.DemoService
	if err := er.E.SetDependencies(svc, []emulator.Dependency{{Destination: "partner-db"}}); err != nil {
		t.Fatal(err)
	}
	if err := er.E.SetLoad(svc, emulator.Load{RPS: 2000}); err != nil {
		t.Fatal(err)
	}
}

// Preflight passes, but the Direct VPC canary's requests fail at the partner's allowlist: the
// gate sees its 5xx in the first step and rolls back (exit 6), with the figures in the report.
// Once the allowlist admits the subnet, the same migration goes through, each step judged.
func TestMigrateCanaryGateRollsBackOn5xx(t *testing.T) {
	er := newEmu(t)
	onPremTrap(t, er, "10.15.0.0/28")
	args := []string{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,50,100",
		"--step-wait", "1500ms", "--min-requests", "50", "--yes", "--format", "json"}
	r := er.Run(t, false, "", args...)
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6 (rolled back): %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if len(egress.Failed(rep.Checks)) != 0 {
		t.Errorf("preflight failed: %+v", egress.Failed(rep.Checks))
	}
	i := slices.IndexFunc(rep.Steps, func(s egress.StepResult) bool { return s.Gate != nil })
	if i < 0 {
		t.Fatalf("no step carries the gate's figures: %+v", rep.Steps)
	}
	g := rep.Steps[i].Gate
	if rep.Steps[i].Percent != 10 || !g.Judged || g.Passed || g.New.Requests < 50 || g.New.Errors != g.New.Requests || g.Old.Errors != 0 || g.Old.Requests == 0 {
		t.Errorf("gate at step %d (%d%%): %+v; want the 10%% step judged and refused: every new request 5xx, none of the old", i, rep.Steps[i].Percent, g)
	}
	if !strings.Contains(r.Stderr, "--max-error-rate") || !strings.Contains(rep.Error, "metrics gate") {
		t.Errorf("error %q, stderr %q: want the gate named", rep.Error, r.Stderr)
	}
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
		t.Errorf("after the rollback the service uses %s", w.VPC.Mode())
	}

	// The partner admits the Direct VPC subnet: the same command succeeds.
	if err := er.E.SetDestination(emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: tProject,
		Network: emulator.DemoNetwork, Allow: []string{"10.15.0.0/28", "10.8.0.0/24"}}); err != nil {
		t.Fatal(err)
	}
	r = er.Run(t, false, "", args...)
	if r.Code != exitcode.OK {
		t.Fatalf("with the allowlist fixed: exit %d: %s", r.Code, r.Stderr)
	}
	rep = report(t, r)
	var judged int
	for _, s := range rep.Steps {
		if s.Gate != nil {
			if !s.Gate.Judged || !s.Gate.Passed || s.Gate.New.Errors != 0 {
				t.Errorf("step %d%%: gate %+v, want judged and passed", s.Percent, s.Gate)
			}
			judged++
		}
	}
	if judged != 2 {
		t.Errorf("%d steps judged, want 2 (10%% and 50%%)", judged)
	}
}

// Fewer requests than --min-requests are not enough to judge a ratio, but a new revision that
// failed every one of them already fails more than --max-error-rate allows of the minimum:
// the gate rolls back instead of sending the next step's users to it.
func TestMigrateCanaryGateFewRequestsAllFailing(t *testing.T) {
	er := newEmu(t)
	onPremTrap(t, er, "10.15.0.0/28")
	svc := "projects/" + tProject + "/locations/" + tRegion + "/services/" + emulator.DemoService
	if err := er.E.SetLoad(svc, emulator.Load{RPS: 200}); err != nil {
		t.Fatal(err)
	}
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,50,100",
		"--step-wait", "500ms", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6 (rolled back): %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	i := slices.IndexFunc(rep.Steps, func(s egress.StepResult) bool { return s.Gate != nil })
	if i < 0 {
		t.Fatalf("no step carries the gate's figures: %+v", rep.Steps)
	}
	g := rep.Steps[i].Gate
	if rep.Steps[i].Percent != 10 || !g.Judged || g.Passed || g.New.Requests == 0 || g.New.Requests >= egress.DefaultGateMinRequests ||
		g.New.Errors != g.New.Requests || !strings.Contains(g.Reason, "even were the rest of 100 to succeed") {
		t.Errorf("gate at step %d (%d%%): %+v; want the 10%% step refused on fewer than 100 requests, all 5xx", i, rep.Steps[i].Percent, g)
	}
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
		t.Errorf("after the rollback the service uses %s", w.VPC.Mode())
	}
}

// The gate's flags: ranges, and a --canary to judge.
func TestMigrateGateFlags(t *testing.T) {
	er := newEmu(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-error-rate", "5"}, "--max-error-rate sets the metrics gate of --canary steps"},
		{[]string{"--canary", "10,100", "--max-error-rate", "101"}, "--max-error-rate: 101 is not between 0 and 100"},
		{[]string{"--canary", "10,100", "--max-latency-increase", "-1"}, "--max-latency-increase: -1 is negative"},
		{[]string{"--canary", "10,100", "--min-requests", "0"}, "--min-requests: 0 must be at least 1"},
		// NaN compares false with every bound, and Inf is no percentage.
		{[]string{"--canary", "10,100", "--max-error-rate", "NaN"}, "--max-error-rate: NaN is not between 0 and 100"},
		{[]string{"--canary", "10,100", "--max-latency-increase", "NaN"}, "--max-latency-increase: NaN is not a finite number; valid: 0 or more"},
		{[]string{"--canary", "10,100", "--max-latency-increase", "Inf"}, "--max-latency-increase: +Inf is not a finite number"},
		// Only the steps before the last are judged: --canary 100 has none, and a threshold
		// given for it would be ignored.
		{[]string{"--canary", "100", "--max-error-rate", "5"}, "--max-error-rate sets the metrics gate, which judges the --canary steps before the last, and --canary 100 has none"},
		{[]string{"--canary", "100", "--min-requests", "10"}, "--canary 100 has none; add a step"},
		// A threshold of a gate turned off.
		{[]string{"--canary", "10,100", "--metric-gate=false", "--max-latency-increase", "20"}, "--max-latency-increase sets the metrics gate, which --metric-gate=false turns off"},
		// The journal holds the plan of an interrupted run: the gate's flags cannot change it.
		{[]string{"--resume", "--max-error-rate", "3"}, "--max-error-rate cannot be used with --resume"},
		// A job has no traffic to move in steps nor to judge: asked for, the gate would be
		// silently skipped and the job updated at once.
		{[]string{"job/nightly-export", "--canary", "10,100", "--max-error-rate", "2"}, "--canary moves a service's traffic in steps, and none of the workloads is a service"},
	} {
		args := []string{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes"}
		switch {
		case tc.args[0] == "--resume":
			args = []string{"migrate", "run-service", "--yes"}
		case !strings.HasPrefix(tc.args[0], "--"):
			args = []string{"migrate", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes"}
		}
		r := er.Run(t, false, "", append(args, tc.args...)...)
		if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
	for _, n := range []string{"run-service", "job/nightly-export"} {
		if w := er.Read(t, n); w.VPC.Mode() != egress.ModeConnector {
			t.Fatalf("after refused flags %s uses %s", n, w.VPC.Short())
		}
	}
	// --metric-gate=false: no step is judged.
	onPremTrap(t, er, "10.15.0.0/28")
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,100",
		"--step-wait", "200ms", "--metric-gate=false", "--yes", "--format", "json")
	if r.Code != exitcode.OK {
		t.Fatalf("--metric-gate=false: exit %d: %s", r.Code, r.Stderr)
	}
	if rep := report(t, r); slices.ContainsFunc(rep.Steps, func(s egress.StepResult) bool { return s.Gate != nil }) {
		t.Errorf("a step was judged with the gate off: %+v", rep.Steps)
	}
}

// The start-up delay startup-probe warns about, end to end: without an HTTP startup probe a
// Direct VPC revision's connections fail for a while after it is Ready, and the gate rolls
// the canary back; with one (instances take requests only once egress connects) the same
// migration goes through and startup-probe passes.
func TestMigrateStartupDelayCaughtByGate(t *testing.T) {
	er := newEmu(t)
	onPremTrap(t, er, "10.15.0.0/28", "10.8.0.0/24") // reachable from both paths
	if err := er.E.SetDirectVPCWarmup(time.Hour); err != nil {
		t.Fatal(err)
	}
	args := []string{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,100",
		"--step-wait", "1s", "--min-requests", "50", "--yes", "--format", "json"}
	r := er.Run(t, false, "", args...)
	if r.Code != exitcode.RolledBack {
		t.Fatalf("without an HTTP startup probe: exit %d, want 6: %s", r.Code, r.Stderr)
	}
	checks := report(t, r).Checks
	if i := slices.IndexFunc(checks, func(c egress.Check) bool { return c.Name == egress.CheckStartupProbe }); i < 0 || checks[i].Status != egress.StatusWarn {
		t.Errorf("checks %+v: want startup-probe's warning", checks)
	}
	er.ChangeService(t, emulator.DemoService, func(s *runpb.Service) {
		s.Template.Containers[0].StartupProbe = &runpb.Probe{ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/ready"}}}
	})
	r = er.Run(t, false, "", args...)
	if r.Code != exitcode.OK {
		t.Fatalf("with an HTTP startup probe: exit %d: %s", r.Code, r.Stderr)
	}
}

// metric-gate: before anything changes, the gate's metrics are read. A refused read fails
// preflight (the gate could stop nothing); --force goes on, and each step the gate could not
// judge is then a warning on stderr, terminal or not. A service without traffic, or with too
// little for the first step, warns; enough traffic passes with the figures.
func TestMigrateMetricGateCheck(t *testing.T) {
	er := newEmu(t)
	svc := "projects/" + tProject + "/locations/" + tRegion + "/services/" + emulator.DemoService
	gated := []string{"--canary", "10,50,100", "--step-wait", "5m"}

	// No --canary, or the gate turned off: no check.
	for _, extra := range [][]string{nil, append(slices.Clone(gated), "--metric-gate=false")} {
		_, _, rep := dryRun(t, er, egress.CheckPermissions, extra...)
		if slices.ContainsFunc(rep.Checks, func(c egress.Check) bool { return c.Name == egress.CheckMetricGate }) {
			t.Errorf("%v: a metric-gate check: %+v", extra, rep.Checks)
		}
	}

	// No traffic: nothing to judge.
	code, c, _ := dryRun(t, er, egress.CheckMetricGate, gated...)
	if code != exitcode.OK || c.Status != egress.StatusWarn || !strings.Contains(c.Message, "no requests") || !strings.Contains(c.Hint, "--probe-path") {
		t.Errorf("without traffic: exit %d, %+v; want a warning that nothing can be judged", code, c)
	}

	// An hour at 10 requests a second: the 10% step of 5 minutes gives the new revision about
	// 300 requests, enough; a 1-minute step gives about 60, fewer than 100.
	if err := er.E.SetLoad(svc, emulator.Load{RPS: 10}); err != nil {
		t.Fatal(err)
	}
	if err := er.E.Backfill(time.Hour); err != nil {
		t.Fatal(err)
	}
	code, c, _ = dryRun(t, er, egress.CheckMetricGate, gated...)
	if code != exitcode.OK || c.Status != egress.StatusPass || c.Numbers["requests"] < 5990 || c.Numbers["expectedFirstStep"] < 295 || c.Numbers["expectedFirstStep"] > 305 {
		t.Errorf("at 10 rps with 5m steps: exit %d, %+v; want a pass with about 6000 requests read and 300 expected", code, c)
	}
	code, c, _ = dryRun(t, er, egress.CheckMetricGate, "--canary", "10,50,100", "--step-wait", "1m")
	if code != exitcode.OK || c.Status != egress.StatusWarn || c.Numbers["expectedFirstStep"] > 65 || !strings.Contains(c.Message, "--min-requests") {
		t.Errorf("at 10 rps with 1m steps: exit %d, %+v; want a warning that about 60 requests are too few", code, c)
	}

	// Cloud Monitoring off in the project: the gate cannot read; preflight fails (exit 3) and
	// names the ways out; nothing changed.
	if err := er.E.DisableService(tProject, emulator.ServiceMonitoring); err != nil {
		t.Fatal(err)
	}
	code, c, _ = dryRun(t, er, egress.CheckMetricGate, gated...)
	if code != exitcode.Preflight || c.Status != egress.StatusFail || !strings.Contains(c.Message, "monitoring") ||
		!strings.Contains(c.Hint, "--metric-gate=false") || !strings.Contains(c.Hint, "roles/monitoring.viewer") {
		t.Errorf("Monitoring disabled: exit %d, %+v; want a failure naming the role and --metric-gate=false", code, c)
	}
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,50,100", "--step-wait", "300ms", "--yes")
	if r.Code != exitcode.Preflight {
		t.Fatalf("Monitoring disabled, not forced: exit %d, want 3: %s", r.Code, r.Stderr)
	}
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
		t.Fatalf("a refused preflight changed the service: %s", w.VPC.Mode())
	}

	// Forced, the run goes on and says of each step that it went unjudged, on a pipe too.
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,50,100", "--step-wait", "300ms",
		"--force", egress.CheckMetricGate, "--yes", "--format", "json")
	if r.Code != exitcode.OK {
		t.Fatalf("forced: exit %d: %s", r.Code, r.Stderr)
	}
	if n := strings.Count(r.Stderr, "Warning: "+emulator.DemoService); n < 2 || !strings.Contains(r.Stderr, "could not judge the step to 10%") {
		t.Errorf("stderr %q: want a warning for each of the 2 unjudged steps", r.Stderr)
	}
	for _, s := range report(t, r).Steps {
		if s.Gate != nil && (s.Gate.Judged || s.Gate.Error == "") {
			t.Errorf("step %d%%: gate %+v, want not judged, with the read's error", s.Percent, s.Gate)
		}
	}
}

// A gated canary whose runnet died during a step's watch (SIGKILL) is finished by --resume
// with the same gate: the new revision's 5xx roll it back (exit 6) instead of the remaining
// steps moving all traffic to it unjudged.
func TestMigrateResumeKeepsTheGate(t *testing.T) {
	bin, err := exec.LookPath("runnet") // the test binary, as TestMain provides it
	if err != nil {
		t.Skip("no runnet command: ", err)
	}
	er := newEmu(t)
	onPremTrap(t, er, "10.15.0.0/28")
	cmd := exec.Command(bin, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress",
		"--canary", "10,50,100", "--step-wait", "2s", "--min-requests", "50", "--yes")
	cmd.Env = append(os.Environ(), EnvEmulatorHost+"="+er.Addr, "CLOUDSDK_CONFIG="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		w := er.Read(t, "run-service")
		moved := false
		for _, ts := range w.TrafficStatus {
			moved = moved || (ts.Tag == "runnet-direct" && ts.Percent > 0)
		}
		if moved {
			_ = cmd.Process.Kill()
			killed = true
			break
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatal("the first canary step never moved traffic")
	}
	j := er.Journal(t, "run-service")
	if j == nil {
		t.Fatal("the killed run left no journal")
	}
	r := er.Run(t, false, "", "migrate", "--resume", "run-service", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("resume: exit %d, want 6 (the gate refuses the new revision's 5xx): %s\n%s", r.Code, r.Stderr, r.Stdout)
	}
	rep := report(t, r)
	judged := false
	for _, s := range rep.Steps {
		judged = judged || (s.Gate != nil && s.Gate.Judged && !s.Gate.Passed)
	}
	if !judged || !strings.Contains(rep.Error, "metrics gate") {
		t.Fatalf("steps %s, error %q: want a step the gate refused", stepLine(rep), rep.Error)
	}
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector || w.Journal() != "" {
		t.Errorf("after the resumed rollback: %s, journal %q", w.VPC.Short(), w.Journal())
	}
}
