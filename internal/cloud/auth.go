package cloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/impersonate"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/compute/metadata"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file finds the credentials runnet calls Google Cloud with. Application Default
// Credentials are loaded by the client libraries' own code (cloud.google.com/go/auth), once
// per command, and shared by every client; runnet adds only what gcloud adds on top:
// impersonation through IAM Credentials, the quota project, and the token_uri of
// authorized-user files (which Python's google-auth honours and Go's ignores).

const (
	scopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	scopeCompute       = "https://www.googleapis.com/auth/compute"
	// DefaultUniverseDomain is the only Cloud universe runnet supports.
	DefaultUniverseDomain = "googleapis.com"
	// TokenTimeout bounds one request to a token endpoint (the libraries' own default).
	TokenTimeout = 30 * time.Second
	// quotaCurrentProject is gcloud's billing/quota_project value that bills the current
	// project, for user credentials only.
	quotaCurrentProject             = "CURRENT_PROJECT"
	quotaCurrentProjectWithFallback = "CURRENT_PROJECT_WITH_FALLBACK"
	quotaLegacy                     = "LEGACY"
	iamCredentialsDefault           = "https://iamcredentials.googleapis.com/"
)

// credentialsFile is what runnet reads in an ADC file itself.
type credentialsFile struct {
	Type           string          `json:"type"`
	TokenURI       string          `json:"token_uri"`
	UniverseDomain string          `json:"universe_domain"`
	ClientEmail    string          `json:"client_email"`
	Source         json.RawMessage `json:"source_credentials"`
}

// authState is the credentials found, once per Clients.
type authState struct {
	grpc, rest *auth.Credentials
	kind       string // the ADC file's type, "metadata" without a file
	err        error
}

// restCredentials is a copy of the REST credentials for one transport: the HTTP transport
// of cloud.google.com/go/auth wraps the token provider of the Credentials it is given in place,
// so clients built at the same time from one shared value would race on it.
func (st *authState) restCredentials() *auth.Credentials {
	cp := *st.rest
	return &cp
}

// describeSource says where the credentials came from, for messages.
func (c *Clients) describeSource() string {
	if c.cfg.CredentialsFile == "" {
		return "Application Default Credentials"
	}
	return "the credentials in " + c.cfg.CredentialsFile
}

// tlsConfig is the TLS configuration of every connection: the system's roots (which
// SSL_CERT_FILE replaces), or Config.RootCAs.
func (c *Clients) tlsConfig() *tls.Config {
	if c.cfg.RootCAs == nil {
		return nil
	}
	return &tls.Config{RootCAs: c.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// baseTransport is the transport under every REST client and token request: the
// environment's proxy (HTTPS_PROXY, NO_PROXY) and the TLS roots.
func (c *Clients) baseTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg := c.tlsConfig(); cfg != nil {
		t.TLSClientConfig = cfg
	}
	return t
}

// auth returns the credentials, finding them on first use. It makes no network call
// (except, on a VM, the metadata server's presence check).
func (c *Clients) auth() *authState {
	c.authOnce.Do(func() { c.authState = c.detect() })
	return c.authState
}

func (c *Clients) detect() *authState {
	tokenClient := &http.Client{Transport: c.baseTransport(), Timeout: TokenTimeout}
	opts := credentials.DetectOptions{Client: tokenClient, Scopes: []string{scopeCloudPlatform}}
	st := &authState{kind: "metadata"}
	fail := func(err error) *authState {
		st.err = &CredentialsError{Err: err, Source: c.describeSource()}
		return st
	}
	var b []byte
	var info credentialsFile
	if f := c.cfg.CredentialsFile; f != "" {
		var err error
		if b, err = os.ReadFile(f); err != nil {
			return fail(fmt.Errorf("credentials: %w", err))
		}
		if err := json.Unmarshal(b, &info); err != nil {
			return fail(fmt.Errorf("credentials: %s is not a JSON credentials file: %w", f, err))
		}
		if info.Type == "" {
			return fail(fmt.Errorf("credentials: %s has no \"type\"", f))
		}
		st.kind = info.Type
		if ud := info.UniverseDomain; ud != "" && ud != DefaultUniverseDomain {
			return fail(fmt.Errorf("credentials: %s is for the universe %q; runnet supports only %s", f, ud, DefaultUniverseDomain))
		}
		// The Go libraries take the token endpoint of user credentials from the options, not
		// the file: give them the file's, as gcloud and Python's google-auth use it.
		switch info.Type {
		case string(credentials.AuthorizedUser):
			opts.TokenURL = info.TokenURI
		case string(credentials.ImpersonatedServiceAccount):
			var src credentialsFile
			if json.Unmarshal(info.Source, &src) == nil && src.Type == string(credentials.AuthorizedUser) {
				opts.TokenURL = src.TokenURI
			}
		}
	}
	newCreds := func(o credentials.DetectOptions) (*auth.Credentials, error) {
		if b == nil {
			return credentials.DetectDefault(&o)
		}
		return credentials.NewCredentialsFromJSON(credentials.CredType(info.Type), b, &o)
	}
	// gRPC clients of a service-account key send self-signed JWTs (no token endpoint), as the
	// generated clients do; the REST client exchanges the key for an access token.
	impersonating := c.cfg.Impersonate != ""
	grpcOpts := opts
	grpcOpts.UseSelfSignedJWT = st.kind == string(credentials.ServiceAccount)
	g, err := newCreds(grpcOpts)
	if err != nil {
		return fail(err)
	}
	r := g
	if st.kind == string(credentials.ServiceAccount) && !impersonating {
		restOpts := opts
		restOpts.Scopes = []string{scopeCloudPlatform, scopeCompute}
		if r, err = newCreds(restOpts); err != nil {
			return fail(err)
		}
	}
	if impersonating {
		imp, err := c.impersonated(g)
		if err != nil {
			return fail(err)
		}
		g, r = imp, imp
	}
	st.grpc, st.rest = c.wrap(g), c.wrap(r)
	return st
}

// impersonated returns credentials of Config.Impersonate, obtained from IAM Credentials'
// generateAccessToken with src, through Config.Delegates, as gcloud does for
// auth/impersonate_service_account.
func (c *Clients) impersonated(src *auth.Credentials) (*auth.Credentials, error) {
	if e := c.cfg.Endpoints.IAMCredentials; e != "" && e != iamCredentialsDefault {
		if _, err := url.Parse(e); err != nil {
			return nil, fmt.Errorf("api_endpoint_overrides/iamcredentials: %w", err)
		}
	}
	rt := c.iamTransport()
	hc, err := httptransport.NewClient(&httptransport.Options{
		Credentials:      src,
		BaseRoundTripper: rt,
		InternalOptions:  &httptransport.InternalOptions{SkipUniverseDomainValidation: true},
	})
	if err != nil {
		return nil, fmt.Errorf("impersonate %s: %w", c.cfg.Impersonate, err)
	}
	hc.Timeout = TokenTimeout
	return impersonate.NewCredentials(&impersonate.CredentialsOptions{
		TargetPrincipal: c.cfg.Impersonate,
		Delegates:       c.cfg.Delegates,
		Scopes:          []string{scopeCloudPlatform},
		Credentials:     src,
		Client:          hc,
	})
}

// iamTransport is baseTransport, sending IAM Credentials' requests to its endpoint override
// (api_endpoint_overrides/iamcredentials), if any.
func (c *Clients) iamTransport() http.RoundTripper {
	var rt http.RoundTripper = c.baseTransport()
	if e := c.cfg.Endpoints.IAMCredentials; e != "" && e != iamCredentialsDefault {
		if to, err := url.Parse(e); err == nil {
			rt = &redirectTransport{from: "iamcredentials.googleapis.com", to: to, next: rt}
		}
	}
	return rt
}

// redirectTransport sends the requests for one host to a base URL instead (an endpoint
// override).
type redirectTransport struct {
	from string
	to   *url.URL
	next http.RoundTripper
}

func (t *redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.from {
		return t.next.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = t.to.Scheme, t.to.Host, ""
	r2.URL.Path = strings.TrimSuffix(t.to.Path, "/") + r.URL.Path
	r2.URL.RawPath = ""
	return t.next.RoundTrip(r2)
}

// wrap returns creds whose token errors say which credentials and which endpoint failed,
// as gRPC statuses: UNAUTHENTICATED when the credentials were refused (exit status 4),
// UNAVAILABLE when the token endpoint could not be reached (retried, then exit status 1).
//
// The credentials' own quota project (quota_project_id, GOOGLE_CLOUD_QUOTA_PROJECT) is kept,
// except with billing/quota_project LEGACY, which bills the credentials' project: no header.
func (c *Clients) wrap(creds *auth.Credentials) *auth.Credentials {
	quota := auth.CredentialsPropertyFunc(creds.QuotaProjectID)
	if c.cfg.QuotaProject == quotaLegacy {
		quota = func(context.Context) (string, error) { return "", nil }
	}
	return auth.NewCredentials(&auth.CredentialsOptions{
		TokenProvider:          &explainedTokens{creds: creds, source: c.describeSource()},
		ProjectIDProvider:      auth.CredentialsPropertyFunc(creds.ProjectID),
		QuotaProjectIDProvider: quota,
		UniverseDomainProvider: auth.CredentialsPropertyFunc(creds.UniverseDomain),
	})
}

type explainedTokens struct {
	creds  *auth.Credentials
	source string

	mu sync.Mutex
	// failed is a refusal or a timeout of the token endpoint: every later call of the command
	// gets it at once, rather than asking (and waiting) again.
	failed error
}

func (t *explainedTokens) Token(ctx context.Context) (*auth.Token, error) {
	// One request at a time (the cache answers at once once a token is there), so that
	// concurrent calls waiting for a token endpoint that does not answer fail together.
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil {
		return nil, t.failed
	}
	tok, err := t.creds.Token(ctx)
	if err == nil {
		return tok, nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, err
	}
	te := tokenError(t.source, err)
	var ne net.Error
	if te.Code != codes.Unavailable || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		t.failed = te
	}
	return nil, te
}

// TokenError says that runnet could not get an access token. It carries a gRPC status
// (UNAUTHENTICATED when the credentials were refused, UNAVAILABLE when the token endpoint
// could not be reached), so exit codes and retries treat it as such an API error.
type TokenError struct {
	Code codes.Code
	Msg  string
	Err  error
}

func (e *TokenError) Error() string { return e.Msg }
func (e *TokenError) Unwrap() error { return e.Err }

// GRPCStatus reports the error's code.
func (e *TokenError) GRPCStatus() *status.Status { return status.New(e.Code, e.Msg) }

var statusCodeRE = regexp.MustCompile(`status code (\d{3})`)

// tokenError explains a failure to get an access token for the credentials of source.
func tokenError(source string, err error) *TokenError {
	prefix := "cannot get an access token for " + source
	if msg, ok := tlsProblem(err); ok {
		return &TokenError{Code: codes.Unavailable, Msg: prefix + ": " + msg, Err: err}
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil {
		why := oneLine(ae.Error())
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(ae.Body, &body) == nil && body.Error != "" {
			why = body.Error
			if body.Description != "" {
				why += ": " + oneLine(body.Description)
			}
		}
		return &TokenError{Code: tokenCode(ae.Response.StatusCode), Msg: fmt.Sprintf("%s: %s refused them (HTTP %d, %s)", prefix, endpointOf(ae.Response), ae.Response.StatusCode, why), Err: err}
	}
	var me *metadata.Error
	if errors.As(err, &me) {
		return &TokenError{Code: tokenCode(me.Code), Msg: fmt.Sprintf("%s: the metadata server refused them (HTTP %d): %s", prefix, me.Code, oneLine(me.Message)), Err: err}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		where := "the token endpoint"
		if ue != nil {
			where = redactedEndpoint(ue.URL)
		}
		why := oneLine(rootCause(err).Error())
		if errors.As(err, &ne) && ne.Timeout() {
			why = "no answer in time"
		}
		return &TokenError{Code: codes.Unavailable, Msg: fmt.Sprintf("%s: cannot reach %s: %s", prefix, where, why), Err: err}
	}
	if m := statusCodeRE.FindStringSubmatch(err.Error()); m != nil {
		// STS and IAM Credentials errors are only text: "status code 403: {body}".
		code, _ := strconv.Atoi(m[1])
		return &TokenError{Code: tokenCode(code), Msg: prefix + ": " + oneLine(err.Error()), Err: err}
	}
	return &TokenError{Code: codes.Unauthenticated, Msg: prefix + ": " + oneLine(err.Error()), Err: err}
}

// tokenCode maps a token endpoint's HTTP status: 5xx and 429 are the endpoint's trouble
// (retried), anything else means the credentials were refused.
func tokenCode(httpStatus int) codes.Code {
	switch {
	case httpStatus == http.StatusForbidden:
		return codes.PermissionDenied
	case httpStatus == http.StatusTooManyRequests || httpStatus >= 500:
		return codes.Unavailable
	}
	return codes.Unauthenticated
}

func endpointOf(r *http.Response) string {
	if r.Request != nil && r.Request.URL != nil {
		return redactedEndpoint(r.Request.URL.String())
	}
	return "the token endpoint"
}

// redactedEndpoint is a URL without its query (which may carry credentials).
func redactedEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the token endpoint"
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	return u.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// rootCause unwraps a single chain to its last error.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// explainTransport explains err when runnet could not get an access token or verify a
// server's certificate: the reason alone, without the URL and the transport's wrapping.
func explainTransport(err error) (string, bool) {
	var te *TokenError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s (%s)", te.Msg, rpcCodeName(te.Code)), true
	}
	return tlsProblem(err)
}

// tlsProblem recognises an error verifying a server's certificate, and explains it.
func tlsProblem(err error) (string, bool) {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var detail string
	switch {
	case errors.As(err, &cv):
		detail = cv.Err.Error()
	case errors.As(err, &ua):
		detail = ua.Error()
	case errors.As(err, &he):
		detail = he.Error()
	case errors.As(err, &ci):
		detail = ci.Error()
	case errors.As(err, &rh):
		return "TLS: the server did not answer with TLS (" + rh.Error() + ")", true
	default:
		s := status.Convert(err).Message()
		if !strings.Contains(s, "authentication handshake failed") && !strings.Contains(s, "x509: ") {
			return "", false
		}
		if i := strings.Index(s, "x509: "); i >= 0 {
			detail = strings.Trim(s[i:], `"`)
		} else {
			detail = strings.Trim(s[strings.Index(s, "authentication handshake failed"):], `"`)
		}
	}
	return "TLS: cannot verify the server's certificate (" + detail + "); to trust a private certificate authority, set SSL_CERT_FILE or gcloud's core/custom_ca_certs_file", true
}
