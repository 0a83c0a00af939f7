package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iac"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

const exportLong = `Print the VPC side of Cloud Run workloads as infrastructure code, so that what runnet
did (attach, detach, migrate, connectors and subnets it created or deleted) can be carried
into the code that owns them; otherwise the next 'terraform apply' or 'pulumi up' puts the
old settings back, and recreates a connector runnet deleted.

What is exported, one of:

  WORKLOAD          one workload, with the connector or subnet its template uses
  --connector NAME  a connector and the workloads that use it (through their template, a
                    revision that receives traffic or carries a tag, or a running job
                    execution: see 'runnet connector users'), with what their templates use
  --all             everything 'runnet inventory' finds in the project: every workload,
                    every connector, and every subnet used by Direct VPC egress, in the
                    resolved region or in --regions (a list, or "all")

and, in each case, the subnet a connector was made in. The comment above a connector or
subnet names what uses it: the workloads exported and, for one WORKLOAD, the others that use
it (found as 'runnet connector users' finds them), marked as not exported.

--as chooses the form:

  terraform    google_compute_subnetwork and google_vpc_access_connector resources, and the
               vpc_access block of each google_cloud_run_v2_service, google_cloud_run_v2_job
               (template { template { vpc_access } }) or google_cloud_run_v2_worker_pool,
               inside the resource's identifying arguments (name, location, project)
  pulumi-yaml  the same as gcp:compute:Subnetwork, gcp:vpcaccess:Connector and the vpcAccess
               property of gcp:cloudrunv2:Service, Job or WorkerPool, in a Pulumi YAML program
  gcloud       the 'gcloud compute networks subnets create' and '... vpc-access connectors
               create' commands that recreate the subnets and connectors, and the 'gcloud run
               services|jobs|worker-pools update' command that sets each workload's VPC
               access whatever it has now (it clears the other mode)

What runnet created and deleted. Code that does not know a resource runnet created would
create it again, and code that still declares a connector runnet deleted would recreate it.
--created connector/NAME or subnet/NAME (repeatable or comma-separated; a full name, which
--all needs with several regions, may go with or without the prefix) names a resource that exists but not in your code: Terraform gets an import block (Terraform
1.5 or later) and Pulumi the import resource option, so that the code adopts it. --deleted
connector/NAME or subnet/NAME names one that runnet deleted (migrate --cleanup, connector
delete, subnet delete): Terraform gets a removed block with destroy = false (Terraform 1.7 or
later), which forgets it without destroying anything; Pulumi and gcloud a comment saying what
to do. runnet cannot tell these on its own: Serverless VPC Access connectors carry no labels
nor description, and a deleted resource leaves nothing to read; 'runnet migrate --format json'
reports the subnet it created and the connectors its cleanup deleted. A --created resource
must exist and is exported even if nothing uses it; a --deleted one must not exist (exit 2
otherwise).

Names are printed as the APIs hold them (runnet writes full resource paths), so code that
uses them shows no difference on its next plan. For workloads only the VPC access is
printed: merge it into your resource and keep its other arguments. A workload without VPC
access gets a comment saying to remove the block. A connector or subnet in another project
than the one exported (a Shared VPC host's) is not declared: a comment names it.

The code is printed as plain text, also when stdout is not a terminal, so that it can be
redirected to a file. With an explicit --format json or yaml the result is an object with
these fields (a stable contract):

  as                            terraform, pulumi-yaml or gcloud
  scope                         workload, connector or all
  project                       the project exported
  kind, name, region, mode,     with WORKLOAD: the workload, its mode (none, connector or
  resource                      direct) and the resource type (or gcloud command) it is
                                written as
  connector                     with --connector: the connector's full name
  regions                       with --all: the regions read
  resources[]                   what the code holds, in order: kind (workload, connector or
                                subnet), path (full resource name), type, address (the
                                Terraform address or Pulumi name; none for gcloud), action
                                (declare, import or remove) and importId
  notes[]                       what is left out, and why
  snippet                       the text

If a workload's latest change failed (its latest revision could not start), the code shows
the settings its template asks for, not those of the revision serving traffic; a warning on
stderr says so.`

// Export scopes.
const (
	scopeWorkload  = "workload"
	scopeConnector = "connector"
	scopeAll       = "all"
)

// ExportOptions are the inputs of `runnet export`.
type ExportOptions struct {
	f *Factory

	Workload  string
	Connector string
	All       bool
	Regions   []string
	As        string
	Created   []string
	Deleted   []string

	// Filled in by complete.
	scope      string
	ref        egress.WorkloadRef
	connRef    egress.ConnectorRef
	project    string
	regionList []string
	allRegions bool
	format     iac.Format
	created    []exportRef
	deleted    []exportRef
}

// exportRef is a connector or subnet named by --created or --deleted.
type exportRef struct {
	kind                  iac.ResourceKind
	project, region, name string
	arg                   string // as given
}

// path is the resource's full name, as cloud.Connector.FullName and cloud.Subnet.Path give it.
func (r exportRef) path() string {
	if r.kind == iac.KindSubnet {
		return egress.SubnetRef{Project: r.project, Region: r.region, Name: r.name}.Path()
	}
	return egress.ConnectorRef{Project: r.project, Region: r.region, Name: r.name}.FullName()
}

func (r exportRef) String() string { return string(r.kind) + " " + r.path() }

// NewCmdExport returns `runnet export`. runF, if not nil, replaces the run step (for tests).
func NewCmdExport(f *Factory, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	o := &ExportOptions{f: f}
	cmd := &cobra.Command{
		Use:   "export (WORKLOAD | --connector NAME | --all [--regions R,...]) --as terraform|pulumi-yaml|gcloud",
		Short: "Print workloads' VPC access, connectors and subnets as Terraform, Pulumi YAML or gcloud commands",
		Long:  exportLong,
		Example: `  # After 'runnet attach run-service --subnet run-direct-vpc-egress', update the Terraform:
  runnet export run-service --as terraform

  # The Pulumi YAML of a job's VPC access, into a file to merge:
  runnet export job/nightly-export --as pulumi-yaml > nightly-export-vpc.yaml

  # A connector and every workload that uses it:
  runnet export --connector run-connector --as terraform

  # After 'runnet subnet create run-direct-2 ...' and 'runnet migrate ... --cleanup', the whole
  # project, adopting the subnet and forgetting the connector the cleanup deleted:
  runnet export --all --as terraform --created subnet/run-direct-2 --deleted connector/run-connector

  # The gcloud commands that recreate a worker pool's Direct VPC egress elsewhere:
  runnet export workerpool/queue-worker --as gcloud

  # The code inside JSON, for a script:
  runnet export run-service --as terraform --format json | jq -r .snippet`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.As, "as", "", "form of the code: "+strings.Join(iac.FormatNames(), ", ")+" (required)")
	fl.StringVar(&o.Connector, "connector", "", "export this connector and the workloads that use it (NAME or projects/P/locations/R/connectors/NAME)")
	fl.BoolVar(&o.All, "all", false, "export everything 'runnet inventory' finds in the project")
	fl.StringSliceVar(&o.Regions, "regions", nil, `with --all: regions to read, comma-separated, or "all" (default: the resolved region)`)
	fl.StringSliceVar(&o.Created, "created", nil, "connector/NAME or subnet/NAME that exists but not in your code (runnet created it): the code imports it")
	fl.StringSliceVar(&o.Deleted, "deleted", nil, "connector/NAME or subnet/NAME that runnet deleted: the code forgets it without destroying anything")
	_ = cmd.RegisterFlagCompletionFunc("as", cobra.FixedCompletions(iac.FormatNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("regions", cobra.FixedCompletions([]string{regionsAll}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// complete checks every input, before any API call.
func (o *ExportOptions) complete(cmd *cobra.Command, args []string) error {
	fl := cmd.Flags()
	given := 0
	for _, set := range []bool{len(args) > 0, fl.Changed("connector"), o.All} {
		if set {
			given++
		}
	}
	switch {
	case len(args) > 1:
		return exitcode.Usagef("one WORKLOAD at a time, got %d: %s", len(args), strings.Join(args, " "))
	case given == 0:
		return exitcode.Usagef("WORKLOAD is required: NAME (a service), job/NAME or workerpool/NAME; or --connector NAME, or --all")
	case given > 1:
		return exitcode.Usagef("export one of: a WORKLOAD, --connector NAME or --all")
	}
	if !fl.Changed("as") {
		return exitcode.Usagef("--as is required: %s", strings.Join(iac.FormatNames(), ", "))
	}
	format, err := iac.ParseFormat(o.As)
	if err != nil {
		return exitcode.Usagef("--as: %v", err)
	}
	o.format = format
	if fl.Changed("regions") && !o.All {
		return exitcode.Usagef("--regions: only with --all")
	}

	switch {
	case len(args) == 1:
		o.scope, o.Workload = scopeWorkload, args[0]
		if o.ref, err = parseWorkloadArg(o.f, o.Workload); err != nil {
			return err
		}
		o.project = o.ref.Project
	case fl.Changed("connector"):
		o.scope = scopeConnector
		if o.connRef, err = parseConnectorArg(o.f, o.Connector); err != nil {
			return err
		}
		o.project = o.connRef.Project
	default:
		o.scope = scopeAll
		o.regionList, o.allRegions = nil, false
		if fl.Changed("regions") {
			if o.f.Options.Region != "" {
				return exitcode.Usagef("--regions: give the regions to read with --regions only, not with --region too (--region %s --regions %s)",
					o.f.Options.Region, strings.Join(o.Regions, ","))
			}
			if o.regionList, o.allRegions, err = ParseRegionsFlag(o.Regions); err != nil {
				return err
			}
		}
		if o.project, err = o.f.Project(); err != nil {
			return err
		}
		if !fl.Changed("regions") {
			region, err := o.f.Region()
			if err != nil {
				return err
			}
			if err := egress.ValidateRegion(region); err != nil {
				return usageErr("--region", err)
			}
			o.regionList = []string{region}
		}
	}

	if o.created, err = o.parseRefs("--created", o.Created); err != nil {
		return err
	}
	if o.deleted, err = o.parseRefs("--deleted", o.Deleted); err != nil {
		return err
	}
	for _, c := range o.created {
		for _, d := range o.deleted {
			if c.path() == d.path() && c.kind == d.kind {
				return exitcode.Usagef("--created and --deleted both name %s", c)
			}
		}
	}
	return nil
}

// parseRefs parses the values of --created or --deleted: connector/NAME or subnet/NAME, where
// NAME is a short name (in the resolved project and region, or the exported workload's or
// connector's) or a full name, or a full name on its own (projects/P/locations/R/connectors/NAME
// or projects/P/regions/R/subnetworks/NAME).
func (o *ExportOptions) parseRefs(flag string, values []string) ([]exportRef, error) {
	var out []exportRef
	for _, v := range values {
		kind, name, ok := strings.Cut(strings.TrimSpace(v), "/")
		if kind == "projects" { // a full name on its own: its path says its kind
			name = strings.TrimSpace(v)
			switch {
			case strings.Contains(name, "/connectors/"):
				kind = string(iac.KindConnector)
			case strings.Contains(name, "/subnetworks/"):
				kind = string(iac.KindSubnet)
			}
		}
		if !ok || name == "" || (kind != string(iac.KindConnector) && kind != string(iac.KindSubnet)) {
			return nil, exitcode.Usagef("%s: %q is not connector/NAME or subnet/NAME (NAME may be a full name)", flag, v)
		}
		r := exportRef{kind: iac.ResourceKind(kind), arg: v}
		project, region := o.defaultPlace()
		needPlace := !strings.Contains(name, "/")
		if needPlace && project == "" {
			p, err := o.f.Project()
			if err != nil {
				return nil, err
			}
			project = p
		}
		if needPlace && region == "" && o.scope == scopeAll {
			return nil, exitcode.Usagef("%s: %q: with several regions, give the full name (projects/P/locations/R/connectors/NAME or projects/P/regions/R/subnetworks/NAME)", flag, v)
		}
		if needPlace && region == "" {
			rg, err := o.f.Region()
			if err != nil {
				return nil, err
			}
			region = rg
		}
		if r.kind == iac.KindConnector {
			ref, err := egress.ParseConnectorRef(name, project, region)
			if err != nil {
				return nil, exitcode.Usagef("%s: %v", flag, err)
			}
			r.project, r.region, r.name = ref.Project, ref.Region, ref.Name
		} else {
			ref, err := egress.ParseSubnetRef(name, project, region)
			if err != nil {
				return nil, exitcode.Usagef("%s: %v", flag, err)
			}
			r.project, r.region, r.name = ref.Project, ref.Region, ref.Name
		}
		if !slices.ContainsFunc(out, func(x exportRef) bool { return x.kind == r.kind && x.path() == r.path() }) {
			out = append(out, r)
		}
	}
	return out, nil
}

// defaultPlace is where a short --created or --deleted name is: the exported workload's or
// connector's project and region, or (--all) the resolved ones, "" when not known yet.
func (o *ExportOptions) defaultPlace() (project, region string) {
	switch o.scope {
	case scopeWorkload:
		return o.ref.Project, o.ref.Region
	case scopeConnector:
		return o.connRef.Project, o.connRef.Region
	}
	if len(o.regionList) == 1 {
		return o.project, o.regionList[0]
	}
	return o.project, ""
}

func (o *ExportOptions) run(ctx context.Context) error {
	// Plain text unless --format asks for another format: the code is meant for files.
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	p.SetColor(false)
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	set := newExportSet(c, o.project)
	res := ExportResult{As: string(o.format), Scope: o.scope, Project: o.project}
	switch o.scope {
	case scopeWorkload:
		w, err := c.GetWorkload(ctx, o.ref)
		if err != nil {
			return err
		}
		set.workloads = append(set.workloads, w)
		set.subject = fmt.Sprintf("%s %s in project %s (%s)", o.ref.Kind.Noun(), o.ref.Name, o.ref.Project, o.ref.Region)
		res.Kind, res.Name, res.Region = string(o.ref.Kind), o.ref.Name, o.ref.Region
		res.Mode, res.Resource = string(w.VPC.Mode()), iac.Resource(o.format, o.ref.Kind)
	case scopeConnector:
		if err := set.addConnectorAndUsers(ctx, o.connRef); err != nil {
			return err
		}
		res.Connector = o.connRef.FullName()
	case scopeAll:
		regions, err := set.addInventory(ctx, o.f, o.regionList, o.allRegions)
		if err != nil {
			return err
		}
		res.Regions = regions
	}
	if err := set.addCreated(ctx, o.created); err != nil {
		return err
	}
	if err := set.resolve(ctx); err != nil {
		return err
	}
	if err := set.checkDeleted(ctx, o.deleted); err != nil {
		return err
	}
	if o.scope == scopeWorkload {
		set.addOtherUsers(ctx)
	}
	h := set.handOff(o.created, o.deleted)
	text, entries, err := iac.RenderHandOff(o.format, h)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	res.Snippet, res.Resources, res.Notes = text, entries, append([]string{}, h.Notes...)
	for _, w := range set.workloads {
		if w.Rollout() != cloud.RolloutFailed {
			continue
		}
		serving := "its previous settings"
		if w.LatestReady != "" {
			serving = "revision " + w.LatestReady + " and its settings"
		}
		netWarn(o.f, "the latest change of %s %s failed (%s); this is what its template asks for, but traffic is still served by %s.",
			w.Ref.Kind.Noun(), w.Ref.Name, dash(w.Terminal.Message), serving)
	}
	return p.Print(res)
}

// ---------------------------------------------------------------------------------------
// What is exported.

// exportSet gathers what a hand-off holds: the workloads, and the connectors and subnets of
// the exported project they use (or that the scope names), read through the cloud layer.
type exportSet struct {
	c       *cloud.Clients
	project string
	subject string

	workloads  []*cloud.Workload
	connectors map[string]*cloud.Connector // full name -> connector
	subnets    map[string]*cloud.Subnet    // path -> subnet
	// known are subnets already read (region lists), used before asking the API again.
	known map[string]*cloud.Subnet
	notes []string
	// otherUsers are, by path, the workloads left out of the export that use a connector or
	// subnet it declares (addOtherUsers).
	otherUsers map[string][]string
}

func newExportSet(c *cloud.Clients, project string) *exportSet {
	return &exportSet{c: c, project: project, connectors: map[string]*cloud.Connector{}, subnets: map[string]*cloud.Subnet{}, known: map[string]*cloud.Subnet{}}
}

func (s *exportSet) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(s.notes, n) {
		s.notes = append(s.notes, n)
	}
}

// addConnectorAndUsers adds a connector and the workloads that use it: those of its project,
// then those of the other projects the API says are connected to it (a project whose
// workloads cannot be read is a note).
func (s *exportSet) addConnectorAndUsers(ctx context.Context, ref egress.ConnectorRef) error {
	var conn *cloud.Connector
	var connErr error
	var wg sync.WaitGroup
	wg.Go(func() { conn, connErr = s.c.GetConnector(ctx, ref) })
	users, err := s.connectorUsers(ctx, ref, ref.Project)
	wg.Wait()
	if connErr != nil {
		return connErr
	}
	if err != nil {
		return err
	}
	s.connectors[conn.FullName] = conn
	for _, p := range migration.OtherProjects(conn, ref.Project) {
		more, err := s.connectorUsers(ctx, ref, p)
		if err != nil {
			s.note("the workloads of project %s, which the API says uses connector %s, could not be read: %v.", p, ref.Name, oneLine(err.Error()))
			continue
		}
		users = append(users, more...)
	}
	s.workloads = append(s.workloads, users...)
	place := fmt.Sprintf("connector %s in project %s (%s)", ref.Name, ref.Project, ref.Region)
	switch len(users) {
	case 0:
		s.subject = place + ", which no workload uses"
	case 1:
		s.subject = place + " and the workload that uses it"
	default:
		s.subject = fmt.Sprintf("%s and the %d workloads that use it", place, len(users))
	}
	return nil
}

// connectorUsers lists the workloads of project, in the connector's region, that use it.
func (s *exportSet) connectorUsers(ctx context.Context, ref egress.ConnectorRef, project string) ([]*cloud.Workload, error) {
	ws, err := s.c.ListWorkloads(ctx, project, ref.Region)
	if err != nil {
		return nil, err
	}
	states, err := s.c.ServingStates(ctx, ws)
	if err != nil {
		return nil, err
	}
	var out []*cloud.Workload
	for i, w := range ws {
		if len(migration.ConnectorVia(states[i], ref)) > 0 {
			out = append(out, w)
		}
	}
	return out, nil
}

// addOtherUsers finds, for each connector and subnet declared, the workloads left out of the
// export that use it (through their template, a revision that receives traffic or carries a
// tag, or a running execution, as 'connector users' and 'subnet describe' find them): those
// of its project and region and, for a connector, of the projects the API says are
// connected to it. One workload's export then does not call it that workload's alone.
func (s *exportSet) addOtherUsers(ctx context.Context) {
	exported := map[egress.WorkloadRef]bool{}
	for _, w := range s.workloads {
		exported[w.Ref] = true
	}
	s.otherUsers = map[string][]string{}
	find := func(path, what string, projects []string, region string, match func(*egress.ServingState) []string) {
		users, warnings, err := migration.FindUsers(ctx, s.c, projects, region, false, match)
		if err != nil {
			s.note("the other workloads that use %s could not be read: %v.", what, oneLine(err.Error()))
			return
		}
		for _, w := range warnings {
			s.note("%s: %s.", what, w)
		}
		for _, u := range users {
			if ref := u.Workload.Ref; !exported[ref] {
				name := ref.String()
				if ref.Project != pathProject(path) {
					name += " (project " + ref.Project + ")"
				}
				s.otherUsers[path] = append(s.otherUsers[path], name)
			}
		}
	}
	connectorSubnets := map[string]bool{}
	for _, path := range slices.Sorted(maps.Keys(s.connectors)) {
		cn := s.connectors[path]
		connectorSubnets[cn.SubnetPath()] = true
		ref := egress.ConnectorRef{Project: cn.Project, Region: cn.Region, Name: cn.Name}
		projects := append([]string{cn.Project}, migration.OtherProjects(cn, cn.Project)...)
		find(path, "connector "+cn.Name, projects, cn.Region, func(st *egress.ServingState) []string { return migration.ConnectorVia(st, ref) })
	}
	for _, path := range slices.Sorted(maps.Keys(s.subnets)) {
		if connectorSubnets[path] {
			continue // a connector's subnet: the connector uses it
		}
		sn := s.subnets[path]
		find(path, "subnet "+sn.Name, []string{sn.Project}, sn.Region, func(st *egress.ServingState) []string { return subnetVia(st, path) })
	}
}

// addInventory adds what `runnet inventory` finds in the regions (all: every region where
// Cloud Run is offered): every workload, every connector, and every subnet that a workload
// uses or Cloud Run holds addresses in. An incomplete inventory exports nothing.
func (s *exportSet) addInventory(ctx context.Context, f *Factory, regions []string, all bool) ([]string, error) {
	if all {
		rs, _, err := s.c.RunRegions(ctx, s.project)
		if err != nil {
			return nil, fmt.Errorf("list the regions where Cloud Run is offered: %w", err)
		}
		regions = rs
	}
	f.IOStreams.Verbosef("Reading %d region(s).", len(regions))
	reads := readRegions(ctx, s.c, s.project, regions)
	inv := newInventoryBuilder(s.project).build(ctx, s.c, reads)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(inv.Errors) > 0 {
		var what []string
		for _, e := range inv.Errors {
			what = append(what, e.Region+": "+e.Read+" ("+e.Code+")")
		}
		return nil, exitcode.Errorf(exitcode.Failure, "the inventory is incomplete, so nothing is exported: %s could not be read; 'runnet inventory' shows the errors", strings.Join(what, ", "))
	}
	for _, rr := range reads {
		s.workloads = append(s.workloads, rr.workloads...)
		for _, sn := range rr.subnets {
			s.known[sn.Path] = sn
		}
	}
	for _, cn := range inv.Connectors {
		if cn.Exists && cn.Project == s.project {
			s.connectors[cn.FullName] = cn.Connector
		}
	}
	for _, sn := range inv.Subnets {
		if sn.Exists && sn.Project == s.project {
			s.subnets[sn.Path] = sn.Subnet
		}
	}
	s.subject = fmt.Sprintf("everything runnet inventory finds in project %s (%s)", s.project, strings.Join(inv.Regions, ", "))
	return inv.Regions, nil
}

// addCreated adds each --created resource, which must exist (bad input otherwise).
func (s *exportSet) addCreated(ctx context.Context, refs []exportRef) error {
	for _, r := range refs {
		exists, err := s.fetch(ctx, r.kind, r.path())
		if err != nil {
			return err
		}
		if !exists {
			return exitcode.Usagef("--created %s: %s does not exist in project %s, region %s", r.arg, r.kind, r.project, r.region)
		}
	}
	return nil
}

// checkDeleted checks that each --deleted resource is gone (bad input otherwise): one that
// exists, or is declared, cannot be forgotten.
func (s *exportSet) checkDeleted(ctx context.Context, refs []exportRef) error {
	for _, r := range refs {
		_, declared := s.connectors[r.path()]
		if r.kind == iac.KindSubnet {
			_, declared = s.subnets[r.path()]
		}
		exists := declared
		if !declared {
			var err error
			if exists, err = s.probe(ctx, r.kind, r.path()); err != nil {
				return err
			}
		}
		if exists {
			return exitcode.Usagef("--deleted %s: %s exists; --deleted is for a %s that runnet deleted", r.arg, r.path(), r.kind)
		}
	}
	return nil
}

// resolve adds what the workloads' templates use (connectors and subnets) and the subnets
// the connectors were made in, reading those not read yet, concurrently. A resource of
// another project, or one that does not exist, becomes a note.
func (s *exportSet) resolve(ctx context.Context) error {
	var connectors, subnets []string
	users := map[string][]string{}
	for _, w := range s.workloads {
		v, err := w.VPC.Canonical(w.Ref.Project, w.Ref.Region)
		if err != nil {
			s.note("%s %s: its VPC settings cannot be read (%v); they are written as the API holds them.", w.Ref.Kind.Noun(), w.Ref.Name, err)
			continue
		}
		switch {
		case v.Connector != "":
			connectors = append(connectors, v.Connector)
			users[v.Connector] = append(users[v.Connector], w.Ref.String())
		case v.Subnet != "":
			subnets = append(subnets, v.Subnet)
			users[v.Subnet] = append(users[v.Subnet], w.Ref.String())
		}
	}
	if err := s.fetchAll(ctx, iac.KindConnector, connectors, users); err != nil {
		return err
	}
	for _, cn := range s.connectors {
		if p := cn.SubnetPath(); p != "" {
			subnets = append(subnets, p)
			users[p] = append(users[p], "connector "+cn.Name)
		}
	}
	return s.fetchAll(ctx, iac.KindSubnet, subnets, users)
}

// fetchAll reads the connectors or subnets at paths that are not in the set yet, 8 at a time.
func (s *exportSet) fetchAll(ctx context.Context, kind iac.ResourceKind, paths []string, users map[string][]string) error {
	sort.Strings(paths)
	paths = slices.Compact(paths)
	type result struct {
		exists bool
		err    error
	}
	results := make([]result, len(paths))
	var mu sync.Mutex
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, p := range paths {
		if pathProject(p) != s.project {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			exists, err := s.fetchLocked(ctx, &mu, kind, p)
			results[i] = result{exists, err}
		})
	}
	wg.Wait()
	for i, p := range paths {
		who := strings.Join(users[p], ", ")
		switch {
		case pathProject(p) != s.project:
			s.note("%s %s, used by %s, is in project %s (Shared VPC, say): it is managed there and not declared here.", kind, p, who, pathProject(p))
		case results[i].err != nil:
			return results[i].err
		case !results[i].exists:
			s.note("%s %s, used by %s, does not exist: it is not declared (the next deploy of its users fails until they move).", kind, p, who)
		}
	}
	return nil
}

// fetch adds the connector or subnet at path to the set, reading it unless it is there or
// known; false when it does not exist.
func (s *exportSet) fetch(ctx context.Context, kind iac.ResourceKind, path string) (bool, error) {
	var mu sync.Mutex
	return s.fetchLocked(ctx, &mu, kind, path)
}

func (s *exportSet) fetchLocked(ctx context.Context, mu *sync.Mutex, kind iac.ResourceKind, path string) (bool, error) {
	mu.Lock()
	_, haveConn := s.connectors[path]
	_, haveSubnet := s.subnets[path]
	known := s.known[path]
	if kind == iac.KindSubnet && !haveSubnet && known != nil {
		s.subnets[path] = known
		haveSubnet = true
	}
	mu.Unlock()
	if (kind == iac.KindConnector && haveConn) || (kind == iac.KindSubnet && haveSubnet) {
		return true, nil
	}
	if kind == iac.KindConnector {
		ref, err := egress.ParseConnectorRef(path, "", "")
		if err != nil {
			return false, err
		}
		cn, err := s.c.GetConnector(ctx, ref)
		if cloud.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		mu.Lock()
		s.connectors[cn.FullName] = cn
		mu.Unlock()
		return true, nil
	}
	ref, err := egress.ParseSubnetRef(path, "", "")
	if err != nil {
		return false, err
	}
	sn, err := s.c.GetSubnet(ctx, ref)
	if cloud.IsComputeNotFound(err) || cloud.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	mu.Lock()
	s.subnets[sn.Path] = sn
	mu.Unlock()
	return true, nil
}

// probe reports whether the connector or subnet at path exists, without adding it.
func (s *exportSet) probe(ctx context.Context, kind iac.ResourceKind, path string) (bool, error) {
	var err error
	if kind == iac.KindConnector {
		var ref egress.ConnectorRef
		if ref, err = egress.ParseConnectorRef(path, "", ""); err == nil {
			_, err = s.c.GetConnector(ctx, ref)
		}
	} else {
		var ref egress.SubnetRef
		if ref, err = egress.ParseSubnetRef(path, "", ""); err == nil {
			_, err = s.c.GetSubnet(ctx, ref)
		}
	}
	switch {
	case err == nil:
		return true, nil
	case cloud.IsNotFound(err) || cloud.IsComputeNotFound(err):
		return false, nil
	}
	return false, err
}

// handOff turns the set into what iac renders: created resources imported, deleted ones
// removed.
func (s *exportSet) handOff(created, deleted []exportRef) iac.HandOff {
	isCreated := func(kind iac.ResourceKind, path string) bool {
		return slices.ContainsFunc(created, func(r exportRef) bool { return r.kind == kind && r.path() == path })
	}
	h := iac.HandOff{Subject: s.subject, Notes: s.notes}
	for _, w := range s.workloads {
		h.Workloads = append(h.Workloads, iac.Workload{Ref: w.Ref, VPC: w.VPC})
	}
	for _, cn := range s.connectors {
		ic := iac.Connector{
			Project: cn.Project, Region: cn.Region, Name: cn.Name, MachineType: cn.MachineType,
			MinInstances: cn.MinInstances, MaxInstances: cn.MaxInstances, Import: isCreated(iac.KindConnector, cn.FullName),
		}
		if cn.SubnetPath() != "" {
			// A connector made in a subnet has no network of its own (a reader may have filled
			// in the subnet's): the subnet is what the provider takes.
			ic.Subnet = &iac.ConnectorSubnet{Name: cn.Subnet.Name, ProjectID: cn.Subnet.ProjectID}
		} else {
			ic.Network, ic.IPCIDRRange = cn.Network, cn.IPCIDRRange
		}
		ic.OtherUsers = s.otherUsers[cn.FullName]
		h.Connectors = append(h.Connectors, ic)
	}
	for _, sn := range s.subnets {
		is := iac.Subnet{
			Project: sn.Project, Region: sn.Region, Name: sn.Name, Network: sn.NetworkPath, IPCIDRRange: sn.IPCIDRRange,
			PrivateIPGoogleAccess: sn.PrivateIPGoogleAccess, Import: isCreated(iac.KindSubnet, sn.Path),
		}
		is.Description, is.DescriptionUnknown = subnetDescription(sn)
		if fl := sn.FlowLogs; fl != nil && fl.Enabled {
			is.FlowLogs = &iac.FlowLogs{AggregationInterval: fl.AggregationInterval, FlowSampling: fl.FlowSampling, Metadata: fl.Metadata}
		}
		for _, r := range sn.SecondaryRanges {
			is.SecondaryRanges = append(is.SecondaryRanges, iac.SecondaryRange{RangeName: r.RangeName, IPCIDRRange: r.IPCIDRRange})
		}
		is.StackType, is.IPv6AccessType = subnetStack(sn)
		is.OtherUsers = s.otherUsers[sn.Path]
		h.Subnets = append(h.Subnets, is)
	}
	for _, r := range deleted {
		h.Removed = append(h.Removed, iac.Removed{Kind: r.kind, Project: r.project, Region: r.region, Name: r.name})
	}
	return h
}

// subnetDescription is a subnet's Compute description, and whether it is unknown. A
// description can only be set at creation, so code without it would replace the subnet: the
// cloud layer's Subnet provides it through a GetDescription method; a subnet that does not is
// unknown, and the code says so.
func subnetDescription(sn any) (string, bool) {
	if d, ok := sn.(interface{ GetDescription() string }); ok {
		return d.GetDescription(), false
	}
	return "", true
}

// subnetStack is a subnet's stack type and IPv6 access type, as the cloud layer reads them
// (cloud.Subnet's GetStackType and GetIPv6AccessType: "" for IPv4 only, the providers'
// default).
func subnetStack(sn any) (stack, ipv6 string) {
	if s, ok := sn.(interface{ GetStackType() string }); ok {
		stack = s.GetStackType()
	}
	if s, ok := sn.(interface{ GetIPv6AccessType() string }); ok {
		ipv6 = s.GetIPv6AccessType()
	}
	return stack, ipv6
}

// ---------------------------------------------------------------------------------------
// The result.

// ExportResult is what `runnet export` prints. Its JSON field names are a documented, stable
// contract (see exportLong).
type ExportResult struct {
	As      string `json:"as"`
	Scope   string `json:"scope"`
	Project string `json:"project"`
	// Kind, Name, Region, Mode and Resource describe the workload (scope workload).
	Kind     string `json:"kind,omitempty"`
	Name     string `json:"name,omitempty"`
	Region   string `json:"region,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Resource string `json:"resource,omitempty"`
	// Connector is the connector's full name (scope connector).
	Connector string `json:"connector,omitempty"`
	// Regions are the regions read (scope all).
	Regions   []string    `json:"regions,omitempty"`
	Resources []iac.Entry `json:"resources"`
	Notes     []string    `json:"notes"`
	Snippet   string      `json:"snippet"`
}

// WriteText prints the code alone.
func (r ExportResult) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, r.Snippet)
	return err
}

// IaCHint returns the command that prints ref's VPC access as infrastructure code, for a
// command that has just changed it: "runnet export NAME --as terraform". The workload is named
// so that the command finds it again: by its short form when it is in the default project and
// region (and they did not come from flags), by its full name otherwise.
func IaCHint(f *Factory, ref egress.WorkloadRef) string {
	args := []string{"runnet"}
	if f.Options.Emulator {
		args = append(args, "--emulator")
	}
	name := ref.String()
	project, perr := f.Project()
	region, rerr := f.Region()
	if f.Options.Project != "" || f.Options.Region != "" || perr != nil || rerr != nil || project != ref.Project || region != ref.Region {
		name = ref.FullName()
	}
	args = append(args, "export", name, "--as", string(iac.Terraform))
	return strings.Join(args, " ")
}

// PrintIaCHint tells, in one line on stderr (unless --quiet), how to carry a change of ref's
// VPC access into infrastructure code. Commands that change a workload's VPC access (attach,
// detach, migrate) call it once the change is made.
func PrintIaCHint(f *Factory, ref egress.WorkloadRef) {
	if f.Options.Quiet || f.IOStreams.Quiet() {
		return
	}
	others := make([]string, 0, len(iac.Formats)-1)
	for _, x := range iac.Formats[1:] {
		others = append(others, string(x))
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "Update your infrastructure code to match: %s (or --as %s).\n", IaCHint(f, ref), strings.Join(others, ", "))
}
