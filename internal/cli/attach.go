package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

const attachLong = `Change how a workload reaches a VPC network: through a Serverless VPC Access connector
(--connector), or with Direct VPC egress (--network and/or --subnet, optionally
--network-tags). Only the template's VPC access changes; every other setting (image, env,
secrets, scaling, labels, annotations, traffic and tags) is sent back exactly as read, with
the etag it was read with, so a change made meanwhile by someone else is never overwritten:
one that touched the VPC access or the traffic stops runnet (exit status 5, nothing changed);
any other (labels, the image...) is kept, and the update is sent again from a fresh read.

The egress setting is kept unless --egress is given (a workload with no VPC access gets
private-ranges-only). Direct VPC network tags are kept when the workload already uses Direct
VPC egress, unless --network-tags or --clear-network-tags is given. Changing egress from
all-traffic to private-ranges-only sends the workload's internet traffic straight to the
public internet instead of through the VPC: runnet asks first (on a terminal) or needs --yes.

Worker pools cannot use connectors. Short connector, network and subnetwork names are looked
up in the workload's project and region; give full paths for Shared VPC
(--subnet projects/HOST/regions/REGION/subnetworks/NAME). The connector and the subnetwork
must be in the workload's region.

Before changing anything, runnet checks what one read can tell: the subnetwork exists, is in
the workload's region, belongs to --network and is /26 or larger (with --network alone, the
subnetwork named like the network, Cloud Run's same-name rule, must exist); the connector
exists, is READY and is in the workload's region. A failed check changes nothing and exits
with status 3.

Traffic. A new revision gets the share of the traffic (a worker pool's instances) that
follows the latest revision. When the traffic is pinned to named revisions (after
'gcloud run deploy --no-traffic' or 'gcloud run services update-traffic --to-revisions'),
the new revision would get none of it ("serving 0 percent of traffic", as gcloud warns) and
the pinned revisions would keep their old settings: runnet then changes nothing and exits
with status 3, unless --move-traffic moves the share of the revisions that serve with other
settings to the new revision once it is ready (in their place in the split, tags kept), or
--no-traffic deploys it with 0% on purpose (as gcloud's --no-traffic; the traffic that
follows the latest revision stays on the current one). When only part of the traffic is
pinned, runnet says which revisions keep their settings, and --move-traffic moves them too.

runnet then waits for the new revision to become ready (services and worker pools) or for
the job to be updated, showing progress on stderr when it is a terminal, and prints the
workload's status as 'runnet status' does. If the revision cannot start, the error gives
Cloud Run's own reason, the template's previous VPC access is put back (so the next deploy
does not inherit settings that cannot serve), and the exit status is 6; traffic stays on the
previous revision throughout. With --async it returns as soon as Cloud Run has accepted the
change and prints the operation's name.

If what serves the workload already has the requested settings, nothing is sent and the exit
status is 0. If the template has them but the traffic is pinned elsewhere, --move-traffic
moves the traffic to the latest revision (nothing is deployed); without it the exit status
is 3.

gcloud's flag names work too: --vpc-connector for --connector, --vpc-egress for --egress,
and --clear-vpc-connector or --clear-network (of 'gcloud run services update') to detach:
the first removes a connector, the second Direct VPC egress (each leaves the other mode
alone; both remove either), asking first as 'runnet detach' does.`

const detachLong = `Remove a workload's VPC access (connector or Direct VPC egress), so that its traffic
leaves through Cloud Run's own internet egress and it can no longer reach private addresses
in the VPC network. Only the template's VPC access changes, with the etag it was read with.

Detaching always asks first (on a terminal) or needs --yes. When the workload's egress is
all-traffic, the question says that all of its outbound traffic, which now goes through the
VPC network (its Cloud NAT, static addresses and firewall rules), will go straight to the
public internet, as gcloud warns when clearing a connector.

When the traffic (a worker pool's instances) is pinned to named revisions, the new revision
would get none of it: as for 'runnet attach', runnet then changes nothing (exit status 3)
unless --move-traffic or --no-traffic says what to do.

runnet waits for the new revision to become ready (or the job to be updated) and prints the
workload's status; --async returns at once with the operation's name. A revision that
cannot start has the template's previous VPC access put back (exit status 6). A workload
that nothing serves with VPC access is left alone (exit status 0).`

// AttachOptions are the inputs of `runnet attach` and `runnet detach`.
type AttachOptions struct {
	f *Factory

	// Detach is set for `runnet detach`: the target is no VPC access.
	Detach bool

	Workload         string
	Connector        string
	Network          string
	Subnet           string
	NetworkTags      []string
	ClearNetworkTags bool
	Egress           string
	Async            bool
	// MoveTraffic moves the traffic of the revisions that serve with other settings to the
	// new revision once it is ready.
	MoveTraffic bool
	// NoTraffic deploys the new revision with no traffic.
	NoTraffic bool
	// ClearConnector and ClearNetwork are gcloud's --clear-vpc-connector and --clear-network
	// on attach: they detach (see clearMode).
	ClearConnector bool
	ClearNetwork   bool

	// clearMode, for attach --clear-vpc-connector or --clear-network alone, is the mode the
	// workload must have for anything to be removed; "" removes any (both flags, or detach).
	clearMode egress.Mode

	// Which flags were given (filled from the command line).
	connectorSet, networkSet, subnetSet, tagsSet, egressSet bool

	// Filled in by complete/validate.
	ref    egress.WorkloadRef
	target egress.VPC // canonical; Egress is EgressUnset when it is to be kept
}

// NewCmdAttach returns `runnet attach`. runF, if not nil, replaces the run step (for tests).
func NewCmdAttach(f *Factory, runF func(context.Context, *AttachOptions) error) *cobra.Command {
	o := &AttachOptions{f: f}
	cmd := &cobra.Command{
		Use:   "attach WORKLOAD (--connector C | --network N --subnet S [--network-tags T,...]) [--egress E]",
		Short: "Give a workload VPC access through a connector or Direct VPC egress",
		Long:  attachLong,
		Example: `  # Move run-service from its connector to Direct VPC egress, keeping its egress setting:
  runnet attach run-service --network run-vpc --subnet run-direct-vpc-egress

  # Give a job a connector and send all of its traffic through the VPC:
  runnet attach job/nightly-export --connector run-connector --egress all-traffic

  # gcloud's way to take a service off its connector (the same as runnet detach):
  runnet attach run-service --clear-vpc-connector --yes

  # A worker pool on a Shared VPC subnetwork, with network tags, without waiting:
  runnet attach workerpool/queue-worker \
    --subnet projects/host-project/regions/asia-northeast1/subnetworks/run-subnet \
    --network-tags run-egress --async`,
		Args: exactOneWorkload,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Workload = args[0]
			fl := cmd.Flags()
			o.connectorSet, o.networkSet, o.subnetSet = fl.Changed("connector"), fl.Changed("network"), fl.Changed("subnet")
			o.tagsSet, o.egressSet = fl.Changed("network-tags"), fl.Changed("egress")
			if err := o.clearFlags(); err != nil {
				return err
			}
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
	fl.StringVar(&o.Connector, "connector", "", "Serverless VPC Access connector: NAME or projects/P/locations/R/connectors/NAME (also --vpc-connector, gcloud's name)")
	fl.StringVar(&o.Network, "network", "", "Direct VPC egress network: NAME or projects/P/global/networks/NAME")
	fl.StringVar(&o.Subnet, "subnet", "", "Direct VPC egress subnetwork: NAME or projects/P/regions/R/subnetworks/NAME")
	fl.StringSliceVar(&o.NetworkTags, "network-tags", nil, "network tags of the Direct VPC interface, comma-separated")
	fl.BoolVar(&o.ClearNetworkTags, "clear-network-tags", false, "remove the Direct VPC interface's network tags")
	fl.StringVar(&o.Egress, "egress", "", "which traffic goes through the VPC: private-ranges-only or all-traffic (default: keep the current setting; also --vpc-egress, gcloud's name)")
	fl.BoolVar(&o.Async, "async", false, "return as soon as the change is accepted, printing the operation's name")
	addTrafficFlags(fl, o)
	fl.BoolVar(&o.ClearConnector, "clear-vpc-connector", false, "as gcloud's: remove the workload's connector, as 'runnet detach' does (nothing changes if it uses Direct VPC egress)")
	fl.BoolVar(&o.ClearNetwork, "clear-network", false, "as gcloud's: remove the workload's Direct VPC egress, as 'runnet detach' does (nothing changes if it uses a connector)")
	// gcloud's names for the same flags.
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		switch name {
		case "vpc-connector":
			return "connector"
		case "vpc-egress":
			return "egress"
		}
		return pflag.NormalizedName(name)
	})
	_ = cmd.RegisterFlagCompletionFunc("egress", cobra.FixedCompletions([]string{"private-ranges-only", "all-traffic"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// NewCmdDetach returns `runnet detach`. runF, if not nil, replaces the run step (for tests).
func NewCmdDetach(f *Factory, runF func(context.Context, *AttachOptions) error) *cobra.Command {
	o := &AttachOptions{f: f, Detach: true}
	cmd := &cobra.Command{
		Use:   "detach WORKLOAD",
		Short: "Remove a workload's VPC access (connector or Direct VPC egress)",
		Long:  detachLong,
		Example: `  # Take run-service off its VPC, without a prompt:
  runnet detach run-service --yes

  # The same for a job, without waiting:
  runnet detach job/nightly-export --yes --async`,
		Args: exactOneWorkload,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Workload = args[0]
			if err := o.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Async, "async", false, "return as soon as the change is accepted, printing the operation's name")
	addTrafficFlags(cmd.Flags(), o)
	return cmd
}

func addTrafficFlags(fl *pflag.FlagSet, o *AttachOptions) {
	fl.BoolVar(&o.MoveTraffic, "move-traffic", false, "once the new revision is ready, move to it the traffic (instances) of the revisions that serve with other settings, in their place in the split")
	fl.BoolVar(&o.NoTraffic, "no-traffic", false, "deploy the new revision with 0% of the traffic (instances), as gcloud's --no-traffic")
}

func exactOneWorkload(_ *cobra.Command, args []string) error {
	switch len(args) {
	case 1:
		return nil
	case 0:
		return exitcode.Usagef("WORKLOAD is required: NAME (a service), job/NAME or workerpool/NAME")
	}
	return exitcode.Usagef("one WORKLOAD at a time, got %d: %s", len(args), strings.Join(args, " "))
}

// clearFlags turns attach --clear-vpc-connector / --clear-network (gcloud's flags of `gcloud
// run services update`) into a detach: alone, the first removes only a connector and the
// second only Direct VPC egress; together, either.
func (o *AttachOptions) clearFlags() error {
	if !o.ClearConnector && !o.ClearNetwork {
		return nil
	}
	flag := "--clear-vpc-connector"
	if !o.ClearConnector {
		flag = "--clear-network"
	}
	if other := firstSet([]string{"--connector", "--network", "--subnet", "--network-tags", "--clear-network-tags", "--egress"},
		[]bool{o.connectorSet, o.networkSet, o.subnetSet, o.tagsSet, o.ClearNetworkTags, o.egressSet}); o.connectorSet || o.networkSet || o.subnetSet || o.tagsSet || o.ClearNetworkTags || o.egressSet {
		return exitcode.Usagef("%s removes VPC access and cannot be used with %s", flag, other)
	}
	o.Detach = true
	switch {
	case o.ClearConnector && !o.ClearNetwork:
		o.clearMode = egress.ModeConnector
	case o.ClearNetwork && !o.ClearConnector:
		o.clearMode = egress.ModeDirect
	}
	return nil
}

const attachTargetHint = "give --connector C (a Serverless VPC Access connector), or --network N and/or --subnet S (Direct VPC egress)"

// complete checks every input, before any API call, and builds the target VPC settings.
func (o *AttachOptions) complete() error {
	if !o.Detach {
		direct := o.networkSet || o.subnetSet || o.tagsSet || o.ClearNetworkTags
		switch {
		case o.connectorSet && direct:
			other := firstSet([]string{"--network", "--subnet", "--network-tags", "--clear-network-tags"},
				[]bool{o.networkSet, o.subnetSet, o.tagsSet, o.ClearNetworkTags})
			return exitcode.Usagef("--connector and %s cannot be used together: a workload uses either a connector or Direct VPC egress; %s", other, attachTargetHint)
		case !o.connectorSet && !o.networkSet && !o.subnetSet:
			if o.tagsSet || o.ClearNetworkTags {
				return exitcode.Usagef("--network-tags needs Direct VPC egress: also give --network N and/or --subnet S")
			}
			return exitcode.Usagef("nothing to attach: %s", attachTargetHint)
		case o.tagsSet && o.ClearNetworkTags:
			return exitcode.Usagef("--network-tags and --clear-network-tags cannot be used together")
		}
	}

	ref, err := parseWorkloadArg(o.f, o.Workload)
	if err != nil {
		return err
	}
	o.ref = ref
	switch {
	case o.MoveTraffic && o.NoTraffic:
		return exitcode.Usagef("--move-traffic and --no-traffic cannot be used together")
	case (o.MoveTraffic || o.NoTraffic) && ref.Kind == egress.KindJob:
		return exitcode.Usagef("--%s: jobs have no traffic; their next execution uses the new settings", map[bool]string{true: "move-traffic", false: "no-traffic"}[o.MoveTraffic])
	case o.MoveTraffic && o.Async:
		return exitcode.Usagef("--move-traffic waits for the new revision to be ready before it moves the traffic; it cannot be used with --async")
	}
	if o.Detach {
		o.target = egress.VPC{}
		return nil
	}

	var v egress.VPC
	if o.egressSet {
		e, err := egress.ParseEgress(o.Egress)
		if err != nil {
			return exitcode.Usagef("--egress: %v", err)
		}
		if egress.IsDeprecatedEgressAlias(o.Egress) && !o.f.Options.Quiet {
			fmt.Fprintf(o.f.IOStreams.ErrOut, "Warning: --egress %s is deprecated; use --egress all-traffic.\n", o.Egress)
		}
		v.Egress = e
	}
	if o.connectorSet {
		if ref.Kind == egress.KindWorkerPool {
			return exitcode.Usagef("--connector: worker pools cannot use Serverless VPC Access connectors; use --network and/or --subnet (Direct VPC egress) for %s", ref)
		}
		c, err := egress.ParseConnectorRef(o.Connector, ref.Project, ref.Region)
		if err != nil {
			return exitcode.Usagef("--connector: %v", err)
		}
		if c.Region != ref.Region {
			return exitcode.Usagef("--connector: connector %s is in region %s, but %s is in region %s; a workload can only use a connector in its own region", c.Name, c.Region, ref, ref.Region)
		}
		v.Connector = c.FullName()
	}
	netProject := ref.Project
	if o.networkSet {
		n, err := egress.ParseNetworkRef(o.Network, ref.Project)
		if err != nil {
			return exitcode.Usagef("--network: %v", err)
		}
		v.Network = n.Path()
		netProject = n.Project
	}
	if o.subnetSet {
		s, err := egress.ParseSubnetRef(o.Subnet, netProject, ref.Region)
		if err != nil {
			return exitcode.Usagef("--subnet: %v", err)
		}
		if s.Region != ref.Region {
			return exitcode.Usagef("--subnet: subnetwork %s is in region %s, but %s is in region %s; Direct VPC egress needs a subnetwork in the workload's region", s.Name, s.Region, ref, ref.Region)
		}
		v.Subnet = s.Path()
	}
	for _, t := range o.NetworkTags {
		if err := egress.ValidateNetworkTag(t); err != nil {
			return exitcode.Usagef("--network-tags: %v", err)
		}
	}
	v.Tags = o.NetworkTags
	if err := v.Validate(ref.Project, ref.Region); err != nil {
		return exitcode.Usagef("%v; %s", err, attachTargetHint)
	}
	keepEgress := !o.egressSet
	t, err := v.Canonical(ref.Project, ref.Region)
	if err != nil {
		return exitcode.Usagef("%v", err)
	}
	if keepEgress {
		t.Egress = egress.EgressUnset
	}
	o.target = t
	return nil
}

func firstSet(names []string, set []bool) string {
	for i, s := range set {
		if s {
			return names[i]
		}
	}
	return names[0]
}

// request is the engine's request: the workload, the target and what it keeps from the
// workload as read (its egress setting unless --egress was given; its Direct VPC network
// tags unless --network-tags or --clear-network-tags was given).
func (o *AttachOptions) request() migration.AttachRequest {
	req := migration.AttachRequest{Workload: o.ref, Target: o.target, ClearMode: o.clearMode, SubnetGiven: o.subnetSet,
		MoveTraffic: o.MoveTraffic, NoTraffic: o.NoTraffic, Async: o.Async,
		Keep: migration.Keep{Tags: o.target.Tags, TagsSet: o.tagsSet, ClearTags: o.ClearNetworkTags}}
	if o.Detach {
		req.Target = egress.VPC{}
	}
	if o.egressSet {
		req.Keep.Egress = o.target.Egress
	}
	return req
}

func (o *AttachOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	eng := newEngine(o.f, c, engineOptions{Attach: true})
	res, err := eng.Attach(ctx, o.request(), o.f.Confirm)
	if res != nil && res.Changed {
		defer PrintIaCHint(o.f, o.ref) // once the result is printed: how to carry the change into IaC
	}
	if err != nil {
		return err
	}
	switch {
	case !res.Changed && !res.Moved: // nothing to do
		return p.Print(NewWorkloadStatus(res.Workload, res.Serving))
	case res.Changed && o.Async:
		return p.Print(operationStarted{
			Kind: string(o.ref.Kind), Name: o.ref.Name, Project: o.ref.Project, Region: o.ref.Region,
			Operation: res.Operation,
		})
	}
	st := NewWorkloadStatus(res.Workload, res.Serving)
	if res.Changed {
		what := fmt.Sprintf("%s %s", o.ref.Kind.Noun(), o.ref.Name)
		switch {
		case o.ref.Kind == egress.KindJob:
			o.infof("Updated job %s: %s; its next execution uses it.", o.ref.Name, res.Target.Describe())
		case st.LatestReadyRevision != "":
			o.infof("Updated %s: %s (revision %s).", what, res.Target.Describe(), st.LatestReadyRevision)
		default:
			o.infof("Updated %s: %s.", what, res.Target.Describe())
		}
	}
	if res.Serving != nil {
		o.sayWhatServes(res.Serving, res.Target)
	}
	return p.Print(st)
}

// sayWhatServes says plainly when the settings just deployed serve none, or only part, of the
// traffic (instances), and how to move it.
func (o *AttachOptions) sayWhatServes(s *egress.ServingState, target egress.VPC) {
	if o.ref.Kind == egress.KindJob {
		return
	}
	off := s.Off(target)
	if len(off) == 0 {
		return
	}
	share := s.TemplateShare()
	how := fmt.Sprintf("run this command again with --move-traffic, or 'runnet migrate %s --to %s'", o.ref, target.Mode())
	if o.ref.Kind == egress.KindService {
		how += fmt.Sprintf(", or 'gcloud run services update-traffic %s --to-latest'", o.ref.Name)
	}
	shareNoun := o.ref.Kind.ShareNoun()
	if share == 0 {
		netWarn(o.f, "revision %s is serving 0 percent of %s: %s keeps it with %s. To move it: %s.", s.LatestReady, shareNoun, migration.DescribeRevisions(off), migration.OldSettings(off), how)
		return
	}
	netWarn(o.f, "revision %s serves %d%% of the %s; %s keep%s the rest with %s. To move it: %s.", s.LatestReady, share, shareNoun, migration.DescribeRevisions(off), map[bool]string{true: "s", false: ""}[len(off) == 1], migration.OldSettings(off), how)
}

// infof writes an informational line to stderr, unless --quiet.
func (o *AttachOptions) infof(format string, args ...any) {
	if o.f.Options.Quiet {
		return
	}
	fmt.Fprintf(o.f.IOStreams.ErrOut, format+"\n", args...)
}

// operationStarted is what --async prints.
type operationStarted struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Project   string `json:"project"`
	Region    string `json:"region"`
	Operation string `json:"operation"`
}

func (s operationStarted) WriteText(w io.Writer) error {
	ref := egress.WorkloadRef{Kind: egress.Kind(s.Kind), Name: s.Name}
	_, err := fmt.Fprintf(w, "Started operation %s for %s %s; follow it with 'runnet status %s'.\n", s.Operation, ref.Kind.Noun(), s.Name, ref)
	return err
}
