// Package world holds the emulator's shared state: every resource of the three emulated APIs,
// the virtual clock, timed events, long-running operations, Direct VPC IP reservations and
// fault injection. The API packages (computeapi, runapi, vpcaccessapi) read and change it under
// one lock, so a request sees a consistent picture across APIs, as the real control plane does.
package world

import (
	"container/heap"
	"context"
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"
)

// Config holds the timing knobs of the emulator.
type Config struct {
	// Latency delays every RPC and REST call before it is served.
	Latency time.Duration
	// LRODuration is how long VPC Access and Compute operations run.
	LRODuration time.Duration
	// RevisionReady is how long a new Cloud Run revision takes to become Ready.
	RevisionReady time.Duration
	// IPRelease is how long Direct VPC reservations outlive the instances that held them.
	IPRelease time.Duration
}

// World is the emulator's state and clock. Handlers call Lock, read or change State, and Unlock.
// Methods whose name ends in Locked must be called with the lock held.
type World struct {
	mu     sync.Mutex
	cfg    Config
	offset atomic.Int64 // virtual clock offset from the wall clock, in nanoseconds

	S *State

	events  eventHeap
	seq     int64
	dirty   bool
	changed chan struct{}
	wake    chan struct{}

	Faults *Faults
	Log    *slog.Logger

	callHook  atomic.Pointer[callHook] // observe.go
	observers map[int]func()
	obsSeq    int

	defaultPrincipal string    // principal.go
	projectDefaults  []Binding // iam.go: SetDefaultProjectBindings
}

// New returns an empty world.
func New(cfg Config, log *slog.Logger) *World {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &World{
		cfg:     cfg,
		S:       NewState(),
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		Faults:  NewFaults(),
		Log:     log,
	}
}

// Lock takes the world lock and applies every timed event that is due, so that what the caller
// reads reflects the current virtual time.
func (w *World) Lock() {
	w.mu.Lock()
	w.runDueLocked()
}

// Unlock releases the world lock, waking anyone waiting for a change if something changed.
func (w *World) Unlock() {
	if w.dirty {
		w.dirty = false
		w.notifyChangeLocked()
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.mu.Unlock()
}

// MarkChangedLocked records that state changed, so waiters (WaitOperation) look again.
func (w *World) MarkChangedLocked() { w.dirty = true }

// ChangedLocked returns a channel closed at the next change of state.
func (w *World) ChangedLocked() <-chan struct{} { return w.changed }

// Config returns the current timing configuration.
func (w *World) Config() Config {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg
}

// ConfigLocked returns the timing configuration; the lock must be held.
func (w *World) ConfigLocked() Config { return w.cfg }

// SetConfig replaces the timing configuration. Events already scheduled keep their times.
func (w *World) SetConfig(cfg Config) {
	w.mu.Lock()
	w.cfg = cfg
	w.mu.Unlock()
}

// Now is the emulator's virtual time: the wall clock plus whatever Advance added.
func (w *World) Now() time.Time {
	return time.Now().Add(time.Duration(w.offset.Load())).UTC()
}

// Advance moves the virtual clock forward by d and applies every event that becomes due.
func (w *World) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	w.offset.Add(int64(d))
	w.Lock()
	w.MarkChangedLocked()
	w.Unlock()
	w.poke()
}

type event struct {
	at  time.Time
	seq int64
	fn  func()
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// AfterLocked schedules fn to run under the lock once d of virtual time has passed.
// Events run in time order; events due at the same instant run in the order scheduled.
func (w *World) AfterLocked(d time.Duration, fn func()) {
	w.seq++
	heap.Push(&w.events, &event{at: w.Now().Add(d), seq: w.seq, fn: fn})
	w.poke()
}

// PendingLocked reports how many timed events are waiting.
func (w *World) PendingLocked() int { return len(w.events) }

// FlushLocked runs every pending event now, whatever its time, as if the clock had run on.
// Saving state uses it so that nothing in flight is lost.
func (w *World) FlushLocked() {
	for len(w.events) > 0 {
		e := heap.Pop(&w.events).(*event)
		e.fn()
		w.dirty = true
	}
}

func (w *World) runDueLocked() {
	now := w.Now()
	for len(w.events) > 0 && !w.events[0].at.After(now) {
		e := heap.Pop(&w.events).(*event)
		e.fn()
		w.dirty = true
	}
	if w.expireReservationsLocked(now) {
		w.dirty = true
	}
}

func (w *World) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run applies timed events as they fall due until ctx is done, so that operations finish and
// waiters wake even when nobody is polling.
func (w *World) Run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		w.Lock()
		next := time.Hour
		if len(w.events) > 0 {
			next = w.events[0].at.Sub(w.Now())
		}
		if at, ok := w.nextReleaseLocked(); ok {
			if d := at.Sub(w.Now()); d < next {
				next = d
			}
		}
		w.Unlock()
		if next < 0 {
			next = 0
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
	}
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// RandSuffix returns n random lower-case letters and digits, as Cloud Run revision suffixes use.
func RandSuffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		b[i] = alnum[v.Int64()]
	}
	return string(b)
}

// NewUUID returns a random RFC 4122 version 4 UUID, as operation ids and uids use.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// NextIDLocked returns a fresh numeric id, as Compute uses for resources and operations.
func (w *World) NextIDLocked() uint64 {
	w.S.Seq++
	return 1000000000000000000 + w.S.Seq*7919
}

// StableID derives a stable numeric id from parts (used where Compute shows numeric ids that
// must not change between runs, such as project numbers).
func StableID(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()>>2 | 1<<60
}

// ProjectNumber is the 12-digit number the emulator gives a project id, the same for every
// API (Compute's projects.get, Cloud Run's default service account).
func ProjectNumber(project string) uint64 {
	return 100000000000 + StableID("project", project)%900000000000
}
