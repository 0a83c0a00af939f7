package frontdoor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A key's JWT-bearer assertion with target_audience gets an ID token for that audience; the
// Cloud Run URL check accepts it for that audience only, and refuses it once expired or once
// its service account is revoked.
func TestIDTokens(t *testing.T) {
	now := time.Now()
	f, k := newTestDoor(t)
	f.opts.Now = func() time.Time { return now }
	assertion, err := signJWT(k.key, k.id, jwtClaims{Iss: k.email, Aud: f.TokenURI(), TargetAudience: "https://svc-abc-an.a.run.app", Iat: now.Unix(), Exp: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(f, form(PathToken, url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion}}))
	var resp map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("token endpoint: HTTP %d: %s", rec.Code, rec.Body)
	}
	tok, _ := resp["id_token"].(string)
	if tok == "" || resp["access_token"] != nil {
		t.Fatalf("want an ID token alone, got %s", rec.Body)
	}
	aud := []string{"https://svc-abc-an.a.run.app"}
	if p, err := f.VerifyIDToken("Bearer "+tok, aud); err != nil || p != "serviceAccount:"+k.email {
		t.Errorf("VerifyIDToken = %q, %v", p, err)
	}
	for _, tc := range []struct {
		name  string
		authz string
		aud   []string
		want  int
	}{
		{"none", "", aud, http.StatusForbidden},
		{"another audience", "Bearer " + tok, []string{"https://other-abc-an.a.run.app"}, http.StatusUnauthorized},
		{"self-signed, not Google's", "Bearer " + assertion, aud, http.StatusUnauthorized},
	} {
		_, err := f.VerifyIDToken(tc.authz, tc.aud)
		if ie, ok := err.(*IDTokenError); !ok || ie.Status != tc.want {
			t.Errorf("%s: %v, want HTTP %d", tc.name, err, tc.want)
		}
	}
	f.Revoke("serviceAccount:" + k.email)
	if _, err := f.VerifyIDToken("Bearer "+tok, aud); err == nil {
		t.Error("a revoked service account's ID token was accepted")
	}
	f.Restore()
	now = now.Add(2 * time.Hour)
	if _, err := f.VerifyIDToken("Bearer "+tok, aud); err == nil {
		t.Error("an expired ID token was accepted")
	}
	if got := f.IDTokensIssued(); len(got) != 1 || got[0].Grant != "jwt-bearer" || got[0].Audience != aud[0] {
		t.Errorf("IDTokensIssued = %+v", got)
	}
}
