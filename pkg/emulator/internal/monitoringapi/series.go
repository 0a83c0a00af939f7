package monitoringapi

import (
	"math"
	"sort"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/distribution"
	"google.golang.org/genproto/googleapis/api/metric"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// The series the emulator produces from its world (Monitoring docs, "Google Cloud metrics":
// run and vpcaccess):
//
//	run.googleapis.com/request_count                 DELTA INT64, unit 1
//	run.googleapis.com/request_latencies             DELTA DISTRIBUTION, unit ms
//	run.googleapis.com/container/instance_count      GAUGE INT64 (label state = active)
//	    metric labels response_code, response_code_class, route_type; resource
//	    cloud_run_revision (project_id, service_name, revision_name, location,
//	    configuration_name)
//	vpcaccess.googleapis.com/connector/instances          GAUGE INT64
//	vpcaccess.googleapis.com/connector/sent_bytes_count   DELTA INT64, unit By
//	vpcaccess.googleapis.com/connector/received_bytes_count DELTA INT64, unit By
//	    resource vpc_access_connector (resource_container, location, connector_name)
//
// Requests that reach every dependency succeed (200, in the 2xx class) and take the load's
// latency; the share whose dependency is out of reach fails (500, 5xx) after the load's fail
// latency. Raw points are written every minute, as Cloud Run writes them.

const (
	metricRequestCount     = "run.googleapis.com/request_count"
	metricRequestLatencies = "run.googleapis.com/request_latencies"
	metricInstanceCount    = "run.googleapis.com/container/instance_count"
	metricConnInstances    = "vpcaccess.googleapis.com/connector/instances"
	metricConnSent         = "vpcaccess.googleapis.com/connector/sent_bytes_count"
	metricConnReceived     = "vpcaccess.googleapis.com/connector/received_bytes_count"
	resourceRevision       = "cloud_run_revision"
	resourceConnector      = "vpc_access_connector"
	// samplePeriod is how often raw points are written.
	samplePeriod = time.Minute
)

// Latency buckets: exponential, 100 finite buckets growing by 1.4 from 1 ms, which spans
// request latencies from 1 ms to hours.
const (
	numBuckets   = 100
	growthFactor = 1.4
	bucketScale  = 1.0
)

// source is a raw series: its identity and how to compute its value over a window.
type source struct {
	metricType   string
	metricLabels map[string]string
	resourceType string
	resourceLbls map[string]string
	kind         metric.MetricDescriptor_MetricKind
	valueType    metric.MetricDescriptor_ValueType
	unit         string
	// rate is the per-second rate of a DELTA INT64 series, or the value of a GAUGE one, in a
	// segment; latency is, for a DISTRIBUTION series, the value every request of the segment
	// takes (with rate as the requests per second).
	rate    func(*world.Segment) float64
	latency func(*world.Segment) float64
}

func (s *source) key() string {
	parts := []string{s.metricType, s.resourceType}
	for _, m := range []map[string]string{s.resourceLbls, s.metricLabels} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+"="+m[k])
		}
	}
	return strings.Join(parts, "|")
}

// sourcesLocked returns every raw series of the metric type with data in [from, to).
func sourcesLocked(net *world.NetState, metricType string, from, to time.Time) []*source {
	revs, conns := net.KeysIn(from, to)
	var out []*source
	switch metricType {
	case metricInstanceCount:
		for _, rev := range revs {
			project, location, service, revision := world.RunNameParts(rev)
			out = append(out, &source{
				metricType: metricType, metricLabels: map[string]string{"state": "active"},
				resourceType: resourceRevision, resourceLbls: map[string]string{"project_id": project, "location": location, "service_name": service, "revision_name": revision, "configuration_name": service},
				kind: metric.MetricDescriptor_GAUGE, valueType: metric.MetricDescriptor_INT64, unit: "1",
				rate: func(seg *world.Segment) float64 { return float64(seg.Instances[rev]) },
			})
		}
	case metricRequestCount, metricRequestLatencies:
		for _, rev := range revs {
			project, location, service, revision := world.RunNameParts(rev)
			res := map[string]string{"project_id": project, "location": location, "service_name": service, "revision_name": revision, "configuration_name": service}
			for _, class := range []struct {
				code, class string
				share       func(*world.RevisionSample) float64
				lat         func(*world.RevisionSample) float64
			}{
				{"200", "2xx", func(r *world.RevisionSample) float64 { return 1 - r.FailRatio }, func(r *world.RevisionSample) float64 { return r.LatencyMs }},
				{"500", "5xx", func(r *world.RevisionSample) float64 { return r.FailRatio }, func(r *world.RevisionSample) float64 { return r.FailLatencyMs }},
			} {
				rate := func(seg *world.Segment) float64 {
					if r := seg.Revisions[rev]; r != nil {
						return r.RPS * class.share(r)
					}
					return 0
				}
				if net.Integrate(from, to, rate) <= 0 {
					continue
				}
				s := &source{
					metricType:   metricType,
					metricLabels: map[string]string{"response_code": class.code, "response_code_class": class.class, "route_type": "default"},
					resourceType: resourceRevision, resourceLbls: res,
					kind: metric.MetricDescriptor_DELTA, valueType: metric.MetricDescriptor_INT64, unit: "1", rate: rate,
				}
				if metricType == metricRequestLatencies {
					s.valueType, s.unit = metric.MetricDescriptor_DISTRIBUTION, "ms"
					s.latency = func(seg *world.Segment) float64 {
						if r := seg.Revisions[rev]; r != nil {
							return class.lat(r)
						}
						return 0
					}
				}
				out = append(out, s)
			}
		}
	case metricConnInstances, metricConnSent, metricConnReceived:
		for _, c := range conns {
			p := strings.Split(c, "/") // projects/P/locations/L/connectors/C
			if len(p) != 6 {
				continue
			}
			s := &source{
				metricType: metricType, metricLabels: map[string]string{},
				resourceType: resourceConnector, resourceLbls: map[string]string{"resource_container": p[1], "location": p[3], "connector_name": p[5]},
				kind: metric.MetricDescriptor_DELTA, valueType: metric.MetricDescriptor_INT64, unit: "By",
			}
			switch metricType {
			case metricConnInstances:
				s.kind, s.unit = metric.MetricDescriptor_GAUGE, "1"
				s.rate = func(seg *world.Segment) float64 {
					if cs := seg.Connectors[c]; cs != nil {
						return float64(cs.Instances)
					}
					return 0
				}
			case metricConnSent:
				s.rate = func(seg *world.Segment) float64 {
					if cs := seg.Connectors[c]; cs != nil {
						return cs.SentBps
					}
					return 0
				}
			default:
				s.rate = func(seg *world.Segment) float64 {
					if cs := seg.Connectors[c]; cs != nil {
						return cs.ReceivedBps
					}
					return 0
				}
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// known reports whether the emulator produces a metric type.
func known(metricType string) bool {
	switch metricType {
	case metricRequestCount, metricRequestLatencies, metricInstanceCount, metricConnInstances, metricConnSent, metricConnReceived:
		return true
	}
	return false
}

// value is a point's value while it is computed: a number or a distribution.
type value struct {
	num  float64
	dist *dist
}

// dist is a distribution as bucket counts over the exponential buckets, with its moments.
type dist struct {
	count   float64
	sum     float64
	sumSq   float64
	buckets [numBuckets + 2]float64
}

func bucketOf(v float64) int {
	if v < bucketScale {
		return 0
	}
	i := int(math.Floor(math.Log(v/bucketScale)/math.Log(growthFactor))) + 1
	return min(i, numBuckets+1)
}

// bucketBounds returns bucket i's [lower, upper) bounds (Distribution.BucketOptions.Exponential).
func bucketBounds(i int) (float64, float64) {
	switch {
	case i == 0:
		return 0, bucketScale
	case i > numBuckets:
		lo := bucketScale * math.Pow(growthFactor, numBuckets)
		return lo, lo
	}
	return bucketScale * math.Pow(growthFactor, float64(i-1)), bucketScale * math.Pow(growthFactor, float64(i))
}

func (d *dist) add(v, n float64) {
	if n <= 0 {
		return
	}
	d.count += n
	d.sum += v * n
	d.sumSq += v * v * n
	d.buckets[bucketOf(v)] += n
}

func (d *dist) merge(o *dist) {
	d.count += o.count
	d.sum += o.sum
	d.sumSq += o.sumSq
	for i := range d.buckets {
		d.buckets[i] += o.buckets[i]
	}
}

// percentile interpolates the p-th percentile (0..100) within the bucket that holds it, as
// Monitoring does for percentile aligners and reducers on distributions.
func (d *dist) percentile(p float64) float64 {
	if d.count <= 0 {
		return 0
	}
	target := p / 100 * d.count
	cum := 0.0
	for i, n := range d.buckets {
		if n <= 0 {
			continue
		}
		if cum+n >= target {
			lo, hi := bucketBounds(i)
			return lo + (hi-lo)*(target-cum)/n
		}
		cum += n
	}
	lo, _ := bucketBounds(numBuckets + 1)
	return lo
}

func (d *dist) proto() *distribution.Distribution {
	out := &distribution.Distribution{
		Count: int64(math.Round(d.count)),
		BucketOptions: &distribution.Distribution_BucketOptions{Options: &distribution.Distribution_BucketOptions_ExponentialBuckets{
			ExponentialBuckets: &distribution.Distribution_BucketOptions_Exponential{NumFiniteBuckets: numBuckets, GrowthFactor: growthFactor, Scale: bucketScale},
		}},
	}
	if d.count > 0 {
		out.Mean = d.sum / d.count
		out.SumOfSquaredDeviation = math.Max(0, d.sumSq-d.sum*d.sum/d.count)
	}
	last := 0
	for i, n := range d.buckets {
		if n > 0 {
			last = i
		}
	}
	if out.Count > 0 {
		for i := 0; i <= last; i++ {
			out.BucketCounts = append(out.BucketCounts, int64(math.Round(d.buckets[i])))
		}
	}
	return out
}

// over computes a source's value over the window [from, to): the sum of a DELTA series, the
// distribution of a DELTA DISTRIBUTION one, or for a GAUGE the value at the end.
func (s *source) over(net *world.NetState, from, to time.Time) value {
	switch {
	case s.kind == metric.MetricDescriptor_GAUGE:
		if seg := net.SegmentAt(to.Add(-time.Nanosecond)); seg != nil {
			return value{num: s.rate(seg)}
		}
		return value{}
	case s.valueType == metric.MetricDescriptor_DISTRIBUTION:
		d := &dist{}
		for i, seg := range net.Timeline {
			start, end := seg.Start, to
			if i+1 < len(net.Timeline) {
				end = net.Timeline[i+1].Start
			}
			if start.Before(from) {
				start = from
			}
			if end.After(to) {
				end = to
			}
			if end.After(start) {
				d.add(s.latency(seg), s.rate(seg)*end.Sub(start).Seconds())
			}
		}
		return value{dist: d}
	default:
		return value{num: net.Integrate(from, to, s.rate)}
	}
}

// gaugeStats returns the mean, max and min of a GAUGE source over [from, to).
func (s *source) gaugeStats(net *world.NetState, from, to time.Time) (mean, hi, lo float64) {
	mean = net.Integrate(from, to, s.rate) / to.Sub(from).Seconds()
	hi, lo = math.Inf(-1), math.Inf(1)
	for i, seg := range net.Timeline {
		end := to
		if i+1 < len(net.Timeline) {
			end = net.Timeline[i+1].Start
		}
		if !end.After(from) || !seg.Start.Before(to) {
			continue
		}
		v := s.rate(seg)
		hi, lo = math.Max(hi, v), math.Min(lo, v)
	}
	if math.IsInf(hi, 0) {
		hi, lo = 0, 0
	}
	return mean, hi, lo
}
