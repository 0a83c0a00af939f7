package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/auth"
	"cloud.google.com/go/iam/apiv1/iampb"
	run "cloud.google.com/go/run/apiv2"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	runrest "google.golang.org/api/run/v2"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// subnetPerms are asked of the demo's Direct VPC egress subnet.
var subnetPerms = []string{"compute.subnetworks.get", "compute.subnetworks.use", "compute.subnetworks.setIamPolicy"}

// iamCaller is one identity's clients: Run over gRPC, Compute and Run over REST, Cloud Asset.
type iamCaller struct {
	run     *run.ServicesClient
	compute *compute.Service
	runREST *runrest.Service
	asset   *asset.Client
}

func newIAMCaller(t *testing.T, e *emulator.Emulator, grpcCreds, restCreds *auth.Credentials) *iamCaller {
	t.Helper()
	c := context.Background()
	svc, err := run.NewServicesClient(c, grpcOpts(e, grpcCreds)...)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := asset.NewClient(c, grpcOpts(e, grpcCreds)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(); _ = ac.Close() })
	var rt http.RoundTripper = &http.Transport{TLSClientConfig: e.TLSConfig()}
	if restCreds != nil {
		if rt, err = htransport.NewTransport(c, rt, option.WithAuthCredentials(restCreds)); err != nil {
			t.Fatal(err)
		}
	}
	rr, err := runrest.NewService(c, option.WithHTTPClient(&http.Client{Transport: rt}), option.WithEndpoint("https://"+e.Addr()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return &iamCaller{run: svc, compute: computeService(t, e, restCreds), runREST: rr, asset: ac}
}

func (ic *iamCaller) subnetPermissions(c context.Context, t *testing.T) []string {
	t.Helper()
	resp, err := ic.compute.Subnetworks.TestIamPermissions(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet,
		&compute.TestPermissionsRequest{Permissions: subnetPerms}).Context(c).Do()
	if err != nil {
		t.Fatalf("subnetworks.testIamPermissions: %v", err)
	}
	return resp.Permissions
}

var runPerms = []string{"run.services.get", "run.services.update", "run.services.setIamPolicy"}

func (ic *iamCaller) runPermissions(c context.Context, t *testing.T) (grpc, rest []string) {
	t.Helper()
	name := loc + "/services/" + emulator.DemoService
	resp, err := ic.run.TestIamPermissions(c, &iampb.TestIamPermissionsRequest{Resource: name, Permissions: runPerms})
	if err != nil {
		t.Fatalf("Run TestIamPermissions: %v", err)
	}
	rr, err := ic.runREST.Projects.Locations.Services.TestIamPermissions(name, &runrest.GoogleIamV1TestIamPermissionsRequest{Permissions: runPerms}).Context(c).Do()
	if err != nil {
		t.Fatalf("Run REST testIamPermissions: %v", err)
	}
	return resp.GetPermissions(), rr.Permissions
}

func (ic *iamCaller) search(c context.Context) error {
	_, err := ic.asset.SearchAllResources(c, &assetpb.SearchAllResourcesRequest{Scope: "projects/" + emulator.DemoProject}).Next()
	if errors.Is(err, iterator.Done) {
		return nil
	}
	return err
}

// With a front door, calls run as the identity whose credential they carry: the issued
// identities own the demo project (its policy says so), so every permission asked is theirs;
// once the service account's Owner binding is revoked, it holds only what is left
// (networkViewer here), its policy changes are refused (403, PERMISSION_DENIED) and so is
// its asset search, while the user, still an owner, keeps everything.
func TestFrontDoorIAM(t *testing.T) {
	e, dir := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	id := e.Identities()
	c := ctx(t)
	saFile, userFile := filepath.Join(dir, emulator.CredentialsServiceAccount), filepath.Join(dir, emulator.CredentialsAuthorizedUser)
	sa := newIAMCaller(t, e, detect(t, e, saFile, true), detect(t, e, saFile, false))
	user := newIAMCaller(t, e, detect(t, e, userFile, false), detect(t, e, userFile, false))
	saMember := "serviceAccount:" + id.KeyServiceAccount

	pol := e.IAMPolicy("projects/" + emulator.DemoProject)
	for _, m := range []string{saMember, "serviceAccount:" + id.TargetServiceAccount, "user:" + id.User, id.WIFPrincipal} {
		if !pol.Has("roles/owner", m) {
			t.Errorf("the demo project's policy does not make %s an owner: %+v", m, pol.Bindings)
		}
	}
	if !pol.Has("roles/editor", "serviceAccount:"+id.MetadataServiceAccount) || e.HasPermission("serviceAccount:"+id.LockedServiceAccount, "projects/"+emulator.DemoProject, "run.services.get") {
		t.Errorf("metadata and locked service accounts: %+v", pol.Bindings)
	}

	for name, ic := range map[string]*iamCaller{"service account": sa, "user": user} {
		if got := ic.subnetPermissions(c, t); !slices.Equal(got, subnetPerms) {
			t.Errorf("%s, owner: subnet permissions %v, want %v", name, got, subnetPerms)
		}
		if g, r := ic.runPermissions(c, t); !slices.Equal(g, runPerms) || !slices.Equal(r, runPerms) {
			t.Errorf("%s, owner: run permissions %v (REST %v), want %v", name, g, r, runPerms)
		}
		if err := ic.search(c); err != nil {
			t.Errorf("%s, owner: asset search: %v", name, err)
		}
	}

	if err := e.Revoke("projects/"+emulator.DemoProject, "roles/owner", saMember); err != nil {
		t.Fatal(err)
	}
	if err := e.Grant("projects/"+emulator.DemoProject, "roles/compute.networkViewer", saMember); err != nil {
		t.Fatal(err)
	}
	if got := sa.subnetPermissions(c, t); !slices.Equal(got, []string{"compute.subnetworks.get"}) {
		t.Errorf("after the revoke: subnet permissions %v, want only compute.subnetworks.get", got)
	}
	if g, r := sa.runPermissions(c, t); len(g) != 0 || len(r) != 0 {
		t.Errorf("after the revoke: run permissions %v (REST %v), want none", g, r)
	}
	_, err := sa.compute.Subnetworks.GetIamPolicy(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet).Context(c).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden {
		t.Errorf("getIamPolicy without the permission: %v", err)
	}
	_, err = sa.compute.Subnetworks.SetIamPolicy(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet, &compute.RegionSetPolicyRequest{
		Policy: &compute.Policy{Bindings: []*compute.Binding{{Role: "roles/compute.networkUser", Members: []string{saMember}}}},
	}).Context(c).Do()
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden || !strings.Contains(ge.Message, "compute.subnetworks.setIamPolicy") {
		t.Errorf("setIamPolicy without the permission: %v", err)
	}
	if _, err := sa.run.SetIamPolicy(c, &iampb.SetIamPolicyRequest{Resource: loc + "/services/" + emulator.DemoService, Policy: &iampb.Policy{}}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Run SetIamPolicy without the permission: %v", err)
	}
	if err := sa.search(c); status.Code(err) != codes.PermissionDenied {
		t.Errorf("asset search without the permission: %v", err)
	}
	// The user, still an owner, is unaffected, and may set the policy the account could not.
	if got := user.subnetPermissions(c, t); !slices.Equal(got, subnetPerms) {
		t.Errorf("user after the account's revoke: %v", got)
	}
	cur, err := user.compute.Subnetworks.GetIamPolicy(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	cur.Bindings = append(cur.Bindings, &compute.Binding{Role: "roles/compute.networkUser", Members: []string{saMember}})
	if _, err := user.compute.Subnetworks.SetIamPolicy(emulator.DemoProject, emulator.DemoRegion, emulator.DemoDirectSubnet,
		&compute.RegionSetPolicyRequest{Policy: cur}).Context(c).Do(); err != nil {
		t.Fatalf("the owner's setIamPolicy: %v", err)
	}
	if got := sa.subnetPermissions(c, t); !slices.Equal(got, []string{"compute.subnetworks.get", "compute.subnetworks.use"}) {
		t.Errorf("after networkUser on the subnet: %v", got)
	}
}

// The metadata server's account, the Compute Engine default service account, is an Editor:
// everything but policy changes.
func TestFrontDoorMetadataAccountIsEditor(t *testing.T) {
	e, _ := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.Addr()+"/computeMetadata/v1/instance/service-accounts/default/token", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if b, _ := io.ReadAll(resp.Body); json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("metadata token: %s", b)
	}
	creds := auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken(tok.AccessToken)})
	ic := newIAMCaller(t, e, creds, creds)
	if got := ic.subnetPermissions(ctx(t), t); !slices.Equal(got, subnetPerms[:2]) {
		t.Errorf("editor: subnet permissions %v, want %v", got, subnetPerms[:2])
	}
}

// A REST call of a gRPC API is checked and recorded once, by the HTTP layer; the gRPC
// server takes its caller from the in-process connection alone. A network client that sends
// the metadata the in-process connection uses is authenticated as any other: it cannot claim
// another identity, nor skip the credential check.
func TestFrontDoorCallerNotForwardedFromNetwork(t *testing.T) {
	e, dir := frontDoor(t, emulator.FrontDoorOptions{RequireAuth: true})
	id := e.Identities()
	c := ctx(t)
	saFile := filepath.Join(dir, emulator.CredentialsServiceAccount)
	sa := newIAMCaller(t, e, detect(t, e, saFile, true), detect(t, e, saFile, false))
	if err := e.Revoke("projects/"+emulator.DemoProject, "roles/owner", "serviceAccount:"+id.KeyServiceAccount); err != nil {
		t.Fatal(err)
	}

	e.ResetAuthCalls()
	if _, r := sa.runPermissions(c, t); len(r) != 0 {
		t.Errorf("REST run permissions after the revoke: %v", r)
	}
	var rest []emulator.AuthCall
	for _, call := range e.AuthCalls() {
		if !strings.HasPrefix(call.Method, "google.") {
			rest = append(rest, call)
		}
	}
	calls := e.AuthCalls()
	if len(calls) != 2 || len(rest) != 1 || !strings.HasPrefix(rest[0].Method, "POST /v2/projects/") || rest[0].Principal != "serviceAccount:"+id.KeyServiceAccount {
		t.Errorf("one gRPC and one REST call recorded %d calls: %+v", len(calls), calls)
	}

	// The metadata key the in-process connection carries the caller under.
	const key = "x-runnet-emulator-checked-caller"
	name := loc + "/services/" + emulator.DemoService
	claim := metadata.AppendToOutgoingContext(c, key, "user:"+id.User)
	resp, err := sa.run.TestIamPermissions(claim, &iampb.TestIamPermissionsRequest{Resource: name, Permissions: runPerms})
	if err != nil || len(resp.GetPermissions()) != 0 {
		t.Errorf("a network client claiming the owner's identity got %v (%v)", resp.GetPermissions(), err)
	}
	if last := lastCall(t, e); last.Principal != "serviceAccount:"+id.KeyServiceAccount {
		t.Errorf("recorded %+v", last)
	}
	anon := newIAMCaller(t, e, nil, nil)
	for _, v := range []string{"-", "user:" + id.User} {
		_, err := anon.run.TestIamPermissions(metadata.AppendToOutgoingContext(c, key, v), &iampb.TestIamPermissionsRequest{Resource: name, Permissions: runPerms})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("no credential, %s=%q: %v, want UNAUTHENTICATED", key, v, err)
		}
	}
	// Over REST the header is not passed on at all.
	req, _ := http.NewRequest(http.MethodGet, "https://"+e.Addr()+"/v2/"+name, nil)
	req.Header.Set(key, "-")
	hr, err := httpClient(e).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != http.StatusUnauthorized {
		t.Errorf("REST without a credential, with %s: %s", key, hr.Status)
	}
}
