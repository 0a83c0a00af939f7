package cli

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// Reliability of `runnet migrate`: the lock and journal on the workload, concurrent changes,
// interrupts, and --resume. The fault matrix (every API call failing, the process killed at
// every step) is in internal/faultmatrix.

func TestMigrateResumeFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"run-service", "--rollback", "--to", "none"}, "--rollback is used with --resume"},
		{[]string{"run-service", "--break-lock", "--to", "none"}, "--break-lock is used with --resume"},
		{[]string{"--resume", "--yes"}, "--resume takes one WORKLOAD"},
		{[]string{"--resume", "a", "b", "--yes"}, "--resume takes one WORKLOAD"},
		{[]string{"--resume", "run-service", "--to", "direct", "--yes"}, "--to cannot be used with --resume"},
		{[]string{"--resume", "run-service", "--canary", "10,100", "--yes"}, "--canary cannot be used with --resume"},
		{[]string{"--resume", "run-service"}, "pass --yes"},
		{[]string{"--resume", "bad/name/x", "--yes"}, "WORKLOAD"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ran := false
			r := runStubbed(t, "migrate", func(f *Factory) *cobra.Command {
				return NewCmdMigrate(f, func(context.Context, *MigrateOptions) error { ran = true; return nil })
			}, append([]string{"migrate"}, tc.args...)...)
			if r.Code != exitcode.Usage || ran || !strings.Contains(r.Stderr, tc.wantErr) {
				t.Fatalf("exit %d (ran %v), stderr %q, want %q", r.Code, ran, r.Stderr, tc.wantErr)
			}
		})
	}
}

// Two `runnet migrate` of one service at the same moment (both read it before either
// writes): exactly one proceeds; the other finds the first's journal in its way and exits 5
// having changed nothing; the service ends migrated, without a journal, every other field as
// it was.
func TestMigrateConcurrentRunsOneProceeds(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	// Both runs read the service before either writes; the winner's later writes wait until
	// the loser is done, so that the loser meets the winner's journal.
	race := harness.HoldWrites(er.E, "UpdateService", 2)
	defer race.Stop()
	var wg sync.WaitGroup
	rs := make([]result, 2)
	for i := range rs {
		wg.Go(func() {
			rs[i] = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "50,100", "--yes", "--format", "json")
			race.Release() // the first run to end is the loser
		})
	}
	wg.Wait()
	win, lose := rs[0], rs[1]
	if win.Code != 0 {
		win, lose = lose, win
	}
	if win.Code != 0 || lose.Code != exitcode.Conflict {
		t.Fatalf("exit codes %d and %d, want 0 and 5:\n%s\n%s", rs[0].Code, rs[1].Code, rs[0].Stderr, rs[1].Stderr)
	}
	if report(t, win).Outcome != egress.OutcomeMigrated || !strings.Contains(lose.Stderr, "being migrated by another runnet") ||
		!strings.Contains(strings.Join(report(t, lose).Notes, " "), "nothing was changed") {
		t.Errorf("winner %s; loser stderr %q", report(t, win).Outcome, lose.Stderr)
	}
	after := er.Read(t, "run-service")
	if after.VPC.Subnet != tSubnet || after.Journal() != "" || len(after.Traffic) != 1 || !after.Traffic[0].Latest {
		t.Errorf("after: vpc %+v, journal %q, traffic %+v", after.VPC, after.Journal(), after.Traffic)
	}
	assertPreserved(t, before.Raw, after.Raw)
}

// Someone changes what the migration changes (the traffic) while it runs: runnet stops with
// exit 5, names the field, undoes nothing (that would overwrite the change) and keeps its
// journal; --resume --rollback --break-lock then restores the service.
func TestMigrateConcurrentTrafficChangeStops(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind == egress.EventStepStarted && ev.Step.Kind == egress.StepShiftTraffic && ev.Step.Percent == 10 {
			er.ChangeService(t, "run-service", func(s *runpb.Service) {
				s.Traffic = append(s.Traffic, &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
					Revision: before.LatestReady, Tag: "someone-elses"})
			})
		}
		return nil
	}
	r := runObserved(t, er, context.Background(), obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,100", "--yes", "--format", "json")
	if r.Code != exitcode.Conflict {
		t.Fatalf("exit %d, want 5: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if !strings.Contains(rep.Error, "changed: traffic") || stepLine(rep) != "deploy-revision:done verify:done shift-traffic:failed shift-traffic:skipped" ||
		!strings.Contains(r.Stderr, "runnet migrate --resume run-service --rollback") {
		t.Fatalf("error %q, steps %s, stderr %q", rep.Error, stepLine(rep), r.Stderr)
	}
	if j := er.Journal(t, "run-service"); j == nil || j.Original.VPC.Connector != tConn {
		t.Fatalf("journal %+v", j)
	}
	// The journal is still live (its lease runs): taking over needs --break-lock.
	if r := er.Run(t, false, "", "migrate", "--resume", "run-service", "--rollback", "--yes"); r.Code != exitcode.Conflict || !strings.Contains(r.Stderr, "--break-lock") {
		t.Fatalf("resume without --break-lock: exit %d: %s", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "migrate", "--resume", "run-service", "--rollback", "--break-lock", "--yes", "--format", "json")
	if r.Code != 0 || report(t, r).Outcome != egress.OutcomeRolledBack {
		t.Fatalf("resume --rollback: exit %d: %s\n%s", r.Code, r.Stderr, r.Stdout)
	}
	after := er.Read(t, "run-service")
	if after.VPC.Connector != tConn || after.Journal() != "" || len(after.Traffic) != 1 || !after.Traffic[0].Latest {
		t.Errorf("after: vpc %+v, journal %q, traffic %+v", after.VPC, after.Journal(), after.Traffic)
	}
}

// Someone changes something else (labels) while it runs: runnet sends its change again from
// the fresh read, finishes, and their change is kept.
func TestMigrateConcurrentOtherChangeContinues(t *testing.T) {
	er := newEmu(t)
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind == egress.EventStepStarted && ev.Step.Kind == egress.StepDeployAndShift {
			er.ChangeService(t, "run-service", func(s *runpb.Service) { s.Labels = map[string]string{"team": "payments"} })
		}
		return nil
	}
	r := runObserved(t, er, context.Background(), obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	after := er.Read(t, "run-service")
	if after.VPC.Subnet != tSubnet || after.Raw.(*runpb.Service).GetLabels()["team"] != "payments" || after.Journal() != "" {
		t.Errorf("after: vpc %+v, labels %v, journal %q", after.VPC, after.Raw.(*runpb.Service).GetLabels(), after.Journal())
	}
}

// putJournal writes a journal on run-service as another runnet would have (a migration to
// Direct VPC egress from the service as it is, at its first step), with the given lease left.
func putJournal(t *testing.T, er *emuRun, left time.Duration) *egress.Journal {
	t.Helper()
	w := er.Read(t, "run-service")
	now := time.Now().UTC().Truncate(time.Second)
	j := &egress.Journal{Version: egress.JournalVersion, ID: "other-run", Who: "bob@laptop", PID: 99,
		Started: now.Add(-time.Hour), Updated: now.Add(-time.Hour), Expires: now.Add(left), Phase: egress.PhaseMigrating, Step: 0,
		Summary: "migrate run-service from connector to direct in 3 steps", Workload: w.Ref,
		Original: egress.Original{VPC: w.VPC, Traffic: w.Traffic, LatestReady: w.LatestReady, LatestCreated: w.LatestCreated, Etag: w.Etag},
		To:       egress.VPC{Network: tNet, Subnet: tSubnet, Egress: egress.EgressPrivateRangesOnly}, Tag: "runnet-direct",
		Steps: []egress.JournalStep{{Kind: egress.StepDeployRevision, Tag: "runnet-direct", Status: egress.StepPending},
			{Kind: egress.StepVerify, Status: egress.StepPending}, {Kind: egress.StepShiftTraffic, Percent: 100, Status: egress.StepPending}},
	}
	v, err := j.Encode()
	if err != nil {
		t.Fatal(err)
	}
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[egress.JournalAnnotation] = v
	})
	return j
}

// A live lock (another runnet is migrating): migrate refuses (exit 5) before sending anything;
// --resume refuses too unless --break-lock, which takes it over and finishes.
func TestMigrateLiveLockRefused(t *testing.T) {
	er := newEmu(t)
	putJournal(t, er, 10*time.Minute)
	er.E.ResetCalls()
	for _, args := range [][]string{
		{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes"},
		{"migrate", "run-service", "--to", "connector", "--connector", "run-connector", "--yes"}, // "no-op" is no excuse
		{"migrate", "--resume", "run-service", "--yes"},
	} {
		r := er.Run(t, false, "", args...)
		if r.Code != exitcode.Conflict || !strings.Contains(r.Stderr, "being migrated by another runnet") || !strings.Contains(r.Stderr, "bob@laptop, pid 99") {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
	if n := er.E.Calls()["google.cloud.run.v2.Services/UpdateService"]; n != 0 {
		t.Errorf("%d updates while locked", n)
	}
	r := er.Run(t, false, "", "migrate", "--resume", "run-service", "--break-lock", "--yes", "--format", "json")
	if r.Code != 0 || report(t, r).Outcome != egress.OutcomeMigrated {
		t.Fatalf("resume --break-lock: exit %d: %s\n%s", r.Code, r.Stderr, r.Stdout)
	}
	after := er.Read(t, "run-service")
	if after.VPC.Subnet != tSubnet || after.Journal() != "" || !after.Traffic[0].Latest || after.LatestReady != after.LatestCreated {
		t.Errorf("after: %+v, journal %q", after.Workload, after.Journal())
	}
}

// A stale lock (its lease ran out: the process died): migrate still refuses, pointing at
// --resume, which takes it over without --break-lock; --rollback undoes instead.
func TestMigrateStaleLockResume(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	putJournal(t, er, -time.Minute)
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes")
	if r.Code != exitcode.Conflict || !strings.Contains(r.Stderr, "stale") || !strings.Contains(r.Stderr, "runnet migrate --resume run-service") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "migrate", "--resume", "run-service", "--rollback", "--yes", "--format", "json")
	if r.Code != 0 || report(t, r).Outcome != egress.OutcomeRolledBack {
		t.Fatalf("resume --rollback: exit %d: %s\n%s", r.Code, r.Stderr, r.Stdout)
	}
	after := er.Read(t, "run-service")
	assertPreserved(t, before.Raw, after.Raw)
	if after.VPC.Connector != tConn || after.LatestReady != before.LatestReady {
		t.Errorf("after: %+v", after.Workload)
	}
	// Nothing left to resume.
	r = er.Run(t, false, "", "migrate", "--resume", "run-service", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Nothing to resume") {
		t.Errorf("again: exit %d: %s", r.Code, r.Stderr)
	}
}

// An annotation that is not a journal runnet can read: refused (exit 5); --break-lock removes
// it and nothing else.
func TestMigrateUnreadableJournal(t *testing.T) {
	er := newEmu(t)
	er.ChangeService(t, "run-service", func(s *runpb.Service) { s.Annotations = map[string]string{egress.JournalAnnotation: "{not json"} })
	before := er.Read(t, "run-service")
	if r := er.Run(t, false, "", "migrate", "run-service", "--to", "none", "--yes"); r.Code != exitcode.Conflict || !strings.Contains(r.Stderr, "cannot be read") {
		t.Fatalf("migrate: exit %d: %s", r.Code, r.Stderr)
	}
	if r := er.Run(t, false, "", "migrate", "--resume", "run-service", "--yes"); r.Code != exitcode.Conflict || !strings.Contains(r.Stderr, "--break-lock removes it") {
		t.Fatalf("resume: exit %d: %s", r.Code, r.Stderr)
	}
	if r := er.Run(t, false, "", "migrate", "--resume", "run-service", "--break-lock", "--yes"); r.Code != 0 {
		t.Fatalf("resume --break-lock: exit %d: %s", r.Code, r.Stderr)
	}
	after := er.Read(t, "run-service")
	if after.Journal() != "" || after.LatestReady != before.LatestReady || after.VPC.Connector != tConn {
		t.Errorf("after: %+v, journal %q", after.Workload, after.Journal())
	}
}

// Interrupted twice: the first interrupt starts the rollback, the second stops waiting for
// it: exit 1, the journal stays, and the report says how to recover; --resume --rollback then
// restores the service.
func TestMigrateSecondInterruptLeavesJournal(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	sigs := make(chan os.Signal, 2)
	ctx, stop := WithInterrupts(context.Background(), sigs, func(code int) { t.Errorf("exit(%d) called", code) })
	defer stop()
	obs := func(_ context.Context, ev egress.Event) error {
		switch {
		case ev.Kind == egress.EventStepFinished && ev.Step.Kind == egress.StepDeployRevision:
			sigs <- os.Interrupt
		case ev.Kind == egress.EventRollbackStarted:
			sigs <- os.Interrupt
			<-SecondInterrupt(ctx)
		}
		return nil
	}
	r := runObserved(t, er, ctx, obs, "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "50,100", "--yes", "--format", "json")
	if r.Code != exitcode.Failure {
		t.Fatalf("exit %d, want 1: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeFailed || !strings.Contains(rep.RollbackError, "interrupted again") ||
		!strings.Contains(r.Stderr, "runnet migrate --resume run-service --rollback") {
		t.Fatalf("outcome %s, rollback error %q, stderr %q", rep.Outcome, rep.RollbackError, r.Stderr)
	}
	if j := er.Journal(t, "run-service"); j == nil {
		t.Fatal("no journal left")
	}
	r = er.Run(t, false, "", "migrate", "--resume", "run-service", "--rollback", "--break-lock", "--yes")
	if r.Code != 0 {
		t.Fatalf("resume: exit %d: %s", r.Code, r.Stderr)
	}
	after := er.Read(t, "run-service")
	if after.VPC.Connector != tConn || after.Journal() != "" || !after.Traffic[0].Latest {
		t.Errorf("after: %+v", after.Workload)
	}
	_ = before
}

// A job with --verify and a worker pool: journaled too, and nothing of it is left.
func TestMigrateJournalJobAndWorkerPool(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "job/nightly-export")
	var seen []string
	obs := func(_ context.Context, ev egress.Event) error {
		if ev.Kind == egress.EventStepStarted && ev.Step.Kind == egress.StepRunExecution {
			if j := er.Journal(t, "job/nightly-export"); j != nil {
				seen = append(seen, string(j.Steps[j.Step].Kind))
			}
		}
		return nil
	}
	r := runObserved(t, er, context.Background(), obs, "migrate", "job/nightly-export", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--verify", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	after := er.Read(t, "job/nightly-export")
	if after.Journal() != "" || len(seen) != 1 || seen[0] != "run-execution" {
		t.Errorf("journal %q; journal at the execution step: %v", after.Journal(), seen)
	}
	assertPreserved(t, before.Raw, after.Raw)
}

// attach and detach respect a migration's lock too (exit 5, nothing sent).
func TestAttachRespectsMigrationLock(t *testing.T) {
	er := newEmu(t)
	putJournal(t, er, 10*time.Minute)
	er.E.ResetCalls()
	for _, args := range [][]string{{"detach", "run-service", "--yes"}, {"attach", "run-service", "--subnet", "run-direct-vpc-egress", "--yes"}} {
		if r := er.Run(t, false, "", args...); r.Code != exitcode.Conflict || !strings.Contains(r.Stderr, "being migrated by another runnet") {
			t.Errorf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
	if n := er.E.Calls()["google.cloud.run.v2.Services/UpdateService"]; n != 0 {
		t.Errorf("%d updates", n)
	}
}
