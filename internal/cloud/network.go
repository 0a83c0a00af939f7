package cloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Compute values runnet reads and writes.
const (
	// ViewWithUtilization asks subnetworks.get/list/aggregatedList for utilizationDetails.
	ViewWithUtilization = "WITH_UTILIZATION"
	// PurposeServerless is the purpose of the serverless-ipv4-* addresses Cloud Run holds in a
	// subnet for Direct VPC egress.
	PurposeServerless = "SERVERLESS"
	// ServerlessAddressPrefix starts the names of those addresses.
	ServerlessAddressPrefix = "serverless-ipv4-"
	// reasonInUse is Compute's error reason when a resource is used by another
	// (errors[].reason of the HTTP error; the operation error code is
	// RESOURCE_IN_USE_BY_ANOTHER_RESOURCE).
	reasonInUse = "resourceInUseByAnotherResource"
	opCodeInUse = "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE"
)

// Flow log settings, as Compute names them (SubnetworkLogConfig).
const (
	FlowLogsInterval5Sec  = "INTERVAL_5_SEC"
	FlowLogsInterval30Sec = "INTERVAL_30_SEC"
	FlowLogsInterval1Min  = "INTERVAL_1_MIN"
	FlowLogsInterval5Min  = "INTERVAL_5_MIN"
	FlowLogsInterval10Min = "INTERVAL_10_MIN"
	FlowLogsInterval15Min = "INTERVAL_15_MIN"

	FlowLogsIncludeAllMetadata = "INCLUDE_ALL_METADATA"
	FlowLogsExcludeAllMetadata = "EXCLUDE_ALL_METADATA"
	FlowLogsCustomMetadata     = "CUSTOM_METADATA"
)

// Network is a VPC network. JSON field names are a stable contract.
type Network struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	// Path is projects/P/global/networks/NAME.
	Path string `json:"path"`
	// AutoCreateSubnetworks is set for an auto mode network.
	AutoCreateSubnetworks bool `json:"autoCreateSubnetworks"`
	// RoutingMode is REGIONAL or GLOBAL.
	RoutingMode string `json:"routingMode,omitempty"`
	MTU         int64  `json:"mtu,omitempty"`
	// Subnetworks are the paths of its subnetworks.
	Subnetworks []string `json:"subnetworks,omitempty"`
	// EnableULAInternalIPv6 is set when the network has a ULA internal IPv6 range
	// (InternalIPv6Range, a /48 of fd20::/20), which dual-stack subnets with internal IPv6
	// take their /64 from.
	EnableULAInternalIPv6 bool   `json:"enableUlaInternalIpv6"`
	InternalIPv6Range     string `json:"internalIpv6Range,omitempty"`
}

func networkFromCompute(project string, n *compute.Network) *Network {
	out := &Network{
		Name: n.Name, Project: project, Path: egress.NetworkRef{Project: project, Name: n.Name}.Path(),
		AutoCreateSubnetworks: n.AutoCreateSubnetworks, MTU: n.Mtu,
		EnableULAInternalIPv6: n.EnableUlaInternalIpv6, InternalIPv6Range: n.InternalIpv6Range,
	}
	if n.RoutingConfig != nil {
		out.RoutingMode = n.RoutingConfig.RoutingMode
	}
	for _, s := range n.Subnetworks {
		out.Subnetworks = append(out.Subnetworks, trimComputeURL(s))
	}
	return out
}

// SecondaryRange is a secondary IPv4 range of a subnet.
type SecondaryRange struct {
	RangeName   string `json:"rangeName"`
	IPCIDRRange string `json:"ipCidrRange"`
}

// FlowLogs is a subnet's VPC Flow Logs configuration, with Compute's values.
type FlowLogs struct {
	Enabled bool `json:"enabled"`
	// AggregationInterval is INTERVAL_5_SEC ... INTERVAL_15_MIN.
	AggregationInterval string `json:"aggregationInterval,omitempty"`
	// FlowSampling is 0.0 to 1.0.
	FlowSampling float64 `json:"flowSampling"`
	// Metadata is INCLUDE_ALL_METADATA, EXCLUDE_ALL_METADATA or CUSTOM_METADATA.
	Metadata string `json:"metadata,omitempty"`
}

// Subnet is a subnetwork with the numbers Direct VPC egress cares about. JSON field names are
// a stable contract.
type Subnet struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	Region  string `json:"region"`
	// Path is projects/P/regions/R/subnetworks/NAME.
	Path string `json:"path"`
	// Network is the network's short name, NetworkPath its path.
	Network     string `json:"network"`
	NetworkPath string `json:"networkPath"`
	// IPCIDRRange is the primary IPv4 range, PrefixLength its length.
	IPCIDRRange  string `json:"ipCidrRange"`
	PrefixLength int    `json:"prefixLength"`
	// Description is Compute's description, which can only be set at creation (export writes
	// it, since code without it would make the providers replace the subnet).
	Description string `json:"description,omitempty"`
	// Purpose is Compute's purpose (PRIVATE for ordinary subnets).
	Purpose string `json:"purpose,omitempty"`
	// Gateway is the default gateway address (the range's first host).
	Gateway               string           `json:"gatewayAddress,omitempty"`
	PrivateIPGoogleAccess bool             `json:"privateIpGoogleAccess"`
	SecondaryRanges       []SecondaryRange `json:"secondaryRanges,omitempty"`
	FlowLogs              *FlowLogs        `json:"flowLogs,omitempty"`

	// Size is the number of addresses in the primary range; UsableIPs what is left once
	// Google Cloud takes its four.
	Size      uint64 `json:"size"`
	UsableIPs uint64 `json:"usableIps"`
	// ReservedIPs is how many addresses are allocated now (not counting Google's four):
	// utilizationDetails' totalAllocatedIp for the primary range when Compute gives it,
	// otherwise the internal addresses reserved in the subnet. ReservedSource says which.
	ReservedIPs    int64  `json:"reservedIps"`
	ReservedSource string `json:"reservedSource"`
	// ServerlessIPs are the addresses of the serverless-ipv4-* reservations Cloud Run holds
	// for Direct VPC egress (part of ReservedIPs), ServerlessAddresses their names.
	ServerlessIPs       int64    `json:"serverlessIps"`
	ServerlessAddresses []string `json:"serverlessAddresses,omitempty"`
	// FreeIPs is UsableIPs - ReservedIPs.
	FreeIPs int64 `json:"freeIps"`
	// Blocks is the /28 blocks Cloud Run may reserve in the range (ipam.Blocks); FreeBlocks
	// those still free (FreeIPs / 16).
	Blocks     int `json:"blocks"`
	FreeBlocks int `json:"freeBlocks"`
	// DirectVPCEligible is set when the range can serve Direct VPC egress: /26 or larger, in
	// RFC 1918, RFC 6598 or 240.0.0.0/4.
	DirectVPCEligible bool `json:"directVpcEligible"`
	// StackType is IPV4_ONLY or IPV4_IPV6 (dual-stack); IPv6AccessType, for dual-stack,
	// INTERNAL or EXTERNAL, with the subnet's /64 in IPv6CIDRRange.
	StackType      string `json:"stackType"`
	IPv6AccessType string `json:"ipv6AccessType,omitempty"`
	IPv6CIDRRange  string `json:"ipv6CidrRange,omitempty"`
}

// Subnet stack types and IPv6 access types (Compute v1 Subnetwork.stackType and
// ipv6AccessType).
const (
	StackIPv4Only      = "IPV4_ONLY"
	StackIPv4IPv6      = "IPV4_IPV6"
	IPv6AccessInternal = "INTERNAL"
	IPv6AccessExternal = "EXTERNAL"
)

// GetStackType returns the subnet's stack type for export's hand-off: IPV4_IPV6, or "" for
// IPv4 only (the API's and the providers' default, left out).
func (s *Subnet) GetStackType() string {
	if s.StackType == StackIPv4Only {
		return ""
	}
	return s.StackType
}

// GetIPv6AccessType returns the subnet's IPv6 access type, "" for IPv4 only.
func (s *Subnet) GetIPv6AccessType() string { return s.IPv6AccessType }

// GetDescription returns the subnet's description for export's hand-off ("" for none).
func (s *Subnet) GetDescription() string { return s.Description }

// Reserved-IP sources.
const (
	ReservedFromUtilization = "utilizationDetails"
	ReservedFromAddresses   = "addresses"
)

// Ref returns the subnet's reference.
func (s *Subnet) Ref() egress.SubnetRef {
	return egress.SubnetRef{Project: s.Project, Region: s.Region, Name: s.Name}
}

// Facts returns what the preflight checks need to know about the subnet.
func (s *Subnet) Facts() egress.SubnetFacts {
	return egress.SubnetFacts{
		Name: s.Path, Region: s.Region, Network: s.NetworkPath, CIDR: s.IPCIDRRange, Purpose: s.Purpose,
		Exists: true, ReservedIPs: s.ReservedIPs, PrivateGoogleAccess: s.PrivateIPGoogleAccess,
	}
}

// subnetFromCompute builds a Subnet from Compute's resource and the region's addresses (which
// may be nil when not looked up).
func subnetFromCompute(project string, sn *compute.Subnetwork, addrs []*Address) *Subnet {
	region := egress.ShortName(sn.Region)
	s := &Subnet{
		Name: sn.Name, Project: project, Region: region,
		Path:    egress.SubnetRef{Project: project, Region: region, Name: sn.Name}.Path(),
		Network: egress.ShortName(sn.Network), NetworkPath: trimComputeURL(sn.Network),
		IPCIDRRange: sn.IpCidrRange, Description: sn.Description, Purpose: sn.Purpose, Gateway: sn.GatewayAddress,
		PrivateIPGoogleAccess: sn.PrivateIpGoogleAccess,
		StackType:             sn.StackType, IPv6AccessType: sn.Ipv6AccessType, IPv6CIDRRange: sn.InternalIpv6Prefix,
	}
	if s.StackType == "" {
		s.StackType = StackIPv4Only // the API's default
	}
	if s.IPv6CIDRRange == "" {
		s.IPv6CIDRRange = sn.ExternalIpv6Prefix
	}
	for _, r := range sn.SecondaryIpRanges {
		s.SecondaryRanges = append(s.SecondaryRanges, SecondaryRange{RangeName: r.RangeName, IPCIDRRange: r.IpCidrRange})
	}
	if lc := sn.LogConfig; lc != nil && lc.Enable {
		s.FlowLogs = &FlowLogs{Enabled: true, AggregationInterval: lc.AggregationInterval, FlowSampling: lc.FlowSampling, Metadata: lc.Metadata}
	}
	p, err := netip.ParsePrefix(sn.IpCidrRange)
	if err == nil && p.Addr().Is4() {
		p = p.Masked()
		s.PrefixLength = p.Bits()
		s.Size, s.UsableIPs, s.Blocks = ipam.Size(p), ipam.Usable(p), ipam.Blocks(p)
		s.DirectVPCEligible = ipam.ValidateDirectVPCSubnet(p) == nil
		if s.Gateway == "" {
			if g := ipam.FirstHost(p); g.IsValid() {
				s.Gateway = g.String()
			}
		}
	}

	var addressIPs int64
	for _, a := range addrs {
		if a.Subnetwork == "" || a.Subnetwork != s.Path {
			continue
		}
		addressIPs += a.IPs()
		if a.Serverless() {
			s.ServerlessIPs += a.IPs()
			s.ServerlessAddresses = append(s.ServerlessAddresses, a.Name)
		}
	}
	sort.Strings(s.ServerlessAddresses)
	s.ReservedIPs, s.ReservedSource = addressIPs, ReservedFromAddresses
	if u := sn.UtilizationDetails; u != nil {
		for _, r := range u.Ipv4Utilizations {
			if r.RangeName == "" {
				s.ReservedIPs, s.ReservedSource = max(r.TotalAllocatedIp, s.ServerlessIPs), ReservedFromUtilization
				break
			}
		}
	}
	s.FreeIPs = max(int64(s.UsableIPs)-s.ReservedIPs, 0)
	s.FreeBlocks = min(int(s.FreeIPs/ipam.DirectVPCBlockSize), s.Blocks)
	return s
}

// Address is a regional IP address reservation.
type Address struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	Region  string `json:"region"`
	Address string `json:"address"`
	// PrefixLength is set for a range reservation; 0 means one address.
	PrefixLength int64 `json:"prefixLength,omitempty"`
	// AddressType is INTERNAL or EXTERNAL; Purpose GCE_ENDPOINT, SERVERLESS, ...
	AddressType string `json:"addressType,omitempty"`
	Purpose     string `json:"purpose,omitempty"`
	Status      string `json:"status,omitempty"`
	// Subnetwork is the subnet's path, for internal addresses.
	Subnetwork string   `json:"subnetwork,omitempty"`
	Users      []string `json:"users,omitempty"`
}

// IPs returns how many addresses the reservation holds.
func (a *Address) IPs() int64 {
	if a.PrefixLength > 0 && a.PrefixLength <= 32 {
		return 1 << (32 - a.PrefixLength)
	}
	return 1
}

// Serverless reports whether the address is one Cloud Run holds for Direct VPC egress.
func (a *Address) Serverless() bool {
	return a.Purpose == PurposeServerless || strings.HasPrefix(a.Name, ServerlessAddressPrefix)
}

func addressFromCompute(project string, a *compute.Address) *Address {
	return &Address{
		Name: a.Name, Project: project, Region: egress.ShortName(a.Region), Address: a.Address, PrefixLength: a.PrefixLength,
		AddressType: a.AddressType, Purpose: a.Purpose, Status: a.Status, Subnetwork: trimComputeURL(a.Subnetwork),
		Users: slices.Clone(a.Users),
	}
}

// trimComputeURL turns a Compute self link into a path (projects/...).
func trimComputeURL(s string) string {
	for _, p := range []string{"https://www.googleapis.com/compute/v1/", "https://compute.googleapis.com/compute/v1/",
		"https://www.googleapis.com/compute/beta/", "https://compute.googleapis.com/compute/beta/"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

// computeRead runs a Compute read with the default retry policy.
func computeRead[T any](ctx context.Context, do func(context.Context) (T, error)) (T, error) {
	var out T
	err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		out, err = do(ctx)
		return err
	})
	return out, err
}

// ListNetworks returns the project's VPC networks, sorted by name.
func (c *Clients) ListNetworks(ctx context.Context, project string) ([]*Network, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	out, err := computeRead(ctx, func(ctx context.Context) ([]*Network, error) {
		var out []*Network
		err := cs.Networks.List(project).Pages(ctx, func(l *compute.NetworkList) error {
			for _, n := range l.Items {
				out = append(out, networkFromCompute(project, n))
			}
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, computeErr("list networks in project "+project, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GetNetwork returns one network; IsNotFound holds for the error when it does not exist.
func (c *Clients) GetNetwork(ctx context.Context, ref egress.NetworkRef) (*Network, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	n, err := computeRead(ctx, func(ctx context.Context) (*compute.Network, error) {
		return cs.Networks.Get(ref.Project, ref.Name).Context(ctx).Do()
	})
	if err != nil {
		return nil, computeErr(fmt.Sprintf("read network %q", ref.Name), err)
	}
	return networkFromCompute(ref.Project, n), nil
}

// ListAddresses returns the project's addresses in region, sorted by name.
func (c *Clients) ListAddresses(ctx context.Context, project, region string) ([]*Address, error) {
	if err := checkNames(projectName(project), regionName(region)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	out, err := computeRead(ctx, func(ctx context.Context) ([]*Address, error) {
		var out []*Address
		err := cs.Addresses.List(project, region).Pages(ctx, func(l *compute.AddressList) error {
			for _, a := range l.Items {
				out = append(out, addressFromCompute(project, a))
			}
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, computeErr(fmt.Sprintf("list addresses in project %s, region %s", project, region), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listAddressesAllRegions returns the project's regional addresses in every region.
func (c *Clients) listAddressesAllRegions(ctx context.Context, project string) ([]*Address, error) {
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	out, err := computeRead(ctx, func(ctx context.Context) ([]*Address, error) {
		var out []*Address
		err := cs.Addresses.AggregatedList(project).Pages(ctx, func(l *compute.AddressAggregatedList) error {
			for _, scoped := range l.Items {
				for _, a := range scoped.Addresses {
					if a.Region != "" {
						out = append(out, addressFromCompute(project, a))
					}
				}
			}
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, computeErr("list addresses in project "+project, err)
	}
	return out, nil
}

// both runs a and b concurrently and returns the first error.
func both(a, b func() error) error {
	var wg sync.WaitGroup
	var errB error
	wg.Add(1)
	go func() { defer wg.Done(); errB = b() }()
	errA := a()
	wg.Wait()
	if errA != nil {
		return errA
	}
	return errB
}

// ListSubnets returns the subnets of project in region, with utilization (views
// WITH_UTILIZATION, and the region's SERVERLESS addresses read concurrently), sorted by name.
func (c *Clients) ListSubnets(ctx context.Context, project, region string) ([]*Subnet, error) {
	if err := checkNames(projectName(project), regionName(region)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	var raw []*compute.Subnetwork
	var addrs []*Address
	err = both(func() error {
		var err error
		raw, err = computeRead(ctx, func(ctx context.Context) ([]*compute.Subnetwork, error) {
			var out []*compute.Subnetwork
			err := cs.Subnetworks.List(project, region).Views(ViewWithUtilization).Pages(ctx, func(l *compute.SubnetworkList) error {
				out = append(out, l.Items...)
				return nil
			})
			return out, err
		})
		if err != nil {
			return computeErr(fmt.Sprintf("list subnets in project %s, region %s", project, region), err)
		}
		return nil
	}, func() error {
		var err error
		addrs, err = c.ListAddresses(ctx, project, region)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Subnet, 0, len(raw))
	for _, sn := range raw {
		out = append(out, subnetFromCompute(project, sn, addrs))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListSubnetsAllRegions returns the subnets of project in every region (aggregatedList, with
// utilization and the SERVERLESS addresses of every region), sorted by region and name.
func (c *Clients) ListSubnetsAllRegions(ctx context.Context, project string) ([]*Subnet, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	var raw []*compute.Subnetwork
	var addrs []*Address
	err = both(func() error {
		var err error
		raw, err = computeRead(ctx, func(ctx context.Context) ([]*compute.Subnetwork, error) {
			var out []*compute.Subnetwork
			err := cs.Subnetworks.AggregatedList(project).Views(ViewWithUtilization).Pages(ctx, func(l *compute.SubnetworkAggregatedList) error {
				for _, scoped := range l.Items {
					out = append(out, scoped.Subnetworks...)
				}
				return nil
			})
			return out, err
		})
		if err != nil {
			return computeErr("list subnets in project "+project, err)
		}
		return nil
	}, func() error {
		var err error
		addrs, err = c.listAddressesAllRegions(ctx, project)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Subnet, 0, len(raw))
	for _, sn := range raw {
		out = append(out, subnetFromCompute(project, sn, addrs))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// GetSubnet returns one subnet with its utilization; IsNotFound holds for the error when it
// does not exist.
func (c *Clients) GetSubnet(ctx context.Context, ref egress.SubnetRef) (*Subnet, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	var sn *compute.Subnetwork
	var addrs []*Address
	err = both(func() error {
		var err error
		sn, err = computeRead(ctx, func(ctx context.Context) (*compute.Subnetwork, error) {
			return cs.Subnetworks.Get(ref.Project, ref.Region, ref.Name).Views(ViewWithUtilization).Context(ctx).Do()
		})
		if err != nil {
			return computeErr(fmt.Sprintf("read subnet %q", ref.Name), err)
		}
		return nil
	}, func() error {
		var err error
		addrs, err = c.ListAddresses(ctx, ref.Project, ref.Region)
		return err
	})
	if err != nil {
		return nil, err
	}
	return subnetFromCompute(ref.Project, sn, addrs), nil
}

// SubnetSpec is what CreateSubnet makes.
type SubnetSpec struct {
	Ref egress.SubnetRef
	// Network is the network (a name or a path in Ref.Project).
	Network               string
	IPCIDRRange           string
	PrivateIPGoogleAccess bool
	Description           string
	// FlowLogs, when set, turns VPC Flow Logs on with its settings (empty fields take the
	// API's defaults).
	FlowLogs *FlowLogs
	// StackType and IPv6AccessType make a dual-stack subnet (IPV4_IPV6 with INTERNAL or
	// EXTERNAL); "" for IPv4 only.
	StackType, IPv6AccessType string
}

func (s SubnetSpec) compute() *compute.Subnetwork {
	sn := &compute.Subnetwork{
		Name: s.Ref.Name, Network: egress.ComputeURLPrefix + normNetwork(s.Network, s.Ref.Project),
		IpCidrRange: s.IPCIDRRange, PrivateIpGoogleAccess: s.PrivateIPGoogleAccess, Description: s.Description,
		StackType: s.StackType, Ipv6AccessType: s.IPv6AccessType,
	}
	if f := s.FlowLogs; f != nil {
		sn.LogConfig = &compute.SubnetworkLogConfig{
			Enable: true, AggregationInterval: f.AggregationInterval, FlowSampling: f.FlowSampling, Metadata: f.Metadata,
			ForceSendFields: []string{"Enable", "FlowSampling"},
		}
	}
	return sn
}

// NewRequestID returns a random (version 4) UUID for Compute's requestId, which makes a
// retried mutation apply at most once.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// computeWrite runs a Compute mutation and retries transient failures with the same
// requestId, so that the mutation is applied once however often it is sent.
func computeWrite(ctx context.Context, do func(ctx context.Context, requestID string) (*compute.Operation, error)) (*compute.Operation, error) {
	id := NewRequestID()
	return computeRead(ctx, func(ctx context.Context) (*compute.Operation, error) { return do(ctx, id) })
}

// SubnetExistsError is a create that met a subnet of the same name made differently.
type SubnetExistsError struct {
	Ref         egress.SubnetRef
	Differences []string
	Err         error
}

func (e *SubnetExistsError) Error() string {
	return fmt.Sprintf("subnet %s already exists and differs from the one requested: %s", e.Ref.Name, strings.Join(e.Differences, "; "))
}

func (e *SubnetExistsError) Unwrap() error { return e.Err }

// CreateSubnet creates a subnet and, unless opts.Async, waits for the operation
// (operations.wait) and returns the subnet as Compute then shows it. The insert carries a
// requestId and is retried on transient failures with the same one. A subnet of the same name
// with the same network and range counts as success; one made differently is a
// *SubnetExistsError (HTTP 409, exit code conflict).
func (c *Clients) CreateSubnet(ctx context.Context, spec SubnetSpec, opts WaitOptions) (*Subnet, error) {
	if err := checkNames(spec.Ref); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	ref := spec.Ref
	body := spec.compute()
	op, err := computeWrite(ctx, func(ctx context.Context, id string) (*compute.Operation, error) {
		return cs.Subnetworks.Insert(ref.Project, ref.Region, body).RequestId(id).Context(ctx).Do()
	})
	if ge, ok := googleAPIError(err); ok && ge.Code == http.StatusConflict {
		cur, gerr := c.existingSubnet(ctx, ref)
		if gerr != nil {
			return nil, computeErr(fmt.Sprintf("create subnet %q", ref.Name), err)
		}
		var d []string
		if want := normNetwork(spec.Network, ref.Project); cur.NetworkPath != want {
			d = append(d, fmt.Sprintf("network is %s, not %s", cur.Network, egress.ShortName(want)))
		}
		if cur.IPCIDRRange != spec.IPCIDRRange {
			d = append(d, fmt.Sprintf("ipCidrRange is %s, not %s", cur.IPCIDRRange, spec.IPCIDRRange))
		}
		if len(d) > 0 {
			return nil, &SubnetExistsError{Ref: ref, Differences: d, Err: err}
		}
		return cur, nil
	}
	if err != nil {
		return nil, computeErr(fmt.Sprintf("create subnet %q", ref.Name), err)
	}
	if opts.Async {
		s := subnetFromCompute(ref.Project, &compute.Subnetwork{
			Name: ref.Name, Region: ref.Region, Network: body.Network, IpCidrRange: body.IpCidrRange, Description: body.Description,
			PrivateIpGoogleAccess: body.PrivateIpGoogleAccess, LogConfig: body.LogConfig,
		}, nil)
		return s, nil
	}
	opts.progress("Creating subnet %s (operation %s)...", ref.Name, op.Name)
	if _, err := waitCompute(ctx, cs, ref.Project, op); err != nil {
		return nil, computeErr(fmt.Sprintf("create subnet %q", ref.Name), err)
	}
	return c.GetSubnet(ctx, ref)
}

// existingSubnet reads a subnet whose name an insert found taken. One that another insert is
// still creating (a repeated command, or a runnet that died while creating it) is not
// readable until that operation ends: it is waited for, within subnetAppearTimeout.
func (c *Clients) existingSubnet(ctx context.Context, ref egress.SubnetRef) (*Subnet, error) {
	start := time.Now()
	for {
		cur, err := c.GetSubnet(ctx, ref)
		if err == nil || !IsNotFound(err) || time.Since(start) > subnetAppearTimeout {
			return cur, err
		}
		if err := sleepCtx(ctx, pollInterval(time.Since(start))); err != nil {
			return nil, err
		}
	}
}

// subnetAppearTimeout bounds how long a subnet being created by another request is waited
// for.
const subnetAppearTimeout = 5 * time.Minute

// SubnetInUseError is a subnet Compute would not delete because another resource uses it.
type SubnetInUseError struct {
	Ref egress.SubnetRef
	// User is the resource Compute names.
	User string
	// Serverless lists the serverless-ipv4-* addresses Cloud Run still holds in the subnet
	// when the user is one of them, and ServerlessIPs how many addresses they hold.
	Serverless    []string
	ServerlessIPs int64
	Err           error
}

// HeldByCloudRun reports whether Cloud Run's Direct VPC reservations block the deletion.
func (e *SubnetInUseError) HeldByCloudRun() bool {
	return len(e.Serverless) > 0 || strings.Contains(e.User, "/addresses/"+ServerlessAddressPrefix)
}

func (e *SubnetInUseError) Error() string {
	api := e.Err.Error()
	if ge, ok := googleAPIError(e.Err); ok && ge.Message != "" {
		api = ge.Message
	} else if oe, ok := errorsAs[*ComputeOperationError](e.Err); ok && len(oe.Errors) > 0 {
		api = oe.Errors[0].Message
	}
	if e.HeldByCloudRun() {
		n := e.ServerlessIPs
		what := fmt.Sprintf("%d address%s (%s…", n, pluralS(int(n), "", "es"), ServerlessAddressPrefix)
		if n == 0 {
			what = "addresses (" + ServerlessAddressPrefix + "…"
		}
		if k := len(e.Serverless); k > 0 {
			what += fmt.Sprintf(", %d reservation%s", k, pluralS(k, "", "s"))
		}
		return fmt.Sprintf("delete subnet %q: Cloud Run still holds %s) for up to 1–2 hours after the last workload left; try again later. Compute: %s",
			e.Ref.Name, what, api)
	}
	return fmt.Sprintf("delete subnet %q: it is used by %s. Compute: %s", e.Ref.Name, e.User, api)
}

func (e *SubnetInUseError) Unwrap() error { return e.Err }

func pluralS(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// inUseUser returns the resource named by a resourceInUseByAnotherResource error (HTTP error
// or failed operation), and whether err is one.
func inUseUser(err error) (string, bool) {
	msg := ""
	if ge, ok := googleAPIError(err); ok {
		for _, e := range ge.Errors {
			if e.Reason == reasonInUse {
				msg = e.Message
			}
		}
		if msg == "" && strings.Contains(ge.Message, "is already being used by") {
			msg = ge.Message
		}
	}
	if oe, ok := errorsAs[*ComputeOperationError](err); ok {
		for _, e := range oe.Errors {
			if e.Code == opCodeInUse {
				msg = e.Message
			}
		}
	}
	if msg == "" {
		return "", false
	}
	const by = "is already being used by '"
	if i := strings.Index(msg, by); i >= 0 {
		rest := msg[i+len(by):]
		if j := strings.IndexByte(rest, '\''); j >= 0 {
			return rest[:j], true
		}
	}
	return "", true
}

// DeleteSubnet deletes a subnet and, unless opts.Async, waits for the operation. The delete
// carries a requestId and is retried with the same one. When Compute refuses because another
// resource uses the subnet, the error is a *SubnetInUseError; when that resource is one of
// Cloud Run's serverless-ipv4-* reservations it lists them all.
func (c *Clients) DeleteSubnet(ctx context.Context, ref egress.SubnetRef, opts WaitOptions) error {
	if err := checkNames(ref); err != nil {
		return err
	}
	cs, err := c.Compute()
	if err != nil {
		return err
	}
	op, err := computeWrite(ctx, func(ctx context.Context, id string) (*compute.Operation, error) {
		return cs.Subnetworks.Delete(ref.Project, ref.Region, ref.Name).RequestId(id).Context(ctx).Do()
	})
	if err == nil && !opts.Async {
		opts.progress("Deleting subnet %s (operation %s)...", ref.Name, op.Name)
		_, err = waitCompute(ctx, cs, ref.Project, op)
	}
	if err == nil {
		return nil
	}
	if user, ok := inUseUser(err); ok {
		e := &SubnetInUseError{Ref: ref, User: user, Err: err}
		if strings.Contains(user, "/addresses/"+ServerlessAddressPrefix) {
			if addrs, aerr := c.ListAddresses(ctx, ref.Project, ref.Region); aerr == nil {
				for _, a := range addrs {
					if a.Serverless() && a.Subnetwork == ref.Path() {
						e.Serverless = append(e.Serverless, a.Name)
						e.ServerlessIPs += a.IPs()
					}
				}
			}
		}
		return e
	}
	return computeErr(fmt.Sprintf("delete subnet %q", ref.Name), err)
}

// ListFirewalls returns the VPC firewall rules of project that apply to network (a name or
// path), sorted by priority then name. An empty network returns every rule.
func (c *Clients) ListFirewalls(ctx context.Context, project, network string) ([]egress.FirewallRule, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	want := normNetwork(network, project)
	out, err := computeRead(ctx, func(ctx context.Context) ([]egress.FirewallRule, error) {
		var out []egress.FirewallRule
		err := cs.Firewalls.List(project).Pages(ctx, func(l *compute.FirewallList) error {
			for _, fw := range l.Items {
				if want != "" && normNetwork(trimComputeURL(fw.Network), project) != want {
					continue
				}
				out = append(out, firewallFromCompute(fw))
			}
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, computeErr("list firewall rules in project "+project, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority < out[j].Priority
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func firewallFromCompute(fw *compute.Firewall) egress.FirewallRule {
	r := egress.FirewallRule{
		Name: fw.Name, Network: trimComputeURL(fw.Network), Direction: fw.Direction, Priority: int(fw.Priority),
		SourceRanges: slices.Clone(fw.SourceRanges), SourceTags: slices.Clone(fw.SourceTags),
		TargetTags: slices.Clone(fw.TargetTags), DestinationRanges: slices.Clone(fw.DestinationRanges),
		Disabled: fw.Disabled, Logging: fw.LogConfig != nil && fw.LogConfig.Enable,
	}
	for _, a := range fw.Allowed {
		r.Allowed = append(r.Allowed, egress.FirewallPermission{Protocol: a.IPProtocol, Ports: slices.Clone(a.Ports)})
	}
	for _, d := range fw.Denied {
		r.Denied = append(r.Denied, egress.FirewallPermission{Protocol: d.IPProtocol, Ports: slices.Clone(d.Ports)})
	}
	return r
}

// ListRouters returns the Cloud Routers of project in region with their Cloud NAT gateways,
// sorted by name.
func (c *Clients) ListRouters(ctx context.Context, project, region string) ([]egress.Router, error) {
	if err := checkNames(projectName(project), regionName(region)); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	out, err := computeRead(ctx, func(ctx context.Context) ([]egress.Router, error) {
		var out []egress.Router
		err := cs.Routers.List(project, region).Pages(ctx, func(l *compute.RouterList) error {
			for _, rt := range l.Items {
				out = append(out, routerFromCompute(rt))
			}
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, computeErr(fmt.Sprintf("list routers in project %s, region %s", project, region), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func routerFromCompute(rt *compute.Router) egress.Router {
	r := egress.Router{Name: rt.Name, Network: trimComputeURL(rt.Network), Region: egress.ShortName(rt.Region)}
	for _, n := range rt.Nats {
		nat := egress.NAT{Name: n.Name, SourceSubnetworkIPRangesToNat: n.SourceSubnetworkIpRangesToNat, Type: n.Type,
			NATIPAllocateOption: n.NatIpAllocateOption, MinPortsPerVM: n.MinPortsPerVm, DynamicPortAllocation: n.EnableDynamicPortAllocation}
		for _, ip := range n.NatIps {
			nat.NATIPs = append(nat.NATIPs, trimComputeURL(ip))
		}
		for _, s := range n.Subnetworks {
			nat.Subnetworks = append(nat.Subnetworks, trimComputeURL(s.Name))
		}
		r.NATs = append(r.NATs, nat)
	}
	return r
}

// UsedRange is an IPv4 range taken in a VPC network.
type UsedRange struct {
	Prefix netip.Prefix `json:"range"`
	// Kind is "subnet", "secondary range" or "connector".
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Region string `json:"region"`
}

// NetworkRanges returns every IPv4 range taken in network (a name or path in project),
// VPC-wide: the primary and secondary ranges of its subnets in every region, and the ranges
// of connectors created with --range (their hidden subnets are not listed by Compute).
// Connectors are listed in every region VPC Access serves; when that is refused (the API not
// enabled, so no connectors can exist, or no permission), the ranges are returned with a
// warning saying so.
func (c *Clients) NetworkRanges(ctx context.Context, project, network string) (ranges []UsedRange, warnings []string, err error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, nil, err
	}
	want := normNetwork(network, project)
	var subnets []*Subnet
	var conns []*Connector
	var connErr error
	err = both(func() error {
		var err error
		subnets, err = c.listSubnetRangesAllRegions(ctx, project)
		return err
	}, func() error {
		conns, connErr = c.ListConnectorsAllRegions(ctx, project)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, s := range subnets {
		if s.NetworkPath != want {
			continue
		}
		if p, perr := netip.ParsePrefix(s.IPCIDRRange); perr == nil {
			ranges = append(ranges, UsedRange{Prefix: p.Masked(), Kind: "subnet", Name: s.Name, Region: s.Region})
		}
		for _, r := range s.SecondaryRanges {
			if p, perr := netip.ParsePrefix(r.IPCIDRRange); perr == nil {
				ranges = append(ranges, UsedRange{Prefix: p.Masked(), Kind: "secondary range", Name: s.Name + "/" + r.RangeName, Region: s.Region})
			}
		}
	}
	if connErr != nil {
		switch grpcCodeOf(connErr) {
		case codes.PermissionDenied, codes.Unimplemented, codes.NotFound:
			warnings = append(warnings, fmt.Sprintf("connector ranges not checked (%v)", connErr))
		default:
			return nil, nil, connErr
		}
	}
	for _, cn := range conns {
		if cn.IPCIDRRange == "" || cn.State == ConnectorError || normNetwork(cn.Network, cn.Project) != want {
			continue
		}
		if p, perr := netip.ParsePrefix(cn.IPCIDRRange); perr == nil {
			ranges = append(ranges, UsedRange{Prefix: p.Masked(), Kind: "connector", Name: cn.Name, Region: cn.Region})
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Prefix.Addr().Less(ranges[j].Prefix.Addr()) })
	return ranges, warnings, nil
}

// listSubnetRangesAllRegions is ListSubnetsAllRegions without utilization or addresses.
func (c *Clients) listSubnetRangesAllRegions(ctx context.Context, project string) ([]*Subnet, error) {
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	out, err := computeRead(ctx, func(ctx context.Context) ([]*Subnet, error) {
		var out []*Subnet
		err := cs.Subnetworks.AggregatedList(project).Pages(ctx, func(l *compute.SubnetworkAggregatedList) error {
			for _, scoped := range l.Items {
				for _, sn := range scoped.Subnetworks {
					out = append(out, subnetFromCompute(project, sn, nil))
				}
			}
			return nil
		})
		return out, err
	})
	if err != nil {
		return nil, computeErr("list subnets in project "+project, err)
	}
	return out, nil
}

// ComputeError is an error from the Compute API with what runnet was doing. Its message is
// that context and Compute's own message (without the client's "googleapi: Error 400:"
// prefix); the API error stays in the chain for errors.As and exit codes.
type ComputeError struct {
	Op  string
	Err error
}

func (e *ComputeError) Error() string {
	if msg, ok := explainTransport(e.Err); ok {
		return e.Op + ": " + msg
	}
	if ge, ok := googleAPIError(e.Err); ok && ge.Message != "" {
		reason := ""
		if len(ge.Errors) > 0 && ge.Errors[0].Reason != "" {
			reason = ", " + ge.Errors[0].Reason
		}
		return fmt.Sprintf("%s: %s (HTTP %d%s)", e.Op, ge.Message, ge.Code, reason)
	}
	if oe, ok := errorsAs[*ComputeOperationError](e.Err); ok {
		var msgs []string
		for _, x := range oe.Errors {
			msgs = append(msgs, x.Message)
		}
		return fmt.Sprintf("%s: %s (operation %s)", e.Op, strings.Join(msgs, "; "), oe.Operation)
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *ComputeError) Unwrap() error { return e.Err }

func computeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &ComputeError{Op: op, Err: err}
}

// IsComputeNotFound reports whether err is Compute's HTTP 404.
func IsComputeNotFound(err error) bool {
	ge, ok := googleAPIError(err)
	return ok && ge.Code == http.StatusNotFound
}

// grpcCodeOf returns the gRPC code of the first error in err's chain that carries one.
func grpcCodeOf(err error) codes.Code {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) && gs.GRPCStatus() != nil {
		return gs.GRPCStatus().Code()
	}
	return status.Code(err)
}

// googleAPIError finds a *googleapi.Error in err's chain.
func googleAPIError(err error) (*googleapi.Error, bool) {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge, true
	}
	return nil, false
}
