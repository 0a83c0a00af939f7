package harness

import (
	"context"
	"io"
	"time"

	"github.com/runnet-dev/runnet/internal/iostreams"
)

// Main runs runnet in process: args without the program name, on streams, reading the
// environment with getenv; it returns the exit status. internal/cli provides it (as
// ExecuteFactory over a Factory of streams and getenv); a test that replaces a command
// provides its own.
type Main func(ctx context.Context, streams *iostreams.IOStreams, getenv func(string) string, args []string) int

// Result is one run of runnet.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// RunOptions tune Run.
type RunOptions struct {
	// TTY makes stdin and stderr terminals (stdout stays a pipe unless StdoutTTY).
	TTY       bool
	StdoutTTY bool
	// Stdin is what the user types.
	Stdin string
	// Animate makes stderr a terminal that can animate (spinners).
	Animate bool
	// Stderr, when set, receives stderr as it is written (Result.Stderr is then empty).
	Stderr io.Writer
	// Env adds variables (KEY, VALUE, ...) to the environment World.RunWith builds.
	Env []string
	// Timeout bounds the run; 30 s when zero.
	Timeout time.Duration
}

// Hermetic is an environment with no gcloud configuration anywhere (CLOUDSDK_CONFIG is an
// empty directory of tb's) plus kv (KEY, VALUE, ...).
func Hermetic(tb TB, kv ...string) func(string) string {
	m := map[string]string{"CLOUDSDK_CONFIG": tb.TempDir()}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// RunMain runs main with args on test streams as o says, in the environment getenv.
func RunMain(ctx context.Context, main Main, getenv func(string) string, o RunOptions, args ...string) Result {
	streams, in, out, errOut := iostreams.Test()
	in.WriteString(o.Stdin)
	streams.SetStdinTTY(o.TTY)
	streams.SetStderrTTY(o.TTY)
	streams.SetStdoutTTY(o.StdoutTTY)
	if o.Animate {
		streams.SetStderrTTY(true)
		streams.SetAnimate(true)
	}
	if o.Stderr != nil {
		streams.ErrOut = o.Stderr
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code := main(ctx, streams, getenv, args)
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}
