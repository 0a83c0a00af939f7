package world

import (
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
)

// The Direct VPC start-up connection delay. Cloud Run docs ("Direct VPC egress with a VPC
// network", Limitations): "You might experience connection establishment delays of a minute or
// more on instance startup when using Direct VPC egress. We recommend configuring a HTTP
// startup probe that tests a connection to an egress destination used by the application
// before the application accepts requests."
//
// Off by default (NetState.DirectVPCWarmup is zero). When set, a Direct VPC revision whose
// first container has no HTTP startup probe cannot reach destinations through the VPC for that
// long after it became Ready: those requests fail. With an HTTP startup probe the instance
// takes traffic only once egress works, so there is no such window. The window is counted from
// the revision's readiness (instances added later by scaling are not modelled apart).

// warmupUntilLocked returns when a revision's start-up delay ends, or the zero time when it
// has none.
func (w *World) warmupUntilLocked(r *runpb.Revision, e Egress) time.Time {
	d := w.S.Net.DirectVPCWarmup
	if d <= 0 || e.Kind != "direct" {
		return time.Time{}
	}
	if cs := r.GetContainers(); len(cs) > 0 && cs[0].GetStartupProbe().GetHttpGet() != nil {
		return time.Time{}
	}
	for _, c := range r.GetConditions() {
		if c.GetType() == "Ready" && c.GetState() == runpb.Condition_CONDITION_SUCCEEDED && c.GetLastTransitionTime() != nil {
			return c.GetLastTransitionTime().AsTime().Add(d)
		}
	}
	return time.Time{}
}

// inWarmup applies the start-up delay to a dependency's outcome: traffic through the VPC does
// not connect yet.
func inWarmup(reach Reach) Reach {
	if !reach.OK || reach.Via == "cloud-run-egress" {
		return reach
	}
	reach.OK = false
	reach.Reason = "connection not established yet: Direct VPC egress connections can take a minute or more at instance start-up, and the container has no HTTP startup probe"
	return reach
}

// wakeAtWarmupEndLocked makes the world look again when a start-up delay ends, so the metrics
// timeline starts a segment then.
func (w *World) wakeAtWarmupEndLocked(until time.Time) {
	now := w.Now()
	if until.IsZero() || !until.After(now) || w.S.Net.wakeAt.Equal(until) {
		return
	}
	w.S.Net.wakeAt = until
	w.AfterLocked(until.Sub(now), func() { w.MarkChangedLocked() })
}
