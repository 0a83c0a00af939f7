package iac

import (
	"regexp"
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
	b.WriteString(strings.Join(args, " \\\n    "))
	b.WriteByte('\n')
	return b.String()
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
