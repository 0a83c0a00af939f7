package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/gcloudconfig"
)

// EnvCredentials names the file of Application Default Credentials, as the client libraries
// and gcloud read it.
const EnvCredentials = "GOOGLE_APPLICATION_CREDENTIALS"

// envUniverseDomain is the client libraries' own universe domain setting.
const envUniverseDomain = "GOOGLE_CLOUD_UNIVERSE_DOMAIN"

// googleConfigLocked fills in how cfg reaches Google Cloud from the gcloud settings and
// the environment: endpoint overrides, credentials file, impersonation, quota project, CA
// bundle. Malformed settings are usage errors (exit status 2) that name them. f.mu is held.
func (f *Factory) googleConfigLocked(cfg *cloud.Config) error {
	r := f.configLocked()
	s, err := r.Cloud(f.Options.Impersonate)
	if err != nil {
		return err
	}
	for _, o := range s.Overrides() {
		f.IOStreams.Verbosef("Using the endpoint %s.", o)
	}
	cfg.Endpoints, err = cloud.EndpointsFromOverrides(cloud.Overrides{
		Run: s.Run.Value.Value, VPCAccess: s.VPCAccess.Value.Value, Compute: s.Compute.Value.Value,
		IAMCredentials: s.IAMCredentials.Value.Value, Monitoring: s.Monitoring.Value.Value, CloudBilling: s.CloudBilling.Value.Value,
		ServiceUsage: s.ServiceUsage.Value.Value, CloudAsset: s.CloudAsset.Value.Value, ResourceManager: s.ResourceManager.Value.Value,
	})
	if err != nil {
		return exitcode.Wrap(exitcode.Usage, err)
	}
	if u := s.UniverseDomain; u.IsSet() && u.Value.Value != cloud.DefaultUniverseDomain {
		return exitcode.Usagef("%s: runnet supports only the %s universe (it reads Compute Engine resource URLs of that universe)", u, cloud.DefaultUniverseDomain)
	}
	if u := f.Getenv(envUniverseDomain); u != "" && u != cloud.DefaultUniverseDomain {
		return exitcode.Usagef("%s=%s: runnet supports only the %s universe (it reads Compute Engine resource URLs of that universe)", envUniverseDomain, u, cloud.DefaultUniverseDomain)
	}
	if imp := s.Impersonate; imp.IsSet() {
		cfg.Impersonate, cfg.Delegates, _ = gcloudconfig.ImpersonationChain(imp.Value.Value) // checked by Cloud
		f.IOStreams.Verbosef("Impersonating %s (%s).", cfg.Impersonate, imp.Source)
	}
	if qp := s.QuotaProject; qp.IsSet() {
		cfg.QuotaProject = qp.Value.Value
		if f.project != nil {
			cfg.Project = f.project.Value
		} else if p, err := r.Project(f.Options.Project); err == nil {
			cfg.Project = p.Value
		}
		f.IOStreams.Verbosef("Using the quota project setting %s.", qp)
	}
	if ca := s.CustomCACertsFile; ca.IsSet() {
		pool, err := loadCAs(ca.Value.Value)
		if err != nil {
			return exitcode.Usagef("%s: %v", ca, err)
		}
		cfg.RootCAs = pool
		f.IOStreams.Verbosef("Trusting the certificate authorities of %s too.", ca)
	}
	switch file := f.Getenv(EnvCredentials); {
	case file != "":
		cfg.CredentialsFile = file
		f.IOStreams.Verbosef("Using the credentials in %s (%s).", file, EnvCredentials)
	default:
		wk := r.WellKnownADCFile()
		if wk == "" {
			break
		}
		if _, err := os.Stat(wk); err == nil {
			cfg.CredentialsFile = wk
			f.IOStreams.Verbosef("Using gcloud's application default credentials in %s.", wk)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("application default credentials %s: %w", wk, err)
		}
	}
	return nil
}

// loadCAs returns the system's certificate authorities (those of SSL_CERT_FILE when it is
// set) and those of a PEM bundle. gcloud trusts the bundle alone; runnet adds it, so that
// SSL_CERT_FILE keeps working where the bundle is set for every tool (TLS-inspecting
// proxies).
func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
