package cloud

import (
	"context"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	billing "google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/option"
	vpcrest "google.golang.org/api/vpcaccess/v1"
)

// The clients that say what a connector does and costs, and change one in place: Cloud
// Monitoring v3 (gRPC) for its instance count and throughput, the Cloud Billing Catalog
// (REST) for the prices of its machine type, and VPC Access v1 over REST, whose
// projects.locations.connectors.patch the gRPC API lacks.

type lifeClients struct {
	monitoring *monitoring.MetricClient
	billing    *billing.APIService
	vpcREST    *vpcrest.Service
	// pricer holds the Billing Catalog's prices once read (connector_use.go).
	pricer *Pricer
}

// Monitoring returns the Cloud Monitoring v3 metric client.
func (c *Clients) Monitoring() (*monitoring.MetricClient, error) {
	return lazyGRPC(c, &c.life.monitoring, "Cloud Monitoring", monitoring.NewMetricClient, c.cfg.Endpoints.Monitoring)
}

// CloudBilling returns the Cloud Billing v1 REST client (its Catalog: services.skus.list).
func (c *Clients) CloudBilling() (*billing.APIService, error) {
	return lazy(c, &c.life.billing, "Cloud Billing", func(ctx context.Context, _ ...option.ClientOption) (*billing.APIService, error) {
		opts, err := c.restOptions(ctx, "Cloud Billing", "/", c.cfg.Endpoints.CloudBilling)
		if err != nil {
			return nil, err
		}
		return billing.NewService(ctx, opts...)
	}, nil)
}

// VPCAccessREST returns the VPC Access v1 REST client, for what the gRPC client cannot do
// (patch a connector).
func (c *Clients) VPCAccessREST() (*vpcrest.Service, error) {
	return lazy(c, &c.life.vpcREST, "Serverless VPC Access (REST)", func(ctx context.Context, _ ...option.ClientOption) (*vpcrest.Service, error) {
		opts, err := c.restOptions(ctx, "Serverless VPC Access", "/", c.cfg.Endpoints.VPCAccessREST)
		if err != nil {
			return nil, err
		}
		return vpcrest.NewService(ctx, opts...)
	}, nil)
}
