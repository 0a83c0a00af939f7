package world

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"
)

// This file is the emulator's data plane: whether a Cloud Run revision's egress reaches a
// destination, and what source address the destination sees. It follows the path a packet
// takes on the real platform:
//
//  1. Which egress path the revision uses (Cloud Run docs, "Compare Direct VPC egress and VPC
//     connectors"): none (Cloud Run's own egress to the internet), a Serverless VPC Access
//     connector (source = the connector's /28 or its subnet's range; the connector VMs carry
//     the network tags "vpc-connector" and "vpc-connector-REGION-NAME", VPC docs "Serverless
//     VPC Access": network tags), or Direct VPC egress (source = the subnet's range, network
//     tags from the revision's network interface).
//  2. Whether the destination's traffic enters the VPC: with all-traffic egress everything
//     does; with private-ranges-only only traffic to internal addresses, RFC 1918 and RFC
//     6598 (Cloud Run docs, "--vpc-egress"), and the rest goes out through Cloud Run's own
//     egress, straight to the internet.
//  3. Inside the VPC: the route the destination address takes (subnet routes first, then the
//     most specific static route, VPC docs "Routes": route selection), the egress firewall at
//     the source, the ingress firewall at a destination in the VPC (firewall.go), and for the
//     internet Cloud NAT on the source's subnet (Cloud NAT docs: a gateway serves the
//     subnets its sourceSubnetworkIpRangesToNat selects, in its router's region and network)
//     or, for Google APIs, Private Google Access on the source subnet (VPC docs, "Private
//     Google Access").
//  4. The destination's own allowlist, against the source it sees: the connector's or the
//     subnet's range in the VPC and through VPN routes; the gateway's NAT IPs on the
//     internet; Cloud Run's own, unpredictable addresses when traffic leaves without the VPC.

// private are the internal ranges private-ranges-only egress sends into the VPC.
var private = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

func isPrivate(a netip.Addr) bool {
	for _, p := range private {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CloudRunEgressSource is what a destination sees as the source of traffic that leaves through
// Cloud Run's own egress: Google-owned addresses that change (Cloud Run docs, "Static outbound
// IP address": without Cloud NAT the outbound IP is dynamic).
const CloudRunEgressSource = "cloud-run-dynamic"

// Egress is the path a revision's traffic takes out of Cloud Run.
type Egress struct {
	// Kind is "none", "connector" or "direct".
	Kind string `json:"kind"`
	// Project and Region are the workload's.
	Project string `json:"project"`
	Region  string `json:"region"`
	// NetProject and Network name the VPC network (connector and direct).
	NetProject string `json:"netProject,omitempty"`
	Network    string `json:"network,omitempty"`
	// Subnet is the state key of the source subnet ("" for a connector built on an
	// ipCidrRange).
	Subnet string `json:"subnet,omitempty"`
	// Source is the source range: the connector's /28 (or its subnet's range), the Direct VPC
	// subnet's primary range.
	Source string `json:"source,omitempty"`
	// Tags are the network tags the sources carry.
	Tags []string `json:"tags,omitempty"`
	// AllTraffic says that every destination goes through the VPC.
	AllTraffic bool `json:"allTraffic,omitempty"`
	// Connector is the connector's full name.
	Connector string `json:"connector,omitempty"`
	// Problem, when not empty, says why the VPC path cannot work (a connector or subnet that
	// does not exist): nothing goes through it.
	Problem string `json:"problem,omitempty"`
}

var (
	netPathRE    = regexp.MustCompile(`^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/global/networks/([^/]+)$`)
	subnetPathRE = regexp.MustCompile(`^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/regions/([^/]+)/subnetworks/([^/]+)$`)
)

// splitName splits a Run resource name projects/P/locations/L/COLL/ID/... into P and L.
func splitName(name string) (project, location string) {
	p := strings.Split(name, "/")
	if len(p) >= 4 {
		return p[1], p[3]
	}
	return "", ""
}

// ConnectorTags are the network tags of a connector's VMs: VPC docs, "Serverless VPC Access",
// firewall rules: the universal tag vpc-connector and the unique vpc-connector-REGION-NAME.
func ConnectorTags(region, name string) []string {
	return []string{"vpc-connector", "vpc-connector-" + region + "-" + name}
}

// EgressOfLocked returns the egress path of a revision (or an execution) from its VPC access.
func (w *World) EgressOfLocked(name string, va *runpb.VpcAccess) Egress {
	project, region := splitName(name)
	e := Egress{Kind: "none", Project: project, Region: region}
	if va == nil || (va.GetConnector() == "" && len(va.GetNetworkInterfaces()) == 0) {
		return e
	}
	e.AllTraffic = va.GetEgress() == runpb.VpcAccess_ALL_TRAFFIC
	if c := va.GetConnector(); c != "" {
		e.Kind, e.Connector = "connector", c
		conn, ok := w.S.Connectors[c]
		if !ok {
			e.Problem = "connector " + c + " does not exist"
			return e
		}
		cp, cregion := splitName(c)
		e.Tags = ConnectorTags(cregion, lastSeg(c))
		if sn := conn.GetSubnet(); sn.GetName() != "" {
			sp := sn.GetProjectId()
			if sp == "" {
				sp = cp
			}
			key := RegionalKey(sp, cregion, sn.GetName())
			s, ok := w.S.Subnetworks[key]
			if !ok {
				e.Problem = "subnetwork " + key + " of connector " + c + " does not exist"
				return e
			}
			e.Subnet, e.Source, e.NetProject, e.Network = key, s.IpCidrRange, netProjectOf(s.Network, sp), NetworkName(s.Network)
			return e
		}
		e.Source, e.NetProject, e.Network = conn.GetIpCidrRange(), cp, NetworkName(conn.GetNetwork())
		return e
	}
	ni := va.GetNetworkInterfaces()[0]
	e.Kind, e.Tags = "direct", append([]string(nil), ni.GetTags()...)
	netProject, netName := project, ""
	if n := ni.GetNetwork(); n != "" {
		if m := netPathRE.FindStringSubmatch(n); m != nil {
			netProject, netName = m[1], m[2]
		} else {
			netName = n
		}
	}
	sp, sregion, sname := netProject, region, netName
	if s := ni.GetSubnetwork(); s != "" {
		if m := subnetPathRE.FindStringSubmatch(s); m != nil {
			sp, sregion, sname = m[1], m[2], m[3]
		} else {
			sname = s
		}
	}
	key := RegionalKey(sp, sregion, sname)
	s, ok := w.S.Subnetworks[key]
	if !ok {
		e.Problem = "subnetwork " + key + " does not exist"
		return e
	}
	e.Subnet, e.Source, e.NetProject, e.Network = key, s.IpCidrRange, netProjectOf(s.Network, sp), NetworkName(s.Network)
	return e
}

func netProjectOf(networkRef, fallback string) string {
	if m := netPathRE.FindStringSubmatch(networkRef); m != nil {
		return m[1]
	}
	return fallback
}

func lastSeg(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// Reach is the answer to "does this egress reach that destination".
type Reach struct {
	OK bool `json:"ok"`
	// Via says how the traffic goes: "cloud-run-egress", "vpc" (a subnet route), "vpn"
	// (a static route; its next hop is in Route), "nat" (Cloud NAT), "private-google-access".
	Via   string `json:"via,omitempty"`
	Route string `json:"route,omitempty"`
	// Sources are the source addresses or ranges the destination sees.
	Sources []string `json:"sources,omitempty"`
	// Reason says why the traffic does not arrive (or, when OK, what decided it).
	Reason string `json:"reason,omitempty"`
}

// ReachLocked decides whether traffic from egress e reaches destination d on its TCP port.
func (w *World) ReachLocked(e Egress, d *Destination) Reach {
	dst, err := netip.ParseAddr(d.IP)
	if err != nil {
		return Reach{Reason: fmt.Sprintf("destination %s has no valid IP %q", d.Name, d.IP)}
	}
	intoVPC := e.Kind != "none" && (e.AllTraffic || isPrivate(dst))
	if intoVPC && e.Problem != "" {
		return Reach{Reason: e.Problem}
	}
	if !intoVPC {
		if isPrivate(dst) && !d.GoogleAPIs {
			return Reach{Reason: fmt.Sprintf("%s is an internal address and the revision has no VPC access to route it", dst)}
		}
		r := Reach{OK: true, Via: "cloud-run-egress", Sources: []string{CloudRunEgressSource}}
		if !d.GoogleAPIs && len(d.Allow) > 0 && !allowsAll(d.Allow) {
			return Reach{Via: r.Via, Sources: r.Sources, Reason: fmt.Sprintf("%s admits only %s; traffic leaves through Cloud Run's own egress, whose addresses are dynamic", d.Name, strings.Join(d.Allow, ", "))}
		}
		return r
	}
	src, err := netip.ParsePrefix(e.Source)
	if err != nil {
		return Reach{Reason: fmt.Sprintf("source range %q is not valid", e.Source)}
	}
	src = src.Masked()
	if d.Network != "" && !d.GoogleAPIs && (d.Network != e.Network || (d.Project != "" && d.Project != e.NetProject)) && w.subnetOfLocked(e.NetProject, e.Network, dst) == nil {
		// A destination declared in another network is reachable only if this one routes it.
		if rt := w.staticRouteLocked(e.NetProject, e.Network, dst, e.Tags); rt == nil {
			return Reach{Reason: fmt.Sprintf("%s is in network %s/%s, not in %s/%s, and no route leads there", d.Name, d.Project, d.Network, e.NetProject, e.Network)}
		}
	}
	pkt := Packet{Src: src, Dst: dst, Port: d.Port, SrcTags: e.Tags, Direct: e.Kind == "direct"}
	r := Reach{}
	switch sn := w.subnetOfLocked(e.NetProject, e.Network, dst); {
	case sn != nil && !d.GoogleAPIs:
		r.Via, r.Route = "vpc", sn.SelfLink
	default:
		if rt := w.staticRouteLocked(e.NetProject, e.Network, dst, e.Tags); rt != nil && !d.GoogleAPIs {
			r.Via, r.Route = "vpn", nextHop(rt)
			break
		}
		if isPrivate(dst) && !d.GoogleAPIs {
			return Reach{Reason: fmt.Sprintf("no route to %s in network %s: no subnet holds it and no static route covers it", dst, e.Network)}
		}
		// The default route to the internet gateway.
		if d.GoogleAPIs && w.privateGoogleAccessLocked(e) {
			r.Via = "private-google-access"
			break
		}
		ips, nat := w.natForLocked(e)
		if nat == "" {
			if d.GoogleAPIs {
				return Reach{Reason: fmt.Sprintf("Google APIs: all-traffic egress from %s has neither Private Google Access on its subnet nor Cloud NAT", e.Source)}
			}
			return Reach{Reason: fmt.Sprintf("%s is on the internet and no Cloud NAT gateway serves %s in %s (all-traffic egress sends it into the VPC, which has no external address)", dst, e.Source, e.Region)}
		}
		r.Via, r.Route, r.Sources = "nat", nat, ips
	}
	if v := w.EvaluateFirewallLocked(e.NetProject, e.Network, e.Region, "EGRESS", pkt, Target{Tags: e.Tags, Direct: e.Kind == "direct"}); !v.Allowed {
		return Reach{Via: r.Via, Route: r.Route, Reason: "egress from " + e.Source + " denied by " + v.By}
	}
	if r.Via == "vpc" {
		dregion := e.Region
		if sn := w.subnetOfLocked(e.NetProject, e.Network, dst); sn != nil {
			dregion = NetworkName(sn.Region)
		}
		if v := w.EvaluateFirewallLocked(e.NetProject, e.Network, dregion, "INGRESS", pkt, Target{Tags: d.Tags, ServiceAccount: d.ServiceAccount, SecureTags: d.SecureTags}); !v.Allowed {
			return Reach{Via: r.Via, Route: r.Route, Reason: fmt.Sprintf("ingress to %s (%s:%d) from %s denied by %s", d.Name, dst, d.Port, e.Source, v.By)}
		}
	}
	if r.Sources == nil {
		r.Sources = []string{src.String()}
	}
	if d.GoogleAPIs {
		r.OK = true
		return r
	}
	for _, s := range r.Sources {
		if !admits(d.Allow, s) {
			r.Reason = fmt.Sprintf("%s admits only %s; it sees traffic from %s", d.Name, strings.Join(d.Allow, ", "), s)
			return r
		}
	}
	r.OK = true
	return r
}

func allowsAll(allow []string) bool {
	for _, a := range allow {
		if a == "0.0.0.0/0" {
			return true
		}
	}
	return false
}

// admits reports whether an allowlist admits every address of source (a range or an address).
func admits(allow []string, source string) bool {
	if len(allow) == 0 {
		return true
	}
	sp, err := parseRangeOrAddr(source)
	if err != nil {
		return false
	}
	for _, a := range allow {
		if ap, err := parseRangeOrAddr(a); err == nil && ap.Bits() <= sp.Bits() && ap.Contains(sp.Addr()) {
			return true
		}
	}
	return false
}

func parseRangeOrAddr(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// subnetOfLocked returns the subnetwork of the network whose primary or secondary range holds
// a (subnet routes cover every region of the network).
func (w *World) subnetOfLocked(project, network string, a netip.Addr) *compute.Subnetwork {
	for _, k := range SortedKeys(w.S.Subnetworks) {
		sn := w.S.Subnetworks[k]
		if !strings.HasPrefix(k, project+"/") || NetworkName(sn.Network) != network {
			continue
		}
		ranges := []string{sn.IpCidrRange}
		for _, r := range sn.SecondaryIpRanges {
			ranges = append(ranges, r.IpCidrRange)
		}
		for _, r := range ranges {
			if p, err := netip.ParsePrefix(r); err == nil && p.Contains(a) {
				return sn
			}
		}
	}
	return nil
}

// staticRouteLocked returns the static route the network uses for a, if any: VPC docs,
// "Routes" (route selection): the most specific destination wins, then the lowest priority
// value; a route with tags applies only to instances carrying one of them; a route whose next
// hop VPN tunnel does not exist is not used. The default route to the internet gateway is not
// a static route here.
func (w *World) staticRouteLocked(project, network string, a netip.Addr, tags []string) *compute.Route {
	var best *compute.Route
	bestBits := -1
	for _, k := range SortedKeys(w.S.Net.Routes) {
		rt := w.S.Net.Routes[k]
		if !strings.HasPrefix(k, project+"/") || NetworkName(rt.Network) != network {
			continue
		}
		p, err := netip.ParsePrefix(rt.DestRange)
		if err != nil || !p.Contains(a) || p.Bits() == 0 && rt.NextHopGateway != "" {
			continue
		}
		if len(rt.Tags) > 0 && !intersects(rt.Tags, tags) {
			continue
		}
		if rt.NextHopVpnTunnel != "" {
			if _, ok := w.S.Net.VpnTunnels[vpnKey(project, rt.NextHopVpnTunnel)]; !ok {
				continue
			}
		}
		if p.Bits() > bestBits || (p.Bits() == bestBits && rt.Priority < best.Priority) {
			best, bestBits = rt, p.Bits()
		}
	}
	return best
}

var addressRE = regexp.MustCompile(`projects/([^/]+)/regions/([^/]+)/addresses/([^/]+)$`)

var tunnelRE = regexp.MustCompile(`projects/([^/]+)/regions/([^/]+)/vpnTunnels/([^/]+)$`)

// vpnKey is the state key of the VPN tunnel a route names.
func vpnKey(project, ref string) string {
	if m := tunnelRE.FindStringSubmatch(ref); m != nil {
		return RegionalKey(m[1], m[2], m[3])
	}
	return project + "/" + ref
}

func nextHop(rt *compute.Route) string {
	for _, h := range []string{rt.NextHopVpnTunnel, rt.NextHopIp, rt.NextHopInstance, rt.NextHopIlb, rt.NextHopGateway} {
		if h != "" {
			return h
		}
	}
	return rt.Name
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// privateGoogleAccessLocked reports whether the egress's source subnet has Private Google
// Access. A connector built on an ipCidrRange has no subnet of the caller's: the emulator
// treats its range as having Private Google Access (the connector's VMs are Google-managed).
func (w *World) privateGoogleAccessLocked(e Egress) bool {
	if e.Subnet == "" {
		return e.Kind == "connector"
	}
	sn, ok := w.S.Subnetworks[e.Subnet]
	return ok && sn.PrivateIpGoogleAccess
}

// NatGateway is a Cloud NAT gateway serving a source.
type NatGateway struct {
	Router string // state key of the router
	Nat    *compute.RouterNat
}

// NatCoversLocked reports whether a NAT gateway of a router in region serves the subnet with
// state key subnet (or, when subnet is empty, a connector's own range). Cloud NAT docs
// (sourceSubnetworkIpRangesToNat): ALL_SUBNETWORKS_ALL_IP_RANGES and
// ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES serve every subnet of the region; LIST_OF_SUBNETWORKS
// only those listed in subnetworks[] (with ALL_IP_RANGES or PRIMARY_IP_RANGE).
func NatCovers(n *compute.RouterNat, subnet string) bool {
	if n.Type != "" && n.Type != "PUBLIC" {
		return false
	}
	if len(n.EndpointTypes) > 0 && !intersects(n.EndpointTypes, []string{"ENDPOINT_TYPE_VM"}) {
		return false
	}
	switch n.SourceSubnetworkIpRangesToNat {
	case "ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES":
		return true
	case "LIST_OF_SUBNETWORKS":
		if subnet == "" {
			return false
		}
		parts := strings.Split(subnet, "/")
		for _, s := range n.Subnetworks {
			m := subnetPathRE.FindStringSubmatch(s.Name)
			name := NetworkName(s.Name)
			if m != nil && (m[1] != parts[0] || m[2] != parts[1]) {
				continue
			}
			if name != parts[2] {
				continue
			}
			if len(s.SourceIpRangesToNat) == 0 || intersects(s.SourceIpRangesToNat, []string{"ALL_IP_RANGES", "PRIMARY_IP_RANGE"}) {
				return true
			}
		}
	}
	return false
}

// NatGatewaysLocked returns the NAT gateways serving egress e (the first one is the one used).
func (w *World) NatGatewaysLocked(e Egress) []NatGateway {
	var out []NatGateway
	for _, k := range SortedKeys(w.S.Routers) {
		rt := w.S.Routers[k]
		if k != RegionalKey(e.NetProject, e.Region, rt.Name) || NetworkName(rt.Network) != e.Network {
			continue
		}
		for _, n := range rt.Nats {
			if NatCovers(n, e.Subnet) {
				out = append(out, NatGateway{Router: k, Nat: n})
			}
		}
	}
	return out
}

// natForLocked returns the NAT IPs the internet sees from egress e and the gateway's name, or
// "" when no gateway serves it.
func (w *World) natForLocked(e Egress) ([]string, string) {
	gws := w.NatGatewaysLocked(e)
	if len(gws) == 0 {
		return nil, ""
	}
	g := gws[0]
	ips := w.NatIPsLocked(g.Router, g.Nat)
	parts := strings.Split(g.Router, "/")
	return ips, "projects/" + parts[0] + "/regions/" + parts[1] + "/routers/" + parts[2] + "/nats/" + g.Nat.Name
}

// NatIPsLocked returns the external addresses a NAT gateway uses: its manual natIps resolved
// to their addresses, or, with AUTO_ONLY, the addresses it allocated (AutoNatIPsLocked).
func (w *World) NatIPsLocked(routerKey string, n *compute.RouterNat) []string {
	if n.NatIpAllocateOption == "MANUAL_ONLY" || len(n.NatIps) > 0 {
		var out []string
		for _, ref := range n.NatIps {
			if a := w.AddressOfLocked(routerKey, ref); a != "" {
				out = append(out, a)
			}
		}
		return out
	}
	return w.AutoNatIPsLocked(routerKey, n)
}

// AddressOfLocked resolves a regional address reference (a URL, a path or a name in the
// router's region) to its IP.
func (w *World) AddressOfLocked(routerKey, ref string) string {
	parts := strings.Split(routerKey, "/")
	key := RegionalKey(parts[0], parts[1], NetworkName(ref))
	if m := addressRE.FindStringSubmatch(ref); m != nil {
		key = RegionalKey(m[1], m[2], m[3])
	}
	if a, ok := w.S.Addresses[key]; ok {
		return a.Address
	}
	return ""
}

// Cloud NAT port arithmetic (Cloud NAT docs, "IP addresses and ports"): each NAT IP offers
// 64,512 source ports (65,536 less the 1,024 well-known ones); each VM (each Cloud Run instance
// or connector VM here) gets minPortsPerVm, 64 by default with static port allocation and 32
// with dynamic port allocation.
const (
	PortsPerNatIP        = 64512
	DefaultMinPortsPerVM = 64
	DefaultMinPortsDPA   = 32
)

// MinPortsPerVM returns the ports a NAT gateway gives each VM.
func MinPortsPerVM(n *compute.RouterNat) int64 {
	switch {
	case n.MinPortsPerVm > 0:
		return n.MinPortsPerVm
	case n.EnableDynamicPortAllocation:
		return DefaultMinPortsDPA
	default:
		return DefaultMinPortsPerVM
	}
}

// NatVMsLocked counts the VMs a NAT gateway of the router serves now: running instances of
// Direct VPC revisions and executions in the subnets it serves, and the VMs of connectors it
// serves.
func (w *World) NatVMsLocked(routerKey string, n *compute.RouterNat) int {
	rt, ok := w.S.Routers[routerKey]
	if !ok {
		return 0
	}
	parts := strings.Split(routerKey, "/")
	vms := 0
	for name, count := range w.S.Instances {
		r, ok := w.S.Revisions[name]
		if !ok {
			continue // executions' instances are not counted
		}
		e := w.EgressOfLocked(name, r.GetVpcAccess())
		if e.Kind == "direct" && e.NetProject == parts[0] && e.Region == parts[1] && e.Network == NetworkName(rt.Network) && NatCovers(n, e.Subnet) {
			vms += count
		}
	}
	for name, c := range w.S.Connectors {
		e := w.EgressOfLocked(name, &runpb.VpcAccess{Connector: name}) // the connector's own path
		if e.Problem == "" && e.NetProject == parts[0] && e.Region == parts[1] && e.Network == NetworkName(rt.Network) && NatCovers(n, e.Subnet) {
			count, ok := w.S.ConnectorInstances[name]
			if !ok {
				count = int(c.GetMinInstances())
			}
			vms += count
		}
	}
	return vms
}

// AutoNatIPsLocked returns the addresses an AUTO_ONLY gateway holds: as many as the VMs it
// serves need ports (Cloud NAT docs: automatic allocation adds addresses as VMs need ports),
// at least one. They are stable for a router and gateway, in 34.0.0.0/8 (a range Google owns).
func (w *World) AutoNatIPsLocked(routerKey string, n *compute.RouterNat) []string {
	need := int(math.Ceil(float64(int64(w.NatVMsLocked(routerKey, n))*MinPortsPerVM(n)) / PortsPerNatIP))
	need = max(need, 1)
	out := make([]string, 0, need)
	for i := 0; i < need; i++ {
		h := fnv.New32a()
		_, _ = fmt.Fprintf(h, "%s/%s/%d", routerKey, n.Name, i)
		v := h.Sum32()
		out = append(out, fmt.Sprintf("34.%d.%d.%d", byte(v>>16), byte(v>>8), max(byte(v), 1)))
	}
	sort.Strings(out)
	return out
}
