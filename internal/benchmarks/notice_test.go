package benchmarks

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	gax "github.com/googleapis/gax-go/v2"
	compute "google.golang.org/api/compute/v1"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// This file measures how soon an operation's completion is noticed: the time from the moment
// the emulator marks the operation done (its own record of it: a Cloud Run service's Ready
// condition transition, a VPC Access operation's metadata end_time, a Compute operation's
// endTime) to the moment the waiter returns. runnet's waiters (long poll with WaitOperation
// for Cloud Run, Compute's operations.wait, an adaptive poll for VPC Access, which only has
// GetOperation) run side by side with the client libraries' default op.Wait() on operations
// of the same kind, started at the same time.

// noticeSamples is how many operations of each kind each waiter waits for (concurrently).
const noticeSamples = 8

// sample is one waited-for operation.
type sample struct {
	start, done, noticed time.Time
}

func (s sample) lag() time.Duration     { return s.noticed.Sub(s.done) }
func (s sample) elapsed() time.Duration { return s.done.Sub(s.start) }

// lagStats summarises samples.
type lagStats struct {
	mean, max  time.Duration
	meanPct    float64 // mean of lag / elapsed, in percent
	maxPct     float64
	meanElapse time.Duration
}

func stats(ss []sample) lagStats {
	var st lagStats
	var lags, els []time.Duration
	for _, s := range ss {
		lags = append(lags, s.lag())
		els = append(els, s.elapsed())
		pct := 100 * float64(s.lag()) / float64(s.elapsed())
		st.meanPct += pct / float64(len(ss))
		st.maxPct = max(st.maxPct, pct)
		st.max = max(st.max, s.lag())
	}
	st.mean, st.meanElapse = mean(lags), mean(els)
	return st
}

// noticeKind is one kind of operation: how runnet and the client library start and wait for
// operation i, each returning the sample.
type noticeKind struct {
	name  string
	setup func(b *testing.B, e *emulator.Emulator, n int)
	// runnet and library start operation i, call started once the API has accepted it, wait
	// for it and return the sample.
	runnet  func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error)
	library func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error)
	// longPoll is set when the API serves a long poll (target: 1 RTT + 50 ms), else the target
	// is 10% of the elapsed time.
	longPoll bool
	// waitMethods are the methods the waiters call (counted per operation).
	runnetWait, libraryWait string
}

// noticeEnv holds the clients of one benchmark.
type noticeEnv struct {
	e        *emulator.Emulator
	c        *cloud.Clients
	log      *requestLog
	services *run.ServicesClient
	vpc      *vpcaccess.Client
	cs       *compute.Service
}

func BenchmarkOperationNotice(b *testing.B) {
	for _, k := range []noticeKind{runUpdateNotice, connectorCreateNotice, subnetInsertNotice} {
		b.Run(k.name, func(b *testing.B) { benchNotice(b, k) })
	}
}

func benchNotice(b *testing.B, k noticeKind) {
	t := benchTiming()
	e := newEmulator(b, emulator.SeedDemo, t)
	ctx := context.Background()
	env := newNoticeEnv(b, e)
	var ours, theirs []sample
	var ourCalls, theirCalls int
	for b.Loop() {
		b.StopTimer()
		if err := e.Seed(emulator.SeedDemo); err != nil {
			b.Fatal(err)
		}
		withFastTiming(b, e, t, func() { k.setup(b, e, 2*noticeSamples) })
		e.ResetCalls()
		before := len(env.log.Calls())
		b.StartTimer()
		o, l := make([]sample, noticeSamples), make([]sample, noticeSamples)
		errs := make([]error, 2*noticeSamples)
		var wg sync.WaitGroup
		// Operation i of each waiter runs for the kind's duration times 1 + spread*i/n, so
		// that the moments they end fall at every phase of a polling waiter's schedule.
		// The operations start one after the other (each keeps the duration set when it was
		// accepted) and then run together.
		for i := range noticeSamples {
			f := 1 + noticeSpread*float64(i)/noticeSamples
			setTiming(e, timing{Latency: t.Latency, LRO: time.Duration(float64(t.LRO) * f), Ready: time.Duration(float64(t.Ready) * f)})
			launch(&wg, func(started func()) (err error) { o[i], err = k.runnet(ctx, env, i, started); return err }, &errs[i])
			launch(&wg, func(started func()) (err error) {
				l[i], err = k.library(ctx, env, noticeSamples+i, started)
				return err
			}, &errs[noticeSamples+i])
		}
		setTiming(e, t)
		wg.Wait()
		b.StopTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		ours, theirs = append(ours, o...), append(theirs, l...)
		calls := e.Calls()
		ourWaits := countCalls(env.log.Calls()[before:])[k.runnetWait]
		ourCalls += ourWaits
		theirCalls += calls[k.libraryWait] - ourWaitsOf(k, ourWaits)
		b.StartTimer()
	}
	so, st := stats(ours), stats(theirs)
	b.ReportMetric(round(ms(so.mean), 1), "lag_ms")
	b.ReportMetric(round(ms(so.max), 1), "max_lag_ms")
	b.ReportMetric(round(ms(st.mean), 1), "lib_lag_ms")
	b.ReportMetric(round(ms(st.max), 1), "lib_max_lag_ms")
	if so.mean > 0 {
		b.ReportMetric(round(float64(st.mean)/float64(so.mean), 1), "lib_lag_x")
	}
	if k.longPoll {
		b.ReportMetric(round(ms(t.Latency+50*time.Millisecond), 1), "target_ms")
	} else {
		b.ReportMetric(round(so.meanPct, 2), "lag_pct")
		b.ReportMetric(round(so.maxPct, 2), "max_lag_pct")
		b.ReportMetric(round(st.meanPct, 2), "lib_lag_pct")
		b.ReportMetric(10, "target_pct")
	}
	n := float64(len(ours))
	b.ReportMetric(round(float64(ourCalls)/n, 1), "waits/op")
	b.ReportMetric(round(float64(theirCalls)/n, 1), "lib_polls/op")
	b.ReportMetric(round(secs(so.meanElapse), 2), "op_s")
	b.ReportMetric(0, "ns/op")
	b.Logf("%s (%s): runnet notices in %.1f ms on average (max %.1f), the client library's op.Wait() in %.1f ms (max %.1f); %d operations each",
		k.name, t, ms(so.mean), ms(so.max), ms(st.mean), ms(st.max), len(ours))
}

// noticeSpread spreads the operations' durations over 20% of the kind's duration: two poll
// intervals of runnet's adaptive poll (a tenth of the time waited).
const noticeSpread = 0.2

// launch runs fn in a goroutine of wg, storing its error in errp, and returns once fn has
// called started (its operation was accepted) or has returned.
func launch(wg *sync.WaitGroup, fn func(started func()) error, errp *error) {
	accepted := make(chan struct{})
	var once sync.Once
	started := func() { once.Do(func() { close(accepted) }) }
	wg.Go(func() {
		defer started()
		*errp = fn(started)
	})
	<-accepted
}

// ourWaitsOf is how many of the library's counted calls were runnet's (when both call the
// same method: VPC Access's GetOperation).
func ourWaitsOf(k noticeKind, ours int) int {
	if k.runnetWait == k.libraryWait {
		return ours
	}
	return 0
}

func newNoticeEnv(b *testing.B, e *emulator.Emulator) *noticeEnv {
	ctx := context.Background()
	log := &requestLog{}
	env := &noticeEnv{e: e, log: log, c: cloud.New(ctx, cloud.Config{EmulatorHost: e.Addr(), Log: log})}
	b.Cleanup(func() { _ = env.c.Close() })
	var err error
	if env.services, err = run.NewServicesClient(ctx, e.ClientOptions()...); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.services.Close() })
	if env.vpc, err = vpcaccess.NewClient(ctx, e.ClientOptions()...); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.vpc.Close() })
	if env.cs, err = compute.NewService(ctx, e.ComputeClientOptions()...); err != nil {
		b.Fatal(err)
	}
	return env
}

var opIDRE = regexp.MustCompile(`\(operation ([^)\s]+)\)`)

// opIDFrom captures the operation id runnet's progress message names.
type opIDFrom struct {
	mu sync.Mutex
	id string
}

func (o *opIDFrom) progress(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m := opIDRE.FindStringSubmatch(msg); m != nil && o.id == "" {
		o.id = m[1]
	}
}

func (o *opIDFrom) get() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.id
}

// ---------------------------------------------------------------------------------------
// Cloud Run: UpdateService with a new revision, noticed through WaitOperation (runnet) or
// op.Wait() (GetOperation with a 1 s to 60 s jittered backoff).

func noticeService(i int) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/notice-%02d", emulator.DemoProject, emulator.DemoRegion, i)
}

var runUpdateNotice = noticeKind{
	name: "run-update-service", longPoll: true,
	runnetWait: "google.longrunning.Operations/WaitOperation", libraryWait: "google.longrunning.Operations/GetOperation",
	setup: func(b *testing.B, e *emulator.Emulator, n int) {
		ctx := context.Background()
		cl, err := run.NewServicesClient(ctx, e.ClientOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		names := make([]string, n)
		for i := range n {
			names[i] = noticeService(i)
		}
		if err := harness.CreateServices(ctx, cl, names, nil); err != nil {
			b.Fatal(err)
		}
	},
	runnet: func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error) {
		ref, err := egress.ParseWorkloadRef(noticeService(i), "", "")
		if err != nil {
			return sample{}, err
		}
		p := &cloud.Platform{C: env.c, Progress: func(egress.WorkloadRef, string) { started() }}
		cur, err := p.GetWorkload(ctx, ref)
		if err != nil {
			return sample{}, err
		}
		conn := fmt.Sprintf("projects/%s/locations/%s/connectors/%s", emulator.DemoProject, emulator.DemoRegion, emulator.DemoConnector)
		var s sample
		s.start = time.Now()
		if _, err := p.Update(ctx, cur, egress.Update{VPC: &egress.VPC{Connector: conn, Egress: egress.EgressPrivateRangesOnly}}); err != nil {
			return s, err
		}
		s.noticed = time.Now()
		s.done, err = serviceReadyAt(ctx, env.services, noticeService(i))
		return s, err
	},
	library: func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error) {
		svc, err := env.services.GetService(ctx, &runpb.GetServiceRequest{Name: noticeService(i)})
		if err != nil {
			return sample{}, err
		}
		svc.Template.Containers[0].Env = append(svc.Template.Containers[0].Env,
			&runpb.EnvVar{Name: "NOTICE", Values: &runpb.EnvVar_Value{Value: "1"}})
		var s sample
		s.start = time.Now()
		op, err := env.services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
		if err != nil {
			return s, err
		}
		started()
		if _, err := op.Wait(ctx); err != nil {
			return s, err
		}
		s.noticed = time.Now()
		s.done, err = serviceReadyAt(ctx, env.services, noticeService(i))
		return s, err
	},
}

// serviceReadyAt is when the emulator marked the service's last change done: the last
// transition of its Ready (terminal) condition.
func serviceReadyAt(ctx context.Context, cl *run.ServicesClient, name string) (time.Time, error) {
	svc, err := cl.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		return time.Time{}, err
	}
	c := svc.GetTerminalCondition()
	if c.GetState() != runpb.Condition_CONDITION_SUCCEEDED || c.GetLastTransitionTime() == nil {
		return time.Time{}, fmt.Errorf("service %s is not Ready: %v", name, c)
	}
	return c.GetLastTransitionTime().AsTime(), nil
}

// ---------------------------------------------------------------------------------------
// VPC Access: CreateConnector, noticed by runnet's adaptive GetOperation poll or op.Wait().

func noticeConnector(i int) egress.ConnectorRef {
	return egress.ConnectorRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: fmt.Sprintf("notice-%02d", i)}
}

func noticeConnectorRange(i int) string { return fmt.Sprintf("10.31.%d.0/28", i) }

var connectorCreateNotice = noticeKind{
	name: "vpcaccess-create-connector", longPoll: false,
	runnetWait: "google.longrunning.Operations/GetOperation", libraryWait: "google.longrunning.Operations/GetOperation",
	setup: func(*testing.B, *emulator.Emulator, int) {},
	runnet: func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error) {
		ref := noticeConnector(i)
		var id opIDFrom
		var s sample
		s.start = time.Now()
		_, err := env.c.CreateConnector(ctx, cloud.ConnectorSpec{Ref: ref, Network: emulator.DemoNetwork, IPCIDRRange: noticeConnectorRange(i)},
			cloud.WaitOptions{Progress: func(msg string) { id.progress(msg); started() }})
		if err != nil {
			return s, err
		}
		s.noticed = time.Now()
		op, err := env.vpc.LROClient.GetOperation(ctx, &longrunningpb.GetOperationRequest{
			Name: fmt.Sprintf("projects/%s/locations/%s/operations/%s", ref.Project, ref.Region, id.get())})
		if err != nil {
			return s, err
		}
		md := &vpcaccesspb.OperationMetadata{}
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			return s, err
		}
		s.done = md.GetEndTime().AsTime()
		return s, nil
	},
	library: func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error) {
		ref := noticeConnector(i)
		var s sample
		s.start = time.Now()
		op, err := env.vpc.CreateConnector(ctx, &vpcaccesspb.CreateConnectorRequest{
			Parent: "projects/" + ref.Project + "/locations/" + ref.Region, ConnectorId: ref.Name,
			Connector: &vpcaccesspb.Connector{Network: emulator.DemoNetwork, IpCidrRange: noticeConnectorRange(i), MinInstances: 2, MaxInstances: 10, MachineType: "e2-micro"},
		})
		if err != nil {
			return s, err
		}
		started()
		if _, err := op.Wait(ctx); err != nil {
			return s, err
		}
		s.noticed = time.Now()
		md, err := op.Metadata()
		if err != nil {
			return s, err
		}
		s.done = md.GetEndTime().AsTime()
		return s, nil
	},
}

// ---------------------------------------------------------------------------------------
// Compute: subnetworks.insert, noticed by runnet's regionOperations.wait or by the loop of
// cloud.google.com/go/compute/apiv1's Operation.Wait (regionOperations.get with a jittered
// gax.Backoff{Initial: 1s, Max: 1m}), reproduced here because runnet does not depend on that
// module.

func noticeSubnet(i int) egress.SubnetRef {
	return egress.SubnetRef{Project: emulator.DemoProject, Region: emulator.DemoRegion, Name: fmt.Sprintf("notice-%02d", i)}
}

func noticeSubnetRange(i int) string { return fmt.Sprintf("10.33.%d.0/24", i) }

var subnetInsertNotice = noticeKind{
	name: "compute-subnetworks-insert", longPoll: true,
	runnetWait: "compute.regionOperations.wait", libraryWait: "compute.regionOperations.get",
	setup: func(*testing.B, *emulator.Emulator, int) {},
	runnet: func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error) {
		ref := noticeSubnet(i)
		var id opIDFrom
		var s sample
		s.start = time.Now()
		// CreateSubnet reads the subnet back after the wait; the waiter's return is when the
		// last operations.wait of this operation answered DONE, from the request log.
		if _, err := env.c.CreateSubnet(ctx, cloud.SubnetSpec{Ref: ref, Network: emulator.DemoNetwork, IPCIDRRange: noticeSubnetRange(i)},
			cloud.WaitOptions{Progress: func(msg string) { id.progress(msg); started() }}); err != nil {
			return s, err
		}
		opName := id.get()
		for _, c := range env.log.Calls() {
			if c.Method == "compute.regionOperations.wait" && strings.Contains(c.Target, "/operations/"+opName+"/wait") {
				s.noticed = maxTime(s.noticed, c.End)
			}
		}
		if s.noticed.IsZero() {
			return s, fmt.Errorf("no operations.wait of %s in the request log", opName)
		}
		op, err := env.cs.RegionOperations.Get(ref.Project, ref.Region, opName).Context(ctx).Do()
		if err != nil {
			return s, err
		}
		s.done, err = time.Parse(time.RFC3339Nano, op.EndTime)
		return s, err
	},
	library: func(ctx context.Context, env *noticeEnv, i int, started func()) (sample, error) {
		ref := noticeSubnet(i)
		var s sample
		s.start = time.Now()
		op, err := env.cs.Subnetworks.Insert(ref.Project, ref.Region, &compute.Subnetwork{
			Name: ref.Name, Network: "projects/" + ref.Project + "/global/networks/" + emulator.DemoNetwork, IpCidrRange: noticeSubnetRange(i),
		}).Context(ctx).Do()
		if err != nil {
			return s, err
		}
		started()
		bo := gax.Backoff{Initial: time.Second, Max: time.Minute}
		for op.Status != "DONE" {
			if err := gax.Sleep(ctx, bo.Pause()); err != nil {
				return s, err
			}
			if op, err = env.cs.RegionOperations.Get(ref.Project, ref.Region, op.Name).Context(ctx).Do(); err != nil {
				return s, err
			}
		}
		s.noticed = time.Now()
		s.done, err = time.Parse(time.RFC3339Nano, op.EndTime)
		return s, err
	},
}

// ---------------------------------------------------------------------------------------
// Building worlds.
