package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/runnet-dev/runnet/internal/buildinfo"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/gcloudconfig"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// EnvEmulatorState overrides where the embedded emulator (--emulator) keeps its state.
const EnvEmulatorState = "RUNNET_EMULATOR_STATE"

// Timing of the embedded emulator: quick enough for a person trying the tool, slow enough
// that waiting and progress are visible.
const (
	embeddedLRODuration   = time.Second
	embeddedRevisionReady = 2 * time.Second
)

// EmulatorMode reports whether runnet talks to an emulator (embedded or running) rather than
// Google Cloud.
func (f *Factory) EmulatorMode() bool {
	return f.Options.Emulator || f.EmulatorHost() != ""
}

// EmbeddedStatePath is where the embedded emulator keeps its state.
func (f *Factory) EmbeddedStatePath() (string, error) {
	if p := f.Getenv(EnvEmulatorState); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory for the embedded emulator (set %s): %w", EnvEmulatorState, err)
	}
	return filepath.Join(dir, "runnet", "emulator-state.json"), nil
}

// emulatorResolver resolves project and region in emulator mode: flags and environment as
// usual, but not the gcloud configuration (it names real projects). When neither is set,
// Project and Region use the demo world's (see emulatorDefault).
func (f *Factory) emulatorResolver() *gcloudconfig.Resolver {
	return gcloudconfig.NewResolver(f.Getenv, gcloudconfig.WithReadFile(func(string) ([]byte, error) { return nil, os.ErrNotExist }))
}

// emulatorDefault is the value of a setting that emulator mode takes when neither the flag
// nor the environment gives one: the demo world's project or region, said as such.
func (f *Factory) emulatorDefault(flag, env, demo string) (gcloudconfig.Value, bool) {
	if !f.EmulatorMode() || strings.TrimSpace(flag) != "" || strings.TrimSpace(f.Getenv(env)) != "" {
		return gcloudconfig.Value{}, false
	}
	return gcloudconfig.Value{Value: demo, Source: gcloudconfig.Source{
		Kind: fmt.Sprintf("the emulator's default, the demo world's (neither the flag nor %s is set; gcloud's configuration is not read in emulator mode)", env),
	}}, true
}

// Clients returns the cloud clients: pointed at the embedded emulator (--emulator, started on
// first use), a running emulator (RUNNET_EMULATOR_HOST), or Google Cloud with Application
// Default Credentials.
func (f *Factory) Clients(ctx context.Context) (*cloud.Clients, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clients != nil {
		return f.clients, nil
	}
	if h := f.EmulatorHost(); h != "" {
		if err := ValidateEmulatorHost(h); err != nil {
			return nil, err
		}
	}
	cfg := cloud.Config{UserAgent: "runnet/" + buildinfo.Get().Version, EmulatorHost: f.EmulatorHost()}
	if f.Options.Verbose {
		cfg.Log = f.IOStreams.ErrOut
	}
	if f.Options.Emulator {
		e, err := f.startEmbedded(ctx)
		if err != nil {
			return nil, err
		}
		cfg.EmulatorHost = e.Addr()
	}
	if cfg.EmulatorHost == "" {
		if err := f.checkCredentialsFile(); err != nil {
			return nil, err
		}
		if err := f.googleConfigLocked(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.EmulatorHost != "" {
		if err := f.checkEmulatorProject(ctx, cfg.EmulatorHost); err != nil {
			return nil, err
		}
	}
	// Clients live as long as the command; ctx ends with it.
	c := cloud.New(context.WithoutCancel(ctx), cfg)
	if err := c.CheckCredentials(); err != nil {
		return nil, err // one clear error (exit 4), before any call
	}
	f.clients = c
	return f.clients, nil
}

func (f *Factory) startEmbedded(ctx context.Context) (*emulator.Emulator, error) {
	path, err := f.EmbeddedStatePath()
	if err != nil {
		return nil, err
	}
	// Held until Close has saved the state: one --emulator command at a time.
	lock, err := lockState(ctx, path, func(holder string) {
		if !f.Options.Quiet {
			who := ""
			if holder != "" {
				who = " (" + holder + ")"
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Waiting for another runnet --emulator command%s to finish with the embedded emulator's state...\n", who)
		}
	})
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			_ = lock.unlock()
		}
	}()
	opts := emulator.Options{
		Seed: emulator.SeedDemo, StateFile: path,
		LRODuration: embeddedLRODuration, RevisionReady: embeddedRevisionReady,
	}
	if f.Options.Verbose {
		opts.Logger = newStderrLogger(f.IOStreams.ErrOut)
	}
	e, err := emulator.New(opts)
	if err != nil {
		return nil, fmt.Errorf("start the embedded emulator (state %s; 'runnet emulator reset' starts over): %w", path, err)
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the embedded emulator: %w", err)
	}
	f.embedded, f.stateLock, started = e, lock, true
	f.IOStreams.Verbosef("Using the embedded emulator on %s (state in %s).", e.Addr(), path)
	return e, nil
}

// Close releases what the command used: the clients, and the embedded emulator (saving its
// state).
func (f *Factory) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	if f.clients != nil {
		if err := f.clients.Close(); err != nil {
			first = err
		}
		f.clients = nil
	}
	if f.embedded != nil {
		if err := f.embedded.Close(); err != nil && first == nil {
			first = fmt.Errorf("save the embedded emulator's state: %w", err)
		}
		f.embedded = nil
	}
	if err := f.stateLock.unlock(); err != nil && first == nil {
		first = fmt.Errorf("unlock the embedded emulator's state: %w", err)
	}
	f.stateLock = nil
	return first
}

var _ io.Closer = (*Factory)(nil)

// checkCredentialsFile refuses, once and before any client is built, a
// GOOGLE_APPLICATION_CREDENTIALS that names a file runnet cannot read: every client would
// fail alike, and the reason is better said once (exit status 4).
func (f *Factory) checkCredentialsFile() error {
	path := f.Getenv(EnvCredentials)
	if path == "" {
		return nil
	}
	fh, err := os.Open(path)
	if err == nil {
		var st os.FileInfo
		if st, err = fh.Stat(); err == nil && st.IsDir() {
			err = errors.New("it is a directory")
		}
		_ = fh.Close()
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return exitcode.Errorf(exitcode.Permission, "no usable Google Cloud credentials: %s is %q, which cannot be read (%v); fix or unset it, run 'gcloud auth application-default login', or use --emulator", EnvCredentials, path, err)
	}
	return nil
}
