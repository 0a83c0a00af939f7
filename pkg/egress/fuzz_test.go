package egress

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Seed corpora for these targets are committed under testdata/fuzz/; the
// f.Add seeds below repeat the most important ones so that a plain go test
// covers them even without the files.

// checkParseError fails unless err is a *ParseError matching ErrInvalid
// that quotes the input.
func checkParseError(t *testing.T, err error, what string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %T %v is not a *ParseError", err, err)
	}
	if pe.What != what || pe.Reason == "" {
		t.Fatalf("ParseError %+v: want What %q and a reason", pe, what)
	}
}

func FuzzParseWorkloadRef(f *testing.F) {
	for _, s := range []string{
		"run-service", "job/nightly", "workerpool/pool", "services/x", "job/", "/x", "a/b/c", "..",
		"projects/my-project/locations/us-central1/services/api",
		"projects/my-project/locations/us-central1/workerPools/wp",
		"projects/my-project/locations/us-central1/jobs/../x",
	} {
		f.Add(s, "my-project", "us-central1")
	}
	f.Add("svc", "", "")
	f.Fuzz(func(t *testing.T, s, project, region string) {
		ref, err := ParseWorkloadRef(s, project, region)
		if err != nil {
			checkParseError(t, err, "workload")
			if ref != (WorkloadRef{}) {
				t.Fatalf("ParseWorkloadRef(%q) returned %+v with an error", s, ref)
			}
			return
		}
		if err := ref.Validate(); err != nil {
			t.Fatalf("ParseWorkloadRef(%q) = %+v, which does not validate: %v", s, ref, err)
		}
		if strings.Contains(ref.Name, "/") || strings.Contains(ref.Project, "/") || strings.Contains(ref.Region, "/") {
			t.Fatalf("ParseWorkloadRef(%q) = %+v has a / in a part", s, ref)
		}
		if back, err := ParseWorkloadRef(ref.FullName(), "", ""); err != nil || back != ref {
			t.Fatalf("full name %q of %q parses to %+v, %v", ref.FullName(), s, back, err)
		}
		if back, err := ParseWorkloadRef(ref.String(), ref.Project, ref.Region); err != nil || back != ref {
			t.Fatalf("short form %q of %q parses to %+v, %v", ref.String(), s, back, err)
		}
		if !strings.HasSuffix(s, ref.Name) {
			t.Fatalf("ParseWorkloadRef(%q) = %+v: name is not the input's last part", s, ref)
		}
	})
}

func FuzzParseCanary(f *testing.F) {
	for _, s := range []string{"100", "10,50,100", "10%,100%", " 1 , 100", "", "50,10,100", "10,50", "0,100", "101", "-1,100", "1,,100", "007,100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := ParseCanary(s)
		if err != nil {
			checkParseError(t, err, "--canary")
			if steps != nil {
				t.Fatalf("ParseCanary(%q) returned %v with an error", s, steps)
			}
			return
		}
		if len(steps) == 0 || steps[len(steps)-1] != 100 {
			t.Fatalf("ParseCanary(%q) = %v does not end at 100", s, steps)
		}
		for i, n := range steps {
			if n < 1 || n > 100 || (i > 0 && n <= steps[i-1]) {
				t.Fatalf("ParseCanary(%q) = %v is not strictly increasing within 1..100", s, steps)
			}
		}
		if back, err := ParseCanary(FormatCanary(steps)); err != nil || !slices.Equal(back, steps) {
			t.Fatalf("FormatCanary(%v) = %q parses to %v, %v", steps, FormatCanary(steps), back, err)
		}
	})
}

func FuzzParseConnectorRef(f *testing.F) {
	for _, s := range []string{
		"run-connector", "a", "ab", "Conn", "conn-", strings.Repeat("a", 26),
		"projects/host-project/locations/us-central1/connectors/c1",
		"projects/host-project/locations/us-central1/connectors/",
		"projects/host-project/regions/us-central1/connectors/c1",
		"projects//locations/us-central1/connectors/c1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConnectorRef(s, "my-project", "us-central1")
		if err != nil {
			checkParseError(t, err, "connector")
			return
		}
		if !connectorNameRE.MatchString(c.Name) || len(c.Name) > MaxConnectorNameLength {
			t.Fatalf("ParseConnectorRef(%q) accepted name %q", s, c.Name)
		}
		if back, err := ParseConnectorRef(c.FullName(), "", ""); err != nil || back != c {
			t.Fatalf("%q does not round-trip: %+v, %v", c.FullName(), back, err)
		}
		tags := c.NetworkTags()
		if len(tags) != 2 || tags[0] != ConnectorUniversalTag || tags[1] != "vpc-connector-"+c.Region+"-"+c.Name {
			t.Fatalf("NetworkTags = %q", tags)
		}
	})
}

func FuzzParseSubnetRef(f *testing.F) {
	for _, s := range []string{
		"run-direct-vpc-egress", "S", "s-", "regions/us-east1/subnetworks/s1",
		"projects/host-project/regions/us-east1/subnetworks/s1",
		"https://www.googleapis.com/compute/v1/projects/host-project/regions/us-east1/subnetworks/s1",
		"https://www.googleapis.com/compute/v1/", "projects/host-project/regions/us-east1/subnetworks/../s1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sn, err := ParseSubnetRef(s, "my-project", "us-central1")
		if err != nil {
			checkParseError(t, err, "subnetwork")
			return
		}
		if err := sn.Validate(); err != nil {
			t.Fatalf("ParseSubnetRef(%q) = %+v does not validate: %v", s, sn, err)
		}
		for _, form := range []string{sn.Path(), sn.URL()} {
			if back, err := ParseSubnetRef(form, "", ""); err != nil || back != sn {
				t.Fatalf("%q does not round-trip: %+v, %v", form, back, err)
			}
		}
	})
}

func FuzzParseNetworkRef(f *testing.F) {
	for _, s := range []string{
		"run-vpc", "default", "global/networks/run-vpc", "projects/host-project/global/networks/shared",
		"https://compute.googleapis.com/compute/v1/projects/host-project/global/networks/shared", "projects/x/global/networks/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNetworkRef(s, "my-project")
		if err != nil {
			checkParseError(t, err, "network")
			return
		}
		for _, form := range []string{n.Path(), n.URL()} {
			if back, err := ParseNetworkRef(form, ""); err != nil || back != n {
				t.Fatalf("%q does not round-trip: %+v, %v", form, back, err)
			}
		}
	})
}

// FuzzVPCCanonical checks that Canonical is idempotent, that a canonical VPC
// is equivalent to its source, and that Validate never accepts what
// Canonical rejects.
func FuzzVPCCanonical(f *testing.F) {
	f.Add("", "run-vpc", "", "web", true)
	f.Add("run-connector", "", "", "", false)
	f.Add("", "projects/host-project/global/networks/shared", "s1", "b", false)
	f.Add("c1", "n1", "", "", true)
	f.Fuzz(func(t *testing.T, connector, network, subnet, tag string, all bool) {
		v := VPC{Connector: connector, Network: network, Subnet: subnet}
		if tag != "" {
			v.Tags = []string{tag, tag}
		}
		if all {
			v.Egress = EgressAllTraffic
		}
		c, err := v.Canonical("my-project", "us-central1")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if v.Validate("my-project", "us-central1") == nil {
				t.Fatalf("Validate accepts %+v, which Canonical rejects: %v", v, err)
			}
			return
		}
		again, err := c.Canonical("my-project", "us-central1")
		if err != nil || again.String() != c.String() || !slices.Equal(again.Tags, c.Tags) {
			t.Fatalf("Canonical(%+v) = %+v is not a fixed point: %+v, %v", v, c, again, err)
		}
		if same, err := v.Equivalent(c, "my-project", "us-central1"); err != nil || !same {
			t.Fatalf("%+v is not equivalent to its canonical form %+v (%v)", v, c, err)
		}
		if c.Mode() != v.Mode() {
			t.Fatalf("Canonical changed the mode of %+v", v)
		}
	})
}

func FuzzParseProbeTCP(f *testing.F) {
	for _, s := range []string{"db:5432", "10.0.0.1:80,10.0.0.2:443", "[::1]:22", "db", ":80", "db:0", "db:65536", "a:1,,b:2", " db:1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		targets, err := ParseProbeTCP(s)
		if err != nil {
			checkParseError(t, err, "--probe-tcp")
			return
		}
		if len(targets) == 0 {
			t.Fatalf("%q: no targets and no error", s)
		}
		again, err := ParseProbeTCP(strings.Join(targets, ","))
		if err != nil || !slices.Equal(again, targets) {
			t.Fatalf("%q: %v does not parse back the same (%v, %v)", s, targets, again, err)
		}
	})
}
