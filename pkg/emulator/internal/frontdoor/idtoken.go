package frontdoor

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Google-signed ID tokens, as the client libraries obtain them for calling a Cloud Run
// service: from the token endpoint (a service-account key's JWT-bearer assertion carrying
// target_audience), from the metadata server
// (instance/service-accounts/default/identity?audience=…) and from IAM Credentials
// (generateIdToken, for impersonation). The front door signs them with a key of its own, as
// https://accounts.google.com, and checks them when a request reaches a Cloud Run URL.

// IDTokenIssuer is the iss of the ID tokens the front door signs, Google's.
const IDTokenIssuer = "https://accounts.google.com"

const (
	idTokenKeyID = "runnet-emulator-google"
	idTokenTTL   = time.Hour
)

var generateIDTokenRE = regexp.MustCompile(`^/v1/projects/[^/]+/serviceAccounts/([^/:]+):generateIdToken$`)

// idClaims are the claims of a Google-signed ID token.
type idClaims struct {
	Iss           string `json:"iss"`
	Aud           string `json:"aud"`
	Azp           string `json:"azp,omitempty"`
	Sub           string `json:"sub"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Iat           int64  `json:"iat"`
	Exp           int64  `json:"exp"`
}

// IDTokenIssue records one ID token the front door signed.
type IDTokenIssue struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Audience  string    `json:"audience"`
	// Grant is how it was obtained: jwt-bearer, metadata or generateIdToken.
	Grant string `json:"grant"`
}

func (f *FrontDoor) idKeyLocked() (*rsa.PrivateKey, error) {
	if f.idKey != nil {
		return f.idKey, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate ID token key: %w", err)
	}
	f.idKey = k
	return k, nil
}

// numericID is a stable, numeric unique ID of an email (sub and azp of its ID tokens).
func numericID(email string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(email))
	return "1" + strconv.FormatUint(h.Sum64()%1e19, 10)
}

// issueIDTokenLocked signs an ID token of email for audience.
func (f *FrontDoor) issueIDTokenLocked(email, audience, grant string) (string, error) {
	k, err := f.idKeyLocked()
	if err != nil {
		return "", err
	}
	now := f.opts.Now()
	id := numericID(email)
	tok, err := signJWT(k, idTokenKeyID, idClaims{Iss: IDTokenIssuer, Aud: audience, Azp: id, Sub: id, Email: email, EmailVerified: true,
		Iat: now.Unix(), Exp: now.Add(idTokenTTL).Unix()})
	if err != nil {
		return "", err
	}
	f.idIssued = trimmed(append(f.idIssued, IDTokenIssue{Time: now, Principal: "serviceAccount:" + email, Audience: audience, Grant: grant}))
	f.log.Info("front door issued an ID token", "principal", email, "audience", audience, "grant", grant)
	return tok, nil
}

// IDTokensIssued returns the ID tokens signed, oldest first.
func (f *FrontDoor) IDTokensIssued() []IDTokenIssue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.idIssued)
}

// IDTokenError says why a request to a Cloud Run URL was refused, with the HTTP status Cloud
// Run answers: 401 for a token that is not a valid ID token, 403 for none or one for
// another audience.
type IDTokenError struct {
	Status int
	Why    string
}

func (e *IDTokenError) Error() string { return e.Why }

// VerifyIDToken checks the Authorization header of a request to a Cloud Run service: a
// Bearer ID token the front door signed, unexpired, whose principal is not revoked, for one of
// audiences. It returns the principal (serviceAccount:EMAIL).
func (f *FrontDoor) VerifyIDToken(authz string, audiences []string) (string, error) {
	scheme, tok, ok := strings.Cut(authz, " ")
	if authz == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", &IDTokenError{Status: http.StatusForbidden, Why: "no ID token"}
	}
	h, _, signed, sig, err := parseJWT(strings.TrimSpace(tok))
	if err != nil {
		return "", &IDTokenError{Status: http.StatusUnauthorized, Why: "not an ID token: " + err.Error()}
	}
	var c idClaims
	if parts := strings.Split(tok, "."); len(parts) == 3 {
		if b, err := b64.DecodeString(parts[1]); err == nil {
			err = json.Unmarshal(b, &c)
			if err != nil {
				return "", &IDTokenError{Status: http.StatusUnauthorized, Why: "malformed ID token claims"}
			}
		}
	}
	f.mu.Lock()
	k := f.idKey
	revoked := f.revoked["serviceAccount:"+c.Email]
	f.mu.Unlock()
	now := f.opts.Now()
	switch {
	case k == nil || h.Kid != idTokenKeyID || verifyRS256(&k.PublicKey, h, signed, sig) != nil:
		return "", &IDTokenError{Status: http.StatusUnauthorized, Why: "an ID token Google did not sign"}
	case c.Iss != IDTokenIssuer && c.Iss != "accounts.google.com":
		return "", &IDTokenError{Status: http.StatusUnauthorized, Why: fmt.Sprintf("ID token issuer %q", c.Iss)}
	case !now.Before(time.Unix(c.Exp, 0).Add(clockSkew)):
		return "", &IDTokenError{Status: http.StatusUnauthorized, Why: "expired ID token"}
	case revoked:
		return "", &IDTokenError{Status: http.StatusUnauthorized, Why: "the ID token's principal was revoked"}
	case !slices.Contains(audiences, c.Aud):
		return "", &IDTokenError{Status: http.StatusUnauthorized, Why: fmt.Sprintf("ID token for audience %q, not this service's", c.Aud)}
	}
	return "serviceAccount:" + c.Email, nil
}

// serveIdentity is the metadata server's instance/service-accounts/default/identity: an ID
// token of the default service account for ?audience=.
func (f *FrontDoor) serveIdentity(rw http.ResponseWriter, r *http.Request, sa string) {
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		http.Error(rw, "non-empty audience parameter required", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revoked["serviceAccount:"+sa] {
		http.Error(rw, "The service account was disabled.", http.StatusForbidden)
		return
	}
	tok, err := f.issueIDTokenLocked(sa, aud, "metadata")
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprint(rw, tok)
}

// generateIDToken is IAM Credentials' projects.serviceAccounts.generateIdToken: the caller
// (already authenticated) gets an ID token of the target service account, through the
// delegates in order.
func (f *FrontDoor) generateIDToken(rw http.ResponseWriter, r *http.Request, target string) {
	if r.Method != http.MethodPost {
		writeAPIError(rw, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "generateIdToken takes POST")
		return
	}
	var req struct {
		Delegates    []string `json:"delegates"`
		Audience     string   `json:"audience"`
		IncludeEmail bool     `json:"includeEmail"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<20)).Decode(&req); err != nil {
		writeAPIError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	if req.Audience == "" {
		writeAPIError(rw, http.StatusBadRequest, "INVALID_ARGUMENT", "Audience required.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkChainLocked(req.Delegates, target, "iam.serviceAccounts.getOpenIdToken"); err != nil {
		writeAPIError(rw, err.code, err.status, err.msg)
		return
	}
	tok, err := f.issueIDTokenLocked(target, req.Audience, "generateIdToken")
	if err != nil {
		writeAPIError(rw, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	writeJSON(rw, map[string]string{"token": tok})
}

type chainError struct {
	code        int
	status, msg string
}

// checkChainLocked checks that every service account of delegates and target exists and may
// be impersonated.
func (f *FrontDoor) checkChainLocked(delegates []string, target, permission string) *chainError {
	chain := []string{}
	for _, d := range delegates {
		chain = append(chain, strings.TrimPrefix(d, "projects/-/serviceAccounts/"))
	}
	for _, sa := range append(chain, target) {
		switch {
		case !f.saEmails[sa]:
			return &chainError{http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Not found; Gaia id not found for email %s", sa)}
		case f.lockedSAs[sa] || f.revoked["serviceAccount:"+sa]:
			return &chainError{http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission '%s' denied on resource (or it may not exist).", permission)}
		}
	}
	return nil
}
