package faultmatrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runnet-dev/runnet/internal/cli"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// childEnv makes the test binary play runnet (with the real signal handling), so that the
// kill tests can SIGKILL a real process.
const childEnv = "RUNNET_FAULTMATRIX_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := cli.NotifyInterrupts(context.Background())
		code := cli.Execute(ctx, os.Args[1:], iostreams.System())
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// full reports whether the large matrix was asked for (RUNNET_FAULT_MATRIX=full, or
// -short=false given explicitly is not detectable, so the variable decides).
func full() bool { return os.Getenv("RUNNET_FAULT_MATRIX") == "full" }

const (
	project = emulator.DemoProject
	region  = emulator.DemoRegion
)

// ---------------------------------------------------------------------------------------
// Scenarios: a workload with fields worth preserving, and a migration of it.

type scenario struct {
	name string
	// workload is the WORKLOAD argument.
	workload string
	// args follow it.
	args []string
	// setup enriches the demo world.
	setup func(ctx context.Context, c *cloud.Clients) error
}

func scenarios() []scenario {
	return []scenario{
		{
			// A service with labels, annotations, a secret and a traffic split with tags and
			// another revision's share, moved in two canary steps.
			name: "service", workload: emulator.DemoService,
			args:  []string{"--to", "direct", "--subnet", emulator.DemoDirectSubnet, "--canary", "50,100", "--step-wait", "30ms"},
			setup: richService,
		},
		{
			// The same service switched in one update (no canary step): the new revision,
			// named in the request, takes the moving revision's place in the pinned split.
			name: "service-one-step", workload: emulator.DemoService,
			args:  []string{"--to", "direct", "--subnet", emulator.DemoDirectSubnet},
			setup: richService,
		},
		{
			// A job verified by one execution.
			name: "job", workload: "job/" + emulator.DemoJob,
			args: []string{"--to", "direct", "--subnet", emulator.DemoDirectSubnet, "--verify"},
		},
		{
			// A worker pool joining Direct VPC egress.
			name: "workerpool", workload: "workerpool/queue",
			args:  []string{"--to", "direct", "--subnet", emulator.DemoDirectSubnet},
			setup: workerPool,
		},
		{
			// A service moving into a subnet created first, leaving its connector (which the job
			// still uses: the cleanup checks and keeps it).
			name: "service-create-subnet", workload: emulator.DemoService,
			args: []string{"--to", "direct", "--network", emulator.DemoNetwork, "--create-subnet", "--cleanup"},
		},
	}
}

func richService(ctx context.Context, c *cloud.Clients) error {
	svcs, err := c.Services()
	if err != nil {
		return err
	}
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: project, Region: region, Name: emulator.DemoService}
	update := func(edit func(*runpb.Service)) error {
		w, err := c.GetWorkload(ctx, ref)
		if err != nil {
			return err
		}
		s := proto.Clone(w.Raw).(*runpb.Service)
		edit(s)
		op, err := svcs.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
		if err != nil {
			return err
		}
		_, err = op.Wait(ctx)
		return err
	}
	if err := update(func(s *runpb.Service) {
		s.Labels = map[string]string{"team": "web"}
		s.Annotations = map[string]string{"example.com/owner": "alice"}
		s.Template.Labels = map[string]string{"rev-label": "x"}
		s.Template.Containers[0].Env = append(s.Template.Containers[0].Env, &runpb.EnvVar{Name: "DB_PASSWORD",
			Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: "db", Version: "latest"}}}})
	}); err != nil {
		return err
	}
	w, err := c.GetWorkload(ctx, ref)
	if err != nil {
		return err
	}
	first := w.LatestReady
	// A second revision, then: 10% pinned to the first (tagged), 90% on the latest (tagged).
	if err := update(func(s *runpb.Service) { s.Template.Labels["rev-label"] = "y" }); err != nil {
		return err
	}
	return update(func(s *runpb.Service) {
		s.Traffic = []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: first, Percent: 10, Tag: "pinned"},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 90, Tag: "live"},
		}
	})
}

func workerPool(ctx context.Context, c *cloud.Clients) error {
	wps, err := c.WorkerPools()
	if err != nil {
		return err
	}
	n := int32(2)
	op, err := wps.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: "projects/" + project + "/locations/" + region, WorkerPoolId: "queue",
		WorkerPool: &runpb.WorkerPool{
			Labels:      map[string]string{"app": "queue"},
			Annotations: map[string]string{"example.com/owner": "bob"},
			Template:    &runpb.WorkerPoolRevisionTemplate{Containers: []*runpb.Container{{Image: emulator.DemoImage}}},
			Scaling:     &runpb.WorkerPoolScaling{ManualInstanceCount: &n},
		}})
	if err != nil {
		return err
	}
	_, err = op.Wait(ctx)
	return err
}

// ---------------------------------------------------------------------------------------
// One run: a fresh emulator, the scenario's world, runnet (in process or as a process), the
// checks.

// tb is what the helpers need of a test: testing.T, or a cellTB for a run on a goroutine of
// its own.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// cellTB collects a run's fatal error instead of stopping the test from another goroutine.
type cellTB struct {
	mu       sync.Mutex
	cleanups []func()
	fatal    string
}

type cellFatal struct{}

func (c *cellTB) Helper() {}
func (c *cellTB) Fatal(args ...any) {
	c.fatal = fmt.Sprint(args...)
	panic(cellFatal{})
}
func (c *cellTB) Fatalf(format string, args ...any) {
	c.fatal = fmt.Sprintf(format, args...)
	panic(cellFatal{})
}
func (c *cellTB) TempDir() string {
	d, err := os.MkdirTemp("", "faultmatrix-")
	if err != nil {
		c.Fatal(err)
	}
	c.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}
func (c *cellTB) Cleanup(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleanups = append(c.cleanups, fn)
}

// run runs fn, then the cleanups (last first); a fatal error becomes a problem of the cell.
func (c *cellTB) run(fn func(), problem func(string)) {
	defer func() {
		for i := len(c.cleanups) - 1; i >= 0; i-- {
			c.cleanups[i]()
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(cellFatal); !ok {
				panic(r)
			}
			problem("fatal: " + c.fatal)
		}
	}()
	fn()
}

type world struct {
	*harness.World
	e    *emulator.Emulator
	c    *cloud.Clients
	home string
}

// cliMain is runnet in process.
func cliMain(ctx context.Context, streams *iostreams.IOStreams, getenv func(string) string, args []string) int {
	return cli.ExecuteFactory(ctx, cli.NewFactory(streams, getenv), args)
}

func newWorld(t tb, sc scenario) *world {
	t.Helper()
	hw := harness.NewWorld(t, cliMain, emulator.Options{Seed: emulator.SeedDemo, LRODuration: 15 * time.Millisecond, RevisionReady: 25 * time.Millisecond, IPRelease: time.Minute})
	w := &world{World: hw, e: hw.E, c: hw.Clients(t), home: t.TempDir()}
	if sc.setup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sc.setup(ctx, w.c); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	w.e.ResetCalls()
	return w
}

func (w *world) env() map[string]string {
	return map[string]string{cli.EnvEmulatorHost: w.e.Addr(), "CLOUDSDK_CONFIG": w.home, "HOME": w.home}
}

type outcome struct {
	code   int
	stdout string
	stderr string
}

// runnet runs runnet in process.
func (w *world) runnet(args ...string) outcome {
	env := w.env()
	r := harness.RunMain(context.Background(), cliMain, func(k string) string { return env[k] }, harness.RunOptions{Timeout: 60 * time.Second}, args...)
	return outcome{r.Code, r.Stdout, r.Stderr}
}

// command returns runnet as a process (this test binary).
func (w *world) command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range w.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func (w *world) read(t tb, workload string) *cloud.Workload { return w.Read(t, workload) }

// settled reads the workload once it has settled (a killed runnet may leave a change in
// flight).
func (w *world) settled(t tb, workload string) *cloud.Workload { return w.Settled(t, workload) }

func migrateArgs(sc scenario) []string {
	return append(append([]string{"migrate", sc.workload}, sc.args...), "--yes", "--format", "json")
}

// ---------------------------------------------------------------------------------------
// The checks.

// outputOnly are the fields the API sets; they are masked when comparing before and after.
var outputOnly = []protoreflect.Name{"uid", "generation", "create_time", "update_time", "delete_time", "expire_time", "creator",
	"last_modifier", "observed_generation", "terminal_condition", "conditions", "latest_ready_revision", "latest_created_revision",
	"traffic_statuses", "instance_split_statuses", "reconciling", "etag", "execution_count", "latest_created_execution"}

// masked is a workload without its output-only fields, VPC access and traffic (compared
// apart, by shape).
func masked(m proto.Message) proto.Message {
	c := proto.Clone(m)
	r := c.ProtoReflect()
	for _, n := range outputOnly {
		if fd := r.Descriptor().Fields().ByName(n); fd != nil {
			r.Clear(fd)
		}
	}
	switch x := c.(type) {
	case *runpb.Service:
		x.Template.VpcAccess, x.Traffic, x.Template.Revision = nil, nil, ""
	case *runpb.Job:
		x.Template.Template.VpcAccess = nil
	case *runpb.WorkerPool:
		x.Template.VpcAccess, x.InstanceSplits, x.Template.Revision = nil, nil, ""
	}
	return c
}

// shape is a traffic split with the serving revision (before: the latest ready; after: the
// latest ready, which replaced it) named SERVING, so that a migrated and a restored workload
// compare equal to the original. With moved, every revision named with a share of the
// traffic is SERVING too: a migration moves the share of every revision that serves with the
// old settings (here: all of them) to the new revision, in its place.
func shape(w *cloud.Workload, moved bool) string {
	var parts []string
	for _, t := range w.Traffic {
		rev := t.Revision
		switch {
		case t.Latest:
			rev = "LATEST"
		case rev == w.LatestReady, moved && t.Percent > 0:
			rev = "SERVING"
		}
		parts = append(parts, fmt.Sprintf("%s=%d/%s", rev, t.Percent, t.Tag))
	}
	return strings.Join(parts, " ")
}

// state says which end a workload is at: "migrated", "original", or what is wrong.
func state(before, after, target *cloud.Workload) (string, []string) {
	var problems []string
	ref := before.Ref
	where := ""
	switch {
	case same(after.VPC, target.VPC, ref):
		where = "migrated"
	case same(after.VPC, before.VPC, ref):
		where = "original"
	default:
		problems = append(problems, fmt.Sprintf("VPC access is neither the original nor the target: %s", after.VPC))
	}
	if after.Journal() != "" {
		problems = append(problems, "the migration journal is still on the workload")
	}
	if ref.Kind != egress.KindJob {
		if s0, s1 := shape(before, where == "migrated"), shape(after, false); s0 != s1 {
			problems = append(problems, fmt.Sprintf("traffic shape %q, want %q", s1, s0))
		}
		if after.LatestCreated != after.LatestReady {
			problems = append(problems, fmt.Sprintf("latest created revision %s is not the latest ready %s", after.LatestCreated, after.LatestReady))
		}
		if where == "original" && before.VPC.Mode() != egress.ModeNone && after.LatestReady != before.LatestReady {
			// Restored through a new revision with the old settings: fine, as long as it
			// serves.
			where = "restored"
		}
	}
	if !proto.Equal(masked(before.Raw), masked(after.Raw)) {
		problems = append(problems, fmt.Sprintf("fields other than vpc_access changed:\nbefore: %s\nafter:  %s",
			prototext.Format(masked(before.Raw)), prototext.Format(masked(after.Raw))))
	}
	return where, problems
}

func same(a, b egress.VPC, ref egress.WorkloadRef) bool {
	ok, err := a.Equivalent(b, ref.Project, ref.Region)
	return err == nil && ok
}

// documented exit codes and what each allows at the end.
func allowed(code int, where string) bool {
	switch code {
	case exitcode.OK:
		return where == "migrated"
	case exitcode.RolledBack, exitcode.Preflight, exitcode.Permission, exitcode.Conflict:
		return where == "original" || where == "restored"
	case exitcode.Failure:
		return where != ""
	}
	return false
}

// ---------------------------------------------------------------------------------------
// The clean run: the calls the matrix is made of.

type call struct {
	method string
	n      int // occurrences in a clean run
}

func isWrite(m string) bool {
	for _, w := range []string{"/Update", "/Create", "/Delete", "/RunJob", ".insert", ".delete", ".patch"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

type cleanRun struct {
	calls  []call
	seq    []string // every call in order
	target *cloud.Workload
}

func clean(t *testing.T, sc scenario) cleanRun {
	t.Helper()
	w := newWorld(t, sc)
	var mu sync.Mutex
	var seq []string
	before := w.read(t, sc.workload)
	stop := w.e.WatchServing()
	w.e.ResetCalls()
	w.e.OnCall(func(m string) {
		mu.Lock()
		seq = append(seq, m)
		mu.Unlock()
	})
	out := w.runnet(migrateArgs(sc)...)
	w.e.OnCall(nil)
	counts := w.e.Calls()
	if out.code != 0 {
		t.Fatalf("clean run: exit %d: %s", out.code, out.stderr)
	}
	after := w.settled(t, sc.workload)
	if v, _ := stop(); len(v) > 0 {
		t.Fatalf("clean run served from revisions that were not ready: %v", v)
	}
	if where, problems := state(before, after, after); where != "migrated" || len(problems) > 0 {
		t.Fatalf("clean run ends %s: %v", where, problems)
	}
	var calls []call
	for m, n := range counts {
		calls = append(calls, call{m, n})
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].method < calls[j].method })
	mu.Lock()
	defer mu.Unlock()
	return cleanRun{calls: calls, seq: slices.Clone(seq), target: after}
}

// ---------------------------------------------------------------------------------------
// The matrix.

type faultKind struct {
	name   string
	code   codes.Code
	always bool // every call from the occurrence on (permanent), else once
	commit bool // applied, then the error (a lost response): writes only
	// mustMigrate: runnet must absorb it (retries) and end migrated, exit 0.
	mustMigrate bool
}

func faultKinds() []faultKind {
	ks := []faultKind{
		{name: "transient", code: codes.Unavailable, mustMigrate: true},
		{name: "lost-response", code: codes.Unavailable, commit: true, mustMigrate: true},
		{name: "permanent", code: codes.Internal, always: true},
	}
	if full() {
		ks = append(ks,
			faultKind{name: "throttled", code: codes.ResourceExhausted, mustMigrate: true},
			faultKind{name: "denied", code: codes.PermissionDenied, always: true},
			faultKind{name: "lost-then-down", code: codes.Internal, commit: true, always: true},
		)
	}
	return ks
}

// cell is one run of the matrix.
type cell struct {
	scenario string
	method   string
	occ      int // which occurrence of method fails first (1-based)
	kind     faultKind
	// kill, when > 0, SIGKILLs runnet as the kill-th call of method arrives, instead of
	// injecting a fault; rollback resumes with --rollback.
	kill     int
	rollback bool
	took     time.Duration

	// Results.
	code       int
	resumed    bool
	resumeCode int
	where      string
	journal    string // the journal step at the kill, "none"
	problems   []string
}

func (c *cell) name() string {
	if c.kill > 0 {
		r := "resume"
		if c.rollback {
			r = "resume --rollback"
		}
		return fmt.Sprintf("%s/kill at %s #%d/%s", c.scenario, c.method, c.kill, r)
	}
	return fmt.Sprintf("%s/%s #%d/%s", c.scenario, c.method, c.occ, c.kind.name)
}

// runFault runs one fault cell in process.
func runFault(t tb, sc scenario, cr cleanRun, c *cell) {
	w := newWorld(t, sc)
	before := w.read(t, sc.workload)
	stop := w.e.WatchServing()
	count := 1
	if c.kind.always {
		count = 0
	}
	w.e.InjectFault(emulator.Fault{Method: c.method, Code: c.kind.code, Skip: c.occ - 1, Count: count, AfterCommit: c.kind.commit})
	out := w.runnet(migrateArgs(sc)...)
	w.e.ClearFaults()
	c.code = out.code
	after := w.settled(t, sc.workload)
	if after.Journal() != "" {
		// The run could not finish (the API kept failing): the journal says how to; with the
		// API back, --resume must converge: forward when the migration itself was done, else
		// back.
		c.resumed = true
		args := []string{"migrate", "--resume", sc.workload, "--break-lock", "--yes", "--format", "json"}
		if !strings.Contains(out.stdout, `"outcome": "migrated"`) {
			args = append(args, "--rollback")
		}
		r := w.runnet(args...)
		c.resumeCode = r.code
		if r.code != 0 {
			c.problems = append(c.problems, fmt.Sprintf("--resume --rollback: exit %d: %s", r.code, r.stderr))
		}
		after = w.settled(t, sc.workload)
	}
	v, _ := stop()
	for _, x := range v {
		c.problems = append(c.problems, "served from a revision that was not ready: "+x.String())
	}
	where, problems := state(before, after, cr.target)
	c.where = where
	c.problems = append(c.problems, problems...)
	if c.kind.mustMigrate && (out.code != 0 || where != "migrated") {
		c.problems = append(c.problems, fmt.Sprintf("a %s failure was not absorbed: exit %d, %s: %s", c.kind.name, out.code, where, lastLine(out.stderr)))
	}
	if !c.resumed && !allowed(out.code, where) {
		c.problems = append(c.problems, fmt.Sprintf("exit %d does not match the end state %q: %s", out.code, where, lastLine(out.stderr)))
	}
	if out.code != 0 && !strings.Contains(out.stderr, "Error: ") {
		c.problems = append(c.problems, "failed without an error message")
	}
	if out.code != 0 && out.stdout != "" {
		var rep struct {
			Outcome egress.Outcome `json:"outcome"`
		}
		if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
			c.problems = append(c.problems, "the report is not JSON: "+err.Error())
		} else if out.code == exitcode.RolledBack && rep.Outcome != egress.OutcomeRolledBack {
			c.problems = append(c.problems, fmt.Sprintf("exit 6 with outcome %s", rep.Outcome))
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// runKill runs runnet as a process, SIGKILLs it as its kill-th API call arrives (the call is
// still served: its response is lost), then resumes in process.
func runKill(t tb, sc scenario, cr cleanRun, c *cell) {
	w := newWorld(t, sc)
	before := w.read(t, sc.workload)
	stop := w.e.WatchServing()
	cmd := w.command(migrateArgs(sc)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var n atomic.Int32
	var killed atomic.Bool
	var proc atomic.Pointer[os.Process] // published after Start: the hook runs on the emulator's goroutines
	exited := make(chan struct{})
	w.e.OnCall(func(m string) {
		if m != c.method || int(n.Add(1)) != c.kill {
			return
		}
		if p := proc.Load(); p != nil {
			killed.Store(true)
			_ = p.Kill()
			<-exited
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proc.Store(cmd.Process)
	err := cmd.Wait()
	close(exited)
	w.e.OnCall(nil)
	var ee *exec.ExitError
	switch {
	case err == nil:
		c.code = 0
	case errors.As(err, &ee):
		c.code = ee.ExitCode() // -1: killed
	default:
		t.Fatal(err)
	}
	if !killed.Load() {
		c.problems = append(c.problems, fmt.Sprintf("runnet made fewer than %d calls of %s (exit %d): %s", c.kill, c.method, c.code, lastLine(stderr.String())))
	}
	// The call runnet was killed on is still being served: let it land before looking.
	time.Sleep(50 * time.Millisecond)
	cur := w.read(t, sc.workload)
	c.journal = "none"
	if v := cur.Journal(); v != "" {
		if j, err := egress.DecodeJournal(v); err == nil {
			c.journal = fmt.Sprintf("step %d %s (%s)", j.Step+1, j.Steps[j.Step].Kind, j.Phase)
		} else {
			c.problems = append(c.problems, "unreadable journal: "+err.Error())
		}
	}
	args := []string{"migrate", "--resume", sc.workload, "--yes", "--format", "json"}
	if c.rollback {
		args = append(args, "--rollback")
	}
	// The killed process ran on this host: its lock is taken over without --break-lock.
	r := w.runnet(args...)
	c.resumed, c.resumeCode = true, r.code
	if r.code != 0 {
		c.problems = append(c.problems, fmt.Sprintf("resume: exit %d: %s", r.code, lastLine(r.stderr)))
	}
	after := w.settled(t, sc.workload)
	v, _ := stop()
	for _, x := range v {
		c.problems = append(c.problems, "served from a revision that was not ready: "+x.String())
	}
	where, problems := state(before, after, cr.target)
	c.where = where
	c.problems = append(c.problems, problems...)
	switch {
	case c.journal == "none":
		// Killed before its first change, or after its last: either end is fine.
	case c.rollback && where != "original" && where != "restored":
		c.problems = append(c.problems, "resume --rollback did not restore it: "+where)
	case !c.rollback && where != "migrated":
		c.problems = append(c.problems, "resume did not finish the migration: "+where)
	}
}

func TestFaultMatrix(t *testing.T) {
	start := time.Now()
	var cells []*cell
	type job struct {
		sc scenario
		cr *cleanRun
		c  *cell
	}
	var jobs []job
	for _, sc := range scenarios() {
		cr := clean(t, sc)
		for _, cl := range cr.calls {
			occs := []int{1}
			if full() {
				occs = nil
				for k := 1; k <= cl.n; k++ {
					occs = append(occs, k)
				}
			} else if cl.n > 1 && isWrite(cl.method) {
				occs = append(occs, cl.n) // a write's first and last occurrences
			}
			for _, k := range occs {
				for _, fk := range faultKinds() {
					if fk.commit && !isWrite(cl.method) {
						continue
					}
					c := &cell{scenario: sc.name, method: cl.method, occ: k, kind: fk}
					cells = append(cells, c)
					jobs = append(jobs, job{sc, &cr, c})
				}
			}
		}
		// Kill points: as every write arrives (a step boundary: the journal it carries shows
		// the step reached; the write lands, its response is lost) and, with the full
		// matrix, as every call arrives; resumed forward, and back.
		i := 0
		for _, cl := range cr.calls {
			if !full() && !isWrite(cl.method) {
				continue
			}
			for k := 1; k <= cl.n; k++ {
				for _, rb := range []bool{false, true} {
					if !full() && rb != (i%2 == 1) {
						continue // CI: each kill point once, alternating finish and undo
					}
					c := &cell{scenario: sc.name, method: cl.method, kill: k, rollback: rb}
					cells = append(cells, c)
					jobs = append(jobs, job{sc, &cr, c})
				}
				i++
			}
		}
	}
	// Run them 16 at a time: most of a run is waiting for emulated operations.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ct := &cellTB{}
			t0 := time.Now()
			defer func() { j.c.took = time.Since(t0) }()
			ct.run(func() {
				if j.c.kill > 0 {
					runKill(ct, j.sc, *j.cr, j.c)
				} else {
					runFault(ct, j.sc, *j.cr, j.c)
				}
			}, func(p string) { j.c.problems = append(j.c.problems, p) })
		})
	}
	wg.Wait()
	for _, c := range cells {
		t.Run(c.name(), func(t *testing.T) {
			for _, p := range c.problems {
				t.Error(p)
			}
		})
	}
	report(t, cells, time.Since(start))
}

// report logs the matrix as a table (and writes it to $RUNNET_FAULT_MATRIX_REPORT if set), the
// form docs/reliability.md quotes.
func report(t *testing.T, cells []*cell, took time.Duration) {
	var b strings.Builder
	type key struct{ scenario, method string }
	rows := map[key]map[string]string{}
	var keys []key
	kills := map[string][]string{}
	counts := map[string]int{}
	for _, c := range cells {
		status := fmt.Sprintf("%d→%s", c.code, c.where)
		if c.resumed {
			status += fmt.Sprintf(" (resumed: %d)", c.resumeCode)
		}
		if len(c.problems) > 0 {
			status = "FAIL " + status
		}
		if c.kill > 0 {
			r := "finish"
			if c.rollback {
				r = "undo"
			}
			kills[c.scenario] = append(kills[c.scenario], fmt.Sprintf("%s #%d [journal: %s] → %s: %s", c.method, c.kill, c.journal, r, c.where))
			counts["kill"]++
			continue
		}
		counts[c.kind.name]++
		k := key{c.scenario, c.method}
		if rows[k] == nil {
			rows[k] = map[string]string{}
			keys = append(keys, k)
		}
		col := c.kind.name
		if c.occ > 1 {
			col += fmt.Sprintf(" #%d", c.occ)
		}
		rows[k][col] = status
	}
	fmt.Fprintf(&b, "fault matrix: %d runs (%v) in %s\n\n", len(cells), counts, took.Round(time.Second))
	var cols []string
	for _, fk := range faultKinds() {
		cols = append(cols, fk.name)
	}
	fmt.Fprintf(&b, "| scenario | call | %s |\n|---|---|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	for _, k := range keys {
		var cellsTxt []string
		for _, col := range cols {
			var vs []string
			for name, v := range rows[k] {
				if name == col || strings.HasPrefix(name, col+" #") {
					vs = append(vs, v)
				}
			}
			sort.Strings(vs)
			if len(vs) == 0 {
				vs = []string{"–"}
			}
			cellsTxt = append(cellsTxt, strings.Join(vs, "; "))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", k.scenario, k.method, strings.Join(cellsTxt, " | "))
	}
	for _, sc := range scenarios() {
		if len(kills[sc.name]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nkill points, %s:\n", sc.name)
		for _, k := range kills[sc.name] {
			fmt.Fprintf(&b, "- %s\n", k)
		}
	}
	slow := slices.Clone(cells)
	sort.Slice(slow, func(i, j int) bool { return slow[i].took > slow[j].took })
	for _, c := range slow[:min(5, len(slow))] {
		t.Logf("slowest: %s: %s", c.name(), c.took.Round(time.Millisecond))
	}
	t.Log("\n" + b.String())
	if p := os.Getenv("RUNNET_FAULT_MATRIX_REPORT"); p != "" {
		if err := os.WriteFile(filepath.Clean(p), []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Processes racing, and interrupts.

// Two runnet processes migrate one service at the same moment (both read it before either
// writes): exactly one proceeds, the other exits 5 having changed nothing, and the service
// ends migrated, consistent.
func TestConcurrentProcesses(t *testing.T) {
	sc := scenarios()[0]
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			w := newWorld(t, sc)
			before := w.read(t, sc.workload)
			stop := w.e.WatchServing()
			// Both processes read the service before either writes (their first writes wait for
			// each other); the winner's later writes wait until the loser has exited, so that the
			// loser meets the winner's journal rather than its finished migration.
			race := harness.HoldWrites(w.e, "UpdateService", 2)
			codes := make([]int, 2)
			outs := make([]bytes.Buffer, 2)
			var wg sync.WaitGroup
			for i := range codes {
				cmd := w.command(migrateArgs(sc)...)
				cmd.Stderr = &outs[i]
				wg.Go(func() {
					err := cmd.Run()
					race.Release() // the first to exit is the loser
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						codes[i] = ee.ExitCode()
					} else if err != nil {
						codes[i] = -2
					}
				})
			}
			wg.Wait()
			race.Stop()
			slices.Sort(codes)
			if codes[0] != 0 || codes[1] != exitcode.Conflict {
				t.Fatalf("exit codes %v, want [0 5]:\n%s\n%s", codes, outs[0].String(), outs[1].String())
			}
			loser := outs[0].String()
			if !strings.Contains(loser, "being migrated by another runnet") {
				loser = outs[1].String()
			}
			if !strings.Contains(loser, "being migrated by another runnet") {
				t.Errorf("neither says why it stopped:\n%s\n%s", outs[0].String(), outs[1].String())
			}
			after := w.settled(t, sc.workload)
			if v, _ := stop(); len(v) > 0 {
				t.Errorf("served from revisions that were not ready: %v", v)
			}
			target := *after
			if where, problems := state(before, after, &target); where != "migrated" || len(problems) > 0 {
				t.Errorf("ends %s: %v", where, problems)
			}
		})
	}
}

// SIGINT (or SIGTERM) during the apply rolls back cleanly (exit 6); a second one stops waiting
// for the rollback, keeps the journal and says how to recover (exit 1), and --resume
// --rollback then restores the service.
func TestInterrupts(t *testing.T) {
	sc := scenario{name: "slow", workload: emulator.DemoService, args: []string{"--to", "direct", "--subnet", emulator.DemoDirectSubnet}}
	for _, tc := range []struct {
		name    string
		signals int
		sig     os.Signal
	}{{"one SIGINT", 1, os.Interrupt}, {"one SIGTERM", 1, syscallSIGTERM}, {"two SIGINTs", 2, os.Interrupt}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, sc)
			// Revisions take a while: the interrupts land while runnet waits.
			tm := w.e.Timing()
			tm.RevisionReady = 400 * time.Millisecond
			w.e.SetTiming(tm)
			before := w.read(t, sc.workload)
			stop := w.e.WatchServing()
			cmd := w.command(migrateArgs(sc)...)
			var stderr, stdout bytes.Buffer
			cmd.Stderr, cmd.Stdout = &stderr, &stdout
			var updates atomic.Int32
			var proc atomic.Pointer[os.Process]
			signal := func() {
				time.Sleep(100 * time.Millisecond)
				if p := proc.Load(); p != nil {
					_ = p.Signal(tc.sig)
				}
			}
			w.e.OnCall(func(m string) {
				if !strings.HasSuffix(m, "/UpdateService") {
					return
				}
				switch updates.Add(1) {
				case 1: // the deploy: interrupt while runnet waits for the new revision
					go signal()
				case 2: // the rollback's first change (or its journal): interrupt again
					if tc.signals == 2 {
						go signal()
					}
				}
			})
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			proc.Store(cmd.Process)
			err := cmd.Wait()
			w.e.OnCall(nil)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if tc.signals == 1 {
				if code != exitcode.RolledBack || !strings.Contains(stdout.String(), `"outcome": "rolled-back"`) {
					t.Fatalf("exit %d, want 6:\n%s\n%s", code, stdout.String(), stderr.String())
				}
			} else {
				if code != exitcode.Failure || !strings.Contains(stderr.String(), "runnet migrate --resume run-service --rollback") ||
					!strings.Contains(stdout.String(), "interrupted again") {
					t.Fatalf("exit %d, want 1 and how to recover:\n%s\n%s", code, stdout.String(), stderr.String())
				}
				if w.read(t, sc.workload).Journal() == "" {
					t.Fatal("the journal is gone")
				}
				// The process is gone: its lock is taken over without --break-lock.
				if r := w.runnet("migrate", "--resume", sc.workload, "--rollback", "--yes"); r.code != 0 {
					t.Fatalf("resume: exit %d: %s", r.code, r.stderr)
				}
			}
			after := w.settled(t, sc.workload)
			if v, _ := stop(); len(v) > 0 {
				t.Errorf("served from revisions that were not ready: %v", v)
			}
			target := *after
			target.VPC = egress.VPC{Subnet: "x"} // not the end state: it must be the original
			if where, problems := state(before, after, &target); (where != "original" && where != "restored") || len(problems) > 0 {
				t.Errorf("ends %s: %v", where, problems)
			}
		})
	}
}
