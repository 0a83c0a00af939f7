package egress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleJournal() *Journal {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	return &Journal{
		Version: JournalVersion, ID: "0123456789abcdef", Who: "alice@ci-runner-7", PID: 4242,
		Started: t0, Updated: t0.Add(time.Minute), Expires: t0.Add(16 * time.Minute),
		Phase: PhaseMigrating, Step: 1, Summary: "migrate run-service from connector to direct in 3 steps", Workload: fkSvc,
		Original: Original{VPC: fkConn, Traffic: []TrafficTarget{{Latest: true, Percent: 100}}, LatestReady: "run-service-00001-abc", LatestCreated: "run-service-00001-abc", Etag: "e1"},
		To:       fkDir, NewRevision: "run-service-00002-abc", Tag: "runnet-direct",
		Steps: []JournalStep{
			{Kind: StepDeployRevision, Tag: "runnet-direct", Status: StepDone},
			{Kind: StepVerify, Status: StepPending},
			{Kind: StepShiftTraffic, Percent: 100, Status: StepPending},
		},
	}
}

func TestJournalRoundTrip(t *testing.T) {
	j := sampleJournal()
	v, err := j.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, `{"v":1,"id":"0123456789abcdef","who":"alice@ci-runner-7","pid":4242,`) {
		t.Errorf("encoding %s", v)
	}
	got, err := DecodeJournal(v)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Encode()
	if again != v {
		t.Errorf("round trip:\n%s\n%s", v, again)
	}
	p := got.Plan()
	if len(p.Steps) != 3 || p.FromMode != ModeConnector || p.ToMode != ModeDirect || !slices.Equal(p.Canary, []int{100}) {
		t.Errorf("plan %+v", p)
	}
	now := j.Updated.Add(time.Minute)
	if d := got.Describe(now); !strings.Contains(d, "alice@ci-runner-7, pid 4242") || !strings.Contains(d, "step 2/3 (verify)") || strings.Contains(d, "stale") {
		t.Errorf("describe %q", d)
	}
	if got.Stale(now) || !got.Stale(j.Expires.Add(time.Second)) {
		t.Error("staleness")
	}
}

func TestDecodeJournalRejects(t *testing.T) {
	good, _ := sampleJournal().Encode()
	mutate := func(f func(*Journal)) string {
		j := sampleJournal()
		f(j)
		v, _ := j.Encode()
		return v
	}
	tests := map[string]string{
		"empty":         "",
		"not json":      "{",
		"trailing":      good + "{}",
		"version":       mutate(func(j *Journal) { j.Version = 2 }),
		"no id":         mutate(func(j *Journal) { j.ID = "" }),
		"bad workload":  mutate(func(j *Journal) { j.Workload.Name = "../x" }),
		"phase":         mutate(func(j *Journal) { j.Phase = "dancing" }),
		"no steps":      mutate(func(j *Journal) { j.Steps = nil }),
		"step range":    mutate(func(j *Journal) { j.Step = 3 }),
		"negative step": mutate(func(j *Journal) { j.Step = -1 }),
		"kind":          mutate(func(j *Journal) { j.Steps[0].Kind = "explode" }),
		"percent":       mutate(func(j *Journal) { j.Steps[2].Percent = 101 }),
		"status":        mutate(func(j *Journal) { j.Steps[0].Status = "maybe" }),
		"traffic":       mutate(func(j *Journal) { j.Original.Traffic = []TrafficTarget{{Percent: 90}, {Percent: 20}} }),
		"both":          mutate(func(j *Journal) { j.To.Connector = "c" }),
		"huge":          `{"v":1,"id":"` + strings.Repeat("x", MaxJournalBytes) + `"}`,
	}
	for name, v := range tests {
		if _, err := DecodeJournal(v); err == nil || !errors.Is(err, ErrBadJournal) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzDecodeJournal: a journal annotation is input from the API (anyone who can edit the
// workload can write it): decoding never panics, and what decodes encodes back to something
// that decodes alike.
func FuzzDecodeJournal(f *testing.F) {
	good, _ := sampleJournal().Encode()
	f.Add(good)
	f.Add(`{"v":1}`)
	f.Add(`{"v":1,"id":"x","workload":{"kind":"job","project":"p","region":"r","name":"n"},"phase":"rolling-back","step":0,"steps":[{"kind":"update-template","status":"pending"}]}`)
	f.Add("null")
	f.Add("[]")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := DecodeJournal(s)
		if err != nil {
			return
		}
		v, err := j.Encode()
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		j2, err := DecodeJournal(v)
		if err != nil {
			t.Fatalf("re-encoded journal does not decode: %v\n%s", err, v)
		}
		if v2, _ := j2.Encode(); v2 != v {
			t.Fatalf("not stable:\n%s\n%s", v, v2)
		}
		_ = j.Plan()
		_ = j.Describe(time.Now())
	})
}

func journalExec(f *fakePlatform) *Executor {
	e := newExec(f, nil)
	e.Journal = &JournalConfig{Who: "test@host", PID: 1, ID: "run-1"}
	return e
}

// The journal rides on the migration's own changes (one journal-only write, at the verify
// step), records each step reached, and is gone at the end.
func TestExecuteJournalService(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{10, 100}})
	res := journalExec(f).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeMigrated {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if f.ws[fkSvc].journal != "" {
		t.Errorf("journal left: %s", f.ws[fkSvc].journal)
	}
	// deploy (+journal step 0), verify (journal only, step 1), 10% (+journal step 2), 100%
	// (removes it): four updates, no more than without a journal but one.
	if f.updates != 4 {
		t.Errorf("%d updates", f.updates)
	}
	var steps []string
	for _, v := range f.journals {
		if v == "" {
			steps = append(steps, "removed")
			continue
		}
		j, err := DecodeJournal(v)
		if err != nil {
			t.Fatal(err)
		}
		if j.ID != "run-1" || j.Who != "test@host" || j.Original.VPC.Connector != fkConn.Connector || j.Phase != PhaseMigrating {
			t.Errorf("journal %+v", j)
		}
		steps = append(steps, fmt.Sprintf("%d:%s", j.Step, j.Steps[j.Step].Kind))
	}
	if got := strings.Join(steps, " "); got != "0:deploy-revision 1:verify 2:shift-traffic removed" {
		t.Errorf("journal steps %s", got)
	}
	if len(f.violations) > 0 {
		t.Error(f.violations)
	}
}

// A workload that carries another run's journal is refused before anything is sent (exit 5).
func TestExecuteLockedByAnotherRun(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	other, _ := sampleJournal().Encode()
	f.ws[fkSvc].journal = other
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{})
	for _, e := range []*Executor{journalExec(f), newExec(f, nil)} {
		res := e.Execute(context.Background(), Request{Plan: p, Workload: s})
		var le *LockedError
		if res.Outcome != OutcomeFailed || !errors.As(res.Err, &le) || !errors.Is(res.Err, ErrConflict) ||
			!strings.Contains(res.Error, "being migrated by another runnet") || !strings.Contains(res.Error, "alice@ci-runner-7") {
			t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
		}
	}
	if f.updates != 0 || f.ws[fkSvc].journal != other {
		t.Errorf("%d updates; journal %s", f.updates, f.ws[fkSvc].journal)
	}
}

// Two runs that read the workload alike: the first change of the second meets the first's
// journal and stops, changing nothing.
func TestExecuteRaceForTheLock(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{50, 100}})
	var second *Result
	e1 := journalExec(f)
	f.after = func(n int) {
		if n != 1 {
			return
		}
		f.after = nil
		f.mu.Unlock() // the fake holds its lock while after runs
		e2 := journalExec(f)
		e2.Journal.ID = "run-2"
		second = e2.Execute(context.Background(), Request{Plan: p, Workload: s})
		f.mu.Lock()
	}
	first := e1.Execute(context.Background(), Request{Plan: p, Workload: s})
	var le *LockedError
	if first.Outcome != OutcomeMigrated || second == nil || second.Outcome != OutcomeFailed || !errors.As(second.Err, &le) || le.Journal.ID != "run-1" {
		t.Fatalf("first %s (%v), second %+v", first.Outcome, first.Err, second)
	}
	if !strings.Contains(renderAll(second.Notes), "nothing was changed") {
		t.Errorf("second notes %q", renderAll(second.Notes))
	}
}

// Someone moves the traffic in the middle of a migration: runnet stops without undoing
// anything (which would overwrite their change), keeps its journal and says how to finish.
func TestExecuteConcurrentTrafficChangeStops(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{10, 100}})
	f.after = func(n int) {
		if n == 2 { // after the journal write of the verify step
			w := f.ws[fkSvc]
			w.etag++
			w.traffic = []TrafficTarget{{Revision: "run-service-00001-abc", Percent: 100}}
		}
	}
	res := journalExec(f).Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeFailed || !errors.Is(res.Err, ErrConflict) || !strings.Contains(res.Error, "changed: traffic") {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}
	if got := statuses(res); got != "deploy-revision:done verify:done shift-traffic:failed shift-traffic:skipped" {
		t.Errorf("steps %s", got)
	}
	if f.ws[fkSvc].journal == "" || len(res.Recovery) == 0 || !strings.HasPrefix(render(res.Recovery[0]), "<resume-rollback run-service>   (undo it from the journal kept on the service)") {
		t.Errorf("journal %q, recovery %q", f.ws[fkSvc].journal, renderAll(res.Recovery))
	}
}

type killScenario struct {
	name  string
	ref   WorkloadRef
	from  VPC
	to    VPC
	opts  PlanOptions
	final func(t *testing.T, w *fakeWorkload, orig *fakeWorkload)
	// traffic is the workload's traffic before the run; nil means all on the latest revision.
	traffic []TrafficTarget
}

// add puts the scenario's workload into f.
func (sc killScenario) add(f *fakePlatform) {
	ts := sc.traffic
	if ts == nil {
		ts = []TrafficTarget{{Latest: true, Percent: 100}}
	}
	f.add(sc.ref, sc.from, ts)
}

func killScenarios() []killScenario {
	latest := func(t *testing.T, w *fakeWorkload, _ *fakeWorkload) {
		if len(w.traffic) != 1 || !w.traffic[0].Latest || w.traffic[0].Percent != 100 || w.ready != w.created {
			t.Errorf("final traffic %+v (ready %s, created %s)", w.traffic, w.ready, w.created)
		}
	}
	return []killScenario{
		{name: "service canary", ref: fkSvc, from: fkConn, to: fkDir, opts: PlanOptions{Canary: []int{10, 50, 100}, StepWait: time.Minute}, final: latest},
		// One update: the traffic follows the latest revision, or the new revision named in
		// the request takes the pinned revision's place.
		{name: "service one step", ref: fkSvc, from: fkConn, to: fkDir, final: latest},
		{name: "service one step, pinned", ref: fkSvc, from: fkConn, to: fkDir, traffic: []TrafficTarget{{Revision: "run-service-00001-abc", Percent: 100}},
			final: func(t *testing.T, w *fakeWorkload, _ *fakeWorkload) {
				if len(w.traffic) != 1 || w.traffic[0].Revision != w.created || w.traffic[0].Percent != 100 || w.ready != w.created || !strings.HasPrefix(w.created, "run-service-runnet-") {
					t.Errorf("final traffic %+v (ready %s, created %s)", w.traffic, w.ready, w.created)
				}
			}},
		{name: "job verify", ref: fkJob, from: fkConn, to: fkDir, opts: PlanOptions{VerifyJob: true}, final: func(*testing.T, *fakeWorkload, *fakeWorkload) {}},
		{name: "worker pool", ref: fkPool, from: VPC{}, to: fkDir, opts: PlanOptions{}, final: latest},
	}
}

func (f *fakePlatform) clone(ref WorkloadRef) fakeWorkload {
	w := *f.ws[ref]
	w.traffic = slices.Clone(w.traffic)
	return w
}

// Kill the process after every change a migration makes (the rollback cannot run: it is
// abandoned at once), then resume from the journal it left: finishing ends fully migrated,
// undoing ends fully restored, traffic never reaches a revision that is not ready, and the
// journal is gone.
func TestResumeAtEveryKillPoint(t *testing.T) {
	for _, sc := range killScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			// A clean run counts the changes.
			f := newFake()
			sc.add(f)
			p, s := plan(t, f, sc.ref, sc.to, sc.opts)
			if res := journalExec(f).Execute(context.Background(), Request{Plan: p, Workload: s}); res.Outcome != OutcomeMigrated {
				t.Fatalf("clean run: %s %v", res.Outcome, res.Err)
			}
			n := f.updates
			for k := 1; k <= n; k++ {
				for _, rollback := range []bool{false, true} {
					t.Run(fmt.Sprintf("kill after change %d of %d, rollback %v", k, n, rollback), func(t *testing.T) {
						f := newFake()
						sc.add(f)
						orig := f.clone(sc.ref)
						p, s := plan(t, f, sc.ref, sc.to, sc.opts)
						ctx, kill := context.WithCancel(context.Background())
						f.after = func(i int) {
							if i == k {
								kill()
							}
						}
						e := journalExec(f)
						e.RollbackContext = func(context.Context) (context.Context, context.CancelFunc) {
							c, cancel := context.WithCancel(context.Background())
							cancel() // dead: nothing more is sent
							return c, cancel
						}
						res := e.Execute(ctx, Request{Plan: p, Workload: s})
						f.after = nil
						w := f.ws[sc.ref]
						if res.Outcome == OutcomeMigrated && w.journal == "" {
							return // killed after the last change: nothing left to resume
						}
						if w.journal == "" {
							if !sameVPC(w.vpc, orig.vpc, sc.ref) {
								t.Fatalf("no journal, yet changed: %+v", w.vpc)
							}
							return
						}
						j, err := DecodeJournal(w.journal)
						if err != nil {
							t.Fatal(err)
						}
						cur, _ := f.GetWorkload(context.Background(), sc.ref)
						e2 := journalExec(f)
						e2.Journal.ID = "resumer"
						r2 := e2.Resume(context.Background(), ResumeRequest{Journal: j, Workload: cur, Rollback: rollback})
						w = f.ws[sc.ref]
						if w.journal != "" {
							t.Errorf("journal left after resume: %s", w.journal)
						}
						if len(f.violations) > 0 {
							t.Errorf("traffic on revisions not ready: %v", f.violations)
						}
						if rollback {
							if r2.Outcome != OutcomeRolledBack || r2.Err != nil || !sameVPC(w.vpc, orig.vpc, sc.ref) || !sameTraffic(w.traffic, orig.traffic) {
								t.Fatalf("rollback: outcome %s (%v), vpc %+v, traffic %+v; steps %s", r2.Outcome, r2.Err, w.vpc, w.traffic, statuses(r2))
							}
							return
						}
						if r2.Outcome != OutcomeMigrated || !sameVPC(w.vpc, sc.to, sc.ref) {
							t.Fatalf("resume: outcome %s (%v), vpc %+v; steps %s", r2.Outcome, r2.Err, w.vpc, statuses(r2))
						}
						sc.final(t, w, &orig)
					})
				}
			}
		})
	}
}

// A run that died while rolling back is rolled back by a plain --resume.
func TestResumeContinuesARollback(t *testing.T) {
	f := newFake()
	f.add(fkSvc, fkConn, []TrafficTarget{{Latest: true, Percent: 100}})
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{Canary: []int{50, 100}})
	f.unhealthy["run-service-00002-abc"] = "boom" // verify fails: a rollback starts
	e := journalExec(f)
	e.RollbackContext = func(context.Context) (context.Context, context.CancelFunc) {
		return context.Background(), func() {}
	}
	f.hook = func(n int, u Update) error {
		if u.Journal != nil && strings.Contains(*u.Journal, `"phase":"rolling-back"`) {
			return nil
		}
		if n > 2 { // the restore's changes: the process "dies"
			return &notAppliedErr{errors.New("connection lost")}
		}
		return nil
	}
	res := e.Execute(context.Background(), Request{Plan: p, Workload: s})
	if res.Outcome != OutcomeFailed || res.RollbackError == "" {
		t.Fatalf("outcome %s, rollback error %q", res.Outcome, res.RollbackError)
	}
	j, err := DecodeJournal(f.ws[fkSvc].journal)
	if err != nil || j.Phase != PhaseRollingBack {
		t.Fatalf("journal %+v, %v", j, err)
	}
	f.hook = nil
	cur, _ := f.GetWorkload(context.Background(), fkSvc)
	r2 := journalExec(f).Resume(context.Background(), ResumeRequest{Journal: j, Workload: cur})
	if r2.Outcome != OutcomeRolledBack || f.ws[fkSvc].vpc.Connector != fkConn.Connector || f.ws[fkSvc].journal != "" {
		t.Fatalf("outcome %s (%v), vpc %+v", r2.Outcome, r2.Err, f.ws[fkSvc].vpc)
	}
}
