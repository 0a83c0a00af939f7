package computeapi

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
)

// maxBatchParts is the most calls one batch request may carry. Google's batch docs ("Batching
// requests"): "You're limited to 1000 calls in a single batch request."
const maxBatchParts = 1000

// Batch returns the handler of Compute's batch endpoint, /batch/compute/v1, which gcloud uses
// whenever a command names several resources (e.g. `gcloud compute networks subnets delete a
// b`). The request is multipart/mixed; each part (Content-Type: application/http) holds one
// HTTP request to /compute/v1/..., which api serves exactly as if it had come alone (latency,
// faults, call counts included). The answer is multipart/mixed too, one application/http part
// per call, in request order, each with the Content-ID of its request prefixed with
// "response-", as Google's batch endpoint answers.
func Batch(api http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(rw, &apiError{Status: http.StatusMethodNotAllowed, Reason: "httpMethodNotAllowed",
				Message: "Batch requests must be POST requests with Content-Type multipart/mixed."})
			return
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
			writeError(rw, errInvalid("Batch requests must have Content-Type multipart/mixed with a boundary."))
			return
		}
		calls, aerr := readBatch(r, params["boundary"])
		if aerr != nil {
			writeError(rw, aerr)
			return
		}
		var out bytes.Buffer
		mw := multipart.NewWriter(&out)
		boundary := "batch_" + randomFingerprint()
		boundary = strings.NewReplacer("+", "", "/", "", "=", "").Replace(boundary)
		if err := mw.SetBoundary(boundary); err != nil {
			writeError(rw, &apiError{Status: http.StatusInternalServerError, Reason: "internalError", Message: err.Error()})
			return
		}
		for _, c := range calls {
			rec := &recorder{header: http.Header{}}
			c.req = c.req.WithContext(r.Context())
			api.ServeHTTP(rec, c.req)
			h := textproto.MIMEHeader{}
			h.Set("Content-Type", "application/http")
			h.Set("Content-ID", "<response-"+strings.Trim(c.id, "<>")+">")
			pw, err := mw.CreatePart(h)
			if err != nil {
				return
			}
			writeEmbeddedResponse(pw, rec)
		}
		if err := mw.Close(); err != nil {
			return
		}
		rw.Header().Set("Content-Type", "multipart/mixed; boundary="+boundary)
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write(out.Bytes())
	})
}

type batchCall struct {
	id  string
	req *http.Request
}

// readBatch reads the calls of a batch request.
func readBatch(r *http.Request, boundary string) ([]batchCall, *apiError) {
	mr := multipart.NewReader(io.LimitReader(r.Body, 16*maxBodyBytes), boundary)
	var calls []batchCall
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errParse("Failed to parse batch request: " + err.Error())
		}
		if len(calls) == maxBatchParts {
			return nil, errInvalid(fmt.Sprintf("Too many requests in batch: at most %d are allowed.", maxBatchParts))
		}
		if ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct != "application/http" {
			return nil, errInvalid(fmt.Sprintf("Batch part %d: Content-Type must be application/http.", n+1))
		}
		raw, err := io.ReadAll(part)
		if err != nil {
			return nil, errParse("Failed to read batch request: " + err.Error())
		}
		req, err := readEmbeddedRequest(raw)
		if err != nil {
			return nil, errParse(fmt.Sprintf("Batch part %d: %v", n+1, err))
		}
		id := part.Header.Get("Content-ID")
		if id == "" {
			id = fmt.Sprintf("<%d>", n+1)
		}
		calls = append(calls, batchCall{id: id, req: req})
	}
	if len(calls) == 0 {
		return nil, errInvalid("Batch request has no parts.")
	}
	return calls, nil
}

// readEmbeddedRequest parses one part's HTTP request: a request line whose target is a path
// (or a full URL: only its path and query are used), headers, and a body, whose length is
// the Content-Length header's or else the rest of the part.
func readEmbeddedRequest(raw []byte) (*http.Request, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("bad embedded request: %w", err)
	}
	if req.URL.IsAbs() {
		req.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	}
	req.RequestURI = ""
	if req.ContentLength <= 0 && len(req.TransferEncoding) == 0 {
		rest, _ := io.ReadAll(br)
		rest = bytes.TrimRight(rest, "\r\n")
		req.Body = io.NopCloser(bytes.NewReader(rest))
		req.ContentLength = int64(len(rest))
	}
	return req, nil
}

// recorder keeps one embedded call's response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(status int) {
	if rc.status == 0 {
		rc.status = status
	}
}

func (rc *recorder) Write(b []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	return rc.body.Write(b)
}

// writeEmbeddedResponse writes an HTTP/1.1 response: status line, headers, blank line, body.
func writeEmbeddedResponse(w io.Writer, rc *recorder) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", rc.status, http.StatusText(rc.status))
	names := make([]string, 0, len(rc.header))
	for k := range rc.header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range rc.header[k] {
			fmt.Fprintf(w, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", rc.body.Len())
	_, _ = w.Write(rc.body.Bytes())
}
