package emulator_test

import (
	"strings"
	"testing"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	vpcaccess "cloud.google.com/go/vpcaccess/apiv1"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/iterator"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// The story seed is where the article begins: network run-vpc with run-subnet, and
// run-service, Ready, with no VPC access; no connector, no other subnet.
func TestStorySeed(t *testing.T) {
	e := start(t, emulator.Options{Seed: emulator.SeedStory})
	c := ctx(t)

	svcs, err := run.NewServicesClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer svcs.Close()
	s, err := svcs.GetService(c, &runpb.GetServiceRequest{Name: loc + "/services/" + emulator.DemoService})
	if err != nil {
		t.Fatal(err)
	}
	if s.GetTemplate().GetVpcAccess() != nil || s.GetLatestReadyRevision() == "" || s.GetTerminalCondition().GetState() != runpb.Condition_CONDITION_SUCCEEDED {
		t.Errorf("service: vpc %v, latest ready %q, condition %v", s.GetTemplate().GetVpcAccess(), s.GetLatestReadyRevision(), s.GetTerminalCondition())
	}
	if env := s.GetTemplate().GetContainers()[0].GetEnv(); len(env) != 2 || env[0].GetName() != "VPC_REDISHOST" {
		t.Errorf("env %v", env)
	}

	cs, err := compute.NewService(c, e.ComputeClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := cs.Subnetworks.List(emulator.DemoProject, emulator.DemoRegion).Context(c).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(subs.Items) != 1 || subs.Items[0].Name != emulator.DemoSubnet || subs.Items[0].IpCidrRange != "10.5.0.0/24" ||
		!strings.HasSuffix(subs.Items[0].Network, "/networks/"+emulator.DemoNetwork) || subs.Items[0].LogConfig == nil || !subs.Items[0].LogConfig.Enable {
		t.Errorf("subnets %+v", subs.Items)
	}

	vc, err := vpcaccess.NewClient(c, e.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	it := vc.ListConnectors(c, &vpcaccesspb.ListConnectorsRequest{Parent: loc})
	if conn, err := it.Next(); err != iterator.Done {
		t.Errorf("connectors: %v, %v; want none", conn, err)
	}

	// Seed by name, and the list of seeds.
	if err := e.Seed(emulator.SeedDemo); err != nil {
		t.Fatal(err)
	}
	if err := e.Seed(emulator.SeedStory); err != nil {
		t.Fatal(err)
	}
	if err := e.Seed("nope"); err == nil || !strings.Contains(err.Error(), "want one of empty, demo, story") {
		t.Errorf("Seed(nope) = %v", err)
	}
	if _, err := emulator.New(emulator.Options{Seed: "nope"}); err == nil || !strings.Contains(err.Error(), "want one of empty, demo, story") {
		t.Errorf("New(nope) = %v", err)
	}
}
