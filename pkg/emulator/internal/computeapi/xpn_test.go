package computeapi

import (
	"context"
	"net/http"
	"slices"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	hostProject = "host-project"
	svcProject  = "service-a"
)

// TestSharedVPCLifecycle drives projects.enableXpnHost, enableXpnResource, getXpnHost,
// getXpnResources, listXpnHosts and the disable calls with the real client, including the
// rules that refuse a change.
func TestSharedVPCLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.svc.Projects

	// A project that is not a host cannot take service projects.
	_, err := p.EnableXpnResource(hostProject, &compute.ProjectsEnableXpnResourceRequest{XpnResource: &compute.XpnResourceId{Id: svcProject, Type: "PROJECT"}}).Context(ctx).Do()
	wantErr(t, err, http.StatusBadRequest, "invalid", "Project 'host-project' is not a Shared VPC host project. Enable it as a host project first.")

	op := e.ok(t)(p.EnableXpnHost(hostProject).Context(ctx).Do())
	if op.OperationType != "enableXpnHost" || op.TargetLink != linkBase+"projects/"+hostProject || op.Error != nil {
		t.Fatalf("enableXpnHost operation = %+v", op)
	}
	pr, err := p.Get(hostProject).Context(ctx).Do()
	if err != nil || pr.XpnProjectStatus != "HOST" {
		t.Fatalf("host project = %+v, %v", pr, err)
	}
	for _, sp := range []string{svcProject, "service-b"} {
		e.ok(t)(p.EnableXpnResource(hostProject, &compute.ProjectsEnableXpnResourceRequest{XpnResource: &compute.XpnResourceId{Id: sp, Type: "PROJECT"}}).Context(ctx).Do())
	}
	res, err := p.GetXpnResources(hostProject).Context(ctx).Do()
	if err != nil || res.Kind != "compute#projectsGetXpnResources" || len(res.Resources) != 2 || res.Resources[0].Id != svcProject || res.Resources[0].Type != "PROJECT" {
		t.Fatalf("getXpnResources = %+v, %v", res, err)
	}
	page, err := p.GetXpnResources(hostProject).MaxResults(1).Context(ctx).Do()
	if err != nil || len(page.Resources) != 1 || page.NextPageToken == "" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	if page, err = p.GetXpnResources(hostProject).MaxResults(1).PageToken(page.NextPageToken).Context(ctx).Do(); err != nil || len(page.Resources) != 1 || page.Resources[0].Id != "service-b" {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	host, err := p.GetXpnHost(svcProject).Context(ctx).Do()
	if err != nil || host.Name != hostProject || host.XpnProjectStatus != "HOST" {
		t.Fatalf("getXpnHost = %+v, %v", host, err)
	}
	if none, err := p.GetXpnHost("lonely-project").Context(ctx).Do(); err != nil || none.Name != "" {
		t.Fatalf("getXpnHost of an unattached project = %+v, %v", none, err)
	}
	hosts, err := p.ListXpnHosts(svcProject, &compute.ProjectsListXpnHostsRequest{}).Context(ctx).Do()
	if err != nil || hosts.Kind != "compute#xpnHostList" || len(hosts.Items) != 1 || hosts.Items[0].Name != hostProject {
		t.Fatalf("listXpnHosts = %+v, %v", hosts, err)
	}

	// A service project can only be attached to one host, and cannot become a host.
	e.ok(t)(p.EnableXpnHost("other-host").Context(ctx).Do())
	_, err = p.EnableXpnResource("other-host", &compute.ProjectsEnableXpnResourceRequest{XpnResource: &compute.XpnResourceId{Id: svcProject, Type: "PROJECT"}}).Context(ctx).Do()
	wantErr(t, err, http.StatusBadRequest, "invalid", "")
	_, err = p.EnableXpnHost(svcProject).Context(ctx).Do()
	wantErr(t, err, http.StatusBadRequest, "invalid", "")
	// A host cannot be disabled while service projects are attached.
	_, err = p.DisableXpnHost(hostProject).Context(ctx).Do()
	wantErr(t, err, http.StatusBadRequest, "invalid", "")

	for _, sp := range []string{svcProject, "service-b"} {
		e.ok(t)(p.DisableXpnResource(hostProject, &compute.ProjectsDisableXpnResourceRequest{XpnResource: &compute.XpnResourceId{Id: sp, Type: "PROJECT"}}).Context(ctx).Do())
	}
	e.ok(t)(p.DisableXpnHost(hostProject).Context(ctx).Do())
	if pr, err := p.Get(hostProject).Context(ctx).Do(); err != nil || pr.XpnProjectStatus != "UNSPECIFIED_XPN_PROJECT_STATUS" {
		t.Fatalf("after disableXpnHost = %+v, %v", pr, err)
	}
}

// TestListXpnHostsByOrganization lists only the hosts of the organization asked for.
func TestListXpnHostsByOrganization(t *testing.T) {
	e := newEnv(t)
	e.w.Lock()
	for _, o := range []string{"111111111111", "222222222222"} {
		if _, err := e.w.PutOrganizationLocked(world.Organization{ID: o}); err != nil {
			t.Fatal(err)
		}
	}
	for _, pr := range []world.Project{{ID: "host-one", Parent: "organizations/111111111111"}, {ID: "host-two", Parent: "organizations/222222222222"}} {
		if _, err := e.w.PutProjectLocked(pr); err != nil {
			t.Fatal(err)
		}
		if err := e.w.EnableXpnHostLocked(pr.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.w.Unlock()
	hosts, err := e.svc.Projects.ListXpnHosts("host-one", &compute.ProjectsListXpnHostsRequest{Organization: "222222222222"}).Do()
	if err != nil || len(hosts.Items) != 1 || hosts.Items[0].Name != "host-two" {
		t.Fatalf("listXpnHosts(org 2) = %+v, %v", hosts, err)
	}
	hosts, err = e.svc.Projects.ListXpnHosts("host-one", &compute.ProjectsListXpnHostsRequest{}).Do()
	if err != nil || len(hosts.Items) != 1 || hosts.Items[0].Name != "host-one" {
		t.Fatalf("listXpnHosts(inferred org) = %+v, %v", hosts, err)
	}
	// Attaching across organizations is refused.
	_, err = e.svc.Projects.EnableXpnResource("host-one", &compute.ProjectsEnableXpnResourceRequest{XpnResource: &compute.XpnResourceId{Id: "host-two"}}).Do()
	wantErr(t, err, http.StatusBadRequest, "invalid", "")
}

// TestSubnetworkIAMPolicy sets a policy on a subnetwork, reads it back, refuses a stale etag,
// and answers testIamPermissions per caller once a caller is known: the policy of the
// subnetwork and that of its project both count.
func TestSubnetworkIAMPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.network(t, hostProject, "shared", false)
	e.subnet(t, hostProject, testRegion, "run", "shared", "10.2.0.0/24")
	s := e.svc.Subnetworks

	empty, err := s.GetIamPolicy(hostProject, testRegion, "run").Context(ctx).Do()
	if err != nil || len(empty.Bindings) != 0 || empty.Etag == "" {
		t.Fatalf("initial policy = %+v, %v", empty, err)
	}
	agent := world.ServiceAgent(svcProject)
	set, err := s.SetIamPolicy(hostProject, testRegion, "run", &compute.RegionSetPolicyRequest{Policy: &compute.Policy{
		Etag: empty.Etag, Bindings: []*compute.Binding{{Role: "roles/compute.networkUser", Members: []string{agent}}},
	}}).Context(ctx).Do()
	if err != nil || set.Etag == empty.Etag || len(set.Bindings) != 1 {
		t.Fatalf("setIamPolicy = %+v, %v", set, err)
	}
	got, err := s.GetIamPolicy(hostProject, testRegion, "run").Context(ctx).Do()
	if err != nil || got.Etag != set.Etag || got.Bindings[0].Role != "roles/compute.networkUser" || got.Bindings[0].Members[0] != agent {
		t.Fatalf("getIamPolicy = %+v, %v", got, err)
	}
	_, err = s.SetIamPolicy(hostProject, testRegion, "run", &compute.RegionSetPolicyRequest{Policy: &compute.Policy{Etag: empty.Etag}}).Context(ctx).Do()
	wantErr(t, err, http.StatusConflict, "conflict", "")
	_, err = s.GetIamPolicy(hostProject, testRegion, "nope").Context(ctx).Do()
	wantErr(t, err, http.StatusNotFound, "notFound", "")

	perms := []string{"compute.subnetworks.use", "compute.subnetworks.get", "compute.networks.get", "compute.subnetworks.setIamPolicy"}
	test := func() []string {
		t.Helper()
		resp, err := s.TestIamPermissions(hostProject, testRegion, "run", &compute.TestPermissionsRequest{Permissions: perms}).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		return resp.Permissions
	}
	// Acting as the service agent: networkUser on the subnetwork gives the subnet
	// permissions, not compute.networks.get (checked on the network) nor setIamPolicy.
	e.w.SetDefaultPrincipal(agent)
	if got := test(); !slices.Equal(got, []string{"compute.subnetworks.use", "compute.subnetworks.get"}) {
		t.Errorf("agent holds %v", got)
	}
	_, err = s.GetIamPolicy(hostProject, testRegion, "run").Context(ctx).Do()
	wantErr(t, err, http.StatusForbidden, "forbidden", "Required 'compute.subnetworks.getIamPolicy' permission for 'projects/host-project/regions/asia-northeast1/subnetworks/run'")
	// A stranger holds nothing; an owner of the project holds everything.
	e.w.SetDefaultPrincipal("user:stranger@example.com")
	if got := test(); len(got) != 0 {
		t.Errorf("stranger holds %v", got)
	}
	e.w.Lock()
	if err := e.w.GrantLocked("projects/"+hostProject, "roles/owner", "user:admin@example.com"); err != nil {
		t.Fatal(err)
	}
	e.w.Unlock()
	e.w.SetDefaultPrincipal("admin@example.com")
	if got := test(); !slices.Equal(got, perms) {
		t.Errorf("owner holds %v", got)
	}
	// Deleting the subnetwork drops its policy: a new one of the same name starts empty.
	e.w.SetDefaultPrincipal("")
	e.ok(t)(s.Delete(hostProject, testRegion, "run").Context(ctx).Do())
	e.subnet(t, hostProject, testRegion, "run", "shared", "10.2.0.0/24")
	if again, err := s.GetIamPolicy(hostProject, testRegion, "run").Context(ctx).Do(); err != nil || len(again.Bindings) != 0 {
		t.Fatalf("policy of the recreated subnetwork = %+v, %v", again, err)
	}
}

// TestSharedVPCNeedsPermissionWithKnownCaller refuses Shared VPC changes to a caller without
// the Shared VPC Admin's permissions, and lets one through who holds roles/compute.xpnAdmin
// on the organization.
func TestSharedVPCNeedsPermissionWithKnownCaller(t *testing.T) {
	e := newEnv(t)
	e.w.Lock()
	if _, err := e.w.PutOrganizationLocked(world.Organization{ID: "111111111111", DisplayName: "example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.PutProjectLocked(world.Project{ID: hostProject, Parent: "organizations/111111111111"}); err != nil {
		t.Fatal(err)
	}
	if err := e.w.GrantLocked("organizations/111111111111", "roles/compute.xpnAdmin", "user:xpn@example.com"); err != nil {
		t.Fatal(err)
	}
	e.w.Unlock()
	e.w.SetDefaultPrincipal("user:dev@example.com")
	_, err := e.svc.Projects.EnableXpnHost(hostProject).Do()
	wantErr(t, err, http.StatusForbidden, "forbidden", "Required 'compute.organizations.enableXpnHost' permission for 'projects/host-project'")
	e.w.SetDefaultPrincipal("user:xpn@example.com")
	e.ok(t)(e.svc.Projects.EnableXpnHost(hostProject).Do())
}

// TestDualStackSubnetwork creates an internal IPv6 dual-stack subnetwork on a network with ULA
// internal IPv6, refuses one on a network without it, and converts an IPv4 subnet by patch.
func TestDualStackSubnetwork(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.ok(t)(e.svc.Networks.Insert(testProject, &compute.Network{Name: "ula", EnableUlaInternalIpv6: true, ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do())
	e.network(t, testProject, "plain", false)
	n, err := e.svc.Networks.Get(testProject, "ula").Do()
	if err != nil || n.InternalIpv6Range == "" {
		t.Fatalf("ula network = %+v, %v", n, err)
	}
	base, err := parseIPv6Range(n.InternalIpv6Range)
	if err != nil {
		t.Fatal(err)
	}

	insert := func(name, network, cidr string) (*compute.Operation, error) {
		return e.svc.Subnetworks.Insert(testProject, testRegion, &compute.Subnetwork{
			Name: name, Network: "global/networks/" + network, IpCidrRange: cidr, StackType: "IPV4_IPV6", Ipv6AccessType: "INTERNAL",
		}).Context(ctx).Do()
	}
	e.ok(t)(insert("dual-a", "ula", "10.1.0.0/24"))
	e.ok(t)(insert("dual-b", "ula", "10.1.1.0/24"))
	a, _ := e.svc.Subnetworks.Get(testProject, testRegion, "dual-a").Do()
	b, _ := e.svc.Subnetworks.Get(testProject, testRegion, "dual-b").Do()
	for _, sn := range []*compute.Subnetwork{a, b} {
		p, err := parseIPv6Range(sn.InternalIpv6Prefix)
		if err != nil || p.Bits() != 64 || !base.Contains(p.Addr()) || sn.StackType != "IPV4_IPV6" || sn.Ipv6AccessType != "INTERNAL" {
			t.Errorf("%s: stack %s access %s prefix %q (network range %s)", sn.Name, sn.StackType, sn.Ipv6AccessType, sn.InternalIpv6Prefix, n.InternalIpv6Range)
		}
	}
	if a.InternalIpv6Prefix == b.InternalIpv6Prefix {
		t.Errorf("two subnets share the /64 %s", a.InternalIpv6Prefix)
	}
	_, err = insert("dual-c", "plain", "10.2.0.0/24")
	wantErr(t, err, http.StatusBadRequest, "invalid", "Invalid value for field 'resource.ipv6AccessType': 'INTERNAL'. The network 'projects/test-project/global/networks/plain' does not have ULA internal IPv6 enabled: set enableUlaInternalIpv6 on the network to create subnetworks with internal IPv6 access.")

	// An IPv4-only subnet becomes dual-stack by patch, and its access type is then fixed.
	v4 := e.subnet(t, testProject, testRegion, "v4", "ula", "10.1.2.0/24")
	e.ok(t)(e.svc.Subnetworks.Patch(testProject, testRegion, "v4", &compute.Subnetwork{Fingerprint: v4.Fingerprint, StackType: "IPV4_IPV6", Ipv6AccessType: "INTERNAL"}).Do())
	v6, _ := e.svc.Subnetworks.Get(testProject, testRegion, "v4").Do()
	if v6.StackType != "IPV4_IPV6" || v6.InternalIpv6Prefix == "" || v6.InternalIpv6Prefix == a.InternalIpv6Prefix || v6.InternalIpv6Prefix == b.InternalIpv6Prefix {
		t.Fatalf("patched subnet = stack %s prefix %s", v6.StackType, v6.InternalIpv6Prefix)
	}
	_, err = e.svc.Subnetworks.Patch(testProject, testRegion, "v4", &compute.Subnetwork{Fingerprint: v6.Fingerprint, Ipv6AccessType: "EXTERNAL"}).Do()
	wantErr(t, err, http.StatusBadRequest, "invalid", "")
}

// subnetworks.listUsable (`gcloud compute networks subnets list-usable`) gives a service
// project's own subnets and its host's, each only where the caller holds
// compute.subnetworks.use.
func TestSubnetworksListUsable(t *testing.T) {
	e := newEnv(t)
	e.network(t, hostProject, "shared", false)
	e.subnet(t, hostProject, testRegion, "run", "shared", "10.2.0.0/24")
	e.subnet(t, hostProject, testRegion, "other", "shared", "10.3.0.0/24")
	e.network(t, svcProject, "own", false)
	e.subnet(t, svcProject, testRegion, "mine", "own", "10.4.0.0/24")
	e.ok(t)(e.svc.Projects.EnableXpnHost(hostProject).Do())
	e.ok(t)(e.svc.Projects.EnableXpnResource(hostProject, &compute.ProjectsEnableXpnResourceRequest{XpnResource: &compute.XpnResourceId{Id: svcProject, Type: "PROJECT"}}).Do())
	usable := func() []string {
		t.Helper()
		l, err := e.svc.Subnetworks.ListUsable(svcProject).Do()
		if err != nil {
			t.Fatal(err)
		}
		if l.Kind != "compute#usableSubnetworksAggregatedList" {
			t.Errorf("kind = %q", l.Kind)
		}
		var out []string
		for _, u := range l.Items {
			out = append(out, u.Subnetwork+" "+u.IpCidrRange)
			if u.Network == "" {
				t.Errorf("%s: no network", u.Subnetwork)
			}
		}
		slices.Sort(out)
		return out
	}
	sub := func(project, name, cidr string) string {
		return linkBase + "projects/" + project + "/regions/" + testRegion + "/subnetworks/" + name + " " + cidr
	}
	if got, want := usable(), []string{sub(hostProject, "other", "10.3.0.0/24"), sub(hostProject, "run", "10.2.0.0/24"), sub(svcProject, "mine", "10.4.0.0/24")}; !slices.Equal(got, want) {
		t.Errorf("usable without a known caller = %v, want %v", got, want)
	}
	e.w.Lock()
	err := e.w.GrantLocked("projects/"+hostProject+"/regions/"+testRegion+"/subnetworks/run", "roles/compute.networkUser", "user:dev@example.com")
	e.w.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	e.w.SetDefaultPrincipal("user:dev@example.com")
	if got, want := usable(), []string{sub(hostProject, "run", "10.2.0.0/24")}; !slices.Equal(got, want) {
		t.Errorf("usable by a networkUser of one host subnet = %v, want %v", got, want)
	}
}
