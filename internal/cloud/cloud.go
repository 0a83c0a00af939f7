// Package cloud is runnet's only door to Google Cloud: it builds the Run v2, VPC Access v1 and
// Compute v1 clients (against the real APIs with Application Default Credentials, or against an
// emulator), waits for long-running operations, retries what is safe to retry, and logs
// requests when asked. Nothing else in runnet imports the Google client libraries.
package cloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	run "cloud.google.com/go/run/apiv2"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says where the clients connect.
type Config struct {
	// EmulatorHost, when set (host:port), points every client at a runnet emulator instead of
	// Google, without authentication.
	EmulatorHost string
	// Log, when set, receives one line per request (method, target, duration, outcome).
	// Credentials are never written.
	Log io.Writer
	// UserAgent is added to every request.
	UserAgent string
}

// Clients builds each Google client on first use and shares it afterwards. It is safe for
// concurrent use.
type Clients struct {
	cfg Config
	ctx context.Context

	mu          sync.Mutex
	services    *run.ServicesClient
	revisions   *run.RevisionsClient
	jobs        *run.JobsClient
	executions  *run.ExecutionsClient
	workerPools *run.WorkerPoolsClient
	vpc         *vpcaccess.Client
	compute     *compute.Service
	closers     []io.Closer
	// credErr is the credentials error of the first client that could not be built: every
	// later client fails with it too, without looking again (see credentials.go).
	credErr error
}

// New returns a client set; nothing is dialled until a client is first used. ctx bounds the
// clients' background work (token refresh), not individual calls.
func New(ctx context.Context, cfg Config) *Clients {
	return &Clients{cfg: cfg, ctx: ctx}
}

// Emulated reports whether the clients talk to an emulator.
func (c *Clients) Emulated() bool { return c.cfg.EmulatorHost != "" }

func (c *Clients) grpcOptions() []option.ClientOption {
	var opts []option.ClientOption
	if c.cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(c.cfg.UserAgent))
	}
	if c.cfg.Log != nil {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(logUnary(c.cfg.Log))))
	}
	if c.cfg.EmulatorHost != "" {
		opts = append(opts,
			option.WithEndpoint(c.cfg.EmulatorHost),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	return opts
}

func (c *Clients) computeOptions() []option.ClientOption {
	var opts []option.ClientOption
	if c.cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(c.cfg.UserAgent))
	}
	if c.cfg.EmulatorHost != "" {
		opts = append(opts, option.WithEndpoint("http://"+c.cfg.EmulatorHost+"/compute/v1/"), option.WithoutAuthentication())
		if c.cfg.Log != nil {
			opts = append(opts, option.WithHTTPClient(&http.Client{Transport: &logTransport{w: c.cfg.Log, next: http.DefaultTransport}}))
		}
	}
	return opts
}

func lazy[T any](c *Clients, slot *T, name string, mk func(context.Context, ...option.ClientOption) (T, error), opts []option.ClientOption) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero T
	if any(*slot) != any(zero) {
		return *slot, nil
	}
	if c.credErr != nil {
		return zero, c.credErr
	}
	v, err := mk(c.ctx, opts...)
	if err != nil {
		if ce := asCredentialsError(err); ce != nil {
			c.credErr = ce
			return zero, ce
		}
		return zero, fmt.Errorf("create %s client: %w", name, err)
	}
	*slot = v
	if cl, ok := any(v).(io.Closer); ok {
		c.closers = append(c.closers, cl)
	}
	return v, nil
}

// Services returns the Run v2 Services client.
func (c *Clients) Services() (*run.ServicesClient, error) {
	return lazy(c, &c.services, "Cloud Run services", run.NewServicesClient, c.grpcOptions())
}

// Revisions returns the Run v2 Revisions client.
func (c *Clients) Revisions() (*run.RevisionsClient, error) {
	return lazy(c, &c.revisions, "Cloud Run revisions", run.NewRevisionsClient, c.grpcOptions())
}

// Jobs returns the Run v2 Jobs client.
func (c *Clients) Jobs() (*run.JobsClient, error) {
	return lazy(c, &c.jobs, "Cloud Run jobs", run.NewJobsClient, c.grpcOptions())
}

// Executions returns the Run v2 Executions client.
func (c *Clients) Executions() (*run.ExecutionsClient, error) {
	return lazy(c, &c.executions, "Cloud Run executions", run.NewExecutionsClient, c.grpcOptions())
}

// WorkerPools returns the Run v2 WorkerPools client.
func (c *Clients) WorkerPools() (*run.WorkerPoolsClient, error) {
	return lazy(c, &c.workerPools, "Cloud Run worker pools", run.NewWorkerPoolsClient, c.grpcOptions())
}

// VPCAccess returns the VPC Access v1 client.
func (c *Clients) VPCAccess() (*vpcaccess.Client, error) {
	return lazy(c, &c.vpc, "Serverless VPC Access", vpcaccess.NewClient, c.grpcOptions())
}

// Compute returns the Compute v1 REST client.
func (c *Clients) Compute() (*compute.Service, error) {
	opts := c.computeOptions()
	if c.cfg.EmulatorHost == "" && c.cfg.Log != nil {
		// Against Google, build the authenticated transport here so requests can be logged
		// around it (after authentication headers are added; the log never prints them).
		return lazy(c, &c.compute, "Compute Engine", func(ctx context.Context, o ...option.ClientOption) (*compute.Service, error) {
			hc, _, err := htransport.NewClient(ctx, append(o, option.WithScopes(compute.CloudPlatformScope))...)
			if err != nil {
				return nil, err
			}
			hc.Transport = &logTransport{w: c.cfg.Log, next: hc.Transport}
			return compute.NewService(ctx, option.WithHTTPClient(hc))
		}, opts)
	}
	return lazy(c, &c.compute, "Compute Engine", compute.NewService, opts)
}

// Close closes every client built.
func (c *Clients) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, cl := range c.closers {
		if err := cl.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.closers = nil
	return first
}
