package egress

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Probes of a service's new revision before any traffic moves to it: an HTTP GET of the
// revision's tagged URL (with the caller's ID token) that must answer 2xx, and TCP
// connections to destinations from a short Cloud Run job with the target's VPC access. A
// probe that fails rolls the run back before a single user request reached the revision.

// DefaultProbeImage is the image of the TCP probe job: a small public image with a shell and
// nc (BusyBox, on Docker Hub, which Cloud Run pulls from).
const DefaultProbeImage = "docker.io/library/busybox:1.36"

// ProbeSpec says how to probe the new revision before traffic moves.
type ProbeSpec struct {
	// Path is the path of the HTTP GET of the tagged revision URL ("" for none).
	Path string `json:"path,omitempty"`
	// TCP are HOST:PORT destinations the probe job connects to.
	TCP []string `json:"tcp,omitempty"`
	// Image is the probe job's image (DefaultProbeImage when empty).
	Image string `json:"image,omitempty"`
}

// ParseProbeTCP parses --probe-tcp: HOST:PORT, comma-separated, ports 1 to 65535.
func ParseProbeTCP(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		host, port, err := net.SplitHostPort(t)
		if err != nil || host == "" {
			return nil, parseErr("--probe-tcp", t, "HOST:PORT, comma-separated", "not HOST:PORT")
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, parseErr("--probe-tcp", t, "ports 1 to 65535", "bad port %q", port)
		}
		// The job's shell splits the list on spaces and hands each HOST to nc: anything but
		// an IP address or a DNS name would fail there, after the new revision is deployed.
		if net.ParseIP(host) == nil && !isDNSName(host) {
			return nil, parseErr("--probe-tcp", t, "HOST an IP address or a DNS name", "bad host %q", host)
		}
		out = append(out, t)
	}
	return out, nil
}

// isDNSName reports whether s is a DNS name: dot-separated labels of letters, digits and
// inner hyphens, each of 1 to 63 characters, 253 at most in all (RFC 1123), with an optional
// trailing dot.
func isDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ProbeResult is the outcome of one probe.
type ProbeResult struct {
	// Kind is "http" or "tcp"; Target the URL or the destinations.
	Kind   string `json:"kind"`
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	// Status is the HTTP status of an HTTP probe.
	Status int `json:"status,omitempty"`
	// Message says what happened.
	Message string `json:"message"`
}

// Prober runs the probes.
type Prober interface {
	// ProbeHTTP GETs path on the URL of the service's revision tagged tag.
	ProbeHTTP(ctx context.Context, service WorkloadRef, tag, path string) ProbeResult
	// ProbeTCP runs a short job with vpc's access in the workload's project and region that
	// connects to each target, and deletes it.
	ProbeTCP(ctx context.Context, workload WorkloadRef, vpc VPC, targets []string, image string) ProbeResult
}

// ProbeError is the error of a failed probe: the run rolls back.
type ProbeError struct{ Result ProbeResult }

func (e *ProbeError) Error() string {
	return fmt.Sprintf("the %s probe of the new revision failed (%s): %s", e.Result.Kind, e.Result.Target, e.Result.Message)
}

// probe runs the plan's probes once, before the first traffic step i.
func (r *runState) probe(ctx context.Context, i int) error {
	spec := r.plan.Probes
	if spec == nil || r.probed {
		return nil
	}
	r.probed = true
	if r.e.Prober == nil {
		return fmt.Errorf("the plan probes the new revision, but the executor has no prober")
	}
	out := &r.res.Steps[i]
	var results []ProbeResult
	if spec.Path != "" {
		if r.res.Tag == "" {
			results = append(results, ProbeResult{Kind: "http", Target: spec.Path, Message: "the new revision has no tag, so no URL of its own"})
		} else {
			results = append(results, r.e.Prober.ProbeHTTP(ctx, r.ref(), r.res.Tag, spec.Path))
		}
	}
	if len(spec.TCP) > 0 {
		results = append(results, r.e.Prober.ProbeTCP(ctx, r.ref(), r.plan.To, spec.TCP, spec.Image))
	}
	out.Probes = results
	for _, res := range results {
		msg := fmt.Sprintf("%s probe of %s: %s", res.Kind, res.Target, res.Message)
		if err := r.observe(ctx, Event{Kind: EventProbe, Index: i, Step: *out, Message: msg}); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, res := range results {
		if !res.OK {
			return &ProbeError{Result: res}
		}
	}
	return nil
}
