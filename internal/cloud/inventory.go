package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file holds the reads `runnet inventory` makes over many regions: workload lists that
// stream page by page with large pages and keep no API resource, and the list of regions where
// Cloud Run is offered.

// InventoryPageSize is the page size the inventory's Cloud Run list calls ask for. The API may
// return smaller pages (AIP-158 lets a server cap the size); asking for large ones keeps the
// number of dependent round trips low when a region holds hundreds of workloads.
const InventoryPageSize = 500

// CloudRunRegions is the fallback list of regions where Cloud Run is offered, used only when
// neither Cloud Run's nor Serverless VPC Access's ListLocations answers. Source: Cloud Run docs,
// "Cloud Run locations" (Tier 1 and Tier 2 pricing lists), as of 2025.
var CloudRunRegions = []string{
	"africa-south1",
	"asia-east1", "asia-east2",
	"asia-northeast1", "asia-northeast2", "asia-northeast3",
	"asia-south1", "asia-south2",
	"asia-southeast1", "asia-southeast2",
	"australia-southeast1", "australia-southeast2",
	"europe-central2", "europe-north1", "europe-southwest1",
	"europe-west1", "europe-west10", "europe-west12", "europe-west2", "europe-west3",
	"europe-west4", "europe-west6", "europe-west8", "europe-west9",
	"me-central1", "me-central2", "me-west1",
	"northamerica-northeast1", "northamerica-northeast2",
	"southamerica-east1", "southamerica-west1",
	"us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
	"us-west1", "us-west2", "us-west3", "us-west4",
}

// Where RunRegions found its list.
const (
	RegionsFromRun       = "run.locations"
	RegionsFromVPCAccess = "vpcaccess.locations"
	RegionsBuiltIn       = "built-in"
)

// pagedIterator is what the generated list iterators offer.
type pagedIterator[T any] interface {
	Next() (T, error)
	PageInfo() *iterator.PageInfo
}

// scanPages calls each for every item of a paged list, page by page as the pages arrive, so
// the caller keeps only what it wants of each. open starts the list at a page token. A
// transient failure resumes at the page that failed (the items before it are not read
// again), within DefaultRetry's attempts for the whole list.
func scanPages[T any](ctx context.Context, open func(ctx context.Context, token string) pagedIterator[T], each func(T) error) error {
	token := ""
	return DefaultRetry.Do(ctx, func(ctx context.Context) error {
		it := open(ctx, token)
		for {
			v, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			if err != nil {
				// The failed fetch left the token of the page it wanted.
				token = it.PageInfo().Token
				return err
			}
			if err := each(v); err != nil {
				return err
			}
		}
	})
}

// WorkloadListError is a list of one kind of workload that failed in one region.
type WorkloadListError struct {
	Kind egress.Kind
	Err  error
}

func (e *WorkloadListError) Error() string { return e.Err.Error() }
func (e *WorkloadListError) Unwrap() error { return e.Err }

// ScanWorkloads lists the services, jobs and worker pools of project and region: the three
// lists run concurrently, each page by page with InventoryPageSize, and each workload is
// converted as its page arrives and keeps no API resource (Raw is nil: the result cannot be
// passed to SetVPC). A list that fails does not stop the others: the result holds every
// workload read (services, then jobs, then worker pools, each sorted by name) and one
// *WorkloadListError per list that failed.
func (c *Clients) ScanWorkloads(ctx context.Context, project, region string) ([]*Workload, []error) {
	if err := checkNames(projectName(project), regionName(region)); err != nil {
		return nil, []error{err}
	}
	if err := egress.ValidateProject(project); err != nil {
		return nil, []error{err}
	}
	if err := egress.ValidateRegion(region); err != nil {
		return nil, []error{err}
	}
	parent := "projects/" + project + "/locations/" + region
	kinds := []egress.Kind{egress.KindService, egress.KindJob, egress.KindWorkerPool}
	results := make([][]*Workload, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Go(func() {
			var out []*Workload
			keep := func(m proto.Message) error {
				w, err := WorkloadFromProto(m)
				if err != nil {
					return err
				}
				w.Raw = nil
				out = append(out, w)
				return nil
			}
			err := c.scanKind(ctx, k, parent, keep)
			if err != nil {
				errs[i] = &WorkloadListError{Kind: k, Err: apiErr(fmt.Sprintf("list %ss in project %s, region %s", kindNoun(k), project, region), err)}
			}
			slices.SortFunc(out, func(a, b *Workload) int { return strings.Compare(a.Ref.Name, b.Ref.Name) })
			results[i] = out
		})
	}
	wg.Wait()
	var out []*Workload
	for _, r := range results {
		out = append(out, r...)
	}
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return out, failed
}

func (c *Clients) scanKind(ctx context.Context, k egress.Kind, parent string, each func(proto.Message) error) error {
	switch k {
	case egress.KindService:
		cl, err := c.Services()
		if err != nil {
			return err
		}
		return scanPages(ctx, func(ctx context.Context, token string) pagedIterator[*runpb.Service] {
			return cl.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent, PageSize: InventoryPageSize, PageToken: token}, noGaxRetry)
		}, func(s *runpb.Service) error { return each(s) })
	case egress.KindJob:
		cl, err := c.Jobs()
		if err != nil {
			return err
		}
		return scanPages(ctx, func(ctx context.Context, token string) pagedIterator[*runpb.Job] {
			return cl.ListJobs(ctx, &runpb.ListJobsRequest{Parent: parent, PageSize: InventoryPageSize, PageToken: token}, noGaxRetry)
		}, func(j *runpb.Job) error { return each(j) })
	case egress.KindWorkerPool:
		cl, err := c.WorkerPools()
		if err != nil {
			return err
		}
		return scanPages(ctx, func(ctx context.Context, token string) pagedIterator[*runpb.WorkerPool] {
			return cl.ListWorkerPools(ctx, &runpb.ListWorkerPoolsRequest{Parent: parent, PageSize: InventoryPageSize, PageToken: token}, noGaxRetry)
		}, func(p *runpb.WorkerPool) error { return each(p) })
	}
	return fmt.Errorf("unknown workload kind %q", k)
}

// RunRegions returns the regions where project can run Cloud Run workloads, sorted, and where
// the list came from: Cloud Run's ListLocations; when that fails, Serverless VPC Access's
// (RegionsFromVPCAccess); when both fail because the APIs do not serve locations
// (UNIMPLEMENTED or NOT_FOUND), the built-in CloudRunRegions (RegionsBuiltIn). Any other
// failure of both is an error.
func (c *Clients) RunRegions(ctx context.Context, project string) ([]string, string, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, "", err
	}
	if err := egress.ValidateProject(project); err != nil {
		return nil, "", err
	}
	regions, runErr := c.runLocations(ctx, project)
	if runErr == nil && len(regions) > 0 {
		return regions, RegionsFromRun, nil
	}
	regions, vpcErr := c.ConnectorRegions(ctx, project)
	if vpcErr == nil && len(regions) > 0 {
		return regions, RegionsFromVPCAccess, nil
	}
	notServed := func(err error) bool {
		switch grpcCodeOf(err) {
		case codes.Unimplemented, codes.NotFound:
			return true
		}
		return err == nil // served, but empty
	}
	if notServed(runErr) || notServed(vpcErr) {
		return slices.Clone(CloudRunRegions), RegionsBuiltIn, nil
	}
	return nil, "", runErr
}

// runLocations lists Cloud Run's locations for project (Run v2 ListLocations). The client is
// built for this one call.
func (c *Clients) runLocations(ctx context.Context, project string) ([]string, error) {
	opts, err := c.grpcOptions(c.cfg.Endpoints.Run)
	if err != nil {
		return nil, err
	}
	cl, err := run.NewLocationsClient(c.ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create Cloud Run locations client: %w", err)
	}
	defer cl.Close()
	var out []string
	err = scanPages(ctx, func(ctx context.Context, token string) pagedIterator[*locationpb.Location] {
		return cl.ListLocations(ctx, &locationpb.ListLocationsRequest{Name: "projects/" + project, PageSize: InventoryPageSize, PageToken: token}, noGaxRetry)
	}, func(l *locationpb.Location) error {
		if id := l.GetLocationId(); id != "" {
			out = append(out, id)
		} else {
			out = append(out, egress.ShortName(l.GetName()))
		}
		return nil
	})
	if err != nil {
		return nil, apiErr("list Cloud Run locations of project "+project, err)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// IsServiceDisabled reports whether err says the API is not enabled in the project (gRPC
// PERMISSION_DENIED with an ErrorInfo of reason SERVICE_DISABLED, Compute's HTTP 403
// accessNotConfigured, or the message Google gives for both: "... API has not been used in
// project ... before or it is disabled").
func IsServiceDisabled(err error) bool {
	if err == nil {
		return false
	}
	if ge, ok := googleAPIError(err); ok {
		if ge.Code != 403 {
			return false
		}
		for _, e := range ge.Errors {
			if e.Reason == "accessNotConfigured" || e.Reason == "SERVICE_DISABLED" {
				return true
			}
		}
		return disabledMessage(ge.Message)
	}
	st, ok := status.FromError(statusErrOf(err))
	if !ok || st.Code() != codes.PermissionDenied {
		return false
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetReason() == "SERVICE_DISABLED" {
			return true
		}
	}
	return disabledMessage(st.Message())
}

func disabledMessage(msg string) bool {
	return strings.Contains(msg, "has not been used in project") || strings.Contains(msg, "it is disabled")
}

// ErrorCode returns the name of the API error code in err's chain: a gRPC code name such as
// PERMISSION_DENIED, or Compute's HTTP status as "HTTP 403"; "" when there is none.
func ErrorCode(err error) string {
	if ge, ok := googleAPIError(err); ok {
		return fmt.Sprintf("HTTP %d", ge.Code)
	}
	if st, ok := status.FromError(statusErrOf(err)); ok && st.Code() != codes.OK && st.Code() != codes.Unknown {
		return rpcCodeName(st.Code())
	}
	return ""
}
