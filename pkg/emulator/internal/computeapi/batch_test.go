package computeapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

// batchPart is one call of a batch request, written as gcloud's HTTP library writes it (bare
// \n line ends, a Content-ID of the form <uuid+N>, a content-length header).
func batchPart(boundary, id, method, target, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--%s\nContent-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <%s>\n\n", boundary, id)
	fmt.Fprintf(&b, "%s %s HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\ncontent-length: %d\naccept: application/json\nHost: compute.googleapis.com\n\n%s\n", method, target, len(body), body)
	return b.String()
}

type batchAnswer struct {
	id     string
	status int
	body   []byte
}

func (e *env) batch(t *testing.T, parts ...string) (int, []batchAnswer) {
	t.Helper()
	const boundary = "===============1234567890=="
	body := strings.Join(parts, "") + "--" + boundary + "--\n"
	req, err := http.NewRequest("POST", "http://"+e.addr+"/batch/compute/v1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, []batchAnswer{{status: resp.StatusCode, body: b}}
	}
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("batch answer Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	var out []batchAnswer
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Type") != "application/http" {
			t.Errorf("part Content-Type = %q", p.Header.Get("Content-Type"))
		}
		r, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		b, _ := io.ReadAll(r.Body)
		out = append(out, batchAnswer{id: p.Header.Get("Content-ID"), status: r.StatusCode, body: b})
	}
	return resp.StatusCode, out
}

// gcloud compute networks subnets delete a b sends both deletes in one batch request.
func TestBatchDeletes(t *testing.T) {
	e := newEnv(t)
	e.network(t, testProject, "vpc", false)
	e.subnet(t, testProject, "asia-northeast1", "a", "vpc", "10.0.0.0/24")
	e.subnet(t, testProject, "asia-northeast1", "b", "vpc", "10.0.1.0/24")
	const b = "===============1234567890=="
	base := "/compute/v1/projects/" + testProject + "/regions/asia-northeast1/subnetworks/"
	status, answers := e.batch(t,
		batchPart(b, "d9+0", "DELETE", base+"a?alt=json", ""),
		batchPart(b, "d9+1", "DELETE", base+"b?alt=json", ""),
		batchPart(b, "d9+2", "DELETE", base+"missing?alt=json", ""),
		batchPart(b, "d9+3", "POST", base[:len(base)-1]+"?alt=json", `{"name":"c","network":"global/networks/vpc","ipCidrRange":"10.0.2.0/24"}`),
	)
	if status != 200 || len(answers) != 4 {
		t.Fatalf("batch = %d with %d answers", status, len(answers))
	}
	for i, a := range answers {
		if want := fmt.Sprintf("<response-d9+%d>", i); a.id != want {
			t.Errorf("answer %d Content-ID = %q, want %q", i, a.id, want)
		}
	}
	for i, target := range []string{"a", "b"} {
		var op compute.Operation
		if err := json.Unmarshal(answers[i].body, &op); err != nil || answers[i].status != 200 || op.OperationType != "delete" || !strings.HasSuffix(op.TargetLink, "/subnetworks/"+target) {
			t.Errorf("answer %d = %d %s", i, answers[i].status, answers[i].body)
		}
		e.wait(t, &op)
	}
	var eb errorBody
	if err := json.Unmarshal(answers[2].body, &eb); err != nil || answers[2].status != 404 || eb.Error.Errors[0].Reason != "notFound" {
		t.Errorf("delete of a missing subnetwork = %d %s", answers[2].status, answers[2].body)
	}
	var op compute.Operation
	if err := json.Unmarshal(answers[3].body, &op); err != nil || answers[3].status != 200 || op.OperationType != "insert" {
		t.Errorf("insert = %d %s", answers[3].status, answers[3].body)
	}
	e.wait(t, &op)
	l, err := e.svc.Subnetworks.List(testProject, "asia-northeast1").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].Name != "c" {
		t.Errorf("subnetworks after the batch = %+v", l.Items)
	}
	// Each call is admitted on its own: counted under its own method id.
	if n := e.w.Faults.Calls()["compute.subnetworks.delete"]; n != 3 {
		t.Errorf("compute.subnetworks.delete calls = %d, want 3", n)
	}
}

func TestBatchRejectsBadRequests(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, method, ctype, body string
		status                    int
	}{
		{"GET", "GET", "", "", 405},
		{"not multipart", "POST", "application/json", "{}", 400},
		{"no parts", "POST", `multipart/mixed; boundary="x"`, "--x--\n", 400},
		{"part not application/http", "POST", `multipart/mixed; boundary="x"`, "--x\nContent-Type: text/plain\n\nhello\n--x--\n", 400},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+e.addr+"/batch/compute/v1", strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb errorBody
		if resp.StatusCode != tc.status || json.Unmarshal(b, &eb) != nil || eb.Error.Code != tc.status {
			t.Errorf("%s: %d %s, want %d with a JSON error", tc.name, resp.StatusCode, b, tc.status)
		}
	}
}
