package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

const (
	tProject = "demo-project"
	tRegion  = "asia-northeast1"
	tLoc     = "projects/" + tProject + "/locations/" + tRegion
	tConn    = tLoc + "/connectors/run-connector"
)

func i32(v int32) *int32 { return &v }

func TestWorkloadFromService(t *testing.T) {
	s := &runpb.Service{
		Name: tLoc + "/services/web",
		Template: &runpb.RevisionTemplate{
			VpcAccess: &runpb.VpcAccess{Connector: tConn, Egress: runpb.VpcAccess_ALL_TRAFFIC},
			Scaling:   &runpb.RevisionScaling{MinInstanceCount: 1, MaxInstanceCount: 20},
		},
		Traffic: []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "web-00001-abc", Percent: 90},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 10, Tag: "canary"},
		},
		TrafficStatuses: []*runpb.TrafficTargetStatus{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "web-00001-abc", Percent: 100},
		},
		LatestReadyRevision:   tLoc + "/services/web/revisions/web-00001-abc",
		LatestCreatedRevision: tLoc + "/services/web/revisions/web-00002-def",
		Etag:                  "etag-1",
		Reconciling:           true,
		TerminalCondition: &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_FAILED, Message: "boom",
			Reasons: &runpb.Condition_Reason{Reason: runpb.Condition_REVISION_FAILED}},
	}
	w, err := WorkloadFromProto(s)
	if err != nil {
		t.Fatal(err)
	}
	want := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "web"}
	if w.Ref != want {
		t.Errorf("Ref = %+v, want %+v", w.Ref, want)
	}
	if w.Raw != s {
		t.Errorf("Raw is not the message read")
	}
	if w.VPC.Connector != tConn || w.VPC.Egress != egress.EgressAllTraffic {
		t.Errorf("VPC = %+v", w.VPC)
	}
	if w.MaxInstances != 20 || w.MinInstances != 1 {
		t.Errorf("instances = %d..%d, want 1..20", w.MinInstances, w.MaxInstances)
	}
	if w.LatestReady != "web-00001-abc" || w.LatestCreated != "web-00002-def" || !w.RevisionsDiffer() {
		t.Errorf("revisions = %q, %q", w.LatestReady, w.LatestCreated)
	}
	if w.Etag != "etag-1" || !w.Reconciling {
		t.Errorf("etag %q reconciling %v", w.Etag, w.Reconciling)
	}
	wantT := []egress.TrafficTarget{{Revision: "web-00001-abc", Percent: 90}, {Latest: true, Percent: 10, Tag: "canary"}}
	if fmt.Sprint(w.Traffic) != fmt.Sprint(wantT) {
		t.Errorf("Traffic = %+v, want %+v", w.Traffic, wantT)
	}
	if len(w.TrafficStatus) != 1 || w.TrafficStatus[0].Percent != 100 {
		t.Errorf("TrafficStatus = %+v", w.TrafficStatus)
	}
	if w.Terminal != (Condition{Type: "Ready", State: ConditionFailed, Reason: "REVISION_FAILED", Message: "boom"}) {
		t.Errorf("Terminal = %+v", w.Terminal)
	}
	if w.Rollout() != RolloutFailed {
		t.Errorf("Rollout = %s", w.Rollout())
	}
}

func TestServiceInstances(t *testing.T) {
	tests := []struct {
		name     string
		tmpl     *runpb.RevisionScaling
		svc      *runpb.ServiceScaling
		max, min int
	}{
		{"nothing set", nil, nil, 0, 0},
		{"template only", &runpb.RevisionScaling{MaxInstanceCount: 10}, nil, 10, 0},
		{"service only", nil, &runpb.ServiceScaling{MaxInstanceCount: 7, MinInstanceCount: 2}, 7, 2},
		{"service caps template", &runpb.RevisionScaling{MaxInstanceCount: 10}, &runpb.ServiceScaling{MaxInstanceCount: 4}, 4, 0},
		{"template below service", &runpb.RevisionScaling{MaxInstanceCount: 3, MinInstanceCount: 1}, &runpb.ServiceScaling{MaxInstanceCount: 4}, 3, 1},
		{"manual", &runpb.RevisionScaling{MaxInstanceCount: 10}, &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_MANUAL, ManualInstanceCount: i32(5)}, 5, 5},
		{"manual mode without a count", &runpb.RevisionScaling{MaxInstanceCount: 10}, &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_MANUAL}, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &runpb.Service{Template: &runpb.RevisionTemplate{Scaling: tt.tmpl}, Scaling: tt.svc}
			if max, min := serviceInstances(s); max != tt.max || min != tt.min {
				t.Errorf("serviceInstances = %d, %d; want %d, %d", max, min, tt.max, tt.min)
			}
		})
	}
}

func TestWorkloadFromJob(t *testing.T) {
	tests := []struct {
		parallelism, tasks int32
		want               int
	}{
		{0, 0, 0}, {0, 5, 5}, {3, 0, 3}, {3, 10, 3}, {10, 3, 3},
	}
	for _, tt := range tests {
		j := &runpb.Job{
			Name: tLoc + "/jobs/export",
			Template: &runpb.ExecutionTemplate{Parallelism: tt.parallelism, TaskCount: tt.tasks, Template: &runpb.TaskTemplate{
				VpcAccess: &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: "s"}}},
			}},
			LatestCreatedExecution: &runpb.ExecutionReference{Name: tLoc + "/jobs/export/executions/export-x1"},
			Etag:                   "e",
		}
		w, err := WorkloadFromProto(j)
		if err != nil {
			t.Fatal(err)
		}
		if w.MaxInstances != tt.want {
			t.Errorf("parallelism %d, tasks %d: MaxInstances = %d, want %d", tt.parallelism, tt.tasks, w.MaxInstances, tt.want)
		}
		if w.Ref.Kind != egress.KindJob || w.Ref.Name != "export" || w.VPC.Subnet != "s" || w.LatestExecution != "export-x1" {
			t.Errorf("job = %+v", w)
		}
		if w.LatestReady != "" || w.RevisionsDiffer() || w.Rollout() != RolloutDone {
			t.Errorf("a job has no revisions: %+v", w)
		}
	}
}

func TestWorkloadFromWorkerPool(t *testing.T) {
	p := &runpb.WorkerPool{
		Name:     tLoc + "/workerPools/queue",
		Template: &runpb.WorkerPoolRevisionTemplate{VpcAccess: &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "n"}}}},
		Scaling:  &runpb.WorkerPoolScaling{ManualInstanceCount: i32(4)},
		InstanceSplits: []*runpb.InstanceSplit{
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 100},
		},
		LatestReadyRevision:   tLoc + "/workerPools/queue/revisions/queue-00001-abc",
		LatestCreatedRevision: tLoc + "/workerPools/queue/revisions/queue-00001-abc",
		TerminalCondition:     &runpb.Condition{Type: "Ready", State: runpb.Condition_CONDITION_SUCCEEDED},
	}
	w, err := WorkloadFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if w.Ref.Kind != egress.KindWorkerPool || w.Ref.Name != "queue" || w.MaxInstances != 4 || w.VPC.Network != "n" {
		t.Errorf("worker pool = %+v", w)
	}
	if len(w.Traffic) != 1 || !w.Traffic[0].Latest || w.Traffic[0].Percent != 100 {
		t.Errorf("Traffic = %+v", w.Traffic)
	}
	if w.Rollout() != RolloutDone || w.Terminal.State != ConditionSucceeded {
		t.Errorf("Rollout = %s, Terminal = %+v", w.Rollout(), w.Terminal)
	}
}

func TestWorkloadFromProtoErrors(t *testing.T) {
	for _, m := range []proto.Message{
		nil,
		&runpb.Revision{},
		&runpb.Service{Name: "web"},
		&runpb.Service{Name: tLoc + "/jobs/web"},
		&runpb.Job{Name: tLoc + "/services/web"},
		&runpb.WorkerPool{Name: "projects/p/locations/r/workerPools/x"},
	} {
		if w, err := WorkloadFromProto(m); err == nil {
			t.Errorf("WorkloadFromProto(%v) = %+v, want an error", m, w)
		}
	}
}

func TestRollout(t *testing.T) {
	tests := []struct {
		w    Workload
		want string
	}{
		{Workload{}, RolloutDone},
		{Workload{Terminal: Condition{State: ConditionSucceeded}}, RolloutDone},
		{Workload{Terminal: Condition{State: ConditionPending}}, RolloutInProgress},
		{Workload{Terminal: Condition{State: ConditionReconciling}}, RolloutInProgress},
		{Workload{Terminal: Condition{State: ConditionFailed}}, RolloutFailed},
		{Workload{Workload: egress.Workload{Reconciling: true}}, RolloutInProgress},
		{Workload{Workload: egress.Workload{LatestReady: "a", LatestCreated: "b"}}, RolloutInProgress},
		{Workload{Workload: egress.Workload{LatestReady: "a", LatestCreated: "b"}, Terminal: Condition{State: ConditionFailed}}, RolloutFailed},
		{Workload{Workload: egress.Workload{LatestReady: "a", LatestCreated: "a"}, Terminal: Condition{State: ConditionSucceeded}}, RolloutDone},
	}
	for i, tt := range tests {
		if got := tt.w.Rollout(); got != tt.want {
			t.Errorf("%d: Rollout() = %s, want %s", i, got, tt.want)
		}
	}
}

func TestErrorMessagesAndCodes(t *testing.T) {
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "web"}
	api := status.Error(codes.NotFound, "Resource 'web' does not exist.")
	e := apiErr(`read service "web"`, api)
	if got, want := e.Error(), `read service "web": Resource 'web' does not exist. (NOT_FOUND)`; got != want {
		t.Errorf("APIError = %q, want %q", got, want)
	}
	if !IsNotFound(e) || IsNotFound(apiErr("x", status.Error(codes.PermissionDenied, "no"))) {
		t.Errorf("IsNotFound is wrong")
	}
	if c := ExitCode(apiErr("x", status.Error(codes.PermissionDenied, "no"))); c != exitcode.Permission {
		t.Errorf("permission denied exits %d", c)
	}
	if apiErr("x", nil) != nil {
		t.Errorf("apiErr(nil) is not nil")
	}

	re := &RolloutError{Ref: ref, Revision: "web-00002-abc", Reason: "no connector",
		Serving: []egress.TrafficTarget{{Revision: "web-00001-xyz", Percent: 100}, {Revision: "web-00002-abc", Percent: 0, Tag: "t"}},
		Err:     &OperationError{Operation: "op", Status: status.New(codes.FailedPrecondition, "Revision 'web-00002-abc' is not ready")}}
	want := "revision web-00002-abc of service \"web\" did not become ready: no connector\nTraffic still goes to revision web-00001-xyz (100%)."
	if re.Error() != want {
		t.Errorf("RolloutError = %q, want %q", re.Error(), want)
	}
	if ExitCode(re) != exitcode.Failure || status.Code(re) != codes.FailedPrecondition {
		t.Errorf("RolloutError exits %d with code %v", ExitCode(re), status.Code(re))
	}
	je := &RolloutError{Ref: egress.WorkloadRef{Kind: egress.KindJob, Name: "j"}, Reason: "no connector"}
	if je.Error() != `job "j" is not ready after the update: no connector` {
		t.Errorf("job RolloutError = %q", je.Error())
	}
}

// ---- Against the emulator, through the real client libraries.

// newEmulator serves a fresh emulator seeded with seed (quick timings) and returns clients
// pointed at it.
func newEmulator(t *testing.T, seed string) (*emulator.Emulator, *Clients) {
	t.Helper()
	e, err := emulator.New(emulator.Options{Seed: seed, LRODuration: 10 * time.Millisecond, RevisionReady: 30 * time.Millisecond, IPRelease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Serve(l) }()
	t.Cleanup(func() { _ = e.Close() })
	c := New(context.Background(), Config{EmulatorHost: l.Addr().String()})
	t.Cleanup(func() { _ = c.Close() })
	return e, c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serviceRef(name string) egress.WorkloadRef {
	return egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: name}
}

// waitOp waits for a Run operation started by a test.
func waitOp(t *testing.T, ctx context.Context, c operationWaiter, name string) {
	t.Helper()
	if err := waitLongPoll(ctx, c, &longrunningpb.Operation{Name: name}, nil, nil); err != nil {
		t.Fatalf("operation %s: %v", name, err)
	}
}

// richService is a service with every kind of setting runnet must leave alone.
func richService() *runpb.Service {
	return &runpb.Service{
		Description: "the shop front",
		Labels:      map[string]string{"team": "web", "env": "prod"},
		Annotations: map[string]string{"example.com/owner": "alice"},
		Ingress:     runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER,
		Scaling:     &runpb.ServiceScaling{MinInstanceCount: 1},
		Template: &runpb.RevisionTemplate{
			Labels:      map[string]string{"rev": "yes"},
			Annotations: map[string]string{"example.com/note": "keep me"},
			Scaling:     &runpb.RevisionScaling{MinInstanceCount: 1, MaxInstanceCount: 7},
			Timeout:     durationpb.New(42 * time.Second),
			VpcAccess:   &runpb.VpcAccess{Connector: tConn, Egress: runpb.VpcAccess_ALL_TRAFFIC},
			Containers: []*runpb.Container{{
				Name:  "app",
				Image: emulator.DemoImage,
				Args:  []string{"--port", "8080"},
				Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
				Env: []*runpb.EnvVar{
					{Name: "PLAIN", Values: &runpb.EnvVar_Value{Value: "1"}},
					{Name: "SECRET", Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{
						SecretKeyRef: &runpb.SecretKeySelector{Secret: "db-password", Version: "3"}}}},
				},
				Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "2", "memory": "1Gi"}},
			}},
			MaxInstanceRequestConcurrency: 40,
		},
		Traffic: []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100, Tag: "current"},
		},
	}
}

func createService(t *testing.T, ctx context.Context, c *Clients, id string, s *runpb.Service) {
	t.Helper()
	cl, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	op, err := cl.CreateService(ctx, &runpb.CreateServiceRequest{Parent: tLoc, ServiceId: id, Service: s})
	if err != nil {
		t.Fatalf("create service %s: %v", id, err)
	}
	waitOp(t, ctx, cl, op.Name())
}

func createWorkerPool(t *testing.T, ctx context.Context, c *Clients, id string) {
	t.Helper()
	cl, err := c.WorkerPools()
	if err != nil {
		t.Fatal(err)
	}
	op, err := cl.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: tLoc, WorkerPoolId: id, WorkerPool: &runpb.WorkerPool{
		Labels: map[string]string{"kind": "queue"},
		Template: &runpb.WorkerPoolRevisionTemplate{
			Containers: []*runpb.Container{{Image: emulator.DemoImage, Env: []*runpb.EnvVar{{Name: "Q", Values: &runpb.EnvVar_Value{Value: "jobs"}}}}},
		},
		Scaling: &runpb.WorkerPoolScaling{ManualInstanceCount: i32(2)},
	}})
	if err != nil {
		t.Fatalf("create worker pool %s: %v", id, err)
	}
	waitOp(t, ctx, cl, op.Name())
}

// outputOnly lists the output-only fields of services, jobs and worker pools (the proto's
// "Output only" comments), which change with every update.
var outputOnly = []protoreflect.Name{
	"uid", "generation", "create_time", "update_time", "delete_time", "expire_time", "creator",
	"last_modifier", "urls", "observed_generation", "terminal_condition", "conditions",
	"latest_ready_revision", "latest_created_revision", "traffic_statuses", "uri", "satisfies_pzs",
	"reconciling", "etag", "execution_count", "latest_created_execution", "instance_split_statuses",
}

// masked returns m without its output-only fields and its template's vpc_access: what must not
// change when runnet changes a workload's VPC access.
func masked(m proto.Message) proto.Message {
	c := proto.Clone(m)
	r := c.ProtoReflect()
	for _, n := range outputOnly {
		if fd := r.Descriptor().Fields().ByName(n); fd != nil {
			r.Clear(fd)
		}
	}
	switch x := c.(type) {
	case *runpb.Service:
		x.Template.VpcAccess = nil
	case *runpb.WorkerPool:
		x.Template.VpcAccess = nil
	case *runpb.Job:
		x.Template.Template.VpcAccess = nil
	}
	return c
}

func assertOnlyVPCChanged(t *testing.T, before, after proto.Message) {
	t.Helper()
	if !proto.Equal(masked(before), masked(after)) {
		t.Errorf("fields other than vpc_access changed:\nbefore:\n%s\nafter:\n%s",
			prototext.Format(masked(before)), prototext.Format(masked(after)))
	}
}

// update changes w's VPC access as attach does: through the write path, from w as read.
func update(ctx context.Context, c *Clients, w *Workload, vpc egress.VPC, u egress.Update) (*Workload, error) {
	u.VPC = &vpc
	s, err := (&Platform{C: c}).Update(ctx, Snapshot(w), u)
	if err != nil {
		return nil, err
	}
	return s.Handle.(*Workload), nil
}

func TestUpdateChangesOnlyVPCAccess(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	createService(t, ctx, c, "shop", richService())
	createWorkerPool(t, ctx, c, "queue")

	direct := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoDirectSubnet, Tags: []string{"web"}}
	steps := []struct {
		name string
		vpc  egress.VPC
	}{
		{"attach direct", direct},
		{"switch to the connector", egress.VPC{Connector: emulator.DemoConnector, Egress: egress.EgressAllTraffic}},
		{"detach", egress.VPC{}},
		{"attach direct again", direct},
	}
	for _, ref := range []egress.WorkloadRef{
		serviceRef("shop"),
		serviceRef(emulator.DemoService),
		{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: emulator.DemoJob},
		{Kind: egress.KindWorkerPool, Project: tProject, Region: tRegion, Name: "queue"},
	} {
		t.Run(ref.String(), func(t *testing.T) {
			for _, st := range steps {
				if ref.Kind == egress.KindWorkerPool && st.vpc.Mode() == egress.ModeConnector {
					continue
				}
				before, err := c.GetWorkload(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				after, err := update(ctx, c, before, st.vpc, egress.Update{})
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				want, _ := st.vpc.Canonical(tProject, tRegion)
				if same, _ := after.VPC.Equivalent(want, tProject, tRegion); !same {
					t.Errorf("%s: VPC = %v, want %v", st.name, after.VPC, want)
				}
				if after.Operation == "" {
					t.Errorf("%s: no operation name", st.name)
				}
				reread, err := c.GetWorkload(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				assertOnlyVPCChanged(t, before.Raw, reread.Raw)
				if ref.Kind != egress.KindJob && (reread.LatestReady != reread.LatestCreated || reread.LatestReady == before.LatestReady) {
					t.Errorf("%s: revisions %s -> ready %s, created %s", st.name, before.LatestReady, reread.LatestReady, reread.LatestCreated)
				}
				if reread.Rollout() != RolloutDone {
					t.Errorf("%s: rollout %s (%+v)", st.name, reread.Rollout(), reread.Terminal)
				}
			}
		})
	}
}

// Someone else changes the VPC access after runnet read the service: the update is refused
// (exit 5) and their change stands.
func TestUpdateConcurrentChange(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	w, err := c.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := c.Services()
	other := proto.Clone(w.Raw).(*runpb.Service)
	other.Template.VpcAccess.Egress = runpb.VpcAccess_ALL_TRAFFIC
	op, err := cl.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: other})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, ctx, cl, op.Name())

	_, err = update(ctx, c, w, egress.VPC{Subnet: emulator.DemoDirectSubnet}, egress.Update{})
	if !errors.Is(err, egress.ErrConflict) || ExitCode(err) != exitcode.Conflict || status.Code(err) != codes.Aborted {
		t.Fatalf("update after a concurrent change = %v (exit %d), want a conflict, exit 5", err, ExitCode(err))
	}
	now, err := c.GetWorkload(ctx, w.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if now.VPC.Connector == "" || !now.VPC.Egress.IsAllTraffic() {
		t.Errorf("the other change was overwritten: %v", prototext.Format(now.Raw))
	}
}

func TestUpdateRolloutFailure(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	w, err := c.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if err != nil {
		t.Fatal(err)
	}
	_, err = update(ctx, c, w, egress.VPC{Connector: "missing"}, egress.Update{})
	var re *RolloutError
	if !errors.As(err, &re) {
		t.Fatalf("update = %v, want a *RolloutError", err)
	}
	wantReason := "VPC connector " + tLoc + "/connectors/missing does not exist, or Cloud Run does not have permission to use it."
	if re.Reason != wantReason {
		t.Errorf("Reason = %q, want %q", re.Reason, wantReason)
	}
	if re.Revision == "" || re.Revision == w.LatestReady || !strings.HasPrefix(re.Revision, "run-service-00002-") {
		t.Errorf("Revision = %q", re.Revision)
	}
	if len(re.Serving) != 1 || re.Serving[0].Revision != w.LatestReady || re.Serving[0].Percent != 100 {
		t.Errorf("Serving = %+v, want %s at 100%%", re.Serving, w.LatestReady)
	}
	if re.Operation == "" || re.Workload == nil || re.Workload.Rollout() != RolloutFailed {
		t.Errorf("RolloutError = %+v", re)
	}
	if ExitCode(err) != exitcode.Failure {
		t.Errorf("exit %d", ExitCode(err))
	}

	// A retry with a new revision fails the same way; once the connector is right it works.
	again, _ := c.GetWorkload(ctx, w.Ref)
	if _, err := update(ctx, c, again, egress.VPC{Connector: "missing"}, egress.Update{ForceNewRevision: true}); !errors.As(err, &re) || !strings.HasPrefix(re.Revision, "run-service-00003-") {
		t.Errorf("retry = %v", err)
	}
	again, _ = c.GetWorkload(ctx, w.Ref)
	if ok, err := update(ctx, c, again, egress.VPC{Connector: emulator.DemoConnector}, egress.Update{}); err != nil || ok.Rollout() != RolloutDone {
		t.Errorf("recovery = %v, %v", ok, err)
	}
}

func TestUpdateValidateOnlyNoWaitProgress(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	ref := serviceRef(emulator.DemoService)
	w, err := c.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	direct := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoDirectSubnet}
	p := &Platform{C: c, Progress: func(_ egress.WorkloadRef, s string) { t.Errorf("progress %q with validate only", s) }}
	v, err := p.Update(ctx, Snapshot(w), egress.Update{VPC: &direct, ValidateOnly: true})
	if err != nil || v.VPC.Mode() != egress.ModeDirect {
		t.Fatalf("validate only = %+v, %v", v, err)
	}
	if now, _ := c.GetWorkload(ctx, ref); now.VPC.Mode() != egress.ModeConnector || now.LatestCreated != w.LatestCreated {
		t.Errorf("validate only changed the service: %+v", now.VPC)
	}
	// validate_only still checks: a worker pool's connector is refused by the adapter itself.
	wp := &Workload{Workload: egress.Workload{Ref: egress.WorkloadRef{Kind: egress.KindWorkerPool, Project: tProject, Region: tRegion, Name: "q"}}, Raw: &runpb.WorkerPool{}}
	if _, err := update(ctx, c, wp, egress.VPC{Connector: "conn"}, egress.Update{ValidateOnly: true}); status.Code(err) != codes.InvalidArgument || !errors.Is(err, egress.ErrNotApplied) {
		t.Errorf("worker pool with a connector = %v", err)
	}
	// Jobs have no traffic.
	job := &Workload{Workload: egress.Workload{Ref: egress.WorkloadRef{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: "j"}}, Raw: &runpb.Job{}}
	if _, err := update(ctx, c, job, egress.VPC{}, egress.Update{Traffic: []egress.TrafficTarget{}}); err == nil {
		t.Errorf("traffic for a job was accepted")
	}

	// NoWait (--async): back at once with the operation's name; the rollout goes on.
	t0 := e.Timing()
	slow := t0
	slow.RevisionReady = time.Hour
	e.SetTiming(slow)
	start := time.Now()
	a, err := update(ctx, c, w, direct, egress.Update{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Second || !strings.Contains(a.Operation, "/operations/") {
		t.Errorf("no wait = %+v after %v", a, time.Since(start))
	}
	now, _ := c.GetWorkload(ctx, ref)
	if now.Rollout() != RolloutInProgress || !now.RevisionsDiffer() {
		t.Errorf("after no wait: rollout %s", now.Rollout())
	}
	e.SetTiming(t0)
	e.Advance(2 * time.Hour)

	// Progress names the new revision once, before the result.
	var mu sync.Mutex
	var msgs []string
	waitAsync(t, ctx, c, ref)
	w2, _ := c.GetWorkload(ctx, ref)
	p = &Platform{C: c, ReadToAnnounce: true, Progress: func(_ egress.WorkloadRef, s string) {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, s)
	}}
	conn := egress.VPC{Connector: emulator.DemoConnector}
	res, err := p.Update(ctx, Snapshot(w2), egress.Update{VPC: &conn})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "Waiting for revision " + res.LatestReady + " to become ready..."
	if len(msgs) != 1 || msgs[0] != want {
		t.Errorf("progress = %q, want [%q]", msgs, want)
	}
}

// waitAsync waits until ref's rollout is no longer in progress.
func waitAsync(t *testing.T, ctx context.Context, c *Clients, ref egress.WorkloadRef) {
	t.Helper()
	for {
		w, err := c.GetWorkload(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if w.Rollout() != RolloutInProgress {
			return
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetAndListWorkloads(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	_, err := c.GetWorkload(ctx, serviceRef("nope"))
	if !IsNotFound(err) || !strings.Contains(err.Error(), `read service "nope" in project demo-project, region asia-northeast1: `) || !strings.HasSuffix(err.Error(), "(NOT_FOUND)") {
		t.Errorf("GetWorkload(nope) = %v", err)
	}
	if _, err := c.GetWorkload(ctx, egress.WorkloadRef{Kind: egress.KindService, Name: "x"}); err == nil {
		t.Errorf("GetWorkload accepted an invalid ref")
	}
	// A transient failure of a read is retried.
	f, _ := emulator.ParseFault("google.cloud.run.v2.Services/GetService=UNAVAILABLE:2")
	e.InjectFault(f)
	if _, err := c.GetWorkload(ctx, serviceRef(emulator.DemoService)); err != nil {
		t.Errorf("GetWorkload with 2 transient failures: %v", err)
	}

	// More services than one page holds, a worker pool: every page of every kind.
	cl, _ := c.Services()
	const extra = 104
	var wg sync.WaitGroup
	errs := make(chan error, extra)
	for i := range extra {
		wg.Go(func() {
			_, err := cl.CreateService(ctx, &runpb.CreateServiceRequest{Parent: tLoc, ServiceId: fmt.Sprintf("svc-%03d", i), Service: &runpb.Service{
				Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: emulator.DemoImage}}},
			}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	createWorkerPool(t, ctx, c, "queue")
	ws, err := c.ListWorkloads(ctx, tProject, tRegion)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != extra+3 {
		t.Fatalf("ListWorkloads = %d workloads, want %d", len(ws), extra+3)
	}
	if ws[0].Ref.Name != emulator.DemoService || ws[extra].Ref.Name != "svc-103" || ws[extra+1].Ref.Kind != egress.KindJob || ws[extra+2].Ref.Kind != egress.KindWorkerPool {
		t.Errorf("order: %s %s %s %s", ws[0].Ref, ws[extra].Ref, ws[extra+1].Ref, ws[extra+2].Ref)
	}
	if empty, err := c.ListWorkloads(ctx, tProject, "us-central1"); err != nil || len(empty) != 0 {
		t.Errorf("another region: %v, %v", empty, err)
	}
	if _, err := c.ListWorkloads(ctx, "", tRegion); err == nil {
		t.Errorf("ListWorkloads without a project")
	}
	f, _ = emulator.ParseFault("google.cloud.run.v2.Jobs/ListJobs=PERMISSION_DENIED:1")
	e.InjectFault(f)
	if _, err := c.ListWorkloads(ctx, tProject, tRegion); ExitCode(err) != exitcode.Permission || !strings.Contains(err.Error(), "list jobs in project demo-project") {
		t.Errorf("ListWorkloads with a denied list = %v", err)
	}
}
