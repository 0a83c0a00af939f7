package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

const inventoryLong = `Show, for one or more regions, where every Cloud Run workload stands and what
the VPC pieces it uses cost and hold:

  - every service, job and worker pool with the egress mode that serves it (none,
    connector or direct: the settings of the revisions that receive its traffic,
    see 'runnet status'), its connector or Direct VPC network/subnetwork, egress
    setting and maximum instances; a template whose settings serve nothing (traffic
    pinned to older revisions, or a latest revision that failed) is a finding;
  - every Serverless VPC Access connector with its state, machine type, instance
    bounds and the workloads that use it (the reverse map neither API gives):
    through their template, a revision that receives traffic or carries a tag, or
    a running job execution. A connector nothing uses is flagged UNUSED: it keeps
    at least its minimum instances running and is billed for them;
  - every subnet used by Direct VPC egress (named by a workload's template, or
    holding Cloud Run's serverless-ipv4-* reservations) with its size, usable
    addresses, the addresses reserved now (Compute's WITH_UTILIZATION view, else
    the SERVERLESS addresses), and the addresses its workloads could claim at
    maximum scale: 2 per instance, reserved in /28 blocks of 16, summed over every
    workload on the subnet. A subnet whose workloads would need more blocks than
    it has would run out; one above 80% is tight (a rollout, when old and new
    revisions hold addresses at once, needs headroom);
  - findings: what needs attention, most severe first.

--regions takes a comma-separated list of regions, or "all" for every region
where Cloud Run is offered (from Cloud Run's locations API, else Serverless VPC
Access's, else runnet's built-in list). Without it, the region is resolved as for
every command (--region, CLOUDSDK_RUN_REGION, gcloud's run/region). Regions are
read concurrently, 8 at a time, and every read in a region runs at once; lists
are read in large pages. Workloads are those of --project; workloads of other
projects that share a connector or a Shared VPC subnet are not listed.

A region that cannot be read completely (a permission missing, an API error) is
reported in "errors" and as a region-error finding; the other regions are still
shown, and the exit status is 1. A connector is only flagged unused when every
workload list of its region was read.

With --format json or yaml the result is one object with these fields (a stable
contract):

  project                 the project read
  regions                 the regions read, sorted
  workloads[]             kind (service, job or workerpool), name, workload (NAME,
                          job/NAME or workerpool/NAME), project, region, mode (none,
                          connector or direct), connector (full name or ""),
                          network, subnet (paths or ""), networkTags, egress
                          (private-ranges-only, all-traffic, or "" without VPC),
                          maxInstances (as set; 0: not set), maxScaleInstances
                          (what the address arithmetic assumes: maxInstances, or
                          the kind's default when not set: 100 for services, 1
                          for jobs and worker pools), maxScaleBlocks (the /28
                          blocks it would hold at max scale on Direct VPC egress),
                          template (the template's {mode, connector, network,
                          subnet, networkTags, egress}), templateDiffers (a
                          revision receiving traffic has other settings),
                          latestRevisionFailed (the latest revision failed to
                          start: the template's settings serve nothing)
  connectors[]            the fields of 'runnet connector describe' (name,
                          project, region, fullName, network, ipCidrRange,
                          subnet, subnetRange, state, machineType, minInstances,
                          maxInstances, ...) and exists (false for a connector
                          that workloads name but that does not exist), users[]
                          (workload, kind, name, project, region, egress,
                          maxInstances, maxScaleInstances, maxScaleBlocks, via:
                          how it uses it, e.g. "template", "revision R (100% of
                          traffic)", "revision R (tag T)", "execution E (running)"),
                          usersComplete (every workload list of its region was
                          read, and no other project is connected to it), unused
                          (exists, usersComplete and no users); what it runs,
                          carries and costs, null when unknown: instances
                          {current, peak, source} and throughput {currentMbps,
                          peakMbps, capacityMbps, source, capacitySource} from
                          Cloud Monitoring over the last 7 days, monthlyCost
                          {amount, currency, instances, perInstanceHour,
                          fallback, source} from the Cloud Billing Catalog
                          (fallback: runnet's table of list prices, used only
                          when the Catalog cannot be read; --no-cost reads no
                          price), oversized (more instances than its peak
                          needs) with oversizedReason, savingsIfMigrated
                          (what moving its workloads to Direct VPC egress saves
                          a month: its whole instance cost), useNotes (what could
                          not be read)
  subnets[]               the fields of 'runnet subnet describe' (name, project,
                          region, path, network, ipCidrRange, prefixLength, size,
                          usableIps, reservedIps, reservedSource, serverlessIps,
                          serverlessAddresses, freeIps, blocks, freeBlocks,
                          directVpcEligible, ...) and exists, users[] (as for
                          connectors), usersComplete, maxScaleInstances,
                          maxScaleBlocks, maxScaleIps (maxScaleBlocks x 16),
                          maxScalePercent (maxScaleBlocks as a share of blocks,
                          rounded up), wouldRunOut (maxScaleBlocks > blocks),
                          tight (not wouldRunOut, maxScalePercent above 80)
  findings[]              severity (error, warning or info), kind, resource (a
                          resource path), region, message. Kinds: region-error,
                          connector-unused, connector-oversized,
                          cost-fallback-prices, connector-missing,
                          connector-not-ready, subnet-would-run-out,
                          subnet-tight, subnet-missing, subnet-not-eligible,
                          subnet-reservations-without-users, api-disabled,
                          regions-built-in, workload-rollout-failed,
                          workload-template-not-serving, connector-machine-type
  errors[]                region, read (what could not be read: services, jobs,
                          worker pools, connectors, subnets, or "connector PATH"
                          or "subnet PATH" for one named by a workload), code
                          (PERMISSION_DENIED, HTTP 403, ...) and message`

// regionsAll is the --regions value for every region where Cloud Run is offered.
const regionsAll = "all"

// inventoryRegionConcurrency bounds how many regions are read at once (each region runs its
// own reads concurrently: three workload lists, connectors, subnets and addresses).
const inventoryRegionConcurrency = 8

// inventoryLookupConcurrency bounds the reads of connectors and subnets that workloads name in
// other projects (Shared VPC) or in regions whose lists failed.
const inventoryLookupConcurrency = 8

// tightSubnetPercent is the share of a subnet's /28 blocks above which its workloads at max
// scale make it tight. Assumption: during a rollout old and new revisions hold addresses at
// once (Cloud Run docs, "Direct VPC egress": IP address allocation), so a subnet that is more
// than 80% spoken for at steady max scale has little headroom for one.
const tightSubnetPercent = 80

// Finding severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

// Finding kinds (a documented, stable list; see inventoryLong).
const (
	FindingRegionError          = "region-error"
	FindingConnectorUnused      = "connector-unused"
	FindingConnectorOversized   = "connector-oversized"
	FindingCostFallback         = "cost-fallback-prices"
	FindingConnectorMissing     = "connector-missing"
	FindingConnectorNotReady    = "connector-not-ready"
	FindingSubnetWouldRunOut    = "subnet-would-run-out"
	FindingSubnetTight          = "subnet-tight"
	FindingSubnetMissing        = "subnet-missing"
	FindingSubnetNotEligible    = "subnet-not-eligible"
	FindingSubnetReservedUnused = "subnet-reservations-without-users"
	FindingAPIDisabled          = "api-disabled"
	FindingRegionsBuiltIn       = "regions-built-in"
	FindingRolloutFailed        = "workload-rollout-failed"
	FindingTemplateNotServing   = "workload-template-not-serving"
	// FindingConnectorMachineType: a connector in use runs on a machine type that can time
	// out at high packet rates (egress.CheckConnectorMachineType).
	FindingConnectorMachineType = egress.CheckConnectorMachineType
)

// InventoryOptions are the inputs of `runnet inventory`.
type InventoryOptions struct {
	f *Factory

	// Regions is --regions as given.
	Regions []string
	// Report is --report: the HTML report's file, "" for none (inventory_render.go).
	Report string
	// NoCost is --no-cost: no Cloud Billing call (connector costs unknown).
	NoCost bool

	// Filled in by complete.
	Project string
	// RegionList is the regions to read, sorted and without duplicates; empty with All.
	RegionList []string
	// All is set for --regions all.
	All bool

	// Projects, Folder and Organization read many projects (inventory_scope.go).
	Projects     []string
	Folder       string
	Organization string
	// Scope is what they name, filled in by complete; Scope.Validate() fails without them.
	Scope cloud.Scope
}

// NewCmdInventory returns `runnet inventory`. runF, if not nil, replaces the run step.
func NewCmdInventory(f *Factory, runF func(context.Context, *InventoryOptions) error) *cobra.Command {
	o := &InventoryOptions{f: f}
	cmd := &cobra.Command{
		Use:   "inventory [--regions REGION,...|all]",
		Short: "List every workload, connector and Direct VPC subnet of a project, with what needs attention",
		Long:  inventoryLong + inventoryRenderLong + inventoryScopeLong,
		Example: `  # The default region:
  runnet inventory

  # Two regions, as JSON:
  runnet inventory --regions asia-northeast1,us-central1 --format json

  # Every region; the connectors nobody uses (they cost money):
  runnet inventory --regions all --format json | jq -r '.connectors[] | select(.unused) | .fullName'

  # Subnets that would run out of addresses at max scale:
  runnet inventory --regions all --format json | jq '.subnets[] | select(.wouldRunOut) | {path, blocks, maxScaleBlocks}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			if o.scoped() {
				return o.runScope(cmd.Context())
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().StringSliceVar(&o.Regions, "regions", nil, `regions to read, comma-separated, or "all" for every region where Cloud Run is offered (default: the resolved region)`)
	_ = cmd.RegisterFlagCompletionFunc("regions", cobra.FixedCompletions([]string{regionsAll}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().BoolVar(&o.NoCost, "no-cost", false, "do not read prices from the Cloud Billing Catalog (connector costs are then unknown)")
	addInventoryRenderFlags(cmd, o)
	addInventoryScopeFlags(cmd, o)
	return cmd
}

// complete resolves the project and checks --regions (or the default region), before any API
// call.
func (o *InventoryOptions) complete(cmd *cobra.Command) error {
	o.RegionList, o.All = nil, false
	if err := o.checkReportFlag(cmd); err != nil {
		return err
	}
	if handled, err := o.completeScope(cmd); handled || err != nil {
		return err
	}
	if cmd.Flags().Changed("regions") {
		if o.f.Options.Region != "" {
			return exitcode.Usagef("--regions: give the regions to read with --regions only, not with --region too (--region %s --regions %s)",
				o.f.Options.Region, strings.Join(o.Regions, ","))
		}
		regions, all, err := ParseRegionsFlag(o.Regions)
		if err != nil {
			return err
		}
		o.RegionList, o.All = regions, all
	}
	project, err := o.f.Project()
	if err != nil {
		return err
	}
	o.Project = project
	if !cmd.Flags().Changed("regions") {
		region, err := o.f.Region()
		if err != nil {
			return err
		}
		if err := egress.ValidateRegion(region); err != nil {
			return usageErr("--region", err)
		}
		o.RegionList = []string{region}
	}
	return nil
}

// ParseRegionsFlag checks the values of --regions: region names (us-central1), or "all"
// alone. It returns the regions sorted and without duplicates, or all.
func ParseRegionsFlag(values []string) (regions []string, all bool, err error) {
	if len(values) == 0 {
		return nil, false, exitcode.Usagef(`--regions: no region given; valid: a comma-separated list of regions such as asia-northeast1,us-central1, or "all"`)
	}
	for _, v := range values {
		r := strings.TrimSpace(v)
		switch {
		case strings.EqualFold(r, regionsAll):
			all = true
			continue
		case r == "":
			return nil, false, exitcode.Usagef(`--regions: empty region name in %q; valid: a comma-separated list of regions such as asia-northeast1,us-central1, or "all"`, strings.Join(values, ","))
		}
		if err := egress.ValidateRegion(r); err != nil {
			return nil, false, usageErr("--regions", err)
		}
		regions = append(regions, r)
	}
	if all && len(regions) > 0 {
		return nil, false, exitcode.Usagef(`--regions: "all" already means every region; give "all" alone or a list of regions, not both`)
	}
	if all {
		return nil, true, nil
	}
	sort.Strings(regions)
	return slices.Compact(regions), false, nil
}

// ---------------------------------------------------------------------------------------
// The result.

// Inventory is what `runnet inventory` prints. JSON field names are a documented, stable
// contract (see inventoryLong).
type Inventory struct {
	Project    string               `json:"project"`
	Regions    []string             `json:"regions"`
	Workloads  []InventoryWorkload  `json:"workloads"`
	Connectors []InventoryConnector `json:"connectors"`
	Subnets    []InventorySubnet    `json:"subnets"`
	Findings   []Finding            `json:"findings"`
	Errors     []InventoryError     `json:"errors"`
}

// InventoryWorkload is one workload of the inventory.
type InventoryWorkload struct {
	Workload          string   `json:"workload"`
	Kind              string   `json:"kind"`
	Name              string   `json:"name"`
	Project           string   `json:"project"`
	Region            string   `json:"region"`
	Mode              string   `json:"mode"`
	Connector         string   `json:"connector"`
	Network           string   `json:"network"`
	Subnet            string   `json:"subnet"`
	NetworkTags       []string `json:"networkTags"`
	Egress            string   `json:"egress"`
	MaxInstances      int      `json:"maxInstances"`
	MaxScaleInstances int      `json:"maxScaleInstances"`
	MaxScaleBlocks    int      `json:"maxScaleBlocks"`
	// Template is the template's settings; TemplateDiffers is set when a revision that
	// receives traffic has others; LatestRevisionFailed when the latest revision failed.
	Template             VPCStatus `json:"template"`
	TemplateDiffers      bool      `json:"templateDiffers"`
	LatestRevisionFailed bool      `json:"latestRevisionFailed"`
}

// InventoryUser is a workload that uses a connector or a subnet.
type InventoryUser struct {
	Workload          string `json:"workload"`
	Kind              string `json:"kind"`
	Name              string `json:"name"`
	Project           string `json:"project"`
	Region            string `json:"region"`
	Egress            string `json:"egress"`
	MaxInstances      int    `json:"maxInstances"`
	MaxScaleInstances int    `json:"maxScaleInstances"`
	MaxScaleBlocks    int    `json:"maxScaleBlocks"`
	// Via says how it uses the connector or subnet: "template", "revision R (100% of
	// traffic)", "revision R (tag T)", "execution E (running)".
	Via []string `json:"via"`
}

// InventoryConnector is a connector with the workloads that use it.
type InventoryConnector struct {
	ConnectorView
	Exists        bool            `json:"exists"`
	Users         []InventoryUser `json:"users"`
	UsersComplete bool            `json:"usersComplete"`
	Unused        bool            `json:"unused"`
	// ConnectorUse is what it runs, carries and costs (connector_use.go).
	ConnectorUse
}

// InventorySubnet is a subnet used by Direct VPC egress, with what its workloads could claim
// at max scale.
type InventorySubnet struct {
	*cloud.Subnet
	Exists            bool            `json:"exists"`
	Users             []InventoryUser `json:"users"`
	UsersComplete     bool            `json:"usersComplete"`
	MaxScaleInstances int             `json:"maxScaleInstances"`
	MaxScaleBlocks    int             `json:"maxScaleBlocks"`
	MaxScaleIPs       int             `json:"maxScaleIps"`
	MaxScalePercent   int             `json:"maxScalePercent"`
	WouldRunOut       bool            `json:"wouldRunOut"`
	Tight             bool            `json:"tight"`
}

// Finding is something in the inventory that needs attention.
type Finding struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Resource string `json:"resource"`
	Region   string `json:"region"`
	Message  string `json:"message"`
}

// InventoryError is a read that failed.
type InventoryError struct {
	Region  string `json:"region"`
	Read    string `json:"read"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ---------------------------------------------------------------------------------------
// Reading.

// regionRead is everything read in one region.
type regionRead struct {
	region       string
	workloads    []*cloud.Workload
	workloadErrs []error
	// serving is what serves each workload (nil when it could not be read: servingErr).
	serving    []*egress.ServingState
	servingErr error
	connectors []*cloud.Connector
	connErr    error
	subnets    []*cloud.Subnet
	subnetErr  error
}

// readRegion reads a region's workloads, connectors and subnets (with addresses), all at once.
func readRegion(ctx context.Context, c *cloud.Clients, project, region string) *regionRead {
	rr := &regionRead{region: region}
	var wg sync.WaitGroup
	wg.Go(func() { rr.connectors, rr.connErr = c.ListConnectors(ctx, project, region) })
	wg.Go(func() { rr.subnets, rr.subnetErr = c.ListSubnets(ctx, project, region) })
	rr.workloads, rr.workloadErrs = c.ScanWorkloads(ctx, project, region)
	rr.serving, rr.servingErr = c.ServingStates(ctx, rr.workloads)
	wg.Wait()
	return rr
}

// readRegions reads regions concurrently, inventoryRegionConcurrency at a time, and returns
// the reads in the order of regions.
func readRegions(ctx context.Context, c *cloud.Clients, project string, regions []string) []*regionRead {
	out := make([]*regionRead, len(regions))
	sem := make(chan struct{}, inventoryRegionConcurrency)
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = readRegion(ctx, c, project, r)
		})
	}
	wg.Wait()
	return out
}

func (o *InventoryOptions) run(ctx context.Context) error {
	out, err := o.output()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	b := newInventoryBuilder(o.Project)
	b.use, b.noCost = true, o.NoCost
	regions := o.RegionList
	if o.All {
		rs, src, err := c.RunRegions(ctx, o.Project)
		if err != nil {
			return fmt.Errorf("list the regions where Cloud Run is offered: %w", err)
		}
		if src == cloud.RegionsBuiltIn {
			b.find(SeverityInfo, FindingRegionsBuiltIn, "projects/"+o.Project, "",
				"neither Cloud Run nor Serverless VPC Access lists its locations here; runnet read its built-in list of %d Cloud Run regions", len(rs))
		}
		o.f.IOStreams.Verbosef("Reading %d regions (from %s).", len(rs), src)
		regions = rs
	}
	done := o.startReading(len(regions))
	reads := readRegions(ctx, c, o.Project, regions)
	inv := b.build(ctx, c, reads)
	done()
	if err := ctx.Err(); err != nil {
		return err // interrupted: the reads that failed say nothing about the project
	}
	if err := o.render(ctx, c, out, inv); err != nil {
		return err
	}
	if len(inv.Errors) > 0 {
		var failed []string
		for _, e := range inv.Errors {
			if !slices.Contains(failed, e.Region) {
				failed = append(failed, e.Region)
			}
		}
		return exitcode.Errorf(exitcode.Failure, "the inventory is incomplete: %d region%s could not be read completely (%s); the errors are listed in the output",
			len(failed), netPlural(len(failed)), strings.Join(failed, ", "))
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Building.

// inventoryBuilder assembles an Inventory from the region reads.
type inventoryBuilder struct {
	project  string
	findings []Finding
	errors   []InventoryError
	// scope, for an inventory of many projects (inventory_scope.go), holds them all;
	// incomplete is set when some of them could not be read, so that no connector is
	// flagged unused.
	scope      map[string]bool
	incomplete bool
	// use makes build read what each connector runs, carries and (unless noCost) costs.
	use, noCost bool
}

// inScope reports whether the inventory reads project's workloads.
func (b *inventoryBuilder) inScope(project string) bool {
	return project == b.project || b.scope[project]
}

func newInventoryBuilder(project string) *inventoryBuilder {
	return &inventoryBuilder{project: project}
}

func (b *inventoryBuilder) find(severity, kind, resource, region, format string, args ...any) {
	b.findings = append(b.findings, Finding{Severity: severity, Kind: kind, Resource: resource, Region: region, Message: fmt.Sprintf(format, args...)})
}

func (b *inventoryBuilder) fail(region, read string, err error) {
	b.errors = append(b.errors, InventoryError{Region: region, Read: read, Code: cloud.ErrorCode(err), Message: err.Error()})
}

// wref is a workload as the builder sees it: its row, its canonical serving VPC, and what
// serves it.
type wref struct {
	row     InventoryWorkload
	vpc     egress.VPC
	serving *egress.ServingState
}

// user is the workload as a user of the connector or subnetwork named (a full name or path).
func (w *wref) user(resource string) InventoryUser {
	r := w.row
	egr := r.Egress
	if egr == "" {
		egr = string(egress.EgressPrivateRangesOnly)
	}
	return InventoryUser{
		Workload: r.Workload, Kind: r.Kind, Name: r.Name, Project: r.Project, Region: r.Region, Egress: egr,
		MaxInstances: r.MaxInstances, MaxScaleInstances: r.MaxScaleInstances, MaxScaleBlocks: r.MaxScaleBlocks,
		Via: w.via(resource),
	}
}

// via says how the workload uses the connector or subnetwork named.
func (w *wref) via(resource string) []string {
	s, ref := w.serving, w.serving.Ref
	uses := func(v egress.VPC) bool {
		c, err := v.Canonical(ref.Project, ref.Region)
		return err == nil && ((c.Connector != "" && c.Connector == resource) || (c.Subnet != "" && c.Subnet == resource))
	}
	out := []string{}
	template := uses(s.Template)
	if template {
		out = append(out, "template")
	}
	for _, r := range s.Revisions {
		if !uses(r.VPC) || (r.Latest && template) {
			continue
		}
		u := egress.ConnectorUser{Workload: ref, Revision: r.Name, Percent: r.Percent, Tags: r.Tags}
		out = append(out, u.Via())
	}
	for _, e := range s.Executions {
		if uses(e.VPC) {
			out = append(out, "execution "+e.Name+", running")
		}
	}
	return out
}

func inventoryWorkload(w *cloud.Workload, serving *egress.ServingState) *wref {
	ref := w.Ref
	if serving == nil {
		serving = templateServing(w)
	}
	sv := serving.VPC()
	vpc, err := sv.Canonical(ref.Project, ref.Region)
	if err != nil {
		vpc = sv // a name runnet cannot parse: shown as the API holds it
	}
	maxScale := w.EffectiveMaxInstances()
	row := InventoryWorkload{
		Workload: ref.String(), Kind: string(ref.Kind), Name: ref.Name, Project: ref.Project, Region: ref.Region,
		Mode: string(vpc.Mode()), Connector: vpc.Connector, Network: vpc.Network, Subnet: vpc.Subnet,
		NetworkTags: append([]string{}, vpc.Tags...), MaxInstances: w.MaxInstances,
		MaxScaleInstances: maxScale, MaxScaleBlocks: ipam.BlocksForInstances(maxScale),
		Template: newVPCStatus(serving.Template, ref), TemplateDiffers: serving.TemplateDiffers(), LatestRevisionFailed: serving.LatestFailed,
	}
	if vpc.Mode() != egress.ModeNone {
		row.Egress = vpc.Egress.String()
	}
	return &wref{row: row, vpc: vpc, serving: serving}
}

// regionOf returns the region of a path projects/P/(locations|regions)/R/...
func pathRegion(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) >= 4 && parts[0] == "projects" {
		return parts[3]
	}
	return ""
}

func pathProject(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) >= 2 && parts[0] == "projects" {
		return parts[1]
	}
	return ""
}

// build assembles the inventory: workloads, the reverse maps from connectors and subnets to
// their users, a lookup of the connectors and subnets that workloads name but the region
// lists did not hold, and the findings.
func (b *inventoryBuilder) build(ctx context.Context, c *cloud.Clients, reads []*regionRead) Inventory {
	inv := Inventory{
		Project: b.project, Regions: []string{}, Workloads: []InventoryWorkload{},
		Connectors: []InventoryConnector{}, Subnets: []InventorySubnet{},
	}
	sort.Slice(reads, func(i, j int) bool { return reads[i].region < reads[j].region })

	// What each region's reads say.
	workloadsComplete := map[string]bool{} // region -> every workload list read
	connectorsListed := map[string]bool{}  // region -> its connector list read
	subnetsListed := map[string]bool{}     // region -> its subnet list read
	var vpcDisabled, computeDisabled []string
	var refs []*wref
	conns := map[string]*InventoryConnector{} // full name -> connector
	subnets := map[string]*InventorySubnet{}  // path -> subnet
	regionResource := func(r string) string { return "projects/" + b.project + "/locations/" + r }
	for _, rr := range reads {
		inv.Regions = append(inv.Regions, rr.region)
		var failures []string
		for _, err := range rr.workloadErrs {
			read := "workloads"
			var le *cloud.WorkloadListError
			if errors.As(err, &le) {
				read = kindPlural(le.Kind)
			}
			b.fail(rr.region, read, err)
			failures = append(failures, read)
		}
		workloadsComplete[rr.region] = len(rr.workloadErrs) == 0 && !b.incomplete
		switch {
		case rr.connErr == nil:
			connectorsListed[rr.region] = true
		case cloud.IsServiceDisabled(rr.connErr):
			connectorsListed[rr.region] = true // no connector can exist there
			vpcDisabled = append(vpcDisabled, rr.region)
		default:
			b.fail(rr.region, "connectors", rr.connErr)
			failures = append(failures, "connectors")
		}
		switch {
		case rr.subnetErr == nil:
			subnetsListed[rr.region] = true
		case cloud.IsServiceDisabled(rr.subnetErr):
			computeDisabled = append(computeDisabled, rr.region)
		default:
			b.fail(rr.region, "subnets", rr.subnetErr)
			failures = append(failures, "subnets")
		}
		if len(failures) > 0 {
			msg := fmt.Sprintf("region %s could not be read completely: %s failed (see errors)", rr.region, strings.Join(failures, ", "))
			if !workloadsComplete[rr.region] {
				msg += "; its connectors are not flagged unused and its subnets' users may be incomplete"
			}
			b.find(SeverityError, FindingRegionError, regionResource(rr.region), rr.region, "%s", msg)
		}
		if rr.servingErr != nil {
			b.fail(rr.region, "revisions", rr.servingErr)
			b.find(SeverityError, FindingRegionError, regionResource(rr.region), rr.region,
				"region %s: the revisions that serve its workloads could not be read (see errors); their modes are their templates' and their connectors are not flagged unused", rr.region)
			workloadsComplete[rr.region] = false
		}
		for i, w := range rr.workloads {
			var s *egress.ServingState
			if rr.servingErr == nil && i < len(rr.serving) {
				s = rr.serving[i]
			}
			refs = append(refs, inventoryWorkload(w, s))
		}
		subnetPaths := map[string]*cloud.Subnet{}
		for _, s := range rr.subnets {
			subnetPaths[s.Path] = s
		}
		for _, cn := range rr.connectors {
			v := ConnectorView{Connector: cn}
			if s := subnetPaths[cn.SubnetPath()]; s != nil {
				v.SubnetRange = s.IPCIDRRange
				if v.Network == "" {
					v.Network = s.NetworkPath
				}
			}
			conns[cn.FullName] = &InventoryConnector{ConnectorView: v, Exists: true, Users: []InventoryUser{}}
		}
		for _, s := range rr.subnets {
			// Subnets join the inventory when a workload names them, or when Cloud Run holds
			// addresses in them.
			if s.ServerlessIPs > 0 {
				subnets[s.Path] = &InventorySubnet{Subnet: s, Exists: true, Users: []InventoryUser{}}
			}
		}
		// Keep every listed subnet reachable for the users below.
		for _, s := range rr.subnets {
			if _, ok := subnets[s.Path]; !ok {
				subnets[s.Path] = &InventorySubnet{Subnet: s, Exists: true}
			}
		}
	}
	if len(vpcDisabled) > 0 {
		b.find(SeverityInfo, FindingAPIDisabled, "projects/"+b.project, "",
			"the Serverless VPC Access API is not enabled in project %s (read in %s): it has no connectors", b.project, strings.Join(vpcDisabled, ", "))
	}
	if len(computeDisabled) > 0 {
		b.find(SeverityInfo, FindingAPIDisabled, "projects/"+b.project, "",
			"the Compute Engine API is not enabled in project %s (read in %s): it has no subnets", b.project, strings.Join(computeDisabled, ", "))
	}

	// Workloads, and the users of each connector and subnet.
	type lookup struct {
		users []*wref
	}
	missingConns := map[string]*lookup{}
	missingSubnets := map[string]*lookup{}
	for _, w := range refs {
		inv.Workloads = append(inv.Workloads, w.row)
		b.workloadFindings(w)
		// Every connector and subnetwork the workload uses: its template's, and those of its
		// serving revisions and running executions.
		for _, path := range w.serving.Connectors() {
			if cn := conns[path]; cn != nil {
				cn.Users = append(cn.Users, w.user(path))
				continue
			}
			l := missingConns[path]
			if l == nil {
				l = &lookup{}
				missingConns[path] = l
			}
			l.users = append(l.users, w)
		}
		for _, path := range w.serving.Subnets() {
			if s := subnets[path]; s != nil {
				if s.Users == nil {
					s.Users = []InventoryUser{}
				}
				s.Users = append(s.Users, w.user(path))
				continue
			}
			l := missingSubnets[path]
			if l == nil {
				l = &lookup{}
				missingSubnets[path] = l
			}
			l.users = append(l.users, w)
		}
	}

	// Connectors and subnets that workloads name but no list held: in another project
	// (Shared VPC), in a region whose list failed, or gone.
	type job struct {
		path      string
		connector bool
		users     []*wref
		conn      *cloud.Connector
		subnet    *cloud.Subnet
		err       error
		apiOff    bool // its project has the API disabled: not read, and unusable
	}
	var jobs []*job
	var missing []*job
	for path, l := range missingConns {
		j := &job{path: path, connector: true, users: l.users}
		if b.inScope(pathProject(path)) && connectorsListed[pathRegion(path)] {
			missing = append(missing, j) // its region's list was read: it does not exist
		} else {
			jobs = append(jobs, j)
		}
	}
	for path, l := range missingSubnets {
		j := &job{path: path, users: l.users}
		if b.inScope(pathProject(path)) && subnetsListed[pathRegion(path)] {
			missing = append(missing, j)
		} else {
			jobs = append(jobs, j)
		}
	}
	byPath := func(a, z *job) int { return strings.Compare(a.path, z.path) }
	slices.SortFunc(jobs, byPath)
	sem := make(chan struct{}, inventoryLookupConcurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if j.connector {
				ref, err := egress.ParseConnectorRef(j.path, "", "")
				if err != nil {
					j.err = err
					return
				}
				j.conn, j.err = c.GetConnector(ctx, ref)
				return
			}
			ref, err := egress.ParseSubnetRef(j.path, "", "")
			if err != nil {
				j.err = err
				return
			}
			j.subnet, j.err = c.GetSubnet(ctx, ref)
		})
	}
	wg.Wait()
	for _, j := range jobs {
		switch {
		case j.err == nil && j.connector:
			conns[j.conn.FullName] = &InventoryConnector{ConnectorView: ConnectorView{Connector: j.conn}, Exists: true, Users: users(j.users, j.path)}
		case j.err == nil:
			subnets[j.subnet.Path] = &InventorySubnet{Subnet: j.subnet, Exists: true, Users: users(j.users, j.path)}
		case cloud.IsNotFound(j.err) || cloud.IsComputeNotFound(j.err):
			missing = append(missing, j)
		case cloud.IsServiceDisabled(j.err):
			j.apiOff = true
			missing = append(missing, j)
		default:
			what := "subnet " + j.path
			if j.connector {
				what = "connector " + j.path
			}
			region := j.users[0].row.Region
			b.fail(region, what, j.err)
			b.find(SeverityError, FindingRegionError, j.path, region, "%s, used by %s, could not be read (see errors)", what, describeWrefs(j.users))
		}
	}
	slices.SortFunc(missing, byPath)
	for _, j := range missing {
		if j.connector {
			ref, err := egress.ParseConnectorRef(j.path, "", "")
			if err != nil {
				continue
			}
			cn := &cloud.Connector{Name: ref.Name, Project: ref.Project, Region: ref.Region, FullName: ref.FullName()}
			conns[j.path] = &InventoryConnector{ConnectorView: ConnectorView{Connector: cn}, Users: users(j.users, j.path)}
			state := "does not exist"
			if j.apiOff || (ref.Project == b.project && slices.Contains(vpcDisabled, ref.Region)) {
				// Not read, not known to be gone: Cloud Run cannot use it either way.
				state = "cannot be used: the Serverless VPC Access API is not enabled in project " + ref.Project
			}
			b.find(SeverityError, FindingConnectorMissing, j.path, ref.Region,
				"connector %s %s, yet %s use%s it: %s next deploy fails (\"VPC connector %s does not exist, or Cloud Run does not have permission to use it\"); move %s with 'runnet attach' or 'runnet migrate'",
				ref.Name, state, describeWrefs(j.users), verbS(len(j.users)), possessive(len(j.users)), j.path, netPronoun(len(j.users)))
			continue
		}
		ref, err := egress.ParseSubnetRef(j.path, "", "")
		if err != nil {
			continue
		}
		s := &cloud.Subnet{Name: ref.Name, Project: ref.Project, Region: ref.Region, Path: ref.Path()}
		subnets[j.path] = &InventorySubnet{Subnet: s, Users: users(j.users, j.path)}
		state := "does not exist"
		if j.apiOff {
			state = "cannot be used: the Compute Engine API is not enabled in project " + ref.Project
		}
		b.find(SeverityError, FindingSubnetMissing, j.path, ref.Region,
			"subnet %s %s, yet %s use%s it for Direct VPC egress: %s next deploy fails; move %s to an existing subnet with 'runnet attach'",
			ref.Name, state, describeWrefs(j.users), verbS(len(j.users)), possessive(len(j.users)), netPronoun(len(j.users)))
	}

	// Connectors: sorted, flagged.
	for _, cn := range conns {
		cn.UsersComplete = cn.Exists && workloadsComplete[cn.Region] && b.inScope(cn.Project) && !b.otherProjectsConnected(cn.Connector)
		cn.Unused = cn.Exists && cn.UsersComplete && len(cn.Users) == 0
		inv.Connectors = append(inv.Connectors, *cn)
	}
	sort.Slice(inv.Connectors, func(i, j int) bool {
		a, z := inv.Connectors[i], inv.Connectors[j]
		if a.Region != z.Region {
			return a.Region < z.Region
		}
		if a.Name != z.Name {
			return a.Name < z.Name
		}
		return a.Project < z.Project
	})
	if b.use && c != nil {
		readConnectorUses(ctx, c, inv.Connectors, b.noCost)
	}
	for _, cn := range inv.Connectors {
		b.connectorFindings(cn)
	}
	b.costFindings(inv.Connectors)

	// Subnets: those with users or reservations, sorted, with the max-scale arithmetic.
	for _, s := range subnets {
		if s.Users == nil {
			continue // listed, but neither named by a workload nor holding reservations
		}
		s.UsersComplete = s.Exists && b.inScope(s.Project) && workloadsComplete[s.Region]
		for _, u := range s.Users {
			s.MaxScaleInstances += u.MaxScaleInstances
			s.MaxScaleBlocks += u.MaxScaleBlocks
		}
		s.MaxScaleIPs = s.MaxScaleBlocks * ipam.DirectVPCBlockSize
		if s.Exists {
			switch {
			case s.Blocks > 0:
				s.MaxScalePercent = (s.MaxScaleBlocks*100 + s.Blocks - 1) / s.Blocks
			case s.MaxScaleBlocks > 0:
				s.MaxScalePercent = 100 * s.MaxScaleBlocks // no block at all: any use is over
			}
			s.WouldRunOut = s.MaxScaleBlocks > s.Blocks
			s.Tight = !s.WouldRunOut && s.MaxScaleBlocks*100 > tightSubnetPercent*s.Blocks
		}
		inv.Subnets = append(inv.Subnets, *s)
	}
	sort.Slice(inv.Subnets, func(i, j int) bool {
		a, z := inv.Subnets[i], inv.Subnets[j]
		if a.Region != z.Region {
			return a.Region < z.Region
		}
		if a.Name != z.Name {
			return a.Name < z.Name
		}
		return a.Project < z.Project
	})
	for _, s := range inv.Subnets {
		b.subnetFindings(s)
	}

	inv.Findings = sortFindings(b.findings)
	inv.Errors = b.errors
	if inv.Errors == nil {
		inv.Errors = []InventoryError{}
	}
	sort.SliceStable(inv.Errors, func(i, j int) bool { return inv.Errors[i].Region < inv.Errors[j].Region })
	return inv
}

// costFindings says once when connector costs come from runnet's fallback table.
func (b *inventoryBuilder) costFindings(conns []InventoryConnector) {
	var names []string
	why := ""
	for _, cn := range conns {
		if cn.MonthlyCost != nil && cn.MonthlyCost.Fallback {
			names = append(names, cn.Name)
			why = cn.MonthlyCost.Source
		}
	}
	if len(names) > 0 {
		b.find(SeverityInfo, FindingCostFallback, "", "", "the costs of %s (marked *) are estimates from %s", strings.Join(names, ", "), why)
	}
}

// workloadFindings flags a workload whose template's settings serve nothing: its latest
// revision failed, or its traffic is pinned to revisions with other settings.
func (b *inventoryBuilder) workloadFindings(w *wref) {
	s, r := w.serving, w.row
	ref := s.Ref
	switch {
	case s.LatestFailed:
		why := s.LatestFailure
		if why == "" {
			why = "it did not become ready"
		}
		b.find(SeverityError, FindingRolloutFailed, ref.FullName(), r.Region,
			"the latest revision of %s %s, %s (%s), failed: %s; %s keeps serving. Fix the settings with 'runnet attach %s' or 'runnet migrate %s'",
			ref.Kind, ref, s.LatestCreated, r.Template.short(), oneLine(why), s.Describe(), ref, ref)
	case s.TemplateDiffers():
		if s.TemplateShare() > 0 {
			return // a split in progress (a canary): it shows in the workload's row
		}
		b.find(SeverityWarning, FindingTemplateNotServing, ref.FullName(), r.Region,
			"%s %s asks for %s in its template, but its traffic goes to %s; move it with 'runnet migrate %s --to %s' (or 'gcloud run services update-traffic %s --to-latest')",
			ref.Kind, ref, r.Template.short(), s.Describe(), ref, r.Template.Mode, ref.Name)
	}
}

func (b *inventoryBuilder) connectorFindings(cn InventoryConnector) {
	if !cn.Exists {
		return
	}
	// The commands name a connector of another project (a Shared VPC host's, or any in an
	// inventory of many projects) by its full name: its short name would be looked up in the
	// caller's project, where it does not exist.
	ref, where := cn.Name, " --region "+cn.Region
	if cn.Project != b.project {
		ref, where = cn.FullName, ""
	}
	users := describeUsersShort(projectQualifiedUsers(cn.Users, b.project))
	if cn.Unused {
		b.find(SeverityWarning, FindingConnectorUnused, cn.FullName, cn.Region,
			"connector %s (%s, %s, %d to %d instances) is used by no workload, yet it keeps at least %d %s instance%s running and they are billed; delete it with 'runnet connector delete %s%s' unless something outside Cloud Run uses it",
			cn.Name, orDash(cn.State), orDash(cn.MachineType), cn.MinInstances, cn.MaxInstances, cn.MinInstances, orDash(cn.MachineType), netPlural(cn.MinInstances), ref, where)
	}
	if cn.Oversized {
		b.find(SeverityWarning, FindingConnectorOversized, cn.FullName, cn.Region, "connector %s %s%s", cn.Name, cn.OversizedReason, oversizedRemedies(cn, ref))
	}
	if len(cn.Users) == 0 {
		return
	}
	if c := egress.ConnectorMachineTypeCheck(cn.Name, cn.MachineType); c.Status == egress.StatusWarn {
		hint := c.Hint
		if ref != cn.Name {
			hint = strings.Replace(hint, "(connector update "+cn.Name+" ", "(runnet connector update "+ref+" ", 1)
		}
		b.find(SeverityWarning, FindingConnectorMachineType, cn.FullName, cn.Region, "%s, and %s use%s it; %s",
			c.Message, users, verbS(len(cn.Users)), hint)
	}
	switch cn.State {
	case cloud.ConnectorError, cloud.ConnectorDeleting:
		b.find(SeverityError, FindingConnectorNotReady, cn.FullName, cn.Region,
			"connector %s is %s, yet %s use%s it: %s VPC access fails or will fail; move %s with 'runnet migrate' or 'runnet attach'",
			cn.Name, cn.State, users, verbS(len(cn.Users)), possessive(len(cn.Users)), netPronoun(len(cn.Users)))
	}
}

// oversizedRemedies says what makes an oversized connector smaller, only what would (a
// recycle, with a lower minimum when the connector's own is above what the peak needs, when it
// runs too many instances), and what moving its workloads to Direct VPC egress saves, when the
// price is known.
func oversizedRemedies(cn InventoryConnector, ref string) string {
	sz := cn.sizing
	var fixes []string
	if cn.Instances != nil && sz.NeededInstances > 0 && cn.Instances.Current > sz.NeededInstances {
		fix := "'runnet connector recycle " + ref
		if cn.MinInstances > sz.NeededInstances {
			fix += fmt.Sprintf(" --min-instances %d", sz.NeededInstances)
		}
		fixes = append(fixes, fix+"' for fewer instances")
	}
	var s string
	if len(fixes) > 0 {
		s = " (" + strings.Join(fixes, ", or ") + ")"
	}
	if cn.SavingsIfMigrated != nil {
		s += fmt.Sprintf("; moving its workloads to Direct VPC egress would save %s a month", cn.SavingsIfMigrated)
	}
	return s
}

func (b *inventoryBuilder) subnetFindings(s InventorySubnet) {
	if !s.Exists {
		return
	}
	if len(s.Users) == 0 {
		b.find(SeverityInfo, FindingSubnetReservedUnused, s.Path, s.Region,
			"Cloud Run holds %d address%s in subnet %s (%d reservation%s) that no workload's template in project %s uses: an older revision still serving, a workload of another project, or reservations waiting out their release (up to 1-2 hours after the last instance stops)",
			s.ServerlessIPs, pluralES(int(s.ServerlessIPs)), s.Name, len(s.ServerlessAddresses), netPlural(len(s.ServerlessAddresses)), b.project)
		return
	}
	if p, err := netip.ParsePrefix(s.IPCIDRRange); err == nil {
		if err := ipam.ValidateDirectVPCSubnet(p.Masked()); err != nil {
			b.find(SeverityError, FindingSubnetNotEligible, s.Path, s.Region,
				"subnet %s, used by %s for Direct VPC egress, cannot serve it: %v", s.Name, describeUsersShort(s.Users), err)
		}
	}
	switch {
	case s.WouldRunOut:
		b.find(SeverityError, FindingSubnetWouldRunOut, s.Path, s.Region,
			"subnet %s (%s: %d usable addresses, %d blocks of %d) would run out at max scale: its workloads could claim %d blocks (%d addresses: %s); the instances that do not fit fail to start with \"insufficient free IP addresses\". Move workloads to a larger subnet (size one with '%s') or lower their max instances",
			s.Name, s.IPCIDRRange, s.UsableIPs, s.Blocks, ipam.DirectVPCBlockSize, s.MaxScaleBlocks, s.MaxScaleIPs, describeBlocks(s.Users), planCommand(s.Users))
	case s.Tight:
		b.find(SeverityWarning, FindingSubnetTight, s.Path, s.Region,
			"subnet %s (%s) is tight: its workloads at max scale could claim %d of its %d blocks (%d%%: %s), leaving little room for a rollout, when old and new revisions hold addresses at once",
			s.Name, s.IPCIDRRange, s.MaxScaleBlocks, s.Blocks, s.MaxScalePercent, describeBlocks(s.Users))
	}
}

// planCommand is the `runnet subnet plan` that sizes a subnet for users: the largest user's
// instances for each of them (an upper bound when they differ).
func planCommand(us []InventoryUser) string {
	most := 0
	for _, u := range us {
		most = max(most, u.MaxScaleInstances)
	}
	if len(us) == 1 {
		return fmt.Sprintf("runnet subnet plan --max-instances %d", most)
	}
	return fmt.Sprintf("runnet subnet plan --max-instances %d --workloads %d", most, len(us))
}

// otherProjectsConnected reports whether the API says projects the inventory does not read
// use the connector (Shared VPC): their workloads are not in the inventory.
func (b *inventoryBuilder) otherProjectsConnected(cn *cloud.Connector) bool {
	for _, p := range cn.ConnectedProjects {
		if !b.inScope(p) {
			return true
		}
	}
	return false
}

var severityRank = map[string]int{SeverityError: 0, SeverityWarning: 1, SeverityInfo: 2}

// sortFindings orders findings by severity, then kind, region and resource.
func sortFindings(fs []Finding) []Finding {
	out := append([]Finding{}, fs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, z := out[i], out[j]
		if severityRank[a.Severity] != severityRank[z.Severity] {
			return severityRank[a.Severity] < severityRank[z.Severity]
		}
		if a.Kind != z.Kind {
			return a.Kind < z.Kind
		}
		if a.Region != z.Region {
			return a.Region < z.Region
		}
		return a.Resource < z.Resource
	})
	return out
}

func users(ws []*wref, resource string) []InventoryUser {
	out := make([]InventoryUser, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.user(resource))
	}
	return out
}

func kindPlural(k egress.Kind) string {
	switch k {
	case egress.KindWorkerPool:
		return "worker pools"
	case egress.KindJob:
		return "jobs"
	}
	return "services"
}

// describeWrefs names workloads for a message: "service run-service, job/nightly-export".
func describeWrefs(ws []*wref) string {
	us := make([]InventoryUser, 0, len(ws))
	for _, w := range ws {
		us = append(us, w.user(""))
	}
	return describeUsersShort(us)
}

// describeUsersShort names users for a message, at most five, then how many more.
func describeUsersShort(us []InventoryUser) string {
	const most = 5
	names := make([]string, 0, min(len(us), most))
	for i, u := range us {
		if i == most {
			names = append(names, fmt.Sprintf("and %d more", len(us)-most))
			break
		}
		name := u.Workload
		if len(u.Via) > 0 && !slices.Equal(u.Via, []string{"template"}) {
			name += " (" + strings.Join(u.Via, "; ") + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// describeBlocks says what each user claims: "run-service 10 instances -> 2 blocks, ...".
func describeBlocks(us []InventoryUser) string {
	const most = 5
	parts := make([]string, 0, min(len(us), most))
	for i, u := range us {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(us)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d instance%s -> %d block%s", u.Workload, u.MaxScaleInstances, netPlural(u.MaxScaleInstances), u.MaxScaleBlocks, netPlural(u.MaxScaleBlocks)))
	}
	return strings.Join(parts, ", ")
}

func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func possessive(n int) string {
	if n == 1 {
		return "its"
	}
	return "their"
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---------------------------------------------------------------------------------------
// Table output.

// WriteText renders the inventory as four sections: WORKLOADS, CONNECTORS, DIRECT VPC SUBNETS
// and FINDINGS (then ERRORS, when a read failed).
func (inv Inventory) WriteText(w io.Writer) error { return inv.writeText(w, false) }

// writeText is WriteText, with usage bars in the subnets' blocks with bars (for a terminal).
func (inv Inventory) writeText(w io.Writer, bars bool) error {
	tw := &sectionWriter{w: w}
	tw.section(fmt.Sprintf("WORKLOADS (%d in %s)", len(inv.Workloads), describeRegions(inv.Regions)),
		[]string{"kind", "name", "region", "mode", "vpc", "egress", "max instances"}, inv.workloadRows())
	tw.section(fmt.Sprintf("CONNECTORS (%d)", len(inv.Connectors)),
		[]string{"name", "region", "state", "machine type", "min", "max", "instances", "peak", "monthly cost", "users"}, inv.connectorRows())
	tw.section(fmt.Sprintf("DIRECT VPC SUBNETS (%d)", len(inv.Subnets)),
		[]string{"name", "region", "network", "range", "usable", "reserved", "max-scale ips", "blocks at max scale", "users"}, inv.subnetRows(bars))
	tw.section(fmt.Sprintf("FINDINGS (%d)", len(inv.Findings)),
		[]string{"severity", "kind", "message"}, inv.findingRows())
	if len(inv.Errors) > 0 {
		tw.section(fmt.Sprintf("ERRORS (%d)", len(inv.Errors)), []string{"region", "read", "code", "message"}, inv.errorRows())
	}
	return tw.err
}

func describeRegions(rs []string) string {
	if len(rs) == 1 {
		return rs[0]
	}
	return fmt.Sprintf("%d regions", len(rs))
}

func (inv Inventory) workloadRows() [][]string {
	rows := make([][]string, 0, len(inv.Workloads))
	for _, w := range inv.Workloads {
		ws := WorkloadStatus{Mode: w.Mode, Connector: w.Connector, Network: w.Network, Subnet: w.Subnet, NetworkTags: w.NetworkTags}
		max := strconv.Itoa(w.MaxScaleInstances)
		if w.MaxInstances == 0 {
			max += " (default)"
		}
		rows = append(rows, []string{w.Kind, w.Name, w.Region, w.Mode, ws.vpcCell(), dash(w.Egress), max})
	}
	return rows
}

func (inv Inventory) connectorRows() [][]string {
	rows := make([][]string, 0, len(inv.Connectors))
	for _, c := range inv.Connectors {
		var users string
		switch {
		case !c.Exists:
			users = "MISSING: " + describeUsersShort(c.Users)
		case c.Unused:
			users = "UNUSED (billed)"
		case len(c.Users) == 0:
			users = "- (users not fully known)"
		default:
			users = describeUsersShort(c.Users)
		}
		name := c.Name
		if c.Project != inv.Project {
			name = c.Project + "/" + c.Name
		}
		minI, maxI := "-", "-"
		if c.Exists {
			minI, maxI = strconv.Itoa(c.MinInstances), strconv.Itoa(c.MaxInstances)
		}
		rows = append(rows, []string{name, c.Region, orDash(c.State), orDash(c.MachineType), minI, maxI,
			c.instancesCell(), c.peakCell(), c.costCell(), users})
	}
	return rows
}

func (inv Inventory) subnetRows(bars bool) [][]string {
	rows := make([][]string, 0, len(inv.Subnets))
	for _, s := range inv.Subnets {
		name := s.Name
		if s.Project != inv.Project {
			name = s.Project + "/" + s.Name
		}
		users := describeUsersShort(s.Users)
		if len(s.Users) == 0 {
			users = "-"
		}
		if !s.Exists {
			rows = append(rows, []string{name, s.Region, "-", "-", "-", "-", strconv.Itoa(s.MaxScaleIPs), "MISSING", users})
			continue
		}
		blocks := fmt.Sprintf("%d/%d (%d%%)", s.MaxScaleBlocks, s.Blocks, s.MaxScalePercent)
		if bars {
			blocks = usageBar(s.MaxScaleBlocks, s.Blocks) + " " + blocks
		}
		switch {
		case s.WouldRunOut:
			blocks += " WOULD RUN OUT"
		case s.Tight:
			blocks += " TIGHT"
		}
		rows = append(rows, []string{name, s.Region, s.Network, subnetRangeCell(s.Subnet), strconv.FormatUint(s.UsableIPs, 10),
			strconv.FormatInt(s.ReservedIPs, 10), strconv.Itoa(s.MaxScaleIPs), blocks, users})
	}
	return rows
}

func (inv Inventory) findingRows() [][]string {
	rows := make([][]string, 0, len(inv.Findings))
	for _, f := range inv.Findings {
		rows = append(rows, []string{f.Severity, f.Kind, f.Message})
	}
	return rows
}

func (inv Inventory) errorRows() [][]string {
	rows := make([][]string, 0, len(inv.Errors))
	for _, e := range inv.Errors {
		rows = append(rows, []string{e.Region, e.Read, dash(e.Code), e.Message})
	}
	return rows
}

// sectionWriter writes titled tables separated by blank lines, aligned like the printer's
// tables (upper-case headers, three spaces between columns); an empty table says "None.".
type sectionWriter struct {
	w   io.Writer
	n   int
	err error
}

var inventoryCellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func (s *sectionWriter) section(title string, headers []string, rows [][]string) {
	if s.err != nil {
		return
	}
	var b strings.Builder
	if s.n > 0 {
		b.WriteString("\n")
	}
	s.n++
	b.WriteString(title + "\n")
	if len(rows) == 0 {
		b.WriteString("None.\n")
		_, s.err = io.WriteString(s.w, b.String())
		return
	}
	var tb strings.Builder
	tw := tabwriter.NewWriter(&tb, 0, 8, 3, ' ', 0)
	line := func(cells []string, upper bool) {
		out := make([]string, len(headers))
		for i := range out {
			if i < len(cells) {
				out[i] = inventoryCellReplacer.Replace(cells[i])
			}
			if upper {
				out[i] = strings.ToUpper(out[i])
			}
		}
		fmt.Fprintln(tw, strings.Join(out, "\t"))
	}
	line(headers, true)
	for _, r := range rows {
		line(r, false)
	}
	_ = tw.Flush()
	for l := range strings.Lines(tb.String()) {
		b.WriteString(strings.TrimRight(l, " \n") + "\n")
	}
	_, s.err = io.WriteString(s.w, b.String())
}
