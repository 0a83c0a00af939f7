package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/internal/cli"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The inventory world: invRegions regions of project invProject, each with one network's
// Direct VPC subnet and connector, and invPerRegion workloads: services (a third on the
// connector, a third on Direct VPC egress, a third without VPC), jobs (half on the connector)
// and worker pools (half on Direct VPC egress).
const (
	invProject      = "inventory-project"
	invNetwork      = "inv-vpc"
	invSubnet       = "inv-direct"
	invConnector    = "inv-conn"
	invServices     = 150
	invJobs         = 30
	invWorkerPools  = 20
	invPerRegion    = invServices + invJobs + invWorkerPools
	invRuns         = 7 // subprocess runs per iteration (3 with -short); the median is reported
	invRunsShort    = 3
	invMemoryTarget = 100 // MB
)

var invRegions = []string{"asia-northeast1", "europe-west1", "us-central1", "us-east1", "asia-southeast1"}

// buildInventory fills an empty emulator with the inventory world (fast timing meanwhile).
func buildInventory(b *testing.B, e *emulator.Emulator, t timing) {
	b.Helper()
	ctx := context.Background()
	withFastTiming(b, e, t, func() {
		cs, err := compute.NewService(ctx, e.ComputeClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		op, err := cs.Networks.Insert(invProject, &compute.Network{Name: invNetwork, AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
		if err != nil {
			b.Fatal(err)
		}
		for op.Status != "DONE" {
			if op, err = cs.GlobalOperations.Wait(invProject, op.Name).Context(ctx).Do(); err != nil {
				b.Fatal(err)
			}
		}
		vc, err := vpcaccess.NewClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer vc.Close()
		conn, err := run.NewServicesClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		jobs, err := run.NewJobsClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer jobs.Close()
		pools, err := run.NewWorkerPoolsClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer pools.Close()

		for i, r := range invRegions {
			if err := harness.InsertSubnet(ctx, e, invProject, invSubnet, invNetwork, fmt.Sprintf("10.%d.0.0/16", 10+i), r); err != nil {
				b.Fatal(err)
			}
			op, err := vc.CreateConnector(ctx, &vpcaccesspb.CreateConnectorRequest{
				Parent: "projects/" + invProject + "/locations/" + r, ConnectorId: invConnector,
				Connector: &vpcaccesspb.Connector{Network: invNetwork, IpCidrRange: fmt.Sprintf("10.%d.0.0/28", 100+i), MinInstances: 2, MaxInstances: 10, MachineType: "e2-micro"},
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := harness.WaitOperation(ctx, vc.LROClient, op.Name()); err != nil {
				b.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(invRegions)*invPerRegion)
		sem := make(chan struct{}, 16)
		for _, r := range invRegions {
			parent := "projects/" + invProject + "/locations/" + r
			connVPC := &runpb.VpcAccess{Connector: parent + "/connectors/" + invConnector, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
			directVPC := &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY, NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{
				Network: "projects/" + invProject + "/global/networks/" + invNetwork, Subnetwork: "projects/" + invProject + "/regions/" + r + "/subnetworks/" + invSubnet,
			}}}
			pick := func(i, n int, vpcs ...*runpb.VpcAccess) *runpb.VpcAccess { return vpcs[i*len(vpcs)/n] }
			create := func(fn func() (string, error)) {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					name, err := fn()
					if err == nil {
						err = harness.WaitOperation(ctx, conn.LROClient, name)
					}
					if err != nil {
						errs <- err
					}
				})
			}
			for i := range invServices {
				create(func() (string, error) {
					op, err := conn.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: fmt.Sprintf("svc-%03d", i),
						Service: harness.DemoLikeService(pick(i, invServices, connVPC, directVPC, nil))})
					return opName(op, err)
				})
			}
			for i := range invJobs {
				create(func() (string, error) {
					op, err := jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: fmt.Sprintf("job-%03d", i), Job: &runpb.Job{
						Template: &runpb.ExecutionTemplate{TaskCount: 1, Template: &runpb.TaskTemplate{
							Containers: []*runpb.Container{{Image: emulator.DemoImage, Args: []string{"python", "export.py"}}},
							VpcAccess:  pick(i, invJobs, connVPC, nil),
						}},
					}})
					return opName(op, err)
				})
			}
			for i := range invWorkerPools {
				create(func() (string, error) {
					op, err := pools.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: parent, WorkerPoolId: fmt.Sprintf("pool-%03d", i), WorkerPool: &runpb.WorkerPool{
						Template: &runpb.WorkerPoolRevisionTemplate{
							Containers: []*runpb.Container{{Image: emulator.DemoImage}},
							VpcAccess:  pick(i, invWorkerPools, directVPC, nil),
						},
					}})
					return opName(op, err)
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	})
}

type namedOp interface{ Name() string }

func opName[T namedOp](op T, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return op.Name(), nil
}

// listPageCap is the most items the emulator returns in one page of a Cloud Run list, asked
// for with a page size above any cap.
func listPageCap(ctx context.Context, e *emulator.Emulator, region string) (int, error) {
	cl, err := run.NewServicesClient(ctx, e.ClientOptions()...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	it := cl.ListServices(ctx, &runpb.ListServicesRequest{Parent: "projects/" + invProject + "/locations/" + region, PageSize: 100000})
	if _, err := it.Next(); err != nil {
		return 0, err
	}
	return it.PageInfo().Remaining() + 1, nil
}

// BenchmarkInventory runs `runnet inventory` over 1,000 workloads in 5 regions as a
// subprocess (the release binary) and reports its wall time against its dependent-RTT bound,
// its API calls and its peak memory (max RSS).
func BenchmarkInventory(b *testing.B) {
	t := benchTiming()
	bin := releaseBinary(b, releaseTags)
	e := newEmulator(b, emulator.SeedEmpty, t)
	buildInventory(b, e, t)
	ctx := context.Background()

	// The bound: regions are read at once; in a region every list runs at once; a list of n
	// items takes ceil(n / page cap) dependent pages. So the bound is the longest list's
	// pages x RTT.
	pageCap, err := listPageCap(ctx, e, invRegions[0])
	if err != nil {
		b.Fatal(err)
	}
	pages := 1
	for _, n := range []int{invServices, invJobs, invWorkerPools} {
		pages = max(pages, (n+pageCap-1)/pageCap)
	}
	bound := time.Duration(pages) * t.Latency

	runs := invRuns
	if testing.Short() {
		runs = invRunsShort
	}
	var walls []time.Duration
	var rss, parentRSS int64
	var calls int
	var cpu []time.Duration
	for b.Loop() {
		for range runs {
			e.ResetCalls()
			m, err := runInventory(b, bin, e.Addr())
			if err != nil {
				b.Fatal(err)
			}
			walls = append(walls, time.Duration(m.WallNS))
			cpu = append(cpu, time.Duration(m.CPUNS))
			rss, parentRSS = max(rss, m.MaxRSS), max(parentRSS, m.ParentRSS)
			calls = total(e.Calls())
		}
	}
	b.StopTimer()
	// The same inventory without latency: the CPU time of runnet and the emulator (on the
	// same cores), which no round trip explains.
	e.SetLatency(0)
	var floor []time.Duration
	for range runs {
		m, err := runInventory(b, bin, e.Addr())
		if err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Duration(m.WallNS))
	}
	e.SetLatency(t.Latency)

	wall := median(walls)
	b.ReportMetric(round(ms(wall), 1), "wall_ms")
	b.ReportMetric(round(ms(bound), 1), "bound_ms")
	b.ReportMetric(round(float64(wall)/float64(bound), 2), "x_bound")
	b.ReportMetric(round(ms(median(floor)), 1), "no_latency_ms")
	b.ReportMetric(round(ms(median(cpu)), 1), "cpu_ms")
	b.ReportMetric(float64(calls), "api_calls")
	b.ReportMetric(round(float64(rss)/(1<<20), 1), "max_rss_MB")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d workloads in %d regions (%s; list pages hold at most %d, so %d dependent pages per region): median wall %v over %d runs (%v without latency; runnet's CPU time %v); bound %v; %d API calls; max RSS %.1f MB (the spawning process: %.1f MB)",
		len(invRegions)*invPerRegion, len(invRegions), t, pageCap, pages, wall.Round(100*time.Microsecond), len(walls), median(floor).Round(100*time.Microsecond),
		median(cpu).Round(100*time.Microsecond),
		bound, calls, float64(rss)/(1<<20), float64(parentRSS)/(1<<20))
}

// runInventory runs the binary's inventory of the inventory world, checks that it lists every
// workload, and returns its measurement.
func runInventory(b *testing.B, bin, addr string) (measurement, error) {
	m, out, _, err := measure(bin, []string{cli.EnvEmulatorHost + "=" + addr},
		"inventory", "--project", invProject, "--regions", strings.Join(invRegions, ","), "--format", "json")
	if err != nil {
		return m, fmt.Errorf("runnet inventory: %w", err)
	}
	if n := countWorkloads(b, out); n != len(invRegions)*invPerRegion {
		return m, fmt.Errorf("inventory listed %d workloads, want %d", n, len(invRegions)*invPerRegion)
	}
	return m, nil
}

func countWorkloads(b *testing.B, out []byte) int {
	var inv struct {
		Workloads []json.RawMessage `json:"workloads"`
	}
	if err := json.Unmarshal(out, &inv); err != nil {
		b.Fatalf("decode the inventory: %v", err)
	}
	return len(inv.Workloads)
}
