package world

import (
	"net/netip"
	"testing"
	"time"

	compute "google.golang.org/api/compute/v1"
)

// The data plane's state survives a snapshot and a restore, the metrics timeline included.
func TestNetStateRoundTrip(t *testing.T) {
	w := newTestWorld(t)
	w.Lock()
	w.S.Net.Destinations["db"] = &Destination{Name: "db", IP: "10.0.0.5", Port: 5432, Allow: []string{"10.8.0.0/24"}}
	w.S.Net.NetworkFirewallPolicies["p/pol"] = &compute.FirewallPolicy{Name: "pol", Rules: []*compute.FirewallPolicyRule{{Priority: 1, Action: "deny"}}}
	w.S.Net.Quotas["p/asia-northeast1"] = 7
	w.S.Net.Timeline = []*Segment{{Start: w.Now(), Revisions: map[string]*RevisionSample{"r": {RPS: 2}}}}
	w.Unlock()
	b, err := w.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	w2 := newTestWorld(t)
	if err := w2.Restore(b); err != nil {
		t.Fatal(err)
	}
	w2.Lock()
	defer w2.Unlock()
	n := w2.S.Net
	if n.Destinations["db"].Allow[0] != "10.8.0.0/24" || n.NetworkFirewallPolicies["p/pol"].Rules[0].Action != "deny" ||
		w2.DirectVPCQuotaLocked("p", "asia-northeast1") != 7 || len(n.Timeline) != 1 || n.Timeline[0].Revisions["r"].RPS != 2 || n.Routes == nil {
		t.Fatalf("net state lost in round trip: %+v", n)
	}
	if w2.DirectVPCQuotaLocked("p", "us-central1") != DefaultDirectVPCQuota {
		t.Error("an unset quota is not the default")
	}
}

// Integrate sums piecewise-constant rates exactly over any window.
func TestIntegrate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := &NetState{Timeline: []*Segment{
		{Start: t0, Revisions: map[string]*RevisionSample{"r": {RPS: 1}}},
		{Start: t0.Add(time.Minute), Revisions: map[string]*RevisionSample{"r": {RPS: 3}}},
	}}
	rate := func(s *Segment) float64 {
		if r := s.Revisions["r"]; r != nil {
			return r.RPS
		}
		return 0
	}
	for _, c := range []struct {
		from, to time.Duration
		want     float64
	}{{-time.Minute, 0, 0}, {0, time.Minute, 60}, {30 * time.Second, 90 * time.Second, 30 + 90}, {time.Minute, 3 * time.Minute, 360}} {
		if got := n.Integrate(t0.Add(c.from), t0.Add(c.to), rate); got != c.want {
			t.Errorf("[%v, %v): %g, want %g", c.from, c.to, got, c.want)
		}
	}
	if s := n.SegmentAt(t0.Add(59 * time.Second)); s != n.Timeline[0] {
		t.Error("SegmentAt picked the wrong segment")
	}
}

// A segment starts only when the rates change.
func TestRecordSegmentOnChange(t *testing.T) {
	w := newTestWorld(t)
	w.EnableMetrics()
	w.Lock()
	before := len(w.S.Net.Timeline)
	w.MarkChangedLocked()
	w.Unlock()
	w.Advance(time.Minute)
	w.Lock()
	defer w.Unlock()
	if len(w.S.Net.Timeline) != before {
		t.Errorf("timeline grew from %d to %d segments with nothing changing", before, len(w.S.Net.Timeline))
	}
}

// Firewall source matching: an allow rule must cover the whole source range, a deny rule
// applies as soon as it overlaps it.
func TestSourceRangeMatching(t *testing.T) {
	src := netip.MustParsePrefix("10.8.0.0/24")
	for _, c := range []struct {
		ranges []string
		deny   bool
		want   bool
	}{
		{[]string{"10.8.0.0/16"}, false, true},
		{[]string{"10.8.0.0/25"}, false, false},
		{[]string{"10.8.0.0/25"}, true, true},
		{[]string{"10.9.0.0/24"}, true, false},
		{[]string{"10.8.0.7"}, true, true},
	} {
		if got := srcIn(c.ranges, src, c.deny); got != c.want {
			t.Errorf("srcIn(%v, deny %v) = %v", c.ranges, c.deny, got)
		}
	}
	if !protoPortMatches("tcp", []string{"5000-6000"}, 5432) || protoPortMatches("udp", nil, 53) || !protoPortMatches("all", []string{"1"}, 80) {
		t.Error("protocol and port matching")
	}
}
