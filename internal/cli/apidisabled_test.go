package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// APIs disabled in a project, as the emulator refuses their calls (SERVICE_DISABLED,
// accessNotConfigured): runnet treats them as "nothing of that kind here", not as errors.

// usersOf runs `connector users` and returns the workloads it lists.
func usersOf(t *testing.T, er *emuRun, args ...string) ([]WorkloadUser, result) {
	t.Helper()
	r := er.Run(t, false, "", append([]string{"connector", "users"}, append(args, "--format", "json")...)...)
	var users []WorkloadUser
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &users) != nil {
		t.Fatalf("connector users: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	return users, r
}

// Compute disabled in the connector's project: the project cannot be a Shared VPC host, so
// connector users and describe list the users of its own project and say nothing about Shared
// VPC.
func TestConnectorUsersComputeDisabled(t *testing.T) {
	er := newEmu(t)
	want, _ := usersOf(t, er, emulator.DemoConnector)
	if len(want) == 0 {
		t.Fatal("the demo connector has no users")
	}
	if err := er.E.DisableService(emulator.DemoProject, emulator.ServiceCompute); err != nil {
		t.Fatal(err)
	}
	got, r := usersOf(t, er, emulator.DemoConnector)
	if len(got) != len(want) {
		t.Errorf("users = %+v, want %+v", got, want)
	}
	if strings.Contains(r.Stderr, "Shared VPC") || strings.Contains(strings.ToLower(r.Stderr), "error") {
		t.Errorf("stderr: %s", r.Stderr)
	}

	r = er.Run(t, false, "", "connector", "describe", emulator.DemoConnector, "--no-cost", "--format", "json")
	var d struct {
		Users []WorkloadUser `json:"users"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &d) != nil {
		t.Fatalf("describe: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if len(d.Users) != len(want) {
		t.Errorf("describe users = %+v", d.Users)
	}
	if strings.Contains(r.Stderr, "Shared VPC") {
		t.Errorf("describe stderr: %s", r.Stderr)
	}
}

// Compute disabled in a Shared VPC host: its service projects cannot be listed, and the
// connector's users are found in the projects the API reports as connected to it.
func TestConnectorUsersHostComputeDisabled(t *testing.T) {
	er := newSharedVPCEmu(t)
	conn := emulator.SharedVPCConnectorName()
	want, _ := usersOf(t, er, conn)
	if err := er.E.DisableService(emulator.SharedVPCHost, emulator.ServiceCompute); err != nil {
		t.Fatal(err)
	}
	got, r := usersOf(t, er, conn)
	if len(got) != len(want) {
		t.Errorf("users = %d, want %d: %+v", len(got), len(want), got)
	}
	if strings.Contains(r.Stderr, "Shared VPC") {
		t.Errorf("stderr: %s", r.Stderr)
	}
}

// VPC Access disabled in the project: inventory reports api-disabled, exits 0 and lists the
// rest; the workloads that name one of its connectors are told they cannot use it, not that
// it is gone.
func TestInventoryVPCAccessDisabled(t *testing.T) {
	er := newEmu(t)
	inventory := func() (Inventory, result) {
		t.Helper()
		r := er.Run(t, false, "", "inventory", "--format", "json")
		var inv Inventory
		if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil || r.Code != 0 {
			t.Fatalf("inventory: exit %d, %v\nstdout %s\nstderr %s", r.Code, err, r.Stdout, r.Stderr)
		}
		return inv, r
	}
	before, _ := inventory()
	if err := er.E.DisableService(emulator.DemoProject, emulator.ServiceVPCAccess); err != nil {
		t.Fatal(err)
	}
	inv, r := inventory()
	if len(inv.Errors) != 0 || strings.Contains(r.Stderr, "PERMISSION_DENIED") {
		t.Errorf("errors %+v\nstderr %s", inv.Errors, r.Stderr)
	}
	if len(inv.Workloads) != len(before.Workloads) || len(inv.Subnets) != len(before.Subnets) {
		t.Errorf("workloads %d (was %d), subnets %d (was %d)", len(inv.Workloads), len(before.Workloads), len(inv.Subnets), len(before.Subnets))
	}
	var disabled, missing []Finding
	for _, f := range inv.Findings {
		switch f.Kind {
		case FindingAPIDisabled:
			disabled = append(disabled, f)
		case FindingConnectorMissing:
			missing = append(missing, f)
		case FindingRegionError:
			t.Errorf("finding %+v", f)
		}
	}
	if len(disabled) != 1 || disabled[0].Severity != SeverityInfo || !strings.Contains(disabled[0].Message, "Serverless VPC Access API is not enabled in project "+emulator.DemoProject) {
		t.Errorf("api-disabled findings %+v", disabled)
	}
	if len(missing) != 1 || !strings.Contains(missing[0].Message, "connector run-connector cannot be used: the Serverless VPC Access API is not enabled") {
		t.Errorf("connector findings %+v", missing)
	}
}

// Compute disabled in the connector's project: a fleet migration off the connector finds its
// users in that project and in those the connector names as connected (none is a Shared
// VPC service project any more), moves them and deletes the connector.
func TestMigrateFleetHostComputeDisabled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		er        func(*testing.T) *emuRun
		project   string
		connector string
		region    string
		users     int
	}{
		{"own project", newEmu, emulator.DemoProject, emulator.DemoConnector, emulator.DemoRegion, 2},
		{"shared vpc host", newSharedVPCEmu, emulator.SharedVPCHost, emulator.SharedVPCConnectorName(), emulator.SharedVPCRegion, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := tc.er(t)
			if err := er.E.DisableService(tc.project, emulator.ServiceCompute); err != nil {
				t.Fatal(err)
			}
			r := er.Run(t, false, "", "--region", tc.region, "migrate", "--all", "--from-connector", tc.connector, "--to", "none", "--cleanup", "--yes", "--format", "json")
			if r.Code != 0 {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
			}
			f := decodeFleet(t, r)
			if f.Summary.Total != tc.users || f.Summary.Migrated != tc.users || len(f.Cleanup) != 1 || f.Cleanup[0].Status != "done" {
				t.Errorf("summary %+v, cleanup %+v", f.Summary, f.Cleanup)
			}
			if strings.Contains(r.Stderr, "Shared VPC") {
				t.Errorf("stderr: %s", r.Stderr)
			}
		})
	}
}

// Compute disabled in the project of a Direct VPC subnet a workload uses: inventory says the
// subnet cannot be used (its next deploy fails) instead of failing the region's read.
func TestInventoryComputeDisabledDirectSubnet(t *testing.T) {
	er := newEmu(t)
	if r := er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress"); r.Code != 0 {
		t.Fatalf("attach: exit %d: %s", r.Code, r.Stderr)
	}
	if err := er.E.DisableService(emulator.DemoProject, emulator.ServiceCompute); err != nil {
		t.Fatal(err)
	}
	r := er.Run(t, false, "", "inventory", "--format", "json")
	var inv Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil || r.Code != 0 {
		t.Fatalf("inventory: exit %d, %v\nstdout %s\nstderr %s", r.Code, err, r.Stdout, r.Stderr)
	}
	kinds := findingKinds(inv)
	if len(inv.Errors) != 0 || len(kinds[FindingRegionError]) != 0 || len(kinds[FindingAPIDisabled]) != 1 || len(inv.Workloads) != 2 {
		t.Errorf("errors %+v, findings %+v", inv.Errors, inv.Findings)
	}
	var found bool
	for _, f := range inv.Findings {
		if f.Kind == FindingSubnetMissing && strings.Contains(f.Message, "subnet run-direct-vpc-egress cannot be used: the Compute Engine API is not enabled in project "+emulator.DemoProject) {
			found = true
		}
	}
	if !found {
		t.Errorf("no subnet finding: %+v", inv.Findings)
	}
}
