package world

import (
	"fmt"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// NewOperationLocked stores and returns a new, unfinished long-running operation named
// PARENT/operations/UUID (PARENT is "projects/P/locations/L"), carrying metadata.
func (w *World) NewOperationLocked(parent string, metadata proto.Message) *longrunningpb.Operation {
	op := &longrunningpb.Operation{Name: parent + "/operations/" + NewUUID()}
	if metadata != nil {
		op.Metadata = mustAny(metadata)
	}
	w.S.Operations[op.Name] = op
	w.MarkChangedLocked()
	return op
}

// SetOperationMetadataLocked replaces an operation's metadata.
func (w *World) SetOperationMetadataLocked(op *longrunningpb.Operation, metadata proto.Message) {
	op.Metadata = mustAny(metadata)
	w.MarkChangedLocked()
}

// FinishOperationLocked marks op done with a response, or with st when st is not nil.
func (w *World) FinishOperationLocked(op *longrunningpb.Operation, response proto.Message, st *status.Status) {
	op.Done = true
	if st != nil {
		op.Result = &longrunningpb.Operation_Error{Error: st.Proto()}
	} else if response != nil {
		op.Result = &longrunningpb.Operation_Response{Response: mustAny(response)}
	}
	w.MarkChangedLocked()
}

// OperationLocked returns a copy of the named operation, or nil.
func (w *World) OperationLocked(name string) *longrunningpb.Operation {
	op, ok := w.S.Operations[name]
	if !ok {
		return nil
	}
	return proto.Clone(op).(*longrunningpb.Operation)
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(fmt.Sprintf("anypb.New(%T): %v", m, err))
	}
	return a
}
