package emulator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/knativeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/restgw"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
)

// servedAPIs names what the emulator serves, for the answer to a path it does not.
const servedAPIs = "This emulator serves the Cloud Run Admin API v2 under /v2/ (REST and gRPC), " +
	"the Serverless VPC Access API v1 under /v1/ (REST and gRPC), " +
	"the Compute Engine API v1 under /compute/v1/ (with batch requests at /batch/compute/v1), " +
	"Cloud Resource Manager v3 under /v3/ (and v1 projects and organizations, v2 folders), " +
	"Cloud Asset Inventory v1 searchAllResources (gRPC, and REST under /v1/), " +
	"the Cloud Billing Catalog under /v1/services, " +
	"Service Usage v1beta1 consumer quota metrics under /v1beta1/projects/, " +
	"Cloud Monitoring v3 ListTimeSeries (gRPC only), " +
	"Cloud Run's Knative-style services under " + knativeapi.Prefix + " " +
	"and its control surface under " + ControlPrefix + "."

// notServed answers every path no API serves with a Google JSON 404 naming what is served.
var notServed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	restgw.WriteError(w, codes.NotFound, fmt.Sprintf("The requested URL %s was not found on this server. %s", r.URL.Path, servedAPIs))
})

// registerREST adds to mux the HTTP/JSON form of every gRPC API the server has (Run v2 under
// /v2/, VPC Access v1 under /v1/), Compute's batch endpoint, and the Google JSON 404 for
// every other path. The REST calls reach the gRPC server through an in-process connection
// (served by serve), so they pass its interceptors exactly as gRPC calls do; with a front
// door, the caller it found at the HTTP layer goes with them (and they are not checked again).
func (e *Emulator) registerREST(mux *http.ServeMux, compute http.Handler) error {
	e.local = bufconn.Listen(1 << 20)
	conn, err := grpc.NewClient("passthrough:///runnet-emulator", append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return e.local.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials())}, e.inProcessDialOptions()...)...)
	if err != nil {
		return fmt.Errorf("in-process gRPC connection: %w", err)
	}
	e.localConn = conn
	var services []string
	for name := range e.grpc.GetServiceInfo() {
		services = append(services, name)
	}
	sort.Strings(services)
	gw, err := restgw.New(restgw.Config{
		Conn:     conn,
		Services: services,
		Rules:    append(runapi.HTTPRules(), vpcaccessapi.HTTPRules()...),
		NotFound: notServed,
		Log:      e.log,
	})
	if err != nil {
		return fmt.Errorf("REST gateway: %w", err)
	}
	e.rest = gw
	mux.Handle("/v1/", gw)
	mux.Handle("/v2/", gw)
	mux.Handle("/batch/compute/v1", computeapi.Batch(compute))
	kn := knativeapi.New(conn)
	mux.Handle(knativeapi.Prefix, kn)
	mux.Handle(knativeapi.ListPattern, kn)
	mux.Handle("/", notServed)
	return nil
}

// RESTClientOptions point a REST client whose paths start with its API version (Run v2, VPC
// Access v1, Resource Manager v3, Billing Catalog v1, Service Usage v1beta1: google.golang.org/api/run/v2,
// google.golang.org/api/vpcaccess/v1, or a cloud.google.com/go REST client) at the emulator.
func (e *Emulator) RESTClientOptions() []option.ClientOption { return RESTClientOptions(e.Addr()) }

// RESTClientOptions point a Run v2 or VPC Access v1 REST client at an emulator serving on
// host:port: the root URL, without authentication.
func RESTClientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint("http://" + addr + "/"), option.WithoutAuthentication()}
}
