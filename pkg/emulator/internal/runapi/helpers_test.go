package runapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"github.com/googleapis/gax-go/v2"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	testProject = "demo-project"
	testRegion  = "us-central1"
	testParent  = "projects/" + testProject + "/locations/" + testRegion
	testImage   = "us-docker.pkg.dev/cloudrun/container/hello"
)

// env is a world served over gRPC loopback with every Run v2 client connected to it.
type env struct {
	t     *testing.T
	w     *world.World
	ctx   context.Context
	svc   *run.ServicesClient
	revs  *run.RevisionsClient
	jobs  *run.JobsClient
	execs *run.ExecutionsClient
	wps   *run.WorkerPoolsClient
	lro   *lroauto.OperationsClient
}

func newEnv(t *testing.T) *env {
	return newEnvWith(t, servertest.FastConfig)
}

func newEnvWith(t *testing.T, cfg world.Config) *env {
	t.Helper()
	w := servertest.NewWorld(t, cfg)
	addr := servertest.StartGRPC(t, w, Register)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	opts := servertest.GRPCOptions(addr)
	e := &env{t: t, w: w, ctx: ctx}
	var err error
	if e.svc, err = run.NewServicesClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if e.revs, err = run.NewRevisionsClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if e.jobs, err = run.NewJobsClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if e.execs, err = run.NewExecutionsClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if e.wps, err = run.NewWorkerPoolsClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	if e.lro, err = lroauto.NewOperationsClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.svc.Close()
		_ = e.revs.Close()
		_ = e.jobs.Close()
		_ = e.execs.Close()
		_ = e.wps.Close()
		_ = e.lro.Close()
	})
	return e
}

// poller is what the typed operations of the Run client have in common.
type poller[T any] interface {
	Name() string
	Poll(ctx context.Context, opts ...gax.CallOption) (T, error)
}

// await waits on the server for op to finish (WaitOperation, no client-side polling delay)
// and returns its result through the client's own decoding.
func await[T any](e *env, op poller[T]) (T, error) {
	e.t.Helper()
	raw, err := e.lro.WaitOperation(e.ctx, &longrunningpb.WaitOperationRequest{Name: op.Name(), Timeout: durationpb.New(10 * time.Second)})
	if err != nil {
		e.t.Fatalf("WaitOperation(%s): %v", op.Name(), err)
	}
	if !raw.GetDone() {
		e.t.Fatalf("operation %s not done after 10s", op.Name())
	}
	return op.Poll(e.ctx)
}

// mustAwait is await for operations that must succeed.
func mustAwait[T any](e *env, op poller[T]) T {
	e.t.Helper()
	res, err := await(e, op)
	if err != nil {
		e.t.Fatalf("operation %s failed: %v", op.Name(), err)
	}
	return res
}

// wantStatus checks err's gRPC code and (when msg is not empty) its exact message.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %q", code, msg)
	}
	st, ok := status.FromError(err)
	if !ok {
		var se interface{ GRPCStatus() *status.Status }
		if errors.As(err, &se) {
			st = se.GRPCStatus()
		}
	}
	if st.Code() != code {
		t.Fatalf("got code %v (%v), want %v", st.Code(), err, code)
	}
	if msg != "" && st.Message() != msg {
		t.Fatalf("got message\n  %q\nwant\n  %q", st.Message(), msg)
	}
}

// addNetwork puts a VPC network into the world, shaped as the Compute API stores it.
func (e *env) addNetwork(project, name string) {
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Networks[world.GlobalKey(project, name)] = &compute.Network{
		Name: name, SelfLink: computeURL + "projects/" + project + "/global/networks/" + name,
	}
	e.w.MarkChangedLocked()
}

// addSubnet puts a subnetwork of network (in the same project) into the world.
func (e *env) addSubnet(project, region, name, network, cidr string) {
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Subnetworks[world.RegionalKey(project, region, name)] = &compute.Subnetwork{
		Name:        name,
		Network:     computeURL + "projects/" + project + "/global/networks/" + network,
		Region:      computeURL + "projects/" + project + "/regions/" + region,
		IpCidrRange: cidr,
		SelfLink:    computeURL + "projects/" + project + "/regions/" + region + "/subnetworks/" + name,
	}
	e.w.MarkChangedLocked()
}

// addConnector puts a connector into the world, shaped as the VPC Access API stores it.
func (e *env) addConnector(project, region, name, network, cidr string, state vpcaccesspb.Connector_State) string {
	full := "projects/" + project + "/locations/" + region + "/connectors/" + name
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Connectors[full] = &vpcaccesspb.Connector{
		Name: full, Network: network, IpCidrRange: cidr, State: state,
		MinInstances: 2, MaxInstances: 10, MachineType: "e2-micro",
	}
	e.w.MarkChangedLocked()
	return full
}

// locked runs fn with the world lock held.
func (e *env) locked(fn func()) {
	e.w.Lock()
	defer e.w.Unlock()
	fn()
}

// instances returns the running instance count of a revision.
func (e *env) instances(rev string) int {
	var n int
	e.locked(func() { n = e.w.S.Instances[rev] })
	return n
}

// blocks returns (held, releasing) reservations of owner.
func (e *env) blocks(owner string) (held, releasing int) {
	e.locked(func() {
		for _, r := range e.w.S.Reservations {
			if r.Owner != owner {
				continue
			}
			if r.ReleaseAt.IsZero() {
				held++
			} else {
				releasing++
			}
		}
	})
	return held, releasing
}

// basicService is a minimal service with one container and optional VPC access.
func basicService(va *runpb.VpcAccess) *runpb.Service {
	return &runpb.Service{Template: &runpb.RevisionTemplate{
		Containers: []*runpb.Container{{Image: testImage}},
		VpcAccess:  va,
	}}
}

func connectorAccess(name string) *runpb.VpcAccess {
	return &runpb.VpcAccess{Connector: name, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
}

func directAccess(network, subnet string) *runpb.VpcAccess {
	return &runpb.VpcAccess{
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: network, Subnetwork: subnet}},
		Egress:            runpb.VpcAccess_PRIVATE_RANGES_ONLY,
	}
}

// createService creates a service and waits until it is Ready.
func (e *env) createService(id string, s *runpb.Service) *runpb.Service {
	e.t.Helper()
	op, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: id, Service: s})
	if err != nil {
		e.t.Fatalf("CreateService(%s): %v", id, err)
	}
	return mustAwait[*runpb.Service](e, op)
}

// getService reads a service.
func (e *env) getService(id string) *runpb.Service {
	e.t.Helper()
	s, err := e.svc.GetService(e.ctx, &runpb.GetServiceRequest{Name: testParent + "/services/" + id})
	if err != nil {
		e.t.Fatalf("GetService(%s): %v", id, err)
	}
	return s
}

// update sends s and returns the operation.
func (e *env) update(s *runpb.Service) (*run.UpdateServiceOperation, error) {
	return e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: s})
}

// mustUpdate sends s and waits for the operation to succeed.
func (e *env) mustUpdate(s *runpb.Service) *runpb.Service {
	e.t.Helper()
	op, err := e.update(s)
	if err != nil {
		e.t.Fatalf("UpdateService: %v", err)
	}
	return mustAwait[*runpb.Service](e, op)
}

// shortName returns the last segment of a resource name.
func shortName(s string) string { return s[strings.LastIndex(s, "/")+1:] }
