package runapi

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
)

// split is one traffic target of a service or one instance split of a worker pool: the two are
// the same idea (a share of the workload for the latest Ready revision or for a named one).
type split struct {
	latest   bool
	revision string // short revision name, for named targets
	percent  int32
	tag      string // services only
}

// Traffic messages. "Traffic targets sum to N, want 100" is Knative's (and the v1 API's)
// wording; the others follow the same "Violation in FIELD: ..." shape.
const (
	routeMissing = "Revision '%s' does not exist or is deleted. Update all traffic to route to currently available revisions."
	notReady     = "Revision '%s' is not ready and cannot serve traffic. %s"
)

// normalizeTraffic fills what Cloud Run fills: no traffic means 100% to the latest revision;
// a target without a type is a named revision when it names one, else the latest.
func normalizeTraffic(ts []*runpb.TrafficTarget) []*runpb.TrafficTarget {
	if len(ts) == 0 {
		return []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100}}
	}
	for _, t := range ts {
		if t.Type == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED {
			t.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
			if t.Revision != "" {
				t.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
			}
		}
	}
	return ts
}

func trafficSplits(ts []*runpb.TrafficTarget) []split {
	out := make([]split, 0, len(ts))
	for _, t := range ts {
		out = append(out, split{
			latest:   t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
			revision: t.GetRevision(), percent: t.GetPercent(), tag: t.GetTag(),
		})
	}
	return out
}

func trafficStatusSplits(ts []*runpb.TrafficTargetStatus) []split {
	out := make([]split, 0, len(ts))
	for _, t := range ts {
		out = append(out, split{
			latest:   t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
			revision: t.GetRevision(), percent: t.GetPercent(), tag: t.GetTag(),
		})
	}
	return out
}

// validateSplits checks traffic targets (or instance splits) as the API does when the request
// arrives. field is the path of the list in the request; tags says whether targets may carry
// tags (services) and latestName/revisionName are the type names used in messages.
func validateSplits(field string, ss []split, tags bool, latestName, revisionName string) error {
	sum, latest := int32(0), 0
	seenTag := map[string]bool{}
	for i, s := range ss {
		f := fmt.Sprintf("%s[%d]", field, i)
		if s.percent < 0 || s.percent > 100 {
			return errViolation(f+".percent", fmt.Sprintf("percent must be between 0 and 100, got %d.", s.percent))
		}
		if s.latest {
			latest++
			if s.revision != "" {
				return errViolation(f+".revision", "must not be set when type is "+latestName+".")
			}
		} else if s.revision == "" {
			return errViolation(f+".revision", "required when type is "+revisionName+".")
		} else if len(s.revision) > maxRevisionNameLen || !validLabel(s.revision) {
			return errViolation(f+".revision", fmt.Sprintf("%q is not a valid revision name.", s.revision))
		}
		if s.tag != "" {
			if !tags {
				return errViolation(f+".tag", "tags are not supported here.")
			}
			if !validLabel(s.tag) {
				return errViolation(f+".tag", fmt.Sprintf("tag %q must be 1 to 63 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen (RFC 1035).", s.tag))
			}
			if seenTag[s.tag] {
				return errViolation(f+".tag", fmt.Sprintf("tag %q is used by more than one traffic target.", s.tag))
			}
			seenTag[s.tag] = true
		}
		sum += s.percent
	}
	if latest > 1 {
		return errViolation(field, "at most one target may be of type "+latestName+".")
	}
	if sum != 100 {
		return errViolation(field, fmt.Sprintf("Traffic targets sum to %d, want 100.", sum))
	}
	return nil
}

// routeOutcome is what the controller makes of a traffic spec given the revisions' states.
type routeOutcome struct {
	state runpb.Condition_State // SUCCEEDED, PENDING or FAILED
	msg   string
	code  codes.Code // of the operation error, when FAILED
	// serving maps each revision's short name to the share it gets (when SUCCEEDED).
	serving map[string]int32
}

// resolveRoutes resolves spec against the revisions (by short name); latestReady is the short
// name of the latest Ready revision ("" when there is none) and latestCreated the latest one.
func resolveRoutes(spec []split, revs map[string]*runpb.Revision, latestReady string, latestCreated *runpb.Revision) routeOutcome {
	out := routeOutcome{state: runpb.Condition_CONDITION_SUCCEEDED, serving: map[string]int32{}}
	pending := false
	for _, s := range spec {
		name := s.revision
		if s.latest {
			if latestReady == "" {
				if latestCreated != nil && revisionState(latestCreated) == runpb.Condition_CONDITION_FAILED {
					return routeOutcome{state: runpb.Condition_CONDITION_FAILED, code: codes.FailedPrecondition,
						msg: fmt.Sprintf(notReady, lastSegment(latestCreated.Name), conditionMessage(latestCreated.Conditions, condReady))}
				}
				pending = true
				continue
			}
			name = latestReady
		}
		r, ok := revs[name]
		if !ok {
			return routeOutcome{state: runpb.Condition_CONDITION_FAILED, code: codes.Internal, msg: fmt.Sprintf(routeMissing, name)}
		}
		switch revisionState(r) {
		case runpb.Condition_CONDITION_FAILED:
			return routeOutcome{state: runpb.Condition_CONDITION_FAILED, code: codes.FailedPrecondition,
				msg: fmt.Sprintf(notReady, name, conditionMessage(r.Conditions, condReady))}
		case runpb.Condition_CONDITION_SUCCEEDED:
			out.serving[name] += s.percent
		default:
			pending = true
		}
	}
	if pending {
		return routeOutcome{state: runpb.Condition_CONDITION_PENDING}
	}
	return out
}

// currentServing resolves the routing in force (the statuses) to revision shares.
func currentServing(statuses []split, latestReady string) map[string]int32 {
	out := map[string]int32{}
	for _, s := range statuses {
		name := s.revision
		if s.latest {
			name = latestReady
		}
		if name != "" {
			out[name] += s.percent
		}
	}
	return out
}
