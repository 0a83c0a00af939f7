package cloud

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

func TestCloudRunServiceAgent(t *testing.T) {
	if got, want := CloudRunServiceAgent("123"), "serviceAccount:service-123@serverless-robot-prod.iam.gserviceaccount.com"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckServiceAgentSharedVPCSubnet(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	e.SetPrincipal(emulator.SharedVPCAdmin)
	ctx := testCtx(t)
	subnet := "projects/net-host/regions/asia-northeast1/subnetworks/run-direct"
	vpc := egress.VPC{Subnet: subnet}

	a, err := c.CheckServiceAgent(ctx, "team-a", vpc)
	if err != nil {
		t.Fatal(err)
	}
	agent := emulator.ServiceAgent("team-a")
	if a.Agent != agent || a.ProjectNumber != fmt.Sprint(emulator.ProjectNumber("team-a")) {
		t.Errorf("agent = %q (number %s), want %q", a.Agent, a.ProjectNumber, agent)
	}
	if a.OK() || a.SharedVPCHost != "net-host" || a.NotAttached {
		t.Fatalf("check = %+v", a)
	}
	// The seed grants networkViewer on the host (subnetworks.get, networks.get) but
	// networkUser nowhere: only compute.subnetworks.use is missing, on the subnet.
	if want := []string{"compute.subnetworks.use on " + subnet}; !slices.Equal(a.Missing, want) {
		t.Errorf("missing = %v, want %v", a.Missing, want)
	}
	wantCmd := "gcloud compute networks subnets add-iam-policy-binding run-direct --region asia-northeast1 --project net-host --member " + agent + " --role roles/compute.networkUser"
	if got := a.Commands(); !slices.Equal(got, []string{wantCmd}) {
		t.Errorf("commands = %q, want %q", got, wantCmd)
	}
	// The emulator agrees: Cloud Run would refuse the subnet.
	if e.HasPermission(agent, subnet, "compute.subnetworks.use") {
		t.Fatal("the emulator already grants compute.subnetworks.use")
	}

	if err := c.GrantServiceAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if !e.HasPermission(agent, subnet, "compute.subnetworks.use") {
		t.Error("after the grant the agent still lacks compute.subnetworks.use")
	}
	if !e.IAMPolicy(subnet).Has("roles/compute.networkUser", agent) {
		t.Errorf("subnet policy = %+v", e.IAMPolicy(subnet))
	}
	a, err = c.CheckServiceAgent(ctx, "team-a", vpc)
	if err != nil || !a.OK() || len(a.Fixes) != 0 {
		t.Fatalf("after the grant: %+v, %v", a, err)
	}
	// Granting again changes nothing.
	before := e.IAMPolicy(subnet)
	if err := c.GrantServiceAgent(ctx, &AgentCheck{Fixes: []AgentFix{{Resource: subnet, Role: RoleNetworkUser, Member: agent}}}); err != nil {
		t.Fatal(err)
	}
	if after := e.IAMPolicy(subnet); after.Etag != before.Etag {
		t.Errorf("a second grant rewrote the policy: etag %q -> %q", before.Etag, after.Etag)
	}
}

func TestCheckServiceAgentProjectGrantAndConnector(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	e.SetPrincipal(emulator.SharedVPCAdmin)
	ctx := testCtx(t)
	// The connector in the host: vpcaccess.user is granted by the seed.
	a, err := c.CheckServiceAgent(ctx, "team-b", egress.VPC{Connector: emulator.SharedVPCConnectorName()})
	if err != nil || !a.OK() {
		t.Fatalf("connector: %+v, %v", a, err)
	}
	// Without it, the fix is the project-level role.
	agent := emulator.ServiceAgent("team-b")
	if err := e.Revoke("projects/net-host", "roles/vpcaccess.user", agent); err != nil {
		t.Fatal(err)
	}
	a, err = c.CheckServiceAgent(ctx, "team-b", egress.VPC{Connector: emulator.SharedVPCConnectorName()})
	if err != nil {
		t.Fatal(err)
	}
	want := "gcloud projects add-iam-policy-binding net-host --member " + agent + " --role roles/vpcaccess.user"
	if a.OK() || !slices.Equal(a.Commands(), []string{want}) || len(a.Missing) != 2 || !strings.HasPrefix(a.Missing[0], "vpcaccess.connectors.get on projects/net-host") {
		t.Fatalf("check = %+v", a)
	}
	if err := c.GrantServiceAgent(ctx, a); err != nil {
		t.Fatal(err)
	}
	if !e.HasPermission(agent, "projects/net-host", "vpcaccess.connectors.get") {
		t.Error("grant on the host project not made")
	}
	// networkUser on a folder above the host counts for the subnet.
	agentC := emulator.ServiceAgent("team-c")
	if err := e.Grant("folders/"+emulator.SharedVPCFolderPlatform, "roles/compute.networkUser", agentC); err != nil {
		t.Fatal(err)
	}
	a, err = c.CheckServiceAgent(ctx, "team-c", egress.VPC{Subnet: "projects/net-host/regions/asia-northeast1/subnetworks/run-direct"})
	if err != nil || !a.OK() {
		t.Fatalf("folder grant: %+v, %v", a, err)
	}
}

func TestCheckServiceAgentNotAttached(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	e.SetPrincipal(emulator.SharedVPCAdmin)
	ctx := testCtx(t)
	if err := e.DeclareProject("lone-team", "Lone team", "folders/"+emulator.SharedVPCFolderApps, nil); err != nil {
		t.Fatal(err)
	}
	a, err := c.CheckServiceAgent(ctx, "lone-team", egress.VPC{Subnet: "projects/net-host/regions/asia-northeast1/subnetworks/run-direct"})
	if err != nil {
		t.Fatal(err)
	}
	if a.OK() || !a.NotAttached || a.Commands()[0] != "gcloud compute shared-vpc associated-projects add lone-team --host-project net-host" {
		t.Errorf("check = %+v", a)
	}
	// A subnet of the workload's own project needs nothing: the agent's default role covers it.
	a, err = c.CheckServiceAgent(ctx, "net-host", egress.VPC{Subnet: "projects/net-host/regions/asia-northeast1/subnetworks/run-direct"})
	if err != nil || !a.OK() {
		t.Errorf("own project: %+v, %v", a, err)
	}
}

// The dual-stack subnet: the check reads its stack type for the preflight, which says what
// else the agent needs there; the preflight facts come from the same check.
func TestServiceAgentFactsDualStack(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	e.SetPrincipal(emulator.SharedVPCAdmin)
	ctx := testCtx(t)
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: "team-b", Region: emulator.SharedVPCRegion, Name: "orders"}
	subnet := "projects/net-host/regions/asia-northeast1/subnetworks/" + emulator.SharedVPCDualSubnet
	f, err := c.ServiceAgentFacts(ctx, ref, egress.VPC{Subnet: subnet})
	if err != nil {
		t.Fatal(err)
	}
	if f == nil || f.StackType != "IPV4_IPV6" || f.Ipv6AccessType != "INTERNAL" || f.OK() || len(f.Grants) != 1 || f.Grants[0].Role != RoleNetworkUser {
		t.Fatalf("facts = %+v", f)
	}
	// Once per project and target: a second ask reads nothing.
	e.ResetCalls()
	if _, err := c.ServiceAgentFacts(ctx, ref, egress.VPC{Subnet: subnet, Egress: egress.EgressAllTraffic}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Calls()); n != 0 {
		t.Errorf("a second check made calls: %v", e.Calls())
	}
	// A grant makes it stale: the next check reads again and passes.
	if err := c.GrantRoles(ctx, f.Grants); err != nil {
		t.Fatal(err)
	}
	if f, err := c.ServiceAgentFacts(ctx, ref, egress.VPC{Subnet: subnet}); err != nil || !f.OK() {
		t.Fatalf("after the grant: %+v, %v", f, err)
	}
	// The workload's own project: no check at all.
	if f, err := c.ServiceAgentFacts(ctx, ref, egress.VPC{Subnet: "projects/team-b/regions/asia-northeast1/subnetworks/x"}); f != nil || err != nil {
		t.Errorf("own project: %+v, %v", f, err)
	}
}
