package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"github.com/rogpeppe/go-internal/testscript"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

const emuKey = "emulator"

// ScriptParams are the testscript parameters of runnet's txtar scripts in dir. Each script
// starts a fresh emulator with opts (Scripts, usually), points runnet at it
// (RUNNET_EMULATOR_HOST) with a gcloud configuration and a home of its own, plus what setenv
// adds; scripts run runnet as a process ("exec runnet ..."; the test's TestMain provides it)
// and have these commands: emu (the emulator's control surface), api (a resource as the API
// returns it), exits (a program's exit status) and deploy (a workload made through the API).
func ScriptParams(dir string, opts emulator.Options, setenv func(env *testscript.Env)) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			e, err := emulator.New(opts)
			if err != nil {
				return err
			}
			if err := e.Start("127.0.0.1:0"); err != nil {
				return err
			}
			env.Defer(func() { _ = e.Close() })
			env.Values[emuKey] = e
			// Start serves in the background: wait for its address.
			for deadline := time.Now().Add(5 * time.Second); e.Addr() == "" && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			env.Setenv(EnvEmulatorHost, e.Addr())
			env.Setenv("CLOUDSDK_CONFIG", env.WorkDir+"/gcloud")
			env.Setenv("HOME", env.WorkDir)
			if setenv != nil {
				setenv(env)
			}
			return nil
		},
		Cmds: ScriptCmds(),
	}
}

// ScriptCmds are the commands ScriptParams gives scripts. exits needs no emulator.
func ScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"emu":    cmdEmu,
		"api":    cmdAPI,
		"exits":  cmdExits,
		"deploy": cmdDeploy,
	}
}

// ScriptEmulator is the emulator of a script started by ScriptParams.
func ScriptEmulator(ts *testscript.TestScript) *emulator.Emulator {
	return ts.Value(emuKey).(*emulator.Emulator)
}

// cmdEmu drives the emulator's control surface:
//
//	emu seed empty|demo
//	emu fault METHOD=CODE[:COUNT]
//	emu clearfaults
//	emu advance DURATION
//	emu expire
//	emu scale-revision REVISION N
//	emu timing LRO REVISION_READY
//	emu calls METHOD N        (asserts the emulator saw N calls of METHOD)
//	emu fault-skip N SPEC     (a fault that lets N matching calls through first)
//	emu scale-latest SERVICE N (scales the service's latest ready revision)
//	emu create-connector NAME NETWORK RANGE (through the API, as gcloud would: no runnet
//	                          checks; a range that overlaps leaves it in ERROR)
func cmdEmu(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("emu does not support !")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: emu VERB ...")
	}
	e := ScriptEmulator(ts)
	switch args[0] {
	case "seed":
		ts.Check(e.Seed(args[1]))
	case "fault":
		f, err := emulator.ParseFault(args[1])
		ts.Check(err)
		e.InjectFault(f)
	case "clearfaults":
		e.ClearFaults()
	case "advance":
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		e.Advance(d)
	case "expire":
		e.ExpireReservations()
	case "scale-revision":
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		ts.Check(e.ScaleRevision(args[1], n))
	case "timing":
		lro, err := time.ParseDuration(args[1])
		ts.Check(err)
		ready, err := time.ParseDuration(args[2])
		ts.Check(err)
		t := e.Timing()
		t.LRODuration, t.RevisionReady = lro, ready
		e.SetTiming(t)
	case "fault-skip":
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		f, err := emulator.ParseFault(args[2])
		ts.Check(err)
		f.Skip = n
		e.InjectFault(f)
	case "scale-latest":
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		ts.Check(ScaleLatest(e, args[1], n))
	case "create-connector":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := vpcaccess.NewClient(ctx, e.ClientOptions()...)
		ts.Check(err)
		defer c.Close()
		op, err := c.CreateConnector(ctx, &vpcaccesspb.CreateConnectorRequest{
			Parent: "projects/" + Project + "/locations/" + Region, ConnectorId: args[1],
			Connector: &vpcaccesspb.Connector{Network: args[2], IpCidrRange: args[3], MaxInstances: 3}})
		ts.Check(err)
		_, _ = op.Wait(ctx) // an overlapping range fails here, and the connector stays in ERROR
	case "calls":
		want, err := strconv.Atoi(args[2])
		ts.Check(err)
		if got := e.Calls()[args[1]]; got != want {
			ts.Fatalf("emulator saw %d calls of %s, want %d", got, args[1], want)
		}
	default:
		ts.Fatalf("unknown emu verb %q", args[0])
	}
}

// cmdAPI fetches a resource from the emulator through the real client libraries and writes it
// to stdout as JSON, so scripts can assert the API state a command left behind:
//
//	api service NAME | api job NAME | api workerpool NAME | api connector NAME
//	api subnet NAME | api network NAME | api revisions SERVICE
//
// Resources are looked up in the demo project and region. "! api ..." asserts it is missing.
func cmdAPI(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: api KIND NAME")
	}
	e := ScriptEmulator(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	loc := "projects/" + Project + "/locations/" + Region
	var msg proto.Message
	var plain any
	var err error
	switch args[0] {
	case "service":
		var c *run.ServicesClient
		if c, err = run.NewServicesClient(ctx, e.ClientOptions()...); err == nil {
			defer c.Close()
			msg, err = c.GetService(ctx, &runpb.GetServiceRequest{Name: loc + "/services/" + args[1]})
		}
	case "job":
		var c *run.JobsClient
		if c, err = run.NewJobsClient(ctx, e.ClientOptions()...); err == nil {
			defer c.Close()
			msg, err = c.GetJob(ctx, &runpb.GetJobRequest{Name: loc + "/jobs/" + args[1]})
		}
	case "workerpool":
		var c *run.WorkerPoolsClient
		if c, err = run.NewWorkerPoolsClient(ctx, e.ClientOptions()...); err == nil {
			defer c.Close()
			msg, err = c.GetWorkerPool(ctx, &runpb.GetWorkerPoolRequest{Name: loc + "/workerPools/" + args[1]})
		}
	case "revisions":
		var c *run.RevisionsClient
		if c, err = run.NewRevisionsClient(ctx, e.ClientOptions()...); err == nil {
			defer c.Close()
			resp := &runpb.ListRevisionsResponse{}
			it := c.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: loc + "/services/" + args[1]})
			for {
				r, ierr := it.Next()
				if ierr != nil {
					if ierr != iterator.Done {
						err = ierr
					}
					break
				}
				resp.Revisions = append(resp.Revisions, r)
			}
			msg = resp
		}
	case "connector":
		var c *vpcaccess.Client
		if c, err = vpcaccess.NewClient(ctx, e.ClientOptions()...); err == nil {
			defer c.Close()
			msg, err = c.GetConnector(ctx, &vpcaccesspb.GetConnectorRequest{Name: loc + "/connectors/" + args[1]})
		}
	case "subnet", "network":
		var cs *compute.Service
		if cs, err = compute.NewService(ctx, e.ComputeClientOptions()...); err == nil {
			if args[0] == "subnet" {
				plain, err = cs.Subnetworks.Get(Project, Region, args[1]).Views("WITH_UTILIZATION").Context(ctx).Do()
			} else {
				plain, err = cs.Networks.Get(Project, args[1]).Context(ctx).Do()
			}
		}
	default:
		ts.Fatalf("unknown api kind %q", args[0])
	}
	if neg {
		if err == nil {
			ts.Fatalf("api %s %s: exists, want an error", args[0], args[1])
		}
		ts.Logf("api %s %s: %v (as expected)", args[0], args[1], err)
		return
	}
	if err != nil {
		ts.Fatalf("api %s %s: %v", args[0], args[1], err)
	}
	var b []byte
	if msg != nil {
		// protojson varies its white space on purpose; re-indent so scripts can match
		// `"key": value` exactly.
		var raw []byte
		if raw, err = protojson.Marshal(msg); err == nil {
			var buf bytes.Buffer
			err = json.Indent(&buf, raw, "", "  ")
			b = buf.Bytes()
		}
	} else {
		b, err = json.MarshalIndent(plain, "", "  ")
	}
	ts.Check(err)
	_, _ = ts.Stdout().Write([]byte(strings.TrimSpace(string(b)) + "\n"))
}

// cmdExits runs a program as exec does and checks its exit status:
//
//	exits CODE PROGRAM [ARGS...]
//
// so scripts can tell exit codes apart (2: bad input, 5: conflict, ...). Its stdout and
// stderr can be checked afterwards as exec's.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdDeploy creates a Cloud Run workload in the emulator through the real client, for
// scenarios that need workloads the demo seed lacks:
//
//	deploy service|job NAME [region=R] [max=N] [connector=C] [network=N] [subnet=S] [egress=all-traffic]
//
// The region defaults to the demo's; connector, network and subnet are short names or paths
// as the API takes them. It returns once the API has accepted the creation.
func cmdDeploy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: deploy service|job NAME [region=R] [max=N] [connector=C] [network=N] [subnet=S] [egress=all-traffic]")
	}
	opts := map[string]string{"region": Region}
	for _, a := range args[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("deploy: %q is not KEY=VALUE", a)
		}
		opts[k] = v
	}
	maxN := 0
	if v, ok := opts["max"]; ok {
		n, err := strconv.Atoi(v)
		ts.Check(err)
		maxN = n
	}
	ts.Check(DeployWorkload(context.Background(), ScriptEmulator(ts).Addr(), args[0], args[1], opts["region"], maxN, VPCAccess(opts)))
}
