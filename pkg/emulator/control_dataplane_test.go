package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The data plane's control endpoints, over HTTP as a test in another language would use them.
func TestDataplaneControlEndpoints(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedDemo})
	do := controlCaller(t, e)
	ok := func(method, path, body string) string {
		t.Helper()
		code, out := do(method, path, body)
		if code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, code, out)
		}
		return out
	}
	ok("POST", "destinations", `{"name":"partner-db","ip":"192.168.10.5","port":5432,"project":"demo-project","network":"run-vpc","allow":["10.15.0.0/28"]}`)
	ok("POST", "destinations", `{"name":"api","ip":"198.51.100.7","port":443}`)
	var dests []emulator.Destination
	if err := json.Unmarshal([]byte(ok("GET", "destinations", "")), &dests); err != nil || len(dests) != 2 || dests[1].Name != "partner-db" {
		t.Errorf("destinations = %+v, %v", dests, err)
	}
	if code, _ := do("POST", "destinations", `{"name":"Bad","ip":"x","port":0}`); code != http.StatusBadRequest {
		t.Errorf("bad destination: %d", code)
	}
	ok("POST", "dependencies", `{"service":"`+demoService+`","destinations":["partner-db",{"destination":"api","share":0.5}]}`)
	ok("POST", "load", `{"service":"`+demoService+`","rps":5,"latencyMs":20}`)
	if code, _ := do("POST", "load", `{"service":"run-service","rps":5}`); code != http.StatusBadRequest {
		t.Errorf("load for a short service name: %d, want 400", code)
	}
	ok("POST", "quotas/direct-vpc", `{"project":"demo-project","region":"asia-northeast1","limit":7}`)
	if e.DirectVPCQuota("demo-project", "asia-northeast1") != 7 {
		t.Errorf("quota not set")
	}
	// The project's place in the hierarchy (for hierarchical firewall policies) is declared
	// through the organization control surface.
	ok("POST", "organizations", `{"id":"1","displayName":"example.com"}`)
	ok("POST", "folders", `{"id":"2","parent":"organizations/1"}`)
	ok("POST", "projects", `{"id":"demo-project","parent":"folders/2"}`)
	if code, _ := do("POST", "projects", `{"id":"demo-project","parent":"teams/2"}`); code != http.StatusBadRequest {
		t.Errorf("bad parent: %d", code)
	}

	// The demo service's revision uses the connector with private-ranges-only: the on-premises
	// database has no route yet, and the internet API is reached through Cloud Run's egress.
	var state struct {
		Services map[string]struct {
			LatestReadyRevision string `json:"latestReadyRevision"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(ok("GET", "state", "")), &state); err != nil {
		t.Fatal(err)
	}
	revision := state.Services[demoService].LatestReadyRevision
	out := ok("GET", "reach?revision="+url.QueryEscape(revision), "")
	var h emulator.RevisionHealth
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Dependencies) != 2 || h.Dependencies[0].Reach.OK || !h.Dependencies[1].Reach.OK || h.FailRatio != 1 {
		t.Errorf("health = %s", out)
	}
	out = ok("GET", "reach?revision="+url.QueryEscape(revision)+"&destination=partner-db", "")
	if !strings.Contains(out, "no route") {
		t.Errorf("reach partner-db = %s", out)
	}
	ok("DELETE", "destinations/api", "")
	if code, _ := do("DELETE", "destinations/api", ""); code != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", code)
	}
}

// controlCaller returns a function that calls the emulator's control surface over HTTP, as a
// test in another language would, and returns the status and body.
func controlCaller(t *testing.T, e *emulator.Emulator) func(method, path, body string) (int, string) {
	base := "http://" + e.Addr() + emulator.ControlPrefix
	return func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}
