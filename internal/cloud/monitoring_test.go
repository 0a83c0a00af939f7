package cloud

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// Monitoring (gRPC), the Billing Catalog (REST) and VPC Access's REST surface follow gcloud's
// endpoint overrides and carry the credentials of Application Default Credentials: against
// the emulator's front door, which refuses anything else, each call succeeds and comes from
// the key's service account (a self-signed JWT over gRPC, an access token over REST) or the
// user.
func TestLifeClientsThroughFrontDoor(t *testing.T) {
	dir := t.TempDir()
	e, err := emulator.New(emulator.Options{Seed: emulator.SeedDemo, LRODuration: 10 * time.Millisecond,
		FrontDoor: &emulator.FrontDoorOptions{RequireAuth: true, CredentialsDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	base := "https://" + e.Addr() + "/"
	ends, err := EndpointsFromOverrides(Overrides{Run: base, VPCAccess: base, Compute: base, Monitoring: base, CloudBilling: base})
	if err != nil {
		t.Fatal(err)
	}
	id := e.Identities()
	for file, principal := range map[string]string{
		emulator.CredentialsServiceAccount: "serviceAccount:" + id.KeyServiceAccount,
		emulator.CredentialsAuthorizedUser: "user:" + id.User,
	} {
		c := New(t.Context(), Config{Endpoints: ends, CredentialsFile: filepath.Join(dir, file), RootCAs: e.CAPool()})
		mon, err := c.Monitoring()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		it := mon.ListTimeSeries(t.Context(), &monitoringpb.ListTimeSeriesRequest{
			Name:     "projects/" + emulator.DemoProject,
			Filter:   `metric.type = "vpcaccess.googleapis.com/connector/instances"`,
			Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)},
			View:     monitoringpb.ListTimeSeriesRequest_HEADERS,
		})
		if _, err := it.Next(); err != nil && err != iterator.Done {
			t.Fatalf("%s: ListTimeSeries: %v", file, err)
		}
		bill, err := c.CloudBilling()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bill.Services.List().PageSize(10).Context(t.Context()).Do(); err != nil {
			t.Fatalf("%s: services.list: %v", file, err)
		}
		vpc, err := c.VPCAccessREST()
		if err != nil {
			t.Fatal(err)
		}
		name := "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion + "/connectors/" + emulator.DemoConnector
		if _, err := vpc.Projects.Locations.Connectors.Get(name).Context(t.Context()).Do(); err != nil {
			t.Fatalf("%s: connectors.get over REST: %v", file, err)
		}
		_ = c.Close()
		calls := e.AuthCalls()
		e.ResetAuthCalls()
		var methods []string
		for _, call := range calls {
			if strings.HasSuffix(call.Method, ":generateAccessToken") {
				continue
			}
			methods = append(methods, call.Method)
			if call.Principal != principal || call.Credential == "none" || call.Credential == "invalid" {
				t.Errorf("%s: call %s by %q with %s, want %s", file, call.Method, call.Principal, call.Credential, principal)
			}
		}
		if len(methods) < 3 || !slices.ContainsFunc(methods, func(m string) bool { return strings.Contains(m, "ListTimeSeries") }) {
			t.Errorf("%s: the front door saw %v; want the Monitoring, Billing and VPC Access calls", file, methods)
		}
	}
}
