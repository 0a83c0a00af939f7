package benchmarks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The single migration measured: the demo service, from its connector to Direct VPC egress in
// the demo's subnet, all traffic at once (no canary: one UpdateService), through the real `runnet migrate` code
// (flag parsing, reads, preflight, plan, executor, cloud adapters, report).
var migrateArgs = []string{"migrate", emulator.DemoService, "--to", "direct", "--subnet", emulator.DemoDirectSubnet, "--yes", "--format", "json"}

// pathStep is one step of a critical path.
type pathStep struct {
	what string
	d    time.Duration
}

type criticalPath []pathStep

func (p criticalPath) total() time.Duration {
	var t time.Duration
	for _, s := range p {
		t += s.d
	}
	return t
}

func (p criticalPath) rtts(rtt time.Duration) int {
	n := 0
	for _, s := range p {
		if s.d == rtt {
			n++
		}
	}
	return n
}

func (p criticalPath) String() string {
	parts := make([]string, 0, len(p))
	for _, s := range p {
		parts = append(parts, fmt.Sprintf("%s (%v)", s.what, s.d))
	}
	return strings.Join(parts, " + ")
}

// migrationCriticalPath is what a zero-downtime connector -> direct migration of a service,
// all traffic at once, cannot avoid doing one after the other, priced with the emulator's
// settings (RTT = its per-call latency):
//
//  1. read the service (its template, etag and traffic): 1 RTT;
//  2. preflight, every read at once, of which the deepest chain is two long: the current
//     connector (GetConnector, with the target subnetwork, network, firewall rules, workload
//     lists and permissions alongside) and then the subnetwork the connector was made in (its
//     range, for the firewall check; its name is only known from the connector): 2 RTT;
//  3. one UpdateService with the new template, the traffic following it (with the etag read
//     in 1): 1 RTT, then the revision becomes Ready and Cloud Run routes the traffic to it:
//     RevisionReady (the WaitOperation long poll is sent at once and returns the moment the
//     operation is done, so its own RTT overlaps the rollout).
//
// Total: 4 x RTT + RevisionReady.
func migrationCriticalPath(t timing) criticalPath {
	return criticalPath{
		{"GetService", t.Latency},
		{"GetConnector (preflight reads in parallel)", t.Latency},
		{"get the connector's subnetwork", t.Latency},
		{"UpdateService: new template, traffic follows", t.Latency},
		{"revision Ready, traffic routed", t.Ready},
	}
}

// minimumCalls are the API calls the same migration needs at least, and why. The preflight
// design (DESIGN.md) needs every fact below; the writes and waits are the migration.
var minimumCalls = []struct {
	method, why string
}{
	{"Services/GetService", "the template, etag and traffic"},
	{"compute.subnetworks.get", "target subnet: exists, region, size, utilization"},
	{"compute.addresses.list", "target subnet: Cloud Run's serverless reservations in it"},
	{"VpcAccessService/GetConnector", "the current connector: network, range, subnet"},
	{"compute.subnetworks.get", "the connector's subnet: its range, for the firewall check"},
	{"compute.firewalls.list", "rules that target the connector's tags or range"},
	{"Services/ListServices", "who shares the target subnet, who else uses the connector"},
	{"Jobs/ListJobs", "same"},
	{"WorkerPools/ListWorkerPools", "same"},
	{"Services/TestIamPermissions", "run.services.get/update on the service"},
	{"compute.subnetworks.testIamPermissions", "compute.subnetworks.use on the subnet"},
	{"Services/UpdateService", "the new template, the traffic following it (the journal's removal rides along)"},
	{"Operations/WaitOperation", "until the revision is Ready and serves"},
}

// BenchmarkMigrate migrates the demo service from its connector to Direct VPC egress and
// reports its wall time against its critical path, the round trips it made one after another,
// and its API calls against the minimum.
func BenchmarkMigrate(b *testing.B) {
	t := benchTiming()
	e := newEmulator(b, emulator.SeedDemo, t)
	ctx := context.Background()
	cp := migrationCriticalPath(t)
	var walls []time.Duration
	var calls, serverCalls, rtts int
	var early time.Duration
	var last cliResult
	for b.Loop() {
		b.StopTimer()
		if err := e.Seed(emulator.SeedDemo); err != nil {
			b.Fatal(err)
		}
		e.ResetCalls()
		b.StartTimer()
		r := runCLI(ctx, e.Addr(), migrateArgs...)
		b.StopTimer()
		mustMigrate(b, r, 1)
		walls = append(walls, r.Wall)
		cs := r.Log.Calls()
		calls += len(cs)
		serverCalls += total(e.Calls())
		chain := dependentChain(roundTrips(cs, t.Latency), time.Millisecond)
		rtts += len(chain) - waits(chain)
		early += earlyOps(cs, t)
		last = r
		b.StartTimer()
	}
	n := len(walls)
	wall := mean(walls)
	b.ReportMetric(round(secs(wall), 3), "wall_s")
	b.ReportMetric(round(secs(cp.total()), 3), "critical_path_s")
	b.ReportMetric(round(float64(wall)/float64(cp.total()), 4), "x_critical_path")
	b.ReportMetric(round(ms(early)/float64(n), 1), "ops_early_ms")
	b.ReportMetric(round(float64(rtts)/float64(n), 1), "dependent_rtts")
	b.ReportMetric(float64(cp.rtts(t.Latency)), "min_dependent_rtts")
	b.ReportMetric(round(float64(calls)/float64(n), 1), "api_calls")
	b.ReportMetric(float64(len(minimumCalls)), "min_api_calls")
	b.ReportMetric(round(float64(calls)/float64(n)/float64(len(minimumCalls)), 2), "x_min_calls")
	b.ReportMetric(0, "ns/op")
	cs := last.Log.Calls()
	b.Logf("%s: wall %v, critical path %v = %s", t, wall.Round(time.Millisecond), cp.total(), cp)
	if early > 0 {
		b.Logf("the emulator ended Cloud Run operations %v early on average (see earlyOps): on a platform that ends each one revision-ready after its request, the wall time would be %v (%.3f x)",
			(early / time.Duration(n)).Round(time.Millisecond), (wall + early/time.Duration(n)).Round(time.Millisecond), float64(wall+early/time.Duration(n))/float64(cp.total()))
	}
	b.Logf("dependent calls of the last run: %s", describeChain(dependentChain(roundTrips(cs, t.Latency), time.Millisecond)))
	b.Logf("API calls of the last run (%d; the emulator counted %d): %s", len(cs), serverCalls/n, describeCounts(countCalls(cs)))
}

// earlyOps is how much sooner than revision-ready after their request the Cloud Run
// operations of cs ended (a WaitOperation is sent as soon as its UpdateService is answered, so
// it lasts revision-ready when the operation takes that long). The emulator ends every waiting
// operation of a service at each of its reconcile passes, so an operation can end early when
// an earlier change (runnet's journal annotation) has a pass pending; the wall time is then
// that much below what a faithful platform would give.
func earlyOps(cs []call, t timing) time.Duration {
	var d time.Duration
	for _, c := range cs {
		if strings.HasSuffix(c.Method, "/WaitOperation") && c.Duration() < t.Ready-t.Latency/2 {
			d += t.Ready - c.Duration()
		}
	}
	return d
}

// roundTrips drops the calls that did not pay the emulator's latency: only calls the emulator
// does not serve (answered 404 by its router before any latency) are that quick.
func roundTrips(cs []call, latency time.Duration) []call {
	var out []call
	for _, c := range cs {
		if c.Duration() >= latency*3/4 {
			out = append(out, c)
		}
	}
	return out
}

// waits counts the operation waits in a chain.
func waits(chain []call) int {
	n := 0
	for _, c := range chain {
		if strings.HasSuffix(c.Method, "/WaitOperation") || strings.HasSuffix(c.Method, "Operations.wait") {
			n++
		}
	}
	return n
}
