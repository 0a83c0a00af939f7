package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

// Execute runs runnet with args (without the program name) and returns the
// process exit code. It prints any error once, to stderr, as "Error: ...".
func Execute(ctx context.Context, args []string, streams *iostreams.IOStreams) int {
	return ExecuteFactory(ctx, NewFactory(streams, nil), args)
}

// ExecuteFactory is Execute with a given factory (tests use it to fix the
// environment).
func ExecuteFactory(ctx context.Context, f *Factory, args []string) int {
	return execute(ctx, f, NewRootCmd(f), args)
}

func execute(ctx context.Context, f *Factory, root *cobra.Command, args []string) int {
	helpErr := refuseUnknownHelp(root)
	markCommandErrors(root)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		err = helpErr()
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = &commandError{cerr}
	}
	if err == nil {
		return exitcode.OK
	}

	var code int
	var ce *commandError
	var ee *exitcode.Error
	usageHint := false
	switch {
	case errors.As(err, &ce):
		// The command's own code ran and returned this error.
		err = ce.err
		code = cloud.ExitCode(err)
	case errors.As(err, &ee):
		code = ee.Code
		usageHint = code == exitcode.Usage
	default:
		// An error from cobra itself: unknown command or flag, wrong
		// number of arguments, a missing required flag.
		code = exitcode.Usage
		usageHint = true
	}
	if !errors.As(err, &ee) || !ee.Silent() {
		fmt.Fprintf(f.IOStreams.ErrOut, "Error: %s\n", humanizeError(shared.ErrorText(err)))
		if usageHint && cmd != nil {
			fmt.Fprintf(f.IOStreams.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return code
}

// commandError marks an error returned by a command's own hooks (RunE and
// the like), as opposed to one from cobra's parsing.
type commandError struct{ err error }

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

type hook = func(*cobra.Command, []string) error

func mark(h hook) hook {
	if h == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := h(cmd, args); err != nil {
			return &commandError{err}
		}
		return nil
	}
}

// markCommandErrors wraps the error-returning hooks of cmd and its
// subcommands so that execute can tell their errors from cobra's.
func markCommandErrors(cmd *cobra.Command) {
	cmd.PersistentPreRunE = mark(cmd.PersistentPreRunE)
	cmd.PreRunE = mark(cmd.PreRunE)
	cmd.RunE = mark(cmd.RunE)
	cmd.PostRunE = mark(cmd.PostRunE)
	cmd.PersistentPostRunE = mark(cmd.PersistentPostRunE)
	for _, c := range cmd.Commands() {
		markCommandErrors(c)
	}
}
