package egress

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	// Force makes a deploy-revision or update-template step deploy a new
	// revision although the template already has the target settings (its
	// latest revision failed with them).
	Force bool `json:"forceNewRevision,omitempty"`
}

// SubnetSpec is a subnetwork a plan creates.
type SubnetSpec struct {
	// Name is the subnetwork, in any form ParseSubnetRef accepts.
	Name string `json:"name"`
	// Network is its network, in any form ParseNetworkRef accepts.
	Network string `json:"network"`
	// CIDR is its primary range.
	CIDR string `json:"cidr"`
	// AutoPrefix, when set, says CIDR was picked as the first free range of this prefix
	// length: if something takes it before the subnetwork is created (another create racing
	// for the same free range), the next free one is used.
	AutoPrefix int `json:"autoPrefix,omitempty"`
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
	// Gate, if set, judges each intermediate canary step of a service by its request
	// metrics (gate.go).
	Gate *GatePolicy
	// Probes, if set, probe a service's new revision before traffic moves (probe.go).
	Probes *ProbeSpec
}

// Plan is a migration plan: pure data (internal/cli renders it), and
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
	// MoveFrom are the revisions whose share of the traffic (a worker pool's
	// instances) moves to the new revision, which takes their place in the
	// split: those that receive traffic with other settings than the target.
	MoveFrom []string `json:"moveFrom,omitempty"`
	// Into is the revision the traffic moves to when the plan deploys none:
	// the latest ready revision, which has the target settings already.
	Into string `json:"into,omitempty"`
	// NoOp is set when the workload already has the target VPC access.
	NoOp bool `json:"noOp"`
	// Blocked is set when a check failed: the plan must not run.
	Blocked bool `json:"blocked"`
	// Notes say what the plan leaves alone and why.
	Notes []Message `json:"notes,omitempty"`
	// Gate, when set, judges each intermediate canary step by the new revision's request
	// metrics against the old revisions' (gate.go).
	Gate *GatePolicy `json:"gate,omitempty"`
	// Probes, when set, probe the new revision before any traffic moves to it (probe.go).
	Probes *ProbeSpec `json:"probes,omitempty"`

	// namesNewRevision is set when the traffic names a revision whose share moves, so that a
	// switch in one update must name the new revision in the request (onestep.go).
	namesNewRevision bool
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
// checks (usually from RunPreflight).
//
// The plan is a no-op when target is in force: when w.Serving is known, the
// template has it (see VPC.Equivalent: defaults, paths and tag order do not
// matter), its latest revision did not fail, and every revision that
// receives traffic (instances) has it (ServingState.Serves); otherwise, when
// the template has it. Revisions that only carry a tag are left as they are
// (a note names them): tags are never moved.
//
// Otherwise the steps depend on the kind:
//
//   - service: deploy a revision with the new settings at 0% traffic under
//     a tag, wait until it is Ready, then move the traffic of the revisions
//     that serve with other settings (MoveFrom: the latest ready revision when
//     the traffic follows it, the named revisions when it is pinned) to it,
//     in the canary steps; the split ends as it was, with the new revision in
//     their place. When the template has the target already and its latest
//     revision is ready, nothing is deployed: the traffic moves to that
//     revision (Into). When its latest revision failed with the target, the
//     template is deployed again (force_new_revision).
//   - job: update the task template, then optionally run one execution;
//   - worker pool: update the template and wait until the new revision is
//     Ready, then move the instances of revisions named in the instance
//     splits to it (worker pools cannot use connectors: a
//     workerpool-connector failure is added if missing).
//
// A subnetwork to create comes first; deleting the connector left behind
// comes last, with Cleanup and no other users. Blocked is set when any
// check failed.
func BuildPlan(opts PlanOptions, w Workload, target VPC, checks []Check) Plan {
	ref := w.Ref
	tmpl, ferr := w.VPC.Canonical(ref.Project, ref.Region)
	if ferr != nil {
		tmpl = w.VPC
	}
	from := tmpl
	serving := w.Serving
	if serving != nil {
		if v, err := serving.VPC().Canonical(ref.Project, ref.Region); err == nil {
			from = v
		} else {
			from = serving.VPC()
		}
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
	templateHas := ferr == nil && terr == nil && tmpl.sameAs(to)
	if serving == nil && templateHas || serving != nil && terr == nil && serving.Serves(to) {
		p.NoOp = true
		p.Notes = append(p.Notes, Plain(fmt.Sprintf("%s already uses %s; nothing to do", ref, to)))
		if serving != nil {
			p.Notes = append(p.Notes, stragglerNotes(serving, to)...)
		}
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

	// What moves, and whether a revision is deployed for it.
	deploy, force := true, false
	if ref.Kind != KindJob {
		if serving != nil {
			for _, r := range serving.Off(to) {
				p.MoveFrom = append(p.MoveFrom, r.Name)
			}
			if p.MoveFrom == nil {
				p.MoveFrom = []string{}
			}
			if templateHas {
				if serving.LatestFailed || w.LatestReady == "" || w.LatestReady != w.LatestCreated {
					force = true // its revision failed: deploy the template again
				} else {
					deploy, p.Into = false, w.LatestReady
				}
			}
		} else if w.LatestReady != "" {
			p.MoveFrom = []string{w.LatestReady}
		}
	}

	if cs := opts.CreateSubnet; cs != nil && p.ToMode == ModeDirect {
		name := cs.Name
		if s, err := ParseSubnetRef(cs.Name, ref.Project, ref.Region); err == nil {
			name = s.Path()
		}
		p.Steps = append(p.Steps, Step{
			Kind:        StepCreateSubnet,
			Description: fmt.Sprintf("create subnetwork %s with range %s in network %s", ShortName(name), cs.CIDR, ShortName(cs.Network)),
			Resource:    name,
		})
	}

	desc := to.Short()
	moving := describeMoving(serving, p.MoveFrom)
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
			p.Notes = append(p.Notes, Plain("the new settings take effect at the job's next execution"))
		}
		p.Notes = append(p.Notes, canaryIgnored(opts.Canary, "jobs")...)
	case KindWorkerPool:
		if deploy {
			d := fmt.Sprintf("update worker pool %s's template to %s", ref.Name, desc)
			if force {
				d = fmt.Sprintf("deploy worker pool %s's template (%s) again as a new revision: its latest revision, %s, failed", ref.Name, desc, w.LatestCreated)
			}
			p.Steps = append(p.Steps,
				Step{Kind: StepUpdateTemplate, Description: d, Resource: ref.FullName(), Force: force},
				Step{Kind: StepVerify, Description: "wait until the new revision is Ready", Resource: ref.FullName()})
		} else {
			p.Steps = append(p.Steps, Step{Kind: StepVerify, Description: fmt.Sprintf("check that revision %s, which has these settings already, is Ready", p.Into), Resource: ref.FullName()})
		}
		if !sameTraffic(finalTraffic(w.Traffic, p.MoveFrom, "\x00"), w.Traffic) {
			p.Steps = append(p.Steps, Step{Kind: StepShiftTraffic, Resource: ref.FullName(), Percent: 100,
				Description: fmt.Sprintf("move the instances of %s to %s, in %s place in the instance split", moving, newRevisionNoun(p.Into), itsOrTheir(len(p.MoveFrom)))})
		}
		p.Notes = append(p.Notes, canaryIgnored(opts.Canary, "worker pools")...)
	default:
		canary := opts.Canary
		if bad := validCanary(canary); canary == nil || bad != "" {
			if canary != nil {
				p.Notes = append(p.Notes, Plain(fmt.Sprintf("canary %s ignored (%s); traffic moves at once", FormatCanary(canary), bad)))
			}
			canary = []int{100}
		}
		p.Canary = slices.Clone(canary)
		if g := opts.Gate; g != nil && len(canary) > 1 {
			gp := *g
			p.Gate = &gp
			if opts.StepWait > 0 {
				p.Notes = append(p.Notes, Plain(fmt.Sprintf("each traffic step but the last is judged by Cloud Monitoring's request metrics once its watch ends: the run rolls back if the new revision's 5xx share exceeds the old revisions' by more than %.1f points or its p95 latency by more than %.0f%% (judged from %d requests)",
					100*gp.MaxErrorRate, 100*gp.MaxLatencyIncrease, gp.MinRequests)))
			} else {
				p.Notes = append(p.Notes, Plain("the metrics gate judges a traffic step once its watch ends, and with no --step-wait no step is watched: no step is judged"))
			}
		}
		if pr := opts.Probes; pr != nil && deploy {
			ps := *pr
			p.Probes = &ps
		}
		if step, ok := p.oneStep(w, deploy, force, moving); ok {
			p.Steps = append(p.Steps, step)
			break
		}
		if deploy {
			tag := opts.Tag
			if tag == "" {
				tag = DefaultRevisionTag(ref.Name, p.ToMode)
			}
			d := fmt.Sprintf("deploy a revision of %s with %s at 0%% traffic", ref.Name, desc)
			if force {
				d = fmt.Sprintf("deploy %s's template (%s) again as a new revision at 0%% traffic: its latest revision, %s, failed", ref.Name, desc, w.LatestCreated)
			}
			if tag != "" {
				d += ", tagged " + tag
			}
			p.Steps = append(p.Steps,
				Step{Kind: StepDeployRevision, Description: d, Resource: ref.FullName(), Tag: tag, Force: force},
				Step{Kind: StepVerify, Description: "wait until the new revision is Ready (the current revisions keep serving all traffic)", Resource: ref.FullName()},
			)
		} else {
			p.Steps = append(p.Steps, Step{Kind: StepVerify, Description: fmt.Sprintf("check that revision %s, which has these settings already, is Ready", p.Into), Resource: ref.FullName()})
		}
		pinned := serving != nil && (serving.Pinned || len(p.MoveFrom) > 1 || len(p.MoveFrom) == 1 && p.MoveFrom[0] != w.LatestReady)
		share := movingShare(w.Traffic, w.LatestReady, p.MoveFrom)
		for i, pct := range canary {
			s := Step{Kind: StepShiftTraffic, Resource: ref.FullName(), Percent: pct}
			s.Description = shiftDescription(pct, share, moving, newRevisionNoun(p.Into), pinned)
			if i < len(canary)-1 && opts.StepWait > 0 {
				s.WaitSeconds = opts.StepWait.Seconds()
				s.Description += fmt.Sprintf(", then watch its health for %s", opts.StepWait)
			}
			p.Steps = append(p.Steps, s)
		}
	}
	if serving != nil {
		p.Notes = append(p.Notes, servingNotes(serving, w, to, p)...)
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
			p.Notes = append(p.Notes, Message{Kind: MessageConnectorKept, Text: fmt.Sprintf("connector %s is kept (pass --cleanup to delete it once no workload uses it)", conn)})
		case len(others) > 0:
			p.Notes = append(p.Notes, Message{Kind: MessageConnectorKept, Text: fmt.Sprintf("connector %s is kept: still used by %s", conn, strings.Join(others, ", "))})
		default:
			p.Steps = append(p.Steps, Step{
				Kind:        StepDeleteConnector,
				Description: fmt.Sprintf("delete connector %s, which no other workload uses", ShortName(conn)),
				Resource:    conn,
			})
		}
	}
	if p.FromMode == ModeDirect && from.Subnet != to.Subnet {
		p.Notes = append(p.Notes, Plain(fmt.Sprintf("Cloud Run keeps its address reservations in %s for 1-2 hours after the workload leaves; the subnetwork cannot be deleted until then", ShortName(from.Subnet))))
	}
	return p
}

// moveFrom returns the revisions whose share moves (MoveFrom); a plan made without the
// serving state (an older journal) moves the share of the latest ready revision as it was.
func (p Plan) moveFrom(orig Original) []string {
	if p.MoveFrom != nil {
		return p.MoveFrom
	}
	if orig.LatestReady != "" {
		return []string{orig.LatestReady}
	}
	return nil
}

func newRevisionNoun(into string) string {
	if into != "" {
		return "revision " + into
	}
	return "the new revision"
}

func itsOrTheir(n int) string {
	if n == 1 {
		return "its"
	}
	return "their"
}

// describeMoving names the revisions whose share moves, with their shares: "revision X (100%)".
func describeMoving(s *ServingState, names []string) string {
	if len(names) == 0 {
		return "the previous revisions"
	}
	var parts []string
	for _, n := range names {
		if s != nil {
			if r, ok := s.Revision(n); ok {
				parts = append(parts, fmt.Sprintf("%s (%d%%)", n, r.Percent))
				continue
			}
		}
		parts = append(parts, n)
	}
	word := "revision "
	if len(parts) > 1 {
		word = "revisions "
	}
	return word + strings.Join(parts, ", ")
}

// servingNotes says what the plan does about what serves: traffic pinned to revisions that
// run another configuration than the template, a failed latest revision, tags left alone.
func servingNotes(s *ServingState, w Workload, to VPC, p Plan) []Message {
	var out []Message
	if s.LatestFailed {
		why := ""
		if s.LatestFailure != "" {
			why = ": " + s.LatestFailure
		}
		out = append(out, Plain(fmt.Sprintf("the latest revision, %s, failed%s; %s serves", w.LatestCreated, why, s.Describe())))
	}
	if s.Pinned && w.Ref.Kind != KindJob && len(p.MoveFrom) > 0 {
		what := "traffic"
		if w.Ref.Kind == KindWorkerPool {
			what = "instance split"
		}
		out = append(out, Plain(fmt.Sprintf("the %s is pinned (%s): %s takes the place of %s, and the rest of the split stays as it is",
			what, DescribeTraffic(w.Traffic), newRevisionNoun(p.Into), strings.Join(p.MoveFrom, ", "))))
	}
	for _, n := range p.MoveFrom {
		if r, ok := s.Revision(n); ok && r.SameConfig != nil && !*r.SameConfig {
			out = append(out, Plain(fmt.Sprintf("revision %s runs another configuration than the template (its image, environment or resources differ): the revision that takes its %s is built from the template", n, w.Ref.Kind.ShareNoun())))
		}
	}
	return append(out, stragglerNotes(s, to)...)
}

// stragglerNotes names the revisions that only carry a tag with other settings than to.
func stragglerNotes(s *ServingState, to VPC) []Message {
	var out []Message
	for _, r := range s.Stragglers(to) {
		out = append(out, Say(fmt.Sprintf("revision %s keeps its tag %s and its settings (%s): tags are never moved; remove the tag (", r.Name, strings.Join(r.Tags, ", "), describeVPCShort(r.VPC)),
			Action{Kind: ActionRemoveTags, Workload: s.Ref, Tags: r.Tags}, ") to stop it serving"))
	}
	return out
}

// movingShare is the share of all traffic (0 to 100) the revisions from serve in the split ts
// with its latest entry pinned to latestReady: what a canary moves a part of. With no split
// read, the latest revision serves everything.
func movingShare(ts []TrafficTarget, latestReady string, from []string) int {
	if len(ts) == 0 {
		return 100
	}
	base := PinLatest(ts, latestReady)
	n := 0
	for _, f := range from {
		n += shareOf(base, f)
	}
	return n
}

// shiftDescription says what a shift-traffic step sends, in the percentages of all traffic
// that it really sends: the step moves pct percent of the share (0 to 100) that the moving
// revisions serve, rounded as the executor rounds it (canaryTraffic), and leaves every other
// part of the split alone. pinned says the moving revisions are pinned by name, so the last
// step puts the new revision in their place in the split.
func shiftDescription(pct, share int, moving, into string, pinned bool) string {
	switch {
	case pct >= 100 && pinned:
		place := "its"
		if strings.HasPrefix(moving, "revisions ") {
			place = "their"
		}
		return fmt.Sprintf("move the traffic of %s to %s, in %s place in the split (tags kept; the old revisions stay deployed for rollback)", moving, into, place)
	case share >= 100 && pct >= 100:
		return fmt.Sprintf("send 100%% of traffic to %s (the old revisions stay deployed for rollback)", into)
	case share >= 100:
		return fmt.Sprintf("send %d%% of traffic to %s", pct, into)
	case share <= 0:
		return fmt.Sprintf("move the traffic of %s to %s: it serves none, so no traffic moves (the split is kept)", moving, into)
	case pct >= 100:
		return fmt.Sprintf("send %d%% of traffic to %s: all that %s serves (the rest of the split is kept; the old revisions stay deployed for rollback)", share, into, moving)
	}
	moved := max((share*pct+50)/100, 1)
	return fmt.Sprintf("send %d%% of traffic to %s: %d%% of the %d%% that %s serves (the rest of the split is kept)", moved, into, pct, share, moving)
}

func canaryIgnored(canary []int, kind string) []Message {
	if canary == nil || slices.Equal(canary, []int{100}) {
		return nil
	}
	return []Message{Plain("--canary applies to services only; ignored for " + kind)}
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
