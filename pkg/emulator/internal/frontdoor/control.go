package frontdoor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Identities names what the front door issues credentials for, for tests and the control
// surface.
type Identities struct {
	KeyServiceAccount      string `json:"keyServiceAccount"`
	TargetServiceAccount   string `json:"targetServiceAccount"`
	LockedServiceAccount   string `json:"lockedServiceAccount"`
	MetadataServiceAccount string `json:"metadataServiceAccount"`
	User                   string `json:"user"`
	WIFPrincipal           string `json:"wifPrincipal"`
	WIFAudience            string `json:"wifAudience"`
	OIDCAudience           string `json:"oidcAudience"`
	TokenURI               string `json:"tokenUri"`
	STSURI                 string `json:"stsUri"`
}

// Identities returns the identities and endpoints.
func (f *FrontDoor) Identities() Identities {
	return Identities{
		KeyServiceAccount: f.KeyServiceAccount(), TargetServiceAccount: f.TargetServiceAccount(),
		LockedServiceAccount: f.LockedServiceAccount(), MetadataServiceAccount: f.MetadataServiceAccount(),
		User: UserEmail, WIFPrincipal: f.WIFPrincipal(WIFSubject), WIFAudience: f.WIFAudience(),
		OIDCAudience: f.OIDCAudience(), TokenURI: f.TokenURI(), STSURI: f.STSURI(),
	}
}

// ControlHandler serves the front door's part of the control surface under prefix (which
// ends with "/"):
//
//	GET    PREFIX/calls           the API calls (the last 25000 to 50000): method, principal, credential, quota project
//	DELETE PREFIX/calls           forget them
//	GET    PREFIX/tokens          every access token issued: principal, grant, expiry
//	POST   PREFIX/expire {"future":true}   expire every access token issued so far (and,
//	                              with future, every one issued until DELETE PREFIX/expire)
//	POST   PREFIX/revoke {"principal":"user:…"}   revoke a principal's credentials (all if omitted)
//	DELETE PREFIX/revoke          undo every revocation
//	GET    PREFIX/identities      the identities and endpoints credentials are issued for
//	GET    PREFIX/subject-token?audience=A   a subject token of the federated identity, as
//	                              GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL returns it: {"value": JWT}
func (f *FrontDoor) ControlHandler(prefix string) http.Handler {
	p := strings.TrimSuffix(prefix, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/calls", func(rw http.ResponseWriter, _ *http.Request) { controlJSON(rw, http.StatusOK, nonNil(f.Calls())) })
	mux.HandleFunc("DELETE "+p+"/calls", func(rw http.ResponseWriter, _ *http.Request) {
		f.ResetCalls()
		controlJSON(rw, http.StatusOK, map[string]bool{"reset": true})
	})
	mux.HandleFunc("GET "+p+"/tokens", func(rw http.ResponseWriter, _ *http.Request) { controlJSON(rw, http.StatusOK, nonNil(f.Issued())) })
	mux.HandleFunc("POST "+p+"/expire", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Future bool `json:"future"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<16)).Decode(&req); err != nil {
				controlJSON(rw, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("bad JSON body: %v", err)})
				return
			}
		}
		if req.Future {
			f.IssueExpired(true)
		}
		controlJSON(rw, http.StatusOK, map[string]any{"expired": f.ExpireTokens(), "future": req.Future})
	})
	mux.HandleFunc("DELETE "+p+"/expire", func(rw http.ResponseWriter, _ *http.Request) {
		f.IssueExpired(false)
		controlJSON(rw, http.StatusOK, map[string]bool{"future": false})
	})
	mux.HandleFunc("POST "+p+"/revoke", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Principal string `json:"principal"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<16)).Decode(&req); err != nil {
				controlJSON(rw, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("bad JSON body: %v", err)})
				return
			}
		}
		controlJSON(rw, http.StatusOK, map[string][]string{"revoked": f.Revoke(req.Principal)})
	})
	mux.HandleFunc("DELETE "+p+"/revoke", func(rw http.ResponseWriter, _ *http.Request) {
		f.Restore()
		controlJSON(rw, http.StatusOK, map[string]bool{"restored": true})
	})
	mux.HandleFunc("GET "+p+"/identities", func(rw http.ResponseWriter, _ *http.Request) { controlJSON(rw, http.StatusOK, f.Identities()) })
	mux.HandleFunc("GET "+p+"/subject-token", func(rw http.ResponseWriter, r *http.Request) {
		aud := r.URL.Query().Get("audience")
		if aud == "" {
			aud = f.OIDCAudience()
		}
		tok, err := f.SubjectToken(aud, 10*time.Minute)
		if err != nil {
			controlJSON(rw, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		controlJSON(rw, http.StatusOK, map[string]string{"value": tok})
	})
	return mux
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func controlJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(v)
}
