// Package runapi serves the emulator's google.cloud.run.v2 API over gRPC: Services and their
// Revisions, Jobs and their Executions, and WorkerPools. It models what runnet depends on:
// every template change makes a revision that becomes Ready (or fails because its VPC settings
// cannot work) after a delay, traffic moves only to Ready revisions, conditions, generations
// and etags behave as the real control plane shows them, and Direct VPC egress holds /28
// blocks of its subnet while instances run.
package runapi

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Platform facts; each keeps its source.
const (
	// maxIDLen is the longest service, job or worker pool id: "must be less than 50
	// characters" (Run Admin API v2 error for CreateServiceRequest.service_id, quoted in
	// pulumi/pulumi-gcp#3167; the proto comments of Service, Job and WorkerPool say the same).
	maxIDLen = 49
	// idRule is the description Cloud Run gives for an invalid id (same source).
	idRule = "only lowercase, digits, and hyphens; must begin with letter, and cannot end with hyphen; must be less than 50 characters."
	// maxRevisionNameLen is the longest revision name: a Kubernetes DNS label (Knative).
	maxRevisionNameLen = 63
	// deleteRetention is how long a deleted resource is kept: expireTime = deleteTime + 30 days
	// (recorded in realapi/run/service-v2-crud-real.vcr.yaml, the DELETE response).
	deleteRetention = 30 * 24 * time.Hour
	// executionSuffixLen is the length of the random part of an execution name: JOB-xxxxx
	// (Cloud Run docs, "Execute jobs": executions are named after the job plus 5 characters).
	executionSuffixLen = 5
	// revisionSuffixLen is the length of the random part of a revision name, NAME-00001-8bw
	// (recorded in the vcr cassette).
	revisionSuffixLen = 3
	// caller is who the emulator records as creator and last modifier (no authentication).
	caller = "user@example.com"
)

var (
	idRE    = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	labelRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

func validID(id string) bool { return len(id) <= maxIDLen && idRE.MatchString(id) }

// validLabel reports whether s is an RFC 1035 label (lower case), as tags and names use.
func validLabel(s string) bool { return labelRE.MatchString(s) }

// errViolation is Cloud Run's INVALID_ARGUMENT shape: "Violation in FIELD: DESC" with a
// BadRequest detail whose field is "Violation in FIELD" (quoted in magic-modules#10173).
func errViolation(field, desc string) error {
	st := status.New(codes.InvalidArgument, "Violation in "+field+": "+desc)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "Violation in " + field, Description: desc},
	}}); err == nil {
		st = d
	}
	return st.Err()
}

// Resource kinds as Cloud Run names them in NOT_FOUND messages.
const (
	kindService    = "SERVICE"
	kindRevision   = "REVISION"
	kindJob        = "JOB"
	kindExecution  = "EXECUTION"
	kindWorkerPool = "WORKER_POOL"
)

// errNotFound is Cloud Run's NOT_FOUND message, e.g. "Resource 'x' of kind 'SERVICE' in region
// 'us-central1' in project 'p' does not exist." (quoted in GoogleCloudPlatform/generative-ai#1795).
func errNotFound(kind, id, region, project string) error {
	return status.Errorf(codes.NotFound, "Resource '%s' of kind '%s' in region '%s' in project '%s' does not exist.", id, kind, region, project)
}

// errAlreadyExists is Cloud Run's ALREADY_EXISTS message (HTTP 409 "Resource 'x' already exists.").
func errAlreadyExists(id string) error {
	return status.Errorf(codes.AlreadyExists, "Resource '%s' already exists.", id)
}

// errEtag is the ABORTED error of a stale etag (AIP-154: ABORTED, HTTP 409).
func errEtag(kind string) error {
	return status.Errorf(codes.Aborted, "etag mismatch: the %s was modified; read it again and retry", strings.ToLower(strings.ReplaceAll(kind, "_", " ")))
}

// loc is a project and a region.
type loc struct{ project, region string }

func (l loc) parent() string { return "projects/" + l.project + "/locations/" + l.region }

// parseParent reads projects/P/locations/L; L must be a region the emulator knows.
func parseParent(parent string) (loc, error) {
	p := strings.Split(parent, "/")
	if len(p) != 4 || p[0] != "projects" || p[2] != "locations" || p[1] == "" || p[3] == "" {
		return loc{}, status.Errorf(codes.InvalidArgument, "Invalid parent %q: want projects/PROJECT/locations/LOCATION.", parent)
	}
	if !world.IsRegion(p[3]) {
		return loc{}, status.Errorf(codes.InvalidArgument, "Location '%s' is not a valid Cloud Run region.", p[3])
	}
	return loc{p[1], p[3]}, nil
}

// parseName reads projects/P/locations/L/COLLECTION/ID.
func parseName(name, collection string) (loc, string, error) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[4] != collection || p[5] == "" {
		return loc{}, "", status.Errorf(codes.InvalidArgument, "Invalid resource name %q: want projects/PROJECT/locations/LOCATION/%s/ID.", name, collection)
	}
	l, err := parseParent(strings.Join(p[:4], "/"))
	if err != nil {
		return loc{}, "", err
	}
	return l, p[5], nil
}

// parseChildName reads projects/P/locations/L/PARENTCOLL/PARENT/CHILDCOLL/ID and returns the
// location, the parent's full name and the id. parentColls lists the accepted parent
// collections.
func parseChildName(name, childColl string, parentColls ...string) (loc, string, string, error) {
	p := strings.Split(name, "/")
	ok := len(p) == 8 && p[6] == childColl && p[7] != "" && p[5] != ""
	if ok {
		ok = false
		for _, c := range parentColls {
			ok = ok || p[4] == c
		}
	}
	if !ok {
		return loc{}, "", "", status.Errorf(codes.InvalidArgument, "Invalid resource name %q: want projects/PROJECT/locations/LOCATION/%s/PARENT/%s/ID.", name, parentColls[0], childColl)
	}
	l, err := parseParent(strings.Join(p[:4], "/"))
	if err != nil {
		return loc{}, "", "", err
	}
	return l, strings.Join(p[:6], "/"), p[7], nil
}

// lastSegment returns what follows the last "/".
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// projectNumber returns the project number the emulator gives a project id (shared with
// Compute, so the default service account matches the number projects.get reports).
func projectNumber(project string) string {
	return strconv.FormatUint(world.ProjectNumber(project), 10)
}

// defaultServiceAccount is the Compute Engine default service account Cloud Run runs as when
// none is set: PROJECT_NUMBER-compute@developer.gserviceaccount.com (recorded in the vcr).
func defaultServiceAccount(project string) string {
	return projectNumber(project) + "-compute@developer.gserviceaccount.com"
}

// regionCodes are the short codes of run.app URLs (https://NAME-HASH-CODE.a.run.app; the
// cassette shows "uc" for us-central1; Cloud Run docs, "URLs": region codes). Regions missing
// here get a code made of the initials of their two words.
var regionCodes = map[string]string{
	"asia-east1": "de", "asia-east2": "df", "asia-northeast1": "an", "asia-northeast2": "dt",
	"asia-northeast3": "du", "asia-south1": "el", "asia-southeast1": "as", "asia-southeast2": "et",
	"australia-southeast1": "ts", "australia-southeast2": "km", "europe-central2": "lm",
	"europe-north1": "lz", "europe-west1": "ew", "europe-west2": "nw", "europe-west3": "ey",
	"europe-west4": "ez", "europe-west6": "oa", "northamerica-northeast1": "nn",
	"northamerica-northeast2": "pd", "southamerica-east1": "rj", "us-central1": "uc",
	"us-east1": "ue", "us-east4": "uk", "us-west1": "uw", "us-west2": "wl", "us-west3": "wm",
	"us-west4": "wn",
}

func regionCode(region string) string {
	if c, ok := regionCodes[region]; ok {
		return c
	}
	parts := strings.Split(region, "-")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "xx"
	}
	return parts[0][:1] + parts[1][:1]
}

// projectHash is the 10-character, per-project part of legacy run.app URLs ("7id3oidh4q" in
// the cassette); the emulator derives it from the project id.
func projectHash(project string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte("run.app/" + project))
	s := strconv.FormatUint(h.Sum64(), 36)
	for len(s) < 10 {
		s += "0"
	}
	return s[:10]
}

// serviceURI is the service's legacy URL, https://NAME-HASH-CODE.a.run.app, which the API
// returns in uri; tagged revisions are reached at https://TAG---NAME-HASH-CODE.a.run.app.
func serviceURI(l loc, id, tag string) string {
	host := id + "-" + projectHash(l.project) + "-" + regionCode(l.region) + ".a.run.app"
	if tag != "" {
		host = tag + "---" + host
	}
	return "https://" + host
}

// serviceURLs are the service's URLs: the deterministic https://NAME-PROJECT_NUMBER.REGION.run.app
// first, then the legacy one (Cloud Run docs, "URLs").
func serviceURLs(l loc, id string) []string {
	return []string{"https://" + id + "-" + projectNumber(l.project) + "." + l.region + ".run.app", serviceURI(l, id, "")}
}

// etagFor is Cloud Run's etag: the quoted, unpadded base64 of the update time (a
// google.protobuf.Timestamp) and of the resource name, separated by "/" (the cassette's etags
// decode so, and change exactly when updateTime does).
func etagFor(name string, updated *timestamppb.Timestamp) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(updated)
	if err != nil {
		panic(fmt.Sprintf("marshal timestamp: %v", err))
	}
	return `"` + base64.RawURLEncoding.EncodeToString(b) + "/" + base64.RawURLEncoding.EncodeToString([]byte(name)) + `"`
}

// stamp returns the current virtual time, strictly after prev (so that two changes never share
// an update time, and so an etag).
func stamp(w *world.World, prev *timestamppb.Timestamp) *timestamppb.Timestamp {
	now := w.Now()
	if prev != nil && !now.After(prev.AsTime()) {
		now = prev.AsTime().Add(time.Microsecond)
	}
	return timestamppb.New(now)
}

// logURI is the Cloud Logging link Cloud Run gives revisions and executions.
func logURI(project, resourceType, labels string) string {
	return "https://console.cloud.google.com/logs/viewer?project=" + project + "&resource=" + resourceType + "/" + labels
}

// pageBounds turns a page token (an offset the emulator issued) and a page size into the
// slice bounds of a listing of n items, and the next page token.
func pageBounds(token string, size int32, n int) (start, end int, next string, err error) {
	if token != "" {
		b, derr := base64.RawURLEncoding.DecodeString(token)
		v, perr := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if derr != nil || perr != nil || !strings.HasPrefix(string(b), "offset:") || v < 0 {
			return 0, 0, "", status.Errorf(codes.InvalidArgument, "Invalid page token %q.", token)
		}
		start = v
	}
	if start > n {
		start = n
	}
	if size <= 0 || size > maxPageSize {
		size = maxPageSize
	}
	end = start + int(size)
	if end >= n {
		return start, n, "", nil
	}
	return start, end, base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end))), nil
}

// maxPageSize is the page size of list calls that ask for none or for more.
const maxPageSize = 100
