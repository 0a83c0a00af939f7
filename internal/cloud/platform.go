package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Platform is egress.Platform over the real clients: what the migration executor reads and
// changes, through Cloud Run, VPC Access and Compute.
type Platform struct {
	// C are the clients.
	C *Clients
	// Progress, when set, receives progress messages about a workload while a call waits,
	// such as "Waiting for revision run-service-00002-abc to become ready...".
	Progress func(ref egress.WorkloadRef, msg string)
}

var _ egress.Platform = (*Platform)(nil)

// Snapshot converts a workload as read into the executor's snapshot, keeping w as its
// handle (updates start from w.Raw).
func Snapshot(w *Workload) *egress.Snapshot {
	if w == nil {
		return nil
	}
	return &egress.Snapshot{
		Workload:      w.Workload,
		TrafficStatus: w.TrafficStatus,
		Condition:     domainCondition(w.Terminal),
		Journal:       w.Journal(),
		Handle:        w,
	}
}

func domainCondition(c Condition) egress.Condition {
	return egress.Condition{State: egress.ConditionState(c.State), Reason: c.Reason, Message: c.Message}
}

func (p *Platform) progress(ref egress.WorkloadRef, format string, args ...any) {
	if p.Progress != nil {
		p.Progress(ref, fmt.Sprintf(format, args...))
	}
}

// GetWorkload reads a workload.
func (p *Platform) GetWorkload(ctx context.Context, ref egress.WorkloadRef) (*egress.Snapshot, error) {
	w, err := p.C.GetWorkload(ctx, ref)
	if err != nil {
		return nil, err
	}
	return Snapshot(w), nil
}

// notApplied marks an error of a write the API refused before accepting it.
type notApplied struct{ err error }

func (e *notApplied) Error() string   { return e.err.Error() }
func (e *notApplied) Unwrap() []error { return []error{e.err, egress.ErrNotApplied} }

// refusedBeforeApplied reports whether a failed request certainly changed nothing: the API
// answered with a code that means it refused the request. Transport failures, timeouts and
// internal errors may have been applied.
func refusedBeforeApplied(err error) bool {
	s, ok := status.FromError(statusErrOf(err))
	if !ok {
		return false
	}
	switch s.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.Aborted, codes.PermissionDenied,
		codes.Unauthenticated, codes.NotFound, codes.AlreadyExists, codes.ResourceExhausted, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

// Update changes cur's VPC access and/or traffic as u says, and nothing else: it sends back a
// clone of the resource as read with only the template's vpc_access (and template.revision,
// which the API would refuse to reuse for a changed template) and the traffic (instance
// splits) changed, with the etag it was read with. It waits for the operation (services and
// worker pools: until a new revision is ready and the traffic is routed) and returns the
// workload as the operation left it. A refused request wraps egress.ErrNotApplied; a rollout
// that fails is a *RolloutError.
func (p *Platform) Update(ctx context.Context, cur *egress.Snapshot, u egress.Update) (*egress.Snapshot, error) {
	if cur == nil {
		return nil, errors.New("update: no workload snapshot")
	}
	w, ok := cur.Handle.(*Workload)
	if !ok || w == nil || w.Raw == nil {
		return nil, errors.New("update: the workload snapshot was not read through the cloud adapters")
	}
	ref := w.Ref
	var va *runpb.VpcAccess
	if u.VPC != nil {
		v := *u.VPC
		if !u.AsIs {
			if err := v.Validate(ref.Project, ref.Region); err != nil {
				return nil, &notApplied{err}
			}
			cv, err := v.Canonical(ref.Project, ref.Region)
			if err != nil {
				return nil, &notApplied{err}
			}
			v = cv
		}
		if ref.Kind == egress.KindWorkerPool && v.Mode() == egress.ModeConnector {
			return nil, &notApplied{status.Errorf(codes.InvalidArgument, "worker pool %q cannot use a Serverless VPC Access connector; worker pools only support Direct VPC egress", ref.Name)}
		}
		va = VPCToProto(v)
	}
	if u.Traffic != nil && ref.Kind == egress.KindJob {
		return nil, &notApplied{errors.New("jobs have no traffic to set")}
	}
	msg := proto.Clone(w.Raw)
	switch m := msg.(type) {
	case *runpb.Service:
		if u.VPC != nil {
			if m.Template == nil {
				m.Template = &runpb.RevisionTemplate{}
			}
			m.Template.VpcAccess, m.Template.Revision = va, u.Revision
		}
		if u.Traffic != nil {
			m.Traffic = trafficToProto(u.Traffic)
		}
	case *runpb.WorkerPool:
		if u.VPC != nil {
			if m.Template == nil {
				m.Template = &runpb.WorkerPoolRevisionTemplate{}
			}
			m.Template.VpcAccess, m.Template.Revision = va, ""
		}
		if u.Traffic != nil {
			m.InstanceSplits = splitsToProto(u.Traffic)
		}
	case *runpb.Job:
		if u.VPC != nil {
			if m.Template == nil {
				m.Template = &runpb.ExecutionTemplate{}
			}
			if m.Template.Template == nil {
				m.Template.Template = &runpb.TaskTemplate{}
			}
			m.Template.Template.VpcAccess = va
		}
	default:
		return nil, fmt.Errorf("%T is not a Cloud Run service, job or worker pool", msg)
	}
	if u.Journal != nil {
		setAnnotation(msg, egress.JournalAnnotation, *u.Journal)
	}
	metadataOnly := u.VPC == nil && u.Traffic == nil
	res, err := p.send(ctx, w, msg, sendOptions{validateOnly: u.ValidateOnly, noWait: u.NoWait, metadataOnly: metadataOnly,
		forceNewRevision: u.ForceNewRevision && ref.Kind != egress.KindJob})
	if err != nil {
		return nil, err
	}
	return Snapshot(res), nil
}

type sendOptions struct {
	validateOnly bool
	// noWait returns once the API accepted the change.
	noWait bool
	// metadataOnly: the change touches neither the template nor the traffic.
	metadataOnly bool
	// forceNewRevision deploys a new revision of an unchanged template.
	forceNewRevision bool
}

// send starts the update of w to msg and waits for it. The update carries w's etag; it is
// sent again after a transient failure (UNAVAILABLE, RESOURCE_EXHAUSTED) only when a fresh
// read shows it did not land, and a failure after it landed (a lost response) counts as
// success once the workload has settled. A refusal for a stale etag (ABORTED) is a
// *egress.ConflictError that says what changed.
func (p *Platform) send(ctx context.Context, w *Workload, msg proto.Message, o sendOptions) (*Workload, error) {
	ref := w.Ref
	opName, md, waiter, landed, err := p.C.sendUpdate(ctx, w, msg, SetVPCOptions{ValidateOnly: o.validateOnly, ForceNewRevision: o.forceNewRevision})
	if err != nil {
		var ce *egress.ConflictError
		if errors.As(err, &ce) {
			return nil, err
		}
		if status.Code(statusErrOf(err)) == codes.Aborted {
			return nil, p.C.conflict(ctx, w, nil, err)
		}
		err = apiErr("update "+describeRef(ref), err)
		if refusedBeforeApplied(err) {
			return nil, &notApplied{err}
		}
		return nil, err
	}
	if landed != nil {
		if o.noWait {
			return landed, nil
		}
		return p.C.settled(ctx, w, landed, o.metadataOnly)
	}
	if o.noWait && !o.validateOnly {
		if md != nil {
			if res, err := WorkloadFromProto(md); err == nil && res.Etag != "" {
				res.Operation = opName
				return res, nil
			}
		}
		return p.C.GetWorkload(ctx, ref)
	}
	validateOnly := o.validateOnly
	var once sync.Once
	announce := func(m proto.Message) {
		if m == nil || validateOnly {
			return
		}
		if rev := newRevisionOf(w, m); rev != "" {
			once.Do(func() { p.progress(ref, "Waiting for revision %s to become ready...", rev) })
		}
	}
	announce(md)
	out := newOfKind(ref.Kind)
	werr := waitLongPoll(ctx, waiter, &longrunningpb.Operation{Name: opName}, out, func(op *longrunningpb.Operation) {
		if op.GetMetadata() == nil {
			return
		}
		if m, err := op.GetMetadata().UnmarshalNew(); err == nil {
			announce(m)
		}
	})
	if werr != nil {
		var oe *OperationError
		if errors.As(werr, &oe) {
			if o.metadataOnly {
				// A metadata-only change is in force once accepted; its operation can only
				// fail for an unrelated reason (a revision that failed earlier).
				return p.C.GetWorkload(ctx, ref)
			}
			return nil, p.C.rolloutFailure(ctx, w, opName, oe)
		}
		return nil, apiErr(fmt.Sprintf("wait for the update of %s", describeRef(ref)), werr)
	}
	var res *Workload
	if proto.Size(out) > 0 {
		res, err = WorkloadFromProto(out)
	} else {
		res, err = p.C.GetWorkload(ctx, ref)
	}
	if err != nil {
		return nil, err
	}
	res.Operation = opName
	return res, nil
}

// RevisionCondition reads a revision's Ready condition.
func (p *Platform) RevisionCondition(ctx context.Context, ref egress.WorkloadRef, revision string) (egress.Condition, error) {
	c, err := p.C.revisionReady(ctx, ref, revision)
	if err != nil {
		return egress.Condition{}, apiErr(fmt.Sprintf("read revision %s of %s", revision, describeRef(ref)), err)
	}
	return domainCondition(c), nil
}

// ExecutionError is a job execution that did not succeed.
type ExecutionError struct {
	Job       egress.WorkloadRef
	Execution string
	Reason    string
	Err       error
}

func (e *ExecutionError) Error() string {
	return fmt.Sprintf("execution %s of job %q failed: %s", e.Execution, e.Job.Name, e.Reason)
}

func (e *ExecutionError) Unwrap() error { return e.Err }

// RunExecution runs one execution of a job and waits until it completes.
func (p *Platform) RunExecution(ctx context.Context, ref egress.WorkloadRef) (egress.Execution, error) {
	if err := checkNames(ref); err != nil {
		return egress.Execution{}, err
	}
	cl, err := p.C.Jobs()
	if err != nil {
		return egress.Execution{}, err
	}
	// RunJob is not idempotent: it is sent again after a transient failure only when the
	// job's execution count shows the first one did not start an execution.
	before := int64(-1)
	if w, err := p.C.GetWorkload(ctx, ref); err == nil {
		if j, ok := w.Raw.(*runpb.Job); ok {
			before = int64(j.GetExecutionCount())
		}
	}
	var (
		op     *run.RunJobOperation
		landed string
	)
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		op, err = cl.RunJob(ctx, &runpb.RunJobRequest{Name: ref.FullName()}, noGaxRetry)
		if err == nil || !retryable(err) || before < 0 {
			return err
		}
		if name, ok := p.C.runJobLanded(ctx, ref, before); ok {
			landed = name
			return nil
		}
		return err
	})
	if err != nil {
		return egress.Execution{}, apiErr("run "+describeRef(ref), err)
	}
	if landed != "" {
		ex := egress.Execution{Name: lastSegment(landed)}
		p.progress(ref, "Running execution %s of job %s...", ex.Name, ref.Name)
		out, err := p.C.waitExecution(ctx, landed)
		if err != nil {
			return ex, err
		}
		return ex, executionOutcome(ref, ex, out)
	}
	var ex egress.Execution
	if md, err := op.Metadata(); err == nil && md != nil {
		ex.Name = lastSegment(md.GetName())
	}
	if ex.Name != "" {
		p.progress(ref, "Running execution %s of job %s...", ex.Name, ref.Name)
	} else {
		p.progress(ref, "Running job %s...", ref.Name)
	}
	out := &runpb.Execution{}
	werr := waitLongPoll(ctx, cl, &longrunningpb.Operation{Name: op.Name()}, out, nil)
	if out.GetName() != "" {
		ex.Name = lastSegment(out.GetName())
	}
	if werr != nil {
		var oe *OperationError
		if errors.As(werr, &oe) {
			return ex, &ExecutionError{Job: ref, Execution: ex.Name, Reason: strings.TrimSpace(oe.Status.Message()), Err: oe}
		}
		return ex, apiErr(fmt.Sprintf("wait for execution %s of %s", ex.Name, describeRef(ref)), werr)
	}
	return ex, executionOutcome(ref, ex, out)
}

// executionOutcome is an error when a completed execution did not succeed.
func executionOutcome(ref egress.WorkloadRef, ex egress.Execution, out *runpb.Execution) error {
	for _, c := range out.GetConditions() {
		if c.GetType() == "Completed" && c.GetState() == runpb.Condition_CONDITION_FAILED {
			return &ExecutionError{Job: ref, Execution: ex.Name, Reason: c.GetMessage()}
		}
	}
	return nil
}

// CreateSubnet creates a subnetwork and waits for it, and returns its range. With
// spec.AutoPrefix, a range taken meanwhile is replaced by the next free one of the same
// size (CreateSubnetAuto, in RFC 1918 space).
func (p *Platform) CreateSubnet(ctx context.Context, spec egress.SubnetSpec) (string, error) {
	ref, err := egress.ParseSubnetRef(spec.Name, "", "")
	if err != nil {
		return "", err
	}
	cs := SubnetSpec{Ref: ref, Network: spec.Network, IPCIDRRange: spec.CIDR,
		Description: "Direct VPC egress subnet created by runnet migrate"}
	var s *Subnet
	if spec.AutoPrefix > 0 {
		s, err = p.C.CreateSubnetAuto(ctx, cs, ipam.RFC1918, spec.AutoPrefix, WaitOptions{}, nil)
	} else {
		s, err = p.C.CreateSubnet(ctx, cs, WaitOptions{})
	}
	if err != nil {
		return "", err
	}
	return s.IPCIDRRange, nil
}

// DeleteConnector deletes a connector and waits until it is gone; one already gone counts
// as deleted.
func (p *Platform) DeleteConnector(ctx context.Context, c egress.ConnectorRef) error {
	err := p.C.DeleteConnector(ctx, c, WaitOptions{})
	if err != nil && IsNotFound(err) {
		return nil
	}
	return err
}

// ConnectorUsers lists the workloads of the connector's project and region that use it:
// through their template, through a revision of a service or worker pool that receives
// traffic (instances) or carries a traffic tag and was created with the connector, or through
// a job execution that is still running with it.
func (p *Platform) ConnectorUsers(ctx context.Context, conn egress.ConnectorRef) ([]egress.ConnectorUser, error) {
	ws, err := p.C.ListWorkloads(ctx, conn.Project, conn.Region)
	if err != nil {
		return nil, err
	}
	return p.C.ConnectorUsers(ctx, conn, ws)
}

// ConnectorUsers is Platform.ConnectorUsers over workloads already listed.
func (c *Clients) ConnectorUsers(ctx context.Context, conn egress.ConnectorRef, ws []*Workload) ([]egress.ConnectorUser, error) {
	states, err := c.ServingStates(ctx, ws)
	if err != nil {
		return nil, err
	}
	var users []egress.ConnectorUser
	for _, s := range states {
		users = append(users, s.ConnectorUsers(conn)...)
	}
	return users, nil
}

// getRevision reads a revision of a service or worker pool (retried on transient errors).
func (c *Clients) getRevision(ctx context.Context, ref egress.WorkloadRef, revision string) (*runpb.Revision, error) {
	if err := checkNames(ref, revisionName(revision)); err != nil {
		return nil, err
	}
	cl, err := c.Revisions()
	if err != nil {
		return nil, err
	}
	var rev *runpb.Revision
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		var err error
		rev, err = cl.GetRevision(ctx, &runpb.GetRevisionRequest{Name: ref.FullName() + "/revisions/" + revision}, noGaxRetry)
		return err
	})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("read revision %s of %s", revision, describeRef(ref)), err)
	}
	return rev, nil
}
