package frontdoor

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// REST calls of the gRPC APIs (the HTTP/JSON gateway, the Knative-style API) reach the gRPC
// server through an in-process connection, after Handler has checked their credential and
// recorded them. Their caller crosses that connection in metadata (callerMetadata), which
// the gRPC interceptors trust only from a peer on the in-process listener
// (InProcessListener): a network client that sends the same key is authenticated as any
// other, its value ignored. So each REST call is checked and recorded once, and its handler
// sees the caller the HTTP layer found.

// callerMetadata carries the caller of a call Handler checked: its principal, or
// noPrincipal when it had no valid credential and was served anyway (RequireAuth off).
const (
	callerMetadata = "x-runnet-emulator-checked-caller"
	noPrincipal    = "-"
)

// checkedKey is the context key under which Handler leaves the principal of a call it
// checked ("" without a valid credential), for ForwardCaller.
type checkedKey struct{}

func withChecked(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, checkedKey{}, principal)
}

// inProcessAddr is the remote address of every connection InProcessListener accepts. No
// network connection has it.
type inProcessAddr struct{}

func (inProcessAddr) Network() string { return "in-process" }
func (inProcessAddr) String() string  { return "in-process" }

// InProcessListener wraps the listener of the in-process connection, so that the gRPC
// interceptors can tell its calls from the network's by their peer.
func InProcessListener(l net.Listener) net.Listener { return inProcessListener{l} }

type inProcessListener struct{ net.Listener }

func (l inProcessListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return inProcessConn{c}, nil
}

type inProcessConn struct{ net.Conn }

func (inProcessConn) RemoteAddr() net.Addr { return inProcessAddr{} }

// inProcess reports whether ctx is a call that came over the in-process connection.
func inProcess(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	_, ok = p.Addr.(inProcessAddr)
	return ok
}

// forwarded returns the caller a call over the in-process connection carries, if any.
func forwarded(ctx context.Context) (principal string, ok bool) {
	if !inProcess(ctx) {
		return "", false
	}
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(callerMetadata)
	if len(v) != 1 || v[0] == "" {
		return "", false
	}
	if v[0] == noPrincipal {
		return "", true
	}
	return v[0], true
}

// outgoing adds to the outgoing metadata of ctx the caller Handler found, replacing any
// value already there.
func outgoing(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	delete(md, callerMetadata)
	if p, ok := ctx.Value(checkedKey{}).(string); ok {
		if p == "" {
			p = noPrincipal
		}
		md.Set(callerMetadata, p)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// ForwardCallerUnary is the client interceptor of the in-process connection: it passes on
// the caller of the REST call being served.
func ForwardCallerUnary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(outgoing(ctx), method, req, reply, cc, opts...)
	}
}

// ForwardCallerStream is ForwardCallerUnary for streams.
func ForwardCallerStream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(outgoing(ctx), desc, cc, method, opts...)
	}
}
