// Package gcloudconfig finds the Google Cloud project and region the way
// gcloud does, so that runnet picks up what the user already configured:
//
//  1. the flag (--project, --region);
//  2. the environment (CLOUDSDK_CORE_PROJECT, CLOUDSDK_RUN_REGION);
//  3. the active gcloud configuration: [core] project and [run] region in
//     <config dir>/configurations/config_<name>.
//
// The config dir is $CLOUDSDK_CONFIG, else ~/.config/gcloud (on Windows
// %APPDATA%\gcloud). The active configuration is $CLOUDSDK_ACTIVE_CONFIG_NAME,
// else the content of <config dir>/active_config, else "default"; the name
// NONE means no configuration file. gcloud's installation-wide properties
// file is not read.
//
// Each value comes with its Source, for --verbose. A value that cannot be
// found is a usage error (exit code 2) that says how to set it: runnet never
// guesses a region.
//
// The properties that decide how runnet reaches Google Cloud (endpoint
// overrides, universe domain, quota project, impersonation, CA bundle) are
// resolved the same way, each from its CLOUDSDK_SECTION_NAME variable and its
// section of the configuration file: see Resolver.Cloud.
package gcloudconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// Environment variables read by the resolver, as gcloud names them.
const (
	EnvConfigDir    = "CLOUDSDK_CONFIG"
	EnvActiveConfig = "CLOUDSDK_ACTIVE_CONFIG_NAME"
	EnvProject      = "CLOUDSDK_CORE_PROJECT"
	EnvRegion       = "CLOUDSDK_RUN_REGION"
)

// DefaultConfigName is the configuration gcloud uses when none is active.
const DefaultConfigName = "default"

// noConfigName is gcloud's reserved name for "no configuration".
const noConfigName = "NONE"

// configNameRE is gcloud's rule for configuration names.
var configNameRE = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)

// Source kinds.
const (
	FromFlag   = "flag"
	FromEnv    = "env"
	FromConfig = "config"
)

// Source says where a value came from.
type Source struct {
	// Kind is FromFlag, FromEnv or FromConfig.
	Kind string `json:"kind"`
	// Name is the flag ("--project"), the environment variable, or the
	// configuration file's path.
	Name string `json:"name"`
	// Config is the gcloud configuration's name, for FromConfig.
	Config string `json:"config,omitempty"`
}

func (s Source) String() string {
	switch s.Kind {
	case FromFlag:
		return "flag " + s.Name
	case FromEnv:
		return "environment variable " + s.Name
	case FromConfig:
		return fmt.Sprintf("gcloud configuration %q (%s)", s.Config, s.Name)
	}
	return s.Kind
}

// Value is a resolved setting and its source.
type Value struct {
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// property describes one setting that gcloud stores.
type property struct {
	what    string // for messages
	flag    string
	env     string
	section string
	key     string
	setHint string // the gcloud command that sets it
}

var (
	projectProperty = property{"project", "--project", EnvProject, "core", "project", "gcloud config set project PROJECT_ID"}
	regionProperty  = property{"region", "--region", EnvRegion, "run", "region", "gcloud config set run/region REGION"}
)

// Resolver resolves settings. Its zero value is not usable: use
// NewResolver. It is safe for concurrent use; the configuration file is read
// at most once, and only when a value is not given by flag or environment.
type Resolver struct {
	getenv   func(string) string
	goos     string
	readFile func(string) ([]byte, error)

	once    sync.Once
	ini     INI
	cfgName string
	cfgPath string
	cfgErr  error
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithGOOS sets the operating system whose conventions to follow (default
// runtime.GOOS); for tests.
func WithGOOS(goos string) Option { return func(r *Resolver) { r.goos = goos } }

// WithReadFile replaces os.ReadFile; for tests.
func WithReadFile(f func(string) ([]byte, error)) Option {
	return func(r *Resolver) { r.readFile = f }
}

// NewResolver returns a resolver that reads the environment through getenv
// (os.Getenv in production).
func NewResolver(getenv func(string) string, opts ...Option) *Resolver {
	r := &Resolver{getenv: getenv, goos: runtime.GOOS, readFile: os.ReadFile}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Project resolves the project from flag (the --project value, "" if not
// given), the environment and the active configuration.
func (r *Resolver) Project(flag string) (Value, error) {
	return r.resolve(projectProperty, flag)
}

// Region resolves the Cloud Run region from flag (the --region value, "" if
// not given), the environment and the active configuration.
func (r *Resolver) Region(flag string) (Value, error) {
	return r.resolve(regionProperty, flag)
}

func (r *Resolver) resolve(p property, flag string) (Value, error) {
	if v := strings.TrimSpace(flag); v != "" {
		return Value{v, Source{Kind: FromFlag, Name: p.flag}}, nil
	}
	if v := strings.TrimSpace(r.getenv(p.env)); v != "" {
		return Value{v, Source{Kind: FromEnv, Name: p.env}}, nil
	}
	r.once.Do(r.load)
	if r.cfgErr != nil {
		return Value{}, r.cfgErr
	}
	if v, _ := r.ini.Get(p.section, p.key); v != "" {
		return Value{v, Source{Kind: FromConfig, Name: r.cfgPath, Config: r.cfgName}}, nil
	}
	return Value{}, exitcode.Usagef("no %s: pass %s, set %s, or run '%s'", p.what, p.flag, p.env, p.setHint)
}

// ConfigDir returns gcloud's configuration directory, or "" if it cannot be
// determined (no home directory).
func (r *Resolver) ConfigDir() string {
	if d := r.getenv(EnvConfigDir); d != "" {
		return d
	}
	if r.goos == "windows" {
		if appdata := r.getenv("APPDATA"); appdata != "" {
			return winJoin(appdata, "gcloud")
		}
		drive := r.getenv("SystemDrive")
		if drive == "" {
			drive = "C:"
		}
		return winJoin(drive+`\`, "gcloud")
	}
	home := r.getenv("HOME")
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "gcloud")
}

// join joins path elements with the resolver's OS separator.
func (r *Resolver) join(elem ...string) string {
	if r.goos == "windows" {
		return winJoin(elem...)
	}
	return filepath.Join(elem...)
}

func winJoin(elem ...string) string {
	var b strings.Builder
	for i, e := range elem {
		if i > 0 && !strings.HasSuffix(b.String(), `\`) {
			b.WriteByte('\\')
		}
		b.WriteString(e)
	}
	return b.String()
}

// ActiveConfig returns the name of the active gcloud configuration and the
// path of its file ("" for the configuration NONE or with no config dir).
func (r *Resolver) ActiveConfig() (name, path string, err error) {
	dir := r.ConfigDir()
	name = r.getenv(EnvActiveConfig)
	if name != "" {
		if name != noConfigName && !configNameRE.MatchString(name) {
			return "", "", exitcode.Usagef("invalid %s %q: configuration names are lower-case letters, digits and dashes, starting with a letter", EnvActiveConfig, name)
		}
	} else {
		name = DefaultConfigName
		if dir != "" {
			b, err := r.readFile(r.join(dir, "active_config"))
			switch {
			case err == nil:
				// gcloud ignores (and removes) an invalid active_config.
				if n := strings.TrimSpace(string(b)); n == noConfigName || configNameRE.MatchString(n) {
					name = n
				}
			case !errors.Is(err, fs.ErrNotExist):
				return "", "", fmt.Errorf("reading the active gcloud configuration: %w", err)
			}
		}
	}
	if name == noConfigName || dir == "" {
		return name, "", nil
	}
	return name, r.join(dir, "configurations", "config_"+name), nil
}

func (r *Resolver) load() {
	r.ini = INI{}
	name, path, err := r.ActiveConfig()
	if err != nil {
		r.cfgErr = err
		return
	}
	r.cfgName, r.cfgPath = name, path
	if path == "" {
		return
	}
	b, err := r.readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		r.cfgErr = fmt.Errorf("reading gcloud configuration %q: %w", name, err)
		return
	}
	ini, err := ParseINI(b)
	if err != nil {
		r.cfgErr = exitcode.Wrap(exitcode.Usage, fmt.Errorf("gcloud configuration %s: %w", path, err))
		return
	}
	r.ini = ini
}
