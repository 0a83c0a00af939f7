package cloud

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.Unavailable, "x"), true},
		{status.Error(codes.ResourceExhausted, "x"), true},
		{fmt.Errorf("wrapped: %w", status.Error(codes.Unavailable, "x")), true},
		{status.Error(codes.Aborted, "x"), false},
		{status.Error(codes.InvalidArgument, "x"), false},
		{status.Error(codes.PermissionDenied, "x"), false},
		{&googleapi.Error{Code: 429}, true},
		{&googleapi.Error{Code: 503}, true},
		{&googleapi.Error{Code: 500}, true},
		{&googleapi.Error{Code: 404}, false},
		{&googleapi.Error{Code: 409}, false},
		{&OperationError{Operation: "op", Status: status.New(codes.Unavailable, "x")}, false},
		{errors.New("plain"), false},
	} {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetryPolicyDo(t *testing.T) {
	p := RetryPolicy{Attempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return status.Error(codes.Unavailable, "flaky")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("transient errors: err=%v calls=%d, want success on the 3rd call", err, calls)
	}
	calls = 0
	err = p.Do(context.Background(), func(context.Context) error { calls++; return status.Error(codes.InvalidArgument, "bad") })
	if status.Code(err) != codes.InvalidArgument || calls != 1 {
		t.Fatalf("permanent error retried: calls=%d err=%v", calls, err)
	}
	calls = 0
	err = p.Do(context.Background(), func(context.Context) error { calls++; return status.Error(codes.Unavailable, "down") })
	if status.Code(err) != codes.Unavailable || calls != 4 {
		t.Fatalf("attempts not bounded: calls=%d err=%v", calls, err)
	}
}

func TestRetryHonoursRetryInfo(t *testing.T) {
	st, err := status.New(codes.ResourceExhausted, "quota").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(60 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	p := RetryPolicy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}
	begin := time.Now()
	calls := 0
	_ = p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls == 1 {
			return st.Err()
		}
		return nil
	})
	if d := time.Since(begin); d < 50*time.Millisecond {
		t.Errorf("retried after %v, before the server's RetryInfo delay of 60ms", d)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := RetryPolicy{Attempts: 100, Initial: time.Hour, Max: time.Hour}
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	done := make(chan error, 1)
	go func() {
		done <- p.Do(ctx, func(context.Context) error { return status.Error(codes.Unavailable, "down") })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want it to include context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("retry loop ignored the cancelled context")
	}
}

func TestPollInterval(t *testing.T) {
	for _, tt := range []struct{ elapsed, want time.Duration }{
		{0, minPoll}, {100 * time.Millisecond, minPoll}, {2 * time.Second, 200 * time.Millisecond},
		{60 * time.Second, 6 * time.Second}, {10 * time.Minute, maxPoll},
	} {
		if got := pollInterval(tt.elapsed); got != tt.want {
			t.Errorf("pollInterval(%v) = %v, want %v", tt.elapsed, got, tt.want)
		}
	}
}
