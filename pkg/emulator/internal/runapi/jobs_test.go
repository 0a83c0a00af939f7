package runapi

import (
	"regexp"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func basicJob(va *runpb.VpcAccess) *runpb.Job {
	return &runpb.Job{Template: &runpb.ExecutionTemplate{Template: &runpb.TaskTemplate{
		Containers: []*runpb.Container{{Image: testImage}},
		VpcAccess:  va,
	}}}
}

func (e *env) createJob(id string, j *runpb.Job) *runpb.Job {
	e.t.Helper()
	op, err := e.jobs.CreateJob(e.ctx, &runpb.CreateJobRequest{Parent: testParent, JobId: id, Job: j})
	if err != nil {
		e.t.Fatalf("CreateJob(%s): %v", id, err)
	}
	return mustAwait[*runpb.Job](e, op)
}

func TestJobLifecycle(t *testing.T) {
	e := newEnv(t)
	c1 := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	c2 := e.addConnector(testProject, testRegion, "c2", "vpc", "10.8.0.16/28", vpcaccesspb.Connector_READY)
	job := e.createJob("nightly", basicJob(&runpb.VpcAccess{Connector: c1, Egress: runpb.VpcAccess_ALL_TRAFFIC}))
	tt := job.GetTemplate().GetTemplate()
	if job.GetGeneration() != 1 || job.GetObservedGeneration() != 1 || job.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED ||
		job.GetLaunchStage() != api.LaunchStage_GA || job.GetTemplate().GetTaskCount() != 1 || tt.GetMaxRetries() != 3 ||
		tt.GetTimeout().AsDuration() != 600*time.Second || tt.GetExecutionEnvironment() != runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2 ||
		tt.GetServiceAccount() != defaultServiceAccount(testProject) || tt.GetContainers()[0].GetResources().GetLimits()["memory"] != "512Mi" ||
		job.GetLatestCreatedExecution() == nil || job.GetReconciling() {
		t.Fatalf("job %v", job)
	}

	// Update: switch connectors; etag and generation move.
	job.Template.Template.VpcAccess = &runpb.VpcAccess{Connector: c2, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
	op, err := e.jobs.UpdateJob(e.ctx, &runpb.UpdateJobRequest{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	updated := mustAwait[*runpb.Job](e, op)
	if updated.GetGeneration() != 2 || updated.GetEtag() == job.GetEtag() || updated.GetTemplate().GetTemplate().GetVpcAccess().GetConnector() != c2 {
		t.Fatalf("updated job %v", updated)
	}
	// Stale etag.
	_, err = e.jobs.UpdateJob(e.ctx, &runpb.UpdateJobRequest{Job: job})
	wantStatus(t, err, codes.Aborted, "etag mismatch: the job was modified; read it again and retry")
	// validate_only changes nothing.
	dry := proto.Clone(updated).(*runpb.Job)
	dry.Labels = map[string]string{"x": "y"}
	vop, err := e.jobs.UpdateJob(e.ctx, &runpb.UpdateJobRequest{Job: dry, ValidateOnly: true})
	if err != nil || !vop.Done() {
		t.Fatalf("validate_only: %v", err)
	}
	if got, _ := e.jobs.GetJob(e.ctx, &runpb.GetJobRequest{Name: job.GetName()}); !proto.Equal(got, updated) {
		t.Fatal("validate_only changed the job")
	}

	// Run it.
	rop, err := e.jobs.RunJob(e.ctx, &runpb.RunJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := rop.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(job.GetName()) + `/executions/nightly-[a-z0-9]{5}$`).MatchString(meta.GetName()) {
		t.Fatalf("execution name %q", meta.GetName())
	}
	exec := mustAwait[*runpb.Execution](e, rop)
	if exec.GetSucceededCount() != 1 || exec.GetRunningCount() != 0 || exec.GetCompletionTime() == nil || exec.GetJob() != "nightly" ||
		conditionState(exec.GetConditions(), "Completed") != runpb.Condition_CONDITION_SUCCEEDED || exec.GetReconciling() {
		t.Fatalf("execution %v", exec)
	}
	got, err := e.jobs.GetJob(e.ctx, &runpb.GetJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetExecutionCount() != 1 || got.GetLatestCreatedExecution().GetName() != exec.GetName() ||
		got.GetLatestCreatedExecution().GetCompletionStatus() != runpb.ExecutionReference_EXECUTION_SUCCEEDED {
		t.Fatalf("job after run: %v", got)
	}

	// Executions API.
	gotExec, err := e.execs.GetExecution(e.ctx, &runpb.GetExecutionRequest{Name: exec.GetName()})
	if err != nil || !proto.Equal(gotExec, exec) {
		t.Fatalf("GetExecution: %v", err)
	}
	it := e.execs.ListExecutions(e.ctx, &runpb.ListExecutionsRequest{Parent: job.GetName()})
	if x, err := it.Next(); err != nil || x.GetName() != exec.GetName() {
		t.Fatalf("ListExecutions: %v", err)
	}
	_, err = e.execs.CancelExecution(e.ctx, &runpb.CancelExecutionRequest{Name: exec.GetName()})
	wantStatus(t, err, codes.FailedPrecondition, "Execution '"+shortName(exec.GetName())+"' has already completed.")
	dop, err := e.execs.DeleteExecution(e.ctx, &runpb.DeleteExecutionRequest{Name: exec.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if gone := mustAwait[*runpb.Execution](e, dop); gone.GetDeleteTime() == nil {
		t.Fatal("deleted execution has no delete time")
	}
	_, err = e.execs.GetExecution(e.ctx, &runpb.GetExecutionRequest{Name: exec.GetName()})
	wantStatus(t, err, codes.NotFound, "Resource '"+shortName(exec.GetName())+"' of kind 'EXECUTION' in region 'us-central1' in project 'demo-project' does not exist.")

	// Delete the job.
	jop, err := e.jobs.DeleteJob(e.ctx, &runpb.DeleteJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if gone := mustAwait[*runpb.Job](e, jop); gone.GetDeleteTime() == nil || gone.GetGeneration() != 3 {
		t.Fatalf("deleted job %v", gone)
	}
	_, err = e.jobs.GetJob(e.ctx, &runpb.GetJobRequest{Name: job.GetName()})
	wantStatus(t, err, codes.NotFound, "Resource 'nightly' of kind 'JOB' in region 'us-central1' in project 'demo-project' does not exist.")
}

func TestJobWithMissingConnector(t *testing.T) {
	e := newEnv(t)
	c1 := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	job := e.createJob("batch", basicJob(connectorAccess(c1)))
	missing := testParent + "/connectors/missing"
	want := "VPC connector " + missing + " does not exist, or Cloud Run does not have permission to use it."

	// An update to a missing connector fails, and the job is not ready to run.
	job.Template.Template.VpcAccess = connectorAccess(missing)
	op, err := e.jobs.UpdateJob(e.ctx, &runpb.UpdateJobRequest{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	_, err = await[*runpb.Job](e, op)
	wantStatus(t, err, codes.FailedPrecondition, want)
	got, _ := e.jobs.GetJob(e.ctx, &runpb.GetJobRequest{Name: job.GetName()})
	if got.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_FAILED || got.GetTerminalCondition().GetMessage() != want {
		t.Fatalf("job condition %v", got.GetTerminalCondition())
	}
	_, err = e.jobs.RunJob(e.ctx, &runpb.RunJobRequest{Name: job.GetName()})
	wantStatus(t, err, codes.FailedPrecondition, "Job 'batch' is not ready: "+want)

	// Back to c1, then c1 disappears: the execution fails when it starts.
	got.Template.Template.VpcAccess = connectorAccess(c1)
	op, err = e.jobs.UpdateJob(e.ctx, &runpb.UpdateJobRequest{Job: got})
	if err != nil {
		t.Fatal(err)
	}
	mustAwait[*runpb.Job](e, op)
	e.locked(func() { delete(e.w.S.Connectors, c1); e.w.MarkChangedLocked() })
	rop, err := e.jobs.RunJob(e.ctx, &runpb.RunJobRequest{Name: job.GetName(), Overrides: &runpb.RunJobRequest_Overrides{TaskCount: 3}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = await[*runpb.Execution](e, rop)
	c1Gone := "VPC connector " + c1 + " does not exist, or Cloud Run does not have permission to use it."
	wantStatus(t, err, codes.FailedPrecondition, c1Gone)
	meta, _ := rop.Metadata()
	x, err := e.execs.GetExecution(e.ctx, &runpb.GetExecutionRequest{Name: meta.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if x.GetFailedCount() != 3 || x.GetTaskCount() != 3 || conditionState(x.GetConditions(), "Completed") != runpb.Condition_CONDITION_FAILED ||
		conditionMessage(x.GetConditions(), "Completed") != c1Gone {
		t.Fatalf("failed execution %v", x)
	}
	j, _ := e.jobs.GetJob(e.ctx, &runpb.GetJobRequest{Name: job.GetName()})
	if j.GetLatestCreatedExecution().GetCompletionStatus() != runpb.ExecutionReference_EXECUTION_FAILED {
		t.Fatalf("job's execution reference %v", j.GetLatestCreatedExecution())
	}
}

func TestJobExecutionHoldsAddresses(t *testing.T) {
	e := newEnvWith(t, worldConfigSlowRevisions())
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.0.0.0/24")
	j := basicJob(directAccess("vpc", "run"))
	j.Template.TaskCount = 20
	j.Template.Parallelism = 10
	job := e.createJob("fanout", j)
	rop, err := e.jobs.RunJob(e.ctx, &runpb.RunJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := rop.Metadata()
	// 10 tasks at once hold 20 addresses: 2 blocks.
	if held, _ := e.blocks(meta.GetName()); held != 2 || e.instances(meta.GetName()) != 10 {
		t.Fatalf("running execution: %d blocks, %d instances", held, e.instances(meta.GetName()))
	}
	x := mustAwait[*runpb.Execution](e, rop)
	if x.GetSucceededCount() != 20 || x.GetParallelism() != 10 {
		t.Fatalf("execution %v", x)
	}
	if held, releasing := e.blocks(x.GetName()); held != 0 || releasing != 2 {
		t.Fatalf("finished execution: held %d releasing %d", held, releasing)
	}

	// Cancel a running execution.
	rop, err = e.jobs.RunJob(e.ctx, &runpb.RunJobRequest{Name: job.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ = rop.Metadata()
	e.locked(func() {}) // let the execution start
	cop, err := e.execs.CancelExecution(e.ctx, &runpb.CancelExecutionRequest{Name: meta.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	cancelled := mustAwait[*runpb.Execution](e, cop)
	if cancelled.GetCancelledCount() != 20 || conditionState(cancelled.GetConditions(), "Completed") != runpb.Condition_CONDITION_FAILED {
		t.Fatalf("cancelled execution %v", cancelled)
	}
	_, err = await[*runpb.Execution](e, rop)
	wantStatus(t, err, codes.Canceled, "The execution was cancelled.")
	if held, _ := e.blocks(meta.GetName()); held != 0 {
		t.Fatal("cancelled execution still holds addresses")
	}
	// Overrides: a bad container name.
	_, err = e.jobs.RunJob(e.ctx, &runpb.RunJobRequest{Name: job.GetName(), Overrides: &runpb.RunJobRequest_Overrides{
		ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Name: "nope", Args: []string{"x"}}},
	}})
	wantStatus(t, err, codes.InvalidArgument, "")
}

func TestJobValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		job  *runpb.Job
		msg  string
	}{
		{"both", basicJob(&runpb.VpcAccess{Connector: testParent + "/connectors/c", NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "n"}}}),
			"Violation in CreateJobRequest.job.template.template.vpc_access.connector: one and only one of connector and network_interfaces must be set."},
		{"no task template", &runpb.Job{Template: &runpb.ExecutionTemplate{}},
			"Violation in CreateJobRequest.job.template.template: required field not present."},
		{"no image", &runpb.Job{Template: &runpb.ExecutionTemplate{Template: &runpb.TaskTemplate{Containers: []*runpb.Container{{}}}}},
			"Violation in CreateJobRequest.job.template.template.containers[0].image: required field not present."},
	}
	for _, tc := range cases {
		_, err := e.jobs.CreateJob(e.ctx, &runpb.CreateJobRequest{Parent: testParent, JobId: "j", Job: tc.job})
		wantStatus(t, err, codes.InvalidArgument, tc.msg)
	}
	_, err := e.jobs.CreateJob(e.ctx, &runpb.CreateJobRequest{Parent: testParent, JobId: "Bad", Job: basicJob(nil)})
	wantStatus(t, err, codes.InvalidArgument, "Violation in CreateJobRequest.job_id: "+idRule)
	e.createJob("j", basicJob(nil))
	_, err = e.jobs.CreateJob(e.ctx, &runpb.CreateJobRequest{Parent: testParent, JobId: "j", Job: basicJob(nil)})
	wantStatus(t, err, codes.AlreadyExists, "Resource 'j' already exists.")
	// Paging.
	e.locked(func() {
		for _, id := range []string{"k", "l"} {
			jb := basicJob(nil)
			jb.Name = testParent + "/jobs/" + id
			if _, err := PutJobLocked(e.w, jb); err != nil {
				t.Fatal(err)
			}
		}
	})
	e.w.Faults.ResetCalls()
	it := e.jobs.ListJobs(e.ctx, &runpb.ListJobsRequest{Parent: testParent, PageSize: 1})
	n := 0
	for _, err := it.Next(); err == nil; _, err = it.Next() {
		n++
	}
	if n != 3 || e.w.Faults.Calls()["google.cloud.run.v2.Jobs/ListJobs"] != 3 {
		t.Fatalf("listed %d jobs in %d calls", n, e.w.Faults.Calls()["google.cloud.run.v2.Jobs/ListJobs"])
	}
	// A seeded job with a missing connector is refused.
	e.locked(func() {
		jb := basicJob(connectorAccess(testParent + "/connectors/none"))
		jb.Name = testParent + "/jobs/m"
		if _, err := PutJobLocked(e.w, jb); err == nil {
			t.Error("PutJobLocked accepted a missing connector")
		}
		if _, ok := e.w.S.Jobs[jb.Name]; ok {
			t.Error("refused job was stored")
		}
	})
}
