package cloud

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/idtoken"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The probes of a new revision before traffic moves (egress.Prober): an HTTP GET of its tagged
// URL with an ID token, and a short job that connects to TCP destinations with the target's
// VPC access.

// probeTimeout bounds one HTTP probe; probeJobTimeout a probe job's task.
const (
	probeTimeout    = 30 * time.Second
	probeJobTimeout = 2 * time.Minute
)

// probeScript connects to each of $RUNNET_PROBE_TCP's HOST:PORT (comma-separated) with nc,
// failing on the first that does not answer within 5 seconds.
const probeScript = `for t in $(echo "$RUNNET_PROBE_TCP" | tr ',' ' '); do nc -z -w 5 "${t%:*}" "${t##*:}" || { echo "cannot connect to $t" >&2; exit 1; }; echo "connected to $t"; done`

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
		var opts []idtoken.ClientOption
		if f := c.cfg.CredentialsFile; f != "" {
			kind := idtoken.ServiceAccount
			if a := c.auth(); a.err == nil {
				kind = idtoken.CredentialsType(a.kind)
			}
			opts = append(opts, idtoken.WithAuthCredentialsFile(kind, f))
		}
		ts, err := idtoken.NewTokenSource(ctx, s.GetUri(), opts...)
		if err != nil {
			res.Message = "no ID token for " + s.GetUri() + ": " + err.Error() + " (ID tokens need a service account's credentials)"
			return res
		}
		tok, err := ts.Token()
		if err != nil {
			res.Message = "no ID token for " + s.GetUri() + ": " + err.Error()
			return res
		}
		tok.SetAuthHeader(req)
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
	return res
}

// ProbeTCP implements egress.Prober: a job named runnet-probe-XXXXX with vpc's access, one
// task running image with probeScript, is created in the workload's project and region, run
// once and deleted.
func (c *Clients) ProbeTCP(ctx context.Context, workload egress.WorkloadRef, vpc egress.VPC, targets []string, image string) egress.ProbeResult {
	res := egress.ProbeResult{Kind: "tcp", Target: strings.Join(targets, ",")}
	if image == "" {
		image = egress.DefaultProbeImage
	}
	cl, err := c.Jobs()
	if err != nil {
		res.Message = err.Error()
		return res
	}
	id := "runnet-probe-" + strings.ToLower(rand.Text()[:5])
	parent := "projects/" + workload.Project + "/locations/" + workload.Region
	job := &runpb.Job{
		Labels: map[string]string{"managed-by": "runnet"},
		Template: &runpb.ExecutionTemplate{TaskCount: 1, Template: &runpb.TaskTemplate{
			Containers: []*runpb.Container{{Image: image, Command: []string{"/bin/sh", "-c", probeScript},
				Env: []*runpb.EnvVar{{Name: probeEnv, Values: &runpb.EnvVar_Value{Value: strings.Join(targets, ",")}}}}},
			Retries:   &runpb.TaskTemplate_MaxRetries{MaxRetries: 0},
			Timeout:   durationpb.New(probeJobTimeout),
			VpcAccess: VPCToProto(vpc),
		}},
	}
	op, err := cl.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: id, Job: job})
	if err == nil {
		_, err = op.Wait(ctx)
	}
	if err != nil {
		res.Message = apiErr("create probe job "+id, err).Error()
		return res
	}
	name := parent + "/jobs/" + id
	defer func() {
		// Deleted whatever happened, even after an interrupt.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if dop, err := cl.DeleteJob(dctx, &runpb.DeleteJobRequest{Name: name}); err == nil {
			_, _ = dop.Wait(dctx)
		}
	}()
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
