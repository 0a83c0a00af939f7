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
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Subnetwork defaults, as the real API returns them
// (realapi/compute/subnetwork-gcloud-create-delete-opwait.http.log).
const (
	defaultPurpose                 = "PRIVATE"
	defaultStackType               = "IPV4_ONLY"
	defaultPrivateIPv6GoogleAccess = "DISABLE_GOOGLE_ACCESS"
	subnetStateReady               = "READY"
	// Flow log defaults. Compute docs, SubnetworkLogConfig: aggregationInterval "Default is
	// INTERVAL_5_SEC", flowSampling "The default value is 0.5", metadata "Default is
	// INCLUDE_ALL_METADATA".
	defaultAggregationInterval = "INTERVAL_5_SEC"
	defaultFlowSampling        = 0.5
	defaultLogMetadata         = "INCLUDE_ALL_METADATA"
	// utilizationView is the subnetworks.get/list view that adds utilizationDetails.
	utilizationView = "WITH_UTILIZATION"
)

// Allowed values of SubnetworkLogConfig (Compute docs).
var (
	aggregationIntervals = []string{"INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"}
	logMetadataValues    = []string{"INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA", "CUSTOM_METADATA"}
)

// prohibitedRanges are the IPv4 ranges no subnetwork range may overlap (VPC docs, "Subnets":
// prohibited IPv4 subnet ranges). Everything else, RFC 1918, RFC 6598, 240.0.0.0/4 and
// privately used public ranges included, is accepted.
var prohibitedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
}

var subnetworks = &collection[compute.Subnetwork]{
	name:  "subnetworks",
	items: func(s *world.State) map[string]*compute.Subnetwork { return s.Subnetworks },
}

func subnetPath(project, region, name string) string {
	return regionalPath(project, region, "subnetworks", name)
}

// parseSubnetRange checks a subnetwork IPv4 range given in field.
func parseSubnetRange(field, v string) (netip.Prefix, *apiError) {
	if v == "" {
		return netip.Prefix{}, errRequired(field)
	}
	p, err := ipam.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. Must be a CIDR address range.", field, v))
	}
	if p.Bits() < ipam.MinSubnetPrefix || p.Bits() > ipam.MaxSubnetPrefix {
		return netip.Prefix{}, errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. Invalid IPCidrRange: %s. The prefix length must be between /%d and /%d.",
			field, v, p, ipam.MinSubnetPrefix, ipam.MaxSubnetPrefix))
	}
	for _, bad := range prohibitedRanges {
		if ipam.Overlaps(p, bad) {
			return netip.Prefix{}, errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. Invalid IPCidrRange: %s overlaps with the reserved range %s, which subnetworks cannot use.", field, v, p, bad))
		}
	}
	return p, nil
}

// conflictLocked returns the first range in use in the project's network (every region,
// including changes in progress) that overlaps p; skip leaves out ranges of the subnetwork
// being changed.
func conflictLocked(w *world.World, project, network string, p netip.Prefix, skip func(world.NetworkRange) bool) (world.NetworkRange, bool) {
	used := w.NetworkRangesLocked(project, network)
	for _, f := range flightsLocked(w) {
		if f.network == project+"/"+network {
			used = append(used, f.ranges...)
		}
	}
	for _, nr := range used {
		if (skip == nil || !skip(nr)) && ipam.Overlaps(nr.Prefix, p) {
			return nr, true
		}
	}
	return world.NetworkRange{}, false
}

// errOverlap is the real API's refusal of an overlapping range (DESIGN.md, "subnet overlaps").
func errOverlap(field string, p netip.Prefix, nr world.NetworkRange) *apiError {
	return errConflict(fmt.Sprintf("Invalid value for field '%s': '%s'. Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.",
		field, p, p, nr.Name, nr.Region))
}

func validateLogConfig(lc *compute.SubnetworkLogConfig) *apiError {
	if lc == nil {
		return nil
	}
	if aerr := checkEnum("resource.logConfig.aggregationInterval", lc.AggregationInterval, aggregationIntervals...); aerr != nil {
		return aerr
	}
	if aerr := checkEnum("resource.logConfig.metadata", lc.Metadata, logMetadataValues...); aerr != nil {
		return aerr
	}
	if lc.FlowSampling < 0 || lc.FlowSampling > 1 {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.logConfig.flowSampling': '%g'. Must be between 0 and 1.", lc.FlowSampling))
	}
	if len(lc.MetadataFields) > 0 && lc.Metadata != "CUSTOM_METADATA" {
		return errInvalid("Invalid value for field 'resource.logConfig.metadataFields': metadata fields can only be set with metadata CUSTOM_METADATA.")
	}
	return nil
}

// normalizeLogConfig fills flow log defaults. A disabled config is kept as {enable: false}
// when the caller sent one (realapi/compute/subnetwork-crud-setPrivateIpGoogleAccess.http.log).
func normalizeLogConfig(lc *compute.SubnetworkLogConfig, enableFlowLogs bool) *compute.SubnetworkLogConfig {
	if lc == nil && enableFlowLogs {
		lc = &compute.SubnetworkLogConfig{Enable: true}
	}
	if lc == nil {
		return nil
	}
	if !lc.Enable {
		return &compute.SubnetworkLogConfig{}
	}
	out := *lc
	out.ForceSendFields, out.NullFields = nil, nil
	if out.AggregationInterval == "" {
		out.AggregationInterval = defaultAggregationInterval
	}
	if out.FlowSampling == 0 {
		out.FlowSampling = defaultFlowSampling
	}
	if out.Metadata == "" {
		out.Metadata = defaultLogMetadata
	}
	return &out
}

// checkSecondaryRanges checks the secondary ranges of a subnetwork whose primary range is
// primary, and returns them parsed.
func checkSecondaryRanges(ranges []*compute.SubnetworkSecondaryRange, primary netip.Prefix) ([]netip.Prefix, *apiError) {
	var out []netip.Prefix
	names := map[string]bool{}
	for i, r := range ranges {
		field := fmt.Sprintf("resource.secondaryIpRanges[%d]", i)
		if r == nil {
			return nil, errRequired(field)
		}
		if aerr := checkName(field+".rangeName", r.RangeName); aerr != nil {
			return nil, aerr
		}
		if names[r.RangeName] {
			return nil, errInvalid(fmt.Sprintf("Invalid value for field '%s.rangeName': '%s'. Secondary range names must be unique within a subnetwork.", field, r.RangeName))
		}
		names[r.RangeName] = true
		p, aerr := parseSubnetRange(field+".ipCidrRange", r.IpCidrRange)
		if aerr != nil {
			return nil, aerr
		}
		if ipam.Overlaps(p, primary) {
			return nil, errConflict(fmt.Sprintf("Invalid value for field '%s.ipCidrRange': '%s'. Invalid IPCidrRange: %s conflicts with the primary range %s of the subnetwork.", field, p, p, primary))
		}
		for j, q := range out {
			if ipam.Overlaps(p, q) {
				return nil, errConflict(fmt.Sprintf("Invalid value for field '%s.ipCidrRange': '%s'. Invalid IPCidrRange: %s conflicts with secondary range '%s'.", field, p, p, ranges[j].RangeName))
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// validateSubnetworkLocked checks a subnetwork to insert and returns its network's name.
func validateSubnetworkLocked(w *world.World, project, region string, sn *compute.Subnetwork) (string, *apiError) {
	if aerr := checkName("resource.name", sn.Name); aerr != nil {
		return "", aerr
	}
	if sn.Region != "" {
		if reg, ok := regionRef(sn.Region); !ok || reg != region {
			return "", errInvalid(fmt.Sprintf("Invalid value for field 'resource.region': '%s'. It does not match the region '%s' of the request.", sn.Region, region))
		}
	}
	network, aerr := networkRefLocked(w, project, sn.Network, "resource.network")
	if aerr != nil {
		return "", aerr
	}
	primary, aerr := parseSubnetRange("resource.ipCidrRange", sn.IpCidrRange)
	if aerr != nil {
		return "", aerr
	}
	secondaries, aerr := checkSecondaryRanges(sn.SecondaryIpRanges, primary)
	if aerr != nil {
		return "", aerr
	}
	if aerr := validateLogConfig(sn.LogConfig); aerr != nil {
		return "", aerr
	}
	if aerr := checkEnum("resource.purpose", sn.Purpose, defaultPurpose); aerr != nil {
		return "", aerr
	}
	if aerr := validateStackLocked(w, project, network, sn); aerr != nil { // dualstack.go
		return "", aerr
	}
	if aerr := checkEnum("resource.privateIpv6GoogleAccess", sn.PrivateIpv6GoogleAccess,
		"DISABLE_GOOGLE_ACCESS", "ENABLE_BIDIRECTIONAL_ACCESS_TO_GOOGLE", "ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE"); aerr != nil {
		return "", aerr
	}
	if t := (target{project, region, sn.Name}); subnetworks.takenLocked(w, t) {
		return "", errAlreadyExists(subnetworks.path(t))
	}
	if nr, ok := conflictLocked(w, project, network, primary, nil); ok {
		return "", errOverlap("resource.ipCidrRange", primary, nr)
	}
	for i, p := range secondaries {
		if nr, ok := conflictLocked(w, project, network, p, nil); ok {
			return "", errOverlap(fmt.Sprintf("resource.secondaryIpRanges[%d].ipCidrRange", i), p, nr)
		}
	}
	return network, nil
}

// buildSubnetworkLocked fills the output fields of a subnetwork to insert, with a new id.
func buildSubnetworkLocked(w *world.World, project, region, network string, in *compute.Subnetwork) *compute.Subnetwork {
	sn := clone(in)
	p := netip.MustParsePrefix(sn.IpCidrRange)
	sn.Kind = "compute#subnetwork"
	sn.Id = w.NextIDLocked()
	sn.CreationTimestamp = timestamp(w.Now())
	sn.Fingerprint = randomFingerprint()
	sn.GatewayAddress = ipam.FirstHost(p).String()
	sn.Network = linkBase + networkPath(project, network)
	sn.Region = regionLink(project, region)
	sn.SelfLink = linkBase + subnetPath(project, region, sn.Name)
	sn.State = subnetStateReady
	if sn.Purpose == "" {
		sn.Purpose = defaultPurpose
	}
	if sn.StackType == "" {
		sn.StackType = defaultStackType
	}
	if sn.PrivateIpv6GoogleAccess == "" {
		sn.PrivateIpv6GoogleAccess = defaultPrivateIPv6GoogleAccess
	}
	sn.LogConfig = normalizeLogConfig(sn.LogConfig, sn.EnableFlowLogs)
	// Output-only fields a caller may have copied from a GET are not taken over.
	sn.UtilizationDetails, sn.Params, sn.SystemReservedExternalIpv6Ranges, sn.SystemReservedInternalIpv6Ranges = nil, nil, nil, nil
	sn.InternalIpv6Prefix, sn.ExternalIpv6Prefix, sn.Ipv6CidrRange, sn.Ipv6GceEndpoint = "", "", "", ""
	assignIPv6Locked(w, project, network, sn, in.InternalIpv6Prefix) // dualstack.go
	return sn
}

// subnetRanges are the ranges a subnetwork uses, as NetworkRangesLocked reports them.
func subnetRanges(sn *compute.Subnetwork, region string) []world.NetworkRange {
	var out []world.NetworkRange
	if p, err := netip.ParsePrefix(sn.IpCidrRange); err == nil {
		out = append(out, world.NetworkRange{Prefix: p, Kind: "subnetwork", Name: sn.Name, Region: region})
	}
	for _, r := range sn.SecondaryIpRanges {
		if p, err := netip.ParsePrefix(r.IpCidrRange); err == nil {
			out = append(out, world.NetworkRange{Prefix: p, Kind: "secondary range", Name: sn.Name, Region: region})
		}
	}
	return out
}

func renderSubnetworkLocked(w *world.World, project, region string, sn *compute.Subnetwork, withUtilization bool) *compute.Subnetwork {
	c := clone(sn)
	c.ForceSendFields = []string{"PrivateIpGoogleAccess"}
	if c.LogConfig != nil {
		c.LogConfig.ForceSendFields = []string{"Enable"}
	}
	if withUtilization {
		c.UtilizationDetails = utilizationLocked(w, project, region, sn)
	}
	return c
}

// utilizationLocked reports a subnetwork's IPv4 use: in the primary range, 16 addresses per
// Direct VPC reservation block plus the internal addresses reserved in it, out of the usable
// addresses (the range less the 4 Google Cloud reserves). Addresses VMs, load balancers or
// connector instances take are not modelled. Secondary ranges are reported unused.
func utilizationLocked(w *world.World, project, region string, sn *compute.Subnetwork) *compute.SubnetworkUtilizationDetails {
	p, err := netip.ParsePrefix(sn.IpCidrRange)
	if err != nil {
		return nil
	}
	key := world.RegionalKey(project, region, sn.Name)
	allocated := int64(ipam.DirectVPCBlockSize * len(w.ReservationsLocked(key)))
	for _, a := range userAddressesInSubnetLocked(w, project, region, sn.Name) {
		allocated += addressSize(a)
	}
	free := int64(ipam.Usable(p)) - allocated
	if free < 0 {
		free = 0
	}
	out := &compute.SubnetworkUtilizationDetails{Ipv4Utilizations: []*compute.SubnetworkUtilizationDetailsIPV4Utilization{{
		TotalAllocatedIp: allocated, TotalFreeIp: free, ForceSendFields: []string{"TotalAllocatedIp", "TotalFreeIp"},
	}}}
	for _, r := range sn.SecondaryIpRanges {
		if sp, err := netip.ParsePrefix(r.IpCidrRange); err == nil {
			out.Ipv4Utilizations = append(out.Ipv4Utilizations, &compute.SubnetworkUtilizationDetailsIPV4Utilization{
				RangeName: r.RangeName, TotalFreeIp: int64(ipam.Size(sp)), ForceSendFields: []string{"TotalAllocatedIp", "TotalFreeIp"},
			})
		}
	}
	return out
}

// subnetUserLocked returns the path of a resource that keeps the subnetwork from being
// deleted, or "": a Direct VPC reservation (serverless-ipv4-* address, which Cloud Run keeps
// for a while after its instances stop), an internal address, or a connector built on it.
func subnetUserLocked(w *world.World, project, region, name string) string {
	key := world.RegionalKey(project, region, name)
	if rs := w.ReservationsLocked(key); len(rs) > 0 {
		return regionalPath(project, region, "addresses", rs[0].Name)
	}
	if as := userAddressesInSubnetLocked(w, project, region, name); len(as) > 0 {
		return regionalPath(project, region, "addresses", as[0].Name)
	}
	for _, k := range world.SortedKeys(w.S.Connectors) {
		c := w.S.Connectors[k]
		parts := strings.Split(k, "/") // projects/P/locations/L/connectors/C
		if len(parts) != 6 || c.GetSubnet().GetName() == "" || parts[3] != region {
			continue
		}
		sp := c.GetSubnet().GetProjectId()
		if sp == "" {
			sp = parts[1]
		}
		if sp == project && c.GetSubnet().GetName() == name {
			return connectorInstancePath(parts[1], region, parts[5])
		}
	}
	for _, f := range flightsLocked(w) {
		if f.insert && f.subnet == key {
			return f.path
		}
	}
	return ""
}

// PutSubnetworkLocked validates a subnetwork like subnetworks.insert, fills every output field
// as the completed insert would and stores it at once, without an operation. The lock must be
// held.
func PutSubnetworkLocked(w *world.World, project, region string, s *compute.Subnetwork) (*compute.Subnetwork, error) {
	if s == nil {
		return nil, errors.New("computeapi: put subnetwork: nil subnetwork")
	}
	if !world.IsRegion(region) {
		return nil, fmt.Errorf("put subnetwork %s: %w", s.Name, errUnknownRegion(region))
	}
	network, aerr := validateSubnetworkLocked(w, project, region, s)
	if aerr != nil {
		return nil, fmt.Errorf("put subnetwork %s: %w", s.Name, aerr)
	}
	sn := buildSubnetworkLocked(w, project, region, network, s)
	w.S.Subnetworks[world.RegionalKey(project, region, sn.Name)] = sn
	w.MarkChangedLocked()
	return renderSubnetworkLocked(w, project, region, sn, false), nil
}

func (s *server) subnetworksInsert(r *http.Request, p params) (any, *apiError) {
	var in compute.Subnetwork
	return s.mutate(r, p, &in, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project, region := p["project"], p["region"]
		network, aerr := validateSubnetworkLocked(s.w, project, region, &in)
		if aerr != nil {
			return nil, aerr
		}
		sn := buildSubnetworkLocked(s.w, project, region, network, &in)
		fl := flight{network: project + "/" + network, ranges: subnetRanges(sn, region)}
		return subnetworks.insertLocked(s.w, p.target(sn.Name), rid, sn, sn.Id, fl, func() *apiError {
			if _, ok := s.w.S.Networks[world.GlobalKey(project, network)]; !ok {
				return errNotFound(networkPath(project, network))
			}
			return nil
		}), nil
	})
}

func (s *server) subnetworksGet(r *http.Request, p params) (any, *apiError) {
	util := r.URL.Query().Get("views") == utilizationView
	return subnetworks.get(s.w, p, func(sn *compute.Subnetwork) any {
		return renderSubnetworkLocked(s.w, p["project"], p["region"], sn, util)
	})
}

// subnetItems returns the list items of subnetworks, shown with their utilization or not.
func subnetItems(withUtilization bool) itemsFunc {
	return func(w *world.World, project, region string) []listItem {
		return subnetworks.itemsLocked(w, project, region, func(sn *compute.Subnetwork) listItem {
			return toItem(renderSubnetworkLocked(w, project, region, sn, withUtilization), sn.Name, sn.CreationTimestamp)
		})
	}
}

func (s *server) subnetworksList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#subnetwork", "subnetworks", subnetItems(r.URL.Query().Get("views") == utilizationView))
}

// regionScopes lists every region scope of an aggregated list, with "global" first when the
// caller asked for all scopes. Zonal scopes, which the real API adds too, are left out: the
// emulator knows no zones.
func regionScopes(lp listParams, items func(region string) []listItem) []scopeItems {
	var scopes []scopeItems
	if lp.includeAllScopes {
		scopes = append(scopes, scopeItems{scope: "global"})
	}
	for _, region := range world.RegionNames() {
		scopes = append(scopes, scopeItems{scope: "regions/" + region, items: items(region)})
	}
	return scopes
}

func (s *server) subnetworksAggregated(r *http.Request, p params) (any, *apiError) {
	return s.aggregated(r, p, "compute#subnetwork", "subnetworks", subnetItems(r.URL.Query().Get("views") == utilizationView))
}

// subnetChangeLocked starts the operation of a subnetwork change other than insert and delete:
// it gives updated a new fingerprint and stores it when the operation completes; newRanges
// count in overlap checks meanwhile.
func subnetChangeLocked(w *world.World, t target, rid, opType string, cur, updated *compute.Subnetwork, newRanges []world.NetworkRange) *compute.Operation {
	updated.Fingerprint = randomFingerprint()
	fl := flight{network: t.project + "/" + world.NetworkName(cur.Network), ranges: newRanges}
	return subnetworks.replaceLocked(w, t, opType, rid, cur.Id, fl, updated)
}

// expandLocked checks a new primary range for cur: it must contain the current one and be
// larger, and must not overlap anything else in the network.
func expandLocked(w *world.World, project, region string, cur *compute.Subnetwork, v string) (netip.Prefix, *apiError) {
	const field = "resource.ipCidrRange"
	p, aerr := parseSubnetRange(field, v)
	if aerr != nil {
		return p, aerr
	}
	old := netip.MustParsePrefix(cur.IpCidrRange)
	if p.Bits() >= old.Bits() || !ipam.Contains(p, old) {
		return p, errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. The new range must contain the current range %s and be larger: a subnetwork's primary range can only be expanded.", field, v, old))
	}
	network := world.NetworkName(cur.Network)
	skip := func(nr world.NetworkRange) bool {
		return nr.Kind == "subnetwork" && nr.Name == cur.Name && nr.Region == region
	}
	if nr, ok := conflictLocked(w, project, network, p, skip); ok {
		return p, errOverlap(field, p, nr)
	}
	return p, nil
}

// subnetworksPatch applies a JSON merge patch. Compute docs (subnetworks.patch): the current
// fingerprint must be supplied; description, privateIpGoogleAccess, logConfig (and the older
// enableFlowLogs), secondaryIpRanges, privateIpv6GoogleAccess and an expansion of ipCidrRange
// can change. Other fields must keep their values.
func (s *server) subnetworksPatch(r *http.Request, p params) (any, *apiError) {
	var patch compute.Subnetwork
	return s.mutate(r, p, &patch, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		return subnetPatchLocked(s.w, p.target(p["name"]), rid, &patch, present)
	})
}

func subnetPatchLocked(w *world.World, t target, rid string, patch *compute.Subnetwork, present map[string]json.RawMessage) (any, *apiError) {
	project, region := t.project, t.region
	cur, aerr := subnetworks.getLocked(w, t)
	if aerr != nil {
		return nil, aerr
	}
	if !sameBytes(patch.Fingerprint, cur.Fingerprint) {
		return nil, errFingerprint()
	}
	if cur, aerr = subnetworks.currentLocked(w, t); aerr != nil {
		return nil, aerr
	}
	updated := clone(cur)
	network := world.NetworkName(cur.Network)
	var newRanges []world.NetworkRange
	for _, k := range sortedKeys(present) {
		null := isNull(present[k])
		switch k {
		case "description":
			updated.Description = patch.Description
		case "privateIpGoogleAccess":
			updated.PrivateIpGoogleAccess = patch.PrivateIpGoogleAccess
		case "privateIpv6GoogleAccess":
			if aerr := checkEnum("resource.privateIpv6GoogleAccess", patch.PrivateIpv6GoogleAccess,
				"DISABLE_GOOGLE_ACCESS", "ENABLE_BIDIRECTIONAL_ACCESS_TO_GOOGLE", "ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE"); aerr != nil {
				return nil, aerr
			}
			if patch.PrivateIpv6GoogleAccess != "" {
				updated.PrivateIpv6GoogleAccess = patch.PrivateIpv6GoogleAccess
			}
		case "logConfig":
			if null {
				updated.LogConfig = nil
				continue
			}
			if aerr := validateLogConfig(patch.LogConfig); aerr != nil {
				return nil, aerr
			}
			updated.LogConfig = normalizeLogConfig(patch.LogConfig, false)
		case "enableFlowLogs":
			updated.EnableFlowLogs = patch.EnableFlowLogs
			if _, both := present["logConfig"]; !both {
				lc := clone(updated.LogConfig)
				if lc == nil {
					lc = &compute.SubnetworkLogConfig{}
				}
				lc.Enable = patch.EnableFlowLogs
				updated.LogConfig = normalizeLogConfig(lc, false)
			}
		case "secondaryIpRanges":
			primary := netip.MustParsePrefix(cur.IpCidrRange)
			ps, aerr := checkSecondaryRanges(patch.SecondaryIpRanges, primary)
			if aerr != nil {
				return nil, aerr
			}
			skip := func(nr world.NetworkRange) bool {
				return nr.Kind == "secondary range" && nr.Name == cur.Name && nr.Region == region
			}
			for i, sp := range ps {
				if nr, ok := conflictLocked(w, project, network, sp, skip); ok {
					return nil, errOverlap(fmt.Sprintf("resource.secondaryIpRanges[%d].ipCidrRange", i), sp, nr)
				}
				newRanges = append(newRanges, world.NetworkRange{Prefix: sp, Kind: "secondary range", Name: cur.Name, Region: region})
			}
			updated.SecondaryIpRanges = patch.SecondaryIpRanges
		case "ipCidrRange":
			if patch.IpCidrRange == cur.IpCidrRange {
				continue
			}
			np, aerr := expandLocked(w, project, region, cur, patch.IpCidrRange)
			if aerr != nil {
				return nil, aerr
			}
			updated.IpCidrRange = np.String()
			newRanges = append(newRanges, world.NetworkRange{Prefix: np, Kind: "subnetwork", Name: cur.Name, Region: region})
		case "stackType", "ipv6AccessType", "internalIpv6Prefix":
			if aerr := patchStackLocked(w, t, cur, updated, patch, present); aerr != nil { // dualstack.go
				return nil, aerr
			}
		case "name", "network", "region", "purpose", "role":
			if aerr := unchangedSubnetField(k, cur, patch); aerr != nil {
				return nil, aerr
			}
		}
		// Output-only fields copied from a GET (id, kind, selfLink, gatewayAddress, state,
		// fingerprint, ...) are ignored.
	}
	return subnetChangeLocked(w, t, rid, "patch", cur, updated, newRanges), nil
}

// unchangedSubnetField refuses a patch that changes a field subnetworks.patch cannot change.
func unchangedSubnetField(k string, cur, patch *compute.Subnetwork) *apiError {
	var old, v string
	same := false
	switch k {
	case "name":
		old, v = cur.Name, patch.Name
		same = v == old
	case "network":
		old, v = cur.Network, patch.Network
		same = world.NetworkName(v) == world.NetworkName(old)
	case "region":
		old, v = cur.Region, patch.Region
		same = world.NetworkName(v) == world.NetworkName(old)
	case "stackType":
		old, v = cur.StackType, patch.StackType
		same = v == "" || v == old
	case "purpose":
		old, v = cur.Purpose, patch.Purpose
		same = v == "" || v == old
	case "role":
		old, v = cur.Role, patch.Role
		same = v == old
	}
	if same {
		return nil
	}
	return errInvalid(fmt.Sprintf("Invalid value for field 'resource.%s': '%s'. The field cannot be changed from '%s'.", k, v, old))
}

func (s *server) subnetworksSetPrivateIPGoogleAccess(r *http.Request, p params) (any, *apiError) {
	var req compute.SubnetworksSetPrivateIpGoogleAccessRequest
	return s.mutate(r, p, &req, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		cur, aerr := subnetworks.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		updated := clone(cur)
		updated.PrivateIpGoogleAccess = req.PrivateIpGoogleAccess
		return subnetChangeLocked(s.w, t, rid, "setPrivateIpGoogleAccess", cur, updated, nil), nil
	})
}

func (s *server) subnetworksExpand(r *http.Request, p params) (any, *apiError) {
	var req compute.SubnetworksExpandIpCidrRangeRequest
	return s.mutate(r, p, &req, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		cur, aerr := subnetworks.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		np, aerr := expandLocked(s.w, t.project, t.region, cur, req.IpCidrRange)
		if aerr != nil {
			return nil, aerr
		}
		updated := clone(cur)
		updated.IpCidrRange = np.String()
		nr := []world.NetworkRange{{Prefix: np, Kind: "subnetwork", Name: cur.Name, Region: t.region}}
		return subnetChangeLocked(s.w, t, rid, "expandIpCidrRange", cur, updated, nr), nil
	})
}

func (s *server) subnetworksDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project, region, name := p["project"], p["region"], p["name"]
		t := p.target(name)
		cur, aerr := subnetworks.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		if isAutoSubnet(s.w.S.Networks[world.GlobalKey(project, world.NetworkName(cur.Network))], cur) {
			return nil, errInvalid("Invalid resource usage: 'Cannot delete auto subnetworks from an auto subnet mode network.'")
		}
		inUse := func(*compute.Subnetwork) *apiError {
			if user := subnetUserLocked(s.w, project, region, name); user != "" {
				return errInUse("subnetwork", subnetworks.path(t), user)
			}
			return nil
		}
		if aerr := inUse(cur); aerr != nil {
			return nil, aerr
		}
		return subnetworks.deleteLocked(s.w, t, rid, cur.Id, func(sn *compute.Subnetwork) *apiError {
			if aerr := inUse(sn); aerr != nil {
				return aerr
			}
			delete(s.w.S.Dir.Policies, subnetworks.path(t)) // a policy goes with its resource
			return nil
		}), nil
	})
}

// subnetworksListUsable answers subnetworks.listUsable (GET
// projects/P/aggregated/subnetworks/listUsable, `gcloud compute networks subnets
// list-usable`): the subnets of P and of its Shared VPC host on which the caller holds
// compute.subnetworks.use, as UsableSubnetwork entries in a flat items list (Compute
// reference, subnetworks.listUsable: "Retrieves an aggregated list of all usable
// subnetworks in the project", kind compute#usableSubnetworksAggregatedList), paged by
// maxResults and pageToken. With no known caller every subnet is usable.
func (s *server) subnetworksListUsable(r *http.Request, p params) (any, *apiError) {
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	project := p["project"]
	s.w.Lock()
	projects := []string{project}
	if host := s.w.XpnHostOfLocked(project); host != "" && host != project {
		projects = append(projects, host)
	}
	var items []listItem
	for _, proj := range projects {
		for _, region := range world.RegionNames() {
			var usable []*compute.Subnetwork
			subnetworks.itemsLocked(s.w, proj, region, func(sn *compute.Subnetwork) listItem {
				if s.w.CallerMayLocked(r.Context(), subnetPath(proj, region, sn.Name), "compute.subnetworks.use") {
					usable = append(usable, sn)
				}
				return listItem{}
			})
			for _, sn := range usable {
				u := &compute.UsableSubnetwork{
					Subnetwork: linkBase + subnetPath(proj, region, sn.Name), Network: sn.Network, IpCidrRange: sn.IpCidrRange,
					StackType: sn.StackType, Ipv6AccessType: sn.Ipv6AccessType, InternalIpv6Prefix: sn.InternalIpv6Prefix,
					ExternalIpv6Prefix: sn.ExternalIpv6Prefix, Purpose: sn.Purpose, Role: sn.Role,
				}
				for _, sr := range sn.SecondaryIpRanges {
					u.SecondaryIpRanges = append(u.SecondaryIpRanges, &compute.UsableSubnetworkSecondaryRange{RangeName: sr.RangeName, IpCidrRange: sr.IpCidrRange})
				}
				items = append(items, toItem(u, sn.Name, sn.CreationTimestamp))
			}
		}
	}
	s.w.Unlock()
	return lp.list("compute#usableSubnetworksAggregatedList", "projects/"+project+"/aggregated/subnetworks/listUsable", items)
}
