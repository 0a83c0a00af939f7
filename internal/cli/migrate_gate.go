package cli

import (
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
}

func (o *MigrateOptions) addGateFlags(fl *pflag.FlagSet) {
	d := egress.DefaultGatePolicy()
	fl.BoolVar(&o.Gate.MetricGate, "metric-gate", true, "with --canary: judge each step but the last by Cloud Monitoring's request metrics, rolling back when the new revision does worse than the old (see --max-error-rate, --max-latency-increase)")
	fl.Float64Var(&o.Gate.MaxErrorRate, "max-error-rate", 100*d.MaxErrorRate, "with --canary: roll back when the new revision's share of 5xx responses exceeds the old revisions' by more than this many percentage points (0-100)")
	fl.Float64Var(&o.Gate.MaxLatencyIncrease, "max-latency-increase", 100*d.MaxLatencyIncrease, "with --canary: roll back when the new revision's p95 latency exceeds the old revisions' by more than this percentage")
	fl.Int64Var(&o.Gate.MinRequests, "min-requests", d.MinRequests, "with --canary: the fewest requests the new revision must serve in a step to be judged (fewer: reported, not judged)")
}

// completeGate checks the gate's flags: ranges, and a --canary with a step to judge.
func (o *MigrateOptions) completeGate() error {
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
	if g := o.Gate.MaxErrorRate; g < 0 || g > 100 {
		return exitcode.Usagef("--max-error-rate: %g is not between 0 and 100 (percentage points)", g)
	}
	if g := o.Gate.MaxLatencyIncrease; g < 0 {
		return exitcode.Usagef("--max-latency-increase: %g is negative (a percentage, such as 50)", g)
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
