package computeapi

import (
	"testing"
)

func TestParseFilter(t *testing.T) {
	item := map[string]any{
		"name":                  "run-subnet",
		"network":               "https://www.googleapis.com/compute/v1/projects/p/global/networks/test-nw-abc",
		"privateIpGoogleAccess": false,
		"logConfig":             map[string]any{"enable": true},
		"sourceRanges":          []any{"10.0.0.0/8", "192.168.0.0/16"},
		"priority":              float64(1000),
	}
	for _, tc := range []struct {
		filter string
		match  bool
	}{
		{``, true},
		{`name eq run-subnet`, true},
		{`name eq run`, false}, // eq matches the whole value
		{`name eq "run-.*"`, true},
		{`name ne run-subnet`, false},
		{`network eq ".*\btest\-nw\-abc\b.*"`, true},
		{`network eq ".*\btest\-nw\-ab\b.*"`, false},
		{`(name eq run-subnet) (privateIpGoogleAccess eq false)`, true},
		{`(name eq run-subnet)(privateIpGoogleAccess eq true)`, false},
		{`logConfig.enable eq true`, true},
		{`sourceRanges eq 192\.168\..*`, true},
		{`priority eq 1000`, true},
		{`name = "run-subnet"`, true},
		{`name="run-subnet"`, true},
		{`name != run-subnet`, false},
		{`name:subnet`, true},
		{`name : "sub"  AND network : nope`, false},
		{`missing eq x`, false},
		{`missing ne x`, true},
	} {
		conds, aerr := parseFilter(tc.filter)
		if aerr != nil {
			t.Errorf("parseFilter(%q): %v", tc.filter, aerr)
			continue
		}
		if got := matchAll(conds, item); got != tc.match {
			t.Errorf("filter %q matches = %v, want %v", tc.filter, got, tc.match)
		}
	}
	for _, bad := range []string{`name`, `name eq`, `name like x`, `(name eq x`, `name eq "x`, `name eq x OR name eq y`, `name eq (`, `name eq "[" `} {
		if _, aerr := parseFilter(bad); aerr == nil || aerr.Status != 400 {
			t.Errorf("parseFilter(%q) accepted", bad)
		}
	}
}

func TestPageToken(t *testing.T) {
	for _, n := range []int{0, 1, 500, 123456} {
		if got, ok := decodePageToken(encodePageToken(n)); !ok || got != n {
			t.Errorf("page token round trip of %d = %d, %v", n, got, ok)
		}
	}
	for _, bad := range []string{"", "x", "cnVubmV0LXBhZ2U6LTE"} { // the last is "runnet-page:-1"
		if _, ok := decodePageToken(bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestRefs(t *testing.T) {
	for _, tc := range []struct {
		ref, project, name string
		ok                 bool
	}{
		{"vpc", "p", "vpc", true},
		{"global/networks/vpc", "p", "vpc", true},
		{"projects/q/global/networks/vpc", "q", "vpc", true},
		{"https://www.googleapis.com/compute/v1/projects/q/global/networks/vpc", "q", "vpc", true},
		{"https://compute.googleapis.com/compute/beta/projects/q/global/networks/vpc", "q", "vpc", true},
		{"projects/q/global/firewalls/vpc", "", "", false},
		{"", "", "", false},
	} {
		p, n, ok := globalRef(tc.ref, "p", "networks")
		if p != tc.project || n != tc.name || ok != tc.ok {
			t.Errorf("globalRef(%q) = %q %q %v", tc.ref, p, n, ok)
		}
	}
	for ref, want := range map[string]string{
		"us-central1": "us-central1", "regions/us-central1": "us-central1", "projects/p/regions/us-central1": "us-central1",
		"projects/p/global/regions/us-central1":                             "us-central1",
		"https://www.googleapis.com/compute/v1/projects/p/regions/us-west1": "us-west1",
	} {
		if got, ok := regionRef(ref); !ok || got != want {
			t.Errorf("regionRef(%q) = %q %v", ref, got, ok)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`name eq x`, `network eq ".*\btest\-nw\-abc\b.*"`, `(a eq b) (c ne d)`, `a = "b c" AND d:e`, `"`, `((`} {
		f.Add(s)
	}
	item := map[string]any{"name": "x", "a": []any{"b", true, 1.5}}
	f.Fuzz(func(t *testing.T, s string) {
		conds, aerr := parseFilter(s)
		if aerr != nil {
			if aerr.Status != 400 {
				t.Fatalf("status %d", aerr.Status)
			}
			return
		}
		matchAll(conds, item)
	})
}

func FuzzRefSegments(f *testing.F) {
	for _, s := range []string{"vpc", "https://x/compute/v1/projects/p/regions/r/subnetworks/s", "://", "compute/", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		globalRef(s, "p", "networks")
		regionalRef(s, "p", "r", "subnetworks")
		regionRef(s)
	})
}
