package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

const (
	hostSubnet  = "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	hostNetwork = "projects/" + emulator.SharedVPCHost + "/global/networks/" + emulator.SharedVPCNetwork
)

// grantLine is the gcloud command that gives project's Cloud Run service agent
// roles/compute.networkUser on the host's Direct VPC subnet.
func grantLine(project string) string {
	return "gcloud compute networks subnets add-iam-policy-binding " + emulator.SharedVPCDirectSubnet + " --region " + emulator.SharedVPCRegion +
		" --project " + emulator.SharedVPCHost + " --member " + emulator.ServiceAgent(project) + " --role roles/compute.networkUser"
}

func workloadMode(t *testing.T, er *emuRun, project, workload string) string {
	t.Helper()
	r := er.Run(t, false, "", "--project", project, "--region", emulator.SharedVPCRegion, "status", workload, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("status %s/%s: exit %d: %s", project, workload, r.Code, r.Stderr)
	}
	var st []struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || len(st) != 1 {
		var one struct {
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &one); err != nil {
			t.Fatalf("status JSON: %v\n%s", err, r.Stdout)
		}
		return one.Mode
	}
	return st[0].Mode
}

// A service project's workload moving to the host's subnet: the service agent lacks
// compute.subnetworks.use there, so preflight fails (exit 3) with the gcloud line that grants
// it; --fix by a caller who may not set the subnet's IAM policy exits 4 and changes nothing;
// --fix by one who may grants it, and the revision starts.
func TestMigrateServiceAgentPreflightAndFix(t *testing.T) {
	er := newSharedVPCEmu(t)
	migrate := func(extra ...string) result {
		args := append([]string{"--project", "team-a", "--region", emulator.SharedVPCRegion, "migrate", "api", "--to", "direct", "--subnet", hostSubnet, "--yes"}, extra...)
		return er.Run(t, false, "", args...)
	}
	agent := emulator.ServiceAgent("team-a")

	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	r := migrate()
	if r.Code != 3 {
		t.Fatalf("without the grant: exit %d, want 3\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"service-agent", "lacks compute.subnetworks.use on " + hostSubnet, grantLine("team-a")} {
		if !strings.Contains(r.Stderr+r.Stdout, want) {
			t.Errorf("output lacks %q\nstdout %s\nstderr %s", want, r.Stdout, r.Stderr)
		}
	}
	if m := workloadMode(t, er, "team-a", "api"); m != "connector" {
		t.Errorf("after the failed preflight api is %s", m)
	}

	// A caller who may read the policies but not set them: --fix is refused (4).
	const editor = "user:ops@example.com"
	if err := er.E.Grant("organizations/"+emulator.SharedVPCOrg, "roles/editor", editor); err != nil {
		t.Fatal(err)
	}
	er.E.SetPrincipal(editor)
	r = migrate("--fix")
	if r.Code != 4 {
		t.Fatalf("--fix denied: exit %d, want 4\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, grantLine("team-a")) {
		t.Errorf("stderr lacks the grant to ask for: %s", r.Stderr)
	}
	if er.E.IAMPolicy(hostSubnet).Has("roles/compute.networkUser", agent) {
		t.Error("the denied --fix granted networkUser")
	}
	if m := workloadMode(t, er, "team-a", "api"); m != "connector" {
		t.Errorf("after the denied --fix api is %s", m)
	}

	// The Shared VPC admin: --fix grants, then the migration succeeds.
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	r = migrate("--fix")
	if r.Code != 0 {
		t.Fatalf("--fix: exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if !er.E.IAMPolicy(hostSubnet).Has("roles/compute.networkUser", agent) {
		t.Errorf("subnet policy = %+v", er.E.IAMPolicy(hostSubnet))
	}
	if m := workloadMode(t, er, "team-a", "api"); m != "direct" {
		t.Errorf("after --fix api is %s", m)
	}
	// Again: nothing to do, nothing granted twice.
	before := er.E.IAMPolicy(hostSubnet).Etag
	if r := migrate("--fix"); r.Code != 0 || er.E.IAMPolicy(hostSubnet).Etag != before {
		t.Errorf("second run: exit %d, etag %s -> %s: %s", r.Code, before, er.E.IAMPolicy(hostSubnet).Etag, r.Stderr)
	}
}

// attach checks the service agent too when the subnet is another project's: it changes
// nothing and prints the grant.
func TestAttachHostSubnetChecksServiceAgent(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	r := er.Run(t, false, "", "--project", "team-b", "--region", emulator.SharedVPCRegion, "attach", "orders", "--network", hostNetwork, "--subnet", hostSubnet)
	if r.Code != 3 || !strings.Contains(r.Stderr, "service-agent") || !strings.Contains(r.Stderr, grantLine("team-b")) {
		t.Fatalf("exit %d, stderr %q; want 3 and %q", r.Code, r.Stderr, grantLine("team-b"))
	}
	if m := workloadMode(t, er, "team-b", "orders"); m != "connector" {
		t.Errorf("orders is %s after the refused attach", m)
	}
}

// A fleet whose workloads all lack their service agent's grant says each grant once, at the
// end (three projects, three agents), not once per workload.
func TestMigrateFleetServiceAgentGrantsOnce(t *testing.T) {
	er := newSharedVPCEmu(t)
	er.E.SetPrincipal(emulator.SharedVPCAdmin)
	conn := "projects/" + emulator.SharedVPCHost + "/locations/" + emulator.SharedVPCRegion + "/connectors/shared-conn"
	r := er.Run(t, false, "", "--region", emulator.SharedVPCRegion, "migrate", "--all", "--from-connector", conn, "--to", "direct", "--subnet", hostSubnet, "--yes")
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, p := range emulator.SharedVPCServiceProjects {
		if n := strings.Count(r.Stderr, grantLine(p)); n != 1 {
			t.Errorf("the grant for %s's agent is said %d times, want once:\n%s", p, n, r.Stderr)
		}
	}
	if n := strings.Count(r.Stderr, "migrate --fix makes these grants"); n != 1 {
		t.Errorf("--fix is suggested %d times, want once:\n%s", n, r.Stderr)
	}
	if n := strings.Count(r.Stderr, "preflight failed for "); n != 9 {
		t.Errorf("%d workloads said blocked, want 9:\n%s", n, r.Stderr)
	}
}
