package runapi

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Defaults Cloud Run fills in a job (realapi/run/job-v2-vpcaccess-enum-int.http.log, whose
// Run part is borderline grade B/C; the values match the Cloud Run docs for jobs).
const (
	defaultTaskCount   = 1
	defaultMaxRetries  = 3
	defaultTaskTimeout = 600 * time.Second
)

// How the emulator models a job's VPC settings (the real API's behaviour, as far as public
// reports show it): a job has no revisions, so its create or update operation ends after the
// revision delay with the job Ready, or FAILED_PRECONDITION with the job's Ready condition
// failed when its connector is missing, not READY or in another region, or its Direct VPC
// network or subnetwork cannot be used (the same checks and messages as revisions). Free
// addresses are not looked at then: each execution checks everything again when it starts,
// and takes 2 addresses per running task.

type jobsServer struct {
	runpb.UnimplementedJobsServer
	w   *world.World
	iam *iamStore
}

// prepareJob validates a job as request req carries it and returns a copy with Cloud Run's
// defaults; stored is the current job on updates.
func prepareJob(req string, l loc, in, stored *runpb.Job) (*runpb.Job, error) {
	f := req + ".job"
	et := in.GetTemplate()
	if et == nil {
		return nil, errViolation(f+".template", "required field not present.")
	}
	tt := et.GetTemplate()
	if tt == nil {
		return nil, errViolation(f+".template.template", "required field not present.")
	}
	if err := validateContainers(f+".template.template.containers", tt.GetContainers()); err != nil {
		return nil, err
	}
	if err := validateVPCAccess(f+".template.template.vpc_access", tt.GetVpcAccess(), false); err != nil {
		return nil, err
	}
	if err := checkReservedKeys(f, in, stored, et, stored.GetTemplate()); err != nil {
		return nil, err
	}
	if et.GetTaskCount() < 0 {
		return nil, errViolation(f+".template.task_count", "must not be negative.")
	}
	if et.GetParallelism() < 0 {
		return nil, errViolation(f+".template.parallelism", "must not be negative.")
	}
	if tt.GetMaxRetries() < 0 {
		return nil, errViolation(f+".template.template.max_retries", "must not be negative.")
	}
	out := proto.Clone(in).(*runpb.Job)
	if out.LaunchStage == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		out.LaunchStage = api.LaunchStage_GA
	}
	if out.Template.TaskCount == 0 {
		out.Template.TaskCount = defaultTaskCount
	}
	t := out.Template.Template
	if t.Retries == nil {
		t.Retries = &runpb.TaskTemplate_MaxRetries{MaxRetries: defaultMaxRetries}
	}
	if t.Timeout == nil {
		t.Timeout = durationpb.New(defaultTaskTimeout)
	}
	if t.ServiceAccount == "" {
		t.ServiceAccount = defaultServiceAccount(l.project)
	}
	if t.ExecutionEnvironment == runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_UNSPECIFIED {
		t.ExecutionEnvironment = runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2
	}
	t.VpcAccess = normalizeVPCAccess(t.VpcAccess)
	defaultContainers(t.Containers, false)
	return out, nil
}

func newJob(w *world.World, l loc, id string, spec *runpb.Job) *runpb.Job {
	j := proto.Clone(spec).(*runpb.Job)
	copyFields(j, &runpb.Job{}, jobOutputFields)
	now := stamp(w, nil)
	j.Name = l.parent() + "/jobs/" + id
	j.Uid, j.Generation, j.CreateTime, j.UpdateTime = world.NewUUID(), 1, now, now
	j.Creator, j.LastModifier = caller, caller
	j.Etag = etagFor(j.Name, now)
	j.Reconciling = true
	j.TerminalCondition = &runpb.Condition{State: runpb.Condition_CONDITION_PENDING}
	// A job that never ran shows an empty latestCreatedExecution (the job log's responses).
	j.LatestCreatedExecution = &runpb.ExecutionReference{}
	return j
}

// scheduleJobReconcileLocked schedules the end of a job change: after the revision delay the
// job's VPC settings are checked and the waiting operations end.
func scheduleJobReconcileLocked(w *world.World, name string) {
	w.AfterLocked(w.ConfigLocked().RevisionReady, func() { reconcileJobLocked(w, name) })
}

func reconcileJobLocked(w *world.World, name string) {
	j, ok := w.S.Jobs[name]
	if !ok || !j.Reconciling {
		return
	}
	l, _, err := parseName(name, "jobs")
	if err != nil {
		return
	}
	var opErr *status.Status
	if _, fail := checkVPCLocked(w, l, j.GetTemplate().GetTemplate().GetVpcAccess()); fail != nil {
		completeLocked(w, jobStatus(j), runpb.Condition_CONDITION_FAILED, fail.msg, fail.reason)
		opErr = opError(codes.FailedPrecondition, fail.msg)
	} else {
		completeLocked(w, jobStatus(j), runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED)
	}
	finishOpsLocked(w, waitingOpsLocked(w, j.ProtoReflect().Descriptor().FullName(), name), j, opErr)
}

// jobs is the Job kind: it has no revisions; its changes end when its VPC settings are
// checked, and it owns executions.
var jobs = &kind[*runpb.Job]{
	name: kindJob, collection: "jobs", message: "Job", field: "job",
	outputOnly: jobOutputFields,
	store:      func(s *world.State) map[string]*runpb.Job { return s.Jobs },
	status:     jobStatus,
	prepare: func(req string, l loc, _ string, in, stored *runpb.Job) (*runpb.Job, error) {
		return prepareJob(req, l, in, stored)
	},
	build:          newJob,
	reconcile:      func(w *world.World, name, _ string) { scheduleJobReconcileLocked(w, name) },
	removeChildren: removeExecutionsLocked,
}

func (s *jobsServer) CreateJob(_ context.Context, req *runpb.CreateJobRequest) (*longrunningpb.Operation, error) {
	return jobs.create(s.w, req.GetParent(), req.GetJobId(), req.GetJob(), req.GetValidateOnly())
}

func (s *jobsServer) GetJob(_ context.Context, req *runpb.GetJobRequest) (*runpb.Job, error) {
	return jobs.get(s.w, req.GetName())
}

func (s *jobsServer) ListJobs(_ context.Context, req *runpb.ListJobsRequest) (*runpb.ListJobsResponse, error) {
	page, next, err := jobs.list(s.w, req)
	if err != nil {
		return nil, err
	}
	return &runpb.ListJobsResponse{Jobs: page, NextPageToken: next}, nil
}

// UpdateJob replaces the job's desired state (the API has no update mask for jobs).
func (s *jobsServer) UpdateJob(_ context.Context, req *runpb.UpdateJobRequest) (*longrunningpb.Operation, error) {
	return jobs.update(s.w, change[*runpb.Job]{in: req.GetJob(), allowMissing: req.GetAllowMissing(), validateOnly: req.GetValidateOnly()})
}

// DeleteJob deletes a job and its executions (running ones stop).
func (s *jobsServer) DeleteJob(_ context.Context, req *runpb.DeleteJobRequest) (*longrunningpb.Operation, error) {
	return jobs.delete(s.w, s.iam, req.GetName(), req.GetEtag(), req.GetValidateOnly())
}

// RunJob starts an execution of the job; the operation ends when the execution completes.
func (s *jobsServer) RunJob(_ context.Context, req *runpb.RunJobRequest) (*longrunningpb.Operation, error) {
	l, id, err := parseName(req.GetName(), "jobs")
	if err != nil {
		return nil, err
	}
	if ov := req.GetOverrides(); ov != nil {
		if ov.GetTaskCount() < 0 {
			return nil, errViolation("RunJobRequest.overrides.task_count", "must not be negative.")
		}
		if ov.GetTimeout() != nil && ov.GetTimeout().AsDuration() < 0 {
			return nil, errViolation("RunJobRequest.overrides.timeout", "must not be negative.")
		}
	}
	s.w.Lock()
	defer s.w.Unlock()
	_, j, err := jobs.findLocked(s.w, req.GetName(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	if t := j.GetTerminalCondition(); t.GetState() == runpb.Condition_CONDITION_FAILED {
		return nil, status.Errorf(codes.FailedPrecondition, "Job '%s' is not ready: %s", id, t.GetMessage())
	}
	e, err := newExecutionLocked(s.w, j, req.GetOverrides())
	if err != nil {
		return nil, err
	}
	if req.GetValidateOnly() {
		return doneOp(s.w, l, e), nil
	}
	s.w.S.Executions[e.Name] = e
	j.ExecutionCount++
	j.LatestCreatedExecution = &runpb.ExecutionReference{Name: e.Name, CreateTime: e.CreateTime, CompletionStatus: runpb.ExecutionReference_EXECUTION_RUNNING}
	s.w.MarkChangedLocked()
	op := opFor(s.w, l, e)
	name := e.Name
	s.w.AfterLocked(0, func() { startExecutionLocked(s.w, name) })
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

// applyOverrides applies RunJob's overrides to an execution's task template and task count.
func applyOverrides(t *runpb.TaskTemplate, taskCount *int32, ov *runpb.RunJobRequest_Overrides) error {
	if ov == nil {
		return nil
	}
	if ov.GetTaskCount() > 0 {
		*taskCount = ov.GetTaskCount()
	}
	if ov.GetTimeout() != nil {
		t.Timeout = proto.Clone(ov.GetTimeout()).(*durationpb.Duration)
	}
	for i, co := range ov.GetContainerOverrides() {
		var c *runpb.Container
		for _, cc := range t.Containers {
			if cc.GetName() == co.GetName() || (co.GetName() == "" && len(t.Containers) == 1) {
				c = cc
				break
			}
		}
		if c == nil {
			return errViolation(fmt.Sprintf("RunJobRequest.overrides.container_overrides[%d].name", i), fmt.Sprintf("no container named %q in the job.", co.GetName()))
		}
		if len(co.GetArgs()) > 0 || co.GetClearArgs() {
			c.Args = append([]string(nil), co.GetArgs()...)
		}
		for _, ev := range co.GetEnv() {
			replaced := false
			for k, old := range c.Env {
				if old.GetName() == ev.GetName() {
					c.Env[k] = proto.Clone(ev).(*runpb.EnvVar)
					replaced = true
				}
			}
			if !replaced {
				c.Env = append(c.Env, proto.Clone(ev).(*runpb.EnvVar))
			}
		}
	}
	return nil
}

func (s *jobsServer) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.getPolicy(ctx, s.w, req.GetResource(), jobs)
}

func (s *jobsServer) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.setPolicy(ctx, s.w, req, jobs)
}

func (s *jobsServer) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return s.iam.testPermissions(ctx, s.w, req, jobs)
}
