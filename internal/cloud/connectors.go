package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/api/iterator"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Serverless VPC Access defaults: what the API (and gcloud) use when a field is not set. Each
// is a platform fact; keep the source in its comment.
const (
	// DefaultConnectorMachineType is machine_type when none is given. Source: VPC Access API
	// reference, Connector.machine_type ("Default is e2-micro").
	DefaultConnectorMachineType = "e2-micro"
	// DefaultConnectorMinInstances is gcloud's --min-instances default. Source: gcloud compute
	// networks vpc-access connectors create (--min-instances; default=2).
	DefaultConnectorMinInstances = 2
	// DefaultConnectorMaxInstances is gcloud's --max-instances default. Source: gcloud compute
	// networks vpc-access connectors create (--max-instances; default=10).
	DefaultConnectorMaxInstances = 10
	// DefaultConnectorNetwork is gcloud's --network default when a connector is created with
	// --range. Source: gcloud compute networks vpc-access connectors create
	// (--network=NETWORK; default="default").
	DefaultConnectorNetwork = "default"
)

// Connector states, as the VPC Access API v1 names them.
const (
	ConnectorCreating = "CREATING"
	ConnectorReady    = "READY"
	ConnectorUpdating = "UPDATING"
	ConnectorDeleting = "DELETING"
	ConnectorError    = "ERROR"
)

// ConnectorSubnet is the /28 subnetwork a connector was created in (instead of an
// ip_cidr_range). ProjectID is the subnetwork's project: the connector's own, or a Shared VPC
// host project.
type ConnectorSubnet struct {
	Name      string `json:"name"`
	ProjectID string `json:"projectId,omitempty"`
}

// Path returns projects/P/regions/REGION/subnetworks/NAME for the subnetwork of a connector in
// defaultProject and region.
func (s ConnectorSubnet) Path(defaultProject, region string) string {
	p := s.ProjectID
	if p == "" {
		p = defaultProject
	}
	return egress.SubnetRef{Project: p, Region: region, Name: s.Name}.Path()
}

// Connector is a Serverless VPC Access connector as runnet sees it. JSON field names are a
// stable contract (runnet's --format json output).
type Connector struct {
	// Name is the connector ID.
	Name string `json:"name"`
	// Project and Region locate it.
	Project string `json:"project"`
	Region  string `json:"region"`
	// FullName is projects/P/locations/R/connectors/NAME, the form Cloud Run stores.
	FullName string `json:"fullName"`
	// Network is the VPC network as the API holds it (a short name, a path or a URL); it is
	// empty for a connector created in a subnet, whose network is the subnet's.
	Network string `json:"network,omitempty"`
	// IPCIDRRange is the /28 range of a connector created with one.
	IPCIDRRange string `json:"ipCidrRange,omitempty"`
	// Subnet is the /28 subnetwork of a connector created in one.
	Subnet *ConnectorSubnet `json:"subnet,omitempty"`
	// State is CREATING, READY, UPDATING, DELETING or ERROR.
	State string `json:"state"`
	// MachineType is e2-micro, f1-micro or e2-standard-4.
	MachineType string `json:"machineType"`
	// MinInstances and MaxInstances bound the connector's scaling (it scales out, never in).
	MinInstances int `json:"minInstances"`
	MaxInstances int `json:"maxInstances"`
	// MinThroughput and MaxThroughput (Mbps) are deprecated; the instance counts win.
	MinThroughput int `json:"minThroughput,omitempty"`
	MaxThroughput int `json:"maxThroughput,omitempty"`
	// ConnectedProjects are the projects whose workloads use the connector (output only).
	ConnectedProjects []string `json:"connectedProjects,omitempty"`
}

// Ref returns the connector's reference.
func (c *Connector) Ref() egress.ConnectorRef {
	return egress.ConnectorRef{Project: c.Project, Region: c.Region, Name: c.Name}
}

// NetworkName returns the short name of the connector's network, or "" when the API does not
// say (a connector created in a subnet).
func (c *Connector) NetworkName() string { return egress.ShortName(c.Network) }

// SubnetPath returns the path of the connector's subnetwork, or "".
func (c *Connector) SubnetPath() string {
	if c.Subnet == nil || c.Subnet.Name == "" {
		return ""
	}
	return c.Subnet.Path(c.Project, c.Region)
}

// Facts returns what the preflight checks need to know about the connector. subnetCIDR is the
// range of its subnetwork, when the caller looked it up.
func (c *Connector) Facts(subnetCIDR string) egress.ConnectorFacts {
	f := egress.ConnectorFacts{
		Name: c.FullName, Exists: true, Region: c.Region, Network: c.Network, State: c.State,
		IPCIDRRange: c.IPCIDRRange, Subnet: c.SubnetPath(), SubnetCIDR: subnetCIDR, MachineType: c.MachineType,
	}
	return f
}

func connectorFromProto(pc *vpcaccesspb.Connector) (*Connector, error) {
	ref, err := egress.ParseConnectorRef(pc.GetName(), "", "")
	if err != nil {
		return nil, fmt.Errorf("connector name %q from the API: %w", pc.GetName(), err)
	}
	c := &Connector{
		Name: ref.Name, Project: ref.Project, Region: ref.Region, FullName: ref.FullName(),
		Network: pc.GetNetwork(), IPCIDRRange: pc.GetIpCidrRange(), State: pc.GetState().String(),
		MachineType:  pc.GetMachineType(),
		MinInstances: int(pc.GetMinInstances()), MaxInstances: int(pc.GetMaxInstances()),
		MinThroughput: int(pc.GetMinThroughput()), MaxThroughput: int(pc.GetMaxThroughput()),
		ConnectedProjects: slices.Clone(pc.GetConnectedProjects()),
	}
	if c.State == vpcaccesspb.Connector_STATE_UNSPECIFIED.String() {
		c.State = ""
	}
	if s := pc.GetSubnet(); s != nil && (s.GetName() != "" || s.GetProjectId() != "") {
		c.Subnet = &ConnectorSubnet{Name: s.GetName(), ProjectID: s.GetProjectId()}
	}
	return c, nil
}

// ConnectorSpec is what CreateConnector makes: exactly one of IPCIDRRange (with Network) and
// Subnet. Zero MachineType, MinInstances and MaxInstances take the defaults above.
type ConnectorSpec struct {
	Ref          egress.ConnectorRef
	Network      string // network name or path; with IPCIDRRange only
	IPCIDRRange  string
	Subnet       *ConnectorSubnet
	MachineType  string
	MinInstances int
	MaxInstances int
}

// withDefaults returns s with the defaults filled in.
func (s ConnectorSpec) withDefaults() ConnectorSpec {
	if s.MachineType == "" {
		s.MachineType = DefaultConnectorMachineType
	}
	if s.MinInstances == 0 {
		s.MinInstances = DefaultConnectorMinInstances
	}
	if s.MaxInstances == 0 {
		s.MaxInstances = DefaultConnectorMaxInstances
	}
	if s.IPCIDRRange != "" && s.Network == "" {
		s.Network = DefaultConnectorNetwork
	}
	return s
}

func (s ConnectorSpec) proto() *vpcaccesspb.Connector {
	pc := &vpcaccesspb.Connector{
		MachineType:  s.MachineType,
		MinInstances: int32(s.MinInstances),
		MaxInstances: int32(s.MaxInstances),
	}
	if s.IPCIDRRange != "" {
		pc.IpCidrRange = s.IPCIDRRange
		pc.Network = s.Network
	}
	if s.Subnet != nil {
		pc.Subnet = &vpcaccesspb.Connector_Subnet{Name: s.Subnet.Name, ProjectId: s.Subnet.ProjectID}
	}
	return pc
}

// Differences lists how connector c differs from spec s, one phrase per field (empty when c
// is what s would create). Names are compared by their last segment and project, so a short
// network name matches its URL.
func (s ConnectorSpec) Differences(c *Connector) []string {
	s = s.withDefaults()
	var d []string
	diff := func(field, want, got string) {
		switch {
		case want == got:
		case want == "":
			d = append(d, fmt.Sprintf("%s is %s, where none was asked for", field, got))
		default:
			d = append(d, fmt.Sprintf("%s is %s, not %s", field, orNone(got), want))
		}
	}
	if s.IPCIDRRange != "" || c.IPCIDRRange != "" {
		diff("ipCidrRange", s.IPCIDRRange, c.IPCIDRRange)
	}
	if s.IPCIDRRange != "" {
		diff("network", normNetwork(s.Network, s.Ref.Project), normNetwork(c.Network, c.Project))
	}
	var want, got string
	if s.Subnet != nil {
		want = s.Subnet.Path(s.Ref.Project, s.Ref.Region)
	}
	got = c.SubnetPath()
	diff("subnet", want, got)
	diff("machineType", s.MachineType, c.MachineType)
	if c.MinInstances != s.MinInstances {
		d = append(d, fmt.Sprintf("minInstances is %d, not %d", c.MinInstances, s.MinInstances))
	}
	if c.MaxInstances != s.MaxInstances {
		d = append(d, fmt.Sprintf("maxInstances is %d, not %d", c.MaxInstances, s.MaxInstances))
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

// normNetwork turns a network name, path or URL into projects/P/global/networks/N, or returns
// it unchanged when it does not parse.
func normNetwork(n, project string) string {
	if n == "" {
		return ""
	}
	if r, err := egress.ParseNetworkRef(n, project); err == nil {
		return r.Path()
	}
	return n
}

// ConnectorExistsError is a create that met a connector of the same name made differently.
type ConnectorExistsError struct {
	Ref         egress.ConnectorRef
	Differences []string
}

func (e *ConnectorExistsError) Error() string {
	return fmt.Sprintf("connector %s already exists and differs from the one requested: %s; delete it first or pick another name",
		e.Ref.Name, strings.Join(e.Differences, "; "))
}

// GRPCStatus reports ALREADY_EXISTS, so exit codes treat it as a conflict.
func (e *ConnectorExistsError) GRPCStatus() *status.Status {
	return status.New(codes.AlreadyExists, e.Error())
}

// WaitOptions control how a mutating call waits for its operation.
type WaitOptions struct {
	// Async returns as soon as the operation has started.
	Async bool
	// Progress, when set, is called while waiting with a short human message.
	Progress func(msg string)
}

func (o WaitOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// ConnectorLocation returns projects/P/locations/R.
func ConnectorLocation(project, region string) string {
	return "projects/" + project + "/locations/" + region
}

// ListConnectors returns every connector in project and region (all pages), sorted by name.
// The read is retried on transient errors.
func (c *Clients) ListConnectors(ctx context.Context, project, region string) ([]*Connector, error) {
	if err := checkNames(projectName(project), regionName(region)); err != nil {
		return nil, err
	}
	vc, err := c.VPCAccess()
	if err != nil {
		return nil, err
	}
	var out []*Connector
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		out = nil
		it := vc.ListConnectors(ctx, &vpcaccesspb.ListConnectorsRequest{Parent: ConnectorLocation(project, region)}, noGaxRetry)
		for {
			pc, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			conn, err := connectorFromProto(pc)
			if err != nil {
				return err
			}
			out = append(out, conn)
		}
	})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("list connectors in project %s, region %s", project, region), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ConnectorRegions returns the regions where project can have connectors (VPC Access
// ListLocations), sorted.
func (c *Clients) ConnectorRegions(ctx context.Context, project string) ([]string, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, err
	}
	vc, err := c.VPCAccess()
	if err != nil {
		return nil, err
	}
	var out []string
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		out = nil
		it := vc.ListLocations(ctx, &locationpb.ListLocationsRequest{Name: "projects/" + project}, noGaxRetry)
		for {
			l, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				return err
			}
			if id := l.GetLocationId(); id != "" {
				out = append(out, id)
			} else {
				out = append(out, egress.ShortName(l.GetName()))
			}
		}
	})
	if err != nil {
		return nil, apiErr("list VPC Access locations of project "+project, err)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// listConcurrency bounds concurrent per-region list calls.
const listConcurrency = 16

// ListConnectorsAllRegions returns the connectors of project in every region VPC Access
// serves, listing the regions concurrently.
func (c *Clients) ListConnectorsAllRegions(ctx context.Context, project string) ([]*Connector, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, err
	}
	regions, err := c.ConnectorRegions(ctx, project)
	if err != nil {
		return nil, err
	}
	results := make([][]*Connector, len(regions))
	errs := make([]error, len(regions))
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = c.ListConnectors(ctx, project, r)
		}()
	}
	wg.Wait()
	if err := joinErrors(errs...); err != nil {
		return nil, err
	}
	var out []*Connector
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}

// GetConnector returns one connector. A missing connector is an error for which IsNotFound
// holds. The read is retried on transient errors.
func (c *Clients) GetConnector(ctx context.Context, ref egress.ConnectorRef) (*Connector, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	vc, err := c.VPCAccess()
	if err != nil {
		return nil, err
	}
	var pc *vpcaccesspb.Connector
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		pc, err = vc.GetConnector(ctx, &vpcaccesspb.GetConnectorRequest{Name: ref.FullName()}, noGaxRetry)
		return err
	})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("read connector %q", ref.Name), err)
	}
	return connectorFromProto(pc)
}

// CreateConnector creates a connector and, unless opts.Async, waits until it is READY (VPC
// Access has no WaitOperation, so the operation is polled adaptively). A create that meets an
// existing connector of the same name counts as success when that connector matches spec (a
// retried create, or a repeated command), and is a *ConnectorExistsError naming the
// differences otherwise. Transient failures of the create call are retried for the same
// reason: a repeat can only meet its own connector.
//
// It returns the connector as it stands at the end: READY, or CREATING with opts.Async.
func (c *Clients) CreateConnector(ctx context.Context, spec ConnectorSpec, opts WaitOptions) (*Connector, error) {
	if err := checkNames(spec.Ref); err != nil {
		return nil, err
	}
	vc, err := c.VPCAccess()
	if err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	ref := spec.Ref
	req := &vpcaccesspb.CreateConnectorRequest{
		Parent: ConnectorLocation(ref.Project, ref.Region), ConnectorId: ref.Name, Connector: spec.proto(),
	}
	var op *vpcaccess.CreateConnectorOperation
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		op, err = vc.CreateConnector(ctx, req, noGaxRetry)
		return err
	})
	if status.Code(err) == codes.AlreadyExists {
		return c.adoptConnector(ctx, spec, opts)
	}
	if err != nil {
		return nil, apiErr(fmt.Sprintf("create connector %q", ref.Name), err)
	}
	opts.progress("Creating connector %s (operation %s)...", ref.Name, egress.ShortName(op.Name()))
	if opts.Async {
		return c.connectorOrSpec(ctx, spec, ConnectorCreating), nil
	}
	out := &vpcaccesspb.Connector{}
	lro := &longrunningpb.Operation{Name: op.Name()}
	if err := waitPoll(ctx, vc, lro, out, progressOp(opts, "Creating connector "+ref.Name)); err != nil {
		return nil, connectorOpError("create", ref, err)
	}
	conn, err := connectorFromProto(out)
	if err != nil || conn.Name == "" {
		// An operation without a usable response: read the connector instead.
		return c.GetConnector(ctx, ref)
	}
	return conn, nil
}

// adoptConnector handles ALREADY_EXISTS: the existing connector must match spec; it is then
// waited for like a new one.
func (c *Clients) adoptConnector(ctx context.Context, spec ConnectorSpec, opts WaitOptions) (*Connector, error) {
	ref := spec.Ref
	cur, err := c.GetConnector(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("create connector %s: it already exists, and reading it failed: %w", ref.Name, err)
	}
	if d := spec.Differences(cur); len(d) > 0 {
		return nil, &ConnectorExistsError{Ref: ref, Differences: d}
	}
	switch cur.State {
	case ConnectorReady:
		return cur, nil
	case ConnectorError:
		return nil, fmt.Errorf("connector %s already exists in state ERROR; delete it (runnet connector delete %s) and create it again", ref.Name, ref.Name)
	case ConnectorDeleting:
		return nil, status.Errorf(codes.FailedPrecondition, "connector %s already exists and is being deleted; try again when it is gone", ref.Name)
	}
	if opts.Async {
		return cur, nil
	}
	return c.waitConnectorState(ctx, ref, opts)
}

// waitConnectorState polls a connector (adaptively, like an operation) until it leaves
// CREATING or UPDATING. It fails if the connector ends in ERROR or disappears.
func (c *Clients) waitConnectorState(ctx context.Context, ref egress.ConnectorRef, opts WaitOptions) (*Connector, error) {
	start := time.Now()
	for {
		cur, err := c.GetConnector(ctx, ref)
		if err != nil {
			return nil, err
		}
		switch cur.State {
		case ConnectorReady:
			return cur, nil
		case ConnectorError:
			return nil, fmt.Errorf("connector %s is in state ERROR; delete it (runnet connector delete %s) and create it again", ref.Name, ref.Name)
		case ConnectorCreating, ConnectorUpdating:
		default:
			return nil, fmt.Errorf("connector %s is %s, not READY", ref.Name, cur.State)
		}
		opts.progress("Waiting for connector %s (%s)...", ref.Name, cur.State)
		if err := sleepCtx(ctx, pollInterval(time.Since(start))); err != nil {
			return nil, fmt.Errorf("wait for connector %s: %w", ref.Name, err)
		}
	}
}

// connectorOrSpec reads the connector after an asynchronous start, falling back to what spec
// describes in state when the read fails.
func (c *Clients) connectorOrSpec(ctx context.Context, spec ConnectorSpec, state string) *Connector {
	if cur, err := c.GetConnector(ctx, spec.Ref); err == nil {
		return cur
	}
	ref := spec.Ref
	conn := &Connector{
		Name: ref.Name, Project: ref.Project, Region: ref.Region, FullName: ref.FullName(),
		IPCIDRRange: spec.IPCIDRRange, State: state, MachineType: spec.MachineType,
		MinInstances: spec.MinInstances, MaxInstances: spec.MaxInstances,
	}
	if spec.IPCIDRRange != "" {
		conn.Network = spec.Network
	}
	if spec.Subnet != nil {
		s := *spec.Subnet
		conn.Subnet = &s
	}
	return conn
}

// connectorOpError explains a failed connector operation, adding what to do next when the
// API leaves a connector behind in ERROR.
func connectorOpError(verb string, ref egress.ConnectorRef, err error) error {
	op := fmt.Sprintf("%s connector %q", verb, ref.Name)
	if verb == "create" && strings.Contains(err.Error(), "delete the connector manually") {
		op += fmt.Sprintf(" (it is left in state ERROR: remove it with 'runnet connector delete %s')", ref.Name)
	}
	return apiErr(op, err)
}

func progressOp(opts WaitOptions, what string) func(*longrunningpb.Operation) {
	if opts.Progress == nil {
		return nil
	}
	start := time.Now()
	return func(*longrunningpb.Operation) {
		opts.progress("%s... (%s)", what, time.Since(start).Round(100*time.Millisecond))
	}
}

// DeleteConnector deletes a connector and, unless opts.Async, waits until it is gone. Note
// that the API lets a connector that workloads still use be deleted: callers check first.
func (c *Clients) DeleteConnector(ctx context.Context, ref egress.ConnectorRef, opts WaitOptions) error {
	if err := checkNames(ref); err != nil {
		return err
	}
	vc, err := c.VPCAccess()
	if err != nil {
		return err
	}
	// Delete is idempotent: repeating it after a transient failure can only meet NOT_FOUND
	// (already gone) or FAILED_PRECONDITION (already deleting).
	var op *vpcaccess.DeleteConnectorOperation
	attempt := 0
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		attempt++
		var err error
		op, err = vc.DeleteConnector(ctx, &vpcaccesspb.DeleteConnectorRequest{Name: ref.FullName()}, noGaxRetry)
		if attempt > 1 && status.Code(err) == codes.NotFound {
			op = nil
			return nil // the first attempt went through
		}
		return err
	})
	if err != nil {
		return apiErr(fmt.Sprintf("delete connector %q", ref.Name), err)
	}
	if op == nil || opts.Async {
		return nil
	}
	opts.progress("Deleting connector %s (operation %s)...", ref.Name, egress.ShortName(op.Name()))
	if err := waitPoll(ctx, vc, &longrunningpb.Operation{Name: op.Name()}, nil, progressOp(opts, "Deleting connector "+ref.Name)); err != nil {
		return connectorOpError("delete", ref, err)
	}
	return nil
}
