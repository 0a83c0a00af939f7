package frontdoor

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Files WriteCredentials writes.
const (
	FileCA              = "ca.pem"
	FileServiceAccount  = "service-account.json"
	FileAuthorizedUser  = "authorized-user.json"
	FileExternalAccount = "external-account.json"
	FileSubjectToken    = "external-account-token.jwt"
	FileImpersonate     = "impersonate.json"
)

// subjectTokenTTL is how long the subject token in FileSubjectToken stays valid. GitHub's
// last minutes; the emulator's a day, so that a long session keeps working.
const subjectTokenTTL = 24 * time.Hour

// ServiceAccountKeyJSON returns service-account.json: a key of KeyServiceAccount, made by
// the emulator on first use, whose token_uri is the front door's token endpoint.
func (f *FrontDoor) ServiceAccountKeyJSON() ([]byte, error) {
	f.mu.Lock()
	k, err := f.serviceAccountKeyLocked()
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("encode service account key: %w", err)
	}
	return jsonFile(map[string]string{
		"type":                        "service_account",
		"project_id":                  f.opts.Project,
		"private_key_id":              k.id,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                k.email,
		"client_id":                   "1" + strconv.FormatUint(f.opts.ProjectNumber, 10) + "01",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   f.TokenURI(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	})
}

// AuthorizedUserJSON returns authorized-user.json, as `gcloud auth application-default
// login` writes it for UserEmail, with a new refresh token and the front door's token_uri.
func (f *FrontDoor) AuthorizedUserJSON() ([]byte, error) {
	return jsonFile(f.authorizedUser())
}

func (f *FrontDoor) authorizedUser() map[string]string {
	rt := randomToken("1//runnet-emulator-")
	f.mu.Lock()
	f.refresh[rt] = "user:" + UserEmail
	f.mu.Unlock()
	return map[string]string{
		"type":            "authorized_user",
		"client_id":       OAuthClientID,
		"client_secret":   OAuthClientSecret,
		"refresh_token":   rt,
		"token_uri":       f.TokenURI(),
		"account":         UserEmail,
		"universe_domain": "googleapis.com",
	}
}

// ExternalAccountJSON returns external-account.json: workload identity federation with the
// pool's provider, its subject token read from tokenFile, and no service account
// impersonation (direct federation).
func (f *FrontDoor) ExternalAccountJSON(tokenFile string) ([]byte, error) {
	return jsonFile(map[string]any{
		"type":               "external_account",
		"audience":           f.WIFAudience(),
		"subject_token_type": tokenTypeJWT,
		"token_url":          f.STSURI(),
		"credential_source":  map[string]any{"file": tokenFile, "format": map[string]string{"type": "text"}},
		"universe_domain":    "googleapis.com",
	})
}

// ImpersonateJSON returns impersonate.json, as `gcloud auth application-default login
// --impersonate-service-account` writes it: the authorized user acting as
// TargetServiceAccount through IAM Credentials.
func (f *FrontDoor) ImpersonateJSON() ([]byte, error) {
	return jsonFile(map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": f.ImpersonationURL(f.TargetServiceAccount()),
		"delegates":                         []string{},
		"source_credentials":                f.authorizedUser(),
	})
}

func jsonFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteCredentials writes the CA and a credentials file of every kind into dir (created if
// needed, files readable by the owner only).
func (f *FrontDoor) WriteCredentials(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials dir: %w", err)
	}
	tokenFile, err := filepath.Abs(filepath.Join(dir, FileSubjectToken))
	if err != nil {
		return fmt.Errorf("credentials dir: %w", err)
	}
	subject, err := f.SubjectToken(f.OIDCAudience(), subjectTokenTTL)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		make func() ([]byte, error)
	}{
		{FileCA, func() ([]byte, error) { return f.CAPEM(), nil }},
		{FileServiceAccount, f.ServiceAccountKeyJSON},
		{FileAuthorizedUser, f.AuthorizedUserJSON},
		{FileSubjectToken, func() ([]byte, error) { return []byte(subject), nil }},
		{FileExternalAccount, func() ([]byte, error) { return f.ExternalAccountJSON(tokenFile) }},
		{FileImpersonate, f.ImpersonateJSON},
	}
	for _, file := range files {
		b, err := file.make()
		if err != nil {
			return fmt.Errorf("%s: %w", file.name, err)
		}
		if err := writeFile(filepath.Join(dir, file.name), b); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes b to path atomically, readable by the owner only.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
