package cloud

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runProbeScript runs script with /bin/sh, RUNNET_PROBE_TCP=targets and an nc that fails its
// first failures calls and then connects; it returns the output and the exit error.
func runProbeScript(t *testing.T, script, targets string, failures int) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	nc := "#!/bin/sh\necho \"nc $*\"\nn=$(cat " + count + " 2>/dev/null || echo 0)\necho $((n+1)) > " + count + "\n[ \"$n\" -ge " + strconv.Itoa(failures) + " ]\n"
	if err := os.WriteFile(filepath.Join(dir, "nc"), []byte(nc), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), probeEnv+"="+targets)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A Direct VPC egress instance may not connect for a while after it starts: the probe job must
// try again rather than fail (and roll back a healthy migration) on the first refusal.
func TestTCPProbeScriptRetriesWhileEgressWarmsUp(t *testing.T) {
	out, err := runProbeScript(t, tcpProbeScript(30*time.Second, 0), "10.0.0.5:5432,10.0.0.6:6379", 2)
	if err != nil {
		t.Fatalf("probe failed although the destination answered on the third try: %v\n%s", err, out)
	}
	if !strings.Contains(out, "connected to 10.0.0.5:5432") || !strings.Contains(out, "connected to 10.0.0.6:6379") {
		t.Fatalf("output does not say both connected:\n%s", out)
	}
	if probeConnectBudget < time.Minute || probeJobTimeout <= probeConnectBudget+time.Minute {
		t.Fatalf("budget %v, job timeout %v: the budget must outlast the minute Direct VPC egress can take, and the job the budget", probeConnectBudget, probeJobTimeout)
	}
}

func TestTCPProbeScriptFailsOnceTheBudgetRunsOut(t *testing.T) {
	start := time.Now()
	out, err := runProbeScript(t, tcpProbeScript(time.Second, time.Second), "10.0.0.5:5432", 9)
	if err == nil {
		t.Fatalf("probe passed although nc never connected:\n%s", out)
	}
	if !strings.Contains(out, "cannot connect to 10.0.0.5:5432") {
		t.Fatalf("output does not name the destination:\n%s", out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the probe took %v with a budget of 1s", d)
	}
}

// An IPv6 destination is given bracketed, as --probe-tcp takes it; nc gets the bare address.
func TestTCPProbeScriptIPv6(t *testing.T) {
	out, err := runProbeScript(t, tcpProbeScript(5*time.Second, 0), "[fd00::5]:5432,10.0.0.6:6379", 0)
	if err != nil {
		t.Fatalf("probe failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "nc -z -w 5 fd00::5 5432") || !strings.Contains(out, "nc -z -w 5 10.0.0.6 6379") {
		t.Fatalf("nc was not called with bare addresses:\n%s", out)
	}
}
