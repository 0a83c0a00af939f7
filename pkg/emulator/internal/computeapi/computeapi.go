// Package computeapi serves the part of the Compute Engine API v1 (REST, JSON) that runnet and
// the tools around it drive: networks, subnetworks, firewalls, routers with Cloud NAT, regional
// addresses (including the serverless-ipv4-* addresses Cloud Run's Direct VPC egress holds),
// the default routes, global and regional operations (and their aggregated list), regions and
// zones, and a minimal project resource; Batch serves the batch endpoint gcloud uses for
// multi-resource commands; and, in their own files, firewall policies and effective firewalls
// (firewallpolicies.go), Cloud NAT checks and router status (nat.go), static routes and VPN
// tunnels (routes_custom.go).
//
// Requests are served under /compute/v1/ exactly as the real API lays them out, so the
// google.golang.org/api/compute/v1 client works unchanged when pointed at the emulator with
// option.WithEndpoint("http://HOST/compute/v1/") and option.WithoutAuthentication().
//
// Faithfulness notes (see also the recorded exchanges in testdata/realapi):
//   - Mutations return a RUNNING compute#operation at once and take effect when it completes,
//     after the world's LRODuration: an inserted resource appears, a patch applies and a
//     deleted resource disappears only then. Validation the real API does synchronously
//     (names, CIDR ranges, overlaps, resources in use) answers the request with an error body.
//   - Resources are kept in the REST client's own types in world.State, so field names match.
//   - Subnetwork utilization (views=WITH_UTILIZATION) counts Direct VPC reservation blocks (16
//     addresses each) and internal addresses reserved in the subnet. Addresses held by VMs,
//     load balancers or connector instances are not modelled.
//   - While an operation runs, its target is "not ready" for other changes (400
//     resourceNotReady), an inserted name is taken and new subnetwork ranges count in overlap
//     checks, as the real control plane reserves them when it accepts a request.
//
// Known deviations: operations start RUNNING (never PENDING), as the recordings show them;
// aggregated lists carry "global" (with includeAllScopes) and region scopes but no zonal ones;
// list filters support eq/ne (RE2, whole value), =, != and : joined by AND, not OR; networks
// without autoCreateSubnetworks (legacy networks) are refused; IPv6-only subnets are refused
// (dual-stack ones are served: dualstack.go);
// the error texts DESIGN.md and the recordings give are reproduced exactly (not found, already
// exists, range conflict, bad CIDR, resource in use, fingerprint), the others are modelled on
// Compute's "Invalid value for field '…': '…'. …" form.
package computeapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	// pathPrefix is where the API is served, as on compute.googleapis.com.
	pathPrefix = "/compute/v1/"
	// linkBase starts every self link. The real API writes links on www.googleapis.com whatever
	// host was called (realapi/compute/*.http.log).
	linkBase = "https://www.googleapis.com/compute/v1/"
	// operationUser is the operation's user field (the real API names the caller's account).
	operationUser = "runnet-emulator@example.com"
	// waitCap bounds operations.wait. Compute docs (globalOperations.wait, regionOperations.wait):
	// the call returns when the operation is DONE or "after approximately 2 minutes".
	waitCap = 2 * time.Minute
	// maxResultsLimit is the largest page. Compute docs, list methods: maxResults "Acceptable
	// values are 0 to 500, inclusive. (Default: 500)".
	maxResultsLimit = 500
	// timestampLayout is how Compute writes times: RFC 3339 with milliseconds, in Pacific time
	// (realapi/compute/network-addresses-peering-real.vcr.yaml: "2024-04-24T19:00:37.739-07:00").
	timestampLayout = "2006-01-02T15:04:05.000-07:00"
	// maxBodyBytes bounds request bodies.
	maxBodyBytes = 1 << 20
)

// nameRE is the RFC 1035 rule every Compute resource name follows (Compute docs, "name" fields).
var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// nameRegexText is how Compute quotes that rule in its error message.
const nameRegexText = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)"

// pacific is the zone Compute writes timestamps in.
var pacific = func() *time.Location {
	if loc, err := time.LoadLocation("America/Los_Angeles"); err == nil {
		return loc
	}
	return time.FixedZone("PDT", -7*60*60)
}()

func timestamp(t time.Time) string { return t.In(pacific).Format(timestampLayout) }

// server serves the Compute REST API over one world.
type server struct{ w *world.World }

// New returns the handler for every path under /compute/v1/ (the full request path, prefix
// included). Every call passes w.Admit with its Compute method id (e.g.
// compute.subnetworks.insert) first, so injected latency and faults apply.
func New(w *world.World) http.Handler { return &server{w: w} }

type params map[string]string

type handlerFunc func(s *server, r *http.Request, p params) (any, *apiError)

// route maps an HTTP method and path pattern to a Compute method.
type route struct {
	method string
	path   string // pattern after /compute/v1/; {x} matches one segment
	id     string // Compute method id
	fn     handlerFunc
}

// noContent answers a call whose success response has no body.
type noContent struct{}

var routes = []route{
	{"GET", "projects/{project}", "compute.projects.get", (*server).projectGet},

	{"GET", "projects/{project}/global/networks", "compute.networks.list", (*server).networksList},
	{"POST", "projects/{project}/global/networks", "compute.networks.insert", (*server).networksInsert},
	{"GET", "projects/{project}/global/networks/{name}", "compute.networks.get", (*server).networksGet},
	{"PATCH", "projects/{project}/global/networks/{name}", "compute.networks.patch", (*server).networksPatch},
	{"DELETE", "projects/{project}/global/networks/{name}", "compute.networks.delete", (*server).networksDelete},

	{"GET", "projects/{project}/global/firewalls", "compute.firewalls.list", (*server).firewallsList},
	{"POST", "projects/{project}/global/firewalls", "compute.firewalls.insert", (*server).firewallsInsert},
	{"GET", "projects/{project}/global/firewalls/{name}", "compute.firewalls.get", (*server).firewallsGet},
	{"PATCH", "projects/{project}/global/firewalls/{name}", "compute.firewalls.patch", (*server).firewallsPatch},
	{"DELETE", "projects/{project}/global/firewalls/{name}", "compute.firewalls.delete", (*server).firewallsDelete},

	{"GET", "projects/{project}/global/routes", "compute.routes.list", (*server).routesList},
	{"GET", "projects/{project}/global/routes/{name}", "compute.routes.get", (*server).routesGet},

	{"GET", "projects/{project}/global/operations", "compute.globalOperations.list", (*server).opsList},
	{"GET", "projects/{project}/global/operations/{name}", "compute.globalOperations.get", (*server).opsGet},
	{"DELETE", "projects/{project}/global/operations/{name}", "compute.globalOperations.delete", (*server).opsDelete},
	{"POST", "projects/{project}/global/operations/{name}/wait", "compute.globalOperations.wait", (*server).opsWait},

	{"GET", "projects/{project}/aggregated/operations", "compute.globalOperations.aggregatedList", (*server).opsAggregated}, // regions.go

	{"GET", "projects/{project}/regions", "compute.regions.list", (*server).regionsList}, // regions.go
	{"GET", "projects/{project}/regions/{name}", "compute.regions.get", (*server).regionsGet},
	{"GET", "projects/{project}/zones", "compute.zones.list", (*server).zonesList},
	{"GET", "projects/{project}/zones/{name}", "compute.zones.get", (*server).zonesGet},

	{"GET", "projects/{project}/regions/{region}/subnetworks", "compute.subnetworks.list", (*server).subnetworksList},
	{"POST", "projects/{project}/regions/{region}/subnetworks", "compute.subnetworks.insert", (*server).subnetworksInsert},
	{"GET", "projects/{project}/regions/{region}/subnetworks/{name}", "compute.subnetworks.get", (*server).subnetworksGet},
	{"PATCH", "projects/{project}/regions/{region}/subnetworks/{name}", "compute.subnetworks.patch", (*server).subnetworksPatch},
	{"DELETE", "projects/{project}/regions/{region}/subnetworks/{name}", "compute.subnetworks.delete", (*server).subnetworksDelete},
	{"POST", "projects/{project}/regions/{region}/subnetworks/{name}/setPrivateIpGoogleAccess", "compute.subnetworks.setPrivateIpGoogleAccess", (*server).subnetworksSetPrivateIPGoogleAccess},
	{"POST", "projects/{project}/regions/{region}/subnetworks/{name}/expandIpCidrRange", "compute.subnetworks.expandIpCidrRange", (*server).subnetworksExpand},
	{"GET", "projects/{project}/aggregated/subnetworks", "compute.subnetworks.aggregatedList", (*server).subnetworksAggregated},
	{"GET", "projects/{project}/aggregated/subnetworks/listUsable", "compute.subnetworks.listUsable", (*server).subnetworksListUsable},
	{"POST", "projects/{project}/regions/{region}/subnetworks/{name}/testIamPermissions", "compute.subnetworks.testIamPermissions", (*server).subnetworksTestIAM}, // iam.go

	{"GET", "projects/{project}/regions/{region}/routers", "compute.routers.list", (*server).routersList},
	{"POST", "projects/{project}/regions/{region}/routers", "compute.routers.insert", (*server).routersInsert},
	{"GET", "projects/{project}/regions/{region}/routers/{name}", "compute.routers.get", (*server).routersGet},
	{"PATCH", "projects/{project}/regions/{region}/routers/{name}", "compute.routers.patch", (*server).routersPatch},
	{"DELETE", "projects/{project}/regions/{region}/routers/{name}", "compute.routers.delete", (*server).routersDelete},
	{"GET", "projects/{project}/aggregated/routers", "compute.routers.aggregatedList", (*server).routersAggregated},

	{"GET", "projects/{project}/regions/{region}/addresses", "compute.addresses.list", (*server).addressesList},
	{"POST", "projects/{project}/regions/{region}/addresses", "compute.addresses.insert", (*server).addressesInsert},
	{"GET", "projects/{project}/regions/{region}/addresses/{name}", "compute.addresses.get", (*server).addressesGet},
	{"DELETE", "projects/{project}/regions/{region}/addresses/{name}", "compute.addresses.delete", (*server).addressesDelete},
	{"GET", "projects/{project}/aggregated/addresses", "compute.addresses.aggregatedList", (*server).addressesAggregated},

	{"GET", "projects/{project}/regions/{region}/operations", "compute.regionOperations.list", (*server).opsList},
	{"GET", "projects/{project}/regions/{region}/operations/{name}", "compute.regionOperations.get", (*server).opsGet},
	{"DELETE", "projects/{project}/regions/{region}/operations/{name}", "compute.regionOperations.delete", (*server).opsDelete},
	{"POST", "projects/{project}/regions/{region}/operations/{name}/wait", "compute.regionOperations.wait", (*server).opsWait},
}

// MethodIDs lists every Compute method id the handler serves, sorted (for docs and for
// validating fault specifications).
func MethodIDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, rt := range routes {
		if !seen[rt.id] {
			seen[rt.id] = true
			out = append(out, rt.id)
		}
	}
	sort.Strings(out)
	return out
}

// match finds the route for a method and a path below /compute/v1/.
func match(method, path string) (*route, params) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range routes {
		rt := &routes[i]
		if rt.method != method {
			continue
		}
		pat := strings.Split(rt.path, "/")
		if len(pat) != len(segs) {
			continue
		}
		p := params{}
		ok := true
		for j, ps := range pat {
			if strings.HasPrefix(ps, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				p[strings.Trim(ps, "{}")] = segs[j]
			} else if ps != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, p
		}
	}
	return nil, nil
}

// ServeHTTP admits the call (latency, faults), then serves it. Query parameters the client
// adds on every call (alt, prettyPrint, $alt, fields, key, quotaUser) are accepted and ignored.
func (s *server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, pathPrefix)
	if !ok {
		writeError(rw, errNoSuchPath(r.Method, r.URL.Path))
		return
	}
	rt, p := match(r.Method, path)
	if rt == nil {
		writeError(rw, errNoSuchPath(r.Method, r.URL.Path))
		return
	}
	hit, err := s.w.Admit(r.Context(), rt.id)
	if err != nil {
		writeError(rw, contextError(err))
		return
	}
	if off := s.serviceDisabled(p["project"]); off != nil {
		writeJSON(rw, http.StatusForbidden, off.JSON())
		return
	}
	if hit != nil && !hit.AfterCommit {
		s.w.Log.Info("fault injected", "method", rt.id, "code", world.CodeName(hit.Code))
		writeError(rw, faultError(hit))
		return
	}
	var body any
	var aerr *apiError
	if region, ok := p["region"]; ok && !world.IsRegion(region) {
		aerr = errUnknownRegion(region)
	} else {
		body, aerr = rt.fn(s, r, p)
	}
	if hit != nil {
		s.w.Log.Info("fault injected after commit", "method", rt.id, "code", world.CodeName(hit.Code))
		writeError(rw, faultError(hit))
		return
	}
	if aerr != nil {
		writeError(rw, aerr)
		return
	}
	if _, empty := body.(noContent); empty {
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(rw, http.StatusOK, body)
}

// serviceDisabled returns the refusal of a call addressed to project when the Compute Engine
// API is disabled there (world/services.go has the shape and its source), else nil.
func (s *server) serviceDisabled(project string) *world.ServiceDisabled {
	if project == "" {
		return nil
	}
	s.w.Lock()
	defer s.w.Unlock()
	return s.w.ServiceDisabledLocked(project, world.ServiceCompute)
}

func writeJSON(rw http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = mustErrorBody(&apiError{Status: status, Reason: "internalError", Message: "encode response: " + err.Error()})
	}
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(status)
	_, _ = rw.Write(b)
}

// clone deep-copies a Compute resource through its JSON form, which these types round-trip
// exactly (ForceSendFields and NullFields, request-side hints, are dropped).
func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("computeapi: marshal %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("computeapi: unmarshal %T: %v", v, err))
	}
	return out
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]*)"`)

// decodeBody reads a JSON object into dst and reports which top-level fields were present,
// which PATCH (JSON merge patch) and a few defaults depend on. Unknown fields are rejected as
// the real API's front end does.
func decodeBody(r *http.Request, dst any) (map[string]json.RawMessage, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, errParse("Could not read the request body: " + err.Error())
	}
	if len(b) > maxBodyBytes {
		return nil, errParse("Request body too large.")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(b, &present); err != nil || present == nil {
		return nil, errParse("Invalid JSON payload received. Expected a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, errInvalid(fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", m[1]))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, errInvalid(fmt.Sprintf("Invalid JSON payload received. Invalid value at 'resource.%s': %s.", te.Field, te.Value))
		}
		return nil, errParse("Invalid JSON payload received. " + err.Error())
	}
	return present, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// sortedKeys returns the keys of a presence map in order, so that validation reports the
// same error for the same request.
func sortedKeys(m map[string]json.RawMessage) []string { return world.SortedKeys(m) }

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

const zeroUUID = "00000000-0000-0000-0000-000000000000"

// requestID returns the call's requestId. Compute docs (requestId on every mutation): "The
// request ID must be a valid UUID with the exception that zero UUID is not supported".
func requestID(r *http.Request) (string, *apiError) {
	id := r.URL.Query().Get("requestId")
	if id == "" {
		return "", nil
	}
	if !uuidRE.MatchString(id) || id == zeroUUID {
		return "", errInvalid(fmt.Sprintf("Invalid value for field 'requestId': '%s'. The request ID must be a valid UUID with the exception that zero UUID is not supported (%s).", id, zeroUUID))
	}
	return strings.ToLower(id), nil
}

func checkName(field, name string) *apiError {
	if !nameRE.MatchString(name) {
		return errInvalid(fmt.Sprintf("Invalid value for field '%s': '%s'. Must be a match of regex '%s'", field, name, nameRegexText))
	}
	return nil
}

// Resource paths ("projects/P/global/networks/N") and links (the path on linkBase).

func globalPath(project, collection, name string) string {
	return "projects/" + project + "/global/" + collection + "/" + name
}

func regionalPath(project, region, collection, name string) string {
	return "projects/" + project + "/regions/" + region + "/" + collection + "/" + name
}

func regionLink(project, region string) string {
	return linkBase + "projects/" + project + "/regions/" + region
}

// refSegments returns the path segments of a reference given as a full URL (any host, any
// Compute API version), a partial path or a bare name.
func refSegments(ref string) []string {
	s := ref
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.Index(s, "/"); j >= 0 {
			s = s[j+1:]
		} else {
			s = ""
		}
	}
	s = strings.Trim(s, "/")
	if strings.HasPrefix(s, "compute/") {
		parts := strings.SplitN(s, "/", 3)
		s = ""
		if len(parts) == 3 {
			s = parts[2]
		}
	}
	if s == "" {
		return nil
	}
	return strings.Split(s, "/")
}

// globalRef resolves a reference to a global resource of collection (e.g. "networks").
func globalRef(ref, project, collection string) (proj, name string, ok bool) {
	seg := refSegments(ref)
	switch {
	case len(seg) == 1:
		return project, seg[0], seg[0] != ""
	case len(seg) == 3 && seg[0] == "global" && seg[1] == collection:
		return project, seg[2], seg[2] != ""
	case len(seg) == 5 && seg[0] == "projects" && seg[2] == "global" && seg[3] == collection:
		return seg[1], seg[4], seg[1] != "" && seg[4] != ""
	}
	return "", "", false
}

// regionalRef resolves a reference to a regional resource of collection.
func regionalRef(ref, project, region, collection string) (proj, reg, name string, ok bool) {
	seg := refSegments(ref)
	switch {
	case len(seg) == 1:
		return project, region, seg[0], seg[0] != ""
	case len(seg) == 4 && seg[0] == "regions" && seg[2] == collection:
		return project, seg[1], seg[3], seg[3] != ""
	case len(seg) == 6 && seg[0] == "projects" && seg[2] == "regions" && seg[4] == collection:
		return seg[1], seg[3], seg[5], seg[5] != ""
	}
	return "", "", "", false
}

// regionRef resolves a region reference: "R", "regions/R", "projects/P/regions/R" or
// "projects/P/global/regions/R" (as Config Connector sends it, realapi/compute/
// subnetwork-crud-setPrivateIpGoogleAccess.http.log).
func regionRef(ref string) (string, bool) {
	seg := refSegments(ref)
	switch {
	case len(seg) == 1:
		return seg[0], true
	case len(seg) == 2 && seg[0] == "regions":
		return seg[1], true
	case len(seg) == 4 && seg[0] == "projects" && seg[2] == "regions":
		return seg[3], true
	case len(seg) == 5 && seg[0] == "projects" && seg[2] == "global" && seg[3] == "regions":
		return seg[4], true
	}
	return "", false
}

// randomFingerprint returns a fresh fingerprint: 8 random bytes in base64, the shape Compute
// uses (e.g. "42WmSpB8rSM=").
// sameBytes reports whether two base64 values (fingerprints: "format": "byte" in Compute's
// discovery document) hold the same bytes. gcloud's apitools sends back in URL-safe base64
// ('_' for '/', '-' for '+') what it was given in standard base64, and Compute takes it;
// values that are not base64 are compared as they are.
func sameBytes(a, b string) bool {
	if a == b {
		return true
	}
	decode := func(s string) ([]byte, bool) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if v, err := enc.DecodeString(s); err == nil {
				return v, true
			}
		}
		return nil, false
	}
	x, okA := decode(a)
	y, okB := decode(b)
	return okA && okB && bytes.Equal(x, y)
}

func randomFingerprint() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

func rand32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return binary.BigEndian.Uint32(b[:])
}

// stableID derives a numeric id from text, for resources the emulator computes rather than
// stores (routes, the project).
func stableID(parts ...string) uint64 { return world.StableID(parts...) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
