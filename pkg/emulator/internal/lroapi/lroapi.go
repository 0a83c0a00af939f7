// Package lroapi serves google.longrunning.Operations for the emulator's gRPC APIs (Run v2 and
// VPC Access v1 share one operation store, as both name operations
// projects/P/locations/L/operations/ID).
package lroapi

import (
	"context"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/restgw"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// MaxWait bounds one WaitOperation call, like the real service's server-side cap; a caller
// that wants longer calls again.
const MaxWait = 60 * time.Second

// DefaultWait is how long WaitOperation waits when the request sets no timeout.
const DefaultWait = 60 * time.Second

type server struct {
	longrunningpb.UnimplementedOperationsServer
	w *world.World
}

// Register adds the Operations service to s.
func Register(s *grpc.Server, w *world.World) {
	longrunningpb.RegisterOperationsServer(s, &server{w: w})
}

// restAPIs maps the REST path prefix a call came through to the metadata type prefix of the
// operations of that API. Run and VPC Access name their operations alike and share one store;
// over REST (different paths, as on their different hosts) each lists only its own, as the
// real services do. Over gRPC both are reached on one address, so a list shows both.
var restAPIs = map[string]string{
	"/v2/": "type.googleapis.com/google.cloud.run.",
	"/v1/": "type.googleapis.com/google.cloud.vpcaccess.",
}

// apiOfCall returns the operation metadata type prefix of the API a REST call came through,
// or "" for a gRPC call.
func apiOfCall(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, p := range md.Get(restgw.PathMetadata) {
		for prefix, api := range restAPIs {
			if strings.HasPrefix(p, prefix) {
				return api
			}
		}
	}
	return ""
}

func validName(name string) error {
	if name == "" {
		return status.Error(codes.InvalidArgument, "Invalid operation name: name must not be empty.")
	}
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "operations" || parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return status.Errorf(codes.InvalidArgument, "Invalid operation name %q: want projects/PROJECT/locations/LOCATION/operations/ID.", name)
	}
	return nil
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "Operation %s not found.", name)
}

func (s *server) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	if err := validName(req.GetName()); err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	op := s.w.OperationLocked(req.GetName())
	if op == nil {
		return nil, notFound(req.GetName())
	}
	return op, nil
}

func (s *server) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	api := apiOfCall(ctx)
	prefix := req.GetName()
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	s.w.Lock()
	defer s.w.Unlock()
	resp := &longrunningpb.ListOperationsResponse{}
	keys := world.SortedKeys(s.w.S.Operations)
	start := 0
	if tok := req.GetPageToken(); tok != "" {
		start = len(keys)
		for i, k := range keys {
			if k > tok {
				start = i
				break
			}
		}
	}
	size := int(req.GetPageSize())
	if size <= 0 || size > 1000 {
		size = 1000
	}
	for _, k := range keys[start:] {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		op := s.w.OperationLocked(k)
		if api != "" && !strings.HasPrefix(op.GetMetadata().GetTypeUrl(), api) {
			continue
		}
		if f := req.GetFilter(); f == "done=true" && !op.GetDone() || f == "done=false" && op.GetDone() {
			continue
		}
		if len(resp.Operations) == size {
			resp.NextPageToken = resp.Operations[len(resp.Operations)-1].GetName()
			break
		}
		resp.Operations = append(resp.Operations, op)
	}
	return resp, nil
}

func (s *server) DeleteOperation(_ context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	if err := validName(req.GetName()); err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	if _, ok := s.w.S.Operations[req.GetName()]; !ok {
		return nil, notFound(req.GetName())
	}
	delete(s.w.S.Operations, req.GetName())
	s.w.MarkChangedLocked()
	return &emptypb.Empty{}, nil
}

func (s *server) CancelOperation(_ context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	if err := validName(req.GetName()); err != nil {
		return nil, err
	}
	return nil, status.Errorf(codes.Unimplemented, "Operation %s cannot be cancelled.", req.GetName())
}

// WaitOperation returns the operation as soon as it is done, or as it stands when the timeout
// (default DefaultWait, at most MaxWait) runs out; it does not poll.
func (s *server) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	if err := validName(req.GetName()); err != nil {
		return nil, err
	}
	wait := DefaultWait
	if t := req.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil || t.AsDuration() < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid timeout: %v", t)
		}
		wait = t.AsDuration()
	}
	if wait > MaxWait {
		wait = MaxWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.w.Lock()
		op := s.w.OperationLocked(req.GetName())
		changed := s.w.ChangedLocked()
		s.w.Unlock()
		if op == nil {
			return nil, notFound(req.GetName())
		}
		if op.GetDone() {
			return op, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return op, nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
}
