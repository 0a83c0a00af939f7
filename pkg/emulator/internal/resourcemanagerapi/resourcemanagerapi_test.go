package resourcemanagerapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/googleapi"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	org    = "111111111111"
	folder = "222222222222"
)

type env struct {
	w    *world.World
	v3   *crm.Service
	v1   *crmv1.Service
	ctx  context.Context
	addr string
}

// newEnv serves Resource Manager over a world with organization 111111111111, folder
// 222222222222 under it, and projects host-project (in the folder) and service-a.
func newEnv(t *testing.T) *env {
	t.Helper()
	w := servertest.NewWorld(t, servertest.FastConfig)
	mux := http.NewServeMux()
	Register(mux, w)
	addr := servertest.StartHTTP(t, mux)
	ctx := context.Background()
	v3, err := crm.NewService(ctx, servertest.RESTOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := crmv1.NewService(ctx, servertest.RESTOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	w.Lock()
	defer w.Unlock()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.PutOrganizationLocked(world.Organization{ID: org, DisplayName: "example.com"}))
	must(w.PutFolderLocked(world.Folder{ID: folder, DisplayName: "platform", Parent: "organizations/" + org}))
	must(w.PutProjectLocked(world.Project{ID: "host-project", DisplayName: "Network host", Parent: "folders/" + folder, Labels: map[string]string{"env": "prod"}}))
	must(w.PutProjectLocked(world.Project{ID: "service-a", Parent: "folders/" + folder}))
	must(w.PutProjectLocked(world.Project{ID: "elsewhere", Parent: "organizations/" + org}))
	return &env{w: w, v3: v3, v1: v1, ctx: ctx, addr: addr}
}

func wantStatus(t *testing.T, err error, code int) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != code {
		t.Fatalf("error = %v, want HTTP %d", err, code)
	}
}

// TestProjectsGetListSearch reads projects by id and by number (v3 and v1), and lists and
// searches them by parent.
func TestProjectsGetListSearch(t *testing.T) {
	e := newEnv(t)
	num := strconv.FormatUint(world.ProjectNumber("host-project"), 10)
	for _, name := range []string{"projects/host-project", "projects/" + num} {
		p, err := e.v3.Projects.Get(name).Context(e.ctx).Do()
		if err != nil || p.Name != "projects/"+num || p.ProjectId != "host-project" || p.Parent != "folders/"+folder || p.State != "ACTIVE" || p.DisplayName != "Network host" || p.Labels["env"] != "prod" {
			t.Fatalf("get %s = %+v, %v", name, p, err)
		}
	}
	p1, err := e.v1.Projects.Get("host-project").Context(e.ctx).Do()
	if err != nil || strconv.FormatInt(p1.ProjectNumber, 10) != num || p1.LifecycleState != "ACTIVE" || p1.Parent == nil || p1.Parent.Type != "folder" || p1.Parent.Id != folder {
		t.Fatalf("v1 get = %+v, %v", p1, err)
	}
	// An implicit project (never declared) exists, with no parent.
	if p, err := e.v3.Projects.Get("projects/some-project").Context(e.ctx).Do(); err != nil || p.Parent != "" || p.ProjectId != "some-project" {
		t.Fatalf("implicit project = %+v, %v", p, err)
	}
	list, err := e.v3.Projects.List().Parent("folders/" + folder).Context(e.ctx).Do()
	if err != nil || len(list.Projects) != 2 || list.Projects[0].ProjectId != "host-project" || list.Projects[1].ProjectId != "service-a" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	page, err := e.v3.Projects.List().Parent("folders/" + folder).PageSize(1).Context(e.ctx).Do()
	if err != nil || len(page.Projects) != 1 || page.NextPageToken == "" {
		t.Fatalf("page 1 = %+v, %v", page, err)
	}
	if page, err = e.v3.Projects.List().Parent("folders/" + folder).PageSize(1).PageToken(page.NextPageToken).Context(e.ctx).Do(); err != nil || len(page.Projects) != 1 || page.Projects[0].ProjectId != "service-a" || page.NextPageToken != "" {
		t.Fatalf("page 2 = %+v, %v", page, err)
	}
	found, err := e.v3.Projects.Search().Query("parent:organizations/" + org).Context(e.ctx).Do()
	if err != nil || len(found.Projects) != 1 || found.Projects[0].ProjectId != "elsewhere" {
		t.Fatalf("search = %+v, %v", found, err)
	}
	_, err = e.v3.Projects.List().Parent("folders/999").Context(e.ctx).Do()
	wantStatus(t, err, http.StatusForbidden)
	f, err := e.v3.Folders.Get("folders/" + folder).Context(e.ctx).Do()
	if err != nil || f.Parent != "organizations/"+org || f.DisplayName != "platform" {
		t.Fatalf("folder = %+v, %v", f, err)
	}
	folders, err := e.v3.Folders.List().Parent("organizations/" + org).Context(e.ctx).Do()
	if err != nil || len(folders.Folders) != 1 {
		t.Fatalf("folders = %+v, %v", folders, err)
	}
	orgs, err := e.v3.Organizations.Search().Context(e.ctx).Do()
	if err != nil || len(orgs.Organizations) != 1 || orgs.Organizations[0].DisplayName != "example.com" {
		t.Fatalf("organizations = %+v, %v", orgs, err)
	}
}

// TestProjectIAMPolicy reads a project's default policy (Cloud Run's service agent holds
// roles/run.serviceAgent), adds a binding with v1 as gcloud does, refuses a stale etag, and
// checks permissions per caller, inherited from the folder.
func TestProjectIAMPolicy(t *testing.T) {
	e := newEnv(t)
	pol, err := e.v3.Projects.GetIamPolicy("projects/service-a", &crm.GetIamPolicyRequest{}).Context(e.ctx).Do()
	agent := world.ServiceAgent("service-a")
	if err != nil || !hasBinding(pol.Bindings, "roles/run.serviceAgent", agent) {
		t.Fatalf("default policy = %+v, %v", pol, err)
	}
	// v1 read-modify-write, as gcloud projects add-iam-policy-binding does.
	p1, err := e.v1.Projects.GetIamPolicy("host-project", &crmv1.GetIamPolicyRequest{}).Context(e.ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	p1.Bindings = append(p1.Bindings, &crmv1.Binding{Role: "roles/compute.networkUser", Members: []string{agent}})
	set, err := e.v1.Projects.SetIamPolicy("host-project", &crmv1.SetIamPolicyRequest{Policy: p1}).Context(e.ctx).Do()
	if err != nil || set.Etag == p1.Etag {
		t.Fatalf("set = %+v, %v", set, err)
	}
	got, err := e.v3.Projects.GetIamPolicy("projects/host-project", &crm.GetIamPolicyRequest{}).Context(e.ctx).Do()
	if err != nil || !hasBinding(got.Bindings, "roles/compute.networkUser", agent) || got.Etag != set.Etag {
		t.Fatalf("after set = %+v, %v", got, err)
	}
	_, err = e.v1.Projects.SetIamPolicy("host-project", &crmv1.SetIamPolicyRequest{Policy: p1}).Context(e.ctx).Do()
	wantStatus(t, err, http.StatusConflict)

	// Per caller: a folder-level grant reaches the project below it.
	e.w.Lock()
	if err := e.w.GrantLocked("folders/"+folder, "roles/compute.networkUser", "user:dev@example.com"); err != nil {
		t.Fatal(err)
	}
	e.w.Unlock()
	e.w.SetDefaultPrincipal("user:dev@example.com")
	resp, err := e.v3.Projects.TestIamPermissions("projects/host-project", &crm.TestIamPermissionsRequest{
		Permissions: []string{"compute.subnetworks.use", "resourcemanager.projects.setIamPolicy"},
	}).Context(e.ctx).Do()
	if err != nil || !slices.Equal(resp.Permissions, []string{"compute.subnetworks.use"}) {
		t.Fatalf("testIamPermissions = %+v, %v", resp, err)
	}
	_, err = e.v3.Projects.SetIamPolicy("projects/host-project", &crm.SetIamPolicyRequest{Policy: &crm.Policy{}}).Context(e.ctx).Do()
	wantStatus(t, err, http.StatusForbidden)
	// A stranger cannot even read a project.
	e.w.SetDefaultPrincipal("user:stranger@example.com")
	_, err = e.v3.Projects.Get("projects/host-project").Context(e.ctx).Do()
	wantStatus(t, err, http.StatusForbidden)
	if list, err := e.v3.Projects.Search().Query("parent:folders/" + folder).Context(e.ctx).Do(); err != nil || len(list.Projects) != 0 {
		t.Fatalf("stranger's search = %+v, %v", list, err)
	}
}

func hasBinding(bs []*crm.Binding, role, member string) bool {
	for _, b := range bs {
		if b.Role == role && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// TestFaultsApply injects a fault on projects.get: the call fails with the
// fault's status in Google's JSON error body, and the next one succeeds.
func TestFaultsApply(t *testing.T) {
	e := newEnv(t)
	e.w.Faults.Add(world.Fault{Method: "cloudresourcemanager.projects.get", Code: 14, Count: 1})
	_, err := e.v3.Projects.Get("projects/host-project").Context(e.ctx).Do()
	wantStatus(t, err, http.StatusServiceUnavailable)
	if _, err := e.v3.Projects.Get("projects/host-project").Context(e.ctx).Do(); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	if n := e.w.Faults.Calls()["cloudresourcemanager.projects.get"]; n != 2 {
		t.Errorf("%d calls counted", n)
	}
}

// v1 projects.list with gcloud's filter, v1 organizations and v2 folders.list/get: what
// `gcloud projects list`, `gcloud organizations list` and `gcloud resource-manager folders
// list/describe` call (runnet's --folder usage error
// points at the latter).
func TestProjectsListV1AndFoldersV2(t *testing.T) {
	e := newEnv(t)
	ids := func(filter string) []string {
		t.Helper()
		l, err := e.v1.Projects.List().Filter(filter).Context(e.ctx).Do()
		if err != nil {
			t.Fatalf("v1 list %q: %v", filter, err)
		}
		var out []string
		for _, p := range l.Projects {
			out = append(out, p.ProjectId)
		}
		return out
	}
	if got := ids("lifecycleState:ACTIVE AND (parent.id=" + folder + ")"); !slices.Equal(got, []string{"host-project", "service-a"}) {
		t.Errorf("projects in the folder = %v", got)
	}
	if got := ids("lifecycleState:ACTIVE"); !slices.Contains(got, "elsewhere") || !slices.Contains(got, "host-project") {
		t.Errorf("active projects = %v", got)
	}
	if got := ids("labels.env:prod parent.type:folder"); !slices.Equal(got, []string{"host-project"}) {
		t.Errorf("projects labelled env=prod = %v", got)
	}
	_, err := e.v1.Projects.List().Filter("color:blue").Context(e.ctx).Do()
	wantStatus(t, err, http.StatusBadRequest)

	v2, err := crmv2.NewService(e.ctx, servertest.RESTOptions(e.addr)...)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := v2.Folders.List().Parent("organizations/" + org).Context(e.ctx).Do()
	if err != nil || len(fl.Folders) != 1 || fl.Folders[0].Name != "folders/"+folder || fl.Folders[0].LifecycleState != "ACTIVE" || fl.Folders[0].DisplayName != "platform" {
		t.Fatalf("v2 folders list = %+v, %v", fl, err)
	}
	f, err := v2.Folders.Get("folders/" + folder).Context(e.ctx).Do()
	if err != nil || f.Parent != "organizations/"+org {
		t.Fatalf("v2 folder = %+v, %v", f, err)
	}
	_, err = v2.Folders.Get("folders/999").Context(e.ctx).Do()
	wantStatus(t, err, http.StatusForbidden)

	// v1 organizations, as `gcloud organizations list/describe` read them.
	orgs, err := e.v1.Organizations.Search(&crmv1.SearchOrganizationsRequest{}).Context(e.ctx).Do()
	if err != nil || len(orgs.Organizations) != 1 || orgs.Organizations[0].Name != "organizations/"+org || orgs.Organizations[0].LifecycleState != "ACTIVE" ||
		orgs.Organizations[0].Owner == nil || orgs.Organizations[0].Owner.DirectoryCustomerId == "" {
		t.Fatalf("v1 organizations search = %+v, %v", orgs, err)
	}
	if none, err := e.v1.Organizations.Search(&crmv1.SearchOrganizationsRequest{Filter: "domain:other.example"}).Context(e.ctx).Do(); err != nil || len(none.Organizations) != 0 {
		t.Errorf("search of another domain = %+v, %v", none, err)
	}
	o, err := e.v1.Organizations.Get("organizations/" + org).Context(e.ctx).Do()
	if err != nil || o.DisplayName != "example.com" {
		t.Fatalf("v1 organization = %+v, %v", o, err)
	}
}
