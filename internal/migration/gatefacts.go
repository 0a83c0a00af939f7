package migration

import (
	"context"
	"slices"
	"time"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// metricsFacts reads, before anything changes, the request metrics the canary's gate will
// judge a service's steps by: every revision's requests over the last egress.GateReadWindow
// (the service's traffic, whichever revision served it: right after a rollback the revision
// that serves is minutes old). It tells a gate that cannot read (the caller lacks
// monitoring.timeSeries.list, or the API is off) or a service with too little traffic to
// judge, while the switch can still be left undone. nil when the plan is not gated.
func (e *Engine) metricsFacts(ctx context.Context, m *Migration, opts egress.PlanOptions) *egress.MetricsFacts {
	g := opts.Gate
	if g == nil || e.Metrics == nil || m.Ref.Kind != egress.KindService || len(opts.Canary) < 2 {
		return nil
	}
	f := &egress.MetricsFacts{Project: m.Ref.Project, WindowSeconds: int64(egress.GateReadWindow / time.Second),
		Canary: slices.Clone(opts.Canary), StepWait: opts.StepWait, MinRequests: g.MinRequests}
	end := time.Now()
	var err error
	f.Requests, err = serviceRequests(ctx, e.Metrics, m.Ref, end.Add(-egress.GateReadWindow), end)
	if err != nil {
		f.Err = err.Error()
		f.Denied = e.exitCode(err) == exitcode.Permission
		return f
	}
	return f
}

// requestCounter is a metrics reader that can read request counts alone (cloud.Clients: the
// request_count metric, without the latencies the gate's steps need).
type requestCounter interface {
	ServiceRequests(ctx context.Context, service egress.WorkloadRef, start, end time.Time) (int64, error)
}

// serviceRequests is how many requests service served over [start, end]: all the preflight
// needs, so a reader that can count alone is asked only that.
func serviceRequests(ctx context.Context, r egress.MetricsReader, service egress.WorkloadRef, start, end time.Time) (int64, error) {
	if rc, ok := r.(requestCounter); ok {
		return rc.ServiceRequests(ctx, service, start, end)
	}
	got, err := r.RevisionMetrics(ctx, service, nil, start, end)
	var n int64
	for _, m := range got {
		n += m.Requests
	}
	return n, err
}
