package cloud

import (
	"net/http"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// APIExitCode maps one error from a Google API (not its chain) to runnet's exit code, when it
// is one runnet distinguishes: a gRPC status of PERMISSION_DENIED or UNAUTHENTICATED, or HTTP
// 401 or 403, give 4; ABORTED (a stale etag, AIP-154) or ALREADY_EXISTS, or HTTP 409 or 412,
// give 5. It is the exitcode.Classifier of every command.
func APIExitCode(e error) (int, bool) {
	if gs, ok := e.(interface{ GRPCStatus() *status.Status }); ok && gs.GRPCStatus() != nil {
		if s, ok := status.FromError(e); ok {
			switch s.Code() {
			case codes.PermissionDenied, codes.Unauthenticated:
				return exitcode.Permission, true
			case codes.Aborted, codes.AlreadyExists:
				return exitcode.Conflict, true
			}
		}
	}
	if ge, ok := e.(*googleapi.Error); ok {
		switch ge.Code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return exitcode.Permission, true
		case http.StatusConflict, http.StatusPreconditionFailed:
			return exitcode.Conflict, true
		}
	}
	return 0, false
}

// ExitCode is exitcode.FromError with Google's API errors mapped (APIExitCode).
func ExitCode(err error) int { return exitcode.FromError(err, APIExitCode) }
