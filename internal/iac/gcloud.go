package iac

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// renderGcloud writes the gcloud command that sets the workload's VPC access to v, whatever it
// had before: it sets the connector or the network interface and clears the other, sets or
// clears the network tags, and sets the egress.
//
// Worker pools cannot use connectors, and `gcloud run worker-pools` has no connector flags, so
// none are written for them.
func renderGcloud(ref egress.WorkloadRef, v egress.VPC) string {
	args := []string{
		"gcloud run " + gcloudGroup(ref.Kind) + " update " + shellQuote(ref.Name),
		"--project=" + shellQuote(ref.Project),
		"--region=" + shellQuote(ref.Region),
	}
	connectorFlags := ref.Kind != egress.KindWorkerPool
	switch v.Mode() {
	case egress.ModeConnector:
		args = append(args,
			"--vpc-connector="+shellQuote(v.Connector),
			"--vpc-egress="+v.Egress.String(),
			"--clear-network")
	case egress.ModeDirect:
		if v.Network != "" {
			args = append(args, "--network="+shellQuote(v.Network))
		}
		if v.Subnet != "" {
			args = append(args, "--subnet="+shellQuote(v.Subnet))
		}
		if len(v.Tags) > 0 {
			args = append(args, "--network-tags="+shellQuote(strings.Join(v.Tags, ",")))
		} else {
			args = append(args, "--clear-network-tags")
		}
		args = append(args, "--vpc-egress="+v.Egress.String())
		if connectorFlags {
			args = append(args, "--clear-vpc-connector")
		}
	default:
		if connectorFlags {
			args = append(args, "--clear-vpc-connector")
		}
		args = append(args, "--clear-network")
	}
	var b strings.Builder
	for _, l := range header(ref, v, "This gcloud command sets the same VPC access, whatever the "+kindNoun(ref.Kind)+" has now.") {
		b.WriteString("# " + l + "\n")
	}
	writeCommand(&b, args)
	return b.String()
}

// writeCommand writes a command, one argument group a line, continued with backslashes.
func writeCommand(b *strings.Builder, args []string) {
	b.WriteString(strings.Join(args, " \\\n    "))
	b.WriteByte('\n')
}

func writeComment(b *strings.Builder, s string) {
	if s == "" {
		b.WriteString("#\n")
		return
	}
	b.WriteString("# " + s + "\n")
}

// writeComments writes s as comment lines of at most commentWidth characters.
func writeComments(b *strings.Builder, s string) {
	for _, l := range wrap(s, commentWidth) {
		writeComment(b, l)
	}
}

// renderGcloudHandOff writes the gcloud commands that recreate a hand-off: the subnetworks
// first (a connector may live in one), then the connectors, then the workloads' updates; what
// runnet deleted is a comment, since there is nothing to recreate.
func renderGcloudHandOff(p *laidOut) string {
	var b strings.Builder
	for _, l := range handOffIntro(Gcloud, p) {
		writeComment(&b, l)
	}
	for _, s := range p.subnets {
		b.WriteByte('\n')
		writeComments(&b, subnetTitle(s))
		if s.DescriptionUnknown {
			writeComments(&b, "runnet could not read its description: add --description if it has one.")
		}
		writeCommand(&b, gcloudSubnetArgs(s.Subnet))
	}
	for _, c := range p.connectors {
		b.WriteByte('\n')
		writeComments(&b, connectorTitle(c))
		writeCommand(&b, gcloudConnectorArgs(c.Connector))
	}
	for _, w := range p.workloads {
		b.WriteByte('\n')
		b.WriteString(renderGcloud(w.Ref, w.VPC))
	}
	for _, r := range p.removed {
		b.WriteByte('\n')
		writeComments(&b, removedTitle(r)+" There is nothing to recreate.")
	}
	return b.String()
}

// gcloudSubnetArgs is `gcloud compute networks subnets create` for s. Flag names and values as
// `gcloud compute networks subnets create --help` documents them (Google Cloud SDK 528): the
// flow-log settings take lower-case values (interval-10-min, include-all).
func gcloudSubnetArgs(s Subnet) []string {
	args := []string{
		gcloudSubnet + " " + shellQuote(s.Name),
		"--project=" + shellQuote(s.Project),
		"--region=" + shellQuote(s.Region),
		"--network=" + shellQuote(gcloudNetwork(s.Network, s.Project)),
		"--range=" + shellQuote(s.IPCIDRRange),
	}
	if s.Description != "" {
		args = append(args, "--description="+shellQuote(s.Description))
	}
	if s.PrivateIPGoogleAccess {
		args = append(args, "--enable-private-ip-google-access")
	}
	if s.StackType != "" {
		args = append(args, "--stack-type="+shellQuote(s.StackType))
	}
	if s.IPv6AccessType != "" {
		args = append(args, "--ipv6-access-type="+shellQuote(s.IPv6AccessType))
	}
	if fl := s.FlowLogs; fl != nil {
		args = append(args, "--enable-flow-logs")
		if fl.AggregationInterval != "" {
			args = append(args, "--logging-aggregation-interval="+shellQuote(gcloudEnum(fl.AggregationInterval, "")))
		}
		args = append(args, "--logging-flow-sampling="+flowSampling(fl.FlowSampling))
		if fl.Metadata != "" {
			args = append(args, "--logging-metadata="+shellQuote(gcloudEnum(fl.Metadata, "_METADATA")))
		}
	}
	if len(s.SecondaryRanges) > 0 {
		ranges := make([]string, len(s.SecondaryRanges))
		for i, r := range s.SecondaryRanges {
			ranges[i] = r.RangeName + "=" + r.IPCIDRRange
		}
		args = append(args, "--secondary-range="+shellQuote(strings.Join(ranges, ",")))
	}
	return args
}

// gcloudConnectorArgs is `gcloud compute networks vpc-access connectors create` for c, with
// the flags `... connectors create --help` documents: --network and --range, or --subnet and
// --subnet-project; --machine-type, --min-instances, --max-instances.
func gcloudConnectorArgs(c Connector) []string {
	args := []string{
		gcloudConnector + " " + shellQuote(c.Name),
		"--project=" + shellQuote(c.Project),
		"--region=" + shellQuote(c.Region),
	}
	if c.Network != "" {
		args = append(args, "--network="+shellQuote(egress.ShortName(c.Network)))
		if c.IPCIDRRange != "" {
			args = append(args, "--range="+shellQuote(c.IPCIDRRange))
		}
	} else if c.Subnet != nil {
		args = append(args, "--subnet="+shellQuote(c.Subnet.Name))
		if c.Subnet.ProjectID != "" && c.Subnet.ProjectID != c.Project {
			args = append(args, "--subnet-project="+shellQuote(c.Subnet.ProjectID))
		}
	}
	if c.MachineType != "" {
		args = append(args, "--machine-type="+shellQuote(c.MachineType))
	}
	if c.MinInstances > 0 {
		args = append(args, "--min-instances="+strconv.Itoa(c.MinInstances))
	}
	if c.MaxInstances > 0 {
		args = append(args, "--max-instances="+strconv.Itoa(c.MaxInstances))
	}
	return args
}

// gcloudNetwork names a subnet's network for gcloud: its short name in the subnet's own
// project (where a subnet's network always is), the path otherwise.
func gcloudNetwork(network, project string) string {
	if strings.HasPrefix(network, "projects/"+project+"/global/networks/") {
		return egress.ShortName(network)
	}
	return network
}

// gcloudEnum turns an API enum value into gcloud's flag value: INTERVAL_10_MIN becomes
// interval-10-min, INCLUDE_ALL_METADATA (less suffix _METADATA) include-all.
func gcloudEnum(v, suffix string) string {
	v = strings.TrimSuffix(v, suffix)
	return strings.ToLower(strings.ReplaceAll(v, "_", "-"))
}

// gcloudGroup returns the `gcloud run` command group of kind k.
func gcloudGroup(k egress.Kind) string {
	switch k {
	case egress.KindJob:
		return "jobs"
	case egress.KindWorkerPool:
		return "worker-pools"
	}
	return "services"
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9/._,:=@%+-]+$`)

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
