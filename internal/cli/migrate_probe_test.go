package cli

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// probeResults returns the probes a run's steps carry.
func probeResults(rep MigrationReport) []egress.ProbeResult {
	var out []egress.ProbeResult
	for _, s := range rep.Steps {
		out = append(out, s.Probes...)
	}
	return out
}

// --probe-path and --probe-tcp see the on-premises trap before a single request reaches the new
// revision: the run rolls back (exit 6) with no traffic moved; once the partner admits the
// subnet, the same migration goes through. The probe job is deleted either way.
func TestMigrateProbes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		kind  string
		fail  string
	}{
		{"http", []string{"--probe-path", "/healthz"}, "http", "HTTP 500"},
		{"tcp", []string{"--probe-tcp", "192.168.10.5:5432"}, "tcp", "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := newEmu(t)
			onPremTrap(t, er, "10.15.0.0/28")
			args := append([]string{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json"}, tc.flags...)
			r := er.Run(t, false, "", args...)
			if r.Code != exitcode.RolledBack {
				t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
			}
			rep := report(t, r)
			ps := probeResults(rep)
			if len(ps) != 1 || ps[0].Kind != tc.kind || ps[0].OK || !strings.Contains(ps[0].Message, tc.fail) {
				t.Fatalf("probes %+v: want one failed %s probe (%q)", ps, tc.kind, tc.fail)
			}
			if slices.ContainsFunc(rep.Steps, func(s egress.StepResult) bool {
				return s.Kind == egress.StepShiftTraffic && s.Status == egress.StepDone
			}) {
				t.Errorf("traffic moved before the probe: %+v", rep.Steps)
			}
			if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
				t.Errorf("after the rollback: %s", w.VPC.Mode())
			}
			if err := er.E.SetDestination(emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: tProject,
				Network: emulator.DemoNetwork, Allow: []string{"10.15.0.0/28", "10.8.0.0/24"}}); err != nil {
				t.Fatal(err)
			}
			r = er.Run(t, false, "", args...)
			if r.Code != exitcode.OK {
				t.Fatalf("allowlist fixed: exit %d: %s", r.Code, r.Stderr)
			}
			if ps := probeResults(report(t, r)); len(ps) != 1 || !ps[0].OK {
				t.Errorf("probes %+v: want one that passed", ps)
			}
			if tc.kind == "tcp" {
				r = er.Run(t, false, "", "status", "--format", "json")
				if strings.Contains(r.Stdout, "runnet-probe-") {
					t.Errorf("a probe job was left: %s", r.Stdout)
				}
			}
		})
	}
}

func TestMigrateProbeFlags(t *testing.T) {
	er := newEmu(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--probe-path", "healthz"}, `--probe-path: "healthz" must start with /`},
		{[]string{"--probe-tcp", "db"}, "--probe-tcp"},
		{[]string{"--probe-tcp", "db:70000"}, "bad port"},
		{[]string{"--probe-image", "alpine"}, "--probe-image sets the image of the --probe-tcp job"},
		// What would fail only once the new revision is deployed is refused up front.
		{[]string{"--probe-path", "/%zz"}, `--probe-path: "/%zz" is not a URL path`},
		{[]string{"--probe-path", "/healthz#top"}, "is not a URL path"},
		{[]string{"--probe-tcp", "db server:5432"}, `bad host "db server"`},
		{[]string{"--probe-tcp", "db:5432", "--probe-image", ""}, `--probe-image: "" is not an image reference`},
		{[]string{"--probe-tcp", "db:5432", "--probe-image", "busybox latest"}, "is not an image reference"},
		// Probes are of a service's revision; the journal holds an interrupted run's plan.
		{[]string{"job/nightly-export", "--probe-path", "/healthz"}, "--probe-path probes a service's new revision before its traffic moves, and none of the workloads is a service"},
		{[]string{"--resume", "--probe-tcp", "db:5432"}, "--probe-tcp cannot be used with --resume"},
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
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
		t.Fatalf("after refused flags the service uses %s", w.VPC.Short())
	}
}

// A probe job whose creation Cloud Run carried out but whose answer was lost is still deleted:
// the run rolls back (nothing moved) and leaves no runnet-probe job behind.
func TestMigrateProbeJobDeletedWhenCreateAnswerIsLost(t *testing.T) {
	er := newEmu(t)
	onPremTrap(t, er, "10.15.0.0/28", "10.8.0.0/24")
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Jobs/CreateJob", Code: codes.Internal, Count: 1, AfterCommit: true})
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json",
		"--probe-tcp", "192.168.10.5:5432")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	r = er.Run(t, false, "", "status", "--format", "json")
	if strings.Contains(r.Stdout, "runnet-probe-") {
		t.Errorf("the probe job whose creation answer was lost was left: %s", r.Stdout)
	}
}

// A service with internal ingress refuses the caller's probe with 404, as Cloud Run does from
// the internet: the run rolls back with no traffic moved, and says why rather than leaving a
// 404 that reads as a missing path.
func TestMigrateProbePathInternalIngress(t *testing.T) {
	er := newEmu(t)
	er.ChangeService(t, emulator.DemoService, func(s *runpb.Service) {
		s.Ingress = runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY
	})
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json",
		"--probe-path", "/healthz")
	if r.Code != exitcode.RolledBack {
		t.Fatalf("exit %d, want 6: %s", r.Code, r.Stderr)
	}
	ps := probeResults(report(t, r))
	if len(ps) != 1 || ps[0].OK || ps[0].Status != 404 || !strings.Contains(ps[0].Message, "ingress is internal") || !strings.Contains(ps[0].Message, "--probe-tcp") {
		t.Fatalf("probes %+v: want one 404 that names the internal ingress", ps)
	}
	if w := er.Read(t, "run-service"); w.VPC.Mode() != egress.ModeConnector {
		t.Errorf("after the rollback: %s", w.VPC.Mode())
	}
}

// The probe job runs as the service does: the caller may act as the service's account (the
// preflight asks), not necessarily as the project's default compute account.
func TestMigrateProbeJobRunsAsTheService(t *testing.T) {
	er := newEmu(t)
	onPremTrap(t, er, "10.15.0.0/28", "10.8.0.0/24")
	const sa = "run-service@" + tProject + ".iam.gserviceaccount.com"
	er.ChangeService(t, emulator.DemoService, func(s *runpb.Service) { s.Template.ServiceAccount = sa })
	// Keep the job to look at it: its deletion is refused once.
	er.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Jobs/DeleteJob", Code: codes.PermissionDenied, Count: 1})
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json",
		"--probe-tcp", "192.168.10.5:5432")
	if r.Code != exitcode.OK {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	ps := probeResults(report(t, r))
	if len(ps) != 1 || !ps[0].OK || !strings.Contains(ps[0].Message, "could not be deleted") {
		t.Fatalf("probes %+v: want one that passed and names the job it could not delete", ps)
	}
	cl, err := er.Clients(t).Jobs()
	if err != nil {
		t.Fatal(err)
	}
	it := cl.ListJobs(context.Background(), &runpb.ListJobsRequest{Parent: "projects/" + tProject + "/locations/" + tRegion})
	found := false
	for {
		j, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(j.GetName(), "/jobs/runnet-probe-") {
			found = true
			if got := j.GetTemplate().GetTemplate().GetServiceAccount(); got != sa {
				t.Errorf("probe job runs as %q, want the service's %q", got, sa)
			}
		}
	}
	if !found {
		t.Fatal("no probe job left to look at")
	}
}
