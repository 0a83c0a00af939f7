package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// ---------------------------------------------------------------------------------------
// connector update

// ConnectorUpdateOptions are the inputs of `runnet connector update`.
type ConnectorUpdateOptions struct {
	f   *Factory
	Ref egress.ConnectorRef
	// Update holds the flags given (zero fields: not given).
	Update cloud.ConnectorUpdate
	Async  bool
}

// ConnectorUpdateResult is what `runnet connector update` prints: the connector as it is
// now, what changed, and its users, which keep it (same connector, same name, same range).
// JSON field names are a stable contract.
type ConnectorUpdateResult struct {
	ConnectorView
	// Changes lists "field: old → new"; empty when the connector already had the settings.
	Changes []string `json:"changes"`
	// InPlace is true: the connector was patched, not recreated.
	InPlace bool           `json:"inPlace"`
	Users   []WorkloadUser `json:"users"`
}

// Table renders the result as FIELD VALUE rows.
func (r ConnectorUpdateResult) Table() ([]string, [][]string) { return fieldTable(r) }

// NewCmdConnectorUpdate returns `runnet connector update`.
func NewCmdConnectorUpdate(f *Factory, runF func(context.Context, *ConnectorUpdateOptions) error) *cobra.Command {
	o := &ConnectorUpdateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "update NAME [--machine-type TYPE] [--min-instances N] [--max-instances N]",
		Short: "Change a connector's machine type or instance counts in place",
		Long: `Change a Serverless VPC Access connector's machine type, minimum or maximum
instances in place, with the API's PATCH (projects.locations.connectors.patch and
an update mask): the connector keeps its name, range or subnet, and every workload
that uses it keeps using it. Nothing is recreated, and runnet waits for the
operation unless --async.

Only these three settings can change in place, and the instance counts only go up
(the API, gcloud and the Terraform provider agree: a connector never scales in).
Everything is checked before any API call: --machine-type (e2-micro, f1-micro or
e2-standard-4), --min-instances (2 to 9), --max-instances (3 to 10, above the
minimum); then, against the connector, that it is READY (exit code 5 otherwise)
and that neither count decreases (exit code 3: use 'runnet connector recycle',
which replaces the connector, to get fewer instances). Asking for what the
connector already has changes nothing and succeeds.`,
		Example: `  # More throughput per instance, same connector and users:
  runnet connector update run-connector --machine-type e2-standard-4

  # Room to scale further:
  runnet connector update run-connector --max-instances 10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Ref, err = parseConnectorArg(f, args[0]); err != nil {
				return err
			}
			if err := o.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Update.MachineType, "machine-type", "", "new machine type of the connector's instances: "+strings.Join(connectorMachineTypes, ", "))
	fl.IntVar(&o.Update.MinInstances, "min-instances", 0, "new minimum number of instances, 2 to 9 (not below the current one)")
	fl.IntVar(&o.Update.MaxInstances, "max-instances", 0, "new maximum number of instances, 3 to 10 (not below the current one)")
	fl.BoolVar(&o.Async, "async", false, "return as soon as the update has started")
	_ = cmd.RegisterFlagCompletionFunc("machine-type", cobra.FixedCompletions(connectorMachineTypes, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// validate checks the flags on their own, before any call.
func (o *ConnectorUpdateOptions) validate(cmd *cobra.Command) error {
	fl := cmd.Flags()
	u := o.Update
	if !fl.Changed("machine-type") && !fl.Changed("min-instances") && !fl.Changed("max-instances") {
		return exitcode.Usagef("nothing to update: give --machine-type, --min-instances or --max-instances")
	}
	if fl.Changed("machine-type") && !slices.Contains(connectorMachineTypes, u.MachineType) {
		return exitcode.Usagef("--machine-type: %q is not a connector machine type; valid: %s", u.MachineType, strings.Join(connectorMachineTypes, ", "))
	}
	if fl.Changed("min-instances") && (u.MinInstances < connectorMinInstancesLow || u.MinInstances > connectorMinInstancesHigh) {
		return exitcode.Usagef("--min-instances: %d is out of range; valid: %d to %d", u.MinInstances, connectorMinInstancesLow, connectorMinInstancesHigh)
	}
	if fl.Changed("max-instances") && (u.MaxInstances < connectorMaxInstancesLow || u.MaxInstances > connectorMaxInstancesHigh) {
		return exitcode.Usagef("--max-instances: %d is out of range; valid: %d to %d", u.MaxInstances, connectorMaxInstancesLow, connectorMaxInstancesHigh)
	}
	if fl.Changed("min-instances") && fl.Changed("max-instances") && u.MinInstances >= u.MaxInstances {
		return exitcode.Usagef("--max-instances: %d must be greater than --min-instances (%d)", u.MaxInstances, u.MinInstances)
	}
	return nil
}

// checkAgainst checks the update against the connector as it is: READY, no decrease, min
// below max.
func (o *ConnectorUpdateOptions) checkAgainst(cur *cloud.Connector) error {
	u, name := o.Update, o.Ref.Name
	if cur.State != cloud.ConnectorReady {
		return exitcode.Errorf(exitcode.Conflict, "connector %s is %s, not READY: it can be updated once it is READY; nothing was changed", name, cur.State)
	}
	next := u.Apply(cur)
	// A decrease first: no maximum fixes it, and its remedy is a recycle.
	const recycle = "instances can only increase in place (a connector never scales in); 'runnet connector recycle %s' replaces it with a new, smaller one; nothing was changed"
	if next.MinInstances < cur.MinInstances {
		return exitcode.Errorf(exitcode.Preflight, "--min-instances: %d is below the connector's current %d: "+recycle, next.MinInstances, cur.MinInstances, name)
	}
	if next.MaxInstances < cur.MaxInstances {
		return exitcode.Errorf(exitcode.Preflight, "--max-instances: %d is below the connector's current %d: "+recycle, next.MaxInstances, cur.MaxInstances, name)
	}
	if next.MinInstances >= next.MaxInstances {
		flag, fix := "--min-instances", ""
		if u.MinInstances == 0 {
			flag = "--max-instances"
		} else if u.MaxInstances == 0 && next.MinInstances < connectorMaxInstancesHigh {
			fix = fmt.Sprintf("; give --max-instances too (%d to %d)", next.MinInstances+1, connectorMaxInstancesHigh)
		}
		return exitcode.Usagef("%s: connector %s would have min instances %d and max instances %d; the maximum must be greater than the minimum%s", flag, name, next.MinInstances, next.MaxInstances, fix)
	}
	return nil
}

func (o *ConnectorUpdateOptions) run(ctx context.Context) error {
	p, err := o.f.Printer()
	if err != nil {
		return err
	}
	c, err := o.f.Clients(ctx)
	if err != nil {
		return err
	}
	cur, users, warnings, err := getConnectorAndUsers(ctx, c, o.Ref)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		netWarn(o.f, "%s", w)
	}
	if err := o.checkAgainst(cur); err != nil {
		return err
	}
	// Chosen here, a slow machine type is warned about as at creation.
	if mt := o.Update.MachineType; mt != "" {
		if chk := egress.ConnectorMachineTypeCheck(o.Ref.Name, mt); chk.Status == egress.StatusWarn {
			netWarn(o.f, "%s: %s; use e2-standard-4 for production traffic", chk.Name, chk.Message)
		}
	}
	changes := o.Update.Changes(cur)
	conn := cur
	if len(changes) == 0 {
		netNotice(o.f, "Connector %s already has these settings; nothing was changed.", o.Ref.Name)
	} else {
		done := startWait(o.f, "Updating connector "+o.Ref.Name)
		conn, err = c.UpdateConnector(ctx, o.Ref, o.Update, waitOptions(o.f, o.Async))
		done()
		if err != nil {
			return err
		}
		if o.Async && conn.State != cloud.ConnectorReady {
			netNotice(o.f, "Updating connector %s (%s); follow it with 'runnet connector describe %s'.", o.Ref.Name, conn.State, o.Ref.Name)
		} else {
			netNotice(o.f, "Updated connector %s in place (%s); its %d user%s keep%s it.", o.Ref.Name, strings.Join(changes, ", "),
				len(users), netPlural(len(users)), map[bool]string{true: "s", false: ""}[len(users) == 1])
		}
	}
	views := []ConnectorView{{Connector: conn}}
	resolveConnectorSubnets(ctx, c, views)
	if users == nil {
		users = []WorkloadUser{}
	}
	if changes == nil {
		changes = []string{}
	}
	return p.Print(ConnectorUpdateResult{ConnectorView: views[0], Changes: changes, InPlace: true, Users: users})
}
