package emulator

import (
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Every RPC of the Run v2 and VPC Access v1 services has its REST route, read from its
// binding, and the mixins have exactly the routes their service configurations give them.
func TestRESTRoutesCoverEveryRPC(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	routed := map[string][]string{}
	for _, r := range e.rest.Routes() {
		routed[r.RPC] = append(routed[r.RPC], r.HTTPMethod+" "+r.Path)
	}
	services := []string{
		"google.cloud.run.v2.Services", "google.cloud.run.v2.Revisions", "google.cloud.run.v2.Jobs",
		"google.cloud.run.v2.Executions", "google.cloud.run.v2.WorkerPools", "google.cloud.vpcaccess.v1.VpcAccessService",
	}
	for _, name := range services {
		if _, ok := e.grpc.GetServiceInfo()[name]; !ok {
			t.Errorf("%s is not served over gRPC", name)
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatal(err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			rpc := name + "/" + string(methods.Get(i).Name())
			if len(routed[rpc]) == 0 {
				t.Errorf("%s has no REST route", rpc)
			}
		}
	}
	for rpc, want := range map[string]string{
		"google.longrunning.Operations/GetOperation":    "GET /v1/{name=projects/*/locations/*/operations/*}|GET /v2/{name=projects/*/locations/*/operations/*}",
		"google.longrunning.Operations/ListOperations":  "GET /v1/{name=projects/*/locations/*}/operations|GET /v2/{name=projects/*/locations/*}/operations",
		"google.longrunning.Operations/DeleteOperation": "DELETE /v2/{name=projects/*/locations/*/operations/*}",
		"google.longrunning.Operations/WaitOperation":   "POST /v2/{name=projects/*/locations/*/operations/*}:wait",
		"google.longrunning.Operations/CancelOperation": "",
		"google.cloud.location.Locations/ListLocations": "GET /v1/{name=projects/*}/locations",
		"google.cloud.location.Locations/GetLocation":   "",
	} {
		got := routed[rpc]
		sort.Strings(got)
		if strings.Join(got, "|") != want {
			t.Errorf("%s routes = %v, want %q", rpc, got, want)
		}
	}
	// Spot checks against the bindings in the protos.
	for rpc, want := range map[string]string{
		"google.cloud.run.v2.Services/UpdateService":                 "PATCH /v2/{service.name=projects/*/locations/*/services/*}",
		"google.cloud.run.v2.Jobs/RunJob":                            "POST /v2/{name=projects/*/locations/*/jobs/*}:run",
		"google.cloud.run.v2.Revisions/ListRevisions":                "GET /v2/{parent=projects/*/locations/*/services/*}/revisions|GET /v2/{parent=projects/*/locations/*/workerPools/*}/revisions", // with its additional binding
		"google.cloud.vpcaccess.v1.VpcAccessService/CreateConnector": "POST /v1/{parent=projects/*/locations/*}/connectors",
	} {
		got := routed[rpc]
		sort.Strings(got)
		if strings.Join(got, "|") != want {
			t.Errorf("%s routes = %v, want %s", rpc, got, want)
		}
	}
}
