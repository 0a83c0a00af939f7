package cloud

import (
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The REST patch changes the connector in place and waits for its operation; what the API
// refuses (a decrease of the instance counts) comes back as its own 400 INVALID_ARGUMENT, and an
// empty update is refused before any call.
func TestUpdateConnectorEmulator(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedDemo)
	ref := demoConnRef(emulator.DemoConnector)
	e.ResetCalls()
	conn, err := c.UpdateConnector(t.Context(), ref, ConnectorUpdate{MachineType: "e2-standard-4", MaxInstances: 5}, WaitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if conn.MachineType != "e2-standard-4" || conn.MaxInstances != 5 || conn.MinInstances != 2 || conn.State != ConnectorReady {
		t.Errorf("updated connector %+v", conn)
	}
	if n := e.Calls()["vpcaccess.projects.locations.connectors.patch"]; n != 1 {
		t.Errorf("%d patches", n)
	}
	_, err = c.UpdateConnector(t.Context(), ref, ConnectorUpdate{MaxInstances: 4}, WaitOptions{})
	if err == nil || ErrorCode(err) != "HTTP 400" || !strings.Contains(err.Error(), "can only be increased") {
		t.Errorf("decrease: %v (%s)", err, ErrorCode(err))
	}
	if _, err := c.UpdateConnector(t.Context(), ref, ConnectorUpdate{}, WaitOptions{}); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Errorf("empty update: %v", err)
	}
	if got := (ConnectorUpdate{MachineType: "e2-micro", MinInstances: 3}).Mask(); strings.Join(got, ",") != "machineType,minInstances" {
		t.Errorf("mask %v", got)
	}
}
