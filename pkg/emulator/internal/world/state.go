package world

import (
	"encoding/json"
	"fmt"
	"sort"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// State is every resource the emulator holds. Compute resources are kept in the REST client's
// own types (what the API returns); Run and VPC Access resources as their protos.
//
// Keys: Compute regional resources are "project/region/name", global ones "project/name";
// Compute operations "project/global/name" or "project/region/name"; Run, VPC Access and
// long-running operations use their full resource name.
type State struct {
	Networks    map[string]*compute.Network
	Subnetworks map[string]*compute.Subnetwork
	Routers     map[string]*compute.Router
	Firewalls   map[string]*compute.Firewall
	Addresses   map[string]*compute.Address
	ComputeOps  map[string]*compute.Operation

	Connectors map[string]*vpcaccesspb.Connector

	Services    map[string]*runpb.Service
	Revisions   map[string]*runpb.Revision
	Jobs        map[string]*runpb.Job
	Executions  map[string]*runpb.Execution
	WorkerPools map[string]*runpb.WorkerPool

	Operations map[string]*longrunningpb.Operation

	// Reservations are Direct VPC egress IP blocks, keyed by their address name.
	Reservations map[string]*Reservation
	// Instances is the number of running instances of each Run revision (by full name).
	Instances map[string]int
	// ConnectorInstances is the number of instances each connector runs (by full name); it
	// starts at min_instances and never goes down.
	ConnectorInstances map[string]int

	// Dir is the resource hierarchy, IAM policies and Shared VPC links (directory.go).
	Dir *Directory
	// Net is the data plane, firewall policies, quotas and metrics timeline (netstate.go).
	Net *NetState

	// Seq feeds numeric ids and counters.
	Seq uint64
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		Networks:           map[string]*compute.Network{},
		Subnetworks:        map[string]*compute.Subnetwork{},
		Routers:            map[string]*compute.Router{},
		Firewalls:          map[string]*compute.Firewall{},
		Addresses:          map[string]*compute.Address{},
		ComputeOps:         map[string]*compute.Operation{},
		Connectors:         map[string]*vpcaccesspb.Connector{},
		Services:           map[string]*runpb.Service{},
		Revisions:          map[string]*runpb.Revision{},
		Jobs:               map[string]*runpb.Job{},
		Executions:         map[string]*runpb.Execution{},
		WorkerPools:        map[string]*runpb.WorkerPool{},
		Operations:         map[string]*longrunningpb.Operation{},
		Reservations:       map[string]*Reservation{},
		Instances:          map[string]int{},
		ConnectorInstances: map[string]int{},
		Dir:                NewDirectory(),
		Net:                NewNetState(),
	}
}

// GlobalKey is the key of a global Compute resource.
func GlobalKey(project, name string) string { return project + "/" + name }

// RegionalKey is the key of a regional Compute resource.
func RegionalKey(project, region, name string) string { return project + "/" + region + "/" + name }

// SortedKeys returns the keys of m in order, so listings are stable.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type stateJSON struct {
	Networks           map[string]*compute.Network    `json:"networks,omitempty"`
	Subnetworks        map[string]*compute.Subnetwork `json:"subnetworks,omitempty"`
	Routers            map[string]*compute.Router     `json:"routers,omitempty"`
	Firewalls          map[string]*compute.Firewall   `json:"firewalls,omitempty"`
	Addresses          map[string]*compute.Address    `json:"addresses,omitempty"`
	ComputeOps         map[string]*compute.Operation  `json:"computeOperations,omitempty"`
	Connectors         map[string]json.RawMessage     `json:"connectors,omitempty"`
	Services           map[string]json.RawMessage     `json:"services,omitempty"`
	Revisions          map[string]json.RawMessage     `json:"revisions,omitempty"`
	Jobs               map[string]json.RawMessage     `json:"jobs,omitempty"`
	Executions         map[string]json.RawMessage     `json:"executions,omitempty"`
	WorkerPools        map[string]json.RawMessage     `json:"workerPools,omitempty"`
	Operations         map[string]json.RawMessage     `json:"operations,omitempty"`
	Reservations       map[string]*Reservation        `json:"reservations,omitempty"`
	Instances          map[string]int                 `json:"instances,omitempty"`
	ConnectorInstances map[string]int                 `json:"connectorInstances,omitempty"`
	Directory          *Directory                     `json:"directory,omitempty"`
	Net                *NetState                      `json:"net,omitempty"`
	Seq                uint64                         `json:"seq"`
}

func marshalProtos[M proto.Message](m map[string]M) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		b, err := protojson.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

func unmarshalProtos[M proto.Message](in map[string]json.RawMessage, dst map[string]M, mk func() M) error {
	for k, raw := range in {
		v := mk()
		if err := protojson.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("unmarshal %s: %w", k, err)
		}
		dst[k] = v
	}
	return nil
}

// MarshalJSON renders the whole state as JSON (protos in their JSON mapping).
func (s *State) MarshalJSON() ([]byte, error) {
	j := stateJSON{
		Networks: s.Networks, Subnetworks: s.Subnetworks, Routers: s.Routers, Firewalls: s.Firewalls,
		Addresses: s.Addresses, ComputeOps: s.ComputeOps, Reservations: s.Reservations,
		Instances: s.Instances, ConnectorInstances: s.ConnectorInstances, Directory: s.Dir, Seq: s.Seq,
		Net: s.Net,
	}
	var err error
	if j.Connectors, err = marshalProtos(s.Connectors); err != nil {
		return nil, err
	}
	if j.Services, err = marshalProtos(s.Services); err != nil {
		return nil, err
	}
	if j.Revisions, err = marshalProtos(s.Revisions); err != nil {
		return nil, err
	}
	if j.Jobs, err = marshalProtos(s.Jobs); err != nil {
		return nil, err
	}
	if j.Executions, err = marshalProtos(s.Executions); err != nil {
		return nil, err
	}
	if j.WorkerPools, err = marshalProtos(s.WorkerPools); err != nil {
		return nil, err
	}
	if j.Operations, err = marshalProtos(s.Operations); err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores a state written by MarshalJSON.
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	n := NewState()
	copyMap(n.Networks, j.Networks)
	copyMap(n.Subnetworks, j.Subnetworks)
	copyMap(n.Routers, j.Routers)
	copyMap(n.Firewalls, j.Firewalls)
	copyMap(n.Addresses, j.Addresses)
	copyMap(n.ComputeOps, j.ComputeOps)
	copyMap(n.Reservations, j.Reservations)
	copyMap(n.Instances, j.Instances)
	copyMap(n.ConnectorInstances, j.ConnectorInstances)
	n.Dir = j.Directory.fill()
	n.Seq = j.Seq
	n.Net = j.Net.fill()
	steps := []error{
		unmarshalProtos(j.Connectors, n.Connectors, func() *vpcaccesspb.Connector { return &vpcaccesspb.Connector{} }),
		unmarshalProtos(j.Services, n.Services, func() *runpb.Service { return &runpb.Service{} }),
		unmarshalProtos(j.Revisions, n.Revisions, func() *runpb.Revision { return &runpb.Revision{} }),
		unmarshalProtos(j.Jobs, n.Jobs, func() *runpb.Job { return &runpb.Job{} }),
		unmarshalProtos(j.Executions, n.Executions, func() *runpb.Execution { return &runpb.Execution{} }),
		unmarshalProtos(j.WorkerPools, n.WorkerPools, func() *runpb.WorkerPool { return &runpb.WorkerPool{} }),
		unmarshalProtos(j.Operations, n.Operations, func() *longrunningpb.Operation { return &longrunningpb.Operation{} }),
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	*s = *n
	return nil
}

func copyMap[V any](dst, src map[string]V) {
	for k, v := range src {
		dst[k] = v
	}
}

// Snapshot returns the state as JSON, after applying due events.
func (w *World) Snapshot() ([]byte, error) {
	w.Lock()
	defer w.Unlock()
	return json.MarshalIndent(w.S, "", "  ")
}

// Restore replaces the state with one read from JSON. Events scheduled for the old state are
// dropped.
func (w *World) Restore(b []byte) error {
	s := NewState()
	if err := json.Unmarshal(b, s); err != nil {
		return fmt.Errorf("read emulator state: %w", err)
	}
	w.Lock()
	defer w.Unlock()
	w.S = s
	w.events = nil
	w.MarkChangedLocked()
	return nil
}

// ResetLocked empties the state and drops scheduled events.
func (w *World) ResetLocked() {
	w.S = NewState()
	w.events = nil
	w.dirty = true
}
