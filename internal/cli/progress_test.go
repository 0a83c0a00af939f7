package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// runAnimated runs runnet against the emulator with stderr a terminal that can animate (or a
// pipe).
func runAnimated(t *testing.T, er *emuRun, animate bool, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	streams.SetStderrTTY(animate)
	streams.SetAnimate(animate)
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, er.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := execute(ctx, f, NewRootCmd(f), args)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
	}
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// Long waits show a spinner on a terminal that can animate, cleared before the result; in a
// pipe nothing of it is written.
func TestSpinnerOnLongWaits(t *testing.T) {
	er := newEmu(t)
	tests := []struct {
		args  []string
		what  string // the spinner's first text
		after string // what stderr says once it is cleared
	}{
		{[]string{"connector", "create", "lonely", "--network", "run-vpc", "--range", "10.50.0.0/28"}, "Creating connector lonely", "Connector lonely is READY.\n"},
		{[]string{"subnet", "create", "extra", "--network", "run-vpc", "--range", "10.60.0.0/26"}, "Creating subnet extra", "Created subnet extra"},
		{[]string{"inventory"}, "Reading 1 region of project demo-project", ""},
		{[]string{"attach", "run-service", "--subnet", "run-direct-vpc-egress", "--yes"}, "Updating run-service", ""},
		{[]string{"connector", "delete", "lonely", "--yes"}, "Deleting connector lonely", "Deleted connector lonely.\n"},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args[:min(2, len(tt.args))], " ")
		r := runAnimated(t, er, true, append(tt.args, "--format", "json")...)
		first := "\r\x1b[K⠋ " + tt.what + " (0s)"
		if !strings.Contains(r.Stderr, first) {
			t.Errorf("%s: stderr lacks the spinner %q:\n%q", name, first, r.Stderr)
		}
		// The spinner's line is cleared last, before anything that follows.
		last := strings.LastIndex(r.Stderr, "\r\x1b[K")
		if rest := r.Stderr[last+len("\r\x1b[K"):]; !strings.HasPrefix(rest, tt.after) || strings.Contains(rest, "⠋") {
			t.Errorf("%s: after the spinner is cleared, stderr says %q, want %q", name, rest, tt.after)
		}
		if strings.Contains(r.Stdout, "\x1b") {
			t.Errorf("%s: stdout has escape codes: %q", name, r.Stdout)
		}
	}
	r := runAnimated(t, er, false, "subnet", "create", "piped", "--network", "run-vpc", "--range", "10.70.0.0/26", "--format", "json")
	if strings.ContainsAny(r.Stderr, "\r\x1b⠋") {
		t.Errorf("piped: stderr %q", r.Stderr)
	}
}
