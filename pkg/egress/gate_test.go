package egress

import (
	"strings"
	"testing"
	"time"
)

func TestGateJudge(t *testing.T) {
	g := DefaultGatePolicy()
	old := RevisionMetrics{Revision: "old", Requests: 1000, Errors: 5, P95Ms: 100}
	tests := []struct {
		name           string
		nw             RevisionMetrics
		judged, passed bool
		want           string
	}{
		{"too few requests", RevisionMetrics{Revision: "new", Requests: 99, Errors: 1}, false, false, "fewer than the 100 needed"},
		// Too few to judge a ratio, but enough 5xx to exceed the limit whatever the rest of
		// the minimum would answer.
		{"too few, all 5xx", RevisionMetrics{Revision: "new", Requests: 99, Errors: 99}, true, false, "even were the rest of 100 to succeed, 99.0% against 0.5% for old"},
		{"too few, 5xx within the limit of the minimum", RevisionMetrics{Revision: "new", Requests: 10, Errors: 1}, false, false, "not judged"},
		{"all 5xx", RevisionMetrics{Revision: "new", Requests: 200, Errors: 200, P95Ms: 3000}, true, false, "100.0% of its requests with 5xx (200 of 200), against 0.5% for old"},
		{"within a point", RevisionMetrics{Revision: "new", Requests: 200, Errors: 2, P95Ms: 120}, true, true, "no worse"},
		{"slower by 60%", RevisionMetrics{Revision: "new", Requests: 200, P95Ms: 160}, true, false, "60% slower, more than the 50% allowed"},
		{"no latency figure", RevisionMetrics{Revision: "new", Requests: 200}, true, true, "no worse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.Judge(tt.nw, old)
			if r.Judged != tt.judged || r.Passed != tt.passed || !strings.Contains(r.Reason, tt.want) {
				t.Errorf("judged %v passed %v %q; want %v %v with %q", r.Judged, r.Passed, r.Reason, tt.judged, tt.passed, tt.want)
			}
		})
	}
	// With no traffic on the old side, latency is not compared and errors are against zero.
	if r := g.Judge(RevisionMetrics{Revision: "new", Requests: 200, Errors: 3, P95Ms: 5000}, RevisionMetrics{Revision: "old"}); !r.Judged || r.Passed {
		t.Errorf("against an idle old revision: %+v", r)
	}
}

// A threshold of 0 means no worse: figures equal but for rounding (the same latency
// distribution's p95 computed twice) pass.
func TestGateJudgeZeroThresholdsToleratesRounding(t *testing.T) {
	g := GatePolicy{MaxErrorRate: 0, MaxLatencyIncrease: 0, MinRequests: 10}
	nw := RevisionMetrics{Revision: "new", Requests: 300, Errors: 1, P95Ms: 55.88399934136315}
	old := RevisionMetrics{Revision: "old", Requests: 3000, Errors: 10, P95Ms: 55.88399934136314}
	if r := g.Judge(nw, old); !r.Judged || !r.Passed {
		t.Errorf("equal figures with thresholds 0: %+v; want passed", r)
	}
	nw.P95Ms = 56.5
	if r := g.Judge(nw, old); r.Passed {
		t.Errorf("a p95 1%% slower with --max-latency-increase 0: %+v; want refused", r)
	}
}

func TestGatePlanNeedsTwoOperations(t *testing.T) {
	w := Workload{Ref: svcRef, VPC: VPC{Connector: "run-connector"}, LatestReady: "run-service-00001-abc", LatestCreated: "run-service-00001-abc",
		Traffic: []TrafficTarget{{Latest: true, Percent: 100}}}
	g := DefaultGatePolicy()
	p := BuildPlan(PlanOptions{Canary: []int{10, 100}, StepWait: time.Minute, Gate: &g}, w, VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}, nil)
	if p.Gate == nil || !strings.Contains(render(p.Notes[0]), "judged by Cloud Monitoring's request metrics") {
		t.Errorf("gate %+v, notes %+v", p.Gate, p.Notes)
	}
	// Without a watch the gate reads no step: the plan must not say it judges them.
	p = BuildPlan(PlanOptions{Canary: []int{10, 100}, Gate: &g}, w, VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}, nil)
	if n := render(p.Notes[0]); strings.Contains(n, "each traffic step but the last is judged") || !strings.Contains(n, "no step is judged") {
		t.Errorf("no --step-wait: notes %+v", p.Notes)
	}
	p = BuildPlan(PlanOptions{Gate: &g}, w, VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}, nil)
	if p.Gate != nil || len(p.Steps) != 1 || p.Steps[0].Kind != StepDeployAndShift {
		t.Errorf("no canary: gate %+v, steps %+v; want one update, ungated", p.Gate, p.Steps)
	}
	if needs, why := (&Plan{Workload: svcRef, Canary: []int{100}, Gate: &g}).NeedsRevisionBeforeTraffic(); !needs || !strings.Contains(why, "request metrics") {
		t.Errorf("a gated plan: %v %q", needs, why)
	}
}
