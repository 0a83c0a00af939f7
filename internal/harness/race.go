package harness

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// WriteRace makes concurrent runs of runnet race deterministically over one workload. The
// first write (a call of the method HoldWrites names) of each of the n runs waits until all n
// have sent theirs: they all read the workload before any of them changed it, so exactly one
// write lands and the others are refused for a stale etag. Every later write waits until
// Release: the runs that lost see the winner's first change (and its migration journal) when
// they read the workload again, never a migration the winner has already finished.
type WriteRace struct {
	e       *emulator.Emulator
	n       int32
	arrived atomic.Int32
	all     chan struct{}
	release chan struct{}
	allOnce sync.Once
	relOnce sync.Once
}

// holdTimeout bounds every wait of a WriteRace, so that a run that never writes fails the
// test instead of hanging it.
const holdTimeout = 20 * time.Second

// HoldWrites starts a race of n runs over the emulator's method (a full gRPC method name, or
// its last part, such as "UpdateService"). Stop ends it.
func HoldWrites(e *emulator.Emulator, method string, n int) *WriteRace {
	r := &WriteRace{e: e, n: int32(n), all: make(chan struct{}), release: make(chan struct{})}
	suffix := "/" + strings.TrimPrefix(method[strings.LastIndexByte(method, '/')+1:], "/")
	e.OnCall(func(m string) {
		if !strings.HasSuffix(m, suffix) {
			return
		}
		k := r.arrived.Add(1)
		if k <= r.n {
			if k == r.n {
				r.allOnce.Do(func() { close(r.all) })
			}
			wait(r.all)
			return
		}
		wait(r.release)
	})
	return r
}

func wait(c chan struct{}) {
	select {
	case <-c:
	case <-time.After(holdTimeout):
	}
}

// Release lets the writes after the first ones through.
func (r *WriteRace) Release() { r.relOnce.Do(func() { close(r.release) }) }

// Stop removes the hook and lets every held write through.
func (r *WriteRace) Stop() {
	r.e.OnCall(nil)
	r.allOnce.Do(func() { close(r.all) })
	r.Release()
}
