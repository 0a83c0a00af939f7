package computeapi

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Routes every VPC network has without anyone creating them (VPC docs, "Routes": the default
// route and subnet routes), as the real API lists them
// (realapi/compute/network-auto-gcloud-describe-listsubnets-routes.http.log).
const (
	defaultRouteDest     = "0.0.0.0/0"
	defaultRoutePriority = 1000
	defaultRouteDesc     = "Default route to the Internet."
	subnetRoutePriority  = 0
)

// routesLocked computes the system-generated routes of the project's networks: for each, the
// default route to the internet gateway and a local route per subnetwork range. Names are
// "default-route-" and 16 hex digits, stable for a network and destination.
func routesLocked(w *world.World, project string) []*compute.Route {
	var out []*compute.Route
	for _, nk := range world.SortedKeys(w.S.Networks) {
		if !strings.HasPrefix(nk, project+"/") {
			continue
		}
		n := w.S.Networks[nk]
		mk := func(dest, created string) *compute.Route {
			h := stableID(project, n.Name, fmt.Sprint(n.Id), dest)
			name := fmt.Sprintf("default-route-%016x", h)
			return &compute.Route{
				Kind: "compute#route", Id: stableID(name), Name: name, CreationTimestamp: created,
				Network: n.SelfLink, DestRange: dest, SelfLink: linkBase + globalPath(project, "routes", name),
			}
		}
		r := mk(defaultRouteDest, n.CreationTimestamp)
		r.Description = defaultRouteDesc
		r.NextHopGateway = linkBase + globalPath(project, "gateways", "default-internet-gateway")
		r.Priority = defaultRoutePriority
		out = append(out, r)
		for _, sk := range world.SortedKeys(w.S.Subnetworks) {
			sn := w.S.Subnetworks[sk]
			if !strings.HasPrefix(sk, project+"/") || world.NetworkName(sn.Network) != n.Name {
				continue
			}
			for _, nr := range subnetRanges(sn, world.NetworkName(sn.Region)) {
				r := mk(nr.Prefix.String(), sn.CreationTimestamp)
				r.Description = fmt.Sprintf("Default local route to the subnetwork %s.", nr.Prefix)
				r.NextHopNetwork = n.SelfLink
				r.Priority = subnetRoutePriority
				r.ForceSendFields = []string{"Priority"}
				out = append(out, r)
			}
		}
	}
	sortRoutes(out)
	return out
}

func sortRoutes(out []*compute.Route) {
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
}

func (s *server) routesList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#route", "routes", func(w *world.World, project, _ string) []listItem {
		routes := allRoutesLocked(w, project)
		items := make([]listItem, 0, len(routes))
		for _, rt := range routes {
			items = append(items, toItem(rt, rt.Name, rt.CreationTimestamp))
		}
		return items
	})
}

func (s *server) routesGet(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	for _, rt := range allRoutesLocked(s.w, p["project"]) {
		if rt.Name == p["name"] {
			return rt, nil
		}
	}
	return nil, errNotFound(globalPath(p["project"], "routes", p["name"]))
}

// projectNumber is the project's number, shared by every emulated API.
func projectNumber(project string) uint64 { return world.ProjectNumber(project) }

// projectGet serves a minimal project: the fields a client needs to learn its number and the
// Compute Engine default service account, and its Shared VPC role.
func (s *server) projectGet(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	return projectViewLocked(s.w, p["project"]), nil
}

// projectViewLocked is the project resource Compute shows for project. xpnProjectStatus is
// HOST for a Shared VPC host project, else UNSPECIFIED_XPN_PROJECT_STATUS (Compute reference,
// Project.xpnProjectStatus; service projects are not marked).
func projectViewLocked(w *world.World, project string) *compute.Project {
	num := projectNumber(project)
	status := "UNSPECIFIED_XPN_PROJECT_STATUS"
	if w.IsXpnHostLocked(project) {
		status = "HOST"
	}
	return &compute.Project{
		Kind: "compute#project", Id: stableID("project-id", project), Name: project,
		SelfLink:              linkBase + "projects/" + project,
		DefaultServiceAccount: fmt.Sprintf("%d-compute@developer.gserviceaccount.com", num),
		DefaultNetworkTier:    defaultTier,
		XpnProjectStatus:      status,
		VmDnsSetting:          "ZONAL_ONLY",
	}
}
