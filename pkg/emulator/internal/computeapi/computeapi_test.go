package computeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	testProject = "test-project"
	testRegion  = "asia-northeast1"
)

// env is an emulated Compute API and a real client pointed at it.
type env struct {
	w    *world.World
	svc  *compute.Service
	addr string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, servertest.FastConfig)
}

func newEnvWith(t *testing.T, cfg world.Config) *env {
	t.Helper()
	w := servertest.NewWorld(t, cfg)
	api := New(w)
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("/batch/compute/v1", Batch(api))
	addr := servertest.StartHTTP(t, mux)
	svc, err := compute.NewService(context.Background(), servertest.ComputeOptions(addr)...)
	if err != nil {
		t.Fatalf("compute.NewService: %v", err)
	}
	return &env{w: w, svc: svc, addr: addr}
}

// wait waits for op with operations.wait and returns it DONE.
func (e *env) wait(t *testing.T, op *compute.Operation) *compute.Operation {
	t.Helper()
	ctx := context.Background()
	project := strings.Split(strings.TrimPrefix(op.SelfLink, linkBase), "/")[1]
	for op.Status != "DONE" {
		var err error
		if op.Region != "" {
			op, err = e.svc.RegionOperations.Wait(project, path.Base(op.Region), op.Name).Context(ctx).Do()
		} else {
			op, err = e.svc.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		}
		if err != nil {
			t.Fatalf("wait %s: %v", op.Name, err)
		}
	}
	return op
}

// ok returns a function that waits for the operation a call returned and fails the test if
// the call or the operation failed: e.ok(t)(e.svc.Networks.Insert(...).Do()).
func (e *env) ok(t *testing.T) func(*compute.Operation, error) *compute.Operation {
	return func(op *compute.Operation, err error) *compute.Operation {
		t.Helper()
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		op = e.wait(t, op)
		if op.Error != nil {
			b, _ := json.Marshal(op.Error)
			t.Fatalf("operation %s failed: %s", op.Name, b)
		}
		return op
	}
}

func (e *env) network(t *testing.T, project, name string, auto bool) {
	t.Helper()
	e.ok(t)(e.svc.Networks.Insert(project, &compute.Network{
		Name: name, AutoCreateSubnetworks: auto, ForceSendFields: []string{"AutoCreateSubnetworks"},
	}).Do())
}

func (e *env) subnet(t *testing.T, project, region, name, network, cidr string) *compute.Subnetwork {
	t.Helper()
	e.ok(t)(e.svc.Subnetworks.Insert(project, region, &compute.Subnetwork{
		Name: name, Network: "projects/" + project + "/global/networks/" + network, IpCidrRange: cidr,
	}).Do())
	sn, err := e.svc.Subnetworks.Get(project, region, name).Do()
	if err != nil {
		t.Fatalf("get subnetwork %s: %v", name, err)
	}
	return sn
}

// rawGet fetches a path below /compute/v1/ with net/http and returns the status and body.
func (e *env) raw(t *testing.T, method, p string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+e.addr+"/compute/v1/"+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, p, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// wantErr checks that err is a Compute error with the status, reason and (when not empty)
// exact message.
func wantErr(t *testing.T, err error, status int, reason, msg string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error = %v, want a googleapi.Error %d %s", err, status, reason)
	}
	if ge.Code != status {
		t.Errorf("status = %d, want %d (%s)", ge.Code, status, ge.Message)
	}
	if len(ge.Errors) != 1 || ge.Errors[0].Reason != reason {
		t.Errorf("errors = %+v, want one with reason %q", ge.Errors, reason)
	}
	if msg != "" && ge.Message != msg {
		t.Errorf("message =\n  %s\nwant\n  %s", ge.Message, msg)
	}
	if len(ge.Errors) == 1 && ge.Errors[0].Message != ge.Message {
		t.Errorf("errors[0].message = %q, want the top-level message", ge.Errors[0].Message)
	}
}

// tsRE is Compute's timestamp format, e.g. 2024-04-24T19:00:37.739-07:00.
var tsRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[-+]\d\d:\d\d$`)

// opNameRE is the shape of real operation names.
var opNameRE = regexp.MustCompile(`^operation-\d{13}-[0-9a-f]{13}-[0-9a-f]{8}-[0-9a-f]{8}$`)

func TestMethodIDs(t *testing.T) {
	ids := MethodIDs()
	if !sort.StringsAreSorted(ids) {
		t.Errorf("MethodIDs not sorted: %v", ids)
	}
	want := []string{
		"compute.networks.insert", "compute.networks.get", "compute.networks.list", "compute.networks.patch", "compute.networks.delete",
		"compute.subnetworks.insert", "compute.subnetworks.get", "compute.subnetworks.list", "compute.subnetworks.aggregatedList",
		"compute.subnetworks.patch", "compute.subnetworks.setPrivateIpGoogleAccess", "compute.subnetworks.expandIpCidrRange", "compute.subnetworks.delete",
		"compute.routers.insert", "compute.routers.get", "compute.routers.list", "compute.routers.aggregatedList", "compute.routers.patch", "compute.routers.delete",
		"compute.firewalls.insert", "compute.firewalls.get", "compute.firewalls.list", "compute.firewalls.patch", "compute.firewalls.delete",
		"compute.addresses.get", "compute.addresses.list", "compute.addresses.aggregatedList", "compute.addresses.insert", "compute.addresses.delete",
		"compute.globalOperations.get", "compute.globalOperations.wait", "compute.globalOperations.list", "compute.globalOperations.delete",
		"compute.regionOperations.get", "compute.regionOperations.wait", "compute.regionOperations.list", "compute.regionOperations.delete",
		"compute.routes.list", "compute.routes.get", "compute.projects.get",
		"compute.subnetworks.testIamPermissions",
		"compute.globalOperations.aggregatedList", "compute.regions.list", "compute.regions.get", "compute.zones.list", "compute.zones.get",
		// Shared VPC and subnetwork IAM (xpn.go, iam.go)
		"compute.projects.enableXpnHost", "compute.projects.disableXpnHost", "compute.projects.enableXpnResource",
		"compute.projects.disableXpnResource", "compute.projects.getXpnHost", "compute.projects.getXpnResources",
		"compute.projects.listXpnHosts", "compute.subnetworks.getIamPolicy", "compute.subnetworks.setIamPolicy", "compute.subnetworks.listUsable",
	}
	want = append(want, firewallPolicyMethodIDs...) // firewallpolicies_test.go
	for _, id := range want {
		if !contains(ids, id) {
			t.Errorf("MethodIDs lacks %s", id)
		}
	}
	if len(ids) != len(want) {
		t.Errorf("MethodIDs has %d ids, want %d: %v", len(ids), len(want), ids)
	}
}

func TestNetworkLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op, err := e.svc.Networks.Insert(testProject, &compute.Network{
		Name: "vpc", AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"},
		RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"},
	}).Context(ctx).Do()
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if op.Kind != "compute#operation" || op.Status != "RUNNING" || op.Progress != 0 || op.OperationType != "insert" ||
		op.TargetLink != linkBase+"projects/test-project/global/networks/vpc" || op.TargetId == 0 || op.User != operationUser ||
		op.Region != "" || op.EndTime != "" || !tsRE.MatchString(op.InsertTime) || !tsRE.MatchString(op.StartTime) ||
		!opNameRE.MatchString(op.Name) || op.SelfLink != linkBase+"projects/test-project/global/operations/"+op.Name || op.Id == 0 {
		t.Errorf("insert operation = %+v", op)
	}
	// The network appears only when the operation completes.
	if _, err := e.svc.Networks.Get(testProject, "vpc").Do(); err == nil {
		t.Error("network visible before its insert operation completed")
	} else {
		wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/global/networks/vpc' was not found")
	}
	done := e.wait(t, op)
	if done.Status != "DONE" || done.Progress != 100 || !tsRE.MatchString(done.EndTime) || done.Error != nil {
		t.Errorf("completed operation = %+v", done)
	}
	n, err := e.svc.Networks.Get(testProject, "vpc").Do()
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if n.Kind != "compute#network" || n.Id != op.TargetId || n.AutoCreateSubnetworks || !tsRE.MatchString(n.CreationTimestamp) ||
		n.SelfLink != linkBase+"projects/test-project/global/networks/vpc" ||
		n.SelfLinkWithId != linkBase+"projects/test-project/global/networks/"+strconv.FormatUint(n.Id, 10) ||
		n.RoutingConfig == nil || n.RoutingConfig.RoutingMode != "REGIONAL" || n.RoutingConfig.BgpBestPathSelectionMode != "LEGACY" ||
		n.NetworkFirewallPolicyEnforcementOrder != "AFTER_CLASSIC_FIREWALL" || len(n.Subnetworks) != 0 {
		t.Errorf("network = %+v routing %+v", n, n.RoutingConfig)
	}
	// autoCreateSubnetworks false is on the wire.
	if _, b := e.raw(t, "GET", "projects/test-project/global/networks/vpc"); !strings.Contains(string(b), `"autoCreateSubnetworks":false`) {
		t.Errorf("GET body lacks autoCreateSubnetworks:false: %s", b)
	}

	// Patch: routing mode (compute.networks.patch), then ULA IPv6 (updateNetwork).
	op = e.ok(t)(e.svc.Networks.Patch(testProject, "vpc", &compute.Network{RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "GLOBAL"}}).Do())
	if op.OperationType != "compute.networks.patch" {
		t.Errorf("routing patch operationType = %q", op.OperationType)
	}
	op = e.ok(t)(e.svc.Networks.Patch(testProject, "vpc", &compute.Network{EnableUlaInternalIpv6: true}).Do())
	if op.OperationType != "updateNetwork" {
		t.Errorf("IPv6 patch operationType = %q", op.OperationType)
	}
	n, _ = e.svc.Networks.Get(testProject, "vpc").Do()
	if n.RoutingConfig.RoutingMode != "GLOBAL" || !n.EnableUlaInternalIpv6 || !regexp.MustCompile(`^fd20:[0-9a-f]+:[0-9a-f]+:0:0:0:0:0/48$`).MatchString(n.InternalIpv6Range) {
		t.Errorf("patched network = %+v routing %+v", n, n.RoutingConfig)
	}
	_, err = e.svc.Networks.Patch(testProject, "vpc", &compute.Network{Name: "other"}).Do()
	wantErr(t, err, 400, "invalid", "")
	_, err = e.svc.Networks.Patch(testProject, "nope", &compute.Network{Description: "x"}).Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/global/networks/nope' was not found")

	list, err := e.svc.Networks.List(testProject).Do()
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "vpc" || list.Kind != "compute#networkList" {
		t.Errorf("list = %+v, %v", list, err)
	}

	op = e.ok(t)(e.svc.Networks.Delete(testProject, "vpc").Do())
	if op.OperationType != "delete" || op.TargetId != n.Id {
		t.Errorf("delete operation = %+v", op)
	}
	_, err = e.svc.Networks.Get(testProject, "vpc").Do()
	wantErr(t, err, 404, "notFound", "")
	_, err = e.svc.Networks.Delete(testProject, "vpc").Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/global/networks/vpc' was not found")
}

func TestNetworkInsertValidation(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "taken", false)
	for _, tc := range []struct {
		name   string
		n      *compute.Network
		status int
		reason string
		msg    string
	}{
		{"legacy: autoCreateSubnetworks unset", &compute.Network{Name: "legacy"}, 400, "invalid", ""},
		{"legacy: IPv4Range", &compute.Network{Name: "legacy", IPv4Range: "10.0.0.0/16", ForceSendFields: []string{"AutoCreateSubnetworks"}}, 400, "invalid", ""},
		{"bad name", &compute.Network{Name: "Bad_Name", ForceSendFields: []string{"AutoCreateSubnetworks"}}, 400, "invalid",
			"Invalid value for field 'resource.name': 'Bad_Name'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"},
		{"bad routing mode", &compute.Network{Name: "x", RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "LOCAL"}, ForceSendFields: []string{"AutoCreateSubnetworks"}}, 400, "invalid", ""},
		{"bad mtu", &compute.Network{Name: "x", Mtu: 100, ForceSendFields: []string{"AutoCreateSubnetworks"}}, 400, "invalid", ""},
		{"taken", &compute.Network{Name: "taken", ForceSendFields: []string{"AutoCreateSubnetworks"}}, 409, "alreadyExists",
			"The resource 'projects/test-project/global/networks/taken' already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Networks.Insert(testProject, tc.n).Do()
			wantErr(t, err, tc.status, tc.reason, tc.msg)
		})
	}
	// A name whose insert is still running is taken too.
	e.w.SetConfig(world.Config{LRODuration: time.Hour, IPRelease: time.Minute})
	op, err := e.svc.Networks.Insert(testProject, &compute.Network{Name: "slow", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Networks.Insert(testProject, &compute.Network{Name: "slow", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()
	wantErr(t, err, 409, "alreadyExists", "The resource 'projects/test-project/global/networks/slow' already exists")
	// A subnetwork cannot be added to a network still being created.
	_, err = e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{Name: "s", Network: "global/networks/slow", IpCidrRange: "10.0.0.0/24"}).Do()
	wantErr(t, err, 400, "resourceNotReady", "The resource 'projects/test-project/global/networks/slow' is not ready")
	e.w.Advance(time.Hour)
	if got := e.wait(t, op); got.Error != nil {
		t.Errorf("slow insert failed: %+v", got.Error)
	}
}

func TestAutoModeNetwork(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "auto", true)
	n, err := e.svc.Networks.Get(testProject, "auto").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !n.AutoCreateSubnetworks || len(n.Subnetworks) != len(world.Regions) {
		t.Fatalf("auto network: auto=%v, %d subnetworks, want %d", n.AutoCreateSubnetworks, len(n.Subnetworks), len(world.Regions))
	}
	if want := linkBase + "projects/test-project/regions/asia-east1/subnetworks/auto"; n.Subnetworks[0] != want {
		t.Errorf("first subnetwork link = %s, want %s", n.Subnetworks[0], want)
	}
	sn, err := e.svc.Subnetworks.Get(testProject, "us-central1", "auto").Do()
	if err != nil {
		t.Fatal(err)
	}
	if sn.IpCidrRange != "10.128.0.0/20" || sn.GatewayAddress != "10.128.0.1" || sn.Network != n.SelfLink {
		t.Errorf("us-central1 auto subnet = %+v", sn)
	}
	// Auto subnetworks cannot be deleted one by one; a custom range on an auto network can.
	_, err = e.svc.Subnetworks.Delete(testProject, "us-central1", "auto").Do()
	wantErr(t, err, 400, "invalid", "Invalid resource usage: 'Cannot delete auto subnetworks from an auto subnet mode network.'")
	e.subnet(t, testProject, "us-central1", "extra", "auto", "192.168.0.0/24")
	_, err = e.svc.Networks.Delete(testProject, "auto").Do()
	wantErr(t, err, 400, "resourceInUseByAnotherResource",
		"The network resource 'projects/test-project/global/networks/auto' is already being used by 'projects/test-project/regions/us-central1/subnetworks/extra'")
	e.ok(t)(e.svc.Subnetworks.Delete(testProject, "us-central1", "extra").Do())
	// Deleting the network takes its auto subnetworks with it.
	e.ok(t)(e.svc.Networks.Delete(testProject, "auto").Do())
	e.w.Lock()
	left := len(e.w.S.Subnetworks)
	e.w.Unlock()
	if left != 0 {
		t.Errorf("%d subnetworks left after deleting the auto network", left)
	}
}

func TestOperationsGetWaitListDelete(t *testing.T) {
	cfg := servertest.FastConfig
	cfg.LRODuration = 150 * time.Millisecond
	e := newEnvWith(t, cfg)
	op, err := e.svc.Networks.Insert(testProject, &compute.Network{Name: "vpc", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GlobalOperations.Get(testProject, op.Name).Do()
	if err != nil || got.Status != "RUNNING" || got.Name != op.Name {
		t.Fatalf("get running op = %+v, %v", got, err)
	}
	// wait blocks until the operation is done, and no longer.
	start := time.Now()
	got, err = e.svc.GlobalOperations.Wait(testProject, op.Name).Do()
	took := time.Since(start)
	if err != nil || got.Status != "DONE" {
		t.Fatalf("wait = %+v, %v", got, err)
	}
	if took > 2*time.Second {
		t.Errorf("wait took %v for a %v operation", took, cfg.LRODuration)
	}
	// On a done operation it returns at once.
	start = time.Now()
	if got, err = e.svc.GlobalOperations.Wait(testProject, op.Name).Do(); err != nil || got.Status != "DONE" {
		t.Fatalf("wait on done op = %+v, %v", got, err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("wait on a done operation took %v", took)
	}

	// Regional operations.
	sop, err := e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/24"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if sop.Region != linkBase+"projects/test-project/regions/"+testRegion ||
		sop.SelfLink != linkBase+"projects/test-project/regions/"+testRegion+"/operations/"+sop.Name {
		t.Errorf("regional op = %+v", sop)
	}
	if _, err := e.svc.GlobalOperations.Get(testProject, sop.Name).Do(); err == nil {
		t.Error("a regional operation is visible as a global one")
	}
	if got, err := e.svc.RegionOperations.Wait(testProject, testRegion, sop.Name).Do(); err != nil || got.Status != "DONE" {
		t.Fatalf("regional wait = %+v, %v", got, err)
	}
	if got, err := e.svc.RegionOperations.Get(testProject, testRegion, sop.Name).Do(); err != nil || got.Status != "DONE" {
		t.Fatalf("regional get = %+v, %v", got, err)
	}
	rl, err := e.svc.RegionOperations.List(testProject, testRegion).Do()
	if err != nil || len(rl.Items) != 1 || rl.Items[0].Name != sop.Name || rl.Kind != "compute#operationList" {
		t.Errorf("regional list = %+v, %v", rl, err)
	}
	gl, err := e.svc.GlobalOperations.List(testProject).Do()
	if err != nil || len(gl.Items) != 1 || gl.Items[0].Name != op.Name {
		t.Errorf("global list = %+v, %v", gl, err)
	}
	fl, err := e.svc.GlobalOperations.List(testProject).Filter(`operationType eq delete`).Do()
	if err != nil || len(fl.Items) != 0 {
		t.Errorf("filtered global list = %+v, %v", fl, err)
	}
	if err := e.svc.RegionOperations.Delete(testProject, testRegion, sop.Name).Do(); err != nil {
		t.Fatalf("regional delete: %v", err)
	}
	_, err = e.svc.RegionOperations.Get(testProject, testRegion, sop.Name).Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/regions/asia-northeast1/operations/"+sop.Name+"' was not found")
	if err := e.svc.GlobalOperations.Delete(testProject, op.Name).Do(); err != nil {
		t.Fatalf("global delete: %v", err)
	}
	_, err = e.svc.GlobalOperations.Wait(testProject, op.Name).Do()
	wantErr(t, err, 404, "notFound", "The resource 'projects/test-project/global/operations/"+op.Name+"' was not found")
}

// Deleting a running operation's record does not stop the change it stands for.
func TestDeletedOperationStillApplies(t *testing.T) {
	e := newEnvWith(t, world.Config{LRODuration: time.Hour, IPRelease: time.Minute})
	op, err := e.svc.Networks.Insert(testProject, &compute.Network{Name: "vpc", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.GlobalOperations.Delete(testProject, op.Name).Do(); err != nil {
		t.Fatal(err)
	}
	e.w.Advance(time.Hour)
	if _, err := e.svc.Networks.Get(testProject, "vpc").Do(); err != nil {
		t.Errorf("network not created after its deleted operation ran: %v", err)
	}
}

func TestRequestIDIdempotency(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	const rid = "3f2a8c1e-4b7d-4e8a-9c0f-1a2b3c4d5e6f"
	sn := &compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/24"}
	op1, err := e.svc.Subnetworks.Insert(testProject, testRegion, sn).RequestId(rid).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op1.ClientOperationId != rid {
		t.Errorf("clientOperationId = %q, want %q", op1.ClientOperationId, rid)
	}
	e.wait(t, op1)
	// The same request again returns the same operation rather than a 409.
	op2, err := e.svc.Subnetworks.Insert(testProject, testRegion, sn).RequestId(rid).Do()
	if err != nil {
		t.Fatalf("repeated insert: %v", err)
	}
	if op2.Name != op1.Name || op2.Id != op1.Id || op2.Status != "DONE" {
		t.Errorf("repeated insert returned %s (%s), want %s", op2.Name, op2.Status, op1.Name)
	}
	// Without the request id the repeat is a new request, and the name is taken.
	_, err = e.svc.Subnetworks.Insert(testProject, testRegion, sn).Do()
	wantErr(t, err, 409, "alreadyExists", "The resource 'projects/test-project/regions/asia-northeast1/subnetworks/s' already exists")
	// Deletes are idempotent the same way.
	const rid2 = "00000000-0000-4000-8000-000000000001"
	d1 := e.ok(t)(e.svc.Subnetworks.Delete(testProject, testRegion, "s").RequestId(rid2).Do())
	d2, err := e.svc.Subnetworks.Delete(testProject, testRegion, "s").RequestId(rid2).Do()
	if err != nil || d2.Name != d1.Name {
		t.Errorf("repeated delete = %+v, %v; want operation %s", d2, err, d1.Name)
	}
	// Request ids are scoped to the project.
	e.network(t, "other-project", "vpc", false)
	op3, err := e.svc.Subnetworks.Insert("other-project", testRegion, sn).RequestId(rid).Do()
	if err != nil || op3.Name == op1.Name {
		t.Errorf("same request id in another project = %+v, %v", op3, err)
	}
	for _, bad := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		_, err = e.svc.Subnetworks.Insert(testProject, testRegion, sn).RequestId(bad).Do()
		wantErr(t, err, 400, "invalid", "")
	}
}

func TestFaultInjection(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.w.Faults.Add(world.Fault{Method: "compute.subnetworks.insert", Code: codes.Unavailable, Count: 1})
	sn := &compute.Subnetwork{Name: "s", Network: "global/networks/vpc", IpCidrRange: "10.0.0.0/24"}
	_, err := e.svc.Subnetworks.Insert(testProject, testRegion, sn).Do()
	wantErr(t, err, 503, "backendError", "injected fault: UNAVAILABLE on compute.subnetworks.insert")
	e.ok(t)(e.svc.Subnetworks.Insert(testProject, testRegion, sn).Do())

	for _, tc := range []struct {
		code   codes.Code
		status int
		reason string
	}{
		{codes.InvalidArgument, 400, "invalid"},
		{codes.FailedPrecondition, 412, "conditionNotMet"},
		{codes.NotFound, 404, "notFound"},
		{codes.AlreadyExists, 409, "alreadyExists"},
		{codes.Aborted, 409, "aborted"},
		{codes.PermissionDenied, 403, "forbidden"},
		{codes.Unauthenticated, 401, "required"},
		{codes.ResourceExhausted, 429, "rateLimitExceeded"},
		{codes.Internal, 500, "internalError"},
		{codes.DeadlineExceeded, 504, "deadlineExceeded"},
	} {
		e.w.Faults.Add(world.Fault{Method: "compute.subnetworks.get", Code: tc.code, Count: 1, Message: "boom"})
		_, err := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do()
		wantErr(t, err, tc.status, tc.reason, "boom")
	}
	if _, err := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do(); err != nil {
		t.Errorf("get after the faults ran out: %v", err)
	}

	// A fault after commit: the delete happens, the caller sees an error, and a retry with the
	// same request id gets the original operation.
	e.w.Faults.Add(world.Fault{Method: "compute.subnetworks.delete", Code: codes.Unavailable, Count: 1, AfterCommit: true})
	const rid = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
	_, err = e.svc.Subnetworks.Delete(testProject, testRegion, "s").RequestId(rid).Do()
	wantErr(t, err, 503, "backendError", "")
	op := e.ok(t)(e.svc.Subnetworks.Delete(testProject, testRegion, "s").RequestId(rid).Do())
	if op.OperationType != "delete" {
		t.Errorf("retried delete returned %+v", op)
	}
	if _, err := e.svc.Subnetworks.Get(testProject, testRegion, "s").Do(); err == nil {
		t.Error("subnetwork still there after the committed delete")
	}
	if n := e.w.Faults.Calls()["compute.subnetworks.delete"]; n != 2 {
		t.Errorf("compute.subnetworks.delete calls = %d, want 2", n)
	}
}

func TestUnknownPathAndRegion(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"projects/p/global/nothing", "projects/p/zones/z/instances", ""} {
		status, b := e.raw(t, "GET", p)
		var body errorBody
		if err := json.Unmarshal(b, &body); err != nil || status != 404 || body.Error.Code != 404 ||
			len(body.Error.Errors) != 1 || body.Error.Errors[0].Reason != "notFound" || body.Error.Errors[0].Domain != "global" {
			t.Errorf("GET %s = %d %s", p, status, b)
		}
		// The answer names what is served, so an unexpected call is easy to diagnose.
		if !strings.Contains(body.Error.Message, "/compute/v1/"+p+" was not found") || !strings.Contains(body.Error.Message, "compute.subnetworks.insert") {
			t.Errorf("GET %s: message %q does not name the path and the methods served", p, body.Error.Message)
		}
	}
	if status, _ := e.raw(t, "PUT", "projects/p/global/networks/n"); status != 404 {
		t.Errorf("PUT on a network = %d, want 404", status)
	}
	_, err := e.svc.Subnetworks.Get(testProject, "mars-north1", "s").Do()
	wantErr(t, err, 400, "invalid", "Invalid value for field 'region': 'mars-north1'. Unknown region.")
}

// The 404 body is the recorded one, field for field
// (realapi/compute/firewall-crud-patch.http.log).
func TestNotFoundBody(t *testing.T) {
	e := newEnv(t)
	status, b := e.raw(t, "GET", "projects/p1/global/firewalls/fw1?alt=json&prettyPrint=false")
	want := `{"error":{"code":404,"errors":[{"domain":"global","message":"The resource 'projects/p1/global/firewalls/fw1' was not found","reason":"notFound"}],"message":"The resource 'projects/p1/global/firewalls/fw1' was not found"}}`
	var got, exp any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if status != 404 || string(gb) != string(eb) {
		t.Errorf("404 body =\n  %s\nwant\n  %s", gb, eb)
	}
}

func TestProjectGet(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.Projects.Get("demo-project").Do()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "demo-project" || p.Kind != "compute#project" || p.Id == 0 ||
		!regexp.MustCompile(`^\d{12}-compute@developer\.gserviceaccount\.com$`).MatchString(p.DefaultServiceAccount) {
		t.Errorf("project = %+v", p)
	}
	p2, _ := e.svc.Projects.Get("demo-project").Do()
	if p2.DefaultServiceAccount != p.DefaultServiceAccount {
		t.Error("project number is not stable")
	}
}

func TestQueryParametersIgnored(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	for _, q := range []string{"alt=json", "prettyPrint=false", "%24alt=json%3Benum-encoding%3Dint", "alt=json&prettyPrint=true&fields=name"} {
		if status, b := e.raw(t, "GET", "projects/test-project/global/networks/vpc?"+q); status != 200 || !strings.Contains(string(b), `"name":"vpc"`) {
			t.Errorf("GET ?%s = %d %s", q, status, b)
		}
	}
}

func TestUnknownBodyFieldRejected(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("POST", "http://"+e.addr+"/compute/v1/projects/p/global/networks",
		strings.NewReader(`{"name":"n","autoCreateSubnetworks":false,"bogusField":1}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `Unknown name \"bogusField\": Cannot find field.`) {
		t.Errorf("unknown field: %d %s", resp.StatusCode, b)
	}
}

// subnetworks.testIamPermissions grants compute permissions on a subnetwork that exists, and
// is 404 for one that does not.
func TestSubnetworksTestIAMPermissions(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "net", false)
	e.subnet(t, testProject, testRegion, "iam-sub", "net", "10.1.0.0/24")
	resp, err := e.svc.Subnetworks.TestIamPermissions(testProject, testRegion, "iam-sub", &compute.TestPermissionsRequest{Permissions: []string{"compute.subnetworks.use", "run.services.get"}}).Do()
	if err != nil || len(resp.Permissions) != 1 || resp.Permissions[0] != "compute.subnetworks.use" {
		t.Fatalf("%+v, %v", resp, err)
	}
	if _, err := e.svc.Subnetworks.TestIamPermissions(testProject, testRegion, "nope", &compute.TestPermissionsRequest{Permissions: []string{"compute.subnetworks.use"}}).Do(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing subnet: %v", err)
	}
}
