package egress

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Platform numbers used by the preflight checks. Each is a fact about Google
// Cloud that can change; keep the source in its comment.
const (
	// DefaultDirectVPCInstanceQuota is the default number of instances per
	// revision (or per job execution) that may use Direct VPC egress: 100
	// in most regions, 200 in some, raisable on request. Source: Cloud Run
	// docs, "Direct VPC egress with a VPC network" (limitations: "Cloud Run
	// usage quotas limit the maximum number of instances that you can
	// configure to use Direct VPC egress ... per Cloud Run revision or job
	// execution") and "Quotas and limits"; DESIGN.md section 1.
	DefaultDirectVPCInstanceQuota = 100

	// RolloutOverlapFactor is how many times a migrating workload's address
	// blocks are counted: during a rollout the old and the new revision hold
	// addresses at once, and stopped instances keep theirs for up to 20
	// minutes. Source: Cloud Run docs, "Direct VPC egress with a VPC
	// network" (IP address allocation).
	RolloutOverlapFactor = 2

	// ConnectorStateReady is the state of a connector that can carry
	// traffic. Source: VPC Access API v1, Connector.State (CREATING, READY,
	// UPDATING, DELETING, ERROR).
	ConnectorStateReady = "READY"
)

// Facts is everything the preflight checks need to know, gathered by the
// caller (the cloud adapters) before RunPreflight. It is plain data: a nil
// pointer means "not looked up" and makes the checks that need it report
// StatusSkip.
type Facts struct {
	// Workload is the workload being switched, with its current VPC.
	Workload Workload `json:"workload"`
	// Target is the VPC access to switch to.
	Target VPC `json:"target"`
	// Sharing lists the other workloads that use, or are about to use, the
	// target subnetwork (Direct VPC egress), with their maximum instance
	// counts. The workload being switched is ignored if listed.
	Sharing []SubnetUser `json:"sharing,omitempty"`
	// Network is the target network (Direct VPC egress).
	Network *NetworkFacts `json:"network,omitempty"`
	// Subnet is the target subnetwork (Direct VPC egress).
	Subnet *SubnetFacts `json:"subnet,omitempty"`
	// CurrentSubnet is the subnetwork the workload uses now, when it uses
	// Direct VPC egress; its range identifies today's traffic for the
	// firewall check.
	CurrentSubnet *SubnetFacts `json:"currentSubnet,omitempty"`
	// CurrentConnector is the connector the workload uses now, if any.
	CurrentConnector *ConnectorFacts `json:"currentConnector,omitempty"`
	// TargetConnector is the connector to switch to, if any.
	TargetConnector *ConnectorFacts `json:"targetConnector,omitempty"`
	// NAT lists the Cloud Routers (with their NAT gateways) of the target
	// network and region.
	NAT *NATFacts `json:"nat,omitempty"`
	// Firewall lists the VPC firewall rules of the workload's current
	// network.
	Firewall *FirewallFacts `json:"firewall,omitempty"`
	// Quota is the Direct VPC egress instance quota of the workload's
	// region; nil means unknown (DefaultDirectVPCInstanceQuota is assumed).
	Quota *QuotaFacts `json:"quota,omitempty"`
	// Permissions is the result of testIamPermissions for the caller.
	Permissions *PermissionFacts `json:"permissions,omitempty"`
	// ServiceAgent is what Cloud Run's service agent may do on a target of another project.
	ServiceAgent *ServiceAgentFacts `json:"serviceAgent,omitempty"`
	// Ranges are the IPv4 ranges in use in the target network, VPC-wide, when a
	// subnetwork is to be created in it.
	Ranges *RangeFacts `json:"ranges,omitempty"`
	// CurrentNAT lists the Cloud Routers (with their NAT gateways) of the region in the
	// project of today's network, for nat-egress-ip; nil when today's path uses no VPC or
	// they were not looked up.
	CurrentNAT *NATFacts `json:"currentNat,omitempty"`
	// FirewallPolicies are the firewall policies that apply to the workload's current
	// network in its region (hierarchical, global and regional network policies).
	FirewallPolicies *FirewallPolicyFacts `json:"firewallPolicies,omitempty"`
	// KeepEgressIP is set when the user requires the internet to keep seeing the same
	// source addresses (--keep-egress-ip): nat-egress-ip then fails instead of warning.
	KeepEgressIP bool `json:"keepEgressIp,omitempty"`
	// EnablePrivateGoogleAccess is set when the migration turns Private Google Access on
	// on the target subnetwork before switching (--enable-private-google-access).
	EnablePrivateGoogleAccess bool `json:"enablePrivateGoogleAccess,omitempty"`
	// Metrics is what a read of the service's request metrics found, when its canary is
	// gated on them (metric-gate); nil otherwise.
	Metrics *MetricsFacts `json:"metrics,omitempty"`
}

// RangeFacts lists the IPv4 ranges in use in a VPC network.
type RangeFacts struct {
	// Used are the ranges in use.
	Used []UsedRange `json:"used"`
	// Space is where a free range is looked for (for hints); empty means RFC 1918.
	Space []string `json:"space,omitempty"`
}

// UsedRange is an IPv4 range in use in a VPC network.
type UsedRange struct {
	// CIDR is the range.
	CIDR string `json:"range"`
	// Kind is "subnet", "secondary range" or "connector".
	Kind string `json:"kind"`
	// Name is the subnetwork (NAME or NAME/RANGE for a secondary range) or connector.
	Name string `json:"name"`
	// Region is its region.
	Region string `json:"region"`
}

// Describe names the range for messages: "subnet run-direct-vpc-egress (10.8.0.0/24, region
// asia-northeast1)".
func (u UsedRange) Describe() string {
	return fmt.Sprintf("%s %s (%s, region %s)", u.Kind, u.Name, u.CIDR, u.Region)
}

// Overlap returns the first range in use that overlaps p, leaving out the subnetwork named
// self in region selfRegion (a subnetwork being created again counts as itself).
func (r *RangeFacts) Overlap(p netip.Prefix, self, selfRegion string) (UsedRange, bool) {
	for _, u := range r.Used {
		q, err := netip.ParsePrefix(u.CIDR)
		if err != nil {
			continue
		}
		if u.Kind == "subnet" && u.Name == self && u.Region == selfRegion {
			continue
		}
		if ipam.Overlaps(p, q.Masked()) {
			return u, true
		}
	}
	return UsedRange{}, false
}

// FirstFree returns the first range of bits bits in Space (RFC 1918 by default) that
// overlaps no range in use.
func (r *RangeFacts) FirstFree(bits int) (netip.Prefix, bool) {
	space := ipam.RFC1918
	if len(r.Space) > 0 {
		space = nil
		for _, s := range r.Space {
			if p, err := netip.ParsePrefix(s); err == nil {
				space = append(space, p.Masked())
			}
		}
	}
	var used []netip.Prefix
	for _, u := range r.Used {
		if q, err := netip.ParsePrefix(u.CIDR); err == nil {
			used = append(used, q.Masked())
		}
	}
	return ipam.FindFree(space, used, bits)
}

// SubnetUser is a workload that uses a subnetwork for Direct VPC egress.
type SubnetUser struct {
	// Ref names the workload.
	Ref WorkloadRef `json:"ref"`
	// MaxInstances is its maximum instance count; 0 means its kind's
	// default (see Workload.EffectiveMaxInstances).
	MaxInstances int `json:"maxInstances"`
	// AllTraffic is set when its egress is all-traffic (internet traffic enters the VPC).
	AllTraffic bool `json:"allTraffic,omitempty"`
}

// NetworkFacts describes a VPC network.
type NetworkFacts struct {
	// Name is the network, in any form ParseNetworkRef accepts.
	Name string `json:"name"`
	// Exists is set when the network was found.
	Exists bool `json:"exists"`
}

// SubnetFacts describes a subnetwork.
type SubnetFacts struct {
	// Name is the subnetwork, in any form ParseSubnetRef accepts.
	Name string `json:"name"`
	// Region is its region (a name or a Compute URL).
	Region string `json:"region,omitempty"`
	// Network is the network it belongs to, in any form ParseNetworkRef
	// accepts.
	Network string `json:"network,omitempty"`
	// CIDR is its primary IPv4 range, such as 10.8.0.0/24.
	CIDR string `json:"cidr,omitempty"`
	// Purpose is the Compute purpose (PRIVATE for ordinary subnetworks);
	// empty means PRIVATE.
	Purpose string `json:"purpose,omitempty"`
	// Exists is set when the subnetwork was found.
	Exists bool `json:"exists"`
	// WillCreate is set when the plan creates the subnetwork (with CIDR)
	// before switching.
	WillCreate bool `json:"willCreate,omitempty"`
	// ReservedIPs is how many addresses of the range are allocated now
	// (Compute's utilization), not counting the four Google reserves in
	// every subnet.
	ReservedIPs int64 `json:"reservedIPs"`
	// SharedReservedIPs is the part of ReservedIPs held by the workload
	// being switched and the workloads in Facts.Sharing, when known. Those
	// workloads are counted at their maximum scale, so this part is not
	// counted again; leaving it 0 errs on the safe side.
	SharedReservedIPs int64 `json:"sharedReservedIPs,omitempty"`
	// ReservedKnown is set when ReservedIPs was read (Compute's utilization),
	// so that 0 means nothing is reserved rather than not looked up.
	ReservedKnown bool `json:"reservedKnown,omitempty"`
	// PrivateGoogleAccess is set when the subnetwork has Private Google Access.
	PrivateGoogleAccess bool `json:"privateGoogleAccess,omitempty"`
}

// ConnectorFacts describes a Serverless VPC Access connector.
type ConnectorFacts struct {
	// Name is the connector, in any form ParseConnectorRef accepts.
	Name string `json:"name"`
	// Exists is set when the connector was found.
	Exists bool `json:"exists"`
	// Region is its region; empty means the region in Name.
	Region string `json:"region,omitempty"`
	// Network is its network, in any form ParseNetworkRef accepts.
	Network string `json:"network,omitempty"`
	// State is its state: CREATING, READY, UPDATING, DELETING or ERROR.
	State string `json:"state,omitempty"`
	// IPCIDRRange is its /28 range when it was created with one.
	IPCIDRRange string `json:"ipCidrRange,omitempty"`
	// Subnet is its /28 subnetwork when it was created with one.
	Subnet string `json:"subnet,omitempty"`
	// SubnetCIDR is the range of Subnet, when known.
	SubnetCIDR string `json:"subnetCidr,omitempty"`
	// SubnetPrivateGoogleAccess is set when Subnet has Private Google Access.
	SubnetPrivateGoogleAccess bool `json:"subnetPrivateGoogleAccess,omitempty"`
	// MachineType is its machine type (e2-micro, f1-micro, e2-standard-4).
	MachineType string `json:"machineType,omitempty"`
}

// SourceRange returns the range the connector's traffic comes from:
// IPCIDRRange, else SubnetCIDR, else "".
func (c ConnectorFacts) SourceRange() string {
	if c.IPCIDRRange != "" {
		return c.IPCIDRRange
	}
	return c.SubnetCIDR
}

// NATFacts lists Cloud Routers.
type NATFacts struct {
	// Routers are the routers found.
	Routers []Router `json:"routers"`
}

// Router is a Cloud Router and its NAT gateways.
type Router struct {
	// Name is the router's name.
	Name string `json:"name"`
	// Network is the router's network, in any form ParseNetworkRef accepts.
	Network string `json:"network"`
	// Region is its region (a name or a Compute URL).
	Region string `json:"region"`
	// NATs are its Cloud NAT gateways.
	NATs []NAT `json:"nats,omitempty"`
}

// NAT is one Cloud NAT gateway of a router.
type NAT struct {
	// Name is the NAT's name.
	Name string `json:"name"`
	// SourceSubnetworkIPRangesToNat is Compute's field:
	// ALL_SUBNETWORKS_ALL_IP_RANGES, ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES
	// or LIST_OF_SUBNETWORKS.
	SourceSubnetworkIPRangesToNat string `json:"sourceSubnetworkIpRangesToNat"`
	// Subnetworks are the subnetworks of a LIST_OF_SUBNETWORKS NAT, in any
	// form ParseSubnetRef accepts.
	Subnetworks []string `json:"subnetworks,omitempty"`
	// Type is PUBLIC (the default when empty) or PRIVATE; a Private NAT
	// does not reach the internet.
	Type string `json:"type,omitempty"`
	// NATIPs are the external addresses of a gateway that allocates them manually
	// (natIps: address paths or names); empty with automatic allocation.
	NATIPs []string `json:"natIps,omitempty"`
	// NATIPAllocateOption is Compute's natIpAllocateOption: AUTO_ONLY or MANUAL_ONLY
	// (empty: AUTO_ONLY unless NATIPs are set).
	NATIPAllocateOption string `json:"natIpAllocateOption,omitempty"`
	// MinPortsPerVM is Compute's minPortsPerVm (0: the default, NATDefaultMinPortsPerVM,
	// or NATDefaultMinPortsDynamic with dynamic port allocation).
	MinPortsPerVM int64 `json:"minPortsPerVm,omitempty"`
	// DynamicPortAllocation is Compute's enableDynamicPortAllocation.
	DynamicPortAllocation bool `json:"enableDynamicPortAllocation,omitempty"`
}

// Compute's values of NAT.SourceSubnetworkIPRangesToNat.
const (
	NATAllSubnetworksAllRanges        = "ALL_SUBNETWORKS_ALL_IP_RANGES"
	NATAllSubnetworksAllPrimaryRanges = "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"
	NATListOfSubnetworks              = "LIST_OF_SUBNETWORKS"
)

// FirewallFacts lists VPC firewall rules.
type FirewallFacts struct {
	// Rules are the rules found.
	Rules []FirewallRule `json:"rules"`
}

// FirewallRule is a VPC firewall rule, with the fields the firewall check
// reads.
type FirewallRule struct {
	// Name is the rule's name.
	Name string `json:"name"`
	// Network is the rule's network, in any form ParseNetworkRef accepts;
	// empty means the network being checked.
	Network string `json:"network,omitempty"`
	// Direction is INGRESS (the default when empty) or EGRESS.
	Direction string `json:"direction,omitempty"`
	// Priority is 0 (highest) to 65535.
	Priority int `json:"priority"`
	// SourceRanges are the source CIDR ranges of an ingress rule.
	SourceRanges []string `json:"sourceRanges,omitempty"`
	// SourceTags are the source network tags of an ingress rule.
	SourceTags []string `json:"sourceTags,omitempty"`
	// TargetTags are the network tags of the instances the rule applies
	// to; empty means all instances.
	TargetTags []string `json:"targetTags,omitempty"`
	// DestinationRanges are the destination ranges of an egress rule.
	DestinationRanges []string `json:"destinationRanges,omitempty"`
	// Allowed lists what an allow rule allows.
	Allowed []FirewallPermission `json:"allowed,omitempty"`
	// Denied lists what a deny rule denies.
	Denied []FirewallPermission `json:"denied,omitempty"`
	// Disabled is set for a disabled rule, which matches nothing.
	Disabled bool `json:"disabled,omitempty"`
	// Logging is set when firewall rule logging is on.
	Logging bool `json:"logging,omitempty"`
}

// FirewallPermission is a protocol and ports of a firewall rule.
type FirewallPermission struct {
	// Protocol is tcp, udp, icmp, all, ... (Compute's IPProtocol).
	Protocol string `json:"protocol"`
	// Ports are ports or port ranges such as 443 or 8000-8080.
	Ports []string `json:"ports,omitempty"`
}

// IsIngress reports whether the rule applies to incoming traffic.
func (r FirewallRule) IsIngress() bool { return !strings.EqualFold(r.Direction, "EGRESS") }

// IsDeny reports whether the rule denies traffic.
func (r FirewallRule) IsDeny() bool { return len(r.Denied) > 0 }

// describe renders a rule for messages, such as
// "allow-redis (INGRESS allow tcp:6379, priority 1000)".
func (r FirewallRule) describe() string {
	dir := "INGRESS"
	if !r.IsIngress() {
		dir = "EGRESS"
	}
	action, perms := "allow", r.Allowed
	if r.IsDeny() {
		action, perms = "deny", r.Denied
	}
	var ps []string
	for _, p := range perms {
		if len(p.Ports) == 0 {
			ps = append(ps, p.Protocol)
			continue
		}
		for _, port := range p.Ports {
			ps = append(ps, p.Protocol+":"+port)
		}
	}
	what := action
	if len(ps) > 0 {
		what += " " + strings.Join(ps, ",")
	}
	return r.Name + " (" + dir + " " + what + ", priority " + itoa(r.Priority) + ")"
}

// QuotaFacts is the Direct VPC egress instance quota of a region.
type QuotaFacts struct {
	// Region is the region the quota applies to.
	Region string `json:"region,omitempty"`
	// Instances is the most instances per revision or job execution that
	// may use Direct VPC egress.
	Instances int `json:"instances"`
	// Metric is the Service Usage quota metric it was read from.
	Metric string `json:"metric,omitempty"`
}

// PermissionFacts is the caller's testIamPermissions result.
type PermissionFacts struct {
	// Checked lists the permissions tested.
	Checked []string `json:"checked"`
	// Missing lists the tested permissions the caller lacks.
	Missing []string `json:"missing,omitempty"`
}
