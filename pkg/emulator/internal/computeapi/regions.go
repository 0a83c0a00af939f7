package computeapi

import (
	"net/http"
	"strings"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Regions and zones: the emulator's regions (world.Regions), each UP, with its zones.

// zoneSuffixes are the zones of the regions that do not have exactly a, b and c. Source:
// Compute docs, "Regions and zones" (Available regions and zones): us-central1 has a, b, c
// and f; us-east1 and europe-west1 have b, c and d.
var zoneSuffixes = map[string][]string{
	"us-central1":  {"a", "b", "c", "f"},
	"us-east1":     {"b", "c", "d"},
	"europe-west1": {"b", "c", "d"},
}

// regionQuotas are the regional quotas a region reports, with the limits a new project gets.
// gcloud compute regions list shows CPUS, DISKS_TOTAL_GB, STATIC_ADDRESSES and
// IN_USE_ADDRESSES. The emulator has no VMs or disks; addresses count as in use by nothing.
var regionQuotas = []struct {
	metric string
	limit  float64
}{
	{"CPUS", 24},
	{"DISKS_TOTAL_GB", 4096},
	{"STATIC_ADDRESSES", 8},
	{"IN_USE_ADDRESSES", 8},
	{"SSD_TOTAL_GB", 500},
	{"SUBNETWORKS", 275},
}

// epoch is the creationTimestamp the real API gives regions and zones (the Unix epoch,
// written in Pacific time).
var epoch = timestamp(time.Unix(0, 0))

func zonesOf(region string) []string {
	suffixes, ok := zoneSuffixes[region]
	if !ok {
		suffixes = []string{"a", "b", "c"}
	}
	out := make([]string, len(suffixes))
	for i, s := range suffixes {
		out[i] = region + "-" + s
	}
	return out
}

// zoneRegion returns the region of a zone the emulator knows.
func zoneRegion(zone string) (string, bool) {
	i := strings.LastIndexByte(zone, '-')
	if i < 0 || !world.IsRegion(zone[:i]) {
		return "", false
	}
	for _, z := range zonesOf(zone[:i]) {
		if z == zone {
			return zone[:i], true
		}
	}
	return "", false
}

func regionResource(project, name string) *compute.Region {
	r := &compute.Region{
		Kind: "compute#region", Id: stableID("region", name), CreationTimestamp: epoch,
		Name: name, Description: name, Status: "UP",
		SelfLink: regionLink(project, name),
	}
	for _, z := range zonesOf(name) {
		r.Zones = append(r.Zones, linkBase+"projects/"+project+"/zones/"+z)
	}
	for _, q := range regionQuotas {
		r.Quotas = append(r.Quotas, &compute.Quota{Metric: q.metric, Limit: q.limit, ForceSendFields: []string{"Usage"}})
	}
	return r
}

func zoneResource(project, name, region string) *compute.Zone {
	return &compute.Zone{
		Kind: "compute#zone", Id: stableID("zone", name), CreationTimestamp: epoch,
		Name: name, Description: name, Status: "UP",
		Region:   regionLink(project, region),
		SelfLink: linkBase + "projects/" + project + "/zones/" + name,
	}
}

func (s *server) regionsList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#region", "regions", func(_ *world.World, project, _ string) []listItem {
		var items []listItem
		for _, name := range world.RegionNames() {
			items = append(items, toItem(regionResource(project, name), name, epoch))
		}
		return items
	})
}

func (s *server) regionsGet(r *http.Request, p params) (any, *apiError) {
	if !world.IsRegion(p["name"]) {
		return nil, errNotFound("projects/" + p["project"] + "/regions/" + p["name"])
	}
	return regionResource(p["project"], p["name"]), nil
}

func (s *server) zonesList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#zone", "zones", func(_ *world.World, project, _ string) []listItem {
		var items []listItem
		for _, region := range world.RegionNames() {
			for _, z := range zonesOf(region) {
				items = append(items, toItem(zoneResource(project, z, region), z, epoch))
			}
		}
		return items
	})
}

func (s *server) zonesGet(r *http.Request, p params) (any, *apiError) {
	region, ok := zoneRegion(p["name"])
	if !ok {
		return nil, errNotFound("projects/" + p["project"] + "/zones/" + p["name"])
	}
	return zoneResource(p["project"], p["name"], region), nil
}

// opsAggregated serves globalOperations.aggregatedList (GET projects/P/aggregated/operations,
// what `gcloud compute operations list` calls): the global scope, then every region. The
// emulator has no zonal operations, so zones are not listed as scopes.
func (s *server) opsAggregated(r *http.Request, p params) (any, *apiError) {
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	project := p["project"]
	s.w.Lock()
	scopes := []scopeItems{{scope: "global", items: opItemsLocked(s.w, project, "")}}
	for _, region := range world.RegionNames() {
		scopes = append(scopes, scopeItems{scope: "regions/" + region, items: opItemsLocked(s.w, project, region)})
	}
	s.w.Unlock()
	return lp.aggregated("compute#operationAggregatedList", "projects/"+project+"/aggregated/operations", "operations", scopes)
}
