package emulator

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/runapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/vpcaccessapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// The demo seed is the world of the article runnet grew from: a Flask service reaching a Redis
// (Memorystore) instance in a custom-mode VPC through a Serverless VPC Access connector, with
// a subnet ready for Direct VPC egress.
const (
	DemoProject          = "demo-project"
	DemoRegion           = "asia-northeast1"
	DemoNetwork          = "run-vpc"
	DemoSubnet           = "run-subnet"
	DemoConnectorSubnet  = "run-connector-subnet"
	DemoDirectSubnet     = "run-direct-vpc-egress"
	DemoConnector        = "run-connector"
	DemoService          = "run-service"
	DemoJob              = "nightly-export"
	DemoImage            = "asia-northeast1-docker.pkg.dev/demo-project/run-repo/flask:test"
	demoRedisHost        = "10.112.0.3"
	demoRedisPort        = "6379"
	demoFlowLogsInterval = "INTERVAL_10_MIN"
)

func demoLogConfig() *compute.SubnetworkLogConfig {
	return &compute.SubnetworkLogConfig{
		Enable: true, AggregationInterval: demoFlowLogsInterval, FlowSampling: 0.5, Metadata: "INCLUDE_ALL_METADATA",
	}
}

func seedDemoLocked(w *world.World) error {
	p, r := DemoProject, DemoRegion
	if _, err := computeapi.PutNetworkLocked(w, p, &compute.Network{
		Name: DemoNetwork, AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"},
	}); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	netURL := "https://www.googleapis.com/compute/v1/projects/" + p + "/global/networks/" + DemoNetwork
	for _, s := range []struct{ name, cidr string }{
		{DemoSubnet, "10.5.0.0/24"}, {DemoConnectorSubnet, "10.15.0.0/28"}, {DemoDirectSubnet, "10.8.0.0/24"},
	} {
		if _, err := computeapi.PutSubnetworkLocked(w, p, r, &compute.Subnetwork{
			Name: s.name, Network: netURL, IpCidrRange: s.cidr, LogConfig: demoLogConfig(),
		}); err != nil {
			return fmt.Errorf("subnetwork %s: %w", s.name, err)
		}
	}
	loc := "projects/" + p + "/locations/" + r
	conn := loc + "/connectors/" + DemoConnector
	if _, err := vpcaccessapi.PutConnectorLocked(w, &vpcaccesspb.Connector{
		Name:         conn,
		Subnet:       &vpcaccesspb.Connector_Subnet{Name: DemoConnectorSubnet, ProjectId: p},
		MinInstances: 2, MaxInstances: 3, MachineType: "f1-micro",
	}); err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	env := []*runpb.EnvVar{
		{Name: "VPC_REDISHOST", Values: &runpb.EnvVar_Value{Value: demoRedisHost}},
		{Name: "VPC_REDISPORT", Values: &runpb.EnvVar_Value{Value: demoRedisPort}},
	}
	vpc := &runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
	if _, err := runapi.PutServiceLocked(w, &runpb.Service{
		Name: loc + "/services/" + DemoService,
		Template: &runpb.RevisionTemplate{
			Containers: []*runpb.Container{{
				Image: DemoImage,
				Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
				Env:   env,
			}},
			VpcAccess: vpc,
			Scaling:   &runpb.RevisionScaling{MaxInstanceCount: 10},
		},
	}); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if _, err := runapi.PutJobLocked(w, &runpb.Job{
		Name: loc + "/jobs/" + DemoJob,
		Template: &runpb.ExecutionTemplate{
			TaskCount: 1,
			Template: &runpb.TaskTemplate{
				Containers: []*runpb.Container{{Image: DemoImage, Args: []string{"python", "export.py"}, Env: env}},
				VpcAccess:  &runpb.VpcAccess{Connector: conn, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY},
			},
		},
	}); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}

// SeedStory is the world at the start of the article, before any VPC access: network run-vpc
// with its subnet run-subnet, and run-service deployed with no VPC access (configured to find
// Redis at its private address, which it cannot reach yet). `runnet demo` tells the rest of the
// story from here with real commands: the connector's subnet, the Direct VPC egress subnet,
// the connector, attaching it, migrating to Direct VPC egress, and back to none.
const SeedStory = "story"

// Seeds lists every seed the emulator knows.
var Seeds = []string{SeedEmpty, SeedDemo, SeedStory, SeedSharedVPC}

func knownSeed(name string) bool {
	for _, s := range Seeds {
		if s == name {
			return true
		}
	}
	return false
}

func seedStoryLocked(w *world.World) error {
	p, r := DemoProject, DemoRegion
	if _, err := computeapi.PutNetworkLocked(w, p, &compute.Network{
		Name: DemoNetwork, AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"},
	}); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	netURL := "https://www.googleapis.com/compute/v1/projects/" + p + "/global/networks/" + DemoNetwork
	if _, err := computeapi.PutSubnetworkLocked(w, p, r, &compute.Subnetwork{
		Name: DemoSubnet, Network: netURL, IpCidrRange: "10.5.0.0/24", LogConfig: demoLogConfig(),
	}); err != nil {
		return fmt.Errorf("subnetwork %s: %w", DemoSubnet, err)
	}
	loc := "projects/" + p + "/locations/" + r
	if _, err := runapi.PutServiceLocked(w, &runpb.Service{
		Name: loc + "/services/" + DemoService,
		Template: &runpb.RevisionTemplate{
			Containers: []*runpb.Container{{
				Image: DemoImage,
				Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
				Env: []*runpb.EnvVar{
					{Name: "VPC_REDISHOST", Values: &runpb.EnvVar_Value{Value: demoRedisHost}},
					{Name: "VPC_REDISPORT", Values: &runpb.EnvVar_Value{Value: demoRedisPort}},
				},
			}},
			Scaling: &runpb.RevisionScaling{MaxInstanceCount: 10},
		},
	}); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}
