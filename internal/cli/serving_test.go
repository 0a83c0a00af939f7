package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// Serving truth, end to end: a workload's mode, a connector's users and "already migrated" are
// decided from what serves (the revisions that receive traffic or carry a tag), never from the
// template alone; and a bad input changes nothing at all.

// ---- The emulator's whole state, before and after.

// settle waits until the emulator has nothing in flight that would change its state by
// itself (a revision starting, an operation completing), so that a snapshot taken now stays
// true until something acts.
func (er *emuRun) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev, _ := er.e.State()
	for time.Now().Before(deadline) {
		time.Sleep(60 * time.Millisecond) // twice the revision delay of newEmu
		cur, err := er.e.State()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(prev, cur) {
			return
		}
		prev = cur
	}
	t.Fatal("the emulator did not settle")
}

// state is the emulator's whole state (every resource, reservation, instance count and
// operation) as JSON, once settled.
func (er *emuRun) state(t *testing.T) []byte {
	t.Helper()
	er.settle(t)
	b, err := er.e.State()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertUnchanged fails unless the emulator's state is what it was when before was taken,
// byte for byte: no resource created, changed or deleted, no operation started, and no
// timestamp or etag of anything moved. Nothing is ignored: every field of the state is
// either set by a change (so a command that changes nothing leaves it) or fixed.
func (er *emuRun) assertUnchanged(t *testing.T, before []byte, what string) {
	t.Helper()
	after := er.state(t)
	if bytes.Equal(before, after) {
		return
	}
	t.Errorf("%s changed the emulator's state:\n%s", what, strings.Join(stateDiff(before, after), "\n"))
}

// stateDiff lists the paths that differ between two state snapshots (at most 20).
func stateDiff(a, b []byte) []string {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return []string{"(state is not JSON)"}
	}
	var out []string
	var walk func(p string, u, v any)
	walk = func(p string, u, v any) {
		if len(out) >= 20 {
			return
		}
		um, uok := u.(map[string]any)
		vm, vok := v.(map[string]any)
		if uok && vok {
			keys := map[string]bool{}
			for k := range um {
				keys[k] = true
			}
			for k := range vm {
				keys[k] = true
			}
			names := make([]string, 0, len(keys))
			for k := range keys {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				walk(p+"/"+k, um[k], vm[k])
			}
			return
		}
		ub, _ := json.Marshal(u)
		vb, _ := json.Marshal(v)
		if !bytes.Equal(ub, vb) {
			out = append(out, fmt.Sprintf("  %s: %.120s -> %.120s", p, ub, vb))
		}
	}
	walk("", x, y)
	return out
}

// ---- Setting up what serves.

// pinTraffic sends 100% of run-service's traffic to its latest ready revision by name (as
// `gcloud run services update-traffic run-service --to-revisions REV=100` does), and returns
// that revision.
func pinTraffic(t *testing.T, er *emuRun) string {
	t.Helper()
	rev := er.read(t, "run-service").LatestReady
	changeService(t, er, func(s *runpb.Service) {
		s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: rev, Percent: 100}}
	})
	return rev
}

// deployNoTraffic changes run-service's template with edit and deploys it with no traffic (as
// `gcloud run deploy --no-traffic` does: the traffic stays pinned on the revision serving
// now). It returns the revision that keeps serving and the new one.
func deployNoTraffic(t *testing.T, er *emuRun, edit func(*runpb.RevisionTemplate)) (serving, created string) {
	t.Helper()
	serving = er.read(t, "run-service").LatestReady
	changeService(t, er, func(s *runpb.Service) {
		edit(s.Template)
		s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: serving, Percent: 100}}
	})
	created = er.read(t, "run-service").LatestCreated
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
	if r := er.run(t, false, "", "attach", "job/nightly-export", "--subnet", "run-direct-vpc-egress"); r.code != 0 {
		t.Fatalf("move the job: exit %d: %s", r.code, r.stderr)
	}
}

func statusOf(t *testing.T, er *emuRun, workload string) WorkloadStatus {
	t.Helper()
	r := er.run(t, false, "", "status", workload, "--format", "json")
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.stderr)
	}
	var out []WorkloadStatus
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("status: %v\n%s", err, r.stdout)
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

	r := er.run(t, false, "", "connector", "users", "run-connector", "--format", "json")
	var users []WorkloadUser
	if err := json.Unmarshal([]byte(r.stdout), &users); r.code != 0 || err != nil {
		t.Fatalf("users: exit %d, %v: %s", r.code, err, r.stderr)
	}
	if len(users) != 1 || users[0].Workload != "run-service" || !slices.Equal(users[0].Via, []string{"revision " + old + ", 100% of traffic"}) {
		t.Errorf("users %+v", users)
	}

	r = er.run(t, false, "", "inventory", "--format", "json")
	var inv Inventory
	if err := json.Unmarshal([]byte(r.stdout), &inv); r.code != 0 || err != nil {
		t.Fatalf("inventory: exit %d, %v: %s", r.code, err, r.stderr)
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
	r = er.run(t, false, "", "inventory", "--format", "table")
	if strings.Contains(r.stdout, "UNUSED") || !strings.Contains(r.stdout, "run-service (revision "+old+", 100% of traffic)") {
		t.Errorf("inventory table:\n%s", r.stdout)
	}

	before := er.state(t)
	r = er.run(t, false, "", "connector", "delete", "run-connector", "--yes")
	if r.code != exitcode.Preflight || !strings.Contains(r.stderr, "revision "+old+", 100% of traffic") {
		t.Errorf("delete: exit %d: %s", r.code, r.stderr)
	}
	er.assertUnchanged(t, before, "connector delete of a connector a pinned revision serves through")
	_ = created
}

// A tag on an old revision keeps its connector in use: the tag URL still reaches it.
func TestTaggedRevisionKeepsItsConnector(t *testing.T) {
	er := newEmu(t)
	moveJobOff(t, er)
	old := er.read(t, "run-service").LatestReady
	if r := er.run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress"); r.code != 0 {
		t.Fatalf("attach: exit %d: %s", r.code, r.stderr)
	}
	changeService(t, er, func(s *runpb.Service) {
		s.Traffic = append(s.Traffic, &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: old, Tag: "before"})
	})
	st := statusOf(t, er, "run-service")
	if st.Mode != "direct" || st.TemplateDiffers || st.StatusText() != "ready" || len(st.Serving) != 2 {
		t.Errorf("status %+v (%s)", st, st.StatusText())
	}
	before := er.state(t)
	r := er.run(t, false, "", "connector", "delete", "run-connector", "--yes")
	if r.code != exitcode.Preflight || !strings.Contains(r.stderr, "revision "+old+", tag before") {
		t.Errorf("delete: exit %d: %s", r.code, r.stderr)
	}
	er.assertUnchanged(t, before, "connector delete of a connector a tagged revision uses")
	// --force deletes it anyway, and says who loses VPC access.
	r = er.run(t, false, "", "connector", "delete", "run-connector", "--yes", "--force")
	if r.code != 0 || !strings.Contains(r.stderr, "tag before") {
		t.Errorf("delete --force: exit %d: %s", r.code, r.stderr)
	}
}

// A job execution still running with the connector uses it, though the job's template
// moved on.
func TestRunningExecutionUsesConnector(t *testing.T) {
	er := newEmu(t)
	tm := er.e.Timing()
	tm.RevisionReady = time.Hour // executions run as long as a revision takes to start
	er.e.SetTiming(tm)
	jobs, err := er.clients(t).Jobs()
	if err != nil {
		t.Fatal(err)
	}
	op, err := jobs.RunJob(context.Background(), &runpb.RunJobRequest{Name: "projects/" + tProject + "/locations/" + tRegion + "/jobs/nightly-export"})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := op.Metadata()
	execs, err := er.clients(t).Executions()
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
	er.e.SetTiming(tm)
	moveJobOff(t, er)
	if r := er.run(t, false, "", "detach", "run-service", "--yes"); r.code != 0 {
		t.Fatalf("detach: exit %d: %s", r.code, r.stderr)
	}
	r := er.run(t, false, "", "connector", "users", "run-connector", "--format", "json")
	var users []WorkloadUser
	if err := json.Unmarshal([]byte(r.stdout), &users); r.code != 0 || err != nil {
		t.Fatalf("users: exit %d, %v: %s", r.code, err, r.stderr)
	}
	exec := md.GetName()[strings.LastIndex(md.GetName(), "/")+1:]
	if len(users) != 1 || users[0].Workload != "job/nightly-export" || !slices.Equal(users[0].Via, []string{"execution " + exec + ", running"}) {
		t.Errorf("users %+v", users)
	}
}
