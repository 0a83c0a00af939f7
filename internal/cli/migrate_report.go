package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// writePlanText renders a plan for humans (shown before the confirmation): the workload, both
// settings, the checks with their hints, the steps, the notes and a summary line.
func writePlanText(w io.Writer, p egress.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Workload:\t%s (%s)\n", p.Workload, p.Workload.FullName())
	fmt.Fprintf(tw, "From:\t%s\n", p.From)
	fmt.Fprintf(tw, "To:\t%s\n", p.To)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Checks) > 0 {
		fmt.Fprintln(tw, "\nChecks:")
		for _, c := range shared.Checks(p.Checks) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, c.Message)
			if c.Hint != "" && c.Status != egress.StatusPass {
				fmt.Fprintf(tw, "  \t\thint: %s\n", c.Hint)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(p.Steps) > 0 {
		fmt.Fprintln(tw, "\nSteps:")
		for i, s := range p.Steps {
			fmt.Fprintf(tw, "  %d.\t%s\t%s\n", i+1, s.Kind, s.Description)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var b strings.Builder
	if len(p.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range shared.RenderAll(p.Notes) {
			b.WriteString("  - " + n + "\n")
		}
	}
	b.WriteString("\n" + planSummary(p) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// planSummary is a plan's outcome in one line: nothing to do, blocked by which checks, or
// ready with how many steps.
func planSummary(p egress.Plan) string {
	switch {
	case p.NoOp:
		return "nothing to do: " + p.Workload.String() + " already uses " + string(p.ToMode)
	case p.Blocked:
		var names []string
		for _, c := range egress.Failed(p.Checks) {
			names = append(names, c.Name)
		}
		return fmt.Sprintf("blocked by failed checks: %s", strings.Join(names, ", "))
	}
	return fmt.Sprintf("ready: %s to switch %s from %s to %s", shared.Plural(len(p.Steps), "step"), p.Workload, p.FromMode, p.ToMode)
}

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
	// Gate and Probes are the canary's metrics gate and the probes before traffic moves.
	Gate   *egress.GatePolicy `json:"gate,omitempty"`
	Probes *egress.ProbeSpec  `json:"probes,omitempty"`
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
	Unchanged        bool                   `json:"unchanged,omitempty"`
	Recovery         []string               `json:"recovery,omitempty"`
	Notes            []string               `json:"notes,omitempty"`

	// planShown: the plan (checks, steps, notes) was shown before the confirmation, on the
	// same terminal; the table form then does not list the checks and plan notes again.
	planShown bool
}

// NewMigrationReport builds a migration's report.
func NewMigrationReport(m *migration.Migration, dryRun bool) MigrationReport {
	p := m.Plan
	from, to := p.From, p.To
	if p.Workload.Name == "" { // never planned (failed before)
		from, to = m.Workload.VPC, m.Target
	}
	r := MigrationReport{
		Workload: m.Ref.String(), Name: m.Ref.Name, Kind: m.Ref.Kind, Project: m.Ref.Project, Region: m.Ref.Region,
		From: Endpoint{from.Mode(), from}, To: Endpoint{to.Mode(), to},
		Checks: shared.Checks(p.Checks), Plan: PlanView{Steps: p.Steps, Canary: p.Canary, Notes: shared.RenderAll(p.Notes), Gate: p.Gate, Probes: p.Probes},
		DryRun: dryRun, Validated: m.Validated, Notes: shared.RenderAll(m.Notes),
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
	r.Outcome = m.Outcome()
	res := m.Result
	switch {
	case res != nil:
		r.NewRevision, r.RestoredRevision = res.NewRevision, res.RestoredRevision
		if res.PreviousRevision != "" {
			r.PreviousRevision = res.PreviousRevision
		}
		if res.Traffic != nil && m.Ref.Kind != egress.KindJob {
			r.Traffic = res.Traffic
		}
		r.Steps = renderSteps(res.Steps)
		r.DurationSeconds = roundSecondsF(res.DurationSeconds)
		r.Error, r.RollbackError = shared.Render(migration.ResultError(res)), shared.Render(migration.RollbackError(res))
		r.State, r.Unchanged, r.Recovery = res.State, res.Unchanged, shared.RenderAll(res.Recovery)
		r.Notes = append(r.Notes, shared.RenderAll(res.Notes)...)
	case r.Outcome == egress.OutcomeBlocked:
		r.Error = migration.BlockedMessage(p)
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

// renderSteps are a run's steps with their notes and errors in words.
func renderSteps(ss []egress.StepResult) []egress.StepResult {
	out := slices.Clone(ss)
	for i, s := range out {
		out[i].Note, out[i].NoteActions = shared.StepNote(s), nil
		if s.Err != nil {
			out[i].Error = shared.ErrorText(s.Err)
		}
	}
	return out
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
	migration.Counts
	// CleanupFailed counts the connectors --cleanup could not delete.
	CleanupFailed int `json:"cleanupFailed"`
}

func summarize(rs []MigrationReport) FleetSummary {
	var s FleetSummary
	for _, r := range rs {
		s.Add(r.Outcome)
	}
	return s
}

// FleetReport is what `runnet migrate` prints for several workloads. JSON field names are a
// stable contract.
type FleetReport struct {
	Workloads []MigrationReport            `json:"workloads"`
	Summary   FleetSummary                 `json:"summary"`
	Subnet    *migration.SubnetCreation    `json:"subnet,omitempty"`
	Cleanup   []migration.ConnectorCleanup `json:"cleanup,omitempty"`
	// Projects counts the outcomes per project, when the workloads span several, or a
	// project was named (--projects, --folder, --organization), or the connector is another
	// project's, or a project could not be read.
	Projects        []migration.ProjectSummary `json:"projects,omitempty"`
	DurationSeconds float64                    `json:"durationSeconds"`
}

// WriteText renders the fleet as a table, one row per workload, then the subnet, the
// cleanup and the counts.
func (f FleetReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tKIND\tFROM\tTO\tOUTCOME\tREVISION\tDURATION\tERROR")
	for _, r := range f.Workloads {
		if len(f.Projects) > 0 {
			r.Workload = r.Project + "/" + r.Workload
		}
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
	if f.Subnet != nil {
		b.WriteString("\n" + subnetLine(f.Subnet) + "\n")
	}
	if len(f.Projects) > 0 {
		b.WriteString("\n")
		for _, p := range f.Projects {
			if p.Error != "" {
				fmt.Fprintf(&b, "Project %s: not read: %s\n", p.Project, p.Error)
				continue
			}
			fmt.Fprintf(&b, "Project %s: %d of %d migrated", p.Project, p.Migrated, p.Total)
			for _, x := range []struct {
				n    int
				what string
			}{{p.NoOp, "no-op"}, {p.Planned, "planned"}, {p.Blocked, "blocked"}, {p.RolledBack, "rolled back"}, {p.Failed, "failed"}, {p.Skipped, "skipped"}} {
				if x.n > 0 {
					fmt.Fprintf(&b, ", %d %s", x.n, x.what)
				}
			}
			b.WriteString("\n")
		}
	}
	for _, c := range f.Cleanup {
		fmt.Fprintf(&b, "Connector %s: ", egress.ShortName(c.Connector))
		switch c.Status {
		case string(egress.StepDone):
			b.WriteString("deleted\n")
		case string(egress.StepSkipped):
			if len(f.Workloads) > 0 && f.Workloads[0].DryRun {
				b.WriteString("would be kept, still used by " + strings.Join(c.Users, ", ") + " (dry run)\n")
				break
			}
			b.WriteString("kept, still used by " + strings.Join(c.Users, ", ") + "\n")
		case string(egress.OutcomePlanned):
			b.WriteString("would be deleted: nothing else uses it (dry run)\n")
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
		fmt.Fprintf(&b, "; cleanup failed: %s not deleted", shared.Plural(s.CleanupFailed, "connector"))
	}
	fmt.Fprintf(&b, " (%s)\n", secs(f.DurationSeconds))
	_, err := io.WriteString(w, b.String())
	return err
}

func endpointCell(e Endpoint) string {
	switch e.Mode {
	case egress.ModeConnector:
		return "connector " + egress.ShortName(e.VPC.Connector)
	case egress.ModeDirect:
		return "direct " + egress.ShortName(e.VPC.Subnet)
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

// finish prints the report and returns the error that carries the exit status.
func (o *MigrateOptions) finish(p interface{ Print(any) error }, eng *migration.Engine, ms []*migration.Migration, created *migration.SubnetCreation, cleanup []migration.ConnectorCleanup, start time.Time) error {
	reports := make([]MigrationReport, 0, len(ms))
	for _, m := range ms {
		r := NewMigrationReport(m, o.DryRun)
		r.planShown = o.planShown
		reports = append(reports, r)
	}
	// A fleet that crosses projects (a scope was given, or a workload is in another
	// project than the connector: a Shared VPC host's) reports per project even when its
	// workloads are all in one, so that its shape does not depend on how many there are, and
	// names each workload PROJECT/WORKLOAD (two projects may each have an api).
	across := len(o.projects) > 1 || o.scope != nil || slices.ContainsFunc(o.projects, func(p migration.ProjectSummary) bool {
		return p.Error != "" || (o.All && p.Project != o.fromConn.Project)
	})
	for _, r := range reports {
		if across {
			r.Name = r.Project + "/" + r.Name
		}
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
		fr := FleetReport{Workloads: reports, Subnet: created, Cleanup: cleanup, Summary: sum,
			DurationSeconds: roundSeconds(time.Since(start))}
		if across {
			fr.Projects = o.projects
		}
		err = p.Print(fr)
	}
	if err != nil {
		return err
	}
	if o.single && reports[0].Outcome == egress.OutcomeMigrated {
		PrintIaCHint(o.f, ms[0].Ref) // how to carry the change into infrastructure code
	}
	if o.verdict != nil {
		return o.verdict()
	}
	return verdictError(eng.FleetVerdict(ms, cleanup))
}

// verdictError is the engine's verdict as the command's error (nil for success).
func verdictError(code int, msg egress.Message) error {
	if code == exitcode.OK {
		return nil
	}
	return exitcode.Errorf(code, "%s", shared.Render(msg))
}

// summarize writes one informational line per workload to stderr (unless --quiet).
func (o *MigrateOptions) summarize(r MigrationReport) {
	switch r.Outcome {
	case egress.OutcomeMigrated:
		msg := fmt.Sprintf("Migrated %s %s from %s to %s", r.Kind.Noun(), r.Name, r.From.Mode, r.To.Mode)
		if r.NewRevision != "" {
			msg += fmt.Sprintf(" (revision %s replaces %s)", r.NewRevision, r.PreviousRevision)
		}
		o.infof("%s in %s.", msg, secs(r.DurationSeconds))
	case egress.OutcomeNoOp:
		o.infof("No change: %s %s already uses %s.", r.Kind.Noun(), r.Name, r.To.VPC.Describe())
	case egress.OutcomePlanned:
		o.infof("Dry run: %s %s would move from %s to %s in %s; nothing was changed.", r.Kind.Noun(), r.Name, r.From.Mode, r.To.Mode, shared.Plural(len(r.Plan.Steps), "step"))
	case egress.OutcomeRolledBack:
		o.infof("Rolled back %s %s: it uses %s again, with its previous traffic split.", r.Kind.Noun(), r.Name, r.From.VPC.Describe())
	}
}

func (o *MigrateOptions) infof(format string, args ...any) {
	if o.f.Options.Quiet {
		return
	}
	fmt.Fprintf(o.f.IOStreams.ErrOut, format+"\n", args...)
}

// subnetLine says what became of the subnet a fleet (or a recycle) created: "Subnet NAME
// (CIDR in NETWORK): STATUS[: ERROR]".
func subnetLine(s *migration.SubnetCreation) string {
	line := fmt.Sprintf("Subnet %s (%s in %s): %s", egress.ShortName(s.Name), s.CIDR, egress.ShortName(s.Network), s.Status)
	if s.Error != "" {
		line += ": " + s.Error
	}
	return line
}
