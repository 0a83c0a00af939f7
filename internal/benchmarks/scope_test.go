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

// The organization world: orgFolders folders of orgProjectsPer service projects each, all
// attached to one Shared VPC host whose connector and subnet they use, orgPerProject
// workloads each: services on the host's connector, services on Direct VPC egress in the
// host's subnet, and jobs without VPC access. 5,000 workloads in 200 projects.
const (
	orgID          = "900000000001"
	orgHost        = "bench-host"
	orgRegion      = "asia-northeast1"
	orgNetwork     = "shared"
	orgSubnet      = "direct"
	orgConnector   = "conn"
	orgFolders     = 10
	orgProjectsPer = 20
	orgPerProject  = 25
	orgConnServ    = 15 // services on the connector; then orgDirectServ on Direct VPC egress; the rest jobs
	orgDirectServ  = 5
	orgWorkloads   = orgFolders * orgProjectsPer * orgPerProject
	// orgPinnedServ services of each project, among those on the connector, are mid-migration:
	// their template moved to Direct VPC egress, deployed with no traffic, which stays pinned
	// on their first revision (on the connector). runnet reads that revision to know.
	orgPinnedServ = 1
	orgPinned     = orgFolders * orgProjectsPer * orgPinnedServ
	// orgServingConcurrency is the revisions runnet reads at once (internal/cloud's
	// servingReadConcurrency).
	orgServingConcurrency = 8
)

// pinOnFirstRevision deploys service name with vpc as its template and no traffic (as
// `gcloud run deploy --no-traffic`): 100% stays on the revision serving now.
func pinOnFirstRevision(ctx context.Context, services *run.ServicesClient, name string, vpc *runpb.VpcAccess) error {
	s, err := services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		return err
	}
	rev := s.GetLatestReadyRevision()
	if i := strings.LastIndex(rev, "/"); i >= 0 {
		rev = rev[i+1:]
	}
	s.Template.VpcAccess = vpc
	s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: rev, Percent: 100}}
	op, err := services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		return err
	}
	_, err = op.Wait(ctx)
	return err
}

func orgProject(f, p int) string { return fmt.Sprintf("svc-%02d-%02d", f, p) }

// buildOrganization fills an empty emulator with the organization world (fast timing meanwhile).
func buildOrganization(b testing.TB, e *emulator.Emulator, t timing) {
	b.Helper()
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	withFastTiming(b, e, t, func() {
		must(e.DeclareOrganization(orgID, "bench.example"))
		must(e.DeclareProject(orgHost, "host", "organizations/"+orgID, nil))
		cs, err := compute.NewService(ctx, e.ComputeClientOptions()...)
		must(err)
		op, err := cs.Networks.Insert(orgHost, &compute.Network{Name: orgNetwork, AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
		must(err)
		for op.Status != "DONE" {
			op, err = cs.GlobalOperations.Wait(orgHost, op.Name).Context(ctx).Do()
			must(err)
		}
		must(harness.InsertSubnet(ctx, e, orgHost, orgSubnet, orgNetwork, "10.64.0.0/16", orgRegion))
		vc, err := vpcaccess.NewClient(ctx, e.ClientOptions()...)
		must(err)
		defer vc.Close()
		cop, err := vc.CreateConnector(ctx, &vpcaccesspb.CreateConnectorRequest{
			Parent: "projects/" + orgHost + "/locations/" + orgRegion, ConnectorId: orgConnector,
			Connector: &vpcaccesspb.Connector{Network: orgNetwork, IpCidrRange: "10.8.0.0/28", MinInstances: 2, MaxInstances: 10, MachineType: "e2-micro"},
		})
		must(err)
		must(harness.WaitOperation(ctx, vc.LROClient, cop.Name()))
		must(e.EnableSharedVPCHost(orgHost))
		for f := range orgFolders {
			folder := fmt.Sprintf("%d", 910000000000+f)
			must(e.DeclareFolder(folder, fmt.Sprintf("team-%02d", f), "organizations/"+orgID))
			for p := range orgProjectsPer {
				id := orgProject(f, p)
				must(e.DeclareProject(id, id, "folders/"+folder, nil))
				must(e.AttachServiceProject(orgHost, id))
				for _, role := range []string{"roles/vpcaccess.user", "roles/compute.networkUser"} {
					must(e.Grant("projects/"+orgHost, role, emulator.ServiceAgent(id)))
				}
			}
		}
		services, err := run.NewServicesClient(ctx, e.ClientOptions()...)
		must(err)
		defer services.Close()
		jobs, err := run.NewJobsClient(ctx, e.ClientOptions()...)
		must(err)
		defer jobs.Close()
		connVPC := &runpb.VpcAccess{Connector: "projects/" + orgHost + "/locations/" + orgRegion + "/connectors/" + orgConnector, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
		directVPC := &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY, NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{
			Network: "projects/" + orgHost + "/global/networks/" + orgNetwork, Subnetwork: "projects/" + orgHost + "/regions/" + orgRegion + "/subnetworks/" + orgSubnet,
		}}}
		var wg sync.WaitGroup
		errs := make(chan error, orgWorkloads)
		sem := make(chan struct{}, 32)
		for f := range orgFolders {
			for p := range orgProjectsPer {
				parent := "projects/" + orgProject(f, p) + "/locations/" + orgRegion
				for i := range orgPerProject {
					wg.Go(func() {
						sem <- struct{}{}
						defer func() { <-sem }()
						var name string
						var err error
						switch {
						case i < orgConnServ+orgDirectServ:
							vpc := connVPC
							if i >= orgConnServ {
								vpc = directVPC
							}
							svc := harness.DemoLikeService(vpc)
							svc.Template.Scaling = &runpb.RevisionScaling{MaxInstanceCount: 2}
							name, err = opName(services.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: fmt.Sprintf("svc-%02d", i), Service: svc}))
						default:
							name, err = opName(jobs.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: fmt.Sprintf("job-%02d", i), Job: &runpb.Job{
								Template: &runpb.ExecutionTemplate{TaskCount: 1, Template: &runpb.TaskTemplate{Containers: []*runpb.Container{{Image: emulator.DemoImage}}}},
							}}))
						}
						if err == nil {
							err = harness.WaitOperation(ctx, services.LROClient, name)
						}
						if err == nil && i < orgPinnedServ {
							err = pinOnFirstRevision(ctx, services, parent+"/services/"+fmt.Sprintf("svc-%02d", i), directVPC)
						}
						if err != nil {
							errs <- err
						}
					})
				}
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	})
}

// BenchmarkInventoryOrganization runs `runnet inventory --organization` over 5,000 workloads in
// 200 projects as a subprocess (the release binary), through Cloud Asset Inventory, and
// reports its wall time against its dependent-RTT bound, its API calls and its peak memory.
func BenchmarkInventoryOrganization(b *testing.B) {
	t := benchTiming()
	bin := releaseBinary(b, releaseTags)
	e := newEmulator(b, emulator.SeedEmpty, t)
	buildOrganization(b, e, t)
	// The caller may search the organization.
	e.SetPrincipal("user:platform@bench.example")
	if err := e.Grant("organizations/"+orgID, "roles/cloudasset.viewer", "user:platform@bench.example"); err != nil {
		b.Fatal(err)
	}
	if err := e.Grant("organizations/"+orgID, "roles/browser", "user:platform@bench.example"); err != nil {
		b.Fatal(err)
	}

	runs := invRuns
	if testing.Short() {
		runs = invRunsShort
	}
	var walls, cpu []time.Duration
	var rss, parentRSS int64
	var calls map[string]int
	var out scopeOut
	for b.Loop() {
		for range runs {
			e.ResetCalls()
			m, o, err := runOrgInventory(bin, e.Addr())
			if err != nil {
				b.Fatal(err)
			}
			out = o
			walls = append(walls, time.Duration(m.WallNS))
			cpu = append(cpu, time.Duration(m.CPUNS))
			rss, parentRSS = max(rss, m.MaxRSS), max(parentRSS, m.ParentRSS)
			calls = e.Calls()
		}
	}
	b.StopTimer()
	// The bound: the search's pages follow each other (each needs the previous page's
	// token); the folder walk (a round trip per level: the organization, then its folders)
	// runs beside it. So the bound is max(pages, levels) x RTT.
	// Then the pinned services' serving revisions, orgServingConcurrency at a time.
	pages := out.Calls.CloudAsset
	const levels = 2
	revRounds := (out.Calls.Serving + orgServingConcurrency - 1) / orgServingConcurrency
	bound := time.Duration(max(pages, levels)+revRounds) * t.Latency

	e.SetLatency(0)
	var floor []time.Duration
	for range runs {
		m, _, err := runOrgInventory(bin, e.Addr())
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
	b.ReportMetric(float64(total(calls)), "api_calls")
	b.ReportMetric(float64(pages), "search_pages")
	b.ReportMetric(round(float64(rss)/(1<<20), 1), "max_rss_MB")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(out.Calls.Serving), "revision_reads")
	b.Logf("%d workloads (%d with traffic pinned on an older revision) in %d projects under %d folders (%s): median wall %v over %d runs (%v without latency; runnet's CPU time %v); bound %v (%d search pages, %d hierarchy levels, then %d revision reads %d at a time: %d round trips); %d API calls (%s); max RSS %.1f MB (the spawning process: %.1f MB)",
		orgWorkloads, orgPinned, orgFolders*orgProjectsPer, orgFolders, t, wall.Round(100*time.Microsecond), len(walls), median(floor).Round(100*time.Microsecond),
		median(cpu).Round(100*time.Microsecond), bound, pages, levels, out.Calls.Serving, orgServingConcurrency, revRounds, total(calls), describeCounts(calls),
		float64(rss)/(1<<20), float64(parentRSS)/(1<<20))
}

type scopeOut struct {
	Projects  []string          `json:"projects"`
	Workloads []json.RawMessage `json:"workloads"`
	Sources   []struct {
		Via string `json:"via"`
	} `json:"sources"`
	Calls struct {
		CloudAsset int `json:"cloudAsset"`
		List       int `json:"list"`
		Serving    int `json:"serving"`
	} `json:"calls"`
	Connectors []struct {
		Users []json.RawMessage `json:"users"`
	} `json:"connectors"`
}

// runOrgInventory runs the binary's inventory of the organization and checks that it read
// every workload of every project through one Cloud Asset search.
func runOrgInventory(bin, addr string) (measurement, scopeOut, error) {
	var o scopeOut
	m, stdout, _, err := measure(bin, []string{cli.EnvEmulatorHost + "=" + addr},
		"inventory", "--organization", orgID, "--format", "json")
	if err != nil {
		return m, o, fmt.Errorf("runnet inventory: %w", err)
	}
	if err := json.Unmarshal(stdout, &o); err != nil {
		return m, o, fmt.Errorf("decode the inventory: %w", err)
	}
	switch {
	case len(o.Workloads) != orgWorkloads:
		return m, o, fmt.Errorf("inventory listed %d workloads, want %d", len(o.Workloads), orgWorkloads)
	case len(o.Projects) != orgFolders*orgProjectsPer+1:
		return m, o, fmt.Errorf("inventory read %d projects, want %d", len(o.Projects), orgFolders*orgProjectsPer+1)
	case len(o.Sources) != 1 || o.Sources[0].Via != "cloudasset" || o.Calls.List != 0:
		return m, o, fmt.Errorf("inventory did not read the organization through one search: %+v", o)
	case o.Calls.Serving != orgPinned:
		return m, o, fmt.Errorf("inventory read %d revisions, want %d (the pinned ones)", o.Calls.Serving, orgPinned)
	case len(o.Connectors) != 1 || len(o.Connectors[0].Users) != orgFolders*orgProjectsPer*orgConnServ:
		return m, o, fmt.Errorf("the connector's users are not the %d services on it, the pinned ones included", orgFolders*orgProjectsPer*orgConnServ)
	}
	return m, o, nil
}
