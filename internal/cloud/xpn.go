package cloud

import (
	"context"
	"sort"

	compute "google.golang.org/api/compute/v1"
)

// Shared VPC (XPN) reads through Compute v1: which host project a service project is attached
// to, and which service projects a host serves (VPC docs, "Shared VPC"; Compute reference,
// projects.getXpnHost and projects.getXpnResources).
//
// A project whose Compute Engine API is disabled is no Shared VPC host: the API must be
// enabled in a project before it is made one (VPC docs, "Provisioning Shared VPC"), and Shared
// VPC is Compute's. Its getXpnResources answers 403 accessNotConfigured (SERVICE_DISABLED);
// SharedVPCServiceProjects takes that as "no service projects" rather than as an error, so
// that the connector of a project whose Compute API was turned off is read as used by its own
// project and those the API reports as connected (connector users, fleet migrations and their
// cleanup).
// SharedVPCHost keeps the error: whether a service project without Compute can use its host's
// subnets is not something runnet can tell, and the service-agent check says it could not read.

// SharedVPCHost returns the Shared VPC host project project is attached to, "" when none
// (getXpnHost answers an empty project then). It needs compute.projects.get on project.
func (c *Clients) SharedVPCHost(ctx context.Context, project string) (string, error) {
	if err := checkNames(projectName(project)); err != nil {
		return "", err
	}
	svc, err := c.Compute()
	if err != nil {
		return "", err
	}
	p, err := computeRead(ctx, func(ctx context.Context) (*compute.Project, error) {
		return svc.Projects.GetXpnHost(project).Context(ctx).Do()
	})
	if err != nil {
		return "", computeErr("get the Shared VPC host project of "+project, err)
	}
	return p.Name, nil
}

// SharedVPCServiceProjects returns, sorted, the service projects attached to host (getXpnResources
// resources of type PROJECT); none when host has the Compute Engine API disabled. It needs compute.projects.get on host.
func (c *Clients) SharedVPCServiceProjects(ctx context.Context, host string) ([]string, error) {
	if err := checkNames(projectName(host)); err != nil {
		return nil, err
	}
	svc, err := c.Compute()
	if err != nil {
		return nil, err
	}
	var out []string
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		out = out[:0]
		return svc.Projects.GetXpnResources(host).Pages(ctx, func(r *compute.ProjectsGetXpnResources) error {
			for _, res := range r.Resources {
				if res.Type == "PROJECT" || res.Type == "" {
					out = append(out, res.Id)
				}
			}
			return nil
		})
	})
	if IsServiceDisabled(err) {
		return nil, nil
	}
	if err != nil {
		return nil, computeErr("list the Shared VPC service projects of host "+host, err)
	}
	sort.Strings(out)
	return out, nil
}
