package cloud

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	vpcrest "google.golang.org/api/vpcaccess/v1"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Updating a connector in place.
//
// The v1 gRPC service (cloud.google.com/go/vpcaccess/apiv1) has no UpdateConnector; the REST
// API has projects.locations.connectors.patch (google.golang.org/api/vpcaccess/v1,
// ProjectsLocationsConnectorsService.Patch, with an updateMask). What it changes in place,
// keeping the connector, its name, its range or subnet, and so its users:
//
//   - machine_type, min_instances and max_instances, and nothing else. Sources: `gcloud compute
//     networks vpc-access connectors update` takes --machine-type, --min-instances and
//     --max-instances only (gcloud reference); Cloud Run docs "Configure Serverless VPC
//     Access" (Update a connector: "you can update the machine type, the minimum number of
//     instances and the maximum number of instances"); the Terraform provider made exactly
//     these three updatable in place (hashicorp/terraform-provider-google issue 20814,
//     GoogleCloudPlatform/magic-modules PR 12830), every other field forcing a new connector.
//   - The instance counts only go up: the provider still forces a new connector when
//     min_instances or max_instances decrease ("max and min instances can only increase
//     in-place", magic-modules vpc_access_connector.go.tmpl, isInstanceShrinkage), and the
//     docs say a connector does not scale in. runnet refuses a decrease before any call and
//     points at `runnet connector recycle`, which replaces the connector.
//
// The operation is a VPC Access long-running operation like the others: it is polled with the
// gRPC client's GetOperation, the connector being UPDATING until it ends.

// ConnectorUpdate is what to change; a zero field is left as it is.
type ConnectorUpdate struct {
	MachineType  string
	MinInstances int
	MaxInstances int
}

// Mask returns the update mask (the REST API's camelCase field names) of the fields u sets.
func (u ConnectorUpdate) Mask() []string {
	var m []string
	if u.MachineType != "" {
		m = append(m, "machineType")
	}
	if u.MinInstances != 0 {
		m = append(m, "minInstances")
	}
	if u.MaxInstances != 0 {
		m = append(m, "maxInstances")
	}
	return m
}

// Apply returns what cur becomes with u applied.
func (u ConnectorUpdate) Apply(cur *Connector) Connector {
	next := *cur
	if u.MachineType != "" {
		next.MachineType = u.MachineType
	}
	if u.MinInstances != 0 {
		next.MinInstances = u.MinInstances
	}
	if u.MaxInstances != 0 {
		next.MaxInstances = u.MaxInstances
	}
	return next
}

// Changes lists, as "field: old → new", what u changes in cur; nil when nothing.
func (u ConnectorUpdate) Changes(cur *Connector) []string {
	next := u.Apply(cur)
	var out []string
	if next.MachineType != cur.MachineType {
		out = append(out, fmt.Sprintf("machine type: %s → %s", cur.MachineType, next.MachineType))
	}
	if next.MinInstances != cur.MinInstances {
		out = append(out, fmt.Sprintf("min instances: %d → %d", cur.MinInstances, next.MinInstances))
	}
	if next.MaxInstances != cur.MaxInstances {
		out = append(out, fmt.Sprintf("max instances: %d → %d", cur.MaxInstances, next.MaxInstances))
	}
	return out
}

// UpdateConnector patches a connector in place (REST connectors.patch with the update mask of
// u) and, unless opts.Async, waits for the operation. It returns the connector as it stands
// at the end: updated and READY, or UPDATING with opts.Async. The caller checks u against the
// connector first (see above); the API refuses what cannot change in place.
func (c *Clients) UpdateConnector(ctx context.Context, ref egress.ConnectorRef, u ConnectorUpdate, opts WaitOptions) (*Connector, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	mask := u.Mask()
	if len(mask) == 0 {
		return nil, fmt.Errorf("update connector %q: nothing to change", ref.Name)
	}
	rs, err := c.VPCAccessREST()
	if err != nil {
		return nil, err
	}
	vc, err := c.VPCAccess()
	if err != nil {
		return nil, err
	}
	body := &vpcrest.Connector{MachineType: u.MachineType, MinInstances: int64(u.MinInstances), MaxInstances: int64(u.MaxInstances)}
	var op *vpcrest.Operation
	// Setting the same values again is harmless: a retry after a transient failure can only
	// meet the connector already UPDATING (FAILED_PRECONDITION) or updated.
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		op, err = rs.Projects.Locations.Connectors.Patch(ref.FullName(), body).UpdateMask(strings.Join(mask, ",")).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("update connector %q", ref.Name), err)
	}
	opts.progress("Updating connector %s (operation %s)...", ref.Name, egress.ShortName(op.Name))
	if opts.Async {
		return c.GetConnector(ctx, ref)
	}
	out := &vpcaccesspb.Connector{}
	if op.Done {
		if op.Error != nil {
			return nil, connectorOpError("update", ref, fmt.Errorf("operation %s failed: %s", op.Name, op.Error.Message))
		}
		return c.GetConnector(ctx, ref)
	}
	if err := waitPoll(ctx, vc, &longrunningpb.Operation{Name: op.Name}, out, progressOp(opts, "Updating connector "+ref.Name)); err != nil {
		return nil, connectorOpError("update", ref, err)
	}
	conn, err := connectorFromProto(out)
	if err != nil || conn.Name == "" {
		return c.GetConnector(ctx, ref)
	}
	return conn, nil
}
