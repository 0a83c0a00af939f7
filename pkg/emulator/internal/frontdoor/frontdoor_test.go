package frontdoor

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func newTestDoor(t *testing.T) (*FrontDoor, *saKey) {
	t.Helper()
	f, err := New(Options{RequireAuth: true, Project: "p1", ProjectNumber: 123456789012, ControlPrefix: "/ctl/"})
	if err != nil {
		t.Fatal(err)
	}
	f.SetAddr("127.0.0.1:8443")
	f.mu.Lock()
	k, err := f.serviceAccountKeyLocked()
	f.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return f, k
}

// serve sends r to the front door over "TLS" and returns the response.
func serve(f *FrontDoor, r *http.Request) *httptest.ResponseRecorder {
	r.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	f.Handler(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(299) })).ServeHTTP(rec, r)
	return rec
}

func form(path string, v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// oauthErr is the "error" of an OAuth 2.0 error response.
func oauthErr(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error_description"] == "" {
		t.Errorf("not an OAuth 2.0 error: %s", rec.Body)
	}
	return m["error"]
}

// The self-signed JWTs the front door accepts are those Google accepts: signed with a key it
// issued, iss and sub the key's account, a scope or an API audience, at most an hour long.
func TestSelfSignedJWT(t *testing.T) {
	f, k := newTestDoor(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	ok := jwtClaims{Iss: k.email, Sub: k.email, Scope: ScopeCloudPlatform, Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()}
	for _, tc := range []struct {
		name   string
		key    *rsa.PrivateKey
		kid    string
		claims func(c jwtClaims) jwtClaims
		want   string // "" accepted; else the reason, or "scope"
	}{
		{"scope", k.key, k.id, func(c jwtClaims) jwtClaims { return c }, ""},
		{"audience", k.key, k.id, func(c jwtClaims) jwtClaims { c.Scope, c.Aud = "", "https://run.googleapis.com/"; return c }, ""},
		{"another key", other, k.id, func(c jwtClaims) jwtClaims { return c }, "invalid JWT signature"},
		{"unknown kid", k.key, "nope", func(c jwtClaims) jwtClaims { return c }, "did not issue"},
		{"wrong iss", k.key, k.id, func(c jwtClaims) jwtClaims { c.Iss = "x@p1.iam.gserviceaccount.com"; return c }, "iss/sub"},
		{"expired", k.key, k.id, func(c jwtClaims) jwtClaims { c.Exp = now.Add(-time.Minute).Unix(); return c }, "expired"},
		{"too long", k.key, k.id, func(c jwtClaims) jwtClaims { c.Exp = now.Add(2 * time.Hour).Unix(); return c }, "at most an hour"},
		{"another audience", k.key, k.id, func(c jwtClaims) jwtClaims { c.Scope, c.Aud = "", "https://storage.googleapis.com/"; return c }, "for audience"},
		{"neither", k.key, k.id, func(c jwtClaims) jwtClaims { c.Scope = ""; return c }, "neither a scope nor an audience"},
		{"narrow scope", k.key, k.id, func(c jwtClaims) jwtClaims {
			c.Scope = "https://www.googleapis.com/auth/devstorage.read_only"
			return c
		}, "scope"},
	} {
		tok, err := signJWT(tc.key, tc.kid, tc.claims(ok))
		if err != nil {
			t.Fatal(err)
		}
		c, aerr := f.authenticate("Bearer "+tok, false)
		switch {
		case tc.want == "" && (aerr != nil || c.principal != "serviceAccount:"+k.email || c.credential != "self-signed-jwt"):
			t.Errorf("%s: refused: %v", tc.name, aerr)
		case tc.want != "" && (aerr == nil || !strings.Contains(aerr.why, tc.want) && !(tc.want == "scope" && aerr.scope)):
			t.Errorf("%s: got %+v %v, want a refusal for %q", tc.name, c, aerr, tc.want)
		}
	}
	if _, aerr := f.authenticate("Basic abc", false); aerr == nil || aerr.reason != "" {
		t.Errorf("Basic: %v", aerr)
	}
	if _, aerr := f.authenticate("", false); aerr == nil || aerr.reason != reasonMissing {
		t.Errorf("none: %v", aerr)
	}
}

// The token endpoint refuses what Google's refuses, with OAuth 2.0 error codes.
func TestTokenEndpoint(t *testing.T) {
	f, k := newTestDoor(t)
	now := time.Now()
	assertion := func(c jwtClaims) string {
		s, err := signJWT(k.key, k.id, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := jwtClaims{Iss: k.email, Scope: ScopeCloudPlatform, Aud: f.TokenURI(), Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()}
	rec := serve(f, form(PathToken, url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(good)}}))
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); rec.Code != 200 || err != nil || tok.ExpiresIn < 3590 || tok.ExpiresIn > 3600 {
		t.Fatalf("JWT bearer: %d %s", rec.Code, rec.Body)
	}
	if c, aerr := f.authenticate("Bearer "+tok.AccessToken, true); aerr != nil || c.grant != "jwt-bearer" {
		t.Errorf("issued token: %v", aerr)
	}
	badAud, noScope := good, good
	badAud.Aud, noScope.Scope = "https://example.com/token", ""
	for _, tc := range []struct {
		v    url.Values
		code int
		err  string
	}{
		{url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(badAud)}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(noScope)}}, 400, "invalid_scope"},
		{url.Values{"grant_type": {grantJWTBearer}, "assertion": {"not.a.jwt"}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {grantRefreshToken}, "client_id": {OAuthClientID}, "client_secret": {"wrong"}, "refresh_token": {"x"}}, 401, "invalid_client"},
		{url.Values{"grant_type": {grantRefreshToken}, "client_id": {OAuthClientID}, "client_secret": {OAuthClientSecret}, "refresh_token": {"1//unknown"}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
	} {
		rec := serve(f, form(PathToken, tc.v))
		if rec.Code != tc.code || oauthErr(t, rec) != tc.err {
			t.Errorf("%v: %d %s, want %d %s", tc.v.Get("grant_type"), rec.Code, rec.Body, tc.code, tc.err)
		}
	}
}

// STS accepts a subject token of the provider's issuer, for its audience, unexpired.
func TestSTS(t *testing.T) {
	f, _ := newTestDoor(t)
	exchange := func(audience, subject string) *httptest.ResponseRecorder {
		return serve(f, form(PathSTS, url.Values{"grant_type": {grantTokenExchange}, "audience": {audience}, "subject_token_type": {tokenTypeJWT},
			"requested_token_type": {tokenTypeAccess}, "scope": {ScopeCloudPlatform}, "subject_token": {subject}}))
	}
	good, _ := f.SubjectToken(f.OIDCAudience(), time.Minute)
	if rec := exchange(f.WIFAudience(), good); rec.Code != 200 || !strings.Contains(rec.Body.String(), tokenTypeAccess) {
		t.Fatalf("exchange: %d %s", rec.Code, rec.Body)
	}
	wrongAud, _ := f.SubjectToken("https://github.com/runnet-dev", time.Minute)
	expired, _ := f.SubjectToken(f.OIDCAudience(), -time.Minute)
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"provider":            exchange("//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/x/providers/y", good),
		"token audience":      exchange(f.WIFAudience(), wrongAud),
		"expired":             exchange(f.WIFAudience(), expired),
		"not a subject token": exchange(f.WIFAudience(), "abc"),
	} {
		if rec.Code != 400 || !strings.HasPrefix(oauthErr(t, rec), "invalid_") {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	f.Revoke(f.WIFPrincipal(WIFSubject))
	if rec := exchange(f.WIFAudience(), good); rec.Code != 400 {
		t.Errorf("revoked: %d %s", rec.Code, rec.Body)
	}
}

// Plain HTTP reaches only the metadata server and the control surface; the metadata server
// wants its header and refuses forwarded requests.
func TestPlainHTTPAndMetadata(t *testing.T) {
	f, _ := newTestDoor(t)
	plain := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		f.Handler(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(299) })).ServeHTTP(rec, r)
		return rec
	}
	if rec := plain(httptest.NewRequest(http.MethodGet, "/compute/v1/projects/p1/global/networks", nil)); rec.Code != 400 {
		t.Errorf("plain API call: %d", rec.Code)
	}
	if rec := plain(form(PathToken, url.Values{})); rec.Code != 400 {
		t.Errorf("plain token request: %d", rec.Code)
	}
	if rec := plain(httptest.NewRequest(http.MethodGet, "/ctl/calls", nil)); rec.Code != 299 {
		t.Errorf("plain control call: %d", rec.Code)
	}
	r := httptest.NewRequest(http.MethodGet, PathMetadata+"instance/service-accounts/default/token", nil)
	r.Header.Set("Metadata-Flavor", "Google")
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	if rec := plain(r); rec.Code != 403 {
		t.Errorf("forwarded metadata request: %d", rec.Code)
	}
	r.Header.Del("X-Forwarded-For")
	if rec := plain(r); rec.Code != 200 || !strings.Contains(rec.Body.String(), "access_token") {
		t.Errorf("metadata token: %d %s", rec.Code, rec.Body)
	}
	// Over TLS, an API call without a credential is refused before it reaches the APIs.
	if rec := serve(f, httptest.NewRequest(http.MethodGet, "/compute/v1/projects/p1/global/networks", nil)); rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("API call without a credential: %d", rec.Code)
	}
}

// The handler behind the front door sees the caller's principal in the request's context,
// as the world reads it, and nothing without a valid credential; a revoke names a principal
// as IAM does, even given with its type twice.
func TestHandlerPassesThePrincipal(t *testing.T) {
	f, _ := newTestDoor(t)
	f.opts.RequireAuth = false
	f.mu.Lock()
	tok, _ := f.issueLocked("user:"+UserEmail, "refresh-token", []string{ScopeCloudPlatform}, nil, 0)
	f.mu.Unlock()
	seen := func(authz string) (string, bool) {
		var got string
		var known bool
		r := httptest.NewRequest(http.MethodGet, "/compute/v1/projects/p1/global/networks", nil)
		r.TLS = &tls.ConnectionState{}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		f.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, known = world.PrincipalFrom(r.Context())
		})).ServeHTTP(httptest.NewRecorder(), r)
		return got, known
	}
	if p, ok := seen("Bearer " + tok); !ok || p != "user:"+UserEmail {
		t.Errorf("with the user's token: %q %v", p, ok)
	}
	for _, authz := range []string{"", "Bearer ya29.not-issued"} {
		if p, ok := seen(authz); ok {
			t.Errorf("%q: principal %q", authz, p)
		}
	}
	if got := f.Revoke("user:user:" + UserEmail); len(got) != 1 || got[0] != "user:"+UserEmail {
		t.Errorf("revoked %v", got)
	}
	if p, ok := seen("Bearer " + tok); ok {
		t.Errorf("a revoked user's token: principal %q", p)
	}
}
