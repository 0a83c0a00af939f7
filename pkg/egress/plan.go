package egress

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// StepKind is what one step of a plan does.
type StepKind string

// The step kinds.
const (
	// StepCreateSubnet creates the target subnetwork.
	StepCreateSubnet StepKind = "create-subnet"
	// StepDeployRevision deploys a service revision with the new VPC access
	// at 0% traffic, tagged.
	StepDeployRevision StepKind = "deploy-revision"
	// StepVerify waits until the new revision is Ready.
	StepVerify StepKind = "verify"
	// StepShiftTraffic sends Percent of a service's traffic to the new
	// revision.
	StepShiftTraffic StepKind = "shift-traffic"
	// StepUpdateTemplate updates a job's or worker pool's template.
	StepUpdateTemplate StepKind = "update-template"
	// StepRunExecution runs one job execution and waits for it to succeed.
	StepRunExecution StepKind = "run-execution"
	// StepDeleteConnector deletes the connector the workload left, when no
	// other workload uses it.
	StepDeleteConnector StepKind = "delete-connector"
)

// Step is one step of a plan.
type Step struct {
	// Kind says what the step does.
	Kind StepKind `json:"kind"`
	// Description says it for humans.
	Description string `json:"description"`
	// Resource is the full name of what the step changes (the workload,
	// the subnetwork, the connector).
	Resource string `json:"resource,omitempty"`
	// Percent is, after a shift-traffic step, the new revision's share of
	// the traffic the previous revision served (of all traffic when it
	// served it all; other parts of a split are kept).
	Percent int `json:"percent,omitempty"`
	// Tag is the revision tag of a deploy-revision step.
	Tag string `json:"tag,omitempty"`
	// WaitSeconds is how long to watch the new revision's health after a
	// shift-traffic step before the next one.
	WaitSeconds float64 `json:"waitSeconds,omitempty"`
}

// SubnetSpec is a subnetwork a plan creates.
type SubnetSpec struct {
	// Name is the subnetwork, in any form ParseSubnetRef accepts.
	Name string `json:"name"`
	// Network is its network, in any form ParseNetworkRef accepts.
	Network string `json:"network"`
	// CIDR is its primary range.
	CIDR string `json:"cidr"`
}

// PlanOptions are the choices BuildPlan needs beyond the workload and the
// target.
type PlanOptions struct {
	// Canary lists the traffic percentages a service's new revision gets,
	// in order (see ParseCanary); nil means [100]. Ignored for jobs and
	// worker pools.
	Canary []int
	// StepWait is how long to watch the new revision after each canary
	// step but the last.
	StepWait time.Duration
	// Tag is the revision tag of the new revision; empty means
	// DefaultRevisionTag.
	Tag string
	// CreateSubnet, when set, makes the plan create this subnetwork first.
	CreateSubnet *SubnetSpec
	// Cleanup deletes the connector the workload leaves when no other
	// workload uses it.
	Cleanup bool
	// ConnectorUsers lists the other workloads that use the connector the
	// workload leaves (from the inventory); the connector is only deleted
	// when it is empty.
	ConnectorUsers []WorkloadRef
	// VerifyJob runs one execution of a job after updating it.
	VerifyJob bool
}

// Plan is a migration plan: pure data, printable as text or a table and
// JSON-able.
type Plan struct {
	// Workload names the workload.
	Workload WorkloadRef `json:"workload"`
	// From is its current VPC access, canonical when it parses.
	From VPC `json:"from"`
	// To is the target VPC access, canonical when it parses.
	To VPC `json:"to"`
	// FromMode is From's mode.
	FromMode Mode `json:"fromMode"`
	// ToMode is To's mode.
	ToMode Mode `json:"toMode"`
	// Checks are the preflight results.
	Checks []Check `json:"checks"`
	// Steps are the steps to run, in order; empty for a no-op.
	Steps []Step `json:"steps"`
	// Canary is the traffic percentages of a service migration.
	Canary []int `json:"canary,omitempty"`
	// NoOp is set when the workload already has the target VPC access.
	NoOp bool `json:"noOp"`
	// Blocked is set when a check failed: the plan must not run.
	Blocked bool `json:"blocked"`
	// Notes say what the plan leaves alone and why.
	Notes []string `json:"notes,omitempty"`
}

// DefaultRevisionTag returns the tag for the new revision of service when
// switching to mode: runnet-MODE, shortened to rn-MODE or rn when the tag
// and the service name together would exceed MaxTagAndServiceLength, and
// "" (no tag) when even that is too long.
func DefaultRevisionTag(service string, to Mode) string {
	for _, tag := range []string{"runnet-" + string(to), "rn-" + string(to), "rn"} {
		if len(tag)+len(service) <= MaxTagAndServiceLength {
			return tag
		}
	}
	return ""
}

// BuildPlan builds the plan to switch w to target, given the preflight
// checks (usually from RunPreflight). The plan is a no-op when target is
// equivalent to w's current VPC access (see VPC.Equivalent: defaults,
// paths and tag order do not matter). Otherwise the steps depend on the
// kind:
//
//   - service: deploy a revision with the new settings at 0% traffic under
//     a tag, wait until it is Ready, shift traffic in the canary steps
//     (the old revision keeps serving until the last one);
//   - job: update the task template, then optionally run one execution;
//   - worker pool: update the template and wait until the new revision is
//     Ready (worker pools cannot use connectors: a workerpool-connector
//     failure is added if missing).
//
// A subnetwork to create comes first; deleting the connector left behind
// comes last, with Cleanup and no other users. Blocked is set when any
// check failed.
func BuildPlan(opts PlanOptions, w Workload, target VPC, checks []Check) Plan {
	ref := w.Ref
	from, ferr := w.VPC.Canonical(ref.Project, ref.Region)
	if ferr != nil {
		from = w.VPC
	}
	to, terr := target.Canonical(ref.Project, ref.Region)
	if terr != nil {
		to = target
	}
	p := Plan{
		Workload: ref,
		From:     from,
		To:       to,
		FromMode: from.Mode(),
		ToMode:   to.Mode(),
		Checks:   slices.Clone(checks),
		Steps:    []Step{},
	}
	if p.Checks == nil {
		p.Checks = []Check{}
	}
	if ferr == nil && terr == nil && from.sameAs(to) {
		p.NoOp = true
		p.Notes = append(p.Notes, fmt.Sprintf("%s already uses %s; nothing to do", ref, to))
		return p
	}
	if ref.Kind == KindWorkerPool && p.ToMode == ModeConnector &&
		!slices.ContainsFunc(p.Checks, func(c Check) bool { return c.Name == CheckWorkerPoolConnector }) {
		p.Checks = append(p.Checks, Check{
			Name: CheckWorkerPoolConnector, Status: StatusFail,
			Message: "worker pools cannot use Serverless VPC Access connectors",
			Hint:    "use Direct VPC egress instead: --network NETWORK --subnet SUBNET",
		})
	}
	p.Blocked = len(Failed(p.Checks)) > 0

	if cs := opts.CreateSubnet; cs != nil && p.ToMode == ModeDirect {
		name := cs.Name
		if s, err := ParseSubnetRef(cs.Name, ref.Project, ref.Region); err == nil {
			name = s.Path()
		}
		p.Steps = append(p.Steps, Step{
			Kind:        StepCreateSubnet,
			Description: fmt.Sprintf("create subnetwork %s with range %s in network %s", lastSegment(name), cs.CIDR, lastSegment(cs.Network)),
			Resource:    name,
		})
	}

	desc := to.Short()
	switch ref.Kind {
	case KindJob:
		p.Steps = append(p.Steps, Step{
			Kind:        StepUpdateTemplate,
			Description: fmt.Sprintf("update job %s's task template to %s (running executions keep the old settings)", ref.Name, desc),
			Resource:    ref.FullName(),
		})
		if opts.VerifyJob {
			p.Steps = append(p.Steps, Step{
				Kind:        StepRunExecution,
				Description: fmt.Sprintf("run one execution of job %s and wait for it to succeed", ref.Name),
				Resource:    ref.FullName(),
			})
		} else {
			p.Notes = append(p.Notes, "the new settings take effect at the job's next execution")
		}
		p.Notes = append(p.Notes, canaryIgnored(opts.Canary, "jobs")...)
	case KindWorkerPool:
		p.Steps = append(p.Steps,
			Step{
				Kind:        StepUpdateTemplate,
				Description: fmt.Sprintf("update worker pool %s's template to %s", ref.Name, desc),
				Resource:    ref.FullName(),
			},
			Step{
				Kind:        StepVerify,
				Description: "wait until the new revision is Ready",
				Resource:    ref.FullName(),
			})
		p.Notes = append(p.Notes, canaryIgnored(opts.Canary, "worker pools")...)
	default:
		canary := opts.Canary
		if bad := validCanary(canary); canary == nil || bad != "" {
			if canary != nil {
				p.Notes = append(p.Notes, fmt.Sprintf("canary %s ignored (%s); traffic moves at once", FormatCanary(canary), bad))
			}
			canary = []int{100}
		}
		p.Canary = slices.Clone(canary)
		tag := opts.Tag
		if tag == "" {
			tag = DefaultRevisionTag(ref.Name, p.ToMode)
		}
		deploy := fmt.Sprintf("deploy a revision of %s with %s at 0%% traffic", ref.Name, desc)
		if tag != "" {
			deploy += ", tagged " + tag
		}
		p.Steps = append(p.Steps,
			Step{Kind: StepDeployRevision, Description: deploy, Resource: ref.FullName(), Tag: tag},
			Step{Kind: StepVerify, Description: "wait until the new revision is Ready (the current revisions keep serving all traffic)", Resource: ref.FullName()},
		)
		share := shareOf(PinLatest(w.Traffic, w.LatestReady), w.LatestReady)
		if len(w.Traffic) == 0 {
			share = 100 // no split read: the latest revision serves everything
		}
		for i, pct := range canary {
			s := Step{Kind: StepShiftTraffic, Resource: ref.FullName(), Percent: pct}
			s.Description = shiftDescription(pct, share, w.LatestReady)
			if i < len(canary)-1 && opts.StepWait > 0 {
				s.WaitSeconds = opts.StepWait.Seconds()
				s.Description += fmt.Sprintf(", then watch its health for %s", opts.StepWait)
			}
			p.Steps = append(p.Steps, s)
		}
	}

	if p.FromMode == ModeConnector && from.Connector != to.Connector {
		conn := from.Connector
		var others []string
		for _, u := range opts.ConnectorUsers {
			if u.FullName() != ref.FullName() {
				others = append(others, u.String())
			}
		}
		switch {
		case !opts.Cleanup:
			p.Notes = append(p.Notes, fmt.Sprintf("connector %s is kept (pass --cleanup to delete it once no workload uses it)", conn))
		case len(others) > 0:
			p.Notes = append(p.Notes, fmt.Sprintf("connector %s is kept: still used by %s", conn, strings.Join(others, ", ")))
		default:
			p.Steps = append(p.Steps, Step{
				Kind:        StepDeleteConnector,
				Description: fmt.Sprintf("delete connector %s, which no other workload uses", lastSegment(conn)),
				Resource:    conn,
			})
		}
	}
	if p.FromMode == ModeDirect && from.Subnet != to.Subnet {
		p.Notes = append(p.Notes, fmt.Sprintf("Cloud Run keeps its address reservations in %s for 1-2 hours after the workload leaves; the subnetwork cannot be deleted until then", lastSegment(from.Subnet)))
	}
	return p
}

// shiftDescription says what a shift-traffic step sends, in the percentages of all traffic
// that it really sends: the step moves pct percent of the share the previous revision r0
// serves (share, 0 to 100), rounded as the executor rounds it, and leaves every other part of
// the split alone.
func shiftDescription(pct, share int, r0 string) string {
	rev := "the previous revision"
	if r0 != "" {
		rev = "revision " + r0
	}
	switch {
	case share >= 100 && pct >= 100:
		return "send 100% of traffic to the new revision (the old revisions stay deployed for rollback)"
	case share >= 100:
		return fmt.Sprintf("send %d%% of traffic to the new revision", pct)
	case share <= 0:
		return fmt.Sprintf("move %s's traffic to the new revision: it serves none, so no traffic moves (the split is kept)", rev)
	case pct >= 100:
		return fmt.Sprintf("send %d%% of traffic to the new revision: all that %s serves (the rest of the split is kept; the old revisions stay deployed for rollback)", share, rev)
	}
	moved := max((share*pct+50)/100, 1)
	return fmt.Sprintf("send %d%% of traffic to the new revision: %d%% of the %d%% that %s serves (the rest of the split is kept)", moved, pct, share, rev)
}

func canaryIgnored(canary []int, kind string) []string {
	if canary == nil || slices.Equal(canary, []int{100}) {
		return nil
	}
	return []string{"--canary applies to services only; ignored for " + kind}
}

// CanaryForm describes what ParseCanary accepts.
const CanaryForm = "want strictly increasing percentages from 1 to 100 ending at 100, e.g. 10,50,100"

// ParseCanary parses the --canary flag: comma-separated traffic
// percentages, strictly increasing, each from 1 to 100, the last 100 (a
// trailing % on each is allowed). "100" moves all traffic at once. Errors
// are *ParseError naming --canary.
func ParseCanary(s string) ([]int, error) {
	const what = "--canary"
	if strings.TrimSpace(s) == "" {
		return nil, parseErr(what, s, CanaryForm, "empty")
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		t := strings.TrimSuffix(strings.TrimSpace(part), "%")
		if t == "" {
			return nil, parseErr(what, s, CanaryForm, "empty step")
		}
		if strings.TrimLeft(t, "0123456789") != "" || len(t) > 3 {
			return nil, parseErr(what, s, CanaryForm, "%q is not a whole percentage", strings.TrimSpace(part))
		}
		n, _ := strconv.Atoi(t)
		out = append(out, n)
	}
	if bad := validCanary(out); bad != "" {
		return nil, parseErr(what, s, CanaryForm, "%s", bad)
	}
	return out, nil
}

// validCanary checks parsed canary steps, returning what is wrong or "".
func validCanary(steps []int) string {
	if len(steps) == 0 {
		return "no steps"
	}
	for i, n := range steps {
		if n < 1 || n > 100 {
			return fmt.Sprintf("%d is not from 1 to 100", n)
		}
		if i > 0 && n <= steps[i-1] {
			return fmt.Sprintf("%d does not increase on the step before it (%d)", n, steps[i-1])
		}
	}
	if last := steps[len(steps)-1]; last != 100 {
		return fmt.Sprintf("the last step is %d, not 100", last)
	}
	return ""
}

// FormatCanary renders steps as ParseCanary reads them: 10,50,100.
func FormatCanary(steps []int) string {
	parts := make([]string, len(steps))
	for i, n := range steps {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// Table renders the plan's steps (printer.Tabler): one row per step with
// its number, kind and description.
func (p Plan) Table() (headers []string, rows [][]string) {
	headers = []string{"#", "step", "description"}
	for i, s := range p.Steps {
		rows = append(rows, []string{strconv.Itoa(i + 1), string(s.Kind), s.Description})
	}
	return headers, rows
}

// Summary returns the plan's outcome in one line: nothing to do, blocked
// by which checks, or ready with how many steps.
func (p Plan) Summary() string {
	switch {
	case p.NoOp:
		return "nothing to do: " + p.Workload.String() + " already uses " + string(p.ToMode)
	case p.Blocked:
		var names []string
		for _, c := range Failed(p.Checks) {
			names = append(names, c.Name)
		}
		return fmt.Sprintf("blocked by failed checks: %s", strings.Join(names, ", "))
	}
	return fmt.Sprintf("ready: %s to switch %s from %s to %s", plural(len(p.Steps), "step"), p.Workload, p.FromMode, p.ToMode)
}

// WriteText renders the plan for humans (printer.TextWriter): the
// workload, both settings, the checks with their hints, the steps, the
// notes and a summary line.
func (p Plan) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Workload:\t%s (%s)\n", p.Workload, p.Workload.FullName())
	fmt.Fprintf(tw, "From:\t%s\n", p.From)
	fmt.Fprintf(tw, "To:\t%s\n", p.To)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Checks) > 0 {
		fmt.Fprintln(tw, "\nChecks:")
		for _, c := range p.Checks {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, c.Message)
			if c.Hint != "" && c.Status != StatusPass {
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
		for _, n := range p.Notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	b.WriteString("\n" + p.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
