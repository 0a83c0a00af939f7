package emulator

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/frontdoor"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Cloud Run URLs answered through the emulator's own address: a request whose Host header is a
// service's run.app host reaches the service, one whose host is a tagged revision's reaches
// that revision, as a probe would on the real platform. Cloud Run docs ("Use tags for testing,
// traffic migration and rollbacks"): a tag gives a revision its own URL,
// https://TAG---SERVICE-PROJECT_HASH-REGION_CODE.a.run.app (the traffic status uri the API
// returns) and, with deterministic URLs, https://TAG---SERVICE-PROJECT_NUMBER.REGION.run.app.
//
// The answer comes from the data plane: 200 when the revision reaches every destination its
// service depends on, 500 naming the first one it cannot reach (a health endpoint checks its
// dependencies), 503 when the revision is not Ready, 404 when the service's ingress is not
// "all" (the emulator's callers are on the internet). Without an Authorization: Bearer header
// (an ID token) the answer is 403, as for a service that does not admit allUsers. Without a
// front door the emulator does not check the token itself; behind one, it must be an ID token
// the front door signed for one of the service's audiences (its URLs, its tagged revisions'
// URLs and its custom audiences), or the answer is 401, as Cloud Run's.

// RunURLHost reports whether host (with or without a port) is a Cloud Run URL host.
func RunURLHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.HasSuffix(host, ".run.app")
}

// ProbeResult is what a request to a Cloud Run URL gets.
type ProbeResult struct {
	Status   int    `json:"status"`
	Service  string `json:"service,omitempty"`
	Revision string `json:"revision,omitempty"`
	Message  string `json:"message"`
}

// Probe answers a GET of a Cloud Run URL (https://HOST/PATH) as the emulator's HTTP surface
// would, with a token: which revision it reaches and with what status.
func (e *Emulator) Probe(rawURL string) ProbeResult {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ProbeResult{Status: http.StatusNotFound, Message: "not a URL: " + rawURL}
	}
	e.w.Lock()
	defer e.w.Unlock()
	return probeLocked(e.w, u.Host)
}

func hostOf(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Host
	}
	return ""
}

// probeLocked resolves host to a revision and judges it.
func probeLocked(w *world.World, host string) ProbeResult {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, name := range world.SortedKeys(w.S.Services) {
		s := w.S.Services[name]
		project, region, id, _ := world.RunNameParts(name)
		det := id + "-" + strconv.FormatUint(world.ProjectNumber(project), 10) + "." + region + ".run.app"
		rev := ""
		for _, t := range s.GetTrafficStatuses() {
			if t.GetTag() == "" {
				continue
			}
			if hostOf(t.GetUri()) == host || t.GetTag()+"---"+det == host {
				rev = t.GetRevision()
				if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST || rev == "" {
					rev = lastSegmentOf(s.GetLatestReadyRevision())
				}
			}
		}
		if rev == "" {
			untagged := host == det || host == hostOf(s.GetUri())
			for _, u := range s.GetUrls() {
				untagged = untagged || hostOf(u) == host
			}
			if !untagged {
				continue
			}
			// The revision with the largest share answers (ties: the first by name).
			best := 0.0
			shares := w.ServingSharesLocked(name)
			for _, r := range world.SortedKeys(shares) {
				if shares[r] > best {
					best, rev = shares[r], lastSegmentOf(r)
				}
			}
		}
		// Requests reach the emulator from the caller's machine, i.e. from the internet: a
		// service whose ingress is not "all" refuses them with 404 (Cloud Run docs, "Restrict
		// network ingress for Cloud Run"), its tagged URLs included.
		if in := s.GetIngress(); in != runpb.IngressTraffic_INGRESS_TRAFFIC_ALL && in != runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED {
			return ProbeResult{Status: http.StatusNotFound, Service: name, Message: "Page not found: the service's ingress (" + in.String() + ") does not admit requests from the internet"}
		}
		if rev == "" {
			return ProbeResult{Status: http.StatusServiceUnavailable, Service: name, Message: "the service has no revision serving"}
		}
		full := name + "/revisions/" + rev
		r, ok := w.S.Revisions[full]
		if !ok || !conditionSucceeded(r) {
			return ProbeResult{Status: http.StatusServiceUnavailable, Service: name, Revision: full, Message: "revision " + rev + " is not ready"}
		}
		deps, fail := w.RevisionDependenciesLocked(full)
		if fail > 0 {
			for _, d := range deps {
				if !d.Reach.OK {
					return ProbeResult{Status: http.StatusInternalServerError, Service: name, Revision: full, Message: "cannot reach " + d.Destination + ": " + d.Reach.Reason}
				}
			}
		}
		return ProbeResult{Status: http.StatusOK, Service: name, Revision: full, Message: "ok"}
	}
	return ProbeResult{Status: http.StatusNotFound, Message: "no Cloud Run service or tag answers at " + host}
}

// audiencesLocked are the ID token audiences the service answering host accepts: its URLs
// (with and without a trailing slash), its tagged revisions' URLs and its custom audiences.
func audiencesLocked(w *world.World, host string) []string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, name := range world.SortedKeys(w.S.Services) {
		s := w.S.Services[name]
		project, region, id, _ := world.RunNameParts(name)
		det := id + "-" + strconv.FormatUint(world.ProjectNumber(project), 10) + "." + region + ".run.app"
		urls := append([]string{s.GetUri(), "https://" + det}, s.GetUrls()...)
		for _, t := range s.GetTrafficStatuses() {
			if t.GetTag() != "" {
				urls = append(urls, t.GetUri(), "https://"+t.GetTag()+"---"+det)
			}
		}
		match := false
		for _, u := range urls {
			match = match || (u != "" && hostOf(u) == host)
		}
		if !match {
			continue
		}
		var out []string
		for _, u := range urls {
			if u != "" {
				u = strings.TrimSuffix(u, "/")
				out = append(out, u, u+"/")
			}
		}
		return append(out, s.GetCustomAudiences()...)
	}
	return nil
}

func conditionSucceeded(r *runpb.Revision) bool {
	for _, c := range r.GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetState() == runpb.Condition_CONDITION_SUCCEEDED
		}
	}
	return false
}

func lastSegmentOf(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// runURLHandler answers requests whose Host is a run.app host and hands every other request
// to next.
func (e *Emulator) runURLHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !RunURLHost(r.Host) {
			next.ServeHTTP(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			rw.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(rw).Encode(ProbeResult{Status: http.StatusForbidden, Message: "Your client does not have permission to get URL " + r.URL.Path + " from this server."})
			return
		}
		e.w.Lock()
		auds := audiencesLocked(e.w, r.Host)
		res := probeLocked(e.w, r.Host)
		e.w.Unlock()
		if e.fd != nil && res.Status != http.StatusNotFound {
			if _, err := e.fd.VerifyIDToken(r.Header.Get("Authorization"), auds); err != nil {
				code := http.StatusUnauthorized
				var ie *frontdoor.IDTokenError
				if errors.As(err, &ie) {
					code = ie.Status
				}
				e.log.Info("a Cloud Run URL refused a request", "host", r.Host, "status", code, "why", err.Error())
				rw.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				rw.WriteHeader(code)
				msg := "Your client does not have permission to get URL " + r.URL.Path + " from this server."
				if code == http.StatusUnauthorized {
					msg = "Your client does not have permission to the requested URL " + r.URL.Path + "."
				}
				_ = json.NewEncoder(rw).Encode(ProbeResult{Status: code, Message: msg})
				return
			}
		}
		rw.WriteHeader(res.Status)
		_ = json.NewEncoder(rw).Encode(res)
	})
}
