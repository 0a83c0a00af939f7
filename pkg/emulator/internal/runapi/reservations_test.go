package runapi

import (
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// TestReservationsFillASlash26 walks a /26 (3 blocks of 16 addresses) through revisions: each
// new revision takes a block while the one it replaces keeps its block for the IP release
// delay, so the fourth revision fails until time passes.
func TestReservationsFillASlash26(t *testing.T) {
	e := newEnv(t)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "small", "vpc", "10.0.0.0/26")
	key := world.RegionalKey(testProject, testRegion, "small")
	reserved := func() int {
		var n int
		e.locked(func() { _, n, _ = e.w.SubnetBlocksLocked(key) })
		return n
	}
	svc := e.createService("svc", basicService(directAccess("vpc", "small")))
	revs := []string{svc.GetLatestReadyRevision()}
	if got := reserved(); got != 1 {
		t.Fatalf("after revision 1: %d blocks", got)
	}
	for i := 2; i <= 3; i++ {
		svc.Template.Containers[0].Image = testImage + ":" + string(rune('0'+i))
		svc = e.mustUpdate(svc)
		revs = append(revs, svc.GetLatestReadyRevision())
		if got := reserved(); got != i {
			t.Fatalf("after revision %d: %d blocks reserved", i, got)
		}
		prev := revs[len(revs)-2]
		if held, releasing := e.blocks(prev); held != 0 || releasing != 1 {
			t.Fatalf("replaced revision holds %d, releasing %d", held, releasing)
		}
	}
	// The subnet is full: revision 4 cannot start.
	svc.Template.Containers[0].Image = testImage + ":4"
	op, err := e.update(svc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = await[*runpb.Service](e, op)
	wantStatus(t, err, codes.FailedPrecondition, "")
	cur := e.getService("svc")
	if cur.GetLatestReadyRevision() != revs[2] {
		t.Fatalf("latest ready moved to %q", cur.GetLatestReadyRevision())
	}
	// After the release delay the blocks of revisions 1 and 2 come back; a retry works.
	e.w.Advance(time.Minute)
	if got := reserved(); got != 1 {
		t.Fatalf("after the release delay: %d blocks", got)
	}
	cur.Template.Containers[0].Image = testImage + ":5"
	cur = e.mustUpdate(cur)
	if held, _ := e.blocks(cur.GetLatestReadyRevision()); held != 1 {
		t.Fatalf("new revision holds %d blocks", held)
	}
}

func TestMinInstancesAndScaling(t *testing.T) {
	e := newEnv(t)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "run", "vpc", "10.0.0.0/24") // 15 blocks
	s := basicService(directAccess("vpc", "run"))
	s.Template.Scaling = &runpb.RevisionScaling{MinInstanceCount: 9}
	svc := e.createService("svc", s)
	rev := svc.GetLatestReadyRevision()
	if held, _ := e.blocks(rev); held != 2 || e.instances(rev) != 9 {
		t.Fatalf("9 instances hold %d blocks, %d instances", held, e.instances(rev))
	}
	e.locked(func() {
		if err := ScaleRevisionLocked(e.w, rev, 40); err != nil {
			t.Fatal(err)
		}
	})
	if held, _ := e.blocks(rev); held != 5 || e.instances(rev) != 40 {
		t.Fatalf("40 instances: %d blocks, %d instances", held, e.instances(rev))
	}
	e.locked(func() {
		err := ScaleRevisionLocked(e.w, rev, 200)
		wantStatus(t, err, codes.FailedPrecondition, insufficientIPs(&directTarget{testProject, testRegion, "run"}))
	})
	if held, _ := e.blocks(rev); held != 5 || e.instances(rev) != 40 {
		t.Fatalf("a failed scale-up changed things: %d blocks, %d instances", held, e.instances(rev))
	}
	e.locked(func() {
		if err := ScaleRevisionLocked(e.w, rev, 1); err != nil {
			t.Fatal(err)
		}
	})
	if held, releasing := e.blocks(rev); held != 1 || releasing != 4 {
		t.Fatalf("scale-down: held %d releasing %d", held, releasing)
	}
	e.w.Advance(time.Minute)
	if held, releasing := e.blocks(rev); held != 1 || releasing != 0 {
		t.Fatalf("after release: held %d releasing %d", held, releasing)
	}
	e.locked(func() {
		if err := ScaleRevisionLocked(e.w, rev, 0); err != nil {
			t.Fatal(err)
		}
		if err := ScaleRevisionLocked(e.w, rev+"x", 1); err == nil {
			t.Fatal("scaled a missing revision")
		}
	})
	if e.instances(rev) != 0 {
		t.Fatal("scale to 0 left instances")
	}

	// A revision that is still starting cannot be scaled.
	svc.Template.Containers[0].Image = testImage + ":2"
	op, err := e.update(svc)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := op.Metadata()
	e.locked(func() {
		if err := ScaleRevisionLocked(e.w, meta.GetLatestCreatedRevision(), 2); !errors.Is(err, ErrRevisionNotReady) {
			t.Errorf("scaling a starting revision: %v", err)
		}
	})
	mustAwait[*runpb.Service](e, op)
}

// TestTrafficGainNeedsAddresses: a Ready revision at 0% that gains traffic must get addresses;
// when the subnet is full the traffic change fails and traffic stays where it was.
func TestTrafficGainNeedsAddresses(t *testing.T) {
	e := newEnv(t)
	e.addNetwork(testProject, "vpc")
	e.addSubnet(testProject, testRegion, "small", "vpc", "10.0.0.0/26")
	svc := e.createService("svc", basicService(nil))
	rev1 := shortName(svc.GetLatestReadyRevision())
	revision := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	svc.Template.VpcAccess = directAccess("vpc", "small")
	svc.Template.Revision = "svc-direct"
	svc.Traffic = []*runpb.TrafficTarget{{Type: revision, Revision: rev1, Percent: 100}, {Type: revision, Revision: "svc-direct", Tag: "next"}}
	svc = e.mustUpdate(svc)
	// Someone else fills the subnet meanwhile (the startup block is still held for 1 minute).
	e.locked(func() {
		if err := e.w.SetHeldBlocksLocked(testProject, testRegion, "small", "other", 2); err != nil {
			t.Fatal(err)
		}
	})
	svc.Traffic = []*runpb.TrafficTarget{{Type: revision, Revision: rev1, Percent: 50}, {Type: revision, Revision: "svc-direct", Percent: 50, Tag: "next"}}
	op, err := e.update(svc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = await[*runpb.Service](e, op)
	wantStatus(t, err, codes.FailedPrecondition, "Revision 'svc-direct' is not ready and cannot serve traffic. "+insufficientIPs(&directTarget{testProject, testRegion, "small"}))
	got := e.getService("svc")
	if got.GetTrafficStatuses()[0].GetPercent() != 100 || e.instances(testParent+"/services/svc/revisions/svc-direct") != 0 {
		t.Fatalf("traffic moved: %v", got.GetTrafficStatuses())
	}
	e.w.Advance(time.Minute)
	got.Traffic = svc.Traffic
	got = e.mustUpdate(got)
	if got.GetTrafficStatuses()[1].GetPercent() != 50 || e.instances(testParent+"/services/svc/revisions/svc-direct") != 1 {
		t.Fatalf("after the release delay: %v", got.GetTrafficStatuses())
	}
}
