package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// runCLIEnv is runCLI with environment variables (key, value pairs).
func runCLIEnv(t *testing.T, tty bool, env []string, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	streams.SetStdoutTTY(tty)
	f := NewFactory(streams, harness.Hermetic(t, env...))
	code := execute(context.Background(), f, NewRootCmd(f), args)
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// A project or region that cannot be one is bad input (exit 2), whether it comes from a flag,
// the environment or gcloud's configuration, and the error names where it came from.
func TestInvalidProjectAndRegionAreUsageErrors(t *testing.T) {
	emu := []string{EnvEmulatorHost, "127.0.0.1:1"} // never reached: the input is refused first
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"region flag", emu, []string{"status", "--project", "demo-project", "--region", "nowhere-1"}, `--region: invalid region "nowhere-1"`},
		{"project flag with a path", emu, []string{"status", "--project", "../x", "--region", "asia-northeast1"}, `--project: invalid project "../x"`},
		{"project flag with a space", emu, []string{"status", "run-service", "--project", "BAD PROJECT", "--region", "asia-northeast1"}, `--project: invalid project "BAD PROJECT"`},
		{"region from the environment", append([]string{"CLOUDSDK_RUN_REGION", "nowhere-1"}, emu...), []string{"status", "--project", "demo-project"}, "CLOUDSDK_RUN_REGION: invalid region"},
		{"empty region flag", emu, []string{"status", "--project", "demo-project", "--region", ""}, "--region is empty"},
		{"empty region flag with a default in the environment", append([]string{"CLOUDSDK_RUN_REGION", "asia-northeast1"}, emu...), []string{"status", "--project", "demo-project", "--region="}, "--region is empty"},
		{"empty project flag", emu, []string{"connector", "list", "--project", " ", "--region", "asia-northeast1"}, "--project is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLIEnv(t, false, tt.env, tt.args...)
			if r.Code != exitcode.Usage {
				t.Errorf("exit %d, want %d; stderr %q", r.Code, exitcode.Usage, r.Stderr)
			}
			if !strings.Contains(r.Stderr, tt.want) || strings.Count(r.Stderr, "Error:") != 1 {
				t.Errorf("stderr %q, want one error with %q", r.Stderr, tt.want)
			}
		})
	}
}

// A credentials file that is not there is one error, said once, with exit status 4: not one
// error per client, and not exit 1.
func TestMissingCredentialsFileIsOnePermissionError(t *testing.T) {
	for _, args := range [][]string{
		{"status", "--project", "demo-project", "--region", "asia-northeast1"},
		{"status", "run-service", "job/nightly-export", "--project", "demo-project", "--region", "asia-northeast1"},
		{"inventory", "--project", "demo-project", "--region", "asia-northeast1"},
	} {
		r := runCLIEnv(t, false, []string{EnvCredentials, "/nonexistent/key.json"}, args...)
		if r.Code != exitcode.Permission {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, r.Code, exitcode.Permission, r.Stderr)
		}
		if strings.Count(r.Stderr, "/nonexistent/key.json") != 1 || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("%v: stderr %q, want the error once, on one line", args, r.Stderr)
		}
		if r.Stdout != "" {
			t.Errorf("%v: stdout %q", args, r.Stdout)
		}
	}
}

func TestVerbosityMapsOntoVerboseAndQuiet(t *testing.T) {
	probe := func(f *Factory, seen *GlobalOptions, quiet *bool) *cobra.Command {
		return &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error {
			*seen, *quiet = f.Options, f.IOStreams.Quiet()
			return nil
		}}
	}
	for _, tt := range []struct {
		args               []string
		verbose, quiet, ye bool
		code               int
	}{
		{[]string{"--verbosity", "debug"}, true, false, false, 0},
		{[]string{"--verbosity=info"}, false, false, false, 0},
		{[]string{"--verbosity", "warning"}, false, false, false, 0},
		{[]string{"--verbosity", "error"}, false, true, false, 0}, // quiet output, prompts stay
		{[]string{"--verbosity", "none"}, false, true, false, 0},
		{[]string{"--quiet"}, false, true, true, 0}, // gcloud's -q: no prompts
		{[]string{"-q"}, false, true, true, 0},
		{[]string{"--verbosity", "loud"}, false, false, false, exitcode.Usage},
		{[]string{"--verbose", "--verbosity", "error"}, false, false, false, exitcode.Usage},
	} {
		streams, _, _, errOut := iostreams.Test()
		f := NewFactory(streams, harness.Hermetic(t))
		root := NewRootCmd(f)
		var seen GlobalOptions
		var quiet bool
		root.AddCommand(probe(f, &seen, &quiet))
		code := execute(context.Background(), f, root, append([]string{"probe"}, tt.args...))
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (%s)", tt.args, code, tt.code, errOut)
			continue
		}
		if code != 0 {
			continue
		}
		if seen.Verbose != tt.verbose || quiet != tt.quiet || seen.Yes != tt.ye {
			t.Errorf("%v: verbose %v quiet %v yes %v, want %v %v %v", tt.args, seen.Verbose, quiet, seen.Yes, tt.verbose, tt.quiet, tt.ye)
		}
	}
}

// `runnet --version` prints what `runnet version` prints, as `gcloud --version` does.
func TestRootVersionFlag(t *testing.T) {
	setVersion(t, "v1.2.3", "abc123")
	want := runCLI(t, true, []string{"version"})
	for _, tty := range []bool{true, false} {
		r := runCLI(t, tty, []string{"--version"})
		if r.Code != 0 || r.Stdout != want.Stdout || r.Stderr != "" {
			t.Errorf("tty %v: exit %d, stdout %q, stderr %q; want stdout %q", tty, r.Code, r.Stdout, r.Stderr, want.Stdout)
		}
	}
	if r := runCLI(t, false, []string{"--version", "--format", "json"}); r.Code != 0 || !strings.Contains(r.Stdout, `"version": "v1.2.3"`) {
		t.Errorf("--version --format json: %q", r.Stdout)
	}
}

// State words are coloured on a terminal, never with NO_COLOR or in a pipe.
func TestStatusColour(t *testing.T) {
	er := newEmu(t)
	run := func(tty bool, env ...string) string {
		streams, _, out, errOut := iostreams.Test()
		streams.SetStdoutTTY(tty)
		f := NewFactory(streams, harness.Hermetic(t, append([]string{EnvEmulatorHost, er.Addr}, env...)...))
		if code := execute(context.Background(), f, NewRootCmd(f), []string{"status"}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		return out.String()
	}
	if got := run(true); !strings.Contains(got, "\x1b[32mready\x1b[0m") {
		t.Errorf("terminal: %q", got)
	}
	for _, got := range []string{run(false), run(true, "NO_COLOR", "1")} {
		if strings.Contains(got, "\x1b") || !strings.Contains(got, "ready") {
			t.Errorf("pipe or NO_COLOR: %q", got)
		}
	}
}
