package world

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Per-project API enablement, as Service Usage keeps it: every API is enabled in every project
// until it is disabled, and a call of a disabled API addressed to a project fails before it is
// served, whatever the caller may do.

// Service names and the titles Google gives them in its SERVICE_DISABLED errors.
const (
	ServiceRun        = "run.googleapis.com"
	ServiceVPCAccess  = "vpcaccess.googleapis.com"
	ServiceCompute    = "compute.googleapis.com"
	ServiceMonitoring = "monitoring.googleapis.com"
	ServiceAsset      = "cloudasset.googleapis.com"
)

// serviceTitles are the services' titles (the serviceTitle of the ErrorInfo, and the start of
// the message: "Compute Engine API has not been used in project …").
var serviceTitles = map[string]string{
	ServiceRun:                            "Cloud Run Admin API",
	ServiceVPCAccess:                      "Serverless VPC Access API",
	ServiceCompute:                        "Compute Engine API",
	ServiceMonitoring:                     "Cloud Monitoring API",
	ServiceAsset:                          "Cloud Asset API",
	"cloudresourcemanager.googleapis.com": "Cloud Resource Manager API",
	"cloudbilling.googleapis.com":         "Cloud Billing API",
	"serviceusage.googleapis.com":         "Service Usage API",
	"iamcredentials.googleapis.com":       "IAM Service Account Credentials API",
}

// ServiceTitle returns the title of service ("Compute Engine API"); an unknown service's title
// is its name.
func ServiceTitle(service string) string {
	if t, ok := serviceTitles[service]; ok {
		return t
	}
	return service
}

// validServiceName reports whether s reads like a service name (NAME.googleapis.com).
func validServiceName(s string) bool {
	name, ok := strings.CutSuffix(s, ".googleapis.com")
	return ok && name != "" && !strings.ContainsAny(name, "/ ")
}

// SetServiceEnabledLocked enables or disables service in project (an id or a number).
func (w *World) SetServiceEnabledLocked(project, service string, enabled bool) error {
	if !validServiceName(service) {
		return fmt.Errorf("service %q: want a service name such as %s", service, ServiceCompute)
	}
	project = w.ResolveProjectLocked(project)
	if !ValidProjectID(project) {
		return fmt.Errorf("project %q is not a project id", project)
	}
	d := w.S.Dir
	if enabled {
		if !d.DisabledServices[project][service] {
			return nil
		}
		delete(d.DisabledServices[project], service)
		if len(d.DisabledServices[project]) == 0 {
			delete(d.DisabledServices, project)
		}
	} else {
		if d.DisabledServices[project][service] {
			return nil
		}
		if d.DisabledServices[project] == nil {
			d.DisabledServices[project] = map[string]bool{}
		}
		d.DisabledServices[project][service] = true
	}
	w.MarkChangedLocked()
	return nil
}

// ServiceEnabledLocked reports whether service is enabled in project (an id or a number).
func (w *World) ServiceEnabledLocked(project, service string) bool {
	if len(w.S.Dir.DisabledServices) == 0 {
		return true
	}
	return !w.S.Dir.DisabledServices[w.ResolveProjectLocked(project)][service]
}

// DisabledServicesLocked returns, sorted, the services disabled in project.
func (w *World) DisabledServicesLocked(project string) []string {
	var out []string
	for s := range w.S.Dir.DisabledServices[w.ResolveProjectLocked(project)] {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ServiceDisabled describes the refusal of a call of a disabled API: what the gRPC status and
// the JSON error body of Google's front end carry.
type ServiceDisabled struct {
	Service string // compute.googleapis.com
	Title   string // Compute Engine API
	Number  string // the consumer project's number
	Message string
	URL     string // the activation URL
}

// ServiceDisabledLocked returns the refusal of a call of service addressed to project when
// service is disabled there, else nil.
func (w *World) ServiceDisabledLocked(project, service string) *ServiceDisabled {
	if project == "" || w.ServiceEnabledLocked(project, service) {
		return nil
	}
	return NewServiceDisabled(w.ResolveProjectLocked(project), service)
}

// NewServiceDisabled builds the refusal of service in project (an id).
//
// The shape is Google's front end's, as public 403 bodies of disabled APIs show it (e.g. those
// quoted in hashicorp/terraform#19912, nccgroup/ScoutSuite#30 and the Google API client
// issue trackers; the newer ones carry serviceTitle, containerInfo and activationUrl in the
// ErrorInfo, then a LocalizedMessage and a Help link):
//
//	message "<Title> has not been used in project <NUMBER> before or it is disabled. Enable it
//	by visiting https://console.developers.google.com/apis/api/<svc>/overview?project=<NUMBER>
//	then retry. If you enabled this API recently, wait a few minutes for the action to
//	propagate to our systems and retry."
//	status PERMISSION_DENIED (HTTP 403)
//	details google.rpc.ErrorInfo{reason: SERVICE_DISABLED, domain: googleapis.com, metadata:
//	  {service, consumer: projects/NUMBER, serviceTitle, containerInfo: NUMBER, activationUrl}},
//	  google.rpc.LocalizedMessage{locale: en-US, message}, google.rpc.Help{links:
//	  [{description: "Google developers console API activation", url}]}
//
// Over REST the apiary-style APIs (Compute) add errors: [{message, domain: usageLimits,
// reason: accessNotConfigured, extendedHelp: https://console.developers.google.com}].
func NewServiceDisabled(project, service string) *ServiceDisabled {
	num := strconv.FormatUint(ProjectNumber(project), 10)
	title := ServiceTitle(service)
	url := "https://console.developers.google.com/apis/api/" + service + "/overview?project=" + num
	return &ServiceDisabled{
		Service: service, Title: title, Number: num, URL: url,
		Message: title + " has not been used in project " + num + " before or it is disabled. Enable it by visiting " + url +
			" then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
	}
}

// ErrorInfo is the refusal's google.rpc.ErrorInfo.
func (d *ServiceDisabled) ErrorInfo() *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{
		Reason: "SERVICE_DISABLED", Domain: "googleapis.com",
		Metadata: map[string]string{
			"service": d.Service, "consumer": "projects/" + d.Number, "serviceTitle": d.Title,
			"containerInfo": d.Number, "activationUrl": d.URL,
		},
	}
}

// Status is the refusal as a gRPC status: PERMISSION_DENIED with the details above.
func (d *ServiceDisabled) Status() *status.Status {
	st := status.New(codes.PermissionDenied, d.Message)
	withDetails, err := st.WithDetails(d.ErrorInfo(),
		&errdetails.LocalizedMessage{Locale: "en-US", Message: d.Message},
		&errdetails.Help{Links: []*errdetails.Help_Link{{Description: "Google developers console API activation", Url: d.URL}}})
	if err != nil {
		return st
	}
	return withDetails
}

// JSON is the refusal as the JSON error body of an apiary-style REST API (Compute).
func (d *ServiceDisabled) JSON() map[string]any {
	ei := d.ErrorInfo()
	return map[string]any{"error": map[string]any{
		"code":    403,
		"message": d.Message,
		"errors": []any{map[string]any{
			"message": d.Message, "domain": "usageLimits", "reason": "accessNotConfigured",
			"extendedHelp": "https://console.developers.google.com",
		}},
		"status": "PERMISSION_DENIED",
		"details": []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": ei.Reason, "domain": ei.Domain, "metadata": ei.Metadata},
			map[string]any{"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": d.Message},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{
				map[string]any{"description": "Google developers console API activation", "url": d.URL}}},
		},
	}}
}

// grpcServices maps the gRPC package of a method to the service it belongs to.
// google.longrunning.Operations belongs to the API whose operation it names (below);
// google.cloud.location.Locations, which Run and VPC Access share on one address, to none.
var grpcServices = []struct{ prefix, service string }{
	{"google.cloud.run.v2.", ServiceRun},
	{"google.cloud.vpcaccess.v1.", ServiceVPCAccess},
	{"google.monitoring.v3.", ServiceMonitoring},
	{"google.cloud.asset.v1.", ServiceAsset},
}

// grpcServiceDisabledLocked returns the refusal of a gRPC call (full method without its
// leading slash) when the API it belongs to is disabled in the project its request names.
func (w *World) grpcServiceDisabledLocked(method string, req any) *ServiceDisabled {
	if len(w.S.Dir.DisabledServices) == 0 {
		return nil
	}
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	name := requestResource(m.ProtoReflect())
	project := projectOfName(name)
	if project == "" {
		return nil
	}
	service := ""
	for _, s := range grpcServices {
		if strings.HasPrefix(method, s.prefix) {
			service = s.service
			break
		}
	}
	if strings.HasPrefix(method, "google.longrunning.Operations/") {
		if op, ok := w.S.Operations[name]; ok {
			switch t := op.GetMetadata().GetTypeUrl(); {
			case strings.Contains(t, "google.cloud.run."):
				service = ServiceRun
			case strings.Contains(t, "google.cloud.vpcaccess."):
				service = ServiceVPCAccess
			}
		}
	}
	if service == "" {
		return nil
	}
	return w.ServiceDisabledLocked(project, service)
}

// resourceFields are the request fields that name what a call addresses, in the order they
// are looked for; a message field (UpdateServiceRequest.service) is looked into for its name.
var resourceFields = []protoreflect.Name{"name", "parent", "resource", "scope"}

// requestResource returns the resource name a request addresses ("" when none is found).
func requestResource(m protoreflect.Message) string {
	fields := m.Descriptor().Fields()
	for _, n := range resourceFields {
		if f := fields.ByName(n); f != nil && f.Kind() == protoreflect.StringKind && f.Cardinality() != protoreflect.Repeated {
			if s := m.Get(f).String(); s != "" {
				return s
			}
		}
	}
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() != protoreflect.MessageKind || f.Cardinality() == protoreflect.Repeated || !m.Has(f) {
			continue
		}
		sub := m.Get(f).Message()
		if nf := sub.Descriptor().Fields().ByName("name"); nf != nil && nf.Kind() == protoreflect.StringKind {
			if s := sub.Get(nf).String(); strings.HasPrefix(s, "projects/") {
				return s
			}
		}
	}
	return ""
}

// projectOfName returns P of a resource name "projects/P/…" ("" for any other name).
func projectOfName(name string) string {
	rest, ok := strings.CutPrefix(name, "projects/")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}
