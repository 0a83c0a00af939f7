package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/printer"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

const migrateLong = `Switch workloads between a Serverless VPC Access connector (connector), Direct VPC
egress (direct) and no VPC (none), checked first and, for services, without downtime.

Preflight. Before anything changes, runnet reads what the switch depends on (concurrently)
and runs named checks, each pass, warn, fail or skip with the numbers behind it:
vpc-settings, workerpool-connector, region-match, network-exists, subnet-exists,
subnet-size (/26 or larger), free-ips (2 IPs per instance at the maximum scale of every
workload that will share the subnet, doubled for the rollout overlap, in /28 blocks),
direct-vpc-quota, connector-ready, egress-kept, cloud-nat (egress all-traffic needs a Cloud
NAT in that network and region), firewall-rules (rules that match the connector's network
tags or range, or today's subnet, and will not match the new traffic) and permissions
(testIamPermissions on the workload). A failed check stops the migration before any
change (exit status 3) unless --force names it; checks the platform would enforce anyway
(a missing network, a /27 subnet, a connector that is not READY, ...) cannot be forced.

Services move without downtime: the traffic of the revisions that serve with other settings
(the latest ready revision when the traffic follows it; the named revisions when it is pinned,
after 'gcloud run deploy --no-traffic' or 'update-traffic --to-revisions') moves to a revision
with the new VPC access only once it is Ready. All at once (the default), that is one update,
as 'gcloud run services update' makes it: Cloud Run moves the traffic when the revision is
Ready (a pinned share goes to the new revision, named in the request), and a revision that
fails gets none. With --canary steps, the revision is first deployed with no traffic and a
tag (runnet-MODE), runnet waits until it is Ready, then moves the traffic step by step
(watching the new revision's health for --step-wait after each step but the last). Every other part of the
traffic split (other revisions, tags) is kept, and the split ends as it was, with the new
revision in their place (a tag on a moved share moves with it; a tag alone is never moved).
When the template has the target already and its latest revision is ready (an attach that
left the traffic pinned elsewhere), nothing is deployed: the traffic moves to that revision.
A revision that runs another configuration than the template (a --no-traffic deploy of a new
image) is named in the plan's notes: the revision that takes its traffic runs the template's.
The previous revisions (and connector) stay until the end. Jobs have their task template
updated (--verify then runs one execution and waits for it). Worker pools get a new revision
(they can use Direct VPC egress or none, never a connector), and instances pinned to named
revisions in their instance split move to it the same way.

If a step fails, or runnet is interrupted (Ctrl-C, SIGTERM), it restores the previous VPC
access and traffic split (traffic goes back to the previous, still Ready, revision first),
prints which steps were done and undone, and exits with status 6. A second interrupt stops
waiting for the rollback: the journal stays and runnet prints how to recover (exit status
1). If the rollback itself fails, the report says where the workload stands (read again at
that moment) and which commands finish the job: 'runnet migrate --resume', or by hand an
attach with the previous settings and the gcloud command that puts back the traffic split
exactly as the journal holds it (every share and tag); the exit status is 1.

Canary steps move a percentage of the traffic the previous revision serves; with a split
(the previous revision serving 80%, say) "10" sends 8% of all traffic, and the step says so.

Locks and recovery. While a workload migrates it carries a journal, the annotation
runnet.dev/migration on the service, job or worker pool (its metadata: no revision is made,
nothing that serves changes): who runs it (user@host, pid), since when, the plan, the step
reached, and the settings and traffic split before. It is written with the etag, at each
step boundary, and removed by the migration's last change (or after a rollback). It is a
lock: another runnet refuses the workload (exit status 5). If runnet died (SIGKILL, a lost CI
runner), --resume WORKLOAD finishes the migration from the journal and a fresh read, and
--resume WORKLOAD --rollback undoes it; a run that died while rolling back is rolled back.
--resume takes over a journal whose lease ran out (15 minutes without an update, plus any
--step-wait), or whose process is gone from this host; otherwise it needs --break-lock.

Concurrent changes. Every update carries the etag it was read with. When someone else
changed the workload meanwhile (ABORTED), runnet reads it again: if the change left the VPC
access and the traffic alone (labels, the image, scaling...), it sends its update again from
the fresh read; otherwise it stops with exit status 5 and names the fields that changed,
undoing nothing (that would overwrite the other change; --resume [--rollback] finishes).
Transient API failures (UNAVAILABLE, RESOURCE_EXHAUSTED, HTTP 429 and 5xx) are retried
with capped exponential backoff; an update whose response was lost is recognised by a fresh
read instead of being sent twice.

Targets. --to direct takes --network and/or --subnet (Shared VPC subnets as
projects/HOST/regions/REGION/subnetworks/NAME) and --network-tags. Without --network, the
network is the subnet's, else the one the workload's connector (or current subnet) is in.
Without --subnet, runnet uses the one subnet of that network and region that fits (/26 or
larger, with enough free /28 blocks, not a connector's /28) and otherwise refuses, naming
the candidates. --create-subnet creates the subnet first: named by --subnet (default
NETWORK-direct), in --range CIDR or a free range (--range auto, the default) of --prefix
length (default: the smallest that fits the workloads). The egress setting is kept
(--keep-egress, the default) unless --egress is given; a workload with no VPC access gets
private-ranges-only.

Idempotent: a workload that the target settings already serve is left alone (outcome no-op,
exit status 0, nothing sent), so a fleet migration can simply be run again. That is decided
from what serves, never from the template alone: the template, and every revision that
receives traffic (a worker pool's instances), must have the target settings, and the latest
revision must not have failed (a template that asks for the target while its revision failed
to start is migrated again, through the preflight). A revision that only carries a tag keeps
its settings and is named in the notes.

Fleets. Several WORKLOADs, or --all --from-connector C (every workload that uses connector
C: its template, a revision that receives traffic or carries a tag, or a running job
execution), are checked together, confirmed once, and migrated --concurrency at a time;
one workload's failure does not stop the others. With --cleanup the connector a workload
leaves is deleted at the end if nothing uses it any more (templates, and revisions that
still serve traffic or carry a tag), re-checked at that moment.

--dry-run prints the plan and the checks, asks the API to validate the first change
(validate_only), changes nothing and exits 0 (3 when a check fails).

Migrating asks for confirmation on a terminal; without one it needs --yes.

Exit status: 0 migrated or nothing to do (and --resume that finished the migration, or
--resume --rollback that undid it, as asked); 6 also for a plain --resume that finishes the
rollback an interrupted run had started (the migration did not happen; the report's error is
that run's reason, kept in its journal; with --rollback the same undoing is what was asked:
0, the reason in the notes);
1 error, or a rollback that failed; 2 bad input; 3 a preflight check failed (nothing
changed); 4 permission denied, including the preflight permissions check (nothing changed);
5 the workload changed meanwhile or another runnet holds it; 6 a step failed and the
previous state was restored. For
several workloads: 1 if any failed, else 6 if any was rolled back, else 3 if any was
blocked by preflight, else 0.

With --format json or yaml, one WORKLOAD prints one report; several (or --all) print
{workloads: [report...], summary, subnet, cleanup}. A report's fields (a stable contract):

  workload, name, kind, project,    the workload (workload as NAME, job/NAME or workerpool/NAME;
  region                            name its short name)
  from, to                          {mode, vpc: {connector, network, subnet, tags, egress}}
  checks[]                          {name, status, message, numbers, hint, forced}
  plan                              {steps[] {kind, description, resource, percent, tag,
                                    waitSeconds}, canary[], notes[]}
  dryRun, validated                 a dry run, and whether validate_only accepted it
  outcome                           migrated, no-op, planned, blocked, rolled-back, failed
                                    or skipped
  previousRevision, newRevision,    the revision serving before, the one created with the
  restoredRevision                  new settings, the one a rollback created
  traffic[]                         the traffic split at the end {revision, latest, percent, tag}
  steps[]                           {kind, description, status (done, undone, skipped,
                                    failed), resource, revision, execution, percent, note,
                                    error}; restore-template and restore-traffic steps
                                    follow when a rollback ran
  durationSeconds, error, rollbackError, state, recovery[], notes[]`

// MigrateOptions are the inputs of `runnet migrate`.
type MigrateOptions struct {
	f *Factory

	Workloads        []string
	To               string
	Connector        string
	Network          string
	Subnet           string
	NetworkTags      []string
	ClearNetworkTags bool
	Egress           string
	KeepEgress       bool
	CreateSubnet     bool
	Range            string
	Prefix           int
	Canary           string
	StepWait         time.Duration
	Verify           bool
	Cleanup          bool
	DryRun           bool
	Force            []string
	All              bool
	FromConnector    string
	Concurrency      int
	Resume           bool
	Rollback         bool
	BreakLock        bool

	// Which flags were given.
	set map[string]bool

	// Filled in by complete.
	mode       egress.Mode
	refs       []egress.WorkloadRef
	project    string
	region     string
	connector  egress.ConnectorRef
	network    string // canonical path, or ""
	subnet     string // canonical path, or ""
	egress     egress.Egress
	canary     []int
	rangeCIDR  netip.Prefix // --range CIDR; invalid for auto
	fromConn   egress.ConnectorRef
	single     bool
	subnetName string // name of the subnet --create-subnet makes, "" for the default

	// observer, if set, receives every executor event (tests use it to act at a step
	// boundary).
	observer egress.Observer
	// planShown is set once the plans were shown before the confirmation, on the terminal
	// the report goes to.
	planShown bool
}

// NewCmdMigrate returns `runnet migrate`. runF, if not nil, replaces the run step (for tests).
func NewCmdMigrate(f *Factory, runF func(context.Context, *MigrateOptions) error) *cobra.Command {
	o := &MigrateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "migrate (WORKLOAD... | --all --from-connector C) --to direct|connector|none [flags]",
		Short: "Switch workloads between connector, Direct VPC egress and none: checked, zero-downtime, rolled back on failure",
		Long:  migrateLong,
		Example: `  # Move run-service from its connector to Direct VPC egress (network inferred from the
  # connector), in three traffic steps a minute apart:
  runnet migrate run-service --to direct --subnet run-direct-vpc-egress --canary 10,50,100 --step-wait 1m

  # See the checks and the plan, validated by the API, without changing anything:
  runnet migrate run-service --to direct --subnet run-direct-vpc-egress --dry-run

  # A workload with no VPC: create a right-sized subnet in a free range first:
  runnet migrate run-service --to direct --network run-vpc --create-subnet

  # A job, verified by running one execution; then back to the connector:
  runnet migrate job/nightly-export --to direct --subnet run-direct-vpc-egress --verify --yes
  runnet migrate job/nightly-export --to connector --connector run-connector --yes

  # The runner died half-way (SIGKILL): finish from the journal on the service, or undo it:
  runnet migrate --resume run-service --yes
  runnet migrate --resume run-service --rollback --yes

  # Every workload on a connector, four at a time, deleting the connector at the end:
  runnet migrate --all --from-connector run-connector --to direct --subnet run-direct-vpc-egress \
    --concurrency 4 --cleanup --yes`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Workloads = args
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
	fl.StringVar(&o.To, "to", "", "target mode: direct, connector or none (required)")
	fl.StringVar(&o.Connector, "connector", "", "target connector (--to connector): NAME or projects/P/locations/R/connectors/NAME (also --vpc-connector, gcloud's name)")
	fl.StringVar(&o.Network, "network", "", "Direct VPC egress network (default: the subnet's, else the current connector's or subnet's)")
	fl.StringVar(&o.Subnet, "subnet", "", "Direct VPC egress subnetwork (default: the only suitable one in the network); with --create-subnet, its name")
	fl.StringSliceVar(&o.NetworkTags, "network-tags", nil, "network tags of the Direct VPC interface, comma-separated (default: kept when already on Direct VPC)")
	fl.BoolVar(&o.ClearNetworkTags, "clear-network-tags", false, "no network tags on the Direct VPC interface")
	fl.StringVar(&o.Egress, "egress", "", "which traffic goes through the VPC: private-ranges-only or all-traffic (default: keep the current setting; also --vpc-egress, gcloud's name)")
	fl.BoolVar(&o.KeepEgress, "keep-egress", true, "keep the current egress setting (the default; --egress overrides)")
	fl.BoolVar(&o.CreateSubnet, "create-subnet", false, "create the Direct VPC subnet first (named by --subnet, default NETWORK-direct)")
	fl.StringVar(&o.Range, "range", "auto", `range of the subnet --create-subnet makes: a CIDR, or "auto" for a free one`)
	fl.IntVar(&o.Prefix, "prefix", 0, "prefix length of the range --range auto picks (default: the smallest /26 or larger that fits)")
	fl.StringVar(&o.Canary, "canary", "", "services: the steps, in percent of the previous revision's traffic moved to the new one, e.g. 10,50,100 (default: 100 at once)")
	fl.DurationVar(&o.StepWait, "step-wait", 0, "with --canary: how long to watch the new revision after each step but the last, e.g. 5m")
	fl.BoolVar(&o.Verify, "verify", false, "jobs: run one execution after the update and roll back if it fails")
	fl.BoolVar(&o.Cleanup, "cleanup", false, "delete the connector the workloads leave once nothing uses it")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the checks and the plan, validate the change with the API, change nothing")
	fl.StringSliceVar(&o.Force, "force", nil, "proceed although these preflight checks fail, comma-separated check names")
	fl.BoolVar(&o.All, "all", false, "migrate every workload that uses --from-connector")
	fl.StringVar(&o.FromConnector, "from-connector", "", "with --all: the connector whose workloads to migrate")
	fl.IntVar(&o.Concurrency, "concurrency", defaultMigrateConcurrency, "how many workloads migrate at once")
	fl.BoolVar(&o.Resume, "resume", false, "finish the interrupted migration of WORKLOAD from the journal it carries (see Locks and recovery)")
	fl.BoolVar(&o.Rollback, "rollback", false, "with --resume: undo the interrupted migration instead of finishing it")
	fl.BoolVar(&o.BreakLock, "break-lock", false, "with --resume: take over a journal that is not stale yet (its process is gone)")
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		switch name {
		case "vpc-connector":
			return "connector"
		case "vpc-egress":
			return "egress"
		}
		return pflag.NormalizedName(name)
	})
	_ = cmd.RegisterFlagCompletionFunc("to", cobra.FixedCompletions([]string{"direct", "connector", "none"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("egress", cobra.FixedCompletions([]string{"private-ranges-only", "all-traffic"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("force", cobra.FixedCompletions(forceableChecks(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// defaultMigrateConcurrency is --concurrency's default.
const defaultMigrateConcurrency = 4

// maxMigrateConcurrency bounds --concurrency (API quotas, and a sane blast radius).
const maxMigrateConcurrency = 32

func forceableChecks() []string {
	var out []string
	for _, n := range egress.CheckNames {
		if egress.Forceable(n) {
			out = append(out, n)
		}
	}
	return out
}

// complete checks every input before any API call: bad input is a usage error naming the
// flag, and nothing is changed.
func (o *MigrateOptions) complete() error {
	if o.Resume {
		return o.completeResume()
	}
	for _, n := range []string{"rollback", "break-lock"} {
		if o.set[n] {
			return exitcode.Usagef("--%s is used with --resume WORKLOAD", n)
		}
	}
	if !o.set["to"] {
		return exitcode.Usagef("--to is required: direct, connector or none")
	}
	m, err := egress.ParseMode(o.To)
	if err != nil {
		return exitcode.Usagef("--to: %v", err)
	}
	o.mode = m

	// Which workloads.
	switch {
	case o.All && len(o.Workloads) > 0:
		return exitcode.Usagef("give WORKLOADs or --all --from-connector C, not both")
	case o.All && !o.set["from-connector"]:
		return exitcode.Usagef("--all needs --from-connector C: the connector whose workloads to migrate")
	case !o.All && o.set["from-connector"]:
		return exitcode.Usagef("--from-connector is used with --all")
	case !o.All && len(o.Workloads) == 0:
		return exitcode.Usagef("WORKLOAD is required: NAME (a service), job/NAME or workerpool/NAME, or --all --from-connector C")
	}
	if o.Concurrency < 1 || o.Concurrency > maxMigrateConcurrency {
		return exitcode.Usagef("--concurrency: %d is out of range; valid: 1 to %d", o.Concurrency, maxMigrateConcurrency)
	}

	// Target flags that fit the mode.
	direct := []string{"network", "subnet", "network-tags", "clear-network-tags", "create-subnet", "range", "prefix"}
	switch o.mode {
	case egress.ModeNone:
		for _, n := range append([]string{"connector", "egress"}, direct...) {
			if o.set[n] {
				return exitcode.Usagef("--%s cannot be used with --to none: the workloads will have no VPC access", n)
			}
		}
	case egress.ModeConnector:
		if !o.set["connector"] {
			return exitcode.Usagef("--to connector needs --connector C")
		}
		for _, n := range direct {
			if o.set[n] {
				return exitcode.Usagef("--%s cannot be used with --to connector: it configures Direct VPC egress", n)
			}
		}
	case egress.ModeDirect:
		if o.set["connector"] {
			return exitcode.Usagef("--connector cannot be used with --to direct; use --network and/or --subnet")
		}
	}
	if o.set["network-tags"] && o.ClearNetworkTags {
		return exitcode.Usagef("--network-tags and --clear-network-tags cannot be used together")
	}
	if (o.set["range"] || o.set["prefix"]) && !o.CreateSubnet {
		return exitcode.Usagef("--range and --prefix choose the range of the subnet --create-subnet makes; add --create-subnet")
	}
	if o.set["keep-egress"] && o.KeepEgress && o.set["egress"] {
		return exitcode.Usagef("--keep-egress and --egress cannot be used together")
	}
	if o.set["keep-egress"] && !o.KeepEgress && !o.set["egress"] && o.mode != egress.ModeNone {
		return exitcode.Usagef("--keep-egress=false needs --egress private-ranges-only|all-traffic")
	}
	if o.set["step-wait"] && !o.set["canary"] {
		return exitcode.Usagef("--step-wait sets the wait between --canary steps; add --canary, e.g. --canary 10,50,100")
	}
	if o.StepWait < 0 {
		return exitcode.Usagef("--step-wait: %s is negative", o.StepWait)
	}
	if o.set["canary"] {
		c, err := egress.ParseCanary(o.Canary)
		if err != nil {
			return exitcode.Usagef("%v", err)
		}
		o.canary = c
	}
	if _, err := egress.ApplyForce(nil, o.Force); err != nil {
		return exitcode.Usagef("%v", err)
	}
	if o.set["egress"] {
		e, err := egress.ParseEgress(o.Egress)
		if err != nil {
			return exitcode.Usagef("--egress: %v", err)
		}
		if egress.IsDeprecatedEgressAlias(o.Egress) && !o.f.Options.Quiet {
			fmt.Fprintf(o.f.IOStreams.ErrOut, "Warning: --egress %s is deprecated; use --egress all-traffic.\n", o.Egress)
		}
		o.egress = e
	}
	for _, t := range o.NetworkTags {
		if err := egress.ValidateNetworkTag(t); err != nil {
			return exitcode.Usagef("--network-tags: %v", err)
		}
	}

	// Workload names (project and region only as needed).
	if o.All {
		var err error
		if o.project, err = o.f.Project(); err != nil {
			return err
		}
		if o.region, err = o.f.Region(); err != nil {
			return err
		}
		c, err := egress.ParseConnectorRef(o.FromConnector, o.project, o.region)
		if err != nil {
			return exitcode.Usagef("--from-connector: %v", err)
		}
		o.fromConn = c
		o.project, o.region = c.Project, c.Region
	} else {
		seen := map[egress.WorkloadRef]bool{}
		for _, a := range o.Workloads {
			ref, err := parseWorkloadArg(o.f, a)
			if err != nil {
				return err
			}
			if !seen[ref] {
				seen[ref] = true
				o.refs = append(o.refs, ref)
			}
		}
		o.single = len(o.refs) == 1
		o.project, o.region = o.refs[0].Project, o.refs[0].Region
		for _, r := range o.refs[1:] {
			if r.Project != o.project || r.Region != o.region {
				return exitcode.Usagef("WORKLOAD: %s is in project %s, region %s, but %s is in project %s, region %s; migrate one project and region at a time", r, r.Project, r.Region, o.refs[0], o.project, o.region)
			}
		}
	}
	hasJob := false
	for _, r := range o.refs {
		if r.Kind == egress.KindWorkerPool && o.mode == egress.ModeConnector {
			return exitcode.Usagef("--to connector: worker pools cannot use Serverless VPC Access connectors; migrate %s --to direct or --to none", r)
		}
		hasJob = hasJob || r.Kind == egress.KindJob
	}
	if o.Verify && !o.All && !hasJob {
		return exitcode.Usagef("--verify runs an execution of a job, and none of the workloads is a job")
	}

	// Target resources, in the workloads' project and region.
	p, r := o.project, o.region
	if o.mode == egress.ModeConnector {
		c, err := egress.ParseConnectorRef(o.Connector, p, r)
		if err != nil {
			return exitcode.Usagef("--connector: %v", err)
		}
		o.connector = c
	}
	if o.mode == egress.ModeDirect {
		netProject := p
		if o.set["network"] {
			n, err := egress.ParseNetworkRef(o.Network, p)
			if err != nil {
				return exitcode.Usagef("--network: %v", err)
			}
			o.network, netProject = n.Path(), n.Project
		}
		if o.set["subnet"] {
			s, err := egress.ParseSubnetRef(o.Subnet, netProject, r)
			if err != nil {
				return exitcode.Usagef("--subnet: %v", err)
			}
			o.subnet, o.subnetName = s.Path(), s.Name
			if o.CreateSubnet && s.Region != r {
				return exitcode.Usagef("--subnet: --create-subnet makes the subnet in the workloads' region %s, not %s", r, s.Region)
			}
		}
		if o.CreateSubnet {
			if o.Range != "auto" {
				pfx, err := ValidateSubnetCIDR(o.Range)
				if err != nil {
					return err
				}
				if err := ipam.ValidateDirectVPCSubnet(pfx); err != nil {
					return exitcode.Usagef("--range: %v", err)
				}
				if o.set["prefix"] {
					return exitcode.Usagef("--prefix chooses the size of --range auto; --range %s has its own", o.Range)
				}
				o.rangeCIDR = pfx
			}
			if o.set["prefix"] && (o.Prefix < ipam.MinSubnetPrefix || o.Prefix > ipam.DirectVPCMinPrefix) {
				return exitcode.Usagef("--prefix: %d is out of range; valid: %d to %d (Direct VPC egress needs /%d or larger)", o.Prefix, ipam.MinSubnetPrefix, ipam.DirectVPCMinPrefix, ipam.DirectVPCMinPrefix)
			}
		}
	}

	// Confirmation: refuse early when it cannot be asked.
	if !o.DryRun && !o.f.Options.Yes && !o.f.IOStreams.CanPrompt() {
		return exitcode.Usagef("migrating needs confirmation and cannot ask without a terminal; pass --yes to proceed (or --dry-run to see the plan)")
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Run.

func (o *MigrateOptions) run(ctx context.Context) error {
	if o.Resume {
		return o.runResume(ctx)
	}
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	fl := o.fleet(c)

	// The workloads, as read; the --subnet, which depends on the flags alone, at the same
	// time.
	sub := o.startSubnetRead(ctx, c)
	defer sub.wait()
	ws, err := o.readWorkloads(ctx, c)
	if err != nil {
		return err
	}
	if o.All && len(ws) == 0 {
		// Nothing uses it: fine if it exists (or --cleanup, which wants it gone anyway), but
		// a connector that does not exist is a typo that must not pass for "done".
		if _, err := c.GetConnector(ctx, o.fromConn); err != nil {
			if !cloud.IsNotFound(err) {
				return fmt.Errorf("read --from-connector %s: %w", o.fromConn.Name, err)
			}
			if !o.Cleanup {
				return o.noSuchConnector(ctx, c)
			}
		}
		o.infof("No workload in project %s, region %s uses connector %s: nothing to migrate.", o.project, o.region, o.fromConn.Name)
		var cleanup []ConnectorCleanup
		if o.Cleanup && !o.DryRun {
			cleanup = fl.Cleanup(ctx, nil, []string{o.fromConn.FullName()})
		}
		return o.finish(p, fl, nil, nil, cleanup, start)
	}

	// One target for all, then each workload's own (egress and tags kept).
	target, err := o.resolveTarget(ctx, c, ws, sub)
	if err != nil {
		return err
	}
	fl.TargetSubnet = target.subnet
	fl.Ranges = target.ranges
	ms := fl.Prepare(ctx, ws, target.forWorkload, target.create)
	if target.note != "" {
		for _, m := range ms {
			m.Notes = append(m.Notes, target.note)
		}
	}
	if ctx.Err() != nil {
		return exitcode.Errorf(exitcode.Failure, "interrupted during the preflight checks: nothing was changed")
	}
	if o.DryRun {
		fl.Validate(ctx, ms)
		var planned *SubnetCreation
		if !o.single && target.create != nil {
			c := target.create
			planned = &SubnetCreation{Name: c.Name, Network: c.Network, CIDR: c.CIDR, Status: "planned"}
			if !slices.ContainsFunc(ms, func(m *Migration) bool { return m.Runnable() || m.Validated }) {
				planned.Status = string(egress.OutcomeBlocked) // no workload would move into it
			}
		}
		return o.finish(p, fl, ms, planned, nil, start)
	}

	if err := o.confirm(ms); err != nil {
		return err
	}
	var created *SubnetCreation
	if !o.single && target.create != nil && slices.ContainsFunc(ms, func(m *Migration) bool { return m.Runnable() }) {
		created = fl.CreateSubnet(ctx, *target.create)
		if created.Error != "" {
			for _, m := range ms {
				if m.Runnable() {
					m.Skip("the subnet it needs could not be created: " + created.Error)
				}
			}
		}
	}
	fl.Apply(ctx, ms)
	var cleanup []ConnectorCleanup
	if o.Cleanup && !o.single {
		var also []string
		if o.All {
			also = append(also, o.fromConn.FullName())
		}
		cleanup = fl.Cleanup(ctx, ms, also)
	}
	return o.finish(p, fl, ms, created, cleanup, start)
}

// noSuchConnector is the error for a --from-connector that does not exist: bad input (exit 2)
// naming the connectors that do.
func (o *MigrateOptions) noSuchConnector(ctx context.Context, c *cloud.Clients) error {
	msg := fmt.Sprintf("--from-connector: connector %s does not exist in project %s, region %s (NOT_FOUND)", o.fromConn.Name, o.fromConn.Project, o.fromConn.Region)
	if conns, err := c.ListConnectors(ctx, o.fromConn.Project, o.fromConn.Region); err == nil {
		var names []string
		for _, cn := range conns {
			names = append(names, cn.Name)
		}
		if len(names) == 0 {
			msg += "; there are no connectors there"
		} else {
			msg += "; connectors there: " + strings.Join(names, ", ")
		}
	}
	return exitcode.Usagef("%s", msg)
}

func (o *MigrateOptions) fleet(c *cloud.Clients) *Fleet {
	return &Fleet{
		F: o.f, C: c, Concurrency: o.Concurrency, Force: o.Force,
		PlanOptions: egress.PlanOptions{
			Canary: o.canary, StepWait: o.StepWait, Cleanup: o.Cleanup && o.single, VerifyJob: o.Verify,
		},
		SubnetInPlan: o.single,
		CleanupAtEnd: o.Cleanup && !o.single,
		Observer:     o.observer,
	}
}

// readWorkloads reads the workloads to migrate, each with what serves it (Serving): one
// with GetWorkload; several with one list of the region; --all: the region's workloads that
// use --from-connector (through their template, a revision that receives traffic or carries
// a tag, or a running job execution).
func (o *MigrateOptions) readWorkloads(ctx context.Context, c *cloud.Clients) ([]*cloud.Workload, error) {
	if o.single {
		w, err := c.GetWorkload(ctx, o.refs[0])
		if err != nil {
			return nil, err
		}
		if err := readServing(ctx, c, []*cloud.Workload{w}); err != nil {
			return nil, err
		}
		return []*cloud.Workload{w}, nil
	}
	all, err := c.ListWorkloads(ctx, o.project, o.region)
	if err != nil {
		return nil, err
	}
	if o.All {
		if err := readServing(ctx, c, all); err != nil {
			return nil, err
		}
		var out []*cloud.Workload
		for _, w := range all {
			if w.Serving.UsesConnector(o.fromConn) {
				out = append(out, w)
			}
		}
		return out, nil
	}
	byRef := map[egress.WorkloadRef]*cloud.Workload{}
	for _, w := range all {
		byRef[w.Ref] = w
	}
	var out []*cloud.Workload
	var missing []string
	for _, r := range o.refs {
		if w, ok := byRef[r]; ok {
			out = append(out, w)
		} else {
			missing = append(missing, r.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not found in project %s, region %s: %s (see runnet status)", o.project, o.region, strings.Join(missing, ", "))
	}
	if err := readServing(ctx, c, out); err != nil {
		return nil, err
	}
	return out, nil
}

// readServing reads what serves each of ws that does not know yet (Workload.Serving).
func readServing(ctx context.Context, c *cloud.Clients, ws []*cloud.Workload) error {
	var missing []*cloud.Workload
	for _, w := range ws {
		if w.Serving == nil {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	states, err := c.ServingStates(ctx, missing)
	if err != nil {
		return fmt.Errorf("read what serves the workloads: %w", err)
	}
	for i, w := range missing {
		w.Serving = states[i]
	}
	return nil
}

// servingVPC is the VPC access that serves w (the template's when that is not known),
// canonical when it parses.
func servingVPC(w *cloud.Workload) egress.VPC {
	v := w.VPC
	if w.Serving != nil {
		v = w.Serving.VPC()
	}
	if c, err := v.Canonical(w.Ref.Project, w.Ref.Region); err == nil {
		return c
	}
	return v
}

// confirm asks once, on a terminal, before changing anything (after showing the plans).
func (o *MigrateOptions) confirm(ms []*Migration) error {
	var run []*Migration
	for _, m := range ms {
		if m.Runnable() {
			run = append(run, m)
		}
	}
	if len(run) == 0 || o.f.Options.Yes {
		return nil
	}
	var b strings.Builder
	for _, m := range run {
		_ = m.Plan.WriteText(&b)
		b.WriteString("\n")
	}
	text := b.String()
	if printer.ColorWanted(o.f.IOStreams.IsStderrTTY(), o.f.Getenv) {
		text = printer.ColorText(text)
	}
	fmt.Fprint(o.f.IOStreams.ErrOut, text)
	// The report at the end need not list the checks and notes again on this terminal.
	o.planShown = o.f.IOStreams.IsStdoutTTY()
	q := fmt.Sprintf("Migrate %s %s from %s to %s (%s)?", noun(run[0].Ref.Kind), run[0].Ref.Name, run[0].Plan.FromMode, run[0].Plan.ToMode, plural(len(run[0].Plan.Steps), "step"))
	if len(run) > 1 {
		q = fmt.Sprintf("Migrate these %d workloads to %s?", len(run), o.mode)
	}
	ok, err := o.f.Confirm(q)
	if err != nil {
		return err
	}
	if !ok {
		return exitcode.Errorf(exitcode.Failure, "cancelled: nothing was changed")
	}
	return nil
}

// finish prints the report and returns the error that carries the exit status.
func (o *MigrateOptions) finish(p interface{ Print(any) error }, fl *Fleet, ms []*Migration, created *SubnetCreation, cleanup []ConnectorCleanup, start time.Time) error {
	reports := make([]MigrationReport, 0, len(ms))
	for _, m := range ms {
		r := m.Report(o.DryRun)
		r.planShown = o.planShown
		reports = append(reports, r)
	}
	for _, r := range reports {
		o.summarize(r)
	}
	var err error
	if o.single {
		err = p.Print(reports[0])
	} else {
		sum := summarize(reports)
		for _, cl := range cleanup {
			if cl.Status == string(egress.StepFailed) {
				sum.CleanupFailed++
			}
		}
		err = p.Print(FleetReport{Workloads: reports, Subnet: created, Cleanup: cleanup, Summary: sum,
			DurationSeconds: roundSeconds(time.Since(start))})
	}
	if err != nil {
		return err
	}
	if o.single && reports[0].Outcome == egress.OutcomeMigrated {
		PrintIaCHint(o.f, ms[0].Ref) // how to carry the change into infrastructure code
	}
	return migrateError(ms, cleanup)
}

// summarize writes one informational line per workload to stderr (unless --quiet).
func (o *MigrateOptions) summarize(r MigrationReport) {
	switch r.Outcome {
	case egress.OutcomeMigrated:
		msg := fmt.Sprintf("Migrated %s %s from %s to %s", noun(r.Kind), r.Name, r.From.Mode, r.To.Mode)
		if r.NewRevision != "" {
			msg += fmt.Sprintf(" (revision %s replaces %s)", r.NewRevision, r.PreviousRevision)
		}
		o.infof("%s in %s.", msg, secs(r.DurationSeconds))
	case egress.OutcomeNoOp:
		o.infof("No change: %s %s already uses %s.", noun(r.Kind), r.Name, describeVPC(r.To.VPC))
	case egress.OutcomePlanned:
		o.infof("Dry run: %s %s would move from %s to %s in %s; nothing was changed.", noun(r.Kind), r.Name, r.From.Mode, r.To.Mode, plural(len(r.Plan.Steps), "step"))
	case egress.OutcomeRolledBack:
		o.infof("Rolled back %s %s: it uses %s again, with its previous traffic split.", noun(r.Kind), r.Name, describeVPC(r.From.VPC))
	}
}

func (o *MigrateOptions) infof(format string, args ...any) {
	if o.f.Options.Quiet {
		return
	}
	fmt.Fprintf(o.f.IOStreams.ErrOut, format+"\n", args...)
}

// migrateError turns the outcomes into the command's error (and so its exit status). The
// workloads that were not migrated and the connectors --cleanup could not delete are said
// apart: a fleet whose workloads all moved but whose cleanup was refused is "migrated, but".
func migrateError(ms []*Migration, cleanup []ConnectorCleanup) error {
	type bad struct {
		name string
		code int
		msg  string
	}
	var bads []bad
	for _, m := range ms {
		code, msg := m.ExitCode()
		if code != exitcode.OK {
			bads = append(bads, bad{m.Ref.String(), code, msg})
		}
	}
	var cleanBads []bad
	for _, cl := range cleanup {
		if cl.Error != "" {
			code := exitcode.FromError(cl.err)
			if code == exitcode.OK {
				code = exitcode.Failure
			}
			cleanBads = append(cleanBads, bad{"connector " + lastSegmentOf(cl.Connector), code, cl.Error})
		}
	}
	if len(bads) == 0 && len(cleanBads) == 0 {
		return nil
	}
	if len(bads) == 1 && len(ms) == 1 && len(cleanBads) == 0 {
		return exitcode.Errorf(bads[0].code, "%s", bads[0].msg)
	}
	codes := map[int]bool{}
	var parts []string
	for _, b := range bads {
		codes[b.code] = true
		parts = append(parts, fmt.Sprintf("%s (%s)", b.name, b.msg))
	}
	var cleanParts []string
	for _, b := range cleanBads {
		codes[b.code] = true
		cleanParts = append(cleanParts, fmt.Sprintf("%s was not deleted: %s", b.name, b.msg))
	}
	code := exitcode.Failure
	switch {
	case len(codes) == 1:
		for c := range codes {
			code = c
		}
	case codes[exitcode.Failure] || codes[exitcode.Permission] || codes[exitcode.Conflict]:
		code = exitcode.Failure
	case codes[exitcode.RolledBack]:
		code = exitcode.RolledBack
	case codes[exitcode.Preflight]:
		code = exitcode.Preflight
	}
	var msg string
	switch {
	case len(bads) == 0:
		msg = fmt.Sprintf("%s migrated, but the cleanup failed: %s", plural(len(ms), "workload"), strings.Join(cleanParts, "; "))
	case len(cleanBads) == 0:
		msg = fmt.Sprintf("%d of %s not migrated: %s", len(bads), plural(len(ms), "workload"), strings.Join(parts, "; "))
	default:
		msg = fmt.Sprintf("%d of %s not migrated: %s; and the cleanup failed: %s", len(bads), plural(len(ms), "workload"), strings.Join(parts, "; "), strings.Join(cleanParts, "; "))
	}
	return exitcode.Errorf(code, "%s", msg)
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ---------------------------------------------------------------------------------------
// Target resolution.

// resolvedTarget is the target shared by every workload, and how each gets its own.
type resolvedTarget struct {
	o      *MigrateOptions
	base   egress.VPC         // connector, or network and subnet, canonical
	create *egress.SubnetSpec // the subnet to create first, if any
	note   string             // how the target was inferred, if it was
	subnet *cloud.Subnet      // the --subnet as read, if it was (the preflight reuses it)
	ranges *egress.RangeFacts // the ranges in use in the network of the subnet to create
}

// subnetRead is the read of the --subnet started by startSubnetRead.
type subnetRead struct {
	done   chan struct{}
	subnet *cloud.Subnet
	err    error
}

// startSubnetRead starts reading the --subnet of a migration to Direct VPC egress (not one
// --create-subnet makes): it depends on the flags alone, so it runs while the workloads are
// read. nil when there is nothing to read.
func (o *MigrateOptions) startSubnetRead(ctx context.Context, c *cloud.Clients) *subnetRead {
	if o.mode != egress.ModeDirect || o.subnet == "" || o.CreateSubnet {
		return nil
	}
	sref, err := egress.ParseSubnetRef(o.subnet, o.project, o.region)
	if err != nil {
		return nil
	}
	r := &subnetRead{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.subnet, r.err = c.GetSubnet(ctx, sref)
	}()
	return r
}

// wait waits for the read to end (nil: no read).
func (r *subnetRead) wait() {
	if r != nil {
		<-r.done
	}
}

// forWorkload is a workload's own target: the shared one with its egress kept (unless
// --egress) and, for Direct VPC, its network tags kept (unless --network-tags or
// --clear-network-tags).
func (t *resolvedTarget) forWorkload(w *cloud.Workload) egress.VPC {
	o := t.o
	v := t.base
	if o.mode == egress.ModeNone {
		return egress.VPC{}
	}
	cur := servingVPC(w) // egress and tags are kept from what serves
	switch {
	case o.set["egress"]:
		v.Egress = o.egress
	case cur.Mode() != egress.ModeNone:
		v.Egress = cur.Egress.Normalize()
	default:
		v.Egress = egress.EgressPrivateRangesOnly
	}
	if o.mode == egress.ModeDirect {
		switch {
		case o.set["network-tags"]:
			v.Tags = slices.Clone(o.NetworkTags)
		case o.ClearNetworkTags:
			v.Tags = nil
		case cur.Mode() == egress.ModeDirect:
			v.Tags = slices.Clone(cur.Tags)
		}
		if c, err := v.Canonical(w.Ref.Project, w.Ref.Region); err == nil {
			v = c
		}
	}
	return v
}

// resolveTarget works out the shared target: the connector; or the Direct VPC network (the
// flag, the subnet's, or the one the workloads use now) and subnet (the flag, one to create,
// or the only suitable one).
func (o *MigrateOptions) resolveTarget(ctx context.Context, c *cloud.Clients, ws []*cloud.Workload, sub *subnetRead) (*resolvedTarget, error) {
	t := &resolvedTarget{o: o}
	switch o.mode {
	case egress.ModeNone:
		return t, nil
	case egress.ModeConnector:
		t.base = egress.VPC{Connector: o.connector.FullName()}
		return t, nil
	}
	network, subnet := o.network, o.subnet
	var notes []string

	// The network (the --subnet's, read by startSubnetRead).
	if sub != nil {
		sub.wait()
		switch {
		case sub.err == nil:
			t.subnet = sub.subnet
			if network == "" {
				network = sub.subnet.NetworkPath
			}
		case network == "" && !cloud.IsNotFound(sub.err):
			return nil, sub.err
		}
		// A subnet that does not exist: leave the network out; the preflight says so. One
		// that could not be read while --network names the network: the preflight reads
		// it again.
	}
	if network == "" && subnet == "" || network == "" && o.CreateSubnet {
		n, how, err := o.inferNetwork(ctx, c, ws)
		if err != nil {
			return nil, err
		}
		network = n
		if how != "" {
			notes = append(notes, how)
		}
	}

	// The subnet.
	need := 0
	for _, w := range ws {
		need += ipam.BlocksForInstances(w.EffectiveMaxInstances()) * egress.RolloutOverlapFactor
	}
	switch {
	case o.CreateSubnet:
		spec, how, err := o.subnetToCreate(ctx, c, network, need)
		if err != nil {
			return nil, err
		}
		subnet = spec.Name
		if how != "" {
			notes = append(notes, how)
		}
		if !spec.exists {
			t.create = &egress.SubnetSpec{Name: spec.Name, Network: network, CIDR: spec.CIDR, AutoPrefix: spec.auto}
			t.ranges = spec.ranges
		}
	case subnet == "":
		s, how, err := o.inferSubnet(ctx, c, network, need)
		if err != nil {
			return nil, err
		}
		subnet = s
		notes = append(notes, how)
	}
	t.base = egress.VPC{Network: network, Subnet: subnet}
	t.note = strings.Join(notes, "; ")
	return t, nil
}

// inferNetwork finds the network the workloads reach today: their connector's, or their
// Direct VPC subnet's. They must all use the same one.
func (o *MigrateOptions) inferNetwork(ctx context.Context, c *cloud.Clients, ws []*cloud.Workload) (string, string, error) {
	type source struct{ network, from string }
	found := map[string][]string{}
	var none []string
	conns := map[string]*cloud.Connector{}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	results := make([]source, len(ws))
	for i, w := range ws {
		cur := servingVPC(w) // the network the workload reaches today
		switch cur.Mode() {
		case egress.ModeDirect:
			if cur.Network != "" {
				results[i] = source{cur.Network, "its subnet"}
				continue
			}
			wg.Go(func() {
				sref, _ := egress.ParseSubnetRef(cur.Subnet, w.Ref.Project, w.Ref.Region)
				s, err := c.GetSubnet(ctx, sref)
				if err == nil {
					results[i] = source{s.NetworkPath, "its subnet " + s.Name}
				}
			})
		case egress.ModeConnector:
			wg.Go(func() {
				cref, _ := egress.ParseConnectorRef(cur.Connector, w.Ref.Project, w.Ref.Region)
				conn, err := c.GetConnector(ctx, cref)
				if err != nil {
					mu.Lock()
					if firstErr == nil && !cloud.IsNotFound(err) {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mu.Lock()
				conns[cref.Name] = conn
				mu.Unlock()
				n := normNetworkPath(conn.Network, conn.Project)
				if n == "" {
					if p := conn.SubnetPath(); p != "" {
						sref, _ := egress.ParseSubnetRef(p, conn.Project, conn.Region)
						if s, err := c.GetSubnet(ctx, sref); err == nil {
							n = s.NetworkPath
						}
					}
				}
				if n != "" {
					results[i] = source{n, "its connector " + conn.Name}
				}
			})
		}
	}
	wg.Wait()
	if firstErr != nil {
		return "", "", firstErr
	}
	for i, w := range ws {
		if results[i].network == "" {
			none = append(none, w.Ref.String())
			continue
		}
		found[results[i].network] = append(found[results[i].network], w.Ref.String())
	}
	switch {
	case len(found) == 0:
		return "", "", exitcode.Usagef("--network is needed: %s has no connector or Direct VPC subnet to take the network from", strings.Join(none, ", "))
	case len(found) > 1:
		var parts []string
		for n, who := range found {
			parts = append(parts, fmt.Sprintf("%s (%s)", lastSegmentOf(n), strings.Join(who, ", ")))
		}
		sort.Strings(parts)
		return "", "", exitcode.Usagef("--network is needed: the workloads reach different networks: %s", strings.Join(parts, ", "))
	}
	for n := range found {
		how := fmt.Sprintf("network %s: the one %s reaches today", lastSegmentOf(n), strings.Join(found[n], ", "))
		if len(ws) == 1 {
			how = fmt.Sprintf("network %s: the one %s reaches today (%s)", lastSegmentOf(n), ws[0].Ref, results[0].from)
		}
		return n, how, nil
	}
	return "", "", nil
}

func normNetworkPath(n, project string) string {
	if n == "" {
		return ""
	}
	if r, err := egress.ParseNetworkRef(n, project); err == nil {
		return r.Path()
	}
	return ""
}

// inferSubnet picks the only subnet of network in the region that can take need /28 blocks.
func (o *MigrateOptions) inferSubnet(ctx context.Context, c *cloud.Clients, network string, need int) (string, string, error) {
	nref, err := egress.ParseNetworkRef(network, o.project)
	if err != nil {
		return "", "", exitcode.Usagef("--network: %v", err)
	}
	subs, err := c.ListSubnets(ctx, nref.Project, o.region)
	if err != nil {
		return "", "", err
	}
	var fit, small []string
	for _, s := range subs {
		if s.NetworkPath != nref.Path() || (s.Purpose != "" && s.Purpose != "PRIVATE") || !s.DirectVPCEligible {
			continue
		}
		if s.FreeBlocks < need {
			small = append(small, fmt.Sprintf("%s (%s, %d free /28 blocks)", s.Name, s.IPCIDRRange, s.FreeBlocks))
			continue
		}
		fit = append(fit, s.Path)
	}
	switch len(fit) {
	case 1:
		return fit[0], fmt.Sprintf("subnet %s: the only subnet of network %s in %s with the %d free /28 blocks needed", lastSegmentOf(fit[0]), nref.Name, o.region, need), nil
	case 0:
		msg := fmt.Sprintf("--subnet is needed: network %s has no subnet in %s that fits (/%d or larger with %d free /28 blocks)", nref.Name, o.region, ipam.DirectVPCMinPrefix, need)
		if len(small) > 0 {
			msg += "; too full: " + strings.Join(small, ", ")
		}
		return "", "", exitcode.Errorf(exitcode.Preflight, "%s; create one with --create-subnet", msg)
	}
	names := make([]string, 0, len(fit))
	for _, f := range fit {
		names = append(names, lastSegmentOf(f))
	}
	return "", "", exitcode.Usagef("--subnet is needed: network %s has %d subnets in %s that fit: %s; name one", nref.Name, len(fit), o.region, strings.Join(names, ", "))
}

type subnetChoice struct {
	Name   string // path
	CIDR   string
	exists bool
	// auto is the prefix length of a range --range auto picked (0 for --range CIDR).
	auto int
	// ranges are the ranges in use in the network, for the subnet-range-free check.
	ranges *egress.RangeFacts
}

// defaultSubnetName is the name --create-subnet gives a subnet without --subnet:
// NETWORK-direct.
func defaultSubnetName(network string) string {
	n := lastSegmentOf(network)
	const suffix = "-direct"
	if len(n)+len(suffix) > egress.MaxComputeNameLength {
		n = strings.TrimRight(n[:egress.MaxComputeNameLength-len(suffix)], "-")
	}
	return n + suffix
}

// subnetToCreate names and sizes the subnet --create-subnet makes; a subnet of that name in
// the same network is used as it is (a repeated command).
func (o *MigrateOptions) subnetToCreate(ctx context.Context, c *cloud.Clients, network string, need int) (subnetChoice, string, error) {
	nref, err := egress.ParseNetworkRef(network, o.project)
	if err != nil {
		return subnetChoice{}, "", exitcode.Usagef("--network: %v", err)
	}
	name := o.subnetName
	if name == "" {
		name = defaultSubnetName(network)
	}
	sref := egress.SubnetRef{Project: nref.Project, Region: o.region, Name: name}
	if o.subnet != "" {
		sref, _ = egress.ParseSubnetRef(o.subnet, nref.Project, o.region)
	}
	cur, err := c.GetSubnet(ctx, sref)
	switch {
	case err == nil:
		if cur.NetworkPath != nref.Path() {
			return subnetChoice{}, "", exitcode.Errorf(exitcode.Conflict, "--create-subnet: subnet %s already exists in network %s, not %s; pick another --subnet name", name, cur.Network, nref.Name)
		}
		if o.rangeCIDR.IsValid() && cur.IPCIDRRange != o.rangeCIDR.String() {
			return subnetChoice{}, "", exitcode.Errorf(exitcode.Conflict, "--create-subnet: subnet %s already exists with range %s, not %s", name, cur.IPCIDRRange, o.rangeCIDR)
		}
		return subnetChoice{Name: sref.Path(), CIDR: cur.IPCIDRRange, exists: true},
			fmt.Sprintf("subnet %s already exists in network %s (%s): using it", name, nref.Name, cur.IPCIDRRange), nil
	case !cloud.IsNotFound(err):
		return subnetChoice{}, "", err
	}
	// Every range in use in the network, VPC-wide: --range auto picks around them, and the
	// preflight checks that --range CIDR overlaps none of them (subnet-range-free).
	used, warnings, err := c.NetworkRanges(ctx, nref.Project, nref.Path())
	if err != nil {
		return subnetChoice{}, "", err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	ranges := cloud.RangeFacts(used, autoRangeSpace)
	if o.rangeCIDR.IsValid() {
		return subnetChoice{Name: sref.Path(), CIDR: o.rangeCIDR.String(), ranges: ranges}, "", nil
	}
	prefix := o.Prefix
	if prefix == 0 {
		prefix = smallestPrefixFor(need)
	}
	prefixes := make([]netip.Prefix, 0, len(used))
	for _, u := range used {
		prefixes = append(prefixes, u.Prefix)
	}
	chosen, ok := ipam.FindFree(autoRangeSpace, prefixes, prefix)
	if !ok {
		return subnetChoice{}, "", exitcode.Errorf(exitcode.Preflight, "--create-subnet: no free /%d range left in RFC 1918 space in network %s; give --range CIDR", prefix, nref.Name)
	}
	how := fmt.Sprintf("subnet %s will be created in range %s: the first free /%d in network %s", name, chosen, prefix, nref.Name)
	if o.Prefix == 0 {
		how += fmt.Sprintf(" (the smallest that holds the %d /28 blocks needed)", need)
	}
	return subnetChoice{Name: sref.Path(), CIDR: chosen.String(), auto: prefix, ranges: ranges}, how, nil
}

// smallestPrefixFor is the longest prefix, /26 or shorter, whose subnet holds need blocks.
func smallestPrefixFor(need int) int {
	for b := ipam.DirectVPCMinPrefix; b > ipam.MinSubnetPrefix; b-- {
		if ipam.Blocks(netip.PrefixFrom(netip.IPv4Unspecified(), b)) >= need {
			return b
		}
	}
	return ipam.MinSubnetPrefix
}

// ---------------------------------------------------------------------------------------
// The fleet machinery: plan and migrate workloads with bounded concurrency. `runnet
// migrate` uses it for one workload or many; `runnet connector recycle` moves a connector's
// users with it.

// Fleet plans and migrates a set of workloads.
type Fleet struct {
	F *Factory
	C *cloud.Clients
	// Concurrency bounds how many workloads are read, planned or migrated at once.
	Concurrency int
	// PlanOptions apply to every workload (Tag and CreateSubnet are set per workload).
	PlanOptions egress.PlanOptions
	// Force names the failed preflight checks to proceed past.
	Force []string
	// SubnetInPlan puts the creation of a subnet in the workload's plan (one workload);
	// otherwise the caller creates it once (CreateSubnet) before Apply.
	SubnetInPlan bool
	// CleanupAtEnd says the caller deletes the connectors the workloads leave once they
	// are all done (Cleanup), rather than each workload's plan.
	CleanupAtEnd bool
	// Observer, if set, receives every workload's executor events (after the progress
	// output).
	Observer egress.Observer
	// Executor, if set, configures the executors (its Platform and Observer are set by the
	// fleet).
	Executor *egress.Executor
	// NoJournal turns off the migration journal (the lock and record kept on each workload
	// while it migrates; see journal.go in pkg/egress). It is on by default.
	NoJournal bool
	// TargetSubnet, if set, is the target subnetwork as read already: the preflight of a
	// workload that moves into it does not read it again.
	TargetSubnet *cloud.Subnet
	// Ranges are the ranges in use in the network of the subnet the migration creates.
	Ranges *egress.RangeFacts

	watchMu   sync.Mutex
	watchEnds map[egress.WorkloadRef]time.Time // when each canary watch ends, for progress
}

// Migration is one workload of a fleet: as read, its target, the facts and the checks, its
// plan and, once run, its result.
type Migration struct {
	Ref          egress.WorkloadRef
	Workload     *cloud.Workload
	Target       egress.VPC
	CreateSubnet *egress.SubnetSpec
	Facts        *cloud.GatheredFacts
	Plan         egress.Plan
	// Validated is set when a dry run's validate_only request was accepted.
	Validated bool
	// Result is the executor's record; for a workload that did not run, Prepare/Skip/
	// Validate fill it.
	Result *egress.Result
	Notes  []string
	// RollbackRequested is set for `--resume --rollback`: rolled back is then success.
	RollbackRequested bool
}

// Runnable reports whether the migration is ready to apply: planned, not a no-op, not
// blocked, not already finished.
func (m *Migration) Runnable() bool {
	return m.Result == nil && !m.Plan.NoOp && !m.Plan.Blocked
}

// Skip marks a migration that will not run.
func (m *Migration) Skip(why string) {
	m.Result = &egress.Result{Workload: m.Ref, Outcome: egress.OutcomeSkipped, Error: why, Err: errors.New(why)}
}

func (m *Migration) failed(err error) {
	m.Result = &egress.Result{Workload: m.Ref, Outcome: egress.OutcomeFailed, Error: err.Error(), Err: err}
}

// TargetFunc returns the target of one workload, as read.
type TargetFunc func(w *cloud.Workload) egress.VPC

// forEach runs fn(i) for i in [0, n) with at most limit at once, starting them in order (so
// that with a limit of 1 they run one after the other, in order). It returns when all have
// returned.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int)) {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(ctx, i)
		})
	}
	wg.Wait()
}

func (fl *Fleet) progress(ref egress.WorkloadRef, format string, args ...any) {
	fl.F.IOStreams.Progressf("%s: %s", ref, fmt.Sprintf(format, args...))
}

// Prepare checks and plans each workload: its target (from target), whether it already has
// it (no-op: nothing more is read), the preflight facts (gathered concurrently, counting the
// other workloads moving into the same subnet), the checks (with Force applied) and the
// plan. create is a subnet the migration creates first (nil if none).
func (fl *Fleet) Prepare(ctx context.Context, ws []*cloud.Workload, target TargetFunc, create *egress.SubnetSpec) []*Migration {
	ms := make([]*Migration, len(ws))
	servingErr := readServing(ctx, fl.C, ws)
	for i, w := range ws {
		ms[i] = &Migration{Ref: w.Ref, Workload: w, Target: target(w), CreateSubnet: create}
		if err := lockedBy(w); err != nil {
			// Another run holds it (or died holding it): what it carries is no basis for a
			// plan, not even a no-op.
			ms[i].failed(err)
			continue
		}
		if w.Serving == nil {
			// What serves decides whether there is anything to do: without it, no plan.
			ms[i].failed(servingErr)
		}
	}
	// Who moves into which subnet, for the free-ips check.
	moving := map[string][]egress.SubnetUser{}
	var listed []*cloud.Workload
	if len(ws) > 1 {
		// One list of the region serves every workload's facts.
		if l, err := fl.C.ListWorkloads(ctx, ws[0].Ref.Project, ws[0].Ref.Region); err == nil {
			listed = l
		}
	}
	for _, m := range ms {
		if m.Result != nil || m.noOp() {
			continue
		}
		if m.Target.Mode() == egress.ModeDirect {
			moving[m.Target.Subnet] = append(moving[m.Target.Subnet], egress.SubnetUser{Ref: m.Ref, MaxInstances: m.Workload.MaxInstances})
		}
	}
	forEach(ctx, len(ms), max(fl.Concurrency, 8), func(ctx context.Context, i int) {
		m := ms[i]
		if m.Result != nil {
			return
		}
		opts := fl.PlanOptions
		if m.Ref.Kind == egress.KindService {
			opts.Tag = egress.DefaultRevisionTag(m.Ref.Name, m.Target.Mode())
		}
		if fl.SubnetInPlan {
			opts.CreateSubnet = m.CreateSubnet
		}
		if m.noOp() {
			m.Plan = egress.BuildPlan(opts, m.Workload.Workload, m.Target, nil)
			if m.Workload.Rollout() == cloud.RolloutFailed {
				m.Notes = append(m.Notes, fmt.Sprintf("its latest revision %s failed with these settings; retry it with 'runnet attach'", m.Workload.LatestCreated))
			}
			return
		}
		req := cloud.FactsRequest{Workload: m.Workload, Target: m.Target, CreateSubnet: m.CreateSubnet,
			Workloads: listed, Verify: fl.PlanOptions.VerifyJob && m.Ref.Kind == egress.KindJob, Subnet: fl.TargetSubnet, Ranges: fl.Ranges,
			ServingUsers: fl.PlanOptions.Cleanup && !fl.CleanupAtEnd}
		if m.Target.Mode() == egress.ModeDirect {
			for _, u := range moving[m.Target.Subnet] {
				if u.Ref != m.Ref {
					req.Moving = append(req.Moving, u)
				}
			}
		}
		facts, err := fl.C.GatherFacts(ctx, req)
		if err != nil {
			m.failed(fmt.Errorf("preflight of %s: %w", m.Ref, err))
			return
		}
		m.Facts = facts
		m.Notes = append(m.Notes, facts.Notes...)
		checks, err := egress.ApplyForce(egress.RunPreflight(facts.Facts), fl.Force)
		if err != nil {
			m.failed(exitcode.Wrap(exitcode.Usage, err))
			return
		}
		opts.ConnectorUsers = facts.ConnectorUsers
		if fl.CleanupAtEnd {
			// Other workloads of the fleet leave the connector too: it is deleted once
			// they all have (Fleet.Cleanup), not by each workload's plan.
			opts.Cleanup = false
		}
		m.Plan = egress.BuildPlan(opts, m.Workload.Workload, m.Target, checks)
		if fl.CleanupAtEnd && m.Plan.FromMode == egress.ModeConnector && m.Plan.From.Connector != m.Plan.To.Connector {
			notes := m.Plan.Notes[:0]
			for _, n := range m.Plan.Notes {
				if !strings.Contains(n, "--cleanup") {
					notes = append(notes, n)
				}
			}
			m.Plan.Notes = append(notes, fmt.Sprintf("connector %s is deleted at the end if nothing uses it then", lastSegmentOf(m.Plan.From.Connector)))
		}
		fl.reportChecks(m)
	})
	return ms
}

// noOp reports whether the target is in force: the template has it, its latest revision did
// not fail, and every revision that receives traffic (instances) has it.
func (m *Migration) noOp() bool {
	if m.Workload.Serving != nil {
		return m.Workload.Serving.Serves(m.Target)
	}
	same, err := m.Workload.VPC.Equivalent(m.Target, m.Ref.Project, m.Ref.Region)
	return err == nil && same
}

// reportChecks shows the preflight outcome on a terminal.
func (fl *Fleet) reportChecks(m *Migration) {
	var pass, warn, fail, skip int
	for _, c := range m.Plan.Checks {
		switch c.Status {
		case egress.StatusPass:
			pass++
		case egress.StatusWarn:
			warn++
		case egress.StatusFail:
			fail++
		default:
			skip++
		}
	}
	fl.progress(m.Ref, "preflight: %d passed, %d warnings, %d failed, %d skipped", pass, warn, fail, skip)
	for _, c := range m.Plan.Checks {
		if c.Status == egress.StatusWarn || c.Status == egress.StatusFail {
			fl.progress(m.Ref, "  %s %s: %s", strings.ToUpper(string(c.Status)), c.Name, c.Message)
		}
	}
}

// executor returns an executor for the fleet's workloads.
func (fl *Fleet) executor() *egress.Executor {
	e := &egress.Executor{}
	if fl.Executor != nil {
		*e = *fl.Executor
	}
	e.Platform = &cloud.Platform{C: fl.C, Progress: func(ref egress.WorkloadRef, msg string) { fl.progress(ref, "%s", msg) }}
	e.Observer = egress.Observers(fl.progressObserver, fl.Observer)
	if e.Journal == nil && !fl.NoJournal {
		e.Journal = journalConfig(fl.F)
	}
	if e.RollbackContext == nil {
		timeout := e.RollbackTimeout
		if timeout <= 0 {
			timeout = egress.DefaultRollbackTimeout
		}
		e.RollbackContext = func(ctx context.Context) (context.Context, context.CancelFunc) { return rollbackContext(ctx, timeout) }
	}
	return e
}

// Validate runs a dry run's server-side check (validate_only) of every runnable workload.
func (fl *Fleet) Validate(ctx context.Context, ms []*Migration) {
	e := fl.executor()
	forEach(ctx, len(ms), fl.Concurrency, func(ctx context.Context, i int) {
		m := ms[i]
		if !m.Runnable() {
			return
		}
		err := e.Validate(ctx, egress.Request{Plan: m.Plan, Workload: cloud.Snapshot(m.Workload), CreateSubnet: m.CreateSubnet})
		if err != nil {
			m.failed(fmt.Errorf("the API rejected the change (validate_only): %w", err))
			return
		}
		m.Validated = true
		if m.CreateSubnet != nil {
			m.Notes = append(m.Notes, "the subnet does not exist yet: the API checked the request, not the subnet")
		}
	})
}

// Apply migrates every runnable workload, Concurrency at a time. A workload's failure does
// not stop the others; once ctx is cancelled, workloads not yet started are skipped (the
// ones running roll back).
func (fl *Fleet) Apply(ctx context.Context, ms []*Migration) {
	done := startWait(fl.F, fmt.Sprintf("Migrating %d workload%s", len(ms), netPlural(len(ms))))
	defer done()
	e := fl.executor()
	forEach(ctx, len(ms), fl.Concurrency, func(ctx context.Context, i int) {
		m := ms[i]
		if m.Result != nil {
			return
		}
		if m.Runnable() && ctx.Err() != nil {
			m.Skip("interrupted before it started: nothing was changed")
			return
		}
		m.Result = e.Execute(ctx, egress.Request{Plan: m.Plan, Workload: cloud.Snapshot(m.Workload), CreateSubnet: m.CreateSubnet})
	})
}

// isRollbackStep tells the steps a rollback adds after the plan's.
func isRollbackStep(k egress.StepKind) bool {
	return k == egress.StepRestoreTemplate || k == egress.StepRestoreTraffic
}

// progressObserver turns executor events into progress lines (on a terminal). The plan's
// steps are numbered [i/n]; a rollback's steps follow as [rollback i].
func (fl *Fleet) progressObserver(_ context.Context, ev egress.Event) error {
	ref := ev.Workload
	switch ev.Kind {
	case egress.EventStepStarted:
		n, rb := 0, 0
		for i, s := range ev.Result.Steps {
			switch {
			case !isRollbackStep(s.Kind):
				n++
			case i <= ev.Index:
				rb++
			}
		}
		if isRollbackStep(ev.Step.Kind) {
			fl.progress(ref, "[rollback %d] %s", rb, ev.Step.Description)
			break
		}
		fl.progress(ref, "[%d/%d] %s", ev.Index+1, n, ev.Step.Description)
	case egress.EventStepFinished:
		switch ev.Step.Status {
		case egress.StepFailed:
			fl.progress(ref, "%s failed: %s", ev.Step.Kind, ev.Step.Error)
		case egress.StepSkipped:
			fl.progress(ref, "%s skipped: %s", ev.Step.Kind, ev.Step.Note)
		}
	case egress.EventTraffic:
		fl.progress(ref, "traffic: %s", egress.DescribeTraffic(ev.Traffic))
		if d := fl.PlanOptions.StepWait; ev.Step.Kind == egress.StepShiftTraffic && d > 0 && ev.Step.Percent < 100 {
			fl.watchStarted(ref, d)
			fl.progress(ref, "watching revision %s for %s before the next step (its health is checked every %s)", ev.Step.Revision, d, egress.DefaultHealthInterval)
		}
	case egress.EventHealth:
		// A line of its own on a terminal, rewritten at each check: the wait is not silent.
		msg := fmt.Sprintf("%s: revision %s healthy at %s", ref, ev.Step.Revision, time.Now().Format("15:04:05"))
		if left, ok := fl.watchLeft(ref); ok {
			msg += fmt.Sprintf("; next step in %s", left)
		}
		fl.F.IOStreams.Statusf("%s", msg)
	case egress.EventRollbackStarted, egress.EventRollbackFinished:
		fl.progress(ref, "%s", ev.Message)
	case egress.EventFinished:
		fl.F.IOStreams.ClearStatus()
	}
	return nil
}

// watchStarted records when a workload's canary watch began and how long it lasts.
func (fl *Fleet) watchStarted(ref egress.WorkloadRef, d time.Duration) {
	fl.watchMu.Lock()
	defer fl.watchMu.Unlock()
	if fl.watchEnds == nil {
		fl.watchEnds = map[egress.WorkloadRef]time.Time{}
	}
	fl.watchEnds[ref] = time.Now().Add(d)
}

// watchLeft is how long a workload's canary watch has to go, rounded to the second.
func (fl *Fleet) watchLeft(ref egress.WorkloadRef) (time.Duration, bool) {
	fl.watchMu.Lock()
	defer fl.watchMu.Unlock()
	end, ok := fl.watchEnds[ref]
	return max(time.Until(end).Round(time.Second), 0), ok
}

// SubnetCreation is the subnet a fleet created before migrating. JSON field names are a
// stable contract.
type SubnetCreation struct {
	Name    string `json:"name"`
	Network string `json:"network"`
	CIDR    string `json:"cidr"`
	Status  string `json:"status"` // done, failed, planned (a dry run), or blocked (a dry run no workload passes)
	Error   string `json:"error,omitempty"`
}

// CreateSubnet creates the subnet the fleet's workloads move into.
func (fl *Fleet) CreateSubnet(ctx context.Context, spec egress.SubnetSpec) *SubnetCreation {
	out := &SubnetCreation{Name: spec.Name, Network: spec.Network, CIDR: spec.CIDR, Status: string(egress.StepDone)}
	fl.F.IOStreams.Progressf("Creating subnet %s (%s)...", lastSegmentOf(spec.Name), spec.CIDR)
	p := &cloud.Platform{C: fl.C}
	cidr, err := p.CreateSubnet(ctx, spec)
	switch {
	case err != nil:
		out.Status, out.Error = string(egress.StepFailed), err.Error()
	case cidr != "" && cidr != spec.CIDR:
		netWarn(fl.F, "range %s was taken meanwhile; subnet %s was created in %s, the next free one", spec.CIDR, lastSegmentOf(spec.Name), cidr)
		out.CIDR = cidr
	}
	return out
}

// ConnectorCleanup is what a fleet's --cleanup did with a connector its workloads left.
// JSON field names are a stable contract.
type ConnectorCleanup struct {
	Connector string   `json:"connector"`
	Status    string   `json:"status"` // done (deleted), skipped (still used) or failed
	Users     []string `json:"users,omitempty"`
	Error     string   `json:"error,omitempty"`

	err error // Error as an error value, for the exit status
}

func (cl *ConnectorCleanup) fail(err error) {
	cl.Status, cl.Error, cl.err = string(egress.StepFailed), err.Error(), err
}

// Cleanup deletes, once every workload is done, each connector the migrated workloads left
// (and each of also, full names) if nothing uses it any more (templates, and revisions still
// serving traffic or tagged), checked at that moment.
func (fl *Fleet) Cleanup(ctx context.Context, ms []*Migration, also []string) []ConnectorCleanup {
	conns := slices.Clone(also)
	for _, m := range ms {
		if m.Result == nil || m.Result.Outcome != egress.OutcomeMigrated {
			continue
		}
		if m.Plan.FromMode == egress.ModeConnector && m.Plan.From.Connector != m.Plan.To.Connector && !slices.Contains(conns, m.Plan.From.Connector) {
			conns = append(conns, m.Plan.From.Connector)
		}
	}
	p := &cloud.Platform{C: fl.C}
	out := make([]ConnectorCleanup, len(conns))
	for i, name := range conns {
		cref, err := egress.ParseConnectorRef(name, "", "")
		out[i] = ConnectorCleanup{Connector: name}
		if err != nil {
			out[i].fail(err)
			continue
		}
		users, err := p.ConnectorUsers(ctx, cref)
		if err != nil {
			out[i].fail(fmt.Errorf("check who uses connector %s: %w", cref.Name, err))
			continue
		}
		if len(users) > 0 {
			out[i].Status = string(egress.StepSkipped)
			for _, u := range users {
				out[i].Users = append(out[i].Users, u.String())
			}
			continue
		}
		fl.F.IOStreams.Progressf("Deleting connector %s, which nothing uses any more...", cref.Name)
		if err := p.DeleteConnector(ctx, cref); err != nil {
			out[i].fail(err)
			continue
		}
		out[i].Status = string(egress.StepDone)
	}
	return out
}

// ExitCode is the exit status of one workload's migration and what to say about it.
func (m *Migration) ExitCode() (int, string) {
	r := m.Result
	if r == nil {
		if m.Plan.NoOp {
			return exitcode.OK, ""
		}
		if m.Plan.Blocked {
			return blockedCode(m.Plan), blockedMessage(m.Plan)
		}
		if m.Validated {
			return exitcode.OK, ""
		}
		return exitcode.Failure, "not migrated"
	}
	switch r.Outcome {
	case egress.OutcomeMigrated:
		if r.Err != nil {
			if strings.HasPrefix(r.Error, "the migration is complete") {
				return exitcode.Failure, r.Error
			}
			return exitcode.Failure, "migrated, but the cleanup failed: " + r.Error
		}
		return exitcode.OK, ""
	case egress.OutcomeNoOp, egress.OutcomePlanned:
		return exitcode.OK, ""
	case egress.OutcomeBlocked:
		return blockedCode(m.Plan), blockedMessage(m.Plan)
	case egress.OutcomeRolledBack:
		if m.RollbackRequested {
			return exitcode.OK, ""
		}
		return exitcode.RolledBack, fmt.Sprintf("%s: rolled back: %s", m.Ref, r.Error)
	case egress.OutcomeSkipped:
		return exitcode.Failure, "skipped: " + r.Error
	}
	if errors.Is(r.Err, egress.ErrConflict) && r.RollbackError == "" {
		msg := r.Error
		if r.State != "" {
			msg += "; now: " + r.State
		}
		if len(r.Recovery) > 0 {
			msg += ". To finish: " + strings.Join(r.Recovery, "; ")
		}
		return exitcode.Conflict, msg
	}
	if r.RollbackError != "" {
		return exitcode.Failure, fmt.Sprintf("%s: %s; the rollback failed too: %s; %s. To finish by hand: %s",
			m.Ref, r.Error, r.RollbackError, r.State, strings.Join(r.Recovery, "; "))
	}
	code := exitcode.FromError(r.Err)
	if code == exitcode.OK {
		code = exitcode.Failure
	}
	return code, r.Error
}

// blockedMessage says which checks failed. --force is suggested only when it would let the
// migration through: when every failed check can be forced; otherwise the ones that cannot
// are named as such.
func blockedMessage(p egress.Plan) string {
	failed := egress.Failed(p.Checks)
	var parts, forceable, unforceable []string
	for _, c := range failed {
		parts = append(parts, c.Name+": "+c.Message)
		if egress.Forceable(c.Name) {
			forceable = append(forceable, c.Name)
		} else {
			unforceable = append(unforceable, c.Name)
		}
	}
	msg := fmt.Sprintf("preflight failed for %s, nothing was changed: %s", p.Workload, strings.Join(parts, "; "))
	switch {
	case len(unforceable) > 0:
		msg += fmt.Sprintf(" (%s cannot be forced: fix %s first)", strings.Join(unforceable, ", "), pronounFor(len(unforceable)))
	case len(forceable) > 0:
		msg += fmt.Sprintf(" (--force %s to proceed anyway)", strings.Join(forceable, ","))
	}
	return msg
}

func pronounFor(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// ---------------------------------------------------------------------------------------
// Reports.

// Endpoint is one side of a migration: a mode and VPC settings.
type Endpoint struct {
	Mode egress.Mode `json:"mode"`
	VPC  egress.VPC  `json:"vpc"`
}

// PlanView is the plan as a report shows it.
type PlanView struct {
	Steps  []egress.Step `json:"steps"`
	Canary []int         `json:"canary,omitempty"`
	Notes  []string      `json:"notes,omitempty"`
}

// MigrationReport is what `runnet migrate` prints for a workload. Its JSON field names are
// a documented, stable contract (see migrateLong).
type MigrationReport struct {
	Workload         string                 `json:"workload"`
	Name             string                 `json:"name"`
	Kind             egress.Kind            `json:"kind"`
	Project          string                 `json:"project"`
	Region           string                 `json:"region"`
	From             Endpoint               `json:"from"`
	To               Endpoint               `json:"to"`
	Checks           []egress.Check         `json:"checks"`
	Plan             PlanView               `json:"plan"`
	DryRun           bool                   `json:"dryRun"`
	Validated        bool                   `json:"validated"`
	Outcome          egress.Outcome         `json:"outcome"`
	PreviousRevision string                 `json:"previousRevision,omitempty"`
	NewRevision      string                 `json:"newRevision,omitempty"`
	RestoredRevision string                 `json:"restoredRevision,omitempty"`
	Traffic          []egress.TrafficTarget `json:"traffic,omitempty"`
	Steps            []egress.StepResult    `json:"steps"`
	DurationSeconds  float64                `json:"durationSeconds"`
	Error            string                 `json:"error,omitempty"`
	RollbackError    string                 `json:"rollbackError,omitempty"`
	State            string                 `json:"state,omitempty"`
	Recovery         []string               `json:"recovery,omitempty"`
	Notes            []string               `json:"notes,omitempty"`

	// planShown: the plan (checks, steps, notes) was shown before the confirmation, on the
	// same terminal; the table form then does not list the checks and plan notes again.
	planShown bool
}

// Report builds the migration's report.
func (m *Migration) Report(dryRun bool) MigrationReport {
	p := m.Plan
	from, to := p.From, p.To
	if p.Workload.Name == "" { // never planned (failed before)
		from, to = m.Workload.VPC, m.Target
	}
	r := MigrationReport{
		Workload: m.Ref.String(), Name: m.Ref.Name, Kind: m.Ref.Kind, Project: m.Ref.Project, Region: m.Ref.Region,
		From: Endpoint{from.Mode(), from}, To: Endpoint{to.Mode(), to},
		Checks: p.Checks, Plan: PlanView{Steps: p.Steps, Canary: p.Canary, Notes: p.Notes},
		DryRun: dryRun, Validated: m.Validated, Notes: slices.Clone(m.Notes),
	}
	if r.Checks == nil {
		r.Checks = []egress.Check{}
	}
	if r.Plan.Steps == nil {
		r.Plan.Steps = []egress.Step{}
	}
	r.PreviousRevision = m.Workload.LatestReady
	if len(p.MoveFrom) > 0 {
		r.PreviousRevision = p.MoveFrom[0]
	}
	if m.Ref.Kind != egress.KindJob {
		r.Traffic = m.Workload.Traffic
	}
	res := m.Result
	switch {
	case res != nil:
		r.Outcome = res.Outcome
		r.NewRevision, r.RestoredRevision = res.NewRevision, res.RestoredRevision
		if res.PreviousRevision != "" {
			r.PreviousRevision = res.PreviousRevision
		}
		if res.Traffic != nil && m.Ref.Kind != egress.KindJob {
			r.Traffic = res.Traffic
		}
		r.Steps = res.Steps
		r.DurationSeconds = roundSecondsF(res.DurationSeconds)
		r.Error, r.RollbackError, r.State, r.Recovery = res.Error, res.RollbackError, res.State, res.Recovery
		r.Notes = append(r.Notes, res.Notes...)
	case p.NoOp:
		r.Outcome = egress.OutcomeNoOp
	case p.Blocked:
		r.Outcome = egress.OutcomeBlocked
		r.Error = blockedMessage(p)
	case m.Validated:
		r.Outcome = egress.OutcomePlanned
	default:
		r.Outcome = egress.OutcomeSkipped
	}
	r.humanize()
	if r.Steps == nil {
		r.Steps = make([]egress.StepResult, 0, len(p.Steps))
		for _, s := range p.Steps {
			st := egress.StepSkipped
			note := ""
			switch {
			case r.Outcome == egress.OutcomeBlocked:
				note = "blocked by preflight"
			case r.Outcome == egress.OutcomePlanned:
				note = "dry run"
			}
			r.Steps = append(r.Steps, egress.StepResult{Kind: s.Kind, Description: s.Description, Status: st, Resource: s.Resource, Percent: s.Percent, Note: note})
		}
	}
	if r.Outcome == egress.OutcomeNoOp {
		r.NewRevision = ""
	}
	return r
}

// humanize says the report's errors in words (see humanizeError).
func (r *MigrationReport) humanize() {
	r.Error, r.RollbackError, r.State = humanizeError(r.Error), humanizeError(r.RollbackError), humanizeError(r.State)
	for i := range r.Notes {
		r.Notes[i] = humanizeError(r.Notes[i])
	}
	if r.Steps != nil {
		r.Steps = slices.Clone(r.Steps)
		for i := range r.Steps {
			r.Steps[i].Error = humanizeError(r.Steps[i].Error)
		}
	}
}

func roundSeconds(d time.Duration) float64 { return roundSecondsF(d.Seconds()) }
func roundSecondsF(s float64) float64      { return float64(int64(s*1000+0.5)) / 1000 }

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(10 * time.Millisecond).String()
}

// WriteText renders the report for humans (the table format): the settings before and
// after, the checks, the steps with what became of them, and the outcome.
func (r MigrationReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ref := egress.WorkloadRef{Kind: r.Kind, Project: r.Project, Region: r.Region, Name: r.Name}
	fmt.Fprintf(tw, "Workload:\t%s (%s)\n", r.Workload, ref.FullName())
	fmt.Fprintf(tw, "From:\t%s\n", r.From.VPC)
	fmt.Fprintf(tw, "To:\t%s\n", r.To.VPC)
	if len(r.Checks) > 0 && r.planShown {
		fmt.Fprintf(tw, "Checks:\t%s (listed with the plan above)\n", checkCounts(r.Checks))
	} else if len(r.Checks) > 0 {
		fmt.Fprintln(tw, "\nChecks:")
		for _, c := range r.Checks {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, c.Message)
			if c.Hint != "" && c.Status != egress.StatusPass {
				fmt.Fprintf(tw, "  \t\thint: %s\n", c.Hint)
			}
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(tw, "\nSteps:")
		rb := 0
		for i, s := range r.Steps {
			desc := s.Description
			var extra []string
			if s.Revision != "" {
				extra = append(extra, "revision "+s.Revision)
			}
			if s.Execution != "" {
				extra = append(extra, "execution "+s.Execution)
			}
			if s.Note != "" {
				extra = append(extra, s.Note)
			}
			if s.Error != "" {
				extra = append(extra, "error: "+s.Error)
			}
			if len(extra) > 0 {
				desc += " [" + strings.Join(extra, "; ") + "]"
			}
			if isRollbackStep(s.Kind) {
				// The rollback's steps, after the plan's: numbered on their own.
				if rb == 0 {
					fmt.Fprintln(tw, "Rollback:")
				}
				rb++
				fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\n", rb, s.Status, s.Kind, desc)
				continue
			}
			fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\n", i+1, s.Status, s.Kind, desc)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	notes := append(slices.Clone(r.Plan.Notes), r.Notes...)
	if r.planShown {
		notes = slices.Clone(r.Notes)
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	b.WriteString("\n" + r.outcomeLine() + "\n")
	if r.State != "" {
		b.WriteString("State: " + r.State + "\n")
	}
	for _, c := range r.Recovery {
		b.WriteString("  to finish: " + c + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// checkCounts sums up checks: "10 passed, 1 warning".
func checkCounts(cs []egress.Check) string {
	n := map[egress.CheckStatus]int{}
	for _, c := range cs {
		n[c.Status]++
	}
	var parts []string
	for _, x := range []struct {
		st   egress.CheckStatus
		word string
	}{{egress.StatusPass, "passed"}, {egress.StatusWarn, "with a warning"}, {egress.StatusFail, "failed"}, {egress.StatusSkip, "skipped"}} {
		if n[x.st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[x.st], x.word))
		}
	}
	return strings.Join(parts, ", ")
}

func (r MigrationReport) outcomeLine() string {
	switch r.Outcome {
	case egress.OutcomeMigrated:
		s := fmt.Sprintf("Outcome: migrated in %s", secs(r.DurationSeconds))
		if r.NewRevision != "" {
			s += fmt.Sprintf("; revision %s replaces %s (traffic: %s)", r.NewRevision, r.PreviousRevision, egress.DescribeTraffic(r.Traffic))
		}
		if r.Error != "" {
			s += "; " + r.Error
		}
		return s
	case egress.OutcomeNoOp:
		return "Outcome: no-op: already " + r.To.VPC.Short()
	case egress.OutcomePlanned:
		v := "the API accepted the change (validate_only)"
		return "Outcome: planned (dry run, nothing changed); " + v
	case egress.OutcomeBlocked:
		return "Outcome: blocked: " + r.Error
	case egress.OutcomeRolledBack:
		return fmt.Sprintf("Outcome: rolled back after %s: %s (traffic: %s)", secs(r.DurationSeconds), r.Error, egress.DescribeTraffic(r.Traffic))
	}
	s := "Outcome: " + string(r.Outcome)
	if r.Error != "" {
		s += ": " + r.Error
	}
	if r.RollbackError != "" {
		s += "; the rollback failed: " + r.RollbackError
	}
	return s
}

// FleetSummary counts a fleet's outcomes.
type FleetSummary struct {
	Total      int `json:"total"`
	Migrated   int `json:"migrated"`
	NoOp       int `json:"noOp"`
	Planned    int `json:"planned"`
	Blocked    int `json:"blocked"`
	RolledBack int `json:"rolledBack"`
	Failed     int `json:"failed"`
	Skipped    int `json:"skipped"`
	// CleanupFailed counts the connectors --cleanup could not delete.
	CleanupFailed int `json:"cleanupFailed"`
}

func summarize(rs []MigrationReport) FleetSummary {
	s := FleetSummary{Total: len(rs)}
	for _, r := range rs {
		switch r.Outcome {
		case egress.OutcomeMigrated:
			s.Migrated++
		case egress.OutcomeNoOp:
			s.NoOp++
		case egress.OutcomePlanned:
			s.Planned++
		case egress.OutcomeBlocked:
			s.Blocked++
		case egress.OutcomeRolledBack:
			s.RolledBack++
		case egress.OutcomeFailed:
			s.Failed++
		default:
			s.Skipped++
		}
	}
	return s
}

// FleetReport is what `runnet migrate` prints for several workloads. JSON field names are a
// stable contract.
type FleetReport struct {
	Workloads       []MigrationReport  `json:"workloads"`
	Summary         FleetSummary       `json:"summary"`
	Subnet          *SubnetCreation    `json:"subnet,omitempty"`
	Cleanup         []ConnectorCleanup `json:"cleanup,omitempty"`
	DurationSeconds float64            `json:"durationSeconds"`
}

// WriteText renders the fleet as a table, one row per workload, then the subnet, the
// cleanup and the counts.
func (f FleetReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tKIND\tFROM\tTO\tOUTCOME\tREVISION\tDURATION\tERROR")
	for _, r := range f.Workloads {
		rev := dash(r.NewRevision)
		if r.Outcome == egress.OutcomeNoOp || r.Outcome == egress.OutcomeBlocked || r.Outcome == egress.OutcomePlanned {
			rev = dash(r.PreviousRevision)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Workload, r.Kind, endpointCell(r.From), endpointCell(r.To),
			r.Outcome, rev, secs(r.DurationSeconds), dash(oneLine(r.Error)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	if s := f.Subnet; s != nil {
		fmt.Fprintf(&b, "\nSubnet %s (%s in %s): %s", lastSegmentOf(s.Name), s.CIDR, lastSegmentOf(s.Network), s.Status)
		if s.Error != "" {
			b.WriteString(": " + s.Error)
		}
		b.WriteString("\n")
	}
	for _, c := range f.Cleanup {
		fmt.Fprintf(&b, "Connector %s: ", lastSegmentOf(c.Connector))
		switch c.Status {
		case string(egress.StepDone):
			b.WriteString("deleted\n")
		case string(egress.StepSkipped):
			b.WriteString("kept, still used by " + strings.Join(c.Users, ", ") + "\n")
		default:
			b.WriteString("not deleted: " + c.Error + "\n")
		}
	}
	s := f.Summary
	noun := "workloads"
	if s.Total == 1 {
		noun = "workload"
	}
	fmt.Fprintf(&b, "\n%d %s: %d migrated, %d no-op, %d planned, %d blocked, %d rolled back, %d failed, %d skipped",
		s.Total, noun, s.Migrated, s.NoOp, s.Planned, s.Blocked, s.RolledBack, s.Failed, s.Skipped)
	if s.CleanupFailed > 0 {
		fmt.Fprintf(&b, "; cleanup failed: %s not deleted", plural(s.CleanupFailed, "connector"))
	}
	fmt.Fprintf(&b, " (%s)\n", secs(f.DurationSeconds))
	_, err := io.WriteString(w, b.String())
	return err
}

func endpointCell(e Endpoint) string {
	switch e.Mode {
	case egress.ModeConnector:
		return "connector " + lastSegmentOf(e.VPC.Connector)
	case egress.ModeDirect:
		return "direct " + lastSegmentOf(e.VPC.Subnet)
	}
	return "none"
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
