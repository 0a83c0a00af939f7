package egress

import (
	"context"
	"fmt"
	"time"
)

// The canary's traffic gate: after each intermediate canary step (and its watch), the new
// revision's request metrics are compared with those of the revisions it replaces, and the run
// rolls back when the new revision fails more requests or answers more slowly than they do by
// more than the policy allows. Cloud Run's Ready condition says a revision started; only what
// its requests get says it can reach what it needs (a revision that cannot reach its database
// is Ready and answers 5xx).

// Gate defaults.
const (
	// DefaultMaxErrorRate is how much the new revision's share of 5xx responses may exceed
	// the old revisions': one percentage point.
	DefaultMaxErrorRate = 0.01
	// DefaultMaxLatencyIncrease is how much the new revision's 95th percentile latency may
	// exceed the old revisions': by half.
	DefaultMaxLatencyIncrease = 0.5
	// DefaultGateMinRequests is the fewest requests the new revision must have served in a
	// step before it is judged (fewer say too little: the step is reported, not judged).
	DefaultGateMinRequests = 100
)

// gateEpsilon is how far apart two figures may be and still count as equal: percentiles
// and ratios computed from the same distribution can differ in their last bits, and a
// threshold of 0 ("no worse") must not roll back on rounding.
const gateEpsilon = 1e-9

// GatePolicy says when a canary step's metrics roll the run back.
type GatePolicy struct {
	// MaxErrorRate is the most the new revision's 5xx ratio may exceed the old revisions',
	// as a fraction (0.01: one percentage point).
	MaxErrorRate float64 `json:"maxErrorRate"`
	// MaxLatencyIncrease is the most the new revision's p95 latency may exceed the old
	// revisions', as a fraction of it (0.5: 50% slower).
	MaxLatencyIncrease float64 `json:"maxLatencyIncrease"`
	// MinRequests is the fewest requests of the new revision before judging.
	MinRequests int64 `json:"minRequests"`
}

// DefaultGatePolicy is the policy with the defaults.
func DefaultGatePolicy() GatePolicy {
	return GatePolicy{MaxErrorRate: DefaultMaxErrorRate, MaxLatencyIncrease: DefaultMaxLatencyIncrease, MinRequests: DefaultGateMinRequests}
}

// RevisionMetrics are a revision's request figures over a step.
type RevisionMetrics struct {
	// Revision is the revision's short name; several joined by ", " for the old side.
	Revision string `json:"revision"`
	// Requests is how many requests it served, Errors how many got a 5xx response.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors5xx"`
	// P95Ms is the 95th percentile of its request latencies in milliseconds; 0 when unknown.
	P95Ms float64 `json:"p95Ms,omitempty"`
}

// ErrorRatio is Errors / Requests (0 with no requests).
func (m RevisionMetrics) ErrorRatio() float64 {
	if m.Requests == 0 {
		return 0
	}
	return float64(m.Errors) / float64(m.Requests)
}

func (m RevisionMetrics) describe() string {
	s := fmt.Sprintf("%s: %d requests, %.1f%% 5xx", m.Revision, m.Requests, 100*m.ErrorRatio())
	if m.P95Ms > 0 {
		s += fmt.Sprintf(", p95 %.0f ms", m.P95Ms)
	}
	return s
}

// GateReport is what the gate saw at a canary step and what it decided.
type GateReport struct {
	// Window is the interval the metrics cover.
	Start time.Time       `json:"start"`
	End   time.Time       `json:"end"`
	New   RevisionMetrics `json:"new"`
	Old   RevisionMetrics `json:"old"`
	// Judged is false when the figures were too few, or could not be read (Reason says
	// which); the run then goes on.
	Judged bool `json:"judged"`
	// Passed is set when the step was judged and the new revision is no worse than allowed.
	Passed bool `json:"passed"`
	// Reason says why.
	Reason string `json:"reason"`
	// Error is the error of a read of the metrics that failed (the step is not judged).
	Error string `json:"error,omitempty"`
}

// Judge compares the new revision's metrics with the old ones' under the policy.
func (g GatePolicy) Judge(nw, old RevisionMetrics) GateReport {
	r := GateReport{New: nw, Old: old}
	if nw.Requests < g.MinRequests {
		// Too few requests to judge a ratio, unless the 5xx already seen decide it: were
		// every request up to the minimum to succeed, the share would still be too high
		// (15 failures of 15 with a minimum of 100: at least 15%). Rolling on to the next
		// step would send more users to a revision that fails them.
		if floor := float64(nw.Errors) / float64(g.MinRequests); floor-old.ErrorRatio() > g.MaxErrorRate {
			r.Judged = true
			r.Reason = fmt.Sprintf("revision %s answered %d of its %d requests with 5xx: fewer than the %d needed to judge, but even were the rest of %d to succeed, %.1f%% against %.1f%% for %s is %.1f points more than the %.1f allowed (--max-error-rate)",
				nw.Revision, nw.Errors, nw.Requests, g.MinRequests, g.MinRequests, 100*floor, 100*old.ErrorRatio(), old.Revision, 100*(floor-old.ErrorRatio()), 100*g.MaxErrorRate)
			return r
		}
		r.Reason = fmt.Sprintf("not judged: the new revision served %d requests, fewer than the %d needed (%s)", nw.Requests, g.MinRequests, old.describe())
		return r
	}
	r.Judged = true
	if d := nw.ErrorRatio() - old.ErrorRatio(); d > g.MaxErrorRate+gateEpsilon {
		r.Reason = fmt.Sprintf("revision %s answered %.1f%% of its requests with 5xx (%d of %d), against %.1f%% for %s: %.1f points more than the %.1f allowed (--max-error-rate)",
			nw.Revision, 100*nw.ErrorRatio(), nw.Errors, nw.Requests, 100*old.ErrorRatio(), old.Revision, 100*d, 100*g.MaxErrorRate)
		return r
	}
	if nw.P95Ms > 0 && old.P95Ms > 0 && old.Requests >= g.MinRequests {
		if inc := nw.P95Ms/old.P95Ms - 1; inc > g.MaxLatencyIncrease+gateEpsilon {
			r.Reason = fmt.Sprintf("revision %s's p95 latency is %.0f ms against %.0f ms for %s: %.0f%% slower, more than the %.0f%% allowed (--max-latency-increase)",
				nw.Revision, nw.P95Ms, old.P95Ms, old.Revision, 100*inc, 100*g.MaxLatencyIncrease)
			return r
		}
	}
	r.Passed = true
	r.Reason = fmt.Sprintf("no worse than the old revisions: %s; %s", nw.describe(), old.describe())
	return r
}

// MetricsReader reads request metrics of a service's revisions (Cloud Monitoring).
type MetricsReader interface {
	// RevisionMetrics returns the request figures of each named revision (short names) of
	// service over [start, end], by revision; a revision with no requests may be missing.
	// With no revisions named, every revision of the service that served.
	RevisionMetrics(ctx context.Context, service WorkloadRef, revisions []string, start, end time.Time) (map[string]RevisionMetrics, error)
}

// GateError is the error of a canary step the gate refused: the run rolls back.
type GateError struct{ Report GateReport }

func (e *GateError) Error() string {
	return "the canary's metrics gate refused the step: " + e.Report.Reason
}

// gate judges the canary step i, whose traffic moved at start, from the metrics.
func (r *runState) gate(ctx context.Context, i int, start time.Time) error {
	g, m := r.plan.Gate, r.e.Metrics
	if g == nil || m == nil {
		return nil
	}
	end := r.clock.Now()
	nwName := r.res.NewRevision
	from := r.plan.moveFrom(r.res.Original)
	revs := append([]string{nwName}, from...)
	rep := GateReport{Start: start, End: end}
	got, err := m.RevisionMetrics(ctx, r.ref(), revs, start, end)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.Reason = "not judged: the request metrics could not be read: " + err.Error()
		rep.Error = err.Error()
	} else {
		nw := got[nwName]
		nw.Revision = nwName
		old := RevisionMetrics{}
		for j, f := range from {
			o := got[f]
			old.Requests += o.Requests
			old.Errors += o.Errors
			if j == 0 {
				old.P95Ms = o.P95Ms
			}
		}
		old.Revision = "the previous revisions"
		if len(from) > 0 {
			old.Revision = joinNames(from)
		}
		judged := g.Judge(nw, old)
		judged.Start, judged.End = start, end
		rep = judged
	}
	out := &r.res.Steps[i]
	out.Gate = &rep
	if out.Note != "" {
		out.Note += "; "
	}
	out.Note += "metrics gate: " + rep.Reason
	if err := r.observe(ctx, Event{Kind: EventGate, Index: i, Step: *out, Message: rep.Reason}); err != nil {
		return err
	}
	if rep.Judged && !rep.Passed {
		return &GateError{Report: rep}
	}
	return nil
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
