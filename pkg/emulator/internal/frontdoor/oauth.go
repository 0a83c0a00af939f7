package frontdoor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	grantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantRefreshToken  = "refresh_token"
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT       = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	googleTokenURI     = "https://oauth2.googleapis.com/token"
	legacyTokenURI     = "https://accounts.google.com/o/oauth2/token"
)

// oauthError writes an OAuth 2.0 error response (RFC 6749 section 5.2), as Google's token
// endpoints do.
func oauthError(rw http.ResponseWriter, status int, code, desc string) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(rw).Encode(v)
}

// expiresIn is the expires_in of a token response: whole seconds, rounded down so that the
// client's idea of the expiry is never later than the front door's.
func expiresIn(exp time.Time, now time.Time) int {
	return max(int(exp.Sub(now)/time.Second), 1)
}

// serveToken is the OAuth 2.0 token endpoint (oauth2.googleapis.com/token): the JWT-bearer
// grant that service-account keys use, and the refresh-token grant of authorized users.
func (f *FrontDoor) serveToken(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(rw, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(rw, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	switch g := r.PostForm.Get("grant_type"); g {
	case grantJWTBearer:
		f.jwtBearer(rw, r)
	case grantRefreshToken:
		f.refreshToken(rw, r)
	case "":
		oauthError(rw, http.StatusBadRequest, "unsupported_grant_type", "Missing grant_type.")
	default:
		oauthError(rw, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+g)
	}
}

func (f *FrontDoor) jwtBearer(rw http.ResponseWriter, r *http.Request) {
	h, c, signed, sig, err := parseJWT(r.PostForm.Get("assertion"))
	if err != nil {
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Invalid JWT: "+err.Error())
		return
	}
	f.mu.Lock()
	k, ok := f.keys[h.Kid]
	revoked := ok && f.revoked["serviceAccount:"+k.email]
	f.mu.Unlock()
	switch {
	case !ok:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	case verifyRS256(&k.key.PublicKey, h, signed, sig) != nil:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	case revoked:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	case c.Iss != k.email:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("Invalid JWT: iss %q is not the key's service account.", c.Iss))
		return
	case c.Aud != f.TokenURI() && c.Aud != googleTokenURI && c.Aud != legacyTokenURI:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("Invalid JWT: audience %q is not the token endpoint.", c.Aud))
		return
	}
	now := f.opts.Now()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	if !now.Before(exp) || iat.After(now.Add(clockSkew)) || exp.Sub(iat) > maxSelfSignedJWTAge {
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	if c.TargetAudience != "" {
		// An ID token for the audience, as Google answers: {"id_token": …} alone.
		f.mu.Lock()
		tok, err := f.issueIDTokenLocked(k.email, c.TargetAudience, "jwt-bearer")
		f.mu.Unlock()
		if err != nil {
			oauthError(rw, http.StatusInternalServerError, "internal_failure", err.Error())
			return
		}
		writeJSON(rw, map[string]any{"id_token": tok})
		return
	}
	scopes := splitScopes(c.Scope)
	if len(scopes) == 0 {
		oauthError(rw, http.StatusBadRequest, "invalid_scope", "Empty or missing scope not allowed.")
		return
	}
	f.mu.Lock()
	tok, texp := f.issueLocked("serviceAccount:"+k.email, "jwt-bearer", scopes, nil, 0)
	f.mu.Unlock()
	writeJSON(rw, map[string]any{"access_token": tok, "expires_in": expiresIn(texp, now), "token_type": "Bearer"})
}

func (f *FrontDoor) refreshToken(rw http.ResponseWriter, r *http.Request) {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if id != OAuthClientID || secret != OAuthClientSecret {
		oauthError(rw, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	f.mu.Lock()
	principal, ok := f.refresh[r.PostForm.Get("refresh_token")]
	if !ok || f.revoked[principal] {
		f.mu.Unlock()
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	scopes := splitScopes(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{ScopeCloudPlatform, "openid", "https://www.googleapis.com/auth/userinfo.email"}
	}
	now := f.opts.Now()
	tok, exp := f.issueLocked(principal, "refresh-token", scopes, nil, 0)
	f.mu.Unlock()
	writeJSON(rw, map[string]any{"access_token": tok, "expires_in": expiresIn(exp, now), "token_type": "Bearer", "scope": strings.Join(scopes, " ")})
}

// serveSTS is the Security Token Service exchange (sts.googleapis.com/v1/token) of workload
// identity federation: a subject token of the pool's OIDC provider for a federated access
// token.
func (f *FrontDoor) serveSTS(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(rw, http.StatusMethodNotAllowed, "invalid_request", "the token exchange takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(rw, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm
	switch {
	case form.Get("grant_type") != grantTokenExchange:
		oauthError(rw, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("The grant type %q is not supported.", form.Get("grant_type")))
		return
	case form.Get("audience") != f.WIFAudience():
		oauthError(rw, http.StatusBadRequest, "invalid_target", fmt.Sprintf("The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist (want %s).", f.WIFAudience()))
		return
	case form.Get("subject_token_type") != tokenTypeJWT && form.Get("subject_token_type") != tokenTypeIDToken:
		oauthError(rw, http.StatusBadRequest, "invalid_request", fmt.Sprintf("Invalid subject token type %q.", form.Get("subject_token_type")))
		return
	case form.Get("requested_token_type") != "" && form.Get("requested_token_type") != tokenTypeAccess:
		oauthError(rw, http.StatusBadRequest, "invalid_request", fmt.Sprintf("Invalid requested token type %q.", form.Get("requested_token_type")))
		return
	}
	h, c, signed, sig, err := parseJWT(form.Get("subject_token"))
	if err != nil {
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "The subject token is not a valid JWT: "+err.Error())
		return
	}
	f.mu.Lock()
	k, kerr := f.oidcKeyLocked()
	f.mu.Unlock()
	if kerr != nil {
		oauthError(rw, http.StatusInternalServerError, "server_error", kerr.Error())
		return
	}
	now := f.opts.Now()
	principal := f.WIFPrincipal(c.Sub)
	switch {
	case h.Kid != oidcKeyID || verifyRS256(&k.PublicKey, h, signed, sig) != nil:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "Invalid JWT signature: the subject token was not signed by the provider's issuer.")
		return
	case c.Iss != OIDCIssuer:
		oauthError(rw, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("The issuer in ID Token %s does not match the expected ones: %s.", c.Iss, OIDCIssuer))
		return
	case c.Aud != f.OIDCAudience():
		oauthError(rw, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("The audience in ID Token [%s] does not match the expected audience %s.", c.Aud, f.OIDCAudience()))
		return
	case !now.Before(time.Unix(c.Exp, 0)):
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "ID Token issued at "+time.Unix(c.Iat, 0).UTC().Format(time.RFC3339)+" is stale to sign-in.")
		return
	case c.Sub == "":
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "The subject token has no sub claim.")
		return
	}
	scopes := splitScopes(form.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{ScopeCloudPlatform}
	}
	f.mu.Lock()
	if f.revoked[principal] {
		f.mu.Unlock()
		oauthError(rw, http.StatusBadRequest, "invalid_grant", "The principal is not allowed to exchange tokens.")
		return
	}
	tok, exp := f.issueLocked(principal, "sts", scopes, nil, 0)
	f.mu.Unlock()
	writeJSON(rw, map[string]any{"access_token": tok, "issued_token_type": tokenTypeAccess, "token_type": "Bearer", "expires_in": expiresIn(exp, now)})
}
