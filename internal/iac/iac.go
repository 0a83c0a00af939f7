// Package iac renders the VPC side of Cloud Run workloads as infrastructure code, so that what
// runnet did imperatively can be carried into the code that owns it (and is not undone by its
// next apply):
//
//   - Terraform: google_compute_subnetwork and google_vpc_access_connector resources, the
//     vpc_access block of a google_cloud_run_v2_service, google_cloud_run_v2_job or
//     google_cloud_run_v2_worker_pool resource (Google provider), import blocks for what runnet
//     created and removed blocks for what it deleted;
//   - Pulumi YAML: the same in the Pulumi gcp provider (gcp:compute:Subnetwork,
//     gcp:vpcaccess:Connector, the vpcAccess property of gcp:cloudrunv2:Service, Job or
//     WorkerPool), with the import resource option;
//   - gcloud: the commands that create the subnets and connectors, and the `gcloud run
//     services|jobs|worker-pools update` command that sets the same VPC access whatever the
//     workload had before.
//
// Render writes one workload's VPC access; RenderHandOff a whole hand-off (HandOff). Rendering
// is pure: it does no I/O. Names are written as given: pass the settings as the APIs hold
// them, so that the code matches the live resources exactly and the next plan shows no
// difference.
package iac

import (
	"errors"
	"fmt"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Format is an infrastructure-code format.
type Format string

// The formats.
const (
	// Terraform is HCL for the Google provider's google_cloud_run_v2_* resources.
	Terraform Format = "terraform"
	// PulumiYAML is a Pulumi YAML program using the gcp:cloudrunv2 resources.
	PulumiYAML Format = "pulumi-yaml"
	// Gcloud is a gcloud command line.
	Gcloud Format = "gcloud"
)

// Formats lists the formats in the order they are documented.
var Formats = []Format{Terraform, PulumiYAML, Gcloud}

// FormatNames returns the names of Formats.
func FormatNames() []string {
	out := make([]string, len(Formats))
	for i, f := range Formats {
		out[i] = string(f)
	}
	return out
}

// ParseFormat parses a format name, ignoring case. "pulumi" and "hcl" are accepted as
// aliases of pulumi-yaml and terraform.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "terraform", "hcl", "tf":
		return Terraform, nil
	case "pulumi-yaml", "pulumi":
		return PulumiYAML, nil
	case "gcloud":
		return Gcloud, nil
	case "":
		return "", fmt.Errorf("empty format (valid: %s)", strings.Join(FormatNames(), ", "))
	}
	return "", fmt.Errorf("unknown format %q (valid: %s)", s, strings.Join(FormatNames(), ", "))
}

// ErrConnectorAndInterface is returned for settings that name both a connector and a Direct
// VPC network interface, which the Run Admin API rejects.
var ErrConnectorAndInterface = errors.New("one and only one of a connector and a network interface may be set")

// ErrWorkerPoolConnector is returned for a worker pool with a connector: worker pools cannot
// use Serverless VPC Access connectors.
var ErrWorkerPoolConnector = errors.New("worker pools cannot use Serverless VPC Access connectors")

// Render returns the code, in format f, that gives the workload ref the VPC access v. The text
// ends with a newline.
func Render(f Format, ref egress.WorkloadRef, v egress.VPC) (string, error) {
	if err := check(ref, v); err != nil {
		return "", err
	}
	switch f {
	case Terraform:
		return renderTerraform(ref, v), nil
	case PulumiYAML:
		return renderPulumiYAML(ref, v), nil
	case Gcloud:
		return renderGcloud(ref, v), nil
	}
	return "", fmt.Errorf("unknown format %q (valid: %s)", f, strings.Join(FormatNames(), ", "))
}

func check(ref egress.WorkloadRef, v egress.VPC) error {
	if !ref.Kind.Valid() {
		return fmt.Errorf("unknown workload kind %q", ref.Kind)
	}
	if ref.Name == "" {
		return errors.New("no workload name")
	}
	if v.Connector != "" && (v.Network != "" || v.Subnet != "") {
		return ErrConnectorAndInterface
	}
	if ref.Kind == egress.KindWorkerPool && v.Connector != "" {
		return ErrWorkerPoolConnector
	}
	return nil
}

// Resource returns the resource type (Terraform and Pulumi) or the command (gcloud) that
// format f uses for a workload of kind k.
func Resource(f Format, k egress.Kind) string {
	switch f {
	case Terraform:
		switch k {
		case egress.KindJob:
			return "google_cloud_run_v2_job"
		case egress.KindWorkerPool:
			return "google_cloud_run_v2_worker_pool"
		}
		return "google_cloud_run_v2_service"
	case PulumiYAML:
		switch k {
		case egress.KindJob:
			return "gcp:cloudrunv2:Job"
		case egress.KindWorkerPool:
			return "gcp:cloudrunv2:WorkerPool"
		}
		return "gcp:cloudrunv2:Service"
	case Gcloud:
		return "gcloud run " + gcloudGroup(k) + " update"
	}
	return ""
}

// header is the comment that opens every snippet: what it is and how to use it.
func header(ref egress.WorkloadRef, v egress.VPC, use string) []string {
	return []string{
		fmt.Sprintf("Cloud Run %s %s (project %s, region %s)", kindNoun(ref.Kind), ref.Name, ref.Project, ref.Region),
		"VPC access: " + describe(v) + ".",
		use,
	}
}

func kindNoun(k egress.Kind) string {
	if k == egress.KindWorkerPool {
		return "worker pool"
	}
	return string(k)
}

// describe says in a few words what v is.
func describe(v egress.VPC) string {
	switch v.Mode() {
	case egress.ModeConnector:
		return "connector " + egress.ShortName(v.Connector) + ", egress " + v.Egress.String()
	case egress.ModeDirect:
		var parts []string
		if v.Network != "" {
			parts = append(parts, "network "+egress.ShortName(v.Network))
		}
		if v.Subnet != "" {
			parts = append(parts, "subnet "+egress.ShortName(v.Subnet))
		}
		if len(v.Tags) > 0 {
			parts = append(parts, "tags "+strings.Join(v.Tags, ","))
		}
		parts = append(parts, "egress "+v.Egress.String())
		return "Direct VPC egress (" + strings.Join(parts, ", ") + ")"
	}
	return "none"
}
