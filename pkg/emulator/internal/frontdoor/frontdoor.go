// Package frontdoor makes the emulator stand in for Google's front door: TLS with a
// certificate it generates, and the credentials Google issues and checks. It serves an
// OAuth 2.0 token endpoint (JWT-bearer grant for service-account keys, refresh-token grant
// for authorized users), a GCE metadata server, the STS token exchange of workload identity
// federation and the IAM Credentials generateAccessToken method for impersonation. Because
// it issued every key and token, it can check what the client libraries send on each API
// call (access tokens, and the self-signed JWTs Go libraries make from service-account keys)
// and record which principal made it.
package frontdoor

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// DefaultTokenTTL is how long issued access tokens live, as Google's do.
const DefaultTokenTTL = time.Hour

// maxRecords bounds the calls and issued tokens kept for the control surface: the oldest
// are forgotten first, so a long session does not grow without end.
const maxRecords = 50000

// Scopes the APIs accept.
const (
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	scopeCompute       = "https://www.googleapis.com/auth/compute"
	scopeComputeRO     = "https://www.googleapis.com/auth/compute.readonly"
)

// Options configure a front door.
type Options struct {
	// RequireAuth refuses every API call without a valid credential (UNAUTHENTICATED, HTTP
	// 401). Without it calls are served either way, and the principal recorded when the
	// credential is valid.
	RequireAuth bool
	// TokenTTL is the lifetime of the access tokens issued (DefaultTokenTTL when zero).
	TokenTTL time.Duration
	// Project and ProjectNumber own the identities the front door issues credentials for.
	Project       string
	ProjectNumber uint64
	// ControlPrefix is the path prefix of the emulator's control surface, served without
	// credentials over TLS and plain HTTP.
	ControlPrefix string
	// Logger receives the front door's log.
	Logger *slog.Logger
	// Now is the clock tokens are issued and checked with (time.Now when nil): the client
	// libraries compare expiry times with the real clock, not the emulator's.
	Now func() time.Time
}

// FrontDoor issues and checks credentials. It is safe for concurrent use.
type FrontDoor struct {
	opts Options
	pki  *pki
	log  *slog.Logger

	mu        sync.Mutex
	addr      string
	keys      map[string]*saKey // by private_key_id
	saKey     *saKey            // the key written to service-account.json, made on first use
	oidcKey   *rsa.PrivateKey   // signs the subject tokens of the federated identity
	idKey     *rsa.PrivateKey   // signs Google's ID tokens
	idIssued  []IDTokenIssue
	refresh   map[string]string // refresh token → user principal
	tokens    map[string]*accessToken
	revoked   map[string]bool // principals whose credentials were revoked
	issued    []Issue
	calls     []Call
	saEmails  map[string]bool // service accounts that exist
	lockedSAs map[string]bool // exist, but nobody may impersonate them
	// issueExpired makes new access tokens expired on arrival (the client is told the usual
	// lifetime): a server whose clock is ahead, or that expired them early.
	issueExpired bool
}

type saKey struct {
	id    string
	email string
	key   *rsa.PrivateKey
}

type accessToken struct {
	principal string
	grant     string
	via       []string
	scopes    []string
	expiry    time.Time
}

// Issue records one access token issued.
type Issue struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	// Grant is how it was obtained: jwt-bearer, refresh-token, metadata, sts or
	// generateAccessToken.
	Grant   string    `json:"grant"`
	Expires time.Time `json:"expires"`
}

// Call records one API call and the credential it came with.
type Call struct {
	Time time.Time `json:"time"`
	// Method is the full gRPC method, or "HTTP-METHOD /path" for REST.
	Method string `json:"method"`
	// Principal is who made the call, as an IAM member (serviceAccount:EMAIL, user:EMAIL,
	// principal://…); "" when the call had no valid credential.
	Principal string `json:"principal"`
	// Credential is access-token, self-signed-jwt, none or invalid.
	Credential string `json:"credential"`
	// Grant is how the access token was obtained (see Issue).
	Grant string `json:"grant,omitempty"`
	// Via lists who obtained an impersonated token, and the delegates, in order.
	Via []string `json:"via,omitempty"`
	// QuotaProject is the x-goog-user-project header, if any.
	QuotaProject string `json:"quotaProject,omitempty"`
	// Error says why the credential was refused, when it was.
	Error string `json:"error,omitempty"`
}

// Identities the front door issues credentials for, in Options.Project.
const (
	saKeyName     = "runnet-ci"       // service-account.json
	saTargetName  = "runnet-deployer" // impersonate.json's target
	saLockedName  = "runnet-locked"   // exists; impersonating it is denied
	UserEmail     = "runnet-user@example.com"
	OAuthClientID = "runnet-emulator.apps.googleusercontent.com"
	// OAuthClientSecret is not a secret: anyone who can reach the emulator may use it.
	OAuthClientSecret = "runnet-emulator-client-secret"
	PoolID            = "github"
	ProviderID        = "runnet"
	// WIFSubject is the subject of the federated identity, as GitHub Actions names a
	// workflow run on a branch.
	WIFSubject = "repo:runnet-dev/runnet:ref:refs/heads/main"
	// OIDCIssuer is the issuer of the subject tokens, GitHub Actions' own.
	OIDCIssuer = "https://token.actions.githubusercontent.com"
	oidcKeyID  = "runnet-emulator-oidc"
)

// New returns a front door with a fresh certificate authority.
func New(opts Options) (*FrontDoor, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := newPKI(opts.Now())
	if err != nil {
		return nil, err
	}
	f := &FrontDoor{
		opts: opts, pki: p, log: opts.Logger,
		keys: map[string]*saKey{}, refresh: map[string]string{}, tokens: map[string]*accessToken{},
		revoked: map[string]bool{}, saEmails: map[string]bool{}, lockedSAs: map[string]bool{},
	}
	for _, sa := range []string{f.KeyServiceAccount(), f.TargetServiceAccount(), f.MetadataServiceAccount()} {
		f.saEmails[sa] = true
	}
	f.saEmails[f.LockedServiceAccount()] = true
	f.lockedSAs[f.LockedServiceAccount()] = true
	return f, nil
}

// SetAddr tells the front door the host:port it is served on (for the token URI).
func (f *FrontDoor) SetAddr(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addr = addr
}

// Addr is the host:port the front door is served on.
func (f *FrontDoor) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// TLSConfig serves the generated certificate.
func (f *FrontDoor) TLSConfig() *tls.Config { return f.pki.tlsConfig() }

// CAPEM is the certificate authority to trust, PEM-encoded.
func (f *FrontDoor) CAPEM() []byte { return slices.Clone(f.pki.caPEM) }

// CAPool holds the certificate authority to trust.
func (f *FrontDoor) CAPool() *x509.CertPool { return f.pki.pool.Clone() }

// TokenURI is the OAuth 2.0 token endpoint.
func (f *FrontDoor) TokenURI() string { return "https://" + f.Addr() + "/token" }

// STSURI is the STS token exchange endpoint.
func (f *FrontDoor) STSURI() string { return "https://" + f.Addr() + "/v1/token" }

// ImpersonationURL is the generateAccessToken URL for a service account.
func (f *FrontDoor) ImpersonationURL(email string) string {
	return "https://" + f.Addr() + "/v1/projects/-/serviceAccounts/" + email + ":generateAccessToken"
}

func (f *FrontDoor) saEmail(name string) string {
	return name + "@" + f.opts.Project + ".iam.gserviceaccount.com"
}

// KeyServiceAccount is the service account whose key service-account.json holds.
func (f *FrontDoor) KeyServiceAccount() string { return f.saEmail(saKeyName) }

// TargetServiceAccount is the service account impersonate.json acts as.
func (f *FrontDoor) TargetServiceAccount() string { return f.saEmail(saTargetName) }

// LockedServiceAccount exists, but no one may impersonate it.
func (f *FrontDoor) LockedServiceAccount() string { return f.saEmail(saLockedName) }

// MetadataServiceAccount is the default service account the metadata server hands out: the
// project's Compute Engine default service account.
func (f *FrontDoor) MetadataServiceAccount() string {
	return strconv.FormatUint(f.opts.ProjectNumber, 10) + "-compute@developer.gserviceaccount.com"
}

// WIFAudience is the workload identity provider, as external_account files name it.
func (f *FrontDoor) WIFAudience() string {
	return "//iam.googleapis.com/" + f.providerName()
}

// OIDCAudience is the audience the provider accepts in subject tokens: its default,
// https://iam.googleapis.com/ and the provider's name.
func (f *FrontDoor) OIDCAudience() string { return "https://iam.googleapis.com/" + f.providerName() }

func (f *FrontDoor) providerName() string {
	return fmt.Sprintf("projects/%d/locations/global/workloadIdentityPools/%s/providers/%s", f.opts.ProjectNumber, PoolID, ProviderID)
}

// WIFPrincipal is the federated identity of a subject.
func (f *FrontDoor) WIFPrincipal(subject string) string {
	return fmt.Sprintf("principal://iam.googleapis.com/projects/%d/locations/global/workloadIdentityPools/%s/subject/%s", f.opts.ProjectNumber, PoolID, subject)
}

// randomToken returns prefix followed by 32 random bytes in hex.
func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// issueLocked makes an access token that lives ttl (at most TokenTTL). It returns the
// token and the expiry to tell the client: a second before the real one, so that a client
// that uses a token until the moment it was told never sends an expired one (Google's
// clients refresh minutes early; with a TTL that short they would not).
func (f *FrontDoor) issueLocked(principal, grant string, scopes, via []string, ttl time.Duration) (string, time.Time) {
	if ttl <= 0 || ttl > f.opts.TokenTTL {
		ttl = f.opts.TokenTTL
	}
	now := f.opts.Now()
	exp := now.Add(ttl)
	tok := randomToken("ya29.runnet-emulator-")
	if len(f.tokens) >= maxRecords {
		for t, at := range f.tokens { // forget the expired ones
			if !now.Before(at.expiry) {
				delete(f.tokens, t)
			}
		}
	}
	f.tokens[tok] = &accessToken{principal: principal, grant: grant, scopes: scopes, via: via, expiry: exp}
	if f.issueExpired {
		f.tokens[tok].expiry = now
	}
	f.issued = trimmed(append(f.issued, Issue{Time: now, Principal: principal, Grant: grant, Expires: exp}))
	f.log.Info("front door issued an access token", "principal", principal, "grant", grant, "expires", exp)
	told := exp.Add(-time.Second)
	if ttl <= time.Second {
		told = exp
	}
	return tok, told
}

// serviceAccountKeyLocked returns the key of service-account.json, making it on first use.
func (f *FrontDoor) serviceAccountKeyLocked() (*saKey, error) {
	if f.saKey != nil {
		return f.saKey, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate service account key: %w", err)
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	f.saKey = &saKey{id: hex.EncodeToString(b), email: f.KeyServiceAccount(), key: k}
	f.keys[f.saKey.id] = f.saKey
	return f.saKey, nil
}

func (f *FrontDoor) oidcKeyLocked() (*rsa.PrivateKey, error) {
	if f.oidcKey != nil {
		return f.oidcKey, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate OIDC issuer key: %w", err)
	}
	f.oidcKey = k
	return k, nil
}

// SubjectToken returns an ID token of the federated identity's OIDC provider (as GitHub
// Actions issues one to a workflow run), for audience and valid for ttl.
func (f *FrontDoor) SubjectToken(audience string, ttl time.Duration) (string, error) {
	f.mu.Lock()
	k, err := f.oidcKeyLocked()
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	now := f.opts.Now()
	return signJWT(k, oidcKeyID, jwtClaims{Iss: OIDCIssuer, Sub: WIFSubject, Aud: audience, Iat: now.Unix(), Exp: now.Add(ttl).Unix()})
}

// Calls returns the API calls recorded, oldest first.
func (f *FrontDoor) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ResetCalls forgets the calls recorded.
func (f *FrontDoor) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Issued returns the access tokens issued, oldest first.
func (f *FrontDoor) Issued() []Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.issued)
}

// ExpireTokens makes every access token issued so far expire now: clients that still hold
// one get UNAUTHENTICATED (ACCESS_TOKEN_EXPIRED) until they fetch another. It returns how
// many it expired.
func (f *FrontDoor) ExpireTokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.opts.Now()
	n := 0
	for _, t := range f.tokens {
		if t.expiry.After(now) {
			t.expiry = now
			n++
		}
	}
	return n
}

// IssueExpired makes every access token issued from now on (on) expired on arrival, while
// its client is told the usual lifetime; false stops it.
func (f *FrontDoor) IssueExpired(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issueExpired = on
}

// Revoke revokes every credential of principal (every principal when ""): its access
// tokens, refresh tokens, keys and federated subject tokens stop working, and nothing new is
// issued to it, until Restore.
func (f *FrontDoor) Revoke(principal string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []string
	if principal != "" {
		all = []string{world.NormalizeMember(principal)}
	} else {
		all = []string{"user:" + UserEmail, f.WIFPrincipal(WIFSubject)}
		for sa := range f.saEmails {
			all = append(all, "serviceAccount:"+sa)
		}
		slices.Sort(all)
	}
	for _, p := range all {
		f.revoked[p] = true
	}
	return all
}

// Restore undoes Revoke.
func (f *FrontDoor) Restore() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.revoked)
}

// hasScope reports whether scopes allow calling the APIs (Compute accepts its own scopes
// too).
func hasScope(scopes []string, compute bool) bool {
	for _, s := range scopes {
		if s == ScopeCloudPlatform || (compute && (s == scopeCompute || s == scopeComputeRO)) {
			return true
		}
	}
	return false
}

func splitScopes(s string) []string { return strings.Fields(s) }

// trimmed drops the oldest half of records once they reach maxRecords.
func trimmed[T any](records []T) []T {
	if len(records) < maxRecords {
		return records
	}
	return slices.Clone(records[len(records)/2:])
}
