package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/egressmap"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// The inventory of many projects: --projects, --folder, --organization. The projects are read
// through Cloud Asset Inventory (cloud.ReadScope), project by project where the caller may not
// search; the inventory is then built as for one project, with every project in scope, and
// says how each part was read and who uses each connector across projects (the host-project
// view of a Shared VPC).

const inventoryScopeLong = `

Many projects: --projects a,b,c, --folder NUMBER or --organization NUMBER read
every project named, or every project under the folder or organization, through
Cloud Asset Inventory (one SearchAllResources over the whole scope for Cloud Run
services, jobs and worker pools, Serverless VPC Access connectors and Compute
subnetworks, 500 a page). Where the caller lacks cloudasset.assets.searchAllResources
on the folder or organization, its projects are found with Resource Manager and
each is searched on its own; a project the caller may not search either is
listed region by region through Cloud Run, VPC Access and Compute. stderr and
the "sources" field say which part was read which way, and why. Without
--regions every region is read. A workload's mode, connector and subnet are
those of what serves it, as for one project: both reads give each workload's
traffic status, so a revision is read (GetRevision) only where traffic or a tag
reaches another revision than the latest one made from the template, and a job's
executions only while its latest one runs; a workload whose template moved to
Direct VPC egress while its traffic stays on a connector revision is that
connector's user. Subnets are read without their address reservations; a
connector or subnet of a project outside the scope (a Shared VPC host) is read
directly. The JSON has no project field (a scope is many projects) and adds:

  scope                   "folders/F", "organizations/O" or "projects/a,b,c"
  projects                the projects read, sorted
  sources[]               scope (folders/F or projects/P), via (cloudasset or
                          listing), reason (why listing), regions (listed)
  sharedConnectors[]      each connector used by workloads of another project
                          than its own: connector (full name), host (its
                          project), workloads, projects (how many), userProjects
                          [{project, workloads}], complete (every project that
                          may use it was read), summary ("connector X in host H
                          is used by N workloads in M projects")
  calls                   {cloudAsset: SearchAllResources pages, list: other
                          reads, serving: revisions and execution lists read
                          to know what serves}`

// addInventoryScopeFlags adds --projects, --folder and --organization.
func addInventoryScopeFlags(cmd *cobra.Command, o *InventoryOptions) {
	cmd.Flags().StringSliceVar(&o.Projects, "projects", nil, "read these projects (comma-separated) through Cloud Asset Inventory")
	cmd.Flags().StringVar(&o.Folder, "folder", "", "read every project under this folder (its number) through Cloud Asset Inventory")
	cmd.Flags().StringVar(&o.Organization, "organization", "", "read every project of this organization (its number) through Cloud Asset Inventory")
	cmd.MarkFlagsMutuallyExclusive("projects", "folder", "organization")
}

// scoped reports whether the inventory reads many projects.
func (o *InventoryOptions) scoped() bool { return o.Scope.Validate() == nil }

// completeScope checks --projects, --folder and --organization; handled is true when one of
// them was given (and the single-project completion does not apply).
func (o *InventoryOptions) completeScope(cmd *cobra.Command) (handled bool, err error) {
	o.Scope = cloud.Scope{}
	changed := func(n string) bool { return cmd.Flags().Changed(n) }
	if !changed("projects") && !changed("folder") && !changed("organization") {
		return false, nil
	}
	if cmd.Flags().Changed("project") {
		return true, exitcode.Usagef("--project: give the projects to read with --projects, --folder or --organization only, not with --project too")
	}
	switch {
	case changed("projects"):
		var ps []string
		for _, p := range o.Projects {
			p = strings.TrimSpace(p)
			if p == "" {
				return true, exitcode.Usagef("--projects: empty project id in %q; valid: a comma-separated list of project ids such as team-a,team-b", strings.Join(o.Projects, ","))
			}
			if err := egress.ValidateProject(p); err != nil {
				return true, usageErr("--projects", err)
			}
			ps = append(ps, p)
		}
		if len(ps) == 0 {
			return true, exitcode.Usagef("--projects: no project given; valid: a comma-separated list of project ids such as team-a,team-b")
		}
		sort.Strings(ps)
		o.Scope.Projects = slices.Compact(ps)
		o.f.scopeProjects = o.Scope.Projects
	case changed("folder"):
		id := strings.TrimPrefix(strings.TrimSpace(o.Folder), "folders/")
		if !isNumber(id) {
			return true, exitcode.Usagef("--folder: %q is not a folder number; valid: the folder's number, such as 345678901234 (gcloud resource-manager folders list)", o.Folder)
		}
		o.Scope.Parent = "folders/" + id
	default:
		id := strings.TrimPrefix(strings.TrimSpace(o.Organization), "organizations/")
		if !isNumber(id) {
			return true, exitcode.Usagef("--organization: %q is not an organization number; valid: the organization's number, such as 123456789012 (gcloud organizations list)", o.Organization)
		}
		o.Scope.Parent = "organizations/" + id
	}
	if changed("regions") {
		if o.f.Options.Region != "" {
			return true, exitcode.Usagef("--regions: give the regions to read with --regions only, not with --region too (--region %s --regions %s)",
				o.f.Options.Region, strings.Join(o.Regions, ","))
		}
		regions, all, err := ParseRegionsFlag(o.Regions)
		if err != nil {
			return true, err
		}
		o.RegionList, o.All = regions, all
	} else if r := strings.TrimSpace(o.f.Options.Region); r != "" {
		if err := egress.ValidateRegion(r); err != nil {
			return true, usageErr("--region", err)
		}
		o.RegionList = []string{r}
	} else {
		o.All = true
	}
	return true, nil
}

func isNumber(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// scopeLabel names the scope: folders/F, organizations/O or projects/a,b,c.
func scopeLabel(s cloud.Scope) string {
	if s.Parent != "" {
		return s.Parent
	}
	return "projects/" + strings.Join(s.Projects, ",")
}

// ScopeInventory is what `runnet inventory --projects|--folder|--organization` prints: the
// inventory of every project read (Inventory's fields but project), and how it was read.
type ScopeInventory struct {
	// Project hides Inventory's: a scope is many projects (scope, projects), and an empty
	// "project" read as one project named "".
	Project          string              `json:"project,omitempty"`
	Scope            string              `json:"scope"`
	Projects         []string            `json:"projects"`
	Sources          []cloud.ScopeSource `json:"sources"`
	SharedConnectors []SharedConnector   `json:"sharedConnectors"`
	Calls            ScopeCalls          `json:"calls"`
	Inventory
}

// ScopeCalls counts the reads an inventory of many projects made.
type ScopeCalls struct {
	CloudAsset int `json:"cloudAsset"`
	List       int `json:"list"`
	// Serving counts the revisions and execution lists read to know what serves.
	Serving int `json:"serving"`
}

// SharedConnector is the host-project view of a connector used from other projects.
type SharedConnector struct {
	Connector    string            `json:"connector"`
	Host         string            `json:"host"`
	Workloads    int               `json:"workloads"`
	Projects     int               `json:"projects"`
	UserProjects []ProjectWorkload `json:"userProjects"`
	Complete     bool              `json:"complete"`
	Summary      string            `json:"summary"`
}

// ProjectWorkload counts a project's workloads.
type ProjectWorkload struct {
	Project   string `json:"project"`
	Workloads int    `json:"workloads"`
}

func (o *InventoryOptions) runScope(ctx context.Context) error {
	out, err := o.output()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	what := "Reading " + scopeLabel(o.Scope)
	var done func()
	if o.f.IOStreams.CanAnimate() {
		done = startWait(o.f, what)
	} else {
		o.f.IOStreams.Progressf("%s...", what)
		done = func() {}
	}
	read := c.ReadScope(ctx, o.Scope, o.RegionList)
	inv := buildScopeInventory(ctx, c, o.Scope, o.RegionList, read, o.NoCost)
	done()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, s := range inv.Sources {
		if s.Via == cloud.ViaListing {
			netNotice(o.f, "%s: read by listing, not through Cloud Asset Inventory: %s.", s.Scope, s.Reason)
		}
	}
	if err := o.renderScope(ctx, c, out, inv); err != nil {
		return err
	}
	if len(inv.Errors) > 0 {
		return exitcode.Errorf(exitcode.Failure, "the inventory of %s is incomplete: %d read%s failed; the errors are listed in the output",
			inv.Scope, len(inv.Errors), netPlural(len(inv.Errors)))
	}
	return nil
}

// buildScopeInventory builds the inventory of a scope's read: the workloads, connectors and
// subnets grouped by region as the single-project builder takes them, every project read in
// scope, with what each connector runs, carries and (unless noCost) costs.
func buildScopeInventory(ctx context.Context, c *cloud.Clients, scope cloud.Scope, regions []string, read *cloud.ScopeRead, noCost bool) ScopeInventory {
	b := newInventoryBuilder("")
	b.use, b.noCost = true, noCost
	b.scope = map[string]bool{}
	for _, p := range read.Projects {
		b.scope[p] = true
	}
	byRegion := map[string]*regionRead{}
	rr := func(region string) *regionRead {
		r := byRegion[region]
		if r == nil {
			r = &regionRead{region: region}
			byRegion[region] = r
		}
		return r
	}
	for _, r := range regions {
		rr(r)
	}
	for i, w := range read.Workloads {
		r := rr(w.Ref.Region)
		r.workloads = append(r.workloads, w)
		if read.Serving != nil {
			r.serving = append(r.serving, read.Serving[i])
		}
	}
	for _, cn := range read.Connectors {
		r := rr(cn.Region)
		r.connectors = append(r.connectors, cn)
	}
	for _, s := range read.Subnets {
		r := rr(s.Region)
		r.subnets = append(r.subnets, s)
	}
	var projectErrs []InventoryError
	for _, e := range read.Errors {
		if e.Region == "" {
			b.incomplete = true
			projectErrs = append(projectErrs, InventoryError{Read: strings.TrimSpace(e.Scope + " " + e.Read), Code: cloud.ErrorCode(e.Err), Message: e.Err.Error()})
			continue
		}
		r := rr(e.Region)
		err := fmt.Errorf("%s: %w", e.Scope, e.Err)
		switch e.Read {
		case "connectors":
			r.connErr = firstError(r.connErr, err)
		case "subnetworks":
			r.subnetErr = firstError(r.subnetErr, err)
		default:
			r.workloadErrs = append(r.workloadErrs, err)
		}
	}
	reads := make([]*regionRead, 0, len(byRegion))
	for _, r := range byRegion {
		reads = append(reads, r)
	}
	inv := b.build(ctx, c, reads)
	inv.Errors = append(projectErrs, inv.Errors...)
	if inv.Errors == nil {
		inv.Errors = []InventoryError{} // "errors": [] as a region's inventory has it, not null
	}
	out := ScopeInventory{
		Scope: scopeLabel(scope), Projects: read.Projects, Sources: read.Sources,
		SharedConnectors: []SharedConnector{},
		Calls:            ScopeCalls{CloudAsset: read.AssetCalls, List: read.ListCalls, Serving: read.ServingCalls},
		Inventory:        inv,
	}
	if out.Projects == nil {
		out.Projects = []string{}
	}
	if out.Sources == nil {
		out.Sources = []cloud.ScopeSource{}
	}
	for _, cn := range inv.Connectors {
		if sc, ok := sharedConnector(cn); ok {
			out.SharedConnectors = append(out.SharedConnectors, sc)
		}
	}
	return out
}

// firstError keeps the first error.
func firstError(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// sharedConnector is the host view of cn when workloads of another project use it.
func sharedConnector(cn InventoryConnector) (SharedConnector, bool) {
	n := map[string]int{}
	foreign := false
	for _, u := range cn.Users {
		n[u.Project]++
		foreign = foreign || u.Project != cn.Project
	}
	if !foreign {
		return SharedConnector{}, false
	}
	sc := SharedConnector{Connector: cn.FullName, Host: cn.Project, Workloads: len(cn.Users), Projects: len(n), Complete: cn.UsersComplete}
	for p, k := range n {
		sc.UserProjects = append(sc.UserProjects, ProjectWorkload{Project: p, Workloads: k})
	}
	sort.Slice(sc.UserProjects, func(i, j int) bool { return sc.UserProjects[i].Project < sc.UserProjects[j].Project })
	sc.Summary = fmt.Sprintf("connector %s in host %s is used by %d workload%s in %d project%s", cn.Name, cn.Project,
		sc.Workloads, netPlural(sc.Workloads), sc.Projects, netPlural(sc.Projects))
	if !sc.Complete {
		sc.Summary += " (at least: not every project that may use it was read)"
	}
	return sc, true
}

// renderScope prints the inventory (or its graph) and writes the report, if asked for.
func (o *InventoryOptions) renderScope(ctx context.Context, c *cloud.Clients, out *inventoryOutput, inv ScopeInventory) error {
	if out.printer == nil { // a graph format: drawn as for one project
		return o.render(ctx, c, out, inv.Inventory)
	}
	if err := out.printer.Print(inv); err != nil {
		return err
	}
	if o.Report == "" {
		return nil
	}
	listed, notes := readProposalSubnets(ctx, c, inv.Inventory)
	if err := ctx.Err(); err != nil {
		return err
	}
	m := inventoryMap(inv.Inventory, listed)
	m.Notes = append(m.Notes, notes...)
	for _, sc := range inv.SharedConnectors {
		m.Notes = append(m.Notes, strings.ToUpper(sc.Summary[:1])+sc.Summary[1:]+".")
	}
	m.Subtitle = strings.TrimPrefix(m.Subtitle+" · "+inv.Scope+" · read "+time.Now().UTC().Format("2006-01-02 15:04 UTC"), " · ")
	if err := writeFileAtomic(o.Report, func(w io.Writer) error { return egressmap.WriteHTML(w, m) }); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	netNotice(o.f, "Wrote the report to %s.", o.Report)
	return nil
}

// WriteText renders the inventory of many projects: how it was read, then the sections of a
// one-project inventory with each workload's project, and the connectors shared across
// projects.
func (inv ScopeInventory) WriteText(w io.Writer) error {
	tw := &sectionWriter{w: w}
	srcRows := make([][]string, 0, len(inv.Sources))
	for _, s := range inv.Sources {
		srcRows = append(srcRows, []string{s.Scope, s.Via, dash(s.Reason)})
	}
	tw.section(fmt.Sprintf("SCOPE %s (%d project%s; %d Cloud Asset Inventory page%s, %d other read%s)", inv.Scope,
		len(inv.Projects), netPlural(len(inv.Projects)), inv.Calls.CloudAsset, netPlural(inv.Calls.CloudAsset), inv.Calls.List+inv.Calls.Serving, netPlural(inv.Calls.List+inv.Calls.Serving)),
		[]string{"read", "via", "why"}, srcRows)
	rows := inv.Inventory.workloadRows()
	for i := range rows {
		rows[i] = append([]string{inv.Workloads[i].Project}, rows[i]...)
	}
	tw.section(fmt.Sprintf("WORKLOADS (%d in %s)", len(inv.Workloads), describeRegionsOrAll(inv.Regions)),
		[]string{"project", "kind", "name", "region", "mode", "vpc", "egress", "max instances"}, rows)
	// The connector rows are those of one project's inventory (what each runs, carries and
	// costs), with each user named PROJECT/WORKLOAD: a scope holds workloads of the same name
	// in several projects.
	crows := inv.Inventory.connectorRows()
	for i, cn := range inv.Connectors {
		if len(cn.Users) > 0 {
			users := describeUsersShort(projectQualifiedUsers(cn.Users, ""))
			if !cn.Exists {
				users = "MISSING: " + users
			}
			crows[i][len(crows[i])-1] = users
		}
	}
	tw.section(fmt.Sprintf("CONNECTORS (%d)", len(inv.Connectors)),
		[]string{"name", "region", "state", "machine type", "min", "max", "instances", "peak", "monthly cost", "users"}, crows)
	shared := make([][]string, 0, len(inv.SharedConnectors))
	for _, sc := range inv.SharedConnectors {
		var per []string
		for _, p := range sc.UserProjects {
			per = append(per, fmt.Sprintf("%s (%d)", p.Project, p.Workloads))
		}
		shared = append(shared, []string{sc.Summary, strings.Join(per, ", ")})
	}
	tw.section(fmt.Sprintf("SHARED CONNECTORS (%d)", len(inv.SharedConnectors)), []string{"use", "projects"}, shared)
	// Subnet users too: a Shared VPC host's subnet serves workloads of several projects.
	srows := inv.Inventory.subnetRows(false)
	for i, sn := range inv.Subnets {
		if len(sn.Users) > 0 {
			srows[i][len(srows[i])-1] = describeUsersShort(projectQualifiedUsers(sn.Users, ""))
		}
	}
	tw.section(fmt.Sprintf("DIRECT VPC SUBNETS (%d)", len(inv.Subnets)),
		[]string{"name", "region", "network", "range", "usable", "reserved", "max-scale ips", "blocks at max scale", "users"}, srows)
	tw.section(fmt.Sprintf("FINDINGS (%d)", len(inv.Findings)), []string{"severity", "kind", "message"}, inv.findingRows())
	if len(inv.Errors) > 0 {
		tw.section(fmt.Sprintf("ERRORS (%d)", len(inv.Errors)), []string{"region", "read", "code", "message"}, inv.errorRows())
	}
	return tw.err
}

// projectQualifiedUsers returns us with each workload of another project than home named
// PROJECT/WORKLOAD ("" names every one so).
func projectQualifiedUsers(us []InventoryUser, home string) []InventoryUser {
	out := slices.Clone(us)
	for i := range out {
		if out[i].Project != "" && out[i].Project != home {
			out[i].Workload = out[i].Project + "/" + out[i].Workload
		}
	}
	return out
}

func describeRegionsOrAll(rs []string) string {
	if len(rs) == 0 {
		return "no region"
	}
	return describeRegions(rs)
}
