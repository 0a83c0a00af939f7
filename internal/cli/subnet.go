package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// rangeAuto is the --range value that picks a free range.
const rangeAuto = "auto"

// flowLogIntervals maps --flow-logs-interval values (and gcloud's
// --logging-aggregation-interval spellings) to Compute's values.
var flowLogIntervals = []struct{ flag, gcloud, api string }{
	{"5s", "interval-5-sec", cloud.FlowLogsInterval5Sec},
	{"30s", "interval-30-sec", cloud.FlowLogsInterval30Sec},
	{"1m", "interval-1-min", cloud.FlowLogsInterval1Min},
	{"5m", "interval-5-min", cloud.FlowLogsInterval5Min},
	{"10m", "interval-10-min", cloud.FlowLogsInterval10Min},
	{"15m", "interval-15-min", cloud.FlowLogsInterval15Min},
}

// flowLogMetadata maps --flow-logs-metadata values to Compute's.
var flowLogMetadata = []struct{ flag, api string }{
	{"include-all", cloud.FlowLogsIncludeAllMetadata},
	{"exclude-all", cloud.FlowLogsExcludeAllMetadata},
}

func flowLogIntervalFlags() []string {
	var out []string
	for _, i := range flowLogIntervals {
		out = append(out, i.flag)
	}
	return out
}

// ParseFlowLogsInterval maps a --flow-logs-interval value to Compute's aggregationInterval.
func ParseFlowLogsInterval(s string) (string, error) {
	for _, i := range flowLogIntervals {
		if s == i.flag || strings.EqualFold(s, i.gcloud) || s == i.api {
			return i.api, nil
		}
	}
	return "", exitcode.Usagef("--flow-logs-interval: %q is not an interval; valid: %s", s, strings.Join(flowLogIntervalFlags(), ", "))
}

// ParseFlowLogsMetadata maps a --flow-logs-metadata value to Compute's metadata.
func ParseFlowLogsMetadata(s string) (string, error) {
	for _, m := range flowLogMetadata {
		if s == m.flag || s == m.api {
			return m.api, nil
		}
	}
	return "", exitcode.Usagef("--flow-logs-metadata: %q is not valid; valid: include-all, exclude-all", s)
}

// flowLogsCell renders flow logs for a table: "10m 0.5 include-all" or "off".
func flowLogsCell(fl *cloud.FlowLogs) string {
	if fl == nil || !fl.Enabled {
		return "off"
	}
	interval := fl.AggregationInterval
	for _, i := range flowLogIntervals {
		if i.api == interval {
			interval = i.flag
		}
	}
	md := fl.Metadata
	for _, m := range flowLogMetadata {
		if m.api == md {
			md = m.flag
		}
	}
	return strings.TrimSpace(strings.Join([]string{interval, strconv.FormatFloat(fl.FlowSampling, 'g', -1, 64), md}, " "))
}

// ValidateSubnetCIDR checks an explicit subnet --range: a canonical IPv4 network address
// (the canonical form is suggested when host bits are set) from /8 to /29, as Compute
// requires.
func ValidateSubnetCIDR(s string) (netip.Prefix, error) {
	p, err := ipam.ParsePrefix(s)
	if err != nil {
		return p, usageErr("--range", err)
	}
	if err := ipam.ValidateSubnetRange(p); err != nil {
		return p, usageErr("--range", err)
	}
	return p, nil
}

// ValidateSubnetPrefix checks --prefix: a prefix length Compute accepts (8 to 29).
func ValidateSubnetPrefix(n int) error {
	if n < ipam.MinSubnetPrefix || n > ipam.MaxSubnetPrefix {
		return exitcode.Usagef("--prefix: %d is out of range; valid: %d to %d (Direct VPC egress needs %d or less)", n, ipam.MinSubnetPrefix, ipam.MaxSubnetPrefix, ipam.DirectVPCMinPrefix)
	}
	return nil
}

// directVPCWarning says why a subnet range cannot serve Direct VPC egress, or "".
func directVPCWarning(p netip.Prefix) string {
	if err := ipam.ValidateDirectVPCSubnet(p); err != nil {
		return err.Error() + "; the subnet can still serve VMs or a connector (/28)"
	}
	return ""
}

// NewCmdSubnet returns `runnet subnet` and its subcommands.
func NewCmdSubnet(f *Factory) *cobra.Command {
	cmd := newGroupCmd("subnet", "Create, size, inspect and delete subnets for Direct VPC egress")
	cmd.Long = `Manage the subnets Cloud Run's Direct VPC egress (and connectors) use: create one
in a free range, size one for a workload's maximum scale, and see how full each is.

A subnet is NAME (in --project and --region) or its path
projects/PROJECT/regions/REGION/subnetworks/NAME (a Shared VPC host's subnet).

Cloud Run reserves subnet addresses in /28 blocks (16 at a time), two per
instance, and keeps them for a while after instances stop; its reservations show
as serverless-ipv4-* addresses.`
	cmd.Example = `  # How big a subnet 100 instances need, then create it in a free range:
  runnet subnet plan --max-instances 100
  runnet subnet create run-direct-vpc-egress --network run-vpc --range auto --prefix 24

  # How full the region's subnets are:
  runnet subnet list --network run-vpc`
	cmd.AddCommand(
		NewCmdSubnetCreate(f, nil),
		NewCmdSubnetList(f, nil),
		NewCmdSubnetDescribe(f, nil),
		NewCmdSubnetDelete(f, nil),
		NewCmdSubnetPlan(f, nil),
	)
	return cmd
}

// parseSubnetArg resolves a subnet NAME argument: a path carries its own project and region;
// a short name takes --project and --region.
func parseSubnetArg(f *Factory, s string) (egress.SubnetRef, error) {
	if strings.Contains(s, "/") {
		ref, err := egress.ParseSubnetRef(s, "", "")
		if err != nil {
			return ref, exitcode.Wrap(exitcode.Usage, err)
		}
		// A Shared VPC subnet is in the host project: only the region must agree.
		if r := f.Options.Region; r != "" && r != ref.Region {
			return ref, exitcode.Usagef("%s is in region %s, but --region is %s", s, ref.Region, r)
		}
		return ref, nil
	}
	if err := egress.ValidateComputeName("subnetwork", s); err != nil {
		return egress.SubnetRef{}, exitcode.Wrap(exitcode.Usage, err)
	}
	project, err := f.Project()
	if err != nil {
		return egress.SubnetRef{}, err
	}
	region, err := f.Region()
	if err != nil {
		return egress.SubnetRef{}, err
	}
	ref := egress.SubnetRef{Project: project, Region: region, Name: s}
	if err := ref.Validate(); err != nil {
		return ref, exitcode.Wrap(exitcode.Usage, err)
	}
	return ref, nil
}

// ---------------------------------------------------------------------------------------
// Views.

// SubnetView is a subnet as runnet shows it: Compute's fields with utilization
// (cloud.Subnet) and, from create with --range auto, how the range was chosen.
type SubnetView struct {
	*cloud.Subnet
	// AutoRange says how --range auto chose the range (create only).
	AutoRange *AutoRange `json:"autoRange,omitempty"`
}

// SubnetDetail is what `runnet subnet describe` prints: the subnet with utilization and
// what uses it. JSON field names are a stable contract.
type SubnetDetail struct {
	*cloud.Subnet
	// Users are the workloads of the project that use the subnet (template, serving revisions) for Direct VPC
	// egress ([] when none).
	Users []WorkloadUser `json:"users"`
	// Connectors are the connectors made in the subnet ([] when none).
	Connectors []string `json:"connectors"`
	// MaxScaleBlocks and MaxScaleIPs are what Users could reserve at their maximum scale (2
	// IPs per instance, whole /28 blocks per workload, no rollout overlap).
	MaxScaleBlocks int `json:"maxScaleBlocks"`
	MaxScaleIPs    int `json:"maxScaleIps"`
	// WouldRunOut is set when MaxScaleBlocks is more than the subnet's Blocks.
	WouldRunOut bool `json:"wouldRunOut"`
}

// Table renders the subnet as FIELD VALUE rows (the table format of describe).
func (d SubnetDetail) Table() ([]string, [][]string) { return fieldTable(d) }

// AutoRange explains a range chosen by --range auto.
type AutoRange struct {
	Prefix int `json:"prefix"`
	// Space is where the search looked, in order; SpaceName the --space it came from
	// ("default": RFC 1918, then RFC 6598).
	Space     []string `json:"space"`
	SpaceName string   `json:"spaceName"`
	// Avoided is how many ranges of the network (VPC-wide) the choice had to avoid.
	Avoided int `json:"avoided"`
	// Why explains the choice in a sentence.
	Why string `json:"why"`
}

// explainAutoRange says why chosen was picked from space: the first free /N in the first
// space that had one, the spaces before it being full.
func explainAutoRange(chosen netip.Prefix, space []netip.Prefix, avoided int, network string) string {
	desc := ipam.DescribeSpace(space)
	in := -1
	for i, sp := range space {
		if ipam.Contains(sp, chosen) {
			in = i
			break
		}
	}
	why := fmt.Sprintf("the first free /%d", chosen.Bits())
	if in >= 0 {
		why += " in " + desc[in]
	}
	why += fmt.Sprintf(" that overlaps none of the %d ranges of network %s", avoided, network)
	if in > 0 {
		why += fmt.Sprintf("; %s had none free", strings.Join(desc[:in], ", "))
	}
	if len(space) > in+1 && in >= 0 {
		why += fmt.Sprintf(" (searched in order: %s)", strings.Join(desc, ", "))
	}
	return why
}

// parseSpaceFlag resolves --space; given says whether it was set, auto whether --range is
// auto. connector restricts it to what a connector may use (no class E).
func parseSpaceFlag(name string, given, auto, connector bool) ([]netip.Prefix, string, error) {
	if given && !auto {
		return nil, "", exitcode.Usagef("--space: only with --range auto")
	}
	sp, err := ipam.Space(name)
	if err != nil {
		return nil, "", exitcode.Usagef("--space: %v", err)
	}
	label := strings.ToLower(strings.TrimSpace(name))
	if label == "" {
		label = "default"
	}
	if connector {
		switch label {
		case ipam.SpaceClassE:
			return nil, "", exitcode.Usagef("--space: a connector's range must be in RFC 1918 or RFC 6598, not class E; valid: %s, %s, %s", ipam.SpaceRFC1918, ipam.SpaceRFC6598, ipam.SpaceAll)
		case ipam.SpaceAll:
			sp = ipam.DefaultAutoSpace // every space a connector may use
		}
	}
	return sp, label, nil
}

// subnetListView prints subnets as a table.
type subnetListView []SubnetView

func (l subnetListView) Table() ([]string, [][]string) {
	h := []string{"name", "region", "network", "range", "usable", "reserved", "serverless", "free blocks", "flow logs"}
	rows := make([][]string, 0, len(l))
	for _, v := range l {
		rows = append(rows, []string{v.Name, v.Region, v.Network, subnetRangeCell(v.Subnet), strconv.FormatUint(v.UsableIPs, 10),
			strconv.FormatInt(v.ReservedIPs, 10), strconv.FormatInt(v.ServerlessIPs, 10),
			fmt.Sprintf("%d/%d", v.FreeBlocks, v.Blocks), flowLogsCell(v.FlowLogs)})
	}
	return h, rows
}

// subnetCreated is what `runnet subnet create` prints: the one subnet it made, an object
// in json and yaml (as describe prints one) and a row of the list's table.
type subnetCreated SubnetView

func (v subnetCreated) Table() ([]string, [][]string) { return subnetListView{SubnetView(v)}.Table() }

// subnetRangeCell is a subnet's range for a table: its IPv4 range, and for a dual-stack
// subnet "+ IPv6 RANGE (internal)" too.
func subnetRangeCell(s *cloud.Subnet) string {
	if s == nil || s.StackType != cloud.StackIPv4IPv6 {
		if s == nil {
			return "-"
		}
		return s.IPCIDRRange
	}
	v6 := s.IPv6CIDRRange
	if v6 == "" {
		v6 = "IPv6"
	}
	return fmt.Sprintf("%s + %s (%s)", s.IPCIDRRange, v6, strings.ToLower(s.IPv6AccessType))
}

// subnetUsers returns the workloads of the subnet's region, in the caller's project, that
// use it for Direct VPC egress. (Workloads of other service projects of a Shared VPC host
// cannot be listed from here.)
func subnetUsers(ctx context.Context, c *cloud.Clients, project string, ref egress.SubnetRef) ([]WorkloadUser, error) {
	path := ref.Path()
	users, _, err := findUsers(ctx, c, []string{project}, ref.Region, true, func(s *egress.ServingState) []string { return subnetVia(s, path) })
	return users, err
}

// subnetConnectors returns the connectors of project in the subnet's region made in it.
func subnetConnectors(ctx context.Context, c *cloud.Clients, project string, ref egress.SubnetRef) ([]string, error) {
	return migration.SubnetConnectors(ctx, c, project, ref)
}

// subnetUsage reads a subnet, its Direct VPC users and its connectors concurrently.
func subnetUsage(ctx context.Context, c *cloud.Clients, project string, ref egress.SubnetRef) (SubnetDetail, error) {
	var v SubnetDetail
	var errs [3]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); v.Users, errs[1] = subnetUsers(ctx, c, project, ref) }()
	go func() { defer wg.Done(); v.Connectors, errs[2] = subnetConnectors(ctx, c, project, ref) }()
	v.Subnet, errs[0] = c.GetSubnet(ctx, ref)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return v, err
		}
	}
	for _, u := range v.Users {
		v.MaxScaleBlocks += ipam.BlocksForInstances(u.MaxInstances)
	}
	v.MaxScaleIPs = v.MaxScaleBlocks * ipam.DirectVPCBlockSize
	v.WouldRunOut = v.MaxScaleBlocks > v.Blocks
	return v, nil
}

// ---------------------------------------------------------------------------------------
// subnet create

// SubnetCreateOptions are the inputs of `runnet subnet create`.
type SubnetCreateOptions struct {
	f *Factory

	Name                  string
	Network               string
	Range                 string
	Prefix                int
	FlowLogs              bool
	FlowLogsInterval      string
	FlowLogsSampling      float64
	FlowLogsMetadata      string
	PrivateIPGoogleAccess bool
	Description           string
	Async                 bool
	// StackType and IPv6AccessType are --stack-type and --ipv6-access-type.
	StackType      string
	IPv6AccessType string
	// Space is --space: where --range auto looks (ipam.Space).
	Space string

	// Filled in by validate.
	Spec      cloud.SubnetSpec
	Auto      bool
	Warnings  []string
	space     []netip.Prefix
	spaceName string
}

// NewCmdSubnetCreate returns `runnet subnet create`.
func NewCmdSubnetCreate(f *Factory, runF func(context.Context, *SubnetCreateOptions) error) *cobra.Command {
	o := &SubnetCreateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "create NAME --network NETWORK (--range CIDR | --range auto [--prefix 26])",
		Short: "Create a subnet, in a given or a free range",
		Long: `Create a subnet in a network of the project, in --region, and wait until it exists.

--range CIDR takes an IPv4 range from /8 to /29 (host bits must be zero; the
canonical form is suggested). --range auto picks the first free range of
--prefix length (default 26, the smallest Direct VPC egress accepts) that
overlaps nothing in the network in any region: primary and secondary subnet
ranges, and the ranges of connectors made with --range. It looks in --space:
rfc1918 (10.0.0.0/8, then 172.16.0.0/12, then 192.168.0.0/16), rfc6598
(100.64.0.0/10, which Google recommends against IP exhaustion), class-e
(240.0.0.0/4: valid for Direct VPC egress, but some operating systems and
on-premises networks do not route it) or all (the three, in that order); by
default RFC 1918, then RFC 6598. The chosen range is shown, with why.

Direct VPC egress needs a /26 or larger range in RFC 1918, RFC 6598 or
240.0.0.0/4: runnet warns when the subnet could not serve it. Use
'runnet subnet plan' to size one.

--stack-type IPV4_IPV6 makes a dual-stack subnet, with --ipv6-access-type INTERNAL
(a /64 of the network's ULA internal IPv6 range, which must be enabled: runnet
checks first, exit code 3 otherwise) or EXTERNAL. Direct VPC egress sends IPv6
traffic through a dual-stack subnet; the Cloud Run service agent then needs
what 'runnet migrate' checks.

--flow-logs turns VPC Flow Logs on; --flow-logs-interval (5s, 30s, 1m, 5m, 10m,
15m), --flow-logs-sampling (0.0 to 1.0) and --flow-logs-metadata (include-all,
exclude-all) tune it.

The insert carries a request ID, so a retried request is applied once. Creating
a subnet that already exists with the same network and range succeeds.`,
		Example: `  # The article's Direct VPC subnet, with its flow logs:
  runnet subnet create run-direct-vpc-egress --network run-vpc --range 10.8.0.0/24 \
    --flow-logs --flow-logs-interval 10m --flow-logs-sampling 0.5 --flow-logs-metadata include-all

  # A /23 wherever it fits (see 'runnet subnet plan --max-instances 100'):
  runnet subnet create run-direct-2 --network run-vpc --range auto --prefix 23

  # Dual-stack, internal IPv6 (the network needs ULA internal IPv6):
  runnet subnet create run-direct-v6 --network run-vpc --range 10.9.0.0/24 \
    --stack-type IPV4_IPV6 --ipv6-access-type INTERNAL`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Network, "network", "", "network of the subnet (required)")
	fl.StringVar(&o.Range, "range", "", `primary IPv4 range (CIDR, /8 to /29), or "auto" to pick a free one (required)`)
	fl.IntVar(&o.Prefix, "prefix", ipam.DirectVPCMinPrefix, "prefix length of the range --range auto picks (8 to 29; Direct VPC egress needs 26 or less)")
	fl.BoolVar(&o.FlowLogs, "flow-logs", false, "turn on VPC Flow Logs")
	fl.StringVar(&o.FlowLogsInterval, "flow-logs-interval", "", "flow log aggregation interval: "+strings.Join(flowLogIntervalFlags(), ", ")+" (default 5s)")
	fl.Float64Var(&o.FlowLogsSampling, "flow-logs-sampling", 0.5, "fraction of flows logged, 0.0 to 1.0")
	fl.StringVar(&o.FlowLogsMetadata, "flow-logs-metadata", "", "flow log metadata: include-all or exclude-all")
	fl.BoolVar(&o.PrivateIPGoogleAccess, "enable-private-ip-google-access", false, "let instances without external IPs reach Google APIs")
	fl.StringVar(&o.Description, "description", "", "description of the subnet")
	fl.BoolVar(&o.Async, "async", false, "return as soon as the creation has started")
	fl.StringVar(&o.Space, "space", "", "with --range auto, where to look: "+strings.Join(ipam.SpaceNames(), ", ")+" (default: rfc1918, then rfc6598)")
	_ = cmd.RegisterFlagCompletionFunc("space", cobra.FixedCompletions(ipam.SpaceNames(), cobra.ShellCompDirectiveNoFileComp))
	fl.StringVar(&o.StackType, "stack-type", "", "IPV4_ONLY (the default) or IPV4_IPV6 for a dual-stack subnet")
	fl.StringVar(&o.IPv6AccessType, "ipv6-access-type", "", "with --stack-type IPV4_IPV6: INTERNAL (the network's ULA range) or EXTERNAL")
	_ = cmd.RegisterFlagCompletionFunc("stack-type", cobra.FixedCompletions([]string{cloud.StackIPv4Only, cloud.StackIPv4IPv6}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("ipv6-access-type", cobra.FixedCompletions([]string{cloud.IPv6AccessInternal, cloud.IPv6AccessExternal}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagRequired("network")
	_ = cmd.MarkFlagRequired("range")
	_ = cmd.RegisterFlagCompletionFunc("flow-logs-interval", cobra.FixedCompletions(flowLogIntervalFlags(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("flow-logs-metadata", cobra.FixedCompletions([]string{"include-all", "exclude-all"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *SubnetCreateOptions) validate(cmd *cobra.Command) error {
	fl := cmd.Flags()
	ref, err := parseSubnetArg(o.f, o.Name)
	if err != nil {
		return err
	}
	n, err := egress.ParseNetworkRef(o.Network, ref.Project)
	if err != nil {
		return usageErr("--network", err)
	}
	if n.Project != ref.Project {
		return exitcode.Usagef("--network: %s is in project %s; a subnet must be in its network's project (%s)", o.Network, n.Project, ref.Project)
	}
	spec := cloud.SubnetSpec{Ref: ref, Network: n.Path(), PrivateIPGoogleAccess: o.PrivateIPGoogleAccess, Description: o.Description}
	if spec.StackType, spec.IPv6AccessType, err = ValidateStack(o.StackType, o.IPv6AccessType, fl.Changed("stack-type"), fl.Changed("ipv6-access-type")); err != nil {
		return err
	}
	o.Warnings = nil
	if o.space, o.spaceName, err = parseSpaceFlag(o.Space, fl.Changed("space"), strings.EqualFold(o.Range, rangeAuto), false); err != nil {
		return err
	}
	if strings.EqualFold(o.Range, rangeAuto) {
		o.Auto = true
		if err := ValidateSubnetPrefix(o.Prefix); err != nil {
			return err
		}
		if o.Prefix > ipam.DirectVPCMinPrefix {
			o.Warnings = append(o.Warnings, fmt.Sprintf("a /%d is too small for Direct VPC egress (it needs /%d or larger); the subnet can still serve VMs or a connector (/28)", o.Prefix, ipam.DirectVPCMinPrefix))
		}
	} else {
		if fl.Changed("prefix") {
			return exitcode.Usagef("--prefix: only with --range auto (the prefix of --range %s is part of it)", o.Range)
		}
		p, err := ValidateSubnetCIDR(o.Range)
		if err != nil {
			return err
		}
		spec.IPCIDRRange = p.String()
		if w := directVPCWarning(p); w != "" {
			o.Warnings = append(o.Warnings, w)
		}
	}
	if o.FlowLogs {
		lc := &cloud.FlowLogs{Enabled: true, FlowSampling: o.FlowLogsSampling}
		if o.FlowLogsInterval != "" {
			if lc.AggregationInterval, err = ParseFlowLogsInterval(o.FlowLogsInterval); err != nil {
				return err
			}
		}
		if o.FlowLogsMetadata != "" {
			if lc.Metadata, err = ParseFlowLogsMetadata(o.FlowLogsMetadata); err != nil {
				return err
			}
		}
		if o.FlowLogsSampling < 0 || o.FlowLogsSampling > 1 || o.FlowLogsSampling != o.FlowLogsSampling {
			return exitcode.Usagef("--flow-logs-sampling: %v is out of range; valid: 0.0 to 1.0", o.FlowLogsSampling)
		}
		spec.FlowLogs = lc
	} else {
		for _, name := range []string{"flow-logs-interval", "flow-logs-sampling", "flow-logs-metadata"} {
			if fl.Changed(name) {
				return exitcode.Usagef("--%s: only with --flow-logs", name)
			}
		}
	}
	o.Spec = spec
	return nil
}

func (o *SubnetCreateOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	for _, w := range o.Warnings {
		netWarn(o.f, "%s", w)
	}
	spec := o.Spec
	if err := checkULA(ctx, c, spec); err != nil {
		return err
	}
	var auto *AutoRange
	var s *cloud.Subnet
	if o.Auto {
		chosen, ar, err := o.pickRange(ctx, c)
		if err != nil {
			return err
		}
		spec.IPCIDRRange, auto = chosen.String(), ar
		netNotice(o.f, "Using range %s: %s.", chosen, ar.Why)
		// Another create may take the same free range first: then the next one is used.
		done := startWait(o.f, "Creating subnet "+spec.Ref.Name)
		s, err = c.CreateSubnetAuto(ctx, spec, o.space, o.Prefix, waitOptions(o.f, o.Async), func(lost, next netip.Prefix) {
			netWarn(o.f, "range %s was taken meanwhile (another subnet was created in it); using %s, the next free /%d", lost, next, o.Prefix)
		})
		done()
		if err != nil {
			return err
		}
	} else {
		// A range that overlaps one in use in the network is refused before anything is
		// created (Compute refuses it too, with less to go on).
		if err := o.checkRange(ctx, c, spec); err != nil {
			return err
		}
		done := startWait(o.f, "Creating subnet "+spec.Ref.Name)
		var err error
		s, err = c.CreateSubnet(ctx, spec, waitOptions(o.f, o.Async))
		done()
		if err != nil {
			return err
		}
	}
	if o.Async {
		netNotice(o.f, "Creating subnet %s (%s); follow it with 'runnet subnet describe %s'.", s.Name, s.IPCIDRRange, s.Name)
	} else {
		netNotice(o.f, "Created subnet %s (%s, %d usable addresses, %d /28 blocks%s).", s.Name, s.IPCIDRRange, s.UsableIPs, s.Blocks, stackNote(s))
	}
	return p.Print(subnetCreated{Subnet: s, AutoRange: auto})
}

// ValidateStack checks --stack-type and --ipv6-access-type (as Compute spells them, any
// case) and returns them as the API takes them: "" and "" for IPv4 only.
func ValidateStack(stack, access string, stackGiven, accessGiven bool) (string, string, error) {
	stack, access = strings.ToUpper(strings.TrimSpace(stack)), strings.ToUpper(strings.TrimSpace(access))
	switch {
	case stackGiven && stack != cloud.StackIPv4Only && stack != cloud.StackIPv4IPv6:
		return "", "", exitcode.Usagef("--stack-type: %q is not a stack type; valid: %s, %s", stack, cloud.StackIPv4Only, cloud.StackIPv4IPv6)
	case stack == cloud.StackIPv4IPv6 && !accessGiven:
		return "", "", exitcode.Usagef("--ipv6-access-type: required with --stack-type %s; valid: %s (the network's ULA internal IPv6 range), %s", cloud.StackIPv4IPv6, cloud.IPv6AccessInternal, cloud.IPv6AccessExternal)
	case accessGiven && stack != cloud.StackIPv4IPv6:
		return "", "", exitcode.Usagef("--ipv6-access-type: only with --stack-type %s", cloud.StackIPv4IPv6)
	case accessGiven && access != cloud.IPv6AccessInternal && access != cloud.IPv6AccessExternal:
		return "", "", exitcode.Usagef("--ipv6-access-type: %q is not an IPv6 access type; valid: %s, %s", access, cloud.IPv6AccessInternal, cloud.IPv6AccessExternal)
	case stack == cloud.StackIPv4Only:
		return "", "", nil // the API's default
	}
	return stack, access, nil
}

// checkULA refuses, with exit status 3, a dual-stack subnet with internal IPv6 in a network
// without ULA internal IPv6: Compute would refuse it ("Subnetwork with internal IPv6 access
// type requires the network to have ULA internal IPv6 range enabled").
func checkULA(ctx context.Context, c *cloud.Clients, spec cloud.SubnetSpec) error {
	if spec.IPv6AccessType != cloud.IPv6AccessInternal {
		return nil
	}
	nref, err := egress.ParseNetworkRef(spec.Network, spec.Ref.Project)
	if err != nil {
		return err
	}
	n, err := c.GetNetwork(ctx, nref)
	if err != nil {
		return err
	}
	if !n.EnableULAInternalIPv6 {
		return exitcode.Errorf(exitcode.Preflight, "--ipv6-access-type %s: network %s has no ULA internal IPv6 range; enable it first (gcloud compute networks update %s --enable-ula-internal-ipv6 --project %s), or use --ipv6-access-type %s; nothing was created",
			cloud.IPv6AccessInternal, n.Name, n.Name, nref.Project, cloud.IPv6AccessExternal)
	}
	return nil
}

// stackNote is ", dual-stack, internal IPv6 fd20:…/64" for a dual-stack subnet, "" otherwise.
func stackNote(s *cloud.Subnet) string {
	if s.StackType != cloud.StackIPv4IPv6 {
		return ""
	}
	note := ", dual-stack, " + strings.ToLower(s.IPv6AccessType) + " IPv6"
	if s.IPv6CIDRRange != "" {
		note += " " + s.IPv6CIDRRange
	}
	return note
}

// checkRange refuses, with exit status 3, a --range that overlaps a range in use in the
// network (VPC-wide: subnets in every region, their secondary ranges, connectors' ranges).
func (o *SubnetCreateOptions) checkRange(ctx context.Context, c *cloud.Clients, spec cloud.SubnetSpec) error {
	p, err := netip.ParsePrefix(spec.IPCIDRRange)
	if err != nil {
		return nil // validate refused it already
	}
	nref, err := egress.ParseNetworkRef(spec.Network, spec.Ref.Project)
	if err != nil {
		return err
	}
	warnings, err := c.CheckRangeFree(ctx, nref.Project, nref.Path(), p, spec.Ref.Name, spec.Ref.Region, "")
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	var oe *cloud.RangeOverlapError
	if errors.As(err, &oe) {
		hint := "pick a free range, or --range auto"
		if oe.Free.IsValid() {
			hint = fmt.Sprintf("--range %s is free, or --range auto --prefix %d picks one", oe.Free, p.Bits())
		}
		return exitcode.Errorf(exitcode.Preflight, "--range: %s overlaps %s in network %s (%s); nothing was created", p, oe.With.Describe(), nref.Name, hint)
	}
	return err
}

// pickRange finds the first free range of --prefix length in the --space that overlaps
// nothing in the network, VPC-wide. The network must exist.
func (o *SubnetCreateOptions) pickRange(ctx context.Context, c *cloud.Clients) (netip.Prefix, *AutoRange, error) {
	ref := o.Spec.Ref
	nref, err := egress.ParseNetworkRef(o.Spec.Network, ref.Project)
	if err != nil {
		return netip.Prefix{}, nil, err
	}
	var netErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, netErr = c.GetNetwork(ctx, nref) }()
	used, warnings, err := c.NetworkRanges(ctx, ref.Project, nref.Path())
	wg.Wait()
	if netErr != nil {
		return netip.Prefix{}, nil, netErr
	}
	if err != nil {
		return netip.Prefix{}, nil, err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	prefixes := make([]netip.Prefix, 0, len(used))
	for _, u := range used {
		prefixes = append(prefixes, u.Prefix)
	}
	space := make([]string, 0, len(o.space))
	for _, s := range o.space {
		space = append(space, s.String())
	}
	chosen, ok := ipam.FindFree(o.space, prefixes, o.Prefix)
	if !ok {
		hint := "give a --range, a longer --prefix"
		if o.spaceName != ipam.SpaceAll {
			hint += ", or --space all"
		}
		return netip.Prefix{}, nil, exitcode.Errorf(exitcode.Preflight, "no free /%d range left in %s in network %s; %s", o.Prefix, strings.Join(ipam.DescribeSpace(o.space), ", "), nref.Name, hint)
	}
	return chosen, &AutoRange{Prefix: o.Prefix, Space: space, SpaceName: o.spaceName, Avoided: len(used),
		Why: explainAutoRange(chosen, o.space, len(used), nref.Name)}, nil
}

// ---------------------------------------------------------------------------------------
// subnet list

// SubnetListOptions are the inputs of `runnet subnet list`.
type SubnetListOptions struct {
	f       *Factory
	Project string
	Region  string
	Network string

	network string // the --network path, when given
}

// NewCmdSubnetList returns `runnet subnet list`.
func NewCmdSubnetList(f *Factory, runF func(context.Context, *SubnetListOptions) error) *cobra.Command {
	o := &SubnetListOptions{f: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the subnets of a region with how full they are",
		Long: `List the subnets of the project in --region: network, range, usable addresses,
addresses reserved now (Compute's utilization, WITH_UTILIZATION), those held by
Cloud Run's Direct VPC egress (serverless-ipv4-* addresses), free /28 blocks out
of the total, and flow logs.`,
		Example: `  runnet subnet list
  runnet subnet list --network run-vpc --format json | jq '.[] | {name, freeBlocks}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Project, err = f.Project(); err != nil {
				return err
			}
			if o.Region, err = f.Region(); err != nil {
				return err
			}
			if err := egress.ValidateRegion(o.Region); err != nil {
				return usageErr("--region", err)
			}
			if o.Network != "" {
				n, err := egress.ParseNetworkRef(o.Network, o.Project)
				if err != nil {
					return usageErr("--network", err)
				}
				o.network = n.Path()
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Network, "network", "", "only the subnets of this network")
	addFilterFlag(f, cmd)
	return cmd
}

func (o *SubnetListOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	subnets, err := c.ListSubnets(ctx, o.Project, o.Region)
	if err != nil {
		return err
	}
	views := subnetListView{}
	for _, s := range subnets {
		if o.network == "" || s.NetworkPath == o.network {
			views = append(views, SubnetView{Subnet: s})
		}
	}
	if len(views) == 0 && !p.Structured() {
		where := fmt.Sprintf("project %s, region %s", o.Project, o.Region)
		if o.Network != "" {
			where += ", network " + o.Network
		}
		netNotice(o.f, "No subnets in %s.", where)
		return nil
	}
	if wantBars(o.f, p) {
		return p.Print(subnetListBarView(views))
	}
	return p.Print(views)
}

// ---------------------------------------------------------------------------------------
// subnet describe

// SubnetDescribeOptions are the inputs of `runnet subnet describe`.
type SubnetDescribeOptions struct {
	f       *Factory
	Project string
	Ref     egress.SubnetRef
}

// NewCmdSubnetDescribe returns `runnet subnet describe`.
func NewCmdSubnetDescribe(f *Factory, runF func(context.Context, *SubnetDescribeOptions) error) *cobra.Command {
	o := &SubnetDescribeOptions{f: f}
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a subnet's utilization and what uses it",
		Long: `Show a subnet (in the table format, one FIELD VALUE row each; --format yaml or
json for the document) with its
utilization: usable addresses, addresses reserved now, the serverless-ipv4-*
reservations Cloud Run holds for Direct VPC egress, free /28 blocks; the
workloads of the project that use it for Direct VPC egress (template or serving revisions), what they
could reserve at their maximum scale (maxScaleBlocks, maxScaleIps), and the
connectors made in it.`,
		Example: `  runnet subnet describe run-direct-vpc-egress
  runnet subnet describe projects/host-project/regions/asia-northeast1/subnetworks/shared --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Ref, err = parseSubnetArg(f, args[0]); err != nil {
				return err
			}
			if o.Project, err = f.Project(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
}

func (o *SubnetDescribeOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	v, err := subnetUsage(ctx, c, o.Project, o.Ref)
	if err != nil {
		return err
	}
	if v.WouldRunOut {
		netWarn(o.f, "at maximum scale its workloads could reserve %d /28 blocks, more than the %d the subnet holds", v.MaxScaleBlocks, v.Blocks)
	}
	return p.Print(v)
}

// ---------------------------------------------------------------------------------------
// subnet delete

// SubnetDeleteOptions are the inputs of `runnet subnet delete`.
type SubnetDeleteOptions struct {
	f       *Factory
	Project string
	Ref     egress.SubnetRef
	Force   bool
	Async   bool
	// Wait is --wait: wait until Cloud Run has released its serverless-ipv4-* addresses,
	// for at most Timeout.
	Wait    bool
	Timeout time.Duration
}

// Bounds of subnet delete --timeout. Cloud Run releases a subnet's addresses 1 to 2 hours
// after its last instance (Cloud Run docs, "Direct VPC egress"): the default covers that.
const (
	defaultReleaseTimeout = 150 * time.Minute
	maxReleaseTimeout     = 24 * time.Hour
)

// SubnetDeleteResult is what `runnet subnet delete` prints. JSON field names are a stable
// contract.
type SubnetDeleteResult struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// State is DELETED, or DELETING with --async.
	State string `json:"state"`
	// Users are the workloads that were configured to use the subnet (only with --force).
	Users []WorkloadUser `json:"users,omitempty"`
}

// Table renders the result as one row.
func (r SubnetDeleteResult) Table() ([]string, [][]string) {
	return []string{"name", "state", "users left without their subnet"}, [][]string{{r.Name, r.State, describeUsers(r.Users)}}
}

// NewCmdSubnetDelete returns `runnet subnet delete`.
func NewCmdSubnetDelete(f *Factory, runF func(context.Context, *SubnetDeleteOptions) error) *cobra.Command {
	o := &SubnetDeleteOptions{f: f}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a subnet that nothing uses",
		Long: `Delete a subnet.

runnet refuses while workloads of the project are configured to use it for Direct
VPC egress or a connector was made in it (exit code 3, nothing changed), unless
--force is given for the workloads.

When Compute refuses because Cloud Run still holds serverless-ipv4-* addresses in
it (it keeps them for up to 1 to 2 hours after the last workload left), runnet
says so and how many: try again later. With --wait, runnet waits until they are
released (with progress on a terminal), then deletes; --timeout (default 2h30m)
bounds the wait, after which it fails with nothing deleted (exit code 1).

It asks for confirmation unless --yes is given; without a terminal, --yes is
required.`,
		Example: `  runnet subnet delete old-subnet
  runnet subnet delete run-direct-vpc-egress --yes --format json

  # Right after moving the last workload off it:
  runnet subnet delete run-direct-vpc-egress --wait --timeout 3h --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Ref, err = parseSubnetArg(f, args[0]); err != nil {
				return err
			}
			if o.Project, err = f.Project(); err != nil {
				return err
			}
			if cmd.Flags().Changed("timeout") && !o.Wait {
				return exitcode.Usagef("--timeout: only with --wait")
			}
			if o.Timeout <= 0 || o.Timeout > maxReleaseTimeout {
				return exitcode.Usagef("--timeout: %s is out of range; valid: 1s to %s", o.Timeout, maxReleaseTimeout)
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "delete even while workloads are configured to use the subnet")
	cmd.Flags().BoolVar(&o.Async, "async", false, "return as soon as the deletion has started")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "wait until Cloud Run has released its serverless-ipv4-* addresses in the subnet, then delete it")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", defaultReleaseTimeout, "with --wait, how long to wait for the addresses' release (1s to 24h)")
	return cmd
}

func (o *SubnetDeleteOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	v, err := subnetUsage(ctx, c, o.Project, o.Ref)
	if err != nil {
		return err
	}
	if len(v.Connectors) > 0 {
		return exitcode.Errorf(exitcode.Preflight, "subnet %s holds connector%s %s; delete %s first (runnet connector delete); nothing was changed",
			o.Ref.Name, netPlural(len(v.Connectors)), strings.Join(v.Connectors, ", "), netPronoun(len(v.Connectors)))
	}
	if len(v.Users) > 0 && !o.Force {
		return exitcode.Errorf(exitcode.Preflight,
			"subnet %s is used for Direct VPC egress by %d workload%s: %s; move %s first (runnet migrate, runnet attach), or pass --force; nothing was changed",
			o.Ref.Name, len(v.Users), netPlural(len(v.Users)), describeUsers(v.Users), netPronoun(len(v.Users)))
	}
	if len(v.Users) > 0 {
		netWarn(o.f, "%d workload%s still name subnet %s: %s. Their next deploys fail until they use another subnet.",
			len(v.Users), netPlural(len(v.Users)), o.Ref.Name, describeUsers(v.Users))
	}
	ok, err := o.f.Confirm(fmt.Sprintf("Delete subnet %s (%s, network %s, project %s, region %s)?", o.Ref.Name, v.IPCIDRRange, v.Network, o.Ref.Project, o.Ref.Region))
	if err != nil {
		return err
	}
	if !ok {
		return exitcode.Errorf(exitcode.Failure, "not deleted: the deletion was not confirmed")
	}
	if o.Wait && len(v.ServerlessAddresses) > 0 {
		netNotice(o.f, "Cloud Run holds %s in subnet %s; waiting (up to %s) until it releases them.",
			cloud.HeldReservations(len(v.ServerlessAddresses), v.ServerlessIPs), o.Ref.Name, o.Timeout)
		done := startWait(o.f, "Waiting for the release of subnet "+o.Ref.Name+"'s addresses")
		_, err := c.WaitSubnetReleased(ctx, o.Ref, o.Timeout, waitOptions(o.f, false))
		done()
		var held *cloud.ReservationsHeldError
		if errors.As(err, &held) {
			return exitcode.Errorf(exitcode.Failure, "%v; nothing was deleted: run it again later, or with a longer --timeout", err)
		}
		if err != nil {
			return err
		}
		netNotice(o.f, "Cloud Run released its addresses in subnet %s.", o.Ref.Name)
	}
	done := startWait(o.f, "Deleting subnet "+o.Ref.Name)
	err = c.DeleteSubnet(ctx, o.Ref, waitOptions(o.f, o.Async))
	done()
	if inUse := (*cloud.SubnetInUseError)(nil); errors.As(err, &inUse) && inUse.HeldByCloudRun() && !o.Wait {
		return fmt.Errorf("%w; 'runnet subnet delete %s --wait' waits for their release, then deletes", err, o.Ref.Name)
	}
	if err != nil {
		return err
	}
	res := SubnetDeleteResult{Name: o.Ref.Name, Path: o.Ref.Path(), State: "DELETED", Users: v.Users}
	if o.Async {
		res.State = "DELETING"
		netNotice(o.f, "Deleting subnet %s.", o.Ref.Name)
	} else {
		netNotice(o.f, "Deleted subnet %s.", o.Ref.Name)
	}
	return p.Print(res)
}

// ---------------------------------------------------------------------------------------
// subnet plan

// SubnetPlanOptions are the inputs of `runnet subnet plan`.
type SubnetPlanOptions struct {
	f                *Factory
	MaxInstances     int
	Workloads        int
	NoRolloutOverlap bool

	// Plan is filled in by validate.
	Plan ipam.SubnetPlan
}

// SubnetPlanView is what `runnet subnet plan` prints: ipam.SubnetPlan's numbers and steps,
// the plan's range as an example CIDR size, and warnings. JSON field names are a stable
// contract.
type SubnetPlanView struct {
	ipam.SubnetPlan
	// Warnings are notes on the inputs (quota).
	Warnings []string `json:"warnings,omitempty"`

	bars bool // the table shows a usage bar (a terminal)
}

// WriteText renders the plan for people: the steps, then the answer.
func (v SubnetPlanView) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range v.Steps {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	fmt.Fprintf(&b, "Use a /%d or larger: %d usable addresses, %d /28 blocks for %d needed.\n", v.Prefix, v.Usable, v.Blocks, v.BlocksNeeded)
	if v.bars {
		b.WriteString(planBarLine(v.BlocksNeeded, v.Blocks, v.Prefix))
	}
	fmt.Fprintf(&b, "  runnet subnet create NAME --network NETWORK --range auto --prefix %d\n", v.Prefix)
	for _, wn := range v.Warnings {
		fmt.Fprintf(&b, "Note: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NewCmdSubnetPlan returns `runnet subnet plan`.
func NewCmdSubnetPlan(f *Factory, runF func(*SubnetPlanOptions) error) *cobra.Command {
	o := &SubnetPlanOptions{f: f}
	cmd := &cobra.Command{
		Use:   "plan --max-instances N [--workloads K] [--no-rollout-overlap]",
		Short: "Size a subnet for Direct VPC egress (arithmetic only, no API call)",
		Long: `Find the smallest subnet that holds K workloads of up to N instances each with
Direct VPC egress, and show the arithmetic: 2 IPs per instance, rounded up to /28
blocks per revision, doubled for the rollout overlap (old and new revisions hold
addresses at once; --no-rollout-overlap leaves that out), against the usable
addresses of each prefix (size minus the 4 Google reserves), never smaller than
the /26 Direct VPC egress requires.

It makes no API call.`,
		Example: `  runnet subnet plan --max-instances 100
  runnet subnet plan --max-instances 10 --workloads 4 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return o.run()
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.MaxInstances, "max-instances", 0, "maximum instances of each workload (required)")
	fl.IntVar(&o.Workloads, "workloads", 1, "number of workloads sharing the subnet")
	fl.BoolVar(&o.NoRolloutOverlap, "no-rollout-overlap", false, "do not count old and new revisions holding addresses at once")
	_ = cmd.MarkFlagRequired("max-instances")
	return cmd
}

func (o *SubnetPlanOptions) validate() error {
	if o.MaxInstances < 1 {
		return exitcode.Usagef("--max-instances: %d is out of range; valid: 1 or more", o.MaxInstances)
	}
	if o.Workloads < 1 {
		return exitcode.Usagef("--workloads: %d is out of range; valid: 1 or more", o.Workloads)
	}
	plan, err := ipam.PlanSubnet(o.MaxInstances, o.Workloads, !o.NoRolloutOverlap)
	if err != nil {
		return exitcode.Usagef("--max-instances %d, --workloads %d: %v", o.MaxInstances, o.Workloads, strings.TrimPrefix(err.Error(), "ipam: plan subnet: "))
	}
	o.Plan = plan
	return nil
}

func (o *SubnetPlanOptions) run() error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	v := SubnetPlanView{SubnetPlan: o.Plan, bars: wantBars(o.f, p)}
	if o.MaxInstances > egress.DefaultDirectVPCInstanceQuota {
		v.Warnings = append(v.Warnings, fmt.Sprintf("%d instances is above the default Direct VPC egress quota of %d instances per revision in most regions; ask for more quota first",
			o.MaxInstances, egress.DefaultDirectVPCInstanceQuota))
	}
	return p.Print(v)
}
