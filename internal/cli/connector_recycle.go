package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

const connectorRecycleLong = `Scale a Serverless VPC Access connector in. Connectors scale out under load but never
back in: the instances they started keep running (and costing) until the connector is
deleted. recycle replaces connector NAME with a fresh one, which starts at its minimum:

  1. create the new connector (--new-name, default NAME-2, or NAME-3 after NAME-2, ...)
     with NAME's settings unless told otherwise (--machine-type, --min-instances,
     --max-instances), in the same network, and wait until it is READY;
  2. move every service and job whose template uses NAME to it, with the machinery of
     'runnet migrate' (preflight checks; for services a new revision at 0% traffic, Ready,
     then all the traffic, so nothing is interrupted; rolled back on failure),
     --concurrency at a time;
  3. delete NAME, only if nothing uses it any more, checked at that moment (templates, and
     revisions that still serve traffic or carry a tag, in NAME's project and in the other
     projects the API reports as connected to it).

Where the new connector goes. Both connectors exist at once, so the new one needs a /28
of its own:
  - NAME made with an IP range (ip_cidr_range): a /28 in the same network, --range CIDR
    or, by default (--range auto), the first free /28 next to NAME's range, else anywhere
    in RFC 1918 or RFC 6598 space, overlapping nothing in the network (subnets, secondary
    ranges, connectors; every region).
  - NAME made in a subnet (required for Shared VPC): --subnet S, an existing /28 subnet
    that nothing uses, or --create-subnet to create one first (named --subnet, default
    NEW-NAME-subnet, in the project and network of NAME's subnet, with its flow-log settings)
    in --range CIDR or a free /28 (--range auto, the default).
A connector made with a range can move into a subnet too (--subnet, --create-subnet). The
new connector always reaches NAME's network.

What can be checked without the API (names, ranges, instance counts, machine types) is
checked before any call (exit status 2). Settings that clash with NAME's (say --max-instances
3 with NAME's minimum of 3) are found after reading NAME, before any change (exit status 2
too); a --subnet that does not fit (not a /28, another network, already used, missing
without --create-subnet) or a --range that overlaps is exit status 3; nothing is changed.

Run again after a failure, it picks up where it stopped: a new connector of that name with
the same placement and settings is reused (one that differs is exit status 5), workloads
already on it are left alone, and NAME is deleted once nothing uses it. If NAME is already
gone and the new connector exists, the workloads that still name NAME are moved.

If a workload cannot be moved (preflight, rollback, error), the others still move, NAME is
kept, and the exit status is that of 'runnet migrate' for several workloads: 1 if any failed,
else 6 if any was rolled back, else 3 if any was blocked by a preflight check. When all moved
but something runnet does not move still uses NAME (a revision pinned in the traffic split,
a workload of another project), NAME is kept with a warning and the exit status is 0.
Recycle moves the workloads of NAME's own project only. It reads, from what serves them,
the workloads of every other project that may use NAME (the projects the API reports as
connected to it and, when NAME's project is a Shared VPC host, every service project
attached to it, as 'runnet migrate --all --from-connector' does); when some use it, the
dry run, the confirmation and the report (old.reason, old.users as PROJECT/WORKLOAD) name
them project by project and how (template, a revision's share of traffic, a tag, a running
execution), NAME is kept, and 'runnet migrate --all --from-connector NAME --to connector
--connector NEW' moves them.

--dry-run reads everything, prints the new connector's placement and settings, each
workload's plan and what the connectors would cost a month (the new one at its minimum
instances, where it starts), and changes nothing. Recycling asks for confirmation on a terminal; without
one it needs --yes. There is no --async: the workloads can only move once the new connector
is READY.

With --format json or yaml the report has these fields (a stable contract):

  old, new         the connectors {name, fullName, network, ipCidrRange, subnet, subnetRange,
                   machineType, minInstances, maxInstances, state, status, reason, users[],
                   error}; new.status: created, reused, planned or failed; old.status:
                   deleted, kept, planned, gone (it did not exist) or failed
  subnet           the subnet --create-subnet made {name, network, cidr, status, error}
  workloads[]      one 'runnet migrate' report per workload that used the old connector
  summary          {total, migrated, noOp, planned, blocked, rolledBack, failed, skipped}
  cost             {before, after, monthlySaving, currency, oldRuns}: the old connector's
                   cost a month and the new one's (each {amount, currency, instances,
                   perInstanceHour, fallback, source}); absent with --no-cost or when a
                   price cannot be read (a dry run then says why in notes[])
  dryRun, notes[], durationSeconds`

// ConnectorRecycleOptions are the inputs of `runnet connector recycle`.
type ConnectorRecycleOptions struct {
	f *Factory

	Name         string
	NewName      string
	Range        string
	Subnet       string
	CreateSubnet bool
	MachineType  string
	MinInstances int
	MaxInstances int
	Concurrency  int
	Force        []string
	DryRun       bool
	// NoCost is --no-cost: no Cloud Billing call (the report then has no cost).
	NoCost bool
	// Space is --space: where --range auto looks.
	Space string
	space []netip.Prefix

	// Which flags were given.
	set map[string]bool

	// Filled in by complete.
	old        egress.ConnectorRef
	newRef     egress.ConnectorRef
	rangeCIDR  netip.Prefix // --range CIDR; invalid for auto
	subnetName string       // --subnet's name, or ""
	subnetProj string       // --subnet's project when given as a path, or ""

	// observer, if set, receives every executor event (tests use it).
	observer egress.Observer
}

// NewCmdConnectorRecycle returns `runnet connector recycle`. runF, if not nil, replaces the
// run step (for tests).
func NewCmdConnectorRecycle(f *Factory, runF func(context.Context, *ConnectorRecycleOptions) error) *cobra.Command {
	o := &ConnectorRecycleOptions{f: f}
	cmd := &cobra.Command{
		Use:   "recycle NAME [--new-name N] [--range CIDR|auto | --subnet S [--create-subnet]] [flags]",
		Short: "Scale a connector in: replace it with a fresh one, move its users without downtime, delete it",
		Long:  connectorRecycleLong,
		Example: `  # A connector made with a range that scaled out to 10 instances: recycle it into
  # wide-connector-2 (the next free /28 of its network, its settings, but at most 3
  # instances), moving its users:
  runnet connector recycle wide-connector --max-instances 3 --yes

  # A connector made in a /28 subnet: create the new one's subnet in a free /28 first:
  runnet connector recycle run-connector --create-subnet --yes

  # See what it would do, changing nothing:
  runnet connector recycle wide-connector --new-name wide-b --range 10.8.1.0/28 --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			o.set = map[string]bool{}
			cmd.Flags().Visit(func(fl *pflag.Flag) { o.set[fl.Name] = true })
			if err := o.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.NewName, "new-name", "", "name of the new connector (default: NAME-2, or NAME-N+1 when NAME ends in -N)")
	fl.StringVar(&o.Range, "range", rangeAuto, `the new connector's /28 (or, with --create-subnet, its subnet's): a CIDR, or "auto" for a free one`)
	fl.StringVar(&o.Subnet, "subnet", "", "an unused /28 subnet for the new connector (NAME or projects/HOST/regions/REGION/subnetworks/NAME); with --create-subnet, the one to create")
	fl.BoolVar(&o.CreateSubnet, "create-subnet", false, "create the new connector's /28 subnet first (named --subnet, default NEW-NAME-subnet)")
	fl.StringVar(&o.MachineType, "machine-type", "", "machine type of the new connector: "+strings.Join(connectorMachineTypes, ", ")+" (default: the old one's)")
	fl.IntVar(&o.MinInstances, "min-instances", 0, "minimum instances of the new connector, 2 to 9 (default: the old one's)")
	fl.IntVar(&o.MaxInstances, "max-instances", 0, "maximum instances of the new connector, 3 to 10 (default: the old one's)")
	fl.IntVar(&o.Concurrency, "concurrency", defaultMigrateConcurrency, "how many workloads move at once")
	fl.StringSliceVar(&o.Force, "force", nil, "move workloads although these preflight checks fail, comma-separated check names")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the new connector and the plans, change nothing")
	fl.StringVar(&o.Space, "space", "", "with --range auto, where to look: rfc1918, rfc6598 or all (default: next to the old connector's range, then rfc1918, then rfc6598)")
	_ = cmd.RegisterFlagCompletionFunc("space", cobra.FixedCompletions([]string{ipam.SpaceRFC1918, ipam.SpaceRFC6598, ipam.SpaceAll}, cobra.ShellCompDirectiveNoFileComp))
	fl.BoolVar(&o.NoCost, "no-cost", false, "do not read prices from the Cloud Billing Catalog (the report then shows no cost)")
	_ = cmd.RegisterFlagCompletionFunc("machine-type", cobra.FixedCompletions(connectorMachineTypes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("force", cobra.FixedCompletions(forceableChecks(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// defaultRecycleName is the new connector's default name: NAME-2, or NAME-(N+1) when NAME
// ends in -N; shortened to fit the connector name limit.
func defaultRecycleName(old string) string {
	base, n := old, 2
	if i := strings.LastIndexByte(old, '-'); i > 0 && i < len(old)-1 && old[i+1] != '0' {
		if k, err := strconv.Atoi(old[i+1:]); err == nil && k > 0 && k < 1_000_000 {
			base, n = old[:i], k+1
		}
	}
	suffix := "-" + strconv.Itoa(n)
	if len(base)+len(suffix) > egress.MaxConnectorNameLength {
		base = strings.TrimRight(base[:egress.MaxConnectorNameLength-len(suffix)], "-")
	}
	return base + suffix
}

// complete checks every input that can be checked without the API.
func (o *ConnectorRecycleOptions) complete() error {
	ref, err := parseConnectorArg(o.f, o.Name)
	if err != nil {
		return err
	}
	o.old = ref
	name := o.NewName
	if o.set["new-name"] {
		if strings.Contains(name, "/") {
			return exitcode.Usagef("--new-name: give the new connector's NAME only; it is created in the old one's project and region (%s, %s)", ref.Project, ref.Region)
		}
		if err := egress.ValidateConnectorName(name); err != nil {
			return usageErr("--new-name", err)
		}
		if name == ref.Name {
			return exitcode.Usagef("--new-name: %s is the connector being recycled; the new one needs another name", name)
		}
	} else {
		name = defaultRecycleName(ref.Name)
	}
	o.newRef = egress.ConnectorRef{Project: ref.Project, Region: ref.Region, Name: name}

	if o.set["space"] {
		sp, _, err := parseSpaceFlag(o.Space, true, strings.EqualFold(o.Range, rangeAuto), true)
		if err != nil {
			return err
		}
		o.space = sp
	}
	if o.set["range"] && !strings.EqualFold(o.Range, rangeAuto) {
		p, err := ValidateConnectorRange(o.Range)
		if err != nil {
			return usageErr("--range", err)
		}
		o.rangeCIDR = p
	}
	if o.set["subnet"] {
		// The project of a short name is known once the old connector is read (its
		// subnet's); any valid project parses it here.
		s, err := egress.ParseSubnetRef(o.Subnet, ref.Project, ref.Region)
		if err != nil {
			return usageErr("--subnet", err)
		}
		if s.Region != ref.Region {
			return exitcode.Usagef("--subnet: %s is in region %s; a connector in %s needs a subnet of its own region", o.Subnet, s.Region, ref.Region)
		}
		o.subnetName = s.Name
		if strings.Contains(o.Subnet, "/") {
			o.subnetProj = s.Project
		}
	}
	if o.set["subnet"] && o.set["range"] && !o.CreateSubnet {
		return exitcode.Usagef("--range and --subnet: the new connector goes in a range or in a subnet; to create --subnet in --range, add --create-subnet")
	}

	// Each given setting on its own (their combination with the old connector's is
	// checked once it is read).
	if o.set["min-instances"] {
		if err := ValidateConnectorSize(o.MinInstances, connectorMaxInstancesHigh, cloud.DefaultConnectorMachineType); err != nil {
			return err
		}
	}
	if o.set["max-instances"] {
		if err := ValidateConnectorSize(connectorMinInstancesLow, o.MaxInstances, cloud.DefaultConnectorMachineType); err != nil {
			return err
		}
	}
	if o.set["machine-type"] {
		if err := ValidateConnectorSize(connectorMinInstancesLow, connectorMaxInstancesHigh, o.MachineType); err != nil {
			return err
		}
	}
	if o.set["min-instances"] && o.set["max-instances"] {
		if err := ValidateConnectorSize(o.MinInstances, o.MaxInstances, cloud.DefaultConnectorMachineType); err != nil {
			return err
		}
	}
	if o.Concurrency < 1 || o.Concurrency > maxMigrateConcurrency {
		return exitcode.Usagef("--concurrency: %d is out of range; valid: 1 to %d", o.Concurrency, maxMigrateConcurrency)
	}
	if _, err := egress.ApplyForce(nil, o.Force); err != nil {
		return exitcode.Usagef("%v", err)
	}
	if !o.DryRun && !o.f.Options.Yes && !o.f.IOStreams.CanPrompt() {
		return exitcode.Usagef("recycling a connector needs confirmation and cannot ask without a terminal; pass --yes to proceed (or --dry-run to see the plan)")
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Report.

// RecycledConnector is the old or the new connector of a recycle. JSON field names are a
// stable contract.
type RecycledConnector struct {
	Name         string `json:"name"`
	FullName     string `json:"fullName"`
	Network      string `json:"network,omitempty"` // projects/P/global/networks/N
	IPCIDRRange  string `json:"ipCidrRange,omitempty"`
	Subnet       string `json:"subnet,omitempty"` // projects/P/regions/R/subnetworks/S
	SubnetRange  string `json:"subnetRange,omitempty"`
	MachineType  string `json:"machineType,omitempty"`
	MinInstances int    `json:"minInstances,omitempty"`
	MaxInstances int    `json:"maxInstances,omitempty"`
	State        string `json:"state,omitempty"`
	// Status is, for the new connector, created, reused, planned or failed; for the old
	// one deleted, kept, planned, gone or failed.
	Status string `json:"status"`
	// Reason says why (the old connector kept, the new one reused, ...).
	Reason string `json:"reason,omitempty"`
	// Users are what still uses the old connector, when it was kept for them.
	Users []string `json:"users,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Statuses of RecycledConnector.
const (
	recycleCreated = "created"
	recycleReused  = "reused"
	recyclePlanned = "planned"
	recycleFailed  = "failed"
	recycleDeleted = "deleted"
	recycleKept    = "kept"
	recycleGone    = "gone"
)

// RecycleReport is what `runnet connector recycle` prints. JSON field names are a stable
// contract (see connectorRecycleLong).
type RecycleReport struct {
	Old       RecycledConnector         `json:"old"`
	New       RecycledConnector         `json:"new"`
	Subnet    *migration.SubnetCreation `json:"subnet,omitempty"`
	Workloads []MigrationReport         `json:"workloads"`
	Summary   FleetSummary              `json:"summary"`
	DryRun    bool                      `json:"dryRun"`
	Notes     []string                  `json:"notes,omitempty"`
	// Cost is what the old connector cost a month and what the new one costs, when both
	// could be read (not with --no-cost); in a dry run, what they would cost, the new one at
	// its minimum (a note says why when there is none).
	Cost            *RecycleCost `json:"cost,omitempty"`
	DurationSeconds float64      `json:"durationSeconds"`
}

// RecycleCost is what a recycle changes on the bill: the old connector's instances at its
// current (scaled-out) count, the new one's at its count now. JSON field names are a stable
// contract.
type RecycleCost struct {
	Before *UseCost `json:"before"`
	After  *UseCost `json:"after"`
	// MonthlySaving is Before - After (in Before's currency) once the old connector is
	// deleted. While it still runs (OldRuns: kept for a workload that did not move, or its
	// deletion failed) both are billed, and it is -After: the recycle costs that much more.
	MonthlySaving float64 `json:"monthlySaving"`
	Currency      string  `json:"currency"`
	OldRuns       bool    `json:"oldRuns,omitempty"`
}

// newRecycleCost is what the recycle changes on the bill, given whether the old connector
// still runs.
func newRecycleCost(before, after *UseCost, oldRuns bool) *RecycleCost {
	c := &RecycleCost{Before: before, After: after, Currency: before.Currency, OldRuns: oldRuns,
		MonthlySaving: round2(before.Amount - after.Amount)}
	if oldRuns {
		c.MonthlySaving = -after.Amount
	}
	return c
}

// line renders the cost as one line: "Cost: 21.39 USD a month before (3 f1-micro
// instances), 14.26 USD after (2): saves 7.13 USD a month.", or, while the old connector
// still runs, what both cost.
func (c *RecycleCost) line(oldName string, dryRun bool) string {
	// A dry run says the same in the conditional: what the connectors would cost.
	now, before, runs, saves := "", "before", "still runs", "saves"
	if dryRun {
		now, before, runs, saves = " now", "now", "would still run", "would save"
	}
	if c.OldRuns {
		return fmt.Sprintf("Cost: %s a month%s for %s (%d instance%s), which %s, plus %s for the new connector (%d): %s %s a month more until %s is deleted.",
			c.Before, now, oldName, c.Before.Instances, netPlural(c.Before.Instances), runs, c.After, c.After.Instances,
			strconv.FormatFloat(-c.MonthlySaving, 'f', 2, 64), c.Currency, oldName)
	}
	return fmt.Sprintf("Cost: %s a month %s (%d instance%s), %s after (%d): %s %s %s a month.",
		c.Before, before, c.Before.Instances, netPlural(c.Before.Instances), c.After, c.After.Instances,
		saves, strconv.FormatFloat(c.MonthlySaving, 'f', 2, 64), c.Currency)
}

func (c RecycledConnector) placement() string {
	var parts []string
	switch {
	case c.Subnet != "" && c.SubnetRange != "":
		parts = append(parts, fmt.Sprintf("subnet %s (%s)", egress.ShortName(c.Subnet), c.SubnetRange))
	case c.Subnet != "":
		parts = append(parts, "subnet "+egress.ShortName(c.Subnet))
	case c.IPCIDRRange != "":
		parts = append(parts, c.IPCIDRRange)
	}
	if c.Network != "" {
		parts = append(parts, "network "+egress.ShortName(c.Network))
	}
	if c.MachineType != "" {
		parts = append(parts, c.MachineType)
	}
	if c.MaxInstances > 0 {
		parts = append(parts, fmt.Sprintf("%d to %d instances", c.MinInstances, c.MaxInstances))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ")
}

// WriteText renders the report for humans: the two connectors, the workloads as in a fleet
// migration, and what became of the old connector.
func (r RecycleReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	newLine := r.New.Status
	if r.New.Error != "" {
		newLine += ": " + oneLine(r.New.Error)
	} else if r.New.Reason != "" {
		newLine += " (" + r.New.Reason + ")"
	}
	oldPlacement := r.Old.placement()
	if oldPlacement == "" {
		oldPlacement = "(does not exist)"
	}
	fmt.Fprintf(tw, "Old connector:\t%s\t%s\n", r.Old.Name, oldPlacement)
	fmt.Fprintf(tw, "New connector:\t%s\t%s: %s\n", r.New.Name, r.New.placement(), newLine)
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	if r.Subnet != nil {
		b.WriteString(subnetLine(r.Subnet) + "\n")
	}
	b.WriteString("\n")
	if len(r.Workloads) == 0 {
		fmt.Fprintf(&b, "No workload uses connector %s.\n", r.Old.Name)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(r.Workloads) > 0 {
		fr := FleetReport{Workloads: r.Workloads, Summary: r.Summary, DurationSeconds: r.DurationSeconds}
		if err := fr.WriteText(w); err != nil {
			return err
		}
	}
	b.Reset()
	fmt.Fprintf(&b, "\nOld connector %s: %s", r.Old.Name, r.Old.Status)
	switch {
	case r.Old.Error != "":
		b.WriteString(": " + oneLine(r.Old.Error))
	case r.Old.Reason != "":
		b.WriteString(": " + r.Old.Reason)
	}
	b.WriteString("\n")
	if r.Cost != nil {
		b.WriteString(r.Cost.line(r.Old.Name, r.DryRun) + "\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ---------------------------------------------------------------------------------------
// Run.

func (o *ConnectorRecycleOptions) run(ctx context.Context) error {
	start := time.Now()
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	eng := newEngine(o.f, c, engineOptions{Observer: o.observer})
	rc, err := eng.PrepareRecycle(ctx, o.request())
	if err != nil {
		return err
	}
	rep := RecycleReport{DryRun: o.DryRun, Old: o.oldView(rc), New: o.newView(rc), Notes: shared.RenderAll(rc.Notes)}
	// The new connector is created as connector create makes one: a slow machine type (kept
	// from the old connector, or chosen) is warned about, with the flag that avoids it.
	if chk := egress.ConnectorMachineTypeCheck(o.newRef.Name, rc.Spec.MachineType); chk.Status == egress.StatusWarn && rc.Existing == nil {
		netWarn(o.f, "%s: %s; use e2-standard-4 for production traffic (--machine-type e2-standard-4)", chk.Name, chk.Message)
	}
	if rc.CreateSubnet != nil {
		s := rc.CreateSubnet
		rep.Subnet = &migration.SubnetCreation{Name: s.Ref.Path(), Network: s.Network, CIDR: s.IPCIDRRange, Status: recyclePlanned}
	}

	if o.DryRun {
		rep.Workloads = o.dryRunReports(ctx, eng, rc)
		rep.Summary = summarize(rep.Workloads)
		switch {
		case rc.Old == nil:
		case len(rc.OtherUsers) > 0:
			reason, users := migration.OtherProjectsKeepReason(rc.OtherUsers, o.old, o.newRef)
			rep.Old.Status, rep.Old.Reason, rep.Old.Users = recyclePlanned, "kept at the end: "+reason, users
			netWarn(o.f, "connector %s will be kept: %s", o.old.Name, reason)
		default:
			rep.Old.Status, rep.Old.Reason = recyclePlanned, "deleted at the end if nothing uses it then"
		}
		for _, w := range rc.OtherWarnings {
			netWarn(o.f, "%s", w)
		}
		var why string
		if rep.Cost, why = o.plannedCost(ctx, c, rc, len(rc.OtherUsers) > 0); why != "" {
			rep.Notes = append(rep.Notes, "cost not shown: "+why)
		}
		rep.DurationSeconds = roundSeconds(time.Since(start))
		netNotice(o.f, "Dry run: nothing was changed.")
		return p.Print(rep)
	}

	if err := o.confirm(rc); err != nil {
		return err
	}

	var before *UseCost
	if !o.NoCost && rc.Old != nil {
		before = readConnectorUse(ctx, c, rc.Old, false).MonthlyCost
	}

	// 1. The new connector (and its subnet).
	if err := eng.ProvideConnector(ctx, rc); err != nil {
		switch {
		case rc.SubnetErr != nil:
			rep.Subnet.Status, rep.Subnet.Error = recycleFailed, rc.SubnetErr.Error()
			rep.New.Status, rep.New.Error = recycleFailed, "not created: its subnet could not be created"
		default:
			rep.New.Status, rep.New.Error = recycleFailed, err.Error()
		}
		return o.abort(p, rep, start, err)
	}
	if rep.Subnet != nil {
		rep.Subnet.Status = string(egress.StepDone)
	}
	if rc.ConnectorState != "" {
		rep.New.State = rc.ConnectorState
	}
	if rc.Existing == nil {
		netNotice(o.f, "Connector %s is READY (%s).", o.newRef.Name, rep.New.placement())
	}

	// 2. The workloads, and 3. the old connector.
	eng.MoveUsers(ctx, rc)
	rep.Workloads = make([]MigrationReport, 0, len(rc.Migrations))
	for _, m := range rc.Migrations {
		rep.Workloads = append(rep.Workloads, NewMigrationReport(m, false))
	}
	rep.Summary = summarize(rep.Workloads)
	o.oldOutcome(rc, &rep)
	if before != nil {
		if cur, err := c.GetConnector(ctx, o.newRef); err == nil {
			if after := readConnectorUse(ctx, c, cur, false).MonthlyCost; after != nil && after.Currency == before.Currency {
				rep.Cost = newRecycleCost(before, after, rep.Old.Status != recycleDeleted && rep.Old.Status != recycleGone)
			}
		}
	}
	rep.DurationSeconds = roundSeconds(time.Since(start))
	if err := p.Print(rep); err != nil {
		return err
	}
	o.iacHint(rep)
	err = verdictError(eng.RecycleVerdict(rc))
	if err == nil && rep.Old.Status == recycleKept {
		netWarn(o.f, "connector %s was kept: %s. It still runs (and costs) until it is deleted.", o.old.Name, rep.Old.Reason)
	}
	return err
}

// plannedCost is what a dry run expects the recycle to change on the bill: the old connector
// at its current instance count, as the recycle reads it, and the new one at its minimum (a
// new connector starts there; one that exists already at its current count). oldRuns is
// whether the old connector would be kept. Without a cost, why says what is missing.
func (o *ConnectorRecycleOptions) plannedCost(ctx context.Context, c *cloud.Clients, rc *migration.Recycle, oldRuns bool) (cost *RecycleCost, why string) {
	switch {
	case o.NoCost:
		return nil, "--no-cost reads no prices"
	case rc.Old == nil:
		return nil, "connector " + o.old.Name + " does not exist"
	}
	bu := readConnectorUse(ctx, c, rc.Old, false)
	if bu.MonthlyCost == nil {
		return nil, "connector " + rc.Old.Name + ": " + costGap(bu.UseNotes)
	}
	var after *UseCost
	if rc.Existing != nil {
		au := readConnectorUse(ctx, c, rc.Existing, false)
		if after = au.MonthlyCost; after == nil {
			return nil, "connector " + o.newRef.Name + ": " + costGap(au.UseNotes)
		}
	} else {
		s := rc.Spec
		p, err := c.Pricer().InstanceHourly(ctx, o.newRef.Region, s.MachineType)
		if err != nil {
			return nil, "connector " + o.newRef.Name + ": " + err.Error()
		}
		after = &UseCost{Amount: egress.MonthlyCost(s.MinInstances, p.Hourly), Currency: p.Currency, Instances: s.MinInstances,
			PerInstanceHour: p.Hourly, Fallback: p.Fallback,
			Source: fmt.Sprintf("a new connector starts at its minimum of %d instances; the price: %s", s.MinInstances, p.Source)}
	}
	if after.Currency != bu.MonthlyCost.Currency {
		return nil, fmt.Sprintf("the prices are in %s and %s", bu.MonthlyCost.Currency, after.Currency)
	}
	return newRecycleCost(bu.MonthlyCost, after, oldRuns), ""
}

// costGap is why readConnectorUse found no cost, from its notes.
func costGap(notes []string) string {
	for _, n := range notes {
		if strings.HasPrefix(n, "cost unknown: ") {
			return n
		}
	}
	if len(notes) > 0 {
		return notes[0]
	}
	return "cost unknown"
}

// request is the engine's request: the connectors and the settings, as complete found them.
func (o *ConnectorRecycleOptions) request() migration.RecycleRequest {
	req := migration.RecycleRequest{Old: o.old, New: o.newRef, Range: o.rangeCIDR, RangeGiven: o.set["range"],
		SubnetName: o.subnetName, SubnetProject: o.subnetProj, CreateSubnet: o.CreateSubnet,
		ValidateSize: ValidateConnectorSize, Concurrency: o.Concurrency, Force: o.Force, Space: o.space}
	if o.set["machine-type"] {
		req.MachineType = o.MachineType
	}
	if o.set["min-instances"] {
		req.MinInstances = o.MinInstances
	}
	if o.set["max-instances"] {
		req.MaxInstances = o.MaxInstances
	}
	return req
}

// abort prints the report of a recycle that stopped before moving anything and returns err.
func (o *ConnectorRecycleOptions) abort(p interface{ Print(any) error }, rep RecycleReport, start time.Time, err error) error {
	if rep.Workloads == nil {
		rep.Workloads = []MigrationReport{}
	}
	if rep.Old.Status != recycleGone {
		rep.Old.Status, rep.Old.Reason = recycleKept, "the new connector is not ready, so nothing was moved"
	}
	rep.DurationSeconds = roundSeconds(time.Since(start))
	if perr := p.Print(rep); perr != nil {
		return perr
	}
	return err
}

// dryRunReports are the workloads' plans without changing anything: checked by the
// preflight when the new connector is READY already, plain plans otherwise.
func (o *ConnectorRecycleOptions) dryRunReports(ctx context.Context, eng *migration.Engine, rc *migration.Recycle) []MigrationReport {
	ms, checked := eng.DryRun(ctx, rc)
	out := make([]MigrationReport, 0, len(ms))
	for _, m := range ms {
		r := NewMigrationReport(m, true)
		if !checked && r.Outcome == egress.OutcomeSkipped {
			r.Outcome = egress.OutcomePlanned
			for i := range r.Steps {
				r.Steps[i].Note = "dry run"
			}
			r.Notes = append(r.Notes, fmt.Sprintf("the preflight checks run once connector %s exists (a dry run does not create it)", o.newRef.Name))
		}
		out = append(out, r)
	}
	return out
}

// confirm asks once, on a terminal.
func (o *ConnectorRecycleOptions) confirm(rc *migration.Recycle) error {
	if o.f.Options.Yes {
		return nil
	}
	var names []string
	for _, w := range rc.Workloads {
		names = append(names, w.Ref.String())
	}
	what := "no workload uses it"
	if len(names) > 0 {
		what = fmt.Sprintf("move %s to it", strings.Join(names, ", "))
	}
	verb := "create"
	if rc.Existing != nil {
		verb = "use the existing"
	}
	then := fmt.Sprintf("then delete %s if nothing uses it", o.old.Name)
	if len(rc.OtherUsers) > 0 {
		desc, _ := migration.DescribeProjectUsers(rc.OtherUsers)
		then = fmt.Sprintf("and keep %s: workloads of other projects use it, which recycle does not move (%s)", o.old.Name, desc)
	}
	q := fmt.Sprintf("Recycle connector %s: %s connector %s (%s), %s, %s?",
		o.old.Name, verb, o.newRef.Name, o.newView(rc).placement(), what, then)
	ok, err := o.f.Confirm(q)
	if err != nil {
		return err
	}
	if !ok {
		return exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
	}
	return nil
}

// oldOutcome records in the report what became of the old connector.
func (o *ConnectorRecycleOptions) oldOutcome(rc *migration.Recycle, rep *RecycleReport) {
	switch {
	case rc.Old == nil:
	case rc.OldKept != "":
		rep.Old.Status, rep.Old.Reason, rep.Old.Users = recycleKept, rc.OldKept, rc.OldUsers
	case rc.OldDeleted:
		rep.Old.Status, rep.Old.Reason = recycleDeleted, "nothing used it any more"
		if s := rc.OldSubnet; s != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("subnet %s (%s), the old connector's, is unused now: keep it for the next recycle (--subnet %s) or delete it (runnet subnet delete %s)",
				s.Name, s.IPCIDRRange, s.Name, s.Name))
		}
	case rc.OldErr != nil:
		rep.Old.Status, rep.Old.Error = recycleFailed, rc.OldErr.Error()
	}
}

// iacHint says, on stderr, what infrastructure code must follow (unless --quiet).
func (o *ConnectorRecycleOptions) iacHint(rep RecycleReport) {
	if o.f.Options.Quiet || o.f.IOStreams.Quiet() {
		return
	}
	var moved []string
	for _, w := range rep.Workloads {
		if w.Outcome == egress.OutcomeMigrated {
			moved = append(moved, w.Workload)
		}
	}
	if len(moved) == 0 && rep.New.Status != recycleCreated {
		return
	}
	msg := fmt.Sprintf("Update your infrastructure code to match: connector %s replaces %s", o.newRef.Name, o.old.Name)
	if p := rep.New.placement(); p != "" {
		msg += " (" + p + ")"
	}
	if len(moved) > 0 {
		verb := "use"
		if len(moved) == 1 {
			verb = "uses"
		}
		msg += fmt.Sprintf(", and %s %s it ('runnet export WORKLOAD --as terraform' prints each one's settings)", strings.Join(moved, ", "), verb)
	}
	fmt.Fprintln(o.f.IOStreams.ErrOut, msg+".")
}

// oldView is the old connector as the report shows it.
func (o *ConnectorRecycleOptions) oldView(rc *migration.Recycle) RecycledConnector {
	v := RecycledConnector{Name: o.old.Name, FullName: o.old.FullName(), Network: rc.OldNetwork}
	if rc.Old == nil {
		v.Status, v.Reason = recycleGone, "it does not exist"
		return v
	}
	old := rc.Old
	v.IPCIDRRange, v.Subnet, v.State = old.IPCIDRRange, old.SubnetPath(), old.State
	v.MachineType, v.MinInstances, v.MaxInstances = old.MachineType, old.MinInstances, old.MaxInstances
	if rc.OldSubnet != nil {
		v.SubnetRange = rc.OldSubnet.IPCIDRRange
	}
	return v
}

// newView is the new connector as the report shows it (before it is created).
func (o *ConnectorRecycleOptions) newView(rc *migration.Recycle) RecycledConnector {
	s := rc.Spec
	v := RecycledConnector{Name: o.newRef.Name, FullName: o.newRef.FullName(), Network: rc.Network,
		IPCIDRRange: s.IPCIDRRange, SubnetRange: rc.SubnetRange,
		MachineType: s.MachineType, MinInstances: s.MinInstances, MaxInstances: s.MaxInstances, Status: recycleCreated}
	if s.Subnet != nil {
		v.Subnet = s.Subnet.Path(o.newRef.Project, o.newRef.Region)
	}
	switch {
	case o.DryRun && rc.Existing == nil:
		v.Status = recyclePlanned
	case rc.Existing != nil:
		v.Status, v.Reason, v.State = recycleReused, "it existed already with these settings", rc.Existing.State
	}
	return v
}
