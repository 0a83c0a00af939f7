package world

import (
	"maps"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
)

// The metrics timeline: what each revision serves and what each connector carries, as
// piecewise-constant rates. A segment starts whenever that changes (load, traffic split,
// dependencies, destinations, firewall, routes, NAT, instances...), so the Cloud Monitoring
// API can integrate request counts and bytes over any interval exactly, with no sampling.

// Bytes a request moves per dependency call it makes (the emulator's model): what a connector
// forwards counts toward its sent_bytes_count and received_bytes_count.
const (
	RequestBytesSent     = 1024
	RequestBytesReceived = 4096
)

// retention is how long the timeline keeps segments: Cloud Monitoring keeps Google Cloud
// metrics for 6 weeks (Monitoring docs, "Quotas and limits": data retention).
const retention = 6 * 7 * 24 * time.Hour

// Segment is the rates in force from Start until the next segment.
type Segment struct {
	Start      time.Time                   `json:"start"`
	Revisions  map[string]*RevisionSample  `json:"revisions,omitempty"`
	Connectors map[string]*ConnectorSample `json:"connectors,omitempty"`
	// Instances is how many instances each revision runs.
	Instances map[string]int `json:"instances,omitempty"`
}

// RevisionSample is what a revision serves: requests per second, the share that fails (5xx)
// because a dependency is out of reach, and how long requests take.
type RevisionSample struct {
	RPS           float64 `json:"rps"`
	FailRatio     float64 `json:"failRatio,omitempty"`
	LatencyMs     float64 `json:"latencyMs"`
	FailLatencyMs float64 `json:"failLatencyMs"`
}

// ConnectorSample is a connector's instances and the bytes per second it forwards.
type ConnectorSample struct {
	Instances   int     `json:"instances"`
	SentBps     float64 `json:"sentBps,omitempty"`
	ReceivedBps float64 `json:"receivedBps,omitempty"`
}

// EnableMetrics makes the world keep its metrics timeline from now on: after every change of
// state, what the workloads serve is computed again and a segment starts if it changed. Call
// it once per world.
func (w *World) EnableMetrics() {
	w.Lock()
	defer w.Unlock()
	w.AddObserverLocked(func() { w.RecordSegmentLocked() })
	w.RecordSegmentLocked()
}

// RecordSegmentLocked starts a new segment now if the rates changed since the last one.
func (w *World) RecordSegmentLocked() {
	now := w.Now()
	seg := w.sampleLocked()
	seg.Start = now
	tl := w.S.Net.Timeline
	if n := len(tl); n > 0 {
		last := tl[n-1]
		if sameRates(last, seg) {
			return
		}
		if !now.After(last.Start) {
			tl = tl[:n-1] // a change at the same instant replaces the segment
		}
	}
	// Drop segments that ended before the retention window.
	cut := 0
	for cut+1 < len(tl) && tl[cut+1].Start.Before(now.Add(-retention)) {
		cut++
	}
	w.S.Net.Timeline = append(tl[cut:], seg)
}

// BackfillLocked makes the metrics timeline say that the world has served as it does now for
// the last d: the segments that started within d are replaced by one, the rates in force now,
// starting d ago. A fixture's history (a service that has had its load for an hour) without
// waiting that hour.
func (w *World) BackfillLocked(d time.Duration) {
	if d <= 0 {
		return
	}
	now := w.Now()
	seg := w.sampleLocked()
	seg.Start = now.Add(-d)
	tl := w.S.Net.Timeline
	keep := 0
	for keep < len(tl) && tl[keep].Start.Before(seg.Start) {
		keep++
	}
	w.S.Net.Timeline = append(tl[:keep:keep], seg)
}

// sameRates reports whether two segments have the same rates. An empty map and a missing one
// (as a segment reads back from a saved state) are the same, so loading a state and looking
// at it starts no segment.
func sameRates(a, b *Segment) bool {
	return maps.EqualFunc(a.Revisions, b.Revisions, func(x, y *RevisionSample) bool { return *x == *y }) &&
		maps.EqualFunc(a.Connectors, b.Connectors, func(x, y *ConnectorSample) bool { return *x == *y }) &&
		maps.Equal(a.Instances, b.Instances)
}

// ServingSharesLocked returns the share (percent) of a service's requests each of its
// revisions (by full name) receives, from the traffic in force (traffic statuses).
func (w *World) ServingSharesLocked(service string) map[string]float64 {
	s, ok := w.S.Services[service]
	if !ok {
		return nil
	}
	out := map[string]float64{}
	for _, t := range s.GetTrafficStatuses() {
		rev := t.GetRevision()
		if rev == "" {
			rev = lastSeg(s.GetLatestReadyRevision())
		}
		if rev == "" || t.GetPercent() <= 0 {
			continue
		}
		full := service + "/revisions/" + rev
		if _, ok := w.S.Revisions[full]; ok {
			out[full] += float64(t.GetPercent())
		}
	}
	return out
}

// DependencyOutcome is how one of a service's dependencies fares from a revision.
type DependencyOutcome struct {
	Destination string  `json:"destination"`
	Share       float64 `json:"share"`
	Reach       Reach   `json:"reach"`
}

// RevisionDependenciesLocked judges each dependency of the revision's service from the
// revision's egress, and returns the share of requests that fail.
func (w *World) RevisionDependenciesLocked(revision string) ([]DependencyOutcome, float64) {
	r, ok := w.S.Revisions[revision]
	if !ok {
		return nil, 0
	}
	e := w.EgressOfLocked(revision, r.GetVpcAccess())
	warmUntil := w.warmupUntilLocked(r, e) // warmup.go
	warming := w.Now().Before(warmUntil)
	if warming {
		w.wakeAtWarmupEndLocked(warmUntil)
	}
	okShare := 1.0
	var out []DependencyOutcome
	for _, dep := range w.S.Net.Dependencies[r.GetService()] {
		share := dep.Share
		if share <= 0 || share > 1 {
			share = 1
		}
		d, found := w.S.Net.Destinations[dep.Destination]
		var reach Reach
		if !found {
			reach = Reach{Reason: "destination " + dep.Destination + " is not declared"}
		} else {
			reach = w.ReachLocked(e, d)
			if warming {
				reach = inWarmup(reach)
			}
		}
		if !reach.OK {
			okShare *= 1 - share
		}
		out = append(out, DependencyOutcome{Destination: dep.Destination, Share: share, Reach: reach})
	}
	return out, 1 - okShare
}

func (w *World) sampleLocked() *Segment {
	seg := &Segment{Revisions: map[string]*RevisionSample{}, Connectors: map[string]*ConnectorSample{}, Instances: map[string]int{}}
	for name, n := range w.S.Instances {
		if _, ok := w.S.Revisions[name]; ok && n > 0 {
			seg.Instances[name] = n
		}
	}
	for _, name := range SortedKeys(w.S.Connectors) {
		c := w.S.Connectors[name]
		if c.GetState() != vpcaccesspb.Connector_READY {
			continue
		}
		n, ok := w.S.ConnectorInstances[name]
		if !ok {
			n = int(c.GetMinInstances())
		}
		seg.Connectors[name] = &ConnectorSample{Instances: n}
	}
	for _, svc := range SortedKeys(w.S.Net.Load) {
		load := w.S.Net.Load[svc]
		if load == nil || load.RPS <= 0 {
			continue
		}
		lat, failLat := load.LatencyMs, load.FailLatencyMs
		if lat <= 0 {
			lat = DefaultLatencyMs
		}
		if failLat <= 0 {
			failLat = DefaultFailLatencyMs
		}
		shares := w.ServingSharesLocked(svc)
		revs := make([]string, 0, len(shares))
		for r := range shares {
			revs = append(revs, r)
		}
		sort.Strings(revs)
		for _, rev := range revs {
			rps := load.RPS * shares[rev] / 100
			deps, fail := w.RevisionDependenciesLocked(rev)
			seg.Revisions[rev] = &RevisionSample{RPS: rps, FailRatio: fail, LatencyMs: lat, FailLatencyMs: failLat}
			e := w.EgressOfLocked(rev, w.S.Revisions[rev].GetVpcAccess())
			if cs := seg.Connectors[e.Connector]; e.Kind == "connector" && cs != nil {
				for _, d := range deps {
					if d.Reach.OK && d.Reach.Via != "cloud-run-egress" {
						cs.SentBps += rps * d.Share * RequestBytesSent
						cs.ReceivedBps += rps * d.Share * RequestBytesReceived
					}
				}
			}
		}
	}
	return seg
}

// Integrate returns the integral over [from, to) of f, a rate per second that is constant over
// each segment of the timeline (zero before the first one).
func (n *NetState) Integrate(from, to time.Time, f func(*Segment) float64) float64 {
	total := 0.0
	for i, seg := range n.Timeline {
		start := seg.Start
		end := to
		if i+1 < len(n.Timeline) {
			end = n.Timeline[i+1].Start
		}
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		if end.After(start) {
			total += f(seg) * end.Sub(start).Seconds()
		}
	}
	return total
}

// SegmentAt returns the segment in force at t, or nil.
func (n *NetState) SegmentAt(t time.Time) *Segment {
	var out *Segment
	for _, seg := range n.Timeline {
		if seg.Start.After(t) {
			break
		}
		out = seg
	}
	return out
}

// KeysIn returns the revisions and connectors that have a sample in a segment
// overlapping [from, to), by name.
func (n *NetState) KeysIn(from, to time.Time) (revisions, connectors []string) {
	rs, cs := map[string]bool{}, map[string]bool{}
	for i, seg := range n.Timeline {
		end := to
		if i+1 < len(n.Timeline) {
			end = n.Timeline[i+1].Start
		}
		if !end.After(from) || !seg.Start.Before(to) {
			continue
		}
		for k := range seg.Revisions {
			rs[k] = true
		}
		for k := range seg.Instances {
			rs[k] = true
		}
		for k := range seg.Connectors {
			cs[k] = true
		}
	}
	return SortedKeys(rs), SortedKeys(cs)
}

// RunNameParts splits projects/P/locations/L/services/S/revisions/R into its ids.
func RunNameParts(name string) (project, location, service, revision string) {
	p := strings.Split(name, "/")
	if len(p) == 8 {
		return p[1], p[3], p[5], p[7]
	}
	if len(p) == 6 {
		return p[1], p[3], p[5], ""
	}
	return "", "", "", ""
}
