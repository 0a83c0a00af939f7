package cli

import (
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// A project the sharedvpc world does not hold is refused with the projects it has, and only
// projects: the organization and folders of its resource hierarchy (organizations/O and
// folders/F keys in its state) are not projects one could pass as --project.
func TestEmulatorProjectRefusalNamesOnlyProjects(t *testing.T) {
	er := newSharedVPCEmu(t)
	r := er.Run(t, false, "", "status", "--project", "nosuch", "--region", "asia-northeast1")
	if r.Code != exitcode.Usage {
		t.Fatalf("exit %d, want %d: %s", r.Code, exitcode.Usage, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "whose world has net-host, team-a, team-b, team-c:") {
		t.Errorf("stderr %q does not name exactly the world's projects", r.Stderr)
	}
	for _, notProject := range []string{"organizations", "folders"} {
		if r := er.Run(t, false, "", "status", "--project", notProject, "--region", "asia-northeast1"); r.Code != exitcode.Usage {
			t.Errorf("--project %s: exit %d, want %d (it is no project of the world): %s", notProject, r.Code, exitcode.Usage, r.Stderr)
		}
	}
}
