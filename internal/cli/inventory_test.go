package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"github.com/spf13/cobra"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// ---- Flags.

func TestParseRegionsFlag(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		all     bool
		wantErr string
	}{
		{in: []string{"us-central1"}, want: []string{"us-central1"}},
		{in: []string{"us-central1", "asia-northeast1", "us-central1"}, want: []string{"asia-northeast1", "us-central1"}},
		{in: []string{" europe-west1"}, want: []string{"europe-west1"}},
		{in: []string{"all"}, all: true},
		{in: []string{"ALL"}, all: true},
		{in: []string{"all", "all"}, all: true},
		{in: nil, wantErr: "--regions: no region given"},
		{in: []string{""}, wantErr: "--regions: empty region name"},
		{in: []string{"us-central1", ""}, wantErr: "--regions: empty region name"},
		{in: []string{"all", "us-central1"}, wantErr: `--regions: "all" already means every region`},
		{in: []string{"US-CENTRAL1"}, wantErr: "--regions:"},
		{in: []string{"us_central1"}, wantErr: "--regions:"},
		{in: []string{"uscentral"}, wantErr: "--regions:"},
		{in: []string{"projects/p/locations/us-central1"}, wantErr: "--regions:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, all, err := ParseRegionsFlag(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if cloud.ExitCode(err) != exitcode.Usage {
					t.Errorf("exit code %d, want %d", cloud.ExitCode(err), exitcode.Usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if all != tt.all || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v all=%v, want %v all=%v", got, all, tt.want, tt.all)
			}
		})
	}
}

func TestInventoryFlags(t *testing.T) {
	var got *InventoryOptions
	mk := func(f *Factory) *cobra.Command {
		return NewCmdInventory(f, func(_ context.Context, o *InventoryOptions) error { got = o; return nil })
	}
	tests := []struct {
		name    string
		args    []string
		regions string
		all     bool
		wantErr string
	}{
		{name: "default region", args: []string{"inventory"}, regions: tRegion},
		{name: "explicit region", args: []string{"inventory", "--region", "us-central1"}, regions: "us-central1"},
		{name: "regions", args: []string{"inventory", "--regions", "us-central1,asia-northeast1"}, regions: "asia-northeast1,us-central1"},
		{name: "repeated", args: []string{"inventory", "--regions", "us-east1", "--regions", "us-west1"}, regions: "us-east1,us-west1"},
		{name: "all", args: []string{"inventory", "--regions", "all"}, all: true},
		{name: "bad region", args: []string{"inventory", "--regions", "asia-northeast1,Tokyo"}, wantErr: "--regions:"},
		{name: "empty", args: []string{"inventory", "--regions", ""}, wantErr: "--regions: no region given"},
		{name: "region and regions", args: []string{"inventory", "--region", "us-east1", "--regions", "us-west1"}, wantErr: "--regions: give the regions to read with --regions only"},
		{name: "bad default region", args: []string{"inventory", "--region", "nowhere"}, wantErr: "--region:"},
		{name: "argument", args: []string{"inventory", "extra"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			r := runStubbed(t, "inventory", mk, tt.args...)
			if tt.wantErr != "" {
				if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, tt.wantErr) {
					t.Fatalf("exit %d, stderr %q; want %d and %q", r.Code, r.Stderr, exitcode.Usage, tt.wantErr)
				}
				if got != nil {
					t.Error("run was called after a usage error")
				}
				return
			}
			if r.Code != 0 || got == nil {
				t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
			}
			if got.Project != tProject || got.All != tt.all || strings.Join(got.RegionList, ",") != tt.regions {
				t.Errorf("options = project %q regions %v all %v", got.Project, got.RegionList, got.All)
			}
		})
	}
}

func TestInventoryNeedsARegion(t *testing.T) {
	// No region anywhere: a usage error that says how to set one (as for every command).
	r := runCLI(t, false, []string{"inventory", "--project", "demo-project"})
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "region") {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	// --regions needs none.
	var got *InventoryOptions
	r = runStubbed(t, "inventory", func(f *Factory) *cobra.Command {
		return NewCmdInventory(f, func(_ context.Context, o *InventoryOptions) error { got = o; return nil })
	}, "inventory", "--regions", "europe-west1")
	if r.Code != 0 || got == nil || got.RegionList[0] != "europe-west1" {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// ---- Building, on made-up reads.

func svc(region, name string, maxInstances int, vpc egress.VPC) *cloud.Workload {
	w := &cloud.Workload{}
	w.Ref = egress.WorkloadRef{Project: tProject, Region: region, Kind: egress.KindService, Name: name}
	w.VPC, w.MaxInstances = vpc, maxInstances
	return w
}

func subnet(region, name, cidr string, serverlessIPs int64) *cloud.Subnet {
	s := &cloud.Subnet{
		Name: name, Project: tProject, Region: region, Network: "run-vpc",
		Path:        egress.SubnetRef{Project: tProject, Region: region, Name: name}.Path(),
		NetworkPath: "projects/" + tProject + "/global/networks/run-vpc", IPCIDRRange: cidr,
		ServerlessIPs: serverlessIPs,
	}
	switch cidr {
	case "10.8.0.0/24":
		s.PrefixLength, s.Size, s.UsableIPs, s.Blocks = 24, 256, 252, 15
	case "10.9.0.0/26":
		s.PrefixLength, s.Size, s.UsableIPs, s.Blocks = 26, 64, 60, 3
	case "10.10.0.0/27":
		s.PrefixLength, s.Size, s.UsableIPs, s.Blocks = 27, 32, 28, 1
	}
	return s
}

func conn(region, name string) *cloud.Connector {
	ref := egress.ConnectorRef{Project: tProject, Region: region, Name: name}
	return &cloud.Connector{Name: name, Project: tProject, Region: region, FullName: ref.FullName(), State: cloud.ConnectorReady,
		MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10}
}

func findingKinds(inv Inventory) map[string][]string {
	out := map[string][]string{}
	for _, f := range inv.Findings {
		out[f.Kind] = append(out[f.Kind], f.Resource)
	}
	return out
}

func TestInventoryBuild(t *testing.T) {
	const r1, r2 = "asia-northeast1", "us-central1"
	direct := func(s string) egress.VPC { return egress.VPC{Network: "run-vpc", Subnet: s} }
	connector := func(c string) egress.VPC { return egress.VPC{Connector: c} }
	reads := []*regionRead{
		{
			region: r2,
			workloads: []*cloud.Workload{
				svc(r2, "big", 100, direct("tiny")),
				svc(r2, "gone-user", 5, connector("gone")),
				svc(r2, "lost", 5, direct("no-such-subnet")),
			},
			subnets:    []*cloud.Subnet{subnet(r2, "tiny", "10.9.0.0/26", 0)},
			connectors: []*cloud.Connector{conn(r2, "idle")},
		},
		{
			region: r1,
			workloads: []*cloud.Workload{
				svc(r1, "a", 10, connector("run-connector")),
				svc(r1, "b", 0, egress.VPC{}), // max not set: 100 assumed
				svc(r1, "c", 40, direct("run-direct-vpc-egress")),
				svc(r1, "d", 16, direct("run-direct-vpc-egress")),
				svc(r1, "small-user", 1, direct("small")),
			},
			connectors: []*cloud.Connector{conn(r1, "run-connector"), conn(r1, "lonely")},
			subnets: []*cloud.Subnet{
				subnet(r1, "run-direct-vpc-egress", "10.8.0.0/24", 32),
				subnet(r1, "held", "10.8.0.0/24", 48),
				subnet(r1, "unused", "10.8.0.0/24", 0),
				subnet(r1, "small", "10.10.0.0/27", 0),
			},
		},
	}
	inv := newInventoryBuilder(tProject).build(context.Background(), nil, reads)

	if strings.Join(inv.Regions, ",") != r1+","+r2 {
		t.Errorf("regions %v", inv.Regions)
	}
	if len(inv.Workloads) != 8 || inv.Workloads[0].Region != r1 || inv.Workloads[7].Region != r2 {
		t.Fatalf("workloads %+v", inv.Workloads)
	}
	for _, w := range inv.Workloads {
		if w.Name == "b" && (w.MaxInstances != 0 || w.MaxScaleInstances != 100 || w.MaxScaleBlocks != 13 || w.Mode != "none" || w.Egress != "") {
			t.Errorf("b = %+v", w)
		}
		if w.Name == "c" && (w.Subnet != "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress" || w.MaxScaleBlocks != 5 || w.Egress != "private-ranges-only") {
			t.Errorf("c = %+v", w)
		}
	}

	byName := map[string]InventoryConnector{}
	for _, c := range inv.Connectors {
		byName[c.Name] = c
	}
	if c := byName["run-connector"]; !c.Exists || c.Unused || len(c.Users) != 1 || c.Users[0].Workload != "a" || !c.UsersComplete {
		t.Errorf("run-connector = %+v", c)
	}
	if c := byName["lonely"]; !c.Unused || len(c.Users) != 0 {
		t.Errorf("lonely = %+v", c)
	}
	if c := byName["idle"]; !c.Unused {
		t.Errorf("idle = %+v", c)
	}
	if c := byName["gone"]; c.Exists || c.Unused || len(c.Users) != 1 || c.FullName != "projects/demo-project/locations/us-central1/connectors/gone" {
		t.Errorf("gone = %+v", c)
	}

	subnets := map[string]InventorySubnet{}
	for _, s := range inv.Subnets {
		subnets[s.Name] = s
	}
	if _, ok := subnets["unused"]; ok {
		t.Error("a subnet with neither users nor reservations is listed")
	}
	if s := subnets["run-direct-vpc-egress"]; s.MaxScaleBlocks != 7 || s.MaxScaleIPs != 112 || s.MaxScaleInstances != 56 ||
		s.WouldRunOut || s.Tight || s.MaxScalePercent != 47 || s.ReservedIPs != 0 || len(s.Users) != 2 {
		t.Errorf("run-direct-vpc-egress = %+v", s)
	}
	if s := subnets["tiny"]; !s.WouldRunOut || s.MaxScaleBlocks != 13 || s.Blocks != 3 || s.MaxScalePercent != 434 {
		t.Errorf("tiny = %+v", s)
	}
	if s := subnets["small"]; s.WouldRunOut || !s.Tight || s.MaxScalePercent != 100 {
		t.Errorf("small = %+v", s)
	}
	if s := subnets["held"]; len(s.Users) != 0 || !s.Exists {
		t.Errorf("held = %+v", s)
	}
	if s := subnets["no-such-subnet"]; s.Exists || len(s.Users) != 1 {
		t.Errorf("no-such-subnet = %+v", s)
	}

	kinds := findingKinds(inv)
	want := map[string]int{
		FindingConnectorUnused: 2, FindingConnectorMissing: 1, FindingSubnetWouldRunOut: 1, FindingSubnetTight: 1,
		FindingSubnetMissing: 1, FindingSubnetNotEligible: 1, FindingSubnetReservedUnused: 1, FindingConnectorMachineType: 1,
	}
	for k, n := range want {
		if len(kinds[k]) != n {
			t.Errorf("%d %s findings (%v), want %d", len(kinds[k]), k, kinds[k], n)
		}
	}
	if len(inv.Findings) != 9 {
		t.Errorf("findings: %+v", inv.Findings)
	}
	// Most severe first.
	for i := 1; i < len(inv.Findings); i++ {
		if severityRank[inv.Findings[i-1].Severity] > severityRank[inv.Findings[i].Severity] {
			t.Errorf("findings out of order: %+v", inv.Findings)
		}
	}
	for _, f := range inv.Findings {
		if f.Kind == FindingSubnetWouldRunOut && !strings.Contains(f.Message, "big 100 instances -> 13 blocks") {
			t.Errorf("would-run-out message: %s", f.Message)
		}
		if f.Kind == FindingConnectorUnused && !strings.Contains(f.Message, "billed") {
			t.Errorf("unused message does not say it costs money: %s", f.Message)
		}
	}
	if len(inv.Errors) != 0 {
		t.Errorf("errors: %+v", inv.Errors)
	}
}

func TestInventoryBuildPartialRegion(t *testing.T) {
	denied := status.Error(codes.PermissionDenied, "caller lacks run.services.list")
	disabled, _ := status.New(codes.PermissionDenied, "Serverless VPC Access API has not been used in project 1234 before or it is disabled.").
		WithDetails(&errdetails.ErrorInfo{Reason: "SERVICE_DISABLED", Domain: "googleapis.com"})
	reads := []*regionRead{
		{
			region:       "asia-northeast1",
			workloads:    []*cloud.Workload{svc("asia-northeast1", "j", 1, egress.VPC{})},
			workloadErrs: []error{&cloud.WorkloadListError{Kind: egress.KindService, Err: denied}},
			connectors:   []*cloud.Connector{conn("asia-northeast1", "maybe-used")},
		},
		{region: "us-central1", connErr: disabled.Err()},
		{region: "europe-west1", subnetErr: &googleapi.Error{Code: 500, Message: "backend error"}},
	}
	inv := newInventoryBuilder(tProject).build(context.Background(), nil, reads)
	if len(inv.Workloads) != 1 {
		t.Errorf("the workloads that were read are not shown: %+v", inv.Workloads)
	}
	if c := inv.Connectors[0]; c.Unused || c.UsersComplete {
		t.Errorf("a connector of a region whose services could not be listed is flagged: %+v", c)
	}
	kinds := findingKinds(inv)
	if len(kinds[FindingConnectorUnused]) != 0 || len(kinds[FindingRegionError]) != 2 || len(kinds[FindingAPIDisabled]) != 1 {
		t.Errorf("findings %+v", inv.Findings)
	}
	if len(inv.Errors) != 2 {
		t.Fatalf("errors %+v", inv.Errors)
	}
	e := inv.Errors[0]
	if e.Region != "asia-northeast1" || e.Read != "services" || e.Code != "PERMISSION_DENIED" {
		t.Errorf("error %+v", e)
	}
	if e := inv.Errors[1]; e.Region != "europe-west1" || e.Read != "subnets" || e.Code != "HTTP 500" {
		t.Errorf("error %+v", e)
	}
}

func TestInventoryTable(t *testing.T) {
	inv := Inventory{
		Project: tProject, Regions: []string{tRegion},
		Workloads: []InventoryWorkload{{Kind: "service", Name: "s", Region: tRegion, Mode: "none", MaxScaleInstances: 100}},
		Connectors: []InventoryConnector{{ConnectorView: ConnectorView{Connector: conn(tRegion, "lonely")}, Exists: true, Unused: true, UsersComplete: true,
			Users: []InventoryUser{}}},
		Findings: []Finding{{Severity: SeverityWarning, Kind: FindingConnectorUnused, Message: "costs money"}},
	}
	var b strings.Builder
	if err := inv.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `WORKLOADS (1 in asia-northeast1)
KIND      NAME   REGION            MODE   VPC   EGRESS   MAX INSTANCES
service   s      asia-northeast1   none   -     -        100 (default)

CONNECTORS (1)
NAME     REGION            STATE   MACHINE TYPE   MIN   MAX   INSTANCES   PEAK   MONTHLY COST   USERS
lonely   asia-northeast1   READY   e2-micro       2     10    -           -      -              UNUSED (billed)

DIRECT VPC SUBNETS (0)
None.

FINDINGS (1)
SEVERITY   KIND               MESSAGE
warning    connector-unused   costs money
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestIsServiceDisabled(t *testing.T) {
	withInfo, _ := status.New(codes.PermissionDenied, "denied").WithDetails(&errdetails.ErrorInfo{Reason: "SERVICE_DISABLED"})
	tests := []struct {
		err  error
		want bool
	}{
		{withInfo.Err(), true},
		{status.Error(codes.PermissionDenied, "Cloud Run Admin API has not been used in project 1 before or it is disabled."), true},
		{status.Error(codes.PermissionDenied, "caller does not have permission"), false},
		{status.Error(codes.NotFound, "has not been used in project"), false},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "accessNotConfigured"}}}, true},
		{&googleapi.Error{Code: 403, Message: "Required 'compute.subnetworks.list' permission"}, false},
		{fmt.Errorf("wrapped: %w", &cloud.APIError{Op: "x", Err: withInfo.Err()}), true},
		{nil, false},
	}
	for i, tt := range tests {
		if got := cloud.IsServiceDisabled(tt.err); got != tt.want {
			t.Errorf("%d: IsServiceDisabled(%v) = %v", i, tt.err, got)
		}
	}
}

// ---- End to end, in process, against an emulator: ~200 services in three regions.

func TestInventoryManyServicesAcrossRegions(t *testing.T) {
	er := newEmu(t)
	ctx := context.Background()
	const (
		r1, r2, r3 = "asia-northeast1", "us-central1", "europe-west1"
		conn1      = "projects/demo-project/locations/asia-northeast1/connectors/run-connector"
	)
	// A connector in a second region, created through the real client (and one nobody uses).
	vc, err := vpcaccess.NewClient(ctx, emulator.GRPCClientOptions(er.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	for i, name := range []string{"uc-conn", "uc-idle"} {
		op, err := vc.CreateConnector(ctx, &vpcaccesspb.CreateConnectorRequest{
			Parent: "projects/demo-project/locations/" + r2, ConnectorId: name,
			Connector: &vpcaccesspb.Connector{Network: "run-vpc", IpCidrRange: fmt.Sprintf("10.60.%d.0/28", i), MinInstances: 2, MaxInstances: 3},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	type spec struct {
		region string
		n      int
		vpc    func(i int) *runpb.VpcAccess
	}
	direct := &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "run-vpc", Subnetwork: "run-direct-vpc-egress"}}}
	specs := []spec{
		// 120 in the demo region (two pages of the emulator's 100): a third on the demo
		// connector, a few on Direct VPC egress, the rest without VPC access.
		{r1, 120, func(i int) *runpb.VpcAccess {
			switch {
			case i%3 == 0:
				return &runpb.VpcAccess{Connector: conn1}
			case i < 10:
				return direct
			}
			return nil
		}},
		{r2, 50, func(i int) *runpb.VpcAccess {
			if i%2 == 0 {
				return &runpb.VpcAccess{Connector: "projects/demo-project/locations/us-central1/connectors/uc-conn"}
			}
			return nil
		}},
		{r3, 30, func(int) *runpb.VpcAccess { return nil }},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	sem := make(chan struct{}, 16)
	for _, s := range specs {
		for i := range s.n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				name := fmt.Sprintf("svc-%s-%03d", s.region, i)
				if err := harness.DeployWorkload(ctx, er.Addr, "service", name, s.region, 2, s.vpc(i)); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	er.E.ResetCalls()

	r := er.Run(t, false, "", "inventory", "--project", tProject, "--regions", r1+","+r2+","+r3, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var inv Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
		t.Fatal(err)
	}
	perRegion := map[string]int{}
	modes := map[string]int{}
	for _, w := range inv.Workloads {
		perRegion[w.Region]++
		modes[w.Mode]++
	}
	// The demo's run-service and nightly-export are in r1 too.
	if perRegion[r1] != 122 || perRegion[r2] != 50 || perRegion[r3] != 30 || len(inv.Workloads) != 202 {
		t.Errorf("workloads per region %v (total %d)", perRegion, len(inv.Workloads))
	}
	// r1: 40 of 120 on the connector (i%3 == 0) plus the demo's two; direct: i < 10 and not
	// i%3 == 0 (6); r2: 25 on uc-conn.
	if modes["connector"] != 40+2+25 || modes["direct"] != 6 || modes["none"] != 202-67-6 {
		t.Errorf("modes %v", modes)
	}
	users := map[string]int{}
	unused := map[string]bool{}
	for _, c := range inv.Connectors {
		users[c.Name] = len(c.Users)
		unused[c.Name] = c.Unused
	}
	if users["run-connector"] != 42 || users["uc-conn"] != 25 || users["uc-idle"] != 0 || !unused["uc-idle"] || unused["uc-conn"] || len(inv.Connectors) != 3 {
		t.Errorf("connector users %v, unused %v", users, unused)
	}
	if len(inv.Subnets) != 1 || len(inv.Subnets[0].Users) != 6 || inv.Subnets[0].MaxScaleBlocks != 6 || inv.Subnets[0].MaxScaleInstances != 12 {
		t.Errorf("subnets %+v", inv.Subnets)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("errors %+v", inv.Errors)
	}
	// No per-workload call: one page of jobs, worker pools and connectors per region, two
	// pages of services in r1, one in the others.
	calls := er.E.Calls()
	for method, want := range map[string]int{
		"google.cloud.run.v2.Services/ListServices":                 4,
		"google.cloud.run.v2.Jobs/ListJobs":                         3,
		"google.cloud.run.v2.WorkerPools/ListWorkerPools":           3,
		"google.cloud.vpcaccess.v1.VpcAccessService/ListConnectors": 3,
		"compute.subnetworks.list":                                  3,
		"compute.addresses.list":                                    3,
		"google.cloud.run.v2.Services/GetService":                   0,
		"google.cloud.run.v2.Revisions/ListRevisions":               0,
		"google.cloud.vpcaccess.v1.VpcAccessService/GetConnector":   0,
		"compute.subnetworks.get":                                   0,
	} {
		if calls[method] != want {
			t.Errorf("%s: %d calls, want %d (all calls: %v)", method, calls[method], want, calls)
		}
	}
}

// TestScanWorkloadsResumesAtTheFailedPage checks that a transient failure on the second page
// of a list resumes there, without reading the first page again.
func TestScanWorkloadsResumesAtTheFailedPage(t *testing.T) {
	er := newEmu(t)
	ctx := context.Background()
	for i := range 150 {
		if err := harness.DeployWorkload(ctx, er.Addr, "service", fmt.Sprintf("s-%03d", i), "us-east1", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	er.E.ResetCalls()
	f := emulator.Fault{Method: "google.cloud.run.v2.Services/ListServices", Code: codes.Unavailable, Count: 1, Skip: 1}
	er.E.InjectFault(f)
	c := cloud.New(ctx, cloud.Config{EmulatorHost: er.Addr})
	defer c.Close()
	ws, errs := c.ScanWorkloads(ctx, tProject, "us-east1")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(ws) != 150 {
		t.Fatalf("%d workloads, want 150", len(ws))
	}
	seen := map[string]bool{}
	for _, w := range ws {
		if seen[w.Ref.Name] {
			t.Errorf("%s read twice", w.Ref.Name)
		}
		seen[w.Ref.Name] = true
		if w.Raw != nil {
			t.Fatal("ScanWorkloads kept the API resource")
		}
	}
	// Page 1, page 2 (failed), page 2 again.
	if n := er.E.Calls()["google.cloud.run.v2.Services/ListServices"]; n != 3 {
		t.Errorf("%d ListServices calls, want 3", n)
	}
}

// TestInventorySharedVPC covers the connectors and subnets that workloads name in another
// (Shared VPC host) project: read one by one after the region lists, with their users; one
// that does not exist is reported as missing.
func TestInventorySharedVPC(t *testing.T) {
	er := newEmu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const host = "host-project"
	cs, err := compute.NewService(ctx, emulator.ComputeClientOptions(er.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	op, err := cs.Networks.Insert(host, &compute.Network{Name: "shared", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.GlobalOperations.Wait(host, op.Name).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	for _, sn := range []struct{ name, cidr string }{{"shared-run", "10.2.0.0/24"}, {"shared-conn", "10.3.0.0/28"}} {
		op, err := cs.Subnetworks.Insert(host, tRegion, &compute.Subnetwork{
			Name: sn.name, Network: "projects/" + host + "/global/networks/shared", IpCidrRange: sn.cidr,
		}).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RegionOperations.Wait(host, tRegion, op.Name).Context(ctx).Do(); err != nil {
			t.Fatal(err)
		}
	}
	r := er.Run(t, false, "", "connector", "create", "hosted", "--project", host, "--region", tRegion, "--subnet", "shared-conn")
	if r.Code != 0 {
		t.Fatalf("connector create: %d %s", r.Code, r.Stderr)
	}
	hostConn := "projects/" + host + "/locations/" + tRegion + "/connectors/"
	for name, va := range map[string]*runpb.VpcAccess{
		"on-shared-subnet": harness.VPCAccess(map[string]string{"network": "projects/" + host + "/global/networks/shared", "subnet": "projects/" + host + "/regions/" + tRegion + "/subnetworks/shared-run"}),
		"on-host-conn":     harness.VPCAccess(map[string]string{"connector": hostConn + "hosted"}),
		"on-gone-conn":     harness.VPCAccess(map[string]string{"connector": hostConn + "gone"}),
	} {
		if err := harness.DeployWorkload(ctx, er.Addr, "service", name, tRegion, 3, va); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	er.E.ResetCalls()
	r = er.Run(t, false, "", "inventory", "--project", tProject, "--region", tRegion, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var inv Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
		t.Fatal(err)
	}
	conns := map[string]InventoryConnector{}
	for _, c := range inv.Connectors {
		conns[c.FullName] = c
	}
	if c := conns[hostConn+"hosted"]; !c.Exists || c.Project != host || len(c.Users) != 1 || c.Users[0].Name != "on-host-conn" || c.UsersComplete || c.Unused ||
		c.State != cloud.ConnectorReady {
		t.Errorf("hosted = %+v", c)
	}
	if c := conns[hostConn+"gone"]; c.Exists || len(c.Users) != 1 || c.Users[0].Name != "on-gone-conn" {
		t.Errorf("gone = %+v", c)
	}
	var shared *InventorySubnet
	for i, s := range inv.Subnets {
		if s.Project == host {
			shared = &inv.Subnets[i]
		}
	}
	if shared == nil || shared.Name != "shared-run" || !shared.Exists || shared.Blocks != 15 || len(shared.Users) != 1 || shared.MaxScaleBlocks != 1 || shared.UsersComplete {
		t.Fatalf("shared subnet = %+v", shared)
	}
	kinds := findingKinds(inv)
	if len(kinds[FindingConnectorMissing]) != 1 || kinds[FindingConnectorMissing][0] != hostConn+"gone" {
		t.Errorf("findings %+v", inv.Findings)
	}
	calls := er.E.Calls()
	if calls["google.cloud.vpcaccess.v1.VpcAccessService/GetConnector"] != 2 || calls["compute.subnetworks.get"] != 1 {
		t.Errorf("lookups: %v", calls)
	}
}
