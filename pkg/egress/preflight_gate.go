package egress

import (
	"fmt"
	"time"
)

// CheckMetricGate: a canary gated on request metrics (--canary with steps, the metrics gate
// on) can read them, and the service's traffic gives each step but the last enough requests
// to be judged. The gate cannot stop a bad revision it cannot read: a refused read fails
// (forceable: the run would go on with every step unjudged), a failed read or too little
// traffic warns.
const CheckMetricGate = "metric-gate"

// GateReadWindow is how far back the metric-gate check reads the service's request count.
// Cloud Run's metrics reach Cloud Monitoring with a delay of up to a few minutes, so a
// shorter window would undercount a service that serves.
const GateReadWindow = 10 * time.Minute

// MetricsFacts is what a read of the service's request metrics before the switch found, and
// the canary the gate will judge with them.
type MetricsFacts struct {
	// Project is the project whose Cloud Monitoring was read (the workload's).
	Project string `json:"project"`
	// WindowSeconds is how far back the read looked; Requests how many requests the
	// service's revisions answered in it.
	WindowSeconds int64 `json:"windowSeconds"`
	Requests      int64 `json:"requests"`
	// Err is the error of a failed read; Denied is set when it was refused (the caller
	// lacks monitoring.timeSeries.list, or the Cloud Monitoring API is disabled).
	Err    string `json:"error,omitempty"`
	Denied bool   `json:"denied,omitempty"`
	// Canary and StepWait are the plan's steps and watch; MinRequests the gate's minimum.
	Canary      []int         `json:"canary"`
	StepWait    time.Duration `json:"stepWait"`
	MinRequests int64         `json:"minRequests"`
}

// expectedRequests is how many requests the new revision may expect in the step that gives
// it percent of the traffic, at the rate read: it serves that share for the step's watch
// (--step-wait) before the gate reads.
func (m *MetricsFacts) expectedRequests(percent int) int64 {
	if m.WindowSeconds <= 0 {
		return 0
	}
	rate := float64(m.Requests) / float64(m.WindowSeconds)
	return int64(rate * m.StepWait.Seconds() * float64(percent) / 100)
}

// metricGate is the metric-gate check.
func (t transition) metricGate() Check {
	c := Check{Name: CheckMetricGate}
	m := t.f.Metrics
	window := time.Duration(m.WindowSeconds) * time.Second
	switch {
	case m.Denied:
		c.Status = StatusFail
		c.Message = fmt.Sprintf("the canary's metrics gate cannot read Cloud Monitoring in project %s: %s; every step would go on unjudged", m.Project, m.Err)
		c.Hint = fmt.Sprintf("give the caller monitoring.timeSeries.list in project %s (roles/monitoring.viewer) with the Cloud Monitoring API enabled, or pass --metric-gate=false to migrate without the gate (--force %s goes on with the steps reported, not judged)", m.Project, CheckMetricGate)
		return c
	case m.Err != "":
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("the canary's metrics gate could not read Cloud Monitoring in project %s: %s; a step whose metrics cannot be read is reported, not judged", m.Project, m.Err)
		c.Hint = "check that Cloud Monitoring answers and plan again, or pass --metric-gate=false to migrate without the gate"
		return c
	}
	c.Numbers = map[string]int64{"requests": m.Requests, "windowSeconds": m.WindowSeconds, "minRequests": m.MinRequests}
	if m.Requests == 0 {
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("%s served no requests in the last %s: unless traffic arrives, every step is reported, not judged, and the gate cannot stop a revision that fails", t.ref.Name, window)
		c.Hint = "test the new revision before traffic moves with --probe-path or --probe-tcp, or migrate while the service has traffic"
		return c
	}
	// The steps the gate judges: every one but the last. The first gives the new revision
	// the smallest share, so it is the one that may be too small to judge.
	judged := m.Canary[:max(len(m.Canary)-1, 0)]
	if len(judged) == 0 {
		c.Status, c.Message = StatusSkip, "no canary step is judged by the metrics gate"
		return c
	}
	first := m.expectedRequests(judged[0])
	c.Numbers["expectedFirstStep"] = first
	rate := fmt.Sprintf("%d requests in the last %s", m.Requests, window)
	switch {
	case m.StepWait <= 0:
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("Cloud Monitoring answers (%s), but with no --step-wait no step is watched, and the metrics gate judges a step only once its watch ends: the steps follow each other at once, none judged", rate)
		c.Hint = "give --step-wait (several minutes against Google Cloud, whose metrics arrive with a delay)"
	case first < m.MinRequests:
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("at %s, the first step (%d%% for %s) gives the new revision about %d, fewer than the %d the gate judges from (--min-requests): it would be reported, not judged, unless its 5xx alone decide it",
			rate, judged[0], m.StepWait, first, m.MinRequests)
		c.Hint = "lengthen --step-wait, start the canary at a larger share, or lower --min-requests"
	default:
		c.Status = StatusPass
		c.Message = fmt.Sprintf("Cloud Monitoring answers: %s; the first step (%d%% for %s) gives the new revision about %d, enough to judge (--min-requests %d)",
			rate, judged[0], m.StepWait, first, m.MinRequests)
	}
	return c
}
