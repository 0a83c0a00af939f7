package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// Serving truth across projects: in a Shared VPC, a service project's workload whose template
// moved to Direct VPC egress while its traffic stays on a revision made with the host's
// connector is still that connector's user, for `connector users`, the inventory of many
// projects (through Cloud Asset Inventory and by listing) and `connector recycle`.

// pinnedDirectInServiceProject moves the template of service name of project to Direct VPC
// egress on the host's subnet while 100% of its traffic stays pinned on the revision serving
// now (made with the host's connector), as `gcloud run deploy --no-traffic` then nothing
// else would. It returns the revision that keeps serving.
func pinnedDirectInServiceProject(t *testing.T, er *emuRun, project, name string) string {
	t.Helper()
	c := er.Clients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: project, Region: emulator.SharedVPCRegion, Name: name}
	cur, err := c.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	serving := cur.LatestReady
	// The project's service agent may use the host's subnet: the new revision starts, and
	// still receives no traffic.
	subnet := "projects/" + emulator.SharedVPCHost + "/regions/" + emulator.SharedVPCRegion + "/subnetworks/" + emulator.SharedVPCDirectSubnet
	if err := er.E.Grant(subnet, "roles/compute.networkUser", emulator.ServiceAgent(project)); err != nil {
		t.Fatal(err)
	}
	s := proto.Clone(cur.Raw).(*runpb.Service)
	s.Template.VpcAccess = &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY,
		NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{
			Network:    "projects/" + emulator.SharedVPCHost + "/global/networks/" + emulator.SharedVPCNetwork,
			Subnetwork: subnet,
		}}}
	s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: serving, Percent: 100}}
	cl, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}
	op, err := cl.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatalf("update %s/%s: %v", project, name, err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatalf("update %s/%s: %v", project, name, err)
	}
	// The template says Direct VPC egress now; the traffic does not.
	after, err := c.GetWorkload(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if after.VPC.Mode() != egress.ModeDirect || after.LatestCreated == serving {
		t.Fatalf("%s/%s: template mode %s, latest created %s (serving %s)", project, name, after.VPC.Mode(), after.LatestCreated, serving)
	}
	return serving
}

// pinnedVia is how the pinned service uses the connector.
func pinnedVia(rev string) string { return "revision " + rev + ", 100% of traffic" }

func TestConnectorUsersAcrossProjectsFromWhatServes(t *testing.T) {
	er := newSharedVPCEmu(t)
	rev := pinnedDirectInServiceProject(t, er, "team-a", "api")
	r := er.Run(t, false, "", "connector", "users", emulator.SharedVPCConnectorName(), "--format", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var users []WorkloadUser
	if err := json.Unmarshal([]byte(r.Stdout), &users); err != nil {
		t.Fatal(err)
	}
	var found *WorkloadUser
	for i, u := range users {
		if u.Project == "team-a" && u.Workload == "api" {
			found = &users[i]
		}
	}
	if len(users) != 9 || found == nil || !slices.Equal(found.Via, []string{pinnedVia(rev)}) {
		t.Errorf("users = %+v; want all nine, team-a/api via %q", users, pinnedVia(rev))
	}
}

// scopeInventoryWorkload finds project/workload in a scope inventory.
func scopeInventoryWorkload(t *testing.T, inv ScopeInventory, project, workload string) InventoryWorkload {
	t.Helper()
	for _, w := range inv.Workloads {
		if w.Project == project && w.Workload == workload {
			return w
		}
	}
	t.Fatalf("%s/%s not in the inventory: %v", project, workload, workloadIDs(inv))
	return InventoryWorkload{}
}

func TestInventoryScopeFromWhatServes(t *testing.T) {
	er := newSharedVPCEmu(t)
	rev := pinnedDirectInServiceProject(t, er, "team-a", "api")
	conn := emulator.SharedVPCConnectorName()
	for _, tc := range []struct {
		name      string
		principal string
		args      []string
		via       string
		users     int
	}{
		{"organization through Cloud Asset Inventory", emulator.SharedVPCPlatform, []string{"--organization", emulator.SharedVPCOrg}, "cloudasset", 9},
		{"projects through Cloud Asset Inventory", emulator.SharedVPCPlatform, []string{"--projects", "team-a,net-host"}, "cloudasset", 3},
		{"projects by listing", "user:nobody@example.com", []string{"--projects", "team-a,net-host", "--regions", emulator.SharedVPCRegion}, "listing", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er.E.SetPrincipal(tc.principal)
			r := er.Run(t, false, "", append([]string{"inventory", "--format", "json"}, tc.args...)...)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			inv := decodeScopeInventory(t, r)
			if len(inv.Sources) == 0 || inv.Sources[0].Via != tc.via {
				t.Errorf("sources = %+v, want %s", inv.Sources, tc.via)
			}
			w := scopeInventoryWorkload(t, inv, "team-a", "api")
			if w.Mode != "connector" || !strings.HasSuffix(w.Connector, "/connectors/"+emulator.SharedVPCConnector) ||
				!w.TemplateDiffers || w.Template.Mode != "direct" {
				t.Errorf("team-a/api = %+v; want mode connector (what serves), template direct", w)
			}
			// One revision read, the pinned one's: the other workloads serve their templates.
			if inv.Calls.Serving != 1 {
				t.Errorf("calls = %+v: want one read, the pinned revision", inv.Calls)
			}
			var cn *InventoryConnector
			for i := range inv.Connectors {
				if strings.HasSuffix(inv.Connectors[i].FullName, "/connectors/"+emulator.SharedVPCConnector) {
					cn = &inv.Connectors[i]
				}
			}
			if cn == nil || len(cn.Users) != tc.users || cn.Unused {
				t.Fatalf("connector %s = %+v; want %d users", conn, cn, tc.users)
			}
			var via []string
			for _, u := range cn.Users {
				if u.Project == "team-a" && u.Workload == "api" {
					via = u.Via
				}
			}
			if !slices.Equal(via, []string{pinnedVia(rev)}) {
				t.Errorf("team-a/api uses the connector via %q, want %q", via, pinnedVia(rev))
			}
			if len(inv.SharedConnectors) != 1 || inv.SharedConnectors[0].Workloads != tc.users {
				t.Errorf("shared connectors = %+v", inv.SharedConnectors)
			}
		})
	}
}

// Recycling the host's connector: its users are all in the service projects, which recycle
// does not move, one of them only through the revision its traffic is pinned on. The dry run
// and the recycle say so, project by project, and the old connector is kept.
func TestRecycleHostConnectorKeepsItForServiceProjects(t *testing.T) {
	er := newSharedVPCEmu(t)
	rev := pinnedDirectInServiceProject(t, er, "team-a", "api")
	args := []string{"--project", emulator.SharedVPCHost, "--region", emulator.SharedVPCRegion, "connector", "recycle", emulator.SharedVPCConnector,
		"--new-name", "shared-conn-2", "--create-subnet", "--range", "auto", "--format", "json"}
	check := func(r result, status string) RecycleReport {
		t.Helper()
		var rep RecycleReport
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("exit %d, stdout is not the report: %v\n%s\n%s", r.Code, err, r.Stdout, r.Stderr)
		}
		if rep.Old.Status != status || len(rep.Old.Users) != 9 || !slices.Contains(rep.Old.Users, "team-a/api") {
			t.Errorf("old = %+v; want %s with the nine users of the service projects", rep.Old, status)
		}
		for _, want := range []string{"9 workloads of 3 other projects, which recycle does not move",
			"team-a: api (" + pinnedVia(rev) + "), job/batch, web; team-b: ", "runnet migrate --all --from-connector " + emulator.SharedVPCConnectorName()} {
			if !strings.Contains(rep.Old.Reason, want) {
				t.Errorf("reason %q lacks %q", rep.Old.Reason, want)
			}
		}
		return rep
	}

	r := er.Run(t, false, "", append(args, "--dry-run")...)
	if r.Code != 0 {
		t.Fatalf("dry run: exit %d: %s", r.Code, r.Stderr)
	}
	check(r, recyclePlanned)
	if !strings.Contains(r.Stderr, "connector shared-conn will be kept: still used by 9 workloads of 3 other projects") {
		t.Errorf("dry run stderr = %q", r.Stderr)
	}

	r = er.Run(t, false, "", append(args, "--yes")...)
	if r.Code != 0 {
		t.Errorf("recycle: exit %d: %s", r.Code, r.Stderr)
	}
	if rep := check(r, recycleKept); rep.New.Status != recycleCreated || len(rep.Workloads) != 0 {
		t.Errorf("new = %+v, workloads = %+v; want the new connector created and nothing moved", rep.New, rep.Workloads)
	}
	if !strings.Contains(r.Stderr, "connector shared-conn was kept: still used by 9 workloads") {
		t.Errorf("stderr = %q", r.Stderr)
	}
	// The old connector still exists, and team-a/api still uses it through its revision.
	r = er.Run(t, false, "", "connector", "users", emulator.SharedVPCConnectorName(), "--format", "json")
	if r.Code != 0 || !strings.Contains(r.Stdout, pinnedVia(rev)) || strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("connector users after the recycle: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
