package frontdoor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Paths the front door serves itself, besides the APIs.
const (
	PathToken    = "/token"
	PathSTS      = "/v1/token"
	PathMetadata = "/computeMetadata/v1/"
)

var generateAccessTokenRE = regexp.MustCompile(`^/v1/projects/[^/]+/serviceAccounts/([^/:]+):generateAccessToken$`)

// Handler wraps the emulator's HTTP handler: it serves the token endpoints, the metadata
// server and IAM Credentials itself, and checks the credential of every other request
// before passing it to next. Over plain HTTP only the metadata server and the control
// surface answer: Google's APIs are reached over TLS.
func (f *FrontDoor) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case f.opts.ControlPrefix != "" && strings.HasPrefix(p, f.opts.ControlPrefix):
			next.ServeHTTP(rw, r)
			return
		case strings.HasPrefix(p, PathMetadata) || p == "/computeMetadata/v1" || p == "/":
			f.serveMetadata(rw, r)
			return
		case r.TLS == nil:
			http.Error(rw, "This address serves Google's APIs over TLS (https://); over plain HTTP it serves only the metadata server ("+PathMetadata+") and the control surface.", http.StatusBadRequest)
			return
		case p == PathToken:
			f.serveToken(rw, r)
			return
		case p == PathSTS:
			f.serveSTS(rw, r)
			return
		}
		compute := strings.HasPrefix(p, "/compute/")
		c, aerr := f.authenticate(r.Header.Get("Authorization"), compute)
		f.record(r.Method+" "+p, r.Header.Get("X-Goog-User-Project"), c, aerr, r.Header.Get("Authorization") != "")
		if m := generateAccessTokenRE.FindStringSubmatch(p); m != nil {
			if aerr != nil {
				writeRESTAuthError(rw, aerr)
				return
			}
			f.generateAccessToken(rw, r, m[1], c)
			return
		}
		if m := generateIDTokenRE.FindStringSubmatch(p); m != nil {
			if aerr != nil {
				writeRESTAuthError(rw, aerr)
				return
			}
			f.generateIDToken(rw, r, m[1])
			return
		}
		if aerr != nil && (f.opts.RequireAuth || aerr.scope) {
			writeRESTAuthError(rw, aerr)
			return
		}
		next.ServeHTTP(rw, r.WithContext(callerContext(r.Context(), c)))
	})
}

// callerContext is ctx of a call whose credential was checked: it carries the caller's
// principal for the APIs' permission checks (none without a valid credential: an unknown
// caller, granted everything), and the mark ForwardCaller passes to the gRPC server.
func callerContext(ctx context.Context, c *caller) context.Context {
	if c == nil {
		return withChecked(ctx, "")
	}
	return withChecked(world.WithPrincipal(ctx, c.principal), c.principal)
}

// writeRESTAuthError writes Google's JSON error for a refused credential: 401
// UNAUTHENTICATED (403 PERMISSION_DENIED for a missing scope), with the errors[] entry
// Compute adds.
func writeRESTAuthError(rw http.ResponseWriter, e *authError) {
	code, st, reason, msg := http.StatusUnauthorized, "UNAUTHENTICATED", "authError", "Invalid Credentials"
	if e.reason == reasonMissing {
		reason, msg = "required", "Login Required."
	}
	if e.scope {
		code, st, reason, msg = http.StatusForbidden, "PERMISSION_DENIED", "insufficientPermissions", e.message
	}
	body := map[string]any{"code": code, "message": e.message, "status": st,
		"errors": []map[string]string{{"message": msg, "domain": "global", "reason": reason, "location": "Authorization", "locationType": "header"}}}
	if e.reason != "" {
		body["details"] = []map[string]any{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": e.reason, "domain": "googleapis.com"}}
	}
	if code == http.StatusUnauthorized {
		rw.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error": body})
}

func writeAPIError(rw http.ResponseWriter, code int, st, msg string) {
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": st}})
}

// generateAccessToken is IAM Credentials' projects.serviceAccounts.generateAccessToken:
// the caller (already authenticated) gets a token of the target service account, through
// the delegates in order.
func (f *FrontDoor) generateAccessToken(rw http.ResponseWriter, r *http.Request, target string, c *caller) {
	if r.Method != http.MethodPost {
		writeAPIError(rw, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "generateAccessToken takes POST")
		return
	}
	var req struct {
		Delegates []string `json:"delegates"`
		Scope     []string `json:"scope"`
		Lifetime  string   `json:"lifetime"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<20)).Decode(&req); err != nil {
		writeAPIError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.Scope) == 0 {
		writeAPIError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Scope required.")
		return
	}
	ttl := time.Hour
	if req.Lifetime != "" {
		secs, err := strconv.ParseFloat(strings.TrimSuffix(req.Lifetime, "s"), 64)
		if err != nil || !strings.HasSuffix(req.Lifetime, "s") || secs <= 0 || secs > 3600 {
			writeAPIError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("Invalid value at 'lifetime' (%q): must be between 1s and 3600s", req.Lifetime))
			return
		}
		ttl = time.Duration(secs * float64(time.Second))
	}
	chain := []string{}
	for _, d := range req.Delegates {
		chain = append(chain, strings.TrimPrefix(d, "projects/-/serviceAccounts/"))
	}
	chain = append(chain, target)
	f.mu.Lock()
	for _, sa := range chain {
		switch {
		case !f.saEmails[sa]:
			f.mu.Unlock()
			writeAPIError(rw, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Not found; Gaia id not found for email %s", sa))
			return
		case f.lockedSAs[sa] || f.revoked["serviceAccount:"+sa]:
			f.mu.Unlock()
			writeAPIError(rw, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
			return
		}
	}
	via := append([]string{c.principal}, chain[:len(chain)-1]...)
	tok, exp := f.issueLocked("serviceAccount:"+target, "generateAccessToken", req.Scope, via, ttl)
	f.mu.Unlock()
	writeJSON(rw, map[string]string{"accessToken": tok, "expireTime": exp.UTC().Truncate(time.Second).Format(time.RFC3339)})
}

// serveMetadata is the GCE metadata server, for clients pointed at it by GCE_METADATA_HOST:
// the project, the universe domain and the default service account's tokens.
func (f *FrontDoor) serveMetadata(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Metadata-Flavor", "Google")
	rw.Header().Set("Server", "Metadata Server for VM")
	if r.URL.Path == "/" {
		_, _ = fmt.Fprintln(rw, "computeMetadata/")
		return
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(rw, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(rw, "Request with X-Forwarded-For header refused", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(rw, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, PathMetadata)
	sa := f.MetadataServiceAccount()
	text := func(s string) {
		rw.Header().Set("Content-Type", "application/text")
		_, _ = fmt.Fprint(rw, s)
	}
	for _, alias := range []string{"default", sa} {
		prefix := "instance/service-accounts/" + alias + "/"
		if !strings.HasPrefix(p, prefix) && p != strings.TrimSuffix(prefix, "/") {
			continue
		}
		switch strings.TrimPrefix(p, prefix) {
		case "", strings.TrimSuffix(prefix, "/"):
			writeJSON(rw, map[string]any{"aliases": []string{"default"}, "email": sa, "scopes": []string{ScopeCloudPlatform}})
		case "email":
			text(sa)
		case "identity":
			f.serveIdentity(rw, r, sa)
		case "scopes":
			text(ScopeCloudPlatform + "\n")
		case "aliases":
			text("default\n")
		case "token":
			scopes := []string{ScopeCloudPlatform}
			if s := r.URL.Query().Get("scopes"); s != "" {
				scopes = strings.Split(s, ",")
			}
			f.mu.Lock()
			if f.revoked["serviceAccount:"+sa] {
				f.mu.Unlock()
				http.Error(rw, "The service account was disabled.", http.StatusForbidden)
				return
			}
			now := f.opts.Now()
			tok, exp := f.issueLocked("serviceAccount:"+sa, "metadata", scopes, nil, 0)
			f.mu.Unlock()
			writeJSON(rw, map[string]any{"access_token": tok, "expires_in": expiresIn(exp, now), "token_type": "Bearer"})
		default:
			http.NotFound(rw, r)
		}
		return
	}
	switch p {
	case "instance/service-accounts/", "instance/service-accounts":
		text("default/\n" + sa + "/\n")
	case "project/project-id":
		text(f.opts.Project)
	case "project/numeric-project-id":
		text(strconv.FormatUint(f.opts.ProjectNumber, 10))
	case "universe/universe-domain", "universe/universe_domain":
		text("googleapis.com")
	case "instance/zone":
		text(fmt.Sprintf("projects/%d/zones/asia-northeast1-a", f.opts.ProjectNumber))
	case "instance/id":
		text("1234567890123456789")
	default:
		http.NotFound(rw, r)
	}
}

// UnaryInterceptor checks the credential of every gRPC call; with RequireAuth a call without
// a valid one fails with UNAUTHENTICATED before it is served. The handler runs with the
// caller's principal in its context (world.WithPrincipal), so the APIs' permission checks
// apply to it; a call served without a valid credential has none (an unknown caller).
func (f *FrontDoor) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		principal, err := f.checkGRPC(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if principal != "" {
			ctx = world.WithPrincipal(ctx, principal)
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor is UnaryInterceptor for streams.
func (f *FrontDoor) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		principal, err := f.checkGRPC(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		if principal != "" {
			ss = principalStream{ServerStream: ss, ctx: world.WithPrincipal(ss.Context(), principal)}
		}
		return handler(srv, ss)
	}
}

// principalStream is a server stream whose context carries the caller's principal.
type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s principalStream) Context() context.Context { return s.ctx }

// checkGRPC checks the credential of a gRPC call and records it, and returns the caller's
// principal ("" without a valid credential). A REST call that Handler checked and recorded
// arrives over the in-process connection with its caller, which is taken as is.
func (f *FrontDoor) checkGRPC(ctx context.Context, method string) (string, error) {
	if principal, ok := forwarded(ctx); ok {
		return principal, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	authz := firstOf(md.Get("authorization"))
	c, aerr := f.authenticate(authz, false)
	f.record(strings.TrimPrefix(method, "/"), firstOf(md.Get("x-goog-user-project")), c, aerr, authz != "")
	if aerr == nil {
		return c.principal, nil
	}
	if !(f.opts.RequireAuth || aerr.scope) {
		return "", nil
	}
	code := codes.Unauthenticated
	if aerr.scope {
		code = codes.PermissionDenied
	}
	st := status.New(code, aerr.message)
	if aerr.reason != "" {
		svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: aerr.reason, Domain: "googleapis.com",
			Metadata: map[string]string{"method": strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", "."), "service": serviceHost(svc)}}); err == nil {
			st = d
		}
	}
	return "", st.Err()
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// serviceHost names the API of a gRPC service, as ErrorInfo does.
func serviceHost(svc string) string {
	switch {
	case strings.HasPrefix(svc, "google.cloud.run."):
		return "run.googleapis.com"
	case strings.HasPrefix(svc, "google.cloud.vpcaccess."):
		return "vpcaccess.googleapis.com"
	case strings.HasPrefix(svc, "google.monitoring."):
		return "monitoring.googleapis.com"
	case strings.HasPrefix(svc, "google.cloud.asset."):
		return "cloudasset.googleapis.com"
	}
	return svc
}
