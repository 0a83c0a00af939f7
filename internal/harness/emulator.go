package harness

import (
	"net"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The demo world's names, for scenarios.
const (
	Project = emulator.DemoProject
	Region  = emulator.DemoRegion
	// Connector, Network and Subnet are the demo world's connector, network and Direct VPC
	// egress subnetwork, by full name.
	Connector = "projects/" + Project + "/locations/" + Region + "/connectors/" + emulator.DemoConnector
	Network   = "projects/" + Project + "/global/networks/" + emulator.DemoNetwork
	Subnet    = "projects/" + Project + "/regions/" + Region + "/subnetworks/" + emulator.DemoDirectSubnet
)

// EnvEmulatorHost is the variable that points runnet at an emulator (cli.EnvEmulatorHost; a
// test in internal/cli checks that they agree).
const EnvEmulatorHost = "RUNNET_EMULATOR_HOST"

// Fast is the emulator of most end-to-end tests: the demo world, operations of 10 ms,
// revisions ready in 30 ms, addresses released after a minute (never, within a test).
var Fast = emulator.Options{Seed: emulator.SeedDemo, LRODuration: 10 * time.Millisecond, RevisionReady: 30 * time.Millisecond, IPRelease: time.Minute}

// Scripts is the emulator of the txtar scripts: a little slower than Fast, so that a
// script's progress lines are stable.
var Scripts = emulator.Options{Seed: emulator.SeedDemo, LRODuration: 20 * time.Millisecond, RevisionReady: 40 * time.Millisecond, IPRelease: time.Minute}

// TB is what the harness needs of a test: testing.TB, or a stand-in for a run on a goroutine
// of its own (the fault matrix's cells).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// StartEmulator starts an emulator with opts on a loopback port; it is closed when tb ends.
func StartEmulator(tb TB, opts emulator.Options) *emulator.Emulator {
	tb.Helper()
	e, err := emulator.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = e.Serve(l) }()
	tb.Cleanup(func() { _ = e.Close() })
	WaitAddr(tb, e)
	return e
}

// WaitAddr waits until an emulator started in the background knows its address.
func WaitAddr(tb TB, e *emulator.Emulator) string {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if a := e.Addr(); a != "" {
			return a
		}
	}
	tb.Fatal("the emulator never got an address")
	return ""
}
