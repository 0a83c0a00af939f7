package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

const completionLong = `Print a shell completion script for runnet. Besides commands and flags, it completes
the names of workloads (services, job/NAME, workerpool/NAME), connectors, subnets and networks
from the API, in the project and region runnet would use (--project, --region, then the
environment and the gcloud configuration). Those lookups give up after 2 seconds, and an error
(no credentials, no project or region, no permission) only means no suggestions.

Install it once for your shell:

Bash (needs the bash-completion package):
  # this shell only:
  source <(runnet completion bash)
  # every new shell, Linux:
  runnet completion bash > /etc/bash_completion.d/runnet
  # every new shell, macOS with Homebrew:
  runnet completion bash > $(brew --prefix)/etc/bash_completion.d/runnet

Zsh:
  # if completion is not enabled yet, once:
  echo "autoload -U compinit; compinit" >> ~/.zshrc
  # every new shell:
  runnet completion zsh > "${fpath[1]}/_runnet"
  # then start a new shell.

Fish:
  # this shell only:
  runnet completion fish | source
  # every new shell:
  runnet completion fish > ~/.config/fish/completions/runnet.fish

PowerShell:
  # this session only:
  runnet completion powershell | Out-String | Invoke-Expression
  # every new session: add the line above to your PowerShell profile ($PROFILE).`

// completionShells are the shells runnet can write a completion script for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// CompletionOptions are the inputs of `runnet completion`.
type CompletionOptions struct {
	Shell          string
	NoDescriptions bool

	root *cobra.Command
	out  io.Writer
}

// NewCmdCompletion returns `runnet completion`. runF, if not nil, replaces the run step (for
// tests).
func NewCmdCompletion(f *Factory, runF func(*CompletionOptions) error) *cobra.Command {
	o := &CompletionOptions{}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script (bash, zsh, fish or PowerShell)",
		Long:  completionLong,
		Example: `  # Try it in the current bash session:
  source <(runnet completion bash)

  # Install it for zsh:
  runnet completion zsh > "${fpath[1]}/_runnet"

  # Fish, without descriptions next to the suggestions:
  runnet completion fish --no-descriptions > ~/.config/fish/completions/runnet.fish`,
		ValidArgs: completionShells,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return exitcode.Usagef("give one shell: %s", strings.Join(completionShells, ", "))
			}
			for _, s := range completionShells {
				if args[0] == s {
					return nil
				}
			}
			return exitcode.Usagef("unknown shell %q; valid: %s", args[0], strings.Join(completionShells, ", "))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Shell, o.root, o.out = args[0], cmd.Root(), f.IOStreams.Out
			if runF != nil {
				return runF(o)
			}
			return o.run()
		},
	}
	cmd.Flags().BoolVar(&o.NoDescriptions, "no-descriptions", false, "suggest names without their descriptions")
	return cmd
}

func (o *CompletionOptions) run() error {
	desc := !o.NoDescriptions
	switch o.Shell {
	case "bash":
		return o.root.GenBashCompletionV2(o.out, desc)
	case "zsh":
		if desc {
			return o.root.GenZshCompletion(o.out)
		}
		return o.root.GenZshCompletionNoDesc(o.out)
	case "fish":
		return o.root.GenFishCompletion(o.out, desc)
	case "powershell":
		if desc {
			return o.root.GenPowerShellCompletionWithDesc(o.out)
		}
		return o.root.GenPowerShellCompletion(o.out)
	}
	return exitcode.Usagef("unknown shell %q; valid: %s", o.Shell, strings.Join(completionShells, ", "))
}

// Dynamic completion of names from the API.
//
// Cobra runs completion in-process: the shell script calls `runnet __complete ARGS... PREFIX`,
// which parses the flags given so far (so --project, --region and --emulator apply) and calls
// the completion function of the argument or flag being completed.

// completionTimeout bounds the API lookups of one completion: a shell must not hang on a tab.
var completionTimeout = 2 * time.Second

// nameKind is what a completion suggests.
type nameKind string

const (
	completeWorkload   nameKind = "workload"   // one WORKLOAD
	completeWorkloads  nameKind = "workloads"  // WORKLOAD...
	completeConnector  nameKind = "connector"  // a connector NAME
	completeSubnet     nameKind = "subnet"     // a subnet NAME
	completeNetwork    nameKind = "network"    // a network NAME
	completeConnectors nameKind = "connectors" // connector NAME...
)

// CompleteArgsAnnotation, set on a command to one of workload, workloads, connector,
// connectors, subnet or network, makes its positional arguments complete those names from the
// API (unless the command sets its own ValidArgsFunction). Commands listed in completeArgs need
// not set it.
const CompleteArgsAnnotation = "runnet/complete-args"

// completeArgs says what the positional arguments of each command are, by command path (without
// "runnet "). Commands that do not exist (yet) are ignored.
var completeArgs = map[string]nameKind{
	"status":             completeWorkloads,
	"attach":             completeWorkload,
	"detach":             completeWorkload,
	"export":             completeWorkload,
	"migrate":            completeWorkloads,
	"connector describe": completeConnector,
	"connector delete":   completeConnector,
	"connector users":    completeConnector,
	"connector recycle":  completeConnector,
	"subnet describe":    completeSubnet,
	"subnet delete":      completeSubnet,
}

// completeFlags says what flags complete, by flag name, on every command that has them.
var completeFlags = map[string]nameKind{
	"connector":      completeConnector,
	"from-connector": completeConnector,
	"subnet":         completeSubnet,
	"network":        completeNetwork,
}

// completionList lists the names of kind for cmd (whose flags are parsed): the seam tests
// replace. The default reads them from the API.
var completionList = listNamesFromAPI

// registerCompletions gives every command of root's tree dynamic completion of its positional
// arguments (completeArgs, CompleteArgsAnnotation) and of its --connector, --from-connector,
// --subnet and --network flags. What a command registers itself is left alone.
func registerCompletions(f *Factory, root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), root.Name()), " ")
		kind, ok := completeArgs[path]
		if a := cmd.Annotations[CompleteArgsAnnotation]; a != "" {
			kind, ok = nameKind(a), true
		}
		switch {
		case cmd.ValidArgsFunction != nil || len(cmd.ValidArgs) > 0:
		case ok:
			cmd.ValidArgsFunction = completeNames(f, kind, true)
		default:
			// No runnet command takes a file as an argument (new names, nothing, or
			// subcommands): never let the shell offer file names.
			cmd.ValidArgsFunction = cobra.NoFileCompletions
		}
		for name, k := range completeFlags {
			if cmd.Flags().Lookup(name) == nil { // the command's own flags (nothing is merged yet)
				continue
			}
			if _, exists := cmd.GetFlagCompletionFunc(name); exists {
				continue
			}
			_ = cmd.RegisterFlagCompletionFunc(name, completeNames(f, k, false))
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// completeNames returns a completion function suggesting names of kind that start with what
// was typed, for a positional argument (leaving out arguments already given) or a flag. It
// never suggests files, and suggests nothing when the lookup fails or takes longer than
// completionTimeout.
func completeNames(f *Factory, kind nameKind, isArg bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		const directive = cobra.ShellCompDirectiveNoFileComp
		many := kind == completeWorkloads || kind == completeConnectors
		if isArg && !many && len(args) > 0 {
			return nil, directive
		}
		if strings.HasPrefix(toComplete, "projects/") || strings.HasPrefix(toComplete, "https://") {
			return nil, directive // full names are typed, not listed
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		all := lookupWithTimeout(ctx, completionTimeout, func(ctx context.Context) ([]cobra.Completion, error) {
			return completionList(ctx, f, kind, cmd)
		})
		given := map[string]bool{}
		if isArg {
			for _, a := range args {
				given[a] = true
			}
		}
		var out []cobra.Completion
		for _, c := range all {
			name, _, _ := strings.Cut(c, "\t")
			if strings.HasPrefix(name, toComplete) && !given[name] {
				out = append(out, c)
			}
		}
		return out, directive
	}
}

// lookupWithTimeout runs list with a deadline and returns its result, or nothing if it fails or
// does not return in time (it is then abandoned: the process ends when completion does).
func lookupWithTimeout(ctx context.Context, timeout time.Duration, list func(context.Context) ([]cobra.Completion, error)) []cobra.Completion {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch := make(chan []cobra.Completion, 1)
	go func() {
		names, err := list(ctx)
		if err != nil {
			names = nil
		}
		ch <- names
	}()
	select {
	case names := <-ch:
		return names
	case <-ctx.Done():
		return nil
	}
}

// listNamesFromAPI lists names of kind in the project and region the command would use. It
// works on its own factory (same environment and global flags) so that an abandoned lookup
// holds nothing the command's own factory needs when it closes.
func listNamesFromAPI(ctx context.Context, f *Factory, kind nameKind, cmd *cobra.Command) ([]cobra.Completion, error) {
	lf := NewFactory(f.IOStreams, f.Getenv)
	lf.Options = f.Options
	lf.Options.Verbose = false
	defer lf.Close()
	project, err := lf.Project()
	if err != nil {
		return nil, err
	}
	c, err := lf.Clients(ctx)
	if err != nil {
		return nil, err
	}
	var out []cobra.Completion
	switch kind {
	case completeNetwork:
		ns, err := c.ListNetworks(ctx, project)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			out = append(out, cobra.CompletionWithDesc(n.Name, shared.Plural(len(n.Subnetworks), "subnet")))
		}
		return out, nil
	}
	region, err := lf.Region()
	if err != nil {
		return nil, err
	}
	switch kind {
	case completeWorkload, completeWorkloads:
		ws, err := c.ListWorkloads(ctx, project, region)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			out = append(out, cobra.CompletionWithDesc(w.Ref.String(), workloadDesc(w)))
		}
	case completeConnector, completeConnectors:
		cs, err := c.ListConnectors(ctx, project, region)
		if err != nil {
			return nil, err
		}
		for _, cn := range cs {
			out = append(out, cobra.CompletionWithDesc(cn.Name, connectorDesc(cn)))
		}
	case completeSubnet:
		ss, err := c.ListSubnets(ctx, project, region)
		if err != nil {
			return nil, err
		}
		network := ""
		if fl := cmd.Flags().Lookup("network"); fl != nil && fl.Changed {
			network = egress.ShortName(fl.Value.String())
		}
		for _, s := range ss {
			if network != "" && s.Network != network {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(s.Name, subnetDesc(s)))
		}
	}
	return out, nil
}

func workloadDesc(w *cloud.Workload) string {
	d := string(w.Ref.Kind)
	switch w.VPC.Mode() {
	case egress.ModeConnector:
		return d + ", connector " + egress.ShortName(w.VPC.Connector)
	case egress.ModeDirect:
		s := w.VPC.Subnet
		if s == "" {
			s = w.VPC.Network
		}
		return d + ", direct " + egress.ShortName(s)
	}
	return d + ", no VPC"
}

func connectorDesc(c *cloud.Connector) string {
	parts := []string{c.State}
	if n := c.NetworkName(); n != "" {
		parts = append(parts, "network "+n)
	}
	if c.IPCIDRRange != "" {
		parts = append(parts, c.IPCIDRRange)
	} else if c.Subnet != nil && c.Subnet.Name != "" {
		parts = append(parts, "subnet "+c.Subnet.Name)
	}
	return strings.Join(parts, ", ")
}

func subnetDesc(s *cloud.Subnet) string {
	return fmt.Sprintf("%s in %s, %d free IPs", s.IPCIDRRange, s.Network, s.FreeIPs)
}
