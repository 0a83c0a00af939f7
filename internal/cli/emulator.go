package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The lines `runnet emulator start --tls` prints after RUNNET_EMULATOR_HOST.
const (
	EnvEmulatorCA       = "RUNNET_EMULATOR_CA"
	EnvEmulatorTokenURI = "RUNNET_EMULATOR_TOKEN_URI"
)

// NewCmdEmulator returns `runnet emulator` and its subcommands.
func NewCmdEmulator(f *Factory) *cobra.Command {
	cmd := newGroupCmd("emulator", "Run the emulator of the Cloud Run, VPC Access and Compute APIs")
	cmd.Long = `runnet ships an emulator of the three Google Cloud APIs it drives (Cloud Run Admin
v2 and Serverless VPC Access v1 over gRPC, Compute v1 over REST), so that it can be
tried with no cloud account and tested end to end.

'runnet emulator start' serves it on a loopback address for other processes
(point runnet at it with RUNNET_EMULATOR_HOST). 'runnet --emulator COMMAND' runs one
in-process instead, with its state kept in the user cache directory;
'runnet emulator reset' starts that state over.`
	cmd.Example = `  # Serve the demo world for other tools, then point runnet at it:
  runnet emulator start --seed demo
  export RUNNET_EMULATOR_HOST=127.0.0.1:PORT

  # Or use the embedded one, and start it over:
  runnet --emulator status
  runnet emulator reset`
	cmd.AddCommand(NewCmdEmulatorStart(f, nil), NewCmdEmulatorReset(f, nil))
	return cmd
}

// EmulatorStartOptions are the inputs of `runnet emulator start`.
type EmulatorStartOptions struct {
	f             *Factory
	Listen        string
	Seed          string
	State         string
	Latency       time.Duration
	LRODuration   time.Duration
	RevisionReady time.Duration
	IPRelease     time.Duration
	FaultSpecs    []string
	// The front door (--tls): Google's TLS and credentials.
	TLS            bool
	RequireAuth    bool
	CredentialsDir string
	TokenTTL       time.Duration

	faults []emulator.Fault
}

// NewCmdEmulatorStart returns `runnet emulator start`.
func NewCmdEmulatorStart(f *Factory, runF func(context.Context, *EmulatorStartOptions) error) *cobra.Command {
	o := &EmulatorStartOptions{f: f}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Serve the emulator on a loopback address until interrupted",
		Long: `Serve the emulator on a loopback address until SIGINT or SIGTERM.

When it is ready it prints one line to stdout, RUNNET_EMULATOR_HOST=127.0.0.1:PORT
(three with --tls, see below), and logs only to stderr. On SIGINT or SIGTERM
it writes --state (if given) and exits 0. It refuses to listen on anything but a
loopback address.

--tls serves the same APIs as Google's front door does: over TLS, with a certificate
authority the emulator generates, and with the endpoints that issue credentials (an
OAuth 2.0 token endpoint at /token, a GCE metadata server under /computeMetadata/v1/ for
GCE_METADATA_HOST, the STS token exchange of workload identity federation, and IAM
Credentials' generateAccessToken for impersonation). Two more lines follow the first:
RUNNET_EMULATOR_CA=PATH (the CA to trust, e.g. as SSL_CERT_FILE) and
RUNNET_EMULATOR_TOKEN_URI=https://127.0.0.1:PORT/token. --credentials-dir DIR writes
credentials of every kind into DIR: service-account.json (a key the emulator made),
authorized-user.json, external-account.json (and the subject-token file it reads) and
impersonate.json, with ca.pem. --require-auth refuses every API call without a credential
the emulator issued (UNAUTHENTICATED, HTTP 401); --token-ttl sets how long its access
tokens live. The control surface records which principal made each call.

--fault METHOD=CODE[:COUNT] makes the first COUNT calls (default 1) of METHOD fail
with the gRPC code CODE (Compute: the matching HTTP status and error body). METHOD
is a full gRPC method (google.cloud.run.v2.Services/UpdateService) or a Compute
method id (compute.subnetworks.insert).`,
		Example: `  # The article's world, with quick operations for a test:
  runnet emulator start --seed demo --lro-duration 50ms --revision-ready 100ms

  # Google's front door: TLS, credentials of every kind, and no call without one:
  runnet emulator start --seed demo --tls --require-auth --credentials-dir creds

  # Keep the world between runs, and make the first service update fail:
  runnet emulator start --seed demo --state world.json \
    --fault google.cloud.run.v2.Services/UpdateService=UNAVAILABLE:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:0", "loopback address to serve on (port 0 picks a free port)")
	fl.StringVar(&o.Seed, "seed", emulator.SeedEmpty, "initial world: empty, demo (the article's world) or story (the article's start, as 'runnet demo' uses it); ignored when --state exists")
	fl.StringVar(&o.State, "state", "", "JSON file to load the world from (if it exists) and save it to on exit")
	fl.DurationVar(&o.Latency, "latency", 0, "delay added to every call")
	fl.DurationVar(&o.LRODuration, "lro-duration", emulator.DefaultLRODuration, "how long VPC Access and Compute operations run")
	fl.DurationVar(&o.RevisionReady, "revision-ready", emulator.DefaultRevisionReady, "how long a new Cloud Run revision takes to become Ready")
	fl.DurationVar(&o.IPRelease, "ip-release", emulator.DefaultIPRelease, "how long Direct VPC IP reservations outlive their instances")
	fl.StringArrayVar(&o.FaultSpecs, "fault", nil, "METHOD=CODE[:COUNT]: fail the first COUNT calls of METHOD (repeatable)")
	fl.BoolVar(&o.TLS, "tls", false, "serve over TLS as Google's front door, with a generated CA and the credential endpoints")
	fl.BoolVar(&o.RequireAuth, "require-auth", false, "with --tls: refuse API calls without a credential the emulator issued")
	fl.StringVar(&o.CredentialsDir, "credentials-dir", "", "with --tls: write the CA and credentials of every kind into this directory")
	fl.DurationVar(&o.TokenTTL, "token-ttl", time.Hour, "with --tls: lifetime of the access tokens the emulator issues")
	_ = cmd.MarkFlagDirname("credentials-dir")
	_ = cmd.RegisterFlagCompletionFunc("seed", cobra.FixedCompletions(emulator.Seeds, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *EmulatorStartOptions) validate() error {
	if err := emulator.CheckLoopback(o.Listen); err != nil {
		return exitcode.Usagef("--listen: %v", err)
	}
	if !slices.Contains(emulator.Seeds, o.Seed) {
		return exitcode.Usagef("--seed: %q is not a seed; valid values are %s", o.Seed, strings.Join(emulator.Seeds, ", "))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--latency", o.Latency}, {"--lro-duration", o.LRODuration}, {"--revision-ready", o.RevisionReady}, {"--ip-release", o.IPRelease}} {
		if d.v < 0 {
			return exitcode.Usagef("%s: must not be negative, got %v", d.flag, d.v)
		}
	}
	if !o.TLS {
		for _, fl := range []struct {
			name string
			set  bool
		}{{"--require-auth", o.RequireAuth}, {"--credentials-dir", o.CredentialsDir != ""}, {"--token-ttl", o.TokenTTL != time.Hour}} {
			if fl.set {
				return exitcode.Usagef("%s needs --tls: credentials are only issued and checked over TLS", fl.name)
			}
		}
	}
	if o.TokenTTL < time.Second {
		return exitcode.Usagef("--token-ttl: must be at least 1s, got %v", o.TokenTTL)
	}
	o.faults = nil
	for _, spec := range o.FaultSpecs {
		ft, err := emulator.ParseFault(spec)
		if err != nil {
			return exitcode.Usagef("--fault: %v", err)
		}
		o.faults = append(o.faults, ft)
	}
	return nil
}

func (o *EmulatorStartOptions) run(ctx context.Context) error {
	log := newStderrLogger(o.f.IOStreams.ErrOut)
	opts := emulator.Options{
		Seed: o.Seed, StateFile: o.State, Latency: o.Latency, LRODuration: o.LRODuration,
		RevisionReady: o.RevisionReady, IPRelease: o.IPRelease, Faults: o.faults, Logger: log,
	}
	if o.TLS {
		opts.FrontDoor = &emulator.FrontDoorOptions{RequireAuth: o.RequireAuth, TokenTTL: o.TokenTTL, CredentialsDir: o.CredentialsDir}
	}
	e, err := emulator.New(opts)
	if err != nil {
		return err
	}
	if err := e.Start(o.Listen); err != nil {
		_ = e.Close()
		return err
	}
	fmt.Fprintf(o.f.IOStreams.Out, "%s=%s\n", EnvEmulatorHost, e.Addr())
	if e.TLS() {
		fmt.Fprintf(o.f.IOStreams.Out, "%s=%s\n%s=%s\n", EnvEmulatorCA, e.CAFile(), EnvEmulatorTokenURI, e.TokenURI())
	}
	<-ctx.Done()
	log.Info("stopping emulator")
	if err := e.Close(); err != nil {
		return fmt.Errorf("stop the emulator: %w", err)
	}
	return nil
}

// EmulatorResetOptions are the inputs of `runnet emulator reset`.
type EmulatorResetOptions struct {
	f *Factory
}

// NewCmdEmulatorReset returns `runnet emulator reset`.
func NewCmdEmulatorReset(f *Factory, runF func(*EmulatorResetOptions) error) *cobra.Command {
	o := &EmulatorResetOptions{f: f}
	return &cobra.Command{
		Use:   "reset",
		Short: "Start the embedded emulator's world over from the demo seed",
		Long: `Delete the state of the embedded emulator (the one 'runnet --emulator' runs), so that
its next use starts again from the demo seed.`,
		Example: `  runnet emulator reset
  runnet --emulator status`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return o.run()
		},
	}
}

func (o *EmulatorResetOptions) run() error {
	path, err := o.f.EmbeddedStatePath()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reset the embedded emulator: %w", err)
	}
	if !o.f.Options.Quiet {
		fmt.Fprintf(o.f.IOStreams.ErrOut, "Embedded emulator reset; its next use starts from the demo seed (%s).\n", path)
	}
	return nil
}
