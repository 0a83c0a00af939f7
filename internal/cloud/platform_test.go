package cloud

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The executor's platform against the emulator, through the real clients.

func TestPlatformUpdateChangesOnlyWhatItSays(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	createService(t, ctx, c, "shop", richService())
	p := &Platform{C: c}
	ref := serviceRef("shop")
	s0, err := p.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	r0 := s0.LatestReady
	direct := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoDirectSubnet, Egress: egress.EgressAllTraffic}

	// A new template, with the latest revision pinned and a tag on the new one.
	s1, err := p.Update(ctx, s0, egress.Update{VPC: &direct, Traffic: []egress.TrafficTarget{
		{Revision: r0, Percent: 100, Tag: "current"}, {Latest: true, Tag: "runnet-direct"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s1.LatestCreated == r0 || s1.LatestReady != s1.LatestCreated || s1.VPC.Subnet != "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress" {
		t.Fatalf("after deploy: %+v", s1.Workload)
	}
	serving := map[string]int{}
	for _, ts := range s1.TrafficStatus {
		serving[ts.Revision] += ts.Percent
	}
	if serving[r0] != 100 {
		t.Errorf("traffic moved on deploy: %+v", s1.TrafficStatus)
	}

	// Traffic only: no new revision.
	s2, err := p.Update(ctx, s1, egress.Update{Traffic: []egress.TrafficTarget{{Latest: true, Percent: 100, Tag: "current"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s2.LatestCreated != s1.LatestCreated {
		t.Errorf("a traffic update made revision %s", s2.LatestCreated)
	}
	// As is: the original vpc_access, byte for byte, and the original traffic.
	s3, err := p.Update(ctx, s2, egress.Update{VPC: &s0.VPC, AsIs: true, Traffic: s0.Traffic})
	if err != nil {
		t.Fatal(err)
	}
	before, after := s0.Handle.(*Workload).Raw.(*runpb.Service), s3.Handle.(*Workload).Raw.(*runpb.Service)
	if !strings.Contains(before.GetTemplate().GetVpcAccess().String(), "run-connector") ||
		before.GetTemplate().GetVpcAccess().String() != after.GetTemplate().GetVpcAccess().String() {
		t.Errorf("vpc_access %v, want %v", after.GetTemplate().GetVpcAccess(), before.GetTemplate().GetVpcAccess())
	}
	assertOnlyVPCChanged(t, before, after)

	// A stale snapshot whose VPC access and traffic changed since is refused before anything
	// is applied (one that only other fields changed in is sent again from a fresh read:
	// TestUpdateConflictPolicy).
	_, err = p.Update(ctx, s1, egress.Update{VPC: &direct})
	if !errors.Is(err, egress.ErrNotApplied) || !errors.Is(err, egress.ErrConflict) || status.Code(statusErrOf(err)) != codes.Aborted {
		t.Errorf("stale update: %v", err)
	}
	// So is a worker pool on a connector.
	wp := &egress.Snapshot{Workload: egress.Workload{Ref: egress.WorkloadRef{Kind: egress.KindWorkerPool, Project: tProject, Region: tRegion, Name: "q"}},
		Handle: &Workload{Workload: egress.Workload{Ref: egress.WorkloadRef{Kind: egress.KindWorkerPool, Project: tProject, Region: tRegion, Name: "q"}}, Raw: &runpb.WorkerPool{}}}
	if _, err := p.Update(ctx, wp, egress.Update{VPC: &egress.VPC{Connector: "run-connector"}}); !errors.Is(err, egress.ErrNotApplied) {
		t.Errorf("worker pool connector: %v", err)
	}
	// A revision that cannot start is a rollout failure, which was applied.
	s4, _ := p.GetWorkload(ctx, ref)
	_, err = p.Update(ctx, s4, egress.Update{VPC: &egress.VPC{Connector: "missing"}})
	var re *RolloutError
	if !errors.As(err, &re) || errors.Is(err, egress.ErrNotApplied) || !strings.Contains(re.Reason, "does not exist") {
		t.Errorf("missing connector: %v", err)
	}
	// validate_only changes nothing.
	s5, _ := p.GetWorkload(ctx, ref)
	e.ResetCalls()
	if _, err := p.Update(ctx, s5, egress.Update{VPC: &direct, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	if s6, _ := p.GetWorkload(ctx, ref); s6.Etag != s5.Etag || e.Calls()["google.cloud.run.v2.Services/UpdateService"] != 1 {
		t.Errorf("validate_only changed the service (calls %v)", e.Calls())
	}
}

func TestPlatformRevisionAndExecution(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	var msgs []string
	p.Progress = func(ref egress.WorkloadRef, msg string) { msgs = append(msgs, ref.String()+": "+msg) }
	s, err := p.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if err != nil {
		t.Fatal(err)
	}
	cond, err := p.RevisionCondition(ctx, s.Ref, s.LatestReady)
	if err != nil || cond.State != egress.ConditionSucceeded {
		t.Errorf("revision condition %+v, %v", cond, err)
	}
	if _, err := p.RevisionCondition(ctx, s.Ref, "run-service-99999-zzz"); !IsNotFound(err) {
		t.Errorf("missing revision: %v", err)
	}
	job := egress.WorkloadRef{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: emulator.DemoJob}
	ex, err := p.RunExecution(ctx, job)
	if err != nil || !strings.HasPrefix(ex.Name, "nightly-export-") {
		t.Fatalf("execution %+v, %v", ex, err)
	}
	if len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1], "Running execution "+ex.Name) {
		t.Errorf("progress %q", msgs)
	}
	e.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Jobs/RunJob", Code: codes.FailedPrecondition, Count: 1})
	if _, err := p.RunExecution(ctx, job); status.Code(statusErrOf(err)) != codes.FailedPrecondition {
		t.Errorf("faulted run: %v", err)
	}
}

func TestPlatformConnectorUsersAndDelete(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	conn := egress.ConnectorRef{Project: tProject, Region: tRegion, Name: emulator.DemoConnector}
	names := func() []string {
		t.Helper()
		us, err := p.ConnectorUsers(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.String())
		}
		slices.Sort(out)
		return out
	}
	if got := names(); !slices.Equal(got, []string{"job/nightly-export", "run-service"}) {
		t.Errorf("users %v", got)
	}
	// The service's template leaves the connector while its old revision keeps serving.
	s, _ := p.GetWorkload(ctx, serviceRef(emulator.DemoService))
	r0 := s.LatestReady
	direct := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoDirectSubnet}
	if _, err := p.Update(ctx, s, egress.Update{VPC: &direct, Traffic: []egress.TrafficTarget{{Revision: r0, Percent: 100}}}); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"job/nightly-export", "run-service (revision " + r0 + ", 100% of traffic)"}) {
		t.Errorf("users after the template moved: %v", got)
	}
	s, _ = p.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if _, err := p.Update(ctx, s, egress.Update{Traffic: []egress.TrafficTarget{{Latest: true, Percent: 100}}}); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"job/nightly-export"}) {
		t.Errorf("users after the traffic moved: %v", got)
	}
	if err := p.DeleteConnector(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteConnector(ctx, conn); err != nil {
		t.Errorf("deleting it again: %v", err)
	}
}

func TestGatherFacts(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	// Another service already uses the Direct VPC subnet; a firewall rule names the connector.
	createService(t, ctx, c, "other", &runpb.Service{Template: &runpb.RevisionTemplate{
		Containers: []*runpb.Container{{Image: emulator.DemoImage}},
		Scaling:    &runpb.RevisionScaling{MaxInstanceCount: 20},
		VpcAccess:  &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: emulator.DemoDirectSubnet}}},
	}})
	cs, _ := c.Compute()
	if _, err := cs.Firewalls.Insert(tProject, &compute.Firewall{Name: "allow-redis", Network: egress.ComputeURLPrefix + "projects/demo-project/global/networks/run-vpc",
		SourceTags: []string{"vpc-connector"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Do(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) { // the insert's operation
		if _, err := cs.Firewalls.Get(tProject, "allow-redis").Do(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	w, err := c.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if err != nil {
		t.Fatal(err)
	}
	target := egress.VPC{Subnet: "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress", Egress: egress.EgressAllTraffic}
	g, err := c.GatherFacts(ctx, FactsRequest{Workload: w, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	f := g.Facts
	if f.Subnet == nil || !f.Subnet.Exists || f.Subnet.CIDR != "10.8.0.0/24" || f.Subnet.ReservedIPs != 16 || f.Subnet.SharedReservedIPs != 16 {
		t.Errorf("subnet %+v", f.Subnet)
	}
	if f.Network == nil || !f.Network.Exists || f.Network.Name != "projects/demo-project/global/networks/run-vpc" {
		t.Errorf("network (from the subnet) %+v", f.Network)
	}
	if cc := f.CurrentConnector; cc == nil || cc.State != "READY" || cc.SubnetCIDR != "10.15.0.0/28" || cc.Network != "projects/demo-project/global/networks/run-vpc" {
		t.Errorf("current connector %+v", f.CurrentConnector)
	}
	if len(f.Sharing) != 1 || f.Sharing[0].Ref.Name != "other" || f.Sharing[0].MaxInstances != 20 {
		t.Errorf("sharing %+v", f.Sharing)
	}
	if f.NAT == nil || f.Firewall == nil || len(f.Firewall.Rules) != 1 {
		t.Errorf("nat %+v, firewall %+v", f.NAT, f.Firewall)
	}
	if f.Permissions == nil || len(f.Permissions.Missing) != 0 || !slices.Contains(f.Permissions.Checked, "run.services.update") {
		t.Errorf("permissions %+v", f.Permissions)
	}
	if !slices.Equal(g.ConnectorUsers, []egress.WorkloadRef{{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: emulator.DemoJob}}) {
		t.Errorf("connector users %v", g.ConnectorUsers)
	}
	checks := egress.RunPreflight(f)
	byName := map[string]egress.Check{}
	for _, ch := range checks {
		byName[ch.Name] = ch
	}
	if byName[egress.CheckNAT].Status != egress.StatusFail || byName[egress.CheckFirewall].Status != egress.StatusFail || byName[egress.CheckFreeIPs].Status != egress.StatusPass {
		t.Errorf("checks: nat %+v, firewall %+v, free %+v", byName[egress.CheckNAT], byName[egress.CheckFirewall], byName[egress.CheckFreeIPs])
	}

	// A subnet to create, another project's target: facts say so without reading it.
	g, err = c.GatherFacts(ctx, FactsRequest{Workload: w, Target: egress.VPC{Network: "projects/demo-project/global/networks/run-vpc", Subnet: "projects/demo-project/regions/asia-northeast1/subnetworks/new"},
		CreateSubnet: &egress.SubnetSpec{Name: "projects/demo-project/regions/asia-northeast1/subnetworks/new", Network: "projects/demo-project/global/networks/run-vpc", CIDR: "10.40.0.0/25"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Subnet; s == nil || !s.WillCreate || s.CIDR != "10.40.0.0/25" {
		t.Errorf("subnet to create %+v", s)
	}
	// A missing target connector is a fact, not an error.
	g, err = c.GatherFacts(ctx, FactsRequest{Workload: w, Target: egress.VPC{Connector: "projects/demo-project/locations/asia-northeast1/connectors/nope"}})
	if err != nil || g.TargetConnector == nil || g.TargetConnector.Exists {
		t.Errorf("missing connector: %+v, %v", g.TargetConnector, err)
	}
}
