package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

type fleetJSON struct {
	Workloads []struct {
		Project  string         `json:"project"`
		Workload string         `json:"workload"`
		Outcome  egress.Outcome `json:"outcome"`
		Error    string         `json:"error"`
	} `json:"workloads"`
	Summary  FleetSummary                 `json:"summary"`
	Projects []migration.ProjectSummary   `json:"projects"`
	Cleanup  []migration.ConnectorCleanup `json:"cleanup"`
}

func decodeFleet(t *testing.T, r result) fleetJSON {
	t.Helper()
	var f fleetJSON
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatalf("stdout is not the fleet's JSON: %v\n%s\nstderr %s", err, r.Stdout, r.Stderr)
	}
	return f
}

// The host's connector is used by nine workloads in three service projects: one fleet
// migration finds them all, checks each (the service agents lack networkUser on the
// subnet: --fix grants it, once per project), migrates them with both bounds, reports per
// project, and --cleanup deletes the connector once nothing uses it.
func TestMigrateFleetAcrossServiceProjects(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	args := []string{"--region", emulator.SharedVPCRegion, "migrate", "--all", "--from-connector", emulator.SharedVPCConnectorName(),
		"--to", "direct", "--subnet", hostSubnet, "--concurrency", "6", "--per-project-concurrency", "2", "--cleanup", "--yes", "--format", "json"}

	// Without --fix: every workload is blocked by the service-agent check (exit 3), nothing
	// changes. Each project's agent is checked once, not once per workload.
	er.E.ResetCalls()
	r := er.Run(t, false, "", args...)
	if n := er.E.Calls()["compute.subnetworks.getIamPolicy"]; n != 3 {
		t.Errorf("the subnet's IAM policy was read %d times, want 3 (one per project's agent): %v", n, er.E.Calls())
	}
	if r.Code != 3 {
		t.Fatalf("without --fix: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	f := decodeFleet(t, r)
	if f.Summary.Total != 9 || f.Summary.Blocked != 9 || len(f.Cleanup) != 1 || f.Cleanup[0].Status != "skipped" {
		t.Fatalf("without --fix: summary %+v, cleanup %+v", f.Summary, f.Cleanup)
	}
	for _, p := range emulator.SharedVPCServiceProjects {
		if !strings.Contains(r.Stderr, grantLine(p)) {
			t.Errorf("stderr lacks the grant for %s: %s", p, r.Stderr)
		}
	}
	// The error names each workload with its project: several projects may have an api.
	for _, w := range sharedVPCWorkloadIDs {
		if !strings.Contains(r.Stderr, w+" (preflight failed for ") {
			t.Errorf("stderr does not name %s: %s", w, r.Stderr)
		}
	}

	r = er.Run(t, false, "", append(args, "--fix", "--force", "free-ips")...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	f = decodeFleet(t, r)
	var got []string
	for _, w := range f.Workloads {
		got = append(got, w.Project+"/"+w.Workload)
		if w.Outcome != egress.OutcomeMigrated {
			t.Errorf("%s/%s: %s %s", w.Project, w.Workload, w.Outcome, w.Error)
		}
	}
	slices.Sort(got)
	want := slices.Clone(sharedVPCWorkloadIDs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("workloads = %v, want %v", got, want)
	}
	if len(f.Projects) != 3 {
		t.Fatalf("projects = %+v", f.Projects)
	}
	for i, p := range f.Projects {
		if p.Project != emulator.SharedVPCServiceProjects[i] || p.Total != 3 || p.Migrated != 3 {
			t.Errorf("project %+v", p)
		}
		if !er.E.IAMPolicy(hostSubnet).Has("roles/compute.networkUser", emulator.ServiceAgent(p.Project)) {
			t.Errorf("%s's service agent was not granted networkUser", p.Project)
		}
	}
	if len(f.Cleanup) != 1 || f.Cleanup[0].Status != "done" {
		t.Errorf("cleanup = %+v", f.Cleanup)
	}
	if _, _, ok := er.E.ConnectorInstances(emulator.SharedVPCConnectorName()); ok {
		t.Error("the connector still exists")
	}

	// The table names the projects.
	r = er.Run(t, false, "", "--region", emulator.SharedVPCRegion, "connector", "list", "--project", emulator.SharedVPCHost)
	if strings.Contains(r.Stdout, emulator.SharedVPCConnector) {
		t.Errorf("connector list: %s", r.Stdout)
	}
}

// A fleet scoped to two of the three service projects leaves team-c on the connector: the
// cleanup reads every project attached to the host, from what serves, and keeps it.
func TestMigrateFleetCleanupKeptWhileAServiceProjectUsesIt(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	r := er.Run(t, false, "", "--region", emulator.SharedVPCRegion, "migrate", "--all", "--from-connector", emulator.SharedVPCConnectorName(),
		"--projects", "team-a,team-b", "--to", "direct", "--subnet", hostSubnet, "--fix", "--force", "free-ips", "--cleanup", "--yes", "--format", "table")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		"team-a/api", "team-b/job/nightly",
		"Project team-a: 3 of 3 migrated", "Project team-b: 3 of 3 migrated",
		"Connector shared-conn: kept, still used by team-c/",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "Project team-c") {
		t.Errorf("team-c was out of scope:\n%s", r.Stdout)
	}
	if _, _, ok := er.E.ConnectorInstances(emulator.SharedVPCConnectorName()); !ok {
		t.Error("the connector was deleted while team-c uses it")
	}
}

// A fleet of the host's connector whose workloads are all in one service project reports
// as one across several does: projects[] in JSON, PROJECT/WORKLOAD and the project's line in
// the table (the workloads are not in the connector's project, and a script reading
// .projects[] must not break when the scope holds one project).
func TestMigrateFleetOneServiceProjectKeepsTheShape(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	base := []string{"--region", emulator.SharedVPCRegion, "migrate", "--all", "--from-connector", emulator.SharedVPCConnectorName(),
		"--projects", "team-a", "--to", "direct", "--subnet", hostSubnet, "--fix", "--force", "free-ips", "--dry-run"}
	r := er.Run(t, false, "", append(base, "--format", "json")...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	f := decodeFleet(t, r)
	if len(f.Projects) != 1 || f.Projects[0].Project != "team-a" || f.Projects[0].Total != 3 || f.Projects[0].Planned != 3 {
		t.Errorf("projects = %+v, want team-a with 3 planned", f.Projects)
	}
	r = er.Run(t, false, "", append(base, "--format", "table")...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"team-a/api ", "team-a/job/batch ", "Project team-a: 0 of 3 migrated, 3 planned"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.Stdout)
		}
	}
	// What is said on stderr names them so too.
	if want := "Dry run: service team-a/api would move from connector to direct"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
	}
}

// A dry run with --cleanup says what the cleanup would do: the connector is planned for
// deletion when the workloads that would move are all its users, kept (with who keeps it)
// otherwise; nothing is deleted.
func TestMigrateFleetDryRunPlansTheCleanup(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	base := []string{"--region", emulator.SharedVPCRegion, "migrate", "--all", "--from-connector", emulator.SharedVPCConnectorName(),
		"--to", "direct", "--subnet", hostSubnet, "--fix", "--force", "free-ips", "--cleanup", "--dry-run", "--format", "json"}
	r := er.Run(t, false, "", base...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	f := decodeFleet(t, r)
	if f.Summary.Planned != 9 || len(f.Cleanup) != 1 || f.Cleanup[0].Connector != emulator.SharedVPCConnectorName() || f.Cleanup[0].Status != "planned" {
		t.Errorf("summary %+v, cleanup %+v: want nine planned and the connector planned for deletion", f.Summary, f.Cleanup)
	}
	r = er.Run(t, false, "", append(base, "--projects", "team-a,team-b")...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	f = decodeFleet(t, r)
	if len(f.Cleanup) != 1 || f.Cleanup[0].Status != "skipped" ||
		!slices.Equal(f.Cleanup[0].Users, []string{"team-c/recs", "team-c/search", "team-c/job/reindex"}) {
		t.Errorf("cleanup %+v: want it kept for team-c's three workloads", f.Cleanup)
	}
	r = er.Run(t, false, "", append(slices.Clone(base[:len(base)-2]), "--format", "table", "--projects", "team-a,team-b")...)
	if !strings.Contains(r.Stdout, "Connector shared-conn: would be kept, still used by team-c/recs, team-c/search, team-c/job/reindex (dry run)") {
		t.Errorf("table does not say the connector would be kept:\n%s", r.Stdout)
	}
	r = er.Run(t, false, "", append(base[:len(base)-2], "--format", "table")...)
	if !strings.Contains(r.Stdout, "Connector shared-conn: would be deleted: nothing else uses it (dry run)") {
		t.Errorf("table does not say the connector would be deleted:\n%s", r.Stdout)
	}
	if _, _, ok := er.E.ConnectorInstances(emulator.SharedVPCConnectorName()); !ok {
		t.Error("a dry run deleted the connector")
	}
}

func TestMigrateFleetScopeBadInput(t *testing.T) {
	er := newSharedVPCEmu(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"api", "--projects", "team-a"}, "--projects is used with --all --from-connector C"},
		{[]string{"--all", "--from-connector", emulator.SharedVPCConnectorName(), "--folder", "apps"}, `--folder: "apps" is not a folder number`},
		{[]string{"--all", "--from-connector", emulator.SharedVPCConnectorName(), "--projects", "team-a", "--folder", "1"}, "give one of --projects, --folder and --organization"},
		{[]string{"--all", "--from-connector", emulator.SharedVPCConnectorName(), "--per-project-concurrency", "0"}, "--per-project-concurrency: 0 is out of range; valid: 1 to 32"},
	} {
		args := append([]string{"--project", "team-a", "--region", emulator.SharedVPCRegion, "migrate", "--to", "none", "--yes"}, tc.args...)
		r := er.Run(t, false, "", args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

// Workloads named in one project (no --all) keep the report of one project: no projects[],
// names without their project.
func TestMigrateNamedWorkloadsOneProjectShape(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, false, "", "migrate", "run-service", "job/nightly-export", "--to", "direct", "--subnet", "run-direct-vpc-egress",
		"--force", "free-ips", "--dry-run", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if f := decodeFleet(t, r); len(f.Workloads) != 2 || f.Projects != nil {
		t.Errorf("workloads %d, projects %+v: want two and no projects[]", len(f.Workloads), f.Projects)
	}
	if !strings.Contains(r.Stderr, "Dry run: service run-service would move") {
		t.Errorf("stderr = %s", r.Stderr)
	}
}

// Deleting a Shared VPC host's connector is refused while service projects use it, and the
// refusal names each user with its project: the host's own name space has no 'api'.
func TestConnectorDeleteNamesServiceProjectUsers(t *testing.T) {
	er := newSharedVPCEmu(t)
	full := "projects/" + emulator.SharedVPCHost + "/locations/" + emulator.SharedVPCRegion + "/connectors/shared-conn"
	r := er.Run(t, false, "", "connector", "delete", full, "--yes")
	if r.Code != exitcode.Preflight {
		t.Fatalf("exit %d, want %d: %s", r.Code, exitcode.Preflight, r.Stderr)
	}
	for _, want := range []string{"team-a/api (service)", "team-b/job/nightly", "team-c/search (service)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("refusal %q does not name %s", r.Stderr, want)
		}
	}
}

// A Shared VPC host's subnet used for Direct VPC egress by a service project's workloads is not
// deleted, nor waited on: their addresses stay as long as they run, so 'try again later' or
// --wait would only run out the clock. The refusal (exit 3, before any change) names them.
func TestSubnetDeleteRefusesWhileServiceProjectsUseIt(t *testing.T) {
	er := newSharedVPCEmu(t)
	subnet := "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	if r := er.Run(t, false, "", "migrate", "api", "--project", "team-a", "--region", emulator.SharedVPCRegion, "--to", "direct", "--subnet", subnet, "--fix", "--yes", "--quiet"); r.Code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.Code, r.Stderr)
	}
	r := er.Run(t, false, "", "subnet", "delete", emulator.SharedVPCDirectSubnet, "--project", emulator.SharedVPCHost, "--region", emulator.SharedVPCRegion, "--wait", "--timeout", "1m", "--yes")
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "team-a/api (service)") || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Errorf("exit %d, want %d naming team-a/api: %s", r.Code, exitcode.Preflight, r.Stderr)
	}
	if r := er.Run(t, false, "", "subnet", "describe", emulator.SharedVPCDirectSubnet, "--project", emulator.SharedVPCHost, "--region", emulator.SharedVPCRegion); r.Code != 0 {
		t.Errorf("the subnet is gone: exit %d: %s", r.Code, r.Stderr)
	}
}
