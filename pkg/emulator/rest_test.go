package emulator_test

// The REST/JSON face of Run v2 and VPC Access v1, driven by the Google REST clients: the
// discovery-based google.golang.org/api clients (which gcloud's and Terraform's requests
// resemble: enums as names, alt=json) and the cloud.google.com/go clients in REST mode
// ($alt=json;enum-encoding=int). Each scenario is the one the gRPC tests cover, and results are
// compared with what the gRPC API returns for the same resource.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/api/googleapi"
	runrest "google.golang.org/api/run/v2"
	vpcrest "google.golang.org/api/vpcaccess/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// asJSON decodes v's JSON form (a REST client struct, or protojson of a proto) into a map.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	var b []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		b, err = protojson.Marshal(m)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameJSON checks that a REST answer and the gRPC answer for the same resource say the same.
func sameJSON(t *testing.T, what string, rest any, grpcMsg proto.Message) {
	t.Helper()
	got, want := asJSON(t, rest), asJSON(t, grpcMsg)
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("%s over REST differs from gRPC:\nREST %s\ngRPC %s", what, gb, wb)
	}
}

func restRun(t *testing.T, e *emulator.Emulator) *runrest.Service {
	t.Helper()
	s, err := runrest.NewService(ctx(t), e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func restVPC(t *testing.T, e *emulator.Emulator) *vpcrest.Service {
	t.Helper()
	s, err := vpcrest.NewService(ctx(t), e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantHTTPError(t *testing.T, what string, err error, code int, status string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("%s: error = %v, want HTTP %d", what, err, code)
	}
	if ge.Code != code {
		t.Errorf("%s: HTTP %d (%s), want %d", what, ge.Code, ge.Message, code)
	}
	var body struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(ge.Body), &body); err != nil || body.Error.Code != code || body.Error.Status != status || body.Error.Message == "" {
		t.Errorf("%s: error body %s, want Google's JSON error with code %d and status %s", what, ge.Body, code, status)
	}
}

func TestRESTServiceGetListUpdate(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	c := ctx(t)
	rs := restRun(t, e)
	gs, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	name := loc + "/services/" + emulator.DemoService

	got, err := rs.Projects.Locations.Services.Get(name).Context(c).Do()
	if err != nil {
		t.Fatalf("REST get: %v", err)
	}
	want, err := gs.GetService(c, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "service", got, want)
	if got.Template.VpcAccess.Egress != "PRIVATE_RANGES_ONLY" || got.Generation != 1 {
		t.Errorf("REST service: egress %q generation %d", got.Template.VpcAccess.Egress, got.Generation)
	}

	list, err := rs.Projects.Locations.Services.List(loc).PageSize(10).Context(c).Do()
	if err != nil {
		t.Fatalf("REST list: %v", err)
	}
	if len(list.Services) != 1 || list.Services[0].Name != name {
		t.Errorf("REST list = %+v", list.Services)
	}
	sameJSON(t, "listed service", list.Services[0], want)

	_, err = rs.Projects.Locations.Services.Get(loc + "/services/nope").Context(c).Do()
	wantHTTPError(t, "get of a missing service", err, 404, "NOT_FOUND")

	// validateOnly changes nothing.
	moved := *got
	moved.Template.VpcAccess = &runrest.GoogleCloudRunV2VpcAccess{
		Egress: "ALL_TRAFFIC",
		NetworkInterfaces: []*runrest.GoogleCloudRunV2NetworkInterface{{
			Network: emulator.DemoNetwork, Subnetwork: emulator.DemoDirectSubnet,
		}},
	}
	if _, err := rs.Projects.Locations.Services.Patch(name, &moved).ValidateOnly(true).Context(c).Do(); err != nil {
		t.Fatalf("REST patch validateOnly: %v", err)
	}
	if s, _ := gs.GetService(c, &runpb.GetServiceRequest{Name: name}); s.GetGeneration() != 1 {
		t.Errorf("validateOnly patch changed the service: generation %d", s.GetGeneration())
	}

	// The VPC change: connector -> Direct VPC with all traffic, waited on over REST.
	op, err := rs.Projects.Locations.Services.Patch(name, &moved).Context(c).Do()
	if err != nil {
		t.Fatalf("REST patch: %v", err)
	}
	if !strings.HasPrefix(op.Name, loc+"/operations/") || op.Done {
		t.Errorf("patch operation = %+v", op)
	}
	for !op.Done {
		op, err = rs.Projects.Locations.Operations.Wait(op.Name, &runrest.GoogleLongrunningWaitOperationRequest{Timeout: "30s"}).Context(c).Do()
		if err != nil {
			t.Fatalf("REST wait: %v", err)
		}
	}
	if op.Error != nil {
		t.Fatalf("operation failed: %+v", op.Error)
	}
	var resp struct {
		Type     string `json:"@type"`
		Template struct {
			VpcAccess struct {
				Egress            string `json:"egress"`
				NetworkInterfaces []struct {
					Network string `json:"network"`
				} `json:"networkInterfaces"`
			} `json:"vpcAccess"`
		} `json:"template"`
	}
	if err := json.Unmarshal(op.Response, &resp); err != nil || resp.Type != "type.googleapis.com/google.cloud.run.v2.Service" ||
		resp.Template.VpcAccess.Egress != "ALL_TRAFFIC" || len(resp.Template.VpcAccess.NetworkInterfaces) != 1 {
		t.Errorf("operation response = %s", op.Response)
	}
	gop, err := gs.GetOperation(c, &longrunningpb.GetOperationRequest{Name: op.Name})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "operation", op, gop)

	after, err := gs.GetService(c, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetGeneration() != 2 || after.GetTemplate().GetVpcAccess().GetConnector() != "" ||
		after.GetTemplate().GetVpcAccess().GetEgress() != runpb.VpcAccess_ALL_TRAFFIC ||
		len(after.GetTemplate().GetVpcAccess().GetNetworkInterfaces()) != 1 {
		t.Errorf("service after the REST update: generation %d, vpcAccess %v", after.GetGeneration(), after.GetTemplate().GetVpcAccess())
	}
	ops, err := rs.Projects.Locations.Operations.List(loc).Context(c).Do()
	if err != nil {
		t.Fatalf("REST operations list: %v", err)
	}
	if len(ops.Operations) == 0 {
		t.Error("REST operations list is empty")
	}

	// A stale etag is refused, as over gRPC.
	_, err = rs.Projects.Locations.Services.Delete(name).Etag(got.Etag).Context(c).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code < 400 {
		t.Errorf("delete with a stale etag: %v", err)
	}
}

func TestRESTConnectorCRUD(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	c := ctx(t)
	rv := restVPC(t, e)
	gv, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer gv.Close()
	conns := rv.Projects.Locations.Connectors

	list, err := conns.List(loc).Context(c).Do()
	if err != nil {
		t.Fatalf("REST list: %v", err)
	}
	if len(list.Connectors) != 1 || list.Connectors[0].Name != loc+"/connectors/"+emulator.DemoConnector {
		t.Fatalf("REST list = %+v", list.Connectors)
	}
	want, err := gv.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: list.Connectors[0].Name})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "listed connector", list.Connectors[0], want)

	waitOp := func(op *vpcrest.Operation) *vpcrest.Operation {
		t.Helper()
		for !op.Done {
			time.Sleep(5 * time.Millisecond)
			if op, err = rv.Projects.Locations.Operations.Get(op.Name).Context(c).Do(); err != nil {
				t.Fatalf("REST operations get: %v", err)
			}
		}
		return op
	}
	op, err := conns.Create(loc, &vpcrest.Connector{
		Network: emulator.DemoNetwork, IpCidrRange: "10.9.0.0/28", MinInstances: 2, MaxInstances: 4,
	}).ConnectorId("c2").Context(c).Do()
	if err != nil {
		t.Fatalf("REST create: %v", err)
	}
	var md struct {
		Type   string `json:"@type"`
		Method string `json:"method"`
		Target string `json:"target"`
	}
	if err := json.Unmarshal(op.Metadata, &md); err != nil || md.Type != "type.googleapis.com/google.cloud.vpcaccess.v1.OperationMetadata" ||
		md.Method != "google.cloud.vpcaccess.v1.VpcAccessService.CreateConnector" || md.Target != loc+"/connectors/c2" {
		t.Errorf("create operation metadata = %s", op.Metadata)
	}
	op = waitOp(op)
	if op.Error != nil {
		t.Fatalf("create failed: %+v", op.Error)
	}
	got, err := conns.Get(loc + "/connectors/c2").Context(c).Do()
	if err != nil {
		t.Fatalf("REST get: %v", err)
	}
	if got.State != "READY" || got.MinInstances != 2 || got.MaxInstances != 4 || got.MaxThroughput != 400 {
		t.Errorf("connector = %+v", got)
	}
	want, err = gv.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: got.Name})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "connector", got, want)

	_, err = conns.Create(loc, &vpcrest.Connector{Network: emulator.DemoNetwork, IpCidrRange: "10.9.0.0/28", MaxInstances: 3}).ConnectorId("Bad_Name").Context(c).Do()
	wantHTTPError(t, "create with a bad id", err, 400, "INVALID_ARGUMENT")

	op, err = conns.Delete(got.Name).Context(c).Do()
	if err != nil {
		t.Fatalf("REST delete: %v", err)
	}
	if op = waitOp(op); op.Error != nil || !strings.Contains(string(op.Response), "google.protobuf.Empty") {
		t.Errorf("delete operation = %+v (response %s)", op, op.Response)
	}
	_, err = conns.Get(got.Name).Context(c).Do()
	wantHTTPError(t, "get after delete", err, 404, "NOT_FOUND")

	locs, err := rv.Projects.Locations.List("projects/" + emulator.DemoProject).Context(c).Do()
	if err != nil || len(locs.Locations) == 0 {
		t.Errorf("REST locations list = %v, %v", locs, err)
	}
}

// The cloud.google.com/go clients in REST mode ask for enums as numbers
// ($alt=json;enum-encoding=int) and wait on operations through the REST operations paths.
func TestRESTModeCloudClients(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	c := ctx(t)
	opts := e.RESTClientOptions()
	svc, err := run.NewServicesRESTClient(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	name := loc + "/services/" + emulator.DemoService
	s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	if s.GetTemplate().GetVpcAccess().GetEgress() != runpb.VpcAccess_PRIVATE_RANGES_ONLY || s.GetLaunchStage() == 0 {
		t.Errorf("service read over REST: %v", s.GetTemplate().GetVpcAccess())
	}
	s.Template.VpcAccess = &runpb.VpcAccess{
		Egress:            runpb.VpcAccess_PRIVATE_RANGES_ONLY,
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: emulator.DemoNetwork, Subnetwork: emulator.DemoDirectSubnet}},
	}
	op, err := svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"template.vpc_access"}}})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	updated, err := op.Wait(c)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if updated.GetTemplate().GetVpcAccess().GetConnector() != "" || len(updated.GetTemplate().GetVpcAccess().GetNetworkInterfaces()) != 1 {
		t.Errorf("updated service: %v", updated.GetTemplate().GetVpcAccess())
	}

	vc, err := vpcaccess.NewRESTClient(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	cop, err := vc.CreateConnector(c, &vpcaccesspb.CreateConnectorRequest{
		Parent: loc, ConnectorId: "c3",
		Connector: &vpcaccesspb.Connector{Network: emulator.DemoNetwork, IpCidrRange: "10.9.0.16/28", MaxInstances: 3},
	})
	if err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	conn, err := cop.Wait(c)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if conn.GetState() != vpcaccesspb.Connector_READY || conn.GetMinInstances() != 2 {
		t.Errorf("created connector = %v", conn)
	}
	dop, err := vc.DeleteConnector(c, &vpcaccesspb.DeleteConnectorRequest{Name: conn.GetName()})
	if err != nil {
		t.Fatalf("DeleteConnector: %v", err)
	}
	if err := dop.Wait(c); err != nil {
		t.Fatalf("wait: %v", err)
	}
	if _, err := vc.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: conn.GetName()}); !isNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// REST calls pass the same admission as gRPC ones: latency, faults and call counts by the
// gRPC method name.
func TestRESTFaultsAndCallCounts(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	c := ctx(t)
	rs := restRun(t, e)
	const method = "google.cloud.run.v2.Services/GetService"
	e.InjectFault(emulator.Fault{Method: method, Code: codes.Unavailable, Count: 1, Message: "try again"})
	name := loc + "/services/" + emulator.DemoService
	_, err := rs.Projects.Locations.Services.Get(name).Context(c).Do()
	wantHTTPError(t, "faulted get", err, 503, "UNAVAILABLE")
	if _, err := rs.Projects.Locations.Services.Get(name).Context(c).Do(); err != nil {
		t.Errorf("get after the fault: %v", err)
	}
	if n := e.Calls()[method]; n != 2 {
		t.Errorf("calls of %s = %d, want 2", method, n)
	}
}

// Every path nothing serves answers Google's JSON 404, naming what is served.
func TestRESTNotServed(t *testing.T) {
	e := start(t, emulator.Options{})
	for _, p := range []string{
		"/v2/projects/p/locations/l/instances", "/v1/projects/p/locations/l/widgets", "/", "/apis/x",
		"/v2/projects/p/locations/l/services/s:frobnicate", "/v3/projects/p/timeSeries",
	} {
		resp, err := http.Get("http://" + e.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}
		if resp.StatusCode != 404 || json.Unmarshal(b, &body) != nil || body.Error.Status != "NOT_FOUND" ||
			!strings.Contains(body.Error.Message, "Cloud Run Admin API v2 under /v2/") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s = %d %s", p, resp.StatusCode, b)
		}
		// Every API is named, not only the first three: the answer is what someone who
		// pointed a client at the wrong path reads.
		for _, api := range []string{"Compute Engine API v1", "Cloud Resource Manager v3", "Cloud Asset Inventory", "Cloud Billing Catalog",
			"Service Usage v1beta1", "Cloud Monitoring v3"} {
			if !strings.Contains(body.Error.Message, api) {
				t.Errorf("GET %s: the 404 does not name %s: %s", p, api, body.Error.Message)
			}
		}
	}
}

// Run and VPC Access name operations alike and share one store; over REST each API lists only
// its own, as on their separate real hosts. (Over gRPC one address serves both, so both show.)
func TestRESTOperationsListedPerAPI(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	c := ctx(t)
	rs, rv := restRun(t, e), restVPC(t, e)
	if _, err := rv.Projects.Locations.Connectors.Create(loc, &vpcrest.Connector{
		Network: emulator.DemoNetwork, IpCidrRange: "10.9.0.0/28", MaxInstances: 3,
	}).ConnectorId("c4").Context(c).Do(); err != nil {
		t.Fatal(err)
	}
	svc, err := rs.Projects.Locations.Services.Get(loc + "/services/" + emulator.DemoService).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	svc.Labels = map[string]string{"team": "a"}
	if _, err := rs.Projects.Locations.Services.Patch(svc.Name, svc).Context(c).Do(); err != nil {
		t.Fatal(err)
	}
	runOps, err := rs.Projects.Locations.Operations.List(loc).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	vpcOps, err := rv.Projects.Locations.Operations.List(loc).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	typeOf := func(raw googleapi.RawMessage) string {
		var m struct {
			Type string `json:"@type"`
		}
		_ = json.Unmarshal(raw, &m)
		return m.Type
	}
	if len(runOps.Operations) == 0 || len(vpcOps.Operations) == 0 {
		t.Fatalf("operations: %d Run, %d VPC Access", len(runOps.Operations), len(vpcOps.Operations))
	}
	for _, op := range runOps.Operations {
		if !strings.HasPrefix(typeOf(op.Metadata), "type.googleapis.com/google.cloud.run.v2.") {
			t.Errorf("Run operations list shows %s (%s)", op.Name, typeOf(op.Metadata))
		}
	}
	for _, op := range vpcOps.Operations {
		if typeOf(op.Metadata) != "type.googleapis.com/google.cloud.vpcaccess.v1.OperationMetadata" {
			t.Errorf("VPC Access operations list shows %s (%s)", op.Name, typeOf(op.Metadata))
		}
	}
}
