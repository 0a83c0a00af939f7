package computeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Cloud NAT defaults, as the real API returns them (realapi/compute/router-nat-basic-crud.http.log).
const (
	defaultNatNetworkTier  = "PREMIUM"
	defaultNatType         = "PUBLIC"
	defaultNatEndpointType = "ENDPOINT_TYPE_VM"
	// defaultTCPTimeWaitSec is the effective TIME_WAIT timeout when none is set (Compute docs,
	// RouterNat.tcpTimeWaitTimeoutSec: "Defaults to 120s if not set").
	defaultTCPTimeWaitSec = 120
)

var (
	natIPAllocateOptions = []string{"AUTO_ONLY", "MANUAL_ONLY"}
	natSourceRanges      = []string{"ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES", "LIST_OF_SUBNETWORKS"}
)

var routers = &collection[compute.Router]{
	name:  "routers",
	items: func(s *world.State) map[string]*compute.Router { return s.Routers },
}

func routerPath(project, region, name string) string {
	return regionalPath(project, region, "routers", name)
}

// validateNatsLocked checks a router's Cloud NAT gateways.
func validateNatsLocked(w *world.World, project, region, network, router string, nats []*compute.RouterNat) *apiError {
	names := map[string]bool{}
	for i, n := range nats {
		field := fmt.Sprintf("resource.nats[%d]", i)
		if n == nil {
			return errRequired(field)
		}
		if aerr := checkName(field+".name", n.Name); aerr != nil {
			return aerr
		}
		if names[n.Name] {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.name': '%s'. NAT names must be unique within a router.", field, n.Name))
		}
		names[n.Name] = true
		if n.NatIpAllocateOption == "" {
			return errRequired(field + ".natIpAllocateOption")
		}
		if aerr := checkEnum(field+".natIpAllocateOption", n.NatIpAllocateOption, natIPAllocateOptions...); aerr != nil {
			return aerr
		}
		if n.SourceSubnetworkIpRangesToNat == "" {
			return errRequired(field + ".sourceSubnetworkIpRangesToNat")
		}
		if aerr := checkEnum(field+".sourceSubnetworkIpRangesToNat", n.SourceSubnetworkIpRangesToNat, natSourceRanges...); aerr != nil {
			return aerr
		}
		if aerr := checkEnum(field+".type", n.Type, "PUBLIC", "PRIVATE"); aerr != nil {
			return aerr
		}
		switch {
		case n.NatIpAllocateOption == "MANUAL_ONLY" && len(n.NatIps) == 0:
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.natIps': ''. NAT IPs must be given when natIpAllocateOption is MANUAL_ONLY.", field))
		case n.NatIpAllocateOption == "AUTO_ONLY" && len(n.NatIps) > 0:
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.natIps': '%s'. NAT IPs cannot be given when natIpAllocateOption is AUTO_ONLY.", field, n.NatIps[0]))
		}
		if n.SourceSubnetworkIpRangesToNat == "LIST_OF_SUBNETWORKS" && len(n.Subnetworks) == 0 {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.subnetworks': ''. Subnetworks must be listed when sourceSubnetworkIpRangesToNat is LIST_OF_SUBNETWORKS.", field))
		}
		for j, sub := range n.Subnetworks {
			sf := fmt.Sprintf("%s.subnetworks[%d].name", field, j)
			if sub == nil {
				return errRequired(sf)
			}
			proj, reg, name, ok := regionalRef(sub.Name, project, region, "subnetworks")
			if !ok || proj != project || reg != region {
				return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. The subnetwork must be in the router's project and region.", sf, sub.Name))
			}
			sn, ok := w.S.Subnetworks[world.RegionalKey(project, region, name)]
			if !ok {
				return errNotFound(subnetPath(project, region, name))
			}
			if world.NetworkName(sn.Network) != network {
				return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. The subnetwork is not in the router's network.", sf, sub.Name))
			}
		}
		if aerr := validateNatMoreLocked(w, project, region, network, router, field, n); aerr != nil { // nat.go
			return aerr
		}
	}
	return nil
}

// normalizeNats fills the NAT fields the real API adds (realapi/compute/router-nat-basic-crud.http.log).
func normalizeNats(project, region string, nats []*compute.RouterNat) []*compute.RouterNat {
	out := make([]*compute.RouterNat, 0, len(nats))
	for _, in := range nats {
		n := clone(in)
		if n.AutoNetworkTier == "" {
			n.AutoNetworkTier = defaultNatNetworkTier
		}
		if n.Type == "" {
			n.Type = defaultNatType
		}
		if len(n.EndpointTypes) == 0 {
			n.EndpointTypes = []string{defaultNatEndpointType}
		}
		n.EffectiveTcpTimeWaitTimeoutSec = n.TcpTimeWaitTimeoutSec
		if n.EffectiveTcpTimeWaitTimeoutSec == 0 {
			n.EffectiveTcpTimeWaitTimeoutSec = defaultTCPTimeWaitSec
		}
		n.NatIps, n.DrainNatIps = normalizeNatIPs(project, region, n.NatIps), normalizeNatIPs(project, region, n.DrainNatIps)
		for _, sub := range n.Subnetworks {
			if _, _, name, ok := regionalRef(sub.Name, project, region, "subnetworks"); ok {
				sub.Name = linkBase + subnetPath(project, region, name)
			}
		}
		out = append(out, n)
	}
	return out
}

// validateRouterLocked checks a router to insert and returns its network's name.
func validateRouterLocked(w *world.World, project, region string, rt *compute.Router) (string, *apiError) {
	if aerr := checkName("resource.name", rt.Name); aerr != nil {
		return "", aerr
	}
	if rt.Region != "" {
		if reg, ok := regionRef(rt.Region); !ok || reg != region {
			return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.region': '%s'. It does not match the region '%s' of the request.", rt.Region, region))
		}
	}
	network, aerr := networkRefLocked(w, project, rt.Network, "resource.network")
	if aerr != nil {
		return "", aerr
	}
	if aerr := validateNatsLocked(w, project, region, network, rt.Name, rt.Nats); aerr != nil {
		return "", aerr
	}
	if t := (target{project, region, rt.Name}); routers.takenLocked(w, t) {
		return "", errAlreadyExists(routers.path(t))
	}
	return network, nil
}

func buildRouterLocked(w *world.World, project, region, network string, in *compute.Router) *compute.Router {
	rt := clone(in)
	rt.Kind = "compute#router"
	rt.Id = w.NextIDLocked()
	rt.CreationTimestamp = timestamp(w.Now())
	rt.SelfLink = linkBase + routerPath(project, region, rt.Name)
	rt.Network = linkBase + networkPath(project, network)
	rt.Region = regionLink(project, region)
	rt.Nats = normalizeNats(project, region, rt.Nats)
	rt.Params = nil
	return rt
}

func renderRouter(rt *compute.Router) *compute.Router {
	c := clone(rt)
	c.ForceSendFields = []string{"EncryptedInterconnectRouter"}
	return c
}

// PutRouterLocked validates a router like routers.insert, fills every output field as the
// completed insert would and stores it at once, without an operation. The lock must be held.
func PutRouterLocked(w *world.World, project, region string, rt *compute.Router) (*compute.Router, error) {
	if rt == nil {
		return nil, errors.New("computeapi: put router: nil router")
	}
	if !world.IsRegion(region) {
		return nil, fmt.Errorf("put router %s: %w", rt.Name, errUnknownRegion(region))
	}
	network, aerr := validateRouterLocked(w, project, region, rt)
	if aerr != nil {
		return nil, fmt.Errorf("put router %s: %w", rt.Name, aerr)
	}
	built := buildRouterLocked(w, project, region, network, rt)
	w.S.Routers[world.RegionalKey(project, region, built.Name)] = built
	w.MarkChangedLocked()
	return renderRouter(built), nil
}

func (s *server) routersInsert(r *http.Request, p params) (any, *apiError) {
	var in compute.Router
	return s.mutate(r, p, &in, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project, region := p["project"], p["region"]
		network, aerr := validateRouterLocked(s.w, project, region, &in)
		if aerr != nil {
			return nil, aerr
		}
		rt := buildRouterLocked(s.w, project, region, network, &in)
		return routers.insertLocked(s.w, p.target(rt.Name), rid, rt, rt.Id, flight{network: project + "/" + network}, nil), nil
	})
}

func (s *server) routersGet(r *http.Request, p params) (any, *apiError) {
	return routers.get(s.w, p, func(rt *compute.Router) any { return renderRouter(rt) })
}

func routerItemsLocked(w *world.World, project, region string) []listItem {
	return routers.itemsLocked(w, project, region, func(rt *compute.Router) listItem {
		return toItem(renderRouter(rt), rt.Name, rt.CreationTimestamp)
	})
}

func (s *server) routersList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#router", "routers", routerItemsLocked)
}

func (s *server) routersAggregated(r *http.Request, p params) (any, *apiError) {
	return s.aggregated(r, p, "compute#router", "routers", routerItemsLocked)
}

// routersPatch applies a JSON merge patch (Compute docs, routers.patch): a NAT is added,
// changed or removed by sending the whole new nats list; a body without nats leaves them as
// they are (realapi/compute/router-nat-basic-crud.http.log). The operation type is "patch".
func (s *server) routersPatch(r *http.Request, p params) (any, *apiError) {
	var patch compute.Router
	return s.mutate(r, p, &patch, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		return routerPatchLocked(s.w, p.target(p["name"]), rid, &patch, present)
	})
}

func routerPatchLocked(w *world.World, t target, rid string, patch *compute.Router, present map[string]json.RawMessage) (any, *apiError) {
	project, region := t.project, t.region
	cur, aerr := routers.currentLocked(w, t)
	if aerr != nil {
		return nil, aerr
	}
	u := clone(cur)
	network := world.NetworkName(cur.Network)
	for _, k := range sortedKeys(present) {
		switch k {
		case "description":
			u.Description = patch.Description
		case "nats":
			if aerr := validateNatsLocked(w, project, region, network, cur.Name, patch.Nats); aerr != nil {
				return nil, aerr
			}
			u.Nats = normalizeNats(project, region, patch.Nats)
		case "bgp":
			u.Bgp = patch.Bgp
		case "bgpPeers":
			u.BgpPeers = patch.BgpPeers
		case "interfaces":
			u.Interfaces = patch.Interfaces
		case "md5AuthenticationKeys":
			u.Md5AuthenticationKeys = patch.Md5AuthenticationKeys
		case "encryptedInterconnectRouter":
			if patch.EncryptedInterconnectRouter != cur.EncryptedInterconnectRouter {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.encryptedInterconnectRouter': '%t'. The field can only be set when the router is created.", patch.EncryptedInterconnectRouter))
			}
		case "name":
			if patch.Name != cur.Name {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.name': '%s'. A router cannot be renamed.", patch.Name))
			}
		case "network":
			if _, n, ok := globalRef(patch.Network, project, "networks"); !ok || n != network {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.network': '%s'. The network of a router cannot be changed.", patch.Network))
			}
		case "region":
			if reg, ok := regionRef(patch.Region); !ok || reg != region {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.region': '%s'. The region of a router cannot be changed.", patch.Region))
			}
		}
		// Output-only fields copied from a GET are ignored.
	}
	return routers.replaceLocked(w, t, "patch", rid, cur.Id, flight{}, u), nil
}

func (s *server) routersDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		cur, aerr := routers.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		return routers.deleteLocked(s.w, t, rid, cur.Id, nil), nil
	})
}
