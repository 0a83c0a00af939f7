package world

import (
	"fmt"
	"sort"
)

// Shared VPC (XPN) as VPC docs describe it ("Shared VPC", Concepts): a host project shares
// its networks with service projects attached to it.
//
//   - "A project that participates in Shared VPC is either a host project or a service
//     project"; a host project cannot be attached as a service project, and a service project
//     cannot be made a host.
//   - "Each service project can only be attached to a single host project."
//   - Host and service projects are in the same organization (when both are declared under
//     one; projects without a declared organization are accepted).
//   - A host project cannot stop being a host while service projects are attached to it.

// XpnError is a Shared VPC change the rules above refuse; Reason is the Compute error reason.
type XpnError struct {
	Reason  string
	Message string
}

func (e *XpnError) Error() string { return e.Message }

func xpnErrorf(reason, format string, args ...any) *XpnError {
	return &XpnError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// IsXpnHostLocked reports whether project is a Shared VPC host project.
func (w *World) IsXpnHostLocked(project string) bool { return w.S.Dir.XpnHosts[project] }

// XpnHostOfLocked returns the host project a service project is attached to ("" if none).
func (w *World) XpnHostOfLocked(project string) string { return w.S.Dir.XpnServices[project] }

// XpnServiceProjectsLocked returns, sorted, the service projects attached to host.
func (w *World) XpnServiceProjectsLocked(host string) []string {
	var out []string
	for s, h := range w.S.Dir.XpnServices {
		if h == host {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// XpnHostsLocked returns, sorted, every host project (in organization org, "organizations/O",
// when org is not empty).
func (w *World) XpnHostsLocked(org string) []string {
	var out []string
	for h := range w.S.Dir.XpnHosts {
		if org != "" {
			if _, o := w.ProjectAncestryLocked(h); o != org {
				continue
			}
		}
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// CheckEnableXpnHostLocked reports why project cannot become a host project, or nil.
func (w *World) CheckEnableXpnHostLocked(project string) *XpnError {
	if h := w.S.Dir.XpnServices[project]; h != "" {
		return xpnErrorf("invalid", "Project '%s' is a service project of Shared VPC host project '%s'. A service project cannot be a Shared VPC host project.", project, h)
	}
	return nil
}

// EnableXpnHostLocked makes project a host project (idempotent).
func (w *World) EnableXpnHostLocked(project string) *XpnError {
	if err := w.CheckEnableXpnHostLocked(project); err != nil {
		return err
	}
	w.S.Dir.XpnHosts[project] = true
	w.MarkChangedLocked()
	return nil
}

// CheckDisableXpnHostLocked reports why project cannot stop being a host, or nil.
func (w *World) CheckDisableXpnHostLocked(project string) *XpnError {
	if s := w.XpnServiceProjectsLocked(project); len(s) > 0 {
		return xpnErrorf("invalid", "Project '%s' cannot be disabled as a Shared VPC host project while service projects are attached to it: %s.", project, s[0])
	}
	return nil
}

// DisableXpnHostLocked makes project an ordinary project again.
func (w *World) DisableXpnHostLocked(project string) *XpnError {
	if err := w.CheckDisableXpnHostLocked(project); err != nil {
		return err
	}
	delete(w.S.Dir.XpnHosts, project)
	w.MarkChangedLocked()
	return nil
}

// CheckAttachLocked reports why service cannot be attached to host, or nil.
func (w *World) CheckAttachLocked(host, service string) *XpnError {
	switch {
	case !w.S.Dir.XpnHosts[host]:
		return xpnErrorf("invalid", "Project '%s' is not a Shared VPC host project. Enable it as a host project first.", host)
	case service == host:
		return xpnErrorf("invalid", "Project '%s' cannot be attached to itself.", service)
	case w.S.Dir.XpnHosts[service]:
		return xpnErrorf("invalid", "Project '%s' is a Shared VPC host project and cannot be attached as a service project.", service)
	}
	if cur := w.S.Dir.XpnServices[service]; cur != "" && cur != host {
		return xpnErrorf("invalid", "Project '%s' is already attached to Shared VPC host project '%s'. A service project can only be attached to a single host project.", service, cur)
	}
	_, hostOrg := w.ProjectAncestryLocked(host)
	_, svcOrg := w.ProjectAncestryLocked(service)
	if hostOrg != "" && svcOrg != "" && hostOrg != svcOrg {
		return xpnErrorf("invalid", "Project '%s' (%s) is not in the organization of Shared VPC host project '%s' (%s).", service, svcOrg, host, hostOrg)
	}
	return nil
}

// AttachLocked attaches service to host (idempotent).
func (w *World) AttachLocked(host, service string) *XpnError {
	if err := w.CheckAttachLocked(host, service); err != nil {
		return err
	}
	w.S.Dir.XpnServices[service] = host
	w.MarkChangedLocked()
	return nil
}

// CheckDetachLocked reports why service cannot be detached from host, or nil.
func (w *World) CheckDetachLocked(host, service string) *XpnError {
	if w.S.Dir.XpnServices[service] != host {
		return xpnErrorf("invalid", "Project '%s' is not attached to Shared VPC host project '%s'.", service, host)
	}
	return nil
}

// DetachLocked detaches service from host.
func (w *World) DetachLocked(host, service string) *XpnError {
	if err := w.CheckDetachLocked(host, service); err != nil {
		return err
	}
	delete(w.S.Dir.XpnServices, service)
	w.MarkChangedLocked()
	return nil
}
