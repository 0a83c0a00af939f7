package computeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Shared VPC (XPN) methods of the projects collection, as the Compute API reference lays them
// out (projects.enableXpnHost, disableXpnHost, enableXpnResource, disableXpnResource,
// getXpnHost, getXpnResources, listXpnHosts). The rules they enforce are in world/xpn.go.
//
// Changes return a global compute#operation that completes after the world's LRODuration,
// like every other Compute mutation; their checks run both when the request arrives and when
// the operation completes. With a known caller, changes need the Shared VPC Admin's
// permissions on the project (inherited from its folder or organization): VPC docs, "Shared
// VPC" (Shared VPC Admins hold compute.organizations.enableXpnHost and
// compute.organizations.enableXpnResource, roles/compute.xpnAdmin).

// xpnRoutes are added to routes by init, so computeapi.go's table stays as it was.
var xpnRoutes = []route{
	{"POST", "projects/{project}/enableXpnHost", "compute.projects.enableXpnHost", (*server).xpnEnableHost},
	{"POST", "projects/{project}/disableXpnHost", "compute.projects.disableXpnHost", (*server).xpnDisableHost},
	{"POST", "projects/{project}/enableXpnResource", "compute.projects.enableXpnResource", (*server).xpnEnableResource},
	{"POST", "projects/{project}/disableXpnResource", "compute.projects.disableXpnResource", (*server).xpnDisableResource},
	{"GET", "projects/{project}/getXpnHost", "compute.projects.getXpnHost", (*server).xpnGetHost},
	{"GET", "projects/{project}/getXpnResources", "compute.projects.getXpnResources", (*server).xpnGetResources},
	{"POST", "projects/{project}/listXpnHosts", "compute.projects.listXpnHosts", (*server).xpnListHosts},
}

func init() { routes = append(routes, xpnRoutes...) }

// xpnResourceProject is the only XpnResourceId type (Compute reference: "The type of the
// service resource." PROJECT).
const xpnResourceProject = "PROJECT"

// errForbidden is Compute's refusal of a call whose caller lacks a permission (DESIGN.md,
// "missing permission (Compute)": HTTP 403 "Required 'PERM' permission for 'RESOURCE'").
func errForbidden(permission, resource string) *apiError {
	return &apiError{Status: http.StatusForbidden, Reason: "forbidden", OpCode: "FORBIDDEN",
		Message: fmt.Sprintf("Required '%s' permission for '%s'", permission, resource)}
}

// requireLocked checks that the call's caller (when one is known) holds permission on
// resource, given as a world resource name ("projects/P", a subnetwork path).
func requireLocked(ctx context.Context, w *world.World, resource, permission string) *apiError {
	if !w.CallerMayLocked(ctx, resource, permission) {
		return errForbidden(permission, resource)
	}
	return nil
}

func xpnError(e *world.XpnError) *apiError {
	if e == nil {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Reason: e.Reason, OpCode: "INVALID_USAGE", Message: e.Message}
}

// projectOp starts a global operation of opType on the project; apply runs when it completes.
func projectOpLocked(w *world.World, project, opType, rid string, apply func() *apiError) *compute.Operation {
	return startOpLocked(w, opSpec{
		project: project, opType: opType, target: "projects/" + project,
		targetID: projectNumber(project), requestID: rid, apply: apply,
	})
}

func (s *server) xpnEnableHost(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project := p["project"]
		if aerr := requireLocked(r.Context(), s.w, "projects/"+project, "compute.organizations.enableXpnHost"); aerr != nil {
			return nil, aerr
		}
		if aerr := xpnError(s.w.CheckEnableXpnHostLocked(project)); aerr != nil {
			return nil, aerr
		}
		return projectOpLocked(s.w, project, "enableXpnHost", rid, func() *apiError {
			return xpnError(s.w.EnableXpnHostLocked(project))
		}), nil
	})
}

func (s *server) xpnDisableHost(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		project := p["project"]
		if aerr := requireLocked(r.Context(), s.w, "projects/"+project, "compute.organizations.disableXpnHost"); aerr != nil {
			return nil, aerr
		}
		if aerr := xpnError(s.w.CheckDisableXpnHostLocked(project)); aerr != nil {
			return nil, aerr
		}
		return projectOpLocked(s.w, project, "disableXpnHost", rid, func() *apiError {
			return xpnError(s.w.DisableXpnHostLocked(project))
		}), nil
	})
}

// xpnServiceProject reads and checks the service project of an enable/disableXpnResource body.
func xpnServiceProject(field string, res *compute.XpnResourceId) (string, *apiError) {
	if res == nil || res.Id == "" {
		return "", errRequired(field + ".id")
	}
	if res.Type != "" && res.Type != xpnResourceProject {
		return "", errInvalid(fmt.Sprintf("Invalid value for field '%s.type': '%s'. Must be one of [%s].", field, res.Type, xpnResourceProject))
	}
	return res.Id, nil
}

func (s *server) xpnEnableResource(r *http.Request, p params) (any, *apiError) {
	var req compute.ProjectsEnableXpnResourceRequest
	return s.mutate(r, p, &req, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		host := p["project"]
		service, aerr := xpnServiceProject("xpnResource", req.XpnResource)
		if aerr != nil {
			return nil, aerr
		}
		if aerr := requireLocked(r.Context(), s.w, "projects/"+host, "compute.organizations.enableXpnResource"); aerr != nil {
			return nil, aerr
		}
		if aerr := xpnError(s.w.CheckAttachLocked(host, service)); aerr != nil {
			return nil, aerr
		}
		return projectOpLocked(s.w, host, "enableXpnResource", rid, func() *apiError {
			return xpnError(s.w.AttachLocked(host, service))
		}), nil
	})
}

func (s *server) xpnDisableResource(r *http.Request, p params) (any, *apiError) {
	var req compute.ProjectsDisableXpnResourceRequest
	return s.mutate(r, p, &req, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		host := p["project"]
		service, aerr := xpnServiceProject("xpnResource", req.XpnResource)
		if aerr != nil {
			return nil, aerr
		}
		if aerr := requireLocked(r.Context(), s.w, "projects/"+host, "compute.organizations.disableXpnResource"); aerr != nil {
			return nil, aerr
		}
		if aerr := xpnError(s.w.CheckDetachLocked(host, service)); aerr != nil {
			return nil, aerr
		}
		return projectOpLocked(s.w, host, "disableXpnResource", rid, func() *apiError {
			return xpnError(s.w.DetachLocked(host, service))
		}), nil
	})
}

// xpnGetHost returns the host project of a service project; a project attached to no host
// gets an empty project resource (nothing to show, as gcloud compute shared-vpc
// get-host-project prints nothing then).
func (s *server) xpnGetHost(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	host := s.w.XpnHostOfLocked(p["project"])
	if host == "" {
		return &compute.Project{}, nil
	}
	return projectViewLocked(s.w, host), nil
}

// xpnGetResources lists the service projects attached to a host (kind
// compute#projectsGetXpnResources), paged by maxResults and pageToken.
func (s *server) xpnGetResources(r *http.Request, p params) (any, *apiError) {
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	s.w.Lock()
	services := s.w.XpnServiceProjectsLocked(p["project"])
	s.w.Unlock()
	var items []listItem
	for _, sp := range services {
		items = append(items, toItem(&compute.XpnResourceId{Id: sp, Type: xpnResourceProject}, sp, ""))
	}
	sel := lp.selectItems(items)
	out := &compute.ProjectsGetXpnResources{Kind: "compute#projectsGetXpnResources", Resources: []*compute.XpnResourceId{}}
	end := min(lp.offset+lp.max, len(sel))
	for i := lp.offset; i < end; i++ {
		out.Resources = append(out.Resources, &compute.XpnResourceId{Id: sel[i].name, Type: xpnResourceProject})
	}
	if end < len(sel) {
		out.NextPageToken = encodePageToken(end)
	}
	return out, nil
}

// xpnListHosts lists the host projects of an organization: the one in the body ("ID" or
// "organizations/ID"), else the calling project's (Compute reference, listXpnHosts:
// "If not specified, the organization will be inferred from the project"). A project under no
// declared organization lists every host project.
func (s *server) xpnListHosts(r *http.Request, p params) (any, *apiError) {
	var req compute.ProjectsListXpnHostsRequest
	if _, aerr := decodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	project := p["project"]
	s.w.Lock()
	org := ""
	if req.Organization != "" {
		org = "organizations/" + strings.TrimPrefix(req.Organization, "organizations/")
	} else {
		_, org = s.w.ProjectAncestryLocked(project)
	}
	var items []listItem
	for _, h := range s.w.XpnHostsLocked(org) {
		items = append(items, toItem(projectViewLocked(s.w, h), h, ""))
	}
	s.w.Unlock()
	path := "projects/" + project + "/listXpnHosts"
	sel := lp.selectItems(items)
	out := &compute.XpnHostList{Kind: "compute#xpnHostList", Id: path, SelfLink: linkBase + path, Items: []*compute.Project{}}
	end := min(lp.offset+lp.max, len(sel))
	for i := lp.offset; i < end; i++ {
		var pr compute.Project
		if err := json.Unmarshal(sel[i].raw, &pr); err != nil {
			return nil, &apiError{Status: http.StatusInternalServerError, Reason: "internalError", Message: err.Error()}
		}
		out.Items = append(out.Items, &pr)
	}
	if end < len(sel) {
		out.NextPageToken = encodePageToken(end)
	}
	return out, nil
}
