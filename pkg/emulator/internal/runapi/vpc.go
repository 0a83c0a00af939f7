package runapi

import (
	"errors"
	"fmt"
	"regexp"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// This file is the one place that knows how Cloud Run treats template.vpc_access, for
// services, jobs and worker pools alike: the synchronous request validation, and the checks
// made when a revision or an execution starts (connector present, READY and in the region;
// Direct VPC network and subnetwork present, in the region, large enough and with free /28
// blocks).

const computeURL = "https://www.googleapis.com/compute/v1/"

var (
	connectorNameRE = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/connectors/([^/]+)$`)
	networkPathRE   = regexp.MustCompile(`^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/global/networks/([^/]+)$`)
	subnetPathRE    = regexp.MustCompile(`^(?:https://www\.googleapis\.com/compute/v1/)?projects/([^/]+)/regions/([^/]+)/subnetworks/([^/]+)$`)
)

// emptyVPCAccess reports whether va configures nothing (no connector, no interface, no
// egress), which Cloud Run treats as no VPC access at all.
func emptyVPCAccess(va *runpb.VpcAccess) bool {
	return va == nil || (va.GetConnector() == "" && len(va.GetNetworkInterfaces()) == 0 && va.GetEgress() == runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED)
}

// validateVPCAccess checks vpc_access as the API does when the request arrives; field is its
// path in the request, e.g. "UpdateServiceRequest.service.template.vpc_access". Worker pools
// cannot use connectors.
func validateVPCAccess(field string, va *runpb.VpcAccess, workerPool bool) error {
	if emptyVPCAccess(va) {
		return nil
	}
	hasConn, hasNI := va.GetConnector() != "", len(va.GetNetworkInterfaces()) > 0
	if workerPool && hasConn {
		return errViolation(field+".connector", "worker pools do not support Serverless VPC Access connectors; use network_interfaces (Direct VPC egress) instead.")
	}
	if hasConn == hasNI {
		return errViolation(field+".connector", "one and only one of connector and network_interfaces must be set.")
	}
	if e := va.GetEgress(); e != runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED && e != runpb.VpcAccess_ALL_TRAFFIC && e != runpb.VpcAccess_PRIVATE_RANGES_ONLY {
		return errViolation(field+".egress", fmt.Sprintf("unknown egress value %d.", int32(e)))
	}
	if hasConn {
		m := connectorNameRE.FindStringSubmatch(va.GetConnector())
		if m == nil || !validLabel(m[3]) {
			return errViolation(field+".connector", fmt.Sprintf("connector %q must be of the form projects/{project}/locations/{location}/connectors/{connector}.", va.GetConnector()))
		}
		return nil
	}
	nis := va.GetNetworkInterfaces()
	if len(nis) > 1 {
		return errViolation(field+".network_interfaces", "only one network interface is supported.")
	}
	ni := nis[0]
	f := field + ".network_interfaces[0]"
	if ni.GetNetwork() == "" && ni.GetSubnetwork() == "" {
		return errViolation(f, "at least one of network or subnetwork must be set.")
	}
	if n := ni.GetNetwork(); n != "" && !validLabel(n) && !networkPathRE.MatchString(n) {
		return errViolation(f+".network", fmt.Sprintf("%q is neither a network name nor projects/{project}/global/networks/{network}.", n))
	}
	if s := ni.GetSubnetwork(); s != "" && !validLabel(s) && !subnetPathRE.MatchString(s) {
		return errViolation(f+".subnetwork", fmt.Sprintf("%q is neither a subnetwork name nor projects/{project}/regions/{region}/subnetworks/{subnetwork}.", s))
	}
	for i, tag := range ni.GetTags() {
		if !validLabel(tag) {
			return errViolation(fmt.Sprintf("%s.tags[%d]", f, i), fmt.Sprintf("network tag %q must be 1 to 63 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen (RFC 1035).", tag))
		}
	}
	return nil
}

// vpcFailure is why VPC settings cannot work: the message Cloud Run shows and the condition
// reason it goes with.
type vpcFailure struct {
	msg    string
	reason runpb.Condition_CommonReason
}

// directTarget is the subnetwork a Direct VPC workload takes its addresses from.
type directTarget struct {
	project, region, subnet string
}

func (t *directTarget) selfLink() string {
	return computeURL + "projects/" + t.project + "/regions/" + t.region + "/subnetworks/" + t.subnet
}

// insufficientIPs is Cloud Run's message when a subnet has no room for an instance (quoted in
// GoogleCloudPlatform/enterprise-knowledge-solution#172).
func insufficientIPs(t *directTarget) string {
	return "Instance failed to start because of insufficient free IP addresses in the subnetwork " + t.selfLink() +
		" when attempting to create an address in the subnetwork. Please consider moving to a subnetwork with more available IP addresses."
}

// connectorMissing is Cloud Run's failure for a connector that does not exist (quoted in
// DESIGN.md's table of real error texts).
func connectorMissing(name string) *vpcFailure {
	return &vpcFailure{msg: "VPC connector " + name + " does not exist, or Cloud Run does not have permission to use it.", reason: runpb.Condition_VPC_NETWORK_NOT_FOUND}
}

func failf(reason runpb.Condition_CommonReason, format string, args ...any) *vpcFailure {
	return &vpcFailure{msg: fmt.Sprintf(format, args...), reason: reason}
}

// checkVPCLocked checks, as Cloud Run does when a revision or an execution starts, that va can
// work for a workload in l. For Direct VPC egress it returns the subnetwork to take addresses
// from (nil for connectors and for no VPC access). It does not look at free addresses.
func checkVPCLocked(w *world.World, l loc, va *runpb.VpcAccess) (*directTarget, *vpcFailure) {
	if emptyVPCAccess(va) {
		return nil, nil
	}
	if c := va.GetConnector(); c != "" {
		return nil, checkConnectorLocked(w, l, c)
	}
	if len(va.GetNetworkInterfaces()) == 0 {
		return nil, nil
	}
	return checkDirectLocked(w, l, va.GetNetworkInterfaces()[0])
}

func checkConnectorLocked(w *world.World, l loc, name string) *vpcFailure {
	conn, ok := w.S.Connectors[name]
	if !ok {
		return connectorMissing(name)
	}
	if m := connectorNameRE.FindStringSubmatch(name); m != nil && m[2] != l.region {
		return failf(runpb.Condition_REVISION_FAILED, "VPC connector %s is in region %s, but the workload is in region %s; a connector must be in the same region as the workloads that use it.", name, m[2], l.region)
	}
	if st := conn.GetState().String(); st != "READY" {
		return failf(runpb.Condition_REVISION_FAILED, "VPC connector %s is not ready: its state is %s.", name, st)
	}
	return egressAccessLocked(w, l, world.EgressTarget{Connector: name})
}

func checkDirectLocked(w *world.World, l loc, ni *runpb.VpcAccess_NetworkInterface) (*directTarget, *vpcFailure) {
	netProject, netName := l.project, ""
	if n := ni.GetNetwork(); n != "" {
		if m := networkPathRE.FindStringSubmatch(n); m != nil {
			netProject, netName = m[1], m[2]
		} else {
			netName = n
		}
		if _, ok := w.S.Networks[world.GlobalKey(netProject, netName)]; !ok {
			return nil, failf(runpb.Condition_VPC_NETWORK_NOT_FOUND, "VPC network projects/%s/global/networks/%s does not exist, or Cloud Run does not have permission to use it.", netProject, netName)
		}
	}
	t := &directTarget{project: netProject, region: l.region, subnet: netName}
	if s := ni.GetSubnetwork(); s != "" {
		if m := subnetPathRE.FindStringSubmatch(s); m != nil {
			t = &directTarget{project: m[1], region: m[2], subnet: m[3]}
		} else {
			t.subnet = s
		}
	}
	if t.region != l.region {
		return nil, failf(runpb.Condition_REVISION_FAILED, "VPC subnetwork projects/%s/regions/%s/subnetworks/%s is in region %s, but the workload is in region %s; Direct VPC egress needs a subnetwork in the same region.", t.project, t.region, t.subnet, t.region, l.region)
	}
	sn, ok := w.S.Subnetworks[world.RegionalKey(t.project, t.region, t.subnet)]
	if !ok {
		return nil, failf(runpb.Condition_VPC_NETWORK_NOT_FOUND, "VPC subnetwork projects/%s/regions/%s/subnetworks/%s does not exist, or Cloud Run does not have permission to use it.", t.project, t.region, t.subnet)
	}
	snNetProject, snNet := t.project, world.NetworkName(sn.Network)
	if m := networkPathRE.FindStringSubmatch(sn.Network); m != nil {
		snNetProject, snNet = m[1], m[2]
	}
	if netName != "" && (snNet != netName || snNetProject != netProject) {
		return nil, failf(runpb.Condition_REVISION_FAILED, "VPC subnetwork projects/%s/regions/%s/subnetworks/%s does not belong to network projects/%s/global/networks/%s.", t.project, t.region, t.subnet, netProject, netName)
	}
	if netName == "" {
		if _, ok := w.S.Networks[world.GlobalKey(snNetProject, snNet)]; !ok {
			return nil, failf(runpb.Condition_VPC_NETWORK_NOT_FOUND, "VPC network projects/%s/global/networks/%s does not exist, or Cloud Run does not have permission to use it.", snNetProject, snNet)
		}
	}
	p, err := ipam.ParsePrefix(sn.IpCidrRange)
	if err != nil || p.Bits() > ipam.DirectVPCMinPrefix {
		return nil, failf(runpb.Condition_REVISION_FAILED, "VPC subnetwork projects/%s/regions/%s/subnetworks/%s has the primary range %s; Direct VPC egress needs a /%d or larger range.", t.project, t.region, t.subnet, sn.IpCidrRange, ipam.DirectVPCMinPrefix)
	}
	return t, egressAccessLocked(w, l, world.EgressTarget{SubnetProject: t.project, Region: t.region, Subnet: t.subnet})
}

// holdLocked makes owner hold the /28 blocks instances need in t's subnetwork (growing or
// shrinking its reservation); a full subnetwork gives Cloud Run's insufficient-IP failure.
func holdLocked(w *world.World, t *directTarget, owner string, instances int) *vpcFailure {
	err := w.SetHeldBlocksLocked(t.project, t.region, t.subnet, owner, ipam.BlocksForInstances(instances))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, world.ErrNoFreeBlocks):
		return &vpcFailure{msg: insufficientIPs(t), reason: runpb.Condition_REVISION_FAILED}
	default:
		return &vpcFailure{msg: fmt.Sprintf("Cloud Run could not reserve addresses in %s: %v", t.selfLink(), err), reason: runpb.Condition_INTERNAL}
	}
}

// freeBlocksLocked returns how many /28 blocks t's subnetwork can still give.
func freeBlocksLocked(w *world.World, t *directTarget) int {
	total, reserved, err := w.SubnetBlocksLocked(world.RegionalKey(t.project, t.region, t.subnet))
	if err != nil {
		return 0
	}
	return total - reserved
}

// key is the state key of t's subnetwork.
func (t *directTarget) key() string { return world.RegionalKey(t.project, t.region, t.subnet) }

// stopLocked stops owner's instances: its addresses are released after the IP release delay.
func stopLocked(w *world.World, owner string) {
	w.ReleaseOwnerLocked(owner)
	if _, ok := w.S.Instances[owner]; ok {
		delete(w.S.Instances, owner)
		w.MarkChangedLocked()
	}
}
