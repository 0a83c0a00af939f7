package iostreams

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestCanPrompt(t *testing.T) {
	tests := []struct {
		stdin, stdout, stderr, never bool
		want                         bool
	}{
		{false, false, false, false, false},
		{true, false, true, false, true},
		{true, true, true, false, true},
		{true, true, false, false, false},
		{false, true, true, false, false},
		{true, true, true, true, false},
	}
	for _, tt := range tests {
		s, _, _, _ := Test()
		s.SetStdinTTY(tt.stdin)
		s.SetStdoutTTY(tt.stdout)
		s.SetStderrTTY(tt.stderr)
		s.SetNeverPrompt(tt.never)
		if got := s.CanPrompt(); got != tt.want {
			t.Errorf("%+v: CanPrompt() = %v", tt, got)
		}
		if s.IsStdinTTY() != tt.stdin || s.IsStdoutTTY() != tt.stdout || s.IsStderrTTY() != tt.stderr {
			t.Errorf("%+v: TTY getters disagree with setters", tt)
		}
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    bool
		prompts int
		errOut  string // substring
	}{
		{"yes", "y\n", true, 1, ""},
		{"YES", "YES\n", true, 1, ""},
		{"spaces", "  yes  \r\n", true, 1, ""},
		{"no", "n\n", false, 1, ""},
		{"empty means no", "\n", false, 1, ""},
		{"eof means no", "", false, 1, ""},
		{"yes without newline", "y", true, 1, ""},
		{"asks again", "maybe\ny\n", true, 2, "Please answer y or n."},
		{"junk then eof", "maybe", false, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, in, out, errOut := Test()
			s.SetStdinTTY(true)
			s.SetStderrTTY(true)
			in.WriteString(tt.input)
			got, err := s.Confirm("Delete connector c1?")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Confirm = %v, want %v", got, tt.want)
			}
			if n := strings.Count(errOut.String(), "Delete connector c1? [y/N]: "); n != tt.prompts {
				t.Errorf("asked %d times, want %d; stderr: %q", n, tt.prompts, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.errOut) {
				t.Errorf("stderr %q does not contain %q", errOut.String(), tt.errOut)
			}
			if out.Len() != 0 {
				t.Errorf("prompt wrote to stdout: %q", out.String())
			}
		})
	}
}

func TestConfirmTwiceKeepsBufferedInput(t *testing.T) {
	s, in, _, _ := Test()
	s.SetStdinTTY(true)
	s.SetStderrTTY(true)
	in.WriteString("y\nn\n")
	for i, want := range []bool{true, false} {
		got, err := s.Confirm("again?")
		if err != nil || got != want {
			t.Fatalf("Confirm #%d = %v, %v; want %v", i, got, err, want)
		}
	}
}

func TestConfirmCannotPrompt(t *testing.T) {
	s, in, _, errOut := Test()
	in.WriteString("y\n")
	_, err := s.Confirm("sure?")
	if !errors.Is(err, ErrCannotPrompt) {
		t.Fatalf("err = %v, want ErrCannotPrompt", err)
	}
	if errOut.Len() != 0 {
		t.Errorf("wrote %q", errOut.String())
	}
}

func TestProgressf(t *testing.T) {
	tests := []struct {
		tty, quiet bool
		want       string
	}{
		{false, false, ""},
		{true, false, "Creating subnet run...\n"},
		{true, true, ""},
		{false, true, ""},
	}
	for _, tt := range tests {
		s, _, out, errOut := Test()
		s.SetStderrTTY(tt.tty)
		s.SetQuiet(tt.quiet)
		if s.Quiet() != tt.quiet {
			t.Fatal("Quiet() disagrees with SetQuiet")
		}
		s.Progressf("Creating subnet %s...", "run")
		if errOut.String() != tt.want {
			t.Errorf("tty=%v quiet=%v: stderr = %q, want %q", tt.tty, tt.quiet, errOut.String(), tt.want)
		}
		if out.Len() != 0 {
			t.Errorf("progress wrote to stdout")
		}
	}
}

func TestVerbosef(t *testing.T) {
	s, _, _, errOut := Test()
	s.Verbosef("hidden")
	if errOut.Len() != 0 {
		t.Fatalf("Verbosef wrote while not verbose: %q", errOut.String())
	}
	s.SetVerbose(true)
	if !s.Verbose() {
		t.Fatal("Verbose() = false")
	}
	s.Verbosef("project: %s\n", "p") // newline kept single
	s.Verbosef("region: %s", "r")
	if got, want := errOut.String(), "project: p\nregion: r\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestProgressConcurrent(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetStderrTTY(true)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { s.Progressf("step %d", i) })
	}
	wg.Wait()
	if n := strings.Count(errOut.String(), "\n"); n != 20 {
		t.Errorf("got %d lines, want 20", n)
	}
}

func TestSystem(t *testing.T) {
	s := System()
	if s.In == nil || s.Out == nil || s.ErrOut == nil {
		t.Fatal("System() left a stream nil")
	}
}

// A status line is shown on a terminal only, replaced by the next one, and cleared before the
// next progress line.
func TestStatusLine(t *testing.T) {
	s, _, _, errOut := Test()
	s.Statusf("waiting: %ds left", 3)
	if errOut.Len() != 0 {
		t.Fatalf("status without a terminal: %q", errOut.String())
	}
	s.SetStderrTTY(true)
	s.Statusf("waiting: %ds left", 3)
	s.Statusf("waiting: %ds left", 2)
	s.Progressf("next step")
	s.ClearStatus() // nothing shown: nothing written
	want := "\r\x1b[Kwaiting: 3s left\r\x1b[Kwaiting: 2s left\r\x1b[Knext step\n"
	if errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	s.SetQuiet(true)
	s.Statusf("hidden")
	if errOut.String() != want {
		t.Errorf("quiet: %q", errOut.String())
	}
}
