package cloud

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/idtoken"
	"cloud.google.com/go/auth/credentials/impersonate"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The probes of a new revision before traffic moves (egress.Prober): an HTTP GET of its tagged
// URL with an ID token, and a short job that connects to TCP destinations with the target's
// VPC access.

// probeTimeout bounds one HTTP probe; probeJobTimeout a probe job's task, which spends at
// most probeConnectBudget retrying (plus one last 5-second attempt per destination).
const (
	probeTimeout       = 30 * time.Second
	probeJobTimeout    = 4 * time.Minute
	probeConnectBudget = 90 * time.Second
	probeRetryEvery    = 5 * time.Second
)

// probeScript connects to each of $RUNNET_PROBE_TCP's HOST:PORT (comma-separated) with nc.
// A Direct VPC egress instance can take a minute or more to establish connections after it
// starts (Cloud Run's Direct VPC egress docs), so a destination that does not answer is tried
// again every few seconds until the budget, shared by all destinations, runs out; only then
// does the probe fail.
var probeScript = tcpProbeScript(probeConnectBudget, probeRetryEvery)

// tcpProbeScript is the probe job's shell script (POSIX sh and BusyBox nc): each destination
// is tried every every until budget has passed since the script started. An IPv6 address
// comes bracketed ([fd00::5]:5432); nc wants it bare.
func tcpProbeScript(budget, every time.Duration) string {
	return fmt.Sprintf(`deadline=$(( $(date +%%s) + %d )); `+
		`for t in $(echo "$RUNNET_PROBE_TCP" | tr ',' ' '); do `+
		`h="${t%%:*}"; h="${h#\[}"; h="${h%%\]}"; `+
		`until nc -z -w 5 "$h" "${t##*:}"; do `+
		`if [ "$(date +%%s)" -ge "$deadline" ]; then echo "cannot connect to $t" >&2; exit 1; fi; `+
		`sleep %d; done; `+
		`echo "connected to $t"; done`, int(budget.Seconds()), int(every.Seconds()))
}

// probeEnv is the probe job's variable listing its destinations (the emulator reads it too).
const probeEnv = "RUNNET_PROBE_TCP"

// ProbeHTTP implements egress.Prober: GET path on the URL of service's revision tagged tag,
// with an ID token for the service's URL (against an emulator, through its own address with
// the URL's host), and 2xx is success.
func (c *Clients) ProbeHTTP(ctx context.Context, service egress.WorkloadRef, tag, path string) egress.ProbeResult {
	res := egress.ProbeResult{Kind: "http", Target: path}
	w, err := c.GetWorkload(ctx, service)
	if err != nil {
		res.Message = err.Error()
		return res
	}
	s, ok := w.Raw.(*runpb.Service)
	if !ok {
		res.Message = service.String() + " is not a service"
		return res
	}
	var uri string
	for _, t := range s.GetTrafficStatuses() {
		if t.GetTag() == tag && t.GetUri() != "" {
			uri = t.GetUri()
		}
	}
	if uri == "" {
		res.Message = "the service shows no URL for tag " + tag
		return res
	}
	target := strings.TrimSuffix(uri, "/") + "/" + strings.TrimPrefix(path, "/")
	res.Target = target
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		res.Message = err.Error()
		return res
	}
	client := &http.Client{Transport: c.baseTransport()}
	if c.cfg.EmulatorHost != "" {
		// The emulator answers run.app hosts on its own address (it does not check the token).
		u, _ := url.Parse(target)
		req.URL.Scheme, req.URL.Host, req.Host = "http", c.cfg.EmulatorHost, u.Host
		req.Header.Set("Authorization", "Bearer emulated-id-token")
	} else {
		tok, err := c.idToken(ctx, s.GetUri())
		if err != nil {
			res.Message = "no ID token for " + s.GetUri() + ": " + err.Error()
			return res
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		res.Message = err.Error()
		return res
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	res.Status = resp.StatusCode
	res.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	res.Message = fmt.Sprintf("HTTP %d", resp.StatusCode)
	if b := strings.TrimSpace(string(body)); b != "" && !res.OK {
		res.Message += ": " + b
	}
	if in := s.GetIngress(); !res.OK && in != runpb.IngressTraffic_INGRESS_TRAFFIC_ALL && in != runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED {
		// Cloud Run refuses a request from outside the service's allowed sources with 404,
		// which reads as a missing path.
		res.Message += fmt.Sprintf("; the service's ingress is %s: Cloud Run answers requests from outside its VPC networks (or load balancer) with 404, so --probe-path works only where runnet runs inside them; from elsewhere, probe with --probe-tcp", ingressName(in))
	}
	return res
}

// ingressName is gcloud's name of a service's ingress setting.
func ingressName(in runpb.IngressTraffic) string {
	switch in {
	case runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY:
		return "internal"
	case runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER:
		return "internal-and-cloud-load-balancing"
	case runpb.IngressTraffic_INGRESS_TRAFFIC_NONE:
		return "none"
	}
	return in.String()
}

// CheckIDToken gets an ID token for the URL of w, a service, as ProbeHTTP will, so that a
// --probe-path the caller's credentials cannot serve is refused before anything changes. It
// returns the URL ("" when w is no service with one). Against the emulator without its front
// door there is no token to get.
func (c *Clients) CheckIDToken(ctx context.Context, w *Workload) (string, error) {
	s, ok := w.Raw.(*runpb.Service)
	if !ok || s.GetUri() == "" {
		return "", nil
	}
	if c.cfg.EmulatorHost != "" {
		return s.GetUri(), nil
	}
	_, err := c.idToken(ctx, s.GetUri())
	return s.GetUri(), err
}

// idToken returns an ID token for audience, of the caller, as Cloud Run wants it: from a
// service-account key, the token endpoint (a JWT-bearer assertion with target_audience);
// without a credentials file, the metadata server's identity endpoint; for an impersonated
// service account (an impersonated_service_account file, a federated identity that
// impersonates one, or auth/impersonate_service_account), IAM Credentials' generateIdToken
// called with the source credentials. Its requests go through the transport of every other
// call (proxy, trusted CAs, the IAM Credentials endpoint override). Google issues no ID
// token for another audience to user credentials or to a federated identity itself.
func (c *Clients) idToken(ctx context.Context, audience string) (string, error) {
	hc := &http.Client{Transport: c.iamTransport(), Timeout: TokenTimeout}
	a := c.auth()
	if a.err != nil {
		return "", a.err
	}
	var info struct {
		credentialsFile
		ImpersonationURL string   `json:"service_account_impersonation_url"`
		Delegates        []string `json:"delegates"`
	}
	var b []byte
	if f := c.cfg.CredentialsFile; f != "" {
		var err error
		if b, err = os.ReadFile(f); err != nil {
			return "", fmt.Errorf("credentials: %w", err)
		}
		if err := json.Unmarshal(b, &info); err != nil {
			return "", fmt.Errorf("credentials: %s is not a JSON credentials file: %w", f, err)
		}
	}
	var creds *auth.Credentials
	var err error
	switch {
	case c.cfg.Impersonate != "":
		var src *auth.Credentials
		if src, err = sourceCredentials(b, hc); err == nil {
			creds, err = c.impersonatedIDToken(src, audience, c.cfg.Impersonate, c.cfg.Delegates, c.iamTransport())
		}
	case b == nil:
		creds, err = idtoken.NewCredentials(&idtoken.Options{Audience: audience, Client: hc})
	case info.Type == string(credentials.ServiceAccount):
		creds, err = idtoken.NewCredentialsFromJSON(credentials.ServiceAccount, b, &idtoken.Options{Audience: audience, Client: hc})
	case info.Type == string(credentials.ExternalAccount) && info.ImpersonationURL != "":
		// The federated identity itself (its STS token, without the impersonation the file
		// asks for) calls generateIdToken; the library's own path would call it
		// unauthenticated with a client of runnet's.
		var fields map[string]json.RawMessage
		if err = json.Unmarshal(b, &fields); err == nil {
			delete(fields, "service_account_impersonation_url")
			var direct []byte
			if direct, err = json.Marshal(fields); err == nil {
				var src *auth.Credentials
				src, err = credentials.NewCredentialsFromJSON(credentials.ExternalAccount, direct,
					&credentials.DetectOptions{Client: hc, Scopes: []string{scopeCloudPlatform}})
				if err == nil {
					creds, err = c.impersonatedIDToken(src, audience, impersonationTarget(info.ImpersonationURL), nil, c.fileIAMTransport(info.ImpersonationURL))
				}
			}
		}
	case info.Type == string(credentials.ImpersonatedServiceAccount):
		// The library's own path ignores the token_uri of the source user credentials.
		target := impersonationTarget(info.ImpersonationURL)
		var delegates []string
		for _, d := range info.Delegates {
			delegates = append(delegates, strings.TrimPrefix(d, "projects/-/serviceAccounts/"))
		}
		var src *auth.Credentials
		if src, err = sourceCredentials(info.Source, hc); err == nil {
			creds, err = c.impersonatedIDToken(src, audience, target, delegates, c.fileIAMTransport(info.ImpersonationURL))
		}
	default:
		return "", fmt.Errorf("%s holds %s credentials, and Google issues ID tokens for another audience only to service accounts: use a service account key, impersonation (--impersonate-service-account) or the metadata server", c.cfg.CredentialsFile, info.Type)
	}
	if err != nil {
		return "", err
	}
	tok, err := creds.Token(ctx)
	if err != nil {
		return "", tokenError(c.describeSource(), err)
	}
	return tok.Value, nil
}

// impersonationTarget is the service account of a service_account_impersonation_url
// (…/serviceAccounts/EMAIL:generateAccessToken).
func impersonationTarget(u string) string {
	return strings.TrimSuffix(path.Base(u), ":generateAccessToken")
}

// fileIAMTransport is the transport to IAM Credentials for an impersonated_service_account
// file whose service_account_impersonation_url is impURL: the endpoint override if any,
// else the file's own endpoint, as its access tokens are obtained from.
func (c *Clients) fileIAMTransport(impURL string) http.RoundTripper {
	if e := c.cfg.Endpoints.IAMCredentials; e != "" && e != iamCredentialsDefault {
		return c.iamTransport()
	}
	u, err := url.Parse(impURL)
	if err != nil || u.Host == "" || u.Host == "iamcredentials.googleapis.com" {
		return c.iamTransport()
	}
	return &redirectTransport{from: "iamcredentials.googleapis.com", to: &url.URL{Scheme: u.Scheme, Host: u.Host}, next: c.baseTransport()}
}

// impersonatedIDToken returns ID tokens of target for audience, from IAM Credentials'
// generateIdToken called with src through delegates, over rt.
func (c *Clients) impersonatedIDToken(src *auth.Credentials, audience, target string, delegates []string, rt http.RoundTripper) (*auth.Credentials, error) {
	hc, err := httptransport.NewClient(&httptransport.Options{
		Credentials:      src,
		BaseRoundTripper: rt,
		InternalOptions:  &httptransport.InternalOptions{SkipUniverseDomainValidation: true},
	})
	if err != nil {
		return nil, fmt.Errorf("impersonate %s: %w", target, err)
	}
	hc.Timeout = TokenTimeout
	return impersonate.NewIDTokenCredentials(&impersonate.IDTokenOptions{
		Audience: audience, TargetPrincipal: target, Delegates: delegates, IncludeEmail: true, Client: hc,
	})
}

// sourceCredentials are the credentials of the JSON b (Application Default Credentials when
// nil), before any impersonation, for calling IAM Credentials; the token_uri of user
// credentials is honoured, as gcloud does.
func sourceCredentials(b []byte, hc *http.Client) (*auth.Credentials, error) {
	opts := &credentials.DetectOptions{Client: hc, Scopes: []string{scopeCloudPlatform}}
	if b == nil {
		return credentials.DetectDefault(opts)
	}
	var info credentialsFile
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if info.Type == string(credentials.AuthorizedUser) {
		opts.TokenURL = info.TokenURI
	}
	return credentials.NewCredentialsFromJSON(credentials.CredType(info.Type), b, opts)
}

// ProbeTCP implements egress.Prober: a job named runnet-probe-XXXXX with vpc's access and the
// workload's service account, one task running image with probeScript, is created in the workload's project and region, run
// once and deleted.
func (c *Clients) ProbeTCP(ctx context.Context, workload egress.WorkloadRef, vpc egress.VPC, targets []string, image string) (res egress.ProbeResult) {
	res = egress.ProbeResult{Kind: "tcp", Target: strings.Join(targets, ",")}
	if image == "" {
		image = egress.DefaultProbeImage
	}
	cl, err := c.Jobs()
	if err != nil {
		res.Message = err.Error()
		return res
	}
	// The job runs as the workload does: the caller may act as that service account (the
	// preflight's permissions check asks), not necessarily as the project's default one,
	// which an organization may also have disabled.
	w, err := c.GetWorkload(ctx, workload)
	if err != nil {
		res.Message = err.Error()
		return res
	}
	var sa string
	switch raw := w.Raw.(type) {
	case *runpb.Service:
		sa = raw.GetTemplate().GetServiceAccount()
	case *runpb.Job:
		sa = raw.GetTemplate().GetTemplate().GetServiceAccount()
	case *runpb.WorkerPool:
		sa = raw.GetTemplate().GetServiceAccount()
	}
	id := "runnet-probe-" + strings.ToLower(rand.Text()[:5])
	parent := "projects/" + workload.Project + "/locations/" + workload.Region
	job := &runpb.Job{
		Labels: map[string]string{"managed-by": "runnet"},
		Template: &runpb.ExecutionTemplate{TaskCount: 1, Template: &runpb.TaskTemplate{
			Containers: []*runpb.Container{{Image: image, Command: []string{"/bin/sh", "-c", probeScript},
				Env: []*runpb.EnvVar{{Name: probeEnv, Values: &runpb.EnvVar_Value{Value: strings.Join(targets, ",")}}}}},
			Retries:        &runpb.TaskTemplate_MaxRetries{MaxRetries: 0},
			Timeout:        durationpb.New(probeJobTimeout),
			VpcAccess:      VPCToProto(vpc),
			ServiceAccount: sa,
		}},
	}
	name := parent + "/jobs/" + id
	mayExist := false
	defer func() {
		// Deleted whatever happened, even after an interrupt, and even when the creation's
		// answer was lost or its wait failed: the job may exist all the same.
		if !mayExist {
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		dop, err := cl.DeleteJob(dctx, &runpb.DeleteJobRequest{Name: name})
		if err == nil {
			_, err = dop.Wait(dctx)
		}
		if err != nil && status.Code(err) != codes.NotFound {
			res.Message += fmt.Sprintf("; the probe job %s could not be deleted (%v): gcloud run jobs delete %s --project %s --region %s", id, err, id, workload.Project, workload.Region)
		}
	}()
	op, err := cl.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: id, Job: job})
	switch status.Code(err) {
	case codes.OK, codes.Unknown, codes.Internal, codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		mayExist = true // created, or perhaps created with its answer lost
	}
	if err == nil {
		_, err = op.Wait(ctx)
	}
	if err != nil {
		res.Message = apiErr("create probe job "+id, err).Error()
		return res
	}
	rop, err := cl.RunJob(ctx, &runpb.RunJobRequest{Name: name})
	if err != nil {
		res.Message = apiErr("run probe job "+id, err).Error()
		return res
	}
	md, err := rop.Metadata()
	if err != nil || md.GetName() == "" {
		ex, werr := rop.Wait(ctx)
		if werr != nil {
			res.Message = fmt.Sprintf("probe job %s: %v", id, werr)
			return res
		}
		md = ex
	}
	ex, err := c.waitExecution(ctx, md.GetName())
	if err != nil {
		res.Message = err.Error()
		return res
	}
	if ex.GetSucceededCount() > 0 {
		res.OK = true
		res.Message = fmt.Sprintf("probe job %s connected to every destination from %s", id, vpc.Short())
		return res
	}
	res.Message = fmt.Sprintf("probe job %s failed", id)
	for _, cond := range ex.GetConditions() {
		if cond.GetType() == "Completed" && cond.GetMessage() != "" {
			res.Message += ": " + cond.GetMessage()
		}
	}
	return res
}
