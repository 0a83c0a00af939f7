package iac

import (
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
	for _, l := range header(ref, v, "Merge it into your resource: only vpc_access changes; keep your other arguments.") {
		h.comment(l)
	}
	h.open(`resource "` + Resource(Terraform, ref.Kind) + `" "` + tfLabel(ref.Name) + `"`)
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
	return h.String()
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

func (h *hclWriter) comment(s string) { h.line("# " + s) }
func (h *hclWriter) blank()           { h.b.WriteByte('\n') }
func (h *hclWriter) open(s string)    { h.line(s + " {"); h.depth++ }
func (h *hclWriter) close()           { h.depth--; h.line("}") }

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
