package vpcaccessapi

import (
	"context"
	"sort"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func (s *server) CreateConnector(_ context.Context, req *vpcaccesspb.CreateConnectorRequest) (*longrunningpb.Operation, error) {
	w := s.w
	w.Lock()
	defer w.Unlock()
	p, err := planLocked(w, req.GetParent(), req.GetConnectorId(), req.GetConnector())
	if err != nil {
		return nil, err
	}
	c := p.conn
	c.State = vpcaccesspb.Connector_CREATING
	w.S.Connectors[p.name] = c
	w.ForgetConnectorLocked(p.name) // a connector of the same name deleted earlier
	w.ConnectorMetaLocked(p.name)   // records the create time
	w.MarkChangedLocked()
	op := w.NewOperationLocked(p.parent, &vpcaccesspb.OperationMetadata{
		Method:     methodCreate,
		CreateTime: timestamppb.New(w.Now()),
		Target:     p.name,
	})
	opName, name, opErr, keep := op.Name, p.name, p.opError(), p.overlap != ""
	w.Log.Info("connector creating", "name", name, "operation", opName, "fails", opErr.Message(), "overlap", p.overlap)
	w.AfterLocked(w.ConfigLocked().LRODuration, func() { finishCreateLocked(w, opName, name, opErr, keep) })
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

// finishCreateLocked ends a create operation: the connector becomes READY (running
// min_instances instances) when opErr is nil; otherwise it is left in ERROR when keep is set
// (an overlapping range: "Please delete the connector manually.") or goes away.
func finishCreateLocked(w *world.World, opName, name string, opErr *status.Status, keep bool) {
	c := w.S.Connectors[name]
	switch {
	case c == nil || c.State != vpcaccesspb.Connector_CREATING:
		// The state was replaced meanwhile (reset or restore); nothing left to create.
		opErr = status.New(codes.Aborted, "Operation failed: the connector was removed while it was being created.")
	case opErr == nil:
		c.State = vpcaccesspb.Connector_READY
		w.SetConnectorInstancesLocked(name, int(c.MinInstances))
	case keep:
		c.State = vpcaccesspb.Connector_ERROR
	default:
		delete(w.S.Connectors, name)
		w.ForgetConnectorLocked(name)
	}
	w.MarkChangedLocked()
	op := w.S.Operations[opName]
	if op == nil {
		return
	}
	endOperationLocked(w, op)
	if opErr != nil {
		w.FinishOperationLocked(op, nil, opErr)
		return
	}
	w.FinishOperationLocked(op, viewLocked(w, c), nil)
}

// endOperationLocked sets the operation's metadata end_time to now.
func endOperationLocked(w *world.World, op *longrunningpb.Operation) {
	md := &vpcaccesspb.OperationMetadata{}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil {
		return
	}
	md.EndTime = timestamppb.New(w.Now())
	w.SetOperationMetadataLocked(op, md)
}

func (s *server) GetConnector(_ context.Context, req *vpcaccesspb.GetConnectorRequest) (*vpcaccesspb.Connector, error) {
	if _, _, _, err := parseName(req.GetName()); err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	c, ok := s.w.S.Connectors[req.GetName()]
	if !ok {
		return nil, status.Error(codes.NotFound, msgNotFound)
	}
	return viewLocked(s.w, c), nil
}

func (s *server) ListConnectors(_ context.Context, req *vpcaccesspb.ListConnectorsRequest) (*vpcaccesspb.ListConnectorsResponse, error) {
	if _, _, err := parseParent(req.GetParent()); err != nil {
		return nil, err
	}
	s.w.Lock()
	defer s.w.Unlock()
	prefix := req.GetParent() + "/connectors/"
	var keys []string
	for k := range s.w.S.Connectors {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	keys, next, err := page(keys, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &vpcaccesspb.ListConnectorsResponse{NextPageToken: next}
	for _, k := range keys {
		resp.Connectors = append(resp.Connectors, viewLocked(s.w, s.w.S.Connectors[k]))
	}
	return resp, nil
}

func (s *server) DeleteConnector(_ context.Context, req *vpcaccesspb.DeleteConnectorRequest) (*longrunningpb.Operation, error) {
	project, region, _, err := parseName(req.GetName())
	if err != nil {
		return nil, err
	}
	w := s.w
	w.Lock()
	defer w.Unlock()
	name := req.GetName()
	c, ok := w.S.Connectors[name]
	if !ok {
		return nil, status.Error(codes.NotFound, msgNotFound)
	}
	switch c.State {
	case vpcaccesspb.Connector_CREATING:
		// Choice: the real service's behaviour is not documented.
		return nil, status.Error(codes.FailedPrecondition, msgFailedCreate)
	case vpcaccesspb.Connector_DELETING:
		return nil, status.Error(codes.FailedPrecondition, msgAlreadyDeleting)
	}
	c.State = vpcaccesspb.Connector_DELETING
	w.MarkChangedLocked()
	op := w.NewOperationLocked(parentName(project, region), &vpcaccesspb.OperationMetadata{
		Method:     methodDelete,
		CreateTime: timestamppb.New(w.Now()),
		Target:     name,
	})
	opName := op.Name
	w.Log.Info("connector deleting", "name", name, "operation", opName)
	w.AfterLocked(w.ConfigLocked().LRODuration, func() {
		if c, ok := w.S.Connectors[name]; ok && c.State == vpcaccesspb.Connector_DELETING {
			delete(w.S.Connectors, name)
			w.ForgetConnectorLocked(name)
		}
		if op := w.S.Operations[opName]; op != nil {
			endOperationLocked(w, op)
			w.FinishOperationLocked(op, &emptypb.Empty{}, nil)
		}
	})
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

// viewLocked is what the API returns for c: a copy, with connected_projects (output only,
// "List of projects using the connector") filled from the Cloud Run services and jobs whose
// current template uses the connector. It is empty for a connector nobody uses, as in the
// recorded READY responses.
func viewLocked(w *world.World, c *vpcaccesspb.Connector) *vpcaccesspb.Connector {
	out := proto.Clone(c).(*vpcaccesspb.Connector)
	out.ConnectedProjects = nil
	if c.State != vpcaccesspb.Connector_READY {
		return out
	}
	projects := map[string]bool{}
	use := func(workload, ref string) {
		if ref == "" {
			return
		}
		p := strings.Split(workload, "/") // projects/P/locations/L/{services,jobs}/N
		if len(p) != 6 {
			return
		}
		if !strings.Contains(ref, "/") {
			ref = connectorName(p[1], p[3], ref)
		}
		if ref == c.Name {
			projects[p[1]] = true
		}
	}
	for k, svc := range w.S.Services {
		use(k, svc.GetTemplate().GetVpcAccess().GetConnector())
	}
	for k, job := range w.S.Jobs {
		use(k, job.GetTemplate().GetTemplate().GetVpcAccess().GetConnector())
	}
	for p := range projects {
		out.ConnectedProjects = append(out.ConnectedProjects, p)
	}
	sort.Strings(out.ConnectedProjects)
	return out
}
