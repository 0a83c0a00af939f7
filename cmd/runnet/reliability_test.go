package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runnetEnv runs the real main with extra environment (and no RUNNET_EMULATOR_HOST or
// credentials from the test's own environment).
func runnetEnv(t *testing.T, env []string, args ...string) (stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RUNNET_EMULATOR_HOST=") && !strings.HasPrefix(kv, "GOOGLE_APPLICATION_CREDENTIALS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, beRunnet+"=1", "CLOUDSDK_CONFIG="+filepath.Join(home, "gcloud"), "HOME="+home)
	cmd.Env = append(cmd.Env, env...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return errOut.String(), code
}

// Without credentials, a command that reads three lists says so once, and exits 4.
func TestMainNoCredentials(t *testing.T) {
	stderr, code := runnetEnv(t, nil, "status", "--project", "my-project", "--region", "us-central1")
	if code == 0 {
		t.Skip("this machine has default credentials")
	}
	if code != 4 || strings.Count(stderr, "Error:") != 1 || !strings.Contains(stderr, "no Google Cloud credentials: run `gcloud auth application-default login`, or use --emulator") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// RUNNET_EMULATOR_HOST must be host:port: anything else is bad input (exit 2), before any call.
func TestMainBadEmulatorHost(t *testing.T) {
	for _, v := range []string{"http://127.0.0.1:8085", "127.0.0.1:8085/x", "127.0.0.1"} {
		stderr, code := runnetEnv(t, []string{"RUNNET_EMULATOR_HOST=" + v}, "status")
		if code != 2 || !strings.Contains(stderr, "RUNNET_EMULATOR_HOST") {
			t.Errorf("%q: exit %d, stderr %q", v, code, stderr)
		}
	}
}
