package runapi

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func TestCreateServiceBecomesReady(t *testing.T) {
	e := newEnv(t)
	conn := e.addConnector(testProject, testRegion, "c1", "default", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	op, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "web", Service: basicService(connectorAccess(conn))})
	if err != nil {
		t.Fatal(err)
	}
	// The operation carries the service as metadata, reconciling, Ready pending.
	meta, err := op.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if !meta.GetReconciling() || meta.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_PENDING || meta.GetGeneration() != 1 {
		t.Fatalf("creation metadata: reconciling=%v terminal=%v generation=%d", meta.GetReconciling(), meta.GetTerminalCondition(), meta.GetGeneration())
	}
	pending := e.getService("web")
	if !pending.GetReconciling() || pending.GetObservedGeneration() != 0 || pending.GetLatestReadyRevision() != "" {
		t.Fatalf("service before its revision is ready: %v", pending)
	}
	// op.Wait is what runnet uses; the emulator must work with the client's own polling.
	svc, err := op.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.lro.GetOperation(e.ctx, &longrunningpb.GetOperationRequest{Name: op.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if got := raw.GetMetadata().GetTypeUrl(); got != "type.googleapis.com/google.cloud.run.v2.Service" {
		t.Errorf("metadata type %q", got)
	}
	if got := raw.GetResponse().GetTypeUrl(); got != "type.googleapis.com/google.cloud.run.v2.Service" {
		t.Errorf("response type %q", got)
	}
	if !strings.HasPrefix(op.Name(), testParent+"/operations/") {
		t.Errorf("operation name %q", op.Name())
	}

	if svc.GetName() != testParent+"/services/web" || svc.GetGeneration() != 1 || svc.GetObservedGeneration() != 1 || svc.GetReconciling() {
		t.Fatalf("ready service: name=%s gen=%d observed=%d reconciling=%v", svc.GetName(), svc.GetGeneration(), svc.GetObservedGeneration(), svc.GetReconciling())
	}
	revRE := regexp.MustCompile(`^` + regexp.QuoteMeta(testParent) + `/services/web/revisions/web-00001-[a-z0-9]{3}$`)
	if !revRE.MatchString(svc.GetLatestReadyRevision()) || svc.GetLatestCreatedRevision() != svc.GetLatestReadyRevision() {
		t.Fatalf("revisions: ready %q created %q", svc.GetLatestReadyRevision(), svc.GetLatestCreatedRevision())
	}
	tc := svc.GetTerminalCondition()
	if tc.GetType() != "Ready" || tc.GetState() != runpb.Condition_CONDITION_SUCCEEDED || tc.GetLastTransitionTime() == nil {
		t.Fatalf("terminal condition %v", tc)
	}
	if conditionState(svc.GetConditions(), "RoutesReady") != runpb.Condition_CONDITION_SUCCEEDED || conditionState(svc.GetConditions(), "ConfigurationsReady") != runpb.Condition_CONDITION_SUCCEEDED {
		t.Fatalf("conditions %v", svc.GetConditions())
	}
	if ts := svc.GetTrafficStatuses(); len(ts) != 1 || ts[0].GetType() != runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST || ts[0].GetPercent() != 100 || ts[0].GetRevision() != "" {
		t.Fatalf("traffic statuses %v", ts)
	}
	if !regexp.MustCompile(`^https://web-[a-z0-9]{10}-uc\.a\.run\.app$`).MatchString(svc.GetUri()) {
		t.Errorf("uri %q", svc.GetUri())
	}
	if len(svc.GetUrls()) != 2 || svc.GetUrls()[0] != "https://web-"+projectNumber(testProject)+".us-central1.run.app" || svc.GetUrls()[1] != svc.GetUri() {
		t.Errorf("urls %v", svc.GetUrls())
	}
	if !regexp.MustCompile(`^"[A-Za-z0-9_-]+/[A-Za-z0-9_-]+"$`).MatchString(svc.GetEtag()) {
		t.Errorf("etag %q", svc.GetEtag())
	}
	if svc.GetCreator() != caller || svc.GetLastModifier() != caller || svc.GetUid() == "" || svc.GetCreateTime() == nil {
		t.Errorf("creator %q modifier %q uid %q", svc.GetCreator(), svc.GetLastModifier(), svc.GetUid())
	}
	// Defaults, as the real API fills them.
	tt := svc.GetTemplate()
	if svc.GetLaunchStage() != api.LaunchStage_GA || svc.GetIngress() != runpb.IngressTraffic_INGRESS_TRAFFIC_ALL ||
		tt.GetTimeout().AsDuration() != 300*time.Second || tt.GetMaxInstanceRequestConcurrency() != 80 ||
		tt.GetServiceAccount() != projectNumber(testProject)+"-compute@developer.gserviceaccount.com" {
		t.Errorf("defaults: %v %v %v %v %q", svc.GetLaunchStage(), svc.GetIngress(), tt.GetTimeout(), tt.GetMaxInstanceRequestConcurrency(), tt.GetServiceAccount())
	}
	c := tt.GetContainers()[0]
	wantC := &runpb.Container{
		Image:     testImage,
		Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1000m", "memory": "512Mi"}, CpuIdle: true},
		Ports:     []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
		StartupProbe: &runpb.Probe{TimeoutSeconds: 240, PeriodSeconds: 240, FailureThreshold: 1,
			ProbeType: &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: 8080}}},
	}
	if !proto.Equal(c, wantC) {
		t.Errorf("container defaults\n got %v\nwant %v", c, wantC)
	}
	if tt.GetVpcAccess().GetEgress() != runpb.VpcAccess_PRIVATE_RANGES_ONLY {
		t.Errorf("egress %v", tt.GetVpcAccess().GetEgress())
	}

	rev, err := e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: svc.GetLatestReadyRevision()})
	if err != nil {
		t.Fatal(err)
	}
	if rev.GetService() != svc.GetName() || !proto.Equal(rev.GetContainers()[0], wantC) || !proto.Equal(rev.GetVpcAccess(), tt.GetVpcAccess()) ||
		rev.GetMaxInstanceRequestConcurrency() != 80 || rev.GetServiceAccount() != tt.GetServiceAccount() || rev.GetReconciling() ||
		!strings.Contains(rev.GetLogUri(), "revision_name/"+shortName(rev.GetName())) {
		t.Errorf("revision %v", rev)
	}
	for _, typ := range []string{"Ready", "ContainerHealthy", "ResourcesAvailable"} {
		if conditionState(rev.GetConditions(), typ) != runpb.Condition_CONDITION_SUCCEEDED {
			t.Errorf("revision condition %s: %v", typ, rev.GetConditions())
		}
	}
	if n := e.instances(rev.GetName()); n != 1 {
		t.Errorf("instances %d, want 1", n)
	}
}

// TestCanaryMigration is the flow runnet's migrations use: a new revision with other VPC
// settings at 0% with a tag, then traffic moved 10/50/100.
func TestCanaryMigration(t *testing.T) {
	e := newEnv(t)
	conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.10.0.0/24")
	svc := e.createService("api", basicService(connectorAccess(conn)))
	rev1 := svc.GetLatestReadyRevision()

	// Revision 2: Direct VPC, no traffic, tagged.
	svc.Template.VpcAccess = directAccess("vpc", "run")
	svc.Template.Revision = "api-direct"
	svc.Traffic = []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: shortName(rev1), Percent: 100},
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "api-direct", Percent: 0, Tag: "candidate"},
	}
	op, err := e.update(svc)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := op.Metadata()
	if meta.GetGeneration() != 2 || meta.GetLatestCreatedRevision() != testParent+"/services/api/revisions/api-direct" || meta.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_PENDING {
		t.Fatalf("update metadata: gen %d created %q terminal %v", meta.GetGeneration(), meta.GetLatestCreatedRevision(), meta.GetTerminalCondition())
	}
	svc = mustAwait[*runpb.Service](e, op)
	rev2 := testParent + "/services/api/revisions/api-direct"
	if svc.GetLatestReadyRevision() != rev2 || svc.GetObservedGeneration() != 2 {
		t.Fatalf("after tagged deploy: ready %q observed %d", svc.GetLatestReadyRevision(), svc.GetObservedGeneration())
	}
	ts := svc.GetTrafficStatuses()
	if len(ts) != 2 || ts[0].GetRevision() != shortName(rev1) || ts[0].GetPercent() != 100 || ts[1].GetRevision() != "api-direct" || ts[1].GetPercent() != 0 ||
		!regexp.MustCompile(`^https://candidate---api-[a-z0-9]{10}-uc\.a\.run\.app$`).MatchString(ts[1].GetUri()) {
		t.Fatalf("traffic statuses %v", ts)
	}
	if e.instances(rev1) != 1 || e.instances(rev2) != 0 {
		t.Fatalf("instances rev1=%d rev2=%d", e.instances(rev1), e.instances(rev2))
	}
	// Its startup instance took a block, released (after the IP release delay) once it was
	// Ready with no traffic.
	if held, releasing := e.blocks(rev2); held != 0 || releasing != 1 {
		t.Fatalf("rev2 blocks held=%d releasing=%d", held, releasing)
	}

	for _, pct := range []int32{10, 50, 100} {
		svc.Traffic = []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: shortName(rev1), Percent: 100 - pct},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "api-direct", Percent: pct, Tag: "candidate"},
		}
		if pct == 100 {
			svc.Traffic = svc.Traffic[1:]
		}
		gen := svc.GetGeneration()
		svc = e.mustUpdate(svc)
		if svc.GetGeneration() != gen+1 || svc.GetObservedGeneration() != gen+1 {
			t.Fatalf("%d%%: generation %d observed %d", pct, svc.GetGeneration(), svc.GetObservedGeneration())
		}
		got := map[string]int32{}
		for _, s := range svc.GetTrafficStatuses() {
			got[s.GetRevision()] = s.GetPercent()
		}
		if got["api-direct"] != pct || (pct < 100 && got[shortName(rev1)] != 100-pct) {
			t.Fatalf("%d%%: statuses %v", pct, svc.GetTrafficStatuses())
		}
		if e.instances(rev2) != 1 {
			t.Fatalf("%d%%: rev2 instances %d", pct, e.instances(rev2))
		}
		if held, _ := e.blocks(rev2); held != 1 {
			t.Fatalf("%d%%: rev2 holds %d blocks", pct, held)
		}
	}
	if e.instances(rev1) != 0 {
		t.Fatalf("rev1 still runs %d instances at 0%%", e.instances(rev1))
	}
	revs, err := e.svc.GetService(e.ctx, &runpb.GetServiceRequest{Name: svc.GetName()})
	if err != nil || revs.GetLatestCreatedRevision() != rev2 {
		t.Fatalf("latest created %q, %v", revs.GetLatestCreatedRevision(), err)
	}
}

// failureCase sets the world and the revision template up for one cause of failure.
type failureCase struct {
	name   string
	setup  func(e *env) *runpb.VpcAccess
	cause  string
	reason runpb.Condition_CommonReason
}

func failureCases() []failureCase {
	snLink := func(p, r, s string) string {
		return "https://www.googleapis.com/compute/v1/projects/" + p + "/regions/" + r + "/subnetworks/" + s
	}
	return []failureCase{
		{"connector missing", func(e *env) *runpb.VpcAccess {
			return connectorAccess(testParent + "/connectors/gone")
		}, "VPC connector " + testParent + "/connectors/gone does not exist, or Cloud Run does not have permission to use it.", runpb.Condition_VPC_NETWORK_NOT_FOUND},
		{"connector creating", func(e *env) *runpb.VpcAccess {
			return connectorAccess(e.addConnector(testProject, testRegion, "young", "vpc", "10.8.0.16/28", vpcaccesspb.Connector_CREATING))
		}, "VPC connector " + testParent + "/connectors/young is not ready: its state is CREATING.", runpb.Condition_REVISION_FAILED},
		{"connector in error", func(e *env) *runpb.VpcAccess {
			return connectorAccess(e.addConnector(testProject, testRegion, "broken", "vpc", "10.8.0.32/28", vpcaccesspb.Connector_ERROR))
		}, "VPC connector " + testParent + "/connectors/broken is not ready: its state is ERROR.", runpb.Condition_REVISION_FAILED},
		{"connector in another region", func(e *env) *runpb.VpcAccess {
			return connectorAccess(e.addConnector(testProject, "europe-west1", "far", "vpc", "10.8.0.48/28", vpcaccesspb.Connector_READY))
		}, "VPC connector projects/" + testProject + "/locations/europe-west1/connectors/far is in region europe-west1, but the workload is in region us-central1; a connector must be in the same region as the workloads that use it.", runpb.Condition_REVISION_FAILED},
		{"network missing", func(e *env) *runpb.VpcAccess {
			return directAccess("nowhere", "")
		}, "VPC network projects/" + testProject + "/global/networks/nowhere does not exist, or Cloud Run does not have permission to use it.", runpb.Condition_VPC_NETWORK_NOT_FOUND},
		{"no subnet of the network's name", func(e *env) *runpb.VpcAccess {
			return directAccess("vpc", "")
		}, "VPC subnetwork projects/" + testProject + "/regions/us-central1/subnetworks/vpc does not exist, or Cloud Run does not have permission to use it.", runpb.Condition_VPC_NETWORK_NOT_FOUND},
		{"subnet missing", func(e *env) *runpb.VpcAccess {
			return directAccess("vpc", "nosuch")
		}, "VPC subnetwork projects/" + testProject + "/regions/us-central1/subnetworks/nosuch does not exist, or Cloud Run does not have permission to use it.", runpb.Condition_VPC_NETWORK_NOT_FOUND},
		{"subnet in another region", func(e *env) *runpb.VpcAccess {
			e.addSubnet(testProject, "europe-west1", "eu", "vpc", "10.20.0.0/24")
			return directAccess("", "projects/"+testProject+"/regions/europe-west1/subnetworks/eu")
		}, "VPC subnetwork projects/" + testProject + "/regions/europe-west1/subnetworks/eu is in region europe-west1, but the workload is in region us-central1; Direct VPC egress needs a subnetwork in the same region.", runpb.Condition_REVISION_FAILED},
		{"subnet of another network", func(e *env) *runpb.VpcAccess {
			e.addNetwork(testProject, "other")
			e.addSubnet(testProject, testRegion, "elsewhere", "other", "10.30.0.0/24")
			return directAccess("vpc", "elsewhere")
		}, "VPC subnetwork projects/" + testProject + "/regions/us-central1/subnetworks/elsewhere does not belong to network projects/" + testProject + "/global/networks/vpc.", runpb.Condition_REVISION_FAILED},
		{"subnet smaller than /26", func(e *env) *runpb.VpcAccess {
			e.addSubnet(testProject, testRegion, "tiny", "vpc", "10.40.0.0/27")
			return directAccess("vpc", "tiny")
		}, "VPC subnetwork projects/" + testProject + "/regions/us-central1/subnetworks/tiny has the primary range 10.40.0.0/27; Direct VPC egress needs a /26 or larger range.", runpb.Condition_REVISION_FAILED},
		{"subnet out of addresses", func(e *env) *runpb.VpcAccess {
			e.addSubnet(testProject, testRegion, "full", "vpc", "10.50.0.0/26")
			e.locked(func() {
				if err := e.w.SetHeldBlocksLocked(testProject, testRegion, "full", "someone-else", 3); err != nil {
					t := e.t
					t.Fatal(err)
				}
			})
			return directAccess("vpc", "full")
		}, "Instance failed to start because of insufficient free IP addresses in the subnetwork " + snLink(testProject, testRegion, "full") +
			" when attempting to create an address in the subnetwork. Please consider moving to a subnetwork with more available IP addresses.", runpb.Condition_REVISION_FAILED},
	}
}

func TestRevisionFailureKeepsTraffic(t *testing.T) {
	for _, tc := range failureCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.addNetwork(testProject, "vpc")
			svc := e.createService("app", basicService(nil))
			rev1 := svc.GetLatestReadyRevision()
			before := proto.Clone(svc).(*runpb.Service)

			svc.Template.VpcAccess = tc.setup(e)
			op, err := e.update(svc)
			if err != nil {
				t.Fatalf("update accepted by the API: %v", err)
			}
			meta, _ := op.Metadata()
			rev2 := meta.GetLatestCreatedRevision()
			msg := "Revision '" + shortName(rev2) + "' is not ready and cannot serve traffic. " + tc.cause
			_, err = await[*runpb.Service](e, op)
			wantStatus(t, err, codes.FailedPrecondition, msg)

			got := e.getService("app")
			tcnd := got.GetTerminalCondition()
			if tcnd.GetType() != "Ready" || tcnd.GetState() != runpb.Condition_CONDITION_FAILED || tcnd.GetMessage() != msg {
				t.Fatalf("terminal condition %v", tcnd)
			}
			if got.GetLatestReadyRevision() != rev1 || got.GetLatestCreatedRevision() != rev2 || rev2 == rev1 {
				t.Fatalf("ready %q created %q", got.GetLatestReadyRevision(), got.GetLatestCreatedRevision())
			}
			if !proto.Equal(&runpb.Service{TrafficStatuses: got.GetTrafficStatuses()}, &runpb.Service{TrafficStatuses: before.GetTrafficStatuses()}) {
				t.Fatalf("traffic statuses moved: %v", got.GetTrafficStatuses())
			}
			if got.GetReconciling() || got.GetObservedGeneration() != 2 {
				t.Fatalf("reconciling %v observed %d", got.GetReconciling(), got.GetObservedGeneration())
			}
			if conditionState(got.GetConditions(), "ConfigurationsReady") != runpb.Condition_CONDITION_FAILED {
				t.Fatalf("conditions %v", got.GetConditions())
			}
			r, err := e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: rev2})
			if err != nil {
				t.Fatal(err)
			}
			var ready *runpb.Condition
			for _, c := range r.GetConditions() {
				if c.GetType() == "Ready" {
					ready = c
				}
			}
			if ready.GetState() != runpb.Condition_CONDITION_FAILED || ready.GetMessage() != tc.cause || ready.GetReason() != tc.reason {
				t.Fatalf("revision Ready condition %v", ready)
			}
			if e.instances(rev1) != 1 || e.instances(rev2) != 0 {
				t.Fatalf("instances rev1=%d rev2=%d", e.instances(rev1), e.instances(rev2))
			}
		})
	}
}

// TestDirectVPCForms covers the ways of naming a Direct VPC network and subnetwork that work.
func TestDirectVPCForms(t *testing.T) {
	e := newEnv(t)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "vpc", "vpc", "10.0.0.0/24")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.1.0.0/24")
	e.addNetwork("host-project", "shared")
	e.addSubnet("host-project", testRegion, "shared-run", "shared", "10.2.0.0/24")
	e.locked(func() { // Shared VPC: attached, and Cloud Run's service agent may use the host's subnets
		if err := e.w.EnableXpnHostLocked("host-project"); err != nil {
			t.Fatal(err)
		}
		if err := e.w.AttachLocked("host-project", testProject); err != nil {
			t.Fatal(err)
		}
		if err := e.w.GrantLocked("projects/host-project", "roles/compute.networkUser", world.ServiceAgent(testProject)); err != nil {
			t.Fatal(err)
		}
	})
	for i, va := range []*runpb.VpcAccess{
		directAccess("vpc", ""),    // same-name rule: the subnetwork named like the network
		directAccess("", "run"),    // the network is the subnetwork's
		directAccess("vpc", "run"), // both
		directAccess("projects/host-project/global/networks/shared", "projects/host-project/regions/us-central1/subnetworks/shared-run"), // Shared VPC
		directAccess("", "https://www.googleapis.com/compute/v1/projects/host-project/regions/us-central1/subnetworks/shared-run"),
	} {
		id := "direct-" + string(rune('a'+i))
		svc := e.createService(id, basicService(va))
		if held, _ := e.blocks(svc.GetLatestReadyRevision()); held != 1 {
			t.Errorf("%s: %d blocks held", id, held)
		}
	}
	var hostBlocks int
	revD := e.getService("direct-d").GetLatestReadyRevision()
	e.locked(func() {
		hostBlocks = len(e.w.HeldBlocksLocked(world.RegionalKey("host-project", testRegion, "shared-run"), revD))
	})
	if hostBlocks != 1 {
		t.Errorf("Shared VPC reservation in the host project: %d blocks", hostBlocks)
	}
}

// TestConnectorDeletedWhileRevisionStarts checks that readiness is decided when the revision
// would become Ready, not when it is requested.
func TestConnectorDeletedWhileRevisionStarts(t *testing.T) {
	cfg := worldConfigSlowRevisions()
	e := newEnvWith(t, cfg)
	conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	conn2 := e.addConnector(testProject, testRegion, "c2", "vpc", "10.8.0.16/28", vpcaccesspb.Connector_READY)
	svc := e.createService("svc", basicService(connectorAccess(conn)))
	svc.Template.VpcAccess = connectorAccess(conn2)
	op, err := e.update(svc)
	if err != nil {
		t.Fatal(err)
	}
	e.locked(func() { delete(e.w.S.Connectors, conn2); e.w.MarkChangedLocked() })
	_, err = await[*runpb.Service](e, op)
	meta, _ := op.Metadata()
	wantStatus(t, err, codes.FailedPrecondition, "Revision '"+shortName(meta.GetLatestCreatedRevision())+"' is not ready and cannot serve traffic. VPC connector "+conn2+" does not exist, or Cloud Run does not have permission to use it.")
}

func worldConfigSlowRevisions() world.Config {
	return world.Config{LRODuration: 20 * time.Millisecond, RevisionReady: 300 * time.Millisecond, IPRelease: time.Minute}
}

func TestStaleEtagIsAborted(t *testing.T) {
	e := newEnv(t)
	svc := e.createService("svc", basicService(nil))
	stale := proto.Clone(svc).(*runpb.Service)
	svc.Labels = map[string]string{"team": "a"}
	svc = e.mustUpdate(svc)
	if svc.GetEtag() == stale.GetEtag() {
		t.Fatal("etag did not change on update")
	}
	stale.Labels = map[string]string{"team": "b"}
	_, err := e.update(stale)
	wantStatus(t, err, codes.Aborted, "etag mismatch: the service was modified; read it again and retry")
	_, err = e.svc.DeleteService(e.ctx, &runpb.DeleteServiceRequest{Name: svc.GetName(), Etag: stale.GetEtag()})
	wantStatus(t, err, codes.Aborted, "")
	got := e.getService("svc")
	if got.GetGeneration() != 2 || got.GetLabels()["team"] != "a" || got.GetEtag() != svc.GetEtag() {
		t.Fatalf("stale requests changed the service: gen %d labels %v", got.GetGeneration(), got.GetLabels())
	}
	// Without an etag the update goes through; with the current one too.
	got.Labels["team"] = "c"
	got = e.mustUpdate(got)
	if got.GetLabels()["team"] != "c" {
		t.Fatalf("labels %v", got.GetLabels())
	}
}

func TestValidateOnlyChangesNothing(t *testing.T) {
	e := newEnv(t)
	svc := e.createService("svc", basicService(nil))
	next := proto.Clone(svc).(*runpb.Service)
	next.Template.Containers[0].Image = testImage + ":v2"
	op, err := e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: next, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done() {
		t.Fatal("validate_only operation is not done at once")
	}
	would, err := op.Poll(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if would.GetGeneration() != 2 || would.GetTemplate().GetContainers()[0].GetImage() != testImage+":v2" {
		t.Fatalf("would-be service: gen %d image %q", would.GetGeneration(), would.GetTemplate().GetContainers()[0].GetImage())
	}
	got := e.getService("svc")
	if !proto.Equal(got, svc) {
		t.Fatalf("validate_only changed the service:\n%v\n%v", got, svc)
	}
	it := e.revs.ListRevisions(e.ctx, &runpb.ListRevisionsRequest{Parent: svc.GetName()})
	n := 0
	for _, err := it.Next(); err == nil; _, err = it.Next() {
		n++
	}
	if n != 1 {
		t.Fatalf("%d revisions after validate_only", n)
	}
	// Validation still runs.
	bad := proto.Clone(svc).(*runpb.Service)
	bad.Template.VpcAccess = &runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC}
	_, err = e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: bad, ValidateOnly: true})
	wantStatus(t, err, codes.InvalidArgument, "Violation in UpdateServiceRequest.service.template.vpc_access.connector: one and only one of connector and network_interfaces must be set.")
	// Creation too.
	cop, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "dry", Service: basicService(nil), ValidateOnly: true})
	if err != nil || !cop.Done() {
		t.Fatalf("validate_only create: %v", err)
	}
	_, err = e.svc.GetService(e.ctx, &runpb.GetServiceRequest{Name: testParent + "/services/dry"})
	wantStatus(t, err, codes.NotFound, "")
	// And deletion.
	dop, err := e.svc.DeleteService(e.ctx, &runpb.DeleteServiceRequest{Name: svc.GetName(), ValidateOnly: true})
	if err != nil || !dop.Done() {
		t.Fatalf("validate_only delete: %v", err)
	}
	if got := e.getService("svc"); !proto.Equal(got, svc) {
		t.Fatal("validate_only delete changed the service")
	}
}

func TestInvalidRequests(t *testing.T) {
	e := newEnv(t)
	conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	svc := e.createService("svc", basicService(nil))
	rev1 := shortName(svc.GetLatestReadyRevision())
	const both = "one and only one of connector and network_interfaces must be set."
	revision := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	latest := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	cases := []struct {
		name   string
		mutate func(s *runpb.Service)
		field  string // after "Violation in UpdateServiceRequest.service."
		desc   string
	}{
		{"connector and interfaces", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{Connector: conn, NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "vpc"}}}
		}, "template.vpc_access.connector", both},
		{"egress only", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC}
		}, "template.vpc_access.connector", both},
		{"two interfaces", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "a"}, {Network: "b"}}}
		}, "template.vpc_access.network_interfaces", "only one network interface is supported."},
		{"connector short name", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{Connector: "c1"}
		}, "template.vpc_access.connector", `connector "c1" must be of the form projects/{project}/locations/{location}/connectors/{connector}.`},
		{"unknown egress", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{Connector: conn, Egress: 7}
		}, "template.vpc_access.egress", "unknown egress value 7."},
		{"empty interface", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Tags: []string{"a"}}}}
		}, "template.vpc_access.network_interfaces[0]", "at least one of network or subnetwork must be set."},
		{"bad network tag", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "vpc", Tags: []string{"ok", "Bad_Tag"}}}}
		}, "template.vpc_access.network_interfaces[0].tags[1]", `network tag "Bad_Tag" must be 1 to 63 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen (RFC 1035).`},
		{"bad subnetwork", func(s *runpb.Service) {
			s.Template.VpcAccess = &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: "regions/x/subnetworks/y"}}}
		}, "template.vpc_access.network_interfaces[0].subnetwork", `"regions/x/subnetworks/y" is neither a subnetwork name nor projects/{project}/regions/{region}/subnetworks/{subnetwork}.`},
		{"no template", func(s *runpb.Service) { s.Template = nil }, "template", "required field not present."},
		{"no containers", func(s *runpb.Service) { s.Template.Containers = nil }, "template.containers", "required field not present."},
		{"no image", func(s *runpb.Service) { s.Template.Containers[0].Image = "" }, "template.containers[0].image", "required field not present."},
		{"two ports", func(s *runpb.Service) {
			s.Template.Containers[0].Ports = []*runpb.ContainerPort{{ContainerPort: 80}, {ContainerPort: 81}}
		}, "template.containers[0].ports", "ports should contain 0 or 1 port."},
		{"traffic sum", func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: latest, Percent: 90}}
		}, "traffic", "Traffic targets sum to 90, want 100."},
		{"two latest", func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: latest, Percent: 50}, {Type: latest, Percent: 50}}
		}, "traffic", "at most one target may be of type TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST."},
		{"duplicate tags", func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: latest, Percent: 100, Tag: "a"}, {Type: revision, Revision: rev1, Tag: "a"}}
		}, "traffic[1].tag", `tag "a" is used by more than one traffic target.`},
		{"invalid tag", func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: latest, Percent: 100, Tag: "-x"}}
		}, "traffic[0].tag", `tag "-x" must be 1 to 63 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen (RFC 1035).`},
		{"percent over 100", func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: latest, Percent: 101}}
		}, "traffic[0].percent", "percent must be between 0 and 100, got 101."},
		{"revision target without revision", func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: revision, Percent: 100}}
		}, "traffic[0].revision", "required when type is TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION."},
		{"revision name not prefixed", func(s *runpb.Service) { s.Template.Revision = "nope-v2" }, "template.revision", revisionNameRule},
		{"system label", func(s *runpb.Service) {
			s.Labels = map[string]string{"run.googleapis.com/x": "1"}
		}, "labels", "key 'run.googleapis.com/x' is not supported: the run.googleapis.com namespace is reserved for the system."},
		{"system template annotation", func(s *runpb.Service) {
			s.Template.Annotations = map[string]string{"autoscaling.knative.dev/maxScale": "3"}
		}, "template.annotations", "key 'autoscaling.knative.dev/maxScale' is not supported: the autoscaling.knative.dev namespace is reserved for the system."},
		{"min over max", func(s *runpb.Service) {
			s.Template.Scaling = &runpb.RevisionScaling{MinInstanceCount: 5, MaxInstanceCount: 2}
		}, "template.scaling.min_instance_count", "min_instance_count (5) must not exceed max_instance_count (2)."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := proto.Clone(svc).(*runpb.Service)
			tc.mutate(s)
			_, err := e.update(s)
			wantStatus(t, err, codes.InvalidArgument, "Violation in UpdateServiceRequest.service."+tc.field+": "+tc.desc)
			// The create path uses the same rules with its own request name.
			_, err = e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "other", Service: s})
			wantStatus(t, err, codes.InvalidArgument, "Violation in CreateServiceRequest.service."+tc.field+": "+tc.desc)
		})
	}
	if got := e.getService("svc"); got.GetGeneration() != 1 || got.GetEtag() != svc.GetEtag() {
		t.Fatalf("rejected requests changed the service (generation %d)", got.GetGeneration())
	}

	t.Run("ids", func(t *testing.T) {
		for _, id := range []string{"Upper", "1digit", "ends-", "has_underscore", strings.Repeat("a", 50), ""} {
			_, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: id, Service: basicService(nil)})
			wantStatus(t, err, codes.InvalidArgument, "Violation in CreateServiceRequest.service_id: only lowercase, digits, and hyphens; must begin with letter, and cannot end with hyphen; must be less than 50 characters.")
		}
		op, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: strings.Repeat("a", 49), Service: basicService(nil)})
		if err != nil {
			t.Fatalf("49-character id rejected: %v", err)
		}
		mustAwait[*runpb.Service](e, op)
	})
	t.Run("bad region", func(t *testing.T) {
		_, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: "projects/p/locations/mars-north1", ServiceId: "x", Service: basicService(nil)})
		wantStatus(t, err, codes.InvalidArgument, "Location 'mars-north1' is not a valid Cloud Run region.")
	})
	t.Run("already exists", func(t *testing.T) {
		_, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc", Service: basicService(nil)})
		wantStatus(t, err, codes.AlreadyExists, "Resource 'svc' already exists.")
	})
	t.Run("not found", func(t *testing.T) {
		want := "Resource 'ghost' of kind 'SERVICE' in region 'us-central1' in project 'demo-project' does not exist."
		_, err := e.svc.GetService(e.ctx, &runpb.GetServiceRequest{Name: testParent + "/services/ghost"})
		wantStatus(t, err, codes.NotFound, want)
		ghost := basicService(nil)
		ghost.Name = testParent + "/services/ghost"
		_, err = e.update(ghost)
		wantStatus(t, err, codes.NotFound, want)
		_, err = e.svc.DeleteService(e.ctx, &runpb.DeleteServiceRequest{Name: ghost.Name})
		wantStatus(t, err, codes.NotFound, want)
		// allow_missing creates it.
		op, err := e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: ghost, AllowMissing: true})
		if err != nil {
			t.Fatal(err)
		}
		if s := mustAwait[*runpb.Service](e, op); s.GetGeneration() != 1 || s.GetLatestReadyRevision() == "" {
			t.Fatalf("allow_missing: %v", s)
		}
	})
	t.Run("revision name taken", func(t *testing.T) {
		s := proto.Clone(svc).(*runpb.Service)
		s.Template.Revision = rev1
		s.Template.Containers[0].Image = testImage + ":v9"
		_, err := e.update(s)
		wantStatus(t, err, codes.AlreadyExists, "Revision named '"+rev1+"' with different configuration already exists.")
	})
	t.Run("traffic to a missing revision", func(t *testing.T) {
		s := e.getService("svc")
		s.Traffic = []*runpb.TrafficTarget{{Type: revision, Revision: "svc-00042-zzz", Percent: 100}}
		op, err := e.update(s)
		if err != nil {
			t.Fatal(err)
		}
		_, err = await[*runpb.Service](e, op)
		wantStatus(t, err, codes.Internal, "Revision 'svc-00042-zzz' does not exist or is deleted. Update all traffic to route to currently available revisions.")
		got := e.getService("svc")
		if ts := got.GetTrafficStatuses(); len(ts) != 1 || ts[0].GetType() != latest || conditionState(got.GetConditions(), "RoutesReady") != runpb.Condition_CONDITION_FAILED {
			t.Fatalf("statuses %v conditions %v", ts, got.GetConditions())
		}
		if e.instances(svc.GetLatestReadyRevision()) != 1 {
			t.Fatal("serving revision stopped")
		}
	})
	t.Run("empty vpc_access is none", func(t *testing.T) {
		s := e.getService("svc")
		s.Traffic = nil
		s.Template.VpcAccess = &runpb.VpcAccess{}
		got := e.mustUpdate(s)
		if got.GetTemplate().GetVpcAccess() != nil {
			t.Fatalf("vpc_access %v", got.GetTemplate().GetVpcAccess())
		}
	})
}

// TestUpdatePreservesFields checks that an update changing only vpc_access keeps everything
// else exactly as sent (runnet's "nothing lost" promise rests on it).
func TestUpdatePreservesFields(t *testing.T) {
	e := newEnv(t)
	conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.10.0.0/24")
	in := &runpb.Service{
		Description: "orders API",
		Labels:      map[string]string{"team": "orders", "env": "prod"},
		Annotations: map[string]string{"runnet.dev/migration": `{"step":1}`, "example.com/owner": "x"},
		Ingress:     runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER,
		Template: &runpb.RevisionTemplate{
			Labels:      map[string]string{"rev": "l"},
			Annotations: map[string]string{"runnet.dev/migration": "t"},
			Scaling:     &runpb.RevisionScaling{MinInstanceCount: 1, MaxInstanceCount: 7},
			Timeout:     durationpb.New(60 * time.Second),
			VpcAccess:   &runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_ALL_TRAFFIC},
			Containers: []*runpb.Container{{
				Name: "app", Image: testImage, Command: []string{"/server"}, Args: []string{"--port=9000"},
				Env: []*runpb.EnvVar{
					{Name: "A", Values: &runpb.EnvVar_Value{Value: "1"}},
					{Name: "S", Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: "db-pass", Version: "3"}}}},
				},
				Ports:     []*runpb.ContainerPort{{Name: "h2c", ContainerPort: 9000}},
				Resources: &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "2", "memory": "1Gi"}, StartupCpuBoost: true},
			}},
			MaxInstanceRequestConcurrency: 10,
		},
	}
	svc := e.createService("orders", in)
	before := proto.Clone(svc).(*runpb.Service)
	svc.Template.VpcAccess = &runpb.VpcAccess{
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "vpc", Subnetwork: "run", Tags: []string{"orders"}}},
		Egress:            runpb.VpcAccess_ALL_TRAFFIC,
	}
	after := e.mustUpdate(svc)
	if after.GetTemplate().GetVpcAccess().GetNetworkInterfaces()[0].GetSubnetwork() != "run" {
		t.Fatalf("vpc_access not applied: %v", after.GetTemplate().GetVpcAccess())
	}
	// Everything but vpc_access (and the bookkeeping) is as it was.
	strip := func(s *runpb.Service) *runpb.Service {
		c := proto.Clone(s).(*runpb.Service)
		c.Template.VpcAccess = nil
		copyFields(c, &runpb.Service{}, serviceOutputFields)
		return c
	}
	if !proto.Equal(strip(after), strip(before)) {
		t.Fatalf("fields changed:\nbefore %v\nafter  %v", strip(before), strip(after))
	}
	if after.GetAnnotations()["runnet.dev/migration"] != `{"step":1}` || after.GetTemplate().GetAnnotations()["runnet.dev/migration"] != "t" {
		t.Fatal("annotations lost")
	}
	r, err := e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: after.GetLatestReadyRevision()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(r.GetContainers()[0], before.GetTemplate().GetContainers()[0]) || r.GetScaling().GetMinInstanceCount() != 1 || r.GetLabels()["rev"] != "l" {
		t.Fatalf("revision lost fields: %v", r)
	}
	// min_instance_count 1 keeps one instance running.
	if e.instances(r.GetName()) != 1 {
		t.Fatalf("instances %d", e.instances(r.GetName()))
	}
	// An update that changes nothing in the template makes no revision.
	after.Labels["team"] = "payments"
	again := e.mustUpdate(after)
	if again.GetLatestCreatedRevision() != after.GetLatestCreatedRevision() || again.GetGeneration() != after.GetGeneration()+1 {
		t.Fatalf("label change: created %q gen %d", again.GetLatestCreatedRevision(), again.GetGeneration())
	}
	// force_new_revision does.
	op, err := e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: again, ForceNewRevision: true})
	if err != nil {
		t.Fatal(err)
	}
	if forced := mustAwait[*runpb.Service](e, op); forced.GetLatestCreatedRevision() == again.GetLatestCreatedRevision() {
		t.Fatal("force_new_revision made no revision")
	}
}

func TestUpdateMask(t *testing.T) {
	e := newEnv(t)
	svc := e.createService("svc", basicService(nil))
	patch := &runpb.Service{Name: svc.GetName(), Labels: map[string]string{"only": "this"}, Description: "ignored"}
	op, err := e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := mustAwait[*runpb.Service](e, op)
	if got.GetLabels()["only"] != "this" || got.GetDescription() != "" || !proto.Equal(got.GetTemplate(), svc.GetTemplate()) {
		t.Fatalf("masked update: %v", got)
	}
	_, err = e.svc.UpdateService(e.ctx, &runpb.UpdateServiceRequest{Service: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"nope"}}})
	wantStatus(t, err, codes.InvalidArgument, "")
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	e.locked(func() {
		for _, id := range []string{"e", "a", "d", "b", "c"} {
			s := basicService(nil)
			s.Name = testParent + "/services/" + id
			if _, err := PutServiceLocked(e.w, s); err != nil {
				t.Fatal(err)
			}
		}
	})
	e.w.Faults.ResetCalls()
	it := e.svc.ListServices(e.ctx, &runpb.ListServicesRequest{Parent: testParent, PageSize: 2})
	var got []string
	for s, err := it.Next(); err == nil; s, err = it.Next() {
		got = append(got, shortName(s.GetName()))
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Fatalf("listed %v", got)
	}
	if calls := e.w.Faults.Calls()["google.cloud.run.v2.Services/ListServices"]; calls != 3 {
		t.Fatalf("%d ListServices calls, want 3 pages", calls)
	}
	// Another location lists nothing.
	it = e.svc.ListServices(e.ctx, &runpb.ListServicesRequest{Parent: "projects/" + testProject + "/locations/europe-west1"})
	if _, err := it.Next(); err == nil {
		t.Fatal("services listed in another region")
	}
	_, err := e.svc.ListServices(e.ctx, &runpb.ListServicesRequest{Parent: testParent, PageToken: "garbage"}).Next()
	wantStatus(t, err, codes.InvalidArgument, "")

	// Revisions are listed newest first.
	svc := e.getService("a")
	for i := 0; i < 3; i++ {
		svc.Template.Containers[0].Image = testImage + ":" + string(rune('1'+i))
		svc = e.mustUpdate(svc)
	}
	rit := e.revs.ListRevisions(e.ctx, &runpb.ListRevisionsRequest{Parent: svc.GetName(), PageSize: 3})
	var revs []string
	for r, err := rit.Next(); err == nil; r, err = rit.Next() {
		revs = append(revs, shortName(r.GetName()))
	}
	if len(revs) != 4 || !strings.HasPrefix(revs[0], "a-00004-") || !strings.HasPrefix(revs[3], "a-00001-") || revs[0] != shortName(svc.GetLatestCreatedRevision()) {
		t.Fatalf("revisions %v", revs)
	}
}

func TestFaultInjection(t *testing.T) {
	e := newEnv(t)
	svc := e.createService("svc", basicService(nil))
	e.w.Faults.Add(world.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.ResourceExhausted, Count: 1})
	svc.Labels = map[string]string{"x": "1"}
	_, err := e.update(svc)
	wantStatus(t, err, codes.ResourceExhausted, "")
	if got := e.getService("svc"); got.GetGeneration() != 1 {
		t.Fatal("a failed call changed the service")
	}
	if got := e.mustUpdate(svc); got.GetLabels()["x"] != "1" {
		t.Fatal("retry after the fault did not apply")
	}
}

func TestDeleteService(t *testing.T) {
	e := newEnv(t)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.10.0.0/24")
	svc := e.createService("gone", basicService(directAccess("vpc", "run")))
	rev := svc.GetLatestReadyRevision()
	op, err := e.svc.DeleteService(e.ctx, &runpb.DeleteServiceRequest{Name: svc.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := op.Metadata()
	if meta.GetGeneration() != 2 || meta.GetDeleteTime() == nil || !meta.GetReconciling() ||
		meta.GetExpireTime().AsTime().Sub(meta.GetDeleteTime().AsTime()) != 30*24*time.Hour {
		t.Fatalf("delete metadata %v", meta)
	}
	done := mustAwait[*runpb.Service](e, op)
	if done.GetObservedGeneration() != 2 || done.GetReconciling() || done.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED || done.GetEtag() == meta.GetEtag() {
		t.Fatalf("delete response %v", done)
	}
	_, err = e.svc.GetService(e.ctx, &runpb.GetServiceRequest{Name: svc.GetName()})
	wantStatus(t, err, codes.NotFound, "")
	_, err = e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: rev})
	wantStatus(t, err, codes.NotFound, "Resource '"+shortName(rev)+"' of kind 'REVISION' in region 'us-central1' in project 'demo-project' does not exist.")
	if held, releasing := e.blocks(rev); held != 0 || releasing != 1 || e.instances(rev) != 0 {
		t.Fatalf("after delete: held %d releasing %d instances %d", held, releasing, e.instances(rev))
	}
	e.w.Advance(time.Minute)
	if held, releasing := e.blocks(rev); held+releasing != 0 {
		t.Fatalf("addresses not released after the delay: %d %d", held, releasing)
	}
}

func TestRevisionsAPI(t *testing.T) {
	e := newEnv(t)
	svc := e.createService("svc", basicService(nil))
	rev1 := svc.GetLatestReadyRevision()
	svc.Template.Containers[0].Image = testImage + ":v2"
	svc = e.mustUpdate(svc)
	rev2 := svc.GetLatestReadyRevision()
	_, err := e.revs.DeleteRevision(e.ctx, &runpb.DeleteRevisionRequest{Name: rev2})
	wantStatus(t, err, codes.FailedPrecondition, "Revision '"+shortName(rev2)+"' cannot be deleted because it is receiving traffic or is named in the traffic configuration.")
	op, err := e.revs.DeleteRevision(e.ctx, &runpb.DeleteRevisionRequest{Name: rev1})
	if err != nil {
		t.Fatal(err)
	}
	gone := mustAwait[*runpb.Revision](e, op)
	if gone.GetDeleteTime() == nil || gone.GetName() != rev1 {
		t.Fatalf("deleted revision %v", gone)
	}
	_, err = e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: rev1})
	wantStatus(t, err, codes.NotFound, "")
	_, err = e.revs.GetRevision(e.ctx, &runpb.GetRevisionRequest{Name: "projects/p/locations/us-central1/revisions/x"})
	wantStatus(t, err, codes.InvalidArgument, "")
	_, err = e.revs.ListRevisions(e.ctx, &runpb.ListRevisionsRequest{Parent: testParent + "/services/nope"}).Next()
	wantStatus(t, err, codes.NotFound, "Resource 'nope' of kind 'SERVICE' in region 'us-central1' in project 'demo-project' does not exist.")
}

func TestFirstRevisionFailure(t *testing.T) {
	e := newEnv(t)
	missing := testParent + "/connectors/none"
	op, err := e.svc.CreateService(e.ctx, &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "new", Service: basicService(connectorAccess(missing))})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := op.Metadata()
	msg := "Revision '" + shortName(meta.GetLatestCreatedRevision()) + "' is not ready and cannot serve traffic. VPC connector " + missing + " does not exist, or Cloud Run does not have permission to use it."
	_, err = await[*runpb.Service](e, op)
	wantStatus(t, err, codes.FailedPrecondition, msg)
	got := e.getService("new")
	if got.GetLatestReadyRevision() != "" || len(got.GetTrafficStatuses()) != 0 || got.GetTerminalCondition().GetMessage() != msg ||
		conditionState(got.GetConditions(), "RoutesReady") != runpb.Condition_CONDITION_FAILED {
		t.Fatalf("service after a failed first revision: %v", got)
	}
	// Fixing the template deploys a working revision.
	got.Template.VpcAccess = nil
	fixed := e.mustUpdate(got)
	if fixed.GetLatestReadyRevision() == "" || fixed.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED || len(fixed.GetTrafficStatuses()) != 1 {
		t.Fatalf("fixed service %v", fixed)
	}
}
