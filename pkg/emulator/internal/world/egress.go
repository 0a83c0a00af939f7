package world

import (
	"fmt"
	"strings"
)

// EgressTarget is the VPC resource a Cloud Run revision or execution sends its traffic
// through: a Serverless VPC Access connector, or (Direct VPC egress) a subnetwork.
type EgressTarget struct {
	// Connector is the connector's full name, projects/P/locations/R/connectors/C.
	Connector string
	// SubnetProject, Region and Subnet name the Direct VPC egress subnetwork.
	SubnetProject, Region, Subnet string
}

// EgressDenial is why Cloud Run cannot use an egress target: the message the revision fails
// with.
type EgressDenial struct {
	Message string
	// Missing lists the permissions the service agent lacks, each as "PERMISSION on RESOURCE"
	// (empty when the refusal is about Shared VPC attachment).
	Missing []string
}

// Permissions Cloud Run's service agent needs to use a subnetwork for Direct VPC egress.
// Source: Cloud Run docs, "Direct VPC egress" / "Direct VPC egress with a Shared VPC network"
// (Set up IAM permissions, custom permissions for the Cloud Run service agent):
// compute.networks.get, compute.subnetworks.get, compute.subnetworks.use ("on the project or
// the specific subnet"), compute.addresses.get, compute.addresses.list,
// compute.addresses.createInternal, compute.addresses.deleteInternal,
// compute.regionOperations.get, and compute.addresses.create / compute.addresses.delete
// "required only for dual-stack subnets with external IPv6". For Shared VPC the docs grant
// either roles/compute.networkUser on the host project, or roles/compute.networkViewer on the
// host project plus roles/compute.networkUser on the subnets.
//
// Where each is checked: the subnetwork permissions on the subnetwork (so a subnet-level
// networkUser grant counts), compute.networks.get on its network (which only a project-level
// grant reaches, hence networkViewer), and the address permissions on the workload's own
// project, where Cloud Run reserves the addresses (a service project may reserve internal
// addresses in a shared subnet: VPC docs, "Shared VPC", IP addresses), which the agent's
// default roles/run.serviceAgent grant covers.
var (
	directSubnetPerms  = []string{"compute.subnetworks.get", "compute.subnetworks.use"}
	directNetworkPerms = []string{"compute.networks.get"}
	directAddressPerms = []string{"compute.addresses.get", "compute.addresses.list", "compute.addresses.createInternal", "compute.addresses.deleteInternal"}
	directExternalIPv6 = []string{"compute.addresses.create", "compute.addresses.delete"}
)

// Permissions Cloud Run's service agent needs on a connector's project. Source: Cloud Run
// docs, "Connect to a Shared VPC network" (connectors in the host project): grant the
// Serverless VPC Access User role (roles/vpcaccess.user) on the host project to the Cloud Run
// service agent of each service project. The emulator checks the two permissions of that role
// that make it: reading the connector and access to its network (roles/vpcaccess.user and
// roles/run.serviceAgent both include vpcaccess.connectors.get and compute.networks.access;
// "Serverless VPC Access roles and permissions").
var connectorPerms = []string{"vpcaccess.connectors.get", "compute.networks.access"}

// CheckEgressAccessLocked decides whether the Cloud Run service agent of workloadProject may
// use t, as Cloud Run does when a revision or an execution starts. It returns nil when it may.
//
// A target in another project works only through Shared VPC: the target's project must be the
// Shared VPC host of workloadProject, which must be attached to it (VPC docs, "Shared VPC";
// Cloud Run docs, "Connect to a Shared VPC network"). Then the service agent
// (service-NUMBER@serverless-robot-prod.iam.gserviceaccount.com) must hold the permissions
// above. Every failure gives Cloud Run's one message for a VPC resource it cannot use, "...
// does not exist, or Cloud Run does not have permission to use it." (quoted for connectors in
// public reports; the subnetwork and network forms follow it).
//
// The target must exist; callers check that first.
func (w *World) CheckEgressAccessLocked(workloadProject string, t EgressTarget) *EgressDenial {
	workloadProject = w.ResolveProjectLocked(workloadProject)
	t.SubnetProject = w.ResolveProjectLocked(t.SubnetProject)
	agent := ServiceAgent(workloadProject)
	if t.Connector != "" {
		project := w.ResolveProjectLocked(connectorProject(t.Connector))
		denied := &EgressDenial{Message: "VPC connector " + t.Connector + " does not exist, or Cloud Run does not have permission to use it."}
		if !w.sharesWithLocked(project, workloadProject) {
			return denied
		}
		if denied.Missing = w.missingLocked(agent, "projects/"+project, connectorPerms); len(denied.Missing) > 0 {
			return denied
		}
		return nil
	}
	subnetPath := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", t.SubnetProject, t.Region, t.Subnet)
	denied := &EgressDenial{Message: "VPC subnetwork " + subnetPath + " does not exist, or Cloud Run does not have permission to use it."}
	if !w.sharesWithLocked(t.SubnetProject, workloadProject) {
		return denied
	}
	sn := w.S.Subnetworks[RegionalKey(t.SubnetProject, t.Region, t.Subnet)]
	if sn == nil {
		return denied
	}
	if denied.Missing = w.missingLocked(agent, subnetPath, directSubnetPerms); len(denied.Missing) > 0 {
		return denied
	}
	networkPath := fmt.Sprintf("projects/%s/global/networks/%s", t.SubnetProject, NetworkName(sn.Network))
	if missing := w.missingLocked(agent, networkPath, directNetworkPerms); len(missing) > 0 {
		return &EgressDenial{Message: "VPC network " + networkPath + " does not exist, or Cloud Run does not have permission to use it.", Missing: missing}
	}
	addrPerms := directAddressPerms
	if sn.StackType == "IPV4_IPV6" && sn.Ipv6AccessType == "EXTERNAL" {
		addrPerms = append(append([]string{}, addrPerms...), directExternalIPv6...)
	}
	if denied.Missing = w.missingLocked(agent, "projects/"+workloadProject, addrPerms); len(denied.Missing) > 0 {
		return denied
	}
	return nil
}

// sharesWithLocked reports whether workloads of project user may use VPC resources of
// project owner: the same project, or owner is the Shared VPC host user is attached to.
func (w *World) sharesWithLocked(owner, user string) bool {
	return owner == user || (w.S.Dir.XpnHosts[owner] && w.S.Dir.XpnServices[user] == owner)
}

func (w *World) missingLocked(member, resource string, perms []string) []string {
	var out []string
	for _, p := range perms {
		if !w.HasPermissionLocked(member, resource, p) {
			out = append(out, p+" on "+resource)
		}
	}
	return out
}

// connectorProject is P of projects/P/locations/R/connectors/C.
func connectorProject(name string) string {
	rest, _ := strings.CutPrefix(name, "projects/")
	p, _, _ := strings.Cut(rest, "/")
	return p
}
