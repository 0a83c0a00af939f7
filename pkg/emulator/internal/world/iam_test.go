package world

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
)

// hierarchy makes org 1 > folder 2 > folder 3 > project leaf, and a host project with a
// subnet, and returns the world locked.
func hierarchy(t *testing.T) *World {
	t.Helper()
	w := New(Config{}, nil)
	w.Lock()
	t.Cleanup(w.Unlock)
	for _, err := range []error{
		second(w.PutOrganizationLocked(Organization{ID: "1", DisplayName: "example.com"})),
		second(w.PutFolderLocked(Folder{ID: "2", Parent: "organizations/1"})),
		second(w.PutFolderLocked(Folder{ID: "3", Parent: "folders/2"})),
		second(w.PutProjectLocked(Project{ID: "leaf-project", Parent: "folders/3"})),
		second(w.PutProjectLocked(Project{ID: "host-project", Parent: "organizations/1"})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	w.S.Networks[GlobalKey("host-project", "vpc")] = &compute.Network{Name: "vpc"}
	w.S.Subnetworks[RegionalKey("host-project", "us-central1", "run")] = &compute.Subnetwork{
		Name: "run", Network: "https://www.googleapis.com/compute/v1/projects/host-project/global/networks/vpc", StackType: "IPV4_ONLY",
	}
	return w
}

func second[T any](_ T, err error) error { return err }

func TestHierarchyRules(t *testing.T) {
	w := hierarchy(t)
	if got := w.AncestorsLocked("projects/leaf-project"); !slices.Equal(got, []string{"folders/3", "folders/2", "organizations/1"}) {
		t.Errorf("ancestors = %v", got)
	}
	if got := w.AncestorsLocked("projects/host-project/regions/us-central1/subnetworks/run"); !slices.Equal(got, []string{"projects/host-project", "organizations/1"}) {
		t.Errorf("subnet ancestors = %v", got)
	}
	if got := w.ProjectsUnderLocked("folders/2"); !slices.Equal(got, []string{"leaf-project"}) {
		t.Errorf("under folder 2 = %v", got)
	}
	if _, err := w.PutFolderLocked(Folder{ID: "2", Parent: "folders/3"}); err == nil {
		t.Error("a folder cycle was accepted")
	}
	if _, err := w.PutProjectLocked(Project{ID: "Bad_ID"}); err == nil {
		t.Error("a bad project id was accepted")
	}
	if _, err := w.PutProjectLocked(Project{ID: "orphan-project", Parent: "folders/99"}); err == nil {
		t.Error("an unknown parent was accepted")
	}
	num := ProjectNumber("leaf-project")
	if got := w.ResolveProjectLocked(strconv.FormatUint(num, 10)); got != "leaf-project" {
		t.Errorf("resolve %d = %s", num, got)
	}
}

func TestPolicyInheritanceAndEtags(t *testing.T) {
	w := hierarchy(t)
	// Default project policy: the service agents.
	if p := w.PolicyLocked("projects/leaf-project"); !p.Has("roles/run.serviceAgent", ServiceAgent("leaf-project")) {
		t.Fatalf("default policy = %+v", p)
	}
	if err := w.GrantLocked("folders/2", "roles/compute.networkUser", "user:dev@example.com"); err != nil {
		t.Fatal(err)
	}
	if !w.HasPermissionLocked("dev@example.com", "projects/leaf-project", "compute.subnetworks.use") {
		t.Error("a folder grant does not reach the project below")
	}
	if w.HasPermissionLocked("user:dev@example.com", "projects/host-project", "compute.subnetworks.use") {
		t.Error("a folder grant reaches a project outside the folder")
	}
	// A subnet binding grants subnetwork permissions only.
	sub := "projects/host-project/regions/us-central1/subnetworks/run"
	if err := w.GrantLocked(sub, "roles/compute.networkUser", "user:net@example.com"); err != nil {
		t.Fatal(err)
	}
	if !w.HasPermissionLocked("user:net@example.com", sub, "compute.subnetworks.use") || w.HasPermissionLocked("user:net@example.com", "projects/host-project/global/networks/vpc", "compute.networks.get") {
		t.Error("subnet-level networkUser: wrong scope")
	}
	// Etags: a stale one is refused, none overwrites.
	cur := w.PolicyLocked("projects/host-project")
	if _, err := w.SetPolicyLocked("projects/host-project", &Policy{Etag: cur.Etag, Bindings: []Binding{{Role: "roles/viewer", Members: []string{"domain:example.com"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SetPolicyLocked("projects/host-project", cur); !errors.Is(err, ErrEtagMismatch) {
		t.Errorf("stale etag: %v", err)
	}
	if !w.HasPermissionLocked("user:anyone@example.com", "projects/host-project", "compute.networks.get") {
		t.Error("domain: member and Viewer's get verb")
	}
	if _, err := w.SetPolicyLocked("projects/host-project", &Policy{Bindings: []Binding{{Role: "roles/owner", Members: []string{"bogus"}}}}); err == nil {
		t.Error("a bad member was accepted")
	}
	// Conditional bindings never grant.
	if _, err := w.SetPolicyLocked("projects/leaf-project", &Policy{Bindings: []Binding{{Role: "roles/owner", Members: []string{"user:c@example.com"}, Condition: &Condition{Expression: "true"}}}}); err != nil {
		t.Fatal(err)
	}
	if w.HasPermissionLocked("user:c@example.com", "projects/leaf-project", "compute.networks.get") {
		t.Error("a conditional binding granted")
	}
}

func TestEgressAccessRules(t *testing.T) {
	w := hierarchy(t)
	subnet := EgressTarget{SubnetProject: "host-project", Region: "us-central1", Subnet: "run"}
	conn := "projects/host-project/locations/us-central1/connectors/c"
	w.S.Connectors[conn] = &vpcaccesspb.Connector{Name: conn, State: vpcaccesspb.Connector_READY}
	connector := EgressTarget{Connector: conn}
	// Same project: the service agent's default role is enough.
	if d := w.CheckEgressAccessLocked("host-project", subnet); d != nil {
		t.Errorf("same project: %+v", d)
	}
	// Another project without Shared VPC: refused, whatever the grants.
	if err := w.GrantLocked("projects/host-project", "roles/compute.networkUser", ServiceAgent("leaf-project")); err != nil {
		t.Fatal(err)
	}
	if d := w.CheckEgressAccessLocked("leaf-project", subnet); d == nil || len(d.Missing) != 0 || !strings.HasPrefix(d.Message, "VPC subnetwork projects/host-project/regions/us-central1/subnetworks/run does not exist") {
		t.Errorf("not attached: %+v", d)
	}
	if err := w.EnableXpnHostLocked("host-project"); err != nil {
		t.Fatal(err)
	}
	if err := w.AttachLocked("host-project", "leaf-project"); err != nil {
		t.Fatal(err)
	}
	if d := w.CheckEgressAccessLocked("leaf-project", subnet); d != nil {
		t.Errorf("attached with networkUser on the host: %+v", d)
	}
	// The connector needs vpcaccess.user on the host project.
	d := w.CheckEgressAccessLocked("leaf-project", connector)
	if d == nil || !slices.Contains(d.Missing, "vpcaccess.connectors.get on projects/host-project") || d.Message != "VPC connector "+conn+" does not exist, or Cloud Run does not have permission to use it." {
		t.Errorf("connector without vpcaccess.user: %+v", d)
	}
	if err := w.GrantLocked("projects/host-project", "roles/vpcaccess.user", ServiceAgent("leaf-project")); err != nil {
		t.Fatal(err)
	}
	if d := w.CheckEgressAccessLocked("leaf-project", connector); d != nil {
		t.Errorf("connector with vpcaccess.user: %+v", d)
	}
	// Without networkUser, a subnet-level grant needs networkViewer on the project too.
	if err := w.RevokeLocked("projects/host-project", "roles/compute.networkUser", ServiceAgent("leaf-project")); err != nil {
		t.Fatal(err)
	}
	if err := w.GrantLocked("projects/host-project/regions/us-central1/subnetworks/run", "roles/compute.networkUser", ServiceAgent("leaf-project")); err != nil {
		t.Fatal(err)
	}
	if d := w.CheckEgressAccessLocked("leaf-project", subnet); d == nil || !strings.HasPrefix(d.Message, "VPC network projects/host-project/global/networks/vpc") {
		t.Errorf("subnet grant without networkViewer: %+v", d)
	}
	if err := w.GrantLocked("projects/host-project", "roles/compute.networkViewer", ServiceAgent("leaf-project")); err != nil {
		t.Fatal(err)
	}
	if d := w.CheckEgressAccessLocked("leaf-project", subnet); d != nil {
		t.Errorf("subnet networkUser + project networkViewer: %+v", d)
	}
	// Dual-stack with external IPv6 needs compute.addresses.create in the workload's project.
	w.S.Subnetworks[RegionalKey("host-project", "us-central1", "run")].StackType = "IPV4_IPV6"
	w.S.Subnetworks[RegionalKey("host-project", "us-central1", "run")].Ipv6AccessType = "EXTERNAL"
	if _, err := w.SetPolicyLocked("projects/leaf-project", &Policy{}); err != nil { // the agent loses roles/run.serviceAgent
		t.Fatal(err)
	}
	if d := w.CheckEgressAccessLocked("leaf-project", subnet); d == nil || !slices.Contains(d.Missing, "compute.addresses.create on projects/leaf-project") {
		t.Errorf("external IPv6 without the agent's role: %+v", d)
	}
}

func TestDirectorySurvivesSaveAndRestore(t *testing.T) {
	w := New(Config{}, nil)
	w.Lock()
	_ = second(w.PutOrganizationLocked(Organization{ID: "1"}))
	_ = second(w.PutProjectLocked(Project{ID: "host-project", Parent: "organizations/1"}))
	_ = w.EnableXpnHostLocked("host-project")
	_ = w.AttachLocked("host-project", "svc-project")
	_ = w.GrantLocked("projects/host-project", "roles/compute.networkUser", "user:a@example.com")
	w.SetConnectorInstancesLocked("projects/p/locations/r/connectors/c", 3)
	w.Unlock()
	b, err := w.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	w2 := New(Config{}, nil)
	if err := w2.Restore(b); err != nil {
		t.Fatal(err)
	}
	w2.Lock()
	defer w2.Unlock()
	if w2.XpnHostOfLocked("svc-project") != "host-project" || !w2.HasPermissionLocked("user:a@example.com", "projects/host-project", "compute.subnetworks.use") {
		t.Error("Shared VPC link or policy lost")
	}
	if cur, peak, ok := w2.ConnectorInstancesLocked("projects/p/locations/r/connectors/c"); !ok || cur != 3 || peak != 3 {
		t.Errorf("connector instances %d/%d %v", cur, peak, ok)
	}
	if p, declared := w2.ProjectLocked("host-project"); !declared || p.Parent != "organizations/1" {
		t.Errorf("project = %+v", p)
	}
}

// Members are normalized as IAM writes them, and what is not a member (a type given twice,
// one type inside another) is refused rather than stored as a binding that matches no one.
func TestMembers(t *testing.T) {
	const wif = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/subject/repo:o/r:ref:refs/heads/main"
	for in, want := range map[string]string{
		"alice@example.com":            "user:alice@example.com",
		"ci@p.iam.gserviceaccount.com": "serviceAccount:ci@p.iam.gserviceaccount.com",
		"serviceAccount:serviceAccount:ci@p.iam.gserviceaccount.com": "serviceAccount:ci@p.iam.gserviceaccount.com",
		"user:user:alice@example.com":                                "user:alice@example.com",
		" user:alice@example.com ":                                   "user:alice@example.com",
		wif:                                                          "principal:" + wif,
		"principal:principal:" + wif:                                 "principal:" + wif,
		"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*": "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*",
		"allUsers": "allUsers",
	} {
		if got := NormalizeMember(in); got != want {
			t.Errorf("NormalizeMember(%q) = %q, want %q", in, got, want)
		}
	}
	w := hierarchy(t)
	for _, bad := range []string{"user:serviceAccount:ci@p.iam.gserviceaccount.com", "serviceAccount:user:a@example.com", "user:alice", "principal:repo:x", "domain:a@example.com", "role:x"} {
		if err := w.GrantLocked("projects/leaf-project", "roles/owner", bad); err == nil {
			t.Errorf("member %q was accepted", bad)
		}
	}
	if err := w.GrantLocked("projects/leaf-project", "roles/owner", NormalizeMember("serviceAccount:serviceAccount:ci@p.iam.gserviceaccount.com")); err != nil {
		t.Fatal(err)
	}
	if !w.HasPermissionLocked("ci@p.iam.gserviceaccount.com", "projects/leaf-project", "compute.subnetworks.setIamPolicy") {
		t.Error("a doubled type, normalized, does not grant")
	}
	// A whole workload identity pool, as principalSet …/POOL/*, covers its subjects only.
	pool := "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*"
	if err := w.GrantLocked("projects/host-project", "roles/compute.networkViewer", pool); err != nil {
		t.Fatal(err)
	}
	if !w.HasPermissionLocked("principal:"+wif, "projects/host-project", "compute.subnetworks.get") {
		t.Error("a pool's principalSet does not cover its subject")
	}
	if w.HasPermissionLocked("principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/other/subject/x", "projects/host-project", "compute.subnetworks.get") {
		t.Error("a pool's principalSet covers another pool's subject")
	}
}

// The bindings SetDefaultProjectBindings adds are in every project's default policy, as its
// creator's Owner role is; a policy change removes them from that project alone.
func TestDefaultProjectBindings(t *testing.T) {
	w := New(Config{}, nil)
	w.SetDefaultProjectBindings([]Binding{{Role: "roles/owner", Members: []string{"ci@p.iam.gserviceaccount.com"}}})
	w.Lock()
	defer w.Unlock()
	sa := "serviceAccount:ci@p.iam.gserviceaccount.com"
	for _, p := range []string{"projects/any-project", "projects/other-project"} {
		if pol := w.PolicyLocked(p); !pol.Has("roles/owner", sa) || !pol.Has("roles/run.serviceAgent", ServiceAgent(strings.TrimPrefix(p, "projects/"))) {
			t.Errorf("%s: default policy %+v", p, pol)
		}
	}
	if !w.HasPermissionLocked(sa, "projects/any-project/regions/r/subnetworks/s", "compute.subnetworks.setIamPolicy") {
		t.Error("the default owner lacks a permission on a subnet of the project")
	}
	if err := w.RevokeLocked("projects/any-project", "roles/owner", sa); err != nil {
		t.Fatal(err)
	}
	if w.HasPermissionLocked(sa, "projects/any-project", "compute.subnetworks.use") || !w.HasPermissionLocked(sa, "projects/other-project", "compute.subnetworks.use") {
		t.Error("a revoke reached another project, or did not take")
	}
	if pol := w.PolicyLocked("projects/any-project"); !pol.Has("roles/run.serviceAgent", ServiceAgent("any-project")) {
		t.Errorf("the revoke dropped the service agent: %+v", pol)
	}
	if w.HasPermissionLocked(sa, "organizations/1", "resourcemanager.organizations.get") {
		t.Error("default project bindings reach an organization")
	}
}
