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
	y.line(yamlScalar(ref.Name) + ":")
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
	return y.String()
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

func (y *yamlWriter) String() string { return y.b.String() }

// plainYAML matches strings that YAML reads back as the same string when written unquoted.
var plainYAML = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/._-]*$`)

// yamlReserved are plain scalars that YAML 1.1 or 1.2 reads as something other than a string.
var yamlReserved = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"y": true, "n": true, "null": true, "~": true,
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
