package cloud

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/compute/metadata"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A failure to get a token says which credentials and which endpoint, and carries the code
// that gives its exit status: refused (4) or unreachable (1).
func TestTokenError(t *testing.T) {
	tokenURL, _ := url.Parse("https://oauth2.example/token?x=secret")
	resp := func(code int) *http.Response {
		return &http.Response{StatusCode: code, Request: &http.Request{URL: tokenURL}}
	}
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
		want string
	}{
		{"refused", &auth.Error{Response: resp(400), Body: []byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)},
			codes.Unauthenticated, "https://oauth2.example/token refused them (HTTP 400, invalid_grant: Token has been expired or revoked.)"},
		{"endpoint in trouble", &auth.Error{Response: resp(503), Body: []byte("busy")}, codes.Unavailable, "refused them (HTTP 503"},
		{"metadata server", &metadata.Error{Code: 403, Message: "disabled"}, codes.PermissionDenied, "the metadata server refused them (HTTP 403): disabled"},
		{"down", &url.Error{Op: "Post", URL: tokenURL.String(), Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, codes.Unavailable,
			"cannot reach https://oauth2.example/token: connection refused"},
		{"silent", &url.Error{Op: "Post", URL: tokenURL.String(), Err: timeoutErr{}}, codes.Unavailable, "no answer in time"},
		{"call deadline", fmt.Errorf("fetch: %w", context.DeadlineExceeded), codes.Unavailable, "cannot reach the token endpoint: no answer in time"},
		{"IAM Credentials", errors.New(`impersonate: status code 403: {"error":{"message":"Permission denied"}}`), codes.PermissionDenied, "status code 403"},
		{"STS", errors.New(`credentials: status code 400: {"error":"invalid_grant"}`), codes.Unauthenticated, "status code 400"},
		{"untrusted", &url.Error{Op: "Post", URL: tokenURL.String(), Err: x509.UnknownAuthorityError{}}, codes.Unavailable, "TLS: cannot verify the server's certificate"},
	} {
		te := tokenError("the credentials in key.json", tc.err)
		if te.Code != tc.code || !strings.HasPrefix(te.Msg, "cannot get an access token for the credentials in key.json: ") || !strings.Contains(te.Msg, tc.want) {
			t.Errorf("%s: %v %q; want %v containing %q", tc.name, te.Code, te.Msg, tc.code, tc.want)
		}
		if strings.Contains(te.Msg, "secret") {
			t.Errorf("%s: the query of the token URL is printed: %q", tc.name, te.Msg)
		}
		if status.Code(te) != tc.code || retryable(te) || !errors.Is(te, tc.err) {
			t.Errorf("%s: status %v, retryable %v", tc.name, status.Code(te), retryable(te))
		}
		wantExit := exitcode.Failure
		if tc.code == codes.Unauthenticated || tc.code == codes.PermissionDenied {
			wantExit = exitcode.Permission
		}
		if got := ExitCode(apiErr("list services", te)); got != wantExit {
			t.Errorf("%s: exit %d, want %d", tc.name, got, wantExit)
		}
	}
}

// A certificate that does not verify is said in one sentence, over gRPC and REST, and is not
// retried.
func TestTLSProblem(t *testing.T) {
	grpcErr := status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`)
	restErr := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/compute/v1/x", Err: x509.UnknownAuthorityError{}}
	for _, err := range []error{grpcErr, restErr} {
		msg, ok := tlsProblem(err)
		if !ok || !strings.HasPrefix(msg, "TLS: cannot verify the server's certificate (x509: certificate signed by unknown authority") || !strings.Contains(msg, "SSL_CERT_FILE") {
			t.Errorf("%v: %q %v", err, msg, ok)
		}
		if retryable(err) {
			t.Errorf("%v is retried", err)
		}
	}
	for _, err := range []error{apiErr("list services", grpcErr), computeErr("list subnets", restErr)} {
		if got := err.Error(); strings.Contains(got, "compute/v1") || !strings.Contains(got, ": TLS: ") {
			t.Errorf("%q", got)
		}
	}
	if _, ok := tlsProblem(status.Error(codes.Unavailable, "connection refused")); ok {
		t.Error("a refused connection is not a TLS problem")
	}
}

// Token errors that will not change (a refusal, a timeout) are remembered: the command's
// other calls fail at once instead of asking, and waiting, again.
func TestTokenErrorsAreRemembered(t *testing.T) {
	tp := &countingTokens{err: &url.Error{Op: "Post", URL: "https://oauth2.example/token", Err: timeoutErr{}}}
	et := &explainedTokens{creds: auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: tp}), source: "x"}
	for range 3 {
		if _, err := et.Token(t.Context()); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v", err)
		}
	}
	if tp.n != 1 {
		t.Errorf("the token endpoint was asked %d times", tp.n)
	}
	// A refused connection may be fixed by the next try: it is not remembered.
	tp2 := &countingTokens{err: &url.Error{Op: "Post", URL: "https://oauth2.example/token", Err: syscall.ECONNREFUSED}}
	et = &explainedTokens{creds: auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: tp2}), source: "x"}
	_, _ = et.Token(t.Context())
	_, _ = et.Token(t.Context())
	if tp2.n != 2 {
		t.Errorf("a refused connection was remembered (%d tries)", tp2.n)
	}
}

type countingTokens struct {
	n   int
	err error
}

func (c *countingTokens) Token(context.Context) (*auth.Token, error) {
	c.n++
	return nil, c.err
}
