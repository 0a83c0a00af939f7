package egress

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func stepKinds(p Plan) []StepKind {
	var out []StepKind
	for _, s := range p.Steps {
		out = append(out, s.Kind)
	}
	return out
}

func hasNote(p Plan, fragment string) bool {
	return slices.ContainsFunc(p.Notes, func(n Message) bool { return strings.Contains(render(n), fragment) })
}

func TestBuildPlanService(t *testing.T) {
	w := Workload{Ref: svcRef, VPC: VPC{Connector: "run-connector"}, MaxInstances: 10}
	target := VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}
	checks := []Check{{Name: CheckFreeIPs, Status: StatusPass, Message: "ok"}}
	p := BuildPlan(PlanOptions{Canary: []int{10, 50, 100}, StepWait: 30 * time.Second}, w, target, checks)

	if p.NoOp || p.Blocked {
		t.Fatalf("NoOp=%v Blocked=%v", p.NoOp, p.Blocked)
	}
	want := []StepKind{StepDeployRevision, StepVerify, StepShiftTraffic, StepShiftTraffic, StepShiftTraffic}
	if got := stepKinds(p); !slices.Equal(got, want) {
		t.Fatalf("steps = %v, want %v", got, want)
	}
	if p.FromMode != ModeConnector || p.ToMode != ModeDirect {
		t.Errorf("modes %s -> %s", p.FromMode, p.ToMode)
	}
	if p.From.Connector != "projects/my-project/locations/asia-northeast1/connectors/run-connector" ||
		p.To.Subnet != "projects/my-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress" ||
		p.To.Egress != EgressPrivateRangesOnly {
		t.Errorf("From/To not canonical: %s / %s", p.From, p.To)
	}
	if !slices.Equal(p.Canary, []int{10, 50, 100}) {
		t.Errorf("Canary = %v", p.Canary)
	}
	d := p.Steps[0]
	if d.Tag != "runnet-direct" || d.Resource != svcRef.FullName() ||
		d.Description != "deploy a revision of run-service with direct: network run-vpc, subnet run-direct-vpc-egress, egress private-ranges-only at 0% traffic, tagged runnet-direct" {
		t.Errorf("deploy step = %+v", d)
	}
	for i, pct := range []int{10, 50, 100} {
		s := p.Steps[2+i]
		if s.Percent != pct {
			t.Errorf("shift %d: percent %d", i, s.Percent)
		}
		wantWait := 30.0
		if pct == 100 {
			wantWait = 0
		}
		if s.WaitSeconds != wantWait {
			t.Errorf("shift %d%%: wait %v, want %v", pct, s.WaitSeconds, wantWait)
		}
	}
	if p.Steps[2].Description != "send 10% of traffic to the new revision, then watch its health for 30s" {
		t.Errorf("shift description %q", p.Steps[2].Description)
	}
	if !strings.Contains(p.Steps[4].Description, "old revisions stay deployed for rollback") {
		t.Errorf("last shift %q", p.Steps[4].Description)
	}
	if !hasNote(p, "connector projects/my-project/locations/asia-northeast1/connectors/run-connector is kept (pass --cleanup") {
		t.Errorf("notes %q", renderAll(p.Notes))
	}
	// The checks are copied, not shared.
	checks[0].Status = StatusFail
	if p.Checks[0].Status != StatusPass {
		t.Error("plan shares the caller's checks")
	}
}

func TestBuildPlanServiceDefaults(t *testing.T) {
	w := Workload{Ref: svcRef}
	p := BuildPlan(PlanOptions{}, w, VPC{Connector: "c1", Egress: EgressAllTraffic}, nil)
	// All traffic at once and no gate: one update, the traffic following the new revision.
	if got := stepKinds(p); !slices.Equal(got, []StepKind{StepDeployAndShift}) {
		t.Fatalf("steps = %v", got)
	}
	if !slices.Equal(p.Canary, []int{100}) || p.Steps[0].Percent != 100 || p.Steps[0].Tag != "" {
		t.Errorf("plan = %+v", p)
	}
	if !strings.Contains(p.Steps[0].Description, "in the same update, once it is Ready (a revision that fails gets none)") {
		t.Errorf("description %q", p.Steps[0].Description)
	}
	if needs, why := p.NeedsRevisionBeforeTraffic(); needs || why != "" {
		t.Errorf("NeedsRevisionBeforeTraffic = %v, %q", needs, why)
	}
	if p.Checks == nil || len(p.Notes) != 0 {
		t.Errorf("checks %v notes %q", p.Checks, renderAll(p.Notes))
	}
	// Canary steps need the revision Ready before the first: two operations, and the plan
	// says why.
	p = BuildPlan(PlanOptions{Canary: []int{10, 100}}, w, VPC{Connector: "c1", Egress: EgressAllTraffic}, nil)
	if got := stepKinds(p); !slices.Equal(got, []StepKind{StepDeployRevision, StepVerify, StepShiftTraffic, StepShiftTraffic}) || p.Steps[0].Tag != "runnet-connector" {
		t.Errorf("canary steps = %v, tag %q", got, p.Steps[0].Tag)
	}
	if !hasNote(p, "the new revision is deployed with no traffic first, and the traffic moves once it is Ready: the traffic moves in steps (10,100), the first once the new revision is Ready") {
		t.Errorf("notes %q", renderAll(p.Notes))
	}
	// An invalid canary from a programmatic caller falls back to one step.
	p = BuildPlan(PlanOptions{Canary: []int{50, 10}}, w, VPC{Connector: "c1"}, nil)
	if !slices.Equal(p.Canary, []int{100}) || !hasNote(p, "canary 50,10 ignored (10 does not increase on the step before it (50))") {
		t.Errorf("canary %v notes %q", p.Canary, renderAll(p.Notes))
	}
	// A custom tag wins.
	p = BuildPlan(PlanOptions{Tag: "migrate", Canary: []int{50, 100}}, w, VPC{Connector: "c1"}, nil)
	if p.Steps[0].Tag != "migrate" {
		t.Errorf("tag %q", p.Steps[0].Tag)
	}
}

func TestBuildPlanCreateSubnetAndCleanup(t *testing.T) {
	w := Workload{Ref: svcRef, VPC: VPC{Connector: "run-connector"}}
	target := VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}
	opts := PlanOptions{
		CreateSubnet: &SubnetSpec{Name: "run-direct-vpc-egress", Network: "run-vpc", CIDR: "10.8.0.0/24"},
		Cleanup:      true,
		// The workload itself in the list is not "another user".
		ConnectorUsers: []WorkloadRef{svcRef},
	}
	p := BuildPlan(opts, w, target, nil)
	want := []StepKind{StepCreateSubnet, StepDeployAndShift, StepDeleteConnector}
	if got := stepKinds(p); !slices.Equal(got, want) {
		t.Fatalf("steps = %v, want %v", got, want)
	}
	cs := p.Steps[0]
	if cs.Resource != "projects/my-project/regions/asia-northeast1/subnetworks/run-direct-vpc-egress" ||
		cs.Description != "create subnetwork run-direct-vpc-egress with range 10.8.0.0/24 in network run-vpc" {
		t.Errorf("create step %+v", cs)
	}
	dc := p.Steps[2]
	if dc.Resource != "projects/my-project/locations/asia-northeast1/connectors/run-connector" ||
		dc.Description != "delete connector run-connector, which no other workload uses" {
		t.Errorf("delete step %+v", dc)
	}

	opts.ConnectorUsers = []WorkloadRef{svcRef, {KindJob, proj, region, "nightly"}, {KindService, proj, region, "api"}}
	p = BuildPlan(opts, w, target, nil)
	if slices.Contains(stepKinds(p), StepDeleteConnector) || !hasNote(p, "is kept: still used by job/nightly, api") {
		t.Errorf("steps %v notes %q", stepKinds(p), renderAll(p.Notes))
	}

	// No subnet is created for a connector target, and connector to the
	// same connector with another egress deletes nothing.
	p = BuildPlan(PlanOptions{CreateSubnet: opts.CreateSubnet, Cleanup: true}, w, VPC{Connector: "run-connector", Egress: EgressAllTraffic}, nil)
	if got := stepKinds(p); !slices.Equal(got, []StepKind{StepDeployAndShift}) {
		t.Errorf("steps = %v", got)
	}
}

func TestBuildPlanJob(t *testing.T) {
	job := WorkloadRef{KindJob, proj, region, "nightly"}
	w := Workload{Ref: job, VPC: VPC{Connector: "run-connector"}}
	target := VPC{Subnet: "run-direct-vpc-egress"}
	p := BuildPlan(PlanOptions{Canary: []int{10, 100}}, w, target, nil)
	if got := stepKinds(p); !slices.Equal(got, []StepKind{StepUpdateTemplate}) {
		t.Errorf("steps = %v", got)
	}
	if p.Canary != nil || !hasNote(p, "--canary applies to services only; ignored for jobs") || !hasNote(p, "next execution") {
		t.Errorf("canary %v notes %q", p.Canary, renderAll(p.Notes))
	}
	if d := p.Steps[0].Description; d != "update job nightly's task template to direct: subnet run-direct-vpc-egress, egress private-ranges-only (running executions keep the old settings)" {
		t.Errorf("description %q", d)
	}
	p = BuildPlan(PlanOptions{VerifyJob: true, Cleanup: true}, w, target, nil)
	if got := stepKinds(p); !slices.Equal(got, []StepKind{StepUpdateTemplate, StepRunExecution, StepDeleteConnector}) {
		t.Errorf("steps = %v", got)
	}
	if hasNote(p, "next execution") || hasNote(p, "--canary") {
		t.Errorf("notes %q", renderAll(p.Notes))
	}
}

func TestBuildPlanWorkerPool(t *testing.T) {
	wp := WorkloadRef{KindWorkerPool, proj, region, "pool"}
	w := Workload{Ref: wp}
	p := BuildPlan(PlanOptions{}, w, VPC{Network: "run-vpc"}, nil)
	if got := stepKinds(p); !slices.Equal(got, []StepKind{StepUpdateTemplate, StepVerify}) || p.Blocked {
		t.Errorf("steps = %v blocked %v", got, p.Blocked)
	}
	// Connectors are refused even when the caller ran no preflight.
	p = BuildPlan(PlanOptions{Canary: []int{50, 100}}, w, VPC{Connector: "c1"}, nil)
	if !p.Blocked || len(p.Checks) != 1 || p.Checks[0].Name != CheckWorkerPoolConnector || p.Checks[0].Status != StatusFail {
		t.Errorf("blocked %v checks %+v", p.Blocked, p.Checks)
	}
	if !hasNote(p, "ignored for worker pools") {
		t.Errorf("notes %q", renderAll(p.Notes))
	}
	// ... and not added twice.
	checks := RunPreflight(Facts{Workload: w, Target: VPC{Connector: "c1"}})
	p = BuildPlan(PlanOptions{}, w, VPC{Connector: "c1"}, checks)
	n := 0
	for _, c := range p.Checks {
		if c.Name == CheckWorkerPoolConnector {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d workerpool-connector checks", n)
	}
}

func TestBuildPlanTransitions(t *testing.T) {
	none := VPC{}
	conn := VPC{Connector: "run-connector"}
	direct := VPC{Network: "run-vpc", Subnet: "run-direct-vpc-egress"}
	for _, kind := range Kinds {
		for _, from := range []VPC{none, conn, direct} {
			for _, to := range []VPC{none, conn, direct} {
				w := Workload{Ref: WorkloadRef{kind, proj, region, "wl"}, VPC: from}
				p := BuildPlan(PlanOptions{}, w, to, nil)
				name := string(kind) + " " + string(from.Mode()) + "->" + string(to.Mode())
				if same := from.Mode() == to.Mode(); p.NoOp != same {
					t.Errorf("%s: NoOp = %v", name, p.NoOp)
				}
				if p.NoOp {
					if len(p.Steps) != 0 || p.Steps == nil || p.Blocked || !hasNote(p, "nothing to do") {
						t.Errorf("%s: no-op plan %+v", name, p)
					}
					continue
				}
				wantBlocked := kind == KindWorkerPool && to.Mode() == ModeConnector
				if p.Blocked != wantBlocked {
					t.Errorf("%s: Blocked = %v", name, p.Blocked)
				}
				first := StepUpdateTemplate
				if kind == KindService {
					first = StepDeployAndShift
				}
				if len(p.Steps) == 0 || p.Steps[0].Kind != first {
					t.Errorf("%s: steps %v", name, stepKinds(p))
				}
				if from.Mode() == ModeDirect && !hasNote(p, "1-2 hours") {
					t.Errorf("%s: no reservation note in %q", name, renderAll(p.Notes))
				}
			}
		}
	}
}

func TestBuildPlanNoOp(t *testing.T) {
	tests := []struct {
		name        string
		current, to VPC
		noop        bool
	}{
		{"egress default", VPC{Connector: "projects/my-project/locations/asia-northeast1/connectors/c1"}, VPC{Connector: "c1", Egress: EgressPrivateRangesOnly}, true},
		{"egress differs", VPC{Connector: "c1"}, VPC{Connector: "c1", Egress: EgressAllTraffic}, false},
		{"network from subnet path", VPC{Subnet: "https://www.googleapis.com/compute/v1/projects/my-project/regions/asia-northeast1/subnetworks/s1"},
			VPC{Network: "run-vpc", Subnet: "s1"}, true},
		{"same-name subnet", VPC{Network: "run-vpc"}, VPC{Network: "run-vpc", Subnet: "run-vpc"}, true},
		{"tag order", VPC{Subnet: "s1", Tags: []string{"b", "a"}}, VPC{Subnet: "s1", Tags: []string{"a", "b"}}, true},
		{"tag added", VPC{Subnet: "s1", Tags: []string{"a"}}, VPC{Subnet: "s1", Tags: []string{"a", "b"}}, false},
		{"other subnet", VPC{Subnet: "s1"}, VPC{Subnet: "s2"}, false},
		{"none with stray egress", VPC{Egress: EgressAllTraffic}, VPC{}, true},
		{"unparsable current is never a no-op", VPC{Connector: "Bad"}, VPC{Connector: "Bad"}, false},
	}
	for _, tt := range tests {
		w := Workload{Ref: svcRef, VPC: tt.current}
		p := BuildPlan(PlanOptions{Cleanup: true}, w, tt.to, []Check{{Name: CheckNAT, Status: StatusFail}})
		if p.NoOp != tt.noop {
			t.Errorf("%s: NoOp = %v, want %v", tt.name, p.NoOp, tt.noop)
			continue
		}
		if tt.noop {
			if p.Blocked || len(p.Steps) != 0 || !hasNote(p, "run-service already uses") {
				t.Errorf("%s: %+v", tt.name, p)
			}
		} else if !p.Blocked {
			t.Errorf("%s: a failed check does not block", tt.name)
		}
	}
}

func TestBuildPlanBlockedAndForced(t *testing.T) {
	w := Workload{Ref: svcRef, VPC: VPC{Connector: "c1"}}
	checks := []Check{{Name: CheckFreeIPs, Status: StatusFail, Message: "x"}, {Name: CheckNAT, Status: StatusWarn}}
	p := BuildPlan(PlanOptions{}, w, VPC{Subnet: "s1"}, checks)
	if !p.Blocked || len(Failed(p.Checks)) != 1 || Failed(p.Checks)[0].Name != CheckFreeIPs {
		t.Errorf("Blocked %v, checks %+v", p.Blocked, p.Checks)
	}
	forced, err := ApplyForce(checks, []string{CheckFreeIPs})
	if err != nil {
		t.Fatal(err)
	}
	p = BuildPlan(PlanOptions{}, w, VPC{Subnet: "s1"}, forced)
	if p.Blocked || len(p.Steps) != 1 || p.FromMode != ModeConnector || p.ToMode != ModeDirect {
		t.Errorf("Blocked %v, %d steps, %s to %s", p.Blocked, len(p.Steps), p.FromMode, p.ToMode)
	}
}

func TestDefaultRevisionTag(t *testing.T) {
	tests := []struct {
		service string
		mode    Mode
		want    string
	}{
		{"run-service", ModeDirect, "runnet-direct"},
		{"run-service", ModeConnector, "runnet-connector"},
		{"run-service", ModeNone, "runnet-none"},
		{strings.Repeat("a", 33), ModeDirect, "runnet-direct"}, // 13 + 33 = 46
		{strings.Repeat("a", 34), ModeDirect, "rn-direct"},
		{strings.Repeat("a", 44), ModeDirect, "rn"},
		{strings.Repeat("a", 45), ModeDirect, ""},
	}
	for _, tt := range tests {
		got := DefaultRevisionTag(tt.service, tt.mode)
		if got != tt.want {
			t.Errorf("DefaultRevisionTag(%d chars, %s) = %q, want %q", len(tt.service), tt.mode, got, tt.want)
		}
		if len(got)+len(tt.service) > MaxTagAndServiceLength {
			t.Errorf("tag %q too long for %d-character service", got, len(tt.service))
		}
	}
	p := BuildPlan(PlanOptions{}, Workload{Ref: WorkloadRef{KindService, proj, region, strings.Repeat("a", 45)}}, VPC{Subnet: "s1"}, nil)
	if p.Steps[0].Tag != "" || strings.Contains(p.Steps[0].Description, "tagged") {
		t.Errorf("untagged deploy step %+v", p.Steps[0])
	}
}

func TestParseCanary(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{"100", []int{100}, ""},
		{"10,50,100", []int{10, 50, 100}, ""},
		{"1,2,3,100", []int{1, 2, 3, 100}, ""},
		{" 10 , 50 ,100 ", []int{10, 50, 100}, ""},
		{"10%,100%", []int{10, 100}, ""},
		{"010,100", []int{10, 100}, ""},
		{"", nil, `invalid --canary "": empty (` + CanaryForm + ")"},
		{"  ", nil, "empty"},
		{"10,,100", nil, "empty step"},
		{"10,100,", nil, "empty step"},
		{"10,50", nil, "the last step is 50, not 100"},
		{"50,10,100", nil, "10 does not increase on the step before it (50)"},
		{"10,10,100", nil, "10 does not increase"},
		{"0,100", nil, "0 is not from 1 to 100"},
		{"10,101", nil, `"101"`}, // three digits pass the form check, then the range check
		{"-10,100", nil, `"-10" is not a whole percentage`},
		{"+10,100", nil, "not a whole percentage"},
		{"10.5,100", nil, "not a whole percentage"},
		{"1e2", nil, "not a whole percentage"},
		{"0x10,100", nil, "not a whole percentage"},
		{"99999999999999999999,100", nil, "not a whole percentage"},
		{"10 50 100", nil, "not a whole percentage"},
		{"10;100", nil, "not a whole percentage"},
	}
	for _, tt := range tests {
		got, err := ParseCanary(tt.in)
		if tt.err != "" {
			if tt.in == "10,101" {
				wantErr(t, err, "101 is not from 1 to 100")
				continue
			}
			wantErr(t, err, "invalid --canary", tt.err)
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseCanary(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			continue
		}
		if back, err := ParseCanary(FormatCanary(got)); err != nil || !slices.Equal(back, got) {
			t.Errorf("FormatCanary(%v) = %q does not parse back", got, FormatCanary(got))
		}
	}
}

// TestPlanJSON pins the JSON field names: other programs read them.
func TestPlanJSON(t *testing.T) {
	w := Workload{Ref: svcRef, VPC: VPC{Connector: "c1"}}
	checks := []Check{{Name: CheckFreeIPs, Status: StatusWarn, Message: "m", Numbers: map[string]int64{"blocksNeeded": 4}, Hint: "h", Forced: true}}
	p := BuildPlan(PlanOptions{StepWait: 1500 * time.Millisecond, Canary: []int{50, 100}}, w, VPC{Subnet: "s1", Tags: []string{"t"}}, checks)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"workload":{"kind":"service","project":"my-project","region":"asia-northeast1","name":"run-service"},` +
		`"from":{"connector":"projects/my-project/locations/asia-northeast1/connectors/c1","egress":"private-ranges-only"},` +
		`"to":{"subnet":"projects/my-project/regions/asia-northeast1/subnetworks/s1","tags":["t"],"egress":"private-ranges-only"},` +
		`"fromMode":"connector","toMode":"direct",` +
		`"checks":[{"name":"free-ips","status":"warn","message":"m","numbers":{"blocksNeeded":4},"hint":"h","forced":true}],` +
		`"steps":[` +
		`{"kind":"deploy-revision","description":"deploy a revision of run-service with direct: subnet s1, tags [t], egress private-ranges-only at 0% traffic, tagged runnet-direct","resource":"projects/my-project/locations/asia-northeast1/services/run-service","tag":"runnet-direct"},` +
		`{"kind":"verify","description":"wait until the new revision is Ready (the current revisions keep serving all traffic)","resource":"projects/my-project/locations/asia-northeast1/services/run-service"},` +
		`{"kind":"shift-traffic","description":"send 50% of traffic to the new revision, then watch its health for 1.5s","resource":"projects/my-project/locations/asia-northeast1/services/run-service","percent":50,"waitSeconds":1.5},` +
		`{"kind":"shift-traffic","description":"send 100% of traffic to the new revision (the old revisions stay deployed for rollback)","resource":"projects/my-project/locations/asia-northeast1/services/run-service","percent":100}],` +
		`"canary":[50,100],"noOp":false,"blocked":false,` +
		`"notes":[{"text":"the new revision is deployed with no traffic first, and the traffic moves once it is Ready: the traffic moves in steps (50,100), the first once the new revision is Ready"},` +
		`{"kind":"connector-kept","text":"connector projects/my-project/locations/asia-northeast1/connectors/c1 is kept (pass --cleanup to delete it once no workload uses it)"}]}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ToMode != ModeDirect || len(back.Steps) != 4 || back.Checks[0].Numbers["blocksNeeded"] != 4 {
		t.Errorf("round trip = %+v", back)
	}

	// A no-op plan still has arrays, not nulls.
	b, _ = json.Marshal(BuildPlan(PlanOptions{}, w, w.VPC, nil))
	if !strings.Contains(string(b), `"checks":[],"steps":[]`) || !strings.Contains(string(b), `"noOp":true`) {
		t.Errorf("no-op JSON %s", b)
	}
}

// TestFactsJSON pins the field names of Facts, which adapters may
// serialise.
func TestFactsJSON(t *testing.T) {
	f := Facts{
		Workload:        Workload{Ref: svcRef},
		Sharing:         []SubnetUser{{Ref: svcRef, MaxInstances: 3}},
		Subnet:          &SubnetFacts{Name: "s", CIDR: "10.0.0.0/24", Exists: true, ReservedIPs: 16, SharedReservedIPs: 16},
		TargetConnector: &ConnectorFacts{Name: "c", Exists: true, IPCIDRRange: "10.8.0.0/28", SubnetCIDR: "x"},
		NAT: &NATFacts{Routers: []Router{{Name: "r", Network: "n", Region: "us-east1",
			NATs: []NAT{{Name: "nat", SourceSubnetworkIPRangesToNat: NATListOfSubnetworks, Subnetworks: []string{"s"}, Type: "PUBLIC"}}}}},
		Firewall: &FirewallFacts{Rules: []FirewallRule{{Name: "fw", Direction: "INGRESS", Priority: 1, SourceRanges: []string{"a"},
			SourceTags: []string{"b"}, TargetTags: []string{"c"}, DestinationRanges: []string{"d"},
			Allowed: []FirewallPermission{{Protocol: "tcp", Ports: []string{"1"}}}, Disabled: true, Logging: true}}},
		Quota:       &QuotaFacts{Region: "r", Instances: 200},
		Permissions: &PermissionFacts{Checked: []string{"p"}, Missing: []string{"p"}},
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		`"sharing":[{"ref":`, `"maxInstances":3`, `"reservedIPs":16`, `"sharedReservedIPs":16`, `"ipCidrRange":"10.8.0.0/28"`,
		`"subnetCidr":"x"`, `"sourceSubnetworkIpRangesToNat":"LIST_OF_SUBNETWORKS"`, `"subnetworks":["s"]`, `"nats":[`,
		`"sourceRanges":["a"]`, `"sourceTags":["b"]`, `"targetTags":["c"]`, `"destinationRanges":["d"]`,
		`"allowed":[{"protocol":"tcp","ports":["1"]}]`, `"disabled":true`, `"logging":true`, `"quota":{"region":"r","instances":200}`,
		`"permissions":{"checked":["p"],"missing":["p"]}`, `"targetConnector":`,
	} {
		if !strings.Contains(string(b), key) {
			t.Errorf("Facts JSON lacks %s:\n%s", key, b)
		}
	}
}

// With a split, a canary step moves its percentage of what the previous revision serves, and
// says so in the percentages of all traffic it really sends (as canaryTraffic computes them).
func TestBuildPlanCanaryWordsMatchTheSplit(t *testing.T) {
	w := Workload{Ref: svcRef, VPC: VPC{Connector: "run-connector"}, LatestReady: "run-service-2",
		Traffic: []TrafficTarget{{Latest: true, Percent: 80}, {Revision: "run-service-1", Percent: 20, Tag: "old"}}}
	p := BuildPlan(PlanOptions{Canary: []int{10, 50, 100}}, w, VPC{Network: "run-vpc", Subnet: "s"}, nil)
	want := []string{
		"send 8% of traffic to the new revision: 10% of the 80% that revision run-service-2 serves (the rest of the split is kept)",
		"send 40% of traffic to the new revision: 50% of the 80% that revision run-service-2 serves (the rest of the split is kept)",
		"send 80% of traffic to the new revision: all that revision run-service-2 serves (the rest of the split is kept; the old revisions stay deployed for rollback)",
	}
	base := PinLatest(w.Traffic, w.LatestReady)
	for i, s := range p.Steps[2:] {
		if s.Description != want[i] {
			t.Errorf("step %d: %q\nwant %q", i+3, s.Description, want[i])
		}
		if s.Percent < 100 {
			sent := shareOf(canaryTraffic(base, []string{w.LatestReady}, "new", s.Percent, ""), "new")
			if !strings.HasPrefix(s.Description, "send "+itoa(sent)+"% ") {
				t.Errorf("step %d says %q but sends %d%%", i+3, s.Description, sent)
			}
		}
	}
	// The journal's plan (for --resume) says the same.
	j := &Journal{Workload: svcRef, Original: Original{Traffic: w.Traffic, LatestReady: w.LatestReady},
		Steps: []JournalStep{{Kind: StepShiftTraffic, Percent: 10}}}
	if got := j.Plan().Steps[0].Description; got != want[0] {
		t.Errorf("journal plan: %q", got)
	}
}
