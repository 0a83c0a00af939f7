package egress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file is the migration journal: a record of a running migration kept on the workload
// itself, in the annotation JournalAnnotation of the service, job or worker pool (its
// metadata, not its template, so writing it never makes a revision). It is both a lock — a
// second run finds it and refuses — and what a resumed run (Executor.Resume) finishes or
// undoes a migration from when the process that ran it died.
//
// The executor writes it with the workload's etag before the first change (taking the lock),
// at every step boundary (in the same request as the step's own change when the step changes
// the workload, so the journal and the change land together), when a rollback starts, and
// removes it with the last change of the run. It holds what a rollback needs that a fresh read
// cannot tell: the settings and traffic split before the run, and the plan.

// JournalAnnotation is the annotation that holds the journal of a running migration.
const JournalAnnotation = "runnet.dev/migration"

// JournalVersion is the journal format this package writes and reads.
const JournalVersion = 1

// MaxJournalBytes bounds a journal (Cloud Run limits the size of all annotations together).
const MaxJournalBytes = 32 << 10

// DefaultJournalLease is how long a journal stays live without an update before another run
// may take it over (resume it without breaking the lock): longer than any single step takes
// (a revision rollout, a subnetwork or connector operation). A canary step's wait is added to
// it while the run watches the new revision.
const DefaultJournalLease = 15 * time.Minute

// JournalPhase is what the run was doing.
type JournalPhase string

// The journal phases.
const (
	// PhaseMigrating: the run moves the workload to the target settings.
	PhaseMigrating JournalPhase = "migrating"
	// PhaseRollingBack: the run restores the previous settings and traffic.
	PhaseRollingBack JournalPhase = "rolling-back"
)

// JournalStep is a plan step and what became of it, as the journal keeps it.
type JournalStep struct {
	Kind        StepKind   `json:"kind"`
	Resource    string     `json:"resource,omitempty"`
	Percent     int        `json:"percent,omitempty"`
	Tag         string     `json:"tag,omitempty"`
	WaitSeconds float64    `json:"waitSeconds,omitempty"`
	Force       bool       `json:"force,omitempty"`
	Status      StepStatus `json:"status"`
}

// Journal is the record of a running migration (see JournalAnnotation). Its JSON form is
// what the annotation holds.
type Journal struct {
	// Version is JournalVersion.
	Version int `json:"v"`
	// ID identifies the run (random); a resumed run keeps it.
	ID string `json:"id"`
	// Who is running it: user@host.
	Who string `json:"who"`
	// PID is the process id of the run.
	PID int `json:"pid"`
	// Started is when the run started; Updated when the journal was last written; Expires
	// when it goes stale if not written again.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	Expires time.Time `json:"expires"`
	// Phase is what the run is doing.
	Phase JournalPhase `json:"phase"`
	// Reason is why the run is rolling back (PhaseRollingBack): the error that stopped it.
	Reason string `json:"reason,omitempty"`
	// Step is the index (in Steps) of the step reached: the last one started.
	Step int `json:"step"`
	// Summary describes the plan in a few words.
	Summary string `json:"summary"`
	// Workload names the workload.
	Workload WorkloadRef `json:"workload"`
	// Original is the workload before the run: what a rollback restores.
	Original Original `json:"original"`
	// To is the target VPC access.
	To VPC `json:"to"`
	// NewRevision is the revision created with the target settings, once known.
	NewRevision string `json:"newRevision,omitempty"`
	// Tag is the temporary tag of the new revision.
	Tag string `json:"tag,omitempty"`
	// Subnet is the subnetwork a create-subnet step creates, if any.
	Subnet *SubnetSpec `json:"subnet,omitempty"`
	// MoveFrom are the revisions whose traffic moves (Plan.MoveFrom); absent in journals
	// written before it was recorded, whose runs move the latest ready revision's share.
	MoveFrom *[]string `json:"moveFrom,omitempty"`
	// Into is the revision the traffic moves to when the plan deploys none (Plan.Into).
	Into string `json:"into,omitempty"`
	// Gate and Probes are the plan's metrics gate and probes (Plan.Gate, Plan.Probes), so
	// that a resumed run judges and probes as the interrupted one would have.
	Gate   *GatePolicy `json:"gate,omitempty"`
	Probes *ProbeSpec  `json:"probes,omitempty"`
	// Steps are the plan's steps with their status.
	Steps []JournalStep `json:"steps"`
}

// Encode returns the journal as the annotation's value (compact JSON).
func (j *Journal) Encode() (string, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	if len(b) > MaxJournalBytes {
		return "", fmt.Errorf("the migration journal is %d bytes, more than the %d allowed", len(b), MaxJournalBytes)
	}
	return string(b), nil
}

// ErrBadJournal is wrapped by the error of a journal annotation that cannot be read.
var ErrBadJournal = errors.New("unreadable migration journal")

// DecodeJournal reads a journal annotation's value. It checks everything a resume relies on:
// the version, the workload name, the plan's steps and percentages, the step reached.
func DecodeJournal(s string) (*Journal, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w (annotation %s): %s", ErrBadJournal, JournalAnnotation, fmt.Sprintf(format, args...))
	}
	if len(s) > MaxJournalBytes {
		return nil, bad("%d bytes, more than %d", len(s), MaxJournalBytes)
	}
	if strings.TrimSpace(s) == "" {
		return nil, bad("empty")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	var j Journal
	if err := dec.Decode(&j); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}
	if j.Version != JournalVersion {
		return nil, bad("format version %d; this release reads version %d (use the release that wrote it)", j.Version, JournalVersion)
	}
	if j.ID == "" || len(j.ID) > 64 {
		return nil, bad("no run id")
	}
	if err := j.Workload.Validate(); err != nil {
		return nil, bad("workload: %v", err)
	}
	switch j.Phase {
	case PhaseMigrating, PhaseRollingBack:
	default:
		return nil, bad("unknown phase %q", j.Phase)
	}
	if len(j.Steps) == 0 || len(j.Steps) > 64 {
		return nil, bad("%d steps", len(j.Steps))
	}
	if j.Step < 0 || j.Step >= len(j.Steps) {
		return nil, bad("step %d of %d", j.Step, len(j.Steps))
	}
	known := []StepKind{StepCreateSubnet, StepDeployRevision, StepVerify, StepShiftTraffic, StepUpdateTemplate, StepRunExecution, StepDeleteConnector, StepDeployAndShift}
	for i, st := range j.Steps {
		if !slices.Contains(known, st.Kind) {
			return nil, bad("step %d: unknown kind %q", i+1, st.Kind)
		}
		if st.Percent < 0 || st.Percent > 100 {
			return nil, bad("step %d: percent %d", i+1, st.Percent)
		}
		if st.WaitSeconds < 0 || st.WaitSeconds > 7*24*3600 {
			return nil, bad("step %d: wait %v s", i+1, st.WaitSeconds)
		}
		switch st.Status {
		case StepPending, StepDone, StepSkipped, StepFailed, StepUndone:
		default:
			return nil, bad("step %d: unknown status %q", i+1, st.Status)
		}
	}
	for _, ts := range [][]TrafficTarget{j.Original.Traffic} {
		total := 0
		for _, t := range ts {
			if t.Percent < 0 || t.Percent > 100 {
				return nil, bad("traffic percent %d", t.Percent)
			}
			total += t.Percent
		}
		if total > 100 {
			return nil, bad("traffic adds up to %d%%", total)
		}
	}
	for _, v := range []VPC{j.Original.VPC, j.To} {
		if v.Mode() == ModeConnector && (v.Network != "" || v.Subnet != "") {
			return nil, bad("both a connector and a network interface")
		}
	}
	return &j, nil
}

// Stale reports whether the journal's run has not written it for longer than its lease: the
// process that ran it is presumed gone.
func (j *Journal) Stale(now time.Time) bool { return now.After(j.Expires) }

// Describe says who runs the migration, since when, and where it stands, for messages.
func (j *Journal) Describe(now time.Time) string {
	step := ""
	if j.Step >= 0 && j.Step < len(j.Steps) {
		step = fmt.Sprintf("step %d/%d (%s)", j.Step+1, len(j.Steps), j.Steps[j.Step].Kind)
	}
	who := j.Who
	if j.PID > 0 {
		who += fmt.Sprintf(", pid %d", j.PID)
	}
	s := fmt.Sprintf("%s (%s) since %s, %s %s, last update %s ago", j.Summary, who, j.Started.UTC().Format(time.RFC3339), j.Phase, step,
		now.Sub(j.Updated).Round(time.Second))
	if j.Stale(now) {
		s += " (stale: its lease ran out at " + j.Expires.UTC().Format(time.RFC3339) + ")"
	}
	return s
}

// Plan rebuilds the plan the journal's run carries out (steps only; no checks).
func (j *Journal) Plan() Plan {
	p := Plan{Workload: j.Workload, From: j.Original.VPC, To: j.To, FromMode: j.Original.VPC.Mode(), ToMode: j.To.Mode(), Into: j.Into,
		Gate: j.Gate, Probes: j.Probes}
	if j.MoveFrom != nil {
		p.MoveFrom = slices.Clone(*j.MoveFrom)
		if p.MoveFrom == nil {
			p.MoveFrom = []string{}
		}
	}
	moving := p.moveFrom(j.Original)
	share := movingShare(j.Original.Traffic, j.Original.LatestReady, moving)
	for _, s := range j.Steps {
		p.Steps = append(p.Steps, Step{Kind: s.Kind, Resource: s.Resource, Percent: s.Percent, Tag: s.Tag, WaitSeconds: s.WaitSeconds, Force: s.Force,
			Description: describeJournalStep(s, j.Workload, share, describeMoving(nil, moving))})
		if s.Kind == StepShiftTraffic || s.Kind == StepDeployAndShift {
			p.Canary = append(p.Canary, s.Percent)
		}
	}
	return p
}

func describeJournalStep(s JournalStep, ref WorkloadRef, share int, moving string) string {
	switch s.Kind {
	case StepCreateSubnet:
		return "create subnetwork " + ShortName(s.Resource)
	case StepDeployRevision:
		return "deploy a revision with the new VPC access and no traffic"
	case StepVerify:
		return "wait until the new revision is ready"
	case StepDeployAndShift:
		return "deploy a revision with the new VPC access and move the traffic to it once it is ready, in the same update"
	case StepShiftTraffic:
		return shiftDescription(s.Percent, share, moving, "the new revision", false)
	case StepUpdateTemplate:
		return fmt.Sprintf("update the %s's template", ref.Kind.Noun())
	case StepRunExecution:
		return "run one execution and wait for it to succeed"
	case StepDeleteConnector:
		return "delete connector " + ShortName(s.Resource) + " if nothing uses it"
	}
	return string(s.Kind)
}

// JournalConfig turns journaling on for an Executor: who runs it, and the lease.
type JournalConfig struct {
	// Who is user@host.
	Who string
	// PID is the process id.
	PID int
	// Lease is how long a journal stays live without an update; default DefaultJournalLease.
	Lease time.Duration
	// ID is the run's id; a random one when empty.
	ID string
}
