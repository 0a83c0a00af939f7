package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/internal/buildinfo"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// result is one run of runnet.
type result = harness.Result

// cliMain runs runnet in process, as harness.Main.
func cliMain(ctx context.Context, streams *iostreams.IOStreams, getenv func(string) string, args []string) int {
	f := NewFactory(streams, getenv)
	return execute(ctx, f, NewRootCmd(f), args)
}

// withCommand is cliMain with the root command changed by edit first (a command replaced by
// one whose run step tests hook into).
func withCommand(edit func(f *Factory, root *cobra.Command)) harness.Main {
	return func(ctx context.Context, streams *iostreams.IOStreams, getenv func(string) string, args []string) int {
		f := NewFactory(streams, getenv)
		root := NewRootCmd(f)
		edit(f, root)
		return execute(ctx, f, root, args)
	}
}

// The harness names the emulator's variable as the cli does.
func TestHarnessEnvEmulatorHost(t *testing.T) {
	if harness.EnvEmulatorHost != EnvEmulatorHost {
		t.Fatalf("harness.EnvEmulatorHost = %q, cli.EnvEmulatorHost = %q", harness.EnvEmulatorHost, EnvEmulatorHost)
	}
}

// runCLI runs runnet with args on test streams. extra commands, if any, are
// added to the root command.
func runCLI(t *testing.T, tty bool, args []string, extra ...*cobra.Command) result {
	t.Helper()
	main := withCommand(func(_ *Factory, root *cobra.Command) { root.AddCommand(extra...) })
	return harness.RunMain(context.Background(), main, harness.Hermetic(t), harness.RunOptions{StdoutTTY: tty}, args...)
}

func setVersion(t *testing.T, version, commit string) {
	oldV, oldC := buildinfo.Version, buildinfo.Commit
	buildinfo.Version, buildinfo.Commit = version, commit
	t.Cleanup(func() { buildinfo.Version, buildinfo.Commit = oldV, oldC })
}

func TestVersion(t *testing.T) {
	setVersion(t, "v1.2.3", "abc123")
	goVersion := buildinfo.Get().Go
	tests := []struct {
		name string
		tty  bool
		args []string
		want string
	}{
		{"table on a terminal", true, []string{"version"}, "runnet version v1.2.3 (commit abc123, " + goVersion + ")\n"},
		{"explicit table", false, []string{"version", "--format", "table"}, "runnet version v1.2.3 (commit abc123, " + goVersion + ")\n"},
		{"table by default when piped too", false, []string{"version"}, "runnet version v1.2.3 (commit abc123, " + goVersion + ")\n"},
		{"explicit json on a terminal", true, []string{"--format=json", "version"}, `{
  "version": "v1.2.3",
  "commit": "abc123",
  "go": "` + goVersion + `"
}
`},
		{"yaml", false, []string{"version", "--format", "yaml"}, "version: v1.2.3\ncommit: abc123\ngo: " + goVersion + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.tty, tt.args)
			if r.Code != 0 || r.Stderr != "" {
				t.Fatalf("code %d, stderr %q", r.Code, r.Stderr)
			}
			if r.Stdout != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.Stdout, tt.want)
			}
		})
	}
}

func TestVersionJSONFields(t *testing.T) {
	r := runCLI(t, false, []string{"version", "--format", "json"})
	var m map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["version"] == "" || m["commit"] == "" || m["go"] != runtime.Version() && !strings.HasPrefix(m["go"], "go") {
		t.Errorf("fields = %v", m)
	}
}

func TestVersionRunF(t *testing.T) {
	setVersion(t, "v0.1.0", "c0ffee")
	streams, _, _, _ := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t))
	var got *VersionOptions
	cmd := NewCmdVersion(f, func(o *VersionOptions) error { got = o; return nil })
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Info.Version != "v0.1.0" || got.Info.Commit != "c0ffee" || got.Printer == nil {
		t.Fatalf("runF got %+v", got)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{"unknown flag", []string{"version", "--bogus"}, []string{"Error: unknown flag: --bogus\n", "Run 'runnet version --help' for usage.\n"}},
		{"unknown root flag", []string{"--nope"}, []string{"Error: unknown flag: --nope\n"}},
		{"unknown shorthand", []string{"version", "-z"}, []string{"Error: unknown shorthand flag: 'z' in -z\n"}},
		{"flag needs value", []string{"version", "--format"}, []string{"Error: flag needs an argument: --format\n"}},
		{"bad format", []string{"version", "--format", "xml"}, []string{`Error: invalid value "xml" for --format: must be one of table, json, yaml, or value(FIELD,...) or csv(FIELD,...)` + "\n"}},
		{"bad format case", []string{"--format=JSON", "version"}, []string{"--format"}},
		{"extra argument", []string{"version", "extra"}, []string{`Error: unknown command "extra" for "runnet version"` + "\n"}},
		{"unknown command", []string{"bogus"}, []string{`Error: unknown command "bogus" for "runnet"` + "\n", "Run 'runnet --help' for usage.\n"}},
		{"bool flag with value", []string{"version", "--quiet=maybe"}, []string{"Error: invalid argument \"maybe\" for \"-q, --quiet\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, true, tt.args)
			if r.Code != exitcode.Usage {
				t.Errorf("code = %d, want %d", r.Code, exitcode.Usage)
			}
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want empty", r.Stdout)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", r.Stderr, w)
				}
			}
			if n := strings.Count(r.Stderr, "Error:"); n != 1 {
				t.Errorf("stderr has %d \"Error:\" lines, want 1: %q", n, r.Stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {}, {"help"}} {
		r := runCLI(t, false, args)
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("%v: code %d, stderr %q", args, r.Code, r.Stderr)
		}
		for _, want := range []string{"Exit codes:", "6  rolled-back", "--format", "CLOUDSDK_RUN_REGION", "version"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("%v: help does not mention %q", args, want)
			}
		}
	}
	// Every exit code is listed.
	r := runCLI(t, false, []string{"--help"})
	for _, e := range exitcode.Table {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(string(rune('0'+e.Code))) + `\s+` + regexp.QuoteMeta(e.Name) + `\s+` + regexp.QuoteMeta(e.Meaning) + `$`).MatchString(r.Stdout) {
			t.Errorf("help lacks exit code %d", e.Code)
		}
	}
}

func TestCommandErrorsToExitCodes(t *testing.T) {
	failing := func(err error) *cobra.Command {
		return &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return err }}
	}
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantStderr string
	}{
		{"plain", errors.New("boom"), 1, "Error: boom\n"},
		{"usage from validate has no help hint", exitcode.Usagef("--to must be direct, connector or none"), 2, "Error: --to must be direct, connector or none\n"},
		{"preflight", exitcode.Wrap(exitcode.Preflight, errors.New("subnet too small")), 3, "Error: subnet too small\n"},
		{"grpc permission", status.Error(codes.PermissionDenied, "denied"), 4, "Error: denied (PERMISSION_DENIED)\n"},
		{"grpc aborted", status.Error(codes.Aborted, "etag"), 5, "Error: etag (ABORTED)\n"},
		{"rolled back", exitcode.Errorf(exitcode.RolledBack, "rolled back"), 6, "Error: rolled back\n"},
		{"silent", exitcode.Silent(exitcode.Preflight), 3, ""},
		{"cobra-looking text from a command is not usage", errors.New("unknown flag: --x"), 1, "Error: unknown flag: --x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, false, []string{"fail"}, failing(tt.err))
			if r.Code != tt.wantCode {
				t.Errorf("code = %d, want %d", r.Code, tt.wantCode)
			}
			if r.Stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", r.Stderr, tt.wantStderr)
			}
		})
	}
}

func TestRequiredFlagAndArgsAreUsage(t *testing.T) {
	newCmd := func() *cobra.Command {
		cmd := &cobra.Command{Use: "need", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.Flags().String("to", "", "")
		_ = cmd.MarkFlagRequired("to")
		return cmd
	}
	for _, args := range [][]string{{"need", "--to", "x"}, {"need", "a"}} {
		r := runCLI(t, false, args, newCmd())
		if r.Code != exitcode.Usage {
			t.Errorf("%v: code = %d, stderr %q", args, r.Code, r.Stderr)
		}
	}
	if r := runCLI(t, false, []string{"need", "a", "--to", "x"}, newCmd()); r.Code != 0 {
		t.Errorf("valid call: code = %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestGroupCmd(t *testing.T) {
	group := newGroupCmd("widget", "Manage widgets")
	group.AddCommand(&cobra.Command{Use: "list", RunE: func(c *cobra.Command, _ []string) error {
		c.Println("listed")
		return nil
	}})
	if r := runCLI(t, false, []string{"widget", "bogus"}, group); r.Code != exitcode.Usage || !strings.Contains(r.Stderr, `unknown command "bogus" for "runnet widget"`) {
		t.Errorf("unknown subcommand: code %d, stderr %q", r.Code, r.Stderr)
	}
	if r := runCLI(t, false, []string{"widget"}, group); r.Code != 0 || !strings.Contains(r.Stdout, "list") {
		t.Errorf("bare group: code %d, stdout %q", r.Code, r.Stdout)
	}
	if r := runCLI(t, false, []string{"widget", "list"}, group); r.Code != 0 || r.Stdout != "listed\n" {
		t.Errorf("subcommand: code %d, stdout %q", r.Code, r.Stdout)
	}
}

func TestGlobalFlags(t *testing.T) {
	var seen GlobalOptions
	var quiet, verbose bool
	probe := &cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { return nil }}
	streams, _, _, _ := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t))
	root := NewRootCmd(f)
	probe.RunE = func(*cobra.Command, []string) error {
		seen = f.Options
		quiet, verbose = f.IOStreams.Quiet(), f.IOStreams.Verbose()
		return nil
	}
	root.AddCommand(probe)
	code := execute(context.Background(), f, root, []string{"probe", "--project", "p", "--region", "r", "--format", "yaml", "-q", "-y", "--verbose", "--emulator"})
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	want := GlobalOptions{Project: "p", Region: "r", Format: "yaml", Quiet: true, Yes: true, Verbose: true, Emulator: true}
	if seen != want {
		t.Errorf("options = %+v, want %+v", seen, want)
	}
	if !quiet || !verbose {
		t.Errorf("streams quiet=%v verbose=%v", quiet, verbose)
	}
}

func TestFactoryProjectRegion(t *testing.T) {
	cfgDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfgDir, "configurations"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(cfgDir, "configurations", "config_default")
	if err := os.WriteFile(cfgPath, []byte("[core]\nproject = cfg-proj\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	streams, _, _, errOut := iostreams.Test()
	streams.SetVerbose(true)
	env := map[string]string{"CLOUDSDK_CONFIG": cfgDir, "CLOUDSDK_RUN_REGION": "europe-west1"}
	f := NewFactory(streams, func(k string) string { return env[k] })

	for range 2 { // the second call is cached and says nothing more
		p, err := f.Project()
		if err != nil || p != "cfg-proj" {
			t.Fatalf("Project() = %q, %v", p, err)
		}
		r, err := f.Region()
		if err != nil || r != "europe-west1" {
			t.Fatalf("Region() = %q, %v", r, err)
		}
	}
	want := `Using project "cfg-proj" from gcloud configuration "default" (` + cfgPath + ").\n" +
		`Using region "europe-west1" from environment variable CLOUDSDK_RUN_REGION.` + "\n"
	if errOut.String() != want {
		t.Errorf("verbose output:\n%s\nwant:\n%s", errOut.String(), want)
	}

	f2 := NewFactory(streams, harness.Hermetic(t))
	f2.Options.Project = "flag-proj"
	if p, err := f2.Project(); err != nil || p != "flag-proj" {
		t.Errorf("flag: Project() = %q, %v", p, err)
	}
	_, err := f2.Region()
	if cloud.ExitCode(err) != exitcode.Usage || !strings.Contains(err.Error(), "gcloud config set run/region REGION") {
		t.Errorf("missing region: %v", err)
	}
}

func TestFactoryOutputFormat(t *testing.T) {
	streams, _, _, _ := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t))
	if f.OutputFormat() != "table" {
		t.Errorf("piped default = %q, want table: runnet never switches to JSON on its own", f.OutputFormat())
	}
	streams.SetStdoutTTY(true)
	if f.OutputFormat() != "table" {
		t.Errorf("terminal default = %q", f.OutputFormat())
	}
	f.Options.Format = "yaml"
	if p, err := f.Printer(); err != nil || p.Format() != "yaml" {
		t.Errorf("Printer() = %v, %v", p, err)
	}
	f.Options.Format = "bad"
	if _, err := f.Printer(); cloud.ExitCode(err) != exitcode.Usage {
		t.Errorf("bad format: %v", err)
	}
}

func TestFactoryConfirm(t *testing.T) {
	tests := []struct {
		name     string
		yes, tty bool
		input    string
		want     bool
		wantCode int
	}{
		{"--yes skips the question", true, false, "", true, 0},
		{"no terminal needs --yes", false, false, "y\n", false, exitcode.Usage},
		{"answered yes", false, true, "y\n", true, 0},
		{"answered no", false, true, "\n", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, in, _, errOut := iostreams.Test()
			streams.SetStdinTTY(tt.tty)
			streams.SetStderrTTY(tt.tty)
			in.WriteString(tt.input)
			f := NewFactory(streams, harness.Hermetic(t))
			f.Options.Yes = tt.yes
			got, err := f.Confirm("Route all traffic to the internet?")
			if got != tt.want || cloud.ExitCode(err) != tt.wantCode {
				t.Fatalf("Confirm = %v, %v", got, err)
			}
			if tt.wantCode == exitcode.Usage && !strings.Contains(err.Error(), "--yes") {
				t.Errorf("error %q should mention --yes", err)
			}
			if tt.yes && errOut.Len() != 0 {
				t.Errorf("asked although --yes: %q", errOut.String())
			}
		})
	}
}

func TestEmulatorHost(t *testing.T) {
	streams, _, _, _ := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, " 127.0.0.1:9090 "))
	if got := f.EmulatorHost(); got != "127.0.0.1:9090" {
		t.Errorf("EmulatorHost() = %q", got)
	}
}

func TestExecuteUsesProcessEnvironment(t *testing.T) {
	streams, _, out, _ := iostreams.Test()
	if code := Execute(context.Background(), []string{"version", "--format", "json"}, streams); code != 0 {
		t.Fatalf("code %d", code)
	}
	if !json.Valid(out.Bytes()) {
		t.Errorf("not JSON: %q", out.String())
	}
	// nil args must not fall back to os.Args (the test binary's flags).
	streams, _, out, _ = iostreams.Test()
	if code := Execute(context.Background(), nil, streams); code != 0 || !bytes.Contains(out.Bytes(), []byte("Usage:")) {
		t.Fatalf("nil args: code %d, stdout %q", code, out.String())
	}
}
