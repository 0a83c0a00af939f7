package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// Serving truth, end to end: a workload's mode, a connector's users and "already migrated" are
// decided from what serves (the revisions that receive traffic or carry a tag), never from the
// template alone; and a bad input changes nothing at all.

// ---- The emulator's whole state, before and after.

// settleQuiet is how long the emulator's state must stay the same to count as settled: twice
// the revision delay of newEmu.
const settleQuiet = 60 * time.Millisecond

// assertUnchanged fails unless the emulator's state is what it was when before was taken,
// byte for byte: no resource created, changed or deleted, no operation started, and no
// timestamp or etag of anything moved. Nothing is ignored: every field of the state is
// either set by a change (so a command that changes nothing leaves it) or fixed.
func assertUnchanged(t *testing.T, er *emuRun, before []byte, what string) {
	t.Helper()
	if diff := er.Unchanged(t, before, settleQuiet); diff != "" {
		t.Errorf("%s changed the emulator's state:\n%s", what, diff)
	}
}

// ---- Setting up what serves.

// pinTraffic sends 100% of run-service's traffic to its latest ready revision by name (as
// `gcloud run services update-traffic run-service --to-revisions REV=100` does), and returns
// that revision.
func pinTraffic(t *testing.T, er *emuRun) string {
	t.Helper()
	rev := er.Read(t, "run-service").LatestReady
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: rev, Percent: 100}}
	})
	return rev
}

// deployNoTraffic changes run-service's template with edit and deploys it with no traffic (as
// `gcloud run deploy --no-traffic` does: the traffic stays pinned on the revision serving
// now). It returns the revision that keeps serving and the new one.
func deployNoTraffic(t *testing.T, er *emuRun, edit func(*runpb.RevisionTemplate)) (serving, created string) {
	t.Helper()
	serving = er.Read(t, "run-service").LatestReady
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		edit(s.Template)
		s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: serving, Percent: 100}}
	})
	created = er.Read(t, "run-service").LatestCreated
	if created == serving {
		t.Fatal("no revision was deployed")
	}
	return serving, created
}

// directTemplate moves run-service's template to Direct VPC egress while its traffic stays
// pinned where it is: the state the issue found `attach` leaving behind.
func directTemplate(t *testing.T, er *emuRun) (old, created string) {
	t.Helper()
	return deployNoTraffic(t, er, func(tt *runpb.RevisionTemplate) {
		tt.VpcAccess = &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY,
			NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: tNet, Subnetwork: tSubnet}}}
	})
}

// moveJobOff takes the demo job off run-connector, so that run-service is its only possible
// user.
func moveJobOff(t *testing.T, er *emuRun) {
	t.Helper()
	if r := er.Run(t, false, "", "attach", "job/nightly-export", "--subnet", "run-direct-vpc-egress"); r.Code != 0 {
		t.Fatalf("move the job: exit %d: %s", r.Code, r.Stderr)
	}
}

func statusOf(t *testing.T, er *emuRun, workload string) WorkloadStatus {
	t.Helper()
	r := er.Run(t, false, "", "status", workload, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("status: exit %d: %s", r.Code, r.Stderr)
	}
	var out []WorkloadStatus
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("status: %v\n%s", err, r.Stdout)
	}
	return out[0]
}

// ---- The scenarios.

// Traffic pinned to the connector revision while the template moved to Direct VPC egress:
// status says the connector serves, connector users and inventory count the service, and
// connector delete refuses, naming the revision, without changing anything.
func TestPinnedRevisionKeepsItsConnector(t *testing.T) {
	er := newEmu(t)
	moveJobOff(t, er)
	old, created := directTemplate(t, er)

	st := statusOf(t, er, "run-service")
	if st.Mode != "connector" || st.Connector != tConn || !st.TemplateDiffers || !st.TrafficPinned || st.Template.Mode != "direct" ||
		st.Template.Subnet != tSubnet || len(st.Serving) != 1 || st.Serving[0].Revision != old || st.Serving[0].Percent != 100 {
		t.Errorf("status %+v", st)
	}
	if txt := st.StatusText(); !strings.Contains(txt, "template (direct run-vpc/run-direct-vpc-egress) not serving: traffic is pinned") ||
		!strings.Contains(txt, "100% connector run-connector ("+old+")") {
		t.Errorf("STATUS %q", txt)
	}

	r := er.Run(t, false, "", "connector", "users", "run-connector", "--format", "json")
	var users []WorkloadUser
	if err := json.Unmarshal([]byte(r.Stdout), &users); r.Code != 0 || err != nil {
		t.Fatalf("users: exit %d, %v: %s", r.Code, err, r.Stderr)
	}
	if len(users) != 1 || users[0].Workload != "run-service" || !slices.Equal(users[0].Via, []string{"revision " + old + ", 100% of traffic"}) {
		t.Errorf("users %+v", users)
	}

	r = er.Run(t, false, "", "inventory", "--format", "json")
	var inv Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); r.Code != 0 || err != nil {
		t.Fatalf("inventory: exit %d, %v: %s", r.Code, err, r.Stderr)
	}
	for _, c := range inv.Connectors {
		if c.Name == "run-connector" && (c.Unused || len(c.Users) != 1 || c.Users[0].Workload != "run-service") {
			t.Errorf("inventory connector %+v", c)
		}
	}
	for _, w := range inv.Workloads {
		if w.Name == "run-service" && (w.Mode != "connector" || !w.TemplateDiffers || w.Template.Mode != "direct") {
			t.Errorf("inventory workload %+v", w)
		}
	}
	if kinds := findingKinds(inv); len(kinds[FindingTemplateNotServing]) != 1 || len(kinds[FindingConnectorUnused]) != 0 {
		t.Errorf("findings %+v", inv.Findings)
	}
	r = er.Run(t, false, "", "inventory", "--format", "table")
	if strings.Contains(r.Stdout, "UNUSED") || !strings.Contains(r.Stdout, "run-service (revision "+old+", 100% of traffic)") {
		t.Errorf("inventory table:\n%s", r.Stdout)
	}

	before := er.State(t, settleQuiet)
	r = er.Run(t, false, "", "connector", "delete", "run-connector", "--yes")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "revision "+old+", 100% of traffic") {
		t.Errorf("delete: exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "connector delete of a connector a pinned revision serves through")
	_ = created
}

// A tag on an old revision keeps its connector in use: the tag URL still reaches it.
func TestTaggedRevisionKeepsItsConnector(t *testing.T) {
	er := newEmu(t)
	moveJobOff(t, er)
	old := er.Read(t, "run-service").LatestReady
	if r := er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress"); r.Code != 0 {
		t.Fatalf("attach: exit %d: %s", r.Code, r.Stderr)
	}
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		s.Traffic = append(s.Traffic, &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: old, Tag: "before"})
	})
	st := statusOf(t, er, "run-service")
	if st.Mode != "direct" || st.TemplateDiffers || st.StatusText() != "ready" || len(st.Serving) != 2 {
		t.Errorf("status %+v (%s)", st, st.StatusText())
	}
	before := er.State(t, settleQuiet)
	r := er.Run(t, false, "", "connector", "delete", "run-connector", "--yes")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "revision "+old+", tag before") {
		t.Errorf("delete: exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "connector delete of a connector a tagged revision uses")
	// --force deletes it anyway, and says who loses VPC access.
	r = er.Run(t, false, "", "connector", "delete", "run-connector", "--yes", "--force")
	if r.Code != 0 || !strings.Contains(r.Stderr, "tag before") {
		t.Errorf("delete --force: exit %d: %s", r.Code, r.Stderr)
	}
}

// A job execution still running with the connector uses it, though the job's template
// moved on.
func TestRunningExecutionUsesConnector(t *testing.T) {
	er := newEmu(t)
	tm := er.E.Timing()
	tm.RevisionReady = time.Hour // executions run as long as a revision takes to start
	er.E.SetTiming(tm)
	jobs, err := er.Clients(t).Jobs()
	if err != nil {
		t.Fatal(err)
	}
	op, err := jobs.RunJob(context.Background(), &runpb.RunJobRequest{Name: "projects/" + tProject + "/locations/" + tRegion + "/jobs/nightly-export"})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := op.Metadata()
	execs, err := er.Clients(t).Executions()
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		e, err := execs.GetExecution(context.Background(), &runpb.GetExecutionRequest{Name: md.GetName()})
		if err == nil && e.GetStartTime() != nil {
			break // it runs, for an hour
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the execution did not start: %v", err)
		}
	}
	tm.RevisionReady = 30 * time.Millisecond
	er.E.SetTiming(tm)
	moveJobOff(t, er)
	if r := er.Run(t, false, "", "detach", "run-service", "--yes"); r.Code != 0 {
		t.Fatalf("detach: exit %d: %s", r.Code, r.Stderr)
	}
	r := er.Run(t, false, "", "connector", "users", "run-connector", "--format", "json")
	var users []WorkloadUser
	if err := json.Unmarshal([]byte(r.Stdout), &users); r.Code != 0 || err != nil {
		t.Fatalf("users: exit %d, %v: %s", r.Code, err, r.Stderr)
	}
	exec := md.GetName()[strings.LastIndex(md.GetName(), "/")+1:]
	if len(users) != 1 || users[0].Workload != "job/nightly-export" || !slices.Equal(users[0].Via, []string{"execution " + exec + ", running"}) {
		t.Errorf("users %+v", users)
	}
}

// trafficOf is run-service's traffic as asked for, described.
func trafficOf(t *testing.T, er *emuRun, workload string) string {
	t.Helper()
	return egress.DescribeTraffic(er.Read(t, workload).Traffic)
}

// servesOnly checks that everything that receives a share of workload's traffic (instances)
// runs with Direct VPC egress on the demo subnet, and returns the serving state.
func servesDirect(t *testing.T, er *emuRun, workload string) WorkloadStatus {
	t.Helper()
	st := statusOf(t, er, workload)
	if st.Mode != "direct" || st.TemplateDiffers || st.Template.Subnet != tSubnet || st.Rollout != cloud.RolloutDone {
		t.Errorf("%s: status %+v (%s)", workload, st, st.StatusText())
	}
	for _, r := range st.Serving {
		if r.Percent > 0 && r.Subnet != tSubnet {
			t.Errorf("%s: revision %s still receives %d%% with %s", workload, r.Revision, r.Percent, r.VPCStatus.short())
		}
	}
	return st
}

// Traffic pinned to a named revision (update-traffic --to-revisions): migrate moves its share
// to the new revision, which takes its place in the split (pinned, as it was).
func TestMigratePinnedTrafficMoves(t *testing.T) {
	er := newEmu(t)
	old := pinTraffic(t, er)
	before := er.Read(t, "run-service")
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeMigrated || rep.PreviousRevision != old || rep.NewRevision == "" ||
		stepLine(rep) != "deploy-and-shift:done" || !strings.HasPrefix(rep.NewRevision, "run-service-runnet-") {
		t.Fatalf("report: outcome %s, previous %s, new %s, steps %s", rep.Outcome, rep.PreviousRevision, rep.NewRevision, stepLine(rep))
	}
	if got := trafficOf(t, er, "run-service"); got != rep.NewRevision+" 100%" {
		t.Errorf("traffic %s, want %s 100%% (pinned, in the old revision's place)", got, rep.NewRevision)
	}
	servesDirect(t, er, "run-service")
	// Everything else is as it was (the traffic differs by the revision's name only).
	b, a := proto.Clone(before.Raw).(*runpb.Service), proto.Clone(er.Read(t, "run-service").Raw).(*runpb.Service)
	b.Traffic, a.Traffic = nil, nil
	// The new revision was named in the request, so that the traffic could name it too.
	if a.GetTemplate().GetRevision() != rep.NewRevision {
		t.Errorf("template.revision %q, want %q", a.GetTemplate().GetRevision(), rep.NewRevision)
	}
	a.Template.Revision = b.GetTemplate().GetRevision()
	assertPreserved(t, b, a)
	// Run again: nothing to do.
	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != 0 || report(t, r).Outcome != egress.OutcomeNoOp {
		t.Errorf("again: exit %d, %s", r.Code, r.Stdout)
	}
}

// The state the issue found attach leaving: the template on Direct VPC egress, its revision at
// 0%, the traffic pinned on the connector revision. migrate is not a no-op: it moves the
// traffic to the revision that has the settings already, and deploys nothing.
func TestMigrateTemplateAlreadyDirectTrafficPinned(t *testing.T) {
	er := newEmu(t)
	old, created := directTemplate(t, er)
	dry := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--dry-run", "--format", "json")
	if dry.Code != 0 || report(t, dry).Outcome != egress.OutcomePlanned || !strings.Contains(dry.Stdout, "check that revision "+created) {
		t.Fatalf("dry run: exit %d: %s\n%s", dry.Code, dry.Stderr, dry.Stdout)
	}
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeMigrated || rep.NewRevision != created || rep.PreviousRevision != old || stepLine(rep) != "verify:done shift-traffic:done" {
		t.Fatalf("outcome %s, new %s, previous %s, steps %s", rep.Outcome, rep.NewRevision, rep.PreviousRevision, stepLine(rep))
	}
	if er.Read(t, "run-service").LatestCreated != created {
		t.Errorf("a revision was deployed")
	}
	if got := trafficOf(t, er, "run-service"); got != created+" 100%" {
		t.Errorf("traffic %s", got)
	}
	servesDirect(t, er, "run-service")
}

// A split with tags: the tagged, pinned share moves with its tag; the tag that follows the
// latest revision keeps following it; an old revision kept only behind a tag stays (and keeps
// the connector in use, which the report says).
func TestMigrateSplitKeepsTags(t *testing.T) {
	er := newEmu(t)
	first := er.Read(t, "run-service").LatestReady
	second, _ := deployNoTraffic(t, er, func(tt *runpb.RevisionTemplate) { tt.Labels = map[string]string{"v": "2"} })
	_ = second
	w := er.Read(t, "run-service")
	er.ChangeService(t, "run-service", func(s *runpb.Service) {
		s.Traffic = []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: w.LatestCreated, Percent: 100, Tag: "stable"},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Tag: "next"},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: first, Tag: "first"},
		}
	})
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "50,100", "--yes", "--format", "json", "--cleanup")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if got, want := trafficOf(t, er, "run-service"), rep.NewRevision+" 100% (tag stable), latest 0% (tag next), "+first+" 0% (tag first)"; got != want {
		t.Errorf("traffic %s, want %s", got, want)
	}
	servesDirect(t, er, "run-service")
	notes := strings.Join(append(rep.Plan.Notes, rep.Notes...), "\n")
	if !strings.Contains(notes, "revision "+first+" keeps its tag first") || !strings.Contains(notes, "run-connector is kept") {
		t.Errorf("notes:\n%s", notes)
	}
	if _, err := er.Clients(t).GetConnector(context.Background(), egress.ConnectorRef{Project: tProject, Region: tRegion, Name: "run-connector"}); err != nil {
		t.Errorf("the connector a tagged revision uses was deleted: %v", err)
	}
}

// A --no-traffic deploy of a new image, then migrate: the traffic of the old revision goes to
// a revision built from the template, and the plan says that this changes more than the VPC.
func TestMigrateNoTrafficDeployWarnsOfOtherConfig(t *testing.T) {
	er := newEmu(t)
	old, _ := deployNoTraffic(t, er, func(tt *runpb.RevisionTemplate) { tt.Containers[0].Image += "-v2" })
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--dry-run", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if notes := strings.Join(report(t, r).Plan.Notes, "\n"); !strings.Contains(notes, "revision "+old+" runs another configuration than the template") {
		t.Errorf("notes:\n%s", notes)
	}
}

// A worker pool whose instance split is pinned to its revision: migrate moves the instances to
// the new revision (which a template update alone leaves at 0%).
func TestMigrateWorkerPoolPinnedSplit(t *testing.T) {
	er := newEmu(t)
	createWorkerPool(t, er, "queue")
	old := er.Read(t, "workerpool/queue").LatestReady
	er.ChangeWorkerPool(t, "queue", func(p *runpb.WorkerPool) {
		p.InstanceSplits = []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: old, Percent: 100}}
	})
	r := er.Run(t, false, "", "migrate", "workerpool/queue", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeMigrated || stepLine(rep) != "update-template:done verify:done shift-traffic:done" || rep.PreviousRevision != old {
		t.Fatalf("outcome %s, steps %s, previous %s", rep.Outcome, stepLine(rep), rep.PreviousRevision)
	}
	w := er.Read(t, "workerpool/queue")
	if got := egress.DescribeTraffic(w.Traffic); got != rep.NewRevision+" 100%" {
		t.Errorf("instance split %s", got)
	}
	if len(w.TrafficStatus) != 1 || w.TrafficStatus[0].Revision != rep.NewRevision || w.TrafficStatus[0].Percent != 100 {
		t.Errorf("instance split statuses %+v", w.TrafficStatus)
	}
	servesDirect(t, er, "workerpool/queue")
}

// failRollout deploys vpc on run-service's template through the API: its revision cannot
// start, the previous one keeps serving (a failed rollout, as the issue found attach leaving).
func failRollout(t *testing.T, er *emuRun, vpc *runpb.VpcAccess) (serving, failed string) {
	t.Helper()
	w := er.Read(t, "run-service")
	cl, err := er.Clients(t).Services()
	if err != nil {
		t.Fatal(err)
	}
	s := proto.Clone(w.Raw).(*runpb.Service)
	s.Template.VpcAccess = vpc
	op, err := cl.UpdateService(context.Background(), &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(context.Background()); err == nil {
		t.Fatal("the rollout did not fail")
	}
	after := er.Read(t, "run-service")
	if after.LatestReady != w.LatestReady || after.LatestCreated == w.LatestCreated {
		t.Fatalf("latest ready %s, latest created %s", after.LatestReady, after.LatestCreated)
	}
	return w.LatestReady, after.LatestCreated
}

var connectorSubnetVPC = &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY,
	NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: tNet, Subnetwork: "projects/demo-project/regions/asia-northeast1/subnetworks/run-connector-subnet"}}}

// After a failed rollout to a /28, migrating to the same settings is not "already direct": the
// preflight runs and refuses the /28 (exit 3, nothing changed); migrating to a subnet that
// works puts the traffic on a revision that serves.
func TestMigrateAfterFailedRollout(t *testing.T) {
	er := newEmu(t)
	serving, failed := failRollout(t, er, connectorSubnetVPC)
	st := statusOf(t, er, "run-service")
	if st.Mode != "connector" || st.Rollout != cloud.RolloutFailed || !st.TemplateDiffers || st.Template.Mode != "direct" {
		t.Errorf("status %+v", st)
	}
	before := er.State(t, settleQuiet)
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-connector-subnet", "--yes", "--format", "json")
	if r.Code != exitcode.Preflight {
		t.Fatalf("exit %d, want 3: %s\n%s", r.Code, r.Stderr, r.Stdout)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeBlocked || !strings.Contains(rep.Error, "subnet-size") || !strings.Contains(strings.Join(rep.Plan.Notes, " "), "the latest revision, "+failed+", failed") {
		t.Errorf("outcome %s: %s; notes %q", rep.Outcome, rep.Error, rep.Plan.Notes)
	}
	assertUnchanged(t, er, before, "migrate to the /28 a rollout failed on")

	r = er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if rep := report(t, r); rep.Outcome != egress.OutcomeMigrated || rep.PreviousRevision != serving {
		t.Errorf("outcome %s, previous %s", rep.Outcome, rep.PreviousRevision)
	}
	servesDirect(t, er, "run-service")
}

// A rollout that failed because its connector did not exist yet: once the connector exists,
// migrating to the same settings deploys them again (nothing else would), and they serve.
func TestMigrateRetriesFailedRevision(t *testing.T) {
	er := newEmu(t)
	c2 := "projects/demo-project/locations/asia-northeast1/connectors/c2"
	_, failed := failRollout(t, er, &runpb.VpcAccess{Connector: c2, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY})
	if r := er.Run(t, false, "", "connector", "create", "c2", "--network", "run-vpc", "--range", "10.20.0.0/28"); r.Code != 0 {
		t.Fatalf("connector create: exit %d: %s", r.Code, r.Stderr)
	}
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "connector", "--connector", "c2", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if rep.Outcome != egress.OutcomeMigrated || rep.NewRevision == failed || !strings.Contains(rep.Plan.Steps[0].Description, "again") {
		t.Errorf("outcome %s, new %s, steps %+v", rep.Outcome, rep.NewRevision, rep.Plan.Steps)
	}
	st := statusOf(t, er, "run-service")
	if st.Connector != c2 || st.TemplateDiffers || st.Rollout != cloud.RolloutDone {
		t.Errorf("status %+v", st)
	}
}

// attach on a service whose traffic is pinned: the new revision would serve nothing, so
// nothing changes (exit 3) and the message says so plainly and how to move the traffic;
// --move-traffic moves it; --no-traffic deploys at 0% on purpose, and a second attach with
// --move-traffic then moves it without deploying.
func TestAttachPinnedTraffic(t *testing.T) {
	er := newEmu(t)
	old := pinTraffic(t, er)
	args := []string{"attach", "run-service", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress"}
	before := er.State(t, settleQuiet)
	r := er.Run(t, false, "", args...)
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "serving 0 percent of traffic") || !strings.Contains(r.Stderr, "revision "+old+" (100%)") ||
		!strings.Contains(r.Stderr, "--move-traffic") || !strings.Contains(r.Stderr, "--no-traffic") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "attach on pinned traffic")

	r = er.Run(t, false, "", append(args, "--no-traffic", "--format", "json")...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "is serving 0 percent of traffic") || !strings.Contains(r.Stderr, "--move-traffic") {
		t.Fatalf("--no-traffic: exit %d: %s", r.Code, r.Stderr)
	}
	var st WorkloadStatus
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Mode != "connector" || !st.TemplateDiffers {
		t.Errorf("--no-traffic status %+v (%v)", st, err)
	}
	created := er.Read(t, "run-service").LatestCreated

	// Same settings again: only the traffic is off; without --move-traffic nothing changes.
	before = er.State(t, settleQuiet)
	if r := er.Run(t, false, "", args...); r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "serving 0 percent of traffic") {
		t.Fatalf("again: exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "attach of settings the template has, traffic pinned elsewhere")
	r = er.Run(t, false, "", append(args, "--move-traffic")...)
	if r.Code != 0 {
		t.Fatalf("--move-traffic: exit %d: %s", r.Code, r.Stderr)
	}
	if w := er.Read(t, "run-service"); w.LatestCreated != created || egress.DescribeTraffic(w.Traffic) != created+" 100%" {
		t.Errorf("latest created %s (want %s), traffic %s", w.LatestCreated, created, egress.DescribeTraffic(w.Traffic))
	}
	servesDirect(t, er, "run-service")
}

// --move-traffic in one go: deploy, then move the pinned share to the new revision.
func TestAttachMoveTraffic(t *testing.T) {
	er := newEmu(t)
	old := pinTraffic(t, er)
	r := er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress", "--move-traffic")
	if r.Code != 0 || strings.Contains(r.Stderr, "0 percent") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	w := er.Read(t, "run-service")
	if w.LatestReady == old || egress.DescribeTraffic(w.Traffic) != w.LatestReady+" 100%" {
		t.Errorf("traffic %s", egress.DescribeTraffic(w.Traffic))
	}
	servesDirect(t, er, "run-service")
	// detach: the same rule.
	before := er.State(t, settleQuiet)
	if r := er.Run(t, false, "", "detach", "run-service", "--yes"); r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "0 percent") {
		t.Fatalf("detach: exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "detach on pinned traffic")
	if r := er.Run(t, false, "", "detach", "run-service", "--yes", "--move-traffic"); r.Code != 0 {
		t.Fatalf("detach --move-traffic: exit %d: %s", r.Code, r.Stderr)
	}
	if st := statusOf(t, er, "run-service"); st.Mode != "none" || st.TemplateDiffers {
		t.Errorf("after detach: %+v", st)
	}
}

// Settings that cannot serve are refused before anything changes: a subnet that does not
// exist, a /28, a network without the same-name subnet, a subnet of another network, a
// connector that does not exist or is not READY. Exit 3, the emulator's state untouched.
func TestAttachChecksBeforeChanging(t *testing.T) {
	er := newEmu(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"run-service", "--network", "run-vpc", "--subnet", "nope", "--yes"}, []string{"subnet-exists", "subnetworks/nope does not exist"}},
		{[]string{"run-service", "--network", "run-vpc", "--subnet", "run-connector-subnet", "--yes"}, []string{"subnet-size", "/26"}},
		{[]string{"run-service", "--network", "run-vpc"}, []string{"subnetworks/run-vpc does not exist", "same-name", "run-direct-vpc-egress (10.8.0.0/24)"}},
		{[]string{"run-service", "--network", "other-vpc", "--subnet", "run-direct-vpc-egress"}, []string{"belongs to network projects/demo-project/global/networks/run-vpc, not projects/demo-project/global/networks/other-vpc"}},
		{[]string{"run-service", "--connector", "nope"}, []string{"connector-ready", "connectors/nope does not exist"}},
		{[]string{"workerpool/queue", "--subnet", "nope"}, []string{"does not exist"}},
		{[]string{"job/nightly-export", "--subnet", "run-connector-subnet"}, []string{"subnet-size"}},
	}
	createWorkerPool(t, er, "queue")
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := er.State(t, settleQuiet)
			r := er.Run(t, false, "", append([]string{"attach"}, tc.args...)...)
			if r.Code != exitcode.Preflight {
				t.Fatalf("exit %d, want 3: %s", r.Code, r.Stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, r.Stderr)
				}
			}
			assertUnchanged(t, er, before, "attach "+strings.Join(tc.args, " "))
		})
	}
}

// A connector that is not READY is refused too.
func TestAttachConnectorNotReady(t *testing.T) {
	er := newEmu(t)
	// Made through the API in a range a subnet holds: the connector is left in ERROR.
	cl, err := er.Clients(t).VPCAccess()
	if err != nil {
		t.Fatal(err)
	}
	op, err := cl.CreateConnector(context.Background(), &vpcaccesspb.CreateConnectorRequest{
		Parent: "projects/demo-project/locations/asia-northeast1", ConnectorId: "broken",
		Connector: &vpcaccesspb.Connector{Network: "run-vpc", IpCidrRange: "10.8.0.0/28", MaxInstances: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(context.Background()); err == nil {
		t.Fatal("a connector in a taken range was created")
	}
	before := er.State(t, settleQuiet)
	r := er.Run(t, false, "", "attach", "run-service", "--connector", "broken")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "is ERROR, not READY") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "attach to a connector in ERROR")
}

// A subnet with no free /28 block is refused up front (its one read says so); one that fills
// up after the check makes the rollout fail anyway: the template's previous VPC access is
// put back, traffic never left the old revision, exit 6.
func TestAttachFailedRolloutRestoresTemplate(t *testing.T) {
	er := newEmu(t)
	er.FillSubnet(t, tSubnet, 15)
	before := er.State(t, settleQuiet)
	r := er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "free-ips: subnetwork run-direct-vpc-egress (10.8.0.0/24) has 0 /28 blocks free") {
		t.Fatalf("full subnet: exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "attach to a full subnet")

	// Room again; it fills up as the update is sent.
	if err := harness.ScaleLatest(er.E, "filler", 8); err != nil {
		t.Fatal(err)
	}
	er.E.ExpireReservations() // what the stopped instances held is released at once
	er.Settle(t, settleQuiet)
	er.E.OnCall(func(m string) {
		if m == "google.cloud.run.v2.Services/UpdateService" {
			er.E.OnCall(nil)
			if err := harness.ScaleLatest(er.E, "filler", 15*8); err != nil {
				t.Error(err)
			}
		}
	})
	defer er.E.OnCall(nil)
	r = er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress")
	if r.Code != exitcode.RolledBack || !strings.Contains(r.Stderr, "insufficient free IP addresses") || !strings.Contains(r.Stderr, "was put back") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	w := er.Read(t, "run-service")
	if w.VPC.Connector != tConn || w.Rollout() != cloud.RolloutDone {
		t.Errorf("template %+v, rollout %s", w.VPC, w.Rollout())
	}
	st := statusOf(t, er, "run-service")
	if st.Mode != "connector" || st.TemplateDiffers || st.Rollout != cloud.RolloutDone {
		t.Errorf("status %+v", st)
	}
}

// A worker pool with a pinned instance split: attach says the new revision would get no
// instances; --move-traffic moves them.
func TestAttachWorkerPoolPinnedSplit(t *testing.T) {
	er := newEmu(t)
	createWorkerPool(t, er, "queue")
	old := er.Read(t, "workerpool/queue").LatestReady
	er.ChangeWorkerPool(t, "queue", func(p *runpb.WorkerPool) {
		p.InstanceSplits = []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: old, Percent: 100}}
	})
	before := er.State(t, settleQuiet)
	r := er.Run(t, false, "", "attach", "workerpool/queue", "--subnet", "run-direct-vpc-egress")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "its instance split is pinned") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	assertUnchanged(t, er, before, "attach on a pinned worker pool")
	if r := er.Run(t, false, "", "attach", "workerpool/queue", "--subnet", "run-direct-vpc-egress", "--move-traffic"); r.Code != 0 {
		t.Fatalf("--move-traffic: exit %d: %s", r.Code, r.Stderr)
	}
	servesDirect(t, er, "workerpool/queue")
}

// Ranges that overlap one in use are refused before anything is created, naming what they
// overlap: a subnet, a connector's range, the subnet --create-subnet would make (a failed
// check, in a dry run too). Exit 3, the emulator's state untouched.
func TestOverlappingRangesRefused(t *testing.T) {
	er := newEmu(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"subnet", "create", "s1", "--network", "run-vpc", "--range", "10.8.0.0/25"}, []string{"overlaps subnet run-direct-vpc-egress (10.8.0.0/24, region asia-northeast1)", "--range 10.0.0.0/25 is free"}},
		{[]string{"connector", "create", "c1", "--network", "run-vpc", "--range", "10.8.0.0/28"}, []string{"overlaps subnet run-direct-vpc-egress", "nothing was created"}},
		{[]string{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--create-subnet", "--range", "10.8.0.0/24", "--dry-run"}, []string{"subnet-range-free", "overlaps subnet run-direct-vpc-egress"}},
		{[]string{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--create-subnet", "--subnet", "s2", "--range", "10.15.0.0/26", "--yes"}, []string{"subnet-range-free", "run-connector-subnet"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := er.State(t, settleQuiet)
			r := er.Run(t, false, "", tc.args...)
			if r.Code != exitcode.Preflight {
				t.Fatalf("exit %d, want 3: %s\n%s", r.Code, r.Stderr, r.Stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr+r.Stdout, w) {
					t.Errorf("output lacks %q:\n%s\n%s", w, r.Stderr, r.Stdout)
				}
			}
			assertUnchanged(t, er, before, strings.Join(tc.args, " "))
		})
	}
	// A dry run reports the check as failed in its JSON report.
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--create-subnet", "--range", "10.8.0.0/24", "--dry-run", "--format", "json")
	rep := report(t, r)
	failed := egress.Failed(rep.Checks)
	if rep.Outcome != egress.OutcomeBlocked || len(failed) != 1 || failed[0].Name != egress.CheckSubnetRange {
		t.Errorf("outcome %s, failed %+v", rep.Outcome, failed)
	}
	// Creating what exists already, the same way, is not an overlap.
	if r := er.Run(t, false, "", "subnet", "create", "run-direct-vpc-egress", "--network", "run-vpc", "--range", "10.8.0.0/24"); r.Code != 0 {
		t.Errorf("repeat: exit %d: %s", r.Code, r.Stderr)
	}
}

// Two `subnet create --range auto` at once pick the same free range; the one that loses the
// race to Compute takes the next free range instead of failing.
func TestConcurrentAutoRangesBothCreated(t *testing.T) {
	er := newEmu(t)
	var mu sync.Mutex
	lists, inserts := 0, 0
	both := make(chan struct{})
	er.E.OnCall(func(m string) {
		mu.Lock()
		switch m {
		case "compute.subnetworks.aggregatedList":
			lists++
			if lists == 2 {
				close(both)
			}
			mu.Unlock()
		case "compute.subnetworks.insert":
			inserts++
			first := inserts <= 2
			mu.Unlock()
			if first {
				select { // both commands have read the ranges: they picked the same one
				case <-both:
				case <-time.After(5 * time.Second):
				}
			}
		default:
			mu.Unlock()
		}
	})
	defer er.E.OnCall(nil)
	rs := make([]result, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"auto-a", "auto-b"} {
		wg.Go(func() {
			rs[i] = er.Run(t, false, "", "subnet", "create", name, "--network", "run-vpc", "--range", "auto", "--format", "json")
		})
	}
	wg.Wait()
	var ranges []string
	for _, r := range rs {
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("%v: %s", err, r.Stdout)
		}
		ranges = append(ranges, fmt.Sprint(out["ipCidrRange"]))
	}
	if ranges[0] == ranges[1] {
		t.Errorf("both subnets in %s", ranges[0])
	}
	if !strings.Contains(rs[0].Stderr+rs[1].Stderr, "was taken meanwhile") {
		t.Errorf("no race was lost (the test did not make one): %s / %s", rs[0].Stderr, rs[1].Stderr)
	}
}

// migrate --cleanup of the last template on a connector, while another service's pinned
// revision still serves through it: the plan does not delete the connector, and says who
// keeps it.
func TestMigrateCleanupKeepsConnectorOfPinnedRevision(t *testing.T) {
	er := newEmu(t)
	moveJobOff(t, er)
	c := er.Clients(t)
	er.CreateService(t, "other", harness.SimpleService(&runpb.VpcAccess{Connector: tConn}, 3))
	w := er.Read(t, "other")
	s := proto.Clone(w.Raw).(*runpb.Service)
	s.Template.VpcAccess = nil
	s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: w.LatestReady, Percent: 100}}
	svcs, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	op, err := svcs.UpdateService(context.Background(), &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := er.Run(t, false, "", "migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--cleanup", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rep := report(t, r)
	if strings.Contains(stepLine(rep), "delete-connector") || !strings.Contains(strings.Join(rep.Plan.Notes, " "), "is kept: still used by other") {
		t.Errorf("steps %s, notes %q", stepLine(rep), rep.Plan.Notes)
	}
	if _, err := c.GetConnector(context.Background(), egress.ConnectorRef{Project: tProject, Region: tRegion, Name: "run-connector"}); err != nil {
		t.Errorf("connector: %v", err)
	}
}
