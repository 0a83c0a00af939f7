// Package knativeapi serves the part of Cloud Run's Knative-style API (serving.knative.dev/v1
// Services, under /apis/serving.knative.dev/v1/namespaces/PROJECT/services) that `gcloud run
// services list|describe|update` uses, enough for the VPC flags (--vpc-connector,
// --vpc-egress, --network, --subnet, --clear-vpc-connector, --clear-network).
//
// It holds no state: every call is translated onto the emulator's Run Admin API v2 (through a
// gRPC connection to it, so faults, latency and call counts apply under the v2 method names:
// ListServices, GetService, UpdateService), and each v2 Service is written back in the v1 form,
// with the VPC settings in the revision template's annotations as Cloud Run v1 has them:
//
//	run.googleapis.com/vpc-access-connector   the connector
//	run.googleapis.com/vpc-access-egress      all-traffic | private-ranges-only
//	run.googleapis.com/network-interfaces     [{"network":"N","subnetwork":"S","tags":[...]}]
//
// A replaceService (PUT) takes from the request the VPC annotations, the revision name and
// the client annotations; everything else stays as the v2 service has it. Requests on a
// regional host (REGION-HOST, as gcloud derives from its endpoint override) act in that region;
// a list on any other host lists every region.
package knativeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/restgw"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Prefix is where the API is served.
const Prefix = "/apis/serving.knative.dev/v1/namespaces/"

// Annotations Cloud Run v1 uses (Cloud Run docs, "Configure Serverless VPC Access" and "Direct
// VPC egress", YAML tabs).
const (
	annConnector   = "run.googleapis.com/vpc-access-connector"
	annEgress      = "run.googleapis.com/vpc-access-egress"
	annInterfaces  = "run.googleapis.com/network-interfaces"
	annMaxScale    = "autoscaling.knative.dev/maxScale"
	annMinScale    = "autoscaling.knative.dev/minScale"
	annClientName  = "run.googleapis.com/client-name"
	annClientVer   = "run.googleapis.com/client-version"
	annIngress     = "run.googleapis.com/ingress"
	annIngressStat = "run.googleapis.com/ingress-status"
	annCreator     = "serving.knative.dev/creator"
	annModifier    = "serving.knative.dev/lastModifier"
	labelLocation  = "cloud.googleapis.com/location"
)

const maxBodyBytes = 1 << 20

type handler struct {
	svc  runpb.ServicesClient
	revs runpb.RevisionsClient
}

// New returns the handler for every path under Prefix; conn reaches the Run v2 gRPC API.
func New(conn grpc.ClientConnInterface) http.Handler {
	return &handler{svc: runpb.NewServicesClient(conn), revs: runpb.NewRevisionsClient(conn)}
}

// regionOfHost returns the region a regional host names (asia-northeast1-run.googleapis.com,
// asia-northeast1-127.0.0.1:8080), or "".
func regionOfHost(host string) string {
	for _, r := range world.RegionNames() {
		if strings.HasPrefix(host, r+"-") {
			return r
		}
	}
	return ""
}

// ListPattern is the other path gcloud lists services on, for every region at once
// (location "-"): Cloud Run v1's projects.locations.services.list, which answers the same
// Knative ServiceList.
const ListPattern = "GET /v1/projects/{project}/locations/{location}/services"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var parts []string
	var region string
	if p := r.PathValue("project"); p != "" {
		parts = []string{p, "services"}
		if region = r.PathValue("location"); region == "-" {
			region = ""
		}
	} else {
		rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
		parts = strings.Split(rest, "/")
		if !ok || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || (parts[1] != "services" && !(parts[1] == "revisions" && len(parts) == 3)) {
			restgw.WriteError(w, codes.NotFound, fmt.Sprintf("The requested URL %s was not found on this server. The Knative-style API serves only %[2]sPROJECT/services[/NAME] and %[2]sPROJECT/revisions/NAME.", r.URL.Path, Prefix))
			return
		}
		region = regionOfHost(r.Host)
	}
	project := parts[0]
	md := metadata.MD{}
	if a := r.Header.Get("Authorization"); a != "" {
		md.Set("authorization", a)
	}
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	var out any
	var err error
	switch {
	case len(parts) == 2 && r.Method == http.MethodGet:
		out, err = h.list(ctx, project, region)
	case parts[1] == "revisions" && r.Method == http.MethodGet:
		out, err = h.getRevision(ctx, project, region, parts[2])
	case len(parts) == 3 && r.Method == http.MethodGet:
		out, err = h.get(ctx, project, region, parts[2])
	case len(parts) == 3 && r.Method == http.MethodPut:
		out, err = h.replace(ctx, r, project, region, parts[2])
	default:
		restgw.WriteError(w, codes.NotFound, fmt.Sprintf("%s %s is not served: the Knative-style API serves list, get and replace of services, and get of revisions.", r.Method, r.URL.Path))
		return
	}
	if err != nil {
		restgw.WriteStatus(w, status.Convert(err))
		return
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		restgw.WriteError(w, codes.Internal, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

func needRegion(region string) error {
	if region == "" {
		return status.Error(codes.InvalidArgument, "This call needs a regional endpoint (REGION-run.googleapis.com): the service's region is not known.")
	}
	return nil
}

func (h *handler) list(ctx context.Context, project, region string) (any, error) {
	regions := []string{region}
	if region == "" {
		regions = world.RegionNames()
	}
	out := serviceList{APIVersion: "serving.knative.dev/v1", Kind: "ServiceList", Items: []service{},
		Metadata: listMeta{SelfLink: Prefix + project + "/services"}}
	for _, reg := range regions {
		req := &runpb.ListServicesRequest{Parent: "projects/" + project + "/locations/" + reg}
		for {
			resp, err := h.svc.ListServices(ctx, req)
			if err != nil {
				return nil, err
			}
			for _, s := range resp.GetServices() {
				out.Items = append(out.Items, toKnative(s))
			}
			if resp.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	return out, nil
}

func v2Name(project, region, name string) string {
	return "projects/" + project + "/locations/" + region + "/services/" + name
}

func (h *handler) get(ctx context.Context, project, region, name string) (any, error) {
	if err := needRegion(region); err != nil {
		return nil, err
	}
	s, err := h.svc.GetService(ctx, &runpb.GetServiceRequest{Name: v2Name(project, region, name)})
	if err != nil {
		return nil, err
	}
	return toKnative(s), nil
}

// replace applies a replaceService: the VPC annotations, revision name and client annotations
// of the request's template go onto the v2 service, which is updated; the answer is the
// service as the update left it (a new generation, reconciling).
func (h *handler) replace(ctx context.Context, r *http.Request, project, region, name string) (any, error) {
	if err := needRegion(region); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Could not read the request body: %v", err)
	}
	var in service
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid JSON payload received. %v", err)
	}
	if in.Metadata.Name != "" && in.Metadata.Name != name {
		return nil, status.Errorf(codes.InvalidArgument, "metadata.name %q does not match the service %q in the path.", in.Metadata.Name, name)
	}
	cur, err := h.svc.GetService(ctx, &runpb.GetServiceRequest{Name: v2Name(project, region, name)})
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(cur).(*runpb.Service)
	if upd.Template == nil {
		upd.Template = &runpb.RevisionTemplate{}
	}
	ann := in.Spec.Template.Metadata.Annotations
	va, err := vpcAccessOf(ann, project, region)
	if err != nil {
		return nil, err
	}
	upd.Template.VpcAccess = va
	upd.Template.Revision = in.Spec.Template.Metadata.Name
	upd.Template.Client, upd.Template.ClientVersion = ann[annClientName], ann[annClientVer]
	op, err := h.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: upd})
	if err != nil {
		return nil, err
	}
	after := &runpb.Service{}
	if err := op.GetMetadata().UnmarshalTo(after); err != nil {
		return nil, status.Errorf(codes.Internal, "operation metadata: %v", err)
	}
	return toKnative(after), nil
}

// vpcAccessOf reads the v2 VPC access settings from v1 template annotations.
func vpcAccessOf(ann map[string]string, project, region string) (*runpb.VpcAccess, error) {
	conn, nis := ann[annConnector], ann[annInterfaces]
	if conn == "" && nis == "" {
		return nil, nil
	}
	va := &runpb.VpcAccess{}
	switch e := ann[annEgress]; e {
	case "all-traffic":
		va.Egress = runpb.VpcAccess_ALL_TRAFFIC
	case "private-ranges-only", "":
		va.Egress = runpb.VpcAccess_PRIVATE_RANGES_ONLY
	default:
		return nil, status.Errorf(codes.InvalidArgument, "metadata.annotations[%s]: %q is not all-traffic or private-ranges-only.", annEgress, e)
	}
	if conn != "" {
		if !strings.Contains(conn, "/") {
			conn = "projects/" + project + "/locations/" + region + "/connectors/" + conn
		}
		va.Connector = conn
	}
	if nis != "" {
		var list []struct {
			Network    string   `json:"network"`
			Subnetwork string   `json:"subnetwork"`
			Tags       []string `json:"tags"`
		}
		if err := json.Unmarshal([]byte(nis), &list); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "metadata.annotations[%s]: not a JSON list of network interfaces: %v", annInterfaces, err)
		}
		for _, ni := range list {
			va.NetworkInterfaces = append(va.NetworkInterfaces, &runpb.VpcAccess_NetworkInterface{Network: ni.Network, Subnetwork: ni.Subnetwork, Tags: ni.Tags})
		}
	}
	return va, nil
}

// The v1 resource, as far as the emulator fills it.

type service struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   objectMeta  `json:"metadata"`
	Spec       serviceSpec `json:"spec"`
	Status     *svcStatus  `json:"status,omitempty"`
}

type objectMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	SelfLink          string            `json:"selfLink,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
}

type serviceSpec struct {
	Template revisionTemplate `json:"template"`
	Traffic  []traffic        `json:"traffic,omitempty"`
}

type revisionTemplate struct {
	Metadata objectMeta   `json:"metadata"`
	Spec     revisionSpec `json:"spec"`
}

type revisionSpec struct {
	ContainerConcurrency int32       `json:"containerConcurrency,omitempty"`
	TimeoutSeconds       int64       `json:"timeoutSeconds,omitempty"`
	ServiceAccountName   string      `json:"serviceAccountName,omitempty"`
	Containers           []container `json:"containers"`
}

type container struct {
	Name      string          `json:"name,omitempty"`
	Image     string          `json:"image"`
	Command   []string        `json:"command,omitempty"`
	Args      []string        `json:"args,omitempty"`
	Env       []envVar        `json:"env,omitempty"`
	Resources *resources      `json:"resources,omitempty"`
	Ports     []containerPort `json:"ports,omitempty"`
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

type resources struct {
	Limits map[string]string `json:"limits,omitempty"`
}

type containerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
}

type traffic struct {
	RevisionName   string `json:"revisionName,omitempty"`
	Percent        int32  `json:"percent,omitempty"`
	LatestRevision bool   `json:"latestRevision,omitempty"`
	Tag            string `json:"tag,omitempty"`
	URL            string `json:"url,omitempty"`
}

type svcStatus struct {
	ObservedGeneration        int64       `json:"observedGeneration,omitempty"`
	Conditions                []condition `json:"conditions,omitempty"`
	LatestReadyRevisionName   string      `json:"latestReadyRevisionName,omitempty"`
	LatestCreatedRevisionName string      `json:"latestCreatedRevisionName,omitempty"`
	Traffic                   []traffic   `json:"traffic,omitempty"`
	URL                       string      `json:"url,omitempty"`
	Address                   *address    `json:"address,omitempty"`
}

type condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Severity           string `json:"severity,omitempty"`
}

type address struct {
	URL string `json:"url"`
}

type serviceList struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   listMeta  `json:"metadata"`
	Items      []service `json:"items"`
}

type listMeta struct {
	SelfLink string `json:"selfLink,omitempty"`
}

// ingressNames are the v1 ingress annotation values of the v2 enum.
var ingressNames = map[runpb.IngressTraffic]string{
	runpb.IngressTraffic_INGRESS_TRAFFIC_ALL:                    "all",
	runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY:          "internal",
	runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER: "internal-and-cloud-load-balancing",
	runpb.IngressTraffic_INGRESS_TRAFFIC_NONE:                   "none",
}

func rfc3339(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339Nano)
}

func conditionStatus(s runpb.Condition_State) string {
	switch s {
	case runpb.Condition_CONDITION_SUCCEEDED:
		return "True"
	case runpb.Condition_CONDITION_FAILED:
		return "False"
	}
	return "Unknown"
}

func toCondition(typ string, c *runpb.Condition) condition {
	out := condition{Type: typ, Status: conditionStatus(c.GetState()), Message: c.GetMessage(), LastTransitionTime: rfc3339(c.GetLastTransitionTime())}
	if c.GetSeverity() == runpb.Condition_INFO {
		out.Severity = "Info"
	}
	return out
}

// toKnative writes a v2 service in the v1 form.
func toKnative(s *runpb.Service) service {
	parts := strings.Split(s.GetName(), "/") // projects/P/locations/L/services/S
	project, region, name := parts[1], parts[3], parts[5]
	// The real API names the namespace by project number; the emulator keeps the project id,
	// which clients (gcloud reads it back for later calls) send as it came.
	ns := project
	out := service{APIVersion: "serving.knative.dev/v1", Kind: "Service"}
	out.Metadata = objectMeta{
		Name: name, Namespace: ns, SelfLink: Prefix + ns + "/services/" + name, UID: s.GetUid(),
		ResourceVersion: strings.Trim(s.GetEtag(), `"`), Generation: s.GetGeneration(),
		CreationTimestamp: rfc3339(s.GetCreateTime()),
		Labels:            map[string]string{labelLocation: region},
		Annotations:       map[string]string{},
	}
	for k, v := range s.GetLabels() {
		out.Metadata.Labels[k] = v
	}
	for k, v := range s.GetAnnotations() {
		out.Metadata.Annotations[k] = v
	}
	if s.GetCreator() != "" {
		out.Metadata.Annotations[annCreator] = s.GetCreator()
	}
	if s.GetLastModifier() != "" {
		out.Metadata.Annotations[annModifier] = s.GetLastModifier()
	}
	if in, ok := ingressNames[s.GetIngress()]; ok {
		out.Metadata.Annotations[annIngress] = in
		out.Metadata.Annotations[annIngressStat] = in
	}

	t := s.GetTemplate()
	tm := objectMeta{Labels: t.GetLabels(), Annotations: map[string]string{}}
	if t.GetRevision() != "" {
		tm.Name = t.GetRevision()
	}
	for k, v := range t.GetAnnotations() {
		tm.Annotations[k] = v
	}
	if n := t.GetScaling().GetMaxInstanceCount(); n > 0 {
		tm.Annotations[annMaxScale] = strconv.Itoa(int(n))
	}
	if n := t.GetScaling().GetMinInstanceCount(); n > 0 {
		tm.Annotations[annMinScale] = strconv.Itoa(int(n))
	}
	if t.GetClient() != "" {
		tm.Annotations[annClientName] = t.GetClient()
	}
	if t.GetClientVersion() != "" {
		tm.Annotations[annClientVer] = t.GetClientVersion()
	}
	if va := t.GetVpcAccess(); va != nil {
		if va.GetConnector() != "" {
			tm.Annotations[annConnector] = va.GetConnector()
		}
		if nis := va.GetNetworkInterfaces(); len(nis) > 0 {
			type ni struct {
				Network    string   `json:"network,omitempty"`
				Subnetwork string   `json:"subnetwork,omitempty"`
				Tags       []string `json:"tags,omitempty"`
			}
			var list []ni
			for _, n := range nis {
				list = append(list, ni{n.GetNetwork(), n.GetSubnetwork(), n.GetTags()})
			}
			b, _ := json.Marshal(list)
			tm.Annotations[annInterfaces] = string(b)
		}
		switch va.GetEgress() {
		case runpb.VpcAccess_ALL_TRAFFIC:
			tm.Annotations[annEgress] = "all-traffic"
		case runpb.VpcAccess_PRIVATE_RANGES_ONLY:
			tm.Annotations[annEgress] = "private-ranges-only"
		}
	}
	rs := revisionSpec{
		ContainerConcurrency: t.GetMaxInstanceRequestConcurrency(),
		TimeoutSeconds:       t.GetTimeout().GetSeconds(),
		ServiceAccountName:   t.GetServiceAccount(),
		Containers:           []container{},
	}
	for _, c := range t.GetContainers() {
		kc := container{Name: c.GetName(), Image: c.GetImage(), Command: c.GetCommand(), Args: c.GetArgs()}
		for _, e := range c.GetEnv() {
			kc.Env = append(kc.Env, envVar{Name: e.GetName(), Value: e.GetValue()})
		}
		if l := c.GetResources().GetLimits(); len(l) > 0 {
			kc.Resources = &resources{Limits: l}
		}
		for _, p := range c.GetPorts() {
			kc.Ports = append(kc.Ports, containerPort{Name: p.GetName(), ContainerPort: p.GetContainerPort()})
		}
		rs.Containers = append(rs.Containers, kc)
	}
	out.Spec.Template = revisionTemplate{Metadata: tm, Spec: rs}
	for _, tt := range s.GetTraffic() {
		out.Spec.Traffic = append(out.Spec.Traffic, toTraffic(tt.GetType(), tt.GetRevision(), tt.GetPercent(), tt.GetTag(), ""))
	}

	st := &svcStatus{
		ObservedGeneration:        s.GetObservedGeneration(),
		LatestReadyRevisionName:   lastSegment(s.GetLatestReadyRevision()),
		LatestCreatedRevisionName: lastSegment(s.GetLatestCreatedRevision()),
		URL:                       s.GetUri(),
	}
	if s.GetUri() != "" {
		st.Address = &address{URL: s.GetUri()}
	}
	if tc := s.GetTerminalCondition(); tc != nil {
		st.Conditions = append(st.Conditions, toCondition("Ready", tc))
	}
	for _, c := range s.GetConditions() {
		st.Conditions = append(st.Conditions, toCondition(c.GetType(), c))
	}
	for _, ts := range s.GetTrafficStatuses() {
		st.Traffic = append(st.Traffic, toTraffic(ts.GetType(), ts.GetRevision(), ts.GetPercent(), ts.GetTag(), ts.GetUri()))
	}
	out.Status = st
	return out
}

func toTraffic(typ runpb.TrafficTargetAllocationType, revision string, percent int32, tag, url string) traffic {
	t := traffic{Percent: percent, Tag: tag, URL: url}
	if typ == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
		t.LatestRevision = true
	}
	t.RevisionName = lastSegment(revision)
	return t
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
