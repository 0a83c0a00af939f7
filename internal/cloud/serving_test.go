package cloud

import (
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// What serves a service, read through the real clients: a settled service following its
// latest revision costs no revision read; traffic pinned to an older revision costs one, and
// that revision's own settings are what serves.
func TestServingStateReadsOnlyWhatItNeeds(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	ref := serviceRef(emulator.DemoService)
	w, err := c.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	e.ResetCalls()
	s, err := c.ServingState(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Calls()["google.cloud.run.v2.Revisions/GetRevision"]; n != 0 {
		t.Errorf("%d revision reads for a service that follows its latest revision", n)
	}
	if s.Mode() != egress.ModeConnector || s.TemplateDiffers() || s.Pinned || len(s.Revisions) != 1 || s.Revisions[0].Percent != 100 {
		t.Errorf("serving %+v", s)
	}

	// The template moves to Direct VPC egress while the traffic stays pinned on r0.
	r0 := w.LatestReady
	snap, _ := p.GetWorkload(ctx, ref)
	direct := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoDirectSubnet}
	if _, err := p.Update(ctx, snap, egress.Update{VPC: &direct, Traffic: []egress.TrafficTarget{{Revision: r0, Percent: 100}, {Latest: true, Tag: "next"}}}); err != nil {
		t.Fatal(err)
	}
	w, _ = c.GetWorkload(ctx, ref)
	e.ResetCalls()
	s, err = c.ServingState(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Calls()["google.cloud.run.v2.Revisions/GetRevision"]; n != 1 {
		t.Errorf("%d revision reads, want 1 (the pinned revision)", n)
	}
	if s.Mode() != egress.ModeConnector || !s.TemplateDiffers() || !s.Pinned || s.Template.Mode() != egress.ModeDirect {
		t.Errorf("mode %s, differs %v, pinned %v, template %s", s.Mode(), s.TemplateDiffers(), s.Pinned, s.Template.Mode())
	}
	if got := s.Describe(); !strings.Contains(got, "revision "+r0+" (100%, connector") || !strings.Contains(got, "(0%, tag next, direct") {
		t.Errorf("describe %q", got)
	}
	if r, ok := s.Revision(r0); !ok || r.SameConfig == nil || !*r.SameConfig {
		t.Errorf("pinned revision %+v: its configuration is the template's but for the VPC", r)
	}
	users, err := c.ConnectorUsers(ctx, egress.ConnectorRef{Project: tProject, Region: tRegion, Name: emulator.DemoConnector}, []*Workload{w})
	if err != nil || len(users) != 1 || users[0].Revision != r0 || users[0].Percent != 100 {
		t.Errorf("users %+v, %v", users, err)
	}
}

// A latest revision that cannot start is a failed rollout: the previous revision serves, with
// its own settings.
func TestServingStateFailedLatestRevision(t *testing.T) {
	ctx := testCtx(t)
	_, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	ref := serviceRef(emulator.DemoService)
	snap, err := p.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	r0 := snap.LatestReady
	bad := egress.VPC{Network: emulator.DemoNetwork, Subnet: emulator.DemoConnectorSubnet} // a /28
	if _, err := p.Update(ctx, snap, egress.Update{VPC: &bad}); err == nil {
		t.Fatal("a /28 subnet became ready")
	}
	w, _ := c.GetWorkload(ctx, ref)
	s, err := c.ServingState(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if !s.LatestFailed || !strings.Contains(s.LatestFailure, "/26 or larger") || s.Mode() != egress.ModeConnector || s.Serves(bad) {
		t.Errorf("serving %+v", s)
	}
	if len(s.Revisions) != 1 || s.Revisions[0].Name != r0 {
		t.Errorf("revisions %+v", s.Revisions)
	}
}
