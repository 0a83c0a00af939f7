package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

func TestSubnetCreateStackValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad stack", []string{"--stack-type", "IPV6_ONLY"}, `--stack-type: "IPV6_ONLY" is not a stack type; valid: IPV4_ONLY, IPV4_IPV6`},
		{"dual-stack without access type", []string{"--stack-type", "IPV4_IPV6"}, "--ipv6-access-type: required with --stack-type IPV4_IPV6"},
		{"access type alone", []string{"--ipv6-access-type", "INTERNAL"}, "--ipv6-access-type: only with --stack-type IPV4_IPV6"},
		{"bad access type", []string{"--stack-type", "ipv4_ipv6", "--ipv6-access-type", "PUBLIC"}, `--ipv6-access-type: "PUBLIC" is not an IPv6 access type; valid: INTERNAL, EXTERNAL`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			r := runSub(t, "subnet", func(f *Factory) *cobra.Command {
				return NewCmdSubnetCreate(f, func(context.Context, *SubnetCreateOptions) error { called = true; return nil })
			}, append([]string{"create", "v6", "--network", "run-vpc", "--range", "10.9.0.0/24"}, tt.args...))
			if r.Code != exitcode.Usage || called || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("exit %d, called %v: %s; want %q", r.Code, called, r.Stderr, tt.want)
			}
		})
	}
}

// A dual-stack subnet with internal IPv6 needs the network's ULA range: runnet checks first
// (exit 3, nothing created); once it is enabled the subnet gets a /64 of it, and status,
// inventory, subnet list and export show the stack type.
func TestSubnetCreateDualStack(t *testing.T) {
	w := newEmu(t)
	args := []string{"subnet", "create", "run-direct-v6", "--network", emulator.DemoNetwork, "--range", "10.9.0.0/24",
		"--stack-type", "IPV4_IPV6", "--ipv6-access-type", "INTERNAL", "--format", "json"}
	r := w.Run(t, false, "", args...)
	if r.Code != exitcode.Preflight || !strings.Contains(r.Stderr, "network run-vpc has no ULA internal IPv6 range; enable it first (gcloud compute networks update run-vpc --enable-ula-internal-ipv6") {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if n := w.E.Calls()["compute.subnetworks.insert"]; n != 0 {
		t.Fatalf("%d inserts after a refusal", n)
	}
	cs, err := w.Clients(t).Compute()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Networks.Patch(emulator.DemoProject, emulator.DemoNetwork, &compute.Network{EnableUlaInternalIpv6: true}).Do(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := cs.Networks.Get(emulator.DemoProject, emulator.DemoNetwork).Do()
		if err == nil && n.EnableUlaInternalIpv6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ULA internal IPv6 never enabled")
		}
	}
	r = w.Run(t, false, "", args...)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var s struct {
		StackType, IPv6AccessType, IPv6CIDRRange string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if s.StackType != "IPV4_IPV6" || s.IPv6AccessType != "INTERNAL" || !strings.HasPrefix(s.IPv6CIDRRange, "fd20:") || !strings.HasSuffix(s.IPv6CIDRRange, "/64") {
		t.Errorf("subnet %+v", s)
	}
	if !strings.Contains(r.Stderr, "dual-stack, internal IPv6 fd20:") {
		t.Errorf("stderr: %s", r.Stderr)
	}
	if r := w.Run(t, false, "", "subnet", "list"); !regexpMatch(`run-direct-v6 .* 10\.9\.0\.0/24 \+ fd20:\S+/64 \(internal\)`, r.Stdout) {
		t.Errorf("subnet list:\n%s", r.Stdout)
	}

	if r := w.Run(t, false, "", "attach", emulator.DemoService, "--network", emulator.DemoNetwork, "--subnet", "run-direct-v6", "--yes"); r.Code != 0 {
		t.Fatalf("attach: exit %d: %s", r.Code, r.Stderr)
	}
	r = w.Run(t, false, "", "status", emulator.DemoService, "--format", "json")
	if !strings.Contains(r.Stdout, `"subnetStackType": "IPV4_IPV6"`) {
		t.Errorf("status json:\n%s", r.Stdout)
	}
	if r := w.Run(t, false, "", "status", emulator.DemoService); !strings.Contains(r.Stdout, "run-vpc/run-direct-v6 (dual-stack)") {
		t.Errorf("status:\n%s", r.Stdout)
	}
	r = w.Run(t, false, "", "inventory", "--format", "json", "--no-cost")
	if !regexpMatch(`(?s)"name": "run-direct-v6".*"stackType": "IPV4_IPV6",\s+"ipv6AccessType": "INTERNAL"`, r.Stdout) {
		t.Errorf("inventory json:\n%s", r.Stdout)
	}
	r = w.Run(t, false, "", "export", emulator.DemoService, "--as", "terraform")
	if !regexpMatch(`stack_type\s+= "IPV4_IPV6"`, r.Stdout) || !regexpMatch(`ipv6_access_type\s+= "INTERNAL"`, r.Stdout) {
		t.Errorf("export:\n%s", r.Stdout)
	}
	exportTerraformFmt(t, map[string]string{"dual-stack export": r.Stdout})
	if r := w.Run(t, false, "", "export", emulator.DemoService, "--as", "gcloud"); !strings.Contains(r.Stdout, "--stack-type=IPV4_IPV6") || !strings.Contains(r.Stdout, "--ipv6-access-type=INTERNAL") {
		t.Errorf("gcloud export:\n%s", r.Stdout)
	}
}
