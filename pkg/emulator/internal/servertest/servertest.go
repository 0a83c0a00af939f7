// Package servertest starts pieces of the emulator on loopback for the API packages' tests, so
// they drive their handlers through the real Google client libraries.
package servertest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/lroapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/restgw"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// FastConfig is a timing configuration for tests: operations take a few milliseconds.
var FastConfig = world.Config{
	LRODuration:   20 * time.Millisecond,
	RevisionReady: 30 * time.Millisecond,
	IPRelease:     time.Minute,
}

// NewWorld returns a world with cfg whose clock runs until the test ends. Set
// RUNNET_EMULATOR_TEST_LOG=1 to see the emulator's log.
func NewWorld(t testing.TB, cfg world.Config) *world.World {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("RUNNET_EMULATOR_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	w := world.New(cfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// StartGRPC serves the Operations service plus whatever register adds on a loopback port, with
// the emulator's admission interceptor (latency, faults), and returns host:port.
func StartGRPC(t testing.TB, w *world.World, register ...func(*grpc.Server, *world.World)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(w.UnaryInterceptor()))
	lroapi.Register(s, w)
	for _, r := range register {
		r(s, w)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

// StartGRPCAndREST serves, like StartGRPC, the Operations service plus whatever register adds,
// and also their REST/JSON form (restgw, with the service-configuration rules given), each on
// its own loopback port; the REST server reaches the gRPC one over a real connection. It
// returns both host:ports.
func StartGRPCAndREST(t testing.TB, w *world.World, rules []*annotations.HttpRule, register ...func(*grpc.Server, *world.World)) (grpcAddr, restAddr string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(w.UnaryInterceptor()))
	lroapi.Register(s, w)
	for _, r := range register {
		r(s, w)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	var services []string
	for name := range s.GetServiceInfo() {
		services = append(services, name)
	}
	gw, err := restgw.New(restgw.Config{Conn: conn, Services: services, Rules: rules})
	if err != nil {
		t.Fatalf("REST gateway: %v", err)
	}
	return l.Addr().String(), StartHTTP(t, gw)
}

// StartHTTP serves h on a loopback port and returns host:port.
func StartHTTP(t testing.TB, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// GRPCOptions are the client options that point a Google gRPC client at addr without auth.
func GRPCOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// ComputeOptions are the client options that point the Compute REST client at addr.
func ComputeOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("http://" + addr + "/compute/v1/"),
		option.WithoutAuthentication(),
	}
}

// RESTOptions are the client options that point a Google REST client whose paths start with
// its version (cloudresourcemanager/v3, cloudbilling/v1, vpcaccess/v1) at addr.
func RESTOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("http://" + addr + "/"),
		option.WithoutAuthentication(),
	}
}
