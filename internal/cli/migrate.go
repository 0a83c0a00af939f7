package cli

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
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
(testIamPermissions on the workload); about the network underneath: nat-egress-ip (the
Cloud NAT addresses the internet sees today and after; fails with --keep-egress-ip),
nat-ports (instances at maximum scale × the NAT's ports per VM against its addresses'),
private-google-access (Google APIs with egress all-traffic; --enable-private-google-access
turns it on first), firewall-policies (hierarchical and network firewall policies evaluated
by priority with the VPC rules), startup-probe (Direct VPC connections can take a minute at
instance start-up: an HTTP startup probe), connector-machine-type (f1-micro and e2-micro
time out at high packet rates), metric-gate (a gated --canary can read Cloud Monitoring, and
the traffic read gives its first step --min-requests), and direct-vpc-quota reads the real
quota (Service Usage);
and, for a subnet or connector of another project
(Shared VPC), service-agent: the Cloud Run service agent of the workload's project
(service-PROJECT_NUMBER@serverless-robot-prod.iam.gserviceaccount.com) may use it
(compute.subnetworks.use and .get on the subnet, compute.networks.get on the host, address
rights in its own project; vpcaccess.user on the host for a connector). A failed check
stops the migration before any change (exit status 3) unless --force names it; checks the
platform would enforce anyway (a missing network, a /27 subnet, a connector that is not
READY, ...) cannot be forced. A failed service-agent check prints the gcloud
add-iam-policy-binding commands that fix it; --fix makes those grants (read-modify-write
of each IAM policy) before any workload moves, and exits 4, changing nothing else, when
the caller may not set the policy.

Services move without downtime: the traffic of the revisions that serve with other settings
(the latest ready revision when the traffic follows it; the named revisions when it is pinned,
after 'gcloud run deploy --no-traffic' or 'update-traffic --to-revisions') moves to a revision
with the new VPC access only once it is Ready. All at once (the default), that is one update,
as 'gcloud run services update' makes it: Cloud Run moves the traffic when the revision is
Ready (a pinned share goes to the new revision, named in the request), and a revision that
fails gets none. With --canary steps, the revision is first deployed with no traffic and a
tag (runnet-MODE), runnet waits until it is Ready, then moves the traffic step by step
(watching the new revision's health for --step-wait after each step but the last, then
judging the step by Cloud Monitoring's request metrics, the new revision against the old:
5xx share and p95 latency, --max-error-rate, --max-latency-increase, --min-requests;
--metric-gate=false turns that off; a refused step rolls back). --probe-path and --probe-tcp
probe the new revision (its tagged URL; a short job with its VPC access) before any traffic
moves. Every other part of the
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
one workload's failure does not stop the others. --all looks for C's users in C's project
and in every project that may use it: the projects the API reports as connected, and, when
C is in a Shared VPC host, every service project attached to it (or only in --projects,
--folder or --organization); name C in full (projects/HOST/locations/REGION/connectors/C).
--per-project-concurrency bounds the workloads of any one project that migrate at once, and
the report counts the outcomes per project. With --cleanup the connector a workload leaves
is deleted at the end if nothing uses it any more, in any project that may use it
(templates, and revisions that still serve traffic or carry a tag), re-checked at that
moment.

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
                                    waitSeconds}, canary[], notes[], gate {maxErrorRate,
                                    maxLatencyIncrease (fractions: --max-error-rate 1 is
                                    0.01), minRequests}, probes {path, tcp[], image}}
  dryRun, validated                 a dry run, and whether validate_only accepted it
  outcome                           migrated, no-op, planned, blocked, rolled-back, failed
                                    or skipped
  previousRevision, newRevision,    the revision serving before, the one created with the
  restoredRevision                  new settings, the one a rollback created
  traffic[]                         the traffic split at the end {revision, latest, percent, tag}
  steps[]                           {kind, description, status (done, undone, skipped,
                                    failed), resource, revision, execution, percent, note,
                                    error, gate {start, end, new and old {revision, requests,
                                    errors5xx, p95Ms}, judged, passed, reason}, probes[]
                                    {kind, target, ok, status, message}}; restore-template
                                    and restore-traffic steps
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
	Fix              bool
	All              bool
	FromConnector    string
	Concurrency      int
	PerProject       int
	Projects         []string
	Folder           string
	Organization     string
	Resume           bool
	Rollback         bool
	BreakLock        bool
	// Network checks' choices (migrate_network.go).
	KeepEgressIP              bool
	EnablePrivateGoogleAccess bool
	// Gate is the canary's metrics gate (migrate_gate.go).
	Gate gateFlags

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
	scope      *cloud.Scope // --projects, --folder or --organization
	single     bool
	subnetName string // name of the subnet --create-subnet makes, "" for the default

	// projects counts the outcomes per project (a fleet); verdict, when set, replaces the
	// engine's verdict (projects that could not be read).
	projects []migration.ProjectSummary
	verdict  func() error

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
    --concurrency 4 --cleanup --yes

  # A Shared VPC host's connector: its users in every attached service project, two at a
  # time per project, granting each project's Cloud Run service agent the subnet first:
  runnet migrate --all --from-connector projects/net-host/locations/asia-northeast1/connectors/shared-conn \
    --to direct --subnet projects/net-host/regions/asia-northeast1/subnetworks/run-direct \
    --concurrency 8 --per-project-concurrency 2 --fix --cleanup --yes`,
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
	fl.BoolVar(&o.Fix, "fix", false, "grant Cloud Run's service agent what the service-agent check finds it lacks on a Shared VPC subnet or connector, before migrating")
	fl.BoolVar(&o.All, "all", false, "migrate every workload that uses --from-connector")
	fl.StringVar(&o.FromConnector, "from-connector", "", "with --all: the connector whose workloads to migrate")
	fl.IntVar(&o.Concurrency, "concurrency", defaultMigrateConcurrency, "how many workloads migrate at once")
	fl.IntVar(&o.PerProject, "per-project-concurrency", 0, "with --all: how many workloads of any one project migrate at once (default: --concurrency)")
	fl.StringSliceVar(&o.Projects, "projects", nil, "with --all: look for the connector's users in these projects only (comma-separated; default: the connector's project and every project that may use it)")
	fl.StringVar(&o.Folder, "folder", "", "with --all: look for the connector's users in every project under this folder (its number)")
	fl.StringVar(&o.Organization, "organization", "", "with --all: look for the connector's users in every project of this organization (its number)")
	fl.BoolVar(&o.Resume, "resume", false, "finish the interrupted migration of WORKLOAD from the journal it carries (see Locks and recovery)")
	fl.BoolVar(&o.Rollback, "rollback", false, "with --resume: undo the interrupted migration instead of finishing it")
	fl.BoolVar(&o.BreakLock, "break-lock", false, "with --resume: take over a journal that is not stale yet (its process is gone)")
	o.addNetworkFlags(fl)
	o.addGateFlags(fl)
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
	if err := o.completeNetwork(); err != nil {
		return err
	}
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
	if err := o.completeNetworkTarget(); err != nil {
		return err
	}

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
	if o.set["per-project-concurrency"] && !o.All {
		return exitcode.Usagef("--per-project-concurrency is used with --all --from-connector C: it bounds the workloads of any one of the connector's projects that migrate at once (WORKLOADs are all of one project: use --concurrency)")
	}
	if o.set["per-project-concurrency"] && (o.PerProject < 1 || o.PerProject > maxMigrateConcurrency) {
		return exitcode.Usagef("--per-project-concurrency: %d is out of range; valid: 1 to %d", o.PerProject, maxMigrateConcurrency)
	}
	if err := o.completeScope(); err != nil {
		return err
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
		return exitcode.Usagef("--step-wait: %s is negative; valid: 0 or more, such as 5m (a duration)", o.StepWait)
	}
	if o.set["canary"] {
		c, err := egress.ParseCanary(o.Canary)
		if err != nil {
			return exitcode.Usagef("%v", err)
		}
		o.canary = c
		if o.set["step-wait"] && len(c) < 2 {
			return exitcode.Usagef("--step-wait sets the wait after each --canary step but the last, and --canary %s has none; add a step, e.g. --canary 10,100", o.Canary)
		}
	}
	if err := o.completeGate(); err != nil {
		return err
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
		// A full name (projects/H/locations/R/connectors/X) says its project and region.
		if !strings.HasPrefix(o.FromConnector, "projects/") {
			var err error
			if o.project, err = o.f.Project(); err != nil {
				return err
			}
			if o.region, err = o.f.Region(); err != nil {
				return err
			}
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
	if !o.All && !slices.ContainsFunc(o.refs, func(r egress.WorkloadRef) bool { return r.Kind == egress.KindService }) {
		for _, n := range []string{"probe-path", "probe-tcp"} {
			if o.set[n] {
				return exitcode.Usagef("--%s probes a service's new revision before its traffic moves, and none of the workloads is a service", n)
			}
		}
		// A job's or worker pool's new settings apply at once: steps (and their metrics
		// gate) would be ignored, and the user asked for them.
		if o.set["canary"] && len(o.canary) > 1 {
			return exitcode.Usagef("--canary moves a service's traffic in steps, and none of the workloads is a service (a job's or worker pool's new settings apply at once); drop --canary")
		}
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

// request is the engine's request: the workloads and the target, as complete found them.
func (o *MigrateOptions) request() (migration.TargetRequest, migration.FleetOptions) {
	req := migration.TargetRequest{
		Workloads: o.refs, Project: o.project, Region: o.region, Mode: o.mode, Connector: o.connector,
		Network: o.network, Subnet: o.subnet, CreateSubnet: o.CreateSubnet, SubnetName: o.subnetName, Range: o.rangeCIDR,
		Keep: migration.Keep{Egress: o.egress, Tags: o.NetworkTags, TagsSet: o.set["network-tags"], ClearTags: o.ClearNetworkTags},
	}
	if o.set["prefix"] {
		req.Prefix = o.Prefix
	}
	if o.All {
		fc := o.fromConn
		req.FromConnector = &fc
	}
	req.Scope = o.scope
	return req, migration.FleetOptions{Concurrency: o.Concurrency, Canary: o.canary, StepWait: o.StepWait, VerifyJob: o.Verify,
		Cleanup: o.Cleanup, Force: o.Force, Fix: o.Fix, PerProject: o.PerProject, Network: o.networkOptions(), Gate: o.gatePolicy(), Probes: o.probeSpec()}
}

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
	eng := newEngine(o.f, c, engineOptions{StepWait: o.StepWait, Observer: o.observer})
	req, opts := o.request()
	b, err := eng.Plan(ctx, req, opts)
	if err != nil {
		return err
	}
	if err := o.checkProbeToken(ctx, c, b); err != nil {
		return err
	}
	if b.Empty {
		if o.scope != nil {
			o.infof("No workload in %s, region %s uses connector %s: nothing to migrate.", scopeLabel(*o.scope), o.region, o.fromConn.Name)
		} else {
			o.infof("No workload in project %s, region %s uses connector %s: nothing to migrate.", o.project, o.region, o.fromConn.Name)
		}
	}
	switch {
	case o.DryRun:
		eng.Validate(ctx, b)
	case !b.Empty:
		if err := o.confirm(b.Runnable()); err != nil {
			return err
		}
		fallthrough
	default:
		eng.Apply(ctx, b)
	}
	o.projects = b.Projects()
	if len(b.Unread) > 0 {
		code, msg := eng.BatchVerdict(b)
		o.verdict = func() error { return verdictError(code, msg) }
	}
	return o.finish(p, eng, b.Migrations, b.Subnet, b.Cleanup, start)
}

// checkProbeToken gets, before anything changes (a dry run too), the ID token --probe-path
// will need for the first service to migrate: Google issues none for another audience to
// user credentials, and finding out once the new revision is deployed only rolls it back.
func (o *MigrateOptions) checkProbeToken(ctx context.Context, c *cloud.Clients, b *migration.Batch) error {
	if o.Gate.ProbePath == "" {
		return nil
	}
	for _, m := range b.Migrations {
		if m.Workload == nil || !m.Runnable() || m.Plan.Probes == nil || m.Plan.Probes.Path == "" {
			continue
		}
		uri, err := c.CheckIDToken(ctx, m.Workload)
		if err != nil {
			return exitcode.Wrap(exitcode.Permission, fmt.Errorf("--probe-path needs an ID token for %s, and none could be had: %w; nothing was changed (use a service account's credentials or --impersonate-service-account, or probe with --probe-tcp)", uri, err))
		}
		if uri != "" {
			return nil // one token says the credentials can mint them
		}
	}
	return nil
}

// completeScope checks --projects, --folder and --organization: with --all only, one at
// most.
func (o *MigrateOptions) completeScope() error {
	var given []string
	for _, n := range []string{"projects", "folder", "organization"} {
		if o.set[n] {
			given = append(given, "--"+n)
		}
	}
	if len(given) == 0 {
		return nil
	}
	if !o.All {
		return exitcode.Usagef("%s is used with --all --from-connector C: it names the projects to look for C's users in", given[0])
	}
	if len(given) > 1 {
		return exitcode.Usagef("%s: give one of --projects, --folder and --organization", strings.Join(given, " and "))
	}
	s := &cloud.Scope{}
	switch {
	case o.set["projects"]:
		for _, p := range o.Projects {
			p = strings.TrimSpace(p)
			if p == "" {
				return exitcode.Usagef("--projects: empty project id in %q; valid: a comma-separated list of project ids such as team-a,team-b", strings.Join(o.Projects, ","))
			}
			if err := egress.ValidateProject(p); err != nil {
				return usageErr("--projects", err)
			}
			s.Projects = append(s.Projects, p)
		}
		slices.Sort(s.Projects)
		s.Projects = slices.Compact(s.Projects)
		o.f.scopeProjects = s.Projects
	case o.set["folder"]:
		id := strings.TrimPrefix(strings.TrimSpace(o.Folder), "folders/")
		if !isNumber(id) {
			return exitcode.Usagef("--folder: %q is not a folder number; valid: the folder's number, such as 345678901234 (gcloud resource-manager folders list)", o.Folder)
		}
		s.Parent = "folders/" + id
	default:
		id := strings.TrimPrefix(strings.TrimSpace(o.Organization), "organizations/")
		if !isNumber(id) {
			return exitcode.Usagef("--organization: %q is not an organization number; valid: the organization's number, such as 123456789012 (gcloud organizations list)", o.Organization)
		}
		s.Parent = "organizations/" + id
	}
	o.scope = s
	return nil
}

// confirm asks once, on a terminal, before changing anything (after showing the plans).
func (o *MigrateOptions) confirm(run []*migration.Migration) error {
	if len(run) == 0 || o.f.Options.Yes {
		return nil
	}
	var b strings.Builder
	for _, m := range run {
		_ = writePlanText(&b, m.Plan)
		b.WriteString("\n")
	}
	text := b.String()
	if printer.ColorWanted(o.f.IOStreams.IsStderrTTY(), o.f.Getenv) {
		text = printer.ColorText(text)
	}
	fmt.Fprint(o.f.IOStreams.ErrOut, text)
	// The report at the end need not list the checks and notes again on this terminal.
	o.planShown = o.f.IOStreams.IsStdoutTTY()
	q := fmt.Sprintf("Migrate %s %s from %s to %s (%s)?", run[0].Ref.Kind.Noun(), run[0].Ref.Name, run[0].Plan.FromMode, run[0].Plan.ToMode, shared.Plural(len(run[0].Plan.Steps), "step"))
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
