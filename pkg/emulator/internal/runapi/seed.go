package runapi

import (
	"errors"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Seed and control helpers. They are called with the world lock held, by the demo seed and the
// emulator's control surface, and act at once: no operation, no delay.

// PutServiceLocked creates svc (svc.Name is its full name) as CreateService would validate it,
// with its first revision already Ready and serving 100% of the traffic (or what svc.Traffic
// says), its instances running and their Direct VPC addresses reserved. It fails, changing
// nothing, when the service exists or its VPC settings cannot work.
func PutServiceLocked(w *world.World, svc *runpb.Service) (*runpb.Service, error) {
	return putOwnerLocked(w, services, svc)
}

// PutWorkerPoolLocked creates wp like PutServiceLocked creates a service.
func PutWorkerPoolLocked(w *world.World, wp *runpb.WorkerPool) (*runpb.WorkerPool, error) {
	return putOwnerLocked(w, workerPools, wp)
}

func putOwnerLocked[M resource](w *world.World, k *kind[M], in M) (M, error) {
	return putLocked(w, k, in, func(l loc, res M, revName string) error {
		return settleSeedLocked(w, k.revisions.owner(l, res), revName)
	})
}

// settleSeedLocked makes a new owner's first revision Ready and routes to it at once; on
// failure it removes the revision (the caller removes the owner).
func settleSeedLocked(w *world.World, o owner, revName string) error {
	settleRevisionLocked(w, revName)
	rev := w.S.Revisions[revName]
	if revisionState(rev) != runpb.Condition_CONDITION_SUCCEEDED {
		msg := conditionMessage(rev.GetConditions(), condReady)
		stopLocked(w, revName)
		delete(w.S.Revisions, revName)
		return status.Errorf(codes.FailedPrecondition, notReady, lastSegment(revName), msg)
	}
	reconcileLocked(w, o)
	if t := *o.status().terminal; t.GetState() != runpb.Condition_CONDITION_SUCCEEDED {
		stopLocked(w, revName)
		delete(w.S.Revisions, revName)
		return status.Error(codes.FailedPrecondition, t.GetMessage())
	}
	return nil
}

// PutJobLocked creates job (job.Name is its full name) as CreateJob would validate it, already
// Ready. It fails, changing nothing, when the job exists or its VPC settings cannot work.
func PutJobLocked(w *world.World, job *runpb.Job) (*runpb.Job, error) {
	return putLocked(w, jobs, job, func(_ loc, j *runpb.Job, _ string) error {
		reconcileJobLocked(w, j.Name)
		if t := j.GetTerminalCondition(); t.GetState() != runpb.Condition_CONDITION_SUCCEEDED {
			return status.Error(codes.FailedPrecondition, t.GetMessage())
		}
		return nil
	})
}

// ErrRevisionNotReady is returned by ScaleRevisionLocked for a revision that is not Ready.
var ErrRevisionNotReady = errors.New("revision is not ready")

// ScaleRevisionLocked sets how many instances a Ready revision runs (w.S.Instances). A Direct
// VPC revision grows or shrinks its reservation to 2 addresses per instance in /28 blocks; a
// subnetwork without room fails with Cloud Run's insufficient-IP message, changing nothing.
// Released blocks stay reserved for the IP release delay.
func ScaleRevisionLocked(w *world.World, revisionName string, instances int) error {
	rev, ok := w.S.Revisions[revisionName]
	if !ok {
		l, _, id, err := parseChildName(revisionName, "revisions", revisionParents...)
		if err != nil {
			return err
		}
		return errNotFound(kindRevision, id, l.region, l.project)
	}
	if instances < 0 {
		return status.Errorf(codes.InvalidArgument, "instance count %d must not be negative", instances)
	}
	if revisionState(rev) != runpb.Condition_CONDITION_SUCCEEDED {
		return fmt.Errorf("scale %s: %w", lastSegment(revisionName), ErrRevisionNotReady)
	}
	o, ok := ownerLocked(w, rev.Service)
	if !ok {
		return fmt.Errorf("scale %s: owner %s not found", lastSegment(revisionName), rev.Service)
	}
	if err := checkScaleQuotaLocked(w, o.where(), rev, instances); err != nil { // quota.go
		return err
	}
	if len(rev.GetVpcAccess().GetNetworkInterfaces()) > 0 && instances > 0 {
		t, fail := checkVPCLocked(w, o.where(), rev.GetVpcAccess())
		if fail == nil {
			fail = holdLocked(w, t, revisionName, instances)
		}
		if fail != nil {
			return status.Error(codes.FailedPrecondition, fail.msg)
		}
	}
	if instances == 0 {
		stopLocked(w, revisionName)
	} else {
		w.S.Instances[revisionName] = instances
	}
	w.MarkChangedLocked()
	return nil
}
