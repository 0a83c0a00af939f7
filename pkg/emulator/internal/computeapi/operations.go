package computeapi

import (
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"weak"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// flight is a change in progress: an operation that has not completed yet. While it runs the
// target is "not ready" for other changes, an insert keeps its name taken, and subnetwork
// ranges it will use are already counted in overlap checks, as the real control plane
// reserves them when it accepts the request.
type flight struct {
	op       string       // key of the operation in State.ComputeOps
	state    *world.State // the state it belongs to; a reset or restored world drops it
	insert   bool         // the operation creates the target
	deleteOp bool         // the operation deletes the target
	path     string       // the target's resource path
	// network is "project/name" of the network an inserted resource belongs to.
	network string
	// subnet is the state key of the subnetwork an inserted address belongs to, and addr the
	// internal address it takes there.
	subnet string
	addr   string
	// ranges are the IPv4 ranges the target will use in network when the operation completes.
	ranges []world.NetworkRange
}

// ext is what this package keeps per world beyond world.State: only in-flight changes, which
// exist while operations run and are rebuilt by nothing (a saved state is flushed first).
type ext struct {
	flights map[string]*flight // by target key, "collection/stateKey"
	// seen is when each serverless-ipv4-* address was first shown: the reservation itself
	// records no creation time.
	seen map[string]time.Time
}

// exts holds each world's ext, keyed weakly so that a world no longer used (tests make many)
// can be collected; the entry goes with it.
var exts sync.Map // weak.Pointer[world.World] -> *ext

func extOf(w *world.World) *ext {
	key := weak.Make(w)
	if e, ok := exts.Load(key); ok {
		return e.(*ext)
	}
	e, loaded := exts.LoadOrStore(key, &ext{flights: map[string]*flight{}, seen: map[string]time.Time{}})
	if !loaded {
		runtime.AddCleanup(w, func(k weak.Pointer[world.World]) { exts.Delete(k) }, key)
	}
	return e.(*ext)
}

func flightKey(collection, stateKey string) string { return collection + "/" + stateKey }

// flightLocked returns the change in progress on the target, if any.
func flightLocked(w *world.World, key string) *flight {
	e := extOf(w)
	f, ok := e.flights[key]
	if !ok {
		return nil
	}
	if f.state != w.S {
		delete(e.flights, key)
		return nil
	}
	return f
}

// flightsLocked returns every live change in progress, by target key, in key order.
func flightsLocked(w *world.World) []*flight {
	e := extOf(w)
	var out []*flight
	for _, k := range world.SortedKeys(e.flights) {
		if f := flightLocked(w, k); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// opSpec describes an operation to start.
type opSpec struct {
	project, region string // region is empty for global operations
	opType          string
	target          string // resource path of the target
	targetID        uint64
	requestID       string
	// flightKey, when set, marks the target as changing until the operation completes; fl
	// carries what the change reserves.
	flightKey string
	fl        flight
	// apply makes the change when the operation completes (with the lock held). Its error
	// becomes the operation's error.
	apply func() *apiError
	// org makes an organization-scope operation (locations/global/operations), as
	// hierarchical firewall policies have; hideTarget leaves targetLink and targetId out until
	// the operation is DONE (realapi/compute/firewallpolicyrule-getRule-400.http.log).
	org, hideTarget bool
}

// orgScope is the project part of the keys of organization-scope operations.
const orgScope = "locations"

func opKey(project, region, name string) string {
	if project == orgScope {
		return "locations/global/" + name
	}
	if region == "" {
		return project + "/global/" + name
	}
	return project + "/" + region + "/" + name
}

// opName returns a name shaped like the real ones: operation-<unix ms>-<unix µs in hex>-<8
// hex>-<8 hex> (realapi/compute/network-addresses-peering-real.vcr.yaml:
// operation-1714010437348-616e227426de0-6c263cf4-0e96ac75).
func opName(now time.Time) string {
	return fmt.Sprintf("operation-%d-%x-%08x-%08x", now.UnixMilli(), now.UnixMicro(), rand32(), rand32())
}

// startOpLocked stores a RUNNING operation, as insert/patch/delete return it, and schedules its
// completion after the configured LRODuration.
func startOpLocked(w *world.World, spec opSpec) *compute.Operation {
	now := w.Now()
	name := opName(now)
	scope := "global"
	if spec.region != "" {
		scope = "regions/" + spec.region
	}
	op := &compute.Operation{
		Kind:              "compute#operation",
		Id:                w.NextIDLocked(),
		Name:              name,
		OperationType:     spec.opType,
		TargetLink:        linkBase + spec.target,
		TargetId:          spec.targetID,
		Status:            "RUNNING",
		User:              operationUser,
		Progress:          0,
		InsertTime:        timestamp(now),
		StartTime:         timestamp(now),
		SelfLink:          linkBase + "projects/" + spec.project + "/" + scope + "/operations/" + name,
		ClientOperationId: spec.requestID,
	}
	if spec.region != "" {
		op.Region = regionLink(spec.project, spec.region)
	}
	key := opKey(spec.project, spec.region, name)
	if spec.org {
		key = opKey(orgScope, "", name)
		op.SelfLink = linkBase + "locations/global/operations/" + name
	}
	if spec.hideTarget {
		op.TargetLink, op.TargetId = "", 0
	}
	w.S.ComputeOps[key] = op
	if spec.flightKey != "" {
		f := spec.fl
		f.op, f.state, f.path = key, w.S, spec.target
		extOf(w).flights[spec.flightKey] = &f
	}
	w.MarkChangedLocked()
	w.AfterLocked(w.ConfigLocked().LRODuration, func() { completeOpLocked(w, key, spec) })
	return renderOp(op)
}

// completeOpLocked applies the change and marks the operation DONE, with its error if the
// change could not be made. The change is made even if the operation record was deleted.
func completeOpLocked(w *world.World, key string, spec opSpec) {
	e := extOf(w)
	if f, ok := e.flights[spec.flightKey]; ok && f.op == key {
		delete(e.flights, spec.flightKey)
	}
	var aerr *apiError
	if spec.apply != nil {
		aerr = spec.apply()
	}
	w.MarkChangedLocked()
	op, ok := w.S.ComputeOps[key]
	if !ok {
		return
	}
	op.Status = "DONE"
	op.Progress = 100
	if spec.hideTarget {
		op.TargetLink, op.TargetId = linkBase+spec.target, spec.targetID
	}
	op.EndTime = timestamp(w.Now())
	if aerr != nil {
		op.Error = &compute.OperationError{Errors: []*compute.OperationErrorErrors{{Code: aerr.opCode(), Message: aerr.Message}}}
		op.HttpErrorStatusCode = int64(aerr.Status)
		op.HttpErrorMessage = strings.ToUpper(http.StatusText(aerr.Status))
	}
}

// opByRequestLocked returns the operation an earlier call with the same requestId started in
// the project, if any. Compute docs (requestId): a repeated request ID makes the server
// return the original operation instead of acting again.
func opByRequestLocked(w *world.World, project, requestID string) *compute.Operation {
	if requestID == "" {
		return nil
	}
	for k, op := range w.S.ComputeOps {
		if strings.HasPrefix(k, project+"/") && op.ClientOperationId == requestID {
			return renderOp(op)
		}
	}
	return nil
}

// renderOp returns a copy of op as the API returns it ("progress": 0 included).
func renderOp(op *compute.Operation) *compute.Operation {
	c := clone(op)
	c.ForceSendFields = []string{"Progress"}
	return c
}

func opPath(project, region, name string) string {
	if region == "" {
		return globalPath(project, "operations", name)
	}
	return regionalPath(project, region, "operations", name)
}

func (s *server) opsGet(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	op, ok := s.w.S.ComputeOps[opKey(p["project"], p["region"], p["name"])]
	if !ok {
		return nil, errNotFound(opPath(p["project"], p["region"], p["name"]))
	}
	return renderOp(op), nil
}

// opsWait returns the operation once it is DONE, or as it stands after waitCap. It sleeps on
// the world's change notification, never polling.
func (s *server) opsWait(r *http.Request, p params) (any, *apiError) {
	key := opKey(p["project"], p["region"], p["name"])
	deadline := time.NewTimer(waitCap)
	defer deadline.Stop()
	for {
		s.w.Lock()
		op, ok := s.w.S.ComputeOps[key]
		if !ok {
			s.w.Unlock()
			return nil, errNotFound(opPath(p["project"], p["region"], p["name"]))
		}
		out := renderOp(op)
		changed := s.w.ChangedLocked()
		s.w.Unlock()
		if out.Status == "DONE" {
			return out, nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return s.opsGet(r, p)
		case <-r.Context().Done():
			return nil, contextError(r.Context().Err())
		}
	}
}

func (s *server) opsDelete(r *http.Request, p params) (any, *apiError) {
	s.w.Lock()
	defer s.w.Unlock()
	key := opKey(p["project"], p["region"], p["name"])
	if _, ok := s.w.S.ComputeOps[key]; !ok {
		return nil, errNotFound(opPath(p["project"], p["region"], p["name"]))
	}
	delete(s.w.S.ComputeOps, key)
	s.w.MarkChangedLocked()
	return noContent{}, nil
}

func (s *server) opsList(r *http.Request, p params) (any, *apiError) {
	return s.list(r, p, "compute#operation", "operations", opItemsLocked)
}

func opItemsLocked(w *world.World, project, region string) []listItem {
	prefix := opKey(project, region, "")
	var ops []*compute.Operation
	for k, op := range w.S.ComputeOps {
		if strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/") {
			ops = append(ops, op)
		}
	}
	sortOps(ops)
	items := make([]listItem, 0, len(ops))
	for _, op := range ops {
		items = append(items, toItem(renderOp(op), op.Name, op.InsertTime))
	}
	return items
}

// sortOps orders operations as they were created.
func sortOps(ops []*compute.Operation) {
	sort.Slice(ops, func(i, j int) bool { return ops[i].Id < ops[j].Id })
}
