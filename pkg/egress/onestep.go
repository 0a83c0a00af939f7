package egress

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// This file is the one-operation switch of a service: when nothing has to look at the new
// revision before traffic reaches it (no intermediate canary step, no gate), the new template
// and the traffic go in one UpdateService, and Cloud Run moves the traffic to the new revision
// once it is Ready; a revision that fails leaves the traffic where it was and fails the
// operation (Service.reconciling in google/cloud/run/v2/service.proto), which the run then
// rolls back like any failed deploy. That is what `gcloud run services update --network
// --subnet` does, with runnet's preflight and journal around it.

// StepDeployAndShift deploys a service revision with the new VPC access and moves the traffic
// to it in the same update: traffic that follows the latest revision stays as it is, and a
// revision pinned by name gives its share to the new revision, named in the request.
const StepDeployAndShift StepKind = "deploy-and-shift"

// NeedsRevisionBeforeTraffic reports whether the plan has to deploy the new revision with no
// traffic and wait until it is Ready before traffic moves (two operations), and why; when it
// does not, a service's switch is one UpdateService (StepDeployAndShift). Every gate that
// must see the new revision before traffic reaches it is one more reason here.
func (p *Plan) NeedsRevisionBeforeTraffic() (bool, string) {
	switch {
	case p.Workload.Kind != KindService:
		return true, fmt.Sprintf("a %s's new revision is deployed, then checked, before its %s moves", p.Workload.Kind.Noun(), p.Workload.Kind.ShareNoun())
	case len(p.Canary) > 1 || len(p.Canary) == 1 && p.Canary[0] < 100:
		return true, fmt.Sprintf("the traffic moves in steps (%s), the first once the new revision is Ready", FormatCanary(p.Canary))
	case p.Probes != nil:
		return true, "the new revision is probed before any traffic moves to it"
	case p.Gate != nil:
		return true, "each traffic step is judged by the new revision's request metrics against the old revisions'"
	case p.namesNewRevision && PlannedRevisionName(p.Workload.Name) == "":
		return true, "the traffic names its revisions, and the service's name is too long to name the new revision in the request"
	}
	return false, ""
}

// maxRevisionNameLength is the longest revision name: an RFC 1035 label, as a revision is a
// Knative resource named in DNS (the v1 API rejects longer names on template.metadata.name).
const maxRevisionNameLength = 63

// PlannedRevisionName returns a fresh name for a service's next revision, which Cloud Run
// requires to start with the service's name and a hyphen: SERVICE-runnet-xxxxx, or
// SERVICE-rn-xxxxx when that is too long; "" when even that is.
func PlannedRevisionName(service string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	for _, mid := range []string{"-runnet-", "-rn-"} {
		if n := service + mid + string(b[:]); len(n) <= maxRevisionNameLength {
			return n
		}
	}
	return ""
}

// oneStep is the step of a service's switch in one update, when the plan allows it: a
// revision is deployed (deploy) and nothing needs it Ready before traffic moves.
func (p *Plan) oneStep(w Workload, deploy, force bool, moving string) (Step, bool) {
	if w.Ref.Kind != KindService || !deploy {
		return Step{}, false
	}
	// The traffic names a revision whose share moves: the new revision must be named too.
	p.namesNewRevision = !sameTraffic(finalTraffic(w.Traffic, p.MoveFrom, "\x00"), w.Traffic)
	if needs, why := p.NeedsRevisionBeforeTraffic(); needs {
		p.Notes = append(p.Notes, Plain("the new revision is deployed with no traffic first, and the traffic moves once it is Ready: "+why))
		return Step{}, false
	}
	d := fmt.Sprintf("deploy a revision of %s with %s and move the traffic of %s to it in the same update, once it is Ready (a revision that fails gets none)",
		w.Ref.Name, p.To.Short(), moving)
	if p.namesNewRevision {
		d = fmt.Sprintf("deploy a revision of %s with %s, named in the request, in the place of %s in the split (tags kept), in the same update: it takes the traffic once Ready (a revision that fails gets none)",
			w.Ref.Name, p.To.Short(), moving)
	}
	if force {
		d = fmt.Sprintf("deploy %s's template (%s) again as a new revision (its latest revision, %s, failed) and move the traffic of %s to it in the same update, once it is Ready",
			w.Ref.Name, p.To.Short(), w.LatestCreated, moving)
	}
	return Step{Kind: StepDeployAndShift, Description: d, Resource: w.Ref.FullName(), Percent: 100, Force: force}, true
}

// deployAndShift runs a StepDeployAndShift step: one update with the new VPC access and the
// final traffic. The platform waits until the change is in force: an error when the revision
// did not become Ready (the traffic stayed where it was), which the run rolls back.
//
// Being the run's last change, the update removes the journal in the same request, as the
// last traffic change of a canary does: no journal-only write, before or after, delays the
// switch, and none is left in flight when the process exits (a metadata change would show the
// service as reconciling for a rollout's time). Once sent, the rollout is Cloud Run's to
// finish: a process that dies while waiting leaves either the switch done or, if the revision
// failed, the traffic where it was; an interrupted run that is still alive rolls back and
// writes the journal again for that. Before it (a subnetwork created first), the journal
// records the steps reached, so that --resume finishes or undoes them.
func (r *runState) deployAndShift(ctx context.Context, i int) error {
	step, out, orig := r.plan.Steps[i], &r.res.Steps[i], r.res.Original
	from := r.plan.moveFrom(orig)
	if r.resumed {
		if done, err := r.resumedTemplate(ctx, out); done || err != nil {
			return err
		}
	}
	rev := ""
	final := finalTraffic(orig.Traffic, from, "\x00")
	u := Update{VPC: &r.plan.To, ForceNewRevision: step.Force}
	if !sameTraffic(final, orig.Traffic) {
		// The moving share is pinned by name: the new revision is named in the request.
		if rev = r.res.NewRevision; rev == "" || rev == orig.LatestCreated {
			rev = PlannedRevisionName(r.ref().Name)
		}
		if rev == "" {
			return fmt.Errorf("the name of %s is too long to name its new revision", r.ref())
		}
		u.Revision, u.Traffic = rev, finalTraffic(orig.Traffic, from, rev)
		r.res.NewRevision, out.Revision = rev, rev
	}
	update := r.update
	if i == r.lastForward() {
		update = r.updateLast
	}
	if err := update(ctx, u); err != nil {
		if errors.Is(err, ErrNotApplied) {
			r.res.NewRevision, out.Revision = "", ""
		}
		return err
	}
	if err := r.noteNewRevision(out); err != nil {
		return err
	}
	if rev != "" && r.res.NewRevision != rev {
		return fmt.Errorf("the update of %s made revision %s, not %s as it asked", r.ref(), r.res.NewRevision, rev)
	}
	if r.cur.LatestReady != r.res.NewRevision || r.cur.Condition.State == ConditionFailed {
		msg := r.cur.Condition.Message
		if msg == "" {
			msg = "it is not the latest ready revision"
		}
		return fmt.Errorf("revision %s is not serving: %s", r.res.NewRevision, msg)
	}
	r.healthy = true
	moved := strings.Join(from, ", ")
	if moved == "" {
		moved = "the previous revisions"
	}
	if err := r.observe(ctx, Event{Kind: EventTraffic, Index: i, Step: *out, Traffic: slices.Clone(r.cur.Traffic),
		Message: fmt.Sprintf("%s moved from %s to %s", r.ref().Kind.ShareNoun(), moved, r.res.NewRevision)}); err != nil {
		return err
	}
	return nil
}
