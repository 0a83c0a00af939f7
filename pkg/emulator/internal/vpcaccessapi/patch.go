package vpcaccessapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/googlerest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Connector updates: projects.locations.connectors.patch, a REST-only method (the v1 gRPC
// service has no UpdateConnector; google.golang.org/api/vpcaccess/v1 has Patch with an
// updateMask: "The fields to update on the entry group. If absent or empty, all modifiable
// fields are updated").
//
// What may change, in place (same connector, same name, same subnet and range, same users):
// machine_type, min_instances and max_instances. Sources: gcloud compute networks vpc-access
// connectors update (flags --machine-type, --min-instances, --max-instances only); Cloud Run
// docs, "VPC with connectors" (Update a connector); Terraform provider issue #20814 ("the API
// now supports patching the machine type directly") and magic-modules PR #12830, which made
// exactly those three fields updatable in place, every other field immutable.
//
// Instances can only go up: the provider forces a new connector when min_instances or
// max_instances decrease, because "max and min instances can only increase in-place"
// (magic-modules, templates/terraform/constants/vpc_access_connector.go.tmpl,
// isInstanceShrinkage). The emulator refuses a decrease with INVALID_ARGUMENT.
//
// The connector is UPDATING while the operation runs and READY after, running at least the
// new min_instances (it never scales in). The real error texts for these refusals are not
// published; the emulator's wording is marked as such.
const (
	methodUpdate = "google.cloud.vpcaccess.v1.VpcAccessService.UpdateConnector"
	// patchMethodID names the call for latency and fault injection.
	patchMethodID = "vpcaccess.projects.locations.connectors.patch"
)

// updatable maps the update mask paths the API accepts (proto and JSON names) to the field.
var updatable = map[string]string{
	"machine_type": "machine_type", "machineType": "machine_type",
	"min_instances": "min_instances", "minInstances": "min_instances",
	"max_instances": "max_instances", "maxInstances": "max_instances",
}

// Emulator wording (real texts unknown).
const (
	msgNotUpdatable   = "Field %q cannot be updated: only machine_type, min_instances and max_instances can be changed in place."
	msgNoDecrease     = "Connector %s cannot be decreased in place (from %d to %d): instances can only be increased; to scale in, create a new connector."
	msgNotReadyUpdate = "The connector is %s and cannot be updated until it is READY."
)

// RegisterREST adds the REST PATCH of connectors to mux. The pattern names its method, so it
// takes precedence over a catch-all REST route for the same path.
func RegisterREST(mux *http.ServeMux, w *world.World) {
	s := &server{w: w}
	mux.HandleFunc("PATCH /v1/projects/{project}/locations/{location}/connectors/{connector}",
		googlerest.Serve(w, patchMethodID, s.patchREST))
}

func (s *server) patchREST(r *http.Request) (any, error) {
	name := connectorName(r.PathValue("project"), r.PathValue("location"), r.PathValue("connector"))
	var in vpcaccesspb.Connector
	if err := googlerest.Decode(r, &in); err != nil {
		return nil, err
	}
	op, err := s.updateConnector(name, &in, r.URL.Query().Get("updateMask"))
	if err != nil {
		st, _ := status.FromError(err)
		return nil, &googlerest.Error{Code: st.Code(), Message: st.Message()}
	}
	return op, nil
}

// updateConnector applies a patch: it checks the request, marks the connector UPDATING and
// returns the operation that makes the change after the LRO duration.
func (s *server) updateConnector(name string, in *vpcaccesspb.Connector, mask string) (*longrunningpb.Operation, error) {
	project, region, _, err := parseName(name)
	if err != nil {
		return nil, err
	}
	fields, err := maskFields(mask)
	if err != nil {
		return nil, err
	}
	w := s.w
	w.Lock()
	defer w.Unlock()
	c, ok := w.S.Connectors[name]
	if !ok {
		return nil, status.Error(codes.NotFound, msgNotFound)
	}
	if c.State != vpcaccesspb.Connector_READY {
		return nil, status.Errorf(codes.FailedPrecondition, msgNotReadyUpdate, c.State)
	}
	next := proto.Clone(c).(*vpcaccesspb.Connector)
	for _, f := range fields {
		switch f {
		case "machine_type":
			if in.MachineType != "" || mask != "" {
				next.MachineType = in.MachineType
			}
		case "min_instances":
			if in.MinInstances != 0 || mask != "" {
				next.MinInstances = in.MinInstances
			}
		case "max_instances":
			if in.MaxInstances != 0 || mask != "" {
				next.MaxInstances = in.MaxInstances
			}
		}
	}
	if err := checkUpdate(c, next); err != nil {
		return nil, err
	}
	next.MinThroughput = next.MinInstances * throughputPerInstance
	next.MaxThroughput = next.MaxInstances * throughputPerInstance
	c.State = vpcaccesspb.Connector_UPDATING
	w.MarkChangedLocked()
	op := w.NewOperationLocked(parentName(project, region), &vpcaccesspb.OperationMetadata{
		Method: methodUpdate, CreateTime: timestamppb.New(w.Now()), Target: name,
	})
	opName := op.Name
	w.Log.Info("connector updating", "name", name, "operation", opName, "machineType", next.MachineType, "min", next.MinInstances, "max", next.MaxInstances)
	w.AfterLocked(w.ConfigLocked().LRODuration, func() { finishUpdateLocked(w, opName, name, next) })
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

// maskFields reads an update mask; empty means every updatable field.
func maskFields(mask string) ([]string, error) {
	if strings.TrimSpace(mask) == "" {
		return []string{"machine_type", "min_instances", "max_instances"}, nil
	}
	var out []string
	for _, p := range strings.Split(mask, ",") {
		p = strings.TrimSpace(p)
		f, ok := updatable[p]
		if !ok {
			return nil, invalid(msgNotUpdatable, p)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// checkUpdate validates the updated connector against the current one.
func checkUpdate(cur, next *vpcaccesspb.Connector) error {
	if !slices.Contains(machineTypes, next.MachineType) {
		return invalid("Machine type %q is not supported. Supported machine types are: %s.", next.MachineType, strings.Join(machineTypes, ", "))
	}
	if n := next.MinInstances; n < minInstancesLow || n > minInstancesHigh {
		return invalid("%s", msgMinInstances)
	}
	if n := next.MaxInstances; n < maxInstancesLow || n > maxInstancesHigh {
		return invalid("%s", msgMaxInstances)
	}
	if next.MinInstances >= next.MaxInstances {
		return invalid("%s", msgMinBelowMax)
	}
	if next.MinInstances < cur.MinInstances {
		return invalid(msgNoDecrease, "minimum instances", cur.MinInstances, next.MinInstances)
	}
	if next.MaxInstances < cur.MaxInstances {
		return invalid(msgNoDecrease, "maximum instances", cur.MaxInstances, next.MaxInstances)
	}
	return nil
}

// finishUpdateLocked ends an update: the connector takes its new settings in place and is
// READY again, running at least min_instances.
func finishUpdateLocked(w *world.World, opName, name string, next *vpcaccesspb.Connector) {
	op := w.S.Operations[opName]
	c, ok := w.S.Connectors[name]
	if !ok || c.State != vpcaccesspb.Connector_UPDATING {
		if op != nil {
			endOperationLocked(w, op)
			w.FinishOperationLocked(op, nil, status.New(codes.Aborted, fmt.Sprintf("Operation failed: the connector %s was deleted or replaced while it was being updated.", name)))
		}
		return
	}
	c.MachineType, c.MinInstances, c.MaxInstances = next.MachineType, next.MinInstances, next.MaxInstances
	c.MinThroughput, c.MaxThroughput = next.MinThroughput, next.MaxThroughput
	c.State = vpcaccesspb.Connector_READY
	if cur := w.S.ConnectorInstances[name]; cur < int(c.MinInstances) {
		w.SetConnectorInstancesLocked(name, int(c.MinInstances))
	}
	w.MarkChangedLocked()
	if op != nil {
		endOperationLocked(w, op)
		w.FinishOperationLocked(op, viewLocked(w, c), nil)
	}
}
