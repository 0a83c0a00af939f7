package gcloudconfig

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// This file reads the gcloud properties that decide how runnet reaches Google Cloud: API
// endpoint overrides, the universe domain, the quota project, service-account impersonation
// and a custom CA bundle. Each is looked up the way gcloud looks it up: a flag (only
// --impersonate-service-account has one in runnet), then the CLOUDSDK_SECTION_NAME
// variable, then the active configuration.

// Property names (section/name), as `gcloud config set` takes them.
const (
	PropRunEndpoint             = "api_endpoint_overrides/run"
	PropVPCAccessEndpoint       = "api_endpoint_overrides/vpcaccess"
	PropComputeEndpoint         = "api_endpoint_overrides/compute"
	PropIAMCredentialsEndpoint  = "api_endpoint_overrides/iamcredentials"
	PropMonitoringEndpoint      = "api_endpoint_overrides/monitoring"
	PropCloudBillingEndpoint    = "api_endpoint_overrides/cloudbilling"
	PropServiceUsageEndpoint    = "api_endpoint_overrides/serviceusage"
	PropCloudAssetEndpoint      = "api_endpoint_overrides/cloudasset"
	PropResourceManagerEndpoint = "api_endpoint_overrides/cloudresourcemanager"
	PropUniverseDomain          = "core/universe_domain"
	PropQuotaProject            = "billing/quota_project"
	PropImpersonate             = "auth/impersonate_service_account"
	PropCustomCACertsFile       = "core/custom_ca_certs_file"
)

// Special values of billing/quota_project (gcloud's billing section).
const (
	// QuotaCurrentProject bills the project a command works on, for user credentials only.
	QuotaCurrentProject = "CURRENT_PROJECT"
	// QuotaLegacy bills the project that owns the credentials (no header is sent).
	QuotaLegacy = "LEGACY"
	// QuotaCurrentProjectWithFallback is CURRENT_PROJECT; gcloud falls back to LEGACY when the
	// API refuses it, which runnet does not do.
	QuotaCurrentProjectWithFallback = "CURRENT_PROJECT_WITH_FALLBACK"
)

// EnvName returns the environment variable gcloud reads for a property ("section/name"):
// CLOUDSDK_SECTION_NAME.
func EnvName(prop string) string {
	return "CLOUDSDK_" + strings.ToUpper(strings.ReplaceAll(prop, "/", "_"))
}

// Property resolves any gcloud property ("section/name"): flag (its value, "" if not
// given; flagName names it for Source), then the environment, then the active
// configuration. ok is false when it is set nowhere.
func (r *Resolver) Property(prop, flag, flagName string) (v Value, ok bool, err error) {
	section, key, found := strings.Cut(prop, "/")
	if !found {
		return Value{}, false, fmt.Errorf("gcloud property %q has no section", prop)
	}
	if s := strings.TrimSpace(flag); s != "" {
		return Value{s, Source{Kind: FromFlag, Name: flagName}}, true, nil
	}
	env := EnvName(prop)
	if s := strings.TrimSpace(r.getenv(env)); s != "" {
		return Value{s, Source{Kind: FromEnv, Name: env}}, true, nil
	}
	r.once.Do(r.load)
	if r.cfgErr != nil {
		return Value{}, false, r.cfgErr
	}
	if s, _ := r.ini.Get(section, key); s != "" {
		return Value{s, Source{Kind: FromConfig, Name: r.cfgPath, Config: r.cfgName}}, true, nil
	}
	return Value{}, false, nil
}

// Setting is one resolved property: its name, value and where it came from. The zero value
// means "not set".
type Setting struct {
	Property string `json:"property"`
	Value
}

// IsSet reports whether the property was set anywhere.
func (s Setting) IsSet() bool { return s.Value.Value != "" }

func (s Setting) String() string {
	return fmt.Sprintf("%s %q (from %s)", s.Property, s.Value.Value, s.Source)
}

// CloudSettings are the gcloud properties runnet honours when it talks to Google Cloud.
type CloudSettings struct {
	// Endpoint overrides: URLs such as https://run.example.com/ or, for Compute,
	// https://compute.example.com/compute/v1/.
	Run, VPCAccess, Compute, IAMCredentials, Monitoring, CloudBilling Setting
	// ServiceUsage is the Service Usage API's (consumer quota metrics: the Direct VPC egress
	// quota).
	ServiceUsage Setting
	// CloudAsset and ResourceManager are Cloud Asset Inventory's and Cloud Resource
	// Manager's (inventory of projects, folders and organizations; project numbers and IAM).
	CloudAsset, ResourceManager Setting
	// UniverseDomain is the Cloud universe (googleapis.com when not set).
	UniverseDomain Setting
	// QuotaProject is billing/quota_project: a project ID or one of the Quota* values.
	QuotaProject Setting
	// Impersonate is auth/impersonate_service_account: a service account, or a
	// comma-separated delegation chain ending with the account to act as.
	Impersonate Setting
	// CustomCACertsFile is core/custom_ca_certs_file: a PEM bundle of certificate
	// authorities to trust (gcloud trusts it instead of the system's).
	CustomCACertsFile Setting
}

// Overrides lists the endpoint overrides that are set.
func (c CloudSettings) Overrides() []Setting {
	var out []Setting
	for _, s := range []Setting{c.Run, c.VPCAccess, c.Compute, c.IAMCredentials, c.Monitoring, c.CloudBilling, c.ServiceUsage, c.CloudAsset, c.ResourceManager} {
		if s.IsSet() {
			out = append(out, s)
		}
	}
	return out
}

// Cloud resolves the CloudSettings; impersonateFlag is the value of
// --impersonate-service-account ("" if not given). Malformed values are usage errors (exit
// status 2) that name the property and where it was set.
func (r *Resolver) Cloud(impersonateFlag string) (CloudSettings, error) {
	var c CloudSettings
	for _, p := range []struct {
		dst      *Setting
		prop     string
		flag     string
		flagName string
	}{
		{&c.Run, PropRunEndpoint, "", ""},
		{&c.VPCAccess, PropVPCAccessEndpoint, "", ""},
		{&c.Compute, PropComputeEndpoint, "", ""},
		{&c.IAMCredentials, PropIAMCredentialsEndpoint, "", ""},
		{&c.Monitoring, PropMonitoringEndpoint, "", ""},
		{&c.CloudBilling, PropCloudBillingEndpoint, "", ""},
		{&c.ServiceUsage, PropServiceUsageEndpoint, "", ""},
		{&c.CloudAsset, PropCloudAssetEndpoint, "", ""},
		{&c.ResourceManager, PropResourceManagerEndpoint, "", ""},
		{&c.UniverseDomain, PropUniverseDomain, "", ""},
		{&c.QuotaProject, PropQuotaProject, "", ""},
		{&c.Impersonate, PropImpersonate, impersonateFlag, "--impersonate-service-account"},
		{&c.CustomCACertsFile, PropCustomCACertsFile, "", ""},
	} {
		v, ok, err := r.Property(p.prop, p.flag, p.flagName)
		if err != nil {
			return CloudSettings{}, err
		}
		if ok {
			*p.dst = Setting{Property: p.prop, Value: v}
		}
	}
	for _, s := range c.Overrides() {
		if _, err := ParseEndpointOverride(s.Value.Value); err != nil {
			return CloudSettings{}, exitcode.Usagef("%s from %s: %v", s.Property, s.Source, err)
		}
	}
	if s := c.UniverseDomain; s.IsSet() && !domainRE.MatchString(s.Value.Value) {
		return CloudSettings{}, exitcode.Usagef("%s from %s: %q is not a domain name such as googleapis.com", s.Property, s.Source, s.Value.Value)
	}
	if s := c.QuotaProject; s.IsSet() && !quotaRE.MatchString(s.Value.Value) {
		return CloudSettings{}, exitcode.Usagef("%s from %s: %q is neither a project ID nor one of %s, %s, %s", s.Property, s.Source, s.Value.Value,
			QuotaCurrentProject, QuotaCurrentProjectWithFallback, QuotaLegacy)
	}
	if s := c.Impersonate; s.IsSet() {
		if _, _, err := ImpersonationChain(s.Value.Value); err != nil {
			return CloudSettings{}, exitcode.Usagef("%s from %s: %v", s.Property, s.Source, err)
		}
	}
	return c, nil
}

var (
	domainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`)
	// quotaRE accepts project IDs (and legacy domain-scoped ones, example.com:proj) and the
	// special values, which are upper case.
	quotaRE = regexp.MustCompile(`^([a-z][-a-z0-9.:]*[a-z0-9]|CURRENT_PROJECT|CURRENT_PROJECT_WITH_FALLBACK|LEGACY)$`)
	saRE    = regexp.MustCompile(`^[^@\s,]+@[^@\s,]+\.[^@\s,]+$`)
)

// ParseEndpointOverride checks an api_endpoint_overrides value and returns it as a URL.
// gcloud requires an absolute http:// or https:// URL with a host; it asks for a trailing
// '/' but, like gcloud, runnet uses a value without one (as if the '/' were there).
func ParseEndpointOverride(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q is not an absolute URL: want https://HOST[:PORT]/ (gcloud's form)", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q has user info, a query or a fragment: want https://HOST[:PORT]/ (gcloud's form)", s)
	}
	if u.Port() != "" {
		if p := u.Port(); strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("%q has a bad port", s)
		}
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// ImpersonationChain splits auth/impersonate_service_account as gcloud does: the last
// account is the one to act as; the ones before it are delegates, in order.
func ImpersonationChain(s string) (target string, delegates []string, err error) {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if !saRE.MatchString(parts[i]) {
			return "", nil, fmt.Errorf("%q is not a service account email (NAME@PROJECT.iam.gserviceaccount.com), or a comma-separated list of them", parts[i])
		}
	}
	return parts[len(parts)-1], parts[:len(parts)-1], nil
}

// ADCFileName is the file `gcloud auth application-default login` writes in gcloud's
// configuration directory.
const ADCFileName = "application_default_credentials.json"

// WellKnownADCFile returns where gcloud keeps Application Default Credentials: in its
// configuration directory ($CLOUDSDK_CONFIG, else ~/.config/gcloud, or %APPDATA%\gcloud), or
// "" when there is no such directory.
func (r *Resolver) WellKnownADCFile() string {
	dir := r.ConfigDir()
	if dir == "" {
		return ""
	}
	return r.join(dir, ADCFileName)
}
