package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// runTTY runs runnet against the emulator with stdout a terminal (or not).
func runTTY(t *testing.T, er *emuRun, stdoutTTY bool, args ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	streams.SetStdoutTTY(stdoutTTY)
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, er.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := execute(ctx, f, NewRootCmd(f), args)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
	}
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// On a terminal the tables draw usage bars; piped, and as JSON, they keep plain numbers.
func TestUsageBars(t *testing.T) {
	er := newEmu(t)
	if r := er.Run(t, false, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress", "--yes"); r.Code != 0 {
		t.Fatalf("attach: %d %s", r.Code, r.Stderr)
	}
	tests := []struct {
		args []string
		bar  *regexp.Regexp // on a terminal
	}{
		// 10 instances at max scale: 2 of the /24's 15 blocks, 14%.
		{[]string{"inventory", "--format", "table"}, regexp.MustCompile(`(?m)^run-direct-vpc-egress .* ██░░░░░░░░░░ 2/15 \(14%\) +run-service$`)},
		// One instance holds one block now: 1 of 15 taken.
		{[]string{"subnet", "list", "--format", "table"}, regexp.MustCompile(`(?m)^NAME .* FLOW LOGS +USAGE\n(?s:.*)^run-direct-vpc-egress .* 14/15 .* █░░░░░░░░░░░ 7%$`)},
		// 30 instances, 2 workloads: 16 blocks needed of a /23's 31.
		{[]string{"subnet", "plan", "--max-instances", "30", "--workloads", "2", "--format", "table"}, regexp.MustCompile(`(?m)^  ██████░░░░░░ 52% of a /23's 31 blocks$`)},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args[:2], " ")
		tty := runTTY(t, er, true, tt.args...)
		if !tt.bar.MatchString(tty.Stdout) {
			t.Errorf("%s on a terminal: want %s in\n%s", name, tt.bar, tty.Stdout)
		}
		piped := runTTY(t, er, false, tt.args...)
		if strings.ContainsAny(piped.Stdout, "█░") {
			t.Errorf("%s piped draws bars:\n%s", name, piped.Stdout)
		}
		if tty.Stdout == piped.Stdout {
			t.Errorf("%s: the same on a terminal and piped", name)
		}
		js := runTTY(t, er, true, append(tt.args[:len(tt.args)-2], "--format", "json")...)
		if strings.ContainsAny(js.Stdout, "█░") {
			t.Errorf("%s --format json on a terminal draws bars:\n%s", name, js.Stdout)
		}
	}
}
