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
	got, err := e.Metrics.RevisionMetrics(ctx, m.Ref, nil, end.Add(-egress.GateReadWindow), end)
	if err != nil {
		f.Err = err.Error()
		f.Denied = e.exitCode(err) == exitcode.Permission
		return f
	}
	for _, r := range got {
		f.Requests += r.Requests
	}
	return f
}
