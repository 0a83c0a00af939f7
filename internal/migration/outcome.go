package migration

import (
	"errors"
	"fmt"
	"strings"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// Outcome classification: how each migration ended, the exit status it gives and what to say
// about it, and the same for a fleet and the connectors its cleanup could not delete.

// Outcome is how the migration ended, or would (a dry run), or why it did not run.
func (m *Migration) Outcome() egress.Outcome {
	switch {
	case m.Result != nil:
		return m.Result.Outcome
	case m.Plan.NoOp:
		return egress.OutcomeNoOp
	case m.Plan.Blocked:
		return egress.OutcomeBlocked
	case m.Validated:
		return egress.OutcomePlanned
	}
	return egress.OutcomeSkipped
}

// ResultError is a run's error with the advice it gives (its Err), or its Error as it was
// recorded.
func ResultError(r *egress.Result) egress.Message {
	if r.Err != nil {
		return egress.MessageOf(r.Err)
	}
	return egress.Plain(r.Error)
}

// RollbackError is why a run's rollback failed, with the advice it gives.
func RollbackError(r *egress.Result) egress.Message {
	if r.RollbackErr != nil {
		return egress.MessageOf(r.RollbackErr)
	}
	return egress.Plain(r.RollbackError)
}

// join is ms one after the other, sep between them.
func join(ms []egress.Message, sep string) egress.Message {
	var parts []egress.Message
	for i, m := range ms {
		if i > 0 {
			parts = append(parts, egress.Plain(sep))
		}
		parts = append(parts, m)
	}
	return egress.Concat(parts...)
}

// Verdict is the exit status of one migration and what to say about it (nothing when it
// succeeded).
func (e *Engine) Verdict(m *Migration) (int, egress.Message) {
	r := m.Result
	if r == nil {
		switch m.Outcome() {
		case egress.OutcomeNoOp, egress.OutcomePlanned:
			return exitcode.OK, egress.Message{}
		case egress.OutcomeBlocked:
			return BlockedCode(m.Plan), m.blockedMessage()
		}
		return exitcode.Failure, egress.Plain("not migrated")
	}
	switch r.Outcome {
	case egress.OutcomeMigrated:
		if r.Err != nil {
			var left *egress.JournalLeftError
			if errors.As(r.Err, &left) {
				return exitcode.Failure, ResultError(r)
			}
			return exitcode.Failure, egress.Concat(egress.Plain("migrated, but the cleanup failed: "), ResultError(r))
		}
		return exitcode.OK, egress.Message{}
	case egress.OutcomeNoOp, egress.OutcomePlanned:
		return exitcode.OK, egress.Message{}
	case egress.OutcomeBlocked:
		return BlockedCode(m.Plan), m.blockedMessage()
	case egress.OutcomeRolledBack:
		if m.RollbackRequested {
			return exitcode.OK, egress.Message{}
		}
		return exitcode.RolledBack, egress.Concat(egress.Plain(m.Ref.String()+": rolled back: "), ResultError(r))
	case egress.OutcomeSkipped:
		return exitcode.Failure, egress.Concat(egress.Plain("skipped: "), ResultError(r))
	}
	if errors.Is(r.Err, egress.ErrConflict) && r.RollbackError == "" {
		msg := []egress.Message{ResultError(r)}
		if r.State != "" {
			msg = append(msg, egress.Plain("; now: "+r.State))
		}
		if len(r.Recovery) > 0 {
			msg = append(msg, egress.Plain(". To finish: "), join(r.Recovery, "; "))
		}
		return exitcode.Conflict, egress.Concat(msg...)
	}
	if r.RollbackError != "" {
		return exitcode.Failure, egress.Concat(egress.Plain(m.Ref.String()+": "), ResultError(r), egress.Plain("; the rollback failed too: "),
			RollbackError(r), egress.Plain("; "+r.State+". To finish by hand: "), join(r.Recovery, "; "))
	}
	code := e.exitCode(r.Err)
	if code == exitcode.OK {
		code = exitcode.Failure
	}
	if r.Unchanged {
		return code, egress.Concat(ResultError(r), egress.Plain("; nothing was changed"))
	}
	return code, ResultError(r)
}

// BlockedCode is the exit status of a migration a failed preflight check blocked: 4 when the
// caller lacks permissions, else 3.
func BlockedCode(p egress.Plan) int {
	for _, c := range egress.Failed(p.Checks) {
		if c.Name == egress.CheckPermissions {
			return exitcode.Permission
		}
	}
	return exitcode.Preflight
}

// blockedMessage is BlockedMessage followed by the commands that fix a failed service-agent
// check (the grants Cloud Run's service agent lacks), one per line.
func (m *Migration) blockedMessage() egress.Message {
	msg := egress.Plain(BlockedMessage(m.Plan))
	if sa := m.failedAgent(); sa != nil {
		if advice := egress.ServiceAgentAdvice(sa, "\n  "); len(advice.Actions) > 0 {
			msg = egress.Concat(msg, egress.Plain("; "), egress.Advise(strings.Replace(advice.Text, ": ", ":\n  ", 1), advice.Actions...))
			if !sa.NotAttached {
				msg = egress.Concat(msg, egress.Plain("\n(migrate --fix makes these grants before migrating)"))
			}
		}
	}
	return msg
}

// failedAgent is what Cloud Run's service agent lacks when the migration's service-agent
// check failed, or nil.
func (m *Migration) failedAgent() *egress.ServiceAgentFacts {
	if m.Facts == nil || m.Facts.ServiceAgent == nil {
		return nil
	}
	for _, c := range egress.Failed(m.Plan.Checks) {
		if c.Name == egress.CheckServiceAgent {
			return m.Facts.ServiceAgent
		}
	}
	return nil
}

// agentFixes gathers, once each, the commands that fix the failed service-agent checks of a
// fleet's blocked migrations: a fleet of one project's workloads shares one service agent,
// whose grant each of them would otherwise repeat.
type agentFixes struct {
	seen           map[string]bool
	grants, attach []egress.Action
}

// add records m's fixes and reports whether it had any.
func (f *agentFixes) add(m *Migration) bool {
	sa := m.failedAgent()
	if sa == nil {
		return false
	}
	acts := sa.Actions()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	for _, a := range acts {
		k := fmt.Sprintf("%+v", a)
		if f.seen[k] {
			continue
		}
		f.seen[k] = true
		if sa.NotAttached {
			f.attach = append(f.attach, a)
		} else {
			f.grants = append(f.grants, a)
		}
	}
	return len(acts) > 0
}

// message says the fixes, one command per line.
func (f *agentFixes) message() egress.Message {
	lines := func(intro string, acts []egress.Action) egress.Message {
		return egress.Advise(intro+strings.Repeat("\n  %s", len(acts)), acts...)
	}
	var out []egress.Message
	if len(f.attach) > 0 {
		out = append(out, lines("; a Shared VPC admin attaches the projects first:", f.attach))
	}
	if len(f.grants) > 0 {
		out = append(out, lines("; grant Cloud Run's service agents, once each:", f.grants),
			egress.Plain("\n(migrate --fix makes these grants before migrating)"))
	}
	return egress.Concat(out...)
}

// BlockedMessage says which checks failed. --force is suggested only when it would let the
// migration through: when every failed check can be forced; otherwise the ones that cannot
// are named as such.
func BlockedMessage(p egress.Plan) string {
	failed := egress.Failed(p.Checks)
	var parts, forceable, unforceable []string
	for _, c := range failed {
		parts = append(parts, c.Name+": "+c.Message)
		if egress.Forceable(c.Name) {
			forceable = append(forceable, c.Name)
		} else {
			unforceable = append(unforceable, c.Name)
		}
	}
	msg := fmt.Sprintf("preflight failed for %s, nothing was changed: %s", p.Workload, strings.Join(parts, "; "))
	switch {
	case len(unforceable) > 0:
		it := "it"
		if len(unforceable) > 1 {
			it = "them"
		}
		msg += fmt.Sprintf(" (%s cannot be forced: fix %s first)", strings.Join(unforceable, ", "), it)
	case len(forceable) > 0:
		msg += fmt.Sprintf(" (--force %s to proceed anyway)", strings.Join(forceable, ","))
	}
	return msg
}

// FleetVerdict is the exit status of migrations and of the cleanup that followed them, and
// what to say about them. The workloads that were not migrated and the connectors the
// cleanup could not delete are said apart: a fleet whose workloads all moved but whose
// cleanup was refused is "migrated, but". For several workloads: 1 if any failed (or was in
// conflict, or was refused permission), else 6 if any was rolled back, else 3 if any was
// blocked by preflight, else 0; one code when they all agree.
func (e *Engine) FleetVerdict(ms []*Migration, cleanup []ConnectorCleanup) (int, egress.Message) {
	type bad struct {
		name string
		code int
		msg  egress.Message
	}
	// Workloads of several projects are named PROJECT/WORKLOAD: two projects may each have
	// an api.
	projects := map[string]bool{}
	for _, m := range ms {
		projects[m.Ref.Project] = true
	}
	var bads []bad
	var fixes agentFixes
	for _, m := range ms {
		code, msg := e.Verdict(m)
		if code != exitcode.OK {
			name := m.Ref.String()
			if len(projects) > 1 {
				name = m.Ref.Project + "/" + name
			}
			if len(ms) > 1 && m.Outcome() == egress.OutcomeBlocked && fixes.add(m) {
				msg = egress.Plain(BlockedMessage(m.Plan)) // its fixes are said once, at the end
			}
			bads = append(bads, bad{name, code, msg})
		}
	}
	var cleanBads []bad
	for _, cl := range cleanup {
		if cl.Error != "" {
			code := e.exitCode(cl.Err)
			if code == exitcode.OK {
				code = exitcode.Failure
			}
			cleanBads = append(cleanBads, bad{"connector " + egress.ShortName(cl.Connector), code, egress.Plain(cl.Error)})
		}
	}
	if len(bads) == 0 && len(cleanBads) == 0 {
		return exitcode.OK, egress.Message{}
	}
	if len(bads) == 1 && len(ms) == 1 && len(cleanBads) == 0 {
		return bads[0].code, bads[0].msg
	}
	codes := map[int]bool{}
	var parts []egress.Message
	for _, b := range bads {
		codes[b.code] = true
		parts = append(parts, egress.Concat(egress.Plain(b.name+" ("), b.msg, egress.Plain(")")))
	}
	var cleanParts []egress.Message
	for _, b := range cleanBads {
		codes[b.code] = true
		cleanParts = append(cleanParts, egress.Concat(egress.Plain(b.name+" was not deleted: "), b.msg))
	}
	code := exitcode.Failure
	switch {
	case len(codes) == 1:
		for c := range codes {
			code = c
		}
	case codes[exitcode.Failure] || codes[exitcode.Permission] || codes[exitcode.Conflict]:
		code = exitcode.Failure
	case codes[exitcode.RolledBack]:
		code = exitcode.RolledBack
	case codes[exitcode.Preflight]:
		code = exitcode.Preflight
	}
	workloads := plural(len(ms), "workload")
	switch {
	case len(bads) == 0:
		return code, egress.Concat(egress.Plain(workloads+" migrated, but the cleanup failed: "), join(cleanParts, "; "))
	case len(cleanBads) == 0:
		return code, egress.Concat(egress.Plain(fmt.Sprintf("%d of %s not migrated: ", len(bads), workloads)), join(parts, "; "), fixes.message())
	}
	return code, egress.Concat(egress.Plain(fmt.Sprintf("%d of %s not migrated: ", len(bads), workloads)), join(parts, "; "), fixes.message(),
		egress.Plain("; and the cleanup failed: "), join(cleanParts, "; "))
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
