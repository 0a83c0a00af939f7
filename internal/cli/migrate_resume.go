package cli

import (
	"context"
	"time"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file is `runnet migrate --resume WORKLOAD [--rollback] [--break-lock]`: the engine's
// Resume (internal/migration) behind its flags.

// completeResume checks the flags of --resume: one WORKLOAD, and nothing that describes a
// migration (the journal holds the plan).
func (o *MigrateOptions) completeResume() error {
	if o.All || len(o.Workloads) != 1 {
		return exitcode.Usagef("--resume takes one WORKLOAD: the workload whose migration was interrupted")
	}
	for _, n := range []string{"to", "connector", "network", "subnet", "network-tags", "clear-network-tags", "egress", "keep-egress",
		"create-subnet", "range", "prefix", "canary", "step-wait", "verify", "cleanup", "dry-run", "force", "from-connector", "concurrency",
		"per-project-concurrency", "projects", "folder", "organization", "fix",
		"metric-gate", "max-error-rate", "max-latency-increase", "min-requests", "probe-path", "probe-tcp", "probe-image"} {
		if o.set[n] {
			return exitcode.Usagef("--%s cannot be used with --resume: the migration's journal holds its plan", n)
		}
	}
	ref, err := parseWorkloadArg(o.f, o.Workloads[0])
	if err != nil {
		return err
	}
	o.refs, o.single = []egress.WorkloadRef{ref}, true
	o.project, o.region = ref.Project, ref.Region
	if !o.f.Options.Yes && !o.f.IOStreams.CanPrompt() {
		return exitcode.Usagef("resuming needs confirmation and cannot ask without a terminal; pass --yes to proceed")
	}
	return nil
}

// runResume finishes or undoes the migration recorded in the workload's journal.
func (o *MigrateOptions) runResume(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	eng := newEngine(o.f, c, engineOptions{Observer: o.observer})
	m, err := eng.Resume(ctx, migration.ResumeRequest{Workload: o.refs[0], Rollback: o.Rollback, BreakLock: o.BreakLock}, o.f.Confirm)
	if err != nil {
		return err
	}
	return o.finish(p, eng, []*migration.Migration{m}, nil, nil, start)
}
