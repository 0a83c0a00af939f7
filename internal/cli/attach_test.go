package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/harness"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

const (
	tProject = "demo-project"
	tRegion  = "asia-northeast1"
	tConn    = "projects/demo-project/locations/asia-northeast1/connectors/run-connector"
	tNet     = "projects/demo-project/global/networks/run-vpc"
	tSubnet  = "projects/demo-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress"
)

// runStubbed runs runnet with the command named name replaced by one built with mk (whose
// runF records the options instead of running), in a hermetic environment with a default
// project and region.
func runStubbed(t *testing.T, name string, mk func(*Factory) *cobra.Command, args ...string) result {
	t.Helper()
	main := withCommand(func(f *Factory, root *cobra.Command) { replaceCommand(root, name, mk(f)) })
	return harness.RunMain(context.Background(), main, harness.Hermetic(t, "CLOUDSDK_CORE_PROJECT", tProject, "CLOUDSDK_RUN_REGION", tRegion), harness.RunOptions{}, args...)
}

// replaceCommand replaces root's subcommand (or sub-subcommand, path "connector recycle") by
// cmd.
func replaceCommand(root *cobra.Command, path string, cmd *cobra.Command) {
	parent := root
	names := strings.Fields(path)
	for _, n := range names[:len(names)-1] {
		for _, c := range parent.Commands() {
			if c.Name() == n {
				parent = c
			}
		}
	}
	for _, c := range parent.Commands() {
		if c.Name() == names[len(names)-1] {
			parent.RemoveCommand(c)
		}
	}
	parent.AddCommand(cmd)
}

func TestAttachFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// want is the target's String(), or "" for a usage error whose message matches
		// wantErr.
		want      string
		wantRef   string
		egressSet bool
		wantErr   string
	}{
		{name: "connector short name", args: []string{"run-service", "--connector", "run-connector"},
			want: "connector: connector " + tConn, wantRef: "run-service"},
		{name: "connector full name and egress", args: []string{"job/nightly-export", "--connector", tConn, "--egress", "all-traffic"},
			want: "connector: connector " + tConn + ", egress all-traffic", wantRef: "job/nightly-export", egressSet: true},
		{name: "gcloud flag names", args: []string{"run-service", "--vpc-connector", "run-connector", "--vpc-egress", "ALL_TRAFFIC"},
			want: "connector: connector " + tConn + ", egress all-traffic", wantRef: "run-service", egressSet: true},
		{name: "direct, tags sorted", args: []string{"run-service", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--network-tags", "b,a,b"},
			want: "direct: network " + tNet + ", subnet " + tSubnet + ", tags [a b]", wantRef: "run-service"},
		{name: "network only: the same-name subnetwork", args: []string{"run-service", "--network", "run-vpc"},
			want: "direct: network " + tNet + ", subnet projects/demo-project/regions/asia-northeast1/subnetworks/run-vpc", wantRef: "run-service"},
		{name: "subnet only", args: []string{"workerpool/queue", "--subnet", "run-direct-vpc-egress"},
			want: "direct: subnet " + tSubnet, wantRef: "workerpool/queue"},
		{name: "shared VPC", args: []string{"run-service", "--network", "projects/host-project/global/networks/shared", "--subnet", "shared-sub"},
			want: "direct: network projects/host-project/global/networks/shared, subnet projects/host-project/regions/asia-northeast1/subnetworks/shared-sub", wantRef: "run-service"},
		{name: "full workload name in another project", args: []string{"projects/other-project/locations/us-central1/services/api", "--connector", "c1"},
			want: "connector: connector projects/other-project/locations/us-central1/connectors/c1", wantRef: "api"},
		{name: "deprecated egress alias", args: []string{"run-service", "--connector", "run-connector", "--egress", "all"},
			want: "connector: connector " + tConn + ", egress all-traffic", wantRef: "run-service", egressSet: true},

		{name: "nothing to attach", args: []string{"run-service"}, wantErr: `^nothing to attach: give --connector C`},
		{name: "connector and network", args: []string{"run-service", "--connector", "c1", "--network", "n"}, wantErr: `^--connector and --network cannot be used together`},
		{name: "connector and subnet", args: []string{"run-service", "--connector", "c1", "--subnet", "s"}, wantErr: `^--connector and --subnet cannot be used together`},
		{name: "connector and tags", args: []string{"run-service", "--connector", "c1", "--network-tags", "t"}, wantErr: `^--connector and --network-tags cannot be used together`},
		{name: "connector and clear tags", args: []string{"run-service", "--connector", "c1", "--clear-network-tags"}, wantErr: `^--connector and --clear-network-tags cannot be used together`},
		{name: "tags alone", args: []string{"run-service", "--network-tags", "t"}, wantErr: `^--network-tags needs Direct VPC egress`},
		{name: "tags and clear", args: []string{"run-service", "--subnet", "s", "--network-tags", "t", "--clear-network-tags"}, wantErr: `^--network-tags and --clear-network-tags cannot be used together`},
		{name: "bad connector", args: []string{"run-service", "--connector", "Conn"}, wantErr: `^--connector: invalid connector "Conn": .*valid forms: NAME or projects/PROJECT/locations/REGION/connectors/NAME`},
		{name: "long connector", args: []string{"run-service", "--connector", strings.Repeat("c", 26)}, wantErr: `^--connector: .*26 characters long, more than the 25 allowed`},
		{name: "connector in another region", args: []string{"run-service", "--connector", "projects/demo-project/locations/europe-west1/connectors/c1"}, wantErr: `^--connector: connector c1 is in region europe-west1, but run-service is in region asia-northeast1`},
		{name: "worker pool connector", args: []string{"workerpool/queue", "--connector", "run-connector"}, wantErr: `^--connector: worker pools cannot use Serverless VPC Access connectors`},
		{name: "bad network", args: []string{"run-service", "--network", "Net"}, wantErr: `^--network: invalid network "Net"`},
		{name: "bad subnet", args: []string{"run-service", "--subnet", "sub/"}, wantErr: `^--subnet: invalid subnetwork "sub/"`},
		{name: "subnet in another region", args: []string{"run-service", "--subnet", "regions/us-east1/subnetworks/s"}, wantErr: `^--subnet: subnetwork s is in region us-east1, but run-service is in region asia-northeast1`},
		{name: "bad tag", args: []string{"run-service", "--subnet", "s", "--network-tags", "ok,-bad"}, wantErr: `^--network-tags: invalid network tag "-bad"`},
		{name: "bad egress", args: []string{"run-service", "--subnet", "s", "--egress", "public"}, wantErr: `^--egress: invalid egress "public": unknown egress setting \(valid values: private-ranges-only, all-traffic\)`},
		{name: "empty egress", args: []string{"run-service", "--subnet", "s", "--egress="}, wantErr: `^--egress: invalid egress "": empty`},
		{name: "bad workload", args: []string{"run_service", "--subnet", "s"}, wantErr: `^WORKLOAD: invalid workload "run_service"`},
		{name: "no workload", args: []string{"--subnet", "s"}, wantErr: `^WORKLOAD is required`},
		{name: "two workloads", args: []string{"a", "b", "--subnet", "s"}, wantErr: `^one WORKLOAD at a time, got 2: a b$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *AttachOptions
			r := runStubbed(t, "attach", func(f *Factory) *cobra.Command {
				return NewCmdAttach(f, func(_ context.Context, o *AttachOptions) error { got = o; return nil })
			}, append([]string{"attach"}, tt.args...)...)
			if tt.wantErr != "" {
				if r.Code != exitcode.Usage || got != nil {
					t.Fatalf("exit %d (ran: %v), want 2 without running; stderr %q", r.Code, got != nil, r.Stderr)
				}
				msg := strings.TrimPrefix(strings.SplitN(r.Stderr, "\n", 2)[0], "Error: ")
				if !regexp.MustCompile(tt.wantErr).MatchString(msg) {
					t.Errorf("error %q does not match %q", msg, tt.wantErr)
				}
				return
			}
			if r.Code != 0 || got == nil {
				t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
			}
			target := got.target
			if tt.egressSet != got.egressSet {
				t.Errorf("egressSet = %v", got.egressSet)
			}
			if !tt.egressSet && target.Egress != egress.EgressUnset {
				t.Errorf("egress %q should be left to resolveTarget", target.Egress)
			}
			if got.ref.String() != tt.wantRef {
				t.Errorf("ref = %s, want %s", got.ref, tt.wantRef)
			}
			if tt.egressSet {
				if s := target.String(); s != tt.want {
					t.Errorf("target = %q, want %q", s, tt.want)
				}
			} else if s := strings.TrimSuffix(target.String(), ", egress private-ranges-only"); s != tt.want {
				t.Errorf("target = %q, want %q", s, tt.want)
			}
			if slices.Contains(tt.args, "all") && !strings.Contains(r.Stderr, "Warning: --egress all is deprecated; use --egress all-traffic.") {
				t.Errorf("no deprecation warning: %q", r.Stderr)
			}
		})
	}
}

func TestDetachFlags(t *testing.T) {
	var got *AttachOptions
	mk := func(f *Factory) *cobra.Command {
		return NewCmdDetach(f, func(_ context.Context, o *AttachOptions) error { got = o; return nil })
	}
	r := runStubbed(t, "detach", mk, "detach", "job/nightly-export", "--async")
	if r.Code != 0 || got == nil || !got.Detach || !got.Async || got.ref.String() != "job/nightly-export" || got.target.Mode() != egress.ModeNone {
		t.Fatalf("detach: exit %d, options %+v, stderr %q", r.Code, got, r.Stderr)
	}
	for _, args := range [][]string{
		{"detach"},
		{"detach", "a", "b"},
		{"detach", "Bad"},
		{"detach", "run-service", "--connector", "c"},
		{"detach", "run-service", "--egress", "all-traffic"},
	} {
		got = nil
		r := runStubbed(t, "detach", mk, args...)
		if r.Code != exitcode.Usage || got != nil {
			t.Errorf("%q: exit %d, ran %v; want 2 without running", args, r.Code, got != nil)
		}
	}
}

func TestResolveTargetAndConfirm(t *testing.T) {
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "run-service"}
	conn := egress.VPC{Connector: tConn, Egress: egress.EgressPrivateRangesOnly}
	connAll := egress.VPC{Connector: tConn, Egress: egress.EgressAllTraffic}
	directTags := egress.VPC{Network: tNet, Subnet: tSubnet, Tags: []string{"a"}, Egress: egress.EgressAllTraffic}
	tests := []struct {
		name    string
		o       AttachOptions
		cur     egress.VPC
		want    egress.VPC
		confirm string // a regexp the question must match, or "" for none
	}{
		{"egress kept from a connector", AttachOptions{target: egress.VPC{Network: tNet, Subnet: tSubnet}}, connAll,
			egress.VPC{Network: tNet, Subnet: tSubnet, Egress: egress.EgressAllTraffic}, ""},
		{"no VPC: private ranges", AttachOptions{target: egress.VPC{Connector: tConn}}, egress.VPC{},
			conn, ""},
		{"tags kept within Direct VPC", AttachOptions{target: egress.VPC{Network: tNet, Subnet: tSubnet}}, directTags,
			directTags, ""},
		{"tags replaced", AttachOptions{target: egress.VPC{Network: tNet, Subnet: tSubnet, Tags: []string{"b"}}, tagsSet: true}, directTags,
			egress.VPC{Network: tNet, Subnet: tSubnet, Tags: []string{"b"}, Egress: egress.EgressAllTraffic}, ""},
		{"tags cleared", AttachOptions{target: egress.VPC{Network: tNet, Subnet: tSubnet}, ClearNetworkTags: true}, directTags,
			egress.VPC{Network: tNet, Subnet: tSubnet, Egress: egress.EgressAllTraffic}, ""},
		{"egress narrowed", AttachOptions{target: conn, egressSet: true}, connAll,
			conn, `^Change the egress of service run-service from all-traffic to private-ranges-only\?`},
		{"egress widened", AttachOptions{target: connAll, egressSet: true}, conn, connAll, ""},
		{"detach", AttachOptions{Detach: true}, conn, egress.VPC{},
			`^Detach service run-service from its VPC \(connector run-connector, egress private-ranges-only\)\? It will lose access`},
		{"detach all-traffic", AttachOptions{Detach: true}, directTags, egress.VPC{},
			`^Detach service run-service from its VPC \(network run-vpc, subnet run-direct-vpc-egress, tags \[a\], egress all-traffic\)\? Its egress is all-traffic: ALL of its outbound traffic`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.ref = ref
			req := o.request()
			got := req.Keep.Apply(req.Target, tt.cur)
			if same, err := got.Equivalent(tt.want, tProject, tRegion); err != nil || !same || !slices.Equal(got.Tags, tt.want.Tags) {
				t.Errorf("resolveTarget = %v, want %v", got, tt.want)
			}
			q := migration.ConfirmQuestion(ref, tt.cur, got)
			switch {
			case tt.confirm == "" && q != "":
				t.Errorf("unexpected question %q", q)
			case tt.confirm != "" && !regexp.MustCompile(tt.confirm).MatchString(q):
				t.Errorf("question %q does not match %q", q, tt.confirm)
			}
		})
	}
}

func TestDescribeVPC(t *testing.T) {
	for v, want := range map[*egress.VPC]string{
		{}: "no VPC access",
		&egress.VPC{Connector: tConn, Egress: egress.EgressAllTraffic}:                                         "connector run-connector (egress all-traffic)",
		&egress.VPC{Subnet: tSubnet, Egress: egress.EgressPrivateRangesOnly}:                                   "Direct VPC egress (subnet run-direct-vpc-egress, egress private-ranges-only)",
		&egress.VPC{Network: tNet, Subnet: tSubnet, Tags: []string{"a", "b"}, Egress: egress.EgressAllTraffic}: "Direct VPC egress (network run-vpc, subnet run-direct-vpc-egress, tags [a b], egress all-traffic)",
	} {
		if got := v.Describe(); got != want {
			t.Errorf("Describe(%v) = %q, want %q", *v, got, want)
		}
	}
}

// ---- End to end, in process, against an emulator.

// emuRun is an emulator seeded with the demo world (fast timings) and runnet pointed at it.
type emuRun = harness.World

func newEmu(t *testing.T) *emuRun {
	t.Helper()
	return harness.NewWorld(t, cliMain, harness.Fast)
}

func TestAttachProgressOnTerminal(t *testing.T) {
	er := newEmu(t)
	r := er.Run(t, true, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress", "--format", "table")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	rev := er.Read(t, "run-service").LatestReady
	want := "Waiting for revision " + rev + " to become ready...\n"
	if !strings.HasPrefix(r.Stderr, want) || strings.Count(r.Stderr, "Waiting") != 1 {
		t.Errorf("stderr = %q, want it to start with %q", r.Stderr, want)
	}
	if !regexp.MustCompile(`(?m)^service +run-service +direct +run-direct-vpc-egress +private-ranges-only +` + rev + ` +10 +ready$`).MatchString(r.Stdout) {
		t.Errorf("stdout = %q", r.Stdout)
	}
	// --quiet silences progress and notes.
	r = er.Run(t, true, "", "attach", "run-service", "--connector", "run-connector", "--quiet")
	if r.Code != 0 || r.Stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// Jobs have no revision to wait for.
	r = er.Run(t, true, "", "attach", "job/nightly-export", "--subnet", "run-direct-vpc-egress")
	if r.Code != 0 || !strings.HasPrefix(r.Stderr, "Updating job nightly-export...\n") {
		t.Errorf("job: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func TestDetachPromptsOnTerminal(t *testing.T) {
	er := newEmu(t)
	before := er.Read(t, "run-service")
	r := er.Run(t, true, "n\n", "detach", "run-service")
	if r.Code != exitcode.Failure || !strings.Contains(r.Stderr, "Detach service run-service from its VPC (connector run-connector, egress private-ranges-only)? It will lose access to private addresses in the VPC network? [y/N]: ") ||
		!strings.Contains(r.Stderr, "cancelled: run-service was not changed") {
		t.Fatalf("answer n: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if now := er.Read(t, "run-service"); now.Etag != before.Etag {
		t.Errorf("declined, yet the service changed")
	}
	r = er.Run(t, true, "y\n", "detach", "run-service")
	if r.Code != 0 || er.Read(t, "run-service").VPC.Mode() != egress.ModeNone {
		t.Fatalf("answer y: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// --yes skips the question.
	r = er.Run(t, true, "", "attach", "run-service", "--connector", "run-connector", "--egress", "all-traffic")
	if r.Code != 0 {
		t.Fatalf("attach: %s", r.Stderr)
	}
	r = er.Run(t, true, "", "attach", "run-service", "--subnet", "run-direct-vpc-egress", "--egress", "private-ranges-only", "--yes")
	if r.Code != 0 || strings.Contains(r.Stderr, "[y/N]") {
		t.Errorf("--yes: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// outputOnly lists the output-only fields of services, jobs and worker pools (their proto
// comments say "Output only"), which change with every update.
var outputOnly = []protoreflect.Name{
	"uid", "generation", "create_time", "update_time", "delete_time", "expire_time", "creator",
	"last_modifier", "urls", "observed_generation", "terminal_condition", "conditions",
	"latest_ready_revision", "latest_created_revision", "traffic_statuses", "uri", "satisfies_pzs",
	"reconciling", "etag", "execution_count", "latest_created_execution", "instance_split_statuses",
}

// withoutVPC returns m without its output-only fields and its template's vpc_access.
func withoutVPC(m proto.Message) proto.Message {
	c := proto.Clone(m)
	r := c.ProtoReflect()
	for _, n := range outputOnly {
		if fd := r.Descriptor().Fields().ByName(n); fd != nil {
			r.Clear(fd)
		}
	}
	switch x := c.(type) {
	case *runpb.Service:
		x.Template.VpcAccess = nil
	case *runpb.Job:
		x.Template.Template.VpcAccess = nil
	}
	return c
}

// The field-preservation test: attach, switch and detach, through the commands, leave every
// field of the service and the job other than vpc_access (env, image, ports, scaling,
// labels, annotations, traffic and tags, containers) exactly as it was.
func TestAttachSwitchDetachPreserveEverythingElse(t *testing.T) {
	er := newEmu(t)
	// Give the demo service and job labels, annotations, a traffic tag and a secret first.
	c := cloud.New(context.Background(), cloud.Config{EmulatorHost: er.Addr})
	defer c.Close()
	ctx := context.Background()
	svcs, _ := c.Services()
	s := proto.Clone(er.Read(t, "run-service").Raw).(*runpb.Service)
	s.Labels = map[string]string{"team": "web"}
	s.Annotations = map[string]string{"example.com/owner": "alice"}
	s.Template.Labels = map[string]string{"rev-label": "x"}
	s.Template.Containers[0].Env = append(s.Template.Containers[0].Env, &runpb.EnvVar{Name: "DB_PASSWORD",
		Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: "db", Version: "latest"}}}})
	s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100, Tag: "live"}}
	op, err := svcs.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	er.ChangeJob(t, "nightly-export", func(j *runpb.Job) {
		j.Labels = map[string]string{"schedule": "nightly"}
		j.Template.Parallelism = 2
	})

	for _, w := range []string{"run-service", "job/nightly-export"} {
		t.Run(w, func(t *testing.T) {
			steps := [][]string{
				{"attach", w, "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--network-tags", "redis-client"},
				{"attach", w, "--connector", "run-connector", "--egress", "all-traffic"},
				{"detach", w, "--yes"},
				{"attach", w, "--subnet", "run-direct-vpc-egress"},
			}
			for _, args := range steps {
				before := er.Read(t, w)
				r := er.Run(t, false, "", args...)
				if r.Code != 0 {
					t.Fatalf("%q: exit %d: %s", args, r.Code, r.Stderr)
				}
				after := er.Read(t, w)
				if !proto.Equal(withoutVPC(before.Raw), withoutVPC(after.Raw)) {
					t.Errorf("%q changed more than vpc_access:\nbefore:\n%s\nafter:\n%s", args,
						prototext.Format(withoutVPC(before.Raw)), prototext.Format(withoutVPC(after.Raw)))
				}
				if after.Etag == before.Etag {
					t.Errorf("%q: nothing was updated", args)
				}
			}
			final := er.Read(t, w)
			if final.VPC.Subnet == "" || final.VPC.Egress != egress.EgressPrivateRangesOnly {
				t.Errorf("final VPC = %+v, want Direct VPC egress with private-ranges-only (the default after no VPC)", final.VPC)
			}
		})
	}
}

func TestWorkerPoolAttachDetach(t *testing.T) {
	er := newEmu(t)
	c := cloud.New(context.Background(), cloud.Config{EmulatorHost: er.Addr})
	defer c.Close()
	ctx := context.Background()
	wps, _ := c.WorkerPools()
	n := int32(3)
	op, err := wps.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: "projects/demo-project/locations/asia-northeast1", WorkerPoolId: "queue",
		WorkerPool: &runpb.WorkerPool{
			Labels:   map[string]string{"app": "queue"},
			Template: &runpb.WorkerPoolRevisionTemplate{Containers: []*runpb.Container{{Image: emulator.DemoImage}}},
			Scaling:  &runpb.WorkerPoolScaling{ManualInstanceCount: &n},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	r := er.Run(t, false, "", "attach", "workerpool/queue", "--connector", "run-connector")
	if r.Code != exitcode.Usage || !strings.Contains(r.Stderr, "worker pools cannot use Serverless VPC Access connectors") {
		t.Errorf("connector: exit %d, stderr %q", r.Code, r.Stderr)
	}
	before := er.Read(t, "workerpool/queue")
	r = er.Run(t, false, "", "attach", "workerpool/queue", "--subnet", "run-direct-vpc-egress", "--network-tags", "queue", "--format", "json")
	if r.Code != 0 {
		t.Fatalf("attach: exit %d, stderr %q", r.Code, r.Stderr)
	}
	var st WorkloadStatus
	if err := jsonUnmarshal(r.Stdout, &st); err != nil {
		t.Fatal(err)
	}
	if st.Kind != "workerpool" || st.Mode != "direct" || st.Subnet != tSubnet || st.MaxInstances != 3 || st.Rollout != cloud.RolloutDone ||
		st.LatestReadyRevision == before.LatestReady || !strings.HasPrefix(st.LatestReadyRevision, "queue-00002-") {
		t.Errorf("status after attach = %+v", st)
	}
	after := er.Read(t, "workerpool/queue")
	b, a := proto.Clone(before.Raw).(*runpb.WorkerPool), proto.Clone(after.Raw).(*runpb.WorkerPool)
	b.Template.VpcAccess, a.Template.VpcAccess = nil, nil
	if !proto.Equal(withoutVPC(b), withoutVPC(a)) {
		t.Errorf("worker pool changed more than vpc_access:\n%s\n%s", prototext.Format(withoutVPC(b)), prototext.Format(withoutVPC(a)))
	}
	r = er.Run(t, false, "", "status", "workerpool/queue", "--format", "table")
	if !regexp.MustCompile(`(?m)^workerpool +queue +direct +run-direct-vpc-egress tags:queue +private-ranges-only +queue-00002-[a-z0-9]{3} +3 +ready$`).MatchString(r.Stdout) {
		t.Errorf("status table = %q", r.Stdout)
	}
	r = er.Run(t, false, "", "detach", "workerpool/queue", "--yes")
	if r.Code != 0 || er.Read(t, "workerpool/queue").VPC.Mode() != egress.ModeNone {
		t.Errorf("detach: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
