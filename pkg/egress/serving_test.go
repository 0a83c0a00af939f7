package egress

import (
	"slices"
	"strings"
	"testing"
)

const (
	sProject = "demo-project"
	sRegion  = "asia-northeast1"
	sConn    = "projects/demo-project/locations/asia-northeast1/connectors/run-connector"
	sSubnet  = "projects/demo-project/regions/asia-northeast1/subnetworks/direct"
)

var (
	servRef = WorkloadRef{Kind: KindService, Project: sProject, Region: sRegion, Name: "svc"}
	connVPC = VPC{Connector: sConn, Egress: EgressPrivateRangesOnly}
	dirVPC  = VPC{Subnet: sSubnet, Egress: EgressPrivateRangesOnly}
	connRef = ConnectorRef{Project: sProject, Region: sRegion, Name: "run-connector"}
)

func TestServingState(t *testing.T) {
	tests := []struct {
		name         string
		w            Workload
		status       []TrafficTarget
		vpcOf        map[string]VPC
		failed       bool
		wantNames    []string // ServingRevisionNames
		wantServing  string   // Describe
		wantMode     Mode
		wantDiffers  bool
		wantMixed    bool
		wantPinned   bool
		servesDirect bool
		wantOff      []string // Off(dirVPC)
		wantStraggle []string // Stragglers(dirVPC)
		wantUsers    []string // ConnectorUsers(connRef)
	}{
		{
			name:      "follows latest",
			w:         Workload{Ref: servRef, VPC: connVPC, LatestReady: "svc-1", LatestCreated: "svc-1", Traffic: []TrafficTarget{{Latest: true, Percent: 100}}},
			status:    []TrafficTarget{{Latest: true, Percent: 100}},
			vpcOf:     map[string]VPC{"svc-1": connVPC},
			wantNames: []string{"svc-1"}, wantServing: "revision svc-1 (100%, connector: connector run-connector, egress private-ranges-only)",
			wantMode: ModeConnector, wantOff: []string{"svc-1"}, wantUsers: []string{"svc"},
		},
		{
			name: "template moved, traffic pinned to the old revision",
			w: Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-2", LatestCreated: "svc-2",
				Traffic: []TrafficTarget{{Revision: "svc-1", Percent: 100}}},
			status:    []TrafficTarget{{Revision: "svc-1", Percent: 100}},
			vpcOf:     map[string]VPC{"svc-1": connVPC},
			wantNames: []string{"svc-1"}, wantServing: "revision svc-1 (100%, connector: connector run-connector, egress private-ranges-only)",
			wantMode: ModeConnector, wantDiffers: true, wantPinned: true,
			wantOff: []string{"svc-1"}, wantUsers: []string{"svc (revision svc-1, 100% of traffic)"},
		},
		{
			name: "canary: split between old and new settings",
			w: Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-2", LatestCreated: "svc-2",
				Traffic: []TrafficTarget{{Revision: "svc-1", Percent: 90}, {Revision: "svc-2", Percent: 10, Tag: "runnet-direct"}}},
			status:    []TrafficTarget{{Revision: "svc-1", Percent: 90}, {Revision: "svc-2", Percent: 10, Tag: "runnet-direct"}},
			vpcOf:     map[string]VPC{"svc-1": connVPC, "svc-2": dirVPC},
			wantNames: []string{"svc-1", "svc-2"},
			wantMode:  ModeConnector, wantDiffers: true, wantMixed: true, wantPinned: true,
			wantOff: []string{"svc-1"}, wantUsers: []string{"svc (revision svc-1, 90% of traffic)"},
		},
		{
			name: "migrated, an old revision kept behind a tag",
			w: Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-2", LatestCreated: "svc-2",
				Traffic: []TrafficTarget{{Latest: true, Percent: 100}, {Revision: "svc-1", Tag: "old"}}},
			status:    []TrafficTarget{{Latest: true, Percent: 100}, {Revision: "svc-1", Tag: "old"}},
			vpcOf:     map[string]VPC{"svc-1": connVPC, "svc-2": dirVPC},
			wantNames: []string{"svc-2", "svc-1"},
			wantMode:  ModeDirect, servesDirect: true,
			wantStraggle: []string{"svc-1"}, wantUsers: []string{"svc (revision svc-1, tag old)"},
		},
		{
			name: "latest revision failed: the old one serves",
			w: Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-1", LatestCreated: "svc-2",
				Traffic: []TrafficTarget{{Latest: true, Percent: 100}}},
			status:    []TrafficTarget{{Latest: true, Percent: 100}},
			vpcOf:     map[string]VPC{"svc-1": connVPC},
			failed:    true,
			wantNames: []string{"svc-1"},
			wantMode:  ModeConnector, wantDiffers: true,
			wantOff: []string{"svc-1"}, wantUsers: []string{"svc (revision svc-1, 100% of traffic)"},
		},
		{
			name: "failed latest with the target everywhere else is still not in force",
			w: Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-1", LatestCreated: "svc-2",
				Traffic: []TrafficTarget{{Latest: true, Percent: 100}}},
			status:    []TrafficTarget{{Latest: true, Percent: 100}},
			vpcOf:     map[string]VPC{"svc-1": dirVPC},
			failed:    true,
			wantNames: []string{"svc-1"},
			wantMode:  ModeDirect,
		},
		{
			name: "worker pool pinned instance split",
			w: Workload{Ref: WorkloadRef{Kind: KindWorkerPool, Project: sProject, Region: sRegion, Name: "wp"}, VPC: dirVPC,
				LatestReady: "wp-2", LatestCreated: "wp-2", Traffic: []TrafficTarget{{Revision: "wp-1", Percent: 100}}},
			status:    []TrafficTarget{{Revision: "wp-1", Percent: 100}},
			vpcOf:     map[string]VPC{"wp-1": {}},
			wantNames: []string{"wp-1"},
			wantMode:  ModeNone, wantDiffers: true, wantPinned: true, wantOff: []string{"wp-1"},
		},
		{
			name:         "job: the template serves",
			w:            Workload{Ref: WorkloadRef{Kind: KindJob, Project: sProject, Region: sRegion, Name: "j"}, VPC: dirVPC},
			wantMode:     ModeDirect,
			servesDirect: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServingRevisionNames(tt.w, tt.status); !slices.Equal(got, tt.wantNames) {
				t.Errorf("ServingRevisionNames = %v, want %v", got, tt.wantNames)
			}
			s := NewServingState(tt.w, tt.status, tt.vpcOf, tt.failed, "")
			if tt.wantServing != "" && s.Describe() != tt.wantServing {
				t.Errorf("Describe = %q, want %q", s.Describe(), tt.wantServing)
			}
			if s.Mode() != tt.wantMode || s.TemplateDiffers() != tt.wantDiffers || s.Mixed() != tt.wantMixed || s.Pinned != tt.wantPinned {
				t.Errorf("mode %s differs %v mixed %v pinned %v; want %s %v %v %v", s.Mode(), s.TemplateDiffers(), s.Mixed(), s.Pinned,
					tt.wantMode, tt.wantDiffers, tt.wantMixed, tt.wantPinned)
			}
			if s.Serves(dirVPC) != tt.servesDirect {
				t.Errorf("Serves(direct) = %v", s.Serves(dirVPC))
			}
			names := func(rs []ServingRevision) []string {
				var out []string
				for _, r := range rs {
					out = append(out, r.Name)
				}
				return out
			}
			if got := names(s.Off(dirVPC)); !slices.Equal(got, tt.wantOff) {
				t.Errorf("Off = %v, want %v", got, tt.wantOff)
			}
			if got := names(s.Stragglers(dirVPC)); !slices.Equal(got, tt.wantStraggle) {
				t.Errorf("Stragglers = %v, want %v", got, tt.wantStraggle)
			}
			var users []string
			for _, u := range s.ConnectorUsers(connRef) {
				users = append(users, u.String())
			}
			if !slices.Equal(users, tt.wantUsers) {
				t.Errorf("ConnectorUsers = %q, want %q", users, tt.wantUsers)
			}
		})
	}
}

func TestServingStateLargestShareWins(t *testing.T) {
	// Two revisions with the connector (30% + 30%) outweigh one with Direct VPC (40%).
	w := Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-3", LatestCreated: "svc-3",
		Traffic: []TrafficTarget{{Revision: "svc-1", Percent: 30}, {Revision: "svc-2", Percent: 30}, {Revision: "svc-3", Percent: 40}}}
	s := NewServingState(w, w.Traffic, map[string]VPC{"svc-1": connVPC, "svc-2": connVPC, "svc-3": dirVPC}, false, "")
	if s.Mode() != ModeConnector || !s.Mixed() {
		t.Errorf("mode %s mixed %v", s.Mode(), s.Mixed())
	}
	if s.Revisions[0].Name != "svc-3" || s.Revisions[0].Percent != 40 || !s.Revisions[0].Latest {
		t.Errorf("revisions %+v", s.Revisions)
	}
	if got := s.Connectors(); !slices.Equal(got, []string{sConn}) {
		t.Errorf("Connectors = %v", got)
	}
	if got := s.Subnets(); !slices.Equal(got, []string{sSubnet}) {
		t.Errorf("Subnets = %v", got)
	}
}

func TestServingStateJobExecutions(t *testing.T) {
	job := WorkloadRef{Kind: KindJob, Project: sProject, Region: sRegion, Name: "j"}
	s := NewServingState(Workload{Ref: job, VPC: dirVPC}, nil, nil, false, "")
	s.Executions = []RunningExecution{{Name: "j-abc", VPC: connVPC}}
	users := s.ConnectorUsers(connRef)
	if len(users) != 1 || users[0].String() != "job/j (execution j-abc, running)" {
		t.Errorf("users %v", users)
	}
	if !strings.Contains(s.Describe(), "the template") || s.TemplateDiffers() {
		t.Errorf("describe %q differs %v", s.Describe(), s.TemplateDiffers())
	}
}

func TestPinned(t *testing.T) {
	for _, tc := range []struct {
		ts   []TrafficTarget
		want bool
	}{
		{nil, false},
		{[]TrafficTarget{{Latest: true, Percent: 100}}, false},
		{[]TrafficTarget{{Latest: true, Percent: 10}, {Revision: "a", Percent: 90}}, false},
		{[]TrafficTarget{{Revision: "a", Percent: 100}}, true},
		{[]TrafficTarget{{Revision: "a", Percent: 100}, {Latest: true, Tag: "next"}}, true},
	} {
		if got := Pinned(tc.ts); got != tc.want {
			t.Errorf("Pinned(%v) = %v", tc.ts, got)
		}
	}
}

func TestBuildPlanFromServingState(t *testing.T) {
	wp := WorkloadRef{Kind: KindWorkerPool, Project: sProject, Region: sRegion, Name: "wp"}
	withServing := func(w Workload, vpcOf map[string]VPC, failed bool) Workload {
		w.Serving = NewServingState(w, w.Traffic, vpcOf, failed, "")
		return w
	}
	kinds := func(p Plan) string {
		var out []string
		for _, s := range p.Steps {
			k := string(s.Kind)
			if s.Force {
				k += "!"
			}
			out = append(out, k)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name     string
		w        Workload
		steps    string
		moveFrom []string
		into     string
		noOp     bool
		note     string
	}{
		{"pinned to the old revision", withServing(Workload{Ref: servRef, VPC: connVPC, LatestReady: "svc-2", LatestCreated: "svc-2",
			Traffic: []TrafficTarget{{Revision: "svc-1", Percent: 100}}}, map[string]VPC{"svc-1": connVPC}, false),
			"deploy-and-shift", []string{"svc-1"}, "", false, "the traffic is pinned"},
		{"template has it, traffic pinned elsewhere", withServing(Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-2", LatestCreated: "svc-2",
			Traffic: []TrafficTarget{{Revision: "svc-1", Percent: 100}}}, map[string]VPC{"svc-1": connVPC}, false),
			"verify shift-traffic", []string{"svc-1"}, "svc-2", false, "revision svc-2 takes the place of svc-1"},
		{"template has it, its revision failed", withServing(Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-1", LatestCreated: "svc-2",
			Traffic: []TrafficTarget{{Latest: true, Percent: 100}}}, map[string]VPC{"svc-1": connVPC}, true),
			"deploy-and-shift!", []string{"svc-1"}, "", false, "the latest revision, svc-2, failed"},
		{"in force, a tag left behind", withServing(Workload{Ref: servRef, VPC: dirVPC, LatestReady: "svc-2", LatestCreated: "svc-2",
			Traffic: []TrafficTarget{{Latest: true, Percent: 100}, {Revision: "svc-1", Tag: "old"}}}, map[string]VPC{"svc-1": connVPC, "svc-2": dirVPC}, false),
			"", nil, "", true, "revision svc-1 keeps its tag old"},
		{"worker pool, pinned split", withServing(Workload{Ref: wp, LatestReady: "wp-1", LatestCreated: "wp-1",
			Traffic: []TrafficTarget{{Revision: "wp-1", Percent: 100}}}, map[string]VPC{"wp-1": {}}, false),
			"update-template verify shift-traffic", []string{"wp-1"}, "", false, "the instance split is pinned"},
		{"worker pool following the latest", withServing(Workload{Ref: wp, LatestReady: "wp-1", LatestCreated: "wp-1",
			Traffic: []TrafficTarget{{Latest: true, Percent: 100}}}, map[string]VPC{"wp-1": {}}, false),
			"update-template verify", []string{"wp-1"}, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := BuildPlan(PlanOptions{}, tt.w, dirVPC, nil)
			if kinds(p) != tt.steps || !slices.Equal(p.MoveFrom, tt.moveFrom) || p.Into != tt.into || p.NoOp != tt.noOp {
				t.Errorf("steps %q, moveFrom %v, into %q, noOp %v", kinds(p), p.MoveFrom, p.Into, p.NoOp)
			}
			if tt.note != "" && !strings.Contains(renderAll(p.Notes), tt.note) {
				t.Errorf("notes %q lack %q", renderAll(p.Notes), tt.note)
			}
		})
	}
}
