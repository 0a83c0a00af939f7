package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/internal/printer"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Serverless VPC Access limits checked before any API call, as the API checks them. Each is a
// platform fact; keep the source in its comment.
const (
	// connectorMinInstancesLow/High bound --min-instances. Source: VPC Access API error
	// "Connector minimum instances must be between 2 and 9." (VPC docs, "Serverless VPC
	// Access": min instances 2 to 9).
	connectorMinInstancesLow, connectorMinInstancesHigh = 2, 9
	// connectorMaxInstancesLow/High bound --max-instances. Source: VPC Access API error
	// "Connector maximum instances must be between 3 and 10."
	connectorMaxInstancesLow, connectorMaxInstancesHigh = 3, 10
)

// connectorMachineTypes are the machine types a connector may use, default first. Source: VPC
// docs, "Serverless VPC Access" (Throughput and scaling: e2-micro, f1-micro, e2-standard-4).
var connectorMachineTypes = []string{"e2-micro", "f1-micro", "e2-standard-4"}

// connectorRangeSpace is where a connector's --range must lie: internal addresses "as defined
// by RFC 1918 and RFC 6598". Source: VPC docs, "Serverless VPC Access" (create a connector).
var connectorRangeSpace = []netip.Prefix{ipam.RFC1918[0], ipam.RFC1918[1], ipam.RFC1918[2], ipam.RFC6598}

// NewCmdConnector returns `runnet connector` and its subcommands.
func NewCmdConnector(f *Factory) *cobra.Command {
	cmd := newGroupCmd("connector", "Create, inspect, update and delete Serverless VPC Access connectors")
	cmd.Long = `Manage the Serverless VPC Access connectors of a project and region, and see which
Cloud Run workloads use them ('runnet connector users').

A connector's name is NAME (in --project and --region) or its full name
projects/PROJECT/locations/REGION/connectors/NAME.`
	cmd.Example = `  # Every connector in the region, then which workloads use one:
  runnet connector list
  runnet connector users run-connector

  # A connector in an unused /28 of run-vpc:
  runnet connector create run-connector-2 --network run-vpc --range 10.8.1.0/28`
	cmd.AddCommand(
		NewCmdConnectorCreate(f, nil),
		NewCmdConnectorList(f, nil),
		NewCmdConnectorDescribe(f, nil),
		NewCmdConnectorUpdate(f, nil),
		NewCmdConnectorDelete(f, nil),
		NewCmdConnectorUsers(f, nil), NewCmdConnectorRecycle(f, nil),
	)
	return cmd
}

// netNotice writes an informational line to stderr unless --quiet.
func netNotice(f *Factory, format string, args ...any) {
	if f.IOStreams.Quiet() {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(f.IOStreams.ErrOut, msg)
}

// netWarn writes a warning to stderr, even with --quiet: it tells what a command did or is
// about to do that can hurt.
func netWarn(f *Factory, format string, args ...any) {
	msg := "Warning: " + fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(f.IOStreams.ErrOut, msg)
}

// progressEvery is the most often a wait reports progress (pollers call back more often).
const progressEvery = 5 * time.Second

// waitOptions are the cloud wait options for a command: progress on a terminal only, the
// first message at once and then at most one every progressEvery.
func waitOptions(f *Factory, async bool) cloud.WaitOptions {
	var mu sync.Mutex
	var last time.Time
	return cloud.WaitOptions{Async: async, Progress: func(msg string) {
		if f.IOStreams.SpinnerStatus(msg) {
			return // a spinner shows it (startWait)
		}
		mu.Lock()
		defer mu.Unlock()
		if !last.IsZero() && time.Since(last) < progressEvery {
			return
		}
		last = time.Now()
		f.IOStreams.Progressf("%s", msg)
	}}
}

// usageErr turns a validation error (an egress.ParseError or ipam.PrefixError) into a usage
// error that names the flag or argument.
func usageErr(what string, err error) error {
	return exitcode.Usagef("%s: %v", what, err)
}

// parseConnectorArg resolves the NAME argument: a full name carries its own project and
// region; a short name takes --project and --region.
func parseConnectorArg(f *Factory, s string) (egress.ConnectorRef, error) {
	if strings.Contains(s, "/") {
		ref, err := egress.ParseConnectorRef(s, "", "")
		if err != nil {
			return ref, exitcode.Wrap(exitcode.Usage, err)
		}
		return ref, checkExplicitLocation(f, ref.Project, ref.Region, s)
	}
	if err := egress.ValidateConnectorName(s); err != nil {
		return egress.ConnectorRef{}, exitcode.Wrap(exitcode.Usage, err)
	}
	project, err := f.Project()
	if err != nil {
		return egress.ConnectorRef{}, err
	}
	region, err := f.Region()
	if err != nil {
		return egress.ConnectorRef{}, err
	}
	ref := egress.ConnectorRef{Project: project, Region: region, Name: s}
	if err := ref.Validate(); err != nil {
		return ref, exitcode.Wrap(exitcode.Usage, err)
	}
	return ref, nil
}

// checkExplicitLocation refuses a full resource name whose project or region contradicts an
// explicit --project or --region.
func checkExplicitLocation(f *Factory, project, region, name string) error {
	if p := f.Options.Project; p != "" && p != project {
		return exitcode.Usagef("%s is in project %s, but --project is %s", name, project, p)
	}
	if r := f.Options.Region; r != "" && region != "" && r != region {
		return exitcode.Usagef("%s is in region %s, but --region is %s", name, region, r)
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Workloads using a connector or subnet.

// WorkloadUser is a Cloud Run workload that uses a connector or a subnet. JSON field names
// are a stable contract.
type WorkloadUser struct {
	// Workload is the workload as runnet names it: NAME, job/NAME or workerpool/NAME.
	Workload string      `json:"workload"`
	Kind     egress.Kind `json:"kind"`
	Name     string      `json:"name"`
	Project  string      `json:"project"`
	Region   string      `json:"region"`
	// Egress is the workload's egress setting: private-ranges-only or all-traffic.
	Egress egress.Egress `json:"egress"`
	// MaxInstances is the workload's maximum instance count (its kind's default when unset).
	MaxInstances int `json:"maxInstances"`
	// Via says how the workload uses it: "template" (its next revision or execution, and the
	// latest revision made from it), "revision R, 100% of traffic", "revision R, tag T",
	// "execution E, running".
	Via []string `json:"via"`
}

// Table renders users as KIND NAME PROJECT EGRESS MAX-INSTANCES VIA.
func (u WorkloadUser) Table() ([]string, [][]string) {
	return []string{"kind", "name", "project", "egress", "max instances", "via"},
		[][]string{{string(u.Kind), u.Name, u.Project, string(u.Egress), strconv.Itoa(u.MaxInstances), strings.Join(u.Via, "; ")}}
}

func userOf(w *cloud.Workload, via []string) WorkloadUser {
	return WorkloadUser{
		Workload: w.Ref.String(), Kind: w.Ref.Kind, Name: w.Ref.Name, Project: w.Ref.Project, Region: w.Ref.Region,
		Egress: w.VPC.Egress.Normalize(), MaxInstances: w.EffectiveMaxInstances(), Via: via,
	}
}

func describeUsers(us []WorkloadUser) string {
	names := make([]string, 0, len(us))
	for _, u := range us {
		s := u.Workload
		var what []string
		if u.Kind == egress.KindService {
			what = append(what, "service")
		}
		for _, v := range u.Via {
			if v != "template" {
				what = append(what, v)
			}
		}
		if len(what) > 0 {
			s += " (" + strings.Join(what, "; ") + ")"
		}
		names = append(names, s)
	}
	return strings.Join(names, ", ")
}

// subnetVia says how a workload uses a subnet (a canonical path) for Direct VPC egress; nil
// when it does not.
func subnetVia(s *egress.ServingState, path string) []string {
	uses := func(v egress.VPC) bool {
		c, err := v.Canonical(s.Ref.Project, s.Ref.Region)
		return err == nil && c.Mode() == egress.ModeDirect && c.Subnet == path
	}
	var out []string
	template := uses(s.Template)
	if template {
		out = append(out, "template")
	}
	for _, r := range s.Revisions {
		if uses(r.VPC) && !(r.Latest && template) {
			out = append(out, egress.ConnectorUser{Workload: s.Ref, Revision: r.Name, Percent: r.Percent, Tags: r.Tags}.Via())
		}
	}
	for _, e := range s.Executions {
		if uses(e.VPC) {
			out = append(out, "execution "+e.Name+", running")
		}
	}
	return out
}

// findUsers lists the workloads of region in each project that match says use a resource
// (migration.FindUsers), as report rows. With strict, a failure to list is an error;
// otherwise it is returned as a warning (runnet may not see every project that uses a Shared
// VPC resource).
func findUsers(ctx context.Context, c *cloud.Clients, projects []string, region string, strict bool, match func(*egress.ServingState) []string) ([]WorkloadUser, []string, error) {
	found, warnings, err := migration.FindUsers(ctx, c, projects, region, strict, match)
	if err != nil {
		return nil, nil, err
	}
	users := make([]WorkloadUser, 0, len(found))
	for _, u := range found {
		users = append(users, userOf(u.Workload, u.Via))
	}
	return users, warnings, nil
}

// connectorUsers returns the workloads of the connector's own project that use it.
func connectorUsers(ctx context.Context, c *cloud.Clients, ref egress.ConnectorRef) ([]WorkloadUser, error) {
	users, _, err := findUsers(ctx, c, []string{ref.Project}, ref.Region, true, func(s *egress.ServingState) []string { return migration.ConnectorVia(s, ref) })
	return users, err
}

// ---------------------------------------------------------------------------------------
// Views.

// ConnectorView is a connector as runnet shows it: the API's fields (cloud.Connector) and,
// for a connector made in a subnet (for which the API gives no network), the subnet's range
// and its network (in the network field), when the subnet can be read.
type ConnectorView struct {
	*cloud.Connector
	// SubnetRange is the range of the connector's subnet, when it was made in one and the
	// subnet could be read.
	SubnetRange string `json:"subnetRange,omitempty"`
}

// ConnectorDetail is what `runnet connector describe` prints: the connector and the
// workloads that use it (template, serving revisions, running executions) (always present, [] when none).
type ConnectorDetail struct {
	ConnectorView
	Users []WorkloadUser `json:"users"`
	// ConnectorUse is what it runs, carries and costs (connector_use.go).
	ConnectorUse
}

// Table renders the connector as FIELD VALUE rows (the table format of describe).
func (d ConnectorDetail) Table() ([]string, [][]string) { return fieldTable(d) }

// fieldTable is printer.FieldRows for a Tabler (which cannot return an error: a value that
// cannot be encoded has no rows, and the JSON and YAML formats report the error).
func fieldTable(v any) ([]string, [][]string) {
	h, rows, err := printer.FieldRows(v)
	if err != nil {
		return []string{"field", "value"}, nil
	}
	return h, rows
}

// rangeCell is the connector's range for a table: its ip_cidr_range or its subnet.
func (v ConnectorView) rangeCell() string {
	switch {
	case v.IPCIDRRange != "":
		return v.IPCIDRRange
	case v.Subnet != nil && v.SubnetRange != "":
		return v.SubnetRange + " (subnet " + v.Subnet.Name + ")"
	case v.Subnet != nil:
		return "subnet " + v.Subnet.Name
	}
	return ""
}

// connectorListView prints connectors as a table.
type connectorListView []ConnectorView

func (l connectorListView) Table() ([]string, [][]string) {
	h := []string{"name", "state", "network", "range", "machine type", "min", "max"}
	rows := make([][]string, 0, len(l))
	for _, v := range l {
		rows = append(rows, []string{v.Name, v.State, v.NetworkName(), v.rangeCell(), v.MachineType,
			strconv.Itoa(v.MinInstances), strconv.Itoa(v.MaxInstances)})
	}
	return h, rows
}

// connectorCreated is what `runnet connector create` prints: the one connector it made, an
// object in json and yaml (as describe prints one) and a row of the list's table.
type connectorCreated ConnectorView

func (v connectorCreated) Table() ([]string, [][]string) {
	return connectorListView{ConnectorView(v)}.Table()
}

// resolveConnectorSubnets fills in the network and subnet range of connectors made in a
// subnet (the API gives neither), with one subnet list per project and region. Failures leave
// the fields empty: they are conveniences.
func resolveConnectorSubnets(ctx context.Context, c *cloud.Clients, views []ConnectorView) {
	type loc struct{ project, region string }
	need := map[loc]bool{}
	for _, v := range views {
		if v.Subnet != nil {
			p := v.Subnet.ProjectID
			if p == "" {
				p = v.Project
			}
			need[loc{p, v.Region}] = true
		}
	}
	subnets := map[string]*cloud.Subnet{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for l := range need {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss, err := c.ListSubnets(ctx, l.project, l.region)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range ss {
				subnets[s.Path] = s
			}
		}()
	}
	wg.Wait()
	for i := range views {
		if s := subnets[views[i].SubnetPath()]; s != nil {
			views[i].SubnetRange = s.IPCIDRRange
			if views[i].Network == "" {
				views[i].Network = s.NetworkPath
			}
		}
	}
}

// ---------------------------------------------------------------------------------------
// connector create

// ConnectorCreateOptions are the inputs of `runnet connector create`.
type ConnectorCreateOptions struct {
	f *Factory

	Name          string
	Range         string
	Network       string
	Subnet        string
	SubnetProject string
	MachineType   string
	MinInstances  int
	MaxInstances  int
	Async         bool

	// Spec is filled in by validate.
	Spec cloud.ConnectorSpec
}

// NewCmdConnectorCreate returns `runnet connector create`.
func NewCmdConnectorCreate(f *Factory, runF func(context.Context, *ConnectorCreateOptions) error) *cobra.Command {
	o := &ConnectorCreateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "create NAME (--range CIDR [--network NETWORK] | --subnet SUBNET [--subnet-project PROJECT])",
		Short: "Create a Serverless VPC Access connector",
		Long: `Create a Serverless VPC Access connector and wait until it is READY.

The connector goes either in an unused /28 range of a network (--range, with
--network, which defaults to "default" as in gcloud), or in an existing /28
subnet with nothing else in it (--subnet; required for Shared VPC: pass the
host project with --subnet-project or a full subnet path).

Everything is checked before any API call, with the API's own rules: the name
(^[a-z][-a-z0-9]{0,23}[a-z0-9]$), the range (a /28 in RFC 1918 or RFC 6598),
--min-instances (2 to 9), --max-instances (3 to 10, above the minimum) and
--machine-type (e2-micro, f1-micro or e2-standard-4).

Creating a connector that already exists with the same settings succeeds (so the
command can be repeated); one with different settings is an error that lists the
differences (exit code 5). Connectors scale out but never in: choose
--max-instances with care.`,
		Example: `  # The article's connector, in its own /28 subnet:
  runnet subnet create run-connector-subnet --network run-vpc --range 10.15.0.0/28
  runnet connector create run-connector --subnet run-connector-subnet \
    --min-instances 2 --max-instances 3 --machine-type f1-micro

  # In an unused /28 range of a network, without waiting:
  runnet connector create my-connector --network run-vpc --range 10.8.1.0/28 --async`,
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
	fl.StringVar(&o.Range, "range", "", "unused /28 CIDR range of the network for the connector, e.g. 10.8.1.0/28")
	fl.StringVar(&o.Network, "network", "", `network of the --range (default "default", as in gcloud)`)
	fl.StringVar(&o.Subnet, "subnet", "", "existing, unused /28 subnet for the connector (NAME or projects/HOST/regions/REGION/subnetworks/NAME)")
	fl.StringVar(&o.SubnetProject, "subnet-project", "", "project of --subnet (a Shared VPC host project; default: --project)")
	fl.StringVar(&o.MachineType, "machine-type", cloud.DefaultConnectorMachineType, "machine type of the connector's instances: "+strings.Join(connectorMachineTypes, ", "))
	fl.IntVar(&o.MinInstances, "min-instances", cloud.DefaultConnectorMinInstances, "minimum number of instances, 2 to 9")
	fl.IntVar(&o.MaxInstances, "max-instances", cloud.DefaultConnectorMaxInstances, "maximum number of instances, 3 to 10, above --min-instances")
	fl.BoolVar(&o.Async, "async", false, "return as soon as the creation has started")
	_ = cmd.RegisterFlagCompletionFunc("machine-type", cobra.FixedCompletions(connectorMachineTypes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// ValidateConnectorRange checks a connector's --range as the API does: a canonical IPv4
// network address, exactly /28, inside RFC 1918 or RFC 6598.
func ValidateConnectorRange(s string) (netip.Prefix, error) {
	p, err := ipam.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if err := ipam.ValidateConnectorRange(p); err != nil {
		return p, err
	}
	for _, sp := range connectorRangeSpace {
		if ipam.Contains(sp, p) {
			return p, nil
		}
	}
	return p, &ipam.PrefixError{Input: s, Reason: "is not an internal range: it must be within RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or RFC 6598 (100.64.0.0/10)"}
}

// ValidateConnectorSize checks --min-instances, --max-instances and --machine-type as the API
// does.
func ValidateConnectorSize(minInstances, maxInstances int, machineType string) error {
	if minInstances < connectorMinInstancesLow || minInstances > connectorMinInstancesHigh {
		return exitcode.Usagef("--min-instances: %d is out of range; valid: %d to %d", minInstances, connectorMinInstancesLow, connectorMinInstancesHigh)
	}
	if maxInstances < connectorMaxInstancesLow || maxInstances > connectorMaxInstancesHigh {
		return exitcode.Usagef("--max-instances: %d is out of range; valid: %d to %d", maxInstances, connectorMaxInstancesLow, connectorMaxInstancesHigh)
	}
	if minInstances >= maxInstances {
		return exitcode.Usagef("--max-instances: %d must be greater than --min-instances (%d)", maxInstances, minInstances)
	}
	if !slices.Contains(connectorMachineTypes, machineType) {
		return exitcode.Usagef("--machine-type: %q is not a connector machine type; valid: %s", machineType, strings.Join(connectorMachineTypes, ", "))
	}
	return nil
}

func (o *ConnectorCreateOptions) validate(cmd *cobra.Command) error {
	ref, err := parseConnectorArg(o.f, o.Name)
	if err != nil {
		return err
	}
	spec := cloud.ConnectorSpec{Ref: ref, MachineType: o.MachineType, MinInstances: o.MinInstances, MaxInstances: o.MaxInstances}
	fl := cmd.Flags()
	switch {
	case o.Range != "" && o.Subnet != "":
		return exitcode.Usagef("--range and --subnet: give one, not both (--range CIDR [--network N] or --subnet S)")
	case o.Range == "" && o.Subnet == "":
		return exitcode.Usagef("one of --range CIDR (with --network) or --subnet SUBNET is required")
	case o.Range != "":
		if fl.Changed("subnet-project") {
			return exitcode.Usagef("--subnet-project: only with --subnet")
		}
		p, err := ValidateConnectorRange(o.Range)
		if err != nil {
			return usageErr("--range", err)
		}
		spec.IPCIDRRange = p.String()
		network := o.Network
		if network == "" {
			network = cloud.DefaultConnectorNetwork
		}
		n, err := egress.ParseNetworkRef(network, ref.Project)
		if err != nil {
			return usageErr("--network", err)
		}
		if n.Project != ref.Project {
			return exitcode.Usagef("--network: a connector made with --range must use a network of its own project (%s), not %s; for a Shared VPC network, create a /28 subnet in the host project and use --subnet projects/HOST/regions/%s/subnetworks/NAME",
				ref.Project, n.Project, ref.Region)
		}
		spec.Network = n.Name
	default:
		if fl.Changed("network") {
			return exitcode.Usagef("--network: only with --range (a connector made with --subnet uses the subnet's network)")
		}
		subnetProject := ref.Project
		if o.SubnetProject != "" {
			if err := egress.ValidateProject(o.SubnetProject); err != nil {
				return usageErr("--subnet-project", err)
			}
			subnetProject = o.SubnetProject
		}
		s, err := egress.ParseSubnetRef(o.Subnet, subnetProject, ref.Region)
		if err != nil {
			return usageErr("--subnet", err)
		}
		if o.SubnetProject != "" && s.Project != o.SubnetProject {
			return exitcode.Usagef("--subnet: %s is in project %s, but --subnet-project is %s", o.Subnet, s.Project, o.SubnetProject)
		}
		if s.Region != ref.Region {
			return exitcode.Usagef("--subnet: %s is in region %s; a connector in %s needs a subnet of its own region", o.Subnet, s.Region, ref.Region)
		}
		spec.Subnet = &cloud.ConnectorSubnet{Name: s.Name, ProjectID: s.Project}
	}
	if err := ValidateConnectorSize(o.MinInstances, o.MaxInstances, o.MachineType); err != nil {
		return err
	}
	o.Spec = spec
	return nil
}

func (o *ConnectorCreateOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	if err := o.checkRange(ctx, c); err != nil {
		return err
	}
	if chk := egress.ConnectorMachineTypeCheck(o.Spec.Ref.Name, o.Spec.MachineType); chk.Status == egress.StatusWarn {
		netWarn(o.f, "%s: %s; %s", chk.Name, chk.Message, chk.Hint)
	}
	done := startWait(o.f, "Creating connector "+o.Spec.Ref.Name)
	conn, err := c.CreateConnector(ctx, o.Spec, waitOptions(o.f, o.Async))
	done()
	if err != nil {
		return err
	}
	views := []ConnectorView{{Connector: conn}}
	resolveConnectorSubnets(ctx, c, views)
	if o.Async && conn.State != cloud.ConnectorReady {
		netNotice(o.f, "Creating connector %s (%s); follow it with 'runnet connector describe %s'.", conn.Name, conn.State, conn.Name)
	} else {
		netNotice(o.f, "Connector %s is %s.", conn.Name, conn.State)
	}
	return p.Print(connectorCreated(views[0]))
}

// checkRange refuses, with exit status 3, a --range that overlaps a range in use in the
// network: the API would accept the request and leave the connector in ERROR ("It conflicts
// with an existing subnetwork. Please delete the connector manually."). The connector's own
// range does not count (creating it again is a no-op).
func (o *ConnectorCreateOptions) checkRange(ctx context.Context, c *cloud.Clients) error {
	spec := o.Spec
	if spec.IPCIDRRange == "" {
		return nil // in a subnet: the API checks it before accepting the request
	}
	p, err := netip.ParsePrefix(spec.IPCIDRRange)
	if err != nil {
		return nil
	}
	nref, err := egress.ParseNetworkRef(spec.Network, spec.Ref.Project)
	if err != nil {
		return err
	}
	warnings, err := c.CheckRangeFree(ctx, nref.Project, nref.Path(), p, "", spec.Ref.Region, spec.Ref.Name)
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	var oe *cloud.RangeOverlapError
	if errors.As(err, &oe) {
		hint := "pick an unused /28"
		if oe.Free.IsValid() {
			hint = fmt.Sprintf("--range %s is free", oe.Free)
		}
		return exitcode.Errorf(exitcode.Preflight, "--range: %s overlaps %s in network %s (%s); nothing was created", p, oe.With.Describe(), nref.Name, hint)
	}
	return err
}

// ---------------------------------------------------------------------------------------
// connector list

// ConnectorListOptions are the inputs of `runnet connector list`.
type ConnectorListOptions struct {
	f       *Factory
	Project string
	Region  string
}

// NewCmdConnectorList returns `runnet connector list`.
func NewCmdConnectorList(f *Factory, runF func(context.Context, *ConnectorListOptions) error) *cobra.Command {
	o := &ConnectorListOptions{f: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the connectors of a region",
		Long: `List the Serverless VPC Access connectors of the project and region: state,
network, range (or subnet, with its range), machine type and instance bounds.

'runnet connector users NAME' lists the workloads that use one.`,
		Example: `  runnet connector list --region asia-northeast1
  runnet connector list --format json | jq -r '.[] | select(.state != "READY") | .name'`,
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
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	addFilterFlag(f, cmd)
	return cmd
}

func (o *ConnectorListOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	conns, err := c.ListConnectors(ctx, o.Project, o.Region)
	if err != nil {
		return err
	}
	views := make(connectorListView, 0, len(conns))
	for _, conn := range conns {
		views = append(views, ConnectorView{Connector: conn})
	}
	resolveConnectorSubnets(ctx, c, views)
	if len(views) == 0 && !p.Structured() {
		netNotice(o.f, "No connectors in project %s, region %s.", o.Project, o.Region)
		return nil
	}
	return p.Print(views)
}

// ---------------------------------------------------------------------------------------
// connector describe

// ConnectorDescribeOptions are the inputs of `runnet connector describe`.
type ConnectorDescribeOptions struct {
	f   *Factory
	Ref egress.ConnectorRef
	// NoCost is --no-cost: no Cloud Billing call.
	NoCost bool
}

// NewCmdConnectorDescribe returns `runnet connector describe`.
func NewCmdConnectorDescribe(f *Factory, runF func(context.Context, *ConnectorDescribeOptions) error) *cobra.Command {
	o := &ConnectorDescribeOptions{f: f}
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a connector, the workloads that use it, and what it costs",
		Long: `Show every field of a connector (in the table format, one FIELD VALUE row each;
--format yaml or json for the document), the range of its subnet when it was made in
one, and the Cloud Run workloads that use it (users: through their template, a revision
that receives traffic or carries a tag, or a running job execution).

It also shows what the connector runs, carries and costs, each with its source:
instances (now and the peak) and throughput (sent plus received, now and the peak,
and what its instances carry) from Cloud Monitoring over the last 7 days; monthlyCost
(its instances at the Cloud Billing Catalog's price of its machine type in its
region; runnet's fallback table of list prices, marked fallback, only when the
Catalog cannot be read); oversized, when it runs more or larger instances than its
peak needs; and savingsIfMigrated, what moving its workloads to Direct VPC egress
saves a month. --no-cost reads no price. A figure that cannot be read is null, and
useNotes say why; it never fails the command.`,
		Example: `  runnet connector describe run-connector
  runnet connector describe projects/demo-project/locations/asia-northeast1/connectors/run-connector --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Ref, err = parseConnectorArg(f, args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.NoCost, "no-cost", false, "do not read prices from the Cloud Billing Catalog (the cost is then unknown)")
	return cmd
}

func (o *ConnectorDescribeOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	conn, users, warnings, err := getConnectorAndUsers(ctx, c, o.Ref)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	views := []ConnectorView{{Connector: conn}}
	resolveConnectorSubnets(ctx, c, views)
	use := readConnectorUse(ctx, c, conn, o.NoCost)
	return p.Print(ConnectorDetail{ConnectorView: views[0], Users: users, ConnectorUse: use})
}

// getConnectorAndUsers reads a connector and the workloads of its project that use it,
// concurrently; then the users in the other projects the API reports as connected to it.
// Those projects may not be readable: failures there are warnings.
func getConnectorAndUsers(ctx context.Context, c *cloud.Clients, ref egress.ConnectorRef) (*cloud.Connector, []WorkloadUser, []string, error) {
	var users []WorkloadUser
	var usersErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		users, usersErr = connectorUsers(ctx, c, ref)
	}()
	conn, connErr := c.GetConnector(ctx, ref)
	wg.Wait()
	if connErr != nil {
		return nil, nil, nil, connErr
	}
	if usersErr != nil {
		return nil, nil, nil, usersErr
	}
	var warnings []string
	others, err := c.OtherConnectorProjects(ctx, conn)
	if err != nil && !cloud.IsServiceDisabled(err) {
		// The Shared VPC service projects could not be read: those the API reports as
		// connected are still checked.
		warnings = append(warnings, fmt.Sprintf("the Shared VPC service projects of %s could not be listed: %v", ref.Project, err))
	}
	if err != nil {
		others = migration.OtherProjects(conn, ref.Project)
	}
	if len(others) > 0 {
		more, w, _ := findUsers(ctx, c, others, ref.Region, false, func(s *egress.ServingState) []string { return migration.ConnectorVia(s, ref) })
		users = append(users, more...)
		warnings = append(warnings, w...)
	}
	return conn, users, warnings, nil
}

// ---------------------------------------------------------------------------------------
// connector users

// ConnectorUsersOptions are the inputs of `runnet connector users`.
type ConnectorUsersOptions struct {
	f   *Factory
	Ref egress.ConnectorRef
}

// NewCmdConnectorUsers returns `runnet connector users`.
func NewCmdConnectorUsers(f *Factory, runF func(context.Context, *ConnectorUsersOptions) error) *cobra.Command {
	o := &ConnectorUsersOptions{f: f}
	cmd := &cobra.Command{
		Use:   "users NAME",
		Short: "List the workloads that use a connector",
		Long: `List the Cloud Run services, jobs and worker pools that use the connector: the
reverse map that the Cloud Run and VPC Access APIs do not give. A workload uses it
through its template (its next revision or execution), through a revision that
receives traffic or carries a traffic tag and was created with the connector (traffic
pinned to an older revision, a canary, a tag URL), or through a job execution still
running with it; the via column (field) says which. Workloads of the connector's
project are listed, and those of the other projects that may use it (Shared VPC):
the projects the API reports as connected to it and, when the connector's project
is a Shared VPC host, every service project attached to it.

It works for a connector that no longer exists too: workloads that still name a
deleted connector fail to deploy until they are moved.`,
		Example: `  runnet connector users run-connector
  runnet connector users run-connector --format json | jq -r '.[].workload'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Ref, err = parseConnectorArg(f, args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	addFilterFlag(f, cmd)
	return cmd
}

func (o *ConnectorUsersOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	_, users, warnings, err := getConnectorAndUsers(ctx, c, o.Ref)
	if cloud.IsNotFound(err) {
		// Still useful: who points at a connector that is gone?
		netWarn(o.f, "connector %s does not exist in project %s, region %s; workloads that use it cannot deploy", o.Ref.Name, o.Ref.Project, o.Ref.Region)
		users, err = connectorUsers(ctx, c, o.Ref)
	}
	if err != nil {
		return err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	if len(users) == 0 && !p.Structured() {
		netNotice(o.f, "No workload uses connector %s.", o.Ref.Name)
		return nil
	}
	return p.Print(users)
}

// ---------------------------------------------------------------------------------------
// connector delete

// ConnectorDeleteOptions are the inputs of `runnet connector delete`.
type ConnectorDeleteOptions struct {
	f     *Factory
	Ref   egress.ConnectorRef
	Force bool
	Async bool
}

// ConnectorDeleteResult is what `runnet connector delete` prints. JSON field names are a
// stable contract.
type ConnectorDeleteResult struct {
	Name     string `json:"name"`
	FullName string `json:"fullName"`
	// State is DELETED, or DELETING with --async.
	State string `json:"state"`
	// Users are the workloads that used the connector (only with --force): they have lost
	// their VPC access.
	Users []WorkloadUser `json:"users,omitempty"`
}

// Table renders the result as one row.
func (r ConnectorDeleteResult) Table() ([]string, [][]string) {
	return []string{"name", "state", "users left without VPC access"},
		[][]string{{r.Name, r.State, describeUsers(r.Users)}}
}

// NewCmdConnectorDelete returns `runnet connector delete`.
func NewCmdConnectorDelete(f *Factory, runF func(context.Context, *ConnectorDeleteOptions) error) *cobra.Command {
	o := &ConnectorDeleteOptions{f: f}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a connector that no workload uses",
		Long: `Delete a Serverless VPC Access connector.

The API deletes a connector even while workloads use it; they then lose their VPC
access and their next deploys fail. runnet refuses instead, naming the workloads and
how they use it (exit code 3, nothing changed): their template, a revision that
receives traffic or carries a tag (traffic pinned to an older revision keeps using
the connector that revision was created with), or a running job execution. With
--force it warns which workloads lose VPC access, and deletes. Move the workloads first with
'runnet migrate' or 'runnet attach'.

It asks for confirmation (like gcloud) unless --yes is given; without a terminal,
--yes is required.`,
		Example: `  runnet connector delete old-connector
  runnet connector delete run-connector --force --yes   # its users lose VPC access`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Ref, err = parseConnectorArg(f, args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "delete even while workloads use the connector (they lose VPC access)")
	cmd.Flags().BoolVar(&o.Async, "async", false, "return as soon as the deletion has started")
	return cmd
}

func (o *ConnectorDeleteOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	conn, users, warnings, err := getConnectorAndUsers(ctx, c, o.Ref)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	if len(users) > 0 && !o.Force {
		return exitcode.Errorf(exitcode.Preflight,
			"connector %s is used by %d workload%s: %s; move %s first (runnet migrate, runnet attach), or pass --force to delete it anyway (they lose VPC access); nothing was changed",
			o.Ref.Name, len(users), netPlural(len(users)), describeUsers(users), netPronoun(len(users)))
	}
	if len(users) > 0 {
		netWarn(o.f, "deleting connector %s cuts VPC access for %d workload%s: %s. Their next deploys fail until they use another connector or Direct VPC egress.",
			o.Ref.Name, len(users), netPlural(len(users)), describeUsers(users))
	}
	q := fmt.Sprintf("Delete connector %s (project %s, region %s, state %s)?", o.Ref.Name, o.Ref.Project, o.Ref.Region, conn.State)
	ok, err := o.f.Confirm(q)
	if err != nil {
		return err
	}
	if !ok {
		return exitcode.Errorf(exitcode.Failure, "not deleted: the deletion was not confirmed")
	}
	done := startWait(o.f, "Deleting connector "+o.Ref.Name)
	err = c.DeleteConnector(ctx, o.Ref, waitOptions(o.f, o.Async))
	done()
	if err != nil {
		return err
	}
	res := ConnectorDeleteResult{Name: o.Ref.Name, FullName: o.Ref.FullName(), State: "DELETED", Users: users}
	if o.Async {
		res.State = cloud.ConnectorDeleting
		netNotice(o.f, "Deleting connector %s.", o.Ref.Name)
	} else {
		netNotice(o.f, "Deleted connector %s.", o.Ref.Name)
	}
	return p.Print(res)
}

func netPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func netPronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
