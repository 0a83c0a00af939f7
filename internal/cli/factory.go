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
	Quiet    bool   // --quiet: no progress or informational messages
	Yes      bool   // --yes: answer yes to every confirmation
	Verbose  bool   // --verbose: explain where settings came from, and more
	Emulator bool   // --emulator: use the embedded emulator
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

	mu       sync.Mutex
	config   *gcloudconfig.Resolver
	project  *gcloudconfig.Value
	region   *gcloudconfig.Value
	clients  *cloud.Clients
	embedded *emulator.Emulator
}

// NewFactory returns a factory over streams, reading the environment with
// getenv (os.Getenv if nil).
func NewFactory(streams *iostreams.IOStreams, getenv func(string) string) *Factory {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Factory{IOStreams: streams, Getenv: getenv}
}

// OutputFormat returns the --format value, or its default: table when
// stdout is a terminal, json otherwise (so that scripts and pipes get a
// stable, parseable format without asking).
func (f *Factory) OutputFormat() string {
	if f.Options.Format != "" {
		return f.Options.Format
	}
	if f.IOStreams.IsStdoutTTY() {
		return printer.Table
	}
	return printer.JSON
}

// Printer returns the printer for the chosen output format, writing to
// stdout.
func (f *Factory) Printer() (*printer.Printer, error) {
	return printer.New(f.IOStreams.Out, f.OutputFormat())
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
	v, err := f.resolve(&f.project, "project", f.GcloudConfig().Project, f.Options.Project)
	return v.Value, err
}

// Region resolves the Cloud Run region (flag, environment, gcloud
// configuration) and, with --verbose, says where it came from. It is a usage
// error if there is none: runnet never guesses a region.
func (f *Factory) Region() (string, error) {
	v, err := f.resolve(&f.region, "region", f.GcloudConfig().Region, f.Options.Region)
	return v.Value, err
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
