package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/emulator"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

func TestSpaceFlagValidation(t *testing.T) {
	for _, tt := range []struct {
		group string
		mk    func(*Factory) *cobra.Command
		args  []string
		want  string
	}{
		{"subnet", func(f *Factory) *cobra.Command {
			return NewCmdSubnetCreate(f, func(context.Context, *SubnetCreateOptions) error { return nil })
		}, []string{"create", "s", "--network", "run-vpc", "--range", "10.9.0.0/24", "--space", "rfc6598"}, "--space: only with --range auto"},
		{"subnet", func(f *Factory) *cobra.Command {
			return NewCmdSubnetCreate(f, func(context.Context, *SubnetCreateOptions) error { return nil })
		}, []string{"create", "s", "--network", "run-vpc", "--range", "auto", "--space", "public"}, `--space: "public" is not an address space; valid: rfc1918, rfc6598, class-e, all`},
		{"connector", func(f *Factory) *cobra.Command {
			return NewCmdConnectorRecycle(f, func(context.Context, *ConnectorRecycleOptions) error { return nil })
		}, []string{"recycle", "run-connector", "--space", "class-e"}, "--space: a connector's range must be in RFC 1918 or RFC 6598, not class E"},
		{"connector", func(f *Factory) *cobra.Command {
			return NewCmdConnectorRecycle(f, func(context.Context, *ConnectorRecycleOptions) error { return nil })
		}, []string{"recycle", "run-connector", "--range", "10.9.0.0/28", "--space", "rfc6598"}, "--space: only with --range auto"},
	} {
		r := runSub(t, tt.group, tt.mk, tt.args)
		if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("%v: exit %d: %s; want %q", tt.args, r.Code, r.Stderr, tt.want)
		}
	}
}

// --range auto --space picks from the space named, and says why: RFC 6598 and class E when
// asked; by default RFC 1918 first. A recycled connector's /28 goes in RFC 6598 when asked.
func TestRangeAutoSpace(t *testing.T) {
	w := newEmu(t)
	for _, tc := range []struct {
		name, space, want, why string
	}{
		{"default", "", "10.0.0.0/26", "the first free /26 in 10.0.0.0/8 (RFC 1918) that overlaps none of"},
		{"shared", "rfc6598", "100.64.0.0/26", "the first free /26 in 100.64.0.0/10 (RFC 6598)"},
		{"classe", "class-e", "240.0.0.0/26", "in 240.0.0.0/4 (class E)"},
	} {
		args := []string{"subnet", "create", "auto-" + tc.name, "--network", emulator.DemoNetwork, "--range", "auto", "--format", "json"}
		if tc.space != "" {
			args = append(args, "--space", tc.space)
		}
		r := w.Run(t, false, "", args...)
		if r.Code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.name, r.Code, r.Stderr)
		}
		var out SubnetView
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("%v: %s", err, r.Stdout)
		}
		if out.IPCIDRRange != tc.want || out.AutoRange == nil || !strings.Contains(out.AutoRange.Why, tc.why) || !strings.Contains(r.Stderr, "Using range "+tc.want+": "+out.AutoRange.Why) {
			t.Errorf("%s: range %s, auto %+v, stderr %s", tc.name, out.IPCIDRRange, out.AutoRange, r.Stderr)
		}
	}
	r := w.Run(t, false, "", "connector", "recycle", emulator.DemoConnector, "--create-subnet", "--space", "rfc6598", "--yes", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("recycle: exit %d: %s", r.Code, r.Stderr)
	}
	var rep RecycleReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Subnet == nil || !strings.HasPrefix(rep.Subnet.CIDR, "100.64.") || !strings.HasPrefix(rep.New.SubnetRange, "100.64.") {
		t.Errorf("recycled connector's subnet %+v, new %+v; want RFC 6598", rep.Subnet, rep.New)
	}
	// The note says where the range was found: in RFC 6598, not next to the old 10.15.0.0/28.
	why := "range " + rep.New.SubnetRange + ": the first free /28 in 100.64.0.0/10 (RFC 6598) in network run-vpc"
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, why) }) || strings.Contains(strings.Join(rep.Notes, "\n"), "next to") {
		t.Errorf("notes %q; want %q", rep.Notes, why)
	}
}

// When RFC 1918 is full the default space falls through to RFC 6598, and the explanation
// says so.
func TestExplainAutoRange(t *testing.T) {
	got := explainAutoRange(netip.MustParsePrefix("100.64.0.0/26"), ipam.DefaultAutoSpace, 3, "run-vpc")
	want := "the first free /26 in 100.64.0.0/10 (RFC 6598) that overlaps none of the 3 ranges of network run-vpc; 10.0.0.0/8 (RFC 1918), 172.16.0.0/12 (RFC 1918), 192.168.0.0/16 (RFC 1918) had none free"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
