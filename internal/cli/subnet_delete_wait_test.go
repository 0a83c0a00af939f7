package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// leaveDirectSubnet puts run-service on Direct VPC egress in the demo's direct subnet and
// back on its connector: Cloud Run keeps the subnet's serverless-ipv4 addresses for a while.
func leaveDirectSubnet(t *testing.T, w *harness.World) {
	t.Helper()
	for _, args := range [][]string{
		{"attach", emulator.DemoService, "--network", emulator.DemoNetwork, "--subnet", emulator.DemoDirectSubnet, "--yes"},
		{"attach", emulator.DemoService, "--connector", emulator.DemoConnector, "--yes"},
	} {
		if r := w.Run(t, false, "", args...); r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
	s, err := w.Clients(t).GetSubnet(t.Context(), egress.SubnetRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: emulator.DemoDirectSubnet})
	if err != nil || len(s.ServerlessAddresses) == 0 {
		t.Fatalf("no serverless-ipv4 reservation left behind: %+v, %v", s, err)
	}
}

// subnet delete --wait waits (with progress on a terminal) until Cloud Run releases its
// addresses, then deletes the subnet.
func TestSubnetDeleteWaits(t *testing.T) {
	opts := harness.Fast
	opts.IPRelease = 300 * time.Millisecond
	w := harness.NewWorld(t, cliMain, opts)
	leaveDirectSubnet(t, w)
	r := w.Run(t, true, "", "subnet", "delete", emulator.DemoDirectSubnet, "--wait", "--timeout", "1m", "--yes")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	// A reservation holds a /28 block: the messages count both, as the refusal without --wait does.
	for _, want := range []string{"Cloud Run holds 16 addresses (1 serverless-ipv4 reservation) in subnet run-direct-vpc-egress; waiting (up to 1m0s) until it releases them",
		"Waiting for Cloud Run to release 16 addresses (1 serverless-ipv4 reservation) in subnet run-direct-vpc-egress",
		"Cloud Run released its addresses in subnet run-direct-vpc-egress.", "Deleted subnet run-direct-vpc-egress."} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if _, err := w.Clients(t).GetSubnet(t.Context(), egress.SubnetRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: emulator.DemoDirectSubnet}); err == nil {
		t.Error("the subnet still exists")
	}
}

// When the addresses outlive --timeout, nothing is deleted and the error names them.
func TestSubnetDeleteWaitTimesOut(t *testing.T) {
	w := newEmu(t) // addresses released a minute after the last instance
	leaveDirectSubnet(t, w)
	r := w.Run(t, false, "", "subnet", "delete", emulator.DemoDirectSubnet, "--wait", "--timeout", "1s", "--yes")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "Cloud Run still holds 16 addresses (1 serverless-ipv4 reservation) in subnet run-direct-vpc-egress after") || !strings.Contains(r.Stderr, "serverless-ipv4-") ||
		!strings.Contains(r.Stderr, "nothing was deleted: run it again later, or with a longer --timeout") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if n := w.E.Calls()["compute.subnetworks.delete"]; n != 0 {
		t.Errorf("%d deletes", n)
	}
	for _, tc := range [][]string{{"--timeout", "1m"}, {"--wait", "--timeout", "0s"}, {"--wait", "--timeout", "25h"}} {
		if r := w.Run(t, false, "", append([]string{"subnet", "delete", emulator.DemoDirectSubnet, "--yes"}, tc...)...); r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "--timeout") {
			t.Errorf("%v: exit %d: %s", tc, r.Code, r.Stderr)
		}
	}
}

// Without --wait, the refusal says that --wait is what waits for the addresses' release.
func TestSubnetDeleteHeldPointsAtWait(t *testing.T) {
	w := newEmu(t)
	leaveDirectSubnet(t, w)
	r := w.Run(t, false, "", "subnet", "delete", emulator.DemoDirectSubnet, "--yes")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "Cloud Run still holds 16 addresses") ||
		!strings.Contains(r.Stderr, "'runnet subnet delete "+emulator.DemoDirectSubnet+" --wait' waits for their release, then deletes") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
}
