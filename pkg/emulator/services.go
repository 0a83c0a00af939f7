package emulator

import (
	"net/http"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Per-project API enablement: every API is enabled in every project until DisableService. A
// call of a disabled API addressed to the project then fails as Google's front end answers
// it: gRPC PERMISSION_DENIED, REST HTTP 403 (Compute: errors[].reason accessNotConfigured),
// "<Title> has not been used in project NUMBER before or it is disabled. …", with a
// google.rpc.ErrorInfo of reason SERVICE_DISABLED (internal/world/services.go).

// Service names DisableService knows the title of (any NAME.googleapis.com is accepted).
const (
	ServiceRun        = world.ServiceRun
	ServiceVPCAccess  = world.ServiceVPCAccess
	ServiceCompute    = world.ServiceCompute
	ServiceMonitoring = world.ServiceMonitoring
	ServiceAsset      = world.ServiceAsset
)

// DisableService disables service (e.g. "compute.googleapis.com") in project (an id or a
// number).
func (e *Emulator) DisableService(project, service string) error {
	return e.locked(func() error { return e.w.SetServiceEnabledLocked(project, service, false) })
}

// EnableService enables service in project again.
func (e *Emulator) EnableService(project, service string) error {
	return e.locked(func() error { return e.w.SetServiceEnabledLocked(project, service, true) })
}

// ServiceEnabled reports whether service is enabled in project.
func (e *Emulator) ServiceEnabled(project, service string) bool {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.ServiceEnabledLocked(project, service)
}

// DisabledServices returns, sorted, the services disabled in project.
func (e *Emulator) DisabledServices(project string) []string {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.DisabledServicesLocked(project)
}

// servicesControl serves POST services/disable and services/enable {"project","service"},
// and GET services?project=P (the services disabled there).
func (e *Emulator) servicesControl(mux *http.ServeMux, p string) {
	type req struct {
		Project string `json:"project"`
		Service string `json:"service"`
	}
	for verb, enable := range map[string]bool{"disable": false, "enable": true} {
		mux.HandleFunc("POST "+p+"/services/"+verb, func(rw http.ResponseWriter, r *http.Request) {
			var q req
			if !decode(rw, r, &q) {
				return
			}
			if err := e.locked(func() error { return e.w.SetServiceEnabledLocked(q.Project, q.Service, enable) }); err != nil {
				controlError(rw, http.StatusBadRequest, err)
				return
			}
			controlOK(rw, map[string]any{"project": q.Project, "service": q.Service, "enabled": enable})
		})
	}
	mux.HandleFunc("GET "+p+"/services", func(rw http.ResponseWriter, r *http.Request) {
		project := r.URL.Query().Get("project")
		disabled := e.DisabledServices(project)
		if disabled == nil {
			disabled = []string{}
		}
		controlOK(rw, map[string]any{"project": project, "disabled": disabled})
	})
}
