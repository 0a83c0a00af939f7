package cloud

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Endpoints say where the clients reach Google Cloud when not the default endpoints (a
// Private Service Connect endpoint, a restricted VIP, a regional endpoint, or runnet's
// emulator behind its front door). Empty fields mean the default.
type Endpoints struct {
	// Run and VPCAccess are gRPC targets, HOST:PORT.
	Run, VPCAccess string
	// VPCAccessREST is the REST base URL of VPC Access v1, ending with "/": the gRPC API has
	// no UpdateConnector, the REST API has projects.locations.connectors.patch. It comes
	// from the same override as VPCAccess, as gcloud (a REST client) reads it.
	VPCAccessREST string
	// Monitoring is the gRPC target of Cloud Monitoring v3, HOST:PORT (connector metrics).
	Monitoring string
	// CloudBilling is the REST base URL of the Cloud Billing API v1, ending with "/" (the
	// Catalog's SKU prices).
	CloudBilling string
	// Compute is the REST base URL of Compute Engine v1, ending with "/".
	Compute string
	// IAMCredentials is the REST base URL of the IAM Credentials API (used to impersonate a
	// service account), ending with "/".
	IAMCredentials string
	// CloudAsset is the gRPC target of Cloud Asset Inventory, HOST:PORT; ResourceManager
	// the REST base URL of Cloud Resource Manager, ending with "/" (orgclients.go).
	CloudAsset, ResourceManager string
	// ServiceUsage is the REST base URL of the Service Usage API (v1beta1: consumer quota
	// metrics), ending with "/" (serviceusage.go).
	ServiceUsage string
}

// The paths the REST clients need under an endpoint override that names only a host, as
// gcloud appends them (the "base URL" of each API's discovery document).
const (
	computeBasePath         = "/compute/v1/"
	iamCredentialsBasePath  = "/"
	vpcAccessBasePath       = "/"
	cloudBillingBasePath    = "/"
	serviceUsageBasePath    = "/"
	resourceManagerBasePath = "/"
)

// Overrides are gcloud's api_endpoint_overrides values runnet reads; "" when not set.
type Overrides struct {
	Run, VPCAccess, Compute, IAMCredentials, Monitoring, CloudBilling string
	ServiceUsage, CloudAsset, ResourceManager                         string
}

// EndpointsFromOverrides maps gcloud's api_endpoint_overrides values (URLs such as
// https://HOST[:PORT]/; "" when not set) to what each client needs, as gcloud does:
//
//   - Cloud Run, VPC Access, Monitoring and Cloud Asset are gRPC APIs to runnet: gcloud's generated gRPC
//     clients use the URL's host and port only (port 443 when none is given), over TLS
//     whatever the scheme.
//   - Compute, IAM Credentials, Cloud Billing, Service Usage, Resource Manager and VPC
//     Access's PATCH are REST APIs: a URL
//     with a path other than "/" is the base URL as it is (https://HOST/compute/v1/); a bare
//     https://HOST/ gets the API's own base path (/compute/v1/), as gcloud's
//     _BuildEndpointOverride does.
func EndpointsFromOverrides(o Overrides) (Endpoints, error) {
	var e Endpoints
	for _, f := range []struct {
		dst, src *string
		name     string
		rest     bool
		basePath string
	}{
		{&e.Run, &o.Run, "run", false, ""},
		{&e.VPCAccess, &o.VPCAccess, "vpcaccess", false, ""},
		{&e.VPCAccessREST, &o.VPCAccess, "vpcaccess", true, vpcAccessBasePath},
		{&e.Compute, &o.Compute, "compute", true, computeBasePath},
		{&e.IAMCredentials, &o.IAMCredentials, "iamcredentials", true, iamCredentialsBasePath},
		{&e.Monitoring, &o.Monitoring, "monitoring", false, ""},
		{&e.CloudBilling, &o.CloudBilling, "cloudbilling", true, cloudBillingBasePath},
		{&e.ServiceUsage, &o.ServiceUsage, "serviceusage", true, serviceUsageBasePath},
		{&e.CloudAsset, &o.CloudAsset, "cloudasset", false, ""},
		{&e.ResourceManager, &o.ResourceManager, "cloudresourcemanager", true, resourceManagerBasePath},
	} {
		var err error
		if f.rest {
			*f.dst, err = restBase(*f.src, f.basePath)
		} else {
			*f.dst, err = grpcTarget(*f.src)
		}
		if err != nil {
			return Endpoints{}, fmt.Errorf("api_endpoint_overrides/%s: %w", f.name, err)
		}
	}
	return e, nil
}

func parseOverride(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL such as https://HOST[:PORT]/", s)
	}
	return u, nil
}

func grpcTarget(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := parseOverride(s)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

func restBase(s, basePath string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := parseOverride(s)
	if err != nil {
		return "", err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = basePath
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}
