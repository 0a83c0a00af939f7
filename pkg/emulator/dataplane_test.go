package emulator_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

const demoService = loc + "/services/" + emulator.DemoService

// computeOK waits for a Compute operation and fails the test if it failed.
func computeOK(t *testing.T, cs *compute.Service) func(*compute.Operation, error) {
	return func(op *compute.Operation, err error) {
		t.Helper()
		computeWait(t, cs, op, err)
	}
}

func computeWait(t *testing.T, cs *compute.Service, op *compute.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for op.Status != "DONE" {
		if op.Region != "" {
			op, err = cs.RegionOperations.Wait(emulator.DemoProject, emulator.DemoRegion, op.Name).Do()
		} else {
			op, err = cs.GlobalOperations.Wait(emulator.DemoProject, op.Name).Do()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if op.Error != nil {
		t.Fatalf("operation %s failed: %v", op.Name, op.Error.Errors[0].Message)
	}
}

// onPremDestination builds the trap of the demo: a database on-premises, reached through a
// VPN tunnel, whose own allowlist admits only the connector's subnet.
func onPremDestination(t *testing.T, e *emulator.Emulator) {
	t.Helper()
	cs, err := compute.NewService(ctx(t), e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	p, r := emulator.DemoProject, emulator.DemoRegion
	computeOK(t, cs)(cs.VpnTunnels.Insert(p, r, &compute.VpnTunnel{
		Name: "onprem-tunnel", PeerIp: "203.0.113.10", SharedSecret: "secret",
		TargetVpnGateway: "projects/" + p + "/regions/" + r + "/targetVpnGateways/onprem-gw",
	}).Do())
	tun, err := cs.VpnTunnels.Get(p, r, "onprem-tunnel").Do()
	if err != nil {
		t.Fatal(err)
	}
	if tun.Status != "ESTABLISHED" || tun.IkeVersion != 2 || tun.SharedSecret != "" {
		t.Errorf("tunnel = status %s ike %d secret %q", tun.Status, tun.IkeVersion, tun.SharedSecret)
	}
	computeOK(t, cs)(cs.Routes.Insert(p, &compute.Route{
		Name: "to-onprem", Network: "global/networks/" + emulator.DemoNetwork, DestRange: "192.168.10.0/24",
		NextHopVpnTunnel: tun.SelfLink,
	}).Do())
	if err := e.SetDestination(emulator.Destination{
		Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: p, Network: emulator.DemoNetwork,
		Allow: []string{"10.15.0.0/28"}, // the connector's subnet only
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetDependencies(demoService, []emulator.Dependency{{Destination: "partner-db"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLoad(demoService, emulator.Load{RPS: 10}); err != nil {
		t.Fatal(err)
	}
}

// canary deploys a Direct VPC revision of the demo service in 10.8.0.0/24 with 10% of the
// traffic, and returns the old and new revision names.
func canary(t *testing.T, e *emulator.Emulator) (oldRev, newRev string) {
	t.Helper()
	c := ctx(t)
	svc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: demoService})
	if err != nil {
		t.Fatal(err)
	}
	oldRev = s.GetLatestReadyRevision()
	s.Template.Revision = emulator.DemoService + "-direct"
	s.Template.VpcAccess = &runpb.VpcAccess{
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: emulator.DemoDirectSubnet}},
		Egress:            runpb.VpcAccess_PRIVATE_RANGES_ONLY,
	}
	s.Traffic = []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: lastSegment(oldRev), Percent: 90},
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: s.Template.Revision, Percent: 10, Tag: "canary"},
	}
	op, err := svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(c); err != nil {
		t.Fatal(err)
	}
	return oldRev, demoService + "/revisions/" + s.Template.Revision
}

func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// series runs ListTimeSeries through the real client and returns, per
// "revision class" (group-by values joined by a space), the newest point's value.
func series(t *testing.T, mc *monitoring.MetricClient, req *monitoringpb.ListTimeSeriesRequest) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	it := mc.ListTimeSeries(ctx(t), req)
	for {
		ts, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("ListTimeSeries: %v", err)
		}
		key := strings.TrimSpace(ts.GetResource().GetLabels()["revision_name"] + " " + ts.GetMetric().GetLabels()["response_code_class"])
		if len(ts.GetPoints()) == 0 {
			t.Fatalf("series %s has no points", key)
		}
		v := ts.GetPoints()[0].GetValue()
		switch {
		case v.GetDistributionValue() != nil:
			out[key] = float64(v.GetDistributionValue().GetCount())
		case ts.GetValueType().String() == "INT64":
			out[key] = float64(v.GetInt64Value())
		default:
			out[key] = v.GetDoubleValue()
		}
	}
	return out
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The trap no static check sees: a destination on-premises whose allowlist admits only the
// connector's /28. The Direct VPC canary in 10.8.0.0/24 is Ready, yet its requests fail (5xx
// in request_count, slow in request_latencies) while the connector revision's succeed; once
// the allowlist admits the subnet, the canary serves 2xx.
func TestOnPremAllowlistTrapShowsInMetrics(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	onPremDestination(t, e)
	oldRev, newRev := canary(t, e)

	reach, err := e.Reach(newRev, "partner-db")
	if err != nil {
		t.Fatal(err)
	}
	if reach.OK || reach.Via != "vpn" || !strings.Contains(reach.Reason, "10.8.0.0/24") {
		t.Errorf("canary reach = %+v, want refused by the allowlist, seen from 10.8.0.0/24 through the VPN", reach)
	}
	if r, _ := e.Reach(oldRev, "partner-db"); !r.OK || r.Sources[0] != "10.15.0.0/28" {
		t.Errorf("connector revision reach = %+v, want OK from 10.15.0.0/28", r)
	}

	e.Advance(5 * time.Minute)
	mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	now := e.Now()
	window := &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-5 * time.Minute)), EndTime: timestamppb.New(now)}
	counts := func() map[string]float64 {
		return series(t, mc, &monitoringpb.ListTimeSeriesRequest{
			Name: "projects/" + emulator.DemoProject,
			Filter: `metric.type = "run.googleapis.com/request_count" AND resource.type = "cloud_run_revision" AND ` +
				`resource.labels.service_name = "` + emulator.DemoService + `"`,
			Interval: window,
			Aggregation: &monitoringpb.Aggregation{
				AlignmentPeriod: durationpb.New(5 * time.Minute), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA,
				CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM,
				GroupByFields:      []string{"resource.label.revision_name", "metric.label.response_code_class"},
			},
		})
	}
	got := counts()
	o, n := lastSegment(oldRev), lastSegment(newRev)
	if !near(got[o+" 2xx"], 2700, 2) || got[o+" 5xx"] != 0 || !near(got[n+" 5xx"], 300, 1) || got[n+" 2xx"] != 0 {
		t.Errorf("request counts over 5 minutes at 10 rps split 90/10 = %v; want %s 2xx 2700, %s 5xx 300, nothing else", got, o, n)
	}

	p95 := series(t, mc, &monitoringpb.ListTimeSeriesRequest{
		Name:     "projects/" + emulator.DemoProject,
		Filter:   `metric.type = "run.googleapis.com/request_latencies" AND resource.labels.service_name = "` + emulator.DemoService + `"`,
		Interval: window,
		Aggregation: &monitoringpb.Aggregation{
			AlignmentPeriod: durationpb.New(5 * time.Minute), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA,
			CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_PERCENTILE_95, GroupByFields: []string{"resource.label.revision_name"},
		},
	})
	if p95[o] <= 0 || p95[o] > 100 || p95[n] < 2000 || p95[n] > 4500 {
		t.Errorf("p95 latency = %v; want about 50 ms for %s and about 3000 ms for %s", p95, o, n)
	}

	// The allowlist gains the Direct VPC subnet: the canary serves 2xx from then on.
	if err := e.SetDestination(emulator.Destination{
		Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: emulator.DemoProject, Network: emulator.DemoNetwork,
		Allow: []string{"10.15.0.0/28", "10.8.0.0/24"},
	}); err != nil {
		t.Fatal(err)
	}
	e.Advance(5 * time.Minute)
	now = e.Now()
	window = &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-5 * time.Minute)), EndTime: timestamppb.New(now)}
	got = counts()
	if !near(got[n+" 2xx"], 300, 1) || got[n+" 5xx"] != 0 || !near(got[o+" 2xx"], 2700, 2) {
		t.Errorf("after the allowlist change, counts = %v; want %s 2xx 300 and no 5xx", got, n)
	}
}

// Raw points come one per minute, newest first, as DELTA INT64 with one-minute intervals.
func TestRequestCountRawPoints(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.SetLoad(demoService, emulator.Load{RPS: 2}); err != nil {
		t.Fatal(err)
	}
	e.Advance(10 * time.Minute)
	mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	now := e.Now()
	it := mc.ListTimeSeries(ctx(t), &monitoringpb.ListTimeSeriesRequest{
		Name:     "projects/" + emulator.DemoProject,
		Filter:   `metric.type = "run.googleapis.com/request_count" AND metric.labels.response_code_class = "2xx"`,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-5 * time.Minute)), EndTime: timestamppb.New(now)},
	})
	ts, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := it.Next(); err != iterator.Done {
		t.Errorf("want one series (one revision, 2xx), got more: %v", err)
	}
	if ts.GetMetricKind().String() != "DELTA" || ts.GetValueType().String() != "INT64" || ts.GetResource().GetType() != "cloud_run_revision" ||
		ts.GetResource().GetLabels()["location"] != emulator.DemoRegion || ts.GetMetric().GetLabels()["response_code"] != "200" {
		t.Errorf("series header = %v %v %v %v", ts.GetMetricKind(), ts.GetValueType(), ts.GetResource(), ts.GetMetric())
	}
	pts := ts.GetPoints()
	if len(pts) < 4 || len(pts) > 5 {
		t.Fatalf("%d raw points over 5 minutes, want 4 or 5", len(pts))
	}
	for i, p := range pts {
		iv := p.GetInterval()
		if d := iv.GetEndTime().AsTime().Sub(iv.GetStartTime().AsTime()); d != time.Minute {
			t.Errorf("point %d spans %v, want 1m", i, d)
		}
		if i > 0 && !iv.GetEndTime().AsTime().Before(pts[i-1].GetInterval().GetEndTime().AsTime()) {
			t.Errorf("points are not newest first")
		}
		if p.GetValue().GetInt64Value() != 120 {
			t.Errorf("point %d = %d requests, want 120 (2 rps for a minute)", i, p.GetValue().GetInt64Value())
		}
	}
}

// What the emulator does not compute is refused with INVALID_ARGUMENT naming it.
func TestListTimeSeriesRefusals(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	now := timestamppb.New(e.Now())
	for _, c := range []struct {
		name string
		req  *monitoringpb.ListTimeSeriesRequest
		want string
	}{
		{"or", &monitoringpb.ListTimeSeriesRequest{Filter: `metric.type = "run.googleapis.com/request_count" OR resource.type = "x"`}, "unsupported filter term"},
		{"no metric type", &monitoringpb.ListTimeSeriesRequest{Filter: `resource.type = "cloud_run_revision"`}, "metric type"},
		{"aligner", &monitoringpb.ListTimeSeriesRequest{Filter: `metric.type = "run.googleapis.com/request_count"`,
			Aggregation: &monitoringpb.Aggregation{PerSeriesAligner: monitoringpb.Aggregation_ALIGN_STDDEV, AlignmentPeriod: durationpb.New(time.Minute)}}, "ALIGN_STDDEV"},
		{"reducer", &monitoringpb.ListTimeSeriesRequest{Filter: `metric.type = "run.googleapis.com/request_count"`,
			Aggregation: &monitoringpb.Aggregation{PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA, AlignmentPeriod: durationpb.New(time.Minute), CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_STDDEV}}, "REDUCE_STDDEV"},
		{"short period", &monitoringpb.ListTimeSeriesRequest{Filter: `metric.type = "run.googleapis.com/request_count"`,
			Aggregation: &monitoringpb.Aggregation{PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA, AlignmentPeriod: durationpb.New(10 * time.Second)}}, "at least 60 seconds"},
		{"rate of a distribution", &monitoringpb.ListTimeSeriesRequest{Filter: `metric.type = "run.googleapis.com/request_latencies"`,
			Aggregation: &monitoringpb.Aggregation{PerSeriesAligner: monitoringpb.Aggregation_ALIGN_RATE, AlignmentPeriod: durationpb.New(time.Minute)}}, "ALIGN_RATE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := e.SetLoad(demoService, emulator.Load{RPS: 1}); err != nil {
				t.Fatal(err)
			}
			e.Advance(2 * time.Minute)
			c.req.Name = "projects/" + emulator.DemoProject
			c.req.Interval = &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.AsTime().Add(-time.Hour)), EndTime: timestamppb.New(e.Now())}
			_, err := mc.ListTimeSeries(ctx(t), c.req).Next()
			if err == nil || !strings.Contains(err.Error(), "InvalidArgument") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want INVALID_ARGUMENT naming %q", err, c.want)
			}
		})
	}
}

// get sends GET http://EMULATOR/path with the Host header of a Cloud Run URL.
func get(t *testing.T, e *emulator.Emulator, runURL string, token bool) (int, string) {
	t.Helper()
	u, err := url.Parse(runURL)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://"+e.Addr()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = u.Host
	if token {
		req.Header.Set("Authorization", "Bearer id-token")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A tagged revision answers at its own URL through the emulator's address: 500 while it cannot
// reach its dependency, 200 once it can; 403 without a token. Both URL forms work.
func TestTaggedRevisionURLProbe(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	onPremDestination(t, e)
	_, newRev := canary(t, e)
	svc, err := run.NewServicesClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	s, err := svc.GetService(ctx(t), &runpb.GetServiceRequest{Name: demoService})
	if err != nil {
		t.Fatal(err)
	}
	tagURL := ""
	for _, ts := range s.GetTrafficStatuses() {
		if ts.GetTag() == "canary" {
			tagURL = ts.GetUri()
		}
	}
	if !strings.HasPrefix(tagURL, "https://canary---") {
		t.Fatalf("tag uri = %q", tagURL)
	}
	if code, _ := get(t, e, tagURL, false); code != http.StatusForbidden {
		t.Errorf("without a token: %d, want 403", code)
	}
	if code, body := get(t, e, tagURL, true); code != http.StatusInternalServerError || !strings.Contains(body, "partner-db") || !strings.Contains(body, lastSegment(newRev)) {
		t.Errorf("canary probe: %d %s, want 500 naming partner-db", code, body)
	}
	if err := e.SetDestination(emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: emulator.DemoProject,
		Network: emulator.DemoNetwork, Allow: []string{"10.15.0.0/28", "10.8.0.0/24"}}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, e, tagURL, true); code != http.StatusOK {
		t.Errorf("canary probe after the allowlist change: %d %s", code, body)
	}
	det := "https://canary---" + strings.TrimPrefix(s.GetUrls()[0], "https://") // TAG---SERVICE-NUMBER.REGION.run.app
	if code, body := get(t, e, det, true); code != http.StatusOK || !strings.Contains(body, lastSegment(newRev)) {
		t.Errorf("deterministic tag URL %s: %d %s", det, code, body)
	}
	if r := e.Probe("https://nothing---x.a.run.app/"); r.Status != http.StatusNotFound {
		t.Errorf("unknown host: %+v", r)
	}
}

// A connector's metrics: its instances (a gauge) and the bytes it forwards for the requests
// whose dependencies it carries.
func TestConnectorMetrics(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	cs, err := compute.NewService(ctx(t), e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	computeOK(t, cs)(cs.Firewalls.Insert(emulator.DemoProject, &compute.Firewall{
		Name: "redis-from-connector", Network: "global/networks/" + emulator.DemoNetwork, SourceTags: []string{"vpc-connector"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"6379"}}},
	}).Do())
	if err := e.SetDestination(emulator.Destination{Name: "redis", IP: "10.5.0.3", Port: 6379, Project: emulator.DemoProject, Network: emulator.DemoNetwork}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetDependencies(demoService, []emulator.Dependency{{Destination: "redis"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLoad(demoService, emulator.Load{RPS: 10}); err != nil {
		t.Fatal(err)
	}
	e.Advance(5 * time.Minute)
	if err := e.ScaleConnector(loc+"/connectors/"+emulator.DemoConnector, 3); err != nil {
		t.Fatal(err)
	}
	e.Advance(5 * time.Minute)
	mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	now := e.Now()
	query := func(metric string, al monitoringpb.Aggregation_Aligner, period time.Duration) []*monitoringpb.TimeSeries {
		var out []*monitoringpb.TimeSeries
		it := mc.ListTimeSeries(ctx(t), &monitoringpb.ListTimeSeriesRequest{
			Name:        "projects/" + emulator.DemoProject,
			Filter:      `metric.type = "` + metric + `" AND resource.type = "vpc_access_connector" AND resource.labels.connector_name = "` + emulator.DemoConnector + `"`,
			Interval:    &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-10 * time.Minute)), EndTime: timestamppb.New(now)},
			Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(period), PerSeriesAligner: al},
		})
		for {
			ts, err := it.Next()
			if err == iterator.Done {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ts)
		}
	}
	inst := query("vpcaccess.googleapis.com/connector/instances", monitoringpb.Aggregation_ALIGN_MAX, 5*time.Minute)
	if len(inst) != 1 || len(inst[0].Points) < 2 || inst[0].Points[0].Value.GetInt64Value() != 3 || inst[0].Points[len(inst[0].Points)-1].Value.GetInt64Value() != 2 {
		t.Fatalf("instances = %v", inst)
	}
	sent := query("vpcaccess.googleapis.com/connector/sent_bytes_count", monitoringpb.Aggregation_ALIGN_RATE, 5*time.Minute)
	recv := query("vpcaccess.googleapis.com/connector/received_bytes_count", monitoringpb.Aggregation_ALIGN_RATE, 5*time.Minute)
	if len(sent) != 1 || !near(sent[0].Points[0].Value.GetDoubleValue(), 10*1024, 1) || sent[0].Unit != "By/s" {
		t.Errorf("sent rate = %v, want 10 requests/s × 1 KiB", sent)
	}
	if len(recv) != 1 || !near(recv[0].Points[0].Value.GetDoubleValue(), 10*4096, 1) {
		t.Errorf("received rate = %v, want 10 requests/s × 4 KiB", recv)
	}
}

// container/instance_count follows the instances a revision runs.
func TestInstanceCountMetric(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	var state struct {
		Services map[string]struct {
			LatestReadyRevision string `json:"latestReadyRevision"`
		} `json:"services"`
	}
	b, err := e.State()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &state); err != nil {
		t.Fatal(err)
	}
	rev := state.Services[demoService].LatestReadyRevision
	e.Advance(2 * time.Minute)
	if err := e.ScaleRevision(rev, 4); err != nil {
		t.Fatal(err)
	}
	e.Advance(2 * time.Minute)
	now := e.Now()
	it := mc.ListTimeSeries(ctx(t), &monitoringpb.ListTimeSeriesRequest{
		Name:        "projects/" + emulator.DemoProject,
		Filter:      `metric.type = "run.googleapis.com/container/instance_count" AND resource.labels.revision_name = "` + lastSegment(rev) + `"`,
		Interval:    &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-4 * time.Minute)), EndTime: timestamppb.New(now)},
		Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(2 * time.Minute), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_NEXT_OLDER},
	})
	ts, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	pts := ts.GetPoints()
	if len(pts) < 2 || pts[0].GetValue().GetInt64Value() != 4 || pts[len(pts)-1].GetValue().GetInt64Value() != 1 || ts.GetMetric().GetLabels()["state"] != "active" {
		t.Errorf("instance_count = %v", ts)
	}
}

// With the start-up delay on, a Direct VPC canary without an HTTP startup probe fails its VPC
// calls for the first minute, then serves 2xx; with an HTTP startup probe it never does.
func TestDirectVPCStartupDelay(t *testing.T) {
	for _, httpProbe := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp probe", true: "http probe"}[httpProbe], func(t *testing.T) {
			e := start(t, emulator.Options{Seed: emulator.SeedDemo})
			onPremDestination(t, e)
			if err := e.SetDestination(emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: emulator.DemoProject,
				Network: emulator.DemoNetwork, Allow: []string{"10.15.0.0/28", "10.8.0.0/24"}}); err != nil {
				t.Fatal(err)
			}
			if err := e.SetDirectVPCWarmup(time.Minute); err != nil {
				t.Fatal(err)
			}
			if httpProbe {
				c := ctx(t)
				svc, err := run.NewServicesClient(c, e.ClientOptions()...)
				if err != nil {
					t.Fatal(err)
				}
				defer svc.Close()
				s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: demoService})
				if err != nil {
					t.Fatal(err)
				}
				s.Template.Containers[0].StartupProbe = &runpb.Probe{ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/healthz"}}}
				op, err := svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: s})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := op.Wait(c); err != nil {
					t.Fatal(err)
				}
			}
			_, newRev := canary(t, e)
			if r, _ := e.RevisionHealth(newRev); (r.FailRatio == 1) == httpProbe {
				t.Errorf("right after deploy: fail ratio %g (http probe %v)", r.FailRatio, httpProbe)
			}
			mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			defer mc.Close()
			count := func() map[string]float64 {
				now := e.Now()
				return series(t, mc, &monitoringpb.ListTimeSeriesRequest{
					Name:     "projects/" + emulator.DemoProject,
					Filter:   `metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = "` + lastSegment(newRev) + `"`,
					Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-time.Minute)), EndTime: timestamppb.New(now)},
					Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Minute), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA,
						CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM, GroupByFields: []string{"metric.label.response_code_class"}},
				})
			}
			e.Advance(time.Minute)
			first := count()
			e.Advance(2 * time.Minute)
			later := count()
			if httpProbe {
				if first["5xx"] != 0 || later["5xx"] != 0 {
					t.Errorf("with an HTTP startup probe: first minute %v, later %v; want no 5xx", first, later)
				}
				return
			}
			if !near(first["5xx"], 60, 2) || later["5xx"] != 0 || !near(later["2xx"], 60, 1) {
				t.Errorf("first minute %v, a minute later %v; want 60 5xx then 60 2xx", first, later)
			}
		})
	}
}

// Backfill gives a fixture the history of its present: an hour at 10 rps reads as 36,000
// requests at once, with no wait, through the real Monitoring client at real time.
func TestBackfillHistory(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.SetLoad(demoService, emulator.Load{RPS: 10}); err != nil {
		t.Fatal(err)
	}
	if err := e.Backfill(0); err == nil {
		t.Error("Backfill(0) accepted")
	}
	if err := e.Backfill(time.Hour); err != nil {
		t.Fatal(err)
	}
	mc, err := monitoring.NewMetricClient(ctx(t), e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	now := e.Now()
	got := series(t, mc, &monitoringpb.ListTimeSeriesRequest{
		Name:     "projects/" + emulator.DemoProject,
		Filter:   `metric.type = "run.googleapis.com/request_count" AND resource.labels.service_name = "` + emulator.DemoService + `"`,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)},
		Aggregation: &monitoringpb.Aggregation{
			AlignmentPeriod: durationpb.New(time.Hour), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA,
			CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM,
		},
	})
	if len(got) != 1 || !near(got[""], 36000, 20) {
		t.Errorf("requests over the backfilled hour = %v, want about 36000", got)
	}
}
