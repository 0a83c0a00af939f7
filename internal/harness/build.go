package harness

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	gax "github.com/googleapis/gax-go/v2"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator"
)

// Building worlds through the API, as gcloud or Terraform would (no runnet checks).

// LROWaiter is what the generated LRO clients offer.
type LROWaiter interface {
	WaitOperation(context.Context, *longrunningpb.WaitOperationRequest, ...gax.CallOption) (*longrunningpb.Operation, error)
}

// WaitOperation waits for a Run or VPC Access operation with WaitOperation; an operation that
// failed is its error.
func WaitOperation(ctx context.Context, c LROWaiter, name string) error {
	for {
		op, err := c.WaitOperation(ctx, &longrunningpb.WaitOperationRequest{Name: name})
		if err != nil {
			return err
		}
		if op.GetDone() {
			if e := op.GetError(); e != nil {
				return status.ErrorProto(e)
			}
			return nil
		}
	}
}

// InsertSubnet creates subnetwork name of network (a short name, in project) with range cidr
// and waits for it.
func InsertSubnet(ctx context.Context, e *emulator.Emulator, project, name, network, cidr, region string) error {
	cs, err := compute.NewService(ctx, e.ComputeClientOptions()...)
	if err != nil {
		return err
	}
	op, err := cs.Subnetworks.Insert(project, region, &compute.Subnetwork{
		Name: name, Network: "projects/" + project + "/global/networks/" + network, IpCidrRange: cidr,
	}).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("insert subnet %s: %w", name, err)
	}
	for op.Status != "DONE" {
		if op, err = cs.RegionOperations.Wait(project, region, op.Name).Context(ctx).Do(); err != nil {
			return err
		}
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return fmt.Errorf("insert subnet %s: %s", name, op.Error.Errors[0].Message)
	}
	return nil
}

// CreateServices creates services (full names) like the demo's (DemoLikeService), with vpc as
// their VPC access, 16 at a time, and waits until they are all Ready. The emulator's timing
// should be fast meanwhile.
func CreateServices(ctx context.Context, cl *run.ServicesClient, names []string, vpc *runpb.VpcAccess) error {
	sem := make(chan struct{}, 16)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			parent, id := name[:strings.LastIndex(name, "/services/")], name[strings.LastIndex(name, "/")+1:]
			op, err := cl.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: DemoLikeService(vpc)})
			if err != nil {
				errs[i] = fmt.Errorf("create %s: %w", id, err)
				return
			}
			errs[i] = WaitOperation(ctx, cl.LROClient, op.Name())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// DemoLikeService is a service like the demo's: one container, two env vars, max 10
// instances.
func DemoLikeService(vpc *runpb.VpcAccess) *runpb.Service {
	return &runpb.Service{Template: &runpb.RevisionTemplate{
		Containers: []*runpb.Container{{
			Image: emulator.DemoImage,
			Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
			Env: []*runpb.EnvVar{
				{Name: "VPC_REDISHOST", Values: &runpb.EnvVar_Value{Value: "10.112.0.3"}},
				{Name: "VPC_REDISPORT", Values: &runpb.EnvVar_Value{Value: "6379"}},
			},
		}},
		VpcAccess: vpc,
		Scaling:   &runpb.RevisionScaling{MaxInstanceCount: 10},
	}}
}

// VPCAccess is the VPC access that the keys connector, network, subnet and egress
// (all-traffic) of opts describe; nil when it names neither a connector nor a network
// interface.
func VPCAccess(opts map[string]string) *runpb.VpcAccess {
	va := &runpb.VpcAccess{Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}
	if opts["egress"] == "all-traffic" {
		va.Egress = runpb.VpcAccess_ALL_TRAFFIC
	}
	switch {
	case opts["connector"] != "":
		va.Connector = opts["connector"]
	case opts["network"] != "" || opts["subnet"] != "":
		va.NetworkInterfaces = []*runpb.VpcAccess_NetworkInterface{{Network: opts["network"], Subnetwork: opts["subnet"]}}
	default:
		return nil
	}
	return va
}

// DeployWorkload creates a service or a job (kind) in the demo project, in region, without
// waiting for its operation.
func DeployWorkload(ctx context.Context, addr string, kind, name, region string, maxInstances int, va *runpb.VpcAccess) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	parent := "projects/" + Project + "/locations/" + region
	container := []*runpb.Container{{Image: emulator.DemoImage}}
	switch kind {
	case "service":
		c, err := run.NewServicesClient(ctx, emulator.GRPCClientOptions(addr)...)
		if err != nil {
			return err
		}
		defer c.Close()
		svc := &runpb.Service{Template: &runpb.RevisionTemplate{Containers: container, VpcAccess: va}}
		if maxInstances > 0 {
			svc.Template.Scaling = &runpb.RevisionScaling{MaxInstanceCount: int32(maxInstances)}
		}
		_, err = c.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: name, Service: svc})
		return err
	case "job":
		c, err := run.NewJobsClient(ctx, emulator.GRPCClientOptions(addr)...)
		if err != nil {
			return err
		}
		defer c.Close()
		job := &runpb.Job{Template: &runpb.ExecutionTemplate{Template: &runpb.TaskTemplate{Containers: container, VpcAccess: va}}}
		if maxInstances > 0 {
			job.Template.Parallelism, job.Template.TaskCount = int32(maxInstances), int32(maxInstances)
		}
		_, err = c.CreateJob(ctx, &runpb.CreateJobRequest{Parent: parent, JobId: name, Job: job})
		return err
	}
	return fmt.Errorf("deploy: unknown kind %q (service or job)", kind)
}
