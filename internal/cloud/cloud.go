// Package cloud is runnet's only door to Google Cloud: it builds the Run v2, VPC Access v1 and
// Compute v1 clients (against the real APIs with Application Default Credentials, or against an
// emulator), waits for long-running operations, retries what is safe to retry, and logs
// requests when asked. Nothing else in runnet imports the Google client libraries.
package cloud

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"sync"

	run "cloud.google.com/go/run/apiv2"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	serviceusage "google.golang.org/api/serviceusage/v1beta1"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Config says where the clients connect.
type Config struct {
	// EmulatorHost, when set (host:port), points every client at a runnet emulator instead of
	// Google, without authentication. The fields below apply to Google Cloud only.
	EmulatorHost string
	// Log, when set, receives one line per request (method, target, duration, outcome).
	// Credentials are never written.
	Log io.Writer
	// UserAgent is added to every request.
	UserAgent string

	// Endpoints override the APIs' default endpoints (gcloud's api_endpoint_overrides).
	Endpoints Endpoints
	// CredentialsFile is the Application Default Credentials file
	// (GOOGLE_APPLICATION_CREDENTIALS, or the one gcloud keeps); "" lets the client
	// libraries look further (the metadata server on Google Cloud).
	CredentialsFile string
	// Impersonate, when set, is the service account to act as, through the IAM Credentials
	// API, with Delegates (in order) as the delegation chain (gcloud's
	// auth/impersonate_service_account).
	Impersonate string
	Delegates   []string
	// QuotaProject is gcloud's billing/quota_project: a project to bill (the
	// x-goog-user-project header), CURRENT_PROJECT (Project, for user credentials), LEGACY
	// (no header), or "" (the credentials' own quota_project_id, if any).
	QuotaProject string
	// Project is the project the command works on, for QuotaProject CURRENT_PROJECT.
	Project string
	// WritesPerMinute paces Cloud Run Admin API writes per project and region (pacing.go):
	// 0 for the default (DefaultWritesPerMinute against Google, no pacing against an
	// emulator), negative for none.
	WritesPerMinute int
	// RootCAs, when set, are the certificate authorities trusted (the system's and gcloud's
	// core/custom_ca_certs_file); nil means the system's, which SSL_CERT_FILE replaces.
	RootCAs *x509.CertPool
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
	// org holds the clients that see beyond one project (orgclients.go).
	org orgClients
	// life holds Monitoring, Cloud Billing and VPC Access REST (monitoring.go).
	life lifeClients
	// serviceUsage is the Service Usage v1beta1 client (serviceusage.go).
	serviceUsage *serviceusage.APIService
	closers      []io.Closer
	// writePacer paces Cloud Run writes per project and region (pacing.go).
	paceOnce   sync.Once
	writePacer *WritePacer
	// agentChecks remembers the service-agent checks made (facts_serviceagent.go).
	agentChecks agentMemo
	// credErr is the credentials error of the first client that could not be built: every
	// later client fails with it too, without looking again (see credentials.go).
	credErr error

	authOnce  sync.Once
	authState *authState
}

// New returns a client set; nothing is dialled until a client is first used. ctx bounds the
// clients' background work (token refresh), not individual calls.
func New(ctx context.Context, cfg Config) *Clients {
	return &Clients{cfg: cfg, ctx: ctx}
}

// Emulated reports whether the clients talk to an emulator.
func (c *Clients) Emulated() bool { return c.cfg.EmulatorHost != "" }

// grpcOptions are the options of a gRPC client whose endpoint override is endpoint.
func (c *Clients) grpcOptions(endpoint string) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if c.cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(c.cfg.UserAgent))
	}
	if c.cfg.Log != nil {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(logUnary(c.cfg.Log))))
	}
	if c.cfg.EmulatorHost != "" {
		return append(opts,
			option.WithEndpoint(c.cfg.EmulatorHost),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))), nil
	}
	a := c.auth()
	if a.err != nil {
		return nil, a.err
	}
	opts = append(opts, option.WithAuthCredentials(a.grpc))
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	if qp := c.quotaProject(a); qp != "" {
		opts = append(opts, option.WithQuotaProject(qp))
	}
	if cfg := c.tlsConfig(); cfg != nil {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewTLS(cfg))))
	}
	return opts, nil
}

// quotaProject is the x-goog-user-project to send, as gcloud chooses it: a project named in
// billing/quota_project; for CURRENT_PROJECT the command's project with user credentials
// (and nothing with a service account); for LEGACY or nothing, what the credentials say.
func (c *Clients) quotaProject(a *authState) string {
	switch c.cfg.QuotaProject {
	case "", quotaLegacy:
		return ""
	case quotaCurrentProject, quotaCurrentProjectWithFallback:
		if a.kind == "authorized_user" && c.cfg.Impersonate == "" {
			return c.cfg.Project
		}
		return ""
	}
	return c.cfg.QuotaProject
}

// computeService builds the Compute client (restOptions, with Compute's own scope beside
// cloud-platform).
func (c *Clients) computeService(ctx context.Context, _ ...option.ClientOption) (*compute.Service, error) {
	opts, err := c.restOptions(ctx, "Compute Engine", "/compute/v1/", c.cfg.Endpoints.Compute, scopeCompute)
	if err != nil {
		return nil, err
	}
	return compute.NewService(ctx, opts...)
}

// restOptions are the options of every google.golang.org/api REST client (Compute, Monitoring,
// Cloud Billing, Service Usage, VPC Access REST, Resource Manager): against the emulator at
// emulatorPath without authentication; against Google over runnet's own transport (proxy, TLS
// roots, its own copy of the credentials with the cloud-platform scope and any others given,
// then the request log, which so never sees credentials), at endpoint when it is set.
func (c *Clients) restOptions(ctx context.Context, name, emulatorPath, endpoint string, scopes ...string) ([]option.ClientOption, error) {
	if c.cfg.EmulatorHost != "" {
		opts := []option.ClientOption{option.WithEndpoint("http://" + c.cfg.EmulatorHost + emulatorPath), option.WithoutAuthentication()}
		if c.cfg.UserAgent != "" {
			opts = append(opts, option.WithUserAgent(c.cfg.UserAgent))
		}
		if c.cfg.Log != nil {
			opts = append(opts, option.WithHTTPClient(&http.Client{Transport: &logTransport{w: c.cfg.Log, next: http.DefaultTransport}}))
		}
		return opts, nil
	}
	a := c.auth()
	if a.err != nil {
		return nil, a.err
	}
	topts := []option.ClientOption{option.WithAuthCredentials(a.restCredentials()), option.WithScopes(append([]string{scopeCloudPlatform}, scopes...)...)}
	if c.cfg.UserAgent != "" {
		topts = append(topts, option.WithUserAgent(c.cfg.UserAgent))
	}
	if qp := c.quotaProject(a); qp != "" {
		topts = append(topts, option.WithQuotaProject(qp))
	}
	rt, err := htransport.NewTransport(ctx, c.baseTransport(), topts...)
	if err != nil {
		return nil, fmt.Errorf("build the %s transport: %w", name, err)
	}
	if c.cfg.Log != nil {
		rt = &logTransport{w: c.cfg.Log, next: rt}
	}
	opts := []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: rt})}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	return opts, nil
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
	return lazyGRPC(c, &c.services, "Cloud Run services", run.NewServicesClient, c.cfg.Endpoints.Run)
}

// Revisions returns the Run v2 Revisions client.
func (c *Clients) Revisions() (*run.RevisionsClient, error) {
	return lazyGRPC(c, &c.revisions, "Cloud Run revisions", run.NewRevisionsClient, c.cfg.Endpoints.Run)
}

// Jobs returns the Run v2 Jobs client.
func (c *Clients) Jobs() (*run.JobsClient, error) {
	return lazyGRPC(c, &c.jobs, "Cloud Run jobs", run.NewJobsClient, c.cfg.Endpoints.Run)
}

// Executions returns the Run v2 Executions client.
func (c *Clients) Executions() (*run.ExecutionsClient, error) {
	return lazyGRPC(c, &c.executions, "Cloud Run executions", run.NewExecutionsClient, c.cfg.Endpoints.Run)
}

// WorkerPools returns the Run v2 WorkerPools client.
func (c *Clients) WorkerPools() (*run.WorkerPoolsClient, error) {
	return lazyGRPC(c, &c.workerPools, "Cloud Run worker pools", run.NewWorkerPoolsClient, c.cfg.Endpoints.Run)
}

// VPCAccess returns the VPC Access v1 client.
func (c *Clients) VPCAccess() (*vpcaccess.Client, error) {
	return lazyGRPC(c, &c.vpc, "Serverless VPC Access", vpcaccess.NewClient, c.cfg.Endpoints.VPCAccess)
}

// Compute returns the Compute v1 REST client.
func (c *Clients) Compute() (*compute.Service, error) {
	return lazy(c, &c.compute, "Compute Engine", c.computeService, nil)
}

// lazyGRPC is lazy for a gRPC client whose endpoint override is endpoint.
func lazyGRPC[T any](c *Clients, slot *T, name string, mk func(context.Context, ...option.ClientOption) (T, error), endpoint string) (T, error) {
	opts, err := c.grpcOptions(endpoint)
	if err != nil {
		var zero T
		return zero, err
	}
	return lazy(c, slot, name, mk, opts)
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
