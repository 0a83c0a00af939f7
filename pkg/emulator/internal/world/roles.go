package world

import (
	"slices"
	"strings"
)

// predefinedRoles are the predefined roles the emulator expands into permissions. Each list is
// the role's "includedPermissions" as Google's role reference gives it (IAM docs, "IAM roles
// and permissions index"; `gcloud iam roles describe ROLE`), limited to the services the
// emulator serves (compute, vpcaccess, run, resourcemanager, cloudasset, serviceusage).
// Roles not listed grant nothing, except the basic roles handled in RoleGrants.
var predefinedRoles = map[string][]string{
	// Compute Network User: "Access to use Compute Engine networking resources." The role
	// Shared VPC admins grant service project principals and Cloud Run's service agent on the
	// host project or on single subnets (Cloud Run docs, "Direct VPC egress with a Shared VPC
	// network", Set up IAM permissions).
	"roles/compute.networkUser": {
		"compute.addresses.createInternal", "compute.addresses.deleteInternal", "compute.addresses.get",
		"compute.addresses.list", "compute.addresses.useInternal",
		"compute.externalVpnGateways.get", "compute.externalVpnGateways.list", "compute.externalVpnGateways.use",
		"compute.firewalls.get", "compute.firewalls.list",
		"compute.interconnectAttachments.get", "compute.interconnectAttachments.list",
		"compute.interconnectLocations.get", "compute.interconnectLocations.list",
		"compute.interconnects.get", "compute.interconnects.list", "compute.interconnects.use",
		"compute.networkAttachments.get", "compute.networkAttachments.list",
		"compute.networks.access", "compute.networks.get", "compute.networks.getEffectiveFirewalls",
		"compute.networks.getRegionEffectiveFirewalls", "compute.networks.list", "compute.networks.listPeeringRoutes",
		"compute.networks.use", "compute.networks.useExternalIp",
		"compute.projects.get", "compute.regions.get", "compute.regions.list",
		"compute.routers.get", "compute.routers.list", "compute.routes.get", "compute.routes.list",
		"compute.serviceAttachments.get", "compute.serviceAttachments.list",
		"compute.subnetworks.get", "compute.subnetworks.list", "compute.subnetworks.use", "compute.subnetworks.useExternalIp",
		"compute.targetVpnGateways.get", "compute.targetVpnGateways.list",
		"compute.vpnGateways.get", "compute.vpnGateways.list", "compute.vpnGateways.use",
		"compute.vpnTunnels.get", "compute.vpnTunnels.list", "compute.zones.get", "compute.zones.list",
		"resourcemanager.projects.get", "resourcemanager.projects.list",
		"serviceusage.quotas.get", "serviceusage.services.get", "serviceusage.services.list",
	},
	// Compute Network Viewer: "Read-only access to Compute Engine networking resources." With
	// networkUser on single subnets, the documented alternative to networkUser on the whole
	// host project (Cloud Run docs, "Direct VPC egress with a Shared VPC network").
	"roles/compute.networkViewer": {
		"compute.addresses.get", "compute.addresses.list", "compute.firewalls.get", "compute.firewalls.list",
		"compute.forwardingRules.get", "compute.forwardingRules.list",
		"compute.globalAddresses.get", "compute.globalAddresses.list",
		"compute.networks.get", "compute.networks.getEffectiveFirewalls", "compute.networks.getRegionEffectiveFirewalls",
		"compute.networks.list", "compute.networks.listPeeringRoutes",
		"compute.projects.get", "compute.regions.get", "compute.regions.list",
		"compute.routers.get", "compute.routers.list", "compute.routes.get", "compute.routes.list",
		"compute.subnetworks.get", "compute.subnetworks.list", "compute.zones.get", "compute.zones.list",
		"resourcemanager.projects.get", "resourcemanager.projects.list",
		"serviceusage.quotas.get", "serviceusage.services.get", "serviceusage.services.list",
	},
	// Compute Shared VPC Admin: "Can administer shared VPC network (XPN)." Granted on the
	// organization or a folder (VPC docs, "Shared VPC": Shared VPC Admins).
	"roles/compute.xpnAdmin": {
		"compute.globalOperations.get", "compute.globalOperations.list",
		"compute.organizations.administerXpn", "compute.organizations.disableXpnHost",
		"compute.organizations.disableXpnResource", "compute.organizations.enableXpnHost",
		"compute.organizations.enableXpnResource", "compute.projects.get",
		"compute.subnetworks.getIamPolicy", "compute.subnetworks.setIamPolicy",
		"resourcemanager.organizations.get", "resourcemanager.projects.get",
		"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.list",
	},
	// Serverless VPC Access User: "User of Serverless VPC Access connectors". Cloud Run's
	// service agent of a service project needs it on the host project to use a connector
	// there (Cloud Run docs, "Connect to a Shared VPC network", connectors in the host
	// project: Provide access to the connector).
	"roles/vpcaccess.user": {
		"compute.networks.access", "resourcemanager.projects.get", "resourcemanager.projects.list",
		"vpcaccess.connectors.get", "vpcaccess.connectors.list", "vpcaccess.locations.list",
		"vpcaccess.operations.get", "vpcaccess.operations.list",
	},
	// Serverless VPC Access Viewer.
	"roles/vpcaccess.viewer": {
		"resourcemanager.projects.get", "resourcemanager.projects.list",
		"vpcaccess.connectors.get", "vpcaccess.connectors.list", "vpcaccess.locations.list",
		"vpcaccess.operations.get", "vpcaccess.operations.list",
	},
	// Serverless VPC Access Admin: "Full access to all Serverless VPC Access resources".
	"roles/vpcaccess.admin": {
		"resourcemanager.projects.get", "resourcemanager.projects.list",
		"vpcaccess.connectors.create", "vpcaccess.connectors.delete", "vpcaccess.connectors.get",
		"vpcaccess.connectors.list", "vpcaccess.connectors.update", "vpcaccess.locations.list",
		"vpcaccess.operations.get", "vpcaccess.operations.list",
	},
	// Serverless VPC Access Service Agent: the connector's own agent; it manages the
	// connector's VMs and its subnet (its compute permissions are reduced here to those on
	// networks, subnetworks and addresses).
	"roles/vpcaccess.serviceAgent": {
		"compute.addresses.createInternal", "compute.addresses.deleteInternal", "compute.addresses.get",
		"compute.networks.access", "compute.networks.get", "compute.networks.use",
		"compute.subnetworks.get", "compute.subnetworks.use", "resourcemanager.projects.get",
	},
	// Cloud Run Service Agent: "Gives Cloud Run service account access to managed
	// resources." Its network-related permissions (the others are left out).
	"roles/run.serviceAgent": {
		"compute.addresses.create", "compute.addresses.createInternal", "compute.addresses.delete",
		"compute.addresses.deleteInternal", "compute.addresses.get", "compute.addresses.list",
		"compute.globalOperations.get", "compute.networks.access", "compute.networks.get",
		"compute.regionOperations.get", "compute.subnetworks.get", "compute.subnetworks.use",
		"compute.zoneOperations.get", "iam.serviceAccounts.actAs", "resourcemanager.projects.get",
		"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.list",
		"serviceusage.services.get", "serviceusage.services.use", "vpcaccess.connectors.get",
	},
	// Cloud Asset Viewer: "Read only access to cloud assets metadata" (its search and list
	// permissions).
	"roles/cloudasset.viewer": {
		"cloudasset.assets.analyzeIamPolicy", "cloudasset.assets.listResource",
		"cloudasset.assets.searchAllIamPolicies", "cloudasset.assets.searchAllResources",
	},
	// Project IAM Admin.
	"roles/resourcemanager.projectIamAdmin": {
		"resourcemanager.projects.get", "resourcemanager.projects.getIamPolicy",
		"resourcemanager.projects.setIamPolicy",
	},
	// Browser: "Read access to browse the hierarchy for a project, including the folder,
	// organization, and allow policy."
	"roles/browser": {
		"resourcemanager.folders.get", "resourcemanager.folders.list",
		"resourcemanager.organizations.get", "resourcemanager.projects.get",
		"resourcemanager.projects.getIamPolicy", "resourcemanager.projects.list",
	},
}

// viewerVerbs are the permission verbs the basic Viewer role is taken to grant: reads and
// searches. The real roles/viewer lists thousands of permissions (IAM docs, "Basic roles":
// "Permissions for read-only actions that don't affect state"); the emulator approximates it
// by verb.
var viewerVerbs = []string{"get", "list", "search", "searchAll", "searchAllResources", "searchAllIamPolicies", "getIamPolicy", "listResource"}

// RoleGrants reports whether role includes permission. Basic roles (IAM docs, "Basic roles")
// are approximated: Owner grants everything; Editor everything but IAM policy changes and
// organization-level Shared VPC administration ("Permissions for actions that modify state"
// but not "manage roles and permissions"); Viewer the read verbs above.
func RoleGrants(role, permission string) bool {
	switch role {
	case "roles/owner":
		return true
	case "roles/editor":
		return !strings.HasSuffix(permission, ".setIamPolicy") && !strings.HasPrefix(permission, "compute.organizations.")
	case "roles/viewer":
		i := strings.LastIndex(permission, ".")
		return i >= 0 && slices.Contains(viewerVerbs, permission[i+1:])
	}
	return slices.Contains(predefinedRoles[role], permission)
}

// RolePermissions returns the permissions a predefined role lists (nil for basic and unknown
// roles).
func RolePermissions(role string) []string { return slices.Clone(predefinedRoles[role]) }
