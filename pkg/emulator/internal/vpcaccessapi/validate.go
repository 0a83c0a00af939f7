package vpcaccessapi

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// plan is a create request that passed the request-time checks: the connector to store
// (normalized, output fields clear) and how its operation will end.
type plan struct {
	project, region, parent, name string
	conn                          *vpcaccesspb.Connector
	// noMax: neither max_instances nor max_throughput was given; the operation fails.
	noMax bool
	// overlap describes the range the connector's ip_cidr_range conflicts with, if any; the
	// operation fails and leaves the connector in ERROR.
	overlap string
}

// opError is how the operation of p ends: nil when it succeeds.
func (p *plan) opError() *status.Status {
	switch {
	case p.noMax:
		return status.New(codes.InvalidArgument, msgNoMax)
	case p.overlap != "":
		return status.New(codes.InvalidArgument, msgOverlap)
	}
	return nil
}

// planLocked runs every check a create request gets before an operation starts, in the order
// the checks are made: the parent, the ID, the fields, the name (ALREADY_EXISTS), then the
// network or subnet the connector goes into. Overlaps and a missing maximum are recorded in
// the plan for the operation to report.
func planLocked(w *world.World, parent, id string, in *vpcaccesspb.Connector) (*plan, error) {
	project, region, err := parseParent(parent)
	if err != nil {
		return nil, err
	}
	if !connectorIDPattern.MatchString(id) {
		return nil, invalid("%s", msgBadID)
	}
	if in == nil {
		return nil, invalid("%s", msgNoConnector)
	}
	p := &plan{project: project, region: region, parent: parentName(project, region), name: connectorName(project, region, id)}
	c := proto.Clone(in).(*vpcaccesspb.Connector)
	c.Name = p.name
	c.State = vpcaccesspb.Connector_STATE_UNSPECIFIED
	c.ConnectedProjects = nil
	if c.MachineType == "" {
		c.MachineType = defaultMachineType
	}
	if !slices.Contains(machineTypes, c.MachineType) {
		return nil, invalid("Machine type %q is not supported. Supported machine types are: %s.", c.MachineType, strings.Join(machineTypes, ", "))
	}
	if p.noMax, err = sizeConnector(c); err != nil {
		return nil, err
	}
	if _, ok := w.S.Connectors[p.name]; ok {
		return nil, status.Error(codes.AlreadyExists, msgAlreadyExists)
	}
	if err := placeLocked(w, p, c); err != nil {
		return nil, err
	}
	p.conn = c
	return p, nil
}

// sizeConnector checks and fills the instance and throughput fields of c. Instances win over
// throughput; a side given only as throughput maps to throughput / throughputPerInstance
// instances; the response carries both on each side. It reports noMax when no maximum was
// given at all (the real API fails the operation then, and fills nothing).
func sizeConnector(c *vpcaccesspb.Connector) (noMax bool, err error) {
	if t := c.MinThroughput; t != 0 && (t%throughputStep != 0 || t < minThroughputLow || t > minThroughputHigh) {
		return false, invalid("%s", msgMinThroughput)
	}
	if t := c.MaxThroughput; t != 0 && (t%throughputStep != 0 || t < maxThroughputLow || t > maxThroughputHigh) {
		return false, invalid("%s", msgMaxThroughput)
	}
	if n := c.MinInstances; n != 0 && (n < minInstancesLow || n > minInstancesHigh) {
		return false, invalid("%s", msgMinInstances)
	}
	if n := c.MaxInstances; n != 0 && (n < maxInstancesLow || n > maxInstancesHigh) {
		return false, invalid("%s", msgMaxInstances)
	}
	minFromThroughput := c.MinInstances == 0 && c.MinThroughput != 0
	maxFromThroughput := c.MaxInstances == 0 && c.MaxThroughput != 0
	switch {
	case c.MinInstances != 0:
	case c.MinThroughput != 0:
		c.MinInstances = c.MinThroughput / throughputPerInstance
	default:
		c.MinInstances = defaultMinInstances
	}
	c.MinThroughput = c.MinInstances * throughputPerInstance
	switch {
	case c.MaxInstances != 0:
	case c.MaxThroughput != 0:
		c.MaxInstances = c.MaxThroughput / throughputPerInstance
	default:
		return true, nil
	}
	c.MaxThroughput = c.MaxInstances * throughputPerInstance
	if c.MinInstances >= c.MaxInstances {
		if minFromThroughput && maxFromThroughput {
			return false, invalid("%s", msgThroughputOrder)
		}
		return false, invalid("%s", msgMinBelowMax)
	}
	return false, nil
}

// placeLocked checks where the connector goes: exactly one of an ip_cidr_range in a network of
// the connector's project, or an existing, unused /28 subnet of the connector's region.
func placeLocked(w *world.World, p *plan, c *vpcaccesspb.Connector) error {
	hasRange := c.IpCidrRange != ""
	hasSubnet := c.Subnet != nil && (c.Subnet.Name != "" || c.Subnet.ProjectId != "")
	if hasRange == hasSubnet {
		return invalid("%s", msgRangeOrSubnet)
	}
	if hasRange {
		return placeRangeLocked(w, p, c)
	}
	return placeSubnetLocked(w, p, c)
}

func placeRangeLocked(w *world.World, p *plan, c *vpcaccesspb.Connector) error {
	if c.Network == "" {
		return invalid("%s", msgNetworkNeeded)
	}
	network := world.NetworkName(c.Network)
	if _, ok := w.S.Networks[world.GlobalKey(p.project, network)]; !ok {
		return invalid("Network %q does not exist in project %q.", network, p.project)
	}
	prefix, err := ipam.ParsePrefix(c.IpCidrRange)
	if err != nil {
		return invalid("Invalid IP CIDR range was provided: %v.", err)
	}
	if prefix.Bits() != ipam.ConnectorPrefix {
		return invalid("Invalid IP CIDR range was provided: %s is not a /%d range.", prefix, ipam.ConnectorPrefix)
	}
	if !inSpace(prefix) {
		return invalid("Invalid IP CIDR range was provided: %s is not an internal (RFC 1918 or RFC 6598) range.", prefix)
	}
	for _, r := range w.NetworkRangesLocked(p.project, network) {
		if r.Kind == "connector" {
			other := connectorName(p.project, r.Region, r.Name)
			if oc, ok := w.S.Connectors[other]; other == p.name || ok && oc.State == vpcaccesspb.Connector_ERROR {
				// A connector left in ERROR never got its hidden subnet.
				continue
			}
		}
		if ipam.Overlaps(r.Prefix, prefix) {
			p.overlap = fmt.Sprintf("%s %s %q in region %q", r.Prefix, r.Kind, r.Name, r.Region)
			break
		}
	}
	return nil
}

func placeSubnetLocked(w *world.World, p *plan, c *vpcaccesspb.Connector) error {
	if c.Subnet.Name == "" {
		return invalid("Subnet name must be specified.")
	}
	subnetProject := subnetProjectOf(p.project, c.Subnet)
	path := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", subnetProject, p.region, c.Subnet.Name)
	sn, ok := w.S.Subnetworks[world.RegionalKey(subnetProject, p.region, c.Subnet.Name)]
	if !ok {
		return invalid("Subnetwork %q does not exist.", path)
	}
	if c.Network != "" && world.NetworkName(c.Network) != world.NetworkName(sn.Network) {
		return invalid("Subnetwork %q does not belong to network %q.", path, world.NetworkName(c.Network))
	}
	prefix, err := ipam.ParsePrefix(sn.IpCidrRange)
	if err != nil || prefix.Bits() != ipam.ConnectorPrefix {
		return invalid("Subnetwork %q must have a /%d primary IP range, not %s.", path, ipam.ConnectorPrefix, sn.IpCidrRange)
	}
	for _, k := range world.SortedKeys(w.S.Connectors) {
		oc := w.S.Connectors[k]
		if k == p.name || oc.Subnet == nil || oc.Subnet.Name != c.Subnet.Name {
			continue
		}
		oproject, oregion, _, err := parseName(k)
		if err == nil && oregion == p.region && subnetProjectOf(oproject, oc.Subnet) == subnetProject {
			return invalid("Subnetwork %q is already used by connector %q.", path, k)
		}
	}
	if rs := w.ReservationsLocked(world.RegionalKey(subnetProject, p.region, c.Subnet.Name)); len(rs) > 0 {
		return invalid("Subnetwork %q is already used by %q.", path, fmt.Sprintf("projects/%s/regions/%s/addresses/%s", subnetProject, p.region, rs[0].Name))
	}
	for _, k := range world.SortedKeys(w.S.Addresses) {
		if a := w.S.Addresses[k]; a.Subnetwork != "" && strings.HasSuffix(a.Subnetwork, path) {
			return invalid("Subnetwork %q is already used by %q.", path, fmt.Sprintf("projects/%s/regions/%s/addresses/%s", subnetProject, p.region, a.Name))
		}
	}
	return nil
}

// subnetProjectOf is the project of a connector's subnet: project_id, else the connector's.
func subnetProjectOf(connectorProject string, s *vpcaccesspb.Connector_Subnet) string {
	if s.GetProjectId() != "" {
		return s.GetProjectId()
	}
	return connectorProject
}

func inSpace(p netip.Prefix) bool {
	for _, s := range connectorSpace {
		if ipam.Contains(s, p) {
			return true
		}
	}
	return false
}
