package cloud

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// names lists workloads as PROJECT/NAME.
func names(ws []*Workload) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Ref.Project+"/"+w.Ref.Name)
	}
	return out
}

var sharedVPCWorkloads = []string{
	"team-a/api", "team-a/batch", "team-a/web",
	"team-b/nightly", "team-b/orders", "team-b/payments",
	"team-c/recs", "team-c/reindex", "team-c/search",
}

func TestReadScopeFolderThroughCloudAsset(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	e.SetPrincipal(emulator.SharedVPCPlatform)
	ctx := testCtx(t)
	r := c.ReadScope(ctx, Scope{Parent: "folders/" + emulator.SharedVPCFolderApps}, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %v", r.Errors)
	}
	if got := names(r.Workloads); !slices.Equal(got, sharedVPCWorkloads) {
		t.Errorf("workloads = %v, want %v", got, sharedVPCWorkloads)
	}
	if !slices.Equal(r.Projects, emulator.SharedVPCServiceProjects) {
		t.Errorf("projects = %v", r.Projects)
	}
	if len(r.Sources) != 1 || r.Sources[0].Via != ViaCloudAsset || r.Sources[0].Scope != "folders/"+emulator.SharedVPCFolderApps {
		t.Errorf("sources = %+v", r.Sources)
	}
	if r.AssetCalls != 1 || r.ListCalls != 0 {
		t.Errorf("calls: asset %d, list %d; want one search page and no list", r.AssetCalls, r.ListCalls)
	}
	// The workloads carry their template's VPC settings, as a Run read would.
	for _, w := range r.Workloads {
		if w.VPC.Connector != emulator.SharedVPCConnectorName() {
			t.Errorf("%s: connector %q", w.Ref, w.VPC.Connector)
		}
	}

	// The organization holds the host's connector and subnets too.
	r = c.ReadScope(ctx, Scope{Parent: "organizations/" + emulator.SharedVPCOrg}, []string{emulator.SharedVPCRegion})
	if len(r.Errors) > 0 || len(r.Workloads) != 9 || len(r.Connectors) != 1 || len(r.Subnets) != 3 {
		t.Fatalf("organization: %d workloads, %d connectors, %d subnets, errors %v", len(r.Workloads), len(r.Connectors), len(r.Subnets), r.Errors)
	}
	if cn := r.Connectors[0]; cn.FullName != emulator.SharedVPCConnectorName() || cn.State != "READY" || cn.Subnet == nil || cn.Subnet.ProjectID != emulator.SharedVPCHost {
		t.Errorf("connector = %+v", cn)
	}
	if sn := r.Subnets[1]; sn.Path != "projects/net-host/regions/asia-northeast1/subnetworks/run-direct" || sn.IPCIDRRange != "10.21.0.0/24" {
		t.Errorf("subnet = %+v", sn)
	}
	// Another region holds nothing.
	if r := c.ReadScope(ctx, Scope{Parent: "organizations/" + emulator.SharedVPCOrg}, []string{"us-central1"}); len(r.Workloads)+len(r.Connectors)+len(r.Subnets) != 0 {
		t.Errorf("us-central1: %d workloads", len(r.Workloads))
	}
}

func TestReadScopeFallsBackWhereSearchIsRefused(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	ctx := testCtx(t)
	// dev@ owns the service projects, not the folder: the folder's search is refused, each
	// project's is not.
	e.SetPrincipal(emulator.SharedVPCDeveloper)
	r := c.ReadScope(ctx, Scope{Parent: "folders/" + emulator.SharedVPCFolderApps}, []string{emulator.SharedVPCRegion})
	if got := names(r.Workloads); !slices.Equal(got, sharedVPCWorkloads) {
		t.Errorf("workloads = %v", got)
	}
	if len(r.Sources) != 4 || r.Sources[0].Via != ViaListing || !strings.Contains(r.Sources[0].Reason, AssetPermission) {
		t.Fatalf("sources = %+v", r.Sources)
	}
	for _, s := range r.Sources[1:] {
		if s.Via != ViaCloudAsset {
			t.Errorf("source %+v: want each project searched", s)
		}
	}
	// The folder's subfolders cannot be listed by dev@: said, not hidden.
	var he *HierarchyError
	if len(r.Errors) != 1 || !errors.As(r.Errors[0], &he) || he.Parent != "folders/"+emulator.SharedVPCFolderApps || he.Permission != FoldersListPermission {
		t.Errorf("errors = %v", r.Errors)
	}
	// The folder's source says what was read: the projects listed, not the whole folder.
	if want := "and Resource Manager could list only part of what it holds (the caller lacks resourcemanager.folders.list on it): the 3 projects it listed are read one by one, and others may be missing"; !strings.Contains(r.Sources[0].Reason, want) {
		t.Errorf("reason %q, want %q", r.Sources[0].Reason, want)
	}

	// A caller with no Cloud Asset permission anywhere lists project by project.
	e.SetPrincipal("user:nobody@example.com")
	r = c.ReadScope(ctx, Scope{Projects: []string{"team-b", "team-a"}}, []string{emulator.SharedVPCRegion})
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %v", r.Errors)
	}
	if got := names(r.Workloads); !slices.Equal(got, sharedVPCWorkloads[:6]) {
		t.Errorf("workloads = %v", got)
	}
	if len(r.Sources) != 2 || r.Sources[0].Scope != "projects/team-a" || r.Sources[0].Via != ViaListing || r.Sources[0].Regions != 1 {
		t.Errorf("sources = %+v", r.Sources)
	}
	if r.AssetCalls != 0 || r.ListCalls == 0 {
		t.Errorf("calls: asset %d, list %d", r.AssetCalls, r.ListCalls)
	}
}

func TestConnectorUsersAcrossServiceProjects(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	e.SetPrincipal(emulator.SharedVPCAdmin)
	ctx := testCtx(t)
	ref, err := egress.ParseConnectorRef(emulator.SharedVPCConnectorName(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.ConnectorUsersAcross(ctx, ref, Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{"net-host"}, emulator.SharedVPCServiceProjects...); !slices.Equal(u.Projects, want) {
		t.Errorf("projects = %v, want %v", u.Projects, want)
	}
	if got := names(u.Users); !slices.Equal(got, sharedVPCWorkloads) || !u.Complete() {
		t.Errorf("users = %v (complete %v)", got, u.Complete())
	}
	if got, want := u.Summary(), "connector shared-conn in host net-host is used by 9 workloads in 3 projects"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	// A narrower scope sees only its projects.
	u, err = c.ConnectorUsersAcross(ctx, ref, Scope{Projects: []string{"team-c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(u.Users); !slices.Equal(got, sharedVPCWorkloads[6:]) {
		t.Errorf("team-c users = %v", got)
	}
}

func TestScopeValidate(t *testing.T) {
	for _, s := range []Scope{{}, {Projects: []string{"a-project"}, Parent: "folders/1"}, {Parent: "folders/abc"}, {Parent: "projects/x"}, {Projects: []string{"Bad_Project"}}} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
	for _, s := range []Scope{{Projects: []string{"a-project"}}, {Parent: "folders/123"}, {Parent: "organizations/9"}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// attachIdleProject declares team-d in the apps folder and attaches it to the Shared VPC host:
// a service project that runs nothing yet, so no connector names it.
func attachIdleProject(t *testing.T, e *emulator.Emulator) {
	t.Helper()
	if err := e.DeclareProject("team-d", "team-d", "folders/"+emulator.SharedVPCFolderApps, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.AttachServiceProject(emulator.SharedVPCHost, "team-d"); err != nil {
		t.Fatal(err)
	}
}

func TestOtherConnectorProjectsIncludesAttachedServiceProjects(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	ctx := testCtx(t)
	// team-d is attached but runs nothing yet: connected_projects does not name it.
	attachIdleProject(t, e)
	ref, _ := egress.ParseConnectorRef(emulator.SharedVPCConnectorName(), "", "")
	conn, err := c.GetConnector(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(conn.ConnectedProjects, "team-d") {
		t.Fatalf("connected projects = %v", conn.ConnectedProjects)
	}
	got, err := c.OtherConnectorProjects(ctx, conn)
	if want := []string{"team-a", "team-b", "team-c", "team-d"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("other projects = %v, %v; want %v", got, err, want)
	}
	// A project that is no host: only what the connector says.
	got, err = c.OtherConnectorProjects(ctx, &Connector{Project: "team-a", ConnectedProjects: []string{"team-a"}})
	if err != nil || len(got) != 0 {
		t.Errorf("plain project: %v, %v", got, err)
	}
}

// The Compute Engine API disabled in the host: it is read as no Shared VPC host (its service
// projects are none, without an error), and the connector's connected projects remain; in a
// service project, its host cannot be read (the API's error is kept).
func TestOtherConnectorProjectsComputeDisabled(t *testing.T) {
	e, c := newEmulator(t, emulator.SeedSharedVPC)
	ctx := testCtx(t)
	attachIdleProject(t, e)
	for _, p := range []string{emulator.SharedVPCHost, "team-c"} {
		if err := e.DisableService(p, emulator.ServiceCompute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ListSubnets(ctx, emulator.SharedVPCHost, emulator.SharedVPCRegion); !IsServiceDisabled(err) {
		t.Fatalf("subnets of the host: %v, want the API's SERVICE_DISABLED", err)
	}
	services, err := c.SharedVPCServiceProjects(ctx, emulator.SharedVPCHost)
	if err != nil || len(services) != 0 {
		t.Errorf("service projects = %v, %v", services, err)
	}
	ref, _ := egress.ParseConnectorRef(emulator.SharedVPCConnectorName(), "", "")
	conn, err := c.GetConnector(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.OtherConnectorProjects(ctx, conn)
	if want := []string{"team-a", "team-b", "team-c"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("other projects = %v, %v; want %v (connected projects only)", got, err, want)
	}
	if h, err := c.SharedVPCHost(ctx, "team-c"); !IsServiceDisabled(err) {
		t.Errorf("host of team-c = %q, %v; want the API's SERVICE_DISABLED", h, err)
	}
	if h, err := c.SharedVPCHost(ctx, "team-a"); err != nil || h != emulator.SharedVPCHost {
		t.Errorf("host of team-a = %q, %v", h, err)
	}
}

// The reason a folder or organization is read project by project says what that covers.
func TestListingReason(t *testing.T) {
	const org = "organizations/1"
	refused := &HierarchyError{Parent: org, Permission: FoldersListPermission, Err: errors.New("denied")}
	for _, tc := range []struct {
		listed int
		errs   []error
		want   string
	}{
		{2, nil, ": the 2 projects Resource Manager lists under it are read one by one"},
		{1, nil, ": the 1 project Resource Manager lists under it is read one by one"},
		{0, nil, ", and Resource Manager lists no project under it that the caller may see: nothing is read"},
		{0, []error{refused}, ", and Resource Manager could not list the projects under it (the caller lacks resourcemanager.folders.list on it): nothing under it is read"},
		{0, []error{errors.New("unavailable")}, ", and Resource Manager could not list the projects under it (see the errors): nothing under it is read"},
		{1, []error{refused}, ", and Resource Manager could list only part of what it holds (the caller lacks resourcemanager.folders.list on it): the 1 project it listed is read one by one, and others may be missing"},
	} {
		got := listingReason(org, tc.listed, tc.errs)
		if want := "the caller may not search " + org + " with Cloud Asset Inventory (" + AssetPermission + ")" + tc.want; got != want {
			t.Errorf("%d listed, errors %v:\n got %q\nwant %q", tc.listed, tc.errs, got, want)
		}
	}
}
