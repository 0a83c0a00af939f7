package computeapi

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Dual-stack subnetworks. Compute reference, Subnetwork:
//   - stackType IPV4_ONLY (default) or IPV4_IPV6, "set at resource creation time and updated
//     using patch"; IPV6_ONLY subnets are not modelled and are refused.
//   - ipv6AccessType INTERNAL ("VMs on this subnet will be assigned IPv6 addresses that are
//     only accessible over the VPC network") or EXTERNAL; "It's immutable and can only be
//     specified during creation or the first time the subnet is updated into IPV4_IPV6 dual
//     stack."
//   - internalIpv6Prefix / externalIpv6Prefix: output, the /64 the subnet owns.
//
// VPC docs, "Subnets" (IPv6 subnet ranges): internal IPv6 ranges are ULAs taken from the
// network's /48 internal IPv6 range, which needs enableUlaInternalIpv6 on the network; each
// dual-stack subnet gets a /64 of it. External IPv6 ranges are /64s of Google's GUA space.
// Cloud Run docs ("Direct VPC egress", dual-stack): Direct VPC egress can use a dual-stack
// subnet; the service agent then also needs address permissions (world/egress.go).

const (
	stackIPv4Only = "IPV4_ONLY"
	stackDual     = "IPV4_IPV6"
	ipv6Internal  = "INTERNAL"
	ipv6External  = "EXTERNAL"
	// subnetIPv6Bits is the size of a subnet's IPv6 range (VPC docs: "/64").
	subnetIPv6Bits = 64
)

// validateStackLocked checks the IPv6 fields of a subnetwork to insert in project's network.
func validateStackLocked(w *world.World, project, network string, sn *compute.Subnetwork) *apiError {
	if aerr := checkEnum("resource.stackType", sn.StackType, stackIPv4Only, stackDual); aerr != nil {
		return aerr
	}
	if sn.StackType != stackDual {
		if sn.Ipv6AccessType != "" {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.ipv6AccessType': '%s'. IPv6 access type can only be set when the stack type is %s.", sn.Ipv6AccessType, stackDual))
		}
		if sn.InternalIpv6Prefix != "" {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.internalIpv6Prefix': '%s'. An internal IPv6 prefix can only be set when the stack type is %s.", sn.InternalIpv6Prefix, stackDual))
		}
		return nil
	}
	return checkIPv6AccessLocked(w, project, network, sn.Ipv6AccessType, sn.InternalIpv6Prefix, "")
}

// checkIPv6AccessLocked checks the access type of a (new or newly) dual-stack subnet and, for
// INTERNAL, the network's ULA range and a requested /64 (skip is the subnet's own key).
func checkIPv6AccessLocked(w *world.World, project, network, access, requested, skip string) *apiError {
	if access == "" {
		return errRequired("resource.ipv6AccessType")
	}
	if aerr := checkEnum("resource.ipv6AccessType", access, ipv6External, ipv6Internal); aerr != nil {
		return aerr
	}
	if access != ipv6Internal {
		if requested != "" {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.internalIpv6Prefix': '%s'. An internal IPv6 prefix can only be set with IPv6 access type %s.", requested, ipv6Internal))
		}
		return nil
	}
	n := w.S.Networks[world.GlobalKey(project, network)]
	if n == nil || !n.EnableUlaInternalIpv6 || n.InternalIpv6Range == "" {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.ipv6AccessType': '%s'. The network '%s' does not have ULA internal IPv6 enabled: set enableUlaInternalIpv6 on the network to create subnetworks with internal IPv6 access.",
			access, networkPath(project, network)))
	}
	if requested == "" {
		return nil
	}
	p, err := netip.ParsePrefix(requested)
	netRange, nerr := parseIPv6Range(n.InternalIpv6Range)
	switch {
	case err != nil || !p.Addr().Is6() || p.Bits() != subnetIPv6Bits || p.Masked() != p:
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.internalIpv6Prefix': '%s'. Must be a /%d IPv6 range.", requested, subnetIPv6Bits))
	case nerr != nil || !netRange.Contains(p.Addr()):
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.internalIpv6Prefix': '%s'. It must lie in the internal IPv6 range %s of network '%s'.", requested, n.InternalIpv6Range, networkPath(project, network)))
	}
	if other := ipv6UserLocked(w, project, network, p, skip); other != "" {
		return errConflict(fmt.Sprintf("Invalid value for field 'resource.internalIpv6Prefix': '%s'. It conflicts with the internal IPv6 range of subnetwork '%s'.", requested, other))
	}
	return nil
}

// parseIPv6Range reads an IPv6 range as Compute writes it ("fd20:eb5:88a:0:0:0:0:0/48").
func parseIPv6Range(s string) (netip.Prefix, error) { return netip.ParsePrefix(s) }

// formatIPv6Range writes a range as Compute does: eight uncompressed groups
// (realapi/compute/network-basic-crud-patch.http.log: "fd20:eb5:88a:0:0:0:0:0/48").
func formatIPv6Range(p netip.Prefix) string {
	b := p.Addr().As16()
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = fmt.Sprintf("%x", uint16(b[2*i])<<8|uint16(b[2*i+1]))
	}
	return strings.Join(groups, ":") + fmt.Sprintf("/%d", p.Bits())
}

// ipv6UserLocked returns the name of a subnet of the network (other than skip) whose internal
// IPv6 range is p.
func ipv6UserLocked(w *world.World, project, network string, p netip.Prefix, skip string) string {
	for _, k := range world.SortedKeys(w.S.Subnetworks) {
		sn := w.S.Subnetworks[k]
		if k == skip || !strings.HasPrefix(k, project+"/") || world.NetworkName(sn.Network) != network || sn.InternalIpv6Prefix == "" {
			continue
		}
		if q, err := parseIPv6Range(sn.InternalIpv6Prefix); err == nil && q == p {
			return sn.Name
		}
	}
	return ""
}

// assignIPv6Locked gives a dual-stack subnet its /64: the requested internal one, the first
// free /64 of the network's ULA range, or (EXTERNAL) one of Google's 2600:1900::/28 space.
func assignIPv6Locked(w *world.World, project, network string, sn *compute.Subnetwork, requested string) {
	sn.InternalIpv6Prefix, sn.ExternalIpv6Prefix = "", ""
	if sn.StackType != stackDual {
		sn.Ipv6AccessType = ""
		return
	}
	key := world.RegionalKey(project, world.NetworkName(sn.Region), sn.Name)
	switch sn.Ipv6AccessType {
	case ipv6Internal:
		if requested != "" {
			sn.InternalIpv6Prefix = formatIPv6Range(netip.MustParsePrefix(requested))
			return
		}
		n := w.S.Networks[world.GlobalKey(project, network)]
		base, err := parseIPv6Range(n.InternalIpv6Range)
		if err != nil {
			return
		}
		b := base.Masked().Addr().As16()
		for i := 0; i < 1<<16; i++ {
			b[6], b[7] = byte(i>>8), byte(i)
			p := netip.PrefixFrom(netip.AddrFrom16(b), subnetIPv6Bits)
			if ipv6UserLocked(w, project, network, p, key) == "" {
				sn.InternalIpv6Prefix = formatIPv6Range(p)
				return
			}
		}
	case ipv6External:
		id := stableID("external-ipv6", key)
		sn.ExternalIpv6Prefix = fmt.Sprintf("2600:1900:%x:%x:0:0:0:0/%d", 0x4000|(id&0xfff), (id>>12)&0xffff, subnetIPv6Bits)
	}
}

// patchStackLocked applies a patch's stackType, ipv6AccessType and internalIpv6Prefix to
// updated (a copy of cur). A subnet can become dual-stack (choosing its IPv6 access type then)
// and go back to IPv4 only; the access type of a dual-stack subnet cannot change. It runs once
// per present key and is idempotent.
func patchStackLocked(w *world.World, t target, cur, updated, patch *compute.Subnetwork, present map[string]json.RawMessage) *apiError {
	network := world.NetworkName(cur.Network)
	stack := cur.StackType
	if _, ok := present["stackType"]; ok && patch.StackType != "" {
		if aerr := checkEnum("resource.stackType", patch.StackType, stackIPv4Only, stackDual); aerr != nil {
			return aerr
		}
		stack = patch.StackType
	}
	access := patch.Ipv6AccessType
	if _, ok := present["ipv6AccessType"]; !ok {
		access = ""
	}
	switch {
	case stack == stackIPv4Only:
		if access != "" {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.ipv6AccessType': '%s'. IPv6 access type can only be set when the stack type is %s.", access, stackDual))
		}
		updated.StackType, updated.Ipv6AccessType, updated.InternalIpv6Prefix, updated.ExternalIpv6Prefix = stackIPv4Only, "", "", ""
		return nil
	case cur.StackType == stackDual:
		if access != "" && access != cur.Ipv6AccessType {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.ipv6AccessType': '%s'. The IPv6 access type of a dual-stack subnetwork cannot be changed from '%s'.", access, cur.Ipv6AccessType))
		}
		return nil
	}
	requested := ""
	if _, ok := present["internalIpv6Prefix"]; ok {
		requested = patch.InternalIpv6Prefix
	}
	if aerr := checkIPv6AccessLocked(w, t.project, network, access, requested, t.key()); aerr != nil {
		return aerr
	}
	updated.StackType, updated.Ipv6AccessType = stackDual, access
	assignIPv6Locked(w, t.project, network, updated, requested)
	return nil
}
