package cloud

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Overrides map to what each client needs, as gcloud maps them: the host and port (443 by
// default) for the gRPC APIs, the URL as given or with the API's base path for REST.
func TestEndpointsFromOverrides(t *testing.T) {
	for _, tc := range []struct {
		run, vpc, compute, iam, mon, bill string
		usage, asset, crm                 string
		want                              Endpoints
	}{
		{want: Endpoints{}},
		{
			run: "https://run.googleapis.com/", vpc: "https://vpcaccess.googleapis.com/",
			compute: "https://compute.googleapis.com/compute/v1/", iam: "https://iamcredentials.googleapis.com/",
			mon: "https://monitoring.googleapis.com/", bill: "https://cloudbilling.googleapis.com/",
			want: Endpoints{Run: "run.googleapis.com:443", VPCAccess: "vpcaccess.googleapis.com:443", VPCAccessREST: "https://vpcaccess.googleapis.com/",
				Compute: "https://compute.googleapis.com/compute/v1/", IAMCredentials: "https://iamcredentials.googleapis.com/",
				Monitoring: "monitoring.googleapis.com:443", CloudBilling: "https://cloudbilling.googleapis.com/"},
		},
		{
			// Private Service Connect endpoints, and the emulator: a bare host for every API.
			run: "https://run-psc.p.googleapis.com/", vpc: "https://127.0.0.1:8443/", compute: "https://127.0.0.1:8443/", iam: "https://127.0.0.1:8443",
			mon: "https://127.0.0.1:8443/", bill: "https://127.0.0.1:8443",
			usage: "https://127.0.0.1:8443/", asset: "https://127.0.0.1:8443/", crm: "https://127.0.0.1:8443",
			want: Endpoints{Run: "run-psc.p.googleapis.com:443", VPCAccess: "127.0.0.1:8443", VPCAccessREST: "https://127.0.0.1:8443/",
				Compute: "https://127.0.0.1:8443/compute/v1/", IAMCredentials: "https://127.0.0.1:8443/",
				Monitoring: "127.0.0.1:8443", CloudBilling: "https://127.0.0.1:8443/",
				ServiceUsage: "https://127.0.0.1:8443/", CloudAsset: "127.0.0.1:8443", ResourceManager: "https://127.0.0.1:8443/"},
		},
		{
			// gRPC ignores a path; REST keeps one (without a trailing slash, as if it had one).
			run: "https://us-central1-run.googleapis.com/v2/", compute: "https://www.googleapis.com/compute/beta", vpc: "http://[::1]:9000/",
			want: Endpoints{Run: "us-central1-run.googleapis.com:443", VPCAccess: "[::1]:9000", VPCAccessREST: "http://[::1]:9000/", Compute: "https://www.googleapis.com/compute/beta/"},
		},
	} {
		o := Overrides{Run: tc.run, VPCAccess: tc.vpc, Compute: tc.compute, IAMCredentials: tc.iam, Monitoring: tc.mon, CloudBilling: tc.bill,
			ServiceUsage: tc.usage, CloudAsset: tc.asset, ResourceManager: tc.crm}
		got, err := EndpointsFromOverrides(o)
		if err != nil || got != tc.want {
			t.Errorf("EndpointsFromOverrides(%+v) = %+v, %v; want %+v", o, got, err, tc.want)
		}
	}
	for _, bad := range []string{"run.googleapis.com", "127.0.0.1:8443", "grpc://h/", "https:///x"} {
		if _, err := EndpointsFromOverrides(Overrides{Run: bad}); err == nil || !strings.Contains(err.Error(), "api_endpoint_overrides/run") {
			t.Errorf("run override %q: %v", bad, err)
		}
		if _, err := EndpointsFromOverrides(Overrides{Compute: bad}); err == nil || !strings.Contains(err.Error(), "api_endpoint_overrides/compute") {
			t.Errorf("compute override %q: %v", bad, err)
		}
		if _, err := EndpointsFromOverrides(Overrides{Monitoring: bad}); err == nil || !strings.Contains(err.Error(), "api_endpoint_overrides/monitoring") {
			t.Errorf("monitoring override %q: %v", bad, err)
		}
		if _, err := EndpointsFromOverrides(Overrides{CloudBilling: bad}); err == nil || !strings.Contains(err.Error(), "api_endpoint_overrides/cloudbilling") {
			t.Errorf("cloudbilling override %q: %v", bad, err)
		}
		if _, err := EndpointsFromOverrides(Overrides{CloudAsset: bad}); err == nil || !strings.Contains(err.Error(), "api_endpoint_overrides/cloudasset") {
			t.Errorf("cloudasset override %q: %v", bad, err)
		}
		if _, err := EndpointsFromOverrides(Overrides{ResourceManager: bad}); err == nil || !strings.Contains(err.Error(), "api_endpoint_overrides/cloudresourcemanager") {
			t.Errorf("cloudresourcemanager override %q: %v", bad, err)
		}
	}
}

// Requests for IAM Credentials go to its override, path prefix kept; others are untouched.
func TestRedirectTransport(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { got = append(got, r.Host+r.URL.Path) }))
	defer srv.Close()
	to, _ := url.Parse(srv.URL + "/prefix/")
	rt := &redirectTransport{from: "iamcredentials.googleapis.com", to: to, next: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodPost, "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateAccessToken", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := strings.TrimPrefix(srv.URL, "http://") + "/prefix/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateAccessToken"
	if len(got) != 1 || got[0] != want {
		t.Errorf("reached %v, want %s", got, want)
	}
	if req.URL.Host != "iamcredentials.googleapis.com" {
		t.Errorf("the caller's request was changed: %s", req.URL)
	}
}

// gcloud's billing/quota_project: a project is sent as is; CURRENT_PROJECT is the command's
// project for user credentials only; LEGACY and nothing send nothing of runnet's own.
func TestQuotaProject(t *testing.T) {
	for _, tc := range []struct {
		setting, kind, impersonate, want string
	}{
		{"", "authorized_user", "", ""},
		{"LEGACY", "authorized_user", "", ""},
		{"billing-proj", "service_account", "", "billing-proj"},
		{"CURRENT_PROJECT", "authorized_user", "", "p1"},
		{"CURRENT_PROJECT_WITH_FALLBACK", "authorized_user", "", "p1"},
		{"CURRENT_PROJECT", "service_account", "", ""},
		{"CURRENT_PROJECT", "metadata", "", ""},
		{"CURRENT_PROJECT", "authorized_user", "sa@p1.iam.gserviceaccount.com", ""},
	} {
		c := New(t.Context(), Config{QuotaProject: tc.setting, Project: "p1", Impersonate: tc.impersonate})
		if got := c.quotaProject(&authState{kind: tc.kind}); got != tc.want {
			t.Errorf("%+v: %q", tc, got)
		}
	}
}
