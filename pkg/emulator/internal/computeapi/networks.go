package computeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Network defaults, as the real API returns them (realapi/compute/network-basic-crud-patch.http.log).
const (
	defaultRoutingMode      = "REGIONAL"
	defaultBGPBestPathMode  = "LEGACY"
	defaultFirewallPolicyEO = "AFTER_CLASSIC_FIREWALL"
	// mtuMin and mtuMax bound a network's MTU (Compute docs, Network.mtu: "The minimum value
	// for this field is 1300 and the maximum value is 8896").
	mtuMin = 1300
	mtuMax = 8896
)

var networks = &collection[compute.Network]{
	name:  "networks",
	items: func(s *world.State) map[string]*compute.Network { return s.Networks },
	store: func(w *world.World, t target, n *compute.Network) { storeNetworkLocked(w, t.project, n) },
}

func networkPath(project, name string) string { return globalPath(project, "networks", name) }

func checkEnum(field, v string, allowed ...string) *apiError {
	if v == "" || contains(allowed, v) {
		return nil
	}
	return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. Must be one of [%s].", field, v, strings.Join(allowed, ", ")))
}

// validateNetworkLocked checks a network to insert. autoSet says whether autoCreateSubnetworks
// was given: without it the real API would make a legacy network, which the emulator refuses.
func validateNetworkLocked(w *world.World, project string, n *compute.Network, autoSet bool) *apiError {
	if aerr := checkName("resource.name", n.Name); aerr != nil {
		return aerr
	}
	if n.IPv4Range != "" {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.IPv4Range': '%s'. Legacy networks are not supported: create a VPC network by setting autoCreateSubnetworks.", n.IPv4Range))
	}
	if !autoSet {
		return errInvalid("Invalid value for field 'resource.autoCreateSubnetworks': ''. Legacy networks are not supported: set autoCreateSubnetworks to true (auto mode) or false (custom mode).")
	}
	if aerr := validateNetworkFields(n); aerr != nil {
		return aerr
	}
	if t := (target{project: project, name: n.Name}); networks.takenLocked(w, t) {
		return errAlreadyExists(networks.path(t))
	}
	return nil
}

func validateNetworkFields(n *compute.Network) *apiError {
	if rc := n.RoutingConfig; rc != nil {
		if aerr := checkEnum("resource.routingConfig.routingMode", rc.RoutingMode, "GLOBAL", "REGIONAL"); aerr != nil {
			return aerr
		}
		if aerr := checkEnum("resource.routingConfig.bgpBestPathSelectionMode", rc.BgpBestPathSelectionMode, "LEGACY", "STANDARD"); aerr != nil {
			return aerr
		}
	}
	if aerr := checkEnum("resource.networkFirewallPolicyEnforcementOrder", n.NetworkFirewallPolicyEnforcementOrder, "AFTER_CLASSIC_FIREWALL", "BEFORE_CLASSIC_FIREWALL"); aerr != nil {
		return aerr
	}
	if n.Mtu != 0 && (n.Mtu < mtuMin || n.Mtu > mtuMax) {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.mtu': '%d'. Must be between %d and %d.", n.Mtu, mtuMin, mtuMax))
	}
	return nil
}

// buildNetworkLocked fills the output fields of a network to insert, with a new id.
func buildNetworkLocked(w *world.World, project string, in *compute.Network) *compute.Network {
	n := clone(in)
	id := w.NextIDLocked()
	n.Kind = "compute#network"
	n.Id = id
	n.CreationTimestamp = timestamp(w.Now())
	n.SelfLink = linkBase + networkPath(project, n.Name)
	n.SelfLinkWithId = linkBase + globalPath(project, "networks", strconv.FormatUint(id, 10))
	if n.RoutingConfig == nil {
		n.RoutingConfig = &compute.NetworkRoutingConfig{}
	}
	if n.RoutingConfig.RoutingMode == "" {
		n.RoutingConfig.RoutingMode = defaultRoutingMode
	}
	if n.RoutingConfig.BgpBestPathSelectionMode == "" {
		n.RoutingConfig.BgpBestPathSelectionMode = defaultBGPBestPathMode
	}
	if n.NetworkFirewallPolicyEnforcementOrder == "" {
		n.NetworkFirewallPolicyEnforcementOrder = defaultFirewallPolicyEO
	}
	if n.NetworkProfile != "" {
		if seg := refSegments(n.NetworkProfile); len(seg) == 5 && seg[0] == "projects" {
			n.NetworkProfile = linkBase + strings.Join(seg, "/")
		}
	}
	if n.EnableUlaInternalIpv6 && n.InternalIpv6Range == "" {
		n.InternalIpv6Range = ulaRange()
	}
	// Output-only fields a caller may have copied from a GET are not taken over.
	n.Subnetworks, n.Peerings, n.GatewayIPv4, n.FirewallPolicy, n.Params, n.AdditionalTags = nil, nil, "", "", nil, nil
	return n
}

// ulaRange picks a /48 from Google's ULA prefix fd20::/20, written as the real API writes it
// (realapi/compute/network-basic-crud-patch.http.log: "fd20:eb5:88a:0:0:0:0:0/48").
func ulaRange() string {
	return fmt.Sprintf("fd20:%x:%x:0:0:0:0:0/48", rand32()&0xfff, rand32()&0xffff)
}

// storeNetworkLocked stores a built network and, in auto mode, its subnetwork in every region.
func storeNetworkLocked(w *world.World, project string, n *compute.Network) {
	w.S.Networks[world.GlobalKey(project, n.Name)] = n
	if n.AutoCreateSubnetworks {
		for _, region := range world.RegionNames() {
			key := world.RegionalKey(project, region, n.Name)
			if _, ok := w.S.Subnetworks[key]; ok {
				continue
			}
			w.S.Subnetworks[key] = buildSubnetworkLocked(w, project, region, n.Name, &compute.Subnetwork{
				Name: n.Name, IpCidrRange: world.Regions[region],
			})
		}
	}
	w.MarkChangedLocked()
}

// isAutoSubnet reports whether sn is one an auto-mode network made: it has the network's name
// and the region's auto-mode range, and goes away with the network.
func isAutoSubnet(n *compute.Network, sn *compute.Subnetwork) bool {
	return n != nil && n.AutoCreateSubnetworks && sn.Name == n.Name &&
		sn.IpCidrRange == world.Regions[world.NetworkName(sn.Region)]
}

func renderNetworkLocked(w *world.World, project string, n *compute.Network) *compute.Network {
	c := clone(n)
	c.Subnetworks = subnetLinksLocked(w, project, n.Name)
	c.ForceSendFields = []string{"AutoCreateSubnetworks"}
	return c
}

// subnetLinksLocked returns the self links of the network's subnetworks, by region and name.
func subnetLinksLocked(w *world.World, project, network string) []string {
	var out []string
	for _, k := range world.SortedKeys(w.S.Subnetworks) {
		if sn := w.S.Subnetworks[k]; strings.HasPrefix(k, project+"/") && world.NetworkName(sn.Network) == network {
			out = append(out, sn.SelfLink)
		}
	}
	return out
}

// networkRefLocked resolves the network a resource of project refers to; field names the
// reference in errors.
func networkRefLocked(w *world.World, project, ref, field string) (string, *apiError) {
	if ref == "" {
		return "", errRequired(field)
	}
	proj, name, ok := globalRef(ref, project, "networks")
	if !ok {
		return "", errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. The URL is malformed.", field, ref))
	}
	if proj != project {
		return "", errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. Cross-project references for this resource are not allowed.", field, ref))
	}
	t := target{project: project, name: name}
	if f := networks.flightLocked(w, t); f != nil && f.insert {
		return "", errNotReady(networks.path(t))
	}
	if _, aerr := networks.getLocked(w, t); aerr != nil {
		return "", aerr
	}
	if f := networks.flightLocked(w, t); f != nil && f.deleteOp {
		return "", errNotReady(networks.path(t))
	}
	return name, nil
}

// networkUserLocked returns the path of a resource that keeps the network from being deleted,
// or "". Subnetworks an auto-mode network made go with it unless something uses them.
func networkUserLocked(w *world.World, project, name string) string {
	n := w.S.Networks[world.GlobalKey(project, name)]
	for _, k := range world.SortedKeys(w.S.Subnetworks) {
		sn := w.S.Subnetworks[k]
		if !strings.HasPrefix(k, project+"/") || world.NetworkName(sn.Network) != name {
			continue
		}
		region := world.NetworkName(sn.Region)
		if isAutoSubnet(n, sn) && subnetUserLocked(w, project, region, sn.Name) == "" {
			continue
		}
		return regionalPath(project, region, "subnetworks", sn.Name)
	}
	for _, k := range world.SortedKeys(w.S.Firewalls) {
		if fw := w.S.Firewalls[k]; strings.HasPrefix(k, project+"/") && world.NetworkName(fw.Network) == name {
			return globalPath(project, "firewalls", fw.Name)
		}
	}
	for _, k := range world.SortedKeys(w.S.Routers) {
		if rt := w.S.Routers[k]; strings.HasPrefix(k, project+"/") && world.NetworkName(rt.Network) == name {
			return regionalPath(project, world.NetworkName(rt.Region), "routers", rt.Name)
		}
	}
	for _, k := range world.SortedKeys(w.S.Connectors) {
		c := w.S.Connectors[k]
		parts := strings.Split(k, "/") // projects/P/locations/L/connectors/C
		if len(parts) == 6 && parts[1] == project && c.GetIpCidrRange() != "" && world.NetworkName(c.GetNetwork()) == name {
			return connectorInstancePath(parts[1], parts[3], parts[5])
		}
	}
	for _, f := range flightsLocked(w) {
		if f.insert && f.network == project+"/"+name {
			return f.path
		}
	}
	return ""
}

// connectorInstancePath names a VM of a Serverless VPC Access connector, which is what Compute
// reports as using a connector's network or subnetwork. The real VMs are named
// aet-<region without dashes>-<connector>-<4 characters>; the zone and suffix are modelled.
func connectorInstancePath(project, region, connector string) string {
	suffix := strconv.FormatUint(stableID(project, region, connector), 36)
	return fmt.Sprintf("projects/%s/zones/%s-b/instances/aet-%s-%s-%s",
		project, region, strings.ReplaceAll(region, "-", ""), connector, suffix[len(suffix)-4:])
}

// PutNetworkLocked validates a network like networks.insert, fills every output field as the
// completed insert would (and, in auto mode, makes its subnetworks) and stores it at once,
// without an operation. AutoCreateSubnetworks false means custom mode. The lock must be held.
func PutNetworkLocked(w *world.World, project string, n *compute.Network) (*compute.Network, error) {
	if n == nil {
		return nil, errors.New("computeapi: put network: nil network")
	}
	if aerr := validateNetworkLocked(w, project, n, true); aerr != nil {
		return nil, fmt.Errorf("put network %s: %w", n.Name, aerr)
	}
	built := buildNetworkLocked(w, project, n)
	storeNetworkLocked(w, project, built)
	return renderNetworkLocked(w, project, built), nil
}

func (s *server) networksInsert(r *http.Request, p params) (any, *apiError) {
	var n compute.Network
	return s.mutate(r, p, &n, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		project := p["project"]
		_, autoSet := present["autoCreateSubnetworks"]
		if aerr := validateNetworkLocked(s.w, project, &n, autoSet); aerr != nil {
			return nil, aerr
		}
		built := buildNetworkLocked(s.w, project, &n)
		return networks.insertLocked(s.w, p.target(n.Name), rid, built, built.Id, flight{}, nil), nil
	})
}

func (s *server) networksGet(r *http.Request, p params) (any, *apiError) {
	return networks.get(s.w, p, func(n *compute.Network) any { return renderNetworkLocked(s.w, p["project"], n) })
}

func networkItemsLocked(w *world.World, project, region string) []listItem {
	return networks.itemsLocked(w, project, region, func(n *compute.Network) listItem {
		return toItem(renderNetworkLocked(w, project, n), n.Name, n.CreationTimestamp)
	})
}

func (s *server) networksList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#network", "networks", networkItemsLocked)
}

// networksPatch applies a JSON merge patch. The real API lets routingConfig, the firewall
// policy enforcement order, ULA IPv6, MTU and the description change; the operation type is
// "updateNetwork" for IPv6 changes (realapi/compute/network-basic-crud-patch.http.log) and
// "compute.networks.patch" otherwise (realapi/vpcaccess/connector-cidr-crud-2024-terraform.http.log).
func (s *server) networksPatch(r *http.Request, p params) (any, *apiError) {
	var patch compute.Network
	return s.mutate(r, p, &patch, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		return networkPatchLocked(s.w, p.target(p["name"]), rid, &patch, present)
	})
}

func networkPatchLocked(w *world.World, t target, rid string, patch *compute.Network, present map[string]json.RawMessage) (any, *apiError) {
	cur, aerr := networks.currentLocked(w, t)
	if aerr != nil {
		return nil, aerr
	}
	updated := clone(cur)
	opType := "compute.networks.patch"
	for _, k := range sortedKeys(present) {
		null := isNull(present[k])
		switch k {
		case "description":
			updated.Description = patch.Description
		case "routingConfig":
			if null || patch.RoutingConfig == nil {
				updated.RoutingConfig = &compute.NetworkRoutingConfig{RoutingMode: defaultRoutingMode, BgpBestPathSelectionMode: defaultBGPBestPathMode}
				continue
			}
			rc := patch.RoutingConfig
			if aerr := validateNetworkFields(&compute.Network{RoutingConfig: rc}); aerr != nil {
				return nil, aerr
			}
			if rc.RoutingMode != "" {
				updated.RoutingConfig.RoutingMode = rc.RoutingMode
			}
			if rc.BgpBestPathSelectionMode != "" {
				updated.RoutingConfig.BgpBestPathSelectionMode = rc.BgpBestPathSelectionMode
			}
			updated.RoutingConfig.BgpAlwaysCompareMed = rc.BgpAlwaysCompareMed
			if rc.BgpInterRegionCost != "" {
				updated.RoutingConfig.BgpInterRegionCost = rc.BgpInterRegionCost
			}
		case "networkFirewallPolicyEnforcementOrder":
			if aerr := validateNetworkFields(&compute.Network{NetworkFirewallPolicyEnforcementOrder: patch.NetworkFirewallPolicyEnforcementOrder}); aerr != nil {
				return nil, aerr
			}
			updated.NetworkFirewallPolicyEnforcementOrder = patch.NetworkFirewallPolicyEnforcementOrder
			if updated.NetworkFirewallPolicyEnforcementOrder == "" {
				updated.NetworkFirewallPolicyEnforcementOrder = defaultFirewallPolicyEO
			}
		case "enableUlaInternalIpv6":
			opType = "updateNetwork"
			updated.EnableUlaInternalIpv6 = patch.EnableUlaInternalIpv6
			switch {
			case !updated.EnableUlaInternalIpv6:
				updated.InternalIpv6Range = ""
			case updated.InternalIpv6Range == "" && patch.InternalIpv6Range == "":
				updated.InternalIpv6Range = ulaRange()
			}
		case "internalIpv6Range":
			opType = "updateNetwork"
			if patch.InternalIpv6Range != "" {
				updated.InternalIpv6Range = patch.InternalIpv6Range
			}
		case "mtu":
			if aerr := validateNetworkFields(&compute.Network{Mtu: patch.Mtu}); aerr != nil {
				return nil, aerr
			}
			updated.Mtu = patch.Mtu
		case "name":
			if patch.Name != cur.Name {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.name': '%s'. A network cannot be renamed.", patch.Name))
			}
		case "autoCreateSubnetworks":
			if patch.AutoCreateSubnetworks != cur.AutoCreateSubnetworks {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.autoCreateSubnetworks': '%t'. Use networks.switchToCustomMode to turn an auto mode network into a custom mode one.", patch.AutoCreateSubnetworks))
			}
		case "IPv4Range":
			if patch.IPv4Range != "" {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.IPv4Range': '%s'. The field cannot be changed.", patch.IPv4Range))
			}
		case "networkProfile":
			if patch.NetworkProfile != "" && world.NetworkName(patch.NetworkProfile) != world.NetworkName(cur.NetworkProfile) {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.networkProfile': '%s'. The network profile can only be set when the network is created.", patch.NetworkProfile))
			}
		}
		// Output-only fields copied from a GET (id, kind, selfLink, subnetworks, ...) are ignored.
	}
	return networks.replaceLocked(w, t, opType, rid, cur.Id, flight{}, updated), nil
}

func (s *server) networksDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project, name := p["project"], p["name"]
		t := p.target(name)
		cur, aerr := networks.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		if user := networkUserLocked(s.w, project, name); user != "" {
			return nil, errInUse("network", networks.path(t), user)
		}
		return networks.deleteLocked(s.w, t, rid, cur.Id, func(n *compute.Network) *apiError {
			if user := networkUserLocked(s.w, project, name); user != "" {
				return errInUse("network", networks.path(t), user)
			}
			for k, sn := range s.w.S.Subnetworks {
				if strings.HasPrefix(k, project+"/") && world.NetworkName(sn.Network) == name && isAutoSubnet(n, sn) {
					delete(s.w.S.Subnetworks, k)
				}
			}
			return nil
		}), nil
	})
}
