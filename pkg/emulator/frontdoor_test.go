package emulator_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// frontDoor starts an emulator with a front door and its credentials in a temporary dir.
func frontDoor(t *testing.T, fd emulator.FrontDoorOptions) (*emulator.Emulator, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "creds")
	fd.CredentialsDir = dir
	return start(t, emulator.Options{Seed: emulator.SeedDemo, FrontDoor: &fd}), dir
}

// httpClient trusts the emulator's CA (what SSL_CERT_FILE does for a whole process).
func httpClient(e *emulator.Emulator) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: e.TLSConfig()}, Timeout: 10 * time.Second}
}

// detect loads a credentials file as the client libraries do, with the HTTP client that
// trusts the emulator. selfSigned asks for the self-signed JWTs the gRPC clients use.
func detect(t *testing.T, e *emulator.Emulator, file string, selfSigned bool) *auth.Credentials {
	t.Helper()
	opts := &credentials.DetectOptions{
		Scopes:           []string{"https://www.googleapis.com/auth/cloud-platform"},
		UseSelfSignedJWT: selfSigned, Client: httpClient(e),
	}
	if strings.HasSuffix(file, emulator.CredentialsAuthorizedUser) || strings.HasSuffix(file, emulator.CredentialsImpersonate) {
		opts.TokenURL = e.TokenURI() // the Go library does not read token_uri from user credentials
	}
	kind := map[string]credentials.CredType{
		emulator.CredentialsServiceAccount: credentials.ServiceAccount, emulator.CredentialsAuthorizedUser: credentials.AuthorizedUser,
		emulator.CredentialsExternalAccount: credentials.ExternalAccount, emulator.CredentialsImpersonate: credentials.ImpersonatedServiceAccount,
	}[filepath.Base(file)]
	c, err := credentials.NewCredentialsFromFile(kind, file, opts)
	if err != nil {
		t.Fatalf("credentials from %s: %v", file, err)
	}
	return c
}

func grpcOpts(e *emulator.Emulator, creds *auth.Credentials) []option.ClientOption {
	o := []option.ClientOption{option.WithEndpoint(e.Addr()),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(grpccreds.NewTLS(e.TLSConfig())))}
	if creds == nil {
		return append(o, option.WithoutAuthentication())
	}
	return append(o, option.WithAuthCredentials(creds))
}

func computeService(t *testing.T, e *emulator.Emulator, creds *auth.Credentials) *compute.Service {
	t.Helper()
	base := &http.Transport{TLSClientConfig: e.TLSConfig()}
	var rt http.RoundTripper = base
	if creds != nil {
		var err error
		rt, err = htransport.NewTransport(context.Background(), base, option.WithAuthCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
	}
	cs, err := compute.NewService(context.Background(), option.WithHTTPClient(&http.Client{Transport: rt}), option.WithEndpoint("https://"+e.Addr()+"/compute/v1/"))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func getService(c context.Context, t *testing.T, e *emulator.Emulator, creds *auth.Credentials) (*runpb.Service, error) {
	t.Helper()
	svc, err := run.NewServicesClient(c, grpcOpts(e, creds)...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	return svc.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService})
}

func getSubnet(c context.Context, t *testing.T, e *emulator.Emulator, creds *auth.Credentials) (*compute.Subnetwork, error) {
	t.Helper()
	return computeService(t, e, creds).Subnetworks.Get(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet).Context(c).Do()
}

// lastCall returns the last API call the front door recorded.
func lastCall(t *testing.T, e *emulator.Emulator) emulator.AuthCall {
	t.Helper()
	calls := e.AuthCalls()
	if len(calls) == 0 {
		t.Fatal("no call recorded")
	}
	return calls[len(calls)-1]
}

func errorInfoReason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

// Every credential kind the front door writes reaches the APIs, over gRPC and REST, and
// each call is recorded with the principal the credential stands for.
func TestFrontDoorCredentialKinds(t *testing.T) {
	e, dir := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	id := e.Identities()
	if !strings.HasPrefix(e.TokenURI(), "https://127.0.0.1:") || id.TokenURI != e.TokenURI() || e.CAFile() != mustAbs(t, filepath.Join(dir, emulator.CredentialsCA)) {
		t.Fatalf("token URI %q, identities %+v, CA %q", e.TokenURI(), id, e.CAFile())
	}
	c := ctx(t)
	for _, tc := range []struct {
		file       string
		principal  string
		grpcCred   string // the credential the gRPC call carries
		grant      string // how the REST call's token was obtained
		via        []string
		selfSigned bool
	}{
		{emulator.CredentialsServiceAccount, "serviceAccount:" + id.KeyServiceAccount, "self-signed-jwt", "jwt-bearer", nil, true},
		{emulator.CredentialsAuthorizedUser, "user:" + id.User, "access-token", "refresh-token", nil, false},
		{emulator.CredentialsExternalAccount, id.WIFPrincipal, "access-token", "sts", nil, false},
		{emulator.CredentialsImpersonate, "serviceAccount:" + id.TargetServiceAccount, "access-token", "generateAccessToken", []string{"user:" + id.User}, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := filepath.Join(dir, tc.file)
			s, err := getService(c, t, e, detect(t, e, file, tc.selfSigned))
			if err != nil || s.GetName() != loc+"/services/"+emulator.DemoService {
				t.Fatalf("GetService: %v", err)
			}
			if call := lastCall(t, e); call.Principal != tc.principal || call.Credential != tc.grpcCred || call.Method != "google.cloud.run.v2.Services/GetService" {
				t.Errorf("gRPC call recorded as %+v, want principal %s with %s", call, tc.principal, tc.grpcCred)
			}
			sn, err := getSubnet(c, t, e, detect(t, e, file, false))
			if err != nil || sn.IpCidrRange != "10.8.0.0/24" {
				t.Fatalf("Subnetworks.Get: %v", err)
			}
			call := lastCall(t, e)
			if call.Principal != tc.principal || call.Credential != "access-token" || call.Grant != tc.grant || !slices.Equal(call.Via, tc.via) ||
				!strings.HasPrefix(call.Method, "GET /compute/v1/projects/demo-project/regions/asia-northeast1/subnetworks/") {
				t.Errorf("REST call recorded as %+v, want principal %s, grant %s, via %v", call, tc.principal, tc.grant, tc.via)
			}
		})
	}
	// The external account's subject token is the file it names.
	var ea struct {
		CredentialSource struct{ File string } `json:"credential_source"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, emulator.CredentialsExternalAccount))
	if err := json.Unmarshal(b, &ea); err != nil || ea.CredentialSource.File != mustAbs(t, filepath.Join(dir, emulator.CredentialsSubjectToken)) {
		t.Errorf("external account reads %q (%v)", ea.CredentialSource.File, err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The GCE metadata server answers plain HTTP on the same port, only with Metadata-Flavor,
// and its tokens are the default compute service account's.
func TestFrontDoorMetadataServer(t *testing.T) {
	e, _ := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	get := func(path string, flavor bool) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.Addr()+path, nil)
		if flavor {
			req.Header.Set("Metadata-Flavor", "Google")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/computeMetadata/v1/project/project-id", false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without Metadata-Flavor: %s", resp.Status)
	}
	if resp, body := get("/computeMetadata/v1/project/project-id", true); resp.StatusCode != 200 || body != emulator.DemoProject || resp.Header.Get("Metadata-Flavor") != "Google" {
		t.Errorf("project-id: %s %q", resp.Status, body)
	}
	if _, body := get("/computeMetadata/v1/instance/service-accounts/default/email", true); body != e.Identities().MetadataServiceAccount {
		t.Errorf("email %q", body)
	}
	resp, body := get("/computeMetadata/v1/instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/cloud-platform", true)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn < 3500 {
		t.Fatalf("token: %s %q", resp.Status, body)
	}
	// The token works over TLS; an API path over plain HTTP is refused.
	s, err := getService(ctx(t), t, e, auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken(tok.AccessToken)}))
	if err != nil || s == nil {
		t.Fatalf("GetService with the metadata token: %v", err)
	}
	if call := lastCall(t, e); call.Principal != "serviceAccount:"+e.Identities().MetadataServiceAccount || call.Grant != "metadata" {
		t.Errorf("recorded %+v", call)
	}
	if resp, body := get("/compute/v1/projects/demo-project/regions/asia-northeast1/subnetworks", false); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "TLS") {
		t.Errorf("plain-HTTP API call: %s %q", resp.Status, body)
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: string(s), Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// Without a credential, with one the emulator did not issue, or with an expired or revoked
// one, calls fail as Google's do: UNAUTHENTICATED / 401, with the reason when Google gives
// one.
func TestFrontDoorRefusesCalls(t *testing.T) {
	e, dir := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	c := ctx(t)
	_, err := getService(c, t, e, nil)
	if status.Code(err) != codes.Unauthenticated || errorInfoReason(err) != "CREDENTIALS_MISSING" {
		t.Errorf("no credential: %v (%s)", err, errorInfoReason(err))
	}
	_, err = getSubnet(c, t, e, nil)
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 401 || !strings.Contains(ge.Message, "missing required authentication credential") {
		t.Errorf("REST without a credential: %v", err)
	}
	_, err = getService(c, t, e, auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken("ya29.not-issued")}))
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "invalid authentication credentials") {
		t.Errorf("a token not issued: %v", err)
	}
	if call := lastCall(t, e); call.Credential != "invalid" || call.Principal != "" || strings.Contains(call.Error, "ya29") {
		t.Errorf("recorded %+v", call)
	}

	user := detect(t, e, filepath.Join(dir, emulator.CredentialsAuthorizedUser), false)
	if _, err := getService(c, t, e, user); err != nil {
		t.Fatal(err)
	}
	if n := e.ExpireTokens(); n < 1 {
		t.Fatalf("expired %d tokens", n)
	}
	// The client still holds the token it thinks valid: the call is refused as expired.
	_, err = getService(c, t, e, user)
	if status.Code(err) != codes.Unauthenticated || errorInfoReason(err) != "ACCESS_TOKEN_EXPIRED" {
		t.Errorf("expired token: %v (%s)", err, errorInfoReason(err))
	}
	// A fresh client gets a new token; revoking the user fails the refresh itself.
	if _, err := getService(c, t, e, detect(t, e, filepath.Join(dir, emulator.CredentialsAuthorizedUser), false)); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	e.RevokeCredentials("user:" + emulator.FrontDoorUser)
	_, err = detect(t, e, filepath.Join(dir, emulator.CredentialsAuthorizedUser), false).Token(c)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("refresh of a revoked user: %v", err)
	}
	e.RestoreCredentials()

	// The key of a revoked service account no longer signs anything it accepts.
	sa := detect(t, e, filepath.Join(dir, emulator.CredentialsServiceAccount), true)
	e.RevokeCredentials("serviceAccount:" + e.Identities().KeyServiceAccount)
	if _, err := getService(c, t, e, sa); status.Code(err) != codes.Unauthenticated {
		t.Errorf("self-signed JWT of a revoked key: %v", err)
	}
	e.RestoreCredentials()
	if _, err := getService(c, t, e, sa); err != nil {
		t.Errorf("after restore: %v", err)
	}
}

// Impersonating a service account goes through generateAccessToken with the caller's
// token; a service account the caller may not impersonate is PERMISSION_DENIED.
func TestFrontDoorImpersonation(t *testing.T) {
	e, dir := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	id := e.Identities()
	c := ctx(t)
	user := detect(t, e, filepath.Join(dir, emulator.CredentialsAuthorizedUser), false)
	tok, err := user.Token(c)
	if err != nil {
		t.Fatal(err)
	}
	call := func(target string, delegates ...string) (int, string) {
		body, _ := json.Marshal(map[string]any{"scope": []string{"https://www.googleapis.com/auth/cloud-platform"}, "delegates": delegates, "lifetime": "600s"})
		req, _ := http.NewRequest(http.MethodPost, "https://"+e.Addr()+"/v1/projects/-/serviceAccounts/"+target+":generateAccessToken", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+tok.Value)
		resp, err := httpClient(e).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := call(id.TargetServiceAccount, "projects/-/serviceAccounts/"+id.KeyServiceAccount)
	var out struct{ AccessToken, ExpireTime string }
	if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil || out.AccessToken == "" {
		t.Fatalf("generateAccessToken: %d %s", code, body)
	}
	if exp, err := time.Parse(time.RFC3339, out.ExpireTime); err != nil || time.Until(exp) > 600*time.Second || time.Until(exp) < 500*time.Second {
		t.Errorf("expireTime %q for a 600s lifetime", out.ExpireTime)
	}
	if _, err := getService(c, t, e, auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken(out.AccessToken)})); err != nil {
		t.Fatal(err)
	}
	if got := lastCall(t, e); got.Principal != "serviceAccount:"+id.TargetServiceAccount || !slices.Equal(got.Via, []string{"user:" + id.User, id.KeyServiceAccount}) {
		t.Errorf("recorded %+v", got)
	}
	if code, body := call(id.LockedServiceAccount); code != 403 || !strings.Contains(body, "iam.serviceAccounts.getAccessToken") {
		t.Errorf("locked account: %d %s", code, body)
	}
	if code, body := call("nobody@demo-project.iam.gserviceaccount.com"); code != 404 {
		t.Errorf("unknown account: %d %s", code, body)
	}
}

// Tokens live as long as --token-ttl says, so clients refresh them during a long run.
func TestFrontDoorTokenTTL(t *testing.T) {
	e, dir := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true, TokenTTL: 2 * time.Second})
	c := ctx(t)
	user := detect(t, e, filepath.Join(dir, emulator.CredentialsAuthorizedUser), false)
	if _, err := getService(c, t, e, user); err != nil {
		t.Fatal(err)
	}
	issued := e.TokensIssued()
	if len(issued) != 1 || issued[0].Expires.Sub(issued[0].Time) > 2*time.Second {
		t.Fatalf("issued %+v", issued)
	}
	// Once it expired the library fetches another before the next call.
	time.Sleep(time.Until(issued[0].Expires) + 10*time.Millisecond)
	if _, err := getService(c, t, e, user); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := len(e.TokensIssued()); n < 2 {
		t.Errorf("%d tokens issued, want a refresh", n)
	}
}

// Plain gRPC on the TLS port is refused, and TLS without --require-auth still serves calls
// without a credential (recording them as such).
func TestFrontDoorTransport(t *testing.T) {
	e, _ := frontDoor(t, emulator.FrontDoorOptions{})
	c := ctx(t)
	plain, err := run.NewServicesClient(c, emulator.GRPCClientOptions(e.Addr())...)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	short, cancel := context.WithTimeout(c, 5*time.Second)
	defer cancel()
	if _, err := plain.GetService(short, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService}); err == nil {
		t.Error("plain gRPC on the front door's port was served")
	}
	vpc, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer vpc.Close()
	if _, err := vpc.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: loc + "/connectors/" + emulator.DemoConnector}); err != nil {
		t.Fatalf("without --require-auth: %v", err)
	}
	if call := lastCall(t, e); call.Credential != "none" || call.Principal != "" {
		t.Errorf("recorded %+v", call)
	}
	if _, err := computeService(t, e, nil).Networks.Get(emulator.DemoProject, emulator.DemoNetwork).Context(c).Do(); err != nil {
		t.Fatalf("REST without --require-auth: %v", err)
	}
	// A client that does not trust the CA fails the handshake.
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: nil}}}).Get("https://" + e.Addr() + "/compute/v1/projects/demo-project/global/networks")
	var ue *url.Error
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted: %v", err)
	}
	// The control surface answers plain HTTP.
	resp, err := http.Get("http://" + e.Addr() + emulator.FrontDoorControlPrefix + "calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var calls []emulator.AuthCall
	if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil || len(calls) < 2 {
		t.Errorf("control calls: %v %+v", err, calls)
	}
}
