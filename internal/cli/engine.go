package cli

import (
	"context"
	"fmt"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file connects the commands to the migration engine (internal/migration): its
// dependencies from the Factory, and what it reports rendered on stderr.

// engineOptions are what a command changes in the engine it gets.
type engineOptions struct {
	// StepWait is the plans' wait between canary steps (for the progress of the watch).
	StepWait time.Duration
	// Observer, if set, receives every executor event after the progress output (tests).
	Observer egress.Observer
	// Attach: progress of a direct change of one workload (no workload prefix; the new
	// revision named at once).
	Attach bool
}

// newEngine is the migration engine over clients c, reporting on f's streams.
func newEngine(f *Factory, c *cloud.Clients, opts engineOptions) *migration.Engine {
	plat := &cloud.Platform{C: c, Progress: func(ref egress.WorkloadRef, msg string) { f.IOStreams.Progressf("%s: %s", ref, msg) }}
	if opts.Attach {
		plat = &cloud.Platform{C: c, ReadToAnnounce: true, Progress: func(_ egress.WorkloadRef, msg string) { f.IOStreams.Progressf("%s", msg) }}
	}
	pr := &progressReporter{f: f, stepWait: opts.StepWait}
	return &migration.Engine{
		Read:        c,
		Platform:    plat,
		Provision:   c,
		Grant:       c,
		Net:         c,
		Metrics:     c,
		Prober:      c,
		Events:      func(ev migration.Event) { reportEvent(f, ev) },
		Busy:        func(what string) func() { return startWait(f, what) },
		WaitOptions: func() cloud.WaitOptions { return waitOptions(f, false) },
		Observer:    egress.Observers(pr.observe, opts.Observer),
		Journal:     journalConfig(f),
		RollbackContext: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return rollbackContext(ctx, egress.DefaultRollbackTimeout)
		},
		ExitCode: cloud.ExitCode,
	}
}

// journalConfig says who runs this runnet, for the journals it writes.
func journalConfig(f *Factory) *egress.JournalConfig {
	name := f.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return migration.JournalFor(name)
}

// reportEvent renders what the engine reports: progress on a terminal, information unless
// --quiet, warnings always, and a workload's preflight outcome as progress.
func reportEvent(f *Factory, ev migration.Event) {
	switch ev.Kind {
	case migration.EventProgress:
		if ev.Workload.Name != "" {
			f.IOStreams.Progressf("%s: %s", ev.Workload, shared.Render(ev.Message))
			return
		}
		f.IOStreams.Progressf("%s", shared.Render(ev.Message))
	case migration.EventInfo:
		netNotice(f, "%s", shared.Render(ev.Message))
	case migration.EventWarning:
		netWarn(f, "%s", shared.Render(ev.Message))
	case migration.EventChecks:
		var pass, warn, fail, skip int
		for _, c := range ev.Checks {
			switch c.Status {
			case egress.StatusPass:
				pass++
			case egress.StatusWarn:
				warn++
			case egress.StatusFail:
				fail++
			default:
				skip++
			}
		}
		f.IOStreams.Progressf("%s: preflight: %d passed, %s, %d failed, %d skipped", ev.Workload, pass, shared.Plural(warn, "warning"), fail, skip)
		for _, c := range ev.Checks {
			if c.Status == egress.StatusWarn || c.Status == egress.StatusFail {
				f.IOStreams.Progressf("%s:   %s %s: %s", ev.Workload, strings.ToUpper(string(c.Status)), c.Name, c.Message)
			}
		}
	}
}

// progressReporter turns executor events into progress lines (on a terminal). The plan's
// steps are numbered [i/n]; a rollback's steps follow as [rollback i].
type progressReporter struct {
	f        *Factory
	stepWait time.Duration

	mu        sync.Mutex
	watchEnds map[egress.WorkloadRef]time.Time // when each canary watch ends
}

func (pr *progressReporter) progress(ref egress.WorkloadRef, format string, args ...any) {
	pr.f.IOStreams.Progressf("%s: %s", ref, fmt.Sprintf(format, args...))
}

func (pr *progressReporter) observe(_ context.Context, ev egress.Event) error {
	ref := ev.Workload
	switch ev.Kind {
	case egress.EventStepStarted:
		n, rb := 0, 0
		for i, s := range ev.Result.Steps {
			switch {
			case !isRollbackStep(s.Kind):
				n++
			case i <= ev.Index:
				rb++
			}
		}
		if isRollbackStep(ev.Step.Kind) {
			pr.progress(ref, "[rollback %d] %s", rb, ev.Step.Description)
			break
		}
		pr.progress(ref, "[%d/%d] %s", ev.Index+1, n, ev.Step.Description)
	case egress.EventStepFinished:
		switch ev.Step.Status {
		case egress.StepFailed:
			pr.progress(ref, "%s failed: %s", ev.Step.Kind, ev.Step.Error)
		case egress.StepSkipped:
			pr.progress(ref, "%s skipped: %s", ev.Step.Kind, ev.Step.Note)
		}
	case egress.EventTraffic:
		pr.progress(ref, "traffic: %s", egress.DescribeTraffic(ev.Traffic))
		if d := pr.stepWait; ev.Step.Kind == egress.StepShiftTraffic && d > 0 && ev.Step.Percent < 100 {
			pr.watchStarted(ref, d)
			pr.progress(ref, "watching revision %s for %s before the next step (its health is checked every %s)", ev.Step.Revision, d, egress.DefaultHealthInterval)
		}
	case egress.EventHealth:
		// A line of its own on a terminal, rewritten at each check: the wait is not silent.
		msg := fmt.Sprintf("%s: revision %s healthy at %s", ref, ev.Step.Revision, time.Now().Format("15:04:05"))
		if left, ok := pr.watchLeft(ref); ok {
			msg += fmt.Sprintf("; next step in %s", left)
		}
		pr.f.IOStreams.Statusf("%s", msg)
	case egress.EventGate:
		if g := ev.Step.Gate; g != nil && g.Error != "" {
			// The run goes on unguarded: say so wherever stderr goes, not only on a terminal.
			netWarn(pr.f, "%s: the canary's metrics gate could not judge the step to %d%%; the migration goes on unguarded: %s", ref, ev.Step.Percent, g.Reason)
			break
		}
		pr.progress(ref, "metrics gate: %s", ev.Message)
	case egress.EventProbe:
		pr.progress(ref, "%s", ev.Message)
	case egress.EventRollbackStarted, egress.EventRollbackFinished:
		pr.progress(ref, "%s", ev.Message)
	case egress.EventFinished:
		pr.f.IOStreams.ClearStatus()
	}
	return nil
}

// watchStarted records when a workload's canary watch began and how long it lasts.
func (pr *progressReporter) watchStarted(ref egress.WorkloadRef, d time.Duration) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.watchEnds == nil {
		pr.watchEnds = map[egress.WorkloadRef]time.Time{}
	}
	pr.watchEnds[ref] = time.Now().Add(d)
}

// watchLeft is how long a workload's canary watch has to go, rounded to the second.
func (pr *progressReporter) watchLeft(ref egress.WorkloadRef) (time.Duration, bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	end, ok := pr.watchEnds[ref]
	return max(time.Until(end).Round(time.Second), 0), ok
}

// isRollbackStep tells the steps a rollback adds after the plan's.
func isRollbackStep(k egress.StepKind) bool {
	return k == egress.StepRestoreTemplate || k == egress.StepRestoreTraffic
}
