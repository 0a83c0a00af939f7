package cloud

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

var testConnRef = egress.ConnectorRef{Project: "p-123456", Region: "asia-northeast1", Name: "conn"}

func TestConnectorFromProto(t *testing.T) {
	c, err := connectorFromProto(&vpcaccesspb.Connector{
		Name:   "projects/p-123456/locations/asia-northeast1/connectors/conn",
		Subnet: &vpcaccesspb.Connector_Subnet{Name: "conn-subnet", ProjectId: "host-project"},
		State:  vpcaccesspb.Connector_READY, MachineType: "f1-micro", MinInstances: 2, MaxInstances: 3,
		MinThroughput: 200, MaxThroughput: 300, ConnectedProjects: []string{"p-123456"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "conn" || c.Project != "p-123456" || c.Region != "asia-northeast1" || c.State != ConnectorReady ||
		c.FullName != testConnRef.FullName() || c.MachineType != "f1-micro" || c.MinInstances != 2 || c.MaxInstances != 3 ||
		c.MaxThroughput != 300 || c.Subnet == nil || c.Subnet.ProjectID != "host-project" || c.ConnectedProjects[0] != "p-123456" {
		t.Errorf("connector = %+v", c)
	}
	if c.Ref() != testConnRef {
		t.Errorf("ref = %+v", c.Ref())
	}
	if got := c.SubnetPath(); got != "projects/host-project/regions/asia-northeast1/subnetworks/conn-subnet" {
		t.Errorf("subnet path = %s", got)
	}
	f := c.Facts("10.15.0.0/28")
	if f.Name != c.FullName || !f.Exists || f.State != "READY" || f.SourceRange() != "10.15.0.0/28" || f.Subnet != c.SubnetPath() {
		t.Errorf("facts = %+v", f)
	}

	c, err = connectorFromProto(&vpcaccesspb.Connector{Name: "projects/p-123456/locations/asia-northeast1/connectors/c2",
		Network: "run-vpc", IpCidrRange: "10.8.1.0/28", Subnet: &vpcaccesspb.Connector_Subnet{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != "" || c.Subnet != nil || c.SubnetPath() != "" || c.NetworkName() != "run-vpc" {
		t.Errorf("connector = %+v", c)
	}
	if _, err := connectorFromProto(&vpcaccesspb.Connector{Name: "garbage"}); err == nil {
		t.Error("a bad name from the API was accepted")
	}
}

func TestConnectorSpecDefaultsAndProto(t *testing.T) {
	s := ConnectorSpec{Ref: testConnRef, IPCIDRRange: "10.8.1.0/28"}.withDefaults()
	if s.Network != DefaultConnectorNetwork || s.MachineType != "e2-micro" || s.MinInstances != 2 || s.MaxInstances != 10 {
		t.Errorf("defaults = %+v", s)
	}
	pc := s.proto()
	if pc.GetNetwork() != "default" || pc.GetIpCidrRange() != "10.8.1.0/28" || pc.GetSubnet() != nil || pc.GetMaxInstances() != 10 {
		t.Errorf("proto = %v", pc)
	}
	s = ConnectorSpec{Ref: testConnRef, Subnet: &ConnectorSubnet{Name: "sn", ProjectID: "host-project"}, MinInstances: 3, MaxInstances: 4}.withDefaults()
	pc = s.proto()
	if s.Network != "" || pc.GetNetwork() != "" || pc.GetSubnet().GetName() != "sn" || pc.GetSubnet().GetProjectId() != "host-project" || pc.GetMinInstances() != 3 {
		t.Errorf("subnet spec proto = %v", pc)
	}
}

func TestConnectorSpecDifferences(t *testing.T) {
	base := &Connector{Name: "conn", Project: "p-123456", Region: "asia-northeast1",
		Network:     "https://www.googleapis.com/compute/v1/projects/p-123456/global/networks/run-vpc",
		IPCIDRRange: "10.8.1.0/28", MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10}
	same := ConnectorSpec{Ref: testConnRef, Network: "run-vpc", IPCIDRRange: "10.8.1.0/28"}
	if d := same.Differences(base); len(d) != 0 {
		t.Errorf("same spec differs: %v", d)
	}
	other := ConnectorSpec{Ref: testConnRef, Network: "other", IPCIDRRange: "10.8.2.0/28", MachineType: "f1-micro", MinInstances: 3, MaxInstances: 4}
	got := strings.Join(other.Differences(base), "; ")
	want := "ipCidrRange is 10.8.1.0/28, not 10.8.2.0/28; network is projects/p-123456/global/networks/run-vpc, not projects/p-123456/global/networks/other; machineType is e2-micro, not f1-micro; minInstances is 2, not 3; maxInstances is 10, not 4"
	if got != want {
		t.Errorf("differences:\n got %s\nwant %s", got, want)
	}

	inSubnet := &Connector{Name: "conn", Project: "p-123456", Region: "asia-northeast1", Subnet: &ConnectorSubnet{Name: "sn"},
		MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10}
	if d := (ConnectorSpec{Ref: testConnRef, Subnet: &ConnectorSubnet{Name: "sn", ProjectID: "p-123456"}}).Differences(inSubnet); len(d) != 0 {
		t.Errorf("same subnet (project defaulted) differs: %v", d)
	}
	d := ConnectorSpec{Ref: testConnRef, IPCIDRRange: "10.8.1.0/28", Network: "run-vpc"}.Differences(inSubnet)
	if got := strings.Join(d, "; "); !strings.Contains(got, "ipCidrRange is not set, not 10.8.1.0/28") ||
		!strings.Contains(got, "subnet is projects/p-123456/regions/asia-northeast1/subnetworks/sn, where none was asked for") {
		t.Errorf("range vs subnet: %s", got)
	}
}

func TestConnectorExistsError(t *testing.T) {
	e := &ConnectorExistsError{Ref: testConnRef, Differences: []string{"maxInstances is 4, not 5"}}
	if !strings.Contains(e.Error(), "connector conn already exists and differs from the one requested: maxInstances is 4, not 5") {
		t.Errorf("message = %s", e)
	}
	if status.Code(e) != codes.AlreadyExists || ExitCode(e) != exitcode.Conflict {
		t.Errorf("code %v, exit %d", status.Code(e), ExitCode(e))
	}
}

func TestConnectorOpError(t *testing.T) {
	st := status.New(codes.InvalidArgument, "Operation failed: Invalid IP CIDR range was provided. It conflicts with an existing subnetwork. Please delete the connector manually.")
	err := connectorOpError("create", testConnRef, &OperationError{Operation: "op", Status: st})
	if !strings.Contains(err.Error(), "runnet connector delete conn") || status.Code(unwrapStatusForTest(err)) != codes.InvalidArgument {
		t.Errorf("error = %v", err)
	}
	err = connectorOpError("delete", testConnRef, &OperationError{Operation: "op", Status: status.New(codes.Internal, "x")})
	if strings.Contains(err.Error(), "runnet connector delete") {
		t.Errorf("delete error suggests delete: %v", err)
	}
}

func unwrapStatusForTest(err error) error {
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return gs.(error)
	}
	return err
}

// ---- Against the emulator.

const createConnectorMethod = "google.cloud.vpcaccess.v1.VpcAccessService/CreateConnector"

func demoConnRef(name string) egress.ConnectorRef {
	return egress.ConnectorRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: name}
}

func TestConnectorLifecycleEmulator(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	ref := demoConnRef("new-conn")
	spec := ConnectorSpec{Ref: ref, Network: emulator.DemoNetwork, IPCIDRRange: "10.8.1.0/28", MaxInstances: 4}

	var progress []string
	conn, err := c.CreateConnector(ctx, spec, WaitOptions{Progress: func(m string) { progress = append(progress, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if conn.State != ConnectorReady || conn.IPCIDRRange != "10.8.1.0/28" || conn.MaxInstances != 4 || conn.MinInstances != 2 || conn.MachineType != "e2-micro" {
		t.Errorf("created = %+v", conn)
	}
	if len(progress) == 0 || !strings.Contains(progress[0], "Creating connector new-conn") {
		t.Errorf("progress = %q", progress)
	}

	// The same create again: success, the connector as it is.
	again, err := c.CreateConnector(ctx, spec, WaitOptions{})
	if err != nil || again.State != ConnectorReady {
		t.Fatalf("repeated create: %+v, %v", again, err)
	}
	// A different one: a conflict naming the difference.
	spec2 := spec
	spec2.MaxInstances = 5
	_, err = c.CreateConnector(ctx, spec2, WaitOptions{})
	var ce *ConnectorExistsError
	if !errors.As(err, &ce) || len(ce.Differences) != 1 || ce.Differences[0] != "maxInstances is 4, not 5" {
		t.Fatalf("different create: %v", err)
	}

	list, err := c.ListConnectors(ctx, emulator.DemoProject, emulator.DemoRegion)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "new-conn,run-connector" {
		t.Errorf("list = %v", names)
	}
	all, err := c.ListConnectorsAllRegions(ctx, emulator.DemoProject)
	if err != nil || len(all) != 2 {
		t.Errorf("all regions: %d connectors, %v", len(all), err)
	}

	if err := c.DeleteConnector(ctx, ref, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetConnector(ctx, ref); !IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
	err = c.DeleteConnector(ctx, ref, WaitOptions{})
	if !IsNotFound(err) || !strings.Contains(err.Error(), `delete connector "new-conn": The connector is not found.`) {
		t.Errorf("delete missing: %v", err)
	}
	_ = e
}

// A create whose response is lost (the connector is made, the caller sees UNAVAILABLE) is
// retried; the retry meets ALREADY_EXISTS with the same spec, which counts as success.
func TestCreateConnectorResponseLostEmulator(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	e.InjectFault(emulator.Fault{Method: createConnectorMethod, Code: codes.Unavailable, Count: 1, AfterCommit: true})
	spec := ConnectorSpec{Ref: demoConnRef("lost"), Subnet: &ConnectorSubnet{Name: emulator.DemoConnectorSubnet + "-x"}}
	// No such subnet: the retry must still report the API's own error, not adopt anything.
	if _, err := c.CreateConnector(ctx, spec, WaitOptions{}); err == nil {
		t.Fatal("create in a missing subnet succeeded")
	}
	e.ClearFaults()
	e.ResetCalls()

	e.InjectFault(emulator.Fault{Method: createConnectorMethod, Code: codes.Unavailable, Count: 1, AfterCommit: true})
	spec = ConnectorSpec{Ref: demoConnRef("lost"), Network: emulator.DemoNetwork, IPCIDRRange: "10.8.2.0/28", MaxInstances: 3}
	conn, err := c.CreateConnector(ctx, spec, WaitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if conn.State != ConnectorReady || conn.MaxInstances != 3 {
		t.Errorf("connector = %+v", conn)
	}
	if n := e.Calls()[createConnectorMethod]; n != 2 {
		t.Errorf("CreateConnector called %d times, want 2", n)
	}
}

func TestCreateConnectorAsyncAndOverlapEmulator(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	tm := e.Timing()
	tm.LRODuration = time.Second
	e.SetTiming(tm)
	conn, err := c.CreateConnector(ctx, ConnectorSpec{Ref: demoConnRef("slow"), Network: emulator.DemoNetwork, IPCIDRRange: "10.8.3.0/28"}, WaitOptions{Async: true})
	if err != nil || conn.State != ConnectorCreating {
		t.Fatalf("async create: %+v, %v", conn, err)
	}
	// A repeated synchronous create adopts the connector and waits for it.
	start := time.Now()
	conn, err = c.CreateConnector(ctx, ConnectorSpec{Ref: demoConnRef("slow"), Network: emulator.DemoNetwork, IPCIDRRange: "10.8.3.0/28"}, WaitOptions{})
	if err != nil || conn.State != ConnectorReady {
		t.Fatalf("adopting create: %+v, %v", conn, err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("waited %v", time.Since(start))
	}

	tm.LRODuration = 10 * time.Millisecond
	e.SetTiming(tm)
	_, err = c.CreateConnector(ctx, ConnectorSpec{Ref: demoConnRef("overlap"), Network: emulator.DemoNetwork, IPCIDRRange: "10.8.0.0/28"}, WaitOptions{})
	if err == nil || status.Code(unwrapStatusForTest(err)) != codes.InvalidArgument || !strings.Contains(err.Error(), "runnet connector delete overlap") {
		t.Fatalf("overlapping create: %v", err)
	}
	got, err := c.GetConnector(ctx, demoConnRef("overlap"))
	if err != nil || got.State != ConnectorError {
		t.Fatalf("overlapping connector: %+v, %v", got, err)
	}
	// Creating it again meets the connector in ERROR: an error saying what to do.
	_, err = c.CreateConnector(ctx, ConnectorSpec{Ref: demoConnRef("overlap"), Network: emulator.DemoNetwork, IPCIDRRange: "10.8.0.0/28"}, WaitOptions{})
	if err == nil || !strings.Contains(err.Error(), "state ERROR") {
		t.Errorf("create over an ERROR connector: %v", err)
	}
}

// ListConnectors follows every page: the emulator, like the API, pages at 100.
func TestListConnectorsAllPagesEmulator(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	const n = 120
	errs := make(chan error, n)
	for i := range n {
		go func() {
			spec := ConnectorSpec{Ref: demoConnRef(fmt.Sprintf("c%03d", i)), Network: emulator.DemoNetwork,
				IPCIDRRange: fmt.Sprintf("10.200.%d.%d/28", i/16, i%16*16)}
			_, err := c.CreateConnector(ctx, spec, WaitOptions{Async: true})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	e.ResetCalls()
	list, err := c.ListConnectors(ctx, emulator.DemoProject, emulator.DemoRegion)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n+1 || list[0].Name != "c000" || list[n].Name != "run-connector" {
		t.Errorf("listed %d connectors, first %s", len(list), list[0].Name)
	}
	if calls := e.Calls()["google.cloud.vpcaccess.v1.VpcAccessService/ListConnectors"]; calls != 2 {
		t.Errorf("ListConnectors called %d times, want 2 pages", calls)
	}
}
