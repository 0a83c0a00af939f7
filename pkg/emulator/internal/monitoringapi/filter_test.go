package monitoringapi

import (
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	f, err := parseFilter(`metric.type = "run.googleapis.com/request_count" AND resource.type="cloud_run_revision" AND ` +
		`resource.label.revision_name = one_of("a", "b") AND metric.labels.response_code_class != "2xx"`)
	if err != nil {
		t.Fatal(err)
	}
	if f.metricType != "run.googleapis.com/request_count" || len(f.terms) != 3 {
		t.Fatalf("filter = %+v", f)
	}
	res := map[string]string{"revision_name": "b"}
	for _, c := range []struct {
		class, rev string
		want       bool
	}{{"5xx", "b", true}, {"2xx", "b", false}, {"5xx", "c", false}} {
		res["revision_name"] = c.rev
		if got := f.matches("run.googleapis.com/request_count", "cloud_run_revision", map[string]string{"response_code_class": c.class}, res); got != c.want {
			t.Errorf("class %s revision %s: matches = %v", c.class, c.rev, got)
		}
	}
	if f.matches("run.googleapis.com/request_latencies", "cloud_run_revision", nil, res) {
		t.Error("another metric type matched")
	}
	for _, bad := range []string{
		``, `resource.type = "x"`, `metric.type = "a" OR metric.type = "b"`, `metric.type = starts_with("run")`,
		`metric.type = "a" AND metric.type = "b"`, `metric.type = "a" AND project = "p"`, `metric.type = a`, `metric.type = "a`,
	} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
	// AND inside a quoted value is data.
	f, err = parseFilter(`metric.type = "x" AND metric.labels.k = "a AND b"`)
	if err != nil || f.terms[0].values[0] != "a AND b" {
		t.Errorf("quoted AND: %+v, %v", f, err)
	}
}

func TestDistributionPercentile(t *testing.T) {
	d := &dist{}
	d.add(50, 95)
	d.add(3000, 5)
	if p := d.percentile(50); p < 40 || p > 60 {
		t.Errorf("p50 = %g, want about 50", p)
	}
	if p := d.percentile(99); p < 2500 || p > 3500 {
		t.Errorf("p99 = %g, want about 3000", p)
	}
	pb := d.proto()
	if pb.Count != 100 || pb.Mean != (50*95+3000*5)/100.0 || len(pb.BucketCounts) != bucketOf(3000)+1 {
		t.Errorf("distribution = count %d mean %g buckets %d", pb.Count, pb.Mean, len(pb.BucketCounts))
	}
	if !strings.Contains(pb.GetBucketOptions().String(), "growth_factor:1.4") {
		t.Errorf("bucket options = %v", pb.GetBucketOptions())
	}
}
