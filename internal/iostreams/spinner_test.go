package iostreams

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBar(t *testing.T) {
	tests := []struct {
		used, total, width int
		want               string
	}{
		{0, 10, 10, "░░░░░░░░░░"},
		{5, 10, 10, "█████░░░░░"},
		{10, 10, 10, "██████████"},
		{1, 1000, 10, "█░░░░░░░░░"},   // anything used shows
		{999, 1000, 10, "█████████░"}, // anything left shows
		{12, 10, 10, "██████████+"},
		{0, 0, 4, "░░░░"},
		{1, 0, 4, "████+"},
		{62, 100, 12, "███████░░░░░"},
		{3, 4, 0, "█"},
	}
	for _, tt := range tests {
		if got := Bar(tt.used, tt.total, tt.width); got != tt.want {
			t.Errorf("Bar(%d, %d, %d) = %q, want %q", tt.used, tt.total, tt.width, got, tt.want)
		}
	}
	for _, tt := range []struct {
		used, total int
		want        string
	}{{62, 100, "███████░░░░░ 62%"}, {1, 1000, "█░░░░░░░░░░░ 1%"}, {0, 15, "░░░░░░░░░░░░ 0%"}, {20, 15, "████████████+ 134%"}} {
		if got := BarPercent(tt.used, tt.total, BarWidth); got != tt.want {
			t.Errorf("BarPercent(%d, %d) = %q, want %q", tt.used, tt.total, got, tt.want)
		}
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tick sends one tick and waits until the spinner has drawn it (a redraw ends with ")").
func tick(t *testing.T, ch chan time.Time, s *IOStreams, errOut interface{ String() string }) string {
	t.Helper()
	s.mu.Lock()
	before := errOut.String()
	s.mu.Unlock()
	ch <- time.Time{}
	for range 1000 {
		s.mu.Lock()
		after := errOut.String()
		s.mu.Unlock()
		if after != before {
			return after[len(before):]
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the spinner did not redraw on a tick")
	return ""
}

func TestSpinner(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetStderrTTY(true)
	s.SetAnimate(true)
	clock := &fakeClock{t: time.Unix(0, 0)}
	ticks := make(chan time.Time)
	sp := s.startSpinner("Creating connector c", clock.now, ticks)
	if got, want := errOut.String(), "\r\x1b[K⠋ Creating connector c (0s)"; got != want {
		t.Fatalf("first frame %q, want %q", got, want)
	}
	clock.add(42 * time.Second)
	if got, want := tick(t, ticks, s, errOut), "\r\x1b[K⠙ Creating connector c (42s)"; got != want {
		t.Errorf("second frame %q, want %q", got, want)
	}
	// A progress message with its own elapsed time: the spinner shows its own.
	if !s.SpinnerStatus("Waiting for connector c (CREATING)... (41.9s)") {
		t.Fatal("SpinnerStatus with a spinner running reported none")
	}
	if got := errOut.String(); !strings.HasSuffix(got, "\r\x1b[K⠙ Waiting for connector c (CREATING)... (42s)") {
		t.Errorf("after Update: %q", got)
	}
	// A progress line prints above the spinner, which is drawn again below it.
	errOut.Reset()
	s.Progressf("Created subnet s.")
	if got, want := errOut.String(), "\r\x1b[KCreated subnet s.\n\r\x1b[K⠙ Waiting for connector c (CREATING)... (42s)"; got != want {
		t.Errorf("progress under a spinner: %q, want %q", got, want)
	}
	clock.add(3 * time.Minute)
	if got, want := tick(t, ticks, s, errOut), "\r\x1b[K⠹ Waiting for connector c (CREATING)... (3m42s)"; got != want {
		t.Errorf("third frame %q, want %q", got, want)
	}
	errOut.Reset()
	sp.Stop()
	sp.Stop() // twice is fine
	if got := errOut.String(); got != "\r\x1b[K" {
		t.Errorf("Stop wrote %q, want the line cleared", got)
	}
	if s.SpinnerStatus("x") {
		t.Error("SpinnerStatus after Stop reported a spinner")
	}
	errOut.Reset()
	s.Progressf("after")
	if got := errOut.String(); got != "after\n" {
		t.Errorf("progress after the spinner stopped: %q", got)
	}
}

// No spinner in a pipe, on a terminal that cannot animate, or when quiet: nothing written.
func TestSpinnerOnlyWhenItCanAnimate(t *testing.T) {
	for _, tt := range []struct {
		name           string
		animate, quiet bool
	}{{"pipe", false, false}, {"quiet", true, true}} {
		s, _, _, errOut := Test()
		s.SetStderrTTY(true)
		s.SetAnimate(tt.animate)
		s.SetQuiet(tt.quiet)
		sp := s.StartSpinner("Creating subnet s")
		sp.Update("still")
		if s.SpinnerStatus("x") {
			t.Errorf("%s: a spinner runs", tt.name)
		}
		sp.Stop()
		if errOut.Len() != 0 {
			t.Errorf("%s: wrote %q", tt.name, errOut.String())
		}
	}
	// Test streams do not animate unless told to.
	s, _, _, _ := Test()
	s.SetStderrTTY(true)
	if s.CanAnimate() {
		t.Error("test streams animate by default")
	}
}

// A second spinner replaces the first; a question clears a running spinner for good.
func TestSpinnerReplacedAndConfirm(t *testing.T) {
	s, in, _, errOut := Test()
	s.SetStdinTTY(true)
	s.SetStderrTTY(true)
	s.SetAnimate(true)
	clock := &fakeClock{t: time.Unix(0, 0)}
	a := s.startSpinner("first", clock.now, make(chan time.Time))
	b := s.startSpinner("second", clock.now, make(chan time.Time))
	if got, want := errOut.String(), "\r\x1b[K⠋ first (0s)\r\x1b[K\r\x1b[K⠋ second (0s)"; got != want {
		t.Errorf("replaced: %q, want %q", got, want)
	}
	a.Stop() // already stopped: nothing more
	errOut.Reset()
	in.WriteString("y\n")
	ok, err := s.Confirm("Proceed?")
	if err != nil || !ok {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
	if got := errOut.String(); got != "\r\x1b[KProceed? [y/N]: " {
		t.Errorf("confirm under a spinner wrote %q", got)
	}
	errOut.Reset()
	b.Stop()
	if errOut.Len() != 0 {
		t.Errorf("stopping a cleared spinner wrote %q", errOut.String())
	}
}

func TestSpinnerTruncatesToWidth(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetAnimate(true)
	s.termWidth = func() int { return 20 }
	sp := s.startSpinner(strings.Repeat("x", 50), time.Now, make(chan time.Time))
	defer sp.Stop()
	line := strings.TrimPrefix(errOut.String(), "\r\x1b[K")
	if n := len([]rune(line)); n != 19 || !strings.HasSuffix(line, "… (0s)") {
		t.Errorf("line %q (%d runes), want 19 ending with … (0s)", line, n)
	}
}

// A long description is shortened, not the elapsed time after it: on an 80-column terminal
// "Waiting for Cloud Run to release ... in subnet ..." would otherwise hide the time.
func TestSpinnerTruncationKeepsElapsed(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetAnimate(true)
	s.termWidth = func() int { return 40 }
	clock := &fakeClock{t: time.Unix(0, 0)}
	ticks := make(chan time.Time)
	sp := s.startSpinner("Waiting for Cloud Run to release 1 serverless-ipv4 address in subnet run-direct-vpc-egress", clock.now, ticks)
	defer sp.Stop()
	clock.add(83 * time.Second)
	line := strings.TrimPrefix(tick(t, ticks, s, errOut), "\r\x1b[K")
	if n := len([]rune(line)); n != 39 || !strings.HasSuffix(line, "… (1m23s)") || !strings.HasPrefix(line, "⠙ Waiting for Cloud Run") {
		t.Errorf("line %q (%d runes), want 39 starting with the frame and the text, ending with … (1m23s)", line, n)
	}
}

func TestSpinnerText(t *testing.T) {
	for in, want := range map[string]string{
		"Creating connector c... (12.3s)":           "Creating connector c...",
		"Waiting for connector c (CREATING)...":     "Waiting for connector c (CREATING)...",
		"two\nlines (1m2s)":                         "two lines",
		"Waiting for revision r to become ready...": "Waiting for revision r to become ready...",
	} {
		if got := spinnerText(in); got != want {
			t.Errorf("spinnerText(%q) = %q, want %q", in, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 65 * time.Second: "1m05s", 2*time.Hour + 3*time.Minute: "2h03m"} {
		if got := formatElapsed(d); got != want {
			t.Errorf("formatElapsed(%v) = %q, want %q", d, got, want)
		}
	}
}
