package realcloud

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/internal/cli"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The test binary plays runnet (its real main: cli.Execute on the process's own streams and
// environment) when this variable is set, so every runnet below is a fresh process that
// reads SSL_CERT_FILE, the proxy variables and the metadata host the way the shipped binary
// does.
const beRunnet = "RUNNET_REALCLOUD_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beRunnet) == "1" {
		ctx, stop := cli.NotifyInterrupts(context.Background())
		code := cli.Execute(ctx, os.Args[1:], iostreams.System())
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// runTimeout bounds one runnet process: longer than any timeout runnet documents (a token
// endpoint that does not answer: 30s), so a run that reaches it hung.
const runTimeout = 2 * time.Minute

// door is an emulator behind its front door, with the credentials it issued.
type door struct {
	e    *emulator.Emulator
	dir  string // the credentials
	home string // HOME and gcloud's config dir of the runnet processes: empty
	id   emulator.FrontDoorIdentities
}

func newDoor(t *testing.T, fd emulator.FrontDoorOptions) *door {
	t.Helper()
	return newSeededDoor(t, emulator.SeedDemo, fd)
}

// newSeededDoor is newDoor on another of the emulator's seeds.
func newSeededDoor(t *testing.T, seed string, fd emulator.FrontDoorOptions) *door {
	t.Helper()
	root := t.TempDir()
	fd.CredentialsDir = filepath.Join(root, "creds")
	e, err := emulator.New(emulator.Options{Seed: seed, LRODuration: 20 * time.Millisecond, RevisionReady: 40 * time.Millisecond, FrontDoor: &fd})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	home := filepath.Join(root, "home")
	if err := os.MkdirAll(filepath.Join(home, ".config", "gcloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &door{e: e, dir: fd.CredentialsDir, home: home, id: e.Identities()}
}

func (d *door) file(name string) string { return filepath.Join(d.dir, name) }

// env is the environment of a runnet process: nothing inherited but PATH; the emulator's CA
// trusted through SSL_CERT_FILE and every API pointed at it with gcloud's endpoint
// overrides, as https://HOST:PORT/. extra are KEY=VALUE pairs added (or replacing).
func (d *door) env(extra ...string) []string {
	base := "https://" + d.e.Addr() + "/"
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": d.home, "CLOUDSDK_CONFIG": filepath.Join(d.home, ".config", "gcloud"),
		beRunnet: "1", "SSL_CERT_FILE": d.e.CAFile(),
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN":          base,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_VPCACCESS":    base,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE":      base,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING":   base,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING": base,
		// Service Usage: the Direct VPC egress quota (direct-vpc-quota).
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE": base,
		// Cloud Asset Inventory and Resource Manager: inventory of a folder or organization.
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDASSET":           base,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER": base,
		"CLOUDSDK_CORE_PROJECT":                                emulator.DemoProject,
		"CLOUDSDK_RUN_REGION":                                  emulator.DemoRegion,
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// run runs runnet and checks what must hold of every run: it ends within runTimeout, does
// not panic, and prints no credential.
func (d *door) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("runnet %s hung (killed after %v): %s", strings.Join(args, " "), runTimeout, r.stderr)
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("runnet %s: %v", strings.Join(args, " "), err)
	}
	all := r.stdout + r.stderr
	if strings.Contains(all, "panic:") || strings.Contains(all, "goroutine ") {
		t.Fatalf("runnet %s panicked: %s", strings.Join(args, " "), all)
	}
	for _, s := range d.secrets(t) {
		if strings.Contains(all, s) {
			t.Fatalf("runnet %s printed a credential (%.12s…): %s", strings.Join(args, " "), s, all)
		}
	}
	return r
}

// secrets are strings no output may contain: access tokens (Google's all start ya29.),
// refresh tokens (1//), JWTs (their header starts eyJ), private keys, the OAuth client
// secret.
func (d *door) secrets(t *testing.T) []string {
	t.Helper()
	out := []string{"ya29.", "1//", "eyJ", "PRIVATE KEY"}
	var f map[string]any
	if b, err := os.ReadFile(d.file(emulator.CredentialsAuthorizedUser)); err == nil && json.Unmarshal(b, &f) == nil {
		out = append(out, f["client_secret"].(string))
	}
	return out
}

// expectCode runs runnet and wants exit status code.
func (d *door) expectCode(t *testing.T, env []string, code int, args ...string) result {
	t.Helper()
	r := d.run(t, env, args...)
	if r.code != code {
		t.Fatalf("runnet %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// The commands every credential kind runs through: reads and writes of all three APIs, over
// gRPC and REST, long-running operations, a migration that rolls back and one that
// succeeds.
func (d *door) tour(t *testing.T, env []string) {
	t.Helper()
	for _, args := range [][]string{
		{"status"},
		{"inventory"},
		{"subnet", "list"},
		{"subnet", "plan", "--max-instances", "100"},
		{"subnet", "create", "e2e-subnet", "--network", "run-vpc", "--range", "10.20.0.0/24"},
		{"connector", "list"},
		{"connector", "users", "run-connector"},
		{"connector", "create", "e2e-connector", "--network", "run-vpc", "--range", "10.21.0.0/28"},
		{"attach", "job/nightly-export", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress"},
	} {
		// --verbose prints the settings used and a line per request: never a credential.
		d.expectCode(t, env, exitcode.OK, append(args, "--yes", "--format", "json", "--verbose")...)
	}
	// The 50% step is refused: everything done is undone (exit 6); then the same migration
	// goes through.
	d.e.InjectFault(emulator.Fault{Method: "google.cloud.run.v2.Services/UpdateService", Code: codes.Internal, Skip: 3, Count: 1})
	d.expectCode(t, env, exitcode.RolledBack, "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress",
		"--canary", "10,50,100", "--yes", "--format", "json")
	d.e.ClearFaults()
	r := d.expectCode(t, env, exitcode.OK, "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--yes", "--format", "json")
	var rep struct{ Outcome string }
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Outcome != "migrated" {
		t.Errorf("migrate: outcome %q (%v)", rep.Outcome, err)
	}
}

// assertCalls checks that every API call since the last reset came with a valid credential
// of principal, obtained as grants says (by gRPC and REST), through via.
func (d *door) assertCalls(t *testing.T, principal string, via []string, quotaProject string) {
	t.Helper()
	calls := d.e.AuthCalls()
	d.e.ResetAuthCalls()
	var grpc, rest int
	for _, c := range calls {
		if strings.HasSuffix(c.Method, ":generateAccessToken") {
			// The impersonation itself, by the first of the chain.
			if len(via) == 0 || c.Principal != via[0] {
				t.Errorf("call %s by %q, want %v", c.Method, c.Principal, via)
			}
			continue
		}
		if c.Principal != principal || c.Credential == "none" || c.Credential == "invalid" || !slices.Equal(c.Via, via) || c.QuotaProject != quotaProject {
			t.Errorf("call %s: principal %q (%s, grant %s, via %v, quota project %q), want %q via %v, quota project %q",
				c.Method, c.Principal, c.Credential, c.Grant, c.Via, c.QuotaProject, principal, via, quotaProject)
		}
		if strings.HasPrefix(c.Method, "google.") {
			grpc++
		} else {
			rest++
		}
	}
	if grpc == 0 || rest == 0 {
		t.Errorf("%d gRPC and %d REST calls reached the emulator; want both", grpc, rest)
	}
}

// Each kind of Application Default Credentials takes runnet through every command, and
// every call reaches the emulator with a credential it issued to the expected principal.
func TestCredentialKinds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       func(d *door) []string
		principal func(id emulator.FrontDoorIdentities) string
		via       func(id emulator.FrontDoorIdentities) []string
	}{
		{
			name: "service account key",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.KeyServiceAccount },
		},
		{
			name: "authorized user",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "user:" + id.User },
		},
		{
			name: "gcloud's application default credentials file",
			env: func(d *door) []string {
				gcloud := filepath.Join(d.home, "gcloud-config")
				copyFile(t, d.file(emulator.CredentialsAuthorizedUser), filepath.Join(gcloud, "application_default_credentials.json"))
				return []string{"CLOUDSDK_CONFIG=" + gcloud}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "user:" + id.User },
		},
		{
			name:      "metadata server",
			env:       func(d *door) []string { return []string{"GCE_METADATA_HOST=" + d.e.Addr()} },
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.MetadataServiceAccount },
		},
		{
			name: "workload identity federation, subject token file",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsExternalAccount)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return id.WIFPrincipal },
		},
		{
			name: "workload identity federation as GitHub Actions sets it up",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.githubActionsCredentials(t, d.id.TargetServiceAccount)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.TargetServiceAccount },
			via:       func(id emulator.FrontDoorIdentities) []string { return []string{id.WIFPrincipal} },
		},
		{
			name: "impersonated service account file",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsImpersonate)}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.TargetServiceAccount },
			via:       func(id emulator.FrontDoorIdentities) []string { return []string{"user:" + id.User} },
		},
		{
			name: "gcloud's auth/impersonate_service_account with a delegation chain",
			env: func(d *door) []string {
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser),
					"CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT=" + d.id.KeyServiceAccount + "," + d.id.TargetServiceAccount,
					"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=https://" + d.e.Addr() + "/"}
			},
			principal: func(id emulator.FrontDoorIdentities) string { return "serviceAccount:" + id.TargetServiceAccount },
			via: func(id emulator.FrontDoorIdentities) []string {
				return []string{"user:" + id.User, id.KeyServiceAccount}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
			d.tour(t, d.env(tc.env(d)...))
			var via []string
			if tc.via != nil {
				via = tc.via(d.id)
			}
			d.assertCalls(t, tc.principal(d.id), via, "")
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// githubActionsCredentials writes the credentials file google-github-actions/auth writes for
// workload identity federation through a service account: the subject token fetched from
// the runner's ACTIONS_ID_TOKEN_REQUEST_URL (here the emulator's stand-in) with the
// provider's audience, JSON field "value", then the service account impersonated.
func (d *door) githubActionsCredentials(t *testing.T, serviceAccount string) string {
	t.Helper()
	cfg := map[string]any{
		"type":               "external_account",
		"audience":           d.id.WIFAudience,
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          d.id.STSURI,
		"credential_source": map[string]any{
			"url":     "http://" + d.e.Addr() + emulator.FrontDoorControlPrefix + "subject-token?audience=" + d.id.OIDCAudience,
			"headers": map[string]string{"Authorization": "Bearer runner-request-token"},
			"format":  map[string]string{"type": "json", "subject_token_field_name": "value"},
		},
		"service_account_impersonation_url": "https://" + d.e.Addr() + "/v1/projects/-/serviceAccounts/" + serviceAccount + ":generateAccessToken",
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(d.home, "gha-creds-1234.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// billing/quota_project sends x-goog-user-project as gcloud does: a project named, or for
// CURRENT_PROJECT the current project with user credentials and nothing with a service
// account; --impersonate-service-account acts as the account named.
func TestQuotaProjectAndImpersonationFlag(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	user := "GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser)
	sa := "GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount)
	// What `gcloud auth application-default login` writes: the user's file with a quota project.
	var f map[string]any
	b, _ := os.ReadFile(d.file(emulator.CredentialsAuthorizedUser))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	f["quota_project_id"] = "adc-quota"
	b, _ = json.Marshal(f)
	withQuota := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(withQuota, b, 0o600); err != nil {
		t.Fatal(err)
	}
	adc := "GOOGLE_APPLICATION_CREDENTIALS=" + withQuota
	for _, tc := range []struct {
		env   []string
		quota string
	}{
		{[]string{adc}, "adc-quota"},
		{[]string{adc, "CLOUDSDK_BILLING_QUOTA_PROJECT=LEGACY"}, ""},
		{[]string{adc, "CLOUDSDK_BILLING_QUOTA_PROJECT=billing-project"}, "billing-project"},
		{[]string{user, "CLOUDSDK_BILLING_QUOTA_PROJECT=billing-project"}, "billing-project"},
		{[]string{user, "CLOUDSDK_BILLING_QUOTA_PROJECT=CURRENT_PROJECT"}, emulator.DemoProject},
		{[]string{sa, "CLOUDSDK_BILLING_QUOTA_PROJECT=CURRENT_PROJECT"}, ""},
		{[]string{sa, "CLOUDSDK_BILLING_QUOTA_PROJECT=LEGACY"}, ""},
		{[]string{sa, "CLOUDSDK_BILLING_QUOTA_PROJECT=billing-project"}, "billing-project"},
	} {
		d.expectCode(t, d.env(tc.env...), exitcode.OK, "status")
		d.expectCode(t, d.env(tc.env...), exitcode.OK, "subnet", "list")
		for _, c := range d.e.AuthCalls() {
			if c.QuotaProject != tc.quota {
				t.Errorf("%v: call %s sent quota project %q, want %q", tc.env, c.Method, c.QuotaProject, tc.quota)
			}
		}
		d.e.ResetAuthCalls()
	}
	// The flag, with the endpoint override written in gcloud's configuration file.
	cfgDir := filepath.Join(d.home, "gcloud-flag")
	writeGcloudConfig(t, cfgDir, "[api_endpoint_overrides]\niamcredentials = https://"+d.e.Addr()+"/\n")
	d.expectCode(t, d.env(user, "CLOUDSDK_CONFIG="+cfgDir), exitcode.OK, "status", "--impersonate-service-account", d.id.TargetServiceAccount)
	d.assertGRPCPrincipal(t, "serviceAccount:"+d.id.TargetServiceAccount)
}

func writeGcloudConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "configurations"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "configurations", "config_default"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// assertGRPCPrincipal checks the calls since the last reset, then resets.
func (d *door) assertGRPCPrincipal(t *testing.T, principal string) {
	t.Helper()
	calls := d.e.AuthCalls()
	d.e.ResetAuthCalls()
	if len(calls) == 0 {
		t.Fatal("no call reached the emulator")
	}
	for _, c := range calls {
		if c.Principal != principal && !strings.HasSuffix(c.Method, ":generateAccessToken") {
			t.Errorf("call %s by %q (%s), want %q", c.Method, c.Principal, c.Credential, principal)
		}
	}
}

// Access tokens that expire during a command are refreshed: a migration outlives several.
func TestTokensAreRefreshed(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true, TokenTTL: 2 * time.Second})
	d.e.SetLatency(150 * time.Millisecond)
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser))
	d.expectCode(t, env, exitcode.OK, "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress",
		"--canary", "10,50,100", "--step-wait", "1s", "--yes", "--format", "json")
	if n := len(d.e.TokensIssued()); n < 2 {
		t.Errorf("%d access tokens issued during the migration; want refreshes", n)
	}
	d.assertGRPCPrincipal(t, "user:"+d.id.User)
}

// oneError is the single line runnet printed to stderr.
func oneError(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Error: ") {
		t.Errorf("want one error line, got %q", r.stderr)
	}
	return lines[len(lines)-1]
}

// Missing, forged, expired and revoked credentials, a locked service account, a token
// endpoint that is down or does not answer, and a certificate not trusted: each is one
// clear error with its exit status, 4 for credentials and permissions, 1 for the network.
func TestFailures(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	user := "GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser)

	t.Run("no credentials", func(t *testing.T) {
		r := d.expectCode(t, d.env(), exitcode.Permission, "status")
		if msg := oneError(t, r); !strings.Contains(msg, "no Google Cloud credentials") {
			t.Errorf("stderr %q", msg)
		}
	})
	t.Run("a key the emulator did not issue", func(t *testing.T) {
		forged := forgeKey(t, d)
		r := d.expectCode(t, d.env("GOOGLE_APPLICATION_CREDENTIALS="+forged), exitcode.Permission, "status")
		if msg := oneError(t, r); !strings.Contains(msg, "invalid authentication credentials") || !strings.Contains(msg, "UNAUTHENTICATED") {
			t.Errorf("gRPC: %q", msg)
		}
		r = d.expectCode(t, d.env("GOOGLE_APPLICATION_CREDENTIALS="+forged), exitcode.Permission, "subnet", "list")
		if msg := oneError(t, r); !strings.Contains(msg, "refused them") || !strings.Contains(msg, "invalid_grant") || strings.Contains(msg, "compute/v1") {
			t.Errorf("REST: %q", msg)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		// The emulator considers the tokens it issues expired on arrival (a server clock
		// ahead, or tokens expired early); runnet was told they were good for an hour.
		d.e.IssueExpiredTokens(true)
		defer d.e.IssueExpiredTokens(false)
		r := d.expectCode(t, d.env(user), exitcode.Permission, "status")
		if msg := oneError(t, r); !strings.Contains(msg, "invalid authentication credentials") {
			t.Errorf("expired token: %q", msg)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		d.e.RevokeCredentials("user:" + d.id.User)
		defer d.e.RestoreCredentials()
		r := d.expectCode(t, d.env(user), exitcode.Permission, "status")
		if msg := oneError(t, r); !strings.Contains(msg, d.file(emulator.CredentialsAuthorizedUser)) || !strings.Contains(msg, "invalid_grant: Token has been expired or revoked.") {
			t.Errorf("stderr %q", msg)
		}
	})
	t.Run("impersonation denied", func(t *testing.T) {
		r := d.expectCode(t, d.env(user, "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=https://"+d.e.Addr()+"/"), exitcode.Permission,
			"status", "--impersonate-service-account", d.id.LockedServiceAccount)
		if msg := oneError(t, r); !strings.Contains(msg, "iam.serviceAccounts.getAccessToken") {
			t.Errorf("stderr %q", msg)
		}
	})
	t.Run("settings runnet cannot honour", func(t *testing.T) {
		d.e.ResetAuthCalls()
		for _, tc := range []struct{ env, want string }{
			{"CLOUDSDK_CORE_UNIVERSE_DOMAIN=example.com", `core/universe_domain "example.com" (from environment variable CLOUDSDK_CORE_UNIVERSE_DOMAIN): runnet supports only the googleapis.com universe`},
			{"GOOGLE_CLOUD_UNIVERSE_DOMAIN=example.com", "GOOGLE_CLOUD_UNIVERSE_DOMAIN=example.com: runnet supports only the googleapis.com universe"},
			{"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + d.e.Addr(), "api_endpoint_overrides/compute from environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"},
			{"CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT=not-an-email", "auth/impersonate_service_account"},
		} {
			r := d.expectCode(t, d.env(user, tc.env), exitcode.Usage, "status")
			if msg := oneError(t, r); !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %q", tc.env, msg)
			}
		}
		if n := len(d.e.AuthCalls()); n != 0 {
			t.Errorf("%d calls were made", n)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		closed := closedPort(t)
		down := rewriteTokenURI(t, d, "https://"+closed+"/token")
		r := d.expectCode(t, d.env("GOOGLE_APPLICATION_CREDENTIALS="+down), exitcode.Failure, "status")
		if msg := oneError(t, r); !strings.Contains(msg, "cannot reach https://"+closed+"/token") {
			t.Errorf("stderr %q", msg)
		}
	})
	t.Run("token endpoint does not answer", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() { // accept, then say nothing
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		silent := rewriteTokenURI(t, d, "https://"+l.Addr().String()+"/token")
		r := d.expectCode(t, d.env("GOOGLE_APPLICATION_CREDENTIALS="+silent), exitcode.Failure, "status")
		if msg := oneError(t, r); !strings.Contains(msg, "no answer in time") {
			t.Errorf("stderr %q", msg)
		}
		if r.took > 45*time.Second {
			t.Errorf("took %v: the token timeout is 30s, once per command", r.took.Round(time.Second))
		}
	})
	t.Run("certificate not trusted", func(t *testing.T) {
		other := newDoor(t, emulator.FrontDoorOptions{})
		for _, args := range [][]string{{"status"}, {"subnet", "list"}} {
			r := d.expectCode(t, d.env(user, "SSL_CERT_FILE="+other.e.CAFile()), exitcode.Failure, args...)
			if msg := oneError(t, r); !strings.Contains(msg, "TLS: cannot verify the server's certificate") || !strings.Contains(msg, "SSL_CERT_FILE") {
				t.Errorf("%v: %q", args, msg)
			}
		}
	})
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// rewriteTokenURI writes a copy of authorized-user.json whose token endpoint is uri.
func rewriteTokenURI(t *testing.T, d *door, uri string) string {
	t.Helper()
	var f map[string]any
	b, err := os.ReadFile(d.file(emulator.CredentialsAuthorizedUser))
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		t.Fatal(err)
	}
	f["token_uri"] = uri
	b, _ = json.Marshal(f)
	out := filepath.Join(t.TempDir(), "user.json")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// forgeKey writes a service-account key file for the emulator's account, with a key the
// emulator never issued (another emulator's).
func forgeKey(t *testing.T, d *door) string {
	t.Helper()
	other := newDoor(t, emulator.FrontDoorOptions{})
	var f map[string]any
	b, err := os.ReadFile(other.file(emulator.CredentialsServiceAccount))
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		t.Fatal(err)
	}
	f["token_uri"] = d.e.TokenURI()
	b, _ = json.Marshal(f)
	out := filepath.Join(t.TempDir(), "forged.json")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// connectProxy is an HTTPS proxy (HTTP CONNECT) that sends every tunnel to 127.0.0.1, on the
// port asked for (port 443 to https443 when set: the front door answering Cloud Run's URLs,
// as Google's does at *.run.app:443), and records the targets it was asked for.
type connectProxy struct {
	l        net.Listener
	https443 string
	mu       sync.Mutex
	targets  []string
}

// newConnectProxy starts a proxy; https443, when not empty, is the loopback port that
// CONNECTs to port 443 reach.
func newConnectProxy(t *testing.T, https443 string) *connectProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{l: l, https443: https443}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *connectProxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, req.Host)
	p.mu.Unlock()
	_, port, _ := net.SplitHostPort(req.Host)
	if port == "443" && p.https443 != "" {
		port = p.https443
	}
	up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fmt.Fprint(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer up.Close()
	fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() { _, _ = io.Copy(up, br) }()
	_, _ = io.Copy(c, up)
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.targets)
}

// HTTPS_PROXY carries both the gRPC and the REST calls (Go never proxies loopback
// addresses, so the APIs are named runnet.localhost here, which the emulator's certificate
// covers and only the proxy resolves); NO_PROXY keeps them off it.
func TestProxy(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	p := newConnectProxy(t, "")
	_, port, _ := net.SplitHostPort(d.e.Addr())
	api := "runnet.localhost:" + port
	base := "https://" + api + "/"
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS="+d.file(emulator.CredentialsAuthorizedUser),
		"HTTPS_PROXY=http://"+p.l.Addr().String(),
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN="+base, "CLOUDSDK_API_ENDPOINT_OVERRIDES_VPCACCESS="+base, "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+base,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING="+base, "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING="+base)
	d.expectCode(t, env, exitcode.OK, "inventory", "--format", "json") // Run and VPC Access (gRPC), Compute (REST)
	d.expectCode(t, env, exitcode.OK, "subnet", "list", "--format", "json")
	seen := p.seen()
	if len(seen) < 2 || slices.IndexFunc(seen, func(s string) bool { return s != api }) >= 0 {
		t.Errorf("the proxy tunnelled %v; want every API connection to %s (gRPC and REST)", seen, api)
	}
	d.assertGRPCPrincipal(t, "user:"+d.id.User)

	before := len(p.seen())
	d.run(t, append(env, "NO_PROXY=runnet.localhost"), "status", "--format", "json")
	if after := p.seen(); len(after) != before {
		t.Errorf("with NO_PROXY the proxy still tunnelled %v", after[before:])
	}
}

// everyCommand lists a run of every command that calls the APIs (besides tour's), valid
// against the demo world.
var everyCommand = [][]string{
	{"connector", "describe", "run-connector"},
	{"subnet", "describe", "run-subnet"},
	{"export", "run-service", "--as", "terraform"},
	{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--dry-run"},
	{"detach", "job/nightly-export"},
	{"subnet", "create", "e2e-delete-me", "--network", "run-vpc", "--range", "10.30.0.0/28"},
	{"subnet", "delete", "e2e-delete-me"},
	{"connector", "update", "run-connector", "--machine-type", "e2-standard-4", "--max-instances", "5"},
	{"connector", "recycle", "run-connector", "--create-subnet", "--range", "auto"},
	{"connector", "create", "e2e-delete-me", "--network", "run-vpc", "--range", "10.31.0.0/28"},
	{"connector", "delete", "e2e-delete-me"},
}

// With a service-account key or an authorized-user file as Application Default Credentials,
// every command works against the front door, and none panics or hangs when nothing answers
// at the endpoints.
func TestEveryCommandWithADC(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	for _, file := range []string{emulator.CredentialsServiceAccount, emulator.CredentialsAuthorizedUser} {
		env := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(file))
		for _, args := range everyCommand {
			d.expectCode(t, env, exitcode.OK, append(args, "--yes", "--format", "json")...)
		}
		d.assertGRPCPrincipal(t, map[string]string{emulator.CredentialsServiceAccount: "serviceAccount:" + d.id.KeyServiceAccount,
			emulator.CredentialsAuthorizedUser: "user:" + d.id.User}[file])
		if err := d.e.Seed(emulator.SeedDemo); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing listens where the endpoints point: a clean network error, exit 1.
	nowhere := "https://" + closedPort(t) + "/"
	for _, file := range []string{emulator.CredentialsServiceAccount, emulator.CredentialsAuthorizedUser} {
		env := d.env("GOOGLE_APPLICATION_CREDENTIALS="+d.file(file), "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN="+nowhere,
			"CLOUDSDK_API_ENDPOINT_OVERRIDES_VPCACCESS="+nowhere, "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+nowhere,
			"CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING="+nowhere, "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING="+nowhere)
		for _, args := range append([][]string{{"status"}, {"inventory"}, {"subnet", "list"}, {"connector", "list"},
			{"attach", "run-service", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress"}}, everyCommand[:6]...) {
			r := d.run(t, env, append(args, "--yes", "--format", "json")...)
			if r.code != exitcode.Failure {
				t.Errorf("%s with nothing listening: exit %d, want 1: %s", strings.Join(args, " "), r.code, r.stderr)
			}
		}
	}
}

// The identities the front door issues own the demo project, so runnet's permission
// preflight (testIamPermissions on the workload and the target subnet) passes for them; once
// an identity's Owner binding is replaced by Viewer, the same dry run names what it lacks and
// exits 4, while another identity, still an owner, passes.
func TestPermissionPreflight(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	sa := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount))
	user := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsAuthorizedUser))
	dryRun := []string{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--dry-run", "--format", "json"}
	permissions := func(r result) (status, message string) {
		var rep struct {
			Checks []struct{ Name, Status, Message string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("dry run output: %v\n%s", err, r.stdout)
		}
		for _, c := range rep.Checks {
			if c.Name == "permissions" {
				return c.Status, c.Message
			}
		}
		t.Fatalf("no permissions check in %s", r.stdout)
		return "", ""
	}
	if st, msg := permissions(d.expectCode(t, sa, exitcode.OK, dryRun...)); st != "pass" {
		t.Errorf("owner: permissions %s: %s", st, msg)
	}
	member := "serviceAccount:" + d.id.KeyServiceAccount
	if err := d.e.Revoke("projects/"+emulator.DemoProject, "roles/owner", member); err != nil {
		t.Fatal(err)
	}
	if err := d.e.Grant("projects/"+emulator.DemoProject, "roles/viewer", member); err != nil {
		t.Fatal(err)
	}
	st, msg := permissions(d.expectCode(t, sa, exitcode.Permission, dryRun...))
	if st != "fail" || !strings.Contains(msg, "run.services.update") || !strings.Contains(msg, "compute.subnetworks.use") || strings.Contains(msg, "run.services.get") {
		t.Errorf("viewer: permissions %s: %q, want run.services.update and compute.subnetworks.use missing", st, msg)
	}
	if st, msg := permissions(d.expectCode(t, user, exitcode.OK, dryRun...)); st != "pass" {
		t.Errorf("the user, still an owner: permissions %s: %s", st, msg)
	}
}

// The Direct VPC egress quota is read from the Service Usage API through the front door, with
// the caller's credential: a quota of 5 in the region makes direct-vpc-quota fail a service
// of 10 instances (exit 3), naming the quota read.
func TestDirectVPCQuotaThroughFrontDoor(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount))
	if err := d.e.SetDirectVPCQuota(emulator.DemoProject, emulator.DemoRegion, 5); err != nil {
		t.Fatal(err)
	}
	r := d.expectCode(t, env, exitcode.Preflight, "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--dry-run", "--format", "json")
	var rep struct {
		Checks []struct {
			Name, Status, Message string
			Numbers               map[string]int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("dry run output: %v\n%s", err, r.stdout)
	}
	i := slices.IndexFunc(rep.Checks, func(c struct {
		Name, Status, Message string
		Numbers               map[string]int64
	}) bool {
		return c.Name == "direct-vpc-quota"
	})
	if i < 0 {
		t.Fatalf("no direct-vpc-quota check: %s", r.stdout)
	}
	if c := rep.Checks[i]; c.Status != "fail" || c.Numbers["quota"] != 5 || c.Numbers["quotaRead"] != 1 {
		t.Errorf("direct-vpc-quota %+v, want a failure against the quota of 5 read", c)
	}
	var quotaCalls int
	for _, c := range d.e.AuthCalls() {
		if strings.Contains(c.Method, "/consumerQuotaMetrics") {
			quotaCalls++
			if c.Credential == "none" || c.Credential == "invalid" {
				t.Errorf("call %s without a valid credential (%s)", c.Method, c.Credential)
			}
		}
	}
	if quotaCalls == 0 {
		t.Error("no Service Usage call reached the front door")
	}
}

// The canary's metrics gate reads Cloud Monitoring through the front door with the caller's
// credential: each intermediate step carries what it saw.
func TestCanaryGateThroughFrontDoor(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount))
	r := d.expectCode(t, env, exitcode.OK, "migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress",
		"--canary", "10,100", "--step-wait", "100ms", "--yes", "--format", "json")
	var rep struct {
		Checks []struct {
			Name, Status, Message string
		}
		Steps []struct {
			Gate *struct {
				Reason string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("output: %v\n%s", err, r.stdout)
	}
	i := slices.IndexFunc(rep.Checks, func(c struct{ Name, Status, Message string }) bool { return c.Name == "metric-gate" })
	if i < 0 || rep.Checks[i].Status == "fail" || strings.Contains(rep.Checks[i].Message, "read Cloud Monitoring") {
		t.Errorf("metric-gate check: %+v; want it to have read Cloud Monitoring", rep.Checks)
	}
	gated := 0
	for _, s := range rep.Steps {
		if s.Gate != nil {
			gated++
			if strings.Contains(s.Gate.Reason, "could not be read") {
				t.Errorf("the gate could not read the metrics: %s", s.Gate.Reason)
			}
		}
	}
	if gated != 1 {
		t.Errorf("%d steps carry the gate's figures, want 1: %s", gated, r.stdout)
	}
	var monitoring int
	for _, c := range d.e.AuthCalls() {
		if strings.Contains(c.Method, "MetricService/ListTimeSeries") {
			monitoring++
			if c.Credential == "none" || c.Credential == "invalid" {
				t.Errorf("call %s without a valid credential (%s)", c.Method, c.Credential)
			}
		}
	}
	if monitoring != 3 {
		t.Errorf("%d ListTimeSeries calls reached the front door, want 3 (the request counts metric-gate reads before the change, then the step's requests and latencies)", monitoring)
	}
}

// A connector's cost and use come through the front door like every other read: Cloud
// Monitoring over gRPC and the Billing Catalog over REST, with the caller's credentials, so
// the cost is the Catalog's (not runnet's fallback table) and nothing is left unknown.
// `connector update` patches over REST the same way.
func TestConnectorCostAndUpdate(t *testing.T) {
	t.Parallel()
	d := newDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	for _, file := range []string{emulator.CredentialsServiceAccount, emulator.CredentialsAuthorizedUser} {
		env := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(file))
		r := d.expectCode(t, env, exitcode.OK, "connector", "describe", "run-connector", "--format", "json")
		var c struct {
			Instances   *struct{ Current int }
			MonthlyCost *struct {
				Fallback bool
				Source   string
			}
			UseNotes []string
		}
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if c.Instances == nil || c.MonthlyCost == nil || c.MonthlyCost.Fallback || len(c.UseNotes) > 0 {
			t.Errorf("%s: instances %+v, cost %+v, notes %v", file, c.Instances, c.MonthlyCost, c.UseNotes)
		}
		var mon, bill bool
		for _, call := range d.e.AuthCalls() {
			mon = mon || strings.Contains(call.Method, "MetricService/ListTimeSeries")
			bill = bill || strings.Contains(call.Method, "/v1/services/")
		}
		if !mon || !bill {
			t.Errorf("%s: Monitoring reached the front door: %v, the Catalog: %v", file, mon, bill)
		}
		d.assertGRPCPrincipal(t, map[string]string{emulator.CredentialsServiceAccount: "serviceAccount:" + d.id.KeyServiceAccount,
			emulator.CredentialsAuthorizedUser: "user:" + d.id.User}[file])
	}
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS=" + d.file(emulator.CredentialsServiceAccount))
	r := d.expectCode(t, env, exitcode.OK, "connector", "update", "run-connector", "--machine-type", "e2-micro", "--format", "json")
	if !strings.Contains(r.stdout, `"machineType": "e2-micro"`) || !strings.Contains(r.stdout, `"inPlace": true`) {
		t.Errorf("update: %s", r.stdout)
	}
}

// An organization's inventory goes through Cloud Asset Inventory and Resource Manager at the
// front door with the caller's credential, as it does at Google: every workload of every
// service project is found, and no call leaves without a valid credential.
func TestOrganizationInventoryThroughFrontDoor(t *testing.T) {
	t.Parallel()
	d := newSeededDoor(t, emulator.SeedSharedVPC, emulator.FrontDoorOptions{RequireAuth: true})
	sa := "serviceAccount:" + d.id.KeyServiceAccount
	if err := d.e.Grant("organizations/"+emulator.SharedVPCOrg, "roles/cloudasset.viewer", sa); err != nil {
		t.Fatal(err)
	}
	if err := d.e.Grant("organizations/"+emulator.SharedVPCOrg, "roles/browser", sa); err != nil {
		t.Fatal(err)
	}
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS="+d.file(emulator.CredentialsServiceAccount), "CLOUDSDK_CORE_PROJECT="+emulator.SharedVPCHost)
	r := d.expectCode(t, env, exitcode.OK, "inventory", "--organization", emulator.SharedVPCOrg, "--format", "json")
	var inv struct {
		Workloads []struct{ Project, Workload string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &inv); err != nil {
		t.Fatalf("inventory output: %v\n%s", err, r.stdout)
	}
	var got []string
	for _, w := range inv.Workloads {
		got = append(got, w.Project+"/"+w.Workload)
	}
	slices.Sort(got)
	want := []string{"team-a/api", "team-a/job/batch", "team-a/web", "team-b/job/nightly", "team-b/orders", "team-b/payments", "team-c/job/reindex", "team-c/recs", "team-c/search"}
	if !slices.Equal(got, want) {
		t.Errorf("workloads %v, want %v\n%s", got, want, r.stdout)
	}
	var assetCalls int
	for _, c := range d.e.AuthCalls() {
		if c.Credential == "none" || c.Credential == "invalid" {
			t.Errorf("call %s without a valid credential (%s)", c.Method, c.Credential)
		}
		if strings.Contains(c.Method, "SearchAllResources") {
			assetCalls++
		}
	}
	if assetCalls == 0 {
		t.Errorf("no Cloud Asset Inventory call reached the front door:\n%s", r.stderr)
	}
}

// The Shared VPC paths go through the front door with the caller's credential and quota
// project on every API they add, gRPC and REST alike: a folder's inventory (Cloud Asset
// Inventory, or Resource Manager and listing when the caller may not search), a fleet migration from a host's connector (Compute's
// getXpnResources, the service-agent check and its --fix on the host subnet's IAM policy,
// Service Usage's quota, Cloud Run), a connector's cost (Monitoring, the Billing Catalog) and
// its update (VPC Access REST PATCH).
func TestSharedVPCThroughFrontDoor(t *testing.T) {
	t.Parallel()
	d := newSeededDoor(t, emulator.SeedSharedVPC, emulator.FrontDoorOptions{RequireAuth: true})
	user := "user:" + d.id.User
	for _, role := range []string{"roles/owner", "roles/cloudasset.viewer"} {
		if err := d.e.Grant("organizations/"+emulator.SharedVPCOrg, role, user); err != nil {
			t.Fatal(err)
		}
	}
	env := d.env("GOOGLE_APPLICATION_CREDENTIALS="+d.file(emulator.CredentialsAuthorizedUser),
		"CLOUDSDK_CORE_PROJECT="+emulator.SharedVPCHost, "CLOUDSDK_RUN_REGION="+emulator.SharedVPCRegion,
		"CLOUDSDK_BILLING_QUOTA_PROJECT=billing-project")
	seen := map[string]bool{}
	check := func(what string) {
		t.Helper()
		for _, c := range d.e.AuthCalls() {
			for _, api := range []string{"SearchAllResources", "/v3/projects", "/v3/folders", "getXpnResources", "getXpnHost",
				"getIamPolicy", "setIamPolicy", "/consumerQuotaMetrics", "ListTimeSeries", "/v1/services/", "PATCH /v1/projects/"} {
				if strings.Contains(c.Method, api) {
					seen[api] = true
				}
			}
			if c.Principal != user || c.QuotaProject != "billing-project" {
				t.Errorf("%s: call %s by %q (%s), quota project %q; want %s, billing-project", what, c.Method, c.Principal, c.Credential, c.QuotaProject, user)
			}
		}
		d.e.ResetAuthCalls()
	}

	r := d.expectCode(t, env, exitcode.OK, "inventory", "--folder", emulator.SharedVPCFolderApps, "--format", "json")
	var inv struct {
		Workloads []struct{ Project, Workload string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &inv); err != nil || len(inv.Workloads) == 0 {
		t.Errorf("inventory --folder: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	check("inventory --folder")

	// A caller that may not search with Cloud Asset Inventory (a Browser of the organization):
	// the folder's projects come from Resource Manager, each listed on its own, through the
	// same front door.
	sa := "serviceAccount:" + d.id.KeyServiceAccount
	if err := d.e.Grant("organizations/"+emulator.SharedVPCOrg, "roles/browser", sa); err != nil {
		t.Fatal(err)
	}
	saEnv := d.env("GOOGLE_APPLICATION_CREDENTIALS="+d.file(emulator.CredentialsServiceAccount),
		"CLOUDSDK_CORE_PROJECT="+emulator.SharedVPCHost, "CLOUDSDK_RUN_REGION="+emulator.SharedVPCRegion)
	r = d.expectCode(t, saEnv, exitcode.OK, "inventory", "--folder", emulator.SharedVPCFolderApps, "--format", "json")
	var listed struct {
		Workloads []struct{ Project, Workload string }
		Sources   []struct{ Via string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed.Workloads) != len(inv.Workloads) || len(listed.Sources) == 0 || listed.Sources[0].Via != "listing" {
		t.Errorf("inventory --folder by listing: %v %+v\n%s", err, listed, r.stderr)
	}
	var crmList bool
	for _, c := range d.e.AuthCalls() {
		crmList = crmList || strings.Contains(c.Method, "/v3/projects")
		if c.Principal != sa {
			t.Errorf("inventory --folder by listing: call %s by %q (%s), want %s", c.Method, c.Principal, c.Credential, sa)
		}
	}
	if !crmList {
		t.Error("inventory --folder by listing: no Resource Manager projects call reached the front door")
	}
	d.e.ResetAuthCalls()

	subnet := "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	fleet := []string{"migrate", "--all", "--from-connector", emulator.SharedVPCConnectorName(), "--to", "direct", "--subnet", subnet,
		"--force", "free-ips", "--yes", "--format", "json"}
	r = d.expectCode(t, env, exitcode.Preflight, fleet...)
	if !strings.Contains(r.stderr, "add-iam-policy-binding") {
		t.Errorf("without --fix: no grant lines: %s", r.stderr)
	}
	check("migrate --all without --fix")
	d.expectCode(t, env, exitcode.OK, append(fleet, "--fix")...)
	check("migrate --all --fix")
	for _, p := range emulator.SharedVPCServiceProjects {
		if !d.e.IAMPolicy(subnet).Has("roles/compute.networkUser", emulator.ServiceAgent(p)) {
			t.Errorf("%s's service agent was not granted networkUser on the host subnet", p)
		}
	}

	d.expectCode(t, env, exitcode.OK, "connector", "describe", emulator.SharedVPCConnector, "--format", "json")
	check("connector describe")
	d.expectCode(t, env, exitcode.OK, "connector", "update", emulator.SharedVPCConnector, "--max-instances", "8", "--yes", "--format", "json")
	check("connector update")
	for _, api := range []string{"SearchAllResources", "getXpnResources", "getIamPolicy", "setIamPolicy", "/consumerQuotaMetrics",
		"ListTimeSeries", "/v1/services/", "PATCH /v1/projects/"} {
		if !seen[api] {
			t.Errorf("no %s call reached the front door", api)
		}
	}
}
