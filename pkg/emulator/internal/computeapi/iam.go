package computeapi

import (
	"errors"
	"net/http"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// IAM on subnetworks: subnetworks.getIamPolicy, setIamPolicy and testIamPermissions (Compute
// reference). Policies live in the world with the project, folder and organization ones, and
// are inherited from them (world/iam.go), which is how a project-level
// roles/compute.networkUser grant reaches every subnet of a Shared VPC host.

func init() {
	routes = append(routes,
		route{"GET", "projects/{project}/regions/{region}/subnetworks/{name}/getIamPolicy", "compute.subnetworks.getIamPolicy", (*server).subnetworksGetIAM},
		route{"POST", "projects/{project}/regions/{region}/subnetworks/{name}/setIamPolicy", "compute.subnetworks.setIamPolicy", (*server).subnetworksSetIAM},
	)
}

// subnetResource is the world resource name of a subnetwork's policy.
func subnetResource(p params) string { return subnetPath(p["project"], p["region"], p["name"]) }

// toComputePolicy renders a world policy in Compute's JSON shape.
func toComputePolicy(p *world.Policy) *compute.Policy {
	out := &compute.Policy{Version: p.Version, Etag: p.Etag}
	for _, b := range p.Bindings {
		cb := &compute.Binding{Role: b.Role, Members: b.Members}
		if c := b.Condition; c != nil {
			cb.Condition = &compute.Expr{Title: c.Title, Description: c.Description, Expression: c.Expression, Location: c.Location}
		}
		out.Bindings = append(out.Bindings, cb)
	}
	return out
}

func fromComputePolicy(p *compute.Policy) *world.Policy {
	out := &world.Policy{Version: p.Version, Etag: p.Etag}
	for _, b := range p.Bindings {
		if b == nil {
			continue
		}
		wb := world.Binding{Role: b.Role, Members: b.Members}
		if c := b.Condition; c != nil {
			wb.Condition = &world.Condition{Title: c.Title, Description: c.Description, Expression: c.Expression, Location: c.Location}
		}
		out.Bindings = append(out.Bindings, wb)
	}
	return out
}

// subnetworksGetIAM returns the policy set on the subnetwork (an empty one, etag "ACAB", until
// one is set). Needs compute.subnetworks.getIamPolicy from a known caller.
func (s *server) subnetworksGetIAM(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	if _, aerr := subnetworks.getLocked(s.w, p.target(p["name"])); aerr != nil {
		return nil, aerr
	}
	res := subnetResource(p)
	if aerr := requireLocked(r.Context(), s.w, res, "compute.subnetworks.getIamPolicy"); aerr != nil {
		return nil, aerr
	}
	return toComputePolicy(s.w.PolicyLocked(res)), nil
}

// subnetworksSetIAM replaces the subnetwork's policy (RegionSetPolicyRequest.policy; the
// request's bindings and etag, when given, override the policy's). A stale etag is refused
// with 409 (IAM docs, "Policy concurrency control"). Needs compute.subnetworks.setIamPolicy.
func (s *server) subnetworksSetIAM(r *http.Request, p params) (any, *apiError) {
	var req compute.RegionSetPolicyRequest
	if _, aerr := decodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	pol := req.Policy
	if pol == nil {
		pol = &compute.Policy{}
	}
	if len(req.Bindings) > 0 {
		pol.Bindings = req.Bindings
	}
	if req.Etag != "" {
		pol.Etag = req.Etag
	}
	s.w.Lock()
	defer s.w.Unlock()
	if _, aerr := subnetworks.getLocked(s.w, p.target(p["name"])); aerr != nil {
		return nil, aerr
	}
	res := subnetResource(p)
	if aerr := requireLocked(r.Context(), s.w, res, "compute.subnetworks.setIamPolicy"); aerr != nil {
		return nil, aerr
	}
	stored, err := s.w.SetPolicyLocked(res, fromComputePolicy(pol))
	switch {
	case errors.Is(err, world.ErrEtagMismatch):
		return nil, &apiError{Status: http.StatusConflict, Reason: "conflict", Message: "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."}
	case err != nil:
		return nil, errInvalid("Invalid value for field 'policy': " + err.Error())
	}
	return toComputePolicy(stored), nil
}

// subnetworksTestIAM is subnetworks.testIamPermissions: the subset of the permissions asked
// for that the caller holds on the subnetwork (404 for a subnetwork that does not exist, as
// Compute answers). With no known caller (the emulator without authentication) every
// compute.* permission asked for is granted, as before.
func (s *server) subnetworksTestIAM(r *http.Request, p params) (any, *apiError) {
	var req compute.TestPermissionsRequest
	if _, aerr := decodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	s.w.Lock()
	defer s.w.Unlock()
	if _, aerr := subnetworks.getLocked(s.w, p.target(p["name"])); aerr != nil {
		return nil, aerr
	}
	resp := &compute.TestPermissionsResponse{Permissions: []string{}}
	if member, known := s.w.CallerLocked(r.Context()); known {
		resp.Permissions = s.w.PermissionsLocked(member, subnetResource(p), req.Permissions)
		return resp, nil
	}
	for _, perm := range req.Permissions {
		if strings.HasPrefix(perm, "compute.") {
			resp.Permissions = append(resp.Permissions, perm)
		}
	}
	return resp, nil
}
