package emulator

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
)

// Observation for tests of programs that use the emulator: see every call as it arrives, and
// check an invariant after every change of state.

// OnCall makes fn run at every API call the emulator receives (after its latency, before it
// is served), with the method as Calls names it; nil removes it. fn runs on the serving
// goroutine and must not call back into the emulator.
func (e *Emulator) OnCall(fn func(method string)) { e.w.SetCallHook(fn) }

// ServingViolation is a moment when a service (worker pool) sent a share of its traffic (its
// instances) to a revision that was not Ready.
type ServingViolation struct {
	At       time.Time `json:"at"`
	Workload string    `json:"workload"`
	Revision string    `json:"revision"`
	Percent  int32     `json:"percent"`
	// State is the revision's Ready condition state, or "missing".
	State string `json:"state"`
}

func (v ServingViolation) String() string {
	return fmt.Sprintf("%s: %s sent %d%% to revision %s (%s)", v.At.Format(time.RFC3339Nano), v.Workload, v.Percent, v.Revision, v.State)
}

// WatchServing checks, after every change of state until stop is called, that every service
// and worker pool sends traffic (instances) only to Ready revisions: each traffic status (instance
// split status) with a share, "latest" resolved to the latest ready revision. stop returns what
// it found and how many changes it checked.
func (e *Emulator) WatchServing() (stop func() (violations []ServingViolation, checks int)) {
	var out []ServingViolation
	n := 0
	seen := map[string]bool{}
	check := func() {
		n++
		now := e.w.Now()
		report := func(workload, rev string, pct int32) {
			state := "missing"
			if r, ok := e.w.S.Revisions[rev]; ok {
				state = "unknown"
				for _, c := range r.GetConditions() {
					if c.GetType() == "Ready" {
						state = c.GetState().String()
					}
				}
				if state == runpb.Condition_CONDITION_SUCCEEDED.String() {
					return
				}
			}
			key := workload + "|" + rev + "|" + state
			if seen[key] {
				return
			}
			seen[key] = true
			out = append(out, ServingViolation{At: now, Workload: workload, Revision: lastPart(rev), Percent: pct, State: state})
		}
		for name, s := range e.w.S.Services {
			for _, t := range s.GetTrafficStatuses() {
				if t.GetPercent() == 0 {
					continue
				}
				rev := s.GetLatestReadyRevision()
				if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION {
					rev = name + "/revisions/" + t.GetRevision()
				}
				report(name, rev, t.GetPercent())
			}
		}
		for name, p := range e.w.S.WorkerPools {
			for _, t := range p.GetInstanceSplitStatuses() {
				if t.GetPercent() == 0 {
					continue
				}
				rev := p.GetLatestReadyRevision()
				if t.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION {
					rev = name + "/revisions/" + t.GetRevision()
				}
				report(name, rev, t.GetPercent())
			}
		}
	}
	e.w.Lock()
	remove := e.w.AddObserverLocked(check)
	check()
	e.w.Unlock()
	return func() ([]ServingViolation, int) {
		e.w.Lock()
		defer e.w.Unlock()
		remove()
		sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
		return out, n
	}
}

func lastPart(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}
