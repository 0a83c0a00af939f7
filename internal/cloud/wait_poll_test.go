package cloud

import (
	"testing"
	"time"
)

func TestPollSleep(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct{ elapsed, rtt, want time.Duration }{
		{0, 0, minPoll},                      // first poll
		{0, 20 * ms, 30 * ms},                // polls minPoll apart, send to send
		{0, 100 * ms, 0},                     // a slow API: poll again at once, never faster than it answers
		{2 * time.Second, 0, 200 * ms},       // a tenth of the time waited
		{2 * time.Second, 20 * ms, 160 * ms}, // sent 180 ms apart: seen within 190 ms < 200 ms
		{10 * time.Minute, time.Second, 8 * time.Second},
	} {
		if got := pollSleep(tt.elapsed, tt.rtt); got != tt.want {
			t.Errorf("pollSleep(%v, %v) = %v, want %v", tt.elapsed, tt.rtt, got, tt.want)
		}
	}
}

// A completion is seen within pollInterval of happening, the answer's way back included,
// whatever the round trip, as long as the API answers within half the interval (a slower one
// is polled back to back).
func TestPollSleepBoundsLag(t *testing.T) {
	for elapsed := time.Duration(0); elapsed < 3*time.Minute; elapsed += 333 * time.Millisecond {
		for _, rtt := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, 400 * time.Millisecond} {
			iv := pollInterval(elapsed)
			if iv-rtt < minPoll || iv < 2*rtt {
				continue // the floor (one call per minPoll at most), or polls back to back
			}
			gap := pollSleep(elapsed, rtt) + rtt // send to send
			if lag := gap + rtt/2; lag > iv {
				t.Fatalf("elapsed %v, rtt %v: worst lag %v, want at most %v", elapsed, rtt, lag, iv)
			}
			if gap < minPoll {
				t.Fatalf("elapsed %v, rtt %v: polls %v apart, under %v", elapsed, rtt, gap, minPoll)
			}
		}
	}
}
