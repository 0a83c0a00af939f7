package cli

import (
	"math"
	"net/url"
	"strings"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// migrate's flags of the canary's metrics gate: each intermediate --canary step is judged by
// Cloud Monitoring's request metrics of the new revision against the old revisions'.

// gateFlags are the gate's flags.
type gateFlags struct {
	MetricGate         bool
	MaxErrorRate       float64 // percentage points
	MaxLatencyIncrease float64 // percent
	MinRequests        int64
	// The probes before traffic moves.
	ProbePath  string
	ProbeTCP   string
	ProbeImage string
	probeTCP   []string
}

func (o *MigrateOptions) addGateFlags(fl *pflag.FlagSet) {
	d := egress.DefaultGatePolicy()
	fl.BoolVar(&o.Gate.MetricGate, "metric-gate", true, "with --canary: judge each step but the last by Cloud Monitoring's request metrics, rolling back when the new revision does worse than the old (see --max-error-rate, --max-latency-increase)")
	fl.Float64Var(&o.Gate.MaxErrorRate, "max-error-rate", 100*d.MaxErrorRate, "with --canary: roll back when the new revision's share of 5xx responses exceeds the old revisions' by more than this many percentage points (0-100)")
	fl.Float64Var(&o.Gate.MaxLatencyIncrease, "max-latency-increase", 100*d.MaxLatencyIncrease, "with --canary: roll back when the new revision's p95 latency exceeds the old revisions' by more than this percentage")
	fl.Int64Var(&o.Gate.MinRequests, "min-requests", d.MinRequests, "with --canary: the fewest requests the new revision must serve in a step to be judged (fewer: reported, not judged, unless their 5xx alone exceed --max-error-rate of this many)")
	fl.StringVar(&o.Gate.ProbePath, "probe-path", "", "services: before any traffic moves, GET this path (e.g. /healthz) on the new revision's tagged URL with your ID token, and roll back unless it answers 2xx")
	fl.StringVar(&o.Gate.ProbeTCP, "probe-tcp", "", "services: before any traffic moves, connect to these HOST:PORT destinations (comma-separated) from a short Cloud Run job with the target's VPC access, and roll back if one fails")
	fl.StringVar(&o.Gate.ProbeImage, "probe-image", egress.DefaultProbeImage, "with --probe-tcp: the probe job's image (needs /bin/sh and nc)")
}

// completeGate checks the gate's flags: ranges, and a --canary with a step to judge; and the
// probes'.
func (o *MigrateOptions) completeGate() error {
	if err := o.completeProbes(); err != nil {
		return err
	}
	given := ""
	for _, n := range []string{"max-error-rate", "max-latency-increase", "min-requests", "metric-gate"} {
		if o.set[n] {
			given = n
			break
		}
	}
	if given == "" {
		return nil
	}
	if !o.set["canary"] {
		return exitcode.Usagef("--%s sets the metrics gate of --canary steps; add --canary, e.g. --canary 10,50,100", given)
	}
	// Only the steps before the last are judged: with one step the gate never runs, and a
	// threshold given for it would be silently ignored.
	if len(o.canary) < 2 {
		return exitcode.Usagef("--%s sets the metrics gate, which judges the --canary steps before the last, and --canary %s has none; add a step, e.g. --canary 10,100", given, o.Canary)
	}
	if !o.Gate.MetricGate {
		for _, n := range []string{"max-error-rate", "max-latency-increase", "min-requests"} {
			if o.set[n] {
				return exitcode.Usagef("--%s sets the metrics gate, which --metric-gate=false turns off; give one or the other", n)
			}
		}
	}
	// NaN compares false with everything: test for it before the range.
	if g := o.Gate.MaxErrorRate; math.IsNaN(g) || g < 0 || g > 100 {
		return exitcode.Usagef("--max-error-rate: %g is not between 0 and 100 (percentage points)", g)
	}
	if g := o.Gate.MaxLatencyIncrease; math.IsNaN(g) || math.IsInf(g, 0) {
		return exitcode.Usagef("--max-latency-increase: %g is not a finite number; valid: 0 or more (a percentage, such as 50)", g)
	}
	if g := o.Gate.MaxLatencyIncrease; g < 0 {
		return exitcode.Usagef("--max-latency-increase: %g is negative; valid: 0 or more (a percentage, such as 50)", g)
	}
	if o.Gate.MinRequests < 1 {
		return exitcode.Usagef("--min-requests: %d must be at least 1", o.Gate.MinRequests)
	}
	return nil
}

// gatePolicy is the policy of the flags, nil when the gate is off.
func (o *MigrateOptions) gatePolicy() *egress.GatePolicy {
	if !o.Gate.MetricGate {
		return nil
	}
	return &egress.GatePolicy{MaxErrorRate: o.Gate.MaxErrorRate / 100, MaxLatencyIncrease: o.Gate.MaxLatencyIncrease / 100, MinRequests: o.Gate.MinRequests}
}

func (o *MigrateOptions) completeProbes() error {
	if p := o.Gate.ProbePath; o.set["probe-path"] && !strings.HasPrefix(p, "/") {
		return exitcode.Usagef("--probe-path: %q must start with /, such as /healthz", p)
	}
	// A path the request cannot carry would fail the probe only once the revision is deployed.
	if p := o.Gate.ProbePath; o.set["probe-path"] {
		if _, err := url.ParseRequestURI(p); err != nil || strings.Contains(p, "#") {
			return exitcode.Usagef("--probe-path: %q is not a URL path; valid: /PATH[?QUERY] with %%-escapes, such as /healthz", p)
		}
	}
	if im := o.Gate.ProbeImage; o.set["probe-image"] && (im == "" || strings.ContainsFunc(im, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })) {
		return exitcode.Usagef("--probe-image: %q is not an image reference; valid: a container image such as %s", im, egress.DefaultProbeImage)
	}
	if o.set["probe-tcp"] {
		t, err := egress.ParseProbeTCP(o.Gate.ProbeTCP)
		if err != nil {
			return exitcode.Usagef("%v", err)
		}
		o.Gate.probeTCP = t
	}
	if o.set["probe-image"] && !o.set["probe-tcp"] {
		return exitcode.Usagef("--probe-image sets the image of the --probe-tcp job; add --probe-tcp HOST:PORT")
	}
	if (o.set["probe-path"] || o.set["probe-tcp"]) && o.mode == egress.ModeNone {
		return exitcode.Usagef("--probe-path and --probe-tcp probe a new revision's VPC egress; --to none has none")
	}
	return nil
}

// probeSpec is the probes of the flags, nil when none.
func (o *MigrateOptions) probeSpec() *egress.ProbeSpec {
	if o.Gate.ProbePath == "" && len(o.Gate.probeTCP) == 0 {
		return nil
	}
	return &egress.ProbeSpec{Path: o.Gate.ProbePath, TCP: o.Gate.probeTCP, Image: o.Gate.ProbeImage}
}
