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
	cmd := newGroupCmd("emulator", "Run the emulator of the Google Cloud APIs runnet drives")
	cmd.Long = `runnet ships an emulator of the Google Cloud APIs it drives, so that it can be tried
with no cloud account and tested end to end: Cloud Run Admin v2 and Serverless VPC Access
v1 (gRPC and REST), Compute Engine v1, Cloud Monitoring v3, Service Usage, Cloud Billing
Catalog v1, Cloud Resource Manager, Cloud Asset and, with --tls (Google's front door), IAM
Service Account Credentials.

'runnet emulator start' serves it on a loopback address for other processes
(point runnet at it with RUNNET_EMULATOR_HOST). 'runnet --emulator COMMAND' runs one
in-process instead, with its state kept in the user cache directory;
'runnet emulator reset' starts that state over.`
	cmd.Example = `  # Serve the demo world for other tools, then point runnet at it:
  eval "$(runnet emulator start --seed demo --background)"
  runnet status

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
	Background    bool
	// The front door (--tls): Google's TLS and credentials.
	TLS            bool
	RequireAuth    bool
	CredentialsDir string
	TokenTTL       time.Duration

	faults  []emulator.Fault
	cmd     *cobra.Command // for the flags --background passes on
	seedSet bool
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

--background serves from a process of its own and exits as soon as it is ready,
printing 'export RUNNET_EMULATOR_HOST=127.0.0.1:PORT' and 'export RUNNET_EMULATOR_PID=PID'
for a shell to eval (with --tls, also RUNNET_EMULATOR_CA and RUNNET_EMULATOR_TOKEN_URI);
the server logs to a file named on stderr, and kill "$RUNNET_EMULATOR_PID" stops it
(writing --state).

--state FILE loads the world from FILE when it exists (and saves it there on exit);
--seed then cannot be given too (exit 2): remove the file to start from a seed.

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

  # In a shell or a CI step: serve in the background, use it, stop it:
  eval "$(runnet emulator start --seed demo --background)"
  runnet status
  kill "$RUNNET_EMULATOR_PID"

  # Google's front door: TLS, credentials of every kind, and no call without one:
  runnet emulator start --seed demo --tls --require-auth --credentials-dir creds

  # Keep the world between runs, and make the first service update fail:
  runnet emulator start --seed demo --state world.json \
    --fault google.cloud.run.v2.Services/UpdateService=UNAVAILABLE:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.cmd, o.seedSet = cmd, cmd.Flags().Changed("seed")
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			if o.Background {
				return o.runBackground(cmd.Context())
			}
			return o.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:0", "loopback address to serve on (port 0 picks a free port)")
	fl.StringVar(&o.Seed, "seed", emulator.SeedEmpty, "initial world: empty, demo (the article's world), story (the article's start, as 'runnet demo' uses it) or sharedvpc (an organization on Shared VPC: a host project and three service projects); not with an existing --state file")
	fl.BoolVar(&o.Background, "background", false, "serve from a background process and exit once it is ready, printing 'export RUNNET_EMULATOR_HOST=...' and 'export RUNNET_EMULATOR_PID=...' for eval")
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
	if o.seedSet && o.State != "" {
		if _, err := os.Stat(o.State); err == nil {
			return exitcode.Usagef("--seed %s: the --state file %s exists, and its world would be served instead of the seed; remove the file to start from the seed, or leave --seed out to serve that world", o.Seed, o.State)
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
	methods := emulator.Methods()
	for _, spec := range o.FaultSpecs {
		ft, err := emulator.ParseFault(spec)
		if err != nil {
			return exitcode.Usagef("--fault: %v", err)
		}
		if err := checkFaultMethod(ft.Method, methods); err != nil {
			return exitcode.Usagef("--fault %s: %v", spec, err)
		}
		o.faults = append(o.faults, ft)
	}
	return nil
}

// checkFaultMethod refuses a fault for a method the emulator does not serve (a typo would
// never strike), naming the closest one and the methods of the same service.
func checkFaultMethod(method string, methods []string) error {
	if method == "*" || slices.Contains(methods, method) {
		return nil
	}
	closest, best := "", -1
	for _, m := range methods {
		if d := editDistance(strings.ToLower(method), strings.ToLower(m)); best < 0 || d < best {
			closest, best = m, d
		}
	}
	msg := fmt.Sprintf("the emulator serves no method %q", method)
	if best >= 0 && best <= max(3, len(method)/4) {
		msg += fmt.Sprintf("; did you mean %s?", closest)
	}
	// The methods of the same service (or Compute resource), else the services.
	prefix := method
	if i := strings.LastIndexAny(method, "/."); i >= 0 {
		prefix = method[:i+1]
	}
	var same []string
	for _, m := range methods {
		if strings.HasPrefix(m, prefix) {
			same = append(same, m[len(prefix):])
		}
	}
	if len(same) > 0 {
		return fmt.Errorf("%s (%s has %s)", msg, strings.TrimRight(prefix, "/."), strings.Join(same, ", "))
	}
	var services []string
	for _, m := range methods {
		svc := m
		if i := strings.LastIndexAny(m, "/."); i >= 0 {
			svc = m[:i]
		}
		if !slices.Contains(services, svc) {
			services = append(services, svc)
		}
	}
	return fmt.Errorf("%s; methods are SERVICE/METHOD or compute.RESOURCE.VERB, of: %s", msg, strings.Join(services, ", "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
