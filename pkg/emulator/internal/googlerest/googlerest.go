// Package googlerest holds what the emulator's small REST/JSON surfaces share (Resource
// Manager, Cloud Billing Catalog, the VPC Access PATCH): Google's JSON error body, admission
// of a call (latency and injected faults, as for every other emulated call), and strict body
// decoding.
package googlerest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Error is a Google API error as the JSON front end writes it (Google API design guide,
// "Errors", HTTP mapping): {"error":{"code":403,"message":"…","status":"PERMISSION_DENIED"}}.
type Error struct {
	Code    codes.Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", world.CodeName(e.Code), e.Message) }

// Errorf returns an Error with code and a formatted message.
func Errorf(code codes.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// httpStatus maps gRPC codes to HTTP statuses (google.rpc.Code, "HTTP Mapping").
var httpStatus = map[codes.Code]int{
	codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
	codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
	codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
	codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
	codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
}

// Status returns the HTTP status for code.
func Status(code codes.Code) int {
	if s, ok := httpStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WriteError writes err as Google's JSON error body (any error that is not an *Error is
// INTERNAL).
func WriteError(rw http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: codes.Internal, Message: err.Error()}
	}
	body := map[string]any{"error": map[string]any{
		"code": Status(e.Code), "message": e.Message, "status": world.CodeName(e.Code),
	}}
	b, _ := json.Marshal(body)
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(Status(e.Code))
	_, _ = rw.Write(b)
}

// WriteJSON writes v (a proto message in its JSON mapping, or any JSON value) with status 200.
func WriteJSON(rw http.ResponseWriter, v any) {
	var b []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		b, err = protojson.Marshal(m)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		WriteError(rw, err)
		return
	}
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = rw.Write(b)
}

// Handler serves one REST method: it returns the response body or an error.
type Handler func(r *http.Request) (any, error)

// Serve admits the call as method (latency, injected faults: world.Admit) and serves it with
// h. A fault marked AfterCommit lets h run, then answers with the fault.
func Serve(w *world.World, method string, h Handler) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		hit, err := w.Admit(r.Context(), method)
		if err != nil {
			code := codes.Canceled
			if errors.Is(err, context.DeadlineExceeded) {
				code = codes.DeadlineExceeded
			}
			WriteError(rw, &Error{Code: code, Message: err.Error()})
			return
		}
		if hit != nil && !hit.AfterCommit {
			WriteError(rw, &Error{Code: hit.Code, Message: hit.Message})
			return
		}
		body, herr := h(r)
		switch {
		case hit != nil:
			WriteError(rw, &Error{Code: hit.Code, Message: hit.Message})
		case herr != nil:
			WriteError(rw, herr)
		default:
			WriteJSON(rw, body)
		}
	}
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Decode reads a JSON request body into v (a proto message through protojson, anything else
// through encoding/json), rejecting unknown fields as Google's front end does. An empty body
// decodes as {}.
func Decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return Errorf(codes.InvalidArgument, "could not read the request body: %v", err)
	}
	if len(b) > maxBody {
		return Errorf(codes.InvalidArgument, "request body too large")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if m, ok := v.(proto.Message); ok {
		if err := protojson.Unmarshal(b, m); err != nil {
			return Errorf(codes.InvalidArgument, "Invalid JSON payload received. %s", cleanProtoJSONError(err))
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Errorf(codes.InvalidArgument, "Invalid JSON payload received. Unknown name %s: Cannot find field.", name)
		}
		return Errorf(codes.InvalidArgument, "Invalid JSON payload received. %v", err)
	}
	return nil
}

func cleanProtoJSONError(err error) string {
	s := err.Error()
	if i := strings.Index(s, ") "); strings.HasPrefix(s, "proto:") && i > 0 {
		return s[i+2:]
	}
	return s
}
