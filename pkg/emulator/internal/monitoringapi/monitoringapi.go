// Package monitoringapi serves the part of the Cloud Monitoring API v3 (gRPC,
// google.monitoring.v3.MetricService) that reads the metrics a canary gate and a cost report
// need: ListTimeSeries over the series the emulator computes from its world (series.go), with
// the filter subset of filter.go, raw points or an aggregation (per-series aligner, cross-series
// reducer, group-by fields), FULL and HEADERS views, and paging. Anything else is refused with
// INVALID_ARGUMENT naming what is not supported, or UNIMPLEMENTED for other methods.
package monitoringapi

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Register adds the MetricService to s and makes w keep its metrics timeline.
func Register(s *grpc.Server, w *world.World) {
	w.EnableMetrics()
	monitoringpb.RegisterMetricServiceServer(s, &server{w: w})
}

type server struct {
	monitoringpb.UnimplementedMetricServiceServer
	w *world.World
}

// Limits. Monitoring docs (Aggregation.alignment_period): "The value must be at least 60
// seconds." ListTimeSeries page_size: "A positive number that is the maximum number of results
// to return"; the emulator caps a page at 100,000 series, the documented maximum.
const (
	minAlignment = 60 * time.Second
	maxPageSize  = 100000
)

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// aligned is one series after alignment: its identity and points, newest first.
type aligned struct {
	metricType   string
	metricLabels map[string]string
	resourceType string
	resourceLbls map[string]string
	kind         metric.MetricDescriptor_MetricKind
	valueType    metric.MetricDescriptor_ValueType
	unit         string
	points       []point
}

type point struct {
	start, end time.Time
	v          value
}

var percentiles = map[monitoringpb.Aggregation_Aligner]float64{
	monitoringpb.Aggregation_ALIGN_PERCENTILE_99: 99, monitoringpb.Aggregation_ALIGN_PERCENTILE_95: 95,
	monitoringpb.Aggregation_ALIGN_PERCENTILE_50: 50, monitoringpb.Aggregation_ALIGN_PERCENTILE_05: 5,
}

var reducerPercentiles = map[monitoringpb.Aggregation_Reducer]float64{
	monitoringpb.Aggregation_REDUCE_PERCENTILE_99: 99, monitoringpb.Aggregation_REDUCE_PERCENTILE_95: 95,
	monitoringpb.Aggregation_REDUCE_PERCENTILE_50: 50, monitoringpb.Aggregation_REDUCE_PERCENTILE_05: 5,
}

func (s *server) ListTimeSeries(_ context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	project, ok := strings.CutPrefix(req.GetName(), "projects/")
	if !ok || project == "" || strings.Contains(project, "/") {
		return nil, invalid("Field name had an invalid value of %q: it must be projects/PROJECT_ID_OR_NUMBER.", req.GetName())
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, invalid("Field filter had an invalid value: %v", err)
	}
	iv := req.GetInterval()
	if iv.GetEndTime() == nil {
		return nil, invalid("Field interval.endTime is required.")
	}
	end := iv.GetEndTime().AsTime()
	start := end
	if iv.GetStartTime() != nil {
		start = iv.GetStartTime().AsTime()
	}
	if start.After(end) {
		return nil, invalid("Field interval had an invalid value: the start time %s is after the end time %s.", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	agg := req.GetAggregation()
	if err := checkAggregation(agg); err != nil {
		return nil, err
	}
	if req.GetSecondaryAggregation() != nil && (req.GetSecondaryAggregation().GetPerSeriesAligner() != 0 || req.GetSecondaryAggregation().GetCrossSeriesReducer() != 0) {
		return nil, invalid("Field secondary_aggregation is not supported by this emulator.")
	}
	if req.GetOrderBy() != "" {
		return nil, invalid("Field order_by is not supported by this emulator.")
	}
	if req.GetPageSize() < 0 {
		return nil, invalid("Field page_size had an invalid value of %d: it must not be negative.", req.GetPageSize())
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, invalid("Field page_token had an invalid value of %q.", tok)
		}
		offset = n
	}

	s.w.Lock()
	now := s.w.Now()
	if end.After(now) {
		end = now
	}
	if start.After(end) {
		start = end
	}
	var series []*aligned
	if known(f.metricType) {
		net := s.w.S.Net
		// Sources are looked up over the whole interval and, for aligned queries, the periods
		// that reach back before it.
		lookFrom := start
		if agg.GetPerSeriesAligner() != monitoringpb.Aggregation_ALIGN_NONE {
			lookFrom = start.Add(-agg.GetAlignmentPeriod().AsDuration())
		} else {
			lookFrom = start.Add(-samplePeriod)
		}
		for _, src := range sourcesLocked(net, f.metricType, lookFrom, end) {
			if src.resourceLbls["project_id"] != "" && src.resourceLbls["project_id"] != project && strconv.FormatUint(world.ProjectNumber(src.resourceLbls["project_id"]), 10) != project {
				continue
			}
			if rc := src.resourceLbls["resource_container"]; rc != "" && rc != project && strconv.FormatUint(world.ProjectNumber(rc), 10) != project {
				continue
			}
			if !f.matches(src.metricType, src.resourceType, src.metricLabels, src.resourceLbls) {
				continue
			}
			a, err := align(net, src, agg, start, end)
			if err != nil {
				s.w.Unlock()
				return nil, err
			}
			if len(a.points) > 0 {
				series = append(series, a)
			}
		}
	}
	s.w.Unlock()

	if agg.GetCrossSeriesReducer() != monitoringpb.Aggregation_REDUCE_NONE {
		var err error
		if series, err = reduce(series, agg); err != nil {
			return nil, err
		}
	}
	size := int(req.GetPageSize())
	if size == 0 || size > maxPageSize {
		size = maxPageSize
	}
	resp := &monitoringpb.ListTimeSeriesResponse{}
	if offset > len(series) {
		offset = len(series)
	}
	stop := min(offset+size, len(series))
	for _, a := range series[offset:stop] {
		resp.TimeSeries = append(resp.TimeSeries, a.proto(req.GetView() == monitoringpb.ListTimeSeriesRequest_HEADERS))
	}
	if stop < len(series) {
		resp.NextPageToken = strconv.Itoa(stop)
	}
	if len(series) > 0 {
		resp.Unit = series[0].unit
	}
	return resp, nil
}

// checkAggregation refuses what the emulator does not compute, naming it.
func checkAggregation(agg *monitoringpb.Aggregation) error {
	al, red := agg.GetPerSeriesAligner(), agg.GetCrossSeriesReducer()
	switch al {
	case monitoringpb.Aggregation_ALIGN_NONE, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_ALIGN_RATE,
		monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_ALIGN_MEAN, monitoringpb.Aggregation_ALIGN_MAX,
		monitoringpb.Aggregation_ALIGN_MIN, monitoringpb.Aggregation_ALIGN_NEXT_OLDER:
	default:
		if _, ok := percentiles[al]; !ok {
			return invalid("Field aggregation.perSeriesAligner had an invalid value of %s: this emulator supports ALIGN_NONE, ALIGN_DELTA, ALIGN_RATE, ALIGN_SUM, ALIGN_MEAN, ALIGN_MAX, ALIGN_MIN, ALIGN_NEXT_OLDER and ALIGN_PERCENTILE_{99,95,50,05}.", al)
		}
	}
	switch red {
	case monitoringpb.Aggregation_REDUCE_NONE, monitoringpb.Aggregation_REDUCE_SUM, monitoringpb.Aggregation_REDUCE_MEAN,
		monitoringpb.Aggregation_REDUCE_MAX, monitoringpb.Aggregation_REDUCE_MIN, monitoringpb.Aggregation_REDUCE_COUNT:
	default:
		if _, ok := reducerPercentiles[red]; !ok {
			return invalid("Field aggregation.crossSeriesReducer had an invalid value of %s: this emulator supports REDUCE_NONE, REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_COUNT and REDUCE_PERCENTILE_{99,95,50,05}.", red)
		}
	}
	p := agg.GetAlignmentPeriod()
	if al != monitoringpb.Aggregation_ALIGN_NONE {
		if p == nil {
			return invalid("Field aggregation.alignmentPeriod is required when aggregation.perSeriesAligner is %s.", al)
		}
		if p.AsDuration() < minAlignment {
			return invalid("Field aggregation.alignmentPeriod had an invalid value of %s: the value must be at least 60 seconds.", p.AsDuration())
		}
	}
	if red != monitoringpb.Aggregation_REDUCE_NONE && al == monitoringpb.Aggregation_ALIGN_NONE {
		return invalid("Field aggregation.crossSeriesReducer had an invalid value of %s: a cross-series reducer needs a per-series aligner other than ALIGN_NONE.", red)
	}
	if len(agg.GetGroupByFields()) > 0 && red == monitoringpb.Aggregation_REDUCE_NONE {
		return invalid("Field aggregation.groupByFields needs a cross-series reducer.")
	}
	for _, g := range agg.GetGroupByFields() {
		if _, _, ok := groupField(g); !ok {
			return invalid("Field aggregation.groupByFields had an invalid value of %q: want metric.label.KEY, resource.label.KEY or resource.type.", g)
		}
	}
	return nil
}

// groupField resolves a group-by field to "metric" or "resource" and a label key ("" for
// resource.type).
func groupField(g string) (string, string, bool) {
	for _, pre := range []string{"metric.label.", "metric.labels."} {
		if k, ok := strings.CutPrefix(g, pre); ok && k != "" {
			return "metric", k, true
		}
	}
	for _, pre := range []string{"resource.label.", "resource.labels."} {
		if k, ok := strings.CutPrefix(g, pre); ok && k != "" {
			return "resource", k, true
		}
	}
	if g == "resource.type" {
		return "resource", "", true
	}
	return "", "", false
}

// align computes a source's points over [start, end] as the aggregation asks.
func align(net *world.NetState, src *source, agg *monitoringpb.Aggregation, start, end time.Time) (*aligned, error) {
	a := &aligned{
		metricType: src.metricType, metricLabels: src.metricLabels, resourceType: src.resourceType, resourceLbls: src.resourceLbls,
		kind: src.kind, valueType: src.valueType, unit: src.unit,
	}
	al := agg.GetPerSeriesAligner()
	gauge := src.kind == metric.MetricDescriptor_GAUGE
	dist := src.valueType == metric.MetricDescriptor_DISTRIBUTION
	if al == monitoringpb.Aggregation_ALIGN_NONE {
		// Raw points, one per minute, newest first.
		last := end.Truncate(samplePeriod)
		for m := last; m.After(start) || (gauge && m.Equal(start)); m = m.Add(-samplePeriod) {
			from := m.Add(-samplePeriod)
			if gauge {
				if net.SegmentAt(m) == nil {
					continue
				}
				a.points = append(a.points, point{start: m, end: m, v: value{num: src.rate(net.SegmentAt(m))}})
				continue
			}
			v := src.over(net, from, m)
			if empty(v) {
				continue
			}
			a.points = append(a.points, point{start: from, end: m, v: v})
		}
		return a, nil
	}
	period := agg.GetAlignmentPeriod().AsDuration()
	switch {
	case gauge && (al == monitoringpb.Aggregation_ALIGN_DELTA || al == monitoringpb.Aggregation_ALIGN_RATE):
		return nil, invalid("Field aggregation.perSeriesAligner had an invalid value of %s: it is not valid for the GAUGE metric %s.", al, src.metricType)
	case !gauge && (al == monitoringpb.Aggregation_ALIGN_MEAN || al == monitoringpb.Aggregation_ALIGN_MAX || al == monitoringpb.Aggregation_ALIGN_MIN || al == monitoringpb.Aggregation_ALIGN_NEXT_OLDER):
		return nil, invalid("Field aggregation.perSeriesAligner had an invalid value of %s: this emulator applies it to GAUGE metrics only; use ALIGN_DELTA, ALIGN_SUM or ALIGN_RATE for %s.", al, src.metricType)
	case dist && al == monitoringpb.Aggregation_ALIGN_RATE:
		return nil, invalid("Field aggregation.perSeriesAligner had an invalid value of ALIGN_RATE: it is not valid for the DISTRIBUTION metric %s.", src.metricType)
	case !dist && percentiles[al] > 0:
		return nil, invalid("Field aggregation.perSeriesAligner had an invalid value of %s: percentile aligners need a DISTRIBUTION metric, and %s is not one.", al, src.metricType)
	}
	switch {
	case al == monitoringpb.Aggregation_ALIGN_RATE:
		a.kind, a.valueType = metric.MetricDescriptor_GAUGE, metric.MetricDescriptor_DOUBLE
		a.unit = a.unit + "/s"
	case percentiles[al] > 0:
		a.kind, a.valueType = metric.MetricDescriptor_GAUGE, metric.MetricDescriptor_DOUBLE
	case al == monitoringpb.Aggregation_ALIGN_MEAN:
		a.valueType = metric.MetricDescriptor_DOUBLE
	}
	for pe := end; pe.After(start) || (gauge && pe.Equal(start)); pe = pe.Add(-period) {
		ps := pe.Add(-period)
		var v value
		switch {
		case gauge:
			if net.SegmentAt(pe) == nil {
				continue
			}
			mean, hi, lo := src.gaugeStats(net, ps, pe)
			switch al {
			case monitoringpb.Aggregation_ALIGN_MEAN:
				v.num = mean
			case monitoringpb.Aggregation_ALIGN_MAX:
				v.num = hi
			case monitoringpb.Aggregation_ALIGN_MIN:
				v.num = lo
			default: // ALIGN_NEXT_OLDER, ALIGN_SUM
				v = src.over(net, ps, pe)
			}
		default:
			v = src.over(net, ps, pe)
			if empty(v) {
				continue
			}
			switch {
			case al == monitoringpb.Aggregation_ALIGN_RATE:
				v.num /= period.Seconds()
			case percentiles[al] > 0:
				v = value{num: v.dist.percentile(percentiles[al])}
			}
		}
		p := point{start: ps, end: pe, v: v}
		if a.kind == metric.MetricDescriptor_GAUGE {
			p.start = pe
		}
		a.points = append(a.points, p)
	}
	return a, nil
}

func empty(v value) bool {
	if v.dist != nil {
		return v.dist.count <= 0
	}
	return v.num == 0
}

// reduce combines aligned series that share the group-by fields' values, period by period.
func reduce(series []*aligned, agg *monitoringpb.Aggregation) ([]*aligned, error) {
	red := agg.GetCrossSeriesReducer()
	groups := map[string]*aligned{}
	members := map[string][]*aligned{}
	var order []string
	for _, a := range series {
		g := &aligned{metricType: a.metricType, resourceType: a.resourceType, metricLabels: map[string]string{}, resourceLbls: map[string]string{},
			kind: a.kind, valueType: a.valueType, unit: a.unit}
		var keyParts []string
		for _, field := range agg.GetGroupByFields() {
			where, k, _ := groupField(field)
			switch {
			case where == "metric":
				if v, ok := a.metricLabels[k]; ok {
					g.metricLabels[k] = v
				}
				keyParts = append(keyParts, field+"="+a.metricLabels[k])
			case k == "":
				keyParts = append(keyParts, "resource.type="+a.resourceType)
			default:
				if v, ok := a.resourceLbls[k]; ok {
					g.resourceLbls[k] = v
				}
				keyParts = append(keyParts, field+"="+a.resourceLbls[k])
			}
		}
		key := strings.Join(keyParts, "|")
		if _, ok := groups[key]; !ok {
			groups[key] = g
			order = append(order, key)
		}
		members[key] = append(members[key], a)
	}
	sort.Strings(order)
	var out []*aligned
	for _, key := range order {
		g := groups[key]
		byEnd := map[time.Time][]point{}
		var ends []time.Time
		for _, a := range members[key] {
			for _, p := range a.points {
				if _, ok := byEnd[p.end]; !ok {
					ends = append(ends, p.end)
				}
				byEnd[p.end] = append(byEnd[p.end], p)
			}
		}
		sort.Slice(ends, func(i, j int) bool { return ends[i].After(ends[j]) })
		dist := g.valueType == metric.MetricDescriptor_DISTRIBUTION
		switch {
		case red == monitoringpb.Aggregation_REDUCE_MEAN:
			if dist {
				return nil, invalid("Field aggregation.crossSeriesReducer had an invalid value of REDUCE_MEAN: align DISTRIBUTION metrics with a percentile aligner first, or use REDUCE_SUM or a percentile reducer.")
			}
			g.valueType = metric.MetricDescriptor_DOUBLE
		case reducerPercentiles[red] > 0:
			g.valueType = metric.MetricDescriptor_DOUBLE
		case red == monitoringpb.Aggregation_REDUCE_COUNT:
			g.valueType = metric.MetricDescriptor_INT64
		case (red == monitoringpb.Aggregation_REDUCE_MAX || red == monitoringpb.Aggregation_REDUCE_MIN) && dist:
			return nil, invalid("Field aggregation.crossSeriesReducer had an invalid value of %s: it is not valid for DISTRIBUTION values.", red)
		}
		for _, end := range ends {
			ps := byEnd[end]
			p := point{start: ps[0].start, end: end}
			switch {
			case red == monitoringpb.Aggregation_REDUCE_SUM && dist:
				d := newDist()
				for _, q := range ps {
					d.merge(q.v.dist)
				}
				p.v = value{dist: d}
			case reducerPercentiles[red] > 0 && dist:
				d := newDist()
				for _, q := range ps {
					d.merge(q.v.dist)
				}
				p.v = value{num: d.percentile(reducerPercentiles[red])}
			case reducerPercentiles[red] > 0:
				nums := make([]float64, 0, len(ps))
				for _, q := range ps {
					nums = append(nums, q.v.num)
				}
				p.v = value{num: numPercentile(nums, reducerPercentiles[red])}
			default:
				p.v = value{num: reduceNums(red, ps)}
			}
			g.points = append(g.points, p)
		}
		out = append(out, g)
	}
	return out, nil
}

func newDist() *dist { return &dist{} }

func reduceNums(red monitoringpb.Aggregation_Reducer, ps []point) float64 {
	switch red {
	case monitoringpb.Aggregation_REDUCE_COUNT:
		return float64(len(ps))
	case monitoringpb.Aggregation_REDUCE_MAX:
		v := math.Inf(-1)
		for _, p := range ps {
			v = math.Max(v, p.v.num)
		}
		return v
	case monitoringpb.Aggregation_REDUCE_MIN:
		v := math.Inf(1)
		for _, p := range ps {
			v = math.Min(v, p.v.num)
		}
		return v
	}
	sum := 0.0
	for _, p := range ps {
		sum += p.v.num
	}
	if red == monitoringpb.Aggregation_REDUCE_MEAN {
		return sum / float64(len(ps))
	}
	return sum
}

// numPercentile is the p-th percentile of values (nearest rank).
func numPercentile(vals []float64, p float64) float64 {
	sort.Float64s(vals)
	i := int(math.Ceil(p/100*float64(len(vals)))) - 1
	return vals[max(0, min(i, len(vals)-1))]
}

func (a *aligned) proto(headersOnly bool) *monitoringpb.TimeSeries {
	ts := &monitoringpb.TimeSeries{
		Metric:     &metric.Metric{Type: a.metricType, Labels: a.metricLabels},
		Resource:   &monitoredres.MonitoredResource{Type: a.resourceType, Labels: a.resourceLbls},
		MetricKind: a.kind, ValueType: a.valueType, Unit: a.unit,
	}
	if headersOnly {
		return ts
	}
	for _, p := range a.points {
		tv := &monitoringpb.TypedValue{}
		switch a.valueType {
		case metric.MetricDescriptor_INT64:
			tv.Value = &monitoringpb.TypedValue_Int64Value{Int64Value: int64(math.Round(p.v.num))}
		case metric.MetricDescriptor_DISTRIBUTION:
			tv.Value = &monitoringpb.TypedValue_DistributionValue{DistributionValue: p.v.dist.proto()}
		default:
			tv.Value = &monitoringpb.TypedValue_DoubleValue{DoubleValue: p.v.num}
		}
		ts.Points = append(ts.Points, &monitoringpb.Point{
			Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(p.start), EndTime: timestamppb.New(p.end)},
			Value:    tv,
		})
	}
	return ts
}

// String names a series for messages.
func (a *aligned) String() string {
	return fmt.Sprintf("%s %v %s %v", a.metricType, a.metricLabels, a.resourceType, a.resourceLbls)
}
