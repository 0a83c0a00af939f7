package computeapi

import (
	"fmt"
	"math/bits"
	"net/http"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Cloud NAT beyond the fields routers.go checks: manual NAT IPs (static external addresses of
// the router's region), port allocation (minPortsPerVm, maxPortsPerVm, dynamic port
// allocation), the ranges of listed subnetworks, one gateway per subnet, and the router's
// status (routers.getRouterStatus: natStatus with the addresses in use).

// Port allocation bounds. Compute docs (RouterNat): minPortsPerVm "If not set, a default
// number of ports is allocated to a VM. This is rounded up to the nearest power of 2";
// enableDynamicPortAllocation "If set to true, enableEndpointIndependentMapping cannot be set
// to true. If minPorts is set, minPortsPerVm must be set to a power of two greater than or
// equal to 32"; maxPortsPerVm "If Dynamic Port Allocation is not enabled, this field has no
// effect. If Dynamic Port Allocation is enabled, and this field is set, it must be set to a
// power of two greater than minPortsPerVm, or 64 if minPortsPerVm is not set". Cloud NAT docs
// ("Ports"): a VM gets between 2 and 65,536 ports.
const (
	minPortsFloor = 2
	portsCeiling  = 65536
	dpaMinPorts   = 32
)

var subnetRangesToNat = []string{"ALL_IP_RANGES", "LIST_OF_SECONDARY_IP_RANGES", "PRIMARY_IP_RANGE"}

func isPow2(v int64) bool { return v > 0 && bits.OnesCount64(uint64(v)) == 1 }

// validateNatMoreLocked checks a NAT gateway's addresses, ports and subnetwork ranges, and
// that no other gateway of the network in the region serves the same subnets. field is
// "resource.nats[i]"; router names the router the gateway belongs to.
func validateNatMoreLocked(w *world.World, project, region, network, router, field string, n *compute.RouterNat) *apiError {
	for j, ref := range n.NatIps {
		f := fmt.Sprintf("%s.natIps[%d]", field, j)
		proj, reg, name, ok := regionalRef(ref, project, region, "addresses")
		if !ok {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. The URL is malformed.", f, ref))
		}
		if proj != project || reg != region {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. A NAT IP must be an address of the router's project and region.", f, ref))
		}
		a, exists := w.S.Addresses[world.RegionalKey(proj, reg, name)]
		if !exists {
			return errNotFound(addressPath(proj, reg, name))
		}
		if a.AddressType != "" && a.AddressType != "EXTERNAL" {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. A NAT IP must be a static external address.", f, ref))
		}
		if user := natUserLocked(w, proj, reg, name, router); user != "" {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. The address is already used by the NAT gateway of router '%s'.", f, ref, user))
		}
	}
	if n.MinPortsPerVm != 0 && (n.MinPortsPerVm < minPortsFloor || n.MinPortsPerVm > portsCeiling) {
		return errInvalid(fmt.Sprintf("Invalid value for field '%s.minPortsPerVm': '%d'. Must be between %d and %d.", field, n.MinPortsPerVm, minPortsFloor, portsCeiling))
	}
	if n.EnableDynamicPortAllocation {
		if n.EnableEndpointIndependentMapping {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.enableEndpointIndependentMapping': 'true'. Endpoint-independent mapping cannot be enabled with dynamic port allocation.", field))
		}
		if n.MinPortsPerVm != 0 && (!isPow2(n.MinPortsPerVm) || n.MinPortsPerVm < dpaMinPorts) {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.minPortsPerVm': '%d'. With dynamic port allocation it must be a power of two of at least %d.", field, n.MinPortsPerVm, dpaMinPorts))
		}
		floor := n.MinPortsPerVm
		if floor == 0 {
			floor = 64
		}
		if n.MaxPortsPerVm != 0 && (!isPow2(n.MaxPortsPerVm) || n.MaxPortsPerVm <= floor || n.MaxPortsPerVm > portsCeiling) {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.maxPortsPerVm': '%d'. It must be a power of two greater than %d and at most %d.", field, n.MaxPortsPerVm, floor, portsCeiling))
		}
	} else if n.MaxPortsPerVm != 0 {
		return errInvalid(fmt.Sprintf("Invalid value for field '%s.maxPortsPerVm': '%d'. It can only be set with dynamic port allocation.", field, n.MaxPortsPerVm))
	}
	for j, s := range n.Subnetworks {
		for k, v := range s.SourceIpRangesToNat {
			if aerr := checkEnum(fmt.Sprintf("%s.subnetworks[%d].sourceIpRangesToNat[%d]", field, j, k), v, subnetRangesToNat...); aerr != nil {
				return aerr
			}
		}
	}
	// One gateway per subnet: Cloud NAT docs ("NAT rules and subnets"): a subnet's ranges can
	// be served by only one gateway, and a gateway for all subnets takes every subnet of the
	// region in the network.
	for _, k := range world.SortedKeys(w.S.Routers) {
		rt := w.S.Routers[k]
		if rt.Name == router || k != world.RegionalKey(project, region, rt.Name) || world.NetworkName(rt.Network) != network {
			continue
		}
		for _, other := range rt.Nats {
			if natsOverlap(n, other) {
				return errInvalid(fmt.Sprintf("Invalid value for field '%s.sourceSubnetworkIpRangesToNat': '%s'. The NAT gateway '%s' of router '%s' already serves these subnetworks in region '%s'.",
					field, n.SourceSubnetworkIpRangesToNat, other.Name, rt.Name, region))
			}
		}
	}
	return nil
}

func natsOverlap(a, b *compute.RouterNat) bool {
	if b.Type == "PRIVATE" || a.Type == "PRIVATE" {
		return false
	}
	if a.SourceSubnetworkIpRangesToNat != "LIST_OF_SUBNETWORKS" || b.SourceSubnetworkIpRangesToNat != "LIST_OF_SUBNETWORKS" {
		return true
	}
	for _, x := range a.Subnetworks {
		for _, y := range b.Subnetworks {
			if world.NetworkName(x.Name) == world.NetworkName(y.Name) {
				return true
			}
		}
	}
	return false
}

// natUserLocked returns the name of a router (other than skip) whose NAT gateway uses the
// address, or "".
func natUserLocked(w *world.World, project, region, address, skip string) string {
	for _, k := range world.SortedKeys(w.S.Routers) {
		rt := w.S.Routers[k]
		if rt.Name == skip || k != world.RegionalKey(project, region, rt.Name) {
			continue
		}
		for _, n := range rt.Nats {
			for _, ref := range append(append([]string(nil), n.NatIps...), n.DrainNatIps...) {
				if proj, reg, name, ok := regionalRef(ref, project, region, "addresses"); ok && proj == project && reg == region && name == address {
					return rt.Name
				}
			}
		}
	}
	return ""
}

// withNatUsersLocked shows an address a NAT gateway uses as IN_USE by its router, as the
// real API lists users of a NAT IP.
func withNatUsersLocked(w *world.World, project, region string, a *compute.Address) *compute.Address {
	if a == nil || a.AddressType != "EXTERNAL" {
		return a
	}
	if r := natUserLocked(w, project, region, a.Name, ""); r != "" {
		a.Status = "IN_USE"
		a.Users = []string{linkBase + routerPath(project, region, r)}
	}
	return a
}

// normalizeNatIPs writes manual NAT IPs as full URLs, as the API returns them.
func normalizeNatIPs(project, region string, refs []string) []string {
	var out []string
	for _, ref := range refs {
		if proj, reg, name, ok := regionalRef(ref, project, region, "addresses"); ok {
			ref = linkBase + addressPath(proj, reg, name)
		}
		out = append(out, ref)
	}
	return out
}

// routersGetStatus serves routers.getRouterStatus: for each NAT gateway, the addresses it
// uses (userAllocatedNatIps for manual ones, autoAllocatedNatIps for AUTO_ONLY), how many
// VM endpoints it maps (Direct VPC instances and connector VMs in the subnets it serves) and
// how many more addresses those need (minExtraNatIpsNeeded: each address gives 64,512 ports,
// each VM minPortsPerVm of them, rounded up to a power of two).
func (s *server) routersGetStatus(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	t := p.target(p["name"])
	rt, aerr := routers.getLocked(s.w, t)
	if aerr != nil {
		return nil, aerr
	}
	key := t.key()
	res := &compute.RouterStatus{Network: rt.Network}
	for _, n := range rt.Nats {
		st := &compute.RouterStatusNatStatus{Name: n.Name}
		vms := s.w.NatVMsLocked(key, n)
		st.NumVmEndpointsWithNatMappings = int64(vms)
		ips := s.w.NatIPsLocked(key, n)
		if n.NatIpAllocateOption == "MANUAL_ONLY" {
			st.UserAllocatedNatIps = ips
			st.UserAllocatedNatIpResources = normalizeNatIPs(t.project, t.region, n.NatIps)
			ports := roundPow2(world.MinPortsPerVM(n))
			need := (int64(vms)*ports + world.PortsPerNatIP - 1) / world.PortsPerNatIP
			if extra := need - int64(len(ips)); extra > 0 {
				st.MinExtraNatIpsNeeded = extra
			}
		} else {
			st.AutoAllocatedNatIps = ips
		}
		st.ForceSendFields = []string{"NumVmEndpointsWithNatMappings", "MinExtraNatIpsNeeded"}
		res.NatStatus = append(res.NatStatus, st)
	}
	return &compute.RouterStatusResponse{Kind: "compute#routerStatusResponse", Result: res}, nil
}

func roundPow2(v int64) int64 {
	p := int64(1)
	for p < v {
		p <<= 1
	}
	return p
}

func init() {
	routes = append(routes,
		route{"GET", "projects/{project}/regions/{region}/routers/{name}/getRouterStatus", "compute.routers.getRouterStatus", (*server).routersGetStatus},
	)
}
