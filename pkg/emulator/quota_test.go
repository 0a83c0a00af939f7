package emulator_test

import (
	"strconv"
	"strings"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/googleapi"
	serviceusage "google.golang.org/api/serviceusage/v1beta1"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

const quotaMetric = "run.googleapis.com/direct_vpc_egress_instances"

// The Direct VPC instance quota reads through the real Service Usage v1beta1 client: the
// default bucket, and the region a test set, as a consumer override (BASIC) or among every
// region (FULL).
func TestDirectVPCQuotaThroughServiceUsage(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.SetDirectVPCQuota(emulator.DemoProject, emulator.DemoRegion, 5); err != nil {
		t.Fatal(err)
	}
	su, err := serviceusage.NewService(ctx(t), e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	parent := "projects/" + emulator.DemoProject + "/services/run.googleapis.com"
	list, err := su.Services.ConsumerQuotaMetrics.List(parent).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Metrics) != 1 || list.Metrics[0].Metric != quotaMetric || len(list.Metrics[0].ConsumerQuotaLimits) != 1 {
		t.Fatalf("metrics = %+v", list.Metrics)
	}
	lim := list.Metrics[0].ConsumerQuotaLimits[0]
	if lim.Unit != "1/{project}/{region}" || len(lim.QuotaBuckets) != 2 {
		t.Fatalf("BASIC limit = %+v, want the default bucket and the overridden region", lim)
	}
	def, region := lim.QuotaBuckets[0], lim.QuotaBuckets[1]
	if def.EffectiveLimit != 100 || len(def.Dimensions) != 0 {
		t.Errorf("default bucket = %+v", def)
	}
	if region.Dimensions["region"] != emulator.DemoRegion || region.EffectiveLimit != 5 || region.ConsumerOverride == nil || region.ConsumerOverride.OverrideValue != 5 {
		t.Errorf("region bucket = %+v", region)
	}
	num := strings.Split(list.Metrics[0].Name, "/")[1]
	if _, err := strconv.ParseUint(num, 10, 64); err != nil {
		t.Errorf("metric name %q does not carry the project number", list.Metrics[0].Name)
	}

	full, err := su.Services.ConsumerQuotaMetrics.Get(list.Metrics[0].Name).View("FULL").Do()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(full.ConsumerQuotaLimits[0].QuotaBuckets); n < 30 {
		t.Errorf("FULL view has %d buckets, want one per region", n)
	}
	l, err := su.Services.ConsumerQuotaMetrics.Limits.Get(lim.Name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != lim.Name || l.Metric != quotaMetric {
		t.Errorf("limits.get = %+v", l)
	}
	_, err = su.Services.ConsumerQuotaMetrics.Get(parent + "/consumerQuotaMetrics/run.googleapis.com%2Fnope").Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != 404 {
		t.Errorf("unknown metric: %v, want 404", err)
	}
}

// Cloud Run enforces the quota: a Direct VPC revision configured past it fails, and a Direct
// VPC revision cannot scale past it.
func TestDirectVPCQuotaEnforced(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	if err := e.SetDirectVPCQuota(emulator.DemoProject, emulator.DemoRegion, 5); err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	svc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	deploy := func(max int32) (*runpb.Service, error) {
		s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: demoService})
		if err != nil {
			t.Fatal(err)
		}
		s.Template.Revision = ""
		s.Template.Scaling = &runpb.RevisionScaling{MaxInstanceCount: max}
		s.Template.VpcAccess = &runpb.VpcAccess{
			NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: emulator.DemoDirectSubnet}},
			Egress:            runpb.VpcAccess_PRIVATE_RANGES_ONLY,
		}
		op, err := svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: s})
		if err != nil {
			t.Fatal(err)
		}
		return op.Wait(c)
	}
	if _, err := deploy(10); err == nil || !strings.Contains(err.Error(), "Quota exceeded for quota metric 'Direct VPC egress instances'") {
		t.Errorf("deploy with 10 max instances over a quota of 5: %v, want the quota error", err)
	}
	s, err := deploy(5)
	if err != nil {
		t.Fatalf("deploy with 5 max instances: %v", err)
	}
	rev := s.GetLatestReadyRevision()
	if err := e.ScaleRevision(rev, 6); err == nil || !strings.Contains(err.Error(), "the limit in "+emulator.DemoRegion+" is 5") {
		t.Errorf("scale to 6: %v, want the quota error", err)
	}
	if err := e.ScaleRevision(rev, 5); err != nil {
		t.Errorf("scale to 5: %v", err)
	}
}

// Faults apply to Service Usage by method id, with the HTTP status of the code: a caller
// that cannot read the quota sees 403.
func TestServiceUsageFault(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	e.InjectFault(emulator.Fault{Method: "serviceusage.services.consumerQuotaMetrics.list", Code: codes.PermissionDenied, Count: 1})
	su, err := serviceusage.NewService(ctx(t), e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	parent := "projects/" + emulator.DemoProject + "/services/run.googleapis.com"
	_, err = su.Services.ConsumerQuotaMetrics.List(parent).Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != 403 {
		t.Errorf("with the fault: %v, want 403", err)
	}
	if _, err := su.Services.ConsumerQuotaMetrics.List(parent).Do(); err != nil {
		t.Errorf("after the fault: %v", err)
	}
}
