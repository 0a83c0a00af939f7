package iac

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// A HandOff is everything a piece of infrastructure code needs to take over the VPC side of some
// Cloud Run workloads from runnet: the workloads' VPC access, the Serverless VPC Access
// connectors and the subnetworks they use, which of those runnet created (the code imports
// them rather than creating them again), and which runnet deleted (the code forgets them
// rather than recreating or destroying them).
//
// Without the connector and subnet resources, and the import and removed blocks, a hand-off is
// incomplete: an old google_vpc_access_connector left in the code is recreated by the next
// apply, and a subnet runnet created is unknown to it.
type HandOff struct {
	// Subject says what the hand-off covers, for its opening comment: "service run-service",
	// "connector run-connector and its users", "everything in project P (region R)".
	Subject string
	// Workloads are the workloads whose VPC access is handed off (their templates).
	Workloads []Workload
	// Connectors and Subnets are the resources declared.
	Connectors []Connector
	Subnets    []Subnet
	// Removed are resources runnet deleted that the code may still declare.
	Removed []Removed
	// Notes are said in comments at the top: resources left out and why.
	Notes []string
}

// Workload is a workload and its VPC access as its template holds it.
type Workload struct {
	Ref egress.WorkloadRef
	VPC egress.VPC
}

// Connector is a Serverless VPC Access connector as the VPC Access API holds it.
type Connector struct {
	Project, Region, Name string
	// Network is the network of a connector made in a range (as the API holds it: a name, a
	// path or a URL); "" for one made in a subnet.
	Network     string
	IPCIDRRange string
	// Subnet is the /28 subnetwork of a connector made in one.
	Subnet       *ConnectorSubnet
	MachineType  string
	MinInstances int
	MaxInstances int
	// Import is set when runnet created the connector: the code adopts it.
	Import bool
	// OtherUsers are workloads the hand-off leaves out that use the connector (its
	// comment names them after the workloads exported): NAME, job/NAME, ….
	OtherUsers []string
}

// ConnectorSubnet is the subnetwork of a connector: its name and, for Shared VPC, its project.
type ConnectorSubnet struct {
	Name      string
	ProjectID string
}

// Path returns projects/P/locations/R/connectors/NAME.
func (c Connector) Path() string {
	return egress.ConnectorRef{Project: c.Project, Region: c.Region, Name: c.Name}.FullName()
}

// subnetPath returns the path of the connector's subnetwork, or "".
func (c Connector) subnetPath() string {
	if c.Subnet == nil || c.Subnet.Name == "" {
		return ""
	}
	p := c.Subnet.ProjectID
	if p == "" {
		p = c.Project
	}
	return egress.SubnetRef{Project: p, Region: c.Region, Name: c.Subnet.Name}.Path()
}

// Subnet is a Compute Engine subnetwork as the Compute API holds it.
type Subnet struct {
	Project, Region, Name string
	// Network is the network's path, projects/P/global/networks/N.
	Network     string
	IPCIDRRange string
	// Description is the subnetwork's description. It can only be set at creation: code that
	// leaves it out replaces the subnetwork, so it is written whenever the API holds one.
	Description string
	// DescriptionUnknown says the description could not be read: an adopted subnetwork then
	// gets a comment saying to fill it in.
	DescriptionUnknown    bool
	PrivateIPGoogleAccess bool
	// StackType (IPV4_ONLY, IPV4_IPV6) and IPv6AccessType (INTERNAL, EXTERNAL) are written
	// when known.
	StackType      string
	IPv6AccessType string
	// FlowLogs is set when VPC Flow Logs are on.
	FlowLogs        *FlowLogs
	SecondaryRanges []SecondaryRange
	// Import is set when runnet created the subnetwork: the code adopts it.
	Import bool
	// OtherUsers are workloads the hand-off leaves out that use the subnetwork, as
	// Connector's.
	OtherUsers []string
}

// Path returns projects/P/regions/R/subnetworks/NAME.
func (s Subnet) Path() string {
	return egress.SubnetRef{Project: s.Project, Region: s.Region, Name: s.Name}.Path()
}

// FlowLogs are a subnetwork's VPC Flow Logs settings, in the API's enum values
// (INTERVAL_5_SEC..., INCLUDE_ALL_METADATA...).
type FlowLogs struct {
	AggregationInterval string
	FlowSampling        float64
	Metadata            string
}

// SecondaryRange is a named secondary range of a subnetwork.
type SecondaryRange struct {
	RangeName   string
	IPCIDRRange string
}

// ResourceKind is what a hand-off entry is.
type ResourceKind string

// The kinds of resources in a hand-off.
const (
	KindWorkload  ResourceKind = "workload"
	KindConnector ResourceKind = "connector"
	KindSubnet    ResourceKind = "subnet"
)

// Removed is a connector or subnetwork that runnet deleted.
type Removed struct {
	Kind                  ResourceKind // KindConnector or KindSubnet
	Project, Region, Name string
	// Why says how it went, for the comment: "deleted by runnet migrate --cleanup".
	Why string
}

// Path returns the resource's full name.
func (r Removed) Path() string {
	if r.Kind == KindSubnet {
		return egress.SubnetRef{Project: r.Project, Region: r.Region, Name: r.Name}.Path()
	}
	return egress.ConnectorRef{Project: r.Project, Region: r.Region, Name: r.Name}.FullName()
}

// Action is what the code does with an entry.
type Action string

// The actions.
const (
	// ActionDeclare declares the resource (it exists, and the code should say so).
	ActionDeclare Action = "declare"
	// ActionImport declares the resource and adopts the existing one (runnet created it).
	ActionImport Action = "import"
	// ActionRemove forgets a resource that no longer exists, destroying nothing.
	ActionRemove Action = "remove"
)

// Entry is one resource of a rendered hand-off: what it is, where the code has it, and what
// the code does with it.
type Entry struct {
	Kind ResourceKind `json:"kind"`
	// Path is the resource's full name (projects/...).
	Path string `json:"path"`
	// Type is the Terraform or Pulumi resource type, or the gcloud command.
	Type string `json:"type"`
	// Address is the Terraform address (TYPE.LABEL) or the Pulumi logical name; "" for gcloud.
	Address string `json:"address,omitempty"`
	Action  Action `json:"action"`
	// ImportID is the ID an import uses (ActionImport).
	ImportID string `json:"importId,omitempty"`
}

// The resource types of connectors and subnetworks, per format.
const (
	tfConnector     = "google_vpc_access_connector"
	tfSubnetwork    = "google_compute_subnetwork"
	pulumiConnector = "gcp:vpcaccess:Connector"
	pulumiSubnet    = "gcp:compute:Subnetwork"
	gcloudConnector = "gcloud compute networks vpc-access connectors create"
	gcloudSubnet    = "gcloud compute networks subnets create"
)

// ImportID returns the ID under which Terraform's import block, Pulumi's import option and
// `terraform import` find an existing connector or subnetwork: the long form each provider
// documents (see the sources in terraform.go).
func ImportID(kind ResourceKind, project, region, name string) string {
	switch kind {
	case KindConnector:
		return "projects/" + project + "/locations/" + region + "/connectors/" + name
	case KindSubnet:
		return "projects/" + project + "/regions/" + region + "/subnetworks/" + name
	}
	return ""
}

// RenderHandOff returns the code, in format f, of the hand-off h, and its entries in the
// order they are written: subnetworks, connectors, workloads, removed resources. The text ends
// with a newline.
func RenderHandOff(f Format, h HandOff) (string, []Entry, error) {
	if !slices.Contains(Formats, f) {
		return "", nil, fmt.Errorf("unknown format %q (valid: %s)", f, strings.Join(FormatNames(), ", "))
	}
	p, err := plan(f, h)
	if err != nil {
		return "", nil, err
	}
	var text string
	switch f {
	case Terraform:
		text = renderTerraformHandOff(p)
	case PulumiYAML:
		text = renderPulumiHandOff(p)
	case Gcloud:
		text = renderGcloudHandOff(p)
	}
	return text, p.entries(f), nil
}

// laidOut is a hand-off checked, sorted and named for one format.
type laidOut struct {
	h          HandOff
	workloads  []namedWorkload
	connectors []namedConnector
	subnets    []namedSubnet
	removed    []namedRemoved
}

type namedWorkload struct {
	Workload
	name string
}

type namedConnector struct {
	Connector
	name  string
	users []string
}

type namedSubnet struct {
	Subnet
	name  string
	users []string
}

type namedRemoved struct {
	Removed
	name string
}

// plan checks h, sorts its parts and gives each a name that is unique where the format needs
// it: Terraform labels are unique per resource type, Pulumi logical names in the program.
// Workloads are named first, so that a workload keeps its own name.
func plan(f Format, h HandOff) (*laidOut, error) {
	p := &laidOut{h: h}
	for _, w := range h.Workloads {
		if err := check(w.Ref, w.VPC); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kindNoun(w.Ref.Kind), w.Ref.Name, err)
		}
		p.workloads = append(p.workloads, namedWorkload{Workload: w})
	}
	for _, c := range h.Connectors {
		if c.Name == "" || c.Project == "" || c.Region == "" {
			return nil, errors.New("a connector without a name, project or region")
		}
		if (c.Network == "") == (c.subnetPath() == "") {
			return nil, fmt.Errorf("connector %s: one and only one of a network and a subnet must be set", c.Name)
		}
		p.connectors = append(p.connectors, namedConnector{Connector: c})
	}
	for _, s := range h.Subnets {
		if s.Name == "" || s.Project == "" || s.Region == "" || s.Network == "" {
			return nil, errors.New("a subnet without a name, project, region or network")
		}
		p.subnets = append(p.subnets, namedSubnet{Subnet: s})
	}
	for _, r := range h.Removed {
		if r.Kind != KindConnector && r.Kind != KindSubnet {
			return nil, fmt.Errorf("removed %s %s: only connectors and subnets can be removed", r.Kind, r.Name)
		}
		p.removed = append(p.removed, namedRemoved{Removed: r})
	}
	byPlace := func(ap, ar, an, bp, br, bn string) int {
		return cmp.Or(cmp.Compare(ap, bp), cmp.Compare(ar, br), cmp.Compare(an, bn))
	}
	slices.SortStableFunc(p.workloads, func(a, b namedWorkload) int {
		return cmp.Or(byPlace(a.Ref.Project, a.Ref.Region, string(a.Ref.Kind), b.Ref.Project, b.Ref.Region, string(b.Ref.Kind)), cmp.Compare(a.Ref.Name, b.Ref.Name))
	})
	slices.SortStableFunc(p.connectors, func(a, b namedConnector) int {
		return byPlace(a.Project, a.Region, a.Name, b.Project, b.Region, b.Name)
	})
	slices.SortStableFunc(p.subnets, func(a, b namedSubnet) int {
		return byPlace(a.Project, a.Region, a.Name, b.Project, b.Region, b.Name)
	})
	slices.SortStableFunc(p.removed, func(a, b namedRemoved) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), byPlace(a.Project, a.Region, a.Name, b.Project, b.Region, b.Name))
	})
	for i := range p.connectors {
		if i > 0 && p.connectors[i].Path() == p.connectors[i-1].Path() {
			return nil, fmt.Errorf("connector %s is given twice", p.connectors[i].Path())
		}
	}
	for i := range p.subnets {
		if i > 0 && p.subnets[i].Path() == p.subnets[i-1].Path() {
			return nil, fmt.Errorf("subnet %s is given twice", p.subnets[i].Path())
		}
	}
	declared := map[string]bool{}
	for _, c := range p.connectors {
		declared[c.Path()] = true
	}
	for _, s := range p.subnets {
		declared[s.Path()] = true
	}
	for _, r := range p.removed {
		if declared[r.Path()] {
			return nil, fmt.Errorf("%s %s is both declared and removed", r.Kind, r.Path())
		}
	}

	// Who uses what, for the comments: the workloads whose template names the connector or
	// the subnetwork (a connector's subnetwork is used by the connector).
	for _, w := range p.workloads {
		v, err := w.VPC.Canonical(w.Ref.Project, w.Ref.Region)
		if err != nil {
			continue
		}
		for i := range p.connectors {
			if v.Connector == p.connectors[i].Path() {
				p.connectors[i].users = append(p.connectors[i].users, workloadName(w.Ref))
			}
		}
		for i := range p.subnets {
			if v.Subnet == p.subnets[i].Path() {
				p.subnets[i].users = append(p.subnets[i].users, workloadName(w.Ref))
			}
		}
	}
	for _, c := range p.connectors {
		for i := range p.subnets {
			if c.subnetPath() == p.subnets[i].Path() {
				p.subnets[i].users = append(p.subnets[i].users, "connector "+c.Name)
			}
		}
	}

	n := newNamer(f)
	for i := range p.workloads {
		r := p.workloads[i].Ref
		p.workloads[i].name = n.take(Resource(f, r.Kind), r.Name, string(r.Kind), r.Region, r.Project)
	}
	for i := range p.subnets {
		s := p.subnets[i]
		p.subnets[i].name = n.take(resourceType(f, KindSubnet), s.Name, "subnet", s.Region, s.Project)
	}
	for i := range p.connectors {
		c := p.connectors[i]
		p.connectors[i].name = n.take(resourceType(f, KindConnector), c.Name, "connector", c.Region, c.Project)
	}
	for i := range p.removed {
		r := p.removed[i]
		p.removed[i].name = n.take(resourceType(f, r.Kind), r.Name, string(r.Kind), r.Region, r.Project)
	}
	return p, nil
}

// resourceType is the type (Terraform, Pulumi) or command (gcloud) of a connector or subnet.
func resourceType(f Format, k ResourceKind) string {
	switch f {
	case Terraform:
		if k == KindConnector {
			return tfConnector
		}
		return tfSubnetwork
	case PulumiYAML:
		if k == KindConnector {
			return pulumiConnector
		}
		return pulumiSubnet
	}
	if k == KindConnector {
		return gcloudConnector
	}
	return gcloudSubnet
}

// entries lists what p writes, in the order it writes it.
func (p *laidOut) entries(f Format) []Entry {
	address := func(typ, name string) string {
		switch f {
		case Terraform:
			return typ + "." + name
		case PulumiYAML:
			return name
		}
		return ""
	}
	out := []Entry{}
	for _, s := range p.subnets {
		e := Entry{Kind: KindSubnet, Path: s.Path(), Type: resourceType(f, KindSubnet), Action: ActionDeclare}
		e.Address = address(e.Type, s.name)
		if s.Import && f != Gcloud {
			e.Action, e.ImportID = ActionImport, ImportID(KindSubnet, s.Project, s.Region, s.Name)
		}
		out = append(out, e)
	}
	for _, c := range p.connectors {
		e := Entry{Kind: KindConnector, Path: c.Path(), Type: resourceType(f, KindConnector), Action: ActionDeclare}
		e.Address = address(e.Type, c.name)
		if c.Import && f != Gcloud {
			e.Action, e.ImportID = ActionImport, ImportID(KindConnector, c.Project, c.Region, c.Name)
		}
		out = append(out, e)
	}
	for _, w := range p.workloads {
		e := Entry{Kind: KindWorkload, Path: w.Ref.FullName(), Type: Resource(f, w.Ref.Kind), Action: ActionDeclare}
		e.Address = address(e.Type, w.name)
		out = append(out, e)
	}
	for _, r := range p.removed {
		e := Entry{Kind: r.Kind, Path: r.Path(), Type: resourceType(f, r.Kind), Action: ActionRemove}
		e.Address = address(e.Type, r.name)
		out = append(out, e)
	}
	return out
}

// namer hands out names unique per namespace: the resource type for Terraform labels, the
// whole program for Pulumi logical names (gcloud needs none, but names alike).
type namer struct {
	f    Format
	used map[string]bool
}

func newNamer(f Format) *namer { return &namer{f: f, used: map[string]bool{}} }

// take returns the first free name of: NAME, NAME-SUFFIX, NAME-SUFFIX-REGION,
// NAME-SUFFIX-REGION-PROJECT, then that with -2, -3... (Terraform labels with underscores).
func (n *namer) take(typ, name, suffix, region, project string) string {
	cands := []string{name, name + "-" + suffix, name + "-" + suffix + "-" + region, name + "-" + suffix + "-" + region + "-" + project}
	last := cands[len(cands)-1]
	for i := 2; ; i++ {
		for _, c := range cands {
			if n.f == Terraform {
				c = tfLabel(c)
			}
			key := c
			if n.f == Terraform {
				key = typ + "." + c
			}
			if !n.used[key] {
				n.used[key] = true
				return c
			}
		}
		cands = []string{last + "-" + strconv.Itoa(i)}
	}
}

// workloadName names a workload as runnet does: NAME, job/NAME, workerpool/NAME.
func workloadName(r egress.WorkloadRef) string {
	return r.String()
}

// wrap splits s into lines of at most width characters, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			lines = append(lines, line)
			line = w
		default:
			line += " " + w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// commentWidth is the width the opening comments are wrapped to (without "# ").
const commentWidth = 96

// handOffIntro is the opening comment of a hand-off, format by format.
func handOffIntro(f Format, p *laidOut) []string {
	var paras []string
	subject := p.h.Subject
	if subject == "" {
		subject = "the workloads below"
	}
	switch f {
	case Terraform:
		paras = append(paras,
			"runnet export --as terraform: the VPC side of "+subject+", for the Google provider: the subnetworks and Serverless VPC Access connectors in use, and each workload's vpc_access.",
			"Merge it into your configuration. Where your configuration already declares a resource, keep your block (and your address) and bring its arguments in line; for workloads only vpc_access is shown, so keep your other arguments.")
		if p.anyImport() || len(p.removed) > 0 {
			paras = append(paras, "import blocks (Terraform 1.5 or later) adopt what runnet created, so that Terraform does not try to create it again; removed blocks (Terraform 1.7 or later) make Terraform forget what runnet deleted, without destroying anything. Apply once, then delete both kinds of blocks.")
		}
	case PulumiYAML:
		paras = append(paras,
			"runnet export --as pulumi-yaml: the VPC side of "+subject+", for the Pulumi gcp provider: the subnetworks and Serverless VPC Access connectors in use, and each workload's vpcAccess.",
			"Merge it into your Pulumi program. Where your program already declares a resource, keep yours (and its name) and bring its properties in line; for workloads only vpcAccess is shown, so keep your other properties.")
		if p.anyImport() || len(p.removed) > 0 {
			paras = append(paras, "The import option adopts what runnet created, so that Pulumi does not try to create it again; remove the option after the first 'pulumi up'. What runnet deleted is listed at the end.")
		}
	case Gcloud:
		paras = append(paras,
			"runnet export --as gcloud: the gcloud commands that recreate the VPC side of "+subject+": the subnetworks and Serverless VPC Access connectors in use, then each workload's VPC access.",
			"The create commands fail where the resource exists already; the update commands set the same VPC access whatever the workload has now.")
	}
	var out []string
	for i, para := range paras {
		if i > 0 {
			out = append(out, "")
		}
		out = append(out, wrap(para, commentWidth)...)
	}
	if len(p.h.Notes) > 0 {
		out = append(out, "")
		for _, n := range p.h.Notes {
			for i, l := range wrap(n, commentWidth-2) {
				if i == 0 {
					out = append(out, "- "+l)
				} else {
					out = append(out, "  "+l)
				}
			}
		}
	}
	return out
}

func (p *laidOut) anyImport() bool {
	for _, c := range p.connectors {
		if c.Import {
			return true
		}
	}
	for _, s := range p.subnets {
		if s.Import {
			return true
		}
	}
	return false
}

// connectorTitle is the comment line above a connector.
func connectorTitle(c namedConnector) string {
	s := fmt.Sprintf("Serverless VPC Access connector %s (project %s, region %s)", c.Name, c.Project, c.Region)
	return s + usedBy(c.users, c.OtherUsers)
}

// subnetTitle is the comment line above a subnetwork.
func subnetTitle(s namedSubnet) string {
	t := fmt.Sprintf("Subnetwork %s (project %s, region %s)", s.Name, s.Project, s.Region)
	return t + usedBy(s.users, s.OtherUsers)
}

// usedBy is what uses a resource: users in the hand-off, then others it leaves out, so
// that a workload's export does not read as if that workload were the only user.
func usedBy(users, others []string) string {
	switch {
	case len(others) == 0 && len(users) == 0:
		return "."
	case len(others) == 0:
		return ", used by " + strings.Join(users, ", ") + "."
	case len(users) == 0:
		return ", used by " + strings.Join(others, ", ") + ", not exported here."
	}
	return ", used by " + strings.Join(users, ", ") + " and by " + strings.Join(others, ", ") + ", not exported here."
}

// removedTitle says what runnet deleted.
func removedTitle(r namedRemoved) string {
	what := "Serverless VPC Access connector"
	if r.Kind == KindSubnet {
		what = "Subnetwork"
	}
	why := r.Why
	if why == "" {
		why = "deleted by runnet"
	}
	return fmt.Sprintf("%s %s (project %s, region %s) was %s.", what, r.Name, r.Project, r.Region, why)
}

// descriptionWarning is the comment above an adopted subnetwork whose description could not
// be read.
func descriptionWarning(s namedSubnet) string {
	return fmt.Sprintf("runnet could not read its description. If it has one (gcloud compute networks subnets describe %s --project %s --region %s --format 'value(description)'), add it here: a description can only be set at creation, so one that differs makes the provider replace the subnetwork.", s.Name, s.Project, s.Region)
}

// flowSampling writes a sampling rate as the providers read it: 0.5, 1.
func flowSampling(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
