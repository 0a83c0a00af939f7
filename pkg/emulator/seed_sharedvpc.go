package emulator

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// SeedSharedVPC is an organization that runs Cloud Run on Shared VPC, as platform teams do:
//
//	organizations/SharedVPCOrg (example.com)
//	├── folders/SharedVPCFolderPlatform  "platform"
//	│   └── SharedVPCHost       Shared VPC host: network shared-vpc (ULA internal IPv6 on),
//	│                           subnets run-connector (/28, the connector's), run-direct
//	│                           (IPv4, for Direct VPC egress), run-direct-v6 (dual-stack,
//	│                           internal IPv6), connector shared-conn on run-connector
//	└── folders/SharedVPCFolderApps  "apps"
//	    ├── team-a   services api, web; job batch      all on the host's connector
//	    ├── team-b   services orders, payments; job nightly
//	    └── team-c   services search, recs; job reindex
//
// Every service project is attached to the host. Each one's Cloud Run service agent holds
// roles/vpcaccess.user (to use the host's connector) and roles/compute.networkViewer on the
// host project, but roles/compute.networkUser nowhere: moving a workload to Direct VPC egress
// on run-direct fails to start until networkUser is granted on the subnet (or the host).
// admin@example.com owns the organization; platform@example.com can search it with Cloud
// Asset Inventory; dev@example.com owns the service projects only.
const SeedSharedVPC = "sharedvpc"

// Names in the sharedvpc seed.
const (
	SharedVPCOrg            = "123456789012"
	SharedVPCFolderPlatform = "234567890123"
	SharedVPCFolderApps     = "345678901234"
	SharedVPCHost           = "net-host"
	SharedVPCRegion         = "asia-northeast1"
	SharedVPCNetwork        = "shared-vpc"
	SharedVPCConnectorNet   = "run-connector"
	SharedVPCDirectSubnet   = "run-direct"
	SharedVPCDualSubnet     = "run-direct-v6"
	SharedVPCConnector      = "shared-conn"
	SharedVPCAdmin          = "user:admin@example.com"
	SharedVPCPlatform       = "user:platform@example.com"
	SharedVPCDeveloper      = "user:dev@example.com"
)

// SharedVPCServiceProjects are the seed's service projects, with their workloads.
var SharedVPCServiceProjects = []string{"team-a", "team-b", "team-c"}

// sharedVPCWorkloads are the services (two) and the job (one) of each service project.
var sharedVPCWorkloads = map[string][3]string{
	"team-a": {"api", "web", "batch"},
	"team-b": {"orders", "payments", "nightly"},
	"team-c": {"search", "recs", "reindex"},
}

// SharedVPCConnectorName is the full name of the seed's host connector.
func SharedVPCConnectorName() string {
	return "projects/" + SharedVPCHost + "/locations/" + SharedVPCRegion + "/connectors/" + SharedVPCConnector
}

func seedSharedVPCLocked(w *world.World) error {
	must := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	org := "organizations/" + SharedVPCOrg
	if _, err := w.PutOrganizationLocked(world.Organization{ID: SharedVPCOrg, DisplayName: "example.com"}); err != nil {
		return must("organization", err)
	}
	for _, f := range []world.Folder{
		{ID: SharedVPCFolderPlatform, DisplayName: "platform", Parent: org},
		{ID: SharedVPCFolderApps, DisplayName: "apps", Parent: org},
	} {
		if _, err := w.PutFolderLocked(f); err != nil {
			return must("folder "+f.DisplayName, err)
		}
	}
	if _, err := w.PutProjectLocked(world.Project{ID: SharedVPCHost, DisplayName: "Network host", Parent: "folders/" + SharedVPCFolderPlatform, Labels: map[string]string{"role": "network"}}); err != nil {
		return must("host project", err)
	}
	for _, p := range SharedVPCServiceProjects {
		if _, err := w.PutProjectLocked(world.Project{ID: p, DisplayName: p, Parent: "folders/" + SharedVPCFolderApps, Labels: map[string]string{"team": p[len("team-"):]}}); err != nil {
			return must("project "+p, err)
		}
	}
	for _, g := range []struct{ res, role, member string }{
		{org, "roles/owner", SharedVPCAdmin},
		{org, "roles/compute.xpnAdmin", SharedVPCAdmin},
		{org, "roles/cloudasset.viewer", SharedVPCPlatform},
		{org, "roles/browser", SharedVPCPlatform},
	} {
		if err := w.GrantLocked(g.res, g.role, g.member); err != nil {
			return must("grant "+g.role, err)
		}
	}

	h, r := SharedVPCHost, SharedVPCRegion
	if _, err := computeapi.PutNetworkLocked(w, h, &compute.Network{
		Name: SharedVPCNetwork, AutoCreateSubnetworks: false, EnableUlaInternalIpv6: true, ForceSendFields: []string{"AutoCreateSubnetworks"},
	}); err != nil {
		return must("network", err)
	}
	netURL := "https://www.googleapis.com/compute/v1/projects/" + h + "/global/networks/" + SharedVPCNetwork
	for _, s := range []*compute.Subnetwork{
		{Name: SharedVPCConnectorNet, Network: netURL, IpCidrRange: "10.20.0.0/28"},
		{Name: SharedVPCDirectSubnet, Network: netURL, IpCidrRange: "10.21.0.0/24", PrivateIpGoogleAccess: true},
		{Name: SharedVPCDualSubnet, Network: netURL, IpCidrRange: "10.22.0.0/24", PrivateIpGoogleAccess: true, StackType: "IPV4_IPV6", Ipv6AccessType: "INTERNAL"},
	} {
		if _, err := computeapi.PutSubnetworkLocked(w, h, r, s); err != nil {
			return must("subnetwork "+s.Name, err)
		}
	}
	if xerr := w.EnableXpnHostLocked(h); xerr != nil {
		return must("enable host", xerr)
	}
	for _, p := range SharedVPCServiceProjects {
		if xerr := w.AttachLocked(h, p); xerr != nil {
			return must("attach "+p, xerr)
		}
		agent := world.ServiceAgent(p)
		for _, role := range []string{"roles/vpcaccess.user", "roles/compute.networkViewer"} {
			if err := w.GrantLocked("projects/"+h, role, agent); err != nil {
				return must("grant "+role, err)
			}
		}
		if err := w.GrantLocked("projects/"+p, "roles/owner", SharedVPCDeveloper); err != nil {
			return must("grant owner", err)
		}
	}
	conn := SharedVPCConnectorName()
	if _, err := vpcaccessapi.PutConnectorLocked(w, &vpcaccesspb.Connector{
		Name:         conn,
		Subnet:       &vpcaccesspb.Connector_Subnet{Name: SharedVPCConnectorNet, ProjectId: h},
		MinInstances: 2, MaxInstances: 6, MachineType: "e2-micro",
	}); err != nil {
		return must("connector", err)
	}
	// The connector scaled out once under load and, connectors never scaling in, stays there.
	if err := vpcaccessapi.ScaleConnectorLocked(w, conn, 4); err != nil {
		return must("connector scale", err)
	}

	for _, p := range SharedVPCServiceProjects {
		loc := "projects/" + p + "/locations/" + r
		names := sharedVPCWorkloads[p]
		image := r + "-docker.pkg.dev/" + p + "/apps/"
		for _, svc := range names[:2] {
			if _, err := runapi.PutServiceLocked(w, &runpb.Service{
				Name:   loc + "/services/" + svc,
				Labels: map[string]string{"team": p[len("team-"):]},
				Template: &runpb.RevisionTemplate{
					Containers: []*runpb.Container{{Image: image + svc + ":1", Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}}}},
					VpcAccess:  &runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY},
					Scaling:    &runpb.RevisionScaling{MaxInstanceCount: 10},
				},
			}); err != nil {
				return must("service "+svc, err)
			}
		}
		if _, err := runapi.PutJobLocked(w, &runpb.Job{
			Name:   loc + "/jobs/" + names[2],
			Labels: map[string]string{"team": p[len("team-"):]},
			Template: &runpb.ExecutionTemplate{TaskCount: 1, Template: &runpb.TaskTemplate{
				Containers: []*runpb.Container{{Image: image + names[2] + ":1"}},
				VpcAccess:  &runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY},
			}},
		}); err != nil {
			return must("job "+names[2], err)
		}
	}
	return nil
}
