package runapi

import "google.golang.org/genproto/googleapis/api/annotations"

// HTTPRules are the HTTP bindings that the Cloud Run Admin API v2 service configuration
// (googleapis google/cloud/run/v2/run_v2.yaml, "http: rules") gives its long-running
// operations mixin; the Run services themselves carry theirs in their protos. They are the
// paths of the v2 discovery document's projects.locations.operations methods.
func HTTPRules() []*annotations.HttpRule {
	const ops = "google.longrunning.Operations."
	return []*annotations.HttpRule{
		{Selector: ops + "DeleteOperation", Pattern: &annotations.HttpRule_Delete{Delete: "/v2/{name=projects/*/locations/*/operations/*}"}},
		{Selector: ops + "GetOperation", Pattern: &annotations.HttpRule_Get{Get: "/v2/{name=projects/*/locations/*/operations/*}"}},
		{Selector: ops + "ListOperations", Pattern: &annotations.HttpRule_Get{Get: "/v2/{name=projects/*/locations/*}/operations"}},
		{Selector: ops + "WaitOperation", Pattern: &annotations.HttpRule_Post{Post: "/v2/{name=projects/*/locations/*/operations/*}:wait"}, Body: "*"},
	}
}
