package migration

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// guard bounds a wait of the test for something that must happen, so that a broken run fails
// instead of hanging; no assertion depends on it.
const guard = 20 * time.Second

// The per-project bound holds writes back: nine workloads in three projects, all nine allowed
// at once overall but one per project. Each workload's first write is held in the emulator;
// once three are held and the six others have said they wait for their project's slot,
// nothing can move until a held write is let go, and exactly one write per project has
// been sent.
func TestFleetPerProjectLimitHoldsWritesBack(t *testing.T) {
	e, err := emulator.New(emulator.Options{Seed: emulator.SeedSharedVPC, LRODuration: 10 * time.Millisecond, RevisionReady: 30 * time.Millisecond, IPRelease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Serve(l) }()
	t.Cleanup(func() { _ = e.Close() })
	for _, p := range emulator.SharedVPCServiceProjects {
		if err := e.Grant("projects/"+emulator.SharedVPCHost, "roles/compute.networkUser", emulator.ServiceAgent(p)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	c := cloud.New(ctx, cloud.Config{EmulatorHost: l.Addr().String()})
	defer c.Close()

	waiting := make(chan egress.WorkloadRef, 16)
	eng := &Engine{Read: c, Platform: &cloud.Platform{C: c}, Grant: c, Events: func(ev Event) {
		if ev.Kind == EventProgress && strings.HasPrefix(ev.Message.Text, "Waiting:") {
			waiting <- ev.Workload
		}
	}}
	fc, err := egress.ParseConnectorRef(emulator.SharedVPCConnectorName(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	subnet := "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	req := TargetRequest{FromConnector: &fc, Project: fc.Project, Region: fc.Region, Mode: egress.ModeDirect, Subnet: subnet}
	b, err := eng.Plan(ctx, req, FleetOptions{Concurrency: 9, PerProject: 1, Force: []string{egress.CheckFreeIPs}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Runnable()); n != 9 {
		t.Fatalf("%d runnable migrations, want 9: %+v", n, b.Projects())
	}

	// Hold every write until released; count them per project.
	type write struct{ method string }
	arrived := make(chan write, 16)
	release := make(chan struct{})
	var once sync.Once
	e.OnCall(func(m string) {
		if !strings.HasSuffix(m, "/UpdateService") && !strings.HasSuffix(m, "/UpdateJob") {
			return
		}
		select {
		case <-release:
			return
		default:
		}
		arrived <- write{m}
		select {
		case <-release:
		case <-time.After(guard):
		}
	})
	defer once.Do(func() { close(release) })

	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Apply(ctx, b)
	}()
	held, waited := 0, map[string]int{}
	for held < 3 || len(waited) < 3 || total(waited) < 6 {
		select {
		case <-arrived:
			held++
		case ref := <-waiting:
			waited[ref.Project]++
		case <-time.After(guard):
			t.Fatalf("after %d held writes and %v waiting workloads, nothing more happened", held, waited)
		}
	}
	// Every workload is accounted for: three writes held, six workloads waiting for a slot
	// their project's held write keeps. No other write can have been sent.
	select {
	case w := <-arrived:
		t.Fatalf("a fourth write was sent while every project had one in flight: %s", w.method)
	default:
	}
	if held != 3 {
		t.Fatalf("%d writes held, want 3", held)
	}
	for _, p := range emulator.SharedVPCServiceProjects {
		if waited[p] != 2 {
			t.Errorf("project %s: %d workloads waited, want 2 (%v)", p, waited[p], waited)
		}
	}
	once.Do(func() { close(release) })
	<-done
	for _, s := range b.Projects() {
		if s.Migrated != 3 {
			t.Errorf("project %+v", s)
		}
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
