package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/iostreams"
)

// runAnimated runs runnet against the emulator with stderr a terminal that can animate (or a
// pipe).
func (er *emuRun) runAnimated(t *testing.T, animate bool, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	streams.SetStderrTTY(animate)
	streams.SetAnimate(animate)
	f := NewFactory(streams, testEnv(t, EnvEmulatorHost, er.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := execute(ctx, f, NewRootCmd(f), args)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
	}
	return result{code, out.String(), errOut.String(), f}
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
		r := er.runAnimated(t, true, append(tt.args, "--format", "json")...)
		first := "\r\x1b[K⠋ " + tt.what + " (0s)"
		if !strings.Contains(r.stderr, first) {
			t.Errorf("%s: stderr lacks the spinner %q:\n%q", name, first, r.stderr)
		}
		// The spinner's line is cleared last, before anything that follows.
		last := strings.LastIndex(r.stderr, "\r\x1b[K")
		if rest := r.stderr[last+len("\r\x1b[K"):]; !strings.HasPrefix(rest, tt.after) || strings.Contains(rest, "⠋") {
			t.Errorf("%s: after the spinner is cleared, stderr says %q, want %q", name, rest, tt.after)
		}
		if strings.Contains(r.stdout, "\x1b") {
			t.Errorf("%s: stdout has escape codes: %q", name, r.stdout)
		}
	}
	r := er.runAnimated(t, false, "subnet", "create", "piped", "--network", "run-vpc", "--range", "10.70.0.0/26", "--format", "json")
	if strings.ContainsAny(r.stderr, "\r\x1b⠋") {
		t.Errorf("piped: stderr %q", r.stderr)
	}
}
