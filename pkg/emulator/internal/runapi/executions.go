package runapi

import (
	"context"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// An execution runs its tasks in waves of `parallelism` tasks (all at once when parallelism is
// 0); each wave takes the revision delay. While it runs, Direct VPC egress holds 2 addresses per
// running task; they are released (after the IP release delay) when it ends.

type executionsServer struct {
	runpb.UnimplementedExecutionsServer
	w *world.World
}

// executionsOfLocked returns the executions of a job, oldest first.
func executionsOfLocked(w *world.World, jobName string) []*runpb.Execution {
	return childrenLocked(w.S.Executions, jobName+"/executions/")
}

// removeExecutionsLocked deletes the executions of the job named jobName; running ones stop
// and the operations waiting on them end.
func removeExecutionsLocked(w *world.World, jobName string) {
	for _, e := range executionsOfLocked(w, jobName) {
		abortWaitingLocked(w, e, e.Name)
		stopLocked(w, e.Name)
		delete(w.S.Executions, e.Name)
	}
}

// parallelTasks is how many tasks of e run at once.
func parallelTasks(e *runpb.Execution) int {
	n := int(e.GetTaskCount())
	if p := int(e.GetParallelism()); p > 0 && p < n {
		return p
	}
	return n
}

// newExecutionLocked builds (without storing) an execution of j named JOB-xxxxx.
func newExecutionLocked(w *world.World, j *runpb.Job, ov *runpb.RunJobRequest_Overrides) (*runpb.Execution, error) {
	l, jobID, err := parseName(j.Name, "jobs")
	if err != nil {
		return nil, err
	}
	et := j.GetTemplate()
	tt := proto.Clone(et.GetTemplate()).(*runpb.TaskTemplate)
	taskCount := et.GetTaskCount()
	if err := applyOverrides(tt, &taskCount, ov); err != nil {
		return nil, err
	}
	var id string
	for {
		id = jobID + "-" + world.RandSuffix(executionSuffixLen)
		if _, ok := w.S.Executions[j.Name+"/executions/"+id]; !ok {
			break
		}
	}
	var prev *timestamppb.Timestamp
	if es := executionsOfLocked(w, j.Name); len(es) > 0 {
		prev = es[len(es)-1].GetCreateTime()
	}
	now := stamp(w, prev)
	name := j.Name + "/executions/" + id
	return &runpb.Execution{
		Name: name, Uid: world.NewUUID(), Creator: caller, Generation: 1,
		Labels: cloneMap(et.GetLabels()), Annotations: cloneMap(et.GetAnnotations()),
		CreateTime: now, UpdateTime: now, LaunchStage: j.GetLaunchStage(), Job: jobID,
		Parallelism: et.GetParallelism(), TaskCount: taskCount, Template: tt, Reconciling: true,
		Conditions: []*runpb.Condition{
			{Type: condResourcesAvailable, State: runpb.Condition_CONDITION_PENDING, LastTransitionTime: now},
			{Type: condStarted, State: runpb.Condition_CONDITION_PENDING, LastTransitionTime: now},
			{Type: condCompleted, State: runpb.Condition_CONDITION_PENDING, LastTransitionTime: now},
		},
		LogUri: logURI(l.project, "cloud_run_job", "job_name/"+jobID+"/execution_name/"+id),
		Etag:   etagFor(name, now),
	}, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// startExecutionLocked starts an execution's tasks: its VPC settings are checked now and
// Direct VPC egress takes addresses for the tasks that run at once.
func startExecutionLocked(w *world.World, name string) {
	e, ok := w.S.Executions[name]
	if !ok || conditionState(e.Conditions, condStarted) != runpb.Condition_CONDITION_PENDING {
		return
	}
	l, _, _, err := parseChildName(name, "executions", "jobs")
	if err != nil {
		return
	}
	running := parallelTasks(e)
	t, fail := checkVPCLocked(w, l, e.GetTemplate().GetVpcAccess())
	if fail == nil && t != nil {
		fail = holdLocked(w, t, name, running)
	}
	if fail != nil {
		setCondition(w, &e.Conditions, condResourcesAvailable, runpb.Condition_CONDITION_FAILED, fail.msg, fail.reason, true)
		setCondition(w, &e.Conditions, condStarted, runpb.Condition_CONDITION_FAILED, fail.msg, fail.reason, true)
		e.FailedCount = e.TaskCount
		endExecutionLocked(w, e, runpb.Condition_CONDITION_FAILED, fail.msg, fail.reason, runpb.ExecutionReference_EXECUTION_FAILED,
			status.New(codes.FailedPrecondition, fail.msg))
		return
	}
	now := timestamppb.New(w.Now())
	e.StartTime = now
	e.RunningCount = int32(running)
	setCondition(w, &e.Conditions, condResourcesAvailable, runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED, true)
	setCondition(w, &e.Conditions, condStarted, runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED, true)
	w.S.Instances[name] = running
	w.MarkChangedLocked()
	waves := (int(e.TaskCount) + running - 1) / max(1, running)
	w.AfterLocked(time.Duration(max(1, waves))*w.ConfigLocked().RevisionReady, func() { completeExecutionLocked(w, name) })
}

func completeExecutionLocked(w *world.World, name string) {
	e, ok := w.S.Executions[name]
	if !ok || conditionState(e.Conditions, condCompleted) != runpb.Condition_CONDITION_PENDING {
		return
	}
	if why := probeFailureLocked(w, e); why != "" { // probe.go
		failProbeLocked(w, e, why)
		return
	}
	e.SucceededCount = e.TaskCount - e.FailedCount - e.CancelledCount
	endExecutionLocked(w, e, runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED, runpb.ExecutionReference_EXECUTION_SUCCEEDED, nil)
}

// endExecutionLocked ends an execution: its tasks stop, its Completed condition and the job's
// reference to it are set, and the RunJob operation ends (with opErr when it failed).
func endExecutionLocked(w *world.World, e *runpb.Execution, state runpb.Condition_State, msg string, reason runpb.Condition_CommonReason, ref runpb.ExecutionReference_CompletionStatus, opErr *status.Status) {
	now := stamp(w, e.UpdateTime)
	e.RunningCount = 0
	e.CompletionTime, e.UpdateTime = now, now
	e.Etag = etagFor(e.Name, now)
	e.Reconciling = false
	e.ObservedGeneration = e.Generation
	setCondition(w, &e.Conditions, condCompleted, state, msg, reason, true)
	if ref == runpb.ExecutionReference_EXECUTION_CANCELLED {
		for _, c := range e.Conditions {
			if c.Type == condCompleted {
				c.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_CANCELLED}
			}
		}
	}
	stopLocked(w, e.Name)
	jobName := e.Name[:strings.Index(e.Name, "/executions/")]
	if j, ok := w.S.Jobs[jobName]; ok && j.GetLatestCreatedExecution().GetName() == e.Name {
		j.LatestCreatedExecution.CompletionTime = now
		j.LatestCreatedExecution.CompletionStatus = ref
	}
	finishOpsLocked(w, waitingOpsLocked(w, e.ProtoReflect().Descriptor().FullName(), e.Name), e, opErr)
	w.MarkChangedLocked()
}

func (s *executionsServer) GetExecution(_ context.Context, req *runpb.GetExecutionRequest) (*runpb.Execution, error) {
	l, _, id, err := parseChildName(req.GetName(), "executions", "jobs")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	e, ok := s.w.S.Executions[req.GetName()]
	if !ok {
		return nil, errNotFound(kindExecution, id, l.region, l.project)
	}
	return proto.Clone(e).(*runpb.Execution), nil
}

// ListExecutions lists a job's executions, newest first.
func (s *executionsServer) ListExecutions(_ context.Context, req *runpb.ListExecutionsRequest) (*runpb.ListExecutionsResponse, error) {
	l, id, err := parseName(req.GetParent(), "jobs")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	if _, ok := s.w.S.Jobs[req.GetParent()]; !ok {
		return nil, errNotFound(kindJob, id, l.region, l.project)
	}
	page, next, err := newestFirst(executionsOfLocked(s.w, req.GetParent()), req)
	if err != nil {
		return nil, err
	}
	return &runpb.ListExecutionsResponse{Executions: page, NextPageToken: next}, nil
}

// lookupExecution finds the execution a Delete or Cancel request names and checks its etag.
func (s *executionsServer) lookupExecution(name, etag string) (loc, *runpb.Execution, error) {
	l, _, id, err := parseChildName(name, "executions", "jobs")
	if err != nil {
		return loc{}, nil, err
	}
	e, ok := s.w.S.Executions[name]
	if !ok {
		return loc{}, nil, errNotFound(kindExecution, id, l.region, l.project)
	}
	if err := checkEtag(etag, e.GetEtag(), kindExecution); err != nil {
		return loc{}, nil, err
	}
	return l, e, nil
}

// cancelLocked stops a running execution: its unfinished tasks count as cancelled.
func cancelLocked(w *world.World, e *runpb.Execution) {
	e.CancelledCount = e.TaskCount - e.SucceededCount - e.FailedCount
	const msg = "The execution was cancelled."
	endExecutionLocked(w, e, runpb.Condition_CONDITION_FAILED, msg, runpb.Condition_COMMON_REASON_UNDEFINED,
		runpb.ExecutionReference_EXECUTION_CANCELLED, status.New(codes.Canceled, msg))
}

func (s *executionsServer) CancelExecution(_ context.Context, req *runpb.CancelExecutionRequest) (*longrunningpb.Operation, error) {
	s.w.Lock()
	defer s.w.Unlock()
	l, e, err := s.lookupExecution(req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	if conditionState(e.Conditions, condCompleted) != runpb.Condition_CONDITION_PENDING {
		return nil, status.Errorf(codes.FailedPrecondition, "Execution '%s' has already completed.", lastSegment(e.Name))
	}
	if req.GetValidateOnly() {
		return doneOp(s.w, l, e), nil
	}
	cancelLocked(s.w, e)
	return doneOp(s.w, l, e), nil
}

func (s *executionsServer) DeleteExecution(_ context.Context, req *runpb.DeleteExecutionRequest) (*longrunningpb.Operation, error) {
	s.w.Lock()
	defer s.w.Unlock()
	l, e, err := s.lookupExecution(req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	gone := proto.Clone(e).(*runpb.Execution)
	now := stamp(s.w, e.UpdateTime)
	gone.DeleteTime, gone.UpdateTime = now, now
	gone.ExpireTime = timestamppb.New(now.AsTime().Add(deleteRetention))
	gone.Etag = etagFor(gone.Name, now)
	if req.GetValidateOnly() {
		return doneOp(s.w, l, gone), nil
	}
	if conditionState(e.Conditions, condCompleted) == runpb.Condition_CONDITION_PENDING {
		cancelLocked(s.w, e)
	}
	stopLocked(s.w, e.Name)
	delete(s.w.S.Executions, e.Name)
	s.w.MarkChangedLocked()
	return doneOp(s.w, l, gone), nil
}
