package egress

import (
	"slices"
	"strings"
)

// Mode is how a workload reaches a VPC network.
type Mode string

// The egress modes.
const (
	// ModeNone: no VPC access; all traffic leaves through Cloud Run's own
	// internet egress.
	ModeNone Mode = "none"
	// ModeConnector: through a Serverless VPC Access connector.
	ModeConnector Mode = "connector"
	// ModeDirect: Direct VPC egress, through a network interface in a
	// subnetwork.
	ModeDirect Mode = "direct"
)

// Modes lists the valid modes in the order they are documented.
var Modes = []Mode{ModeNone, ModeConnector, ModeDirect}

const validModes = "valid modes: none, connector, direct"

// ParseMode parses a mode name (none, connector or direct), ignoring case.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToLower(s))
	if slices.Contains(Modes, m) {
		return m, nil
	}
	if s == "" {
		return "", parseErr("mode", s, validModes, "empty")
	}
	return "", parseErr("mode", s, validModes, "unknown mode")
}

// String returns the mode's name.
func (m Mode) String() string { return string(m) }

// Valid reports whether m is one of Modes.
func (m Mode) Valid() bool { return slices.Contains(Modes, m) }

// UnmarshalText parses text with ParseMode; empty text is the zero Mode.
func (m *Mode) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*m = ""
		return nil
	}
	v, err := ParseMode(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Egress says which outbound traffic goes through the VPC.
type Egress string

// The egress settings. The zero value (unset) means EgressPrivateRangesOnly,
// as in the Run Admin API ("If not provided, it defaults to
// PRIVATE_RANGES_ONLY", reference for VpcAccess.egress).
const (
	// EgressUnset is an egress that was not given; it behaves as
	// EgressPrivateRangesOnly.
	EgressUnset Egress = ""
	// EgressPrivateRangesOnly sends only traffic to private ranges
	// (RFC 1918 and RFC 6598) through the VPC. API name
	// PRIVATE_RANGES_ONLY.
	EgressPrivateRangesOnly Egress = "private-ranges-only"
	// EgressAllTraffic sends all outbound traffic through the VPC; reaching
	// the internet then needs Cloud NAT. API name ALL_TRAFFIC.
	EgressAllTraffic Egress = "all-traffic"
)

const validEgress = "valid values: private-ranges-only, all-traffic"

// ParseEgress parses an egress setting. It accepts gcloud's flag values
// (private-ranges-only, all-traffic, and the deprecated alias all) and the
// Run Admin API enum names (PRIVATE_RANGES_ONLY, ALL_TRAFFIC, and
// VPC_EGRESS_UNSPECIFIED, which is EgressUnset), ignoring case. Empty input
// is an error; use EgressUnset for "not given".
func ParseEgress(s string) (Egress, error) {
	switch strings.ToLower(s) {
	case "private-ranges-only", "private_ranges_only":
		return EgressPrivateRangesOnly, nil
	case "all-traffic", "all_traffic", "all":
		return EgressAllTraffic, nil
	case "vpc_egress_unspecified":
		return EgressUnset, nil
	case "":
		return "", parseErr("egress", s, validEgress, "empty")
	}
	return "", parseErr("egress", s, validEgress, "unknown egress setting")
}

// IsDeprecatedEgressAlias reports whether s is gcloud's deprecated alias
// "all" for all-traffic, so a caller can print a deprecation notice.
func IsDeprecatedEgressAlias(s string) bool { return strings.EqualFold(s, "all") }

// Normalize returns e with the API default applied: EgressUnset becomes
// EgressPrivateRangesOnly.
func (e Egress) Normalize() Egress {
	if e == EgressUnset {
		return EgressPrivateRangesOnly
	}
	return e
}

// IsAllTraffic reports whether e routes all traffic through the VPC.
func (e Egress) IsAllTraffic() bool { return e == EgressAllTraffic }

// APIName returns the Run Admin API enum name of e (after Normalize):
// PRIVATE_RANGES_ONLY or ALL_TRAFFIC.
func (e Egress) APIName() string {
	if e == EgressAllTraffic {
		return "ALL_TRAFFIC"
	}
	return "PRIVATE_RANGES_ONLY"
}

// String returns the gcloud flag value of e after Normalize.
func (e Egress) String() string { return string(e.Normalize()) }

// UnmarshalText parses text with ParseEgress; empty text is EgressUnset.
func (e *Egress) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*e = EgressUnset
		return nil
	}
	v, err := ParseEgress(string(text))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Kind is the kind of a Cloud Run workload.
type Kind string

// The workload kinds.
const (
	// KindService is a Cloud Run service (revisions that serve traffic).
	KindService Kind = "service"
	// KindJob is a Cloud Run job (executions of tasks).
	KindJob Kind = "job"
	// KindWorkerPool is a Cloud Run worker pool (revisions with no traffic
	// endpoint). Worker pools cannot use connectors.
	KindWorkerPool Kind = "workerpool"
)

// Kinds lists the workload kinds.
var Kinds = []Kind{KindService, KindJob, KindWorkerPool}

const validKinds = "valid kinds: service, job, workerpool"

// ParseKind parses a kind: service, job or workerpool, also in the plural
// and as the API collection names (services, jobs, workerPools).
func ParseKind(s string) (Kind, error) {
	switch s {
	case "service", "services":
		return KindService, nil
	case "job", "jobs":
		return KindJob, nil
	case "workerpool", "workerpools", "workerPools":
		return KindWorkerPool, nil
	case "":
		return "", parseErr("kind", s, validKinds, "empty")
	}
	return "", parseErr("kind", s, validKinds, "unknown kind")
}

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Collection returns the Run Admin API v2 collection of k: services, jobs
// or workerPools.
func (k Kind) Collection() string {
	switch k {
	case KindJob:
		return "jobs"
	case KindWorkerPool:
		return "workerPools"
	}
	return "services"
}

// Noun is how messages name the kind: service, job, worker pool.
func (k Kind) Noun() string {
	switch k {
	case KindJob:
		return "job"
	case KindWorkerPool:
		return "worker pool"
	}
	return "service"
}

// UnmarshalText parses text with ParseKind; empty text is the zero Kind.
func (k *Kind) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*k = ""
		return nil
	}
	v, err := ParseKind(string(text))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// WorkloadRef names one Cloud Run workload.
type WorkloadRef struct {
	// Kind is the workload's kind.
	Kind Kind `json:"kind"`
	// Project is the project ID (or number).
	Project string `json:"project"`
	// Region is the Cloud Run region (the API's location).
	Region string `json:"region"`
	// Name is the workload's short name.
	Name string `json:"name"`
}

// WorkloadForms describes the workload names ParseWorkloadRef accepts.
const WorkloadForms = "valid forms: NAME (a service), service/NAME, job/NAME, workerpool/NAME, " +
	"or projects/PROJECT/locations/REGION/{services|jobs|workerPools}/NAME"

// ParseWorkloadRef parses a workload as users write it:
//
//	NAME                                       a service
//	service/NAME, job/NAME, workerpool/NAME    (plurals also accepted)
//	projects/P/locations/R/services/NAME       full names, also .../jobs/NAME
//	projects/P/locations/R/workerPools/NAME    and .../workerPools/NAME
//
// Short forms take the project and region from defaultProject and
// defaultRegion; if either is needed and empty, the error wraps
// ErrNoProject or ErrNoRegion. Full names ignore the defaults. Every part is
// validated (see ValidateWorkloadName, ValidateProject, ValidateRegion);
// errors are *ParseError.
func ParseWorkloadRef(s, defaultProject, defaultRegion string) (WorkloadRef, error) {
	const what = "workload"
	if err := checkText(what, s, WorkloadForms); err != nil {
		return WorkloadRef{}, err
	}
	parts, ok := splitPath(s)
	if !ok {
		if len(parts) == 2 && parts[1] == "" && parts[0] != "" {
			return WorkloadRef{}, parseErr(what, s, WorkloadForms, "empty name after %q", parts[0]+"/")
		}
		return WorkloadRef{}, parseErr(what, s, WorkloadForms, "empty, \".\" or \"..\" path segment")
	}
	var ref WorkloadRef
	switch {
	case len(parts) == 1:
		ref = WorkloadRef{Kind: KindService, Name: parts[0]}
	case len(parts) == 2:
		k, err := ParseKind(parts[0])
		if err != nil {
			return WorkloadRef{}, parseErr(what, s, WorkloadForms, "unknown kind %q", parts[0])
		}
		ref = WorkloadRef{Kind: k, Name: parts[1]}
	case parts[0] == "projects":
		if len(parts) != 6 || parts[2] != "locations" {
			return WorkloadRef{}, parseErr(what, s, WorkloadForms, "not a full workload name")
		}
		k, err := ParseKind(parts[4])
		if err != nil || parts[4] != k.Collection() {
			return WorkloadRef{}, parseErr(what, s, WorkloadForms, "unknown collection %q", parts[4])
		}
		ref = WorkloadRef{Kind: k, Project: parts[1], Region: parts[3], Name: parts[5]}
	default:
		return WorkloadRef{}, parseErr(what, s, WorkloadForms, "too many \"/\"-separated parts")
	}
	if ref.Project == "" {
		if defaultProject == "" {
			return WorkloadRef{}, &ParseError{What: what, Input: s, Reason: "no project given; set a default project or use a full name", Valid: WorkloadForms, Err: ErrNoProject}
		}
		ref.Project = defaultProject
	}
	if ref.Region == "" {
		if defaultRegion == "" {
			return WorkloadRef{}, &ParseError{What: what, Input: s, Reason: "no region given; set a default region or use a full name", Valid: WorkloadForms, Err: ErrNoRegion}
		}
		ref.Region = defaultRegion
	}
	if err := ref.Validate(); err != nil {
		return WorkloadRef{}, nest(what, s, WorkloadForms, err)
	}
	return ref, nil
}

// Validate checks every field of r. It returns a *ParseError.
func (r WorkloadRef) Validate() error {
	if !r.Kind.Valid() {
		return parseErr("kind", string(r.Kind), validKinds, "unknown kind")
	}
	if err := ValidateProject(r.Project); err != nil {
		return err
	}
	if err := ValidateRegion(r.Region); err != nil {
		return err
	}
	return ValidateWorkloadName(r.Kind, r.Name)
}

// Parent returns the Run Admin API parent of r: projects/P/locations/R.
func (r WorkloadRef) Parent() string {
	return "projects/" + r.Project + "/locations/" + r.Region
}

// FullName returns the Run Admin API v2 resource name of r, such as
// projects/P/locations/R/services/NAME.
func (r WorkloadRef) FullName() string {
	return r.Parent() + "/" + r.Kind.Collection() + "/" + r.Name
}

// String returns the short form users type: NAME for a service,
// job/NAME or workerpool/NAME otherwise.
func (r WorkloadRef) String() string {
	if r.Kind == KindService || r.Kind == "" {
		return r.Name
	}
	return string(r.Kind) + "/" + r.Name
}

// ConnectorRef names a Serverless VPC Access connector.
type ConnectorRef struct {
	// Project is the connector's project.
	Project string `json:"project"`
	// Region is the connector's region.
	Region string `json:"region"`
	// Name is the connector ID.
	Name string `json:"name"`
}

// ConnectorForms describes the connector names ParseConnectorRef accepts.
const ConnectorForms = "valid forms: NAME or projects/PROJECT/locations/REGION/connectors/NAME"

// ParseConnectorRef parses a connector given as a short NAME (in
// defaultProject and defaultRegion) or as the full name
// projects/P/locations/R/connectors/NAME that Cloud Run stores. Errors are
// *ParseError.
func ParseConnectorRef(s, defaultProject, defaultRegion string) (ConnectorRef, error) {
	const what = "connector"
	if err := checkText(what, s, ConnectorForms); err != nil {
		return ConnectorRef{}, err
	}
	parts, ok := splitPath(s)
	if !ok {
		return ConnectorRef{}, parseErr(what, s, ConnectorForms, "empty, \".\" or \"..\" path segment")
	}
	var c ConnectorRef
	switch {
	case len(parts) == 1:
		c = ConnectorRef{Project: defaultProject, Region: defaultRegion, Name: parts[0]}
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "locations" && parts[4] == "connectors":
		c = ConnectorRef{Project: parts[1], Region: parts[3], Name: parts[5]}
	default:
		return ConnectorRef{}, parseErr(what, s, ConnectorForms, "not a connector name")
	}
	if err := c.Validate(); err != nil {
		return ConnectorRef{}, nest(what, s, ConnectorForms, err)
	}
	return c, nil
}

// Validate checks every field of c. It returns a *ParseError.
func (c ConnectorRef) Validate() error {
	if err := ValidateProject(c.Project); err != nil {
		return err
	}
	if err := ValidateRegion(c.Region); err != nil {
		return err
	}
	return ValidateConnectorName(c.Name)
}

// FullName returns projects/P/locations/R/connectors/NAME, the form Cloud
// Run's vpc_access.connector holds.
func (c ConnectorRef) FullName() string {
	return "projects/" + c.Project + "/locations/" + c.Region + "/connectors/" + c.Name
}

// String returns FullName.
func (c ConnectorRef) String() string { return c.FullName() }

// NetworkTags returns the network tags every VM of the connector carries:
// the universal tag vpc-connector and the per-connector tag
// vpc-connector-REGION-NAME. See ConnectorNetworkTags.
func (c ConnectorRef) NetworkTags() []string { return ConnectorNetworkTags(c.Region, c.Name) }

// ConnectorUniversalTag is the network tag every Serverless VPC Access
// connector carries. Source: VPC docs, "Serverless VPC Access", section
// "Network tags" (https://cloud.google.com/vpc/docs/serverless-vpc-access#network-tags).
const ConnectorUniversalTag = "vpc-connector"

// ConnectorNetworkTags returns the two network tags of the connector named
// name in region: ConnectorUniversalTag and the unique tag
// vpc-connector-REGION-NAME. They cannot be removed and no other tag can be
// added. Source: VPC docs, "Serverless VPC Access", "Network tags".
func ConnectorNetworkTags(region, name string) []string {
	return []string{ConnectorUniversalTag, ConnectorUniversalTag + "-" + region + "-" + name}
}

// computePrefixes are the URL prefixes Compute self-links and partial URLs
// may carry before projects/...
var computePrefixes = []string{
	"https://www.googleapis.com/compute/v1/",
	"https://www.googleapis.com/compute/beta/",
	"https://compute.googleapis.com/compute/v1/",
	"https://compute.googleapis.com/compute/beta/",
}

// ComputeURLPrefix is the prefix of Compute self-links.
const ComputeURLPrefix = "https://www.googleapis.com/compute/v1/"

func trimComputeURL(s string) string {
	for _, p := range computePrefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

// NetworkRef names a VPC network.
type NetworkRef struct {
	// Project is the network's project (the host project for Shared VPC).
	Project string `json:"project"`
	// Name is the network's name.
	Name string `json:"name"`
}

// NetworkForms describes the network names ParseNetworkRef accepts.
const NetworkForms = "valid forms: NAME, projects/PROJECT/global/networks/NAME, or its https://www.googleapis.com/compute/v1/ URL"

// ParseNetworkRef parses a network given as a short NAME (in
// defaultProject), as projects/P/global/networks/NAME (the form for a
// Shared VPC host project), as global/networks/NAME, or as a Compute URL.
// Errors are *ParseError.
func ParseNetworkRef(s, defaultProject string) (NetworkRef, error) {
	const what = "network"
	if err := checkText(what, s, NetworkForms); err != nil {
		return NetworkRef{}, err
	}
	parts, ok := splitPath(trimComputeURL(s))
	if !ok {
		return NetworkRef{}, parseErr(what, s, NetworkForms, "empty, \".\" or \"..\" path segment")
	}
	var n NetworkRef
	switch {
	case len(parts) == 1:
		n = NetworkRef{Project: defaultProject, Name: parts[0]}
	case len(parts) == 3 && parts[0] == "global" && parts[1] == "networks":
		n = NetworkRef{Project: defaultProject, Name: parts[2]}
	case len(parts) == 5 && parts[0] == "projects" && parts[2] == "global" && parts[3] == "networks":
		n = NetworkRef{Project: parts[1], Name: parts[4]}
	default:
		return NetworkRef{}, parseErr(what, s, NetworkForms, "not a network name")
	}
	if err := n.Validate(); err != nil {
		return NetworkRef{}, nest(what, s, NetworkForms, err)
	}
	return n, nil
}

// Validate checks every field of n. It returns a *ParseError.
func (n NetworkRef) Validate() error {
	if err := ValidateProject(n.Project); err != nil {
		return err
	}
	return ValidateComputeName("network", n.Name)
}

// Path returns projects/P/global/networks/NAME.
func (n NetworkRef) Path() string { return "projects/" + n.Project + "/global/networks/" + n.Name }

// URL returns the network's Compute self-link.
func (n NetworkRef) URL() string { return ComputeURLPrefix + n.Path() }

// String returns Path.
func (n NetworkRef) String() string { return n.Path() }

// SubnetRef names a subnetwork.
type SubnetRef struct {
	// Project is the subnetwork's project (the host project for Shared
	// VPC).
	Project string `json:"project"`
	// Region is the subnetwork's region.
	Region string `json:"region"`
	// Name is the subnetwork's name.
	Name string `json:"name"`
}

// SubnetForms describes the subnetwork names ParseSubnetRef accepts.
const SubnetForms = "valid forms: NAME, projects/PROJECT/regions/REGION/subnetworks/NAME, or its https://www.googleapis.com/compute/v1/ URL"

// ParseSubnetRef parses a subnetwork given as a short NAME (in
// defaultProject and defaultRegion), as
// projects/P/regions/R/subnetworks/NAME (the form for a Shared VPC host
// project), as regions/R/subnetworks/NAME, or as a Compute URL. Errors are
// *ParseError.
func ParseSubnetRef(s, defaultProject, defaultRegion string) (SubnetRef, error) {
	const what = "subnetwork"
	if err := checkText(what, s, SubnetForms); err != nil {
		return SubnetRef{}, err
	}
	parts, ok := splitPath(trimComputeURL(s))
	if !ok {
		return SubnetRef{}, parseErr(what, s, SubnetForms, "empty, \".\" or \"..\" path segment")
	}
	var sn SubnetRef
	switch {
	case len(parts) == 1:
		sn = SubnetRef{Project: defaultProject, Region: defaultRegion, Name: parts[0]}
	case len(parts) == 4 && parts[0] == "regions" && parts[2] == "subnetworks":
		sn = SubnetRef{Project: defaultProject, Region: parts[1], Name: parts[3]}
	case len(parts) == 6 && parts[0] == "projects" && parts[2] == "regions" && parts[4] == "subnetworks":
		sn = SubnetRef{Project: parts[1], Region: parts[3], Name: parts[5]}
	default:
		return SubnetRef{}, parseErr(what, s, SubnetForms, "not a subnetwork name")
	}
	if err := sn.Validate(); err != nil {
		return SubnetRef{}, nest(what, s, SubnetForms, err)
	}
	return sn, nil
}

// Validate checks every field of s. It returns a *ParseError.
func (s SubnetRef) Validate() error {
	if err := ValidateProject(s.Project); err != nil {
		return err
	}
	if err := ValidateRegion(s.Region); err != nil {
		return err
	}
	return ValidateComputeName("subnetwork", s.Name)
}

// Path returns projects/P/regions/R/subnetworks/NAME.
func (s SubnetRef) Path() string {
	return "projects/" + s.Project + "/regions/" + s.Region + "/subnetworks/" + s.Name
}

// URL returns the subnetwork's Compute self-link.
func (s SubnetRef) URL() string { return ComputeURLPrefix + s.Path() }

// String returns Path.
func (s SubnetRef) String() string { return s.Path() }

// VPC is a workload's VPC access settings, as in the Run Admin API v2
// vpc_access: either a connector, or one Direct VPC network interface
// (network, subnetwork, tags), or neither; plus the egress setting.
//
// Fields hold names in any form the API or the user gives (short names,
// paths, URLs); Canonical rewrites them to full paths.
type VPC struct {
	// Connector is the Serverless VPC Access connector, usually
	// projects/P/locations/R/connectors/NAME.
	Connector string `json:"connector,omitempty"`
	// Network is the Direct VPC network. It may be empty when Subnet is
	// set: Cloud Run then looks the network up from the subnetwork.
	Network string `json:"network,omitempty"`
	// Subnet is the Direct VPC subnetwork. It may be empty when Network is
	// set: Cloud Run then uses the subnetwork with the network's name.
	Subnet string `json:"subnet,omitempty"`
	// Tags are the network tags of the Direct VPC interface.
	Tags []string `json:"tags,omitempty"`
	// Egress is the egress setting; EgressUnset means private-ranges-only.
	Egress Egress `json:"egress,omitempty"`
}

// Mode returns ModeConnector when a connector is set, ModeDirect when a
// network or subnetwork is set, and ModeNone otherwise. A VPC with both a
// connector and a network interface is invalid (see Validate); Mode reports
// it as ModeConnector.
func (v VPC) Mode() Mode {
	switch {
	case v.Connector != "":
		return ModeConnector
	case v.Network != "" || v.Subnet != "":
		return ModeDirect
	}
	return ModeNone
}

// Validate checks that v is a settable target: one and only one of a
// connector and a network interface (as the API requires), tags and an
// egress setting only with VPC access, and every name well formed. project
// and region are the workload's, used to resolve short names. Errors are
// *ParseError.
func (v VPC) Validate(project, region string) error {
	_, err := v.canonical(project, region, true)
	return err
}

// Canonical returns v with every name rewritten to its full path
// (connector projects/P/locations/R/connectors/C, network
// projects/P/global/networks/N, subnetwork
// projects/P/regions/R/subnetworks/S), the same-name rule applied (a
// network without a subnetwork means the subnetwork of the network's name in
// region), tags sorted and deduplicated, and the egress default applied.
// With no VPC access the result is the zero VPC, whatever egress v carries.
// Short names resolve in project and region, the workload's; a short
// subnetwork name resolves in the network's project when the network is
// given as a path in another (Shared VPC host) project.
//
// Canonical is lenient about structure so that it can read what the API
// returns: it does not reject tags or egress without VPC access (they are
// dropped); Validate does. Names must still parse.
func (v VPC) Canonical(project, region string) (VPC, error) {
	return v.canonical(project, region, false)
}

func (v VPC) canonical(project, region string, strict bool) (VPC, error) {
	const what = "VPC settings"
	if v.Connector != "" && (v.Network != "" || v.Subnet != "") {
		return VPC{}, parseErr(what, v.String(), "use either a connector or a network/subnetwork",
			"one and only one of connector and network interface may be set")
	}
	var out VPC
	switch v.Mode() {
	case ModeNone:
		if strict && len(v.Tags) > 0 {
			return VPC{}, parseErr(what, v.String(), "", "network tags need Direct VPC egress (a network or subnetwork)")
		}
		if strict && v.Egress != EgressUnset {
			return VPC{}, parseErr(what, v.String(), "", "an egress setting needs a connector or a network/subnetwork")
		}
		return VPC{}, nil
	case ModeConnector:
		if strict && len(v.Tags) > 0 {
			return VPC{}, parseErr(what, v.String(), "", "network tags need Direct VPC egress; connectors carry their own tags")
		}
		c, err := ParseConnectorRef(v.Connector, project, region)
		if err != nil {
			return VPC{}, err
		}
		out.Connector = c.FullName()
	case ModeDirect:
		subnetProject := project
		if v.Network != "" {
			n, err := ParseNetworkRef(v.Network, project)
			if err != nil {
				return VPC{}, err
			}
			out.Network = n.Path()
			subnetProject = n.Project
		}
		subnet := v.Subnet
		if subnet == "" {
			// Same-name rule: Cloud Run uses the subnetwork named like the
			// network, in the workload's region.
			n, _ := ParseNetworkRef(v.Network, project)
			subnet = SubnetRef{Project: n.Project, Region: region, Name: n.Name}.Path()
		}
		s, err := ParseSubnetRef(subnet, subnetProject, region)
		if err != nil {
			return VPC{}, err
		}
		out.Subnet = s.Path()
		tags, err := canonicalTags(v.Tags)
		if err != nil {
			return VPC{}, err
		}
		out.Tags = tags
	}
	out.Egress = v.Egress.Normalize()
	return out, nil
}

// canonicalTags validates tags and returns them sorted without duplicates,
// or nil when there are none.
func canonicalTags(tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if err := ValidateNetworkTag(t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Equivalent reports whether v and o configure the same VPC access for a
// workload in project and region: same mode, same connector or same
// subnetwork (a subnetwork belongs to one network, so a network missing on
// one side does not matter), the same set of tags and the same egress after
// defaults. It returns an error if either side does not parse.
func (v VPC) Equivalent(o VPC, project, region string) (bool, error) {
	a, err := v.Canonical(project, region)
	if err != nil {
		return false, err
	}
	b, err := o.Canonical(project, region)
	if err != nil {
		return false, err
	}
	return a.sameAs(b), nil
}

// sameAs compares two canonical VPCs.
func (v VPC) sameAs(o VPC) bool {
	if v.Connector != o.Connector || v.Subnet != o.Subnet || v.Egress != o.Egress || !slices.Equal(v.Tags, o.Tags) {
		return false
	}
	return v.Network == "" || o.Network == "" || v.Network == o.Network
}

// String describes v in one line with names as they are held, for example
// "direct: network projects/p/global/networks/run-vpc, subnet
// projects/p/regions/asia-northeast1/subnetworks/run-subnet, tags [a b],
// egress all-traffic".
func (v VPC) String() string { return v.describe(func(s string) string { return s }) }

// Short is String with every name shortened to its last path segment, for
// example "direct: network run-vpc, subnet run-subnet, egress
// private-ranges-only".
func (v VPC) Short() string { return v.describe(ShortName) }

// Describe says the settings in words, for messages: "connector run-connector (egress
// private-ranges-only)", "Direct VPC egress (network run-vpc, subnet run-subnet, egress
// all-traffic)" or "no VPC access".
func (v VPC) Describe() string {
	details := v.Details()
	switch v.Mode() {
	case ModeConnector:
		c, rest, _ := strings.Cut(details, ", ")
		return c + " (" + rest + ")"
	case ModeDirect:
		return "Direct VPC egress (" + details + ")"
	}
	return "no VPC access"
}

// Details is Describe without the mode: "connector run-connector, egress
// private-ranges-only".
func (v VPC) Details() string {
	return strings.TrimPrefix(v.Short(), string(v.Mode())+": ")
}

func (v VPC) describe(name func(string) string) string {
	var b strings.Builder
	b.WriteString(string(v.Mode()))
	var parts []string
	if v.Connector != "" {
		parts = append(parts, "connector "+name(v.Connector))
	}
	if v.Network != "" {
		parts = append(parts, "network "+name(v.Network))
	}
	if v.Subnet != "" {
		parts = append(parts, "subnet "+name(v.Subnet))
	}
	if len(v.Tags) > 0 {
		parts = append(parts, "tags ["+strings.Join(v.Tags, " ")+"]")
	}
	if v.Mode() != ModeNone || v.Egress != EgressUnset {
		parts = append(parts, "egress "+v.Egress.String())
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	return b.String()
}

// Default instance counts used when a workload does not set its own.
const (
	// DefaultServiceMaxInstances is the maximum instance count assumed for a
	// service that sets none. Source: Cloud Run docs, "About maximum
	// instances" ("By default, Cloud Run services have a maximum of 100
	// instances"; newer versions of the page derive the default from
	// regional quotas, so adapters should pass the effective value when
	// they know it).
	DefaultServiceMaxInstances = 100
	// DefaultJobParallelism is the instance count assumed for a job that
	// sets neither parallelism nor a task count: one task. Source: Run Admin
	// API v2 reference, ExecutionTemplate.task_count (defaults to 1).
	DefaultJobParallelism = 1
	// DefaultWorkerPoolInstances is the instance count assumed for a worker
	// pool that sets none. Assumption: a worker pool's manual instance count
	// defaults to 1.
	DefaultWorkerPoolInstances = 1
)

// TrafficTarget is one entry of a service's traffic split.
type TrafficTarget struct {
	// Revision is the revision name; empty with Latest.
	Revision string `json:"revision,omitempty"`
	// Latest is set when the entry follows the latest ready revision.
	Latest bool `json:"latest,omitempty"`
	// Percent is the share of traffic, 0 to 100.
	Percent int `json:"percent"`
	// Tag is the entry's tag, if any.
	Tag string `json:"tag,omitempty"`
}

// Workload is a plain snapshot of what matters about a workload's egress.
// The cloud adapters fill it from the Run Admin API.
type Workload struct {
	// Ref names the workload.
	Ref WorkloadRef `json:"ref"`
	// VPC is the workload's current VPC access, as the API holds it.
	VPC VPC `json:"vpc"`
	// MaxInstances is the most instances the workload can run at once: a
	// service's or worker pool's maximum (or manual) instance count, or a
	// job's task parallelism (its task count when parallelism is 0). 0
	// means not set; see EffectiveMaxInstances.
	MaxInstances int `json:"maxInstances"`
	// MinInstances is the minimum instance count, 0 if not set.
	MinInstances int `json:"minInstances"`
	// LatestReady is the latest ready revision (services and worker pools).
	LatestReady string `json:"latestReadyRevision,omitempty"`
	// LatestCreated is the latest created revision (services and worker
	// pools).
	LatestCreated string `json:"latestCreatedRevision,omitempty"`
	// Traffic is a service's traffic split.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
	// Etag is the etag the workload was read with, for conditional updates.
	Etag string `json:"etag,omitempty"`
	// Reconciling is set while the workload is being changed.
	Reconciling bool `json:"reconciling,omitempty"`
	// Serving is what serves the workload now (its serving revisions, each with its own VPC
	// access), when it was read; nil means unknown, and the template is then taken as what
	// serves.
	Serving *ServingState `json:"serving,omitempty"`
	// StartupProbe is the kind of startup probe of the template's first container (services
	// and worker pools): ProbeNone, ProbeHTTP, ProbeTCP or ProbeGRPC; "" when not read.
	StartupProbe ProbeKind `json:"startupProbe,omitempty"`
}

// Mode returns the workload's current egress mode.
func (w Workload) Mode() Mode { return w.VPC.Mode() }

// UsesConnector reports whether w's template uses connector ref (what serves w may use it
// too: see ServingState.UsesConnector).
func (w Workload) UsesConnector(ref ConnectorRef) bool {
	if w.VPC.Connector == "" {
		return false
	}
	c, err := ParseConnectorRef(w.VPC.Connector, w.Ref.Project, w.Ref.Region)
	return err == nil && c == ref
}

// EffectiveMaxInstances returns MaxInstances, or when it is not set the
// default of the workload's kind: DefaultServiceMaxInstances,
// DefaultJobParallelism or DefaultWorkerPoolInstances.
func (w Workload) EffectiveMaxInstances() int {
	return effectiveMax(w.Ref.Kind, w.MaxInstances)
}

func effectiveMax(k Kind, n int) int {
	if n > 0 {
		return n
	}
	switch k {
	case KindJob:
		return DefaultJobParallelism
	case KindWorkerPool:
		return DefaultWorkerPoolInstances
	}
	return DefaultServiceMaxInstances
}
