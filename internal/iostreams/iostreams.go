// Package iostreams carries a command's standard streams and what is known
// about them: which are terminals, whether runnet may prompt, and whether
// progress and verbose messages are wanted.
//
// Results go to Out; prompts, progress, verbose notes and errors go to
// ErrOut, so that stdout stays parseable.
package iostreams

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// ErrCannotPrompt is returned by Confirm when stdin or stdout is not a
// terminal, or prompting was disabled.
var ErrCannotPrompt = errors.New("cannot prompt for confirmation: not a terminal")

// IOStreams holds the standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	neverPrompt                    bool
	quiet                          bool
	verbose                        bool
	animate                        bool       // spinners may be drawn (spinner.go)
	termWidth                      func() int // stderr's width in columns; nil: unknown

	mu    sync.Mutex // guards inBuf, spinner, status and writes to ErrOut from Progressf/Verbosef/Statusf
	inBuf *bufio.Reader
	// spinner is the spinner on stderr's last line, if any (spinner.go).
	spinner *Spinner
	// status is set while a Statusf line is on the terminal, to be replaced.
	status bool
}

// System returns the process's streams, with terminals detected.
func System() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
	}
	s.animate = s.stderrTTY && os.Getenv("TERM") != "dumb"
	s.termWidth = func() int {
		w, _, err := term.GetSize(int(os.Stderr.Fd()))
		if err != nil {
			return 0
		}
		return w
	}
	return s
}

// width is stderr's width in columns, 80 when unknown.
func (s *IOStreams) width() int {
	if s.termWidth != nil {
		if w := s.termWidth(); w > 0 {
			return w
		}
	}
	return 80
}

func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// Test returns streams backed by buffers, none of them a terminal: in is
// read by Confirm, out and errOut collect what was written. Use the Set*TTY
// methods to pretend otherwise.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// SetStdinTTY pretends stdin is (or is not) a terminal.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY pretends stdout is (or is not) a terminal.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY pretends stderr is (or is not) a terminal.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetNeverPrompt disables prompting even on a terminal.
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverPrompt = v }

// SetQuiet silences progress messages.
func (s *IOStreams) SetQuiet(v bool) { s.quiet = v }

// Quiet reports whether progress messages are silenced.
func (s *IOStreams) Quiet() bool { return s.quiet }

// SetVerbose enables Verbosef messages.
func (s *IOStreams) SetVerbose(v bool) { s.verbose = v }

// Verbose reports whether Verbosef messages are shown.
func (s *IOStreams) Verbose() bool { return s.verbose }

// CanPrompt reports whether a question can be asked and answered: stdin and
// stderr (where prompts go) are terminals and prompting is not disabled.
// Like gcloud, stdout does not matter, so `runnet ... --format json > file`
// can still ask.
func (s *IOStreams) CanPrompt() bool {
	return s.stdinTTY && s.stderrTTY && !s.neverPrompt
}

// Confirm asks a yes/no question on ErrOut and reads the answer from In.
// Only "y" or "yes" (any case) mean yes; an empty answer means no; anything
// else asks again. End of input means no. It returns ErrCannotPrompt when
// CanPrompt is false: the caller should then require --yes.
func (s *IOStreams) Confirm(question string) (bool, error) {
	if !s.CanPrompt() {
		return false, ErrCannotPrompt
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spinner != nil {
		// A question is no place for a spinner: it is cleared, and stays so.
		s.spinner.clearLocked()
		s.spinner = nil
	}
	if s.inBuf == nil {
		s.inBuf = bufio.NewReader(s.In)
	}
	for {
		if _, err := fmt.Fprintf(s.ErrOut, "%s [y/N]: ", question); err != nil {
			return false, err
		}
		line, err := s.inBuf.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		eof := err != nil
		if eof {
			// The answer was not echoed with a newline: end the prompt line.
			fmt.Fprintln(s.ErrOut)
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		case "", "n", "no":
			return false, nil
		}
		if eof {
			return false, nil
		}
		fmt.Fprintln(s.ErrOut, "Please answer y or n.")
	}
}

// Progressf writes a progress message to ErrOut, only when stderr is a
// terminal and the streams are not quiet. A newline is added if missing.
func (s *IOStreams) Progressf(format string, args ...any) {
	if s.quiet || !s.stderrTTY {
		return
	}
	s.writeErrLine(format, args...)
}

// Verbosef writes a diagnostic message to ErrOut when verbose output was
// asked for (--verbose), whether or not stderr is a terminal. A newline is
// added if missing.
func (s *IOStreams) Verbosef(format string, args ...any) {
	if !s.verbose {
		return
	}
	s.writeErrLine(format, args...)
}

func (s *IOStreams) writeErrLine(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearStatusLocked()
	sp := s.spinner
	if sp != nil {
		sp.clearLocked()
	}
	io.WriteString(s.ErrOut, msg)
	if sp != nil {
		sp.drawLocked() // below the message
	}
}

// Statusf shows a one-line status on ErrOut (a wait's progress, say) that the next status,
// progress or verbose line replaces: only when stderr is a terminal and the streams are not
// quiet. ClearStatus removes it.
func (s *IOStreams) Statusf(format string, args ...any) {
	if s.quiet || !s.stderrTTY {
		return
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.ErrOut, clearLine+msg)
	s.status = true
}

// ClearStatus removes the status line Statusf showed, if any (before writing to ErrOut
// directly).
func (s *IOStreams) ClearStatus() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearStatusLocked()
}

func (s *IOStreams) clearStatusLocked() {
	if s.status {
		io.WriteString(s.ErrOut, clearLine)
		s.status = false
	}
}
