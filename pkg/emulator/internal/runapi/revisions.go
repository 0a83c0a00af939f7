package runapi

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// owner is a workload that has revisions: a service or a worker pool. The revision lifecycle
// and the traffic (instance split) controller are written once against it.
type owner interface {
	msg() proto.Message // the stored resource
	kind() string       // kindService or kindWorkerPool
	where() loc
	id() string
	status() statusRef
	latestReady() *string
	latestCreated() *string
	specSplits() []split
	statusSplits() []split
	setStatusSplits([]split)
	// servingInstances is how many instances rev runs while it has share percent.
	servingInstances(rev *runpb.Revision, percent int32) int
	// startupInstances is how many instances rev starts with when it is deployed.
	startupInstances(rev *runpb.Revision) int
}

// ownerLocked finds the service or worker pool named name.
func ownerLocked(w *world.World, name string) (owner, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 {
		return nil, false
	}
	l := loc{parts[1], parts[3]}
	switch parts[4] {
	case "services":
		if s, ok := w.S.Services[name]; ok {
			return &serviceOwner{l: l, s: s}, true
		}
	case "workerPools":
		if p, ok := w.S.WorkerPools[name]; ok {
			return &workerPoolOwner{l: l, p: p}, true
		}
	}
	return nil, false
}

// revisionState is the state of a revision's Ready condition.
func revisionState(r *runpb.Revision) runpb.Condition_State {
	return conditionState(r.GetConditions(), condReady)
}

var ordinalRE = regexp.MustCompile(`-(\d{5})-[a-z0-9]{3}$`)

// revisionsOfLocked returns the revisions of the owner named ownerName, oldest first.
func revisionsOfLocked(w *world.World, ownerName string) []*runpb.Revision {
	return childrenLocked(w.S.Revisions, ownerName+"/revisions/")
}

// removeRevisionsLocked deletes the revisions of the owner named ownerName; their instances
// stop.
func removeRevisionsLocked(w *world.World, ownerName string) {
	for _, r := range revisionsOfLocked(w, ownerName) {
		stopLocked(w, r.Name)
		delete(w.S.Revisions, r.Name)
	}
}

// childrenLocked returns the resources of all whose names start with prefix, oldest first
// (then by name).
func childrenLocked[M interface {
	GetName() string
	GetCreateTime() *timestamppb.Timestamp
}](all map[string]M, prefix string) []M {
	var out []M
	for k, c := range all {
		if strings.HasPrefix(k, prefix) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GetCreateTime().AsTime(), out[j].GetCreateTime().AsTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out
}

// newRevisionIDLocked names the next revision of an owner: the requested name (which must be
// free: Cloud Run answers 409 "Revision named 'x' with different configuration already exists."
// when it is not, quoted in googleapis/google-cloud-python#14259), else OWNER-0000N-xyz with N
// counting the owner's revisions.
func newRevisionIDLocked(w *world.World, ownerName, ownerID, requested string) (string, error) {
	if requested != "" {
		if _, ok := w.S.Revisions[ownerName+"/revisions/"+requested]; ok {
			return "", status.Errorf(codes.AlreadyExists, "Revision named '%s' with different configuration already exists.", requested)
		}
		return requested, nil
	}
	revs := revisionsOfLocked(w, ownerName)
	n := len(revs)
	for _, r := range revs {
		if m := ordinalRE.FindStringSubmatch(r.Name); m != nil && strings.HasPrefix(lastSegment(r.Name), ownerID+"-") {
			if v, _ := strconv.Atoi(m[1]); v > n {
				n = v
			}
		}
	}
	for {
		id := fmt.Sprintf("%s-%05d-%s", ownerID, n+1, world.RandSuffix(revisionSuffixLen))
		if _, ok := w.S.Revisions[ownerName+"/revisions/"+id]; !ok {
			return id, nil
		}
	}
}

// newRevisionLocked stores a new, starting revision of o named id; fill copies the template's
// settings into it.
func newRevisionLocked(w *world.World, o owner, id string, fill func(*runpb.Revision)) *runpb.Revision {
	ownerName := o.status().name
	var prev *timestamppb.Timestamp
	if revs := revisionsOfLocked(w, ownerName); len(revs) > 0 {
		prev = revs[len(revs)-1].GetCreateTime()
	}
	now := stamp(w, prev)
	name := ownerName + "/revisions/" + id
	l := o.where()
	rev := &runpb.Revision{
		Name: name, Uid: world.NewUUID(), Generation: 1, CreateTime: now, UpdateTime: now,
		Service: ownerName, Creator: caller, Reconciling: true,
		Conditions: []*runpb.Condition{
			{Type: condReady, State: runpb.Condition_CONDITION_PENDING, LastTransitionTime: now},
			{Type: condContainerHealthy, State: runpb.Condition_CONDITION_PENDING, LastTransitionTime: now},
			{Type: condResourcesAvailable, State: runpb.Condition_CONDITION_PENDING, LastTransitionTime: now},
		},
		Etag: etagFor(name, now),
	}
	switch o.kind() {
	case kindService:
		rev.LogUri = logURI(l.project, "cloud_run_revision", "service_name/"+o.id()+"/revision_name/"+id)
	default:
		rev.LogUri = logURI(l.project, "cloud_run_worker_pool_revision", "worker_pool_name/"+o.id()+"/revision_name/"+id)
	}
	fill(rev)
	w.S.Revisions[name] = rev
	*o.latestCreated() = name
	w.MarkChangedLocked()
	return rev
}

// scheduleReconcileLocked schedules the controller pass that follows a change of the owner
// named ownerName: after the revision delay, revName (if any) settles (Ready or failed) and
// the owner's routing and conditions catch up.
//
// A pass scheduled for a generation that a later change has superseded settles its revision
// but leaves routing and the waiting operations to the later change's own pass, so a change
// never takes effect (or reports done) before its own revision delay.
func scheduleReconcileLocked(w *world.World, ownerName, revName string) {
	gen := int64(-1)
	if o, ok := ownerLocked(w, ownerName); ok {
		gen = *o.status().generation
	}
	w.AfterLocked(w.ConfigLocked().RevisionReady, func() {
		if revName != "" {
			settleRevisionLocked(w, revName)
		}
		if o, ok := ownerLocked(w, ownerName); ok {
			if *o.status().generation != gen {
				w.MarkChangedLocked()
				return
			}
			reconcileLocked(w, o)
		}
	})
}

// settleRevisionLocked decides whether a starting revision becomes Ready: its VPC settings
// are checked now (a connector deleted meanwhile is caught) and its first instances take
// their addresses.
func settleRevisionLocked(w *world.World, revName string) {
	rev, ok := w.S.Revisions[revName]
	if !ok || revisionState(rev) != runpb.Condition_CONDITION_PENDING {
		return
	}
	o, ok := ownerLocked(w, rev.Service)
	if !ok {
		return
	}
	n := o.startupInstances(rev)
	t, fail := checkVPCLocked(w, o.where(), rev.GetVpcAccess())
	if fail == nil && t != nil {
		fail = directQuotaLocked(w, o.where(), rev) // quota.go
	}
	if fail == nil && t != nil {
		fail = holdLocked(w, t, revName, n)
	}
	if fail != nil {
		failRevisionLocked(w, rev, fail)
		return
	}
	readyRevisionLocked(w, rev)
	w.S.Instances[revName] = n
}

func readyRevisionLocked(w *world.World, rev *runpb.Revision) {
	for _, typ := range []string{condReady, condContainerHealthy, condResourcesAvailable} {
		setCondition(w, &rev.Conditions, typ, runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED, true)
	}
	rev.Reconciling = false
	rev.ObservedGeneration = rev.Generation
	w.MarkChangedLocked()
}

func failRevisionLocked(w *world.World, rev *runpb.Revision, fail *vpcFailure) {
	setCondition(w, &rev.Conditions, condReady, runpb.Condition_CONDITION_FAILED, fail.msg, fail.reason, true)
	setCondition(w, &rev.Conditions, condResourcesAvailable, runpb.Condition_CONDITION_FAILED, fail.msg, fail.reason, true)
	rev.Reconciling = false
	rev.ObservedGeneration = rev.Generation
	w.MarkChangedLocked()
}

// reconcileLocked is the controller: it moves latest_ready_revision, routes traffic (or
// instance splits) to Ready revisions only, starts and stops instances, sets the conditions,
// and, once the current generation is settled, ends the operations waiting for it.
//
// So one UpdateService that changes the template is a whole rollout: traffic on LATEST goes
// to "the latest ready Revision" (TrafficTargetAllocationType, traffic_target.proto), and a
// revision named in template.revision that the traffic gives a share takes it once Ready; until
// then the old routing serves. When the revision fails, "traffic_statuses, observed_generation,
// and latest_ready_revision will have the state of the last serving revision" and the failure
// is in terminal_condition and conditions (Service.reconciling, google/cloud/run/v2/service.proto:
// https://github.com/googleapis/googleapis/blob/master/google/cloud/run/v2/service.proto and
// https://cloud.google.com/run/docs/reference/rpc/google.cloud.run.v2#service; traffic
// management: https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration). One
// difference is kept on purpose: observed_generation moves to the failed generation, as
// Knative's (and the v1 API's) observedGeneration does, which the existing tests pin down.
// TestOneUpdateMovesTrafficOnlyOnceReady covers both traffic forms.
func reconcileLocked(w *world.World, o owner) {
	st := o.status()
	revs := revisionsOfLocked(w, st.name)
	byShort := map[string]*runpb.Revision{}
	newestReady := ""
	for _, r := range revs {
		byShort[lastSegment(r.Name)] = r
		if revisionState(r) == runpb.Condition_CONDITION_SUCCEEDED {
			newestReady = lastSegment(r.Name)
		}
	}
	prevReady := lastSegment(*o.latestReady())
	if _, ok := byShort[prevReady]; !ok {
		prevReady = ""
	}
	prevServing := currentServing(o.statusSplits(), prevReady)
	if newestReady != "" {
		*o.latestReady() = st.name + "/revisions/" + newestReady
	}
	latest := w.S.Revisions[*o.latestCreated()]

	routes := resolveRoutes(o.specSplits(), byShort, newestReady, latest)
	routesChanged := false
	if routes.state == runpb.Condition_CONDITION_SUCCEEDED {
		if fail := applyRoutingLocked(w, o, byShort, routes.serving); fail != "" {
			routes = routeOutcome{state: runpb.Condition_CONDITION_FAILED, code: codes.FailedPrecondition, msg: fail}
		} else {
			routesChanged = !sameSplits(o.statusSplits(), o.specSplits()) || !sameShares(prevServing, routes.serving)
			o.setStatusSplits(o.specSplits())
		}
	}
	if routes.state != runpb.Condition_CONDITION_SUCCEEDED {
		// The routing in force stays; revisions outside it (a new one that started with no
		// traffic to take) stop.
		for short, r := range byShort {
			if prevServing[short] == 0 && w.S.Instances[r.Name] > 0 {
				stopLocked(w, r.Name)
			}
		}
	}

	cfgState, cfgMsg := runpb.Condition_CONDITION_SUCCEEDED, ""
	if latest != nil {
		switch revisionState(latest) {
		case runpb.Condition_CONDITION_PENDING:
			cfgState = runpb.Condition_CONDITION_PENDING
		case runpb.Condition_CONDITION_FAILED:
			cfgState = runpb.Condition_CONDITION_FAILED
			cfgMsg = fmt.Sprintf(notReady, lastSegment(latest.Name), conditionMessage(latest.Conditions, condReady))
		}
	}
	if cfgState == runpb.Condition_CONDITION_PENDING || (routes.state == runpb.Condition_CONDITION_PENDING && cfgState != runpb.Condition_CONDITION_FAILED) {
		w.MarkChangedLocked()
		return
	}
	setCondition(w, st.conditions, condRoutesReady, routes.state, routes.msg, runpb.Condition_COMMON_REASON_UNDEFINED, routesChanged)
	cfgReason := runpb.Condition_COMMON_REASON_UNDEFINED
	if cfgState == runpb.Condition_CONDITION_FAILED {
		cfgReason = runpb.Condition_REVISION_FAILED
	}
	setCondition(w, st.conditions, condConfigurationsRdy, cfgState, cfgMsg, cfgReason, false)

	var opErr *status.Status
	switch {
	case cfgState == runpb.Condition_CONDITION_FAILED:
		completeLocked(w, st, runpb.Condition_CONDITION_FAILED, cfgMsg, runpb.Condition_REVISION_FAILED)
		opErr = opError(codes.FailedPrecondition, cfgMsg)
	case routes.state == runpb.Condition_CONDITION_FAILED:
		completeLocked(w, st, runpb.Condition_CONDITION_FAILED, routes.msg, runpb.Condition_REVISION_FAILED)
		opErr = opError(routes.code, routes.msg)
	default:
		completeLocked(w, st, runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED)
	}
	res := o.msg()
	finishOpsLocked(w, waitingOpsLocked(w, res.ProtoReflect().Descriptor().FullName(), st.name), res, opErr)
	w.MarkChangedLocked()
}

// sameSplits reports whether two routings are the same.
func sameSplits(a, b []split) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameShares reports whether two resolved routings give the same revisions the same shares.
func sameShares(a, b map[string]int32) bool {
	nz := func(m map[string]int32) int {
		n := 0
		for _, v := range m {
			if v > 0 {
				n++
			}
		}
		return n
	}
	if nz(a) != nz(b) {
		return false
	}
	for k, v := range a {
		if v > 0 && b[k] != v {
			return false
		}
	}
	return true
}

// applyRoutingLocked moves instances to the new routing (next):
// revisions that gain a share start, those that keep one are resized, those that lose it stop.
// When a Direct VPC subnetwork has too few free blocks for the revisions that start, nothing
// changes and the failure message is returned.
func applyRoutingLocked(w *world.World, o owner, byShort map[string]*runpb.Revision, next map[string]int32) string {
	type change struct {
		rev *runpb.Revision
		t   *directTarget
		n   int
	}
	var changes []change
	need := map[string]int{}
	targets := map[string]*directTarget{}
	shorts := make([]string, 0, len(next))
	for short := range next {
		shorts = append(shorts, short)
	}
	sort.Strings(shorts)
	for _, short := range shorts {
		pct := next[short]
		r := byShort[short]
		if r == nil || pct <= 0 {
			continue
		}
		n := o.servingInstances(r, pct)
		running := w.S.Instances[r.Name]
		if running > 0 && (o.kind() == kindService || running == n) {
			continue // services keep however many instances run (ScaleRevisionLocked may have changed it)
		}
		t, fail := checkVPCLocked(w, o.where(), r.GetVpcAccess())
		if fail != nil {
			if running > 0 {
				continue // running instances keep going without their VPC
			}
			return fmt.Sprintf(notReady, short, fail.msg)
		}
		if t != nil {
			held := len(w.HeldBlocksLocked(t.key(), r.Name))
			if d := ipam.BlocksForInstances(n) - held; d > 0 {
				need[t.key()] += d
				targets[t.key()] = t
			}
		}
		changes = append(changes, change{r, t, n})
	}
	for key, n := range need {
		if freeBlocksLocked(w, targets[key]) < n {
			for _, c := range changes {
				if c.t != nil && c.t.key() == key {
					return fmt.Sprintf(notReady, lastSegment(c.rev.Name), insufficientIPs(c.t))
				}
			}
		}
	}
	for _, c := range changes {
		if c.t != nil {
			if fail := holdLocked(w, c.t, c.rev.Name, c.n); fail != nil {
				return fmt.Sprintf(notReady, lastSegment(c.rev.Name), fail.msg)
			}
		}
		if c.n > 0 {
			w.S.Instances[c.rev.Name] = c.n
		} else {
			delete(w.S.Instances, c.rev.Name)
		}
		w.MarkChangedLocked()
	}
	for short, r := range byShort {
		if next[short] <= 0 && w.S.Instances[r.Name] > 0 {
			stopLocked(w, r.Name)
		}
	}
	return ""
}

type revisionsServer struct {
	runpb.UnimplementedRevisionsServer
	w *world.World
}

// revisionParents are the collections revisions live under: services (what the Revisions API
// documents) and worker pools (whose revisions the emulator serves through the same API).
var revisionParents = []string{"services", "workerPools"}

func parentKind(parentName string) string {
	if strings.Contains(parentName, "/workerPools/") {
		return kindWorkerPool
	}
	return kindService
}

func (s *revisionsServer) GetRevision(_ context.Context, req *runpb.GetRevisionRequest) (*runpb.Revision, error) {
	l, _, id, err := parseChildName(req.GetName(), "revisions", revisionParents...)
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	r, ok := s.w.S.Revisions[req.GetName()]
	if !ok {
		return nil, errNotFound(kindRevision, id, l.region, l.project)
	}
	return proto.Clone(r).(*runpb.Revision), nil
}

func (s *revisionsServer) ListRevisions(_ context.Context, req *runpb.ListRevisionsRequest) (*runpb.ListRevisionsResponse, error) {
	p := strings.Split(req.GetParent(), "/")
	if len(p) != 6 || (p[4] != "services" && p[4] != "workerPools") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: want projects/PROJECT/locations/LOCATION/services/SERVICE.", req.GetParent())
	}
	l, err := parseParent(strings.Join(p[:4], "/"))
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	if _, ok := ownerLocked(s.w, req.GetParent()); !ok {
		return nil, errNotFound(parentKind(req.GetParent()), p[5], l.region, l.project)
	}
	page, next, err := newestFirst(revisionsOfLocked(s.w, req.GetParent()), req)
	if err != nil {
		return nil, err
	}
	return &runpb.ListRevisionsResponse{Revisions: page, NextPageToken: next}, nil
}

// newestFirst returns the page the request asks for of children listed newest first (children
// are oldest first), and the next page token.
func newestFirst[M proto.Message](children []M, req listRequest) ([]M, string, error) {
	start, end, next, err := pageBounds(req.GetPageToken(), req.GetPageSize(), len(children))
	if err != nil {
		return nil, "", err
	}
	var out []M
	for i := start; i < end; i++ {
		out = append(out, proto.Clone(children[len(children)-1-i]).(M))
	}
	return out, next, nil
}

// DeleteRevision deletes a revision that serves nothing: one that has a share of the traffic,
// or that the traffic configuration names, cannot go.
func (s *revisionsServer) DeleteRevision(_ context.Context, req *runpb.DeleteRevisionRequest) (*longrunningpb.Operation, error) {
	l, parentName, id, err := parseChildName(req.GetName(), "revisions", revisionParents...)
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	r, ok := s.w.S.Revisions[req.GetName()]
	if !ok {
		return nil, errNotFound(kindRevision, id, l.region, l.project)
	}
	if err := checkEtag(req.GetEtag(), r.GetEtag(), kindRevision); err != nil {
		return nil, err
	}
	if o, ok := ownerLocked(s.w, parentName); ok {
		inUse := currentServing(o.statusSplits(), lastSegment(*o.latestReady()))[id] > 0
		for _, sp := range append(o.specSplits(), o.statusSplits()...) {
			inUse = inUse || (!sp.latest && sp.revision == id)
		}
		if inUse {
			return nil, status.Errorf(codes.FailedPrecondition, "Revision '%s' cannot be deleted because it is receiving traffic or is named in the traffic configuration.", id)
		}
	}
	gone := proto.Clone(r).(*runpb.Revision)
	now := stamp(s.w, r.GetUpdateTime())
	gone.DeleteTime, gone.UpdateTime = now, now
	gone.ExpireTime = timestamppb.New(now.AsTime().Add(deleteRetention))
	gone.Etag = etagFor(gone.Name, now)
	if req.GetValidateOnly() {
		return doneOp(s.w, l, gone), nil
	}
	stopLocked(s.w, r.Name)
	delete(s.w.S.Revisions, r.Name)
	s.w.MarkChangedLocked()
	return doneOp(s.w, l, gone), nil
}
