// Package restgw serves gRPC services over HTTP/JSON the way Google's API front end does, so
// that REST clients (the discovery-based google.golang.org/api clients, the cloud.google.com/go
// clients in REST mode, gcloud, Terraform's google provider, the Node and Python libraries
// with their REST transports) work against the emulator's gRPC services unchanged.
//
// Routes are not written by hand: they are read at start from the google.api.http options of
// the services' method descriptors (the bindings compiled into the generated Go packages), and,
// for the mixin services an API's service configuration binds (google.longrunning.Operations,
// google.cloud.location.Locations), from HTTP rules that the caller passes in the same
// google.api.HttpRule form. Each HTTP request is transcoded into the method's request message
// (path variables, then the body, then query parameters, per google/api/http.proto) and sent to
// the gRPC server through an in-process client connection, so it passes through exactly the
// same interceptors (latency, faults, call counts, authentication) and handlers as a gRPC call.
// The response is written with protojson (lowerCamelCase names, enums as names, 64-bit integers
// as strings, Timestamp/Duration/Any in their JSON forms) and errors in Google's JSON error
// shape {"error":{"code","message","status","details"}} with the standard mapping of gRPC codes
// to HTTP statuses.
//
// Why not grpc-gateway: its runtime is driven by code generated per proto (one handler per
// method, compiled from the .proto files), which would mean vendoring generated code for every
// Run v2 and VPC Access v1 method and regenerating it with every client library update. The
// descriptors linked into the binary already carry the bindings; reading them keeps the REST
// surface exactly in step with the gRPC one with no generated or hand-written mapping.
//
// Deliberate leniencies: unknown JSON fields and unknown query parameters are ignored (and
// logged) rather than refused, so that clients built against a newer revision of an API than
// the emulator's descriptors still work (a value that is not a name of its enum is still
// refused); system parameters (alt, $alt, prettyPrint, fields,
// key, quotaUser, ...) are accepted, and $alt=json;enum-encoding=int makes enums numbers in
// the response as the cloud.google.com/go REST clients ask.
package restgw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Error details (ErrorInfo, BadRequest, ...) must resolve when errors are written as JSON.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
)

// PathMetadata is the gRPC metadata key under which a transcoded call carries its HTTP path,
// so that a service that several APIs share (google.longrunning.Operations) can tell which
// API was called: /v2/... is Run's, /v1/... VPC Access's.
const PathMetadata = "x-restgw-http-path"

// maxBodyBytes bounds a request body.
const maxBodyBytes = 10 << 20

// Config says what a Gateway serves.
type Config struct {
	// Conn carries the transcoded calls to the gRPC server.
	Conn grpc.ClientConnInterface
	// Services are the full names of the gRPC services to serve (e.g.
	// "google.cloud.run.v2.Services"). Their descriptors must be linked into the binary.
	Services []string
	// Rules are HTTP rules of the APIs' service configurations, each with its selector (the
	// full method name, "google.longrunning.Operations.GetOperation"). A service that any rule
	// selects is served by its rules only, as a mixin is; the others by the google.api.http
	// options of their methods.
	Rules []*annotations.HttpRule
	// NotFound answers requests that match no route; nil answers a Google JSON 404.
	NotFound http.Handler
	// Log receives requests the gateway had to interpret leniently; nil discards it.
	Log *slog.Logger
}

// Gateway is an http.Handler serving the configured services over HTTP/JSON.
type Gateway struct {
	conn     grpc.ClientConnInterface
	routes   []*route
	notFound http.Handler
	log      *slog.Logger
}

type route struct {
	verb         string // HTTP method
	tmpl         *template
	body         string // "", "*" or a field name
	responseBody string
	fullMethod   string // "/package.Service/Method"
	in, out      protoreflect.MessageType
}

// Route describes one HTTP binding, for documentation and tests.
type Route struct {
	HTTPMethod string // GET, POST, ...
	Path       string // the path template, e.g. /v2/{name=projects/*/locations/*/services/*}
	Body       string
	RPC        string // full gRPC method, e.g. google.cloud.run.v2.Services/GetService
}

// New reads the bindings of cfg.Services and returns a gateway serving them.
func New(cfg Config) (*Gateway, error) {
	if cfg.Conn == nil {
		return nil, errors.New("restgw: no client connection")
	}
	g := &Gateway{conn: cfg.Conn, notFound: cfg.NotFound, log: cfg.Log}
	if g.notFound == nil {
		g.notFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, codes.NotFound, fmt.Sprintf("The requested URL %s was not found on this server.", r.URL.Path))
		})
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	bySelector := map[string][]*annotations.HttpRule{}
	mixin := map[string]bool{}
	for _, r := range cfg.Rules {
		bySelector[r.GetSelector()] = append(bySelector[r.GetSelector()], r)
		if i := strings.LastIndexByte(r.GetSelector(), '.'); i > 0 {
			mixin[r.GetSelector()[:i]] = true
		}
	}
	used := map[string]bool{}
	for _, name := range cfg.Services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("restgw: service %s: %w", name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("restgw: %s is not a service", name)
		}
		methods := sd.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			if md.IsStreamingClient() || md.IsStreamingServer() {
				continue
			}
			selector := string(md.FullName())
			var rules []*annotations.HttpRule
			if mixin[name] {
				rules = bySelector[selector]
				used[selector] = len(rules) > 0
			} else if r, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); ok && r != nil {
				rules = []*annotations.HttpRule{r}
			}
			for _, r := range rules {
				if err := g.addRule(md, r); err != nil {
					return nil, err
				}
				for _, ab := range r.GetAdditionalBindings() {
					if err := g.addRule(md, ab); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	for sel := range bySelector {
		if !used[sel] {
			return nil, fmt.Errorf("restgw: HTTP rule for %s, which no configured service has", sel)
		}
	}
	return g, nil
}

func (g *Gateway) addRule(md protoreflect.MethodDescriptor, r *annotations.HttpRule) error {
	var verb, path string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		verb, path = http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		verb, path = http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		verb, path = http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		verb, path = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		verb, path = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		verb, path = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return fmt.Errorf("restgw: %s: HTTP rule without a pattern", md.FullName())
	}
	tmpl, err := parseTemplate(path)
	if err != nil {
		return fmt.Errorf("restgw: %s: %w", md.FullName(), err)
	}
	in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		return fmt.Errorf("restgw: %s: request type: %w", md.FullName(), err)
	}
	out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return fmt.Errorf("restgw: %s: response type: %w", md.FullName(), err)
	}
	for _, v := range tmpl.vars {
		fd, err := fieldPath(md.Input(), v.field)
		if err != nil {
			return fmt.Errorf("restgw: %s: path %s: %w", md.FullName(), path, err)
		}
		if fd.Kind() != protoreflect.StringKind || fd.IsList() {
			return fmt.Errorf("restgw: %s: path variable %s is not a string field", md.FullName(), v.field)
		}
	}
	if b := r.GetBody(); b != "" && b != "*" {
		if md.Input().Fields().ByName(protoreflect.Name(b)) == nil {
			return fmt.Errorf("restgw: %s: body field %s not found", md.FullName(), b)
		}
	}
	if b := r.GetResponseBody(); b != "" && md.Output().Fields().ByName(protoreflect.Name(b)) == nil {
		return fmt.Errorf("restgw: %s: response body field %s not found", md.FullName(), b)
	}
	g.routes = append(g.routes, &route{
		verb: verb, tmpl: tmpl, body: r.GetBody(), responseBody: r.GetResponseBody(),
		fullMethod: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		in:         in, out: out,
	})
	return nil
}

// Routes lists the HTTP bindings served, sorted by path and method.
func (g *Gateway) Routes() []Route {
	out := make([]Route, 0, len(g.routes))
	for _, r := range g.routes {
		out = append(out, Route{HTTPMethod: r.verb, Path: r.tmpl.raw, Body: r.body, RPC: strings.TrimPrefix(r.fullMethod, "/")})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].HTTPMethod < out[j].HTTPMethod
	})
	return out
}

// match finds the route of a request and the values of its path variables.
func (g *Gateway) match(method, escapedPath string) (*route, map[string]string) {
	segs, verb, ok := splitPath(escapedPath)
	if !ok {
		return nil, nil
	}
	for _, rt := range g.routes {
		if rt.verb != method {
			continue
		}
		if vals, ok := rt.tmpl.match(segs, verb); ok {
			return rt, vals
		}
	}
	return nil, nil
}

// ServeHTTP transcodes one call.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, vars := g.match(r.Method, r.URL.EscapedPath())
	if rt == nil {
		g.notFound.ServeHTTP(w, r)
		return
	}
	sys, query := systemParams(r.URL.Query())
	req := rt.in.New().Interface()
	if err := g.decode(r, rt, vars, query, req); err != nil {
		writeStatus(w, status.Convert(err), sys.pretty)
		return
	}
	md := forwardedHeaders(r.Header)
	md.Set(PathMetadata, r.URL.Path)
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	resp := rt.out.New().Interface()
	if err := g.conn.Invoke(ctx, rt.fullMethod, req, resp); err != nil {
		writeStatus(w, status.Convert(err), sys.pretty)
		return
	}
	out := resp
	if rt.responseBody != "" {
		fd := resp.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(rt.responseBody))
		if fd.Message() == nil {
			WriteError(w, codes.Internal, "response_body of a scalar field is not supported")
			return
		}
		out = resp.ProtoReflect().Get(fd).Message().Interface()
	}
	b, err := sys.marshal(out)
	if err != nil {
		WriteError(w, codes.Internal, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// decode fills req from the body, the path variables and the query parameters, in that order
// of precedence reversed: path variables win over the body, and query parameters only set
// fields neither binds.
func (g *Gateway) decode(r *http.Request, rt *route, vars map[string]string, query map[string][]string, req proto.Message) error {
	if rt.body != "" {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "Could not read the request body: %v", err)
		}
		if len(b) > maxBodyBytes {
			return status.Error(codes.InvalidArgument, "Request body too large.")
		}
		if err := g.unmarshalBody(b, rt.body, req); err != nil {
			return err
		}
	}
	for field, v := range vars {
		if err := setField(req.ProtoReflect(), field, []string{v}); err != nil {
			return status.Errorf(codes.InvalidArgument, "Invalid value at path variable %q: %v", field, err)
		}
	}
	if rt.body == "*" {
		if len(query) > 0 {
			g.log.Debug("restgw: query parameters ignored (the body binds every field)", "method", rt.fullMethod, "params", keys(query))
		}
		return nil
	}
	for _, name := range keys(query) {
		first, _, _ := strings.Cut(name, ".")
		if _, bound := vars[name]; bound || (rt.body != "" && isField(req.ProtoReflect().Descriptor(), first, rt.body)) {
			continue
		}
		if err := setField(req.ProtoReflect(), name, query[name]); err != nil {
			var unknown *unknownFieldError
			if errors.As(err, &unknown) {
				g.log.Info("restgw: unknown query parameter ignored", "method", rt.fullMethod, "param", name)
				continue
			}
			return status.Errorf(codes.InvalidArgument, "Invalid value at '%s', %q: %v", name, strings.Join(query[name], ","), err)
		}
	}
	return nil
}

func (g *Gateway) unmarshalBody(b []byte, field string, req proto.Message) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	target := req.ProtoReflect()
	var fd protoreflect.FieldDescriptor
	if field != "*" {
		fd = target.Descriptor().Fields().ByName(protoreflect.Name(field))
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return status.Errorf(codes.Unimplemented, "body field %s is not a message", field)
		}
		target = target.Mutable(fd).Message()
	}
	err := protojson.Unmarshal(b, target.Interface())
	if err != nil && strings.Contains(err.Error(), "unknown field") {
		// A field this revision of the API does not have: ignore it (see the package doc).
		g.log.Info("restgw: unknown JSON fields ignored", "message", target.Descriptor().FullName(), "err", err)
		proto.Reset(target.Interface())
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, target.Interface())
	}
	if err != nil {
		where := ""
		if fd != nil {
			where = fmt.Sprintf(" at '%s'", fd.JSONName())
		}
		return status.Errorf(codes.InvalidArgument, "Invalid JSON payload received%s. %v", where, err)
	}
	return nil
}

// isField reports whether name (a JSON or proto name) names the field called want.
func isField(md protoreflect.MessageDescriptor, name, want string) bool {
	fd := findField(md, name)
	return fd != nil && string(fd.Name()) == want
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// forwardedHeaders are the request headers passed to the gRPC server as metadata: the
// credentials and Google's own headers (x-goog-*), as Google's front end passes them on.
func forwardedHeaders(h http.Header) metadata.MD {
	md := metadata.MD{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "authorization" || strings.HasPrefix(lk, "x-goog-") {
			md[lk] = append(md[lk], vs...)
		}
	}
	return md
}

// sysParams are the system parameters that shape the response.
type sysParams struct {
	enumInts bool
	pretty   bool
}

// marshal writes m as JSON, indented unless prettyPrint=false. protojson varies its
// whitespace on purpose; the output is re-formatted so that it is stable.
func (s sysParams) marshal(m proto.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseEnumNumbers: s.enumInts}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if s.pretty {
		err = json.Indent(&out, b, "", "  ")
	} else {
		err = json.Compact(&out, b)
	}
	return out.Bytes(), err
}

// systemParameters are the query parameters every Google API accepts besides the request's
// fields ("System Parameters" in Google's API design docs); a leading '$' is also accepted.
var systemParameters = map[string]bool{
	"alt": true, "prettyPrint": true, "fields": true, "key": true, "quotaUser": true,
	"userIp": true, "oauth_token": true, "access_token": true, "callback": true,
	"upload_protocol": true, "uploadType": true, ".xgafv": true, "outputDefaults": true,
	"userProject": true, "requestReason": true, "trace": true, "pp": true,
}

// systemParams splits the query into system parameters and request fields.
func systemParams(q map[string][]string) (sysParams, map[string][]string) {
	s := sysParams{pretty: true}
	fields := map[string][]string{}
	for k, vs := range q {
		name := strings.TrimPrefix(k, "$")
		if !systemParameters[name] {
			fields[k] = vs
			continue
		}
		if len(vs) == 0 {
			continue
		}
		v := vs[len(vs)-1]
		switch name {
		case "alt":
			for _, part := range strings.Split(v, ";") {
				if strings.TrimSpace(part) == "enum-encoding=int" {
					s.enumInts = true
				}
			}
		case "prettyPrint":
			if b, err := parseBool(v); err == nil {
				s.pretty = b
			}
		}
	}
	return s, fields
}

// httpStatus maps a gRPC code to its HTTP status (google/rpc/code.proto).
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default: // Unknown, Internal, DataLoss
		return http.StatusInternalServerError
	}
}

// codeNames are the canonical names of the gRPC codes, as the JSON error's status field
// spells them.
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
	codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// errorBody is Google's JSON error: {"error":{"code":404,"message":"…","status":"NOT_FOUND",
// "details":[…]}}.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// WriteError answers with a Google JSON error for code and message.
func WriteError(w http.ResponseWriter, code codes.Code, message string) {
	writeStatus(w, status.New(code, message), false)
}

// WriteStatus answers with the Google JSON error of a gRPC status.
func WriteStatus(w http.ResponseWriter, st *status.Status) { writeStatus(w, st, true) }

func writeStatus(w http.ResponseWriter, st *status.Status, pretty bool) {
	p := errorPayload{Code: httpStatus(st.Code()), Message: st.Message(), Status: codeNames[st.Code()]}
	if p.Status == "" {
		p.Status = "UNKNOWN"
	}
	for _, d := range st.Proto().GetDetails() {
		b, err := protojson.Marshal(d)
		if err != nil {
			continue // a detail whose type is not linked in cannot be written as JSON
		}
		p.Details = append(p.Details, b)
	}
	var b []byte
	var err error
	if pretty {
		b, err = json.MarshalIndent(errorBody{p}, "", "  ")
	} else {
		b, err = json.Marshal(errorBody{p})
	}
	if err != nil {
		b = []byte(`{"error":{"code":500,"message":"encode error","status":"INTERNAL"}}`)
		p.Code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(p.Code)
	_, _ = w.Write(b)
}
