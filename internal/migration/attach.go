package migration

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// Attach: one workload's VPC access changed directly, in one update of its template (no
// canary, no journal), through the same write path and conflict policy as a migration.

// AttachRequest is a direct change of one workload's VPC access.
type AttachRequest struct {
	Workload egress.WorkloadRef
	// Target is the VPC access to give it (canonical; no VPC access to detach). Keep says
	// which current settings it keeps (egress, network tags).
	Target egress.VPC
	Keep   Keep
	// ClearMode, for gcloud's --clear-vpc-connector or --clear-network alone, is the mode the
	// workload must have for anything to be removed ("" removes any).
	ClearMode egress.Mode
	// SubnetGiven says the subnetwork was named (not the network's same-name one).
	SubnetGiven bool
	// MoveTraffic moves the traffic of the revisions that serve with other settings to the
	// new revision once it is ready; NoTraffic deploys it with 0%.
	MoveTraffic, NoTraffic bool
	// Async returns once the change is accepted.
	Async bool
}

// AttachResult is what an attach did.
type AttachResult struct {
	// Workload is the workload as it now is, and Serving what serves it (nil when it could
	// not be read: the status then falls back on the template).
	Workload *cloud.Workload
	Serving  *egress.ServingState
	// Target is the VPC access asked for, with what was kept.
	Target egress.VPC
	// Changed is set when the template was changed (an update was sent); Moved when only
	// the traffic was moved (the template had the target already).
	Changed, Moved bool
	// Operation is the update's operation, for an async change.
	Operation string
}

// Attach changes req.Workload's VPC access to req.Target (egress and network tags kept as
// req.Keep says), judging from what serves it: nothing when that has the target already; the
// traffic alone (with MoveTraffic) when the template and its ready revision have it; a new
// revision otherwise, after the target checks that cost one read and confirm (asked about
// dropping VPC access or narrowing the egress). A revision that cannot start has the
// template's previous VPC access put back (exit status 6). When the template was changed but
// the traffic could not be moved, the result (Changed) comes with the error.
func (e *Engine) Attach(ctx context.Context, req AttachRequest, confirm Confirm) (*AttachResult, error) {
	ref := req.Workload
	w, err := e.Read.GetWorkload(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := e.Lock(w); err != nil {
		return nil, exitcode.Wrap(exitcode.Conflict, err) // a migration holds it
	}
	cur, err := w.VPC.Canonical(ref.Project, ref.Region)
	if err != nil {
		return nil, fmt.Errorf("read the VPC settings of %s: %w", ref, err)
	}
	serving, err := e.Read.ServingState(ctx, w)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s %s", ref.Kind.Noun(), ref.Name)
	// gcloud's --clear-vpc-connector / --clear-network remove only their own mode: judged by
	// what serves, as every decision here is.
	if m := serving.Mode(); req.ClearMode != "" && m != egress.ModeNone && m != req.ClearMode && cur.Mode() != req.ClearMode {
		flag := map[egress.Mode]string{egress.ModeConnector: "--clear-vpc-connector", egress.ModeDirect: "--clear-network"}[req.ClearMode]
		e.info(egress.Say(fmt.Sprintf("No change: %s uses %s, which %s does not remove ('", what, serving.VPC().Describe(), flag),
			egress.Action{Kind: egress.ActionDetach, Workload: ref}, "' removes any VPC access)."))
		return &AttachResult{Workload: w, Serving: serving}, nil
	}
	target := req.Keep.Apply(req.Target, cur)
	res := &AttachResult{Workload: w, Serving: serving, Target: target}
	if serving.Serves(target) {
		e.info(egress.Plain(fmt.Sprintf("No change: %s already has %s.", what, cur.Describe())))
		return res, nil
	}
	templateHas, _ := cur.Equivalent(target, ref.Project, ref.Region)
	retry := templateHas && (serving.LatestFailed || w.Rollout() == cloud.RolloutFailed || w.LatestReady != w.LatestCreated)
	if templateHas && !retry {
		// The template and its ready revision have the settings; the traffic is elsewhere.
		return e.moveOnly(ctx, req, res)
	}
	if retry {
		// The settings are asked for already, but they failed to take effect: try again
		// (a missing connector may exist by now).
		if w.LatestCreated != "" {
			e.info(egress.Plain(fmt.Sprintf("%s already asks for %s, but its latest revision %s failed; deploying a new revision to retry.", capitalize(what), cur.Describe(), w.LatestCreated)))
		} else {
			e.info(egress.Plain(fmt.Sprintf("%s already asks for %s, but it is not ready; sending the update again to retry.", capitalize(what), cur.Describe())))
		}
	}

	// What one read can tell, before anything changes.
	if err := e.checkTarget(ctx, req, w, target); err != nil {
		return nil, err
	}
	off := serving.Off(target)
	if err := checkTraffic(req, w, off); err != nil {
		return nil, err
	}
	if q := confirmQuestion(ref, cur, target); q != "" {
		ok, err := confirm(q + "?")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, exitcode.Errorf(exitcode.Failure, "cancelled: %s was not changed", ref)
		}
	}
	u := egress.Update{VPC: &target, ForceNewRevision: retry, NoWait: req.Async}
	if req.NoTraffic {
		u.Traffic = egress.PinLatest(w.Traffic, w.LatestReady)
	}
	done := e.busy("Updating " + ref.String())
	if ref.Kind == egress.KindJob && !req.Async {
		e.progress(egress.WorkloadRef{}, egress.Plain(fmt.Sprintf("Updating job %s...", ref.Name)))
	}
	snap, err := e.Platform.Update(ctx, cloud.Snapshot(w), u)
	done()
	if err != nil {
		var re *cloud.RolloutError
		if errors.As(err, &re) && !req.Async && !retry {
			return nil, e.restore(ctx, ref, w, re, err)
		}
		if errors.Is(err, egress.ErrConflict) {
			return nil, exitcode.Wrap(exitcode.Conflict, egress.WithAdvice(fmt.Errorf("%w; nothing was changed", err),
				egress.Say("; check its state with '", egress.Action{Kind: egress.ActionStatus, Workload: ref}, "' and run the command again")))
		}
		return nil, err
	}
	after := snap.Handle.(*cloud.Workload)
	res.Changed, res.Workload, res.Serving = true, after, nil
	if req.Async {
		res.Operation = after.Operation
		return res, nil
	}
	if req.MoveTraffic && len(off) > 0 && after.LatestReady != "" {
		moved, err := e.move(ctx, after, off, after.LatestReady)
		if err != nil {
			return res, exitcode.Errorf(exitcode.Failure, "%s now has %s on revision %s, but its %s could not be moved to it: %v; move it with 'gcloud run services update-traffic %s --to-revisions %s=100' or run this command again with --move-traffic",
				what, target.Describe(), after.LatestReady, ref.Kind.ShareNoun(), err, ref.Name, after.LatestReady)
		}
		res.Workload = moved
	}
	if s, err := e.Read.ServingState(ctx, res.Workload); err == nil {
		res.Serving = s // otherwise the change is done; the status falls back on the template
	}
	return res, nil
}

// checkTarget runs the target checks that cost one read (egress.RunTargetChecks): a failed
// one changes nothing and exits 3.
func (e *Engine) checkTarget(ctx context.Context, req AttachRequest, w *cloud.Workload, target egress.VPC) error {
	ref := req.Workload
	if target.Mode() == egress.ModeNone {
		return nil
	}
	facts, err := e.Read.TargetFacts(ctx, w, target)
	if err != nil {
		return fmt.Errorf("check %s before changing %s: %w", target.Describe(), ref, err)
	}
	failed := egress.Failed(egress.RunTargetChecks(*facts))
	if len(failed) == 0 {
		return nil
	}
	var msgs []egress.Message
	for _, ch := range failed {
		m := egress.Plain(ch.Name + ": " + ch.Message)
		if ch.Name == egress.CheckSubnet && facts.Subnet != nil && !facts.Subnet.Exists && !req.SubnetGiven {
			m = egress.Concat(m, egress.Plain(" (with --network alone, Cloud Run uses the subnetwork named like the network: its same-name rule); give --subnet"),
				e.subnetCandidates(ctx, ref, target))
		} else if ch.Hint != "" {
			m = egress.Concat(m, egress.Plain(" ("), egress.Message{Text: ch.Hint, Actions: ch.HintActions}, egress.Plain(")"))
		}
		msgs = append(msgs, m)
	}
	return exitcode.Wrap(exitcode.Preflight, egress.WithAdvice(fmt.Errorf("%s was not changed", ref), egress.Concat(egress.Plain(": "), join(msgs, "; "))))
}

// subnetCandidates names the subnetworks of target's network in the workload's region that
// Direct VPC egress can use, for a hint: " (candidates: a (10.0.0.0/24), ...)", or "".
func (e *Engine) subnetCandidates(ctx context.Context, ref egress.WorkloadRef, target egress.VPC) egress.Message {
	nref, err := egress.ParseNetworkRef(target.Network, ref.Project)
	if err != nil {
		return egress.Message{}
	}
	subs, err := e.Read.ListSubnets(ctx, nref.Project, ref.Region)
	if err != nil {
		return egress.Message{}
	}
	var names []string
	for _, s := range subs {
		if s.NetworkPath == nref.Path() && s.DirectVPCEligible && (s.Purpose == "" || s.Purpose == "PRIVATE") {
			names = append(names, fmt.Sprintf("%s (%s)", s.Name, s.IPCIDRRange))
		}
	}
	if len(names) == 0 {
		return egress.Plain(fmt.Sprintf(": network %s has no subnetwork in %s that Direct VPC egress can use; create one with 'runnet subnet create NAME --network %s --range auto'", nref.Name, ref.Region, nref.Name))
	}
	return egress.Plain(" (candidates: " + strings.Join(names, ", ") + ")")
}

// checkTraffic refuses, before anything changes, a change whose new revision would get none
// of the traffic (instances) because it is pinned to named revisions, unless MoveTraffic or
// NoTraffic says what to do.
func checkTraffic(req AttachRequest, w *cloud.Workload, off []egress.ServingRevision) error {
	ref := req.Workload
	if req.NoTraffic && w.LatestReady == "" {
		return exitcode.Errorf(exitcode.Preflight, "--no-traffic: %s has no ready revision to keep the traffic on; %s was not changed", ref, ref)
	}
	if ref.Kind == egress.KindJob || req.MoveTraffic || req.NoTraffic || egress.LatestShare(w.Traffic) > 0 || len(off) == 0 {
		return nil // the new revision gets its share, or what keeps the traffic has the settings already
	}
	return exitcode.Errorf(exitcode.Preflight,
		"%s was not changed: its %s is pinned (%s), so the new revision would get 0%% of the %s (\"serving 0 percent of traffic\") while %s kept %s; "+
			"pass --move-traffic to move that %s to the new revision once it is ready, in %s place, or --no-traffic to deploy it with 0%% anyway",
		ref, ref.Kind.SplitNoun(), egress.DescribeTraffic(w.Traffic), ref.Kind.ShareNoun(), DescribeRevisions(off), OldSettings(off), ref.Kind.ShareNoun(), itsOrTheir(len(off)))
}

// DescribeRevisions names revisions with their shares: "revision X (100%)".
func DescribeRevisions(rs []egress.ServingRevision) string {
	if len(rs) == 0 {
		return "the pinned revisions"
	}
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s (%d%%)", r.Name, r.Percent))
	}
	if len(parts) == 1 {
		return "revision " + parts[0]
	}
	return "revisions " + strings.Join(parts, ", ")
}

// OldSettings says what revisions serve with: "its connector X (...)", or "their settings".
func OldSettings(rs []egress.ServingRevision) string {
	if len(rs) == 1 {
		return "its " + rs[0].VPC.Describe()
	}
	return "their settings"
}

func itsOrTheir(n int) string {
	if n == 1 {
		return "its"
	}
	return "their"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// confirmQuestion returns the question to ask before changing cur to target, or "" when the
// change needs no confirmation: dropping VPC access always does, and so does any change
// that sends traffic now routed through the VPC (egress all-traffic) to the public internet.
func confirmQuestion(ref egress.WorkloadRef, cur, target egress.VPC) string {
	what := fmt.Sprintf("%s %s", ref.Kind.Noun(), ref.Name)
	allTraffic := cur.Mode() != egress.ModeNone && cur.Egress.IsAllTraffic()
	switch {
	case target.Mode() == egress.ModeNone && allTraffic:
		return fmt.Sprintf("Detach %s from its VPC (%s)? Its egress is all-traffic: ALL of its outbound traffic, which now goes through the VPC network (its Cloud NAT, static addresses and firewall rules), will go straight to the public internet, and it will lose access to private addresses in the VPC", what, cur.Details())
	case target.Mode() == egress.ModeNone:
		return fmt.Sprintf("Detach %s from its VPC (%s)? It will lose access to private addresses in the VPC network", what, cur.Details())
	case allTraffic && !target.Egress.IsAllTraffic():
		return fmt.Sprintf("Change the egress of %s from all-traffic to %s? Its traffic to public addresses will then go straight to the public internet instead of through the VPC network (its Cloud NAT, static addresses and firewall rules)", what, target.Egress)
	}
	return ""
}

// ConfirmQuestion is the question an attach asks before changing cur to target ("" when it
// needs none).
func ConfirmQuestion(ref egress.WorkloadRef, cur, target egress.VPC) string {
	return confirmQuestion(ref, cur, target)
}

// moveOnly handles a workload whose template and latest revision have the target already,
// while the traffic is pinned to revisions with other settings: MoveTraffic moves it to the
// latest revision (nothing is deployed); otherwise nothing changes and the exit status is 3.
func (e *Engine) moveOnly(ctx context.Context, req AttachRequest, res *AttachResult) (*AttachResult, error) {
	ref, w, target := req.Workload, res.Workload, res.Target
	off := res.Serving.Off(target)
	what := fmt.Sprintf("%s %s", ref.Kind.Noun(), ref.Name)
	if !req.MoveTraffic {
		return nil, exitcode.Errorf(exitcode.Preflight,
			"%s was not changed: its template and its latest revision %s have %s already, but that revision is serving 0 percent of %s: %s kept %s; pass --move-traffic to move it to %s (or 'gcloud run services update-traffic %s --to-latest')",
			what, w.LatestReady, target.Describe(), ref.Kind.ShareNoun(), DescribeRevisions(off), OldSettings(off), w.LatestReady, ref.Name)
	}
	moved, err := e.move(ctx, w, off, w.LatestReady)
	if err != nil {
		return nil, err
	}
	after, _ := e.Read.ServingState(ctx, moved)
	e.info(egress.Plain(fmt.Sprintf("Moved the %s of %s to revision %s, which has %s.", ref.Kind.ShareNoun(), DescribeRevisions(off), w.LatestReady, target.Describe())))
	res.Workload, res.Serving, res.Moved = moved, after, true
	return res, nil
}

// move gives the share of the revisions off to into, in their place in the split (tags kept),
// and waits until the traffic is routed.
func (e *Engine) move(ctx context.Context, w *cloud.Workload, off []egress.ServingRevision, into string) (*cloud.Workload, error) {
	share := w.Ref.Kind.ShareNoun()
	var from []string
	for _, r := range off {
		from = append(from, r.Name)
		if r.SameConfig != nil && !*r.SameConfig {
			e.warn(egress.Plain(fmt.Sprintf("revision %s ran another configuration than the template (its image, environment or resources differ); its %s now goes to revision %s, which runs the template's", r.Name, share, into)))
		}
	}
	tr := egress.MoveTraffic(w.Traffic, from, into)
	e.progress(egress.WorkloadRef{}, egress.Plain(fmt.Sprintf("Moving the %s of %s to revision %s...", share, strings.Join(from, ", "), into)))
	snap, err := e.Platform.Update(ctx, cloud.Snapshot(w), egress.Update{Traffic: tr})
	if err != nil {
		return nil, err
	}
	res, ok := snap.Handle.(*cloud.Workload)
	if !ok {
		return e.Read.GetWorkload(ctx, w.Ref)
	}
	return res, nil
}

// restore puts the template's previous VPC access back after a rollout that failed, so that
// the next deploy does not inherit settings that cannot serve. The traffic never moved.
func (e *Engine) restore(ctx context.Context, ref egress.WorkloadRef, before *cloud.Workload, re *cloud.RolloutError, cause error) error {
	putBack := egress.Action{Kind: egress.ActionRestoreVPC, Workload: ref, VPC: before.VPC, Where: true}
	fresh := re.Workload
	if fresh == nil {
		var err error
		if fresh, err = e.Read.GetWorkload(ctx, ref); err != nil {
			return exitcode.Wrap(exitcode.Failure, egress.WithAdvice(fmt.Errorf("%v\nThe template could not be read to put its previous VPC access back (%v)", cause, err),
				egress.Say("; put it back with: ", putBack)))
		}
	}
	if same, err := fresh.VPC.Equivalent(before.VPC, ref.Project, ref.Region); err == nil && same {
		return cause // someone put it back already
	}
	e.info(egress.Plain(fmt.Sprintf("The new settings cannot serve; putting back %s in the template...", before.VPC.Describe())))
	snap, err := e.Platform.Update(ctx, cloud.Snapshot(fresh), egress.Update{VPC: &before.VPC})
	if err != nil {
		return exitcode.Wrap(exitcode.Failure, egress.WithAdvice(fmt.Errorf("%v\nThe template's previous VPC access could not be put back (%v): the template asks for settings that cannot serve, which the next deploy inherits", cause, err),
			egress.Say("; put it back with: ", putBack)))
	}
	rev := ""
	if snap.LatestReady != "" && ref.Kind != egress.KindJob {
		rev = fmt.Sprintf(" (revision %s)", snap.LatestReady)
	}
	return exitcode.Wrap(exitcode.RolledBack, fmt.Errorf("%w\nThe template's previous VPC access, %s, was put back%s: %s was not changed", cause, before.VPC.Describe(), rev, ref))
}
