package computeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Static routes (routes.insert, routes.delete) and Classic/HA VPN tunnels (vpnTunnels.insert,
// get, list, delete), enough for a route to an on-premises range through a VPN tunnel. The
// data plane (world/dataplane.go) uses them: a static route's next hop VPN tunnel carries
// traffic to its destination range.
//
// Known deviations: VPN gateways are not modelled, so a tunnel's targetVpnGateway or
// vpnGateway is checked for form only; every tunnel is ESTABLISHED at once.

var customRoutes = &collection[compute.Route]{
	name:  "routes",
	items: func(s *world.State) map[string]*compute.Route { return s.Net.Routes },
}

var vpnTunnels = &collection[compute.VpnTunnel]{
	name:  "vpnTunnels",
	items: func(s *world.State) map[string]*compute.VpnTunnel { return s.Net.VpnTunnels },
}

// Route limits. Compute docs, Route.priority: "the lowest priority value wins... The range is
// 0 through 65535. Default value is 1000."
const (
	defaultRoutePrio = 1000
	maxRoutePrio     = 65535
)

func validateRouteLocked(w *world.World, project string, rt *compute.Route, prioritySet bool) (string, *apiError) {
	if aerr := checkName("resource.name", rt.Name); aerr != nil {
		return "", aerr
	}
	network, aerr := networkRefLocked(w, project, rt.Network, "resource.network")
	if aerr != nil {
		return "", aerr
	}
	if rt.DestRange == "" {
		return "", errRequired("resource.destRange")
	}
	if _, err := netip.ParsePrefix(rt.DestRange); err != nil {
		return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.destRange': '%s'. Must be a CIDR address range.", rt.DestRange))
	}
	if prioritySet && (rt.Priority < 0 || rt.Priority > maxRoutePrio) {
		return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.priority': '%d'. Must be between 0 and %d.", rt.Priority, maxRoutePrio))
	}
	hops := 0
	for _, h := range []string{rt.NextHopGateway, rt.NextHopIp, rt.NextHopInstance, rt.NextHopVpnTunnel, rt.NextHopIlb} {
		if h != "" {
			hops++
		}
	}
	if hops != 1 {
		return "", errInvalid("Invalid value for field 'resource': ''. Exactly one of nextHopGateway, nextHopIp, nextHopInstance, nextHopVpnTunnel or nextHopIlb must be specified.")
	}
	if g := rt.NextHopGateway; g != "" && !strings.HasSuffix(g, "global/gateways/default-internet-gateway") {
		return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.nextHopGateway': '%s'. The only gateway is global/gateways/default-internet-gateway.", g))
	}
	if ip := rt.NextHopIp; ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.nextHopIp': '%s'. Must be an IP address.", ip))
		}
	}
	if ref := rt.NextHopVpnTunnel; ref != "" {
		proj, region, name, ok := regionalRef(ref, project, "", "vpnTunnels")
		if !ok || region == "" {
			return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.nextHopVpnTunnel': '%s'. The URL is malformed.", ref))
		}
		if _, ok := w.S.Net.VpnTunnels[world.RegionalKey(proj, region, name)]; !ok {
			return "", errNotFound(regionalPath(proj, region, "vpnTunnels", name))
		}
	}
	if t := (target{project: project, name: rt.Name}); customRoutes.takenLocked(w, t) || systemRouteLocked(w, project, rt.Name) != nil {
		return "", errAlreadyExists(globalPath(project, "routes", rt.Name))
	}
	return network, nil
}

func systemRouteLocked(w *world.World, project, name string) *compute.Route {
	for _, rt := range routesLocked(w, project) {
		if rt.Name == name {
			return rt
		}
	}
	return nil
}

func buildRouteLocked(w *world.World, project, network string, in *compute.Route, prioritySet bool) *compute.Route {
	rt := clone(in)
	rt.Kind = "compute#route"
	rt.Id = w.NextIDLocked()
	rt.CreationTimestamp = timestamp(w.Now())
	rt.SelfLink = linkBase + globalPath(project, "routes", rt.Name)
	rt.Network = linkBase + networkPath(project, network)
	rt.RouteType = "STATIC"
	if !prioritySet {
		rt.Priority = defaultRoutePrio
	}
	if ref := rt.NextHopVpnTunnel; ref != "" {
		proj, region, name, _ := regionalRef(ref, project, "", "vpnTunnels")
		rt.NextHopVpnTunnel = linkBase + regionalPath(proj, region, "vpnTunnels", name)
	}
	if rt.NextHopGateway != "" {
		rt.NextHopGateway = linkBase + globalPath(project, "gateways", "default-internet-gateway")
	}
	rt.Params = nil
	return rt
}

func renderRoute(rt *compute.Route) *compute.Route {
	c := clone(rt)
	c.ForceSendFields = []string{"Priority"}
	return c
}

// PutRouteLocked validates a static route like routes.insert and stores it at once. A zero
// Priority means the default, 1000, unless "Priority" is in ForceSendFields.
func PutRouteLocked(w *world.World, project string, rt *compute.Route) (*compute.Route, error) {
	if rt == nil {
		return nil, errors.New("computeapi: put route: nil route")
	}
	set := contains(rt.ForceSendFields, "Priority") || rt.Priority != 0
	network, aerr := validateRouteLocked(w, project, rt, set)
	if aerr != nil {
		return nil, fmt.Errorf("put route %s: %w", rt.Name, aerr)
	}
	built := buildRouteLocked(w, project, network, rt, set)
	w.S.Net.Routes[world.GlobalKey(project, built.Name)] = built
	w.MarkChangedLocked()
	return renderRoute(built), nil
}

func (s *server) routesInsert(r *http.Request, p params) (any, *apiError) {
	var in compute.Route
	return s.mutate(r, p, &in, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		project := p["project"]
		_, set := present["priority"]
		network, aerr := validateRouteLocked(s.w, project, &in, set)
		if aerr != nil {
			return nil, aerr
		}
		rt := buildRouteLocked(s.w, project, network, &in, set)
		return customRoutes.insertLocked(s.w, p.target(rt.Name), rid, rt, rt.Id, flight{network: project + "/" + network}, nil), nil
	})
}

func (s *server) routesDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		if sys := systemRouteLocked(s.w, t.project, t.name); sys != nil {
			return nil, errInvalid(fmt.Sprintf("Invalid resource usage: 'The route %s is a system-generated route and cannot be deleted.'", t.name))
		}
		cur, aerr := customRoutes.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		return customRoutes.deleteLocked(s.w, t, rid, cur.Id, nil), nil
	})
}

// allRoutesLocked lists the system routes and the static ones, by name.
func allRoutesLocked(w *world.World, project string) []*compute.Route {
	out := routesLocked(w, project)
	for _, k := range world.SortedKeys(w.S.Net.Routes) {
		if strings.HasPrefix(k, project+"/") {
			out = append(out, renderRoute(w.S.Net.Routes[k]))
		}
	}
	sortRoutes(out)
	return out
}

// VPN tunnels.

func validateTunnelLocked(w *world.World, project, region string, t *compute.VpnTunnel) *apiError {
	if aerr := checkName("resource.name", t.Name); aerr != nil {
		return aerr
	}
	if t.SharedSecret == "" {
		return errRequired("resource.sharedSecret")
	}
	if t.TargetVpnGateway == "" && t.VpnGateway == "" {
		return errInvalid("Invalid value for field 'resource': ''. One of targetVpnGateway or vpnGateway must be specified.")
	}
	if t.PeerIp != "" {
		if _, err := netip.ParseAddr(t.PeerIp); err != nil {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.peerIp': '%s'. Must be an IP address.", t.PeerIp))
		}
	} else if t.PeerExternalGateway == "" && t.PeerGcpGateway == "" {
		return errRequired("resource.peerIp")
	}
	if t.IkeVersion != 0 && t.IkeVersion != 1 && t.IkeVersion != 2 {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.ikeVersion': '%d'. Must be 1 or 2.", t.IkeVersion))
	}
	if tt := (target{project, region, t.Name}); vpnTunnels.takenLocked(w, tt) {
		return errAlreadyExists(vpnTunnels.path(tt))
	}
	return nil
}

// buildTunnelLocked fills a tunnel's output fields. Compute docs (VpnTunnel): ikeVersion
// "Acceptable IKE versions are 1 or 2. The default version is 2"; sharedSecret is input only,
// the API shows sharedSecretHash.
func buildTunnelLocked(w *world.World, project, region string, in *compute.VpnTunnel) *compute.VpnTunnel {
	t := clone(in)
	t.Kind = "compute#vpnTunnel"
	t.Id = w.NextIDLocked()
	t.CreationTimestamp = timestamp(w.Now())
	t.SelfLink = linkBase + regionalPath(project, region, "vpnTunnels", t.Name)
	t.Region = regionLink(project, region)
	if t.IkeVersion == 0 {
		t.IkeVersion = 2
	}
	t.SharedSecretHash = randomFingerprint()
	t.SharedSecret = ""
	t.Status = "ESTABLISHED"
	t.DetailedStatus = "Tunnel is up and running."
	t.LabelFingerprint = emptyLabelFingerprint
	t.Params = nil
	return t
}

// PutVpnTunnelLocked validates a VPN tunnel like vpnTunnels.insert and stores it at once.
func PutVpnTunnelLocked(w *world.World, project, region string, t *compute.VpnTunnel) (*compute.VpnTunnel, error) {
	if t == nil {
		return nil, errors.New("computeapi: put VPN tunnel: nil tunnel")
	}
	if !world.IsRegion(region) {
		return nil, fmt.Errorf("put VPN tunnel %s: %w", t.Name, errUnknownRegion(region))
	}
	if aerr := validateTunnelLocked(w, project, region, t); aerr != nil {
		return nil, fmt.Errorf("put VPN tunnel %s: %w", t.Name, aerr)
	}
	built := buildTunnelLocked(w, project, region, t)
	w.S.Net.VpnTunnels[world.RegionalKey(project, region, built.Name)] = built
	w.MarkChangedLocked()
	return clone(built), nil
}

func (s *server) vpnTunnelsInsert(r *http.Request, p params) (any, *apiError) {
	var in compute.VpnTunnel
	return s.mutate(r, p, &in, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project, region := p["project"], p["region"]
		if aerr := validateTunnelLocked(s.w, project, region, &in); aerr != nil {
			return nil, aerr
		}
		t := buildTunnelLocked(s.w, project, region, &in)
		return vpnTunnels.insertLocked(s.w, p.target(t.Name), rid, t, t.Id, flight{}, nil), nil
	})
}

func (s *server) vpnTunnelsGet(r *http.Request, p params) (any, *apiError) {
	return vpnTunnels.get(s.w, p, func(t *compute.VpnTunnel) any { return clone(t) })
}

func (s *server) vpnTunnelsList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#vpnTunnel", "vpnTunnels", func(w *world.World, project, region string) []listItem {
		return vpnTunnels.itemsLocked(w, project, region, func(t *compute.VpnTunnel) listItem {
			return toItem(clone(t), t.Name, t.CreationTimestamp)
		})
	})
}

// vpnTunnelsDelete refuses while a static route uses the tunnel as its next hop.
func (s *server) vpnTunnelsDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		cur, aerr := vpnTunnels.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		for _, k := range world.SortedKeys(s.w.S.Net.Routes) {
			if rt := s.w.S.Net.Routes[k]; rt.NextHopVpnTunnel == cur.SelfLink {
				return nil, errInUse("vpnTunnel", vpnTunnels.path(t), globalPath(t.project, "routes", rt.Name))
			}
		}
		return vpnTunnels.deleteLocked(s.w, t, rid, cur.Id, nil), nil
	})
}

func init() {
	routes = append(routes,
		route{"POST", "projects/{project}/global/routes", "compute.routes.insert", (*server).routesInsert},
		route{"DELETE", "projects/{project}/global/routes/{name}", "compute.routes.delete", (*server).routesDelete},
		route{"GET", "projects/{project}/regions/{region}/vpnTunnels", "compute.vpnTunnels.list", (*server).vpnTunnelsList},
		route{"POST", "projects/{project}/regions/{region}/vpnTunnels", "compute.vpnTunnels.insert", (*server).vpnTunnelsInsert},
		route{"GET", "projects/{project}/regions/{region}/vpnTunnels/{name}", "compute.vpnTunnels.get", (*server).vpnTunnelsGet},
		route{"DELETE", "projects/{project}/regions/{region}/vpnTunnels/{name}", "compute.vpnTunnels.delete", (*server).vpnTunnelsDelete},
	)
}
