package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/internal/exitcode"
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

func TestAPIExitCode(t *testing.T) {
	grpcErr := func(c codes.Code) error { return status.Error(c, "boom") }
	httpErr := func(code int) error { return &googleapi.Error{Code: code, Message: "boom"} }

	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitcode.OK},
		{"plain", errors.New("x"), exitcode.Failure},
		{"context canceled", context.Canceled, exitcode.Failure},
		{"usage", exitcode.Usagef("bad %s", "flag"), exitcode.Usage},
		{"wrapped usage", fmt.Errorf("ctx: %w", exitcode.Usagef("bad")), exitcode.Usage},
		{"explicit wrap", exitcode.Wrap(exitcode.Preflight, errors.New("subnet too small")), exitcode.Preflight},
		{"rolled back", exitcode.Errorf(exitcode.RolledBack, "rolled back"), exitcode.RolledBack},
		{"silent", exitcode.Silent(exitcode.Preflight), exitcode.Preflight},
		{"outermost wins", exitcode.Wrap(exitcode.RolledBack, exitcode.Wrap(exitcode.Conflict, errors.New("x"))), exitcode.RolledBack},
		{"explicit beats grpc", exitcode.Wrap(exitcode.Failure, grpcErr(codes.PermissionDenied)), exitcode.Failure},
		{"grpc permission denied", grpcErr(codes.PermissionDenied), exitcode.Permission},
		{"grpc unauthenticated", grpcErr(codes.Unauthenticated), exitcode.Permission},
		{"grpc aborted", grpcErr(codes.Aborted), exitcode.Conflict},
		{"grpc already exists", grpcErr(codes.AlreadyExists), exitcode.Conflict},
		{"grpc invalid argument stays 1", grpcErr(codes.InvalidArgument), exitcode.Failure},
		{"grpc failed precondition", grpcErr(codes.FailedPrecondition), exitcode.Failure},
		{"grpc not found", grpcErr(codes.NotFound), exitcode.Failure},
		{"grpc wrapped with %w", fmt.Errorf("update service: %w", grpcErr(codes.Aborted)), exitcode.Conflict},
		{"grpc inside join", errors.Join(errors.New("a"), grpcErr(codes.PermissionDenied)), exitcode.Permission},
		{"apierror-like wrapper", &statusWrapper{s: status.New(codes.Unauthenticated, "no creds")}, exitcode.Permission},
		{"apierror-like wrapper nil status", &statusWrapper{err: httpErr(http.StatusForbidden)}, exitcode.Permission},
		{"http 401", httpErr(http.StatusUnauthorized), exitcode.Permission},
		{"http 403", httpErr(http.StatusForbidden), exitcode.Permission},
		{"http 409", httpErr(http.StatusConflict), exitcode.Conflict},
		{"http 412", httpErr(http.StatusPreconditionFailed), exitcode.Conflict},
		{"http 400", httpErr(http.StatusBadRequest), exitcode.Failure},
		{"http 404", httpErr(http.StatusNotFound), exitcode.Failure},
		{"http wrapped", fmt.Errorf("insert subnetwork: %w", httpErr(http.StatusConflict)), exitcode.Conflict},
		{"usage with api cause", exitcode.Wrap(exitcode.Usage, httpErr(http.StatusForbidden)), exitcode.Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
