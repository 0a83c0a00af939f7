package cloud

import (
	"context"
	"fmt"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The service-agent preflight check's facts (egress.ServiceAgentFacts): what Cloud Run's
// service agent of the workload's project may do on a target connector or subnetwork of
// another project, read by CheckServiceAgent (serviceagent.go), and the grants --fix makes.

// Facts is the check as the preflight reads it.
func (a *AgentCheck) Facts() *egress.ServiceAgentFacts {
	f := &egress.ServiceAgentFacts{
		WorkloadProject: a.WorkloadProject, ProjectNumber: a.ProjectNumber, Agent: a.Agent,
		Target: a.Target, TargetProject: a.TargetProject, SharedVPCHost: a.SharedVPCHost, NotAttached: a.NotAttached,
		StackType: a.StackType, Ipv6AccessType: a.Ipv6AccessType, Missing: a.Missing, CustomRoles: a.CustomRoles,
	}
	for _, fx := range a.Fixes {
		f.Grants = append(f.Grants, egress.RoleGrant{Resource: fx.Resource, Role: fx.Role, Member: fx.Member, Gives: fx.Grants})
	}
	return f
}

// crossProjectTarget is the project of target's connector or subnetwork when it is not the
// workload's ("" otherwise): where the service-agent check applies.
func crossProjectTarget(ref egress.WorkloadRef, target egress.VPC) string {
	var p string
	switch target.Mode() {
	case egress.ModeConnector:
		if r, err := egress.ParseConnectorRef(target.Connector, ref.Project, ref.Region); err == nil {
			p = r.Project
		}
	case egress.ModeDirect:
		if r, err := egress.ParseSubnetRef(target.Subnet, ref.Project, ref.Region); err == nil {
			p = r.Project
		}
	}
	if p == ref.Project {
		return ""
	}
	return p
}

// ServiceAgentFacts checks the Cloud Run service agent of ref's project on target when
// target is in another project; nil, nil when it is in the workload's own project (the
// agent's default role covers it) or has no VPC access.
func (c *Clients) ServiceAgentFacts(ctx context.Context, ref egress.WorkloadRef, target egress.VPC) (*egress.ServiceAgentFacts, error) {
	if crossProjectTarget(ref, target) == "" {
		return nil, nil
	}
	canon, err := target.Canonical(ref.Project, ref.Region)
	if err != nil {
		return nil, err
	}
	a, err := c.CheckServiceAgent(ctx, ref.Project, canon)
	if err != nil {
		return nil, err
	}
	return a.Facts(), nil
}

// gatherServiceAgent starts, in t, the service-agent facts of switching ref to target (a
// target in another project only); a failed read leaves them unset with a note.
func (c *Clients) gatherServiceAgent(ctx context.Context, t *tasks, ref egress.WorkloadRef, target egress.VPC, out *GatheredFacts, note func(string, ...any)) {
	if crossProjectTarget(ref, target) == "" {
		return
	}
	t.go_(func() {
		sa, err := c.ServiceAgentFacts(ctx, ref, target)
		if err != nil {
			note("the Cloud Run service agent's rights were not checked (%s)", shortErr(err))
			return
		}
		out.ServiceAgent = sa
	})
}

// GrantRoles makes grants (each a read-modify-write of its resource's IAM policy, guarded
// by its etag; a grant already made changes nothing). It stops at the first that fails.
func (c *Clients) GrantRoles(ctx context.Context, grants []egress.RoleGrant) error {
	for _, g := range grants {
		f := AgentFix{Resource: g.Resource, Role: g.Role, Member: g.Member, Grants: g.Gives}
		if err := c.grant(ctx, f); err != nil {
			return fmt.Errorf("grant %s to %s on %s: %w", g.Role, g.Member, g.Resource, computeErr("set the IAM policy of "+g.Resource, err))
		}
	}
	return nil
}
