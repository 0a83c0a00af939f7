package computeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

const (
	// emptyLabelFingerprint is the labelFingerprint of a resource without labels
	// (realapi/compute/network-addresses-peering-real.vcr.yaml).
	emptyLabelFingerprint = "42WmSpB8rSM="
	// serverlessPrefix starts the names of the addresses Cloud Run holds for Direct VPC egress
	// (DESIGN.md, "subnet held by Cloud Run": serverless-ipv4-<id>).
	serverlessPrefix  = "serverless-ipv4-"
	serverlessPurpose = "SERVERLESS"
	defaultInternal   = "GCE_ENDPOINT"
	defaultTier       = "PREMIUM"
)

var internalPurposes = []string{"GCE_ENDPOINT", "SHARED_LOADBALANCER_VIP", "DNS_RESOLVER"}

var addresses = &collection[compute.Address]{
	name:  "addresses",
	items: func(s *world.State) map[string]*compute.Address { return s.Addresses },
}

func addressPath(project, region, name string) string {
	return regionalPath(project, region, "addresses", name)
}

// addressSize is how many addresses a reserved address takes.
func addressSize(a *compute.Address) int64 {
	if a.PrefixLength > 0 && a.PrefixLength <= 32 {
		return 1 << (32 - a.PrefixLength)
	}
	return 1
}

// userAddressesInSubnetLocked returns the addresses callers reserved in a subnetwork, by name.
func userAddressesInSubnetLocked(w *world.World, project, region, subnet string) []*compute.Address {
	var out []*compute.Address
	prefix := project + "/" + region + "/"
	for _, k := range world.SortedKeys(w.S.Addresses) {
		if a := w.S.Addresses[k]; strings.HasPrefix(k, prefix) && a.Subnetwork != "" && world.NetworkName(a.Subnetwork) == subnet {
			out = append(out, a)
		}
	}
	return out
}

// serverlessAddressLocked shows a Direct VPC reservation block as the INTERNAL SERVERLESS
// address Compute lists for it.
func serverlessAddressLocked(w *world.World, r *world.Reservation) *compute.Address {
	p, err := netip.ParsePrefix(r.Range)
	if err != nil {
		return nil
	}
	e := extOf(w)
	seen, ok := e.seen[r.Name]
	if !ok {
		if len(e.seen) > 2*len(w.S.Reservations)+64 {
			for name := range e.seen {
				if _, held := w.S.Reservations[name]; !held {
					delete(e.seen, name)
				}
			}
		}
		seen = w.Now()
		e.seen[r.Name] = seen
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(r.Name, serverlessPrefix), 10, 64)
	if err != nil {
		id = stableID(r.Project, r.Region, r.Name)
	}
	a := &compute.Address{
		Kind: "compute#address", Id: id, Name: r.Name, CreationTimestamp: timestamp(seen),
		Address: p.Addr().String(), PrefixLength: int64(p.Bits()),
		AddressType: "INTERNAL", Purpose: serverlessPurpose, Status: "IN_USE",
		Region:      regionLink(r.Project, r.Region),
		SelfLink:    linkBase + addressPath(r.Project, r.Region, r.Name),
		Subnetwork:  linkBase + subnetPath(r.Project, r.Region, r.Subnet),
		NetworkTier: defaultTier, LabelFingerprint: emptyLabelFingerprint,
	}
	if sn, ok := w.S.Subnetworks[r.SubnetKey()]; ok {
		a.Network = sn.Network
	}
	return a
}

// addressesLocked returns every address of the project in the region, reserved by callers or
// held by Cloud Run, by name.
func addressesLocked(w *world.World, project, region string) []*compute.Address {
	var out []*compute.Address
	prefix := project + "/" + region + "/"
	for _, k := range world.SortedKeys(w.S.Addresses) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, withNatUsersLocked(w, project, region, clone(w.S.Addresses[k]))) // nat.go
		}
	}
	for _, k := range world.SortedKeys(w.S.Reservations) {
		if r := w.S.Reservations[k]; r.Project == project && r.Region == region {
			if a := serverlessAddressLocked(w, r); a != nil {
				out = append(out, a)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// takenLocked reports whether addr is used in the subnetwork: by a reserved address, a Direct
// VPC block, or an address insert in progress.
func takenLocked(w *world.World, project, region, subnet string, addr netip.Addr) bool {
	for _, a := range userAddressesInSubnetLocked(w, project, region, subnet) {
		ap, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		bits := 32
		if a.PrefixLength > 0 && a.PrefixLength <= 32 {
			bits = int(a.PrefixLength)
		}
		if p, err := ap.Prefix(bits); err == nil && p.Contains(addr) {
			return true
		}
	}
	for _, r := range w.ReservationsLocked(world.RegionalKey(project, region, subnet)) {
		if p, err := netip.ParsePrefix(r.Range); err == nil && p.Contains(addr) {
			return true
		}
	}
	key := world.RegionalKey(project, region, subnet)
	for _, f := range flightsLocked(w) {
		if f.insert && f.subnet == key && f.addr == addr.String() {
			return true
		}
	}
	return false
}

// reservedInSubnet reports whether Google Cloud keeps addr for itself in p: the network and
// gateway addresses and the last two (VPC docs, "Subnets": reserved IPv4 addresses).
func reservedInSubnet(p netip.Prefix, addr netip.Addr) bool {
	first := p.Masked().Addr()
	last := lastAddr(p)
	return addr == first || addr == first.Next() || addr == last || addr == last.Prev()
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(ipam.Size(p) - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// validateAddressLocked checks an address to insert and fills its subnetwork and address.
func validateAddressLocked(w *world.World, project, region string, a *compute.Address) *apiError {
	if aerr := checkName("resource.name", a.Name); aerr != nil {
		return aerr
	}
	if a.Region != "" {
		if reg, ok := regionRef(a.Region); !ok || reg != region {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.region': '%s'. It does not match the region '%s' of the request.", a.Region, region))
		}
	}
	if a.AddressType == "" {
		a.AddressType = "EXTERNAL"
	}
	if aerr := checkEnum("resource.addressType", a.AddressType, "INTERNAL", "EXTERNAL"); aerr != nil {
		return aerr
	}
	if aerr := checkEnum("resource.networkTier", a.NetworkTier, "PREMIUM", "STANDARD"); aerr != nil {
		return aerr
	}
	t := target{project, region, a.Name}
	if _, held := w.S.Reservations[a.Name]; held || addresses.takenLocked(w, t) {
		return errAlreadyExists(addresses.path(t))
	}
	if a.AddressType == "EXTERNAL" {
		if a.Purpose != "" {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.purpose': '%s'. The emulator reserves external addresses without a purpose.", a.Purpose))
		}
		if a.Address != "" {
			if _, err := netip.ParseAddr(a.Address); err != nil {
				return errInvalid(fmt.Sprintf("Invalid value for field 'resource.address': '%s'. Must be an IP address.", a.Address))
			}
		}
		return nil
	}
	if a.Purpose == "" {
		a.Purpose = defaultInternal
	}
	if a.Purpose == serverlessPurpose {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.purpose': '%s'. SERVERLESS addresses are reserved by Cloud Run.", a.Purpose))
	}
	if aerr := checkEnum("resource.purpose", a.Purpose, internalPurposes...); aerr != nil {
		return aerr
	}
	ref := a.Subnetwork
	if ref == "" {
		ref = "default"
	}
	proj, reg, subnet, ok := regionalRef(ref, project, region, "subnetworks")
	if !ok || proj != project || reg != region {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.subnetwork': '%s'. The subnetwork must be in the address's project and region.", a.Subnetwork))
	}
	sn, ok := w.S.Subnetworks[world.RegionalKey(project, region, subnet)]
	if !ok {
		return errNotFound(subnetPath(project, region, subnet))
	}
	p := netip.MustParsePrefix(sn.IpCidrRange)
	if a.Address != "" {
		addr, err := netip.ParseAddr(a.Address)
		switch {
		case err != nil || !addr.Is4():
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.address': '%s'. Must be an IPv4 address.", a.Address))
		case !p.Contains(addr):
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.address': '%s'. The requested IP address is not in the subnetwork's range %s.", a.Address, p))
		case reservedInSubnet(p, addr):
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.address': '%s'. The requested IP address is reserved by Google Cloud in the subnetwork.", a.Address))
		case takenLocked(w, project, region, subnet, addr):
			return &apiError{Status: http.StatusBadRequest, Reason: "ipInUseByAnotherResource", OpCode: "IP_IN_USE_BY_ANOTHER_RESOURCE",
				Message: fmt.Sprintf("IP '%s' is already being used by another resource.", a.Address)}
		}
	} else {
		free, ok := firstFreeLocked(w, project, region, subnet, p)
		if !ok {
			return &apiError{Status: http.StatusBadRequest, Reason: "ipSpaceExhausted", OpCode: "IP_SPACE_EXHAUSTED",
				Message: fmt.Sprintf("IP space of '%s' is exhausted.", subnetPath(project, region, subnet))}
		}
		a.Address = free.String()
	}
	a.Subnetwork = linkBase + subnetPath(project, region, subnet)
	a.PrefixLength = 0
	return nil
}

// firstFreeLocked returns the lowest usable address of the subnetwork nothing holds.
func firstFreeLocked(w *world.World, project, region, subnet string, p netip.Prefix) (netip.Addr, bool) {
	last := lastAddr(p)
	for a := p.Masked().Addr(); a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
		if !reservedInSubnet(p, a) && !takenLocked(w, project, region, subnet, a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// externalAddress makes up a public address for an external reservation, from its id.
func externalAddress(id uint64) string {
	return fmt.Sprintf("34.%d.%d.%d", byte(id>>16), byte(id>>8), byte(id)|1)
}

func buildAddressLocked(w *world.World, project, region string, in *compute.Address) *compute.Address {
	a := clone(in)
	a.Kind = "compute#address"
	a.Id = w.NextIDLocked()
	a.CreationTimestamp = timestamp(w.Now())
	a.SelfLink = linkBase + addressPath(project, region, a.Name)
	a.Region = regionLink(project, region)
	a.Status = "RESERVED"
	a.LabelFingerprint = emptyLabelFingerprint
	if a.NetworkTier == "" {
		a.NetworkTier = defaultTier
	}
	if a.AddressType == "EXTERNAL" && a.Address == "" {
		a.Address = externalAddress(a.Id)
	}
	a.Users = nil
	return a
}

func (s *server) addressesInsert(r *http.Request, p params) (any, *apiError) {
	var in compute.Address
	return s.mutate(r, p, &in, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project, region := p["project"], p["region"]
		if aerr := validateAddressLocked(s.w, project, region, &in); aerr != nil {
			return nil, aerr
		}
		a := buildAddressLocked(s.w, project, region, &in)
		var fl flight
		var check func() *apiError
		if a.Subnetwork != "" {
			subnet := world.NetworkName(a.Subnetwork)
			fl.subnet, fl.addr = world.RegionalKey(project, region, subnet), a.Address
			check = func() *apiError {
				if _, ok := s.w.S.Subnetworks[fl.subnet]; !ok {
					return errNotFound(subnetPath(project, region, subnet))
				}
				return nil
			}
		}
		return addresses.insertLocked(s.w, p.target(a.Name), rid, a, a.Id, fl, check), nil
	})
}

func (s *server) addressesGet(r *http.Request, p params) (any, *apiError) {
	project, region, name := p["project"], p["region"], p["name"]
	s.w.Lock()
	defer s.w.Unlock()
	if a, ok := s.w.S.Addresses[world.RegionalKey(project, region, name)]; ok {
		return withNatUsersLocked(s.w, project, region, clone(a)), nil // nat.go
	}
	if res, ok := s.w.S.Reservations[name]; ok && res.Project == project && res.Region == region {
		if a := serverlessAddressLocked(s.w, res); a != nil {
			return a, nil
		}
	}
	return nil, errNotFound(addressPath(project, region, name))
}

func addressItemsLocked(w *world.World, project, region string) []listItem {
	var items []listItem
	for _, a := range addressesLocked(w, project, region) {
		items = append(items, toItem(a, a.Name, a.CreationTimestamp))
	}
	return items
}

func (s *server) addressesList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#address", "addresses", addressItemsLocked)
}

func (s *server) addressesAggregated(r *http.Request, p params) (any, *apiError) {
	return s.aggregated(r, p, "compute#address", "addresses", addressItemsLocked)
}

// addressesDelete releases a reserved address. The serverless-ipv4-* addresses belong to Cloud
// Run, which releases them itself; deleting one is refused as in use.
func (s *server) addressesDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		if res, ok := s.w.S.Reservations[t.name]; ok && res.Project == t.project && res.Region == t.region {
			user := res.Owner
			if user == "" {
				user = subnetPath(t.project, t.region, res.Subnet)
			}
			return nil, errInUse("address", addresses.path(t), user)
		}
		cur, aerr := addresses.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		if r := natUserLocked(s.w, t.project, t.region, t.name, ""); r != "" { // nat.go
			return nil, errInUse("address", addresses.path(t), routerPath(t.project, t.region, r))
		}
		return addresses.deleteLocked(s.w, t, rid, cur.Id, nil), nil
	})
}
