package iostreams

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// A spinner shows that runnet is waiting, on the last line of stderr: a turning frame, what
// is awaited and the time elapsed, redrawn in place every spinnerInterval and cleared when it
// stops. It runs only when the streams can animate (stderr is a terminal that understands
// cursor control) and are not quiet; otherwise it does nothing. While it runs, Progressf and
// Verbosef lines print above it.

const spinnerInterval = 100 * time.Millisecond

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// Spinner is a running spinner; the zero value and nil do nothing.
type Spinner struct {
	s     *IOStreams
	start time.Time
	now   func() time.Time
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	// Guarded by s.mu.
	what  string
	frame int
	drawn bool
}

// SetAnimate enables (or disables) spinners. System enables them when stderr is a terminal
// whose TERM is not "dumb"; test streams start without.
func (s *IOStreams) SetAnimate(v bool) { s.animate = v }

// CanAnimate reports whether a spinner would be drawn.
func (s *IOStreams) CanAnimate() bool { return s.animate && !s.quiet }

// StartSpinner shows what (such as "Creating connector run-connector") with a spinner and the
// time elapsed until Stop. One spinner runs at a time: starting another stops the first.
func (s *IOStreams) StartSpinner(what string) *Spinner {
	if !s.CanAnimate() {
		return nil
	}
	return s.startSpinner(what, time.Now, time.NewTicker(spinnerInterval).C)
}

// startSpinner starts a spinner redrawn on every tick (tests drive the ticks and the clock).
func (s *IOStreams) startSpinner(what string, now func() time.Time, tick <-chan time.Time) *Spinner {
	sp := &Spinner{s: s, start: now(), now: now, stop: make(chan struct{}), done: make(chan struct{}), what: spinnerText(what)}
	s.mu.Lock()
	prev := s.spinner
	s.mu.Unlock()
	prev.Stop()
	s.mu.Lock()
	s.spinner = sp
	sp.drawLocked()
	s.mu.Unlock()
	go func() {
		defer close(sp.done)
		for {
			select {
			case <-sp.stop:
				return
			case <-tick:
				s.mu.Lock()
				if s.spinner == sp {
					sp.frame++
					sp.drawLocked()
				}
				s.mu.Unlock()
			}
		}
	}()
	return sp
}

// Update changes what the spinner says is awaited.
func (sp *Spinner) Update(what string) {
	if sp == nil {
		return
	}
	sp.s.mu.Lock()
	defer sp.s.mu.Unlock()
	if sp.s.spinner == sp {
		sp.what = spinnerText(what)
		sp.drawLocked()
	}
}

// Stop clears the spinner's line. It is safe to call more than once, and on nil.
func (sp *Spinner) Stop() {
	if sp == nil {
		return
	}
	sp.once.Do(func() {
		close(sp.stop)
		<-sp.done
		sp.s.mu.Lock()
		defer sp.s.mu.Unlock()
		if sp.s.spinner == sp {
			sp.s.spinner = nil
			sp.clearLocked()
		}
	})
}

// SpinnerStatus makes msg the running spinner's text and reports whether a spinner runs (when
// none does, the caller prints msg its own way).
func (s *IOStreams) SpinnerStatus(msg string) bool {
	s.mu.Lock()
	sp := s.spinner
	s.mu.Unlock()
	if sp == nil {
		return false
	}
	sp.Update(msg)
	return true
}

func (sp *Spinner) drawLocked() {
	frame, what := spinnerFrames[sp.frame%len(spinnerFrames)], sp.what
	elapsed := " (" + formatElapsed(sp.now().Sub(sp.start)) + ")"
	line := frame + " " + what + elapsed
	if w := sp.s.width(); w > 1 && utf8.RuneCountInString(line) > w-1 {
		// Shorten what is awaited, not the time elapsed: a long wait's description fills an
		// 80-column terminal, and the elapsed time is what tells the user it still moves.
		if keep := w - 1 - utf8.RuneCountInString(frame+" "+elapsed) - 1; keep > 0 {
			line = frame + " " + string([]rune(what)[:keep]) + "…" + elapsed
		} else {
			line = string([]rune(line)[:w-2]) + "…"
		}
	}
	io.WriteString(sp.s.ErrOut, clearLine+line)
	sp.drawn = true
}

func (sp *Spinner) clearLocked() {
	if sp.drawn {
		io.WriteString(sp.s.ErrOut, clearLine)
		sp.drawn = false
	}
}

// spinnerText is a progress message as a spinner's text: on one line, without the elapsed
// time some messages end with ("... (12.3s)"), which the spinner shows itself.
func spinnerText(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if i := strings.LastIndex(msg, " ("); i >= 0 && strings.HasSuffix(msg, ")") {
		if _, err := time.ParseDuration(msg[i+2 : len(msg)-1]); err == nil {
			msg = msg[:i]
		}
	}
	return msg
}

// formatElapsed is a wait's length for people: "0s", "42s", "3m05s", "1h02m".
func formatElapsed(d time.Duration) string {
	s := int(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", max(s, 0))
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
}
