package vpcaccessapi

import "google.golang.org/genproto/googleapis/api/annotations"

// HTTPRules are the HTTP bindings that the Serverless VPC Access API v1 service configuration
// (googleapis google/cloud/vpcaccess/v1/vpcaccess_v1.yaml, "http: rules") gives its mixins,
// Locations and long-running operations; VpcAccessService carries its own in its proto. They
// are the paths of the v1 discovery document's projects.locations.list and
// projects.locations.operations methods.
func HTTPRules() []*annotations.HttpRule {
	return []*annotations.HttpRule{
		{Selector: locationsService + ".ListLocations", Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=projects/*}/locations"}},
		{Selector: "google.longrunning.Operations.GetOperation", Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=projects/*/locations/*/operations/*}"}},
		{Selector: "google.longrunning.Operations.ListOperations", Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=projects/*/locations/*}/operations"}},
	}
}
