package world

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Admit is what every call passes through before it is served: it waits the configured latency
// (or until ctx ends) and reports the fault the call must suffer, if any.
func (w *World) Admit(ctx context.Context, method string) (*Hit, error) {
	if lat := w.Config().Latency; lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	hit := w.Faults.Check(method)
	w.notifyCall(method)
	return hit, nil
}

// UnaryInterceptor admits every gRPC call: latency, then the API's enablement in the project
// the request names (services.go), then faults (METHOD is the full method without its leading
// slash), then the handler.
func (w *World) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		method := strings.TrimPrefix(info.FullMethod, "/")
		hit, err := w.Admit(ctx, method)
		if err != nil {
			return nil, status.FromContextError(err).Err()
		}
		w.Lock()
		off := w.grpcServiceDisabledLocked(method, req)
		w.Unlock()
		if off != nil {
			return nil, off.Status().Err()
		}
		if hit != nil && !hit.AfterCommit {
			w.Log.Info("fault injected", "method", method, "code", CodeName(hit.Code))
			return nil, status.Error(hit.Code, hit.Message)
		}
		resp, err := handler(ctx, req)
		if hit != nil {
			w.Log.Info("fault injected after commit", "method", method, "code", CodeName(hit.Code))
			return nil, status.Error(hit.Code, hit.Message)
		}
		return resp, err
	}
}
