package cloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// logMu serialises request log lines written by concurrent calls.
var logMu sync.Mutex

func logLine(w io.Writer, format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(w, format+"\n", args...)
}

// logUnary logs each gRPC call: method, duration and status code. Metadata (which carries the
// credentials) is never printed.
func logUnary(w io.Writer) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		logLine(w, "rpc %s %s %s", strings.TrimPrefix(method, "/"), status.Code(err), time.Since(start).Round(time.Millisecond))
		return err
	}
}

// logTransport logs each REST call: method, URL (secrets in the query redacted), status and
// duration. Headers, which carry the credentials, are never printed.
type logTransport struct {
	w    io.Writer
	next http.RoundTripper
}

func (t *logTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	outcome := "error"
	if err == nil {
		outcome = resp.Status
	}
	logLine(t.w, "http %s %s %s %s", r.Method, RedactURL(r.URL), outcome, time.Since(start).Round(time.Millisecond))
	return resp, err
}

// secretParams are query parameters that can carry credentials.
var secretParams = []string{"key", "access_token", "token", "oauth_token", "upload_id"}

// RedactURL returns u as a string with credential-bearing query values and user info hidden.
func RedactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	q := c.Query()
	changed := false
	for _, k := range secretParams {
		if q.Has(k) {
			q.Set(k, "REDACTED")
			changed = true
		}
	}
	if changed {
		c.RawQuery = q.Encode()
	}
	return c.String()
}
