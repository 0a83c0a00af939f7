package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// knative sends a Knative-style API request to the emulator as gcloud does: on the regional
// host (REGION-HOST) when region is set.
func knative(t *testing.T, e *emulator.Emulator, method, path, region string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, "http://"+e.Addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if region != "" {
		req.Host = region + "-run.googleapis.com"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func TestKnativeServices(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	const ns = "/apis/serving.knative.dev/v1/namespaces/" + emulator.DemoProject
	r := emulator.DemoRegion

	code, list := knative(t, e, "GET", "/v1/projects/"+emulator.DemoProject+"/locations/-/services", "", nil)
	items, _ := list["items"].([]any)
	if code != 200 || list["kind"] != "ServiceList" || len(items) != 1 {
		t.Fatalf("list over every region = %d %v", code, list)
	}
	code, list = knative(t, e, "GET", ns+"/services", r, nil)
	if items, _ := list["items"].([]any); code != 200 || len(items) != 1 {
		t.Fatalf("regional list = %d %v", code, list)
	}

	code, svc := knative(t, e, "GET", ns+"/services/"+emulator.DemoService, r, nil)
	if code != 200 || svc["kind"] != "Service" || at(svc, "metadata", "generation") != float64(1) ||
		at(svc, "metadata", "labels", "cloud.googleapis.com/location") != r {
		t.Fatalf("get = %d %v", code, svc)
	}
	ann := at(svc, "spec", "template", "metadata", "annotations").(map[string]any)
	if ann["run.googleapis.com/vpc-access-connector"] != loc+"/connectors/"+emulator.DemoConnector || ann["run.googleapis.com/vpc-access-egress"] != "private-ranges-only" {
		t.Errorf("template annotations = %v", ann)
	}
	if at(svc, "status", "conditions").([]any)[0].(map[string]any)["type"] != "Ready" || at(svc, "status", "latestReadyRevisionName") == "" {
		t.Errorf("status = %v", svc["status"])
	}
	rev := at(svc, "status", "latestReadyRevisionName").(string)
	code, revision := knative(t, e, "GET", ns+"/revisions/"+rev, r, nil)
	if code != 200 || revision["kind"] != "Revision" || at(revision, "metadata", "labels", "serving.knative.dev/service") != emulator.DemoService ||
		at(revision, "metadata", "annotations", "run.googleapis.com/vpc-access-connector") != loc+"/connectors/"+emulator.DemoConnector {
		t.Errorf("revision = %d %v", code, revision)
	}

	// replaceService: connector -> Direct VPC, as gcloud run services update --network --subnet
	// --clear-vpc-connector sends it (the whole service back, annotations changed).
	delete(ann, "run.googleapis.com/vpc-access-connector")
	ann["run.googleapis.com/network-interfaces"] = `[{"network": "run-vpc", "subnetwork": "run-direct-vpc-egress"}]`
	ann["run.googleapis.com/vpc-access-egress"] = "all-traffic"
	code, upd := knative(t, e, "PUT", ns+"/services/"+emulator.DemoService, r, svc)
	if code != 200 || at(upd, "metadata", "generation") != float64(2) {
		t.Fatalf("replace = %d %v", code, upd)
	}
	c := ctx(t)
	sc, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for {
		s, err := sc.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService})
		if err != nil {
			t.Fatal(err)
		}
		if !s.GetReconciling() {
			va := s.GetTemplate().GetVpcAccess()
			if va.GetConnector() != "" || len(va.GetNetworkInterfaces()) != 1 || va.GetEgress() != runpb.VpcAccess_ALL_TRAFFIC {
				t.Errorf("vpcAccess after replace = %v", va)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, svc = knative(t, e, "GET", ns+"/services/"+emulator.DemoService, r, nil)
	if at(svc, "status", "observedGeneration") != float64(2) || at(svc, "status", "conditions").([]any)[0].(map[string]any)["status"] != "True" {
		t.Errorf("status after the update = %v", svc["status"])
	}

	// Errors: Google's JSON error.
	for _, tc := range []struct {
		method, path, region string
		code                 int
	}{
		{"GET", ns + "/services/nope", r, 404},
		{"GET", ns + "/services/" + emulator.DemoService, "", 400}, // the service's region is unknown on the global host
		{"DELETE", ns + "/services/" + emulator.DemoService, r, 404},
		{"GET", ns + "/configurations", r, 404},
	} {
		code, body := knative(t, e, tc.method, tc.path, tc.region, nil)
		if code != tc.code || at(body, "error", "code") != float64(tc.code) {
			t.Errorf("%s %s = %d %v, want %d", tc.method, tc.path, code, body, tc.code)
		}
	}
	at(svc, "spec", "template", "metadata", "annotations").(map[string]any)["run.googleapis.com/vpc-access-egress"] = "everything"
	if code, body := knative(t, e, "PUT", ns+"/services/"+emulator.DemoService, r, svc); code != 400 {
		t.Errorf("replace with a bad egress = %d %v", code, body)
	}
}
