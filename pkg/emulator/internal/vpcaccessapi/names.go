package vpcaccessapi

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// Error texts. Those marked "real" are quoted from recorded exchanges or public reports
// (DESIGN.md section 1); the others are the emulator's own wording, in the same style, for
// cases whose real text is not known.
const (
	// real: connector-cidr-crud.http.log, GET of a missing connector (404).
	msgNotFound = "The connector is not found."
	// real: DESIGN.md section 1.
	msgBadID = "Connector ID must follow the pattern ^[a-z][-a-z0-9]{0,23}[a-z0-9]$."
	// real: DESIGN.md section 1 (operation error, code 3).
	msgOverlap = "Operation failed: Invalid IP CIDR range was provided. It conflicts with an existing subnetwork. Please delete the connector manually."
	// real: DESIGN.md section 1 (operation error, code 3).
	msgNoMax = "Operation failed: A Connector must specify either max_throughput or max_instances."
	// real: DESIGN.md section 1 (HTTP 400).
	msgMinThroughput = "Connector minimum throughput must be a multiple of 100 between 200 and 1000 in Mbps."
	// emulator wording, by analogy with msgMinThroughput.
	msgMaxThroughput = "Connector maximum throughput must be a multiple of 100 between 300 and 1000 in Mbps."
	// real: the text Google APIs use for ALREADY_EXISTS (HTTP 409) when they give no detail.
	msgAlreadyExists = "Requested entity already exists"
)

// Emulator wording (real texts unknown).
const (
	msgMinInstances    = "Connector minimum instances must be between 2 and 9."
	msgMaxInstances    = "Connector maximum instances must be between 3 and 10."
	msgMinBelowMax     = "Connector maximum instances must be greater than minimum instances."
	msgThroughputOrder = "Connector maximum throughput must be greater than minimum throughput."
	msgRangeOrSubnet   = "Exactly one of ip_cidr_range and subnet must be specified."
	msgNoConnector     = "Connector must be specified."
	msgNetworkNeeded   = "Network must be specified when ip_cidr_range is specified."
	msgInvalidToken    = "The page token is not valid."
	msgFailedCreate    = "The connector is being created and cannot be deleted until its creation operation completes."
	msgAlreadyDeleting = "The connector is already being deleted."
)

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// parseParent splits projects/P/locations/L. The location must be a region the emulator knows
// (choice: INVALID_ARGUMENT, as for any other bad field of the request).
func parseParent(parent string) (project, region string, err error) {
	p := strings.Split(parent, "/")
	if len(p) != 4 || p[0] != "projects" || p[2] != "locations" || p[1] == "" || p[3] == "" {
		return "", "", invalid("Invalid parent %q: it must be of the form projects/PROJECT/locations/LOCATION.", parent)
	}
	if !world.IsRegion(p[3]) {
		return "", "", invalid("Location %q is not a valid location for Serverless VPC Access connectors.", p[3])
	}
	return p[1], p[3], nil
}

// parseName splits projects/P/locations/L/connectors/C.
func parseName(name string) (project, region, id string, err error) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "connectors" || p[1] == "" || p[3] == "" || p[5] == "" {
		return "", "", "", invalid("Invalid connector name %q: it must be of the form projects/PROJECT/locations/LOCATION/connectors/CONNECTOR.", name)
	}
	return p[1], p[3], p[5], nil
}

func connectorName(project, region, id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/connectors/%s", project, region, id)
}

func parentName(project, region string) string {
	return fmt.Sprintf("projects/%s/locations/%s", project, region)
}

// defaultPageSize and maxPageSize bound list pages (emulator choice; the real defaults are
// not documented).
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// page returns the slice of sorted keys that a page holds and the token of the next page.
// Tokens are opaque to clients: the last key of the previous page, base64-encoded.
func page(keys []string, size int32, token string) (out []string, next string, err error) {
	sort.Strings(keys)
	start := 0
	if token != "" {
		b, derr := base64.RawURLEncoding.DecodeString(token)
		if derr != nil || len(b) == 0 {
			return nil, "", invalid("%s", msgInvalidToken)
		}
		after := string(b)
		start = sort.Search(len(keys), func(i int) bool { return keys[i] > after })
	}
	n := int(size)
	if n <= 0 {
		n = defaultPageSize
	}
	if n > maxPageSize {
		n = maxPageSize
	}
	end := min(start+n, len(keys))
	out = keys[start:end]
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return out, next, nil
}
