package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/egressmap"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/headless"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// eligible makes a test subnet one Direct VPC egress can use, with its free blocks.
func eligible(s *cloud.Subnet, freeBlocks int) *cloud.Subnet {
	s.DirectVPCEligible, s.FreeBlocks = true, freeBlocks
	s.ReservedIPs = int64(s.Blocks-freeBlocks) * 16
	return s
}

func mapWorkloads(m egressmap.Map) map[string]egressmap.Workload {
	out := map[string]egressmap.Workload{}
	for _, p := range m.Projects {
		for _, w := range p.Workloads {
			out[w.Ref] = w
		}
	}
	return out
}

func mapSubnets(m egressmap.Map) map[string]egressmap.Subnet {
	out := map[string]egressmap.Subnet{}
	for _, p := range m.Projects {
		for _, s := range p.Subnets {
			out[s.Name] = s
		}
	}
	return out
}

func mapConnectors(m egressmap.Map) map[string]egressmap.Connector {
	out := map[string]egressmap.Connector{}
	for _, p := range m.Projects {
		for _, c := range p.Connectors {
			out[c.Name] = c
		}
	}
	return out
}

// The adapter: states, the subnet each connector's workloads would move to, the checks that
// stop some of them, and the commands for the others.
func TestInventoryMap(t *testing.T) {
	r := tRegion
	connector := func(c string) egress.VPC { return egress.VPC{Connector: c} }
	direct := func(s string) egress.VPC { return egress.VPC{Network: "run-vpc", Subnet: s} }
	withNet := func(c *cloud.Connector) *cloud.Connector { c.Network = "run-vpc"; return c }
	used := eligible(subnet(r, "used", "10.8.0.0/24", 32), 13)
	roomy := eligible(subnet(r, "roomy", "10.8.0.0/24", 0), 15)
	small := eligible(subnet(r, "small", "10.9.0.0/26", 0), 3)
	reads := []*regionRead{{
		region: r,
		workloads: []*cloud.Workload{
			svc(r, "a", 10, connector("run-connector")),
			svc(r, "b", 20, connector("run-connector")),
			svc(r, "huge", 300, connector("run-connector")), // 75 blocks, twice over: never fits
			svc(r, "on-direct", 16, direct("used")),
			svc(r, "no-vpc", 5, egress.VPC{}),
			svc(r, "x", 2, connector("other")),
			svc(r, "x2", 2, connector("other")),
			svc(r, "y", 2, connector("gone")),
		},
		connectors: []*cloud.Connector{withNet(conn(r, "run-connector")), withNet(conn(r, "other")), withNet(conn(r, "idle"))},
		subnets:    []*cloud.Subnet{used, roomy, small},
	}}
	inv := newInventoryBuilder(tProject).build(context.Background(), nil, reads)
	m := inventoryMap(inv, []*cloud.Subnet{used, roomy, small})
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(m.Projects) != 1 || m.Projects[0].ID != tProject || m.Title != "Egress map of "+tProject || m.Subtitle != "region "+r {
		t.Fatalf("projects %+v, title %q, subtitle %q", m.Projects, m.Title, m.Subtitle)
	}

	ws := mapWorkloads(m)
	for ref, want := range map[string]egressmap.State{
		"a": egressmap.ToMigrate, "b": egressmap.ToMigrate, "huge": egressmap.Blocked, "on-direct": egressmap.Migrated,
		"no-vpc": egressmap.NoVPC, "x": egressmap.ToMigrate, "x2": egressmap.ToMigrate,
	} {
		if ws[ref].State != want {
			t.Errorf("%s: state %s, want %s", ref, ws[ref].State, want)
		}
	}
	if len(ws) != 8 {
		t.Errorf("%d workloads", len(ws))
	}
	// The big one: free-ips fails with the arithmetic; the quota is only a warning (unknown).
	var names []string
	for _, c := range ws["huge"].Failing {
		names = append(names, c.Name+":"+c.Status)
	}
	if got := strings.Join(names, ","); got != "free-ips:fail,direct-vpc-quota:warn" {
		t.Errorf("huge's failing checks: %s (%+v)", got, ws["huge"].Failing)
	}
	if got := strings.Join(ws["a"].Unchecked, ","); got != "nat-ports,firewall-rules,firewall-policies,startup-probe,permissions" {
		t.Errorf("a's unchecked: %s", got)
	}
	if len(ws["a"].Failing) != 0 {
		t.Errorf("a's failing checks: %+v", ws["a"].Failing)
	}
	// y's connector does not exist: its network is unknown, nothing is proposed or checked.
	if ws["y"].State != egressmap.ToMigrate || ws["y"].Via == "" || len(ws["y"].Failing) != 0 ||
		strings.Join(ws["y"].Unchecked, ",") != "every check (no subnet to move to is known)" {
		t.Errorf("y = %+v", ws["y"])
	}

	cs := mapConnectors(m)
	usedPath := egress.SubnetRef{Project: tProject, Region: r, Name: "used"}.Path()
	for name, want := range map[string]struct {
		state  egressmap.State
		target string
	}{
		"run-connector": {egressmap.InUse, usedPath}, // the subnet Direct VPC egress already uses
		"other":         {egressmap.InUse, usedPath},
		"idle":          {egressmap.Unused, ""},
		"gone":          {egressmap.Missing, ""},
	} {
		if c := cs[name]; c.State != want.state || c.Target != want.target || c.Network != map[bool]string{true: "", false: "run-vpc"}[name == "gone"] {
			t.Errorf("connector %s = %+v, want %+v", name, c, want)
		}
		if c := cs[name]; c.Use.MonthlyCost != nil || c.Use.Instances != nil {
			t.Errorf("connector %s: costs known from nowhere: %+v", name, c.Use)
		}
	}

	ss := mapSubnets(m)
	if len(ss) != 1 {
		t.Fatalf("subnets %+v", ss)
	}
	// used: on-direct (16 instances: 2 blocks) now; a (2 blocks), b (3), x and x2 (1 each)
	// planned, not huge (blocked); the largest workload (b, 3 blocks) again for a rollout.
	if s := ss["used"]; s.State != egressmap.Fits || s.MaxScaleIPs != 32 || s.PlannedIPs != 32+7*16 || s.RolloutIPs != 32+7*16+3*16 ||
		s.ReservedIPs != 32 || s.Usable != 252 || s.Blocks != 15 {
		t.Errorf("used = %+v", s)
	}

	// Commands: run-connector's workloads by name (huge stays), other's with --all and
	// --cleanup (every user moves).
	if len(m.Commands) != 2 {
		t.Fatalf("commands %+v", m.Commands)
	}
	want := []string{
		"runnet migrate --all --from-connector other --to direct --subnet used --cleanup --project demo-project --region asia-northeast1",
		"runnet migrate a b --to direct --subnet used --project demo-project --region asia-northeast1",
	}
	for i, c := range m.Commands {
		if c.Line != want[i] || c.DryRun != want[i]+" --dry-run" {
			t.Errorf("command %d = %q, want %q", i, c.Line, want[i])
		}
	}
	if !strings.Contains(m.Commands[1].Why, "(huge stays: a check fails)") || !strings.Contains(m.Commands[0].Why, "then deletes the connector") {
		t.Errorf("why: %q / %q", m.Commands[0].Why, m.Commands[1].Why)
	}
	notes := strings.Join(m.Notes, "\n")
	if !strings.Contains(notes, "Connector gone: its network is not known") || !strings.Contains(notes, uncheckedNote) {
		t.Errorf("notes:\n%s", notes)
	}
}

// With no subnet used yet, the one with the most room is proposed; with none at all in the
// network, --create-subnet makes one.
func TestInventoryMapProposals(t *testing.T) {
	r := tRegion
	c := conn(r, "run-connector")
	c.Network = "run-vpc"
	reads := func(subnets ...*cloud.Subnet) []*regionRead {
		return []*regionRead{{region: r, connectors: []*cloud.Connector{c},
			workloads: []*cloud.Workload{svc(r, "a", 10, egress.VPC{Connector: "run-connector"})}, subnets: subnets}}
	}
	roomy := eligible(subnet(r, "roomy", "10.8.0.0/24", 0), 15)
	small := eligible(subnet(r, "small", "10.9.0.0/26", 0), 3)
	ineligible := subnet(r, "tiny", "10.10.0.0/27", 0)
	elsewhere := eligible(subnet(r, "elsewhere", "10.8.0.0/24", 0), 15)
	elsewhere.NetworkPath = "projects/" + tProject + "/global/networks/other-vpc"
	listed := []*cloud.Subnet{small, roomy, ineligible, elsewhere}
	inv := newInventoryBuilder(tProject).build(context.Background(), nil, reads(listed...))
	m := inventoryMap(inv, listed)
	if got := mapConnectors(m)["run-connector"].Target; !strings.HasSuffix(got, "/subnetworks/roomy") {
		t.Errorf("target %q, want roomy", got)
	}
	if s := mapSubnets(m)["roomy"]; s.State != egressmap.Candidate || s.MaxScaleIPs != 0 || s.PlannedIPs != 32 || s.RolloutIPs != 64 {
		t.Errorf("roomy = %+v", s)
	}

	listed = []*cloud.Subnet{ineligible, elsewhere}
	inv = newInventoryBuilder(tProject).build(context.Background(), nil, reads(listed...))
	m = inventoryMap(inv, listed)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(m.Commands) != 1 || m.Commands[0].Line != "runnet migrate a --to direct --network run-vpc --create-subnet --cleanup --project demo-project --region asia-northeast1" {
		t.Errorf("commands %+v", m.Commands)
	}
	if s := mapSubnets(m)["run-vpc-direct"]; s.State != egressmap.Candidate || s.CIDR != "" || s.PlannedIPs != 32 {
		t.Errorf("subnet to create = %+v", s)
	}
	if w := mapWorkloads(m)["a"]; w.State != egressmap.ToMigrate || !strings.Contains(strings.Join(w.Unchecked, ","), "subnet-size") {
		t.Errorf("a = %+v", w)
	}
}

func TestQuoteArgs(t *testing.T) {
	got := quoteArgs([]string{"run-service", "job/x", "projects/p/regions/r/subnetworks/s", "a b", "it's", ""})
	want := []string{"run-service", "job/x", "projects/p/regions/r/subnetworks/s", "'a b'", `'it'\''s'`, "''"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("quoteArgs = %q, want %q", got, want)
	}
}

// Graph formats are inventory's; elsewhere they are a usage error naming the valid ones.
func TestGraphFormatsOnlyForInventory(t *testing.T) {
	er := newEmu(t)
	for _, format := range []string{"mermaid", "dot"} {
		r := runCLI(t, false, []string{"status", "--format", format, "--project", "p", "--region", tRegion})
		if r.Code != 2 || !strings.Contains(r.Stderr, "--format "+format+" draws the inventory and is only for 'runnet inventory'; valid for 'runnet status': table, json, yaml") {
			t.Errorf("status --format %s: exit %d, stderr %q", format, r.Code, r.Stderr)
		}
		r = er.Run(t, false, "", "inventory", "--format", format)
		if r.Code != 0 || r.Stderr != "" {
			t.Errorf("inventory --format %s: exit %d, stderr %q", format, r.Code, r.Stderr)
		}
		first := map[string]string{"mermaid": "%% Egress map of demo-project\n", "dot": "digraph egress {\n"}[format]
		if !strings.HasPrefix(r.Stdout, first) {
			t.Errorf("inventory --format %s printed %q", format, r.Stdout)
		}
	}
	r := runCLI(t, false, []string{"inventory", "--format", "xml", "--project", "p", "--region", tRegion})
	if r.Code != 2 || !strings.Contains(r.Stderr, `invalid value "xml" for --format`) {
		t.Errorf("--format xml: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestInventoryReportFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		report, want string
	}{
		{"", "--report: no file name given"},
		{dir, "--report " + dir + ": is a directory"},
		{filepath.Join(dir, "no", "such", "r.html"), "directory " + filepath.Join(dir, "no", "such") + " does not exist"},
	} {
		r := runCLI(t, false, []string{"inventory", "--project", "p", "--region", tRegion, "--report", tt.report})
		if r.Code != 2 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("--report %q: exit %d, stderr %q, want %q", tt.report, r.Code, r.Stderr, tt.want)
		}
	}
}

// End to end on the demo world, as the README shows it: `runnet --emulator inventory --report
// report.html` (the embedded emulator, its state in a temporary file). The report, written
// beside JSON on stdout, opens in headless Chromium with every workload and connector drawn,
// the proposed subnet's bar drawn, no console error and no request.
func TestInventoryReportInBrowser(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.html")
	streams, _, out, errOut := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorState, filepath.Join(dir, "state.json")))
	ctx, cancelRun := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelRun()
	code := execute(ctx, f, NewRootCmd(f), []string{"--emulator", "inventory", "--report", report, "--format", "json"})
	r := result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if r.Stderr != "Wrote the report to "+report+".\n" {
		t.Errorf("stderr %q", r.Stderr)
	}
	var inv Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
		t.Fatalf("stdout is not the inventory's JSON: %v", err)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"runnet migrate --all --from-connector run-connector --to direct --subnet run-direct-vpc-egress --cleanup --project demo-project --region asia-northeast1 --dry-run",
		`data-subnet="projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress"`,
	} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the report lacks %q", want)
		}
	}

	chromium, err := headless.Find()
	if errors.Is(err, headless.ErrNoChromium) {
		t.Skip("skipping the browser part: " + err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := headless.Open(ctx, chromium, report, headless.Options{Screenshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 || len(p.Requests) > 0 || p.Scripts > 0 {
		t.Errorf("errors %q, requests %q, %d scripts", p.Errors, p.Requests, p.Scripts)
	}
	drawn := map[string]headless.Node{}
	for _, n := range p.Nodes {
		drawn[n.Key] = n
	}
	for _, w := range inv.Workloads {
		if n, ok := drawn[workloadKey(w)]; !ok || n.Kind != "workload" || n.Width < 100 {
			t.Errorf("workload %s: drawn %v (%+v)", w.Workload, ok, n)
		}
	}
	for _, c := range inv.Connectors {
		if n, ok := drawn[c.FullName]; !ok || n.Kind != "connector" || n.Width < 100 {
			t.Errorf("connector %s: drawn %v (%+v)", c.Name, ok, n)
		}
	}
	if len(inv.Workloads) != 2 || len(inv.Connectors) != 1 || len(p.Nodes) != 4 || p.Edges != 3 {
		t.Errorf("%d workloads, %d connectors; drawn %d nodes, %d edges", len(inv.Workloads), len(inv.Connectors), len(p.Nodes), p.Edges)
	}
	if len(p.Bars) != 1 || p.Bars[0].Track <= 0 || p.Bars[0].Segs["planned"] <= 0 || p.Bars[0].Segs["rollout"] <= p.Bars[0].Segs["planned"] {
		t.Errorf("bars %+v", p.Bars)
	}
	if v, _, err := headless.Variance(p.PNG); err != nil || v < 100 {
		t.Errorf("screenshot variance %.1f, %v", v, err)
	}
}

// Two projects, end to end: demo-project's services use a Shared VPC subnet and a connector
// of host-project. The picture has a group per project, edges across them, and proposes the
// host's subnet (already used by Direct VPC egress) with its full path; the proposed command
// is one migrate's dry run accepts.
func TestInventoryMermaidSharedVPC(t *testing.T) {
	er := newEmu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const host = "host-project"
	cs, err := compute.NewService(ctx, emulator.ComputeClientOptions(er.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	op, err := cs.Networks.Insert(host, &compute.Network{Name: "shared", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.GlobalOperations.Wait(host, op.Name).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	for _, sn := range []struct{ name, cidr string }{{"shared-run", "10.2.0.0/24"}, {"shared-conn", "10.3.0.0/28"}} {
		op, err := cs.Subnetworks.Insert(host, tRegion, &compute.Subnetwork{
			Name: sn.name, Network: "projects/" + host + "/global/networks/shared", IpCidrRange: sn.cidr,
		}).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RegionOperations.Wait(host, tRegion, op.Name).Context(ctx).Do(); err != nil {
			t.Fatal(err)
		}
	}
	if r := er.Run(t, false, "", "connector", "create", "hosted", "--project", host, "--region", tRegion, "--subnet", "shared-conn"); r.Code != 0 {
		t.Fatalf("connector create: %d %s", r.Code, r.Stderr)
	}
	sharedRun := "projects/" + host + "/regions/" + tRegion + "/subnetworks/shared-run"
	// Shared VPC as Cloud Run requires it: demo-project attached to the host, its Cloud Run
	// service agent a network user of the host project (subnets) and a VPC Access user
	// (connectors).
	agent := emulator.ServiceAgent("demo-project") // serviceAccount:service-NUMBER@serverless-robot-prod…
	for _, err := range []error{
		er.E.EnableSharedVPCHost(host),
		er.E.AttachServiceProject(host, "demo-project"),
		er.E.Grant("projects/"+host, "roles/compute.networkUser", agent),
		er.E.Grant("projects/"+host, "roles/vpcaccess.user", agent),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, va := range map[string]*runpb.VpcAccess{
		"on-shared-subnet": harness.VPCAccess(map[string]string{"network": "projects/" + host + "/global/networks/shared", "subnet": sharedRun}),
		"on-host-conn":     harness.VPCAccess(map[string]string{"connector": "projects/" + host + "/locations/" + tRegion + "/connectors/hosted"}),
	} {
		if err := harness.DeployWorkload(ctx, er.Addr, "service", name, tRegion, 3, va); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	r := er.Run(t, false, "", "inventory", "--format", "mermaid")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	const (
		hostConn = "c_host_project_asia_northeast1_hosted"
		hostSub  = "s_host_project_asia_northeast1_shared_run"
		onConn   = "w_demo_project_asia_northeast1_on_host_conn"
		onSub    = "w_demo_project_asia_northeast1_on_shared_subnet"
	)
	for _, want := range []string{
		`(?s)\n  subgraph p_demo_project\["project demo-project"\]\n.*?\n  end\n  subgraph p_host_project\["project host-project"\]\n.*?\n  end\n`,
		`\n    ` + hostConn + `\{\{"hosted<br/>connector · READY · e2-micro ×2–10"\}\}\n`,
		`\n    ` + hostSub + `\[\["shared-run<br/>subnet 10.2.0.0/24 · 1/15 blocks at max scale"\]\]\n`,
		`\n  ` + hostConn + ` -->\|"connector · private-ranges-only"\| ` + onConn + `\n`,
		`\n  ` + hostSub + ` -->\|"direct · private-ranges-only"\| ` + onSub + `\n`,
		`\n  ` + hostConn + ` -\.->\|"next: migrate 1"\| ` + hostSub + `\n`,
	} {
		if !regexp.MustCompile(want).MatchString(r.Stdout) {
			t.Errorf("mermaid lacks %s:\n%s", want, r.Stdout)
		}
	}
	// The subgraphs hold their own project's nodes.
	host0 := strings.Index(r.Stdout, "subgraph p_host_project")
	for _, id := range []string{hostConn, hostSub} {
		if i := strings.Index(r.Stdout, "    "+id); i < host0 {
			t.Errorf("%s is not in host-project's group", id)
		}
	}
	if i := strings.Index(r.Stdout, "    "+onConn); i > host0 {
		t.Errorf("%s is not in demo-project's group", onConn)
	}

	// The proposed command: the host's subnet by path; the connector has users in another
	// project, so it is not deleted.
	report := filepath.Join(t.TempDir(), "r.html")
	if r := er.Run(t, false, "", "inventory", "--report", report, "--format", "json"); r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	cmd := "runnet migrate on-host-conn --to direct --subnet " + sharedRun + " --project demo-project --region asia-northeast1"
	if !strings.Contains(string(html), cmd+" --dry-run") {
		t.Fatalf("the report does not propose %q", cmd)
	}
	// deployWorkload does not wait for the service's first revision: the dry run needs it.
	for deadline := time.Now().Add(20 * time.Second); er.Read(t, "on-host-conn").LatestReady == ""; {
		if time.Now().After(deadline) {
			t.Fatal("on-host-conn has no ready revision:", er.Run(t, false, "", "status", "on-host-conn", "--format", "json").Stdout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	args := append(strings.Fields(cmd)[1:], "--dry-run", "--format", "json")
	if r := er.Run(t, false, "", args...); r.Code != 0 || !strings.Contains(r.Stdout, `"outcome": "planned"`) {
		t.Errorf("the proposed dry run: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
