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

The VPC settings shown are those of the workload's template, what its latest created
revision (or a job's next execution) uses. While the latest created revision is not the
latest ready one, traffic is still served by the latest ready revision, with the settings it
was created with.

With --format json or yaml the result is a list with one object per workload, with these
fields (a stable contract):

  kind                   service, job or workerpool
  name                   the workload's short name
  project, region        where it is
  mode                   none, connector or direct
  connector              the connector's full name (projects/P/locations/R/connectors/C), or ""
  network                Direct VPC network (projects/P/global/networks/N), or ""
  subnet                 Direct VPC subnetwork (projects/P/regions/R/subnetworks/S), or ""
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
		out := make([]WorkloadStatus, 0, len(ws))
		for _, w := range ws {
			out = append(out, NewWorkloadStatus(w))
		}
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
	out := make([]WorkloadStatus, 0, len(ws))
	for _, w := range ws {
		if w != nil {
			out = append(out, NewWorkloadStatus(w))
		}
	}
	if err := p.Print(out); err != nil {
		return err
	}
	return errors.Join(errs...)
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
	// Migration is the runnet migration in progress on the workload, if any.
	Migration *MigrationStatus `json:"migration,omitempty"`
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
		Stale:  j.Stale(now) || processGone(j),
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

// NewWorkloadStatus summarises w. VPC names are shown as full paths (short names the API
// holds are resolved in the workload's project and region).
func NewWorkloadStatus(w *cloud.Workload) WorkloadStatus {
	return newWorkloadStatusAt(w, time.Now())
}

func newWorkloadStatusAt(w *cloud.Workload, now time.Time) WorkloadStatus {
	ref := w.Ref
	vpc, err := w.VPC.Canonical(ref.Project, ref.Region)
	if err != nil {
		vpc = w.VPC // a name runnet cannot parse: show it as the API holds it
	}
	s := WorkloadStatus{
		Kind: string(ref.Kind), Name: ref.Name, Project: ref.Project, Region: ref.Region,
		Mode:      string(vpc.Mode()),
		Connector: vpc.Connector, Network: vpc.Network, Subnet: vpc.Subnet,
		NetworkTags:           append([]string{}, vpc.Tags...),
		LatestReadyRevision:   w.LatestReady,
		LatestCreatedRevision: w.LatestCreated,
		RevisionsDiffer:       w.RevisionsDiffer(),
		Reconciling:           w.Reconciling,
		Rollout:               w.Rollout(),
		Condition:             w.Terminal,
		MaxInstances:          w.MaxInstances,
		Migration:             migrationStatus(w, now),
	}
	if vpc.Mode() != egress.ModeNone {
		s.Egress = vpc.Egress.String()
	}
	return s
}

// Table renders one row: KIND NAME MODE VPC EGRESS REVISION MAX STATUS.
func (s WorkloadStatus) Table() ([]string, [][]string) {
	headers := []string{"kind", "name", "mode", "vpc", "egress", "revision", "max", "status"}
	if s.Name == "" {
		return headers, nil
	}
	return headers, [][]string{{
		s.Kind, s.Name, s.Mode, s.vpcCell(), dash(s.Egress), s.revisionCell(), s.maxCell(), s.StatusText(),
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
		return shortName(s.Connector)
	case egress.ModeDirect:
		v := shortName(s.Subnet)
		if s.Network != "" {
			v = shortName(s.Network) + "/" + v
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
	return "ready"
}

func shortName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
