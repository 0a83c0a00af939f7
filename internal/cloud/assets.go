package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Cloud Asset Inventory: one SearchAllResources over an organization, a folder or a project
// finds every Cloud Run workload, Serverless VPC Access connector and subnetwork in it, a few
// hundred per call, instead of three Cloud Run lists, a connector list and a subnetwork list
// per project and region. Cloud Asset docs, "Search all resources" (assets.searchAllResources):
// scope projects/ID, folders/NUMBER or organizations/NUMBER; the caller needs
// cloudasset.assets.searchAllResources on the scope; page_size is "capped at 500".

// Asset types runnet searches (Cloud Asset docs, "Supported asset types").
const (
	AssetTypeService    = "run.googleapis.com/Service"
	AssetTypeJob        = "run.googleapis.com/Job"
	AssetTypeWorkerPool = "run.googleapis.com/WorkerPool"
	AssetTypeConnector  = "vpcaccess.googleapis.com/Connector"
	AssetTypeSubnetwork = "compute.googleapis.com/Subnetwork"
)

// AssetPermission is what the caller needs on a scope to search it.
const AssetPermission = "cloudasset.assets.searchAllResources"

// AssetPageSize is the page size asked for: the documented cap.
const AssetPageSize = 500

// assetGetConcurrency bounds the reads of workloads whose asset carries no resource runnet can
// read (see AssetRead.Fetched).
const assetGetConcurrency = 8

// ErrAssetDenied is in the chain of a search the caller may not make (PERMISSION_DENIED: it
// lacks cloudasset.assets.searchAllResources on the scope, or the Cloud Asset API is not
// enabled for it).
var ErrAssetDenied = errors.New("the caller may not search this scope with Cloud Asset Inventory (" + AssetPermission + ")")

// AssetRead is what one search of a scope found.
type AssetRead struct {
	Scope      string
	Workloads  []*Workload
	Connectors []*Connector
	Subnets    []*Subnet
	// Calls is the number of SearchAllResources pages read; Fetched the workloads read one by
	// one because their asset held no Cloud Run v2 resource.
	Calls, Fetched int
}

// assetDenied wraps a PERMISSION_DENIED search error so that errors.Is(err, ErrAssetDenied).
type assetDenied struct{ err error }

func (e *assetDenied) Error() string { return e.err.Error() }
func (e *assetDenied) Unwrap() []error {
	return []error{ErrAssetDenied, e.err}
}

// SearchScope finds the Cloud Run workloads, connectors and subnetworks of scope
// (projects/ID, folders/NUMBER or organizations/NUMBER) with Cloud Asset Inventory, in the
// regions given (every region when regions is empty). Workloads keep no API resource (Raw is
// nil), as ScanWorkloads'. A search the caller may not make fails with an error that
// errors.Is ErrAssetDenied: the caller then lists per project (ScanWorkloads, ListConnectors,
// ListSubnets).
//
// Each asset's versioned resource is its API's own JSON: Cloud Run v2 for workloads, VPC
// Access v1 for connectors, Compute v1 for subnetworks. A workload whose asset carries no
// Cloud Run v2 resource is read with GetWorkload instead (counted in Fetched). Subnets carry
// no address reservations (Compute's addresses are not searched).
func (c *Clients) SearchScope(ctx context.Context, scope string, regions []string) (*AssetRead, error) {
	if err := validateAssetScope(scope); err != nil {
		return nil, err
	}
	cl, err := c.Assets()
	if err != nil {
		return nil, err
	}
	req := &assetpb.SearchAllResourcesRequest{
		Scope:      scope,
		AssetTypes: []string{AssetTypeService, AssetTypeJob, AssetTypeWorkerPool, AssetTypeConnector, AssetTypeSubnetwork},
		PageSize:   AssetPageSize,
		ReadMask:   &fieldmaskpb.FieldMask{Paths: []string{"name", "asset_type", "location", "versioned_resources"}},
	}
	if len(regions) == 1 {
		req.Query = "location=" + regions[0]
	}
	out := &AssetRead{Scope: scope}
	var toGet []egress.WorkloadRef
	token := ""
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		for {
			r := proto.Clone(req).(*assetpb.SearchAllResourcesRequest)
			r.PageToken = token
			it := cl.SearchAllResources(ctx, r, noGaxRetry)
			page, err := onePage(it)
			if err != nil {
				return err
			}
			out.Calls++
			for _, res := range page.results {
				if len(regions) > 0 && !slices.Contains(regions, res.GetLocation()) {
					continue
				}
				if ref, ok, err := out.add(res); err != nil {
					return err
				} else if !ok && ref.Name != "" {
					toGet = append(toGet, ref)
				}
			}
			if token = page.next; token == "" {
				return nil
			}
		}
	})
	if err != nil {
		if grpcCodeOf(err) == codes.PermissionDenied {
			return nil, &assetDenied{apiErr("search "+scope+" with Cloud Asset Inventory", err)}
		}
		return nil, apiErr("search "+scope+" with Cloud Asset Inventory", err)
	}
	if err := c.fetchWorkloads(ctx, out, toGet); err != nil {
		return nil, err
	}
	return out, nil
}

type assetPage struct {
	results []*assetpb.ResourceSearchResult
	next    string
}

// onePage reads the iterator's first page only: the loop in SearchScope keeps the token, so
// that a retry resumes at the page that failed.
func onePage(it *asset.ResourceSearchResultIterator) (assetPage, error) {
	var p assetPage
	first, err := it.Next()
	if err != nil {
		if errors.Is(err, iterator.Done) {
			return p, nil
		}
		return p, err
	}
	p.results = append(p.results, first)
	for it.PageInfo().Remaining() > 0 {
		r, err := it.Next()
		if err != nil {
			return p, err
		}
		p.results = append(p.results, r)
	}
	p.next = it.PageInfo().Token
	return p, nil
}

// add converts one result. ok is false for a workload whose asset holds no Cloud Run v2
// resource: ref names it, to be read directly.
func (a *AssetRead) add(res *assetpb.ResourceSearchResult) (ref egress.WorkloadRef, ok bool, err error) {
	var vr *assetpb.VersionedResource
	for _, v := range res.GetVersionedResources() {
		if v.GetResource() != nil {
			vr = v
			break
		}
	}
	path := assetPath(res.GetName())
	switch t := res.GetAssetType(); t {
	case AssetTypeService, AssetTypeJob, AssetTypeWorkerPool:
		kind := map[string]egress.Kind{AssetTypeService: egress.KindService, AssetTypeJob: egress.KindJob, AssetTypeWorkerPool: egress.KindWorkerPool}[t]
		if vr == nil || vr.GetVersion() != "v2" {
			r, perr := refFromName(path, kind)
			if perr != nil {
				return egress.WorkloadRef{}, false, perr
			}
			return r, false, nil
		}
		m := newOfKind(kind)
		if err := structInto(vr, m); err != nil {
			return egress.WorkloadRef{}, false, fmt.Errorf("read the %s %s from Cloud Asset Inventory: %w", kind, path, err)
		}
		w, err := WorkloadFromProto(m)
		if err != nil {
			return egress.WorkloadRef{}, false, err
		}
		w.Raw = nil
		a.Workloads = append(a.Workloads, w)
	case AssetTypeConnector:
		if vr == nil {
			return egress.WorkloadRef{}, true, nil
		}
		pc := &vpcaccesspb.Connector{}
		if err := structInto(vr, pc); err != nil {
			return egress.WorkloadRef{}, false, fmt.Errorf("read the connector %s from Cloud Asset Inventory: %w", path, err)
		}
		if pc.Name == "" {
			pc.Name = path
		}
		cn, err := connectorFromProto(pc)
		if err != nil {
			return egress.WorkloadRef{}, false, err
		}
		a.Connectors = append(a.Connectors, cn)
	case AssetTypeSubnetwork:
		if vr == nil {
			return egress.WorkloadRef{}, true, nil
		}
		b, err := protojson.Marshal(vr.GetResource())
		if err != nil {
			return egress.WorkloadRef{}, false, err
		}
		sn := &compute.Subnetwork{}
		if err := json.Unmarshal(b, sn); err != nil {
			return egress.WorkloadRef{}, false, fmt.Errorf("read the subnetwork %s from Cloud Asset Inventory: %w", path, err)
		}
		project := pathProjectOf(path)
		if sn.Region == "" {
			sn.Region = res.GetLocation()
		}
		a.Subnets = append(a.Subnets, subnetFromCompute(project, sn, nil))
	}
	return egress.WorkloadRef{}, true, nil
}

// fetchWorkloads reads refs with GetWorkload, assetGetConcurrency at a time.
func (c *Clients) fetchWorkloads(ctx context.Context, a *AssetRead, refs []egress.WorkloadRef) error {
	if len(refs) == 0 {
		return nil
	}
	got := make([]*Workload, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, assetGetConcurrency)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			w, err := c.GetWorkload(ctx, ref)
			if err == nil {
				w.Raw = nil
			}
			got[i], errs[i] = w, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.Workloads = append(a.Workloads, got...)
	a.Fetched += len(got)
	return nil
}

// assetPath is the resource path of a Cloud Asset full resource name:
// //run.googleapis.com/projects/P/locations/R/services/S -> projects/P/locations/R/services/S.
func assetPath(name string) string {
	rest, ok := strings.CutPrefix(name, "//")
	if !ok {
		return name
	}
	_, path, _ := strings.Cut(rest, "/")
	return path
}

func pathProjectOf(path string) string {
	rest, _ := strings.CutPrefix(path, "projects/")
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// validateAssetScope checks a search scope: projects/ID, folders/NUMBER or
// organizations/NUMBER.
func validateAssetScope(scope string) error {
	if p, ok := strings.CutPrefix(scope, "projects/"); ok {
		return egress.ValidateProject(p)
	}
	return ValidateHierarchyParent(scope)
}
