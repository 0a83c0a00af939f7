package cli

import (
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/emulator"
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

// --projects names projects as --project does: in emulator mode a misspelt one is refused
// (exit 2, naming the world's projects) before anything is read or changed, instead of being
// read as an empty project while the report looks complete.
func TestEmulatorScopeProjectsMustBeInTheWorld(t *testing.T) {
	er := newSharedVPCEmu(t)
	for _, args := range [][]string{
		{"inventory", "--projects", "team-a,tema-b", "--region", "asia-northeast1"},
		{"migrate", "--all", "--from-connector", "projects/net-host/locations/asia-northeast1/connectors/shared-conn",
			"--projects", "team-a,tema-b", "--to", "direct", "--subnet", "projects/net-host/regions/asia-northeast1/subnetworks/run-direct", "--fix", "--yes"},
	} {
		r := er.Run(t, false, "", args...)
		if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, `--projects: project "tema-b" is not in the emulator`) ||
			!strings.Contains(r.Stderr, "net-host, team-a, team-b, team-c") {
			t.Errorf("%s: exit %d, stderr %q", args[0], r.Code, r.Stderr)
		}
	}
	if a := er.Read(t, "projects/team-a/locations/asia-northeast1/services/api"); a.VPC.Mode() != "connector" {
		t.Errorf("team-a/api moved: %+v", a.VPC)
	}
	if r := er.Run(t, false, "", "inventory", "--projects", "team-a,team-b", "--region", "asia-northeast1"); r.Code != 0 {
		t.Errorf("known projects: exit %d: %s", r.Code, r.Stderr)
	}
}

// A project declared in the world's hierarchy that holds nothing yet is still one of its
// projects: --projects and --project take it (it is read, and found empty).
func TestEmulatorDeclaredEmptyProjectIsInTheWorld(t *testing.T) {
	er := newSharedVPCEmu(t)
	if err := er.E.DeclareProject("team-new", "team-new", "folders/"+emulator.SharedVPCFolderApps, nil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"inventory", "--projects", "team-a,team-new", "--region", emulator.SharedVPCRegion},
		{"status", "--project", "team-new", "--region", emulator.SharedVPCRegion},
	} {
		if r := er.Run(t, false, "", args...); r.Code != 0 {
			t.Errorf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
	}
}
