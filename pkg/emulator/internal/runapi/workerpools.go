package runapi

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// defaultWorkerPoolInstances is how many instances a worker pool runs when its scaling sets
// none (Cloud Run docs, "Worker pools": manual scaling, one instance unless configured).
const defaultWorkerPoolInstances = 1

type workerPoolsServer struct {
	runpb.UnimplementedWorkerPoolsServer
	w   *world.World
	iam *iamStore
}

// workerPoolOwner is a worker pool seen as an owner of revisions; its instance splits share
// manual_instance_count between revisions.
type workerPoolOwner struct {
	l loc
	p *runpb.WorkerPool
}

func (o *workerPoolOwner) msg() proto.Message     { return o.p }
func (o *workerPoolOwner) kind() string           { return kindWorkerPool }
func (o *workerPoolOwner) where() loc             { return o.l }
func (o *workerPoolOwner) id() string             { return lastSegment(o.p.Name) }
func (o *workerPoolOwner) status() statusRef      { return workerPoolStatus(o.p) }
func (o *workerPoolOwner) latestReady() *string   { return &o.p.LatestReadyRevision }
func (o *workerPoolOwner) latestCreated() *string { return &o.p.LatestCreatedRevision }

func (o *workerPoolOwner) specSplits() []split {
	out := make([]split, 0, len(o.p.InstanceSplits))
	for _, s := range o.p.InstanceSplits {
		out = append(out, split{latest: s.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, revision: s.GetRevision(), percent: s.GetPercent()})
	}
	return out
}

func (o *workerPoolOwner) statusSplits() []split {
	out := make([]split, 0, len(o.p.InstanceSplitStatuses))
	for _, s := range o.p.InstanceSplitStatuses {
		out = append(out, split{latest: s.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, revision: s.GetRevision(), percent: s.GetPercent()})
	}
	return out
}

func (o *workerPoolOwner) setStatusSplits(ss []split) {
	out := make([]*runpb.InstanceSplitStatus, 0, len(ss))
	for _, s := range ss {
		t := &runpb.InstanceSplitStatus{Percent: s.percent, Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST}
		if !s.latest {
			t.Type, t.Revision = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, s.revision
		}
		out = append(out, t)
	}
	o.p.InstanceSplitStatuses = out
}

func (o *workerPoolOwner) manual() int {
	if sc := o.p.GetScaling(); sc != nil && sc.ManualInstanceCount != nil {
		return int(*sc.ManualInstanceCount)
	}
	return defaultWorkerPoolInstances
}

// A worker pool revision runs its share of manual_instance_count, rounded up.
func (o *workerPoolOwner) servingInstances(_ *runpb.Revision, percent int32) int {
	return (o.manual()*int(percent) + 99) / 100
}

func (o *workerPoolOwner) startupInstances(*runpb.Revision) int { return max(1, o.manual()) }

func normalizeSplits(ss []*runpb.InstanceSplit) []*runpb.InstanceSplit {
	if len(ss) == 0 {
		return []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 100}}
	}
	for _, s := range ss {
		if s.Type == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_UNSPECIFIED {
			s.Type = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
			if s.Revision != "" {
				s.Type = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION
			}
		}
	}
	return ss
}

// prepareWorkerPool validates a worker pool as request req carries it and returns a copy with
// the defaults filled; stored is the current worker pool on updates.
func prepareWorkerPool(req string, l loc, id string, in, stored *runpb.WorkerPool) (*runpb.WorkerPool, error) {
	f := req + ".worker_pool"
	t := in.GetTemplate()
	if t == nil {
		return nil, errViolation(f+".template", "required field not present.")
	}
	if err := validateContainers(f+".template.containers", t.GetContainers()); err != nil {
		return nil, err
	}
	if err := validateVPCAccess(f+".template.vpc_access", t.GetVpcAccess(), true); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		field     string
		m, stored map[string]string
	}{
		{f + ".labels", in.GetLabels(), stored.GetLabels()},
		{f + ".annotations", in.GetAnnotations(), stored.GetAnnotations()},
		{f + ".template.labels", t.GetLabels(), stored.GetTemplate().GetLabels()},
		{f + ".template.annotations", t.GetAnnotations(), stored.GetTemplate().GetAnnotations()},
	} {
		if err := checkSystemKeys(c.field, c.m, c.stored); err != nil {
			return nil, err
		}
	}
	if r := t.GetRevision(); r != "" && (!strings.HasPrefix(r, id+"-") || len(r) > maxRevisionNameLen || !validLabel(r)) {
		return nil, errViolation(f+".template.revision", revisionNameRule)
	}
	if m := in.GetScaling().GetManualInstanceCount(); m < 0 {
		return nil, errViolation(f+".scaling.manual_instance_count", fmt.Sprintf("must not be negative, got %d.", m))
	}
	out := proto.Clone(in).(*runpb.WorkerPool)
	out.InstanceSplits = normalizeSplits(out.InstanceSplits)
	o := &workerPoolOwner{l: l, p: out}
	if err := validateSplits(f+".instance_splits", o.specSplits(), false,
		runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST.String(),
		runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION.String()); err != nil {
		return nil, err
	}
	if out.LaunchStage == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		out.LaunchStage = api.LaunchStage_GA
	}
	if out.Scaling == nil {
		out.Scaling = &runpb.WorkerPoolScaling{}
	}
	if out.Scaling.ManualInstanceCount == nil {
		n := int32(defaultWorkerPoolInstances)
		out.Scaling.ManualInstanceCount = &n
	}
	tt := out.Template
	if tt.ServiceAccount == "" {
		tt.ServiceAccount = defaultServiceAccount(l.project)
	}
	tt.VpcAccess = normalizeVPCAccess(tt.VpcAccess)
	defaultContainers(tt.Containers, false)
	return out, nil
}

// workerPoolRevisionFill copies a worker pool's template into a revision.
func workerPoolRevisionFill(p *runpb.WorkerPool) func(*runpb.Revision) {
	t := proto.Clone(p.GetTemplate()).(*runpb.WorkerPoolRevisionTemplate)
	stage := p.GetLaunchStage()
	return func(r *runpb.Revision) {
		r.Labels, r.Annotations, r.LaunchStage = t.Labels, t.Annotations, stage
		r.VpcAccess, r.ServiceAccount, r.Containers, r.Volumes = t.VpcAccess, t.ServiceAccount, t.Containers, t.Volumes
		r.EncryptionKey, r.ServiceMesh = t.EncryptionKey, t.ServiceMesh
		r.EncryptionKeyRevocationAction, r.EncryptionKeyShutdownDuration = t.EncryptionKeyRevocationAction, t.EncryptionKeyShutdownDuration
		r.NodeSelector, r.GpuZonalRedundancyDisabled, r.Sandboxes = t.NodeSelector, t.GpuZonalRedundancyDisabled, t.Sandboxes
		r.Client, r.ClientVersion = t.Client, t.ClientVersion
	}
}

func newWorkerPool(w *world.World, l loc, id string, spec *runpb.WorkerPool) *runpb.WorkerPool {
	p := proto.Clone(spec).(*runpb.WorkerPool)
	copyFields(p, &runpb.WorkerPool{}, workerPoolOutputFields)
	now := stamp(w, nil)
	p.Name = l.parent() + "/workerPools/" + id
	p.Uid, p.Generation, p.CreateTime, p.UpdateTime = world.NewUUID(), 1, now, now
	p.Creator, p.LastModifier = caller, caller
	p.Etag = etagFor(p.Name, now)
	p.Reconciling = true
	p.TerminalCondition = &runpb.Condition{State: runpb.Condition_CONDITION_PENDING}
	return p
}

// createWorkerPoolLocked validates and stores a worker pool with its first, starting revision,
// and returns it with the revision's name. With validateOnly it stores nothing.
func createWorkerPoolLocked(w *world.World, req string, l loc, id string, in *runpb.WorkerPool, validateOnly bool) (*runpb.WorkerPool, string, error) {
	name := l.parent() + "/workerPools/" + id
	if _, ok := w.S.WorkerPools[name]; ok {
		return nil, "", errAlreadyExists(id)
	}
	spec, err := prepareWorkerPool(req, l, id, in, nil)
	if err != nil {
		return nil, "", err
	}
	revID, err := newRevisionIDLocked(w, name, id, spec.GetTemplate().GetRevision())
	if err != nil {
		return nil, "", err
	}
	p := newWorkerPool(w, l, id, spec)
	if validateOnly {
		return p, "", nil
	}
	w.S.WorkerPools[name] = p
	rev := newRevisionLocked(w, &workerPoolOwner{l: l, p: p}, revID, workerPoolRevisionFill(p))
	return p, rev.Name, nil
}

func (s *workerPoolsServer) CreateWorkerPool(_ context.Context, req *runpb.CreateWorkerPoolRequest) (*longrunningpb.Operation, error) {
	l, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	if !validID(req.GetWorkerPoolId()) {
		return nil, errViolation("CreateWorkerPoolRequest.worker_pool_id", idRule)
	}
	if req.GetWorkerPool() == nil {
		return nil, errViolation("CreateWorkerPoolRequest.worker_pool", "required field not present.")
	}
	s.w.Lock()
	defer s.w.Unlock()
	p, rev, err := createWorkerPoolLocked(s.w, "CreateWorkerPoolRequest", l, req.GetWorkerPoolId(), req.GetWorkerPool(), req.GetValidateOnly())
	if err != nil {
		return nil, err
	}
	return startCreation(s.w, l, p, p.Name, rev, req.GetValidateOnly()), nil
}

func (s *workerPoolsServer) GetWorkerPool(_ context.Context, req *runpb.GetWorkerPoolRequest) (*runpb.WorkerPool, error) {
	l, id, err := parseName(req.GetName(), "workerPools")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	p, ok := s.w.S.WorkerPools[req.GetName()]
	if !ok {
		return nil, errNotFound(kindWorkerPool, id, l.region, l.project)
	}
	return proto.Clone(p).(*runpb.WorkerPool), nil
}

func (s *workerPoolsServer) ListWorkerPools(_ context.Context, req *runpb.ListWorkerPoolsRequest) (*runpb.ListWorkerPoolsResponse, error) {
	l, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	var names []string
	for _, k := range world.SortedKeys(s.w.S.WorkerPools) {
		if strings.HasPrefix(k, l.parent()+"/workerPools/") {
			names = append(names, k)
		}
	}
	start, end, next, err := pageBounds(req.GetPageToken(), req.GetPageSize(), len(names))
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListWorkerPoolsResponse{NextPageToken: next}
	for _, k := range names[start:end] {
		resp.WorkerPools = append(resp.WorkerPools, proto.Clone(s.w.S.WorkerPools[k]).(*runpb.WorkerPool))
	}
	return resp, nil
}

func (s *workerPoolsServer) UpdateWorkerPool(_ context.Context, req *runpb.UpdateWorkerPoolRequest) (*longrunningpb.Operation, error) {
	in := req.GetWorkerPool()
	if in == nil {
		return nil, errViolation("UpdateWorkerPoolRequest.worker_pool", "required field not present.")
	}
	l, id, err := parseName(in.GetName(), "workerPools")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	stored, ok := s.w.S.WorkerPools[in.GetName()]
	if !ok {
		if !req.GetAllowMissing() {
			return nil, errNotFound(kindWorkerPool, id, l.region, l.project)
		}
		if !validID(id) {
			return nil, errViolation("UpdateWorkerPoolRequest.worker_pool.name", idRule)
		}
		p, rev, err := createWorkerPoolLocked(s.w, "UpdateWorkerPoolRequest", l, id, in, req.GetValidateOnly())
		if err != nil {
			return nil, err
		}
		return startCreation(s.w, l, p, p.Name, rev, req.GetValidateOnly()), nil
	}
	if err := checkEtag(in.GetEtag(), stored.GetEtag(), kindWorkerPool); err != nil {
		return nil, err
	}
	cand, err := mergeSpec(stored, in, req.GetUpdateMask(), workerPoolOutputFields, "UpdateWorkerPoolRequest.update_mask")
	if err != nil {
		return nil, err
	}
	p, err := prepareWorkerPool("UpdateWorkerPoolRequest", l, id, cand, stored)
	if err != nil {
		return nil, err
	}
	newRev := req.GetForceNewRevision() || !proto.Equal(p.GetTemplate(), stored.GetTemplate())
	revID := ""
	if newRev {
		if revID, err = newRevisionIDLocked(s.w, stored.Name, id, p.GetTemplate().GetRevision()); err != nil {
			return nil, err
		}
	}
	beginChangeLocked(s.w, workerPoolStatus(p))
	if req.GetValidateOnly() {
		return doneOp(s.w, l, p), nil
	}
	s.w.S.WorkerPools[p.Name] = p
	revName := ""
	if newRev {
		revName = newRevisionLocked(s.w, &workerPoolOwner{l: l, p: p}, revID, workerPoolRevisionFill(p)).Name
	}
	s.w.MarkChangedLocked()
	op := opFor(s.w, l, p)
	scheduleReconcileLocked(s.w, p.Name, revName)
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

func (s *workerPoolsServer) DeleteWorkerPool(_ context.Context, req *runpb.DeleteWorkerPoolRequest) (*longrunningpb.Operation, error) {
	l, id, err := parseName(req.GetName(), "workerPools")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	p, ok := s.w.S.WorkerPools[req.GetName()]
	if !ok {
		return nil, errNotFound(kindWorkerPool, id, l.region, l.project)
	}
	if err := checkEtag(req.GetEtag(), p.GetEtag(), kindWorkerPool); err != nil {
		return nil, err
	}
	gone := proto.Clone(p).(*runpb.WorkerPool)
	deletedSnapshot(s.w, workerPoolStatus(gone), &gone.DeleteTime, &gone.ExpireTime)
	if req.GetValidateOnly() {
		return doneOp(s.w, l, gone), nil
	}
	abortWaitingLocked(s.w, p, p.Name)
	for _, r := range revisionsOfLocked(s.w, p.Name) {
		stopLocked(s.w, r.Name)
		delete(s.w.S.Revisions, r.Name)
	}
	delete(s.w.S.WorkerPools, p.Name)
	s.iam.forget(p.Name)
	s.w.MarkChangedLocked()
	op := opFor(s.w, l, gone)
	finishDeletionLocked(s.w, op.Name, gone, func(m proto.Message) statusRef { return workerPoolStatus(m.(*runpb.WorkerPool)) })
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

func (s *workerPoolsServer) workerPoolExists(resource string) error {
	l, id, err := parseName(resource, "workerPools")
	if err != nil {
		return err
	}
	if _, ok := s.w.S.WorkerPools[resource]; !ok {
		return errNotFound(kindWorkerPool, id, l.region, l.project)
	}
	return nil
}

func (s *workerPoolsServer) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.getPolicy(s.w, req.GetResource(), s.workerPoolExists)
}

func (s *workerPoolsServer) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.setPolicy(s.w, req, s.workerPoolExists)
}

func (s *workerPoolsServer) TestIamPermissions(_ context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return s.iam.testPermissions(s.w, req, s.workerPoolExists)
}
