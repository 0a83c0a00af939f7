package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/gcloudconfig"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/internal/printer"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// EnvEmulatorHost names the variable that points runnet at a running
// emulator (host:port).
const EnvEmulatorHost = "RUNNET_EMULATOR_HOST"

// GlobalOptions are the values of the global (persistent) flags.
type GlobalOptions struct {
	Project  string // --project; "" if not given: see Factory.Project
	Region   string // --region; "" if not given: see Factory.Region
	Format   string // --format; "" if not given: see Factory.OutputFormat
	Quiet    bool   // --quiet (or --verbosity error): no progress or informational messages
	Yes      bool   // --yes, or --quiet as in gcloud: answer yes to every confirmation
	Verbose  bool   // --verbose (or --verbosity debug): explain where settings came from, and more
	Emulator bool   // --emulator: use the embedded emulator
	// Verbosity is gcloud's --verbosity (debug, info, warning, error, critical, none),
	// mapped onto Verbose and Quiet before any command runs; "" if not given.
	Verbosity string
	// Version is --version on the root command.
	Version bool
	// Filter is --filter, on list commands (see addFilterFlag); "" if not given.
	Filter string
	// Impersonate is --impersonate-service-account (gcloud's global flag): act as this
	// service account, or the last of a comma-separated delegation chain.
	Impersonate string
}

// Factory gives commands their dependencies. Everything costly is built
// lazily, on first use, so `runnet --help` and `runnet version` start
// without touching the network or the disk. Tests build a Factory with test
// streams and a fixed environment and swap only what they need.
//
// Cloud clients are to be added here the same way: a field holding a
// constructor (so tests can replace it) and a method that builds once.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads the environment; os.Getenv in production. Nothing in
	// runnet reads the environment any other way.
	Getenv func(string) string
	// Options holds the global flags once they are parsed.
	Options GlobalOptions

	mu      sync.Mutex
	config  *gcloudconfig.Resolver
	project *gcloudconfig.Value
	region  *gcloudconfig.Value
	// scopeProjects are the projects a command's --projects names (inventory, migrate --all):
	// in emulator mode each must be in the world, as the resolved project must.
	scopeProjects []string
	clients       *cloud.Clients
	embedded      *emulator.Emulator
	// stateLock is held from loading the embedded emulator's state to saving it.
	stateLock *stateLock
	filter    *printer.Filter // --filter, parsed
}

// NewFactory returns a factory over streams, reading the environment with
// getenv (os.Getenv if nil).
func NewFactory(streams *iostreams.IOStreams, getenv func(string) string) *Factory {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Factory{IOStreams: streams, Getenv: getenv}
}

// OutputFormat returns the --format value, or its default: table, wherever stdout goes.
// Like gcloud, kubectl and gh, runnet never switches format on its own: a pipe gets the same
// table (without colour), and JSON or YAML only when asked for.
func (f *Factory) OutputFormat() string {
	if f.Options.Format != "" {
		return f.Options.Format
	}
	return printer.Table
}

// Printer returns the printer for the chosen output format, writing to
// stdout.
func (f *Factory) Printer() (*printer.Printer, error) {
	p, err := printer.New(f.IOStreams.Out, f.OutputFormat())
	if err != nil {
		return nil, err
	}
	p.SetColor(f.ColorStdout())
	p.SetFilter(f.filter)
	return p, nil
}

// ColorStdout reports whether results on stdout may be coloured: on a terminal, without
// NO_COLOR.
func (f *Factory) ColorStdout() bool {
	return printer.ColorWanted(f.IOStreams.IsStdoutTTY(), f.Getenv)
}

// GcloudConfig returns the resolver for gcloud settings.
func (f *Factory) GcloudConfig() *gcloudconfig.Resolver {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.configLocked()
}

func (f *Factory) configLocked() *gcloudconfig.Resolver {
	if f.config == nil {
		if f.EmulatorMode() {
			f.config = f.emulatorResolver()
		} else {
			f.config = gcloudconfig.NewResolver(f.Getenv)
		}
	}
	return f.config
}

// Project resolves the project (flag, environment, gcloud configuration)
// and, with --verbose, says where it came from. It is a usage error if there
// is none.
func (f *Factory) Project() (string, error) {
	v, err := f.resolve(&f.project, "project", func(flag string) (gcloudconfig.Value, error) {
		if v, ok := f.emulatorDefault(flag, gcloudconfig.EnvProject, emulator.DemoProject); ok {
			return v, nil
		}
		return f.GcloudConfig().Project(flag)
	}, f.Options.Project)
	if err != nil {
		return "", err
	}
	if err := egress.ValidateProject(v.Value); err != nil {
		return "", exitcode.Usagef("%s: %v", sourceLabel(v.Source), err)
	}
	return v.Value, nil
}

// Region resolves the Cloud Run region (flag, environment, gcloud
// configuration) and, with --verbose, says where it came from. It is a usage
// error if there is none: runnet never guesses a region.
func (f *Factory) Region() (string, error) {
	v, err := f.resolve(&f.region, "region", func(flag string) (gcloudconfig.Value, error) {
		if v, ok := f.emulatorDefault(flag, gcloudconfig.EnvRegion, emulator.DemoRegion); ok {
			return v, nil
		}
		return f.GcloudConfig().Region(flag)
	}, f.Options.Region)
	if err != nil {
		return "", err
	}
	if err := egress.ValidateRegion(v.Value); err != nil {
		return "", exitcode.Usagef("%s: %v", sourceLabel(v.Source), err)
	}
	return v.Value, nil
}

// sourceLabel names where a value came from at the start of an error: the flag, the
// environment variable, or the gcloud configuration.
func sourceLabel(s gcloudconfig.Source) string {
	switch s.Kind {
	case gcloudconfig.FromFlag, gcloudconfig.FromEnv:
		return s.Name
	}
	return s.String()
}

func (f *Factory) resolve(cache **gcloudconfig.Value, what string, fn func(string) (gcloudconfig.Value, error), flag string) (gcloudconfig.Value, error) {
	f.mu.Lock()
	if *cache != nil {
		defer f.mu.Unlock()
		return **cache, nil
	}
	f.mu.Unlock()
	v, err := fn(flag)
	if err != nil {
		return v, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if *cache == nil {
		*cache = &v
		f.IOStreams.Verbosef("Using %s %q from %s.", what, v.Value, v.Source)
	}
	return **cache, nil
}

// EmulatorHost returns the address of a running emulator from
// RUNNET_EMULATOR_HOST, or "".
func (f *Factory) EmulatorHost() string {
	return strings.TrimSpace(f.Getenv(EnvEmulatorHost))
}

// Confirm asks question unless --yes was given. When runnet cannot prompt
// (no terminal) it refuses with a usage error that asks for --yes rather than
// assume an answer.
func (f *Factory) Confirm(question string) (bool, error) {
	if f.Options.Yes {
		return true, nil
	}
	if !f.IOStreams.CanPrompt() {
		return false, exitcode.Usagef("%s: cannot ask for confirmation without a terminal; pass --yes to proceed", strings.TrimSuffix(question, "?"))
	}
	ok, err := f.IOStreams.Confirm(question)
	if err != nil {
		return false, fmt.Errorf("reading confirmation: %w", err)
	}
	return ok, nil
}
