package runapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
)

// TestConformanceServiceCRUDOverREST replays the real Service exchange
// (service-v2-crud-real.vcr.yaml) over REST/JSON: each recorded request (method, path with the
// emulator's project and region, query, body) is sent as it was, and the answers are compared
// with the recorded ones as TestConformanceServiceCRUD compares the gRPC answers, plus what
// only REST shows: statuses, the JSON error, and the operation's top-level fields.
func TestConformanceServiceCRUDOverREST(t *testing.T) {
	dir := realAPIDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "service-v2-crud-real.vcr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cas vcrCassette
	if err := yaml.Unmarshal(raw, &cas); err != nil {
		t.Fatal(err)
	}
	if len(cas.Interactions) != 13 {
		t.Fatalf("unexpected cassette layout (%d interactions)", len(cas.Interactions))
	}
	const id = "runservice-1w5ax8rh1otic"
	w := servertest.NewWorld(t, servertest.FastConfig)
	_, addr := servertest.StartGRPCAndREST(t, w, HTTPRules(), Register)

	// send replays interaction i (its method, path, query and body) and returns the status and
	// JSON answer; opName, when set, replaces the recorded operation name.
	send := func(i int, opName string) (int, map[string]any) {
		t.Helper()
		in := cas.Interactions[i].Request
		u, err := url.Parse(in.URL)
		if err != nil {
			t.Fatal(err)
		}
		path := strings.Replace(u.Path, "/projects/example-project/locations/us-central1/", "/"+testParent+"/", 1)
		if opName != "" {
			path = "/v2/" + opName
		}
		req, err := http.NewRequest(in.Method, "http://"+addr+path+"?"+u.RawQuery, strings.NewReader(in.Body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("#%d: answer is not JSON: %s", i, b)
		}
		if resp.StatusCode != cas.Interactions[i].Response.Code {
			t.Fatalf("#%d %s %s: status %d, recorded %d: %s", i, in.Method, path, resp.StatusCode, cas.Interactions[i].Response.Code, b)
		}
		return resp.StatusCode, out
	}
	topKeys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	// wait waits for the operation over REST (POST :wait) and then replays the recorded GET.
	wait := func(i int, name string) map[string]any {
		t.Helper()
		for {
			resp, err := http.Post("http://"+addr+"/v2/"+name+":wait", "application/json", strings.NewReader(`{"timeout":"10s"}`))
			if err != nil {
				t.Fatal(err)
			}
			var op map[string]any
			err = json.NewDecoder(resp.Body).Decode(&op)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("wait %s: %d %v", name, resp.StatusCode, err)
			}
			if op["done"] == true {
				break
			}
		}
		_, done := send(i, name)
		recorded := parseJSON(t, cas.Interactions[i].Response.Body)
		if got, want := topKeys(done), topKeys(recorded); got != want {
			t.Errorf("#%d done operation fields %s, recorded %s", i, got, want)
		}
		return done
	}

	// GET of a missing service: Google's JSON error (the recording's body is scrubbed).
	_, nf := send(0, "")
	if e, _ := nf["error"].(map[string]any); e == nil || e["code"] != float64(404) || e["status"] != "NOT_FOUND" || e["message"] == "" {
		t.Errorf("404 body = %v", nf)
	}

	// POST: the first operation carries the service as metadata and no done field.
	_, op := send(1, "")
	recOp := parseJSON(t, cas.Interactions[1].Response.Body)
	if got, want := topKeys(op), topKeys(recOp); got != want {
		t.Errorf("create operation fields %s, recorded %s", got, want)
	}
	compareFields(t, "create metadata", op["metadata"].(map[string]any), recOp["metadata"].(map[string]any), createMetaExtra, nil)
	done := wait(2, op["name"].(string))
	recDone := parseJSON(t, cas.Interactions[2].Response.Body)
	for _, p := range []string{"metadata.@type", "response.@type", "done"} {
		if !sameJSON(at(done, p), at(recDone, p)) {
			t.Errorf("done operation %s = %v, recorded %v", p, at(done, p), at(recDone, p))
		}
	}
	compareFields(t, "create operation response", done["response"].(map[string]any), recDone["response"].(map[string]any), serviceExtra, nil)

	_, got := send(3, "")
	want := parseJSON(t, cas.Interactions[3].Response.Body)
	compareFields(t, "GET after create", got, want, serviceExtra, nil)
	checkServiceValues(t, "GET after create", got, want, id)

	// PATCH with the recorded body (a whole service, no name: the path names it).
	_, uop := send(6, "")
	recPatch := parseJSON(t, cas.Interactions[6].Response.Body)
	compareFields(t, "update metadata", uop["metadata"].(map[string]any), recPatch["metadata"].(map[string]any), serviceExtra, nil)
	wait(7, uop["name"].(string))
	_, got = send(8, "")
	want = parseJSON(t, cas.Interactions[8].Response.Body)
	compareFields(t, "GET after update", got, want, serviceExtra, nil)
	checkServiceValues(t, "GET after update", got, want, id)

	// DELETE.
	_, dop := send(11, "")
	compareFields(t, "delete metadata", dop["metadata"].(map[string]any), parseJSON(t, cas.Interactions[11].Response.Body)["metadata"].(map[string]any), serviceExtra, nil)
	ddone := wait(12, dop["name"].(string))
	compareFields(t, "delete response", ddone["response"].(map[string]any), parseJSON(t, cas.Interactions[12].Response.Body)["response"].(map[string]any), serviceExtra, nil)
}
