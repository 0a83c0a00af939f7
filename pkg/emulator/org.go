package emulator

import (
	"fmt"
	"net/http"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// The organization side of the emulator: callers, the resource hierarchy, IAM, Shared VPC and
// connector instance counts, for tests and demos. The same is reachable over HTTP under
// ControlPrefix (orgControl).

// Policy is an IAM allow policy as the emulator holds it.
type Policy = world.Policy

// ProjectNumber is the 12-digit number the emulator gives a project id (the same in every
// API: Resource Manager, Compute, Cloud Asset, service agent names).
func ProjectNumber(project string) uint64 { return world.ProjectNumber(project) }

// ServiceAgent is the Cloud Run service agent of a project as an IAM member:
// serviceAccount:service-NUMBER@serverless-robot-prod.iam.gserviceaccount.com.
func ServiceAgent(project string) string { return world.ServiceAgent(project) }

// SetPrincipal makes every call that carries no principal of its own act as principal (an IAM
// member such as "user:alice@example.com", or an e-mail address). Permission checks then
// apply to it. "" restores the unauthenticated mode, in which every permission is granted.
func (e *Emulator) SetPrincipal(principal string) { e.w.SetDefaultPrincipal(principal) }

// Principal returns the principal calls without one act as ("" when none).
func (e *Emulator) Principal() string { return e.w.DefaultPrincipal() }

func (e *Emulator) locked(fn func() error) error {
	e.w.Lock()
	defer e.w.Unlock()
	return fn()
}

// DeclareOrganization declares organizations/ID (ID a decimal number).
func (e *Emulator) DeclareOrganization(id, displayName string) error {
	return e.locked(func() error {
		_, err := e.w.PutOrganizationLocked(world.Organization{ID: id, DisplayName: displayName})
		return err
	})
}

// DeclareFolder declares folders/ID under parent ("organizations/O" or "folders/F").
func (e *Emulator) DeclareFolder(id, displayName, parent string) error {
	return e.locked(func() error {
		_, err := e.w.PutFolderLocked(world.Folder{ID: id, DisplayName: displayName, Parent: parent})
		return err
	})
}

// DeclareProject declares a project under parent ("organizations/O", "folders/F" or "").
// Undeclared projects exist too, without a parent.
func (e *Emulator) DeclareProject(id, displayName, parent string, labels map[string]string) error {
	return e.locked(func() error {
		_, err := e.w.PutProjectLocked(world.Project{ID: id, DisplayName: displayName, Parent: parent, Labels: labels})
		return err
	})
}

// Grant binds role to member on resource: "organizations/O", "folders/F", "projects/P" or a
// subnetwork "projects/P/regions/R/subnetworks/S".
func (e *Emulator) Grant(resource, role, member string) error {
	return e.locked(func() error { return e.w.GrantLocked(resource, role, world.NormalizeMember(member)) })
}

// Revoke unbinds role from member on resource.
func (e *Emulator) Revoke(resource, role, member string) error {
	return e.locked(func() error { return e.w.RevokeLocked(resource, role, world.NormalizeMember(member)) })
}

// IAMPolicy returns the policy on resource (the default one when none was set).
func (e *Emulator) IAMPolicy(resource string) *Policy {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.PolicyLocked(resource)
}

// HasPermission reports whether member holds permission on resource, through inheritance.
func (e *Emulator) HasPermission(member, resource, permission string) bool {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.HasPermissionLocked(member, resource, permission)
}

// EnableSharedVPCHost makes project a Shared VPC host project at once (no operation).
func (e *Emulator) EnableSharedVPCHost(project string) error {
	return e.locked(func() error {
		if err := e.w.EnableXpnHostLocked(project); err != nil {
			return err
		}
		return nil
	})
}

// AttachServiceProject attaches service to the Shared VPC host project host at once.
func (e *Emulator) AttachServiceProject(host, service string) error {
	return e.locked(func() error {
		if err := e.w.AttachLocked(host, service); err != nil {
			return err
		}
		return nil
	})
}

// ConnectorInstances reports how many instances a connector (full name) runs now and the most
// it ever ran; ok is false for a connector that runs none (unknown, being created, deleted).
// Connectors scale out but never in, so peak equals current unless an update raised the
// minimum past it.
func (e *Emulator) ConnectorInstances(connector string) (current, peak int, ok bool) {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.ConnectorInstancesLocked(connector)
}

// orgControl adds the organization endpoints to the control surface:
//
//	GET  /runnet-emulator/v1/principal                  {"principal": "..."}
//	POST /runnet-emulator/v1/principal  {"principal":"user:alice@example.com"}   ("" to clear)
//	POST /runnet-emulator/v1/organizations {"id":"123456789012","displayName":"example.com"}
//	POST /runnet-emulator/v1/folders    {"id":"234567890123","displayName":"apps","parent":"organizations/123456789012"}
//	POST /runnet-emulator/v1/projects   {"id":"team-a","displayName":"Team A","parent":"folders/234567890123","labels":{"team":"a"}}
//	POST /runnet-emulator/v1/iam/grant  {"resource":"projects/P","role":"roles/compute.networkUser","member":"serviceAccount:..."}
//	POST /runnet-emulator/v1/iam/revoke {"resource":...,"role":...,"member":...}
//	GET  /runnet-emulator/v1/iam/policy?resource=projects/P
//	POST /runnet-emulator/v1/sharedvpc/hosts  {"project":"net-host"}
//	POST /runnet-emulator/v1/sharedvpc/attach {"host":"net-host","service":"team-a"}
//	GET  /runnet-emulator/v1/connectors/instances?connector=projects/P/locations/R/connectors/C
func (e *Emulator) orgControl(mux *http.ServeMux, p string) {
	mux.HandleFunc("GET "+p+"/principal", func(rw http.ResponseWriter, _ *http.Request) {
		controlOK(rw, map[string]string{"principal": e.Principal()})
	})
	mux.HandleFunc("POST "+p+"/principal", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Principal string `json:"principal"`
		}
		if !decode(rw, r, &req) {
			return
		}
		e.SetPrincipal(req.Principal)
		controlOK(rw, map[string]string{"principal": e.Principal()})
	})
	type node struct {
		ID          string            `json:"id"`
		DisplayName string            `json:"displayName"`
		Parent      string            `json:"parent"`
		Labels      map[string]string `json:"labels,omitempty"`
	}
	declare := func(fn func(n node) error) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			var n node
			if !decode(rw, r, &n) {
				return
			}
			if err := fn(n); err != nil {
				controlError(rw, http.StatusBadRequest, err)
				return
			}
			controlOK(rw, n)
		}
	}
	mux.HandleFunc("POST "+p+"/organizations", declare(func(n node) error { return e.DeclareOrganization(n.ID, n.DisplayName) }))
	mux.HandleFunc("POST "+p+"/folders", declare(func(n node) error { return e.DeclareFolder(n.ID, n.DisplayName, n.Parent) }))
	mux.HandleFunc("POST "+p+"/projects", declare(func(n node) error { return e.DeclareProject(n.ID, n.DisplayName, n.Parent, n.Labels) }))
	type binding struct {
		Resource string `json:"resource"`
		Role     string `json:"role"`
		Member   string `json:"member"`
	}
	bind := func(fn func(resource, role, member string) error) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			var b binding
			if !decode(rw, r, &b) {
				return
			}
			if b.Resource == "" || b.Role == "" || b.Member == "" {
				controlError(rw, http.StatusBadRequest, fmt.Errorf("resource, role and member are required"))
				return
			}
			if err := fn(b.Resource, b.Role, b.Member); err != nil {
				controlError(rw, http.StatusBadRequest, err)
				return
			}
			controlOK(rw, e.IAMPolicy(b.Resource))
		}
	}
	mux.HandleFunc("POST "+p+"/iam/grant", bind(e.Grant))
	mux.HandleFunc("POST "+p+"/iam/revoke", bind(e.Revoke))
	mux.HandleFunc("GET "+p+"/iam/policy", func(rw http.ResponseWriter, r *http.Request) {
		res := r.URL.Query().Get("resource")
		if res == "" {
			controlError(rw, http.StatusBadRequest, fmt.Errorf("resource is required"))
			return
		}
		controlOK(rw, e.IAMPolicy(res))
	})
	mux.HandleFunc("POST "+p+"/sharedvpc/hosts", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Project string `json:"project"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.EnableSharedVPCHost(req.Project); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("POST "+p+"/sharedvpc/attach", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Host    string `json:"host"`
			Service string `json:"service"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.AttachServiceProject(req.Host, req.Service); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("GET "+p+"/connectors/instances", func(rw http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("connector")
		cur, peak, ok := e.ConnectorInstances(name)
		if !ok {
			controlError(rw, http.StatusNotFound, fmt.Errorf("connector %q runs no instances (unknown, being created or deleted)", name))
			return
		}
		controlOK(rw, map[string]any{"connector": name, "current": cur, "peak": peak})
	})
}
