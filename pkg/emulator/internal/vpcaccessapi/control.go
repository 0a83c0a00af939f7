package vpcaccessapi

import (
	"fmt"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// PutConnectorLocked stores c (named projects/P/locations/L/connectors/C) as a READY connector
// at once, without an operation, for seeding a scenario. It checks c as CreateConnector does and
// fills every output field a completed create fills; it fails where the create's operation
// would fail (an overlapping range, no maximum). The connector runs min_instances instances.
// Errors carry the gRPC status CreateConnector would return.
func PutConnectorLocked(w *world.World, c *vpcaccesspb.Connector) (*vpcaccesspb.Connector, error) {
	if c == nil {
		return nil, fmt.Errorf("put connector: %w", invalid("%s", msgNoConnector))
	}
	project, region, id, err := parseName(c.GetName())
	if err != nil {
		return nil, fmt.Errorf("put connector: %w", err)
	}
	p, err := planLocked(w, parentName(project, region), id, c)
	if err != nil {
		return nil, fmt.Errorf("put connector %s: %w", c.GetName(), err)
	}
	if st := p.opError(); st != nil {
		return nil, fmt.Errorf("put connector %s: %w", c.GetName(), st.Err())
	}
	p.conn.State = vpcaccesspb.Connector_READY
	w.S.Connectors[p.name] = p.conn
	w.ForgetConnectorLocked(p.name)
	w.ConnectorMetaLocked(p.name)
	w.SetConnectorInstancesLocked(p.name, int(p.conn.MinInstances))
	return viewLocked(w, p.conn), nil
}

// ScaleConnectorLocked sets the number of instances the named READY connector runs. Connectors
// scale out but never in (VPC docs, "Serverless VPC Access", Throughput and scaling), so the
// count may only stay or grow, up to max_instances.
func ScaleConnectorLocked(w *world.World, name string, instances int) error {
	c, ok := w.S.Connectors[name]
	if !ok {
		return fmt.Errorf("scale connector %s: %w", name, status.Error(codes.NotFound, msgNotFound))
	}
	if c.State != vpcaccesspb.Connector_READY {
		return fmt.Errorf("scale connector %s: it is %s, not READY", name, c.State)
	}
	cur, ok := w.S.ConnectorInstances[name]
	if !ok {
		cur = int(c.MinInstances)
	}
	switch {
	case instances < cur:
		return fmt.Errorf("scale connector %s to %d instances: it runs %d and connectors never scale in", name, instances, cur)
	case instances > int(c.MaxInstances):
		return fmt.Errorf("scale connector %s to %d instances: max_instances is %d", name, instances, c.MaxInstances)
	}
	if instances != cur || !ok {
		w.SetConnectorInstancesLocked(name, instances)
	}
	return nil
}
