package cloud

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

const listLocations = "google.cloud.location.Locations/ListLocations"

func TestRunRegions(t *testing.T) {
	tests := []struct {
		name    string
		faults  []emulator.Fault
		source  string
		calls   int
		wantErr codes.Code
	}{
		{name: "from Cloud Run", source: RegionsFromRun, calls: 1},
		{name: "Cloud Run does not serve locations: VPC Access's",
			faults: []emulator.Fault{{Method: listLocations, Code: codes.Unimplemented, Count: 1}}, source: RegionsFromVPCAccess, calls: 2},
		{name: "neither serves locations: the built-in list",
			faults: []emulator.Fault{{Method: listLocations, Code: codes.Unimplemented, Count: 2}}, source: RegionsBuiltIn, calls: 2},
		{name: "refused by both: an error",
			faults: []emulator.Fault{{Method: listLocations, Code: codes.PermissionDenied, Count: 2}}, wantErr: codes.PermissionDenied, calls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c := newEmulator(t, emulator.SeedDemo)
			for _, f := range tt.faults {
				e.InjectFault(f)
			}
			regions, source, err := c.RunRegions(testCtx(t), tProject)
			if got := e.Calls()[listLocations]; got != tt.calls {
				t.Errorf("%d ListLocations calls, want %d", got, tt.calls)
			}
			if tt.wantErr != codes.OK {
				if status.Code(statusErrOf(err)) != tt.wantErr {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if source != tt.source {
				t.Errorf("source %q, want %q", source, tt.source)
			}
			if !slices.IsSorted(regions) || !slices.Contains(regions, "asia-northeast1") || !slices.Contains(regions, "us-central1") {
				t.Errorf("regions %v", regions)
			}
			if source == RegionsBuiltIn && len(regions) != len(CloudRunRegions) {
				t.Errorf("built-in list has %d regions, want %d", len(regions), len(CloudRunRegions))
			}
		})
	}
}

func TestCloudRunRegionsAreRegionNames(t *testing.T) {
	if !slices.IsSorted(CloudRunRegions) {
		t.Error("CloudRunRegions is not sorted")
	}
	for _, r := range CloudRunRegions {
		if err := egress.ValidateRegion(r); err != nil {
			t.Error(err)
		}
	}
}

func TestScanWorkloadsPartial(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ctx := testCtx(t)
	createWorkerPool(t, ctx, c, "queue")
	// The jobs cannot be listed: services and worker pools still are.
	e.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Jobs/ListJobs", Code: codes.PermissionDenied, Count: 1})
	ws, errs := c.ScanWorkloads(ctx, tProject, tRegion)
	if len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
	var le *WorkloadListError
	if !errors.As(errs[0], &le) || le.Kind != egress.KindJob || ErrorCode(errs[0]) != "PERMISSION_DENIED" {
		t.Errorf("error %#v", errs[0])
	}
	var names []string
	for _, w := range ws {
		names = append(names, w.Ref.String())
		if w.Raw != nil {
			t.Errorf("%s keeps its API resource", w.Ref)
		}
	}
	if !slices.Equal(names, []string{"run-service", "workerpool/queue"}) {
		t.Errorf("workloads %v", names)
	}
	// Bad input is refused without a call.
	if _, errs := c.ScanWorkloads(ctx, tProject, "Tokyo"); len(errs) != 1 {
		t.Errorf("a bad region gave %v", errs)
	}
}

func TestErrorCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{apiErr("x", status.Error(codes.PermissionDenied, "no")), "PERMISSION_DENIED"},
		{computeErr("x", &googleapi.Error{Code: 403}), "HTTP 403"},
		{errors.New("plain"), ""},
		{nil, ""},
	} {
		if got := ErrorCode(tt.err); got != tt.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
