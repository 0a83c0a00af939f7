package runapi

import (
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Register adds the Run v2 Services, Revisions, Jobs, Executions and WorkerPools services to s,
// all serving w. (Operations are served by lroapi.)
func Register(s *grpc.Server, w *world.World) {
	iam := newIAMStore()
	runpb.RegisterServicesServer(s, &servicesServer{w: w, iam: iam})
	runpb.RegisterRevisionsServer(s, &revisionsServer{w: w})
	runpb.RegisterJobsServer(s, &jobsServer{w: w, iam: iam})
	runpb.RegisterExecutionsServer(s, &executionsServer{w: w})
	runpb.RegisterWorkerPoolsServer(s, &workerPoolsServer{w: w, iam: iam})
}
