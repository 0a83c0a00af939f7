package cloud

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/googleapi"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The policies that make runnet's API calls safe to repeat and to race, in one place:
//
//   - Transient failures (RetryPolicy, DefaultRetry): UNAVAILABLE, RESOURCE_EXHAUSTED, HTTP
//     429 and 5xx are retried with capped exponential backoff and full jitter (or the
//     server's own delay); only calls that are safe to repeat are retried.
//   - Lost responses (sendUpdate, settled, runJobLanded): a write that failed transiently is
//     sent again only when a fresh read shows it did not land; one that landed and whose
//     response was lost counts as done (its outcome is read from the workload), never as
//     someone else's change.
//   - Conflicts (ConflictPolicy, DefaultConflicts, conflict): an update refused for a stale
//     etag (ABORTED) reads the workload again and names what someone else changed; a change
//     of what runnet changes (VPC access, traffic, instance split) or another run's journal
//     stops the write (*egress.ConflictError, exit status 5); any other change is absorbed by
//     sending the update again from the fresh read.
//
// Every write of a workload goes through Platform.Update (update.go), and so through all
// three.

// ---------------------------------------------------------------------------------------
// Transient failures.

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

// ---------------------------------------------------------------------------------------
// Lost responses and conflicts.

// templateVPC returns the VPC access of a service's, job's or worker pool's template.
func templateVPC(m proto.Message) *runpb.VpcAccess {
	switch r := m.(type) {
	case *runpb.Service:
		return r.GetTemplate().GetVpcAccess()
	case *runpb.Job:
		return r.GetTemplate().GetTemplate().GetVpcAccess()
	case *runpb.WorkerPool:
		return r.GetTemplate().GetVpcAccess()
	}
	return nil
}

// trafficOf returns a service's traffic (a worker pool's instance splits) in a comparable
// form: latest entries without a revision, untagged empty entries dropped.
func trafficOf(m proto.Message) []egress.TrafficTarget {
	var out []egress.TrafficTarget
	add := func(t egress.TrafficTarget) {
		if t.Latest {
			t.Revision = ""
		}
		if t.Percent == 0 && t.Tag == "" && !t.Latest {
			return
		}
		out = append(out, t)
	}
	switch r := m.(type) {
	case *runpb.Service:
		for _, t := range r.GetTraffic() {
			add(egress.TrafficTarget{Revision: t.GetRevision(), Latest: t.GetType() != runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
				Percent: int(t.GetPercent()), Tag: t.GetTag()})
		}
	case *runpb.WorkerPool:
		for _, s := range r.GetInstanceSplits() {
			add(egress.TrafficTarget{Revision: s.GetRevision(), Latest: s.GetType() != runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION,
				Percent: int(s.GetPercent())})
		}
	}
	if len(out) == 0 {
		if _, ok := m.(*runpb.Job); !ok {
			out = []egress.TrafficTarget{{Latest: true, Percent: 100}} // the API's default
		}
	}
	return out
}

// sameChange reports whether fresh (a workload as read) has what sent (an update) set: the
// template's VPC access, the traffic and the journal annotation. After a failure whose
// response was lost, it tells a change that landed from one that did not.
func sameChange(sent, fresh proto.Message) bool {
	if annotation(sent, egress.JournalAnnotation) != annotation(fresh, egress.JournalAnnotation) {
		return false
	}
	a, b := VPCFromProto(templateVPC(sent)), VPCFromProto(templateVPC(fresh))
	if a.Mode() != b.Mode() {
		return false
	}
	if a.String() != b.String() {
		ref, err := WorkloadFromProto(fresh)
		if err != nil {
			return false
		}
		if same, err := a.Equivalent(b, ref.Ref.Project, ref.Ref.Region); err != nil || !same {
			return false
		}
	}
	return slices.Equal(trafficOf(sent), trafficOf(fresh))
}

// outputOnlyFields are the fields the API sets (proto comments "Output only"), left out when
// telling what someone else changed.
var outputOnlyFields = map[protoreflect.Name]bool{
	"name": true, "uid": true, "generation": true, "create_time": true, "update_time": true, "delete_time": true,
	"expire_time": true, "creator": true, "last_modifier": true, "urls": true, "uri": true, "observed_generation": true,
	"terminal_condition": true, "conditions": true, "latest_ready_revision": true, "latest_created_revision": true,
	"traffic_statuses": true, "instance_split_statuses": true, "satisfies_pzs": true, "threat_detection_enabled": true,
	"reconciling": true, "etag": true, "execution_count": true, "latest_created_execution": true,
}

// ChangedFields returns the API field paths (such as "labels", "template.containers",
// "template.vpc_access", "traffic") whose values differ between two versions of a service,
// job or worker pool, leaving out output-only fields and runnet's journal annotation.
// Templates are compared field by field.
func ChangedFields(a, b proto.Message) []string {
	var out []string
	diffFields(a.ProtoReflect(), b.ProtoReflect(), "", 0, &out)
	sort.Strings(out)
	return out
}

func diffFields(a, b protoreflect.Message, prefix string, depth int, out *[]string) {
	fields := a.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if depth == 0 && outputOnlyFields[fd.Name()] {
			continue
		}
		path := prefix + string(fd.Name())
		va, vb := a.Get(fd), b.Get(fd)
		switch {
		case fd.IsMap():
			if !equalMap(va.Map(), vb.Map(), depth == 0 && fd.Name() == "annotations") {
				*out = append(*out, path)
			}
		case fd.Name() == "template" && fd.Message() != nil && !fd.IsList() && depth < 2:
			if a.Has(fd) || b.Has(fd) {
				diffFields(va.Message(), vb.Message(), path+".", depth+1, out)
			}
		case a.Has(fd) != b.Has(fd):
			*out = append(*out, path)
		case fd.IsList():
			if !equalValue(protoreflect.ValueOfList(va.List()), protoreflect.ValueOfList(vb.List()), fd) {
				*out = append(*out, path)
			}
		case fd.Message() != nil:
			if !proto.Equal(va.Message().Interface(), vb.Message().Interface()) {
				*out = append(*out, path)
			}
		default:
			if !va.Equal(vb) {
				*out = append(*out, path)
			}
		}
	}
}

func equalValue(a, b protoreflect.Value, fd protoreflect.FieldDescriptor) bool {
	la, lb := a.List(), b.List()
	if la.Len() != lb.Len() {
		return false
	}
	for i := 0; i < la.Len(); i++ {
		if fd.Message() != nil {
			if !proto.Equal(la.Get(i).Message().Interface(), lb.Get(i).Message().Interface()) {
				return false
			}
		} else if !la.Get(i).Equal(lb.Get(i)) {
			return false
		}
	}
	return true
}

func equalMap(a, b protoreflect.Map, skipJournal bool) bool {
	count := func(m protoreflect.Map) int {
		n := m.Len()
		if skipJournal && m.Has(protoreflect.ValueOfString(egress.JournalAnnotation).MapKey()) {
			n--
		}
		return n
	}
	if count(a) != count(b) {
		return false
	}
	equal := true
	a.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if skipJournal && k.String() == egress.JournalAnnotation {
			return true
		}
		if !b.Has(k) || !b.Get(k).Equal(v) {
			equal = false
		}
		return equal
	})
	return equal
}

// migrationFields are the fields a migration changes: another writer's change of them stops
// it.
var migrationFields = []string{"template.vpc_access", "template.template.vpc_access", "traffic", "instance_splits"}

// ConflictPolicy is what a write does when the API refuses it for a stale etag (ABORTED):
// someone else changed the workload since runnet read it. conflict reads the workload again
// and names the fields that differ. A change of what runnet changes (the template's VPC
// access, the traffic or instance split: migrationFields), a migration journal that the
// write did not start from (another run holds the workload), or a workload that could not be
// read again stops the write with the *egress.ConflictError (exit status 5): going on would
// overwrite the other change, or decide on settings that are no longer the ones read. Any
// other change (labels, the image, scaling...) does not affect a change of the VPC access or
// traffic: the write is sent again from the fresh read, at most MaxResends times.
type ConflictPolicy struct {
	// MaxResends bounds how often one write is sent again after conflicts that left the VPC
	// access and traffic alone.
	MaxResends int
}

// DefaultConflicts is the conflict policy of every write (Platform.Update).
var DefaultConflicts = ConflictPolicy{MaxResends: 3}

// resendFrom returns, for the error of a write's attempt (0 for the first), the workload to
// send the write again from, and whether to.
func (p ConflictPolicy) resendFrom(err error, attempt int) (*Workload, bool) {
	var ce *egress.ConflictError
	if !errors.As(err, &ce) || ce.Journal != nil || ce.TouchesMigration || ce.Current == nil || attempt >= p.MaxResends {
		return nil, false
	}
	fresh, ok := ce.Current.Handle.(*Workload)
	return fresh, ok && fresh != nil && fresh.Raw != nil
}

// conflict explains an update refused for its etag: it reads the workload (unless fresh is
// given) and says which fields someone else changed, and whether another run holds it (a
// journal other than the one the update started from).
func (c *Clients) conflict(ctx context.Context, w *Workload, fresh *Workload, err error) error {
	ref := w.Ref
	ce := &egress.ConflictError{Ref: ref, Err: err}
	if fresh == nil {
		f, rerr := c.GetWorkload(ctx, ref)
		if rerr != nil {
			return ce
		}
		fresh = f
	}
	ce.Current = Snapshot(fresh)
	ce.Fields = ChangedFields(w.Raw, fresh.Raw)
	for _, f := range ce.Fields {
		if slices.Contains(migrationFields, f) {
			ce.TouchesMigration = true
		}
	}
	if v := fresh.Journal(); v != "" && v != w.Journal() {
		j, derr := egress.DecodeJournal(v)
		if derr != nil {
			j = &egress.Journal{ID: "unreadable", Who: "unknown", Summary: "an unreadable migration journal (" + derr.Error() + ")",
				Workload: ref, Steps: []egress.JournalStep{{Kind: egress.StepUpdateTemplate}}}
		}
		ce.Journal = j
	}
	return ce
}

// settled waits, after an update whose response was lost but which landed, until the workload
// has settled (the operation is unknown, so the workload is polled), and reports a rollout
// that failed as the operation would have.
func (c *Clients) settled(ctx context.Context, before, cur *Workload, metadataOnly bool) (*Workload, error) {
	start := time.Now()
	for cur.Reconciling {
		if err := sleepCtx(ctx, pollInterval(time.Since(start))); err != nil {
			return nil, fmt.Errorf("wait for the update of %s: %w", describeRef(before.Ref), err)
		}
		next, err := c.GetWorkload(ctx, before.Ref)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if metadataOnly {
		return cur, nil
	}
	failed := cur.Terminal.State == ConditionFailed
	if before.Ref.Kind != egress.KindJob && cur.LatestCreated != cur.LatestReady {
		failed = true
	}
	if !failed {
		return cur, nil
	}
	msg := cur.Terminal.Message
	if msg == "" {
		msg = "the change did not become ready"
	}
	oe := &OperationError{Operation: "(response lost)", Status: status.New(codes.FailedPrecondition, msg)}
	return nil, c.rolloutFailure(ctx, before, oe.Operation, oe)
}

// sendUpdate starts the update of w (as read) to msg, which carries w's etag. A transient
// failure (UNAVAILABLE, RESOURCE_EXHAUSTED) is retried only when a fresh read shows the update
// did not land (the etag is unchanged); when it did land and only the response was lost,
// landed is the workload as read (and no operation is returned). A stale etag on a repeat is
// checked the same way. When someone else changed the workload meanwhile the error is a
// *egress.ConflictError.
func (c *Clients) sendUpdate(ctx context.Context, w *Workload, msg proto.Message, validateOnly, forceNewRevision bool) (opName string, md proto.Message, waiter operationWaiter, landed *Workload, err error) {
	ref := w.Ref
	attempt := 0
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		attempt++
		// Under the project's and region's write quota (pacing.go), before the retry.
		if err := c.PaceWrite(ctx, ref.Project, ref.Region); err != nil {
			return err
		}
		var err error
		opName, md, waiter, err = c.startUpdate(ctx, msg, validateOnly, forceNewRevision)
		if err != nil && attempt > 1 && !validateOnly && status.Code(statusErrOf(err)) == codes.Aborted {
			// A repeat refused for its etag: the first attempt may have landed after all.
			if fresh, rerr := c.GetWorkload(ctx, ref); rerr == nil && sameChange(msg, fresh.Raw) {
				landed = fresh
				return nil
			}
		}
		if err == nil || !retryable(err) || validateOnly {
			return err
		}
		// Did it land? Only a fresh read can tell.
		fresh, rerr := c.GetWorkload(ctx, ref)
		if rerr != nil {
			return err // try again; a repeat meets its own etag
		}
		switch {
		case fresh.Etag == w.Etag:
			return err // not applied: send it again
		case sameChange(msg, fresh.Raw):
			landed = fresh
			return nil
		}
		return c.conflict(ctx, w, fresh, status.Error(codes.Aborted, "the workload changed while the update's response was lost"))
	})
	return opName, md, waiter, landed, err
}

// runJobLanded tells, after RunJob failed transiently, whether it started an execution
// anyway: the job's execution count grew past before.
func (c *Clients) runJobLanded(ctx context.Context, ref egress.WorkloadRef, before int64) (string, bool) {
	w, err := c.GetWorkload(ctx, ref)
	if err != nil {
		return "", false
	}
	j, ok := w.Raw.(*runpb.Job)
	if !ok || int64(j.GetExecutionCount()) <= before {
		return "", false
	}
	return j.GetLatestCreatedExecution().GetName(), true
}

// waitExecution polls an execution (its operation is unknown after a lost response) until it
// completes.
func (c *Clients) waitExecution(ctx context.Context, name string) (*runpb.Execution, error) {
	cl, err := c.Executions()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for {
		var ex *runpb.Execution
		err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
			var err error
			ex, err = cl.GetExecution(ctx, &runpb.GetExecutionRequest{Name: name}, noGaxRetry)
			return err
		})
		if err != nil {
			return nil, apiErr("read execution "+egress.ShortName(name), err)
		}
		if ex.GetCompletionTime() != nil {
			return ex, nil
		}
		if err := sleepCtx(ctx, pollInterval(time.Since(start))); err != nil {
			return nil, fmt.Errorf("wait for execution %s: %w", egress.ShortName(name), err)
		}
	}
}
