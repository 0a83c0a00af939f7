package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

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
	w.StartupProbe = startupProbe(s.GetTemplate().GetContainers())
	w.LatestReady = egress.ShortName(s.GetLatestReadyRevision())
	w.LatestCreated = egress.ShortName(s.GetLatestCreatedRevision())
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
	w.LatestExecution = egress.ShortName(j.GetLatestCreatedExecution().GetName())
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
	w.LatestReady = egress.ShortName(p.GetLatestReadyRevision())
	w.LatestCreated = egress.ShortName(p.GetLatestCreatedRevision())
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

// startupProbe is the kind of the first container's startup probe (the one that serves; a
// sidecar's probe does not gate requests).
func startupProbe(cs []*runpb.Container) egress.ProbeKind {
	if len(cs) == 0 {
		return ""
	}
	p := cs[0].GetStartupProbe()
	switch {
	case p == nil:
		return egress.ProbeNone
	case p.GetHttpGet() != nil:
		return egress.ProbeHTTP
	case p.GetGrpc() != nil:
		return egress.ProbeGRPC
	case p.GetTcpSocket() != nil:
		return egress.ProbeTCP
	}
	return egress.ProbeNone
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

// annotationsOf returns a pointer to the top-level annotations of a service, job or worker
// pool (their metadata, not their template's), or nil.
func annotationsOf(m proto.Message) *map[string]string {
	switch r := m.(type) {
	case *runpb.Service:
		return &r.Annotations
	case *runpb.Job:
		return &r.Annotations
	case *runpb.WorkerPool:
		return &r.Annotations
	}
	return nil
}

// setAnnotation sets key to value in m's top-level annotations, or removes it when value is
// "".
func setAnnotation(m proto.Message, key, value string) {
	a := annotationsOf(m)
	if a == nil {
		return
	}
	if value == "" {
		delete(*a, key)
		return
	}
	if *a == nil {
		*a = map[string]string{}
	}
	(*a)[key] = value
}

func annotation(m proto.Message, key string) string {
	if a := annotationsOf(m); a != nil {
		return (*a)[key]
	}
	return ""
}

// Journal returns the workload's migration journal annotation (egress.JournalAnnotation), ""
// when it has none.
func (w *Workload) Journal() string {
	if w == nil || w.Raw == nil {
		return ""
	}
	return annotation(w.Raw, egress.JournalAnnotation)
}
