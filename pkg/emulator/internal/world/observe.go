package world

// Observation hooks for tests of the programs that use the emulator: one function called at
// every call the emulator admits, and functions called after every change of state.

// callHook is the function Admit calls with each call's method, if any.
type callHook struct{ fn func(method string) }

// SetCallHook makes fn run at every call admitted (after the latency, before the call is
// served), with its method; nil removes it.
func (w *World) SetCallHook(fn func(method string)) {
	if fn == nil {
		w.callHook.Store(nil)
		return
	}
	w.callHook.Store(&callHook{fn})
}

func (w *World) notifyCall(method string) {
	if h := w.callHook.Load(); h != nil {
		h.fn(method)
	}
}

// AddObserverLocked makes fn run, with the lock held, each time the lock is released after a
// change of state (a request, a timed event). It returns a function that removes it (to be
// called with the lock held too).
func (w *World) AddObserverLocked(fn func()) (remove func()) {
	w.obsSeq++
	id := w.obsSeq
	if w.observers == nil {
		w.observers = map[int]func(){}
	}
	w.observers[id] = fn
	return func() { delete(w.observers, id) }
}

func (w *World) notifyChangeLocked() {
	for _, fn := range w.observers {
		fn()
	}
}
