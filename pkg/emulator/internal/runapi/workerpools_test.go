package runapi

import (
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func basicWorkerPool(va *runpb.VpcAccess, instances int32) *runpb.WorkerPool {
	return &runpb.WorkerPool{
		Template: &runpb.WorkerPoolRevisionTemplate{Containers: []*runpb.Container{{Image: testImage}}, VpcAccess: va},
		Scaling:  &runpb.WorkerPoolScaling{ManualInstanceCount: proto.Int32(instances)},
	}
}

func TestWorkerPools(t *testing.T) {
	e := newEnv(t)
	conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.0.0.0/24")

	_, err := e.wps.CreateWorkerPool(e.ctx, &runpb.CreateWorkerPoolRequest{Parent: testParent, WorkerPoolId: "pool", WorkerPool: basicWorkerPool(connectorAccess(conn), 1)})
	wantStatus(t, err, codes.InvalidArgument, "Violation in CreateWorkerPoolRequest.worker_pool.template.vpc_access.connector: worker pools do not support Serverless VPC Access connectors; use network_interfaces (Direct VPC egress) instead.")

	op, err := e.wps.CreateWorkerPool(e.ctx, &runpb.CreateWorkerPoolRequest{Parent: testParent, WorkerPoolId: "pool", WorkerPool: basicWorkerPool(directAccess("vpc", "run"), 3)})
	if err != nil {
		t.Fatal(err)
	}
	wp := mustAwait[*runpb.WorkerPool](e, op)
	rev := wp.GetLatestReadyRevision()
	if wp.GetObservedGeneration() != 1 || rev == "" || wp.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED ||
		len(wp.GetInstanceSplitStatuses()) != 1 || wp.GetInstanceSplitStatuses()[0].GetPercent() != 100 {
		t.Fatalf("worker pool %v", wp)
	}
	if e.instances(rev) != 3 {
		t.Fatalf("instances %d, want 3", e.instances(rev))
	}
	if held, _ := e.blocks(rev); held != 1 {
		t.Fatalf("3 instances hold %d blocks", held)
	}
	r, err := e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: rev})
	if err != nil || r.GetService() != wp.GetName() || r.GetVpcAccess().GetNetworkInterfaces()[0].GetSubnetwork() != "run" {
		t.Fatalf("worker pool revision %v %v", r, err)
	}

	// More instances, same template: no new revision, more addresses.
	wp.Scaling.ManualInstanceCount = proto.Int32(10)
	uop, err := e.wps.UpdateWorkerPool(e.ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: wp})
	if err != nil {
		t.Fatal(err)
	}
	wp = mustAwait[*runpb.WorkerPool](e, uop)
	if wp.GetLatestCreatedRevision() != rev || e.instances(rev) != 10 {
		t.Fatalf("scaled pool: created %q instances %d", wp.GetLatestCreatedRevision(), e.instances(rev))
	}
	if held, _ := e.blocks(rev); held != 2 {
		t.Fatalf("10 instances hold %d blocks", held)
	}
	// A connector on update is rejected too; a stale etag is aborted.
	bad := proto.Clone(wp).(*runpb.WorkerPool)
	bad.Template.VpcAccess = connectorAccess(conn)
	_, err = e.wps.UpdateWorkerPool(e.ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: bad})
	wantStatus(t, err, codes.InvalidArgument, "Violation in UpdateWorkerPoolRequest.worker_pool.template.vpc_access.connector: worker pools do not support Serverless VPC Access connectors; use network_interfaces (Direct VPC egress) instead.")
	stale := proto.Clone(wp).(*runpb.WorkerPool)
	stale.Etag = `"x/y"`
	_, err = e.wps.UpdateWorkerPool(e.ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: stale})
	wantStatus(t, err, codes.Aborted, "etag mismatch: the worker pool was modified; read it again and retry")

	// A new revision with a failing subnet keeps the old one running.
	wp.Template.VpcAccess = directAccess("vpc", "missing")
	uop, err = e.wps.UpdateWorkerPool(e.ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: wp})
	if err != nil {
		t.Fatal(err)
	}
	_, err = await[*runpb.WorkerPool](e, uop)
	wantStatus(t, err, codes.FailedPrecondition, "")
	got, err := e.wps.GetWorkerPool(e.ctx, &runpb.GetWorkerPoolRequest{Name: wp.GetName()})
	if err != nil || got.GetLatestReadyRevision() != rev || e.instances(rev) != 10 {
		t.Fatalf("after failed revision: %v %v", got, err)
	}

	// IAM on worker pools.
	perms, err := e.wps.TestIamPermissions(e.ctx, &iampb.TestIamPermissionsRequest{Resource: wp.GetName(), Permissions: []string{"run.workerpools.update", "compute.subnetworks.use"}})
	if err != nil || len(perms.GetPermissions()) != 1 {
		t.Fatalf("permissions %v %v", perms, err)
	}

	// List and delete.
	it := e.wps.ListWorkerPools(e.ctx, &runpb.ListWorkerPoolsRequest{Parent: testParent})
	if p, err := it.Next(); err != nil || p.GetName() != wp.GetName() {
		t.Fatalf("list: %v", err)
	}
	dop, err := e.wps.DeleteWorkerPool(e.ctx, &runpb.DeleteWorkerPoolRequest{Name: wp.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	mustAwait[*runpb.WorkerPool](e, dop)
	_, err = e.wps.GetWorkerPool(e.ctx, &runpb.GetWorkerPoolRequest{Name: wp.GetName()})
	wantStatus(t, err, codes.NotFound, "Resource 'pool' of kind 'WORKER_POOL' in region 'us-central1' in project 'demo-project' does not exist.")
	if held, releasing := e.blocks(rev); held != 0 || releasing != 2 {
		t.Fatalf("deleted pool: held %d releasing %d", held, releasing)
	}
}

func TestIAM(t *testing.T) {
	e := newEnv(t)
	svc := e.createService("svc", basicService(nil))
	perms, err := e.svc.TestIamPermissions(e.ctx, &iampb.TestIamPermissionsRequest{
		Resource:    svc.GetName(),
		Permissions: []string{"run.services.update", "run.services.get", "iam.serviceAccounts.actAs", "compute.subnetworks.use"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := perms.GetPermissions(); len(got) != 2 || got[0] != "run.services.update" || got[1] != "run.services.get" {
		t.Fatalf("permissions %v", got)
	}
	p, err := e.svc.GetIamPolicy(e.ctx, &iampb.GetIamPolicyRequest{Resource: svc.GetName()})
	if err != nil || len(p.GetBindings()) != 0 || len(p.GetEtag()) == 0 {
		t.Fatalf("policy %v %v", p, err)
	}
	p.Bindings = []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}
	set, err := e.svc.SetIamPolicy(e.ctx, &iampb.SetIamPolicyRequest{Resource: svc.GetName(), Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.GetIamPolicy(e.ctx, &iampb.GetIamPolicyRequest{Resource: svc.GetName()})
	if err != nil || len(again.GetBindings()) != 1 || string(again.GetEtag()) != string(set.GetEtag()) {
		t.Fatalf("stored policy %v %v", again, err)
	}
	_, err = e.svc.SetIamPolicy(e.ctx, &iampb.SetIamPolicyRequest{Resource: svc.GetName(), Policy: p}) // p has the old etag
	wantStatus(t, err, codes.Aborted, "")
	_, err = e.svc.GetIamPolicy(e.ctx, &iampb.GetIamPolicyRequest{Resource: testParent + "/services/none"})
	wantStatus(t, err, codes.NotFound, "")
	job := e.createJob("j", basicJob(nil))
	jp, err := e.jobs.TestIamPermissions(e.ctx, &iampb.TestIamPermissionsRequest{Resource: job.GetName(), Permissions: []string{"run.jobs.run"}})
	if err != nil || len(jp.GetPermissions()) != 1 {
		t.Fatalf("job permissions %v %v", jp, err)
	}
}

func TestSeedHelpers(t *testing.T) {
	e := newEnv(t)
	conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.0.0.0/24")
	var svc *runpb.Service
	e.locked(func() {
		s := basicService(directAccess("vpc", "run"))
		s.Name = testParent + "/services/seeded"
		var err error
		if svc, err = PutServiceLocked(e.w, s); err != nil {
			t.Fatal(err)
		}
		if _, err := PutServiceLocked(e.w, s); err == nil {
			t.Error("seeded the same service twice")
		}
		bad := basicService(connectorAccess(testParent + "/connectors/missing"))
		bad.Name = testParent + "/services/bad"
		if _, err := PutServiceLocked(e.w, bad); err == nil {
			t.Error("seeded a service whose connector is missing")
		}
		if _, ok := e.w.S.Services[bad.Name]; ok {
			t.Error("refused service was stored")
		}
		wp := basicWorkerPool(directAccess("vpc", "run"), 2)
		wp.Name = testParent + "/workerPools/seeded"
		if _, err := PutWorkerPoolLocked(e.w, wp); err != nil {
			t.Fatal(err)
		}
		j := basicJob(connectorAccess(conn))
		j.Name = testParent + "/jobs/seeded"
		if _, err := PutJobLocked(e.w, j); err != nil {
			t.Fatal(err)
		}
	})
	if svc.GetReconciling() || svc.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED || svc.GetLatestReadyRevision() == "" {
		t.Fatalf("seeded service %v", svc)
	}
	if held, _ := e.blocks(svc.GetLatestReadyRevision()); held != 1 || e.instances(svc.GetLatestReadyRevision()) != 1 {
		t.Fatalf("seeded service: %d blocks", held)
	}
	// The seeded service is served like any other and can be updated.
	got := e.getService("seeded")
	got.Labels = map[string]string{"a": "b"}
	if up := e.mustUpdate(got); up.GetGeneration() != 2 {
		t.Fatalf("update of seeded service: %v", up)
	}
	wp, err := e.wps.GetWorkerPool(e.ctx, &runpb.GetWorkerPoolRequest{Name: testParent + "/workerPools/seeded"})
	if err != nil || e.instances(wp.GetLatestReadyRevision()) != 2 {
		t.Fatalf("seeded worker pool %v %v", wp, err)
	}
	j, err := e.jobs.GetJob(e.ctx, &runpb.GetJobRequest{Name: testParent + "/jobs/seeded"})
	if err != nil || j.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED {
		t.Fatalf("seeded job %v %v", j, err)
	}
}
