package benchmarks

import (
	"testing"
	"time"
)

// The analysis the benchmarks report rests on these helpers; they are tested like any code.

func TestComputeMethod(t *testing.T) {
	const base = "http://127.0.0.1:1234/compute/v1/projects/p/"
	for _, tt := range []struct{ verb, url, want string }{
		{"GET", base + "regions/r/subnetworks/s?alt=json", "compute.subnetworks.get"},
		{"GET", base + "regions/r/subnetworks?alt=json&views=WITH_UTILIZATION", "compute.subnetworks.list"},
		{"POST", base + "regions/r/subnetworks?alt=json", "compute.subnetworks.insert"},
		{"POST", base + "regions/r/subnetworks/s/testIamPermissions?alt=json", "compute.subnetworks.testIamPermissions"},
		{"POST", base + "regions/r/operations/op-1/wait?alt=json", "compute.regionOperations.wait"},
		{"GET", base + "regions/r/operations/op-1?alt=json", "compute.regionOperations.get"},
		{"POST", base + "global/operations/op-1/wait", "compute.globalOperations.wait"},
		{"GET", base + "global/networks/n", "compute.networks.get"},
		{"GET", base + "global/firewalls", "compute.firewalls.list"},
		{"GET", base + "aggregated/subnetworks", "compute.subnetworks.aggregatedList"},
		{"DELETE", base + "regions/r/subnetworks/s", "compute.subnetworks.delete"},
		{"GET", "http://127.0.0.1/other", "compute GET"},
	} {
		if got := computeMethod(tt.verb, tt.url); got != tt.want {
			t.Errorf("computeMethod(%s %s) = %q, want %q", tt.verb, tt.url, got, tt.want)
		}
	}
}

func TestRequestLog(t *testing.T) {
	var l requestLog
	_, _ = l.Write([]byte("Using project \"p\" from flag --project.\nrpc google.cloud.run.v2.Services/GetService OK 21ms\nhttp GET http://h/compute/v1/projects/p/regions/r/subnetworks/s 200 OK 1.5s\n"))
	_, _ = l.Write([]byte("rpc google.longrunning.Operations/WaitOperation OK 3"))
	_, _ = l.Write([]byte("s\n"))
	cs := l.Calls()
	if len(cs) != 3 {
		t.Fatalf("%d calls, want 3: %+v", len(cs), cs)
	}
	for i, want := range []struct {
		method string
		d      time.Duration
	}{
		{"google.cloud.run.v2.Services/GetService", 21 * time.Millisecond},
		{"compute.subnetworks.get", 1500 * time.Millisecond},
		{"google.longrunning.Operations/WaitOperation", 3 * time.Second},
	} {
		if cs[i].Method != want.method || cs[i].Duration() != want.d {
			t.Errorf("call %d = %s %v, want %s %v", i, cs[i].Method, cs[i].Duration(), want.method, want.d)
		}
	}
	if got := l.Other(); got != "Using project \"p\" from flag --project.\n" {
		t.Errorf("other lines = %q", got)
	}
}

func TestDependentChain(t *testing.T) {
	t0 := time.Now()
	at := func(method string, from, to int) call {
		return call{Method: method, Start: t0.Add(time.Duration(from) * time.Millisecond), End: t0.Add(time.Duration(to) * time.Millisecond)}
	}
	// get; then three reads at once, one of which leads to another; then a write and a wait.
	cs := []call{
		at("get", 0, 20),
		at("a", 20, 40), at("b", 21, 41), at("c", 20, 40),
		at("c2", 40, 60),
		at("write", 60, 80), at("wait", 80, 3080),
	}
	chain := dependentChain(cs, time.Millisecond)
	var got []string
	for _, c := range chain {
		got = append(got, c.Method)
	}
	if len(got) != 5 || got[0] != "get" || got[2] != "c2" || got[3] != "write" || got[4] != "wait" {
		t.Errorf("chain = %v, want get, (a, b or c), c2, write, wait", got)
	}
	if n := waits(chain); n != 0 {
		t.Errorf("waits = %d, want 0 (no operation method)", n)
	}
}

func TestEarlyOps(t *testing.T) {
	tm := timing{Latency: 20 * time.Millisecond, Ready: 3 * time.Second}
	t0 := time.Now()
	cs := []call{
		{Method: "google.longrunning.Operations/WaitOperation", Start: t0, End: t0.Add(3002 * time.Millisecond)},
		{Method: "google.longrunning.Operations/WaitOperation", Start: t0, End: t0.Add(2960 * time.Millisecond)},
		{Method: "google.cloud.run.v2.Services/GetService", Start: t0, End: t0.Add(21 * time.Millisecond)},
	}
	if got := earlyOps(cs, tm); got != 40*time.Millisecond {
		t.Errorf("earlyOps = %v, want 40ms", got)
	}
}

func TestMedianMean(t *testing.T) {
	ds := []time.Duration{5, 1, 3, 2}
	if got := median(ds); got != 2 { // (2+3)/2 in integer nanoseconds
		t.Errorf("median = %v, want 2", got)
	}
	if got := mean(ds); got != 2 {
		t.Errorf("mean = %v, want 2", got)
	}
	if median(nil) != 0 || mean(nil) != 0 {
		t.Error("median and mean of nothing must be 0")
	}
}
