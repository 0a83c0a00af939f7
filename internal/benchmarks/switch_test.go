package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// BenchmarkSwitch measures, in one run against one emulator with the same settings, the same
// change of the demo service (its connector -> Direct VPC egress in the demo's subnet) made
// three ways, each against its own critical path:
//
//   - one-step: `runnet migrate` with no canary step (the default --canary 100);
//   - gcloud: the change as `gcloud run services update SERVICE --network N --subnet S` makes
//     it, with the client library: GetService, the template's VPC access replaced,
//     UpdateService, op.Wait() (the library's default poll);
//   - canary: `runnet migrate --canary 10,100`.
//
// Each sub-benchmark reports wall_s, critical_path_s and x_critical_path; one-step also
// reports x_gcloud, its wall time over gcloud's measured in the same run (a sub-benchmark's
// figures are kept for the next one: run them together, -bench 'BenchmarkSwitch').
func BenchmarkSwitch(b *testing.B) {
	t := benchTiming()
	e := newEmulator(b, emulator.SeedDemo, t)
	var gcloudWall time.Duration
	b.Run("gcloud", func(b *testing.B) {
		cp := gcloudCriticalPath(t)
		walls := loopSeeded(b, e, func(ctx context.Context) time.Duration { return gcloudSwitch(ctx, b, e) })
		gcloudWall = mean(walls)
		reportPath(b, t, gcloudWall, cp)
	})
	b.Run("one-step", func(b *testing.B) {
		cp := migrationCriticalPath(t)
		var last cliResult
		walls := loopSeeded(b, e, func(ctx context.Context) time.Duration {
			last = runCLI(ctx, e.Addr(), migrateArgs...)
			mustMigrate(b, last, 1)
			return last.Wall
		})
		wall := mean(walls)
		reportPath(b, t, wall, cp)
		if gcloudWall > 0 {
			b.ReportMetric(round(float64(wall)/float64(gcloudWall), 4), "x_gcloud")
			b.Logf("one-step %v vs gcloud-equivalent %v (same run): %.3f x", wall.Round(time.Millisecond), gcloudWall.Round(time.Millisecond), float64(wall)/float64(gcloudWall))
		}
		b.Logf("dependent calls of the last run: %s", describeChain(dependentChain(roundTrips(last.Log.Calls(), t.Latency), time.Millisecond)))
	})
	b.Run("canary", func(b *testing.B) {
		cp := canaryCriticalPath(t)
		args := append([]string{}, migrateArgs...)
		args = append(args, "--canary", "10,100")
		var last cliResult
		walls := loopSeeded(b, e, func(ctx context.Context) time.Duration {
			last = runCLI(ctx, e.Addr(), args...)
			mustMigrate(b, last, 1)
			return last.Wall
		})
		reportPath(b, t, mean(walls), cp)
		b.Logf("dependent calls of the last run: %s", describeChain(dependentChain(roundTrips(last.Log.Calls(), t.Latency), time.Millisecond)))
	})
}

// loopSeeded runs one measured change per iteration, each on a freshly seeded demo world.
func loopSeeded(b *testing.B, e *emulator.Emulator, one func(ctx context.Context) time.Duration) []time.Duration {
	ctx := context.Background()
	var walls []time.Duration
	for b.Loop() {
		b.StopTimer()
		if err := e.Seed(emulator.SeedDemo); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		walls = append(walls, one(ctx))
	}
	return walls
}

func reportPath(b *testing.B, t timing, wall time.Duration, cp criticalPath) {
	b.ReportMetric(round(secs(wall), 3), "wall_s")
	b.ReportMetric(round(secs(cp.total()), 3), "critical_path_s")
	b.ReportMetric(round(float64(wall)/float64(cp.total()), 4), "x_critical_path")
	b.ReportMetric(float64(cp.rtts(t.Latency)), "min_dependent_rtts")
	b.ReportMetric(0, "ns/op")
	b.Logf("%s: wall %v, critical path %v = %s", t, wall.Round(time.Millisecond), cp.total(), cp)
}

// gcloudCriticalPath is the same change with no checks: read the service (1 RTT), one
// UpdateService (1 RTT), the revision becoming Ready. Total: 2 x RTT + RevisionReady. The
// client library's op.Wait() notices the end by polling, which the measured time includes and
// the critical path does not.
func gcloudCriticalPath(t timing) criticalPath {
	return criticalPath{
		{"GetService", t.Latency},
		{"UpdateService", t.Latency},
		{"revision Ready, traffic routed", t.Ready},
	}
}

// canaryCriticalPath is a two-step canary's: the reads and preflight (3 RTT); deploy the new
// revision at 0% (1 RTT) until Ready; move 10% (1 RTT) until routed; move the rest (1 RTT)
// until routed (no --step-wait). Total: 6 x RTT + 3 x RevisionReady.
func canaryCriticalPath(t timing) criticalPath {
	return criticalPath{
		{"GetService", t.Latency},
		{"GetConnector (preflight reads in parallel)", t.Latency},
		{"get the connector's subnetwork", t.Latency},
		{"UpdateService: deploy at 0%", t.Latency},
		{"revision Ready", t.Ready},
		{"UpdateService: 10%", t.Latency},
		{"traffic routed", t.Ready},
		{"UpdateService: 100%", t.Latency},
		{"traffic routed", t.Ready},
	}
}

// gcloudSwitch makes the change as gcloud does and returns its wall time.
func gcloudSwitch(ctx context.Context, b *testing.B, e *emulator.Emulator) time.Duration {
	b.StopTimer()
	cl, err := run.NewServicesClient(ctx, e.ClientOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	name := fmt.Sprintf("projects/%s/locations/%s/services/%s", emulator.DemoProject, emulator.DemoRegion, emulator.DemoService)
	b.StartTimer()
	start := time.Now()
	svc, err := cl.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		b.Fatal(err)
	}
	prev := svc.GetLatestReadyRevision()
	egress := svc.GetTemplate().GetVpcAccess().GetEgress()
	svc.Template.VpcAccess = &runpb.VpcAccess{
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: emulator.DemoNetwork, Subnetwork: emulator.DemoDirectSubnet}},
		Egress:            egress,
	}
	op, err := cl.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		b.Fatal(err)
	}
	res, err := op.Wait(ctx)
	wall := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.GetLatestReadyRevision() == prev || res.GetTemplate().GetVpcAccess().GetConnector() != "" {
		b.Fatalf("the change did not take: latest ready %q (was %q), VPC access %v", res.GetLatestReadyRevision(), prev, res.GetTemplate().GetVpcAccess())
	}
	b.StartTimer()
	return wall
}
