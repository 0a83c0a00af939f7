package runapi

import (
	"encoding/base64"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// iamStore keeps the IAM policies set on services, jobs and worker pools. The emulator's caller
// is an owner of every project: it holds every run.* permission. Policies live as long as the
// server (they are not part of the saved state).
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
func (st *iamStore) getPolicy(w *world.World, resource string, k checker) (*iampb.Policy, error) {
	w.Lock()
	defer w.Unlock()
	if err := k.existsLocked(w, resource); err != nil {
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
func (st *iamStore) setPolicy(w *world.World, req *iampb.SetIamPolicyRequest, k checker) (*iampb.Policy, error) {
	w.Lock()
	defer w.Unlock()
	if err := k.existsLocked(w, req.GetResource()); err != nil {
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

// testPermissions grants every run.* permission asked for.
func (st *iamStore) testPermissions(w *world.World, req *iampb.TestIamPermissionsRequest, k checker) (*iampb.TestIamPermissionsResponse, error) {
	w.Lock()
	defer w.Unlock()
	if err := k.existsLocked(w, req.GetResource()); err != nil {
		return nil, err
	}
	resp := &iampb.TestIamPermissionsResponse{}
	for _, p := range req.GetPermissions() {
		if strings.HasPrefix(p, "run.") {
			resp.Permissions = append(resp.Permissions, p)
		}
	}
	return resp, nil
}
