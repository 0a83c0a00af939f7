package egress

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Name limits. Each is a fact about Google Cloud that can change; keep the
// source in its comment.
const (
	// MaxWorkloadNameLength is the longest name a Cloud Run service, job or
	// worker pool can have: an RFC 1035 label of at most 63 characters. The
	// Admin API v1 rejects longer names with "Resource name must use only
	// lowercase letters, numbers and '-'. Must begin with a letter and
	// cannot end with a '-'. Maximum length is 63 characters." (reported in
	// terraform-google-modules/terraform-docs-samples#171 and
	// pulumi/pulumi-gcp#2162).
	MaxWorkloadNameLength = 63

	// MaxNewServiceNameLength is the longest service ID the Admin API v2
	// accepts when creating a service: "Violation in
	// CreateServiceRequest.service_id: only lowercase, digits, and hyphens;
	// must begin with letter, and cannot end with hyphen; must be less than
	// 50 characters." (reported in pulumi/pulumi-gcp#3167). Services
	// created through the v1 API (gcloud run deploy) may have longer names,
	// up to MaxWorkloadNameLength, so references to existing services are
	// checked against that limit instead; see ValidateNewWorkloadName.
	MaxNewServiceNameLength = 49

	// MaxConnectorNameLength is the longest Serverless VPC Access connector
	// ID. Source: VPC Access API v1 error "Connector ID must follow the
	// pattern ^[a-z][-a-z0-9]{0,23}[a-z0-9]$." (DESIGN.md section 1).
	MaxConnectorNameLength = 25

	// MaxComputeNameLength is the longest name of a Compute Engine
	// resource (network, subnetwork, router, firewall rule) and of a network
	// tag: an RFC 1035 label. Source: Compute Engine docs, "Naming
	// resources" (^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$), and VPC docs,
	// "Network tags" (tags must be 1-63 characters, RFC 1035).
	MaxComputeNameLength = 63

	// MaxTagAndServiceLength is the most characters a Cloud Run revision
	// tag and its service name may have together (they form one DNS label
	// of the tag URL). Source: gcloud error "Combined traffic tag and
	// service name cannot exceed 46 characters." (reported in
	// PolicyEngine/policyengine-api#3729).
	MaxTagAndServiceLength = 46
)

var (
	// rfc1035Label is a lower-case RFC 1035 label of any length; callers
	// check the length so that the error can say which limit applies.
	rfc1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

	// connectorNameRE is the VPC Access API's own pattern.
	connectorNameRE = regexp.MustCompile(`^[a-z][-a-z0-9]{0,23}[a-z0-9]$`)

	// projectIDRE: 6 to 30 lower-case letters, digits and hyphens, starting
	// with a letter and not ending with a hyphen. Source: Resource Manager
	// docs, "Creating and managing projects" (project ID requirements).
	projectIDRE = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// projectNumberRE: resource names may carry the project number instead
	// of its ID.
	projectNumberRE = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	// domainProjectRE: legacy domain-scoped project IDs such as
	// example.com:my-project.
	domainProjectRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

	// regionRE matches Google Cloud region names such as us-central1,
	// asia-northeast1 or northamerica-northeast2.
	regionRE = regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]+$`)
)

const labelRule = "lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen"

// validLabel checks name against rfc1035Label and max, returning a reason
// phrase or "".
func validLabel(name string, max int) string {
	switch {
	case name == "":
		return "empty name"
	case !utf8.ValidString(name) || !rfc1035Label.MatchString(name):
		return fmt.Sprintf("must be 1 to %d %s", max, labelRule)
	case len(name) > max:
		return fmt.Sprintf("is %d characters long, more than the %d allowed", len(name), max)
	}
	return ""
}

// ValidateWorkloadName checks that name can be the name of an existing Cloud
// Run workload of kind k: an RFC 1035 label of at most
// MaxWorkloadNameLength characters. It returns a *ParseError.
func ValidateWorkloadName(k Kind, name string) error {
	if r := validLabel(name, MaxWorkloadNameLength); r != "" {
		return parseErr(k.Noun()+" name", name, "", "%s", r)
	}
	return nil
}

// ValidateNewWorkloadName is ValidateWorkloadName for a workload about to be
// created: new services are limited to MaxNewServiceNameLength characters.
func ValidateNewWorkloadName(k Kind, name string) error {
	max := MaxWorkloadNameLength
	if k == KindService {
		max = MaxNewServiceNameLength
	}
	if r := validLabel(name, max); r != "" {
		return parseErr(k.Noun()+" name", name, "", "%s", r)
	}
	return nil
}

// ValidateConnectorName checks a Serverless VPC Access connector ID against
// the API's pattern ^[a-z][-a-z0-9]{0,23}[a-z0-9]$. It returns a
// *ParseError.
func ValidateConnectorName(name string) error {
	if name == "" {
		return parseErr("connector name", name, "", "empty name")
	}
	if !connectorNameRE.MatchString(name) {
		reason := fmt.Sprintf("must be 2 to %d %s", MaxConnectorNameLength, labelRule)
		if len(name) > MaxConnectorNameLength && rfc1035Label.MatchString(name) {
			reason = fmt.Sprintf("is %d characters long, more than the %d allowed", len(name), MaxConnectorNameLength)
		}
		return parseErr("connector name", name, "pattern ^[a-z][-a-z0-9]{0,23}[a-z0-9]$", "%s", reason)
	}
	return nil
}

// ValidateComputeName checks the name of a Compute Engine resource (what is
// "network", "subnetwork", "router", ...): ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$.
// It returns a *ParseError.
func ValidateComputeName(what, name string) error {
	if r := validLabel(name, MaxComputeNameLength); r != "" {
		return parseErr(what+" name", name, "", "%s", r)
	}
	return nil
}

// ValidateNetworkTag checks a network tag: an RFC 1035 label of at most
// MaxComputeNameLength characters. It returns a *ParseError.
func ValidateNetworkTag(tag string) error {
	if r := validLabel(tag, MaxComputeNameLength); r != "" {
		return parseErr("network tag", tag, "", "%s", r)
	}
	return nil
}

// ValidateProject checks a project as it appears in resource names: a
// project ID (6-30 characters), a project number, or a legacy
// domain-scoped ID (example.com:my-project). It returns a *ParseError.
func ValidateProject(p string) error {
	switch {
	case p == "":
		return &ParseError{What: "project", Input: p, Reason: "empty project", Err: ErrNoProject}
	case projectIDRE.MatchString(p), projectNumberRE.MatchString(p), domainProjectRE.MatchString(p):
		return nil
	}
	return parseErr("project", p, "a project ID of 6 to 30 lower-case letters, digits and hyphens starting with a letter, or a project number", "not a project ID or number")
}

// ValidateRegion checks a region name such as us-central1. It returns a
// *ParseError.
func ValidateRegion(r string) error {
	switch {
	case r == "":
		return &ParseError{What: "region", Input: r, Reason: "empty region", Err: ErrNoRegion}
	case regionRE.MatchString(r) && len(r) <= MaxComputeNameLength:
		return nil
	}
	return parseErr("region", r, "a region name such as us-central1 or asia-northeast1", "not a region name")
}

// splitPath splits a resource path on "/" and reports whether every part
// is non-empty and none is "." or "..".
func splitPath(s string) ([]string, bool) {
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return parts, false
		}
	}
	return parts, true
}

// checkText rejects input with surrounding or embedded white space or
// control characters, which no valid name or path contains.
func checkText(what, s, valid string) error {
	if s == "" {
		return parseErr(what, s, valid, "empty")
	}
	if !utf8.ValidString(s) {
		return parseErr(what, s, valid, "not valid UTF-8")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '\\' || r == '?' || r == '#' || r == '%' {
			return parseErr(what, s, valid, "contains %q, which no name or path may contain", r)
		}
	}
	return nil
}
