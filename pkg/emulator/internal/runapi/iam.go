package runapi

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// iamStore keeps the IAM policies set on services, jobs and worker pools. Policies live as
// long as the server (they are not part of the saved state). A caller who is not known
// (world.CallerLocked: the emulator without authentication) holds every run.* permission; a
// known one those its roles give it on the project (and above) or on the resource itself.
type iamStore struct {
	policies map[string]*iampb.Policy
	version  int
}

// checker is a resource kind whose resources can have policies.
type checker interface {
	existsLocked(w *world.World, name string) error
}

func newIAMStore() *iamStore { return &iamStore{policies: map[string]*iampb.Policy{}} }

// policyEtag is a fresh opaque policy etag.
func (st *iamStore) policyEtag() []byte {
	st.version++
	return []byte(base64.StdEncoding.EncodeToString([]byte("BwY" + strconv.Itoa(st.version))))
}

func (st *iamStore) forget(resource string) { delete(st.policies, resource) }

// getPolicy returns the resource's policy: an empty one with an etag until one is set.
func (st *iamStore) getPolicy(ctx context.Context, w *world.World, resource string, k checker) (*iampb.Policy, error) {
	w.Lock()
	defer w.Unlock()
	if err := k.existsLocked(w, resource); err != nil {
		return nil, err
	}
	if err := st.requireLocked(ctx, w, resource, "getIamPolicy"); err != nil {
		return nil, err
	}
	p, ok := st.policies[resource]
	if !ok {
		p = &iampb.Policy{Version: 1, Etag: st.policyEtag()}
		st.policies[resource] = p
	}
	return proto.Clone(p).(*iampb.Policy), nil
}

// setPolicy stores a policy; a policy etag that is set and stale is ABORTED (IAM's
// read-modify-write rule).
func (st *iamStore) setPolicy(ctx context.Context, w *world.World, req *iampb.SetIamPolicyRequest, k checker) (*iampb.Policy, error) {
	w.Lock()
	defer w.Unlock()
	if err := k.existsLocked(w, req.GetResource()); err != nil {
		return nil, err
	}
	if err := st.requireLocked(ctx, w, req.GetResource(), "setIamPolicy"); err != nil {
		return nil, err
	}
	if req.GetPolicy() == nil {
		return nil, status.Error(codes.InvalidArgument, "Invalid SetIamPolicyRequest: policy is required.")
	}
	if cur, ok := st.policies[req.GetResource()]; ok && len(req.GetPolicy().GetEtag()) > 0 && string(cur.GetEtag()) != string(req.GetPolicy().GetEtag()) {
		return nil, status.Error(codes.Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
	}
	p := proto.Clone(req.GetPolicy()).(*iampb.Policy)
	if p.Version == 0 {
		p.Version = 1
	}
	p.Etag = st.policyEtag()
	st.policies[req.GetResource()] = p
	w.MarkChangedLocked()
	return proto.Clone(p).(*iampb.Policy), nil
}

// testPermissions returns the run.* permissions asked for that the caller holds (every one
// for an unknown caller).
func (st *iamStore) testPermissions(ctx context.Context, w *world.World, req *iampb.TestIamPermissionsRequest, k checker) (*iampb.TestIamPermissionsResponse, error) {
	w.Lock()
	defer w.Unlock()
	if err := k.existsLocked(w, req.GetResource()); err != nil {
		return nil, err
	}
	resp := &iampb.TestIamPermissionsResponse{}
	for _, p := range req.GetPermissions() {
		if strings.HasPrefix(p, "run.") && st.callerMayLocked(ctx, w, req.GetResource(), p) {
			resp.Permissions = append(resp.Permissions, p)
		}
	}
	return resp, nil
}

// callerMayLocked reports whether the call's caller holds permission on resource: through
// the world's policies (the project's and above), or the one set on the resource.
func (st *iamStore) callerMayLocked(ctx context.Context, w *world.World, resource, permission string) bool {
	member, known := w.CallerLocked(ctx)
	if !known || w.HasPermissionLocked(member, resource, permission) {
		return true
	}
	p, ok := st.policies[resource]
	if !ok {
		return false
	}
	own := &world.Policy{}
	for _, b := range p.GetBindings() {
		if b.GetCondition() == nil {
			own.Bindings = append(own.Bindings, world.Binding{Role: b.GetRole(), Members: b.GetMembers()})
		}
	}
	return own.Grants(member, permission)
}

// requireLocked refuses a call whose caller lacks the resource's run.KIND.VERB permission,
// as Cloud Run does: PERMISSION_DENIED, "Permission '…' denied on resource '…' (or resource
// may not exist)."
func (st *iamStore) requireLocked(ctx context.Context, w *world.World, resource, verb string) error {
	perm := runPermission(resource, verb)
	if st.callerMayLocked(ctx, w, resource, perm) {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "Permission '%s' denied on resource '%s' (or resource may not exist).", perm, resource)
}

// runPermission names Cloud Run's permission for verb on resource
// (projects/P/locations/L/services/S: run.services.VERB; jobs: run.jobs.VERB; worker pools:
// run.workerpools.VERB).
func runPermission(resource, verb string) string {
	seg := strings.Split(resource, "/")
	collection := "services"
	if len(seg) >= 2 {
		collection = strings.ToLower(seg[len(seg)-2])
	}
	return "run." + collection + "." + verb
}
