package cloud

import (
	"context"
	"fmt"
	"net/http"

	asset "cloud.google.com/go/asset/apiv1"
	crm "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
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

// crmService builds the Resource Manager client as computeService builds Compute's: against
// the emulator at its root, against Google over runnet's own transport.
func (c *Clients) crmService(ctx context.Context, _ ...option.ClientOption) (*crm.Service, error) {
	if c.cfg.EmulatorHost != "" {
		opts := []option.ClientOption{option.WithEndpoint("http://" + c.cfg.EmulatorHost + "/"), option.WithoutAuthentication()}
		if c.cfg.UserAgent != "" {
			opts = append(opts, option.WithUserAgent(c.cfg.UserAgent))
		}
		if c.cfg.Log != nil {
			opts = append(opts, option.WithHTTPClient(&http.Client{Transport: &logTransport{w: c.cfg.Log, next: http.DefaultTransport}}))
		}
		return crm.NewService(ctx, opts...)
	}
	a := c.auth()
	if a.err != nil {
		return nil, a.err
	}
	topts := []option.ClientOption{option.WithAuthCredentials(a.restCredentials()), option.WithScopes(scopeCloudPlatform)}
	if c.cfg.UserAgent != "" {
		topts = append(topts, option.WithUserAgent(c.cfg.UserAgent))
	}
	if qp := c.quotaProject(a); qp != "" {
		topts = append(topts, option.WithQuotaProject(qp))
	}
	rt, err := htransport.NewTransport(ctx, c.baseTransport(), topts...)
	if err != nil {
		return nil, fmt.Errorf("build the Resource Manager transport: %w", err)
	}
	if c.cfg.Log != nil {
		rt = &logTransport{w: c.cfg.Log, next: rt}
	}
	opts := []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: rt})}
	if e := c.cfg.Endpoints.ResourceManager; e != "" {
		opts = append(opts, option.WithEndpoint(e))
	}
	return crm.NewService(ctx, opts...)
}
