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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	for _, c := range []struct {
		field     string
		m, stored map[string]string
	}{
		{f + ".labels", in.GetLabels(), stored.GetLabels()},
		{f + ".annotations", in.GetAnnotations(), stored.GetAnnotations()},
		{f + ".template.labels", t.GetLabels(), stored.GetTemplate().GetLabels()},
		{f + ".template.annotations", t.GetAnnotations(), stored.GetTemplate().GetAnnotations()},
	} {
		if err := checkSystemKeys(c.field, c.m, c.stored); err != nil {
			return nil, err
		}
	}
	if r := t.GetRevision(); r != "" && (!strings.HasPrefix(r, id+"-") || len(r) > maxRevisionNameLen || !validLabel(r)) {
		return nil, errViolation(f+".template.revision", revisionNameRule)
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

// createServiceLocked validates and stores a service with its first, starting revision, and
// returns it with the revision's name. With validateOnly it stores nothing.
func createServiceLocked(w *world.World, req string, l loc, id string, in *runpb.Service, validateOnly bool) (*runpb.Service, string, error) {
	name := l.parent() + "/services/" + id
	if _, ok := w.S.Services[name]; ok {
		return nil, "", errAlreadyExists(id)
	}
	spec, err := prepareService(req, l, id, in, nil)
	if err != nil {
		return nil, "", err
	}
	revID, err := newRevisionIDLocked(w, name, id, spec.GetTemplate().GetRevision())
	if err != nil {
		return nil, "", err
	}
	svc := newService(w, l, id, spec)
	if validateOnly {
		return svc, "", nil
	}
	w.S.Services[name] = svc
	rev := newRevisionLocked(w, &serviceOwner{l: l, s: svc}, revID, serviceRevisionFill(svc))
	return svc, rev.Name, nil
}

// startCreation returns the operation of a creation: done at once for validate_only, else
// running until the controller has settled the first revision.
func startCreation(w *world.World, l loc, res proto.Message, name, revName string, validateOnly bool) *longrunningpb.Operation {
	if validateOnly {
		return doneOp(w, l, res)
	}
	op := opFor(w, l, res)
	scheduleReconcileLocked(w, name, revName)
	return proto.Clone(op).(*longrunningpb.Operation)
}

func (s *servicesServer) CreateService(_ context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	l, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	if !validID(req.GetServiceId()) {
		return nil, errViolation("CreateServiceRequest.service_id", idRule)
	}
	if req.GetService() == nil {
		return nil, errViolation("CreateServiceRequest.service", "required field not present.")
	}
	s.w.Lock()
	defer s.w.Unlock()
	svc, rev, err := createServiceLocked(s.w, "CreateServiceRequest", l, req.GetServiceId(), req.GetService(), req.GetValidateOnly())
	if err != nil {
		return nil, err
	}
	return startCreation(s.w, l, svc, svc.Name, rev, req.GetValidateOnly()), nil
}

func (s *servicesServer) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	l, id, err := parseName(req.GetName(), "services")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	svc, ok := s.w.S.Services[req.GetName()]
	if !ok {
		return nil, errNotFound(kindService, id, l.region, l.project)
	}
	return proto.Clone(svc).(*runpb.Service), nil
}

func (s *servicesServer) ListServices(_ context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	l, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	var names []string
	for _, k := range world.SortedKeys(s.w.S.Services) {
		if strings.HasPrefix(k, l.parent()+"/services/") {
			names = append(names, k)
		}
	}
	start, end, next, err := pageBounds(req.GetPageToken(), req.GetPageSize(), len(names))
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListServicesResponse{NextPageToken: next}
	for _, k := range names[start:end] {
		resp.Services = append(resp.Services, proto.Clone(s.w.S.Services[k]).(*runpb.Service))
	}
	return resp, nil
}

// UpdateService replaces the service's desired state (or the fields of the update mask). A
// changed template (or force_new_revision) makes a new revision; the operation ends when the
// controller has caught up.
func (s *servicesServer) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	in := req.GetService()
	if in == nil {
		return nil, errViolation("UpdateServiceRequest.service", "required field not present.")
	}
	l, id, err := parseName(in.GetName(), "services")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	stored, ok := s.w.S.Services[in.GetName()]
	if !ok {
		if !req.GetAllowMissing() {
			return nil, errNotFound(kindService, id, l.region, l.project)
		}
		if !validID(id) {
			return nil, errViolation("UpdateServiceRequest.service.name", idRule)
		}
		svc, rev, err := createServiceLocked(s.w, "UpdateServiceRequest", l, id, in, req.GetValidateOnly())
		if err != nil {
			return nil, err
		}
		return startCreation(s.w, l, svc, svc.Name, rev, req.GetValidateOnly()), nil
	}
	if err := checkEtag(in.GetEtag(), stored.GetEtag(), kindService); err != nil {
		return nil, err
	}
	cand, err := mergeSpec(stored, in, req.GetUpdateMask(), serviceOutputFields, "UpdateServiceRequest.update_mask")
	if err != nil {
		return nil, err
	}
	svc, err := prepareService("UpdateServiceRequest", l, id, cand, stored)
	if err != nil {
		return nil, err
	}
	newRev := req.GetForceNewRevision() || !proto.Equal(svc.GetTemplate(), stored.GetTemplate())
	revID := ""
	if newRev {
		if revID, err = newRevisionIDLocked(s.w, stored.Name, id, svc.GetTemplate().GetRevision()); err != nil {
			return nil, err
		}
	}
	beginChangeLocked(s.w, serviceStatus(svc))
	if req.GetValidateOnly() {
		return doneOp(s.w, l, svc), nil
	}
	s.w.S.Services[svc.Name] = svc
	revName := ""
	if newRev {
		revName = newRevisionLocked(s.w, &serviceOwner{l: l, s: svc}, revID, serviceRevisionFill(svc)).Name
	}
	s.w.MarkChangedLocked()
	op := opFor(s.w, l, svc)
	scheduleReconcileLocked(s.w, svc.Name, revName)
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

// deletedSnapshot is what a deletion returns: generation+1, reconciling, delete and expire
// times (the cassette's DELETE response).
func deletedSnapshot(w *world.World, st statusRef, deleteTime, expireTime **timestamppb.Timestamp) {
	beginChangeLocked(w, st)
	*deleteTime = *st.updateTime
	*expireTime = timestamppb.New((*st.updateTime).AsTime().Add(deleteRetention))
}

// finishDeletionLocked schedules the end of a deletion: the operation's final resource is
// settled (observed generation, Ready succeeded, a new update time and etag).
func finishDeletionLocked(w *world.World, opName string, gone proto.Message, st func(proto.Message) statusRef) {
	w.AfterLocked(w.ConfigLocked().RevisionReady, func() {
		op, ok := w.S.Operations[opName]
		if !ok || op.GetDone() {
			return
		}
		final := proto.Clone(gone)
		ref := st(final)
		touchLocked(w, ref)
		completeLocked(w, ref, runpb.Condition_CONDITION_SUCCEEDED, "", runpb.Condition_COMMON_REASON_UNDEFINED)
		w.SetOperationMetadataLocked(op, final)
		w.FinishOperationLocked(op, final, nil)
	})
}

// abortWaitingLocked ends the operations still waiting on a resource that is being deleted.
func abortWaitingLocked(w *world.World, res proto.Message, name string) {
	for _, op := range waitingOpsLocked(w, res.ProtoReflect().Descriptor().FullName(), name) {
		w.FinishOperationLocked(op, nil, status.New(codes.Aborted, deletedServiceOpReason))
	}
}

// DeleteService deletes a service and its revisions; their instances stop (their addresses are
// released after the IP release delay).
func (s *servicesServer) DeleteService(_ context.Context, req *runpb.DeleteServiceRequest) (*longrunningpb.Operation, error) {
	l, id, err := parseName(req.GetName(), "services")
	if err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	svc, ok := s.w.S.Services[req.GetName()]
	if !ok {
		return nil, errNotFound(kindService, id, l.region, l.project)
	}
	if err := checkEtag(req.GetEtag(), svc.GetEtag(), kindService); err != nil {
		return nil, err
	}
	gone := proto.Clone(svc).(*runpb.Service)
	deletedSnapshot(s.w, serviceStatus(gone), &gone.DeleteTime, &gone.ExpireTime)
	if req.GetValidateOnly() {
		return doneOp(s.w, l, gone), nil
	}
	abortWaitingLocked(s.w, svc, svc.Name)
	for _, r := range revisionsOfLocked(s.w, svc.Name) {
		stopLocked(s.w, r.Name)
		delete(s.w.S.Revisions, r.Name)
	}
	delete(s.w.S.Services, svc.Name)
	s.iam.forget(svc.Name)
	s.w.MarkChangedLocked()
	op := opFor(s.w, l, gone)
	finishDeletionLocked(s.w, op.Name, gone, func(m proto.Message) statusRef { return serviceStatus(m.(*runpb.Service)) })
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

func (s *servicesServer) serviceExists(resource string) error {
	l, id, err := parseName(resource, "services")
	if err != nil {
		return err
	}
	if _, ok := s.w.S.Services[resource]; !ok {
		return errNotFound(kindService, id, l.region, l.project)
	}
	return nil
}

func (s *servicesServer) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.getPolicy(s.w, req.GetResource(), s.serviceExists)
}

func (s *servicesServer) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return s.iam.setPolicy(s.w, req, s.serviceExists)
}

func (s *servicesServer) TestIamPermissions(_ context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return s.iam.testPermissions(s.w, req, s.serviceExists)
}
