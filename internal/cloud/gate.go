package cloud

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The request metrics the canary's gate judges a step by, from Cloud Monitoring: Cloud Run's
// run.googleapis.com/request_count (DELTA, by response_code_class) and
// run.googleapis.com/request_latencies (DELTA distribution, ms), on the cloud_run_revision
// resource, filtered by service and revision names (Cloud Run docs, "Google Cloud metrics":
// run). Monitoring aligns over periods of at least 60 seconds, so a step shorter than that is
// read over the minute that ends with it.

const (
	metricRequestCount     = "run.googleapis.com/request_count"
	metricRequestLatencies = "run.googleapis.com/request_latencies"
	minAlignmentPeriod     = 60 * time.Second
)

// RevisionMetrics implements egress.MetricsReader: each revision's requests, 5xx responses
// and p95 latency over [start, end] (two ListTimeSeries calls, concurrently); with no
// revisions named, every revision of the service's.
func (c *Clients) RevisionMetrics(ctx context.Context, service egress.WorkloadRef, revisions []string, start, end time.Time) (map[string]egress.RevisionMetrics, error) {
	return c.revisionMetrics(ctx, service, revisions, start, end, true)
}

// ServiceRequests is how many requests every revision of service served over [start, end]:
// request_count only (one ListTimeSeries call), for a read that needs no latencies nor
// errors, as the gate's preflight.
func (c *Clients) ServiceRequests(ctx context.Context, service egress.WorkloadRef, start, end time.Time) (int64, error) {
	got, err := c.revisionMetrics(ctx, service, nil, start, end, false)
	var n int64
	for _, m := range got {
		n += m.Requests
	}
	return n, err
}

// revisionMetrics is RevisionMetrics, without the latencies unless asked.
func (c *Clients) revisionMetrics(ctx context.Context, service egress.WorkloadRef, revisions []string, start, end time.Time, latencies bool) (map[string]egress.RevisionMetrics, error) {
	if err := checkNames(service); err != nil {
		return nil, err
	}
	mc, err := c.Monitoring()
	if err != nil {
		return nil, err
	}
	period := end.Sub(start).Round(time.Second)
	if period < minAlignmentPeriod {
		period = minAlignmentPeriod
	}
	interval := &monitoringpb.TimeInterval{StartTime: timestamppb.New(end.Add(-period)), EndTime: timestamppb.New(end)}
	quoted := make([]string, 0, len(revisions))
	for _, r := range revisions {
		quoted = append(quoted, strconv.Quote(r))
	}
	filter := func(metric string) string {
		f := fmt.Sprintf(`metric.type = %q AND resource.type = "cloud_run_revision" AND resource.labels.service_name = %q AND resource.labels.location = %q`,
			metric, service.Name, service.Region)
		if len(quoted) > 0 {
			f += fmt.Sprintf(" AND resource.labels.revision_name = one_of(%s)", strings.Join(quoted, ", "))
		}
		return f
	}
	list := func(ctx context.Context, metric string, reducer monitoringpb.Aggregation_Reducer, groupBy ...string) ([]*monitoringpb.TimeSeries, error) {
		var out []*monitoringpb.TimeSeries
		err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
			out = out[:0]
			it := mc.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{
				Name: "projects/" + service.Project, Filter: filter(metric), Interval: interval,
				Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(period), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA,
					CrossSeriesReducer: reducer, GroupByFields: groupBy},
				View: monitoringpb.ListTimeSeriesRequest_FULL,
			}, noGaxRetry)
			for {
				ts, err := it.Next()
				if err == iterator.Done {
					return nil
				}
				if err != nil {
					return err
				}
				out = append(out, ts)
			}
		})
		if err != nil {
			return nil, apiErr("read "+metric+" of "+describeRef(service), err)
		}
		return out, nil
	}
	var counts, p95 []*monitoringpb.TimeSeries
	err = both(func() error {
		var err error
		counts, err = list(ctx, metricRequestCount, monitoringpb.Aggregation_REDUCE_SUM, "resource.label.revision_name", "metric.label.response_code_class")
		return err
	}, func() error {
		if !latencies {
			return nil
		}
		var err error
		p95, err = list(ctx, metricRequestLatencies, monitoringpb.Aggregation_REDUCE_PERCENTILE_95, "resource.label.revision_name")
		return err
	})
	if err != nil {
		return nil, err
	}
	out := map[string]egress.RevisionMetrics{}
	for _, ts := range counts {
		rev := ts.GetResource().GetLabels()["revision_name"]
		m := out[rev]
		m.Revision = rev
		var n int64
		for _, p := range ts.GetPoints() {
			v := p.GetValue()
			n += v.GetInt64Value() + int64(v.GetDoubleValue())
		}
		m.Requests += n
		if ts.GetMetric().GetLabels()["response_code_class"] == "5xx" {
			m.Errors += n
		}
		out[rev] = m
	}
	for _, ts := range p95 {
		rev := ts.GetResource().GetLabels()["revision_name"]
		if pts := ts.GetPoints(); len(pts) > 0 {
			m := out[rev]
			m.Revision = rev
			m.P95Ms = pts[0].GetValue().GetDoubleValue() // newest first
			out[rev] = m
		}
	}
	return out, nil
}
