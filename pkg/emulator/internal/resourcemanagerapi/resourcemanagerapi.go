// Package resourcemanagerapi serves the part of the Cloud Resource Manager API the emulator's
// clients need, over REST/JSON on the emulator's one address, so the
// google.golang.org/api/cloudresourcemanager/v3 (and v1) clients work unchanged when pointed
// at it with option.WithEndpoint("http://HOST/"):
//
//   - v3: projects.get (by id or number), list (by parent), search (query parent:/id:/
//     projectId:), getIamPolicy/setIamPolicy/testIamPermissions; folders.get, list,
//     getIamPolicy/setIamPolicy/testIamPermissions; organizations.get, search,
//     getIamPolicy/setIamPolicy/testIamPermissions.
//   - v1 (what gcloud projects list/describe/get-iam-policy/add-iam-policy-binding and
//     Terraform use): projects.get, list (filter), getIamPolicy, setIamPolicy,
//     testIamPermissions.
//   - v1 organizations.get, search (gcloud organizations list/describe).
//   - v2 (what gcloud resource-manager folders list/describe use): folders.get, list.
//
// Projects are those of the world (world/directory.go): any project id names a project, with
// the number world.ProjectNumber gives it; declared ones carry their parent, name and labels.
// Folders and organizations exist only when declared. IAM policies are the world's, shared
// with Compute's subnetwork policies and inherited down the hierarchy.
//
// Permissions are checked only when the call's caller is known (world.CallerLocked): get needs
// resourcemanager.{projects,folders,organizations}.get, getIamPolicy and setIamPolicy their
// namesakes; listings and searches return only what the caller may get. Resource Manager
// answers a missing or forbidden folder or organization alike, 403 "The caller does not have
// permission" (realapi/vpcaccess/connector-subnet-crossproject-crud.http.log shows it for a
// project that does not exist yet).
package resourcemanagerapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/googlerest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// msgDenied is Resource Manager's answer to a forbidden or unknown resource (recorded).
const msgDenied = "The caller does not have permission"

// Page sizes: emulator choices (Resource Manager v3 reference, projects.list: "If unspecified,
// server picks an appropriate default").
const (
	defaultPageSize = 500
	maxPageSize     = 1000
)

type server struct{ w *world.World }

// Register adds the Resource Manager routes to mux. Patterns name their method, so they take
// precedence over any catch-all REST route for the same paths.
func Register(mux *http.ServeMux, w *world.World) {
	s := &server{w: w}
	h := func(method string, fn googlerest.Handler) http.HandlerFunc { return googlerest.Serve(w, method, fn) }
	mux.HandleFunc("GET /v3/projects/{id}", h("cloudresourcemanager.projects.get", s.projectGet))
	mux.HandleFunc("GET /v3/projects", h("cloudresourcemanager.projects.list", s.projectsList))
	mux.HandleFunc("GET /v3/projects:search", h("cloudresourcemanager.projects.search", s.projectsSearch))
	mux.HandleFunc("POST /v3/projects/{call}", s.iamCall("projects", "v3"))
	mux.HandleFunc("GET /v3/folders/{id}", h("cloudresourcemanager.folders.get", s.folderGet))
	mux.HandleFunc("GET /v3/folders", h("cloudresourcemanager.folders.list", s.foldersList))
	mux.HandleFunc("POST /v3/folders/{call}", s.iamCall("folders", "v3"))
	mux.HandleFunc("GET /v3/organizations/{id}", h("cloudresourcemanager.organizations.get", s.organizationGet))
	mux.HandleFunc("GET /v3/organizations:search", h("cloudresourcemanager.organizations.search", s.organizationsSearch))
	mux.HandleFunc("POST /v3/organizations/{call}", s.iamCall("organizations", "v3"))
	mux.HandleFunc("GET /v1/projects/{id}", h("cloudresourcemanager.projects.get", s.projectGetV1))
	mux.HandleFunc("GET /v1/projects", h("cloudresourcemanager.projects.list", s.projectsListV1))
	mux.HandleFunc("POST /v1/projects/{call}", s.iamCall("projects", "v1"))
	// v2 folders, what `gcloud resource-manager folders list/describe` call; these patterns
	// take precedence over the Cloud Run v2 REST routes under /v2/.
	// v1 organizations, what `gcloud organizations list/describe` call.
	mux.HandleFunc("POST /v1/organizations:search", h("cloudresourcemanager.organizations.search", s.organizationsSearchV1))
	mux.HandleFunc("GET /v1/organizations/{id}", h("cloudresourcemanager.organizations.get", s.organizationGetV1))
	mux.HandleFunc("GET /v2/folders", h("cloudresourcemanager.folders.list", s.foldersListV2))
	mux.HandleFunc("GET /v2/folders/{id}", h("cloudresourcemanager.folders.get", s.folderGetV2))
}

func denied() error { return googlerest.Errorf(codes.PermissionDenied, "%s", msgDenied) }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// etagOf is an opaque etag for a resource's current representation.
func etagOf(parts ...string) string {
	return "W/\"" + base64.RawStdEncoding.EncodeToString([]byte(strings.Join(parts, "|"))) + "\""
}

// projectV3Locked renders a project as v3 shows it: name projects/NUMBER, state ACTIVE.
func projectV3Locked(w *world.World, id string) *crm.Project {
	p, _ := w.ProjectLocked(id)
	created := p.CreateTime
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	return &crm.Project{
		Name:        "projects/" + strconv.FormatUint(p.Number(), 10),
		ProjectId:   p.ID,
		DisplayName: p.DisplayName,
		Parent:      p.Parent,
		Labels:      p.Labels,
		State:       "ACTIVE",
		CreateTime:  stamp(created),
		UpdateTime:  stamp(created),
		Etag:        etagOf(p.ID, p.Parent, p.DisplayName),
	}
}

// projectLocked resolves a project id or number; with a known caller it needs
// resourcemanager.projects.get.
func (s *server) projectLocked(r *http.Request, idOrNumber string) (string, error) {
	id := s.w.ResolveProjectLocked(idOrNumber)
	if id == "" || strings.ContainsAny(id, "/: ") {
		return "", denied()
	}
	if !s.w.CallerMayLocked(r.Context(), "projects/"+id, "resourcemanager.projects.get") {
		return "", denied()
	}
	return id, nil
}

func (s *server) projectGet(r *http.Request) (any, error) {
	s.w.Lock()
	defer s.w.Unlock()
	id, err := s.projectLocked(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return projectV3Locked(s.w, id), nil
}

// projectGetV1 renders a project as v1 shows it (recorded shape: projectNumber, projectId,
// lifecycleState, name, createTime, labels, parent {type, id}).
func (s *server) projectGetV1(r *http.Request) (any, error) {
	s.w.Lock()
	defer s.w.Unlock()
	id, err := s.projectLocked(r, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return projectV1Locked(s.w, id), nil
}

// projectV1Locked renders a project as v1 shows it.
func projectV1Locked(w *world.World, id string) *crmv1.Project {
	p, _ := w.ProjectLocked(id)
	created := p.CreateTime
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	out := &crmv1.Project{
		ProjectId: p.ID, ProjectNumber: int64(p.Number()), Name: p.DisplayName, Labels: p.Labels,
		LifecycleState: "ACTIVE", CreateTime: stamp(created),
	}
	if kind, pid, ok := strings.Cut(p.Parent, "/"); ok {
		out.Parent = &crmv1.ResourceId{Type: strings.TrimSuffix(kind, "s"), Id: pid}
	}
	return out
}

// projectsListV1 answers v1 projects.list, what `gcloud projects list` calls: every project
// the caller may get, filtered by a filter of space- or AND-separated terms, all of which must
// hold (v1 reference, projects.list "filter": name, id, labels.KEY, lifecycleState,
// parent.type, parent.id; FIELD:VALUE or FIELD=VALUE). gcloud sends
// "lifecycleState:ACTIVE AND (parent.id=N)" for --filter=parent.id=N.
func (s *server) projectsListV1(r *http.Request) (any, error) {
	type term struct{ key, value string }
	var terms []term
	for _, f := range strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(r.URL.Query().Get("filter"))) {
		if strings.EqualFold(f, "AND") {
			continue
		}
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			k, v, ok = strings.Cut(f, "=")
		}
		if !ok {
			return nil, googlerest.Errorf(codes.InvalidArgument, "Invalid filter term %q: want FIELD:VALUE.", f)
		}
		k = strings.ToLower(k)
		switch {
		case k == "name", k == "id", k == "projectid", k == "lifecyclestate", k == "parent.type", k == "parent.id", strings.HasPrefix(k, "labels."):
		default:
			return nil, googlerest.Errorf(codes.InvalidArgument, "Unsupported filter field %q.", k)
		}
		terms = append(terms, term{k, strings.Trim(v, `"`)})
	}
	s.w.Lock()
	defer s.w.Unlock()
	var all []*crmv1.Project
	for _, id := range s.w.KnownProjectsLocked() {
		if !s.w.CallerMayLocked(r.Context(), "projects/"+id, "resourcemanager.projects.get") {
			continue
		}
		p := projectV1Locked(s.w, id)
		keep := true
		for _, t := range terms {
			var got string
			switch t.key {
			case "name":
				got = p.Name
			case "id", "projectid":
				got = p.ProjectId
			case "lifecyclestate":
				got = p.LifecycleState
			case "parent.type", "parent.id":
				if p.Parent != nil {
					got = map[string]string{"parent.type": p.Parent.Type, "parent.id": p.Parent.Id}[t.key]
				}
			default:
				got = p.Labels[strings.TrimPrefix(t.key, "labels.")]
			}
			if got != t.value && (t.value != "*" || got == "") {
				keep = false
				break
			}
		}
		if keep {
			all = append(all, p)
		}
	}
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &crmv1.ListProjectsResponse{Projects: items, NextPageToken: next}, nil
}

// page slices sorted names by pageSize and an opaque pageToken (the offset).
func page[T any](items []T, sizeParam, token string) ([]T, string, error) {
	size := defaultPageSize
	if sizeParam != "" {
		n, err := strconv.Atoi(sizeParam)
		if err != nil || n < 0 {
			return nil, "", googlerest.Errorf(codes.InvalidArgument, "Invalid page_size %q.", sizeParam)
		}
		if n > 0 {
			size = min(n, maxPageSize)
		}
	}
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, aerr := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || aerr != nil || n < 0 || n > len(items) {
			return nil, "", googlerest.Errorf(codes.InvalidArgument, "Invalid page_token %q.", token)
		}
		start = n
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

// visibleProjectsLocked returns the known projects the caller may get, filtered by keep.
func (s *server) visibleProjectsLocked(r *http.Request, keep func(*world.Project) bool) []*crm.Project {
	var out []*crm.Project
	for _, id := range s.w.KnownProjectsLocked() {
		p, _ := s.w.ProjectLocked(id)
		if keep(p) && s.w.CallerMayLocked(r.Context(), "projects/"+id, "resourcemanager.projects.get") {
			out = append(out, projectV3Locked(s.w, id))
		}
	}
	return out
}

// projectsList lists the projects directly under parent (required: v3 projects.list "parent
// ... Required").
func (s *server) projectsList(r *http.Request) (any, error) {
	parent := r.URL.Query().Get("parent")
	if parent == "" {
		return nil, googlerest.Errorf(codes.InvalidArgument, "parent is required: folders/{folder_id} or organizations/{org_id}.")
	}
	s.w.Lock()
	defer s.w.Unlock()
	if err := s.containerLocked(r, parent); err != nil {
		return nil, err
	}
	all := s.visibleProjectsLocked(r, func(p *world.Project) bool { return p.Parent == parent })
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &crm.ListProjectsResponse{Projects: items, NextPageToken: next}, nil
}

// projectsSearch answers projects.search for a query of space-separated terms, all of which
// must hold: parent:folders/F (or organizations/O; direct children), id:ID or projectId:ID,
// name:NAME / displayName:NAME, state:ACTIVE. Resource Manager v3 reference, projects.search
// (query syntax); other terms are INVALID_ARGUMENT.
func (s *server) projectsSearch(r *http.Request) (any, error) {
	type term struct{ key, value string }
	var terms []term
	for _, f := range strings.Fields(r.URL.Query().Get("query")) {
		if strings.EqualFold(f, "AND") {
			continue
		}
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			k, v, ok = strings.Cut(f, "=")
		}
		if !ok {
			return nil, googlerest.Errorf(codes.InvalidArgument, "Invalid query term %q: want FIELD:VALUE.", f)
		}
		k = strings.ToLower(k)
		switch k {
		case "parent", "id", "projectid", "name", "displayname", "state", "parent.id", "parent.type":
		default:
			return nil, googlerest.Errorf(codes.InvalidArgument, "Unsupported query field %q.", k)
		}
		terms = append(terms, term{k, strings.Trim(v, `"`)})
	}
	s.w.Lock()
	defer s.w.Unlock()
	all := s.visibleProjectsLocked(r, func(p *world.Project) bool {
		kind, pid, _ := strings.Cut(p.Parent, "/")
		for _, t := range terms {
			var ok bool
			switch t.key {
			case "parent":
				ok = p.Parent == t.value
			case "parent.id":
				ok = pid == t.value
			case "parent.type":
				ok = strings.TrimSuffix(kind, "s") == t.value
			case "id", "projectid":
				ok = p.ID == t.value
			case "name", "displayname":
				ok = p.DisplayName == t.value
			case "state":
				ok = strings.EqualFold(t.value, "ACTIVE")
			}
			if !ok {
				return false
			}
		}
		return true
	})
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &crm.SearchProjectsResponse{Projects: items, NextPageToken: next}, nil
}

// containerLocked checks that parent is a declared folder or organization the caller may see.
func (s *server) containerLocked(r *http.Request, parent string) error {
	kind, id, _ := strings.Cut(parent, "/")
	perm := ""
	switch kind {
	case "folders":
		if _, ok := s.w.S.Dir.Folders[id]; !ok {
			return denied()
		}
		perm = "resourcemanager.folders.get"
	case "organizations":
		if _, ok := s.w.S.Dir.Organizations[id]; !ok {
			return denied()
		}
		perm = "resourcemanager.organizations.get"
	default:
		return googlerest.Errorf(codes.InvalidArgument, "Invalid parent %q: want folders/{folder_id} or organizations/{org_id}.", parent)
	}
	if !s.w.CallerMayLocked(r.Context(), parent, perm) {
		return denied()
	}
	return nil
}

func folderV3(f *world.Folder) *crm.Folder {
	return &crm.Folder{
		Name: "folders/" + f.ID, Parent: f.Parent, DisplayName: f.DisplayName, State: "ACTIVE",
		CreateTime: stamp(f.CreateTime), UpdateTime: stamp(f.CreateTime), Etag: etagOf(f.ID, f.Parent, f.DisplayName),
	}
}

func (s *server) folderGet(r *http.Request) (any, error) {
	s.w.Lock()
	defer s.w.Unlock()
	name := "folders/" + r.PathValue("id")
	if err := s.containerLocked(r, name); err != nil {
		return nil, err
	}
	return folderV3(s.w.S.Dir.Folders[r.PathValue("id")]), nil
}

// childFolders returns the folders directly under the request's parent that the caller may
// get, in id order: what v3's and v2's folders.list answer, each in its own shape.
func (s *server) childFolders(r *http.Request) ([]*world.Folder, error) {
	parent := r.URL.Query().Get("parent")
	if parent == "" {
		return nil, googlerest.Errorf(codes.InvalidArgument, "parent is required: folders/{folder_id} or organizations/{org_id}.")
	}
	s.w.Lock()
	defer s.w.Unlock()
	if err := s.containerLocked(r, parent); err != nil {
		return nil, err
	}
	var out []*world.Folder
	for _, id := range world.SortedKeys(s.w.S.Dir.Folders) {
		f := s.w.S.Dir.Folders[id]
		if f.Parent == parent && s.w.CallerMayLocked(r.Context(), "folders/"+id, "resourcemanager.folders.get") {
			out = append(out, f)
		}
	}
	return out, nil
}

// foldersList lists the folders directly under parent.
func (s *server) foldersList(r *http.Request) (any, error) {
	folders, err := s.childFolders(r)
	if err != nil {
		return nil, err
	}
	all := make([]*crm.Folder, 0, len(folders))
	for _, f := range folders {
		all = append(all, folderV3(f))
	}
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &crm.ListFoldersResponse{Folders: items, NextPageToken: next}, nil
}

func organizationV3(o *world.Organization) *crm.Organization {
	return &crm.Organization{
		Name: "organizations/" + o.ID, DisplayName: o.DisplayName, State: "ACTIVE",
		DirectoryCustomerId: "C0" + o.ID[:min(len(o.ID), 7)],
		CreateTime:          stamp(o.CreateTime), UpdateTime: stamp(o.CreateTime), Etag: etagOf(o.ID, o.DisplayName),
	}
}

func (s *server) organizationGet(r *http.Request) (any, error) {
	s.w.Lock()
	defer s.w.Unlock()
	name := "organizations/" + r.PathValue("id")
	if err := s.containerLocked(r, name); err != nil {
		return nil, err
	}
	return organizationV3(s.w.S.Dir.Organizations[r.PathValue("id")]), nil
}

// organizationsSearch returns the organizations the caller may get (query domain:NAME
// filters by display name).
func (s *server) organizationsSearch(r *http.Request) (any, error) {
	domain := ""
	if q := strings.TrimSpace(r.URL.Query().Get("query")); q != "" {
		k, v, ok := strings.Cut(q, ":")
		if !ok || (k != "domain" && k != "directoryCustomerId") {
			return nil, googlerest.Errorf(codes.InvalidArgument, "Unsupported query %q: want domain:NAME.", q)
		}
		domain = v
	}
	s.w.Lock()
	defer s.w.Unlock()
	var all []*crm.Organization
	for _, id := range world.SortedKeys(s.w.S.Dir.Organizations) {
		o := s.w.S.Dir.Organizations[id]
		if domain != "" && o.DisplayName != domain {
			continue
		}
		if s.w.CallerMayLocked(r.Context(), "organizations/"+id, "resourcemanager.organizations.get") {
			all = append(all, organizationV3(o))
		}
	}
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &crm.SearchOrganizationsResponse{Organizations: items, NextPageToken: next}, nil
}

// policyJSON is the Policy shape v1 and v3 share.
type policyJSON struct {
	Version  int64         `json:"version,omitempty"`
	Etag     string        `json:"etag,omitempty"`
	Bindings []bindingJSON `json:"bindings,omitempty"`
}

type bindingJSON struct {
	Role      string           `json:"role"`
	Members   []string         `json:"members"`
	Condition *world.Condition `json:"condition,omitempty"`
}

func toJSON(p *world.Policy) *policyJSON {
	out := &policyJSON{Version: p.Version, Etag: p.Etag}
	for _, b := range p.Bindings {
		out.Bindings = append(out.Bindings, bindingJSON{Role: b.Role, Members: b.Members, Condition: b.Condition})
	}
	return out
}

func fromJSON(p *policyJSON) *world.Policy {
	out := &world.Policy{Version: p.Version, Etag: p.Etag}
	for _, b := range p.Bindings {
		out.Bindings = append(out.Bindings, world.Binding{Role: b.Role, Members: b.Members, Condition: b.Condition})
	}
	return out
}

// iamCall serves POST {collection}/{id}:getIamPolicy, :setIamPolicy and :testIamPermissions.
func (s *server) iamCall(collection, version string) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		id, verb, ok := strings.Cut(r.PathValue("call"), ":")
		var fn googlerest.Handler
		switch {
		case !ok:
		case verb == "getIamPolicy":
			fn = func(r *http.Request) (any, error) { return s.getPolicy(r, collection, id) }
		case verb == "setIamPolicy":
			fn = func(r *http.Request) (any, error) { return s.setPolicy(r, collection, id) }
		case verb == "testIamPermissions":
			fn = func(r *http.Request) (any, error) { return s.testPermissions(r, collection, id) }
		}
		if fn == nil {
			googlerest.WriteError(rw, googlerest.Errorf(codes.NotFound, "Method not found: POST %s", r.URL.Path))
			return
		}
		googlerest.Serve(s.w, "cloudresourcemanager."+collection+"."+verb, fn)(rw, r)
	}
}

// resourceLocked resolves the resource an IAM call names and checks it exists.
func (s *server) resourceLocked(r *http.Request, collection, id string) (string, error) {
	if collection == "projects" {
		id = s.w.ResolveProjectLocked(id)
		if id == "" || strings.ContainsAny(id, "/ ") {
			return "", denied()
		}
		return "projects/" + id, nil
	}
	name := collection + "/" + id
	kind, _, _ := strings.Cut(name, "/")
	switch kind {
	case "folders":
		if _, ok := s.w.S.Dir.Folders[id]; !ok {
			return "", denied()
		}
	case "organizations":
		if _, ok := s.w.S.Dir.Organizations[id]; !ok {
			return "", denied()
		}
	}
	return name, nil
}

func (s *server) getPolicy(r *http.Request, collection, id string) (any, error) {
	var req crm.GetIamPolicyRequest
	if err := googlerest.Decode(r, &req); err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	res, err := s.resourceLocked(r, collection, id)
	if err != nil {
		return nil, err
	}
	if !s.w.CallerMayLocked(r.Context(), res, "resourcemanager."+collection+".getIamPolicy") {
		return nil, denied()
	}
	return toJSON(s.w.PolicyLocked(res)), nil
}

// setPolicy replaces the policy. A stale etag is 409 ABORTED (IAM docs, "Policy concurrency
// control"); an updateMask, when given, must be "bindings", "etag" or both (v1/v3 reference:
// "If no mask is provided, the following default mask is used: paths: "bindings, etag"").
func (s *server) setPolicy(r *http.Request, collection, id string) (any, error) {
	var req struct {
		Policy     *policyJSON `json:"policy"`
		UpdateMask string      `json:"updateMask,omitempty"`
	}
	if err := googlerest.Decode(r, &req); err != nil {
		return nil, err
	}
	if req.Policy == nil {
		return nil, googlerest.Errorf(codes.InvalidArgument, "Request contains an invalid argument: policy is required.")
	}
	for _, path := range strings.Split(req.UpdateMask, ",") {
		if p := strings.TrimSpace(path); p != "" && p != "bindings" && p != "etag" && p != "auditConfigs" {
			return nil, googlerest.Errorf(codes.InvalidArgument, "Invalid update_mask path %q.", p)
		}
	}
	s.w.Lock()
	defer s.w.Unlock()
	res, err := s.resourceLocked(r, collection, id)
	if err != nil {
		return nil, err
	}
	if !s.w.CallerMayLocked(r.Context(), res, "resourcemanager."+collection+".setIamPolicy") {
		return nil, denied()
	}
	stored, err := s.w.SetPolicyLocked(res, fromJSON(req.Policy))
	switch {
	case errors.Is(err, world.ErrEtagMismatch):
		return nil, googlerest.Errorf(codes.Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
	case err != nil:
		return nil, googlerest.Errorf(codes.InvalidArgument, "Request contains an invalid argument: %v.", err)
	}
	return toJSON(stored), nil
}

// testPermissions returns the permissions asked for that the caller holds; with no known
// caller, all of them.
func (s *server) testPermissions(r *http.Request, collection, id string) (any, error) {
	var req crm.TestIamPermissionsRequest
	if err := googlerest.Decode(r, &req); err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	res, err := s.resourceLocked(r, collection, id)
	if err != nil {
		return nil, err
	}
	resp := &crm.TestIamPermissionsResponse{Permissions: []string{}}
	member, known := s.w.CallerLocked(r.Context())
	if !known {
		resp.Permissions = append(resp.Permissions, req.Permissions...)
		return resp, nil
	}
	resp.Permissions = s.w.PermissionsLocked(member, res, req.Permissions)
	return resp, nil
}

// folderV2 renders a folder as v2 shows it (lifecycleState, not state).
func folderV2(f *world.Folder) *crmv2.Folder {
	return &crmv2.Folder{Name: "folders/" + f.ID, Parent: f.Parent, DisplayName: f.DisplayName, LifecycleState: "ACTIVE", CreateTime: stamp(f.CreateTime)}
}

func (s *server) folderGetV2(r *http.Request) (any, error) {
	s.w.Lock()
	defer s.w.Unlock()
	if err := s.containerLocked(r, "folders/"+r.PathValue("id")); err != nil {
		return nil, err
	}
	return folderV2(s.w.S.Dir.Folders[r.PathValue("id")]), nil
}

// foldersListV2 lists the folders directly under parent, as v3's list does, in v2's shape.
func (s *server) foldersListV2(r *http.Request) (any, error) {
	folders, err := s.childFolders(r)
	if err != nil {
		return nil, err
	}
	all := make([]*crmv2.Folder, 0, len(folders))
	for _, f := range folders {
		all = append(all, folderV2(f))
	}
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &crmv2.ListFoldersResponse{Folders: items, NextPageToken: next}, nil
}

// organizationV1 renders an organization as v1 shows it (owner, creationTime, lifecycleState).
func organizationV1(o *world.Organization) *crmv1.Organization {
	v3 := organizationV3(o)
	return &crmv1.Organization{Name: v3.Name, DisplayName: v3.DisplayName, LifecycleState: "ACTIVE", CreationTime: v3.CreateTime,
		Owner: &crmv1.OrganizationOwner{DirectoryCustomerId: v3.DirectoryCustomerId}}
}

func (s *server) organizationGetV1(r *http.Request) (any, error) {
	s.w.Lock()
	defer s.w.Unlock()
	if err := s.containerLocked(r, "organizations/"+r.PathValue("id")); err != nil {
		return nil, err
	}
	return organizationV1(s.w.S.Dir.Organizations[r.PathValue("id")]), nil
}

// organizationsSearchV1 answers v1 organizations.search (a POST with the filter, page size
// and token in its body): the organizations the caller may get, filter domain:NAME or
// owner.directorycustomerid:ID.
func (s *server) organizationsSearchV1(r *http.Request) (any, error) {
	var req crmv1.SearchOrganizationsRequest
	if err := googlerest.Decode(r, &req); err != nil {
		return nil, err
	}
	key, value := "", ""
	if f := strings.TrimSpace(req.Filter); f != "" {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			k, v, ok = strings.Cut(f, "=")
		}
		key = strings.ToLower(strings.TrimSpace(k))
		if !ok || (key != "domain" && key != "owner.directorycustomerid") {
			return nil, googlerest.Errorf(codes.InvalidArgument, "Unsupported filter %q: want domain:NAME or owner.directoryCustomerId:ID.", f)
		}
		value = strings.Trim(strings.TrimSpace(v), `"`)
	}
	s.w.Lock()
	defer s.w.Unlock()
	var all []*crmv1.Organization
	for _, id := range world.SortedKeys(s.w.S.Dir.Organizations) {
		o := organizationV1(s.w.S.Dir.Organizations[id])
		if key == "domain" && o.DisplayName != value || key == "owner.directorycustomerid" && o.Owner.DirectoryCustomerId != value {
			continue
		}
		if s.w.CallerMayLocked(r.Context(), "organizations/"+id, "resourcemanager.organizations.get") {
			all = append(all, o)
		}
	}
	size := ""
	if req.PageSize > 0 {
		size = strconv.FormatInt(req.PageSize, 10)
	}
	items, next, err := page(all, size, req.PageToken)
	if err != nil {
		return nil, err
	}
	return &crmv1.SearchOrganizationsResponse{Organizations: items, NextPageToken: next}, nil
}
