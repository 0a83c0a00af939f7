package cloud

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
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

// fakeClock is a Clock that moves only when the test says: its waits are announced on
// waiting and fire on Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	waiting chan time.Duration
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), waiting: make(chan time.Duration, 16)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	c := make(chan time.Time, 1)
	f.timers = append(f.timers, fakeTimer{f.now.Add(d), c})
	f.mu.Unlock()
	f.waiting <- d
	return c, func() {}
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(f.now) {
			t.c <- f.now
			continue
		}
		kept = append(kept, t)
	}
	f.timers = kept
}

// The write path waits for the pace before it sends: with a quota of one write a second
// and no burst beyond one, a second update of the same project and region is not sent until
// the clock has moved a second.
func TestUpdatePacedOnTheWritePath(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	clock := newFakeClock()
	c.SetWritePacer(NewWritePacerClock(60, 1, clock))
	p := &Platform{C: c}
	const update = "google.cloud.run.v2.Services/UpdateService"
	ref := serviceRef(emulator.DemoService)
	s0, err := p.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	metadata := func(v string) egress.Update { return egress.Update{Journal: &v} }
	e.ResetCalls()

	// The first write spends the burst.
	s1, err := p.Update(ctx, s0, metadata("one"))
	if err != nil {
		t.Fatal(err)
	}
	if n := e.Calls()[update]; n != 1 {
		t.Fatalf("first write: %d calls", n)
	}
	// The second waits on the clock for a second, and sends nothing meanwhile.
	done := make(chan error, 1)
	go func() {
		_, err := p.Update(ctx, s1, metadata(""))
		done <- err
	}()
	if d := <-clock.waiting; d != time.Second {
		t.Errorf("the second write waits %v, want 1s", d)
	}
	if n := e.Calls()[update]; n != 1 {
		t.Fatalf("while paced: %d calls, want 1", n)
	}
	clock.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.Calls()[update]; n != 2 {
		t.Errorf("after the pace: %d calls, want 2", n)
	}
	if waits, waited := c.WritePaceStats(); waits != 1 || waited != time.Second {
		t.Errorf("stats = %d waits, %v", waits, waited)
	}
}
