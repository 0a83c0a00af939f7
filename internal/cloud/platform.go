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
	// ReadToAnnounce makes an update whose operation does not name the new revision read the
	// workload alongside the wait, to name it in Progress at once (one more call: attach uses
	// it; a migration's own progress names its steps).
	ReadToAnnounce bool
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

// RevisionCondition reads a revision's Ready condition.
func (p *Platform) RevisionCondition(ctx context.Context, ref egress.WorkloadRef, revision string) (egress.Condition, error) {
	c, err := p.C.revisionReady(ctx, ref, revision)
	if err != nil {
		return egress.Condition{}, err
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
		if err := p.C.PaceWrite(ctx, ref.Project, ref.Region); err != nil {
			return err
		}
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
		ex := egress.Execution{Name: egress.ShortName(landed)}
		p.progress(ref, "Running execution %s of job %s...", ex.Name, ref.Name)
		out, err := p.C.waitExecution(ctx, landed)
		if err != nil {
			return ex, err
		}
		return ex, executionOutcome(ref, ex, out)
	}
	var ex egress.Execution
	if md, err := op.Metadata(); err == nil && md != nil {
		ex.Name = egress.ShortName(md.GetName())
	}
	if ex.Name != "" {
		p.progress(ref, "Running execution %s of job %s...", ex.Name, ref.Name)
	} else {
		p.progress(ref, "Running job %s...", ref.Name)
	}
	out := &runpb.Execution{}
	werr := waitLongPoll(ctx, cl, &longrunningpb.Operation{Name: op.Name()}, out, nil)
	if out.GetName() != "" {
		ex.Name = egress.ShortName(out.GetName())
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

// ConnectorUsers lists the workloads of the connector's region that use it, in its project
// and in every other project that may (the projects the API reports as connected to it and,
// when its project is a Shared VPC host, every service project attached to it): through
// their template, through a revision of a service or worker pool that receives traffic
// (instances) or carries a traffic tag and was created with the connector, or through a job
// execution that is still running with it. A project that cannot be read is an error: a
// connector whose users are not all known is not unused.
func (p *Platform) ConnectorUsers(ctx context.Context, conn egress.ConnectorRef) ([]egress.ConnectorUser, error) {
	var (
		own               []*Workload
		others            []string
		ownErr, othersErr error
		wg                sync.WaitGroup
	)
	wg.Go(func() { own, ownErr = p.C.ListWorkloads(ctx, conn.Project, conn.Region) })
	wg.Go(func() {
		cn, err := p.C.GetConnector(ctx, conn)
		switch {
		case IsNotFound(err):
			cn = &Connector{Project: conn.Project}
		case err != nil:
			othersErr = err
			return
		}
		others, othersErr = p.C.OtherConnectorProjects(ctx, cn)
	})
	wg.Wait()
	if ownErr != nil {
		return nil, ownErr
	}
	if othersErr != nil {
		return nil, fmt.Errorf("find the projects that may use connector %s: %w", conn.Name, othersErr)
	}
	lists := make([][]*Workload, len(others))
	errs := make([]error, len(others))
	sem := make(chan struct{}, scopeProjectConcurrency)
	for i, project := range others {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lists[i], errs[i] = p.C.ListWorkloads(ctx, project, conn.Region)
		})
	}
	wg.Wait()
	all := own
	for i, project := range others {
		if errs[i] != nil {
			return nil, fmt.Errorf("read project %s, which may use connector %s: %w", project, conn.Name, errs[i])
		}
		all = append(all, lists[i]...)
	}
	return p.C.ConnectorUsers(ctx, conn, all)
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

// revisionReady reads a revision of a service or worker pool and returns its Ready condition.
func (c *Clients) revisionReady(ctx context.Context, ref egress.WorkloadRef, revision string) (Condition, error) {
	rev, err := c.getRevision(ctx, ref, revision)
	if err != nil {
		return Condition{}, err
	}
	for _, cond := range rev.GetConditions() {
		if cond.GetType() == "Ready" {
			return conditionFromProto(cond), nil
		}
	}
	return Condition{}, nil
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
