package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

const loc = "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion

func start(t *testing.T, opts emulator.Options) *emulator.Emulator {
	t.Helper()
	if opts.LRODuration == 0 {
		opts.LRODuration = 20 * time.Millisecond
	}
	if opts.RevisionReady == 0 {
		opts.RevisionReady = 40 * time.Millisecond
	}
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// One address serves Run and VPC Access over gRPC and Compute over REST, with the demo world.
func TestOneAddressServesAllThreeAPIs(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	c := ctx(t)
	svc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.GetTemplate().GetVpcAccess().GetConnector(); got != loc+"/connectors/"+emulator.DemoConnector {
		t.Errorf("run-service connector = %q", got)
	}
	if s.GetTemplate().GetVpcAccess().GetEgress() != runpb.VpcAccess_PRIVATE_RANGES_ONLY {
		t.Errorf("run-service egress = %v", s.GetTemplate().GetVpcAccess().GetEgress())
	}
	if ts := s.GetTrafficStatuses(); len(ts) != 1 || ts[0].GetPercent() != 100 || ts[0].GetType() != runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST || s.GetLatestReadyRevision() == "" {
		t.Errorf("run-service traffic = %v, latest ready %q", s.GetTrafficStatuses(), s.GetLatestReadyRevision())
	}
	jobs, err := run.NewJobsClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer jobs.Close()
	j, err := jobs.GetJob(c, &runpb.GetJobRequest{Name: loc + "/jobs/" + emulator.DemoJob})
	if err != nil || j.GetTemplate().GetTemplate().GetVpcAccess().GetConnector() == "" {
		t.Errorf("nightly-export job: %v, %v", j.GetTemplate().GetTemplate().GetVpcAccess(), err)
	}
	vpc, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer vpc.Close()
	conn, err := vpc.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: loc + "/connectors/" + emulator.DemoConnector})
	if err != nil || conn.GetState() != vpcaccesspb.Connector_READY || conn.GetMinInstances() != 2 || conn.GetMaxInstances() != 3 || conn.GetMachineType() != "f1-micro" {
		t.Errorf("run-connector = %v, %v", conn, err)
	}
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{emulator.DemoSubnet: "10.5.0.0/24", emulator.DemoConnectorSubnet: "10.15.0.0/28", emulator.DemoDirectSubnet: "10.8.0.0/24"}
	for name, cidr := range want {
		sn, err := cs.Subnetworks.Get(emulator.DemoProject, emulator.DemoRegion, name).Context(c).Do()
		if err != nil || sn.IpCidrRange != cidr {
			t.Errorf("subnet %s = %v, %v", name, sn, err)
			continue
		}
		if sn.LogConfig == nil || !sn.LogConfig.Enable || sn.LogConfig.AggregationInterval != "INTERVAL_10_MIN" || sn.LogConfig.FlowSampling != 0.5 {
			t.Errorf("subnet %s flow logs = %+v", name, sn.LogConfig)
		}
	}
	n, err := cs.Networks.Get(emulator.DemoProject, emulator.DemoNetwork).Context(c).Do()
	if err != nil || n.AutoCreateSubnetworks {
		t.Errorf("network %v, %v", n, err)
	}
}

func TestWaitOperationReturnsAtCompletion(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo, RevisionReady: 300 * time.Millisecond})
	c := ctx(t)
	svc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	s, err := svc.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService})
	if err != nil {
		t.Fatal(err)
	}
	s.Template.Labels = map[string]string{"touch": "1"}
	op, err := svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	// A short wait times out and returns the operation as it stands.
	lro, err := svc.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.Name(), Timeout: durationpb.New(10 * time.Millisecond)})
	if err != nil || lro.GetDone() {
		t.Fatalf("short wait: done=%v err=%v", lro.GetDone(), err)
	}
	begin := time.Now()
	lro, err = svc.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.Name(), Timeout: durationpb.New(20 * time.Second)})
	if err != nil || !lro.GetDone() {
		t.Fatalf("long wait: done=%v err=%v", lro.GetDone(), err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("WaitOperation returned after %v: it should return when the revision is ready (300ms)", took)
	}
}

func TestFaultsFromOptions(t *testing.T) {
	f1, _ := emulator.ParseFault("google.cloud.vpcaccess.v1.VpcAccessService/GetConnector=PERMISSION_DENIED:1")
	f2, _ := emulator.ParseFault("compute.subnetworks.get=NOT_FOUND:1")
	e := start(t, emulator.Options{Seed: emulator.SeedDemo, Faults: []emulator.Fault{f1, f2}})
	c := ctx(t)
	vpc, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer vpc.Close()
	req := &vpcaccesspb.GetConnectorRequest{Name: loc + "/connectors/" + emulator.DemoConnector}
	if _, err := vpc.GetConnector(c, req); status.Code(err) != codes.PermissionDenied {
		t.Errorf("first call: %v, want PERMISSION_DENIED", err)
	}
	if _, err := vpc.GetConnector(c, req); err != nil {
		t.Errorf("second call: %v", err)
	}
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.Subnetworks.Get(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet).Context(c).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 404 {
		t.Errorf("compute fault: %v, want HTTP 404", err)
	}
	if _, err := cs.Subnetworks.Get(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet).Context(c).Do(); err != nil {
		t.Errorf("compute second call: %v", err)
	}
	if calls := e.Calls(); calls["google.cloud.vpcaccess.v1.VpcAccessService/GetConnector"] != 2 || calls["compute.subnetworks.get"] != 2 {
		t.Errorf("calls = %v", calls)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	e, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, addr := range []string{"0.0.0.0:0", "10.0.0.1:0", ":0", "example.com:80"} {
		if err := e.Start(addr); !errors.Is(err, emulator.ErrNotLoopback) {
			t.Errorf("Start(%q) = %v, want a refusal", addr, err)
		}
	}
	if err := emulator.CheckLoopback("[::1]:0"); err != nil {
		t.Errorf("::1 refused: %v", err)
	}
}

func TestStatePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e := start(t, emulator.Options{Seed: emulator.SeedDemo, StateFile: path})
	c := ctx(t)
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	op, err := cs.Subnetworks.Insert(emulator.DemoProject, emulator.DemoRegion, &compute.Subnetwork{
		Name: "kept", Network: "projects/" + emulator.DemoProject + "/global/networks/" + emulator.DemoNetwork, IpCidrRange: "10.9.0.0/24",
	}).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	// Closing finishes the insert still in flight and writes the state.
	_ = op
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	e2 := start(t, emulator.Options{Seed: emulator.SeedEmpty, StateFile: path})
	cs2, err := compute.NewService(c, e2.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if sn, err := cs2.Subnetworks.Get(emulator.DemoProject, emulator.DemoRegion, "kept").Context(c).Do(); err != nil || sn.IpCidrRange != "10.9.0.0/24" {
		t.Fatalf("subnet lost across restart: %v, %v", sn, err)
	}
	svc, err := run.NewServicesClient(c, e2.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService}); err != nil {
		t.Fatalf("demo service lost across restart: %v", err)
	}
}

// A state file that already holds the state is not written again: a run that changed nothing
// leaves the very same file (no new file renamed over it).
func TestSaveStateOnlyWhenChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e := start(t, emulator.Options{Seed: emulator.SeedDemo, StateFile: path})
	if err := e.SaveState(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SaveState(path); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("an unchanged state was written again")
	}
	if err := e.Seed(emulator.SeedEmpty); err != nil {
		t.Fatal(err)
	}
	if err := e.SaveState(path); err != nil {
		t.Fatal(err)
	}
	changed, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, changed) {
		t.Error("a changed state was not written (atomically, as a new file)")
	}
}

func TestControlSurface(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	base := "http://" + e.Addr() + emulator.ControlPrefix
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := post("faults", `{"spec":"compute.networks.get=UNAVAILABLE:1"}`); code != 200 {
		t.Fatalf("add fault: %d", code)
	}
	if code, _ := post("faults", `{"spec":"nonsense"}`); code != 400 {
		t.Errorf("bad fault spec accepted: %d", code)
	}
	c := ctx(t)
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.Networks.Get(emulator.DemoProject, emulator.DemoNetwork).Context(c).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 503 {
		t.Errorf("fault via HTTP control: %v, want 503", err)
	}
	before := e.Now()
	if code, _ := post("clock/advance", `{"by":"20m"}`); code != 200 {
		t.Fatal("advance failed")
	}
	if d := e.Now().Sub(before); d < 20*time.Minute {
		t.Errorf("clock advanced by %v", d)
	}
	if code, _ := post("timing", `{"latency":"5ms"}`); code != 200 || e.Timing().Latency != 5*time.Millisecond {
		t.Errorf("timing: %d %v", code, e.Timing())
	}
	if code, _ := post("seed", `{"seed":"empty"}`); code != 200 {
		t.Fatal("seed failed")
	}
	resp, err := http.Get(base + "state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st["services"]; ok {
		t.Errorf("state after empty seed still has services")
	}
	// Control paths never clash with Google's.
	if strings.HasPrefix(emulator.ControlPrefix, "/compute") || strings.HasPrefix(emulator.ControlPrefix, "/google") {
		t.Errorf("control prefix %q clashes with an API path", emulator.ControlPrefix)
	}
}

// Methods names what faults can target: the gRPC methods served and the Compute method ids.
func TestMethods(t *testing.T) {
	ms := emulator.Methods()
	if !slices.IsSorted(ms) {
		t.Error("not sorted")
	}
	for _, want := range []string{"google.cloud.run.v2.Services/UpdateService", "google.cloud.vpcaccess.v1.VpcAccessService/DeleteConnector",
		"google.longrunning.Operations/GetOperation", "compute.subnetworks.insert"} {
		if !slices.Contains(ms, want) {
			t.Errorf("Methods() lacks %s", want)
		}
	}
	if slices.Contains(ms, "google.cloud.run.v2.Services/UpdateServce") {
		t.Error("Methods() has a method that is not served")
	}
}
