package runapi

import (
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

// resource is what services, worker pools and jobs, the resources stored right under a
// location, have in common.
type resource interface {
	proto.Message
	GetName() string
	GetEtag() string
}

// kind describes one of those resource kinds. The create, get, list, update and delete flows
// are written once against it; where the kinds really differ (validation and defaults,
// revisions or executions, how a change is reconciled) it has a hook.
type kind[M resource] struct {
	name       string // as NOT_FOUND messages name it, e.g. kindService
	collection string // the collection in resource names, e.g. "services"
	message    string // the message name in request names, e.g. "Service" (CreateServiceRequest)
	field      string // the request field that carries the resource, e.g. "service"
	outputOnly []protoreflect.Name
	store      func(*world.State) map[string]M
	status     func(M) statusRef
	// prepare validates a resource as request req carries it and returns a copy with the
	// defaults filled; stored is the current resource on updates (nil on creation).
	prepare func(req string, l loc, id string, in, stored M) (M, error)
	// build returns a new resource named id in l with spec as its desired state, as creation
	// shows it.
	build func(w *world.World, l loc, id string, spec M) M
	// revisions is set for the kinds whose template changes make revisions.
	revisions *revisionHooks[M]
	// reconcile schedules the controller pass that ends a change of the resource named name;
	// revName is the revision the change made, if any.
	reconcile func(w *world.World, name, revName string)
	// removeChildren deletes what the resource named name owns, with it.
	removeChildren func(w *world.World, name string)
}

// revisionTemplate is a service's or a worker pool's template.
type revisionTemplate interface {
	proto.Message
	GetRevision() string
}

// revisionHooks are what a kind that owns revisions adds.
type revisionHooks[M resource] struct {
	owner    func(loc, M) owner
	template func(M) revisionTemplate
	fill     func(M) func(*runpb.Revision) // copies the template into a revision
}

// newLocked stores a new, starting revision of res named id and returns its name.
func (h *revisionHooks[M]) newLocked(w *world.World, l loc, res M, id string) string {
	return newRevisionLocked(w, h.owner(l, res), id, h.fill(res)).Name
}

func (k *kind[M]) request(verb string) string { return verb + k.message + "Request" }

// findLocked returns the resource named name: NOT_FOUND when there is none, ABORTED when etag
// is set and stale.
func (k *kind[M]) findLocked(w *world.World, name, etag string) (loc, M, error) {
	var zero M
	l, id, err := parseName(name, k.collection)
	if err != nil {
		return loc{}, zero, err
	}
	res, ok := k.store(w.S)[name]
	if !ok {
		return loc{}, zero, errNotFound(k.name, id, l.region, l.project)
	}
	if err := checkEtag(etag, res.GetEtag(), k.name); err != nil {
		return loc{}, zero, err
	}
	return l, res, nil
}

// existsLocked is what IAM calls check: the resource exists.
func (k *kind[M]) existsLocked(w *world.World, name string) error {
	_, _, err := k.findLocked(w, name, "")
	return err
}

// insertLocked validates and stores a new resource (nothing with validateOnly) and, for kinds
// with revisions, its first, starting revision, whose name it returns.
func (k *kind[M]) insertLocked(w *world.World, req string, l loc, id string, in M, validateOnly bool) (M, string, error) {
	var zero M
	name := l.parent() + "/" + k.collection + "/" + id
	if _, ok := k.store(w.S)[name]; ok {
		return zero, "", errAlreadyExists(id)
	}
	spec, err := k.prepare(req, l, id, in, zero)
	if err != nil {
		return zero, "", err
	}
	revID := ""
	if k.revisions != nil {
		if revID, err = newRevisionIDLocked(w, name, id, k.revisions.template(spec).GetRevision()); err != nil {
			return zero, "", err
		}
	}
	res := k.build(w, l, id, spec)
	if validateOnly {
		return res, "", nil
	}
	k.store(w.S)[name] = res
	if k.revisions == nil {
		w.MarkChangedLocked()
		return res, "", nil
	}
	return res, k.revisions.newLocked(w, l, res, revID), nil
}

// startLocked returns the operation of a change to res: done at once for validate_only, else
// running until the controller has caught up (and settled revName, if any).
func (k *kind[M]) startLocked(w *world.World, l loc, res M, revName string, validateOnly bool) *longrunningpb.Operation {
	if validateOnly {
		return doneOp(w, l, res)
	}
	op := opFor(w, l, res)
	k.reconcile(w, res.GetName(), revName)
	return proto.Clone(op).(*longrunningpb.Operation)
}

func (k *kind[M]) create(w *world.World, parent, id string, in M, validateOnly bool) (*longrunningpb.Operation, error) {
	req := k.request("Create")
	l, err := parseParent(parent)
	if err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, errViolation(req+"."+k.field+"_id", idRule)
	}
	if !in.ProtoReflect().IsValid() { // not sent
		return nil, errViolation(req+"."+k.field, "required field not present.")
	}
	w.Lock()
	defer w.Unlock()
	res, revName, err := k.insertLocked(w, req, l, id, in, validateOnly)
	if err != nil {
		return nil, err
	}
	return k.startLocked(w, l, res, revName, validateOnly), nil
}

func (k *kind[M]) get(w *world.World, name string) (M, error) {
	w.Lock()
	defer w.Unlock()
	_, res, err := k.findLocked(w, name, "")
	if err != nil {
		return res, err
	}
	return proto.Clone(res).(M), nil
}

type listRequest interface {
	GetParent() string
	GetPageToken() string
	GetPageSize() int32
}

// list returns a page of the resources under the request's parent, in name order, and the
// next page token.
func (k *kind[M]) list(w *world.World, req listRequest) ([]M, string, error) {
	l, err := parseParent(req.GetParent())
	if err != nil {
		return nil, "", err
	}
	w.Lock()
	defer w.Unlock()
	all := k.store(w.S)
	var names []string
	for _, name := range world.SortedKeys(all) {
		if strings.HasPrefix(name, l.parent()+"/"+k.collection+"/") {
			names = append(names, name)
		}
	}
	start, end, next, err := pageBounds(req.GetPageToken(), req.GetPageSize(), len(names))
	if err != nil {
		return nil, "", err
	}
	var out []M
	for _, name := range names[start:end] {
		out = append(out, proto.Clone(all[name]).(M))
	}
	return out, next, nil
}

// change is what an update request carries.
type change[M resource] struct {
	in                                      M
	mask                                    *fieldmaskpb.FieldMask
	allowMissing, validateOnly, newRevision bool
}

// update replaces the resource's desired state (or the fields of the update mask); a missing
// resource is created when allow_missing is set. For kinds with revisions, a changed template
// (or force_new_revision) makes a new revision. The operation ends when the controller has
// caught up.
func (k *kind[M]) update(w *world.World, c change[M]) (*longrunningpb.Operation, error) {
	req := k.request("Update")
	if !c.in.ProtoReflect().IsValid() { // not sent
		return nil, errViolation(req+"."+k.field, "required field not present.")
	}
	l, id, err := parseName(c.in.GetName(), k.collection)
	if err != nil {
		return nil, err
	}
	w.Lock()
	defer w.Unlock()
	stored, ok := k.store(w.S)[c.in.GetName()]
	if !ok {
		if !c.allowMissing {
			return nil, errNotFound(k.name, id, l.region, l.project)
		}
		if !validID(id) {
			return nil, errViolation(req+"."+k.field+".name", idRule)
		}
		res, revName, err := k.insertLocked(w, req, l, id, c.in, c.validateOnly)
		if err != nil {
			return nil, err
		}
		return k.startLocked(w, l, res, revName, c.validateOnly), nil
	}
	if err := checkEtag(c.in.GetEtag(), stored.GetEtag(), k.name); err != nil {
		return nil, err
	}
	cand, err := mergeSpec(stored, c.in, c.mask, k.outputOnly, req+".update_mask")
	if err != nil {
		return nil, err
	}
	res, err := k.prepare(req, l, id, cand, stored)
	if err != nil {
		return nil, err
	}
	h := k.revisions
	newRev := h != nil && (c.newRevision || !proto.Equal(h.template(res), h.template(stored)))
	revID := ""
	if newRev {
		if revID, err = newRevisionIDLocked(w, stored.GetName(), id, h.template(res).GetRevision()); err != nil {
			return nil, err
		}
	}
	beginChangeLocked(w, k.status(res))
	if c.validateOnly {
		return doneOp(w, l, res), nil
	}
	k.store(w.S)[res.GetName()] = res
	revName := ""
	if newRev {
		revName = h.newLocked(w, l, res, revID)
	}
	w.MarkChangedLocked()
	return k.startLocked(w, l, res, revName, false), nil
}

// delete deletes a resource with what it owns, and forgets its IAM policy. The operation
// carries the deleted resource (generation+1, delete and expire times) and ends after the
// revision delay.
func (k *kind[M]) delete(w *world.World, iam *iamStore, name, etag string, validateOnly bool) (*longrunningpb.Operation, error) {
	w.Lock()
	defer w.Unlock()
	l, res, err := k.findLocked(w, name, etag)
	if err != nil {
		return nil, err
	}
	gone := proto.Clone(res).(M)
	deletedSnapshot(w, k.status(gone))
	if validateOnly {
		return doneOp(w, l, gone), nil
	}
	abortWaitingLocked(w, res, name)
	k.removeChildren(w, name)
	delete(k.store(w.S), name)
	iam.forget(name)
	w.MarkChangedLocked()
	op := opFor(w, l, gone)
	finishDeletionLocked(w, op.Name, gone, k.status)
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

// putLocked creates in (in.Name is its full name) as a create request would validate it,
// then settles it at once (settle); when that fails, nothing is kept.
func putLocked[M resource](w *world.World, k *kind[M], in M, settle func(l loc, res M, revName string) error) (M, error) {
	var zero M
	req := k.request("Create")
	l, id, err := parseName(in.GetName(), k.collection)
	if err != nil {
		return zero, err
	}
	if !validID(id) {
		return zero, errViolation(req+"."+k.field+"_id", idRule)
	}
	res, revName, err := k.insertLocked(w, req, l, id, in, false)
	if err != nil {
		return zero, err
	}
	if err := settle(l, res, revName); err != nil {
		delete(k.store(w.S), res.GetName())
		return zero, err
	}
	return proto.Clone(res).(M), nil
}

// deletedSnapshot is what a deletion returns: generation+1, reconciling, delete and expire
// times (the cassette's DELETE response).
func deletedSnapshot(w *world.World, st statusRef) {
	beginChangeLocked(w, st)
	*st.deleteTime = *st.updateTime
	*st.expireTime = timestamppb.New((*st.updateTime).AsTime().Add(deleteRetention))
}

// finishDeletionLocked schedules the end of a deletion: the operation's final resource is
// settled (observed generation, Ready succeeded, a new update time and etag).
func finishDeletionLocked[M proto.Message](w *world.World, opName string, gone M, st func(M) statusRef) {
	w.AfterLocked(w.ConfigLocked().RevisionReady, func() {
		op, ok := w.S.Operations[opName]
		if !ok || op.GetDone() {
			return
		}
		final := proto.Clone(gone).(M)
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
