package egress

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// The forms of a service's traffic a switch in one update handles: following the latest
// revision (sent as it is), and pinned by name (the new revision, named in the request, takes
// the old one's place; the rest of the split and its tags stay).
var oneStepTraffic = []struct {
	name    string
	traffic []TrafficTarget
	// final is the traffic after the switch, with NEW for the new revision.
	final []TrafficTarget
}{
	{"latest", []TrafficTarget{{Latest: true, Percent: 100}}, []TrafficTarget{{Latest: true, Percent: 100}}},
	{"pinned", []TrafficTarget{{Revision: "run-service-00001-abc", Percent: 90, Tag: "stable"}, {Revision: "other-rev", Percent: 10}},
		[]TrafficTarget{{Revision: "NEW", Percent: 90, Tag: "stable"}, {Revision: "other-rev", Percent: 10}}},
}

func withNew(ts []TrafficTarget, rev string) []TrafficTarget {
	out := slices.Clone(ts)
	for i := range out {
		if out[i].Revision == "NEW" {
			out[i].Revision = rev
		}
	}
	return out
}

// addOneStep adds the service with its traffic (and the other revision a pinned split names).
func addOneStep(f *fakePlatform, traffic []TrafficTarget) {
	f.add(fkSvc, fkConn, traffic)
	f.ws[fkSvc].revs["other-rev"] = &fakeRev{vpc: fkConn, ready: true}
}

func TestExecuteOneStep(t *testing.T) {
	for _, tc := range oneStepTraffic {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			addOneStep(f, tc.traffic)
			p, s := plan(t, f, fkSvc, fkDir, PlanOptions{})
			if got := stepKinds(p); !slices.Equal(got, []StepKind{StepDeployAndShift}) {
				t.Fatalf("steps %v", got)
			}
			var sent []Update
			f.hook = func(_ int, u Update) error { sent = append(sent, u); return nil }
			res := journalExec(f).Execute(context.Background(), Request{Plan: p, Workload: s})
			if res.Outcome != OutcomeMigrated || res.Err != nil || statuses(res) != "deploy-and-shift:done" {
				t.Fatalf("outcome %s (%v), steps %s", res.Outcome, res.Err, statuses(res))
			}
			w := f.ws[fkSvc]
			// One change of the workload, which removes the journal in the same request (the
			// run's last change): nothing else is written.
			if len(sent) != 1 || sent[0].VPC == nil || sent[0].Journal == nil || *sent[0].Journal != "" || sent[0].NoWait {
				t.Fatalf("updates %+v", sent)
			}
			if tc.name == "latest" {
				if sent[0].Traffic != nil || sent[0].Revision != "" || res.NewRevision != "run-service-00002-abc" {
					t.Errorf("traffic %v, revision %q, new %q", sent[0].Traffic, sent[0].Revision, res.NewRevision)
				}
			} else if !strings.HasPrefix(sent[0].Revision, "run-service-runnet-") || res.NewRevision != sent[0].Revision {
				t.Errorf("revision %q, new %q", sent[0].Revision, res.NewRevision)
			}
			if want := withNew(tc.final, res.NewRevision); !sameTraffic(w.traffic, want) || w.ready != res.NewRevision || !sameVPC(w.vpc, fkDir, fkSvc) {
				t.Errorf("traffic %v, want %v; ready %s", w.traffic, want, w.ready)
			}
			if w.journal != "" || len(f.violations) > 0 {
				t.Errorf("journal %q, violations %v", w.journal, f.violations)
			}
		})
	}
}

// A revision that fails leaves the traffic where it was; the run rolls the template back.
func TestExecuteOneStepRevisionFails(t *testing.T) {
	for _, tc := range oneStepTraffic {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			addOneStep(f, tc.traffic)
			f.broken = func(v VPC) string {
				if v.Subnet != "" {
					return "no free IPs"
				}
				return ""
			}
			p, s := plan(t, f, fkSvc, fkDir, PlanOptions{})
			res := journalExec(f).Execute(context.Background(), Request{Plan: p, Workload: s})
			if res.Outcome != OutcomeRolledBack || !strings.Contains(res.Error, "no free IPs") {
				t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
			}
			if !strings.HasPrefix(statuses(res), "deploy-and-shift:failed restore-template:done") || res.Steps[0].Revision == "" {
				t.Errorf("steps %s, failed revision %q", statuses(res), res.Steps[0].Revision)
			}
			w := f.ws[fkSvc]
			if !sameVPC(w.vpc, fkConn, fkSvc) || !sameTraffic(w.traffic, tc.traffic) || w.journal != "" || len(f.violations) > 0 {
				t.Errorf("vpc %v, traffic %v, journal %q, violations %v", w.vpc, w.traffic, w.journal, f.violations)
			}
		})
	}
}

// interrupting is a platform whose first template change lands, and then the wait for it is
// interrupted (Ctrl-C while the revision starts).
type interrupting struct {
	*fakePlatform
	cancel func()
	done   bool
}

func (p *interrupting) Update(ctx context.Context, cur *Snapshot, u Update) (*Snapshot, error) {
	s, err := p.fakePlatform.Update(ctx, cur, u)
	if err != nil || u.VPC == nil || p.done {
		return s, err
	}
	p.done = true
	p.cancel()
	return nil, context.Canceled
}

func TestExecuteOneStepInterrupted(t *testing.T) {
	for _, tc := range oneStepTraffic {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			addOneStep(f, tc.traffic)
			p, s := plan(t, f, fkSvc, fkDir, PlanOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e := journalExec(f)
			e.Platform = &interrupting{fakePlatform: f, cancel: cancel}
			res := e.Execute(ctx, Request{Plan: p, Workload: s})
			if res.Outcome != OutcomeRolledBack || !errors.Is(res.Err, context.Canceled) || !strings.Contains(res.Error, "interrupted during step 1 (deploy-and-shift)") {
				t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
			}
			w := f.ws[fkSvc]
			if !sameVPC(w.vpc, fkConn, fkSvc) || !sameTraffic(w.traffic, tc.traffic) || w.journal != "" || len(f.violations) > 0 {
				t.Errorf("vpc %v, traffic %v, journal %q, violations %v", w.vpc, w.traffic, w.journal, f.violations)
			}
		})
	}
}

func TestNeedsRevisionBeforeTraffic(t *testing.T) {
	long := strings.Repeat("s", 56)
	for _, tc := range []struct {
		name  string
		p     Plan
		needs bool
		why   string
	}{
		{"all at once", Plan{Workload: svcRef, Canary: []int{100}}, false, ""},
		{"canary", Plan{Workload: svcRef, Canary: []int{10, 50, 100}}, true, "the traffic moves in steps (10,50,100)"},
		{"worker pool", Plan{Workload: WorkloadRef{Kind: KindWorkerPool, Name: "wp"}, Canary: []int{100}}, true, "worker pool's new revision is deployed, then checked"},
		{"pinned, name fits", Plan{Workload: WorkloadRef{Kind: KindService, Name: long[:49]}, Canary: []int{100}, namesNewRevision: true}, false, ""},
		{"pinned, name too long", Plan{Workload: WorkloadRef{Kind: KindService, Name: long}, Canary: []int{100}, namesNewRevision: true}, true, "too long to name the new revision"},
		{"following latest, long name", Plan{Workload: WorkloadRef{Kind: KindService, Name: long}, Canary: []int{100}}, false, ""},
	} {
		needs, why := tc.p.NeedsRevisionBeforeTraffic()
		if needs != tc.needs || !strings.Contains(why, tc.why) || (!needs && why != "") {
			t.Errorf("%s: %v, %q", tc.name, needs, why)
		}
	}
	if n := PlannedRevisionName(strings.Repeat("s", 49)); len(n) != 62 || !strings.HasPrefix(n, strings.Repeat("s", 49)+"-runnet-") || !rfc1035Label.MatchString(n) {
		t.Errorf("PlannedRevisionName = %q", n)
	}
	if n := PlannedRevisionName(strings.Repeat("s", 54)); !strings.HasPrefix(n, strings.Repeat("s", 54)+"-rn-") || len(n) != 63 {
		t.Errorf("PlannedRevisionName = %q", n)
	}
	if n := PlannedRevisionName(long); n != "" {
		t.Errorf("PlannedRevisionName = %q", n)
	}
}

// With a subnetwork created first, the journal records that step (for --resume); the switch,
// the run's last change, removes it in the same request.
func TestExecuteOneStepJournal(t *testing.T) {
	f := newFake()
	addOneStep(f, oneStepTraffic[1].traffic)
	p, s := plan(t, f, fkSvc, fkDir, PlanOptions{CreateSubnet: &SubnetSpec{Name: "run-direct", Network: "run-vpc", CIDR: "10.9.0.0/24"}})
	var journals []*Journal
	f.hook = func(_ int, u Update) error {
		if u.Journal != nil && *u.Journal != "" {
			j, err := DecodeJournal(*u.Journal)
			if err != nil {
				return err
			}
			journals = append(journals, j)
		}
		return nil
	}
	res := journalExec(f).Execute(context.Background(), Request{Plan: p, Workload: s, CreateSubnet: &SubnetSpec{Name: "run-direct", Network: "run-vpc", CIDR: "10.9.0.0/24"}})
	if res.Outcome != OutcomeMigrated || statuses(res) != "create-subnet:done deploy-and-shift:done" {
		t.Fatalf("outcome %s (%v), steps %s", res.Outcome, res.Err, statuses(res))
	}
	// The journal-only write of the create-subnet step; the switch itself removes it.
	if len(journals) != 1 || journals[0].Step != 0 || f.ws[fkSvc].journal != "" || f.updates != 2 {
		t.Errorf("journals %+v, left %q, %d updates", journals, f.ws[fkSvc].journal, f.updates)
	}
}
