package gcloudconfig

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

func TestEnvName(t *testing.T) {
	for prop, want := range map[string]string{
		PropRunEndpoint:       "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN",
		PropComputeEndpoint:   "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
		PropUniverseDomain:    "CLOUDSDK_CORE_UNIVERSE_DOMAIN",
		PropQuotaProject:      "CLOUDSDK_BILLING_QUOTA_PROJECT",
		PropImpersonate:       "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT",
		PropCustomCACertsFile: "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
	} {
		if got := EnvName(prop); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", prop, got, want)
		}
	}
}

// The configuration file as `gcloud config set` writes it (checked against gcloud 528):
// each property in its section, values kept verbatim.
const gcloudWritten = `[core]
project = p1
universe_domain = googleapis.com

[api_endpoint_overrides]
compute = https://compute.example.com/compute/v1/
run = https://run.example.com/
vpcaccess = https://127.0.0.1:8443/

[billing]
quota_project = billing-proj

[auth]
impersonate_service_account = a@p1.iam.gserviceaccount.com,b@p1.iam.gserviceaccount.com
`

func TestCloudSettingsPrecedence(t *testing.T) {
	dir := writeConfig(t, "", map[string]string{"default": gcloudWritten})
	path := filepath.Join(dir, "configurations", "config_default")
	fromConfig := Source{Kind: FromConfig, Name: path, Config: "default"}

	r := NewResolver(env(map[string]string{
		EnvConfigDir:                                dir,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN":       "https://env-run.example.com/",
		"CLOUDSDK_BILLING_QUOTA_PROJECT":            "CURRENT_PROJECT",
		"CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT": "env@p1.iam.gserviceaccount.com",
	}))
	c, err := r.Cloud("flag@p1.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Setting{
		"run":       {PropRunEndpoint, Value{"https://env-run.example.com/", Source{Kind: FromEnv, Name: "CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN"}}},
		"vpcaccess": {PropVPCAccessEndpoint, Value{"https://127.0.0.1:8443/", fromConfig}},
		"compute":   {PropComputeEndpoint, Value{"https://compute.example.com/compute/v1/", fromConfig}},
		"universe":  {PropUniverseDomain, Value{"googleapis.com", fromConfig}},
		"quota":     {PropQuotaProject, Value{"CURRENT_PROJECT", Source{Kind: FromEnv, Name: "CLOUDSDK_BILLING_QUOTA_PROJECT"}}},
		"imp":       {PropImpersonate, Value{"flag@p1.iam.gserviceaccount.com", Source{Kind: FromFlag, Name: "--impersonate-service-account"}}},
	}
	got := map[string]Setting{"run": c.Run, "vpcaccess": c.VPCAccess, "compute": c.Compute, "universe": c.UniverseDomain, "quota": c.QuotaProject, "imp": c.Impersonate}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %+v, want %+v", k, got[k], w)
		}
	}
	if c.IAMCredentials.IsSet() || c.CustomCACertsFile.IsSet() {
		t.Errorf("unset properties came back set: %+v %+v", c.IAMCredentials, c.CustomCACertsFile)
	}
	if n := len(c.Overrides()); n != 3 {
		t.Errorf("Overrides() has %d entries, want 3", n)
	}

	// Without flag and environment, the configuration's chain is used.
	c, err = NewResolver(env(map[string]string{EnvConfigDir: dir})).Cloud("")
	if err != nil {
		t.Fatal(err)
	}
	target, delegates, err := ImpersonationChain(c.Impersonate.Value.Value)
	if err != nil || target != "b@p1.iam.gserviceaccount.com" || len(delegates) != 1 || delegates[0] != "a@p1.iam.gserviceaccount.com" {
		t.Errorf("chain %q: target %q delegates %v err %v", c.Impersonate.Value.Value, target, delegates, err)
	}
}

func TestCloudSettingsInvalid(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN": "run.example.com:443"}, "api_endpoint_overrides/run from environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN"},
		{map[string]string{"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": "ftp://x/"}, "want https://HOST[:PORT]/"},
		{map[string]string{"CLOUDSDK_API_ENDPOINT_OVERRIDES_VPCACCESS": "https://x/?a=b"}, "query"},
		{map[string]string{"CLOUDSDK_CORE_UNIVERSE_DOMAIN": "https://googleapis.com"}, "not a domain name"},
		{map[string]string{"CLOUDSDK_BILLING_QUOTA_PROJECT": "current_project "}, "neither a project ID"},
		{map[string]string{"CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT": "a@p.iam.gserviceaccount.com,,b@p.iam.gserviceaccount.com"}, "not a service account email"},
	} {
		tc.env[EnvConfigDir] = t.TempDir()
		_, err := NewResolver(env(tc.env)).Cloud("")
		var ee *exitcode.Error
		if !errors.As(err, &ee) || ee.Code != exitcode.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want a usage error containing %q", tc.env, err, tc.want)
		}
	}
}

func TestParseEndpointOverride(t *testing.T) {
	for in, want := range map[string]string{
		"https://run.googleapis.com/":                "https://run.googleapis.com/",
		"https://127.0.0.1:8443/":                    "https://127.0.0.1:8443/",
		"https://127.0.0.1:8443":                     "https://127.0.0.1:8443/",
		"https://compute.googleapis.com/compute/v1/": "https://compute.googleapis.com/compute/v1/",
		"https://compute.googleapis.com/compute/v1":  "https://compute.googleapis.com/compute/v1/",
		"http://localhost:9/":                        "http://localhost:9/",
		"https://[::1]:8443/":                        "https://[::1]:8443/",
	} {
		u, err := ParseEndpointOverride(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseEndpointOverride(%q) = %v, %v; want %q", in, u, err, want)
		}
	}
	for _, in := range []string{"run.googleapis.com", "127.0.0.1:8443", "https:///x/", "https://h:port/", "grpc://h/", "https://u@h/"} {
		if u, err := ParseEndpointOverride(in); err == nil {
			t.Errorf("ParseEndpointOverride(%q) = %v, want an error", in, u)
		}
	}
}

func TestWellKnownADCFile(t *testing.T) {
	r := NewResolver(env(map[string]string{EnvConfigDir: "/cfg"}))
	if got := r.WellKnownADCFile(); got != filepath.Join("/cfg", ADCFileName) {
		t.Errorf("got %q", got)
	}
	r = NewResolver(env(map[string]string{"APPDATA": `C:\Users\u\AppData\Roaming`}), WithGOOS("windows"))
	if got := r.WellKnownADCFile(); got != `C:\Users\u\AppData\Roaming\gcloud\`+ADCFileName {
		t.Errorf("windows: got %q", got)
	}
	if got := NewResolver(env(nil)).WellKnownADCFile(); got != "" {
		t.Errorf("no home: got %q", got)
	}
}
