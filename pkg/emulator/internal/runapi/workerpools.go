package runapi

import (
	"context"
	"fmt"

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
	if err := checkReservedKeys(f, in, stored, t, stored.GetTemplate()); err != nil {
		return nil, err
	}
	if err := checkRevisionName(f+".template.revision", id, t.GetRevision()); err != nil {
		return nil, err
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

// workerPools is the WorkerPool kind: its template changes make revisions, its instance splits
// share manual_instance_count between them.
var workerPools = &kind[*runpb.WorkerPool]{
	name: kindWorkerPool, collection: "workerPools", message: "WorkerPool", field: "worker_pool",
	outputOnly: workerPoolOutputFields,
	store:      func(s *world.State) map[string]*runpb.WorkerPool { return s.WorkerPools },
	status:     workerPoolStatus,
	prepare:    prepareWorkerPool,
	build:      newWorkerPool,
	revisions: &revisionHooks[*runpb.WorkerPool]{
		owner:    func(l loc, p *runpb.WorkerPool) owner { return &workerPoolOwner{l: l, p: p} },
		template: func(p *runpb.WorkerPool) revisionTemplate { return p.GetTemplate() },
		fill:     workerPoolRevisionFill,
	},
	reconcile:      scheduleReconcileLocked,
	removeChildren: removeRevisionsLocked,
}

func (s *workerPoolsServer) CreateWorkerPool(_ context.Context, req *runpb.CreateWorkerPoolRequest) (*longrunningpb.Operation, error) {
	return workerPools.create(s.w, req.GetParent(), req.GetWorkerPoolId(), req.GetWorkerPool(), req.GetValidateOnly())
}

func (s *workerPoolsServer) GetWorkerPool(_ context.Context, req *runpb.GetWorkerPoolRequest) (*runpb.WorkerPool, error) {
	return workerPools.get(s.w, req.GetName())
}

func (s *workerPoolsServer) ListWorkerPools(_ context.Context, req *runpb.ListWorkerPoolsRequest) (*runpb.ListWorkerPoolsResponse, error) {
	page, next, err := workerPools.list(s.w, req)
	if err != nil {
		return nil, err
	}
	return &runpb.ListWorkerPoolsResponse{WorkerPools: page, NextPageToken: next}, nil
}

func (s *workerPoolsServer) UpdateWorkerPool(_ context.Context, req *runpb.UpdateWorkerPoolRequest) (*longrunningpb.Operation, error) {
	return workerPools.update(s.w, change[*runpb.WorkerPool]{
		in: req.GetWorkerPool(), mask: req.GetUpdateMask(), allowMissing: req.GetAllowMissing(),
		validateOnly: req.GetValidateOnly(), newRevision: req.GetForceNewRevision(),
	})
}

func (s *workerPoolsServer) DeleteWorkerPool(_ context.Context, req *runpb.DeleteWorkerPoolRequest) (*longrunningpb.Operation, error) {
	return workerPools.delete(s.w, s.iam, req.GetName(), req.GetEtag(), req.GetValidateOnly())
}

func (s *workerPoolsServer) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.getPolicy(ctx, s.w, req.GetResource(), workerPools)
}

func (s *workerPoolsServer) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.setPolicy(ctx, s.w, req, workerPools)
}

func (s *workerPoolsServer) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return s.iam.testPermissions(ctx, s.w, req, workerPools)
}
