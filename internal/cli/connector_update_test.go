package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// Bad flags stop `connector update` before any call, naming the flag and the valid range.
func TestConnectorUpdateValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", []string{"conn"}, "nothing to update: give --machine-type, --min-instances or --max-instances"},
		{"machine type", []string{"conn", "--machine-type", "e2-small"}, `--machine-type: "e2-small" is not a connector machine type; valid: e2-micro, f1-micro, e2-standard-4`},
		{"empty machine type", []string{"conn", "--machine-type", ""}, `--machine-type: "" is not a connector machine type`},
		{"min too low", []string{"conn", "--min-instances", "1"}, "--min-instances: 1 is out of range; valid: 2 to 9"},
		{"max too high", []string{"conn", "--max-instances", "11"}, "--max-instances: 11 is out of range; valid: 3 to 10"},
		{"min not below max", []string{"conn", "--min-instances", "5", "--max-instances", "5"}, "--max-instances: 5 must be greater than --min-instances (5)"},
		{"bad name", []string{"Bad_Name", "--max-instances", "5"}, `invalid connector name "Bad_Name"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			r := runSub(t, "connector", func(f *Factory) *cobra.Command {
				return NewCmdConnectorUpdate(f, func(context.Context, *ConnectorUpdateOptions) error { called = true; return nil })
			}, append([]string{"update"}, tt.args...))
			if r.Code != exitcode.Usage || called || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("exit %d, called %v, stderr %q; want exit 2 with %q", r.Code, called, r.Stderr, tt.want)
			}
		})
	}
}

// `connector update` changes the machine type and the maximum in place: the same connector
// (range, subnet, users) through one PATCH whose operation is waited on, never a create or
// delete; the output says what changed.
func TestConnectorUpdateInPlace(t *testing.T) {
	w := newEmu(t)
	ref := egress.ConnectorRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: emulator.DemoConnector}
	before, err := w.Clients(t).GetConnector(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	usersBefore := w.Run(t, false, "", "connector", "users", ref.Name, "--format", "json")
	w.E.ResetCalls()
	r := w.Run(t, false, "", "connector", "update", ref.Name, "--machine-type", "e2-standard-4", "--max-instances", "10", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var res ConnectorUpdateResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if res.MachineType != "e2-standard-4" || res.MaxInstances != 10 || res.State != "READY" || !res.InPlace || len(res.Changes) != 2 || len(res.Users) == 0 {
		t.Errorf("result %+v, changes %v, users %v", res.Connector, res.Changes, res.Users)
	}
	if !strings.Contains(r.Stderr, "Updated connector run-connector in place (machine type: f1-micro → e2-standard-4, max instances: 3 → 10)") {
		t.Errorf("stderr: %s", r.Stderr)
	}
	calls := w.E.Calls()
	for m, n := range calls {
		if n > 0 && (strings.Contains(m, "CreateConnector") || strings.Contains(m, "DeleteConnector")) {
			t.Errorf("%s called %d times: the connector was recreated", m, n)
		}
	}
	if calls["vpcaccess.projects.locations.connectors.patch"] != 1 {
		t.Errorf("calls %v: want one connectors.patch", calls)
	}
	after, err := w.Clients(t).GetConnector(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if after.MachineType != "e2-standard-4" || after.MaxInstances != 10 || after.MinInstances != before.MinInstances ||
		after.State != "READY" || after.IPCIDRRange != before.IPCIDRRange || after.Subnet.Name != before.Subnet.Name {
		t.Errorf("after the update: %+v (before %+v)", after, before)
	}
	if u := w.Run(t, false, "", "connector", "users", ref.Name, "--format", "json"); u.Stdout != usersBefore.Stdout {
		t.Errorf("users changed:\n%s\nwas\n%s", u.Stdout, usersBefore.Stdout)
	}
	// The same again changes nothing and makes no call that writes.
	w.E.ResetCalls()
	if r := w.Run(t, false, "", "connector", "update", ref.Name, "--machine-type", "e2-standard-4"); r.Code != 0 || !strings.Contains(r.Stderr, "already has these settings") {
		t.Errorf("repeat: exit %d: %s", r.Code, r.Stderr)
	}
	if n := w.E.Calls()["vpcaccess.projects.locations.connectors.patch"]; n != 0 {
		t.Errorf("the repeat patched %d times", n)
	}
}

// A decrease is refused against the connector as it is (exit 3, pointing at recycle), and so
// is a minimum that would reach the current maximum (exit 2); nothing changes.
func TestConnectorUpdateRefusals(t *testing.T) {
	w := newEmu(t)
	w.E.ResetCalls()
	r := w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--min-instances", "3")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "--min-instances: connector run-connector would have min instances 3 and max instances 3") ||
		!strings.Contains(r.Stderr, "; give --max-instances too (4 to 10)") {
		t.Errorf("min up to max: exit %d: %s", r.Code, r.Stderr)
	}
	if r := w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--max-instances", "4"); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	r = w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--max-instances", "3")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "--max-instances: 3 is below the connector's current 4") || !strings.Contains(r.Stderr, "runnet connector recycle run-connector") {
		t.Errorf("decrease: exit %d: %s", r.Code, r.Stderr)
	}
	// A decrease that also meets the minimum is a decrease first: no --max-instances fixes it.
	if r := w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--min-instances", "3", "--max-instances", "5"); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	r = w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--max-instances", "3")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "--max-instances: 3 is below the connector's current 5") || !strings.Contains(r.Stderr, "runnet connector recycle run-connector") {
		t.Errorf("decrease to the minimum: exit %d: %s", r.Code, r.Stderr)
	}
	if n := w.E.Calls()["vpcaccess.projects.locations.connectors.patch"]; n != 2 {
		t.Errorf("%d patches, want only the increases'", n)
	}
	if r := w.Run(t, false, "", "connector", "update", "no-such-connector", "--max-instances", "5"); r.Code == 0 || !strings.Contains(r.Stderr, "no-such-connector") {
		t.Errorf("missing connector: exit %d: %s", r.Code, r.Stderr)
	}
}
