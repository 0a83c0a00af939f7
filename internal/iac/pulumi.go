package iac

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// renderPulumiYAML writes a Pulumi YAML resource with its identifying properties and the
// template nesting down to vpcAccess:
//
//	gcp:cloudrunv2:Service     template.vpcAccess
//	gcp:cloudrunv2:Job         template.template.vpcAccess
//	gcp:cloudrunv2:WorkerPool  template.vpcAccess
func renderPulumiYAML(ref egress.WorkloadRef, v egress.VPC) string {
	y := &yamlWriter{}
	for _, l := range header(ref, v, "Merge it into your Pulumi program: only vpcAccess changes; keep your other properties.") {
		y.line("# " + l)
	}
	y.line("resources:")
	y.depth++
	pulumiWorkload(y, ref.Name, ref, v)
	return y.String()
}

// pulumiWorkload writes a workload's resource, named name, at the writer's depth.
func pulumiWorkload(y *yamlWriter, name string, ref egress.WorkloadRef, v egress.VPC) {
	start := y.depth
	defer func() { y.depth = start }()
	y.line(yamlScalar(name) + ":")
	y.depth++
	y.line("type: " + Resource(PulumiYAML, ref.Kind))
	y.line("properties:")
	y.depth++
	y.line("name: " + yamlScalar(ref.Name))
	y.line("location: " + yamlScalar(ref.Region))
	y.line("project: " + yamlScalar(ref.Project))
	y.line("template:")
	y.depth++
	if ref.Kind == egress.KindJob {
		y.line("template:")
		y.depth++
	}
	switch v.Mode() {
	case egress.ModeConnector:
		y.line("vpcAccess:")
		y.depth++
		y.line("connector: " + yamlScalar(v.Connector))
		y.line("egress: " + v.Egress.APIName())
	case egress.ModeDirect:
		y.line("vpcAccess:")
		y.depth++
		y.line("networkInterfaces:")
		first := true
		item := func(s string) {
			if first {
				y.line("  - " + s)
				first = false
				return
			}
			y.line("    " + s)
		}
		if v.Network != "" {
			item("network: " + yamlScalar(v.Network))
		}
		if v.Subnet != "" {
			item("subnetwork: " + yamlScalar(v.Subnet))
		}
		if len(v.Tags) > 0 {
			item("tags:")
			for _, t := range v.Tags {
				y.line("      - " + yamlScalar(t))
			}
		}
		y.line("egress: " + v.Egress.APIName())
	default:
		y.line("# No VPC access: remove vpcAccess.")
	}
}

// renderPulumiHandOff writes a hand-off as a Pulumi YAML program: the subnetworks and
// connectors (with the import option when runnet created them) and the workloads under
// resources, then a comment for each resource runnet deleted (Pulumi YAML has no removed
// block: the program drops the resource, and a refresh drops it from the state).
func renderPulumiHandOff(p *laidOut) string {
	y := &yamlWriter{}
	for _, l := range handOffIntro(PulumiYAML, p) {
		y.comment(l)
	}
	y.line("resources:")
	y.depth++
	for _, s := range p.subnets {
		pulumiSubnetResource(y, s)
	}
	for _, c := range p.connectors {
		pulumiConnectorResource(y, c)
	}
	for _, w := range p.workloads {
		for _, l := range header(w.Ref, w.VPC, "Merge it into your Pulumi program: only vpcAccess changes; keep your other properties.") {
			y.comment(l)
		}
		pulumiWorkload(y, w.name, w.Ref, w.VPC)
	}
	y.depth = 0
	for _, r := range p.removed {
		y.commentWrapped(removedTitle(r))
		typ := "gcp:vpcaccess/connector:Connector"
		if r.Kind == KindSubnet {
			typ = "gcp:compute/subnetwork:Subnetwork"
		}
		for _, l := range wrap("Remove its resource from your program, then run 'pulumi refresh': it finds the resource gone and drops it from the state. Or drop it at once (with the stack, project and name your program gives it):", commentWidth) {
			y.comment(l)
		}
		y.comment("  pulumi state delete 'urn:pulumi:STACK::PROJECT::" + typ + "::" + r.name + "'")
	}
	return y.String()
}

func pulumiSubnetResource(y *yamlWriter, s namedSubnet) {
	start := y.depth
	defer func() { y.depth = start }()
	y.commentWrapped(subnetTitle(s))
	if s.Import {
		y.comment("runnet created it: the import option adopts it.")
		if s.DescriptionUnknown {
			y.commentWrapped(descriptionWarning(s))
		}
	}
	y.line(yamlScalar(s.name) + ":")
	y.depth++
	y.line("type: " + pulumiSubnet)
	y.line("properties:")
	y.depth++
	y.line("name: " + yamlScalar(s.Name))
	y.line("project: " + yamlScalar(s.Project))
	y.line("region: " + yamlScalar(s.Region))
	y.line("network: " + yamlScalar(s.Network))
	y.line("ipCidrRange: " + yamlScalar(s.IPCIDRRange))
	if s.Description != "" {
		y.line("description: " + yamlScalar(pulumiLiteral(s.Description)))
	}
	y.line("privateIpGoogleAccess: " + strconv.FormatBool(s.PrivateIPGoogleAccess))
	if s.StackType != "" {
		y.line("stackType: " + yamlScalar(s.StackType))
	}
	if s.IPv6AccessType != "" {
		y.line("ipv6AccessType: " + yamlScalar(s.IPv6AccessType))
	}
	if fl := s.FlowLogs; fl != nil {
		y.line("logConfig:")
		y.depth++
		if fl.AggregationInterval != "" {
			y.line("aggregationInterval: " + yamlScalar(fl.AggregationInterval))
		}
		y.line("flowSampling: " + flowSampling(fl.FlowSampling))
		if fl.Metadata != "" {
			y.line("metadata: " + yamlScalar(fl.Metadata))
		}
		y.depth--
	}
	if len(s.SecondaryRanges) > 0 {
		y.line("secondaryIpRanges:")
		for _, r := range s.SecondaryRanges {
			y.line("  - rangeName: " + yamlScalar(r.RangeName))
			y.line("    ipCidrRange: " + yamlScalar(r.IPCIDRRange))
		}
	}
	y.depth--
	if s.Import {
		y.line("options:")
		y.line("  import: " + yamlScalar(ImportID(KindSubnet, s.Project, s.Region, s.Name)))
	}
}

func pulumiConnectorResource(y *yamlWriter, c namedConnector) {
	start := y.depth
	defer func() { y.depth = start }()
	y.commentWrapped(connectorTitle(c))
	if c.Import {
		y.comment("runnet created it: the import option adopts it.")
	}
	y.line(yamlScalar(c.name) + ":")
	y.depth++
	y.line("type: " + pulumiConnector)
	y.line("properties:")
	y.depth++
	y.line("name: " + yamlScalar(c.Name))
	y.line("project: " + yamlScalar(c.Project))
	y.line("region: " + yamlScalar(c.Region))
	if c.Network != "" {
		y.line("network: " + yamlScalar(c.Network))
	}
	if c.IPCIDRRange != "" {
		y.line("ipCidrRange: " + yamlScalar(c.IPCIDRRange))
	}
	if c.Network == "" && c.Subnet != nil {
		y.line("subnet:")
		y.line("  name: " + yamlScalar(c.Subnet.Name))
		if c.Subnet.ProjectID != "" {
			y.line("  projectId: " + yamlScalar(c.Subnet.ProjectID))
		}
	}
	if c.MachineType != "" {
		y.line("machineType: " + yamlScalar(c.MachineType))
	}
	if c.MinInstances > 0 {
		y.line("minInstances: " + strconv.Itoa(c.MinInstances))
	}
	if c.MaxInstances > 0 {
		y.line("maxInstances: " + strconv.Itoa(c.MaxInstances))
	}
	y.depth--
	if c.Import {
		y.line("options:")
		y.line("  import: " + yamlScalar(ImportID(KindConnector, c.Project, c.Region, c.Name)))
	}
}

type yamlWriter struct {
	b     strings.Builder
	depth int
}

func (y *yamlWriter) line(s string) {
	y.b.WriteString(strings.Repeat("  ", y.depth))
	y.b.WriteString(s)
	y.b.WriteByte('\n')
}

func (y *yamlWriter) comment(s string) {
	if s == "" {
		y.line("#")
		return
	}
	y.line("# " + s)
}

// commentWrapped writes s as comment lines of at most commentWidth characters.
func (y *yamlWriter) commentWrapped(s string) {
	for _, l := range wrap(s, commentWidth) {
		y.comment(l)
	}
}

func (y *yamlWriter) String() string { return y.b.String() }

// plainYAML matches strings that YAML reads back as the same string when written unquoted.
var plainYAML = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/._-]*$`)

// yamlReserved are plain scalars that YAML 1.1 or 1.2 reads as something other than a string.
var yamlReserved = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"y": true, "n": true, "null": true, "~": true,
}

// pulumiLiteral escapes s for a Pulumi YAML string property, which Pulumi reads as an
// interpolation: "${...}" is an expression and "$$" a literal "$" (pulumi-yaml,
// pkg/pulumiyaml/ast/interpolation.go, parseInterpolate; "Pulumi YAML reference": "Any string
// value is interpreted as an interpolation"). Doubling every "$" makes the value read back as
// s. Only free text needs it (a subnet's description): names, paths and enums hold no "$".
func pulumiLiteral(s string) string {
	return strings.ReplaceAll(s, "$", "$$")
}

// yamlScalar writes s as a YAML string: plain when that reads back as the same string,
// double-quoted otherwise (booleans, nulls, numbers, special characters).
func yamlScalar(s string) string {
	if plainYAML.MatchString(s) && !yamlReserved[strings.ToLower(s)] && !looksNumeric(s) {
		return s
	}
	return strconv.Quote(s)
}

func looksNumeric(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil {
		return true
	}
	return false
}
