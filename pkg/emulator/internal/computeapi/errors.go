package computeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// apiError is a Compute error: the HTTP status and the errors[].reason of the JSON error body,
// and the code an operation reports when the error ends it.
type apiError struct {
	Status  int
	Reason  string
	Message string
	// OpCode is the operation error code (op.error.errors[].code) for this error.
	OpCode string
	// Bare leaves the errors[] list out of the body, as some newer methods answer
	// (realapi/compute/firewallpolicyrule-getRule-400.http.log).
	Bare bool
}

func (e *apiError) Error() string {
	return fmt.Sprintf("compute: %d %s: %s", e.Status, e.Reason, e.Message)
}

// errorBody is Compute's error response (realapi/compute/firewall-crud-patch.http.log):
// {"error":{"code":404,"errors":[{"domain":"global","message":"…","reason":"notFound"}],"message":"…"}}.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    int           `json:"code"`
	Message string        `json:"message"`
	Errors  []errorDetail `json:"errors"`
}

type errorDetail struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

func mustErrorBody(e *apiError) []byte {
	if e.Bare {
		b, err := json.Marshal(map[string]any{"error": map[string]any{"code": e.Status, "message": e.Message}})
		if err != nil {
			panic(fmt.Sprintf("computeapi: marshal error body: %v", err))
		}
		return b
	}
	b, err := json.Marshal(errorBody{Error: errorPayload{
		Code: e.Status, Message: e.Message,
		Errors: []errorDetail{{Message: e.Message, Domain: "global", Reason: e.Reason}},
	}})
	if err != nil {
		panic(fmt.Sprintf("computeapi: marshal error body: %v", err))
	}
	return b
}

func writeError(rw http.ResponseWriter, e *apiError) {
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(e.Status)
	_, _ = rw.Write(mustErrorBody(e))
}

// opCode returns the code an operation reports for e.
func (e *apiError) opCode() string {
	if e.OpCode != "" {
		return e.OpCode
	}
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(e.Status), " ", "_"))
}

func errNotFound(path string) *apiError {
	return &apiError{Status: http.StatusNotFound, Reason: "notFound", OpCode: "RESOURCE_NOT_FOUND",
		Message: fmt.Sprintf("The resource '%s' was not found", path)}
}

func errAlreadyExists(path string) *apiError {
	return &apiError{Status: http.StatusConflict, Reason: "alreadyExists", OpCode: "RESOURCE_ALREADY_EXISTS",
		Message: fmt.Sprintf("The resource '%s' already exists", path)}
}

func errInvalid(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Reason: "invalid", OpCode: "INVALID_FIELD_VALUE", Message: msg}
}

// errConflict is a range conflict, which operations report as INVALID_USAGE.
func errConflict(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Reason: "invalid", OpCode: "INVALID_USAGE", Message: msg}
}

func errRequired(field string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Reason: "required", OpCode: "REQUIRED_FIELD",
		Message: fmt.Sprintf("Required field '%s' not specified", field)}
}

func errParse(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Reason: "parseError", Message: msg}
}

// errInUse is Compute's refusal to delete a resource something else uses (DESIGN.md, "subnet
// held by Cloud Run").
func errInUse(kind, path, user string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource", OpCode: "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
		Message: fmt.Sprintf("The %s resource '%s' is already being used by '%s'", kind, path, user)}
}

// errNotReady is Compute's answer to a change of a resource another operation is changing.
func errNotReady(path string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Reason: "resourceNotReady", OpCode: "RESOURCE_NOT_READY",
		Message: fmt.Sprintf("The resource '%s' is not ready", path)}
}

func errConditionNotMet(msg string) *apiError {
	return &apiError{Status: http.StatusPreconditionFailed, Reason: "conditionNotMet", OpCode: "CONDITION_NOT_MET", Message: msg}
}

func errUnknownRegion(region string) *apiError {
	return errInvalid(fmt.Sprintf("Invalid value for field 'region': '%s'. Unknown region.", region))
}

// errNoSuchPath answers a path (or method) the emulator does not serve, naming the methods it
// does serve, so that a client's unexpected call is easy to see.
func errNoSuchPath(method, path string) *apiError {
	return &apiError{Status: http.StatusNotFound, Reason: "notFound",
		Message: fmt.Sprintf("The requested URL %s %s was not found on this server. This emulator serves these Compute Engine API v1 methods: %s.",
			method, path, strings.Join(MethodIDs(), ", "))}
}

// errFingerprint is the answer to a subnetworks.patch without the current fingerprint.
func errFingerprint() *apiError {
	return errConditionNotMet("Supplied fingerprint does not match current metadata fingerprint.")
}

// faultStatus maps a gRPC code to the HTTP status and error reason Compute answers with
// (Google API error model, "HTTP mapping" of google.rpc.Code).
var faultStatus = map[codes.Code]struct {
	status int
	reason string
}{
	codes.Canceled:           {499, "canceled"},
	codes.Unknown:            {http.StatusInternalServerError, "backendError"},
	codes.InvalidArgument:    {http.StatusBadRequest, "invalid"},
	codes.DeadlineExceeded:   {http.StatusGatewayTimeout, "deadlineExceeded"},
	codes.NotFound:           {http.StatusNotFound, "notFound"},
	codes.AlreadyExists:      {http.StatusConflict, "alreadyExists"},
	codes.PermissionDenied:   {http.StatusForbidden, "forbidden"},
	codes.ResourceExhausted:  {http.StatusTooManyRequests, "rateLimitExceeded"},
	codes.FailedPrecondition: {http.StatusPreconditionFailed, "conditionNotMet"},
	codes.Aborted:            {http.StatusConflict, "aborted"},
	codes.OutOfRange:         {http.StatusBadRequest, "invalid"},
	codes.Unimplemented:      {http.StatusNotImplemented, "notImplemented"},
	codes.Internal:           {http.StatusInternalServerError, "internalError"},
	codes.Unavailable:        {http.StatusServiceUnavailable, "backendError"},
	codes.DataLoss:           {http.StatusInternalServerError, "internalError"},
	codes.Unauthenticated:    {http.StatusUnauthorized, "required"},
}

// faultError turns an injected fault into the Compute error it stands for.
func faultError(hit *world.Hit) *apiError {
	fs, ok := faultStatus[hit.Code]
	if !ok {
		fs = faultStatus[codes.Unknown]
	}
	return &apiError{Status: fs.status, Reason: fs.reason, Message: hit.Message}
}

// contextError answers a call whose admission was cut short by the client.
func contextError(err error) *apiError {
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{Status: http.StatusGatewayTimeout, Reason: "deadlineExceeded", Message: "Deadline exceeded."}
	}
	return &apiError{Status: 499, Reason: "canceled", Message: "The request was cancelled."}
}
