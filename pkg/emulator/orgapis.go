package emulator

import (
	"net/http"

	"google.golang.org/grpc"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/assetapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/billingapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/resourcemanagerapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// registerOrgAPIs adds the APIs that see beyond one project: Cloud Resource Manager (REST,
// /v3/ and /v1/projects), Cloud Asset Inventory (gRPC), the Cloud Billing Catalog (REST,
// /v1/services) and the VPC Access REST PATCH, which the gRPC surface lacks.
func registerOrgAPIs(g *grpc.Server, mux *http.ServeMux, w *world.World) {
	resourcemanagerapi.Register(mux, w)
	assetapi.Register(g, w)
	vpcaccessapi.RegisterREST(mux, w)
	billingapi.Register(mux, w)
}
