package cli

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// Fuzz targets for the user input the CLI parses itself: list flags as cobra/pflag split them
// (--network-tags, --force, --regions), --canary, --to and --egress, and RUNNET_EMULATOR_HOST.
// Each ends in a usage error (exit 2) or in values that are valid; none panics. The seed
// corpora are in testdata/fuzz.

// FuzzMigrateFlags parses `runnet migrate` flags as a user would type them.
func FuzzMigrateFlags(f *testing.F) {
	f.Add("direct", "redis-client,web", "free-ips,cloud-nat", "10,50,100", "all-traffic")
	f.Add("connector", "", "", "", "private-ranges-only")
	f.Add("none", `"a,b",c`, "permissions", "100", "")
	f.Add("direct", "Bad Tag", "subnet-size", "10%,100%", "all")
	f.Add("DIRECT", ",,", "nope,", "0,100", "x")
	f.Fuzz(func(t *testing.T, to, tags, force, canary, eg string) {
		args := []string{"migrate", "run-service", "--to", to, "--yes", "--dry-run"}
		mode, _ := egress.ParseMode(to)
		if tags != "" && mode == egress.ModeDirect {
			args = append(args, "--network-tags", tags)
		}
		if force != "" {
			args = append(args, "--force", force)
		}
		if canary != "" {
			args = append(args, "--canary", canary)
		}
		if eg != "" && mode != egress.ModeNone {
			args = append(args, "--egress", eg)
		}
		if mode == egress.ModeConnector {
			args = append(args, "--connector", "run-connector")
		}
		var got *MigrateOptions
		r := runStubbed(t, "migrate", func(f *Factory) *cobra.Command {
			return NewCmdMigrate(f, func(_ context.Context, o *MigrateOptions) error { got = o; return nil })
		}, args...)
		switch r.Code {
		case exitcode.Usage:
			if got != nil {
				t.Fatalf("usage error, yet it ran: %s", r.Stderr)
			}
			return
		case exitcode.OK:
		default:
			t.Fatalf("exit %d for %q: %s", r.Code, args, r.Stderr)
		}
		for _, tag := range got.NetworkTags {
			if egress.ValidateNetworkTag(tag) != nil {
				t.Fatalf("accepted network tag %q", tag)
			}
		}
		if _, err := egress.ApplyForce(nil, got.Force); err != nil {
			t.Fatalf("accepted --force %q: %v", got.Force, err)
		}
		if canary != "" && (len(got.canary) == 0 || got.canary[len(got.canary)-1] != 100 || !slices.IsSorted(got.canary)) {
			t.Fatalf("accepted --canary %q as %v", canary, got.canary)
		}
	})
}

// FuzzRegionsFlag checks --regions values as pflag splits them.
func FuzzRegionsFlag(f *testing.F) {
	for _, s := range []string{"asia-northeast1,us-central1", "all", "ALL,us-central1", "", ",", "us-central1,us-central1", "../x", "us-central1/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		regions, all, err := ParseRegionsFlag(strings.Split(s, ","))
		if err != nil {
			if cloud.ExitCode(err) != exitcode.Usage {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		if all && len(regions) > 0 {
			t.Fatal("all and regions")
		}
		if !slices.IsSorted(regions) || len(slices.Compact(slices.Clone(regions))) != len(regions) {
			t.Fatalf("regions %q not sorted and unique", regions)
		}
		for _, r := range regions {
			if egress.ValidateRegion(r) != nil || strings.ContainsAny(r, "/%?#") {
				t.Fatalf("accepted region %q", r)
			}
		}
	})
}

// FuzzValidateEmulatorHost: what RUNNET_EMULATOR_HOST accepts is a plain host:port that
// names the same host and port in a URL, and nothing that could smuggle a path, user or query.
func FuzzValidateEmulatorHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8085", "localhost:1", "[::1]:9000", "emulator.internal:443", "http://x:1", "x:1/path", "user@x:1", "x:0", "x:65536", "x:08", ":1", "x", "x:1?q", "[::1]", "a..b:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := ValidateEmulatorHost(s); err != nil {
			if cloud.ExitCode(err) != exitcode.Usage {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" {
			t.Fatalf("accepted %q", s)
		}
		u, err := url.Parse("http://" + s + "/compute/v1/")
		if err != nil || u.Host != s || u.Path != "/compute/v1/" || u.User != nil || u.RawQuery != "" {
			t.Fatalf("accepted %q, which does not stay a host:port in a URL (%v)", s, u)
		}
	})
}

func TestValidateEmulatorHost(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:8085", "localhost:1", "[::1]:9000", "emulator.internal:443", "EMU-1.example.com:65535"} {
		if err := ValidateEmulatorHost(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://127.0.0.1:8085", "127.0.0.1:8085/", "127.0.0.1:8085/compute", "user:pw@127.0.0.1:1", "127.0.0.1", ":8085",
		"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:08085", "a..b:1", "-a:1", "x:1?y", "x:1#y", "x y:1", "x%2f:1", "[::1]"} {
		err := ValidateEmulatorHost(bad)
		if err == nil || cloud.ExitCode(err) != exitcode.Usage || !strings.Contains(err.Error(), EnvEmulatorHost) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A bad RUNNET_EMULATOR_HOST stops any command that talks to an API, with exit 2, before a
// call is made.
func TestBadEmulatorHostIsUsageError(t *testing.T) {
	streams, _, _, errOut := iostreams.Test()
	f := NewFactory(streams, harness.Hermetic(t, EnvEmulatorHost, "http://127.0.0.1:1/x", "CLOUDSDK_CORE_PROJECT", tProject, "CLOUDSDK_RUN_REGION", tRegion))
	code := ExecuteFactory(context.Background(), f, []string{"status"})
	if code != exitcode.Usage || !strings.Contains(errOut.String(), "RUNNET_EMULATOR_HOST=\"http://127.0.0.1:1/x\"") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}
