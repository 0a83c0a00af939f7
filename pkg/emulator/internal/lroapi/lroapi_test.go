package lroapi_test

import (
	"context"
	"testing"
	"time"

	lro "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func setup(t *testing.T) (*world.World, *lro.OperationsClient, context.Context) {
	t.Helper()
	w := servertest.NewWorld(t, servertest.FastConfig)
	addr := servertest.StartGRPC(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	c, err := lro.NewOperationsClient(ctx, servertest.GRPCOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return w, c, ctx
}

func newOp(w *world.World, parent string, finishAfter time.Duration) string {
	w.Lock()
	defer w.Unlock()
	op := w.NewOperationLocked(parent, nil)
	name := op.Name
	w.AfterLocked(finishAfter, func() {
		if o := w.S.Operations[name]; o != nil {
			w.FinishOperationLocked(o, &emptypb.Empty{}, nil)
		}
	})
	return name
}

func TestGetListDelete(t *testing.T) {
	w, c, ctx := setup(t)
	a := newOp(w, "projects/p/locations/us-central1", time.Hour)
	b := newOp(w, "projects/p/locations/us-central1", time.Hour)
	newOp(w, "projects/p/locations/europe-west1", time.Hour)

	op, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: a})
	if err != nil || op.GetName() != a || op.GetDone() {
		t.Fatalf("Get = %v, %v", op, err)
	}
	it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: "projects/p/locations/us-central1", PageSize: 1})
	var names []string
	for {
		o, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, o.GetName())
	}
	if len(names) != 2 {
		t.Fatalf("List in one location = %v, want 2 operations (paged by 1)", names)
	}
	if err := c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: b}); status.Code(err) != codes.NotFound {
		t.Fatalf("Get after delete: %v, want NOT_FOUND", err)
	}
	if err := c.DeleteOperation(ctx, &longrunningpb.DeleteOperationRequest{Name: b}); status.Code(err) != codes.NotFound {
		t.Fatalf("second delete: %v, want NOT_FOUND", err)
	}
}

func TestBadNamesAndCancel(t *testing.T) {
	w, c, ctx := setup(t)
	for _, name := range []string{"", "operations/x", "projects/p/locations/l/operations/", "projects/p/regions/r/operations/x"} {
		if _, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Get(%q) = %v, want INVALID_ARGUMENT", name, err)
		}
	}
	a := newOp(w, "projects/p/locations/us-central1", time.Hour)
	if err := c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: a}); status.Code(err) != codes.Unimplemented {
		t.Errorf("Cancel = %v, want UNIMPLEMENTED", err)
	}
}

func TestWait(t *testing.T) {
	w, c, ctx := setup(t)
	slow := newOp(w, "projects/p/locations/us-central1", time.Hour)
	begin := time.Now()
	op, err := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: slow, Timeout: durationpb.New(50 * time.Millisecond)})
	if err != nil || op.GetDone() {
		t.Fatalf("Wait on a running op: %v, %v", op, err)
	}
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("Wait returned after %v, before its 50ms timeout", d)
	}
	quick := newOp(w, "projects/p/locations/us-central1", 30*time.Millisecond)
	op, err = c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: quick, Timeout: durationpb.New(10 * time.Second)})
	if err != nil || !op.GetDone() {
		t.Fatalf("Wait on a finishing op: %v, %v", op, err)
	}
	// Advancing the clock finishes the slow one, and a waiter wakes at once.
	done := make(chan *longrunningpb.Operation, 1)
	go func() {
		op, _ := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: slow, Timeout: durationpb.New(10 * time.Second)})
		done <- op
	}()
	time.Sleep(20 * time.Millisecond)
	w.Advance(2 * time.Hour)
	select {
	case op := <-done:
		if !op.GetDone() {
			t.Fatalf("waiter woke with an unfinished operation")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not wake when the clock advanced")
	}
	if _, err := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: "projects/p/locations/l/operations/none"}); status.Code(err) != codes.NotFound {
		t.Errorf("Wait on a missing op: %v", err)
	}
}
