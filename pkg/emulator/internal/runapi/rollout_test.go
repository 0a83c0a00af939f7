package runapi

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// One UpdateService that changes the template and leaves the traffic to follow it (traffic
// on LATEST, or the new revision named in template.revision and given the old revision's
// share) is a whole switch: Cloud Run routes the traffic to the new revision once it is Ready,
// and a revision that fails leaves the traffic where it was, the service's conditions saying
// why (Service.reconciling in google/cloud/run/v2/service.proto). The revision delay is an
// hour of virtual time, so that what serves while the revision starts is read for certain
// before it settles (Advance settles it).
func TestOneUpdateMovesTrafficOnlyOnceReady(t *testing.T) {
	latest := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	named := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	const newRev = "app-direct"
	for _, tc := range []struct {
		name string
		// pin, when set, pins the traffic to the first revision before the switch.
		pin bool
		// fail makes the new revision fail (its subnetwork does not exist).
		fail bool
	}{
		{"latest, ready", false, false},
		{"latest, failed", false, true},
		{"named revision, ready", true, false},
		{"named revision, failed", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const delay = time.Hour
			e := newEnvWith(t, world.Config{LRODuration: 20 * time.Millisecond, RevisionReady: 30 * time.Millisecond, IPRelease: time.Minute})
			e.addNetwork(testProject, "vpc")
			e.addSubnet(testProject, testRegion, "run", "vpc", "10.10.0.0/24")
			conn := e.addConnector(testProject, testRegion, "c1", "vpc", "10.8.0.0/28", vpcaccesspb.Connector_READY)
			svc := e.createService("app", basicService(connectorAccess(conn)))
			rev1 := svc.GetLatestReadyRevision()
			if tc.pin {
				svc.Traffic = []*runpb.TrafficTarget{{Type: named, Revision: shortName(rev1), Percent: 100}}
				svc = e.mustUpdate(svc)
			}
			before := proto.Clone(svc).(*runpb.Service)
			e.w.SetConfig(world.Config{LRODuration: 20 * time.Millisecond, RevisionReady: delay, IPRelease: time.Minute})

			subnet := "run"
			if tc.fail {
				subnet = "nosuch"
			}
			svc.Template.VpcAccess = directAccess("vpc", subnet)
			svc.Template.Revision = newRev
			if tc.pin {
				svc.Traffic = []*runpb.TrafficTarget{{Type: named, Revision: newRev, Percent: 100}}
			}
			op, err := e.update(svc)
			if err != nil {
				t.Fatalf("UpdateService: %v", err)
			}
			rev2 := testParent + "/services/app/revisions/" + newRev

			// While the new revision starts, the old one serves everything.
			mid := e.getService("app")
			if !mid.GetReconciling() || mid.GetLatestCreatedRevision() != rev2 || mid.GetLatestReadyRevision() != rev1 {
				t.Fatalf("while starting: reconciling %v, created %q, ready %q", mid.GetReconciling(), mid.GetLatestCreatedRevision(), mid.GetLatestReadyRevision())
			}
			if !sameStatuses(mid, before) {
				t.Fatalf("traffic moved before the revision was ready: %v", mid.GetTrafficStatuses())
			}
			if mid.GetObservedGeneration() != before.GetGeneration() || mid.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_PENDING {
				t.Fatalf("while starting: observed %d (was %d), terminal %v", mid.GetObservedGeneration(), before.GetGeneration(), mid.GetTerminalCondition())
			}
			if e.instances(rev1) != 1 {
				t.Fatalf("old revision runs %d instances while the new one starts", e.instances(rev1))
			}

			e.w.Advance(delay)
			res, err := await[*runpb.Service](e, op)
			got := e.getService("app")
			if got.GetReconciling() || got.GetLatestCreatedRevision() != rev2 {
				t.Fatalf("after: reconciling %v, created %q", got.GetReconciling(), got.GetLatestCreatedRevision())
			}
			if tc.fail {
				msg := "Revision '" + newRev + "' is not ready and cannot serve traffic. VPC subnetwork projects/" + testProject + "/regions/" + testRegion + "/subnetworks/nosuch does not exist, or Cloud Run does not have permission to use it."
				wantStatus(t, err, codes.FailedPrecondition, msg)
				if got.GetLatestReadyRevision() != rev1 || !sameStatuses(got, before) {
					t.Fatalf("a failed revision moved the traffic: ready %q, statuses %v", got.GetLatestReadyRevision(), got.GetTrafficStatuses())
				}
				if tc := got.GetTerminalCondition(); tc.GetState() != runpb.Condition_CONDITION_FAILED || tc.GetMessage() != msg {
					t.Fatalf("terminal condition %v", tc)
				}
				if conditionState(got.GetConditions(), condConfigurationsRdy) != runpb.Condition_CONDITION_FAILED {
					t.Fatalf("conditions %v", got.GetConditions())
				}
				if e.instances(rev1) != 1 || e.instances(rev2) != 0 {
					t.Fatalf("instances: old %d, new %d", e.instances(rev1), e.instances(rev2))
				}
				// The traffic the request asked for stays asked for: the next change fixes it.
				if !proto.Equal(&runpb.Service{Traffic: got.GetTraffic()}, &runpb.Service{Traffic: svc.GetTraffic()}) {
					t.Fatalf("traffic spec %v, want what was sent", got.GetTraffic())
				}
				return
			}
			if err != nil {
				t.Fatalf("operation failed: %v", err)
			}
			if res.GetLatestReadyRevision() != rev2 || res.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED {
				t.Fatalf("operation result: ready %q, terminal %v", res.GetLatestReadyRevision(), res.GetTerminalCondition())
			}
			ts := got.GetTrafficStatuses()
			if len(ts) != 1 || ts[0].GetPercent() != 100 {
				t.Fatalf("statuses %v", ts)
			}
			if tc.pin && (ts[0].GetType() != named || ts[0].GetRevision() != newRev) || !tc.pin && ts[0].GetType() != latest {
				t.Fatalf("statuses %v", ts)
			}
			if e.instances(rev1) != 0 || e.instances(rev2) != 1 {
				t.Fatalf("instances: old %d, new %d", e.instances(rev1), e.instances(rev2))
			}
		})
	}
}

// sameStatuses reports whether two reads of a service route the same traffic.
func sameStatuses(a, b *runpb.Service) bool {
	return proto.Equal(&runpb.Service{TrafficStatuses: a.GetTrafficStatuses()}, &runpb.Service{TrafficStatuses: b.GetTrafficStatuses()})
}
