package cloud

import (
	"context"
	"errors"
	"testing"
)

func TestWritePacerBucketPerProjectAndRegion(t *testing.T) {
	p := NewWritePacer(60, 3) // one write a second after a burst of three
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	// The burst goes at once: even a cancelled context is not consulted.
	for i := range 3 {
		if err := p.Wait(done, "team-a", "asia-northeast1"); err != nil {
			t.Fatalf("write %d of the burst: %v", i+1, err)
		}
	}
	// The fourth must wait: with a context that has ended, it gives up.
	err := p.Wait(done, "team-a", "asia-northeast1")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("fourth write: %v, want it to wait (context canceled)", err)
	}
	// Other projects and other regions have their own quota.
	for _, pr := range [][2]string{{"team-b", "asia-northeast1"}, {"team-a", "us-central1"}} {
		if err := p.Wait(done, pr[0], pr[1]); err != nil {
			t.Errorf("%s/%s: %v", pr[0], pr[1], err)
		}
	}
	if n, _ := p.Stats(); n != 0 {
		t.Errorf("waits = %d before any write waited", n)
	}
	// A cancelled wait gave its token back: the next write waits for one token only, and
	// then counts as a wait.
	fast := NewWritePacer(60*1000, 1) // a token a millisecond
	_ = fast.Wait(ctx, "p", "r")
	if err := fast.Wait(ctx, "p", "r"); err != nil {
		t.Fatal(err)
	}
	if n, d := fast.Stats(); n != 1 || d <= 0 {
		t.Errorf("stats = %d waits, %v", n, d)
	}
}

func TestClientsPacerDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{EmulatorHost: "127.0.0.1:1"}, false},                     // the emulator has no quota
		{Config{EmulatorHost: "127.0.0.1:1", WritesPerMinute: 30}, true}, // asked for
		{Config{}, true},                     // Google: the documented default
		{Config{WritesPerMinute: -1}, false}, // turned off
	} {
		c := New(context.Background(), tc.cfg)
		if got := c.pacer() != nil; got != tc.want {
			t.Errorf("%+v: pacer %v, want %v", tc.cfg, got, tc.want)
		}
	}
	var nilPacer *WritePacer
	if err := nilPacer.Wait(context.Background(), "p", "r"); err != nil {
		t.Error(err)
	}
}
