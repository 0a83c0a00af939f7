package cloud

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

func TestRetryDelayFromRetryAfter(t *testing.T) {
	ge := &googleapi.Error{Code: http.StatusTooManyRequests, Header: http.Header{"Retry-After": []string{"2"}}}
	if d, ok := retryDelay(ge); !ok || d != 2*time.Second {
		t.Errorf("Retry-After 2: %v %v", d, ok)
	}
	ge.Header.Set("Retry-After", "86400")
	if d, ok := retryDelay(ge); !ok || d != maxServerDelay {
		t.Errorf("Retry-After a day: %v %v, want the cap", d, ok)
	}
	ge.Header.Set("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
	if _, ok := retryDelay(ge); ok {
		t.Error("an HTTP date is not a delay runnet reads")
	}
}

// An update whose response is lost (applied, then UNAVAILABLE) is recognised by a fresh read:
// runnet does not send it again (which would meet its own change as ABORTED) and reports
// success once the new revision is ready.
func TestUpdateLostResponseLanded(t *testing.T) {
	ctx, e, p, s0 := demoService(t)
	direct := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoDirectSubnet}
	journal := `{"v":1}`
	e.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Unavailable, Count: 1, AfterCommit: true})
	e.ResetCalls()
	s1, err := p.Update(ctx, s0, egress.Update{VPC: &direct, Traffic: []egress.TrafficTarget{{Revision: s0.LatestReady, Percent: 100}, {Latest: true, Tag: "new"}}, Journal: &journal})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if n := e.Calls()["google.cloud.run.v2.Services/UpdateService"]; n != 1 {
		t.Errorf("%d updates sent, want 1", n)
	}
	if s1.LatestCreated == s0.LatestCreated || s1.LatestReady != s1.LatestCreated || s1.Journal != journal || s1.VPC.Mode() != egress.ModeDirect {
		t.Errorf("after: %+v (journal %q)", s1.Workload, s1.Journal)
	}

	// Not applied (UNAVAILABLE before it lands): sent again, once.
	e.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Unavailable, Count: 1})
	e.ResetCalls()
	empty := ""
	s2, err := p.Update(ctx, s1, egress.Update{Journal: &empty, NoWait: true})
	if err != nil || s2.Journal != "" || s2.LatestCreated != s1.LatestCreated {
		t.Fatalf("metadata update: %v, %+v", err, s2)
	}
	if n := e.Calls()["google.cloud.run.v2.Services/UpdateService"]; n != 2 {
		t.Errorf("%d updates sent, want 2", n)
	}
}

// A stale update reads the workload again and says what someone else changed: a change of
// other fields (labels, the image) is absorbed, the update sent again from the fresh read and
// their change kept; a change of the traffic stops it, naming the field and another run's
// (here unreadable) journal.
func TestUpdateConflictPolicy(t *testing.T) {
	ctx, e, p, s0 := demoService(t)
	c, ref := p.C, s0.Ref
	svcs, _ := c.Services()
	other := func(edit func(*runpb.Service)) {
		t.Helper()
		cur, err := c.GetWorkload(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		m := proto.Clone(cur.Raw).(*runpb.Service)
		edit(m)
		op, err := svcs.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	other(func(s *runpb.Service) {
		s.Labels = map[string]string{"team": "x"}
		s.Template.Containers[0].Image += "-2"
	})
	e.ResetCalls()
	v := `{"v":1,"id":"mine"}`
	s1, err := p.Update(ctx, s0, egress.Update{Journal: &v, NoWait: true})
	if err != nil {
		t.Fatalf("labels and image: %v", err)
	}
	if n := e.Calls()["google.cloud.run.v2.Services/UpdateService"]; n != 2 || s1.Journal != v ||
		s1.Handle.(*Workload).Raw.(*runpb.Service).GetLabels()["team"] != "x" {
		t.Errorf("labels and image: %d updates sent, journal %q, labels %v", n, s1.Journal, s1.Handle.(*Workload).Raw.(*runpb.Service).GetLabels())
	}
	other(func(s *runpb.Service) {
		s.Traffic = append(s.Traffic, &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: s1.LatestReady, Tag: "t"})
		s.Annotations = map[string]string{egress.JournalAnnotation: "not a journal"}
	})
	empty := ""
	_, err = p.Update(ctx, s1, egress.Update{Journal: &empty, NoWait: true})
	var ce *egress.ConflictError
	if !errors.As(err, &ce) || !ce.TouchesMigration || len(ce.Fields) != 1 || ce.Fields[0] != "traffic" || ce.Journal == nil || ce.Journal.ID != "unreadable" ||
		ce.Current == nil || !errors.Is(err, egress.ErrNotApplied) || !errors.Is(err, egress.ErrConflict) {
		t.Fatalf("traffic: %v (%+v)", err, ce)
	}
	// A conflict that never clears (the API keeps refusing, nothing visible changed) stops
	// after DefaultConflicts.MaxResends resends.
	s2, _ := p.GetWorkload(ctx, ref)
	e.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Aborted, Count: 10})
	e.ResetCalls()
	_, err = p.Update(ctx, s2, egress.Update{Journal: &empty, NoWait: true})
	if !errors.As(err, &ce) || len(ce.Fields) != 0 || e.Calls()["google.cloud.run.v2.Services/UpdateService"] != DefaultConflicts.MaxResends+1 {
		t.Fatalf("refused again and again: %v, %d updates", err, e.Calls()["google.cloud.run.v2.Services/UpdateService"])
	}
}

// The journal is metadata: writing and removing it changes the etag (other writers see it)
// but makes no revision and moves no traffic, for services, jobs and worker pools alike.
func TestJournalAnnotationMakesNoRevision(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	for _, ref := range []egress.WorkloadRef{serviceRef(emulator.DemoService), {Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: emulator.DemoJob}} {
		s0, err := p.GetWorkload(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		v := `{"v":1,"id":"x"}`
		s1, err := p.Update(ctx, s0, egress.Update{Journal: &v})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		empty := ""
		s2, err := p.Update(ctx, s1, egress.Update{Journal: &empty})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if s1.Journal != v || s2.Journal != "" || s1.Etag == s0.Etag || s2.Etag == s1.Etag {
			t.Errorf("%s: journal %q then %q; etags %s %s %s", ref, s1.Journal, s2.Journal, s0.Etag, s1.Etag, s2.Etag)
		}
		if s2.LatestCreated != s0.LatestCreated || s2.LatestReady != s0.LatestReady || !slices.Equal(s0.TrafficStatus, s2.TrafficStatus) {
			t.Errorf("%s: revisions %s/%s → %s/%s, traffic %v → %v", ref, s0.LatestCreated, s0.LatestReady, s2.LatestCreated, s2.LatestReady, s0.TrafficStatus, s2.TrafficStatus)
		}
		if changed := ChangedFields(s0.Handle.(*Workload).Raw, s2.Handle.(*Workload).Raw); len(changed) != 0 {
			t.Errorf("%s: fields changed: %v", ref, changed)
		}
	}
}

// demoService starts an emulator with the demo world and reads its service through the
// platform.
func demoService(t *testing.T) (context.Context, *emulator.Emulator, *Platform, *egress.Snapshot) {
	t.Helper()
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	s, err := p.GetWorkload(ctx, serviceRef(emulator.DemoService))
	if err != nil {
		t.Fatal(err)
	}
	return ctx, e, p, s
}
