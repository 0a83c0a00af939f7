package runapi

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// The Direct VPC egress instance quota. Cloud Run docs ("Direct VPC egress with a VPC
// network", Limitations): "A Cloud Run usage quota limits the maximum number of instances you
// can configure to use Direct VPC egress. The maximum number is configured per Cloud Run
// revision or job execution." The limit is per project and region (world.DirectVPCQuotaLocked,
// readable through the Service Usage API). Where a test set it, a revision configured with more
// maximum instances fails to deploy, and a Direct VPC revision cannot scale past it; the
// default is reported but not enforced (world.EnforcedDirectVPCQuotaLocked).

// DirectVPCQuotaMetric and DirectVPCQuotaLimit name the quota in error messages, as the Service
// Usage API shows it (serviceusageapi).
const (
	DirectVPCQuotaMetric = "Direct VPC egress instances"
	DirectVPCQuotaLimit  = "Direct VPC egress instances per project per region"
)

// quotaExceeded is Google's standard quota error text ("Quota exceeded for quota metric '…' and
// limit '…' of service '…' for consumer '…'."), followed by what exceeded it.
func quotaExceeded(l loc, want int, limit int64) string {
	return fmt.Sprintf("Quota exceeded for quota metric '%s' and limit '%s' of service 'run.googleapis.com' for consumer 'project_number:%s'. %d instances requested, the limit in %s is %d.",
		DirectVPCQuotaMetric, DirectVPCQuotaLimit, projectNumber(l.project), want, l.region, limit)
}

// directQuotaLocked checks a Direct VPC revision's configured maximum instances against the
// quota of its project and region.
func directQuotaLocked(w *world.World, l loc, rev *runpb.Revision) *vpcFailure {
	if len(rev.GetVpcAccess().GetNetworkInterfaces()) == 0 {
		return nil
	}
	limit, set := w.EnforcedDirectVPCQuotaLocked(l.project, l.region)
	if max := int(rev.GetScaling().GetMaxInstanceCount()); set && max > 0 && int64(max) > limit {
		return &vpcFailure{msg: quotaExceeded(l, max, limit), reason: runpb.Condition_REVISION_FAILED}
	}
	return nil
}

// checkScaleQuotaLocked refuses to run more Direct VPC instances than the quota allows.
func checkScaleQuotaLocked(w *world.World, l loc, rev *runpb.Revision, instances int) error {
	if len(rev.GetVpcAccess().GetNetworkInterfaces()) == 0 {
		return nil
	}
	if limit, set := w.EnforcedDirectVPCQuotaLocked(l.project, l.region); set && int64(instances) > limit {
		return status.Error(codes.ResourceExhausted, quotaExceeded(l, instances, limit))
	}
	return nil
}
