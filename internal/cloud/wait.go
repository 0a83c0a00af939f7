package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	gax "github.com/googleapis/gax-go/v2"
	"github.com/runnet-dev/runnet/pkg/egress"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// OperationError is a long-running operation that finished with an error. It carries the
// operation's status, so errors.As and status.Code see the API's own code.
type OperationError struct {
	Operation string
	Status    *status.Status
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation %s failed: %s", e.Operation, e.Status.Message())
}

// GRPCStatus lets status.FromError and status.Code read the operation's code.
func (e *OperationError) GRPCStatus() *status.Status { return e.Status }

// longPollChunk is how long one WaitOperation call may block. The server returns earlier the
// moment the operation is done; the chunk only bounds how stale progress reports can get.
const longPollChunk = 30 * time.Second

type operationWaiter interface {
	WaitOperation(context.Context, *longrunningpb.WaitOperationRequest, ...gax.CallOption) (*longrunningpb.Operation, error)
}

type operationGetter interface {
	GetOperation(context.Context, *longrunningpb.GetOperationRequest, ...gax.CallOption) (*longrunningpb.Operation, error)
}

// finish turns a done operation into its response (decoded into out, when not nil) or error.
func finish(op *longrunningpb.Operation, out proto.Message) error {
	if e := op.GetError(); e != nil {
		return &OperationError{Operation: op.GetName(), Status: status.FromProto(e)}
	}
	if out == nil || op.GetResponse() == nil {
		return nil
	}
	if err := op.GetResponse().UnmarshalTo(out); err != nil {
		return fmt.Errorf("decode result of operation %s: %w", op.GetName(), err)
	}
	return nil
}

// waitLongPoll waits for a Run v2 operation with google.longrunning.Operations/WaitOperation,
// which returns as soon as the operation is done: completion is noticed within one round trip,
// without polling. Transient errors of the wait call itself are retried.
func waitLongPoll(ctx context.Context, c operationWaiter, op *longrunningpb.Operation, out proto.Message, progress func(*longrunningpb.Operation)) error {
	for !op.GetDone() {
		var next *longrunningpb.Operation
		err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
			var err error
			next, err = c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: op.GetName(), Timeout: durationpb.New(longPollChunk)})
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("wait for operation %s: %w", op.GetName(), ctx.Err())
			}
			return fmt.Errorf("wait for operation %s: %w", op.GetName(), err)
		}
		op = next
		if progress != nil && !op.GetDone() {
			progress(op)
		}
	}
	return finish(op, out)
}

// Adaptive polling for APIs that only offer GetOperation (VPC Access): the interval grows with
// the time already waited (a tenth of it), so completion is noticed within 10% of the
// operation's duration while a long operation costs few calls.
const (
	minPoll = 50 * time.Millisecond
	maxPoll = 10 * time.Second
)

// pollInterval is the longest a completion may go unseen after elapsed of waiting.
func pollInterval(elapsed time.Duration) time.Duration {
	d := elapsed / 10
	if d < minPoll {
		return minPoll
	}
	if d > maxPoll {
		return maxPoll
	}
	return d
}

// pollSleep is the pause before the next poll, after elapsed of waiting, when the last poll
// took rtt. Polls are sent pollInterval(elapsed) - rtt apart (minPoll at least): the server
// then looks at the operation that often, and a completion reaches the caller within
// pollInterval(elapsed) - rtt + rtt/2 (the answer's way back) < pollInterval(elapsed). Sleeping
// the whole interval after each answer would add a round trip to every gap, and let a
// completion go unseen for longer than a tenth of the time waited (measured: 10.2% of a 2 s
// operation at 20 ms per call; docs/performance.md).
func pollSleep(elapsed, rtt time.Duration) time.Duration {
	gap := max(pollInterval(elapsed)-rtt, minPoll)
	return max(gap-rtt, 0)
}

func waitPoll(ctx context.Context, c operationGetter, op *longrunningpb.Operation, out proto.Message, progress func(*longrunningpb.Operation)) error {
	start := time.Now()
	var rtt time.Duration // how long the last GetOperation took
	failures := 0         // consecutive transient failures: a few are retried, not forever
	for !op.GetDone() {
		if err := sleepCtx(ctx, pollSleep(time.Since(start), rtt)); err != nil {
			return fmt.Errorf("wait for operation %s: %w", op.GetName(), err)
		}
		sent := time.Now()
		next, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: op.GetName()})
		rtt = time.Since(sent)
		if err != nil {
			if failures++; retryable(err) && ctx.Err() == nil && failures < DefaultRetry.Attempts {
				continue
			}
			return fmt.Errorf("wait for operation %s: %w", op.GetName(), err)
		}
		op, failures = next, 0
		if progress != nil && !op.GetDone() {
			progress(op)
		}
	}
	return finish(op, out)
}

// ComputeOperationError is a Compute operation that finished with errors.
type ComputeOperationError struct {
	Operation  string
	HTTPStatus int64
	Errors     []*compute.OperationErrorErrors
}

func (e *ComputeOperationError) Error() string {
	var msgs []string
	for _, x := range e.Errors {
		msgs = append(msgs, x.Message)
	}
	return fmt.Sprintf("operation %s failed: %s", e.Operation, strings.Join(msgs, "; "))
}

// GRPCStatus maps the operation's HTTP status to a gRPC code, so exit codes treat Compute
// and gRPC failures alike.
func (e *ComputeOperationError) GRPCStatus() *status.Status {
	return status.New(httpToCode(int(e.HTTPStatus)), e.Error())
}

func httpToCode(s int) codes.Code {
	switch s {
	case 400:
		return codes.InvalidArgument
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.NotFound
	case 409:
		return codes.Aborted
	case 412:
		return codes.FailedPrecondition
	case 429:
		return codes.ResourceExhausted
	case 503:
		return codes.Unavailable
	case 504:
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}

// waitCompute waits for a Compute operation with operations.wait, which returns when the
// operation is done (or after the server's cap of about two minutes, when it is called again).
func waitCompute(ctx context.Context, cs *compute.Service, project string, op *compute.Operation) (*compute.Operation, error) {
	region := ""
	if op.Region != "" {
		region = egress.ShortName(op.Region)
	}
	failures := 0 // consecutive transient failures: a few are retried, not forever
	for op.Status != "DONE" {
		var next *compute.Operation
		var err error
		if region != "" {
			next, err = cs.RegionOperations.Wait(project, region, op.Name).Context(ctx).Do()
		} else {
			next, err = cs.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for operation %s: %w", op.Name, ctx.Err())
			}
			if failures++; retryable(err) && failures < DefaultRetry.Attempts {
				if err := sleepCtx(ctx, 200*time.Millisecond<<failures); err != nil {
					return nil, fmt.Errorf("wait for operation %s: %w", op.Name, err)
				}
				continue
			}
			return nil, fmt.Errorf("wait for operation %s: %w", op.Name, err)
		}
		op, failures = next, 0
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return op, &ComputeOperationError{Operation: op.Name, HTTPStatus: op.HttpErrorStatusCode, Errors: op.Error.Errors}
	}
	return op, nil
}

// sleepCtx waits for d or until ctx ends (the executor's clock: one way to wait).
func sleepCtx(ctx context.Context, d time.Duration) error { return egress.SystemClock{}.Sleep(ctx, d) }

// errorsAs is errors.As for a target type, returning the match.
func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}
