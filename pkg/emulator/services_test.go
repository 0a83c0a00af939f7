package emulator_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"github.com/googleapis/gax-go/v2/apierror"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	vpcrest "google.golang.org/api/vpcaccess/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// disabledMessage is Google's message for a disabled API (world/services.go has its source).
func disabledMessage(title, service, project string) string {
	num := strconv.FormatUint(emulator.ProjectNumber(project), 10)
	return title + " has not been used in project " + num + " before or it is disabled. Enable it by visiting " +
		"https://console.developers.google.com/apis/api/" + service + "/overview?project=" + num +
		" then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
}

// TestDisabledComputeAnswersAccessNotConfigured: with the Compute Engine API disabled in the
// host project, every Compute call addressed to it answers 403 accessNotConfigured through
// the real client, and calls addressed to other projects are served.
func TestDisabledComputeAnswersAccessNotConfigured(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	c := ctx(t)
	if err := e.DisableService(host, emulator.ServiceCompute); err != nil {
		t.Fatal(err)
	}
	if e.ServiceEnabled(host, emulator.ServiceCompute) || !e.ServiceEnabled("team-a", emulator.ServiceCompute) {
		t.Fatal("enablement not per project")
	}
	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	want := disabledMessage("Compute Engine API", emulator.ServiceCompute, host)
	for name, call := range map[string]func() error{
		"getXpnResources": func() error { _, err := cs.Projects.GetXpnResources(host).Context(c).Do(); return err },
		"subnetworks.list": func() error {
			_, err := cs.Subnetworks.List(host, svcRegion).Context(c).Do()
			return err
		},
		"networks.insert": func() error {
			_, err := cs.Networks.Insert(host, &compute.Network{Name: "n2"}).Context(c).Do()
			return err
		},
	} {
		err := call()
		var ge *googleapi.Error
		if !errors.As(err, &ge) {
			t.Fatalf("%s: %v, want a googleapi.Error", name, err)
		}
		if ge.Code != 403 || ge.Message != want || len(ge.Errors) != 1 || ge.Errors[0].Reason != "accessNotConfigured" || ge.Errors[0].Message != want {
			t.Fatalf("%s: %d %q %+v", name, ge.Code, ge.Message, ge.Errors)
		}
		// The client keeps the details as JSON (its error parser refuses Compute's errors[]
		// field, so they are not parsed into protos, as with the real API).
		info := errorInfo(ge.Details)
		meta, _ := info["metadata"].(map[string]any)
		if info["reason"] != "SERVICE_DISABLED" || info["domain"] != "googleapis.com" || meta["service"] != emulator.ServiceCompute ||
			meta["consumer"] != "projects/"+strconv.FormatUint(emulator.ProjectNumber(host), 10) {
			t.Fatalf("%s: details %v", name, ge.Details)
		}
	}
	// Another project's calls are served; a project named by number is the same project.
	if _, err := cs.Subnetworks.List("team-a", svcRegion).Context(c).Do(); err != nil {
		t.Fatal(err)
	}
	if err := e.EnableService(strconv.FormatUint(emulator.ProjectNumber(host), 10), emulator.ServiceCompute); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Projects.GetXpnResources(host).Context(c).Do(); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
}

// TestDisabledGRPCAPIsAnswerServiceDisabled: Run v2 and VPC Access v1, disabled in a
// project, refuse its calls over gRPC (PERMISSION_DENIED with ErrorInfo SERVICE_DISABLED) and
// over REST (403, the same details), and serve the other projects.
func TestDisabledGRPCAPIsAnswerServiceDisabled(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	c := ctx(t)
	for _, d := range [][2]string{{"team-a", emulator.ServiceRun}, {host, emulator.ServiceVPCAccess}} {
		if err := e.DisableService(d[0], d[1]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, err error, title, service, project string) {
		t.Helper()
		st, ok := status.FromError(err)
		if !ok || st.Code() != codes.PermissionDenied || st.Message() != disabledMessage(title, service, project) {
			t.Fatalf("%s: %v", what, err)
		}
		var info *errdetails.ErrorInfo
		var help *errdetails.Help
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				info = d
			case *errdetails.Help:
				help = d
			}
		}
		num := strconv.FormatUint(emulator.ProjectNumber(project), 10)
		if info.GetReason() != "SERVICE_DISABLED" || info.GetDomain() != "googleapis.com" ||
			info.GetMetadata()["service"] != service || info.GetMetadata()["consumer"] != "projects/"+num {
			t.Fatalf("%s: ErrorInfo %v", what, info)
		}
		if len(help.GetLinks()) != 1 || help.GetLinks()[0].GetUrl() != "https://console.developers.google.com/apis/api/"+service+"/overview?project="+num {
			t.Fatalf("%s: Help %v", what, help)
		}
	}
	svc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	_, err = svc.ListServices(c, &runpb.ListServicesRequest{Parent: "projects/team-a/locations/" + svcRegion}).Next()
	check("ListServices team-a", err, "Cloud Run Admin API", emulator.ServiceRun, "team-a")
	_, err = svc.GetService(c, &runpb.GetServiceRequest{Name: "projects/team-a/locations/" + svcRegion + "/services/api"})
	check("GetService team-a", err, "Cloud Run Admin API", emulator.ServiceRun, "team-a")
	_, err = svc.UpdateService(c, &runpb.UpdateServiceRequest{Service: &runpb.Service{Name: "projects/team-a/locations/" + svcRegion + "/services/api"}})
	check("UpdateService team-a", err, "Cloud Run Admin API", emulator.ServiceRun, "team-a")
	if _, err := svc.ListServices(c, &runpb.ListServicesRequest{Parent: "projects/team-b/locations/" + svcRegion}).Next(); err != nil {
		t.Fatalf("team-b: %v", err)
	}

	conns, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer conns.Close()
	_, err = conns.GetConnector(c, &vpcaccesspb.GetConnectorRequest{Name: emulator.SharedVPCConnectorName()})
	check("GetConnector", err, "Serverless VPC Access API", emulator.ServiceVPCAccess, host)
	if _, err := conns.ListConnectors(c, &vpcaccesspb.ListConnectorsRequest{Parent: "projects/team-a/locations/" + svcRegion}).Next(); err != nil && !errors.Is(err, iterator.Done) {
		t.Fatalf("team-a connectors: %v", err)
	}

	// Over REST, the same refusal in Google's JSON error.
	rest, err := vpcrest.NewService(c, e.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rest.Projects.Locations.Connectors.List("projects/" + host + "/locations/" + svcRegion).Context(c).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 || ge.Message != disabledMessage("Serverless VPC Access API", emulator.ServiceVPCAccess, host) {
		t.Fatalf("REST list: %v", err)
	}
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.Reason() != "SERVICE_DISABLED" || ae.Metadata()["service"] != emulator.ServiceVPCAccess || ae.Details().Help == nil {
		t.Fatalf("REST list: ErrorInfo of %v", err)
	}
}

// TestServicesControlEndpoints disables and enables an API over the HTTP control surface,
// and the state keeps it.
func TestServicesControlEndpoints(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	do := controlCaller(t, e)
	if code, out := do("POST", "services/disable", `{"project":"team-b","service":"compute.googleapis.com"}`); code != 200 {
		t.Fatalf("disable: %d %s", code, out)
	}
	code, out := do("GET", "services?project=team-b", "")
	var got struct{ Disabled []string }
	if code != 200 || json.Unmarshal([]byte(out), &got) != nil || len(got.Disabled) != 1 || got.Disabled[0] != emulator.ServiceCompute {
		t.Fatalf("list: %d %s", code, out)
	}
	if e.ServiceEnabled("team-b", emulator.ServiceCompute) {
		t.Fatal("still enabled")
	}
	st, err := e.State()
	if err != nil || !strings.Contains(string(st), `"disabledServices"`) {
		t.Fatalf("state does not keep it: %v", err)
	}
	if code, out := do("POST", "services/disable", `{"project":"team-b","service":"compute"}`); code != 400 {
		t.Fatalf("bad service name: %d %s", code, out)
	}
	if code, out := do("POST", "services/enable", `{"project":"team-b","service":"compute.googleapis.com"}`); code != 200 || !e.ServiceEnabled("team-b", emulator.ServiceCompute) {
		t.Fatalf("enable: %d %s", code, out)
	}
}

// errorInfo returns the google.rpc.ErrorInfo among the JSON details of a REST error.
func errorInfo(details []any) map[string]any {
	for _, d := range details {
		if m, ok := d.(map[string]any); ok && m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			return m
		}
	}
	return nil
}

// Cloud Monitoring and Cloud Asset, disabled in a project, refuse the calls that name it (a
// project named by number too).
func TestDisabledMonitoringAndAsset(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedSharedVPC})
	c := ctx(t)
	for _, s := range []string{emulator.ServiceMonitoring, emulator.ServiceAsset} {
		if err := e.DisableService("team-a", s); err != nil {
			t.Fatal(err)
		}
	}
	mc, err := monitoring.NewMetricClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	now := time.Now()
	req := func(p string) *monitoringpb.ListTimeSeriesRequest {
		return &monitoringpb.ListTimeSeriesRequest{Name: "projects/" + p, Filter: `metric.type = "run.googleapis.com/request_count"`,
			Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)}}
	}
	_, err = mc.ListTimeSeries(c, req("team-a")).Next()
	if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != disabledMessage("Cloud Monitoring API", emulator.ServiceMonitoring, "team-a") {
		t.Fatalf("monitoring team-a: %v", err)
	}
	if _, err := mc.ListTimeSeries(c, req("team-b")).Next(); err != nil && !errors.Is(err, iterator.Done) {
		t.Fatalf("monitoring team-b: %v", err)
	}
	ac, err := asset.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	num := strconv.FormatUint(emulator.ProjectNumber("team-a"), 10)
	_, err = ac.SearchAllResources(c, &assetpb.SearchAllResourcesRequest{Scope: "projects/" + num}).Next()
	if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != disabledMessage("Cloud Asset API", emulator.ServiceAsset, "team-a") {
		t.Fatalf("asset team-a: %v", err)
	}
}
