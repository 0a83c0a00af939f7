package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	crm "google.golang.org/api/cloudresourcemanager/v3"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The Cloud Run service agent's rights on the VPC resources a workload is to use. A revision
// (or a job execution) starts only when the service agent of the workload's project,
// service-PROJECT_NUMBER@serverless-robot-prod.iam.gserviceaccount.com, may use its connector
// or subnet; in a Shared VPC the subnet is in the host project, where the agent holds nothing
// until someone grants it. Cloud Run docs, "Direct VPC egress with a Shared VPC network" (Set
// up IAM permissions): grant the Cloud Run service agent roles/compute.networkUser on the host
// project, or roles/compute.networkViewer on the host project and roles/compute.networkUser on
// the subnets; "Connect to a Shared VPC network" (connectors in the host project): grant it
// roles/vpcaccess.user on the host project.
//
// The check reads IAM policies (the subnet's, the target project's, and that project's
// folders' and organization's) and looks for the agent in bindings of roles known to carry
// each permission: the caller needs compute.subnetworks.getIamPolicy on the subnet and
// resourcemanager.{projects,folders,organizations}.getIamPolicy. testIamPermissions cannot
// answer it: it tests the caller, not another principal.

// ServiceAgentDomain is where Cloud Run's service agents live.
const ServiceAgentDomain = "serverless-robot-prod.iam.gserviceaccount.com"

// CloudRunServiceAgent is the IAM member of a project's Cloud Run service agent, from the
// project's number.
func CloudRunServiceAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@" + ServiceAgentDomain
}

// Roles the fixes grant.
const (
	RoleNetworkUser   = "roles/compute.networkUser"
	RoleNetworkViewer = "roles/compute.networkViewer"
	RoleVPCAccessUser = "roles/vpcaccess.user"
	RoleRunAgent      = "roles/run.serviceAgent"
)

// rolesWith lists, for each permission the agent needs, the predefined roles that include it
// (IAM docs, "IAM roles and permissions index"), besides roles/owner and roles/editor. Custom
// roles are not expanded: an agent that holds a permission only through one is reported
// missing it, and the report says a custom role was seen.
var rolesWith = map[string][]string{
	"compute.subnetworks.get":          {RoleNetworkUser, RoleNetworkViewer, "roles/compute.networkAdmin", "roles/compute.admin", "roles/compute.viewer", RoleRunAgent, "roles/viewer"},
	"compute.subnetworks.use":          {RoleNetworkUser, "roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent},
	"compute.networks.get":             {RoleNetworkUser, RoleNetworkViewer, "roles/compute.networkAdmin", "roles/compute.admin", "roles/compute.viewer", RoleRunAgent, "roles/viewer"},
	"compute.networks.access":          {RoleNetworkUser, RoleVPCAccessUser, "roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent},
	"vpcaccess.connectors.get":         {RoleVPCAccessUser, "roles/vpcaccess.viewer", "roles/vpcaccess.admin", RoleRunAgent, "roles/viewer"},
	"compute.addresses.get":            {RoleNetworkUser, RoleNetworkViewer, "roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent, "roles/viewer"},
	"compute.addresses.list":           {RoleNetworkUser, RoleNetworkViewer, "roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent, "roles/viewer"},
	"compute.addresses.createInternal": {RoleNetworkUser, "roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent},
	"compute.addresses.deleteInternal": {RoleNetworkUser, "roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent},
	"compute.addresses.create":         {"roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent},
	"compute.addresses.delete":         {"roles/compute.networkAdmin", "roles/compute.admin", RoleRunAgent},
}

// The permissions Cloud Run's service agent needs (Cloud Run docs, "Direct VPC egress",
// custom permissions for the Cloud Run service agent; "Serverless VPC Access roles"), and
// where each must hold.
var (
	agentSubnetPerms   = []string{"compute.subnetworks.get", "compute.subnetworks.use"}
	agentNetworkPerms  = []string{"compute.networks.get"}
	agentAddressPerms  = []string{"compute.addresses.get", "compute.addresses.list", "compute.addresses.createInternal", "compute.addresses.deleteInternal"}
	agentExternalIPv6  = []string{"compute.addresses.create", "compute.addresses.delete"}
	agentConnectorPerm = []string{"vpcaccess.connectors.get", "compute.networks.access"}
)

func roleGrants(role, permission string) bool {
	switch role {
	case "roles/owner":
		return true
	case "roles/editor":
		return !strings.HasSuffix(permission, ".setIamPolicy")
	}
	return slices.Contains(rolesWith[permission], role)
}

// AgentFix is one grant that gives the service agent what it lacks.
type AgentFix struct {
	// Resource is a project (projects/P) or a subnetwork (projects/P/regions/R/subnetworks/S).
	Resource string `json:"resource"`
	Role     string `json:"role"`
	Member   string `json:"member"`
	// Grants lists the missing permissions it gives.
	Grants []string `json:"grants"`
	// Command is the gcloud command that makes the grant.
	Command string `json:"command"`
}

// AgentCheck is what CheckServiceAgent found.
type AgentCheck struct {
	WorkloadProject string `json:"workloadProject"`
	ProjectNumber   string `json:"projectNumber"`
	// Agent is the service agent as an IAM member.
	Agent string `json:"agent"`
	// Target is the connector's full name or the subnetwork's path; TargetProject its project.
	Target        string `json:"target"`
	TargetProject string `json:"targetProject"`
	// SharedVPCHost is the host project WorkloadProject is attached to ("" for none);
	// NotAttached is set when the target is in another project that is not that host: no
	// grant helps then, the project must be attached first (AttachCommand).
	SharedVPCHost string `json:"sharedVpcHost"`
	NotAttached   bool   `json:"notAttached"`
	AttachCommand string `json:"attachCommand,omitempty"`
	// Missing lists each permission the agent lacks, as "PERMISSION on RESOURCE".
	Missing []string `json:"missing"`
	// Fixes are the grants that give them.
	Fixes []AgentFix `json:"fixes"`
	// CustomRoles lists custom roles the agent holds on the resources read: they are not
	// expanded, so a permission they give is reported missing.
	CustomRoles []string `json:"customRoles,omitempty"`
	// StackType and Ipv6AccessType are the target subnetwork's.
	StackType      string `json:"stackType,omitempty"`
	Ipv6AccessType string `json:"ipv6AccessType,omitempty"`
}

// OK reports whether the agent may use the target.
func (a *AgentCheck) OK() bool { return !a.NotAttached && len(a.Missing) == 0 }

// Commands are the commands that fix what is missing: the Shared VPC attachment, then each
// grant.
func (a *AgentCheck) Commands() []string {
	var out []string
	if a.AttachCommand != "" {
		out = append(out, a.AttachCommand)
	}
	for _, f := range a.Fixes {
		out = append(out, f.Command)
	}
	return out
}

// policySet holds the bindings read on each resource.
type policySet map[string][]binding

type binding struct {
	role    string
	members []string
}

// holds reports whether member holds permission on resource through the bindings of
// resources (resource first, then its ancestors).
func (ps policySet) holds(member, permission string, resources ...string) bool {
	for _, r := range resources {
		for _, b := range ps[r] {
			if slices.Contains(b.members, member) && roleGrants(b.role, permission) {
				return true
			}
		}
	}
	return false
}

// CheckServiceAgent checks that the Cloud Run service agent of workloadProject may use vpc's
// connector or subnetwork (vpc canonical: full names; vpc of mode none needs nothing). It
// resolves the project's number with Resource Manager, reads the Shared VPC host of the
// workload project when the target is in another project, and the IAM policies named above.
func (c *Clients) CheckServiceAgent(ctx context.Context, workloadProject string, vpc egress.VPC) (*AgentCheck, error) {
	info, err := c.GetProject(ctx, workloadProject)
	if err != nil {
		return nil, fmt.Errorf("find the Cloud Run service agent of %s: %w", workloadProject, err)
	}
	a := &AgentCheck{WorkloadProject: workloadProject, ProjectNumber: info.Number, Agent: CloudRunServiceAgent(info.Number), Missing: []string{}, Fixes: []AgentFix{}}
	var subnet egress.SubnetRef
	switch vpc.Mode() {
	case egress.ModeNone:
		return a, nil
	case egress.ModeConnector:
		ref, err := egress.ParseConnectorRef(vpc.Connector, workloadProject, "")
		if err != nil {
			return nil, err
		}
		a.Target, a.TargetProject = ref.FullName(), ref.Project
	default:
		ref, err := egress.ParseSubnetRef(vpc.Subnet, workloadProject, "")
		if err != nil {
			return nil, fmt.Errorf("the service agent check needs the subnetwork's path (projects/P/regions/R/subnetworks/S): %w", err)
		}
		subnet = ref
		a.Target, a.TargetProject = ref.Path(), ref.Project
	}
	if a.TargetProject != workloadProject {
		host, err := c.SharedVPCHost(ctx, workloadProject)
		if err != nil {
			return nil, err
		}
		a.SharedVPCHost = host
		if host != a.TargetProject {
			a.NotAttached = true
			a.AttachCommand = fmt.Sprintf("gcloud compute shared-vpc associated-projects add %s --host-project %s", workloadProject, a.TargetProject)
		}
	}

	ps := policySet{}
	projectRes := "projects/" + a.TargetProject
	chain, err := c.readProjectPolicies(ctx, a.TargetProject, ps)
	if err != nil {
		return nil, err
	}
	ownChain := chain
	if a.TargetProject != workloadProject {
		if ownChain, err = c.readProjectPolicies(ctx, workloadProject, ps); err != nil {
			return nil, err
		}
	}
	need := func(perms []string, where string, resources []string) []string {
		var missing []string
		for _, p := range perms {
			if !ps.holds(a.Agent, p, resources...) {
				missing = append(missing, p)
				a.Missing = append(a.Missing, p+" on "+where)
			}
		}
		return missing
	}
	if vpc.Mode() == egress.ModeConnector {
		if m := need(agentConnectorPerm, projectRes, chain); len(m) > 0 {
			a.addFix(projectRes, RoleVPCAccessUser, m)
		}
	} else {
		sn, err := c.readSubnetPolicy(ctx, subnet, ps)
		if err != nil {
			return nil, err
		}
		a.StackType, a.Ipv6AccessType = sn.StackType, sn.Ipv6AccessType
		path := subnet.Path()
		if m := need(agentSubnetPerms, path, append([]string{path}, chain...)); len(m) > 0 {
			a.addFix(path, RoleNetworkUser, m)
		}
		if m := need(agentNetworkPerms, projectRes, chain); len(m) > 0 {
			a.addFix(projectRes, RoleNetworkViewer, m)
		}
		perms := agentAddressPerms
		if sn.StackType == "IPV4_IPV6" && sn.Ipv6AccessType == "EXTERNAL" {
			perms = append(slices.Clone(perms), agentExternalIPv6...)
		}
		if m := need(perms, "projects/"+workloadProject, ownChain); len(m) > 0 {
			a.addFix("projects/"+workloadProject, RoleRunAgent, m)
		}
	}
	for r, bs := range ps {
		for _, b := range bs {
			if slices.Contains(b.members, a.Agent) && !strings.HasPrefix(b.role, "roles/") {
				a.CustomRoles = append(a.CustomRoles, b.role+" on "+r)
			}
		}
	}
	slices.Sort(a.CustomRoles)
	return a, nil
}

func (a *AgentCheck) addFix(resource, role string, perms []string) {
	f := AgentFix{Resource: resource, Role: role, Member: a.Agent, Grants: perms}
	if ref, err := egress.ParseSubnetRef(resource, "", ""); err == nil && strings.Contains(resource, "/subnetworks/") {
		f.Command = fmt.Sprintf("gcloud compute networks subnets add-iam-policy-binding %s --region %s --project %s --member %s --role %s",
			ref.Name, ref.Region, ref.Project, a.Agent, role)
	} else {
		f.Command = fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member %s --role %s", strings.TrimPrefix(resource, "projects/"), a.Agent, role)
	}
	a.Fixes = append(a.Fixes, f)
}

// readProjectPolicies reads the IAM policies of project and of its folders and organization
// into ps, and returns their resource names, the project first.
func (c *Clients) readProjectPolicies(ctx context.Context, project string, ps policySet) ([]string, error) {
	svc, err := c.ResourceManager()
	if err != nil {
		return nil, err
	}
	info, err := c.GetProject(ctx, project)
	if err != nil {
		return nil, err
	}
	chain := []string{"projects/" + project}
	for parent := info.Parent; parent != "" && len(chain) < 32; {
		chain = append(chain, parent)
		if !strings.HasPrefix(parent, "folders/") {
			break
		}
		f, err := computeRead(ctx, func(ctx context.Context) (*crm.Folder, error) { return svc.Folders.Get(parent).Context(ctx).Do() })
		if err != nil {
			return nil, computeErr("read folder "+parent, err)
		}
		parent = f.Parent
	}
	for _, r := range chain {
		if _, done := ps[r]; done {
			continue
		}
		p, err := computeRead(ctx, func(ctx context.Context) (*crm.Policy, error) {
			req := &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}
			switch {
			case strings.HasPrefix(r, "projects/"):
				return svc.Projects.GetIamPolicy(r, req).Context(ctx).Do()
			case strings.HasPrefix(r, "folders/"):
				return svc.Folders.GetIamPolicy(r, req).Context(ctx).Do()
			}
			return svc.Organizations.GetIamPolicy(r, req).Context(ctx).Do()
		})
		if err != nil {
			return nil, computeErr("read the IAM policy of "+r, err)
		}
		for _, b := range p.Bindings {
			ps[r] = append(ps[r], binding{role: b.Role, members: b.Members})
		}
		if ps[r] == nil {
			ps[r] = []binding{}
		}
	}
	return chain, nil
}

// readSubnetPolicy reads the subnetwork (for its stack type) and its IAM policy into ps.
func (c *Clients) readSubnetPolicy(ctx context.Context, ref egress.SubnetRef, ps policySet) (*compute.Subnetwork, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	cs, err := c.Compute()
	if err != nil {
		return nil, err
	}
	sn, err := computeRead(ctx, func(ctx context.Context) (*compute.Subnetwork, error) {
		return cs.Subnetworks.Get(ref.Project, ref.Region, ref.Name).Context(ctx).Do()
	})
	if err != nil {
		return nil, computeErr("read subnetwork "+ref.Path(), err)
	}
	p, err := computeRead(ctx, func(ctx context.Context) (*compute.Policy, error) {
		return cs.Subnetworks.GetIamPolicy(ref.Project, ref.Region, ref.Name).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
	})
	if err != nil {
		return nil, computeErr("read the IAM policy of subnetwork "+ref.Path(), err)
	}
	ps[ref.Path()] = []binding{}
	for _, b := range p.Bindings {
		ps[ref.Path()] = append(ps[ref.Path()], binding{role: b.Role, members: b.Members})
	}
	return sn, nil
}

// policyAttempts bounds the read-modify-write of a policy that changes meanwhile (IAM docs,
// "Policy concurrency control": on 409 "retry the whole read-modify-write").
const policyAttempts = 5

// GrantServiceAgent makes the grants of check.Fixes, each a read-modify-write of the
// resource's policy guarded by its etag. It does not attach projects to a Shared VPC host.
func (c *Clients) GrantServiceAgent(ctx context.Context, check *AgentCheck) error {
	for _, f := range check.Fixes {
		if err := c.grant(ctx, f); err != nil {
			return fmt.Errorf("grant %s to %s on %s: %w", f.Role, f.Member, f.Resource, err)
		}
	}
	return nil
}

func (c *Clients) grant(ctx context.Context, f AgentFix) error {
	var last error
	for range policyAttempts {
		var err error
		if strings.Contains(f.Resource, "/subnetworks/") {
			err = c.grantSubnet(ctx, f)
		} else {
			err = c.grantProject(ctx, f)
		}
		if ge, ok := googleAPIError(err); ok && ge.Code == http.StatusConflict {
			last = err
			continue
		}
		return err
	}
	return last
}

func (c *Clients) grantSubnet(ctx context.Context, f AgentFix) error {
	ref, err := egress.ParseSubnetRef(f.Resource, "", "")
	if err != nil {
		return err
	}
	if err := checkNames(ref); err != nil {
		return err
	}
	cs, err := c.Compute()
	if err != nil {
		return err
	}
	p, err := computeRead(ctx, func(ctx context.Context) (*compute.Policy, error) {
		return cs.Subnetworks.GetIamPolicy(ref.Project, ref.Region, ref.Name).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	for _, b := range p.Bindings {
		if b.Role == f.Role && b.Condition == nil {
			if slices.Contains(b.Members, f.Member) {
				return nil
			}
			b.Members = append(b.Members, f.Member)
			_, err = cs.Subnetworks.SetIamPolicy(ref.Project, ref.Region, ref.Name, &compute.RegionSetPolicyRequest{Policy: p, Etag: p.Etag}).Context(ctx).Do()
			return err
		}
	}
	p.Bindings = append(p.Bindings, &compute.Binding{Role: f.Role, Members: []string{f.Member}})
	_, err = cs.Subnetworks.SetIamPolicy(ref.Project, ref.Region, ref.Name, &compute.RegionSetPolicyRequest{Policy: p, Etag: p.Etag}).Context(ctx).Do()
	return err
}

func (c *Clients) grantProject(ctx context.Context, f AgentFix) error {
	if !strings.HasPrefix(f.Resource, "projects/") {
		return errors.New("a grant on " + f.Resource + " is not a project's")
	}
	if err := checkNames(projectName(strings.TrimPrefix(f.Resource, "projects/"))); err != nil {
		return err
	}
	svc, err := c.ResourceManager()
	if err != nil {
		return err
	}
	p, err := computeRead(ctx, func(ctx context.Context) (*crm.Policy, error) {
		return svc.Projects.GetIamPolicy(f.Resource, &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}).Context(ctx).Do()
	})
	if err != nil {
		return err
	}
	added := false
	for _, b := range p.Bindings {
		if b.Role == f.Role && b.Condition == nil {
			if slices.Contains(b.Members, f.Member) {
				return nil
			}
			b.Members = append(b.Members, f.Member)
			added = true
			break
		}
	}
	if !added {
		p.Bindings = append(p.Bindings, &crm.Binding{Role: f.Role, Members: []string{f.Member}})
	}
	_, err = svc.Projects.SetIamPolicy(f.Resource, &crm.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
	return err
}
