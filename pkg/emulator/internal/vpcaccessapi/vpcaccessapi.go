// Package vpcaccessapi serves the emulator's Serverless VPC Access API:
// google.cloud.vpcaccess.v1.VpcAccessService (CreateConnector, GetConnector, ListConnectors,
// DeleteConnector; v1 has no UpdateConnector) and google.cloud.location.Locations, over the
// shared world.
//
// Connectors behave as the real service's recorded exchanges and public error reports show
// (see the recorded exchanges in testdata/realapi):
//
//   - CreateConnector validates the request at once (INVALID_ARGUMENT with the real texts where
//     they are known), stores the connector in state CREATING and returns an operation that
//     completes after the configured LRO duration with the READY connector as its response.
//   - A range that overlaps another range of the network, and a connector with neither
//     max_instances nor max_throughput, are only discovered by the operation, as in the real
//     service: the operation fails with INVALID_ARGUMENT ("Operation failed: ..."). An overlapping
//     connector is left in state ERROR ("Please delete the connector manually."); one without a
//     maximum is removed.
//   - DeleteConnector moves the connector to DELETING and removes it when its operation
//     completes (response google.protobuf.Empty). Deleting a connector that Cloud Run workloads
//     still use is allowed, as in the real API.
//   - Instances: min_instances 2..9 (default 2), max_instances 3..10, min < max. The deprecated
//     throughput fields map to instances at 100 Mbps per instance; the response always carries
//     both the instance and the throughput fields, and instances win when both are given.
//
// Choices where the real behaviour is not documented (each is named at its constant):
// an unknown region in a parent is INVALID_ARGUMENT; deleting a connector that is still CREATING
// or already DELETING is FAILED_PRECONDITION; a missing network or subnet, a range that is not
// an internal /28 and a subnet that another connector uses are INVALID_ARGUMENT at request time.
package vpcaccessapi

import (
	"net/netip"
	"regexp"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Platform numbers and names. Each is a fact about the real service; keep its source here.
const (
	// defaultMinInstances is min_instances when neither it nor min_throughput is given.
	// Source: VPC docs, "Serverless VPC Access" (Throughput and scaling: "default 2").
	defaultMinInstances = 2
	// minInstancesLow and minInstancesHigh bound min_instances.
	// Source: VPC docs, "Serverless VPC Access" (minimum 2, and less than the maximum);
	// Terraform google_vpc_access_connector docs ("between 2 and 9").
	minInstancesLow, minInstancesHigh = 2, 9
	// maxInstancesLow and maxInstancesHigh bound max_instances.
	// Source: VPC docs, "Serverless VPC Access" (maximum 3 to 10, default 10 in gcloud);
	// Terraform google_vpc_access_connector docs ("between 3 and 10").
	maxInstancesLow, maxInstancesHigh = 3, 10
	// throughputPerInstance is the Mbps one instance stands for in the deprecated throughput
	// fields. Source: Terraform docs ("expected throughput when using an e2-micro machine type")
	// and the recorded exchange connector-cidr-crud.http.log (300/400 Mbps -> 3/4 instances).
	throughputPerInstance = 100
	// throughputStep is the granularity of min_throughput and max_throughput, in Mbps.
	// Source: the real error text "must be a multiple of 100 between 200 and 1000 in Mbps".
	throughputStep = 100
	// minThroughputLow and minThroughputHigh bound min_throughput, in Mbps.
	// Source: the real error text quoted in DESIGN.md section 1.
	minThroughputLow, minThroughputHigh = 200, 1000
	// maxThroughputLow and maxThroughputHigh bound max_throughput, in Mbps.
	// Source: VPC Access API reference ("Default is 300, max is 1000") and the minimum plus one
	// step (Terraform docs: "a multiple of 100 from 300 through 1000").
	maxThroughputLow, maxThroughputHigh = 300, 1000
	// defaultMachineType is machine_type when none is given.
	// Source: VPC Access API reference ("Default is e2-micro").
	defaultMachineType = "e2-micro"
)

// machineTypes are the machine types a connector may use.
// Source: VPC docs, "Serverless VPC Access" (Throughput and scaling: f1-micro, e2-micro,
// e2-standard-4).
var machineTypes = []string{"e2-micro", "f1-micro", "e2-standard-4"}

// connectorIDPattern is what a connector ID must match (25 characters at most).
// Source: the real error text quoted in DESIGN.md section 1.
var connectorIDPattern = regexp.MustCompile(`^[a-z][-a-z0-9]{0,23}[a-z0-9]$`)

// connectorSpace is the address space a connector's ip_cidr_range must lie in: internal
// addresses "as defined by RFC 1918 and RFC 6598". Source: VPC docs, "Serverless VPC Access".
var connectorSpace = []netip.Prefix{ipam.RFC1918[0], ipam.RFC1918[1], ipam.RFC1918[2], ipam.RFC6598}

// Operation metadata methods. The v1beta1 recordings show
// "google.cloud.vpcaccess.v1beta1.VpcAccessService.CreateConnector"; the v1 surface names its
// own version.
const (
	methodCreate = "google.cloud.vpcaccess.v1.VpcAccessService.CreateConnector"
	methodDelete = "google.cloud.vpcaccess.v1.VpcAccessService.DeleteConnector"
)

// locationsService is the full name of the Locations service, which the Run API surface may
// register on the same server too.
const locationsService = "google.cloud.location.Locations"

type server struct {
	vpcaccesspb.UnimplementedVpcAccessServiceServer
	w *world.World
}

// Register adds VpcAccessService to s, and google.cloud.location.Locations unless another
// API package has registered it already (Run v2 exposes the same service; both list the
// emulator's regions).
func Register(s *grpc.Server, w *world.World) {
	vpcaccesspb.RegisterVpcAccessServiceServer(s, &server{w: w})
	if _, ok := s.GetServiceInfo()[locationsService]; !ok {
		locationpb.RegisterLocationsServer(s, &locationsServer{w: w})
	}
}
