package runapi

import (
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Output-only fields, which the API ignores when a client sends them back (proto comments
// "Output only"); name and etag are also kept: the name is the key, the etag is computed.
var (
	serviceOutputFields = []protoreflect.Name{
		"name", "uid", "generation", "create_time", "update_time", "delete_time", "expire_time",
		"creator", "last_modifier", "urls", "observed_generation", "terminal_condition", "conditions",
		"latest_ready_revision", "latest_created_revision", "traffic_statuses", "uri", "satisfies_pzs",
		"threat_detection_enabled", "reconciling", "etag",
	}
	jobOutputFields = []protoreflect.Name{
		"name", "uid", "generation", "create_time", "update_time", "delete_time", "expire_time",
		"creator", "last_modifier", "observed_generation", "terminal_condition", "conditions",
		"execution_count", "latest_created_execution", "reconciling", "satisfies_pzs", "etag",
	}
	workerPoolOutputFields = []protoreflect.Name{
		"name", "uid", "generation", "create_time", "update_time", "delete_time", "expire_time",
		"creator", "last_modifier", "observed_generation", "terminal_condition", "conditions",
		"latest_ready_revision", "latest_created_revision", "instance_split_statuses",
		"threat_detection_enabled", "satisfies_pzs", "reconciling", "etag",
	}
)

// Condition types Cloud Run uses (recorded in the vcr cassette for services; revision and
// execution conditions as the v2 API documents them).
const (
	condReady              = "Ready"
	condRoutesReady        = "RoutesReady"
	condConfigurationsRdy  = "ConfigurationsReady"
	condContainerHealthy   = "ContainerHealthy"
	condResourcesAvailable = "ResourcesAvailable"
	condCompleted          = "Completed"
	condStarted            = "Started"
)

// statusRef points at the bookkeeping fields that services, worker pools and jobs share, so the
// code that changes them is written once.
type statusRef struct {
	name         string
	generation   *int64
	observed     *int64
	terminal     **runpb.Condition
	conditions   *[]*runpb.Condition
	reconciling  *bool
	updateTime   **timestamppb.Timestamp
	etag         *string
	lastModifier *string
	deleteTime   **timestamppb.Timestamp
	expireTime   **timestamppb.Timestamp
}

func serviceStatus(s *runpb.Service) statusRef {
	return statusRef{s.Name, &s.Generation, &s.ObservedGeneration, &s.TerminalCondition, &s.Conditions, &s.Reconciling, &s.UpdateTime, &s.Etag, &s.LastModifier, &s.DeleteTime, &s.ExpireTime}
}

func workerPoolStatus(p *runpb.WorkerPool) statusRef {
	return statusRef{p.Name, &p.Generation, &p.ObservedGeneration, &p.TerminalCondition, &p.Conditions, &p.Reconciling, &p.UpdateTime, &p.Etag, &p.LastModifier, &p.DeleteTime, &p.ExpireTime}
}

func jobStatus(j *runpb.Job) statusRef {
	return statusRef{j.Name, &j.Generation, &j.ObservedGeneration, &j.TerminalCondition, &j.Conditions, &j.Reconciling, &j.UpdateTime, &j.Etag, &j.LastModifier, &j.DeleteTime, &j.ExpireTime}
}

// touchLocked records a change made by a client: a new update time and etag, the caller as
// last modifier.
func touchLocked(w *world.World, st statusRef) {
	*st.updateTime = stamp(w, *st.updateTime)
	*st.etag = etagFor(st.name, *st.updateTime)
	*st.lastModifier = caller
}

// beginChangeLocked records a change of desired state: generation+1, reconciling, the Ready
// condition pending (keeping its last transition time, as the cassette's PATCH response shows).
func beginChangeLocked(w *world.World, st statusRef) {
	*st.generation++
	touchLocked(w, st)
	*st.reconciling = true
	t := &runpb.Condition{State: runpb.Condition_CONDITION_PENDING}
	if old := *st.terminal; old != nil && old.Type != "" {
		t.Type, t.LastTransitionTime = old.Type, old.LastTransitionTime
	}
	*st.terminal = t
}

// completeLocked records that the controller caught up with the current generation, with the
// outcome for the Ready condition.
func completeLocked(w *world.World, st statusRef, state runpb.Condition_State, msg string, reason runpb.Condition_CommonReason) {
	now := timestamppb.New(w.Now())
	old := *st.terminal
	if !*st.reconciling && old != nil && old.State == state && old.Message == msg {
		return
	}
	*st.observed = *st.generation
	*st.reconciling = false
	c := &runpb.Condition{Type: condReady, State: state, Message: msg, LastTransitionTime: now}
	if reason != runpb.Condition_COMMON_REASON_UNDEFINED {
		c.Reasons = &runpb.Condition_Reason{Reason: reason}
	}
	*st.terminal = c
	w.MarkChangedLocked()
}

// setCondition sets the condition of type typ in list, moving its last transition time only
// when its state or message changes (or always, when force is set).
func setCondition(w *world.World, list *[]*runpb.Condition, typ string, state runpb.Condition_State, msg string, reason runpb.Condition_CommonReason, force bool) {
	c := &runpb.Condition{Type: typ, State: state, Message: msg, LastTransitionTime: timestamppb.New(w.Now())}
	if reason != runpb.Condition_COMMON_REASON_UNDEFINED {
		c.Reasons = &runpb.Condition_Reason{Reason: reason}
	}
	for i, old := range *list {
		if old.Type != typ {
			continue
		}
		if !force && old.State == state && old.Message == msg {
			return
		}
		(*list)[i] = c
		return
	}
	*list = append(*list, c)
}

// conditionState returns the state of the condition of type typ, or STATE_UNSPECIFIED.
func conditionState(list []*runpb.Condition, typ string) runpb.Condition_State {
	for _, c := range list {
		if c.GetType() == typ {
			return c.GetState()
		}
	}
	return runpb.Condition_STATE_UNSPECIFIED
}

// conditionMessage returns the message of the condition of type typ.
func conditionMessage(list []*runpb.Condition, typ string) string {
	for _, c := range list {
		if c.GetType() == typ {
			return c.GetMessage()
		}
	}
	return ""
}

// copyFields sets each named field of dst to its value in src (clearing it when src has none).
func copyFields(dst, src proto.Message, names []protoreflect.Name) {
	d, s := dst.ProtoReflect(), proto.Clone(src).ProtoReflect()
	fields := d.Descriptor().Fields()
	for _, n := range names {
		fd := fields.ByName(n)
		if fd == nil {
			continue
		}
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}

// mergeSpec returns the desired state an update asks for: the whole resource the client sent
// (its output-only fields replaced by the stored ones), or, with an update mask, the stored
// resource with the masked fields taken from what the client sent. reqField names the request
// field for errors, e.g. "UpdateServiceRequest.update_mask".
func mergeSpec[M proto.Message](stored, in M, mask *fieldmaskpb.FieldMask, outputOnly []protoreflect.Name, reqField string) (M, error) {
	if len(mask.GetPaths()) == 0 {
		c := proto.Clone(in).(M)
		copyFields(c, stored, outputOnly)
		return c, nil
	}
	out := proto.Clone(stored).(M)
	src := proto.Clone(in).(M)
	skip := map[protoreflect.Name]bool{}
	for _, n := range outputOnly {
		skip[n] = true
	}
	for _, path := range mask.GetPaths() {
		if path == "*" {
			c := proto.Clone(in).(M)
			copyFields(c, stored, outputOnly)
			out = c
			continue
		}
		if err := applyPath(out.ProtoReflect(), src.ProtoReflect(), strings.Split(path, "."), skip); err != nil {
			return out, errViolation(reqField, fmt.Sprintf("invalid path %q: %v.", path, err))
		}
	}
	return out, nil
}

// fieldByPathName finds a field by its proto name or its JSON (lowerCamel) name.
func fieldByPathName(md protoreflect.MessageDescriptor, s string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByName(protoreflect.Name(s)); fd != nil {
		return fd
	}
	return md.Fields().ByJSONName(s)
}

func applyPath(dst, src protoreflect.Message, segs []string, skip map[protoreflect.Name]bool) error {
	fd := fieldByPathName(dst.Descriptor(), segs[0])
	if fd == nil {
		return fmt.Errorf("no field %q in %s", segs[0], dst.Descriptor().Name())
	}
	if skip != nil && skip[fd.Name()] {
		return nil
	}
	if len(segs) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return nil
	}
	if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
		return fmt.Errorf("field %q has no subfields", segs[0])
	}
	return applyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), segs[1:], nil)
}

// opFor creates the long-running operation of a change to res (metadata: res itself, as Cloud
// Run's operations carry the resource).
func opFor(w *world.World, l loc, res proto.Message) *longrunningpb.Operation {
	return w.NewOperationLocked(l.parent(), proto.Clone(res))
}

// doneOp returns an operation that is already finished, as validate_only requests get.
func doneOp(w *world.World, l loc, res proto.Message) *longrunningpb.Operation {
	op := opFor(w, l, res)
	w.FinishOperationLocked(op, proto.Clone(res), nil)
	return proto.Clone(op).(*longrunningpb.Operation)
}

// waitingOpsLocked returns the unfinished operations whose metadata is a resource of type
// typeName named name (operations of deletions, whose metadata has a delete time, excluded),
// in name order.
func waitingOpsLocked(w *world.World, typeName protoreflect.FullName, name string) []*longrunningpb.Operation {
	var out []*longrunningpb.Operation
	for _, k := range world.SortedKeys(w.S.Operations) {
		op := w.S.Operations[k]
		if op.GetDone() || op.GetMetadata() == nil || op.GetMetadata().MessageName() != typeName {
			continue
		}
		m, err := op.GetMetadata().UnmarshalNew()
		if err != nil {
			continue
		}
		r := m.ProtoReflect()
		fields := r.Descriptor().Fields()
		if nf := fields.ByName("name"); nf == nil || r.Get(nf).String() != name {
			continue
		}
		if dt := fields.ByName("delete_time"); dt != nil && r.Has(dt) {
			continue
		}
		out = append(out, op)
	}
	return out
}

// finishOpsLocked ends the given operations: with res as metadata and response, or with st.
func finishOpsLocked(w *world.World, ops []*longrunningpb.Operation, res proto.Message, st *status.Status) {
	for _, op := range ops {
		w.SetOperationMetadataLocked(op, proto.Clone(res))
		if st != nil {
			w.FinishOperationLocked(op, nil, st)
		} else {
			w.FinishOperationLocked(op, proto.Clone(res), nil)
		}
	}
}

// systemPrefixes are the label and annotation namespaces the v2 API reserves ("Cloud Run API
// v2 does not support labels with run.googleapis.com, cloud.googleapis.com,
// serving.knative.dev, or autoscaling.knative.dev namespaces", proto comments of Service).
var systemPrefixes = []string{"run.googleapis.com/", "cloud.googleapis.com/", "serving.knative.dev/", "autoscaling.knative.dev/"}

// checkSystemKeys rejects label or annotation keys in the reserved namespaces, unless the
// stored resource already has the same key and value (what the system set is preserved).
func checkSystemKeys(field string, m, stored map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range systemPrefixes {
			if !strings.HasPrefix(k, p) {
				continue
			}
			if v, ok := stored[k]; ok && v == m[k] {
				break
			}
			return errViolation(field, fmt.Sprintf("key '%s' is not supported: the %s namespace is reserved for the system.", k, strings.TrimSuffix(p, "/")))
		}
	}
	return nil
}

// labeled is what carries labels and annotations: a resource or its template.
type labeled interface {
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}

// checkReservedKeys checks the labels and annotations of a resource (field f) and of its
// template against the stored ones (stored and storedTmpl may be nil pointers).
func checkReservedKeys(f string, in, stored, tmpl, storedTmpl labeled) error {
	for _, c := range []struct {
		field      string
		in, stored labeled
	}{{f, in, stored}, {f + ".template", tmpl, storedTmpl}} {
		if err := checkSystemKeys(c.field+".labels", c.in.GetLabels(), c.stored.GetLabels()); err != nil {
			return err
		}
		if err := checkSystemKeys(c.field+".annotations", c.in.GetAnnotations(), c.stored.GetAnnotations()); err != nil {
			return err
		}
	}
	return nil
}

// checkEtag compares a request's etag with the stored one (AIP-154).
func checkEtag(sent, current, kind string) error {
	if sent != "" && sent != current {
		return errEtag(kind)
	}
	return nil
}

// statusFailedPrecondition is the error of an operation whose workload cannot become ready.
func opError(code codes.Code, msg string) *status.Status { return status.New(code, msg) }
