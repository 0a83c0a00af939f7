package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"time"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// The data plane's Go API and control endpoints: destinations a workload's egress may reach,
// what each service depends on, the synthetic load that makes request metrics, the Direct VPC
// instance quota, and the folders and organization a project sits in (for hierarchical
// firewall policies). See docs/emulator.md, "Data plane and metrics".

// Destination is something egress may reach: a VM-like endpoint in a VPC, an on-premises host
// behind a route, an internet host, or Google APIs; with its own ingress allowlist.
type Destination = world.Destination

// Dependency is a destination a service calls for a share of its requests.
type Dependency = world.Dependency

// Load is the synthetic traffic a service receives.
type Load = world.Load

// Reach says whether a revision's egress reaches a destination, how, and what source the
// destination sees.
type Reach = world.Reach

// DependencyOutcome is one dependency of a revision's service, judged from the revision.
type DependencyOutcome = world.DependencyOutcome

// RevisionHealth is what the data plane makes of a revision: each dependency, and the share
// of requests that fail (served as 5xx).
type RevisionHealth struct {
	Revision     string              `json:"revision"`
	Egress       world.Egress        `json:"egress"`
	Dependencies []DependencyOutcome `json:"dependencies"`
	FailRatio    float64             `json:"failRatio"`
}

var (
	destNameRE    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	serviceNameRE = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/services/[^/]+$`)
	revisionRE    = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/services/[^/]+/revisions/[^/]+$`)
)

func validateDestination(d *Destination) error {
	if !destNameRE.MatchString(d.Name) {
		return fmt.Errorf("destination name %q must be 1 to 63 lower-case letters, digits or hyphens, starting with a letter", d.Name)
	}
	if _, err := netip.ParseAddr(d.IP); err != nil {
		return fmt.Errorf("destination %s: ip %q is not an IP address", d.Name, d.IP)
	}
	if d.Port < 1 || d.Port > 65535 {
		return fmt.Errorf("destination %s: port %d must be between 1 and 65535", d.Name, d.Port)
	}
	if (d.Project == "") != (d.Network == "") {
		return fmt.Errorf("destination %s: give both project and network, or neither", d.Name)
	}
	for _, a := range d.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				return fmt.Errorf("destination %s: allow entry %q is not a CIDR range or an address", d.Name, a)
			}
		}
	}
	return nil
}

// SetDestination declares (or replaces) a destination.
func (e *Emulator) SetDestination(d Destination) error {
	if err := validateDestination(&d); err != nil {
		return err
	}
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Net.Destinations[d.Name] = &d
	e.w.MarkChangedLocked()
	return nil
}

// DeleteDestination removes a destination; services that depend on it then fail to reach it.
func (e *Emulator) DeleteDestination(name string) error {
	e.w.Lock()
	defer e.w.Unlock()
	if _, ok := e.w.S.Net.Destinations[name]; !ok {
		return fmt.Errorf("destination %q not found", name)
	}
	delete(e.w.S.Net.Destinations, name)
	e.w.MarkChangedLocked()
	return nil
}

// Destinations returns the declared destinations, by name.
func (e *Emulator) Destinations() []Destination {
	e.w.Lock()
	defer e.w.Unlock()
	var out []Destination
	for _, k := range world.SortedKeys(e.w.S.Net.Destinations) {
		out = append(out, *e.w.S.Net.Destinations[k])
	}
	return out
}

// SetDependencies declares the destinations a service (full name) calls while serving; an
// empty list removes them.
func (e *Emulator) SetDependencies(service string, deps []Dependency) error {
	if !serviceNameRE.MatchString(service) {
		return fmt.Errorf("service %q must be projects/PROJECT/locations/REGION/services/NAME", service)
	}
	for _, d := range deps {
		if d.Destination == "" {
			return errors.New("a dependency needs a destination")
		}
		if d.Share < 0 || d.Share > 1 {
			return fmt.Errorf("dependency %s: share %g must be between 0 and 1 (0 means 1)", d.Destination, d.Share)
		}
	}
	e.w.Lock()
	defer e.w.Unlock()
	if len(deps) == 0 {
		delete(e.w.S.Net.Dependencies, service)
	} else {
		e.w.S.Net.Dependencies[service] = append([]Dependency(nil), deps...)
	}
	e.w.MarkChangedLocked()
	return nil
}

// SetLoad sets the requests per second a service (full name) receives; split across its
// revisions by the traffic in force, they make its request_count and request_latencies
// metrics. RPS 0 stops the load.
func (e *Emulator) SetLoad(service string, l Load) error {
	if !serviceNameRE.MatchString(service) {
		return fmt.Errorf("service %q must be projects/PROJECT/locations/REGION/services/NAME", service)
	}
	if l.RPS < 0 || l.LatencyMs < 0 || l.FailLatencyMs < 0 {
		return fmt.Errorf("load of %s: rps, latencyMs and failLatencyMs must not be negative", service)
	}
	e.w.Lock()
	defer e.w.Unlock()
	if l.RPS == 0 {
		delete(e.w.S.Net.Load, service)
	} else {
		e.w.S.Net.Load[service] = &l
	}
	e.w.MarkChangedLocked()
	return nil
}

// Backfill rewrites the metrics of the last d as if the world had served then as it does now
// (the load, traffic and instances in force): a fixture whose service has had its load for an
// hour reads an hour of requests without waiting for it. What the metrics said of that time
// before is replaced.
func (e *Emulator) Backfill(d time.Duration) error {
	if d <= 0 || d > 6*7*24*time.Hour {
		return fmt.Errorf("backfill %s: must be positive and at most the 6 weeks Monitoring keeps", d)
	}
	e.w.Lock()
	defer e.w.Unlock()
	e.w.BackfillLocked(d)
	e.w.MarkChangedLocked()
	return nil
}

// SetDirectVPCQuota sets the Direct VPC egress instance limit of a project in a region (what
// the Service Usage API reports, and what Cloud Run enforces).
func (e *Emulator) SetDirectVPCQuota(project, region string, limit int64) error {
	if project == "" || !world.IsRegion(region) {
		return fmt.Errorf("quota needs a project and a known region, got %q and %q", project, region)
	}
	if limit < 0 {
		return fmt.Errorf("quota limit %d must not be negative", limit)
	}
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Net.Quotas[project+"/"+region] = limit
	e.w.MarkChangedLocked()
	return nil
}

// DirectVPCQuota returns the Direct VPC egress instance limit of a project in a region.
func (e *Emulator) DirectVPCQuota(project, region string) int64 {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.DirectVPCQuotaLocked(project, region)
}

// Reach says whether a revision (full name) reaches a destination now, and why.
func (e *Emulator) Reach(revision, destination string) (Reach, error) {
	e.w.Lock()
	defer e.w.Unlock()
	r, ok := e.w.S.Revisions[revision]
	if !ok {
		return Reach{}, fmt.Errorf("revision %q not found", revision)
	}
	d, ok := e.w.S.Net.Destinations[destination]
	if !ok {
		return Reach{}, fmt.Errorf("destination %q not found", destination)
	}
	return e.w.ReachLocked(e.w.EgressOfLocked(revision, r.GetVpcAccess()), d), nil
}

// RevisionHealth judges every dependency of a revision's service from the revision.
func (e *Emulator) RevisionHealth(revision string) (RevisionHealth, error) {
	e.w.Lock()
	defer e.w.Unlock()
	r, ok := e.w.S.Revisions[revision]
	if !ok {
		return RevisionHealth{}, fmt.Errorf("revision %q not found", revision)
	}
	deps, fail := e.w.RevisionDependenciesLocked(revision)
	return RevisionHealth{Revision: revision, Egress: e.w.EgressOfLocked(revision, r.GetVpcAccess()), Dependencies: deps, FailRatio: fail}, nil
}

// SetDirectVPCWarmup turns on (d > 0) or off the start-up connection delay of Direct VPC
// revisions without an HTTP startup probe: for d after such a revision becomes Ready, its
// traffic through the VPC does not connect (Cloud Run docs: "connection establishment delays
// of a minute or more on instance startup"). Off by default.
func (e *Emulator) SetDirectVPCWarmup(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("warm-up %v must not be negative", d)
	}
	e.w.Lock()
	defer e.w.Unlock()
	e.w.S.Net.DirectVPCWarmup = d
	e.w.MarkChangedLocked()
	return nil
}

// dependencyJSON reads a dependency given as a destination name or as an object.
type dependencyJSON struct{ Dependency }

func (d *dependencyJSON) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		d.Destination = name
		return nil
	}
	return json.Unmarshal(b, &d.Dependency)
}

// dataplaneControl adds the data plane's endpoints to the control surface.
func (e *Emulator) dataplaneControl(mux *http.ServeMux, p string) {
	mux.HandleFunc("GET "+p+"/destinations", func(rw http.ResponseWriter, _ *http.Request) { controlOK(rw, e.Destinations()) })
	mux.HandleFunc("POST "+p+"/destinations", func(rw http.ResponseWriter, r *http.Request) {
		var d Destination
		if !decode(rw, r, &d) {
			return
		}
		if err := e.SetDestination(d); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, d)
	})
	mux.HandleFunc("DELETE "+p+"/destinations/{name}", func(rw http.ResponseWriter, r *http.Request) {
		if err := e.DeleteDestination(r.PathValue("name")); err != nil {
			controlError(rw, http.StatusNotFound, err)
			return
		}
		controlOK(rw, map[string]string{"deleted": r.PathValue("name")})
	})
	mux.HandleFunc("POST "+p+"/dependencies", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Service      string           `json:"service"`
			Destinations []dependencyJSON `json:"destinations"`
		}
		if !decode(rw, r, &req) {
			return
		}
		deps := make([]Dependency, 0, len(req.Destinations))
		for _, d := range req.Destinations {
			deps = append(deps, d.Dependency)
		}
		if err := e.SetDependencies(req.Service, deps); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, map[string]any{"service": req.Service, "destinations": deps})
	})
	mux.HandleFunc("POST "+p+"/load", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Service string `json:"service"`
			Load
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.SetLoad(req.Service, req.Load); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("POST "+p+"/backfill", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Seconds int64 `json:"seconds"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.Backfill(time.Duration(req.Seconds) * time.Second); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("POST "+p+"/quotas/direct-vpc", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Project string `json:"project"`
			Region  string `json:"region"`
			Limit   int64  `json:"limit"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.SetDirectVPCQuota(req.Project, req.Region, req.Limit); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("POST "+p+"/warmup", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			DirectVPC string `json:"directVpc"`
		}
		if !decode(rw, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.DirectVPC)
		if err == nil {
			err = e.SetDirectVPCWarmup(d)
		}
		if err != nil {
			controlError(rw, http.StatusBadRequest, fmt.Errorf("\"directVpc\" must be a duration such as 60s or 0s: %w", err))
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("GET "+p+"/reach", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rev, dest := q.Get("revision"), q.Get("destination")
		if !revisionRE.MatchString(rev) {
			controlError(rw, http.StatusBadRequest, fmt.Errorf("revision %q must be a full revision name", rev))
			return
		}
		if dest == "" {
			h, err := e.RevisionHealth(rev)
			if err != nil {
				controlError(rw, http.StatusNotFound, err)
				return
			}
			controlOK(rw, h)
			return
		}
		out, err := e.Reach(rev, dest)
		if err != nil {
			controlError(rw, http.StatusNotFound, err)
			return
		}
		controlOK(rw, out)
	})
}

// AddVPNRoute connects a network to an on-premises range, at once (no operations): a Classic
// VPN tunnel named NAME-tunnel in region and a static route NAME for destRange through it, as
// vpnTunnels.insert and routes.insert would make them. Demos and tests use it to place a
// destination on-premises.
func (e *Emulator) AddVPNRoute(project, region, network, name, destRange string) error {
	e.w.Lock()
	defer e.w.Unlock()
	tun, err := computeapi.PutVpnTunnelLocked(e.w, project, region, &compute.VpnTunnel{
		Name: name + "-tunnel", PeerIp: "203.0.113.1", SharedSecret: "emulated",
		TargetVpnGateway: "projects/" + project + "/regions/" + region + "/targetVpnGateways/" + name + "-gateway",
	})
	if err != nil {
		return fmt.Errorf("add VPN route %s: %w", name, err)
	}
	if _, err := computeapi.PutRouteLocked(e.w, project, &compute.Route{
		Name: name, Network: "projects/" + project + "/global/networks/" + network, DestRange: destRange, NextHopVpnTunnel: tun.SelfLink,
	}); err != nil {
		return fmt.Errorf("add VPN route %s: %w", name, err)
	}
	return nil
}
