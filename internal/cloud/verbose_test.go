package cloud

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://compute.googleapis.com/compute/v1/projects/p?alt=json":                  "https://compute.googleapis.com/compute/v1/projects/p?alt=json",
		"https://compute.googleapis.com/x?key=AIzaSECRET&alt=json":                       "https://compute.googleapis.com/x?alt=json&key=REDACTED",
		"https://compute.googleapis.com/x?access_token=ya29.SECRET":                      "https://compute.googleapis.com/x?access_token=REDACTED",
		"https://user:hunter2@compute.googleapis.com/x":                                  "https://REDACTED@compute.googleapis.com/x",
		"http://127.0.0.1:1234/compute/v1/projects/p/regions/r/subnetworks/s?views=WITH": "http://127.0.0.1:1234/compute/v1/projects/p/regions/r/subnetworks/s?views=WITH",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		got := RedactURL(u)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{"SECRET", "hunter2"} {
			if strings.Contains(got, secret) {
				t.Errorf("RedactURL(%q) leaks %q", in, secret)
			}
		}
	}
}

// The request log names the call and its outcome but never a header (where credentials travel).
func TestLogTransportNeverPrintsHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	defer srv.Close()
	var log bytes.Buffer
	c := &http.Client{Transport: &logTransport{w: &log, next: http.DefaultTransport}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/compute/v1/projects/p?key=SECRETKEY", nil)
	req.Header.Set("Authorization", "Bearer ya29.SECRETTOKEN")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	line := log.String()
	if !strings.Contains(line, "GET") || !strings.Contains(line, "404") || !strings.Contains(line, "/compute/v1/projects/p") {
		t.Errorf("log line %q lacks the method, path or status", line)
	}
	if strings.Contains(line, "SECRET") || strings.Contains(line, "Bearer") {
		t.Errorf("log line leaks credentials: %q", line)
	}
}

func TestLogUnary(t *testing.T) {
	var log bytes.Buffer
	interceptor := logUnary(&log)
	err := interceptor(context.Background(), "/google.cloud.run.v2.Services/GetService", nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			time.Sleep(time.Millisecond)
			return status.Error(codes.NotFound, "nope")
		})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("interceptor changed the error: %v", err)
	}
	if got := log.String(); !strings.HasPrefix(got, "rpc google.cloud.run.v2.Services/GetService NotFound") {
		t.Errorf("log = %q", got)
	}
}
