// Package assetapi serves Cloud Asset Inventory's AssetService.SearchAllResources over gRPC
// (google.cloud.asset.v1), so cloud.google.com/go/asset/apiv1 works against the emulator: the
// way to find every Cloud Run workload, connector and subnetwork of an organization, a folder
// or a project in a few calls, as the real service is meant for ("Search all resources":
// "Searches all Google Cloud resources within the specified scope").
//
// What it serves (Cloud Asset API reference, assets.searchAllResources, and "Search
// syntax"):
//
//   - scope: projects/{PROJECT_ID}, projects/{PROJECT_NUMBER}, folders/{FOLDER_NUMBER} or
//     organizations/{ORGANIZATION_NUMBER}; a folder or organization covers every project
//     below it. With a known caller, the scope needs cloudasset.assets.searchAllResources
//     ("The caller must be granted the cloudasset.assets.searchAllResources permission on the
//     desired scope"), else PERMISSION_DENIED, so a client can fall back to per-project calls.
//   - asset types: run.googleapis.com/Service, run.googleapis.com/Job,
//     run.googleapis.com/WorkerPool, vpcaccess.googleapis.com/Connector,
//     compute.googleapis.com/Subnetwork, compute.googleapis.com/Network and
//     cloudresourcemanager.googleapis.com/Project. asset_types entries are exact types or
//     regular expressions ("compute.googleapis.com.*"; RE2, matched against the whole type).
//   - query: terms joined by AND (explicit or implicit): FIELD:VALUE (contains, case
//     insensitive; a trailing * matches a prefix), FIELD=VALUE (equals), or free text matched
//     against name, displayName, description, location and label values. FIELD is one of
//     name, displayName, description, location, state, project, parentFullResourceName,
//     labels (any value) or labels.KEY. OR, NOT, parentheses and comparisons are not
//     modelled (INVALID_ARGUMENT).
//   - page_size: "capped at 500 even if a larger value is given"; 0 or less picks the
//     emulator's default (100). page_token continues the same request only.
//   - order_by: a comma-separated list of name, assetType, displayName, location, state,
//     createTime, updateTime, each optionally followed by DESC; default name.
//   - read_mask: the fields to return; by default "name, assetType, project, folders,
//     organization, displayName, description, location, labels, tags, effectiveTags,
//     networkTags, kmsKeys, createTime, updateTime, state, additionalAttributes,
//     parentFullResourceName, parentAssetType"; "versionedResources" and the other large
//     fields only when asked for; "*" for all.
//
// Emulator choices, where the real service's content is not documented: versionedResources
// carry the resource as its own API's JSON (Run: Admin API v2, version "v2"; VPC Access and
// Compute: "v1"); state is ACTIVE for Run resources, the connector's state (READY, ...) and the
// subnetwork's (READY); additionalAttributes are set only for projects ({"projectId": ID}).
package assetapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Asset types the emulator indexes. Names as in Cloud Asset's "Supported asset types".
const (
	TypeService    = "run.googleapis.com/Service"
	TypeJob        = "run.googleapis.com/Job"
	TypeWorkerPool = "run.googleapis.com/WorkerPool"
	TypeConnector  = "vpcaccess.googleapis.com/Connector"
	TypeSubnetwork = "compute.googleapis.com/Subnetwork"
	TypeNetwork    = "compute.googleapis.com/Network"
	TypeProject    = "cloudresourcemanager.googleapis.com/Project"
	typeFolder     = "cloudresourcemanager.googleapis.com/Folder"
	typeOrg        = "cloudresourcemanager.googleapis.com/Organization"
)

// Page sizes: the cap is documented; the default is the emulator's.
const (
	maxPageSize     = 500
	defaultPageSize = 100
)

// permission is what the caller needs on the scope.
const permission = "cloudasset.assets.searchAllResources"

type server struct {
	assetpb.UnimplementedAssetServiceServer
	w *world.World
	// last is the sorted result of the latest search, kept (under the world lock) while the
	// world does not change, so the pages after the first cost only their own rendering.
	last struct {
		fp      uint64
		scope   string
		version <-chan struct{}
		hits    []*hit
	}
}

// Register adds AssetService to s.
func Register(s *grpc.Server, w *world.World) {
	assetpb.RegisterAssetServiceServer(s, &server{w: w})
}

// hit is one resource that matches, with what filtering and ordering need; the full result is
// rendered only for the page returned.
type hit struct {
	assetType, key, project     string
	name, displayName, location string
	description, state, parent  string
	labels                      map[string]string
	createTime, updateTime      time.Time
}

func (s *server) SearchAllResources(ctx context.Context, req *assetpb.SearchAllResourcesRequest) (*assetpb.SearchAllResourcesResponse, error) {
	typeMatch, err := typeMatcher(req.GetAssetTypes())
	if err != nil {
		return nil, err
	}
	terms, err := parseQuery(req.GetQuery())
	if err != nil {
		return nil, err
	}
	order, err := parseOrder(req.GetOrderBy())
	if err != nil {
		return nil, err
	}
	mask, err := parseMask(req.GetReadMask().GetPaths())
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	fp := fingerprint(req)
	start, err := decodeToken(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}

	w := s.w
	w.Lock()
	defer w.Unlock()
	scope, err := s.scopeLocked(ctx, req.GetScope())
	if err != nil {
		return nil, err
	}
	hits := s.last.hits
	if s.last.fp != fp || s.last.scope != scope || s.last.version != w.ChangedLocked() {
		projects := map[string]bool{}
		for _, p := range w.ProjectsUnderLocked(scope) {
			projects[p] = true
		}
		hits = nil
		for _, h := range collectLocked(w, projects, typeMatch) {
			if matchAll(terms, h) {
				hits = append(hits, h)
			}
		}
		sortHits(hits, order)
		s.last.fp, s.last.scope, s.last.version, s.last.hits = fp, scope, w.ChangedLocked(), hits
	}
	if start > len(hits) {
		return nil, status.Error(codes.InvalidArgument, "Invalid page_token: it does not continue this search.")
	}
	end := min(start+size, len(hits))
	resp := &assetpb.SearchAllResourcesResponse{}
	ancestry := map[string]ancestors{}
	for _, h := range hits[start:end] {
		resp.Results = append(resp.Results, renderLocked(w, h, mask, ancestry))
	}
	if end < len(hits) {
		resp.NextPageToken = encodeToken(end, fp)
	}
	return resp, nil
}

var (
	projectScopeRE = regexp.MustCompile(`^projects/([a-z0-9][-a-z0-9]*)$`)
	numericScopeRE = regexp.MustCompile(`^(folders|organizations)/([0-9]+)$`)
)

// scopeLocked checks the scope and the caller's permission on it, and returns it as a world
// resource name (projects/ID, folders/F, organizations/O).
func (s *server) scopeLocked(ctx context.Context, scope string) (string, error) {
	var res string
	switch {
	case scope == "":
		return "", status.Error(codes.InvalidArgument, "Request contains an invalid argument: scope is required (projects/{PROJECT_ID}, projects/{PROJECT_NUMBER}, folders/{FOLDER_NUMBER} or organizations/{ORGANIZATION_NUMBER}).")
	case projectScopeRE.MatchString(scope):
		res = "projects/" + s.w.ResolveProjectLocked(projectScopeRE.FindStringSubmatch(scope)[1])
	case numericScopeRE.MatchString(scope):
		m := numericScopeRE.FindStringSubmatch(scope)
		known := false
		if m[1] == "folders" {
			_, known = s.w.S.Dir.Folders[m[2]]
		} else {
			_, known = s.w.S.Dir.Organizations[m[2]]
		}
		if !known {
			return "", status.Errorf(codes.PermissionDenied, "The caller does not have permission")
		}
		res = scope
	default:
		return "", status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: invalid scope %q.", scope)
	}
	if !s.w.CallerMayLocked(ctx, res, permission) {
		return "", status.Errorf(codes.PermissionDenied, "The caller does not have permission")
	}
	return res, nil
}

// typeMatcher compiles asset_types: exact names, or RE2 expressions matched against the whole
// type. Empty means every type.
func typeMatcher(types []string) (func(string) bool, error) {
	if len(types) == 0 {
		return func(string) bool { return true }, nil
	}
	var exact []string
	var res []*regexp.Regexp
	for _, t := range types {
		if !strings.ContainsAny(t, "*+?[](){}|^$\\") {
			exact = append(exact, t)
			continue
		}
		re, err := regexp.Compile("^(?:" + t + ")$")
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: invalid asset type expression %q: %v.", t, err)
		}
		res = append(res, re)
	}
	return func(t string) bool {
		if slices.Contains(exact, t) {
			return true
		}
		for _, re := range res {
			if re.MatchString(t) {
				return true
			}
		}
		return false
	}, nil
}

// collectLocked lists the resources of the projects that types accepts, unsorted.
func collectLocked(w *world.World, projects map[string]bool, types func(string) bool) []*hit {
	var out []*hit
	runProject := func(key string) (project, region, id string, ok bool) {
		// projects/P/locations/R/KIND/ID
		rest, _ := strings.CutPrefix(key, "projects/")
		project, rest, _ = strings.Cut(rest, "/")
		if !projects[project] {
			return "", "", "", false
		}
		rest, _ = strings.CutPrefix(rest, "locations/")
		region, rest, _ = strings.Cut(rest, "/")
		_, id, ok = strings.Cut(rest, "/")
		return project, region, id, ok && !strings.Contains(id, "/")
	}
	if types(TypeService) {
		for k, v := range w.S.Services {
			if p, r, id, ok := runProject(k); ok {
				out = append(out, &hit{assetType: TypeService, key: k, project: p, name: "//run.googleapis.com/" + k, displayName: id, location: r,
					description: v.GetDescription(), state: "ACTIVE", labels: v.GetLabels(), createTime: v.GetCreateTime().AsTime(), updateTime: v.GetUpdateTime().AsTime()})
			}
		}
	}
	if types(TypeJob) {
		for k, v := range w.S.Jobs {
			if p, r, id, ok := runProject(k); ok {
				out = append(out, &hit{assetType: TypeJob, key: k, project: p, name: "//run.googleapis.com/" + k, displayName: id, location: r,
					state: "ACTIVE", labels: v.GetLabels(), createTime: v.GetCreateTime().AsTime(), updateTime: v.GetUpdateTime().AsTime()})
			}
		}
	}
	if types(TypeWorkerPool) {
		for k, v := range w.S.WorkerPools {
			if p, r, id, ok := runProject(k); ok {
				out = append(out, &hit{assetType: TypeWorkerPool, key: k, project: p, name: "//run.googleapis.com/" + k, displayName: id, location: r,
					description: v.GetDescription(), state: "ACTIVE", labels: v.GetLabels(), createTime: v.GetCreateTime().AsTime(), updateTime: v.GetUpdateTime().AsTime()})
			}
		}
	}
	if types(TypeConnector) {
		for k, v := range w.S.Connectors {
			if p, r, id, ok := runProject(k); ok {
				var created time.Time
				if m, found := w.S.Dir.Connectors[k]; found {
					created = m.CreateTime
				}
				out = append(out, &hit{assetType: TypeConnector, key: k, project: p, name: "//vpcaccess.googleapis.com/" + k, displayName: id, location: r,
					state: v.GetState().String(), createTime: created, updateTime: created})
			}
		}
	}
	if types(TypeSubnetwork) {
		for k, v := range w.S.Subnetworks {
			seg := strings.Split(k, "/") // P/R/N
			if len(seg) != 3 || !projects[seg[0]] {
				continue
			}
			t := computeTime(v.CreationTimestamp)
			out = append(out, &hit{assetType: TypeSubnetwork, key: k, project: seg[0],
				name:        fmt.Sprintf("//compute.googleapis.com/projects/%s/regions/%s/subnetworks/%s", seg[0], seg[1], seg[2]),
				displayName: seg[2], location: seg[1], description: v.Description, state: v.State, createTime: t, updateTime: t})
		}
	}
	if types(TypeNetwork) {
		for k, v := range w.S.Networks {
			seg := strings.Split(k, "/") // P/N
			if len(seg) != 2 || !projects[seg[0]] {
				continue
			}
			t := computeTime(v.CreationTimestamp)
			out = append(out, &hit{assetType: TypeNetwork, key: k, project: seg[0],
				name:        fmt.Sprintf("//compute.googleapis.com/projects/%s/global/networks/%s", seg[0], seg[1]),
				displayName: seg[1], location: "global", description: v.Description, createTime: t, updateTime: t})
		}
	}
	if types(TypeProject) {
		for p := range projects {
			pr, _ := w.ProjectLocked(p)
			out = append(out, &hit{assetType: TypeProject, key: p, project: p,
				name:        "//cloudresourcemanager.googleapis.com/projects/" + strconv.FormatUint(pr.Number(), 10),
				displayName: pr.DisplayName, location: "global", state: "ACTIVE", labels: pr.Labels, parent: pr.Parent,
				createTime: pr.CreateTime, updateTime: pr.CreateTime})
		}
	}
	return out
}

// computeTime reads Compute's creationTimestamp.
func computeTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// ancestors are a project's folders and organization.
type ancestors struct {
	folders []string
	org     string
}

// renderLocked builds the result for h with the fields of mask. ancestry caches each
// project's folders and organization for the page.
func renderLocked(w *world.World, h *hit, mask map[string]bool, ancestry map[string]ancestors) *assetpb.ResourceSearchResult {
	a, ok := ancestry[h.project]
	if !ok {
		a.folders, a.org = w.ProjectAncestryLocked(h.project)
		ancestry[h.project] = a
	}
	num := strconv.FormatUint(world.ProjectNumber(h.project), 10)
	r := &assetpb.ResourceSearchResult{
		Name: h.name, AssetType: h.assetType, Project: "projects/" + num,
		Folders: a.folders, Organization: a.org,
		DisplayName: h.displayName, Description: h.description, Location: h.location,
		Labels: h.labels, State: h.state,
		ParentFullResourceName: "//cloudresourcemanager.googleapis.com/projects/" + h.project,
		ParentAssetType:        TypeProject,
	}
	if !h.createTime.IsZero() {
		r.CreateTime = timestamppb.New(h.createTime)
	}
	if !h.updateTime.IsZero() {
		r.UpdateTime = timestamppb.New(h.updateTime)
	}
	if h.assetType == TypeProject {
		r.ParentFullResourceName, r.ParentAssetType = "", ""
		if kind, id, ok := strings.Cut(h.parent, "/"); ok {
			r.ParentFullResourceName = "//cloudresourcemanager.googleapis.com/" + kind + "/" + id
			r.ParentAssetType = typeOrg
			if kind == "folders" {
				r.ParentAssetType = typeFolder
			}
		}
		r.AdditionalAttributes, _ = structpb.NewStruct(map[string]any{"projectId": h.project})
	}
	if mask["versioned_resources"] {
		if v := versionedLocked(w, h); v != nil {
			r.VersionedResources = []*assetpb.VersionedResource{v}
		}
	}
	applyMask(r, mask)
	return r
}

// versionedLocked is the resource itself, as its API's JSON.
func versionedLocked(w *world.World, h *hit) *assetpb.VersionedResource {
	var m proto.Message
	var raw any
	version := "v1"
	switch h.assetType {
	case TypeService:
		m, version = w.S.Services[h.key], "v2"
	case TypeJob:
		m, version = w.S.Jobs[h.key], "v2"
	case TypeWorkerPool:
		m, version = w.S.WorkerPools[h.key], "v2"
	case TypeConnector:
		m = w.S.Connectors[h.key]
	case TypeSubnetwork:
		raw = w.S.Subnetworks[h.key]
	case TypeNetwork:
		raw = w.S.Networks[h.key]
	default:
		return nil
	}
	var b []byte
	var err error
	if m != nil {
		b, err = protojson.Marshal(m)
	} else {
		b, err = json.Marshal(raw)
	}
	if err != nil {
		return nil
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return nil
	}
	return &assetpb.VersionedResource{Version: version, Resource: st}
}

// defaultFields are returned when no read_mask is given (reference, read_mask).
var defaultFields = []string{"name", "asset_type", "project", "folders", "organization", "display_name", "description",
	"location", "labels", "tags", "effective_tags", "network_tags", "kms_keys", "create_time", "update_time", "state",
	"additional_attributes", "parent_full_resource_name", "parent_asset_type"}

// parseMask turns read_mask paths (proto or JSON names) into a set of proto field names.
func parseMask(paths []string) (map[string]bool, error) {
	fields := (&assetpb.ResourceSearchResult{}).ProtoReflect().Descriptor().Fields()
	out := map[string]bool{}
	if len(paths) == 0 {
		for _, f := range defaultFields {
			out[f] = true
		}
		return out, nil
	}
	for _, p := range paths {
		for _, part := range strings.Split(p, ",") {
			part = strings.TrimSpace(part)
			if part == "*" {
				for i := range fields.Len() {
					out[string(fields.Get(i).Name())] = true
				}
				continue
			}
			f := fields.ByName(protoreflect.Name(part))
			if f == nil {
				f = fields.ByJSONName(part)
			}
			if f == nil {
				return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: read_mask path %q is not a field of ResourceSearchResult.", part)
			}
			out[string(f.Name())] = true
		}
	}
	return out, nil
}

func applyMask(r *assetpb.ResourceSearchResult, mask map[string]bool) {
	m := r.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); !mask[string(f.Name())] {
			m.Clear(f)
		}
	}
}

// term is one query term: field (empty for free text), op ':' or '=', value.
type term struct {
	field, value string
	op           byte
}

var queryFields = map[string]bool{
	"name": true, "displayname": true, "description": true, "location": true, "state": true,
	"project": true, "parentfullresourcename": true, "labels": true,
}

// parseQuery reads the supported subset of the search syntax.
func parseQuery(q string) ([]term, error) {
	var out []term
	for _, tok := range tokenize(q) {
		switch strings.ToUpper(tok) {
		case "AND":
			continue
		case "OR", "NOT":
			return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: the emulator's search supports terms joined by AND only, not %s.", tok)
		}
		if strings.ContainsAny(tok, "()<>") || strings.HasPrefix(tok, "-") {
			return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: unsupported query term %q.", tok)
		}
		i := strings.IndexAny(tok, ":=")
		if i < 0 {
			out = append(out, term{value: strings.Trim(tok, `"`), op: ':'})
			continue
		}
		field, value := tok[:i], strings.Trim(tok[i+1:], `"`)
		lf := strings.ToLower(field)
		if !queryFields[lf] && !strings.HasPrefix(lf, "labels.") {
			return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: unsupported query field %q.", field)
		}
		if strings.HasPrefix(lf, "labels.") {
			lf = "labels." + field[len("labels."):]
		}
		out = append(out, term{field: lf, value: value, op: tok[i]})
	}
	return out, nil
}

// tokenize splits on spaces outside double quotes.
func tokenize(q string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range q {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func matchAll(terms []term, h *hit) bool {
	for _, t := range terms {
		if !t.matches(h) {
			return false
		}
	}
	return true
}

func (t term) matches(h *hit) bool {
	var values []string
	switch {
	case t.field == "":
		values = []string{h.name, h.displayName, h.description, h.location}
		for _, v := range h.labels {
			values = append(values, v)
		}
	case t.field == "labels":
		for k, v := range h.labels {
			values = append(values, k, v)
		}
	case strings.HasPrefix(t.field, "labels."):
		v, ok := h.labels[strings.TrimPrefix(t.field, "labels.")]
		if !ok {
			return false
		}
		values = []string{v}
	case t.field == "name":
		values = []string{h.name}
	case t.field == "displayname":
		values = []string{h.displayName}
	case t.field == "description":
		values = []string{h.description}
	case t.field == "location":
		values = []string{h.location}
	case t.field == "state":
		values = []string{h.state}
	case t.field == "project":
		values = []string{"projects/" + strconv.FormatUint(world.ProjectNumber(h.project), 10), "projects/" + h.project, h.project}
	case t.field == "parentfullresourcename":
		values = []string{"//cloudresourcemanager.googleapis.com/projects/" + h.project}
	}
	for _, v := range values {
		if matchValue(t.op, t.value, v) {
			return true
		}
	}
	return false
}

func matchValue(op byte, want, got string) bool {
	if op == '=' {
		return got == want
	}
	want, got = strings.ToLower(want), strings.ToLower(got)
	if p, ok := strings.CutSuffix(want, "*"); ok {
		for _, tok := range strings.FieldsFunc(got, func(r rune) bool { return r == '/' || r == ' ' || r == '.' }) {
			if strings.HasPrefix(tok, p) {
				return true
			}
		}
		return strings.HasPrefix(got, p)
	}
	return strings.Contains(got, want)
}

type orderKey struct {
	field string
	desc  bool
}

func parseOrder(s string) ([]orderKey, error) {
	if strings.TrimSpace(s) == "" {
		return []orderKey{{field: "name"}}, nil
	}
	var out []orderKey
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "DESC") && !strings.EqualFold(f[1], "ASC")) {
			return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: invalid order_by %q.", s)
		}
		switch f[0] {
		case "name", "assetType", "displayName", "location", "state", "createTime", "updateTime":
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: order_by field %q is not supported.", f[0])
		}
		out = append(out, orderKey{field: f[0], desc: len(f) == 2 && strings.EqualFold(f[1], "DESC")})
	}
	return append(out, orderKey{field: "name"}), nil
}

func sortHits(hits []*hit, order []orderKey) {
	cmp := func(a, b *hit, k orderKey) int {
		var c int
		switch k.field {
		case "name":
			c = strings.Compare(a.name, b.name)
		case "assetType":
			c = strings.Compare(a.assetType, b.assetType)
		case "displayName":
			c = strings.Compare(a.displayName, b.displayName)
		case "location":
			c = strings.Compare(a.location, b.location)
		case "state":
			c = strings.Compare(a.state, b.state)
		case "createTime":
			c = a.createTime.Compare(b.createTime)
		case "updateTime":
			c = a.updateTime.Compare(b.updateTime)
		}
		if k.desc {
			c = -c
		}
		return c
	}
	// Names are unique and end every ordering, so the order is total.
	sort.Slice(hits, func(i, j int) bool {
		for _, k := range order {
			if c := cmp(hits[i], hits[j], k); c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// fingerprint identifies the request a page token belongs to.
func fingerprint(req *assetpb.SearchAllResourcesRequest) uint64 {
	h := fnv.New64a()
	for _, s := range append([]string{req.GetScope(), req.GetQuery(), req.GetOrderBy()}, req.GetAssetTypes()...) {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

func encodeToken(offset int, fp uint64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%x", offset, fp))
}

func decodeToken(tok string, fp uint64) (int, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	off, sum, ok := strings.Cut(string(b), ":")
	n, nerr := strconv.Atoi(off)
	if err != nil || !ok || nerr != nil || n < 0 || sum != strconv.FormatUint(fp, 16) {
		return 0, status.Error(codes.InvalidArgument, "Request contains an invalid argument: invalid page_token: it does not continue this search.")
	}
	return n, nil
}
