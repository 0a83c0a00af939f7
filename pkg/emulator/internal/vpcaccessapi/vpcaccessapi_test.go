package vpcaccessapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/iterator"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	proj    = "proj"
	region  = "us-central1"
	network = "net"
	parent  = "projects/" + proj + "/locations/" + region
)

// slowConfig keeps operations running until the test advances the clock, so intermediate
// states (CREATING, DELETING) can be observed without racing the clock.
var slowConfig = world.Config{LRODuration: time.Hour, RevisionReady: time.Hour, IPRelease: time.Hour}

type env struct {
	t   *testing.T
	ctx context.Context
	w   *world.World
	c   *vpcaccess.Client
	ops *lroauto.OperationsClient
}

func newEnv(t *testing.T, cfg world.Config) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	w := servertest.NewWorld(t, cfg)
	addr := servertest.StartGRPC(t, w, Register)
	c, err := vpcaccess.NewClient(ctx, servertest.GRPCOptions(addr)...)
	if err != nil {
		t.Fatalf("vpcaccess client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ops, err := lroauto.NewOperationsClient(ctx, servertest.GRPCOptions(addr)...)
	if err != nil {
		t.Fatalf("operations client: %v", err)
	}
	t.Cleanup(func() { _ = ops.Close() })
	e := &env{t: t, ctx: ctx, w: w, c: c, ops: ops}
	e.putNetwork(proj, network)
	return e
}

func (e *env) putNetwork(project, name string) {
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Networks[world.GlobalKey(project, name)] = &compute.Network{
		Name:     name,
		SelfLink: "https://www.googleapis.com/compute/v1/projects/" + project + "/global/networks/" + name,
	}
	e.w.MarkChangedLocked()
}

func (e *env) putSubnet(project, region, name, net, cidr string) {
	e.w.Lock()
	defer e.w.Unlock()
	base := "https://www.googleapis.com/compute/v1/projects/" + project
	e.w.S.Subnetworks[world.RegionalKey(project, region, name)] = &compute.Subnetwork{
		Name:        name,
		Network:     base + "/global/networks/" + net,
		Region:      base + "/regions/" + region,
		IpCidrRange: cidr,
		SelfLink:    base + "/regions/" + region + "/subnetworks/" + name,
	}
	e.w.MarkChangedLocked()
}

// create sends CreateConnector and fails the test on a request-time error.
func (e *env) create(id string, c *vpcaccesspb.Connector) *vpcaccess.CreateConnectorOperation {
	e.t.Helper()
	op, err := e.c.CreateConnector(e.ctx, &vpcaccesspb.CreateConnectorRequest{Parent: parent, ConnectorId: id, Connector: c})
	if err != nil {
		e.t.Fatalf("CreateConnector(%s): %v", id, err)
	}
	return op
}

// wait blocks on WaitOperation (served by the shared Operations service) until name is done.
func (e *env) wait(name string) *longrunningpb.Operation {
	e.t.Helper()
	op, err := e.ops.WaitOperation(e.ctx, &longrunningpb.WaitOperationRequest{Name: name, Timeout: durationpb.New(10 * time.Second)})
	if err != nil {
		e.t.Fatalf("WaitOperation(%s): %v", name, err)
	}
	if !op.GetDone() {
		e.t.Fatalf("operation %s not done after WaitOperation", name)
	}
	return op
}

// createReady creates a connector and waits until its operation succeeds.
func (e *env) createReady(id string, c *vpcaccesspb.Connector) *vpcaccesspb.Connector {
	e.t.Helper()
	op := e.wait(e.create(id, c).Name())
	if op.GetError() != nil {
		e.t.Fatalf("create %s failed: %v", id, op.GetError())
	}
	got := &vpcaccesspb.Connector{}
	if err := op.GetResponse().UnmarshalTo(got); err != nil {
		e.t.Fatalf("create %s response: %v", id, err)
	}
	return got
}

func (e *env) get(name string) (*vpcaccesspb.Connector, error) {
	return e.c.GetConnector(e.ctx, &vpcaccesspb.GetConnectorRequest{Name: name})
}

func (e *env) mustGet(name string) *vpcaccesspb.Connector {
	e.t.Helper()
	c, err := e.get(name)
	if err != nil {
		e.t.Fatalf("GetConnector(%s): %v", name, err)
	}
	return c
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || st.Message() != msg {
		t.Fatalf("error = %v, want %v %q", err, code, msg)
	}
}

func rangeConnector(cidr string) *vpcaccesspb.Connector {
	return &vpcaccesspb.Connector{Network: network, IpCidrRange: cidr, MinInstances: 2, MaxInstances: 5}
}

func name(id string) string { return parent + "/connectors/" + id }

func TestCreateWithRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	before := e.w.Now()
	op := e.create("conn-a", rangeConnector("10.8.0.0/28"))

	if !strings.HasPrefix(op.Name(), parent+"/operations/") {
		t.Errorf("operation name = %q, want prefix %s/operations/", op.Name(), parent)
	}
	md, err := op.Metadata()
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if md.GetMethod() != "google.cloud.vpcaccess.v1.VpcAccessService.CreateConnector" || md.GetTarget() != name("conn-a") {
		t.Errorf("metadata = %v", md)
	}
	if ct := md.GetCreateTime().AsTime(); ct.Before(before.Add(-time.Second)) || md.GetEndTime() != nil {
		t.Errorf("metadata times: create %v end %v, want create ~%v and no end", ct, md.GetEndTime(), before)
	}
	if op.Done() {
		t.Fatal("operation done at once")
	}

	got := e.mustGet(name("conn-a"))
	want := &vpcaccesspb.Connector{
		Name: name("conn-a"), Network: network, IpCidrRange: "10.8.0.0/28", State: vpcaccesspb.Connector_CREATING,
		MinThroughput: 200, MaxThroughput: 500, MachineType: "e2-micro", MinInstances: 2, MaxInstances: 5,
	}
	if !proto.Equal(got, want) {
		t.Errorf("while creating: got %v, want %v", got, want)
	}
	e.w.Lock()
	ranges := e.w.NetworkRangesLocked(proj, network)
	e.w.Unlock()
	if len(ranges) != 1 || ranges[0].Kind != "connector" || ranges[0].Prefix.String() != "10.8.0.0/28" {
		t.Errorf("network ranges = %v, want the connector's hidden range", ranges)
	}

	e.w.Advance(time.Hour)
	done, err := op.Wait(e.ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	want.State = vpcaccesspb.Connector_READY
	if !proto.Equal(done, want) {
		t.Errorf("operation response: got %v, want %v", done, want)
	}
	if md, _ = op.Metadata(); md.GetEndTime() == nil || md.GetEndTime().AsTime().Before(md.GetCreateTime().AsTime()) {
		t.Errorf("metadata after completion = %v, want an end_time after create_time", md)
	}
	if got := e.mustGet(name("conn-a")); !proto.Equal(got, want) {
		t.Errorf("after creation: got %v, want %v", got, want)
	}
	e.w.Lock()
	n := e.w.S.ConnectorInstances[name("conn-a")]
	e.w.Unlock()
	if n != 2 {
		t.Errorf("instances = %d, want min_instances 2", n)
	}
}

func TestCreateWithSubnet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	e.putSubnet(proj, region, "conn-subnet", network, "10.9.0.0/28")
	e.putNetwork("host", "shared")
	e.putSubnet("host", region, "shared-conn", "shared", "10.10.0.0/28")

	for _, tc := range []struct {
		id     string
		subnet *vpcaccesspb.Connector_Subnet
	}{
		{"same-project", &vpcaccesspb.Connector_Subnet{Name: "conn-subnet"}},
		{"shared-vpc", &vpcaccesspb.Connector_Subnet{Name: "shared-conn", ProjectId: "host"}},
	} {
		op := e.create(tc.id, &vpcaccesspb.Connector{Subnet: tc.subnet, MinInstances: 2, MaxInstances: 3, MachineType: "f1-micro"})
		got, err := op.Wait(e.ctx) // the client's own polling, over the shared Operations service
		if err != nil {
			t.Fatalf("%s: Wait: %v", tc.id, err)
		}
		want := &vpcaccesspb.Connector{
			Name: name(tc.id), Subnet: tc.subnet, State: vpcaccesspb.Connector_READY, MachineType: "f1-micro",
			MinInstances: 2, MaxInstances: 3, MinThroughput: 200, MaxThroughput: 300,
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.id, got, want)
		}
	}
	// A subnet connector adds no range of its own: the subnet already counts.
	e.w.Lock()
	ranges := e.w.NetworkRangesLocked(proj, network)
	e.w.Unlock()
	if len(ranges) != 1 || ranges[0].Kind != "subnetwork" {
		t.Errorf("network ranges = %v, want only the subnetwork", ranges)
	}
}

func TestCreateRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	e.putSubnet(proj, region, "s28", network, "10.9.0.0/28")
	e.putSubnet(proj, region, "s24", network, "10.7.0.0/24")
	e.putSubnet(proj, "us-east1", "east28", network, "10.9.1.0/28")
	e.putNetwork(proj, "other")

	ok := func(mod func(c *vpcaccesspb.Connector)) *vpcaccesspb.Connector {
		c := rangeConnector("10.8.0.0/28")
		mod(c)
		return c
	}
	subnet := func(name string) func(c *vpcaccesspb.Connector) {
		return func(c *vpcaccesspb.Connector) {
			c.Network, c.IpCidrRange, c.Subnet = "", "", &vpcaccesspb.Connector_Subnet{Name: name}
		}
	}
	for _, tc := range []struct {
		name   string
		parent string
		id     string
		conn   *vpcaccesspb.Connector
		code   codes.Code
		msg    string
	}{
		{"unknown region", "projects/proj/locations/mars-west1", "c", ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument,
			`Location "mars-west1" is not a valid location for Serverless VPC Access connectors.`},
		{"malformed parent", "projects/proj", "c1", ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument,
			`Invalid parent "projects/proj": it must be of the form projects/PROJECT/locations/LOCATION.`},
		{"id starts with digit", parent, "1conn", ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument, msgBadID},
		{"id one character", parent, "c", ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument, msgBadID},
		{"id ends with hyphen", parent, "conn-", ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument, msgBadID},
		{"id upper case", parent, "Conn", ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument, msgBadID},
		{"id 26 characters", parent, "a" + strings.Repeat("b", 25), ok(func(*vpcaccesspb.Connector) {}), codes.InvalidArgument, msgBadID},
		{"no connector", parent, "conn", nil, codes.InvalidArgument, msgNoConnector},
		{"machine type", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MachineType = "n1-standard-1" }), codes.InvalidArgument,
			`Machine type "n1-standard-1" is not supported. Supported machine types are: e2-micro, f1-micro, e2-standard-4.`},
		{"min throughput step", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MinThroughput = 250 }), codes.InvalidArgument, msgMinThroughput},
		{"min throughput low", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MinThroughput = 100 }), codes.InvalidArgument, msgMinThroughput},
		{"min throughput high", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MinThroughput = 1100 }), codes.InvalidArgument, msgMinThroughput},
		{"max throughput low", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MaxThroughput = 200 }), codes.InvalidArgument, msgMaxThroughput},
		{"max throughput high", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MaxThroughput = 1100 }), codes.InvalidArgument, msgMaxThroughput},
		{"max throughput step", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MaxThroughput = 350 }), codes.InvalidArgument, msgMaxThroughput},
		{"min instances low", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MinInstances = 1 }), codes.InvalidArgument, msgMinInstances},
		{"min instances high", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MinInstances, c.MaxInstances = 10, 10 }), codes.InvalidArgument, msgMinInstances},
		{"max instances low", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MaxInstances = 2 }), codes.InvalidArgument, msgMaxInstances},
		{"max instances high", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MaxInstances = 11 }), codes.InvalidArgument, msgMaxInstances},
		{"min equals max", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.MinInstances, c.MaxInstances = 5, 5 }), codes.InvalidArgument, msgMinBelowMax},
		{"throughput min above max", parent, "conn", ok(func(c *vpcaccesspb.Connector) {
			c.MinInstances, c.MaxInstances = 0, 0
			c.MaxThroughput = 300
			c.MinThroughput = 400
		}),
			codes.InvalidArgument, msgThroughputOrder},
		{"neither range nor subnet", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.IpCidrRange = "" }), codes.InvalidArgument, msgRangeOrSubnet},
		{"both range and subnet", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.Subnet = &vpcaccesspb.Connector_Subnet{Name: "s28"} }), codes.InvalidArgument, msgRangeOrSubnet},
		{"range without network", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.Network = "" }), codes.InvalidArgument, msgNetworkNeeded},
		{"missing network", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.Network = "nope" }), codes.InvalidArgument,
			`Network "nope" does not exist in project "proj".`},
		{"range not /28", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.IpCidrRange = "10.8.0.0/27" }), codes.InvalidArgument,
			"Invalid IP CIDR range was provided: 10.8.0.0/27 is not a /28 range."},
		{"range host bits", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.IpCidrRange = "10.8.0.1/28" }), codes.InvalidArgument,
			"Invalid IP CIDR range was provided: 10.8.0.1/28 is not a network address (did you mean 10.8.0.0/28?)."},
		{"range not CIDR", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.IpCidrRange = "10.8.0.0" }), codes.InvalidArgument,
			"Invalid IP CIDR range was provided: 10.8.0.0 is not a CIDR range: missing /prefix-length."},
		{"public range", parent, "conn", ok(func(c *vpcaccesspb.Connector) { c.IpCidrRange = "8.8.8.0/28" }), codes.InvalidArgument,
			"Invalid IP CIDR range was provided: 8.8.8.0/28 is not an internal (RFC 1918 or RFC 6598) range."},
		{"missing subnet", parent, "conn", ok(subnet("nope")), codes.InvalidArgument,
			`Subnetwork "projects/proj/regions/us-central1/subnetworks/nope" does not exist.`},
		{"subnet in another region", parent, "conn", ok(subnet("east28")), codes.InvalidArgument,
			`Subnetwork "projects/proj/regions/us-central1/subnetworks/east28" does not exist.`},
		{"subnet not /28", parent, "conn", ok(subnet("s24")), codes.InvalidArgument,
			`Subnetwork "projects/proj/regions/us-central1/subnetworks/s24" must have a /28 primary IP range, not 10.7.0.0/24.`},
		{"subnet without name", parent, "conn", ok(func(c *vpcaccesspb.Connector) {
			c.Network, c.IpCidrRange, c.Subnet = "", "", &vpcaccesspb.Connector_Subnet{ProjectId: proj}
		}), codes.InvalidArgument, "Subnet name must be specified."},
		{"subnet in another network", parent, "conn", ok(func(c *vpcaccesspb.Connector) { subnet("s28")(c); c.Network = "other" }), codes.InvalidArgument,
			`Subnetwork "projects/proj/regions/us-central1/subnetworks/s28" does not belong to network "other".`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CreateConnector(e.ctx, &vpcaccesspb.CreateConnectorRequest{Parent: tc.parent, ConnectorId: tc.id, Connector: tc.conn})
			wantStatus(t, err, tc.code, tc.msg)
		})
	}
	e.w.Lock()
	n, ops := len(e.w.S.Connectors), len(e.w.S.Operations)
	e.w.Unlock()
	if n != 0 || ops != 0 {
		t.Errorf("rejected requests left %d connectors and %d operations", n, ops)
	}
}

func TestOverlapFailsInOperationAndLeavesError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	// VPC-wide: a subnetwork in another region still conflicts.
	e.putSubnet(proj, "us-east1", "east", network, "10.8.0.0/24")
	op := e.wait(e.create("clash", rangeConnector("10.8.0.16/28")).Name())
	wantStatus(t, status.ErrorProto(op.GetError()), codes.InvalidArgument, msgOverlap)
	md := &vpcaccesspb.OperationMetadata{}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil || md.GetEndTime() == nil {
		t.Errorf("failed operation metadata = %v (%v), want an end_time", md, err)
	}
	if got := e.mustGet(name("clash")); got.GetState() != vpcaccesspb.Connector_ERROR {
		t.Errorf("state = %v, want ERROR", got.GetState())
	}
	it := e.c.ListConnectors(e.ctx, &vpcaccesspb.ListConnectorsRequest{Parent: parent})
	if c, err := it.Next(); err != nil || c.GetName() != name("clash") {
		t.Errorf("list = %v, %v; want the ERROR connector", c, err)
	}

	// Another connector's range conflicts too, but one left in ERROR does not (it never got
	// its hidden subnet).
	e.createReady("first", rangeConnector("10.9.0.0/28"))
	op = e.wait(e.create("second", rangeConnector("10.9.0.0/28")).Name())
	wantStatus(t, status.ErrorProto(op.GetError()), codes.InvalidArgument, msgOverlap)
	e.wait(mustDelete(t, e, name("first")).Name())
	e.createReady("third", rangeConnector("10.9.0.0/28"))

	// A connector in ERROR can be deleted.
	dop := mustDelete(t, e, name("clash"))
	if err := dop.Wait(e.ctx); err != nil {
		t.Fatalf("delete Wait: %v", err)
	}
	if _, err := e.get(name("clash")); status.Code(err) != codes.NotFound {
		t.Errorf("after delete: %v, want NotFound", err)
	}
}

func TestNoMaximumFailsInOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	c := rangeConnector("10.8.0.0/28")
	c.MaxInstances = 0
	op := e.create("nomax", c)
	got := e.mustGet(name("nomax"))
	if got.GetState() != vpcaccesspb.Connector_CREATING || got.GetMaxInstances() != 0 || got.GetMinInstances() != 2 {
		t.Errorf("while creating: %v", got)
	}
	e.w.Advance(time.Hour)
	_, err := op.Wait(e.ctx)
	wantStatus(t, err, codes.InvalidArgument, msgNoMax)
	if _, err := e.get(name("nomax")); status.Code(err) != codes.NotFound {
		t.Errorf("after failed create: %v, want NotFound", err)
	}
}

func TestThroughputAndInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	for i, tc := range []struct {
		name                   string
		minI, maxI, minT, maxT int32
		want                   [4]int32 // min instances, max instances, min throughput, max throughput
	}{
		{"throughput only (recorded)", 0, 0, 300, 400, [4]int32{3, 4, 300, 400}},
		{"instances only", 2, 3, 0, 0, [4]int32{2, 3, 200, 300}},
		{"max throughput, default min", 0, 0, 0, 700, [4]int32{2, 7, 200, 700}},
		{"min instances, max throughput", 3, 0, 0, 700, [4]int32{3, 7, 300, 700}},
		{"instances win", 4, 6, 200, 1000, [4]int32{4, 6, 400, 600}},
		{"all four (recorded)", 2, 3, 200, 300, [4]int32{2, 3, 200, 300}},
	} {
		c := &vpcaccesspb.Connector{
			Network: network, IpCidrRange: fmt.Sprintf("10.20.%d.0/28", i),
			MinInstances: tc.minI, MaxInstances: tc.maxI, MinThroughput: tc.minT, MaxThroughput: tc.maxT,
		}
		got := e.createReady(fmt.Sprintf("size-%d", i), c)
		if g := [4]int32{got.MinInstances, got.MaxInstances, got.MinThroughput, got.MaxThroughput}; g != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, g, tc.want)
		}
	}
}

func TestSubnetUsedByAnotherConnector(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	e.putSubnet(proj, region, "s28", network, "10.9.0.0/28")
	e.createReady("one", &vpcaccesspb.Connector{Subnet: &vpcaccesspb.Connector_Subnet{Name: "s28"}, MinInstances: 2, MaxInstances: 3})
	// Naming the project explicitly is the same subnet.
	_, err := e.c.CreateConnector(e.ctx, &vpcaccesspb.CreateConnectorRequest{Parent: parent, ConnectorId: "two",
		Connector: &vpcaccesspb.Connector{Subnet: &vpcaccesspb.Connector_Subnet{Name: "s28", ProjectId: proj}, MinInstances: 2, MaxInstances: 3}})
	wantStatus(t, err, codes.InvalidArgument,
		`Subnetwork "projects/proj/regions/us-central1/subnetworks/s28" is already used by connector "projects/proj/locations/us-central1/connectors/one".`)

	// Direct VPC egress reservations in the subnet count as use too.
	e.putSubnet(proj, region, "held", network, "10.9.1.0/28")
	e.w.Lock()
	e.w.S.Reservations["serverless-ipv4-1"] = &world.Reservation{Name: "serverless-ipv4-1", Project: proj, Region: region, Subnet: "held", Range: "10.9.1.0/28"}
	e.w.Unlock()
	_, err = e.c.CreateConnector(e.ctx, &vpcaccesspb.CreateConnectorRequest{Parent: parent, ConnectorId: "three",
		Connector: &vpcaccesspb.Connector{Subnet: &vpcaccesspb.Connector_Subnet{Name: "held"}, MinInstances: 2, MaxInstances: 3}})
	wantStatus(t, err, codes.InvalidArgument,
		`Subnetwork "projects/proj/regions/us-central1/subnetworks/held" is already used by "projects/proj/regions/us-central1/addresses/serverless-ipv4-1".`)
}

func mustDelete(t *testing.T, e *env, name string) *vpcaccess.DeleteConnectorOperation {
	t.Helper()
	op, err := e.c.DeleteConnector(e.ctx, &vpcaccesspb.DeleteConnectorRequest{Name: name})
	if err != nil {
		t.Fatalf("DeleteConnector(%s): %v", name, err)
	}
	return op
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	op := e.create("conn", rangeConnector("10.8.0.0/28"))
	_, err := e.c.DeleteConnector(e.ctx, &vpcaccesspb.DeleteConnectorRequest{Name: name("conn")})
	wantStatus(t, err, codes.FailedPrecondition, msgFailedCreate)
	e.w.Advance(time.Hour)
	if _, err := op.Wait(e.ctx); err != nil {
		t.Fatalf("create Wait: %v", err)
	}

	// A Cloud Run service uses it: connected_projects says so, and deleting is still allowed.
	e.w.Lock()
	e.w.S.Services["projects/app/locations/us-central1/services/svc"] = &runpb.Service{
		Name:     "projects/app/locations/us-central1/services/svc",
		Template: &runpb.RevisionTemplate{VpcAccess: &runpb.VpcAccess{Connector: name("conn")}},
	}
	e.w.S.Jobs[parent+"/jobs/job"] = &runpb.Job{
		Name:     parent + "/jobs/job",
		Template: &runpb.ExecutionTemplate{Template: &runpb.TaskTemplate{VpcAccess: &runpb.VpcAccess{Connector: "conn"}}},
	}
	e.w.MarkChangedLocked()
	e.w.Unlock()
	if got := e.mustGet(name("conn")).GetConnectedProjects(); strings.Join(got, ",") != "app,proj" {
		t.Errorf("connected_projects = %v, want [app proj]", got)
	}

	before := e.w.Now()
	dop := mustDelete(t, e, name("conn"))
	md, err := dop.Metadata()
	if err != nil || md.GetMethod() != "google.cloud.vpcaccess.v1.VpcAccessService.DeleteConnector" || md.GetTarget() != name("conn") ||
		md.GetCreateTime().AsTime().Before(before.Add(-time.Second)) || md.GetEndTime() != nil {
		t.Errorf("delete metadata = %v (%v)", md, err)
	}
	if got := e.mustGet(name("conn")); got.GetState() != vpcaccesspb.Connector_DELETING || len(got.GetConnectedProjects()) != 0 {
		t.Errorf("while deleting: %v, want DELETING", got)
	}
	_, err = e.c.DeleteConnector(e.ctx, &vpcaccesspb.DeleteConnectorRequest{Name: name("conn")})
	wantStatus(t, err, codes.FailedPrecondition, msgAlreadyDeleting)

	e.w.Advance(time.Hour)
	if err := dop.Wait(e.ctx); err != nil {
		t.Fatalf("delete Wait: %v", err)
	}
	raw := e.wait(dop.Name())
	if raw.GetResponse().GetTypeUrl() != "type.googleapis.com/google.protobuf.Empty" {
		t.Errorf("delete response = %v, want google.protobuf.Empty", raw.GetResponse())
	}
	if md, _ := dop.Metadata(); md.GetEndTime() == nil {
		t.Errorf("delete metadata after completion = %v, want end_time", md)
	}
	_, err = e.get(name("conn"))
	wantStatus(t, err, codes.NotFound, msgNotFound)
	e.w.Lock()
	_, held := e.w.S.ConnectorInstances[name("conn")]
	e.w.Unlock()
	if held {
		t.Error("instance count kept after delete")
	}

	_, err = e.c.DeleteConnector(e.ctx, &vpcaccesspb.DeleteConnectorRequest{Name: name("conn")})
	wantStatus(t, err, codes.NotFound, msgNotFound)
	_, err = e.c.DeleteConnector(e.ctx, &vpcaccesspb.DeleteConnectorRequest{Name: "projects/proj/connectors/x"})
	wantStatus(t, err, codes.InvalidArgument,
		`Invalid connector name "projects/proj/connectors/x": it must be of the form projects/PROJECT/locations/LOCATION/connectors/CONNECTOR.`)
	_, err = e.get("nope")
	wantStatus(t, err, codes.InvalidArgument,
		`Invalid connector name "nope": it must be of the form projects/PROJECT/locations/LOCATION/connectors/CONNECTOR.`)
}

func TestAlreadyExists(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	op := e.create("conn", rangeConnector("10.8.0.0/28"))
	for _, when := range []string{"creating", "ready"} {
		// The same spec again: runnet treats this ALREADY_EXISTS as success.
		_, err := e.c.CreateConnector(e.ctx, &vpcaccesspb.CreateConnectorRequest{Parent: parent, ConnectorId: "conn", Connector: rangeConnector("10.8.0.0/28")})
		wantStatus(t, err, codes.AlreadyExists, msgAlreadyExists)
		if when == "creating" {
			e.w.Advance(time.Hour)
			if _, err := op.Wait(e.ctx); err != nil {
				t.Fatalf("Wait: %v", err)
			}
		}
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	e.putNetwork("other", network)
	var want []string
	e.w.Lock()
	for i, id := range []string{"e-conn", "a-conn", "d-conn", "b-conn", "c-conn"} {
		c := rangeConnector(fmt.Sprintf("10.30.%d.0/28", i))
		c.Name = name(id)
		if _, err := PutConnectorLocked(e.w, c); err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
	}
	for _, n := range []string{"projects/proj/locations/us-east1/connectors/east", "projects/other/locations/us-central1/connectors/other"} {
		c := rangeConnector("10.31.0.0/28")
		c.Name = n
		if _, err := PutConnectorLocked(e.w, c); err != nil {
			t.Fatalf("put %s: %v", n, err)
		}
	}
	e.w.Unlock()
	for _, id := range []string{"a-conn", "b-conn", "c-conn", "d-conn", "e-conn"} {
		want = append(want, name(id))
	}

	var pages [][]string
	token := ""
	for {
		var page []*vpcaccesspb.Connector
		it := e.c.ListConnectors(e.ctx, &vpcaccesspb.ListConnectorsRequest{Parent: parent})
		next, err := iterator.NewPager(it, 2, token).NextPage(&page)
		if err != nil {
			t.Fatalf("NextPage: %v", err)
		}
		var names []string
		for _, c := range page {
			names = append(names, c.GetName())
		}
		pages = append(pages, names)
		if token = next; token == "" {
			break
		}
	}
	if fmt.Sprint(pages) != fmt.Sprint([][]string{want[0:2], want[2:4], want[4:5]}) {
		t.Errorf("pages = %v, want %v in pages of 2", pages, want)
	}

	var all []string
	it := e.c.ListConnectors(e.ctx, &vpcaccesspb.ListConnectorsRequest{Parent: parent})
	for {
		c, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		all = append(all, c.GetName())
	}
	if strings.Join(all, " ") != strings.Join(want, " ") {
		t.Errorf("all = %v, want %v", all, want)
	}

	_, err := e.c.ListConnectors(e.ctx, &vpcaccesspb.ListConnectorsRequest{Parent: parent, PageToken: "!!"}).Next()
	wantStatus(t, err, codes.InvalidArgument, msgInvalidToken)
	_, err = e.c.ListConnectors(e.ctx, &vpcaccesspb.ListConnectorsRequest{Parent: "projects/proj/locations/nowhere"}).Next()
	wantStatus(t, err, codes.InvalidArgument, `Location "nowhere" is not a valid location for Serverless VPC Access connectors.`)
	if _, err = e.c.ListConnectors(e.ctx, &vpcaccesspb.ListConnectorsRequest{Parent: "projects/proj/locations/europe-west1"}).Next(); !errors.Is(err, iterator.Done) {
		t.Errorf("empty region: %v, want Done", err)
	}
}

func TestPutConnectorLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	e.putSubnet(proj, region, "s28", network, "10.9.0.0/28")
	e.putSubnet(proj, region, "busy", network, "10.50.0.0/24")
	e.w.Lock()
	got, err := PutConnectorLocked(e.w, &vpcaccesspb.Connector{
		Name: name("seeded"), Subnet: &vpcaccesspb.Connector_Subnet{Name: "s28", ProjectId: proj}, MinInstances: 2, MaxInstances: 3, MachineType: "f1-micro",
	})
	n := e.w.S.ConnectorInstances[name("seeded")]
	ops := len(e.w.S.Operations)
	e.w.Unlock()
	if err != nil {
		t.Fatalf("PutConnectorLocked: %v", err)
	}
	want := &vpcaccesspb.Connector{
		Name: name("seeded"), Subnet: &vpcaccesspb.Connector_Subnet{Name: "s28", ProjectId: proj}, State: vpcaccesspb.Connector_READY,
		MachineType: "f1-micro", MinInstances: 2, MaxInstances: 3, MinThroughput: 200, MaxThroughput: 300,
	}
	if !proto.Equal(got, want) || n != 2 || ops != 0 {
		t.Errorf("put = %v, instances %d, operations %d; want %v, 2, 0", got, n, ops, want)
	}
	if g := e.mustGet(name("seeded")); !proto.Equal(g, want) {
		t.Errorf("get = %v, want %v", g, want)
	}

	for _, tc := range []struct {
		name string
		c    *vpcaccesspb.Connector
		code codes.Code
		msg  string
	}{
		{"bad id", &vpcaccesspb.Connector{Name: name("Bad"), Network: network, IpCidrRange: "10.8.0.0/28", MaxInstances: 3}, codes.InvalidArgument, msgBadID},
		{"exists", &vpcaccesspb.Connector{Name: name("seeded"), Network: network, IpCidrRange: "10.8.0.0/28", MaxInstances: 3}, codes.AlreadyExists, msgAlreadyExists},
		{"overlap", &vpcaccesspb.Connector{Name: name("clash"), Network: network, IpCidrRange: "10.50.0.16/28", MaxInstances: 3}, codes.InvalidArgument, msgOverlap},
		{"no max", &vpcaccesspb.Connector{Name: name("nomax"), Network: network, IpCidrRange: "10.8.0.0/28"}, codes.InvalidArgument, msgNoMax},
		{"nil", nil, codes.InvalidArgument, msgNoConnector},
	} {
		e.w.Lock()
		_, err := PutConnectorLocked(e.w, tc.c)
		e.w.Unlock()
		if st, _ := status.FromError(err); err == nil || status.Code(err) != tc.code || !strings.HasSuffix(err.Error(), tc.msg) || st.Code() != tc.code {
			t.Errorf("%s: err = %v, want %v ending %q", tc.name, err, tc.code, tc.msg)
		}
	}
}

func TestScaleConnectorLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slowConfig)
	e.w.Lock()
	defer e.w.Unlock()
	c := rangeConnector("10.8.0.0/28")
	c.Name, c.MaxInstances = name("conn"), 4
	if _, err := PutConnectorLocked(e.w, c); err != nil {
		t.Fatalf("put: %v", err)
	}
	count := func() int { return e.w.S.ConnectorInstances[name("conn")] }
	for _, step := range []struct {
		to      int
		wantErr string
		want    int
	}{
		{3, "", 3},
		{3, "", 3},
		{2, "scale connector projects/proj/locations/us-central1/connectors/conn to 2 instances: it runs 3 and connectors never scale in", 3},
		{5, "scale connector projects/proj/locations/us-central1/connectors/conn to 5 instances: max_instances is 4", 3},
		{4, "", 4},
	} {
		err := ScaleConnectorLocked(e.w, name("conn"), step.to)
		if gotErr := fmt.Sprint(err); (step.wantErr == "" && err != nil) || (step.wantErr != "" && gotErr != step.wantErr) || count() != step.want {
			t.Errorf("scale to %d: err %v, count %d; want err %q, count %d", step.to, err, count(), step.wantErr, step.want)
		}
	}
	if err := ScaleConnectorLocked(e.w, name("nope"), 3); status.Code(err) != codes.NotFound {
		t.Errorf("scale missing: %v, want NotFound", err)
	}
	// A connector that is still being created does not run instances yet.
	if _, err := planAndStoreCreatingLocked(e.w, "creating"); err != nil {
		t.Fatal(err)
	}
	if err := ScaleConnectorLocked(e.w, name("creating"), 3); err == nil || !strings.Contains(err.Error(), "it is CREATING, not READY") {
		t.Errorf("scale creating: %v", err)
	}
}

// planAndStoreCreatingLocked stores a CREATING connector as CreateConnector would, without
// its operation (the test holds the lock and cannot call the API).
func planAndStoreCreatingLocked(w *world.World, id string) (*vpcaccesspb.Connector, error) {
	p, err := planLocked(w, parent, id, rangeConnector("10.8.1.0/28"))
	if err != nil {
		return nil, err
	}
	p.conn.State = vpcaccesspb.Connector_CREATING
	w.S.Connectors[p.name] = p.conn
	return p.conn, nil
}

func TestFault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	e.createReady("conn", rangeConnector("10.8.0.0/28"))
	e.w.Faults.Add(world.Fault{Method: "google.cloud.vpcaccess.v1.VpcAccessService/GetConnector", Code: codes.PermissionDenied, Count: 1})
	_, err := e.get(name("conn"))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("first get: %v, want PermissionDenied", err)
	}
	if c := e.mustGet(name("conn")); c.GetState() != vpcaccesspb.Connector_READY {
		t.Errorf("second get: %v", c)
	}
}

func TestListLocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, servertest.FastConfig)
	it := e.c.ListLocations(e.ctx, &locationpb.ListLocationsRequest{Name: "projects/proj"})
	var got []string
	for {
		l, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if l.GetName() != "projects/proj/locations/"+l.GetLocationId() {
			t.Errorf("location %v: name and id disagree", l)
		}
		got = append(got, l.GetLocationId())
	}
	if strings.Join(got, ",") != strings.Join(world.RegionNames(), ",") {
		t.Errorf("locations = %v, want %v", got, world.RegionNames())
	}
	_, err := e.c.ListLocations(e.ctx, &locationpb.ListLocationsRequest{Name: "proj"}).Next()
	wantStatus(t, err, codes.InvalidArgument, `Invalid resource name "proj": it must be of the form projects/PROJECT.`)
}
