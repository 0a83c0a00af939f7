package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// ControlPrefix is where the HTTP control surface lives; no Google API path starts with it.
//
//	GET    /runnet-emulator/v1/state                  the whole state as JSON
//	POST   /runnet-emulator/v1/seed      {"seed":"demo"}            start over from a seed
//	GET    /runnet-emulator/v1/timing                 current delays
//	POST   /runnet-emulator/v1/timing    {"latency":"50ms","lroDuration":"1s","revisionReady":"2s","ipRelease":"20m"}
//	GET    /runnet-emulator/v1/faults                 (nothing but 200: faults are write-only)
//	POST   /runnet-emulator/v1/faults    [Fault, ...] or {"spec":"METHOD=CODE[:COUNT]"}
//	DELETE /runnet-emulator/v1/faults                 clear every fault
//	GET    /runnet-emulator/v1/calls                  calls seen per method
//	DELETE /runnet-emulator/v1/calls                  zero the counts
//	POST   /runnet-emulator/v1/clock/advance {"by":"20m"}
//	POST   /runnet-emulator/v1/reservations/expire    release IP blocks waiting for release now
//	POST   /runnet-emulator/v1/revisions/scale {"revision":"projects/…/revisions/R","instances":5}
//	POST   /runnet-emulator/v1/connectors/scale {"connector":"projects/…/connectors/C","instances":3}
//	…/principal, /organizations, /folders, /projects, /iam/{grant,revoke,policy},
//	/sharedvpc/{hosts,attach}, /connectors/instances: see orgControl (org.go)
//	POST   /runnet-emulator/v1/services/disable {"project":"P","service":"compute.googleapis.com"}
//	POST   /runnet-emulator/v1/services/enable  {"project":"P","service":"compute.googleapis.com"}
//	GET    /runnet-emulator/v1/services?project=P the services disabled in P (services.go)
//
// and the data plane's endpoints (dataplane.go): destinations, dependencies, load,
// quotas/direct-vpc, reach, warmup.
const ControlPrefix = "/runnet-emulator/v1/"

// Seed empties the world and fills it with the named seed (one of Seeds).
func (e *Emulator) Seed(name string) error {
	e.w.Lock()
	defer e.w.Unlock()
	e.w.ResetLocked()
	switch name {
	case SeedEmpty, "":
		return nil
	case SeedDemo:
		if err := seedDemoLocked(e.w); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
		return nil
	case SeedStory:
		if err := seedStoryLocked(e.w); err != nil {
			return fmt.Errorf("seed story: %w", err)
		}
		return nil
	case SeedSharedVPC:
		if err := seedSharedVPCLocked(e.w); err != nil {
			return fmt.Errorf("seed sharedvpc: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("unknown seed %q: want one of %s", name, strings.Join(Seeds, ", "))
	}
}

// Timing returns the current delays.
func (e *Emulator) Timing() Timing { return e.w.Config() }

// SetTiming replaces the delays; operations already running keep theirs.
func (e *Emulator) SetTiming(t Timing) { e.w.SetConfig(t) }

// SetLatency sets the delay added to every call.
func (e *Emulator) SetLatency(d time.Duration) {
	t := e.w.Config()
	t.Latency = d
	e.w.SetConfig(t)
}

// InjectFault adds a fault.
func (e *Emulator) InjectFault(f Fault) { e.w.Faults.Add(f) }

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() { e.w.Faults.Clear() }

// SeedFaults makes probabilistic faults repeatable.
func (e *Emulator) SeedFaults(seed uint64) { e.w.Faults.Seed(seed) }

// Calls returns how many calls each method received (full gRPC method or Compute method id).
func (e *Emulator) Calls() map[string]int { return e.w.Faults.Calls() }

// ResetCalls zeroes the call counts.
func (e *Emulator) ResetCalls() { e.w.Faults.ResetCalls() }

// Advance moves the emulator's clock forward: operations, revisions and IP releases due in
// that time happen now.
func (e *Emulator) Advance(d time.Duration) { e.w.Advance(d) }

// Now is the emulator's clock.
func (e *Emulator) Now() time.Time { return e.w.Now() }

// ExpireReservations releases at once every Direct VPC IP block waiting out its release delay,
// and returns how many it released.
func (e *Emulator) ExpireReservations() int {
	e.w.Lock()
	defer e.w.Unlock()
	return e.w.ExpireReservationsLocked()
}

// ScaleRevision sets the number of running instances of a Run revision (full name). A Direct
// VPC revision reserves or releases IP blocks to match, and fails when the subnet is full.
func (e *Emulator) ScaleRevision(revision string, instances int) error {
	e.w.Lock()
	defer e.w.Unlock()
	return runapi.ScaleRevisionLocked(e.w, revision, instances)
}

// ScaleConnector raises a connector's instance count (connectors never scale in).
func (e *Emulator) ScaleConnector(connector string, instances int) error {
	e.w.Lock()
	defer e.w.Unlock()
	return vpcaccessapi.ScaleConnectorLocked(e.w, connector, instances)
}

// State returns the whole state as indented JSON.
func (e *Emulator) State() ([]byte, error) { return e.w.Snapshot() }

// ParseFault reads the --fault flag's form METHOD=CODE[:COUNT], where METHOD is a full gRPC
// method (google.cloud.run.v2.Services/UpdateService) or a Compute method id
// (compute.subnetworks.insert).
func ParseFault(spec string) (Fault, error) { return world.ParseFault(spec) }

type timingJSON struct {
	Latency       string `json:"latency,omitempty"`
	LRODuration   string `json:"lroDuration,omitempty"`
	RevisionReady string `json:"revisionReady,omitempty"`
	IPRelease     string `json:"ipRelease,omitempty"`
}

func (e *Emulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	p := strings.TrimSuffix(ControlPrefix, "/")
	mux.HandleFunc("GET "+p+"/state", func(rw http.ResponseWriter, _ *http.Request) {
		b, err := e.State()
		if err != nil {
			controlError(rw, http.StatusInternalServerError, err)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(b)
	})
	mux.HandleFunc("POST "+p+"/seed", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Seed string `json:"seed"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.Seed(req.Seed); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, map[string]string{"seed": req.Seed})
	})
	mux.HandleFunc("GET "+p+"/timing", func(rw http.ResponseWriter, _ *http.Request) {
		t := e.Timing()
		controlOK(rw, timingJSON{t.Latency.String(), t.LRODuration.String(), t.RevisionReady.String(), t.IPRelease.String()})
	})
	mux.HandleFunc("POST "+p+"/timing", func(rw http.ResponseWriter, r *http.Request) {
		var req timingJSON
		if !decode(rw, r, &req) {
			return
		}
		t := e.Timing()
		for _, f := range []struct {
			s   string
			dst *time.Duration
		}{{req.Latency, &t.Latency}, {req.LRODuration, &t.LRODuration}, {req.RevisionReady, &t.RevisionReady}, {req.IPRelease, &t.IPRelease}} {
			if f.s == "" {
				continue
			}
			d, err := time.ParseDuration(f.s)
			if err != nil || d < 0 {
				controlError(rw, http.StatusBadRequest, fmt.Errorf("bad duration %q", f.s))
				return
			}
			*f.dst = d
		}
		e.SetTiming(t)
		controlOK(rw, timingJSON{t.Latency.String(), t.LRODuration.String(), t.RevisionReady.String(), t.IPRelease.String()})
	})
	mux.HandleFunc("POST "+p+"/faults", func(rw http.ResponseWriter, r *http.Request) {
		var raw json.RawMessage
		if !decode(rw, r, &raw) {
			return
		}
		var faults []Fault
		var spec struct {
			Spec string `json:"spec"`
		}
		if err := json.Unmarshal(raw, &faults); err != nil {
			if err := json.Unmarshal(raw, &spec); err != nil || spec.Spec == "" {
				controlError(rw, http.StatusBadRequest, fmt.Errorf("want a list of faults or {\"spec\":\"METHOD=CODE[:COUNT]\"}"))
				return
			}
			f, err := ParseFault(spec.Spec)
			if err != nil {
				controlError(rw, http.StatusBadRequest, err)
				return
			}
			faults = []Fault{f}
		}
		for _, f := range faults {
			if f.Method == "" {
				controlError(rw, http.StatusBadRequest, fmt.Errorf("fault without a method"))
				return
			}
		}
		for _, f := range faults {
			e.InjectFault(f)
		}
		controlOK(rw, map[string]int{"added": len(faults)})
	})
	mux.HandleFunc("DELETE "+p+"/faults", func(rw http.ResponseWriter, _ *http.Request) {
		e.ClearFaults()
		controlOK(rw, map[string]bool{"cleared": true})
	})
	mux.HandleFunc("GET "+p+"/calls", func(rw http.ResponseWriter, _ *http.Request) { controlOK(rw, e.Calls()) })
	mux.HandleFunc("DELETE "+p+"/calls", func(rw http.ResponseWriter, _ *http.Request) {
		e.ResetCalls()
		controlOK(rw, map[string]bool{"reset": true})
	})
	mux.HandleFunc("POST "+p+"/clock/advance", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			By string `json:"by"`
		}
		if !decode(rw, r, &req) {
			return
		}
		d, err := time.ParseDuration(req.By)
		if err != nil || d <= 0 {
			controlError(rw, http.StatusBadRequest, fmt.Errorf("\"by\" must be a positive duration such as 20m, got %q", req.By))
			return
		}
		e.Advance(d)
		controlOK(rw, map[string]string{"now": e.Now().Format(time.RFC3339Nano)})
	})
	mux.HandleFunc("POST "+p+"/reservations/expire", func(rw http.ResponseWriter, _ *http.Request) {
		controlOK(rw, map[string]int{"released": e.ExpireReservations()})
	})
	mux.HandleFunc("POST "+p+"/revisions/scale", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Revision  string `json:"revision"`
			Instances int    `json:"instances"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.ScaleRevision(req.Revision, req.Instances); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	mux.HandleFunc("POST "+p+"/connectors/scale", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			Connector string `json:"connector"`
			Instances int    `json:"instances"`
		}
		if !decode(rw, r, &req) {
			return
		}
		if err := e.ScaleConnector(req.Connector, req.Instances); err != nil {
			controlError(rw, http.StatusBadRequest, err)
			return
		}
		controlOK(rw, req)
	})
	e.orgControl(mux, p)       // org.go: principal, hierarchy, IAM, Shared VPC, connector instances
	e.dataplaneControl(mux, p) // dataplane.go
	e.servicesControl(mux, p)  // services.go
	return mux
}

func decode(rw http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		controlError(rw, http.StatusBadRequest, fmt.Errorf("bad JSON body: %w", err))
		return false
	}
	return true
}

func controlOK(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

func controlError(rw http.ResponseWriter, code int, err error) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": err.Error()})
}
