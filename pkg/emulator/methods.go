package emulator

import (
	"log/slog"
	"slices"

	"google.golang.org/grpc"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/assetapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/lroapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/monitoringapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Methods lists, sorted, every method the emulator serves under the names faults and call
// counts use: full gRPC methods (google.cloud.run.v2.Services/UpdateService) and Compute method
// ids (compute.subnetworks.insert). A fault for any other method would never strike.
func Methods() []string {
	s := grpc.NewServer()
	w := world.New(world.Config{}, slog.New(slog.DiscardHandler))
	lroapi.Register(s, w)
	runapi.Register(s, w)
	vpcaccessapi.Register(s, w)
	monitoringapi.Register(s, w)
	assetapi.Register(s, w)
	// The REST methods beyond Compute that faults and call counts name by method id.
	out := []string{"cloudbilling.services.list", "cloudbilling.services.skus.list", "vpcaccess.projects.locations.connectors.patch",
		"serviceusage.services.consumerQuotaMetrics.list", "serviceusage.services.consumerQuotaMetrics.get",
		"serviceusage.services.consumerQuotaMetrics.limits.get"}
	for svc, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			out = append(out, svc+"/"+m.Name)
		}
	}
	for _, id := range computeapi.MethodIDs() {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
