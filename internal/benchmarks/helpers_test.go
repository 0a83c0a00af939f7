package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/cli"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// ---------------------------------------------------------------------------------------
// Emulator settings.

// timing is the emulator's delays for a benchmark.
type timing struct {
	// Latency is added to every call before it is served: one round trip (RTT).
	Latency time.Duration
	// LRO is how long VPC Access and Compute operations run.
	LRO time.Duration
	// Ready is how long a Cloud Run revision takes to become Ready; every UpdateService
	// operation (a traffic change too) ends one Ready after it was accepted.
	Ready time.Duration
}

// realistic is the emulator's setting for every benchmark: Google's control-plane round trip
// from a nearby region is 20-100 ms; a connector or subnetwork operation takes seconds (tens
// on the real platform); a revision becomes Ready in seconds. The figures are scaled down from
// the real platform's so that the full suite runs in a few minutes; they keep their order of
// magnitude relative to each other (an operation is 100x an RTT; a revision rollout 1.5x an
// operation).
var realistic = timing{Latency: 20 * time.Millisecond, LRO: 2 * time.Second, Ready: 3 * time.Second}

// benchTiming is realistic, scaled down tenfold with -short (the CI form).
func benchTiming() timing {
	if testing.Short() {
		return timing{Latency: realistic.Latency / 10, LRO: realistic.LRO / 10, Ready: realistic.Ready / 10}
	}
	return realistic
}

func (t timing) String() string {
	return fmt.Sprintf("latency %v, LRO %v, revision-ready %v", t.Latency, t.LRO, t.Ready)
}

// fast is the setting used while a world is being built (not measured).
var fast = emulator.Timing{LRODuration: time.Millisecond, RevisionReady: time.Millisecond, IPRelease: emulator.DefaultIPRelease}

// newEmulator starts an emulator on loopback with seed and t; it is closed when tb ends.
func newEmulator(tb testing.TB, seed string, t timing) *emulator.Emulator {
	tb.Helper()
	return harness.StartEmulator(tb, emulator.Options{Seed: seed, Latency: t.Latency, LRODuration: t.LRO, RevisionReady: t.Ready})
}

// setTiming sets the emulator's delays (the IP release delay stays the default).
func setTiming(e *emulator.Emulator, t timing) {
	e.SetTiming(emulator.Timing{Latency: t.Latency, LRODuration: t.LRO, RevisionReady: t.Ready, IPRelease: emulator.DefaultIPRelease})
}

// withFastTiming runs build with the emulator's delays at their minimum, then restores t.
func withFastTiming(tb testing.TB, e *emulator.Emulator, t timing, build func()) {
	tb.Helper()
	e.SetTiming(fast)
	defer setTiming(e, t)
	build()
}

// ---------------------------------------------------------------------------------------
// Running runnet in-process, with its request log.

// call is one API call runnet made, from its --verbose request log: the log line is written
// when the response arrives, with the call's duration, so the start is end - duration
// (to the millisecond the log rounds to).
type call struct {
	Method string
	// Target is the URL of a REST call.
	Target     string
	Start, End time.Time
}

func (c call) Duration() time.Duration { return c.End.Sub(c.Start) }

// requestLog is an io.Writer for runnet's stderr that timestamps the request log lines
// ("rpc METHOD CODE DURATION", "http VERB URL STATUS DURATION") as they are written and keeps
// the other lines.
type requestLog struct {
	mu    sync.Mutex
	calls []call
	other bytes.Buffer
	part  []byte
}

// computePathRE splits a Compute URL path after /compute/v1/projects/P/: an optional
// regions/R/ or global/, the collection, the resource name and a custom verb.
var computePathRE = regexp.MustCompile(`/compute/v1/projects/[^/]+/(regions/[^/]+/|global/|aggregated/)?([a-zA-Z]+)(?:/([^/?]+))?(?:/([a-zA-Z]+))?`)

// computeMethod names a Compute REST call as the API's method ids do
// (compute.subnetworks.get, compute.regionOperations.wait).
func computeMethod(verb, url string) string {
	m := computePathRE.FindStringSubmatch(url)
	if m == nil {
		return "compute " + verb
	}
	coll := m[2]
	if coll == "operations" {
		if strings.HasPrefix(m[1], "regions/") {
			coll = "regionOperations"
		} else {
			coll = "globalOperations"
		}
	}
	op := ""
	switch {
	case m[1] == "aggregated/":
		op = "aggregatedList"
	case m[4] != "":
		op = m[4]
	case m[3] == "" && verb == "GET":
		op = "list"
	case m[3] == "" && verb == "POST":
		op = "insert"
	default:
		op = map[string]string{"GET": "get", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}[verb]
	}
	return "compute." + coll + "." + op
}

func (l *requestLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		line := string(l.part[:i])
		l.part = l.part[i+1:]
		if c, ok := parseLogLine(line, now); ok {
			l.calls = append(l.calls, c)
		} else {
			l.other.WriteString(line + "\n")
		}
	}
	return len(p), nil
}

func parseLogLine(line string, end time.Time) (call, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || (f[0] != "rpc" && f[0] != "http") {
		return call{}, false
	}
	d, err := time.ParseDuration(f[len(f)-1])
	if err != nil {
		return call{}, false
	}
	c := call{Method: f[1], Start: end.Add(-d), End: end}
	if f[0] == "http" {
		c.Method, c.Target = computeMethod(f[1], f[2]), f[2]
	}
	return c, true
}

func (l *requestLog) Calls() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (l *requestLog) Other() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.other.String()
}

// cliResult is one in-process run of runnet.
type cliResult struct {
	Code   int
	Stdout []byte
	Log    *requestLog
	Wall   time.Duration
}

// runCLI runs `runnet args...` in-process (the real command code, from flag parsing to the
// printed report) against the emulator at addr, with --verbose so that every API call is in
// the request log.
func runCLI(ctx context.Context, addr string, args ...string) cliResult {
	log := &requestLog{}
	env := map[string]string{
		cli.EnvEmulatorHost:     addr,
		"CLOUDSDK_CORE_PROJECT": emulator.DemoProject,
		"CLOUDSDK_RUN_REGION":   emulator.DemoRegion,
	}
	main := func(ctx context.Context, streams *iostreams.IOStreams, getenv func(string) string, args []string) int {
		return cli.ExecuteFactory(ctx, cli.NewFactory(streams, getenv), args)
	}
	start := time.Now()
	r := harness.RunMain(ctx, main, func(k string) string { return env[k] }, harness.RunOptions{Stderr: log, Timeout: time.Hour}, append(args, "--verbose")...)
	return cliResult{Code: r.Code, Stdout: []byte(r.Stdout), Log: log, Wall: time.Since(start)}
}

// ---------------------------------------------------------------------------------------
// Analysis of a request log.

// dependentChain is the longest chain of calls of which each started after the previous one
// ended (within tol, the log's rounding): the round trips runnet made one after another.
// It returns the chain in order.
func dependentChain(calls []call, tol time.Duration) []call {
	cs := slices.Clone(calls)
	slices.SortFunc(cs, func(a, b call) int { return a.End.Compare(b.End) })
	best := make([]int, len(cs))
	prev := make([]int, len(cs))
	top := -1
	for i, c := range cs {
		best[i], prev[i] = 1, -1
		for j := range i {
			if !cs[j].End.After(c.Start.Add(tol)) && best[j]+1 > best[i] {
				best[i], prev[i] = best[j]+1, j
			}
		}
		if top < 0 || best[i] > best[top] || best[i] == best[top] && c.End.After(cs[top].End) {
			top = i
		}
	}
	var chain []call
	for i := top; i >= 0; i = prev[i] {
		chain = append(chain, cs[i])
	}
	slices.Reverse(chain)
	return chain
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// countCalls counts calls per method.
func countCalls(calls []call) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		m[c.Method]++
	}
	return m
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// describeChain renders a chain as "GetService 21ms -> ...".
func describeChain(chain []call) string {
	parts := make([]string, 0, len(chain))
	for _, c := range chain {
		m := c.Method
		if i := strings.LastIndexByte(m, '/'); i >= 0 {
			m = m[i+1:]
		}
		parts = append(parts, fmt.Sprintf("%s %v", m, c.Duration().Round(time.Millisecond)))
	}
	return strings.Join(parts, " -> ")
}

// describeCounts renders call counts sorted by method.
func describeCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		short := k
		if i := strings.LastIndexByte(k, '.'); i >= 0 && strings.Contains(k, "/") {
			short = k[i+1:]
		}
		parts = append(parts, fmt.Sprintf("%s=%d", short, m[k]))
	}
	return strings.Join(parts, " ")
}

// ---------------------------------------------------------------------------------------
// Statistics.

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t / time.Duration(len(ds))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func secs(d time.Duration) float64 { return d.Seconds() }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// ---------------------------------------------------------------------------------------
// The release binary.

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// releaseBinary builds runnet as the release does (.goreleaser.yaml: CGO_ENABLED=0,
// -trimpath, -ldflags "-s -w") once per test process, with extra build tags when given, and
// returns its path. With -short (CI) it leaves out -trimpath, which would recompile every
// package: the binary is then a few hundred KB larger (file paths) and otherwise the same.
func releaseBinary(tb testing.TB, tags string) string {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "runnet-bench-")
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	name := "runnet"
	if tags != "" {
		name += "-" + strings.ReplaceAll(tags, ",", "-")
	}
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	path := filepath.Join(buildDir, name)
	builtMu.Lock()
	defer builtMu.Unlock()
	if built[path] {
		return path
	}
	args := []string{"build", "-ldflags", "-s -w", "-o", path}
	if !testing.Short() {
		args = append(args, "-trimpath")
	}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "github.com/runnet-dev/runnet/cmd/runnet")
	cmd := exec.Command(goTool(), args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	built[path] = true
	return path
}

var (
	builtMu sync.Mutex
	built   = map[string]bool{}
)

// goTool is the go command: the one `go test` runs (it puts its GOROOT's bin first in PATH).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// TestMain removes the binaries built for the benchmarks. Started with spawnEnv set, the
// test binary is instead the small parent of one measured command (see measure).
func TestMain(m *testing.M) {
	if path := os.Getenv(spawnEnv); path != "" {
		os.Exit(spawn(path, os.Args[1:]))
	}
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// spawnEnv names the file where a spawning test binary writes its measurement.
const spawnEnv = "RUNNET_BENCH_SPAWN_REPORT"

// measurement is what spawn reports about the command it ran.
type measurement struct {
	WallNS int64 `json:"wallNs"`
	// MaxRSS is the command's peak resident set size in bytes.
	MaxRSS int64 `json:"maxRss"`
	// ParentRSS is the spawning process's own peak RSS (VmHWM; 0 where /proc is missing): a
	// floor under MaxRSS (see measure).
	ParentRSS int64 `json:"parentRss"`
	// CPUNS is the command's user and system CPU time.
	CPUNS int64 `json:"cpuNs"`
	Code  int   `json:"code"`
}

// spawn runs args (a command and its arguments) with the process's standard streams, and
// writes its wall time and peak memory to path.
func spawn(path string, args []string) int {
	if len(args) == 0 {
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, spawnEnv+"=") })
	parent := selfPeakRSS()
	start := time.Now()
	err := cmd.Run()
	m := measurement{WallNS: int64(time.Since(start)), ParentRSS: parent, Code: cmd.ProcessState.ExitCode()}
	if cmd.ProcessState != nil {
		m.MaxRSS = maxRSS(cmd.ProcessState)
		m.CPUNS = int64(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	}
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// measure runs bin with args and env (added to this process's environment) and returns its
// wall time, peak memory, stdout and stderr. The command is started by a fresh copy of the
// test binary, not by this process: on Linux, Go starts children with vfork (CLONE_VM), and
// the kernel then counts the parent's memory high-water mark in the child's ru_maxrss, so a
// benchmark process holding an emulator would inflate it. The fresh copy holds little (its
// own peak is reported as ParentRSS, a floor under MaxRSS).
func measure(bin string, env []string, args ...string) (measurement, []byte, []byte, error) {
	report, err := os.CreateTemp("", "runnet-bench-spawn-")
	if err != nil {
		return measurement{}, nil, nil, err
	}
	_ = report.Close()
	defer os.Remove(report.Name())
	self, err := os.Executable()
	if err != nil {
		return measurement{}, nil, nil, err
	}
	cmd := exec.Command(self, append([]string{bin}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), spawnEnv+"="+report.Name())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return measurement{}, out.Bytes(), errOut.Bytes(), fmt.Errorf("spawn %s: %w\n%s", filepath.Base(bin), err, errOut.String())
	}
	b, err := os.ReadFile(report.Name())
	if err != nil {
		return measurement{}, nil, nil, err
	}
	var m measurement
	if err := json.Unmarshal(b, &m); err != nil {
		return measurement{}, nil, nil, err
	}
	if m.Code != 0 {
		return m, out.Bytes(), errOut.Bytes(), fmt.Errorf("%s %s exited %d\n%s", filepath.Base(bin), strings.Join(args, " "), m.Code, errOut.String())
	}
	return m, out.Bytes(), errOut.Bytes(), nil
}

// maxRSS is a finished process's peak resident set size in bytes (getrusage's ru_maxrss:
// KiB on Linux, bytes on macOS).
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss
	}
	return ru.Maxrss * 1024
}

// selfPeakRSS is the peak resident set size of this process's own memory, in bytes: VmHWM
// from /proc/self/status (getrusage's maxrss would include the memory of the process that
// started this one, for the reason measure gives). 0 where /proc is missing.
func selfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// ---------------------------------------------------------------------------------------
// Output of runnet.

// outcomes returns the outcome of every workload in a migrate report (one report, or a
// fleet's {workloads: [...]}).
func outcomes(stdout []byte) (map[string]string, error) {
	var one struct {
		Workload string `json:"workload"`
		Outcome  string `json:"outcome"`
	}
	var fleet struct {
		Workloads []struct {
			Workload string `json:"workload"`
			Outcome  string `json:"outcome"`
		} `json:"workloads"`
	}
	out := map[string]string{}
	if err := json.Unmarshal(stdout, &fleet); err == nil && fleet.Workloads != nil {
		for _, w := range fleet.Workloads {
			out[w.Workload] = w.Outcome
		}
		return out, nil
	}
	if err := json.Unmarshal(stdout, &one); err != nil {
		return nil, fmt.Errorf("decode the report: %w", err)
	}
	out[one.Workload] = one.Outcome
	return out, nil
}

// mustMigrate fails tb unless every workload of r ended "migrated" (n of them).
func mustMigrate(tb testing.TB, r cliResult, n int) {
	tb.Helper()
	if r.Code != 0 {
		tb.Fatalf("runnet exited %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Log.Other())
	}
	got, err := outcomes(r.Stdout)
	if err != nil {
		tb.Fatal(err)
	}
	if len(got) != n {
		tb.Fatalf("%d workloads in the report, want %d:\n%s", len(got), n, r.Stdout)
	}
	for w, o := range got {
		if o != "migrated" {
			tb.Fatalf("%s: outcome %q, want migrated\n%s", w, o, r.Stdout)
		}
	}
}
