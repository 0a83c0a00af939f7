package world

import (
	"time"

	compute "google.golang.org/api/compute/v1"
)

// NetState is the part of the world that decides where traffic goes and what it shows: firewall
// policies, custom routes and VPN tunnels (Compute resources, kept in the REST client's types),
// and what tests declare about the data plane (destinations, the services' dependencies and
// load), the Direct VPC instance quota per region, project ancestry for hierarchical firewall
// policies, and the timeline the monitoring metrics are computed from.
//
// Keys: hierarchical firewall policies by their numeric name; global network firewall
// policies, routes and VPN tunnels as Compute keys ("project/name", "project/region/name");
// destinations by name; dependencies and load by the service's full name; quotas by
// "project/region".
type NetState struct {
	FirewallPolicies              map[string]*compute.FirewallPolicy `json:"firewallPolicies,omitempty"`
	NetworkFirewallPolicies       map[string]*compute.FirewallPolicy `json:"networkFirewallPolicies,omitempty"`
	RegionNetworkFirewallPolicies map[string]*compute.FirewallPolicy `json:"regionNetworkFirewallPolicies,omitempty"`
	Routes                        map[string]*compute.Route          `json:"routes,omitempty"`
	VpnTunnels                    map[string]*compute.VpnTunnel      `json:"vpnTunnels,omitempty"`

	Destinations map[string]*Destination `json:"destinations,omitempty"`
	Dependencies map[string][]Dependency `json:"dependencies,omitempty"`
	Load         map[string]*Load        `json:"load,omitempty"`
	// Quotas holds the Direct VPC egress instance limit of a project in a region, where a test
	// set one; elsewhere DefaultDirectVPCQuota applies.
	Quotas map[string]int64 `json:"quotas,omitempty"`

	// DirectVPCWarmup, when set, is the start-up connection delay of Direct VPC revisions
	// without an HTTP startup probe (warmup.go).
	DirectVPCWarmup time.Duration `json:"directVpcWarmup,omitempty"`

	// Timeline is what the metrics are computed from: one segment per change of what the
	// workloads serve (metrics.go).
	Timeline []*Segment `json:"timeline,omitempty"`

	// wakeAt is when a start-up delay ends and the timeline must look again (not saved).
	wakeAt time.Time
}

// NewNetState returns an empty NetState.
func NewNetState() *NetState {
	return &NetState{
		FirewallPolicies:              map[string]*compute.FirewallPolicy{},
		NetworkFirewallPolicies:       map[string]*compute.FirewallPolicy{},
		RegionNetworkFirewallPolicies: map[string]*compute.FirewallPolicy{},
		Routes:                        map[string]*compute.Route{},
		VpnTunnels:                    map[string]*compute.VpnTunnel{},
		Destinations:                  map[string]*Destination{},
		Dependencies:                  map[string][]Dependency{},
		Load:                          map[string]*Load{},
		Quotas:                        map[string]int64{},
	}
}

// fill makes every map of a NetState read from JSON usable.
func (n *NetState) fill() *NetState {
	if n == nil {
		return NewNetState()
	}
	e := NewNetState()
	if n.FirewallPolicies == nil {
		n.FirewallPolicies = e.FirewallPolicies
	}
	if n.NetworkFirewallPolicies == nil {
		n.NetworkFirewallPolicies = e.NetworkFirewallPolicies
	}
	if n.RegionNetworkFirewallPolicies == nil {
		n.RegionNetworkFirewallPolicies = e.RegionNetworkFirewallPolicies
	}
	if n.Routes == nil {
		n.Routes = e.Routes
	}
	if n.VpnTunnels == nil {
		n.VpnTunnels = e.VpnTunnels
	}
	if n.Destinations == nil {
		n.Destinations = e.Destinations
	}
	if n.Dependencies == nil {
		n.Dependencies = e.Dependencies
	}
	if n.Load == nil {
		n.Load = e.Load
	}
	if n.Quotas == nil {
		n.Quotas = e.Quotas
	}
	return n
}

// Destination is something a workload's egress may try to reach: a VM-like endpoint in a VPC
// network, an on-premises host reached through a route (a VPN tunnel, say), a host on the
// internet, or Google APIs.
type Destination struct {
	Name string `json:"name"`
	// IP is the destination's address.
	IP string `json:"ip"`
	// Port is the TCP port it listens on.
	Port int `json:"port"`
	// Project and Network place an address of a VPC network (or reached through one):
	// required for destinations in a VPC and on-premises ones.
	Project string `json:"project,omitempty"`
	Network string `json:"network,omitempty"`
	// GoogleAPIs marks Google APIs (storage.googleapis.com and the like): reachable from a VPC
	// only with Private Google Access on the source subnet or through Cloud NAT.
	GoogleAPIs bool `json:"googleApis,omitempty"`
	// Allow is the destination's own ingress allowlist (source ranges or addresses); empty
	// admits every source.
	Allow []string `json:"allow,omitempty"`
	// Tags, ServiceAccount and SecureTags describe a destination in a VPC the way firewall
	// rules target it (a VM's network tags, service account and secure tag values).
	Tags           []string `json:"tags,omitempty"`
	ServiceAccount string   `json:"serviceAccount,omitempty"`
	SecureTags     []string `json:"secureTags,omitempty"`
}

// Dependency is a destination a service calls while it serves requests: Share is the
// fraction of requests that need it (1 when zero).
type Dependency struct {
	Destination string  `json:"destination"`
	Share       float64 `json:"share,omitempty"`
}

// Load is the synthetic traffic a service receives.
type Load struct {
	// RPS is the requests per second the service receives, split across its revisions by the
	// traffic in force.
	RPS float64 `json:"rps"`
	// LatencyMs is how long a request that succeeds takes (DefaultLatencyMs when zero).
	LatencyMs float64 `json:"latencyMs,omitempty"`
	// FailLatencyMs is how long a request whose dependency cannot be reached takes before it
	// fails (DefaultFailLatencyMs when zero): the application's connect timeout.
	FailLatencyMs float64 `json:"failLatencyMs,omitempty"`
}

// Defaults of the synthetic load.
const (
	DefaultLatencyMs     = 50
	DefaultFailLatencyMs = 3000
)

// DefaultDirectVPCQuota is the Direct VPC egress instance quota where none was set. Cloud Run
// docs ("Direct VPC egress with a VPC network", Limitations): "A Cloud Run usage quota limits
// the maximum number of instances you can configure to use Direct VPC egress"; DESIGN.md gives
// 100 to 200 instances depending on the region, and runnet's egress.DefaultDirectVPCInstanceQuota
// assumes 100.
const DefaultDirectVPCQuota = 100

// EnforcedDirectVPCQuotaLocked returns the limit Cloud Run enforces in the emulator: only one
// a test set. The default is not enforced, as the real default varies by region (100 to 200)
// and the emulator cannot know which one a region has.
func (w *World) EnforcedDirectVPCQuotaLocked(project, region string) (int64, bool) {
	q, ok := w.S.Net.Quotas[project+"/"+region]
	return q, ok
}

// DirectVPCQuotaLocked returns the Direct VPC egress instance limit of the project in region.
func (w *World) DirectVPCQuotaLocked(project, region string) int64 {
	if q, ok := w.S.Net.Quotas[project+"/"+region]; ok {
		return q
	}
	return DefaultDirectVPCQuota
}
