package realcloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The --probe-path probe runs its production path through the front door: runnet asks for an
// ID token for the service's URL with the caller's credentials (the token endpoint for a key,
// the metadata server's identity endpoint, IAM Credentials' generateIdToken for impersonation)
// and GETs the new revision's tagged https://TAG---SERVICE-HASH-REGION.a.run.app URL through
// HTTPS_PROXY, which the front door answers over TLS, checking the ID token as Cloud Run does.

// onPremTrap declares a destination on-premises, through a VPN route, whose allowlist admits
// allow, and makes run-service depend on it.
func onPremTrap(t *testing.T, d *door, allow ...string) {
	t.Helper()
	e := d.e
	if err := e.AddVPNRoute(emulator.DemoProject, emulator.DemoRegion, emulator.DemoNetwork, "to-onprem", "192.168.10.0/24"); err != nil {
		t.Fatal(err)
	}
	setPartner(t, d, allow...)
	svc := "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion + "/services/" + emulator.DemoService
	if err := e.SetDependencies(svc, []emulator.Dependency{{Destination: "partner-db"}}); err != nil {
		t.Fatal(err)
	}
}

func setPartner(t *testing.T, d *door, allow ...string) {
	t.Helper()
	if err := d.e.SetDestination(emulator.Destination{Name: "partner-db", IP: "192.168.10.5", Port: 5432, Project: emulator.DemoProject,
		Network: emulator.DemoNetwork, Allow: allow}); err != nil {
		t.Fatal(err)
	}
}

type probeReport struct {
	Steps []struct {
		Kind   string
		Status string
		Probes []struct {
			Kind    string
			Target  string
			OK      bool
			Status  int
			Message string
		}
	}
}

func (r probeReport) probes() (out []struct {
	Kind    string
	Target  string
	OK      bool
	Status  int
	Message string
}) {
	for _, s := range r.Steps {
		out = append(out, s.Probes...)
	}
	return out
}

func parseProbeReport(t *testing.T, r result) probeReport {
	t.Helper()
	var rep probeReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("output: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return rep
}

// probeEnv is the environment of a runnet process whose Cloud Run URLs go through an HTTPS
// proxy to the front door.
func (d *door) probeEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	_, port, _ := net.SplitHostPort(d.e.Addr())
	p := newConnectProxy(t, port)
	return d.env(append([]string{"HTTPS_PROXY=http://" + p.l.Addr().String()}, extra...)...)
}

func TestProbePathThroughFrontDoor(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       func(d *door) []string
		principal func(id emulator.FrontDoorIdentities) string
		grant     string
	}{
		{
			name: "service account key",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.KeyServiceAccount },
			grant:     "jwt-bearer",
		},
		{
			name:      "metadata server",
			env:       func(d *door) []string { return []string{"GCE_METADATA_HOST=" + d.e.Addr()} },
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.MetadataServiceAccount },
			grant:     "metadata",
		},
		{
			name: "impersonated service account file",
			env: func(d *door) []string {
				// IAM Credentials is the file's own service_account_impersonation_url.
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsImpersonate)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.TargetServiceAccount },
			grant:     "generateIdToken",
		},
		{
			name: "workload identity federation as GitHub Actions sets it up",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.githubActionsCredentials(t, d.id.TargetServiceAccount)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.TargetServiceAccount },
			grant:     "generateIdToken",
		},
		{
			name: "auth/impersonate_service_account",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser),
					"CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT=" + d.id.TargetServiceAccount,
					"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=https://" + d.e.Addr() + "/"}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.TargetServiceAccount },
			grant:     "generateIdToken",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
			onPremTrap(t, d, "10.15.0.0/28")
			env := d.probeEnv(t, tc.env(d)...)
			args := []string{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress",
				"--probe-path", "/healthz", "--yes", "--format", "json"}

			// The new revision cannot reach the partner: its health endpoint answers 500, and the
			// run rolls back before any traffic moved.
			r := d.expectCode(t, env, exitcode.RolledBack, args...)
			ps := parseProbeReport(t, r).probes()
			if len(ps) != 1 || ps[0].OK || ps[0].Status != http.StatusInternalServerError || !strings.Contains(ps[0].Target, "---") ||
				!strings.HasSuffix(ps[0].Target, ".a.run.app/healthz") {
				t.Fatalf("probes %+v: want one that got HTTP 500 from the tagged run.app URL", ps)
			}
			for _, s := range parseProbeReport(t, r).Steps {
				if s.Kind == "shift-traffic" && s.Status == "done" {
					t.Errorf("traffic moved before the probe: %+v", s)
				}
			}

			// The partner admits the subnet: the probe gets 200 and the migration goes through.
			setPartner(t, d, "10.15.0.0/28", "10.8.0.0/24")
			r = d.expectCode(t, env, exitcode.OK, args...)
			ps = parseProbeReport(t, r).probes()
			if len(ps) != 1 || !ps[0].OK || ps[0].Status != http.StatusOK {
				t.Fatalf("probes %+v: want one that got HTTP 200", ps)
			}
			issued := d.e.IDTokensIssued()
			if len(issued) == 0 {
				t.Fatal("the front door issued no ID token")
			}
			for _, is := range issued {
				if is.Principal != tc.principal(d.id) || is.Grant != tc.grant || !strings.HasSuffix(is.Audience, ".a.run.app") {
					t.Errorf("ID token issued %+v; want %s's, by %s, for the service's run.app URL", is, tc.principal(d.id), tc.grant)
				}
			}
		})
	}
}

// Google issues no ID token for another audience to user credentials: runnet finds out
// before anything changes (a dry run too) and says why (exit 4), instead of deploying the new
// revision only to roll it back when its probe cannot get a token.
func TestProbePathUserCredentials(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	env := d.probeEnv(t, "GOOGLE_APPLICATION_CREDENTIALS="+d.file(emulator.CredentialsAuthorizedUser))
	for _, dry := range []bool{true, false} {
		args := []string{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress",
			"--probe-path", "/healthz", "--yes", "--format", "json"}
		if dry {
			args = append(args, "--dry-run")
		}
		r := d.expectCode(t, env, exitcode.Permission, args...)
		if !strings.Contains(r.stderr, "--probe-path needs an ID token") || !strings.Contains(r.stderr, "authorized_user") ||
			!strings.Contains(r.stderr, "nothing was changed") {
			t.Fatalf("dry run %v: stderr %q: want the missing ID token named", dry, r.stderr)
		}
	}
	if n := d.e.Calls()["google.cloud.run.v2.Services/UpdateService"]; n != 0 {
		t.Errorf("UpdateService called %d times: want nothing deployed", n)
	}
}

// A Cloud Run URL behind the front door answers as Cloud Run does: 403 without a token, 401
// with an access token or an ID token for another audience, 200 with one for the service.
func TestRunURLChecksIDTokens(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	env := d.probeEnv(t, "GOOGLE_APPLICATION_CREDENTIALS="+d.file(emulator.CredentialsServiceAccount))
	r := d.expectCode(t, env, exitcode.OK, "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress",
		"--probe-path", "/healthz", "--yes", "--format", "json")
	ps := parseProbeReport(t, r).probes()
	if len(ps) != 1 {
		t.Fatalf("probes %+v", ps)
	}
	// The service's own URL: the tagged one without its TAG--- prefix.
	u, err := url.Parse(ps[0].Target)
	if err != nil {
		t.Fatal(err)
	}
	_, host, _ := strings.Cut(u.Host, "---")
	service := "https://" + host
	identity := func(aud string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.e.Addr()+"/computeMetadata/v1/instance/service-accounts/default/identity?audience="+url.QueryEscape(aud), nil)
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("identity: HTTP %d: %s", resp.StatusCode, b)
		}
		return string(b)
	}
	pem, err := os.ReadFile(d.e.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, d.e.Addr())
		},
	}}
	for _, tc := range []struct {
		name, authz string
		want        int
	}{
		{"no token", "", http.StatusForbidden},
		{"not a JWT", "Bearer ya29.not-an-id-token", http.StatusUnauthorized},
		{"another audience", "Bearer " + identity("https://other.example.com"), http.StatusUnauthorized},
		{"the service's audience", "Bearer " + identity(service), http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, service+"/healthz", nil)
		if tc.authz != "" {
			req.Header.Set("Authorization", tc.authz)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}
