package vpcaccessapi

// The recorded exchanges replayed over REST/JSON: each recorded VPC Access request (method,
// path with v1beta1 read as v1, query, body) is sent as it was to the emulator's REST
// transcoding of the same service, and the answer (status, JSON body) is compared with the
// recorded one as in the gRPC replay (conformance_test.go).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
)

func TestConformanceOverREST(t *testing.T) {
	dir := realAPIDir(t)
	for _, file := range []string{"connector-cidr-crud.http.log", "connector-subnet-crossproject-crud.http.log"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			exchanges, err := parseHTTPLog(string(b))
			if err != nil {
				t.Fatal(err)
			}
			replayREST(t, exchanges)
		})
	}
}

func replayREST(t *testing.T, exchanges []exchange) {
	w := servertest.NewWorld(t, slowConfig)
	_, restAddr := servertest.StartGRPCAndREST(t, w, HTTPRules(), Register)
	e := &env{t: t, w: w}
	lastOp := ""
	covered := 0
	for _, ex := range exchanges {
		label := fmt.Sprintf("#%d %s %s", ex.n, ex.method, ex.url)
		u, err := url.Parse(substitute(ex.url))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if u.Host == "compute.googleapis.com" && ex.method == "GET" && ex.status == 200 && seedCompute(t, e, u.Path, substitute(ex.respBody)) {
			continue
		}
		if u.Host != "vpcaccess.googleapis.com" {
			continue
		}
		path := "/v1/" + strings.TrimPrefix(u.Path, "/v1beta1/")
		if strings.Contains(path, "/operations/") {
			if !matches(strings.TrimPrefix(path, "/v1/"), lastOp) {
				t.Fatalf("%s: the recording polls %s, the replay's last operation is %s", label, path, lastOp)
			}
			path = "/v1/" + lastOp
			if strings.Contains(ex.respBody, `"done": true`) {
				w.Advance(time.Hour) // let the operation finish, as it had in the recording
			}
		}
		req, err := http.NewRequest(ex.method, "http://"+restAddr+path+"?"+u.RawQuery, strings.NewReader(substitute(ex.reqBody)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		covered++
		if resp.StatusCode != ex.status {
			t.Errorf("%s: status %d, recorded %d: %s", label, resp.StatusCode, ex.status, body)
			continue
		}
		var g, r any
		if err := json.Unmarshal(body, &g); err != nil {
			t.Fatalf("%s: answer is not JSON: %s", label, body)
		}
		if err := json.Unmarshal([]byte(substitute(ex.respBody)), &r); err != nil {
			t.Fatalf("%s: recorded body: %v", label, err)
		}
		for _, d := range compareJSON("", r, g) {
			t.Errorf("%s: %s\nrecorded: %s\nemulator: %s", label, d, ex.respBody, body)
		}
		if name, _ := g.(map[string]any)["name"].(string); strings.Contains(name, "/operations/") {
			lastOp = name
		}
	}
	if covered < 6 {
		t.Errorf("replayed %d VPC Access exchanges, want at least 6", covered)
	}
}
