package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// runSub runs args against a root command whose group (connector, subnet) holds only the
// command mk builds, so a test can give it a runF. The project and region come from the
// environment unless env overrides them.
func runSub(t *testing.T, group string, mk func(*Factory) *cobra.Command, args []string, env ...string) result {
	t.Helper()
	streams, _, out, errOut := iostreams.Test()
	kv := append([]string{"CLOUDSDK_CORE_PROJECT", "demo-project", "CLOUDSDK_RUN_REGION", "asia-northeast1"}, env...)
	f := NewFactory(streams, harness.Hermetic(t, kv...))
	root := NewRootCmd(f)
	for _, c := range root.Commands() {
		if c.Name() == group {
			root.RemoveCommand(c)
		}
	}
	g := newGroupCmd(group, "test group")
	g.AddCommand(mk(f))
	root.AddCommand(g)
	code := execute(context.Background(), f, root, append([]string{group}, args...))
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

func TestConnectorCreateValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad name", []string{"Bad_Name", "--range", "10.0.0.0/28"}, `invalid connector name "Bad_Name"`},
		{"name too long", []string{"abcdefghijklmnopqrstuvwxyz", "--range", "10.0.0.0/28"}, "is 26 characters long, more than the 25 allowed"},
		{"name ends with hyphen", []string{"conn-", "--range", "10.0.0.0/28"}, "pattern ^[a-z][-a-z0-9]{0,23}[a-z0-9]$"},
		{"one-letter name", []string{"c", "--range", "10.0.0.0/28"}, `invalid connector name "c"`},
		{"neither range nor subnet", []string{"conn"}, "one of --range CIDR (with --network) or --subnet SUBNET is required"},
		{"both range and subnet", []string{"conn", "--range", "10.0.0.0/28", "--subnet", "s"}, "--range and --subnet: give one, not both"},
		{"range /27", []string{"conn", "--range", "10.0.0.0/27"}, "--range: 10.0.0.0/27 is not a valid connector range: it must be a /28"},
		{"range /29", []string{"conn", "--range", "10.0.0.0/29"}, "it must be a /28"},
		{"range host bits", []string{"conn", "--range", "10.0.0.8/28"}, "--range: 10.0.0.8/28 is not a network address (did you mean 10.0.0.0/28?)"},
		{"range public", []string{"conn", "--range", "35.1.0.0/28"}, "--range: 35.1.0.0/28 is not an internal range"},
		{"range class E", []string{"conn", "--range", "240.0.0.0/28"}, "is not an internal range"},
		{"range garbage", []string{"conn", "--range", "ten"}, "--range: ten is not a CIDR range"},
		{"range IPv6", []string{"conn", "--range", "fd00::/124"}, "is not an IPv4 CIDR range"},
		{"network with subnet", []string{"conn", "--subnet", "s", "--network", "n"}, "--network: only with --range"},
		{"bad network", []string{"conn", "--range", "10.0.0.0/28", "--network", "Net"}, `--network: invalid network "Net"`},
		{"network of another project", []string{"conn", "--range", "10.0.0.0/28", "--network", "projects/host-project/global/networks/n"}, "must use a network of its own project (demo-project), not host-project"},
		{"subnet-project with range", []string{"conn", "--range", "10.0.0.0/28", "--subnet-project", "host-project"}, "--subnet-project: only with --subnet"},
		{"bad subnet", []string{"conn", "--subnet", "Sub"}, `--subnet: invalid subnetwork "Sub"`},
		{"bad subnet project", []string{"conn", "--subnet", "s", "--subnet-project", "X"}, `--subnet-project: invalid project "X"`},
		{"subnet in another region", []string{"conn", "--subnet", "regions/us-central1/subnetworks/s"}, "--subnet: regions/us-central1/subnetworks/s is in region us-central1; a connector in asia-northeast1 needs a subnet of its own region"},
		{"subnet path contradicts subnet-project", []string{"conn", "--subnet", "projects/host-a/regions/asia-northeast1/subnetworks/s", "--subnet-project", "host-b2"}, "is in project host-a, but --subnet-project is host-b2"},
		{"min too low", []string{"conn", "--range", "10.0.0.0/28", "--min-instances", "1"}, "--min-instances: 1 is out of range; valid: 2 to 9"},
		{"min too high", []string{"conn", "--range", "10.0.0.0/28", "--min-instances", "10"}, "--min-instances: 10 is out of range; valid: 2 to 9"},
		{"max too low", []string{"conn", "--range", "10.0.0.0/28", "--max-instances", "2"}, "--max-instances: 2 is out of range; valid: 3 to 10"},
		{"max too high", []string{"conn", "--range", "10.0.0.0/28", "--max-instances", "11"}, "--max-instances: 11 is out of range; valid: 3 to 10"},
		{"min equals max", []string{"conn", "--range", "10.0.0.0/28", "--min-instances", "4", "--max-instances", "4"}, "--max-instances: 4 must be greater than --min-instances (4)"},
		{"min above max", []string{"conn", "--range", "10.0.0.0/28", "--min-instances", "9", "--max-instances", "3"}, "--max-instances: 3 must be greater than --min-instances (9)"},
		{"machine type", []string{"conn", "--range", "10.0.0.0/28", "--machine-type", "e2-small"}, `--machine-type: "e2-small" is not a connector machine type; valid: e2-micro, f1-micro, e2-standard-4`},
		{"full name in another region", []string{"projects/demo-project/locations/us-east1/connectors/c1", "--range", "10.0.0.0/28", "--region", "asia-northeast1"}, "is in region us-east1, but --region is asia-northeast1"},
		{"no argument", []string{}, "accepts 1 arg(s), received 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			r := runSub(t, "connector", func(f *Factory) *cobra.Command {
				return NewCmdConnectorCreate(f, func(context.Context, *ConnectorCreateOptions) error { called = true; return nil })
			}, append([]string{"create"}, tt.args...))
			if r.Code != exitcode.Usage {
				t.Errorf("exit code %d, want %d; stderr %s", r.Code, exitcode.Usage, r.Stderr)
			}
			if !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.Stderr, tt.want)
			}
			if called {
				t.Error("run was called")
			}
		})
	}
}

func TestConnectorCreateSpec(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want cloud.ConnectorSpec
	}{
		{"range with the default network", []string{"conn", "--range", "10.8.1.0/28"}, cloud.ConnectorSpec{
			Network: "default", IPCIDRRange: "10.8.1.0/28", MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10}},
		{"range in a network given as a URL", []string{"conn", "--range", "100.64.0.0/28", "--network", "https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/run-vpc",
			"--min-instances", "3", "--max-instances", "4", "--machine-type", "e2-standard-4"}, cloud.ConnectorSpec{
			Network: "run-vpc", IPCIDRRange: "100.64.0.0/28", MachineType: "e2-standard-4", MinInstances: 3, MaxInstances: 4}},
		{"subnet", []string{"conn", "--subnet", "conn-subnet", "--max-instances", "3", "--machine-type", "f1-micro"}, cloud.ConnectorSpec{
			Subnet: &cloud.ConnectorSubnet{Name: "conn-subnet", ProjectID: "demo-project"}, MachineType: "f1-micro", MinInstances: 2, MaxInstances: 3}},
		{"Shared VPC subnet project", []string{"conn", "--subnet", "shared", "--subnet-project", "host-project"}, cloud.ConnectorSpec{
			Subnet: &cloud.ConnectorSubnet{Name: "shared", ProjectID: "host-project"}, MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10}},
		{"Shared VPC subnet path", []string{"conn", "--subnet", "projects/host-project/regions/asia-northeast1/subnetworks/shared"}, cloud.ConnectorSpec{
			Subnet: &cloud.ConnectorSubnet{Name: "shared", ProjectID: "host-project"}, MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ConnectorCreateOptions
			r := runSub(t, "connector", func(f *Factory) *cobra.Command {
				return NewCmdConnectorCreate(f, func(_ context.Context, o *ConnectorCreateOptions) error { got = o; return nil })
			}, append([]string{"create"}, tt.args...))
			if r.Code != 0 || got == nil {
				t.Fatalf("exit %d, stderr %s", r.Code, r.Stderr)
			}
			want := tt.want
			want.Ref = got.Spec.Ref
			if got.Spec.Ref.FullName() != "projects/demo-project/locations/asia-northeast1/connectors/conn" {
				t.Errorf("ref = %+v", got.Spec.Ref)
			}
			g := got.Spec
			if g.Network != want.Network || g.IPCIDRRange != want.IPCIDRRange || g.MachineType != want.MachineType ||
				g.MinInstances != want.MinInstances || g.MaxInstances != want.MaxInstances ||
				(g.Subnet == nil) != (want.Subnet == nil) || (g.Subnet != nil && *g.Subnet != *want.Subnet) {
				t.Errorf("spec = %+v (subnet %+v), want %+v (subnet %+v)", g, g.Subnet, want, want.Subnet)
			}
		})
	}
}

func TestConnectorNameArguments(t *testing.T) {
	mks := map[string]func(*Factory) *cobra.Command{
		"describe": func(f *Factory) *cobra.Command {
			return NewCmdConnectorDescribe(f, func(context.Context, *ConnectorDescribeOptions) error { return nil })
		},
		"users": func(f *Factory) *cobra.Command {
			return NewCmdConnectorUsers(f, func(context.Context, *ConnectorUsersOptions) error { return nil })
		},
		"delete": func(f *Factory) *cobra.Command {
			return NewCmdConnectorDelete(f, func(context.Context, *ConnectorDeleteOptions) error { return nil })
		},
	}
	for verb, mk := range mks {
		for _, tt := range []struct {
			arg  string
			code int
			want string
		}{
			{"run-connector", 0, ""},
			{"projects/demo-project/locations/asia-northeast1/connectors/run-connector", 0, ""},
			{"Run_Connector", exitcode.Usage, `invalid connector name "Run_Connector"`},
			{"projects/demo-project/connectors/x", exitcode.Usage, "valid forms: NAME or projects/PROJECT/locations/REGION/connectors/NAME"},
		} {
			r := runSub(t, "connector", mk, []string{verb, tt.arg})
			if r.Code != tt.code || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("%s %s: exit %d, stderr %q; want %d, %q", verb, tt.arg, r.Code, r.Stderr, tt.code, tt.want)
			}
		}
	}
	// No project anywhere: a usage error that says how to set one.
	r := runSub(t, "connector", mks["describe"], []string{"describe", "run-connector"}, "CLOUDSDK_CORE_PROJECT", "")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "project") {
		t.Errorf("no project: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// A full name needs no --project or --region.
	r = runSub(t, "connector", mks["delete"], []string{"delete", "projects/demo-project/locations/asia-northeast1/connectors/run-connector"},
		"CLOUDSDK_CORE_PROJECT", "", "CLOUDSDK_RUN_REGION", "")
	if r.Code != 0 {
		t.Errorf("full name without project: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestConnectorListRegionValidation(t *testing.T) {
	r := runSub(t, "connector", func(f *Factory) *cobra.Command {
		return NewCmdConnectorList(f, func(context.Context, *ConnectorListOptions) error { return nil })
	}, []string{"list", "--region", "Asia_Northeast1"})
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "--region: invalid region") {
		t.Errorf("exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestConnectorViews(t *testing.T) {
	v := ConnectorView{Connector: &cloud.Connector{Name: "c", State: "READY", Network: "projects/p/global/networks/run-vpc",
		Subnet: &cloud.ConnectorSubnet{Name: "sn"}, MachineType: "f1-micro", MinInstances: 2, MaxInstances: 3}}
	if got := v.rangeCell(); got != "subnet sn" {
		t.Errorf("range cell = %q", got)
	}
	v.SubnetRange = "10.15.0.0/28"
	h, rows := connectorListView{v}.Table()
	if strings.Join(h, ",") != "name,state,network,range,machine type,min,max" ||
		strings.Join(rows[0], ",") != "c,READY,run-vpc,10.15.0.0/28 (subnet sn),f1-micro,2,3" {
		t.Errorf("table = %v %v", h, rows)
	}
	users := []WorkloadUser{{Workload: "run-service", Kind: "service"}, {Workload: "job/nightly-export", Kind: "job"}}
	if got := describeUsers(users, ""); got != "run-service (service), job/nightly-export" {
		t.Errorf("describeUsers = %q", got)
	}
}

func TestNetNoticeAndWarn(t *testing.T) {
	streams, _, _, errOut := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t))
	netNotice(f, "hello %d", 1)
	netWarn(f, "careful")
	streams.SetQuiet(true)
	netNotice(f, "hidden")
	netWarn(f, "still shown")
	if got := errOut.String(); got != "hello 1\nWarning: careful\nWarning: still shown\n" {
		t.Errorf("stderr = %q", got)
	}
}

func TestWaitOptionsProgressThrottled(t *testing.T) {
	streams, _, _, errOut := iostreams.Test()
	streams.SetStderrTTY(true)
	f := NewFactory(streams, harness.Hermetic(t))
	o := waitOptions(f, true)
	if !o.Async {
		t.Error("async lost")
	}
	o.Progress("one")
	o.Progress("two")
	o.Progress("three")
	if got := errOut.String(); got != "one\n" {
		t.Errorf("progress = %q", got)
	}
	// Not a terminal: nothing.
	streams.SetStderrTTY(false)
	errOut.Reset()
	waitOptions(f, false).Progress("hidden")
	if errOut.Len() != 0 {
		t.Errorf("progress without a terminal: %q", errOut.String())
	}
}
