package cli

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// runTerminal runs runnet against the emulator as from a terminal: stdin, stdout and stderr
// are all terminals, stdin is what the user types.
func runTerminal(t *testing.T, er *emuRun, stdin string, args ...string) result {
	t.Helper()
	streams, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	streams.SetStdinTTY(true)
	streams.SetStdoutTTY(true)
	streams.SetStderrTTY(true)
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, er.Addr, "NO_COLOR", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := execute(ctx, f, NewRootCmd(f), args)
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// On a terminal the plan is shown once, before the question; the report at the end gives the
// checks as a count instead of listing them again. The canary's watch is not silent: a status
// line shows each health check. A rollback's steps are numbered on their own, after the plan's.
func TestMigrateOnATerminal(t *testing.T) {
	er := newEmu(t)
	r := runTerminal(t, er, "y\n", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,100", "--step-wait", "50ms")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	all := r.Stderr + r.Stdout
	if n := strings.Count(all, "PASS  subnet-size"); n != 1 {
		t.Errorf("the checks are listed %d times, want once:\n%s", n, all)
	}
	if n := strings.Count(all, "connector projects/demo-project/locations/asia-northeast1/connectors/run-connector is kept"); n != 1 {
		t.Errorf("the plan's notes are listed %d times, want once", n)
	}
	if !strings.Contains(r.Stdout, "Checks:    14 passed, 2 with a warning (listed with the plan above)") {
		t.Errorf("report:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "[3/4] send 10% of traffic") || !strings.Contains(r.Stderr, "watching revision run-service-00002-") ||
		!regexp.MustCompile(`\r\x1b\[Krun-service: revision run-service-00002-\S+ healthy at \d\d:\d\d:\d\d; next step in 0s\r\x1b\[Krun-service: metrics gate: not judged: the new revision served 0 requests[^\n]*\nrun-service: \[4/4\]`).MatchString(r.Stderr) {
		t.Errorf("stderr during the watch:\n%q", r.Stderr)
	}

	// A run that fails at its last step rolls back: [rollback 1], never [5/5] after 4 steps.
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.FailedPrecondition, Count: 1, Skip: 1})
	r = runTerminal(t, er, "", "migrate", "run-service", "--to", "connector", "--connector", "run-connector", "--canary", "50,100", "--yes")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "[rollback 1] put back") || !strings.Contains(r.Stderr, "[rollback 2] put back") ||
		strings.Contains(r.Stderr, "[5/") || strings.Contains(r.Stderr, "[6/") {
		t.Errorf("progress:\n%s", r.Stderr)
	}
	if !regexp.MustCompile(`(?m)^Rollback:\n  1\.  done +restore-template `).MatchString(r.Stdout) {
		t.Errorf("report:\n%s", r.Stdout)
	}
}

// --cleanup's connector delete refused (PERMISSION_DENIED): every workload migrated, and the
// report, the summary and the error all say the cleanup failed; exit 4, as for any permission
// denied.
func TestMigrateCleanupPermissionDenied(t *testing.T) {
	er := newEmu(t)
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.vpcaccess.v1.VpcAccessService/DeleteConnector", Code: codes.PermissionDenied, Count: 1})
	args := []string{"migrate", "--all", "--from-connector", "run-connector", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--cleanup", "--yes"}
	r := er.Run(t, false, "", append(args, "--format", "table")...)
	if r.Code != exitcode.Permission {
		t.Fatalf("exit %d, want 4: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "2 workloads: 2 migrated, 0 no-op, 0 planned, 0 blocked, 0 rolled back, 0 failed, 0 skipped; cleanup failed: 1 connector not deleted") ||
		!strings.Contains(r.Stdout, "Connector run-connector: not deleted: ") {
		t.Errorf("report:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "Error: 2 workloads migrated, but the cleanup failed: connector run-connector was not deleted: ") ||
		strings.Contains(r.Stderr, "not migrated") {
		t.Errorf("stderr: %s", r.Stderr)
	}
	// The JSON says it too.
	er2 := newEmu(t)
	er2.E.InjectFault(emulator.Fault{Method: "google.cloud.vpcaccess.v1.VpcAccessService/DeleteConnector", Code: codes.PermissionDenied, Count: 1})
	r = er2.Run(t, false, "", append(args, "--format", "json")...)
	var fr FleetReport
	if err := json.Unmarshal([]byte(r.Stdout), &fr); err != nil {
		t.Fatal(err)
	}
	if r.Code != exitcode.Permission || fr.Summary.Migrated != 2 || fr.Summary.CleanupFailed != 1 || len(fr.Cleanup) != 1 || fr.Cleanup[0].Status != "failed" {
		t.Errorf("exit %d, summary %+v, cleanup %+v", r.Code, fr.Summary, fr.Cleanup)
	}
}

// --all --from-connector with a connector that does not exist is a typo, not "nothing to do".
func TestMigrateFromConnectorThatDoesNotExist(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "migrate", "--all", "--from-connector", "nosuch", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "--from-connector: connector nosuch does not exist in project demo-project, region asia-northeast1 (NOT_FOUND); connectors there: run-connector") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
	if r.Stdout != "" {
		t.Errorf("stdout %q", r.Stdout)
	}
	// One that exists and that nothing uses is fine.
	if r := er.Run(t, false, "", "connector", "create", "spare", "--network", "run-vpc", "--range", "10.60.0.0/28"); r.Code != 0 {
		t.Fatalf("create: %s", r.Stderr)
	}
	r = er.Run(t, false, "", "migrate", "--all", "--from-connector", "spare", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, "nothing to migrate") {
		t.Errorf("exit %d: %s", r.Code, r.Stderr)
	}
}

// splitService gives run-service a second revision and an 80/20 split with three tags: the
// older revision serves 80% (tag blue) and is also tagged old; the latest serves 20% (green).
func splitService(t *testing.T, er *emuRun) []egress.TrafficTarget {
	t.Helper()
	r1 := er.Read(t, "run-service").LatestReady
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		s.Template.Labels = map[string]string{"release": "2"}
	})
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		s.Traffic = []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: r1, Percent: 80, Tag: "blue"},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 20, Tag: "green"},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: r1, Percent: 0, Tag: "old"},
		}
	})
	w := er.Read(t, "run-service")
	if len(w.Traffic) != 3 || w.LatestReady == r1 {
		t.Fatalf("split not set up: %+v (latest %s)", w.Traffic, w.LatestReady)
	}
	return w.Traffic
}

// interruptTwice migrates run-service and interrupts it twice: once the new revision is
// deployed, then once the rollback's first change has landed on the service (its response
// lost), so that the rollback stops half-way with the journal on the service.
func interruptTwice(t *testing.T, er *emuRun) result {
	t.Helper()
	// Calls of UpdateService: the deploy, the journal's rolling-back write, then the
	// rollback's template change: applied, and its response lost.
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Unavailable, Skip: 2, AfterCommit: true})
	sigs := make(chan os.Signal, 2)
	ctx, stop := WithInterrupts(context.Background(), sigs, func(code int) { t.Errorf("exit(%d) called", code) })
	defer stop()
	second := false
	obs := func(_ context.Context, ev egress.Event) error {
		switch {
		case ev.Kind == egress.EventStepFinished && ev.Step.Kind == egress.StepDeployRevision:
			sigs <- os.Interrupt
		case ev.Kind == egress.EventStepStarted && ev.Step.Kind == egress.StepRestoreTemplate && !second:
			second = true
			go func() {
				// Once the template change is on the service, stop waiting.
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if er.Read(t, "run-service").VPC.Mode() == egress.ModeConnector {
						break
					}
				}
				sigs <- os.Interrupt
			}()
		}
		return nil
	}
	r := runObserved(t, er, ctx, obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "50,100", "--yes", "--format", "json")
	er.E.ClearFaults()
	return r
}

// After a second interrupt, the report says where the service stands now (a fresh read, not
// the last state runnet saw) and the commands that restore exactly what the journal holds:
// every share and every tag of the split. Plain --resume then finishes the rollback: exit 6,
// with the reason the rollback started for.
func TestMigrateSecondInterruptRecovery(t *testing.T) {
	er := newEmu(t)
	orig := splitService(t, er)
	r := interruptTwice(t, er)
	if r.Code != exitcode.Failure {
		t.Fatalf("exit %d, want 1: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	r1 := orig[0].Revision
	wantCmd := "gcloud run services update-traffic run-service --to-revisions " + r1 + "=80,LATEST=20 --set-tags blue=" + r1 + ",green=LATEST,old=" + r1 +
		" --project demo-project --region asia-northeast1"
	found := false
	for _, c := range rep.Recovery {
		found = found || c == wantCmd
	}
	if !found {
		t.Errorf("recovery %q\nwant %q", rep.Recovery, wantCmd)
	}
	// The template change landed before runnet stopped waiting: the state says connector.
	if !strings.HasPrefix(rep.State, "template: connector") {
		t.Errorf("state %q: not the service as it is now", rep.State)
	}
	if strings.Contains(r.Stderr, "context canceled") || strings.Contains(rep.Error, "context canceled") {
		t.Errorf("raw context error reaches the user: %q / %q", r.Stderr, rep.Error)
	}

	r = er.Run(t, false, "", "migrate", "--resume", "run-service", "--break-lock", "--yes", "--format", "json")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("resume: exit %d, want 6: %s", r.Code, r.Stderr)
	}
	if rep := report(t, r); rep.Outcome != egress.OutcomeRolledBack || !strings.Contains(rep.Error, "interrupted") ||
		!regexp.MustCompile(`run-service: rolled back: interrupted (before|during) step 2 `).MatchString(r.Stderr) {
		t.Errorf("outcome %s, error %q, stderr %q", rep.Outcome, rep.Error, r.Stderr)
	}
	after := er.Read(t, "run-service")
	if after.Journal() != "" || len(after.Traffic) != 3 || after.Traffic[0] != orig[0] || after.Traffic[2] != orig[2] || !after.Traffic[1].Latest || after.Traffic[1].Percent != 20 || after.Traffic[1].Tag != "green" {
		t.Errorf("after: journal %q, traffic %+v, want %+v", after.Journal(), after.Traffic, orig)
	}
}

// --resume --rollback on a run that was already rolling back: undoing is what was asked, so it
// is success (exit 0), and the reason the run was rolling back is in the notes. (Plain
// --resume in the same state exits 6 with that reason: the migration did not happen.)
func TestMigrateResumeRollbackOfARollback(t *testing.T) {
	er := newEmu(t)
	splitService(t, er)
	if r := interruptTwice(t, er); r.Code != exitcode.Failure {
		t.Fatalf("exit %d, want 1: %s", r.Code, r.Stderr)
	}
	r := er.Run(t, false, "", "migrate", "--resume", "run-service", "--rollback", "--break-lock", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("resume --rollback: exit %d, want 0: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeRolledBack || !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.HasPrefix(n, "the interrupted run was rolling back: interrupted ")
	}) {
		t.Errorf("outcome %s, notes %q", rep.Outcome, rep.Notes)
	}
}

// The plan shown before the confirmation: settings, checks with their hints in words (the
// commands they suggest spelled out), steps, notes and the summary line.
func TestWritePlanText(t *testing.T) {
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: "my-project", Region: "asia-northeast1", Name: "run-service"}
	w := egress.Workload{Ref: ref, VPC: egress.VPC{Connector: "run-connector"}, MaxInstances: 100}
	f := egress.Facts{Workload: w, Target: egress.VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"},
		Network:     &egress.NetworkFacts{Name: "run-vpc", Exists: true},
		Subnet:      &egress.SubnetFacts{Name: "run-direct-vpc-egress", Region: "asia-northeast1", Network: "run-vpc", CIDR: "10.8.0.0/24", Exists: true},
		Permissions: &egress.PermissionFacts{Checked: []string{"run.services.update"}},
	}
	p := egress.BuildPlan(egress.PlanOptions{Canary: []int{10, 100}}, w, f.Target, egress.RunPreflight(f))
	var b strings.Builder
	if err := writePlanText(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Workload:  run-service (projects/my-project/locations/asia-northeast1/services/run-service)\n",
		"From:      connector: connector projects/my-project/locations/asia-northeast1/connectors/run-connector, egress private-ranges-only\n",
		"\nChecks:\n",
		"  PASS  vpc-settings",
		"  WARN  free-ips ",
		"hint: use a /23 or larger subnetwork (31 blocks; see runnet subnet plan --max-instances 100)",
		"\nSteps:\n  1.  deploy-revision  deploy a revision of run-service",
		"  4.  shift-traffic    send 100% of traffic",
		"\nNotes:\n  - the new revision is deployed with no traffic first, and the traffic moves once it is Ready: the traffic moves in steps (10,100)",
		"\n  - connector",
		"\nready: 4 steps to switch run-service from connector to direct\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "hint: ") != 1 {
		t.Errorf("hints of passing checks printed:\n%s", out)
	}

	b.Reset()
	noop := egress.BuildPlan(egress.PlanOptions{}, w, w.VPC, nil)
	if err := writePlanText(&b, noop); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Steps:") || !strings.HasSuffix(b.String(), "\nnothing to do: run-service already uses connector\n") {
		t.Errorf("no-op output:\n%s", b.String())
	}
	blocked := egress.BuildPlan(egress.PlanOptions{}, w, f.Target, []egress.Check{{Name: egress.CheckFreeIPs, Status: egress.StatusFail}})
	if got := planSummary(blocked); got != "blocked by failed checks: free-ips" {
		t.Errorf("blocked summary %q", got)
	}
}
