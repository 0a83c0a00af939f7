package shared

import (
	"errors"
	"fmt"
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
)

func TestRestoreTrafficCommand(t *testing.T) {
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: "p", Region: "r", Name: "svc"}
	for _, tt := range []struct {
		ts   []egress.TrafficTarget
		want string
	}{
		{nil, "--to-latest --clear-tags"},
		{[]egress.TrafficTarget{{Latest: true, Percent: 100}}, "--to-latest --clear-tags"},
		{[]egress.TrafficTarget{{Revision: "svc-1", Percent: 100}}, "--to-revisions svc-1=100 --clear-tags"},
		{[]egress.TrafficTarget{
			{Revision: "svc-1", Percent: 80, Tag: "blue"},
			{Latest: true, Percent: 20, Tag: "green"},
			{Revision: "svc-0", Percent: 0, Tag: "old"},
		}, "--to-revisions svc-1=80,LATEST=20 --set-tags blue=svc-1,green=LATEST,old=svc-0"},
		{[]egress.TrafficTarget{{Latest: true, Percent: 100, Tag: "live"}, {Revision: "svc-1", Tag: "pinned"}}, "--to-latest --set-tags live=LATEST,pinned=svc-1"},
		{[]egress.TrafficTarget{{Revision: "svc-1", Percent: 50}, {Revision: "svc-1", Percent: 30, Tag: "a"}, {Revision: "svc-2", Percent: 20}},
			"--to-revisions svc-1=80,svc-2=20 --set-tags a=svc-1"},
	} {
		if got, want := RestoreTrafficCommand(ref, tt.ts), "gcloud run services update-traffic svc "+tt.want; got != want {
			t.Errorf("%v:\n got %s\nwant %s", tt.ts, got, want)
		}
	}
}

// Every action the domain can suggest has its command line.
func TestCommand(t *testing.T) {
	svc := egress.WorkloadRef{Kind: egress.KindService, Project: "p", Region: "r", Name: "svc"}
	job := egress.WorkloadRef{Kind: egress.KindJob, Project: "p", Region: "r", Name: "j"}
	conn := "projects/p/locations/r/connectors/c"
	for _, tt := range []struct {
		a    egress.Action
		want string
	}{
		{egress.Action{Kind: egress.ActionStatus, Workload: job}, "runnet status job/j"},
		{egress.Action{Kind: egress.ActionResume, Workload: svc}, "runnet migrate --resume svc"},
		{egress.Action{Kind: egress.ActionResume, Workload: svc, Where: true}, "runnet migrate --resume svc --project p --region r"},
		{egress.Action{Kind: egress.ActionResumeRollback, Workload: svc}, "runnet migrate --resume svc --rollback"},
		{egress.Action{Kind: egress.ActionResumeRollback, Workload: svc, Where: true}, "runnet migrate --resume svc --rollback --project p --region r"},
		{egress.Action{Kind: egress.ActionBreakLock, Workload: svc}, "runnet migrate --resume svc --break-lock"},
		{egress.Action{Kind: egress.ActionRestoreVPC, Workload: svc, VPC: egress.VPC{Connector: conn, Egress: egress.EgressAllTraffic}, Where: true},
			"runnet attach svc --connector " + conn + " --egress all-traffic --project p --region r"},
		{egress.Action{Kind: egress.ActionRestoreVPC, Workload: job, VPC: egress.VPC{Network: "n", Subnet: "s", Egress: egress.EgressPrivateRangesOnly}},
			"runnet attach job/j --network n --subnet s --clear-network-tags --egress private-ranges-only"},
		{egress.Action{Kind: egress.ActionRestoreVPC, Workload: job, VPC: egress.VPC{Subnet: "s", Tags: []string{"a", "b"}}},
			"runnet attach job/j --subnet s --network-tags a,b --egress private-ranges-only"},
		{egress.Action{Kind: egress.ActionRestoreVPC, Workload: svc, Where: true}, "runnet detach svc --yes --project p --region r"},
		{egress.Action{Kind: egress.ActionRestoreTraffic, Workload: svc, Where: true}, "gcloud run services update-traffic svc --to-latest --clear-tags --project p --region r"},
		{egress.Action{Kind: egress.ActionRemoveTags, Workload: svc, Tags: []string{"old", "x"}}, "gcloud run services update-traffic svc --remove-tags old,x"},
		{egress.Action{Kind: egress.ActionAttach}, "runnet attach"},
		{egress.Action{Kind: egress.ActionDetach, Workload: job}, "runnet detach job/j"},
		{egress.Action{Kind: egress.ActionCreateSubnet}, "runnet subnet create"},
		{egress.Action{Kind: egress.ActionDeleteSubnet}, "runnet subnet delete"},
		{egress.Action{Kind: egress.ActionDescribeSubnet}, "runnet subnet describe"},
		{egress.Action{Kind: egress.ActionPlanSubnet, MaxInstances: 100}, "runnet subnet plan --max-instances 100"},
		{egress.Action{Kind: egress.ActionCreateConnector, Name: "c1", Region: "r"}, "runnet connector create c1 --region r --network NETWORK --range RANGE"},
		{egress.Action{Kind: egress.ActionDescribeConnector, Name: "c1"}, "runnet connector describe c1"},
		{egress.Action{Kind: egress.ActionRecycleConnector, Name: "c1"}, "runnet connector recycle c1"},
		{egress.Action{Kind: egress.ActionGrantRole, Resource: "projects/h/regions/r/subnetworks/s", Role: "roles/compute.networkUser", Member: "serviceAccount:a@b"},
			"gcloud compute networks subnets add-iam-policy-binding s --region r --project h --member serviceAccount:a@b --role roles/compute.networkUser"},
		{egress.Action{Kind: egress.ActionGrantRole, Resource: "projects/h", Role: "roles/vpcaccess.user", Member: "serviceAccount:a@b"},
			"gcloud projects add-iam-policy-binding h --member serviceAccount:a@b --role roles/vpcaccess.user"},
		{egress.Action{Kind: egress.ActionAttachServiceProject, Name: "team-a", Resource: "projects/h"},
			"gcloud compute shared-vpc associated-projects add team-a --host-project h"},
	} {
		if got := Command(tt.a); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.a.Kind, got, tt.want)
		}
	}
}

// An error's advice goes after its message, wherever it is in the chain; a message's percent
// signs survive.
func TestErrorText(t *testing.T) {
	svc := egress.WorkloadRef{Kind: egress.KindService, Project: "p", Region: "r", Name: "svc"}
	inner := egress.WithAdvice(errors.New("100% busy"), egress.Say("; see '", egress.Action{Kind: egress.ActionStatus, Workload: svc}, "'"))
	err := fmt.Errorf("step 2: %w", inner)
	if got, want := ErrorText(err), "step 2: 100% busy; see 'runnet status svc'"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if ErrorText(nil) != "" || ErrorText(errors.New("50%")) != "50%" {
		t.Errorf("plain errors changed")
	}
}
