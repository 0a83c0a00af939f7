package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The test binary plays runnet when this variable is set, so that tests run
// the real main (flag parsing, exit status) in a child process.
const beRunnet = "RUNNET_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beRunnet) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func runnet(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), beRunnet+"=1", "CLOUDSDK_CONFIG="+home, "HOME="+home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring; "" means stderr must be empty
	}{
		{"help", []string{"--help"}, 0, "Exit codes:", ""},
		{"version piped is a table too", []string{"version"}, 0, "runnet version ", ""},
		{"root --version", []string{"--version"}, 0, "runnet version ", ""},
		{"version table", []string{"version", "--format", "table"}, 0, "runnet version ", ""},
		{"unknown flag", []string{"--bogus"}, 2, "", "Error: unknown flag: --bogus"},
		{"bad format", []string{"version", "--format", "xml"}, 2, "", "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runnet(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q lacks %q", stdout, tt.stdout)
			}
			if tt.stderr == "" && stderr != "" || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

func TestMainVersionJSON(t *testing.T) {
	stdout, _, code := runnet(t, "version", "--format", "json")
	var v struct{ Version, Commit, Go string }
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v.Version == "" || v.Commit == "" || v.Go == "" {
		t.Fatalf("code %d, stdout %q", code, stdout)
	}
}
