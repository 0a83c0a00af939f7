package migration

import (
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// A failed permissions check is exit status 4 (nothing changed); any other failed check 3.
func TestBlockedVerdictPermissions(t *testing.T) {
	plan := func(failed ...string) egress.Plan {
		p := egress.Plan{Blocked: true}
		for _, n := range failed {
			p.Checks = append(p.Checks, egress.Check{Name: n, Status: egress.StatusFail, Message: "no"})
		}
		return p
	}
	e := &Engine{}
	for _, tc := range []struct {
		failed []string
		code   int
	}{
		{[]string{egress.CheckPermissions}, exitcode.Permission},
		{[]string{egress.CheckFreeIPs, egress.CheckPermissions}, exitcode.Permission},
		{[]string{egress.CheckFreeIPs}, exitcode.Preflight},
	} {
		m := &Migration{Plan: plan(tc.failed...)}
		if code, _ := e.Verdict(m); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.failed, code, tc.code)
		}
		m.Result = &egress.Result{Outcome: egress.OutcomeBlocked}
		if code, _ := e.Verdict(m); code != tc.code {
			t.Errorf("%v (run): exit %d, want %d", tc.failed, code, tc.code)
		}
	}
}
