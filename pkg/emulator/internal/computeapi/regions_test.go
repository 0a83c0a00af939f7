package computeapi

import (
	"context"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func TestRegionsListAndGet(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var names []string
	err := e.svc.Regions.List(testProject).MaxResults(10).Pages(ctx, func(l *compute.RegionList) error {
		if l.Kind != "compute#regionList" {
			t.Errorf("kind = %q", l.Kind)
		}
		for _, r := range l.Items {
			names = append(names, r.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("regions list: %v", err)
	}
	if strings.Join(names, ",") != strings.Join(world.RegionNames(), ",") {
		t.Errorf("regions = %v, want every known region in order %v", names, world.RegionNames())
	}
	r, err := e.svc.Regions.Get(testProject, "us-central1").Do()
	if err != nil {
		t.Fatalf("regions get: %v", err)
	}
	if r.Kind != "compute#region" || r.Status != "UP" || r.SelfLink != linkBase+"projects/"+testProject+"/regions/us-central1" ||
		len(r.Zones) != 4 || r.Zones[3] != linkBase+"projects/"+testProject+"/zones/us-central1-f" || r.Id == 0 || r.CreationTimestamp == "" {
		t.Errorf("region = %+v", r)
	}
	metrics := map[string]float64{}
	for _, q := range r.Quotas {
		metrics[q.Metric] = q.Limit
	}
	for _, m := range []string{"CPUS", "DISKS_TOTAL_GB", "STATIC_ADDRESSES", "IN_USE_ADDRESSES"} {
		if metrics[m] <= 0 {
			t.Errorf("region quotas lack %s (gcloud compute regions list shows it): %v", m, metrics)
		}
	}
	_, err = e.svc.Regions.Get(testProject, "mars-north1").Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/"+testProject+"/regions/mars-north1' was not found")
}

func TestZonesListAndGet(t *testing.T) {
	e := newEnv(t)
	l, err := e.svc.Zones.List(testProject).Filter(`region eq ".*/us-east1"`).Do()
	if err != nil {
		t.Fatalf("zones list: %v", err)
	}
	var names []string
	for _, z := range l.Items {
		names = append(names, z.Name)
	}
	if strings.Join(names, ",") != "us-east1-b,us-east1-c,us-east1-d" {
		t.Errorf("zones of us-east1 = %v", names)
	}
	z, err := e.svc.Zones.Get(testProject, "asia-northeast1-a").Do()
	if err != nil {
		t.Fatalf("zones get: %v", err)
	}
	if z.Kind != "compute#zone" || z.Status != "UP" || z.Region != linkBase+"projects/"+testProject+"/regions/asia-northeast1" {
		t.Errorf("zone = %+v", z)
	}
	for _, bad := range []string{"us-east1-a", "mars-north1-a", "nozone"} {
		_, err = e.svc.Zones.Get(testProject, bad).Do()
		wantErr(t, err, 404, "notFound", "The resource 'projects/"+testProject+"/zones/"+bad+"' was not found")
	}
}

// gcloud compute operations list reads the aggregated list: global and regional operations,
// each under its scope.
func TestOperationsAggregatedList(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, "asia-northeast1", "s1", "vpc", "10.0.0.0/24")
	l, err := e.svc.GlobalOperations.AggregatedList(testProject).Do(googleapi.QueryParameter("returnPartialSuccess", "True"))
	if err != nil {
		t.Fatalf("aggregated operations: %v", err)
	}
	if l.Kind != "compute#operationAggregatedList" {
		t.Errorf("kind = %q", l.Kind)
	}
	global, regional := l.Items["global"], l.Items["regions/asia-northeast1"]
	if len(global.Operations) != 1 || global.Operations[0].OperationType != "insert" || !strings.HasSuffix(global.Operations[0].TargetLink, "/networks/vpc") {
		t.Errorf("global scope = %+v", global)
	}
	if len(regional.Operations) != 1 || !strings.HasSuffix(regional.Operations[0].TargetLink, "/subnetworks/s1") || regional.Operations[0].Status != "DONE" {
		t.Errorf("asia-northeast1 scope = %+v", regional)
	}
	if empty := l.Items["regions/us-central1"]; len(empty.Operations) != 0 || empty.Warning == nil || empty.Warning.Code != "NO_RESULTS_ON_PAGE" {
		t.Errorf("empty scope = %+v, want a NO_RESULTS_ON_PAGE warning", empty)
	}
	// Paging counts operations across scopes.
	first, err := e.svc.GlobalOperations.AggregatedList(testProject).MaxResults(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if first.NextPageToken == "" || len(first.Items["global"].Operations) != 1 || len(first.Items["regions/asia-northeast1"].Operations) != 0 {
		t.Errorf("first page = %+v", first.Items)
	}
}
