package egress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- An in-memory platform: one Cloud Run world with services, jobs and worker pools whose
// revisions become Ready unless their VPC settings are declared broken.

type fakeRev struct {
	vpc   VPC
	ready bool
	msg   string
}

type fakeWorkload struct {
	ref     WorkloadRef
	vpc     VPC
	traffic []TrafficTarget
	revs    map[string]*fakeRev
	order   []string
	ready   string // latest ready
	created string // latest created
	etag    int
	failed  string // terminal condition message when failed
	journal string // the journal annotation
}

type fakePlatform struct {
	mu     sync.Mutex
	ws     map[WorkloadRef]*fakeWorkload
	broken func(VPC) string // why a revision with these settings cannot start, or ""
	// hook runs before every Update; an error fails it (wrap ErrNotApplied for a refusal).
	hook func(n int, u Update) error
	// after runs after every successful Update.
	after   func(n int)
	updates int
	// servingHistory records, after every change, which revisions serve traffic.
	servingHistory []map[string]int
	violations     []string
	users          []ConnectorUser
	deleted        []ConnectorRef
	subnets        []SubnetSpec
	execFail       string
	execs          int
	unhealthy      map[string]string // revision -> message, reported by RevisionCondition
	// journals records the journal annotation after every update that changed it.
	journals []string
}

var (
	fkSvc  = WorkloadRef{Kind: KindService, Project: "my-project", Region: "asia-northeast1", Name: "run-service"}
	fkJob  = WorkloadRef{Kind: KindJob, Project: "my-project", Region: "asia-northeast1", Name: "nightly"}
	fkPool = WorkloadRef{Kind: KindWorkerPool, Project: "my-project", Region: "asia-northeast1", Name: "queue"}
	fkConn = VPC{Connector: "projects/my-project/locations/asia-northeast1/connectors/run-connector", Egress: EgressPrivateRangesOnly}
	fkDir  = VPC{Network: "projects/my-project/global/networks/run-vpc", Subnet: "projects/my-project/regions/asia-northeast1/subnetworks/run-direct", Egress: EgressPrivateRangesOnly}
)

func newFake() *fakePlatform {
	return &fakePlatform{ws: map[WorkloadRef]*fakeWorkload{}, broken: func(VPC) string { return "" }, unhealthy: map[string]string{}}
}

// add creates a workload with one ready revision and the given traffic.
func (f *fakePlatform) add(ref WorkloadRef, vpc VPC, traffic []TrafficTarget) {
	w := &fakeWorkload{ref: ref, vpc: vpc, traffic: traffic, revs: map[string]*fakeRev{}, etag: 1}
	if ref.Kind != KindJob {
		f.newRev(w, vpc)
	}
	f.ws[ref] = w
}

func (f *fakePlatform) newRev(w *fakeWorkload, vpc VPC) *fakeRev {
	return f.newNamedRev(w, vpc, "")
}

// newNamedRev is newRev with the name the request gave (template.revision), if any.
func (f *fakePlatform) newNamedRev(w *fakeWorkload, vpc VPC, name string) *fakeRev {
	if name == "" {
		name = fmt.Sprintf("%s-%05d-abc", w.ref.Name, len(w.order)+1)
	}
	r := &fakeRev{vpc: vpc, ready: true}
	if msg := f.broken(vpc); msg != "" {
		r.ready, r.msg = false, msg
	}
	w.revs[name] = r
	w.order = append(w.order, name)
	w.created = name
	if r.ready {
		w.ready = name
	}
	return r
}

func (f *fakePlatform) snap(w *fakeWorkload) *Snapshot {
	s := &Snapshot{Workload: Workload{Ref: w.ref, VPC: w.vpc, Traffic: slices.Clone(w.traffic), LatestReady: w.ready,
		LatestCreated: w.created, Etag: fmt.Sprint(w.etag), MaxInstances: 10}}
	s.Condition = Condition{State: ConditionSucceeded}
	if w.failed != "" {
		s.Condition = Condition{State: ConditionFailed, Message: w.failed}
	}
	s.TrafficStatus = f.resolve(w, w.traffic)
	s.Journal = w.journal
	return s
}

func (f *fakePlatform) resolve(w *fakeWorkload, ts []TrafficTarget) []TrafficTarget {
	out := slices.Clone(ts)
	for i := range out {
		if out[i].Latest {
			out[i].Revision = w.ready
		}
	}
	return out
}

func (f *fakePlatform) GetWorkload(_ context.Context, ref WorkloadRef) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.ws[ref]
	if !ok {
		return nil, fmt.Errorf("%s not found", ref)
	}
	return f.snap(w), nil
}

func (f *fakePlatform) Update(ctx context.Context, cur *Snapshot, u Update) (*Snapshot, error) {
	f.mu.Lock()
	f.updates++
	n := f.updates
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		if err := hook(n, u); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, &notAppliedErr{err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.ws[cur.Ref]
	if cur.Etag != fmt.Sprint(w.etag) {
		ce := &ConflictError{Ref: cur.Ref, Current: f.snap(w), Err: errors.New("ABORTED: etag mismatch")}
		if !sameVPC(cur.VPC, w.vpc, cur.Ref) {
			ce.Fields, ce.TouchesMigration = append(ce.Fields, "template.vpc_access"), true
		}
		if !sameTraffic(cur.Traffic, w.traffic) {
			ce.Fields, ce.TouchesMigration = append(ce.Fields, "traffic"), true
		}
		if w.journal != "" {
			ce.Journal, _ = DecodeJournal(w.journal)
		}
		return nil, ce
	}
	if u.ValidateOnly {
		return f.snap(w), nil
	}
	if u.Traffic != nil {
		sum := 0
		for _, t := range u.Traffic {
			sum += t.Percent
			if !t.Latest {
				if _, ok := w.revs[t.Revision]; !ok && (t.Revision != u.Revision || u.VPC == nil) {
					return nil, &notAppliedErr{fmt.Errorf("revision %s does not exist", t.Revision)}
				}
			}
		}
		if sum != 100 {
			return nil, &notAppliedErr{fmt.Errorf("traffic sums to %d", sum)}
		}
	}
	w.etag++
	if u.Journal != nil && *u.Journal != w.journal {
		w.journal = *u.Journal
		f.journals = append(f.journals, w.journal)
	}
	if u.VPC == nil && u.Traffic == nil {
		snap := f.snap(w)
		if f.after != nil {
			f.after(n)
		}
		return snap, nil
	}
	var failed *fakeRev
	routed := slices.Clone(w.traffic)
	if u.VPC != nil {
		w.vpc = *u.VPC
		if w.ref.Kind != KindJob {
			if _, taken := w.revs[u.Revision]; taken {
				return nil, &notAppliedErr{fmt.Errorf("revision named %s already exists", u.Revision)}
			}
			r := f.newNamedRev(w, *u.VPC, u.Revision)
			if !r.ready {
				failed = r
			}
		} else if msg := f.broken(*u.VPC); msg != "" {
			w.failed = msg
			return nil, fmt.Errorf("job %s is not ready after the update: %s", w.ref.Name, msg)
		} else {
			w.failed = ""
		}
	}
	if u.Traffic != nil {
		w.traffic = slices.Clone(u.Traffic)
	}
	if failed != nil {
		w.failed = failed.msg
		// Routing stays where it was (the traffic asked for stays asked for): record and fail.
		f.recordTraffic(w, routed)
		return nil, fmt.Errorf("revision %s did not become ready: %s", w.created, failed.msg)
	}
	w.failed = ""
	f.record(w)
	if f.after != nil {
		f.after(n)
	}
	return f.snap(w), nil
}

// record notes which revisions serve, and any that is not ready.
func (f *fakePlatform) record(w *fakeWorkload) { f.recordTraffic(w, w.traffic) }

// recordTraffic notes which revisions serve when ts is routed.
func (f *fakePlatform) recordTraffic(w *fakeWorkload, ts []TrafficTarget) {
	if w.ref.Kind == KindJob {
		return
	}
	serving := map[string]int{}
	for _, t := range f.resolve(w, ts) {
		if t.Percent > 0 {
			serving[t.Revision] += t.Percent
			if r := w.revs[t.Revision]; r == nil || !r.ready {
				f.violations = append(f.violations, fmt.Sprintf("traffic %d%% on non-ready revision %s", t.Percent, t.Revision))
			}
		}
	}
	f.servingHistory = append(f.servingHistory, serving)
}

type notAppliedErr struct{ err error }

func (e *notAppliedErr) Error() string   { return e.err.Error() }
func (e *notAppliedErr) Unwrap() []error { return []error{e.err, ErrNotApplied} }

func (f *fakePlatform) RevisionCondition(_ context.Context, ref WorkloadRef, rev string) (Condition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if msg, ok := f.unhealthy[rev]; ok {
		return Condition{State: ConditionFailed, Message: msg}, nil
	}
	r, ok := f.ws[ref].revs[rev]
	if !ok {
		return Condition{}, fmt.Errorf("revision %s not found", rev)
	}
	if !r.ready {
		return Condition{State: ConditionFailed, Message: r.msg}, nil
	}
	return Condition{State: ConditionSucceeded}, nil
}

func (f *fakePlatform) RunExecution(_ context.Context, ref WorkloadRef) (Execution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs++
	ex := Execution{Name: fmt.Sprintf("%s-x%d", ref.Name, f.execs)}
	if f.execFail != "" {
		return ex, errors.New(f.execFail)
	}
	return ex, nil
}

func (f *fakePlatform) CreateSubnet(_ context.Context, spec SubnetSpec) (string, error) {
	f.subnets = append(f.subnets, spec)
	return spec.CIDR, nil
}

func (f *fakePlatform) ConnectorUsers(context.Context, ConnectorRef) ([]ConnectorUser, error) {
	return f.users, nil
}

func (f *fakePlatform) DeleteConnector(_ context.Context, c ConnectorRef) error {
	f.deleted = append(f.deleted, c)
	return nil
}

// fakeClock advances instantly.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

func plan(t *testing.T, f *fakePlatform, ref WorkloadRef, to VPC, opts PlanOptions) (Plan, *Snapshot) {
	t.Helper()
	s, err := f.GetWorkload(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return BuildPlan(opts, s.Workload, to, nil), s
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) observe(_ context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) traffic() []string {
	var out []string
	for _, ev := range r.events {
		if ev.Kind == EventTraffic {
			out = append(out, DescribeTraffic(ev.Traffic))
		}
	}
	return out
}

func statuses(res *Result) string {
	var parts []string
	for _, s := range res.Steps {
		parts = append(parts, string(s.Kind)+":"+string(s.Status))
	}
	return strings.Join(parts, " ")
}

func newExec(f *fakePlatform, obs Observer) *Executor {
	return &Executor{Platform: f, Observer: obs, Clock: &fakeClock{now: time.Unix(0, 0)}, HealthInterval: 10 * time.Second}
}

func TestExecuteServiceCanary(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{10, 50, 100}, StepWait: time.Minute})
	rec := &recorder{}
	res := newExec(f, rec.observe).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeMigrated || res.Err != nil {
		t.Fatalf("outcome %s, error %v", res.Outcome, res.Err)
	}
	if got, want := statuses(res), "deploy-revision:done verify:done shift-traffic:done shift-traffic:done shift-traffic:done"; got != want {
		t.Errorf("steps = %s, want %s", got, want)
	}
	if res.PreviousRevision != "run-service-00001-abc" || res.NewRevision != "run-service-00002-abc" || res.Tag != "runnet-direct" {
		t.Errorf("revisions %s -> %s, tag %q", res.PreviousRevision, res.NewRevision, res.Tag)
	}
	want := []string{
		"run-service-00001-abc 100%, latest 0% (tag runnet-direct)",
		"run-service-00001-abc 90%, run-service-00002-abc 10% (tag runnet-direct)",
		"run-service-00001-abc 50%, run-service-00002-abc 50% (tag runnet-direct)",
		"latest 100%",
	}
	if got := rec.traffic(); !slices.Equal(got, want) {
		t.Errorf("traffic steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Health was watched during both waits: a minute at 10 s intervals.
	health := 0
	for _, ev := range rec.events {
		if ev.Kind == EventHealth {
			health++
		}
	}
	if health != 12 {
		t.Errorf("%d health checks while waiting, want 12", health)
	}
	w := f.ws[fkSvc]
	if !sameVPC(w.vpc, fkDir, fkSvc) || !slices.Equal(w.traffic, []TrafficTarget{{Latest: true, Percent: 100}}) {
		t.Errorf("final: vpc %v traffic %v", w.vpc, w.traffic)
	}
	if len(f.violations) > 0 {
		t.Errorf("traffic on non-ready revisions: %v", f.violations)
	}
	if res.DurationSeconds != 120 {
		t.Errorf("duration %v, want 120 (two one-minute waits on the fake clock)", res.DurationSeconds)
	}
	if ev := rec.events[len(rec.events)-1]; ev.Kind != EventFinished || ev.Result != res {
		t.Errorf("last event %+v", ev)
	}
}

func TestExecuteKeepsOtherRevisionsAndTags(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, nil)
	w := f.ws[fkSvc]
	f.newRev(w, fkConn) // 00002, latest ready
	w.traffic = []TrafficTarget{{Revision: "run-service-00001-abc", Percent: 20, Tag: "old"}, {Latest: true, Percent: 80, Tag: "live"}}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{50, 100}})
	rec := &recorder{}
	res := newExec(f, rec.observe).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeMigrated {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	want := []string{
		"run-service-00001-abc 20% (tag old), run-service-00002-abc 80% (tag live), latest 0% (tag runnet-direct)",
		"run-service-00001-abc 20% (tag old), run-service-00002-abc 40% (tag live), run-service-00003-abc 40% (tag runnet-direct)",
		"run-service-00001-abc 20% (tag old), latest 80% (tag live)",
	}
	if got := rec.traffic(); !slices.Equal(got, want) {
		t.Errorf("traffic steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExecuteDeployFailsRollsBack(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100, Tag: "live"}})
	f.broken = func(v VPC) string {
		if v.Mode() == ModeDirect {
			return "insufficient free IP addresses"
		}
		return ""
	}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{10, 100}})
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if got, want := statuses(res), "deploy-revision:failed verify:skipped shift-traffic:skipped shift-traffic:skipped restore-template:done restore-traffic:done"; got != want {
		t.Errorf("steps = %s\nwant    %s", got, want)
	}
	if !strings.Contains(res.Error, "insufficient free IP addresses") {
		t.Errorf("error %q", res.Error)
	}
	w := f.ws[fkSvc]
	if !sameVPC(w.vpc, fkConn, fkSvc) || !slices.Equal(w.traffic, []TrafficTarget{{Latest: true, Percent: 100, Tag: "live"}}) {
		t.Errorf("not restored: vpc %v traffic %v", w.vpc, w.traffic)
	}
	if res.RestoredRevision != "run-service-00003-abc" || w.ready != "run-service-00003-abc" {
		t.Errorf("restored revision %q, latest ready %q", res.RestoredRevision, w.ready)
	}
	// At every instant, traffic went to revision 1 until the restored revision 3 took over.
	for i, sv := range f.servingHistory {
		if sv["run-service-00002-abc"] > 0 {
			t.Errorf("change %d: traffic on the failed revision: %v", i, sv)
		}
	}
	if len(f.violations) > 0 {
		t.Errorf("violations: %v", f.violations)
	}
}

func TestExecuteCanaryStepFailsRollsBack(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	f.hook = func(n int, u Update) error {
		if n == 3 { // deploy, 10%, then the 50% step
			return &notAppliedErr{errors.New("INTERNAL: boom")}
		}
		return nil
	}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{10, 50, 100}})
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if got, want := statuses(res), "deploy-revision:undone verify:done shift-traffic:undone shift-traffic:failed shift-traffic:skipped restore-template:done restore-traffic:done"; got != want {
		t.Errorf("steps = %s\nwant    %s", got, want)
	}
	w := f.ws[fkSvc]
	if !sameVPC(w.vpc, fkConn, fkSvc) || !slices.Equal(w.traffic, []TrafficTarget{{Latest: true, Percent: 100}}) || w.ready != "run-service-00003-abc" {
		t.Errorf("not restored: vpc %v traffic %v ready %s", w.vpc, w.traffic, w.ready)
	}
	if len(f.violations) > 0 {
		t.Errorf("violations: %v", f.violations)
	}
}

func TestExecuteInterruptedRollsBack(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obs := func(_ context.Context, ev Event) error {
		if ev.Kind == EventStepFinished && ev.Step.Kind == StepDeployRevision {
			cancel() // Ctrl-C right after the new revision is deployed
		}
		return nil
	}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{50, 100}})
	res := newExec(f, obs).Execute(ctx, Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if !strings.Contains(res.Error, "interrupted before step 2 (verify)") {
		t.Errorf("error %q", res.Error)
	}
	w := f.ws[fkSvc]
	if !sameVPC(w.vpc, fkConn, fkSvc) || !slices.Equal(w.traffic, []TrafficTarget{{Latest: true, Percent: 100}}) {
		t.Errorf("not restored: vpc %v traffic %v", w.vpc, w.traffic)
	}
}

func TestExecuteRollbackFails(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	f.hook = func(n int, u Update) error {
		if n >= 2 {
			return errors.New("UNAVAILABLE: the API is down")
		}
		return nil
	}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{50, 100}})
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeFailed || res.RollbackError == "" {
		t.Fatalf("outcome %s, rollback error %q", res.Outcome, res.RollbackError)
	}
	if !strings.Contains(res.State, "template: direct") || !strings.Contains(res.State, "run-service-00001-abc 100%") {
		t.Errorf("state %q", res.State)
	}
	if len(res.Recovery) != 2 || render(res.Recovery[0]) != "<restore-vpc run-service connector: connector projects/my-project/locations/asia-northeast1/connectors/run-connector, egress private-ranges-only>" ||
		render(res.Recovery[1]) != "<restore-traffic run-service latest 100%>" || !res.Recovery[0].Actions[0].Where {
		t.Errorf("recovery %+v", res.Recovery)
	}
	if got := statuses(res); !strings.HasSuffix(got, "restore-template:failed") {
		t.Errorf("steps %s", got)
	}
}

func TestExecuteRefusedChangesNothing(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{})
	// Someone moved the traffic since runnet read it.
	f.ws[fkSvc].etag++
	f.ws[fkSvc].traffic = []TrafficTarget{{Revision: "run-service-00001-abc", Percent: 100}}
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeFailed || !errors.Is(res.Err, ErrNotApplied) || !errors.Is(res.Err, ErrConflict) || !strings.Contains(res.Error, "changed: traffic") {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if got := statuses(res); got != "deploy-and-shift:failed" {
		t.Errorf("steps %s", got)
	}
	if f.updates != 1 || len(res.Notes) == 0 || !strings.Contains(render(res.Notes[0]), "nothing was changed") {
		t.Errorf("%d updates, notes %q", f.updates, renderAll(res.Notes))
	}
}

func TestExecuteUnhealthyDuringWatch(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	obs := func(_ context.Context, ev Event) error {
		if ev.Kind == EventTraffic && ev.Step.Percent == 10 {
			f.mu.Lock()
			f.unhealthy["run-service-00002-abc"] = "container failed to start"
			f.mu.Unlock()
		}
		return nil
	}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{10, 100}, StepWait: time.Minute})
	res := newExec(f, obs).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack || !strings.Contains(res.Error, "revision run-service-00002-abc is not healthy: container failed to start") {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Error)
	}
	if w := f.ws[fkSvc]; !sameVPC(w.vpc, fkConn, fkSvc) || !slices.Equal(w.traffic, []TrafficTarget{{Latest: true, Percent: 100}}) {
		t.Errorf("not restored")
	}
}

func TestExecuteObserverErrorStops(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	obs := func(_ context.Context, ev Event) error {
		if ev.Kind == EventStepStarted && ev.Step.Kind == StepVerify {
			return errors.New("journal write failed")
		}
		return nil
	}
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{50, 100}})
	res := newExec(f, obs).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack || res.Error != "journal write failed" {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Error)
	}
}

func TestExecuteJob(t *testing.T) {
	f := newFake()
	f.add(fkJob, fkConn, nil)
	p, s := plan(t, f, fkJob, fkDir, PlanOptions{VerifyJob: true})
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeMigrated || statuses(res) != "update-template:done run-execution:done" || res.Steps[1].Execution != "nightly-x1" {
		t.Fatalf("outcome %s (%v), steps %s", res.Outcome, res.Err, statuses(res))
	}

	// A failed verification rolls the template back.
	f = newFake()
	f.add(fkJob, fkConn, nil)
	f.execFail = "task failed: cannot reach 10.0.0.3"
	p, s = plan(t, f, fkJob, fkDir, PlanOptions{VerifyJob: true})
	res = newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack || statuses(res) != "update-template:undone run-execution:failed restore-template:done" {
		t.Fatalf("outcome %s (%v), steps %s", res.Outcome, res.Err, statuses(res))
	}
	if !sameVPC(f.ws[fkJob].vpc, fkConn, fkJob) || res.Steps[1].Note != "the execution stays in the job's history" {
		t.Errorf("vpc %v, note %q", f.ws[fkJob].vpc, res.Steps[1].Note)
	}
}

func TestExecuteWorkerPool(t *testing.T) {
	f := newFake()
	f.add(fkPool, VPC{}, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkPool, fkDir, PlanOptions{})
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeMigrated || statuses(res) != "update-template:done verify:done" || res.NewRevision != "queue-00002-abc" {
		t.Fatalf("outcome %s (%v), steps %s, new %s", res.Outcome, res.Err, statuses(res), res.NewRevision)
	}
	// A new revision that cannot start: restored.
	f.broken = func(v VPC) string {
		if strings.Contains(v.Subnet, "full") {
			return "no free IPs"
		}
		return ""
	}
	full := fkDir
	full.Subnet = "projects/my-project/regions/asia-northeast1/subnetworks/full"
	p, s = plan(t, f, fkPool, full, PlanOptions{})
	res = newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeRolledBack || statuses(res) != "update-template:failed verify:skipped restore-template:done restore-traffic:done" {
		t.Fatalf("outcome %s (%v), steps %s", res.Outcome, res.Err, statuses(res))
	}
	if !sameVPC(f.ws[fkPool].vpc, fkDir, fkPool) || len(f.violations) > 0 {
		t.Errorf("vpc %v violations %v", f.ws[fkPool].vpc, f.violations)
	}
}

func TestExecuteCleanup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		users  []ConnectorUser
		status StepStatus
	}{
		{"unused", nil, StepDone},
		{"still used", []ConnectorUser{{Workload: fkJob}, {Workload: fkSvc, Revision: "run-service-00001-abc"}}, StepSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
			f.users = tc.users
			p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Cleanup: true})
			res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
			last := res.Steps[len(res.Steps)-1]
			if res.Outcome != OutcomeMigrated || last.Kind != StepDeleteConnector || last.Status != tc.status {
				t.Fatalf("outcome %s, last step %+v", res.Outcome, last)
			}
			if tc.status == StepDone && len(f.deleted) != 1 {
				t.Errorf("deleted %v", f.deleted)
			}
			if tc.status == StepSkipped && (len(f.deleted) != 0 || !strings.Contains(last.Note, "still used by job/nightly, run-service (revision run-service-00001-abc)")) {
				t.Errorf("deleted %v, note %q", f.deleted, last.Note)
			}
		})
	}
}

func TestExecuteNoOpAndBlocked(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkConn, PlanOptions{})
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeNoOp || f.updates != 0 {
		t.Fatalf("no-op: outcome %s, %d updates", res.Outcome, f.updates)
	}
	s, _ = f.GetWorkload(context.Background(), fkSvc)
	p = BuildPlan(PlanOptions{}, s.Workload, fkDir, []Check{{Name: CheckFreeIPs, Status: StatusFail}})
	res = newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeBlocked || f.updates != 0 || !strings.Contains(res.Error, "free-ips") {
		t.Fatalf("blocked: outcome %s (%s), %d updates", res.Outcome, res.Error, f.updates)
	}
	if statuses(res) != "deploy-and-shift:skipped" {
		t.Errorf("steps %s", statuses(res))
	}
}

func TestExecuteRefusesRolloutInProgress(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{})
	// A revision starting: refused.
	starting := *s
	starting.Reconciling, starting.LatestCreated = true, "run-service-00009-new"
	res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: &starting})
	if res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "rollout is in progress") || f.updates != 0 {
		t.Fatalf("outcome %s (%s)", res.Outcome, res.Error)
	}
	// Traffic moving: refused.
	moving := *s
	moving.Reconciling, moving.TrafficStatus = true, []TrafficTarget{{Revision: "run-service-00000-old", Percent: 100}}
	res = newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: &moving})
	if res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "rollout is in progress") || f.updates != 0 {
		t.Fatalf("traffic moving: outcome %s (%s)", res.Outcome, res.Error)
	}
	// A metadata-only change settling (labels, annotations): nothing that serves changes, so
	// the migration may start.
	meta := *s
	meta.Reconciling = true
	if res := newExec(f, nil).Execute(context.Background(), Request{Plan: p, Workload: &meta}); res.Outcome != OutcomeMigrated {
		t.Fatalf("metadata-only reconcile: outcome %s (%s)", res.Outcome, res.Error)
	}
}

func TestTrafficArithmetic(t *testing.T) {
	r0, r1 := "s-00001-aaa", "s-00002-bbb"
	tests := []struct {
		name  string
		orig  []TrafficTarget
		pct   int
		want  string // canary split
		final string
	}{
		{"latest only", []TrafficTarget{{Latest: true, Percent: 100}}, 10,
			"s-00001-aaa 90%, s-00002-bbb 10% (tag t)", "latest 100%"},
		{"pinned", []TrafficTarget{{Revision: r0, Percent: 100}}, 50,
			"s-00001-aaa 50%, s-00002-bbb 50% (tag t)", "s-00002-bbb 100%"},
		{"latest and pinned r0 merge", []TrafficTarget{{Revision: r0, Percent: 40}, {Latest: true, Percent: 60}}, 50,
			"s-00001-aaa 50%, s-00002-bbb 50% (tag t)", "s-00002-bbb 40%, latest 60%"},
		{"another revision keeps its share", []TrafficTarget{{Revision: "s-00000-old", Percent: 30}, {Latest: true, Percent: 70}}, 10,
			"s-00000-old 30%, s-00001-aaa 63%, s-00002-bbb 7% (tag t)", "s-00000-old 30%, latest 70%"},
		{"a tag-only entry stays on r0", []TrafficTarget{{Latest: true, Percent: 100}, {Revision: r0, Percent: 0, Tag: "pin"}}, 1,
			"s-00001-aaa 99%, s-00001-aaa 0% (tag pin), s-00002-bbb 1% (tag t)", "latest 100%, s-00001-aaa 0% (tag pin)"},
		{"small shares move at least 1%", []TrafficTarget{{Revision: "x-old", Percent: 99}, {Latest: true, Percent: 1}}, 10,
			"x-old 99%, s-00002-bbb 1% (tag t)", "x-old 99%, latest 1%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := canaryTraffic(PinLatest(tc.orig, r0), []string{r0}, r1, tc.pct, "t")
			if DescribeTraffic(got) != tc.want {
				t.Errorf("canary %d%% = %s, want %s", tc.pct, DescribeTraffic(got), tc.want)
			}
			sum := 0
			for _, x := range got {
				sum += x.Percent
			}
			if sum != 100 {
				t.Errorf("canary sums to %d", sum)
			}
			if f := DescribeTraffic(finalTraffic(tc.orig, []string{r0}, r1)); f != tc.final {
				t.Errorf("final = %s, want %s", f, tc.final)
			}
		})
	}
	// Several revisions serve with the old settings (pinned): their shares move, untagged
	// entries first, and the new revision ends in their place; tags go with the traffic.
	two := []TrafficTarget{{Revision: "a", Percent: 60, Tag: "stable"}, {Revision: "b", Percent: 40}, {Revision: "c", Tag: "old"}}
	if got := DescribeTraffic(canaryTraffic(two, []string{"a", "b"}, r1, 50, "t")); got != "a 50% (tag stable), c 0% (tag old), s-00002-bbb 50% (tag t)" {
		t.Errorf("canary of two = %s", got)
	}
	if got := DescribeTraffic(finalTraffic(two, []string{"a", "b"}, r1)); got != "s-00002-bbb 60% (tag stable), s-00002-bbb 40%, c 0% (tag old)" {
		t.Errorf("final of two = %s", got)
	}
	// Into a revision that serves already: untagged entries merge.
	if got := DescribeTraffic(finalTraffic([]TrafficTarget{{Revision: "a", Percent: 70}, {Revision: r1, Percent: 30}}, []string{"a"}, r1)); got != "s-00002-bbb 100%" {
		t.Errorf("final into a serving revision = %s", got)
	}
	if got := uniqueTag("runnet-direct", []TrafficTarget{{Tag: "runnet-direct"}, {Tag: "runnet-direct-2"}}); got != "runnet-direct-3" {
		t.Errorf("uniqueTag = %q", got)
	}
	if got := DescribeTraffic(deployTraffic([]TrafficTarget{{Latest: true, Percent: 100, Tag: "live"}}, r0, "t")); got != "s-00001-aaa 100% (tag live), latest 0% (tag t)" {
		t.Errorf("deployTraffic = %s", got)
	}
}

// The recovery command puts the split back exactly as the journal holds it: every share,
// LATEST for entries that follow the latest revision, and every tag (others removed).

// render is a message with each action in its place as <kind workload details>, for tests
// (the command lines are internal/cli's).
func render(m Message) string {
	if len(m.Actions) == 0 {
		return m.Text
	}
	args := make([]any, len(m.Actions))
	for i, a := range m.Actions {
		s := "<" + string(a.Kind)
		if a.Workload.Name != "" {
			s += " " + a.Workload.String()
		}
		if a.VPC.Mode() != ModeNone {
			s += " " + a.VPC.String()
		}
		if a.Traffic != nil {
			s += " " + DescribeTraffic(a.Traffic)
		}
		for _, x := range []string{a.Name, a.Region, strings.Join(a.Tags, ",")} {
			if x != "" {
				s += " " + x
			}
		}
		if a.MaxInstances > 0 {
			s += fmt.Sprintf(" max %d", a.MaxInstances)
		}
		args[i] = s + ">"
	}
	return fmt.Sprintf(m.Text, args...)
}

func renderAll(ms []Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, render(m))
	}
	return strings.Join(out, " | ")
}
