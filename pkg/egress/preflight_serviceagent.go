package egress

import (
	"fmt"
	"strings"
)

// The service-agent check: Cloud Run starts a revision (or a job execution) on a connector or
// subnetwork of another project (a Shared VPC host) only when the Cloud Run service agent of
// the workload's project, service-PROJECT_NUMBER@serverless-robot-prod.iam.gserviceaccount.com,
// may use it. Otherwise the revision fails with "does not exist, or Cloud Run does not have
// permission to use it" after the change was sent. In the workload's own project the agent's
// default role (roles/run.serviceAgent) covers it, so the check applies across projects only.

// CheckServiceAgent: the Cloud Run service agent of the workload's project may use the
// target connector or subnetwork of another project (Shared VPC). A failure names the grants
// that fix it; `migrate --fix` makes them.
const CheckServiceAgent = "service-agent"

// ServiceAgentFacts is what the service-agent check needs: the agent, the target's project,
// the Shared VPC attachment, and what the agent lacks with the grants that give it.
type ServiceAgentFacts struct {
	// WorkloadProject is the workload's project, ProjectNumber its number, Agent its Cloud
	// Run service agent as an IAM member (serviceAccount:service-N@...).
	WorkloadProject string `json:"workloadProject"`
	ProjectNumber   string `json:"projectNumber"`
	Agent           string `json:"agent"`
	// Target is the connector's full name or the subnetwork's path; TargetProject its project.
	Target        string `json:"target"`
	TargetProject string `json:"targetProject"`
	// SharedVPCHost is the host project WorkloadProject is attached to ("" for none).
	// NotAttached is set when TargetProject is not that host: no grant helps until the
	// workload's project is attached to it.
	SharedVPCHost string `json:"sharedVpcHost,omitempty"`
	NotAttached   bool   `json:"notAttached,omitempty"`
	// StackType is the target subnetwork's (IPV4_ONLY, IPV4_IPV6), Ipv6AccessType its IPv6
	// access (INTERNAL, EXTERNAL) when dual-stack: an external IPv6 subnetwork needs the
	// agent to create addresses too.
	StackType      string `json:"stackType,omitempty"`
	Ipv6AccessType string `json:"ipv6AccessType,omitempty"`
	// Missing lists each permission the agent lacks, as "PERMISSION on RESOURCE".
	Missing []string `json:"missing,omitempty"`
	// Grants are the role grants that give what is missing.
	Grants []RoleGrant `json:"grants,omitempty"`
	// CustomRoles are custom roles the agent holds on the resources read: they are not
	// expanded, so a permission one gives may be reported missing.
	CustomRoles []string `json:"customRoles,omitempty"`
}

// RoleGrant is one IAM grant: Role to Member on Resource (projects/P or a subnetwork's path),
// which gives the permissions Gives.
type RoleGrant struct {
	Resource string   `json:"resource"`
	Role     string   `json:"role"`
	Member   string   `json:"member"`
	Gives    []string `json:"gives,omitempty"`
}

// Action is the action that makes the grant.
func (g RoleGrant) Action() Action {
	return Action{Kind: ActionGrantRole, Resource: g.Resource, Role: g.Role, Member: g.Member}
}

// OK reports whether the agent may use the target.
func (s *ServiceAgentFacts) OK() bool { return !s.NotAttached && len(s.Missing) == 0 }

// Actions are what fixes the agent's access, in order: attach the project to the host, then
// each grant.
func (s *ServiceAgentFacts) Actions() []Action {
	var out []Action
	if s.NotAttached {
		out = append(out, Action{Kind: ActionAttachServiceProject, Name: s.WorkloadProject, Resource: "projects/" + s.TargetProject})
	}
	for _, g := range s.Grants {
		out = append(out, g.Action())
	}
	return out
}

// targetProject is the project of the target's connector or subnetwork ("" for none or a
// malformed name).
func (t transition) targetProject() string {
	switch t.to.Mode() {
	case ModeConnector:
		if r, err := ParseConnectorRef(t.to.Connector, t.ref.Project, t.ref.Region); err == nil {
			return r.Project
		}
	case ModeDirect:
		if r, err := ParseSubnetRef(t.to.Subnet, t.ref.Project, t.ref.Region); err == nil {
			return r.Project
		}
	}
	return ""
}

// crossProject reports whether the target is in another project than the workload: the
// service-agent check applies.
func (t transition) crossProject() bool {
	p := t.targetProject()
	return p != "" && p != t.ref.Project
}

// ServiceAgentFixed is the check of a failed service-agent check whose grants `--fix`
// makes before the migration: a warning, no longer a failure, that says so.
func ServiceAgentFixed(c Check) Check {
	c.Status = StatusWarn
	c.Message += " [--fix grants it before the migration]"
	return c
}

func (t transition) serviceAgent() Check {
	c := Check{Name: CheckServiceAgent}
	sa := t.f.ServiceAgent
	if sa == nil {
		c.Status, c.Message = StatusSkip, "the Cloud Run service agent's rights on "+t.targetProject()+" were not read"
		return c
	}
	what := "subnetwork " + ShortName(sa.Target)
	if t.to.Mode() == ModeConnector {
		what = "connector " + ShortName(sa.Target)
	}
	agent := strings.TrimPrefix(sa.Agent, "serviceAccount:")
	c.Numbers = map[string]int64{"missing": int64(len(sa.Missing))}
	var extra []string
	if t.to.Egress.IsAllTraffic() {
		extra = append(extra, "egress all-traffic needs nothing more of it (the Cloud NAT must be in "+sa.TargetProject+": see cloud-nat)")
	}
	if sa.StackType == "IPV4_IPV6" {
		if strings.EqualFold(sa.Ipv6AccessType, "EXTERNAL") {
			extra = append(extra, "the dual-stack subnetwork (external IPv6) needs it to create and delete addresses in "+sa.WorkloadProject+" too")
		} else {
			extra = append(extra, "the dual-stack subnetwork (internal IPv6) needs it to create internal addresses in "+sa.WorkloadProject)
		}
	}
	tail := ""
	if len(extra) > 0 {
		tail = "; " + strings.Join(extra, "; ")
	}
	if sa.NotAttached {
		c.Status = StatusFail
		c.Message = fmt.Sprintf("project %s is not attached to Shared VPC host %s, so Cloud Run cannot use %s", sa.WorkloadProject, sa.TargetProject, what)
		if sa.SharedVPCHost != "" {
			c.Message += " (its host is " + sa.SharedVPCHost + ")"
		}
		t.adviseAgent(&c, sa)
		return c
	}
	if len(sa.Missing) == 0 {
		c.Status = StatusPass
		c.Message = fmt.Sprintf("Cloud Run's service agent %s may use %s in %s%s", agent, what, sa.TargetProject, tail)
		return c
	}
	c.Status = StatusFail
	c.Message = fmt.Sprintf("Cloud Run's service agent %s lacks %s: the %s would not start%s", agent, strings.Join(sa.Missing, ", "), t.ref.Kind.revisionNoun(), tail)
	if len(sa.CustomRoles) > 0 {
		c.Message += " (custom roles it holds are not expanded: " + strings.Join(sa.CustomRoles, ", ") + "; if one gives this, --force " + CheckServiceAgent + ")"
	}
	t.adviseAgent(&c, sa)
	return c
}

// adviseAgent sets the hint: each fixing command on its own line.
func (t transition) adviseAgent(c *Check, sa *ServiceAgentFacts) {
	acts := sa.Actions()
	if len(acts) == 0 {
		return
	}
	format := "grant it:"
	if sa.NotAttached {
		format = "a Shared VPC admin attaches the project first:"
	}
	for range acts {
		format += "\n  %s"
	}
	c.advise(Advise(format, acts...))
}

// revisionNoun is what Cloud Run starts with the new settings: a revision, or a job's
// execution.
func (k Kind) revisionNoun() string {
	if k == KindJob {
		return "job's executions"
	}
	return "new revision"
}
