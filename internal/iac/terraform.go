package iac

// Terraform: resource types, attribute names and import ID formats as the Google provider
// documents them. Sources (read when this was written; the golden tests check every attribute
// name written against a table of them, schema_test.go):
//
//   - google_vpc_access_connector: registry.terraform.io/providers/hashicorp/google/latest/docs/resources/vpc_access_connector
//     (hashicorp/terraform-provider-google website/docs/r/vpc_access_connector.html.markdown,
//     generated from GoogleCloudPlatform/magic-modules mmv1/products/vpcaccess/Connector.yaml):
//     name, region, project, network | subnet { name, project_id }, ip_cidr_range,
//     machine_type, min_instances, max_instances (min_throughput and max_throughput are
//     discouraged in favour of the instance counts, and not written); import ID
//     projects/{{project}}/locations/{{region}}/connectors/{{name}}. network is compared by
//     name (CompareResourceNames), so the API's short name or a path both match.
//   - google_compute_subnetwork: .../docs/resources/compute_subnetwork
//     (website/docs/r/compute_subnetwork.html.markdown; magic-modules
//     mmv1/products/compute/Subnetwork.yaml): name, region, project, network, ip_cidr_range,
//     description (set only at creation: a missing one replaces the subnetwork),
//     private_ip_google_access, stack_type (IPV4_ONLY, IPV4_IPV6), ipv6_access_type
//     (EXTERNAL, INTERNAL), log_config { aggregation_interval, flow_sampling, metadata },
//     secondary_ip_range { range_name, ip_cidr_range }; import ID
//     projects/{{project}}/regions/{{region}}/subnetworks/{{name}}.
//   - google_cloud_run_v2_service, google_cloud_run_v2_job, google_cloud_run_v2_worker_pool:
//     .../docs/resources/cloud_run_v2_service (_job, _worker_pool): name, location, project;
//     template { vpc_access { connector | network_interfaces { network, subnetwork, tags },
//     egress = ALL_TRAFFIC | PRIVATE_RANGES_ONLY } } (a job's one level deeper, in
//     template { template { ... } }); import IDs
//     projects/{{project}}/locations/{{location}}/services|jobs|workerPools/{{name}}.
//   - import blocks (Terraform 1.5+): import { to = ADDRESS, id = "ID" },
//     developer.hashicorp.com/terraform/language/import.
//   - removed blocks (Terraform 1.7+): removed { from = ADDRESS, lifecycle { destroy = false } },
//     developer.hashicorp.com/terraform/language/state/remove.

import (
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// renderTerraform writes the resource with its identifying arguments and the template nesting
// down to vpc_access, laid out as `terraform fmt` lays it out:
//
//	google_cloud_run_v2_service      template { vpc_access { ... } }
//	google_cloud_run_v2_job          template { template { vpc_access { ... } } }
//	google_cloud_run_v2_worker_pool  template { vpc_access { ... } }
//
// With no VPC access the vpc_access block is left out (a comment says to remove it): the
// provider then clears it.
func renderTerraform(ref egress.WorkloadRef, v egress.VPC) string {
	h := &hclWriter{}
	terraformWorkload(h, tfLabel(ref.Name), ref, v)
	return h.String()
}

// terraformWorkload writes a workload's resource, labelled label, with its opening comment.
func terraformWorkload(h *hclWriter, label string, ref egress.WorkloadRef, v egress.VPC) {
	for _, l := range header(ref, v, "Merge it into your resource: only vpc_access changes; keep your other arguments.") {
		h.comment(l)
	}
	h.open(`resource "` + Resource(Terraform, ref.Kind) + `" "` + label + `"`)
	h.attrs(
		kv{"name", hclString(ref.Name)},
		kv{"location", hclString(ref.Region)},
		kv{"project", hclString(ref.Project)},
	)
	h.blank()
	h.open("template")
	if ref.Kind == egress.KindJob {
		h.open("template")
	}
	switch v.Mode() {
	case egress.ModeConnector:
		h.open("vpc_access")
		h.attrs(kv{"connector", hclString(v.Connector)}, kv{"egress", hclString(v.Egress.APIName())})
		h.close()
	case egress.ModeDirect:
		h.open("vpc_access")
		h.open("network_interfaces")
		var ni []kv
		if v.Network != "" {
			ni = append(ni, kv{"network", hclString(v.Network)})
		}
		if v.Subnet != "" {
			ni = append(ni, kv{"subnetwork", hclString(v.Subnet)})
		}
		if len(v.Tags) > 0 {
			ni = append(ni, kv{"tags", hclList(v.Tags)})
		}
		h.attrs(ni...)
		h.close()
		h.attrs(kv{"egress", hclString(v.Egress.APIName())})
		h.close()
	default:
		h.comment("No VPC access: remove the vpc_access block.")
	}
	if ref.Kind == egress.KindJob {
		h.close()
	}
	h.close()
	h.close()
}

// renderTerraformHandOff writes a hand-off: its opening comment, then the subnetworks and the
// connectors (each with an import block when runnet created it), the workloads, and a removed
// block for each resource runnet deleted; one blank line between blocks.
func renderTerraformHandOff(p *laidOut) string {
	h := &hclWriter{}
	for _, l := range handOffIntro(Terraform, p) {
		h.comment(l)
	}
	for _, s := range p.subnets {
		h.blank()
		terraformSubnet(h, s)
	}
	for _, c := range p.connectors {
		h.blank()
		terraformConnector(h, c)
	}
	for _, w := range p.workloads {
		h.blank()
		terraformWorkload(h, w.name, w.Ref, w.VPC)
	}
	for _, r := range p.removed {
		h.blank()
		h.commentWrapped(removedTitle(r))
		h.comment("Delete its resource block: this removed block makes Terraform forget it without trying to")
		h.comment("destroy it. Set from to the address your configuration gives it.")
		h.open("removed")
		h.attrs(kv{"from", resourceType(Terraform, r.Kind) + "." + r.name})
		h.blank()
		h.open("lifecycle")
		h.attrs(kv{"destroy", "false"})
		h.close()
		h.close()
	}
	return h.String()
}

func terraformSubnet(h *hclWriter, s namedSubnet) {
	h.commentWrapped(subnetTitle(s))
	if s.Import {
		h.comment("runnet created it: the import block below adopts it.")
		if s.DescriptionUnknown {
			h.commentWrapped(descriptionWarning(s))
		}
	}
	h.open(`resource "` + tfSubnetwork + `" "` + s.name + `"`)
	a := []kv{
		{"name", hclString(s.Name)},
		{"project", hclString(s.Project)},
		{"region", hclString(s.Region)},
		{"network", hclString(s.Network)},
		{"ip_cidr_range", hclString(s.IPCIDRRange)},
	}
	if s.Description != "" {
		a = append(a, kv{"description", hclString(s.Description)})
	}
	a = append(a, kv{"private_ip_google_access", strconv.FormatBool(s.PrivateIPGoogleAccess)})
	if s.StackType != "" {
		a = append(a, kv{"stack_type", hclString(s.StackType)})
	}
	if s.IPv6AccessType != "" {
		a = append(a, kv{"ipv6_access_type", hclString(s.IPv6AccessType)})
	}
	h.attrs(a...)
	if fl := s.FlowLogs; fl != nil {
		h.blank()
		h.open("log_config")
		var l []kv
		if fl.AggregationInterval != "" {
			l = append(l, kv{"aggregation_interval", hclString(fl.AggregationInterval)})
		}
		l = append(l, kv{"flow_sampling", flowSampling(fl.FlowSampling)})
		if fl.Metadata != "" {
			l = append(l, kv{"metadata", hclString(fl.Metadata)})
		}
		h.attrs(l...)
		h.close()
	}
	for _, r := range s.SecondaryRanges {
		h.blank()
		h.open("secondary_ip_range")
		h.attrs(kv{"range_name", hclString(r.RangeName)}, kv{"ip_cidr_range", hclString(r.IPCIDRRange)})
		h.close()
	}
	h.close()
	if s.Import {
		h.blank()
		terraformImport(h, tfSubnetwork+"."+s.name, ImportID(KindSubnet, s.Project, s.Region, s.Name))
	}
}

func terraformConnector(h *hclWriter, c namedConnector) {
	h.commentWrapped(connectorTitle(c))
	if c.Import {
		h.comment("runnet created it: the import block below adopts it.")
	}
	h.open(`resource "` + tfConnector + `" "` + c.name + `"`)
	a := []kv{
		{"name", hclString(c.Name)},
		{"project", hclString(c.Project)},
		{"region", hclString(c.Region)},
	}
	if c.Network != "" {
		a = append(a, kv{"network", hclString(c.Network)})
	}
	if c.IPCIDRRange != "" {
		a = append(a, kv{"ip_cidr_range", hclString(c.IPCIDRRange)})
	}
	if c.MachineType != "" {
		a = append(a, kv{"machine_type", hclString(c.MachineType)})
	}
	if c.MinInstances > 0 {
		a = append(a, kv{"min_instances", strconv.Itoa(c.MinInstances)})
	}
	if c.MaxInstances > 0 {
		a = append(a, kv{"max_instances", strconv.Itoa(c.MaxInstances)})
	}
	h.attrs(a...)
	if c.Network == "" && c.Subnet != nil {
		h.blank()
		h.open("subnet")
		s := []kv{{"name", hclString(c.Subnet.Name)}}
		if c.Subnet.ProjectID != "" {
			s = append(s, kv{"project_id", hclString(c.Subnet.ProjectID)})
		}
		h.attrs(s...)
		h.close()
	}
	h.close()
	if c.Import {
		h.blank()
		terraformImport(h, tfConnector+"."+c.name, ImportID(KindConnector, c.Project, c.Region, c.Name))
	}
}

func terraformImport(h *hclWriter, to, id string) {
	h.open("import")
	h.attrs(kv{"to", to}, kv{"id", hclString(id)})
	h.close()
}

type kv struct{ k, v string }

// hclWriter writes HCL indented by two spaces, with the equals signs of consecutive attributes
// aligned as `terraform fmt` aligns them.
type hclWriter struct {
	b     strings.Builder
	depth int
}

func (h *hclWriter) line(s string) {
	h.b.WriteString(strings.Repeat("  ", h.depth))
	h.b.WriteString(s)
	h.b.WriteByte('\n')
}

func (h *hclWriter) comment(s string) {
	if s == "" {
		h.line("#")
		return
	}
	h.line("# " + s)
}

// commentWrapped writes s as comment lines of at most commentWidth characters.
func (h *hclWriter) commentWrapped(s string) {
	for _, l := range wrap(s, commentWidth) {
		h.comment(l)
	}
}

func (h *hclWriter) blank()        { h.b.WriteByte('\n') }
func (h *hclWriter) open(s string) { h.line(s + " {"); h.depth++ }
func (h *hclWriter) close()        { h.depth--; h.line("}") }

func (h *hclWriter) attrs(kvs ...kv) {
	width := 0
	for _, a := range kvs {
		width = max(width, len(a.k))
	}
	for _, a := range kvs {
		h.line(a.k + strings.Repeat(" ", width-len(a.k)) + " = " + a.v)
	}
}

func (h *hclWriter) String() string { return h.b.String() }

// hclString quotes s as an HCL string literal; template sequences (${ and %{) are escaped so
// that they stay literal.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

func hclList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = hclString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tfLabel turns a workload name into a conventional Terraform resource label (underscores
// rather than hyphens).
func tfLabel(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}
