package egress

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	proj   = "my-project"
	region = "asia-northeast1"
)

// wantErr checks that err is a *ParseError matching ErrInvalid whose
// message contains every fragment.
func wantErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", fragments)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T (%v) is not a *ParseError", err, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		err  string
	}{
		{"none", ModeNone, ""},
		{"connector", ModeConnector, ""},
		{"direct", ModeDirect, ""},
		{"DIRECT", ModeDirect, ""},
		{"", "", `invalid mode "": empty (valid modes: none, connector, direct)`},
		{"vpc", "", `invalid mode "vpc": unknown mode (valid modes: none, connector, direct)`},
		{" direct", "", "unknown mode"},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if tt.err != "" {
			wantErr(t, err, tt.err)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !got.Valid() || got.String() != string(tt.want) {
			t.Errorf("%q: Valid/String wrong", got)
		}
	}
	if Mode("x").Valid() {
		t.Error(`Mode("x").Valid() = true`)
	}
}

func TestParseEgress(t *testing.T) {
	tests := []struct {
		in   string
		want Egress
		err  string
	}{
		{"private-ranges-only", EgressPrivateRangesOnly, ""},
		{"all-traffic", EgressAllTraffic, ""},
		{"all", EgressAllTraffic, ""},
		{"ALL", EgressAllTraffic, ""},
		{"PRIVATE_RANGES_ONLY", EgressPrivateRangesOnly, ""},
		{"ALL_TRAFFIC", EgressAllTraffic, ""},
		{"VPC_EGRESS_UNSPECIFIED", EgressUnset, ""},
		{"", "", `invalid egress "": empty (valid values: private-ranges-only, all-traffic)`},
		{"private", "", `invalid egress "private": unknown egress setting`},
		{"1", "", "unknown egress setting"},
	}
	for _, tt := range tests {
		got, err := ParseEgress(tt.in)
		if tt.err != "" {
			wantErr(t, err, tt.err)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseEgress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if !IsDeprecatedEgressAlias("all") || IsDeprecatedEgressAlias("all-traffic") {
		t.Error("IsDeprecatedEgressAlias wrong")
	}
	if EgressUnset.Normalize() != EgressPrivateRangesOnly || EgressAllTraffic.Normalize() != EgressAllTraffic {
		t.Error("Normalize wrong")
	}
	if EgressUnset.APIName() != "PRIVATE_RANGES_ONLY" || EgressAllTraffic.APIName() != "ALL_TRAFFIC" {
		t.Error("APIName wrong")
	}
	if EgressUnset.String() != "private-ranges-only" || EgressUnset.IsAllTraffic() || !EgressAllTraffic.IsAllTraffic() {
		t.Error("String/IsAllTraffic wrong")
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{
		"service": KindService, "services": KindService, "job": KindJob, "jobs": KindJob,
		"workerpool": KindWorkerPool, "workerpools": KindWorkerPool, "workerPools": KindWorkerPool,
	} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Service", "worker-pool", "function"} {
		_, err := ParseKind(in)
		wantErr(t, err, "valid kinds: service, job, workerpool")
	}
	for k, coll := range map[Kind]string{KindService: "services", KindJob: "jobs", KindWorkerPool: "workerPools"} {
		if k.Collection() != coll || !k.Valid() || k.String() != string(k) {
			t.Errorf("%q: Collection = %q", k, k.Collection())
		}
	}
}

func TestParseWorkloadRef(t *testing.T) {
	svc := func(name string) WorkloadRef { return WorkloadRef{KindService, proj, region, name} }
	tests := []struct {
		in         string
		proj, reg  string
		want       WorkloadRef
		short      string
		err        []string
		errIs      error
		fullPrefix string
	}{
		{in: "run-service", want: svc("run-service"), short: "run-service"},
		{in: "service/run-service", want: svc("run-service"), short: "run-service"},
		{in: "services/run-service", want: svc("run-service"), short: "run-service"},
		{in: "job/nightly", want: WorkloadRef{KindJob, proj, region, "nightly"}, short: "job/nightly"},
		{in: "jobs/nightly", want: WorkloadRef{KindJob, proj, region, "nightly"}, short: "job/nightly"},
		{in: "workerpool/pool", want: WorkloadRef{KindWorkerPool, proj, region, "pool"}, short: "workerpool/pool"},
		{in: "projects", want: svc("projects"), short: "projects"}, // a service may be called "projects"
		{in: "a", want: svc("a"), short: "a"},
		{in: "a" + strings.Repeat("b", 62), want: svc("a" + strings.Repeat("b", 62)), short: "a" + strings.Repeat("b", 62)},
		{in: "projects/other-project/locations/us-central1/services/api", proj: "-", reg: "-",
			want: WorkloadRef{KindService, "other-project", "us-central1", "api"}, short: "api"},
		{in: "projects/other-project/locations/us-central1/jobs/j1", proj: "-", reg: "-",
			want: WorkloadRef{KindJob, "other-project", "us-central1", "j1"}, short: "job/j1"},
		{in: "projects/123456789012/locations/us-central1/workerPools/wp",
			want: WorkloadRef{KindWorkerPool, "123456789012", "us-central1", "wp"}, short: "workerpool/wp"},
		{in: "projects/example.com:my-proj/locations/us-central1/services/api",
			want: WorkloadRef{KindService, "example.com:my-proj", "us-central1", "api"}, short: "api"},
		// Full names need no defaults.
		{in: "projects/other-project/locations/us-east1/services/api", proj: "", reg: "",
			want: WorkloadRef{KindService, "other-project", "us-east1", "api"}, short: "api"},

		{in: "", err: []string{`invalid workload "": empty`, WorkloadForms}},
		{in: "Run-Service", err: []string{`service name "Run-Service": must be 1 to 63 lower-case letters`}},
		{in: "1svc", err: []string{"starting with a letter"}},
		{in: "svc-", err: []string{"not ending with a hyphen"}},
		{in: "svc_1", err: []string{"lower-case letters, digits and hyphens"}},
		{in: "a" + strings.Repeat("b", 63), err: []string{"is 64 characters long, more than the 63 allowed"}},
		{in: "job/", err: []string{`empty name after "job/"`}},
		{in: "/svc", err: []string{`empty, "." or ".." path segment`}},
		{in: "job//x", err: []string{`path segment`}},
		{in: "job/../x", err: []string{`path segment`}},
		{in: "..", err: []string{`path segment`}},
		{in: "job/a/b", err: []string{`too many "/"-separated parts`}},
		{in: "function/x", err: []string{`unknown kind "function"`}},
		{in: "svc ", err: []string{`contains ' '`}},
		{in: " svc", err: []string{`contains ' '`}},
		{in: "svc\n", err: []string{`contains '\n'`}},
		{in: "svc?x=1", err: []string{`contains '?'`}},
		{in: "a\\b", err: []string{`contains '\\'`}},
		{in: "\xff", err: []string{"not valid UTF-8"}},
		{in: "projects/p/locations/us-central1/services/api", err: []string{`project "p": not a project ID`}},
		{in: "projects/my-project/locations/central/services/api", err: []string{`region "central": not a region name`}},
		{in: "projects/my-project/locations/us-central1/functions/api", err: []string{`unknown collection "functions"`}},
		{in: "projects/my-project/locations/us-central1/workerpools/api", err: []string{`unknown collection "workerpools"`}},
		{in: "projects/my-project/regions/us-central1/services/api", err: []string{"not a full workload name"}},
		{in: "projects/my-project/locations/us-central1/services/api/revisions/r", err: []string{"not a full workload name"}},
		{in: "projects/my-project/locations/us-central1/services/", err: []string{"path segment"}},
		{in: "svc", proj: "", reg: region, err: []string{"no project given"}, errIs: ErrNoProject},
		{in: "svc", proj: proj, reg: "", err: []string{"no region given"}, errIs: ErrNoRegion},
		{in: "svc", proj: "Bad_Project", reg: region, err: []string{`project "Bad_Project"`}},
	}
	for _, tt := range tests {
		p, r := proj, region
		if tt.proj != "" {
			p = tt.proj
		}
		if tt.reg != "" {
			r = tt.reg
		}
		if tt.proj == "" && tt.err != nil && tt.errIs == ErrNoProject {
			p = ""
		}
		if tt.reg == "" && tt.err != nil && tt.errIs == ErrNoRegion {
			r = ""
		}
		if p == "-" {
			p, r = "", ""
		}
		got, err := ParseWorkloadRef(tt.in, p, r)
		if tt.err != nil {
			wantErr(t, err, tt.err...)
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("ParseWorkloadRef(%q): errors.Is(%v, %v) = false", tt.in, err, tt.errIs)
			}
			if got != (WorkloadRef{}) {
				t.Errorf("ParseWorkloadRef(%q) returned %+v with an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseWorkloadRef(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseWorkloadRef(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.short {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.short)
		}
		// Round trips through both forms.
		if back, err := ParseWorkloadRef(got.FullName(), "", ""); err != nil || back != got {
			t.Errorf("full name %q parses to %+v, %v", got.FullName(), back, err)
		}
		if back, err := ParseWorkloadRef(got.String(), got.Project, got.Region); err != nil || back != got {
			t.Errorf("short form %q parses to %+v, %v", got.String(), back, err)
		}
	}
}

func TestWorkloadRefNames(t *testing.T) {
	r := WorkloadRef{KindWorkerPool, proj, region, "wp"}
	if got, want := r.FullName(), "projects/my-project/locations/asia-northeast1/workerPools/wp"; got != want {
		t.Errorf("FullName = %q, want %q", got, want)
	}
	if got, want := r.Parent(), "projects/my-project/locations/asia-northeast1"; got != want {
		t.Errorf("Parent = %q, want %q", got, want)
	}
	wantErr(t, WorkloadRef{Kind: "x", Project: proj, Region: region, Name: "a"}.Validate(), "unknown kind")
}

func TestNewWorkloadName(t *testing.T) {
	long := "a" + strings.Repeat("b", 49) // 50 characters
	if err := ValidateNewWorkloadName(KindService, long[:49]); err != nil {
		t.Errorf("49 characters rejected: %v", err)
	}
	wantErr(t, ValidateNewWorkloadName(KindService, long), "is 50 characters long, more than the 49 allowed")
	if err := ValidateNewWorkloadName(KindJob, long); err != nil {
		t.Errorf("50-character job rejected: %v", err)
	}
	// Existing services may be longer (created through the v1 API).
	if err := ValidateWorkloadName(KindService, long); err != nil {
		t.Errorf("50-character existing service rejected: %v", err)
	}
}

func TestParseConnectorRef(t *testing.T) {
	tests := []struct {
		in   string
		want ConnectorRef
		err  []string
	}{
		{in: "run-connector", want: ConnectorRef{proj, region, "run-connector"}},
		{in: "projects/host-project/locations/us-central1/connectors/c1", want: ConnectorRef{"host-project", "us-central1", "c1"}},
		{in: "ab", want: ConnectorRef{proj, region, "ab"}},
		{in: "a" + strings.Repeat("b", 24), want: ConnectorRef{proj, region, "a" + strings.Repeat("b", 24)}},
		{in: "a", err: []string{"must be 2 to 25", "^[a-z][-a-z0-9]{0,23}[a-z0-9]$"}},
		{in: "a" + strings.Repeat("b", 25), err: []string{"is 26 characters long, more than the 25 allowed"}},
		{in: "Conn", err: []string{"must be 2 to 25"}},
		{in: "conn-", err: []string{"must be 2 to 25"}},
		{in: "", err: []string{`invalid connector "": empty`, ConnectorForms}},
		{in: "connectors/c1", err: []string{"not a connector name"}},
		{in: "projects/p1234/locations/us-central1/connectors", err: []string{"not a connector name"}},
		{in: "projects/host-project/regions/us-central1/connectors/c1", err: []string{"not a connector name"}},
		{in: "projects/host-project/locations/us-central1/connectors/../c1", err: []string{"path segment"}},
		{in: "projects/host-project/locations/us-central1/connectors/c1/", err: []string{"path segment"}},
	}
	for _, tt := range tests {
		got, err := ParseConnectorRef(tt.in, proj, region)
		if tt.err != nil {
			wantErr(t, err, tt.err...)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseConnectorRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if back, err := ParseConnectorRef(got.FullName(), "", ""); err != nil || back != got {
			t.Errorf("%q does not round-trip: %+v, %v", got.FullName(), back, err)
		}
	}
	_, err := ParseConnectorRef("c1", "", region)
	if !errors.Is(err, ErrNoProject) {
		t.Errorf("short name without project: %v, want ErrNoProject", err)
	}
	c := ConnectorRef{proj, "us-central1", "run-connector"}
	if got := c.String(); got != "projects/my-project/locations/us-central1/connectors/run-connector" {
		t.Errorf("String = %q", got)
	}
	if got := c.NetworkTags(); len(got) != 2 || got[0] != "vpc-connector" || got[1] != "vpc-connector-us-central1-run-connector" {
		t.Errorf("NetworkTags = %q", got)
	}
}

func TestParseNetworkRef(t *testing.T) {
	tests := []struct {
		in   string
		want NetworkRef
		err  string
	}{
		{in: "run-vpc", want: NetworkRef{proj, "run-vpc"}},
		{in: "default", want: NetworkRef{proj, "default"}},
		{in: "global/networks/run-vpc", want: NetworkRef{proj, "run-vpc"}},
		{in: "projects/host-project/global/networks/shared", want: NetworkRef{"host-project", "shared"}},
		{in: "https://www.googleapis.com/compute/v1/projects/host-project/global/networks/shared", want: NetworkRef{"host-project", "shared"}},
		{in: "https://compute.googleapis.com/compute/beta/projects/host-project/global/networks/shared", want: NetworkRef{"host-project", "shared"}},
		{in: "Run_VPC", err: "must be 1 to 63"},
		{in: "projects/host-project/networks/shared", err: "not a network name"},
		{in: "projects/host-project/global/networks/shared/x", err: "not a network name"},
		{in: "http://www.googleapis.com/compute/v1/projects/host-project/global/networks/shared", err: "path segment"},
		{in: "", err: "empty"},
	}
	for _, tt := range tests {
		got, err := ParseNetworkRef(tt.in, proj)
		if tt.err != "" {
			wantErr(t, err, tt.err)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseNetworkRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		for _, form := range []string{got.Path(), got.URL(), got.String()} {
			if back, err := ParseNetworkRef(form, ""); err != nil || back != got {
				t.Errorf("%q does not round-trip: %+v, %v", form, back, err)
			}
		}
	}
}

func TestParseSubnetRef(t *testing.T) {
	tests := []struct {
		in   string
		want SubnetRef
		err  string
	}{
		{in: "run-direct-vpc-egress", want: SubnetRef{proj, region, "run-direct-vpc-egress"}},
		{in: "regions/us-east1/subnetworks/s1", want: SubnetRef{proj, "us-east1", "s1"}},
		{in: "projects/host-project/regions/us-east1/subnetworks/s1", want: SubnetRef{"host-project", "us-east1", "s1"}},
		{in: "https://www.googleapis.com/compute/v1/projects/host-project/regions/us-east1/subnetworks/s1", want: SubnetRef{"host-project", "us-east1", "s1"}},
		{in: "s" + strings.Repeat("1", 62), want: SubnetRef{proj, region, "s" + strings.Repeat("1", 62)}},
		{in: "s" + strings.Repeat("1", 63), err: "more than the 63 allowed"},
		{in: "projects/host-project/regions/us-east1/subnetworks", err: "not a subnetwork name"},
		{in: "projects/host-project/zones/us-east1-b/subnetworks/s1", err: "not a subnetwork name"},
		{in: "projects/host-project/regions/us-east1/subnetworks/./s1", err: "path segment"},
		{in: "projects/host-project/regions/us_east1/subnetworks/s1", err: `region "us_east1"`},
		{in: "https://www.googleapis.com/compute/v1/", err: "path segment"},
	}
	for _, tt := range tests {
		got, err := ParseSubnetRef(tt.in, proj, region)
		if tt.err != "" {
			wantErr(t, err, tt.err)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSubnetRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		for _, form := range []string{got.Path(), got.URL(), got.String()} {
			if back, err := ParseSubnetRef(form, "", ""); err != nil || back != got {
				t.Errorf("%q does not round-trip: %+v, %v", form, back, err)
			}
		}
	}
	_, err := ParseSubnetRef("s1", proj, "")
	if !errors.Is(err, ErrNoRegion) {
		t.Errorf("short name without region: %v, want ErrNoRegion", err)
	}
}

func TestValidators(t *testing.T) {
	for _, tag := range []string{"a", "web", "run-egress", "a" + strings.Repeat("b", 62)} {
		if err := ValidateNetworkTag(tag); err != nil {
			t.Errorf("ValidateNetworkTag(%q): %v", tag, err)
		}
	}
	for _, tag := range []string{"", "Web", "1web", "web-", "a" + strings.Repeat("b", 63), "web tag"} {
		wantErr(t, ValidateNetworkTag(tag), "network tag")
	}
	for _, p := range []string{"my-project", "abcdef", "123456789012", "example.com:my-project", "a" + strings.Repeat("b", 29)} {
		if err := ValidateProject(p); err != nil {
			t.Errorf("ValidateProject(%q): %v", p, err)
		}
	}
	for _, p := range []string{"abcde", "a" + strings.Repeat("b", 30), "My-Project", "my-project-", "0123", "1my-project"} {
		wantErr(t, ValidateProject(p), "not a project ID")
	}
	if !errors.Is(ValidateProject(""), ErrNoProject) || !errors.Is(ValidateRegion(""), ErrNoRegion) {
		t.Error("empty project/region do not wrap ErrNoProject/ErrNoRegion")
	}
	for _, r := range []string{"us-central1", "asia-northeast1", "northamerica-northeast2", "europe-west10", "me-central2"} {
		if err := ValidateRegion(r); err != nil {
			t.Errorf("ValidateRegion(%q): %v", r, err)
		}
	}
	for _, r := range []string{"us", "central1", "us-central", "us-central1-a", "US-CENTRAL1", "global"} {
		wantErr(t, ValidateRegion(r), "not a region name")
	}
	for _, n := range []string{"a", "run-vpc", "default"} {
		if err := ValidateComputeName("network", n); err != nil {
			t.Errorf("ValidateComputeName(%q): %v", n, err)
		}
	}
	wantErr(t, ValidateComputeName("router", "Router"), `invalid router name "Router"`)
	wantErr(t, ValidateConnectorName(""), "empty name")
}

func TestVPCMode(t *testing.T) {
	tests := []struct {
		v    VPC
		want Mode
	}{
		{VPC{}, ModeNone},
		{VPC{Egress: EgressAllTraffic}, ModeNone},
		{VPC{Connector: "c1"}, ModeConnector},
		{VPC{Network: "n"}, ModeDirect},
		{VPC{Subnet: "s"}, ModeDirect},
		{VPC{Connector: "c1", Network: "n"}, ModeConnector},
	}
	for _, tt := range tests {
		if got := tt.v.Mode(); got != tt.want {
			t.Errorf("%+v.Mode() = %q, want %q", tt.v, got, tt.want)
		}
	}
	w := Workload{VPC: VPC{Subnet: "s"}}
	if w.Mode() != ModeDirect {
		t.Error("Workload.Mode wrong")
	}
}

func TestVPCCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   VPC
		want VPC
	}{
		{"none", VPC{}, VPC{}},
		{"none drops egress and tags", VPC{Egress: EgressAllTraffic, Tags: []string{"a"}}, VPC{}},
		{"connector short", VPC{Connector: "run-connector"},
			VPC{Connector: "projects/my-project/locations/asia-northeast1/connectors/run-connector", Egress: EgressPrivateRangesOnly}},
		{"connector full", VPC{Connector: "projects/p-123456/locations/asia-northeast1/connectors/c1", Egress: EgressAllTraffic},
			VPC{Connector: "projects/p-123456/locations/asia-northeast1/connectors/c1", Egress: EgressAllTraffic}},
		{"network only: same-name subnet", VPC{Network: "run-vpc"},
			VPC{Network: "projects/my-project/global/networks/run-vpc", Subnet: "projects/my-project/regions/asia-northeast1/subnetworks/run-vpc", Egress: EgressPrivateRangesOnly}},
		{"subnet only", VPC{Subnet: "run-subnet", Egress: EgressAllTraffic},
			VPC{Subnet: "projects/my-project/regions/asia-northeast1/subnetworks/run-subnet", Egress: EgressAllTraffic}},
		{"both, tags sorted and deduplicated", VPC{Network: "run-vpc", Subnet: "run-subnet", Tags: []string{"web", "db", "web"}},
			VPC{Network: "projects/my-project/global/networks/run-vpc", Subnet: "projects/my-project/regions/asia-northeast1/subnetworks/run-subnet",
				Tags: []string{"db", "web"}, Egress: EgressPrivateRangesOnly}},
		{"shared VPC: short subnet in the host project", VPC{Network: "projects/host-project/global/networks/shared", Subnet: "s1"},
			VPC{Network: "projects/host-project/global/networks/shared", Subnet: "projects/host-project/regions/asia-northeast1/subnetworks/s1", Egress: EgressPrivateRangesOnly}},
		{"shared VPC: network only", VPC{Network: "https://www.googleapis.com/compute/v1/projects/host-project/global/networks/shared"},
			VPC{Network: "projects/host-project/global/networks/shared", Subnet: "projects/host-project/regions/asia-northeast1/subnetworks/shared", Egress: EgressPrivateRangesOnly}},
		{"subnet URL", VPC{Subnet: "https://www.googleapis.com/compute/v1/projects/host-project/regions/asia-northeast1/subnetworks/s1"},
			VPC{Subnet: "projects/host-project/regions/asia-northeast1/subnetworks/s1", Egress: EgressPrivateRangesOnly}},
	}
	for _, tt := range tests {
		got, err := tt.in.Canonical(proj, region)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.String() != tt.want.String() || !equalStrings(got.Tags, tt.want.Tags) {
			t.Errorf("%s: Canonical = %s, want %s", tt.name, got, tt.want)
		}
		// Canonical is idempotent.
		again, err := got.Canonical(proj, region)
		if err != nil || again.String() != got.String() {
			t.Errorf("%s: Canonical not idempotent: %s, %v", tt.name, again, err)
		}
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestVPCValidate(t *testing.T) {
	ok := []VPC{
		{},
		{Connector: "c1"},
		{Connector: "c1", Egress: EgressAllTraffic},
		{Network: "n1", Tags: []string{"a"}},
		{Subnet: "s1", Egress: EgressPrivateRangesOnly},
	}
	for _, v := range ok {
		if err := v.Validate(proj, region); err != nil {
			t.Errorf("Validate(%+v): %v", v, err)
		}
	}
	bad := []struct {
		v   VPC
		err string
	}{
		{VPC{Connector: "c1", Network: "n1"}, "one and only one of connector and network interface"},
		{VPC{Connector: "c1", Subnet: "s1"}, "one and only one"},
		{VPC{Tags: []string{"a"}}, "network tags need Direct VPC egress"},
		{VPC{Egress: EgressAllTraffic}, "an egress setting needs a connector"},
		{VPC{Connector: "c1", Tags: []string{"a"}}, "connectors carry their own tags"},
		{VPC{Connector: "C1"}, `connector name "C1"`},
		{VPC{Network: "n1", Tags: []string{"Bad"}}, `network tag "Bad"`},
		{VPC{Subnet: "projects/x/regions/y/subnetworks/z"}, "project"},
		{VPC{Network: "n_1"}, `network name "n_1"`},
	}
	for _, tt := range bad {
		wantErr(t, tt.v.Validate(proj, region), tt.err)
	}
	if _, err := (VPC{Connector: "c1", Network: "n"}).Canonical(proj, region); err == nil {
		t.Error("Canonical accepted a connector and a network")
	}
}

func TestVPCEquivalent(t *testing.T) {
	tests := []struct {
		a, b VPC
		want bool
	}{
		{VPC{}, VPC{}, true},
		{VPC{}, VPC{Egress: EgressAllTraffic}, true},
		{VPC{Connector: "c1"}, VPC{Connector: "projects/my-project/locations/asia-northeast1/connectors/c1", Egress: EgressPrivateRangesOnly}, true},
		{VPC{Connector: "c1"}, VPC{Connector: "c1", Egress: EgressAllTraffic}, false},
		{VPC{Connector: "c1"}, VPC{Connector: "c2"}, false},
		{VPC{Connector: "c1"}, VPC{}, false},
		{VPC{Network: "run-vpc", Subnet: "run-subnet"}, VPC{Subnet: "projects/my-project/regions/asia-northeast1/subnetworks/run-subnet"}, true},
		{VPC{Network: "run-vpc"}, VPC{Network: "run-vpc", Subnet: "run-vpc"}, true},
		{VPC{Network: "run-vpc"}, VPC{Subnet: "run-vpc"}, true},
		{VPC{Network: "run-vpc", Subnet: "s"}, VPC{Network: "other-vpc", Subnet: "s"}, false},
		{VPC{Subnet: "s", Tags: []string{"b", "a"}}, VPC{Subnet: "s", Tags: []string{"a", "b", "a"}}, true},
		{VPC{Subnet: "s", Tags: []string{"a"}}, VPC{Subnet: "s"}, false},
		{VPC{Subnet: "s"}, VPC{Subnet: "s", Egress: EgressPrivateRangesOnly}, true},
		{VPC{Subnet: "s1"}, VPC{Subnet: "s2"}, false},
		{VPC{Subnet: "s1"}, VPC{Subnet: "regions/us-east1/subnetworks/s1"}, false},
	}
	for _, tt := range tests {
		got, err := tt.a.Equivalent(tt.b, proj, region)
		if err != nil || got != tt.want {
			t.Errorf("%s ≡ %s = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
		if back, _ := tt.b.Equivalent(tt.a, proj, region); back != got {
			t.Errorf("Equivalent not symmetric for %s, %s", tt.a, tt.b)
		}
	}
	if _, err := (VPC{Connector: "C"}).Equivalent(VPC{}, proj, region); err == nil {
		t.Error("Equivalent accepted a bad connector")
	}
	if _, err := (VPC{}).Equivalent(VPC{Subnet: "S"}, proj, region); err == nil {
		t.Error("Equivalent accepted a bad subnet")
	}
}

func TestVPCString(t *testing.T) {
	tests := []struct {
		v           VPC
		long, short string
	}{
		{VPC{}, "none", "none"},
		{VPC{Connector: "projects/p/locations/r/connectors/c", Egress: EgressAllTraffic},
			"connector: connector projects/p/locations/r/connectors/c, egress all-traffic", "connector: connector c, egress all-traffic"},
		{VPC{Network: "n", Subnet: "projects/p/regions/r/subnetworks/s", Tags: []string{"a", "b"}},
			"direct: network n, subnet projects/p/regions/r/subnetworks/s, tags [a b], egress private-ranges-only",
			"direct: network n, subnet s, tags [a b], egress private-ranges-only"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.long {
			t.Errorf("String = %q, want %q", got, tt.long)
		}
		if got := tt.v.Short(); got != tt.short {
			t.Errorf("Short = %q, want %q", got, tt.short)
		}
	}
}

func TestEffectiveMaxInstances(t *testing.T) {
	tests := []struct {
		kind Kind
		max  int
		want int
	}{
		{KindService, 0, DefaultServiceMaxInstances},
		{KindService, 7, 7},
		{KindJob, 0, DefaultJobParallelism},
		{KindJob, 30, 30},
		{KindWorkerPool, 0, DefaultWorkerPoolInstances},
		{KindWorkerPool, -1, DefaultWorkerPoolInstances},
	}
	for _, tt := range tests {
		w := Workload{Ref: WorkloadRef{Kind: tt.kind}, MaxInstances: tt.max}
		if got := w.EffectiveMaxInstances(); got != tt.want {
			t.Errorf("%s max %d: EffectiveMaxInstances = %d, want %d", tt.kind, tt.max, got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	w := Workload{
		Ref:          WorkloadRef{KindJob, proj, region, "nightly"},
		VPC:          VPC{Network: "n", Subnet: "s", Tags: []string{"a"}, Egress: EgressAllTraffic},
		MaxInstances: 10,
		Traffic:      []TrafficTarget{{Latest: true, Percent: 100}},
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ref":{"kind":"job","project":"my-project","region":"asia-northeast1","name":"nightly"},` +
		`"vpc":{"network":"n","subnet":"s","tags":["a"],"egress":"all-traffic"},"maxInstances":10,"minInstances":0,` +
		`"traffic":[{"latest":true,"percent":100}]}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
	var back Workload
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Ref != w.Ref || back.VPC.String() != w.VPC.String() {
		t.Errorf("round trip = %+v", back)
	}
	// Text unmarshalling accepts aliases and rejects nonsense.
	var v struct {
		M Mode   `json:"m"`
		E Egress `json:"e"`
		K Kind   `json:"k"`
	}
	if err := json.Unmarshal([]byte(`{"m":"DIRECT","e":"ALL_TRAFFIC","k":"jobs"}`), &v); err != nil || v.M != ModeDirect || v.E != EgressAllTraffic || v.K != KindJob {
		t.Errorf("unmarshal aliases = %+v, %v", v, err)
	}
	if err := json.Unmarshal([]byte(`{"m":"","e":"","k":""}`), &v); err != nil || v.M != "" || v.E != EgressUnset || v.K != "" {
		t.Errorf("unmarshal empty = %+v, %v", v, err)
	}
	for _, in := range []string{`{"m":"x"}`, `{"e":"x"}`, `{"k":"x"}`} {
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("unmarshal %s: no error", in)
		}
	}
}
