package world

import (
	"context"
	"errors"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec    string
		want    Fault
		wantErr bool
	}{
		{spec: "google.cloud.run.v2.Services/UpdateService=UNAVAILABLE", want: Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Unavailable, Count: 1}},
		{spec: "/google.cloud.run.v2.Services/GetService=not_found:3", want: Fault{Method: "google.cloud.run.v2.Services/GetService", Code: codes.NotFound, Count: 3}},
		{spec: "compute.subnetworks.insert=14:2", want: Fault{Method: "compute.subnetworks.insert", Code: codes.Unavailable, Count: 2}},
		{spec: "*=INTERNAL", want: Fault{Method: "*", Code: codes.Internal, Count: 1}},
		{spec: "cloudresourcemanager.projects.get=PERMISSION_DENIED", want: Fault{Method: "cloudresourcemanager.projects.get", Code: codes.PermissionDenied, Count: 1}},
		{spec: "vpcaccess.projects.locations.connectors.patch=UNAVAILABLE", want: Fault{Method: "vpcaccess.projects.locations.connectors.patch", Code: codes.Unavailable, Count: 1}},
		// The Direct VPC quota's reads, so that a quota that cannot be read can be staged.
		{spec: "serviceusage.services.consumerQuotaMetrics.list=PERMISSION_DENIED:5", want: Fault{Method: "serviceusage.services.consumerQuotaMetrics.list", Code: codes.PermissionDenied, Count: 5}},
		{spec: "/=UNAVAILABLE", wantErr: true},
		{spec: "google.cloud.run.v2.Services/=UNAVAILABLE", wantErr: true},
		{spec: "/Method=UNAVAILABLE", wantErr: true},
		{spec: "cloudbilling.skus=UNAVAILABLE", wantErr: true},
		{spec: "compute.subnetworks.insert=OK", wantErr: true},
		{spec: "compute.subnetworks.insert=BOGUS", wantErr: true},
		{spec: "compute.subnetworks.insert=UNAVAILABLE:0", wantErr: true},
		{spec: "compute.subnetworks.insert=UNAVAILABLE:x", wantErr: true},
		{spec: "UpdateService=UNAVAILABLE", wantErr: true},
		{spec: "=UNAVAILABLE", wantErr: true},
		{spec: "compute.subnetworks.insert", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseFault(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseFault(%q) error = %v, wantErr %v", tt.spec, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && (got.Method != tt.want.Method || got.Code != tt.want.Code || got.Count != tt.want.Count) {
			t.Errorf("ParseFault(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"compute.subnetworks.insert=UNAVAILABLE:2", "a/b=NOT_FOUND", "*=13", "x=", "=:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ft, err := ParseFault(spec)
		if err != nil {
			return
		}
		if ft.Method == "" || ft.Code == codes.OK || ft.Count < 1 {
			t.Fatalf("ParseFault(%q) accepted an unusable fault %+v", spec, ft)
		}
	})
}

func codesOf(f *Faults, method string, n int) []codes.Code {
	var out []codes.Code
	for range n {
		if h := f.Check(method); h != nil {
			out = append(out, h.Code)
		} else {
			out = append(out, codes.OK)
		}
	}
	return out
}

func equalCodes(a, b []codes.Code) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFaultsCountSkipSequence(t *testing.T) {
	f := NewFaults()
	f.Add(Fault{Method: "m", Code: codes.Unavailable, Count: 2, Skip: 1})
	if got, want := codesOf(f, "m", 4), []codes.Code{codes.OK, codes.Unavailable, codes.Unavailable, codes.OK}; !equalCodes(got, want) {
		t.Errorf("count/skip: got %v want %v", got, want)
	}
	if got := codesOf(f, "other", 1); got[0] != codes.OK {
		t.Errorf("fault leaked to another method: %v", got)
	}
	f.Add(Fault{Method: "s", Sequence: []codes.Code{codes.OK, codes.Aborted, codes.OK, codes.Internal}})
	if got, want := codesOf(f, "s", 6), []codes.Code{codes.OK, codes.Aborted, codes.OK, codes.Internal, codes.OK, codes.OK}; !equalCodes(got, want) {
		t.Errorf("sequence: got %v want %v", got, want)
	}
	f.Add(Fault{Method: "forever", Code: codes.PermissionDenied})
	if got := codesOf(f, "forever", 3); !equalCodes(got, []codes.Code{codes.PermissionDenied, codes.PermissionDenied, codes.PermissionDenied}) {
		t.Errorf("count 0 should fail every call: %v", got)
	}
	f.Clear()
	if got := codesOf(f, "forever", 1); got[0] != codes.OK {
		t.Errorf("Clear left a fault: %v", got)
	}
	if calls := f.Calls(); calls["m"] != 4 || calls["s"] != 6 || calls["forever"] != 4 {
		t.Errorf("calls = %v", calls)
	}
}

func TestFaultsProbabilityIsRepeatable(t *testing.T) {
	run := func() []codes.Code {
		f := NewFaults()
		f.Seed(42)
		f.Add(Fault{Method: "p", Code: codes.Unavailable, Probability: 0.5})
		return codesOf(f, "p", 200)
	}
	a, b := run(), run()
	if !equalCodes(a, b) {
		t.Fatal("same seed gave different fault sequences")
	}
	failed := 0
	for _, c := range a {
		if c != codes.OK {
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Errorf("probability 0.5 failed %d of 200 calls", failed)
	}
}

func newTestWorld(t *testing.T) *World {
	t.Helper()
	w := New(Config{IPRelease: time.Minute}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func TestEventsRunOnAdvanceInOrder(t *testing.T) {
	w := newTestWorld(t)
	var got []int
	w.Lock()
	w.AfterLocked(time.Hour, func() { got = append(got, 2) })
	w.AfterLocked(time.Minute, func() { got = append(got, 1) })
	w.AfterLocked(time.Hour, func() { got = append(got, 3) })
	changed := w.ChangedLocked()
	w.Unlock()
	w.Advance(30 * time.Minute)
	w.Lock()
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("after 30m: %v", got)
	}
	w.Unlock()
	select {
	case <-changed:
	default:
		t.Fatal("waiters were not woken")
	}
	w.Advance(time.Hour)
	w.Lock()
	defer w.Unlock()
	if len(got) != 3 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("after 90m: %v", got)
	}
}

func TestEventsRunInRealTime(t *testing.T) {
	w := newTestWorld(t)
	done := make(chan struct{})
	w.Lock()
	w.AfterLocked(10*time.Millisecond, func() { close(done) })
	w.Unlock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("event did not run without anyone polling")
	}
}

func TestReservations(t *testing.T) {
	w := newTestWorld(t)
	w.Lock()
	defer w.Unlock()
	w.S.Subnetworks[RegionalKey("p", "r", "s")] = &compute.Subnetwork{Name: "s", IpCidrRange: "10.0.0.0/26"}
	total, reserved, err := w.SubnetBlocksLocked(RegionalKey("p", "r", "s"))
	if err != nil || total != 3 || reserved != 0 {
		t.Fatalf("SubnetBlocks = %d, %d, %v; want 3, 0", total, reserved, err)
	}
	if err := w.SetHeldBlocksLocked("p", "r", "s", "rev1", 2); err != nil {
		t.Fatal(err)
	}
	if err := w.SetHeldBlocksLocked("p", "r", "s", "rev2", 2); !errors.Is(err, ErrNoFreeBlocks) {
		t.Fatalf("over-reserving: err = %v, want ErrNoFreeBlocks", err)
	}
	if n := len(w.ReservationsLocked(RegionalKey("p", "r", "s"))); n != 2 {
		t.Fatalf("a failed reservation changed state: %d blocks", n)
	}
	seen := map[string]bool{}
	for _, r := range w.ReservationsLocked(RegionalKey("p", "r", "s")) {
		if seen[r.Range] {
			t.Fatalf("block %s handed out twice", r.Range)
		}
		seen[r.Range] = true
	}
	w.ReleaseOwnerLocked("rev1")
	if n := len(w.ReservationsLocked(RegionalKey("p", "r", "s"))); n != 2 {
		t.Fatalf("released blocks must be held for the release delay, have %d", n)
	}
	w.Unlock()
	w.Advance(2 * time.Minute)
	w.Lock()
	if n := len(w.ReservationsLocked(RegionalKey("p", "r", "s"))); n != 0 {
		t.Fatalf("blocks not released after the delay: %d", n)
	}
	if err := w.SetHeldBlocksLocked("p", "r", "s", "rev2", 3); err != nil {
		t.Fatalf("after release the subnet should be free: %v", err)
	}
	if err := w.SetHeldBlocksLocked("p", "r", "s", "rev2", 1); err != nil {
		t.Fatal(err)
	}
	if got := len(w.HeldBlocksLocked(RegionalKey("p", "r", "s"), "rev2")); got != 1 {
		t.Fatalf("shrinking: holds %d blocks, want 1", got)
	}
	if got := w.ExpireReservationsLocked(); got != 2 {
		t.Fatalf("ExpireReservations released %d, want 2", got)
	}
}

func TestStateRoundTrip(t *testing.T) {
	w := newTestWorld(t)
	w.Lock()
	w.S.Networks[GlobalKey("p", "n")] = &compute.Network{Name: "n"}
	w.NewOperationLocked("projects/p/locations/r", nil)
	w.Unlock()
	b, err := w.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	w2 := newTestWorld(t)
	if err := w2.Restore(b); err != nil {
		t.Fatal(err)
	}
	w2.Lock()
	defer w2.Unlock()
	if w2.S.Networks[GlobalKey("p", "n")] == nil || len(w2.S.Operations) != 1 {
		t.Fatalf("state lost in round trip: %+v", w2.S)
	}
}
