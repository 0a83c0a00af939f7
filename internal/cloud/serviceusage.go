package cloud

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/api/option"
	serviceusage "google.golang.org/api/serviceusage/v1beta1"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// The Direct VPC egress instance quota, read from the Service Usage API's consumer quota
// metrics (v1beta1; the v1 API has no quota methods). Google documents the quota (Cloud Run
// docs, "Direct VPC egress with a VPC network", limitations) but no metric name for it, so the
// metric is found among run.googleapis.com's by its name or display name.

// runService is Cloud Run's service name in Service Usage.
const runService = "run.googleapis.com"

// ServiceUsage returns the Service Usage v1beta1 REST client.
func (c *Clients) ServiceUsage() (*serviceusage.APIService, error) {
	return lazy(c, &c.serviceUsage, "Service Usage", c.serviceUsageService, nil)
}

// serviceUsageService builds the client over restOptions, as the other REST clients.
func (c *Clients) serviceUsageService(ctx context.Context, _ ...option.ClientOption) (*serviceusage.APIService, error) {
	opts, err := c.restOptions(ctx, "Service Usage", "/", c.cfg.Endpoints.ServiceUsage)
	if err != nil {
		return nil, err
	}
	return serviceusage.NewService(ctx, opts...)
}

// isDirectVPCQuota reports whether a Cloud Run quota metric is the Direct VPC egress
// instance quota.
func isDirectVPCQuota(m *serviceusage.ConsumerQuotaMetric) bool {
	name := strings.ToLower(m.Metric)
	return strings.Contains(name, "direct_vpc") || strings.Contains(strings.ToLower(m.DisplayName), "direct vpc")
}

// DirectVPCQuota reads the Direct VPC egress instance quota of project in region: the
// effective limit of the region's bucket, else of the default bucket. It returns an error
// when the quota cannot be read or is not found (the caller then assumes the default).
func (c *Clients) DirectVPCQuota(ctx context.Context, project, region string) (*egress.QuotaFacts, error) {
	if err := checkNames(projectName(project), regionName(region)); err != nil {
		return nil, err
	}
	su, err := c.ServiceUsage()
	if err != nil {
		return nil, err
	}
	parent := "projects/" + project + "/services/" + runService
	var metrics []*serviceusage.ConsumerQuotaMetric
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		metrics = nil
		return su.Services.ConsumerQuotaMetrics.List(parent).View("BASIC").Context(ctx).Pages(ctx, func(r *serviceusage.ListConsumerQuotaMetricsResponse) error {
			metrics = append(metrics, r.Metrics...)
			return nil
		})
	})
	if err != nil {
		return nil, computeErr("read the quotas of "+runService+" in project "+project, err)
	}
	for _, m := range metrics {
		if !isDirectVPCQuota(m) {
			continue
		}
		var def, regional *serviceusage.QuotaBucket
		for _, l := range m.ConsumerQuotaLimits {
			for _, b := range l.QuotaBuckets {
				switch b.Dimensions["region"] {
				case region:
					regional = b
				case "":
					if len(b.Dimensions) == 0 && def == nil {
						def = b
					}
				}
			}
		}
		b := regional
		if b == nil {
			b = def
		}
		if b == nil {
			continue
		}
		limit := b.EffectiveLimit
		if limit < 0 { // -1: unlimited
			limit = int64(^uint(0) >> 1)
		}
		return &egress.QuotaFacts{Region: region, Instances: int(min(limit, int64(^uint32(0)>>1))), Metric: m.Metric}, nil
	}
	return nil, fmt.Errorf("no Direct VPC egress quota among the %d quota metrics of %s", len(metrics), runService)
}
