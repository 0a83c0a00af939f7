package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iac"
	"github.com/runnet-dev/runnet/pkg/egress"
)

const exportLong = `Print a workload's current VPC access as infrastructure code, so that a change made
with runnet (attach, detach, migrate) can be carried into the code that owns the workload;
otherwise the next 'terraform apply' or 'pulumi up' puts the old settings back.

--as chooses the form:

  terraform    the vpc_access block of the google_cloud_run_v2_service, google_cloud_run_v2_job
               (template { template { vpc_access } }) or google_cloud_run_v2_worker_pool
               resource, inside the resource's identifying arguments (name, location, project)
  pulumi-yaml  the vpcAccess property of the gcp:cloudrunv2:Service, Job or WorkerPool resource,
               in a Pulumi YAML program
  gcloud       the 'gcloud run services|jobs|worker-pools update' command that sets the same VPC
               access whatever the workload has now (it clears the other mode)

Names are printed as the Cloud Run API holds them (runnet writes full resource paths), so code
that uses them shows no difference on its next plan. Only the VPC access is printed: merge it
into your resource and keep its other arguments. A workload without VPC access gets a comment
saying to remove the block.

The snippet is printed as plain text, also when stdout is not a terminal, so that it can be
redirected to a file. With an explicit --format json or yaml the result is an object with
these fields (a stable contract):

  kind, name, project, region   the workload
  mode                          none, connector or direct
  as                            terraform, pulumi-yaml or gcloud
  resource                      the resource type (or the gcloud command) the snippet uses
  snippet                       the text

If the workload's latest change failed (its latest revision could not start), the snippet
shows the settings its template asks for, not those of the revision serving traffic; a
warning on stderr says so.`

// ExportOptions are the inputs of `runnet export`.
type ExportOptions struct {
	f *Factory

	Workload string
	As       string

	// Filled in by complete.
	ref    egress.WorkloadRef
	format iac.Format
}

// NewCmdExport returns `runnet export`. runF, if not nil, replaces the run step (for tests).
func NewCmdExport(f *Factory, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	o := &ExportOptions{f: f}
	cmd := &cobra.Command{
		Use:   "export WORKLOAD --as terraform|pulumi-yaml|gcloud",
		Short: "Print a workload's VPC access as Terraform, Pulumi YAML or a gcloud command",
		Long:  exportLong,
		Example: `  # After 'runnet attach run-service --subnet run-direct-vpc-egress', update the Terraform:
  runnet export run-service --as terraform

  # The Pulumi YAML for a job's VPC access, into a file to merge:
  runnet export job/nightly-export --as pulumi-yaml > nightly-export-vpc.yaml

  # The gcloud command that recreates a worker pool's Direct VPC egress elsewhere:
  runnet export workerpool/queue-worker --as gcloud

  # The snippet inside JSON, for a script:
  runnet export run-service --as terraform --format json | jq -r .snippet`,
		Args: exactOneWorkload,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Workload = args[0]
			if err := o.complete(cmd.Flags().Changed("as")); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.As, "as", "", "form of the code: "+strings.Join(iac.FormatNames(), ", ")+" (required)")
	_ = cmd.RegisterFlagCompletionFunc("as", cobra.FixedCompletions(iac.FormatNames(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// complete checks every input, before any API call.
func (o *ExportOptions) complete(asSet bool) error {
	if !asSet {
		return exitcode.Usagef("--as is required: %s", strings.Join(iac.FormatNames(), ", "))
	}
	format, err := iac.ParseFormat(o.As)
	if err != nil {
		return exitcode.Usagef("--as: %v", err)
	}
	o.format = format
	ref, err := parseWorkloadArg(o.f, o.Workload)
	if err != nil {
		return err
	}
	o.ref = ref
	return nil
}

func (o *ExportOptions) run(ctx context.Context) error {
	// Plain text unless --format asks for another format: the snippet is meant for files.
	p, err := o.f.Printer()
	if err == nil {
		p.SetColor(false) // code, pasted into files
	}
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	w, err := c.GetWorkload(ctx, o.ref)
	if err != nil {
		return err
	}
	res, err := NewExportResult(o.format, w.Workload)
	if err != nil {
		return fmt.Errorf("export %s: %w", o.ref, err)
	}
	if w.Rollout() == cloud.RolloutFailed {
		serving := "its previous settings"
		if w.LatestReady != "" {
			serving = "revision " + w.LatestReady + " and its settings"
		}
		netWarn(o.f, "the latest change of %s %s failed (%s); this is what its template asks for, but traffic is still served by %s.",
			o.ref.Kind.Noun(), o.ref.Name, dash(w.Terminal.Message), serving)
	}
	return p.Print(res)
}

// ExportResult is what `runnet export` prints. Its JSON field names are a documented, stable
// contract (see exportLong).
type ExportResult struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Project  string `json:"project"`
	Region   string `json:"region"`
	Mode     string `json:"mode"`
	As       string `json:"as"`
	Resource string `json:"resource"`
	Snippet  string `json:"snippet"`
}

// NewExportResult renders w's VPC access, as the API holds it, in format f.
func NewExportResult(f iac.Format, w egress.Workload) (ExportResult, error) {
	text, err := iac.RenderWorkload(f, w)
	if err != nil {
		return ExportResult{}, err
	}
	return ExportResult{
		Kind: string(w.Ref.Kind), Name: w.Ref.Name, Project: w.Ref.Project, Region: w.Ref.Region,
		Mode: string(w.VPC.Mode()), As: string(f), Resource: iac.Resource(f, w.Ref.Kind), Snippet: text,
	}, nil
}

// WriteText prints the snippet alone.
func (r ExportResult) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, r.Snippet)
	return err
}

// IaCHint returns the command that prints ref's VPC access as infrastructure code, for a
// command that has just changed it: "runnet export NAME --as terraform". The workload is named
// so that the command finds it again: by its short form when it is in the default project and
// region (and they did not come from flags), by its full name otherwise.
func IaCHint(f *Factory, ref egress.WorkloadRef) string {
	args := []string{"runnet"}
	if f.Options.Emulator {
		args = append(args, "--emulator")
	}
	name := ref.String()
	project, perr := f.Project()
	region, rerr := f.Region()
	if f.Options.Project != "" || f.Options.Region != "" || perr != nil || rerr != nil || project != ref.Project || region != ref.Region {
		name = ref.FullName()
	}
	args = append(args, "export", name, "--as", string(iac.Terraform))
	return strings.Join(args, " ")
}

// PrintIaCHint tells, in one line on stderr (unless --quiet), how to carry a change of ref's
// VPC access into infrastructure code. Commands that change a workload's VPC access (attach,
// detach, migrate) call it once the change is made.
func PrintIaCHint(f *Factory, ref egress.WorkloadRef) {
	if f.Options.Quiet || f.IOStreams.Quiet() {
		return
	}
	others := make([]string, 0, len(iac.Formats)-1)
	for _, x := range iac.Formats[1:] {
		others = append(others, string(x))
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "Update your infrastructure code to match: %s (or --as %s).\n", IaCHint(f, ref), strings.Join(others, ", "))
}
