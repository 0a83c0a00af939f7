package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file is the adapter between Cloud Run's three kinds of workload (services, jobs and
// worker pools, Run Admin API v2) and runnet's domain: reading them into egress.Workload
// snapshots, and changing their VPC access, and nothing else, with the etag they were read
// with.

// Workload is a Cloud Run workload as read: the domain snapshot (egress.Workload) and the API
// resource it came from.
type Workload struct {
	egress.Workload

	// Raw is the resource as read: a *runpb.Service, *runpb.Job or *runpb.WorkerPool. Updates
	// start from a clone of it, so that every field runnet does not mean to change is sent
	// back exactly as read.
	Raw proto.Message `json:"-"`

	// Terminal is the workload's terminal (Ready) condition.
	Terminal Condition `json:"terminalCondition"`

	// TrafficStatus is where a service's traffic (a worker pool's instances) actually goes:
	// the traffic statuses, as opposed to egress.Workload.Traffic, the traffic asked for.
	TrafficStatus []egress.TrafficTarget `json:"trafficStatus,omitempty"`

	// LatestExecution is a job's latest created execution (short name), if any.
	LatestExecution string `json:"latestExecution,omitempty"`
	// LatestExecutionRunning is set while a job's latest execution has not completed.
	LatestExecutionRunning bool `json:"latestExecutionRunning,omitempty"`

	// Operation is the long-running operation of the update this snapshot came from (SetVPC),
	// or "" for a workload that was read.
	Operation string `json:"operation,omitempty"`
}

// Condition is a Cloud Run condition, simplified.
type Condition struct {
	// Type is the condition type, "Ready" for a terminal condition.
	Type string `json:"type"`
	// State is succeeded, failed, pending or reconciling, or "" when not known.
	State string `json:"state"`
	// Reason is the API's reason enum name (REVISION_FAILED, ...), if any.
	Reason string `json:"reason,omitempty"`
	// Message is the API's human message, if any.
	Message string `json:"message,omitempty"`
}

// Condition states.
const (
	ConditionSucceeded   = "succeeded"
	ConditionFailed      = "failed"
	ConditionPending     = "pending"
	ConditionReconciling = "reconciling"
)

// Rollout states (Workload.Rollout).
const (
	// RolloutDone: the latest change is in force (for services and worker pools, the latest
	// created revision is the latest ready one).
	RolloutDone = "done"
	// RolloutInProgress: a change is being rolled out (a new revision is starting).
	RolloutInProgress = "in-progress"
	// RolloutFailed: the latest change failed (the latest created revision cannot become
	// ready); the previous state is still in force.
	RolloutFailed = "failed"
)

// RevisionsDiffer reports whether the latest created revision is not the latest ready one: a
// rollout in progress or a failed one (see Rollout).
func (w *Workload) RevisionsDiffer() bool {
	return w.LatestCreated != "" && w.LatestCreated != w.LatestReady
}

// Rollout says whether the workload's latest change is done, in progress or failed.
func (w *Workload) Rollout() string {
	switch {
	case w.Terminal.State == ConditionFailed:
		return RolloutFailed
	case w.Reconciling, w.Terminal.State == ConditionPending, w.Terminal.State == ConditionReconciling, w.RevisionsDiffer():
		return RolloutInProgress
	}
	return RolloutDone
}

// WorkloadFromProto converts a *runpb.Service, *runpb.Job or *runpb.WorkerPool into a Workload
// that keeps m as its Raw resource.
func WorkloadFromProto(m proto.Message) (*Workload, error) {
	switch r := m.(type) {
	case *runpb.Service:
		return workloadFromService(r)
	case *runpb.Job:
		return workloadFromJob(r)
	case *runpb.WorkerPool:
		return workloadFromWorkerPool(r)
	case nil:
		return nil, errors.New("no workload")
	}
	return nil, fmt.Errorf("%T is not a Cloud Run service, job or worker pool", m)
}

func refFromName(name string, k egress.Kind) (egress.WorkloadRef, error) {
	ref, err := egress.ParseWorkloadRef(name, "", "")
	if err != nil {
		return egress.WorkloadRef{}, fmt.Errorf("unexpected %s name from the API: %w", k, err)
	}
	if ref.Kind != k {
		return egress.WorkloadRef{}, fmt.Errorf("unexpected %s name from the API: %q names a %s", k, name, ref.Kind)
	}
	return ref, nil
}

func workloadFromService(s *runpb.Service) (*Workload, error) {
	ref, err := refFromName(s.GetName(), egress.KindService)
	if err != nil {
		return nil, err
	}
	w := &Workload{Raw: s, Terminal: conditionFromProto(s.GetTerminalCondition())}
	w.Ref = ref
	w.VPC = VPCFromProto(s.GetTemplate().GetVpcAccess())
	w.MaxInstances, w.MinInstances = serviceInstances(s)
	w.LatestReady = lastSegment(s.GetLatestReadyRevision())
	w.LatestCreated = lastSegment(s.GetLatestCreatedRevision())
	w.Etag = s.GetEtag()
	w.Reconciling = s.GetReconciling()
	for _, t := range s.GetTraffic() {
		w.Traffic = append(w.Traffic, egress.TrafficTarget{
			Revision: t.GetRevision(), Latest: t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
			Percent: int(t.GetPercent()), Tag: t.GetTag(),
		})
	}
	for _, t := range s.GetTrafficStatuses() {
		w.TrafficStatus = append(w.TrafficStatus, egress.TrafficTarget{
			Revision: t.GetRevision(), Latest: t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
			Percent: int(t.GetPercent()), Tag: t.GetTag(),
		})
	}
	return w, nil
}

// serviceInstances returns a service's maximum and minimum instance counts: with manual
// scaling, the manual count; otherwise the revision template's maximum and the service-level
// maximum, the smaller when both are set (the service-level limit caps all revisions
// together). 0 is "not set".
func serviceInstances(s *runpb.Service) (max, min int) {
	sc, tsc := s.GetScaling(), s.GetTemplate().GetScaling()
	min = int(tsc.GetMinInstanceCount())
	if m := int(sc.GetMinInstanceCount()); m > min {
		min = m
	}
	if sc.GetScalingMode() == runpb.ServiceScaling_MANUAL && sc.ManualInstanceCount != nil {
		n := int(sc.GetManualInstanceCount())
		return n, n
	}
	max = int(tsc.GetMaxInstanceCount())
	if m := int(sc.GetMaxInstanceCount()); m > 0 && (max == 0 || m < max) {
		max = m
	}
	return max, min
}

func workloadFromJob(j *runpb.Job) (*Workload, error) {
	ref, err := refFromName(j.GetName(), egress.KindJob)
	if err != nil {
		return nil, err
	}
	w := &Workload{Raw: j, Terminal: conditionFromProto(j.GetTerminalCondition())}
	w.Ref = ref
	w.VPC = VPCFromProto(j.GetTemplate().GetTemplate().GetVpcAccess())
	w.MaxInstances = jobInstances(j.GetTemplate())
	w.Etag = j.GetEtag()
	w.Reconciling = j.GetReconciling()
	w.LatestExecution = lastSegment(j.GetLatestCreatedExecution().GetName())
	w.LatestExecutionRunning = w.LatestExecution != "" && j.GetLatestCreatedExecution().GetCompletionTime() == nil
	return w, nil
}

// jobInstances is how many tasks of an execution can run at once: the parallelism, capped by
// the task count; with no parallelism (0: as many as possible), the task count.
func jobInstances(t *runpb.ExecutionTemplate) int {
	p, n := int(t.GetParallelism()), int(t.GetTaskCount())
	switch {
	case p > 0 && n > 0 && n < p:
		return n
	case p > 0:
		return p
	}
	return n
}

func workloadFromWorkerPool(p *runpb.WorkerPool) (*Workload, error) {
	ref, err := refFromName(p.GetName(), egress.KindWorkerPool)
	if err != nil {
		return nil, err
	}
	w := &Workload{Raw: p, Terminal: conditionFromProto(p.GetTerminalCondition())}
	w.Ref = ref
	w.VPC = VPCFromProto(p.GetTemplate().GetVpcAccess())
	if sc := p.GetScaling(); sc != nil && sc.ManualInstanceCount != nil {
		w.MaxInstances = int(sc.GetManualInstanceCount())
		w.MinInstances = w.MaxInstances
	}
	w.LatestReady = lastSegment(p.GetLatestReadyRevision())
	w.LatestCreated = lastSegment(p.GetLatestCreatedRevision())
	w.Etag = p.GetEtag()
	w.Reconciling = p.GetReconciling()
	for _, s := range p.GetInstanceSplits() {
		w.Traffic = append(w.Traffic, egress.TrafficTarget{
			Revision: s.GetRevision(), Latest: s.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST,
			Percent: int(s.GetPercent()),
		})
	}
	for _, s := range p.GetInstanceSplitStatuses() {
		w.TrafficStatus = append(w.TrafficStatus, egress.TrafficTarget{
			Revision: s.GetRevision(), Latest: s.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST,
			Percent: int(s.GetPercent()),
		})
	}
	return w, nil
}

func conditionFromProto(c *runpb.Condition) Condition {
	if c == nil {
		return Condition{}
	}
	out := Condition{Type: c.GetType(), Message: c.GetMessage()}
	switch c.GetState() {
	case runpb.Condition_CONDITION_SUCCEEDED:
		out.State = ConditionSucceeded
	case runpb.Condition_CONDITION_FAILED:
		out.State = ConditionFailed
	case runpb.Condition_CONDITION_PENDING:
		out.State = ConditionPending
	case runpb.Condition_CONDITION_RECONCILING:
		out.State = ConditionReconciling
	}
	switch r := c.GetReasons().(type) {
	case *runpb.Condition_Reason:
		if r.Reason != runpb.Condition_COMMON_REASON_UNDEFINED {
			out.Reason = r.Reason.String()
		}
	case *runpb.Condition_RevisionReason_:
		if r.RevisionReason != runpb.Condition_REVISION_REASON_UNDEFINED {
			out.Reason = r.RevisionReason.String()
		}
	case *runpb.Condition_ExecutionReason_:
		if r.ExecutionReason != runpb.Condition_EXECUTION_REASON_UNDEFINED {
			out.Reason = r.ExecutionReason.String()
		}
	}
	return out
}

// noGaxRetry turns off the client library's own retries of a call, so that RetryPolicy alone
// decides (the library's defaults back off for a second or more).
var noGaxRetry = gax.WithRetry(func() gax.Retryer { return nil })

// APIError is an error from a Google API with what runnet was doing when it happened. Its
// message is that context and the API's own message, without gRPC's "rpc error: code = ..."
// prefix; the API error stays in the chain (errors.As, status.Code and exit codes see it).
type APIError struct {
	// Op says what runnet was doing, e.g. `read service "run-service"`.
	Op string
	// Err is the API's error.
	Err error
}

func (e *APIError) Error() string {
	if msg, ok := explainTransport(e.Err); ok {
		return e.Op + ": " + msg
	}
	if s, ok := status.FromError(e.Err); ok && s.Code() != codes.OK && s.Code() != codes.Unknown {
		return fmt.Sprintf("%s: %s (%s)", e.Op, strings.TrimSpace(s.Message()), rpcCodeName(s.Code()))
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *APIError) Unwrap() error { return e.Err }

// codeName returns the google.rpc.Code name of c, such as NOT_FOUND.
func rpcCodeName(c codes.Code) string {
	if n, ok := code.Code_name[int32(c)]; ok {
		return n
	}
	return c.String()
}

func apiErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &APIError{Op: op, Err: err}
}

// IsNotFound reports whether err says a resource does not exist: gRPC NOT_FOUND or HTTP 404,
// anywhere in err's chain.
func IsNotFound(err error) bool {
	if ge, ok := googleAPIError(err); ok {
		return ge.Code == 404
	}
	return status.Code(statusErrOf(err)) == codes.NotFound
}

// lastSegment returns the part of a name or URL after its last "/".
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// statusErrOf finds the first error in err's chain that carries a gRPC status.
func statusErrOf(err error) error {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.(error)
	}
	return err
}

// describeRef is how messages name a workload: `service "run-service"`.
func describeRef(ref egress.WorkloadRef) string {
	return fmt.Sprintf("%s %q", kindNoun(ref.Kind), ref.Name)
}

func kindNoun(k egress.Kind) string {
	if k == egress.KindWorkerPool {
		return "worker pool"
	}
	return string(k)
}

// GetWorkload reads one workload. Transient failures are retried. A workload that does not
// exist gives an error for which IsNotFound holds.
func (c *Clients) GetWorkload(ctx context.Context, ref egress.WorkloadRef) (*Workload, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	var msg proto.Message
	err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		msg, err = c.getRaw(ctx, ref)
		return err
	})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("read %s in project %s, region %s", describeRef(ref), ref.Project, ref.Region), err)
	}
	return WorkloadFromProto(msg)
}

func (c *Clients) getRaw(ctx context.Context, ref egress.WorkloadRef) (proto.Message, error) {
	name := ref.FullName()
	switch ref.Kind {
	case egress.KindService:
		cl, err := c.Services()
		if err != nil {
			return nil, err
		}
		return cl.GetService(ctx, &runpb.GetServiceRequest{Name: name}, noGaxRetry)
	case egress.KindJob:
		cl, err := c.Jobs()
		if err != nil {
			return nil, err
		}
		return cl.GetJob(ctx, &runpb.GetJobRequest{Name: name}, noGaxRetry)
	case egress.KindWorkerPool:
		cl, err := c.WorkerPools()
		if err != nil {
			return nil, err
		}
		return cl.GetWorkerPool(ctx, &runpb.GetWorkerPoolRequest{Name: name}, noGaxRetry)
	}
	return nil, fmt.Errorf("unknown workload kind %q", ref.Kind)
}

// ListWorkloads lists every service, job and worker pool in project and region: the three
// lists are read concurrently, every page of each, each list retried as a whole on transient
// failures. The result holds services, then jobs, then worker pools, each sorted by name.
func (c *Clients) ListWorkloads(ctx context.Context, project, region string) ([]*Workload, error) {
	if err := egress.ValidateProject(project); err != nil {
		return nil, err
	}
	if err := egress.ValidateRegion(region); err != nil {
		return nil, err
	}
	parent := "projects/" + project + "/locations/" + region
	lists := []struct {
		kind egress.Kind
		list func(context.Context) ([]proto.Message, error)
	}{
		{egress.KindService, func(ctx context.Context) ([]proto.Message, error) {
			cl, err := c.Services()
			if err != nil {
				return nil, err
			}
			return collectPages(cl.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent}, noGaxRetry).All())
		}},
		{egress.KindJob, func(ctx context.Context) ([]proto.Message, error) {
			cl, err := c.Jobs()
			if err != nil {
				return nil, err
			}
			return collectPages(cl.ListJobs(ctx, &runpb.ListJobsRequest{Parent: parent}, noGaxRetry).All())
		}},
		{egress.KindWorkerPool, func(ctx context.Context) ([]proto.Message, error) {
			cl, err := c.WorkerPools()
			if err != nil {
				return nil, err
			}
			return collectPages(cl.ListWorkerPools(ctx, &runpb.ListWorkerPoolsRequest{Parent: parent}, noGaxRetry).All())
		}},
	}
	results := make([][]proto.Message, len(lists))
	errs := make([]error, len(lists))
	var wg sync.WaitGroup
	for i, l := range lists {
		wg.Go(func() {
			errs[i] = DefaultRetry.Do(ctx, func(ctx context.Context) error {
				var err error
				results[i], err = l.list(ctx)
				return err
			})
			if errs[i] != nil {
				errs[i] = apiErr(fmt.Sprintf("list %ss in project %s, region %s", kindNoun(l.kind), project, region), errs[i])
			}
		})
	}
	wg.Wait()
	if err := joinErrors(errs...); err != nil {
		return nil, err
	}
	var out []*Workload
	for _, msgs := range results {
		var ws []*Workload
		for _, m := range msgs {
			w, err := WorkloadFromProto(m)
			if err != nil {
				return nil, err
			}
			ws = append(ws, w)
		}
		slices.SortFunc(ws, func(a, b *Workload) int { return strings.Compare(a.Ref.Name, b.Ref.Name) })
		out = append(out, ws...)
	}
	return out, nil
}

func collectPages[T proto.Message](seq func(yield func(T, error) bool)) ([]proto.Message, error) {
	var out []proto.Message
	for m, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// SetVPCOptions tunes SetVPC.
type SetVPCOptions struct {
	// ValidateOnly asks the API to check the change without making it (validate_only). The
	// result is the workload as the API says it would be.
	ValidateOnly bool
	// Async returns as soon as the API has accepted the change: the result is the workload as
	// read, with Operation set to the operation's name.
	Async bool
	// Progress, when set, receives progress messages while SetVPC waits, such as "Waiting for
	// revision run-service-00002-abc to become ready...".
	Progress func(string)

	// Traffic, when not nil, replaces a service's traffic (a worker pool's instance splits;
	// tags are ignored there) in the same update. nil keeps the traffic as read. Migrations
	// use it to deploy a new template with no traffic and a tag, for example
	// [{Revision: OLD, Percent: 100}, {Revision: NEW, Tag: "direct"}] with Revision NEW.
	Traffic []egress.TrafficTarget
	// Revision, when set, names the new revision (template.revision, which must start with
	// the workload's name and a hyphen), so that Traffic can route to it by name. When
	// empty, Cloud Run names it; a revision name left in the template from an earlier deploy
	// is cleared, since the API refuses to reuse it for a changed template.
	Revision string
	// ForceNewRevision makes a service or worker pool deploy a new revision even when the
	// template does not change (force_new_revision), to retry a revision that failed, for
	// example after its connector was created. Jobs have no revisions: sending their
	// template again is the retry.
	ForceNewRevision bool
}

// SetVPC changes the VPC access of w, as read by GetWorkload or ListWorkloads, to vpc, and
// nothing else: it sends back a clone of w.Raw in which only the template's vpc_access
// (plus what opts asks for) differs, with the etag w was read with, so that a change made
// meanwhile by someone else makes the update fail with ABORTED (exit code 5) instead of
// being overwritten.
//
// vpc is validated and canonicalised against the workload's project and region first. It
// then waits for the change to be done (services and worker pools: the new revision is
// ready) with WaitOperation, and returns the workload as the operation left it. When the new
// revision cannot become ready, the error is a *RolloutError that carries the revision's own
// reason and where traffic still goes.
func (c *Clients) SetVPC(ctx context.Context, w *Workload, vpc egress.VPC, opts SetVPCOptions) (*Workload, error) {
	if w == nil || w.Raw == nil {
		return nil, errors.New("SetVPC needs a workload as read from the API")
	}
	ref := w.Ref
	if err := vpc.Validate(ref.Project, ref.Region); err != nil {
		return nil, err
	}
	cvpc, err := vpc.Canonical(ref.Project, ref.Region)
	if err != nil {
		return nil, err
	}
	if ref.Kind == egress.KindWorkerPool && cvpc.Mode() == egress.ModeConnector {
		return nil, status.Errorf(codes.InvalidArgument, "worker pool %q cannot use a Serverless VPC Access connector; worker pools only support Direct VPC egress", ref.Name)
	}
	if opts.Traffic != nil && ref.Kind == egress.KindJob {
		return nil, errors.New("jobs have no traffic to set")
	}
	va := VPCToProto(cvpc)
	msg := proto.Clone(w.Raw)
	switch m := msg.(type) {
	case *runpb.Service:
		if m.Template == nil {
			m.Template = &runpb.RevisionTemplate{}
		}
		m.Template.VpcAccess = va
		m.Template.Revision = opts.Revision
		if opts.Traffic != nil {
			m.Traffic = trafficToProto(opts.Traffic)
		}
	case *runpb.WorkerPool:
		if m.Template == nil {
			m.Template = &runpb.WorkerPoolRevisionTemplate{}
		}
		m.Template.VpcAccess = va
		m.Template.Revision = opts.Revision
		if opts.Traffic != nil {
			m.InstanceSplits = splitsToProto(opts.Traffic)
		}
	case *runpb.Job:
		if m.Template == nil {
			m.Template = &runpb.ExecutionTemplate{}
		}
		if m.Template.Template == nil {
			m.Template.Template = &runpb.TaskTemplate{}
		}
		m.Template.Template.VpcAccess = va
	default:
		return nil, fmt.Errorf("%T is not a Cloud Run service, job or worker pool", msg)
	}
	return c.updateWorkload(ctx, w, msg, opts)
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

// startUpdate sends the update request for msg and returns its operation's name and the
// metadata it started with (the resource, for Cloud Run).
func (c *Clients) startUpdate(ctx context.Context, msg proto.Message, opts SetVPCOptions) (string, proto.Message, operationWaiter, error) {
	switch m := msg.(type) {
	case *runpb.Service:
		cl, err := c.Services()
		if err != nil {
			return "", nil, nil, err
		}
		op, err := cl.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: m, ValidateOnly: opts.ValidateOnly, ForceNewRevision: opts.ForceNewRevision})
		if err != nil {
			return "", nil, nil, err
		}
		md, _ := op.Metadata()
		return op.Name(), md, cl, nil
	case *runpb.Job:
		cl, err := c.Jobs()
		if err != nil {
			return "", nil, nil, err
		}
		op, err := cl.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: m, ValidateOnly: opts.ValidateOnly})
		if err != nil {
			return "", nil, nil, err
		}
		md, _ := op.Metadata()
		return op.Name(), md, cl, nil
	case *runpb.WorkerPool:
		cl, err := c.WorkerPools()
		if err != nil {
			return "", nil, nil, err
		}
		op, err := cl.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: m, ValidateOnly: opts.ValidateOnly, ForceNewRevision: opts.ForceNewRevision})
		if err != nil {
			return "", nil, nil, err
		}
		md, _ := op.Metadata()
		return op.Name(), md, cl, nil
	}
	return "", nil, nil, fmt.Errorf("%T is not a Cloud Run service, job or worker pool", msg)
}

// ErrChanged is wrapped by the error of an update refused because the workload changed after
// it was read (its etag no longer matches: ABORTED, exit code 5).
var ErrChanged = errors.New("the workload changed since runnet read it")

// changedError is an update refused with ABORTED: it matches ErrChanged and keeps the API's
// error (and so its code) in the chain.
type changedError struct {
	ref egress.WorkloadRef
	err error
}

func (e *changedError) Error() string {
	msg := ""
	if s, ok := status.FromError(e.err); ok && s.Message() != "" {
		msg = " (" + strings.TrimSpace(s.Message()) + ")"
	}
	return fmt.Sprintf("%s changed since runnet read it%s: someone else updated it meanwhile, so nothing was changed; "+
		"check its state with 'runnet status %s' and run the command again", describeRef(e.ref), msg, e.ref)
}

func (e *changedError) Unwrap() []error { return []error{ErrChanged, e.err} }

// updateWorkload sends msg (a changed clone of w.Raw) and waits as opts says.
func (c *Clients) updateWorkload(ctx context.Context, w *Workload, msg proto.Message, opts SetVPCOptions) (*Workload, error) {
	ref := w.Ref
	// Retried only when a fresh read shows it did not land (sendUpdate): never applied twice,
	// and a lost response is not mistaken for someone else's change.
	opName, md, waiter, landed, err := c.sendUpdate(ctx, w, msg, opts)
	if err != nil {
		var ce *egress.ConflictError
		if errors.As(err, &ce) {
			return nil, ce.Err
		}
		if status.Code(statusErrOf(err)) == codes.Aborted {
			return nil, &changedError{ref: ref, err: err}
		}
		return nil, apiErr("update "+describeRef(ref), err)
	}
	if landed != nil {
		if opts.Async {
			return landed, nil
		}
		return c.settled(ctx, w, landed, false)
	}
	if opts.Async {
		out := *w
		out.Operation = opName
		return &out, nil
	}

	var (
		mu       sync.Mutex
		reported bool
		wg       sync.WaitGroup
	)
	// announce reports the new revision once, when it is known.
	announce := func(m proto.Message) bool {
		if opts.Progress == nil || m == nil {
			return false
		}
		rev := newRevisionOf(w, m)
		if rev == "" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if !reported {
			reported = true
			opts.Progress(fmt.Sprintf("Waiting for revision %s to become ready...", rev))
		}
		return true
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Progress != nil && !opts.ValidateOnly {
		switch {
		case ref.Kind == egress.KindJob:
			opts.Progress(fmt.Sprintf("Updating job %s...", ref.Name))
		case !announce(md):
			// The operation's metadata did not name the new revision: read the workload,
			// alongside the wait, to learn it.
			wg.Go(func() {
				if m, err := c.getRaw(waitCtx, ref); err == nil {
					announce(m)
				}
			})
		}
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
	rev = lastSegment(rev)
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

// revisionReady reads a revision of a service or worker pool and returns its Ready condition.
func (c *Clients) revisionReady(ctx context.Context, ref egress.WorkloadRef, revision string) (Condition, error) {
	if err := checkNames(ref, revisionName(revision)); err != nil {
		return Condition{}, err
	}
	cl, err := c.Revisions()
	if err != nil {
		return Condition{}, err
	}
	var rev *runpb.Revision
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		rev, err = cl.GetRevision(ctx, &runpb.GetRevisionRequest{Name: ref.FullName() + "/revisions/" + revision}, noGaxRetry)
		return err
	})
	if err != nil {
		return Condition{}, err
	}
	for _, cond := range rev.GetConditions() {
		if cond.GetType() == "Ready" {
			return conditionFromProto(cond), nil
		}
	}
	return Condition{}, nil
}
