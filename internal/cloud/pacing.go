package cloud

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacing of Cloud Run Admin API writes. The Admin API's write quota is counted per project and
// per region: its quota errors name the limit "Write requests per minute per region" of
// run.googleapis.com for a consumer project (the read side's recorded form: "Quota exceeded for
// quota metric 'Read requests' and limit 'Read requests per minute per region' of service
// 'run.googleapis.com'", limit ReadPerMinutePerProjectRegion). Cloud Run docs, "Cloud Run
// quotas and limits" (API rate limits): the default is DefaultWritesPerMinute write requests
// per minute per region, per project; it can be raised. A fleet migration of hundreds of
// workloads in one project and region makes several writes each (one per canary step), so
// unpaced it spends the minute's quota in seconds and every further write fails with
// RESOURCE_EXHAUSTED until the minute turns: the retry then backs off in lockstep and the
// storm repeats. A token bucket per project and region in front of every write keeps the
// rate under the quota; the retry stays for the rest (other clients sharing the quota).

// DefaultWritesPerMinute is the Cloud Run Admin API's default write quota per project and
// region (Cloud Run docs, "Cloud Run quotas and limits", API rate limits).
const DefaultWritesPerMinute = 180

// writeBurst is how many writes a project and region may make at once before the pace holds:
// enough for a small migration to run unpaced, far below the minute's quota.
const writeBurst = 10

// Clock is the time a WritePacer reads and waits on: the system's (SystemClock), or a test's.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a function that
	// releases it early (a wait given up).
	After(d time.Duration) (<-chan time.Time, func())
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// SystemClock is the system's clock.
var SystemClock Clock = systemClock{}

// WritePacer holds one token bucket per project and region. It is safe for concurrent use.
type WritePacer struct {
	limit rate.Limit
	burst int
	clock Clock

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	waits   int
	waited  time.Duration
}

// NewWritePacer paces writes to perMinute per project and region, with burst writes at once
// (burst < 1 means 1).
func NewWritePacer(perMinute, burst int) *WritePacer {
	return NewWritePacerClock(perMinute, burst, SystemClock)
}

// NewWritePacerClock is NewWritePacer on clock.
func NewWritePacerClock(perMinute, burst int, clock Clock) *WritePacer {
	return &WritePacer{limit: rate.Limit(float64(perMinute) / 60), burst: max(burst, 1), clock: clock, buckets: map[string]*rate.Limiter{}}
}

// Wait blocks until a write to project and region may go, or ctx ends.
func (p *WritePacer) Wait(ctx context.Context, project, region string) error {
	if p == nil {
		return nil
	}
	key := project + "/" + region
	p.mu.Lock()
	b := p.buckets[key]
	if b == nil {
		b = rate.NewLimiter(p.limit, p.burst)
		p.buckets[key] = b
	}
	p.mu.Unlock()
	now := p.clock.Now()
	r := b.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	c, stop := p.clock.After(d)
	defer stop()
	select {
	case <-c:
		p.mu.Lock()
		p.waits++
		p.waited += d
		p.mu.Unlock()
		return nil
	case <-ctx.Done():
		r.CancelAt(p.clock.Now())
		return fmt.Errorf("wait for the Cloud Run write quota of project %s, region %s: %w", project, region, ctx.Err())
	}
}

// Stats reports how many writes waited, and for how long in all.
func (p *WritePacer) Stats() (waits int, waited time.Duration) {
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waits, p.waited
}

// pacer returns the clients' write pacer: Config.WritesPerMinute when set (negative: none),
// else DefaultWritesPerMinute against Google and none against an emulator, which has no
// write quota.
func (c *Clients) pacer() *WritePacer {
	c.paceOnce.Do(func() {
		n := c.cfg.WritesPerMinute
		switch {
		case n < 0:
			return
		case n == 0 && c.Emulated():
			return
		case n == 0:
			n = DefaultWritesPerMinute
		}
		c.writePacer = NewWritePacer(n, writeBurst)
	})
	return c.writePacer
}

// PaceWrite waits, before a Cloud Run Admin API write to project and region, until the
// project's and region's write quota allows it (see WritePacer). Every write of the write
// path calls it before each attempt (sendUpdate, RunExecution): a retry spends a write too.
func (c *Clients) PaceWrite(ctx context.Context, project, region string) error {
	return c.pacer().Wait(ctx, project, region)
}

// SetWritePacer replaces the clients' write pacer (nil: no pacing), as a test does to pace
// on its own clock.
func (c *Clients) SetWritePacer(p *WritePacer) {
	c.paceOnce.Do(func() {})
	c.writePacer = p
}

// WritePaceStats reports the writes that waited for the quota, and how long in all.
func (c *Clients) WritePaceStats() (int, time.Duration) { return c.pacer().Stats() }
