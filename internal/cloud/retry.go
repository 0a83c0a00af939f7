package cloud

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RetryPolicy is capped exponential backoff with full jitter.
type RetryPolicy struct {
	Attempts int           // total attempts, including the first
	Initial  time.Duration // first backoff
	Max      time.Duration // cap of one backoff
}

// DefaultRetry is used for reads and idempotent writes.
var DefaultRetry = RetryPolicy{Attempts: 5, Initial: 100 * time.Millisecond, Max: 5 * time.Second}

// retryable reports whether err is transient: gRPC UNAVAILABLE or RESOURCE_EXHAUSTED (and
// DEADLINE_EXCEEDED of a single call), or Compute 429 and 5xx.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if ge, ok := errorsAs[*googleapi.Error](err); ok {
		return ge.Code == http.StatusTooManyRequests || ge.Code >= 500
	}
	if _, ok := errorsAs[*OperationError](err); ok {
		return false // an operation's own failure is its result, not a transport fault
	}
	if _, ok := tlsProblem(err); ok {
		return false // a certificate that cannot be verified will not verify on the next try
	}
	if _, ok := errorsAs[*TokenError](err); ok {
		return false // the token endpoint's own failure: asking again would only wait again
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted:
		return true
	}
	return false
}

// maxServerDelay caps a delay the server asks for (RetryInfo, Retry-After): a longer one
// would look like a hang; the attempt then fails instead.
const maxServerDelay = time.Minute

// retryDelay returns the server's delay when it sent one: gRPC RetryInfo, or the Retry-After
// header (seconds) of a Compute 429 or 503.
func retryDelay(err error) (time.Duration, bool) {
	if ge, ok := errorsAs[*googleapi.Error](err); ok {
		if secs, perr := strconv.Atoi(strings.TrimSpace(ge.Header.Get("Retry-After"))); perr == nil && secs >= 0 {
			return min(time.Duration(secs)*time.Second, maxServerDelay), true
		}
		return 0, false
	}
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return min(ri.GetRetryDelay().AsDuration(), maxServerDelay), true
		}
	}
	return 0, false
}

// Do runs fn until it succeeds, fails with a non-transient error, attempts run out, or ctx
// ends. Only use it for calls that are safe to repeat.
func (p RetryPolicy) Do(ctx context.Context, fn func(context.Context) error) error {
	backoff := p.Initial
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		if err == nil || !retryable(err) || attempt >= p.Attempts {
			return err
		}
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		if d, ok := retryDelay(err); ok {
			wait = d
		}
		if serr := sleepCtx(ctx, wait); serr != nil {
			return errors.Join(err, serr)
		}
		backoff *= 2
		if backoff > p.Max {
			backoff = p.Max
		}
	}
}
