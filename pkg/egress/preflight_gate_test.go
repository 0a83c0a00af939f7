package egress

import (
	"strings"
	"testing"
	"time"
)

// metric-gate's verdicts from the facts alone: the rate read, the step and the minimum.
func TestMetricGateCheck(t *testing.T) {
	base := MetricsFacts{Project: "p", WindowSeconds: 600, Requests: 6000,
		Canary: []int{10, 50, 100}, StepWait: 5 * time.Minute, MinRequests: 100}
	for _, tc := range []struct {
		name   string
		change func(*MetricsFacts)
		status CheckStatus
		want   string
		first  int64
	}{
		{"enough", func(*MetricsFacts) {}, StatusPass, "about 300, enough", 300},
		{"short step", func(m *MetricsFacts) { m.StepWait = time.Minute }, StatusWarn, "about 60, fewer than the 100", 60},
		{"small first share", func(m *MetricsFacts) { m.Canary = []int{1, 100} }, StatusWarn, "(1% for 5m0s) gives the new revision about 30", 30},
		{"no step wait", func(m *MetricsFacts) { m.StepWait = 0 }, StatusWarn, "no --step-wait no step is watched, and the metrics gate judges a step only once its watch ends", 0},
		{"no traffic", func(m *MetricsFacts) { m.Requests = 0 }, StatusWarn, "served no requests in the last 10m0s", -1},
		{"refused", func(m *MetricsFacts) { m.Err, m.Denied = "PERMISSION_DENIED", true }, StatusFail, "cannot read Cloud Monitoring in project p", -1},
		{"failed", func(m *MetricsFacts) { m.Err = "deadline exceeded" }, StatusWarn, "could not read", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base
			tc.change(&m)
			f := Facts{Workload: Workload{Ref: WorkloadRef{Kind: KindService, Project: "p", Region: "asia-northeast1", Name: "s"}}, Metrics: &m}
			c := transition{f: f, ref: f.Workload.Ref}.metricGate()
			if c.Name != CheckMetricGate || c.Status != tc.status || !strings.Contains(c.Message, tc.want) {
				t.Errorf("%+v; want %s with %q", c, tc.status, tc.want)
			}
			if got, ok := c.Numbers["expectedFirstStep"]; tc.first >= 0 && (!ok || got != tc.first) {
				t.Errorf("expectedFirstStep = %d (%v), want %d", got, ok, tc.first)
			}
			if c.Status != StatusPass && c.Hint == "" {
				t.Error("no hint")
			}
		})
	}
	if !Forceable(CheckMetricGate) {
		t.Error("metric-gate cannot be forced")
	}
}
