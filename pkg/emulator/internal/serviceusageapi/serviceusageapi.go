// Package serviceusageapi serves the consumer quota part of the Service Usage API v1beta1
// (REST, JSON), as google.golang.org/api/serviceusage/v1beta1 calls it:
//
//	GET /v1beta1/projects/P/services/S/consumerQuotaMetrics                  (list)
//	GET /v1beta1/projects/P/services/S/consumerQuotaMetrics/M                (get)
//	GET /v1beta1/projects/P/services/S/consumerQuotaMetrics/M/limits/L       (limits.get)
//
// with view BASIC (default) or FULL, pageSize and pageToken. The one metric modelled is Cloud
// Run's Direct VPC egress instance quota, per project and region, whose limits the emulator's
// world holds (world.DirectVPCQuotaLocked; the control surface sets them).
//
// The metric's name: Google documents the quota (Cloud Run docs, "Direct VPC egress with a VPC
// network", Limitations: "A Cloud Run usage quota limits the maximum number of instances you
// can configure to use Direct VPC egress") but publishes no metric name for it. The emulator
// names it run.googleapis.com/direct_vpc_egress_instances, following the shape of Service
// Usage metric names (SERVICE/snake_case_name, e.g. compute.googleapis.com/cpus) and limit
// names (/project/region for a regional per-project limit, unit 1/{project}/{region}). A client
// should find it by its display name or metric suffix rather than hard-code it.
package serviceusageapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	serviceusage "google.golang.org/api/serviceusage/v1beta1"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// The modelled quota.
const (
	RunService         = "run.googleapis.com"
	DirectVPCMetric    = "run.googleapis.com/direct_vpc_egress_instances"
	DirectVPCDisplay   = "Direct VPC egress instances"
	DirectVPCLimitID   = "/project/region"
	DirectVPCLimitUnit = "1/{project}/{region}"
	DirectVPCLimitName = "Direct VPC egress instances per project per region"
)

// Pattern is the ServeMux pattern the handler serves.
const Pattern = "/v1beta1/projects/{project}/services/"

// New returns the handler for Pattern.
func New(w *world.World) http.Handler { return &server{w: w} }

type server struct{ w *world.World }

// apiError writes Google's JSON error (AIP-193): {"error":{"code","message","status"}}.
func apiError(rw http.ResponseWriter, code int, status, format string, args ...any) {
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error": map[string]any{"code": code, "message": fmt.Sprintf(format, args...), "status": status}})
}

func (s *server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		apiError(rw, http.StatusNotImplemented, "UNIMPLEMENTED", "Method %s %s is not served by this emulator.", r.Method, r.URL.Path)
		return
	}
	// Segments of the escaped path: metric and limit ids carry %2F.
	raw := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	seg := make([]string, len(raw))
	for i, p := range raw {
		// Names the API returns carry %2F; the Go client escapes them once more (%252F).
		v, err := url.PathUnescape(p)
		if err == nil && strings.Contains(v, "%2F") {
			v, err = url.PathUnescape(v)
		}
		if err != nil {
			apiError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Bad path %q.", r.URL.EscapedPath())
			return
		}
		seg[i] = v
	}
	// v1beta1 projects P services S consumerQuotaMetrics [M [limits L]]
	if len(seg) < 6 || seg[5] != "consumerQuotaMetrics" || (len(seg) != 6 && len(seg) != 7 && len(seg) != 9) || (len(seg) == 9 && seg[7] != "limits") {
		apiError(rw, http.StatusNotFound, "NOT_FOUND", "The requested URL %s was not found on this server.", r.URL.Path)
		return
	}
	method := map[int]string{6: "serviceusage.services.consumerQuotaMetrics.list", 7: "serviceusage.services.consumerQuotaMetrics.get", 9: "serviceusage.services.consumerQuotaMetrics.limits.get"}[len(seg)]
	hit, err := s.w.Admit(r.Context(), method)
	if err != nil {
		apiError(rw, 499, "CANCELLED", "The request was cancelled.")
		return
	}
	if hit != nil {
		apiError(rw, httpStatus(hit.Code), world.CodeName(hit.Code), "%s", hit.Message)
		return
	}
	project, service := seg[2], seg[4]
	view := r.URL.Query().Get("view")
	if view == "" {
		view = "BASIC"
	}
	if view != "BASIC" && view != "FULL" {
		apiError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid value at 'view' (type.googleapis.com/google.api.serviceusage.v1beta1.QuotaView), %q", view)
		return
	}
	s.w.Lock()
	metrics := s.metricsLocked(project, service, view == "FULL")
	s.w.Unlock()
	switch len(seg) {
	case 6:
		s.list(rw, r, metrics)
	case 7:
		for _, m := range metrics {
			if m.Metric == seg[6] {
				writeJSON(rw, m)
				return
			}
		}
		apiError(rw, http.StatusNotFound, "NOT_FOUND", "Metric %s not found for service %s.", seg[6], service)
	default:
		for _, m := range metrics {
			if m.Metric != seg[6] {
				continue
			}
			for _, l := range m.ConsumerQuotaLimits {
				if strings.HasSuffix(l.Name, "/limits/"+url.PathEscape(seg[8])) {
					writeJSON(rw, l)
					return
				}
			}
		}
		apiError(rw, http.StatusNotFound, "NOT_FOUND", "Limit %s of metric %s not found for service %s.", seg[8], seg[6], service)
	}
}

func (s *server) list(rw http.ResponseWriter, r *http.Request, metrics []*serviceusage.ConsumerQuotaMetric) {
	q := r.URL.Query()
	size := len(metrics)
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			apiError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid value at 'page_size' (TYPE_INT32), %q", v)
			return
		}
		if n > 0 {
			size = n
		}
	}
	offset := 0
	if v := q.Get("pageToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(metrics) {
			apiError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid page token %q.", v)
			return
		}
		offset = n
	}
	end := min(offset+size, len(metrics))
	out := &serviceusage.ListConsumerQuotaMetricsResponse{Metrics: metrics[offset:end]}
	if end < len(metrics) {
		out.NextPageToken = strconv.Itoa(end)
	}
	writeJSON(rw, out)
}

// httpStatus is the HTTP status of a gRPC code (Google API error model, "HTTP mapping").
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Canceled:
		return 499
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(rw).Encode(v)
}

// projectID resolves a project id or number to the id the world keys quotas by: a number is
// matched against the projects the world knows (services, networks, quotas).
func projectIDLocked(w *world.World, p string) string {
	if _, err := strconv.ParseUint(p, 10, 64); err != nil {
		return p
	}
	seen := map[string]bool{}
	for k := range w.S.Net.Quotas {
		seen[strings.Split(k, "/")[0]] = true
	}
	for k := range w.S.Networks {
		seen[strings.Split(k, "/")[0]] = true
	}
	for k := range w.S.Services {
		seen[strings.Split(k, "/")[1]] = true
	}
	for id := range seen {
		if strconv.FormatUint(world.ProjectNumber(id), 10) == p {
			return id
		}
	}
	return p
}

// metricsLocked builds the consumer quota metrics of a service for a project. Quota buckets
// (Service Usage docs, QuotaView): BASIC shows the default bucket and buckets with overrides;
// FULL adds a bucket for every region. A limit set for a region shows as a consumer override.
func (s *server) metricsLocked(project, service string, full bool) []*serviceusage.ConsumerQuotaMetric {
	if service != RunService {
		return []*serviceusage.ConsumerQuotaMetric{}
	}
	id := projectIDLocked(s.w, project)
	num := strconv.FormatUint(world.ProjectNumber(id), 10)
	base := "projects/" + num + "/services/" + service + "/consumerQuotaMetrics/" + url.PathEscape(DirectVPCMetric)
	limitName := base + "/limits/" + url.PathEscape(DirectVPCLimitID)
	buckets := []*serviceusage.QuotaBucket{{EffectiveLimit: world.DefaultDirectVPCQuota, DefaultLimit: world.DefaultDirectVPCQuota}}
	for _, region := range world.RegionNames() {
		v, set := s.w.S.Net.Quotas[id+"/"+region]
		if !set && !full {
			continue
		}
		b := &serviceusage.QuotaBucket{EffectiveLimit: s.w.DirectVPCQuotaLocked(id, region), DefaultLimit: world.DefaultDirectVPCQuota, Dimensions: map[string]string{"region": region}}
		if set {
			b.ConsumerOverride = &serviceusage.QuotaOverride{
				Name:          limitName + "/consumerOverrides/" + region,
				OverrideValue: v, Dimensions: map[string]string{"region": region}, Metric: DirectVPCMetric, Unit: DirectVPCLimitUnit,
				ForceSendFields: []string{"OverrideValue"},
			}
		}
		b.ForceSendFields = []string{"EffectiveLimit", "DefaultLimit"}
		buckets = append(buckets, b)
	}
	buckets[0].ForceSendFields = []string{"EffectiveLimit", "DefaultLimit"}
	return []*serviceusage.ConsumerQuotaMetric{{
		Name: base, Metric: DirectVPCMetric, DisplayName: DirectVPCDisplay, Unit: "1",
		ConsumerQuotaLimits: []*serviceusage.ConsumerQuotaLimit{{
			Name: limitName, Metric: DirectVPCMetric, Unit: DirectVPCLimitUnit, IsPrecise: true, AllowsAdminOverrides: true,
			QuotaBuckets: buckets,
		}},
	}}
}
