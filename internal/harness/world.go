package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// World is an emulator on loopback and runnet pointed at it.
type World struct {
	// E is the emulator.
	E *emulator.Emulator
	// Addr is its address (host:port).
	Addr string
	// Main is runnet.
	Main Main
}

// NewWorld starts an emulator with opts (Fast, usually) for runnet main.
func NewWorld(tb TB, main Main, opts emulator.Options) *World {
	tb.Helper()
	e := StartEmulator(tb, opts)
	return &World{E: e, Addr: e.Addr(), Main: main}
}

// Env is a hermetic environment pointing runnet at the world's emulator, plus kv.
func (w *World) Env(tb TB, kv ...string) func(string) string {
	return Hermetic(tb, append([]string{EnvEmulatorHost, w.Addr}, kv...)...)
}

// Run runs runnet in process against the emulator. tty makes stdin and stderr terminals;
// stdin is what the user types.
func (w *World) Run(tb TB, tty bool, stdin string, args ...string) Result {
	tb.Helper()
	return RunMain(context.Background(), w.Main, w.Env(tb), RunOptions{TTY: tty, Stdin: stdin}, args...)
}

// RunWith runs runnet in process with o, and main instead of the world's when it is not nil.
func (w *World) RunWith(ctx context.Context, tb TB, main Main, o RunOptions, args ...string) Result {
	tb.Helper()
	if main == nil {
		main = w.Main
	}
	return RunMain(ctx, main, w.Env(tb, o.Env...), o, args...)
}

// Clients are runnet's clients of the emulator; closed when tb ends.
func (w *World) Clients(tb TB) *cloud.Clients {
	c := cloud.New(context.Background(), cloud.Config{EmulatorHost: w.Addr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Read reads a workload (NAME, job/NAME or workerpool/NAME in the demo project and region).
func (w *World) Read(tb TB, workload string) *cloud.Workload {
	tb.Helper()
	c := cloud.New(context.Background(), cloud.Config{EmulatorHost: w.Addr})
	defer c.Close()
	ref, err := egress.ParseWorkloadRef(workload, Project, Region)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := c.GetWorkload(ctx, ref)
	if err != nil {
		tb.Fatalf("read %s: %v", workload, err)
	}
	return cur
}

// Settled reads a workload once it has settled (a killed runnet may leave a change in
// flight).
func (w *World) Settled(tb TB, workload string) *cloud.Workload {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur := w.Read(tb, workload)
		if !cur.Reconciling || time.Now().After(deadline) {
			return cur
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Journal decodes the migration journal a workload carries (nil when none).
func (w *World) Journal(tb TB, workload string) *egress.Journal {
	tb.Helper()
	v := w.Read(tb, workload).Journal()
	if v == "" {
		return nil
	}
	j, err := egress.DecodeJournal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// ChangeService applies edit to the service name as it is now, through the API (as another
// tool would), and waits.
func (w *World) ChangeService(tb TB, name string, edit func(s *runpb.Service)) {
	tb.Helper()
	ctx := context.Background()
	cl, err := w.Clients(tb).Services()
	if err != nil {
		tb.Fatal(err)
	}
	s := proto.Clone(w.Read(tb, name).Raw).(*runpb.Service)
	edit(s)
	op, err := cl.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		tb.Fatalf("update %s: %v", name, err)
	}
	if _, err := op.Wait(ctx); err != nil {
		tb.Fatalf("update %s: %v", name, err)
	}
}

// ChangeJob applies edit to the job name as it is now, through the API, and waits.
func (w *World) ChangeJob(tb TB, name string, edit func(j *runpb.Job)) {
	tb.Helper()
	ctx := context.Background()
	cl, err := w.Clients(tb).Jobs()
	if err != nil {
		tb.Fatal(err)
	}
	j := proto.Clone(w.Read(tb, "job/"+name).Raw).(*runpb.Job)
	edit(j)
	op, err := cl.UpdateJob(ctx, &runpb.UpdateJobRequest{Job: j})
	if err != nil {
		tb.Fatalf("update job %s: %v", name, err)
	}
	if _, err := op.Wait(ctx); err != nil {
		tb.Fatalf("update job %s: %v", name, err)
	}
}

// ChangeWorkerPool applies edit to the worker pool name as it is now, through the API, and
// waits.
func (w *World) ChangeWorkerPool(tb TB, name string, edit func(p *runpb.WorkerPool)) {
	tb.Helper()
	ctx := context.Background()
	cl, err := w.Clients(tb).WorkerPools()
	if err != nil {
		tb.Fatal(err)
	}
	p := proto.Clone(w.Read(tb, "workerpool/"+name).Raw).(*runpb.WorkerPool)
	edit(p)
	op, err := cl.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: p})
	if err != nil {
		tb.Fatalf("update worker pool %s: %v", name, err)
	}
	if _, err := op.Wait(ctx); err != nil {
		tb.Fatalf("update worker pool %s: %v", name, err)
	}
}

// CreateService creates a service in the demo project and waits until it is ready.
func (w *World) CreateService(tb TB, id string, s *runpb.Service) {
	tb.Helper()
	ctx := context.Background()
	cl, err := w.Clients(tb).Services()
	if err != nil {
		tb.Fatal(err)
	}
	op, err := cl.CreateService(ctx, &runpb.CreateServiceRequest{Parent: "projects/" + Project + "/locations/" + Region, ServiceId: id, Service: s})
	if err != nil {
		tb.Fatalf("create service %s: %v", id, err)
	}
	if _, err := op.Wait(ctx); err != nil {
		tb.Fatalf("create service %s: %v", id, err)
	}
}

// SimpleService is a one-container service with va as its VPC access and at most
// maxInstances instances.
func SimpleService(va *runpb.VpcAccess, maxInstances int32) *runpb.Service {
	return &runpb.Service{Template: &runpb.RevisionTemplate{
		Containers: []*runpb.Container{{Image: emulator.DemoImage}},
		VpcAccess:  va,
		Scaling:    &runpb.RevisionScaling{MaxInstanceCount: maxInstances},
	}}
}

// ScaleLatest scales a demo service's latest ready revision to n instances.
func ScaleLatest(e *emulator.Emulator, service string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := cloud.New(ctx, cloud.Config{EmulatorHost: e.Addr()})
	defer c.Close()
	cl, err := c.Services()
	if err != nil {
		return err
	}
	s, err := cl.GetService(ctx, &runpb.GetServiceRequest{Name: "projects/" + Project + "/locations/" + Region + "/services/" + service})
	if err != nil {
		return err
	}
	return e.ScaleRevision(s.GetLatestReadyRevision(), n)
}

// FillSubnet makes a one-instance service on subnet (a full name) of the demo network and
// scales it until blocks /28 blocks of the subnet are taken.
func (w *World) FillSubnet(tb TB, subnet string, blocks int) {
	tb.Helper()
	w.CreateService(tb, "filler", SimpleService(&runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: Network, Subnetwork: subnet}}}, 1))
	if err := ScaleLatest(w.E, "filler", blocks*8); err != nil {
		tb.Fatalf("fill %s: %v", subnet, err)
	}
}

// InsertFirewall inserts a VPC firewall rule in the demo project (fw.Network is a network
// path, projects/P/global/networks/N) and waits until it is listed.
func (w *World) InsertFirewall(tb TB, fw *compute.Firewall) {
	tb.Helper()
	cs, err := w.Clients(tb).Compute()
	if err != nil {
		tb.Fatal(err)
	}
	fw.Network = egress.ComputeURLPrefix + fw.Network
	if _, err := cs.Firewalls.Insert(Project, fw).Do(); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := cs.Firewalls.Get(Project, fw.Name).Do(); err == nil {
			return
		}
	}
	tb.Fatalf("firewall %s never appeared", fw.Name)
}

// ---- The emulator's whole state, before and after.

// Settle waits until the emulator has nothing in flight that would change its state by
// itself (a revision starting, an operation completing), so that a snapshot taken now stays
// true until something acts. quiet is how long the state must stay the same: more than the
// emulator's revision delay.
func (w *World) Settle(tb TB, quiet time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev, _ := w.E.State()
	for time.Now().Before(deadline) {
		time.Sleep(quiet)
		cur, err := w.E.State()
		if err != nil {
			tb.Fatal(err)
		}
		if bytes.Equal(prev, cur) {
			return
		}
		prev = cur
	}
	tb.Fatal("the emulator did not settle")
}

// State is the emulator's whole state (every resource, reservation, instance count and
// operation) as JSON, once settled (see Settle).
func (w *World) State(tb TB, quiet time.Duration) []byte {
	tb.Helper()
	w.Settle(tb, quiet)
	b, err := w.E.State()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// StateDiff lists the paths that differ between two state snapshots (at most 20).
func StateDiff(a, b []byte) []string {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return []string{"(state is not JSON)"}
	}
	var out []string
	var walk func(p string, u, v any)
	walk = func(p string, u, v any) {
		if len(out) >= 20 {
			return
		}
		um, uok := u.(map[string]any)
		vm, vok := v.(map[string]any)
		if uok && vok {
			keys := map[string]bool{}
			for k := range um {
				keys[k] = true
			}
			for k := range vm {
				keys[k] = true
			}
			names := make([]string, 0, len(keys))
			for k := range keys {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				walk(p+"/"+k, um[k], vm[k])
			}
			return
		}
		ub, _ := json.Marshal(u)
		vb, _ := json.Marshal(v)
		if !bytes.Equal(ub, vb) {
			out = append(out, fmt.Sprintf("  %s: %.120s -> %.120s", p, ub, vb))
		}
	}
	walk("", x, y)
	return out
}

// Unchanged returns "" when the emulator's state is before, byte for byte, once settled;
// otherwise the paths that differ.
func (w *World) Unchanged(tb TB, before []byte, quiet time.Duration) string {
	tb.Helper()
	after := w.State(tb, quiet)
	if bytes.Equal(before, after) {
		return ""
	}
	return strings.Join(StateDiff(before, after), "\n")
}
