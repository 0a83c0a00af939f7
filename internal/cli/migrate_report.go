package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// writePlanText renders a plan for humans (shown before the confirmation): the workload, both
// settings, the checks with their hints, the steps, the notes and a summary line.
func writePlanText(w io.Writer, p egress.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Workload:\t%s (%s)\n", p.Workload, p.Workload.FullName())
	fmt.Fprintf(tw, "From:\t%s\n", p.From)
	fmt.Fprintf(tw, "To:\t%s\n", p.To)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Checks) > 0 {
		fmt.Fprintln(tw, "\nChecks:")
		for _, c := range shared.Checks(p.Checks) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, c.Message)
			if c.Hint != "" && c.Status != egress.StatusPass {
				fmt.Fprintf(tw, "  \t\thint: %s\n", c.Hint)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(p.Steps) > 0 {
		fmt.Fprintln(tw, "\nSteps:")
		for i, s := range p.Steps {
			fmt.Fprintf(tw, "  %d.\t%s\t%s\n", i+1, s.Kind, s.Description)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var b strings.Builder
	if len(p.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range shared.RenderAll(p.Notes) {
			b.WriteString("  - " + n + "\n")
		}
	}
	b.WriteString("\n" + planSummary(p) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// planSummary is a plan's outcome in one line: nothing to do, blocked by which checks, or
// ready with how many steps.
func planSummary(p egress.Plan) string {
	switch {
	case p.NoOp:
		return "nothing to do: " + p.Workload.String() + " already uses " + string(p.ToMode)
	case p.Blocked:
		var names []string
		for _, c := range egress.Failed(p.Checks) {
			names = append(names, c.Name)
		}
		return fmt.Sprintf("blocked by failed checks: %s", strings.Join(names, ", "))
	}
	return fmt.Sprintf("ready: %s to switch %s from %s to %s", plural(len(p.Steps), "step"), p.Workload, p.FromMode, p.ToMode)
}
