package runapi

import (
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// A change made while an earlier one is still settling finishes after its own revision delay:
// the earlier change's controller pass must not route the later change's traffic, nor end its
// operation, early.
func TestLaterChangeIsNotSettledByAnEarlierPass(t *testing.T) {
	const ready = 400 * time.Millisecond
	e := newEnvWith(t, world.Config{LRODuration: 20 * time.Millisecond, RevisionReady: ready, IPRelease: time.Minute})
	conn := e.addConnector(testProject, testRegion, "c1", "default", "10.8.0.0/28", vpcaccesspb.Connector_READY)
	e.createService("web", basicService(connectorAccess(conn)))

	// A new revision at 0% with a tag, then wait until it is Ready.
	s := e.getService("web")
	s.Template.Labels = map[string]string{"v": "2"}
	s.Traffic = []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: lastSegment(s.GetLatestReadyRevision()), Percent: 100},
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Tag: "next"},
	}
	s = e.mustUpdate(s)

	// An annotation-only change, and shortly after it a traffic change.
	s.Annotations = map[string]string{"note": "first"}
	if _, err := e.update(s); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ready / 2)
	s = e.getService("web")
	s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100}}
	op, err := e.update(s)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	got, err := e.lro.WaitOperation(e.ctx, &longrunningpb.WaitOperationRequest{Name: op.Name(), Timeout: durationpb.New(10 * time.Second)})
	if err != nil || !got.GetDone() {
		t.Fatalf("traffic change: done=%v err=%v", got.GetDone(), err)
	}
	if took := time.Since(sent); took < ready*3/4 {
		t.Errorf("traffic change finished %v after it was sent, before its own %v revision delay (an earlier pass settled it)", took, ready)
	}
}
