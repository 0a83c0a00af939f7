// Package cli holds runnet's commands.
//
// One file per command. Each command has an options struct, and its RunE
// goes complete (fill in defaults and resolve names) → validate (check
// input, before any API call) → run. Each constructor takes the Factory, the
// source of every dependency, and an optional runF that replaces run: tests
// use it to check flag parsing without doing any work, as in the GitHub CLI.
//
// Errors carry exit codes (package exitcode); Execute prints them once and
// returns the code.
package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/printer"
)

const rootLong = `runnet switches the egress of Cloud Run services, jobs and worker pools
between Serverless VPC Access connectors, Direct VPC egress and no VPC.

Workloads are named NAME (a service), job/NAME or workerpool/NAME.

The project and region are found as gcloud finds them: the --project and
--region flags, then CLOUDSDK_CORE_PROJECT and CLOUDSDK_RUN_REGION, then the
active gcloud configuration ([core] project and [run] region). runnet never
guesses a region.

Results go to stdout as a table (the default, on a terminal or not: colour
only on a terminal, and never with NO_COLOR set), JSON or YAML (--format json|yaml),
or gcloud's projections: --format 'value(field,...)' (tab-separated, no header) and
--format 'csv(field,...)' (a header row, then rows; csv[no-heading](...) drops it),
where fields are dotted paths into the JSON form (vpc.network). List commands take
gcloud's --filter (field=value, field:value, !=, ~ regex, NOT, AND, OR). Progress,
prompts and errors go to stderr.

Environment:
  CLOUDSDK_CORE_PROJECT        project, when --project is not given
  CLOUDSDK_RUN_REGION          region, when --region is not given
  CLOUDSDK_CONFIG              gcloud's configuration directory
  CLOUDSDK_ACTIVE_CONFIG_NAME  gcloud configuration to read
  CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN, _VPCACCESS, _COMPUTE, _IAMCREDENTIALS,
  _MONITORING, _CLOUDBILLING, _SERVICEUSAGE, _CLOUDASSET,
  _CLOUDRESOURCEMANAGER
                               endpoints to use instead of Google's (as gcloud's
                               api_endpoint_overrides/*), e.g. https://HOST[:PORT]/
  CLOUDSDK_BILLING_QUOTA_PROJECT  project billed for quota (billing/quota_project)
  CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT
                               service account to act as (auth/impersonate_service_account)
  CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE  CA bundle to trust besides the system's
  GOOGLE_APPLICATION_CREDENTIALS  credentials file (default: gcloud's
                               application_default_credentials.json, then the
                               metadata server)
  SSL_CERT_FILE, HTTPS_PROXY, NO_PROXY  TLS roots and proxy, as every Go program
  RUNNET_EMULATOR_HOST         host:port of a running runnet emulator

Exit codes:
`

// exitCodeHelp renders exitcode.Table for the help text.
func exitCodeHelp() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, e := range exitcode.Table {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", e.Code, e.Name, e.Meaning)
	}
	tw.Flush()
	return b.String()
}

// NewRootCmd returns the runnet command with every subcommand. Building it
// creates no clients and reads no files.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "runnet",
		Short: "Switch Cloud Run workloads between VPC connectors, Direct VPC egress and no VPC",
		Long:  rootLong + strings.TrimRight(exitCodeHelp(), "\n"),
		Example: `  # Try it on the embedded emulator (no cloud account needed):
  runnet --emulator status

  # Move a service from its connector to Direct VPC egress, then update its Terraform:
  runnet attach run-service --network run-vpc --subnet run-direct-vpc-egress --project my-project --region asia-northeast1
  runnet export run-service --as terraform --project my-project --region asia-northeast1`,

		SilenceErrors: true, // Execute prints the error, once
		SilenceUsage:  true,

		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// Checked before any command runs, so that no API call is made
			// with a bad global flag.
			return applyGlobalFlags(f, cmd)
		},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommandError(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Options.Version {
				// `runnet --version`, as `gcloud --version`: what `runnet version` prints.
				return NewVersionOptions(f).run()
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return exitcode.Wrap(exitcode.Usage, err)
	})

	pf := root.PersistentFlags()
	o := &f.Options
	pf.StringVar(&o.Project, "project", "", "Google Cloud project ID (default: CLOUDSDK_CORE_PROJECT, then gcloud's core/project)")
	pf.StringVar(&o.Region, "region", "", "Cloud Run region (default: CLOUDSDK_RUN_REGION, then gcloud's run/region)")
	pf.StringVar(&o.Format, "format", "", "output format: table (the default), json, yaml, value(FIELD,...) or csv(FIELD,...)")
	pf.BoolVarP(&o.Quiet, "quiet", "q", false, "disable prompts (as in gcloud: take the default, i.e. --yes) and print no progress or informational messages")
	pf.BoolVarP(&o.Yes, "yes", "y", false, "answer yes to every confirmation (needed when stdin is not a terminal)")
	pf.BoolVar(&o.Verbose, "verbose", false, "explain what runnet does, and where settings came from")
	pf.StringVar(&o.Verbosity, "verbosity", "", "as gcloud's: debug (= --verbose), info or warning (the default), error, critical or none (no progress or informational messages; unlike --quiet, prompts stay)")
	root.Flags().BoolVar(&o.Version, "version", false, "print runnet's version, as 'runnet version' does")
	pf.BoolVar(&o.Emulator, "emulator", false, "use the embedded emulator (state kept in the user cache dir) instead of Google Cloud")
	pf.StringVar(&o.Impersonate, "impersonate-service-account", "", "act as this service account (or the last of a comma-separated delegation chain) through IAM Credentials, as gcloud does (default: gcloud's auth/impersonate_service_account)")
	_ = root.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(printer.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("verbosity", cobra.FixedCompletions(verbosities, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		NewCmdVersion(f, nil),
		NewCmdEmulator(f),
		NewCmdGenDocs(f),
		NewCmdStatus(f, nil), NewCmdAttach(f, nil), NewCmdDetach(f, nil),
		NewCmdConnector(f), NewCmdSubnet(f),
		NewCmdInventory(f, nil),
		NewCmdExport(f, nil), NewCmdCompletion(f, nil),
		NewCmdMigrate(f, nil), NewCmdDemo(f, nil),
	)
	registerCompletions(f, root) // after every AddCommand: completes names from the API
	return root
}

// newGroupCmd returns a command that only holds subcommands. Run alone it
// prints its help; with an unknown subcommand it is a usage error (cobra
// alone would print the help and exit 0).
func newGroupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommandError(cmd, args[0])
			}
			return cmd.Help()
		},
	}
}

// unknownCommandError is the usage error for name, which is not a subcommand of cmd, with
// the subcommands whose names are close to it (cobra's suggestions), as gcloud's "Invalid
// choice ... Maybe you meant".
func unknownCommandError(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(quoteAll(s), " or "))
	}
	return exitcode.Usagef("%s", msg)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// refuseUnknownHelp makes help for a command that does not exist a usage error, not the help
// of the nearest command that does with exit status 0: `runnet bogus --help`, `runnet subnet
// bogus --help` and `runnet help bogus`. It returns the error the help function found, if
// any: cobra's help function returns none.
func refuseUnknownHelp(root *cobra.Command) func() error {
	var helpErr error
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		// With --help, cobra parsed cmd's flags: what remains is what cmd could not find.
		if rest := cmd.Flags().Args(); cmd.HasSubCommands() && len(rest) > 0 {
			helpErr = unknownCommandError(cmd, rest[0])
			return
		}
		help(cmd, args)
	})
	root.InitDefaultHelpCmd()
	for _, h := range root.Commands() {
		if h.Name() != "help" || h.Run == nil {
			continue
		}
		run := h.Run
		h.Run = nil
		h.RunE = func(c *cobra.Command, args []string) error {
			if cmd, rest, err := c.Root().Find(args); err == nil && cmd.HasSubCommands() && len(rest) > 0 {
				return unknownCommandError(cmd, rest[0])
			}
			run(c, args)
			return nil
		}
	}
	return func() error { return helpErr }
}

// verbosities are the values of --verbosity, as gcloud's.
var verbosities = []string{"debug", "info", "warning", "error", "critical", "none"}

// applyGlobalFlags checks the global flags and applies them to the factory and its streams,
// before any command runs.
func applyGlobalFlags(f *Factory, cmd *cobra.Command) error {
	o := &f.Options
	// An empty --project or --region is a mistake (an unset shell variable, say), not a
	// request for the default.
	for _, name := range []string{"project", "region"} {
		if fl := cmd.Flag(name); fl != nil && fl.Changed && strings.TrimSpace(fl.Value.String()) == "" {
			return exitcode.Usagef("--%s is empty; give a %s, or leave the flag out to use the default (see 'runnet --help')", name, name)
		}
	}
	switch o.Verbosity {
	case "":
	case "debug":
		o.Verbose = true
	case "info", "warning":
	case "error", "critical", "none":
		if o.Verbose {
			return exitcode.Usagef("--verbose and --verbosity %s contradict each other; give one", o.Verbosity)
		}
		// Quiet output, but no --yes: gcloud's --verbosity never answers prompts.
		f.IOStreams.SetQuiet(true)
		o.Quiet = true
	default:
		return exitcode.Usagef("invalid value %q for --verbosity: must be one of %s", o.Verbosity, strings.Join(verbosities, ", "))
	}
	if fl := cmd.Flag("quiet"); fl != nil && fl.Changed && o.Quiet {
		// gcloud's -q/--quiet disables every prompt and takes its default: here, yes.
		o.Yes = true
	}
	if err := checkFormat(cmd, f.OutputFormat()); err != nil {
		return err
	}
	if fl := cmd.Flag("filter"); fl != nil && fl.Changed {
		flt, err := printer.ParseFilter(o.Filter)
		if err != nil {
			return err
		}
		f.filter = flt
	}
	f.IOStreams.SetQuiet(o.Quiet)
	f.IOStreams.SetVerbose(o.Verbose)
	return nil
}

// addFilterFlag gives a list command gcloud's --filter: the printer keeps the listed
// resources that match it.
func addFilterFlag(f *Factory, cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Options.Filter, "filter", "", printer.FilterHelp)
}
