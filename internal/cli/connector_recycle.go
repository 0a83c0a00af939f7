package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
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

--dry-run reads everything, prints the new connector's placement and settings and each
workload's plan, and changes nothing. Recycling asks for confirmation on a terminal; without
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
	_ = cmd.RegisterFlagCompletionFunc("machine-type", cobra.FixedCompletions(connectorMachineTypes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("force", cobra.FixedCompletions(forceableChecks(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// recycleSubnetSuffix names the subnet --create-subnet makes without --subnet.
const recycleSubnetSuffix = "-subnet"

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
	Old             RecycledConnector `json:"old"`
	New             RecycledConnector `json:"new"`
	Subnet          *SubnetCreation   `json:"subnet,omitempty"`
	Workloads       []MigrationReport `json:"workloads"`
	Summary         FleetSummary      `json:"summary"`
	DryRun          bool              `json:"dryRun"`
	Notes           []string          `json:"notes,omitempty"`
	DurationSeconds float64           `json:"durationSeconds"`
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
	if s := r.Subnet; s != nil {
		fmt.Fprintf(&b, "Subnet %s (%s in %s): %s", egress.ShortName(s.Name), s.CIDR, egress.ShortName(s.Network), s.Status)
		if s.Error != "" {
			b.WriteString(": " + s.Error)
		}
		b.WriteString("\n")
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

// recycleState is what a run works out before it changes anything.
type recycleState struct {
	old      *cloud.Connector // nil when it no longer exists
	oldSub   *cloud.Subnet    // the old connector's subnet, when it was made in one
	oldNet   string           // the network the old connector reaches (path), if known
	existing *cloud.Connector // the new connector, when it already exists
	spec     cloud.ConnectorSpec
	network  string // the new connector's network (path)
	subRange string // the range of the new connector's subnet
	create   *cloud.SubnetSpec
	all      []*cloud.Workload
	ws       []*cloud.Workload // the workloads whose template uses the old connector
	notes    []string
}

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
	st, err := o.prepare(ctx, c)
	if err != nil {
		return err
	}
	rep := RecycleReport{DryRun: o.DryRun, Old: o.oldView(st), New: o.newView(st), Notes: st.notes}
	if st.create != nil {
		s := st.create
		rep.Subnet = &SubnetCreation{Name: s.Ref.Path(), Network: s.Network, CIDR: s.IPCIDRRange, Status: recyclePlanned}
	}
	target := o.target(st)
	fl := &Fleet{F: o.f, C: c, Concurrency: o.Concurrency, Force: o.Force, CleanupAtEnd: true, Observer: o.observer}

	if o.DryRun {
		rep.Workloads = o.dryRunReports(ctx, fl, st, target)
		rep.Summary = summarize(rep.Workloads)
		if st.old != nil {
			rep.Old.Status, rep.Old.Reason = recyclePlanned, "deleted at the end if nothing uses it then"
		}
		rep.DurationSeconds = roundSeconds(time.Since(start))
		netNotice(o.f, "Dry run: nothing was changed.")
		return p.Print(rep)
	}

	if err := o.confirm(st); err != nil {
		return err
	}

	// 1. The new connector (and its subnet).
	if st.create != nil {
		done := startWait(o.f, "Creating subnet "+st.create.Ref.Name)
		_, err := c.CreateSubnet(ctx, *st.create, waitOptions(o.f, false))
		done()
		if err != nil {
			rep.Subnet.Status, rep.Subnet.Error = recycleFailed, err.Error()
			rep.New.Status, rep.New.Error = recycleFailed, "not created: its subnet could not be created"
			return o.abort(p, rep, start, fmt.Errorf("create subnet %s for connector %s: %w", st.create.Ref.Name, o.newRef.Name, err))
		}
		rep.Subnet.Status = string(egress.StepDone)
		netNotice(o.f, "Created subnet %s (%s) for connector %s.", st.create.Ref.Name, st.create.IPCIDRRange, o.newRef.Name)
	}
	if st.existing == nil || st.existing.State != cloud.ConnectorReady {
		done := startWait(o.f, "Creating connector "+st.spec.Ref.Name)
		conn, err := c.CreateConnector(ctx, st.spec, waitOptions(o.f, false))
		done()
		if err != nil {
			rep.New.Status, rep.New.Error = recycleFailed, err.Error()
			return o.abort(p, rep, start, err)
		}
		rep.New.State = conn.State
	}
	if st.existing == nil {
		netNotice(o.f, "Connector %s is READY (%s).", o.newRef.Name, rep.New.placement())
	}

	// 2. The workloads.
	ms := fl.Prepare(ctx, st.ws, target, nil)
	if ctx.Err() == nil {
		fl.Apply(ctx, ms)
	} else {
		for _, m := range ms {
			if m.Runnable() {
				m.Skip("interrupted before it started: nothing was changed")
			}
		}
	}
	for _, m := range ms {
		rep.Workloads = append(rep.Workloads, m.Report(false))
	}
	if rep.Workloads == nil {
		rep.Workloads = []MigrationReport{}
	}
	rep.Summary = summarize(rep.Workloads)

	// 3. The old connector.
	var cleanup []ConnectorCleanup
	if st.old != nil {
		cleanup = o.retire(ctx, c, fl, ms, st, &rep)
	}
	rep.DurationSeconds = roundSeconds(time.Since(start))
	if err := p.Print(rep); err != nil {
		return err
	}
	o.iacHint(rep)
	err = migrateError(ms, cleanup)
	if err == nil && rep.Old.Status == recycleKept {
		netWarn(o.f, "connector %s was kept: %s. It still runs (and costs) until it is deleted.", o.old.Name, rep.Old.Reason)
	}
	return err
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

// prepare reads what the recycle depends on and works out the new connector, changing
// nothing. Errors carry their exit status: 2 for settings that clash, 3 for a subnet or
// range that does not fit, 5 for a new connector that exists and differs.
func (o *ConnectorRecycleOptions) prepare(ctx context.Context, c *cloud.Clients) (*recycleState, error) {
	st := &recycleState{}
	var oldErr, newErr, wsErr error
	var wg sync.WaitGroup
	wg.Go(func() { st.old, oldErr = c.GetConnector(ctx, o.old) })
	wg.Go(func() { st.existing, newErr = c.GetConnector(ctx, o.newRef) })
	wg.Go(func() { st.all, wsErr = c.ListWorkloads(ctx, o.old.Project, o.old.Region) })
	wg.Wait()
	if newErr != nil {
		if !cloud.IsNotFound(newErr) {
			return nil, newErr
		}
		st.existing = nil
	}
	if oldErr != nil {
		if !cloud.IsNotFound(oldErr) {
			return nil, oldErr
		}
		st.old = nil
		if st.existing == nil {
			return nil, fmt.Errorf("connector %s does not exist in project %s, region %s, and neither does %s: nothing to recycle (see 'runnet connector list'): %w",
				o.old.Name, o.old.Project, o.old.Region, o.newRef.Name, oldErr)
		}
		st.notes = append(st.notes, fmt.Sprintf("connector %s no longer exists (an earlier run deleted it?); %s does: the workloads that still name %s move to it", o.old.Name, o.newRef.Name, o.old.Name))
	}
	if wsErr != nil {
		return nil, wsErr
	}
	for _, w := range st.all {
		if usesConnector(w, o.old) {
			st.ws = append(st.ws, w)
		}
	}

	// The old connector's network (and subnet).
	if st.old != nil {
		if path := st.old.SubnetPath(); path != "" {
			sref, err := egress.ParseSubnetRef(path, "", "")
			if err != nil {
				return nil, fmt.Errorf("connector %s's subnet %s: %w", o.old.Name, path, err)
			}
			s, err := c.GetSubnet(ctx, sref)
			if err != nil {
				return nil, fmt.Errorf("read subnet %s of connector %s: %w", sref.Name, o.old.Name, err)
			}
			st.oldSub, st.oldNet = s, s.NetworkPath
		} else {
			st.oldNet = normNetworkPath(st.old.Network, st.old.Project)
		}
	}

	// Settings: the flags, else the old connector's (or, when it is gone, the new one's).
	base := st.old
	if base == nil {
		base = st.existing
	}
	mt, lo, hi := base.MachineType, base.MinInstances, base.MaxInstances
	if mt == "" {
		mt = cloud.DefaultConnectorMachineType
	}
	if o.set["machine-type"] {
		mt = o.MachineType
	}
	if o.set["min-instances"] {
		lo = o.MinInstances
	}
	if o.set["max-instances"] {
		hi = o.MaxInstances
	}
	if err := ValidateConnectorSize(lo, hi, mt); err != nil {
		return nil, exitcode.Usagef("%v (settings not given are connector %s's: machine type %s, %d to %d instances)", errors.Unwrap(err), base.Name, base.MachineType, base.MinInstances, base.MaxInstances)
	}
	st.spec = cloud.ConnectorSpec{Ref: o.newRef, MachineType: mt, MinInstances: lo, MaxInstances: hi}

	if st.existing != nil {
		return st, o.reuse(ctx, c, st)
	}
	return st, o.place(ctx, c, st)
}

// reuse checks that the new connector, which exists already (an earlier run), is the one
// asked for, and takes its placement.
func (o *ConnectorRecycleOptions) reuse(ctx context.Context, c *cloud.Clients, st *recycleState) error {
	cur := st.existing
	if cur.IPCIDRRange != "" {
		st.spec.IPCIDRRange, st.spec.Network = cur.IPCIDRRange, cur.Network
		st.network = normNetworkPath(cur.Network, cur.Project)
	} else if cur.Subnet != nil {
		s := *cur.Subnet
		st.spec.Subnet = &s
		sref, err := egress.ParseSubnetRef(cur.SubnetPath(), "", "")
		if err == nil {
			if sn, err := c.GetSubnet(ctx, sref); err == nil {
				st.network, st.subRange = sn.NetworkPath, sn.IPCIDRRange
			}
		}
	}
	var d []string
	if o.rangeCIDR.IsValid() && !o.CreateSubnet && cur.IPCIDRRange != o.rangeCIDR.String() {
		d = append(d, fmt.Sprintf("its range is %s, not %s", noneIfEmpty(cur.IPCIDRRange), o.rangeCIDR))
	}
	if o.subnetName != "" && (cur.Subnet == nil || cur.Subnet.Name != o.subnetName) {
		d = append(d, fmt.Sprintf("its subnet is %s, not %s", noneIfEmpty(cur.SubnetPath()), o.subnetName))
	}
	if st.oldNet != "" && st.network != "" && st.network != st.oldNet {
		d = append(d, fmt.Sprintf("it is in network %s, not %s (connector %s's)", egress.ShortName(st.network), egress.ShortName(st.oldNet), o.old.Name))
	}
	d = append(d, st.spec.Differences(cur)...)
	if len(d) > 0 {
		return exitcode.Errorf(exitcode.Conflict, "connector %s already exists and is not the one this recycle would create: %s; pick another --new-name, or delete it first; nothing was changed",
			o.newRef.Name, strings.Join(d, "; "))
	}
	switch cur.State {
	case cloud.ConnectorError, cloud.ConnectorDeleting:
		return exitcode.Errorf(exitcode.Conflict, "connector %s already exists in state %s; delete it (runnet connector delete %s) or pick another --new-name; nothing was changed", o.newRef.Name, cur.State, o.newRef.Name)
	}
	st.notes = append(st.notes, fmt.Sprintf("connector %s already exists with these settings (an earlier run?): it is reused", o.newRef.Name))
	return nil
}

// place works out where a new connector goes: a range of the old one's network, or a
// subnet (existing, or to create).
func (o *ConnectorRecycleOptions) place(ctx context.Context, c *cloud.Clients, st *recycleState) error {
	old := st.old
	if old == nil { // cannot happen: a missing new connector with a missing old one stopped earlier
		return fmt.Errorf("connector %s does not exist", o.old.Name)
	}
	if st.oldNet == "" {
		return fmt.Errorf("cannot tell which network connector %s reaches (network %q); nothing was changed", old.Name, old.Network)
	}
	if o.subnetName == "" && !o.CreateSubnet {
		if st.oldSub != nil {
			what := "--subnet is needed"
			if o.set["range"] {
				what = "--range: a range alone is not enough"
			}
			return exitcode.Usagef("%s: connector %s was made in subnet %s (a /28 nothing else uses), and both connectors exist at once, so the new one needs another: --subnet NAME of an unused /28 subnet, or --create-subnet [--subnet NAME] [--range CIDR|auto] to create one",
				what, old.Name, st.oldSub.Name)
		}
		return o.placeRange(ctx, c, st)
	}
	return o.placeSubnet(ctx, c, st)
}

// placeRange picks the new connector's ip_cidr_range in the old one's network.
func (o *ConnectorRecycleOptions) placeRange(ctx context.Context, c *cloud.Clients, st *recycleState) error {
	nref, err := egress.ParseNetworkRef(st.oldNet, o.old.Project)
	if err != nil {
		return err
	}
	chosen, how, err := o.pickRange(ctx, c, nref, st.old.IPCIDRRange)
	if err != nil {
		return err
	}
	st.spec.IPCIDRRange, st.spec.Network, st.network = chosen.String(), nref.Name, nref.Path()
	if how != "" {
		st.notes = append(st.notes, how)
	}
	return nil
}

// placeSubnet puts the new connector in --subnet, checked, or in a subnet to create.
func (o *ConnectorRecycleOptions) placeSubnet(ctx context.Context, c *cloud.Clients, st *recycleState) error {
	project := o.old.Project
	if st.oldSub != nil {
		project = st.oldSub.Project
	}
	if o.subnetProj != "" {
		project = o.subnetProj
	}
	name := o.subnetName
	if name == "" {
		name = o.newRef.Name + recycleSubnetSuffix
	}
	sref := egress.SubnetRef{Project: project, Region: o.old.Region, Name: name}
	s, err := c.GetSubnet(ctx, sref)
	switch {
	case err == nil:
		if s.PrefixLength != ipam.ConnectorPrefix {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s is a /%d (%s); a connector needs a /%d subnet; nothing was changed", name, s.PrefixLength, s.IPCIDRRange, ipam.ConnectorPrefix)
		}
		if s.NetworkPath != st.oldNet {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s is in network %s, but connector %s reaches %s: the new connector must reach the same network; nothing was changed", name, s.Network, o.old.Name, egress.ShortName(st.oldNet))
		}
		if o.CreateSubnet && o.rangeCIDR.IsValid() && s.IPCIDRRange != o.rangeCIDR.String() {
			return exitcode.Errorf(exitcode.Conflict, "--create-subnet: subnet %s already exists with range %s, not %s; nothing was changed", name, s.IPCIDRRange, o.rangeCIDR)
		}
		if by, err := subnetConnectors(ctx, c, o.old.Project, sref); err != nil {
			return err
		} else if len(by) > 0 {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s is already used by connector %s; a connector needs a /28 subnet of its own; nothing was changed", name, strings.Join(by, ", "))
		}
		if o.CreateSubnet {
			st.notes = append(st.notes, fmt.Sprintf("subnet %s already exists in network %s (%s): using it", name, s.Network, s.IPCIDRRange))
		}
		st.subRange = s.IPCIDRRange
	case cloud.IsNotFound(err):
		if !o.CreateSubnet {
			return exitcode.Errorf(exitcode.Preflight, "--subnet: subnet %s does not exist in project %s, region %s; add --create-subnet to create it; nothing was changed", name, project, o.old.Region)
		}
		nref, err := egress.ParseNetworkRef(st.oldNet, project)
		if err != nil {
			return err
		}
		if nref.Project != project {
			return exitcode.Usagef("--subnet: connector %s's network %s is in project %s, so its subnet must be too, not in %s", o.old.Name, nref.Name, nref.Project, project)
		}
		near := st.old.IPCIDRRange
		if st.oldSub != nil {
			near = st.oldSub.IPCIDRRange
		}
		chosen, how, err := o.pickRange(ctx, c, nref, near)
		if err != nil {
			return err
		}
		spec := &cloud.SubnetSpec{Ref: sref, Network: nref.Path(), IPCIDRRange: chosen.String(),
			Description: "Serverless VPC Access connector subnet for " + o.newRef.Name + ", created by runnet connector recycle"}
		if st.oldSub != nil {
			spec.PrivateIPGoogleAccess = st.oldSub.PrivateIPGoogleAccess
			if fl := st.oldSub.FlowLogs; fl != nil && fl.Enabled {
				cp := *fl
				spec.FlowLogs = &cp
			}
		}
		st.create, st.subRange = spec, chosen.String()
		if how != "" {
			st.notes = append(st.notes, "subnet "+name+": "+how)
		}
	default:
		return err
	}
	st.spec.Subnet = &cloud.ConnectorSubnet{Name: name, ProjectID: project}
	st.network = st.oldNet
	return nil
}

// pickRange returns --range, checked against the network's ranges, or the first free /28
// near near (its /24, then its /16), else in connector space.
func (o *ConnectorRecycleOptions) pickRange(ctx context.Context, c *cloud.Clients, nref egress.NetworkRef, near string) (netip.Prefix, string, error) {
	used, warnings, err := c.NetworkRanges(ctx, nref.Project, nref.Path())
	if err != nil {
		return netip.Prefix{}, "", err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	if o.rangeCIDR.IsValid() {
		for _, u := range used {
			if ipam.Overlaps(u.Prefix, o.rangeCIDR) {
				return netip.Prefix{}, "", exitcode.Errorf(exitcode.Preflight, "--range: %s overlaps %s %s (%s) in network %s; nothing was changed", o.rangeCIDR, u.Kind, u.Name, u.Prefix, nref.Name)
			}
		}
		return o.rangeCIDR, "", nil
	}
	prefixes := make([]netip.Prefix, 0, len(used))
	for _, u := range used {
		prefixes = append(prefixes, u.Prefix)
	}
	var space []netip.Prefix
	if p, err := netip.ParsePrefix(near); err == nil && p.Addr().Is4() {
		for _, bits := range []int{24, 16} {
			if p.Bits() < bits {
				continue
			}
			cand := netip.PrefixFrom(p.Addr(), bits).Masked()
			if slices.ContainsFunc(connectorRangeSpace, func(s netip.Prefix) bool { return ipam.Contains(s, cand) }) {
				space = append(space, cand)
			}
		}
	}
	space = append(space, connectorRangeSpace...)
	chosen, ok := ipam.FindFree(space, prefixes, ipam.ConnectorPrefix)
	if !ok {
		return netip.Prefix{}, "", exitcode.Errorf(exitcode.Preflight, "no free /%d left in network %s; give --range CIDR", ipam.ConnectorPrefix, nref.Name)
	}
	how := fmt.Sprintf("range %s: the first free /%d", chosen, ipam.ConnectorPrefix)
	if near != "" {
		how += " next to " + near
	}
	how += fmt.Sprintf(" in network %s (overlapping none of its %d ranges)", nref.Name, len(used))
	return chosen, how, nil
}

// target is each workload's target: the new connector, its egress kept.
func (o *ConnectorRecycleOptions) target(*recycleState) TargetFunc {
	full := o.newRef.FullName()
	return func(w *cloud.Workload) egress.VPC {
		e := w.VPC.Egress.Normalize()
		if e == egress.EgressUnset {
			e = egress.EgressPrivateRangesOnly
		}
		return egress.VPC{Connector: full, Egress: e}
	}
}

// dryRunReports are the workloads' plans without changing anything: checked by the
// preflight when the new connector is READY already, plain plans otherwise.
func (o *ConnectorRecycleOptions) dryRunReports(ctx context.Context, fl *Fleet, st *recycleState, target TargetFunc) []MigrationReport {
	out := make([]MigrationReport, 0, len(st.ws))
	if st.existing != nil && st.existing.State == cloud.ConnectorReady {
		ms := fl.Prepare(ctx, st.ws, target, nil)
		fl.Validate(ctx, ms)
		for _, m := range ms {
			out = append(out, m.Report(true))
		}
		return out
	}
	for _, w := range st.ws {
		t := target(w)
		m := &Migration{Ref: w.Ref, Workload: w, Target: t}
		opts := egress.PlanOptions{}
		if w.Ref.Kind == egress.KindService {
			opts.Tag = egress.DefaultRevisionTag(w.Ref.Name, egress.ModeConnector)
		}
		m.Plan = egress.BuildPlan(opts, w.Workload, t, nil)
		r := m.Report(true)
		if r.Outcome == egress.OutcomeSkipped {
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
func (o *ConnectorRecycleOptions) confirm(st *recycleState) error {
	if o.f.Options.Yes {
		return nil
	}
	var names []string
	for _, w := range st.ws {
		names = append(names, w.Ref.String())
	}
	what := "no workload uses it"
	if len(names) > 0 {
		what = fmt.Sprintf("move %s to it", strings.Join(names, ", "))
	}
	verb := "create"
	if st.existing != nil {
		verb = "use the existing"
	}
	q := fmt.Sprintf("Recycle connector %s: %s connector %s (%s), %s, then delete %s if nothing uses it?",
		o.old.Name, verb, o.newRef.Name, o.newView(st).placement(), what, o.old.Name)
	ok, err := o.f.Confirm(q)
	if err != nil {
		return err
	}
	if !ok {
		return exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
	}
	return nil
}

// retire deletes the old connector if every workload moved and nothing uses it any more,
// and records why it was kept otherwise.
func (o *ConnectorRecycleOptions) retire(ctx context.Context, c *cloud.Clients, fl *Fleet, ms []*Migration, st *recycleState, rep *RecycleReport) []ConnectorCleanup {
	var notMoved []string
	for _, m := range ms {
		if code, _ := m.ExitCode(); code != exitcode.OK {
			notMoved = append(notMoved, m.Ref.String())
		}
	}
	keep := func(reason string, users []string) {
		rep.Old.Status, rep.Old.Reason, rep.Old.Users = recycleKept, reason, users
	}
	switch {
	case len(notMoved) > 0:
		keep(fmt.Sprintf("%d of %d workloads did not move: %s", len(notMoved), len(ms), strings.Join(notMoved, ", ")), notMoved)
		return nil
	case ctx.Err() != nil:
		keep("interrupted", nil)
		return nil
	}
	// Workloads of other projects (Shared VPC) that runnet does not move.
	if others := otherProjects(st.old, o.old.Project); len(others) > 0 {
		users, warnings, _ := findUsers(ctx, c, others, o.old.Region, false, func(s *egress.ServingState) []string { return connectorVia(s, o.old) })
		if len(users) > 0 {
			var names []string
			for _, u := range users {
				names = append(names, u.Project+"/"+u.Workload)
			}
			keep("still used by workloads of other projects, which recycle does not move ('runnet migrate --project P ... --to connector --connector "+o.newRef.FullName()+"')", names)
			return nil
		}
		if len(warnings) > 0 {
			keep("its users in other projects could not be checked: "+strings.Join(warnings, "; "), nil)
			return nil
		}
	}
	cleanup := fl.Cleanup(ctx, ms, []string{o.old.FullName()})
	for _, cl := range cleanup {
		if cl.Connector != o.old.FullName() {
			continue
		}
		switch cl.Status {
		case string(egress.StepDone):
			rep.Old.Status, rep.Old.Reason = recycleDeleted, "nothing used it any more"
			netNotice(o.f, "Deleted connector %s.", o.old.Name)
			if st.oldSub != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("subnet %s (%s), the old connector's, is unused now: keep it for the next recycle (--subnet %s) or delete it (runnet subnet delete %s)",
					st.oldSub.Name, st.oldSub.IPCIDRRange, st.oldSub.Name, st.oldSub.Name))
			}
		case string(egress.StepSkipped):
			keep("still used by "+strings.Join(cl.Users, ", ")+" (runnet moves templates; a revision that still serves traffic or carries a tag keeps the connector in use)", cl.Users)
		default:
			rep.Old.Status, rep.Old.Error = recycleFailed, cl.Error
		}
	}
	return cleanup
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
func (o *ConnectorRecycleOptions) oldView(st *recycleState) RecycledConnector {
	v := RecycledConnector{Name: o.old.Name, FullName: o.old.FullName(), Network: st.oldNet}
	if st.old == nil {
		v.Status, v.Reason = recycleGone, "it does not exist"
		return v
	}
	v.IPCIDRRange, v.Subnet, v.State = st.old.IPCIDRRange, st.old.SubnetPath(), st.old.State
	v.MachineType, v.MinInstances, v.MaxInstances = st.old.MachineType, st.old.MinInstances, st.old.MaxInstances
	if st.oldSub != nil {
		v.SubnetRange = st.oldSub.IPCIDRRange
	}
	return v
}

// newView is the new connector as the report shows it (before it is created).
func (o *ConnectorRecycleOptions) newView(st *recycleState) RecycledConnector {
	s := st.spec
	v := RecycledConnector{Name: o.newRef.Name, FullName: o.newRef.FullName(), Network: st.network,
		IPCIDRRange: s.IPCIDRRange, SubnetRange: st.subRange,
		MachineType: s.MachineType, MinInstances: s.MinInstances, MaxInstances: s.MaxInstances, Status: recycleCreated}
	if s.Subnet != nil {
		v.Subnet = s.Subnet.Path(o.newRef.Project, o.newRef.Region)
	}
	switch {
	case o.DryRun && st.existing == nil:
		v.Status = recyclePlanned
	case st.existing != nil:
		v.Status, v.Reason, v.State = recycleReused, "it existed already with these settings", st.existing.State
	}
	return v
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
