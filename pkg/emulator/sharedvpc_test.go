package emulator_test

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/iterator"
	vpcrest "google.golang.org/api/vpcaccess/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

var (
	svcRegion = emulator.SharedVPCRegion
	host      = emulator.SharedVPCHost
	appsScope = "folders/" + emulator.SharedVPCFolderApps
)

// TestSharedVPCSeedLinks reads the sharedvpc seed's hierarchy and Shared VPC links through
// Resource Manager and Compute.
func TestSharedVPCSeedLinks(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	c := ctx(t)
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.Projects.GetXpnResources(host).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	var attached []string
	for _, r := range res.Resources {
		attached = append(attached, r.Id)
	}
	if !slices.Equal(attached, emulator.SharedVPCServiceProjects) {
		t.Errorf("service projects = %v", attached)
	}
	rm, err := crm.NewService(c, e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	list, err := rm.Projects.List().Parent(appsScope).Context(c).Do()
	if err != nil || len(list.Projects) != 3 {
		t.Fatalf("projects in apps = %+v, %v", list, err)
	}
	p, err := rm.Projects.Get("projects/team-a").Context(c).Do()
	if err != nil || p.Name != "projects/"+strconv.FormatUint(emulator.ProjectNumber("team-a"), 10) {
		t.Fatalf("team-a = %+v, %v", p, err)
	}
	pol, err := rm.Projects.GetIamPolicy("projects/"+host, &crm.GetIamPolicyRequest{}).Context(c).Do()
	if err != nil || !hasMember(pol, "roles/vpcaccess.user", emulator.ServiceAgent("team-b")) {
		t.Fatalf("host policy = %+v, %v", pol, err)
	}
	if cur, peak, ok := e.ConnectorInstances(emulator.SharedVPCConnectorName()); !ok || cur != 4 || peak != 4 {
		t.Errorf("connector instances = %d (peak %d), %v", cur, peak, ok)
	}
	conns, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conns.Close()
	conn, err := conns.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: emulator.SharedVPCConnectorName()})
	if err != nil || !slices.Equal(conn.GetConnectedProjects(), emulator.SharedVPCServiceProjects) {
		t.Fatalf("connector = %v, %v", conn, err)
	}
}

func hasMember(p *crm.Policy, role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// TestServiceAgentNeedsNetworkUser moves a service project's workload to Direct VPC egress on
// a host subnet: the revision fails to start with Cloud Run's message while the project's
// service agent lacks networkUser; after setIamPolicy on the subnet grants it, it starts. A
// project that is not attached to the host cannot use the subnet at all.
func TestServiceAgentNeedsNetworkUser(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	c := ctx(t)
	svcs, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	name := "projects/team-a/locations/" + svcRegion + "/services/api"
	subnet := "projects/" + host + "/regions/" + svcRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	attempt := 0
	toDirect := func(name, subnet string) (*runpb.Service, error) {
		t.Helper()
		s, err := svcs.GetService(c, &runpb.GetServiceRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		// A new template label makes a new revision even when the VPC settings are those of
		// the failed one (an unchanged template makes none).
		attempt++
		if s.Template.Labels == nil {
			s.Template.Labels = map[string]string{}
		}
		s.Template.Labels["attempt"] = strconv.Itoa(attempt)
		s.Template.VpcAccess = &runpb.VpcAccess{
			NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "projects/" + host + "/global/networks/" + emulator.SharedVPCNetwork, Subnetwork: subnet}},
			Egress:            runpb.VpcAccess_PRIVATE_RANGES_ONLY,
		}
		op, err := svcs.UpdateService(c, &runpb.UpdateServiceRequest{Service: s})
		if err != nil {
			t.Fatal(err)
		}
		return op.Wait(c)
	}
	before, err := svcs.GetService(c, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	_, err = toDirect(name, subnet)
	want := "VPC subnetwork " + subnet + " does not exist, or Cloud Run does not have permission to use it."
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), want) {
		t.Fatalf("update without networkUser: %v, want FAILED_PRECONDITION with %q", err, want)
	}
	if got, _ := svcs.GetService(c, &runpb.GetServiceRequest{Name: name}); got.GetLatestReadyRevision() != before.GetLatestReadyRevision() {
		t.Errorf("traffic left the old revision: latest ready %s, was %s", got.GetLatestReadyRevision(), before.GetLatestReadyRevision())
	}

	// Grant networkUser on the subnet, read-modify-write as gcloud does.
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := cs.Subnetworks.GetIamPolicy(host, svcRegion, emulator.SharedVPCDirectSubnet).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &compute.Binding{Role: "roles/compute.networkUser", Members: []string{emulator.ServiceAgent("team-a")}})
	if _, err := cs.Subnetworks.SetIamPolicy(host, svcRegion, emulator.SharedVPCDirectSubnet, &compute.RegionSetPolicyRequest{Policy: pol}).Context(c).Do(); err != nil {
		t.Fatal(err)
	}
	got, err := toDirect(name, subnet)
	if err != nil {
		t.Fatalf("update after the grant: %v", err)
	}
	if got.GetLatestReadyRevision() == before.GetLatestReadyRevision() || got.GetTemplate().GetVpcAccess().GetNetworkInterfaces()[0].GetSubnetwork() != subnet {
		t.Errorf("service after the grant = latest ready %s, vpc %v", got.GetLatestReadyRevision(), got.GetTemplate().GetVpcAccess())
	}
	// team-b's agent got nothing: the same move fails for team-b.
	if _, err := toDirect("projects/team-b/locations/"+svcRegion+"/services/orders", subnet); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("team-b without a grant: %v", err)
	}

	// Dual-stack: a project-level networkUser grant on the host covers every subnet.
	if err := e.Grant("projects/"+host, "roles/compute.networkUser", emulator.ServiceAgent("team-b")); err != nil {
		t.Fatal(err)
	}
	dual := "projects/" + host + "/regions/" + svcRegion + "/subnetworks/" + emulator.SharedVPCDualSubnet
	if _, err := toDirect("projects/team-b/locations/"+svcRegion+"/services/payments", dual); err != nil {
		t.Errorf("team-b on the dual-stack subnet: %v", err)
	}

	// A project that is not attached to the host cannot use its subnets, whatever its grants.
	if err := e.Grant("projects/"+host, "roles/compute.networkUser", emulator.ServiceAgent("outsider")); err != nil {
		t.Fatal(err)
	}
	op, err := svcs.CreateService(c, &runpb.CreateServiceRequest{
		Parent: "projects/outsider/locations/" + svcRegion, ServiceId: "lone",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{
			Containers: []*runpb.Container{{Image: "us-docker.pkg.dev/cloudrun/container/hello"}},
			VpcAccess:  &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Subnetwork: subnet}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(c); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), want) {
		t.Errorf("unattached project: %v", err)
	}
}

// TestSearchAllResourcesByFolder finds every workload of the three service projects through
// Cloud Asset Inventory scoped to their folder, pages through them, reads their VPC settings
// from versionedResources, and refuses a caller without cloudasset.assets.searchAllResources.
func TestSearchAllResourcesByFolder(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	c := ctx(t)
	ac, err := asset.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	search := func(req *assetpb.SearchAllResourcesRequest) ([]*assetpb.ResourceSearchResult, error) {
		var out []*assetpb.ResourceSearchResult
		it := ac.SearchAllResources(c, req)
		for {
			r, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
	}
	workloads := []string{"run.googleapis.com/Service", "run.googleapis.com/Job", "run.googleapis.com/WorkerPool"}
	got, err := search(&assetpb.SearchAllResourcesRequest{Scope: appsScope, AssetTypes: workloads, PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.GetName())
		project := strings.Split(r.GetName(), "/")[4]
		if r.GetProject() != "projects/"+strconv.FormatUint(emulator.ProjectNumber(project), 10) ||
			!slices.Equal(r.GetFolders(), []string{appsScope}) || r.GetOrganization() != "organizations/"+emulator.SharedVPCOrg ||
			r.GetLocation() != svcRegion || r.GetCreateTime() == nil || r.GetLabels()["team"] == "" {
			t.Errorf("result %s = project %s folders %v org %s location %s labels %v", r.GetName(), r.GetProject(), r.GetFolders(), r.GetOrganization(), r.GetLocation(), r.GetLabels())
		}
		if len(r.GetVersionedResources()) != 0 {
			t.Errorf("%s: versionedResources returned without being asked for", r.GetName())
		}
	}
	if len(names) != 9 || !sort.StringsAreSorted(names) || len(slices.Compact(slices.Clone(names))) != 9 {
		t.Fatalf("%d workloads: %v", len(names), names)
	}
	if names[0] != "//run.googleapis.com/projects/team-a/locations/"+svcRegion+"/jobs/batch" {
		t.Errorf("first result %s", names[0])
	}

	// Query and read mask: one service, with its VPC settings.
	one, err := search(&assetpb.SearchAllResourcesRequest{
		Scope: "organizations/" + emulator.SharedVPCOrg, AssetTypes: []string{"run.googleapis.com/Service"},
		Query: "name:orders location:" + svcRegion, ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "versioned_resources"}},
	})
	if err != nil || len(one) != 1 {
		t.Fatalf("query = %v, %v", one, err)
	}
	if one[0].GetProject() != "" || len(one[0].GetVersionedResources()) != 1 {
		t.Fatalf("masked result = %v", one[0])
	}
	vr := one[0].GetVersionedResources()[0]
	connector := vr.GetResource().GetFields()["template"].GetStructValue().GetFields()["vpcAccess"].GetStructValue().GetFields()["connector"].GetStringValue()
	if vr.GetVersion() != "v2" || connector != emulator.SharedVPCConnectorName() {
		t.Errorf("versioned resource %s: connector %q", vr.GetVersion(), connector)
	}

	// The host's connector and subnetworks, by organization.
	infra, err := search(&assetpb.SearchAllResourcesRequest{
		Scope: "organizations/" + emulator.SharedVPCOrg, AssetTypes: []string{"vpcaccess.googleapis.com/Connector", "compute.googleapis.com/Subnetwork"},
	})
	if err != nil || len(infra) != 4 {
		t.Fatalf("connector and subnets = %d, %v", len(infra), err)
	}
	if infra[3].GetName() != "//vpcaccess.googleapis.com/"+emulator.SharedVPCConnectorName() || infra[3].GetState() != "READY" {
		t.Errorf("last = %s %s", infra[3].GetName(), infra[3].GetState())
	}

	// Permission: dev@ owns the service projects but not the folder.
	e.SetPrincipal(emulator.SharedVPCDeveloper)
	if _, err := search(&assetpb.SearchAllResourcesRequest{Scope: appsScope}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("developer on the folder: %v", err)
	}
	own, err := search(&assetpb.SearchAllResourcesRequest{Scope: "projects/team-a", AssetTypes: workloads})
	if err != nil || len(own) != 3 {
		t.Fatalf("developer on team-a: %d, %v", len(own), err)
	}
	e.SetPrincipal(emulator.SharedVPCPlatform)
	if got, err := search(&assetpb.SearchAllResourcesRequest{Scope: appsScope, AssetTypes: workloads}); err != nil || len(got) != 9 {
		t.Fatalf("platform on the folder: %d, %v", len(got), err)
	}
}

// TestConnectorPatchInPlace changes the host connector's machine type through the REST PATCH
// with an update mask: the same connector (name, subnet, users, create time, instances) is
// UPDATING while the operation runs and READY with the new machine type after. Lowering
// instances and changing the network are refused.
func TestConnectorPatchInPlace(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC, LRODuration: 200 * time.Millisecond})
	c := ctx(t)
	rest, err := vpcrest.NewService(c, e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	conns, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conns.Close()
	ops, err := lroauto.NewOperationsClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	ac, err := asset.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	name := emulator.SharedVPCConnectorName()
	createTime := func() time.Time {
		t.Helper()
		r, err := ac.SearchAllResources(c, &assetpb.SearchAllResourcesRequest{Scope: "projects/" + host, AssetTypes: []string{"vpcaccess.googleapis.com/Connector"}}).Next()
		if err != nil {
			t.Fatal(err)
		}
		return r.GetCreateTime().AsTime()
	}
	created := createTime()
	before, err := conns.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}

	op, err := rest.Projects.Locations.Connectors.Patch(name, &vpcrest.Connector{MachineType: "e2-standard-4"}).UpdateMask("machineType").Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op.Done || !strings.HasPrefix(op.Name, "projects/"+host+"/locations/"+svcRegion+"/operations/") {
		t.Fatalf("operation = %+v", op)
	}
	if mid, err := conns.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: name}); err != nil || mid.GetState() != vpcaccesspb.Connector_UPDATING {
		t.Fatalf("during the update: %v, %v", mid.GetState(), err)
	}
	done, err := ops.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.Name, Timeout: durationpb.New(10 * time.Second)})
	if err != nil || !done.GetDone() || done.GetError() != nil {
		t.Fatalf("operation = %v, %v", done, err)
	}
	after, err := conns.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetState() != vpcaccesspb.Connector_READY || after.GetMachineType() != "e2-standard-4" ||
		after.GetSubnet().GetName() != before.GetSubnet().GetName() || after.GetMinInstances() != before.GetMinInstances() ||
		!slices.Equal(after.GetConnectedProjects(), before.GetConnectedProjects()) {
		t.Errorf("after = %v\nbefore = %v", after, before)
	}
	if got := createTime(); !got.Equal(created) {
		t.Errorf("create time %v, was %v: the connector was recreated", got, created)
	}
	if cur, peak, _ := e.ConnectorInstances(name); cur != 4 || peak != 4 {
		t.Errorf("instances %d (peak %d), want 4 kept", cur, peak)
	}

	// Raising min_instances past the running count starts instances; lowering is refused.
	op, err = rest.Projects.Locations.Connectors.Patch(name, &vpcrest.Connector{MinInstances: 5, MaxInstances: 8}).UpdateMask("minInstances,maxInstances").Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.WaitOperation(c, &longrunningpb.WaitOperationRequest{Name: op.Name, Timeout: durationpb.New(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if cur, peak, _ := e.ConnectorInstances(name); cur != 5 || peak != 5 {
		t.Errorf("after raising min to 5: %d instances (peak %d)", cur, peak)
	}
	for _, tc := range []struct {
		conn *vpcrest.Connector
		mask string
	}{
		{&vpcrest.Connector{MaxInstances: 7}, "maxInstances"},
		{&vpcrest.Connector{MinInstances: 3}, "minInstances"},
		{&vpcrest.Connector{Network: "other"}, "network"},
		{&vpcrest.Connector{MachineType: "n2-standard-8"}, "machineType"},
	} {
		if _, err := rest.Projects.Locations.Connectors.Patch(name, tc.conn).UpdateMask(tc.mask).Context(c).Do(); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("patch %s: %v, want 400", tc.mask, err)
		}
	}
	if _, err := rest.Projects.Locations.Connectors.Patch(strings.Replace(name, emulator.SharedVPCConnector, "nope", 1), &vpcrest.Connector{MachineType: "e2-micro"}).UpdateMask("machineType").Context(c).Do(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing connector: %v", err)
	}
}
