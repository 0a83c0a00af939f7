// Package emulator is a stateful, wire-faithful emulator of the Google Cloud APIs runnet
// drives: Cloud Run Admin API v2 and Serverless VPC Access API v1 over gRPC (with
// google.longrunning.Operations) and over REST/JSON (transcoded from the same gRPC services,
// under /v2/ and /v1/), Compute Engine API v1 over REST under /compute/v1/, and Cloud
// Monitoring, Service Usage, the Cloud Billing Catalog, Cloud Resource Manager, Cloud Asset
// and (as Google's front door) IAM Service Account Credentials; docs/emulator.md lists them.
//
// All of it is served on one loopback address, so the real Google client libraries work
// against it unchanged:
//
//	e, _ := emulator.New(emulator.Options{Seed: "demo"})
//	_ = e.Start("127.0.0.1:0")
//	defer e.Close()
//	svc, _ := run.NewServicesClient(ctx, e.ClientOptions()...)
//	cs, _ := compute.NewService(ctx, e.ComputeClientOptions()...)
//
// Tests control it through the Go API (faults, latency, clock, scaling) or the HTTP control
// surface under ControlPrefix.
package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/frontdoor"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/lroapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/monitoringapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/restgw"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/serviceusageapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Fault makes calls of one method fail; see the fields for counts, probabilities, sequences
// and faults that strike after the call took effect.
type Fault = world.Fault

// Timing holds the emulator's delays.
type Timing = world.Config

// Seeds the emulator knows.
const (
	SeedEmpty = "empty"
	SeedDemo  = "demo"
)

// Defaults for a person trying the tool: operations take seconds, as on the real platform.
const (
	DefaultLRODuration   = 3 * time.Second
	DefaultRevisionReady = 5 * time.Second
	// DefaultIPRelease is how long Direct VPC reservations outlive their instances; Cloud Run
	// docs ("Direct VPC egress with a VPC network": IP address allocation) say up to 20 minutes.
	DefaultIPRelease = 20 * time.Minute
)

// Options configure an emulator.
type Options struct {
	// Seed is the initial world: SeedEmpty (default), SeedDemo or SeedStory. Ignored when
	// StateFile exists.
	Seed string
	// StateFile, when set, is loaded at start if it exists and written by Close.
	StateFile string
	// Timing: zero values mean the defaults above (Latency defaults to none).
	Latency       time.Duration
	LRODuration   time.Duration
	RevisionReady time.Duration
	IPRelease     time.Duration
	// Faults are injected from the start.
	Faults []Fault
	// Logger receives the emulator's log; nil discards it.
	Logger *slog.Logger
	// FrontDoor, when set, serves the APIs over TLS and issues and checks credentials as
	// Google's front door does; see FrontDoorOptions.
	FrontDoor *FrontDoorOptions
}

// Emulator is a running (or ready to run) emulator.
type Emulator struct {
	w     *world.World
	opts  Options
	log   *slog.Logger
	grpc  *grpc.Server
	http  *http.Server
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	ln    net.Listener
	close sync.Once

	// rest.go: the HTTP/JSON gateway and its in-process connection to the gRPC server.
	rest      *restgw.Gateway
	local     *bufconn.Listener
	localConn *grpc.ClientConn

	fd     *frontdoor.FrontDoor // nil without FrontDoorOptions
	caFile string
	caTemp string
}

// New builds an emulator from opts: its world is loaded from opts.StateFile when that exists,
// else seeded with opts.Seed. It serves nothing until Start or Serve.
func New(opts Options) (*Emulator, error) {
	if opts.Seed == "" {
		opts.Seed = SeedEmpty
	}
	if !knownSeed(opts.Seed) {
		return nil, fmt.Errorf("unknown seed %q: want one of %s", opts.Seed, strings.Join(Seeds, ", "))
	}
	if opts.LRODuration == 0 {
		opts.LRODuration = DefaultLRODuration
	}
	if opts.RevisionReady == 0 {
		opts.RevisionReady = DefaultRevisionReady
	}
	if opts.IPRelease == 0 {
		opts.IPRelease = DefaultIPRelease
	}
	for _, d := range []time.Duration{opts.Latency, opts.LRODuration, opts.RevisionReady, opts.IPRelease} {
		if d < 0 {
			return nil, fmt.Errorf("negative duration %v", d)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := world.New(world.Config{
		Latency: opts.Latency, LRODuration: opts.LRODuration,
		RevisionReady: opts.RevisionReady, IPRelease: opts.IPRelease,
	}, log)
	e := &Emulator{w: w, opts: opts, log: log}
	mux := http.NewServeMux()
	grpcOpts := []grpc.ServerOption{}
	// Before the world is seeded or loaded: the front door's identities own its projects.
	// Its interceptors come before the world's: credentials are checked first.
	handler, err := e.setupFrontDoor(&grpcOpts, mux)
	if err != nil {
		return nil, err
	}
	loaded := false
	if opts.StateFile != "" {
		b, err := os.ReadFile(opts.StateFile)
		switch {
		case err == nil:
			if err := w.Restore(b); err != nil {
				return nil, fmt.Errorf("load state from %s: %w", opts.StateFile, err)
			}
			loaded = true
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("load state: %w", err)
		}
	}
	if !loaded {
		if err := e.Seed(opts.Seed); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.Faults {
		w.Faults.Add(f)
	}
	e.ctx, e.stop = context.WithCancel(context.Background())
	e.wg.Add(1)
	go func() { defer e.wg.Done(); w.Run(e.ctx) }()

	e.grpc = grpc.NewServer(append(grpcOpts, grpc.ChainUnaryInterceptor(w.UnaryInterceptor()))...)
	lroapi.Register(e.grpc, w)
	runapi.Register(e.grpc, w)
	vpcaccessapi.Register(e.grpc, w)
	monitoringapi.Register(e.grpc, w)
	compute := computeapi.New(w)
	mux.Handle("/compute/v1/", compute)
	mux.Handle(ControlPrefix, e.controlHandler())
	registerOrgAPIs(e.grpc, mux, w) // orgapis.go
	if err := e.registerREST(mux, compute); err != nil {
		e.stop()
		e.wg.Wait()
		return nil, err
	}
	mux.Handle(serviceusageapi.Pattern, serviceusageapi.New(w))
	// Requests for a Cloud Run URL (by Host header) reach the service whatever their path
	// (runurl.go), past the front door's API credentials (they carry an ID token); every
	// other request goes through the front door, if any, and is routed by path.
	e.http = &http.Server{Handler: e.runURLHandler(handler), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return e, nil
}

// ErrNotLoopback is returned when asked to listen on an address that is not loopback.
var ErrNotLoopback = errors.New("the emulator listens only on loopback addresses (127.0.0.0/8, ::1, localhost)")

// CheckLoopback reports whether addr (host:port) is a loopback address.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: %w", addr, ErrNotLoopback)
	}
	return nil
}

// Start listens on addr (loopback only; port 0 picks a free one) and serves in the background.
func (e *Emulator) Start(addr string) error {
	if err := CheckLoopback(addr); err != nil {
		return err
	}
	if host, port, _ := net.SplitHostPort(addr); host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if err := e.setListener(l); err != nil {
		_ = l.Close()
		return err
	}
	if err := e.startFrontDoor(l.Addr().String()); err != nil {
		_ = l.Close()
		return err
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.serve(l); err != nil {
			e.log.Error("serve", "err", err)
		}
	}()
	return nil
}

func (e *Emulator) setListener(l net.Listener) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln != nil {
		return errors.New("emulator already serving")
	}
	e.ln = l
	return nil
}

// Serve serves gRPC and REST on l until Close. gRPC connections (HTTP/2 with prior knowledge)
// and HTTP/1.1 ones are told apart by their first bytes.
func (e *Emulator) Serve(l net.Listener) error {
	if err := CheckLoopback(l.Addr().String()); err != nil {
		_ = l.Close()
		return err
	}
	if err := e.setListener(l); err != nil {
		return err
	}
	if err := e.startFrontDoor(l.Addr().String()); err != nil {
		_ = l.Close()
		return err
	}
	return e.serve(l)
}

func (e *Emulator) serve(l net.Listener) error {
	grpcL := newChanListener(l.Addr())
	httpL := newChanListener(l.Addr())
	errc := make(chan error, 3)
	go func() { errc <- e.grpc.Serve(grpcL) }()
	go func() { errc <- e.grpc.Serve(e.inProcessListener()) }()
	go func() { errc <- e.http.Serve(httpL) }()
	e.log.Info("emulator serving", "addr", l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			grpcL.Close()
			httpL.Close()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		go e.routeConn(c, grpcL, httpL)
	}
}

// http2Preface starts every HTTP/2 connection made with prior knowledge, as gRPC clients do.
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// deliverer takes a routed connection.
type deliverer interface{ deliver(net.Conn) }

func route(c net.Conn, grpcL, httpL deliverer) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 64)
	isH2 := true
	for n := 1; n <= len(http2Preface); n++ {
		b, err := br.Peek(n)
		if err != nil {
			_ = c.Close()
			return
		}
		if b[n-1] != http2Preface[n-1] {
			isH2 = false
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	if isH2 {
		grpcL.deliver(pc)
	} else {
		httpL.deliver(pc)
	}
}

type peekedConn struct {
	net.Conn
	r io.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// Addr is the host:port the emulator serves on, empty before Start or Serve.
func (e *Emulator) Addr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln == nil {
		return ""
	}
	return e.ln.Addr().String()
}

// Close stops serving, finishes operations in flight, and writes the state file if one was
// configured.
func (e *Emulator) Close() error {
	var err error
	e.close.Do(func() {
		e.mu.Lock()
		ln := e.ln
		e.mu.Unlock()
		if ln != nil {
			_ = ln.Close()
		}
		_ = e.localConn.Close()
		stopped := make(chan struct{})
		go func() { e.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			e.grpc.Stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = e.http.Shutdown(ctx)
		cancel()
		e.stop()
		e.wg.Wait()
		e.closeFrontDoor()
		if e.opts.StateFile != "" {
			err = e.SaveState(e.opts.StateFile)
		}
	})
	return err
}

// SaveState writes the whole state as JSON to path (atomically: a temporary file renamed
// over it), after finishing every operation in flight so that nothing is lost. A file that
// already holds exactly this state is left alone, so that reading never rewrites it.
func (e *Emulator) SaveState(path string) error {
	e.w.Lock()
	e.w.FlushLocked()
	e.w.Unlock()
	b, err := e.w.Snapshot()
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, b) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*.json")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if _, err := io.Copy(tmp, bytes.NewReader(b)); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// ClientOptions point a Run v2 or VPC Access v1 gRPC client at the emulator, without
// authentication, over an insecure loopback connection (over TLS, trusting the emulator's CA,
// with a front door).
func (e *Emulator) ClientOptions() []option.ClientOption {
	if e.fd != nil {
		return e.frontDoorGRPCOptions()
	}
	return GRPCClientOptions(e.Addr())
}

// ComputeClientOptions point the Compute v1 REST client at the emulator, without
// authentication (over TLS, trusting the emulator's CA, with a front door).
func (e *Emulator) ComputeClientOptions() []option.ClientOption {
	if e.fd != nil {
		return e.frontDoorComputeOptions()
	}
	return ComputeClientOptions(e.Addr())
}

// GRPCClientOptions point a Google gRPC client at an emulator serving on host:port.
func GRPCClientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// ComputeClientOptions point the Compute v1 REST client at an emulator serving on host:port.
func ComputeClientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("http://" + addr + "/compute/v1/"),
		option.WithoutAuthentication(),
	}
}
