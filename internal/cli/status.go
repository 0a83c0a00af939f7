package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

const statusLong = `Show how each workload reaches its VPC network: its egress mode (none, connector or
direct), the connector or the Direct VPC network, subnetwork and network tags, the egress
setting, its latest ready and latest created revisions and whether they differ (a rollout in
progress, or one that failed: the workload's condition says why), and its maximum instances.

With no WORKLOAD, every service, job and worker pool in the region is shown. Workloads are
NAME (a service), job/NAME, workerpool/NAME or full resource names
(projects/P/locations/R/services/NAME). A workload that does not exist is reported on stderr
and makes the exit status 1; the others are still shown.

The mode and VPC settings shown are those that serve: of the revisions that receive the
traffic (a worker pool's instances), each with the settings it was created with, and for a
job its template (what its next execution uses). They can differ from the template's: when
the traffic is pinned to a named revision (after 'gcloud run deploy --no-traffic' or
'gcloud run services update-traffic --to-revisions'), the latest revision gets none of it;
when the latest revision failed to start, the previous one keeps serving; during a canary,
the traffic is split. The STATUS column then says so, and the JSON has the template's
settings (template), whether they differ (templateDiffers) and every serving revision
(serving).

With --format json or yaml the result is a list with one object per workload, with these
fields (a stable contract):

  kind                   service, job or workerpool
  name                   the workload's short name
  project, region        where it is
  mode                   none, connector or direct: the mode that serves (when revisions
                         with different settings share the traffic, the settings with the
                         largest share)
  connector              the connector's full name (projects/P/locations/R/connectors/C), or ""
  network                Direct VPC network (projects/P/global/networks/N), or ""
  subnet                 Direct VPC subnetwork (projects/P/regions/R/subnetworks/S), or ""
  subnetStackType        its stack type, IPV4_ONLY or IPV4_IPV6 (dual-stack); absent
                         without a subnet or when it cannot be read
  networkTags            Direct VPC network tags (a list, possibly empty)
  egress                 private-ranges-only or all-traffic; "" when mode is none
  latestReadyRevision    latest ready revision (services and worker pools), or ""
  latestCreatedRevision  latest created revision (services and worker pools), or ""
  revisionsDiffer        true when the latest created revision is not the latest ready one
  reconciling            true while Cloud Run is applying a change
  rollout                done, in-progress or failed: the state of the latest change
  condition              the terminal condition: {type, state, reason, message}; state is
                         succeeded, failed, pending, reconciling or ""
  maxInstances           maximum instances (services: the smaller of the revision's and the
                         service's maximum, or the manual instance count; jobs: task
                         parallelism capped by the task count; worker pools: the manual
                         instance count); 0 when not set, so that Cloud Run's default applies
  template               the template's settings, what the next revision (or execution)
                         uses: {mode, connector, network, subnet, networkTags, egress}
  templateDiffers        true when a revision that receives traffic (instances) has other
                         settings than the template
  trafficPinned          true when the traffic (instances) does not follow the latest ready
                         revision: a new revision gets 0% unless it is named
  serving                the revisions that receive traffic (instances) or carry a tag,
                         largest share first: {revision, percent, tags, mode, connector,
                         network, subnet, networkTags, egress}; empty for jobs
  migration              present only while a runnet migration holds the workload (its
                         journal, annotation runnet.dev/migration): {who, pid, started,
                         updated, expires, phase (migrating or rolling-back), step (the step
                         reached, from 1), steps, stepKind, toMode, stale, resume, error}.
                         stale is true when its lease ran out or its process is known to be
                         gone; resume is then the command that finishes or undoes it. error
                         is set (and the rest empty) when the journal cannot be read

While a migration holds a workload, the table's STATUS column says so, e.g.
"migrating (step 3/6, by alice@host)", and when the migration looks stale, the command
that takes it over: "runnet migrate --resume NAME".`

// StatusOptions are the inputs of `runnet status`.
type StatusOptions struct {
	f *Factory

	// Workloads are the arguments, as given.
	Workloads []string

	// Filled in by complete.
	refs            []egress.WorkloadRef
	project, region string
}

// NewCmdStatus returns `runnet status`. runF, if not nil, replaces the run step (for tests).
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	o := &StatusOptions{f: f}
	cmd := &cobra.Command{
		Use:   "status [WORKLOAD...]",
		Short: "Show the egress mode, VPC settings and latest revisions of workloads",
		Long:  statusLong,
		Example: `  # Every workload in the region:
  runnet status --project demo-project --region asia-northeast1

  # A service and a job, as JSON:
  runnet status run-service job/nightly-export --format json

  # Which workloads still use a connector:
  runnet status --format json | jq -r '.[] | select(.mode == "connector") | .name'`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Workloads = args
			if err := o.complete(); err != nil {
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

// complete parses every workload (all input is checked before any API call).
func (o *StatusOptions) complete() error {
	o.refs = nil
	if len(o.Workloads) == 0 {
		var err error
		if o.project, err = o.f.Project(); err != nil {
			return err
		}
		if o.region, err = o.f.Region(); err != nil {
			return err
		}
		return nil
	}
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
	return nil
}

// parseWorkloadArg parses a WORKLOAD argument. The default project and region are resolved
// only as needed, so a full resource name works without them; when one is needed and missing,
// the error says how to set it.
func parseWorkloadArg(f *Factory, arg string) (egress.WorkloadRef, error) {
	project, perr := f.Project()
	region, rerr := f.Region()
	ref, err := egress.ParseWorkloadRef(arg, project, region)
	switch {
	case err == nil:
		return ref, nil
	case errors.Is(err, egress.ErrNoProject) && perr != nil:
		return ref, perr
	case errors.Is(err, egress.ErrNoRegion) && rerr != nil:
		return ref, rerr
	}
	return ref, exitcode.Usagef("WORKLOAD: %v", err)
}

// statusConcurrency bounds the reads made at once for `runnet status W1 W2 ...`.
const statusConcurrency = 8

func (o *StatusOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	if len(o.refs) == 0 {
		ws, err := c.ListWorkloads(ctx, o.project, o.region)
		if err != nil {
			return err
		}
		states, err := c.ServingStates(ctx, ws)
		if err != nil {
			return err
		}
		out := make([]WorkloadStatus, 0, len(ws))
		for i, w := range ws {
			out = append(out, NewWorkloadStatus(w, states[i]))
		}
		fillSubnetStacks(ctx, c, out)
		if len(out) == 0 && !o.f.Options.Quiet {
			fmt.Fprintf(o.f.IOStreams.ErrOut, "No services, jobs or worker pools in project %s, region %s.\n", o.project, o.region)
		}
		return p.Print(out)
	}

	ws := make([]*cloud.Workload, len(o.refs))
	errs := make([]error, len(o.refs))
	sem := make(chan struct{}, statusConcurrency)
	var wg sync.WaitGroup
	for i, ref := range o.refs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ws[i], errs[i] = c.GetWorkload(ctx, ref)
		})
	}
	wg.Wait()
	var found []*cloud.Workload
	for _, w := range ws {
		if w != nil {
			found = append(found, w)
		}
	}
	states, err := c.ServingStates(ctx, found)
	if err != nil {
		return err
	}
	out := make([]WorkloadStatus, 0, len(found))
	for i, w := range found {
		out = append(out, NewWorkloadStatus(w, states[i]))
	}
	fillSubnetStacks(ctx, c, out)
	if err := p.Print(out); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// fillSubnetStacks reads the stack type of the subnets of the workloads on Direct VPC egress,
// once per subnet. A subnet that cannot be read leaves it empty: it is a detail.
func fillSubnetStacks(ctx context.Context, c *cloud.Clients, out []WorkloadStatus) {
	stacks := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, statusConcurrency)
	for _, s := range out {
		if egress.Mode(s.Mode) != egress.ModeDirect || s.Subnet == "" {
			continue
		}
		mu.Lock()
		_, seen := stacks[s.Subnet]
		stacks[s.Subnet] = ""
		mu.Unlock()
		if seen {
			continue
		}
		ref, err := egress.ParseSubnetRef(s.Subnet, s.Project, s.Region)
		if err != nil {
			continue
		}
		path := s.Subnet
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if sn, err := c.GetSubnet(ctx, ref); err == nil {
				mu.Lock()
				stacks[path] = sn.StackType
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i := range out {
		out[i].SubnetStackType = stacks[out[i].Subnet]
	}
}

// WorkloadStatus is what `runnet status` prints for one workload; attach and detach print
// the same. Its JSON field names are a documented, stable contract (see statusLong).
type WorkloadStatus struct {
	Kind                  string          `json:"kind"`
	Name                  string          `json:"name"`
	Project               string          `json:"project"`
	Region                string          `json:"region"`
	Mode                  string          `json:"mode"`
	Connector             string          `json:"connector"`
	Network               string          `json:"network"`
	Subnet                string          `json:"subnet"`
	NetworkTags           []string        `json:"networkTags"`
	Egress                string          `json:"egress"`
	LatestReadyRevision   string          `json:"latestReadyRevision"`
	LatestCreatedRevision string          `json:"latestCreatedRevision"`
	RevisionsDiffer       bool            `json:"revisionsDiffer"`
	Reconciling           bool            `json:"reconciling"`
	Rollout               string          `json:"rollout"`
	Condition             cloud.Condition `json:"condition"`
	MaxInstances          int             `json:"maxInstances"`
	// Template is the template's VPC settings, what the next revision (execution) uses.
	Template VPCStatus `json:"template"`
	// TemplateDiffers is set when a revision that receives traffic has other settings.
	TemplateDiffers bool `json:"templateDiffers"`
	// TrafficPinned is set when the traffic does not follow the latest ready revision.
	TrafficPinned bool `json:"trafficPinned"`
	// Serving are the revisions that receive traffic (instances) or carry a tag.
	Serving []ServingRevisionStatus `json:"serving"`
	// Migration is the runnet migration in progress on the workload, if any.
	Migration *MigrationStatus `json:"migration,omitempty"`
	// SubnetStackType is, on Direct VPC egress, its subnet's stack type (IPV4_ONLY or
	// IPV4_IPV6); "" without a subnet or when it could not be read.
	SubnetStackType string `json:"subnetStackType,omitempty"`
}

// VPCStatus is a set of VPC settings as status shows them: full paths, egress "" without
// VPC access. Its JSON field names are part of the status contract.
type VPCStatus struct {
	Mode        string   `json:"mode"`
	Connector   string   `json:"connector"`
	Network     string   `json:"network"`
	Subnet      string   `json:"subnet"`
	NetworkTags []string `json:"networkTags"`
	Egress      string   `json:"egress"`
}

func newVPCStatus(v egress.VPC, ref egress.WorkloadRef) VPCStatus {
	if c, err := v.Canonical(ref.Project, ref.Region); err == nil {
		v = c
	} // else a name runnet cannot parse: shown as the API holds it
	s := VPCStatus{Mode: string(v.Mode()), Connector: v.Connector, Network: v.Network, Subnet: v.Subnet, NetworkTags: append([]string{}, v.Tags...)}
	if v.Mode() != egress.ModeNone {
		s.Egress = v.Egress.String()
	}
	return s
}

// short describes the settings in a few words: "connector run-connector",
// "direct run-vpc/run-subnet" or "none".
func (v VPCStatus) short() string {
	cell := WorkloadStatus{Mode: v.Mode, Connector: v.Connector, Network: v.Network, Subnet: v.Subnet, NetworkTags: v.NetworkTags}.vpcCell()
	if cell == "-" {
		return v.Mode
	}
	return v.Mode + " " + cell
}

// ServingRevisionStatus is a serving revision as status shows it. Its JSON field names are
// part of the status contract.
type ServingRevisionStatus struct {
	Revision string   `json:"revision"`
	Percent  int      `json:"percent"`
	Tags     []string `json:"tags"`
	VPCStatus
}

// MigrationStatus is what `runnet status` shows of a migration journal (egress.Journal) on
// a workload. Its JSON field names are part of the status contract (see statusLong).
type MigrationStatus struct {
	// Who runs it (user@host) and the process id.
	Who string `json:"who"`
	PID int    `json:"pid"`
	// Started is when it started; Updated when its journal was last written; Expires when
	// its lease runs out.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	Expires time.Time `json:"expires"`
	// Phase is migrating or rolling-back.
	Phase string `json:"phase"`
	// Step is the step reached, counted from 1, of Steps; StepKind is what it does.
	Step     int    `json:"step"`
	Steps    int    `json:"steps"`
	StepKind string `json:"stepKind"`
	// ToMode is the egress mode the migration moves the workload to.
	ToMode string `json:"toMode"`
	// Stale is true when the lease ran out or the process is known to be gone.
	Stale bool `json:"stale"`
	// Resume is the command that takes a stale migration over; "" while it is live.
	Resume string `json:"resume"`
	// Error says why the journal cannot be read; the other fields are then empty.
	Error string `json:"error,omitempty"`
}

// migrationStatus reads w's migration journal as of now: nil when it carries none.
func migrationStatus(w *cloud.Workload, now time.Time) *MigrationStatus {
	v := w.Journal()
	if v == "" {
		return nil
	}
	j, err := egress.DecodeJournal(v)
	if err != nil {
		return &MigrationStatus{Error: err.Error(), Stale: true, Resume: "runnet migrate --resume " + w.Ref.String() + " --break-lock"}
	}
	m := &MigrationStatus{
		Who: j.Who, PID: j.PID, Started: j.Started.UTC(), Updated: j.Updated.UTC(), Expires: j.Expires.UTC(),
		Phase: string(j.Phase), Step: j.Step + 1, Steps: len(j.Steps), StepKind: string(j.Steps[j.Step].Kind),
		ToMode: string(j.To.Mode()),
		Stale:  j.Stale(now) || migration.ProcessGone(j),
	}
	if m.Stale {
		m.Resume = "runnet migrate --resume " + w.Ref.String()
	}
	return m
}

// Text renders the migration for the table's STATUS column.
func (m *MigrationStatus) Text() string {
	if m.Error != "" {
		return "locked by an unreadable migration journal; run '" + m.Resume + "'"
	}
	verb := "migrating"
	if m.Phase == string(egress.PhaseRollingBack) {
		verb = "rolling back"
	}
	s := fmt.Sprintf("%s (step %d/%d, by %s)", verb, m.Step, m.Steps, m.Who)
	if m.Stale {
		s += ", stale: run '" + m.Resume + "'"
	}
	return s
}

// NewWorkloadStatus summarises w, with s what serves it (cloud.Clients.ServingState). A nil
// s takes the template as what serves. VPC names are shown as full paths (short names the
// API holds are resolved in the workload's project and region).
func NewWorkloadStatus(w *cloud.Workload, s *egress.ServingState) WorkloadStatus {
	return newWorkloadStatusAt(w, s, time.Now())
}

// templateServing is what serves w when only its template is known: the template's settings
// on every revision its traffic reaches.
func templateServing(w *cloud.Workload) *egress.ServingState {
	vpcs := map[string]egress.VPC{}
	for _, n := range egress.ServingRevisionNames(w.Workload, w.TrafficStatus) {
		vpcs[n] = w.VPC
	}
	return egress.NewServingState(w.Workload, w.TrafficStatus, vpcs, w.Rollout() == cloud.RolloutFailed, w.Terminal.Message)
}

func newWorkloadStatusAt(w *cloud.Workload, serving *egress.ServingState, now time.Time) WorkloadStatus {
	ref := w.Ref
	if serving == nil {
		serving = templateServing(w)
	}
	vpc := newVPCStatus(serving.VPC(), ref)
	rollout := w.Rollout()
	if serving.LatestFailed && rollout == cloud.RolloutInProgress {
		rollout = cloud.RolloutFailed
	}
	s := WorkloadStatus{
		Kind: string(ref.Kind), Name: ref.Name, Project: ref.Project, Region: ref.Region,
		Mode:      vpc.Mode,
		Connector: vpc.Connector, Network: vpc.Network, Subnet: vpc.Subnet,
		NetworkTags:           vpc.NetworkTags,
		Egress:                vpc.Egress,
		LatestReadyRevision:   w.LatestReady,
		LatestCreatedRevision: w.LatestCreated,
		RevisionsDiffer:       w.RevisionsDiffer(),
		Reconciling:           w.Reconciling,
		Rollout:               rollout,
		Condition:             w.Terminal,
		MaxInstances:          w.MaxInstances,
		Template:              newVPCStatus(serving.Template, ref),
		TemplateDiffers:       serving.TemplateDiffers(),
		TrafficPinned:         serving.Pinned,
		Serving:               []ServingRevisionStatus{},
		Migration:             migrationStatus(w, now),
	}
	for _, r := range serving.Revisions {
		s.Serving = append(s.Serving, ServingRevisionStatus{Revision: r.Name, Percent: r.Percent, Tags: append([]string{}, r.Tags...), VPCStatus: newVPCStatus(r.VPC, ref)})
	}
	return s
}

// Table renders one row: KIND NAME MODE VPC EGRESS REVISION MAX STATUS.
func (s WorkloadStatus) Table() ([]string, [][]string) {
	headers := []string{"kind", "name", "mode", "vpc", "egress", "revision", "max", "status"}
	if s.Name == "" {
		return headers, nil
	}
	vpc := s.vpcCell()
	if s.SubnetStackType == cloud.StackIPv4IPv6 {
		vpc += " (dual-stack)"
	}
	return headers, [][]string{{
		s.Kind, s.Name, s.Mode, vpc, dash(s.Egress), s.revisionCell(), s.maxCell(), s.StatusText(),
	}}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s WorkloadStatus) vpcCell() string {
	switch egress.Mode(s.Mode) {
	case egress.ModeConnector:
		return egress.ShortName(s.Connector)
	case egress.ModeDirect:
		v := egress.ShortName(s.Subnet)
		if s.Network != "" {
			v = egress.ShortName(s.Network) + "/" + v
		}
		if len(s.NetworkTags) > 0 {
			v += " tags:" + strings.Join(s.NetworkTags, ",")
		}
		return v
	}
	return "-"
}

func (s WorkloadStatus) revisionCell() string {
	switch {
	case s.LatestReadyRevision == "" && s.LatestCreatedRevision == "":
		return "-"
	case s.RevisionsDiffer:
		return fmt.Sprintf("%s (latest created: %s)", dash(s.LatestReadyRevision), s.LatestCreatedRevision)
	}
	return s.LatestReadyRevision
}

func (s WorkloadStatus) maxCell() string {
	if s.MaxInstances == 0 {
		return "-"
	}
	return strconv.Itoa(s.MaxInstances)
}

// StatusText says in a few words whether the workload's latest change is in force.
func (s WorkloadStatus) StatusText() string {
	if s.Migration != nil {
		return s.Migration.Text()
	}
	switch s.Rollout {
	case cloud.RolloutFailed:
		msg := s.Condition.Message
		if msg == "" {
			msg = "the latest change failed"
		}
		return "failed: " + msg
	case cloud.RolloutInProgress:
		if s.RevisionsDiffer {
			return "rolling out " + s.LatestCreatedRevision
		}
		return "updating"
	}
	if s.TemplateDiffers {
		return s.differsText()
	}
	return "ready"
}

// differsText says how what serves differs from the template: a split, or a template whose
// settings get no traffic.
func (s WorkloadStatus) differsText() string {
	var parts []string
	for _, r := range s.Serving {
		if r.Percent > 0 {
			parts = append(parts, fmt.Sprintf("%d%% %s (%s)", r.Percent, r.VPCStatus.short(), r.Revision))
		}
	}
	share := 0
	for _, r := range s.Serving {
		if r.Percent > 0 && r.VPCStatus.sameAs(s.Template) {
			share += r.Percent
		}
	}
	if share == 0 {
		how := "the latest revision gets 0%"
		if s.TrafficPinned {
			how = "traffic is pinned to other revisions"
		}
		return fmt.Sprintf("template (%s) not serving: %s; serving: %s", s.Template.short(), how, strings.Join(parts, ", "))
	}
	return "split: " + strings.Join(parts, ", ")
}

// sameAs reports whether two settings, as status shows them, are the same.
func (v VPCStatus) sameAs(o VPCStatus) bool {
	return v.Mode == o.Mode && v.Connector == o.Connector && v.Subnet == o.Subnet && v.Egress == o.Egress &&
		strings.Join(v.NetworkTags, ",") == strings.Join(o.NetworkTags, ",")
}
