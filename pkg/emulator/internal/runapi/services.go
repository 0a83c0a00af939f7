package runapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Defaults Cloud Run fills in a service, as the real Service JSON in
// realapi/run/service-v2-crud-real.vcr.yaml shows them.
const (
	defaultCPU             = "1000m"
	defaultMemory          = "512Mi"
	defaultPortName        = "http1"
	defaultPort            = 8080
	defaultProbeSeconds    = 240 // startupProbe timeoutSeconds and periodSeconds
	defaultProbeFailures   = 1   // startupProbe failureThreshold
	defaultRequestTimeout  = 300 * time.Second
	defaultConcurrency     = 80 // maxInstanceRequestConcurrency
	deletedServiceOpReason = "The service was deleted before the operation completed."
)

type servicesServer struct {
	runpb.UnimplementedServicesServer
	w   *world.World
	iam *iamStore
}

// serviceOwner is a service seen as an owner of revisions; traffic is its split.
type serviceOwner struct {
	l loc
	s *runpb.Service
}

func (o *serviceOwner) msg() proto.Message     { return o.s }
func (o *serviceOwner) kind() string           { return kindService }
func (o *serviceOwner) where() loc             { return o.l }
func (o *serviceOwner) id() string             { return lastSegment(o.s.Name) }
func (o *serviceOwner) status() statusRef      { return serviceStatus(o.s) }
func (o *serviceOwner) latestReady() *string   { return &o.s.LatestReadyRevision }
func (o *serviceOwner) latestCreated() *string { return &o.s.LatestCreatedRevision }
func (o *serviceOwner) specSplits() []split    { return trafficSplits(o.s.Traffic) }
func (o *serviceOwner) statusSplits() []split  { return trafficStatusSplits(o.s.TrafficStatuses) }
func (o *serviceOwner) setStatusSplits(ss []split) {
	out := make([]*runpb.TrafficTargetStatus, 0, len(ss))
	for _, s := range ss {
		t := &runpb.TrafficTargetStatus{Percent: s.percent, Tag: s.tag, Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST}
		if !s.latest {
			t.Type, t.Revision = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, s.revision
		}
		if s.tag != "" {
			t.Uri = serviceURI(o.l, o.id(), s.tag)
		}
		out = append(out, t)
	}
	o.s.TrafficStatuses = out
}

// A service revision runs its minimum instance count, and at least one, while it has traffic.
func (o *serviceOwner) servingInstances(rev *runpb.Revision, _ int32) int {
	return o.startupInstances(rev)
}

func (o *serviceOwner) startupInstances(rev *runpb.Revision) int {
	return max(1, int(rev.GetScaling().GetMinInstanceCount()))
}

// validateContainers checks what Cloud Run requires of containers: at least one, each with an
// image, and at most one port each ("ports should contain 0 or 1 port.", quoted in
// GoogleCloudPlatform/magic-modules#10173).
func validateContainers(field string, cs []*runpb.Container) error {
	if len(cs) == 0 {
		return errViolation(field, "required field not present.")
	}
	for i, c := range cs {
		if c.GetImage() == "" {
			return errViolation(fmt.Sprintf("%s[%d].image", field, i), "required field not present.")
		}
		if len(c.GetPorts()) > 1 {
			return errViolation(fmt.Sprintf("%s[%d].ports", field, i), "ports should contain 0 or 1 port.")
		}
	}
	return nil
}

// defaultContainers fills each container's resource limits (and, for services, CPU only
// during requests, the ingress container's port and its TCP startup probe).
func defaultContainers(cs []*runpb.Container, service bool) {
	for _, c := range cs {
		if c.Resources == nil {
			c.Resources = &runpb.ResourceRequirements{CpuIdle: service}
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = map[string]string{}
		}
		if _, ok := c.Resources.Limits["cpu"]; !ok {
			c.Resources.Limits["cpu"] = defaultCPU
		}
		if _, ok := c.Resources.Limits["memory"]; !ok {
			c.Resources.Limits["memory"] = defaultMemory
		}
	}
	if !service || len(cs) == 0 {
		return
	}
	ingress := cs[0]
	for _, c := range cs {
		if len(c.Ports) > 0 {
			ingress = c
			break
		}
	}
	if len(ingress.Ports) == 0 {
		ingress.Ports = []*runpb.ContainerPort{{}}
	}
	p := ingress.Ports[0]
	if p.Name == "" {
		p.Name = defaultPortName
	}
	if p.ContainerPort == 0 {
		p.ContainerPort = defaultPort
	}
	if ingress.StartupProbe == nil {
		ingress.StartupProbe = &runpb.Probe{
			TimeoutSeconds: defaultProbeSeconds, PeriodSeconds: defaultProbeSeconds, FailureThreshold: defaultProbeFailures,
			ProbeType: &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: p.ContainerPort}},
		}
	}
}

// normalizeVPCAccess drops an empty vpc_access and fills the default egress
// (PRIVATE_RANGES_ONLY, Cloud Run docs "Direct VPC egress": the default when unset).
func normalizeVPCAccess(va *runpb.VpcAccess) *runpb.VpcAccess {
	if emptyVPCAccess(va) {
		return nil
	}
	if va.Egress == runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED {
		va.Egress = runpb.VpcAccess_PRIVATE_RANGES_ONLY
	}
	return va
}

// validateScaling checks instance counts.
func validateScaling(field string, sc *runpb.RevisionScaling) error {
	if sc == nil {
		return nil
	}
	if sc.MinInstanceCount < 0 {
		return errViolation(field+".min_instance_count", "must not be negative.")
	}
	if sc.MaxInstanceCount < 0 {
		return errViolation(field+".max_instance_count", "must not be negative.")
	}
	if sc.MaxInstanceCount > 0 && sc.MinInstanceCount > sc.MaxInstanceCount {
		return errViolation(field+".min_instance_count", fmt.Sprintf("min_instance_count (%d) must not exceed max_instance_count (%d).", sc.MinInstanceCount, sc.MaxInstanceCount))
	}
	return nil
}

// checkRevisionName checks a requested revision name: it must start with the owner's id and a
// dash and be a valid label.
func checkRevisionName(field, ownerID, r string) error {
	if r != "" && (!strings.HasPrefix(r, ownerID+"-") || len(r) > maxRevisionNameLen || !validLabel(r)) {
		return errViolation(field, revisionNameRule)
	}
	return nil
}

// revisionNameRule is Cloud Run's message for a template.revision that is not prefixed by the
// service name (v1 API field violation, quoted in hashicorp/terraform-provider-google#6491).
const revisionNameRule = "The revision name must be prefixed by the name of the enclosing Service or Configuration with a trailing -"

// prepareService validates a service as request req ("CreateServiceRequest",
// "UpdateServiceRequest") carries it and returns a copy with Cloud Run's defaults; stored is
// the current service on updates (nil on creation).
func prepareService(req string, l loc, id string, in, stored *runpb.Service) (*runpb.Service, error) {
	f := req + ".service"
	t := in.GetTemplate()
	if t == nil {
		return nil, errViolation(f+".template", "required field not present.")
	}
	if err := validateContainers(f+".template.containers", t.GetContainers()); err != nil {
		return nil, err
	}
	if err := validateVPCAccess(f+".template.vpc_access", t.GetVpcAccess(), false); err != nil {
		return nil, err
	}
	if err := validateScaling(f+".template.scaling", t.GetScaling()); err != nil {
		return nil, err
	}
	if err := checkReservedKeys(f, in, stored, t, stored.GetTemplate()); err != nil {
		return nil, err
	}
	if err := checkRevisionName(f+".template.revision", id, t.GetRevision()); err != nil {
		return nil, err
	}
	out := proto.Clone(in).(*runpb.Service)
	out.Traffic = normalizeTraffic(out.Traffic)
	if err := validateSplits(f+".traffic", trafficSplits(out.Traffic), true,
		runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST.String(),
		runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION.String()); err != nil {
		return nil, err
	}
	if out.LaunchStage == api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED {
		out.LaunchStage = api.LaunchStage_GA
	}
	if out.Ingress == runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED {
		out.Ingress = runpb.IngressTraffic_INGRESS_TRAFFIC_ALL
	}
	tt := out.Template
	if tt.Timeout == nil {
		tt.Timeout = durationpb.New(defaultRequestTimeout)
	}
	if tt.ServiceAccount == "" {
		tt.ServiceAccount = defaultServiceAccount(l.project)
	}
	if tt.MaxInstanceRequestConcurrency == 0 {
		tt.MaxInstanceRequestConcurrency = defaultConcurrency
	}
	tt.VpcAccess = normalizeVPCAccess(tt.VpcAccess)
	defaultContainers(tt.Containers, true)
	return out, nil
}

// serviceRevisionFill copies a service's template into a revision.
func serviceRevisionFill(svc *runpb.Service) func(*runpb.Revision) {
	t := proto.Clone(svc.GetTemplate()).(*runpb.RevisionTemplate)
	stage := svc.GetLaunchStage()
	return func(r *runpb.Revision) {
		r.Labels, r.Annotations, r.LaunchStage = t.Labels, t.Annotations, stage
		r.Scaling, r.VpcAccess, r.MaxInstanceRequestConcurrency = t.Scaling, t.VpcAccess, t.MaxInstanceRequestConcurrency
		r.Timeout, r.ServiceAccount, r.Containers, r.Volumes = t.Timeout, t.ServiceAccount, t.Containers, t.Volumes
		r.ExecutionEnvironment, r.EncryptionKey, r.ServiceMesh = t.ExecutionEnvironment, t.EncryptionKey, t.ServiceMesh
		r.EncryptionKeyRevocationAction, r.EncryptionKeyShutdownDuration = t.EncryptionKeyRevocationAction, t.EncryptionKeyShutdownDuration
		r.SessionAffinity, r.NodeSelector, r.GpuZonalRedundancyDisabled = t.SessionAffinity, t.NodeSelector, t.GpuZonalRedundancyDisabled
		r.Sandboxes, r.WorkloadIdentityConfig, r.AmbientNetworking = t.Sandboxes, t.WorkloadIdentityConfig, t.AmbientNetworking
		r.Client, r.ClientVersion = t.Client, t.ClientVersion
	}
}

// newService returns a new service named id in l with spec as its desired state, as creation
// shows it: generation 1, reconciling, Ready pending.
func newService(w *world.World, l loc, id string, spec *runpb.Service) *runpb.Service {
	svc := proto.Clone(spec).(*runpb.Service)
	copyFields(svc, &runpb.Service{}, serviceOutputFields)
	now := stamp(w, nil)
	svc.Name = l.parent() + "/services/" + id
	svc.Uid, svc.Generation, svc.CreateTime, svc.UpdateTime = world.NewUUID(), 1, now, now
	svc.Creator, svc.LastModifier = caller, caller
	svc.Etag = etagFor(svc.Name, now)
	svc.Uri, svc.Urls = serviceURI(l, id, ""), serviceURLs(l, id)
	svc.Reconciling = true
	// The creation response's Ready condition has a state and nothing else (vcr cassette).
	svc.TerminalCondition = &runpb.Condition{State: runpb.Condition_CONDITION_PENDING}
	return svc
}

// services is the Service kind: its template changes make revisions, its traffic splits
// requests between them.
var services = &kind[*runpb.Service]{
	name: kindService, collection: "services", message: "Service", field: "service",
	outputOnly: serviceOutputFields,
	store:      func(s *world.State) map[string]*runpb.Service { return s.Services },
	status:     serviceStatus,
	prepare:    prepareService,
	build:      newService,
	revisions: &revisionHooks[*runpb.Service]{
		owner:    func(l loc, s *runpb.Service) owner { return &serviceOwner{l: l, s: s} },
		template: func(s *runpb.Service) revisionTemplate { return s.GetTemplate() },
		fill:     serviceRevisionFill,
	},
	reconcile:      scheduleReconcileLocked,
	removeChildren: removeRevisionsLocked,
}

func (s *servicesServer) CreateService(_ context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	return services.create(s.w, req.GetParent(), req.GetServiceId(), req.GetService(), req.GetValidateOnly())
}

func (s *servicesServer) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	return services.get(s.w, req.GetName())
}

func (s *servicesServer) ListServices(_ context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	page, next, err := services.list(s.w, req)
	if err != nil {
		return nil, err
	}
	return &runpb.ListServicesResponse{Services: page, NextPageToken: next}, nil
}

// UpdateService replaces the service's desired state (or the fields of the update mask). A
// changed template (or force_new_revision) makes a new revision; the operation ends when the
// controller has caught up.
func (s *servicesServer) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	return services.update(s.w, change[*runpb.Service]{
		in: req.GetService(), mask: req.GetUpdateMask(), allowMissing: req.GetAllowMissing(),
		validateOnly: req.GetValidateOnly(), newRevision: req.GetForceNewRevision(),
	})
}

// DeleteService deletes a service and its revisions; their instances stop (their addresses are
// released after the IP release delay).
func (s *servicesServer) DeleteService(_ context.Context, req *runpb.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	return services.delete(s.w, s.iam, req.GetName(), req.GetEtag(), req.GetValidateOnly())
}

func (s *servicesServer) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.getPolicy(ctx, s.w, req.GetResource(), services)
}

func (s *servicesServer) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.setPolicy(ctx, s.w, req, services)
}

func (s *servicesServer) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return s.iam.testPermissions(ctx, s.w, req, services)
}
