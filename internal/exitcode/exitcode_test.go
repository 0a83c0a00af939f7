package exitcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// statusWrapper mimics cloud.google.com/go's apierror.APIError: it has a
// GRPCStatus method and wraps another error.
type statusWrapper struct {
	s   *status.Status
	err error
}

func (w *statusWrapper) Error() string              { return "wrapped: " + w.s.Message() }
func (w *statusWrapper) GRPCStatus() *status.Status { return w.s }
func (w *statusWrapper) Unwrap() error              { return w.err }

func TestFromError(t *testing.T) {
	grpcErr := func(c codes.Code) error { return status.Error(c, "boom") }
	httpErr := func(code int) error { return &googleapi.Error{Code: code, Message: "boom"} }

	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("x"), Failure},
		{"context canceled", context.Canceled, Failure},
		{"usage", Usagef("bad %s", "flag"), Usage},
		{"wrapped usage", fmt.Errorf("ctx: %w", Usagef("bad")), Usage},
		{"explicit wrap", Wrap(Preflight, errors.New("subnet too small")), Preflight},
		{"rolled back", Errorf(RolledBack, "rolled back"), RolledBack},
		{"silent", Silent(Preflight), Preflight},
		{"outermost wins", Wrap(RolledBack, Wrap(Conflict, errors.New("x"))), RolledBack},
		{"explicit beats grpc", Wrap(Failure, grpcErr(codes.PermissionDenied)), Failure},
		{"grpc permission denied", grpcErr(codes.PermissionDenied), Permission},
		{"grpc unauthenticated", grpcErr(codes.Unauthenticated), Permission},
		{"grpc aborted", grpcErr(codes.Aborted), Conflict},
		{"grpc already exists", grpcErr(codes.AlreadyExists), Conflict},
		{"grpc invalid argument stays 1", grpcErr(codes.InvalidArgument), Failure},
		{"grpc failed precondition", grpcErr(codes.FailedPrecondition), Failure},
		{"grpc not found", grpcErr(codes.NotFound), Failure},
		{"grpc wrapped with %w", fmt.Errorf("update service: %w", grpcErr(codes.Aborted)), Conflict},
		{"grpc inside join", errors.Join(errors.New("a"), grpcErr(codes.PermissionDenied)), Permission},
		{"apierror-like wrapper", &statusWrapper{s: status.New(codes.Unauthenticated, "no creds")}, Permission},
		{"apierror-like wrapper nil status", &statusWrapper{err: httpErr(http.StatusForbidden)}, Permission},
		{"http 401", httpErr(http.StatusUnauthorized), Permission},
		{"http 403", httpErr(http.StatusForbidden), Permission},
		{"http 409", httpErr(http.StatusConflict), Conflict},
		{"http 412", httpErr(http.StatusPreconditionFailed), Conflict},
		{"http 400", httpErr(http.StatusBadRequest), Failure},
		{"http 404", httpErr(http.StatusNotFound), Failure},
		{"http wrapped", fmt.Errorf("insert subnetwork: %w", httpErr(http.StatusConflict)), Conflict},
		{"usage with api cause", Wrap(Usage, httpErr(http.StatusForbidden)), Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromError(tt.err); got != tt.want {
				t.Errorf("FromError(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// cycle wraps itself; FromError must still terminate.
type cycle struct{ next error }

func (c *cycle) Error() string { return "cycle" }
func (c *cycle) Unwrap() error { return c.next }

func TestFromErrorCycleTerminates(t *testing.T) {
	c := &cycle{}
	c.next = c
	// errors.As would loop forever on a cycle too, so only walk is tested.
	n := 0
	walk(c, 0, func(error) bool { n++; return false })
	if n != maxDepth {
		t.Fatalf("walk visited %d errors, want %d", n, maxDepth)
	}
}

func TestWrap(t *testing.T) {
	if Wrap(Conflict, nil) != nil {
		t.Fatal("Wrap(code, nil) must be nil")
	}
	base := errors.New("base")
	err := Wrap(Conflict, base)
	if !errors.Is(err, base) {
		t.Fatal("Wrap must keep the chain")
	}
	if err.Error() != "base" {
		t.Fatalf("Error() = %q", err.Error())
	}
	var ee *Error
	if !errors.As(Silent(Preflight), &ee) || !ee.Silent() || ee.Code != Preflight {
		t.Fatalf("Silent: got %#v", ee)
	}
	if got := Silent(3).Error(); got != "exit status 3" {
		t.Fatalf("Silent(3).Error() = %q", got)
	}
}

func TestTable(t *testing.T) {
	want := []int{OK, Failure, Usage, Preflight, Permission, Conflict, RolledBack}
	if len(Table) != len(want) {
		t.Fatalf("Table has %d entries, want %d", len(Table), len(want))
	}
	seen := map[string]bool{}
	for i, e := range Table {
		if e.Code != want[i] {
			t.Errorf("Table[%d].Code = %d, want %d", i, e.Code, want[i])
		}
		if e.Name == "" || e.Meaning == "" || seen[e.Name] {
			t.Errorf("Table[%d] = %+v: name must be set and unique, meaning set", i, e)
		}
		seen[e.Name] = true
		if Name(e.Code) != e.Name {
			t.Errorf("Name(%d) = %q, want %q", e.Code, Name(e.Code), e.Name)
		}
	}
	if Name(99) != "" {
		t.Error("Name(99) should be empty")
	}
}
