// Package egress is runnet's domain model for the VPC egress of Cloud Run
// workloads (services, jobs and worker pools): which mode a workload uses
// (no VPC, a Serverless VPC Access connector, or Direct VPC egress), the
// names of the resources involved, the preflight checks that decide whether
// a switch between modes is safe, and the migration plan that performs it.
//
// The package is pure: it imports no Google client library or protocol
// buffer package and does no I/O of its own (the Executor acts through the
// Platform it is given). The one clock it reads is the Executor's, to wait
// between canary steps and to time a run, and that clock is swappable
// (Executor.Clock; SystemClock by default). The cloud adapters in
// internal/cloud convert API objects to the plain types here (Workload, VPC,
// Facts) and back, so everything in this package can be unit-tested with
// literals and reused by other programs.
//
// # Names
//
// Workloads are written the way users type them: NAME (a service),
// job/NAME or workerpool/NAME, or as full resource names
// (projects/P/locations/R/services/NAME). See ParseWorkloadRef. Connectors,
// networks and subnetworks accept short names and full paths, including
// Shared VPC paths in a host project (ParseConnectorRef, ParseNetworkRef,
// ParseSubnetRef). Every parser validates strictly and returns a *ParseError
// that says what is wrong and which forms are valid; errors.Is(err,
// ErrInvalid) holds for all of them.
//
// # Platform numbers
//
// Facts about Google Cloud that can change (name lengths, quotas, defaults)
// are named constants whose comments name their source. CIDR arithmetic and
// the Direct VPC address accounting live in package ipam.
package egress
