package cloud

import (
	"context"

	asset "cloud.google.com/go/asset/apiv1"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/option"
)

// The clients that see beyond one project: Cloud Asset Inventory (gRPC), to find workloads,
// connectors and subnets across an organization in a few calls, and Cloud Resource Manager
// (REST), for project numbers, the projects under a folder or an organization, and project
// IAM policies.

type orgClients struct {
	assets *asset.Client
	crm    *crm.Service
}

// Assets returns the Cloud Asset Inventory v1 client.
func (c *Clients) Assets() (*asset.Client, error) {
	return lazyGRPC(c, &c.org.assets, "Cloud Asset Inventory", asset.NewClient, c.cfg.Endpoints.CloudAsset)
}

// ResourceManager returns the Cloud Resource Manager v3 REST client.
func (c *Clients) ResourceManager() (*crm.Service, error) {
	return lazy(c, &c.org.crm, "Cloud Resource Manager", c.crmService, nil)
}

// crmService builds the Resource Manager client as every REST client is built: against the
// emulator at its root, against Google over runnet's own transport (restOptions).
func (c *Clients) crmService(ctx context.Context, _ ...option.ClientOption) (*crm.Service, error) {
	opts, err := c.restOptions(ctx, "Resource Manager", "/", c.cfg.Endpoints.ResourceManager)
	if err != nil {
		return nil, err
	}
	return crm.NewService(ctx, opts...)
}
