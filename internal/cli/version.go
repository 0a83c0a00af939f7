package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/buildinfo"
	"github.com/runnet-dev/runnet/internal/printer"
)

// VersionOptions are the inputs of `runnet version`.
type VersionOptions struct {
	Printer func() (*printer.Printer, error)

	// Info is filled in by complete.
	Info buildinfo.Info
}

// NewCmdVersion returns `runnet version`. runF, if not nil, replaces the
// command's run step (for tests).
func NewCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := NewVersionOptions(f)
	return &cobra.Command{
		Use:   "version",
		Short: "Print runnet's version, commit and Go version",
		Long: `Print runnet's version, the commit it was built from and the Go version.

With --format json or yaml the fields are version, commit and go.`,
		Example: `  runnet version

  # In a script:
  runnet version --format json | jq -r .version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.complete()
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return opts.run()
		},
	}
}

// NewVersionOptions returns the options of `runnet version` (and `runnet --version`).
func NewVersionOptions(f *Factory) *VersionOptions {
	return &VersionOptions{Printer: f.Printer}
}

func (o *VersionOptions) complete() {
	o.Info = buildinfo.Get()
}

func (o *VersionOptions) validate() error { return nil }

func (o *VersionOptions) run() error {
	if o.Info.Version == "" {
		o.complete()
	}
	p, err := o.Printer()
	if err != nil {
		return err
	}
	return p.Print(versionReport(o.Info))
}

// versionReport prints as buildinfo.Info in json and yaml, and as one line
// in the table format.
type versionReport buildinfo.Info

func (v versionReport) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "runnet version %s (commit %s, %s)\n", v.Version, v.Commit, v.Go)
	return err
}
