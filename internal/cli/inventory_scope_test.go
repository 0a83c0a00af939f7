package cli

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// newSharedVPCEmu serves the sharedvpc seed: a host project with a connector and subnets, three
// service projects whose workloads use the connector (emulator.SeedSharedVPC).
func newSharedVPCEmu(t *testing.T) *emuRun {
	t.Helper()
	e, err := emulator.New(emulator.Options{Seed: emulator.SeedSharedVPC, LRODuration: 10 * time.Millisecond, RevisionReady: 30 * time.Millisecond, IPRelease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Serve(l) }()
	t.Cleanup(func() { _ = e.Close() })
	return &emuRun{E: e, Addr: l.Addr().String(), Main: cliMain}
}

func decodeScopeInventory(t *testing.T, r result) ScopeInventory {
	t.Helper()
	var inv ScopeInventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
		t.Fatalf("stdout is not the inventory's JSON: %v\n%s", err, r.Stdout)
	}
	return inv
}

func workloadIDs(inv ScopeInventory) []string {
	var out []string
	for _, w := range inv.Workloads {
		out = append(out, w.Project+"/"+w.Workload)
	}
	return out
}

var sharedVPCWorkloadIDs = []string{
	"team-a/api", "team-a/job/batch", "team-a/web",
	"team-b/job/nightly", "team-b/orders", "team-b/payments",
	"team-c/recs", "team-c/job/reindex", "team-c/search",
}

func TestInventoryFolderThroughCloudAsset(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCPlatform)
	r := er.Run(t, false, "", "inventory", "--folder", emulator.SharedVPCFolderApps, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	inv := decodeScopeInventory(t, r)
	if inv.Scope != "folders/"+emulator.SharedVPCFolderApps || !slices.Equal(inv.Projects, emulator.SharedVPCServiceProjects) {
		t.Errorf("scope %q, projects %v", inv.Scope, inv.Projects)
	}
	if len(inv.Sources) != 1 || inv.Sources[0].Via != cloud.ViaCloudAsset || inv.Calls.CloudAsset != 1 {
		t.Errorf("sources %+v, calls %+v: want one Cloud Asset search of the folder", inv.Sources, inv.Calls)
	}
	if got := workloadIDs(inv); !slices.Equal(got, sharedVPCWorkloadIDs) {
		t.Errorf("workloads = %v, want %v", got, sharedVPCWorkloadIDs)
	}
	for _, w := range inv.Workloads {
		if w.Mode != "connector" || w.Connector != emulator.SharedVPCConnectorName() {
			t.Errorf("%s/%s: mode %s connector %s", w.Project, w.Workload, w.Mode, w.Connector)
		}
	}
	// The host's connector is outside the folder: read directly, with all nine users.
	if len(inv.Connectors) != 1 || !inv.Connectors[0].Exists || len(inv.Connectors[0].Users) != 9 || inv.Connectors[0].Unused {
		t.Fatalf("connectors = %+v", inv.Connectors)
	}
	if len(inv.SharedConnectors) != 1 {
		t.Fatalf("shared connectors = %+v", inv.SharedConnectors)
	}
	sc := inv.SharedConnectors[0]
	if sc.Host != emulator.SharedVPCHost || sc.Workloads != 9 || sc.Projects != 3 || sc.Complete ||
		sc.Summary != "connector shared-conn in host net-host is used by 9 workloads in 3 projects (at least: not every project that may use it was read)" {
		t.Errorf("shared connector = %+v", sc)
	}
	if len(inv.Errors) != 0 {
		t.Errorf("errors = %+v", inv.Errors)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if errs, ok := raw["errors"].([]any); !ok || len(errs) != 0 {
		t.Errorf(`"errors" = %#v, want [] (as a region's inventory has it)`, raw["errors"])
	}
	if p, ok := raw["project"]; ok {
		t.Errorf(`"project" = %#v at the top of a folder's inventory; want none (scope and projects say what was read)`, p)
	}

	// The organization holds the host too: the view is complete.
	r = er.Run(t, false, "", "inventory", "--organization", emulator.SharedVPCOrg, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	inv = decodeScopeInventory(t, r)
	if len(inv.SharedConnectors) != 1 || !inv.SharedConnectors[0].Complete ||
		inv.SharedConnectors[0].Summary != "connector shared-conn in host net-host is used by 9 workloads in 3 projects" {
		t.Errorf("shared connectors = %+v", inv.SharedConnectors)
	}
	if !slices.Contains(inv.Projects, emulator.SharedVPCHost) {
		t.Errorf("projects = %v", inv.Projects)
	}

	// The table says the same.
	r = er.Run(t, false, "", "inventory", "--organization", emulator.SharedVPCOrg)
	for _, want := range []string{
		"SCOPE organizations/" + emulator.SharedVPCOrg + " (4 projects; 1 Cloud Asset Inventory page, 0 other reads)",
		"SHARED CONNECTORS (1)",
		"connector shared-conn in host net-host is used by 9 workloads in 3 projects   team-a (3), team-b (3), team-c (3)",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.Stdout)
		}
	}
}

func TestInventoryProjectsFallBackToListing(t *testing.T) {
	er := newSharedVPCEmu(t)
	// A caller that may not search anything: each project is listed, and stderr says so.
	er.E.SetPrincipal("user:nobody@example.com")
	r := er.Run(t, false, "", "inventory", "--projects", "team-b,team-a", "--regions", emulator.SharedVPCRegion, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	inv := decodeScopeInventory(t, r)
	if got := workloadIDs(inv); !slices.Equal(got, sharedVPCWorkloadIDs[:6]) {
		t.Errorf("workloads = %v", got)
	}
	if len(inv.Sources) != 2 || inv.Sources[0].Via != cloud.ViaListing || !strings.Contains(inv.Sources[0].Reason, "cloudasset.assets.searchAllResources") {
		t.Errorf("sources = %+v", inv.Sources)
	}
	if inv.Calls.CloudAsset != 0 || inv.Calls.List == 0 {
		t.Errorf("calls = %+v", inv.Calls)
	}
	if !strings.Contains(r.Stderr, "projects/team-a: read by listing, not through Cloud Asset Inventory: the caller may not search projects/team-a with Cloud Asset Inventory (cloudasset.assets.searchAllResources).") {
		t.Errorf("stderr = %q", r.Stderr)
	}
	// Two of the three service projects: the connector's users are at least six.
	if len(inv.SharedConnectors) != 1 || inv.SharedConnectors[0].Workloads != 6 || inv.SharedConnectors[0].Complete {
		t.Errorf("shared connectors = %+v", inv.SharedConnectors)
	}
}

// A caller refused both the organization's search and its folders reads nothing: the
// inventory says so and names the permissions, rather than "its 0 projects are read one by
// one", and fails (exit 1) as an incomplete inventory does.
func TestInventoryOrganizationUnlisted(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal("user:nobody@example.com")
	org := "organizations/" + emulator.SharedVPCOrg
	r := er.Run(t, false, "", "inventory", "--organization", emulator.SharedVPCOrg, "--regions", emulator.SharedVPCRegion, "--format", "json")
	if r.Code != 1 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	inv := decodeScopeInventory(t, r)
	want := "the caller may not search " + org + " with Cloud Asset Inventory (cloudasset.assets.searchAllResources), and Resource Manager could not list the projects under it (the caller lacks resourcemanager.folders.list on it): nothing under it is read"
	if len(inv.Sources) != 1 || inv.Sources[0].Reason != want {
		t.Errorf("sources = %+v; want the reason %q", inv.Sources, want)
	}
	if len(inv.Errors) != 1 || !strings.Contains(inv.Errors[0].Message, "list the folders of "+org+" (the caller lacks resourcemanager.folders.list on it)") {
		t.Errorf("errors = %+v", inv.Errors)
	}
	if !strings.Contains(r.Stderr, org+": read by listing, not through Cloud Asset Inventory: "+want+".") || strings.Contains(r.Stderr, "0 projects") {
		t.Errorf("stderr = %q", r.Stderr)
	}
}

func TestInventoryScopeBadInput(t *testing.T) {
	er := newSharedVPCEmu(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--folder", "apps"}, `--folder: "apps" is not a folder number`},
		{[]string{"--organization", "-1"}, `--organization: "-1" is not an organization number`},
		{[]string{"--projects", "Team_A"}, "--projects"},
		{[]string{"--projects", "team-a,,team-b"}, "--projects: empty project id"},
		{[]string{"--projects", "team-a", "--folder", "1"}, "none of the others can be"},
		{[]string{"--projects", "team-a", "--project", "team-b"}, "--project: give the projects to read with --projects"},
		{[]string{"--folder", "1", "--region", "us-central1", "--regions", "all"}, "--regions: give the regions to read with --regions only"},
	} {
		r := er.Run(t, false, "", append([]string{"inventory"}, tc.args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

func TestConnectorUsersAcrossServiceProjects(t *testing.T) {
	er := newSharedVPCEmu(t)
	r := er.Run(t, false, "", "connector", "users", emulator.SharedVPCConnectorName(), "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var users []WorkloadUser
	if err := json.Unmarshal([]byte(r.Stdout), &users); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Project+"/"+u.Workload)
	}
	slices.Sort(got)
	want := slices.Clone(sharedVPCWorkloadIDs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("users = %v, want %v", got, want)
	}
}

// The service agent check's fix is what Cloud Run needs: in the emulator, a service project's
// revision on the host's subnet does not start until the grant the check prints is made.
func TestServiceAgentFixLetsTheRevisionStart(t *testing.T) {
	er := newSharedVPCEmu(t)
	subnet := "projects/net-host/regions/asia-northeast1/subnetworks/run-direct"
	attach := func() result {
		return er.Run(t, false, "", "--project", "team-a", "--region", emulator.SharedVPCRegion, "attach", "api",
			"--network", "projects/net-host/global/networks/shared-vpc", "--subnet", subnet, "--format", "json")
	}
	// Before the grant, the service-agent check refuses (exit 3) and nothing is sent: Cloud Run
	// would not start the revision.
	r := attach()
	if r.Code != 3 || !strings.Contains(r.Stderr, "service-agent") || er.E.Calls()["google.cloud.run.v2.Services/UpdateService"] != 0 {
		t.Fatalf("attach before the grant: exit %d, stderr %q, calls %v; want the service-agent check's refusal", r.Code, r.Stderr, er.E.Calls())
	}
	if er.E.HasPermission(emulator.ServiceAgent("team-a"), subnet, "compute.subnetworks.use") {
		t.Fatal("the emulator already lets the service agent use the subnet")
	}
	c := cloud.New(t.Context(), cloud.Config{EmulatorHost: er.Addr})
	defer c.Close()
	check, err := c.CheckServiceAgent(t.Context(), "team-a", egressVPC(subnet))
	if err != nil {
		t.Fatal(err)
	}
	if check.OK() || len(check.Fixes) != 1 || check.Fixes[0].Role != cloud.RoleNetworkUser {
		t.Fatalf("check = %+v", check)
	}
	if err := c.GrantServiceAgent(t.Context(), check); err != nil {
		t.Fatal(err)
	}
	if r := attach(); r.Code != 0 {
		t.Fatalf("attach after the grant: exit %d: %s", r.Code, r.Stderr)
	}
}

func egressVPC(subnet string) egress.VPC { return egress.VPC{Subnet: subnet} }

// The table of a scope's connectors has the columns of its rows: USERS names the users, each
// as PROJECT/WORKLOAD, and INSTANCES the instances the connector runs (the header once held
// seven columns for ten cells, so USERS showed the instance count and the users were dropped).
func TestInventoryScopeTableConnectorColumns(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCPlatform)
	r := er.Run(t, false, "", "inventory", "--projects", "team-a,team-b")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	_, section, ok := strings.Cut(r.Stdout, "CONNECTORS (1)\n")
	if !ok {
		t.Fatalf("no connectors section:\n%s", r.Stdout)
	}
	lines := strings.SplitN(section, "\n", 3)
	header, row := strings.Fields(lines[0]), lines[1]
	if !slices.Equal(header, []string{"NAME", "REGION", "STATE", "MACHINE", "TYPE", "MIN", "MAX", "INSTANCES", "PEAK", "MONTHLY", "COST", "USERS"}) {
		t.Errorf("header = %q", lines[0])
	}
	usersAt := strings.Index(lines[0], "USERS")
	if usersAt < 0 || usersAt > len(row) {
		t.Fatalf("row %q has no USERS cell (header %q)", row, lines[0])
	}
	if got, want := row[usersAt:], "team-a/api, team-a/job/batch, team-a/web, team-b/job/nightly, team-b/orders, and 1 more"; got != want {
		t.Errorf("USERS = %q, want %q", got, want)
	}
	instAt := strings.Index(lines[0], "INSTANCES")
	if instAt < 0 || instAt > len(row) {
		t.Fatalf("row %q has no INSTANCES cell (header %q)", row, lines[0])
	}
	if f := strings.Fields(row[instAt:]); len(f) == 0 || f[0] != "4" {
		t.Errorf("INSTANCES cell of %q: want 4 (the seed runs 4)", row)
	}
}

// The findings about a Shared VPC host's connector, in an inventory of a service project or
// of many projects, name it by its full name in the commands they give (its short name is
// looked up in the caller's project, where it does not exist), and the commands work.
func TestInventoryHostConnectorFindingsNameItFully(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	full := emulator.SharedVPCConnectorName()
	for _, args := range [][]string{
		{"inventory", "--project", "team-c", "--format", "json"},
		{"inventory", "--organization", emulator.SharedVPCOrg, "--format", "json"},
	} {
		r := er.Run(t, false, "", args...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
		var inv struct {
			Findings []Finding `json:"findings"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.Stdout)
		}
		kinds := map[string]string{}
		for _, f := range inv.Findings {
			kinds[f.Kind] = f.Message
		}
		if m := kinds[FindingConnectorMachineType]; !strings.Contains(m, "(runnet connector update "+full+" --machine-type e2-standard-4;") {
			t.Errorf("%v: machine-type finding %q does not name %s", args, m, full)
		}
		if m := kinds[FindingConnectorOversized]; !strings.Contains(m, "'runnet connector recycle "+full+"'") {
			t.Errorf("%v: oversized finding %q does not name %s", args, m, full)
		}
		if args[1] == "--organization" && !strings.Contains(kinds[FindingConnectorMachineType], "team-a/api, ") {
			t.Errorf("users not named PROJECT/WORKLOAD: %q", kinds[FindingConnectorMachineType])
		}
	}
	// A command given the full name finds the connector, whatever the default project.
	r := er.Run(t, false, "", "connector", "describe", full)
	if r.Code != 0 {
		t.Errorf("connector describe %s: exit %d: %s", full, r.Code, r.Stderr)
	}
}

// In a scope's table, a Shared VPC host subnet's users are named PROJECT/WORKLOAD, as a
// connector's are: the subnet serves workloads of several projects, which may share names.
func TestInventoryScopeTableNamesSubnetUsersWithProjects(t *testing.T) {
	er := newSharedVPCEmu(t)
	subnet := "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	for _, w := range [][2]string{{"team-a", "api"}, {"team-b", "orders"}} {
		r := er.Run(t, false, "", "migrate", w[1], "--project", w[0], "--region", emulator.SharedVPCRegion, "--to", "direct", "--subnet", subnet, "--fix", "--yes", "--quiet")
		if r.Code != 0 {
			t.Fatalf("migrate %s/%s: exit %d: %s", w[0], w[1], r.Code, r.Stderr)
		}
	}
	r := er.Run(t, false, "", "inventory", "--folder", emulator.SharedVPCFolderApps, "--region", emulator.SharedVPCRegion)
	if r.Code != 0 {
		t.Fatalf("inventory: exit %d: %s", r.Code, r.Stderr)
	}
	_, section, _ := strings.Cut(r.Stdout, "DIRECT VPC SUBNETS")
	section, _, _ = strings.Cut(section, "FINDINGS")
	var row string
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, emulator.SharedVPCHost+"/"+emulator.SharedVPCDirectSubnet+" ") {
			row = l
		}
	}
	if !strings.Contains(row, "team-a/api") || !strings.Contains(row, "team-b/orders") {
		t.Errorf("subnet row %q does not name its users with their projects:\n%s", row, r.Stdout)
	}
}
