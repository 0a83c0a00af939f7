package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file is the one write path of every change of a workload's VPC access, traffic split or
// migration journal (runnet attach, detach, migrate and connector recycle all come through
// Platform.Update): it sends back a clone of the resource as read with only those fields
// changed, with the etag it was read with, waits for the change as asked, and applies the
// policies of policy.go (transient failures, lost responses, conflicts).

// Update changes cur's VPC access and/or traffic as u says, and nothing else: it sends back a
// clone of the resource as read with only the template's vpc_access (and template.revision,
// which the API would refuse to reuse for a changed template) and the traffic (instance
// splits) changed, with the etag it was read with. It waits for the operation (services and
// worker pools: until a new revision is ready and the traffic is routed) and returns the
// workload as the operation left it; with u.NoWait, as the API accepted it, with Operation
// set. A refused request wraps egress.ErrNotApplied; a rollout that fails is a *RolloutError;
// a concurrent change is handled by DefaultConflicts (policy.go): sent again from a fresh read,
// or an *egress.ConflictError.
func (p *Platform) Update(ctx context.Context, cur *egress.Snapshot, u egress.Update) (*egress.Snapshot, error) {
	if cur == nil {
		return nil, errors.New("update: no workload snapshot")
	}
	w, ok := cur.Handle.(*Workload)
	if !ok || w == nil || w.Raw == nil {
		return nil, errors.New("update: the workload snapshot was not read through the cloud adapters")
	}
	ref := w.Ref
	o := writeOptions{validateOnly: u.ValidateOnly, noWait: u.NoWait, metadataOnly: u.VPC == nil && u.Traffic == nil,
		forceNewRevision: u.ForceNewRevision && ref.Kind != egress.KindJob}
	if p.Progress != nil {
		o.progress = func(msg string) { p.Progress(ref, msg) }
		// Only a change of the template (or a forced one) makes a revision to announce.
		o.readToAnnounce = p.ReadToAnnounce && (u.VPC != nil || o.forceNewRevision)
	}
	for attempt := 0; ; attempt++ {
		msg, err := changed(w, u)
		if err != nil {
			return nil, err
		}
		res, err := p.C.write(ctx, w, msg, o)
		if err == nil {
			return Snapshot(res), nil
		}
		fresh, again := DefaultConflicts.resendFrom(err, attempt)
		if !again {
			return nil, err
		}
		w = fresh
	}
}

// changed is w's resource as read with u applied: a clone, with only the template's VPC
// access (and its revision name), the traffic and the journal annotation changed.
func changed(w *Workload, u egress.Update) (proto.Message, error) {
	ref := w.Ref
	var va *runpb.VpcAccess
	if u.VPC != nil {
		v := *u.VPC
		if !u.AsIs {
			if err := v.Validate(ref.Project, ref.Region); err != nil {
				return nil, &notApplied{err}
			}
			cv, err := v.Canonical(ref.Project, ref.Region)
			if err != nil {
				return nil, &notApplied{err}
			}
			v = cv
		}
		if ref.Kind == egress.KindWorkerPool && v.Mode() == egress.ModeConnector {
			return nil, &notApplied{status.Errorf(codes.InvalidArgument, "worker pool %q cannot use a Serverless VPC Access connector; worker pools only support Direct VPC egress", ref.Name)}
		}
		va = VPCToProto(v)
	}
	if u.Traffic != nil && ref.Kind == egress.KindJob {
		return nil, &notApplied{errors.New("jobs have no traffic to set")}
	}
	msg := proto.Clone(w.Raw)
	var setVPC func()
	var setTraffic func([]egress.TrafficTarget)
	switch m := msg.(type) {
	case *runpb.Service:
		setVPC = func() { m.Template = orNew(m.Template); m.Template.VpcAccess, m.Template.Revision = va, u.Revision }
		setTraffic = func(ts []egress.TrafficTarget) { m.Traffic = trafficToProto(ts) }
	case *runpb.WorkerPool:
		setVPC = func() { m.Template = orNew(m.Template); m.Template.VpcAccess, m.Template.Revision = va, "" }
		setTraffic = func(ts []egress.TrafficTarget) { m.InstanceSplits = splitsToProto(ts) }
	case *runpb.Job:
		setVPC = func() {
			m.Template = orNew(m.Template)
			m.Template.Template = orNew(m.Template.Template)
			m.Template.Template.VpcAccess = va
		}
	default:
		return nil, fmt.Errorf("%T is not a Cloud Run service, job or worker pool", msg)
	}
	if u.VPC != nil {
		setVPC()
	}
	if u.Traffic != nil {
		setTraffic(u.Traffic)
	}
	if u.Journal != nil {
		setAnnotation(msg, egress.JournalAnnotation, *u.Journal)
	}
	return msg, nil
}

// orNew is p, or a new T when p is nil.
func orNew[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// writeOptions tune one write.
type writeOptions struct {
	validateOnly bool
	// noWait returns once the API accepted the change.
	noWait bool
	// metadataOnly: the change touches neither the template nor the traffic.
	metadataOnly bool
	// forceNewRevision deploys a new revision of an unchanged template.
	forceNewRevision bool
	// progress, when set, receives "Waiting for revision X to become ready..." once the new
	// revision is known; with readToAnnounce, a read alongside the wait learns it when the
	// operation's metadata does not name it.
	progress       func(string)
	readToAnnounce bool
}

// write sends msg, a changed clone of w.Raw that carries w's etag, and waits as o says. A
// transient failure is sent again only when a fresh read shows it did not land, and a failure
// after it landed (a lost response) counts as success once the workload has settled
// (sendUpdate, policy.go). A refusal for a stale etag (ABORTED) is an *egress.ConflictError that
// says what changed (conflict, policy.go).
func (c *Clients) write(ctx context.Context, w *Workload, msg proto.Message, o writeOptions) (*Workload, error) {
	ref := w.Ref
	opName, md, waiter, landed, err := c.sendUpdate(ctx, w, msg, o.validateOnly, o.forceNewRevision)
	if err != nil {
		var ce *egress.ConflictError
		if errors.As(err, &ce) {
			return nil, err
		}
		if status.Code(statusErrOf(err)) == codes.Aborted {
			return nil, c.conflict(ctx, w, nil, err)
		}
		err = apiErr("update "+describeRef(ref), err)
		if refusedBeforeApplied(err) {
			return nil, &notApplied{err}
		}
		return nil, err
	}
	if landed != nil {
		if o.noWait {
			return landed, nil
		}
		return c.settled(ctx, w, landed, o.metadataOnly)
	}
	if o.noWait && !o.validateOnly {
		var res *Workload
		if md != nil {
			if r, err := WorkloadFromProto(md); err == nil && r.Etag != "" {
				res = r
			}
		}
		if res == nil {
			if res, err = c.GetWorkload(ctx, ref); err != nil {
				return nil, err
			}
		}
		res.Operation = opName
		return res, nil
	}

	// Progress: the new revision, once known (from the operation's metadata, else from a read
	// alongside the wait).
	var once sync.Once
	announce := func(m proto.Message) bool {
		if o.progress == nil || m == nil || o.validateOnly {
			return false
		}
		rev := newRevisionOf(w, m)
		if rev == "" {
			return false
		}
		once.Do(func() { o.progress(fmt.Sprintf("Waiting for revision %s to become ready...", rev)) })
		return true
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if !announce(md) && o.readToAnnounce && o.progress != nil && !o.validateOnly && !o.metadataOnly && ref.Kind != egress.KindJob {
		wg.Go(func() {
			if m, err := c.getRaw(waitCtx, ref); err == nil {
				announce(m)
			}
		})
	}
	out := newOfKind(ref.Kind)
	werr := waitLongPoll(ctx, waiter, &longrunningpb.Operation{Name: opName}, out, func(op *longrunningpb.Operation) {
		if op.GetMetadata() == nil {
			return
		}
		if m, err := op.GetMetadata().UnmarshalNew(); err == nil {
			announce(m)
		}
	})
	cancel()
	wg.Wait()
	if werr != nil {
		var oe *OperationError
		if errors.As(werr, &oe) {
			if o.metadataOnly {
				// A metadata-only change is in force once accepted; its operation can only
				// fail for an unrelated reason (a revision that failed earlier).
				return c.GetWorkload(ctx, ref)
			}
			return nil, c.rolloutFailure(ctx, w, opName, oe)
		}
		return nil, apiErr(fmt.Sprintf("wait for the update of %s", describeRef(ref)), werr)
	}
	var res *Workload
	if proto.Size(out) > 0 {
		res, err = WorkloadFromProto(out)
	} else {
		res, err = c.GetWorkload(ctx, ref) // an operation that carried no resource
	}
	if err != nil {
		return nil, err
	}
	res.Operation = opName
	return res, nil
}

// startUpdate sends the update request for msg and returns its operation's name and the
// metadata it started with (the resource, for Cloud Run).
func (c *Clients) startUpdate(ctx context.Context, msg proto.Message, validateOnly, forceNewRevision bool) (string, proto.Message, operationWaiter, error) {
	switch m := msg.(type) {
	case *runpb.Service:
		return startOp[*run.ServicesClient, *runpb.Service](c.Services, func(cl *run.ServicesClient) (*run.UpdateServiceOperation, error) {
			return cl.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: m, ValidateOnly: validateOnly, ForceNewRevision: forceNewRevision})
		})
	case *runpb.Job:
		return startOp[*run.JobsClient, *runpb.Job](c.Jobs, func(cl *run.JobsClient) (*run.UpdateJobOperation, error) {
			return cl.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: m, ValidateOnly: validateOnly})
		})
	case *runpb.WorkerPool:
		return startOp[*run.WorkerPoolsClient, *runpb.WorkerPool](c.WorkerPools, func(cl *run.WorkerPoolsClient) (*run.UpdateWorkerPoolOperation, error) {
			return cl.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: m, ValidateOnly: validateOnly, ForceNewRevision: forceNewRevision})
		})
	}
	return "", nil, nil, fmt.Errorf("%T is not a Cloud Run service, job or worker pool", msg)
}

// startOp gets a client, starts an operation with it, and returns the operation's name, its
// first metadata and the client to wait for it with.
func startOp[C operationWaiter, M proto.Message, O interface {
	Name() string
	Metadata() (M, error)
}](client func() (C, error), start func(C) (O, error)) (string, proto.Message, operationWaiter, error) {
	cl, err := client()
	if err != nil {
		return "", nil, nil, err
	}
	op, err := start(cl)
	if err != nil {
		return "", nil, nil, err
	}
	md, _ := op.Metadata()
	return op.Name(), md, cl, nil
}

// notApplied marks an error of a write the API refused before accepting it.
type notApplied struct{ err error }

func (e *notApplied) Error() string   { return e.err.Error() }
func (e *notApplied) Unwrap() []error { return []error{e.err, egress.ErrNotApplied} }

// refusedBeforeApplied reports whether a failed request certainly changed nothing: the API
// answered with a code that means it refused the request. Transport failures, timeouts and
// internal errors may have been applied.
func refusedBeforeApplied(err error) bool {
	s, ok := status.FromError(statusErrOf(err))
	if !ok {
		return false
	}
	switch s.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.Aborted, codes.PermissionDenied,
		codes.Unauthenticated, codes.NotFound, codes.AlreadyExists, codes.ResourceExhausted, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

func trafficToProto(ts []egress.TrafficTarget) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(ts))
	for _, t := range ts {
		tt := &runpb.TrafficTarget{Percent: int32(t.Percent), Tag: t.Tag, Revision: t.Revision,
			Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION}
		if t.Latest {
			tt.Type, tt.Revision = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, ""
		}
		out = append(out, tt)
	}
	return out
}

func splitsToProto(ts []egress.TrafficTarget) []*runpb.InstanceSplit {
	out := make([]*runpb.InstanceSplit, 0, len(ts))
	for _, t := range ts {
		s := &runpb.InstanceSplit{Percent: int32(t.Percent), Revision: t.Revision,
			Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION}
		if t.Latest {
			s.Type, s.Revision = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, ""
		}
		out = append(out, s)
	}
	return out
}

func newOfKind(k egress.Kind) proto.Message {
	switch k {
	case egress.KindJob:
		return &runpb.Job{}
	case egress.KindWorkerPool:
		return &runpb.WorkerPool{}
	}
	return &runpb.Service{}
}

// newRevisionOf returns the short name of the latest created revision in m, a service or
// worker pool, when it is not the one w had.
func newRevisionOf(w *Workload, m proto.Message) string {
	var rev string
	switch r := m.(type) {
	case *runpb.Service:
		rev = r.GetLatestCreatedRevision()
	case *runpb.WorkerPool:
		rev = r.GetLatestCreatedRevision()
	}
	rev = egress.ShortName(rev)
	if rev == "" || rev == w.LatestCreated {
		return ""
	}
	return rev
}

// RolloutError is a change that Cloud Run accepted but could not put in force: the new
// revision (services, worker pools) did not become ready, or the job's update failed.
type RolloutError struct {
	// Ref names the workload.
	Ref egress.WorkloadRef
	// Operation is the failed operation's name.
	Operation string
	// Revision is the revision that failed, when known.
	Revision string
	// Reason is the revision's own reason (its Ready condition's message), else the
	// workload's terminal condition message, else the operation's error message.
	Reason string
	// Serving is where traffic still goes (services, worker pools), when known.
	Serving []egress.TrafficTarget
	// Workload is the workload as read after the failure, when it could be read.
	Workload *Workload
	// Err is the operation's error.
	Err *OperationError
}

func (e *RolloutError) Error() string {
	var b strings.Builder
	switch {
	case e.Revision != "":
		fmt.Fprintf(&b, "revision %s of %s did not become ready: %s", e.Revision, describeRef(e.Ref), e.Reason)
	case e.Ref.Kind == egress.KindJob:
		fmt.Fprintf(&b, "%s is not ready after the update: %s", describeRef(e.Ref), e.Reason)
	default:
		fmt.Fprintf(&b, "the update of %s failed: %s", describeRef(e.Ref), e.Reason)
	}
	if s := describeServing(e.Serving); s != "" {
		fmt.Fprintf(&b, "\nTraffic still goes to %s.", s)
	}
	return b.String()
}

// Unwrap returns the operation's error, so status.Code sees the operation's code.
func (e *RolloutError) Unwrap() error { return e.Err }

// describeServing describes where traffic goes, such as "revision run-service-00001-abc
// (100%)".
func describeServing(ts []egress.TrafficTarget) string {
	var parts []string
	for _, t := range ts {
		if t.Percent == 0 {
			continue
		}
		name := t.Revision
		if name == "" {
			name = "the latest ready revision"
		} else {
			name = "revision " + name
		}
		parts = append(parts, fmt.Sprintf("%s (%d%%)", name, t.Percent))
	}
	return strings.Join(parts, ", ")
}

// rolloutFailure gathers the failed revision's own reason and where traffic still goes.
func (c *Clients) rolloutFailure(ctx context.Context, w *Workload, opName string, oe *OperationError) error {
	fe := &RolloutError{Ref: w.Ref, Operation: opName, Err: oe, Reason: strings.TrimSpace(oe.Status.Message())}
	after, err := c.GetWorkload(ctx, w.Ref)
	if err != nil {
		return fe
	}
	fe.Workload = after
	if m := strings.TrimSpace(after.Terminal.Message); m != "" && after.Terminal.State == ConditionFailed {
		fe.Reason = m
	}
	if w.Ref.Kind == egress.KindJob {
		return fe
	}
	if after.LatestCreated != after.LatestReady || after.Terminal.State == ConditionFailed {
		fe.Revision = after.LatestCreated
	}
	fe.Serving = servingTargets(after)
	if fe.Revision != "" {
		if cond, err := c.revisionReady(ctx, w.Ref, fe.Revision); err == nil && cond.State == ConditionFailed && cond.Message != "" {
			fe.Reason = strings.TrimSpace(cond.Message)
		}
	}
	return fe
}

// servingTargets is where a service's traffic (a worker pool's instances) goes now, with
// "latest" resolved to the latest ready revision.
func servingTargets(w *Workload) []egress.TrafficTarget {
	ts := w.TrafficStatus
	if len(ts) == 0 && w.LatestReady != "" {
		ts = []egress.TrafficTarget{{Revision: w.LatestReady, Percent: 100}}
	}
	out := make([]egress.TrafficTarget, 0, len(ts))
	for _, t := range ts {
		if t.Latest && t.Revision == "" {
			t.Revision = w.LatestReady
		}
		out = append(out, t)
	}
	return out
}
