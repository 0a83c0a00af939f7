package restgw

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
)

func TestTemplates(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		want       map[string]string // nil: no match
	}{
		{"/v2/{name=projects/*/locations/*/services/*}", "/v2/projects/p/locations/l/services/s", map[string]string{"name": "projects/p/locations/l/services/s"}},
		{"/v2/{name=projects/*/locations/*/services/*}", "/v2/projects/p/locations/l/services", nil},
		{"/v2/{name=projects/*/locations/*/services/*}", "/v2/projects/p/locations/l/services/s/revisions/r", nil},
		{"/v2/{name=projects/*/locations/*/services/*}", "/v2/projects/p/locations/l/services/s:getIamPolicy", nil},
		{"/v2/{name=projects/*/locations/*/services/*}", "/v2/projects/p/locations/l/jobs/s", nil},
		{"/v2/{name=projects/*/locations/*/services/*}", "/v2/projects/p/locations//services/s", nil},
		{"/v2/{parent=projects/*/locations/*}/services", "/v2/projects/p/locations/l/services", map[string]string{"parent": "projects/p/locations/l"}},
		{"/v2/{resource=projects/*/locations/*/services/*}:getIamPolicy", "/v2/projects/p/locations/l/services/s:getIamPolicy", map[string]string{"resource": "projects/p/locations/l/services/s"}},
		{"/v2/{resource=projects/*/locations/*/services/*}:getIamPolicy", "/v2/projects/p/locations/l/services/s:setIamPolicy", nil},
		{"/v2/{service.name=projects/*/locations/*/services/*}", "/v2/projects/p/locations/l/services/a%20b", map[string]string{"service.name": "projects/p/locations/l/services/a b"}},
		{"/v1/{name=operations/**}", "/v1/operations/a/b/c", map[string]string{"name": "operations/a/b/c"}},
		{"/v1/{name=operations/**}", "/v1/operations", map[string]string{"name": "operations"}},
		{"/v1/{name}/x/{id}", "/v1/a/x/b", map[string]string{"name": "a", "id": "b"}},
	} {
		tm, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("parse %s: %v", tc.tmpl, err)
		}
		segs, verb, ok := splitPath(tc.path)
		if !ok {
			t.Fatalf("split %s", tc.path)
		}
		got, matched := tm.match(segs, verb)
		if tc.want == nil {
			if matched {
				t.Errorf("%s matched %s: %v", tc.tmpl, tc.path, got)
			}
			continue
		}
		if !matched || len(got) != len(tc.want) {
			t.Errorf("%s on %s = %v, %v; want %v", tc.tmpl, tc.path, got, matched, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s on %s: %s = %q, want %q", tc.tmpl, tc.path, k, got[k], v)
			}
		}
	}
	for _, bad := range []string{"v1/x", "/v1/{name", "/v1/**/x", "/v1/{=x}", "/v1/", "/v1/a//b"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q) accepted", bad)
		}
	}
}

// recorder is the gRPC side of the gateway in these tests: it keeps the last call and answers
// with reply or err.
type recorder struct {
	method string
	req    proto.Message
	md     metadata.MD
	reply  proto.Message
	err    error
}

func (r *recorder) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	r.method = method
	r.req = proto.Clone(args.(proto.Message))
	r.md, _ = metadata.FromOutgoingContext(ctx)
	if r.err != nil {
		return r.err
	}
	if r.reply != nil {
		proto.Merge(reply.(proto.Message), r.reply)
	}
	return nil
}

func (r *recorder) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}

func newGateway(t *testing.T) (*Gateway, *recorder) {
	t.Helper()
	rec := &recorder{}
	g, err := New(Config{
		Conn:     rec,
		Services: []string{"google.cloud.run.v2.Services", "google.longrunning.Operations"},
		Rules:    runapi.HTTPRules(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, rec
}

func do(t *testing.T, g *Gateway, method, target, body string, hdr ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rw := httptest.NewRecorder()
	g.ServeHTTP(rw, req)
	b, _ := io.ReadAll(rw.Result().Body)
	return rw.Code, string(b)
}

func TestTranscodesRequests(t *testing.T) {
	g, rec := newGateway(t)
	const svc = "projects/p/locations/l/services/s"
	for _, tc := range []struct {
		name, method, target, body string
		rpc                        string
		want                       proto.Message
	}{
		{"get", "GET", "/v2/" + svc + "?alt=json&prettyPrint=false", "", "/google.cloud.run.v2.Services/GetService",
			&runpb.GetServiceRequest{Name: svc}},
		{"list with paging", "GET", "/v2/projects/p/locations/l/services?pageSize=5&pageToken=abc&showDeleted=True", "", "/google.cloud.run.v2.Services/ListServices",
			&runpb.ListServicesRequest{Parent: "projects/p/locations/l", PageSize: 5, PageToken: "abc", ShowDeleted: true}},
		{"create: body field plus query", "POST", "/v2/projects/p/locations/l/services?serviceId=s&validateOnly=true", `{"ingress":"INGRESS_TRAFFIC_ALL","template":{"vpcAccess":{"egress":"ALL_TRAFFIC"}}}`,
			"/google.cloud.run.v2.Services/CreateService",
			&runpb.CreateServiceRequest{Parent: "projects/p/locations/l", ServiceId: "s", ValidateOnly: true, Service: &runpb.Service{
				Ingress: runpb.IngressTraffic_INGRESS_TRAFFIC_ALL, Template: &runpb.RevisionTemplate{VpcAccess: &runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC}}}}},
		{"update: nested path variable, updateMask in lowerCamel, enum numbers in the body", "PATCH",
			"/v2/" + svc + "?updateMask=template.vpcAccess,labels&allowMissing=1&forceNewRevision=false&%24alt=json%3Benum-encoding%3Dint",
			`{"name":"ignored","template":{"vpcAccess":{"egress":1}}}`,
			"/google.cloud.run.v2.Services/UpdateService",
			&runpb.UpdateServiceRequest{AllowMissing: true, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"template.vpc_access", "labels"}},
				Service: &runpb.Service{Name: svc, Template: &runpb.RevisionTemplate{VpcAccess: &runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC}}}}},
		{"delete with etag", "DELETE", "/v2/" + svc + "?etag=%22abc%22&validateOnly=false", "", "/google.cloud.run.v2.Services/DeleteService",
			&runpb.DeleteServiceRequest{Name: svc, Etag: `"abc"`}},
		{"custom verb, nested query field", "GET", "/v2/" + svc + ":getIamPolicy?options.requestedPolicyVersion=3", "", "/google.cloud.run.v2.Services/GetIamPolicy",
			&iampb.GetIamPolicyRequest{Resource: svc, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}}},
		{"wait: operations mixin from the service config, body *", "POST", "/v2/projects/p/locations/l/operations/o1:wait", `{"timeout":"5s"}`,
			"/google.longrunning.Operations/WaitOperation",
			&longrunningpb.WaitOperationRequest{Name: "projects/p/locations/l/operations/o1", Timeout: durationpb.New(5e9)}},
		{"unknown body fields are ignored", "POST", "/v2/projects/p/locations/l/services?serviceId=s", `{"ingress":"INGRESS_TRAFFIC_ALL","futureField":{"x":1}}`,
			"/google.cloud.run.v2.Services/CreateService",
			&runpb.CreateServiceRequest{Parent: "projects/p/locations/l", ServiceId: "s", Service: &runpb.Service{Ingress: runpb.IngressTraffic_INGRESS_TRAFFIC_ALL}}},
		{"unknown query parameters are ignored", "GET", "/v2/projects/p/locations/l/operations?pageSize=2&newerField=1&filter=done%3Dtrue", "",
			"/google.longrunning.Operations/ListOperations",
			&longrunningpb.ListOperationsRequest{Name: "projects/p/locations/l", PageSize: 2, Filter: "done=true"}},
	} {
		rec.reply = nil
		code, body := do(t, g, tc.method, tc.target, tc.body)
		if code != 200 {
			t.Errorf("%s: %d %s", tc.name, code, body)
			continue
		}
		if rec.method != tc.rpc {
			t.Errorf("%s: called %s, want %s", tc.name, rec.method, tc.rpc)
		}
		if tc.want != nil && !proto.Equal(rec.req, tc.want) {
			t.Errorf("%s: request\n  %v\nwant\n  %v", tc.name, rec.req, tc.want)
		}
	}
}

func TestResponsesAndHeaders(t *testing.T) {
	g, rec := newGateway(t)
	rec.reply = &runpb.Service{Name: "projects/p/locations/l/services/s", Generation: 12345678901234, Ingress: runpb.IngressTraffic_INGRESS_TRAFFIC_ALL}
	code, body := do(t, g, "GET", "/v2/projects/p/locations/l/services/s?prettyPrint=false", "", "Authorization", "Bearer tok", "X-Goog-User-Project", "q")
	want := `{"name":"projects/p/locations/l/services/s","generation":"12345678901234","ingress":"INGRESS_TRAFFIC_ALL"}`
	if code != 200 || body != want {
		t.Errorf("answer = %d %s\nwant %s", code, body, want)
	}
	if got := rec.md.Get("authorization"); len(got) != 1 || got[0] != "Bearer tok" {
		t.Errorf("authorization metadata = %v", got)
	}
	if got := rec.md.Get("x-goog-user-project"); len(got) != 1 || got[0] != "q" {
		t.Errorf("x-goog-user-project metadata = %v", got)
	}
	_, body = do(t, g, "GET", "/v2/projects/p/locations/l/services/s?%24alt=json%3Benum-encoding%3Dint&%24prettyPrint=false", "")
	if !strings.Contains(body, `"ingress":1`) {
		t.Errorf("enum-encoding=int answer = %s", body)
	}
	_, body = do(t, g, "GET", "/v2/projects/p/locations/l/services/s", "")
	if !strings.Contains(body, "\n  \"name\": \"projects/p/locations/l/services/s\",\n") {
		t.Errorf("default (pretty) answer = %s", body)
	}
}

func TestErrors(t *testing.T) {
	g, rec := newGateway(t)
	info, _ := anypb.New(&errdetails.ErrorInfo{Reason: "SERVICE_DISABLED", Domain: "googleapis.com"})
	st, _ := status.New(codes.PermissionDenied, "denied").WithDetails()
	stp := st.Proto()
	stp.Details = append(stp.Details, info)
	rec.err = status.ErrorProto(stp)
	code, body := do(t, g, "GET", "/v2/projects/p/locations/l/services/s?prettyPrint=false", "")
	want := `{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com"}]}}`
	var got, exp any
	_ = json.Unmarshal([]byte(body), &got)
	_ = json.Unmarshal([]byte(want), &exp)
	gb, _ := json.Marshal(got)
	eb, _ := json.Marshal(exp)
	if code != 403 || string(gb) != string(eb) {
		t.Errorf("error answer = %d %s\nwant %s", code, body, want)
	}
	rec.err = nil
	for _, tc := range []struct{ method, target, body string }{
		{"POST", "/v2/projects/p/locations/l/services?serviceId=s", `{"ingress":`},
		{"POST", "/v2/projects/p/locations/l/services?serviceId=s", `{"ingress":"NOT_A_VALUE"}`},
		{"GET", "/v2/projects/p/locations/l/services?pageSize=many", ""},
		{"GET", "/v2/projects/p/locations/l/services?showDeleted=maybe", ""},
	} {
		code, body := do(t, g, tc.method, tc.target, tc.body)
		if code != 400 || !strings.Contains(body, `"status": "INVALID_ARGUMENT"`) {
			t.Errorf("%s %s %s = %d %s, want 400 INVALID_ARGUMENT", tc.method, tc.target, tc.body, code, body)
		}
	}
	for _, tc := range []struct{ method, target string }{
		{"PUT", "/v2/projects/p/locations/l/services/s"},
		{"GET", "/v2/projects/p/locations/l/instances/i"},
		{"GET", "/v1/projects/p/locations/l/operations/o"}, // the Run config binds operations under /v2 only
	} {
		if code, body := do(t, g, tc.method, tc.target, ""); code != http.StatusNotFound || !strings.Contains(body, `"NOT_FOUND"`) {
			t.Errorf("%s %s = %d %s, want a JSON 404", tc.method, tc.target, code, body)
		}
	}
	for c, want := range map[codes.Code]int{
		codes.InvalidArgument: 400, codes.FailedPrecondition: 400, codes.OutOfRange: 400, codes.Unauthenticated: 401,
		codes.PermissionDenied: 403, codes.NotFound: 404, codes.AlreadyExists: 409, codes.Aborted: 409,
		codes.ResourceExhausted: 429, codes.Canceled: 499, codes.Internal: 500, codes.Unknown: 500, codes.DataLoss: 500,
		codes.Unimplemented: 501, codes.Unavailable: 503, codes.DeadlineExceeded: 504,
	} {
		if got := httpStatus(c); got != want {
			t.Errorf("httpStatus(%v) = %d, want %d", c, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	rec := &recorder{}
	if _, err := New(Config{Conn: rec, Services: []string{"no.such.Service"}}); err == nil {
		t.Error("unknown service accepted")
	}
	if _, err := New(Config{Conn: rec, Services: []string{"google.cloud.run.v2.Services"}, Rules: runapi.HTTPRules()}); err == nil {
		t.Error("rules for a service not configured accepted")
	}
	bad := []*annotations.HttpRule{{Selector: "google.longrunning.Operations.GetOperation", Pattern: &annotations.HttpRule_Get{Get: "/v2/{nosuchfield=projects/*}"}}}
	if _, err := New(Config{Conn: rec, Services: []string{"google.longrunning.Operations"}, Rules: bad}); err == nil {
		t.Error("rule binding a missing field accepted")
	}
}
