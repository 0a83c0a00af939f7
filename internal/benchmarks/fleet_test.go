package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"

	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The fleet: fleetSize services on their own connector, migrated to Direct VPC egress in a
// subnet big enough for all of them, fleetConcurrency at a time.
const (
	fleetSize        = 50
	fleetConcurrency = 10
	fleetConnector   = "fleet-conn"
	fleetSubnet      = "fleet-direct"
)

func fleetService(i int) string { return fmt.Sprintf("fleet-%02d", i) }

// buildFleet seeds the demo world and adds the fleet: its connector (in a /28 of the demo
// network), a /18 subnet for Direct VPC egress (50 services x 4 /28 blocks at max scale with
// the rollout overlap = 200 of its 1024 blocks) and the services.
func buildFleet(b *testing.B, e *emulator.Emulator, t timing) {
	b.Helper()
	if err := e.Seed(emulator.SeedDemo); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	withFastTiming(b, e, t, func() {
		p, r := emulator.DemoProject, emulator.DemoRegion
		vc, err := vpcaccess.NewClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer vc.Close()
		op, err := vc.CreateConnector(ctx, &vpcaccesspb.CreateConnectorRequest{
			Parent: "projects/" + p + "/locations/" + r, ConnectorId: fleetConnector,
			Connector: &vpcaccesspb.Connector{Network: emulator.DemoNetwork, IpCidrRange: "10.20.0.0/28", MinInstances: 2, MaxInstances: 10, MachineType: "e2-micro"},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := harness.WaitOperation(ctx, vc.LROClient, op.Name()); err != nil {
			b.Fatal(err)
		}
		if err := harness.InsertSubnet(ctx, e, emulator.DemoProject, fleetSubnet, emulator.DemoNetwork, "10.64.0.0/18", r); err != nil {
			b.Fatal(err)
		}
		sc, err := run.NewServicesClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		names := make([]string, fleetSize)
		for i := range names {
			names[i] = fmt.Sprintf("projects/%s/locations/%s/services/%s", p, r, fleetService(i))
		}
		vpc := &runpb.VpcAccess{Connector: fmt.Sprintf("projects/%s/locations/%s/connectors/%s", p, r, fleetConnector), Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
		if err := harness.CreateServices(ctx, sc, names, vpc); err != nil {
			b.Fatal(err)
		}
	})
	e.ResetCalls()
}

// BenchmarkFleet migrates fleetSize services at --concurrency fleetConcurrency and compares
// the wall time with ceil(N / concurrency) single migrations measured in the same world.
func BenchmarkFleet(b *testing.B) {
	t := benchTiming()
	e := newEmulator(b, emulator.SeedDemo, t)
	ctx := context.Background()
	waves := (fleetSize + fleetConcurrency - 1) / fleetConcurrency
	var one, fleet []time.Duration
	var fleetCalls int
	for b.Loop() {
		b.StopTimer()
		buildFleet(b, e, t)
		r1 := runCLI(ctx, e.Addr(), "migrate", fleetService(0), "--to", "direct", "--subnet", fleetSubnet, "--yes", "--format", "json")
		mustMigrate(b, r1, 1)
		one = append(one, r1.Wall)

		buildFleet(b, e, t)
		b.StartTimer()
		r := runCLI(ctx, e.Addr(), "migrate", "--all", "--from-connector", fleetConnector, "--to", "direct", "--subnet", fleetSubnet,
			"--concurrency", strconv.Itoa(fleetConcurrency), "--yes", "--format", "json")
		b.StopTimer()
		mustMigrate(b, r, fleetSize)
		fleet = append(fleet, r.Wall)
		fleetCalls += len(r.Log.Calls())
		b.StartTimer()
	}
	t1, tf := mean(one), mean(fleet)
	ideal := time.Duration(waves) * t1
	cp := migrationCriticalPath(t)
	b.ReportMetric(round(secs(tf), 2), "fleet_s")
	b.ReportMetric(round(secs(t1), 2), "one_s")
	b.ReportMetric(round(secs(ideal), 2), "ideal_s")
	b.ReportMetric(round(float64(tf)/float64(ideal), 3), "x_ideal")
	b.ReportMetric(round(float64(tf)/float64(time.Duration(waves)*cp.total()), 3), "x_critical_path")
	b.ReportMetric(round(float64(fleetCalls)/float64(len(fleet))/fleetSize, 1), "calls/workload")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d services at --concurrency %d (%s): %v; one migration %v; ideal %d x one = %v",
		fleetSize, fleetConcurrency, t, tf.Round(time.Millisecond), t1.Round(time.Millisecond), waves, ideal.Round(time.Millisecond))
}
