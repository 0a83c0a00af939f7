package computeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Firewall defaults. Compute docs, Firewall: direction "The default is INGRESS", priority "The
// default value is 1000"; a network is "global/networks/default" when not given.
const (
	defaultDirection       = "INGRESS"
	defaultFirewallPrio    = 1000
	maxFirewallPrio        = 65535
	defaultFirewallNetwork = "default"
	// maxPort and maxProtocol bound port numbers and IP protocol numbers (IANA: 16-bit ports,
	// 8-bit protocol numbers), as Firewall.allowed[] takes them.
	maxPort     = 65535
	maxProtocol = 255
)

// firewallProtocols are the protocol names a rule accepts besides a number from 0 to 255
// (Compute docs, Firewall.allowed[].IPProtocol).
var firewallProtocols = []string{"tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"}

var portRE = regexp.MustCompile(`^([0-9]{1,5})(-([0-9]{1,5}))?$`)

var firewalls = &collection[compute.Firewall]{
	name:  "firewalls",
	items: func(s *world.State) map[string]*compute.Firewall { return s.Firewalls },
}

func firewallPath(project, name string) string { return globalPath(project, "firewalls", name) }

func checkRules(field string, protos []string, ports [][]string) *apiError {
	for i, proto := range protos {
		f := fmt.Sprintf("%s[%d]", field, i)
		if n, err := strconv.Atoi(proto); err == nil {
			if n < 0 || n > maxProtocol {
				return errInvalid(fmt.Sprintf("Invalid value for field '%s.IPProtocol': '%s'. Must be a protocol name or a number from 0 to 255.", f, proto))
			}
		} else if !contains(firewallProtocols, strings.ToLower(proto)) {
			return errInvalid(fmt.Sprintf("Invalid value for field '%s.IPProtocol': '%s'. Must be a protocol name or a number from 0 to 255.", f, proto))
		}
		for j, port := range ports[i] {
			m := portRE.FindStringSubmatch(port)
			ok := m != nil
			if ok {
				lo, _ := strconv.Atoi(m[1])
				hi := lo
				if m[3] != "" {
					hi, _ = strconv.Atoi(m[3])
				}
				ok = lo <= hi && hi <= maxPort
			}
			if !ok {
				return errInvalid(fmt.Sprintf("Invalid value for field '%s.ports[%d]': '%s'. Must be a port or a range of ports (e.g. 80 or 1000-2000).", f, j, port))
			}
		}
	}
	return nil
}

func checkRanges(field string, ranges []string) *apiError {
	for i, r := range ranges {
		if _, err := netip.ParsePrefix(r); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(r); err == nil {
			continue
		}
		return errInvalid(fmt.Sprintf("Invalid value for field '%s[%d]': '%s'. Must be a CIDR address range.", field, i, r))
	}
	return nil
}

// validateFirewallFields checks a firewall's rule fields (insert, and the result of a patch).
func validateFirewallFields(f *compute.Firewall) *apiError {
	switch {
	case len(f.Allowed) == 0 && len(f.Denied) == 0:
		return errInvalid("Invalid value for field 'resource.allowed': ''. A firewall rule must specify allowed or denied rules.")
	case len(f.Allowed) > 0 && len(f.Denied) > 0:
		return errInvalid("Invalid value for field 'resource.denied': ''. A firewall rule cannot specify both allowed and denied rules.")
	}
	var protos []string
	var ports [][]string
	field := "resource.allowed"
	for _, a := range f.Allowed {
		if a == nil {
			return errRequired(field)
		}
		protos, ports = append(protos, a.IPProtocol), append(ports, a.Ports)
	}
	if len(f.Denied) > 0 {
		field = "resource.denied"
		for _, d := range f.Denied {
			if d == nil {
				return errRequired(field)
			}
			protos, ports = append(protos, d.IPProtocol), append(ports, d.Ports)
		}
	}
	if aerr := checkRules(field, protos, ports); aerr != nil {
		return aerr
	}
	if aerr := checkEnum("resource.direction", f.Direction, "INGRESS", "EGRESS"); aerr != nil {
		return aerr
	}
	if f.Priority < 0 || f.Priority > maxFirewallPrio {
		return errInvalid(fmt.Sprintf("Invalid value for field 'resource.priority': '%d'. Must be between 0 and %d.", f.Priority, maxFirewallPrio))
	}
	if aerr := checkRanges("resource.sourceRanges", f.SourceRanges); aerr != nil {
		return aerr
	}
	if aerr := checkRanges("resource.destinationRanges", f.DestinationRanges); aerr != nil {
		return aerr
	}
	if lc := f.LogConfig; lc != nil {
		if aerr := checkEnum("resource.logConfig.metadata", lc.Metadata, "INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"); aerr != nil {
			return aerr
		}
	}
	return nil
}

// validateFirewallLocked checks a firewall to insert and returns its network's name.
func validateFirewallLocked(w *world.World, project string, f *compute.Firewall) (string, *apiError) {
	if aerr := checkName("resource.name", f.Name); aerr != nil {
		return "", aerr
	}
	ref := f.Network
	if ref == "" {
		ref = globalPath(project, "networks", defaultFirewallNetwork)
	}
	network, aerr := networkRefLocked(w, project, ref, "resource.network")
	if aerr != nil {
		return "", aerr
	}
	if aerr := validateFirewallFields(f); aerr != nil {
		return "", aerr
	}
	if t := (target{project: project, name: f.Name}); firewalls.takenLocked(w, t) {
		return "", errAlreadyExists(firewalls.path(t))
	}
	return network, nil
}

// buildFirewallLocked fills the output fields of a firewall to insert; prioritySet says whether
// the caller gave a priority (0 is a valid one).
func buildFirewallLocked(w *world.World, project, network string, in *compute.Firewall, prioritySet bool) *compute.Firewall {
	f := clone(in)
	f.Kind = "compute#firewall"
	f.Id = w.NextIDLocked()
	f.CreationTimestamp = timestamp(w.Now())
	f.SelfLink = linkBase + firewallPath(project, f.Name)
	f.Network = linkBase + networkPath(project, network)
	if f.Direction == "" {
		f.Direction = defaultDirection
	}
	if !prioritySet && f.Priority == 0 {
		f.Priority = defaultFirewallPrio
	}
	f.LogConfig = normalizeFirewallLog(f.LogConfig)
	f.Params = nil
	return f
}

// normalizeFirewallLog returns the log config the real API shows: {enable: false} unless
// logging is on, then with metadata INCLUDE_ALL_METADATA by default.
func normalizeFirewallLog(lc *compute.FirewallLogConfig) *compute.FirewallLogConfig {
	if lc == nil || !lc.Enable {
		return &compute.FirewallLogConfig{}
	}
	out := &compute.FirewallLogConfig{Enable: true, Metadata: lc.Metadata}
	if out.Metadata == "" {
		out.Metadata = "INCLUDE_ALL_METADATA"
	}
	return out
}

func renderFirewall(f *compute.Firewall) *compute.Firewall {
	c := clone(f)
	c.ForceSendFields = []string{"Disabled", "Priority"}
	if c.LogConfig != nil {
		c.LogConfig.ForceSendFields = []string{"Enable"}
	}
	return c
}

// PutFirewallLocked validates a firewall like firewalls.insert, fills every output field as the
// completed insert would and stores it at once, without an operation. A zero Priority means the
// default, 1000. The lock must be held.
func PutFirewallLocked(w *world.World, project string, f *compute.Firewall) (*compute.Firewall, error) {
	if f == nil {
		return nil, errors.New("computeapi: put firewall: nil firewall")
	}
	network, aerr := validateFirewallLocked(w, project, f)
	if aerr != nil {
		return nil, fmt.Errorf("put firewall %s: %w", f.Name, aerr)
	}
	built := buildFirewallLocked(w, project, network, f, contains(f.ForceSendFields, "Priority"))
	w.S.Firewalls[world.GlobalKey(project, built.Name)] = built
	w.MarkChangedLocked()
	return renderFirewall(built), nil
}

func (s *server) firewallsInsert(r *http.Request, p params) (any, *apiError) {
	var in compute.Firewall
	return s.mutate(r, p, &in, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		project := p["project"]
		network, aerr := validateFirewallLocked(s.w, project, &in)
		if aerr != nil {
			return nil, aerr
		}
		_, prioritySet := present["priority"]
		f := buildFirewallLocked(s.w, project, network, &in, prioritySet)
		return firewalls.insertLocked(s.w, p.target(f.Name), rid, f, f.Id, flight{network: project + "/" + network}, nil), nil
	})
}

func (s *server) firewallsGet(r *http.Request, p params) (any, *apiError) {
	return firewalls.get(s.w, p, func(f *compute.Firewall) any { return renderFirewall(f) })
}

func firewallItemsLocked(w *world.World, project, region string) []listItem {
	return firewalls.itemsLocked(w, project, region, func(f *compute.Firewall) listItem {
		return toItem(renderFirewall(f), f.Name, f.CreationTimestamp)
	})
}

func (s *server) firewallsList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#firewall", "firewalls", firewallItemsLocked)
}

// firewallsPatch applies a JSON merge patch (Compute docs, firewalls.patch). The name, network
// and direction cannot change. The operation type is "compute.firewalls.patch"
// (realapi/compute/firewall-crud-patch.http.log).
func (s *server) firewallsPatch(r *http.Request, p params) (any, *apiError) {
	var patch compute.Firewall
	return s.mutate(r, p, &patch, func(present map[string]json.RawMessage, rid string) (any, *apiError) {
		return firewallPatchLocked(s.w, p.target(p["name"]), rid, &patch, present)
	})
}

func firewallPatchLocked(w *world.World, t target, rid string, patch *compute.Firewall, present map[string]json.RawMessage) (any, *apiError) {
	project := t.project
	cur, aerr := firewalls.currentLocked(w, t)
	if aerr != nil {
		return nil, aerr
	}
	u := clone(cur)
	for _, k := range sortedKeys(present) {
		switch k {
		case "description":
			u.Description = patch.Description
		case "allowed":
			u.Allowed = patch.Allowed
		case "denied":
			u.Denied = patch.Denied
		case "disabled":
			u.Disabled = patch.Disabled
		case "priority":
			u.Priority = patch.Priority
		case "sourceRanges":
			u.SourceRanges = patch.SourceRanges
		case "destinationRanges":
			u.DestinationRanges = patch.DestinationRanges
		case "sourceTags":
			u.SourceTags = patch.SourceTags
		case "targetTags":
			u.TargetTags = patch.TargetTags
		case "sourceServiceAccounts":
			u.SourceServiceAccounts = patch.SourceServiceAccounts
		case "targetServiceAccounts":
			u.TargetServiceAccounts = patch.TargetServiceAccounts
		case "logConfig":
			u.LogConfig = normalizeFirewallLog(patch.LogConfig)
		case "name":
			if patch.Name != cur.Name {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.name': '%s'. A firewall rule cannot be renamed.", patch.Name))
			}
		case "network":
			if _, n, ok := globalRef(patch.Network, project, "networks"); !ok || n != world.NetworkName(cur.Network) {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.network': '%s'. The network of a firewall rule cannot be changed.", patch.Network))
			}
		case "direction":
			if patch.Direction != "" && patch.Direction != cur.Direction {
				return nil, errInvalid(fmt.Sprintf("Invalid value for field 'resource.direction': '%s'. The direction of a firewall rule cannot be changed.", patch.Direction))
			}
		}
		// Output-only fields copied from a GET are ignored.
	}
	if aerr := validateFirewallFields(u); aerr != nil {
		return nil, aerr
	}
	return firewalls.replaceLocked(w, t, "compute.firewalls.patch", rid, cur.Id, flight{}, u), nil
}

func (s *server) firewallsDelete(r *http.Request, p params) (any, *apiError) {
	return s.mutate(r, p, nil, func(_ map[string]json.RawMessage, rid string) (any, *apiError) {
		t := p.target(p["name"])
		cur, aerr := firewalls.currentLocked(s.w, t)
		if aerr != nil {
			return nil, aerr
		}
		return firewalls.deleteLocked(s.w, t, rid, cur.Id, nil), nil
	})
}
