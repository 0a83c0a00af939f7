package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

const demoConnectorFull = "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion + "/connectors/" + emulator.DemoConnector

// inventoryConnector runs `inventory --format json` (with extra args) and returns the demo
// connector and the findings.
func inventoryConnector(t *testing.T, w *harness.World, args ...string) (InventoryConnector, []Finding) {
	t.Helper()
	r := w.Run(t, false, "", append([]string{"inventory", "--format", "json"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("inventory: exit %d: %s", r.Code, r.Stderr)
	}
	var inv Inventory
	if err := json.Unmarshal([]byte(r.Stdout), &inv); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	for _, c := range inv.Connectors {
		if c.FullName == demoConnectorFull {
			return c, inv.Findings
		}
	}
	t.Fatalf("no %s in %s", demoConnectorFull, r.Stdout)
	return InventoryConnector{}, nil
}

// The demo connector's cost and use: its two f1-micro instances from Cloud Monitoring, priced
// from the Billing Catalog (the emulator's asia-northeast1 f1-micro SKU), the whole cost saved
// by moving to Direct VPC egress, not oversized at the platform's floor of two instances.
// Scaled out to three with no more traffic, it is oversized; --no-cost reads no price.
func TestInventoryConnectorCost(t *testing.T) {
	w := newEmu(t)
	w.E.ResetCalls()
	c, findings := inventoryConnector(t, w)
	if c.Instances == nil || c.Instances.Current != 2 || !strings.Contains(c.Instances.Source, "Cloud Monitoring: vpcaccess.googleapis.com/connector/instances") {
		t.Errorf("instances %+v", c.Instances)
	}
	if c.Throughput == nil || c.Throughput.CapacityMbps != 100 || !strings.Contains(c.Throughput.CapacitySource, "f1-micro 50") {
		t.Errorf("throughput %+v", c.Throughput)
	}
	mc := c.MonthlyCost
	if mc == nil || mc.Fallback || mc.Currency != "USD" || mc.Instances != 2 || mc.Amount <= 0 ||
		!strings.Contains(mc.Source, "Cloud Billing Catalog, services/6F81-5844-456A SKU") || !strings.Contains(mc.Source, "f1-micro in asia-northeast1") {
		t.Fatalf("monthlyCost %+v", mc)
	}
	// 2 instances × the hourly price × 730 hours, to the cent.
	if want := float64(int(2*mc.PerInstanceHour*730*100+0.5)) / 100; mc.Amount != want {
		t.Errorf("monthly cost %v, want %v", mc.Amount, want)
	}
	if s := c.SavingsIfMigrated; s == nil || s.Amount != mc.Amount || !strings.Contains(s.Source, "Direct VPC egress has no instance charge") {
		t.Errorf("savingsIfMigrated %+v", s)
	}
	if c.Oversized || !strings.Contains(c.OversizedReason, "runs 2 f1-micro instances") || len(findingKinds(Inventory{Findings: findings})[FindingConnectorOversized]) != 0 {
		t.Errorf("oversized %v: %s", c.Oversized, c.OversizedReason)
	}
	calls := w.E.Calls()
	if calls["cloudbilling.services.skus.list"] != 1 || calls["google.monitoring.v3.MetricService/ListTimeSeries"] != 3 {
		t.Errorf("calls %v: want one SKU list and three time series reads", calls)
	}

	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	w.E.ResetCalls()
	c, findings = inventoryConnector(t, w, "--no-cost")
	if c.Instances == nil || c.Instances.Current != 3 || !c.Oversized || !strings.Contains(c.OversizedReason, "runs 3 f1-micro instances (150 Mbps) while its peak of 0 Mbps over the last 7 days needs 2") {
		t.Errorf("scaled out: instances %+v, oversized %v: %s", c.Instances, c.Oversized, c.OversizedReason)
	}
	if c.MonthlyCost != nil || c.SavingsIfMigrated != nil || w.E.Calls()["cloudbilling.services.skus.list"] != 0 {
		t.Errorf("--no-cost: cost %+v, savings %+v, calls %v", c.MonthlyCost, c.SavingsIfMigrated, w.E.Calls())
	}
	if len(findingKinds(Inventory{Findings: findings})[FindingConnectorOversized]) != 1 {
		t.Errorf("findings %+v: want connector-oversized", findings)
	}
	r := w.Run(t, false, "", "inventory")
	if !strings.Contains(r.Stdout, "INSTANCES   PEAK     MONTHLY COST") || !strings.Contains(r.Stdout, "connector-oversized") {
		t.Errorf("table:\n%s", r.Stdout)
	}
}

// When the Billing Catalog cannot be read the cost comes from runnet's fallback table, marked
// as such in JSON, with a * in the table and a finding that says why; the command succeeds.
func TestConnectorCostFallback(t *testing.T) {
	w := newEmu(t)
	w.E.InjectFault(emulator.Fault{Method: "cloudbilling.services.skus.list", Code: 7, Count: 100})
	r := w.Run(t, false, "", "connector", "describe", emulator.DemoConnector, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var d ConnectorDetail
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatal(err)
	}
	if mc := d.MonthlyCost; mc == nil || !mc.Fallback || !strings.Contains(mc.Source, "fallback table") || !strings.Contains(mc.Source, "PERMISSION_DENIED") {
		t.Errorf("monthlyCost %+v", mc)
	}
	r = w.Run(t, false, "", "inventory")
	if r.Code != 0 || !regexpMatch(`run-connector .* USD\* `, r.Stdout) || !strings.Contains(r.Stdout, "cost-fallback-prices") {
		t.Errorf("exit %d, table:\n%s", r.Code, r.Stdout)
	}
}

// Throughput comes from the connector's sent and received bytes: a world saved after an hour
// of 100 requests a second through the connector to a database reads back with that peak,
// and a connector of 3 instances for it is oversized.
func TestConnectorThroughputFromMonitoring(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	{
		w0 := harness.NewWorld(t, cliMain, harness.Fast)
		e := w0.E
		w0.InsertFirewall(t, &compute.Firewall{
			Name: "db-from-connector", Network: "projects/" + emulator.DemoProject + "/global/networks/" + emulator.DemoNetwork, SourceRanges: []string{"10.15.0.0/28"},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"5432"}}},
		})
		if err := e.SetDestination(emulator.Destination{Name: "db", IP: "10.8.0.50", Port: 5432, Project: emulator.DemoProject, Network: emulator.DemoNetwork}); err != nil {
			t.Fatal(err)
		}
		svc := "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion + "/services/run-service"
		if err := e.SetDependencies(svc, []emulator.Dependency{{Destination: "db", Share: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := e.SetLoad(svc, emulator.Load{RPS: 100}); err != nil {
			t.Fatal(err)
		}
		if err := e.ScaleConnector(demoConnectorFull, 3); err != nil {
			t.Fatal(err)
		}
		b, err := e.State()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(state, backdateTimeline(t, b, time.Hour), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opts := harness.Fast
	opts.StateFile = state
	w := harness.NewWorld(t, cliMain, opts)
	c, _ := inventoryConnector(t, w, "--no-cost")
	// 100 requests a second × (1 KiB sent + 4 KiB received) = 4.096 Mbps.
	if c.Throughput == nil || c.Throughput.PeakMbps != 4.1 || c.Throughput.CurrentMbps != 4.1 || c.Instances == nil || c.Instances.Current != 3 {
		t.Fatalf("throughput %+v, instances %+v, notes %v", c.Throughput, c.Instances, c.UseNotes)
	}
	if !c.Oversized || !strings.Contains(c.OversizedReason, "its peak of 4.1 Mbps over the last 7 days needs 2") {
		t.Errorf("oversized %v: %s", c.Oversized, c.OversizedReason)
	}
	r := w.Run(t, false, "", "connector", "describe", emulator.DemoConnector, "--no-cost")
	if r.Code != exitcode.OK || !regexpMatch(`throughput\.peakMbps +4\.1`, r.Stdout) {
		t.Errorf("describe: exit %d:\n%s", r.Code, r.Stdout)
	}
}

// backdateTimeline moves every segment of a saved world's metrics timeline back by d, as if
// it had been recorded d earlier.
func backdateTimeline(t *testing.T, state []byte, d time.Duration) []byte {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal(state, &s); err != nil {
		t.Fatal(err)
	}
	net, _ := s["net"].(map[string]any)
	tl, _ := net["timeline"].([]any)
	if len(tl) == 0 {
		t.Fatalf("no timeline in the saved state")
	}
	for _, seg := range tl {
		m := seg.(map[string]any)
		at, err := time.Parse(time.RFC3339Nano, m["start"].(string))
		if err != nil {
			t.Fatal(err)
		}
		m["start"] = at.Add(-d).Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// Recycling a connector that scaled out to 3 instances replaces it with one of 2: the report
// says what each costs a month, from the Billing Catalog, and what the recycle saves.
func TestRecycleShowsCost(t *testing.T) {
	w := newEmu(t)
	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	r := w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var rep RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Cost
	if c == nil || c.Before.Instances != 3 || c.After.Instances != 2 || c.Before.Fallback ||
		c.MonthlySaving <= 0 || c.MonthlySaving != round2(c.Before.Amount-c.After.Amount) || c.Currency != "USD" {
		t.Fatalf("cost %+v", c)
	}
	if err := w.E.Seed(emulator.SeedDemo); err != nil {
		t.Fatal(err)
	}
	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	r = w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--yes")
	if !regexpMatch(`Cost: [\d.]+ USD a month before \(3 instances\), [\d.]+ USD after \(2\): saves [\d.]+ USD a month\.`, r.Stdout) {
		t.Errorf("exit %d:\n%s", r.Code, r.Stdout)
	}
}

// A dry run says what the recycle would change on the bill: the old connector at its 3
// instances, the new one at its minimum of 2, the same numbers the recycle then reports; with
// --no-cost it says why there is no cost.
func TestRecycleDryRunShowsCost(t *testing.T) {
	w := newEmu(t)
	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	r := w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--dry-run", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var dry RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &dry); err != nil {
		t.Fatal(err)
	}
	c := dry.Cost
	if c == nil || c.Before.Instances != 3 || c.After.Instances != 2 || c.OldRuns ||
		c.MonthlySaving <= 0 || c.MonthlySaving != round2(c.Before.Amount-c.After.Amount) || c.Currency != "USD" {
		t.Fatalf("dry run cost %+v", c)
	}
	r = w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--dry-run")
	if !regexpMatch(`Cost: [\d.]+ USD a month now \(3 instances\), [\d.]+ USD after \(2\): would save [\d.]+ USD a month\.`, r.Stdout) {
		t.Errorf("exit %d:\n%s", r.Code, r.Stdout)
	}
	r = w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--dry-run", "--no-cost", "--format", "json")
	var none RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &none); err != nil {
		t.Fatal(err)
	}
	if none.Cost != nil || !slices.Contains(none.Notes, "cost not shown: --no-cost reads no prices") {
		t.Errorf("--no-cost: cost %+v, notes %q", none.Cost, none.Notes)
	}
	r = w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--yes", "--format", "json")
	var done RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &done); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if done.Cost == nil || done.Cost.MonthlySaving != c.MonthlySaving || done.Cost.After.Amount != c.After.Amount {
		t.Errorf("recycle cost %+v, the dry run said %+v", done.Cost, c)
	}
}

// A recycle that keeps the old connector (a workload did not move) saves nothing yet: both
// connectors are billed, and the report says what the new one adds until the old one goes.
func TestRecycleKeptOldCostsMore(t *testing.T) {
	w := newEmu(t)
	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	w.E.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Jobs/UpdateJob", Code: 13, Count: 100})
	r := w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--yes", "--format", "json")
	if r.Code == 0 {
		t.Fatalf("exit 0 although the job did not move: %s", r.Stdout)
	}
	var rep RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	c := rep.Cost
	if rep.Old.Status != recycleKept || c == nil || !c.OldRuns || c.MonthlySaving != -c.After.Amount || c.MonthlySaving >= 0 {
		t.Fatalf("old %s, cost %+v", rep.Old.Status, c)
	}
	if err := w.E.Seed(emulator.SeedDemo); err != nil {
		t.Fatal(err)
	}
	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	r = w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--yes")
	if strings.Contains(r.Stdout, "saves") ||
		!regexpMatch(`Cost: [\d.]+ USD a month for run-connector \(3 instances\), which still runs, plus [\d.]+ USD for the new connector \(2\): [\d.]+ USD a month more until run-connector is deleted\.`, r.Stdout) {
		t.Errorf("exit %d:\n%s", r.Code, r.Stdout)
	}
}

// The connector-oversized finding names only remedies that make the connector smaller, with
// the values they need: after 'connector update --machine-type e2-standard-4 --min-instances
// 3' the machine type can go back to e2-micro in place, and a recycle runs fewer instances
// only with a lower minimum than the connector's 3. Without a price (--no-cost) it says no
// saving rather than an unknown one.
func TestOversizedFindingRemedies(t *testing.T) {
	w := newEmu(t)
	r := w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--machine-type", "e2-standard-4", "--min-instances", "3", "--max-instances", "5", "--quiet")
	if r.Code != 0 {
		t.Fatalf("update: exit %d: %s", r.Code, r.Stderr)
	}
	if err := w.E.ScaleConnector(demoConnectorFull, 3); err != nil {
		t.Fatal(err)
	}
	message := func(args ...string) string {
		t.Helper()
		c, findings := inventoryConnector(t, w, args...)
		ms := findingKinds(Inventory{Findings: findings})[FindingConnectorOversized]
		if !c.Oversized || len(ms) != 1 {
			t.Fatalf("oversized %v (%s), findings %+v", c.Oversized, c.OversizedReason, findings)
		}
		for _, f := range findings {
			if f.Kind == FindingConnectorOversized {
				return f.Message
			}
		}
		return ""
	}
	m := message()
	for _, want := range []string{
		"'runnet connector update run-connector --machine-type e2-micro' in place",
		"'runnet connector recycle run-connector --min-instances 2' for fewer instances",
		"would save ",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("finding %q lacks %q", m, want)
		}
	}
	if m = message("--no-cost"); strings.Contains(m, "unknown") || strings.Contains(m, "would save") {
		t.Errorf("--no-cost: finding %q", m)
	}
}

// A connector that is not READY has no figures read, and useNotes say why instead of leaving
// them null without a word.
func TestConnectorUseNotReadySaysWhy(t *testing.T) {
	opts := harness.Fast
	opts.LRODuration = time.Minute
	w := harness.NewWorld(t, cliMain, opts)
	if r := w.Run(t, false, "", "connector", "update", emulator.DemoConnector, "--max-instances", "4", "--async", "--quiet"); r.Code != 0 {
		t.Fatalf("update: exit %d: %s", r.Code, r.Stderr)
	}
	r := w.Run(t, false, "", "connector", "describe", emulator.DemoConnector, "--format", "json")
	var d ConnectorDetail
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("%v: exit %d: %s%s", err, r.Code, r.Stdout, r.Stderr)
	}
	if d.State != "UPDATING" || d.MonthlyCost != nil || len(d.UseNotes) != 1 ||
		d.UseNotes[0] != "instances, throughput and cost not read: the connector is UPDATING; they are read once it is READY" {
		t.Errorf("state %s, cost %+v, notes %q", d.State, d.MonthlyCost, d.UseNotes)
	}
}
