package frontdoor

import (
	"fmt"
	"strings"
	"time"
)

// Google's messages for a call without a valid credential, and the reasons (ErrorInfo) it
// gives for some of them.
const (
	msgMissing = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInvalid = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgScope   = "Request had insufficient authentication scopes."

	reasonMissing       = "CREDENTIALS_MISSING"
	reasonExpired       = "ACCESS_TOKEN_EXPIRED"
	reasonScope         = "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
	maxSelfSignedJWTAge = time.Hour
	clockSkew           = 5 * time.Minute
)

// caller is who made a call, once its credential checked out.
type caller struct {
	principal  string
	credential string // access-token or self-signed-jwt
	grant      string
	via        []string
}

// authError says why a credential was refused: the message and reason Google gives, and
// why (for the log and the call record; never the credential itself).
type authError struct {
	scope   bool // the credential is valid but lacks the scope: PERMISSION_DENIED, HTTP 403
	message string
	reason  string
	why     string
}

func (e *authError) Error() string { return e.why }

func missing() *authError {
	return &authError{message: msgMissing, reason: reasonMissing, why: "no credential"}
}

func invalid(format string, args ...any) *authError {
	return &authError{message: msgInvalid, why: fmt.Sprintf(format, args...)}
}

// audiences a self-signed JWT may name: the APIs' own, as the Go libraries set them.
var jwtAudiences = map[string]bool{
	"https://run.googleapis.com/":            true,
	"https://vpcaccess.googleapis.com/":      true,
	"https://compute.googleapis.com/":        true,
	"https://iamcredentials.googleapis.com/": true,
	"https://monitoring.googleapis.com/":     true,
	"https://cloudbilling.googleapis.com/":   true,
	"https://cloudasset.googleapis.com/":     true,
}

// authenticate checks the Authorization header (or gRPC metadata) value of an API call.
// compute says whether the call is to Compute, which accepts its own scopes.
func (f *FrontDoor) authenticate(authz string, compute bool) (*caller, *authError) {
	if authz == "" {
		return nil, missing()
	}
	scheme, cred, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
		return nil, invalid("the Authorization header is not \"Bearer TOKEN\"")
	}
	cred = strings.TrimSpace(cred)
	if looksLikeJWT(cred) {
		return f.checkSelfSignedJWT(cred, compute)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[cred]
	switch {
	case !ok:
		return nil, invalid("an access token the emulator did not issue")
	case f.revoked[t.principal]:
		return nil, invalid("a revoked access token of %s", t.principal)
	case !f.opts.Now().Before(t.expiry):
		return nil, &authError{message: msgInvalid, reason: reasonExpired, why: fmt.Sprintf("an access token of %s that expired at %s", t.principal, t.expiry.Format(time.RFC3339))}
	case !hasScope(t.scopes, compute):
		return nil, &authError{scope: true, message: msgScope, reason: reasonScope, why: fmt.Sprintf("an access token of %s with scopes %v", t.principal, t.scopes)}
	}
	return &caller{principal: t.principal, credential: "access-token", grant: t.grant, via: t.via}, nil
}

// checkSelfSignedJWT verifies a JWT a client signed with a service-account key the emulator
// issued: the libraries send one instead of an access token (with a scope claim, or the
// API's audience) when they have a key.
func (f *FrontDoor) checkSelfSignedJWT(tok string, compute bool) (*caller, *authError) {
	h, c, signed, sig, err := parseJWT(tok)
	if err != nil {
		return nil, invalid("%v", err)
	}
	f.mu.Lock()
	k, ok := f.keys[h.Kid]
	revoked := ok && f.revoked["serviceAccount:"+k.email]
	f.mu.Unlock()
	if !ok {
		return nil, invalid("a JWT signed with a key the emulator did not issue (kid %q)", h.Kid)
	}
	if err := verifyRS256(&k.key.PublicKey, h, signed, sig); err != nil {
		return nil, invalid("a self-signed JWT of %s: %v", k.email, err)
	}
	principal := "serviceAccount:" + k.email
	if revoked {
		return nil, invalid("a self-signed JWT made with a revoked key of %s", k.email)
	}
	if c.Iss != k.email || (c.Sub != "" && c.Sub != k.email) {
		return nil, invalid("a self-signed JWT whose iss/sub (%q/%q) is not the key's service account %s", c.Iss, c.Sub, k.email)
	}
	now := f.opts.Now()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	switch {
	case !now.Before(exp):
		return nil, &authError{message: msgInvalid, reason: reasonExpired, why: fmt.Sprintf("a self-signed JWT of %s that expired at %s", k.email, exp.Format(time.RFC3339))}
	case iat.After(now.Add(clockSkew)) || exp.Sub(iat) > maxSelfSignedJWTAge:
		return nil, invalid("a self-signed JWT of %s with iat %s and exp %s: it must be issued now and live at most an hour", k.email, iat.Format(time.RFC3339), exp.Format(time.RFC3339))
	}
	switch {
	case c.Scope != "":
		if !hasScope(splitScopes(c.Scope), compute) {
			return nil, &authError{scope: true, message: msgScope, reason: reasonScope, why: fmt.Sprintf("a self-signed JWT of %s with scope %q", k.email, c.Scope)}
		}
	case c.Aud != "":
		if !jwtAudiences[c.Aud] && c.Aud != "https://"+f.Addr()+"/" {
			return nil, invalid("a self-signed JWT of %s for audience %q", k.email, c.Aud)
		}
	default:
		return nil, invalid("a self-signed JWT of %s with neither a scope nor an audience", k.email)
	}
	return &caller{principal: principal, credential: "self-signed-jwt"}, nil
}

// record adds a call to the log.
func (f *FrontDoor) record(method, quotaProject string, c *caller, err *authError, hadCredential bool) {
	call := Call{Time: f.opts.Now(), Method: method, QuotaProject: quotaProject}
	switch {
	case c != nil:
		call.Principal, call.Credential, call.Grant, call.Via = c.principal, c.credential, c.grant, c.via
	case hadCredential:
		call.Credential, call.Error = "invalid", err.why
	default:
		call.Credential = "none"
	}
	f.mu.Lock()
	f.calls = trimmed(append(f.calls, call))
	f.mu.Unlock()
	if err != nil && hadCredential {
		f.log.Info("front door refused a credential", "method", method, "why", err.why)
	}
}
