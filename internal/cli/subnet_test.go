package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

func TestSubnetCreateValidation(t *testing.T) {
	base := []string{"create", "s1", "--network", "run-vpc"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"host bits", []string{"--range", "10.0.1.0/23"}, "--range: 10.0.1.0/23 is not a network address (did you mean 10.0.0.0/23?)"},
		{"too small", []string{"--range", "10.0.0.0/30"}, "--range: 10.0.0.0/30 is not a valid subnet range: the prefix length must be from /8 to /29"},
		{"too large", []string{"--range", "10.0.0.0/7"}, "the prefix length must be from /8 to /29"},
		{"no prefix length", []string{"--range", "10.0.0.0"}, "--range: 10.0.0.0 is not a CIDR range: missing /prefix-length"},
		{"not canonical", []string{"--range", "010.0.0.0/24"}, "--range: 010.0.0.0/24 is not a CIDR range"},
		{"IPv6", []string{"--range", "fd00::/64"}, "is not an IPv4 CIDR range"},
		{"prefix too long", []string{"--range", "auto", "--prefix", "30"}, "--prefix: 30 is out of range; valid: 8 to 29"},
		{"prefix too short", []string{"--range", "auto", "--prefix", "7"}, "--prefix: 7 is out of range; valid: 8 to 29"},
		{"prefix without auto", []string{"--range", "10.0.0.0/24", "--prefix", "24"}, "--prefix: only with --range auto"},
		{"interval", []string{"--range", "10.0.0.0/24", "--flow-logs", "--flow-logs-interval", "20m"}, `--flow-logs-interval: "20m" is not an interval; valid: 5s, 30s, 1m, 5m, 10m, 15m`},
		{"sampling high", []string{"--range", "10.0.0.0/24", "--flow-logs", "--flow-logs-sampling", "1.01"}, "--flow-logs-sampling: 1.01 is out of range; valid: 0.0 to 1.0"},
		{"sampling negative", []string{"--range", "10.0.0.0/24", "--flow-logs", "--flow-logs-sampling=-0.1"}, "--flow-logs-sampling: -0.1 is out of range"},
		{"sampling NaN", []string{"--range", "10.0.0.0/24", "--flow-logs", "--flow-logs-sampling", "NaN"}, "--flow-logs-sampling: NaN is out of range"},
		{"metadata", []string{"--range", "10.0.0.0/24", "--flow-logs", "--flow-logs-metadata", "custom"}, `--flow-logs-metadata: "custom" is not valid; valid: include-all, exclude-all`},
		{"interval without flow logs", []string{"--range", "10.0.0.0/24", "--flow-logs-interval", "10m"}, "--flow-logs-interval: only with --flow-logs"},
		{"sampling without flow logs", []string{"--range", "10.0.0.0/24", "--flow-logs-sampling", "0.5"}, "--flow-logs-sampling: only with --flow-logs"},
		{"metadata without flow logs", []string{"--range", "10.0.0.0/24", "--flow-logs-metadata", "include-all"}, "--flow-logs-metadata: only with --flow-logs"},
		{"no range", nil, `required flag(s) "range" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			r := runSub(t, "subnet", func(f *Factory) *cobra.Command {
				return NewCmdSubnetCreate(f, func(context.Context, *SubnetCreateOptions) error { called = true; return nil })
			}, append(append([]string{}, base...), tt.args...))
			if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, tt.want) || called {
				t.Errorf("exit %d, called %v, stderr %q; want exit 2 and %q", r.Code, called, r.Stderr, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad name", []string{"create", "S1", "--network", "n", "--range", "10.0.0.0/24"}, `invalid subnetwork name "S1"`},
		{"bad network", []string{"create", "s1", "--network", "N", "--range", "10.0.0.0/24"}, `--network: invalid network "N"`},
		{"network in another project", []string{"create", "s1", "--network", "projects/other-proj/global/networks/n", "--range", "10.0.0.0/24"}, "a subnet must be in its network's project (demo-project)"},
		{"no network", []string{"create", "s1", "--range", "10.0.0.0/24"}, `required flag(s) "network" not set`},
	} {
		r := runSub(t, "subnet", func(f *Factory) *cobra.Command { return NewCmdSubnetCreate(f, nil) }, tt.args)
		if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want %q", tt.name, r.Code, r.Stderr, tt.want)
		}
	}
}

func TestSubnetCreateSpec(t *testing.T) {
	var got *SubnetCreateOptions
	mk := func(f *Factory) *cobra.Command {
		return NewCmdSubnetCreate(f, func(_ context.Context, o *SubnetCreateOptions) error { got = o; return nil })
	}
	r := runSub(t, "subnet", mk, []string{"create", "direct", "--network", "run-vpc", "--range", "10.8.0.0/24", "--flow-logs",
		"--flow-logs-interval", "10m", "--flow-logs-sampling", "0.5", "--flow-logs-metadata", "include-all", "--enable-private-ip-google-access"})
	if r.Code != 0 || got == nil {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	s := got.Spec
	if s.Ref.Path() != "projects/demo-project/regions/asia-northeast1/subnetworks/direct" || s.Network != "projects/demo-project/global/networks/run-vpc" ||
		s.IPCIDRRange != "10.8.0.0/24" || !s.PrivateIPGoogleAccess || got.Auto || len(got.Warnings) != 0 {
		t.Errorf("spec = %+v", s)
	}
	if s.FlowLogs == nil || *s.FlowLogs != (cloud.FlowLogs{Enabled: true, AggregationInterval: "INTERVAL_10_MIN", FlowSampling: 0.5, Metadata: "INCLUDE_ALL_METADATA"}) {
		t.Errorf("flow logs = %+v", s.FlowLogs)
	}

	// gcloud's spellings of the interval work too; defaults stay with the API.
	got = nil
	r = runSub(t, "subnet", mk, []string{"create", "direct", "--network", "run-vpc", "--range", "10.8.0.0/24", "--flow-logs", "--flow-logs-interval", "interval-15-min"})
	if r.Code != 0 || got.Spec.FlowLogs.AggregationInterval != "INTERVAL_15_MIN" || got.Spec.FlowLogs.Metadata != "" || got.Spec.FlowLogs.FlowSampling != 0.5 {
		t.Errorf("exit %d, flow logs %+v", r.Code, got.Spec.FlowLogs)
	}

	got = nil
	r = runSub(t, "subnet", mk, []string{"create", "direct", "--network", "run-vpc", "--range", "auto"})
	if r.Code != 0 || !got.Auto || got.Prefix != 26 || got.Spec.IPCIDRRange != "" || got.Spec.FlowLogs != nil {
		t.Errorf("auto: exit %d, %+v", r.Code, got)
	}

	// Ranges Direct VPC egress cannot use are allowed, with a warning.
	for _, tt := range []struct{ args []string }{
		{[]string{"--range", "10.0.0.0/27"}},
		{[]string{"--range", "auto", "--prefix", "28"}},
		{[]string{"--range", "8.8.8.0/24"}},
	} {
		got = nil
		r = runSub(t, "subnet", mk, append([]string{"create", "s", "--network", "n"}, tt.args...))
		if r.Code != 0 || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "Direct VPC egress") {
			t.Errorf("%v: exit %d, warnings %q", tt.args, r.Code, got.Warnings)
		}
	}
}

func TestSubnetNameArguments(t *testing.T) {
	mks := map[string]func(*Factory) *cobra.Command{
		"describe": func(f *Factory) *cobra.Command {
			return NewCmdSubnetDescribe(f, func(context.Context, *SubnetDescribeOptions) error { return nil })
		},
		"delete": func(f *Factory) *cobra.Command {
			return NewCmdSubnetDelete(f, func(context.Context, *SubnetDeleteOptions) error { return nil })
		},
	}
	for verb, mk := range mks {
		for _, tt := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"run-subnet"}, 0, ""},
			{[]string{"projects/host-project/regions/asia-northeast1/subnetworks/shared"}, 0, ""},
			{[]string{"https://www.googleapis.com/compute/v1/projects/demo-project/regions/asia-northeast1/subnetworks/s"}, 0, ""},
			{[]string{"Run_Subnet"}, exitcode.Usage, `invalid subnetwork name "Run_Subnet"`},
			{[]string{"projects/p-123456/regions/us-east1/subnetworks/s", "--region", "asia-northeast1"}, exitcode.Usage, "is in region us-east1, but --region is asia-northeast1"},
			{[]string{"projects/x/subnetworks/s"}, exitcode.Usage, "valid forms: NAME, projects/PROJECT/regions/REGION/subnetworks/NAME"},
		} {
			r := runSub(t, "subnet", mk, append([]string{verb}, tt.args...))
			if r.Code != tt.code || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("%s %v: exit %d, stderr %q; want %d, %q", verb, tt.args, r.Code, r.Stderr, tt.code, tt.want)
			}
		}
	}
	r := runSub(t, "subnet", func(f *Factory) *cobra.Command {
		return NewCmdSubnetList(f, func(context.Context, *SubnetListOptions) error { return nil })
	}, []string{"list", "--network", "Bad"})
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, `--network: invalid network "Bad"`) {
		t.Errorf("list --network: exit %d, %q", r.Code, r.Stderr)
	}
}

func TestSubnetPlanValidation(t *testing.T) {
	mk := func(f *Factory) *cobra.Command {
		return NewCmdSubnetPlan(f, func(*SubnetPlanOptions) error { return nil })
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-instances", "0"}, "--max-instances: 0 is out of range; valid: 1 or more"},
		{[]string{"--max-instances", "-3"}, "--max-instances: -3 is out of range"},
		{[]string{"--max-instances", "5", "--workloads", "0"}, "--workloads: 0 is out of range; valid: 1 or more"},
		{[]string{"--max-instances", "1000000000", "--workloads", "1000"}, "--max-instances 1000000000, --workloads 1000: 1000 workloads x 1000000000 instances (with rollout overlap) need more than"},
		{nil, `required flag(s) "max-instances" not set`},
		{[]string{"--max-instances", "x"}, `invalid argument "x" for "--max-instances"`},
	} {
		r := runSub(t, "subnet", mk, append([]string{"plan"}, tt.args...))
		if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tt.args, r.Code, r.Stderr, tt.want)
		}
	}
	// No project or region is needed.
	var got *SubnetPlanOptions
	r := runSub(t, "subnet", func(f *Factory) *cobra.Command {
		return NewCmdSubnetPlan(f, func(o *SubnetPlanOptions) error { got = o; return nil })
	}, []string{"plan", "--max-instances", "100", "--workloads", "2", "--no-rollout-overlap"}, "CLOUDSDK_CORE_PROJECT", "", "CLOUDSDK_RUN_REGION", "")
	if r.Code != 0 || got.Plan.Prefix != 23 || got.Plan.BlocksNeeded != 26 || got.Plan.RolloutOverlap {
		t.Errorf("exit %d, plan %+v", r.Code, got)
	}
}

func TestSubnetPlanOutput(t *testing.T) {
	r := runCLI(t, false, []string{"subnet", "plan", "--max-instances", "150", "--format", "table"})
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	want := `  2 IPs x 150 instances = 300 IPs per revision
  300 IPs in /28 blocks = 19 blocks = 304 addresses per revision
  19 blocks x 2 (rollout overlap: old and new revisions hold IPs at once) = 38 blocks per workload
  /23 has 508 usable addresses (512 - 4 reserved) = 31 blocks < 38 blocks needed
  /22 has 1020 usable addresses (1024 - 4 reserved) = 63 blocks >= 38 blocks needed
Use a /22 or larger: 1020 usable addresses, 63 /28 blocks for 38 needed.
  runnet subnet create NAME --network NETWORK --range auto --prefix 22
Note: 150 instances is above the default Direct VPC egress quota of 100 instances per revision in most regions; ask for more quota first
`
	if r.Stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.Stdout, want)
	}
	r = runCLI(t, false, []string{"subnet", "plan", "--max-instances", "20", "--format", "json"})
	for _, s := range []string{`"maxInstances": 20`, `"ipsNeeded": 80`, `"blocksNeeded": 6`, `"prefix": 25`, `"usable": 124`, `"blocks": 7`, `"steps": [`} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("json lacks %s:\n%s", s, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "warnings") {
		t.Errorf("json has warnings:\n%s", r.Stdout)
	}
}

func TestFlowLogsHelpers(t *testing.T) {
	for in, want := range map[string]string{"5s": "INTERVAL_5_SEC", "30s": "INTERVAL_30_SEC", "1m": "INTERVAL_1_MIN", "5m": "INTERVAL_5_MIN",
		"10m": "INTERVAL_10_MIN", "15m": "INTERVAL_15_MIN", "interval-10-min": "INTERVAL_10_MIN", "INTERVAL_5_SEC": "INTERVAL_5_SEC"} {
		if got, err := ParseFlowLogsInterval(in); err != nil || got != want {
			t.Errorf("ParseFlowLogsInterval(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFlowLogsInterval("10min"); cloud.ExitCode(err) != exitcode.Usage {
		t.Errorf("10min: %v", err)
	}
	for in, want := range map[string]string{"include-all": "INCLUDE_ALL_METADATA", "exclude-all": "EXCLUDE_ALL_METADATA", "INCLUDE_ALL_METADATA": "INCLUDE_ALL_METADATA"} {
		if got, err := ParseFlowLogsMetadata(in); err != nil || got != want {
			t.Errorf("ParseFlowLogsMetadata(%q) = %q, %v", in, got, err)
		}
	}
	for _, tt := range []struct {
		fl   *cloud.FlowLogs
		want string
	}{
		{nil, "off"},
		{&cloud.FlowLogs{Enabled: false}, "off"},
		{&cloud.FlowLogs{Enabled: true, AggregationInterval: "INTERVAL_10_MIN", FlowSampling: 0.5, Metadata: "INCLUDE_ALL_METADATA"}, "10m 0.5 include-all"},
		{&cloud.FlowLogs{Enabled: true, FlowSampling: 1}, "1"},
	} {
		if got := flowLogsCell(tt.fl); got != tt.want {
			t.Errorf("flowLogsCell(%+v) = %q, want %q", tt.fl, got, tt.want)
		}
	}
}

func TestValidateConnectorAndSubnetRanges(t *testing.T) {
	for _, ok := range []string{"10.0.0.0/28", "172.16.5.0/28", "192.168.255.240/28", "100.64.0.0/28"} {
		if _, err := ValidateConnectorRange(ok); err != nil {
			t.Errorf("ValidateConnectorRange(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.0/27", "10.0.0.1/28", "11.0.0.0/28", "", "10.0.0.0", "::/28"} {
		if _, err := ValidateConnectorRange(bad); err == nil {
			t.Errorf("ValidateConnectorRange(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"10.0.0.0/8", "10.0.0.0/29", "8.8.8.0/24"} {
		if _, err := ValidateSubnetCIDR(ok); err != nil {
			t.Errorf("ValidateSubnetCIDR(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.0/7", "10.0.0.0/30", "10.0.0.1/24"} {
		if _, err := ValidateSubnetCIDR(bad); cloud.ExitCode(err) != exitcode.Usage {
			t.Errorf("ValidateSubnetCIDR(%q): %v", bad, err)
		}
	}
	if ValidateSubnetPrefix(ipam.MinSubnetPrefix) != nil || ValidateSubnetPrefix(ipam.MaxSubnetPrefix) != nil || ValidateSubnetPrefix(30) == nil {
		t.Error("ValidateSubnetPrefix bounds")
	}
	if ValidateConnectorSize(2, 3, "e2-micro") != nil || ValidateConnectorSize(9, 10, "e2-standard-4") != nil {
		t.Error("ValidateConnectorSize rejects valid bounds")
	}
}

func TestSubnetListTable(t *testing.T) {
	v := subnetListView{{Subnet: &cloud.Subnet{Name: "s", Region: "r", Network: "n", IPCIDRRange: "10.0.0.0/26", UsableIPs: 60,
		ReservedIPs: 16, ServerlessIPs: 16, FreeBlocks: 2, Blocks: 3}}}
	h, rows := v.Table()
	if len(h) != 9 || strings.Join(rows[0], "|") != "s|r|n|10.0.0.0/26|60|16|16|2/3|off" {
		t.Errorf("table %v %v", h, rows)
	}
	var b bytes.Buffer
	if err := (SubnetPlanView{}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
}
