package cloud

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file reads what serves a workload (egress.ServingState): the revisions its traffic (a
// worker pool's instances) reaches or that carry a tag, each with the VPC access it was
// created with, and a job's running executions. Calls are kept to what the answer needs: the
// latest created revision of a settled workload has the template's settings and is not read;
// other serving revisions are read one GetRevision each, concurrently; a job's executions are
// listed only while its latest one runs.

// servingReadConcurrency bounds the revision and execution reads made at once.
const servingReadConcurrency = 8

// ServingState reads what serves w, a workload as read by GetWorkload, ListWorkloads or
// ScanWorkloads.
func (c *Clients) ServingState(ctx context.Context, w *Workload) (*egress.ServingState, error) {
	ss, err := c.ServingStates(ctx, []*Workload{w})
	if err != nil {
		return nil, err
	}
	return ss[0], nil
}

// ServingStates reads what serves each of ws (in the same order), servingReadConcurrency
// reads at a time across all of them. A revision that is gone by the time it is read is left
// out; any other failed read is an error.
func (c *Clients) ServingStates(ctx context.Context, ws []*Workload) ([]*egress.ServingState, error) {
	ss, _, err := c.servingStates(ctx, ws)
	return ss, err
}

// servingStates is ServingStates, also counting the reads made (GetRevision and
// ListExecutions calls, pages aside).
func (c *Clients) servingStates(ctx context.Context, ws []*Workload) ([]*egress.ServingState, int, error) {
	type read struct {
		w        int
		revision string // "" for a job's executions
	}
	var reads []read
	vpcs := make([]map[string]egress.VPC, len(ws))
	same := make([]map[string]*bool, len(ws))
	for i, w := range ws {
		vpcs[i], same[i] = map[string]egress.VPC{}, map[string]*bool{}
		if w.Ref.Kind == egress.KindJob {
			if w.LatestExecutionRunning {
				reads = append(reads, read{w: i})
			}
			continue
		}
		for _, name := range egress.ServingRevisionNames(w.Workload, w.TrafficStatus) {
			if name == w.LatestCreated && !w.Reconciling {
				// The latest created revision of a settled workload is its template.
				vpcs[i][name] = w.VPC
				continue
			}
			reads = append(reads, read{w: i, revision: name})
		}
	}
	executions := make([][]egress.RunningExecution, len(ws))
	var mu sync.Mutex
	errs := make([]error, len(reads))
	sem := make(chan struct{}, servingReadConcurrency)
	var wg sync.WaitGroup
	for k, rd := range reads {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			w := ws[rd.w]
			if rd.revision == "" {
				ex, err := c.runningExecutions(ctx, w.Ref)
				mu.Lock()
				executions[rd.w], errs[k] = ex, err
				mu.Unlock()
				return
			}
			rev, err := c.getRevision(ctx, w.Ref, rd.revision)
			if err != nil {
				if !IsNotFound(err) {
					errs[k] = err
				}
				return
			}
			v := VPCFromProto(rev.GetVpcAccess())
			sc := sameConfig(w.Raw, rev)
			mu.Lock()
			vpcs[rd.w][rd.revision] = v
			same[rd.w][rd.revision] = sc
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, len(reads), err
	}
	out := make([]*egress.ServingState, len(ws))
	for i, w := range ws {
		failed, why := latestFailed(w)
		s := egress.NewServingState(w.Workload, w.TrafficStatus, vpcs[i], failed, why)
		for j := range s.Revisions {
			s.Revisions[j].SameConfig = same[i][s.Revisions[j].Name]
		}
		s.Executions = executions[i]
		out[i] = s
	}
	return out, len(reads), nil
}

// latestFailed reports whether w's latest created revision failed to become ready, and why
// when the workload says.
func latestFailed(w *Workload) (bool, string) {
	if w.Ref.Kind == egress.KindJob || w.LatestCreated == "" || w.LatestCreated == w.LatestReady {
		return false, ""
	}
	switch {
	case w.Terminal.State == ConditionFailed:
		return true, w.Terminal.Message
	case w.Reconciling, w.Terminal.State == ConditionPending, w.Terminal.State == ConditionReconciling:
		return false, "" // still starting
	}
	// Settled, and the latest created revision is not the latest ready one: it failed.
	return true, w.Terminal.Message
}

// runningExecutions lists a job's executions that have not completed, with the VPC access
// each started with.
func (c *Clients) runningExecutions(ctx context.Context, ref egress.WorkloadRef) ([]egress.RunningExecution, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	cl, err := c.Executions()
	if err != nil {
		return nil, err
	}
	var out []egress.RunningExecution
	err = scanPages(ctx, func(ctx context.Context, token string) pagedIterator[*runpb.Execution] {
		return cl.ListExecutions(ctx, &runpb.ListExecutionsRequest{Parent: ref.FullName(), PageSize: InventoryPageSize, PageToken: token}, noGaxRetry)
	}, func(e *runpb.Execution) error {
		if e.GetCompletionTime() == nil && e.GetDeleteTime() == nil {
			out = append(out, egress.RunningExecution{Name: egress.ShortName(e.GetName()), VPC: VPCFromProto(e.GetTemplate().GetVpcAccess())})
		}
		return nil
	})
	if err != nil {
		return nil, apiErr(fmt.Sprintf("list the executions of %s", describeRef(ref)), err)
	}
	return out, nil
}

// sameConfig compares what a revision runs, other than its VPC access, with the template of
// raw (a *runpb.Service or *runpb.WorkerPool as read): containers, volumes, service account,
// scaling and the other settings that decide what serves. nil when raw is not known.
func sameConfig(raw proto.Message, rev *runpb.Revision) *bool {
	var eq bool
	switch m := raw.(type) {
	case *runpb.Service:
		t := m.GetTemplate()
		eq = equalList(t.GetContainers(), rev.GetContainers()) && equalList(t.GetVolumes(), rev.GetVolumes()) &&
			t.GetServiceAccount() == rev.GetServiceAccount() && proto.Equal(t.GetScaling(), rev.GetScaling()) &&
			proto.Equal(t.GetTimeout(), rev.GetTimeout()) && t.GetMaxInstanceRequestConcurrency() == rev.GetMaxInstanceRequestConcurrency() &&
			t.GetExecutionEnvironment() == rev.GetExecutionEnvironment() && t.GetEncryptionKey() == rev.GetEncryptionKey() &&
			t.GetSessionAffinity() == rev.GetSessionAffinity() && proto.Equal(t.GetNodeSelector(), rev.GetNodeSelector())
	case *runpb.WorkerPool:
		t := m.GetTemplate()
		eq = equalList(t.GetContainers(), rev.GetContainers()) && equalList(t.GetVolumes(), rev.GetVolumes()) &&
			t.GetServiceAccount() == rev.GetServiceAccount() && t.GetEncryptionKey() == rev.GetEncryptionKey() &&
			proto.Equal(t.GetNodeSelector(), rev.GetNodeSelector())
	default:
		return nil
	}
	return &eq
}

func equalList[M proto.Message](a, b []M) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
