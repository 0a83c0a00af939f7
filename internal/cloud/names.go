package cloud

import (
	"fmt"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Every resource name that reaches a request (a gRPC resource name, which the client
// libraries also put in the x-goog-request-params routing header, or a Compute URL path) is
// checked here first, whatever built it: a name part is one label (a project ID, a region, a
// resource ID) and nothing else, so "../x", "a/b", "%2F", "?" or an empty part never reach
// Google or an emulator. The check returns runnet's own error before any call.

// checkNames validates each of parts: egress.WorkloadRef, ConnectorRef, SubnetRef,
// NetworkRef, or a project or region (see projectName and regionName).
func checkNames(parts ...any) error {
	for _, p := range parts {
		var err error
		switch v := p.(type) {
		case egress.WorkloadRef:
			err = v.Validate()
		case egress.ConnectorRef:
			err = firstErr(egress.ValidateProject(v.Project), egress.ValidateRegion(v.Region), egress.ValidateConnectorName(v.Name))
		case egress.SubnetRef:
			err = firstErr(egress.ValidateProject(v.Project), egress.ValidateRegion(v.Region), egress.ValidateComputeName("subnetwork", v.Name))
		case egress.NetworkRef:
			err = firstErr(egress.ValidateProject(v.Project), egress.ValidateComputeName("network", v.Name))
		case projectName:
			err = egress.ValidateProject(string(v))
		case regionName:
			err = egress.ValidateRegion(string(v))
		case revisionName:
			err = egress.ValidateComputeName("revision", string(v))
		default:
			err = fmt.Errorf("checkNames: unexpected %T", p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// projectName, regionName and revisionName mark strings for checkNames.
type (
	projectName  string
	regionName   string
	revisionName string
)

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
