package computeapi

import (
	"encoding/json"
	"net/http"
	"strings"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// target names a resource: its project, its region (empty for global resources) and its name.
type target struct{ project, region, name string }

// target names the resource called name in the project and region (if any) of the call.
func (p params) target(name string) target { return target{p["project"], p["region"], name} }

// key is the target's key in its world.State map.
func (t target) key() string {
	if t.region == "" {
		return world.GlobalKey(t.project, t.name)
	}
	return world.RegionalKey(t.project, t.region, t.name)
}

// scopePath is "projects/P/global" or "projects/P/regions/R".
func scopePath(project, region string) string {
	if region == "" {
		return "projects/" + project + "/global"
	}
	return "projects/" + project + "/regions/" + region
}

// collection is a kind of resource the emulator stores in world.State: firewalls, networks,
// routers, addresses or subnetworks. The steps every insert, patch, delete, get and list of
// them shares are written once on it.
type collection[T any] struct {
	name  string // as in paths, e.g. "subnetworks"
	items func(*world.State) map[string]*T
	// store, when set, stores an inserted resource (instead of putting it in items).
	store func(w *world.World, t target, v *T)
}

func (c *collection[T]) path(t target) string {
	return scopePath(t.project, t.region) + "/" + c.name + "/" + t.name
}
func (c *collection[T]) flightKey(t target) string { return flightKey(c.name, t.key()) }
func (c *collection[T]) flightLocked(w *world.World, t target) *flight {
	return flightLocked(w, c.flightKey(t))
}

// takenLocked reports whether the target's name is used: by a stored resource or an insert in
// progress.
func (c *collection[T]) takenLocked(w *world.World, t target) bool {
	_, ok := c.items(w.S)[t.key()]
	return ok || c.flightLocked(w, t) != nil
}

// getLocked returns the stored target, or notFound.
func (c *collection[T]) getLocked(w *world.World, t target) (*T, *apiError) {
	v, ok := c.items(w.S)[t.key()]
	if !ok {
		return nil, errNotFound(c.path(t))
	}
	return v, nil
}

// currentLocked returns the target of a patch or delete, refusing while another change of it
// runs.
func (c *collection[T]) currentLocked(w *world.World, t target) (*T, *apiError) {
	v, aerr := c.getLocked(w, t)
	if aerr != nil {
		return nil, aerr
	}
	if c.flightLocked(w, t) != nil {
		return nil, errNotReady(c.path(t))
	}
	return v, nil
}

// startLocked starts an operation of type opType on the target, which is marked as changing
// (with what fl reserves) until apply has run.
func (c *collection[T]) startLocked(w *world.World, t target, opType, rid string, id uint64, fl flight, apply func() *apiError) *compute.Operation {
	return startOpLocked(w, opSpec{
		project: t.project, region: t.region, opType: opType, target: c.path(t), targetID: id, requestID: rid,
		flightKey: c.flightKey(t), fl: fl, apply: apply,
	})
}

// insertLocked starts the insert of v (whose id is id): when the operation completes, v is
// stored unless the name was taken meanwhile or check fails.
func (c *collection[T]) insertLocked(w *world.World, t target, rid string, v *T, id uint64, fl flight, check func() *apiError) *compute.Operation {
	fl.insert = true
	return c.startLocked(w, t, "insert", rid, id, fl, func() *apiError {
		if _, ok := c.items(w.S)[t.key()]; ok {
			return errAlreadyExists(c.path(t))
		}
		if check != nil {
			if aerr := check(); aerr != nil {
				return aerr
			}
		}
		if c.store != nil {
			c.store(w, t, v)
		} else {
			c.items(w.S)[t.key()] = v
		}
		return nil
	})
}

// replaceLocked starts a change of the target (whose id is id) that stores updated when the
// operation completes.
func (c *collection[T]) replaceLocked(w *world.World, t target, opType, rid string, id uint64, fl flight, updated *T) *compute.Operation {
	return c.startLocked(w, t, opType, rid, id, fl, func() *apiError {
		if _, ok := c.items(w.S)[t.key()]; !ok {
			return errNotFound(c.path(t))
		}
		c.items(w.S)[t.key()] = updated
		return nil
	})
}

// deleteLocked starts the delete of the target (whose id is id): when the operation
// completes, the target goes unless check (which may release what goes with it) fails.
func (c *collection[T]) deleteLocked(w *world.World, t target, rid string, id uint64, check func(cur *T) *apiError) *compute.Operation {
	return c.startLocked(w, t, "delete", rid, id, flight{deleteOp: true}, func() *apiError {
		cur, ok := c.items(w.S)[t.key()]
		if !ok {
			return errNotFound(c.path(t))
		}
		if check != nil {
			if aerr := check(cur); aerr != nil {
				return aerr
			}
		}
		delete(c.items(w.S), t.key())
		return nil
	})
}

// itemsLocked returns the stored resources of the project in region (or global), by name, as
// list items.
func (c *collection[T]) itemsLocked(w *world.World, project, region string, item func(*T) listItem) []listItem {
	all := c.items(w.S)
	prefix := target{project, region, ""}.key()
	var items []listItem
	for _, k := range world.SortedKeys(all) {
		if v := all[k]; strings.HasPrefix(k, prefix) {
			items = append(items, item(v))
		}
	}
	return items
}

// get serves a get call: the stored target as render shows it.
func (c *collection[T]) get(w *world.World, p params, render func(*T) any) (any, *apiError) {
	w.Lock()
	defer w.Unlock()
	v, aerr := c.getLocked(w, p.target(p["name"]))
	if aerr != nil {
		return nil, aerr
	}
	return render(v), nil
}

// mutate serves an insert, patch or other change: it reads the body into body (unless nil)
// and the requestId, then, with the lock held, answers a repeated requestId with the operation
// it started, or calls change with the fields present in the body and the requestId.
func (s *server) mutate(r *http.Request, p params, body any, change func(present map[string]json.RawMessage, rid string) (any, *apiError)) (any, *apiError) {
	var present map[string]json.RawMessage
	if body != nil {
		var aerr *apiError
		if present, aerr = decodeBody(r, body); aerr != nil {
			return nil, aerr
		}
	}
	rid, aerr := requestID(r)
	if aerr != nil {
		return nil, aerr
	}
	s.w.Lock()
	defer s.w.Unlock()
	if op := opByRequestLocked(s.w, p["project"], rid); op != nil {
		return op, nil
	}
	return change(present, rid)
}

// itemsFunc returns, with the lock held, the project's resources in a region (or global) as
// list items.
type itemsFunc func(w *world.World, project, region string) []listItem

// list serves a list call of collection (items of kind kind) in the call's region, or global.
func (s *server) list(r *http.Request, p params, kind, collection string, items itemsFunc) (any, *apiError) {
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	project, region := p["project"], p["region"]
	s.w.Lock()
	page := items(s.w, project, region)
	s.w.Unlock()
	return lp.list(kind+"List", scopePath(project, region)+"/"+collection, page)
}

// aggregated serves an aggregatedList call of collection (items of kind kind) over every
// region.
func (s *server) aggregated(r *http.Request, p params, kind, collection string, items itemsFunc) (any, *apiError) {
	lp, aerr := parseListParams(r)
	if aerr != nil {
		return nil, aerr
	}
	project := p["project"]
	s.w.Lock()
	scopes := regionScopes(lp, func(region string) []listItem { return items(s.w, project, region) })
	s.w.Unlock()
	return lp.aggregated(kind+"AggregatedList", "projects/"+project+"/aggregated/"+collection, collection, scopes)
}
